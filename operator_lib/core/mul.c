/* SPDX-License-Identifier: MIT */
/* mul.c: element-wise multiply with a per-channel broadcast, the gate of squeeze-and-excitation, on oneDNN's binary primitive. */
#include <string.h>

#include "base.h"
#include "dnnl_internal.h"
#include "ops.h"

/* Key values: the four dimensions of a and whether b is broadcast. */
enum { K_N, K_C, K_H, K_W, K_BCAST };

static dnnl_status_t make_mul(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                              dnnl_primitive_desc_t *pd) {
  int64_t da[4] = {key->v[K_N], key->v[K_C], key->v[K_H], key->v[K_W]};
  int64_t db[4] = {da[0], da[1], key->v[K_BCAST] ? 1 : da[2], key->v[K_BCAST] ? 1 : da[3]};
  dnnl_memory_desc_t ma, mb;
  dnnl_binary_desc_t d;
  dnnl_status_t s = hant__md_act(&ma, 4, da);
  if (!s)
    s = hant__md_act(&mb, 4, db);
  if (!s)
    s = dnnl_binary_desc_init(&d, dnnl_binary_mul, &ma, &mb, &ma);
  return s ? s : dnnl_primitive_desc_create(pd, &d, attr, engine, NULL);
}

/* y = a * b on [n, c, hw] (H*W flattened into one spatial axis of hw, which
 * is the same channels-last memory), b of hw or 1 positions per plane. */
static void run_mul(const float *a, const float *b, int n, int c, int hw, int bhw, float *y) {
  if ((size_t)n * c * hw == 0)
    return;
  hant_arena *scratch = hant__thread_arena();
  hant__prim_key key;
  hant__key_init(&key, HANT__PRIM_BINARY_MUL, (double)n * c * hw);
  key.v[K_N] = n, key.v[K_C] = c, key.v[K_H] = hw, key.v[K_W] = 1, key.v[K_BCAST] = bhw == 1 && hw != 1;
  hant__arg args[] = {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, y}};
  int rc = hant__prim_run(&key, make_mul, args, 3, scratch);
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}

void hant_mul_forward(const float *a, const float *b, int n, int c, int hw, int bhw, float *y) {
  HANT_ASSERT(bhw == hw || bhw == 1);
  run_mul(a, b, n, c, hw, bhw, y);
}

void hant_mul_backward(const float *a, const float *b, const float *dy, int n, int c, int hw, int bhw, float *da,
                       float *db) {
  HANT_ASSERT(bhw == hw || bhw == 1);
  if (da)
    run_mul(dy, b, n, c, hw, bhw, da);
  if (!db)
    return;
  if (bhw == hw) {
    run_mul(dy, a, n, c, hw, hw, db);
    return;
  }
  /* The broadcast operand's gradient sums over the plane: a reduction
   * along the strided spatial axis, in double so a large plane keeps its
   * precision. */
  for (int i = 0; i < n; i++) {
    const float *pa = a + (size_t)i * c * hw, *pd = dy + (size_t)i * c * hw;
    float *out = db + (size_t)i * c;
    for (int ch = 0; ch < c; ch++) {
      double s = 0.0;
      for (int k = 0; k < hw; k++)
        s += (double)pd[(size_t)k * c + ch] * pa[(size_t)k * c + ch];
      out[ch] = (float)s;
    }
  }
}
