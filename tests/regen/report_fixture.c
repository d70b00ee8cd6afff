/* SPDX-License-Identifier: MIT */
/* report_fixture.c: writes a regeneration report from fixed figures (no daemon), for the report's layout test. */
#include <math.h>
#include <stdio.h>

#include "hant.h"

/* A front like a real library's: it reaches far below any accuracy a user
 * would pick (predicted accuracy is the teacher's plus summed scores). */
static void front(hant_plot_point *p, int n, double scale) {
  for (int i = 0; i < n; i++) {
    double t = (double)i / (n - 1);
    p[i] = (hant_plot_point){scale * (0.05 + t), 0.9369 - 4.0 * pow(1 - t, 3), NULL, false};
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: report_fixture DIR\n");
    return 2;
  }
  hant_plot_point fe[24], fl[24];
  front(fe, 24, 2.0);
  front(fl, 24, 6.0);
  hant_report_entry e[] = {
      /* Within budget and cheaper than the teacher, evaluated. */
      {.device = "jetson-nano", .name = "2W_30fps", .budgets = "2W, 30 fps", .status = "ok", .power_mode = "5W",
       .predicted_accuracy = 0.9312, .test_accuracy = 0.9174, .latency_ms = 2.1, .energy_mj = 0.9, .power_w = 0.43,
       .co2e_g_per_million = 0.12, .grid_g_per_kwh = 475, .finetune_epochs = 1, .teacher_latency_ms = 5.0,
       .teacher_energy_mj = 1.8, .budget_latency_ms = 1000.0 / 30, .budget_energy_mj = NAN},
      /* Slower than the teacher (a memory budget alone lets it be). */
      {.device = "jetson-nano", .name = "15ms_4MB", .budgets = "15ms, 4MB", .status = "ok", .power_mode = "5W",
       .predicted_accuracy = 0.9369, .test_accuracy = 0.9301, .latency_ms = 5.6, .energy_mj = 1.7, .power_w = 0.30,
       .co2e_g_per_million = 0.22, .grid_g_per_kwh = 475, .finetune_epochs = 1, .teacher_latency_ms = 5.0,
       .teacher_energy_mj = 1.8, .budget_latency_ms = 15, .budget_energy_mj = NAN},
      /* Energy budget, not evaluated. */
      {.device = "jetson-nano", .name = "0.5mJ", .budgets = "0.5mJ", .status = "ok", .power_mode = "5W",
       .predicted_accuracy = 0.9021, .test_accuracy = NAN, .latency_ms = 1.4, .energy_mj = 0.48, .power_w = 0.34,
       .co2e_g_per_million = 0.06, .grid_g_per_kwh = 475, .finetune_epochs = 0, .teacher_latency_ms = 5.0,
       .teacher_energy_mj = 1.8, .budget_latency_ms = NAN, .budget_energy_mj = 0.5},
      {.device = "rpi4", .name = "20ms", .budgets = "20ms", .status = "failed",
       .error = "infeasible: no network meets the budgets", .predicted_accuracy = NAN, .test_accuracy = NAN,
       .latency_ms = NAN, .energy_mj = NAN, .power_w = NAN, .co2e_g_per_million = NAN, .grid_g_per_kwh = NAN,
       .teacher_latency_ms = NAN, .teacher_energy_mj = NAN, .budget_latency_ms = 20, .budget_energy_mj = NAN},
  };
  hant_report_device d[] = {{.name = "jetson-nano", .front_energy = fe, .n_front_energy = 24, .front_latency = fl,
                             .n_front_latency = 24, .teacher_accuracy = 0.9369, .teacher_energy_mj = 1.8,
                             .teacher_latency_ms = 5.0, .teacher_test_accuracy = 0.9331, .teacher_power_mode = "5W"}};
  hant_report r = {.title = "hant fleet regeneration: layout fixture",
                   .subtitle = "Fixed figures written by tests/regen/report_fixture.c.", .n_entries = 4,
                   .entries = e, .n_devices = 1, .devices = d};
  if (hant_report_write(&r, argv[1])) {
    fprintf(stderr, "report_fixture: %s\n", hant_errmsg());
    return 1;
  }
  return 0;
}
