/* SPDX-License-Identifier: MIT */
/* kernels.h: the context the operator kernels of ops.h run in: how many threads they use, and their primitive cache. */
#ifndef HANT_KERNELS_H
#define HANT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Number of hardware threads available to this process. */
int hant_cpu_count(void);

/* ---- threads ------------------------------------------------------------
 * The kernels of ops.h run on oneDNN, which splits one operator over a team
 * of OpenMP threads. There is one thread setting for the whole process:
 * every thread that calls a kernel uses the process-wide count, unless it
 * has chosen its own with hant_threads_set_local. OpenMP keeps the count per
 * calling thread, so the kernels apply the right count on each thread before
 * they run; callers never talk to OpenMP or OpenBLAS themselves. OpenBLAS,
 * which remains for hant_gemm and hant_svd only, always runs on one thread.
 *
 * Callers that run J worker threads of their own give each worker
 * cpu_count / J threads (hant_threads_set_local), so the total never exceeds
 * the core count. Results are deterministic for a given thread count; a
 * different count may change the last bits of sums that oneDNN splits
 * across threads.
 *
 * Operators too small to gain from a second thread run on one, whatever the
 * setting, so that more threads are never slower than fewer. */

/* Sets the process-wide thread count, clamped to [1, hant_cpu_count()], and
 * returns the value set. It starts at 1: OpenMP's threads keep spinning on
 * their cores for a while after each operator, so a program forms teams
 * only when it means to give those cores to the kernels (hant-distill's
 * commands and hant-bench take a --threads option). */
int hant_threads_set(int n);
/* Sets the calling thread's own count, clamped the same way; n <= 0 makes
 * the thread follow the process-wide count again. Returns the count the
 * thread now uses. */
int hant_threads_set_local(int n);
/* The count kernels called from this thread use. */
int hant_threads_get(void);

/* ---- primitive cache ----------------------------------------------------
 * Preparing a oneDNN primitive costs far more than running it on a small
 * batch, so the kernels keep every primitive they prepare, keyed by the
 * operator, its shapes and attributes, and the thread count, and reuse it:
 * a training step prepares nothing after its first pass. Prepared
 * primitives are shared by all threads. The least recently used are
 * dropped when the cache holds more than a fixed number. */
typedef struct hant_kernel_stats {
  uint64_t created; /* primitives prepared since the process started */
  uint64_t hits;    /* kernel calls that found theirs in the cache */
  size_t cached;    /* primitives held now */
} hant_kernel_stats;

void hant_kernel_stats_get(hant_kernel_stats *s);

#endif
