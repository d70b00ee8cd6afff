/* SPDX-License-Identifier: MIT */
/* select_dp.c: the one-budget dynamic program over slots with Pareto states, which takes turns with the branch and bound. */
#include <math.h>
#include <string.h>

#include "base.h"
#include "heap.h"
#include "select_internal.h"

/*
 * A state is a partial choice (cost, value). States of equal or higher cost
 * and no higher value are dropped (dominance), as are states whose value
 * plus the LP bound of the remaining slots cannot beat the incumbent. When
 * costs repeat (integers, ties) states merge, which is what makes strongly
 * correlated instances tractable; when they do not merge and the state
 * lists grow past a cap, the caller falls back to the depth-first search.
 */

#define DP_LAYER_CAP ((size_t)1 << 20)
#define DP_TOTAL_CAP ((size_t)1 << 23)

struct dpstate {
  double c, v, bound; /* cost, value, upper bound on any completion */
};

struct dplink {
  uint32_t parent; /* index of the parent state in the previous layer */
  uint32_t cand;   /* depth-order candidate taken */
};

/* Each layer is a k-way merge of (states + candidate j) streams, all
 * sorted by cost, so dominance is a running maximum of value. A heap
 * cursor's list is the candidate j (in cost order) and its position the
 * state it extends. */
int hant__select_dp_search(struct bnb *b, double vtol, uint64_t work) {
  size_t G = b->G;
  int rc = 0;
  uint64_t work_end = b->nodes + work;
  size_t maxg = 0, total = 0;
  for (size_t d = 0; d < G; d++)
    maxg = b->dstart[d + 1] - b->dstart[d] > maxg ? b->dstart[d + 1] - b->dstart[d] : maxg;
  struct dpstate *cur = NULL, *nxt = NULL;
  size_t ncur = 1, nnxt = 0, cap_cur = 1024, cap_nxt = 0, cap_link = 0;
  struct dplink **links = calloc(G, sizeof *links);
  uint32_t *order = malloc((maxg + 1) * sizeof *order);
  struct hant_heap_entry *heap = malloc((maxg + 1) * sizeof *heap);
  cur = malloc(cap_cur * sizeof *cur);
  if (!links || !order || !heap || !cur)
    goto nomem;
  double R = b->Rf[0], tol = b->tolf[0];
  cur[0] = (struct dpstate){0, 0, hant__select_bnb_bound(b, 0, 0, b->Rf, -INFINITY)};
  unsigned tick = 0;
  for (size_t d = 0; d < G; d++) {
    size_t c0 = b->dstart[d], m = b->dstart[d + 1] - c0;
    /* candidates by cost; with one budget, dominance left values increasing */
    for (size_t j = 0; j < m; j++)
      order[j] = (uint32_t)(c0 + j);
    for (size_t j = 1; j < m; j++) {
      uint32_t t = order[j];
      size_t q = j;
      while (q > 0 && b->dfc[order[q - 1]] > b->dfc[t]) {
        order[q] = order[q - 1];
        q--;
      }
      order[q] = t;
    }
    int last = d + 1 == G;
    size_t hn = 0;
    for (size_t j = 0; j < m; j++)
      heap[hn++] = (struct hant_heap_entry){cur[0].c + b->dfc[order[j]], cur[0].v + b->dv[order[j]],
                                            0, (uint32_t)j};
    hant_heap_build(heap, hn);
    double vbest = -INFINITY;
    nnxt = 0;
    cap_link = 0;
    while (hn) {
      if ((++tick & 4095) == 0 && hant_now_s() > b->deadline) {
        double ub = -INFINITY;
        for (size_t q = 0; q < ncur; q++)
          ub = dmax(ub, cur[q].bound);
        b->timed_out = 1;
        b->ub_left = ub;
        goto out;
      }
      struct hant_heap_entry e = heap[0];
      if (++b->nodes >= work_end) {
        rc = 1; /* out of work: inconclusive */
        goto out;
      }
      if (e.cost > R + tol) {
        /* this stream only gets dearer */
        hn = hant_heap_pop(heap, hn);
        continue;
      }
      if (e.value > vbest) {
        /* Not dominated. A state pruned by its bound still counts for
         * dominance: any dearer, worse state has a lower bound. */
        vbest = e.value;
        if (last) {
          if (e.value > b->z) {
            b->z = e.value;
            b->have = 1;
            b->best[b->dgroup[d]] = b->dcand[order[e.list]];
            uint32_t s = e.pos;
            for (size_t q = d; q-- > 0;) {
              b->best[b->dgroup[q]] = b->dcand[links[q][s].cand];
              s = links[q][s].parent;
            }
          }
        } else {
          double bd =
              e.value + (d + 1 >= b->d0 ? env_eval(&b->env[d + 1], b->hl[0].slope, R - e.cost, tol)
                                        : b->lagsum[d + 1] + b->lam_f[0] * dmax(R - e.cost, 0));
          if (bd > b->z + vtol) {
            if (nnxt + 1 > DP_LAYER_CAP || total + nnxt + 1 > DP_TOTAL_CAP) {
              rc = 1;
              goto out;
            }
            if (nnxt == cap_nxt) {
              size_t nc = cap_nxt ? 2 * cap_nxt : 1024;
              struct dpstate *t = realloc(nxt, nc * sizeof *t);
              if (!t)
                goto nomem;
              nxt = t;
              cap_nxt = nc;
            }
            if (nnxt == cap_link) {
              size_t nc = cap_link ? 2 * cap_link : 1024;
              struct dplink *t = realloc(links[d], nc * sizeof *t);
              if (!t)
                goto nomem;
              links[d] = t;
              cap_link = nc;
            }
            nxt[nnxt] = (struct dpstate){e.cost, e.value, bd};
            links[d][nnxt] = (struct dplink){e.pos, order[e.list]};
            nnxt++;
          }
        }
      }
      if (e.pos + 1 < ncur) {
        e.pos++;
        heap[0] = (struct hant_heap_entry){cur[e.pos].c + b->dfc[order[e.list]],
                                           cur[e.pos].v + b->dv[order[e.list]], e.pos, e.list};
        hant_heap_sift_down(heap, hn, 0);
      } else {
        hn = hant_heap_pop(heap, hn);
      }
    }
    if (last)
      break;
    total += nnxt;
    struct dpstate *t = cur;
    size_t tc = cap_cur;
    cur = nxt;
    cap_cur = cap_nxt;
    ncur = nnxt;
    nxt = t;
    cap_nxt = tc;
    if (ncur == 0)
      break; /* nothing beats the incumbent */
  }
out:
  free(cur);
  free(nxt);
  if (links)
    for (size_t d = 0; d < G; d++)
      free(links[d]);
  free(links);
  free(order);
  free(heap);
  return rc;
nomem:
  rc = hant__error(HANT_ENOMEM, "select: out of memory in the dynamic program");
  goto out;
}
