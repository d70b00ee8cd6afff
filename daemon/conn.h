/* SPDX-License-Identifier: MIT */
/* conn.h: one client connection of hantd: request lines in, answer lines out, closed in its close callback. */
#ifndef HANTD_CONN_H
#define HANTD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

typedef struct hantd hantd; /* daemon.h */
typedef struct hantd_conn hantd_conn;

/* A connection reads newline-framed lines of at most cfg.max_message bytes
 * and hands each to hantd_dispatch_line. It stops reading while it has
 * cfg.max_inflight requests in flight or more than cfg.write_high bytes
 * unsent, and reads again once both fall to half. Its input buffer grows
 * to at most about cfg.max_message bytes and is given back once empty.
 * What all connections hold together (input buffers, unsent answers,
 * lines handed to workers: d->buffered) never exceeds cfg.max_buffered: a
 * connection that would take more is closed with one BUSY answer. The connection belongs
 * to the daemon's list (d->conns) from hantd_conn_new until it is freed,
 * which happens only after both its handles are closed and nothing holds
 * it (hantd_conn_hold); then it tells the daemon (hantd_daemon_maybe_finish).
 * Inside callbacks a connection is marked to close, never freed. */

/* A new connection on the daemon's loop, in d->conns and counted in
 * d->n_conns, not yet accepted or reading; NULL when out of memory. */
hantd_conn *hantd_conn_new(hantd *d);
/* The stream to uv_accept into. */
uv_stream_t *hantd_conn_stream(hantd_conn *c);
uint64_t hantd_conn_id(const hantd_conn *c); /* 1, 2, ... in order of acceptance, for the log */
/* The peer's credentials, as SO_PEERCRED gave them. */
void hantd_conn_set_peer(hantd_conn *c, uid_t uid, pid_t pid);
/* The peer's uid, set before the connection reads: workers may read it. */
uid_t hantd_conn_uid(const hantd_conn *c);
/* Starts reading requests and the idle timer (cfg.idle_timeout_s). */
void hantd_conn_start(hantd_conn *c);
/* Sends one error without an id and closes the connection once it is
 * written, or after an idle period if the peer does not read it. */
void hantd_conn_refuse(hantd_conn *c, int code, const char *msg);
/* Closes now: unsent answers are dropped. Safe to call twice. */
void hantd_conn_close(hantd_conn *c);

/* Sends a line (the newline is added) and takes ownership of it: line must
 * come from malloc with its terminating NUL, which becomes the newline.
 * NULL is ignored; on a closing connection the line is just freed. */
void hantd_conn_send(hantd_conn *c, char *line);
/* Sends an error answer (id NULL for none) and counts it in d->errors. */
void hantd_conn_send_error(hantd_conn *c, const char *id, int code, const char *msg);
/* True when the connection has more unsent bytes than cfg.write_high, or
 * all connections together hold more than half of cfg.max_buffered. */
bool hantd_conn_congested(const hantd_conn *c);
/* Takes n bytes of the daemon-wide budget (cfg.max_buffered) for data a
 * connection's request holds elsewhere (a line on a worker); false, taking
 * nothing, when the budget cannot take them. hantd_conn_uncharge gives
 * them back. Loop thread. */
bool hantd_conn_charge(hantd *d, size_t n);
void hantd_conn_uncharge(hantd *d, size_t n);
bool hantd_conn_closing(const hantd_conn *c);

/* Something (a task, a coalesced request, a job watch) will answer on this
 * connection: it is not freed, nor closed as idle or at end of input, until
 * the matching release. */
void hantd_conn_hold(hantd_conn *c);
void hantd_conn_release(hantd_conn *c);

/* Shutdown: closes every connection, each once its unsent answers are
 * written, and reads no more requests from any. */
void hantd_conn_close_all(hantd *d);

#endif
