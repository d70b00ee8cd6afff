/* SPDX-License-Identifier: MIT */
/* blas_internal.h: what gemm.c and svd.c share about OpenBLAS. */
#ifndef HANT_BLAS_INTERNAL_H
#define HANT_BLAS_INTERNAL_H

/* Puts OpenBLAS on one thread, once per process; call before any BLAS or
 * LAPACK routine. hant's parallelism is oneDNN's OpenMP teams and its own
 * worker threads (kernels.h), which a BLAS thread pool would oversubscribe. */
void hant__blas_init(void);

#endif
