/* SPDX-License-Identifier: MIT */
/* heap.h: a binary min-heap of merge cursors, for k-way merges of lists sorted by cost. */
#ifndef HANT_HEAP_H
#define HANT_HEAP_H

#include <stddef.h>
#include <stdint.h>

/* One cursor of a k-way merge: the cost and value of the element it points
 * at, and where that element is. The caller owns the array of entries and
 * its size; the functions below only reorder it. The top, h[0], is the
 * entry of least cost, and of highest value among equal costs; entries
 * equal in both come in no particular order. */
struct hant_heap_entry {
  double cost;   /* the key: smaller comes first */
  double value;  /* breaks ties in cost: larger comes first */
  uint32_t pos;  /* position of the element within its list (the caller's meaning) */
  uint32_t list; /* which list the cursor walks (the caller's meaning) */
};

/* The functions are inline: the solver's dynamic program pops once per
 * state it merges, and a call across files there costs about 4% of a
 * one-budget solve (tests/select/bench_select). */

static inline int hant__heap_before(const struct hant_heap_entry *a, const struct hant_heap_entry *b) {
  if (a->cost != b->cost)
    return a->cost < b->cost;
  return a->value > b->value;
}

/* Restores the heap below position i after h[i] was replaced by an entry
 * that does not come before its parent; at i = 0 any entry may replace the
 * top. This is how a cursor advances: the top is overwritten with the next
 * element of its list and sifted down. */
static inline void hant_heap_sift_down(struct hant_heap_entry *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && hant__heap_before(&h[l], &h[m]))
      m = l;
    if (l + 1 < n && hant__heap_before(&h[l + 1], &h[m]))
      m = l + 1;
    if (m == i)
      return;
    struct hant_heap_entry t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

/* Arranges h[0..n) into a heap in place. n may be 0. */
static inline void hant_heap_build(struct hant_heap_entry *h, size_t n) {
  for (size_t i = n / 2; i-- > 0;) /* entries from n / 2 on are leaves */
    hant_heap_sift_down(h, n, i);
}

/* Removes the top of a heap of n >= 1 entries: the last entry takes its
 * place and sifts down. Returns the new size, n - 1. */
static inline size_t hant_heap_pop(struct hant_heap_entry *h, size_t n) {
  h[0] = h[--n];
  hant_heap_sift_down(h, n, 0);
  return n;
}

#endif
