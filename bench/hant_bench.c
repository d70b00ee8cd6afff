/* SPDX-License-Identifier: MIT */
/* hant-bench: times every operator of an exported list on this board, reads its power sensor, and writes a cost table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch.h"
#include "costtable.h"
#include "kernels.h"
#include "base.h"
#include "measure.h"
#include "opsfile.h"
#include "rng.h"
#include "sensor.h"

enum { EXIT_OK_ = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static void usage(FILE *f) {
  fprintf(f,
          "usage: hant-bench [options] OPS.txt\n"
          "\n"
          "Times every operator of a list exported by 'hant-distill export-ops' with hant's\n"
          "own kernels (random weights, batch norm folded as when deployed): a warm-up, then\n"
          "timed samples until (p90 - p10) / median is below --max-spread, median reported.\n"
          "Reads the board's power sensor where one is readable (RAPL, Jetson INA3221) and\n"
          "writes a cost table for 'hant-distill import-costs'.\n"
          "\n"
          "  -o, --out FILE         write the cost table here (default: standard output)\n"
          "  --batch B              also measure at batch B (batch 1 is always measured)\n"
          "  --threads N            kernel threads (default 1)\n"
          "  --power-mode NAME      power mode the board is in, recorded in every row\n"
          "                         (Jetson: 'sudo nvpmodel -q'; the name must match the profile)\n"
          "  --device NAME          device name recorded in the table's header\n"
          "  --energy-seconds S     seconds of back-to-back runs per operator read by the power\n"
          "                         sensor (default 1 when a sensor is readable; 0 disables)\n"
          "  --max-spread X         bound on (p90 - p10) / median (default 0.10)\n"
          "  --max-samples N        timed samples per attempt (default 100)\n"
          "  --seed N               weights and inputs (default 1)\n"
          "  -q, --quiet            no progress on standard error\n"
          "  --help, --version\n"
          "\n"
          "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static bool arg_val(int argc, char **argv, int *i, const char *name, const char **val) {
  size_t l = strlen(name);
  if (!strncmp(argv[*i], name, l) && argv[*i][l] == '=') {
    *val = argv[*i] + l + 1;
    return true;
  }
  if (strcmp(argv[*i], name))
    return false;
  if (*i + 1 >= argc) {
    fprintf(stderr, "hant-bench: %s needs a value\n", name);
    *val = NULL;
    return true;
  }
  *val = argv[++*i];
  return true;
}

static bool num(const char *name, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = s ? strtod(s, &end) : 0;
  if (!s || errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "hant-bench: %s: expected a number in [%g, %g], got '%s'\n", name, lo, hi, s ? s : "");
    return false;
  }
  *out = v;
  return true;
}

static int bench_one(const hant_ops_entry *e, int batch, const hant_measure_opts *base, unsigned long seed,
                     hant_measure_result *r) {
  char arch[400], label[64];
  hant_opsfile_arch(e, arch, sizeof(arch));
  snprintf(label, sizeof(label), "operator %lld", (long long)e->id);
  hant_net *net = hant_arch_build_limited(arch, label, HANT_OPSFILE_MAX_PARAM_FLOATS);
  if (!net)
    return HANT_EFORMAT;
  hant_rng rng;
  hant_rng_seed(&rng, seed + (unsigned long)e->id);
  hant_net_init_params(net, &rng);
  int rc = hant_net_fold_bn(net);
  hant_measure_opts o = *base;
  o.batch = batch;
  if (!rc)
    rc = hant_measure_net(net, &o, r);
  hant_net_destroy(net);
  return rc;
}

int main(int argc, char **argv) {
  const char *out_path = NULL, *ops_path = NULL, *power_mode = "", *device = "", *v;
  double batch = 1, threads = 1, energy_s = -1, max_spread = 0.10, max_samples = 100, seed = 1;
  bool quiet = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return EXIT_OK_;
    } else if (!strcmp(a, "--version")) {
      printf("hant-bench %s\n", hant_version());
      return EXIT_OK_;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      quiet = true;
    } else if (arg_val(argc, argv, &i, "--out", &v) || arg_val(argc, argv, &i, "-o", &v)) {
      if (!(out_path = v))
        return EXIT_USAGE;
    } else if (arg_val(argc, argv, &i, "--batch", &v)) {
      if (!num("--batch", v, 1, 4096, &batch))
        return EXIT_USAGE;
    } else if (arg_val(argc, argv, &i, "--threads", &v)) {
      if (!num("--threads", v, 1, 256, &threads))
        return EXIT_USAGE;
    } else if (arg_val(argc, argv, &i, "--power-mode", &v)) {
      if (!(power_mode = v))
        return EXIT_USAGE;
    } else if (arg_val(argc, argv, &i, "--device", &v)) {
      if (!(device = v))
        return EXIT_USAGE;
    } else if (arg_val(argc, argv, &i, "--energy-seconds", &v)) {
      if (!num("--energy-seconds", v, 0, 60, &energy_s))
        return EXIT_USAGE;
    } else if (arg_val(argc, argv, &i, "--max-spread", &v)) {
      if (!num("--max-spread", v, 0.001, 10, &max_spread))
        return EXIT_USAGE;
    } else if (arg_val(argc, argv, &i, "--max-samples", &v)) {
      if (!num("--max-samples", v, 15, 100000, &max_samples))
        return EXIT_USAGE;
    } else if (arg_val(argc, argv, &i, "--seed", &v)) {
      if (!num("--seed", v, 0, 1e15, &seed))
        return EXIT_USAGE;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "hant-bench: unknown option '%s'; see --help\n", a);
      return EXIT_USAGE;
    } else if (!ops_path) {
      ops_path = a;
    } else {
      fprintf(stderr, "hant-bench: one operator list only (got '%s' and '%s')\n", ops_path, a);
      return EXIT_USAGE;
    }
  }
  if (!ops_path) {
    usage(stderr);
    return EXIT_USAGE;
  }
  hant_ops_entry *ops;
  int n;
  if (hant_opsfile_read(ops_path, &ops, &n)) {
    fprintf(stderr, "hant-bench: %s\n", hant_errmsg());
    return EXIT_FAIL;
  }
  hant_threads_set((int)threads);

  hant_sensor sensor;
  bool have_sensor = hant_sensor_init(&sensor) == 0;
  if (energy_s < 0)
    energy_s = have_sensor ? 1.0 : 0.0;
  hant_measure_opts mo;
  hant_measure_opts_default(&mo);
  mo.max_spread = max_spread;
  mo.max_samples = (int)max_samples;
  mo.energy_s = have_sensor ? energy_s : 0.0;
  mo.seed = (unsigned long)seed;

  hant_costtable meta = {0};
  snprintf(meta.tool, sizeof(meta.tool), "hant-bench %s", hant_version());
  snprintf(meta.device, sizeof(meta.device), "%s", device);
  snprintf(meta.power_mode, sizeof(meta.power_mode), "%s", power_mode);
  hant_measure_cpu_model(meta.cpu, sizeof(meta.cpu));
  meta.threads = hant_threads_get();
  time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(meta.created, sizeof(meta.created), "%Y-%m-%dT%H:%M:%SZ", &tmv);

  FILE *out = stdout;
  char tmp[1100];
  if (out_path) {
    snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
    if (!(out = fopen(tmp, "w"))) {
      fprintf(stderr, "hant-bench: %s: cannot write: %s\n", tmp, strerror(errno));
      free(ops);
      return EXIT_FAIL;
    }
  }
  if (!quiet)
    fprintf(stderr, "hant-bench: %d operators from %s on %s, %d thread%s, power sensor: %s\n", n, ops_path, meta.cpu,
            meta.threads, meta.threads == 1 ? "" : "s", have_sensor ? sensor.source : "none (latency only)");
  int rc = hant_costtable_write_header(out, &meta);
  int batches[2] = {1, (int)batch}, nb = batch > 1 ? 2 : 1, unstable = 0;
  double t0 = hant_now_s();
  for (int i = 0; i < n && !rc; i++) {
    for (int b = 0; b < nb && !rc; b++) {
      hant_measure_result r;
      if ((rc = bench_one(&ops[i], batches[b], &mo, (unsigned long)seed, &r))) {
        fprintf(stderr, "hant-bench: %s:%d: %s\n", ops_path, ops[i].line, hant_errmsg());
        break;
      }
      unstable += !r.stable;
      hant_costtable_row row = {.id = ops[i].id, .batch = batches[b], .latency_ms = r.latency_ms,
                                .latency_spread = r.spread, .runs = r.samples, .energy_mj = r.energy_mj};
      snprintf(row.energy_source, sizeof(row.energy_source), "%s", r.energy_source);
      snprintf(row.power_mode, sizeof(row.power_mode), "%s", power_mode);
      rc = hant_costtable_write_row(out, &row);
      if (!quiet)
        fprintf(stderr, "[%d/%d] %lld %-28.28s b%-3d %9.4f ms  spread %5.3f%s\n", i + 1, n, (long long)ops[i].id,
                ops[i].block, batches[b], r.latency_ms, r.spread, r.stable ? "" : " (unstable)");
    }
  }
  if (out_path) {
    if (fclose(out) && !rc)
      rc = hant__error(HANT_EIO, "%s: write error", tmp);
    if (!rc && rename(tmp, out_path))
      rc = hant__error(HANT_EIO, "%s: cannot rename to %s: %s", tmp, out_path, strerror(errno));
    if (rc)
      remove(tmp);
  }
  if (!quiet && !rc)
    fprintf(stderr, "hant-bench: %d operators in %.1f s; %d measurement%s above the spread bound\n", n,
            hant_now_s() - t0, unstable, unstable == 1 ? "" : "s");
  if (rc && hant_errmsg()[0])
    fprintf(stderr, "hant-bench: %s\n", hant_errmsg());
  hant_sensor_free(&sensor);
  free(ops);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
