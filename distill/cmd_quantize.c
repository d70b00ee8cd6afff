/* SPDX-License-Identifier: MIT */
/* cmd_quantize.c: `hant-distill quantize` scores every candidate of a library under int8 arithmetic, for the solver on int8 devices. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill quantize --db LIBRARY.db [options]\n"
    "\n"
    "Scores every candidate of the library in int8, as int8 devices run it. The\n"
    "teacher is quantised once (post-training: batch norms folded, int8 weights\n"
    "per output channel, uint8 activations calibrated on training images; with\n"
    "--calib auto the method whose int8 validation accuracy is highest), and that\n"
    "method is then fixed for the library. For each candidate without an int8\n"
    "score, the teacher with only that candidate in its slot is quantised the same\n"
    "way, on the same images, and its int8 accuracy on the validation split (never\n"
    "the test split) minus the int8 teacher's is stored as the candidate's int8\n"
    "score, each in its own transaction: a rerun resumes where a killed run\n"
    "stopped. A candidate with an operator that has no int8 form gets no score and\n"
    "is named in the summary. The solver uses the int8 scores on devices whose\n"
    "profile computes in int8, once every candidate it considers has one.\n"
    "\n";

typedef struct quantize_opts {
  const char *calib;   /* auto, minmax or percentile */
  long calib_images;   /* 0: as stored, else 1000 */
  long val_samples;    /* 0: as stored, else the teacher's validation images */
  bool json, quiet;
} quantize_opts;

/* A candidate that could not be quantised, for the summary. */
typedef struct refused {
  int64_t id;
  char slot[32], key[96];
  char why[256];
} refused;

static void emit_candidate(const quantize_opts *o, hant_progress *bar, int done, int total, const hant_slot_rec *slot,
                           const hant_cand_rec *c, const hant_cand_int8_rec *r, const char *why) {
  if (o->json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "event"), hant_jsonw_str(&w, r ? "candidate" : "refused");
    hant_jsonw_key(&w, "done"), hant_jsonw_int(&w, done);
    hant_jsonw_key(&w, "total"), hant_jsonw_int(&w, total);
    hant_jsonw_key(&w, "slot"), hant_jsonw_str(&w, slot->name);
    hant_jsonw_key(&w, "id"), hant_jsonw_int(&w, c->id);
    hant_jsonw_key(&w, "key"), hant_jsonw_str(&w, c->key);
    hant_jsonw_key(&w, "score"), hant_jsonw_num(&w, c->score);
    if (r) {
      hant_jsonw_key(&w, "val_accuracy_int8"), hant_jsonw_num(&w, r->val_accuracy);
      hant_jsonw_key(&w, "int8_score"), hant_jsonw_num(&w, r->score);
    } else {
      hant_jsonw_key(&w, "reason"), hant_jsonw_str(&w, why);
    }
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
    fflush(stdout);
  } else if (!o->quiet) {
    char note[160];
    snprintf(note, sizeof(note), "%s %s", slot->name, c->key);
    if (bar->tty)
      hant_progress_update(bar, done, total, note);
    else
      fprintf(stderr, "quantize: %d/%d %s%s\n", done, total, note, r ? "" : " (no int8 form)");
  }
}

/* The int8 teacher and the fixed calibration: the stored one when the
 * library has it (a rerun must not change the method its rows were
 * measured with), else measured now and stored. */
static int int8_teacher(hant_store *st, const hant_net *teacher, const hant_dataset *train, const hant_dataset *val,
                        const quantize_opts *o, hant_int8_teacher_rec *t, bool *measured) {
  *measured = false;
  int rc = hant_store_int8_teacher_get(st, t);
  if (rc != HANT_ENOENT)
    return rc;
  hant_quant_opts qo = {.calib_images = o->calib_images > 0 ? (int)o->calib_images : 0};
  if (!strcmp(o->calib, "auto"))
    qo.choose = true;
  else
    qo.calib = hant_qcalib_from_name(o->calib);
  /* hant_quantise folds the network it is given: quantise a copy, the
   * teacher stays the snapshot's as loaded */
  hant_net *copy = NULL;
  hant_qnet *q = NULL;
  double fp32 = 0, loss = 0;
  if ((rc = hant_assemble(teacher, NULL, &copy)))
    goto out;
  if ((rc = hant_quantise(copy, train, val, &qo, &q)) == HANT_ENOTSUP) {
    /* every candidate runs inside the teacher: none can be scored */
    char why[256];
    snprintf(why, sizeof(why), "%s", hant_errmsg());
    rc = hant__error(HANT_ENOTSUP, "%s: the teacher has no int8 form, so no candidate can be scored in int8: %s",
                     hant_store_path(st), why);
  }
  if (rc)
    goto out;
  if (q->val_accuracy < 0 && (rc = hant_qnet_accuracy(q, val, 128, &q->val_accuracy)))
    goto out;
  if ((rc = hant_eval_classifier(copy, val, 250, &fp32, &loss)))
    goto out;
  memset(t, 0, sizeof(*t));
  snprintf(t->calib, sizeof(t->calib), "%s", hant_qcalib_name(q->calib));
  t->percentile = q->percentile;
  t->calib_images = q->calib_images;
  t->val_accuracy = q->val_accuracy;
  t->fp32_val_accuracy = fp32;
  t->val_images = val->n;
  if (!(rc = hant_store_int8_teacher_put(st, t)))
    *measured = true;
out:
  hant_qnet_destroy(q);
  hant_net_destroy(copy);
  return rc;
}

/* One candidate's int8 accuracy: the teacher with it in slot s, quantised
 * with the library's method on the same training images as the teacher. */
static int measure(hant_store *st, const hant_library *lib, const hant_net *teacher, int s, int64_t id,
                   const hant_dataset *train, const hant_dataset *val, const hant_int8_teacher_rec *t, double *acc) {
  hant_net **cands = calloc((size_t)lib->n_slots, sizeof(*cands));
  hant_net *cn = NULL, *net = NULL;
  hant_qnet *q = NULL;
  int rc = cands ? 0 : HANT_ENOMEM;
  if (!rc && !(rc = hant_store_candidate_net(st, id, &cn))) {
    cands[s] = cn;
    rc = hant_assemble(teacher, cands, &net);
  }
  hant_quant_opts qo = {.calib_images = t->calib_images, .percentile = t->percentile,
                        .calib = hant_qcalib_from_name(t->calib)};
  if (!rc)
    rc = hant_quantise(net, train, NULL, &qo, &q);
  if (!rc)
    rc = hant_qnet_accuracy(q, val, 128, acc);
  hant_qnet_destroy(q);
  hant_net_destroy(net);
  hant_net_destroy(cn);
  free(cands);
  return rc;
}

static int quantize_run(hant_store *st, const data_args *data, const quantize_opts *o) {
  hant_library *lib = NULL;
  hant_dataset train = {0}, val = {0};
  hant_cand_int8_rec *rows = NULL;
  refused *ref = NULL;
  int n_rows = 0, n_ref = 0, measured = 0, existing = 0;
  hant_progress bar = {0};
  double t0 = hant_now_s();
  int rc = hant_library_load(st, NULL, &lib);
  if (rc)
    goto out;
  if (!lib->has_teacher) {
    rc = hant__error(HANT_ENOENT, "%s is empty: build it first (hant-distill build)", hant_store_path(st));
    goto out;
  }
  hant_int8_teacher_rec t;
  bool have = hant_store_int8_teacher_get(st, &t) == 0;
  /* A rerun measures with what the stored rows were measured with; asking
   * for something else would mix two kinds of score in one library. */
  if (have && strcmp(o->calib, "auto") && strcmp(o->calib, t.calib)) {
    rc = hant__error(HANT_EINVAL, "%s: --calib %s: the library's int8 scores were calibrated with %s",
                     hant_store_path(st), o->calib, t.calib);
    goto out;
  }
  if (have && o->calib_images > 0 && o->calib_images != t.calib_images) {
    rc = hant__error(HANT_EINVAL, "%s: --calib-images %ld: the library's int8 scores were calibrated on %d images",
                     hant_store_path(st), o->calib_images, t.calib_images);
    goto out;
  }
  if (have && o->val_samples > 0 && o->val_samples != t.val_images) {
    rc = hant__error(HANT_EINVAL, "%s: --val-samples %ld: the library's int8 scores were measured on %d images",
                     hant_store_path(st), o->val_samples, t.val_images);
    goto out;
  }
  int images = have ? t.val_images : o->val_samples > 0 ? (int)o->val_samples : lib->teacher.val_images;
  const hant_net *teacher = NULL;
  hant_data_spec spec;
  if ((rc = hant_library_teacher(lib, st, &teacher)))
    goto out;
  if (cli_data_spec("hant-distill quantize", data, teacher, lib->has_build ? &lib->build : NULL, &spec) >= 0) {
    rc = hant__error(HANT_EINVAL, "bad --data options");
    goto out;
  }
  if ((rc = hant_data_load(&spec, HANT_SPLIT_VAL, images, &val)) ||
      (rc = hant_data_load(&spec, HANT_SPLIT_TRAIN, 0, &train)))
    goto out;
  bool teacher_now = false;
  if ((rc = int8_teacher(st, teacher, &train, &val, o, &t, &teacher_now)))
    goto out;
  if ((rc = hant_store_int8_scores(st, &rows, &n_rows)))
    goto out;
  if (!o->json && !o->quiet)
    fprintf(stderr,
            "quantize: %d slots, %d candidates (%d with int8 scores); %s calibration on %d training images, %d "
            "validation images; int8 teacher %.4f (fp32 %.4f)%s\n",
            lib->n_slots, lib->n_cands, n_rows, t.calib, t.calib_images, t.val_images, t.val_accuracy,
            t.fp32_val_accuracy, teacher_now ? ", measured now" : "");
  if (!(ref = calloc((size_t)lib->n_cands + 1, sizeof(*ref)))) {
    rc = HANT_ENOMEM;
    goto out;
  }
  if (!o->json && !o->quiet)
    hant_progress_start(&bar, "quantize");
  int done = 0;
  for (int s = 0; s < lib->n_slots && !rc; s++) {
    for (int k = 0; k < lib->slot_count[s] && !rc; k++) {
      const hant_cand_rec *c = &lib->cands[lib->slot_first[s] + k];
      done++;
      bool stored = false;
      for (int i = 0; i < n_rows && !stored; i++)
        stored = rows[i].candidate_id == c->id;
      if (stored) {
        existing++;
        continue;
      }
      double acc = 0;
      rc = measure(st, lib, teacher, s, c->id, &train, &val, &t, &acc);
      if (rc == HANT_ENOTSUP) {
        /* an operator without an int8 form: this candidate is not for
         * int8 devices, the others still are */
        refused *r = &ref[n_ref++];
        r->id = c->id;
        snprintf(r->slot, sizeof(r->slot), "%s", lib->slots[s].name);
        snprintf(r->key, sizeof(r->key), "%s", c->key);
        snprintf(r->why, sizeof(r->why), "%s", hant_errmsg());
        hant_errmsg_clear();
        rc = 0;
        emit_candidate(o, &bar, done, lib->n_cands, &lib->slots[s], c, NULL, r->why);
        continue;
      }
      if (rc)
        break;
      hant_cand_int8_rec r = {.candidate_id = c->id, .val_accuracy = acc, .score = acc - t.val_accuracy,
                              .val_images = val.n};
      snprintf(r.calib, sizeof(r.calib), "%s", t.calib);
      if ((rc = hant_store_int8_put(st, &r)))
        break;
      measured++;
      emit_candidate(o, &bar, done, lib->n_cands, &lib->slots[s], c, &r, NULL);
    }
  }
  hant_progress_end(&bar);
  if (rc)
    goto out;
  double seconds = hant_now_s() - t0;
  int scored = existing + measured;
  if (o->json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "event"), hant_jsonw_str(&w, "summary");
    hant_jsonw_key(&w, "db"), hant_jsonw_str(&w, hant_store_path(st));
    hant_jsonw_key(&w, "candidates"), hant_jsonw_int(&w, lib->n_cands);
    hant_jsonw_key(&w, "existing"), hant_jsonw_int(&w, existing);
    hant_jsonw_key(&w, "measured"), hant_jsonw_int(&w, measured);
    hant_jsonw_key(&w, "scored"), hant_jsonw_int(&w, scored);
    hant_jsonw_key(&w, "refused"), hant_jsonw_int(&w, n_ref);
    hant_jsonw_key(&w, "calib"), hant_jsonw_str(&w, t.calib);
    hant_jsonw_key(&w, "percentile"), hant_jsonw_num(&w, t.percentile);
    hant_jsonw_key(&w, "calib_images"), hant_jsonw_int(&w, t.calib_images);
    hant_jsonw_key(&w, "val_images"), hant_jsonw_int(&w, t.val_images);
    hant_jsonw_key(&w, "teacher_val_accuracy_int8"), hant_jsonw_num(&w, t.val_accuracy);
    hant_jsonw_key(&w, "teacher_val_accuracy_fp32"), hant_jsonw_num(&w, t.fp32_val_accuracy);
    hant_jsonw_key(&w, "seconds"), hant_jsonw_num(&w, seconds);
    hant_jsonw_key(&w, "refused_candidates");
    hant_jsonw_arr_begin(&w);
    for (int i = 0; i < n_ref; i++) {
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "id"), hant_jsonw_int(&w, ref[i].id);
      hant_jsonw_key(&w, "slot"), hant_jsonw_str(&w, ref[i].slot);
      hant_jsonw_key(&w, "key"), hant_jsonw_str(&w, ref[i].key);
      hant_jsonw_key(&w, "reason"), hant_jsonw_str(&w, ref[i].why);
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_arr_end(&w);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    printf("library       %s\n", hant_store_path(st));
    printf("calibration   %s (percentile %g), %d training images\n", t.calib, t.percentile, t.calib_images);
    printf("teacher       int8 %.4f, fp32 %.4f validation accuracy (%d images)\n", t.val_accuracy,
           t.fp32_val_accuracy, t.val_images);
    printf("candidates    %d: %d with int8 scores (%d measured now, %d already), %d without an int8 form\n",
           lib->n_cands, scored, measured, existing, n_ref);
    for (int i = 0; i < n_ref; i++)
      printf("  no int8     %-6lld %-10s %-28s %s\n", (long long)ref[i].id, ref[i].slot, ref[i].key, ref[i].why);
    printf("time          %.1f s\n", seconds);
  }
out:
  free(ref);
  free(rows);
  hant_dataset_free(&train);
  hant_dataset_free(&val);
  hant_library_unref(lib);
  return rc;
}

int cmd_quantize(int argc, char **argv) {
  const char *db = NULL;
  data_args da = DATA_ARGS_DEFAULT;
  quantize_opts o = {.calib = "auto"};
  long threads = hant_cpu_count();
  const hant_opt opts[] = {
      HANT_OPT_STRING("db", 0, &db, "FILE", "the library (required)"),
      HANT_OPT_STRING("calib", 0, &o.calib, "M",
                      "auto (default: the method with the best int8 teacher on\n"
                      "validation), minmax or percentile; fixed by the first run"),
      HANT_OPT_INT("calib-images", 0, &o.calib_images, 1, 60000, "N",
                   "training images to calibrate ranges on (default 1000)"),
      HANT_OPT_INT("val-samples", 0, &o.val_samples, 1, 5000, "N",
                   "validation images per network (default: as the fp32 scores)"),
      DATA_OPTS(da, "training and validation images", "the library's data"),
      HANT_OPT_INT("threads", 0, &threads, 1, 1024, "N", "kernel threads (default: all cores)"),
      HANT_OPT_FLAG("json", 0, &o.json, "progress events and the summary as JSON lines on stdout"),
      HANT_OPT_FLAG("quiet", 'q', &o.quiet, "no progress on stderr"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill quantize",
                            .usage = usage,
                            .footer = "\nExit status: 0 every candidate done (scored, or named as having no int8\n"
                                      "form), 1 failed, 2 usage error.\n",
                            .column = 26,
                            .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  if (!db)
    return cli_usage_error(&cmd, "--db FILE is required");
  if (strcmp(o.calib, "auto") && hant_qcalib_from_name(o.calib) == HANT_QCALIB_COUNT)
    return cli_usage_error(&cmd, "--calib expects auto, minmax or percentile, not '%s'", o.calib);
  if (access(db, F_OK))
    return cli_usage_error(&cmd, "--db %s: no such library", db);
  hant_threads_set((int)threads);
  hant_store *st = NULL;
  int rc = hant_store_open(db, 0, &st);
  /* one writer of scores at a time, as for builds and calibrations */
  if (!rc)
    rc = hant_store_lock_build(st);
  if (!rc)
    rc = quantize_run(st, &da, &o);
  if (rc)
    fprintf(stderr, "hant-distill quantize: %s\n", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
  hant_store_close(st);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
