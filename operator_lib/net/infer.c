/* SPDX-License-Identifier: MIT */
/* infer.c: inference plans: a network's convolutions with batch norm folded, residual adds and activations fused, and weights packed once. */
#include "infer.h"

#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "kernels.h"
#include "net_internal.h"

/* A convolution and the nodes fused into it: conv -> [bn] -> [add] -> [act],
 * possibly through identities; the group runs when the plan reaches its
 * last node, whose output it writes. */
typedef struct group {
  int conv, bn;  /* bn: folded batch norm node, or -1 */
  int sum_from;  /* node whose output the convolution's is added to, or -1 */
  bool in_place; /* that output is this group's alone to overwrite */
  hant_act act;
  int end;
} group;

/* The packed convolutions for one batch size and thread count. */
typedef struct stage {
  int n, threads;
  hant_conv_packed **pk; /* [n_groups] */
} stage;

struct hant_infer {
  hant_net *net;
  int *role; /* per node: the group it belongs to, or -1 to run alone */
  group *groups;
  int n_groups;
  stage st[2];
  int last_used;
  hant_pass pass;
  hant_infer_stats stats;
  hant_infer_kernel *kernels; /* [n_kernels], in run order */
  int n_kernels;
};

/* The one node that reads x, or -1 when none or several do, or x is the
 * network's output (its reader is the caller). */
static int sole_consumer(const hant_net *net, int x) {
  if (x == net->n_nodes - 1 || hant__net_consumers(net, x) != 1)
    return -1;
  for (int i = x + 1; i < net->n_nodes; i++)
    if (net->nodes[i].in[0] == x || net->nodes[i].in[1] == x)
      return i;
  return -1;
}

/* The node after x along a group's chain, stepping over identities that
 * only forward x (they join the group: chain[], *len): -1 when the chain
 * cannot go on. */
static int next_in_chain(const hant_net *net, const int *role, int x, int *chain, int *len, int cap) {
  int j = sole_consumer(net, x);
  while (j >= 0 && role[j] < 0 && net->nodes[j].op == HANT_OP_IDENTITY && *len < cap) {
    chain[(*len)++] = j;
    j = sole_consumer(net, j);
  }
  return j >= 0 && role[j] < 0 && net->nodes[j].op != HANT_OP_IDENTITY ? j : -1;
}

/* Whether node x's buffer is its own (not an alias of its input's) and only
 * the add reads it, so the convolution may write its sum there in place. */
static bool owns_buffer(const hant_net *net, int x) {
  hant_op op = net->nodes[x].op;
  return x > 0 && op != HANT_OP_IDENTITY && op != HANT_OP_FLATTEN && hant__net_consumers(net, x) == 1;
}

/* Grows a group from convolution c along its chain. The add's other input
 * comes before the add in topological order, so when the group runs (at
 * its last node) that input is ready. */
static void plan_group(hant_infer *inf, int c) {
  const hant_net *net = inf->net;
  enum { CAP = 32 };
  int chain[CAP + 4], len = 0, cur = c;
  group g = {.conv = c, .bn = -1, .sum_from = -1, .act = HANT_ACT_NONE};
  chain[len++] = c;
  int keep = len;
  int j = next_in_chain(net, inf->role, cur, chain, &len, CAP);
  if (j >= 0 && net->nodes[j].op == HANT_OP_BN) {
    g.bn = j, chain[len++] = j, cur = j, keep = len;
    j = next_in_chain(net, inf->role, cur, chain, &len, CAP);
  }
  if (j >= 0 && net->nodes[j].op == HANT_OP_ADD) {
    const hant_node *a = &net->nodes[j];
    int pred = chain[len - 1]; /* the chain's node the add reads */
    int other = a->in[0] == pred ? a->in[1] : a->in[0];
    if (a->in[0] != a->in[1]) {
      g.sum_from = other, g.in_place = owns_buffer(net, other);
      chain[len++] = j, cur = j, keep = len;
      j = next_in_chain(net, inf->role, cur, chain, &len, CAP);
    }
  }
  /* Hard-sigmoid has no oneDNN algorithm to fuse as a post-op: it runs alone. */
  if (j >= 0 && net->nodes[j].op == HANT_OP_ACT && net->nodes[j].act != HANT_ACT_NONE &&
      net->nodes[j].act != HANT_ACT_HSIGMOID) {
    g.act = net->nodes[j].act, chain[len++] = j, cur = j, keep = len;
  }
  /* Identities stepped over after the last fused node stay outside. */
  g.end = chain[keep - 1];
  for (int k = 0; k < keep; k++)
    inf->role[chain[k]] = inf->n_groups;
  inf->groups[inf->n_groups++] = g;
  inf->stats.convs++;
  inf->stats.folded_bn += g.bn >= 0;
  inf->stats.fused_sum += g.sum_from >= 0;
  inf->stats.fused_act += g.act != HANT_ACT_NONE;
}

/* The kernel list follows hant_infer_run's loop exactly, so a cost model
 * that sums per-kernel predictions sees what a run calls. */
static void list_kernels(hant_infer *inf) {
  const hant_net *net = inf->net;
  for (int i = 1; i < net->n_nodes; i++) {
    const hant_node *nd = &net->nodes[i], *in = &net->nodes[nd->in[0]];
    int g = inf->role[i];
    hant_infer_kernel k = {.op = nd->op, .node = i, .c_in = in->c, .h_in = in->h, .w_in = in->w,
                           .c_out = nd->c, .h_out = nd->h, .w_out = nd->w, .act = HANT_ACT_NONE};
    if (g >= 0) {
      const group *gr = &inf->groups[g];
      if (gr->end != i)
        continue;
      const hant_node *c = &net->nodes[gr->conv], *cin = &net->nodes[c->in[0]];
      k.op = HANT_OP_CONV, k.conv = c->conv;
      k.c_in = cin->c, k.h_in = cin->h, k.w_in = cin->w;
      k.bn = gr->bn >= 0, k.sum = gr->sum_from >= 0, k.sum_copy = k.sum && !gr->in_place, k.act = gr->act;
    } else if (nd->op == HANT_OP_IDENTITY || (nd->op == HANT_OP_FLATTEN && !(in->c > 1 && in->h * in->w > 1))) {
      continue; /* aliases its input (net.c) */
    } else if (nd->op == HANT_OP_MAXPOOL || nd->op == HANT_OP_AVGPOOL) {
      k.pool = nd->pool;
    } else if (nd->op == HANT_OP_ACT) {
      k.act = nd->act;
    }
    inf->kernels[inf->n_kernels++] = k;
  }
}

int hant_infer_new(hant_net *net, hant_infer **out) {
  *out = NULL;
  hant_infer *inf = calloc(1, sizeof(*inf));
  if (!inf)
    return hant__error(HANT_ENOMEM, "inference plan: no memory");
  inf->net = net;
  inf->role = malloc(sizeof(int) * (size_t)net->n_nodes);
  inf->groups = calloc((size_t)net->n_nodes, sizeof(group));
  inf->kernels = calloc((size_t)net->n_nodes, sizeof(hant_infer_kernel));
  if (!inf->role || !inf->groups || !inf->kernels) {
    hant_infer_free(inf);
    return hant__error(HANT_ENOMEM, "inference plan: no memory for %d nodes", net->n_nodes);
  }
  for (int i = 0; i < net->n_nodes; i++)
    inf->role[i] = -1;
  for (int i = 1; i < net->n_nodes; i++)
    if (net->nodes[i].op == HANT_OP_CONV && inf->role[i] < 0)
      plan_group(inf, i);
  list_kernels(inf);
  hant_pass_init(&inf->pass);
  *out = inf;
  return 0;
}

static void stage_clear(hant_infer *inf, stage *st) {
  for (int g = 0; st->pk && g < inf->n_groups; g++)
    hant_conv_packed_free(st->pk[g]);
  free(st->pk);
  memset(st, 0, sizeof(*st));
}

void hant_infer_free(hant_infer *inf) {
  if (!inf)
    return;
  for (int k = 0; k < 2; k++)
    stage_clear(inf, &inf->st[k]);
  hant_pass_free(&inf->pass);
  free(inf->role);
  free(inf->groups);
  free(inf->kernels);
  free(inf);
}

void hant_infer_stats_get(const hant_infer *inf, hant_infer_stats *s) { *s = inf->stats; }

void hant_infer_kernels(const hant_infer *inf, const hant_infer_kernel **k, int *n) {
  *k = inf->kernels;
  *n = inf->n_kernels;
}

/* Packs group g's convolution for batch size n, folding its batch norm into
 * copies of the weights and bias. */
static int pack_group(hant_infer *inf, const group *g, int n, hant_conv_packed **pk) {
  const hant_net *net = inf->net;
  const hant_node *c = &net->nodes[g->conv], *in = &net->nodes[c->in[0]];
  const hant_param *wp = &net->params[c->param[0]];
  const float *wt = wp->w, *bias = c->param[1] >= 0 ? net->params[c->param[1]].w : NULL;
  float *wf = NULL, *bf = NULL;
  if (g->bn >= 0) {
    const hant_node *bn = &net->nodes[g->bn];
    wf = malloc(wp->n * sizeof(float));
    bf = calloc((size_t)c->c, sizeof(float));
    if (!wf || !bf) {
      free(wf), free(bf);
      return hant__error(HANT_ENOMEM, "inference plan: no memory to fold batch norm node %d", g->bn);
    }
    memcpy(wf, wt, wp->n * sizeof(float));
    if (bias)
      memcpy(bf, bias, sizeof(float) * (size_t)c->c);
    hant_bn_fold(c->c, (int)(wp->n / (size_t)c->c), wf, bf, net->params[bn->param[0]].w,
                 net->params[bn->param[1]].w, net->params[bn->param[2]].w, net->params[bn->param[3]].w,
                 bn->bn_eps);
    wt = wf, bias = bf;
  }
  hant_conv_post post = {.sum = g->sum_from >= 0, .act = g->act};
  int rc = hant_conv_pack(&c->conv, n, in->h, in->w, wt, bias, &post, pk);
  free(wf), free(bf);
  return rc;
}

/* The packs for batch size n at the current thread count, made on first
 * use; the older of the two kept is dropped for a new size. */
static int stage_for(hant_infer *inf, int n, stage **out) {
  int threads = hant_threads_get();
  for (int k = 0; k < 2; k++)
    if (inf->st[k].pk && inf->st[k].n == n && inf->st[k].threads == threads) {
      inf->last_used = k;
      *out = &inf->st[k];
      return 0;
    }
  int k = inf->st[0].pk == NULL ? 0 : inf->st[1].pk == NULL ? 1 : 1 - inf->last_used;
  stage *st = &inf->st[k];
  stage_clear(inf, st);
  if (!(st->pk = calloc((size_t)(inf->n_groups ? inf->n_groups : 1), sizeof(*st->pk))))
    return hant__error(HANT_ENOMEM, "inference plan: no memory for %d convolutions", inf->n_groups);
  st->n = n, st->threads = threads;
  for (int g = 0; g < inf->n_groups; g++) {
    int rc = pack_group(inf, &inf->groups[g], n, &st->pk[g]);
    if (rc) {
      stage_clear(inf, st);
      return rc;
    }
  }
  inf->last_used = k;
  *out = st;
  return 0;
}

static int run_group(hant_infer *inf, const group *g, hant_conv_packed *pk) {
  hant_pass *p = &inf->pass;
  const hant_net *net = inf->net;
  const hant_node *end = &net->nodes[g->end];
  size_t cnt = (size_t)p->n * end->c * end->h * end->w;
  float *y;
  if (g->sum_from >= 0 && g->in_place) {
    y = p->out[g->sum_from];
  } else {
    if (!(y = hant_arena_floats(&p->act, cnt)))
      return HANT_ENOMEM;
    if (g->sum_from >= 0)
      memcpy(y, p->out[g->sum_from], cnt * sizeof(float));
  }
  int rc = hant_conv_packed_forward(pk, p->out[net->nodes[g->conv].in[0]], y, &p->tmp);
  hant_arena_reset(&p->tmp);
  p->out[g->end] = y;
  return rc;
}

int hant_infer_run(hant_infer *inf, const float *x, int n, const float **y) {
  *y = NULL;
  if (n <= 0)
    return hant__error(HANT_EINVAL, "batch size %d must be positive", n);
  hant_net *net = inf->net;
  stage *st = NULL;
  int rc = stage_for(inf, n, &st);
  if (rc)
    return rc;
  hant_pass *p = &inf->pass;
  hant_arena_reset(&p->act);
  hant_arena_reset(&p->tmp);
  if ((rc = hant__pass_prepare(p, net->n_nodes)))
    return rc;
  p->n = n;
  p->train = false;
  p->out[0] = (float *)x;
  for (int i = 1; i < net->n_nodes && !rc; i++) {
    int g = inf->role[i];
    if (g < 0)
      rc = hant__net_forward_node(net, p, i);
    else if (inf->groups[g].end == i)
      rc = run_group(inf, &inf->groups[g], st->pk[g]);
  }
  if (rc)
    return rc;
  *y = p->out[net->n_nodes - 1];
  return 0;
}
