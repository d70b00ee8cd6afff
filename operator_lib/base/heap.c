/* SPDX-License-Identifier: MIT */
/* heap.c: the binary min-heap of merge cursors that the selection's dynamic program and Pareto front merge with. */
#include "heap.h"

static int before(const struct hant_heap_entry *a, const struct hant_heap_entry *b) {
  if (a->cost != b->cost)
    return a->cost < b->cost;
  return a->value > b->value;
}

void hant_heap_sift_down(struct hant_heap_entry *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && before(&h[l], &h[m]))
      m = l;
    if (l + 1 < n && before(&h[l + 1], &h[m]))
      m = l + 1;
    if (m == i)
      return;
    struct hant_heap_entry t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

void hant_heap_build(struct hant_heap_entry *h, size_t n) {
  for (size_t i = n / 2; i-- > 0;) /* entries from n / 2 on are leaves */
    hant_heap_sift_down(h, n, i);
}

size_t hant_heap_pop(struct hant_heap_entry *h, size_t n) {
  h[0] = h[--n];
  hant_heap_sift_down(h, n, 0);
  return n;
}
