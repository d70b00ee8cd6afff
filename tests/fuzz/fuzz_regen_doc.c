/* SPDX-License-Identifier: MIT */
/* fuzz_regen_doc.c: fuzz target for hant-client regen's reading back of an entry's NAME.json: refusals hand nothing out, accepted files give the report well-formed figures and read back the same once written again. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"
#include "regen_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The hash of the inputs the entry is checked against. */
#define INPUTS "5f0d1cbb6ad1d2bc4b3d1c7a8e6e0e2e9b17d3e4a0c6f6a8d9e1b2c3d4e5f607"

static long accepted; /* files read back as complete entries */

static void fail(const char *what, const char *text, size_t n) {
  fprintf(stderr, "fuzz_regen_doc: %s\n--- input ---\n%.*s\n---\n%s\n", what, (int)(n < 4000 ? n : 4000), text,
          hant_errmsg());
  abort();
}

/* Figures as close as 12 significant digits keep them. */
static bool close_enough(double a, double b) {
  if (isnan(a) || isnan(b))
    return isnan(a) && isnan(b);
  return fabs(a - b) <= 1e-11 * fmax(fabs(a), fabs(b));
}

static bool same_figures(const hant_report_entry *a, const hant_report_entry *b) {
  if (!a->power_mode != !b->power_mode || (a->power_mode && strcmp(a->power_mode, b->power_mode)))
    return false;
  return close_enough(a->predicted_accuracy, b->predicted_accuracy) &&
         close_enough(a->test_accuracy, b->test_accuracy) && close_enough(a->latency_ms, b->latency_ms) &&
         close_enough(a->energy_mj, b->energy_mj) && close_enough(a->power_w, b->power_w) &&
         close_enough(a->co2e_g_per_million, b->co2e_g_per_million);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  json_t *doc = (json_t *)(uintptr_t)1;
  char sha[65];
  hant_errmsg_clear();
  int rc = client_regen_doc_parse(text, size, "fuzz.json", INPUTS, &doc, sha);
  if (rc) {
    /* Refused: nothing handed out, and a message naming the file. */
    if (doc || rc > 0 || (rc != HANT_ENOMEM && strncmp(hant_errmsg(), "fuzz.json", 9)))
      fail("a refusal hands something out or names no file", text, size);
    return 0;
  }
  accepted++;
  if (!json_is_object(doc) || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64 ||
      strcmp(json_string_value(json_object_get(doc, "inputs_sha256")), INPUTS))
    fail("an accepted file is not an entry of these inputs with an ONNX hash", text, size);
  hant_report_entry fig, again;
  memset(&fig, 0, sizeof(fig));
  client_regen_doc_figures(doc, &fig);
  json_t *pm = json_object_get(json_object_get(doc, "predicted"), "power_mode");
  if (fig.power_mode != json_string_value(pm))
    fail("the power mode is not the file's string", text, size);
  /* Written again as regen writes it, the file reads back as the same
   * complete entry with the same figures. */
  size_t n;
  char *back = client_regen_doc_text(doc, &n);
  if (!back) {
    json_decref(doc);
    return 0;
  }
  json_t *doc2 = NULL;
  char sha2[65];
  if (client_regen_doc_parse(back, n, "back.json", INPUTS, &doc2, sha2) || strcmp(sha, sha2))
    fail("an accepted file, written again, does not read back", back, n);
  memset(&again, 0, sizeof(again));
  client_regen_doc_figures(doc2, &again);
  if (!same_figures(&fig, &again))
    fail("an accepted file, written again, reads back with other figures", back, n);
  /* A failed entry has no file: every figure unknown. */
  client_regen_doc_figures(NULL, &again);
  if (again.power_mode || !isnan(again.predicted_accuracy) || !isnan(again.test_accuracy) ||
      !isnan(again.latency_ms) || !isnan(again.energy_mj) || !isnan(again.power_w) ||
      !isnan(again.co2e_g_per_million))
    fail("a missing file gives figures", text, size);
  free(back);
  json_decref(doc2);
  json_decref(doc);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_regen_doc"
#include "fuzz_driver.h"
#include "json_mutate.h"

static const char *const seeds[] = {
    /* as run_entry writes it */
    "{\n  \"device\": \"jetson-nano\",\n  \"name\": \"jetson-nano-2W\",\n  \"entry\": {\"budgets\": [\"2W\"]},\n"
    "  \"status\": \"optimal\",\n  \"choice\": [{\"slot\": \"s0\", \"candidate\": 4, \"key\": \"lowrank-r4\", "
    "\"family\": \"lowrank\", \"hparams\": {\"rank\": 4}, \"score\": 0.01}],\n  \"predicted\": {\"accuracy\": "
    "0.9012345678, \"teacher_accuracy\": 0.93, \"power_mode\": \"5W\", \"latency_ms\": 12.5, \"energy_mj\": 30.25, "
    "\"power_w\": 1.9, \"sustained_power_w\": null, \"memory_bytes\": 1200000, \"macs\": 5000000, "
    "\"co2e_g_per_million\": 2.7, \"grid_g_per_kwh\": 300},\n  \"measured\": {\"val_accuracy\": 0.9, "
    "\"test_accuracy\": 0.8995},\n  \"finetune_epochs\": 1,\n  \"onnx\": {\"file\": \"jetson-nano-2W.onnx\", "
    "\"bytes\": 4096, \"macs\": 5000000, \"params\": 40000, \"sha256\": "
    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"},\n  \"library_version\": 3,\n"
    "  \"inputs\": {},\n  \"inputs_sha256\": \"" INPUTS "\",\n  \"job\": 12\n}\n",
    /* not evaluated, no power modes */
    "{\"predicted\": {\"accuracy\": 0.5, \"power_mode\": null}, \"measured\": null, \"onnx\": {\"sha256\": "
    "\"0000000000000000000000000000000000000000000000000000000000000000\"}, \"inputs_sha256\": \"" INPUTS "\"}",
};

static const char *const dict[] = {
    "\"predicted\"", "\"measured\"", "\"onnx\"", "\"sha256\"", "\"inputs_sha256\"", "\"power_mode\"", "\"accuracy\"",
    "\"test_accuracy\"", "\"latency_ms\"", "\"energy_mj\"", "\"power_w\"", "\"co2e_g_per_million\"", "\"" INPUTS "\"",
    "1.7976931348623157e308", "4.9e-324", "-0.0", "1e-310", "123456789012345678", "null", "[]", "{}", "\"\\u0000\"",
    "\"<script>\"",
};

static size_t mutate(uint8_t *buf, size_t len, size_t cap) {
  return json_mutate(buf, len, cap, dict, sizeof(dict) / sizeof(dict[0]));
}

static const fuzz_target target = {.seeds = seeds,
                                    .n_seeds = sizeof(seeds) / sizeof(seeds[0]),
                                    .dict = dict,
                                    .mutate = mutate,
                                    .accepted = &accepted,
                                    .seeds_must_pass = true};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
