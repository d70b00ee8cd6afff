/* SPDX-License-Identifier: MIT */
/* problem_json.c: parses selection problem files defensively and writes answers, the only jansson
 * user in the selection path. */
#include "problem_json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base.h"

void hant_problem_limits_default(struct hant_problem_limits *l) {
  l->max_bytes = (size_t)64 << 20;
  l->max_groups = 100000;
  l->max_items = 4000000;
  l->max_keys = 64;
  l->max_name = 256;
}

void hant_problem_destroy(struct hant_problem *p) {
  if (!p)
    return;
  if (p->group_name)
    for (size_t i = 0; i < p->n_groups; i++)
      free(p->group_name[i]);
  if (p->item_id)
    for (size_t i = 0; i < p->n_items; i++)
      free(p->item_id[i]);
  if (p->key)
    for (size_t k = 0; k < p->n_keys; k++)
      free(p->key[k]);
  free(p->source);
  free(p->group_name);
  free(p->group_size);
  free(p->item_id);
  free(p->value);
  free(p->key);
  free(p->cost);
  free(p->has_budget);
  free(p->budget);
  free(p->dim_key);
  free(p->dim_cost);
  free(p->dim_budget);
  free(p->axis_dim_key);
  free(p->axis_cost);
  free(p->axis_budget);
  free(p);
}

/* What a JSON value is, for "expected X, got Y" messages. */
static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER:
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  case JSON_NULL: return "null";
  }
  return "something else";
}

/* Copies an untrusted key into buf for a message: printable ASCII only,
 * at most 64 bytes. */
static const char *printable(const char *s, char *buf, size_t n) {
  size_t o = 0;
  for (; *s && o + 4 < n && o < 64; s++)
    buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
  if (*s) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
  return buf;
}

static int finite_number(const json_t *v, double *out) {
  if (!json_is_number(v))
    return 0;
  double x = json_number_value(v);
  if (!isfinite(x))
    return 0;
  *out = x;
  return 1;
}

/* A name: a non-empty string within the length limit, without NUL or
 * control characters. Returns NULL and sets *why otherwise. */
static const char *valid_name(const json_t *v, size_t max, const char **why) {
  if (!json_is_string(v)) {
    *why = "expected a string";
    return NULL;
  }
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n == 0) {
    *why = "must not be empty";
    return NULL;
  }
  if (n > max) {
    *why = "is too long";
    return NULL;
  }
  if (strlen(s) != n) {
    *why = "must not contain NUL characters";
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
      *why = "must not contain control characters";
      return NULL;
    }
  return s;
}

static int allowed(const char *key, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(key, *list))
      return 1;
  return 0;
}

struct name_ref {
  const char *s;
  size_t i;
};

static int name_ref_cmp(const void *a, const void *b) {
  const struct name_ref *x = a, *y = b;
  int c = strcmp(x->s, y->s);
  if (c)
    return c;
  return x->i < y->i ? -1 : (x->i > y->i);
}

/* Finds a duplicate among n names; returns 1 and the two indices. */
static int find_duplicate(struct name_ref *refs, size_t n, size_t *first, size_t *second) {
  qsort(refs, n, sizeof *refs, name_ref_cmp);
  for (size_t i = 1; i < n; i++)
    if (!strcmp(refs[i - 1].s, refs[i].s)) {
      *first = refs[i - 1].i;
      *second = refs[i].i;
      return 1;
    }
  return 0;
}

static const char *const top_fields[] = {"groups",      "budgets", "time_limit_ms", "name",
                                         "description", "meta",    "$schema",       NULL};
static const char *const group_fields[] = {"name", "items", "description", "meta", NULL};
static const char *const item_fields[] = {"id", "value", "cost", "description", "meta", NULL};

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

#define FAIL(code, ...)                                                                            \
  do {                                                                                             \
    rc = hant__error(code, __VA_ARGS__);                                                           \
    goto fail;                                                                                     \
  } while (0)

int hant_problem_parse(const char *text, size_t len, const char *source,
                       const struct hant_problem_limits *lim, struct hant_problem **out) {
  struct hant_problem_limits dl;
  if (!lim) {
    hant_problem_limits_default(&dl);
    lim = &dl;
  }
  if (!out || (!text && len))
    return hant__error(HANT_EINVAL, "problem: NULL argument");
  *out = NULL;
  const char *src = source ? source : "<problem>";
  if (len > lim->max_bytes)
    return hant__error(HANT_ELIMIT, "%s: %zu bytes, over the limit of %zu bytes", src, len,
                       lim->max_bytes);
  int rc = 0;
  char kb[80], kb2[80];
  struct name_ref *refs = NULL;
  json_error_t jerr;
  json_t *root = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &jerr);
  struct hant_problem *p = calloc(1, sizeof *p);
  if (!p) {
    json_decref(root);
    return hant__error(HANT_ENOMEM, "%s: out of memory", src);
  }
  p->source = dup_str(src);
  p->time_limit_ms = -1;
  if (!p->source)
    FAIL(HANT_ENOMEM, "%s: out of memory", src);
  if (!root)
    FAIL(HANT_EFORMAT, "%s:%d:%d: %s", src, jerr.line, jerr.column, jerr.text);
  if (!json_is_object(root))
    FAIL(HANT_EFORMAT, "%s: expected an object at the top level, got %s", src, type_name(root));

  const char *key;
  size_t klen;
  json_t *val;
  json_object_keylen_foreach(root, key, klen, val) {
    if (strlen(key) != klen)
      FAIL(HANT_EFORMAT, "%s: a field name contains a NUL character", src);
    if (!allowed(key, top_fields))
      FAIL(HANT_EFORMAT,
           "%s: unknown field \"%s\" at the top level (expected groups, budgets, "
           "time_limit_ms, name, description, meta)",
           src, printable(key, kb, sizeof kb));
  }
  json_t *groups = json_object_get(root, "groups");
  if (!groups)
    FAIL(HANT_EFORMAT, "%s: groups: missing (expected an array of groups)", src);
  if (!json_is_array(groups))
    FAIL(HANT_EFORMAT, "%s: groups: expected an array, got %s", src, type_name(groups));
  size_t G = json_array_size(groups);
  if (G == 0)
    FAIL(HANT_EFORMAT, "%s: groups: must not be empty", src);
  if (G > lim->max_groups)
    FAIL(HANT_ELIMIT, "%s: groups: %zu groups, over the limit of %zu", src, G, lim->max_groups);
  json_t *tl = json_object_get(root, "time_limit_ms");
  if (tl) {
    double t;
    if (!finite_number(tl, &t) || t < 0 || t > 1e9)
      FAIL(HANT_EFORMAT, "%s: time_limit_ms: expected a number from 0 to 1e9, got %s", src,
           json_is_number(tl) ? "a number out of range" : type_name(tl));
    p->time_limit_ms = t;
  }

  /* Pass 1: shapes, ids, values, and the set of cost keys. */
  size_t N = 0, maxg = 0;
  p->key = calloc(lim->max_keys + 1, sizeof *p->key);
  p->group_name = calloc(G, sizeof *p->group_name);
  p->group_size = calloc(G, sizeof *p->group_size);
  if (!p->key || !p->group_name || !p->group_size)
    FAIL(HANT_ENOMEM, "%s: out of memory", src);
  p->n_groups = G;
  for (size_t i = 0; i < G; i++) {
    json_t *g = json_array_get(groups, i);
    if (!json_is_object(g))
      FAIL(HANT_EFORMAT, "%s: groups[%zu]: expected an object, got %s", src, i, type_name(g));
    json_object_keylen_foreach(g, key, klen, val) {
      if (strlen(key) != klen)
        FAIL(HANT_EFORMAT, "%s: groups[%zu]: a field name contains a NUL character", src, i);
      if (!allowed(key, group_fields))
        FAIL(HANT_EFORMAT,
             "%s: groups[%zu]: unknown field \"%s\" (expected name, items, description, meta)", src,
             i, printable(key, kb, sizeof kb));
    }
    json_t *name = json_object_get(g, "name");
    if (name) {
      const char *why = NULL, *s = valid_name(name, lim->max_name, &why);
      if (!s)
        FAIL(HANT_EFORMAT, "%s: groups[%zu].name: %s", src, i, why);
      p->group_name[i] = dup_str(s);
    } else {
      char nb[32];
      snprintf(nb, sizeof nb, "slot%zu", i);
      p->group_name[i] = dup_str(nb);
    }
    if (!p->group_name[i])
      FAIL(HANT_ENOMEM, "%s: out of memory", src);
    json_t *items = json_object_get(g, "items");
    if (!items)
      FAIL(HANT_EFORMAT, "%s: groups[%zu].items: missing (expected an array of candidates)", src,
           i);
    if (!json_is_array(items))
      FAIL(HANT_EFORMAT, "%s: groups[%zu].items: expected an array, got %s", src, i,
           type_name(items));
    size_t n = json_array_size(items);
    if (n == 0)
      FAIL(HANT_EFORMAT, "%s: groups[%zu].items: must not be empty (every slot needs a candidate)",
           src, i);
    if (n > lim->max_items - N)
      FAIL(HANT_ELIMIT, "%s: groups[%zu].items: more than %zu items in total", src, i,
           lim->max_items);
    N += n;
    p->group_size[i] = n;
    if (n > maxg)
      maxg = n;
    for (size_t j = 0; j < n; j++) {
      json_t *it = json_array_get(items, j);
      if (!json_is_object(it))
        FAIL(HANT_EFORMAT, "%s: groups[%zu].items[%zu]: expected an object, got %s", src, i, j,
             type_name(it));
      json_object_keylen_foreach(it, key, klen, val) {
        if (strlen(key) != klen)
          FAIL(HANT_EFORMAT, "%s: groups[%zu].items[%zu]: a field name contains a NUL character",
               src, i, j);
        if (!allowed(key, item_fields))
          FAIL(HANT_EFORMAT,
               "%s: groups[%zu].items[%zu]: unknown field \"%s\" (expected id, value, cost, "
               "description, meta)",
               src, i, j, printable(key, kb, sizeof kb));
      }
      json_t *id = json_object_get(it, "id");
      if (!id)
        FAIL(HANT_EFORMAT, "%s: groups[%zu].items[%zu].id: missing (expected a string)", src, i, j);
      const char *why = NULL;
      if (!valid_name(id, lim->max_name, &why))
        FAIL(HANT_EFORMAT, "%s: groups[%zu].items[%zu].id: %s%s%s", src, i, j, why,
             json_is_string(id) ? "" : ", got ", json_is_string(id) ? "" : type_name(id));
      json_t *v = json_object_get(it, "value");
      double x;
      if (!v)
        FAIL(HANT_EFORMAT, "%s: groups[%zu].items[%zu].value: missing (expected a finite number)",
             src, i, j);
      if (!finite_number(v, &x))
        FAIL(HANT_EFORMAT, "%s: groups[%zu].items[%zu].value: expected a finite number, got %s",
             src, i, j, type_name(v));
      json_t *cost = json_object_get(it, "cost");
      if (!cost)
        FAIL(HANT_EFORMAT,
             "%s: groups[%zu].items[%zu].cost: missing (expected an object of "
             "cost keys to numbers)",
             src, i, j);
      if (!json_is_object(cost))
        FAIL(HANT_EFORMAT, "%s: groups[%zu].items[%zu].cost: expected an object, got %s", src, i, j,
             type_name(cost));
      json_object_keylen_foreach(cost, key, klen, val) {
        if (strlen(key) != klen)
          FAIL(HANT_EFORMAT, "%s: groups[%zu].items[%zu].cost: a key contains a NUL character", src,
               i, j);
        const char *kwhy = NULL;
        json_t *ks = json_string(key);
        const char *ok = ks ? valid_name(ks, lim->max_name, &kwhy) : NULL;
        json_decref(ks);
        if (!ok)
          FAIL(HANT_EFORMAT, "%s: groups[%zu].items[%zu].cost: key \"%s\" %s", src, i, j,
               printable(key, kb, sizeof kb), kwhy ? kwhy : "is invalid");
        if (!finite_number(val, &x))
          FAIL(HANT_EFORMAT, "%s: groups[%zu].items[%zu].cost.%s: expected a finite number, got %s",
               src, i, j, printable(key, kb, sizeof kb), type_name(val));
        size_t k = 0;
        while (k < p->n_keys && strcmp(p->key[k], key))
          k++;
        if (k == p->n_keys) {
          if (p->n_keys == lim->max_keys)
            FAIL(HANT_ELIMIT, "%s: groups[%zu].items[%zu].cost.%s: more than %zu cost keys", src, i,
                 j, printable(key, kb, sizeof kb), lim->max_keys);
          p->key[p->n_keys] = dup_str(key);
          if (!p->key[p->n_keys])
            FAIL(HANT_ENOMEM, "%s: out of memory", src);
          p->n_keys++;
        }
      }
    }
  }
  size_t K = p->n_keys;

  /* Budgets: known keys, finite numbers. */
  p->has_budget = calloc(K + 1, sizeof *p->has_budget);
  p->budget = calloc(K + 1, sizeof *p->budget);
  if (!p->has_budget || !p->budget)
    FAIL(HANT_ENOMEM, "%s: out of memory", src);
  json_t *budgets = json_object_get(root, "budgets");
  if (budgets) {
    if (!json_is_object(budgets))
      FAIL(HANT_EFORMAT, "%s: budgets: expected an object of cost keys to numbers, got %s", src,
           type_name(budgets));
    json_object_keylen_foreach(budgets, key, klen, val) {
      if (strlen(key) != klen)
        FAIL(HANT_EFORMAT, "%s: budgets: a key contains a NUL character", src);
      size_t k = 0;
      while (k < K && strcmp(p->key[k], key))
        k++;
      if (k == K) {
        char list[256];
        size_t o = 0;
        list[0] = '\0';
        for (size_t q = 0; q < K && o + 70 < sizeof list; q++)
          o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", q ? ", " : "",
                                printable(p->key[q], kb2, sizeof kb2));
        FAIL(HANT_EFORMAT, "%s: budgets.%s: no item has this cost key (items have: %s)", src,
             printable(key, kb, sizeof kb), K ? list : "no costs");
      }
      double b;
      if (!finite_number(val, &b))
        FAIL(HANT_EFORMAT, "%s: budgets.%s: expected a finite number, got %s", src,
             printable(key, kb, sizeof kb), type_name(val));
      p->has_budget[k] = 1;
      p->budget[k] = b;
    }
  }

  /* Pass 2: fill; every item must give every key. */
  p->item_id = calloc(N, sizeof *p->item_id);
  p->value = malloc(N * sizeof *p->value);
  p->cost = malloc((N * K + 1) * sizeof *p->cost);
  refs = malloc((maxg > G ? maxg : G) * sizeof *refs);
  if (!p->item_id || !p->value || !p->cost || !refs)
    FAIL(HANT_ENOMEM, "%s: out of memory for %zu items", src, N);
  p->n_items = N;
  size_t o = 0;
  for (size_t i = 0; i < G; i++) {
    json_t *items = json_object_get(json_array_get(groups, i), "items");
    for (size_t j = 0; j < p->group_size[i]; j++, o++) {
      json_t *it = json_array_get(items, j);
      p->item_id[o] = dup_str(json_string_value(json_object_get(it, "id")));
      if (!p->item_id[o])
        FAIL(HANT_ENOMEM, "%s: out of memory", src);
      p->value[o] = json_number_value(json_object_get(it, "value"));
      json_t *cost = json_object_get(it, "cost");
      for (size_t k = 0; k < K; k++) {
        json_t *c = json_object_get(cost, p->key[k]);
        if (!c) {
          /* name where the key was first seen */
          size_t fi = 0, fj = 0, q = 0;
          for (size_t i2 = 0; i2 < G && !q; i2++) {
            json_t *its = json_object_get(json_array_get(groups, i2), "items");
            for (size_t j2 = 0; j2 < json_array_size(its) && !q; j2++)
              if (json_object_get(json_object_get(json_array_get(its, j2), "cost"), p->key[k])) {
                fi = i2;
                fj = j2;
                q = 1;
              }
          }
          FAIL(HANT_EFORMAT,
               "%s: groups[%zu].items[%zu].cost: missing \"%s\" (every item must give every "
               "cost key; groups[%zu].items[%zu] gives it)",
               src, i, j, printable(p->key[k], kb, sizeof kb), fi, fj);
        }
        p->cost[o * K + k] = json_number_value(c);
      }
    }
    /* ids unique within the group */
    size_t g0 = o - p->group_size[i];
    for (size_t j = 0; j < p->group_size[i]; j++)
      refs[j] = (struct name_ref){p->item_id[g0 + j], j};
    size_t a, b;
    if (find_duplicate(refs, p->group_size[i], &a, &b))
      FAIL(HANT_EFORMAT,
           "%s: groups[%zu].items[%zu].id: duplicate id \"%s\" (also groups[%zu].items[%zu])", src,
           i, b, printable(p->item_id[g0 + b], kb, sizeof kb), i, a);
  }
  for (size_t i = 0; i < G; i++)
    refs[i] = (struct name_ref){p->group_name[i], i};
  {
    size_t a, b;
    if (find_duplicate(refs, G, &a, &b))
      FAIL(HANT_EFORMAT, "%s: groups[%zu].name: duplicate name \"%s\" (also groups[%zu])", src, b,
           printable(p->group_name[b], kb, sizeof kb), a);
  }

  /* The solver's view. */
  size_t D = 0;
  for (size_t k = 0; k < K; k++)
    D += (size_t)p->has_budget[k];
  p->n_dims = D;
  p->dim_key = malloc((D + 1) * sizeof *p->dim_key);
  p->dim_cost = malloc((N * D + 1) * sizeof *p->dim_cost);
  p->dim_budget = malloc((D + 1) * sizeof *p->dim_budget);
  if (!p->dim_key || !p->dim_cost || !p->dim_budget)
    FAIL(HANT_ENOMEM, "%s: out of memory", src);
  for (size_t k = 0, d = 0; k < K; k++)
    if (p->has_budget[k]) {
      p->dim_key[d] = k;
      p->dim_budget[d] = p->budget[k];
      for (size_t t = 0; t < N; t++)
        p->dim_cost[t * D + d] = p->cost[t * K + k];
      d++;
    }
  json_decref(root);
  free(refs);
  *out = p;
  return 0;
fail:
  json_decref(root);
  free(refs);
  hant_problem_destroy(p);
  return rc;
}

int hant_problem_load(const char *path, const struct hant_problem_limits *lim,
                      struct hant_problem **out) {
  struct hant_problem_limits dl;
  if (!lim) {
    hant_problem_limits_default(&dl);
    lim = &dl;
  }
  if (!path || !out)
    return hant__error(HANT_EINVAL, "problem: NULL path");
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return hant__error(errno == ENOENT ? HANT_ENOENT : HANT_EIO, "%s: cannot open: %s", path,
                       strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (uintmax_t)st.st_size > lim->max_bytes) {
    fclose(f);
    return hant__error(HANT_ELIMIT, "%s: %jd bytes, over the limit of %zu bytes", path,
                       (intmax_t)st.st_size, lim->max_bytes);
  }
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    return hant__error(HANT_EIO, "%s: is a directory", path);
  }
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  int rc = 0;
  while (buf) {
    if (n == cap) {
      if (cap > lim->max_bytes) {
        rc = hant__error(HANT_ELIMIT, "%s: over the limit of %zu bytes", path, lim->max_bytes);
        break;
      }
      char *t = realloc(buf, cap * 2);
      if (!t) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = t;
      cap *= 2;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) {
      if (ferror(f))
        rc = hant__error(HANT_EIO, "%s: read error", path);
      break;
    }
  }
  fclose(f);
  if (!buf)
    return hant__error(HANT_ENOMEM, "%s: out of memory", path);
  if (rc == 0 && n > lim->max_bytes)
    rc = hant__error(HANT_ELIMIT, "%s: %zu bytes, over the limit of %zu bytes", path, n,
                     lim->max_bytes);
  if (rc == 0)
    rc = hant_problem_parse(buf, n, path, lim, out);
  free(buf);
  return rc;
}

long hant_problem_key_index(const struct hant_problem *p, const char *key) {
  if (!p || !key)
    return -1;
  for (size_t k = 0; k < p->n_keys; k++)
    if (!strcmp(p->key[k], key))
      return (long)k;
  return -1;
}

void hant_problem_view(const struct hant_problem *p, struct hant_select_problem *view) {
  view->n_groups = p->n_groups;
  view->group_size = p->group_size;
  view->n_dims = p->n_dims;
  view->value = p->value;
  view->cost = p->dim_cost;
  view->budget = p->dim_budget;
  view->time_limit_ms = p->time_limit_ms > 0 ? p->time_limit_ms : 0;
}

int hant_problem_view_axis(struct hant_problem *p, size_t key, struct hant_select_problem *view,
                           size_t *axis_dim) {
  if (!p || !view || !axis_dim || key >= p->n_keys)
    return hant__error(HANT_EINVAL, "problem: cost key index %zu out of range", key);
  hant_problem_view(p, view);
  for (size_t d = 0; d < p->n_dims; d++)
    if (p->dim_key[d] == key) {
      *axis_dim = d;
      return 0;
    }
  size_t D = p->n_dims + 1, N = p->n_items, K = p->n_keys;
  free(p->axis_cost);
  free(p->axis_budget);
  free(p->axis_dim_key);
  p->axis_cost = malloc(N * D * sizeof *p->axis_cost);
  p->axis_budget = malloc(D * sizeof *p->axis_budget);
  p->axis_dim_key = malloc(D * sizeof *p->axis_dim_key);
  if (!p->axis_cost || !p->axis_budget || !p->axis_dim_key)
    return hant__error(HANT_ENOMEM, "problem: out of memory");
  double never = 1;
  for (size_t i = 0, o = 0; i < p->n_groups; i++) {
    double mx = -INFINITY;
    for (size_t j = 0; j < p->group_size[i]; j++, o++)
      mx = fmax(mx, p->cost[o * K + key]);
    never += fabs(mx);
  }
  for (size_t t = 0; t < N; t++) {
    memcpy(p->axis_cost + t * D, p->dim_cost + t * p->n_dims, p->n_dims * sizeof(double));
    p->axis_cost[t * D + p->n_dims] = p->cost[t * K + key];
  }
  memcpy(p->axis_budget, p->dim_budget, p->n_dims * sizeof(double));
  p->axis_budget[p->n_dims] = never;
  memcpy(p->axis_dim_key, p->dim_key, p->n_dims * sizeof(size_t));
  p->axis_dim_key[p->n_dims] = key;
  view->n_dims = D;
  view->cost = p->axis_cost;
  view->budget = p->axis_budget;
  *axis_dim = p->n_dims;
  return 0;
}

/* ---------------------------------------------------------------------------
 * Output.
 * ------------------------------------------------------------------------- */

static json_t *num_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

/* Adds a field, tracking allocation failure in *ok. */
static void put(json_t *o, const char *k, json_t *v, int *ok) {
  if (!v || json_object_set_new(o, k, v) != 0)
    *ok = 0;
}

static json_t *choice_ids(const struct hant_problem *p, const size_t *choice) {
  json_t *a = json_array();
  size_t o = 0;
  for (size_t i = 0; a && i < p->n_groups; i++) {
    if (json_array_append_new(a, json_string(p->item_id[o + choice[i]])) != 0) {
      json_decref(a);
      return NULL;
    }
    o += p->group_size[i];
  }
  return a;
}

static json_t *totals_of(const struct hant_problem *p, const size_t *choice) {
  json_t *t = json_object();
  for (size_t k = 0; t && k < p->n_keys; k++) {
    double s = 0;
    size_t o = 0;
    for (size_t i = 0; i < p->n_groups; i++) {
      s += p->cost[(o + choice[i]) * p->n_keys + k];
      o += p->group_size[i];
    }
    if (json_object_set_new(t, p->key[k], json_real(s)) != 0) {
      json_decref(t);
      return NULL;
    }
  }
  return t;
}

static char *dump(json_t *o, int ok) {
  char *s = ok ? json_dumps(o, JSON_REAL_PRECISION(15)) : NULL;
  json_decref(o);
  if (!s)
    return NULL;
  /* json_dumps uses jansson's allocator; hand back plain malloc memory */
  json_malloc_t jm;
  json_free_t jf;
  json_get_alloc_funcs(&jm, &jf);
  char *c = dup_str(s);
  jf(s);
  return c;
}

char *hant_problem_answer_json(const struct hant_problem *p, const struct hant_select_result *r) {
  if (!p || !r)
    return NULL;
  json_t *o = json_object();
  if (!o)
    return NULL;
  int ok = 1;
  put(o, "status", json_string(hant_select_status_name(r->status)), &ok);
  if (r->has_choice) {
    put(o, "objective", json_real(r->objective), &ok);
    put(o, "choice", choice_ids(p, r->choice), &ok);
    put(o, "totals", totals_of(p, r->choice), &ok);
    put(o, "gap", num_or_null(r->gap), &ok);
  } else {
    put(o, "objective", json_null(), &ok);
    put(o, "choice", json_null(), &ok);
    put(o, "totals", json_null(), &ok);
    put(o, "gap", json_null(), &ok);
  }
  put(o, "solve_ms", json_real(r->solve_ms), &ok);
  put(o, "bound", r->status == HANT_SELECT_INFEASIBLE ? json_null() : num_or_null(r->bound), &ok);
  put(o, "nodes", json_integer((json_int_t)r->nodes), &ok);
  json_t *b = json_object();
  for (size_t k = 0; b && k < p->n_keys; k++)
    if (p->has_budget[k] && json_object_set_new(b, p->key[k], json_real(p->budget[k])) != 0)
      ok = 0;
  put(o, "budgets", b, &ok);
  if (r->status == HANT_SELECT_INFEASIBLE) {
    json_t *mt = json_object(), *over = json_array();
    for (size_t k = 0; mt && over && k < p->n_keys; k++) {
      double s = 0;
      size_t off = 0;
      for (size_t i = 0; i < p->n_groups; i++) {
        double mn = INFINITY;
        for (size_t j = 0; j < p->group_size[i]; j++)
          mn = fmin(mn, p->cost[(off + j) * p->n_keys + k]);
        s += mn;
        off += p->group_size[i];
      }
      if (json_object_set_new(mt, p->key[k], json_real(s)) != 0)
        ok = 0;
    }
    for (size_t d = 0; mt && over && d < r->n_dims && d < p->n_dims; d++)
      if (r->over_budget[d] && json_array_append_new(over, json_string(p->key[p->dim_key[d]])))
        ok = 0;
    put(o, "min_totals", mt, &ok);
    put(o, "over_budget", over, &ok);
    put(o, "jointly_infeasible", json_boolean(r->jointly_infeasible), &ok);
  }
  return dump(o, ok);
}

char *hant_problem_front_json(const struct hant_problem *p, const struct hant_select_front *f,
                              size_t axis_key, size_t n_levels, int respect_budgets,
                              double solve_ms) {
  if (!p || !f || axis_key >= p->n_keys)
    return NULL;
  size_t n = hant_select_front_size(f);
  size_t m = n_levels ? n_levels : n;
  double *level = malloc((m + 1) * sizeof *level);
  size_t *pt = malloc((m + 1) * sizeof *pt), *choice = malloc(p->n_groups * sizeof *choice);
  json_t *o = json_object(), *pts = json_array();
  int ok = level && pt && choice && o && pts;
  if (ok && n_levels) {
    ok = hant_select_front_sample(f, n_levels, level, NULL, pt) == 0;
  } else if (ok) {
    for (size_t i = 0; i < n; i++) {
      pt[i] = i;
      hant_select_front_point(f, i, &level[i], NULL, NULL);
    }
  }
  put(o, "axis", json_string(p->key[axis_key]), &ok);
  put(o, "exact", json_boolean(!hant_select_front_approximate(f)), &ok);
  put(o, "cost_error", num_or_null(hant_select_front_cost_error(f)), &ok);
  put(o, "respect_budgets", json_boolean(respect_budgets), &ok);
  put(o, "front_size", json_integer((json_int_t)n), &ok);
  put(o, "solve_ms", json_real(solve_ms), &ok);
  for (size_t l = 0; ok && l < m; l++) {
    double c = 0, v = 0;
    json_t *e = json_object();
    ok = e && hant_select_front_point(f, pt[l], &c, &v, choice) == 0;
    put(e, "budget", json_real(level[l]), &ok);
    put(e, "cost", json_real(c), &ok);
    put(e, "objective", json_real(v), &ok);
    put(e, "choice", ok ? choice_ids(p, choice) : NULL, &ok);
    if (!e || json_array_append_new(pts, e) != 0)
      ok = 0;
  }
  free(level);
  free(pt);
  free(choice);
  put(o, "points", pts, &ok);
  if (!o)
    return NULL;
  return dump(o, ok);
}
