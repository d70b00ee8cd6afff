/* SPDX-License-Identifier: MIT */
/* store_calib.c: reads and writes the calibration tables of migration 005 (samples, fit, coefficients). */
#include "store_calib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "store_internal.h"

static int db_error(hant_store *st, const char *what) {
  return hant__error(HANT_EDB, "%s: %s: %s", hant_store_path(st), what, sqlite3_errmsg(hant__store_db(st)));
}

static int prepare(hant_store *st, const char *sql, sqlite3_stmt **s) {
  if (sqlite3_prepare_v2(hant__store_db(st), sql, -1, s, NULL) != SQLITE_OK)
    return db_error(st, "prepare");
  return 0;
}

static int step_done(hant_store *st, sqlite3_stmt *s, const char *what) {
  int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_error(st, what);
  sqlite3_finalize(s);
  return rc;
}

static void col_text(sqlite3_stmt *s, int i, char *dst, size_t n) {
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(dst, n, "%s", t ? (const char *)t : "");
}

int hant_store_calib_sample_put(hant_store *st, hant_calib_sample_rec *r) {
  if (!r->selection[0])
    return hant__error(HANT_EINVAL, "%s: calibration sample %d has no selection", hant_store_path(st), r->idx);
  if (!r->created[0])
    hant_store_now(r->created);
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "INSERT INTO calib_sample (seed, idx, origin, note, selection, macs, val_accuracy, val_images, "
                   "seconds, created) VALUES (?,?,?,?,?,?,?,?,?,?)",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, (int64_t)r->seed);
  sqlite3_bind_int(s, 2, r->idx);
  sqlite3_bind_text(s, 3, r->origin, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 4, r->note, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 5, r->selection, -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(s, 6, r->macs);
  sqlite3_bind_double(s, 7, r->val_accuracy);
  sqlite3_bind_int(s, 8, r->val_images);
  sqlite3_bind_double(s, 9, r->seconds);
  sqlite3_bind_text(s, 10, r->created, -1, SQLITE_TRANSIENT);
  if ((rc = step_done(st, s, "store calibration sample")))
    return rc;
  r->id = sqlite3_last_insert_rowid(hant__store_db(st));
  return 0;
}

static int read_sample(sqlite3_stmt *s, void *rec) {
  hant_calib_sample_rec *r = rec;
  r->id = sqlite3_column_int64(s, 0);
  r->seed = (uint64_t)sqlite3_column_int64(s, 1);
  r->idx = sqlite3_column_int(s, 2);
  col_text(s, 3, r->origin, sizeof(r->origin));
  col_text(s, 4, r->note, sizeof(r->note));
  col_text(s, 5, r->selection, sizeof(r->selection));
  r->macs = sqlite3_column_double(s, 6);
  r->val_accuracy = sqlite3_column_double(s, 7);
  r->val_images = sqlite3_column_int(s, 8);
  r->seconds = sqlite3_column_double(s, 9);
  col_text(s, 10, r->created, sizeof(r->created));
  return 0;
}

int hant_store_calib_samples(hant_store *st, hant_calib_sample_rec **out, int *n) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "SELECT id, seed, idx, origin, note, selection, macs, val_accuracy, val_images, seconds, created "
                   "FROM calib_sample ORDER BY seed, idx",
                   &s);
  if (rc)
    return rc;
  void *rows;
  rc = hant__store_list(st, s, sizeof(**out), 64, read_sample, NULL, "list calibration samples", &rows, n);
  *out = rows;
  return rc;
}

int hant_store_calib_fit_put(hant_store *st, const hant_calib_fit_rec *f, const hant_calib_coef_rec *coefs, int n) {
  char now[32];
  hant_store_now(now);
  sqlite3_stmt *s = NULL;
  int rc = hant_store_begin(st);
  if (rc)
    return rc;
  if (sqlite3_exec(hant__store_db(st), "DELETE FROM calib_coef; DELETE FROM calib_fit", NULL, NULL, NULL) !=
      SQLITE_OK) {
    rc = db_error(st, "clear the previous calibration");
    goto fail;
  }
  if ((rc = prepare(st,
                    "INSERT INTO calib_fit (id, scale, intercept, ridge, noise_se, samples, folds, "
                    "heldout_median_abs_err, heldout_p90_abs_err, heldout_kendall_tau, heldout_samples, images, "
                    "seconds, seed, created) VALUES (1,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    &s)))
    goto fail;
  sqlite3_bind_text(s, 1, f->scale, -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(s, 2, f->intercept);
  sqlite3_bind_double(s, 3, f->ridge);
  sqlite3_bind_double(s, 4, f->noise_se);
  sqlite3_bind_int(s, 5, f->samples);
  sqlite3_bind_int(s, 6, f->folds);
  sqlite3_bind_double(s, 7, f->heldout_median_abs_err);
  sqlite3_bind_double(s, 8, f->heldout_p90_abs_err);
  sqlite3_bind_double(s, 9, f->heldout_kendall_tau);
  sqlite3_bind_int(s, 10, f->heldout_samples);
  sqlite3_bind_int64(s, 11, f->images);
  sqlite3_bind_double(s, 12, f->seconds);
  sqlite3_bind_int64(s, 13, (int64_t)f->seed);
  sqlite3_bind_text(s, 14, f->created[0] ? f->created : now, -1, SQLITE_TRANSIENT);
  if ((rc = step_done(st, s, "store calibration fit")))
    goto fail;
  if ((rc = prepare(st, "INSERT INTO calib_coef (candidate_id, coef, prior, samples) VALUES (?,?,?,?)", &s)))
    goto fail;
  for (int i = 0; i < n; i++) {
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, coefs[i].candidate_id);
    sqlite3_bind_double(s, 2, coefs[i].coef);
    sqlite3_bind_double(s, 3, coefs[i].prior);
    sqlite3_bind_int(s, 4, coefs[i].samples);
    if (sqlite3_step(s) != SQLITE_DONE) {
      rc = db_error(st, "store calibration coefficient");
      sqlite3_finalize(s);
      goto fail;
    }
  }
  sqlite3_finalize(s);
  if ((rc = hant_store_touch(st)) || (rc = hant_store_commit(st)))
    goto fail;
  return 0;
fail:
  hant_store_rollback(st);
  return rc;
}

static int read_coef(sqlite3_stmt *s, void *rec) {
  hant_calib_coef_rec *c = rec;
  c->candidate_id = sqlite3_column_int64(s, 0);
  c->coef = sqlite3_column_double(s, 1);
  c->prior = sqlite3_column_double(s, 2);
  c->samples = sqlite3_column_int(s, 3);
  return 0;
}

int hant_store_calib_fit_get(hant_store *st, hant_calib_fit_rec *f, hant_calib_coef_rec **coefs, int *n) {
  memset(f, 0, sizeof(*f));
  if (coefs) {
    *coefs = NULL;
    *n = 0;
  }
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "SELECT scale, intercept, ridge, noise_se, samples, folds, heldout_median_abs_err, "
                   "heldout_p90_abs_err, heldout_kendall_tau, heldout_samples, images, seconds, seed, created "
                   "FROM calib_fit WHERE id = 1",
                   &s);
  if (rc)
    return rc;
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    col_text(s, 0, f->scale, sizeof(f->scale));
    f->intercept = sqlite3_column_double(s, 1);
    f->ridge = sqlite3_column_double(s, 2);
    f->noise_se = sqlite3_column_double(s, 3);
    f->samples = sqlite3_column_int(s, 4);
    f->folds = sqlite3_column_int(s, 5);
    f->heldout_median_abs_err = sqlite3_column_double(s, 6);
    f->heldout_p90_abs_err = sqlite3_column_double(s, 7);
    f->heldout_kendall_tau = sqlite3_column_double(s, 8);
    f->heldout_samples = sqlite3_column_int(s, 9);
    f->images = sqlite3_column_int64(s, 10);
    f->seconds = sqlite3_column_double(s, 11);
    f->seed = (uint64_t)sqlite3_column_int64(s, 12);
    col_text(s, 13, f->created, sizeof(f->created));
  }
  sqlite3_finalize(s);
  if (step == SQLITE_DONE)
    return HANT_ENOENT;
  if (step != SQLITE_ROW)
    return db_error(st, "read calibration fit");
  if (!coefs)
    return 0;
  if ((rc = prepare(st, "SELECT candidate_id, coef, prior, samples FROM calib_coef ORDER BY candidate_id", &s)))
    return rc;
  void *rows;
  rc = hant__store_list(st, s, sizeof(**coefs), 64, read_coef, NULL, "list calibration coefficients", &rows, n);
  *coefs = rows;
  return rc;
}
