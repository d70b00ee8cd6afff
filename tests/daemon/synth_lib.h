/* SPDX-License-Identifier: MIT */
/* synth_lib.h: builds a synthetic library (random scores and modelled-looking costs) for daemon tests, fuzzing and benchmarks. */
#ifndef HANT_TEST_SYNTH_LIB_H
#define HANT_TEST_SYNTH_LIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hant.h"
#include "hant_config.h"
#include "store.h"

/* xorshift64*: reproducible without libhant's rng. */
static inline double synth_rand(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static inline char *synth_read_profile(const char *name) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s.json", HANT_DEVICES_SOURCE_DIR, name);
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s)
    s[n] = '\0';
  fclose(f);
  return s;
}

/* Creates path with n_slots slots of per_slot candidates each and costs on
 * two devices: "jetson-nano" with its two power modes (10W, 5W) and "cpu"
 * (the host profile) without modes. Returns 0 or a HANT_E* code. */
static inline int synth_lib_build(const char *path, int n_slots, int per_slot, uint64_t seed) {
  hant_store *st = NULL;
  int rc = hant_store_open(path, HANT_STORE_CREATE | HANT_STORE_NOCHECK, &st);
  if (rc)
    return rc;
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  hant_teacher_rec t;
  memset(&t, 0, sizeof(t));
  snprintf(t.sha256, sizeof(t.sha256), "%064llx", (unsigned long long)seed);
  snprintf(t.path, sizeof(t.path), "synthetic");
  snprintf(t.format, sizeof(t.format), "hant");
  t.input_c = 1, t.input_h = 28, t.input_w = 28, t.classes = 10;
  t.macs = 1e6;
  t.params = 10000;
  t.val_accuracy = 0.9;
  snprintf(t.val_split, sizeof(t.val_split), "synthetic");
  t.val_images = 1000;
  hant_store_now(t.created);
  char *nano = synth_read_profile("jetson-nano"), *host = synth_read_profile("host");
  int64_t dev_nano = 0, dev_cpu = 0;
  if (!nano || !host) {
    rc = hant__error(HANT_ENOENT, "synth_lib: device profiles not found in %s", HANT_DEVICES_SOURCE_DIR);
    goto out;
  }
  if ((rc = hant_store_teacher_put(st, &t)))
    goto out;
  int64_t *cand_ids = malloc(sizeof(int64_t) * (size_t)n_slots * (size_t)per_slot);
  double *lat = malloc(sizeof(double) * (size_t)n_slots * (size_t)per_slot);
  if (!cand_ids || !lat) {
    free(cand_ids);
    free(lat);
    rc = HANT_ENOMEM;
    goto out;
  }
  static const char *const fam[] = {"teacher", "kernel", "dws", "lowrank", "width", "ir", "group", "prune"};
  const uint8_t blob[8] = "HANTSYN";
  if ((rc = hant_store_begin(st)))
    goto out2;
  for (int i = 0; i < n_slots; i++) {
    hant_slot_rec sl;
    memset(&sl, 0, sizeof(sl));
    sl.teacher_id = t.id;
    sl.idx = i;
    snprintf(sl.name, sizeof(sl.name), "slot%d", i);
    snprintf(sl.kind, sizeof(sl.kind), "conv");
    snprintf(sl.arch, sizeof(sl.arch), "conv 16");
    sl.in_c = sl.out_c = 16, sl.in_h = sl.in_w = sl.out_h = sl.out_w = 14;
    sl.macs = 1e6 / n_slots;
    sl.params = 2320;
    if ((rc = hant_store_slot_put(st, &sl)))
      goto out2;
  }
  if ((rc = hant_store_commit(st)))
    goto out2;
  hant_slot_rec *slots = NULL;
  int ns = 0;
  if ((rc = hant_store_slots(st, &slots, &ns)))
    goto out2;
  for (int i = 0; i < ns; i++)
    for (int j = 0; j < per_slot; j++) {
      hant_cand_rec c;
      memset(&c, 0, sizeof(c));
      c.slot_id = slots[i].id;
      snprintf(c.key, sizeof(c.key), "%s j=%d", fam[j % 8], j);
      snprintf(c.family, sizeof(c.family), "%s", fam[j % 8]);
      snprintf(c.init, sizeof(c.init), "random");
      snprintf(c.arch, sizeof(c.arch), "input 16x14x14; conv 16");
      snprintf(c.hparams, sizeof(c.hparams), "{\"j\":%d}", j);
      double work = j == 0 ? 1.0 : 0.05 + 1.2 * synth_rand(&s);
      c.macs = work * slots[i].macs;
      c.params = (int64_t)(work * 2320);
      c.peak_act_bytes = 12544;
      c.score = j == 0 ? 0.0 : -0.02 * synth_rand(&s) * (1.2 - work) + 0.002 * (synth_rand(&s) - 0.7);
      c.val_accuracy = t.val_accuracy + c.score;
      c.train_samples = 1000;
      hant_store_now(c.created);
      if ((rc = hant_store_candidate_put(st, &c, blob, sizeof(blob)))) {
        free(slots);
        goto out2;
      }
      cand_ids[i * per_slot + j] = c.id;
      lat[i * per_slot + j] = 0.002 + 0.05 * work * (0.8 + 0.4 * synth_rand(&s));
    }
  free(slots);
  if ((rc = hant_store_device_put(st, "jetson-nano", nano, &dev_nano)) ||
      (rc = hant_store_device_put(st, "cpu", host, &dev_cpu)) || (rc = hant_store_begin(st)))
    goto out2;
  for (int k = 0; k < n_slots * per_slot; k++) {
    double l = lat[k];
    hant_cost_rec c;
    memset(&c, 0, sizeof(c));
    c.candidate_id = cand_ids[k];
    c.batch = 1;
    c.latency_spread = -1;
    snprintf(c.source, sizeof(c.source), "modelled");
    snprintf(c.energy_source, sizeof(c.energy_source), "modelled: synthetic");
    snprintf(c.detail, sizeof(c.detail), "{}");
    /* Busy power between idle and active: more work per time, more power. */
    c.memory_bytes = 4 * 2320 + 12544 + (int64_t)(k % 97) * 64;
    snprintf(c.device, sizeof(c.device), "jetson-nano");
    snprintf(c.power_mode, sizeof(c.power_mode), "10W");
    c.latency_ms = l;
    c.energy_mj = l * (1.5 + 6.0 * synth_rand(&s));
    if ((rc = hant_store_cost_put(st, dev_nano, &c)))
      goto rollback;
    snprintf(c.power_mode, sizeof(c.power_mode), "5W");
    c.latency_ms = l * 1.44;
    c.energy_mj = c.latency_ms * (1.25 + 3.0 * synth_rand(&s));
    if ((rc = hant_store_cost_put(st, dev_nano, &c)))
      goto rollback;
    snprintf(c.device, sizeof(c.device), "cpu");
    c.power_mode[0] = '\0';
    c.latency_ms = l * 3;
    c.energy_mj = c.latency_ms * 5;
    if ((rc = hant_store_cost_put(st, dev_cpu, &c)))
      goto rollback;
  }
  if ((rc = hant_store_touch(st)) || (rc = hant_store_commit(st)))
    goto rollback;
  goto out2;
rollback:
  hant_store_rollback(st);
out2:
  free(cand_ids);
  free(lat);
out:
  free(nano);
  free(host);
  hant_store_close(st);
  return rc;
}

#endif
