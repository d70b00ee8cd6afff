/* SPDX-License-Identifier: MIT */
/* channels.c: concatenation, slicing and shuffling of channels, forward and backward, on channels-last buffers. */
#include <string.h>

#include "dnnl_internal.h"
#include "ops.h"

/* Channels last puts one pixel's channels side by side, so every op here
 * is a run of copies per pixel; there is nothing to compute. The forward
 * concatenation runs as oneDNN's concat primitive; the rest, which oneDNN
 * has no primitive for, are copies here. */

/* Key values of a concat: batch, the two inputs' channels, H*W. */
enum { K_N, K_CA, K_CB, K_HW };

static dnnl_status_t make_concat(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                                 dnnl_primitive_desc_t *pd) {
  const int64_t *v = key->v;
  int64_t da[] = {v[K_N], v[K_CA], v[K_HW], 1}, db[] = {v[K_N], v[K_CB], v[K_HW], 1},
          dy[] = {v[K_N], v[K_CA] + v[K_CB], v[K_HW], 1};
  dnnl_memory_desc_t src[2], dst;
  dnnl_status_t s;
  if ((s = hant__md_act(&src[0], 4, da)) || (s = hant__md_act(&src[1], 4, db)) || (s = hant__md_act(&dst, 4, dy)))
    return s;
  return dnnl_concat_primitive_desc_create(pd, &dst, 2, 1, src, attr, engine);
}

void hant_concat_forward(const float *a, int ca, const float *b, int cb, int n, int hw, float *y) {
  hant_arena *scratch = hant__thread_arena();
  hant__prim_key key;
  hant__key_init(&key, HANT__PRIM_CONCAT, (double)n * hw * (ca + cb));
  key.v[K_N] = n, key.v[K_CA] = ca, key.v[K_CB] = cb, key.v[K_HW] = hw;
  hant__arg args[] = {{DNNL_ARG_MULTIPLE_SRC, a}, {DNNL_ARG_MULTIPLE_SRC + 1, b}, {DNNL_ARG_DST, y}};
  int rc = hant__prim_run(&key, make_concat, args, 3, scratch);
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}

void hant_concat_backward(const float *dy, int ca, int cb, int n, int hw, float *da, float *db) {
  size_t px = (size_t)n * hw;
  int c = ca + cb;
  for (size_t p = 0; p < px; p++) {
    if (da)
      memcpy(da + p * ca, dy + p * c, sizeof(float) * (size_t)ca);
    if (db)
      memcpy(db + p * cb, dy + p * c + ca, sizeof(float) * (size_t)cb);
  }
}

void hant_chslice_forward(const float *x, int c, int first, int cy, int n, int hw, float *y) {
  size_t px = (size_t)n * hw;
  for (size_t p = 0; p < px; p++)
    memcpy(y + p * cy, x + p * c + first, sizeof(float) * (size_t)cy);
}

void hant_chslice_backward(const float *dy, int c, int first, int cy, int n, int hw, float *dx) {
  size_t px = (size_t)n * hw;
  memset(dx, 0, sizeof(float) * px * (size_t)c);
  for (size_t p = 0; p < px; p++)
    memcpy(dx + p * c + first, dy + p * cy, sizeof(float) * (size_t)cy);
}

void hant_shuffle_forward(const float *x, int c, int groups, int n, int hw, float *y) {
  size_t px = (size_t)n * hw;
  int per = c / groups;
  for (size_t p = 0; p < px; p++) {
    const float *xp = x + p * c;
    float *yp = y + p * c;
    for (int i = 0; i < groups; i++)
      for (int j = 0; j < per; j++)
        yp[j * groups + i] = xp[i * per + j];
  }
}

void hant_shuffle_backward(const float *dy, int c, int groups, int n, int hw, float *dx) {
  size_t px = (size_t)n * hw;
  int per = c / groups;
  for (size_t p = 0; p < px; p++) {
    const float *gp = dy + p * c;
    float *dp = dx + p * c;
    for (int i = 0; i < groups; i++)
      for (int j = 0; j < per; j++)
        dp[i * per + j] = gp[j * groups + i];
  }
}
