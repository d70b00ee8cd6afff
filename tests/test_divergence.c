/* SPDX-License-Identifier: MIT */
/* test_divergence.c: candidates' divergences round-trip through a real library, are refused when malformed, and make the solver rank the cuts whose scores are all noise, where the scores pick a cut that hurts more. */
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
  char *profile = read_profile("host");
  int64_t dev = 0;
  CHECK(profile && hant_store_device_put(st, "host", profile, &dev) == 0, "device: %s", hant_errmsg());
  free(profile);
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
      CHECK(hant_store_cost_put(st, dev, &k) == 0, "cost: %s", hant_errmsg());
    }
  CHECK(hant_store_touch(st) == 0 && hant_store_commit(st) == 0, "commit: %s", hant_errmsg());
}

/* Solves at 15 mJ: the keys chosen ("key0,key1"), what the solver
 * maximised and the predicted accuracy. */
static void solve(hant_store *st, char keys[256], size_t n, char *values, size_t nv, double *predicted) {
  hant_library *lib = NULL;
  keys[0] = values[0] = 0;
  CHECK(hant_library_load(st, NULL, &lib) == 0, "load: %s", hant_errmsg());
  if (!lib)
    return;
  hant_transform_req req;
  hant_transform_req_init(&req);
  snprintf(req.device, sizeof(req.device), "host");
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

int main(void) {
  if (!mkdtemp(dir))
    return 1;
  kl_of_logits();
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
    hant_store_close(st);
  }
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return test_summary("divergence");
}
