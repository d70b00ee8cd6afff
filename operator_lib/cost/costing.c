/* SPDX-License-Identifier: MIT */
/* costing.c: fills cost records for a library's candidates, by measuring in passes on this machine or by the cost model. */
#include "costing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "costmodel.h"
#include "jsonw.h"

int hant_cost_model_energy(const hant_device *d, int mode, const hant_net *net, int batch, double latency_ms,
                           double *energy_mj, int64_t *memory_bytes, char *source, size_t n) {
  hant_cost_estimate e;
  int rc = hant_costmodel_net(d, mode, net, batch, &e);
  if (rc)
    return rc;
  hant_device_point pt;
  hant_device_point_get(d, mode, &pt);
  *energy_mj = e.energy_mac_mj + e.energy_mem_mj + pt.idle_w * latency_ms;
  if (pt.active_w > 0 && *energy_mj > pt.active_w * latency_ms) /* never above active power */
    *energy_mj = pt.active_w * latency_ms;
  *memory_bytes = e.memory_bytes;
  snprintf(source, n, "modelled: %s profile (%.3g pJ/MAC, pJ/B per memory level, %.3g W idle) over the latency",
           d->name, d->pj_per_mac[d->precision] * pt.energy_scale, pt.idle_w);
  return 0;
}

/* ---- measuring ------------------------------------------------------------ */

/* One measurement of one pass, before the passes are combined. */
typedef struct sample {
  hant_cost_rec rec;
  hant_measure_result mr;
} sample;

static int measure_one(const hant_device *d, const hant_measure_opts *mo, hant_net *net, int64_t cand, int batch,
                       sample *s) {
  hant_measure_opts o = *mo;
  o.batch = batch;
  int rc = hant_measure_net(net, &o, &s->mr);
  if (rc)
    return rc;
  hant_cost_rec *c = &s->rec;
  memset(c, 0, sizeof(*c));
  c->candidate_id = cand;
  snprintf(c->device, sizeof(c->device), "%s", d->name);
  c->batch = batch;
  c->latency_ms = s->mr.latency_ms;
  c->latency_spread = s->mr.spread;
  snprintf(c->source, sizeof(c->source), "measured");
  double e_model;
  if ((rc = hant_cost_model_energy(d, -1, net, batch, s->mr.latency_ms, &e_model, &c->memory_bytes, c->energy_source,
                                   sizeof(c->energy_source))))
    return rc;
  if (s->mr.energy_mj >= 0) {
    c->energy_mj = s->mr.energy_mj;
    snprintf(c->energy_source, sizeof(c->energy_source), "%s", s->mr.energy_source);
  } else {
    c->energy_mj = e_model;
    /* Say why the energy is modelled. */
    size_t l = strlen(c->energy_source);
    snprintf(c->energy_source + l, sizeof(c->energy_source) - l, "; no RAPL");
  }
  return 0;
}

/* The measurement statistics of the pass kept, and how far the passes
 * spread; the field order and digits are those libraries already hold. */
static int measured_detail(hant_cost_rec *c, const hant_measure_result *mr, const char *cpu, double max_spread,
                           int passes, double pass_spread) {
  hant_jsonw w;
  hant_jsonw_init_buf(&w, c->detail, sizeof(c->detail));
  hant_jsonw_obj_begin(&w);
  hant_jsonw_key(&w, "threads"), hant_jsonw_int(&w, mr->threads);
  hant_jsonw_key(&w, "cpu"), hant_jsonw_str(&w, cpu);
  hant_jsonw_key(&w, "samples"), hant_jsonw_int(&w, mr->samples);
  hant_jsonw_key(&w, "reps"), hant_jsonw_int(&w, mr->reps);
  hant_jsonw_key(&w, "attempts"), hant_jsonw_int(&w, mr->attempts);
  hant_jsonw_key(&w, "rejected"), hant_jsonw_int(&w, mr->rejected);
  hant_jsonw_key(&w, "stable"), hant_jsonw_bool(&w, mr->stable);
  hant_jsonw_key(&w, "p10_ms"), hant_jsonw_numf(&w, "%.6g", mr->p10_ms);
  hant_jsonw_key(&w, "p90_ms"), hant_jsonw_numf(&w, "%.6g", mr->p90_ms);
  hant_jsonw_key(&w, "min_ms"), hant_jsonw_numf(&w, "%.6g", mr->min_ms);
  hant_jsonw_key(&w, "max_spread"), hant_jsonw_numf(&w, "%g", max_spread);
  hant_jsonw_key(&w, "passes"), hant_jsonw_int(&w, passes);
  hant_jsonw_key(&w, "pass_spread"), hant_jsonw_numf(&w, "%.4g", pass_spread);
  hant_jsonw_obj_end(&w);
  if (hant_jsonw_error(&w))
    return hant__error(hant_jsonw_error(&w), "candidate %lld: the measurement's detail exceeds %zu bytes",
                       (long long)c->candidate_id, sizeof(c->detail));
  return 0;
}

int hant_costing_measure(const hant_device *d, const hant_cand_rec *cands, hant_net *const *nets, int n,
                         const hant_costing_opts *o, hant_cost_rec **out, int *nout, int *unstable) {
  *out = NULL;
  *nout = 0;
  *unstable = 0;
  if (o->passes < 1 || o->passes > HANT_COSTING_MAX_PASSES)
    return hant__error(HANT_EINVAL, "costing: %d passes, expected 1 to %d", o->passes, HANT_COSTING_MAX_PASSES);
  int batches[2] = {1, o->batch}, nb = o->batch > 1 ? 2 : 1, per_pass = n * nb, passes = o->passes;
  sample *s = calloc((size_t)(per_pass > 0 ? per_pass : 1) * (size_t)passes, sizeof(*s));
  hant_cost_rec *recs = calloc((size_t)(per_pass > 0 ? per_pass : 1), sizeof(*recs));
  int rc = 0;
  if (!s || !recs) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int p = 0; p < passes && !rc; p++) {
    hant_measure_opts mo = o->measure; /* a power sensor is read in the last pass only */
    mo.energy_s = p + 1 == passes ? o->measure.energy_s : 0;
    for (int i = 0; i < n && !rc; i++)
      for (int b = 0; b < nb && !rc; b++) {
        sample *x = &s[(size_t)p * per_pass + (size_t)i * nb + b];
        if ((rc = measure_one(d, &mo, nets[i], cands[i].id, batches[b], x)))
          break;
        *unstable += !x->mr.stable;
        if (o->progress) {
          hant_costing_event e = {.pass = p + 1, .passes = passes, .index = i + 1, .n = n, .cand = &cands[i],
                                  .batch = batches[b], .result = &x->mr};
          o->progress(o->user, &e);
        }
      }
  }
  for (int k = 0; !rc && k < per_pass; k++) {
    int order[HANT_COSTING_MAX_PASSES];
    for (int p = 0; p < passes; p++)
      order[p] = p;
    for (int p = 1; p < passes; p++) /* insertion sort by latency */
      for (int q = p; q > 0 && s[(size_t)order[q] * per_pass + k].rec.latency_ms <
                                   s[(size_t)order[q - 1] * per_pass + k].rec.latency_ms;
           q--) {
        int t = order[q];
        order[q] = order[q - 1], order[q - 1] = t;
      }
    const sample *med = &s[(size_t)order[passes / 2] * per_pass + k];
    const sample *last = &s[(size_t)(passes - 1) * per_pass + k];
    hant_cost_rec *c = &recs[k];
    *c = med->rec;
    if (strncmp(last->rec.energy_source, "modelled", 8)) { /* a sensor's reading */
      c->energy_mj = last->rec.energy_mj;
      snprintf(c->energy_source, sizeof(c->energy_source), "%s", last->rec.energy_source);
    }
    double lo = s[(size_t)order[0] * per_pass + k].rec.latency_ms;
    double hi = s[(size_t)order[passes - 1] * per_pass + k].rec.latency_ms;
    rc = measured_detail(c, &med->mr, o->cpu ? o->cpu : "unknown", o->measure.max_spread, passes,
                         c->latency_ms > 0 ? (hi - lo) / c->latency_ms : 0.0);
  }
  if (!rc) {
    *out = recs;
    *nout = per_pass;
    recs = NULL;
  }
out:
  free(s);
  free(recs);
  return rc;
}

/* ---- modelling ------------------------------------------------------------ */

static int model_one(const hant_device *d, int mode, const hant_net *net, int64_t cand, int batch, hant_cost_rec *c) {
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
  snprintf(c->energy_source, sizeof(c->energy_source), "modelled: %.40s profile (pJ/MAC, pJ/B, idle W)", d->name);
  hant_jsonw w;
  hant_jsonw_init_buf(&w, c->detail, sizeof(c->detail));
  hant_jsonw_obj_begin(&w);
  hant_jsonw_key(&w, "precision"), hant_jsonw_str(&w, hant_prec_name(d->precision));
  hant_jsonw_key(&w, "macs"), hant_jsonw_numf(&w, "%.6g", e.macs);
  hant_jsonw_key(&w, "macs_padded"), hant_jsonw_numf(&w, "%.6g", e.macs_padded);
  hant_jsonw_key(&w, "compute_ms"), hant_jsonw_numf(&w, "%.6g", e.compute_ms);
  hant_jsonw_key(&w, "memory_ms"), hant_jsonw_numf(&w, "%.6g", e.memory_ms);
  hant_jsonw_key(&w, "overhead_ms"), hant_jsonw_numf(&w, "%.6g", e.overhead_ms);
  hant_jsonw_key(&w, "energy_mac_mj"), hant_jsonw_numf(&w, "%.6g", e.energy_mac_mj);
  hant_jsonw_key(&w, "energy_memory_mj"), hant_jsonw_numf(&w, "%.6g", e.energy_mem_mj);
  hant_jsonw_key(&w, "energy_static_mj"), hant_jsonw_numf(&w, "%.6g", e.energy_static_mj);
  hant_jsonw_obj_end(&w);
  if (hant_jsonw_error(&w))
    return hant__error(hant_jsonw_error(&w), "candidate %lld: the model's detail exceeds %zu bytes", (long long)cand,
                       sizeof(c->detail));
  return 0;
}

int hant_costing_model(const hant_device *d, const hant_cand_rec *cands, hant_net *const *nets, int n, int batch,
                       hant_cost_rec **out, int *nout) {
  *out = NULL;
  *nout = 0;
  int batches[2] = {1, batch}, nb = batch > 1 ? 2 : 1, modes = d->n_modes ? d->n_modes : 1;
  hant_cost_rec *recs = calloc((size_t)(n > 0 ? n : 1) * (size_t)(nb * modes), sizeof(*recs));
  if (!recs)
    return HANT_ENOMEM;
  int k = 0;
  for (int i = 0; i < n; i++)
    for (int b = 0; b < nb; b++)
      for (int m = 0; m < modes; m++) {
        int rc = model_one(d, d->n_modes ? m : -1, nets[i], cands[i].id, batches[b], &recs[k++]);
        if (rc) {
          free(recs);
          return rc;
        }
      }
  *out = recs;
  *nout = k;
  return 0;
}

int hant_costing_store(hant_store *st, const hant_device *d, const hant_cost_rec *recs, int n) {
  int64_t dev_id;
  int rc = hant_store_begin(st);
  if (rc)
    return rc;
  if ((rc = hant_store_device_put(st, d->name, d->json, &dev_id)))
    goto fail;
  for (int i = 0; i < n; i++)
    if ((rc = hant_store_cost_put(st, dev_id, &recs[i])))
      goto fail;
  if ((rc = hant_store_touch(st)) || (rc = hant_store_commit(st)))
    goto fail;
  return 0;
fail:
  hant_store_rollback(st);
  return rc;
}
