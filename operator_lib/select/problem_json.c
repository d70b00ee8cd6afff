/* SPDX-License-Identifier: MIT */
/* problem_json.c: parses selection problem files defensively and writes answers. */
#include "problem_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "file.h"
#include "json_read.h"
#include "jsonw.h"

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

/* What is wrong with a name (an id, a group name or a cost key) of n bytes
 * beyond what the JSON reader checks, or NULL: control characters would
 * garble the table and the messages that show it. */
static const char *name_why(const char *s, size_t n, size_t max) {
  if (n == 0)
    return "must not be empty";
  if (n > max)
    return "is too long";
  if (strlen(s) != n)
    return "must not contain NUL characters";
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return "must not contain control characters";
  return NULL;
}

/* A name field of obj: a string the JSON reader accepts and name_why too.
 * *s stays NULL when an optional one is absent. */
static int get_name(hant_json_reader *r, const hant_json *obj, const char *key, unsigned flags, size_t max,
                    const char **s) {
  size_t n = 0;
  int rc = hant_json_get_string(r, obj, key, flags, max, s, &n);
  const char *why = rc || !*s ? NULL : name_why(*s, n, max);
  if (why) {
    size_t m = hant_json_push_key(r, key);
    rc = hant_json_fail(r, HANT_EFORMAT, "%s", why);
    hant_json_pop(r, m);
  }
  return rc;
}

/* Refuses fields of obj outside list, in this format's words: at the top
 * level the message says so, inside it the path names the object. */
static int only_fields(hant_json_reader *r, const hant_json *obj, const char *const *list, const char *expected) {
  const char *key = hant_json_first_unknown(obj, list);
  char kb[80];
  if (!key)
    return 0;
  return hant_json_fail(r, HANT_EFORMAT, "unknown field \"%s\"%s (expected %s)", printable(key, kb, sizeof kb),
                        r->path_len ? "" : " at the top level", expected);
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

/* For the JSON reader's checks, which record their own message. */
#define TRY(expr)                                                                                  \
  do {                                                                                             \
    if ((rc = (expr)))                                                                             \
      goto fail;                                                                                   \
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
  char kb[80], kb2[80];
  struct name_ref *refs = NULL;
  hant_json *root = NULL;
  int rc = hant_json_parse(text ? text : "", len, src, &root, NULL);
  if (rc)
    return rc;
  struct hant_problem *p = calloc(1, sizeof *p);
  if (!p) {
    hant_json_free(root);
    return hant__error(HANT_ENOMEM, "%s: out of memory", src);
  }
  p->source = dup_str(src);
  p->time_limit_ms = -1;
  if (!p->source)
    FAIL(HANT_ENOMEM, "%s: out of memory", src);
  hant_json_reader r;
  hant_json_reader_init(&r, src);
  TRY(hant_json_expect(&r, root, HANT_JSON_OBJECT, "an object at the top level"));
  TRY(only_fields(&r, root, top_fields, "groups, budgets, time_limit_ms, name, description, meta"));
  hant_json *groups = NULL;
  TRY(hant_json_get_array(&r, root, "groups", HANT_JSON_REQUIRED, NULL, &groups));
  size_t G = hant_json_size(groups);
  if (G == 0)
    FAIL(HANT_EFORMAT, "%s: groups: must not be empty", src);
  if (G > lim->max_groups)
    FAIL(HANT_ELIMIT, "%s: groups: %zu groups, over the limit of %zu", src, G, lim->max_groups);
  TRY(hant_json_get_number(&r, root, "time_limit_ms", 0, 0, 1e9, "a number from 0 to 1e9", &p->time_limit_ms));

  /* Pass 1: shapes, ids, values, and the set of cost keys. */
  size_t N = 0, maxg = 0;
  p->key = calloc(lim->max_keys + 1, sizeof *p->key);
  p->group_name = calloc(G, sizeof *p->group_name);
  p->group_size = calloc(G, sizeof *p->group_size);
  if (!p->key || !p->group_name || !p->group_size)
    FAIL(HANT_ENOMEM, "%s: out of memory", src);
  p->n_groups = G;
  hant_json_push_key(&r, "groups");
  for (size_t i = 0; i < G; i++) {
    const hant_json *g = hant_json_at(groups, i);
    size_t at_group = hant_json_push_index(&r, i);
    TRY(hant_json_expect(&r, g, HANT_JSON_OBJECT, NULL));
    TRY(only_fields(&r, g, group_fields, "name, items, description, meta"));
    const char *name = NULL;
    TRY(get_name(&r, g, "name", 0, lim->max_name, &name));
    if (name) {
      p->group_name[i] = dup_str(name);
    } else {
      char nb[32];
      snprintf(nb, sizeof nb, "slot%zu", i);
      p->group_name[i] = dup_str(nb);
    }
    if (!p->group_name[i])
      FAIL(HANT_ENOMEM, "%s: out of memory", src);
    hant_json *items = NULL;
    TRY(hant_json_get_array(&r, g, "items", HANT_JSON_REQUIRED, NULL, &items));
    size_t n = hant_json_size(items);
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
    hant_json_push_key(&r, "items");
    for (size_t j = 0; j < n; j++) {
      const hant_json *it = hant_json_at(items, j);
      size_t at_item = hant_json_push_index(&r, j);
      TRY(hant_json_expect(&r, it, HANT_JSON_OBJECT, NULL));
      TRY(only_fields(&r, it, item_fields, "id, value, cost, description, meta"));
      const char *id = NULL;
      double x;
      hant_json *cost = NULL;
      TRY(get_name(&r, it, "id", HANT_JSON_REQUIRED, lim->max_name, &id));
      TRY(hant_json_get_number(&r, it, "value", HANT_JSON_REQUIRED, -INFINITY, INFINITY, NULL, &x));
      TRY(hant_json_get_object(&r, it, "cost", HANT_JSON_REQUIRED, NULL, &cost));
      hant_json_push_key(&r, "cost");
      hant_json_iter ci = hant_json_iter_begin(cost);
      const char *key;
      size_t klen;
      hant_json *val;
      while (hant_json_iter_next(&ci, &key, &klen, &val)) {
        if (strlen(key) != klen)
          TRY(hant_json_fail(&r, HANT_EFORMAT, "a key contains a NUL character"));
        const char *kwhy = name_why(key, klen, lim->max_name);
        if (kwhy)
          TRY(hant_json_fail(&r, HANT_EFORMAT, "key \"%s\" %s", printable(key, kb, sizeof kb), kwhy));
        TRY(hant_json_get_number(&r, cost, key, 0, -INFINITY, INFINITY, NULL, &x));
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
      hant_json_pop(&r, at_item);
    }
    hant_json_pop(&r, at_group);
  }
  hant_json_reader_init(&r, src);
  size_t K = p->n_keys;

  /* Budgets: known keys, finite numbers. */
  p->has_budget = calloc(K + 1, sizeof *p->has_budget);
  p->budget = calloc(K + 1, sizeof *p->budget);
  if (!p->has_budget || !p->budget)
    FAIL(HANT_ENOMEM, "%s: out of memory", src);
  hant_json *budgets = NULL;
  TRY(hant_json_get_object(&r, root, "budgets", 0, "an object of cost keys to numbers", &budgets));
  if (budgets) {
    hant_json_push_key(&r, "budgets");
    hant_json_iter bi = hant_json_iter_begin(budgets);
    const char *key;
    size_t klen;
    hant_json *val;
    while (hant_json_iter_next(&bi, &key, &klen, &val)) {
      if (strlen(key) != klen)
        TRY(hant_json_fail(&r, HANT_EFORMAT, "a key contains a NUL character"));
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
      TRY(hant_json_get_number(&r, budgets, key, 0, -INFINITY, INFINITY, NULL, &p->budget[k]));
      p->has_budget[k] = 1;
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
    const hant_json *items = hant_json_member(hant_json_at(groups, i), "items");
    for (size_t j = 0; j < p->group_size[i]; j++, o++) {
      const hant_json *it = hant_json_at(items, j);
      p->item_id[o] = dup_str(hant_json_string(hant_json_member(it, "id"), NULL));
      if (!p->item_id[o])
        FAIL(HANT_ENOMEM, "%s: out of memory", src);
      hant_json_number(hant_json_member(it, "value"), &p->value[o]);
      const hant_json *cost = hant_json_member(it, "cost");
      for (size_t k = 0; k < K; k++) {
        const hant_json *c = hant_json_member(cost, p->key[k]);
        if (!c) {
          /* name where the key was first seen */
          size_t fi = 0, fj = 0, q = 0;
          for (size_t i2 = 0; i2 < G && !q; i2++) {
            const hant_json *its = hant_json_member(hant_json_at(groups, i2), "items");
            for (size_t j2 = 0; j2 < hant_json_size(its) && !q; j2++)
              if (hant_json_member(hant_json_member(hant_json_at(its, j2), "cost"), p->key[k])) {
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
        hant_json_number(c, &p->cost[o * K + k]);
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
  hant_json_free(root);
  free(refs);
  *out = p;
  return 0;
fail:
  hant_json_free(root);
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
  char *buf;
  size_t n;
  int rc = hant_file_read(path, lim->max_bytes, &buf, &n);
  if (rc)
    return rc;
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
 * Output: 15 significant digits, ", " and ": " between elements, as jansson
 * wrote answers and fronts before, and as tests and clients compare them
 * ("gap": 0.0).
 * ------------------------------------------------------------------------- */

static void answer_writer(hant_jsonw *b) {
  static const hant_jsonw_style style = {.spaced = true, .real_digits = 15, .jansson_escapes = true};
  hant_jsonw_init_mem(b);
  hant_jsonw_set_style(b, &style);
}

static void real_or_null(hant_jsonw *b, double x) {
  if (isfinite(x))
    hant_jsonw_num(b, x);
  else
    hant_jsonw_null(b);
}

static void choice_ids(hant_jsonw *b, const struct hant_problem *p, const size_t *choice) {
  hant_jsonw_arr_begin(b);
  size_t o = 0;
  for (size_t i = 0; i < p->n_groups; i++) {
    hant_jsonw_str(b, p->item_id[o + choice[i]]);
    o += p->group_size[i];
  }
  hant_jsonw_arr_end(b);
}

static void totals_of(hant_jsonw *b, const struct hant_problem *p, const size_t *choice) {
  hant_jsonw_obj_begin(b);
  for (size_t k = 0; k < p->n_keys; k++) {
    double s = 0;
    size_t o = 0;
    for (size_t i = 0; i < p->n_groups; i++) {
      s += p->cost[(o + choice[i]) * p->n_keys + k];
      o += p->group_size[i];
    }
    hant_jsonw_key(b, p->key[k]);
    hant_jsonw_num(b, s);
  }
  hant_jsonw_obj_end(b);
}

char *hant_problem_answer_json(const struct hant_problem *p, const struct hant_select_result *r) {
  if (!p || !r)
    return NULL;
  hant_jsonw b;
  answer_writer(&b);
  hant_jsonw_obj_begin(&b);
  hant_jsonw_key(&b, "status");
  hant_jsonw_str(&b, hant_select_status_name(r->status));
  hant_jsonw_key(&b, "objective");
  if (r->has_choice)
    hant_jsonw_num(&b, r->objective);
  else
    hant_jsonw_null(&b);
  hant_jsonw_key(&b, "choice");
  if (r->has_choice)
    choice_ids(&b, p, r->choice);
  else
    hant_jsonw_null(&b);
  hant_jsonw_key(&b, "totals");
  if (r->has_choice)
    totals_of(&b, p, r->choice);
  else
    hant_jsonw_null(&b);
  hant_jsonw_key(&b, "gap");
  if (r->has_choice)
    real_or_null(&b, r->gap);
  else
    hant_jsonw_null(&b);
  hant_jsonw_key(&b, "solve_ms");
  hant_jsonw_num(&b, r->solve_ms);
  hant_jsonw_key(&b, "bound");
  if (r->status == HANT_SELECT_INFEASIBLE)
    hant_jsonw_null(&b);
  else
    real_or_null(&b, r->bound);
  hant_jsonw_key(&b, "nodes");
  hant_jsonw_int(&b, (long long)r->nodes);
  hant_jsonw_key(&b, "budgets");
  hant_jsonw_obj_begin(&b);
  for (size_t k = 0; k < p->n_keys; k++)
    if (p->has_budget[k]) {
      hant_jsonw_key(&b, p->key[k]);
      hant_jsonw_num(&b, p->budget[k]);
    }
  hant_jsonw_obj_end(&b);
  if (r->status == HANT_SELECT_INFEASIBLE) {
    hant_jsonw_key(&b, "min_totals");
    hant_jsonw_obj_begin(&b);
    for (size_t k = 0; k < p->n_keys; k++) {
      double s = 0;
      size_t off = 0;
      for (size_t i = 0; i < p->n_groups; i++) {
        double mn = INFINITY;
        for (size_t j = 0; j < p->group_size[i]; j++)
          mn = fmin(mn, p->cost[(off + j) * p->n_keys + k]);
        s += mn;
        off += p->group_size[i];
      }
      hant_jsonw_key(&b, p->key[k]);
      hant_jsonw_num(&b, s);
    }
    hant_jsonw_obj_end(&b);
    hant_jsonw_key(&b, "over_budget");
    hant_jsonw_arr_begin(&b);
    for (size_t d = 0; d < r->n_dims && d < p->n_dims; d++)
      if (r->over_budget[d])
        hant_jsonw_str(&b, p->key[p->dim_key[d]]);
    hant_jsonw_arr_end(&b);
    hant_jsonw_key(&b, "jointly_infeasible");
    hant_jsonw_bool(&b, r->jointly_infeasible);
  }
  hant_jsonw_obj_end(&b);
  return hant_jsonw_take(&b);
}

char *hant_problem_kbest_json(const struct hant_problem *p, size_t k, const struct hant_select_kbest *r) {
  if (!p || !r)
    return NULL;
  hant_jsonw b;
  answer_writer(&b);
  hant_jsonw_obj_begin(&b);
  hant_jsonw_key(&b, "status");
  hant_jsonw_str(&b, hant_select_status_name(r->status));
  hant_jsonw_key(&b, "k");
  hant_jsonw_int(&b, (long long)k);
  hant_jsonw_key(&b, "solutions");
  hant_jsonw_arr_begin(&b);
  for (size_t i = 0; i < r->n; i++) {
    const size_t *c = &r->choice[i * r->n_groups];
    hant_jsonw_obj_begin(&b);
    hant_jsonw_key(&b, "rank");
    hant_jsonw_int(&b, (long long)i);
    hant_jsonw_key(&b, "objective");
    hant_jsonw_num(&b, r->objective[i]);
    hant_jsonw_key(&b, "choice");
    choice_ids(&b, p, c);
    hant_jsonw_key(&b, "totals");
    totals_of(&b, p, c);
    hant_jsonw_obj_end(&b);
  }
  hant_jsonw_arr_end(&b);
  hant_jsonw_key(&b, "solves");
  hant_jsonw_int(&b, (long long)r->solves);
  hant_jsonw_key(&b, "nodes");
  hant_jsonw_int(&b, (long long)r->nodes);
  hant_jsonw_key(&b, "solve_ms");
  hant_jsonw_num(&b, r->solve_ms);
  hant_jsonw_key(&b, "budgets");
  hant_jsonw_obj_begin(&b);
  for (size_t d = 0; d < p->n_keys; d++)
    if (p->has_budget[d]) {
      hant_jsonw_key(&b, p->key[d]);
      hant_jsonw_num(&b, p->budget[d]);
    }
  hant_jsonw_obj_end(&b);
  hant_jsonw_obj_end(&b);
  return hant_jsonw_take(&b);
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
  int ok = level && pt && choice;
  if (ok && n_levels) {
    ok = hant_select_front_sample(f, n_levels, level, NULL, pt) == 0;
  } else if (ok) {
    for (size_t i = 0; i < n; i++) {
      pt[i] = i;
      hant_select_front_point(f, i, &level[i], NULL, NULL);
    }
  }
  hant_jsonw b;
  answer_writer(&b);
  hant_jsonw_obj_begin(&b);
  hant_jsonw_key(&b, "axis");
  hant_jsonw_str(&b, p->key[axis_key]);
  hant_jsonw_key(&b, "exact");
  hant_jsonw_bool(&b, !hant_select_front_approximate(f));
  hant_jsonw_key(&b, "cost_error");
  real_or_null(&b, hant_select_front_cost_error(f));
  hant_jsonw_key(&b, "respect_budgets");
  hant_jsonw_bool(&b, respect_budgets);
  hant_jsonw_key(&b, "front_size");
  hant_jsonw_int(&b, (long long)n);
  hant_jsonw_key(&b, "solve_ms");
  hant_jsonw_num(&b, solve_ms);
  hant_jsonw_key(&b, "points");
  hant_jsonw_arr_begin(&b);
  for (size_t l = 0; ok && l < m; l++) {
    double c = 0, v = 0;
    ok = hant_select_front_point(f, pt[l], &c, &v, choice) == 0;
    if (!ok)
      break;
    hant_jsonw_obj_begin(&b);
    hant_jsonw_key(&b, "budget");
    hant_jsonw_num(&b, level[l]);
    hant_jsonw_key(&b, "cost");
    hant_jsonw_num(&b, c);
    hant_jsonw_key(&b, "objective");
    hant_jsonw_num(&b, v);
    hant_jsonw_key(&b, "choice");
    choice_ids(&b, p, choice);
    hant_jsonw_obj_end(&b);
  }
  hant_jsonw_arr_end(&b);
  hant_jsonw_obj_end(&b);
  free(level);
  free(pt);
  free(choice);
  if (!ok) {
    hant_jsonw_free(&b);
    return NULL;
  }
  return hant_jsonw_take(&b);
}
