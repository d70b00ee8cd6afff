/* SPDX-License-Identifier: MIT */
/* batchnorm.c: batch normalisation over N, H, W per channel as oneDNN primitives, its backward, and folding into convs. */
#include <math.h>
#include <string.h>

#include "base.h"
#include "dnnl_internal.h"
#include "ops.h"

/* Key values: batch, channels, H*W, and epsilon's bits. */
enum { K_N, K_C, K_HW, K_EPS };

static void bn_key(hant__prim_key *key, hant__prim_kind kind, int n, int c, int hw, float eps) {
  hant__key_init(key, kind, (double)n * c * hw);
  uint32_t bits;
  memcpy(&bits, &eps, sizeof(bits));
  key->v[K_N] = n, key->v[K_C] = c, key->v[K_HW] = hw, key->v[K_EPS] = bits;
}

/* The data as [N, C, H*W, 1], channels last: oneDNN normalises over every
 * axis but the second, as ops.h does over N, H and W (its fast kernels
 * want 4-D). */
static dnnl_status_t bn_desc(const hant__prim_key *key, dnnl_prop_kind_t prop, unsigned flags, dnnl_memory_desc_t *md,
                             dnnl_batch_normalization_desc_t *d) {
  float eps;
  uint32_t bits = (uint32_t)key->v[K_EPS];
  memcpy(&eps, &bits, sizeof(eps));
  int64_t dims[] = {key->v[K_N], key->v[K_C], key->v[K_HW], 1};
  dnnl_status_t s = hant__md_act(md, 4, dims);
  return s ? s : dnnl_batch_normalization_forward_desc_init(d, prop, md, eps, flags);
}

static const unsigned affine = dnnl_use_scale | dnnl_use_shift;

static dnnl_status_t make_train(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                                dnnl_primitive_desc_t *pd) {
  dnnl_memory_desc_t md;
  dnnl_batch_normalization_desc_t d;
  dnnl_status_t s = bn_desc(key, dnnl_forward_training, affine, &md, &d);
  return s ? s : dnnl_primitive_desc_create(pd, &d, attr, engine, NULL);
}

static dnnl_status_t make_eval(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                               dnnl_primitive_desc_t *pd) {
  dnnl_memory_desc_t md;
  dnnl_batch_normalization_desc_t d;
  dnnl_status_t s = bn_desc(key, dnnl_forward_inference, affine | dnnl_use_global_stats, &md, &d);
  return s ? s : dnnl_primitive_desc_create(pd, &d, attr, engine, NULL);
}

static dnnl_status_t make_bwd(const hant__prim_key *key, dnnl_engine_t engine, const_dnnl_primitive_attr_t attr,
                              dnnl_primitive_desc_t *pd) {
  dnnl_memory_desc_t md;
  dnnl_batch_normalization_desc_t fd, bd;
  dnnl_primitive_desc_t hint = NULL;
  dnnl_status_t s = bn_desc(key, dnnl_forward_training, affine, &md, &fd);
  if (!s)
    s = dnnl_primitive_desc_create(&hint, &fd, attr, engine, NULL);
  if (!s)
    s = dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &md, &md, fd.batch_norm_epsilon, affine);
  if (!s)
    s = dnnl_primitive_desc_create(pd, &bd, attr, engine, hint);
  if (hint)
    dnnl_primitive_desc_destroy(hint);
  return s;
}

/* oneDNN saves the batch mean and the biased variance; ops.h saves the mean
 * and 1/sqrt(var + eps), and updates the running statistics with the
 * unbiased variance. The variance lands in scratch and the rest is derived
 * from it per channel. */
void hant_bn_forward_train(const float *x, int n, int c, int hw,
                           const float *gamma, const float *beta,
                           float *run_mean, float *run_var, float momentum,
                           float eps, float *y, float *save_mean,
                           float *save_invstd) {
  hant_arena *scratch = hant__thread_arena();
  float *var = hant_arena_floats(scratch, (size_t)c);
  int rc = var ? 0 : hant__error(HANT_ENOMEM, "batch norm: no memory for %d variances", c);
  if (!rc) {
    hant__prim_key key;
    bn_key(&key, HANT__PRIM_BN_FWD_TRAIN, n, c, hw, eps);
    hant__arg args[] = {{DNNL_ARG_SRC, x},          {DNNL_ARG_DST, y},         {DNNL_ARG_SCALE, gamma},
                        {DNNL_ARG_SHIFT, beta},     {DNNL_ARG_MEAN, save_mean}, {DNNL_ARG_VARIANCE, var}};
    rc = hant__prim_run(&key, make_train, args, 6, scratch);
  }
  double count = (double)n * hw;
  for (int ch = 0; !rc && ch < c; ch++) {
    save_invstd[ch] = (float)(1.0 / sqrt((double)var[ch] + eps));
    if (run_mean) {
      double unbiased = count > 1 ? (double)var[ch] * count / (count - 1) : var[ch];
      run_mean[ch] = (1.0f - momentum) * run_mean[ch] + momentum * save_mean[ch];
      run_var[ch] = (1.0f - momentum) * run_var[ch] + momentum * (float)unbiased;
    }
  }
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}

void hant_bn_forward_eval(const float *x, int n, int c, int hw,
                          const float *gamma, const float *beta,
                          const float *run_mean, const float *run_var,
                          float eps, float *y) {
  hant_arena *scratch = hant__thread_arena();
  hant__prim_key key;
  bn_key(&key, HANT__PRIM_BN_FWD_EVAL, n, c, hw, eps);
  hant__arg args[] = {{DNNL_ARG_SRC, x},      {DNNL_ARG_DST, y},          {DNNL_ARG_SCALE, gamma},
                      {DNNL_ARG_SHIFT, beta}, {DNNL_ARG_MEAN, run_mean}, {DNNL_ARG_VARIANCE, run_var}};
  int rc = hant__prim_run(&key, make_eval, args, 6, scratch);
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}

/* oneDNN's backward wants the variance and epsilon that the forward used;
 * ops.h keeps only 1/sqrt(var + eps). The backward primitive is prepared
 * with epsilon 0 and given var + eps = 1 / invstd^2, which yields the same
 * invstd. It overwrites the scale and shift gradients, which ops.h
 * accumulates, and always writes dx, so those go to scratch first. It also
 * insists on a shift argument it does not read; gamma stands in for beta,
 * which the backward does not need. */
void hant_bn_backward(const float *x, const float *dy, int n, int c, int hw,
                      const float *gamma, const float *save_mean,
                      const float *save_invstd, float *dx, float *dgamma,
                      float *dbeta) {
  hant_arena *scratch = hant__thread_arena();
  float *var = hant_arena_floats(scratch, 3 * (size_t)c);
  float *gx = dx ? dx : hant_arena_floats(scratch, (size_t)n * c * hw);
  int rc = var && gx ? 0 : hant__error(HANT_ENOMEM, "batch norm backward: no memory for scratch");
  if (!rc) {
    float *gg = var + c, *gb = var + 2 * (size_t)c;
    for (int ch = 0; ch < c; ch++)
      var[ch] = 1.0f / (save_invstd[ch] * save_invstd[ch]);
    hant__prim_key key;
    bn_key(&key, HANT__PRIM_BN_BWD, n, c, hw, 0.0f);
    hant__arg args[] = {{DNNL_ARG_SRC, x},          {DNNL_ARG_DIFF_DST, dy},  {DNNL_ARG_MEAN, save_mean},
                        {DNNL_ARG_VARIANCE, var},   {DNNL_ARG_SCALE, gamma},  {DNNL_ARG_SHIFT, gamma},
                        {DNNL_ARG_DIFF_SRC, gx},    {DNNL_ARG_DIFF_SCALE, gg}, {DNNL_ARG_DIFF_SHIFT, gb}};
    rc = hant__prim_run(&key, make_bwd, args, 9, scratch);
    for (int ch = 0; !rc && ch < c; ch++) {
      dgamma[ch] += gg[ch];
      dbeta[ch] += gb[ch];
    }
  }
  hant_arena_reset(scratch);
  HANT__KERNEL_OK(rc);
}

void hant_bn_fold(int k, int per_k, float *w, float *b, const float *gamma,
                  const float *beta, const float *run_mean,
                  const float *run_var, float eps) {
  for (int i = 0; i < k; i++) {
    float scale = gamma[i] / sqrtf(run_var[i] + eps);
    for (int j = 0; j < per_k; j++)
      w[(size_t)i * per_k + j] *= scale;
    b[i] = (b[i] - run_mean[i]) * scale + beta[i];
  }
}
