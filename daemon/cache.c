/* SPDX-License-Identifier: MIT */
/* cache.c: a bounded least-recently-used map from request keys to answers, used only on the event loop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "hant.h"

typedef struct entry {
  char *key, *body;
  uint64_t hash;
  struct entry *prev, *next; /* recency list, most recent first */
  struct entry *chain;       /* hash bucket */
} entry;

struct hantd_cache {
  size_t capacity, size, n_buckets;
  entry **buckets;
  entry *head, *tail;
};

static uint64_t hash_of(const char *s) { return hant_fnv_str(HANT_FNV_BASIS, s); }

hantd_cache *hantd_cache_new(size_t capacity) {
  hantd_cache *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->capacity = capacity;
  c->n_buckets = 16;
  while (c->n_buckets < capacity * 2 && c->n_buckets < ((size_t)1 << 24))
    c->n_buckets *= 2;
  c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
  if (!c->buckets) {
    free(c);
    return NULL;
  }
  return c;
}

static void unlink_lru(hantd_cache *c, entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    c->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    c->tail = e->prev;
  e->prev = e->next = NULL;
}

static void push_front(hantd_cache *c, entry *e) {
  e->prev = NULL;
  e->next = c->head;
  if (c->head)
    c->head->prev = e;
  c->head = e;
  if (!c->tail)
    c->tail = e;
}

static void remove_entry(hantd_cache *c, entry *e) {
  entry **pp = &c->buckets[e->hash & (c->n_buckets - 1)];
  while (*pp && *pp != e)
    pp = &(*pp)->chain;
  if (*pp)
    *pp = e->chain;
  unlink_lru(c, e);
  free(e->key);
  free(e->body);
  free(e);
  c->size--;
}

const char *hantd_cache_get(hantd_cache *c, const char *key) {
  if (!c || !c->capacity)
    return NULL;
  uint64_t h = hash_of(key);
  for (entry *e = c->buckets[h & (c->n_buckets - 1)]; e; e = e->chain)
    if (e->hash == h && !strcmp(e->key, key)) {
      unlink_lru(c, e);
      push_front(c, e);
      return e->body;
    }
  return NULL;
}

void hantd_cache_put(hantd_cache *c, const char *key, const char *body) {
  if (!c || !c->capacity)
    return;
  uint64_t h = hash_of(key);
  for (entry *e = c->buckets[h & (c->n_buckets - 1)]; e; e = e->chain)
    if (e->hash == h && !strcmp(e->key, key))
      return; /* identical answer already kept */
  entry *e = calloc(1, sizeof(*e));
  if (!e)
    return;
  e->key = strdup(key);
  e->body = strdup(body);
  if (!e->key || !e->body) {
    free(e->key);
    free(e->body);
    free(e);
    return;
  }
  e->hash = h;
  entry **b = &c->buckets[h & (c->n_buckets - 1)];
  e->chain = *b;
  *b = e;
  push_front(c, e);
  c->size++;
  while (c->size > c->capacity && c->tail)
    remove_entry(c, c->tail);
}

void hantd_cache_clear(hantd_cache *c) {
  if (!c)
    return;
  while (c->head)
    remove_entry(c, c->head);
}

size_t hantd_cache_size(const hantd_cache *c) { return c ? c->size : 0; }

void hantd_cache_destroy(hantd_cache *c) {
  if (!c)
    return;
  hantd_cache_clear(c);
  free(c->buckets);
  free(c);
}
