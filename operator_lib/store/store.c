/* SPDX-License-Identifier: MIT */
/* store.c: the only file that speaks SQLite; opens, migrates and checks libraries, and maps rows to records. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base.h"
#include "netfile.h"
#include "sha256.h"
#include "store_internal.h"
#include "store_migrations.h"

/* 'HANT' in ASCII: marks a database as a hant library. */
#define APPLICATION_ID 0x48414e54
#define BUSY_TIMEOUT_MS 10000

struct hant_store {
  sqlite3 *db;
  char path[1024];
  bool readonly;
  int build_lock; /* PATH.build-lock while hant_store_lock_build holds it, else -1 */
};

static int db_error(hant_store *st, const char *what) {
  return hant__error(HANT_EDB, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

static int exec(hant_store *st, const char *sql, const char *what) {
  char *err = NULL;
  if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
    int rc = hant__error(HANT_EDB, "%s: %s: %s", st->path, what, err ? err : sqlite3_errmsg(st->db));
    sqlite3_free(err);
    return rc;
  }
  return 0;
}

static int pragma_int(hant_store *st, const char *sql, int *out) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
    return db_error(st, sql);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int(s, 0);
    rc = 0;
  } else {
    rc = db_error(st, sql);
  }
  sqlite3_finalize(s);
  return rc;
}

static int count_tables(hant_store *st, int *n) {
  return pragma_int(st, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'", n);
}

static int migrate(hant_store *st) {
  int ver, rc;
  if ((rc = pragma_int(st, "PRAGMA user_version", &ver)))
    return rc;
  if (ver > hant__migration_count)
    return hant__error(HANT_ENOTSUP, "%s: schema version %d is newer than this hant (%d); upgrade hant", st->path,
                       ver, hant__migration_count);
  for (int i = ver; i < hant__migration_count; i++) {
    if (st->readonly)
      return hant__error(HANT_ENOTSUP, "%s: schema version %d needs migration to %d, but the library is read-only",
                         st->path, ver, hant__migration_count);
    const struct hant_migration *m = &hant__migrations[i];
    char sql[96];
    if ((rc = exec(st, "BEGIN IMMEDIATE", "begin migration")))
      return rc;
    if ((rc = exec(st, m->sql, m->name))) {
      exec(st, "ROLLBACK", "rollback migration");
      return rc;
    }
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d; PRAGMA application_id = %d", m->version, APPLICATION_ID);
    if ((rc = exec(st, sql, "set schema version")) || (rc = exec(st, "COMMIT", "commit migration"))) {
      exec(st, "ROLLBACK", "rollback migration");
      return rc;
    }
  }
  return 0;
}

/* A database moved or deleted without its write-ahead log leaves PATH-wal
 * behind; SQLite would take that log as the new database's own and could
 * replay another library's pages into it. So a library is not created
 * beside a log with content: the user decides whether it belongs to a
 * database that is elsewhere now. (An empty log holds nothing to replay.) */
static int refuse_orphan_wal(const char *path) {
  char wal[1100];
  struct stat sb;
  snprintf(wal, sizeof(wal), "%s-wal", path);
  if (stat(wal, &sb) != 0 || sb.st_size == 0)
    return 0;
  return hant__error(HANT_EINVAL,
                     "%s: a write-ahead log (%lld bytes) is here without its database; it belongs to a library "
                     "that was moved or deleted without its -wal and -shm files. Move %s and %s-shm beside "
                     "that library, or delete them, before creating a new one here",
                     wal, (long long)sb.st_size, wal, path);
}

int hant_store_open(const char *path, int flags, hant_store **out) {
  *out = NULL;
  hant_store *st = calloc(1, sizeof(*st));
  if (!st)
    return HANT_ENOMEM;
  snprintf(st->path, sizeof(st->path), "%s", path);
  st->readonly = flags & HANT_STORE_READONLY;
  st->build_lock = -1;
  int rc = 0;
  bool missing = access(path, F_OK) != 0;
  if (!(flags & HANT_STORE_CREATE) && missing) {
    rc = hant__error(HANT_ENOENT, "%s: no such library (build one with 'hant-distill build')", path);
    goto fail;
  }
  if (missing && (rc = refuse_orphan_wal(path)))
    goto fail;
  int oflags = st->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    rc = st->db ? db_error(st, "cannot open") : HANT_ENOMEM;
    goto fail;
  }
  sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes(st->db, 1);
  /* Any read fails on a file that is not SQLite at all. */
  int app_id, ntables;
  if ((rc = pragma_int(st, "PRAGMA application_id", &app_id))) {
    rc = hant__error(HANT_EFORMAT, "%s: not a hant library (%s)", path, sqlite3_errmsg(st->db));
    goto fail;
  }
  if ((rc = count_tables(st, &ntables)))
    goto fail;
  if (app_id != APPLICATION_ID && (app_id != 0 || ntables > 0)) {
    rc = hant__error(HANT_EFORMAT, "%s: not a hant library (a database of another application: application_id %d, %d tables)",
                     path, app_id, ntables);
    goto fail;
  }
  if (!st->readonly && (rc = exec(st, "PRAGMA journal_mode = WAL", "enable WAL")))
    goto fail;
  if ((rc = exec(st, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", "set pragmas")))
    goto fail;
  if ((rc = migrate(st)))
    goto fail;
  if (!(flags & HANT_STORE_NOCHECK)) {
    bool ok;
    char msg[256];
    if ((rc = hant_store_integrity(st, &ok, msg, sizeof(msg))))
      goto fail;
    if (!ok) {
      rc = hant__error(HANT_EFORMAT, "%s: database is damaged: %s", path, msg);
      goto fail;
    }
  }
  *out = st;
  return 0;
fail:
  if (st->db)
    sqlite3_close(st->db);
  free(st);
  return rc;
}

void hant_store_close(hant_store *st) {
  if (!st)
    return;
  sqlite3_close(st->db);
  if (st->build_lock >= 0)
    close(st->build_lock);
  free(st);
}

const char *hant_store_path(const hant_store *st) { return st->path; }

sqlite3 *hant__store_db(hant_store *st) { return st->db; }

int hant_store_schema_version(hant_store *st) {
  int v = -1;
  pragma_int(st, "PRAGMA user_version", &v);
  return v;
}

int hant_store_integrity(hant_store *st, bool *ok, char *msg, size_t msg_len) {
  sqlite3_stmt *s;
  /* quick_check skips index-content cross checks: O(N) but several times faster. */
  if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK)
    return hant__error(HANT_EFORMAT, "%s: database is damaged: %s", st->path, sqlite3_errmsg(st->db));
  int rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    rc = hant__error(HANT_EFORMAT, "%s: database is damaged: %s", st->path, sqlite3_errmsg(st->db));
    sqlite3_finalize(s);
    return rc;
  }
  const char *r = (const char *)sqlite3_column_text(s, 0);
  *ok = r && !strcmp(r, "ok");
  if (msg_len)
    snprintf(msg, msg_len, "%s", r ? r : "(null)");
  sqlite3_finalize(s);
  return 0;
}

int hant_store_begin(hant_store *st) { return exec(st, "BEGIN IMMEDIATE", "begin"); }
int hant_store_commit(hant_store *st) { return exec(st, "COMMIT", "commit"); }
int hant_store_rollback(hant_store *st) { return exec(st, "ROLLBACK", "rollback"); }

int hant_store_library_version(hant_store *st, int64_t *version) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'library_version'", -1, &s,
                         NULL) != SQLITE_OK)
    return db_error(st, "read library version");
  int rc = sqlite3_step(s) == SQLITE_ROW ? 0 : db_error(st, "read library version");
  if (!rc)
    *version = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return rc;
}

static int bump_version(hant_store *st) {
  return exec(st, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'library_version'",
              "bump library version");
}

void hant_store_now(char buf[32]) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- statement helpers -------------------------------------------------- */

static int prepare(hant_store *st, const char *sql, sqlite3_stmt **s) {
  if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
    return db_error(st, "prepare");
  return 0;
}

static void col_text(sqlite3_stmt *s, int i, char *dst, size_t n) {
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static int step_done(hant_store *st, sqlite3_stmt *s, const char *what) {
  int rc = sqlite3_step(s);
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE)
    return db_error(st, what);
  return 0;
}

int hant__store_list(hant_store *st, sqlite3_stmt *s, size_t rec_size, int first_cap, hant__store_row_fn read_row,
                     void (*free_rows)(void *rows, int n), const char *what, void **rows, int *n) {
  char *out = NULL;
  int count = 0, cap = 0, rc = 0, step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    if (count == cap) {
      cap = cap ? cap * 2 : first_cap;
      char *p = realloc(out, rec_size * (size_t)cap);
      if (!p) {
        rc = HANT_ENOMEM;
        break;
      }
      out = p;
    }
    void *rec = out + rec_size * (size_t)count;
    memset(rec, 0, rec_size);
    if ((rc = read_row(s, rec)))
      break;
    count++;
  }
  sqlite3_finalize(s);
  /* db_error reads the message after finalize: the connection keeps the failed step's error. */
  if (!rc && step != SQLITE_DONE)
    rc = db_error(st, what);
  if (rc) {
    if (free_rows)
      free_rows(out, count);
    else
      free(out);
    out = NULL;
    count = 0;
  }
  *rows = out;
  *n = count;
  return rc;
}

/* ---- teacher ------------------------------------------------------------ */

int hant_store_teacher_get(hant_store *st, hant_teacher_rec *t) {
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "SELECT id, sha256, path, format, input_c, input_h, input_w, classes, macs, params, "
                   "val_accuracy, val_split, val_images, created, "
                   "ifnull((SELECT size FROM teacher_file f WHERE f.teacher_id = teacher.id), 0) "
                   "FROM teacher ORDER BY id LIMIT 1",
                   &s);
  if (rc)
    return rc;
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(s, 0);
    col_text(s, 1, t->sha256, sizeof(t->sha256));
    col_text(s, 2, t->path, sizeof(t->path));
    col_text(s, 3, t->format, sizeof(t->format));
    t->input_c = sqlite3_column_int(s, 4);
    t->input_h = sqlite3_column_int(s, 5);
    t->input_w = sqlite3_column_int(s, 6);
    t->classes = sqlite3_column_int(s, 7);
    t->macs = sqlite3_column_double(s, 8);
    t->params = sqlite3_column_int64(s, 9);
    t->val_accuracy = sqlite3_column_double(s, 10);
    col_text(s, 11, t->val_split, sizeof(t->val_split));
    t->val_images = sqlite3_column_int(s, 12);
    col_text(s, 13, t->created, sizeof(t->created));
    t->stored_bytes = sqlite3_column_int64(s, 14);
    rc = 0;
  } else if (rc == SQLITE_DONE) {
    rc = HANT_ENOENT;
  } else {
    rc = db_error(st, "read teacher");
  }
  sqlite3_finalize(s);
  return rc;
}

int hant_store_teacher_put(hant_store *st, hant_teacher_rec *t) {
  sqlite3_stmt *s;
  if (!t->created[0])
    hant_store_now(t->created);
  int rc = prepare(st,
                   "INSERT INTO teacher (sha256, path, format, input_c, input_h, input_w, classes, macs, params, "
                   "val_accuracy, val_split, val_images, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_text(s, 1, t->sha256, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, t->path, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 3, t->format, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(s, 4, t->input_c);
  sqlite3_bind_int(s, 5, t->input_h);
  sqlite3_bind_int(s, 6, t->input_w);
  sqlite3_bind_int(s, 7, t->classes);
  sqlite3_bind_double(s, 8, t->macs);
  sqlite3_bind_int64(s, 9, t->params);
  sqlite3_bind_double(s, 10, t->val_accuracy);
  sqlite3_bind_text(s, 11, t->val_split, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(s, 12, t->val_images);
  sqlite3_bind_text(s, 13, t->created, -1, SQLITE_TRANSIENT);
  if ((rc = step_done(st, s, "insert teacher")))
    return rc;
  t->id = sqlite3_last_insert_rowid(st->db);
  return 0;
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65]) {
  hant_sha256 h;
  hant_sha256_init(&h);
  hant_sha256_update(&h, data, len);
  hant_sha256_hex(&h, out);
}

int hant_store_teacher_file_put(hant_store *st, hant_teacher_rec *t, const uint8_t *data, size_t len) {
  char sha[65];
  sha256_hex(data, len, sha);
  if (strcmp(sha, t->sha256))
    return hant__error(HANT_EINVAL,
                       "%s: the file given (sha256 %.12s...) is not the teacher this library was built from "
                       "(sha256 %.12s..., recorded as %s)",
                       st->path, sha, t->sha256, t->path);
  sqlite3_stmt *s;
  int rc = prepare(st, "INSERT OR REPLACE INTO teacher_file (teacher_id, sha256, size, bytes) VALUES (?,?,?,?)", &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, t->id);
  sqlite3_bind_text(s, 2, sha, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)len);
  sqlite3_bind_blob64(s, 4, data, len, SQLITE_STATIC);
  if ((rc = step_done(st, s, "store the teacher file")))
    return rc;
  t->stored_bytes = (int64_t)len;
  return 0;
}

int hant_store_teacher_file(hant_store *st, const hant_teacher_rec *t, uint8_t **data, size_t *len) {
  *data = NULL;
  *len = 0;
  sqlite3_stmt *s;
  int rc = prepare(st, "SELECT bytes FROM teacher_file WHERE teacher_id = ?", &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, t->id);
  int step = sqlite3_step(s);
  if (step != SQLITE_ROW) {
    sqlite3_finalize(s);
    return step == SQLITE_DONE ? HANT_ENOENT : db_error(st, "read the teacher file");
  }
  int n = sqlite3_column_bytes(s, 0);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf) {
    sqlite3_finalize(s);
    return HANT_ENOMEM;
  }
  if (n > 0)
    memcpy(buf, sqlite3_column_blob(s, 0), (size_t)n);
  sqlite3_finalize(s);
  /* Hashed on every read: a blob edited in place would otherwise be run
   * as the teacher without a word. */
  char sha[65];
  sha256_hex(buf, (size_t)n, sha);
  if (strcmp(sha, t->sha256)) {
    free(buf);
    return hant__error(HANT_EFORMAT,
                       "%s: the teacher file stored in the library is damaged (sha256 %.12s..., expected %.12s...); "
                       "store it again with 'hant-distill library --db %s --store-teacher FILE'",
                       st->path, sha, t->sha256, st->path);
  }
  *data = buf;
  *len = (size_t)n;
  return 0;
}

/* ---- slots -------------------------------------------------------------- */

int hant_store_slot_put(hant_store *st, hant_slot_rec *r) {
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "INSERT INTO slot (teacher_id, idx, name, kind, arch, in_c, in_h, in_w, out_c, out_h, out_w, "
                   "macs, params) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, r->teacher_id);
  sqlite3_bind_int(s, 2, r->idx);
  sqlite3_bind_text(s, 3, r->name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 4, r->kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 5, r->arch, -1, SQLITE_TRANSIENT);
  int v[6] = {r->in_c, r->in_h, r->in_w, r->out_c, r->out_h, r->out_w};
  for (int i = 0; i < 6; i++)
    sqlite3_bind_int(s, 6 + i, v[i]);
  sqlite3_bind_double(s, 12, r->macs);
  sqlite3_bind_int64(s, 13, r->params);
  if ((rc = step_done(st, s, "insert slot")))
    return rc;
  r->id = sqlite3_last_insert_rowid(st->db);
  return 0;
}

/* One row of hant_store_slots, columns in the order of its SELECT. */
static int read_slot(sqlite3_stmt *s, void *rec) {
  hant_slot_rec *r = rec;
  r->id = sqlite3_column_int64(s, 0);
  r->teacher_id = sqlite3_column_int64(s, 1);
  r->idx = sqlite3_column_int(s, 2);
  col_text(s, 3, r->name, sizeof(r->name));
  col_text(s, 4, r->kind, sizeof(r->kind));
  col_text(s, 5, r->arch, sizeof(r->arch));
  r->in_c = sqlite3_column_int(s, 6);
  r->in_h = sqlite3_column_int(s, 7);
  r->in_w = sqlite3_column_int(s, 8);
  r->out_c = sqlite3_column_int(s, 9);
  r->out_h = sqlite3_column_int(s, 10);
  r->out_w = sqlite3_column_int(s, 11);
  r->macs = sqlite3_column_double(s, 12);
  r->params = sqlite3_column_int64(s, 13);
  return 0;
}

int hant_store_slots(hant_store *st, hant_slot_rec **out, int *n) {
  sqlite3_stmt *s;
  *out = NULL;
  *n = 0;
  int rc = prepare(st,
                   "SELECT id, teacher_id, idx, name, kind, arch, in_c, in_h, in_w, out_c, out_h, out_w, macs, "
                   "params FROM slot ORDER BY teacher_id, idx",
                   &s);
  if (rc)
    return rc;
  void *rows;
  rc = hant__store_list(st, s, sizeof(**out), 16, read_slot, NULL, "list slots", &rows, n);
  *out = rows;
  return rc;
}

/* ---- candidates --------------------------------------------------------- */

bool hant_store_candidate_exists(hant_store *st, int64_t slot_id, const char *key) {
  sqlite3_stmt *s;
  if (prepare(st, "SELECT 1 FROM candidate WHERE slot_id = ? AND key = ?", &s))
    return false;
  sqlite3_bind_int64(s, 1, slot_id);
  sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
  bool found = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return found;
}

/* One row of candidate_divergence, inside the caller's transaction. */
static int divergence_insert(hant_store *st, int64_t id, double kl, int images, const char *created) {
  if (!isfinite(kl) || kl < 0 || images < 1)
    return hant__error(HANT_EINVAL,
                       "%s: divergence of candidate %lld: expected a finite number >= 0 over at least one image "
                       "(got %g over %d)",
                       st->path, (long long)id, kl, images);
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "INSERT OR REPLACE INTO candidate_divergence (candidate_id, kl, val_images, created) "
                   "VALUES (?,?,?,?)",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_double(s, 2, kl);
  sqlite3_bind_int(s, 3, images);
  sqlite3_bind_text(s, 4, created, -1, SQLITE_TRANSIENT);
  return step_done(st, s, "store divergence");
}

int hant_store_candidate_put(hant_store *st, hant_cand_rec *c, const uint8_t *weights, size_t len) {
  sqlite3_stmt *s;
  if (!c->created[0])
    hant_store_now(c->created);
  int rc = hant_store_begin(st);
  if (rc)
    return rc;
  rc = prepare(st,
               "INSERT INTO candidate (slot_id, key, family, arch, hparams, init, seed, weights, params, macs, "
               "peak_act_bytes, loss_init, loss_final, val_accuracy, score, train_samples, train_seconds, "
               "cpu_seconds, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
               &s);
  if (rc)
    goto fail;
  sqlite3_bind_int64(s, 1, c->slot_id);
  sqlite3_bind_text(s, 2, c->key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 3, c->family, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 4, c->arch, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 5, c->hparams, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 6, c->init, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 7, (sqlite3_int64)c->seed);
  sqlite3_bind_blob64(s, 8, weights, len, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 9, c->params);
  sqlite3_bind_double(s, 10, c->macs);
  sqlite3_bind_int64(s, 11, c->peak_act_bytes);
  sqlite3_bind_double(s, 12, c->loss_init);
  sqlite3_bind_double(s, 13, c->loss_final);
  sqlite3_bind_double(s, 14, c->val_accuracy);
  sqlite3_bind_double(s, 15, c->score);
  sqlite3_bind_int64(s, 16, c->train_samples);
  sqlite3_bind_double(s, 17, c->train_seconds);
  sqlite3_bind_double(s, 18, c->cpu_seconds);
  sqlite3_bind_text(s, 19, c->created, -1, SQLITE_TRANSIENT);
  if ((rc = step_done(st, s, "insert candidate")))
    goto fail;
  c->id = sqlite3_last_insert_rowid(st->db);
  if ((c->kl_images > 0 && (rc = divergence_insert(st, c->id, c->val_kl, c->kl_images, c->created))) ||
      (rc = bump_version(st)) || (rc = hant_store_commit(st)))
    goto fail;
  return 0;
fail:
  hant_store_rollback(st);
  return rc;
}

int hant_store_divergence_put(hant_store *st, int64_t candidate_id, double kl, int images) {
  char now[32];
  hant_store_now(now);
  int rc = hant_store_begin(st);
  if (rc)
    return rc;
  if ((rc = divergence_insert(st, candidate_id, kl, images, now)) || (rc = bump_version(st)) ||
      (rc = hant_store_commit(st))) {
    hant_store_rollback(st);
    return rc;
  }
  return 0;
}

/* One row of hant_store_candidates, columns in the order of its SELECT. */
static int read_candidate(sqlite3_stmt *s, void *rec) {
  hant_cand_rec *c = rec;
  c->id = sqlite3_column_int64(s, 0);
  c->slot_id = sqlite3_column_int64(s, 1);
  col_text(s, 2, c->key, sizeof(c->key));
  col_text(s, 3, c->family, sizeof(c->family));
  col_text(s, 4, c->init, sizeof(c->init));
  col_text(s, 5, c->arch, sizeof(c->arch));
  col_text(s, 6, c->hparams, sizeof(c->hparams));
  c->seed = (uint64_t)sqlite3_column_int64(s, 7);
  c->params = sqlite3_column_int64(s, 8);
  c->peak_act_bytes = sqlite3_column_int64(s, 9);
  c->train_samples = sqlite3_column_int64(s, 10);
  c->macs = sqlite3_column_double(s, 11);
  c->loss_init = sqlite3_column_double(s, 12);
  c->loss_final = sqlite3_column_double(s, 13);
  c->val_accuracy = sqlite3_column_double(s, 14);
  c->score = sqlite3_column_double(s, 15);
  c->train_seconds = sqlite3_column_double(s, 16);
  c->cpu_seconds = sqlite3_column_double(s, 17);
  col_text(s, 18, c->created, sizeof(c->created));
  c->val_kl = sqlite3_column_type(s, 19) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 19);
  c->kl_images = sqlite3_column_int(s, 20);
  return 0;
}

int hant_store_candidates(hant_store *st, int64_t slot_id, hant_cand_rec **out, int *n) {
  sqlite3_stmt *s;
  *out = NULL;
  *n = 0;
  int rc = prepare(st,
                   "SELECT c.id, c.slot_id, c.key, c.family, c.init, c.arch, c.hparams, c.seed, c.params, "
                   "c.peak_act_bytes, c.train_samples, c.macs, c.loss_init, c.loss_final, c.val_accuracy, c.score, "
                   "c.train_seconds, c.cpu_seconds, c.created, d.kl, d.val_images FROM candidate c "
                   "JOIN slot s ON s.id = c.slot_id LEFT JOIN candidate_divergence d ON d.candidate_id = c.id "
                   "WHERE ?1 < 0 OR c.slot_id = ?1 ORDER BY s.idx, c.id",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, slot_id);
  void *rows;
  rc = hant__store_list(st, s, sizeof(**out), 64, read_candidate, NULL, "list candidates", &rows, n);
  *out = rows;
  return rc;
}

int hant_store_candidate_weights(hant_store *st, int64_t id, uint8_t **data, size_t *len) {
  sqlite3_stmt *s;
  int rc = prepare(st, "SELECT weights FROM candidate WHERE id = ?", &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, id);
  rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? hant__error(HANT_ENOENT, "%s: no candidate %lld", st->path, (long long)id)
                             : db_error(st, "read weights");
  }
  int n = sqlite3_column_bytes(s, 0);
  *data = malloc(n > 0 ? (size_t)n : 1);
  if (!*data) {
    sqlite3_finalize(s);
    return HANT_ENOMEM;
  }
  if (n > 0)
    memcpy(*data, sqlite3_column_blob(s, 0), (size_t)n);
  *len = (size_t)n;
  sqlite3_finalize(s);
  return 0;
}

int hant_store_candidate_net(hant_store *st, int64_t id, hant_net **out) {
  *out = NULL;
  uint8_t *w;
  size_t len;
  int rc = hant_store_candidate_weights(st, id, &w, &len);
  if (rc)
    return rc;
  char label[64];
  snprintf(label, sizeof(label), "candidate %lld", (long long)id);
  rc = hant_netfile_parse(w, len, label, out, NULL);
  free(w);
  if (!rc && (rc = hant_net_fold_bn(*out))) {
    hant_net_destroy(*out);
    *out = NULL;
  }
  return rc;
}

/* ---- devices and costs ------------------------------------------------ */

int hant_store_device_put(hant_store *st, const char *name, const char *profile_json, int64_t *id) {
  char sha[65], now[32];
  hant_sha256 h;
  hant_sha256_init(&h);
  hant_sha256_update(&h, profile_json, strlen(profile_json));
  hant_sha256_hex(&h, sha);
  hant_store_now(now);
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "INSERT INTO device (name, profile, profile_sha256, updated) VALUES (?1, ?2, ?3, ?4) "
                   "ON CONFLICT(name) DO UPDATE SET profile = ?2, profile_sha256 = ?3, updated = ?4 "
                   "WHERE profile_sha256 != ?3",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, profile_json, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 3, sha, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 4, now, -1, SQLITE_TRANSIENT);
  if ((rc = step_done(st, s, "store device")))
    return rc;
  if ((rc = prepare(st, "SELECT id FROM device WHERE name = ?", &s)))
    return rc;
  sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(s) == SQLITE_ROW ? 0 : db_error(st, "find device");
  if (!rc)
    *id = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return rc;
}

/* One row of hant_store_devices, columns in the order of its SELECT. */
static int read_device(sqlite3_stmt *s, void *rec) {
  hant_device_rec *d = rec;
  d->id = sqlite3_column_int64(s, 0);
  col_text(s, 1, d->name, sizeof(d->name));
  col_text(s, 2, d->profile_sha256, sizeof(d->profile_sha256));
  col_text(s, 3, d->updated, sizeof(d->updated));
  const unsigned char *t = sqlite3_column_text(s, 4);
  d->profile = strdup(t ? (const char *)t : "");
  return 0;
}

/* A failed listing frees the profiles read so far as well. */
static void free_devices(void *rows, int n) { hant_store_devices_free(rows, n); }

int hant_store_devices(hant_store *st, hant_device_rec **out, int *n) {
  sqlite3_stmt *s;
  *out = NULL;
  *n = 0;
  int rc = prepare(st, "SELECT id, name, profile_sha256, updated, profile FROM device ORDER BY name", &s);
  if (rc)
    return rc;
  void *rows;
  rc = hant__store_list(st, s, sizeof(**out), 8, read_device, free_devices, "list devices", &rows, n);
  *out = rows;
  return rc;
}

void hant_store_devices_free(hant_device_rec *d, int n) {
  for (int i = 0; d && i < n; i++)
    free(d[i].profile);
  free(d);
}

int hant_store_cost_put(hant_store *st, int64_t device_id, const hant_cost_rec *c) {
  sqlite3_stmt *s;
  char now[32];
  hant_store_now(now);
  int rc = prepare(st,
                   "INSERT OR REPLACE INTO cost (candidate_id, device_id, power_mode, batch, latency_ms, "
                   "latency_spread, energy_mj, memory_bytes, source, energy_source, detail, updated) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_int64(s, 1, c->candidate_id);
  sqlite3_bind_int64(s, 2, device_id);
  sqlite3_bind_text(s, 3, c->power_mode, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(s, 4, c->batch > 0 ? c->batch : 1);
  sqlite3_bind_double(s, 5, c->latency_ms);
  if (c->latency_spread >= 0)
    sqlite3_bind_double(s, 6, c->latency_spread);
  else
    sqlite3_bind_null(s, 6);
  sqlite3_bind_double(s, 7, c->energy_mj);
  sqlite3_bind_int64(s, 8, c->memory_bytes);
  sqlite3_bind_text(s, 9, c->source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 10, c->energy_source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 11, c->detail[0] ? c->detail : "{}", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 12, now, -1, SQLITE_TRANSIENT);
  return step_done(st, s, "store cost");
}

/* One row of hant_store_costs, columns in the order of its SELECT. */
static int read_cost(sqlite3_stmt *s, void *rec) {
  hant_cost_rec *c = rec;
  c->candidate_id = sqlite3_column_int64(s, 0);
  col_text(s, 1, c->device, sizeof(c->device));
  col_text(s, 2, c->power_mode, sizeof(c->power_mode));
  c->batch = sqlite3_column_int(s, 3);
  c->latency_ms = sqlite3_column_double(s, 4);
  c->latency_spread = sqlite3_column_double(s, 5);
  c->energy_mj = sqlite3_column_double(s, 6);
  c->memory_bytes = sqlite3_column_int64(s, 7);
  col_text(s, 8, c->source, sizeof(c->source));
  col_text(s, 9, c->energy_source, sizeof(c->energy_source));
  col_text(s, 10, c->detail, sizeof(c->detail));
  col_text(s, 11, c->updated, sizeof(c->updated));
  return 0;
}

int hant_store_costs(hant_store *st, const char *device, hant_cost_rec **out, int *n) {
  sqlite3_stmt *s;
  *out = NULL;
  *n = 0;
  int rc = prepare(st,
                   "SELECT c.candidate_id, d.name, c.power_mode, c.batch, c.latency_ms, ifnull(c.latency_spread, -1), "
                   "c.energy_mj, c.memory_bytes, c.source, c.energy_source, c.detail, c.updated FROM cost c "
                   "JOIN device d ON d.id = c.device_id WHERE ?1 IS NULL OR d.name = ?1 "
                   "ORDER BY c.candidate_id, d.name, c.power_mode, c.batch",
                   &s);
  if (rc)
    return rc;
  if (device)
    sqlite3_bind_text(s, 1, device, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(s, 1);
  void *rows;
  rc = hant__store_list(st, s, sizeof(**out), 256, read_cost, NULL, "list costs", &rows, n);
  *out = rows;
  return rc;
}

int hant_store_touch(hant_store *st) { return bump_version(st); }

int hant_store_meta_get(hant_store *st, const char *key, char **value) {
  *value = NULL;
  sqlite3_stmt *s;
  int rc = prepare(st, "SELECT value FROM meta WHERE key = ?", &s);
  if (rc)
    return rc;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(s, 0);
    *value = strdup(v ? v : "");
    rc = *value ? 0 : HANT_ENOMEM;
  } else if (step == SQLITE_DONE) {
    rc = HANT_ENOENT;
  } else {
    rc = db_error(st, "read meta");
  }
  sqlite3_finalize(s);
  return rc;
}

int hant_store_meta_put(hant_store *st, const char *key, const char *value) {
  sqlite3_stmt *s;
  int rc = prepare(st, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", &s);
  if (rc)
    return rc;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, value, -1, SQLITE_TRANSIENT);
  return step_done(st, s, "store meta");
}

/* ---- build runs --------------------------------------------------------- */

int hant_store_run_begin(hant_store *st, hant_run_rec *r) {
  sqlite3_stmt *s;
  if (!r->started[0])
    hant_store_now(r->started);
  int rc = prepare(st, "INSERT INTO build_run (started, args) VALUES (?, ?)", &s);
  if (rc)
    return rc;
  sqlite3_bind_text(s, 1, r->started, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, r->args, -1, SQLITE_TRANSIENT);
  if ((rc = step_done(st, s, "insert build run")))
    return rc;
  r->id = sqlite3_last_insert_rowid(st->db);
  return 0;
}

int hant_store_run_update(hant_store *st, const hant_run_rec *r) {
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "UPDATE build_run SET finished = NULLIF(?, ''), candidates = ?, wall_seconds = ?, cpu_seconds = ?, "
                   "energy_j = ?, energy_source = ?, grid_g_per_kwh = ?, co2_g = ? WHERE id = ?",
                   &s);
  if (rc)
    return rc;
  sqlite3_bind_text(s, 1, r->finished, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 2, r->candidates);
  sqlite3_bind_double(s, 3, r->wall_seconds);
  sqlite3_bind_double(s, 4, r->cpu_seconds);
  sqlite3_bind_double(s, 5, r->energy_j);
  sqlite3_bind_text(s, 6, r->energy_source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(s, 7, r->grid_g_per_kwh);
  sqlite3_bind_double(s, 8, r->co2_g);
  sqlite3_bind_int64(s, 9, r->id);
  return step_done(st, s, "update build run");
}

/* One row of hant_store_runs, columns in the order of its SELECT. */
static int read_run(sqlite3_stmt *s, void *rec) {
  hant_run_rec *r = rec;
  r->id = sqlite3_column_int64(s, 0);
  col_text(s, 1, r->started, sizeof(r->started));
  col_text(s, 2, r->finished, sizeof(r->finished));
  col_text(s, 3, r->args, sizeof(r->args));
  r->candidates = sqlite3_column_int64(s, 4);
  r->wall_seconds = sqlite3_column_double(s, 5);
  r->cpu_seconds = sqlite3_column_double(s, 6);
  r->energy_j = sqlite3_column_double(s, 7);
  col_text(s, 8, r->energy_source, sizeof(r->energy_source));
  r->grid_g_per_kwh = sqlite3_column_double(s, 9);
  r->co2_g = sqlite3_column_double(s, 10);
  return 0;
}

int hant_store_runs(hant_store *st, hant_run_rec **out, int *n) {
  sqlite3_stmt *s;
  *out = NULL;
  *n = 0;
  int rc = prepare(st,
                   "SELECT id, started, ifnull(finished, ''), args, candidates, wall_seconds, cpu_seconds, energy_j, "
                   "energy_source, grid_g_per_kwh, co2_g FROM build_run ORDER BY id",
                   &s);
  if (rc)
    return rc;
  void *rows;
  rc = hant__store_list(st, s, sizeof(**out), 8, read_run, NULL, "list build runs", &rows, n);
  *out = rows;
  return rc;
}

/* ---- the build lock ----------------------------------------------------- */

int hant_store_lock_build(hant_store *st) {
  if (st->build_lock >= 0)
    return 0;
  char path[1100];
  snprintf(path, sizeof(path), "%s.build-lock", st->path);
  /* Not through a link another user planted, and never blocking on a FIFO. */
  int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0)
    return hant__error(HANT_EIO, "%s: cannot open the build lock: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
    close(fd);
    return hant__error(HANT_EIO, "%s: the build lock is not a regular file; remove it", path);
  }
  if (flock(fd, LOCK_EX | LOCK_NB)) {
    int e = errno;
    char holder[160] = "";
    ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    close(fd);
    if (e != EWOULDBLOCK)
      return hant__error(HANT_EIO, "%s: cannot lock: %s", path, strerror(e));
    return hant__error(HANT_EBUSY,
                       "%s: another 'hant-distill build' (%s) is writing this library; wait for it to finish, or "
                       "build into another --db",
                       st->path, holder[0] ? holder : "holder unknown");
  }
  /* Who holds it, for the message of the next one. */
  char me[160], host[65] = "", now[32];
  if (gethostname(host, sizeof(host) - 1))
    snprintf(host, sizeof(host), "?");
  hant_store_now(now);
  int len = snprintf(me, sizeof(me), "pid %d on %.64s, since %s\n", (int)getpid(), host, now);
  if (ftruncate(fd, 0) || pwrite(fd, me, (size_t)len, 0) != len) {
    /* The lock holds all the same; only the next message is poorer. */
  }
  st->build_lock = fd;
  return 0;
}
