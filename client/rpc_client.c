/* SPDX-License-Identifier: MIT */
/* rpc_client.c: connects to hantd, sends JSON-RPC requests, reads answers and notifications, waits for jobs and places their files. */
#include "rpc_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hant.h"
#include "commands.h"

static const char *socket_opt;

void client_set_socket(const char *path) { socket_opt = path; }

const char *client_socket_path(void) {
  static char def[1024];
  if (socket_opt && *socket_opt)
    return socket_opt;
  const char *env = getenv("HANT_SOCKET");
  if (env && *env)
    return env;
  const char *rt = getenv("XDG_RUNTIME_DIR");
  if (rt && rt[0] == '/')
    snprintf(def, sizeof(def), "%s/hant/hantd.sock", rt);
  else
    snprintf(def, sizeof(def), "/run/hantd/hantd.sock");
  return def;
}

int client_connect(client_conn *c) {
  memset(c, 0, sizeof(*c));
  c->fd = -1;
  c->next_id = 1;
  const char *path = client_socket_path();
  snprintf(c->path, sizeof(c->path), "%s", path);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(sa.sun_path)) {
    fprintf(stderr, "hant-client: socket path too long: %s\n", path);
    return CLIENT_EXIT_UNREACHABLE;
  }
  memcpy(sa.sun_path, path, strlen(path) + 1);
  c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
    int e = errno;
    fprintf(stderr,
            "hant-client: cannot reach hantd at %s: %s\n"
            "  Start it with:  hantd --db LIBRARY.db --socket %s\n"
            "  (or 'systemctl start hantd.socket'; choose the socket with --socket or HANT_SOCKET)\n",
            path, strerror(e), path);
    if (c->fd >= 0)
      close(c->fd);
    c->fd = -1;
    return CLIENT_EXIT_UNREACHABLE;
  }
  return CLIENT_EXIT_OK;
}

void client_close(client_conn *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  free(c->buf);
  c->buf = NULL;
  c->len = c->cap = 0;
}

static int send_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    s += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Reads one line (without its newline) into a malloc'd string of *len
 * bytes (len may be NULL); NULL at EOF or error. */
static char *read_line(client_conn *c, size_t *len) {
  for (;;) {
    char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
    if (nl) {
      size_t n = (size_t)(nl - c->buf);
      if (len)
        *len = n;
      char *line = malloc(n + 1);
      if (!line)
        return NULL;
      memcpy(line, c->buf, n);
      line[n] = '\0';
      memmove(c->buf, nl + 1, c->len - n - 1);
      c->len -= n + 1;
      return line;
    }
    if (c->len + 65536 > c->cap) {
      size_t cap = c->cap ? c->cap * 2 : 131072;
      char *p = realloc(c->buf, cap);
      if (!p)
        return NULL;
      c->buf = p;
      c->cap = cap;
    }
    ssize_t k = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return NULL;
    c->len += (size_t)k;
  }
}

int client_line_parse(const char *text, size_t len, long id, client_line *out) {
  memset(out, 0, sizeof(*out));
  out->kind = CLIENT_LINE_INVALID;
  json_t *msg = json_loadb(text, len, 0, NULL);
  if (!json_is_object(msg)) {
    json_decref(msg);
    return HANT_EFORMAT;
  }
  out->msg = msg;
  json_t *mid = json_object_get(msg, "id");
  const char *method = json_string_value(json_object_get(msg, "method"));
  if (method && !mid) {
    out->kind = CLIENT_LINE_NOTIFICATION;
    out->method = method;
    out->params = json_object_get(msg, "params");
    return 0;
  }
  json_t *err = json_object_get(msg, "error");
  /* An error without an id is about the connection (too large, timeout, refused). */
  if (!(json_is_integer(mid) && json_integer_value(mid) == id) && !(err && json_is_null(mid))) {
    out->kind = CLIENT_LINE_OTHER;
    return 0;
  }
  out->kind = CLIENT_LINE_ANSWER;
  if (err) {
    out->error = err;
    json_int_t ec = json_integer_value(json_object_get(err, "code"));
    out->code = ec >= INT_MIN && ec <= INT_MAX ? (int)ec : 0; /* out of range: no code the client knows */
    out->message = json_string_value(json_object_get(err, "message"));
    if (!out->message)
      out->message = hant_rpc_error_message(out->code);
  } else {
    out->result = json_object_get(msg, "result");
  }
  return 0;
}

void client_line_free(client_line *l) {
  json_decref(l->msg);
  memset(l, 0, sizeof(*l));
  l->kind = CLIENT_LINE_INVALID;
}

/* The message of the last error answer (one thread: the client has one). */
static char last_error[512];

const char *client_last_error(void) { return last_error; }

int client_call(client_conn *c, const char *cmd, const char *method, json_t *params, json_t **result, int *code,
                client_notify_fn notify, void *user) {
  *result = NULL;
  if (code)
    *code = 0;
  long id = c->next_id++;
  json_t *req = json_object();
  json_object_set_new(req, "jsonrpc", json_string("2.0"));
  json_object_set_new(req, "id", json_integer(id));
  json_object_set_new(req, "method", json_string(method));
  if (params)
    json_object_set_new(req, "params", params);
  char *text = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  if (!text) {
    fprintf(stderr, "hant-client %s: out of memory\n", cmd);
    return CLIENT_EXIT_FAILURE;
  }
  int rc = CLIENT_EXIT_OK;
  for (int attempt = 0;; attempt++) {
    if (send_all(c->fd, text, strlen(text)) || send_all(c->fd, "\n", 1)) {
      /* The daemon may have said why it closed (refused uid, too many clients). */
      int e = errno;
      char *line = read_line(c, NULL);
      json_t *msg = line ? json_loads(line, 0, NULL) : NULL;
      free(line);
      json_t *err = json_object_get(msg, "error");
      if (err) {
        int ec = (int)json_integer_value(json_object_get(err, "code"));
        if (code)
          *code = ec;
        snprintf(last_error, sizeof(last_error), "%s", client_str(err, "message", hant_rpc_error_message(ec)));
        fprintf(stderr, "hant-client %s: %s\n", cmd, last_error);
        rc = CLIENT_EXIT_SERVER;
      } else {
        fprintf(stderr, "hant-client %s: lost the connection to hantd at %s: %s\n", cmd, c->path, strerror(e));
        rc = CLIENT_EXIT_UNREACHABLE;
      }
      json_decref(msg);
      break;
    }
    client_line answer = {.kind = CLIENT_LINE_INVALID};
    for (;;) {
      size_t n;
      char *line = read_line(c, &n);
      if (!line) {
        fprintf(stderr, "hant-client %s: hantd at %s closed the connection without answering\n", cmd, c->path);
        rc = CLIENT_EXIT_UNREACHABLE;
        break;
      }
      client_line l;
      client_line_parse(line, n, id, &l);
      free(line);
      if (l.kind == CLIENT_LINE_INVALID) {
        fprintf(stderr, "hant-client %s: hantd sent something that is not JSON-RPC\n", cmd);
        rc = CLIENT_EXIT_SERVER;
        break;
      }
      if (l.kind == CLIENT_LINE_NOTIFICATION) {
        if (notify)
          notify(user, l.method, l.params);
        client_line_free(&l);
        continue;
      }
      if (l.kind == CLIENT_LINE_ANSWER) {
        answer = l;
        break;
      }
      client_line_free(&l);
    }
    if (answer.kind != CLIENT_LINE_ANSWER)
      break;
    if (answer.error) {
      int ec = answer.code;
      if (ec == HANT_RPC_BUSY && attempt < 8) {
        client_line_free(&answer);
        struct timespec ts = {0, 20000000L << (attempt < 5 ? attempt : 5)};
        nanosleep(&ts, NULL);
        continue;
      }
      if (code)
        *code = ec;
      fprintf(stderr, "hant-client %s: %s\n", cmd, answer.message);
      if (ec == HANT_RPC_LIBRARY_EMPTY || ec == HANT_RPC_NO_COSTS)
        fprintf(stderr, "  (hantd serves %s)\n", c->path);
      client_line_free(&answer);
      rc = CLIENT_EXIT_SERVER;
      break;
    }
    *result = json_incref(answer.result);
    client_line_free(&answer);
    if (!*result) {
      fprintf(stderr, "hant-client %s: hantd answered without a result\n", cmd);
      rc = CLIENT_EXIT_SERVER;
    }
    break;
  }
  free(text);
  return rc;
}

int client_call_once(const char *cmd, const char *method, json_t *params, json_t **result) {
  client_conn c;
  int rc = client_connect(&c);
  if (rc) {
    json_decref(params);
    *result = NULL;
    return rc;
  }
  rc = client_call(&c, cmd, method, params, result, NULL, NULL, NULL);
  client_close(&c);
  return rc;
}

void client_print_json(const json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
  if (s) {
    printf("%s\n", s);
    free(s);
  }
}

double client_num(const json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

const char *client_str(const json_t *obj, const char *key, const char *def) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : def;
}

void client_fmt_kind(const char *key, double v, char *buf, size_t n) {
  if (!isfinite(v)) {
    snprintf(buf, n, "-");
    return;
  }
  hant_budget b = {.kind = hant_budget_kind_from_key(key), .value = v};
  if (b.kind == HANT_BUDGET_KIND_COUNT)
    snprintf(buf, n, "%.6g", v);
  else
    hant_budget_format(&b, buf, n);
}

struct wait_ui {
  hant_progress bar;
  bool json;
  bool started;
};

static void on_progress(void *user, const char *method, json_t *params) {
  struct wait_ui *u = user;
  if (strcmp(method, "jobs.progress") || u->json)
    return;
  if (!u->started) {
    char label[64];
    snprintf(label, sizeof(label), "job %lld", (long long)json_integer_value(json_object_get(params, "id")));
    hant_progress_start(&u->bar, label);
    u->started = true;
  }
  hant_progress_update(&u->bar, client_num(params, "progress"), 1.0, client_str(params, "note", ""));
}

static int wait_job(client_conn *c, const char *cmd, long long id, bool json, bool quiet, json_t **job_out);

int client_wait_job(client_conn *c, const char *cmd, long long id, bool json, json_t **job_out) {
  return wait_job(c, cmd, id, json, false, job_out);
}

int client_wait_job_quiet(client_conn *c, const char *cmd, long long id, bool json, json_t **job_out) {
  return wait_job(c, cmd, id, json, true, job_out);
}

void client_print_job(const json_t *job, bool json) {
  if (json) {
    client_print_json(job);
    return;
  }
  if (strcmp(client_str(job, "state", ""), "done"))
    return;
  json_t *res = json_object_get(job, "result");
  const char *kind = client_str(job, "kind", "");
  if (!strcmp(kind, "transform")) {
    const char *placed = client_str(res, "placed", NULL);
    bool int8 = !strcmp(client_str(res, "precision", "fp32"), "int8");
    printf("wrote %s (%lld bytes, ONNX%s; %.4g MMAC, %lld parameters)\n", placed ? placed : client_str(res, "out", "?"),
           (long long)json_integer_value(json_object_get(res, "bytes")), int8 ? ", int8 QDQ" : "",
           client_num(res, "macs") / 1e6, (long long)json_integer_value(json_object_get(res, "params")));
    if (placed && strcmp(placed, client_str(res, "out", "")))
      printf("      (copied from hantd's %s)\n", client_str(res, "out", "?"));
    if (json_is_object(json_object_get(res, "measured"))) {
      json_t *m = json_object_get(res, "measured");
      long long ep = (long long)json_integer_value(json_object_get(res, "finetune_epochs"));
      printf("accuracy: predicted %.4f, measured val %.4f, test %.4f (%lld val / %lld test images)\n",
             client_num(json_object_get(res, "predicted"), "accuracy"), client_num(m, "val_accuracy"),
             client_num(m, "test_accuracy"), (long long)json_integer_value(json_object_get(m, "val_images")),
             (long long)json_integer_value(json_object_get(m, "test_images")));
      json_t *ft = json_object_get(res, "finetune");
      if (ep > 0)
        printf("          before %lld %s of KD fine-tuning: val %.4f, test %.4f; teacher val %.4f, test %.4f\n", ep,
               hant_plural(ep, "epoch", "epochs"), client_num(m, "val_accuracy_before_finetune"),
               client_num(m, "test_accuracy_before_finetune"), client_num(m, "teacher_val_accuracy"),
               client_num(m, "teacher_test_accuracy"));
      else
        printf("          teacher val %.4f, test %.4f\n", client_num(m, "teacher_val_accuracy"),
               client_num(m, "teacher_test_accuracy"));
      if (ep > 0 && !strcmp(client_str(ft, "epochs_chosen", ""), "auto"))
        printf("          (%lld epochs chosen: as assembled, %.2f points below the teacher on validation)\n", ep,
               client_num(ft, "assembled_val_loss_points"));
    }
    json_t *q8 = json_object_get(res, "int8");
    if (int8 && json_is_object(q8) && json_is_number(json_object_get(q8, "test_accuracy")))
      printf("int8 (as written, ranges by %s): val %.4f, test %.4f\n", client_str(q8, "calib", "?"),
             client_num(q8, "val_accuracy"), client_num(q8, "test_accuracy"));
    else if (int8 && json_is_object(q8))
      printf("int8 (as written, ranges by %s): val %.4f\n", client_str(q8, "calib", "?"), client_num(q8, "val_accuracy"));
  } else if (!strcmp(kind, "eval")) {
    printf("accuracy %.4f  loss %.4f  on %lld %s images of %s\n", client_num(res, "accuracy"), client_num(res, "loss"),
           (long long)json_integer_value(json_object_get(res, "n")), client_str(res, "split", "?"),
           client_str(res, "model", "?"));
  } else {
    client_print_json(res);
  }
}

static int wait_job(client_conn *c, const char *cmd, long long id, bool json, bool quiet, json_t **job_out) {
  struct wait_ui u;
  memset(&u, 0, sizeof(u));
  u.json = json;
  json_t *job = NULL;
  int code = 0, rc;
  for (;;) {
    json_t *p = json_object();
    json_object_set_new(p, "id", json_integer(id));
    rc = client_call(c, cmd, "jobs.wait", p, &job, &code, on_progress, &u);
    if (rc == CLIENT_EXIT_SERVER && code == HANT_RPC_SHUTTING_DOWN) {
      /* The daemon restarts: the job is kept; wait on the next one. */
      client_close(c);
      fprintf(stderr, "hant-client %s: waiting for hantd to come back...\n", cmd);
      for (int i = 0; i < 600; i++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
        int saved = dup(2), null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
          dup2(null, 2);
          close(null);
        }
        rc = client_connect(c);
        if (saved >= 0) {
          dup2(saved, 2);
          close(saved);
        }
        if (!rc)
          break;
      }
      if (rc)
        break;
      continue;
    }
    break;
  }
  if (u.started)
    hant_progress_end(&u.bar);
  if (rc)
    return rc;
  const char *state = client_str(job, "state", "?");
  int out = !strcmp(state, "done") ? CLIENT_EXIT_OK : CLIENT_EXIT_FAILURE;
  if (!quiet) /* else the caller prints */
    client_print_job(job, json);
  if (out != CLIENT_EXIT_OK)
    fprintf(stderr, "hant-client %s: job %lld %s: %s\n", cmd, id, state, client_str(job, "error", "no reason given"));
  if (job_out)
    *job_out = job;
  else
    json_decref(job);
  return out;
}

int client_place_file(const char *from, const char *to, char *err, size_t n) {
  int fd = open(from, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st, dst;
  if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    snprintf(err, n, "cannot read hantd's file %s: %s", from, fd < 0 ? strerror(errno) : "not a regular file");
    if (fd >= 0)
      close(fd);
    return -1;
  }
  /* The user asked for hantd's own copy: nothing to do. */
  if (stat(to, &dst) == 0 && dst.st_dev == st.st_dev && dst.st_ino == st.st_ino) {
    close(fd);
    return 0;
  }
  if ((uint64_t)st.st_size > HANT_ONNX_MAX_BYTES) {
    snprintf(err, n, "%s: larger than %zu bytes", from, HANT_ONNX_MAX_BYTES);
    close(fd);
    return -1;
  }
  size_t len = (size_t)st.st_size, got = 0;
  char *buf = malloc(len ? len : 1);
  while (buf && got < len) {
    ssize_t k = read(fd, buf + got, len - got);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  close(fd);
  if (!buf || got != len) {
    snprintf(err, n, "%s: %s", from, buf ? "read error" : "out of memory");
    free(buf);
    return -1;
  }
  /* As any file the user makes: 0666 less the umask. */
  mode_t mask = umask(0);
  umask(mask);
  int rc = hant_file_write_atomic_mode(to, buf, len, 0666 & ~(unsigned)mask);
  free(buf);
  if (rc) {
    snprintf(err, n, "%s", hant_errmsg());
    return -1;
  }
  return 0;
}

int client_absolute(const char *path, char *out, size_t n) {
  char tmp[4096];
  if (path[0] == '/') {
    snprintf(tmp, sizeof(tmp), "%s", path);
  } else {
    char cwd[1024];
    if (!getcwd(cwd, sizeof(cwd)))
      return -1;
    int k = snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path);
    if (k < 0 || (size_t)k >= sizeof(tmp))
      return -1;
  }
  /* "./x" and "a//b" name the same file as "x" and "a/b": answers and
   * messages show the plain form. ".." is left alone: through a link it
   * does not mean the parent by the text. */
  size_t o = 0;
  for (const char *s = tmp; *s;) {
    if (s[0] == '/' && (s[1] == '/' || (s[1] == '.' && (s[2] == '/' || s[2] == '\0')))) {
      s += s[1] == '/' ? 1 : 2;
      continue;
    }
    if (o + 1 >= n)
      return -1;
    out[o++] = *s++;
  }
  if (o == 0) {
    if (n < 2)
      return -1;
    out[o++] = '/';
  }
  out[o] = '\0';
  return 0;
}
