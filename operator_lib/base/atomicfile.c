/* SPDX-License-Identifier: MIT */
/* atomicfile.c: temporary file, fsync, rename: the one way hant replaces files. */
#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"

/* Fills buf with `.BASE.tmp-XXXXXXXXXXXX` in path's directory: a random,
 * hidden name that nobody can predict and so plant a link at. */
static int temp_name(const char *path, char *buf, size_t n) {
  const char *slash = strrchr(path, '/');
  size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
  unsigned char r[6];
  if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
    return hant__error(HANT_EIO, "%s: no random bytes for a temporary name (%s)", path, strerror(errno));
  int len = snprintf(buf, n, "%.*s.%s" HANT_ATOMIC_TMP_MARK "%02x%02x%02x%02x%02x%02x", (int)dir, path,
                     path + dir, r[0], r[1], r[2], r[3], r[4], r[5]);
  if (len < 0 || (size_t)len >= n)
    return hant__error(HANT_EINVAL, "%s: path too long", path);
  return 0;
}

int hant_file_write_atomic_mode(const char *path, const void *data, size_t len, unsigned mode) {
  char tmp[4096];
  int rc = temp_name(path, tmp, sizeof(tmp));
  if (rc)
    return rc;
  /* O_EXCL refuses an existing name, links included, and O_NOFOLLOW says so
   * twice: nothing planted at the temporary name is ever opened. */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return hant__error(HANT_EIO, "%s: cannot create a temporary file beside it (%s)", path, strerror(errno));
  const char *p = data;
  size_t left = len;
  while (left) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      close(fd);
      unlink(tmp);
      return hant__error(HANT_EIO, "%s: write failed (%s)", path, strerror(e));
    }
    p += w;
    left -= (size_t)w;
  }
  /* rename replaces the directory entry, never what a link there points to. */
  if ((mode != 0600 && fchmod(fd, (mode_t)mode)) || fsync(fd) || close(fd) || rename(tmp, path)) {
    int e = errno;
    unlink(tmp);
    return hant__error(HANT_EIO, "%s: write failed (%s)", path, strerror(e));
  }
  return 0;
}

int hant_file_write_atomic(const char *path, const void *data, size_t len) {
  return hant_file_write_atomic_mode(path, data, len, 0644);
}

bool hant_file_is_atomic_temp(const char *name) {
  return name[0] == '.' && strstr(name, HANT_ATOMIC_TMP_MARK) != NULL;
}
