/* SPDX-License-Identifier: MIT */
/* atomicfile.c: temporary file, fsync, rename: the one way hant replaces files. */
#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

int hant_file_write_atomic(const char *path, const void *data, size_t len) {
  char tmp[4096];
  int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof(tmp))
    return hant__error(HANT_EINVAL, "%s: path too long", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return hant__error(HANT_EIO, "%s: cannot create (%s)", tmp, strerror(errno));
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
  if (fsync(fd) || close(fd) || rename(tmp, path)) {
    int e = errno;
    unlink(tmp);
    return hant__error(HANT_EIO, "%s: write failed (%s)", path, strerror(e));
  }
  return 0;
}
