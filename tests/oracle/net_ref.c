/* SPDX-License-Identifier: MIT */
/* net_ref.c: a second executor for hant_net on the reference kernels, so tests can compare whole networks. */
#include "net_ref.h"

#include <string.h>

#include "ops_ref.h"

void ref_pass_init(ref_pass *p) {
  memset(p, 0, sizeof(*p));
  hant_arena_init(&p->arena, (size_t)16 << 20);
}

void ref_pass_free(ref_pass *p) {
  hant_arena_free(&p->arena);
  free(p->cf_out);
  free(p->cf_grad);
  free(p->out);
  free(p->grad);
  free(p->aux);
  memset(p, 0, sizeof(*p));
}

static size_t numel(const hant_node *nd, int n) { return (size_t)n * nd->c * nd->h * nd->w; }

static const float *pw(const hant_net *net, const hant_node *nd, int k) {
  return nd->param[k] >= 0 ? net->params[nd->param[k]].w : NULL;
}

static float *pg(const hant_net *net, const hant_node *nd, int k) {
  return nd->param[k] >= 0 ? net->params[nd->param[k]].g : NULL;
}

void ref_channels_last(const float *x, int n, int c, int hw, float *y) {
  for (int b = 0; b < n; b++, x += (size_t)c * hw, y += (size_t)c * hw)
    for (int ch = 0; ch < c; ch++)
      for (int s = 0; s < hw; s++)
        y[(size_t)s * c + ch] = x[(size_t)ch * hw + s];
}

void ref_channels_first(const float *x, int n, int c, int hw, float *y) {
  for (int b = 0; b < n; b++, x += (size_t)c * hw, y += (size_t)c * hw)
    for (int s = 0; s < hw; s++)
      for (int ch = 0; ch < c; ch++)
        y[(size_t)ch * hw + s] = x[(size_t)s * c + ch];
}

/* A copy of node i's activation x (or gradient) in the other layout: to
 * channels first when `first`, else to the library's channels last. */
static float *channels(const hant_net *net, int i, int n, const float *x, hant_arena *a, bool first) {
  const hant_node *nd = &net->nodes[i];
  float *y = hant_arena_floats(a, numel(nd, n));
  if (y)
    (first ? ref_channels_first : ref_channels_last)(x, n, nd->c, nd->h * nd->w, y);
  return y;
}

/* Node i's output from its input, as net.c's forward computes it. */
static int forward_node(hant_net *net, ref_pass *p, int i, bool train) {
  hant_node *nd = &net->nodes[i];
  int n = p->n;
  const hant_node *in = &net->nodes[nd->in[0]];
  const float *x = p->cf_out[nd->in[0]];
  int hw = in->h * in->w;
  if (nd->op == HANT_OP_IDENTITY || nd->op == HANT_OP_FLATTEN) {
    p->cf_out[i] = (float *)x;
    return 0;
  }
  float *y = hant_arena_floats(&p->arena, numel(nd, n));
  if (!y)
    return HANT_ENOMEM;
  p->cf_out[i] = y;
  switch (nd->op) {
  case HANT_OP_CONV: {
    hant_arena tmp;
    hant_arena_init(&tmp, 0);
    int rc = ref_conv_forward(&nd->conv, x, n, in->h, in->w, pw(net, nd, 0), pw(net, nd, 1), y, &tmp);
    hant_arena_free(&tmp);
    return rc;
  }
  case HANT_OP_BN: {
    float *rm = net->params[nd->param[2]].w, *rv = net->params[nd->param[3]].w;
    if (!train) {
      ref_bn_forward_eval(x, n, nd->c, hw, pw(net, nd, 0), pw(net, nd, 1), rm, rv, nd->bn_eps, y);
      return 0;
    }
    float *save = hant_arena_floats(&p->arena, 2 * (size_t)nd->c);
    if (!save)
      return HANT_ENOMEM;
    p->aux[i] = save;
    ref_bn_forward_train(x, n, nd->c, hw, pw(net, nd, 0), pw(net, nd, 1), rm, rv, nd->bn_momentum, nd->bn_eps, y,
                         save, save + nd->c);
    return 0;
  }
  case HANT_OP_ACT:
    ref_act_forward(nd->act, x, y, numel(nd, n));
    return 0;
  case HANT_OP_ADD: {
    const float *x2 = p->cf_out[nd->in[1]];
    for (size_t j = 0; j < numel(nd, n); j++)
      y[j] = x[j] + x2[j];
    return 0;
  }
  case HANT_OP_MAXPOOL: {
    int *idx = hant_arena_alloc(&p->arena, sizeof(int) * numel(nd, n));
    if (!idx)
      return HANT_ENOMEM;
    p->aux[i] = idx;
    ref_maxpool_forward(&nd->pool, x, n, in->c, in->h, in->w, y, idx);
    return 0;
  }
  case HANT_OP_AVGPOOL:
    ref_avgpool_forward(&nd->pool, x, n, in->c, in->h, in->w, y);
    return 0;
  case HANT_OP_GAP:
    ref_gap_forward(x, n, in->c, hw, y);
    return 0;
  case HANT_OP_LINEAR:
    ref_linear_forward(x, n, in->c * hw, nd->c, pw(net, nd, 0), pw(net, nd, 1), y);
    return 0;
  case HANT_OP_CONCAT:
    ref_concat_forward(x, in->c, p->cf_out[nd->in[1]], net->nodes[nd->in[1]].c, n, hw, y);
    return 0;
  case HANT_OP_CHSLICE:
    ref_chslice_forward(x, in->c, nd->ch_first, nd->c, n, hw, y);
    return 0;
  case HANT_OP_SHUFFLE:
    ref_shuffle_forward(x, in->c, nd->ch_groups, n, hw, y);
    return 0;
  case HANT_OP_MUL: {
    const hant_node *g = &net->nodes[nd->in[1]];
    ref_mul_forward(x, p->cf_out[nd->in[1]], n, in->c, hw, g->h * g->w, y);
    return 0;
  }
  default:
    return hant__error(HANT_EINVAL, "net_ref: node %d: op %s cannot run", i, hant_op_name(nd->op));
  }
}

int ref_net_forward(hant_net *net, ref_pass *p, const float *x, int n, bool train) {
  hant_arena_reset(&p->arena);
  if (p->n_nodes < net->n_nodes) {
    free(p->cf_out), free(p->cf_grad), free(p->out), free(p->grad), free(p->aux);
    p->cf_out = calloc((size_t)net->n_nodes, sizeof(float *));
    p->cf_grad = calloc((size_t)net->n_nodes, sizeof(float *));
    p->out = calloc((size_t)net->n_nodes, sizeof(float *));
    p->grad = calloc((size_t)net->n_nodes, sizeof(float *));
    p->aux = calloc((size_t)net->n_nodes, sizeof(void *));
    if (!p->cf_out || !p->cf_grad || !p->out || !p->grad || !p->aux)
      return HANT_ENOMEM;
    p->n_nodes = net->n_nodes;
  }
  memset(p->aux, 0, sizeof(void *) * (size_t)p->n_nodes);
  p->n = n;
  if (!(p->cf_out[0] = channels(net, 0, n, x, &p->arena, true)))
    return HANT_ENOMEM;
  for (int i = 1; i < net->n_nodes; i++) {
    int rc = forward_node(net, p, i, train);
    if (rc)
      return rc;
  }
  for (int i = 0; i < net->n_nodes; i++)
    if (!(p->out[i] = channels(net, i, n, p->cf_out[i], &p->arena, false)))
      return HANT_ENOMEM;
  return 0;
}

/* grad[x] += g, taking a copy the first time. */
static int accum(ref_pass *p, const hant_net *net, int x, const float *g) {
  size_t cnt = numel(&net->nodes[x], p->n);
  if (!p->cf_grad[x]) {
    if (!(p->cf_grad[x] = hant_arena_zeros(&p->arena, cnt)))
      return HANT_ENOMEM;
  }
  for (size_t j = 0; j < cnt; j++)
    p->cf_grad[x][j] += g[j];
  return 0;
}

static int backward_node(hant_net *net, ref_pass *p, int i) {
  hant_node *nd = &net->nodes[i];
  const float *dy = p->cf_grad[i];
  if (!dy)
    return 0;
  int n = p->n, xi = nd->in[0];
  const hant_node *in = &net->nodes[xi];
  const float *x = p->cf_out[xi];
  int hw = in->h * in->w, rc = 0;
  if (nd->op == HANT_OP_ADD) {
    rc = accum(p, net, xi, dy);
    return rc ? rc : accum(p, net, nd->in[1], dy);
  }
  if (nd->op == HANT_OP_IDENTITY || nd->op == HANT_OP_FLATTEN)
    return accum(p, net, xi, dy);
  if (nd->op == HANT_OP_CONCAT) {
    const hant_node *b = &net->nodes[nd->in[1]];
    float *da = hant_arena_floats(&p->arena, numel(in, n)), *db = hant_arena_floats(&p->arena, numel(b, n));
    if (!da || !db)
      return HANT_ENOMEM;
    ref_concat_backward(dy, in->c, b->c, n, hw, da, db);
    rc = accum(p, net, xi, da);
    return rc ? rc : accum(p, net, nd->in[1], db);
  }
  if (nd->op == HANT_OP_MUL) {
    const hant_node *g = &net->nodes[nd->in[1]];
    float *da = hant_arena_floats(&p->arena, numel(in, n)), *db = hant_arena_floats(&p->arena, numel(g, n));
    if (!da || !db)
      return HANT_ENOMEM;
    ref_mul_backward(x, p->cf_out[nd->in[1]], dy, n, in->c, hw, g->h * g->w, da, db);
    rc = accum(p, net, xi, da);
    return rc ? rc : accum(p, net, nd->in[1], db);
  }
  float *dx = hant_arena_floats(&p->arena, numel(in, n));
  if (!dx)
    return HANT_ENOMEM;
  switch (nd->op) {
  case HANT_OP_CONV: {
    hant_arena tmp;
    hant_arena_init(&tmp, 0);
    rc = ref_conv_backward(&nd->conv, x, n, in->h, in->w, pw(net, nd, 0), dy, dx, pg(net, nd, 0), pg(net, nd, 1),
                           &tmp);
    hant_arena_free(&tmp);
    break;
  }
  case HANT_OP_BN: {
    const float *save = p->aux[i];
    if (!save)
      return hant__error(HANT_EINVAL, "net_ref: batch norm node %d needs a training-mode forward", i);
    ref_bn_backward(x, dy, n, nd->c, hw, pw(net, nd, 0), save, save + nd->c, dx, pg(net, nd, 0), pg(net, nd, 1));
    break;
  }
  case HANT_OP_ACT:
    ref_act_backward(nd->act, x, dy, dx, numel(in, n));
    break;
  case HANT_OP_MAXPOOL:
    ref_maxpool_backward(&nd->pool, dy, p->aux[i], n, in->c, in->h, in->w, dx);
    break;
  case HANT_OP_AVGPOOL:
    ref_avgpool_backward(&nd->pool, dy, n, in->c, in->h, in->w, dx);
    break;
  case HANT_OP_GAP:
    ref_gap_backward(dy, n, in->c, hw, dx);
    break;
  case HANT_OP_LINEAR:
    ref_linear_backward(x, dy, n, in->c * hw, nd->c, pw(net, nd, 0), dx, pg(net, nd, 0), pg(net, nd, 1));
    break;
  case HANT_OP_CHSLICE:
    ref_chslice_backward(dy, in->c, nd->ch_first, nd->c, n, hw, dx);
    break;
  case HANT_OP_SHUFFLE:
    ref_shuffle_backward(dy, in->c, nd->ch_groups, n, hw, dx);
    break;
  default:
    return hant__error(HANT_EINVAL, "net_ref: node %d: op %s has no backward", i, hant_op_name(nd->op));
  }
  return rc ? rc : accum(p, net, xi, dx);
}

int ref_net_backward(hant_net *net, ref_pass *p, const float *dout, float *dx) {
  int last = net->n_nodes - 1;
  memset(p->cf_grad, 0, sizeof(float *) * (size_t)p->n_nodes);
  memset(p->grad, 0, sizeof(float *) * (size_t)p->n_nodes);
  if (!(p->cf_grad[last] = channels(net, last, p->n, dout, &p->arena, true)))
    return HANT_ENOMEM;
  for (int i = last; i >= 1; i--) {
    int rc = backward_node(net, p, i);
    if (rc)
      return rc;
  }
  for (int i = 0; i < net->n_nodes; i++)
    if (p->cf_grad[i] && !(p->grad[i] = channels(net, i, p->n, p->cf_grad[i], &p->arena, false)))
      return HANT_ENOMEM;
  if (dx) {
    size_t nin = numel(&net->nodes[0], p->n);
    if (p->grad[0])
      memcpy(dx, p->grad[0], nin * sizeof(float));
    else
      memset(dx, 0, nin * sizeof(float));
  }
  return 0;
}
