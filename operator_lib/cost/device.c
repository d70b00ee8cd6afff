/* SPDX-License-Identifier: MIT */
/* device.c: parses and validates device profiles (the only profile code that includes jansson.h) and finds them on disk. */
#include "device.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base.h"
#include "file.h"
#include "hant_config.h"
#include "opsfile.h"
#include "store.h"

static const char *const prec_names[] = {"fp32", "fp16", "int16", "int8"};
static const int prec_bytes[] = {4, 2, 2, 1};
_Static_assert(sizeof(prec_names) / sizeof(prec_names[0]) == HANT_PREC_COUNT, "prec_names must cover every precision");
_Static_assert(sizeof(prec_bytes) / sizeof(prec_bytes[0]) == HANT_PREC_COUNT, "prec_bytes must cover every precision");

static const char *const eff_names[] = {"conv", "depthwise", "linear", "memory"};
_Static_assert(sizeof(eff_names) / sizeof(eff_names[0]) == HANT_EFF_COUNT, "eff_names must cover every class");

const char *hant_prec_name(hant_prec p) { return (unsigned)p < HANT_PREC_COUNT ? prec_names[p] : "?"; }
int hant_prec_bytes(hant_prec p) { return (unsigned)p < HANT_PREC_COUNT ? prec_bytes[p] : 4; }
const char *hant_eff_name(hant_eff e) { return (unsigned)e < HANT_EFF_COUNT ? eff_names[e] : "?"; }

hant_prec hant_prec_from_name(const char *s) {
  for (int i = 0; i < HANT_PREC_COUNT; i++)
    if (s && !strcmp(s, prec_names[i]))
      return (hant_prec)i;
  return HANT_PREC_COUNT;
}

/* ---- units ---------------------------------------------------------------- */

typedef struct unit {
  const char *name;
  double factor; /* to the canonical unit */
} unit;

typedef struct dim {
  const char *what;      /* "power" */
  const char *canonical; /* "W" */
  const unit *units;     /* NULL-terminated */
} dim;

static const unit u_rate[] = {{"GOP/s", 1},    {"TOP/s", 1e3},    {"MOP/s", 1e-3}, {"GFLOP/s", 1},
                              {"TFLOP/s", 1e3}, {"MFLOP/s", 1e-3}, {"GMAC/s", 2},   {"TMAC/s", 2e3},
                              {"MMAC/s", 2e-3}, {NULL, 0}};
static const unit u_time[] = {{"us", 1}, {"ns", 1e-3}, {"ms", 1e3}, {NULL, 0}};
static const unit u_bw[] = {{"GB/s", 1}, {"MB/s", 1e-3}, {"TB/s", 1e3}, {NULL, 0}};
static const unit u_bytes[] = {{"B", 1},   {"KB", 1e3},        {"KiB", 1024},          {"MB", 1e6},
                               {"MiB", 1048576.0}, {"GB", 1e9}, {"GiB", 1073741824.0}, {NULL, 0}};
static const unit u_emac[] = {{"pJ/MAC", 1}, {"fJ/MAC", 1e-3}, {"nJ/MAC", 1e3}, {NULL, 0}};
static const unit u_ebyte[] = {{"pJ/B", 1}, {"fJ/B", 1e-3}, {"nJ/B", 1e3}, {NULL, 0}};
static const unit u_power[] = {{"W", 1}, {"mW", 1e-3}, {NULL, 0}};
static const unit u_freq[] = {{"MHz", 1}, {"GHz", 1e3}, {NULL, 0}};
static const unit u_one[] = {{"1", 1}, {NULL, 0}};

static const dim D_RATE = {"compute rate", "GOP/s", u_rate};
static const dim D_TIME = {"time", "us", u_time};
static const dim D_BW = {"bandwidth", "GB/s", u_bw};
static const dim D_BYTES = {"size", "B", u_bytes};
static const dim D_EMAC = {"energy per MAC", "pJ/MAC", u_emac};
static const dim D_EBYTE = {"energy per byte", "pJ/B", u_ebyte};
static const dim D_POWER = {"power", "W", u_power};
static const dim D_FREQ = {"frequency", "MHz", u_freq};
static const dim D_ONE = {"dimensionless", "1", u_one};

/* ---- validation context: the JSON path of the value being read ----------- */

typedef struct vctx {
  const char *file;
  char path[256];
  size_t len;
} vctx;

static size_t push_key(vctx *v, const char *k) {
  size_t old = v->len;
  int w = snprintf(v->path + old, sizeof(v->path) - old, "%s%s", old ? "." : "", k);
  v->len = w < 0 ? old : (old + (size_t)w < sizeof(v->path) ? old + (size_t)w : sizeof(v->path) - 1);
  return old;
}

static size_t push_idx(vctx *v, size_t i) {
  size_t old = v->len;
  int w = snprintf(v->path + old, sizeof(v->path) - old, "[%zu]", i);
  v->len = w < 0 ? old : (old + (size_t)w < sizeof(v->path) ? old + (size_t)w : sizeof(v->path) - 1);
  return old;
}

static void pop(vctx *v, size_t old) {
  v->len = old;
  v->path[old] = '\0';
}

static int fail(vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(vctx *v, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return hant__error(HANT_EFORMAT, "%s: %s: %s", v->file, v->len ? v->path : "(top level)", msg);
}

/* Refuses keys outside `allowed` (NULL-terminated). */
static int only_keys(vctx *v, json_t *obj, const char *const *allowed) {
  const char *k;
  json_t *val;
  json_object_foreach(obj, k, val) {
    bool ok = false;
    for (const char *const *a = allowed; *a && !ok; a++)
      ok = !strcmp(k, *a);
    if (!ok) {
      char list[256];
      size_t n = 0;
      list[0] = '\0';
      for (const char *const *a = allowed; *a && n < sizeof(list); a++)
        if ((*a)[0] != '$')
          n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", *a);
      size_t old = push_key(v, k);
      int rc = fail(v, "unknown field (expected one of: %s)", list);
      pop(v, old);
      return rc;
    }
  }
  return 0;
}

static int need_object(vctx *v, json_t *j, const char *what) {
  if (!json_is_object(j))
    return fail(v, "expected %s", what);
  return 0;
}

/* Reads a string field into buf. */
static int str_field(vctx *v, json_t *obj, const char *key, bool required, char *buf, size_t n) {
  json_t *j = json_object_get(obj, key);
  size_t old = push_key(v, key);
  int rc = 0;
  if (!j) {
    if (required)
      rc = fail(v, "required field is missing");
    else if (n)
      buf[0] = '\0';
  } else if (!json_is_string(j) || !json_string_length(j)) {
    rc = fail(v, "expected a non-empty string");
  } else if (json_string_length(j) >= n) {
    rc = fail(v, "expected at most %zu characters, got %zu", n - 1, json_string_length(j));
  } else {
    snprintf(buf, n, "%s", json_string_value(j));
  }
  pop(v, old);
  return rc;
}

enum range { R_NONNEG, R_POS, R_FRACTION, R_COUNT };

/* Reads a quantity {"value": N, "unit": U, "source": S} in dimension d,
 * converted to d's canonical unit. */
static int qty(vctx *v, json_t *obj, const char *key, const dim *d, enum range r, bool required, double *out) {
  static const char *const keys[] = {"value", "unit", "source", NULL};
  json_t *q = json_object_get(obj, key);
  size_t old = push_key(v, key);
  int rc = 0;
  if (!q) {
    if (required)
      rc = fail(v, "required field is missing");
    goto out;
  }
  if (!json_is_object(q)) {
    rc = fail(v, "expected an object {\"value\": number, \"unit\": \"%s\", \"source\": \"citation\"}", d->canonical);
    goto out;
  }
  if ((rc = only_keys(v, q, keys)))
    goto out;
  json_t *jv = json_object_get(q, "value"), *ju = json_object_get(q, "unit"), *js = json_object_get(q, "source");
  size_t o2 = push_key(v, "unit");
  if (!ju) {
    rc = fail(v, "required field is missing (a %s unit, e.g. \"%s\")", d->what, d->canonical);
  } else if (!json_is_string(ju)) {
    rc = fail(v, "expected a string naming a %s unit", d->what);
  }
  const unit *u = NULL;
  if (!rc) {
    for (const unit *c = d->units; c->name && !u; c++)
      if (!strcmp(c->name, json_string_value(ju)))
        u = c;
    if (!u) {
      char list[128];
      size_t n = 0;
      for (const unit *c = d->units; c->name && n < sizeof(list); c++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", c->name);
      rc = fail(v, "expected a %s unit (%s), got \"%.32s\"", d->what, list, json_string_value(ju));
    }
  }
  pop(v, o2);
  if (rc)
    goto out;
  o2 = push_key(v, "source");
  if (!js)
    rc = fail(v, "required field is missing (where the number comes from)");
  else if (!json_is_string(js) || json_string_length(js) < 3)
    rc = fail(v, "expected a citation: where the number comes from, or how it was derived");
  pop(v, o2);
  if (rc)
    goto out;
  o2 = push_key(v, "value");
  if (!jv) {
    rc = fail(v, "required field is missing");
  } else if (!json_is_number(jv)) {
    rc = fail(v, "expected a number in %s", u->name);
  } else {
    double x = json_number_value(jv);
    double c = x * u->factor;
    switch (r) {
    case R_NONNEG:
      if (!(x >= 0) || !isfinite(x))
        rc = fail(v, "expected a non-negative number in %s, got %g", u->name, x);
      break;
    case R_POS:
      if (!(x > 0) || !isfinite(x))
        rc = fail(v, "expected a positive number in %s, got %g", u->name, x);
      break;
    case R_FRACTION:
      if (!(x > 0 && x <= 1))
        rc = fail(v, "expected a fraction in (0, 1], got %g", x);
      break;
    case R_COUNT:
      if (!(x >= 1 && x <= 1e6 && x == (double)(long)x))
        rc = fail(v, "expected a whole number in 1..1000000, got %g", x);
      break;
    }
    if (!rc)
      *out = c;
  }
  pop(v, o2);
out:
  pop(v, old);
  return rc;
}

/* {"fp32": qty, ...}: values per precision. */
static int per_prec(vctx *v, json_t *obj, const char *key, const dim *d, bool required, double out[HANT_PREC_COUNT]) {
  static const char *const keys[] = {"fp32", "fp16", "int16", "int8", NULL};
  json_t *j = json_object_get(obj, key);
  size_t old = push_key(v, key);
  int rc = 0;
  if (!j) {
    if (required)
      rc = fail(v, "required field is missing");
    goto out;
  }
  if ((rc = need_object(v, j, "an object keyed by precision (fp32, fp16, int16, int8)")) || (rc = only_keys(v, j, keys)))
    goto out;
  if (json_object_size(j) == 0) {
    rc = fail(v, "expected at least one precision");
    goto out;
  }
  for (int p = 0; p < HANT_PREC_COUNT && !rc; p++)
    rc = qty(v, j, prec_names[p], d, R_POS, false, &out[p]);
out:
  pop(v, old);
  return rc;
}

static int name_ok(const char *s) {
  if (!isalnum((unsigned char)s[0]))
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
      return 0;
  return 1;
}

static int parse_levels(vctx *v, json_t *root, hant_device *d) {
  static const char *const keys[] = {"name", "capacity", "bandwidth", "energy", NULL};
  json_t *a = json_object_get(root, "memory");
  size_t old = push_key(v, "memory");
  int rc = 0;
  if (!a) {
    rc = fail(v, "required field is missing (memory levels, outermost first)");
    goto out;
  }
  if (!json_is_array(a) || json_array_size(a) == 0) {
    rc = fail(v, "expected a non-empty array of memory levels, outermost (DRAM) first");
    goto out;
  }
  if (json_array_size(a) > HANT_DEVICE_MAX_LEVELS) {
    rc = hant__error(HANT_ELIMIT, "%s: memory: more than %d levels", v->file, HANT_DEVICE_MAX_LEVELS);
    goto out;
  }
  for (size_t i = 0; i < json_array_size(a) && !rc; i++) {
    json_t *l = json_array_get(a, i);
    size_t o2 = push_idx(v, i);
    hant_device_level *lv = &d->levels[d->n_levels];
    if (!(rc = need_object(v, l, "an object {name, capacity, bandwidth, energy}")) && !(rc = only_keys(v, l, keys)) &&
        !(rc = str_field(v, l, "name", true, lv->name, sizeof(lv->name))) &&
        !(rc = qty(v, l, "capacity", &D_BYTES, R_POS, true, &lv->capacity_bytes)) &&
        !(rc = qty(v, l, "bandwidth", &D_BW, R_POS, true, &lv->bandwidth_gbps)) &&
        !(rc = qty(v, l, "energy", &D_EBYTE, R_NONNEG, true, &lv->pj_per_byte)))
      d->n_levels++;
    pop(v, o2);
  }
out:
  pop(v, old);
  return rc;
}

static int parse_clusters(vctx *v, json_t *root, hant_device *d) {
  static const char *const keys[] = {"name", "cores", "clock", "compute", NULL};
  json_t *a = json_object_get(root, "clusters");
  if (!a)
    return 0;
  size_t old = push_key(v, "clusters");
  int rc = 0;
  if (!json_is_array(a)) {
    rc = fail(v, "expected an array of core clusters");
    goto out;
  }
  if (json_array_size(a) > HANT_DEVICE_MAX_CLUSTERS) {
    rc = hant__error(HANT_ELIMIT, "%s: clusters: more than %d", v->file, HANT_DEVICE_MAX_CLUSTERS);
    goto out;
  }
  for (size_t i = 0; i < json_array_size(a) && !rc; i++) {
    json_t *c = json_array_get(a, i);
    size_t o2 = push_idx(v, i);
    hant_device_cluster *cl = &d->clusters[d->n_clusters];
    double cores = 0;
    if (!(rc = need_object(v, c, "an object {name, cores, clock, compute}")) && !(rc = only_keys(v, c, keys)) &&
        !(rc = str_field(v, c, "name", true, cl->name, sizeof(cl->name))) &&
        !(rc = qty(v, c, "cores", &D_ONE, R_COUNT, true, &cores)) &&
        !(rc = qty(v, c, "clock", &D_FREQ, R_POS, true, &cl->clock_mhz)) &&
        !(rc = per_prec(v, c, "compute", &D_RATE, true, cl->peak_gops))) {
      cl->cores = (int)cores;
      for (int j = 0; j < d->n_clusters && !rc; j++)
        if (!strcmp(d->clusters[j].name, cl->name)) {
          size_t o3 = push_key(v, "name");
          rc = fail(v, "\"%s\" is already the name of clusters[%d]", cl->name, j);
          pop(v, o3);
        }
      if (!rc)
        d->n_clusters++;
    }
    pop(v, o2);
  }
out:
  pop(v, old);
  return rc;
}

static int parse_modes(vctx *v, json_t *root, hant_device *d) {
  static const char *const keys[] = {"name",         "description", "cluster", "compute_scale", "bandwidth_scale",
                                     "energy_scale", "idle",        "active",  NULL};
  json_t *a = json_object_get(root, "power_modes");
  if (!a)
    return 0;
  size_t old = push_key(v, "power_modes");
  int rc = 0;
  if (!json_is_array(a)) {
    rc = fail(v, "expected an array of power modes or DVFS points");
    goto out;
  }
  if (json_array_size(a) > HANT_DEVICE_MAX_MODES) {
    rc = hant__error(HANT_ELIMIT, "%s: power_modes: more than %d", v->file, HANT_DEVICE_MAX_MODES);
    goto out;
  }
  for (size_t i = 0; i < json_array_size(a) && !rc; i++) {
    json_t *m = json_array_get(a, i);
    size_t o2 = push_idx(v, i);
    hant_device_mode *md = &d->modes[d->n_modes];
    char cluster[32], desc[256];
    md->compute_scale = md->bandwidth_scale = md->energy_scale = 1.0;
    md->cluster = -1;
    if (!(rc = need_object(v, m, "an object {name, compute_scale, idle, active, ...}")) &&
        !(rc = only_keys(v, m, keys)) && !(rc = str_field(v, m, "name", true, md->name, sizeof(md->name))) &&
        !(rc = str_field(v, m, "description", false, desc, sizeof(desc))) &&
        !(rc = str_field(v, m, "cluster", false, cluster, sizeof(cluster))) &&
        !(rc = qty(v, m, "compute_scale", &D_ONE, R_POS, true, &md->compute_scale)) &&
        !(rc = qty(v, m, "bandwidth_scale", &D_ONE, R_POS, false, &md->bandwidth_scale)) &&
        !(rc = qty(v, m, "energy_scale", &D_ONE, R_POS, false, &md->energy_scale)) &&
        !(rc = qty(v, m, "idle", &D_POWER, R_NONNEG, true, &md->idle_w)) &&
        !(rc = qty(v, m, "active", &D_POWER, R_NONNEG, true, &md->active_w))) {
      if (!name_ok(md->name)) {
        size_t o3 = push_key(v, "name");
        rc = fail(v, "expected letters, digits, '.', '_' or '-', got \"%s\"", md->name);
        pop(v, o3);
      }
      for (int j = 0; j < d->n_modes && !rc; j++)
        if (!strcmp(d->modes[j].name, md->name)) {
          size_t o3 = push_key(v, "name");
          rc = fail(v, "\"%s\" is already the name of power_modes[%d]", md->name, j);
          pop(v, o3);
        }
      if (!rc && cluster[0]) {
        for (int j = 0; j < d->n_clusters; j++)
          if (!strcmp(d->clusters[j].name, cluster))
            md->cluster = j;
        if (md->cluster < 0) {
          size_t o3 = push_key(v, "cluster");
          rc = fail(v, "no cluster is named \"%s\" (see clusters)", cluster);
          pop(v, o3);
        }
      }
      if (!rc && md->idle_w > md->active_w) {
        size_t o3 = push_key(v, "idle");
        rc = fail(v, "idle power %g W exceeds active power %g W", md->idle_w, md->active_w);
        pop(v, o3);
      }
      if (!rc)
        d->n_modes++;
    }
    pop(v, o2);
  }
out:
  pop(v, old);
  return rc;
}

static int validate(vctx *v, json_t *root, hant_device *d) {
  static const char *const top[] = {"$schema",   "comment",     "name",  "description",        "kind",
                                    "precision", "compute",     "efficiency", "array",         "overhead",
                                    "memory",    "weights_stationary", "execution", "energy", "power",  "power_modes",
                                    "clusters",  NULL};
  static const char *const kinds[] = {"cpu", "gpu", "mcu", "npu", "accelerator", NULL};
  int rc;
  if ((rc = need_object(v, root, "a JSON object")) || (rc = only_keys(v, root, top)))
    return rc;
  if ((rc = str_field(v, root, "name", true, d->name, sizeof(d->name))))
    return rc;
  if (!name_ok(d->name)) {
    size_t o = push_key(v, "name");
    rc = fail(v, "expected letters, digits, '.', '_' or '-' (it names the file NAME.json), got \"%s\"", d->name);
    pop(v, o);
    return rc;
  }
  if ((rc = str_field(v, root, "description", true, d->description, sizeof(d->description))) ||
      (rc = str_field(v, root, "kind", true, d->kind, sizeof(d->kind))))
    return rc;
  bool kind_ok = false;
  for (const char *const *k = kinds; *k; k++)
    kind_ok |= !strcmp(*k, d->kind);
  if (!kind_ok) {
    size_t o = push_key(v, "kind");
    rc = fail(v, "expected cpu, gpu, mcu, npu or accelerator, got \"%s\"", d->kind);
    pop(v, o);
    return rc;
  }
  char prec[16];
  if ((rc = str_field(v, root, "precision", true, prec, sizeof(prec))))
    return rc;
  d->precision = hant_prec_from_name(prec);
  if (d->precision == HANT_PREC_COUNT) {
    size_t o = push_key(v, "precision");
    rc = fail(v, "expected fp32, fp16, int16 or int8, got \"%s\"", prec);
    pop(v, o);
    return rc;
  }
  if ((rc = per_prec(v, root, "compute", &D_RATE, true, d->peak_gops)))
    return rc;
  if (d->peak_gops[d->precision] <= 0) {
    size_t o = push_key(v, "compute");
    rc = fail(v, "no peak for the profile's precision %s", prec);
    pop(v, o);
    return rc;
  }

  json_t *e = json_object_get(root, "efficiency");
  size_t o = push_key(v, "efficiency");
  static const char *const effk[] = {"conv", "depthwise", "linear", "memory", NULL};
  if (!e)
    rc = fail(v, "required field is missing");
  else if (!(rc = need_object(v, e, "an object {conv, depthwise, linear, memory}")) && !(rc = only_keys(v, e, effk)))
    for (int i = 0; i < HANT_EFF_COUNT && !rc; i++)
      rc = qty(v, e, eff_names[i], &D_ONE, R_FRACTION, true, &d->eff[i]);
  pop(v, o);
  if (rc)
    return rc;

  json_t *arr = json_object_get(root, "array");
  o = push_key(v, "array");
  static const char *const arrk[] = {"rows", "cols", NULL};
  double rows = 0, cols = 0;
  if (!arr)
    rc = fail(v, "required field is missing (use rows 1, cols 1 for no tiling)");
  else if (!(rc = need_object(v, arr, "an object {rows, cols}")) && !(rc = only_keys(v, arr, arrk)) &&
           !(rc = qty(v, arr, "rows", &D_ONE, R_COUNT, true, &rows)))
    rc = qty(v, arr, "cols", &D_ONE, R_COUNT, true, &cols);
  pop(v, o);
  if (rc)
    return rc;
  d->array_rows = (int)rows;
  d->array_cols = (int)cols;

  if ((rc = qty(v, root, "overhead", &D_TIME, R_NONNEG, true, &d->overhead_us)) || (rc = parse_levels(v, root, d)))
    return rc;

  json_t *ws = json_object_get(root, "weights_stationary");
  if (ws && !json_is_boolean(ws)) {
    o = push_key(v, "weights_stationary");
    rc = fail(v, "expected true or false");
    pop(v, o);
    return rc;
  }
  d->weights_stationary = ws && json_is_true(ws);

  char exec[16];
  if ((rc = str_field(v, root, "execution", false, exec, sizeof(exec))))
    return rc;
  d->sequential = false;
  if (exec[0]) {
    if (!strcmp(exec, "sequential")) {
      d->sequential = true;
    } else if (strcmp(exec, "pipelined")) {
      o = push_key(v, "execution");
      rc = fail(v, "expected \"pipelined\" or \"sequential\", got \"%s\"", exec);
      pop(v, o);
      return rc;
    }
  }

  json_t *en = json_object_get(root, "energy");
  o = push_key(v, "energy");
  static const char *const enk[] = {"mac", NULL};
  if (!en)
    rc = fail(v, "required field is missing");
  else if (!(rc = need_object(v, en, "an object {mac}")) && !(rc = only_keys(v, en, enk)))
    rc = per_prec(v, en, "mac", &D_EMAC, true, d->pj_per_mac);
  if (!rc && d->pj_per_mac[d->precision] <= 0) {
    size_t o2 = push_key(v, "mac");
    rc = fail(v, "no energy per MAC for the profile's precision %s", prec);
    pop(v, o2);
  }
  pop(v, o);
  if (rc)
    return rc;

  json_t *pw = json_object_get(root, "power");
  o = push_key(v, "power");
  static const char *const pwk[] = {"idle", "active", NULL};
  if (!pw)
    rc = fail(v, "required field is missing");
  else if (!(rc = need_object(v, pw, "an object {idle, active}")) && !(rc = only_keys(v, pw, pwk)) &&
           !(rc = qty(v, pw, "idle", &D_POWER, R_NONNEG, true, &d->idle_w)))
    rc = qty(v, pw, "active", &D_POWER, R_NONNEG, true, &d->active_w);
  if (!rc && d->idle_w > d->active_w) {
    size_t o2 = push_key(v, "idle");
    rc = fail(v, "idle power %g W exceeds active power %g W", d->idle_w, d->active_w);
    pop(v, o2);
  }
  pop(v, o);
  if (rc)
    return rc;
  if ((rc = parse_clusters(v, root, d)) || (rc = parse_modes(v, root, d)))
    return rc;
  return 0;
}

int hant_device_parse(const char *text, size_t len, const char *name, hant_device **out) {
  *out = NULL;
  if (len > HANT_DEVICE_MAX_BYTES)
    return hant__error(HANT_ELIMIT, "%s: larger than the limit of %zu bytes", name, HANT_DEVICE_MAX_BYTES);
  json_error_t err;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (!root)
    return hant__error(HANT_EFORMAT, "%s:%d:%d: not valid JSON: %s", name, err.line, err.column, err.text);
  hant_device *d = calloc(1, sizeof(*d));
  int rc = HANT_ENOMEM;
  if (!d)
    goto out;
  vctx v = {.file = name};
  if ((rc = validate(&v, root, d)))
    goto out;
  d->json = malloc(len + 1);
  if (!d->json) {
    rc = HANT_ENOMEM;
    goto out;
  }
  memcpy(d->json, text, len);
  d->json[len] = '\0';
  snprintf(d->path, sizeof(d->path), "%s", name);
  *out = d;
  d = NULL;
  rc = 0;
out:
  json_decref(root);
  hant_device_destroy(d);
  return rc;
}

int hant_device_load(const char *path, hant_device **out) {
  *out = NULL;
  char *text;
  size_t len;
  int rc = hant_file_read(path, HANT_DEVICE_MAX_BYTES, &text, &len);
  if (rc)
    return rc;
  rc = hant_device_parse(text, len, path, out);
  free(text);
  if (rc)
    return rc;
  /* The file is found by name, so the two must agree. */
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t bl = strlen(base);
  if (bl < 6 || strcmp(base + bl - 5, ".json") || bl - 5 != strlen((*out)->name) ||
      strncmp(base, (*out)->name, bl - 5)) {
    rc = hant__error(HANT_EFORMAT, "%s: name: expected the file's name without .json, got \"%s\"", path,
                     (*out)->name);
    hant_device_destroy(*out);
    *out = NULL;
  }
  return rc;
}

void hant_device_destroy(hant_device *d) {
  if (!d)
    return;
  free(d->json);
  free(d);
}

int hant_device_mode_find(const hant_device *d, const char *mode) {
  for (int i = 0; i < d->n_modes; i++)
    if (!strcmp(d->modes[i].name, mode))
      return i;
  return -1;
}

void hant_device_point_get(const hant_device *d, int mode, hant_device_point *p) {
  memset(p, 0, sizeof(*p));
  if (mode < 0 || mode >= d->n_modes) {
    memcpy(p->peak_gops, d->peak_gops, sizeof(p->peak_gops));
    p->bandwidth_scale = p->energy_scale = 1.0;
    p->idle_w = d->idle_w;
    p->active_w = d->active_w;
    return;
  }
  const hant_device_mode *m = &d->modes[mode];
  snprintf(p->mode, sizeof(p->mode), "%s", m->name);
  const double *base = m->cluster >= 0 ? d->clusters[m->cluster].peak_gops : d->peak_gops;
  for (int i = 0; i < HANT_PREC_COUNT; i++)
    p->peak_gops[i] = base[i] * m->compute_scale;
  p->bandwidth_scale = m->bandwidth_scale;
  p->energy_scale = m->energy_scale;
  p->idle_w = m->idle_w;
  p->active_w = m->active_w;
}

/* ---- search path ------------------------------------------------------------ */

int hant_device_dirs(const char *dir, char dirs[][512], int n) {
  int k = 0;
  const char *env;
  if (dir && *dir && k < n)
    snprintf(dirs[k++], 512, "%s", dir);
  if ((env = getenv("HANT_DEVICES")) && *env && k < n)
    snprintf(dirs[k++], 512, "%s", env);
  if (k < n) {
    if ((env = getenv("XDG_DATA_HOME")) && *env)
      snprintf(dirs[k++], 512, "%s/hant/devices", env);
    else if ((env = getenv("HOME")) && *env)
      snprintf(dirs[k++], 512, "%s/.local/share/hant/devices", env);
  }
#ifdef HANT_DEVICES_INSTALL_DIR
  if (k < n)
    snprintf(dirs[k++], 512, "%s", HANT_DEVICES_INSTALL_DIR);
#endif
#ifdef HANT_DEVICES_SOURCE_DIR
  if (k < n)
    snprintf(dirs[k++], 512, "%s", HANT_DEVICES_SOURCE_DIR);
#endif
  return k;
}

int hant_device_find(const char *dir, const char *name, hant_device **out) {
  *out = NULL;
  if (!name || !name_ok(name) || strlen(name) >= 64)
    return hant__error(HANT_EINVAL, "device name '%s': expected letters, digits, '.', '_' or '-'", name ? name : "");
  char dirs[HANT_DEVICE_MAX_DIRS][512];
  int nd = hant_device_dirs(dir, dirs, HANT_DEVICE_MAX_DIRS);
  char searched[1200];
  size_t sl = 0;
  searched[0] = '\0';
  for (int i = 0; i < nd; i++) {
    char path[640];
    if (snprintf(path, sizeof(path), "%.511s/%.63s.json", dirs[i], name) >= (int)sizeof(path))
      continue;
    struct stat sb;
    if (stat(path, &sb) == 0)
      return hant_device_load(path, out);
    if (sl < sizeof(searched))
      sl += (size_t)snprintf(searched + sl, sizeof(searched) - sl, "%s%s", sl ? ", " : "", dirs[i]);
  }
  return hant__error(HANT_ENOENT, "no profile for device '%s': %s.json is not in %s (add one, or pass --devices DIR)",
                     name, name, searched[0] ? searched : "any device directory");
}

int hant_device_resolve(hant_store *st, const char *dir, const char *name, hant_device **out) {
  int rc = hant_device_find(dir, name, out);
  if (rc != HANT_ENOENT || !st)
    return rc;
  char msg[1024];
  snprintf(msg, sizeof(msg), "%s", hant_errmsg());
  hant_device_rec *d;
  int n;
  if (hant_store_devices(st, &d, &n))
    return hant__error(HANT_ENOENT, "%s", msg);
  rc = HANT_ENOENT;
  for (int i = 0; i < n; i++)
    if (!strcmp(d[i].name, name) && d[i].profile) {
      char label[128];
      snprintf(label, sizeof(label), "%s (profile stored in the library)", name);
      rc = hant_device_parse(d[i].profile, strlen(d[i].profile), label, out);
      break;
    }
  hant_store_devices_free(d, n);
  if (rc == HANT_ENOENT)
    return hant__error(HANT_ENOENT, "%s, nor stored in %s", msg, hant_store_path(st));
  return rc;
}

static int cmp_name(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

int hant_device_list(const char *dir, char (**names)[64], int *n) {
  *names = NULL;
  *n = 0;
  char dirs[HANT_DEVICE_MAX_DIRS][512];
  int nd = hant_device_dirs(dir, dirs, HANT_DEVICE_MAX_DIRS), cap = 0;
  for (int i = 0; i < nd; i++) {
    DIR *dp = opendir(dirs[i]);
    if (!dp)
      continue;
    struct dirent *de;
    while ((de = readdir(dp))) {
      size_t l = strlen(de->d_name);
      if (l < 6 || l - 5 >= 64 || strcmp(de->d_name + l - 5, ".json") || de->d_name[0] == '.')
        continue;
      char nm[64];
      snprintf(nm, sizeof(nm), "%.*s", (int)(l - 5), de->d_name);
      bool dup = false;
      for (int j = 0; j < *n && !dup; j++)
        dup = !strcmp((*names)[j], nm);
      if (dup)
        continue;
      if (*n == cap) {
        cap = cap ? cap * 2 : 16;
        char(*p)[64] = realloc(*names, sizeof(**names) * (size_t)cap);
        if (!p) {
          closedir(dp);
          free(*names);
          *names = NULL;
          *n = 0;
          return HANT_ENOMEM;
        }
        *names = p;
      }
      snprintf((*names)[(*n)++], 64, "%s", nm);
    }
    closedir(dp);
  }
  if (*n)
    qsort(*names, (size_t)*n, sizeof(**names), cmp_name);
  return 0;
}
