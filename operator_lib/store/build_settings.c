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
  char text[512];
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
  /* The seed as text: JSON numbers past 2^53 do not survive every reader. */
  char seed[24];
  snprintf(seed, sizeof(seed), "%llu", (unsigned long long)s->seed);
  hant_jsonw_key(&w, "seed"), hant_jsonw_str(&w, seed);
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
      !(rc = get_int(&r, doc, "samples", 55000, &s->samples)) &&
      !(rc = get_int(&r, doc, "val_samples", 5000, &s->val_samples)) &&
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
  hant_json_free(doc);
  free(text);
  return rc;
}

bool hant_build_settings_same_training(const hant_build_settings *a, const hant_build_settings *b) {
  int ta = a->epochs_teacher > 0 ? a->epochs_teacher : a->epochs, tb = b->epochs_teacher > 0 ? b->epochs_teacher : b->epochs;
  return a->samples == b->samples && a->epochs == b->epochs && ta == tb && a->plateau == b->plateau &&
         a->batch == b->batch && a->seed == b->seed && a->recipe == b->recipe;
}
