/* SPDX-License-Identifier: MIT */
/* netfile.h: hant's native network file: architecture text, metadata and parameters, checksummed. */
#ifndef HANT_NETFILE_H
#define HANT_NETFILE_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"

/* Largest native file accepted. */
#define HANT_NETFILE_MAX_BYTES ((size_t)1 << 30)

/* Writes net (which must carry its architecture text) with an optional
 * metadata string (e.g. JSON describing how it was trained). The file is
 * written to a temporary name and renamed, so a crash never leaves a
 * half-written model under `path`. */
int hant_netfile_save(const hant_net *net, const char *meta, const char *path);

/* Encodes the same bytes into a malloc'd buffer (for database BLOBs). */
int hant_netfile_encode(const hant_net *net, const char *meta, uint8_t **out, size_t *out_len);

/* Loads a native file. On success *out owns a new network and, if meta is
 * non-NULL, *meta a malloc'd metadata string (free it). Errors name the
 * file and what is wrong: bad magic, checksum, truncation, a parameter
 * that does not match the architecture. The file is read with
 * hant_file_read() (file.h): a file over HANT_NETFILE_MAX_BYTES or one that
 * is not a regular file is refused before it is parsed. */
int hant_netfile_load(const char *path, hant_net **out, char **meta);

/* Same, from memory (used by the file loader and the fuzz target). */
int hant_netfile_parse(const uint8_t *data, size_t len, const char *name, hant_net **out, char **meta);

#endif
