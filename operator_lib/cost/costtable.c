/* SPDX-License-Identifier: MIT */
/* costtable.c: writes and defensively parses cost tables, naming the line and field of anything malformed. */
#include "costtable.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "file.h"
#include "opsfile.h"

enum col {
  COL_ID,
  COL_BATCH,
  COL_LATENCY,
  COL_SPREAD,
  COL_RUNS,
  COL_ENERGY,
  COL_ENERGY_SOURCE,
  COL_POWER_MODE,
  COL_COUNT
};
static const char *const col_names[] = {"id",        "batch",     "latency_ms",    "latency_spread",
                                        "runs",      "energy_mj", "energy_source", "power_mode"};
_Static_assert(sizeof(col_names) / sizeof(col_names[0]) == COL_COUNT, "col_names must cover every column");

#define MAX_FIELDS 16

static void put_meta(FILE *f, const char *key, const char *v) {
  if (v && v[0])
    fprintf(f, "# %s: %s\n", key, v);
}

int hant_costtable_write_header(FILE *f, const hant_costtable *m) {
  fprintf(f, "%s\n", HANT_COSTTABLE_MAGIC);
  if (m) {
    put_meta(f, "tool", m->tool);
    put_meta(f, "device", m->device);
    put_meta(f, "cpu", m->cpu);
    put_meta(f, "power_mode", m->power_mode);
    if (m->threads > 0)
      fprintf(f, "# threads: %d\n", m->threads);
    put_meta(f, "created", m->created);
  }
  for (int i = 0; i < COL_COUNT; i++)
    fprintf(f, "%s%s", i ? "," : "", col_names[i]);
  fputc('\n', f);
  return ferror(f) ? hant__error(HANT_EIO, "cost table: write error") : 0;
}

int hant_costtable_write_row(FILE *f, const hant_costtable_row *r) {
  if (strpbrk(r->energy_source, ",\"\n") || strpbrk(r->power_mode, ",\"\n"))
    return hant__error(HANT_EINVAL, "cost table: row %lld: a text field holds a comma, quote or newline",
                       (long long)r->id);
  fprintf(f, "%lld,%d,%.6g,", (long long)r->id, r->batch, r->latency_ms);
  if (r->latency_spread >= 0)
    fprintf(f, "%.4g", r->latency_spread);
  fputc(',', f);
  if (r->runs > 0)
    fprintf(f, "%d", r->runs);
  fputc(',', f);
  if (r->energy_mj >= 0)
    fprintf(f, "%.6g", r->energy_mj);
  fprintf(f, ",%s,%s\n", r->energy_mj >= 0 ? r->energy_source : "", r->power_mode);
  return ferror(f) ? hant__error(HANT_EIO, "cost table: write error") : 0;
}

void hant_costtable_free(hant_costtable *t) {
  if (!t)
    return;
  free(t->rows);
  t->rows = NULL;
  t->n = 0;
}

/* Splits a line at commas in place; returns the field count or -1 if more
 * than max. */
static int split(char *s, char **f, int max) {
  int n = 0;
  for (;;) {
    if (n == max)
      return -1;
    f[n++] = s;
    char *c = strchr(s, ',');
    if (!c)
      break;
    *c = '\0';
    s = c + 1;
  }
  for (int i = 0; i < n; i++) { /* trim */
    while (isspace((unsigned char)*f[i]))
      f[i]++;
    for (char *e = f[i] + strlen(f[i]); e > f[i] && isspace((unsigned char)e[-1]);)
      *--e = '\0';
  }
  return n;
}

static bool parse_num(const char *s, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return *s && !*end && !errno && isfinite(*v);
}

static bool parse_i64(const char *s, long long lo, long long hi, long long *v) {
  char *end;
  errno = 0;
  *v = strtoll(s, &end, 10);
  return *s && !*end && !errno && *v >= lo && *v <= hi;
}

static bool word_ok(const char *s, size_t max) {
  if (strlen(s) >= max)
    return false;
  for (; *s; s++)
    if (!isprint((unsigned char)*s) || *s == '"')
      return false;
  return true;
}

static int by_key(const void *a, const void *b) {
  const hant_costtable_row *x = a, *y = b;
  if (x->id != y->id)
    return x->id < y->id ? -1 : 1;
  if (x->batch != y->batch)
    return x->batch < y->batch ? -1 : 1;
  int c = strcmp(x->power_mode, y->power_mode);
  if (c)
    return c;
  return (x->line > y->line) - (x->line < y->line);
}

static int check_unique(const hant_costtable_row *v, int n, const char *name) {
  if (n < 2)
    return 0;
  hant_costtable_row *c = malloc(sizeof(*c) * (size_t)n);
  if (!c)
    return HANT_ENOMEM;
  memcpy(c, v, sizeof(*c) * (size_t)n);
  qsort(c, (size_t)n, sizeof(*c), by_key);
  int rc = 0;
  for (int i = 1; i < n && !rc; i++)
    if (c[i].id == c[i - 1].id && c[i].batch == c[i - 1].batch && !strcmp(c[i].power_mode, c[i - 1].power_mode))
      rc = hant__error(HANT_EFORMAT, "%s:%d: id: %lld (batch %d, power mode '%s') already given at line %d", name,
                       c[i].line, (long long)c[i].id, c[i].batch, c[i].power_mode, c[i - 1].line);
  free(c);
  return rc;
}

static void meta_line(hant_costtable *t, const char *p) {
  const char *colon = strchr(p, ':');
  if (!colon)
    return;
  size_t kl = (size_t)(colon - p);
  const char *v = colon + 1;
  while (*v == ' ')
    v++;
#define META(key, field)                                                                                             \
  if (kl == strlen(key) && !strncmp(p, key, kl)) {                                                                   \
    snprintf(t->field, sizeof(t->field), "%s", v);                                                                   \
    return;                                                                                                          \
  }
  META("tool", tool)
  META("cpu", cpu)
  META("created", created)
  META("device", device)
  META("power_mode", power_mode)
#undef META
  if (kl == 7 && !strncmp(p, "threads", 7)) {
    long long th;
    if (parse_i64(v, 1, 4096, &th))
      t->threads = (int)th;
  }
}

int hant_costtable_parse(const char *text, size_t len, const char *name, hant_costtable *t) {
  memset(t, 0, sizeof(*t));
  if (len > HANT_COSTTABLE_MAX_BYTES)
    return hant__error(HANT_ELIMIT, "%s: larger than the limit of %zu bytes", name, HANT_COSTTABLE_MAX_BYTES);
  int col_of[MAX_FIELDS]; /* field index -> column */
  int nfields = 0, lineno = 0, rc = 0, cap = 0;
  bool magic = false, header = false;
  char line[HANT_COSTTABLE_MAX_LINE + 2];
  hant_lines lines;
  hant_lines_init(&lines, name, text, len, HANT_COSTTABLE_MAX_LINE);
  while ((rc = hant_lines_next(&lines, line)) == 1) {
    lineno = lines.lineno;
    if (!magic) {
      if (strcmp(line, HANT_COSTTABLE_MAGIC)) {
        rc = hant__error(HANT_EFORMAT, "%s:%d: expected the first line '%s', got '%.40s'", name, lineno,
                         HANT_COSTTABLE_MAGIC, line);
        goto fail;
      }
      magic = true;
      continue;
    }
    char *p = line;
    while (isspace((unsigned char)*p))
      p++;
    if (!*p)
      continue;
    if (*p == '#') {
      if (!header) {
        p++;
        while (*p == ' ')
          p++;
        meta_line(t, p);
      }
      continue;
    }
    char *f[MAX_FIELDS];
    int nf = split(p, f, MAX_FIELDS);
    if (nf < 0) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: more than %d fields", name, lineno, MAX_FIELDS);
      goto fail;
    }
    if (!header) {
      bool seen[COL_COUNT] = {false};
      for (int i = 0; i < nf; i++) {
        int c = 0;
        while (c < COL_COUNT && strcmp(f[i], col_names[c]))
          c++;
        if (c == COL_COUNT) {
          rc = hant__error(HANT_EFORMAT,
                           "%s:%d: header: unknown column '%.40s' (expected id, batch, latency_ms, latency_spread, "
                           "runs, energy_mj, energy_source, power_mode)",
                           name, lineno, f[i]);
          goto fail;
        }
        if (seen[c]) {
          rc = hant__error(HANT_EFORMAT, "%s:%d: header: column '%s' appears twice", name, lineno, f[i]);
          goto fail;
        }
        seen[c] = true;
        col_of[i] = c;
      }
      for (int c = COL_ID; c <= COL_LATENCY; c++)
        if (!seen[c]) {
          rc = hant__error(HANT_EFORMAT, "%s:%d: header: required column '%s' is missing", name, lineno,
                           col_names[c]);
          goto fail;
        }
      nfields = nf;
      header = true;
      continue;
    }
    if (nf != nfields) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: expected %d fields as in the header, got %d", name, lineno, nfields, nf);
      goto fail;
    }
    if (t->n >= HANT_COSTTABLE_MAX_ROWS) {
      rc = hant__error(HANT_ELIMIT, "%s:%d: more than %d rows", name, lineno, HANT_COSTTABLE_MAX_ROWS);
      goto fail;
    }
    if (t->n == cap) {
      cap = cap ? cap * 2 : 64;
      hant_costtable_row *nr = realloc(t->rows, sizeof(*nr) * (size_t)cap);
      if (!nr) {
        rc = HANT_ENOMEM;
        goto fail;
      }
      t->rows = nr;
    }
    hant_costtable_row *r = &t->rows[t->n];
    memset(r, 0, sizeof(*r));
    r->latency_spread = -1;
    r->energy_mj = -1;
    r->line = lineno;
    for (int i = 0; i < nf; i++) {
      const char *v = f[i];
      const char *col = col_names[col_of[i]];
      long long iv;
      double dv;
      switch (col_of[i]) {
      case COL_ID:
        if (!parse_i64(v, 1, INT64_MAX, &iv)) {
          rc = hant__error(HANT_EFORMAT, "%s:%d: %s: expected a positive integer (a candidate id), got '%.40s'", name,
                           lineno, col, v);
          goto fail;
        }
        r->id = iv;
        break;
      case COL_BATCH:
        if (!parse_i64(v, 1, 65536, &iv)) {
          rc = hant__error(HANT_EFORMAT, "%s:%d: %s: expected an integer in 1..65536, got '%.40s'", name, lineno, col,
                           v);
          goto fail;
        }
        r->batch = (int)iv;
        break;
      case COL_LATENCY:
        if (!parse_num(v, &dv) || dv <= 0 || dv > 3.6e6) {
          rc = hant__error(HANT_EFORMAT, "%s:%d: %s: expected a positive number of milliseconds, got '%.40s'", name,
                           lineno, col, v);
          goto fail;
        }
        r->latency_ms = dv;
        break;
      case COL_SPREAD:
        if (*v && (!parse_num(v, &dv) || dv < 0 || dv > 1e3)) {
          rc = hant__error(HANT_EFORMAT, "%s:%d: %s: expected a non-negative ratio (p90 - p10) / median or nothing, "
                           "got '%.40s'", name, lineno, col, v);
          goto fail;
        }
        if (*v)
          r->latency_spread = dv;
        break;
      case COL_RUNS:
        if (*v && !parse_i64(v, 1, 1000000000, &iv)) {
          rc = hant__error(HANT_EFORMAT, "%s:%d: %s: expected a positive integer or nothing, got '%.40s'", name,
                           lineno, col, v);
          goto fail;
        }
        r->runs = *v ? (int)iv : 0;
        break;
      case COL_ENERGY:
        if (*v && (!parse_num(v, &dv) || dv < 0 || dv > 1e9)) {
          rc = hant__error(HANT_EFORMAT, "%s:%d: %s: expected a non-negative number of millijoules or nothing, got "
                           "'%.40s'", name, lineno, col, v);
          goto fail;
        }
        if (*v)
          r->energy_mj = dv;
        break;
      case COL_ENERGY_SOURCE:
        if (!word_ok(v, sizeof(r->energy_source))) {
          rc = hant__error(HANT_EFORMAT, "%s:%d: %s: expected printable text of at most %zu characters", name, lineno,
                           col, sizeof(r->energy_source) - 1);
          goto fail;
        }
        snprintf(r->energy_source, sizeof(r->energy_source), "%s", v);
        break;
      case COL_POWER_MODE:
        for (const char *c = v; *c; c++)
          if (!isalnum((unsigned char)*c) && !strchr("._-", *c)) {
            rc = hant__error(HANT_EFORMAT, "%s:%d: %s: expected a mode name of letters, digits, '.', '_' or '-', "
                             "got '%.40s'", name, lineno, col, v);
            goto fail;
          }
        if (strlen(v) >= sizeof(r->power_mode)) {
          rc = hant__error(HANT_EFORMAT, "%s:%d: %s: longer than %zu characters", name, lineno, col,
                           sizeof(r->power_mode) - 1);
          goto fail;
        }
        snprintf(r->power_mode, sizeof(r->power_mode), "%s", v);
        break;
      default:
        break;
      }
    }
    if (r->energy_mj >= 0 && !r->energy_source[0]) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: energy_source: required when energy_mj is given (e.g. rapl, ina3221)",
                       name, lineno);
      goto fail;
    }
    if (r->energy_mj < 0 && r->energy_source[0]) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: energy_mj: missing although energy_source is '%s'", name, lineno,
                       r->energy_source);
      goto fail;
    }
    t->n++;
  }
  if (rc < 0)
    goto fail;
  if (!magic) {
    rc = hant__error(HANT_EFORMAT, "%s: empty (expected the first line '%s')", name, HANT_COSTTABLE_MAGIC);
    goto fail;
  }
  if (!header) {
    rc = hant__error(HANT_EFORMAT, "%s:%d: no header row (expected e.g. 'id,batch,latency_ms')", name, lineno);
    goto fail;
  }
  if ((rc = check_unique(t->rows, t->n, name)))
    goto fail;
  return 0;
fail:
  hant_costtable_free(t);
  return rc;
}

int hant_costtable_read(const char *path, hant_costtable *t) {
  memset(t, 0, sizeof(*t));
  char *text;
  size_t len;
  int rc = hant_file_read(path, HANT_COSTTABLE_MAX_BYTES, &text, &len);
  if (rc)
    return rc;
  rc = hant_costtable_parse(text, len, path, t);
  free(text);
  return rc;
}
