/* SPDX-License-Identifier: MIT */
/* conv.c: 2-D convolution, forward and backward, as oneDNN convolution primitives on plain NCHW/OIHW buffers. */
#include <string.h>

#include "base.h"
#include "dnnl_internal.h"
#include "ops.h"

int hant_conv_check(const hant_conv_desc *d, int h, int w) {
  if (d->c_in <= 0 || d->c_out <= 0 || d->groups <= 0)
    return hant__error(HANT_EINVAL, "conv: channels %d->%d and groups %d must be positive", d->c_in, d->c_out, d->groups);
  if (d->c_in % d->groups || d->c_out % d->groups)
    return hant__error(HANT_EINVAL, "conv: groups %d must divide channels %d and %d", d->groups, d->c_in, d->c_out);
  if (d->kh <= 0 || d->kw <= 0 || d->sh <= 0 || d->sw <= 0 || d->ph < 0 || d->pw < 0)
    return hant__error(HANT_EINVAL, "conv: kernel %dx%d, stride %dx%d, padding %dx%d invalid", d->kh, d->kw, d->sh, d->sw, d->ph, d->pw);
  if (h + 2 * d->ph < d->kh || w + 2 * d->pw < d->kw)
    return hant__error(HANT_EINVAL, "conv: kernel %dx%d larger than padded input %dx%d", d->kh, d->kw, h + 2 * d->ph, w + 2 * d->pw);
  return 0;
}

/* Key values: the batch, the input, the description, whether there is a
 * bias, and for an inference primitive its post-ops: a residual sum, an
 * activation (hant_act). */
enum { K_N, K_C, K_H, K_W, K_K, K_KH, K_KW, K_SH, K_SW, K_PH, K_PW, K_G, K_BIAS, K_SUM, K_ACT };

/* Work toward the one-thread threshold (dnnl_ctx.c), in multiply-adds of
 * a kxk convolution. A multiply-add of a 1x1 convolution (one plain GEMM)
 * or of a depthwise one (streamed through memory) takes far less time, so
 * it counts for less: measured at batch 1, a second thread starts to pay
 * at about 0.1M multiply-adds for 3x3 convolutions, 2M for 1x1 ones, and
 * not below 0.5M for depthwise ones. */
static double conv_work(const hant_conv_desc *d, int n, int h, int w) {
  double macs = (double)n * d->c_out * hant_conv_out_h(d, h) * hant_conv_out_w(d, w) * (d->c_in / d->groups) *
                d->kh * d->kw;
  if (d->groups > 1 && d->groups == d->c_in && d->groups == d->c_out)
    return macs / 16;
  return d->kh * d->kw == 1 ? macs / 32 : macs;
}

static void conv_key(hant__prim_key *key, hant__prim_kind kind, const hant_conv_desc *d, int n, int h, int w,
                     bool bias) {
  hant__key_init(key, kind, conv_work(d, n, h, w));
  int64_t v[] = {n, d->c_in, h, w, d->c_out, d->kh, d->kw, d->sh, d->sw, d->ph, d->pw, d->groups, bias};
  memcpy(key->v, v, sizeof(v));
}

typedef struct conv_mds {
  dnnl_memory_desc_t x, w, b, y;
  dnnl_dims_t strides, pad_l, pad_r;
} conv_mds;

/* x and y channels last (nhwc), as every activation; the weights are
 * ops.h's oihw or, with groups, goihw [g, K/g, C/g, kh, kw] (the same
 * bytes as [K, C/g, kh, kw]), but the primitive picks the weights' layout
 * it runs fastest on and hant__prim_exec reorders them into it, a small
 * copy beside the convolution. On plain nchw activations oneDNN would run
 * a GEMM over an im2col copy, two to four times slower than its direct
 * channels-last kernels on this network's shapes. */
static dnnl_status_t conv_mds_init(const hant__prim_key *key, conv_mds *m) {
  const int64_t *v = key->v;
  hant_conv_desc d = {.c_in = (int)v[K_C], .c_out = (int)v[K_K], .kh = (int)v[K_KH], .kw = (int)v[K_KW],
                      .sh = (int)v[K_SH], .sw = (int)v[K_SW], .ph = (int)v[K_PH], .pw = (int)v[K_PW],
                      .groups = (int)v[K_G]};
  int64_t ho = hant_conv_out_h(&d, (int)v[K_H]), wo = hant_conv_out_w(&d, (int)v[K_W]);
  int64_t xd[] = {v[K_N], v[K_C], v[K_H], v[K_W]}, yd[] = {v[K_N], v[K_K], ho, wo}, bd[] = {v[K_K]};
  int64_t wd1[] = {v[K_K], v[K_C], v[K_KH], v[K_KW]};
  int64_t wdg[] = {v[K_G], v[K_K] / v[K_G], v[K_C] / v[K_G], v[K_KH], v[K_KW]};
  dnnl_status_t s;
  if ((s = hant__md_act(&m->x, 4, xd)) || (s = hant__md_act(&m->y, 4, yd)) || (s = hant__md_plain(&m->b, 1, bd)))
    return s;
  dnnl_dims_t dw;
  int wn = v[K_G] == 1 ? 4 : 5;
  memcpy(dw, wn == 4 ? wd1 : wdg, sizeof(int64_t) * (size_t)wn);
  if ((s = dnnl_memory_desc_init_by_tag(&m->w, wn, dw, dnnl_f32, dnnl_format_tag_any)))
    return s;
  /* The right padding is the left one: oneDNN rounds the output size down
   * as ops.h does, leaving any last rows that do not fill a window. */
  m->strides[0] = d.sh, m->strides[1] = d.sw;
  m->pad_l[0] = m->pad_r[0] = d.ph;
  m->pad_l[1] = m->pad_r[1] = d.pw;
  return dnnl_success;
}

static dnnl_status_t fwd_pd_prop(const conv_mds *m, bool bias, dnnl_prop_kind_t prop, dnnl_engine_t engine,
                                 const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd) {
  dnnl_convolution_desc_t cd;
  dnnl_status_t s = dnnl_convolution_forward_desc_init(&cd, prop, dnnl_convolution_direct, &m->x, &m->w,
                                                       bias ? &m->b : NULL, &m->y, m->strides, m->pad_l, m->pad_r);
  return s ? s : dnnl_primitive_desc_create(pd, &cd, attr, engine, NULL);
}

/* Training and inference share the forward primitive of hant_conv_forward,
 * so that a network's eval-mode outputs equal those of its training-mode
 * pass. */
static dnnl_status_t fwd_pd(const conv_mds *m, bool bias, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                            dnnl_primitive_desc_t *pd) {
  return fwd_pd_prop(m, bias, dnnl_forward_training, engine, attr, pd);
}

/* The inference primitive: the sum post-op adds what the destination held
 * (the residual) before the activation post-op, as a residual block adds
 * its shortcut before its last activation. */
static dnnl_status_t make_infer(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                                dnnl_primitive_desc_t *pd) {
  conv_mds m;
  dnnl_primitive_attr_t a = NULL;
  dnnl_post_ops_t po = NULL;
  dnnl_status_t s = conv_mds_init(key, &m);
  if (!s)
    s = dnnl_primitive_attr_clone(&a, attr);
  if (!s)
    s = dnnl_post_ops_create(&po);
  if (!s && key->v[K_SUM])
    s = dnnl_post_ops_append_sum(po, 1.0f);
  if (!s && key->v[K_ACT] != HANT_ACT_NONE) {
    dnnl_alg_kind_t alg;
    float alpha, beta;
    hant__act_alg((hant_act)key->v[K_ACT], &alg, &alpha, &beta);
    s = dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, beta);
  }
  if (!s)
    s = dnnl_primitive_attr_set_post_ops(a, po);
  if (!s)
    s = fwd_pd_prop(&m, key->v[K_BIAS] != 0, dnnl_forward_inference, engine, a, pd);
  if (po)
    dnnl_post_ops_destroy(po);
  if (a)
    dnnl_primitive_attr_destroy(a);
  return s;
}

static dnnl_status_t make_fwd(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                              dnnl_primitive_desc_t *pd) {
  conv_mds m;
  dnnl_status_t s = conv_mds_init(key, &m);
  return s ? s : fwd_pd(&m, key->v[K_BIAS] != 0, engine, attr, pd);
}

static dnnl_status_t make_bwd_data(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                                   dnnl_primitive_desc_t *pd) {
  conv_mds m;
  dnnl_primitive_desc_t hint = NULL;
  dnnl_convolution_desc_t cd;
  dnnl_status_t s = conv_mds_init(key, &m);
  if (!s)
    s = fwd_pd(&m, false, engine, attr, &hint);
  if (!s)
    s = dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &m.x, &m.w, &m.y, m.strides, m.pad_l,
                                                 m.pad_r);
  if (!s)
    s = dnnl_primitive_desc_create(pd, &cd, attr, engine, hint);
  if (hint)
    dnnl_primitive_desc_destroy(hint);
  return s;
}

static dnnl_status_t make_bwd_weights(const hant__prim_key *key, dnnl_engine_t engine,
                                      const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd) {
  conv_mds m;
  dnnl_primitive_desc_t hint = NULL;
  dnnl_convolution_desc_t cd;
  bool bias = key->v[K_BIAS] != 0;
  dnnl_status_t s = conv_mds_init(key, &m);
  if (!s)
    s = fwd_pd(&m, bias, engine, attr, &hint);
  if (!s)
    s = dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &m.x, &m.w, bias ? &m.b : NULL,
                                                    &m.y, m.strides, m.pad_l, m.pad_r);
  if (!s)
    s = dnnl_primitive_desc_create(pd, &cd, attr, engine, hint);
  if (hint)
    dnnl_primitive_desc_destroy(hint);
  return s;
}

int hant_conv_forward(const hant_conv_desc *d, const float *x, int n, int h,
                      int w, const float *wt, const float *bias, float *y,
                      hant_arena *scratch) {
  int rc = hant_conv_check(d, h, w);
  if (rc)
    return rc;
  hant__prim_key key;
  conv_key(&key, HANT__PRIM_CONV_FWD, d, n, h, w, bias != NULL);
  hant__arg args[] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, wt}, {DNNL_ARG_DST, y}, {DNNL_ARG_BIAS, bias}};
  return hant__prim_run(&key, make_fwd, args, bias ? 4 : 3, scratch);
}

int hant_conv_backward(const hant_conv_desc *d, const float *x, int n, int h,
                       int w, const float *wt, const float *dy, float *dx,
                       float *dwt, float *db, hant_arena *scratch) {
  int rc = hant_conv_check(d, h, w);
  if (rc)
    return rc;
  hant__prim_key key;
  if (dx) {
    conv_key(&key, HANT__PRIM_CONV_BWD_DATA, d, n, h, w, false);
    hant__arg args[] = {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, wt}, {DNNL_ARG_DIFF_SRC, dx}};
    if ((rc = hant__prim_run(&key, make_bwd_data, args, 3, scratch)))
      return rc;
  }
  /* oneDNN overwrites the weight and bias gradients; ops.h accumulates
   * them, so they land in scratch first and are added. */
  size_t nw = (size_t)d->c_out * (d->c_in / d->groups) * d->kh * d->kw;
  float *gw = hant_arena_floats(scratch, nw);
  float *gb = db ? hant_arena_floats(scratch, (size_t)d->c_out) : NULL;
  if (!gw || (db && !gb))
    return hant__error(HANT_ENOMEM, "conv backward: no memory for %zu weight gradients", nw);
  conv_key(&key, HANT__PRIM_CONV_BWD_WEIGHTS, d, n, h, w, db != NULL);
  hant__arg args[] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, gw}, {DNNL_ARG_DIFF_BIAS, gb}};
  if ((rc = hant__prim_run(&key, make_bwd_weights, args, db ? 4 : 3, scratch)))
    return rc;
  for (size_t i = 0; i < nw; i++)
    dwt[i] += gw[i];
  for (int k = 0; db && k < d->c_out; k++)
    db[k] += gb[k];
  return 0;
}

/* ---- inference with packed weights ---------------------------------------- */

struct hant_conv_packed {
  hant__prim *prim; /* held until free */
  int threads;      /* the team size prim was prepared for */
  void *wt;         /* weights in prim's layout */
  float *bias;      /* [K] or NULL */
  bool sum;
};

int hant_conv_pack(const hant_conv_desc *d, int n, int h, int w, const float *wt, const float *bias,
                   const hant_conv_post *post, hant_conv_packed **out) {
  *out = NULL;
  int rc = hant_conv_check(d, h, w);
  if (rc)
    return rc;
  if (post->act < HANT_ACT_NONE || post->act >= HANT_ACT_COUNT)
    return hant__error(HANT_EINVAL, "conv: activation %d after the convolution is unknown", (int)post->act);
  if (post->act == HANT_ACT_HSIGMOID) /* no oneDNN algorithm to run it as a post-op (activation.c) */
    return hant__error(HANT_EINVAL, "conv: hard-sigmoid cannot be fused after a packed convolution");
  hant_conv_packed *pk = calloc(1, sizeof(*pk));
  if (!pk)
    return hant__error(HANT_ENOMEM, "conv: no memory for packed weights");
  hant__prim_key key;
  conv_key(&key, HANT__PRIM_CONV_INFER, d, n, h, w, bias != NULL);
  key.v[K_SUM] = post->sum;
  key.v[K_ACT] = post->act;
  pk->threads = key.threads;
  pk->sum = post->sum;
  if ((rc = hant__prim_get(&key, make_infer, &pk->prim)) ||
      (rc = hant__prim_pack(pk->prim, DNNL_ARG_WEIGHTS, wt, &pk->wt))) {
    hant_conv_packed_free(pk);
    return rc;
  }
  if (bias) {
    if (!(pk->bias = malloc(sizeof(float) * (size_t)d->c_out))) {
      hant_conv_packed_free(pk);
      return hant__error(HANT_ENOMEM, "conv: no memory for packed weights");
    }
    memcpy(pk->bias, bias, sizeof(float) * (size_t)d->c_out);
  }
  *out = pk;
  return 0;
}

int hant_conv_packed_forward(const hant_conv_packed *pk, const float *x, float *y, hant_arena *scratch) {
  hant__threads_apply(pk->threads);
  hant__arg args[] = {{DNNL_ARG_SRC, x},
                      {DNNL_ARG_WEIGHTS | HANT__NATIVE, pk->wt},
                      {DNNL_ARG_DST, y},
                      {DNNL_ARG_BIAS, pk->bias}};
  return hant__prim_exec(pk->prim, args, pk->bias ? 4 : 3, scratch);
}

void hant_conv_packed_free(hant_conv_packed *pk) {
  if (!pk)
    return;
  hant__prim_release(pk->prim);
  free(pk->wt);
  free(pk->bias);
  free(pk);
}
