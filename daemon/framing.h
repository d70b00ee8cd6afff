/* SPDX-License-Identifier: MIT */
/* framing.h: hantd's request framing: newline-delimited messages with a size limit, cut from bytes as they arrive. */
#ifndef HANTD_FRAMING_H
#define HANTD_FRAMING_H

#include <stddef.h>

/* Finds the next message in a connection's input buffer without copying
 * or reading anything: the caller appends bytes as they arrive and calls
 * this until it returns 0, so that a stream gives the same messages
 * however it is cut into reads.
 *
 * buf[*start, len) is the input not yet framed, and buf[*start, *scanned)
 * is known to hold no newline (so each byte is searched once, however
 * slowly a line arrives); both start at 0 and only this function and
 * compaction of the buffer (moving both down together) change them.
 *
 * A message is a line without its '\n' and without one '\r' before it;
 * lines of spaces and tabs only are keep-alives and are skipped. Returns
 *   1            with the message at buf[*at, *at + *n), 0 < *n <= max_bytes,
 *                valid until the buffer changes; *start and *scanned are
 *                past its newline;
 *   0            when no whole message is buffered yet (*scanned == len);
 *   HANT_ELIMIT  when the line being read is longer than max_bytes: a
 *                whole line, or more than max_bytes pending without a
 *                newline (a final '\r' not counted, as it may precede the
 *                newline). The connection is then beyond repair.
 * buf may be NULL when len == *start. */
int hantd_frame_next(const char *buf, size_t len, size_t *start, size_t *scanned, size_t max_bytes, size_t *at,
                     size_t *n);

#endif
