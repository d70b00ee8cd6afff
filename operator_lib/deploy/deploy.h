/* SPDX-License-Identifier: MIT */
/* deploy.h: the long work after a selection: assemble the chosen network and export it as ONNX, and measure a model's accuracy. */
#ifndef HANT_DEPLOY_H
#define HANT_DEPLOY_H

#include <stddef.h>
#include <stdint.h>

#include "build_settings.h"
#include "data_load.h"
#include "library.h"
#include "net.h"
#include "place.h"
#include "store.h"

/* Called between steps with the fraction done (0-1) and what is being
 * done. Returning nonzero stops the work, which then returns
 * HANT_ECANCELED (its output file is not written). */
typedef int (*hant_deploy_progress_fn)(void *user, double fraction, const char *note);

typedef struct hant_deploy_export_info {
  char teacher[1024]; /* the teacher's name: its recorded path, or the file read (hant_deploy_teacher) */
  char out[1024];     /* the ONNX file written */
  size_t bytes;       /* its size */
  double macs;        /* of the assembled network, per sample */
  int64_t params;     /* trainable parameters */
  int slots;
  int nodes;
  /* Set by hant_deploy_transform when it fine-tuned or evaluated: */
  int finetune_epochs;        /* epochs of KD fine-tuning run (0: none) */
  int finetune_auto;          /* 1: the epochs were chosen from assembled_val_loss (hant_finetune_auto_epochs) */
  double assembled_val_loss;  /* with finetune_auto: the teacher's validation accuracy minus the assembled
                                 network's, on the same images, in points (0-100) */
  int finetune_samples;       /* training images used */
  long finetune_steps;
  double finetune_s;          /* wall time of fine-tuning, s */
  float finetune_clip_norm;   /* gradient clip of the run kept (0: none) */
  int finetune_retried;       /* 1: the unclipped run diverged and was run again clipped */
  int finetune_resumed_epochs; /* epochs restored from hant_deploy_opts.checkpoint instead of run (0: none) */
  int finetune_restarted;     /* 1: a checkpoint was found but refused (another run's, or damaged), removed, and
                                 fine-tuning started over */
  int evaluated;              /* 1 when the fields below are set */
  double val_accuracy_before; /* assembled, before fine-tuning, fraction 0-1 */
  double val_accuracy, val_loss;   /* after fine-tuning (= before without it) */
  double test_accuracy, test_loss;
  double test_accuracy_before;
  double teacher_test_accuracy;    /* the teacher on the same test images */
  double teacher_val_accuracy;     /* and on the same validation images */
  int val_n, test_n;          /* images evaluated */
  /* Set when the network was written in int8 (hant_deploy_opts.int8): */
  char precision[8];          /* of the file written: "fp32" or "int8" */
  char int8_calib[16];        /* the range calibration chosen on validation: "minmax", "percentile" */
  double int8_val_accuracy;   /* the quantised network's, on the validation images that chose the method */
  double int8_test_accuracy;  /* on the test images evaluated (when evaluated), else -1 */
} hant_deploy_export_info;

/* What hant_deploy_transform does besides assembling and exporting. */
typedef struct hant_deploy_opts {
  int finetune_epochs;  /* KD fine-tuning epochs (finetune.h defaults otherwise); 0: none */
  bool finetune_auto;   /* fine-tune for as many epochs as the assembled network's distance from the teacher on
                           the validation split asks (hant_finetune_auto_epochs); finetune_epochs is ignored */
  int finetune_samples; /* first N training images (0: all 55,000 of the training split) */
  int evaluate;         /* evaluate on the validation and test splits (implied by fine-tuning) */
  int eval_samples;     /* first N images of each split evaluated (0: all) */
  const char *data_dir; /* "fmnist" or a data directory (format detected); NULL: the data the library was built on */
  uint64_t seed;        /* of fine-tuning */
  bool int8;            /* quantise after fine-tuning and write a QDQ model (docs/int8.md): the device computes
                           in int8; calibrated on 1000 training images, the method chosen on validation */
  /* When out_file is set, the ONNX file is written there, in places
   * (hant_place_file_write: beneath a peer's place, mode 0600, given to
   * the peer where the daemon can), and out_path only names it in
   * messages and in info->out. hantd's jobs write this way; programs
   * leave both NULL and write out_path. */
  const hant_places *places;
  const hant_place_file *out_file;
  /* When set, fine-tuning checkpoints here after every epoch
   * (hant_finetune_opts.checkpoint), in a directory only the caller
   * writes, so that a transform stopped by a restart and run again resumes
   * at the epoch it reached and ends as a run never stopped would. A file
   * found there that fine-tuning refuses (another run's, or damaged) is
   * removed and fine-tuning starts over; the files are removed once the
   * network is written. hantd gives each job its own (STATE/jobs). */
  const char *checkpoint;
} hant_deploy_opts;

/* Loads the library's teacher, ready for assembly (hant_teacher_prepare),
 * as hant_library_teacher_load does: from the copy the library holds,
 * checked against the recorded SHA-256 (a library built before libraries
 * held their teachers reads the path it recorded, resolved against the
 * library's directory when relative); path[n] receives the teacher's
 * name (library.h). The caller owns *teacher. Code that holds a snapshot
 * uses its shared teacher instead (hant_library_teacher). */
int hant_deploy_teacher(hant_store *st, hant_net **teacher, char *path, size_t n);

/* Builds the network of a choice: teacher with the library's candidate
 * cand_ids[i] in slot i (n must be the teacher's slot count), the
 * candidates decoded and their batch norms folded, as deployed. */
int hant_deploy_assemble(hant_store *st, const hant_net *teacher, const int64_t *cand_ids, int n, hant_net **out);

/* The same for a choice of a library snapshot: choice[s] indexes lib->cands
 * (n_slots of them), and the teacher is the snapshot's shared one
 * (hant_library_teacher), read and hashed once however many choices are
 * assembled. */
int hant_deploy_assemble_choice(hant_store *st, const hant_library *lib, const int *choice, int n_slots,
                                hant_net **out);

/* Assembles the teacher of st with candidate cand_ids[i] in slot i (n
 * must be the teacher's slot count), and writes it to out_path as ONNX
 * (hant_onnx_save; written to a temporary name and renamed). The teacher
 * is loaded as hant_deploy_teacher does. Candidates are decoded from the library and their batch norms
 * folded, as deployed. Errors name the teacher, candidate or output path.
 * info may be NULL; progress may be NULL. */
int hant_deploy_export(hant_store *st, const int64_t *cand_ids, int n, const char *out_path,
                       hant_deploy_progress_fn progress, void *user, hant_deploy_export_info *info);

/* Like hant_deploy_export, and then, as o asks, fine-tunes the assembled
 * network end to end by knowledge distillation from the teacher
 * (hant_finetune_kd on the training split, images 0-54999) and evaluates it
 * on the validation and test splits before and after, then writes the ONNX
 * file. Cancellation is honoured between phases and between evaluation
 * chunks, not inside an epoch. o may be NULL (export only). */
int hant_deploy_transform(hant_store *st, const int64_t *cand_ids, int n, const char *out_path,
                          const hant_deploy_opts *o, hant_deploy_progress_fn progress, void *user,
                          hant_deploy_export_info *info);

/* What measuring a choice reads: the snapshot whose candidates the
 * choice indexes (its teacher network is loaded once and shared, see
 * hant_library_teacher) and the calling thread's store connection, from
 * which the chosen candidates' networks are read. */
typedef struct hant_deploy_measurer {
  const hant_library *lib;
  hant_store *st;
} hant_deploy_measurer;

/* Assembles the network of a choice (choice[s] indexes lib->cands, one per
 * slot, n_slots of them) and measures its batch-1 latency on this machine
 * (measure.h defaults) in ms, with the BLAS threads the process runs with:
 * it never changes them (hantd sets one thread at start). user is a
 * hant_deploy_measurer; the signature is hant_transform_measure_fn's, so
 * a measured-latency solve calls it directly. */
int hant_deploy_measure_choice(void *user, const int *choice, int n_slots, double *latency_ms);

/* Assembles the network of a choice as hant_deploy_measure_choice does
 * (user is a hant_deploy_measurer) and writes its accuracy (fraction 0-1)
 * on the first `images` images of the validation split (Fashion-MNIST
 * training images 55000-59999 from hant_fmnist_dir(); all 5,000 when
 * images is larger), never the test split. The split is read on the first
 * call and kept for the life of the process (about 4 MB), so that later
 * calls only assemble and evaluate; any thread may call. With int8 the
 * network is quantised as the library's int8 scores were (hant-distill
 * quantize's method and calibration images, on the training split, read
 * once as the validation split is) and measured in int8; HANT_EINVAL when
 * the library has no int8 teacher. The signature is
 * hant_transform_accuracy_fn's, so measured re-ranking calls it directly. */
int hant_deploy_accuracy_choice(void *user, const int *choice, int n_slots, int images, bool int8,
                                double *accuracy);

typedef struct hant_deploy_eval_info {
  double accuracy; /* fraction 0-1 */
  double loss;     /* mean cross-entropy */
  int n;           /* images evaluated */
  char split[8];
} hant_deploy_eval_info;

/* The data a library's networks see: data_dir when not NULL or empty,
 * else the data the library records being built on (Fashion-MNIST when it
 * records none), shaped as teacher's input and output and normalised as
 * the build was. *recorded receives the library's build settings (zeroed
 * when it has none); spec may point into it, so it must outlive spec. */
int hant_deploy_data_spec(hant_store *st, const hant_net *teacher, const char *data_dir,
                          hant_build_settings *recorded, hant_data_spec *spec);

/* Evaluates a model file (native or ONNX) on a split ("train", "val",
 * "test") of data_dir (NULL or "fmnist" for the installed Fashion-MNIST,
 * else a directory in any format hant_data_detect knows, fed as
 * pixels / 255 without normalisation), the first `samples` images
 * (0: all), in chunks so that progress is reported and cancellation
 * honoured between them. */
int hant_deploy_eval(const char *model_path, const char *data_dir, const char *split, int samples,
                     hant_deploy_progress_fn progress, void *user, hant_deploy_eval_info *info);
/* The same for a model file already open (hant_onnx_load_any_fd): fd is
 * read from its start, its external data files are found beneath dir_fd
 * (-1: refused), and name labels messages. The caller keeps both
 * descriptors. hantd evaluates a model it opened beneath a peer's place
 * this way. */
int hant_deploy_eval_fd(int fd, int dir_fd, const char *name, const char *data_dir, const char *split, int samples,
                        hant_deploy_progress_fn progress, void *user, hant_deploy_eval_info *info);

#endif
