/* SPDX-License-Identifier: MIT */
/* select_kbest.c: the K best distinct selections of a problem, by Lawler's partitioning over the exact solver. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "select_internal.h"

/* A subproblem: the items it allows, and its optimum once solved. */
struct node {
  uint8_t *allow; /* [n_items] 1 where the item may be chosen */
  size_t *choice; /* [G] its optimum: item index within each group */
  double *totals; /* [K] */
  double objective;
};

struct search {
  const struct hant_select_problem *p;
  size_t G, K, n_items;
  size_t *off; /* [G+1] first global item of each group */
  double vtol; /* the value tolerance of select.h */
  /* One subproblem at a time, built here from a node's mask. */
  struct hant_select_problem sub;
  size_t *sub_size;  /* [G] */
  double *sub_value; /* [n_items] */
  double *sub_cost;  /* [n_items, K] */
  size_t *sub_item;  /* [n_items] item index within its group */
  struct hant_select_result res;
  double deadline;
  int timed_out;
  uint64_t solves, nodes;
  /* Solved subproblems whose optimum is not reported yet. */
  struct node *open;
  size_t n_open, cap_open;
  /* Reported choices, in the order found. */
  size_t n_found, cap_found;
  size_t *f_choice;
  double *f_obj, *f_totals;
};

static void node_free(struct node *n) {
  free(n->allow);
  free(n->choice);
  free(n->totals);
  memset(n, 0, sizeof *n);
}

void hant_select_kbest_init(struct hant_select_kbest *r) { memset(r, 0, sizeof *r); }

void hant_select_kbest_free(struct hant_select_kbest *r) {
  if (!r)
    return;
  free(r->choice);
  free(r->objective);
  free(r->totals);
  memset(r, 0, sizeof *r);
}

/* Objective and totals of a choice, summed in group order from p's own
 * arrays: every subproblem's optimum is then valued the same way, so that
 * equal choices compare equal whichever subproblem found them. */
static void value_of(const struct search *s, const size_t *choice, double *obj, double *totals) {
  const struct hant_select_problem *p = s->p;
  *obj = 0;
  for (size_t k = 0; k < s->K; k++)
    totals[k] = 0;
  for (size_t i = 0; i < s->G; i++) {
    size_t g = s->off[i] + choice[i];
    *obj += p->value[g];
    for (size_t k = 0; k < s->K; k++)
      totals[k] += p->cost[g * s->K + k];
  }
}

/* Solves the subproblem of n->allow. Returns 1 when it has an optimum (in
 * n), 0 when it has none (no item left in some slot, infeasible, or no
 * choice before the time limit), or HANT_ENOMEM. */
static int solve_node(struct search *s, struct node *n) {
  const struct hant_select_problem *p = s->p;
  size_t m = 0;
  for (size_t i = 0; i < s->G; i++) {
    size_t c = 0;
    for (size_t j = 0; j < p->group_size[i]; j++) {
      size_t g = s->off[i] + j;
      if (!n->allow[g])
        continue;
      s->sub_value[m] = p->value[g];
      if (s->K)
        memcpy(&s->sub_cost[m * s->K], &p->cost[g * s->K], s->K * sizeof(double));
      s->sub_item[m] = j;
      m++;
      c++;
    }
    if (!c)
      return 0;
    s->sub_size[i] = c;
  }
  int rc = hant__select_solve_until(&s->sub, &s->res, s->deadline, NULL);
  if (rc < 0)
    return rc;
  s->solves++;
  s->nodes += s->res.nodes;
  if (s->res.status == HANT_SELECT_TIME_LIMIT)
    s->timed_out = 1;
  if (!s->res.has_choice)
    return 0;
  if (!n->choice && (!(n->choice = malloc(s->G * sizeof *n->choice)) ||
                     !(n->totals = malloc((s->K ? s->K : 1) * sizeof *n->totals))))
    return hant__error(HANT_ENOMEM, "select: out of memory for the k best choices");
  size_t o = 0;
  for (size_t i = 0; i < s->G; i++) {
    n->choice[i] = s->sub_item[o + s->res.choice[i]];
    o += s->sub_size[i];
  }
  value_of(s, n->choice, &n->objective, n->totals);
  return 1;
}

static int lex_less(const size_t *a, const size_t *b, size_t G) {
  for (size_t i = 0; i < G; i++)
    if (a[i] != b[i])
      return a[i] < b[i];
  return 0;
}

/* The open node reported next: the best objective, then the
 * lexicographically smallest choice (exact comparisons: any fixed order
 * makes the search the same on every run). */
static size_t best_open(const struct search *s) {
  size_t b = 0;
  for (size_t i = 1; i < s->n_open; i++) {
    const struct node *x = &s->open[i], *y = &s->open[b];
    if (x->objective > y->objective || (x->objective == y->objective && lex_less(x->choice, y->choice, s->G)))
      b = i;
  }
  return b;
}

/* Takes ownership of *n (cleared) and keeps it open. */
static int push_open(struct search *s, struct node *n) {
  if (s->n_open == s->cap_open) {
    size_t cap = s->cap_open ? 2 * s->cap_open : 16;
    struct node *o = realloc(s->open, cap * sizeof *o);
    if (!o)
      return hant__error(HANT_ENOMEM, "select: out of memory for the k best choices");
    s->open = o;
    s->cap_open = cap;
  }
  s->open[s->n_open++] = *n;
  memset(n, 0, sizeof *n);
  return 0;
}

static int add_found(struct search *s, const struct node *n) {
  if (s->n_found == s->cap_found) {
    size_t cap = s->cap_found ? 2 * s->cap_found : 8;
    size_t *c = realloc(s->f_choice, cap * s->G * sizeof *c);
    if (c)
      s->f_choice = c;
    double *o = realloc(s->f_obj, cap * sizeof *o);
    if (o)
      s->f_obj = o;
    double *t = realloc(s->f_totals, cap * (s->K ? s->K : 1) * sizeof *t);
    if (t)
      s->f_totals = t;
    if (!c || !o || !t)
      return hant__error(HANT_ENOMEM, "select: out of memory for the k best choices");
    s->cap_found = cap;
  }
  memcpy(&s->f_choice[s->n_found * s->G], n->choice, s->G * sizeof *n->choice);
  memcpy(&s->f_totals[s->n_found * s->K], n->totals, s->K * sizeof *n->totals);
  s->f_obj[s->n_found++] = n->objective;
  return 0;
}

/* Lawler's partition of x's space less x: for each slot i that still has
 * a choice to make, the subproblem with slots before i fixed at x and x's
 * candidate of slot i forbidden. The parts are disjoint and together they
 * hold every other choice of x's space. */
static int branch(struct search *s, const struct node *x) {
  int rc = 0;
  uint8_t *cur = malloc(s->n_items);
  if (!cur)
    return hant__error(HANT_ENOMEM, "select: out of memory for the k best choices");
  memcpy(cur, x->allow, s->n_items);
  for (size_t i = 0; i < s->G && !s->timed_out; i++) {
    size_t lo = s->off[i], hi = s->off[i + 1], c = 0;
    for (size_t g = lo; g < hi; g++)
      c += cur[g];
    if (c > 1) {
      struct node ch = {0};
      if (!(ch.allow = malloc(s->n_items))) {
        rc = hant__error(HANT_ENOMEM, "select: out of memory for the k best choices");
        break;
      }
      memcpy(ch.allow, cur, s->n_items);
      ch.allow[lo + x->choice[i]] = 0;
      rc = solve_node(s, &ch);
      if (rc == 1)
        rc = push_open(s, &ch);
      node_free(&ch);
      if (rc < 0)
        break;
      rc = 0;
    }
    for (size_t g = lo; g < hi; g++)
      cur[g] = g == lo + x->choice[i];
  }
  free(cur);
  return rc;
}

/* a comes before b: a better objective, or a tie (within the value
 * tolerance) and a lexicographically smaller choice. */
static int found_before(const struct search *s, size_t a, size_t b) {
  double va = s->f_obj[a], vb = s->f_obj[b];
  if (fabs(va - vb) > s->vtol)
    return va > vb;
  return lex_less(&s->f_choice[a * s->G], &s->f_choice[b * s->G], s->G);
}

static void search_free(struct search *s) {
  for (size_t i = 0; i < s->n_open; i++)
    node_free(&s->open[i]);
  free(s->open);
  free(s->off);
  free(s->sub_size);
  free(s->sub_value);
  free(s->sub_cost);
  free(s->sub_item);
  free(s->f_choice);
  free(s->f_obj);
  free(s->f_totals);
  hant_select_result_free(&s->res);
}

int hant_select_kbest(const struct hant_select_problem *p, size_t k, struct hant_select_kbest *r) {
  if (!r)
    return hant__error(HANT_EINVAL, "select: k best: result is NULL");
  hant_select_kbest_free(r);
  int rc = hant_select_check(p);
  if (rc < 0)
    return rc;
  if (k == 0 || k > SIZE_MAX / 4)
    return hant__error(HANT_EINVAL, "select: k best: k must be at least 1, not %zu", k);
  double t0 = hant_now_s();
  struct search s;
  memset(&s, 0, sizeof s);
  struct node root = {0};
  size_t *order = NULL;
  s.p = p;
  s.G = p->n_groups;
  s.K = p->n_dims;
  s.deadline = hant__select_deadline(t0, p->time_limit_ms);
  s.off = malloc((s.G + 1) * sizeof *s.off);
  if (!s.off) {
    rc = hant__error(HANT_ENOMEM, "select: out of memory for the k best choices");
    goto out;
  }
  s.off[0] = 0;
  double vscale = 0;
  for (size_t i = 0; i < s.G; i++) {
    s.off[i + 1] = s.off[i] + p->group_size[i];
    double mx = 0;
    for (size_t j = 0; j < p->group_size[i]; j++)
      mx = dmax(mx, fabs(p->value[s.off[i] + j]));
    vscale += mx;
  }
  s.vtol = VALUE_RTOL * (1 + vscale);
  s.n_items = s.off[s.G];
  s.sub_size = malloc(s.G * sizeof *s.sub_size);
  s.sub_value = malloc(s.n_items * sizeof *s.sub_value);
  s.sub_cost = malloc((s.n_items * s.K + 1) * sizeof *s.sub_cost);
  s.sub_item = malloc(s.n_items * sizeof *s.sub_item);
  root.allow = malloc(s.n_items);
  if (!s.sub_size || !s.sub_value || !s.sub_cost || !s.sub_item || !root.allow) {
    rc = hant__error(HANT_ENOMEM, "select: out of memory for the k best choices");
    goto out;
  }
  s.sub = *p;
  s.sub.group_size = s.sub_size;
  s.sub.value = s.sub_value;
  s.sub.cost = s.K ? s.sub_cost : NULL;
  memset(root.allow, 1, s.n_items);
  rc = solve_node(&s, &root);
  if (rc < 0)
    goto out;
  if (rc == 1 && (rc = push_open(&s, &root)) < 0)
    goto out;
  /* Report the best open optimum until k are reported; then go on while
   * the next one ties with the k-th, up to 2k, so that the tied choices
   * kept are the lexicographically smallest. */
  while (s.n_open) {
    size_t b = best_open(&s);
    if (s.n_found >= k) {
      double last = INFINITY;
      for (size_t i = 0; i < s.n_found; i++)
        last = dmin(last, s.f_obj[i]);
      if (s.n_found >= 2 * k || s.open[b].objective < last - s.vtol)
        break;
    }
    struct node x = s.open[b];
    s.open[b] = s.open[--s.n_open];
    rc = add_found(&s, &x);
    if (!rc && !s.timed_out && s.n_found < 2 * k)
      rc = branch(&s, &x);
    node_free(&x);
    if (rc < 0)
      goto out;
    if (s.timed_out)
      break;
  }
  /* Best first, ties in lexicographic order. Insertion sort: the list is
   * short and nearly sorted, and it stays well defined although ties
   * within a tolerance are not transitive. */
  size_t nf = s.n_found, n = nf < k ? nf : k;
  if (!(order = malloc((nf ? nf : 1) * sizeof *order))) {
    rc = hant__error(HANT_ENOMEM, "select: out of memory for the k best choices");
    goto out;
  }
  for (size_t i = 0; i < nf; i++) {
    size_t j = i;
    for (; j > 0 && found_before(&s, i, order[j - 1]); j--)
      order[j] = order[j - 1];
    order[j] = i;
  }
  r->choice = malloc((n * s.G + 1) * sizeof *r->choice);
  r->objective = malloc((n + 1) * sizeof *r->objective);
  r->totals = malloc((n * s.K + 1) * sizeof *r->totals);
  if (!r->choice || !r->objective || !r->totals) {
    hant_select_kbest_free(r);
    rc = hant__error(HANT_ENOMEM, "select: out of memory for the k best choices");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    size_t f = order[i];
    memcpy(&r->choice[i * s.G], &s.f_choice[f * s.G], s.G * sizeof *r->choice);
    memcpy(&r->totals[i * s.K], &s.f_totals[f * s.K], s.K * sizeof *r->totals);
    r->objective[i] = s.f_obj[f];
  }
  r->n = n;
  r->n_groups = s.G;
  r->n_dims = s.K;
  r->status = s.timed_out ? HANT_SELECT_TIME_LIMIT : n ? HANT_SELECT_OPTIMAL : HANT_SELECT_INFEASIBLE;
  r->solves = s.solves;
  r->nodes = s.nodes;
  rc = 0;
out:
  free(order);
  node_free(&root);
  search_free(&s);
  r->solve_ms = (hant_now_s() - t0) * 1e3;
  return rc;
}
