/* SPDX-License-Identifier: MIT */
/* test_store_int8.c: int8 scores and the int8 teacher round-trip through a real library file, bump its version, and are refused when malformed. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hant.h"
#include "test_util.h"

static char dir[] = "/tmp/hant-test-store-int8.XXXXXX";

static int64_t version(hant_store *st) {
  int64_t v = -1;
  CHECK(hant_store_library_version(st, &v) == 0, "library version: %s", hant_errmsg());
  return v;
}

/* A teacher, one slot and two candidates: what the int8 rows point at. */
static void fill(hant_store *st, int64_t cand[2]) {
  hant_teacher_rec t = {0};
  snprintf(t.sha256, sizeof(t.sha256), "%064d", 7);
  snprintf(t.path, sizeof(t.path), "teacher.hant");
  snprintf(t.format, sizeof(t.format), "hant");
  t.input_c = 1, t.input_h = 28, t.input_w = 28, t.classes = 10, t.val_accuracy = 0.9, t.val_images = 200;
  CHECK(hant_store_teacher_put(st, &t) == 0, "teacher: %s", hant_errmsg());
  hant_slot_rec s = {.teacher_id = t.id, .idx = 0};
  snprintf(s.name, sizeof(s.name), "s0");
  snprintf(s.kind, sizeof(s.kind), "conv");
  CHECK(hant_store_slot_put(st, &s) == 0, "slot: %s", hant_errmsg());
  for (int i = 0; i < 2; i++) {
    hant_cand_rec c = {.slot_id = s.id, .val_accuracy = 0.88, .score = -0.02};
    snprintf(c.key, sizeof(c.key), "k%d", i);
    snprintf(c.family, sizeof(c.family), "kernel");
    const uint8_t w[4] = {1, 2, 3, 4};
    CHECK(hant_store_candidate_put(st, &c, w, sizeof(w)) == 0, "candidate: %s", hant_errmsg());
    cand[i] = c.id;
  }
}

int main(void) {
  if (!mkdtemp(dir))
    return 1;
  char path[256];
  snprintf(path, sizeof(path), "%s/lib.db", dir);
  hant_store *st = NULL;
  CHECK(hant_store_open(path, HANT_STORE_CREATE, &st) == 0, "open: %s", hant_errmsg());
  if (!st)
    return test_summary("store_int8");
  CHECK(hant_store_schema_version(st) >= 7, "schema version %d, want migration 007", hant_store_schema_version(st));
  int64_t cand[2];
  fill(st, cand);

  hant_int8_teacher_rec t;
  CHECK(hant_store_int8_teacher_get(st, &t) == HANT_ENOENT, "a new library has no int8 teacher");
  hant_cand_int8_rec *rows = NULL;
  int n = -1;
  CHECK(hant_store_int8_scores(st, &rows, &n) == 0 && n == 0 && !rows, "a new library has no int8 scores (%d)", n);

  int64_t v0 = version(st);
  hant_int8_teacher_rec tw = {.percentile = 99.99, .calib_images = 1000, .val_accuracy = 0.8734,
                              .fp32_val_accuracy = 0.875, .val_images = 200};
  snprintf(tw.calib, sizeof(tw.calib), "percentile");
  CHECK(hant_store_int8_teacher_put(st, &tw) == 0, "int8 teacher put: %s", hant_errmsg());
  CHECK(version(st) > v0, "storing the int8 teacher bumps the library version");
  CHECK(hant_store_int8_teacher_get(st, &t) == 0, "int8 teacher get: %s", hant_errmsg());
  CHECK(!strcmp(t.calib, "percentile") && t.percentile == 99.99 && t.calib_images == 1000 &&
            t.val_accuracy == 0.8734 && t.fp32_val_accuracy == 0.875 && t.val_images == 200 && t.created[0],
        "int8 teacher round trip: %s %g %d %g %g %d", t.calib, t.percentile, t.calib_images, t.val_accuracy,
        t.fp32_val_accuracy, t.val_images);

  int64_t v1 = version(st);
  /* 0.1 + 0.2 is not 0.3 in binary: the exact double must come back */
  hant_cand_int8_rec r = {.candidate_id = cand[1], .val_accuracy = 0.1 + 0.2, .score = (0.1 + 0.2) - 0.8734,
                          .val_images = 200};
  snprintf(r.calib, sizeof(r.calib), "percentile");
  CHECK(hant_store_int8_put(st, &r) == 0, "int8 put: %s", hant_errmsg());
  CHECK(version(st) > v1, "an int8 score bumps the library version, so daemons reload");
  r.candidate_id = cand[0], r.val_accuracy = 0.87, r.score = 0.87 - 0.8734;
  CHECK(hant_store_int8_put(st, &r) == 0, "int8 put: %s", hant_errmsg());
  CHECK(hant_store_int8_scores(st, &rows, &n) == 0 && n == 2, "two int8 rows, got %d", n);
  if (n == 2) {
    CHECK(rows[0].candidate_id == cand[0] && rows[1].candidate_id == cand[1], "ordered by candidate id");
    CHECK(rows[1].val_accuracy == 0.1 + 0.2 && rows[1].score == (0.1 + 0.2) - 0.8734,
          "exact doubles back: %.17g %.17g", rows[1].val_accuracy, rows[1].score);
    CHECK(!strcmp(rows[0].calib, "percentile") && rows[0].val_images == 200 && rows[0].created[0],
          "method, images and time stored");
  }
  free(rows);

  /* a rerun that replaces a row keeps one row per candidate */
  r.val_accuracy = 0.5;
  CHECK(hant_store_int8_put(st, &r) == 0, "replace: %s", hant_errmsg());
  CHECK(hant_store_int8_scores(st, &rows, &n) == 0 && n == 2 && rows[0].val_accuracy == 0.5,
        "the replaced row is the only one (%d rows)", n);
  free(rows);

  hant_cand_int8_rec bad = r;
  bad.val_accuracy = 1.5;
  CHECK(hant_store_int8_put(st, &bad) == HANT_EINVAL && strstr(hant_errmsg(), "[0, 1]"),
        "an accuracy above 1 is refused naming the range: %s", hant_errmsg());
  bad = r;
  bad.calib[0] = 0;
  CHECK(hant_store_int8_put(st, &bad) == HANT_EINVAL, "a row without its method is refused");
  bad = r;
  bad.candidate_id = 999999;
  CHECK(hant_store_int8_put(st, &bad) == HANT_EDB && strstr(hant_errmsg(), path),
        "a row for no candidate is refused naming the library: %s", hant_errmsg());
  hant_int8_teacher_rec tb = tw;
  tb.val_images = 0;
  CHECK(hant_store_int8_teacher_put(st, &tb) == HANT_EINVAL, "an int8 teacher on no images is refused");
  CHECK(hant_store_int8_teacher_get(st, &t) == 0 && t.val_images == 200, "the refused write left the teacher");
  hant_store_close(st);

  /* the rows survive closing, and a read-only open sees them */
  CHECK(hant_store_open(path, HANT_STORE_READONLY, &st) == 0, "reopen: %s", hant_errmsg());
  if (st) {
    CHECK(hant_store_int8_scores(st, &rows, &n) == 0 && n == 2, "rows after reopening: %d", n);
    free(rows);
    hant_store_close(st);
  }
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return test_summary("store_int8");
}
