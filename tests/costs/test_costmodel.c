/* SPDX-License-Identifier: MIT */
/* test_costmodel.c: the tile model pads a 20-channel layer to 32 on a 16-wide array; energy, modes, power helpers, the additivity fit and calibration behave. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "additivity.h"
#include "arch.h"
#include "costmodel.h"
#include "device.h"
#include "energy.h"
#include "hant.h"
#include "power.h"
#include "rng.h"
#include "test_util.h"

static const char *src_dir;

static hant_device *device(const char *name) {
  char dir[1024];
  snprintf(dir, sizeof(dir), "%s/devices", src_dir);
  hant_device *d = NULL;
  if (hant_device_find(dir, name, &d))
    fprintf(stderr, "%s\n", hant_errmsg());
  HANT_ASSERT(d);
  return d;
}

static hant_cost_estimate cost(const hant_device *d, int mode, const char *arch, int batch) {
  hant_net *net = hant_arch_build(arch, "test");
  HANT_ASSERT(net);
  hant_cost_estimate e;
  HANT_ASSERT(hant_costmodel_net(d, mode, net, batch, &e) == 0);
  hant_net_destroy(net);
  return e;
}

static void test_tile(void) {
  hant_device *d = device("eyeriss"); /* 16-wide array */
  /* A 20-channel layer pays for 32, not 20, and more than 16. */
  hant_cost_estimate c16 = cost(d, -1, "input 32x14x14; conv 16 k=3 bn=0 act=none", 1);
  hant_cost_estimate c20 = cost(d, -1, "input 32x14x14; conv 20 k=3 bn=0 act=none", 1);
  hant_cost_estimate c32 = cost(d, -1, "input 32x14x14; conv 32 k=3 bn=0 act=none", 1);
  CHECK(c20.macs_padded == c32.macs_padded, "20 channels padded to %g MACs, 32 channels %g", c20.macs_padded,
        c32.macs_padded);
  CHECK(c20.macs < c32.macs && c16.macs_padded < c20.macs_padded, "real MACs still differ");
  CHECK(t_near(c20.compute_ms, c32.compute_ms, 0, 1e-12), "compute time of 20 and 32 channels: %g vs %g ms",
        c20.compute_ms, c32.compute_ms);
  CHECK(c20.compute_ms > c16.compute_ms * 1.9, "20 channels should cost twice 16");
  /* Energy counts the real MACs: the padded lanes are idle, not working. */
  CHECK(c20.energy_mac_mj < c32.energy_mac_mj, "MAC energy follows real MACs");
  /* Channel padding does not apply on an untiled device. */
  hant_device_destroy(d);
  d = device("jetson-nano"); /* 32-wide: 20 -> 32 as well; 40 -> 64 */
  hant_cost_estimate j40 = cost(d, 0, "input 32x14x14; conv 40 k=3 bn=0 act=none", 1);
  hant_cost_estimate j64 = cost(d, 0, "input 32x14x14; conv 64 k=3 bn=0 act=none", 1);
  CHECK(j40.macs_padded == j64.macs_padded, "jetson: 40 channels should pay for 64");
  hant_device_destroy(d);
  /* Depthwise layers put channels on the columns. */
  d = device("eyeriss");
  hant_cost_estimate dw20 = cost(d, -1, "input 20x14x14; dws 20 k=3", 1);
  hant_cost_estimate dw32 = cost(d, -1, "input 32x14x14; dws 32 k=3", 1);
  CHECK(dw20.macs_padded < dw32.macs_padded, "depthwise padding");
  hant_device_destroy(d);
}

static void test_energy_and_modes(void) {
  hant_device *d = device("jetson-nano");
  const char *arch = "input 16x28x28; conv 64 k=3 bn=0";
  hant_cost_estimate m10 = cost(d, 0, arch, 1), m5 = cost(d, 1, arch, 1);
  CHECK(m5.latency_ms > m10.latency_ms, "5W mode should be slower: %g vs %g ms", m5.latency_ms, m10.latency_ms);
  CHECK(!m10.energy_capped && t_near(m10.energy_mj, m10.energy_mac_mj + m10.energy_mem_mj + m10.energy_static_mj,
                                     1e-15, 1e-12),
        "energy = MACs + bytes + static");
  CHECK(m10.energy_mj <= 10.0 * m10.latency_ms && m5.energy_mj <= 5.0 * m5.latency_ms,
        "never above the mode's active power");
  CHECK(t_near(m10.energy_static_mj, 1.5 * m10.latency_ms, 1e-15, 1e-9), "static energy = idle W x latency");
  CHECK(t_near(m5.energy_mac_mj, 0.64 * m10.energy_mac_mj, 1e-15, 1e-9), "5W energy scale");
  CHECK(m10.memory_bytes > 0 && m10.ops == 2, "memory bytes and ops (conv, act): %d",
        m10.ops);
  /* Batch 4 does four times the work. */
  hant_cost_estimate b4 = cost(d, 0, arch, 4);
  CHECK(b4.latency_ms > m10.latency_ms && t_near(b4.macs, 4 * m10.macs, 0, 1e-12), "batch 4: %g ms vs %g ms",
        b4.latency_ms, m10.latency_ms);
  hant_device_destroy(d);

  /* Weight-stationary in-memory computing moves no weights while they fit. */
  d = device("imec-aimc");
  hant_cost_estimate a = cost(d, -1, "input 64x7x7; conv 64 k=3 bn=0 act=none", 1);
  double moved = 0;
  for (int l = 0; l < d->n_levels; l++)
    moved += a.bytes[l];
  double acts = (64 * 49 + 64 * 49) * 1.0;
  CHECK(t_near(moved, acts, 0.5, 0), "imec: only activations move (%g bytes, expected %g)", moved, acts);
  hant_device_destroy(d);

  /* Sequential (CPU) execution adds compute and memory; pipelined takes the larger. */
  d = device("rpi4");
  hant_cost_estimate r = cost(d, -1, "input 16x28x28; conv 32 k=3 bn=0 act=none", 1);
  CHECK(t_near(r.latency_ms, r.compute_ms + r.memory_ms + r.overhead_ms, 1e-12, 1e-9), "sequential sum");
  hant_device_destroy(d);
  d = device("coral-edgetpu");
  hant_cost_estimate c = cost(d, -1, "input 16x28x28; conv 32 k=3 bn=0 act=none", 1);
  CHECK(t_near(c.latency_ms, fmax(c.compute_ms, c.memory_ms) + c.overhead_ms, 1e-12, 1e-9), "pipelined max");
  hant_device_destroy(d);
}

static void test_power(void) {
  CHECK(t_near(hant_power_avg_w(2.0, 4.0), 0.5, 1e-15, 0), "2 mJ in 4 ms is 0.5 W");
  /* 30 fps, 10 mJ and 10 ms per inference, 1 W idle: 0.3 W + 0.7 W. */
  CHECK(t_near(hant_power_sustained_w(10.0, 10.0, 30.0, 1.0), 0.3 + 0.7, 1e-12, 0), "sustained power");
  CHECK(hant_power_sustained_w(10.0, 50.0, 30.0, 1.0) < 0, "30 fps at 50 ms cannot be sustained");
  /* 1 mJ per inference: 1e6 inferences = 1 kJ = 1/3600 kWh; at 475 g/kWh = 0.1319 g. */
  CHECK(t_near(hant_power_co2_g_per_million(1.0, HANT_GRID_G_PER_KWH_DEFAULT), 475.0 / 3600.0, 1e-12, 1e-9),
        "CO2e per million inferences");
}

static void test_additivity(void) {
  double sum[12], meas[12];
  for (int i = 0; i < 12; i++) {
    sum[i] = 0.2 + 0.1 * i;
    meas[i] = 0.05 + 1.1 * sum[i];
  }
  hant_additivity a = {0};
  CHECK(hant_additivity_fit(sum, meas, 12, &a) == 0, "fit");
  CHECK(t_near(a.overhead_ms, 0.05, 1e-9, 0) && t_near(a.factor, 1.1, 1e-9, 0), "fit %g + %g x", a.overhead_ms,
        a.factor);
  CHECK(a.raw_median > 0.1 && a.corrected_p90 < 1e-9 && a.corrected_within10 == 1.0, "errors before/after");
  CHECK(t_near(hant_cost_correct_latency(&a, 1.0), 1.15, 1e-9, 0), "correction applied");
  CHECK(hant_cost_correct_latency(NULL, 1.0) == 1.0, "no correction");
  CHECK(hant_additivity_fit(sum, meas, 1, &a) == HANT_EINVAL, "one network is not enough");
  /* Noisy timings of a few small networks where latency falls as work
   * grows: a line would have a negative slope; the fit keeps a positive
   * ratio with no overhead instead. */
  double s4[4] = {0.10, 0.12, 0.14, 0.16}, m4[4] = {0.30, 0.26, 0.27, 0.22};
  CHECK(hant_additivity_fit(s4, m4, 4, &a) == 0 && a.factor > 0 && a.overhead_ms == 0,
        "a falling line becomes a positive ratio: %g + %g x", a.overhead_ms, a.factor);
}

/* Latencies generated by the model with known efficiencies are fitted back. */
static void test_calibration(void) {
  hant_device *truth = device("host"), *fit = device("host");
  truth->eff[HANT_EFF_CONV] = 0.35, truth->eff[HANT_EFF_DEPTHWISE] = 0.04;
  truth->eff[HANT_EFF_LINEAR] = 0.2, truth->eff[HANT_EFF_MEMORY] = 0.3, truth->overhead_us = 1.5;
  fit->eff[HANT_EFF_CONV] = 0.8, fit->eff[HANT_EFF_DEPTHWISE] = 0.5;
  fit->eff[HANT_EFF_LINEAR] = 0.5, fit->eff[HANT_EFF_MEMORY] = 0.8, fit->overhead_us = 10;
  static const char *const archs[] = {
      "input 16x28x28; conv 16 k=3 bn=0", "input 16x28x28; conv 32 k=5 s=2 bn=0", "input 32x14x14; dws 32 k=3",
      "input 32x14x14; dws 64 k=5 s=2",   "input 64x7x7; conv 64 k=1 bn=0",      "input 64x7x7; res 64",
      "input 16x28x28; ir 24 e=4 k=3",    "input 64x7x7; linear 10",             "input 32x14x14; conv 8 k=1 bn=0",
      "input 1x28x28; conv 8 k=7 bn=0",   "input 64x7x7; dws 64 k=7",            "input 8x28x28; res 16 s=2 g=2",
  };
  enum { N = sizeof(archs) / sizeof(archs[0]) };
  hant_net *nets[N];
  hant_calib_sample s[N];
  for (int i = 0; i < N; i++) {
    nets[i] = hant_arch_build(archs[i], "calib");
    HANT_ASSERT(nets[i] && hant_net_fold_bn(nets[i]) == 0);
    hant_cost_estimate e;
    HANT_ASSERT(hant_costmodel_net(truth, -1, nets[i], 1, &e) == 0);
    s[i] = (hant_calib_sample){.net = nets[i], .batch = 1, .measured_ms = e.latency_ms};
  }
  hant_calib_report r;
  CHECK(hant_costmodel_calibrate(fit, s, N, 3, &r) == 0, "calibrate: %s", hant_errmsg());
  CHECK(r.fit.p90 < 0.01 && r.fit.within10 == 1.0, "in-sample error p90 %g", r.fit.p90);
  CHECK(t_near(fit->eff[HANT_EFF_CONV], 0.35, 0, 0.05) && t_near(fit->overhead_us, 1.5, 0, 0.1),
        "recovered conv %g (0.35), overhead %g us (1.5)", fit->eff[HANT_EFF_CONV], fit->overhead_us);
  double err[N];
  hant_calib_error sum;
  CHECK(hant_costmodel_errors(fit, s, N, err, &sum) == 0 && sum.p90 < 0.01, "errors after calibration");
  for (int i = 0; i < N; i++)
    hant_net_destroy(nets[i]);
  hant_device_destroy(truth);
  hant_device_destroy(fit);
}

int main(int argc, char **argv) {
  src_dir = argc > 1 ? argv[1] : "..";
  test_tile();
  test_energy_and_modes();
  test_power();
  test_additivity();
  test_calibration();
  return test_summary("costmodel");
}
