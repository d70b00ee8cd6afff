/* SPDX-License-Identifier: MIT */
/* distill.h: builds the operator library by layer-wise knowledge distillation from a teacher. */
#ifndef HANT_DISTILL_H
#define HANT_DISTILL_H

#include <stdbool.h>
#include <stdint.h>

#include "dataset.h"
#include "net.h"
#include "store.h"

typedef enum hant_distill_ev {
  HANT_DISTILL_EV_SLOT,      /* a chunk of a slot's candidates starts */
  HANT_DISTILL_EV_PROGRESS,  /* training progress within the chunk */
  HANT_DISTILL_EV_CANDIDATE, /* a candidate was committed */
  HANT_DISTILL_EV_DONE,      /* the build finished */
  HANT_DISTILL_EV_ROUND,     /* a candidate's round was scored on the validation split */
} hant_distill_ev;

typedef struct hant_distill_event {
  hant_distill_ev kind;
  int slot, n_slots;
  const char *slot_name;
  int slot_done, slot_total; /* candidates of this slot in the library / planned */
  int done, total;           /* over all slots (this shard) */
  int chunk_size;
  double chunk_frac;         /* 0-1 through the current chunk's training */
  /* The same counts weighed by work, in MACs (hant_distill_candidate_work):
   * slots differ a hundredfold in cost, so an ETA from candidate counts is
   * wrong whenever the slots left are not average. work_done counts
   * committed candidates; the chunk in flight is chunk_work x chunk_frac. */
  double work_done, work_total, chunk_work;
  double elapsed_s;
  const hant_cand_rec *cand; /* for HANT_DISTILL_EV_CANDIDATE */
  /* For HANT_DISTILL_EV_ROUND: the candidate, the round just trained (1 =
   * the first), its mean squared feature error on the validation split,
   * and whether it stops (converged, worse than its best round, or at
   * its cap). */
  const char *round_key;
  int round;
  double round_loss;
  bool round_stop;
} hant_distill_event;

typedef void (*hant_distill_progress_fn)(void *user, const hant_distill_event *e);

/* How dws, ir and group candidates start before distillation. */
typedef enum hant_distill_init {
  HANT_DISTILL_INIT_RANDOM, /* as generated: He-random (dws, ir), the teacher's block-diagonal weights (group) */
  /* As generated, then the last convolution fitted by ridge regression
   * to the teacher's slot output on 512 training images
   * (family_lsq.h); a candidate whose ending has nothing to fit stays as
   * generated. */
  HANT_DISTILL_INIT_LSQ,
  HANT_DISTILL_INIT_COUNT
} hant_distill_init;

/* "random" or "lsq"; NULL for a value out of range. */
const char *hant_distill_init_name(hant_distill_init i);
/* HANT_DISTILL_INIT_COUNT for an unknown name. */
hant_distill_init hant_distill_init_from_name(const char *s);
/* The names, for messages: "random or lsq". */
const char *hant_distill_init_names(void);

typedef struct hant_distill_opts {
  unsigned families;   /* mask over hant_family; see hant_family_mask */
  int per_family;      /* at most this many candidates per family and slot (hant_family_thin); 0: all */
  /* Training runs in rounds of one epoch each, on a cosine schedule whose
   * peak halves from round to round. After each round the candidate's
   * feature loss on the validation split is measured; it stops when that
   * improved by less than `plateau` (relative), or got worse (its best
   * round's weights are kept), or at its cap. */
  int epochs;          /* round cap of randomly initialised candidates */
  int epochs_teacher;  /* round cap of teacher-initialised ones; 0: epochs */
  double plateau;      /* relative improvement below which a candidate stops; 0: never early */
  int batch;
  float lr_random;     /* Adam learning rate for randomly initialised candidates */
  float lr_teacher;    /* ... and for candidates initialised from the teacher */
  hant_distill_init init; /* how randomly initialised candidates start */
  int jobs;            /* worker threads; each uses one BLAS thread */
  int chunk;           /* candidates trained together per pass over the teacher; 0: hant_distill_chunk's */
  uint64_t seed;
  double grid_g_per_kwh;
  int shard, shards;   /* train only tasks whose index % shards == shard */
  const char *args;    /* command line, recorded with the build run */
  bool record_run;     /* write a build_run row (the store must be writable) */
  const char *slots;   /* comma-separated slot names to build, or NULL for all */
  hant_distill_progress_fn progress;
  void *user;
} hant_distill_opts;

/* The training work of one candidate of a slot, in MACs: for every image
 * of every epoch, its share of the teacher's forward pass up to the slot's
 * output (shared by the chunk of `chunk` candidates trained together) and
 * the slot's forward and backward pass (3x the teacher block's MACs; a
 * candidate costs at most about that). Used to weigh progress. */
double hant_distill_candidate_work(const hant_net *teacher, int slot, long images, int epochs, int chunk);

/* How many of a slot's candidates are trained together: o->chunk if set,
 * else 16 per worker, fewer where their activations would take more than
 * half the machine's memory. Results do not depend on it. */
int hant_distill_chunk(const hant_net *teacher, int slot, const hant_distill_opts *o);

/* The round cap of a candidate initialised as `init` (its spec's init:
 * "random" and "none" are random, anything else is the teacher's). */
int hant_distill_rounds(const hant_distill_opts *o, const char *init);

/* Defaults: all families, 1 epoch, batch 64, Adam 5e-3 / 5e-4, jobs =
 * cores, chunk 0 (hant_distill_chunk), seed 1, grid HANT_GRID_G_PER_KWH_DEFAULT. */
void hant_distill_opts_default(hant_distill_opts *o);

typedef struct hant_distill_summary {
  int slots;
  int planned;    /* candidates this shard is responsible for */
  int existing;   /* already in the library when the build started */
  int trained;    /* trained and committed by this run */
  double wall_s, cpu_s, energy_j, co2_g;
  char energy_source[96];
  int64_t run_id; /* build_run row, when recorded */
} hant_distill_summary;

/* A finished candidate, ready to store. */
typedef struct hant_distill_result {
  hant_cand_rec rec;
  uint8_t *weights; /* native network file bytes, malloc'd */
  size_t weights_len;
} hant_distill_result;

/* Where finished candidates go. The default writes them to the store in
 * one transaction each; an MPI rank other than 0 sends them to rank 0. */
typedef int (*hant_distill_sink_fn)(void *user, hant_distill_result *r);

/* Registers the teacher (file at teacher_path, loaded into `teacher`,
 * whose BN must be folded) in an empty library, measuring its accuracy on
 * val, and stores the file's bytes in the library
 * (hant_library_teacher_store) unless they are not the model on their
 * own (ONNX external data); or checks that the library was built from the
 * same file and validation set, storing the file in a library that does
 * not hold it yet. Slots follow the teacher's. val_split names the
 * validation images in the teacher's record (at most 63 bytes kept); NULL
 * names Fashion-MNIST's, "fmnist train[55000:55000+N)". */
int hant_distill_register(hant_store *st, const char *teacher_path, const char *format, hant_net *teacher,
                          const hant_dataset *val, const char *val_split);

/* Trains and scores every candidate of the selected families that the
 * library lacks. A rerun resumes: finished candidates are skipped. A
 * candidate's result depends only on the teacher, data, seed, slot and
 * its key, so sharded, resumed and single runs build the same library. */
int hant_distill_build(hant_store *st, hant_net *teacher, const hant_dataset *train, const hant_dataset *val,
                       const hant_distill_opts *o, hant_distill_sink_fn sink, void *sink_user,
                       hant_distill_summary *sum);

/* Re-measures one candidate the way the build scored it: the mean squared
 * error of its slot output against the teacher's on val, and the
 * teacher's accuracy on val with only that slot replaced. */
int hant_distill_measure(hant_net *teacher, int slot, hant_net *cand, const hant_dataset *val, double *mse,
                         double *accuracy);

/* Default sink: writes to the store passed as user. */
int hant_distill_store_sink(void *user, hant_distill_result *r);

/* Whether slot `name` is in the comma-separated list (NULL: every slot). */
bool hant_distill_slot_wanted(const char *list, const char *name);
/* Checks that every name of the comma-separated list (NULL: none) is one of
 * the teacher's slots; HANT_EINVAL naming the first that is not. */
int hant_distill_slots_check(const hant_net *teacher, const char *list);

#endif
