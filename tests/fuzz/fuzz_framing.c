/* SPDX-License-Identifier: MIT */
/* fuzz_framing.c: fuzz target for hantd's request framing: a stream gives the same messages however reads cut it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "hant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An input is two header bytes and the stream:
 *   data[0]  the size limit: 1 + (data[0] & 0x7f) bytes, times 1024 when
 *            the high bit is set;
 *   data[1]  how reads cut the stream: 1-byte reads when odd, else reads of
 *            1 to 64 bytes drawn from a generator seeded with it. */

static long accepted; /* streams that gave at least one message */

/* The messages of one run, and how it ended. */
typedef struct framed {
  char *bytes; /* the messages, each preceded by its length */
  size_t len, cap;
  int count;
  bool too_large;
} framed;

static void fail(const char *what) {
  fprintf(stderr, "fuzz_framing: %s\n", what);
  abort();
}

static void add(framed *f, const char *p, size_t n) {
  if (f->len + sizeof(n) + n > f->cap) {
    size_t cap = f->cap ? f->cap : 256;
    while (cap < f->len + sizeof(n) + n)
      cap *= 2;
    if (!(f->bytes = realloc(f->bytes, cap)))
      fail("out of memory");
    f->cap = cap;
  }
  memcpy(f->bytes + f->len, &n, sizeof(n));
  memcpy(f->bytes + f->len + sizeof(n), p, n);
  f->len += sizeof(n) + n;
  f->count++;
}

/* What the framing promises, written plainly over the whole stream. */
static void reference(const char *s, size_t len, size_t max, framed *out) {
  size_t pos = 0;
  while (pos < len) {
    const char *nl = memchr(s + pos, '\n', len - pos);
    if (!nl) {
      size_t rest = len - pos;
      out->too_large = rest > max + (s[len - 1] == '\r');
      return;
    }
    size_t m = (size_t)(nl - (s + pos));
    const char *line = s + pos;
    pos += m + 1;
    if (m && line[m - 1] == '\r')
      m--;
    if (m > max) {
      out->too_large = true;
      return;
    }
    size_t b = 0;
    while (b < m && (line[b] == ' ' || line[b] == '\t'))
      b++;
    if (b < m)
      add(out, line, m);
  }
}

/* Feeds the stream to hantd_frame_next in reads of the given sizes, into a
 * buffer kept as a connection keeps it: emptied when all is framed,
 * compacted and grown when a read does not fit. */
static void framed_run(const char *s, size_t len, size_t max, uint8_t how, bool whole, framed *out) {
  char *buf = NULL;
  size_t blen = 0, cap = 0, start = 0, scanned = 0, pos = 0;
  uint32_t rng = 0x9e3779b9u ^ how ^ ((uint32_t)len << 8);
  while (pos < len && !out->too_large) {
    size_t k = len - pos;
    if (!whole) {
      rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
      size_t want = how & 1 ? 1 : 1 + rng % 64;
      if (want < k)
        k = want;
    }
    if (start && start == blen)
      start = blen = scanned = 0;
    if (blen + k > cap) {
      if (start) {
        memmove(buf, buf + start, blen - start);
        blen -= start;
        scanned -= start;
        start = 0;
      }
      if (blen + k > cap) {
        size_t c = cap ? cap : 16;
        while (c < blen + k)
          c *= 2;
        if (!(buf = realloc(buf, c)))
          fail("out of memory");
        cap = c;
      }
    }
    memcpy(buf + blen, s + pos, k);
    blen += k;
    pos += k;
    for (;;) {
      size_t at = (size_t)-1, n = (size_t)-1;
      int got = hantd_frame_next(buf, blen, &start, &scanned, max, &at, &n);
      if (got < 0) {
        if (got != HANT_ELIMIT)
          fail("an error other than HANT_ELIMIT");
        out->too_large = true;
        break;
      }
      if (got == 0) {
        if (scanned != blen || start > blen)
          fail("no message, yet the buffer is not all scanned");
        break;
      }
      /* Just before its newline, and a '\r' dropped at most. */
      if (got != 1 || n == 0 || n > max || at + n >= start || at + n + 2 < start)
        fail("a message outside the buffer, empty or over the limit");
      if (memchr(buf + at, '\n', n))
        fail("a message holds a newline");
      if (start > blen || scanned < start)
        fail("start and scanned out of order");
      add(out, buf + at, n);
    }
    if (start == blen)
      start = blen = scanned = 0;
  }
  free(buf);
}

static bool same(const framed *a, const framed *b) {
  return a->count == b->count && a->too_large == b->too_large && a->len == b->len &&
         (!a->len || !memcmp(a->bytes, b->bytes, a->len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t max = 1 + (data[0] & 0x7f);
  if (data[0] & 0x80)
    max *= 1024;
  const char *s = (const char *)data + 2;
  size_t len = size - 2;
  framed want = {0}, whole = {0}, cut = {0};
  reference(s, len, max, &want);
  framed_run(s, len, max, data[1], true, &whole);
  framed_run(s, len, max, data[1], false, &cut);
  if (!same(&want, &whole))
    fail("the stream in one read is framed unlike the reference");
  if (!same(&whole, &cut))
    fail("the stream in many reads is framed unlike the stream in one read");
  accepted += whole.count > 0;
  free(want.bytes);
  free(whole.bytes);
  free(cut.bytes);
  return 0;
}

#ifndef HANT_LIBFUZZER
#define FUZZ_NAME "fuzz_framing"
#include "fuzz_driver.h"

static const char *const seeds[] = {
    /* limit 128 bytes, 1-byte reads */
    "\x7f\x01{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}\n\n  \t\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
    "\"version\"}\r\n",
    /* limit 8 bytes, random reads: lines of 8, 8 + \r, a keep-alive, then one too long */
    "\x07\x02" "12345678\nabcdefgh\r\n \r\n\t\nx\n123456789\nnever\n",
    /* limit 64 KiB, random reads, a last line without its newline */
    "\xbf\x08" "{\"method\":\"status\"}\n{\"method\":\"devices\"}\r\n\r\n{\"method\":\"library\"}",
    /* limit 3: "abc\r" pending may still end as a line of 3 */
    "\x02\x04" "ab\r\nabc\r\nabcd\r\n",
};

static const char *const dict[] = {"\n", "\r\n", "\r", " ", "\t", "\n\n", " \t\r\n", "{}",
                                   "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}"};

static const fuzz_target target = {.seeds = seeds,
                                    .n_seeds = sizeof(seeds) / sizeof(seeds[0]),
                                    .dict = dict,
                                    .n_dict = sizeof(dict) / sizeof(dict[0]),
                                    .keep_one_in = 0,
                                    .accepted = &accepted,
                                    .seeds_must_pass = true};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
