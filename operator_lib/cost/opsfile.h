/* SPDX-License-Identifier: MIT */
/* opsfile.h: the operator list that `hant-distill export-ops` writes and hant-bench reads on a board. */
#ifndef HANT_OPSFILE_H
#define HANT_OPSFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The format (docs/costs.md), one operator per line, '#' starts a comment:
 *
 *   hant-ops 1
 *   # id  input  block
 *   17 1x28x28 conv 8 k=3 s=2 bn=1
 *   18 8x14x14 dws 8 k=5
 *
 * The first line is the magic "hant-ops 1". Every other non-blank,
 * non-comment line is an operator: the candidate id (a positive integer),
 * its input shape CxHxW for one sample, and the architecture line of its
 * block (arch.h). Weights are not listed: timing does not depend on them.
 * An input above HANT_OPSFILE_MAX_INPUT elements, or a block above
 * HANT_OPSFILE_MAX_PARAM_FLOATS parameters or HANT_OPSFILE_MAX_ACTIVATIONS
 * activations, is refused (HANT_ELIMIT). */
#define HANT_OPSFILE_MAGIC "hant-ops 1"
#define HANT_OPSFILE_MAX_BYTES ((size_t)64 << 20)
#define HANT_OPSFILE_MAX_LINE 1024
#define HANT_OPSFILE_MAX_OPS 200000
#define HANT_OPSFILE_MAX_INPUT ((size_t)1 << 24)         /* elements of one sample's input */
#define HANT_OPSFILE_MAX_PARAM_FLOATS ((size_t)1 << 26) /* parameters of one block */
#define HANT_OPSFILE_MAX_ACTIVATIONS ((size_t)1 << 27)  /* all nodes' outputs for one sample */

typedef struct hant_ops_entry {
  int64_t id;      /* candidate id in the library */
  int c, h, w;     /* input shape of one sample */
  char block[320]; /* architecture line of the block, without "input" */
  int line;        /* line number in the file it was read from */
} hant_ops_entry;

/* Writes the magic line and an optional comment (may contain newlines;
 * each line is prefixed with "# "). */
int hant_opsfile_write_header(FILE *f, const char *comment);
/* Writes one operator. HANT_EINVAL when the block holds a newline or ';'. */
int hant_opsfile_write(FILE *f, const hant_ops_entry *e);

/* Parses a list. On success *out is malloc'd (free it) with *n entries.
 * Errors are HANT_EFORMAT or HANT_ELIMIT with a message
 * "NAME:LINE: FIELD: expected ..., got ...". The block line is checked by
 * building it (arch.h), so an unknown layer is refused at its line. */
int hant_opsfile_parse(const char *text, size_t len, const char *name, hant_ops_entry **out, int *n);
/* Reads and parses a file (file.h says how files are read and refused). */
int hant_opsfile_read(const char *path, hant_ops_entry **out, int *n);

/* The architecture text "input CxHxW; BLOCK" of an entry, for hant_arch_build. */
void hant_opsfile_arch(const hant_ops_entry *e, char *buf, size_t n);

#endif
