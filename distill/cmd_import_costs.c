/* SPDX-License-Identifier: MIT */
/* cmd_import_costs.c: `hant-distill import-costs` loads a cost table measured on a board (hant-bench) into the library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "costs.h"
#include "hant.h"

static void usage(FILE *f) {
  fprintf(f, "usage: hant-distill import-costs --db LIBRARY.db --device NAME [options] COSTS.csv\n"
             "\n"
             "Loads a cost table written by hant-bench on a real board (docs/costs.md) as\n"
             "'imported' costs of device NAME, which must have a profile (devices/NAME.json,\n"
             "or one stored in the library). Every row must name a candidate of the library\n"
             "and, on a device with power modes, one of its modes. Rows without a measured\n"
             "energy get the profile's modelled energy over the imported latency. A malformed\n"
             "table is refused whole, naming the line and the field.\n"
             "\n"
             "  --db FILE            the library (required)\n"
             "  --device NAME        the device the table was measured on (required)\n"
             "  --devices DIR        look for profiles in DIR first\n"
             "  --power-mode NAME    mode for rows that name none\n"
             "  --json               a summary as JSON on stdout\n"
             "\n"
             "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static int by_id(const void *a, const void *b) {
  int64_t x = ((const hant_cand_rec *)a)->id, y = ((const hant_cand_rec *)b)->id;
  return (x > y) - (x < y);
}

int cmd_import_costs(int argc, char **argv) {
  const char *db = NULL, *device = NULL, *devices = NULL, *mode_opt = NULL, *file = NULL, *v;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return EXIT_OK_;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (cli_opt(argc, argv, &i, "--db", &v)) {
      if (!(db = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--device", &v)) {
      if (!(device = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--devices", &v)) {
      if (!(devices = v))
        return EXIT_USAGE;
    } else if (cli_opt(argc, argv, &i, "--power-mode", &v)) {
      if (!(mode_opt = v))
        return EXIT_USAGE;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "hant-distill import-costs: unknown option '%s'; see --help\n", a);
      return EXIT_USAGE;
    } else if (!file) {
      file = a;
    } else {
      fprintf(stderr, "hant-distill import-costs: one cost table only\n");
      return EXIT_USAGE;
    }
  }
  if (!db || !device || !file) {
    fprintf(stderr, "hant-distill import-costs: --db FILE, --device NAME and a cost table are required\n");
    return EXIT_USAGE;
  }
  hant_store *st = NULL;
  hant_device *dev = NULL;
  hant_cand_rec *cands = NULL;
  hant_costtable t = {0};
  hant_cost_rec *recs = NULL;
  int nc = 0, rc;
  bool in_tx = false;
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
    rc = costs_model_energy(dev, mi, net, r->batch, r->latency_ms, &e_model, &o->memory_bytes, o->energy_source,
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
    /* Short copies, escaped whole, so the detail stays valid JSON. */
    char tool[40], cpu[60], fname[48], created[24], e_tool[90], e_cpu[130], e_file[100], e_created[52];
    const char *base = strrchr(file, '/');
    snprintf(tool, sizeof(tool), "%.39s", t.tool);
    snprintf(cpu, sizeof(cpu), "%.59s", t.cpu);
    snprintf(fname, sizeof(fname), "%.47s", base ? base + 1 : file);
    snprintf(created, sizeof(created), "%.23s", t.created);
    hant_json_escape(e_tool, sizeof(e_tool), tool);
    hant_json_escape(e_cpu, sizeof(e_cpu), cpu);
    hant_json_escape(e_file, sizeof(e_file), fname);
    hant_json_escape(e_created, sizeof(e_created), created);
    snprintf(o->detail, sizeof(o->detail),
             "{\"file\":%s,\"line\":%d,\"tool\":%s,\"cpu\":%s,\"threads\":%d,\"runs\":%d,\"created\":%s}", e_file,
             r->line, e_tool, e_cpu, t.threads, r->runs, e_created);
  }
  int64_t dev_id;
  if ((rc = hant_store_begin(st)))
    goto fail;
  in_tx = true;
  if ((rc = costs_device_put(st, dev, &dev_id)))
    goto fail;
  for (int i = 0; i < t.n; i++)
    if ((rc = hant_store_cost_put(st, dev_id, &recs[i])))
      goto fail;
  if ((rc = hant_store_touch(st)) || (rc = hant_store_commit(st)))
    goto fail;
  in_tx = false;
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
  if (in_tx)
    hant_store_rollback(st);
  fprintf(stderr, "hant-distill import-costs: %s\n", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
  free(recs);
  free(cands);
  hant_costtable_free(&t);
  hant_device_destroy(dev);
  hant_store_close(st);
  return EXIT_FAIL;
}
