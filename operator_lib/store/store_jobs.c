/* SPDX-License-Identifier: MIT */
/* store_jobs.c: the job table (schema/migrations/002_jobs.sql) of hantd; part of the store, so it speaks SQLite. */
#include "store_jobs.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "store_internal.h"

static const char *const state_names[] = {"queued", "running", "done", "failed", "canceled"};
static_assert(sizeof(state_names) / sizeof(state_names[0]) == HANT_JOB_STATE_COUNT, "one name per job state");

const char *hant_job_state_name(hant_job_state s) {
  return (unsigned)s < HANT_JOB_STATE_COUNT ? state_names[s] : "unknown";
}

hant_job_state hant_job_state_from_name(const char *s) {
  for (int i = 0; i < HANT_JOB_STATE_COUNT; i++)
    if (s && !strcmp(s, state_names[i]))
      return (hant_job_state)i;
  return HANT_JOB_STATE_COUNT;
}

void hant_job_rec_free(hant_job_rec *j) {
  if (!j)
    return;
  free(j->params);
  free(j->result);
  free(j->error);
  j->params = j->result = j->error = NULL;
}

void hant_store_jobs_free(hant_job_rec *j, int n) {
  if (!j)
    return;
  for (int i = 0; i < n; i++)
    hant_job_rec_free(&j[i]);
  free(j);
}

static int db_error(hant_store *st, const char *what) {
  return hant__error(HANT_EDB, "%s: %s: %s", hant_store_path(st), what, sqlite3_errmsg(hant__store_db(st)));
}

static int prepare(hant_store *st, const char *sql, sqlite3_stmt **s) {
  if (sqlite3_prepare_v2(hant__store_db(st), sql, -1, s, NULL) != SQLITE_OK)
    return db_error(st, "prepare");
  return 0;
}

static void col_text(sqlite3_stmt *s, int i, char *dst, size_t n) {
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static char *col_dup(sqlite3_stmt *s, int i) {
  const unsigned char *t = sqlite3_column_text(s, i);
  return t ? strdup((const char *)t) : NULL;
}

#define JOB_COLUMNS "id, kind, params, state, progress, note, result, error, attempts, created, started, finished"

/* Reads a row of JOB_COLUMNS. */
static int read_row(sqlite3_stmt *s, hant_job_rec *j) {
  memset(j, 0, sizeof(*j));
  j->id = sqlite3_column_int64(s, 0);
  col_text(s, 1, j->kind, sizeof(j->kind));
  char state[16];
  col_text(s, 3, state, sizeof(state));
  j->state = hant_job_state_from_name(state);
  j->progress = sqlite3_column_double(s, 4);
  col_text(s, 5, j->note, sizeof(j->note));
  j->attempts = sqlite3_column_int(s, 8);
  col_text(s, 9, j->created, sizeof(j->created));
  col_text(s, 10, j->started, sizeof(j->started));
  col_text(s, 11, j->finished, sizeof(j->finished));
  j->params = col_dup(s, 2);
  j->result = col_dup(s, 6);
  j->error = col_dup(s, 7);
  if (!j->params || (sqlite3_column_type(s, 6) != SQLITE_NULL && !j->result) ||
      (sqlite3_column_type(s, 7) != SQLITE_NULL && !j->error)) {
    hant_job_rec_free(j);
    return HANT_ENOMEM;
  }
  return 0;
}

static int exec(hant_store *st, const char *sql, const char *what) {
  if (sqlite3_exec(hant__store_db(st), sql, NULL, NULL, NULL) != SQLITE_OK)
    return db_error(st, what);
  return 0;
}

int hant_store_job_add(hant_store *st, const char *kind, const char *params_json, int max_queued, int64_t *id) {
  if (!kind || !*kind || strlen(kind) >= sizeof(((hant_job_rec *)0)->kind) || !params_json)
    return hant__error(HANT_EINVAL, "job: bad kind or params");
  int rc = exec(st, "BEGIN IMMEDIATE", "begin job insert");
  if (rc)
    return rc;
  if (max_queued > 0) {
    int n = 0;
    if ((rc = hant_store_job_count(st, HANT_JOB_QUEUED, &n)))
      goto fail;
    if (n >= max_queued) {
      rc = hant__error(HANT_EBUSY, "%d jobs are queued already (the limit); try again later", n);
      goto fail;
    }
  }
  sqlite3_stmt *s;
  if ((rc = prepare(st, "INSERT INTO job (kind, params, created) VALUES (?1, ?2, ?3)", &s)))
    goto fail;
  char now[32];
  hant_store_now(now);
  sqlite3_bind_text(s, 1, kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, params_json, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 3, now, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(s);
  sqlite3_finalize(s);
  if (step != SQLITE_DONE) {
    rc = db_error(st, "insert job");
    goto fail;
  }
  *id = sqlite3_last_insert_rowid(hant__store_db(st));
  if ((rc = exec(st, "COMMIT", "commit job insert")))
    goto fail;
  return 0;
fail:
  exec(st, "ROLLBACK", "rollback job insert");
  return rc;
}

int hant_store_job_get(hant_store *st, int64_t id, hant_job_rec *out) {
  sqlite3_stmt *s;
  memset(out, 0, sizeof(*out));
  int rc = prepare(st, "SELECT " JOB_COLUMNS " FROM job WHERE id = ?", &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, id);
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW)
    rc = read_row(s, out);
  else if (step == SQLITE_DONE)
    rc = hant__error(HANT_ENOENT, "no job %lld", (long long)id);
  else
    rc = db_error(st, "read job");
  sqlite3_finalize(s);
  return rc;
}

int hant_store_jobs(hant_store *st, int state, int limit, hant_job_rec **out, int *n) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *s;
  int rc = prepare(st, "SELECT " JOB_COLUMNS " FROM job WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2", &s);
  if (rc)
    return rc;
  if (state >= 0 && state < HANT_JOB_STATE_COUNT)
    sqlite3_bind_text(s, 1, state_names[state], -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, 1);
  sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
  int cap = 0, step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      hant_job_rec *p = realloc(*out, sizeof(**out) * (size_t)cap);
      if (!p) {
        rc = HANT_ENOMEM;
        break;
      }
      *out = p;
    }
    if ((rc = read_row(s, &(*out)[*n])))
      break;
    (*n)++;
  }
  if (!rc && step != SQLITE_DONE)
    rc = db_error(st, "list jobs");
  sqlite3_finalize(s);
  if (rc) {
    hant_store_jobs_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int hant_store_job_count(hant_store *st, hant_job_state state, int *n) {
  sqlite3_stmt *s;
  int rc = prepare(st, "SELECT count(*) FROM job WHERE state = ?", &s);
  if (rc)
    return rc;
  sqlite3_bind_text(s, 1, hant_job_state_name(state), -1, SQLITE_STATIC);
  if (sqlite3_step(s) == SQLITE_ROW)
    *n = sqlite3_column_int(s, 0);
  else
    rc = db_error(st, "count jobs");
  sqlite3_finalize(s);
  return rc;
}

int hant_store_job_claim(hant_store *st, hant_job_rec *out) {
  sqlite3_stmt *s;
  memset(out, 0, sizeof(*out));
  int rc = prepare(st,
                   "UPDATE job SET state = 'running', attempts = attempts + 1, started = ?1, progress = 0, "
                   "note = '' WHERE id = (SELECT id FROM job WHERE state = 'queued' ORDER BY id LIMIT 1) "
                   "AND state = 'queued' RETURNING " JOB_COLUMNS,
                   &s);
  if (rc)
    return rc;
  char now[32];
  hant_store_now(now);
  sqlite3_bind_text(s, 1, now, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    rc = read_row(s, out);
    /* Step to the end so the UPDATE's statement transaction commits. */
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
      ;
    if (step != SQLITE_DONE && !rc) {
      rc = db_error(st, "claim job");
      hant_job_rec_free(out);
    }
  } else if (step == SQLITE_DONE) {
    rc = HANT_ENOENT;
  } else {
    rc = db_error(st, "claim job");
  }
  sqlite3_finalize(s);
  return rc;
}

/* Runs an UPDATE binding (?1 id, ?2 text, ?3 text, ?4 real) and reports how many rows changed. */
static int update(hant_store *st, const char *sql, int64_t id, const char *t2, const char *t3, double r4,
                  int *changed, const char *what) {
  sqlite3_stmt *s;
  int rc = prepare(st, sql, &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, id);
  if (t2)
    sqlite3_bind_text(s, 2, t2, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(s, 2);
  if (t3)
    sqlite3_bind_text(s, 3, t3, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(s, 3);
  sqlite3_bind_double(s, 4, r4);
  int step = sqlite3_step(s);
  sqlite3_finalize(s);
  if (step != SQLITE_DONE)
    return db_error(st, what);
  if (changed)
    *changed = sqlite3_changes(hant__store_db(st));
  return 0;
}

int hant_store_job_progress(hant_store *st, int64_t id, double progress, const char *note) {
  if (!(progress >= 0))
    progress = 0;
  if (progress > 1)
    progress = 1;
  return update(st, "UPDATE job SET progress = ?4, note = ifnull(?2, note) WHERE id = ?1 AND state = 'running'", id,
                note, NULL, progress, NULL, "record job progress");
}

int hant_store_job_finish(hant_store *st, int64_t id, hant_job_state state, const char *result_json,
                          const char *error) {
  if (state != HANT_JOB_DONE && state != HANT_JOB_FAILED && state != HANT_JOB_CANCELED)
    return hant__error(HANT_EINVAL, "job %lld: cannot finish as %s", (long long)id, hant_job_state_name(state));
  char now[32];
  hant_store_now(now);
  const char *sql = state == HANT_JOB_DONE
                        ? "UPDATE job SET state = 'done', progress = 1, result = ?2, error = NULL, finished = ?3 "
                          "WHERE id = ?1 AND state = 'running'"
                    : state == HANT_JOB_FAILED
                        ? "UPDATE job SET state = 'failed', result = NULL, error = ?2, finished = ?3 "
                          "WHERE id = ?1 AND state = 'running'"
                        : "UPDATE job SET state = 'canceled', result = NULL, error = ?2, finished = ?3 "
                          "WHERE id = ?1 AND state = 'running'";
  int changed = 0;
  int rc = update(st, sql, id, state == HANT_JOB_DONE ? result_json : error, now, 0, &changed, "finish job");
  if (!rc && !changed)
    rc = hant__error(HANT_ENOENT, "job %lld is not running", (long long)id);
  return rc;
}

int hant_store_job_requeue(hant_store *st, int64_t id) {
  return update(st,
                "UPDATE job SET state = 'queued', progress = 0, note = 'interrupted; queued again', started = NULL "
                "WHERE id = ?1 AND state = 'running'",
                id, NULL, NULL, 0, NULL, "requeue job");
}

int hant_store_jobs_recover(hant_store *st, int *n) {
  int changed = 0;
  int rc = update(st,
                  "UPDATE job SET state = 'queued', progress = 0, note = 'the daemon stopped; queued again', "
                  "started = NULL WHERE state = 'running' AND ?1 = ?1",
                  0, NULL, NULL, 0, &changed, "recover jobs");
  if (n)
    *n = changed;
  return rc;
}

int hant_store_job_cancel(hant_store *st, int64_t id, hant_job_state *before) {
  int rc = exec(st, "BEGIN IMMEDIATE", "begin job cancel");
  if (rc)
    return rc;
  hant_job_rec j;
  if ((rc = hant_store_job_get(st, id, &j)))
    goto fail;
  if (before)
    *before = j.state;
  hant_job_state state = j.state;
  hant_job_rec_free(&j);
  if (state == HANT_JOB_QUEUED) {
    char now[32];
    hant_store_now(now);
    if ((rc = update(st,
                     "UPDATE job SET state = 'canceled', error = ?2, finished = ?3 WHERE id = ?1 AND state = "
                     "'queued'",
                     id, "canceled before it started", now, 0, NULL, "cancel job")))
      goto fail;
  }
  if ((rc = exec(st, "COMMIT", "commit job cancel")))
    goto fail;
  return 0;
fail:
  exec(st, "ROLLBACK", "rollback job cancel");
  return rc;
}
