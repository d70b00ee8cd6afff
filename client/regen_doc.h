/* SPDX-License-Identifier: MIT */
/* regen_doc.h: an entry's NAME.json as hant-client regen writes it, reads it back, and shows it in the report. */
#ifndef HANT_CLIENT_REGEN_DOC_H
#define HANT_CLIENT_REGEN_DOC_H

#include <stddef.h>

#include "hant.h"
#include "rpc_client.h"

/* Largest NAME.json read back, in bytes; a larger one is regenerated. */
#define CLIENT_REGEN_DOC_MAX ((size_t)16 << 20)

/* The text of an entry's NAME.json: doc as JSON indented by two spaces,
 * reals to 12 significant digits (as hantd sends them; any double then
 * reads back), and a final newline. Returns a malloc'd string of *len
 * bytes (the NUL not counted), or NULL when out of memory. */
char *client_regen_doc_text(const json_t *doc, size_t *len);

/* Reads back the text of an entry's NAME.json (len bytes, need not end in
 * a NUL) that an earlier run wrote, with no I/O: the file is a complete
 * entry made from the inputs whose hash is inputs_sha when it is a JSON
 * object whose inputs_sha256 is that string and whose onnx.sha256 is 64
 * lowercase hex digits (the hash of the entry's ONNX file then, which the
 * caller compares with the file now). path names the file in messages.
 * Returns 0 with *doc, owned by the caller, and onnx_sha (65 bytes) set;
 * otherwise *doc is NULL and hant_errmsg() says why:
 *   HANT_EFORMAT  not JSON, not an object, or no such hash
 *   HANT_EINVAL   made from other inputs (the entry is to be regenerated)
 *   HANT_ENOMEM   out of memory. */
int client_regen_doc_parse(const char *text, size_t len, const char *path, const char *inputs_sha, json_t **doc,
                           char onnx_sha[65]);

/* Fills the figures the report shows from an entry's doc (NULL for a
 * failed entry): power_mode borrowed from doc (NULL when absent or not a
 * string), each number NaN when absent or not a number, test_accuracy
 * only from a measured object. Other members of re are left alone. */
void client_regen_doc_figures(const json_t *doc, hant_report_entry *re);

#endif
