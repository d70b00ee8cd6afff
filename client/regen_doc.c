/* SPDX-License-Identifier: MIT */
/* regen_doc.c: writes and reads back the NAME.json that marks a complete regen entry, and takes the report's figures from it. */
#include "regen_doc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

char *client_regen_doc_text(const json_t *doc, size_t *len) {
  /* 12 digits, as hantd sends them: with 10, a figure near the largest
   * double rounds up past it and the file no longer reads back. */
  char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
  if (!text)
    return NULL;
  size_t n = strlen(text);
  char *more = realloc(text, n + 2);
  if (!more) {
    free(text);
    return NULL;
  }
  more[n++] = '\n';
  more[n] = '\0';
  *len = n;
  return more;
}

static bool is_sha256_hex(const char *s) {
  size_t n = 0;
  for (; s[n]; n++)
    if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
      return false;
  return n == 64;
}

int client_regen_doc_parse(const char *text, size_t len, const char *path, const char *inputs_sha, json_t **doc,
                           char onnx_sha[65]) {
  *doc = NULL;
  onnx_sha[0] = '\0';
  json_error_t je;
  json_t *d = json_loadb(text, len, 0, &je);
  if (!d)
    return hant__error(HANT_EFORMAT, "%s:%d: not JSON: %s", path, je.line, je.text);
  int rc = 0;
  const char *inputs = json_string_value(json_object_get(d, "inputs_sha256"));
  const char *sha = json_string_value(json_object_get(json_object_get(d, "onnx"), "sha256"));
  if (!json_is_object(d))
    rc = hant__error(HANT_EFORMAT, "%s: expected an object", path);
  else if (!sha || !is_sha256_hex(sha))
    rc = hant__error(HANT_EFORMAT, "%s: onnx.sha256: expected 64 lowercase hex digits", path);
  else if (!inputs || strcmp(inputs, inputs_sha))
    rc = hant__error(HANT_EINVAL, "%s: made from other inputs (inputs_sha256 differs)", path);
  if (rc) {
    json_decref(d);
    return rc;
  }
  memcpy(onnx_sha, sha, 65);
  *doc = d;
  return 0;
}

static double number(const json_t *obj, const char *key) {
  const json_t *v = json_object_get(obj, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

void client_regen_doc_figures(const json_t *doc, hant_report_entry *re) {
  const json_t *pred = json_object_get(doc, "predicted"), *meas = json_object_get(doc, "measured");
  re->power_mode = json_string_value(json_object_get(pred, "power_mode"));
  re->predicted_accuracy = number(pred, "accuracy");
  re->test_accuracy = json_is_object(meas) ? number(meas, "test_accuracy") : NAN;
  re->latency_ms = number(pred, "latency_ms");
  re->energy_mj = number(pred, "energy_mj");
  re->power_w = number(pred, "power_w");
  re->co2e_g_per_million = number(pred, "co2e_g_per_million");
  re->grid_g_per_kwh = number(pred, "grid_g_per_kwh");
}
