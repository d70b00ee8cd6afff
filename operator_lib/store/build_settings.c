/* SPDX-License-Identifier: MIT */
/* build_settings.c: stores and reads the settings a library was built with, as JSON in its meta table. */
#include "build_settings.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "json_read.h"
#include "jsonw.h"

#define SETTINGS_KEY "build.settings"

int hant_build_settings_put(hant_store *st, const hant_build_settings *s) {
  char text[1024];
  hant_jsonw w;
  hant_jsonw_init_buf(&w, text, sizeof(text));
  hant_jsonw_obj_begin(&w);
  hant_jsonw_key(&w, "preset"), hant_jsonw_str(&w, s->preset);
  hant_jsonw_key(&w, "families"), hant_jsonw_str(&w, s->families);
  hant_jsonw_key(&w, "per_family"), hant_jsonw_int(&w, s->per_family);
  hant_jsonw_key(&w, "samples"), hant_jsonw_int(&w, s->samples);
  hant_jsonw_key(&w, "val_samples"), hant_jsonw_int(&w, s->val_samples);
  hant_jsonw_key(&w, "epochs"), hant_jsonw_int(&w, s->epochs);
  hant_jsonw_key(&w, "epochs_teacher"), hant_jsonw_int(&w, s->epochs_teacher);
  hant_jsonw_key(&w, "plateau"), hant_jsonw_num(&w, s->plateau);
  hant_jsonw_key(&w, "recipe"), hant_jsonw_int(&w, s->recipe);
  hant_jsonw_key(&w, "batch"), hant_jsonw_int(&w, s->batch);
  /* Only when it differs from what libraries before the field did. */
  if (s->init[0] && strcmp(s->init, "random"))
    hant_jsonw_key(&w, "init"), hant_jsonw_str(&w, s->init);
  /* The seed as text: JSON numbers past 2^53 do not survive every reader. */
  char seed[24];
  snprintf(seed, sizeof(seed), "%llu", (unsigned long long)s->seed);
  hant_jsonw_key(&w, "seed"), hant_jsonw_str(&w, seed);
  if (s->data[0])
    hant_jsonw_key(&w, "data"), hant_jsonw_str(&w, s->data);
  if (s->norm_k > 0) {
    /* %.9g: a float's value read back exactly. */
    hant_jsonw_key(&w, "mean"), hant_jsonw_arr_begin(&w);
    for (int i = 0; i < s->norm_k && i < 4; i++)
      hant_jsonw_numf(&w, "%.9g", s->mean[i]);
    hant_jsonw_arr_end(&w);
    hant_jsonw_key(&w, "std"), hant_jsonw_arr_begin(&w);
    for (int i = 0; i < s->norm_k && i < 4; i++)
      hant_jsonw_numf(&w, "%.9g", s->std[i]);
    hant_jsonw_arr_end(&w);
  }
  hant_jsonw_obj_end(&w);
  if (hant_jsonw_error(&w))
    return hant__error(hant_jsonw_error(&w), "%s: build settings do not fit in %zu bytes", hant_store_path(st),
                       sizeof(text));
  return hant_store_meta_put(st, SETTINGS_KEY, text);
}

static int get_int(hant_json_reader *r, const hant_json *o, const char *key, long long hi, int *out) {
  long long v = 0;
  int rc = hant_json_get_int(r, o, key, HANT_JSON_REQUIRED, 0, hi, NULL, &v);
  *out = (int)v;
  return rc;
}

/* A key that libraries recorded before it existed lack: `absent` then. */
static int get_opt(hant_json_reader *r, const hant_json *o, const char *key, long long hi, int absent, int *out) {
  long long v = absent;
  int rc = hant_json_get_int(r, o, key, 0, 0, hi, NULL, &v);
  *out = (int)v;
  return rc;
}

/* "mean" and "std": both or neither, arrays of the same 1 to 4 numbers, std > 0. */
static int get_norm(hant_json_reader *r, const hant_json *doc, hant_build_settings *s) {
  hant_json *m = NULL, *sd = NULL;
  int rc;
  if ((rc = hant_json_get_array(r, doc, "mean", 0, "an array of 1 to 4 numbers", &m)) ||
      (rc = hant_json_get_array(r, doc, "std", 0, "an array of 1 to 4 positive numbers", &sd)))
    return rc;
  if (!m && !sd)
    return 0;
  size_t k = m ? hant_json_size(m) : 0;
  if (!m || !sd || k < 1 || k > 4 || hant_json_size(sd) != k)
    return hant_json_fail_at(r, m ? "std" : "mean", HANT_EFORMAT, "expected mean and std of the same 1 to 4 numbers");
  for (size_t i = 0; i < k; i++) {
    double a, b;
    if (!hant_json_number(hant_json_at(m, i), &a) || !hant_json_number(hant_json_at(sd, i), &b) || !(a > -1e6 && a < 1e6) ||
        !(b > 0 && b < 1e6))
      return hant_json_fail_at(r, "std", HANT_EFORMAT, "expected finite means and positive stds (element %zu)", i);
    s->mean[i] = (float)a;
    s->std[i] = (float)b;
  }
  s->norm_k = (int)k;
  return 0;
}

int hant_build_settings_get(hant_store *st, hant_build_settings *s) {
  memset(s, 0, sizeof(*s));
  char *text = NULL, source[1100], seed[24];
  int rc = hant_store_meta_get(st, SETTINGS_KEY, &text);
  if (rc)
    return rc;
  snprintf(source, sizeof(source), "%s: meta " SETTINGS_KEY, hant_store_path(st));
  hant_json *doc = NULL;
  hant_json_reader r;
  hant_json_reader_init(&r, source);
  if (!(rc = hant_json_parse(text, strlen(text), source, &doc, NULL)) &&
      !(rc = hant_json_get_strbuf(&r, doc, "preset", HANT_JSON_REQUIRED | HANT_JSON_ALLOW_EMPTY, s->preset,
                                  sizeof(s->preset))) &&
      !(rc = hant_json_get_strbuf(&r, doc, "families", HANT_JSON_REQUIRED, s->families, sizeof(s->families))) &&
      !(rc = get_int(&r, doc, "per_family", 1000000, &s->per_family)) &&
      !(rc = get_int(&r, doc, "samples", 1 << 24, &s->samples)) &&
      !(rc = get_int(&r, doc, "val_samples", 1 << 24, &s->val_samples)) &&
      !(rc = get_int(&r, doc, "epochs", 1000000, &s->epochs)) && !(rc = get_int(&r, doc, "batch", 1000000, &s->batch)) &&
      !(rc = get_opt(&r, doc, "epochs_teacher", 1000000, 0, &s->epochs_teacher)) &&
      !(rc = get_opt(&r, doc, "recipe", 1000, 1, &s->recipe)) &&
      !(rc = hant_json_get_number(&r, doc, "plateau", 0, 0.0, 1.0, NULL, &s->plateau)) &&
      !(rc = hant_json_get_strbuf(&r, doc, "seed", HANT_JSON_REQUIRED, seed, sizeof(seed)))) {
    char *end;
    s->seed = strtoull(seed, &end, 10);
    if (*end || end == seed)
      rc = hant__error(HANT_EFORMAT, "%s: seed: expected a whole number as text, got \"%s\"", source, seed);
  }
  if (!rc)
    rc = hant_json_get_strbuf(&r, doc, "data", 0, s->data, sizeof(s->data));
  if (!rc)
    rc = hant_json_get_strbuf(&r, doc, "init", 0, s->init, sizeof(s->init));
  if (!rc && s->init[0] && strcmp(s->init, "random") && strcmp(s->init, "lsq"))
    rc = hant__error(HANT_EFORMAT, "%s: init: expected \"random\" or \"lsq\", got \"%s\"", source, s->init);
  if (!rc)
    rc = get_norm(&r, doc, s);
  hant_json_free(doc);
  free(text);
  return rc;
}

bool hant_build_settings_same_training(const hant_build_settings *a, const hant_build_settings *b) {
  if (a->norm_k != b->norm_k)
    return false;
  for (int i = 0; i < a->norm_k && i < 4; i++)
    if (a->mean[i] != b->mean[i] || a->std[i] != b->std[i])
      return false;
  int ta = a->epochs_teacher > 0 ? a->epochs_teacher : a->epochs, tb = b->epochs_teacher > 0 ? b->epochs_teacher : b->epochs;
  /* One round from random starts trains alike in every recipe (3 fits
   * group's start only with --init lsq, and its ir candidates differ in
   * the ReLU their own arch lines record), and no plateau is measured: so
   * the quick library an earlier version left resumes. */
  bool one = a->epochs == 1 && ta == 1 && b->epochs == 1 && tb == 1;
  const char *ia = a->init[0] ? a->init : "random", *ib = b->init[0] ? b->init : "random";
  if (strcmp(ia, ib))
    return false;
  bool same_recipe = a->recipe == b->recipe || (one && !strcmp(ia, "random"));
  return a->samples == b->samples && a->epochs == b->epochs && ta == tb && (one || a->plateau == b->plateau) &&
         a->batch == b->batch && a->seed == b->seed && same_recipe;
}
