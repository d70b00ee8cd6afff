/* SPDX-License-Identifier: MIT */
/* test_store_jobs.c: the job table under leases (two daemons on one library), the attempt cap, cancellation, pruning and the build lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hant.h"
#include "test_util.h"

static char dir[] = "/tmp/hant-test-store-jobs.XXXXXX";

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A fresh library file of its own for each test. */
static hant_store *open_fresh(const char *name, char *path, size_t n) {
  snprintf(path, n, "%s/%s.db", dir, name);
  hant_store *st = NULL;
  int rc = hant_store_open(path, HANT_STORE_CREATE, &st);
  CHECK(rc == 0, "open %s: %s", path, hant_errmsg());
  return st;
}

static hant_store *open_again(const char *path, int flags) {
  hant_store *st = NULL;
  int rc = hant_store_open(path, flags | HANT_STORE_NOCHECK, &st);
  CHECK(rc == 0, "open %s again: %s", path, hant_errmsg());
  return st;
}

static hant_job_state state_of(hant_store *st, int64_t id) {
  hant_job_rec j;
  if (hant_store_job_get(st, id, &j))
    return HANT_JOB_STATE_COUNT;
  hant_job_state s = j.state;
  hant_job_rec_free(&j);
  return s;
}

static int64_t add(hant_store *st, const char *params) {
  int64_t id = -1;
  CHECK(hant_store_job_add(st, "eval", params, 0, &id) == 0, "add job: %s", hant_errmsg());
  return id;
}

/* Two daemons on one library, each with its own connection and lease: a
 * job one of them runs is never recovered nor claimed by the other. */
static void test_two_owners(void) {
  char path[256];
  hant_store *sa = open_fresh("owners", path, sizeof(path)), *sb = open_again(path, 0);
  if (!sa || !sb)
    goto out;
  hant_job_lease la, lb;
  CHECK(hant_job_lease_init(&la, 60000, 3) == 0 && hant_job_lease_init(&lb, 60000, 3) == 0, "leases");
  CHECK(strcmp(la.owner, lb.owner) != 0, "two leases have two owners: %s, %s", la.owner, lb.owner);
  int64_t j1 = add(sa, "{\"n\":1}"), j2 = add(sa, "{\"n\":2}");
  hant_job_rec r;
  CHECK(hant_store_job_claim(sa, &la, &r) == 0 && r.id == j1 && !strcmp(r.owner, la.owner) && r.heartbeat_ms > 0,
        "A claims job 1 under its lease (owner '%s')", r.owner);
  hant_job_rec_free(&r);
  int requeued = -1, failed = -1;
  CHECK(hant_store_jobs_recover(sb, &lb, &requeued, &failed) == 0 && requeued == 0 && failed == 0,
        "B's start-up recovery leaves A's running job alone (requeued %d)", requeued);
  CHECK(state_of(sa, j1) == HANT_JOB_RUNNING, "job 1 still runs");
  CHECK(hant_store_job_claim(sb, &lb, &r) == 0 && r.id == j2, "B claims job 2, not job 1");
  hant_job_rec_free(&r);
  CHECK(hant_store_job_claim(sb, &lb, &r) == HANT_ENOENT, "nothing else to claim");
  bool cancel = true;
  CHECK(hant_store_job_heartbeat(sb, &lb, j1, &cancel) == HANT_ENOENT, "B cannot renew A's lease");
  CHECK(hant_store_job_finish(sb, &lb, j1, HANT_JOB_DONE, "{}", NULL) == HANT_ENOENT, "B cannot end A's job");
  CHECK(hant_store_job_requeue(sb, &lb, j1, "x", NULL) == HANT_ENOENT, "B cannot requeue A's job");
  CHECK(hant_store_job_heartbeat(sa, &la, j1, &cancel) == 0 && !cancel, "A renews its lease");
  CHECK(hant_store_job_progress(sa, &la, j1, 0.5, "half") == 0, "A records progress");
  CHECK(hant_store_job_finish(sa, &la, j1, HANT_JOB_DONE, "{\"ok\":1}", NULL) == 0, "A ends job 1");
  CHECK(hant_store_job_finish(sb, &lb, j2, HANT_JOB_FAILED, NULL, "broken") == 0, "B ends job 2");
  hant_job_attempt *at = NULL;
  int n = 0;
  CHECK(hant_store_job_attempts(sa, j1, &at, &n) == 0 && n == 1 && !strcmp(at[0].owner, la.owner) &&
            !strcmp(at[0].outcome, "done") && at[0].ended[0],
        "job 1 has one attempt, by A, done (%d: '%s')", n, n ? at[0].outcome : "");
  free(at);
  CHECK(hant_store_job_attempts(sa, j2, &at, &n) == 0 && n == 1 && !strcmp(at[0].outcome, "failed: broken"),
        "job 2's attempt failed with its error ('%s')", n ? at[0].outcome : "");
  free(at);
  CHECK(hant_store_job_get(sa, j1, &r) == 0 && r.state == HANT_JOB_DONE && !r.owner[0], "a finished job has no owner");
  hant_job_rec_free(&r);
out:
  hant_store_close(sa);
  hant_store_close(sb);
}

/* A lease not renewed expires: the job goes to whoever recovers it, and
 * the old owner can no longer record anything. Renewal keeps it. */
static void test_expiry(void) {
  char path[256];
  hant_store *sa = open_fresh("expiry", path, sizeof(path)), *sb = open_again(path, 0);
  if (!sa || !sb)
    goto out;
  hant_job_lease la, lb;
  hant_job_lease_init(&la, 200, 0);
  hant_job_lease_init(&lb, 200, 0);
  int64_t j1 = add(sa, "{}");
  hant_job_rec r;
  CHECK(hant_store_job_claim(sa, &la, &r) == 0 && r.id == j1, "A claims");
  hant_job_rec_free(&r);
  for (int i = 0; i < 8; i++) { /* 400 ms of renewals every 50 ms */
    sleep_ms(50);
    CHECK(hant_store_job_heartbeat(sa, &la, j1, NULL) == 0, "renewal %d", i);
  }
  int requeued = -1;
  CHECK(hant_store_jobs_recover(sb, &lb, &requeued, NULL) == 0 && requeued == 0,
        "a renewed lease does not expire (requeued %d)", requeued);
  sleep_ms(300); /* A stops renewing: it died */
  CHECK(hant_store_jobs_recover(sb, &lb, &requeued, NULL) == 0 && requeued == 1, "B recovers the expired job (%d)",
        requeued);
  CHECK(hant_store_job_get(sb, j1, &r) == 0 && r.state == HANT_JOB_QUEUED && !r.owner[0] && strstr(r.note, "queued"),
        "it is queued again without an owner (note '%s')", r.note);
  hant_job_rec_free(&r);
  CHECK(hant_store_job_claim(sb, &lb, &r) == 0 && r.id == j1 && r.attempts == 2 && !strcmp(r.owner, lb.owner),
        "B runs it: attempt 2");
  hant_job_rec_free(&r);
  CHECK(hant_store_job_heartbeat(sa, &la, j1, NULL) == HANT_ENOENT, "A's renewal fails: the job is B's now");
  CHECK(hant_store_job_progress(sa, &la, j1, 0.9, "stale") == 0, "A's progress is ignored");
  CHECK(hant_store_job_finish(sa, &la, j1, HANT_JOB_DONE, "{\"by\":\"A\"}", NULL) == HANT_ENOENT,
        "A cannot end it");
  CHECK(hant_store_job_finish(sb, &lb, j1, HANT_JOB_DONE, "{\"by\":\"B\"}", NULL) == 0, "B ends it");
  CHECK(hant_store_job_get(sb, j1, &r) == 0 && r.result && strstr(r.result, "B") && strcmp(r.note, "stale"),
        "B's result stands, A's progress never landed");
  hant_job_rec_free(&r);
  hant_job_attempt *at = NULL;
  int n = 0;
  CHECK(hant_store_job_attempts(sb, j1, &at, &n) == 0 && n == 2 && strstr(at[0].outcome, "lease expired") &&
            strstr(at[0].outcome, la.owner) && !strcmp(at[1].outcome, "done"),
        "the history: attempt 1 lost its lease (%s), attempt 2 done", n ? at[0].outcome : "");
  free(at);
out:
  hant_store_close(sa);
  hant_store_close(sb);
}

/* A job is started at most max_attempts times, then fails with every
 * attempt in its error: by recovery, by a requeue at shutdown, or when
 * claimed under a lower cap. */
static void test_attempt_cap(void) {
  char path[256];
  hant_store *st = open_fresh("cap", path, sizeof(path));
  if (!st)
    return;
  hant_job_lease l;
  hant_job_lease_init(&l, 30, 2);
  int64_t j1 = add(st, "{}");
  hant_job_rec r;
  int requeued = 0, failed = 0;
  for (int attempt = 1; attempt <= 2; attempt++) {
    CHECK(hant_store_job_claim(st, &l, &r) == 0 && r.id == j1 && r.attempts == attempt, "attempt %d starts",
          attempt);
    hant_job_rec_free(&r);
    sleep_ms(60); /* the daemon hangs or dies: its lease expires */
    CHECK(hant_store_jobs_recover(st, &l, &requeued, &failed) == 0, "recover after attempt %d", attempt);
  }
  CHECK(requeued == 0 && failed == 1, "after the second attempt the job fails instead (requeued %d, failed %d)",
        requeued, failed);
  CHECK(hant_store_job_get(st, j1, &r) == 0 && r.state == HANT_JOB_FAILED && r.error &&
            strstr(r.error, "started 2 times") && strstr(r.error, "1) ") && strstr(r.error, "2) ") &&
            strstr(r.error, "lease expired") && r.finished[0],
        "failed with its history: %s", r.error ? r.error : "(no error)");
  hant_job_rec_free(&r);
  CHECK(hant_store_job_claim(st, &l, &r) == HANT_ENOENT, "it is never claimed again");

  /* Interrupted by shutdown on its last allowed attempt. */
  hant_job_lease one;
  hant_job_lease_init(&one, 60000, 1);
  int64_t j2 = add(st, "{}");
  CHECK(hant_store_job_claim(st, &one, &r) == 0 && r.id == j2, "claim j2");
  hant_job_rec_free(&r);
  hant_job_state now = HANT_JOB_STATE_COUNT;
  CHECK(hant_store_job_requeue(st, &one, j2, "interrupted by shutdown", &now) == 0 && now == HANT_JOB_FAILED,
        "requeue on the last attempt fails the job (%s)", hant_job_state_name(now));
  CHECK(hant_store_job_get(st, j2, &r) == 0 && r.error && strstr(r.error, "interrupted by shutdown"),
        "its error tells why the attempt ended: %s", r.error ? r.error : "");
  hant_job_rec_free(&r);

  /* Queued after two attempts under a cap of 3, claimed under a cap of 2. */
  hant_job_lease three;
  hant_job_lease_init(&three, 60000, 3);
  int64_t j3 = add(st, "{}");
  for (int i = 0; i < 2; i++) {
    CHECK(hant_store_job_claim(st, &three, &r) == 0 && r.id == j3, "claim j3");
    hant_job_rec_free(&r);
    CHECK(hant_store_job_requeue(st, &three, j3, "interrupted by shutdown", &now) == 0 && now == HANT_JOB_QUEUED,
          "requeued under the cap");
  }
  int64_t j4 = add(st, "{}");
  hant_job_lease two;
  hant_job_lease_init(&two, 60000, 2);
  CHECK(hant_store_job_claim(st, &two, &r) == HANT_ELIMIT && r.id == j3 && r.state == HANT_JOB_FAILED,
        "a claim under a lower cap fails the job instead of starting it");
  hant_job_rec_free(&r);
  CHECK(hant_store_job_claim(st, &two, &r) == 0 && r.id == j4, "and the next claim takes the next job");
  hant_job_rec_free(&r);
  hant_store_close(st);
}

/* jobs.cancel of a running job reaches its owner through the table, so it
 * works whichever daemon runs the job. */
static void test_cancel(void) {
  char path[256];
  hant_store *sa = open_fresh("cancel", path, sizeof(path)), *sb = open_again(path, 0);
  if (!sa || !sb)
    goto out;
  hant_job_lease la;
  hant_job_lease_init(&la, 60000, 3);
  int64_t q = add(sa, "{}"), run = add(sa, "{}");
  hant_job_state before;
  CHECK(hant_store_job_cancel(sb, q, &before) == 0 && before == HANT_JOB_QUEUED && state_of(sa, q) == HANT_JOB_CANCELED,
        "a queued job is canceled at once");
  hant_job_rec r;
  CHECK(hant_store_job_claim(sa, &la, &r) == 0 && r.id == run, "claim");
  hant_job_rec_free(&r);
  bool cancel = true;
  CHECK(hant_store_job_heartbeat(sa, &la, run, &cancel) == 0 && !cancel, "not asked to stop yet");
  CHECK(hant_store_job_cancel(sb, run, &before) == 0 && before == HANT_JOB_RUNNING, "cancel the running job from B");
  CHECK(hant_store_job_heartbeat(sa, &la, run, &cancel) == 0 && cancel, "its owner learns it at its next heartbeat");
  CHECK(hant_store_job_finish(sa, &la, run, HANT_JOB_CANCELED, NULL, "canceled by request") == 0 &&
            state_of(sb, run) == HANT_JOB_CANCELED,
        "and ends it as canceled");
  hant_job_attempt *at = NULL;
  int n = 0;
  CHECK(hant_store_job_attempts(sa, run, &at, &n) == 0 && n == 1 && !strcmp(at[0].outcome, "canceled by request"),
        "the attempt says why it ended, once: '%s'", n ? at[0].outcome : "");
  free(at);
out:
  hant_store_close(sa);
  hant_store_close(sb);
}

/* Finished jobs beyond the newest keep_count and older than keep_days go,
 * with their attempts; queued and running ones stay. */
static void test_prune(void) {
  char path[256];
  hant_store *st = open_fresh("prune", path, sizeof(path));
  if (!st)
    return;
  hant_job_lease l;
  hant_job_lease_init(&l, 60000, 3);
  int64_t ids[5];
  for (int i = 0; i < 5; i++) {
    ids[i] = add(st, "{}");
    hant_job_rec r;
    CHECK(hant_store_job_claim(st, &l, &r) == 0, "claim %d", i);
    hant_job_rec_free(&r);
    CHECK(hant_store_job_finish(st, &l, ids[i], HANT_JOB_DONE, "{}", NULL) == 0, "finish %d", i);
  }
  int64_t running = add(st, "{}"), queued = add(st, "{}");
  hant_job_rec r;
  CHECK(hant_store_job_claim(st, &l, &r) == 0 && r.id == running, "claim");
  hant_job_rec_free(&r);
  int deleted = -1;
  CHECK(hant_store_jobs_prune(st, 30, 0, &deleted) == 0 && deleted == 0, "nothing is 30 days old (%d)", deleted);
  CHECK(hant_store_jobs_prune(st, 0, 2, &deleted) == 0 && deleted == 3, "all but the 2 newest finished go (%d)",
        deleted);
  CHECK(state_of(st, ids[0]) == HANT_JOB_STATE_COUNT && state_of(st, ids[2]) == HANT_JOB_STATE_COUNT &&
            state_of(st, ids[3]) == HANT_JOB_DONE && state_of(st, ids[4]) == HANT_JOB_DONE,
        "the oldest three are gone, the newest two kept");
  CHECK(state_of(st, running) == HANT_JOB_RUNNING && state_of(st, queued) == HANT_JOB_QUEUED,
        "running and queued jobs are never pruned");
  hant_job_attempt *at = NULL;
  int n = -1;
  CHECK(hant_store_job_attempts(st, ids[0], &at, &n) == 0 && n == 0, "a pruned job's attempts go with it (%d)", n);
  free(at);
  CHECK(hant_store_jobs_prune(st, 0, 2, &deleted) == 0 && deleted == 0, "pruning again deletes nothing");
  hant_store_close(st);
}

/* Polling, recovery and pruning write nothing when there is nothing to do,
 * so a read-only library is not an error at every poll. */
static void test_read_only(void) {
  char path[256];
  hant_store *st = open_fresh("readonly", path, sizeof(path));
  if (!st)
    return;
  hant_job_lease l;
  hant_job_lease_init(&l, 60000, 3);
  int64_t id = add(st, "{}");
  hant_job_rec r;
  CHECK(hant_store_job_claim(st, &l, &r) == 0, "claim");
  hant_job_rec_free(&r);
  CHECK(hant_store_job_finish(st, &l, id, HANT_JOB_DONE, "{}", NULL) == 0, "finish");
  hant_store_close(st);
  st = open_again(path, HANT_STORE_READONLY);
  if (!st)
    return;
  int requeued = -1, deleted = -1;
  CHECK(hant_store_job_claim(st, &l, &r) == HANT_ENOENT, "claim on a read-only library with nothing queued: %s",
        hant_errmsg());
  CHECK(hant_store_jobs_recover(st, &l, &requeued, NULL) == 0 && requeued == 0, "recovery: %s", hant_errmsg());
  CHECK(hant_store_jobs_prune(st, 30, 1000, &deleted) == 0 && deleted == 0, "pruning: %s", hant_errmsg());
  hant_store_close(st);
}

/* Two builders of one library: the second is refused at once, naming the
 * first; the lock never follows a link. */
static void test_build_lock(void) {
  char path[256], lock[300];
  hant_store *s1 = open_fresh("build", path, sizeof(path)), *s2 = open_again(path, 0);
  if (!s1 || !s2)
    goto out;
  CHECK(hant_store_lock_build(s1) == 0, "the first builder locks: %s", hant_errmsg());
  CHECK(hant_store_lock_build(s1) == 0, "locking again is a no-op");
  char pid[32];
  snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
  CHECK(hant_store_lock_build(s2) == HANT_EBUSY && strstr(hant_errmsg(), pid) &&
            strstr(hant_errmsg(), "another 'hant-distill build'"),
        "the second is refused, naming the first: %s", hant_errmsg());
  hant_store_close(s1);
  s1 = NULL;
  CHECK(hant_store_lock_build(s2) == 0, "once the first is done, the second may build: %s", hant_errmsg());

  /* A link planted at the lock's name is not followed. */
  char other[256], target[300];
  hant_store *s3 = open_fresh("linked", other, sizeof(other));
  snprintf(target, sizeof(target), "%s/target", dir);
  snprintf(lock, sizeof(lock), "%s.build-lock", other);
  CHECK(symlink(target, lock) == 0, "plant a link: %s", strerror(errno));
  CHECK(s3 && hant_store_lock_build(s3) == HANT_EIO, "a link at the lock is refused: %s", hant_errmsg());
  struct stat sb;
  CHECK(lstat(target, &sb) != 0, "and its target was not created");
  hant_store_close(s3);
out:
  hant_store_close(s1);
  hant_store_close(s2);
}

int main(void) {
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_two_owners();
  test_expiry();
  test_attempt_cap();
  test_cancel();
  test_prune();
  test_read_only();
  test_build_lock();
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd)) {
  }
  return test_summary("test_store_jobs");
}
