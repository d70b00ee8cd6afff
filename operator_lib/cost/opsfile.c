/* SPDX-License-Identifier: MIT */
/* opsfile.c: writes and defensively parses operator lists (one candidate block per line). */
#include "opsfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "base.h"
#include "file.h"

int hant_opsfile_write_header(FILE *f, const char *comment) {
  fprintf(f, "%s\n", HANT_OPSFILE_MAGIC);
  if (comment) {
    const char *p = comment;
    while (*p) {
      const char *e = strchr(p, '\n');
      size_t l = e ? (size_t)(e - p) : strlen(p);
      fprintf(f, "# %.*s\n", (int)l, p);
      p += l + (e ? 1 : 0);
    }
  }
  fprintf(f, "# id input block\n");
  return ferror(f) ? hant__error(HANT_EIO, "operator list: write error") : 0;
}

int hant_opsfile_write(FILE *f, const hant_ops_entry *e) {
  if (strpbrk(e->block, "\n\r;#") || !e->block[0])
    return hant__error(HANT_EINVAL, "operator %lld: block '%s' cannot be written on one line", (long long)e->id,
                       e->block);
  fprintf(f, "%lld %dx%dx%d %s\n", (long long)e->id, e->c, e->h, e->w, e->block);
  return ferror(f) ? hant__error(HANT_EIO, "operator list: write error") : 0;
}

void hant_opsfile_arch(const hant_ops_entry *e, char *buf, size_t n) {
  snprintf(buf, n, "input %dx%dx%d; %s", e->c, e->h, e->w, e->block);
}

static int parse_shape(const char *s, int *c, int *h, int *w) {
  char *end;
  long v[3];
  const char *p = s;
  for (int i = 0; i < 3; i++) {
    if (!isdigit((unsigned char)*p))
      return -1;
    errno = 0;
    v[i] = strtol(p, &end, 10);
    if (errno || v[i] < 1 || v[i] > 65536)
      return -1;
    p = end;
    if (i < 2 && *p++ != 'x')
      return -1;
  }
  if (*p)
    return -1;
  *c = (int)v[0], *h = (int)v[1], *w = (int)v[2];
  return 0;
}

static int by_id_line(const void *a, const void *b) {
  const hant_ops_entry *x = a, *y = b;
  if (x->id != y->id)
    return x->id < y->id ? -1 : 1;
  return (x->line > y->line) - (x->line < y->line);
}

/* Sorts a copy by id so duplicates are found in O(n log n) and the later
 * line is the one named. */
static int check_unique(const hant_ops_entry *v, int n, const char *name) {
  if (n < 2)
    return 0;
  hant_ops_entry *c = malloc(sizeof(*c) * (size_t)n);
  if (!c)
    return HANT_ENOMEM;
  memcpy(c, v, sizeof(*c) * (size_t)n);
  qsort(c, (size_t)n, sizeof(*c), by_id_line);
  int rc = 0;
  for (int i = 1; i < n && !rc; i++)
    if (c[i].id == c[i - 1].id)
      rc = hant__error(HANT_EFORMAT, "%s:%d: id: %lld already listed at line %d", name, c[i].line,
                       (long long)c[i].id, c[i - 1].line);
  free(c);
  return rc;
}

int hant_opsfile_parse(const char *text, size_t len, const char *name, hant_ops_entry **out, int *n) {
  *out = NULL;
  *n = 0;
  if (len > HANT_OPSFILE_MAX_BYTES)
    return hant__error(HANT_ELIMIT, "%s: larger than the limit of %zu bytes", name, HANT_OPSFILE_MAX_BYTES);
  hant_ops_entry *v = NULL;
  int nv = 0, cap = 0, rc = 0, lineno = 0;
  bool magic = false;
  char line[HANT_OPSFILE_MAX_LINE + 2];
  hant_lines lines;
  hant_lines_init(&lines, name, text, len, HANT_OPSFILE_MAX_LINE);
  while ((rc = hant_lines_next(&lines, line)) == 1) {
    lineno = lines.lineno;
    char *p = line;
    while (isspace((unsigned char)*p))
      p++;
    for (char *t = p + strlen(p); t > p && isspace((unsigned char)t[-1]);)
      *--t = '\0';
    if (!magic) {
      if (strcmp(p, HANT_OPSFILE_MAGIC)) {
        rc = hant__error(HANT_EFORMAT, "%s:%d: expected the first line '%s', got '%.40s'", name, lineno,
                         HANT_OPSFILE_MAGIC, p);
        goto fail;
      }
      magic = true;
      continue;
    }
    if (!*p || *p == '#')
      continue;
    if (nv >= HANT_OPSFILE_MAX_OPS) {
      rc = hant__error(HANT_ELIMIT, "%s:%d: more than %d operators", name, lineno, HANT_OPSFILE_MAX_OPS);
      goto fail;
    }
    if (nv == cap) {
      cap = cap ? cap * 2 : 64;
      hant_ops_entry *nvp = realloc(v, sizeof(*v) * (size_t)cap);
      if (!nvp) {
        rc = HANT_ENOMEM;
        goto fail;
      }
      v = nvp;
    }
    hant_ops_entry *en = &v[nv];
    memset(en, 0, sizeof(*en));
    en->line = lineno;
    char *tok = p, *sp = strpbrk(p, " \t");
    if (!sp) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: expected 'ID CxHxW BLOCK', got '%.60s'", name, lineno, p);
      goto fail;
    }
    *sp = '\0';
    char *end;
    errno = 0;
    long long id = strtoll(tok, &end, 10);
    if (errno || *end || end == tok || id < 1) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: id: expected a positive integer, got '%.40s'", name, lineno, tok);
      goto fail;
    }
    en->id = id;
    p = sp + 1;
    while (*p == ' ' || *p == '\t')
      p++;
    tok = p;
    sp = strpbrk(p, " \t");
    if (!sp) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: block: missing after the input shape", name, lineno);
      goto fail;
    }
    *sp = '\0';
    if (parse_shape(tok, &en->c, &en->h, &en->w)) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: input: expected CxHxW with each in 1..65536, got '%.40s'", name, lineno,
                       tok);
      goto fail;
    }
    if ((size_t)en->c * (size_t)en->h * (size_t)en->w > HANT_OPSFILE_MAX_INPUT) {
      rc = hant__error(HANT_ELIMIT, "%s:%d: input: %dx%dx%d is above the limit of %zu elements", name, lineno, en->c,
                       en->h, en->w, HANT_OPSFILE_MAX_INPUT);
      goto fail;
    }
    p = sp + 1;
    while (*p == ' ' || *p == '\t')
      p++;
    if (strlen(p) >= sizeof(en->block) || strpbrk(p, ";")) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: block: expected one architecture line of at most %zu characters", name,
                       lineno, sizeof(en->block) - 1);
      goto fail;
    }
    snprintf(en->block, sizeof(en->block), "%s", p);
    /* Check the block builds, so a bad line is refused here with its number. */
    char arch[400], label[64];
    hant_opsfile_arch(en, arch, sizeof(arch));
    snprintf(label, sizeof(label), "%s:%d", name, lineno);
    hant_net *net = hant_arch_build_limited(arch, label, HANT_OPSFILE_MAX_PARAM_FLOATS);
    if (!net) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: block: %s", name, lineno, hant_errmsg());
      goto fail;
    }
    double acts = 0; /* what a forward pass would allocate, per sample */
    for (int k = 0; k < net->n_nodes; k++)
      acts += (double)net->nodes[k].c * net->nodes[k].h * net->nodes[k].w;
    hant_net_destroy(net);
    if (acts > (double)HANT_OPSFILE_MAX_ACTIVATIONS) {
      rc = hant__error(HANT_ELIMIT, "%s:%d: block: %.0f activation elements per sample, above the limit of %zu", name,
                       lineno, acts, HANT_OPSFILE_MAX_ACTIVATIONS);
      goto fail;
    }
    nv++;
  }
  if (rc < 0)
    goto fail;
  if (!magic) {
    rc = hant__error(HANT_EFORMAT, "%s: empty (expected the first line '%s')", name, HANT_OPSFILE_MAGIC);
    goto fail;
  }
  if ((rc = check_unique(v, nv, name)))
    goto fail;
  *out = v;
  *n = nv;
  return 0;
fail:
  free(v);
  return rc;
}

int hant_opsfile_read(const char *path, hant_ops_entry **out, int *n) {
  char *text;
  size_t len;
  int rc = hant_file_read(path, HANT_OPSFILE_MAX_BYTES, &text, &len);
  if (rc)
    return rc;
  rc = hant_opsfile_parse(text, len, path, out, n);
  free(text);
  return rc;
}
