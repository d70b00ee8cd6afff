/* SPDX-License-Identifier: MIT */
/* shard_single.c: the sharding backend of builds without MPI: one process, rank 0 of 1. */
#include <stdlib.h>

#include "hant.h"
#include "shard.h"

int shard_init(int *argc, char ***argv, int *rank, int *size) {
  (void)argc;
  (void)argv;
  *rank = 0;
  *size = 1;
  return 0;
}

void shard_finalize(void) {}
void shard_barrier(void) {}

int shard_send_result(void *user, hant_distill_result *r) {
  (void)user;
  (void)r;
  return hant__error(HANT_ENOTSUP, "this hant-distill was built without MPI");
}

int shard_send_done(int rc, const hant_distill_summary *sum) {
  (void)rc;
  (void)sum;
  return 0;
}

int shard_drain(hant_store *st, shard_totals *t) {
  (void)st;
  (void)t;
  return 0;
}

int shard_collect(hant_store *st, int size, shard_totals *t) {
  (void)st;
  (void)size;
  (void)t;
  return 0;
}

void shard_abort(int code) { exit(code); }
