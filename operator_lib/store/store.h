/* SPDX-License-Identifier: MIT */
/* store.h: the operator library in SQLite: teacher, slots, candidates, devices, costs and build runs. */
#ifndef HANT_STORE_H
#define HANT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

/* An open library. Not thread-safe: use one per thread. */
typedef struct hant_store hant_store;

enum {
  HANT_STORE_READONLY = 1 << 0, /* refuse to write; the file must exist */
  HANT_STORE_CREATE = 1 << 1,   /* create and migrate a missing file */
  HANT_STORE_NOCHECK = 1 << 2,  /* skip the quick_check on open */
};

/* Opens (and with HANT_STORE_CREATE creates) a library. Sets WAL mode, a
 * busy timeout, foreign keys, checks the application id (a database of
 * another application is refused), applies pending migrations from
 * schema/migrations in one transaction each, and runs PRAGMA quick_check.
 * Errors name the file and the problem. */
int hant_store_open(const char *path, int flags, hant_store **out);
void hant_store_close(hant_store *st);

const char *hant_store_path(const hant_store *st);
/* PRAGMA user_version after migration. */
int hant_store_schema_version(hant_store *st);
/* Runs PRAGMA integrity_check; *ok is true when SQLite answers "ok". */
int hant_store_integrity(hant_store *st, bool *ok, char *msg, size_t msg_len);

/* A counter bumped by every write that changes what selection would see
 * (candidates, costs, devices); caches key on it. */
int hant_store_library_version(hant_store *st, int64_t *version);

int hant_store_begin(hant_store *st);
int hant_store_commit(hant_store *st);
int hant_store_rollback(hant_store *st);

/* ---- teacher ------------------------------------------------------------ */
typedef struct hant_teacher_rec {
  int64_t id;
  char sha256[65];
  char path[1024];
  char format[8];
  int input_c, input_h, input_w, classes;
  double macs;
  int64_t params;
  double val_accuracy;
  char val_split[64];
  int val_images;
  char created[32];
  int64_t stored_bytes; /* size of the teacher file stored in the library (teacher_file); 0: none stored */
} hant_teacher_rec;

/* HANT_ENOENT when the library has no teacher yet. */
int hant_store_teacher_get(hant_store *st, hant_teacher_rec *t);
/* Inserts the teacher; sets t->id. Its file is stored apart
 * (hant_store_teacher_file_put); t->stored_bytes is ignored. */
int hant_store_teacher_put(hant_store *st, hant_teacher_rec *t);

/* Stores the bytes of the teacher's file in the library (table
 * teacher_file, schema version 4), replacing any stored before, so that
 * the library is self-contained: programs load the teacher from it
 * instead of from t->path. The bytes must hash to t->sha256: HANT_EINVAL
 * naming the library and both hashes when they do not (another file).
 * t->id must be the library's teacher. Sets t->stored_bytes. Does not
 * bump the library version: selection sees nothing new. */
int hant_store_teacher_file_put(hant_store *st, hant_teacher_rec *t, const uint8_t *data, size_t len);

/* Reads the stored teacher file of t into *data (malloc'd, the caller
 * frees it) and *len, after checking that its bytes still hash to
 * t->sha256 (HANT_EFORMAT naming the library when they do not: the
 * database was altered). HANT_ENOENT, without a message, when the
 * library holds no file for t (built before schema version 4). */
int hant_store_teacher_file(hant_store *st, const hant_teacher_rec *t, uint8_t **data, size_t *len);

/* ---- slots -------------------------------------------------------------- */
typedef struct hant_slot_rec {
  int64_t id, teacher_id;
  int idx;
  char name[32], kind[16], arch[192];
  int in_c, in_h, in_w, out_c, out_h, out_w;
  double macs;
  int64_t params;
} hant_slot_rec;

int hant_store_slot_put(hant_store *st, hant_slot_rec *s);
/* All slots of the teacher in order; *out is malloc'd (free it). */
int hant_store_slots(hant_store *st, hant_slot_rec **out, int *n);

/* ---- candidates --------------------------------------------------------- */
typedef struct hant_cand_rec {
  int64_t id, slot_id;
  char key[96], family[24], init[24];
  char arch[320];
  char hparams[256];
  uint64_t seed;
  int64_t params, peak_act_bytes, train_samples;
  double macs, loss_init, loss_final, val_accuracy, score;
  double train_seconds, cpu_seconds;
  char created[32];
  /* Its divergence from the teacher (table candidate_divergence): the mean
   * KL(teacher || the teacher with only this candidate in its slot), nats
   * per image, on the first kl_images validation images. Stored only when
   * kl_images > 0; read back as NAN with kl_images 0 when not measured (a
   * library built before schema version 8). */
  double val_kl;
  int kl_images;
} hant_cand_rec;

bool hant_store_candidate_exists(hant_store *st, int64_t slot_id, const char *key);
/* Inserts a finished candidate with its weights (a native network file),
 * and its divergence when c->kl_images > 0, in its own transaction,
 * and bumps the library version. Sets c->id. */
int hant_store_candidate_put(hant_store *st, hant_cand_rec *c, const uint8_t *weights, size_t len);
/* Stores a candidate's divergence measured after it was built (replacing
 * any), in its own transaction, and bumps the library version. HANT_EINVAL
 * when kl is not a finite number >= 0 or images < 1. */
int hant_store_divergence_put(hant_store *st, int64_t candidate_id, double kl, int images);
/* Candidates of a slot (all slots when slot_id < 0), ordered by slot and
 * id, with their divergences; *out is malloc'd. */
int hant_store_candidates(hant_store *st, int64_t slot_id, hant_cand_rec **out, int *n);
/* The weights blob of a candidate; *data is malloc'd. */
int hant_store_candidate_weights(hant_store *st, int64_t id, uint8_t **data, size_t *len);
/* Loads candidate `id` as a network ready to run or assemble: its weights
 * parsed and its batch norms folded. *out is the caller's
 * (hant_net_destroy); NULL on failure. */
int hant_store_candidate_net(hant_store *st, int64_t id, hant_net **out);

/* ---- devices and costs ------------------------------------------------ */
typedef struct hant_device_rec {
  int64_t id;
  char name[64];
  char profile_sha256[65];
  char updated[32];
  char *profile; /* JSON text, malloc'd by hant_store_devices; free with hant_store_devices_free */
} hant_device_rec;

/* Inserts or replaces a device profile (by name); sets *id. */
int hant_store_device_put(hant_store *st, const char *name, const char *profile_json, int64_t *id);
int hant_store_devices(hant_store *st, hant_device_rec **out, int *n);
void hant_store_devices_free(hant_device_rec *d, int n);

typedef struct hant_cost_rec {
  int64_t candidate_id;
  char device[64];
  char power_mode[32];
  int batch;
  double latency_ms;     /* median */
  double latency_spread; /* (p90 - p10) / median, or -1 when not measured */
  double energy_mj;
  int64_t memory_bytes;
  char source[12];       /* measured, imported, modelled */
  char energy_source[96];
  char detail[512];      /* JSON */
  char updated[32];
} hant_cost_rec;

/* Inserts or replaces a cost of a candidate on a device (by device id),
 * without its own transaction; callers batch many in one. */
int hant_store_cost_put(hant_store *st, int64_t device_id, const hant_cost_rec *c);
/* All costs, or those of one device (device non-NULL), ordered by
 * candidate. *out is malloc'd. */
int hant_store_costs(hant_store *st, const char *device, hant_cost_rec **out, int *n);
/* Bumps the library version (after a batch of cost writes). */
int hant_store_touch(hant_store *st);

/* ---- meta --------------------------------------------------------------- */
/* Small named values of the library (e.g. "additivity.host", JSON). get
 * gives a malloc'd copy in *value (free it), or HANT_ENOENT. put inserts
 * or replaces, without its own transaction. */
int hant_store_meta_get(hant_store *st, const char *key, char **value);
int hant_store_meta_put(hant_store *st, const char *key, const char *value);

/* ---- build runs --------------------------------------------------------- */
typedef struct hant_run_rec {
  int64_t id;
  char started[32], finished[32];
  char args[512];
  int64_t candidates;
  double wall_seconds, cpu_seconds, energy_j;
  char energy_source[96];
  double grid_g_per_kwh, co2_g;
} hant_run_rec;

int hant_store_run_begin(hant_store *st, hant_run_rec *r);
/* Rewrites the run's totals (called after every candidate, so a killed
 * build still records what it spent). */
int hant_store_run_update(hant_store *st, const hant_run_rec *r);
int hant_store_runs(hant_store *st, hant_run_rec **out, int *n);

/* Makes st the only builder of its library: an exclusive lock (flock) on
 * PATH.build-lock, a regular file beside the database (created if missing,
 * never through a symbolic link), held until hant_store_close. Call it
 * before any training: a second builder gets HANT_EBUSY at once, its
 * message naming the holder's pid, host and start. Calling it again on the
 * same store is a no-op. */
int hant_store_lock_build(hant_store *st);

/* UTC time as ISO 8601, e.g. "2026-11-21T14:05:00Z". */
void hant_store_now(char buf[32]);

#endif
