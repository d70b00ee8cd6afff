/* SPDX-License-Identifier: MIT */
/* file.h: reading a whole untrusted file into memory, refusing anything larger than a limit. */
#ifndef HANT_FILE_H
#define HANT_FILE_H

#include <stddef.h>

/* Reads the whole regular file at path into a new buffer, the one way
 * libhant reads an input file before parsing it.
 *
 * On success *data is a malloc'd buffer the caller owns (release it with
 * free()) holding the file's *len bytes followed by one NUL byte that *len
 * does not count, so text parsers can treat it as a string. A file of
 * length 0 gives a buffer holding only the NUL.
 *
 * Only regular files are read. The file is opened without blocking, so a
 * FIFO, a socket or a device is refused at once instead of waiting for a
 * writer; /dev/stdin works when the shell redirected it from a regular
 * file, not when it is a pipe. A file larger than max_bytes is refused
 * before any of it is read, and a file that grows past max_bytes while it
 * is read is refused too; max_bytes counts bytes and excludes the NUL.
 *
 * Returns 0, or with *data NULL and *len 0:
 *   HANT_ENOENT  the file or a directory on its path does not exist
 *   HANT_EIO     it cannot be opened for another reason, is not a regular
 *                file (a directory, FIFO, socket or device), or a read failed
 *   HANT_ELIMIT  it is larger than max_bytes
 *   HANT_ENOMEM  no memory for the buffer
 *   HANT_EINVAL  path, data or len is NULL
 * Every message starts with the path, e.g. "costs.csv: cannot open: No such
 * file or directory". */
int hant_file_read(const char *path, size_t max_bytes, char **data, size_t *len);

/* The same from a file the caller opened (and still owns: it is not
 * closed), read from its current position; `path` names it in messages. */
int hant_file_read_fd(int fd, const char *path, size_t max_bytes, char **data, size_t *len);

/* Splits untrusted text into lines, the one way libhant's line formats
 * (operator lists, cost tables) read their text. Lines end at '\n'; a
 * '\r' before it is dropped. The caller owns the struct and the text. */
typedef struct hant_lines {
  const char *name; /* the file's name, for messages */
  const char *text;
  size_t len, pos;
  size_t max_line; /* longest line accepted, in bytes */
  int lineno;      /* of the line last returned, from 1 */
} hant_lines;

void hant_lines_init(hant_lines *r, const char *name, const char *text, size_t len, size_t max_line);

/* Copies the next line into buf (at least max_line + 1 bytes), NUL-
 * terminated. Returns 1 for a line, 0 at the end of the text, HANT_ELIMIT
 * for a line longer than max_line or HANT_EFORMAT for a NUL byte, with a
 * message "NAME:LINE: ...". */
int hant_lines_next(hant_lines *r, char *buf);

#endif
