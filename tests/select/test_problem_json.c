/* SPDX-License-Identifier: MIT */
/* test_problem_json.c: problem files parse, malformed ones are refused with messages naming the
 * field, and answers are written per the brief. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../test_util.h"
#include "hant.h"
#include "problem_json.h"
#include "select.h"

static const char *data_dir = ".";

/* Parses text and expects failure code `code` with `msg` in the message. */
static void refuse(const char *text, int code, const char *msg) {
  struct hant_problem *p = NULL;
  int rc = hant_problem_parse(text, strlen(text), "t.json", NULL, &p);
  CHECK(rc == code && p == NULL && strstr(hant_errmsg(), msg),
        "input %s\n  expected %s with \"%s\"\n  got %s: \"%s\"", text, hant_err_name(code), msg,
        hant_err_name(rc), hant_errmsg());
  hant_problem_destroy(p);
}

#define ITEM(id, v, lat)                                                                           \
  "{\"id\": \"" id "\", \"value\": " #v ", \"cost\": {\"latency_ms\": " #lat "}}"

static void test_malformed(void) {
  refuse("{", HANT_EFORMAT, "t.json:1:");
  refuse("{\"groups\": [}", HANT_EFORMAT, "t.json:1:");
  refuse("", HANT_EFORMAT, "t.json:");
  refuse("[]", HANT_EFORMAT, "t.json: expected an object at the top level, got an array");
  refuse("{}", HANT_EFORMAT, "t.json: groups: missing");
  refuse("{\"groups\": {}}", HANT_EFORMAT, "groups: expected an array, got an object");
  refuse("{\"groups\": []}", HANT_EFORMAT, "t.json: groups: must not be empty");
  refuse("{\"groups\": [{\"items\": []}]}", HANT_EFORMAT, "groups[0].items: must not be empty");
  refuse("{\"groups\": [{\"name\": \"a\"}]}", HANT_EFORMAT, "groups[0].items: missing");
  refuse("{\"groups\": [{\"items\": 3}]}", HANT_EFORMAT,
         "groups[0].items: expected an array, got a number");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) "]}, 7]}", HANT_EFORMAT,
         "groups[1]: expected an object, got a number");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) ", 5]}]}", HANT_EFORMAT,
         "groups[0].items[1]: expected an object, got a number");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": \"x\", \"cost\": {}}]}]}",
         HANT_EFORMAT, "groups[0].items[0].value: expected a finite number, got a string");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\", \"cost\": {}}]}]}", HANT_EFORMAT,
         "groups[0].items[0].value: missing");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) "]}, {\"items\": [" ITEM(
             "b", 1, 2) ", "
                        "{\"id\": \"c\", \"value\": 1, \"cost\": {\"latency_ms\": \"fast\"}}]}]}",
         HANT_EFORMAT,
         "t.json: groups[1].items[1].cost.latency_ms: expected a finite number, got a string");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": 1, \"cost\": {\"l\": null}}]}]}",
         HANT_EFORMAT, "groups[0].items[0].cost.l: expected a finite number, got null");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": 1, \"cost\": [1]}]}]}",
         HANT_EFORMAT, "groups[0].items[0].cost: expected an object, got an array");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": 1}]}]}", HANT_EFORMAT,
         "groups[0].items[0].cost: missing");
  refuse("{\"groups\": [{\"items\": [{\"value\": 1, \"cost\": {}}]}]}", HANT_EFORMAT,
         "groups[0].items[0].id: missing");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"\", \"value\": 1, \"cost\": {}}]}]}", HANT_EFORMAT,
         "groups[0].items[0].id: must not be empty");
  refuse("{\"groups\": [{\"items\": [{\"id\": 4, \"value\": 1, \"cost\": {}}]}]}", HANT_EFORMAT,
         "groups[0].items[0].id: expected a string, got a number");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\\u0000b\", \"value\": 1, \"cost\": {}}]}]}",
         HANT_EFORMAT, "t.json:1:40: \\u0000 is not allowed");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) ", " ITEM("b", 1, 2) ", " ITEM("a", 3,
                                                                                      4) "]}]}",
         HANT_EFORMAT, "groups[0].items[2].id: duplicate id \"a\" (also groups[0].items[0])");
  refuse("{\"groups\": [{\"name\": \"s\", \"items\": [" ITEM("a", 1, 2) "]}, {\"name\": \"s\", "
                                                                        "\"items\": [" ITEM(
                                                                            "a", 1, 2) "]}]}",
         HANT_EFORMAT, "groups[1].name: duplicate name \"s\" (also groups[0])");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) "]}], \"budgets\": {\"power_w\": 2}}",
         HANT_EFORMAT,
         "t.json: budgets.power_w: no item has this cost key (items have: latency_ms)");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) "]}], \"budgets\": {\"latency_ms\": \"9\"}}",
         HANT_EFORMAT, "budgets.latency_ms: expected a finite number, got a string");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) "]}], \"budgets\": [1]}", HANT_EFORMAT,
         "budgets: expected an object");
  refuse("{\"groups\": [{\"items\": [" ITEM(
             "a", 1, 2) "]}, {\"items\": [{\"id\": \"b\", "
                        "\"value\": 1, \"cost\": {\"latency_ms\": 1, \"energy_mj\": 2}}]}]}",
         HANT_EFORMAT,
         "groups[0].items[0].cost: missing \"energy_mj\" (every item must give every cost key; "
         "groups[1].items[0] gives it)");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) "]}], \"budget\": {\"latency_ms\": 3}}",
         HANT_EFORMAT, "t.json: unknown field \"budget\" at the top level");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) "], \"slots\": 1}]}", HANT_EFORMAT,
         "groups[0]: unknown field \"slots\"");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": 1, \"cost\": {}, \"score\": 2}]}]}",
         HANT_EFORMAT, "groups[0].items[0]: unknown field \"score\"");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": 1, \"value\": 2, \"cost\": {}}]}]}",
         HANT_EFORMAT, "duplicate object key");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": NaN, \"cost\": {}}]}]}",
         HANT_EFORMAT, "t.json:1:");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": 1e999, \"cost\": {}}]}]}",
         HANT_EFORMAT, "t.json:1:");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) "]}], \"time_limit_ms\": -5}", HANT_EFORMAT,
         "time_limit_ms: expected a number from 0 to 1e9");
  refuse("{\"groups\": [{\"items\": [" ITEM("a", 1, 2) "]}], \"time_limit_ms\": \"5\"}",
         HANT_EFORMAT, "time_limit_ms: expected a number from 0 to 1e9, got a string");
  refuse("{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": 1, \"cost\": {\"\": 1}}]}]}",
         HANT_EFORMAT, "groups[0].items[0].cost: key \"\" must not be empty");
  refuse(
      "{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": 1, \"cost\": {\"a\\u0000b\": 1}}]}]}",
      HANT_EFORMAT, "t.json:1:66: NUL byte in object key not supported");
  refuse("{\"groups\": [{\"name\": 5, \"items\": [" ITEM("a", 1, 2) "]}]}", HANT_EFORMAT,
         "groups[0].name: expected a string");
}

static void test_limits(void) {
  struct hant_problem_limits lim;
  hant_problem_limits_default(&lim);
  const char *ok = "{\"groups\": [{\"items\": [" ITEM("a", 1, 2) ", " ITEM(
      "b", 2, 3) "]}, "
                 "{\"items\": [" ITEM("c", 1, 2) "]}]}";
  struct hant_problem *p = NULL;
  lim.max_bytes = 10;
  CHECK(hant_problem_parse(ok, strlen(ok), "t.json", &lim, &p) == HANT_ELIMIT &&
            strstr(hant_errmsg(), "over the limit of 10 bytes"),
        "size limit: %s", hant_errmsg());
  hant_problem_limits_default(&lim);
  lim.max_groups = 1;
  CHECK(hant_problem_parse(ok, strlen(ok), "t.json", &lim, &p) == HANT_ELIMIT &&
            strstr(hant_errmsg(), "groups: 2 groups, over the limit of 1"),
        "group limit: %s", hant_errmsg());
  hant_problem_limits_default(&lim);
  lim.max_items = 2;
  CHECK(hant_problem_parse(ok, strlen(ok), "t.json", &lim, &p) == HANT_ELIMIT &&
            strstr(hant_errmsg(), "groups[1].items: more than 2 items in total"),
        "item limit: %s", hant_errmsg());
  hant_problem_limits_default(&lim);
  lim.max_keys = 1;
  const char *two = "{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": 1, \"cost\": "
                    "{\"x\": 1, \"y\": 2}}]}]}";
  CHECK(hant_problem_parse(two, strlen(two), "t.json", &lim, &p) == HANT_ELIMIT &&
            strstr(hant_errmsg(), "groups[0].items[0].cost.y: more than 1 cost keys"),
        "key limit: %s", hant_errmsg());
  hant_problem_limits_default(&lim);
  lim.max_name = 3;
  const char *longid = "{\"groups\": [{\"items\": [" ITEM("abcd", 1, 2) "]}]}";
  CHECK(hant_problem_parse(longid, strlen(longid), "t.json", &lim, &p) == HANT_EFORMAT &&
            strstr(hant_errmsg(), "groups[0].items[0].id: is too long"),
        "name limit: %s", hant_errmsg());
  CHECK(p == NULL, "no problem on failure");
  char path[512];
  snprintf(path, sizeof path, "%s/small.json", data_dir);
  lim.max_name = 256;
  lim.max_bytes = 100;
  CHECK(hant_problem_load(path, &lim, &p) == HANT_ELIMIT && strstr(hant_errmsg(), "small.json"),
        "file over the limit refused before reading: %s", hant_errmsg());
  CHECK(hant_problem_load("/nonexistent/x.json", NULL, &p) == HANT_ENOENT &&
            strstr(hant_errmsg(), "/nonexistent/x.json: cannot open"),
        "missing file: %s", hant_errmsg());
  CHECK(hant_problem_load(data_dir, NULL, &p) == HANT_EIO, "directory refused");
}

static void test_roundtrip(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/small.json", data_dir);
  struct hant_problem *p = NULL;
  CHECK(hant_problem_load(path, NULL, &p) == 0, "load small.json: %s", hant_errmsg());
  if (!p)
    return;
  CHECK(p->n_groups == 3 && p->n_items == 9 && p->n_keys == 3 && p->n_dims == 2,
        "small.json shape");
  CHECK(!strcmp(p->key[0], "latency_ms") && !strcmp(p->key[2], "params_mb") && p->has_budget[0] &&
            !p->has_budget[2],
        "keys in order of appearance, budgets flagged");
  CHECK(!strcmp(p->group_name[2], "fc") && !strcmp(p->item_id[4], "b") && p->value[8] == 0.8,
        "names, ids, values");
  CHECK(p->time_limit_ms == 1000, "time limit read");
  struct hant_select_problem v;
  hant_problem_view(p, &v);
  CHECK(v.n_dims == 2 && v.budget[1] == 3.0 && v.cost[4 * 2 + 1] == 0.8, "solver view");
  struct hant_select_result r;
  hant_select_result_init(&r);
  CHECK(hant_select_solve(&v, &r) == 0 && r.status == HANT_SELECT_OPTIMAL, "solve small.json");
  char *s = hant_problem_answer_json(p, &r);
  CHECK(
      s && strstr(s, "\"status\": \"optimal\"") && strstr(s, "\"objective\": 1.9") &&
          strstr(s, "\"choice\": [\"c\", \"b\", \"y\"]") &&
          strstr(s, "\"totals\": {\"latency_ms\": 9.5, \"energy_mj\": 3.0, \"params_mb\": 2.9}") &&
          strstr(s, "\"gap\": 0.0") && strstr(s, "\"solve_ms\": "),
      "answer JSON: %s", s ? s : "(null)");
  free(s);
  /* Pareto axis without a budget becomes an extra, non-binding dimension */
  size_t axis = 99;
  long key = hant_problem_key_index(p, "params_mb");
  CHECK(key == 2 && hant_problem_view_axis(p, (size_t)key, &v, &axis) == 0 && axis == 2 &&
            v.n_dims == 3,
        "axis view");
  struct hant_select_front *f = NULL;
  struct hant_select_front_options opt = {axis, 1, 0};
  CHECK(hant_select_front_new(&v, &opt, &f) == 0, "front: %s", hant_errmsg());
  s = hant_problem_front_json(p, f, (size_t)key, 4, 1, 0.5);
  CHECK(s && strstr(s, "\"axis\": \"params_mb\"") && strstr(s, "\"exact\": true") &&
            strstr(s, "\"points\": [{\"budget\": 1.4"),
        "front JSON: %s", s ? s : "(null)");
  free(s);
  hant_select_front_destroy(f);
  hant_problem_destroy(p);

  snprintf(path, sizeof path, "%s/infeasible.json", data_dir);
  CHECK(hant_problem_load(path, NULL, &p) == 0, "load infeasible.json: %s", hant_errmsg());
  if (!p)
    return;
  hant_problem_view(p, &v);
  CHECK(hant_select_solve(&v, &r) == 0 && r.status == HANT_SELECT_INFEASIBLE, "infeasible");
  s = hant_problem_answer_json(p, &r);
  CHECK(s && strstr(s, "\"status\": \"infeasible\"") && strstr(s, "\"objective\": null") &&
            strstr(s, "\"min_totals\": {\"latency_ms\": 4.2, \"energy_mj\": 1.1}") &&
            strstr(s, "\"over_budget\": [\"energy_mj\"]") &&
            strstr(s, "\"jointly_infeasible\": false"),
        "infeasible answer: %s", s ? s : "(null)");
  free(s);
  hant_select_result_free(&r);
  hant_problem_destroy(p);
}

int main(int argc, char **argv) {
  if (argc > 1)
    data_dir = argv[1];
  test_malformed();
  test_limits();
  test_roundtrip();
  return test_summary("problem_json");
}
