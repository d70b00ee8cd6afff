/* SPDX-License-Identifier: MIT */
/* bench_train.c: hant's training throughput (samples/s) on real Fashion-MNIST batches, after warm-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "kernels.h"
#include "hant.h"
#include "train.h"

/* usage: bench_train ARCH [BATCH] [STEPS] [THREADS]; prints one JSON line.
 * Same work per step as the PyTorch twin (tests/bench/torch_train.py):
 * pad-2 crop + flip augmentation, forward, cross-entropy, backward, SGD
 * with Nesterov momentum and weight decay. */
int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help")) {
    fprintf(argc < 2 ? stderr : stdout, "usage: bench_train ARCH [BATCH=128] [STEPS=100] [THREADS=2]\n");
    return argc < 2 ? 2 : 0;
  }
  const char *desc = hant_arch_preset(argv[1]) ? hant_arch_preset(argv[1]) : argv[1];
  int batch = argc > 2 ? atoi(argv[2]) : 128, steps = argc > 3 ? atoi(argv[3]) : 100;
  int threads = argc > 4 ? atoi(argv[4]) : 2, warmup = 5;
  hant_threads_set(threads);
  hant_net *net = hant_arch_build(desc, "arch");
  hant_dataset tr;
  if (!net || hant_data_load(&(hant_data_spec){.data = "fmnist"}, HANT_SPLIT_TRAIN, 0, &tr)) {
    fprintf(stderr, "bench_train: %s\n", hant_errmsg());
    return 1;
  }
  hant_rng rng;
  hant_rng_seed(&rng, 1);
  hant_net_init_params(net, &rng);
  hant_train_opts o;
  hant_train_opts_default(&o);
  o.batch = batch;
  o.epochs = 1;
  o.lr = 0.05f;
  o.sched = HANT_SCHED_CONSTANT;
  hant_train_result res;
  /* Warm-up run (allocations, primitives, thread start), then the timed run. */
  o.max_steps = warmup;
  if (hant_train_classifier(net, &tr, NULL, &o, &res))
    goto fail;
  o.max_steps = steps;
  if (hant_train_classifier(net, &tr, NULL, &o, &res))
    goto fail;
  printf("{\"samples_per_s\": %.2f, \"steps\": %ld, \"batch\": %d, \"threads\": %d, \"seconds\": %.3f, "
         "\"mmac_per_sample\": %.3f}\n",
         res.samples_per_s, res.steps, batch, threads, res.seconds, hant_net_macs(net) / 1e6);
  hant_dataset_free(&tr);
  hant_net_destroy(net);
  return 0;
fail:
  fprintf(stderr, "bench_train: %s\n", hant_errmsg());
  return 1;
}
