/* SPDX-License-Identifier: MIT */
/* pooling.c: max, average and global average pooling, forward and backward, as oneDNN pooling primitives. */
#include <string.h>

#include "base.h"
#include "dnnl_internal.h"
#include "ops.h"

/* Key values: oneDNN's algorithm, batch, channels, the number of spatial
 * dimensions (2, or 1 for global pooling over H*W), the input's extent in
 * each, the window, the stride and the padding (the same on both axes and
 * both sides). */
enum { K_ALG, K_N, K_C, K_DIMS, K_H, K_W, K_K_H, K_K_W, K_S, K_P, K_CEIL };

/* Output extent of one spatial axis, as hant_pool_out. */
static int64_t extent(int64_t n, int64_t k, int64_t s, int64_t p, int64_t ceil_mode) {
  hant_pool_desc d = {.k = (int)k, .s = (int)s, .p = (int)p, .ceil_mode = ceil_mode != 0};
  return hant_pool_out(&d, (int)n);
}

static void pool_key(hant__prim_key *key, hant__prim_kind kind, dnnl_alg_kind_t alg, int n, int c, int dims, int h,
                     int w, int kh, int kw, int s, int p, bool ceil_mode) {
  int64_t ho = extent(h, kh, s, p, ceil_mode), wo = extent(w, kw, s, p, ceil_mode);
  hant__key_init(key, kind, (double)n * c * ho * wo * kh * kw);
  int64_t v[] = {alg, n, c, dims, h, w, kh, kw, s, p, ceil_mode};
  memcpy(key->v, v, sizeof(v));
}

typedef struct pool_mds {
  dnnl_memory_desc_t x, y;
  dnnl_dims_t kernel, strides, dilation, pad, pad_r;
} pool_mds;

static dnnl_status_t pool_fwd_desc(const hant__prim_key *key, pool_mds *m, dnnl_pooling_v2_desc_t *d) {
  const int64_t *v = key->v;
  int dims = (int)v[K_DIMS];
  int64_t ho = extent(v[K_H], v[K_K_H], v[K_S], v[K_P], v[K_CEIL]),
          wo = extent(v[K_W], v[K_K_W], v[K_S], v[K_P], v[K_CEIL]);
  int64_t xd[] = {v[K_N], v[K_C], v[K_H], v[K_W]}, yd[] = {v[K_N], v[K_C], ho, wo};
  dnnl_status_t s;
  if ((s = hant__md_act(&m->x, 2 + dims, xd)) || (s = hant__md_act(&m->y, 2 + dims, yd)))
    return s;
  for (int i = 0; i < dims; i++) {
    m->kernel[i] = i ? v[K_K_W] : v[K_K_H];
    m->strides[i] = v[K_S];
    m->dilation[i] = 0;
    /* oneDNN's right padding may leave rows that do not fill a window
     * unused, as ops.h's rounding down of the output size does. */
    m->pad[i] = v[K_P];
    /* Rounding up (ceil mode) needs more padding on the right: as much as
     * the last window hangs over, which max pooling never picks. */
    int64_t in = i ? v[K_W] : v[K_H], out = i ? wo : ho;
    int64_t over = (out - 1) * v[K_S] + m->kernel[i] - in - v[K_P];
    m->pad_r[i] = over > v[K_P] ? over : v[K_P];
  }
  return dnnl_pooling_v2_forward_desc_init(d, dnnl_forward_training, (dnnl_alg_kind_t)v[K_ALG], &m->x, &m->y,
                                           m->strides, m->kernel, m->dilation, m->pad, m->pad_r);
}

static dnnl_status_t make_fwd(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                              dnnl_primitive_desc_t *pd) {
  pool_mds m;
  dnnl_pooling_v2_desc_t d;
  dnnl_status_t s = pool_fwd_desc(key, &m, &d);
  return s ? s : dnnl_primitive_desc_create(pd, &d, attr, engine, NULL);
}

static dnnl_status_t make_bwd(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                              dnnl_primitive_desc_t *pd) {
  pool_mds m;
  dnnl_pooling_v2_desc_t fd, bd;
  dnnl_primitive_desc_t hint = NULL;
  dnnl_status_t s = pool_fwd_desc(key, &m, &fd);
  if (!s)
    s = dnnl_primitive_desc_create(&hint, &fd, attr, engine, NULL);
  if (!s)
    s = dnnl_pooling_v2_backward_desc_init(&bd, (dnnl_alg_kind_t)key->v[K_ALG], &m.x, &m.y, m.strides, m.kernel,
                                           m.dilation, m.pad, m.pad_r);
  if (!s)
    s = dnnl_primitive_desc_create(pd, &bd, attr, engine, hint);
  if (hint)
    dnnl_primitive_desc_destroy(hint);
  return s;
}

/* ---- max pooling -------------------------------------------------------------
 * oneDNN records each window's argmax in a workspace as the offset within
 * the window, ki * k + kj, one byte or one int per output in the output's
 * layout. ops.h's idx holds the position within the input plane instead,
 * ih * W + iw, so the kernels translate between the two. */

/* Takes the workspace of p from the arena after checking that it is the
 * dense array of u8 or s32 described above, channels last as the output;
 * *bytes is its element size. */
static int ws_prepare(const hant__prim *p, hant_arena *scratch, int n, int c, int ho, int wo, const char *what,
                      void **ws, int *bytes) {
  const dnnl_memory_desc_t *md = hant__prim_arg_md(p, DNNL_ARG_WORKSPACE);
  dnnl_memory_desc_t plain;
  dnnl_dims_t d = {n, c, ho, wo};
  if ((md->data_type != dnnl_u8 && md->data_type != dnnl_s32) ||
      dnnl_memory_desc_init_by_tag(&plain, 4, d, md->data_type, dnnl_acdb) || !dnnl_memory_desc_equal(&plain, md))
    return hant__error(HANT_ENOTSUP, "%s: oneDNN's workspace is not a plain array of window offsets", what);
  *bytes = md->data_type == dnnl_u8 ? 1 : 4;
  if (!(*ws = hant_arena_alloc(scratch, (size_t)n * c * ho * wo * *bytes)))
    return hant__error(HANT_ENOMEM, "%s: no memory for its workspace", what);
  return 0;
}

static int ws_get(const void *ws, int bytes, size_t j) {
  return bytes == 1 ? ((const uint8_t *)ws)[j] : ((const int32_t *)ws)[j];
}

/* Windows lie partly outside the input only through padding, and 2p <= k
 * (which networks require) leaves every window at least one input; a window
 * with none gets idx -1 and output 0, as ops.h says. */
void hant_maxpool_forward(const hant_pool_desc *d, const float *x, int n,
                          int c, int h, int w, float *y, int *idx) {
  int ho = hant_pool_out(d, h), wo = hant_pool_out(d, w);
  hant_arena *scratch = hant__thread_arena();
  hant__prim_key key;
  pool_key(&key, HANT__PRIM_POOL_FWD, dnnl_pooling_max, n, c, 2, h, w, d->k, d->k, d->s, d->p, d->ceil_mode);
  hant__prim *p;
  int rc = hant__prim_get(&key, make_fwd, &p);
  HANT__KERNEL_OK(rc);
  void *ws = NULL;
  int bytes = 0;
  rc = ws_prepare(p, scratch, n, c, ho, wo, "maxpool", &ws, &bytes);
  hant__arg args[] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}, {DNNL_ARG_WORKSPACE, ws}};
  if (!rc)
    rc = hant__prim_exec(p, args, 3, scratch);
  hant__prim_release(p);
  for (size_t pix = 0; !rc && pix < (size_t)n * ho * wo; pix++)
    for (int ch = 0; ch < c; ch++) {
      int oh = (int)(pix / (size_t)wo % (size_t)ho), ow = (int)(pix % (size_t)wo);
      size_t j = pix * (size_t)c + (size_t)ch;
        int v = ws_get(ws, bytes, j);
        int ih = oh * d->s - d->p + v / d->k, iw = ow * d->s - d->p + v % d->k;
        bool inside = ih >= 0 && ih < h && iw >= 0 && iw < w;
        idx[j] = inside ? ih * w + iw : -1;
        if (!inside)
          y[j] = 0.0f;
      }
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}

void hant_maxpool_backward(const hant_pool_desc *d, const float *dy,
                           const int *idx, int n, int c, int h, int w,
                           float *dx) {
  int ho = hant_pool_out(d, h), wo = hant_pool_out(d, w);
  hant_arena *scratch = hant__thread_arena();
  hant__prim_key key;
  pool_key(&key, HANT__PRIM_POOL_BWD, dnnl_pooling_max, n, c, 2, h, w, d->k, d->k, d->s, d->p, d->ceil_mode);
  hant__prim *p;
  int rc = hant__prim_get(&key, make_bwd, &p);
  HANT__KERNEL_OK(rc);
  void *ws = NULL;
  int bytes = 0;
  rc = ws_prepare(p, scratch, n, c, ho, wo, "maxpool backward", &ws, &bytes);
  for (size_t pix = 0; !rc && pix < (size_t)n * ho * wo; pix++)
    for (int ch = 0; ch < c; ch++) {
      int oh = (int)(pix / (size_t)wo % (size_t)ho), ow = (int)(pix % (size_t)wo);
      size_t j = pix * (size_t)c + (size_t)ch;
        /* A window with no input (idx -1, only when 2p > k) gets its
         * first tap, which lies in the padding: oneDNN drops a gradient
         * there, so the window passes none, as ops.h says. */
        int v = idx[j] < 0 ? 0 : (idx[j] / w - (oh * d->s - d->p)) * d->k + idx[j] % w - (ow * d->s - d->p);
        if (bytes == 1)
          ((uint8_t *)ws)[j] = (uint8_t)v;
        else
          ((int32_t *)ws)[j] = v;
      }
  hant__arg args[] = {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WORKSPACE, ws}, {DNNL_ARG_DIFF_SRC, dx}};
  if (!rc)
    rc = hant__prim_exec(p, args, 3, scratch);
  hant__prim_release(p);
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}

/* ---- average pooling ----------------------------------------------------------- */

static dnnl_alg_kind_t avg_alg(const hant_pool_desc *d) {
  return d->count_include_pad ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
}

/* Runs a pooling primitive that needs no workspace; forward or backward. */
static void pool_run(hant__prim_kind kind, dnnl_alg_kind_t alg, int n, int c, int dims, int h, int w, int kh,
                     int kw, int s, int p, const float *in, float *out) {
  hant_arena *scratch = hant__thread_arena();
  hant__prim_key key;
  pool_key(&key, kind, alg, n, c, dims, h, w, kh, kw, s, p, false); /* average pools round down */
  bool fwd = kind == HANT__PRIM_POOL_FWD;
  hant__arg args[] = {{fwd ? DNNL_ARG_SRC : DNNL_ARG_DIFF_DST, in}, {fwd ? DNNL_ARG_DST : DNNL_ARG_DIFF_SRC, out}};
  int rc = hant__prim_run(&key, fwd ? make_fwd : make_bwd, args, 2, scratch);
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}

void hant_avgpool_forward(const hant_pool_desc *d, const float *x, int n,
                          int c, int h, int w, float *y) {
  pool_run(HANT__PRIM_POOL_FWD, avg_alg(d), n, c, 2, h, w, d->k, d->k, d->s, d->p, x, y);
}

void hant_avgpool_backward(const hant_pool_desc *d, const float *dy, int n,
                           int c, int h, int w, float *dx) {
  pool_run(HANT__PRIM_POOL_BWD, avg_alg(d), n, c, 2, h, w, d->k, d->k, d->s, d->p, dy, dx);
}

/* Global average pooling is one window over the H*W values of each plane,
 * seen as a 1-D signal. */
void hant_gap_forward(const float *x, int n, int c, int hw, float *y) {
  pool_run(HANT__PRIM_POOL_FWD, dnnl_pooling_avg_include_padding, n, c, 1, hw, 1, hw, 1, 1, 0, x, y);
}

void hant_gap_backward(const float *dy, int n, int c, int hw, float *dx) {
  pool_run(HANT__PRIM_POOL_BWD, dnnl_pooling_avg_include_padding, n, c, 1, hw, 1, hw, 1, 1, 0, dy, dx);
}
