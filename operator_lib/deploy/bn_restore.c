/* SPDX-License-Identifier: MIT */
/* bn_restore.c: restores batch norms after folded convolutions as identities measured on training images, and folds them back. */
#include "bn_restore.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "deploy_internal.h"
#include "kernels.h"
#include "ops.h"

#define STAT_BATCH 128

void hant_bn_restored_free(hant_bn_restored *r) {
  if (!r)
    return;
  hant_net_destroy(r->net);
  free(r->node);
  free(r->bn);
  memset(r, 0, sizeof(*r));
}

/* Whether conv node i of net gets a batch norm: it has a bias and no
 * batch norm reads it. */
static bool wants_bn(const hant_net *net, int i) {
  const hant_node *n = &net->nodes[i];
  if (n->op != HANT_OP_CONV || n->param[1] < 0)
    return false;
  for (int j = i + 1; j < net->n_nodes; j++)
    if (net->nodes[j].op == HANT_OP_BN && (net->nodes[j].in[0] == i || net->nodes[j].in[1] == i))
      return false;
  return true;
}

/* Per-channel mean and variance of the outputs of the source's convs
 * that get a batch norm, over the first `images` training images. */
static int measure(const hant_net *src, const hant_bn_restored *r, const hant_dataset *train, int images,
                   double *sum, double *sq, const size_t *off) {
  hant_net *net = (hant_net *)src; /* an eval-mode forward does not change it */
  size_t per = (size_t)train->c * train->h * train->w;
  float *x = hant_alloc(per * STAT_BATCH * sizeof(float));
  int *idx = malloc(sizeof(int) * STAT_BATCH), *lab = malloc(sizeof(int) * STAT_BATCH);
  hant_pass p;
  hant_pass_init(&p);
  int rc = 0;
  if (!x || !idx || !lab)
    rc = HANT_ENOMEM;
  for (int b0 = 0; !rc && b0 < images; b0 += STAT_BATCH) {
    int nb = images - b0 < STAT_BATCH ? images - b0 : STAT_BATCH;
    for (int i = 0; i < nb; i++)
      idx[i] = b0 + i;
    hant_dataset_batch(train, idx, nb, false, 0, NULL, x, lab);
    if ((rc = hant_net_forward(net, &p, x, nb, false)))
      break;
    for (int i = 0; i < r->n_src; i++) {
      if (r->bn[i] < 0)
        continue;
      const hant_node *n = &src->nodes[i];
      const float *y = p.out[i]; /* channels last: [nb * h * w, c] */
      size_t rows = (size_t)nb * n->h * n->w;
      double *s = sum + off[i], *q = sq + off[i];
      for (size_t t = 0; t < rows; t++)
        for (int c = 0; c < n->c; c++) {
          double v = y[t * n->c + c];
          s[c] += v;
          q[c] += v * v;
        }
    }
  }
  hant_pass_free(&p);
  hant_free(x);
  free(idx);
  free(lab);
  return rc;
}

int hant_bn_restore(const hant_net *src, const hant_dataset *train, int images, hant_bn_restored *out) {
  memset(out, 0, sizeof(*out));
  if (images > train->n)
    images = train->n;
  if (images < 1)
    return hant__error(HANT_EINVAL, "restoring batch norm needs training images");
  int n = src->n_nodes, rc = 0;
  hant_bn_restored r = {.n_src = n};
  r.node = malloc(sizeof(int) * (size_t)n);
  r.bn = malloc(sizeof(int) * (size_t)n);
  int *map = malloc(sizeof(int) * (size_t)n);
  size_t *off = calloc((size_t)n, sizeof(size_t)), total = 0;
  double *sum = NULL, *sq = NULL;
  if (!r.node || !r.bn || !map || !off || !(r.net = hant_net_new(src->nodes[0].c, src->nodes[0].h, src->nodes[0].w))) {
    rc = HANT_ENOMEM;
    goto out;
  }
  r.node[0] = map[0] = 0;
  r.bn[0] = -1;
  for (int i = 1; i < n; i++) {
    int id = hant__copy_node(r.net, src, i, map);
    if (id < 0) {
      rc = id;
      goto out;
    }
    r.node[i] = map[i] = id;
    r.bn[i] = -1;
    if (wants_bn(src, i)) {
      int b = hant_net_bn(r.net, id);
      if (b < 0) {
        rc = b;
        goto out;
      }
      r.bn[i] = map[i] = b;
      off[i] = total;
      total += (size_t)src->nodes[i].c;
      r.restored++;
    }
  }
  if (r.restored) {
    sum = calloc(total, sizeof(double));
    sq = calloc(total, sizeof(double));
    if (!sum || !sq) {
      rc = HANT_ENOMEM;
      goto out;
    }
    if ((rc = measure(src, &r, train, images, sum, sq, off)))
      goto out;
    for (int i = 1; i < n; i++) {
      if (r.bn[i] < 0)
        continue;
      const hant_node *s = &src->nodes[i], *bn = &r.net->nodes[r.bn[i]];
      double cnt = (double)images * s->h * s->w;
      for (int c = 0; c < s->c; c++) {
        double mean = sum[off[i] + c] / cnt, var = sq[off[i] + c] / cnt - mean * mean;
        var = var > 0 ? var : 0;
        r.net->params[bn->param[0]].w[c] = (float)sqrt(var + bn->bn_eps);
        r.net->params[bn->param[1]].w[c] = (float)mean;
        r.net->params[bn->param[2]].w[c] = (float)mean;
        r.net->params[bn->param[3]].w[c] = (float)var;
      }
    }
  }
out:
  free(map);
  free(off);
  free(sum);
  free(sq);
  if (rc)
    hant_bn_restored_free(&r);
  else
    *out = r;
  return rc;
}

int hant_bn_refold(const hant_bn_restored *r, hant_net *dst) {
  if (dst->n_nodes != r->n_src)
    return hant__error(HANT_EINVAL, "refolding batch norm: the network has %d nodes, the copy was made from %d",
                       dst->n_nodes, r->n_src);
  for (int i = 1; i < r->n_src; i++) {
    const hant_node *d = &dst->nodes[i], *s = &r->net->nodes[r->node[i]];
    for (int k = 0; k < 4; k++) {
      int pd = d->param[k], ps = s->param[k];
      if (pd < 0 && ps < 0)
        continue;
      if (pd < 0 || ps < 0 || dst->params[pd].n != r->net->params[ps].n)
        return hant__error(HANT_EINVAL, "refolding batch norm: node %d's parameter %d does not match its copy", i, k);
      memcpy(dst->params[pd].w, r->net->params[ps].w, dst->params[pd].n * sizeof(float));
    }
    if (r->bn[i] >= 0) {
      const hant_node *bn = &r->net->nodes[r->bn[i]];
      hant_param *w = &dst->params[d->param[0]];
      hant_bn_fold(d->c, (int)(w->n / (size_t)d->c), w->w, dst->params[d->param[1]].w, r->net->params[bn->param[0]].w,
                   r->net->params[bn->param[1]].w, r->net->params[bn->param[2]].w, r->net->params[bn->param[3]].w,
                   bn->bn_eps);
    }
  }
  return 0;
}
