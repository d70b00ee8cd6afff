/* SPDX-License-Identifier: MIT */
/* cmd_profile.c: `hant-distill profile` measures (host) or models (any profile) every candidate's cost, calibrates the host model, and checks additivity. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hant.h"
#include "cli.h"
#include "costs.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: hant-distill profile --db LIBRARY.db --device NAME [options]\n"
          "\n"
          "Fills the library's cost table for one device. On 'host' every candidate runs\n"
          "with hant's own kernels (batch 1, and --batch B): a warm-up, then timed samples\n"
          "until (p90 - p10) / median is below --max-spread (up to --attempts tries), the\n"
          "median recorded with the thread count and CPU model. Energy comes from RAPL\n"
          "where readable, else from the host profile's energy model over the measured\n"
          "latency (the record says which). The host model is then calibrated against the\n"
          "measurements and its error reported. Any other device is modelled from its\n"
          "profile (devices/NAME.json), once per power mode.\n"
          "\n"
          "  --db FILE             the library (required)\n"
          "  --device NAME         a device profile name (required), e.g. host, rpi4, jetson-nano\n"
          "  --devices DIR         look for profiles in DIR first (then $HANT_DEVICES, ...)\n"
          "  --batch B             also cost every candidate at batch B\n"
          "  --model               on host: model from devices/host.json instead of measuring\n"
          "  --no-measure          on host: keep the stored measurements; only calibrate and\n"
          "                        check additivity\n"
          "  --threads N           BLAS threads while measuring (default 1: a single thread\n"
          "                        can drop samples during which it was preempted)\n"
          "  --max-spread X        bound on (p90 - p10) / median (default 0.10)\n"
          "  --max-samples N       timed samples per attempt (default 100)\n"
          "  --attempts N          measurements tried before accepting a wider spread (default 3)\n"
          "  --passes N            passes over all candidates; the median pass is kept (default 3)\n"
          "  --energy-seconds S    seconds of RAPL reading per candidate (default 0.5 when RAPL\n"
          "                        is readable)\n"
          "  --calibration-out F   write the fitted host efficiencies and overhead as JSON\n"
          "  --residuals F         write each candidate's measured and modelled host latency (CSV)\n"
          "  --additivity N        on host: assemble N networks (the teacher, then random\n"
          "                        one-candidate-per-slot choices), measure each end to end,\n"
          "                        compare with the sum of their candidates' measured latencies,\n"
          "                        and store the fitted correction for selection\n"
          "  --teacher FILE        the teacher for --additivity (default: the path recorded in\n"
          "                        the library; its sha256 must match)\n"
          "  --seed N              choices for --additivity (default 1)\n"
          "  --grid G              grid intensity for the carbon of this run, gCO2/kWh\n"
          "                        (default %.0f)\n"
          "  --json                results as JSON on stdout\n"
          "  -q, --quiet           no progress on stderr\n"
          "\n"
          "Exit status: 0 success, 1 failure, 2 usage error.\n",
          HANT_GRID_G_PER_KWH_DEFAULT);
}

#define MAX_PASSES 9

typedef struct opts {
  const char *db, *device, *devices, *teacher, *calib_out, *residuals;
  long batch, threads, max_samples, attempts, additivity, seed, passes;
  double max_spread, energy_s, grid;
  bool model, no_measure, json, quiet;
} opts;

typedef struct recs {
  hant_cost_rec *v;
  int n, cap;
} recs;

static int recs_add(recs *r, const hant_cost_rec *c) {
  if (r->n == r->cap) {
    int cap = r->cap ? r->cap * 2 : 256;
    hant_cost_rec *p = realloc(r->v, sizeof(*p) * (size_t)cap);
    if (!p)
      return HANT_ENOMEM;
    r->v = p, r->cap = cap;
  }
  r->v[r->n++] = *c;
  return 0;
}

static void join_args(int argc, char **argv, char *out, size_t n) {
  size_t k = (size_t)snprintf(out, n, "hant-distill");
  for (int i = 0; i < argc && k < n; i++)
    k += (size_t)snprintf(out + k, n - k, " %s", argv[i]);
}

static void measure_opts(const opts *o, hant_measure_opts *mo) {
  hant_measure_opts_default(mo);
  mo->max_spread = o->max_spread;
  mo->max_samples = (int)o->max_samples;
  mo->attempts = (int)o->attempts;
  mo->energy_s = o->energy_s;
}

/* ---- measuring and modelling candidates ------------------------------------ */

static int measure_one(const opts *o, const hant_device *d, hant_net *net, int64_t cand, int batch, const char *cpu,
                       hant_cost_rec *c, hant_measure_result *mr) {
  hant_measure_opts mo;
  measure_opts(o, &mo);
  mo.batch = batch;
  int rc = hant_measure_net(net, &mo, mr);
  if (rc)
    return rc;
  memset(c, 0, sizeof(*c));
  c->candidate_id = cand;
  snprintf(c->device, sizeof(c->device), "%s", d->name);
  c->batch = batch;
  c->latency_ms = mr->latency_ms;
  c->latency_spread = mr->spread;
  snprintf(c->source, sizeof(c->source), "measured");
  double e_model;
  if ((rc = costs_model_energy(d, -1, net, batch, mr->latency_ms, &e_model, &c->memory_bytes, c->energy_source,
                               sizeof(c->energy_source))))
    return rc;
  if (mr->energy_mj >= 0) {
    c->energy_mj = mr->energy_mj;
    snprintf(c->energy_source, sizeof(c->energy_source), "%s", mr->energy_source);
  } else {
    c->energy_mj = e_model;
    /* Say why the energy is modelled. */
    size_t l = strlen(c->energy_source);
    snprintf(c->energy_source + l, sizeof(c->energy_source) - l, "; no RAPL");
  }
  char esc[200];
  hant_json_escape(esc, sizeof(esc), cpu);
  snprintf(c->detail, sizeof(c->detail),
           "{\"threads\":%d,\"cpu\":%s,\"samples\":%d,\"reps\":%d,\"attempts\":%d,\"rejected\":%d,\"stable\":%s,"
           "\"p10_ms\":%.6g,\"p90_ms\":%.6g,\"min_ms\":%.6g,\"max_spread\":%g}",
           mr->threads, esc, mr->samples, mr->reps, mr->attempts, mr->rejected, mr->stable ? "true" : "false",
           mr->p10_ms, mr->p90_ms, mr->min_ms, o->max_spread);
  return 0;
}

static int model_one(const hant_device *d, int mode, const hant_net *net, int64_t cand, int batch,
                     hant_cost_rec *c) {
  hant_cost_estimate e;
  int rc = hant_costmodel_net(d, mode, net, batch, &e);
  if (rc)
    return rc;
  hant_device_point pt;
  hant_device_point_get(d, mode, &pt);
  memset(c, 0, sizeof(*c));
  c->candidate_id = cand;
  snprintf(c->device, sizeof(c->device), "%s", d->name);
  snprintf(c->power_mode, sizeof(c->power_mode), "%s", pt.mode);
  c->batch = batch;
  c->latency_ms = e.latency_ms;
  c->latency_spread = -1;
  c->energy_mj = e.energy_mj;
  c->memory_bytes = e.memory_bytes;
  snprintf(c->source, sizeof(c->source), "modelled");
  snprintf(c->energy_source, sizeof(c->energy_source), "modelled: %.40s profile (pJ/MAC, pJ/B, idle W)",
           d->name);
  snprintf(c->detail, sizeof(c->detail),
           "{\"precision\":\"%s\",\"macs\":%.6g,\"macs_padded\":%.6g,\"compute_ms\":%.6g,\"memory_ms\":%.6g,"
           "\"overhead_ms\":%.6g,\"energy_mac_mj\":%.6g,\"energy_memory_mj\":%.6g,\"energy_static_mj\":%.6g}",
           hant_prec_name(d->precision), e.macs, e.macs_padded, e.compute_ms, e.memory_ms, e.overhead_ms,
           e.energy_mac_mj, e.energy_mem_mj, e.energy_static_mj);
  return 0;
}

/* ---- calibration ------------------------------------------------------------ */

static int calibrate(hant_store *st, const opts *o, const hant_device *d, const hant_cand_rec *cands, hant_net **nets,
                     const double *lat_ms, int n, hant_device **fitted, hant_calib_report *rep,
                     hant_calib_error *before) {
  *fitted = NULL;
  hant_calib_sample *s = malloc(sizeof(*s) * (size_t)(n > 0 ? n : 1));
  double *err = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  int k = 0, rc = 0;
  if (!s || !err) {
    rc = HANT_ENOMEM;
    goto out;
  }
  /* Networks the model charges nothing (identity blocks) cannot be fitted in
   * log space; they are left out of the fit and the error figures. */
  for (int i = 0; i < n; i++) {
    hant_cost_estimate e;
    if (!nets[i] || !(lat_ms[i] > 0) || hant_costmodel_net(d, -1, nets[i], 1, &e) || e.ops == 0)
      continue;
    s[k++] = (hant_calib_sample){.net = nets[i], .batch = 1, .measured_ms = lat_ms[i]};
  }
  if (k < 4) {
    rc = hant__error(HANT_EINVAL, "calibration needs at least 4 measured candidates that do work, got %d", k);
    goto out;
  }
  if ((rc = hant_costmodel_errors(d, s, k, err, before)))
    goto out;
  hant_device *f;
  if ((rc = hant_device_parse(d->json, strlen(d->json), d->path, &f)))
    goto out;
  if ((rc = hant_costmodel_calibrate(f, s, k, 5, rep))) {
    hant_device_destroy(f);
    goto out;
  }
  *fitted = f;
  if (o->residuals) {
    FILE *fr = fopen(o->residuals, "w");
    if (!fr) {
      rc = hant__error(HANT_EIO, "%s: cannot write", o->residuals);
      goto out;
    }
    fprintf(fr, "id,key,family,arch,macs,measured_ms,profile_ms,calibrated_ms\n");
    for (int i = 0; i < n; i++) {
      hant_cost_estimate e0, e1;
      if (!nets[i] || !(lat_ms[i] > 0) || hant_costmodel_net(d, -1, nets[i], 1, &e0) ||
          hant_costmodel_net(f, -1, nets[i], 1, &e1))
        continue;
      fprintf(fr, "%lld,%s,%s,\"%s\",%.0f,%.6g,%.6g,%.6g\n", (long long)cands[i].id, cands[i].key, cands[i].family,
              cands[i].arch, e0.macs, lat_ms[i], e0.latency_ms, e1.latency_ms);
    }
    if (fclose(fr)) {
      rc = hant__error(HANT_EIO, "%s: write error", o->residuals);
      goto out;
    }
  }
  char val[1024];
  snprintf(val, sizeof(val),
           "{\"device\":\"%s\",\"samples\":%d,\"efficiency\":{\"conv\":%.6g,\"depthwise\":%.6g,\"linear\":%.6g,"
           "\"memory\":%.6g},\"overhead_us\":%.6g,\"profile_error\":{\"median\":%.6g,\"p90\":%.6g,\"within10\":%.6g},"
           "\"fit_error\":{\"median\":%.6g,\"p90\":%.6g,\"within10\":%.6g},\"held_out_error\":{\"folds\":%d,"
           "\"median\":%.6g,\"p90\":%.6g,\"within10\":%.6g}}",
           d->name, k, rep->eff[0], rep->eff[1], rep->eff[2], rep->eff[3], rep->overhead_us, before->median,
           before->p90, before->within10, rep->fit.median, rep->fit.p90, rep->fit.within10, rep->folds,
           rep->held.median, rep->held.p90, rep->held.within10);
  char key[96];
  snprintf(key, sizeof(key), "calibration.%s", d->name);
  rc = hant_store_meta_put(st, key, val);
  if (!rc && o->calib_out) {
    FILE *fo = fopen(o->calib_out, "w");
    if (!fo) {
      rc = hant__error(HANT_EIO, "%s: cannot write", o->calib_out);
      goto out;
    }
    char now[32], src[256];
    hant_store_now(now);
    snprintf(src, sizeof(src),
             "calibrated: hant-distill profile --device %s, %d measured candidates of %s, %s; held-out median "
             "error %.1f%%",
             d->name, k, hant_store_path(st), now, 100 * rep->held.median);
    hant_jsonw w;
    hant_jsonw_init(&w, fo);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "efficiency");
    hant_jsonw_obj_begin(&w);
    for (int c = 0; c < HANT_EFF_COUNT; c++) {
      hant_jsonw_key(&w, hant_eff_name((hant_eff)c));
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "value"), hant_jsonw_num(&w, round(rep->eff[c] * 1e4) / 1e4);
      hant_jsonw_key(&w, "unit"), hant_jsonw_str(&w, "1");
      hant_jsonw_key(&w, "source"), hant_jsonw_str(&w, src);
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_obj_end(&w);
    hant_jsonw_key(&w, "overhead");
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "value"), hant_jsonw_num(&w, round(rep->overhead_us * 1e3) / 1e3);
    hant_jsonw_key(&w, "unit"), hant_jsonw_str(&w, "us");
    hant_jsonw_key(&w, "source"), hant_jsonw_str(&w, src);
    hant_jsonw_obj_end(&w);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
    if (fclose(fo))
      rc = hant__error(HANT_EIO, "%s: write error", o->calib_out);
  }
out:
  free(s);
  free(err);
  return rc;
}

/* ---- additivity ------------------------------------------------------------- */

typedef struct addi_net {
  double sum_ms, measured_ms, spread, model_ms;
  char choice[512];
} addi_net;

static int additivity(hant_store *st, const opts *o, const hant_device *model_dev, const hant_cand_rec *cands,
                      int nc, hant_net **nets, const double *lat_ms, addi_net **out, int *nout, hant_additivity *a) {
  *out = NULL;
  *nout = 0;
  hant_teacher_rec t;
  int rc = hant_store_teacher_get(st, &t);
  if (rc)
    return rc;
  const char *path = o->teacher ? o->teacher : t.path;
  char sha[65];
  if ((rc = hant_sha256_file_checked(path, t.sha256, sha)))
    return hant__error(rc, "additivity: %s (pass --teacher with the library's teacher)", hant_errmsg());
  hant_net *teacher = NULL;
  hant_slot_rec *slots = NULL;
  int ns = 0;
  int **per = NULL, *nper = NULL;
  addi_net *res = NULL;
  hant_net **pick = NULL;
  double *sums = NULL, *meas = NULL;
  if ((rc = hant_onnx_load_any(path, &teacher, NULL)) || (rc = hant_teacher_prepare(teacher, path)) ||
      (rc = hant_store_slots(st, &slots, &ns)))
    goto out;
  if (ns != teacher->n_slots) {
    rc = hant__error(HANT_EINVAL, "additivity: the library has %d slots but %s has %d", ns, path, teacher->n_slots);
    goto out;
  }
  per = calloc((size_t)ns, sizeof(*per));
  nper = calloc((size_t)ns, sizeof(int));
  pick = calloc((size_t)ns, sizeof(*pick));
  res = calloc((size_t)o->additivity, sizeof(*res));
  sums = calloc((size_t)o->additivity, sizeof(double));
  meas = calloc((size_t)o->additivity, sizeof(double));
  if (!per || !nper || !pick || !res || !sums || !meas) {
    rc = HANT_ENOMEM;
    goto out;
  }
  /* Candidates of each slot that have a measured latency. */
  for (int s = 0; s < ns; s++) {
    if (!(per[s] = malloc(sizeof(int) * (size_t)(nc > 0 ? nc : 1)))) {
      rc = HANT_ENOMEM;
      goto out;
    }
    for (int i = 0; i < nc; i++)
      if (cands[i].slot_id == slots[s].id && nets[i] && lat_ms[i] > 0)
        per[s][nper[s]++] = i;
    if (!nper[s]) {
      rc = hant__error(HANT_EINVAL, "additivity: slot %s has no candidate with a measured host latency; run "
                                    "'hant-distill profile --device host' first",
                       slots[s].name);
      goto out;
    }
  }
  hant_rng rng;
  hant_rng_seed(&rng, (uint64_t)o->seed * 7919u + 17u);
  hant_measure_opts mo;
  measure_opts(o, &mo);
  for (int k = 0; k < o->additivity; k++) {
    addi_net *r = &res[k];
    size_t cl = 0;
    for (int s = 0; s < ns; s++) {
      int i = -1;
      if (k == 0) { /* the teacher itself: each slot's teacher-family candidate */
        for (int j = 0; j < nper[s]; j++)
          if (!strcmp(cands[per[s][j]].family, "teacher"))
            i = per[s][j];
      }
      if (i < 0)
        i = per[s][hant_rng_below(&rng, (uint32_t)nper[s])];
      pick[s] = nets[i];
      r->sum_ms += lat_ms[i];
      if (cl + 24 < sizeof(r->choice))
        cl += (size_t)snprintf(r->choice + cl, sizeof(r->choice) - cl, "%s%lld", s ? "," : "", (long long)cands[i].id);
    }
    hant_net *net;
    if ((rc = hant_assemble(teacher, pick, &net)))
      goto out;
    hant_measure_result mr;
    hant_cost_estimate e;
    rc = hant_measure_net(net, &mo, &mr);
    if (!rc)
      rc = hant_costmodel_net(model_dev, -1, net, 1, &e);
    hant_net_destroy(net);
    if (rc)
      goto out;
    r->measured_ms = mr.latency_ms;
    r->spread = mr.spread;
    r->model_ms = e.latency_ms;
    sums[k] = r->sum_ms;
    meas[k] = r->measured_ms;
    if (!o->quiet && !o->json)
      fprintf(stderr, "additivity [%d/%ld] sum %.4f ms  measured %.4f ms  (%+.1f%%)  model %.4f ms\n", k + 1,
              o->additivity, r->sum_ms, r->measured_ms, 100 * (r->sum_ms - r->measured_ms) / r->measured_ms,
              r->model_ms);
  }
  memset(a, 0, sizeof(*a));
  snprintf(a->device, sizeof(a->device), "%s", model_dev->name);
  a->batch = 1;
  if ((rc = hant_additivity_fit(sums, meas, (int)o->additivity, a)))
    goto out;
  if ((rc = hant_additivity_save(st, a)))
    goto out;
  *out = res;
  *nout = (int)o->additivity;
  res = NULL;
out:
  if (per)
    for (int s = 0; s < ns; s++)
      free(per[s]);
  free(per);
  free(nper);
  free(pick);
  free(res);
  free(sums);
  free(meas);
  free(slots);
  hant_net_destroy(teacher);
  return rc;
}

/* ---- the command ------------------------------------------------------------ */

static void print_err(const char *what, const hant_calib_error *e) {
  printf("%-34s median %5.1f%%  p90 %5.1f%%  within 10%% %5.1f%%  (n = %d)\n", what, 100 * e->median, 100 * e->p90,
         100 * e->within10, e->n);
}

static void json_err(hant_jsonw *w, const char *key, const hant_calib_error *e) {
  hant_jsonw_key(w, key);
  hant_jsonw_obj_begin(w);
  hant_jsonw_key(w, "n"), hant_jsonw_int(w, e->n);
  hant_jsonw_key(w, "median"), hant_jsonw_num(w, e->median);
  hant_jsonw_key(w, "p90"), hant_jsonw_num(w, e->p90);
  hant_jsonw_key(w, "within10"), hant_jsonw_num(w, e->within10);
  hant_jsonw_key(w, "bias"), hant_jsonw_num(w, e->bias);
  hant_jsonw_obj_end(w);
}

int cmd_profile(int argc, char **argv) {
  opts o = {.batch = 1, .threads = 1, .max_samples = 100, .attempts = 3, .seed = 1, .passes = 3, .max_spread = 0.10,
            .energy_s = -1, .grid = HANT_GRID_G_PER_KWH_DEFAULT};
  const char *v;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return EXIT_OK_;
    } else if (!strcmp(a, "--json")) {
      o.json = true;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      o.quiet = true;
    } else if (!strcmp(a, "--model")) {
      o.model = true;
    } else if (!strcmp(a, "--no-measure")) {
      o.no_measure = true;
    } else if (cli_opt(argc, argv, &i, "--db", &v)) {
      if (!(o.db = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--device", &v)) {
      if (!(o.device = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--devices", &v)) {
      if (!(o.devices = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--teacher", &v)) {
      if (!(o.teacher = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--residuals", &v)) {
      if (!(o.residuals = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--calibration-out", &v)) {
      if (!(o.calib_out = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--batch", &v)) {
      if (!cli_int("profile", "--batch", v, 1, 4096, &o.batch))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--threads", &v)) {
      if (!cli_int("profile", "--threads", v, 1, 256, &o.threads))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--max-samples", &v)) {
      if (!cli_int("profile", "--max-samples", v, 15, 100000, &o.max_samples))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--passes", &v)) {
      if (!cli_int("profile", "--passes", v, 1, MAX_PASSES, &o.passes))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--attempts", &v)) {
      if (!cli_int("profile", "--attempts", v, 1, 100, &o.attempts))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--additivity", &v)) {
      if (!cli_int("profile", "--additivity", v, 2, 100000, &o.additivity))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--seed", &v)) {
      if (!cli_int("profile", "--seed", v, 0, 1L << 40, &o.seed))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--max-spread", &v)) {
      if (!cli_float("profile", "--max-spread", v, 0.001, 10, &o.max_spread))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--energy-seconds", &v)) {
      if (!cli_float("profile", "--energy-seconds", v, 0, 60, &o.energy_s))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--grid", &v)) {
      if (!cli_float("profile", "--grid", v, 0, 5000, &o.grid))
        return EXIT_USAGE;
    } else {
      fprintf(stderr, "hant-distill profile: unknown option '%s'; see --help\n", a);
      return EXIT_USAGE;
    }
  }
  if (!o.db || !o.device) {
    fprintf(stderr, "hant-distill profile: --db FILE and --device NAME are required\n");
    return EXIT_USAGE;
  }
  bool host = !strcmp(o.device, "host");
  bool measure = host && !o.model && !o.no_measure;
  if (!host && (o.additivity || o.no_measure || o.calib_out)) {
    fprintf(stderr, "hant-distill profile: --additivity, --no-measure and --calibration-out need --device host\n");
    return EXIT_USAGE;
  }
  hant_threads_set((int)o.threads);

  hant_store *st = NULL;
  hant_device *dev = NULL, *fitted = NULL;
  hant_cand_rec *cands = NULL;
  hant_cost_rec *stored = NULL;
  hant_net **nets = NULL;
  double *lat = NULL;
  addi_net *an = NULL;
  recs out = {0};
  int nc = 0, nstored = 0, nan = 0, rc;
  hant_calib_report rep = {0};
  hant_calib_error before = {0};
  hant_additivity add = {0};
  bool calibrated = false;
  hant_energy_meter meter;
  hant_energy_start(&meter);
  double t0 = hant_now_s(), cpu0 = hant_cpu_s();
  char cpu[128];
  hant_measure_cpu_model(cpu, sizeof(cpu));
  hant_run_rec run = {0};
  join_args(argc, argv, run.args, sizeof(run.args));
  if (o.energy_s < 0)
    o.energy_s = meter.rapl ? 0.5 : 0.0;

  if ((rc = hant_store_open(o.db, 0, &st)) || (rc = hant_device_resolve(st, o.devices, o.device, &dev)) ||
      (rc = hant_store_candidates(st, -1, &cands, &nc)))
    goto fail;
  if (!nc) {
    rc = hant__error(HANT_EINVAL, "%s has no candidates (build it with 'hant-distill build')", o.db);
    goto fail;
  }
  if ((rc = hant_store_run_begin(st, &run)))
    goto fail;
  nets = calloc((size_t)nc, sizeof(*nets));
  lat = calloc((size_t)nc, sizeof(double));
  if (!nets || !lat) {
    rc = HANT_ENOMEM;
    goto fail;
  }
  for (int i = 0; i < nc; i++)
    if ((rc = hant_store_candidate_net(st, cands[i].id, &nets[i])))
      goto fail;
  if (!o.quiet && !o.json)
    fprintf(stderr, "profile: %d candidates on %s (%s, %s)%s\n", nc, dev->name, dev->path,
            measure ? "measured" : host && o.no_measure ? "stored measurements" : "modelled",
            measure ? (o.threads == 1 ? ", 1 thread" : ", several threads") : "");

  int batches[2] = {1, (int)o.batch}, nb = o.batch > 1 ? 2 : 1, unstable = 0;
  if (measure) {
    /* Passes over all candidates, so a burst of load on the machine hits
     * one pass of a candidate rather than all its samples; the median pass
     * is kept. */
    recs pass[MAX_PASSES] = {{0}};
    for (int p = 0; p < o.passes && !rc; p++) {
      opts op = o; /* a power sensor is read in the last pass only */
      op.energy_s = p + 1 == o.passes ? o.energy_s : 0;
      for (int i = 0; i < nc && !rc; i++)
        for (int b = 0; b < nb && !rc; b++) {
          hant_cost_rec c;
          hant_measure_result mr;
          if ((rc = measure_one(&op, dev, nets[i], cands[i].id, batches[b], cpu, &c, &mr)) ||
              (rc = recs_add(&pass[p], &c)))
            break;
          unstable += !mr.stable;
          if (!o.quiet && !o.json)
            fprintf(stderr, "pass %d/%ld [%d/%d] %6lld %-28.28s b%-3d %9.4f ms  spread %5.3f%s\n", p + 1, o.passes,
                    i + 1, nc, (long long)cands[i].id, cands[i].key, batches[b], mr.latency_ms, mr.spread,
                    mr.stable ? "" : " (above bound)");
        }
    }
    for (int k = 0; !rc && k < pass[0].n; k++) {
      int order[MAX_PASSES];
      for (int p = 0; p < o.passes; p++)
        order[p] = p;
      for (int p = 1; p < o.passes; p++) /* insertion sort by latency */
        for (int q = p; q > 0 && pass[order[q]].v[k].latency_ms < pass[order[q - 1]].v[k].latency_ms; q--) {
          int t = order[q];
          order[q] = order[q - 1], order[q - 1] = t;
        }
      hant_cost_rec c = pass[order[o.passes / 2]].v[k];
      const hant_cost_rec *last = &pass[o.passes - 1].v[k];
      if (strncmp(last->energy_source, "modelled", 8)) { /* a sensor's reading */
        c.energy_mj = last->energy_mj;
        snprintf(c.energy_source, sizeof(c.energy_source), "%s", last->energy_source);
      }
      double lo = pass[order[0]].v[k].latency_ms, hi = pass[order[o.passes - 1]].v[k].latency_ms;
      size_t l = strlen(c.detail);
      if (l > 1 && l + 48 < sizeof(c.detail))
        snprintf(c.detail + l - 1, sizeof(c.detail) - l + 1, ",\"passes\":%d,\"pass_spread\":%.4g}", (int)o.passes,
                 c.latency_ms > 0 ? (hi - lo) / c.latency_ms : 0.0);
      if (k % nb == 0)
        lat[k / nb] = c.latency_ms;
      rc = recs_add(&out, &c);
    }
    for (int p = 0; p < MAX_PASSES; p++)
      free(pass[p].v);
    if (rc)
      goto fail;
  } else if (!host || o.model) {
    for (int i = 0; i < nc; i++)
      for (int b = 0; b < nb; b++) {
        int modes = dev->n_modes ? dev->n_modes : 1;
        for (int m = 0; m < modes; m++) {
          hant_cost_rec c;
          if ((rc = model_one(dev, dev->n_modes ? m : -1, nets[i], cands[i].id, batches[b], &c)) ||
              (rc = recs_add(&out, &c)))
            goto fail;
        }
      }
  }

  /* One transaction for the whole device, then one version bump. */
  int64_t dev_id;
  if ((rc = hant_store_begin(st)))
    goto fail;
  if ((rc = costs_device_put(st, dev, &dev_id))) {
    hant_store_rollback(st);
    goto fail;
  }
  for (int i = 0; i < out.n; i++)
    if ((rc = hant_store_cost_put(st, dev_id, &out.v[i]))) {
      hant_store_rollback(st);
      goto fail;
    }
  if ((rc = hant_store_touch(st)) || (rc = hant_store_commit(st))) {
    hant_store_rollback(st);
    goto fail;
  }

  if (host && !o.model) {
    if (!measure) { /* calibrate and check additivity against what is stored */
      if ((rc = hant_store_costs(st, dev->name, &stored, &nstored)))
        goto fail;
      for (int i = 0; i < nc; i++)
        for (int j = 0; j < nstored; j++)
          if (stored[j].candidate_id == cands[i].id && stored[j].batch == 1 && !strcmp(stored[j].source, "measured"))
            lat[i] = stored[j].latency_ms;
    }
    if ((rc = calibrate(st, &o, dev, cands, nets, lat, nc, &fitted, &rep, &before)))
      goto fail;
    calibrated = true;
    if (o.additivity && (rc = additivity(st, &o, fitted, cands, nc, nets, lat, &an, &nan, &add)))
      goto fail;
  }

  hant_store_now(run.finished);
  run.wall_seconds = hant_now_s() - t0;
  run.cpu_seconds = hant_cpu_s() - cpu0;
  run.energy_j = hant_energy_joules(&meter);
  snprintf(run.energy_source, sizeof(run.energy_source), "%s", meter.source);
  run.grid_g_per_kwh = o.grid;
  run.co2_g = hant_co2_grams(run.energy_j, o.grid);
  if ((rc = hant_store_run_update(st, &run)))
    goto fail;

  if (o.json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "device"), hant_jsonw_str(&w, dev->name);
    hant_jsonw_key(&w, "profile"), hant_jsonw_str(&w, dev->path);
    hant_jsonw_key(&w, "source"), hant_jsonw_str(&w, measure ? "measured" : host && !o.model ? "stored" : "modelled");
    hant_jsonw_key(&w, "candidates"), hant_jsonw_int(&w, nc);
    hant_jsonw_key(&w, "costs_written"), hant_jsonw_int(&w, out.n);
    if (measure) {
      hant_jsonw_key(&w, "cpu"), hant_jsonw_str(&w, cpu);
      hant_jsonw_key(&w, "threads"), hant_jsonw_int(&w, hant_threads_get());
      hant_jsonw_key(&w, "above_spread_bound"), hant_jsonw_int(&w, unstable);
    }
    if (calibrated) {
      hant_jsonw_key(&w, "calibration");
      hant_jsonw_obj_begin(&w);
      json_err(&w, "profile_error", &before);
      json_err(&w, "fit_error", &rep.fit);
      json_err(&w, "held_out_error", &rep.held);
      hant_jsonw_key(&w, "folds"), hant_jsonw_int(&w, rep.folds);
      hant_jsonw_key(&w, "efficiency");
      hant_jsonw_obj_begin(&w);
      for (int c = 0; c < HANT_EFF_COUNT; c++)
        hant_jsonw_key(&w, hant_eff_name((hant_eff)c)), hant_jsonw_num(&w, rep.eff[c]);
      hant_jsonw_obj_end(&w);
      hant_jsonw_key(&w, "overhead_us"), hant_jsonw_num(&w, rep.overhead_us);
      hant_jsonw_obj_end(&w);
    }
    if (nan) {
      hant_jsonw_key(&w, "additivity");
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "networks"), hant_jsonw_int(&w, nan);
      hant_jsonw_key(&w, "overhead_ms"), hant_jsonw_num(&w, add.overhead_ms);
      hant_jsonw_key(&w, "factor"), hant_jsonw_num(&w, add.factor);
      hant_jsonw_key(&w, "raw"), hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "median"), hant_jsonw_num(&w, add.raw_median);
      hant_jsonw_key(&w, "p90"), hant_jsonw_num(&w, add.raw_p90);
      hant_jsonw_key(&w, "within10"), hant_jsonw_num(&w, add.raw_within10);
      hant_jsonw_obj_end(&w);
      hant_jsonw_key(&w, "corrected_leave_one_out"), hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "median"), hant_jsonw_num(&w, add.corrected_median);
      hant_jsonw_key(&w, "p90"), hant_jsonw_num(&w, add.corrected_p90);
      hant_jsonw_key(&w, "within10"), hant_jsonw_num(&w, add.corrected_within10);
      hant_jsonw_obj_end(&w);
      double *me = malloc(sizeof(double) * (size_t)nan);
      hant_calib_error ms = {0};
      if (me) {
        for (int k = 0; k < nan; k++)
          me[k] = (an[k].model_ms - an[k].measured_ms) / an[k].measured_ms;
        hant_calib_error_summarise(me, nan, &ms);
        free(me);
      }
      json_err(&w, "model", &ms);
      hant_jsonw_key(&w, "list");
      hant_jsonw_arr_begin(&w);
      for (int k = 0; k < nan; k++) {
        hant_jsonw_obj_begin(&w);
        hant_jsonw_key(&w, "candidates"), hant_jsonw_str(&w, an[k].choice);
        hant_jsonw_key(&w, "sum_ms"), hant_jsonw_num(&w, an[k].sum_ms);
        hant_jsonw_key(&w, "measured_ms"), hant_jsonw_num(&w, an[k].measured_ms);
        hant_jsonw_key(&w, "spread"), hant_jsonw_num(&w, an[k].spread);
        hant_jsonw_key(&w, "corrected_ms"), hant_jsonw_num(&w, hant_cost_correct_latency(&add, an[k].sum_ms));
        hant_jsonw_key(&w, "model_ms"), hant_jsonw_num(&w, an[k].model_ms);
        hant_jsonw_obj_end(&w);
      }
      hant_jsonw_arr_end(&w);
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_key(&w, "run");
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "wall_seconds"), hant_jsonw_num(&w, run.wall_seconds);
    hant_jsonw_key(&w, "energy_j"), hant_jsonw_num(&w, run.energy_j);
    hant_jsonw_key(&w, "energy_source"), hant_jsonw_str(&w, run.energy_source);
    hant_jsonw_key(&w, "co2_g"), hant_jsonw_num(&w, run.co2_g);
    hant_jsonw_key(&w, "grid_g_per_kwh"), hant_jsonw_num(&w, o.grid);
    hant_jsonw_obj_end(&w);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    printf("device        %s (%s)\n", dev->name, dev->path);
    printf("costs         %d written (%s)%s\n", out.n,
           measure ? "measured" : host && !o.model ? "none: stored measurements used" : "modelled",
           dev->n_modes && !measure ? ", one per power mode" : "");
    if (measure)
      printf("measured on   %s, %d thread%s; %d of %d above the spread bound %.2f\n", cpu, hant_threads_get(),
             hant_threads_get() == 1 ? "" : "s", unstable, out.n * (int)o.passes, o.max_spread);
    if (calibrated) {
      print_err("host model, profile as shipped", &before);
      print_err("host model, calibrated (in-sample)", &rep.fit);
      print_err("host model, calibrated (held-out)", &rep.held);
      printf("calibrated    conv %.4f  depthwise %.4f  linear %.4f  memory %.4f  overhead %.3f us\n", rep.eff[0],
             rep.eff[1], rep.eff[2], rep.eff[3], rep.overhead_us);
    }
    if (nan) {
      printf("additivity    %d networks: sum of candidates vs measured: median %.1f%%  p90 %.1f%%  within 10%% "
             "%.1f%%\n",
             nan, 100 * add.raw_median, 100 * add.raw_p90, 100 * add.raw_within10);
      printf("              corrected (%.4f ms + %.4f x sum, leave-one-out): median %.1f%%  p90 %.1f%%  within "
             "10%% %.1f%%\n",
             add.overhead_ms, add.factor, 100 * add.corrected_median, 100 * add.corrected_p90,
             100 * add.corrected_within10);
    }
    printf("this run      %.1f s, %.1f J (%s), %.4f gCO2e at %.0f gCO2/kWh\n", run.wall_seconds, run.energy_j,
           run.energy_source, run.co2_g, o.grid);
  }
  rc = 0;
  goto done;
fail:
  fprintf(stderr, "hant-distill profile: %s\n", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
done:
  if (nets)
    for (int i = 0; i < nc; i++)
      hant_net_destroy(nets[i]);
  free(nets);
  free(lat);
  free(an);
  free(out.v);
  free(cands);
  free(stored);
  hant_device_destroy(dev);
  hant_device_destroy(fitted);
  hant_store_close(st);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
