/* SPDX-License-Identifier: MIT */
/* gemm.h: the single door to BLAS for plain matrix products; the operator kernels of ops.h run on oneDNN instead. */
#ifndef HANT_GEMM_H
#define HANT_GEMM_H

#include <stdbool.h>

/* C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, where op(A) is
 * [M,K] (A^T when trans_a) and op(B) is [K,N]. Leading dimensions are in
 * elements. Every plain matrix product in hant goes through here. BLAS runs
 * on one thread: hant's threads are set in kernels.h. */
void hant_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc);

#endif
