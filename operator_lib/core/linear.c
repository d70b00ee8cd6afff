/* SPDX-License-Identifier: MIT */
/* linear.c: fully connected layers as oneDNN inner-product primitives, forward and backward. */
#include <string.h>

#include "base.h"
#include "dnnl_internal.h"
#include "ops.h"

/* Key values: batch, inputs, outputs, whether there is a bias. */
enum { K_N, K_IN, K_OUT, K_BIAS };

static void ip_key(hant__prim_key *key, hant__prim_kind kind, int n, int in, int out, bool bias) {
  hant__key_init(key, kind, (double)n * in * out);
  key->v[K_N] = n, key->v[K_IN] = in, key->v[K_OUT] = out, key->v[K_BIAS] = bias;
}

typedef struct ip_mds {
  dnnl_memory_desc_t x, w, b, y;
} ip_mds;

/* x [N, in], w [out, in], b [out], y [N, out], all row-major. */
static dnnl_status_t ip_mds_init(const hant__prim_key *key, ip_mds *m) {
  int64_t xd[] = {key->v[K_N], key->v[K_IN]}, wd[] = {key->v[K_OUT], key->v[K_IN]}, bd[] = {key->v[K_OUT]};
  int64_t yd[] = {key->v[K_N], key->v[K_OUT]};
  dnnl_status_t s;
  if ((s = hant__md_plain(&m->x, 2, xd)) || (s = hant__md_plain(&m->w, 2, wd)) || (s = hant__md_plain(&m->b, 1, bd)))
    return s;
  return hant__md_plain(&m->y, 2, yd);
}

static dnnl_status_t fwd_pd(const ip_mds *m, bool bias, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                            dnnl_primitive_desc_t *pd) {
  dnnl_inner_product_desc_t d;
  dnnl_status_t s =
      dnnl_inner_product_forward_desc_init(&d, dnnl_forward_training, &m->x, &m->w, bias ? &m->b : NULL, &m->y);
  return s ? s : dnnl_primitive_desc_create(pd, &d, attr, engine, NULL);
}

static dnnl_status_t make_fwd(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                              dnnl_primitive_desc_t *pd) {
  ip_mds m;
  dnnl_status_t s = ip_mds_init(key, &m);
  return s ? s : fwd_pd(&m, key->v[K_BIAS] != 0, engine, attr, pd);
}

static dnnl_status_t make_bwd_data(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                                   dnnl_primitive_desc_t *pd) {
  ip_mds m;
  dnnl_primitive_desc_t hint = NULL;
  dnnl_inner_product_desc_t d;
  dnnl_status_t s = ip_mds_init(key, &m);
  if (!s)
    s = fwd_pd(&m, false, engine, attr, &hint);
  if (!s)
    s = dnnl_inner_product_backward_data_desc_init(&d, &m.x, &m.w, &m.y);
  if (!s)
    s = dnnl_primitive_desc_create(pd, &d, attr, engine, hint);
  if (hint)
    dnnl_primitive_desc_destroy(hint);
  return s;
}

static dnnl_status_t make_bwd_weights(const hant__prim_key *key, dnnl_engine_t engine,
                                      const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd) {
  ip_mds m;
  dnnl_primitive_desc_t hint = NULL;
  dnnl_inner_product_desc_t d;
  bool bias = key->v[K_BIAS] != 0;
  dnnl_status_t s = ip_mds_init(key, &m);
  if (!s)
    s = fwd_pd(&m, bias, engine, attr, &hint);
  if (!s)
    s = dnnl_inner_product_backward_weights_desc_init(&d, &m.x, &m.w, bias ? &m.b : NULL, &m.y);
  if (!s)
    s = dnnl_primitive_desc_create(pd, &d, attr, engine, hint);
  if (hint)
    dnnl_primitive_desc_destroy(hint);
  return s;
}

void hant_linear_forward(const float *x, int n, int in, int out,
                         const float *w, const float *b, float *y) {
  hant_arena *scratch = hant__thread_arena();
  hant__prim_key key;
  ip_key(&key, HANT__PRIM_IP_FWD, n, in, out, b != NULL);
  hant__arg args[] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}, {DNNL_ARG_BIAS, b}};
  int rc = hant__prim_run(&key, make_fwd, args, b ? 4 : 3, scratch);
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}

void hant_linear_backward(const float *x, const float *dy, int n, int in,
                          int out, const float *w, float *dx, float *dw,
                          float *db) {
  hant_arena *scratch = hant__thread_arena();
  hant__prim_key key;
  int rc = 0;
  if (dx) {
    ip_key(&key, HANT__PRIM_IP_BWD_DATA, n, in, out, false);
    hant__arg args[] = {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, dx}};
    rc = hant__prim_run(&key, make_bwd_data, args, 3, scratch);
  }
  /* oneDNN overwrites the gradients it computes; ops.h accumulates dw and
   * db, so they land in scratch first and are added. */
  size_t nw = (size_t)out * in;
  float *gw = rc ? NULL : hant_arena_floats(scratch, nw);
  float *gb = gw && db ? hant_arena_floats(scratch, (size_t)out) : NULL;
  if (!rc && (!gw || (db && !gb)))
    rc = hant__error(HANT_ENOMEM, "linear backward: no memory for %zu weight gradients", nw);
  if (!rc) {
    ip_key(&key, HANT__PRIM_IP_BWD_WEIGHTS, n, in, out, db != NULL);
    hant__arg args[] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, gw}, {DNNL_ARG_DIFF_BIAS, gb}};
    rc = hant__prim_run(&key, make_bwd_weights, args, db ? 4 : 3, scratch);
  }
  if (!rc) {
    for (size_t i = 0; i < nw; i++)
      dw[i] += gw[i];
    for (int o = 0; db && o < out; o++)
      db[o] += gb[o];
  }
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}
