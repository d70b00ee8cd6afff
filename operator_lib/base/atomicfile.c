/* SPDX-License-Identifier: MIT */
/* atomicfile.c: temporary file, fsync, rename: the one way hant replaces files. */
#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"

/* Fills buf with `.NAME.tmp-XXXXXXXXXXXX` for the entry name: a random,
 * hidden name that nobody can predict and so plant a link at. A long name
 * is shortened so that the temporary still fits in NAME_MAX. */
static int temp_name(const char *name, const char *label, char *buf, size_t n) {
  unsigned char r[6];
  if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
    return hant__error(HANT_EIO, "%s: no random bytes for a temporary name (%s)", label, strerror(errno));
  int len = snprintf(buf, n, ".%.200s" HANT_ATOMIC_TMP_MARK "%02x%02x%02x%02x%02x%02x", name, r[0], r[1], r[2], r[3],
                     r[4], r[5]);
  if (len < 0 || (size_t)len >= n)
    return hant__error(HANT_EINVAL, "%s: path too long", label);
  return 0;
}

int hant_file_write_atomic_at(int dir_fd, const char *name, const char *label, const void *data, size_t len,
                              unsigned mode, uid_t owner, bool *given) {
  if (given)
    *given = false;
  if (!label)
    label = name;
  if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
    return hant__error(HANT_EINVAL, "%s: not a file name in a directory", label);
  char tmp[NAME_MAX + 1];
  int rc = temp_name(name, label, tmp, sizeof(tmp));
  if (rc)
    return rc;
  /* O_EXCL refuses an existing name, links included, and O_NOFOLLOW says so
   * twice: nothing planted at the temporary name is ever opened. */
  int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return hant__error(HANT_EIO, "%s: cannot create a temporary file beside it (%s)", label, strerror(errno));
  const char *p = data;
  size_t left = len;
  while (left) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      close(fd);
      unlinkat(dir_fd, tmp, 0);
      return hant__error(HANT_EIO, "%s: write failed (%s)", label, strerror(e));
    }
    p += w;
    left -= (size_t)w;
  }
  /* The owner changes before the file has its name, so that nobody ever
   * sees the name with the wrong owner. Only root or CAP_CHOWN may give a
   * file away; without them the file stays ours, which the caller learns. */
  if (owner != (uid_t)-1 && owner != geteuid()) {
    if (fchown(fd, owner, (gid_t)-1) == 0) {
      if (given)
        *given = true;
    } else if (errno != EPERM) {
      int e = errno;
      close(fd);
      unlinkat(dir_fd, tmp, 0);
      return hant__error(HANT_EIO, "%s: cannot give the file to uid %u (%s)", label, (unsigned)owner, strerror(e));
    }
  }
  /* fchmod after fchown: a change of owner may clear mode bits. renameat
   * replaces the directory entry, never what a link there points to. */
  if ((mode != 0600 && fchmod(fd, (mode_t)mode)) || fsync(fd) || close(fd) || renameat(dir_fd, tmp, dir_fd, name)) {
    int e = errno;
    unlinkat(dir_fd, tmp, 0);
    return hant__error(HANT_EIO, "%s: write failed (%s)", label, strerror(e));
  }
  return 0;
}

int hant_file_write_atomic_mode(const char *path, const void *data, size_t len, unsigned mode) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash)
    snprintf(dir, sizeof(dir), ".");
  else if ((size_t)(slash - path) >= sizeof(dir))
    return hant__error(HANT_EINVAL, "%s: path too long", path);
  else
    snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
  /* The directory part is the caller's to choose, links and all; only the
   * entry itself is written without following one. */
  int dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return hant__error(HANT_EIO, "%s: cannot create a temporary file beside it (%s)", path, strerror(errno));
  int rc = hant_file_write_atomic_at(dir_fd, slash ? slash + 1 : path, path, data, len, mode, (uid_t)-1, NULL);
  close(dir_fd);
  return rc;
}

int hant_file_write_atomic(const char *path, const void *data, size_t len) {
  return hant_file_write_atomic_mode(path, data, len, 0644);
}

bool hant_file_is_atomic_temp(const char *name) {
  return name[0] == '.' && strstr(name, HANT_ATOMIC_TMP_MARK) != NULL;
}
