/* SPDX-License-Identifier: MIT */
/* gemm.c: the only file that includes cblas.h; wraps sgemm and BLAS threading (SVD is in svd.c). */
#include "gemm.h"

#include <cblas.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

/* OpenBLAS's threading controls; declared here so we do not depend on which
 * flavour of cblas.h (netlib or OpenBLAS) the include path finds. */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

void hant_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc) {
  HANT_ASSERT(m >= 0 && n >= 0 && k >= 0);
  if (m == 0 || n == 0)
    return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
              ldb, beta, c, ldc);
}

int hant_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int hant_gemm_set_threads(int n) {
  int max = hant_cpu_count();
  if (n < 1)
    n = 1;
  if (n > max)
    n = max;
  openblas_set_num_threads(n);
  return n;
}

int hant_gemm_get_threads(void) { return openblas_get_num_threads(); }
