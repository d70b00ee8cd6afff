/* SPDX-License-Identifier: MIT */
/* fleet.c: reads fleet manifests for hant-client regen, keeping each entry's error to itself. */
#include "fleet.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "base.h"
#include "file.h"
#include "finetune.h"
#include "json_read.h"
#include "jsonw.h"

/* Largest manifest read from a file. */
#define FLEET_MAX_BYTES ((size_t)16 << 20)

static const char *const top_keys[] = {"fleet", "description", "defaults", "devices", "$schema", NULL};
static const char *const device_keys[] = {"device", "description", "entries", NULL};
static const char *const entry_keys[] = {"name",           "budgets",         "fps",
                                         "power_mode",     "grid_g_per_kwh",  "finetune_epochs",
                                         "finetune_images", "finetune_samples", "eval_samples", NULL};

static bool safe_name(const char *s) {
  if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
    return false;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' ||
          *s == '_' || *s == '-'))
      return false;
  return true;
}

/* Refuses a member outside keys, in this format's words. */
static int only(hant_json_reader *r, const hant_json *obj, const char *const *keys, const char *expected) {
  const char *k = hant_json_first_unknown(obj, keys);
  if (!k)
    return 0;
  size_t m = hant_json_push_key(r, k);
  int rc = hant_json_fail(r, HANT_EFORMAT, "unknown member; expected %s", expected);
  hant_json_pop(r, m);
  return rc;
}

/* Makes the message just recorded (hant_errmsg(), "FILE: devices[i].entries[j].FIELD: what") the entry's
 * own error, so that the other entries still run. */
static int entry_failed(hant_fleet_entry *e, int rc) {
  snprintf(e->error, sizeof(e->error), "%s", hant_errmsg());
  return rc;
}

/* An entry field comes from the entry, else from "defaults": the object to read key from. */
static const hant_json *source_of(const hant_json *ent, const hant_json *def, const char *key) {
  return hant_json_member(ent, key) || !def ? ent : def;
}

/* A whole number in [lo, hi] from the entry or the defaults. */
static int get_int(hant_json_reader *r, const hant_json *ent, const hant_json *def, const char *key, int lo, int hi,
                   int *out) {
  long long v = *out;
  int rc = hant_json_get_int(r, source_of(ent, def, key), key, 0, lo, hi, NULL, &v);
  if (!rc)
    *out = (int)v;
  return rc;
}

/* finetune_epochs: a whole number of epochs, or "auto". */
static int get_epochs(hant_json_reader *r, const hant_json *ent, const hant_json *def, int *out) {
  const char *key = "finetune_epochs";
  const char *word = hant_json_string(hant_json_member(source_of(ent, def, key), key), NULL);
  if (word && !strcmp(word, "auto")) {
    *out = HANT_FINETUNE_EPOCHS_AUTO;
    return 0;
  }
  if (word) {
    size_t m = hant_json_push_key(r, key);
    int rc = hant_json_fail(r, HANT_EFORMAT, "expected a whole number of epochs or \"auto\"");
    hant_json_pop(r, m);
    return rc;
  }
  return get_int(r, ent, def, key, 0, 1000, out);
}

/* A number in [lo, hi] from the entry or the defaults; null means none. */
static int get_num(hant_json_reader *r, const hant_json *ent, const hant_json *def, const char *key, double lo,
                   double hi, double *out) {
  return hant_json_get_number(r, source_of(ent, def, key), key, HANT_JSON_NULL_ABSENT, lo, hi, NULL, out);
}

/* A file-safe name from the entry itself (never from the defaults). */
static int get_safe(hant_json_reader *r, const hant_json *ent, const char *key, char *buf, size_t n,
                    const char *what) {
  const hant_json *v = hant_json_member(ent, key);
  if (!v)
    return 0;
  size_t len = 0;
  const char *s = hant_json_string(v, &len);
  if (!s || len >= n || strlen(s) != len || !safe_name(s)) {
    size_t m = hant_json_push_key(r, key);
    int rc = hant_json_fail(r, HANT_EFORMAT, "expected %s of letters, digits, '.', '_' or '-'", what);
    hant_json_pop(r, m);
    return rc;
  }
  memcpy(buf, s, len + 1);
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

/* finetune_images, or its older name finetune_samples: the entry's own
 * key wins over the defaults' whatever its name; one object giving both
 * is refused, since they could disagree. */
static int finetune_images(hant_json_reader *r, const hant_json *ent, const hant_json *def, int *out) {
  const hant_json *objs[2] = {ent, def};
  for (int i = 0; i < 2; i++)
    if (objs[i] && hant_json_member(objs[i], "finetune_images") && hant_json_member(objs[i], "finetune_samples")) {
      size_t m = 0;
      if (i)
        m = hant_json_push_key(r, "defaults");
      size_t m2 = hant_json_push_key(r, "finetune_samples");
      int rc = hant_json_fail(r, HANT_EFORMAT, "the older name of finetune_images, which is given too; keep one");
      hant_json_pop(r, m2);
      if (i)
        hant_json_pop(r, m);
      return rc;
    }
  bool own = hant_json_member(ent, "finetune_images") || hant_json_member(ent, "finetune_samples");
  const hant_json *src = own || !def ? ent : def;
  const char *key = hant_json_member(src, "finetune_samples") ? "finetune_samples" : "finetune_images";
  long long v = *out;
  int rc = hant_json_get_int(r, src, key, 0, 0, 55000, NULL, &v);
  if (!rc)
    *out = (int)v;
  return rc;
}

/* r stands at the entry. Returns 0 or HANT_EFORMAT, the message recorded. */
static int parse_entry(hant_fleet_entry *e, hant_json_reader *r, const hant_json *ent, const hant_json *def) {
  int rc;
  if ((rc = hant_json_expect(r, ent, HANT_JSON_OBJECT, NULL)) || (rc = only(r, ent, entry_keys,
                 "one of name, budgets, fps, power_mode, grid_g_per_kwh, finetune_epochs, finetune_images, "
                 "eval_samples")))
    return rc;
  char what[64];
  snprintf(what, sizeof(what), "an array of at most %d budgets with units", HANT_FLEET_MAX_BUDGETS);
  hant_json *b = NULL;
  if ((rc = hant_json_get_array(r, source_of(ent, def, "budgets"), "budgets", 0, what, &b)))
    return rc;
  size_t m = hant_json_push_key(r, "budgets");
  if (hant_json_size(b) > HANT_FLEET_MAX_BUDGETS)
    return hant_json_fail(r, HANT_EFORMAT, "expected %s", what);
  for (size_t i = 0; i < hant_json_size(b); i++) {
    size_t len = 0;
    const char *s = hant_json_string(hant_json_at(b, i), &len);
    size_t mi = hant_json_push_index(r, i);
    if (!s || len >= sizeof(e->budgets[0]))
      return hant_json_fail(r, HANT_EFORMAT, "expected a budget with a unit such as \"2W\" or \"15ms\"");
    hant_budget bud;
    if (hant_budget_parse(s, &bud))
      return hant_json_fail(r, HANT_EFORMAT, "%s", hant_errmsg());
    hant_json_pop(r, mi);
    snprintf(e->budgets[e->n_budgets++], sizeof(e->budgets[0]), "%s", s);
  }
  hant_json_pop(r, m);
  if ((rc = get_num(r, ent, def, "fps", 0, 1e6, &e->fps)) ||
      (rc = get_num(r, ent, def, "grid_g_per_kwh", 0, 1e5, &e->grid_g_per_kwh)) ||
      (rc = get_epochs(r, ent, def, &e->finetune_epochs)) ||
      (rc = finetune_images(r, ent, def, &e->finetune_samples)) ||
      (rc = get_int(r, ent, def, "eval_samples", 0, 10000, &e->eval_samples)) ||
      (rc = get_safe(r, ent, "power_mode", e->power_mode, sizeof(e->power_mode), "a power mode name")) ||
      (rc = get_safe(r, ent, "name", e->name, sizeof(e->name), "a file name")))
    return rc;
  if (!e->name[0])
    default_name(e);
  return 0;
}

/* The entry as canonical JSON: every field, sorted keys, defaults applied,
 * compact, reals to 17 digits. hant-client regen hashes it to tell whether
 * an entry changed since the last run, so the bytes must not drift. */
static char *canonical(const hant_fleet_entry *e) {
  static const hant_jsonw_style style = {.real_digits = 17, .jansson_escapes = true};
  hant_jsonw b;
  hant_jsonw_init_mem(&b);
  hant_jsonw_set_style(&b, &style);
  hant_jsonw_obj_begin(&b);
  hant_jsonw_key(&b, "budgets");
  hant_jsonw_arr_begin(&b);
  for (int i = 0; i < e->n_budgets; i++)
    hant_jsonw_str(&b, e->budgets[i]);
  hant_jsonw_arr_end(&b);
  hant_jsonw_key(&b, "device");
  hant_jsonw_str(&b, e->device);
  hant_jsonw_key(&b, "eval_samples");
  hant_jsonw_int(&b, e->eval_samples);
  hant_jsonw_key(&b, "finetune_epochs");
  if (e->finetune_epochs == HANT_FINETUNE_EPOCHS_AUTO)
    hant_jsonw_str(&b, "auto");
  else
    hant_jsonw_int(&b, e->finetune_epochs);
  hant_jsonw_key(&b, "finetune_samples");
  hant_jsonw_int(&b, e->finetune_samples);
  hant_jsonw_key(&b, "fps");
  if (e->fps > 0)
    hant_jsonw_num(&b, e->fps);
  else
    hant_jsonw_null(&b);
  hant_jsonw_key(&b, "grid_g_per_kwh");
  if (e->grid_g_per_kwh >= 0)
    hant_jsonw_num(&b, e->grid_g_per_kwh);
  else
    hant_jsonw_null(&b);
  hant_jsonw_key(&b, "name");
  hant_jsonw_str(&b, e->name);
  hant_jsonw_key(&b, "power_mode");
  if (e->power_mode[0])
    hant_jsonw_str(&b, e->power_mode);
  else
    hant_jsonw_null(&b);
  hant_jsonw_obj_end(&b);
  return hant_jsonw_take(&b);
}

int hant_fleet_parse(const char *text, size_t len, const char *name, hant_fleet **out) {
  *out = NULL;
  hant_json *root = NULL;
  hant_json_syntax syn;
  int rc = hant_json_parse(text, len, name, &root, &syn);
  if (rc == HANT_EFORMAT)
    return hant__error(rc, "%s: line %d, column %d: %s", name, syn.line, syn.column, syn.what);
  if (rc)
    return rc;
  hant_fleet *f = NULL;
  hant_json_reader r;
  hant_json_reader_init(&r, name);
  hant_json *devs = NULL, *def = NULL;
  static const char devs_what[] = "a non-empty array of {\"device\", \"entries\"}";
  if ((rc = hant_json_expect(&r, root, HANT_JSON_OBJECT, "an object with \"devices\"")) ||
      (rc = only(&r, root, top_keys, "fleet, description, defaults or devices")) ||
      (rc = hant_json_get_array(&r, root, "devices", HANT_JSON_REQUIRED, devs_what, &devs)))
    goto out;
  if (!hant_json_size(devs)) {
    rc = hant__error(HANT_EFORMAT, "%s: devices: expected %s", name, devs_what);
    goto out;
  }
  if ((rc = hant_json_get_object(&r, root, "defaults", 0, "an object of entry fields", &def)))
    goto out;
  size_t n = 0;
  hant_json_push_key(&r, "devices");
  for (size_t i = 0; i < hant_json_size(devs); i++) {
    const hant_json *d = hant_json_at(devs, i), *es = hant_json_member(d, "entries");
    size_t m = hant_json_push_index(&r, i);
    if (hant_json_typeof(d) != HANT_JSON_OBJECT || !hant_json_string(hant_json_member(d, "device"), NULL) ||
        !hant_json_size(es) || hant_json_typeof(es) != HANT_JSON_ARRAY) {
      rc = hant_json_fail(&r, HANT_EFORMAT, "expected {\"device\": NAME, \"entries\": [ENTRY, ...]}");
      goto out;
    }
    if ((rc = only(&r, d, device_keys, "device, description or entries")))
      goto out;
    hant_json_pop(&r, m);
    n += hant_json_size(es);
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
  const char *fleet_name = hant_json_string(hant_json_member(root, "fleet"), NULL);
  if (fleet_name)
    snprintf(f->name, sizeof(f->name), "%s", fleet_name);
  for (size_t i = 0; i < hant_json_size(devs); i++) {
    const hant_json *d = hant_json_at(devs, i), *es = hant_json_member(d, "entries");
    const char *dev = hant_json_string(hant_json_member(d, "device"), NULL);
    for (size_t j = 0; j < hant_json_size(es); j++) {
      hant_fleet_entry *e = &f->entries[f->n++];
      e->grid_g_per_kwh = -1;
      hant_json_reader er;
      hant_json_reader_init(&er, name);
      hant_json_push_key(&er, "devices");
      hant_json_push_index(&er, i);
      hant_json_push_key(&er, "entries");
      hant_json_push_index(&er, j);
      snprintf(e->where, sizeof(e->where), "%.*s", (int)sizeof(e->where) - 1, er.path);
      snprintf(e->device, sizeof(e->device), "%s", dev);
      if (strlen(dev) >= sizeof(e->device) || !safe_name(dev)) {
        entry_failed(e, hant_json_fail(&er, HANT_EFORMAT,
                                       "device '%.63s': expected a device name of letters, digits, '.', '_' or '-'",
                                       dev));
        snprintf(e->name, sizeof(e->name), "devices-%zu-entries-%zu", i, j);
        snprintf(e->device, sizeof(e->device), "devices-%zu", i);
        continue;
      }
      if (parse_entry(e, &er, hant_json_at(es, j), def)) {
        entry_failed(e, HANT_EFORMAT);
        /* Still a name for the summary, never a file name. */
        snprintf(e->name, sizeof(e->name), "devices-%zu-entries-%zu", i, j);
        continue;
      }
      for (int p = 0; p < f->n - 1; p++)
        if (!f->entries[p].error[0] && !strcmp(f->entries[p].device, e->device) &&
            !strcmp(f->entries[p].name, e->name)) {
          entry_failed(e, hant_json_fail(&er, HANT_EFORMAT,
                                         "duplicate output name '%s' for device %s (also %s); give one a \"name\"",
                                         e->name, e->device, f->entries[p].where));
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
  hant_json_free(root);
  if (rc) {
    hant_fleet_destroy(f);
    return rc;
  }
  *out = f;
  return 0;
}

int hant_fleet_load(const char *path, hant_fleet **out) {
  *out = NULL;
  char *buf;
  size_t len;
  int rc = hant_file_read(path, FLEET_MAX_BYTES, &buf, &len);
  if (rc)
    return rc;
  rc = hant_fleet_parse(buf, len, path, out);
  free(buf);
  return rc;
}

int hant_fleet_set_finetune(hant_fleet *f, int epochs, int images) {
  for (int i = 0; i < f->n; i++) {
    hant_fleet_entry *e = &f->entries[i];
    if (e->error[0])
      continue;
    if (epochs >= 0 || epochs == HANT_FINETUNE_EPOCHS_AUTO)
      e->finetune_epochs = epochs;
    if (images >= 0)
      e->finetune_samples = images;
    char *c = canonical(e);
    if (!c)
      return HANT_ENOMEM;
    free(e->canonical);
    e->canonical = c;
  }
  return 0;
}

void hant_fleet_destroy(hant_fleet *f) {
  if (!f)
    return;
  for (int i = 0; i < f->n; i++)
    free(f->entries[i].canonical);
  free(f->entries);
  free(f);
}
