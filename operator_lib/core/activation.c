/* SPDX-License-Identifier: MIT */
/* activation.c: ReLU, ReLU6, hard-swish, sigmoid, SiLU and hard-sigmoid, forward and backward, as oneDNN element-wise primitives. */
#include <string.h>

#include "base.h"
#include "dnnl_internal.h"
#include "ops.h"

static const char *const act_names[] = {
    [HANT_ACT_NONE] = "none",
    [HANT_ACT_RELU] = "relu",
    [HANT_ACT_RELU6] = "relu6",
    [HANT_ACT_HSWISH] = "hswish",
    [HANT_ACT_SIGMOID] = "sigmoid",
    [HANT_ACT_SILU] = "silu",
    [HANT_ACT_HSIGMOID] = "hsigmoid",
};
_Static_assert(sizeof(act_names) / sizeof(act_names[0]) == HANT_ACT_COUNT,
               "act_names must cover every activation");

const char *hant_act_name(hant_act a) {
  return (unsigned)a < HANT_ACT_COUNT ? act_names[a] : NULL;
}

hant_act hant_act_from_name(const char *s) {
  for (int i = 0; i < HANT_ACT_COUNT; i++)
    if (!strcmp(s, act_names[i]))
      return (hant_act)i;
  return HANT_ACT_COUNT;
}

/* Key values: the activation and the element count. */
enum { K_ACT, K_COUNT };

/* oneDNN's algorithm and its alpha, beta for each activation. ReLU6 is
 * clip_v2 on [0, 6], whose derivative is 1 strictly inside (0, 6) and 0 at
 * both ends, as ops.h's is; hard-swish's derivative is 0 at -3 and 1 at 3. */
void hant__act_alg(hant_act a, dnnl_alg_kind_t *alg, float *alpha, float *beta) {
  *alpha = 0.0f, *beta = 0.0f;
  switch (a) {
  case HANT_ACT_RELU: *alg = dnnl_eltwise_relu; return;
  case HANT_ACT_RELU6: *alg = dnnl_eltwise_clip_v2, *beta = 6.0f; return;
  case HANT_ACT_HSWISH: *alg = dnnl_eltwise_hardswish; return;
  case HANT_ACT_SIGMOID: *alg = dnnl_eltwise_logistic; return;
  case HANT_ACT_SILU: *alg = dnnl_eltwise_swish, *alpha = 1.0f; return;
  case HANT_ACT_HSIGMOID:
  case HANT_ACT_NONE:
  case HANT_ACT_COUNT: break;
  }
  HANT_ASSERT(!"activation without a oneDNN algorithm");
}

static dnnl_status_t fwd_desc(const hant__prim_key *key, dnnl_memory_desc_t *md, dnnl_eltwise_desc_t *d) {
  dnnl_alg_kind_t alg;
  float alpha, beta;
  hant__act_alg((hant_act)key->v[K_ACT], &alg, &alpha, &beta);
  dnnl_status_t s = hant__md_plain(md, 1, &key->v[K_COUNT]);
  return s ? s : dnnl_eltwise_forward_desc_init(d, dnnl_forward_training, alg, md, alpha, beta);
}

static dnnl_status_t make_fwd(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                              dnnl_primitive_desc_t *pd) {
  dnnl_memory_desc_t md;
  dnnl_eltwise_desc_t d;
  dnnl_status_t s = fwd_desc(key, &md, &d);
  return s ? s : dnnl_primitive_desc_create(pd, &d, attr, engine, NULL);
}

static dnnl_status_t make_bwd(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                              dnnl_primitive_desc_t *pd) {
  dnnl_memory_desc_t md;
  dnnl_eltwise_desc_t fd, bd;
  dnnl_primitive_desc_t hint = NULL;
  dnnl_status_t s = fwd_desc(key, &md, &fd);
  if (!s)
    s = dnnl_primitive_desc_create(&hint, &fd, attr, engine, NULL);
  if (!s)
    s = dnnl_eltwise_backward_desc_init(&bd, fd.alg_kind, &md, &md, fd.alpha, fd.beta);
  if (!s)
    s = dnnl_primitive_desc_create(pd, &bd, attr, engine, hint);
  if (hint)
    dnnl_primitive_desc_destroy(hint);
  return s;
}

static void act_key(hant__prim_key *key, hant__prim_kind kind, hant_act a, size_t n) {
  hant__key_init(key, kind, (double)n);
  key->v[K_ACT] = a, key->v[K_COUNT] = (int64_t)n;
}

/* oneDNN 2.6 (Debian 12's) has no hard-sigmoid algorithm,
 * so it runs as a loop. Its derivative is 1/6 strictly inside (-3, 3) and
 * 0 at both ends, as PyTorch's. */
static void hsigmoid_fwd(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = x[i] / 6.0f + 0.5f;
    y[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
  }
}

static void hsigmoid_bwd(const float *x, const float *dy, float *dx, size_t n) {
  for (size_t i = 0; i < n; i++)
    dx[i] = x[i] > -3.0f && x[i] < 3.0f ? dy[i] / 6.0f : 0.0f;
}

void hant_act_forward(hant_act a, const float *x, float *y, size_t n) {
  if ((unsigned)a >= HANT_ACT_COUNT)
    return;
  if (a == HANT_ACT_HSIGMOID) {
    hsigmoid_fwd(x, y, n);
    return;
  }
  if (a == HANT_ACT_NONE) {
    if (y != x)
      memmove(y, x, n * sizeof(float));
    return;
  }
  if (n == 0)
    return;
  hant_arena *scratch = hant__thread_arena();
  hant__prim_key key;
  act_key(&key, HANT__PRIM_ELTWISE_FWD, a, n);
  hant__arg args[] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};
  int rc = hant__prim_run(&key, make_fwd, args, 2, scratch);
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}

void hant_act_backward(hant_act a, const float *x, const float *dy, float *dx,
                       size_t n) {
  if ((unsigned)a >= HANT_ACT_COUNT)
    return;
  if (a == HANT_ACT_HSIGMOID) {
    hsigmoid_bwd(x, dy, dx, n);
    return;
  }
  if (a == HANT_ACT_NONE) {
    if (dx != dy)
      memmove(dx, dy, n * sizeof(float));
    return;
  }
  if (n == 0)
    return;
  hant_arena *scratch = hant__thread_arena();
  hant__prim_key key;
  act_key(&key, HANT__PRIM_ELTWISE_BWD, a, n);
  hant__arg args[] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dx}};
  int rc = hant__prim_run(&key, make_bwd, args, 3, scratch);
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}
