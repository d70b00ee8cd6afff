/* SPDX-License-Identifier: MIT */
/* cmd_import_costs.c: `hant-distill import-costs` loads a cost table measured on a board (hant-bench) into the library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill import-costs --db LIBRARY.db --device NAME [options] COSTS.csv\n"
    "\n"
    "Loads a cost table written by hant-bench on a real board (docs/costs.md) as\n"
    "'imported' costs of device NAME, which must have a profile (devices/NAME.json,\n"
    "or one stored in the library). Every row must name a candidate of the library\n"
    "and, on a device with power modes, one of its modes. Rows without a measured\n"
    "energy get the profile's modelled energy over the imported latency. A malformed\n"
    "table is refused whole, naming the line and the field.\n"
    "\n";

/* The record's detail: where the row came from. Fields are cut to fixed
 * lengths first so that the detail always fits its record. */
static int import_detail(hant_cost_rec *o, const char *file, const hant_costtable *t, const hant_costtable_row *r) {
  char tool[40], cpu[60], fname[48], created[24];
  const char *base = strrchr(file, '/');
  snprintf(tool, sizeof(tool), "%.39s", t->tool);
  snprintf(cpu, sizeof(cpu), "%.59s", t->cpu);
  snprintf(fname, sizeof(fname), "%.47s", base ? base + 1 : file);
  snprintf(created, sizeof(created), "%.23s", t->created);
  hant_jsonw w;
  hant_jsonw_init_buf(&w, o->detail, sizeof(o->detail));
  hant_jsonw_obj_begin(&w);
  hant_jsonw_key(&w, "file"), hant_jsonw_str(&w, fname);
  hant_jsonw_key(&w, "line"), hant_jsonw_int(&w, r->line);
  hant_jsonw_key(&w, "tool"), hant_jsonw_str(&w, tool);
  hant_jsonw_key(&w, "cpu"), hant_jsonw_str(&w, cpu);
  hant_jsonw_key(&w, "threads"), hant_jsonw_int(&w, t->threads);
  hant_jsonw_key(&w, "runs"), hant_jsonw_int(&w, r->runs);
  hant_jsonw_key(&w, "created"), hant_jsonw_str(&w, created);
  hant_jsonw_obj_end(&w);
  if (hant_jsonw_error(&w))
    return hant__error(hant_jsonw_error(&w), "%s:%d: the row's detail exceeds %zu bytes", file, r->line,
                       sizeof(o->detail));
  return 0;
}

static int by_id(const void *a, const void *b) {
  int64_t x = ((const hant_cand_rec *)a)->id, y = ((const hant_cand_rec *)b)->id;
  return (x > y) - (x < y);
}

int cmd_import_costs(int argc, char **argv) {
  const char *db = NULL, *device = NULL, *devices = NULL, *mode_opt = NULL;
  bool json = false;
  hant_opt_list files = {0};
  const hant_opt opts[] = {
      HANT_OPT_STRING("db", 0, &db, "FILE", "the library (required)"),
      HANT_OPT_STRING("device", 0, &device, "NAME", "the device the table was measured on (required)"),
      HANT_OPT_STRING("devices", 0, &devices, "DIR", "look for profiles in DIR first"),
      HANT_OPT_STRING("power-mode", 0, &mode_opt, "NAME", "mode for rows that name none"),
      HANT_OPT_FLAG("json", 0, &json, "a summary as JSON on stdout"),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill import-costs",
                            .usage = usage,
                            .footer = "\nExit status: 0 success, 1 failure, 2 usage error.\n",
                            .column = 23,
                            .opts = opts,
                            .operands = &files};
  int code = cli_parse(&cmd, argc, argv);
  const char *file = files.n ? files.v[0] : NULL;
  if (code < 0 && files.n > 1)
    code = cli_usage_error(&cmd, "one cost table only");
  else if (code < 0 && (!db || !device || !file))
    code = cli_usage_error(&cmd, "--db FILE, --device NAME and a cost table are required");
  hant_opt_list_free(&files);
  if (code >= 0)
    return code;
  hant_store *st = NULL;
  hant_device *dev = NULL;
  hant_cand_rec *cands = NULL;
  hant_costtable t = {0};
  hant_cost_rec *recs = NULL;
  int nc = 0, rc;
  if ((rc = hant_store_open(db, 0, &st)) || (rc = hant_device_resolve(st, devices, device, &dev)) ||
      (rc = hant_store_candidates(st, -1, &cands, &nc)) || (rc = hant_costtable_read(file, &t)))
    goto fail;
  if (t.n == 0) {
    rc = hant__error(HANT_EFORMAT, "%s: no rows", file);
    goto fail;
  }
  if (t.device[0] && strcmp(t.device, dev->name)) {
    rc = hant__error(HANT_EINVAL, "%s: device: the table says it was measured on '%s', not '%s'", file, t.device,
                     dev->name);
    goto fail;
  }
  qsort(cands, (size_t)nc, sizeof(*cands), by_id);
  if (!(recs = calloc((size_t)t.n, sizeof(*recs)))) {
    rc = HANT_ENOMEM;
    goto fail;
  }
  /* Check every row before writing any. */
  for (int i = 0; i < t.n; i++) {
    const hant_costtable_row *r = &t.rows[i];
    hant_cand_rec key = {.id = r->id};
    const hant_cand_rec *c = bsearch(&key, cands, (size_t)nc, sizeof(*cands), by_id);
    if (!c) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: id: %lld is not a candidate of %s (export the operator list from this "
                                     "library)",
                       file, r->line, (long long)r->id, db);
      goto fail;
    }
    const char *mode = r->power_mode[0] ? r->power_mode : mode_opt ? mode_opt : t.power_mode;
    int mi = -1;
    if (dev->n_modes) {
      if (!mode[0] || (mi = hant_device_mode_find(dev, mode)) < 0) {
        char list[256];
        size_t l = 0;
        list[0] = '\0';
        for (int m = 0; m < dev->n_modes && l < sizeof(list); m++)
          l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%s", m ? ", " : "", dev->modes[m].name);
        rc = hant__error(HANT_EFORMAT, "%s:%d: power_mode: %s '%s' has modes %s; got '%s'", file, r->line,
                         dev->kind, dev->name, list, mode);
        goto fail;
      }
    } else if (mode[0]) {
      rc = hant__error(HANT_EFORMAT, "%s:%d: power_mode: '%s' has no power modes, got '%s'", file, r->line, dev->name,
                       mode);
      goto fail;
    }
    hant_net *net;
    if ((rc = hant_store_candidate_net(st, c->id, &net)))
      goto fail;
    hant_cost_rec *o = &recs[i];
    o->candidate_id = r->id;
    snprintf(o->device, sizeof(o->device), "%s", dev->name);
    snprintf(o->power_mode, sizeof(o->power_mode), "%s", mi >= 0 ? dev->modes[mi].name : "");
    o->batch = r->batch;
    o->latency_ms = r->latency_ms;
    o->latency_spread = r->latency_spread;
    snprintf(o->source, sizeof(o->source), "imported");
    double e_model;
    rc = hant_cost_model_energy(dev, mi, net, r->batch, r->latency_ms, &e_model, &o->memory_bytes, o->energy_source,
                                sizeof(o->energy_source));
    hant_net_destroy(net);
    if (rc)
      goto fail;
    if (r->energy_mj >= 0) {
      o->energy_mj = r->energy_mj;
      snprintf(o->energy_source, sizeof(o->energy_source), "%s", r->energy_source);
    } else {
      o->energy_mj = e_model;
    }
    if ((rc = import_detail(o, file, &t, r)))
      goto fail;
  }
  if ((rc = hant_costing_store(st, dev, recs, t.n)))
    goto fail;
  if (json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "device"), hant_jsonw_str(&w, dev->name);
    hant_jsonw_key(&w, "file"), hant_jsonw_str(&w, file);
    hant_jsonw_key(&w, "imported"), hant_jsonw_int(&w, t.n);
    hant_jsonw_key(&w, "tool"), hant_jsonw_str(&w, t.tool);
    hant_jsonw_key(&w, "cpu"), hant_jsonw_str(&w, t.cpu);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    printf("imported      %d costs of %s from %s (%s, %s)\n", t.n, dev->name, file, t.tool[0] ? t.tool : "unknown tool",
           t.cpu[0] ? t.cpu : "unknown CPU");
  }
  free(recs);
  free(cands);
  hant_costtable_free(&t);
  hant_device_destroy(dev);
  hant_store_close(st);
  return EXIT_OK_;
fail:
  fprintf(stderr, "hant-distill import-costs: %s\n", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
  free(recs);
  free(cands);
  hant_costtable_free(&t);
  hant_device_destroy(dev);
  hant_store_close(st);
  return EXIT_FAIL;
}
