/* SPDX-License-Identifier: MIT */
/* fleet.c: reads fleet manifests for hant-client regen, keeping each entry's error to itself. */
#include "fleet.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "base.h"

static const char *const entry_keys[] = {"name",           "budgets",         "fps",
                                         "power_mode",     "grid_g_per_kwh",  "finetune_epochs",
                                         "finetune_samples", "eval_samples",  NULL};

static bool allowed(const char *key, const char *const *keys) {
  for (; *keys; keys++)
    if (!strcmp(key, *keys))
      return true;
  return false;
}

static bool safe_name(const char *s) {
  if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
    return false;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' ||
          *s == '_' || *s == '-'))
      return false;
  return true;
}

/* Sets the entry's error: "FILE: devices[i].entries[j].FIELD: what". */
static int entry_bad(hant_fleet_entry *e, const char *file, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int entry_bad(hant_fleet_entry *e, const char *file, const char *field, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(e->error, sizeof(e->error), "%s: %s%s%s: %s", file, e->where, *field ? "." : "", field, msg);
  return -1;
}

/* A whole number in [lo, hi] from member key of any of the objects (entry first). */
static int get_int(hant_fleet_entry *e, const char *file, const json_t *ent, const json_t *def, const char *key,
                   int lo, int hi, int *out) {
  json_t *v = json_object_get(ent, key);
  if (!v && def)
    v = json_object_get(def, key);
  if (!v)
    return 0;
  if (!json_is_number(v) || json_number_value(v) != floor(json_number_value(v)) || json_number_value(v) < lo ||
      json_number_value(v) > hi)
    return entry_bad(e, file, key, "expected a whole number from %d to %d", lo, hi);
  *out = (int)json_number_value(v);
  return 0;
}

static int get_num(hant_fleet_entry *e, const char *file, const json_t *ent, const json_t *def, const char *key,
                   double lo, double hi, double *out) {
  json_t *v = json_object_get(ent, key);
  if (!v && def)
    v = json_object_get(def, key);
  if (!v || json_is_null(v))
    return 0;
  double x = json_is_number(v) ? json_number_value(v) : NAN;
  if (!isfinite(x) || x < lo || x > hi)
    return entry_bad(e, file, key, "expected a number from %g to %g", lo, hi);
  *out = x;
  return 0;
}

/* The default output name: the budgets joined by '_', then "_<F>fps";
 * characters outside [A-Za-z0-9.-] become '-'. */
static void default_name(hant_fleet_entry *e) {
  size_t o = 0;
  char *n = e->name;
  for (int b = 0; b < e->n_budgets; b++) {
    if (b && o + 1 < sizeof(e->name))
      n[o++] = '_';
    for (const char *s = e->budgets[b]; *s && o + 1 < sizeof(e->name); s++)
      n[o++] = (isalnum((unsigned char)*s) || *s == '.' || *s == '-') ? *s : '-';
  }
  n[o] = '\0';
  if (e->fps > 0)
    snprintf(n + o, sizeof(e->name) - o, "%s%gfps", o ? "_" : "", e->fps);
  if (e->power_mode[0]) {
    o = strlen(n);
    snprintf(n + o, sizeof(e->name) - o, "%s%s", o ? "_" : "", e->power_mode);
  }
  if (!n[0])
    snprintf(e->name, sizeof(e->name), "unconstrained");
}

static int parse_entry(hant_fleet_entry *e, const char *file, const json_t *ent, const json_t *def) {
  if (!json_is_object(ent))
    return entry_bad(e, file, "", "expected an object");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)ent, k, v) {
    if (!allowed(k, entry_keys))
      return entry_bad(e, file, k, "unknown member; expected one of name, budgets, fps, power_mode, grid_g_per_kwh, "
                                   "finetune_epochs, finetune_samples, eval_samples");
  }
  json_t *b = json_object_get(ent, "budgets");
  if (!b && def)
    b = json_object_get(def, "budgets");
  if (b && (!json_is_array(b) || json_array_size(b) > HANT_FLEET_MAX_BUDGETS))
    return entry_bad(e, file, "budgets", "expected an array of at most %d budgets with units", HANT_FLEET_MAX_BUDGETS);
  size_t i;
  json_array_foreach(b, i, v) {
    char f[32];
    snprintf(f, sizeof(f), "budgets[%zu]", i);
    if (!json_is_string(v) || json_string_length(v) >= sizeof(e->budgets[0]))
      return entry_bad(e, file, f, "expected a budget with a unit such as \"2W\" or \"15ms\"");
    hant_budget bud;
    if (hant_budget_parse(json_string_value(v), &bud))
      return entry_bad(e, file, f, "%s", hant_errmsg());
    snprintf(e->budgets[e->n_budgets++], sizeof(e->budgets[0]), "%s", json_string_value(v));
  }
  if (get_num(e, file, ent, def, "fps", 0, 1e6, &e->fps) ||
      get_num(e, file, ent, def, "grid_g_per_kwh", 0, 1e5, &e->grid_g_per_kwh) ||
      get_int(e, file, ent, def, "finetune_epochs", 0, 1000, &e->finetune_epochs) ||
      get_int(e, file, ent, def, "finetune_samples", 0, 55000, &e->finetune_samples) ||
      get_int(e, file, ent, def, "eval_samples", 0, 10000, &e->eval_samples))
    return -1;
  json_t *pm = json_object_get(ent, "power_mode");
  if (pm) {
    if (!json_is_string(pm) || json_string_length(pm) >= sizeof(e->power_mode) || !safe_name(json_string_value(pm)))
      return entry_bad(e, file, "power_mode", "expected a power mode name of letters, digits, '.', '_' or '-'");
    snprintf(e->power_mode, sizeof(e->power_mode), "%s", json_string_value(pm));
  }
  json_t *nm = json_object_get(ent, "name");
  if (nm) {
    if (!json_is_string(nm) || json_string_length(nm) >= sizeof(e->name) || !safe_name(json_string_value(nm)))
      return entry_bad(e, file, "name", "expected a file name of letters, digits, '.', '_' or '-'");
    snprintf(e->name, sizeof(e->name), "%s", json_string_value(nm));
  } else {
    default_name(e);
  }
  return 0;
}

/* The entry as canonical JSON: every field, sorted keys, defaults applied. */
static char *canonical(const hant_fleet_entry *e) {
  json_t *o = json_object(), *b = json_array();
  for (int i = 0; i < e->n_budgets; i++)
    json_array_append_new(b, json_string(e->budgets[i]));
  json_object_set_new(o, "device", json_string(e->device));
  json_object_set_new(o, "name", json_string(e->name));
  json_object_set_new(o, "budgets", b);
  json_object_set_new(o, "fps", e->fps > 0 ? json_real(e->fps) : json_null());
  json_object_set_new(o, "grid_g_per_kwh", e->grid_g_per_kwh >= 0 ? json_real(e->grid_g_per_kwh) : json_null());
  json_object_set_new(o, "power_mode", e->power_mode[0] ? json_string(e->power_mode) : json_null());
  json_object_set_new(o, "finetune_epochs", json_integer(e->finetune_epochs));
  json_object_set_new(o, "finetune_samples", json_integer(e->finetune_samples));
  json_object_set_new(o, "eval_samples", json_integer(e->eval_samples));
  char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
  json_decref(o);
  return s;
}

int hant_fleet_parse(const char *text, size_t len, const char *name, hant_fleet **out) {
  *out = NULL;
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return hant__error(HANT_EFORMAT, "%s: line %d, column %d: %s", name, jerr.line, jerr.column, jerr.text);
  int rc = 0;
  hant_fleet *f = NULL;
  json_t *devs = json_object_get(root, "devices"), *def = json_object_get(root, "defaults");
  if (!json_is_object(root)) {
    rc = hant__error(HANT_EFORMAT, "%s: expected an object with \"devices\"", name);
    goto out;
  }
  const char *k;
  json_t *v;
  json_object_foreach(root, k, v) {
    if (strcmp(k, "fleet") && strcmp(k, "defaults") && strcmp(k, "devices") && strcmp(k, "$schema") &&
        strcmp(k, "description")) {
      rc = hant__error(HANT_EFORMAT, "%s: %s: unknown member; expected fleet, description, defaults or devices", name,
                       k);
      goto out;
    }
  }
  if (!json_is_array(devs) || !json_array_size(devs)) {
    rc = hant__error(HANT_EFORMAT, "%s: devices: expected a non-empty array of {\"device\", \"entries\"}", name);
    goto out;
  }
  if (def && !json_is_object(def)) {
    rc = hant__error(HANT_EFORMAT, "%s: defaults: expected an object of entry fields", name);
    goto out;
  }
  size_t n = 0, i, j;
  json_t *d, *ent;
  json_array_foreach(devs, i, d) {
    json_t *es = json_object_get(d, "entries");
    if (!json_is_object(d) || !json_is_string(json_object_get(d, "device")) || !json_is_array(es) ||
        !json_array_size(es)) {
      rc = hant__error(HANT_EFORMAT, "%s: devices[%zu]: expected {\"device\": NAME, \"entries\": [ENTRY, ...]}", name,
                       i);
      goto out;
    }
    json_object_foreach(d, k, v) {
      if (strcmp(k, "device") && strcmp(k, "entries") && strcmp(k, "description")) {
        rc = hant__error(HANT_EFORMAT, "%s: devices[%zu].%s: unknown member; expected device, description or entries",
                         name, i, k);
        goto out;
      }
    }
    n += json_array_size(es);
  }
  if (n > 10000) {
    rc = hant__error(HANT_ELIMIT, "%s: %zu entries; at most 10000", name, n);
    goto out;
  }
  if (!(f = calloc(1, sizeof(*f))) || !(f->entries = calloc(n, sizeof(*f->entries)))) {
    rc = HANT_ENOMEM;
    goto out;
  }
  snprintf(f->path, sizeof(f->path), "%s", name);
  json_t *fn = json_object_get(root, "fleet");
  if (json_is_string(fn))
    snprintf(f->name, sizeof(f->name), "%s", json_string_value(fn));
  json_array_foreach(devs, i, d) {
    const char *dev = json_string_value(json_object_get(d, "device"));
    json_array_foreach(json_object_get(d, "entries"), j, ent) {
      hant_fleet_entry *e = &f->entries[f->n++];
      e->grid_g_per_kwh = -1;
      snprintf(e->where, sizeof(e->where), "devices[%zu].entries[%zu]", i, j);
      snprintf(e->device, sizeof(e->device), "%s", dev);
      if (strlen(dev) >= sizeof(e->device) || !safe_name(dev)) {
        entry_bad(e, name, "", "device '%.63s': expected a device name of letters, digits, '.', '_' or '-'", dev);
        snprintf(e->name, sizeof(e->name), "devices-%zu-entries-%zu", i, j);
        snprintf(e->device, sizeof(e->device), "devices-%zu", i);
        continue;
      }
      if (parse_entry(e, name, ent, def)) {
        /* Still a name for the summary, never a file name. */
        snprintf(e->name, sizeof(e->name), "devices-%zu-entries-%zu", i, j);
        continue;
      }
      for (int p = 0; p < f->n - 1; p++)
        if (!f->entries[p].error[0] && !strcmp(f->entries[p].device, e->device) &&
            !strcmp(f->entries[p].name, e->name)) {
          entry_bad(e, name, "", "duplicate output name '%s' for device %s (also %s); give one a \"name\"", e->name,
                    e->device, f->entries[p].where);
          break;
        }
      if (!e->error[0] && !(e->canonical = canonical(e))) {
        rc = HANT_ENOMEM;
        goto out;
      }
    }
  }
  hant_errmsg_clear();
out:
  json_decref(root);
  if (rc) {
    hant_fleet_destroy(f);
    return rc;
  }
  *out = f;
  return 0;
}

int hant_fleet_load(const char *path, hant_fleet **out) {
  *out = NULL;
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return hant__error(errno == ENOENT ? HANT_ENOENT : HANT_EIO, "%s: %s", path, strerror(errno));
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (len + 4096 > cap) {
      if (cap > ((size_t)16 << 20)) {
        rc = hant__error(HANT_ELIMIT, "%s: larger than 16 MiB", path);
        break;
      }
      char *nb = realloc(buf, cap = cap ? 2 * cap : 65536);
      if (!nb) {
        rc = HANT_ENOMEM;
        break;
      }
      buf = nb;
    }
    size_t k = fread(buf + len, 1, cap - len, fp);
    len += k;
    if (k == 0) {
      if (ferror(fp))
        rc = hant__error(HANT_EIO, "%s: read error", path);
      break;
    }
  }
  fclose(fp);
  if (!rc)
    rc = hant_fleet_parse(buf, len, path, out);
  free(buf);
  return rc;
}

void hant_fleet_destroy(hant_fleet *f) {
  if (!f)
    return;
  for (int i = 0; i < f->n; i++)
    free(f->entries[i].canonical);
  free(f->entries);
  free(f);
}
