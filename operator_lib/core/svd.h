/* SPDX-License-Identifier: MIT */
/* svd.h: singular value decomposition through LAPACKE, for low-rank initialisation. */
#ifndef HANT_SVD_H
#define HANT_SVD_H

/* Singular value decomposition A[m,n] = U diag(S) Vt (row-major), for
 * low-rank initialisation. u: [m, min], s: [min], vt: [min, n].
 * Returns 0 or HANT_ENOTSUP when built without LAPACKE, HANT_EINVAL if it
 * fails to converge. */
int hant_svd(int m, int n, const float *a, float *u, float *s, float *vt);

#endif
