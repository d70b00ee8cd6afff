/* SPDX-License-Identifier: MIT */
/* fuzz_checkpoint.c: fuzz target for the training checkpoint reader (train.h's checkpoint), which reads a file
 * anyone with access to the directory can edit: it must refuse or resume, naming the file, and never read or
 * write out of bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "dataset.h"
#include "fnv.h"
#include "hant.h"
#include "net.h"
#include "train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long accepted;
static char ckpt_path[64];

/* 32 flat 4x4 images, two epochs of two batches: a checkpoint of a few
 * kilobytes with every section (moments, average, order) present. */
static hant_dataset *toy_data(void) {
  static hant_dataset ds;
  static uint8_t images[32 * 16], labels[32];
  if (!ds.n) {
    for (int i = 0; i < 32; i++) {
      labels[i] = (uint8_t)(i % 10);
      memset(images + i * 16, 20 * (i % 10), 16);
    }
    ds = (hant_dataset){.n = 32, .c = 1, .h = 4, .w = 4, .classes = 10, .images = images, .labels = labels};
  }
  return &ds;
}

static int stop_flag;

static void stop_after_first(void *user, const hant_train_progress *p) {
  (void)user;
  if (p->epoch_done && p->epoch == 1)
    stop_flag = 1;
}

/* Trains the toy network with the checkpoint at ckpt_path; with
 * stop_early, stops after the first epoch (a mid-run checkpoint). */
static int run(bool stop_early) {
  hant_net *net = hant_arch_build("input 1x4x4; conv 4; gap; linear 10", "fuzz");
  if (!net)
    abort();
  hant_rng rng;
  hant_rng_seed(&rng, 1);
  hant_net_init_params(net, &rng);
  hant_train_opts o;
  hant_train_opts_default(&o);
  o.epochs = 2;
  o.batch = 16;
  o.lr = 0.01f;
  o.augment = false;
  o.ema_horizon = 0.4f;
  o.mixup = 0.4f;
  o.checkpoint = ckpt_path;
  stop_flag = 0;
  o.stop = &stop_flag;
  if (stop_early)
    o.progress = stop_after_first;
  hant_train_result res;
  hant_errmsg_clear();
  int rc = hant_train_classifier(net, toy_data(), NULL, &o, &res);
  hant_net_destroy(net);
  return rc;
}

static void ensure_path(void) {
  if (ckpt_path[0])
    return;
  snprintf(ckpt_path, sizeof(ckpt_path), "/tmp/hant-fuzz-ckpt-%ld", (long)getpid());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ensure_path();
  FILE *f = fopen(ckpt_path, "wb");
  if (!f)
    abort();
  if (size && fwrite(data, 1, size, f) != size)
    abort();
  fclose(f);
  int rc = run(false);
  remove(ckpt_path);
  if (rc == 0) {
    accepted++;
    return 0;
  }
  /* refused (another run, damaged), or a resumed run whose weights diverge */
  if (!hant_errmsg()[0] || (rc != HANT_EIO && rc != HANT_EINVAL && rc != HANT_ERANGE && rc != HANT_ENOMEM))
    abort();
  if (rc != HANT_ERANGE && rc != HANT_ENOMEM && !strstr(hant_errmsg(), ckpt_path))
    abort(); /* a refusal names the file */
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_checkpoint"
#include "fuzz_driver.h"

static const char *const seeds[] = {"HANTCKPT", ""};

/* Real checkpoints: one written after the first of two epochs, one after both. */
static int make_seeds(seed *pool, size_t *n, size_t cap) {
  ensure_path();
  for (int early = 1; early >= 0 && *n < cap; early--) {
    remove(ckpt_path);
    int rc = run(early);
    if (rc && rc != HANT_ECANCELED)
      return 1;
    FILE *f = fopen(ckpt_path, "rb");
    if (!f)
      return 1;
    uint8_t *buf = malloc(1 << 16);
    size_t len = buf ? fread(buf, 1, 1 << 16, f) : 0;
    fclose(f);
    if (!buf || !len)
      return 1;
    pool[(*n)++] = (seed){buf, len};
  }
  remove(ckpt_path);
  return 0;
}

/* Byte edits, then (mostly) the checksum made right again, so that the
 * mutants reach the header and state checks behind it. */
static size_t mutate(uint8_t *buf, size_t len, size_t cap) {
  int edits = 1 + (int)fuzz_below(4);
  for (int e = 0; e < edits && len; e++) {
    switch (fuzz_below(4)) {
    case 0: buf[fuzz_below((uint32_t)len)] ^= (uint8_t)(1u << fuzz_below(8)); break;
    case 1: buf[fuzz_below((uint32_t)len)] = (uint8_t)fuzz_next(); break;
    case 2: len = fuzz_below((uint32_t)len + 1); break;
    default:
      if (len < cap)
        buf[len++] = (uint8_t)fuzz_next();
    }
  }
  if (len > 16 && fuzz_below(8)) {
    uint64_t h = hant_fnv(HANT_FNV_BASIS, buf, len - 8);
    for (int i = 0; i < 8; i++)
      buf[len - 8 + (size_t)i] = (uint8_t)(h >> (8 * i));
  }
  return len;
}

static const fuzz_target target = {.seeds = seeds,
                                    .n_seeds = sizeof(seeds) / sizeof(seeds[0]),
                                    .make_seeds = make_seeds,
                                    .mutate = mutate,
                                    .keep_one_in = 8,
                                    .accepted = &accepted};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
