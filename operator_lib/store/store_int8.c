/* SPDX-License-Identifier: MIT */
/* store_int8.c: reads and writes the int8 scores of migration 007 and the int8 teacher kept in the library's meta. */
#include "store_int8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "store_internal.h"

static int db_error(hant_store *st, const char *what) {
  return hant__error(HANT_EDB, "%s: %s: %s", hant_store_path(st), what, sqlite3_errmsg(hant__store_db(st)));
}

static void col_text(sqlite3_stmt *s, int i, char *dst, size_t n) {
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* The meta keys, one value each: meta is text, and %.17g gives the double
 * back exactly. */
static int put_num(hant_store *st, const char *key, double v) {
  char buf[40];
  snprintf(buf, sizeof(buf), "%.17g", v);
  return hant_store_meta_put(st, key, buf);
}

int hant_store_int8_teacher_put(hant_store *st, const hant_int8_teacher_rec *t) {
  if (!t->calib[0] || !(t->val_accuracy >= 0 && t->val_accuracy <= 1) || t->val_images < 1 || t->calib_images < 1)
    return hant__error(HANT_EINVAL,
                       "%s: int8 teacher: expected a calibration method, an accuracy in [0, 1] and image counts "
                       ">= 1 (got '%s', %g, %d, %d)",
                       hant_store_path(st), t->calib, t->val_accuracy, t->val_images, t->calib_images);
  char now[32];
  hant_store_now(now);
  int rc = hant_store_begin(st);
  if (rc)
    return rc;
  if ((rc = hant_store_meta_put(st, "int8.calib", t->calib)) || (rc = put_num(st, "int8.percentile", t->percentile)) ||
      (rc = put_num(st, "int8.calib_images", t->calib_images)) ||
      (rc = put_num(st, "int8.teacher_val_accuracy", t->val_accuracy)) ||
      (rc = put_num(st, "int8.teacher_fp32_val_accuracy", t->fp32_val_accuracy)) ||
      (rc = put_num(st, "int8.val_images", t->val_images)) ||
      (rc = hant_store_meta_put(st, "int8.created", t->created[0] ? t->created : now)) ||
      (rc = hant_store_touch(st)) || (rc = hant_store_commit(st))) {
    hant_store_rollback(st);
    return rc;
  }
  return 0;
}

/* Reads a numeric meta key; a value that is not a whole number is an
 * altered library, named as such. */
static int get_num(hant_store *st, const char *key, double *v) {
  char *s = NULL;
  int rc = hant_store_meta_get(st, key, &s);
  if (rc)
    return rc;
  char *end;
  *v = strtod(s, &end);
  if (end == s || *end || !isfinite(*v))
    rc = hant__error(HANT_EFORMAT, "%s: meta %s: expected a number, got '%s'", hant_store_path(st), key, s);
  free(s);
  return rc;
}

int hant_store_int8_teacher_get(hant_store *st, hant_int8_teacher_rec *t) {
  memset(t, 0, sizeof(*t));
  char *s = NULL;
  int rc = hant_store_meta_get(st, "int8.calib", &s);
  if (rc == HANT_ENOENT) {
    hant_errmsg_clear();
    return HANT_ENOENT;
  }
  if (rc)
    return rc;
  snprintf(t->calib, sizeof(t->calib), "%s", s);
  free(s);
  double ci = 0, vi = 0;
  if ((rc = get_num(st, "int8.percentile", &t->percentile)) || (rc = get_num(st, "int8.calib_images", &ci)) ||
      (rc = get_num(st, "int8.teacher_val_accuracy", &t->val_accuracy)) ||
      (rc = get_num(st, "int8.teacher_fp32_val_accuracy", &t->fp32_val_accuracy)) ||
      (rc = get_num(st, "int8.val_images", &vi))) {
    if (rc == HANT_ENOENT)
      rc = hant__error(HANT_EFORMAT, "%s: meta int8.calib is set but another int8.* key is missing",
                       hant_store_path(st));
    return rc;
  }
  t->calib_images = (int)ci;
  t->val_images = (int)vi;
  if ((rc = hant_store_meta_get(st, "int8.created", &s)) == 0) {
    snprintf(t->created, sizeof(t->created), "%s", s);
    free(s);
  } else {
    hant_errmsg_clear();
  }
  return 0;
}

int hant_store_int8_put(hant_store *st, const hant_cand_int8_rec *r) {
  if (!r->calib[0] || !(r->val_accuracy >= 0 && r->val_accuracy <= 1) || !isfinite(r->score))
    return hant__error(HANT_EINVAL,
                       "%s: int8 score of candidate %lld: expected a calibration method, an accuracy in [0, 1] and "
                       "a finite score (got '%s', %g, %g)",
                       hant_store_path(st), (long long)r->candidate_id, r->calib, r->val_accuracy, r->score);
  char now[32];
  hant_store_now(now);
  sqlite3_stmt *s = NULL;
  int rc = hant_store_begin(st);
  if (rc)
    return rc;
  if (sqlite3_prepare_v2(hant__store_db(st),
                         "INSERT OR REPLACE INTO candidate_int8 (candidate_id, val_accuracy, score, calib, "
                         "val_images, created) VALUES (?,?,?,?,?,?)",
                         -1, &s, NULL) != SQLITE_OK) {
    rc = db_error(st, "prepare");
    goto fail;
  }
  sqlite3_bind_int64(s, 1, r->candidate_id);
  sqlite3_bind_double(s, 2, r->val_accuracy);
  sqlite3_bind_double(s, 3, r->score);
  sqlite3_bind_text(s, 4, r->calib, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(s, 5, r->val_images);
  sqlite3_bind_text(s, 6, r->created[0] ? r->created : now, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_error(st, "store int8 score");
  sqlite3_finalize(s);
  if (rc || (rc = hant_store_touch(st)) || (rc = hant_store_commit(st)))
    goto fail;
  return 0;
fail:
  hant_store_rollback(st);
  return rc;
}

static int read_row(sqlite3_stmt *s, void *rec) {
  hant_cand_int8_rec *r = rec;
  r->candidate_id = sqlite3_column_int64(s, 0);
  r->val_accuracy = sqlite3_column_double(s, 1);
  r->score = sqlite3_column_double(s, 2);
  col_text(s, 3, r->calib, sizeof(r->calib));
  r->val_images = sqlite3_column_int(s, 4);
  col_text(s, 5, r->created, sizeof(r->created));
  return 0;
}

int hant_store_int8_scores(hant_store *st, hant_cand_int8_rec **out, int *n) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(hant__store_db(st),
                         "SELECT candidate_id, val_accuracy, score, calib, val_images, created FROM candidate_int8 "
                         "ORDER BY candidate_id",
                         -1, &s, NULL) != SQLITE_OK)
    return db_error(st, "prepare");
  void *rows;
  int rc = hant__store_list(st, s, sizeof(**out), 64, read_row, NULL, "list int8 scores", &rows, n);
  *out = rows;
  return rc;
}
