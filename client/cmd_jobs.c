/* SPDX-License-Identifier: MIT */
/* cmd_jobs.c: hant-client jobs: list, show, wait for and cancel the daemon's long jobs, and queue an evaluation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hant.h"
#include "rpc_client.h"

static void usage(FILE *f) {
  fprintf(f,
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
          "2 usage, 3 daemon unreachable, 5 daemon error.\n");
}

static int job_id(const char *s, long long *id) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v <= 0) {
    fprintf(stderr, "hant-client jobs: expected a job id (a positive whole number), got '%s'\n", s);
    return -1;
  }
  *id = v;
  return 0;
}

static void print_job_line(const json_t *j) {
  printf("%6lld  %-10s %-9s %5.0f%%  %-19s  %s\n", (long long)json_integer_value(json_object_get(j, "id")),
         client_str(j, "kind", "?"), client_str(j, "state", "?"), 100 * client_num(j, "progress"),
         client_str(j, "created", ""), client_str(j, "error", client_str(j, "note", "")));
}

int cmd_jobs(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? CLIENT_EXIT_USAGE : CLIENT_EXIT_OK;
  }
  const char *sub = argv[1];
  bool json = false, wait = true;
  const char *state = NULL, *model = NULL, *split = "test", *data = NULL;
  long long id = 0;
  double limit = 50, samples = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--no-wait")) {
      wait = false;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return CLIENT_EXIT_OK;
    } else if (!strcmp(a, "--state") && has) {
      state = argv[++i];
    } else if (!strcmp(a, "--limit") && has) {
      limit = strtod(argv[++i], NULL);
      if (!(limit >= 1 && limit <= 10000)) {
        fprintf(stderr, "hant-client jobs: --limit: expected 1 to 10000\n");
        return CLIENT_EXIT_USAGE;
      }
    } else if (!strcmp(a, "--model") && has) {
      model = argv[++i];
    } else if (!strcmp(a, "--split") && has) {
      split = argv[++i];
    } else if (!strcmp(a, "--data") && has) {
      data = argv[++i];
    } else if (!strcmp(a, "--samples") && has) {
      samples = strtod(argv[++i], NULL);
      if (!(samples >= 0 && samples <= 1e7)) {
        fprintf(stderr, "hant-client jobs: --samples: expected 0 to 1e7\n");
        return CLIENT_EXIT_USAGE;
      }
    } else if (a[0] != '-' && !id && strcmp(sub, "list") && strcmp(sub, "eval")) {
      if (job_id(a, &id))
        return CLIENT_EXIT_USAGE;
    } else {
      fprintf(stderr, "hant-client jobs %s: unknown argument '%s'; see 'hant-client jobs --help'\n", sub, a);
      return CLIENT_EXIT_USAGE;
    }
  }
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
