/* SPDX-License-Identifier: MIT */
/* arena.c: the arena allocator behind every forward and backward pass. */
#include "arena.h"

#include <string.h>

#include "base.h"

struct hant_arena_block {
  hant_arena_block *next;
  size_t cap, used;
  uint8_t *mem;
};

void hant_arena_init(hant_arena *a, size_t block_bytes) {
  memset(a, 0, sizeof(*a));
  a->block_bytes = block_bytes ? block_bytes : ((size_t)64 << 20);
}

void hant_arena_free(hant_arena *a) {
  if (!a)
    return;
  hant_arena_block *b = a->blocks;
  while (b) {
    hant_arena_block *next = b->next;
    free(b->mem);
    free(b);
    b = next;
  }
  a->blocks = a->head = NULL;
  a->used_bytes = 0;
}

void hant_arena_reset(hant_arena *a) {
  /* Coalesce: if more than one block was needed, replace them by one block
   * big enough for the peak, so steady-state passes use a single block. */
  size_t total = 0, nblocks = 0;
  for (hant_arena_block *b = a->blocks; b; b = b->next) {
    total += b->cap;
    nblocks++;
  }
  if (nblocks > 1) {
    hant_arena_free(a);
    if (total > a->block_bytes)
      a->block_bytes = total;
  }
  for (hant_arena_block *b = a->blocks; b; b = b->next)
    b->used = 0;
  a->head = a->blocks;
  a->used_bytes = 0;
}

static hant_arena_block *block_new(size_t cap) {
  hant_arena_block *b = malloc(sizeof(*b));
  if (!b)
    return NULL;
  b->mem = aligned_alloc(64, cap);
  if (!b->mem) {
    free(b);
    return NULL;
  }
  b->cap = cap;
  b->used = 0;
  b->next = NULL;
  return b;
}

void *hant_arena_alloc(hant_arena *a, size_t bytes) {
  size_t need = (bytes + 63) & ~(size_t)63;
  if (need < bytes)
    return NULL;
  if (!a->head || a->head->cap - a->head->used < need) {
    /* Reuse a later block in the chain if one fits, else add a new one. */
    hant_arena_block *b = a->head ? a->head->next : NULL;
    while (b && b->cap - b->used < need)
      b = b->next;
    if (!b) {
      size_t cap = a->block_bytes > need ? a->block_bytes : need;
      cap = (cap + 63) & ~(size_t)63;
      b = block_new(cap);
      if (!b)
        return NULL;
      b->next = a->blocks;
      a->blocks = b;
    }
    a->head = b;
  }
  void *p = a->head->mem + a->head->used;
  a->head->used += need;
  a->used_bytes += need;
  if (a->used_bytes > a->peak_bytes)
    a->peak_bytes = a->used_bytes;
  return p;
}

float *hant_arena_floats(hant_arena *a, size_t n) {
  return hant_arena_alloc(a, n * sizeof(float));
}

float *hant_arena_zeros(hant_arena *a, size_t n) {
  float *p = hant_arena_alloc(a, n * sizeof(float));
  if (p)
    memset(p, 0, n * sizeof(float));
  return p;
}
