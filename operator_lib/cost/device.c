/* SPDX-License-Identifier: MIT */
/* device.c: parses and validates device profiles and finds them on disk. */
#include "device.h"

#include <ctype.h>
#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base.h"
#include "file.h"
#include "hant_config.h"
#include "json_read.h"
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

/* ---- validation: every message names the file and the JSON path --------- */

/* Fails at member key of the current path. */
static int fail_at(hant_json_reader *r, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(hant_json_reader *r, const char *key, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  size_t o = hant_json_push_key(r, key);
  int rc = hant_json_fail(r, HANT_EFORMAT, "%s", msg);
  hant_json_pop(r, o);
  return rc;
}

/* Profiles word every absent required field the same way, with a hint
 * where one helps (docs/costs.md shows the message). */
static int need(hant_json_reader *r, const hant_json *obj, const char *key, const char *hint) {
  if (hant_json_member(obj, key))
    return 0;
  return fail_at(r, key, "required field is missing%s", hint);
}

/* A string field copied into buf; buf is "" when an optional one is absent. */
static int str_field(hant_json_reader *r, const hant_json *obj, const char *key, bool required, char *buf,
                     size_t n) {
  buf[0] = '\0';
  int rc = required ? need(r, obj, key, "") : 0;
  return rc ? rc : hant_json_get_strbuf(r, obj, key, 0, buf, n);
}

enum range { R_NONNEG, R_POS, R_FRACTION, R_COUNT };

/* The range of a quantity in its canonical unit, and of a fraction. */
#define QTY_MIN 1e-9
#define QTY_MAX 1e12
#define QTY_MIN_FRACTION 1e-6

/* Reads a quantity {"value": N, "unit": U, "source": S} in dimension d,
 * converted to d's canonical unit. */
static int qty(hant_json_reader *r, const hant_json *obj, const char *key, const dim *d, enum range rg, bool required,
               double *out) {
  static const char *const keys[] = {"value", "unit", "source", NULL};
  const hant_json *q = hant_json_member(obj, key);
  size_t old = hant_json_push_key(r, key);
  int rc = 0;
  if (!q) {
    if (required)
      rc = hant_json_fail(r, HANT_EFORMAT, "required field is missing");
    goto out;
  }
  char what[128];
  snprintf(what, sizeof(what), "an object {\"value\": number, \"unit\": \"%s\", \"source\": \"citation\"}",
           d->canonical);
  if ((rc = hant_json_expect(r, q, HANT_JSON_OBJECT, what)) || (rc = hant_json_only(r, q, keys)))
    goto out;
  const hant_json *ju = hant_json_member(q, "unit"), *js = hant_json_member(q, "source");
  const char *us = hant_json_string(ju, NULL);
  size_t o2 = hant_json_push_key(r, "unit");
  const unit *u = NULL;
  if (!ju) {
    rc = hant_json_fail(r, HANT_EFORMAT, "required field is missing (a %s unit, e.g. \"%s\")", d->what, d->canonical);
  } else if (!us) {
    rc = hant_json_fail(r, HANT_EFORMAT, "expected a string naming a %s unit, got %s", d->what,
                        hant_json_type_name(ju));
  } else {
    for (const unit *c = d->units; c->name && !u; c++)
      if (!strcmp(c->name, us))
        u = c;
    if (!u) {
      char list[128];
      size_t n = 0;
      for (const unit *c = d->units; c->name && n < sizeof(list); c++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", c->name);
      rc = hant_json_fail(r, HANT_EFORMAT, "expected a %s unit (%s), got \"%.32s\"", d->what, list, us);
    }
  }
  hant_json_pop(r, o2);
  if (rc)
    goto out;
  size_t slen = 0;
  o2 = hant_json_push_key(r, "source");
  if (!js)
    rc = hant_json_fail(r, HANT_EFORMAT, "required field is missing (where the number comes from)");
  else if (!hant_json_string(js, &slen) || slen < 3)
    rc = hant_json_fail(r, HANT_EFORMAT, "expected a citation: where the number comes from, or how it was derived");
  hant_json_pop(r, o2);
  if (rc)
    goto out;
  if ((rc = need(r, q, "value", "")))
    goto out;
  /* The bounds are exclusive where the wording says "positive": the
   * smallest double above 0 makes them inclusive without changing them. */
  double x = 0;
  char w[96];
  switch (rg) {
  case R_NONNEG:
    snprintf(w, sizeof(w), "a non-negative number in %s", u->name);
    rc = hant_json_get_number(r, q, "value", 0, 0, INFINITY, w, &x);
    break;
  case R_POS:
    snprintf(w, sizeof(w), "a positive number in %s", u->name);
    rc = hant_json_get_number(r, q, "value", 0, DBL_TRUE_MIN, INFINITY, w, &x);
    break;
  case R_FRACTION:
    /* Not just (0, 1]: an efficiency of 5e-324 divides a time into Inf. */
    rc = hant_json_get_number(r, q, "value", 0, QTY_MIN_FRACTION, 1, "a fraction in [1e-06, 1]", &x);
    break;
  case R_COUNT: {
    long long c = 0;
    rc = hant_json_get_int(r, q, "value", 0, 1, 1000000, "a whole number in 1..1000000", &c);
    x = (double)c;
    break;
  }
  }
  /* Every cost the model derives multiplies or divides a few of these, so
   * keeping each within [1e-9, 1e12] of its canonical unit (GOP/s, us,
   * GB/s, B, pJ, W, MHz) keeps every derived cost finite and positive. */
  if (!rc && (rg == R_POS || rg == R_NONNEG)) {
    double c = x * u->factor;
    if (c > QTY_MAX || (rg == R_POS && c < QTY_MIN)) {
      size_t o3 = hant_json_push_key(r, "value");
      rc = hant_json_fail(r, HANT_EFORMAT, "%g %s is %g %s, outside the range hant can cost (%g to %g %s)", x,
                          u->name, c, d->canonical, rg == R_POS ? QTY_MIN : 0.0, QTY_MAX, d->canonical);
      hant_json_pop(r, o3);
    }
  }
  if (!rc)
    *out = x * u->factor;
out:
  hant_json_pop(r, old);
  return rc;
}

/* {"fp32": qty, ...}: values per precision. */
static int per_prec(hant_json_reader *r, const hant_json *obj, const char *key, const dim *d, bool required,
                    double out[HANT_PREC_COUNT]) {
  static const char *const keys[] = {"fp32", "fp16", "int16", "int8", NULL};
  hant_json *j = NULL;
  int rc = required ? need(r, obj, key, "") : 0;
  if (rc || (rc = hant_json_get_object(r, obj, key, 0, "an object keyed by precision (fp32, fp16, int16, int8)", &j)) ||
      !j)
    return rc;
  size_t old = hant_json_push_key(r, key);
  if ((rc = hant_json_only(r, j, keys)))
    goto out;
  if (hant_json_size(j) == 0) {
    rc = hant_json_fail(r, HANT_EFORMAT, "expected at least one precision");
    goto out;
  }
  for (int p = 0; p < HANT_PREC_COUNT && !rc; p++)
    rc = qty(r, j, prec_names[p], d, R_POS, false, &out[p]);
out:
  hant_json_pop(r, old);
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

static int parse_levels(hant_json_reader *r, const hant_json *root, hant_device *d) {
  static const char *const keys[] = {"name", "capacity", "bandwidth", "energy", NULL};
  static const char what[] = "a non-empty array of memory levels, outermost (DRAM) first";
  hant_json *a = NULL;
  int rc;
  if ((rc = need(r, root, "memory", " (memory levels, outermost first)")) ||
      (rc = hant_json_get_array(r, root, "memory", 0, what, &a)))
    return rc;
  size_t old = hant_json_push_key(r, "memory");
  if (hant_json_size(a) == 0) {
    rc = hant_json_fail(r, HANT_EFORMAT, "expected %s", what);
    goto out;
  }
  if (hant_json_size(a) > HANT_DEVICE_MAX_LEVELS) {
    rc = hant_json_fail(r, HANT_ELIMIT, "more than %d levels", HANT_DEVICE_MAX_LEVELS);
    goto out;
  }
  for (size_t i = 0; i < hant_json_size(a) && !rc; i++) {
    const hant_json *l = hant_json_at(a, i);
    size_t o2 = hant_json_push_index(r, i);
    hant_device_level *lv = &d->levels[d->n_levels];
    if (!(rc = hant_json_expect(r, l, HANT_JSON_OBJECT, "an object {name, capacity, bandwidth, energy}")) &&
        !(rc = hant_json_only(r, l, keys)) && !(rc = str_field(r, l, "name", true, lv->name, sizeof(lv->name))) &&
        !(rc = qty(r, l, "capacity", &D_BYTES, R_POS, true, &lv->capacity_bytes)) &&
        !(rc = qty(r, l, "bandwidth", &D_BW, R_POS, true, &lv->bandwidth_gbps)) &&
        !(rc = qty(r, l, "energy", &D_EBYTE, R_NONNEG, true, &lv->pj_per_byte)))
      d->n_levels++;
    hant_json_pop(r, o2);
  }
out:
  hant_json_pop(r, old);
  return rc;
}

static int parse_clusters(hant_json_reader *r, const hant_json *root, hant_device *d) {
  static const char *const keys[] = {"name", "cores", "clock", "compute", NULL};
  hant_json *a = NULL;
  int rc = hant_json_get_array(r, root, "clusters", 0, "an array of core clusters", &a);
  if (rc || !a)
    return rc;
  size_t old = hant_json_push_key(r, "clusters");
  if (hant_json_size(a) > HANT_DEVICE_MAX_CLUSTERS) {
    rc = hant_json_fail(r, HANT_ELIMIT, "more than %d", HANT_DEVICE_MAX_CLUSTERS);
    goto out;
  }
  for (size_t i = 0; i < hant_json_size(a) && !rc; i++) {
    const hant_json *c = hant_json_at(a, i);
    size_t o2 = hant_json_push_index(r, i);
    hant_device_cluster *cl = &d->clusters[d->n_clusters];
    double cores = 0;
    if (!(rc = hant_json_expect(r, c, HANT_JSON_OBJECT, "an object {name, cores, clock, compute}")) &&
        !(rc = hant_json_only(r, c, keys)) && !(rc = str_field(r, c, "name", true, cl->name, sizeof(cl->name))) &&
        !(rc = qty(r, c, "cores", &D_ONE, R_COUNT, true, &cores)) &&
        !(rc = qty(r, c, "clock", &D_FREQ, R_POS, true, &cl->clock_mhz)) &&
        !(rc = per_prec(r, c, "compute", &D_RATE, true, cl->peak_gops))) {
      cl->cores = (int)cores;
      for (int j = 0; j < d->n_clusters && !rc; j++)
        if (!strcmp(d->clusters[j].name, cl->name))
          rc = fail_at(r, "name", "\"%s\" is already the name of clusters[%d]", cl->name, j);
      if (!rc)
        d->n_clusters++;
    }
    hant_json_pop(r, o2);
  }
out:
  hant_json_pop(r, old);
  return rc;
}

static int parse_modes(hant_json_reader *r, const hant_json *root, hant_device *d) {
  static const char *const keys[] = {"name",         "description", "cluster", "compute_scale", "bandwidth_scale",
                                     "energy_scale", "idle",        "active",  NULL};
  hant_json *a = NULL;
  int rc = hant_json_get_array(r, root, "power_modes", 0, "an array of power modes or DVFS points", &a);
  if (rc || !a)
    return rc;
  size_t old = hant_json_push_key(r, "power_modes");
  if (hant_json_size(a) > HANT_DEVICE_MAX_MODES) {
    rc = hant_json_fail(r, HANT_ELIMIT, "more than %d", HANT_DEVICE_MAX_MODES);
    goto out;
  }
  for (size_t i = 0; i < hant_json_size(a) && !rc; i++) {
    const hant_json *m = hant_json_at(a, i);
    size_t o2 = hant_json_push_index(r, i);
    hant_device_mode *md = &d->modes[d->n_modes];
    char cluster[32], desc[256];
    md->compute_scale = md->bandwidth_scale = md->energy_scale = 1.0;
    md->cluster = -1;
    if (!(rc = hant_json_expect(r, m, HANT_JSON_OBJECT, "an object {name, compute_scale, idle, active, ...}")) &&
        !(rc = hant_json_only(r, m, keys)) && !(rc = str_field(r, m, "name", true, md->name, sizeof(md->name))) &&
        !(rc = str_field(r, m, "description", false, desc, sizeof(desc))) &&
        !(rc = str_field(r, m, "cluster", false, cluster, sizeof(cluster))) &&
        !(rc = qty(r, m, "compute_scale", &D_ONE, R_POS, true, &md->compute_scale)) &&
        !(rc = qty(r, m, "bandwidth_scale", &D_ONE, R_POS, false, &md->bandwidth_scale)) &&
        !(rc = qty(r, m, "energy_scale", &D_ONE, R_POS, false, &md->energy_scale)) &&
        !(rc = qty(r, m, "idle", &D_POWER, R_NONNEG, true, &md->idle_w)) &&
        !(rc = qty(r, m, "active", &D_POWER, R_NONNEG, true, &md->active_w))) {
      if (!name_ok(md->name))
        rc = fail_at(r, "name", "expected letters, digits, '.', '_' or '-', got \"%s\"", md->name);
      for (int j = 0; j < d->n_modes && !rc; j++)
        if (!strcmp(d->modes[j].name, md->name))
          rc = fail_at(r, "name", "\"%s\" is already the name of power_modes[%d]", md->name, j);
      if (!rc && cluster[0]) {
        for (int j = 0; j < d->n_clusters; j++)
          if (!strcmp(d->clusters[j].name, cluster))
            md->cluster = j;
        if (md->cluster < 0)
          rc = fail_at(r, "cluster", "no cluster is named \"%s\" (see clusters)", cluster);
      }
      if (!rc && md->idle_w > md->active_w)
        rc = fail_at(r, "idle", "idle power %g W exceeds active power %g W", md->idle_w, md->active_w);
      if (!rc)
        d->n_modes++;
    }
    hant_json_pop(r, o2);
  }
out:
  hant_json_pop(r, old);
  return rc;
}

static int validate(hant_json_reader *r, const hant_json *root, hant_device *d) {
  static const char *const top[] = {"$schema",   "comment",     "name",  "description",        "kind",
                                    "precision", "compute",     "efficiency", "array",         "overhead",
                                    "memory",    "weights_stationary", "execution", "energy", "power",  "power_modes",
                                    "clusters",  NULL};
  static const char *const kinds[] = {"cpu", "gpu", "mcu", "npu", "accelerator", NULL};
  int rc;
  if ((rc = hant_json_expect(r, root, HANT_JSON_OBJECT, "a JSON object")) || (rc = hant_json_only(r, root, top)))
    return rc;
  if ((rc = str_field(r, root, "name", true, d->name, sizeof(d->name))))
    return rc;
  if (!name_ok(d->name))
    return fail_at(r, "name", "expected letters, digits, '.', '_' or '-' (it names the file NAME.json), got \"%s\"",
                   d->name);
  if ((rc = str_field(r, root, "description", true, d->description, sizeof(d->description))) ||
      (rc = str_field(r, root, "kind", true, d->kind, sizeof(d->kind))))
    return rc;
  bool kind_ok = false;
  for (const char *const *k = kinds; *k; k++)
    kind_ok |= !strcmp(*k, d->kind);
  if (!kind_ok)
    return fail_at(r, "kind", "expected cpu, gpu, mcu, npu or accelerator, got \"%s\"", d->kind);
  char prec[16];
  if ((rc = str_field(r, root, "precision", true, prec, sizeof(prec))))
    return rc;
  d->precision = hant_prec_from_name(prec);
  if (d->precision == HANT_PREC_COUNT)
    return fail_at(r, "precision", "expected fp32, fp16, int16 or int8, got \"%s\"", prec);
  if ((rc = per_prec(r, root, "compute", &D_RATE, true, d->peak_gops)))
    return rc;
  if (d->peak_gops[d->precision] <= 0)
    return fail_at(r, "compute", "no peak for the profile's precision %s", prec);

  static const char *const effk[] = {"conv", "depthwise", "linear", "memory", NULL};
  hant_json *e = NULL;
  if ((rc = need(r, root, "efficiency", "")) ||
      (rc = hant_json_get_object(r, root, "efficiency", 0, "an object {conv, depthwise, linear, memory}", &e)))
    return rc;
  size_t o = hant_json_push_key(r, "efficiency");
  if (!(rc = hant_json_only(r, e, effk)))
    for (int i = 0; i < HANT_EFF_COUNT && !rc; i++)
      rc = qty(r, e, eff_names[i], &D_ONE, R_FRACTION, true, &d->eff[i]);
  hant_json_pop(r, o);
  if (rc)
    return rc;

  static const char *const arrk[] = {"rows", "cols", NULL};
  double rows = 0, cols = 0;
  hant_json *arr = NULL;
  if ((rc = need(r, root, "array", " (use rows 1, cols 1 for no tiling)")) ||
      (rc = hant_json_get_object(r, root, "array", 0, "an object {rows, cols}", &arr)))
    return rc;
  o = hant_json_push_key(r, "array");
  if (!(rc = hant_json_only(r, arr, arrk)) && !(rc = qty(r, arr, "rows", &D_ONE, R_COUNT, true, &rows)))
    rc = qty(r, arr, "cols", &D_ONE, R_COUNT, true, &cols);
  hant_json_pop(r, o);
  if (rc)
    return rc;
  d->array_rows = (int)rows;
  d->array_cols = (int)cols;

  if ((rc = qty(r, root, "overhead", &D_TIME, R_NONNEG, true, &d->overhead_us)) || (rc = parse_levels(r, root, d)))
    return rc;

  d->weights_stationary = false;
  if ((rc = hant_json_get_bool(r, root, "weights_stationary", 0, &d->weights_stationary)))
    return rc;

  char exec[16];
  if ((rc = str_field(r, root, "execution", false, exec, sizeof(exec))))
    return rc;
  d->sequential = false;
  if (exec[0]) {
    if (!strcmp(exec, "sequential"))
      d->sequential = true;
    else if (strcmp(exec, "pipelined"))
      return fail_at(r, "execution", "expected \"pipelined\" or \"sequential\", got \"%s\"", exec);
  }

  static const char *const enk[] = {"mac", NULL};
  hant_json *en = NULL;
  if ((rc = need(r, root, "energy", "")) || (rc = hant_json_get_object(r, root, "energy", 0, "an object {mac}", &en)))
    return rc;
  o = hant_json_push_key(r, "energy");
  if (!(rc = hant_json_only(r, en, enk)))
    rc = per_prec(r, en, "mac", &D_EMAC, true, d->pj_per_mac);
  if (!rc && d->pj_per_mac[d->precision] <= 0)
    rc = fail_at(r, "mac", "no energy per MAC for the profile's precision %s", prec);
  hant_json_pop(r, o);
  if (rc)
    return rc;

  static const char *const pwk[] = {"idle", "active", NULL};
  hant_json *pw = NULL;
  if ((rc = need(r, root, "power", "")) ||
      (rc = hant_json_get_object(r, root, "power", 0, "an object {idle, active}", &pw)))
    return rc;
  o = hant_json_push_key(r, "power");
  if (!(rc = hant_json_only(r, pw, pwk)) && !(rc = qty(r, pw, "idle", &D_POWER, R_NONNEG, true, &d->idle_w)))
    rc = qty(r, pw, "active", &D_POWER, R_NONNEG, true, &d->active_w);
  if (!rc && d->idle_w > d->active_w)
    rc = fail_at(r, "idle", "idle power %g W exceeds active power %g W", d->idle_w, d->active_w);
  hant_json_pop(r, o);
  if (rc)
    return rc;
  if ((rc = parse_clusters(r, root, d)) || (rc = parse_modes(r, root, d)))
    return rc;
  return 0;
}

int hant_device_parse(const char *text, size_t len, const char *name, hant_device **out) {
  *out = NULL;
  if (len > HANT_DEVICE_MAX_BYTES)
    return hant__error(HANT_ELIMIT, "%s: larger than the limit of %zu bytes", name, HANT_DEVICE_MAX_BYTES);
  hant_json *root = NULL;
  hant_json_syntax syn;
  int rc = hant_json_parse(text, len, name, &root, &syn);
  if (rc == HANT_EFORMAT)
    return hant__error(rc, "%s:%d:%d: not valid JSON: %s", name, syn.line, syn.column, syn.what);
  if (rc)
    return rc;
  hant_device *d = calloc(1, sizeof(*d));
  rc = HANT_ENOMEM;
  if (!d)
    goto out;
  hant_json_reader r;
  hant_json_reader_init(&r, name);
  if ((rc = validate(&r, root, d)))
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
  hant_json_free(root);
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
