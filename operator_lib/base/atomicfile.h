/* SPDX-License-Identifier: MIT */
/* atomicfile.h: writing a whole file so that readers see the old or the new content, never a part. */
#ifndef HANT_ATOMICFILE_H
#define HANT_ATOMICFILE_H

#include <stddef.h>

/* Writes data to PATH.tmp.PID, fsyncs it and renames it over path, so a
 * crash leaves either the previous file or the complete new one. Returns
 * 0, HANT_EINVAL (path too long) or HANT_EIO with a message naming the
 * file; the temporary file is removed on failure. */
int hant_file_write_atomic(const char *path, const void *data, size_t len);

#endif
