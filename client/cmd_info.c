/* SPDX-License-Identifier: MIT */
/* cmd_info.c: hant-client devices, library, status and version: what the daemon serves. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "hant.h"
#include "rpc_client.h"

/* Parses [--json] (and, for library, --candidates); the help is the usage
 * text. Returns -1 when the command should run, else its exit code. */
static int info_args(const char *name, int argc, char **argv, bool *json, bool *candidates, const char *usage) {
  hant_opt opts[] = {
      HANT_OPT_FLAG("json", 0, json, NULL),
      HANT_OPT_FLAG("candidates", 0, candidates, "list every candidate"),
      HANT_OPT_END,
  };
  if (!candidates)
    opts[1] = opts[2];
  const hant_opt_cmd cmd = {.name = name, .usage = usage, .column = 17, .opts = opts};
  return client_parse(&cmd, argc, argv);
}

int cmd_devices(int argc, char **argv) {
  bool json = false;
  int rc = info_args("hant-client devices", argc, argv, &json, NULL,
                     "usage: hant-client [--socket PATH] devices [--json]\n\n"
                     "Lists the devices of the daemon's library (with costs, power modes and idle power)\n"
                     "and the device profiles it can find. Exit status: 0, 2 usage, 3 unreachable, 5 error.\n");
  if (rc >= 0)
    return rc;
  json_t *r;
  if ((rc = client_call_once("devices", "devices", NULL, &r)))
    return rc;
  if (json) {
    client_print_json(r);
  } else {
    printf("%-16s %-7s %-10s %-24s %s\n", "device", "costed", "source", "power modes (idle W)", "description");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(r, "devices"), i, d) {
      char modes[128] = "";
      size_t o = 0, j;
      json_t *m;
      json_array_foreach(json_object_get(d, "power_modes"), j, m) {
        const char *n = client_str(m, "name", "");
        if (o < sizeof(modes))
          o += (size_t)snprintf(modes + o, sizeof(modes) - o, "%s%s(%.3g)", j ? " " : "", *n ? n : "-",
                                client_num(m, "idle_w"));
      }
      printf("%-16s %-7s %-10s %-24s %.60s\n", client_str(d, "name", "?"),
             json_is_true(json_object_get(d, "costed")) ? "yes" : "no", client_str(d, "cost_sources", "-"), modes,
             client_str(d, "description", client_str(d, "profile_error", "")));
    }
    printf("\nprofiles without costs in the library:");
    int n = 0;
    json_array_foreach(json_object_get(r, "profiles"), i, d) {
      if (!json_is_true(json_object_get(d, "in_library"))) {
        printf(" %s", client_str(d, "name", "?"));
        n++;
      }
    }
    printf("%s\n", n ? "" : " none");
    if (n)
      printf("(cost one with: hant-distill profile --db LIBRARY.db --device NAME, then send SIGHUP to hantd)\n");
  }
  json_decref(r);
  return CLIENT_EXIT_OK;
}

int cmd_library(int argc, char **argv) {
  bool json = false, cands = false;
  int rc = info_args("hant-client library", argc, argv, &json, &cands,
                     "usage: hant-client [--socket PATH] library [--candidates] [--json]\n\n"
                     "Describes the daemon's library: teacher, slots and their candidates by family.\n");
  if (rc >= 0)
    return rc;
  json_t *p = NULL;
  if (cands) {
    p = json_object();
    json_object_set_new(p, "candidates", json_true());
  }
  json_t *r;
  if ((rc = client_call_once("library", "library", p, &r)))
    return rc;
  if (json) {
    client_print_json(r);
    json_decref(r);
    return CLIENT_EXIT_OK;
  }
  printf("library   %s (version %lld)\n", client_str(r, "path", "?"),
         (long long)json_integer_value(json_object_get(r, "version")));
  json_t *t = json_object_get(r, "teacher");
  if (!json_is_object(t)) {
    printf("          empty: build one with 'hant-distill build --teacher T --db LIBRARY.db'\n");
    json_decref(r);
    return CLIENT_EXIT_OK;
  }
  printf("teacher   %s (%s, input %s, %.4g MMAC, %lld parameters)\n", client_str(t, "path", "?"),
         client_str(t, "format", "?"), client_str(t, "input", "?"), client_num(t, "macs") / 1e6,
         (long long)json_integer_value(json_object_get(t, "params")));
  printf("accuracy  %.4f on %s\n", client_num(t, "val_accuracy"), client_str(t, "val_split", "?"));
  printf("devices  ");
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(r, "devices"), i, v) printf(" %s", json_string_value(v));
  printf("\n\n%-10s %-8s %10s  %s\n", "slot", "kind", "candidates", "families");
  json_array_foreach(json_object_get(r, "slots"), i, v) {
    printf("%-10s %-8s %10lld ", client_str(v, "name", "?"), client_str(v, "kind", "?"),
           (long long)json_integer_value(json_object_get(v, "candidates")));
    const char *k;
    json_t *n;
    json_object_foreach(json_object_get(v, "families"), k, n) printf(" %s:%lld", k, (long long)json_integer_value(n));
    printf("\n");
    size_t j;
    json_t *c;
    json_array_foreach(json_object_get(v, "list"), j, c) {
      printf("    %6lld  %-26s %+8.4f  %10.4g MAC\n", (long long)json_integer_value(json_object_get(c, "id")),
             client_str(c, "key", "?"), client_num(c, "score"), client_num(c, "macs"));
    }
  }
  printf("%lld candidates in all\n", (long long)json_integer_value(json_object_get(r, "candidates")));
  json_decref(r);
  return CLIENT_EXIT_OK;
}

int cmd_status(int argc, char **argv) {
  bool json = false;
  int rc = info_args("hant-client status", argc, argv, &json, NULL,
                     "usage: hant-client [--socket PATH] status [--json]\n\n"
                     "Shows the daemon's uptime, requests, queue depth, cache hits, connections and jobs.\n");
  if (rc >= 0)
    return rc;
  json_t *r;
  if ((rc = client_call_once("status", "status", NULL, &r)))
    return rc;
  if (json) {
    client_print_json(r);
  } else {
    double up = client_num(r, "uptime_s");
    printf("hantd %s on %s, up %dh%02dm%02ds%s\n", client_str(r, "version", "?"), client_str(r, "socket", "?"),
           (int)(up / 3600), (int)up / 60 % 60, (int)up % 60, json_is_true(json_object_get(r, "stopping")) ? " (stopping)" : "");
    printf("library      %s, version %lld, %llu reloads\n", client_str(r, "db", "?"),
           (long long)json_integer_value(json_object_get(r, "library_version")),
           (unsigned long long)json_integer_value(json_object_get(r, "reloads")));
    printf("requests     %lld (%lld errors)\n", (long long)json_integer_value(json_object_get(r, "requests")),
           (long long)json_integer_value(json_object_get(r, "errors")));
    printf("cache        %lld hits, %lld misses, %lld of %lld entries\n",
           (long long)json_integer_value(json_object_get(r, "cache_hits")),
           (long long)json_integer_value(json_object_get(r, "cache_misses")),
           (long long)json_integer_value(json_object_get(r, "cache_entries")),
           (long long)json_integer_value(json_object_get(r, "cache_capacity")));
    printf("queue        %lld of %lld waiting, %lld of %lld workers busy, %lld busy answers\n",
           (long long)json_integer_value(json_object_get(r, "queue_depth")),
           (long long)json_integer_value(json_object_get(r, "queue_capacity")),
           (long long)json_integer_value(json_object_get(r, "workers_busy")),
           (long long)json_integer_value(json_object_get(r, "workers")),
           (long long)json_integer_value(json_object_get(r, "busy_rejections")));
    printf("connections  %lld\n", (long long)json_integer_value(json_object_get(r, "connections")));
    printf("jobs         %lld queued, %lld running (%lld runners)\n",
           (long long)json_integer_value(json_object_get(r, "jobs_queued")),
           (long long)json_integer_value(json_object_get(r, "jobs_running")),
           (long long)json_integer_value(json_object_get(r, "job_workers")));
  }
  json_decref(r);
  return CLIENT_EXIT_OK;
}

int cmd_version(int argc, char **argv) {
  bool json = false;
  int rc = info_args("hant-client version", argc, argv, &json, NULL,
                     "usage: hant-client [--socket PATH] version [--json]\n\n"
                     "Prints the client's and the daemon's versions.\n");
  if (rc >= 0)
    return rc;
  json_t *r;
  if ((rc = client_call_once("version", "version", NULL, &r)))
    return rc;
  if (json)
    client_print_json(r);
  else
    printf("hant-client %s\nhantd %s (protocol %lld, library version %lld, schema %lld)\n", hant_version(),
           client_str(r, "hantd", "?"), (long long)json_integer_value(json_object_get(r, "protocol")),
           (long long)json_integer_value(json_object_get(r, "library_version")),
           (long long)json_integer_value(json_object_get(r, "schema_version")));
  json_decref(r);
  return CLIENT_EXIT_OK;
}
