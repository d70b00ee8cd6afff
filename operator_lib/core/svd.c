/* SPDX-License-Identifier: MIT */
/* svd.c: singular value decomposition through LAPACKE, kept out of the numeric core so hant-bench needs no LAPACK. */
#include <string.h>

#include "svd.h"
#include "base.h"
#include "blas_internal.h"
#include "hant_config.h"

#if HANT_HAVE_LAPACKE
#include <lapacke.h>
#endif

int hant_svd(int m, int n, const float *a, float *u, float *s, float *vt) {
#if HANT_HAVE_LAPACKE
  int mn = m < n ? m : n;
  float *work = malloc(sizeof(float) * (size_t)m * (size_t)n);
  float *superb = malloc(sizeof(float) * (size_t)(mn > 1 ? mn : 1));
  int rc = HANT_ENOMEM;
  if (!work || !superb)
    goto out;
  memcpy(work, a, sizeof(float) * (size_t)m * (size_t)n);
  hant__blas_init();
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
