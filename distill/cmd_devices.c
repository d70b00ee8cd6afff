/* SPDX-License-Identifier: MIT */
/* cmd_devices.c: `hant-distill devices` lists and validates device profiles and costs a whole network on each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill devices [--devices DIR] [--model FILE [--measure] [--fps F] [--grid G]] [--json]\n"
    "\n"
    "Lists the device profiles found on the search path (--devices DIR, $HANT_DEVICES,\n"
    "$XDG_DATA_HOME/hant/devices, the installed and the source devices/), validating\n"
    "each: a profile that does not load is reported with the JSON path of the problem\n"
    "and makes the exit status 1. With --model, costs that network (ONNX or native,\n"
    "batch norm folded) on every device and power mode from the profiles: latency,\n"
    "energy per inference, average power while inferring, sustained power at --fps,\n"
    "and CO2e per million inferences at --grid. --measure also measures it on this\n"
    "machine (1 thread) for comparison with the host model.\n"
    "\n";

typedef struct row {
  char device[64], mode[32], prec[8], source[12];
  double latency_ms, energy_mj, power_w, sustained_w, co2_g_per_m, macs_padded;
} row;

int cmd_devices(int argc, char **argv) {
  const char *dir = NULL, *model = NULL;
  double fps = 30, grid = HANT_GRID_G_PER_KWH_DEFAULT;
  bool json = false, measure = false;
  char grid_help[80];
  snprintf(grid_help, sizeof(grid_help), "grid intensity, gCO2/kWh (default %.0f, IEA 2019 world average)",
           HANT_GRID_G_PER_KWH_DEFAULT);
  const hant_opt opts[] = {
      HANT_OPT_STRING("devices", 0, &dir, "DIR", NULL),
      HANT_OPT_STRING("model", 0, &model, "FILE", NULL),
      HANT_OPT_FLAG("measure", 0, &measure, NULL),
      HANT_OPT_DOUBLE("fps", 0, &fps, 0, 1e6, "F", "frame rate for sustained power (default 30)"),
      HANT_OPT_DOUBLE("grid", 0, &grid, 0, 5000, "G", grid_help),
      HANT_OPT_FLAG("json", 0, &json, NULL),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {
      .name = "hant-distill devices",
      .usage = usage,
      .footer = "\nExit status: 0 success, 1 a profile is invalid or the model fails, 2 usage error.\n",
      .column = 16,
      .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  if (measure && !model)
    return cli_usage_error(&cmd, "--measure needs --model FILE");
  char(*names)[64] = NULL;
  int n = 0, bad = 0, nrows = 0, rc = 0;
  hant_net *net = NULL;
  row *rows = NULL;
  hant_device **devs = NULL;
  if ((rc = hant_device_list(dir, &names, &n)))
    goto fail;
  if (model) {
    if ((rc = hant_onnx_load_any(model, &net, NULL)) || (rc = hant_net_fold_bn(net)))
      goto fail;
  }
  devs = calloc((size_t)(n ? n : 1), sizeof(*devs));
  rows = calloc((size_t)(n * (HANT_DEVICE_MAX_MODES + 1) + 2), sizeof(*rows));
  if (!devs || !rows) {
    rc = HANT_ENOMEM;
    goto fail;
  }
  for (int i = 0; i < n; i++) {
    if (hant_device_find(dir, names[i], &devs[i])) {
      fprintf(stderr, "hant-distill devices: %s\n", hant_errmsg());
      bad++;
      continue;
    }
    const hant_device *d = devs[i];
    int modes = d->n_modes ? d->n_modes : 1;
    for (int m = 0; net && m < modes; m++) {
      int mi = d->n_modes ? m : -1;
      hant_cost_estimate e;
      if ((rc = hant_costmodel_net(d, mi, net, 1, &e)))
        goto fail;
      hant_device_point pt;
      hant_device_point_get(d, mi, &pt);
      row *r = &rows[nrows++];
      snprintf(r->device, sizeof(r->device), "%s", d->name);
      snprintf(r->mode, sizeof(r->mode), "%s", pt.mode);
      snprintf(r->prec, sizeof(r->prec), "%s", hant_prec_name(d->precision));
      snprintf(r->source, sizeof(r->source), "modelled");
      r->latency_ms = e.latency_ms;
      r->energy_mj = e.energy_mj;
      r->macs_padded = e.macs_padded;
      r->power_w = hant_power_avg_w(e.energy_mj, e.latency_ms);
      r->sustained_w = hant_power_sustained_w(e.energy_mj, e.latency_ms, fps, pt.idle_w);
      r->co2_g_per_m = hant_power_co2_g_per_million(e.energy_mj, grid);
    }
    if (net && measure && !strcmp(d->name, "host")) {
      hant_measure_opts mo;
      hant_measure_result mr;
      hant_measure_opts_default(&mo);
      hant_threads_set(1);
      hant_cost_estimate e;
      double e_model;
      int64_t memory_bytes;
      char e_source[160];
      if ((rc = hant_measure_net(net, &mo, &mr)) || (rc = hant_costmodel_net(d, -1, net, 1, &e)) ||
          (rc = hant_cost_model_energy(d, -1, net, 1, mr.latency_ms, &e_model, &memory_bytes, e_source,
                                       sizeof(e_source))))
        goto fail;
      row *r = &rows[nrows++];
      snprintf(r->device, sizeof(r->device), "%s", d->name);
      snprintf(r->prec, sizeof(r->prec), "fp32");
      snprintf(r->source, sizeof(r->source), "measured");
      r->latency_ms = mr.latency_ms;
      /* Energy: RAPL when it was read, else the profile's model over the measured time. */
      r->energy_mj = mr.energy_mj >= 0 ? mr.energy_mj : e_model;
      r->macs_padded = e.macs_padded;
      r->power_w = hant_power_avg_w(r->energy_mj, r->latency_ms);
      r->sustained_w = hant_power_sustained_w(r->energy_mj, r->latency_ms, fps, d->idle_w);
      r->co2_g_per_m = hant_power_co2_g_per_million(r->energy_mj, grid);
    }
  }
  if (json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "devices");
    hant_jsonw_arr_begin(&w);
    for (int i = 0; i < n; i++) {
      hant_jsonw_obj_begin(&w);
      hant_jsonw_key(&w, "name"), hant_jsonw_str(&w, names[i]);
      hant_jsonw_key(&w, "valid"), hant_jsonw_bool(&w, devs[i] != NULL);
      if (devs[i]) {
        hant_jsonw_key(&w, "path"), hant_jsonw_str(&w, devs[i]->path);
        hant_jsonw_key(&w, "kind"), hant_jsonw_str(&w, devs[i]->kind);
        hant_jsonw_key(&w, "precision"), hant_jsonw_str(&w, hant_prec_name(devs[i]->precision));
        hant_jsonw_key(&w, "idle_w"), hant_jsonw_num(&w, devs[i]->idle_w);
        hant_jsonw_key(&w, "active_w"), hant_jsonw_num(&w, devs[i]->active_w);
        hant_jsonw_key(&w, "power_modes");
        hant_jsonw_arr_begin(&w);
        for (int m = 0; m < devs[i]->n_modes; m++)
          hant_jsonw_str(&w, devs[i]->modes[m].name);
        hant_jsonw_arr_end(&w);
      }
      hant_jsonw_obj_end(&w);
    }
    hant_jsonw_arr_end(&w);
    if (net) {
      hant_jsonw_key(&w, "model"), hant_jsonw_str(&w, model);
      hant_jsonw_key(&w, "macs"), hant_jsonw_num(&w, hant_net_macs(net));
      hant_jsonw_key(&w, "fps"), hant_jsonw_num(&w, fps);
      hant_jsonw_key(&w, "grid_g_per_kwh"), hant_jsonw_num(&w, grid);
      hant_jsonw_key(&w, "costs");
      hant_jsonw_arr_begin(&w);
      for (int k = 0; k < nrows; k++) {
        const row *r = &rows[k];
        hant_jsonw_obj_begin(&w);
        hant_jsonw_key(&w, "device"), hant_jsonw_str(&w, r->device);
        hant_jsonw_key(&w, "power_mode"), hant_jsonw_str(&w, r->mode);
        hant_jsonw_key(&w, "precision"), hant_jsonw_str(&w, r->prec);
        hant_jsonw_key(&w, "source"), hant_jsonw_str(&w, r->source);
        hant_jsonw_key(&w, "latency_ms"), hant_jsonw_num(&w, r->latency_ms);
        hant_jsonw_key(&w, "energy_mj"), hant_jsonw_num(&w, r->energy_mj);
        hant_jsonw_key(&w, "power_w"), hant_jsonw_num(&w, r->power_w);
        hant_jsonw_key(&w, "sustained_w");
        if (r->sustained_w >= 0)
          hant_jsonw_num(&w, r->sustained_w);
        else
          hant_jsonw_null(&w);
        hant_jsonw_key(&w, "co2e_g_per_million"), hant_jsonw_num(&w, r->co2_g_per_m);
        hant_jsonw_key(&w, "macs_padded"), hant_jsonw_num(&w, r->macs_padded);
        hant_jsonw_obj_end(&w);
      }
      hant_jsonw_arr_end(&w);
    }
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else if (!net) {
    for (int i = 0; i < n; i++) {
      if (!devs[i])
        continue;
      printf("%-16s %-11s %-5s idle %8.4g W  active %8.4g W", names[i], devs[i]->kind,
             hant_prec_name(devs[i]->precision), devs[i]->idle_w, devs[i]->active_w);
      for (int m = 0; m < devs[i]->n_modes; m++)
        printf("%s%s", m ? ", " : "  modes ", devs[i]->modes[m].name);
      printf("\n                 %s\n", devs[i]->path);
    }
  } else {
    printf("%s: %.3f MMAC per inference; sustained power at %g fps; CO2e at %g gCO2/kWh\n", model,
           hant_net_macs(net) / 1e6, fps, grid);
    printf("%-14s %-6s %-5s %-9s %12s %12s %10s %12s %14s\n", "device", "mode", "prec", "source", "latency ms",
           "energy mJ", "power W", "sustained W", "gCO2e per 1M");
    for (int k = 0; k < nrows; k++) {
      const row *r = &rows[k];
      char sus[32];
      if (r->sustained_w >= 0)
        snprintf(sus, sizeof(sus), "%12.4g", r->sustained_w);
      else
        snprintf(sus, sizeof(sus), "%12s", "too slow");
      printf("%-14s %-6s %-5s %-9s %12.5g %12.5g %10.4g %s %14.5g\n", r->device, r->mode[0] ? r->mode : "-", r->prec,
             r->source, r->latency_ms, r->energy_mj, r->power_w, sus, r->co2_g_per_m);
    }
  }
  goto done;
fail:
  fprintf(stderr, "hant-distill devices: %s\n", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
done:
  for (int i = 0; devs && i < n; i++)
    hant_device_destroy(devs[i]);
  free(devs);
  free(rows);
  free(names);
  hant_net_destroy(net);
  return rc ? EXIT_FAIL : bad ? EXIT_FAIL : EXIT_OK_;
}
