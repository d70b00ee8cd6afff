/* SPDX-License-Identifier: MIT */
/* atomicfile.h: writing a whole file so that readers see the old or the new content, never a part. */
#ifndef HANT_ATOMICFILE_H
#define HANT_ATOMICFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What temporary names carry between the hidden file's name and its random
 * suffix: `.NAME.tmp-0123456789ab`. */
#define HANT_ATOMIC_TMP_MARK ".tmp-"

/* Writes data to a new temporary file beside path with a random hidden name
 * (created with O_EXCL | O_NOFOLLOW, so no link planted there is followed),
 * fsyncs it, gives it `mode` and renames it over path, so a crash leaves
 * either the previous file or the complete new one (and at most a stale
 * temporary, see hant_file_is_atomic_temp). If path is a symbolic link, the
 * link is replaced, not its target. Returns 0, HANT_EINVAL (path too long) or
 * HANT_EIO with a message naming the file; the temporary file is removed on
 * failure. */
int hant_file_write_atomic_mode(const char *path, const void *data, size_t len, unsigned mode);
/* The same with mode 0644. */
int hant_file_write_atomic(const char *path, const void *data, size_t len);

/* The same inside one directory: dir_fd is an open directory (O_PATH is
 * enough) and name a single path component in it, no '/'. The temporary is
 * created with openat(dir_fd, ..., O_EXCL | O_NOFOLLOW) and renamed with
 * renameat within dir_fd, so nothing outside that directory is opened or
 * replaced, whatever links lie in it or on the way to it. With owner other
 * than (uid_t)-1 and other than the caller's effective uid, the file is
 * given to that user (fchown, which needs root or CAP_CHOWN) before it takes
 * its name; *given (may be NULL) says whether that happened, and when it
 * could not the file stays the caller's, with `mode` all the same. label
 * names the file in messages (its absolute path, typically). Returns as
 * hant_file_write_atomic_mode does. */
int hant_file_write_atomic_at(int dir_fd, const char *name, const char *label, const void *data, size_t len,
                              unsigned mode, uid_t owner, bool *given);

/* True when a directory entry's name is one of those temporaries, left
 * behind by a crash, so that a directory's owner can remove it. */
bool hant_file_is_atomic_temp(const char *name);

#endif
