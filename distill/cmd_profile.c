/* SPDX-License-Identifier: MIT */
/* cmd_profile.c: `hant-distill profile` measures (host) or models (any profile) every candidate's cost, calibrates the host model, and checks additivity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill profile --db LIBRARY.db --device NAME [options]\n"
    "\n"
    "Fills the library's cost table for one device. On 'host' every candidate runs\n"
    "with hant's own kernels (batch 1, and --batch B): a warm-up, then timed samples\n"
    "until (p90 - p10) / median is below --max-spread (up to --attempts tries), the\n"
    "median recorded with the thread count and CPU model. Energy comes from RAPL\n"
    "where readable, else from the host profile's energy model over the measured\n"
    "latency (the record says which). The host models are then checked against the\n"
    "measurements: the kernel model (the sum of each candidate's inference-plan\n"
    "kernels, each predicted from single kernels measured on this machine at\n"
    "sampled shapes, kept in the library per CPU, plus a fitted fixed cost) and\n"
    "the roofline, whose efficiencies are calibrated. Any other device is\n"
    "modelled from its profile (devices/NAME.json), once per power mode.\n"
    "\n";

typedef struct opts {
  const char *db, *device, *devices, *teacher, *calib_out, *residuals;
  long batch, threads, max_samples, attempts, additivity, seed, passes;
  double max_spread, energy_s, grid, sweep_scale;
  bool model, no_measure, json, quiet, roofline, remeasure_kernels, sweep_only;
} opts;

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

static void on_measured(void *user, const hant_costing_event *e) {
  const opts *o = user;
  if (o->quiet || o->json)
    return;
  const hant_measure_result *mr = e->result;
  fprintf(stderr, "pass %d/%d [%d/%d] %6lld %-28.28s b%-3d %9.4f ms  spread %5.3f%s\n", e->pass, e->passes, e->index,
          e->n, (long long)e->cand->id, e->cand->key, e->batch, mr->latency_ms, mr->spread,
          mr->stable ? "" : " (above bound)");
}

static void on_additivity(void *user, int k, int n, const hant_additivity_net *r) {
  const opts *o = user;
  if (o->quiet || o->json)
    return;
  fprintf(stderr, "additivity [%d/%d] sum %.4f ms  measured %.4f ms  (%+.1f%%)  model %.4f ms\n", k, n, r->sum_ms,
          r->measured_ms, 100 * (r->sum_ms - r->measured_ms) / r->measured_ms, r->model_ms);
}

static void on_kernel(void *user, int i, int n, const hant_kernel_rec *r) {
  const opts *o = user;
  if (o->quiet || o->json)
    return;
  const hant_infer_kernel *k = &r->k;
  bool pool = k->op == HANT_OP_MAXPOOL || k->op == HANT_OP_AVGPOOL;
  int kh = pool ? k->pool.k : k->conv.kh, kw = pool ? k->pool.k : k->conv.kw, s = pool ? k->pool.s : k->conv.sh;
  fprintf(stderr, "kernel [%d/%d] %-9s %-7s %4dx%-2dx%-2d -> %4dx%-2dx%-2d k%dx%d s%d g%d %9.3f us  spread %5.3f\n", i,
          n, hant_kclass_name(hant_kclass_of(k)), hant_op_name(k->op), k->c_in, k->h_in, k->w_in, k->c_out, k->h_out,
          k->w_out, kh, kw, s, k->op == HANT_OP_CONV ? k->conv.groups : 1, r->latency_us, r->spread);
}

/* The kernel model of this CPU and thread count: the library's table, or
 * a new sweep measured now (and stored) when it has none or is asked to. */
static int kernel_model(const opts *o, hant_store *st, hant_net *const *nets, int nc, hant_kernelmodel *km,
                        bool *measured_now) {
  char cpu[160], foreign[768];
  hant_kernelmodel_cpu_key(cpu, sizeof(cpu));
  int threads = hant_threads_get(), rc = HANT_ENOENT;
  *measured_now = false;
  if (!o->remeasure_kernels) {
    rc = hant_kernelmodel_load(st, cpu, threads, 1, km, foreign, sizeof(foreign));
    if (rc != HANT_ENOENT)
      return rc;
    if (foreign[0])
      fprintf(stderr, "hant-distill profile: warning: %s; measuring this machine's\n", foreign);
  }
  hant_kernel_sweep_opts so;
  hant_kernel_sweep_opts_default(&so);
  so.scale = o->sweep_scale;
  hant_infer_kernel *lib = NULL;
  int nlib = 0;
  if (!o->sweep_only && (rc = hant_kernels_of_nets(nets, nc, &lib, &nlib)))
    return rc;
  so.extra = lib, so.n_extra = nlib;
  hant_measure_opts mo;
  measure_opts(o, &mo);
  mo.batch = 1;
  hant_kernel_rec *recs = NULL;
  int n = 0;
  if (!o->quiet && !o->json)
    fprintf(stderr, "profile: measuring the host kernel table on %s, %d thread%s, %ld pass%s (%d kernel shapes "
            "of the library beside the sweep)\n", cpu, threads, threads == 1 ? "" : "s", o->passes,
            o->passes == 1 ? "" : "es", nlib);
  if ((rc = hant_kernel_sweep_measure(&so, &mo, (int)o->passes, cpu, on_kernel, (void *)o, &recs, &n)) ||
      (rc = hant_store_kernels_put(st, cpu, threads, 1, recs, n)) || (rc = hant_kernelmodel_fit(recs, n, km))) {
    free(recs), free(lib);
    return rc;
  }
  free(recs), free(lib);
  *measured_now = true;
  return 0;
}

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
            .energy_s = -1, .grid = HANT_GRID_G_PER_KWH_DEFAULT, .sweep_scale = 1};
  char grid_help[96];
  snprintf(grid_help, sizeof(grid_help), "grid intensity for the carbon of this run, gCO2/kWh\n(default %.0f)",
           HANT_GRID_G_PER_KWH_DEFAULT);
  const hant_opt options[] = {
      HANT_OPT_STRING("db", 0, &o.db, "FILE", "the library (required)"),
      HANT_OPT_STRING("device", 0, &o.device, "NAME",
                      "a device profile name (required), e.g. host, rpi4, jetson-nano"),
      HANT_OPT_STRING("devices", 0, &o.devices, "DIR", "look for profiles in DIR first (then $HANT_DEVICES, ...)"),
      HANT_OPT_INT("batch", 0, &o.batch, 1, 4096, "B", "also cost every candidate at batch B"),
      HANT_OPT_FLAG("model", 0, &o.model, "on host: model from devices/host.json instead of measuring"),
      HANT_OPT_FLAG("no-measure", 0, &o.no_measure,
                    "on host: keep the stored measurements; only calibrate and\ncheck additivity"),
      HANT_OPT_INT("threads", 0, &o.threads, 1, 256, "N",
                   "kernel threads while measuring (default 1: a single thread\n"
                   "can drop samples during which it was preempted)"),
      HANT_OPT_DOUBLE("max-spread", 0, &o.max_spread, 0.001, 10, "X", "bound on (p90 - p10) / median (default 0.10)"),
      HANT_OPT_INT("max-samples", 0, &o.max_samples, 15, 100000, "N", "timed samples per attempt (default 100)"),
      HANT_OPT_INT("attempts", 0, &o.attempts, 1, 100, "N",
                   "measurements tried before accepting a wider spread (default 3)"),
      HANT_OPT_INT("passes", 0, &o.passes, 1, HANT_COSTING_MAX_PASSES, "N",
                   "passes over all candidates; the median pass is kept (default 3)"),
      HANT_OPT_DOUBLE("energy-seconds", 0, &o.energy_s, 0, 60, "S",
                      "seconds of RAPL reading per candidate (default 0.5 when RAPL\nis readable)"),
      HANT_OPT_FLAG("roofline", 0, &o.roofline,
                    "on host: check only the roofline model, as before the kernel\nmodel (no kernel table)"),
      HANT_OPT_FLAG("remeasure-kernels", 0, &o.remeasure_kernels,
                    "on host: measure the kernel table again even if the library\nholds one for this CPU"),
      HANT_OPT_FLAG("sweep-only", 0, &o.sweep_only,
                    "on host: measure only the sampled kernel configurations, not\nthe library's own kernel shapes beside them"),
      HANT_OPT_DOUBLE("sweep-scale", 0, &o.sweep_scale, 0.01, 100, "X",
                      "kernels measured per class, times the default counts\n(default 1: 660 kernels)"),
      HANT_OPT_STRING("calibration-out", 0, &o.calib_out, "F",
                      "write the fitted host efficiencies and overhead as JSON"),
      HANT_OPT_STRING("residuals", 0, &o.residuals, "F",
                      "write each candidate's measured and modelled host latency (CSV)"),
      HANT_OPT_INT("additivity", 0, &o.additivity, 2, 100000, "N",
                   "on host: assemble N networks (the teacher, then random\n"
                   "one-candidate-per-slot choices), measure each end to end,\n"
                   "compare with the sum of their candidates' measured latencies,\n"
                   "and store the fitted correction for selection"),
      HANT_OPT_STRING("teacher", 0, &o.teacher, "FILE",
                      "the teacher for --additivity (default: the one the library\n"
                      "holds; its sha256 must match)"),
      HANT_OPT_INT("seed", 0, &o.seed, 0, 1L << 40, "N", "choices for --additivity (default 1)"),
      HANT_OPT_DOUBLE("grid", 0, &o.grid, 0, 5000, "G", grid_help),
      HANT_OPT_FLAG("json", 0, &o.json, "results as JSON on stdout"),
      HANT_OPT_FLAG("quiet", 'q', &o.quiet, "no progress on stderr"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill profile",
                            .usage = usage,
                            .footer = "\nExit status: 0 success, 1 failure, 2 usage error.\n",
                            .opts = options};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  if (!o.db || !o.device)
    return cli_usage_error(&cmd, "--db FILE and --device NAME are required");
  bool host = !strcmp(o.device, "host");
  bool measure = host && !o.model && !o.no_measure;
  if (!host && (o.additivity || o.no_measure || o.calib_out || o.roofline || o.remeasure_kernels))
    return cli_usage_error(&cmd, "--additivity, --no-measure, --calibration-out, --roofline and --remeasure-kernels "
                                 "need --device host");
  if (o.roofline && o.remeasure_kernels)
    return cli_usage_error(&cmd, "--roofline leaves the kernel model out; --remeasure-kernels needs it");
  hant_threads_set((int)o.threads);

  hant_store *st = NULL;
  hant_device *dev = NULL;
  hant_cand_rec *cands = NULL;
  hant_cost_rec *out = NULL;
  hant_net **nets = NULL;
  double *lat = NULL;
  hant_additivity_net *an = NULL;
  int nc = 0, nout = 0, nan = 0, unstable = 0, rc;
  hant_calib_result cal = {0};
  hant_additivity add = {0};
  hant_calib_error add_model = {0};
  bool calibrated = false, kernels = false, kernels_measured = false;
  hant_kernelmodel km = {0};
  hant_kernelmodel_report kr = {0};
  double *kpred = NULL;
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

  if (measure) {
    hant_costing_opts co = {.batch = (int)o.batch, .passes = (int)o.passes, .cpu = cpu, .progress = on_measured,
                            .user = &o};
    measure_opts(&o, &co.measure);
    rc = hant_costing_measure(dev, cands, nets, nc, &co, &out, &nout, &unstable);
  } else if (!host || o.model) {
    rc = hant_costing_model(dev, cands, nets, nc, (int)o.batch, &out, &nout);
  }
  if (rc || (rc = hant_costing_store(st, dev, out, nout)))
    goto fail;

  if (host && !o.model) {
    if ((rc = hant_calib_latencies_load(st, dev->name, cands, nc, lat)))
      goto fail;
    if (!o.roofline) {
      if (!(kpred = calloc((size_t)nc, sizeof(double)))) {
        rc = HANT_ENOMEM;
        goto fail;
      }
      if ((rc = kernel_model(&o, st, nets, nc, &km, &kernels_measured)) ||
          (rc = hant_kernelmodel_evaluate(&km, nets, lat, nc, 5, kpred, &kr)) ||
          (rc = hant_kernelmodel_store_meta(st, dev->name, &km, &kr)))
        goto fail;
      kernels = true;
    }
    hant_calib_opts copt = {.residuals = o.residuals, .out = o.calib_out, .kernel_ms = kpred};
    if ((rc = hant_calib_fit(st, dev, cands, nets, lat, nc, &copt, &cal)))
      goto fail;
    calibrated = true;
    if (o.additivity) {
      hant_additivity_opts ao = {.networks = (int)o.additivity, .seed = (uint64_t)o.seed, .teacher = o.teacher,
                                 .assemble = hant_assemble, .progress = on_additivity, .user = &o};
      measure_opts(&o, &ao.measure);
      if ((rc = hant_additivity_measure(st, cal.fitted, cands, nets, lat, nc, &ao, &add, &an, &add_model)))
        goto fail;
      nan = ao.networks;
    }
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
    hant_jsonw_key(&w, "costs_written"), hant_jsonw_int(&w, nout);
    if (measure) {
      hant_jsonw_key(&w, "cpu"), hant_jsonw_str(&w, cpu);
      hant_jsonw_key(&w, "threads"), hant_jsonw_int(&w, hant_threads_get());
      hant_jsonw_key(&w, "above_spread_bound"), hant_jsonw_int(&w, unstable);
    }
    if (kernels) {
      hant_jsonw_key(&w, "kernel_model");
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "cpu"), hant_jsonw_str(&w, km.cpu);
      hant_jsonw_key(&w, "threads"), hant_jsonw_int(&w, km.threads);
      hant_jsonw_key(&w, "table"), hant_jsonw_str(&w, kernels_measured ? "measured" : "stored");
      int nk = 0;
      for (int c = 0; c < HANT_KCLASS_COUNT; c++)
        nk += km.cls[c].n;
      hant_jsonw_key(&w, "kernels"), hant_jsonw_int(&w, nk);
      hant_jsonw_key(&w, "fixed_us"), hant_jsonw_num(&w, km.fixed_us);
      hant_jsonw_key(&w, "per_kernel_us"), hant_jsonw_num(&w, km.per_kernel_us);
      hant_jsonw_key(&w, "shared_rows"), hant_jsonw_int(&w, kr.shared_rows);
      hant_jsonw_key(&w, "held_rows_per_fold"), hant_jsonw_num(&w, kr.held_rows);
      hant_jsonw_key(&w, "folds"), hant_jsonw_int(&w, kr.folds);
      json_err(&w, "held_out_error", &kr.held);
      hant_jsonw_key(&w, "classes");
      hant_jsonw_arr_begin(&w);
      for (int c = 0; c < HANT_KCLASS_COUNT; c++) {
        hant_jsonw_obj_begin(&w);
        hant_jsonw_key(&w, "class"), hant_jsonw_str(&w, hant_kclass_name((hant_kclass)c));
        hant_jsonw_key(&w, "kernels"), hant_jsonw_int(&w, km.cls[c].n);
        hant_jsonw_key(&w, "form"), hant_jsonw_str(&w, km.cls[c].form == HANT_KFORM_LOG ? "log" : "additive");
        hant_jsonw_key(&w, "channel_block"), hant_jsonw_int(&w, km.cls[c].block);
        hant_jsonw_key(&w, "neighbours"), hant_jsonw_int(&w, km.cls[c].k);
        hant_jsonw_key(&w, "compose"), hant_jsonw_num(&w, km.compose[c]);
        json_err(&w, "leave_one_out_error", &km.cls[c].loo);
        hant_jsonw_obj_end(&w);
      }
      hant_jsonw_arr_end(&w);
      hant_jsonw_obj_end(&w);
    }
    if (calibrated) {
      hant_jsonw_key(&w, "calibration");
      hant_jsonw_obj_begin(&w);
      json_err(&w, "profile_error", &cal.before);
      json_err(&w, "fit_error", &cal.report.fit);
      json_err(&w, "held_out_error", &cal.report.held);
      hant_jsonw_key(&w, "folds"), hant_jsonw_int(&w, cal.report.folds);
      hant_jsonw_key(&w, "efficiency");
      hant_jsonw_obj_begin(&w);
      for (int c = 0; c < HANT_EFF_COUNT; c++)
        hant_jsonw_key(&w, hant_eff_name((hant_eff)c)), hant_jsonw_num(&w, cal.report.eff[c]);
      hant_jsonw_obj_end(&w);
      hant_jsonw_key(&w, "overhead_us"), hant_jsonw_num(&w, cal.report.overhead_us);
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
      json_err(&w, "model", &add_model);
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
    printf("costs         %d written (%s)%s\n", nout,
           measure ? "measured" : host && !o.model ? "none: stored measurements used" : "modelled",
           dev->n_modes && !measure ? ", one per power mode" : "");
    if (measure)
      printf("measured on   %s, %d thread%s; %d of %d above the spread bound %.2f\n", cpu, hant_threads_get(),
             hant_threads_get() == 1 ? "" : "s", unstable, nout * (int)o.passes, o.max_spread);
    if (kernels) {
      int nk = 0;
      for (int c = 0; c < HANT_KCLASS_COUNT; c++)
        nk += km.cls[c].n;
      printf("kernel table  %d kernels (%s) on %s, %d thread%s; %d of the library's shapes, %.1f per fold left out "
             "when its networks are held out\n", nk, kernels_measured ? "measured now" : "stored in the library", km.cpu,
             km.threads, km.threads == 1 ? "" : "s", kr.shared_rows, kr.held_rows);
      printf("kernel fits   leave-one-out within 10%%:");
      for (int c = 0; c < HANT_KCLASS_COUNT; c++)
        if (km.cls[c].n)
          printf(" %s %.0f%%", hant_kclass_name((hant_kclass)c), 100 * km.cls[c].loo.within10);
      printf("\n");
      printf("composition  ");
      for (int c = 0; c < HANT_KCLASS_COUNT; c++)
        if (km.cls[c].n)
          printf(" %s x%.3f", hant_kclass_name((hant_kclass)c), km.compose[c]);
      printf("\n");
      print_err("host model, kernels (held-out)", &kr.held);
      printf("plan fixed    %.3f us per run %+.3f us per kernel (fitted %d-fold)\n", km.fixed_us, km.per_kernel_us,
             kr.folds);
    }
    if (calibrated) {
      print_err("host model, profile as shipped", &cal.before);
      print_err("host model, calibrated (in-sample)", &cal.report.fit);
      print_err("host model, calibrated (held-out)", &cal.report.held);
      printf("calibrated    conv %.4f  depthwise %.4f  linear %.4f  memory %.4f  overhead %.3f us\n",
             cal.report.eff[0], cal.report.eff[1], cal.report.eff[2], cal.report.eff[3], cal.report.overhead_us);
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
  free(kpred);
  hant_kernelmodel_free(&km);
  free(an);
  free(out);
  free(cands);
  hant_device_destroy(dev);
  hant_calib_result_free(&cal);
  hant_store_close(st);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
