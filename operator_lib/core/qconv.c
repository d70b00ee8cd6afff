/* SPDX-License-Identifier: MIT */
/* qconv.c: int8 convolution (uint8 x int8 -> int32) for quantised inference: oneDNN where its sums are exact, the direct convolution (qconv_direct.c) elsewhere. */
#include "qops.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "dnnl_internal.h"
#include "qconv_direct.h"

enum { K_N, K_C, K_H, K_W, K_K, K_KH, K_KW, K_SH, K_SW, K_PH, K_PW, K_G };

/* Integer multiply-adds run several times faster than float ones, so
 * the one-thread threshold (dnnl_ctx.c) is reached at more of them. */
static double qconv_work(const hant_conv_desc *d, int n, int h, int w) {
  double macs = (double)n * d->c_out * hant_conv_out_h(d, h) * hant_conv_out_w(d, w) * (d->c_in / d->groups) *
                d->kh * d->kw;
  return macs / 4;
}

/* Source and destination channels last in the caller's own buffers (uint8
 * in, int32 out), weights in the layout oneDNN picks (packed once). No
 * bias and no output scales: the int32 sums come back untouched, for a
 * requantisation that mirrors ONNX Runtime's exactly (quant_run.c). */
static dnnl_status_t make_qconv(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                                dnnl_primitive_desc_t *pd) {
  const int64_t *v = key->v;
  hant_conv_desc d = {.c_in = (int)v[K_C], .c_out = (int)v[K_K], .kh = (int)v[K_KH], .kw = (int)v[K_KW],
                      .sh = (int)v[K_SH], .sw = (int)v[K_SW], .ph = (int)v[K_PH], .pw = (int)v[K_PW],
                      .groups = (int)v[K_G]};
  dnnl_dims_t xd = {v[K_N], v[K_C], v[K_H], v[K_W]};
  dnnl_dims_t yd = {v[K_N], v[K_K], hant_conv_out_h(&d, (int)v[K_H]), hant_conv_out_w(&d, (int)v[K_W])};
  dnnl_dims_t wd1 = {v[K_K], v[K_C], v[K_KH], v[K_KW]};
  dnnl_dims_t wdg = {v[K_G], v[K_K] / v[K_G], v[K_C] / v[K_G], v[K_KH], v[K_KW]};
  dnnl_dims_t strides = {d.sh, d.sw}, pad = {d.ph, d.pw};
  dnnl_memory_desc_t x, y, w;
  dnnl_convolution_desc_t cd;
  dnnl_status_t s = dnnl_memory_desc_init_by_tag(&x, 4, xd, dnnl_u8, dnnl_nhwc);
  if (!s)
    s = dnnl_memory_desc_init_by_tag(&y, 4, yd, dnnl_s32, dnnl_nhwc);
  if (!s)
    s = dnnl_memory_desc_init_by_tag(&w, d.groups == 1 ? 4 : 5, d.groups == 1 ? wd1 : wdg, dnnl_s8,
                                     dnnl_format_tag_any);
  if (!s)
    s = dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &x, &w, NULL, &y,
                                           strides, pad, pad);
  return s ? s : dnnl_primitive_desc_create(pd, &cd, attr, engine, NULL);
}

struct hant_qconv_packed {
  hant__prim *prim;       /* held until free; NULL where the direct convolution runs */
  int threads;            /* the team size prim was prepared for */
  void *wt;               /* weights in prim's layout */
  hant__qdirect *direct;  /* the direct convolution, where oneDNN's sums would not be exact */
};

/* Whether oneDNN's int8 convolutions give the exact sums here. With VNNI
 * (vpdpbusd) each uint8 x int8 product is added straight into int32.
 * Without it, oneDNN adds products in pairs into int16 first (vpmaddubsw),
 * which saturates when activations and weights are both large (2 x 255 x
 * 127 > 32767), so its sums are not the exact ones of the QDQ model's
 * arithmetic. The ISA values carry VNNI as bit 0x40 (AVX-512) or 0x400
 * (AVX2). Without VNNI the direct convolution runs instead. */
static bool dnnl_int8_exact(void) {
  dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  return (isa & 0x40) || (isa & 0x400);
}

int hant_qconv_pack(const hant_conv_desc *d, int n, int h, int w, const int8_t *wt, hant_qconv_packed **out) {
  *out = NULL;
  int rc = hant_conv_check(d, h, w);
  if (rc)
    return rc;
  hant_qconv_packed *pk = calloc(1, sizeof(*pk));
  if (!pk)
    return hant__error(HANT_ENOMEM, "int8 conv: no memory for packed weights");
  if (!dnnl_int8_exact()) {
    if ((rc = hant__qdirect_pack(d, n, h, w, wt, HANT__QDIRECT_FASTEST, &pk->direct))) {
      free(pk);
      return rc;
    }
    *out = pk;
    return 0;
  }
  hant__prim_key key;
  hant__key_init(&key, HANT__PRIM_QCONV_INFER, qconv_work(d, n, h, w));
  int64_t v[] = {n, d->c_in, h, w, d->c_out, d->kh, d->kw, d->sh, d->sw, d->ph, d->pw, d->groups};
  memcpy(key.v, v, sizeof(v));
  pk->threads = key.threads;
  if ((rc = hant__prim_get(&key, make_qconv, &pk->prim)) ||
      (rc = hant__prim_pack(pk->prim, DNNL_ARG_WEIGHTS, wt, &pk->wt))) {
    hant_qconv_packed_free(pk);
    return rc;
  }
  *out = pk;
  return 0;
}

int hant_qconv_packed_forward(const hant_qconv_packed *pk, const uint8_t *x, int32_t *acc, hant_arena *scratch) {
  if (pk->direct)
    return hant__qdirect_run(pk->direct, x, acc, scratch);
  hant__threads_apply(pk->threads);
  hant__arg args[] = {{DNNL_ARG_SRC | HANT__NATIVE, x},
                      {DNNL_ARG_WEIGHTS | HANT__NATIVE, pk->wt},
                      {DNNL_ARG_DST | HANT__NATIVE, acc}};
  return hant__prim_exec(pk->prim, args, 3, scratch);
}

void hant_qconv_packed_free(hant_qconv_packed *pk) {
  if (!pk)
    return;
  if (pk->prim)
    hant__prim_release(pk->prim);
  hant__qdirect_free(pk->direct);
  free(pk->wt);
  free(pk);
}
