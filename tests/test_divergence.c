/* SPDX-License-Identifier: MIT */
/* test_divergence.c: candidates' divergences round-trip through a real library, are refused when malformed, and make the solver rank the cuts whose scores are all noise, where the scores pick a cut that hurts more; on an int8 device what quantising costs each candidate counts too. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hant.h"
#include "hant_config.h"
#include "test_util.h"

static char dir[] = "/tmp/hant-test-divergence.XXXXXX";

static char *read_profile(const char *name) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s.json", HANT_DEVICES_SOURCE_DIR, name);
  char *s = NULL;
  size_t n = 0;
  return hant_file_read(path, 1 << 20, &s, &n) == 0 ? s : NULL;
}

/*
 * Two slots, each with the teacher's block (energy 10, divergence 0) and
 * cuts of energy 5 or 1; a budget of 15 mJ needs one cut. Per slot:
 *
 *   key        energy  score     divergence  what it is
 *   teacher    10       0        0
 *   loud        5      +0.002    0.030       a real loss that the 1,000-image score shows as a noise gain
 *   quiet       5      -0.004    0.001       nearly the teacher, unlucky in its score
 *   deep        1      -0.120    0.400       a deep cut (fixes the slope: 0.12 / 0.4 = 0.3 per nat)
 *
 * With the noise-aware scores, loud counts 0 and quiet -0.004, so at 15 mJ
 * the solver cuts both slots with loud (free, and the least energy); with
 * divergences it cuts one slot, with quiet.
 */
struct cand {
  const char *key, *family;
  double energy, score, kl;
};
static const struct cand cands[] = {
    {"teacher", "teacher", 10, 0, 0},
    {"loud", "width", 5, 0.002, 0.030},
    {"quiet", "prune", 5, -0.004, 0.001},
    {"deep", "lowrank", 1, -0.120, 0.400},
};
enum { N_SLOTS = 2, N_CANDS = sizeof(cands) / sizeof(cands[0]) };

static void fill(hant_store *st, bool with_kl, int64_t ids[N_SLOTS][N_CANDS]) {
  hant_teacher_rec t = {0};
  snprintf(t.sha256, sizeof(t.sha256), "%064d", 9);
  snprintf(t.path, sizeof(t.path), "teacher.hant");
  snprintf(t.format, sizeof(t.format), "hant");
  t.input_c = 1, t.input_h = 28, t.input_w = 28, t.classes = 10, t.val_accuracy = 0.9, t.val_images = 1000;
  CHECK(hant_store_teacher_put(st, &t) == 0, "teacher: %s", hant_errmsg());
  /* host computes in fp32, cortex-m7 in int8; both cost every candidate alike */
  int64_t devs[2] = {0, 0};
  const char *dev_names[2] = {"host", "cortex-m7"};
  for (int d = 0; d < 2; d++) {
    char *profile = read_profile(dev_names[d]);
    CHECK(profile && hant_store_device_put(st, dev_names[d], profile, &devs[d]) == 0, "device %s: %s", dev_names[d],
          hant_errmsg());
    free(profile);
  }
  for (int s = 0; s < N_SLOTS; s++) {
    hant_slot_rec sl = {.teacher_id = t.id, .idx = s};
    snprintf(sl.name, sizeof(sl.name), "s%d", s);
    snprintf(sl.kind, sizeof(sl.kind), "conv");
    CHECK(hant_store_slot_put(st, &sl) == 0, "slot: %s", hant_errmsg());
    for (int c = 0; c < N_CANDS; c++) {
      hant_cand_rec r = {.slot_id = sl.id, .score = cands[c].score, .val_accuracy = 0.9 + cands[c].score,
                         .macs = cands[c].energy * 1e5};
      snprintf(r.key, sizeof(r.key), "%s", cands[c].key);
      snprintf(r.family, sizeof(r.family), "%s", cands[c].family);
      if (with_kl)
        r.val_kl = cands[c].kl, r.kl_images = 1000;
      const uint8_t w[4] = {1, 2, 3, 4};
      CHECK(hant_store_candidate_put(st, &r, w, sizeof(w)) == 0, "candidate: %s", hant_errmsg());
      ids[s][c] = r.id;
    }
  }
  CHECK(hant_store_begin(st) == 0, "begin: %s", hant_errmsg());
  for (int s = 0; s < N_SLOTS; s++)
    for (int c = 0; c < N_CANDS; c++) {
      hant_cost_rec k = {.candidate_id = ids[s][c], .batch = 1, .latency_spread = -1, .memory_bytes = 1000,
                         .latency_ms = cands[c].energy, .energy_mj = cands[c].energy};
      snprintf(k.source, sizeof(k.source), "modelled");
      snprintf(k.energy_source, sizeof(k.energy_source), "modelled: test");
      snprintf(k.detail, sizeof(k.detail), "{}");
      for (int d = 0; d < 2; d++)
        CHECK(hant_store_cost_put(st, devs[d], &k) == 0, "cost: %s", hant_errmsg());
    }
  CHECK(hant_store_touch(st) == 0 && hant_store_commit(st) == 0, "commit: %s", hant_errmsg());
}

/* Solves at 15 mJ on device: the keys chosen ("key0,key1"), what the
 * solver maximised and the predicted accuracy. */
static void solve_on(hant_store *st, const char *device, char keys[256], size_t n, char *values, size_t nv,
                     double *predicted) {
  hant_library *lib = NULL;
  keys[0] = values[0] = 0;
  CHECK(hant_library_load(st, NULL, &lib) == 0, "load: %s", hant_errmsg());
  if (!lib)
    return;
  hant_transform_req req;
  hant_transform_req_init(&req);
  snprintf(req.device, sizeof(req.device), "%s", device);
  hant_budget b = {.kind = HANT_BUDGET_ENERGY, .value = 15};
  hant_transform_req_add_budget(&req, &b);
  hant_transform_result res;
  hant_transform_result_init(&res);
  CHECK(hant_transform_solve(lib, &req, &res) == 0 && res.has_choice, "solve: %s", hant_errmsg());
  if (res.has_choice)
    snprintf(keys, n, "%s,%s", lib->cands[res.choice[0]].key, lib->cands[res.choice[1]].key);
  snprintf(values, nv, "%s", res.objective_values);
  *predicted = res.predicted_accuracy;
  hant_transform_result_free(&res);
  hant_library_unref(lib);
}

static void solve(hant_store *st, char keys[256], size_t n, char *values, size_t nv, double *predicted) {
  solve_on(st, "host", keys, n, values, nv, predicted);
}

/*
 * int8 scores for the same candidates (the int8 teacher at 0.9 too): loud
 * quantises as its fp32 self does, quiet loses 2.6 points more in int8
 * than in fp32 (score -0.004 -> -0.030). On cortex-m7 (int8) the cut must
 * go to loud (its divergence costs 0.3 x 0.03 = 0.009, quiet now 0.0263);
 * the int8 scores alone would take loud in both slots (+0.002, a noise
 * gain).
 */
static const double int8_score[N_CANDS] = {0, 0.002, -0.030, -0.120};

static void int8_costs(hant_store *st, int64_t ids[N_SLOTS][N_CANDS]) {
  hant_int8_teacher_rec t = {.calib_images = 100, .val_accuracy = 0.9, .fp32_val_accuracy = 0.9, .val_images = 1000};
  snprintf(t.calib, sizeof(t.calib), "minmax");
  CHECK(hant_store_int8_teacher_put(st, &t) == 0, "int8 teacher: %s", hant_errmsg());
  for (int s = 0; s < N_SLOTS; s++)
    for (int c = 0; c < N_CANDS; c++) {
      hant_cand_int8_rec r = {.candidate_id = ids[s][c], .val_accuracy = 0.9 + int8_score[c],
                              .score = int8_score[c], .val_images = 1000};
      snprintf(r.calib, sizeof(r.calib), "minmax");
      CHECK(hant_store_int8_put(st, &r) == 0, "int8 score: %s", hant_errmsg());
    }
  char keys[256], values[16];
  double pred;
  solve_on(st, "cortex-m7", keys, sizeof(keys), values, sizeof(values), &pred);
  CHECK(!strcmp(values, "divergence") && (!strcmp(keys, "loud,teacher") || !strcmp(keys, "teacher,loud")),
        "on an int8 device the divergences plus the int8 costs cut one slot with loud: %s by %s", keys, values);
  double num = 0, den = 0;
  for (int c = 1; c < N_CANDS; c++)
    num += 2 * cands[c].kl * -cands[c].score, den += 2 * cands[c].kl * cands[c].kl;
  CHECK(fabs(pred - (0.9 - num / den * cands[1].kl)) < 1e-12, "int8 prediction %.6f = int8 teacher - slope x kl (%.6f)",
        pred, 0.9 - num / den * cands[1].kl);
  solve_on(st, "host", keys, sizeof(keys), values, sizeof(values), &pred);
  CHECK(!strcmp(keys, "quiet,teacher") || !strcmp(keys, "teacher,quiet"),
        "on an fp32 device the int8 costs do not count: %s", keys);
}

static void kl_of_logits(void) {
  float a[3] = {1, 2, 3}, b[3] = {1, 2, 3}, c[2] = {0, 0}, d[2] = {0, (float)log(3.0)};
  CHECK(hant_kl_logits(a, b, 3) == 0, "equal rows diverge by 0, got %g", hant_kl_logits(a, b, 3));
  /* p = (1/2, 1/2), q = (1/4, 3/4): KL = 1/2 log 2 + 1/2 log(2/3) */
  double want = 0.5 * log(2.0) + 0.5 * log(2.0 / 3.0);
  CHECK(fabs(hant_kl_logits(c, d, 2) - want) < 1e-7, "KL((1/2,1/2) || (1/4,3/4)) = %.9f, want %.9f",
        hant_kl_logits(c, d, 2), want);
  float big[2] = {1000, 0}, same[2] = {1001, 1};
  CHECK(hant_kl_logits(big, same, 2) < 1e-12, "shifted logits are the same distribution, even large ones");
}

/* What a library's meta holds for the calibration's slot weights and
 * chance floor is read exactly, and anything else is not used. */
static void calibration_meta_parsed(void) {
  double w[4];
  CHECK(hant_library_slot_weights_parse("0.25,1.5,0", w, 4) == 3 && w[0] == 0.25 && w[1] == 1.5 && w[2] == 0,
        "three weights read");
  const char *bad[] = {"none", "", "1,2,", ",1", "1,,2", "1;2", "1,-2", "1,nan", "1,inf", "1 2", "1,2,3,4,5"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK(hant_library_slot_weights_parse(bad[i], w, 4) == (bad[i][0] ? -1 : 0), "slot weights \"%s\" are %s",
          bad[i], bad[i][0] ? "refused" : "none");
  CHECK(hant_library_floor_scale_parse("0.1") == 0.1 && hant_library_floor_scale_parse("0") == 0 &&
        hant_library_floor_scale_parse("1") == 1, "floor scales in [0, 1] read");
  const char *bad_floor[] = {NULL, "", "-0.1", "1.5", "0.1x", "nan", "inf", "x"};
  for (size_t i = 0; i < sizeof(bad_floor) / sizeof(bad_floor[0]); i++)
    CHECK(hant_library_floor_scale_parse(bad_floor[i]) == 0, "floor scale \"%s\" is the hard floor",
          bad_floor[i] ? bad_floor[i] : "(null)");
}

int main(void) {
  if (!mkdtemp(dir))
    return 1;
  kl_of_logits();
  calibration_meta_parsed();
  char with[256], without[256];
  snprintf(with, sizeof(with), "%s/with.db", dir);
  snprintf(without, sizeof(without), "%s/without.db", dir);
  int64_t ids[N_SLOTS][N_CANDS];
  hant_store *st = NULL;

  /* A library built before divergences: the scores decide, and pick loud. */
  CHECK(hant_store_open(without, HANT_STORE_CREATE, &st) == 0, "open: %s", hant_errmsg());
  if (!st)
    return test_summary("divergence");
  CHECK(hant_store_schema_version(st) >= 8, "schema version %d, want migration 008", hant_store_schema_version(st));
  fill(st, false, ids);
  hant_cand_rec *rows = NULL;
  int n = 0;
  CHECK(hant_store_candidates(st, -1, &rows, &n) == 0 && n == N_SLOTS * N_CANDS, "candidates: %d", n);
  bool none = true;
  for (int i = 0; i < n; i++)
    none &= isnan(rows[i].val_kl) && rows[i].kl_images == 0;
  CHECK(none, "a candidate stored without a divergence reads back NaN over 0 images");
  free(rows);
  char keys[256], values[16];
  double pred;
  solve(st, keys, sizeof(keys), values, sizeof(values), &pred);
  /* both louds count 0 and cost least: the scores cut both slots */
  CHECK(!strcmp(values, "scores") && !strcmp(keys, "loud,loud"),
        "without divergences the noise-aware scores take the noise gains: %s by %s", keys, values);

  /* Filled in afterwards (as calibrate does), one candidate at a time. */
  int64_t v0 = -1, v1 = -1;
  hant_store_library_version(st, &v0);
  for (int s = 0; s < N_SLOTS; s++)
    for (int c = 0; c < N_CANDS - 1; c++)
      CHECK(hant_store_divergence_put(st, ids[s][c], cands[c].kl, 1000) == 0, "put: %s", hant_errmsg());
  hant_store_library_version(st, &v1);
  CHECK(v1 > v0, "a divergence bumps the library version, so daemons reload");
  solve(st, keys, sizeof(keys), values, sizeof(values), &pred);
  CHECK(!strcmp(values, "scores"), "one candidate still without a divergence keeps the scores: %s", values);
  for (int s = 0; s < N_SLOTS; s++)
    CHECK(hant_store_divergence_put(st, ids[s][N_CANDS - 1], cands[N_CANDS - 1].kl, 1000) == 0, "put: %s",
          hant_errmsg());
  solve(st, keys, sizeof(keys), values, sizeof(values), &pred);
  CHECK(!strcmp(values, "divergence") && (!strcmp(keys, "quiet,teacher") || !strcmp(keys, "teacher,quiet")),
        "with every divergence the solver takes the quiet cut: %s by %s", keys, values);
  /* the slope, fitted through the origin on every candidate with 0 < kl <= 0.5 */
  double num = 0, den = 0;
  for (int c = 1; c < N_CANDS; c++)
    num += 2 * cands[c].kl * -cands[c].score, den += 2 * cands[c].kl * cands[c].kl;
  CHECK(fabs(pred - (0.9 - num / den * 0.001)) < 1e-12, "predicted accuracy %.6f = teacher - slope x kl (%.6f)", pred,
        0.9 - num / den * 0.001);

  /* Malformed divergences are refused and change nothing. */
  CHECK(hant_store_divergence_put(st, ids[0][1], -0.1, 1000) == HANT_EINVAL && strstr(hant_errmsg(), "divergence"),
        "a negative divergence is refused: %s", hant_errmsg());
  CHECK(hant_store_divergence_put(st, ids[0][1], NAN, 1000) == HANT_EINVAL, "a NaN divergence is refused");
  CHECK(hant_store_divergence_put(st, ids[0][1], 0.1, 0) == HANT_EINVAL, "a divergence over no images is refused");
  CHECK(hant_store_divergence_put(st, 999999, 0.1, 10) == HANT_EDB && strstr(hant_errmsg(), without),
        "a divergence of no candidate is refused naming the library: %s", hant_errmsg());
  CHECK(hant_store_candidates(st, -1, &rows, &n) == 0 && n == N_SLOTS * N_CANDS, "candidates: %d", n);
  if (n == N_SLOTS * N_CANDS)
    CHECK(rows[1].val_kl == cands[1].kl && rows[1].kl_images == 1000, "the refused writes left %g over %d",
          rows[1].val_kl, rows[1].kl_images);
  free(rows);
  hant_store_close(st);

  /* Built with them (as build stores them), the same answer. */
  CHECK(hant_store_open(with, HANT_STORE_CREATE, &st) == 0, "open: %s", hant_errmsg());
  if (st) {
    fill(st, true, ids);
    solve(st, keys, sizeof(keys), values, sizeof(values), &pred);
    CHECK(!strcmp(values, "divergence") && (!strcmp(keys, "quiet,teacher") || !strcmp(keys, "teacher,quiet")),
          "a library built with divergences takes the quiet cut: %s by %s", keys, values);
    int8_costs(st, ids);
    hant_store_close(st);
  }
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return test_summary("divergence");
}
