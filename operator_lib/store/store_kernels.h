/* SPDX-License-Identifier: MIT */
/* store_kernels.h: the host's single-kernel latency table in the library (migration 006), keyed by CPU and thread count. */
#ifndef HANT_STORE_KERNELS_H
#define HANT_STORE_KERNELS_H

#include "infer.h"
#include "store.h"

/* One kernel measured alone on one machine (table host_kernel). */
typedef struct hant_kernel_rec {
  char cpu[160];           /* the CPU identifier the row was measured on */
  int threads;             /* kernel threads during the measurement */
  int batch;               /* samples per run */
  hant_infer_kernel k;     /* what ran; k.node is not stored (0 on reading) */
  double latency_us;       /* median per run, after a warm-up */
  double spread;           /* (p90 - p10) / median */
  int samples;             /* timed samples behind the median */
  char created[32];
} hant_kernel_rec;

/* A key of the table and how many rows it holds. */
typedef struct hant_kernel_key {
  char cpu[160];
  int threads, batch, rows;
  char created[32]; /* of its newest row */
} hant_kernel_key;

/* Replaces every row of (cpu, threads, batch) with recs[0..n) (whose own
 * cpu, threads and batch fields are ignored) in one transaction. The
 * library version is not bumped: the table changes no stored cost. */
int hant_store_kernels_put(hant_store *st, const char *cpu, int threads, int batch, const hant_kernel_rec *recs,
                           int n);
/* The rows of (cpu, threads, batch) in measuring order; *out is malloc'd
 * (the caller frees it), NULL with *n = 0 when there are none. */
int hant_store_kernels(hant_store *st, const char *cpu, int threads, int batch, hant_kernel_rec **out, int *n);
/* Every key the table holds, newest first; *out malloc'd as above. */
int hant_store_kernel_keys(hant_store *st, hant_kernel_key **out, int *n);

#endif
