/* SPDX-License-Identifier: MIT */
/* gemm.c: the only file that includes cblas.h; wraps sgemm, SVD and BLAS threading. */
#include "gemm.h"

#include <cblas.h>
#include <string.h>
#include <unistd.h>

#include "hant.h"
#include "hant_config.h"

#if HANT_HAVE_LAPACKE
#include <lapacke.h>
#endif

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

int hant_svd(int m, int n, const float *a, float *u, float *s, float *vt) {
#if HANT_HAVE_LAPACKE
  int mn = m < n ? m : n;
  float *work = malloc(sizeof(float) * (size_t)m * (size_t)n);
  float *superb = malloc(sizeof(float) * (size_t)(mn > 1 ? mn : 1));
  int rc = HANT_ENOMEM;
  if (!work || !superb)
    goto out;
  memcpy(work, a, sizeof(float) * (size_t)m * (size_t)n);
  int info = LAPACKE_sgesvd(LAPACK_ROW_MAJOR, 'S', 'S', m, n, work, n, s, u,
                            mn, vt, n, superb);
  rc = info == 0 ? 0 : hant__error(HANT_EINVAL, "SVD of a %dx%d matrix did not converge (info %d)", m, n, info);
out:
  free(work);
  free(superb);
  return rc;
#else
  (void)m; (void)n; (void)a; (void)u; (void)s; (void)vt;
  return hant__error(HANT_ENOTSUP, "built without LAPACKE: SVD unavailable");
#endif
}
