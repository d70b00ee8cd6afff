/* SPDX-License-Identifier: MIT */
/* file.c: reads whole input files with a size limit, refusing anything but a regular file. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"

/* Names what a non-regular file is, for the refusal. */
static const char *kind_of(mode_t m) {
  if (S_ISDIR(m))
    return "is a directory";
  if (S_ISFIFO(m))
    return "is a FIFO or pipe, not a regular file";
  if (S_ISSOCK(m))
    return "is a socket, not a regular file";
  if (S_ISCHR(m) || S_ISBLK(m))
    return "is a device, not a regular file";
  return "is not a regular file";
}

/* One read(2) that retries when a signal interrupts it. */
static ssize_t read_some(int fd, char *buf, size_t n) {
  ssize_t got;
  do
    got = read(fd, buf, n);
  while (got < 0 && errno == EINTR);
  return got;
}

int hant_file_read(const char *path, size_t max_bytes, char **data, size_t *len) {
  if (data)
    *data = NULL;
  if (len)
    *len = 0;
  if (!path || !data || !len)
    return hant__error(HANT_EINVAL, "%s: NULL argument to hant_file_read", path ? path : "(no path)");
  /* O_NONBLOCK: opening a FIFO without a writer would otherwise wait
   * forever, before fstat could tell what the path names. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    return hant__error(e == ENOENT || e == ENOTDIR ? HANT_ENOENT : HANT_EIO, "%s: cannot open: %s", path,
                       strerror(e));
  }
  int rc = hant_file_read_fd(fd, path, max_bytes, data, len);
  close(fd);
  return rc;
}

int hant_file_read_fd(int fd, const char *path, size_t max_bytes, char **data, size_t *len) {
  if (data)
    *data = NULL;
  if (len)
    *len = 0;
  if (fd < 0 || !path || !data || !len)
    return hant__error(HANT_EINVAL, "%s: bad argument to hant_file_read_fd", path ? path : "(no name)");
  /* One byte of the buffer is the NUL, so the limit must leave room for it. */
  if (max_bytes > SIZE_MAX - 1)
    max_bytes = SIZE_MAX - 1;
  char *buf = NULL;
  int rc = 0;
  struct stat st;
  if (fstat(fd, &st)) {
    rc = hant__error(HANT_EIO, "%s: cannot stat: %s", path, strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = hant__error(HANT_EIO, "%s: %s", path, kind_of(st.st_mode));
    goto out;
  }
  if (st.st_size < 0 || (uintmax_t)st.st_size > max_bytes) {
    rc = hant__error(HANT_ELIMIT, "%s: %jd bytes, over the limit of %zu bytes", path, (intmax_t)st.st_size,
                     max_bytes);
    goto out;
  }

  /* The size from fstat is a first guess: the file may grow or shrink while
   * it is read, and files under /proc report 0. Read until end of file and
   * check the limit against what was actually read. */
  size_t cap = (size_t)st.st_size ? (size_t)st.st_size : 4096, n = 0;
  if (cap > max_bytes)
    cap = max_bytes;
  if (!(buf = malloc(cap + 1))) {
    rc = hant__error(HANT_ENOMEM, "%s: out of memory for %zu bytes", path, cap + 1);
    goto out;
  }
  for (;;) {
    if (n == cap) {
      if (cap == max_bytes) {
        /* Full to the limit: one more byte means the file is over it. */
        char probe;
        ssize_t got = read_some(fd, &probe, 1);
        if (got < 0)
          rc = hant__error(HANT_EIO, "%s: read error: %s", path, strerror(errno));
        else if (got > 0)
          rc = hant__error(HANT_ELIMIT, "%s: over the limit of %zu bytes", path, max_bytes);
        break;
      }
      size_t grow = cap < max_bytes / 2 ? cap * 2 : max_bytes;
      char *nb = realloc(buf, grow + 1);
      if (!nb) {
        rc = hant__error(HANT_ENOMEM, "%s: out of memory for %zu bytes", path, grow + 1);
        break;
      }
      buf = nb;
      cap = grow;
    }
    ssize_t got = read_some(fd, buf + n, cap - n);
    if (got < 0) {
      rc = hant__error(HANT_EIO, "%s: read error: %s", path, strerror(errno));
      break;
    }
    if (got == 0)
      break;
    n += (size_t)got;
  }
  if (!rc) {
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
  }
out:
  free(buf);
  return rc;
}

void hant_lines_init(hant_lines *r, const char *name, const char *text, size_t len, size_t max_line) {
  *r = (hant_lines){.name = name, .text = text, .len = len, .max_line = max_line};
}

int hant_lines_next(hant_lines *r, char *buf) {
  if (r->pos >= r->len)
    return 0;
  r->lineno++;
  const char *s = r->text + r->pos;
  const char *e = memchr(s, '\n', r->len - r->pos);
  size_t l = e ? (size_t)(e - s) : r->len - r->pos;
  r->pos += l + (e ? 1 : 0);
  if (l && s[l - 1] == '\r')
    l--;
  if (l > r->max_line)
    return hant__error(HANT_ELIMIT, "%s:%d: line longer than %zu characters", r->name, r->lineno, r->max_line);
  if (memchr(s, '\0', l))
    return hant__error(HANT_EFORMAT, "%s:%d: NUL byte in a text file", r->name, r->lineno);
  memcpy(buf, s, l);
  buf[l] = '\0';
  return 1;
}
