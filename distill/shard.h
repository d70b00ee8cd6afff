/* SPDX-License-Identifier: MIT */
/* shard.h: splits `hant-distill build` across processes (MPI ranks); rank 0 alone writes the library. */
#ifndef HANT_DISTILL_SHARD_H
#define HANT_DISTILL_SHARD_H

#include <stdbool.h>

#include "hant.h"

/* What the other ranks did, added to rank 0's build record. */
typedef struct shard_totals {
  int ranks_done;
  int trained;
  double cpu_s, energy_j;
  int failed_rank; /* -1 when every rank succeeded */
  char failure[256];
} shard_totals;

/* Joins the MPI job when the program was started by mpirun (and hant was
 * built with MPI); otherwise this is a single process of rank 0, size 1. */
int shard_init(int *argc, char ***argv, int *rank, int *size);
void shard_finalize(void);
/* Waits for every rank. */
void shard_barrier(void);
/* Ranks other than 0: sends a finished candidate to rank 0. */
int shard_send_result(void *user, hant_distill_result *r);
/* Ranks other than 0: tells rank 0 this rank is done, and how it went. */
int shard_send_done(int rc, const hant_distill_summary *sum);
/* Rank 0: commits results that have arrived, without waiting. */
int shard_drain(hant_store *st, shard_totals *t);
/* Rank 0: commits results until all size-1 other ranks are done. */
int shard_collect(hant_store *st, int size, shard_totals *t);
/* Stops every rank after a fatal error on one. */
void shard_abort(int code);

#endif
