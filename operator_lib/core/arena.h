/* SPDX-License-Identifier: MIT */
/* arena.h: the bump allocator that owns a forward or backward pass's temporaries. */
#ifndef HANT_ARENA_H
#define HANT_ARENA_H

#include <stddef.h>

/* A bump allocator made of chained blocks. Allocation is O(1); everything is
 * released at once by hant_arena_reset (keeps the memory for the next pass)
 * or hant_arena_free. The caller allocates the struct (init/free). */
typedef struct hant_arena_block hant_arena_block;
typedef struct hant_arena {
  hant_arena_block *head;    /* block currently being filled */
  hant_arena_block *blocks;  /* all blocks, newest first */
  size_t block_bytes;        /* default size of a new block */
  size_t used_bytes;         /* bytes handed out since the last reset */
  size_t peak_bytes;         /* high-water mark of used_bytes */
} hant_arena;

void hant_arena_init(hant_arena *a, size_t block_bytes);
void hant_arena_free(hant_arena *a);
/* Forgets every allocation; keeps the largest block to reuse. */
void hant_arena_reset(hant_arena *a);
/* 64-byte aligned, uninitialised; NULL when memory is exhausted. */
void *hant_arena_alloc(hant_arena *a, size_t bytes);
/* n floats, uninitialised / zeroed. */
float *hant_arena_floats(hant_arena *a, size_t n);
float *hant_arena_zeros(hant_arena *a, size_t n);

#endif
