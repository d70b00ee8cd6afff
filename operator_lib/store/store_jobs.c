/* SPDX-License-Identifier: MIT */
/* store_jobs.c: the job table of hantd (migrations 002 and 003): claims under leases, attempts, pruning; speaks SQLite. */
#include "store_jobs.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

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

/* Leases compare times written by different processes, so they use the
 * wall clock (Unix time), not a monotonic one. */
static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hant_job_lease_init(hant_job_lease *l, int64_t expiry_ms, int max_attempts) {
  memset(l, 0, sizeof(*l));
  if (expiry_ms <= 0)
    return hant__error(HANT_EINVAL, "job lease: expiry must be positive, got %lld ms", (long long)expiry_ms);
  char host[65] = "";
  if (gethostname(host, sizeof(host) - 1) || !host[0])
    snprintf(host, sizeof(host), "localhost");
  /* The pid alone repeats across restarts and containers; the random part does not. */
  uint64_t r = 0;
  if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
    r = (uint64_t)now_ms() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)l;
  snprintf(l->owner, sizeof(l->owner), "%.32s/%d/%016llx", host, (int)getpid(), (unsigned long long)r);
  l->expiry_ms = expiry_ms;
  l->max_attempts = max_attempts;
  return 0;
}

/* ---- statement helpers -------------------------------------------------------------- */

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

static int exec(hant_store *st, const char *sql, const char *what) {
  if (sqlite3_exec(hant__store_db(st), sql, NULL, NULL, NULL) != SQLITE_OK)
    return db_error(st, what);
  return 0;
}

/* Ends a transaction that failed; the error of the failure is kept. */
static int rollback(hant_store *st, int rc) {
  char keep[1024];
  snprintf(keep, sizeof(keep), "%s", hant_errmsg());
  if (sqlite3_get_autocommit(hant__store_db(st)) == 0)
    exec(st, "ROLLBACK", "rollback");
  if (keep[0])
    hant__error(rc, "%s", keep);
  return rc;
}

/* Binds an optional text (NULL binds SQL NULL). */
static void bind_text(sqlite3_stmt *s, int i, const char *t) {
  if (t)
    sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(s, i);
}

/* Runs a statement that returns no rows: binds (?1 int64, ?2..?4 texts,
 * ?5 int64), and reports how many rows changed. */
static int run(hant_store *st, const char *sql, int64_t i1, const char *t2, const char *t3, const char *t4,
               int64_t i5, int *changed, const char *what) {
  sqlite3_stmt *s;
  int rc = prepare(st, sql, &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, i1);
  bind_text(s, 2, t2);
  bind_text(s, 3, t3);
  bind_text(s, 4, t4);
  sqlite3_bind_int64(s, 5, i5);
  int step = sqlite3_step(s);
  sqlite3_finalize(s);
  if (step != SQLITE_DONE)
    return db_error(st, what);
  if (changed)
    *changed = sqlite3_changes(hant__store_db(st));
  return 0;
}

/* One integer from a query binding (?1 int64, ?2 text); HANT_ENOENT when it returns no row. */
static int query_int(hant_store *st, const char *sql, int64_t i1, const char *t2, int64_t *out, const char *what) {
  sqlite3_stmt *s;
  int rc = prepare(st, sql, &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, i1);
  bind_text(s, 2, t2);
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW)
    *out = sqlite3_column_int64(s, 0);
  else
    rc = step == SQLITE_DONE ? HANT_ENOENT : db_error(st, what);
  sqlite3_finalize(s);
  return rc;
}

#define JOB_COLUMNS                                                                                             \
  "id, kind, params, state, progress, note, result, error, attempts, created, started, finished, owner, "       \
  "heartbeat_ms, cancel"

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
  col_text(s, 12, j->owner, sizeof(j->owner));
  j->heartbeat_ms = sqlite3_column_int64(s, 13);
  j->cancel = sqlite3_column_int(s, 14) != 0;
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

/* read_row and the jobs' release, in the shapes hant__store_list takes. */
static int read_job_row(sqlite3_stmt *s, void *rec) { return read_row(s, rec); }
static void free_job_rows(void *rows, int n) { hant_store_jobs_free(rows, n); }

/* ---- attempts ------------------------------------------------------------------------- */

static int read_attempt(sqlite3_stmt *s, void *rec) {
  hant_job_attempt *a = rec;
  a->attempt = sqlite3_column_int(s, 0);
  col_text(s, 1, a->owner, sizeof(a->owner));
  col_text(s, 2, a->started, sizeof(a->started));
  col_text(s, 3, a->ended, sizeof(a->ended));
  col_text(s, 4, a->outcome, sizeof(a->outcome));
  return 0;
}

int hant_store_job_attempts(hant_store *st, int64_t id, hant_job_attempt **out, int *n) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *s;
  int rc = prepare(st, "SELECT attempt, owner, started, ended, outcome FROM job_attempt WHERE job = ?1 ORDER BY attempt",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, id);
  void *rows;
  rc = hant__store_list(st, s, sizeof(**out), 4, read_attempt, NULL, "read job attempts", &rows, n);
  *out = rows;
  return rc;
}

/* Closes the open attempt of a job with an outcome. */
static int attempt_end(hant_store *st, int64_t id, const char *outcome, const char *now) {
  return run(st,
             "UPDATE job_attempt SET ended = ?3, outcome = ?2 WHERE job = ?1 AND ended IS NULL "
             "AND attempt = (SELECT attempts FROM job WHERE id = ?1)",
             id, outcome, now, NULL, 0, NULL, "end job attempt");
}

/* A growing message; on allocation failure it stays as it was. */
typedef struct text {
  char *s;
  size_t len, cap;
} text;

static void text_add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if (t->len + (size_t)n + 1 > t->cap) {
    size_t cap = (t->len + (size_t)n + 1) * 2;
    char *p = realloc(t->s, cap);
    if (!p)
      return;
    t->s = p;
    t->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

/* Fails a job that was started max_attempts times, its error listing
 * each attempt: when it started and ended, on which daemon, and why it
 * ended. Inside the caller's transaction, after its last attempt closed. */
static int fail_capped(hant_store *st, int64_t id, int attempts, int max_attempts, const char *now) {
  hant_job_attempt *a = NULL;
  int n = 0;
  int rc = hant_store_job_attempts(st, id, &a, &n);
  if (rc)
    return rc;
  text t = {0};
  text_add(&t, "started %d times (max_job_attempts is %d) without finishing; not started again. Attempts:", attempts,
           max_attempts);
  for (int i = 0; i < n; i++)
    text_add(&t, " %d) %s to %s on %s: %s;", a[i].attempt, a[i].started, a[i].ended[0] ? a[i].ended : "?",
             a[i].owner, a[i].outcome[0] ? a[i].outcome : "no end recorded");
  free(a);
  if (!t.s)
    return HANT_ENOMEM;
  if (t.len && t.s[t.len - 1] == ';')
    t.s[--t.len] = '\0';
  rc = run(st,
           "UPDATE job SET state = 'failed', result = NULL, error = ?2, finished = ?3, owner = NULL, "
           "heartbeat_ms = NULL, cancel = 0, note = 'gave up: started too many times' WHERE id = ?1",
           id, t.s, now, NULL, 0, NULL, "fail job");
  free(t.s);
  return rc;
}

/* ---- jobs ------------------------------------------------------------------------------- */

int hant_store_job_add(hant_store *st, const char *kind, const char *params_json, int max_queued, int64_t *id) {
  if (!kind || !*kind || strlen(kind) >= sizeof(((hant_job_rec *)0)->kind) || !params_json)
    return hant__error(HANT_EINVAL, "job: bad kind or params");
  int rc = exec(st, "BEGIN IMMEDIATE", "begin job insert");
  if (rc)
    return rc;
  if (max_queued > 0) {
    int n = 0;
    if ((rc = hant_store_job_count(st, HANT_JOB_QUEUED, &n)))
      return rollback(st, rc);
    if (n >= max_queued)
      return rollback(st, hant__error(HANT_EBUSY, "%d jobs are queued already (the limit); try again later", n));
  }
  char now[32];
  hant_store_now(now);
  if ((rc = run(st, "INSERT INTO job (kind, params, created) VALUES (?2, ?3, ?4)", 0, kind, params_json, now, 0, NULL,
                "insert job")))
    return rollback(st, rc);
  *id = sqlite3_last_insert_rowid(hant__store_db(st));
  if ((rc = exec(st, "COMMIT", "commit job insert")))
    return rollback(st, rc);
  return 0;
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
  void *rows;
  rc = hant__store_list(st, s, sizeof(**out), 16, read_job_row, free_job_rows, "list jobs", &rows, n);
  *out = rows;
  return rc;
}

int hant_store_job_count(hant_store *st, hant_job_state state, int *n) {
  int64_t v = 0;
  int rc = query_int(st, "SELECT count(*) FROM job WHERE state = ?2", 0, hant_job_state_name(state), &v,
                     "count jobs");
  if (!rc)
    *n = (int)v;
  return rc;
}

/* The oldest queued job and how often it was started. */
static int oldest_queued(hant_store *st, int64_t *id, int *attempts) {
  sqlite3_stmt *s;
  int rc = prepare(st, "SELECT id, attempts FROM job WHERE state = 'queued' ORDER BY id LIMIT 1", &s);
  if (rc)
    return rc;
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    *id = sqlite3_column_int64(s, 0);
    *attempts = sqlite3_column_int(s, 1);
  } else {
    rc = step == SQLITE_DONE ? HANT_ENOENT : db_error(st, "find a queued job");
  }
  sqlite3_finalize(s);
  return rc;
}

int hant_store_job_claim(hant_store *st, const hant_job_lease *l, hant_job_rec *out) {
  memset(out, 0, sizeof(*out));
  int64_t id = 0;
  int attempts = 0;
  /* Look before taking the write lock: an idle runner polls, and a
   * read-only library must not fail every poll. */
  int rc = oldest_queued(st, &id, &attempts);
  if (rc)
    return rc;
  if ((rc = exec(st, "BEGIN IMMEDIATE", "begin job claim")))
    return rc;
  /* Another runner may have taken it meanwhile: look again under the lock. */
  if ((rc = oldest_queued(st, &id, &attempts))) {
    exec(st, "COMMIT", "end job claim");
    return rc;
  }
  char now[32];
  hant_store_now(now);
  bool capped = l->max_attempts > 0 && attempts >= l->max_attempts;
  sqlite3_stmt *s = NULL;
  if (capped) {
    if ((rc = fail_capped(st, id, attempts, l->max_attempts, now)) ||
        (rc = prepare(st, "SELECT " JOB_COLUMNS " FROM job WHERE id = ?1", &s)))
      return rollback(st, rc);
    sqlite3_bind_int64(s, 1, id);
  } else {
    if ((rc = prepare(st,
                      "UPDATE job SET state = 'running', attempts = attempts + 1, started = ?2, progress = 0, "
                      "note = '', owner = ?3, heartbeat_ms = ?4, cancel = 0 WHERE id = ?1 AND state = 'queued' "
                      "RETURNING " JOB_COLUMNS,
                      &s)))
      return rollback(st, rc);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, l->owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 4, now_ms());
  }
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    rc = read_row(s, out);
    /* Step to the end so the statement completes before the commit. */
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
      ;
  }
  if (!rc && step != SQLITE_DONE)
    rc = db_error(st, "claim job");
  sqlite3_finalize(s);
  if (!rc && !capped)
    rc = run(st, "INSERT OR REPLACE INTO job_attempt (job, attempt, owner, started) VALUES (?1, ?5, ?2, ?3)", id,
             l->owner, now, NULL, out->attempts, NULL, "record job attempt");
  if (!rc)
    rc = exec(st, "COMMIT", "commit job claim");
  if (rc) {
    hant_job_rec_free(out);
    memset(out, 0, sizeof(*out));
    return rollback(st, rc);
  }
  return capped ? HANT_ELIMIT : 0;
}

int hant_store_job_heartbeat(hant_store *st, const hant_job_lease *l, int64_t id, bool *cancel) {
  if (cancel)
    *cancel = false;
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "UPDATE job SET heartbeat_ms = ?3 WHERE id = ?1 AND state = 'running' AND owner = ?2 "
                   "RETURNING cancel",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_text(s, 2, l->owner, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 3, now_ms());
  int step = sqlite3_step(s);
  bool held = step == SQLITE_ROW;
  if (held && cancel)
    *cancel = sqlite3_column_int(s, 0) != 0;
  while (step == SQLITE_ROW)
    step = sqlite3_step(s);
  sqlite3_finalize(s);
  if (step != SQLITE_DONE)
    return db_error(st, "renew job lease");
  if (!held)
    return hant__error(HANT_ENOENT, "job %lld is no longer held by %s", (long long)id, l->owner);
  return 0;
}

int hant_store_job_progress(hant_store *st, const hant_job_lease *l, int64_t id, double progress, const char *note) {
  if (!(progress >= 0))
    progress = 0;
  if (progress > 1)
    progress = 1;
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "UPDATE job SET progress = ?4, note = ifnull(?2, note) WHERE id = ?1 AND state = 'running' "
                   "AND owner = ?3",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, note);
  sqlite3_bind_text(s, 3, l->owner, -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(s, 4, progress);
  int step = sqlite3_step(s);
  sqlite3_finalize(s);
  return step == SQLITE_DONE ? 0 : db_error(st, "record job progress");
}

int hant_store_job_finish(hant_store *st, const hant_job_lease *l, int64_t id, hant_job_state state,
                          const char *result_json, const char *error) {
  if (state != HANT_JOB_DONE && state != HANT_JOB_FAILED && state != HANT_JOB_CANCELED)
    return hant__error(HANT_EINVAL, "job %lld: cannot finish as %s", (long long)id, hant_job_state_name(state));
  char now[32];
  hant_store_now(now);
  int rc = exec(st, "BEGIN IMMEDIATE", "begin job end");
  if (rc)
    return rc;
  const char *sql = state == HANT_JOB_DONE
                        ? "UPDATE job SET state = 'done', progress = 1, result = ?3, error = NULL, finished = ?4, "
                          "owner = NULL, heartbeat_ms = NULL, cancel = 0 "
                          "WHERE id = ?1 AND state = 'running' AND owner = ?2"
                    : state == HANT_JOB_FAILED
                        ? "UPDATE job SET state = 'failed', result = NULL, error = ?3, finished = ?4, owner = NULL, "
                          "heartbeat_ms = NULL, cancel = 0 WHERE id = ?1 AND state = 'running' AND owner = ?2"
                        : "UPDATE job SET state = 'canceled', result = NULL, error = ?3, finished = ?4, "
                          "owner = NULL, heartbeat_ms = NULL, cancel = 0 "
                          "WHERE id = ?1 AND state = 'running' AND owner = ?2";
  /* "done", "failed: WHY", "canceled by request: WHERE": the state, then why, once. */
  const char *name = hant_job_state_name(state), *why = state == HANT_JOB_DONE || !error ? "" : error;
  bool named = !strncmp(why, name, strlen(name));
  char outcome[300];
  snprintf(outcome, sizeof(outcome), "%s%s%.280s", named ? "" : name, named || !why[0] ? "" : ": ", why);
  int changed = 0;
  /* The attempt closes first: it is found through the job's attempts count, which the end does not change. */
  if ((rc = run(st,
                "UPDATE job_attempt SET ended = ?3, outcome = ?2 WHERE job = ?1 AND ended IS NULL AND attempt = "
                "(SELECT attempts FROM job WHERE id = ?1 AND state = 'running' AND owner = ?4)",
                id, outcome, now, l->owner, 0, NULL, "end job attempt")) ||
      (rc = run(st, sql, id, l->owner, state == HANT_JOB_DONE ? result_json : error, now, 0, &changed, "end job")))
    return rollback(st, rc);
  if (!changed)
    return rollback(st, hant__error(HANT_ENOENT, "job %lld is not running under %s", (long long)id, l->owner));
  if ((rc = exec(st, "COMMIT", "commit job end")))
    return rollback(st, rc);
  return 0;
}

/* Ends the open attempt of running job id with why, then queues the job
 * again, or fails it when it was started max_attempts times. Inside the
 * caller's transaction. */
static int give_back(hant_store *st, const hant_job_lease *l, int64_t id, int attempts, const char *why,
                     const char *now, hant_job_state *state) {
  int rc = attempt_end(st, id, why, now);
  if (rc)
    return rc;
  if (l->max_attempts > 0 && attempts >= l->max_attempts) {
    if (state)
      *state = HANT_JOB_FAILED;
    return fail_capped(st, id, attempts, l->max_attempts, now);
  }
  if (state)
    *state = HANT_JOB_QUEUED;
  char note[128];
  snprintf(note, sizeof(note), "%.100s; queued again", why);
  return run(st,
             "UPDATE job SET state = 'queued', progress = 0, note = ?2, started = NULL, owner = NULL, "
             "heartbeat_ms = NULL, cancel = 0 WHERE id = ?1",
             id, note, NULL, NULL, 0, NULL, "requeue job");
}

int hant_store_job_requeue(hant_store *st, const hant_job_lease *l, int64_t id, const char *why,
                           hant_job_state *state) {
  int rc = exec(st, "BEGIN IMMEDIATE", "begin job requeue");
  if (rc)
    return rc;
  int64_t attempts = 0;
  rc = query_int(st, "SELECT attempts FROM job WHERE id = ?1 AND state = 'running' AND owner = ?2", id, l->owner,
                 &attempts, "read job");
  if (rc == HANT_ENOENT)
    rc = hant__error(HANT_ENOENT, "job %lld is not running under %s", (long long)id, l->owner);
  char now[32];
  hant_store_now(now);
  if (rc || (rc = give_back(st, l, id, (int)attempts, why ? why : "interrupted", now, state)) ||
      (rc = exec(st, "COMMIT", "commit job requeue")))
    return rollback(st, rc);
  return 0;
}

/* Running jobs whose lease expired by now, with what the recovery needs. */
typedef struct expired {
  int64_t id, heartbeat_ms;
  int attempts;
  char owner[HANT_JOB_OWNER_MAX];
} expired;

static int read_expired(sqlite3_stmt *s, void *rec) {
  expired *e = rec;
  e->id = sqlite3_column_int64(s, 0);
  e->heartbeat_ms = sqlite3_column_int64(s, 1);
  e->attempts = sqlite3_column_int(s, 2);
  col_text(s, 3, e->owner, sizeof(e->owner));
  return 0;
}

static int find_expired(hant_store *st, int64_t before_ms, expired **out, int *n) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "SELECT id, ifnull(heartbeat_ms, 0), attempts, ifnull(owner, '') FROM job WHERE state = 'running' "
                   "AND (heartbeat_ms IS NULL OR owner IS NULL OR heartbeat_ms < ?1) ORDER BY id",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, before_ms);
  void *rows;
  rc = hant__store_list(st, s, sizeof(**out), 8, read_expired, NULL, "find expired job leases", &rows, n);
  *out = rows;
  return rc;
}

int hant_store_jobs_recover(hant_store *st, const hant_job_lease *l, int *requeued, int *failed) {
  if (requeued)
    *requeued = 0;
  if (failed)
    *failed = 0;
  expired *e = NULL;
  int n = 0;
  /* Look first, write only when a lease expired. */
  int rc = find_expired(st, now_ms() - l->expiry_ms, &e, &n);
  free(e);
  if (rc || !n)
    return rc;
  if ((rc = exec(st, "BEGIN IMMEDIATE", "begin job recovery")))
    return rc;
  if ((rc = find_expired(st, now_ms() - l->expiry_ms, &e, &n)))
    return rollback(st, rc);
  char now[32];
  hant_store_now(now);
  for (int i = 0; i < n && !rc; i++) {
    char why[200];
    if (e[i].owner[0] && e[i].heartbeat_ms > 0) {
      time_t t = (time_t)(e[i].heartbeat_ms / 1000);
      struct tm tm;
      char when[32];
      gmtime_r(&t, &tm);
      strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
      snprintf(why, sizeof(why), "lease expired: %s stopped renewing it (last at %s)", e[i].owner, when);
    } else {
      snprintf(why, sizeof(why), "lease expired: it was running without a lease (a daemon before schema 3)");
    }
    hant_job_state now_state = HANT_JOB_QUEUED;
    rc = give_back(st, l, e[i].id, e[i].attempts, why, now, &now_state);
    if (!rc && now_state == HANT_JOB_FAILED && failed)
      (*failed)++;
    else if (!rc && requeued)
      (*requeued)++;
  }
  free(e);
  if (rc || (rc = exec(st, "COMMIT", "commit job recovery"))) {
    if (requeued)
      *requeued = 0;
    if (failed)
      *failed = 0;
    return rollback(st, rc);
  }
  return 0;
}

int hant_store_job_cancel(hant_store *st, int64_t id, hant_job_state *before) {
  int rc = exec(st, "BEGIN IMMEDIATE", "begin job cancel");
  if (rc)
    return rc;
  hant_job_rec j;
  if ((rc = hant_store_job_get(st, id, &j)))
    return rollback(st, rc);
  if (before)
    *before = j.state;
  hant_job_state state = j.state;
  hant_job_rec_free(&j);
  char now[32];
  hant_store_now(now);
  if (state == HANT_JOB_QUEUED)
    rc = run(st,
             "UPDATE job SET state = 'canceled', error = ?2, finished = ?3 WHERE id = ?1 AND state = 'queued'", id,
             "canceled before it started", now, NULL, 0, NULL, "cancel job");
  else if (state == HANT_JOB_RUNNING) /* its owner may be another process: it reads this at its next heartbeat */
    rc = run(st, "UPDATE job SET cancel = 1 WHERE id = ?1 AND state = 'running'", id, NULL, NULL, NULL, 0, NULL,
             "cancel job");
  if (rc || (rc = exec(st, "COMMIT", "commit job cancel")))
    return rollback(st, rc);
  return 0;
}

/* Finished jobs to delete: ended keep_days ago or earlier, and not among
 * the keep_count that ended last. */
#define PRUNABLE                                                                                                \
  "FROM job WHERE state IN ('done', 'failed', 'canceled') AND finished IS NOT NULL "                            \
  "AND julianday('now') - julianday(finished) >= ?1 AND id NOT IN (SELECT id FROM job "                         \
  "WHERE state IN ('done', 'failed', 'canceled') ORDER BY finished DESC, id DESC LIMIT ?2)"

int hant_store_jobs_prune(hant_store *st, double keep_days, int keep_count, int *deleted) {
  if (deleted)
    *deleted = 0;
  if (!(keep_days >= 0) || keep_count < 0)
    return hant__error(HANT_EINVAL, "job pruning: keep_days and keep_count must be >= 0");
  sqlite3_stmt *s;
  int64_t n = 0;
  int rc = prepare(st, "SELECT count(*) " PRUNABLE, &s);
  if (rc)
    return rc;
  sqlite3_bind_double(s, 1, keep_days);
  sqlite3_bind_int64(s, 2, keep_count);
  if (sqlite3_step(s) == SQLITE_ROW)
    n = sqlite3_column_int64(s, 0);
  else
    rc = db_error(st, "count prunable jobs");
  sqlite3_finalize(s);
  if (rc || !n) /* writes nothing otherwise: a read-only library is pruned by nobody */
    return rc;
  if ((rc = exec(st, "BEGIN IMMEDIATE", "begin job pruning")))
    return rc;
  if ((rc = prepare(st, "DELETE " PRUNABLE, &s)))
    return rollback(st, rc);
  sqlite3_bind_double(s, 1, keep_days);
  sqlite3_bind_int64(s, 2, keep_count);
  int step = sqlite3_step(s);
  sqlite3_finalize(s);
  int changed = sqlite3_changes(hant__store_db(st));
  if (step != SQLITE_DONE)
    return rollback(st, db_error(st, "prune jobs"));
  /* Foreign keys cascade, but a file opened elsewhere without them must not keep orphans either. */
  if ((rc = run(st, "DELETE FROM job_attempt WHERE job NOT IN (SELECT id FROM job)", 0, NULL, NULL, NULL, 0,
                NULL, "prune job attempts")) ||
      (rc = exec(st, "COMMIT", "commit job pruning")))
    return rollback(st, rc);
  if (deleted)
    *deleted = changed;
  return 0;
}
