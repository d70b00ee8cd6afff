/* SPDX-License-Identifier: MIT */
/* bench_daemon.c: load generator for hantd over its real socket: cached transform req/s, uncached HANT-scale transform latency, solve throughput. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hant.h"
#include "synth_lib.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: bench_daemon --hantd PATH [--clients LIST] [--seconds S] [--slots N] [--per-slot M]\n"
          "\n"
          "Builds a synthetic library of N slots x M candidates (default 50 x 200, the HANT\n"
          "scale of brief section 8) with modelled-looking costs on two devices, starts the\n"
          "real hantd on a temporary socket, and drives it with closed-loop clients (one\n"
          "request in flight each) for S seconds (default 3) per scenario and client count\n"
          "(default 1,64):\n"
          "  cached      the same transform again and again (served from the cache)\n"
          "  uncached    a different HANT-scale transform every time (3 budgets: latency,\n"
          "              energy, power cap; the solver runs for each)\n"
          "  solve       the generic solve of a %s problem file (parsed and solved each time)\n"
          "Prints requests/s, per-request latency percentiles seen by the client (queueing\n"
          "included), and the daemon's own solve time of each answer (solve_ms).\n",
          "20 x 50, 2-budget");
}

typedef struct scenario {
  const char *name;
  int kind; /* 0 cached, 1 uncached, 2 solve */
} scenario;

typedef struct client {
  const char *sock;
  int kind, idx;
  double stop_at;
  double *lat_ms;
  double *solve_ms; /* the daemon's own solve time of each answer */
  size_t n, cap;
  long busy, errors;
  const char *solve_body;
} client;

static int dial(const char *path) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(sa.sun_path))
    return -1;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
    if (k <= 0) {
      if (k < 0 && errno == EINTR)
        continue;
      return -1;
    }
    s += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Reads one answer line into *buf (grown as needed); returns its length or -1. */
static long read_line(int fd, char **buf, size_t *cap, size_t *have) {
  for (;;) {
    char *nl = *have ? memchr(*buf, '\n', *have) : NULL;
    if (nl) {
      long n = nl - *buf;
      return n;
    }
    if (*have + 65536 > *cap) {
      *cap = *cap ? *cap * 2 : 1 << 17;
      char *p = realloc(*buf, *cap);
      if (!p)
        return -1;
      *buf = p;
    }
    ssize_t k = recv(fd, *buf + *have, *cap - *have, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    *have += (size_t)k;
  }
}

static void *client_main(void *arg) {
  client *c = arg;
  int fd = dial(c->sock);
  if (fd < 0) {
    c->errors++;
    return NULL;
  }
  char *buf = NULL, *req = NULL;
  size_t cap = 0, have = 0, reqcap = 0;
  uint64_t s = 1000003ull * (uint64_t)(c->idx + 1);
  long i = 0;
  while (hant_now_s() < c->stop_at) {
    size_t need = c->solve_body ? strlen(c->solve_body) + 256 : 512;
    if (need > reqcap) {
      free(req);
      req = malloc(reqcap = need);
      if (!req)
        break;
    }
    int n;
    if (c->kind == 0) {
      n = snprintf(req, reqcap,
                   "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"transform\",\"params\":{\"device\":\"jetson-nano\","
                   "\"budgets\":[\"1.5ms\",\"6mJ\",\"4W\"]}}\n",
                   i);
    } else if (c->kind == 1) {
      /* Budgets that bind, different every time: each one a fresh solve. */
      double lat = 1.2 + 0.6 * synth_rand(&s), en = 4 + 4 * synth_rand(&s), pw = 3 + 2 * synth_rand(&s);
      n = snprintf(req, reqcap,
                   "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"transform\",\"params\":{\"device\":\"jetson-nano\","
                   "\"budgets\":{\"latency_ms\":%.9f,\"energy_mj\":%.9f,\"power_w\":%.9f}}}\n",
                   i, lat, en, pw);
    } else {
      n = snprintf(req, reqcap, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"solve\",\"params\":%s}\n", i,
                   c->solve_body);
    }
    double t0 = hant_now_s();
    if (n < 0 || send_all(fd, req, (size_t)n)) {
      c->errors++;
      break;
    }
    long len = read_line(fd, &buf, &cap, &have);
    if (len < 0) {
      c->errors++;
      break;
    }
    double ms = (hant_now_s() - t0) * 1e3;
    buf[len] = '\0';
    if (strstr(buf, "\"code\":-32001"))
      c->busy++;
    else if (!strstr(buf, "\"result\":"))
      c->errors++;
    else {
      if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4096;
        double *p = realloc(c->lat_ms, c->cap * sizeof(double));
        double *q = p ? realloc(c->solve_ms, c->cap * sizeof(double)) : NULL;
        if (p)
          c->lat_ms = p;
        if (!q)
          break;
        c->solve_ms = q;
      }
      const char *sm = strstr(buf, "\"solve_ms\":");
      c->solve_ms[c->n] = sm ? atof(sm + 11) : NAN;
      c->lat_ms[c->n++] = ms;
    }
    memmove(buf, buf + len + 1, have - (size_t)len - 1);
    have -= (size_t)len + 1;
    i++;
  }
  free(buf);
  free(req);
  close(fd);
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p) {
  if (!n)
    return NAN;
  size_t k = (size_t)(p * (double)(n - 1) + 0.5);
  return v[k < n ? k : n - 1];
}

/* A generic problem file of g groups x m items with two budgets, as the solve method's params. */
static char *solve_body(int g, int m) {
  size_t cap = (size_t)g * (size_t)m * 96 + 1024, o = 0;
  char *s = malloc(cap);
  if (!s)
    return NULL;
  uint64_t r = 42;
  o += (size_t)snprintf(s + o, cap - o, "{\"problem\":{\"groups\":[");
  double tsum = 0, esum = 0;
  for (int i = 0; i < g; i++) {
    o += (size_t)snprintf(s + o, cap - o, "%s{\"items\":[", i ? "," : "");
    for (int j = 0; j < m; j++) {
      double w = synth_rand(&r), t = 0.02 + w, e = 0.01 + w * (0.5 + synth_rand(&r));
      double v = -0.02 * (1 - w) * synth_rand(&r);
      o += (size_t)snprintf(s + o, cap - o, "%s{\"id\":\"c%d\",\"value\":%.6f,\"cost\":{\"latency_ms\":%.6f,\"energy_mj\":%.6f}}",
                            j ? "," : "", j, v, t, e);
      if (j == 0) {
        tsum += t;
        esum += e;
      }
    }
    o += (size_t)snprintf(s + o, cap - o, "]}");
  }
  snprintf(s + o, cap - o, "],\"budgets\":{\"latency_ms\":%.6f,\"energy_mj\":%.6f}},\"options\":{\"time_limit_ms\":1000}}",
           tsum * 0.6, esum * 0.6);
  return s;
}

int main(int argc, char **argv) {
  const char *hantd = NULL, *clients_s = "1,64";
  double seconds = 3;
  int slots = 50, per_slot = 200;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--hantd") && i + 1 < argc)
      hantd = argv[++i];
    else if (!strcmp(argv[i], "--clients") && i + 1 < argc)
      clients_s = argv[++i];
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--slots") && i + 1 < argc)
      slots = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--per-slot") && i + 1 < argc)
      per_slot = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (!hantd || seconds <= 0 || slots < 1 || slots > 500 || per_slot < 1 || per_slot > 2000) {
    usage(stderr);
    return 2;
  }
  char dir[] = "/tmp/hant-bench-daemon.XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char db[128], sock[128], cfg[128];
  snprintf(db, sizeof(db), "%s/lib.db", dir);
  snprintf(sock, sizeof(sock), "%s/hantd.sock", dir);
  snprintf(cfg, sizeof(cfg), "%s/hantd.conf", dir);
  double t0 = hant_now_s();
  if (synth_lib_build(db, slots, per_slot, 3)) {
    fprintf(stderr, "bench_daemon: %s\n", hant_errmsg());
    return 1;
  }
  printf("library   synthetic, %d slots x %d candidates, 2 devices (built in %.1f s)\n", slots, per_slot,
         hant_now_s() - t0);
  FILE *f = fopen(cfg, "w");
  if (!f) {
    perror(cfg);
    return 1;
  }
  fprintf(f, "workers = 2\nqueue = 256\nmax_inflight = 64\nlog_level = warning\ntime_limit_ms = 2000\n");
  fclose(f);
  pid_t pid = fork();
  if (pid == 0) {
    execl(hantd, hantd, "--foreground", "--db", db, "--socket", sock, "--config", cfg, (char *)NULL);
    perror(hantd);
    _exit(127);
  }
  int up = 0;
  for (int i = 0; i < 600 && !up; i++) {
    int fd = dial(sock);
    if (fd >= 0) {
      close(fd);
      up = 1;
    } else {
      struct timespec ts = {0, 50000000L};
      nanosleep(&ts, NULL);
    }
  }
  if (!up) {
    fprintf(stderr, "bench_daemon: hantd did not start\n");
    kill(pid, SIGKILL);
    return 1;
  }
  char model[128] = "unknown";
  FILE *ci = fopen("/proc/cpuinfo", "r");
  if (ci) {
    char line[256];
    while (fgets(line, sizeof(line), ci))
      if (!strncmp(line, "model name", 10)) {
        char *p = strchr(line, ':');
        const char *m = p ? p + 2 : line;
        size_t ml = strlen(m) < sizeof(model) - 1 ? strlen(m) : sizeof(model) - 1;
        memcpy(model, m, ml);
        model[ml] = '\0';
        model[strcspn(model, "\n")] = '\0';
        break;
      }
    fclose(ci);
  }
  printf("machine   %s, %ld cores online; hantd with 2 workers\n", model, sysconf(_SC_NPROCESSORS_ONLN));
  printf("method    closed loop: each client sends one request, waits for the answer, repeats, for %.0f s\n\n",
         seconds);
  char *body = solve_body(20, 50);
  static const scenario sc[] = {{"cached transform", 0}, {"uncached transform", 1}, {"solve", 2}};
  printf("%-20s %8s %10s %10s %10s %10s %10s %8s %14s\n", "scenario", "clients", "req/s", "p50 ms", "p90 ms",
         "p99 ms", "max ms", "busy", "solve p50/p99");
  int rc = 0;
  for (size_t k = 0; k < sizeof(sc) / sizeof(sc[0]); k++) {
    char list[64];
    snprintf(list, sizeof(list), "%s", clients_s);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      int nc = atoi(tok);
      if (nc < 1 || nc > 1000)
        continue;
      client *cs = calloc((size_t)nc, sizeof(*cs));
      pthread_t *th = calloc((size_t)nc, sizeof(*th));
      if (!cs || !th)
        return 1;
      double start = hant_now_s();
      for (int i = 0; i < nc; i++) {
        cs[i].sock = sock;
        cs[i].kind = sc[k].kind;
        cs[i].idx = i + nc * 1000 * (int)k;
        cs[i].stop_at = start + seconds;
        cs[i].solve_body = sc[k].kind == 2 ? body : NULL;
        pthread_create(&th[i], NULL, client_main, &cs[i]);
      }
      size_t total = 0;
      long busy = 0, errors = 0;
      for (int i = 0; i < nc; i++) {
        pthread_join(th[i], NULL);
        total += cs[i].n;
        busy += cs[i].busy;
        errors += cs[i].errors;
      }
      double wall = hant_now_s() - start;
      double *all = malloc((total ? total : 1) * sizeof(double)), *sv = malloc((total ? total : 1) * sizeof(double));
      size_t o = 0, ns = 0;
      for (int i = 0; i < nc; i++) {
        memcpy(all + o, cs[i].lat_ms, cs[i].n * sizeof(double));
        o += cs[i].n;
        for (size_t j = 0; j < cs[i].n; j++)
          if (isfinite(cs[i].solve_ms[j]))
            sv[ns++] = cs[i].solve_ms[j];
        free(cs[i].lat_ms);
        free(cs[i].solve_ms);
      }
      qsort(all, total, sizeof(double), cmp_double);
      qsort(sv, ns, sizeof(double), cmp_double);
      char solve[32] = "-";
      if (ns && sc[k].kind != 0)
        snprintf(solve, sizeof(solve), "%.2f/%.2f", pct(sv, ns, 0.5), pct(sv, ns, 0.99));
      printf("%-20s %8d %10.0f %10.3f %10.3f %10.3f %10.3f %8ld %14s%s\n", sc[k].name, nc, total / wall,
             pct(all, total, 0.5), pct(all, total, 0.9), pct(all, total, 0.99), total ? all[total - 1] : NAN, busy,
             solve, errors ? "  ERRORS" : "");
      free(sv);
      fflush(stdout);
      if (errors)
        rc = 1;
      free(all);
      free(cs);
      free(th);
    }
  }
  free(body);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  printf("\nhantd exited with status %d after SIGTERM\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd)) {
  }
  return rc;
}
