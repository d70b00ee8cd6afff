/* SPDX-License-Identifier: MIT */
/* gemm.c: the only file that includes cblas.h; wraps sgemm and keeps OpenBLAS on one thread (SVD is in svd.c). */
#include "gemm.h"

#include <cblas.h>
#include <pthread.h>

#include "base.h"
#include "blas_internal.h"

/* OpenBLAS's threading control; declared here so we do not depend on which
 * flavour of cblas.h (netlib or OpenBLAS) the include path finds. */
extern void openblas_set_num_threads(int num_threads);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_single_thread(void) { openblas_set_num_threads(1); }

void hant__blas_init(void) { pthread_once(&blas_once, blas_single_thread); }

void hant_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc) {
  HANT_ASSERT(m >= 0 && n >= 0 && k >= 0);
  if (m == 0 || n == 0)
    return;
  hant__blas_init();
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
              ldb, beta, c, ldc);
}
