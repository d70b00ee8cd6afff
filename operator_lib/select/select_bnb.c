/* SPDX-License-Identifier: MIT */
/* select_bnb.c: the depth-first branch and bound that proves a choice optimal, and the search tree it runs on. */
#include <math.h>
#include <string.h>

#include "base.h"
#include "select_internal.h"

/* Suffix envelopes cost memory quadratic in the number of slots; past this
 * many entries the shallow levels use a Lagrangian bound instead. */
#define ENV_MAX_ENTRIES ((size_t)1 << 22)
#ifndef SUR_SPREAD
#define SUR_SPREAD 0.1
#endif

struct child {
  double bound;
  uint32_t cand;
};

static int child_cmp(const void *a, const void *b) {
  const struct child *x = a, *y = b;
  if (x->bound != y->bound)
    return x->bound > y->bound ? -1 : 1;
  return x->cand < y->cand ? -1 : (x->cand > y->cand);
}

struct frame {
  size_t n, next;
  double p;
};

void hant__select_bnb_free(struct bnb *b) {
  free(b->dstart);
  free(b->dgroup);
  free(b->dcand);
  free(b->dv);
  free(b->dfc);
  free(b->Rf);
  free(b->tolf);
  if (b->hl)
    for (size_t f = 0; f < b->F; f++)
      hant__select_hulls_free(&b->hl[f]);
  free(b->hl);
  if (b->env)
    for (size_t i = 0; i < b->F * (b->G + 1); i++) {
      free(b->env[i].idx);
      free(b->env[i].cumc);
      free(b->env[i].cumv);
    }
  free(b->env);
  free(b->lam_f);
  free(b->lagsum);
  free(b->best);
  free(b->ch);
  free(b->fr);
  free(b->rr);
  free(b->pick);
  memset(b, 0, sizeof *b);
}

/* Upper bound on p plus the best completion over depths d..G-1 with
 * residual capacities r[F]: the smallest LP bound over the cost functions.
 * Stops early once it is at most cutoff (the node is pruned anyway); the
 * minimum over the functions tried so far is still a valid bound. The
 * weighted sums come first: they are the tight ones. */
double hant__select_bnb_bound(const struct bnb *b, size_t d, double p, const double *r,
                              double cutoff) {
  double best = INFINITY;
  for (size_t q = 0; q < b->F && best > cutoff; q++) {
    size_t f = q + b->K < b->F ? q + b->K : q + b->K - b->F;
    double lp;
    if (d >= b->d0) {
      lp = env_eval(&b->env[f * (b->G + 1) + d], b->hl[f].slope, r[f], b->tolf[f]);
    } else {
      lp = r[f] < -b->tolf[f] ? -INFINITY
                              : b->lagsum[f * (b->G + 1) + d] + b->lam_f[f] * dmax(r[f], 0);
    }
    if (p + lp < best)
      best = p + lp;
  }
  return best;
}

static void record_leaf(struct bnb *b, const uint32_t *pick, size_t depth_leaf, uint32_t leaf,
                        double value) {
  b->z = value;
  b->have = 1;
  for (size_t d = 0; d < depth_leaf; d++)
    b->best[b->dgroup[d]] = b->dcand[pick[d]];
  b->best[b->dgroup[depth_leaf]] = b->dcand[leaf];
}

/* Evaluates the children of a node at depth d (value p, residuals r) into
 * ch[], sorted best bound first; at the last depth they are leaves and only
 * update the incumbent. Returns the number of children kept. */
static size_t expand(struct bnb *b, size_t d, double p, const double *r, struct child *ch,
                     double *rtmp, const uint32_t *pick, double vtol) {
  size_t F = b->F, K = b->K, n = 0;
  int leaf = d + 1 == b->G;
  for (size_t c = b->dstart[d]; c < b->dstart[d + 1]; c++) {
    const double *fc = b->dfc + c * F;
    int ok = 1;
    for (size_t f = 0; f < K; f++) {
      rtmp[f] = r[f] - fc[f];
      if (rtmp[f] < -b->tolf[f])
        ok = 0;
    }
    if (!ok)
      continue;
    double pv = p + b->dv[c];
    if (leaf) {
      b->nodes++;
      if (pv > b->z)
        record_leaf(b, pick, d, (uint32_t)c, pv);
      continue;
    }
    for (size_t f = K; f < F; f++)
      rtmp[f] = r[f] - fc[f];
    double bd = hant__select_bnb_bound(b, d + 1, pv, rtmp, b->z + vtol);
    if (bd > b->z + vtol)
      ch[n++] = (struct child){bd, (uint32_t)c};
  }
  if (n > 1)
    qsort(ch, n, sizeof *ch, child_cmp);
  return n;
}

/* Depth-first branch and bound. Runs until it finishes (dfs_done), the
 * deadline passes (timed_out, with ub_left) or b->nodes reaches node_limit,
 * in which case a later call resumes where it stopped. */
int hant__select_bnb_search(struct bnb *b, double vtol) {
  size_t G = b->G, F = b->F;
  if (b->dfs_done || b->timed_out)
    return 0;
  if (!b->fr) {
    b->ch = malloc((b->dstart[G] + 1) * sizeof *b->ch);
    b->fr = malloc((G + 1) * sizeof *b->fr);
    b->rr = malloc(((G + 2) * F + 1) * sizeof *b->rr);
    b->pick = calloc(G + 1, sizeof *b->pick);
    if (!b->ch || !b->fr || !b->rr || !b->pick)
      return hant__error(HANT_ENOMEM, "select: out of memory for the search");
    memcpy(b->rr, b->Rf, F * sizeof *b->rr);
    b->fr[0].p = 0;
    b->fr[0].next = 0;
    b->fr[0].n = expand(b, 0, 0, b->rr, b->ch + b->dstart[0], b->rr + (G + 1) * F, b->pick, vtol);
    b->depth = 0;
  }
  struct child *ch = b->ch;
  struct frame *fr = b->fr;
  double *rr = b->rr, *rtmp = b->rr + (G + 1) * F;
  uint32_t *pick = b->pick;
  size_t d = b->depth;
  for (;;) {
    struct frame *f = &fr[d];
    if (f->next >= f->n) {
      if (d == 0) {
        b->dfs_done = 1;
        break;
      }
      d--;
      continue;
    }
    if ((++b->tick & 255) == 0 && hant_now_s() > b->deadline) {
      double ub = -INFINITY;
      for (size_t e = 0; e <= d; e++)
        if (fr[e].next < fr[e].n)
          ub = dmax(ub, ch[b->dstart[e] + fr[e].next].bound);
      b->timed_out = 1;
      b->ub_left = ub;
      break;
    }
    if (b->nodes >= b->node_limit)
      break;
    struct child c = ch[b->dstart[d] + f->next++];
    if (c.bound <= b->z + vtol) {
      f->next = f->n; /* siblings are sorted: none left can win */
      continue;
    }
    b->nodes++;
    pick[d] = c.cand;
    double *rc = rr + (d + 1) * F;
    const double *rp = rr + d * F;
    for (size_t q = 0; q < F; q++)
      rc[q] = rp[q] - b->dfc[(size_t)c.cand * F + q];
    double p = f->p + b->dv[c.cand];
    d++;
    fr[d].p = p;
    fr[d].next = 0;
    fr[d].n = expand(b, d, p, rc, ch + b->dstart[d], rtmp, pick, vtol);
  }
  b->depth = d;
  return 0;
}

static int order_cmp(const void *a, const void *b) {
  const struct order_key *x = a, *y = b;
  if (x->regret != y->regret)
    return x->regret > y->regret ? -1 : 1;
  return x->g < y->g ? -1 : (x->g > y->g);
}

/* Reduced-cost fixing against incumbent z, then the search tree: depth
 * order, cost functions, LP hulls and envelopes. Compacts w's candidates.
 * Sets *emptied when some slot has no candidate left, i.e. nothing beats z. */
int hant__select_bnb_setup(struct bnb *b, struct prep *w, const double *lam, double L, double z,
                           const size_t *zsel, struct order_key *ord, double deadline,
                           int *emptied) {
  size_t G = w->G, K = w->K;
  /* Reduced-cost fixing: value(x) <= L - sum_i (r*_i - r_i(x)), so a
   * candidate whose own deficit closes the gap cannot beat the incumbent. */
  size_t *keep_start = w->cstart;
  size_t n2 = 0;
  *emptied = 0;
  for (size_t i = 0; i < G; i++) {
    double rbest = -INFINITY, second = INFINITY;
    for (size_t c = keep_start[i]; c < keep_start[i + 1]; c++) {
      double rv = w->cv[c];
      for (size_t k = 0; k < K; k++)
        rv -= lam[k] * w->cc[c * K + k];
      rbest = dmax(rbest, rv);
    }
    size_t s0 = n2;
    for (size_t c = keep_start[i]; c < keep_start[i + 1]; c++) {
      double rv = w->cv[c];
      for (size_t k = 0; k < K; k++)
        rv -= lam[k] * w->cc[c * K + k];
      double deficit = rbest - rv;
      if (isfinite(z) && deficit >= L - z - w->vtol)
        continue;
      if (deficit > 0)
        second = dmin(second, deficit);
      /* compact in place: n2 <= c always */
      w->citem[n2] = w->citem[c];
      w->cv[n2] = w->cv[c];
      memmove(w->cc + n2 * K, w->cc + c * K, K * sizeof *w->cc);
      n2++;
    }
    n2 = hant__select_drop_dominated(w, s0, n2);
    keep_start[i] = s0;
    if (n2 == s0)
      *emptied = 1;
    ord[i] = (struct order_key){n2 - s0 <= 1 ? INFINITY : second, i};
  }
  keep_start[G] = n2;
  w->n = n2;

  if (*emptied)
    return 0; /* nothing can beat the incumbent (or, without one, nothing fits) */

  /* Depth order: groups whose second choice costs most go first (they
   * rarely branch), the undecided ones last, where residual budgets are
   * known precisely. */
  qsort(ord, G, sizeof *ord, order_cmp);
  int use_sur = K >= 2;
  if (use_sur) {
    double s = 0;
    for (size_t k = 0; k < K; k++)
      s += lam[k];
    use_sur = s > 0;
  }
  b->G = G;
  b->K = K;
  /* Surrogate directions: lam itself, and lam with each component scaled
   * up and down, since deeper nodes want other multipliers than the root. */
  size_t S = use_sur ? 1 + 2 * K : 0;
  b->F = K + S;
  size_t F = b->F;
  double *mu = malloc((S * K + 1) * sizeof *mu);
  if (!mu)
    return hant__error(HANT_ENOMEM, "select: out of memory for the search");
  for (size_t q = 0; q < S; q++)
    for (size_t k = 0; k < K; k++) {
      double sc = 1;
      if (q >= 1 && q <= K && k == q - 1)
        sc = 1 + SUR_SPREAD;
      if (q > K && k == q - 1 - K)
        sc = 1 - SUR_SPREAD;
      mu[q * K + k] = lam[k] * sc;
    }
  b->dstart = malloc((G + 1) * sizeof *b->dstart);
  b->dgroup = malloc(G * sizeof *b->dgroup);
  b->dcand = malloc((n2 + 1) * sizeof *b->dcand);
  b->dv = malloc((n2 + 1) * sizeof *b->dv);
  b->dfc = malloc((n2 * F + 1) * sizeof *b->dfc);
  b->Rf = malloc((F + 1) * sizeof *b->Rf);
  b->tolf = malloc((F + 1) * sizeof *b->tolf);
  b->hl = calloc(F + 1, sizeof *b->hl);
  b->env = calloc(F * (G + 1) + 1, sizeof *b->env);
  b->lam_f = calloc(F + 1, sizeof *b->lam_f);
  b->lagsum = calloc(F * (G + 1) + 1, sizeof *b->lagsum);
  b->best = malloc(G * sizeof *b->best);
  if (!b->dstart || !b->dgroup || !b->dcand || !b->dv || !b->dfc || !b->Rf || !b->tolf || !b->hl ||
      !b->env || !b->lam_f || !b->lagsum || !b->best) {
    free(mu);
    return hant__error(HANT_ENOMEM, "select: out of memory for the search");
  }
  size_t m = 0;
  for (size_t d = 0; d < G; d++) {
    size_t i = ord[d].g;
    b->dgroup[d] = i;
    b->dstart[d] = m;
    for (size_t c = keep_start[i]; c < keep_start[i + 1]; c++, m++) {
      b->dcand[m] = (uint32_t)w->citem[c];
      b->dv[m] = w->cv[c];
      for (size_t k = 0; k < K; k++)
        b->dfc[m * F + k] = w->cc[c * K + k];
      for (size_t q = 0; q < S; q++) {
        double s = 0;
        for (size_t k = 0; k < K; k++)
          s += mu[q * K + k] * w->cc[c * K + k];
        b->dfc[m * F + K + q] = s;
      }
    }
  }
  b->dstart[G] = m;
  for (size_t k = 0; k < K; k++) {
    b->Rf[k] = w->R[k];
    b->tolf[k] = w->tol[k];
  }
  for (size_t q = 0; q < S; q++) {
    b->Rf[K + q] = 0;
    b->tolf[K + q] = 0;
    for (size_t k = 0; k < K; k++) {
      b->Rf[K + q] += mu[q * K + k] * w->R[k];
      b->tolf[K + q] += mu[q * K + k] * w->tol[k];
    }
  }
  free(mu);
  for (size_t f = 0; f < F; f++) {
    int rc = hant__select_hulls_build(&b->hl[f], G, b->dstart, b->dfc, F, f, b->dv);
    if (rc < 0)
      return rc;
    hant__select_hulls_lp(&b->hl[f], b->Rf[f], b->tolf[f], &b->lam_f[f]);
    double *ls = b->lagsum + f * (G + 1);
    ls[G] = 0;
    for (size_t d = G; d-- > 0;) {
      double mx = -INFINITY;
      for (size_t c = b->dstart[d]; c < b->dstart[d + 1]; c++)
        mx = dmax(mx, b->dv[c] - b->lam_f[f] * b->dfc[c * F + f]);
      ls[d] = ls[d + 1] + mx;
    }
  }
  /* keep the envelopes of the deepest levels within the memory cap */
  b->d0 = G;
  {
    size_t used = 0, suffix = 0;
    for (size_t d = G; d-- > 0;) {
      size_t add = 0;
      for (size_t f = 0; f < F; f++)
        add += b->hl[f].istart[d + 1] - b->hl[f].istart[d];
      suffix += add;
      if (used + suffix > ENV_MAX_ENTRIES)
        break;
      used += suffix;
      b->d0 = d;
    }
  }
  for (size_t f = 0; f < F; f++) {
    int rc = hant__select_env_build(b, f);
    if (rc < 0)
      return rc;
  }
  b->z = z;
  b->have = isfinite(z);
  b->deadline = deadline;
  b->node_limit = UINT64_MAX;
  if (b->have)
    memcpy(b->best, zsel, G * sizeof *zsel);
  return 0;
}
