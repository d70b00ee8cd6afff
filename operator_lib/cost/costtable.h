/* SPDX-License-Identifier: MIT */
/* costtable.h: the cost table (CSV) that hant-bench writes on a board and `hant-distill import-costs` reads. */
#ifndef HANT_COSTTABLE_H
#define HANT_COSTTABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The format (docs/costs.md):
 *
 *   # hant cost table 1
 *   # tool: hant-bench 0.1.0
 *   # cpu: ARMv8 Processor rev 1 (v8l)
 *   # threads: 4
 *   id,batch,latency_ms,latency_spread,runs,energy_mj,energy_source,power_mode
 *   17,1,0.5321,0.041,41,1.234,ina3221,10W
 *
 * The first line is the magic; then "# key: value" lines (kept as
 * metadata), then a header row naming the columns, then one row per
 * measurement. Columns may come in any order; id, batch and latency_ms are
 * required, the others optional, unknown ones refused. Optional numeric
 * fields may be empty. Fields hold no commas or quotes. A row's key is
 * (id, batch, power_mode) and may not repeat. */
#define HANT_COSTTABLE_MAGIC "# hant cost table 1"
#define HANT_COSTTABLE_MAX_BYTES ((size_t)64 << 20)
#define HANT_COSTTABLE_MAX_LINE 1024
#define HANT_COSTTABLE_MAX_ROWS 1000000

typedef struct hant_costtable_row {
  int64_t id;
  int batch;
  double latency_ms;      /* median per inference of `batch` samples */
  double latency_spread;  /* (p90 - p10) / median, or -1 when absent */
  int runs;               /* timed samples, 0 when absent */
  double energy_mj;       /* per inference, or -1 when not measured */
  char energy_source[96]; /* "rapl", "ina3221", ...; empty when energy_mj < 0 */
  char power_mode[32];    /* empty when the device has none */
  int line;               /* line number in the file it was read from */
} hant_costtable_row;

typedef struct hant_costtable {
  char tool[64], cpu[128], created[32], device[64], power_mode[32];
  int threads; /* 0 when not stated */
  hant_costtable_row *rows;
  int n;
} hant_costtable;

/* Writes the magic, the metadata lines that are set, and the header row. */
int hant_costtable_write_header(FILE *f, const hant_costtable *meta);
int hant_costtable_write_row(FILE *f, const hant_costtable_row *r);

/* Parses a table into *t (rows malloc'd; hant_costtable_free). Malformed
 * input is refused with HANT_EFORMAT or HANT_ELIMIT and a message
 * "NAME:LINE: FIELD: expected ..., got ...". */
int hant_costtable_parse(const char *text, size_t len, const char *name, hant_costtable *t);
int hant_costtable_read(const char *path, hant_costtable *t);
void hant_costtable_free(hant_costtable *t);

#endif
