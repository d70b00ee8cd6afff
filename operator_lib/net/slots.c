/* SPDX-License-Identifier: MIT */
/* slots.c: finds conv, residual, inverted-residual and linear blocks in a network's graph. */
#include "slots.h"

#include <math.h>
#include <string.h>

#include "arch.h"
#include "base.h"

/* Blocks longer than this are not looked for: real ones have < 20 nodes. */
#define MAX_REGION 64
#define MAX_UNITS 3

/* A conv followed by an optional batch norm and an optional activation,
 * with identity nodes (folded batch norms) anywhere after the conv. */
typedef struct unit {
  int conv, bn, act; /* node indices, -1 when absent */
  int last;          /* last node of the unit */
} unit;

typedef struct finder {
  hant_net *net;
  int *ncons;   /* consumers per node */
  int *cstart;  /* readers of node i: clist[cstart[i] .. cstart[i + 1]), ascending */
  int *clist;
  bool *cover;  /* scratch: nodes a pattern accounts for */
} finder;

static const hant_node *N(const finder *f, int i) { return &f->net->nodes[i]; }

static hant_act unit_act(const finder *f, const unit *u) {
  return u->act >= 0 ? N(f, u->act)->act : HANT_ACT_NONE;
}

static const hant_conv_desc *unit_conv(const finder *f, const unit *u) { return &N(f, u->conv)->conv; }

static bool is_dw(const hant_conv_desc *d) { return d->groups > 1 && d->groups == d->c_in && d->groups == d->c_out; }

static bool is_pw(const hant_conv_desc *d) {
  return d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->ph == 0 && d->pw == 0 && d->groups == 1;
}

/* Square kernel and stride with "same" padding k/2, as arch.h builds. */
static bool is_same(const hant_conv_desc *d) {
  return d->kh == d->kw && d->sh == d->sw && d->ph == d->kh / 2 && d->pw == d->kw / 2;
}

/* Parses a unit forward from conv node v, which must read src. The nodes
 * must be consecutive and each must be the only reader of the one before,
 * so that only the unit's last node escapes. Returns 0 or -1. */
static int unit_fwd(const finder *f, int v, int src, unit *u) {
  const hant_net *net = f->net;
  u->conv = u->bn = u->act = -1;
  if (v >= net->n_nodes || N(f, v)->op != HANT_OP_CONV || N(f, v)->in[0] != src)
    return -1;
  u->conv = u->last = v;
  for (;;) {
    int nx = u->last + 1;
    if (nx >= net->n_nodes || N(f, nx)->in[0] != u->last || N(f, nx)->in[1] >= 0 || f->ncons[u->last] != 1)
      break;
    hant_op op = N(f, nx)->op;
    if (op == HANT_OP_IDENTITY)
      u->last = nx;
    else if (op == HANT_OP_BN && u->bn < 0 && u->act < 0)
      u->bn = u->last = nx;
    else if (op == HANT_OP_ACT && u->act < 0)
      u->act = u->last = nx;
    else
      break;
  }
  return 0;
}

/* Parses a unit backward from its last node v. Returns the node the
 * unit's conv reads, or -1 when v does not end a unit. Marks the nodes. */
static int unit_back(const finder *f, int v, unit *u) {
  u->conv = u->bn = u->act = -1;
  u->last = v;
  while (N(f, v)->op == HANT_OP_IDENTITY)
    f->cover[v] = true, v = N(f, v)->in[0];
  if (N(f, v)->op == HANT_OP_ACT) {
    u->act = v, f->cover[v] = true, v = N(f, v)->in[0];
    while (N(f, v)->op == HANT_OP_IDENTITY)
      f->cover[v] = true, v = N(f, v)->in[0];
  }
  if (N(f, v)->op == HANT_OP_BN) {
    u->bn = v, f->cover[v] = true, v = N(f, v)->in[0];
    while (N(f, v)->op == HANT_OP_IDENTITY)
      f->cover[v] = true, v = N(f, v)->in[0];
  }
  if (N(f, v)->op != HANT_OP_CONV)
    return -1;
  u->conv = v;
  f->cover[v] = true;
  return N(f, v)->in[0];
}

/* Walks units back from v until reaching x; returns their count (in
 * forward order in u[]) or -1. */
static int chain_back(const finder *f, int v, int x, unit *u) {
  unit tmp[MAX_UNITS];
  int n = 0;
  while (v != x) {
    if (n == MAX_UNITS || v <= x)
      return -1;
    int src = unit_back(f, v, &tmp[n]);
    if (src < 0)
      return -1;
    n++;
    v = src;
  }
  for (int k = 0; k < n; k++)
    u[k] = tmp[n - 1 - k];
  return n;
}

/* Does desc build a block with the slot's shapes and MACs? */
static bool desc_fits(const hant_net *net, const char *desc, int in, int first, int last) {
  const hant_node *x = &net->nodes[in], *y = &net->nodes[last];
  hant_net *s = hant_net_new(x->c, x->h, x->w);
  if (!s)
    return false;
  int out = hant_arch_add_block(s, 0, desc);
  bool ok = false;
  if (out >= 0) {
    const hant_node *o = &s->nodes[out];
    double macs = 0;
    for (int i = first; i <= last; i++)
      macs += hant_node_macs(net, i);
    ok = o->c == y->c && o->h == y->h && o->w == y->w && fabs(hant_net_macs(s) - macs) < 0.5;
  }
  hant_net_destroy(s);
  return ok;
}

static int add_slot(finder *f, const char *kind, const char *desc, int in, int first, int last) {
  hant_net *net = f->net;
  if (!desc_fits(net, desc, in, first, last))
    return 0;
  if (net->n_slots == net->cap_slots) {
    int cap = net->cap_slots ? 2 * net->cap_slots : 16;
    hant_slot *s = realloc(net->slots, sizeof(*s) * (size_t)cap);
    if (!s)
      return HANT_ENOMEM;
    net->slots = s;
    net->cap_slots = cap;
  }
  hant_slot *s = &net->slots[net->n_slots];
  memset(s, 0, sizeof(*s));
  snprintf(s->name, sizeof(s->name), "slot%d", net->n_slots);
  snprintf(s->kind, sizeof(s->kind), "%s", kind);
  snprintf(s->desc, sizeof(s->desc), "%s", desc);
  s->in = in;
  s->first = first;
  s->last = last;
  s->in_c = net->nodes[in].c, s->in_h = net->nodes[in].h, s->in_w = net->nodes[in].w;
  s->out_c = net->nodes[last].c, s->out_h = net->nodes[last].h, s->out_w = net->nodes[last].w;
  for (int i = first; i <= last; i++)
    net->nodes[i].slot = net->n_slots;
  net->n_slots++;
  return 1;
}

/* The smallest region [i, j] that holds every reader of x from i on, reads
 * only x and itself, and is read from outside only through j. -1 if none
 * within MAX_REGION nodes. */
static int region_end(const finder *f, int i, int x) {
  const hant_net *net = f->net;
  /* readers of x at or after i not yet inside: binary search in x's list */
  int lo = f->cstart[x], hi = f->cstart[x + 1];
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (f->clist[mid] < i)
      lo = mid + 1;
    else
      hi = mid;
  }
  int x_left = f->cstart[x + 1] - lo;
  if (x_left < 2)
    return -1; /* a single reader: no skip connection starts here */
  long open = 0; /* edges from region nodes to readers beyond j */
  for (int j = i; j < net->n_nodes && j < i + MAX_REGION; j++) {
    const hant_node *nd = N(f, j);
    for (int k = 0; k < 2; k++) {
      int s = nd->in[k];
      if (s < 0)
        continue;
      if (s == x)
        x_left--;
      else if (s < i)
        return -1; /* reads something from before the block */
      else
        open--;
    }
    open += f->ncons[j];
    if (x_left == 0 && open == f->ncons[j])
      return j;
  }
  return -1;
}

static const char *act_name(hant_act a) {
  const char *s = hant_act_name(a);
  return s ? s : "none";
}

/* An ir line that says whether the block has its 1x1 expansion conv and
 * its skip: neither follows from the widths (an expansion ratio of 1 may
 * still have the conv, a stride-1 block of equal widths may lack the add). */
/* post: the activation after the whole block (ir post=), or none. */
static void ir_desc(char *desc, size_t n, int out, int cin, int mid, const hant_conv_desc *dw, hant_act act,
                    bool expand, bool skip, hant_act post) {
  int len;
  if (mid % cin == 0 && mid / cin <= 16)
    len = snprintf(desc, n, "ir %d e=%d", out, mid / cin);
  else
    len = snprintf(desc, n, "ir %d mid=%d", out, mid);
  len += snprintf(desc + len, n - (size_t)len, " k=%d s=%d act=%s expand=%d skip=%d", dw->kh, dw->sh, act_name(act),
                  expand, skip);
  if (post != HANT_ACT_NONE)
    snprintf(desc + len, n - (size_t)len, " post=%s", act_name(post));
}

/* Residual blocks: the region from i ends in an add (and, for res and
 * bottleneck, a ReLU after it; for ir, one if the block has post=relu).
 * Returns 1 when a slot was made. */
static int match_residual(finder *f, int i, int x, int *end) {
  hant_net *net = f->net;
  int j = region_end(f, i, x);
  if (j < 0)
    return 0;
  int add = j;
  while (add > i && N(f, add)->op == HANT_OP_IDENTITY)
    add--;
  if (N(f, add)->op != HANT_OP_ADD)
    return 0;
  int last = j;
  bool relu_after = false;
  if (last + 1 < net->n_nodes && f->ncons[last] == 1 && N(f, last + 1)->op == HANT_OP_ACT &&
      N(f, last + 1)->in[0] == last && N(f, last + 1)->act == HANT_ACT_RELU) {
    relu_after = true;
    last++;
  }
  memset(f->cover + i, 0, sizeof(bool) * (size_t)(last - i + 1));
  for (int k = add; k <= last; k++)
    f->cover[k] = true;
  unit ua[MAX_UNITS], ub[MAX_UNITS];
  int a = N(f, add)->in[0], b = N(f, add)->in[1];
  int na = chain_back(f, a, x, ua), nb = chain_back(f, b, x, ub);
  if (na < 0 || nb < 0)
    return 0;
  if (na < nb) { /* main path first */
    unit t[MAX_UNITS];
    memcpy(t, ua, sizeof(t)), memcpy(ua, ub, sizeof(t)), memcpy(ub, t, sizeof(t));
    int tn = na;
    na = nb, nb = tn;
  }
  for (int k = i; k <= last; k++)
    if (!f->cover[k])
      return 0;
  if (nb > 1)
    return 0;
  const hant_conv_desc *sc = nb ? unit_conv(f, &ub[0]) : NULL;
  if (sc && (sc->kh != 1 || sc->kw != 1 || sc->ph || sc->pw || sc->sh != sc->sw || sc->groups != 1 ||
             unit_act(f, &ub[0]) != HANT_ACT_NONE))
    return 0;
  int cin = net->nodes[x].c, out = N(f, last)->c;
  char desc[160];
  const char *kind = NULL;
  const hant_conv_desc *d0 = unit_conv(f, &ua[0]);
  const hant_conv_desc *dl = unit_conv(f, &ua[na - 1]);
  if (na == 2 && !is_dw(d0) && relu_after) {
    const hant_conv_desc *d1 = unit_conv(f, &ua[1]);
    if (!is_same(d0) || !is_same(d1) || d0->groups != 1 || d1->groups != 1 || d0->kh != d1->kh || d1->sh != 1 ||
        unit_act(f, &ua[0]) != HANT_ACT_RELU || unit_act(f, &ua[1]) != HANT_ACT_NONE)
      return 0;
    kind = "res";
    int n = snprintf(desc, sizeof(desc), "res %d k=%d s=%d", out, d0->kh, d0->sh);
    if (d0->c_out != out)
      snprintf(desc + n, sizeof(desc) - (size_t)n, " mid=%d", d0->c_out);
  } else if (na == 3 && !is_dw(unit_conv(f, &ua[1])) && relu_after) {
    const hant_conv_desc *d1 = unit_conv(f, &ua[1]);
    if (d0->kh != 1 || d0->kw != 1 || dl->kh != 1 || dl->kw != 1 || !is_same(d1) || d0->groups != 1 ||
        dl->groups != 1 || d1->c_in != d1->c_out ||
        unit_act(f, &ua[0]) != HANT_ACT_RELU || unit_act(f, &ua[1]) != HANT_ACT_RELU ||
        unit_act(f, &ua[2]) != HANT_ACT_NONE)
      return 0;
    kind = "bottleneck";
    int n = snprintf(desc, sizeof(desc), "bottleneck %d mid=%d k=%d s=%d", out, d1->c_out, d1->kh,
                     d0->sh * d1->sh * dl->sh);
    if (d1->groups > 1) /* ResNeXt, RegNet */
      snprintf(desc + n, sizeof(desc) - (size_t)n, " g=%d", d1->groups);
  } else if (nb == 0 && (na == 2 || na == 3)) {
    const unit *dw = &ua[na - 2];
    const hant_conv_desc *dd = unit_conv(f, dw);
    hant_act act = unit_act(f, dw);
    if (!is_dw(dd) || !is_same(dd) || !is_pw(dl) || act == HANT_ACT_NONE || unit_act(f, &ua[na - 1]) != HANT_ACT_NONE)
      return 0;
    if (na == 3 && (!is_pw(d0) || unit_act(f, &ua[0]) != act))
      return 0;
    kind = "ir";
    ir_desc(desc, sizeof(desc), out, cin, dd->c_out, dd, act, na == 3, true,
            relu_after ? HANT_ACT_RELU : HANT_ACT_NONE);
  } else {
    return 0;
  }
  int rc = add_slot(f, kind, desc, x, i, last);
  if (rc > 0)
    *end = last;
  return rc;
}

/* Does unit u match conv kxk-or-1x1 with the given act and depthwise-ness? */
static bool unit_is(const finder *f, const unit *u, bool dw, int k, hant_act act) {
  const hant_conv_desc *d = unit_conv(f, u);
  return (dw ? is_dw(d) : d->groups == 1) && d->kh == k && d->kw == k && is_same(d) && unit_act(f, u) == act &&
         (dw || d->sh == 1);
}

/* ShuffleNet V2 units: the region from i ends in a shuffle in two groups
 * of a concatenation. Stride 1: the concatenation reads the first half of
 * the input's channels and a 1x1 relu, depthwise, 1x1 relu chain from the
 * second half. Stride 2: it reads a depthwise, 1x1 relu chain and a 1x1
 * relu, depthwise, 1x1 relu chain, both from the input. */
static int match_shuffle(finder *f, int i, int x, int *end) {
  hant_net *net = f->net;
  int j = region_end(f, i, x);
  /* the smallest region ends at the concatenation; the shuffle is its only reader */
  if (j >= 0 && j + 1 < net->n_nodes && N(f, j)->op == HANT_OP_CONCAT && f->ncons[j] == 1 &&
      N(f, j + 1)->in[0] == j)
    j++;
  if (j < 0 || N(f, j)->op != HANT_OP_SHUFFLE || N(f, j)->ch_groups != 2)
    return 0;
  int cat = N(f, j)->in[0];
  if (cat < i || N(f, cat)->op != HANT_OP_CONCAT)
    return 0;
  memset(f->cover + i, 0, sizeof(bool) * (size_t)(j - i + 1));
  f->cover[j] = f->cover[cat] = true;
  int a = N(f, cat)->in[0], b = N(f, cat)->in[1], cin = net->nodes[x].c, out = N(f, j)->c, half = out / 2;
  unit ub[MAX_UNITS], ua[MAX_UNITS];
  int s, nb, k, mid;
  if (N(f, a)->op == HANT_OP_CHSLICE) {
    int bs = b;
    while (bs >= i && N(f, bs)->op != HANT_OP_CHSLICE)
      bs = N(f, bs)->in[0];
    if (bs < i || N(f, a)->in[0] != x || N(f, a)->ch_first != 0 || N(f, a)->c != half || N(f, bs)->in[0] != x ||
        N(f, bs)->ch_first != half || N(f, bs)->c != half || cin != out)
      return 0;
    f->cover[a] = f->cover[bs] = true;
    if ((nb = chain_back(f, b, bs, ub)) != 3)
      return 0;
    s = 1;
  } else {
    if (chain_back(f, a, x, ua) != 2 || (nb = chain_back(f, b, x, ub)) != 3)
      return 0;
    const hant_conv_desc *d0 = unit_conv(f, &ua[0]);
    s = d0->sh;
    if (!unit_is(f, &ua[0], true, d0->kh, HANT_ACT_NONE) || !unit_is(f, &ua[1], false, 1, HANT_ACT_RELU) ||
        unit_conv(f, &ua[1])->c_out != half)
      return 0;
  }
  const hant_conv_desc *dw = unit_conv(f, &ub[1]);
  k = dw->kh, mid = dw->c_out;
  if (!unit_is(f, &ub[0], false, 1, HANT_ACT_RELU) || !unit_is(f, &ub[1], true, k, HANT_ACT_NONE) ||
      !unit_is(f, &ub[2], false, 1, HANT_ACT_RELU) || dw->sh != s || unit_conv(f, &ub[2])->c_out != half ||
      (s == 2 && unit_conv(f, &ua[0])->kh != k))
    return 0;
  for (int m = i; m <= j; m++)
    if (!f->cover[m])
      return 0;
  char desc[160];
  int n = snprintf(desc, sizeof(desc), "shuffle %d k=%d s=%d", out, k, s);
  if (mid != half)
    snprintf(desc + n, sizeof(desc) - (size_t)n, " mid=%d", mid);
  int rc = add_slot(f, "shuffle", desc, x, i, j);
  if (rc > 0)
    *end = j;
  return rc;
}

/* SqueezeNet's fire module from conv i: a 1x1 relu squeeze read by a 1x1
 * relu and a kxk relu, concatenated in that order. */
static int match_fire(finder *f, int i, int x, int *end) {
  unit sq, ea, eb;
  if (unit_fwd(f, i, x, &sq) || !unit_is(f, &sq, false, 1, HANT_ACT_RELU) || f->ncons[sq.last] != 2)
    return 0;
  int j = region_end(f, sq.last + 1, sq.last);
  if (j < 0 || N(f, j)->op != HANT_OP_CONCAT)
    return 0;
  memset(f->cover + i, 0, sizeof(bool) * (size_t)(j - i + 1));
  for (int m = i; m <= sq.last; m++)
    f->cover[m] = true;
  f->cover[j] = true;
  if (chain_back(f, N(f, j)->in[0], sq.last, &ea) != 1 || chain_back(f, N(f, j)->in[1], sq.last, &eb) != 1)
    return 0;
  int k = unit_conv(f, &eb)->kh;
  if (!unit_is(f, &ea, false, 1, HANT_ACT_RELU) || !unit_is(f, &eb, false, k, HANT_ACT_RELU))
    return 0;
  for (int m = i; m <= j; m++)
    if (!f->cover[m])
      return 0;
  char desc[160];
  snprintf(desc, sizeof(desc), "fire %d sq=%d e1=%d k=%d bn=%d", N(f, j)->c, unit_conv(f, &sq)->c_out,
           unit_conv(f, &ea)->c_out, k, sq.bn >= 0);
  int rc = add_slot(f, "fire", desc, x, i, j);
  if (rc > 0)
    *end = j;
  return rc;
}

/* GoogLeNet's Inception module: the region from i ends in a chain of
 * concatenations of four branches: 1x1; 1x1, kxk; 1x1, kxk; 3x3 stride-1
 * max pool, 1x1; every conv [bn] relu. */
static int match_inception(finder *f, int i, int x, int *end) {
  int j = region_end(f, i, x);
  if (j < 0 || N(f, j)->op != HANT_OP_CONCAT)
    return 0;
  int ends[4], nb = 0, c = j;
  memset(f->cover + i, 0, sizeof(bool) * (size_t)(j - i + 1));
  while (N(f, c)->op == HANT_OP_CONCAT && nb < 3) { /* left-nested: ((b0, b1), b2), b3 */
    f->cover[c] = true;
    ends[3 - nb++] = N(f, c)->in[1];
    c = N(f, c)->in[0];
    if (c < i)
      return 0;
  }
  if (nb != 3)
    return 0;
  ends[0] = c;
  unit u[4][MAX_UNITS];
  int n[4];
  for (int b = 0; b < 3; b++)
    if ((n[b] = chain_back(f, ends[b], x, u[b])) != (b ? 2 : 1))
      return 0;
  /* the pool branch: a unit reading a max pool of x */
  unit pu;
  int pool = unit_back(f, ends[3], &pu);
  if (pool < i || N(f, pool)->op != HANT_OP_MAXPOOL || N(f, pool)->in[0] != x)
    return 0;
  const hant_pool_desc *pd = &N(f, pool)->pool;
  if (pd->k != 3 || pd->s != 1 || pd->p != 1)
    return 0;
  f->cover[pool] = true;
  int k3 = unit_conv(f, &u[1][1])->kh, k5 = unit_conv(f, &u[2][1])->kh;
  bool bn = u[0][0].bn >= 0;
  if (!unit_is(f, &u[0][0], false, 1, HANT_ACT_RELU) || !unit_is(f, &pu, false, 1, HANT_ACT_RELU))
    return 0;
  for (int b = 1; b < 3; b++)
    if (!unit_is(f, &u[b][0], false, 1, HANT_ACT_RELU) ||
        !unit_is(f, &u[b][1], false, unit_conv(f, &u[b][1])->kh, HANT_ACT_RELU))
      return 0;
  for (int m = i; m <= j; m++)
    if (!f->cover[m])
      return 0;
  char desc[160];
  snprintf(desc, sizeof(desc), "inception %d c1=%d r3=%d c3=%d r5=%d c5=%d pool=%d k3=%d k5=%d bn=%d", N(f, j)->c,
           unit_conv(f, &u[0][0])->c_out, unit_conv(f, &u[1][0])->c_out, unit_conv(f, &u[1][1])->c_out,
           unit_conv(f, &u[2][0])->c_out, unit_conv(f, &u[2][1])->c_out, unit_conv(f, &pu)->c_out, k3, k5, bn);
  int rc = add_slot(f, "inception", desc, x, i, j);
  if (rc > 0)
    *end = j;
  return rc;
}

/* Chains without a skip: ir (no residual; with a ReLU at its end, post=relu), dws, conv. */
static int match_chain(finder *f, int i, int x, int *end) {
  hant_net *net = f->net;
  unit u[MAX_UNITS];
  int n = 0;
  if (unit_fwd(f, i, x, &u[0]))
    return 0;
  n = 1;
  while (n < MAX_UNITS && f->ncons[u[n - 1].last] == 1 && !unit_fwd(f, u[n - 1].last + 1, u[n - 1].last, &u[n]))
    n++;
  int cin = net->nodes[x].c;
  char desc[160];
  int rc;
  /* ir with expansion: 1x1 act, dw act, 1x1 */
  if (n == 3) {
    const hant_conv_desc *a = unit_conv(f, &u[0]), *b = unit_conv(f, &u[1]), *c = unit_conv(f, &u[2]);
    hant_act act = unit_act(f, &u[0]);
    hant_act post = unit_act(f, &u[2]);
    if (is_pw(a) && is_dw(b) && is_same(b) && is_pw(c) && act != HANT_ACT_NONE && unit_act(f, &u[1]) == act &&
        (post == HANT_ACT_NONE || post == HANT_ACT_RELU)) {
      ir_desc(desc, sizeof(desc), c->c_out, cin, b->c_out, b, act, true, false, post);
      if ((rc = add_slot(f, "ir", desc, x, i, u[2].last)))
        return *end = u[2].last, rc;
    }
  }
  if (n >= 2) {
    const hant_conv_desc *a = unit_conv(f, &u[0]), *b = unit_conv(f, &u[1]);
    hant_act act = unit_act(f, &u[0]);
    if (is_dw(a) && is_same(a) && is_pw(b) && act != HANT_ACT_NONE) {
      hant_act post = unit_act(f, &u[1]);
      if (post == HANT_ACT_NONE || (post == HANT_ACT_RELU && act != HANT_ACT_RELU)) {
        /* With act=relu, dw relu then 1x1 relu is dws, the same block. */
        ir_desc(desc, sizeof(desc), b->c_out, cin, a->c_out, a, act, false, false, post);
        rc = add_slot(f, "ir", desc, x, i, u[1].last);
      } else if (post == act) {
        snprintf(desc, sizeof(desc), "dws %d k=%d s=%d act=%s", b->c_out, a->kh, a->sh, act_name(act));
        rc = add_slot(f, "dws", desc, x, i, u[1].last);
      } else {
        rc = 0;
      }
      if (rc)
        return *end = u[1].last, rc;
    }
  }
  const hant_conv_desc *a = unit_conv(f, &u[0]);
  if (!is_same(a))
    return 0;
  int len = snprintf(desc, sizeof(desc), "conv %d k=%d s=%d", a->c_out, a->kh, a->sh);
  if (a->groups > 1)
    len += snprintf(desc + len, sizeof(desc) - (size_t)len, " g=%d", a->groups);
  snprintf(desc + len, sizeof(desc) - (size_t)len, " act=%s bn=%d", act_name(unit_act(f, &u[0])), u[0].bn >= 0);
  if ((rc = add_slot(f, "conv", desc, x, i, u[0].last)))
    *end = u[0].last;
  return rc;
}

static int match_linear(finder *f, int i, int x, int *end) {
  hant_net *net = f->net;
  int last = i;
  hant_act act = HANT_ACT_NONE;
  if (i + 1 < net->n_nodes && f->ncons[i] == 1 && N(f, i + 1)->op == HANT_OP_ACT && N(f, i + 1)->in[0] == i) {
    last = i + 1;
    act = N(f, last)->act;
  }
  char desc[160];
  if (act == HANT_ACT_NONE)
    snprintf(desc, sizeof(desc), "linear %d", N(f, i)->c);
  else
    snprintf(desc, sizeof(desc), "linear %d act=%s", N(f, i)->c, act_name(act));
  int rc = add_slot(f, "linear", desc, x, i, last);
  if (rc > 0)
    *end = last;
  return rc;
}

/* ---- squeeze-and-excitation blocks: se_ir (MobileNetV3, EfficientNet) and
 * se_bottleneck (RegNetY) ------------------------------------------------- */

/* Steps back over identity nodes from v, marking them. */
static int skip_back(const finder *f, int v) {
  while (N(f, v)->op == HANT_OP_IDENTITY)
    f->cover[v] = true, v = N(f, v)->in[0];
  return v;
}

/* The only reader of v, or -1. */
static int sole_reader(const finder *f, int v) {
  return f->ncons[v] == 1 ? f->clist[f->cstart[v]] : -1;
}

/* Walks the gate g back to the features a it squeezes: gate(conv2(sa(
 * conv1(gap(a))))), both convs 1x1 with biases. Marks the nodes; returns
 * the reduce width, or -1 when g is not such a gate. */
static int se_back(const finder *f, int g, int a, hant_act *sa, hant_act *gate) {
  int v = skip_back(f, g);
  if (N(f, v)->op != HANT_OP_ACT || (N(f, v)->act != HANT_ACT_SIGMOID && N(f, v)->act != HANT_ACT_HSIGMOID))
    return -1;
  *gate = N(f, v)->act, f->cover[v] = true;
  int c2 = skip_back(f, N(f, v)->in[0]);
  if (N(f, c2)->op != HANT_OP_CONV)
    return -1;
  f->cover[c2] = true;
  v = skip_back(f, N(f, c2)->in[0]);
  *sa = HANT_ACT_NONE;
  if (N(f, v)->op == HANT_OP_ACT)
    *sa = N(f, v)->act, f->cover[v] = true, v = skip_back(f, N(f, v)->in[0]);
  int c1 = v;
  if (N(f, c1)->op != HANT_OP_CONV || *sa == HANT_ACT_NONE)
    return -1;
  f->cover[c1] = true;
  v = skip_back(f, N(f, c1)->in[0]);
  if (N(f, v)->op != HANT_OP_GAP || N(f, v)->in[0] != a)
    return -1;
  f->cover[v] = true;
  const hant_conv_desc *d1 = &N(f, c1)->conv, *d2 = &N(f, c2)->conv;
  if (!is_pw(d1) || !is_pw(d2) || N(f, c1)->param[1] < 0 || N(f, c2)->param[1] < 0 || d2->c_out != N(f, a)->c)
    return -1;
  return d1->c_out;
}

/* Nodes [i, last] read only x and each other, and only last is read from
 * outside. */
static bool region_closed(const finder *f, int x, int i, int last) {
  for (int k = i; k <= last; k++) {
    for (int j = 0; j < 2; j++) {
      int s = N(f, k)->in[j];
      if (s >= 0 && s != x && (s < i || s > last))
        return false;
    }
    if (k < last && f->ncons[k] && f->clist[f->cstart[k + 1] - 1] > last)
      return false;
  }
  return true;
}

/* A block whose depthwise or grouped convolution's output is gated by
 * squeeze-and-excitation, starting at conv node i (its first convolution,
 * or a projection shortcut that the exporter placed first). */
static int match_se(finder *f, int i, int x, int *end) {
  hant_net *net = f->net;
  int m = -1;
  for (int j = i + 1; j < net->n_nodes && j < i + MAX_REGION && m < 0; j++)
    if (N(f, j)->op == HANT_OP_MUL)
      m = j;
  if (m < 0)
    return 0;
  unit up, sc = {.conv = -1};
  int pc = sole_reader(f, m);
  if (pc < 0 || unit_fwd(f, pc, m, &up) || !is_pw(unit_conv(f, &up)) || unit_act(f, &up) != HANT_ACT_NONE)
    return 0;
  int last = up.last, add = -1, relu = -1;
  int r = sole_reader(f, last);
  if (r >= 0 && N(f, r)->op == HANT_OP_ADD) {
    add = last = r;
    r = sole_reader(f, add);
    if (r >= 0 && N(f, r)->op == HANT_OP_ACT && N(f, r)->act == HANT_ACT_RELU && N(f, r)->in[0] == add)
      relu = last = r;
  }
  if (last >= i + MAX_REGION)
    return 0;
  memset(f->cover + i, 0, sizeof(bool) * (size_t)(last - i + 1));
  if (unit_back(f, up.last, &up) != m)
    return 0;
  f->cover[m] = true;
  if (add >= 0) {
    f->cover[add] = true;
    if (relu >= 0)
      f->cover[relu] = true;
    int other = N(f, add)->in[0] == up.last ? N(f, add)->in[1] : N(f, add)->in[0];
    other = skip_back(f, other);
    if (other != x && unit_back(f, other, &sc) != x)
      return 0;
  }
  hant_act sa, gate;
  /* The gate is the multiply's second operand, except on a 1x1 plane,
   * where the two have one shape and keep the exporter's order. */
  int a = N(f, m)->in[0];
  int se = se_back(f, N(f, m)->in[1], a, &sa, &gate);
  if (se < 0 && (se = se_back(f, a, N(f, m)->in[1], &sa, &gate)) >= 0)
    a = N(f, m)->in[1];
  unit u[MAX_UNITS];
  int n = se < 0 ? -1 : chain_back(f, a, x, u);
  if (n < 1 || n > 2 || u[0].conv < i)
    return 0;
  for (int k = i; k <= last; k++)
    if (!f->cover[k])
      return 0;
  if (!region_closed(f, x, i, last))
    return 0;
  int cin = net->nodes[x].c, out = N(f, last)->c;
  const hant_conv_desc *dk = unit_conv(f, &u[n - 1]);
  hant_act act = unit_act(f, &u[n - 1]);
  if (!is_same(dk) || act == HANT_ACT_NONE)
    return 0;
  int s = dk->sh, mid = dk->c_out;
  char desc[160];
  const char *kind;
  if (relu < 0 && sc.conv < 0 && is_dw(dk)) {
    if (n == 2 && (!is_pw(unit_conv(f, &u[0])) || unit_act(f, &u[0]) != act || mid == cin))
      return 0;
    if ((add >= 0) != (s == 1 && cin == out)) /* the builder adds the input exactly when shapes allow */
      return 0;
    kind = "se_ir";
    int len = mid % cin == 0 && mid / cin <= 16
                  ? snprintf(desc, sizeof(desc), "se_ir %d e=%d", out, mid / cin)
                  : snprintf(desc, sizeof(desc), "se_ir %d mid=%d", out, mid);
    snprintf(desc + len, sizeof(desc) - (size_t)len, " k=%d s=%d act=%s se=%d sa=%s gate=%s", dk->kh, s,
             act_name(act), se, act_name(sa), act_name(gate));
  } else if (relu >= 0 && n == 2) {
    const hant_conv_desc *da = unit_conv(f, &u[0]);
    if (!is_pw(da) || unit_act(f, &u[0]) != HANT_ACT_RELU || act != HANT_ACT_RELU || da->c_out != mid)
      return 0;
    bool proj = s != 1 || cin != out;
    if (proj != (sc.conv >= 0))
      return 0;
    if (proj) {
      const hant_conv_desc *ds = unit_conv(f, &sc);
      if (ds->kh != 1 || ds->kw != 1 || ds->ph || ds->pw || ds->sh != s || ds->sw != s || ds->groups != 1 ||
          unit_act(f, &sc) != HANT_ACT_NONE)
        return 0;
    }
    kind = "se_bottleneck";
    snprintf(desc, sizeof(desc), "se_bottleneck %d mid=%d g=%d k=%d s=%d se=%d sa=%s gate=%s", out, mid, dk->groups,
             dk->kh, s, se, act_name(sa), act_name(gate));
  } else {
    return 0;
  }
  int rc = add_slot(f, kind, desc, x, i, last);
  if (rc > 0)
    *end = last;
  return rc;
}

int hant_slots_discover(hant_net *net) {
  if (!net)
    return hant__error(HANT_EINVAL, "slots: no network");
  int n = net->n_nodes, rc = 0;
  finder f = {.net = net};
  f.ncons = calloc((size_t)n, sizeof(int));
  f.cstart = calloc((size_t)n + 1, sizeof(int));
  f.clist = calloc(2 * (size_t)n, sizeof(int));
  f.cover = calloc((size_t)n, sizeof(bool));
  if (!f.ncons || !f.cstart || !f.clist || !f.cover) {
    rc = HANT_ENOMEM;
    goto out;
  }
  for (int i = 1; i < n; i++)
    for (int k = 0; k < 2; k++)
      if (net->nodes[i].in[k] >= 0)
        f.ncons[net->nodes[i].in[k]]++;
  for (int i = 0; i < n; i++)
    f.cstart[i + 1] = f.cstart[i] + f.ncons[i];
  {
    int *fill = calloc((size_t)n, sizeof(int));
    if (!fill) {
      rc = HANT_ENOMEM;
      goto out;
    }
    for (int i = 1; i < n; i++) /* ascending i keeps each list sorted */
      for (int k = 0; k < 2; k++) {
        int s = net->nodes[i].in[k];
        if (s >= 0)
          f.clist[f.cstart[s] + fill[s]++] = i;
      }
    free(fill);
  }
  net->n_slots = 0;
  net->open_slot = -1;
  for (int i = 0; i < n; i++)
    net->nodes[i].slot = -1;
  for (int i = 1; i < n;) {
    const hant_node *nd = &net->nodes[i];
    int x = nd->in[0], end = i;
    if (nd->op == HANT_OP_CHSLICE) {
      rc = match_shuffle(&f, i, x, &end);
    } else if (nd->op == HANT_OP_CONV) {
      if ((rc = match_se(&f, i, x, &end)) == 0 && (rc = match_shuffle(&f, i, x, &end)) == 0 &&
          (rc = match_inception(&f, i, x, &end)) == 0 && (rc = match_fire(&f, i, x, &end)) == 0 &&
          (rc = match_residual(&f, i, x, &end)) == 0)
        rc = match_chain(&f, i, x, &end);
    } else if (nd->op == HANT_OP_LINEAR) {
      rc = match_linear(&f, i, x, &end);
    } else {
      rc = 0;
    }
    if (rc < 0)
      goto out;
    i = rc > 0 ? end + 1 : i + 1;
  }
  rc = net->n_slots;
out:
  free(f.ncons);
  free(f.cstart);
  free(f.clist);
  free(f.cover);
  if (rc >= 0)
    hant_errmsg_clear(); /* verification builds leave messages behind */
  return rc;
}

double hant_slot_macs(const hant_net *net, const hant_slot *s) {
  double m = 0;
  for (int i = s->first; i <= s->last; i++)
    m += hant_node_macs(net, i);
  return m;
}

size_t hant_slot_params(const hant_net *net, const hant_slot *s) {
  size_t n = 0;
  for (int i = s->first; i <= s->last; i++)
    for (int k = 0; k < 4; k++) {
      int p = net->nodes[i].param[k];
      if (p >= 0 && net->params[p].trainable)
        n += net->params[p].n;
    }
  return n;
}

int hant_slots_check_swappable(const hant_net *t, const char *who) {
  for (int i = 0; i < t->n_slots; i++) {
    const hant_slot *s = &t->slots[i];
    if (s->first < 1 || s->last < s->first || s->last >= t->n_nodes || s->in >= s->first)
      return hant__error(HANT_EINVAL, "%s: slot %s has an invalid node range", who, s->name);
    for (int n = s->first; n <= s->last; n++) {
      if (t->nodes[n].slot != i)
        return hant__error(HANT_EINVAL, "%s: node %d inside slot %s belongs to slot %d", who, n, s->name,
                           t->nodes[n].slot);
      for (int j = 0; j < 2; j++) {
        int in = t->nodes[n].in[j];
        if (in >= 0 && in != s->in && (in < s->first || in > s->last))
          return hant__error(HANT_EINVAL, "%s: slot %s reads node %d from outside the slot", who, s->name, in);
      }
    }
    /* A later node reading anything before the slot's output (its input
     * included) would keep the teacher's activations alive across the
     * swap, and layer-wise distillation could not see that dependency. */
    for (int n = s->last + 1; n < t->n_nodes; n++)
      for (int j = 0; j < 2; j++) {
        int in = t->nodes[n].in[j];
        if (in >= 0 && in < s->last)
          return hant__error(HANT_EINVAL, "%s: node %d after slot %s reads node %d from before its output", who, n,
                             s->name, in);
      }
  }
  return 0;
}

int hant_teacher_prepare(hant_net *teacher, const char *path) {
  int rc = hant_net_fold_bn(teacher);
  if (rc)
    return rc;
  if (teacher->n_slots == 0)
    return hant__error(HANT_EINVAL, "%s: the teacher has no replaceable slots", path);
  return hant_slots_check_swappable(teacher, path);
}

static bool has_weights(hant_op op) {
  return op == HANT_OP_CONV || op == HANT_OP_LINEAR;
}

/* The projection shortcut of a residual slot: the conv that one of the
 * add's inputs comes from (through bn, act and identity nodes) when that
 * conv reads the slot's input. -1 when there is none. */
static int shortcut_conv(const hant_net *net, const hant_slot *s) {
  for (int a = s->last; a >= s->first; a--) {
    if (net->nodes[a].op != HANT_OP_ADD)
      continue;
    for (int k = 0; k < 2; k++) {
      int v = net->nodes[a].in[k];
      while (v >= s->first && (net->nodes[v].op == HANT_OP_BN || net->nodes[v].op == HANT_OP_ACT ||
                               net->nodes[v].op == HANT_OP_IDENTITY))
        v = net->nodes[v].in[0];
      if (v >= s->first && net->nodes[v].op == HANT_OP_CONV && net->nodes[v].in[0] == s->in)
        return v;
    }
    return -1;
  }
  return -1;
}

int hant_slot_weight_nodes(const hant_net *net, int slot, int *ids, int max) {
  const hant_slot *s = &net->slots[slot];
  /* Blocks built from architecture lines put the shortcut after the main
   * path; exports may put it first (RegNet's proj(x) + f(x)). Listing it
   * last lets teacher weights map onto a rebuilt block layer by layer. */
  int sc = shortcut_conv(net, s);
  int n = 0;
  for (int i = s->first; i <= s->last && n < max; i++)
    if (has_weights(net->nodes[i].op) && i != sc)
      ids[n++] = i;
  if (sc >= 0 && n < max)
    ids[n++] = sc;
  return n;
}

int hant_net_weight_nodes(const hant_net *net, int *ids, int max) {
  int n = 0;
  for (int i = 0; i < net->n_nodes && n < max; i++)
    if (has_weights(net->nodes[i].op))
      ids[n++] = i;
  return n;
}
