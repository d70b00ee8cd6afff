/* SPDX-License-Identifier: MIT */
/* library.h: an immutable in-memory snapshot of a library (teacher, slots, candidates, devices, costs) for fast, shared selection and measurement. */
#ifndef HANT_LIBRARY_H
#define HANT_LIBRARY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "additivity.h"
#include "build_settings.h"
#include "device.h"
#include "net.h"
#include "store.h"
#include "store_calib.h"
#include "store_int8.h"

/* Costs of every candidate on one device in one power mode, at batch 1. */
typedef struct hant_library_mode {
  char name[32];         /* the cost rows' power_mode, "" when the device has none */
  double idle_w;         /* idle power of the mode from the device profile, W; -1 when unknown */
  double *latency_ms;    /* [n_cands] median */
  double *energy_mj;     /* [n_cands] per inference */
  double *memory_bytes;  /* [n_cands] weights + peak activations */
  unsigned char *has;    /* [n_cands] 1 where the library has a cost row */
  int n_costed;          /* candidates with a cost row */
} hant_library_mode;

/* One device of the library: its stored profile and its costs. */
typedef struct hant_library_device {
  char name[64];
  char profile_sha256[65]; /* of the stored profile text */
  hant_device *profile; /* parsed stored profile, or NULL when it does not parse */
  char profile_error[256]; /* why it did not parse */
  char sources[64];     /* cost sources seen, e.g. "modelled" or "measured,imported" */
  int n_modes;
  hant_library_mode *modes; /* [n_modes] in the profile's order when it has modes */
  bool has_additivity;
  hant_additivity additivity; /* latency correction (additivity.h), when has_additivity */
} hant_library_device;

/* The teacher network of a snapshot, loaded on first use; private to library.c. */
struct hant__library_teacher;

/* A snapshot. Created by hant_library_load(), read by any number of
 * threads at once, and destroyed when its last reference is dropped: a
 * daemon swaps in a new snapshot on reload while requests in flight
 * finish on the one they started with. Nothing in it changes after the
 * load except the teacher network, which hant_library_teacher loads once,
 * under its own lock, the first time a thread asks for it. */
typedef struct hant_library {
  int64_t version;  /* the store's library version when loaded */
  char path[1024];  /* the database */
  bool has_teacher; /* false for an empty library */
  hant_teacher_rec teacher;
  bool has_build;   /* false for a library built before build settings were recorded */
  hant_build_settings build; /* what the library was built with (preset, images, epochs), when has_build */
  int n_slots;
  hant_slot_rec *slots;  /* [n_slots] in network order */
  int n_cands;
  hant_cand_rec *cands;  /* [n_cands] ordered by slot */
  int *slot_first;       /* [n_slots] index of each slot's first candidate */
  int *slot_count;       /* [n_slots] candidates per slot */
  int *by_id;            /* [n_cands] candidate indices sorted by id */
  int n_devices;
  hant_library_device *devices; /* [n_devices] sorted by name */
  int n_profiles;
  char (*profiles)[64]; /* profile names on the device search path (device.h), sorted */
  double load_ms;       /* time taken to load */
  /* The calibrated accuracy predictor (store_calib.h, select/predictor.h),
   * when the library has a fit with a coefficient for every candidate:
   * calib_coef[c] is candidate c's coefficient on calib.scale. A fit
   * older than some candidate leaves calibrated false. */
  bool calibrated;
  /* The solver maximises the fit's coefficients only when the fit ranked
   * held-out networks better than the additive objective did (calibration
   * records which, meta key calibration_objective); otherwise it keeps the
   * noise-aware scores and only the prediction shown is the fit's. */
  bool calib_objective;
  double calib_additive_tau; /* the additive objective's Kendall tau on the samples; NaN if not recorded */
  /* The divergences predicted the calibration samples better than the fit
   * did (meta calibration_prediction), with this median absolute error
   * (meta calibration_divergence_median_abs_err; calibration_divergence
   * has its other figures); only with has_divergence. */
  bool calib_by_divergence;
  double calib_div_median_abs_err;
  hant_calib_fit_rec calib;
  double *calib_coef;   /* [n_cands] when calibrated, else NULL */
  int calib_missing;    /* candidates without a coefficient when a fit exists (stale fit) */
  /* int8 scores (store_int8.h, hant-distill quantize): the int8 teacher,
   * when the library has one, and each candidate's int8 score and
   * accuracy, NaN where it has none (never quantised, or an operator
   * without an int8 form). int8_scored counts the candidates with one. */
  /* Divergences (store.h's val_kl): has_divergence when every candidate
   * has one and they explain the scores (kl_slope > 0); kl_slope is the
   * validation accuracy (fraction) a nat of divergence costs, fitted through
   * the origin on the library's own candidates whose divergence is at most
   * HANT_LIBRARY_KL_FIT_MAX (hant_library_divergence). kl_measured counts the
   * candidates with one. */
  bool has_divergence;
  double kl_slope;
  int kl_measured;
  /* What a nat of divergence costs in each slot (fraction of accuracy).
   * A calibrated library whose samples showed that cuts cost more in some
   * slots than others (they compound through the network) has one weight
   * per slot fitted on them (kl_slot_weighted; meta
   * calibration_slot_kl_weights, set by hant_calibration_fit), and the
   * prediction uses them: kl_pred_weight[c] is candidate c's slot's. The
   * solver maximises them too (kl_weight[c]) only when the calibration's
   * measured check found their choices no worse (kl_slot_objective, meta
   * calibration_slot_kl_objective); otherwise kl_weight is kl_slope
   * everywhere, as it is for both in every other library. [n_slots] and
   * [n_cands]; NULL without divergences. */
  bool kl_slot_weighted, kl_slot_objective;
  /* The scale of the prediction's chance floor (select/predictor.h's
   * hant_floor_predict): meta calibration_floor_scale, fitted by the
   * calibration; 0 (the hard floor) in every other library. */
  double kl_floor_scale;
  double *kl_slot_weight;
  double *kl_pred_weight;
  double *kl_weight;
  /* Only in an int8 view of a library with divergences (fp32 figures):
   * what quantising costs each candidate beyond its divergence, its int8
   * score minus its fp32 score when that is a loss, else 0 (fraction of
   * accuracy, <= 0). Both scores come from the same validation images,
   * so the difference is paired. NULL elsewhere. */
  double *int8_cost;
  bool has_int8;
  hant_int8_teacher_rec int8;
  double *int8_score;        /* [n_cands] when has_int8, else NULL */
  double *int8_val_accuracy; /* [n_cands] when has_int8, else NULL */
  int int8_scored;
  atomic_int refs;      /* managed by hant_library_ref/unref */
  struct hant__library_teacher *teacher_net; /* see hant_library_teacher */
} hant_library;

/* Loads a snapshot of st. devices_dir (may be NULL) is searched first for
 * profiles, as in hant_device_list(). A library without a teacher loads
 * as an empty snapshot. On success *out holds one reference. */
int hant_library_load(hant_store *st, const char *devices_dir, hant_library **out);

/* Divergences above this (nats) are past the range where accuracy falls
 * in proportion (a candidate that costs half the accuracy), so the slope's
 * fit leaves them out. */
#define HANT_LIBRARY_KL_FIT_MAX 0.5
/* Whether divergences rank the n candidates: every one has a divergence
 * and the accuracy lost per nat, sum(kl x -score) / sum(kl^2) over those
 * with 0 < kl <= HANT_LIBRARY_KL_FIT_MAX, is positive. Sets *measured
 * (candidates with one) and *slope (0 when none qualify). */
bool hant_library_divergence(const hant_cand_rec *cands, int n, int *measured, double *slope);

/* Parses calibration_slot_kl_weights' text, comma-separated weights
 * (finite, >= 0), into w (at most max): the count, or -1 when the text is
 * not such a list or has more ("none" is not). */
int hant_library_slot_weights_parse(const char *text, double *w, int max);
/* Parses calibration_floor_scale's text, one number in [0, 1]: it, or 0
 * (the hard floor) for NULL or anything else. */
double hant_library_floor_scale_parse(const char *text);

/* Takes another reference (thread-safe); returns lib. */
hant_library *hant_library_ref(hant_library *lib);
/* Drops a reference (thread-safe); the last one frees the snapshot. NULL is a no-op. */
void hant_library_unref(hant_library *lib);

/* The device of that name, or NULL. */
const hant_library_device *hant_library_device_find(const hant_library *lib, const char *name);
/* Index of a mode of dev by name, or -1. */
int hant_library_mode_find(const hant_library_device *dev, const char *mode);
/* Index of a candidate by id, or -1. */
int hant_library_cand_find(const hant_library *lib, int64_t id);

/* The library as a device that computes in int8 sees it: every candidate's
 * score and validation accuracy are its int8 ones (hant-distill quantize)
 * and the teacher's accuracy the int8 teacher's; the view is not
 * calibrated (the fit is of fp32 networks). A library with divergences
 * keeps them, each candidate's value adding its int8_cost (the scores'
 * noise would otherwise rank the int8 choice as it once did the fp32 one). *missing gets the number of
 * candidates costed on dev without an int8 score; *view is set only when
 * that is 0 and some candidate is costed, else NULL. The view shares
 * everything but its candidate and int8_cost arrays with lib and must not outlive it;
 * free it with hant_library_view_free, never hant_library_unref. The
 * caller checks that dev computes in int8. HANT_ENOMEM, else 0. */
int hant_library_int8_view(const hant_library *lib, const hant_library_device *dev, hant_library **view,
                           int *missing);
void hant_library_view_free(hant_library *view);

/* The snapshot's teacher network, ready for assembly (hant_teacher_prepare),
 * loaded as hant_library_teacher_load does, through st (a connection to
 * the snapshot's library, the calling thread's own), the first time any
 * thread asks, and then shared: later calls, from any thread, return the
 * same network without reading or hashing the teacher again, and do not
 * use st. A load that fails is tried again by the next call. The network
 * belongs to the snapshot and lives as long as it; callers only read it
 * (hant_assemble copies what it uses into a network of its own).
 * HANT_ENOENT ("the library is empty: it has no teacher") for an empty
 * snapshot; otherwise the load's errors. */
int hant_library_teacher(const hant_library *lib, hant_store *st, const hant_net **teacher);

/* Loads the teacher t records for the library st, ready for assembly
 * (hant_teacher_prepare). A library that holds its teacher's file
 * (t->stored_bytes > 0, schema version 4) is self-contained: the stored
 * bytes are read, checked against t->sha256 and parsed, and t->path is
 * never opened, so the working directory and the file's fate do not
 * matter. A library built before that loads from t->path as recorded
 * when it is absolute or readable, else from t->path beside the
 * database, checked against t->sha256; when that fails, the message
 * names the library, the file and why, and says how to store the
 * teacher ('hant-distill library --db L --store-teacher FILE'). On
 * success *teacher is a new network the caller owns. path (n bytes, may
 * be NULL) receives the teacher's name: the recorded path when it came
 * from the library, else the file read. */
int hant_library_teacher_load(hant_store *st, const hant_teacher_rec *t, hant_net **teacher, char *path, size_t n);

/* Parses a teacher file's bytes (hant's native format when they start
 * with "HANTNET1", else ONNX without external data files) and prepares
 * it as a teacher; name labels messages. On success *teacher is a new
 * network the caller owns; NULL on failure. Used for stored teachers and
 * to check that a file can be stored (its bytes alone are the model). */
int hant_library_teacher_parse(const uint8_t *data, size_t len, const char *name, hant_net **teacher);

/* Stores the file at path in the library st as the bytes of its teacher t
 * (hant_store_teacher_file_put), making the library self-contained; for
 * a library built before libraries held their teachers, and for builds.
 * Errors name the file and the library: HANT_EINVAL when the file is not
 * the teacher the library was built from (another SHA-256), HANT_ENOTSUP
 * when its bytes alone are not the model (an ONNX file whose weights are
 * in external data files), the read's errors otherwise. Sets
 * t->stored_bytes. */
int hant_library_teacher_store(hant_store *st, hant_teacher_rec *t, const char *path);

#endif
