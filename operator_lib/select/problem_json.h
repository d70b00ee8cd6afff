/* SPDX-License-Identifier: MIT */
/* problem_json.h: the generic selection problem file (brief section 7) and its answer, as JSON. */
#ifndef HANT_PROBLEM_JSON_H
#define HANT_PROBLEM_JSON_H

#include <stddef.h>

#include "select.h"

/*
 * A problem file:
 *
 *   {"groups": [{"name": "slot0",
 *                "items": [{"id": "a", "value": 0.0,
 *                           "cost": {"latency_ms": 1.2, "energy_mj": 0.4}}]}],
 *    "budgets": {"latency_ms": 10.0, "energy_mj": 3.0},
 *    "time_limit_ms": 1000}
 *
 * Rules, each enforced with a message naming the file, the JSON path of the
 * offending field (e.g. "groups[3].items[7].cost.latency_ms") and what was
 * expected (schema/problem.schema.json says the same):
 *   - "groups" is a non-empty array; every group has a non-empty "items"
 *     array and an optional unique "name" (default "slot<i>").
 *   - Every item has an "id" (non-empty string, unique within its group), a
 *     finite "value" and a "cost" object of finite numbers.
 *   - Every item gives every cost key that any item gives: a missing cost is
 *     an error, never a silent zero.
 *   - "budgets" (optional) maps cost keys to finite numbers; a budget naming
 *     a cost key that no item has is an error. Cost keys without a budget
 *     are reported in the totals but do not constrain the choice.
 *   - "time_limit_ms" (optional) is a finite number >= 0; 0 means none.
 *   - "name", "description", "meta" and "$schema" are accepted and ignored
 *     at the top level, "description" and "meta" also in groups and items.
 *     Any other field is an error (a misspelt "budget" must not silently
 *     drop the constraints).
 *   - JSON objects with duplicate keys are refused.
 * Numbers are doubles; the units are in the key names (latency_ms, mJ...).
 */

/* Limits for untrusted input; hant_problem_limits_default() fills them. */
struct hant_problem_limits {
  size_t max_bytes;  /* file size, default 64 MiB */
  size_t max_groups; /* default 100000 */
  size_t max_items;  /* over all groups, default 4000000 */
  size_t max_keys;   /* distinct cost keys, default 64 */
  size_t max_name;   /* bytes in an id, name or cost key, default 256 */
};

void hant_problem_limits_default(struct hant_problem_limits *l);

/* A parsed problem. Created by hant_problem_parse()/hant_problem_load(),
 * owned by the caller, released with hant_problem_destroy(). All strings and
 * arrays belong to it. */
struct hant_problem {
  char *source; /* file name used in messages */
  size_t n_groups;
  char **group_name;  /* [n_groups] */
  size_t *group_size; /* [n_groups] */
  size_t n_items;
  char **item_id;       /* [n_items], group 0's items first */
  double *value;        /* [n_items] */
  size_t n_keys;        /* distinct cost keys, in order of first appearance */
  char **key;           /* [n_keys] */
  double *cost;         /* [n_items, n_keys] */
  int *has_budget;      /* [n_keys] 1 where "budgets" names the key */
  double *budget;       /* [n_keys] the budget, 0 where none */
  double time_limit_ms; /* from the file; -1 when absent */
  /* The solver's view: only budgeted keys are dimensions. */
  size_t n_dims;
  size_t *dim_key;    /* [n_dims] key index of each dimension */
  double *dim_cost;   /* [n_items, n_dims] */
  double *dim_budget; /* [n_dims] */
  /* An extra, unconstrained dimension for a Pareto axis without a budget. */
  size_t *axis_dim_key;
  double *axis_cost, *axis_budget;
};

/* Parses len bytes of JSON. source names the input in messages. lim may be
 * NULL for the defaults. On success *out is a new problem. Returns 0,
 * HANT_EFORMAT (syntax error or a rule above broken; message as described),
 * HANT_ELIMIT (a limit exceeded) or HANT_ENOMEM. */
int hant_problem_parse(const char *text, size_t len, const char *source,
                       const struct hant_problem_limits *lim, struct hant_problem **out);

/* Reads and parses a file with hant_file_read() (file.h), refusing files
 * over lim->max_bytes before reading them. Returns as hant_problem_parse(),
 * or HANT_ENOENT (no such file) or HANT_EIO (cannot be read, or not a
 * regular file, such as a directory or a pipe). */
int hant_problem_load(const char *path, const struct hant_problem_limits *lim,
                      struct hant_problem **out);

void hant_problem_destroy(struct hant_problem *p);

/* Index of a cost key, or -1. */
long hant_problem_key_index(const struct hant_problem *p, const char *key);

/* Fills view with the solver's problem (budgeted keys as dimensions, the
 * file's time limit or 0). The view points into p and lives as long as p. */
void hant_problem_view(const struct hant_problem *p, struct hant_select_problem *view);

/* Like hant_problem_view(), but makes sure cost key `key` is a dimension:
 * if it has no budget, it is appended as an extra dimension whose budget
 * never binds (the sum of every group's largest cost). *axis_dim receives
 * its dimension. Returns 0, HANT_EINVAL for a bad key index, HANT_ENOMEM. */
int hant_problem_view_axis(struct hant_problem *p, size_t key, struct hant_select_problem *view,
                           size_t *axis_dim);

/* The answer JSON of brief section 7 as a new string (release with free()):
 *   {"status": "optimal"|"infeasible"|"time_limit", "objective", "choice": [ids],
 *    "totals": {key: total}, "gap", "solve_ms",
 *    plus "bound", "nodes", "budgets", and for infeasible answers
 *    "min_totals" (every key's smallest achievable total), "over_budget"
 *    (keys whose budget is below that) and "jointly_infeasible"}.
 * objective, choice, totals and gap are null when there is no choice.
 * Returns NULL when out of memory. */
char *hant_problem_answer_json(const struct hant_problem *p, const struct hant_select_result *r);

/* The k best choices (hant_select_kbest) as a new JSON string, in the
 * style of hant_problem_answer_json: {"status", "k", "solutions":
 * [{"rank", "objective", "choice": [item ids], "totals": {key: total}}],
 * "solves", "nodes", "solve_ms", "budgets"}, solutions best first (empty
 * when infeasible). Returns NULL when out of memory. */
char *hant_problem_kbest_json(const struct hant_problem *p, size_t k, const struct hant_select_kbest *r);

/* A Pareto front as a new JSON string: the axis key, whether it is exact,
 * its size, and points [{"budget", "cost", "objective", "choice"}]. With
 * n_levels > 0 the front is sampled at that many evenly spaced budgets
 * (hant_select_front_sample), otherwise every point is listed. axis_key is
 * a key index. Returns NULL when out of memory or on bad arguments. */
char *hant_problem_front_json(const struct hant_problem *p, const struct hant_select_front *f,
                              size_t axis_key, size_t n_levels, int respect_budgets,
                              double solve_ms);

#endif
