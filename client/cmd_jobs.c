/* SPDX-License-Identifier: MIT */
/* cmd_jobs.c: hant-client jobs: list, show, wait for and cancel the daemon's long jobs, and queue an evaluation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hant.h"
#include "rpc_client.h"

static const char usage[] =
    "usage: hant-client [--socket PATH] jobs list [--state S] [--limit N] [--json]\n"
    "       hant-client [--socket PATH] jobs show ID [--json]\n"
    "       hant-client [--socket PATH] jobs wait ID [--json]\n"
    "       hant-client [--socket PATH] jobs cancel ID [--json]\n"
    "       hant-client [--socket PATH] jobs eval --model FILE [--split test|val|train]\n"
    "                                   [--samples N] [--data DIR] [--no-wait] [--json]\n"
    "\n"
    "Long work (assembly and export, evaluation) runs in hantd as jobs, recorded in the\n"
    "library so that a restart neither loses nor repeats them. 'wait' shows a progress\n"
    "bar on a terminal and survives a daemon restart.\n"
    "\n"
    "Exit status: 0 success (wait: the job is done), 1 the job failed or was canceled,\n"
    "2 usage, 3 daemon unreachable, 5 daemon error.\n";

static int job_id(const char *s, long long *id) {
  double v;
  if (hant_opt_number("ID", s, true, 1, 9007199254740992.0, &v)) {
    fprintf(stderr, "hant-client jobs: expected a job id (a positive whole number), got '%s'\n", s);
    return -1;
  }
  *id = (long long)v;
  return 0;
}

static void print_job_line(const json_t *j) {
  printf("%6lld  %-10s %-9s %5.0f%%  %-19s  %s\n", (long long)json_integer_value(json_object_get(j, "id")),
         client_str(j, "kind", "?"), client_str(j, "state", "?"), 100 * client_num(j, "progress"),
         client_str(j, "created", ""), client_str(j, "error", client_str(j, "note", "")));
}

int cmd_jobs(int argc, char **argv) {
  bool json = false, no_wait = false;
  const char *state = NULL, *model = NULL, *split = "test", *data = NULL;
  long long id = 0;
  long limit = 50, samples = 0;
  hant_opt_list args = {0};
  const hant_opt opts[] = {
      HANT_OPT_STRING("state", 0, &state, "S", NULL),
      HANT_OPT_INT("limit", 0, &limit, 1, 10000, "N", NULL),
      HANT_OPT_STRING("model", 0, &model, "FILE", NULL),
      HANT_OPT_STRING("split", 0, &split, "test|val|train", NULL),
      HANT_OPT_INT("samples", 0, &samples, 0, 1e7, "N", NULL),
      HANT_OPT_STRING("data", 0, &data, "DIR", NULL),
      HANT_OPT_FLAG("no-wait", 0, &no_wait, NULL),
      HANT_OPT_FLAG("json", 0, &json, NULL),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-client jobs", .usage = usage, .opts = opts, .operands = &args};
  int code = client_parse(&cmd, argc, argv);
  const char *sub = args.n ? args.v[0] : NULL;
  if (code < 0 && !sub) {
    hant_opt_help(&cmd, stderr);
    code = CLIENT_EXIT_USAGE;
  }
  bool takes_id = sub && strcmp(sub, "list") && strcmp(sub, "eval");
  if (code < 0 && args.n > (takes_id ? 2 : 1)) {
    fprintf(stderr, "hant-client jobs %s: unknown argument '%s'; see 'hant-client jobs --help'\n", sub,
            args.v[takes_id ? 2 : 1]);
    code = CLIENT_EXIT_USAGE;
  }
  if (code < 0 && takes_id && args.n == 2 && job_id(args.v[1], &id))
    code = CLIENT_EXIT_USAGE;
  hant_opt_list_free(&args);
  if (code >= 0)
    return code;
  bool wait = !no_wait;
  client_conn c;
  json_t *r = NULL, *p = json_object();
  int rc;
  if (!strcmp(sub, "list")) {
    if (state)
      json_object_set_new(p, "state", json_string(state));
    json_object_set_new(p, "limit", json_integer((json_int_t)limit));
    if ((rc = client_call_once("jobs list", "jobs.list", p, &r)))
      return rc;
    if (json) {
      client_print_json(r);
    } else {
      printf("%6s  %-10s %-9s %6s  %-19s  %s\n", "id", "kind", "state", "done", "created", "note");
      size_t i;
      json_t *j;
      json_array_foreach(json_object_get(r, "jobs"), i, j) print_job_line(j);
    }
    json_decref(r);
    return CLIENT_EXIT_OK;
  }
  if (!strcmp(sub, "eval")) {
    if (!model) {
      json_decref(p);
      fprintf(stderr, "hant-client jobs eval: --model FILE is required\n");
      return CLIENT_EXIT_USAGE;
    }
    char abs[1024], dabs[1024];
    if (client_absolute(model, abs, sizeof(abs)) || (data && client_absolute(data, dabs, sizeof(dabs)))) {
      json_decref(p);
      fprintf(stderr, "hant-client jobs eval: path too long\n");
      return CLIENT_EXIT_USAGE;
    }
    json_t *jp = json_object();
    json_object_set_new(jp, "model", json_string(abs));
    json_object_set_new(jp, "split", json_string(split));
    json_object_set_new(jp, "samples", json_integer((json_int_t)samples));
    if (data)
      json_object_set_new(jp, "data", json_string(dabs));
    json_object_set_new(p, "kind", json_string("eval"));
    json_object_set_new(p, "params", jp);
    if ((rc = client_connect(&c))) {
      json_decref(p);
      return rc;
    }
    if ((rc = client_call(&c, "jobs eval", "jobs.submit", p, &r, NULL, NULL, NULL)) == 0) {
      long long jid = (long long)json_integer_value(json_object_get(json_object_get(r, "job"), "id"));
      if (!wait) {
        if (json)
          client_print_json(r);
        else
          printf("job %lld queued\n", jid);
      } else {
        rc = client_wait_job(&c, "jobs eval", jid, json, NULL);
      }
    }
    json_decref(r);
    client_close(&c);
    return rc;
  }
  if (!id) {
    json_decref(p);
    fprintf(stderr, "hant-client jobs %s: a job id is required\n", sub);
    return CLIENT_EXIT_USAGE;
  }
  json_object_set_new(p, "id", json_integer(id));
  if (!strcmp(sub, "show") || !strcmp(sub, "cancel")) {
    bool show = !strcmp(sub, "show");
    if ((rc = client_call_once(show ? "jobs show" : "jobs cancel", show ? "jobs.get" : "jobs.cancel", p, &r)))
      return rc;
    if (json)
      client_print_json(r);
    else if (show)
      print_job_line(r);
    else
      printf("job %lld: %s (was %s)\n", id, client_str(r, "state", "?"), client_str(r, "state_before", "?"));
    json_decref(r);
    return CLIENT_EXIT_OK;
  }
  if (!strcmp(sub, "wait")) {
    json_decref(p);
    if ((rc = client_connect(&c)))
      return rc;
    rc = client_wait_job(&c, "jobs wait", id, json, NULL);
    client_close(&c);
    return rc;
  }
  json_decref(p);
  fprintf(stderr, "hant-client jobs: unknown subcommand '%s'; expected list, show, wait, cancel or eval\n", sub);
  return CLIENT_EXIT_USAGE;
}
