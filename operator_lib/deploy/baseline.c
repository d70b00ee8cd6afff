/* SPDX-License-Identifier: MIT */
/* baseline.c: greedy and random library selections, and the uniformly narrowed teacher, for the quality benchmark. */
#include "baseline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "slots.h"
#include "base.h"
#include "rng.h"

/* ---- library baselines ---------------------------------------------------- */

static int check_one_budget(const struct hant_select_problem *p, const char *who) {
  int rc = hant_select_check(p);
  if (rc)
    return rc;
  if (p->n_dims != 1)
    return hant__error(HANT_EINVAL, "%s: needs exactly one budget, the problem has %zu", who, p->n_dims);
  return 0;
}

int hant_baseline_greedy(const struct hant_select_problem *p, size_t *choice, double *value) {
  int rc = check_one_budget(p, "greedy");
  if (rc)
    return rc;
  size_t *off = malloc(sizeof(size_t) * p->n_groups);
  if (!off)
    return HANT_ENOMEM;
  double limit = p->budget[0] + hant_select_cost_tol(p, 0), total = 0, sum = 0;
  size_t o = 0;
  for (size_t g = 0; g < p->n_groups; g++) {
    off[g] = o;
    size_t best = 0;
    for (size_t j = 1; j < p->group_size[g]; j++) {
      double c = p->cost[o + j], cb = p->cost[o + best];
      if (c < cb || (c == cb && p->value[o + j] > p->value[o + best]))
        best = j;
    }
    choice[g] = best;
    total += p->cost[o + best];
    sum += p->value[o + best];
    o += p->group_size[g];
  }
  if (total > limit) {
    free(off);
    return hant__error(HANT_EINFEASIBLE, "greedy: the cheapest choice costs %g, over the budget %g", total,
                       p->budget[0]);
  }
  /* Every step raises the summed value, so the loop ends. */
  for (;;) {
    double best_ratio = -INFINITY, best_dv = 0;
    size_t bg = SIZE_MAX, bj = 0;
    for (size_t g = 0; g < p->n_groups; g++) {
      double vc = p->value[off[g] + choice[g]], cc = p->cost[off[g] + choice[g]];
      for (size_t j = 0; j < p->group_size[g]; j++) {
        double dv = p->value[off[g] + j] - vc, dc = p->cost[off[g] + j] - cc;
        if (!(dv > 1e-12) || total + dc > limit)
          continue;
        double ratio = dc <= 0 ? INFINITY : dv / dc;
        if (ratio > best_ratio || (ratio == best_ratio && dv > best_dv)) {
          best_ratio = ratio;
          best_dv = dv;
          bg = g;
          bj = j;
        }
      }
    }
    if (bg == SIZE_MAX)
      break;
    total += p->cost[off[bg] + bj] - p->cost[off[bg] + choice[bg]];
    sum += best_dv;
    choice[bg] = bj;
  }
  free(off);
  *value = sum;
  return 0;
}

int hant_baseline_random(const struct hant_select_problem *p, int n_draws, uint64_t seed, size_t *choice,
                         double *value) {
  int rc = check_one_budget(p, "random");
  if (rc)
    return rc;
  if (n_draws < 1)
    return hant__error(HANT_EINVAL, "random: draws must be at least 1, got %d", n_draws);
  size_t G = p->n_groups;
  size_t *off = malloc(sizeof(size_t) * G), *order = malloc(sizeof(size_t) * G), *draw = malloc(sizeof(size_t) * G),
         *fits = NULL;
  double *minc = malloc(sizeof(double) * G);
  size_t max_size = 0, o = 0;
  for (size_t g = 0; off && g < G; g++) {
    off[g] = o;
    o += p->group_size[g];
    if (p->group_size[g] > max_size)
      max_size = p->group_size[g];
  }
  fits = malloc(sizeof(size_t) * max_size);
  if (!off || !order || !draw || !minc || !fits) {
    rc = HANT_ENOMEM;
    goto out;
  }
  double limit = p->budget[0] + hant_select_cost_tol(p, 0), all_min = 0;
  for (size_t g = 0; g < G; g++) {
    minc[g] = INFINITY;
    for (size_t j = 0; j < p->group_size[g]; j++)
      minc[g] = fmin(minc[g], p->cost[off[g] + j]);
    all_min += minc[g];
  }
  if (all_min > limit) {
    rc = hant__error(HANT_EINFEASIBLE, "random: the cheapest choice costs %g, over the budget %g", all_min,
                     p->budget[0]);
    goto out;
  }
  hant_rng rng;
  hant_rng_seed(&rng, seed);
  double best = -INFINITY;
  for (int d = 0; d < n_draws; d++) {
    for (size_t g = 0; g < G; g++)
      order[g] = g;
    for (size_t g = G; g > 1; g--) { /* Fisher-Yates */
      size_t k = hant_rng_below(&rng, (uint32_t)g), t = order[g - 1];
      order[g - 1] = order[k];
      order[k] = t;
    }
    double spent = 0, rest = all_min, sum = 0;
    for (size_t i = 0; i < G; i++) {
      size_t g = order[i], nf = 0;
      rest -= minc[g];
      for (size_t j = 0; j < p->group_size[g]; j++)
        if (spent + p->cost[off[g] + j] + rest <= limit)
          fits[nf++] = j;
      /* The cheapest candidate always fits: the choice so far left room for it. */
      size_t j = nf ? fits[hant_rng_below(&rng, (uint32_t)nf)] : 0;
      for (size_t k = 0; !nf && k < p->group_size[g]; k++)
        if (p->cost[off[g] + k] == minc[g])
          j = k;
      draw[g] = j;
      spent += p->cost[off[g] + j];
      sum += p->value[off[g] + j];
    }
    if (sum > best) {
      best = sum;
      memcpy(choice, draw, sizeof(size_t) * G);
    }
  }
  *value = best;
out:
  free(off);
  free(order);
  free(draw);
  free(minc);
  free(fits);
  return rc;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* ---- uniform width ----------------------------------------------------------- */

static int scaled(int c, double width) {
  long v = lround(c * width);
  return v < 1 ? 1 : (int)v;
}

int hant_baseline_scale_line(const char *line, double width, int keep_out, char *buf, size_t n) {
  char copy[256];
  if (snprintf(copy, sizeof(copy), "%s", line) >= (int)sizeof(copy))
    return hant__error(HANT_EINVAL, "uniform width: line too long: %.40s...", line);
  char *save = NULL, *kind = strtok_r(copy, " \t", &save), *out_tok = strtok_r(NULL, " \t", &save);
  if (!kind || !out_tok)
    return hant__error(HANT_EINVAL, "uniform width: cannot scale '%s'", line);
  char *end;
  long out = strtol(out_tok, &end, 10);
  if (*end || out < 1)
    return hant__error(HANT_EINVAL, "uniform width: '%s' has no output count", line);
  bool conv_like = !strcmp(kind, "conv") || !strcmp(kind, "res") || !strcmp(kind, "ir") || !strcmp(kind, "dws");
  if (!conv_like && strcmp(kind, "linear"))
    return hant__error(HANT_EINVAL, "uniform width: cannot scale a '%s' slot", kind);
  size_t o = (size_t)snprintf(buf, n, "%s %d", kind, keep_out ? (int)out : scaled((int)out, width));
  for (char *t = strtok_r(NULL, " \t", &save); t && o < n; t = strtok_r(NULL, " \t", &save)) {
    if (!strncmp(t, "bn=", 3))
      continue;
    if (!strncmp(t, "g=", 2) && strcmp(t, "g=1"))
      return hant__error(HANT_EINVAL, "uniform width: cannot scale the grouped slot '%s'", line);
    if (!strncmp(t, "mid=", 4))
      o += (size_t)snprintf(buf + o, n - o, " mid=%d", scaled(atoi(t + 4), width));
    else
      o += (size_t)snprintf(buf + o, n - o, " %s", t);
  }
  if (conv_like && o < n)
    o += (size_t)snprintf(buf + o, n - o, " bn=0");
  if (o >= n)
    return hant__error(HANT_EINVAL, "uniform width: line too long: %.40s...", line);
  return 0;
}

/* ---- which channels survive ----------------------------------------------------
 *
 * Every tensor of the teacher lives in a channel space: a convolution or
 * linear layer opens a new one; depthwise convolutions, batch norm,
 * activations and pooling pass their input's on; a residual addition
 * merges its two inputs' spaces, since their channels must stay aligned.
 * Each space keeps round(width x channels) of its channels (the network's
 * input and its classes keep all): the first ones, or those whose
 * producing filters (every convolution writing into the space, their
 * biases included) have the largest summed L1 norm, the criterion of the
 * prune family (Li et al., ICLR 2017). */

typedef struct chspace {
  int n_spaces;
  int *node_space; /* per teacher node */
  int *parent;     /* union-find over spaces */
  int *size;       /* channels */
  bool *keep_all;
  double **score;  /* per channel L1 */
  int **keep;      /* per root space: the channels kept, ascending */
  int *kept;
} chspace;

static int space_root(chspace *cs, int a) {
  while (cs->parent[a] != a)
    a = cs->parent[a] = cs->parent[cs->parent[a]];
  return a;
}

static void chspace_free(chspace *cs) {
  for (int i = 0; i < cs->n_spaces; i++) {
    free(cs->score[i]);
    free(cs->keep[i]);
  }
  free(cs->node_space), free(cs->parent), free(cs->size), free(cs->keep_all), free(cs->score), free(cs->keep);
  free(cs->kept);
}

static int space_new(chspace *cs, int c) {
  int id = cs->n_spaces++;
  cs->parent[id] = id;
  cs->size[id] = c;
  cs->keep_all[id] = false;
  cs->score[id] = calloc((size_t)c, sizeof(double));
  cs->keep[id] = NULL;
  return cs->score[id] ? id : HANT_ENOMEM;
}

/* Adds the L1 norm of each output row of node i's weight (and bias) to its space. */
static void add_scores(chspace *cs, const hant_net *t, int i) {
  const hant_node *n = &t->nodes[i];
  const hant_param *w = &t->params[n->param[0]], *b = n->param[1] >= 0 ? &t->params[n->param[1]] : NULL;
  double *sc = cs->score[space_root(cs, cs->node_space[i])];
  size_t per = w->n / (size_t)n->c;
  for (int k = 0; k < n->c; k++) {
    double v = b ? fabs(b->w[k]) : 0.0;
    for (size_t j = 0; j < per; j++)
      v += fabs(w->w[(size_t)k * per + j]);
    sc[k] += v;
  }
}

static int chspace_build(const hant_net *t, double width, hant_uniform_pick pick, chspace *cs) {
  int n = t->n_nodes;
  memset(cs, 0, sizeof(*cs));
  cs->node_space = malloc(sizeof(int) * (size_t)n);
  cs->parent = malloc(sizeof(int) * (size_t)n);
  cs->size = malloc(sizeof(int) * (size_t)n);
  cs->keep_all = malloc(sizeof(bool) * (size_t)n);
  cs->score = calloc((size_t)n, sizeof(double *));
  cs->keep = calloc((size_t)n, sizeof(int *));
  cs->kept = calloc((size_t)n, sizeof(int));
  if (!cs->node_space || !cs->parent || !cs->size || !cs->keep_all || !cs->score || !cs->keep || !cs->kept)
    return HANT_ENOMEM;
  int rc = space_new(cs, t->nodes[0].c);
  if (rc < 0)
    return rc;
  cs->node_space[0] = rc;
  cs->keep_all[rc] = true;
  for (int i = 1; i < n; i++) {
    const hant_node *nd = &t->nodes[i], *in = &t->nodes[nd->in[0]];
    int sp = cs->node_space[nd->in[0]];
    switch (nd->op) {
    case HANT_OP_CONV:
      if (nd->conv.groups == nd->conv.c_in && nd->conv.groups == nd->conv.c_out && nd->conv.groups > 1)
        break; /* depthwise: channel k in, channel k out */
      if (nd->conv.groups != 1)
        return hant__error(HANT_EINVAL, "uniform width: node %d is a grouped convolution", i);
      if ((sp = space_new(cs, nd->c)) < 0)
        return sp;
      break;
    case HANT_OP_LINEAR:
      if ((sp = space_new(cs, nd->c)) < 0)
        return sp;
      break;
    case HANT_OP_ADD:
      sp = space_root(cs, sp);
      int other = space_root(cs, cs->node_space[nd->in[1]]);
      if (other != sp) {
        cs->parent[other] = sp;
        cs->keep_all[sp] |= cs->keep_all[other];
        for (int k = 0; k < cs->size[sp]; k++)
          cs->score[sp][k] += cs->score[other][k];
      }
      break;
    case HANT_OP_FLATTEN:
      if (in->h * in->w != 1)
        return hant__error(HANT_EINVAL, "uniform width: node %d flattens a %dx%d plane", i, in->h, in->w);
      break;
    default:
      break;
    }
    cs->node_space[i] = sp;
    if (nd->op == HANT_OP_CONV || nd->op == HANT_OP_LINEAR)
      add_scores(cs, t, i);
  }
  cs->keep_all[space_root(cs, cs->node_space[n - 1])] = true;
  for (int sp = 0; sp < cs->n_spaces; sp++) {
    if (space_root(cs, sp) != sp)
      continue;
    int c = cs->size[sp], m = cs->keep_all[sp] ? c : scaled(c, width);
    int *order = malloc(sizeof(int) * (size_t)c);
    if (!order)
      return HANT_ENOMEM;
    for (int k = 0; k < c; k++)
      order[k] = k;
    if (pick == HANT_UNIFORM_L1 && m < c) {
      const double *sc = cs->score[sp];
      for (int a = 1; a < c; a++) /* insertion sort, descending by score; channel counts are small */
        for (int b = a; b > 0 && sc[order[b]] > sc[order[b - 1]]; b--) {
          int x = order[b];
          order[b] = order[b - 1];
          order[b - 1] = x;
        }
      qsort(order, (size_t)m, sizeof(int), cmp_int);
    }
    cs->keep[sp] = order;
    cs->kept[sp] = m;
  }
  return 0;
}

/* dst[i, j, ...] = src[rows[i], cols[j], ...]; a weight of one input
 * channel per filter (depthwise) keeps it. */
static int slice_param(const hant_param *src, hant_param *dst, const int *rows, const int *cols) {
  int K = src->shape[0], C = src->shape[1] > 0 ? src->shape[1] : 1;
  int k = dst->shape[0], c = dst->shape[1] > 0 ? dst->shape[1] : 1;
  size_t per = src->n / ((size_t)K * C);
  if (k > K || c > C || dst->n != (size_t)k * c * per)
    return hant__error(HANT_ESHAPE, "uniform width: %s does not fit in %s", dst->name, src->name);
  for (int i = 0; i < k; i++)
    for (int j = 0; j < c; j++)
      memcpy(dst->w + ((size_t)i * c + j) * per, src->w + ((size_t)rows[i] * C + (C == 1 ? 0 : cols[j])) * per,
             sizeof(float) * per);
  return 0;
}

static int slice_slot(const hant_net *teacher, hant_net *net, int s, chspace *cs) {
  int tw[8], sw[8];
  int nt = hant_slot_weight_nodes(teacher, s, tw, 8), ns = hant_slot_weight_nodes(net, s, sw, 8);
  if (nt != ns)
    return hant__error(HANT_ESHAPE, "uniform width: slot %s has %d weight layers in the teacher, %d scaled",
                       teacher->slots[s].name, nt, ns);
  for (int i = 0; i < nt; i++) {
    const hant_node *a = &teacher->nodes[tw[i]];
    const hant_node *b = &net->nodes[sw[i]];
    int so = space_root(cs, cs->node_space[tw[i]]), si = space_root(cs, cs->node_space[a->in[0]]);
    if (cs->kept[so] != b->c)
      return hant__error(HANT_ESHAPE, "uniform width: slot %s keeps %d of %d channels, its scaled layer has %d",
                         teacher->slots[s].name, cs->kept[so], a->c, b->c);
    int rc = slice_param(&teacher->params[a->param[0]], &net->params[b->param[0]], cs->keep[so], cs->keep[si]);
    if (rc)
      return rc;
    if (b->param[1] < 0)
      continue;
    hant_param *bias = &net->params[b->param[1]];
    for (size_t k = 0; k < bias->n; k++)
      bias->w[k] = a->param[1] >= 0 ? teacher->params[a->param[1]].w[cs->keep[so][k]] : 0.0f;
  }
  return 0;
}

int hant_baseline_uniform(const hant_net *teacher, double width, hant_uniform_pick pick, hant_net **out) {
  *out = NULL;
  if (!(width > 0 && width <= 1))
    return hant__error(HANT_EINVAL, "uniform width: width must be in (0, 1], got %g", width);
  if (teacher->n_slots < 1)
    return hant__error(HANT_EINVAL, "uniform width: the teacher has no slots");
  const hant_node *in = &teacher->nodes[0];
  hant_net *net = hant_net_new(in->c, in->h, in->w);
  if (!net)
    return HANT_ENOMEM;
  int rc = 0, x = 0;
  for (int i = 1; i < teacher->n_nodes && !rc;) {
    const hant_node *nd = &teacher->nodes[i];
    if (nd->slot >= 0) {
      const hant_slot *s = &teacher->slots[nd->slot];
      char line[256];
      if ((rc = hant_baseline_scale_line(s->desc, width, nd->slot == teacher->n_slots - 1, line, sizeof(line))))
        break;
      if ((x = hant_arch_add_block(net, x, line)) < 0)
        rc = x;
      i = s->last + 1;
      continue;
    }
    if (nd->op == HANT_OP_GAP)
      x = hant_net_gap(net, x);
    else if (nd->op == HANT_OP_FLATTEN)
      x = hant_net_flatten(net, x);
    else
      rc = hant__error(HANT_EINVAL, "uniform width: node %d (%s) lies outside every slot", i, hant_op_name(nd->op));
    if (x < 0)
      rc = x;
    i++;
  }
  chspace cs = {0};
  if (!rc)
    rc = chspace_build(teacher, width, pick, &cs);
  for (int s = 0; !rc && s < teacher->n_slots; s++)
    rc = slice_slot(teacher, net, s, &cs);
  chspace_free(&cs);
  if (rc) {
    hant_net_destroy(net);
    return rc;
  }
  *out = net;
  return 0;
}
