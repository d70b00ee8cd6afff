/* SPDX-License-Identifier: MIT */
/* cmd_library.c: `hant-distill library` lists the teacher, slots, candidates and their costs, and stores a teacher in an older library. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill library --db LIBRARY.db [--slot NAME] [--json]\n"
    "       hant-distill library --db LIBRARY.db --store-teacher FILE [--json]\n"
    "\n"
    "Lists the library: its teacher, slots and candidates with scores, losses,\n"
    "MACs and, per device, costs with their source (measured, imported, modelled),\n"
    "then the distribution of scores per family, what building it cost, and the\n"
    "calibration of the accuracy predictor (hant-distill calibrate) with its\n"
    "held-out errors.\n"
    "\n"
    "A library holds its teacher's file, so it needs nothing beside it. One built\n"
    "before libraries held their teachers reads the teacher from the path it\n"
    "recorded; --store-teacher FILE stores FILE in it, once its sha256 is checked\n"
    "against the one recorded at build time, and lists nothing.\n";

/* --store-teacher: makes a library built before schema version 4 self-contained. */
static int store_teacher(const char *db, const char *file, bool json) {
  hant_store *st;
  int rc = hant_store_open(db, 0, &st);
  hant_teacher_rec t;
  if (!rc && (rc = hant_store_teacher_get(st, &t)) == HANT_ENOENT)
    rc = hant__error(HANT_ENOENT, "%s is empty: it has no teacher to store (build it with 'hant-distill build')", db);
  if (!rc)
    rc = hant_library_teacher_store(st, &t, file);
  if (rc) {
    fprintf(stderr, "hant-distill library: --store-teacher: %s\n", hant_errmsg());
    hant_store_close(st);
    return EXIT_FAIL;
  }
  hant_store_close(st);
  if (json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "stored_teacher");
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "file"), hant_jsonw_str(&w, file);
    hant_jsonw_key(&w, "path"), hant_jsonw_str(&w, t.path);
    hant_jsonw_key(&w, "sha256"), hant_jsonw_str(&w, t.sha256);
    hant_jsonw_key(&w, "bytes"), hant_jsonw_int(&w, t.stored_bytes);
    hant_jsonw_obj_end(&w);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    printf("stored %s (%lld bytes, sha256 %.12s...) in %s as its teacher; the library no longer reads %s\n", file,
           (long long)t.stored_bytes, t.sha256, db, t.path);
  }
  return 0;
}

/* Scores of one family over the slots listed. */
typedef struct family_stats {
  char family[24];
  int n;
  double min, median, max, mean;
  double train_s; /* summed training wall time */
} family_stats;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Fills st[] (up to max families, in order of first appearance) from the
 * candidates of slot `only_id` (or all when 0); returns the count. */
static int families(const hant_cand_rec *c, int nc, int64_t only_id, family_stats *st, int max) {
  int nf = 0;
  double *v = malloc(sizeof(double) * (size_t)(nc ? nc : 1));
  if (!v)
    return 0;
  for (int i = 0; i < nc; i++) {
    if (only_id && c[i].slot_id != only_id)
      continue;
    int f = 0;
    while (f < nf && strcmp(st[f].family, c[i].family))
      f++;
    if (f == nf) {
      if (nf == max)
        continue;
      memset(&st[nf], 0, sizeof(st[nf]));
      snprintf(st[nf].family, sizeof(st[nf].family), "%s", c[i].family);
      nf++;
    }
  }
  for (int f = 0; f < nf; f++) {
    int n = 0;
    for (int i = 0; i < nc; i++)
      if ((!only_id || c[i].slot_id == only_id) && !strcmp(c[i].family, st[f].family)) {
        v[n++] = c[i].score;
        st[f].train_s += c[i].train_seconds;
        st[f].mean += c[i].score;
      }
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    st[f].n = n;
    st[f].min = v[0];
    st[f].max = v[n - 1];
    st[f].median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    st[f].mean /= n;
  }
  free(v);
  return nf;
}

static void json_costs(hant_jsonw *w, const hant_cost_rec *c, int nc, int64_t cand, int *pos) {
  hant_jsonw_key(w, "costs");
  hant_jsonw_obj_begin(w);
  while (*pos < nc && c[*pos].candidate_id < cand)
    (*pos)++;
  for (; *pos < nc && c[*pos].candidate_id == cand; (*pos)++) {
    const hant_cost_rec *r = &c[*pos];
    char key[128];
    /* One entry per device; power modes and batch sizes other than the
     * default get their own keys. */
    if (r->power_mode[0] && r->batch != 1)
      snprintf(key, sizeof(key), "%s@%s/b%d", r->device, r->power_mode, r->batch);
    else if (r->power_mode[0])
      snprintf(key, sizeof(key), "%s@%s", r->device, r->power_mode);
    else if (r->batch != 1)
      snprintf(key, sizeof(key), "%s/b%d", r->device, r->batch);
    else
      snprintf(key, sizeof(key), "%s", r->device);
    hant_jsonw_key(w, key);
    hant_jsonw_obj_begin(w);
    hant_jsonw_key(w, "latency_ms"), hant_jsonw_num(w, r->latency_ms);
    hant_jsonw_key(w, "energy_mj"), hant_jsonw_num(w, r->energy_mj);
    hant_jsonw_key(w, "memory_bytes"), hant_jsonw_int(w, r->memory_bytes);
    hant_jsonw_key(w, "source"), hant_jsonw_str(w, r->source);
    hant_jsonw_key(w, "energy_source"), hant_jsonw_str(w, r->energy_source);
    if (r->latency_spread >= 0)
      hant_jsonw_key(w, "latency_spread"), hant_jsonw_num(w, r->latency_spread);
    /* Every answer carries power and carbon (brief section 6). */
    hant_jsonw_key(w, "power_w"), hant_jsonw_num(w, hant_power_avg_w(r->energy_mj, r->latency_ms));
    hant_jsonw_key(w, "co2e_g_per_million"),
        hant_jsonw_num(w, hant_power_co2_g_per_million(r->energy_mj, HANT_GRID_G_PER_KWH_DEFAULT));
    hant_jsonw_key(w, "power_mode"), hant_jsonw_str(w, r->power_mode);
    hant_jsonw_key(w, "batch"), hant_jsonw_int(w, r->batch);
    hant_jsonw_obj_end(w);
  }
  hant_jsonw_obj_end(w);
}

static void calibration_json(hant_jsonw *w, const hant_calib_fit_rec *f, bool has_fit, int n_samples, int stale) {
  if (!has_fit && !n_samples) {
    hant_jsonw_null(w);
    return;
  }
  hant_jsonw_obj_begin(w);
  hant_jsonw_key(w, "samples_stored"), hant_jsonw_int(w, n_samples);
  hant_jsonw_key(w, "fitted"), hant_jsonw_bool(w, has_fit);
  if (has_fit) {
    hant_jsonw_key(w, "used"), hant_jsonw_bool(w, stale == 0);
    hant_jsonw_key(w, "candidates_without_coefficient"), hant_jsonw_int(w, stale);
    hant_jsonw_key(w, "scale"), hant_jsonw_str(w, f->scale);
    hant_jsonw_key(w, "intercept"), hant_jsonw_num(w, f->intercept);
    hant_jsonw_key(w, "ridge"), hant_jsonw_num(w, f->ridge);
    hant_jsonw_key(w, "noise_se"), hant_jsonw_num(w, f->noise_se);
    hant_jsonw_key(w, "samples"), hant_jsonw_int(w, f->samples);
    hant_jsonw_key(w, "folds"), hant_jsonw_int(w, f->folds);
    hant_jsonw_key(w, "heldout_samples"), hant_jsonw_int(w, f->heldout_samples);
    hant_jsonw_key(w, "heldout_median_abs_err"), hant_jsonw_num(w, f->heldout_median_abs_err);
    hant_jsonw_key(w, "heldout_p90_abs_err"), hant_jsonw_num(w, f->heldout_p90_abs_err);
    hant_jsonw_key(w, "heldout_kendall_tau"), hant_jsonw_num(w, f->heldout_kendall_tau);
    hant_jsonw_key(w, "images"), hant_jsonw_int(w, f->images);
    hant_jsonw_key(w, "seconds"), hant_jsonw_num(w, f->seconds);
    hant_jsonw_key(w, "seed"), hant_jsonw_int(w, (int64_t)f->seed);
    hant_jsonw_key(w, "created"), hant_jsonw_str(w, f->created);
  }
  hant_jsonw_obj_end(w);
}

static void calibration_text(const hant_calib_fit_rec *f, bool has_fit, int n_samples, int stale) {
  if (!has_fit) {
    printf("\ncalibration: none (%d samples stored); predictions are uncalibrated: run hant-distill calibrate\n",
           n_samples);
    return;
  }
  printf("\ncalibration: %s scale, ridge %g, %d samples (%lld validation images, %.0f s)%s\n", f->scale, f->ridge,
         f->samples, (long long)f->images, f->seconds,
         stale ? "; NOT USED: candidates were built after it, run hant-distill calibrate again" : "");
  if (f->folds)
    printf("  held out (%d-fold, %d samples): median |error| %.2f points, 90th percentile %.2f, Kendall tau %.3f\n",
           f->folds, f->heldout_samples, 100 * f->heldout_median_abs_err, 100 * f->heldout_p90_abs_err,
           f->heldout_kendall_tau);
  else
    printf("  held out: none (fewer than 4 samples)\n");
}

/* The int8 scores (hant-distill quantize) beside the fp32 ones: how many
 * candidates have one, and the median |int8 score - fp32 score|, which says
 * how much quantisation moves the ranking the solver sees. */
typedef struct int8_summary {
  bool has_teacher;
  hant_int8_teacher_rec teacher;
  hant_cand_int8_rec *rows; /* by candidate id */
  int n_rows;
  int scored;               /* library candidates with a row */
  double median_abs_diff;   /* accuracy fraction; NaN without rows */
} int8_summary;

static const hant_cand_int8_rec *int8_row(const int8_summary *q, int64_t id) {
  for (int i = 0; i < q->n_rows; i++)
    if (q->rows[i].candidate_id == id)
      return &q->rows[i];
  return NULL;
}

static int int8_load(hant_store *st, const hant_cand_rec *cands, int nc, int8_summary *q) {
  memset(q, 0, sizeof(*q));
  q->median_abs_diff = NAN;
  int rc = hant_store_int8_teacher_get(st, &q->teacher);
  if (rc && rc != HANT_ENOENT)
    return rc;
  q->has_teacher = rc == 0;
  if ((rc = hant_store_int8_scores(st, &q->rows, &q->n_rows)))
    return rc;
  double *d = malloc(sizeof(double) * (size_t)(nc ? nc : 1));
  if (!d)
    return HANT_ENOMEM;
  for (int i = 0; i < nc; i++) {
    const hant_cand_int8_rec *r = int8_row(q, cands[i].id);
    if (r)
      d[q->scored++] = fabs(r->score - cands[i].score);
  }
  if (q->scored) {
    qsort(d, (size_t)q->scored, sizeof(double), cmp_double);
    int n = q->scored;
    q->median_abs_diff = n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
  }
  free(d);
  return 0;
}

static void int8_json(hant_jsonw *w, const int8_summary *q, int nc) {
  if (!q->has_teacher) {
    hant_jsonw_null(w);
    return;
  }
  hant_jsonw_obj_begin(w);
  hant_jsonw_key(w, "teacher_val_accuracy"), hant_jsonw_num(w, q->teacher.val_accuracy);
  hant_jsonw_key(w, "teacher_fp32_val_accuracy"), hant_jsonw_num(w, q->teacher.fp32_val_accuracy);
  hant_jsonw_key(w, "val_images"), hant_jsonw_int(w, q->teacher.val_images);
  hant_jsonw_key(w, "calib"), hant_jsonw_str(w, q->teacher.calib);
  hant_jsonw_key(w, "percentile"), hant_jsonw_num(w, q->teacher.percentile);
  hant_jsonw_key(w, "calib_images"), hant_jsonw_int(w, q->teacher.calib_images);
  hant_jsonw_key(w, "candidates_scored"), hant_jsonw_int(w, q->scored);
  hant_jsonw_key(w, "candidates"), hant_jsonw_int(w, nc);
  hant_jsonw_key(w, "median_abs_score_diff");
  if (q->scored)
    hant_jsonw_num(w, q->median_abs_diff);
  else
    hant_jsonw_null(w);
  hant_jsonw_key(w, "created"), hant_jsonw_str(w, q->teacher.created);
  hant_jsonw_obj_end(w);
}

static void int8_text(const int8_summary *q, int nc) {
  if (!q->has_teacher) {
    printf("\nint8: no int8 scores; int8 devices are served fp32 scores (hant-distill quantize measures them)\n");
    return;
  }
  printf("\nint8: teacher %.4f validation accuracy in int8 (fp32 %.4f, %d images), %s calibration on %d training "
         "images\n",
         q->teacher.val_accuracy, q->teacher.fp32_val_accuracy, q->teacher.val_images, q->teacher.calib,
         q->teacher.calib_images);
  if (q->scored)
    printf("  %d of %d candidates scored in int8; median |int8 score - fp32 score| %.2f points\n", q->scored, nc,
           100 * q->median_abs_diff);
  else
    printf("  0 of %d candidates scored in int8\n", nc);
}

int cmd_library(int argc, char **argv) {
  const char *db = NULL, *only = NULL, *teacher_file = NULL;
  bool json = false;
  const hant_opt opts[] = {
      HANT_OPT_STRING("db", 0, &db, "LIBRARY.db", NULL),
      HANT_OPT_STRING("slot", 0, &only, "NAME", NULL),
      HANT_OPT_STRING("store-teacher", 0, &teacher_file, "FILE", NULL),
      HANT_OPT_FLAG("json", 0, &json, NULL),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill library", .usage = usage, .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  if (!db)
    return cli_usage_error(&cmd, "--db FILE is required");
  if (teacher_file && only)
    return cli_usage_error(&cmd, "--store-teacher lists nothing: it takes no --slot");
  if (teacher_file)
    return store_teacher(db, teacher_file, json);
  hant_store *st;
  int rc = hant_store_open(db, HANT_STORE_READONLY, &st);
  if (rc) {
    fprintf(stderr, "hant-distill library: %s\n", hant_errmsg());
    return EXIT_FAIL;
  }
  hant_teacher_rec t;
  hant_slot_rec *slots = NULL;
  double *slot_w = NULL;
  hant_cand_rec *cands = NULL;
  hant_cost_rec *costs = NULL;
  hant_run_rec *runs = NULL;
  int ns = 0, nc = 0, ncost = 0, nruns = 0;
  int64_t version = 0;
  rc = hant_store_teacher_get(st, &t);
  if (rc == HANT_ENOENT) {
    fprintf(stderr, "hant-distill library: %s is empty (build it with 'hant-distill build')\n", db);
    hant_store_close(st);
    return EXIT_FAIL;
  }
  if (rc || (rc = hant_store_slots(st, &slots, &ns)) || (rc = hant_store_candidates(st, -1, &cands, &nc)) ||
      (rc = hant_store_costs(st, NULL, &costs, &ncost)) || (rc = hant_store_runs(st, &runs, &nruns)) ||
      (rc = hant_store_library_version(st, &version))) {
    fprintf(stderr, "hant-distill library: %s\n", hant_errmsg());
    goto out;
  }
  hant_calib_fit_rec fit;
  hant_calib_coef_rec *coefs = NULL;
  hant_calib_sample_rec *samples = NULL;
  int n_coefs = 0, n_samples = 0, stale = 0;
  int frc = hant_store_calib_fit_get(st, &fit, &coefs, &n_coefs);
  bool has_fit = frc == 0;
  if ((frc && frc != HANT_ENOENT) || (rc = hant_store_calib_samples(st, &samples, &n_samples))) {
    rc = rc ? rc : frc;
    fprintf(stderr, "hant-distill library: %s\n", hant_errmsg());
    free(coefs);
    goto out;
  }
  int kl_measured;
  double kl_slope;
  bool kl_used = hant_library_divergence(cands, nc, &kl_measured, &kl_slope);
  /* the calibration's weight of a nat in each slot, when it adopted them */
  slot_w = malloc(sizeof(double) * (size_t)(ns + 1));
  char *wtext = NULL, *wobj = NULL;
  int n_slot_w = -1;
  if (kl_used && slot_w && !hant_store_meta_get(st, "calibration_slot_kl_weights", &wtext) && wtext)
    n_slot_w = hant_library_slot_weights_parse(wtext, slot_w, ns + 1);
  bool slot_weighted = n_slot_w == ns && ns > 0;
  double floor_scale = 0; /* the prediction's chance floor, as hant_library_load reads it */
  char *ftext = NULL;
  if (kl_used && !hant_store_meta_get(st, "calibration_floor_scale", &ftext))
    floor_scale = hant_library_floor_scale_parse(ftext);
  free(ftext);
  bool slot_objective = slot_weighted && !hant_store_meta_get(st, "calibration_slot_kl_objective", &wobj) && wobj &&
                        !strcmp(wobj, "true");
  hant_errmsg_clear();
  free(wtext);
  free(wobj);
  int8_summary q8;
  if ((rc = int8_load(st, cands, nc, &q8))) {
    fprintf(stderr, "hant-distill library: %s\n", hant_errmsg());
    free(coefs);
    free(samples);
    free(q8.rows);
    goto out;
  }
  hant_errmsg_clear();
  /* Candidates built after the fit have no coefficient: the fit is then not used. */
  for (int ci = 0; has_fit && ci < nc; ci++) {
    bool found = false;
    for (int k = 0; k < n_coefs && !found; k++)
      found = coefs[k].candidate_id == cands[ci].id;
    stale += !found;
  }
  free(coefs);
  free(samples);
  /* Families over the slot asked for, or the whole library. */
  int64_t only_id = 0;
  for (int s = 0; only && s < ns; s++)
    if (!strcmp(only, slots[s].name))
      only_id = slots[s].id;
  family_stats fam[16];
  int nfam = families(cands, nc, only_id, fam, 16);
  /* Libraries built before settings were recorded have none. */
  hant_build_settings bs;
  int brc = hant_build_settings_get(st, &bs);
  if (brc && brc != HANT_ENOENT) {
    rc = brc;
    fprintf(stderr, "hant-distill library: %s\n", hant_errmsg());
    free(q8.rows);
    goto out;
  }
  if (json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "library_version"), hant_jsonw_int(&w, version);
    hant_jsonw_key(&w, "grid_g_per_kwh"), hant_jsonw_num(&w, HANT_GRID_G_PER_KWH_DEFAULT);
    hant_jsonw_key(&w, "teacher");
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "path"), hant_jsonw_str(&w, t.path);
    hant_jsonw_key(&w, "sha256"), hant_jsonw_str(&w, t.sha256);
    /* 0: the library reads its teacher from path (see --store-teacher). */
    hant_jsonw_key(&w, "stored_bytes"), hant_jsonw_int(&w, t.stored_bytes);
    hant_jsonw_key(&w, "val_accuracy"), hant_jsonw_num(&w, t.val_accuracy);
    hant_jsonw_key(&w, "val_split"), hant_jsonw_str(&w, t.val_split);
    hant_jsonw_key(&w, "macs"), hant_jsonw_num(&w, t.macs);
    hant_jsonw_key(&w, "params"), hant_jsonw_int(&w, t.params);
    hant_jsonw_obj_end(&w);
    hant_jsonw_key(&w, "build");
    if (brc) {
      hant_jsonw_null(&w);
    } else {
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "preset"), hant_jsonw_str(&w, bs.preset);
      hant_jsonw_key(&w, "families"), hant_jsonw_str(&w, bs.families);
      hant_jsonw_key(&w, "per_family"), hant_jsonw_int(&w, bs.per_family);
      hant_jsonw_key(&w, "samples"), hant_jsonw_int(&w, bs.samples);
      hant_jsonw_key(&w, "val_samples"), hant_jsonw_int(&w, bs.val_samples);
      hant_jsonw_key(&w, "epochs"), hant_jsonw_int(&w, bs.epochs);
      hant_jsonw_key(&w, "epochs_teacher"), hant_jsonw_int(&w, bs.epochs_teacher > 0 ? bs.epochs_teacher : bs.epochs);
      hant_jsonw_key(&w, "plateau"), hant_jsonw_num(&w, bs.plateau);
      hant_jsonw_key(&w, "recipe"), hant_jsonw_int(&w, bs.recipe);
      hant_jsonw_key(&w, "batch"), hant_jsonw_int(&w, bs.batch);
      hant_jsonw_key(&w, "init"), hant_jsonw_str(&w, bs.init[0] ? bs.init : "random");
      hant_jsonw_key(&w, "seed"), hant_jsonw_int(&w, (long long)bs.seed);
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_key(&w, "slots");
    hant_jsonw_arr_begin(&w);
    int ci = 0, costpos = 0;
    for (int s = 0; s < ns; s++) {
      if (only && strcmp(only, slots[s].name))
        continue;
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "name"), hant_jsonw_str(&w, slots[s].name);
      hant_jsonw_key(&w, "kind"), hant_jsonw_str(&w, slots[s].kind);
      hant_jsonw_key(&w, "arch"), hant_jsonw_str(&w, slots[s].arch);
      hant_jsonw_key(&w, "input"), hant_jsonw_arr_begin(&w);
      hant_jsonw_int(&w, slots[s].in_c), hant_jsonw_int(&w, slots[s].in_h), hant_jsonw_int(&w, slots[s].in_w);
      hant_jsonw_arr_end(&w);
      hant_jsonw_key(&w, "output"), hant_jsonw_arr_begin(&w);
      hant_jsonw_int(&w, slots[s].out_c), hant_jsonw_int(&w, slots[s].out_h), hant_jsonw_int(&w, slots[s].out_w);
      hant_jsonw_arr_end(&w);
      hant_jsonw_key(&w, "macs"), hant_jsonw_num(&w, slots[s].macs);
      hant_jsonw_key(&w, "candidates");
      hant_jsonw_arr_begin(&w);
      for (ci = 0; ci < nc; ci++) {
        const hant_cand_rec *c = &cands[ci];
        if (c->slot_id != slots[s].id)
          continue;
        hant_jsonw_obj_begin(&w);
        hant_jsonw_key(&w, "id"), hant_jsonw_int(&w, c->id);
        hant_jsonw_key(&w, "key"), hant_jsonw_str(&w, c->key);
        hant_jsonw_key(&w, "family"), hant_jsonw_str(&w, c->family);
        hant_jsonw_key(&w, "arch"), hant_jsonw_str(&w, c->arch);
        hant_jsonw_key(&w, "init"), hant_jsonw_str(&w, c->init);
        hant_jsonw_key(&w, "score"), hant_jsonw_num(&w, c->score);
        hant_jsonw_key(&w, "val_accuracy"), hant_jsonw_num(&w, c->val_accuracy);
        hant_jsonw_key(&w, "loss_init"), hant_jsonw_num(&w, c->loss_init);
        hant_jsonw_key(&w, "loss_final"), hant_jsonw_num(&w, c->loss_final);
        hant_jsonw_key(&w, "macs"), hant_jsonw_num(&w, c->macs);
        hant_jsonw_key(&w, "params"), hant_jsonw_int(&w, c->params);
        hant_jsonw_key(&w, "peak_act_bytes"), hant_jsonw_int(&w, c->peak_act_bytes);
        hant_jsonw_key(&w, "train_seconds"), hant_jsonw_num(&w, c->train_seconds);
        hant_jsonw_key(&w, "cpu_seconds"), hant_jsonw_num(&w, c->cpu_seconds);
        costpos = 0;
        const hant_cand_int8_rec *r8 = int8_row(&q8, c->id);
        if (r8) {
          hant_jsonw_key(&w, "int8_score"), hant_jsonw_num(&w, r8->score);
          hant_jsonw_key(&w, "int8_val_accuracy"), hant_jsonw_num(&w, r8->val_accuracy);
        }
        json_costs(&w, costs, ncost, c->id, &costpos);
        hant_jsonw_obj_end(&w);
      }
      hant_jsonw_arr_end(&w);
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_arr_end(&w);
    hant_jsonw_key(&w, "families");
    hant_jsonw_arr_begin(&w);
    for (int f = 0; f < nfam; f++) {
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "family"), hant_jsonw_str(&w, fam[f].family);
      hant_jsonw_key(&w, "candidates"), hant_jsonw_int(&w, fam[f].n);
      hant_jsonw_key(&w, "score_min"), hant_jsonw_num(&w, fam[f].min);
      hant_jsonw_key(&w, "score_median"), hant_jsonw_num(&w, fam[f].median);
      hant_jsonw_key(&w, "score_mean"), hant_jsonw_num(&w, fam[f].mean);
      hant_jsonw_key(&w, "score_max"), hant_jsonw_num(&w, fam[f].max);
      hant_jsonw_key(&w, "train_seconds"), hant_jsonw_num(&w, fam[f].train_s);
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_arr_end(&w);
    hant_jsonw_key(&w, "divergence");
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "measured"), hant_jsonw_int(&w, kl_measured);
    hant_jsonw_key(&w, "kl_slope"), kl_used ? hant_jsonw_num(&w, kl_slope) : hant_jsonw_null(&w);
    hant_jsonw_key(&w, "ranks_candidates"), hant_jsonw_bool(&w, kl_used);
    hant_jsonw_key(&w, "slot_weights_objective"), hant_jsonw_bool(&w, slot_objective);
    hant_jsonw_key(&w, "floor_scale"), kl_used ? hant_jsonw_num(&w, floor_scale) : hant_jsonw_null(&w);
    hant_jsonw_key(&w, "slot_weights");
    if (slot_weighted) {
      hant_jsonw_arr_begin(&w);
      for (int i = 0; i < ns; i++)
        hant_jsonw_num(&w, slot_w[i]);
      hant_jsonw_arr_end(&w);
    } else {
      hant_jsonw_null(&w);
    }
    hant_jsonw_obj_end(&w);
    hant_jsonw_key(&w, "calibration");
    calibration_json(&w, &fit, has_fit, n_samples, stale);
    hant_jsonw_key(&w, "int8");
    int8_json(&w, &q8, nc);
    hant_jsonw_key(&w, "build_runs");
    hant_jsonw_arr_begin(&w);
    for (int r = 0; r < nruns; r++) {
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "started"), hant_jsonw_str(&w, runs[r].started);
      hant_jsonw_key(&w, "finished"), hant_jsonw_str(&w, runs[r].finished);
      hant_jsonw_key(&w, "candidates"), hant_jsonw_int(&w, runs[r].candidates);
      hant_jsonw_key(&w, "wall_seconds"), hant_jsonw_num(&w, runs[r].wall_seconds);
      hant_jsonw_key(&w, "cpu_seconds"), hant_jsonw_num(&w, runs[r].cpu_seconds);
      hant_jsonw_key(&w, "energy_j"), hant_jsonw_num(&w, runs[r].energy_j);
      hant_jsonw_key(&w, "energy_source"), hant_jsonw_str(&w, runs[r].energy_source);
      hant_jsonw_key(&w, "co2_g"), hant_jsonw_num(&w, runs[r].co2_g);
      hant_jsonw_key(&w, "args"), hant_jsonw_str(&w, runs[r].args);
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_arr_end(&w);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    printf("teacher  %s  val accuracy %.4f (%s)  %.2f MMAC\n", t.path, t.val_accuracy, t.val_split, t.macs / 1e6);
    if (t.stored_bytes > 0)
      printf("         stored in the library (%lld bytes)\n", (long long)t.stored_bytes);
    else
      printf("         not stored in the library: read from the path above ('--store-teacher FILE' stores it)\n");
    if (!brc) {
      char per[48] = "";
      if (bs.per_family)
        snprintf(per, sizeof(per), " (at most %d per family and slot)", bs.per_family);
      int et = bs.epochs_teacher > 0 ? bs.epochs_teacher : bs.epochs;
      char ep[96];
      if (et == bs.epochs && bs.plateau == 0)
        snprintf(ep, sizeof(ep), "%d epoch%s", bs.epochs, bs.epochs == 1 ? "" : "s");
      else
        snprintf(ep, sizeof(ep), "up to %d epoch%s (%d from the teacher's weights, plateau %g%%)", bs.epochs,
                 bs.epochs == 1 ? "" : "s", et, 100 * bs.plateau);
      printf("built    %s%s: families %s%s, %d training and %d validation images, %s, batch %d, seed %llu, recipe %d\n",
             bs.preset[0] ? "with preset " : "without a preset", bs.preset, bs.families, per, bs.samples,
             bs.val_samples, ep, bs.batch, (unsigned long long)bs.seed, bs.recipe);
    }
    for (int s = 0; s < ns; s++) {
      if (only && strcmp(only, slots[s].name))
        continue;
      int count = 0;
      for (int ci = 0; ci < nc; ci++)
        count += cands[ci].slot_id == slots[s].id;
      printf("\n%s  %s  %dx%dx%d -> %dx%dx%d  %.2f MMAC  %d candidates\n", slots[s].name, slots[s].arch, slots[s].in_c,
             slots[s].in_h, slots[s].in_w, slots[s].out_c, slots[s].out_h, slots[s].out_w, slots[s].macs / 1e6, count);
      printf("  %6s  %-26s %-9s %9s %10s %10s %9s%s\n", "id", "candidate", "family", "score", "mse init", "mse final",
             "MMAC", q8.n_rows ? "      int8" : "");
      for (int ci = 0; ci < nc; ci++) {
        const hant_cand_rec *c = &cands[ci];
        if (c->slot_id != slots[s].id)
          continue;
        printf("  %6lld  %-26s %-9s %+9.4f %10.4g %10.4g %9.3f", (long long)c->id, c->key, c->family, c->score,
               c->loss_init, c->loss_final, c->macs / 1e6);
        const hant_cand_int8_rec *r8 = int8_row(&q8, c->id);
        if (r8)
          printf(" %+9.4f", r8->score);
        else if (q8.n_rows)
          printf(" %9s", "-");
        printf("\n");
      }
    }
    printf("\n%-10s %10s %9s %9s %9s %9s %9s\n", "family", "candidates", "min", "median", "mean", "max",
           "train s");
    for (int f = 0; f < nfam; f++)
      printf("%-10s %10d %+9.4f %+9.4f %+9.4f %+9.4f %9.0f\n", fam[f].family, fam[f].n, fam[f].min, fam[f].median,
             fam[f].mean, fam[f].max, fam[f].train_s);
    double cpu = 0, ej = 0, co2 = 0;
    for (int r = 0; r < nruns; r++)
      cpu += runs[r].cpu_seconds, ej += runs[r].energy_j, co2 += runs[r].co2_g;
    printf("\nbuilt in %d run%s: %.0f CPU seconds, %.0f J, %.3f gCO2e\n", nruns, nruns == 1 ? "" : "s", cpu, ej, co2);
    if (kl_used)
      printf("\ndivergences: every candidate's; a nat of divergence costs %.1f points of validation accuracy, "
             "and the solver ranks by them\n",
             100 * kl_slope);
    if (slot_weighted) {
      printf("  the calibration weighs them by slot for the prediction%s (cuts compound more in some): a nat "
             "costs",
             slot_objective ? " and the objective" : ", not the objective");
      for (int i = 0; i < ns; i++)
        printf(" %.1f", 100 * slot_w[i]);
      printf(" points in slots 0-%d\n", ns - 1);
    }
    if (kl_used && floor_scale > 0)
      printf("  the prediction bends onto chance over %.1f points (networks past the floor stay ordered)\n",
             100 * floor_scale);
    if (!kl_used)
      printf("\ndivergences: %d of %d candidates; the solver ranks by the noise-aware scores (hant-distill "
             "calibrate measures the rest)\n",
             kl_measured, nc);
    calibration_text(&fit, has_fit, n_samples, stale);
    int8_text(&q8, nc);
  }
  free(q8.rows);
out:
  free(slot_w);
  free(slots);
  free(cands);
  free(costs);
  free(runs);
  hant_store_close(st);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
