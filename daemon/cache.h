/* SPDX-License-Identifier: MIT */
/* cache.h: a bounded least-recently-used map from request keys to answers, used only on the event loop. */
#ifndef HANTD_CACHE_H
#define HANTD_CACHE_H

#include <stddef.h>

typedef struct hantd_cache hantd_cache;

/* NULL when out of memory; every function below accepts a NULL cache and
 * then keeps nothing. A capacity of 0 also keeps nothing. */
hantd_cache *hantd_cache_new(size_t capacity);
void hantd_cache_destroy(hantd_cache *c);
/* The cached body of key, or NULL; a hit moves the entry to the front. The
 * body belongs to the cache and stays valid until the next put or clear. */
const char *hantd_cache_get(hantd_cache *c, const char *key);
/* Stores a copy of body under key, evicting the least recently used entry. */
void hantd_cache_put(hantd_cache *c, const char *key, const char *body);
void hantd_cache_clear(hantd_cache *c);
size_t hantd_cache_size(const hantd_cache *c);

#endif
