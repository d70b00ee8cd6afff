/* SPDX-License-Identifier: MIT */
/* dispatch.h: where each of hantd's requests goes: answered on the loop, from the cache, by a worker, or by a job's end. */
#ifndef HANTD_DISPATCH_H
#define HANTD_DISPATCH_H

#include <stddef.h>

#include "conn.h"
#include "workers.h"

/* One request line of c (without its newline, n bytes, not NUL-terminated,
 * read only during the call). Lines up to 64 KiB are parsed here; longer
 * ones are parsed by a worker, so the loop never spends long on one, and
 * come back to the loop to be routed like the others: the answer does not
 * depend on the line's length. status and version are answered at once,
 * cacheable transforms from the cache or by waiting for the same request
 * already in flight (single flight), and the rest by a worker; a full
 * queue answers BUSY. While the daemon stops, requests are answered
 * SHUTTING_DOWN. Every answer goes to c, which is held (hantd_conn_hold)
 * until it is sent. */
void hantd_dispatch_line(hantd *d, hantd_conn *c, const char *line, size_t n);
/* A task came back from a worker (on the loop). A long line the worker
 * parsed is routed now, as a short one is at once. A request's answer is
 * cached if the library did not change meanwhile and sent to the asker
 * and every request coalesced with it, or, for jobs.wait on a job still
 * running, the asker watches the job. Frees t. */
void hantd_dispatch_done(hantd *d, hantd_task *t);
/* c is closing: what it only waits for (job watches) is dropped now. */
void hantd_dispatch_forget(hantd *d, hantd_conn *c);

#endif
