/* SPDX-License-Identifier: MIT */
/* test_client_solve.c: runs the real hant-client solve on problem files and checks its output and
 * exit codes. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"

extern char **environ;

static const char *client, *data;
static char tmpdir[] = "/tmp/hant-client-solve-XXXXXX";
static char out[64 * 1024], err[16 * 1024];

static void slurp(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "r");
  size_t got = f ? fread(buf, 1, n - 1, f) : 0;
  buf[got] = '\0';
  if (f)
    fclose(f);
}

/* Runs `hant-client solve --local` with up to 7 more arguments; returns its
 * exit status and leaves stdout/stderr in out/err. --local solves in the
 * client's process: the daemon path has its own integration tests. */
static int run(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4,
               const char *a5, const char *a6) {
  char po[300], pe[300];
  snprintf(po, sizeof po, "%s/out", tmpdir);
  snprintf(pe, sizeof pe, "%s/err", tmpdir);
  char *argv[11] = {(char *)client, "solve", "--local"};
  const char *rest[] = {a0, a1, a2, a3, a4, a5, a6};
  int n = 3;
  for (int i = 0; i < 7 && rest[i]; i++)
    argv[n++] = (char *)rest[i];
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  int rc = posix_spawn(&pid, client, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "cannot run %s: %s\n", client, strerror(rc));
    return -1;
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  slurp(po, out, sizeof out);
  slurp(pe, err, sizeof err);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *file(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", data, name);
  return buf[k];
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: test_client_solve HANT_CLIENT DATA_DIR\n");
    return 2;
  }
  client = argv[1];
  data = argv[2];
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  int rc = run("--problem", file("small.json"), "--json", NULL, NULL, NULL, NULL);
  CHECK(rc == 0 && strstr(out, "\"status\": \"optimal\"") && strstr(out, "\"objective\": 1.9,") &&
            strstr(out, "\"choice\": [\"c\", \"b\", \"y\"]") && strstr(out, "\"gap\": 0.0"),
        "small --json: exit %d, out %s", rc, out);

  rc = run("--problem", file("small.json"), NULL, NULL, NULL, NULL, NULL);
  CHECK(rc == 0 && strstr(out, "status     optimal") && strstr(out, "objective  1.9") &&
            strstr(out, "conv1  c") && strstr(out, "headroom") && strstr(out, "params_mb"),
        "small table: exit %d, out %s", rc, out);

  rc = run("--problem", file("infeasible.json"), NULL, NULL, NULL, NULL, NULL);
  CHECK(rc == 4 && strstr(out, "infeasible") && strstr(out, "over by 0.1") &&
            strstr(err, "infeasible"),
        "infeasible table: exit %d, out %s", rc, out);
  rc = run("--problem", file("infeasible.json"), "--json", NULL, NULL, NULL, NULL);
  CHECK(rc == 4 && strstr(out, "\"min_totals\": {\"latency_ms\": 4.2, \"energy_mj\": 1.1}"),
        "infeasible json: exit %d, out %s", rc, out);

  rc = run("--problem", file("powercap.json"), "--json", NULL, NULL, NULL, NULL);
  CHECK(rc == 0 && strstr(out, "\"objective\": 0.7,") && strstr(out, "\"cap_row_mj\": -1.5"),
        "power cap: exit %d, out %s", rc, out);

  rc = run("--problem", file("small.json"), "--pareto", "latency_ms", "--points", "3", "--json");
  CHECK(rc == 0 && strstr(out, "\"axis\": \"latency_ms\"") && strstr(out, "\"exact\": true") &&
            strstr(out, "\"budget\": 4.2") && strstr(out, "\"objective\": 1.9"),
        "pareto json: exit %d, out %s", rc, out);
  rc = run("--problem", file("small.json"), "--pareto", "latency_ms", NULL, NULL, NULL);
  CHECK(rc == 0 && strstr(out, "7 points, exact"), "pareto table: exit %d, out %s", rc, out);
  rc = run("--problem", file("small.json"), "--pareto", "watts", NULL, NULL, NULL);
  CHECK(rc == 2 && strstr(err, "--pareto watts: no item has this cost key"),
        "pareto bad key: exit %d, err %s", rc, err);

  /* The k best: distinct, best first, the two tied at 1.6 in item order. */
  rc = run("--problem", file("small.json"), "--kbest", "3", "--json", NULL, NULL);
  {
    const char *a = strstr(out, "\"objective\": 1.9, \"choice\": [\"c\", \"b\", \"y\"]");
    const char *b = strstr(out, "\"objective\": 1.6, \"choice\": [\"b\", \"c\", \"x\"]");
    const char *c = strstr(out, "\"objective\": 1.6, \"choice\": [\"c\", \"b\", \"x\"]");
    CHECK(rc == 0 && strstr(out, "\"status\": \"optimal\"") && strstr(out, "\"k\": 3") && a && b && c && a < b &&
              b < c && !strstr(out, "\"rank\": 3"),
          "kbest json: exit %d, out %s", rc, out);
  }
  rc = run("--problem", file("small.json"), "--kbest", "2", NULL, NULL, NULL);
  CHECK(rc == 0 && strstr(out, "the 2 best of 2 asked") && strstr(out, "#2 objective 1.6"),
        "kbest table: exit %d, out %s", rc, out);
  rc = run("--problem", file("infeasible.json"), "--kbest", "2", "--json", NULL, NULL);
  CHECK(rc == 4 && strstr(out, "\"solutions\": []"), "kbest infeasible: exit %d, out %s", rc, out);
  rc = run("--problem", file("small.json"), "--kbest", "2", "--pareto", "latency_ms", NULL);
  CHECK(rc == 2 && strstr(err, "--kbest needs --local and no --pareto"), "kbest with pareto: exit %d, err %s", rc,
        err);

  rc = run(NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  CHECK(rc == 2 && strstr(err, "--problem FILE is required"), "no problem: exit %d", rc);
  rc = run("--problem", file("small.json"), "--time-limit-ms", "soon", NULL, NULL, NULL);
  CHECK(rc == 2 && strstr(err, "--time-limit-ms"), "bad time limit: exit %d, err %s", rc, err);
  rc = run("--problem", file("small.json"), "--points", "3", NULL, NULL, NULL);
  CHECK(rc == 2 && strstr(err, "--points needs --pareto"), "points without pareto: exit %d", rc);
  rc = run("--help", NULL, NULL, NULL, NULL, NULL, NULL);
  CHECK(rc == 0 && strstr(out, "--local") && strstr(out, "--pareto COSTKEY"), "help: exit %d", rc);

  char bad[300];
  snprintf(bad, sizeof bad, "%s/bad.json", tmpdir);
  FILE *f = fopen(bad, "w");
  if (f) {
    fputs("{\"groups\": [{\"items\": [{\"id\": \"a\", \"value\": 1, \"cost\": "
          "{\"latency_ms\": \"slow\"}}]}]}\n",
          f);
    fclose(f);
  }
  rc = run("--problem", bad, NULL, NULL, NULL, NULL, NULL);
  CHECK(rc == 1 && strstr(err, "bad.json: groups[0].items[0].cost.latency_ms: expected a finite "
                               "number, got a string"),
        "malformed file: exit %d, err %s", rc, err);
  rc = run("--problem", "/nonexistent.json", NULL, NULL, NULL, NULL, NULL);
  CHECK(rc == 1 && strstr(err, "/nonexistent.json: cannot open"), "missing file: exit %d", rc);

  unlink(bad);
  char p[300];
  snprintf(p, sizeof p, "%s/out", tmpdir);
  unlink(p);
  snprintf(p, sizeof p, "%s/err", tmpdir);
  unlink(p);
  rmdir(tmpdir);
  return test_summary("client_solve");
}
