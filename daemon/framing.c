/* SPDX-License-Identifier: MIT */
/* framing.c: cuts newline-delimited messages with a size limit out of a connection's input, with no I/O. */
#include <string.h>

#include "framing.h"
#include "hant.h"

int hantd_frame_next(const char *buf, size_t len, size_t *start, size_t *scanned, size_t max_bytes, size_t *at,
                     size_t *n) {
  for (;;) {
    const char *nl = *scanned < len ? memchr(buf + *scanned, '\n', len - *scanned) : NULL;
    if (!nl) {
      *scanned = len;
      size_t pending = len - *start;
      /* "x...x\r" of max_bytes + 1 may still end as a line of max_bytes:
       * refusing it now would make the verdict depend on where reads cut
       * the stream. */
      if (pending > max_bytes && !(pending == max_bytes + 1 && buf[len - 1] == '\r'))
        return HANT_ELIMIT;
      return 0;
    }
    size_t end = (size_t)(nl - buf), k = *start, m = end - k;
    *start = *scanned = end + 1;
    if (m && buf[end - 1] == '\r')
      m--;
    if (m > max_bytes)
      return HANT_ELIMIT;
    size_t b = 0;
    while (b < m && (buf[k + b] == ' ' || buf[k + b] == '\t'))
      b++;
    if (b == m)
      continue; /* a keep-alive */
    *at = k;
    *n = m;
    return 1;
  }
}
