/* SPDX-License-Identifier: MIT */
/* net.c: building networks, and running their forward and backward passes node by node. */
#include "net.h"
#include "net_internal.h"

#include <math.h>
#include <string.h>

#include "base.h"

static const char *const op_names[] = {
    [HANT_OP_INPUT] = "input",     [HANT_OP_CONV] = "conv",
    [HANT_OP_BN] = "bn",           [HANT_OP_ACT] = "act",
    [HANT_OP_ADD] = "add",         [HANT_OP_MAXPOOL] = "maxpool",
    [HANT_OP_AVGPOOL] = "avgpool", [HANT_OP_GAP] = "gap",
    [HANT_OP_FLATTEN] = "flatten", [HANT_OP_LINEAR] = "linear",
    [HANT_OP_IDENTITY] = "identity",
    [HANT_OP_CONCAT] = "concat",   [HANT_OP_CHSLICE] = "chslice",
    [HANT_OP_SHUFFLE] = "shuffle",
    [HANT_OP_MUL] = "mul",
};
_Static_assert(sizeof(op_names) / sizeof(op_names[0]) == HANT_OP_COUNT,
               "op_names must cover every op");

const char *hant_op_name(hant_op op) {
  return (unsigned)op < HANT_OP_COUNT ? op_names[op] : "?";
}

/* ---- building ----------------------------------------------------------- */

static int grow(void **arr, int *cap, int need, size_t elem) {
  if (need <= *cap)
    return 0;
  int ncap = *cap ? *cap * 2 : 16;
  while (ncap < need)
    ncap *= 2;
  void *p = realloc(*arr, (size_t)ncap * elem);
  if (!p)
    return HANT_ENOMEM;
  memset((char *)p + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
  *arr = p;
  *cap = ncap;
  return 0;
}

hant_net *hant_net_new_limited(int c, int h, int w, size_t max_param_floats) {
  hant_net *net = hant_net_new(c, h, w);
  if (net)
    net->param_budget = max_param_floats;
  return net;
}

hant_net *hant_net_new(int c, int h, int w) {
  if (c <= 0 || h <= 0 || w <= 0) {
    hant__error(HANT_EINVAL, "network input shape %dx%dx%d must be positive", c, h, w);
    return NULL;
  }
  hant_net *net = calloc(1, sizeof(*net));
  if (!net || grow((void **)&net->nodes, &net->cap_nodes, 1, sizeof(hant_node))) {
    free(net);
    return NULL;
  }
  net->open_slot = -1;
  hant_node *in = &net->nodes[0];
  in->op = HANT_OP_INPUT;
  in->in[0] = in->in[1] = -1;
  in->param[0] = in->param[1] = in->param[2] = in->param[3] = -1;
  in->c = c;
  in->h = h;
  in->w = w;
  in->slot = -1;
  net->n_nodes = 1;
  return net;
}

void hant_net_destroy(hant_net *net) {
  if (!net)
    return;
  for (int i = 0; i < net->n_params; i++) {
    hant_free(net->params[i].w);
    hant_free(net->params[i].g);
    hant_free(net->params[i].m);
    hant_free(net->params[i].v);
  }
  free(net->params);
  free(net->nodes);
  free(net->slots);
  free(net->arch);
  free(net);
}

static int add_param(hant_net *net, int node, const char *role, int d0, int d1,
                     int d2, int d3, bool trainable, bool decay) {
  if (grow((void **)&net->params, &net->cap_params, net->n_params + 1, sizeof(hant_param)))
    return HANT_ENOMEM;
  hant_param *p = &net->params[net->n_params];
  memset(p, 0, sizeof(*p));
  snprintf(p->name, sizeof(p->name), "n%d.%s", node, role);
  p->shape[0] = d0;
  p->shape[1] = d1;
  p->shape[2] = d2;
  p->shape[3] = d3;
  p->n = (size_t)d0 * (size_t)(d1 ? d1 : 1) * (size_t)(d2 ? d2 : 1) * (size_t)(d3 ? d3 : 1);
  if (net->param_budget && net->param_total + p->n > net->param_budget)
    return hant__error(HANT_ELIMIT, "node %d: %zu more parameters exceed the limit of %zu", node, p->n,
                       net->param_budget);
  p->w = hant_alloc(p->n * sizeof(float));
  p->g = hant_alloc(p->n * sizeof(float));
  if (!p->w || !p->g) {
    hant_free(p->w);
    hant_free(p->g);
    return HANT_ENOMEM;
  }
  p->trainable = trainable;
  p->decay = decay;
  net->param_total += p->n;
  return net->n_params++;
}

static int check_in(const hant_net *net, int x) {
  if (x < 0 || x >= net->n_nodes)
    return hant__error(HANT_EINVAL, "node %d does not exist (network has %d)", x, net->n_nodes);
  return 0;
}

/* Appends a node reading x; returns its index or an error. */
static int add_node(hant_net *net, hant_op op, int x, int c, int h, int w) {
  int rc = check_in(net, x);
  if (rc)
    return rc;
  if (grow((void **)&net->nodes, &net->cap_nodes, net->n_nodes + 1, sizeof(hant_node)))
    return HANT_ENOMEM;
  hant_node *n = &net->nodes[net->n_nodes];
  memset(n, 0, sizeof(*n));
  n->op = op;
  n->in[0] = x;
  n->in[1] = -1;
  n->param[0] = n->param[1] = n->param[2] = n->param[3] = -1;
  n->c = c;
  n->h = h;
  n->w = w;
  n->slot = net->open_slot;
  return net->n_nodes++;
}

int hant_net_conv(hant_net *net, int x, const hant_conv_desc *d, bool bias) {
  int rc = check_in(net, x);
  if (rc)
    return rc;
  const hant_node *in = &net->nodes[x];
  if (in->c != d->c_in)
    return hant__error(HANT_ESHAPE, "conv expects %d input channels but node %d has %d", d->c_in, x, in->c);
  if ((rc = hant_conv_check(d, in->h, in->w)))
    return rc;
  int id = add_node(net, HANT_OP_CONV, x, d->c_out, hant_conv_out_h(d, in->h), hant_conv_out_w(d, in->w));
  if (id < 0)
    return id;
  net->nodes[id].conv = *d;
  int pw = add_param(net, id, "weight", d->c_out, d->c_in / d->groups, d->kh, d->kw, true, true);
  if (pw < 0)
    return pw;
  net->nodes[id].param[0] = pw;
  if (bias) {
    int pb = add_param(net, id, "bias", d->c_out, 0, 0, 0, true, false);
    if (pb < 0)
      return pb;
    net->nodes[id].param[1] = pb;
  }
  return id;
}

int hant_net_bn(hant_net *net, int x) {
  int rc = check_in(net, x);
  if (rc)
    return rc;
  const hant_node *in = &net->nodes[x];
  int id = add_node(net, HANT_OP_BN, x, in->c, in->h, in->w);
  if (id < 0)
    return id;
  int c = net->nodes[id].c;
  static const char *const roles[4] = {"gamma", "beta", "running_mean", "running_var"};
  for (int i = 0; i < 4; i++) {
    int p = add_param(net, id, roles[i], c, 0, 0, 0, i < 2, false);
    if (p < 0)
      return p;
    net->nodes[id].param[i] = p;
  }
  net->nodes[id].bn_eps = 1e-5f;
  net->nodes[id].bn_momentum = 0.1f;
  for (int j = 0; j < c; j++) {
    net->params[net->nodes[id].param[0]].w[j] = 1.0f;
    net->params[net->nodes[id].param[3]].w[j] = 1.0f;
  }
  return id;
}

int hant_net_act(hant_net *net, int x, hant_act a) {
  int rc = check_in(net, x);
  if (rc)
    return rc;
  if ((unsigned)a >= HANT_ACT_COUNT)
    return hant__error(HANT_EINVAL, "unknown activation %d", (int)a);
  const hant_node *in = &net->nodes[x];
  int id = add_node(net, HANT_OP_ACT, x, in->c, in->h, in->w);
  if (id >= 0)
    net->nodes[id].act = a;
  return id;
}

int hant_net_add(hant_net *net, int a, int b) {
  int rc = check_in(net, a);
  if (rc || (rc = check_in(net, b)))
    return rc;
  const hant_node *x = &net->nodes[a], *y = &net->nodes[b];
  if (x->c != y->c || x->h != y->h || x->w != y->w)
    return hant__error(HANT_ESHAPE, "add: node %d is %dx%dx%d but node %d is %dx%dx%d", a, x->c, x->h, x->w, b, y->c, y->h, y->w);
  int id = add_node(net, HANT_OP_ADD, a, x->c, x->h, x->w);
  if (id >= 0)
    net->nodes[id].in[1] = b;
  return id;
}

static int add_pool(hant_net *net, hant_op op, int x, const hant_pool_desc *d) {
  int rc = check_in(net, x);
  if (rc)
    return rc;
  const hant_node *in = &net->nodes[x];
  if (d->ceil_mode && op != HANT_OP_MAXPOOL)
    return hant__error(HANT_EINVAL, "%s: ceil mode is supported for max pooling only", hant_op_name(op));
  /* In ceil mode a window may hang over the edge as long as it starts inside. */
  int slack = d->ceil_mode ? d->k - 1 : 0;
  if (d->k <= 0 || d->s <= 0 || d->p < 0 || 2 * d->p > d->k || in->h + 2 * d->p + slack < d->k ||
      in->w + 2 * d->p + slack < d->k)
    return hant__error(HANT_EINVAL, "%s: kernel %d, stride %d, padding %d do not fit a %dx%d input", hant_op_name(op), d->k, d->s, d->p, in->h, in->w);
  int id = add_node(net, op, x, in->c, hant_pool_out(d, in->h), hant_pool_out(d, in->w));
  if (id >= 0)
    net->nodes[id].pool = *d;
  return id;
}

int hant_net_maxpool(hant_net *net, int x, const hant_pool_desc *d) { return add_pool(net, HANT_OP_MAXPOOL, x, d); }
int hant_net_avgpool(hant_net *net, int x, const hant_pool_desc *d) { return add_pool(net, HANT_OP_AVGPOOL, x, d); }

int hant_net_gap(hant_net *net, int x) {
  int rc = check_in(net, x);
  return rc ? rc : add_node(net, HANT_OP_GAP, x, net->nodes[x].c, 1, 1);
}

int hant_net_flatten(hant_net *net, int x) {
  int rc = check_in(net, x);
  if (rc)
    return rc;
  const hant_node *in = &net->nodes[x];
  return add_node(net, HANT_OP_FLATTEN, x, in->c * in->h * in->w, 1, 1);
}

int hant_net_mul(hant_net *net, int a, int b) {
  int rc = check_in(net, a);
  if (rc || (rc = check_in(net, b)))
    return rc;
  const hant_node *x = &net->nodes[a], *y = &net->nodes[b];
  if (x->c != y->c || !((y->h == x->h && y->w == x->w) || (y->h == 1 && y->w == 1)))
    return hant__error(HANT_ESHAPE, "mul: node %d is %dx%dx%d but node %d is %dx%dx%d (expected the same shape or %dx1x1)",
                       a, x->c, x->h, x->w, b, y->c, y->h, y->w, x->c);
  int id = add_node(net, HANT_OP_MUL, a, x->c, x->h, x->w);
  if (id >= 0)
    net->nodes[id].in[1] = b;
  return id;
}

int hant_net_identity(hant_net *net, int x) {
  int rc = check_in(net, x);
  if (rc)
    return rc;
  const hant_node *in = &net->nodes[x];
  return add_node(net, HANT_OP_IDENTITY, x, in->c, in->h, in->w);
}

int hant_net_concat(hant_net *net, int a, int b) {
  int rc = check_in(net, a);
  if (rc || (rc = check_in(net, b)))
    return rc;
  const hant_node *x = &net->nodes[a], *y = &net->nodes[b];
  if (x->h != y->h || x->w != y->w)
    return hant__error(HANT_ESHAPE, "concat: node %d is %dx%dx%d but node %d is %dx%dx%d (H and W must agree)", a,
                       x->c, x->h, x->w, b, y->c, y->h, y->w);
  int id = add_node(net, HANT_OP_CONCAT, a, x->c + y->c, x->h, x->w);
  if (id >= 0)
    net->nodes[id].in[1] = b;
  return id;
}

int hant_net_chslice(hant_net *net, int x, int first, int count) {
  int rc = check_in(net, x);
  if (rc)
    return rc;
  const hant_node *in = &net->nodes[x];
  if (first < 0 || count <= 0 || first + count > in->c)
    return hant__error(HANT_ESHAPE, "chslice: channels [%d, %d) are not within node %d's %d", first, first + count, x,
                       in->c);
  int id = add_node(net, HANT_OP_CHSLICE, x, count, in->h, in->w);
  if (id >= 0)
    net->nodes[id].ch_first = first;
  return id;
}

int hant_net_shuffle(hant_net *net, int x, int groups) {
  int rc = check_in(net, x);
  if (rc)
    return rc;
  const hant_node *in = &net->nodes[x];
  if (groups < 1 || in->c % groups)
    return hant__error(HANT_ESHAPE, "shuffle: %d groups do not divide node %d's %d channels", groups, x, in->c);
  int id = add_node(net, HANT_OP_SHUFFLE, x, in->c, in->h, in->w);
  if (id >= 0)
    net->nodes[id].ch_groups = groups;
  return id;
}

int hant_net_linear(hant_net *net, int x, int out, bool bias) {
  int rc = check_in(net, x);
  if (rc)
    return rc;
  if (out <= 0)
    return hant__error(HANT_EINVAL, "linear: %d outputs must be positive", out);
  const hant_node *in = &net->nodes[x];
  int features = in->c * in->h * in->w;
  int id = add_node(net, HANT_OP_LINEAR, x, out, 1, 1);
  if (id < 0)
    return id;
  int pw = add_param(net, id, "weight", out, features, 0, 0, true, true);
  if (pw < 0)
    return pw;
  net->nodes[id].param[0] = pw;
  if (bias) {
    int pb = add_param(net, id, "bias", out, 0, 0, 0, true, false);
    if (pb < 0)
      return pb;
    net->nodes[id].param[1] = pb;
  }
  return id;
}

int hant_net_slot_begin(hant_net *net, const char *kind, const char *desc, int in) {
  int rc = check_in(net, in);
  if (rc)
    return rc;
  HANT_ASSERT(net->open_slot < 0);
  if (grow((void **)&net->slots, &net->cap_slots, net->n_slots + 1, sizeof(hant_slot)))
    return HANT_ENOMEM;
  hant_slot *s = &net->slots[net->n_slots];
  memset(s, 0, sizeof(*s));
  snprintf(s->name, sizeof(s->name), "slot%d", net->n_slots);
  snprintf(s->kind, sizeof(s->kind), "%s", kind);
  snprintf(s->desc, sizeof(s->desc), "%s", desc ? desc : "");
  s->in = in;
  s->first = net->n_nodes;
  s->in_c = net->nodes[in].c;
  s->in_h = net->nodes[in].h;
  s->in_w = net->nodes[in].w;
  net->open_slot = net->n_slots;
  return net->n_slots++;
}

int hant_net_slot_end(hant_net *net) {
  HANT_ASSERT(net->open_slot >= 0);
  hant_slot *s = &net->slots[net->open_slot];
  net->open_slot = -1;
  if (net->n_nodes <= s->first)
    return hant__error(HANT_EINVAL, "slot %s has no nodes", s->name);
  s->last = net->n_nodes - 1;
  s->out_c = net->nodes[s->last].c;
  s->out_h = net->nodes[s->last].h;
  s->out_w = net->nodes[s->last].w;
  return 0;
}

int hant_net_output(const hant_net *net) { return net->n_nodes - 1; }

size_t hant_net_param_count(const hant_net *net) {
  size_t n = 0;
  for (int i = 0; i < net->n_params; i++)
    if (net->params[i].trainable)
      n += net->params[i].n;
  return n;
}

double hant_node_macs(const hant_net *net, int i) {
  const hant_node *n = &net->nodes[i];
  switch (n->op) {
  case HANT_OP_CONV:
    return (double)n->h * n->w * n->c * (n->conv.c_in / n->conv.groups) * n->conv.kh * n->conv.kw;
  case HANT_OP_LINEAR: {
    const hant_node *in = &net->nodes[n->in[0]];
    return (double)in->c * in->h * in->w * n->c;
  }
  default:
    return 0.0;
  }
}

double hant_net_macs(const hant_net *net) {
  double s = 0.0;
  for (int i = 0; i < net->n_nodes; i++)
    s += hant_node_macs(net, i);
  return s;
}

int hant_net_find_param(const hant_net *net, const char *name) {
  for (int i = 0; i < net->n_params; i++)
    if (!strcmp(net->params[i].name, name))
      return i;
  return -1;
}

void hant_net_init_params(hant_net *net, hant_rng *rng) {
  for (int i = 0; i < net->n_nodes; i++) {
    hant_node *n = &net->nodes[i];
    if (n->op != HANT_OP_CONV && n->op != HANT_OP_LINEAR)
      continue;
    hant_param *w = &net->params[n->param[0]];
    size_t fan_in = w->n / (size_t)w->shape[0];
    float std = sqrtf(2.0f / (float)fan_in);
    if (n->op == HANT_OP_LINEAR) /* no ReLU follows the classifier */
      std = sqrtf(1.0f / (float)fan_in);
    for (size_t j = 0; j < w->n; j++)
      w->w[j] = std * hant_rng_normal(rng);
    if (n->param[1] >= 0)
      memset(net->params[n->param[1]].w, 0, net->params[n->param[1]].n * sizeof(float));
  }
}

void hant_net_zero_grad(hant_net *net) {
  for (int i = 0; i < net->n_params; i++)
    memset(net->params[i].g, 0, net->params[i].n * sizeof(float));
}

int hant__net_consumers(const hant_net *net, int x) {
  int k = 0;
  for (int i = x + 1; i < net->n_nodes; i++)
    k += (net->nodes[i].in[0] == x) + (net->nodes[i].in[1] == x);
  return k;
}

int hant_net_fold_bn(hant_net *net) {
  for (int i = 1; i < net->n_nodes; i++) {
    hant_node *bn = &net->nodes[i];
    if (bn->op != HANT_OP_BN)
      continue;
    int ci = bn->in[0];
    hant_node *conv = &net->nodes[ci];
    if (conv->op != HANT_OP_CONV || hant__net_consumers(net, ci) != 1)
      continue;
    if (conv->param[1] < 0) {
      int pb = add_param(net, ci, "bias", conv->c, 0, 0, 0, true, false);
      if (pb < 0)
        return pb;
      conv = &net->nodes[ci]; /* params may have moved, nodes did not */
      conv->param[1] = pb;
    }
    hant_param *w = &net->params[conv->param[0]];
    hant_bn_fold(conv->c, (int)(w->n / (size_t)conv->c), w->w, net->params[conv->param[1]].w,
                 net->params[bn->param[0]].w, net->params[bn->param[1]].w,
                 net->params[bn->param[2]].w, net->params[bn->param[3]].w, bn->bn_eps);
    bn->op = HANT_OP_IDENTITY;
    bn->param[0] = bn->param[1] = bn->param[2] = bn->param[3] = -1;
    net->folded = true;
  }
  return 0;
}

/* ---- passes ------------------------------------------------------------- */

void hant_pass_init(hant_pass *p) {
  memset(p, 0, sizeof(*p));
  hant_arena_init(&p->act, 0);
  hant_arena_init(&p->tmp, (size_t)16 << 20);
}

void hant_pass_free(hant_pass *p) {
  if (!p)
    return;
  hant_arena_free(&p->act);
  hant_arena_free(&p->tmp);
  free(p->out);
  free(p->grad);
  free(p->aux);
  memset(p, 0, sizeof(*p));
}

int hant__pass_prepare(hant_pass *p, int n_nodes) {
  if (p->cap < n_nodes) {
    float **o = realloc(p->out, sizeof(float *) * (size_t)n_nodes);
    if (!o)
      return HANT_ENOMEM;
    p->out = o;
    float **g = realloc(p->grad, sizeof(float *) * (size_t)n_nodes);
    if (!g)
      return HANT_ENOMEM;
    p->grad = g;
    void **a = realloc(p->aux, sizeof(void *) * (size_t)n_nodes);
    if (!a)
      return HANT_ENOMEM;
    p->aux = a;
    p->cap = n_nodes;
  }
  memset(p->out, 0, sizeof(float *) * (size_t)n_nodes);
  memset(p->grad, 0, sizeof(float *) * (size_t)n_nodes);
  memset(p->aux, 0, sizeof(void *) * (size_t)n_nodes);
  return 0;
}

static size_t node_numel(const hant_node *nd, int n) {
  return (size_t)n * nd->c * nd->h * nd->w;
}

/* Activations are channels last ([N, H, W, C]), but a flattened one is the
 * vector [C*H*W] in channels-first order, as ONNX and the linear layer's
 * weights have it: flattening moves the values unless one of the two
 * orders is trivial. */
static bool flatten_moves(const hant_node *in) { return in->c > 1 && in->h * in->w > 1; }

static void to_channels_first(const float *x, int n, int c, int hw, float *y) {
  for (int b = 0; b < n; b++, x += (size_t)c * hw, y += (size_t)c * hw)
    for (int s = 0; s < hw; s++)
      for (int ch = 0; ch < c; ch++)
        y[(size_t)ch * hw + s] = x[(size_t)s * c + ch];
}

static void to_channels_last(const float *x, int n, int c, int hw, float *y) {
  for (int b = 0; b < n; b++, x += (size_t)c * hw, y += (size_t)c * hw)
    for (int ch = 0; ch < c; ch++)
      for (int s = 0; s < hw; s++)
        y[(size_t)s * c + ch] = x[(size_t)ch * hw + s];
}

int hant__net_forward_node(hant_net *net, hant_pass *p, int i) {
  hant_node *nd = &net->nodes[i];
  int n = p->n;
  const hant_node *in = nd->in[0] >= 0 ? &net->nodes[nd->in[0]] : NULL;
  const float *x = in ? p->out[nd->in[0]] : NULL;
  if (in && !x)
    return hant__error(HANT_EINVAL, "node %d runs before its input node %d", i, nd->in[0]);
  if (nd->op == HANT_OP_IDENTITY || (nd->op == HANT_OP_FLATTEN && !flatten_moves(in))) {
    p->out[i] = (float *)x;
    return 0;
  }
  float *y = hant_arena_floats(&p->act, node_numel(nd, n));
  if (!y)
    return HANT_ENOMEM;
  p->out[i] = y;
  int hw = in ? in->h * in->w : 0;
  int rc = 0;
  switch (nd->op) {
  case HANT_OP_CONV:
    rc = hant_conv_forward(&nd->conv, x, n, in->h, in->w, net->params[nd->param[0]].w,
                           nd->param[1] >= 0 ? net->params[nd->param[1]].w : NULL, y, &p->tmp);
    hant_arena_reset(&p->tmp);
    break;
  case HANT_OP_BN: {
    const float *g = net->params[nd->param[0]].w, *b = net->params[nd->param[1]].w;
    float *rm = net->params[nd->param[2]].w, *rv = net->params[nd->param[3]].w;
    if (p->train) {
      float *save = hant_arena_floats(&p->act, 2 * (size_t)nd->c);
      if (!save)
        return HANT_ENOMEM;
      p->aux[i] = save;
      hant_bn_forward_train(x, n, nd->c, hw, g, b, rm, rv, nd->bn_momentum, nd->bn_eps, y, save, save + nd->c);
    } else {
      hant_bn_forward_eval(x, n, nd->c, hw, g, b, rm, rv, nd->bn_eps, y);
    }
    break;
  }
  case HANT_OP_ACT:
    hant_act_forward(nd->act, x, y, node_numel(nd, n));
    break;
  case HANT_OP_ADD: {
    const float *x2 = p->out[nd->in[1]];
    size_t cnt = node_numel(nd, n);
    for (size_t j = 0; j < cnt; j++)
      y[j] = x[j] + x2[j];
    break;
  }
  case HANT_OP_MAXPOOL: {
    int *idx = hant_arena_alloc(&p->act, sizeof(int) * node_numel(nd, n));
    if (!idx)
      return HANT_ENOMEM;
    p->aux[i] = idx;
    hant_maxpool_forward(&nd->pool, x, n, in->c, in->h, in->w, y, idx);
    break;
  }
  case HANT_OP_AVGPOOL:
    hant_avgpool_forward(&nd->pool, x, n, in->c, in->h, in->w, y);
    break;
  case HANT_OP_GAP:
    hant_gap_forward(x, n, in->c, hw, y);
    break;
  case HANT_OP_FLATTEN:
    to_channels_first(x, n, in->c, hw, y);
    break;
  case HANT_OP_LINEAR:
    hant_linear_forward(x, n, in->c * in->h * in->w, nd->c, net->params[nd->param[0]].w,
                        nd->param[1] >= 0 ? net->params[nd->param[1]].w : NULL, y);
    break;
  case HANT_OP_CONCAT:
    hant_concat_forward(x, in->c, p->out[nd->in[1]], net->nodes[nd->in[1]].c, n, hw, y);
    break;
  case HANT_OP_CHSLICE:
    hant_chslice_forward(x, in->c, nd->ch_first, nd->c, n, hw, y);
    break;
  case HANT_OP_SHUFFLE:
    hant_shuffle_forward(x, in->c, nd->ch_groups, n, hw, y);
    break;
  case HANT_OP_MUL: {
    const hant_node *g = &net->nodes[nd->in[1]];
    hant_mul_forward(x, p->out[nd->in[1]], n, in->c, hw, g->h * g->w, y);
    break;
  }
  default:
    return hant__error(HANT_EINVAL, "node %d: op %s cannot run", i, hant_op_name(nd->op));
  }
  return rc;
}

int hant_net_forward_range(hant_net *net, hant_pass *p, int first, int last, bool train) {
  p->train = train;
  for (int i = first; i <= last; i++) {
    int rc = hant__net_forward_node(net, p, i);
    if (!rc && p->hook)
      rc = p->hook(p->hook_user, p, i, HANT_PASS_FORWARD_DONE);
    if (rc)
      return rc;
  }
  return 0;
}

int hant_net_forward(hant_net *net, hant_pass *p, const float *x, int n, bool train) {
  return hant_net_forward_to(net, p, x, n, net->n_nodes - 1, train);
}

int hant_net_forward_to(hant_net *net, hant_pass *p, const float *x, int n, int last, bool train) {
  if (n <= 0)
    return hant__error(HANT_EINVAL, "batch size %d must be positive", n);
  if (last < 0 || last >= net->n_nodes)
    return hant__error(HANT_EINVAL, "node %d does not exist", last);
  hant_arena_reset(&p->act);
  hant_arena_reset(&p->tmp);
  int rc = hant__pass_prepare(p, net->n_nodes);
  if (rc)
    return rc;
  p->n = n;
  p->out[0] = (float *)x;
  if (p->hook && (rc = p->hook(p->hook_user, p, 0, HANT_PASS_FORWARD_DONE)))
    return rc;
  return hant_net_forward_range(net, p, 1, last, train);
}

int hant_net_forward_from(hant_net *net, hant_pass *p, int node, const float *x, int n, bool train) {
  if (n <= 0)
    return hant__error(HANT_EINVAL, "batch size %d must be positive", n);
  if (node < 0 || node >= net->n_nodes)
    return hant__error(HANT_EINVAL, "node %d does not exist", node);
  for (int i = node + 1; i < net->n_nodes; i++)
    for (int j = 0; j < 2; j++)
      if (net->nodes[i].in[j] >= 0 && net->nodes[i].in[j] < node)
        return hant__error(HANT_EINVAL, "node %d reads node %d, before the restart point %d", i, net->nodes[i].in[j],
                           node);
  hant_arena_reset(&p->act);
  hant_arena_reset(&p->tmp);
  int rc = hant__pass_prepare(p, net->n_nodes);
  if (rc)
    return rc;
  p->n = n;
  p->out[node] = (float *)x;
  return hant_net_forward_range(net, p, node + 1, net->n_nodes - 1, train);
}

/* Adds buf into node x's gradient, adopting buf when nothing is there yet
 * and buf is exclusively ours to keep. */
static int accum(hant_pass *p, const hant_net *net, int x, float *buf, bool adopt) {
  size_t cnt = node_numel(&net->nodes[x], p->n);
  if (!p->grad[x]) {
    if (adopt) {
      p->grad[x] = buf;
      return 0;
    }
    p->grad[x] = hant_arena_floats(&p->act, cnt);
    if (!p->grad[x])
      return HANT_ENOMEM;
    memcpy(p->grad[x], buf, cnt * sizeof(float));
    return 0;
  }
  float *g = p->grad[x];
  for (size_t j = 0; j < cnt; j++)
    g[j] += buf[j];
  return 0;
}

/* Both inputs of a multiply get a gradient, each scaled by the other. */
static int backward_mul(hant_net *net, hant_pass *p, int i) {
  const hant_node *nd = &net->nodes[i];
  int a = nd->in[0], b = nd->in[1], n = p->n;
  const hant_node *na = &net->nodes[a], *nb = &net->nodes[b];
  bool want_a = a > 0 || p->want_input_grad, want_b = b > 0 || p->want_input_grad;
  float *da = want_a ? hant_arena_floats(&p->act, node_numel(na, n)) : NULL;
  float *db = want_b ? hant_arena_floats(&p->act, node_numel(nb, n)) : NULL;
  if ((want_a && !da) || (want_b && !db))
    return HANT_ENOMEM;
  hant_mul_backward(p->out[a], p->out[b], p->grad[i], n, na->c, na->h * na->w, nb->h * nb->w, da, db);
  int rc = want_a ? accum(p, net, a, da, true) : 0;
  if (!rc && want_b)
    rc = accum(p, net, b, db, true);
  return rc;
}

static int backward_node(hant_net *net, hant_pass *p, int i) {
  hant_node *nd = &net->nodes[i];
  float *dy = p->grad[i];
  if (!dy || nd->op == HANT_OP_INPUT)
    return 0;
  int n = p->n, xi = nd->in[0];
  const hant_node *in = &net->nodes[xi];
  const float *x = p->out[xi];
  size_t nin = node_numel(in, n);
  /* The network input needs no gradient unless the caller asked for it;
   * skipping it saves the first conv's col2im in every training step. */
  bool need_dx = xi > 0 || p->want_input_grad;
  float *dx = NULL;
  bool aliases = nd->op == HANT_OP_IDENTITY || (nd->op == HANT_OP_FLATTEN && !flatten_moves(in));
  if (nd->op == HANT_OP_MUL)
    return backward_mul(net, p, i);
  if (need_dx && !aliases && nd->op != HANT_OP_ADD && nd->op != HANT_OP_CONCAT) {
    dx = hant_arena_floats(&p->act, nin);
    if (!dx)
      return HANT_ENOMEM;
  }
  int hw = in->h * in->w, rc = 0;
  switch (nd->op) {
  case HANT_OP_CONV:
    rc = hant_conv_backward(&nd->conv, x, n, in->h, in->w, net->params[nd->param[0]].w, dy,
                            need_dx ? dx : NULL, net->params[nd->param[0]].g,
                            nd->param[1] >= 0 ? net->params[nd->param[1]].g : NULL, &p->tmp);
    hant_arena_reset(&p->tmp);
    break;
  case HANT_OP_BN: {
    const float *save = p->aux[i];
    if (!save)
      return hant__error(HANT_EINVAL, "backward through batch norm node %d needs a training-mode forward", i);
    hant_bn_backward(x, dy, n, nd->c, hw, net->params[nd->param[0]].w, save, save + nd->c, dx,
                     net->params[nd->param[0]].g, net->params[nd->param[1]].g);
    break;
  }
  case HANT_OP_ACT:
    if (dx)
      hant_act_backward(nd->act, x, dy, dx, nin);
    break;
  case HANT_OP_ADD:
    if (xi > 0 || p->want_input_grad)
      rc = accum(p, net, xi, dy, true);
    if (!rc && (nd->in[1] > 0 || p->want_input_grad))
      rc = accum(p, net, nd->in[1], dy, xi == 0 && !p->want_input_grad);
    return rc;
  case HANT_OP_IDENTITY:
    return need_dx ? accum(p, net, xi, dy, true) : 0;
  case HANT_OP_CONCAT: {
    /* Two inputs, like add: each gets its part of dy when it needs one. */
    int bi = nd->in[1];
    const hant_node *b = &net->nodes[bi];
    bool need_db = bi > 0 || p->want_input_grad;
    float *da = need_dx ? hant_arena_floats(&p->act, nin) : NULL;
    float *db = need_db ? hant_arena_floats(&p->act, node_numel(b, n)) : NULL;
    if ((need_dx && !da) || (need_db && !db))
      return HANT_ENOMEM;
    hant_concat_backward(dy, in->c, b->c, n, hw, da, db);
    if (da && (rc = accum(p, net, xi, da, true)))
      return rc;
    return db ? accum(p, net, bi, db, true) : 0;
  }
  case HANT_OP_CHSLICE:
    if (dx)
      hant_chslice_backward(dy, in->c, nd->ch_first, nd->c, n, hw, dx);
    break;
  case HANT_OP_SHUFFLE:
    if (dx)
      hant_shuffle_backward(dy, in->c, nd->ch_groups, n, hw, dx);
    break;
  case HANT_OP_FLATTEN:
    if (aliases)
      return need_dx ? accum(p, net, xi, dy, true) : 0;
    if (dx)
      to_channels_last(dy, n, in->c, hw, dx);
    break;
  case HANT_OP_MAXPOOL:
    if (dx)
      hant_maxpool_backward(&nd->pool, dy, p->aux[i], n, in->c, in->h, in->w, dx);
    break;
  case HANT_OP_AVGPOOL:
    if (dx)
      hant_avgpool_backward(&nd->pool, dy, n, in->c, in->h, in->w, dx);
    break;
  case HANT_OP_GAP:
    if (dx)
      hant_gap_backward(dy, n, in->c, hw, dx);
    break;
  case HANT_OP_LINEAR:
    hant_linear_backward(x, dy, n, in->c * in->h * in->w, nd->c, net->params[nd->param[0]].w, dx,
                         net->params[nd->param[0]].g, nd->param[1] >= 0 ? net->params[nd->param[1]].g : NULL);
    break;
  default:
    return hant__error(HANT_EINVAL, "node %d: op %s has no backward", i, hant_op_name(nd->op));
  }
  if (rc || !need_dx)
    return rc;
  return accum(p, net, xi, dx, true);
}

int hant_net_backward(hant_net *net, hant_pass *p, const float *dout, float *dx) {
  int last = net->n_nodes - 1;
  size_t cnt = node_numel(&net->nodes[last], p->n);
  float *g = hant_arena_floats(&p->act, cnt);
  if (!g)
    return HANT_ENOMEM;
  memcpy(g, dout, cnt * sizeof(float));
  memset(p->grad, 0, sizeof(float *) * (size_t)net->n_nodes);
  p->grad[last] = g;
  p->want_input_grad = dx != NULL;
  for (int i = last; i >= 1; i--) {
    int rc = p->hook ? p->hook(p->hook_user, p, i, HANT_PASS_BACKWARD_START) : 0;
    if (rc || (rc = backward_node(net, p, i)))
      return rc;
  }
  if (dx) {
    size_t nin = node_numel(&net->nodes[0], p->n);
    if (p->grad[0])
      memcpy(dx, p->grad[0], nin * sizeof(float));
    else
      memset(dx, 0, nin * sizeof(float));
  }
  return 0;
}

size_t hant_net_peak_act_bytes(const hant_net *net) {
  int n = net->n_nodes;
  int *last = calloc((size_t)n, sizeof(int)), *root = calloc((size_t)n, sizeof(int));
  if (!last || !root) {
    free(last);
    free(root);
    return 0;
  }
  /* Aliasing nodes (identity, a flatten that moves nothing) share their
   * input's buffer. */
  for (int i = 0; i < n; i++) {
    hant_op op = net->nodes[i].op;
    int src = net->nodes[i].in[0];
    bool alias = src >= 0 && src < i &&
                 (op == HANT_OP_IDENTITY || (op == HANT_OP_FLATTEN && !flatten_moves(&net->nodes[src])));
    root[i] = alias ? root[src] : i;
    last[i] = i;
  }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < 2; j++)
      if (net->nodes[i].in[j] >= 0 && last[root[net->nodes[i].in[j]]] < i)
        last[root[net->nodes[i].in[j]]] = i;
  last[root[n - 1]] = n;
  size_t peak = 0;
  for (int i = 0; i < n; i++) {
    size_t live = 0;
    for (int j = 0; j <= i; j++)
      if (root[j] == j && last[j] >= i)
        live += (size_t)net->nodes[j].c * net->nodes[j].h * net->nodes[j].w * sizeof(float);
    peak = live > peak ? live : peak;
  }
  free(last);
  free(root);
  return peak;
}
