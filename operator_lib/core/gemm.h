/* SPDX-License-Identifier: MIT */
/* gemm.h: the single door to BLAS, and the thread budget that keeps hant from oversubscribing cores. */
#ifndef HANT_GEMM_H
#define HANT_GEMM_H

#include <stdbool.h>

/* C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, where op(A) is
 * [M,K] (A^T when trans_a) and op(B) is [K,N]. Leading dimensions are in
 * elements. Every matrix product in hant goes through here. */
void hant_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc);

/* Number of hardware threads available to this process. */
int hant_cpu_count(void);

/* Sets how many threads BLAS may use. Callers that run J worker threads of
 * their own give each worker cpu_count / J BLAS threads, so the total never
 * exceeds the core count. Returns the value actually set. */
int hant_gemm_set_threads(int n);
int hant_gemm_get_threads(void);

#endif
