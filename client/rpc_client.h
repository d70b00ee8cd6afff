/* SPDX-License-Identifier: MIT */
/* rpc_client.h: hant-client's side of the protocol: connecting to hantd, calls, streamed notifications, and shared printing helpers. */
#ifndef HANT_CLIENT_RPC_H
#define HANT_CLIENT_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The socket: --socket, else $HANT_SOCKET, else hantd's default. */
const char *client_socket_path(void);
void client_set_socket(const char *path);

typedef struct client_conn {
  int fd;
  char *buf;
  size_t len, cap;
  long next_id;
  char path[1024];
} client_conn;

/* Connects to hantd. On failure prints why and how to start the daemon,
 * and returns CLIENT_EXIT_UNREACHABLE. */
int client_connect(client_conn *c);
void client_close(client_conn *c);

/* Called for each notification (e.g. jobs.progress) that arrives while
 * waiting for an answer. */
typedef void (*client_notify_fn)(void *user, const char *method, json_t *params);

/* Sends a request (params is stolen; may be NULL) and waits for its
 * answer. Busy answers are retried a few times with backoff. On success
 * returns CLIENT_EXIT_OK and *result (owned by the caller). On an error
 * answer prints "hant-client CMD: MESSAGE" and returns CLIENT_EXIT_SERVER
 * (*code, if not NULL, receives the JSON-RPC code); a lost connection
 * returns CLIENT_EXIT_UNREACHABLE. */
int client_call(client_conn *c, const char *cmd, const char *method, json_t *params, json_t **result, int *code,
                client_notify_fn notify, void *user);

/* What one line from hantd is to a client waiting for the answer to its
 * request `id` (client_line_parse). */
typedef enum client_line_kind {
  CLIENT_LINE_INVALID,      /* not a JSON object: hantd is broken, or is not hantd */
  CLIENT_LINE_NOTIFICATION, /* a method and no id, e.g. jobs.progress */
  CLIENT_LINE_OTHER,        /* an answer to another request, or anything else: skipped */
  CLIENT_LINE_ANSWER,       /* the answer to `id`, or an error with a null id (about the connection) */
} client_line_kind;

typedef struct client_line {
  client_line_kind kind;
  json_t *msg;         /* the parsed line, owned; NULL when INVALID */
  /* The rest is borrowed from msg. */
  const char *method;  /* NOTIFICATION: its method */
  json_t *params;      /* NOTIFICATION: its params, or NULL */
  json_t *result;      /* ANSWER without error: the result, or NULL when hantd gave none */
  json_t *error;       /* ANSWER: the error member (any JSON type), or NULL for a result */
  int code;            /* ANSWER with error: error.code, 0 when absent, not an integer or beyond int */
  const char *message; /* ANSWER with error: error.message, else the code's default message (never NULL then) */
} client_line;

/* Parses one line hantd sent (len bytes, without its newline, need not
 * end in a NUL), with no I/O: what client_call does with every line it
 * reads. Returns 0 and fills *out, or HANT_EFORMAT with out->kind
 * CLIENT_LINE_INVALID and nothing owned. Release with client_line_free. */
int client_line_parse(const char *text, size_t len, long id, client_line *out);
/* Drops what l owns; l is then INVALID. */
void client_line_free(client_line *l);

/* The message of the last error answer client_call received ("" if none). */
const char *client_last_error(void);

/* Connects, calls once, closes. */
int client_call_once(const char *cmd, const char *method, json_t *params, json_t **result);

/* Prints a JSON value compactly on stdout with a newline. */
void client_print_json(const json_t *v);

/* Number of an object's member, NAN when absent or not a number. */
double client_num(const json_t *obj, const char *key);
/* String member, or def. */
const char *client_str(const json_t *obj, const char *key, const char *def);

/* Formats a value of a budget kind key ("latency_ms", ...) with a unit. */
void client_fmt_kind(const char *key, double v, char *buf, size_t n);

/* Waits for job `id`, drawing a progress bar on a terminal; prints the
 * job's result unless json, where the final job object is printed.
 * Returns CLIENT_EXIT_OK when the job is done, CLIENT_EXIT_FAILURE when
 * it failed or was canceled. */
int client_wait_job(client_conn *c, const char *cmd, long long id, bool json, json_t **job_out);

/* Same without printing anything but the progress bar (on a terminal,
 * and not with json); the caller prints the job from *job_out
 * (client_print_job). */
int client_wait_job_quiet(client_conn *c, const char *cmd, long long id, bool json, json_t **job_out);

/* Prints a finished job as client_wait_job does: its JSON with json, else
 * what a done job made (a transform's result.placed, when set, is the
 * file named; result.out is hantd's copy). */
void client_print_job(const json_t *job, bool json);

/* Copies the file hantd wrote (from, the absolute path its answer
 * reported, in the user's directory of hantd's state) to the path the user
 * named (to), atomically, mode 0666 less the umask. The client runs as the
 * user, with the user's rights: so hantd never opens a path the user chose
 * outside its places, and the user may name any path they may write.
 * Nothing is copied when both name the same file. On failure returns -1
 * with the reason in err[n]. */
int client_place_file(const char *from, const char *to, char *err, size_t n);

/* Makes a path absolute against the working directory (for the daemon). */
int client_absolute(const char *path, char *out, size_t n);

#endif
