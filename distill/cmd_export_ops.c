/* SPDX-License-Identifier: MIT */
/* cmd_export_ops.c: `hant-distill export-ops` writes the library's operators as a list hant-bench runs on a board. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill export-ops --db LIBRARY.db --out OPS.txt [--slot NAME]\n"
    "\n"
    "Writes every candidate of the library (or of one slot) as one line: its id,\n"
    "its input shape and its block's architecture line (docs/costs.md). Copy the list\n"
    "and hant-bench to a board, run 'hant-bench OPS.txt -o costs.csv' there, and load\n"
    "the result with 'hant-distill import-costs'. '--out -' writes to standard output.\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

/* Splits a candidate's "input CxHxW; BLOCK" architecture. */
static int split_arch(const hant_cand_rec *c, hant_ops_entry *e) {
  memset(e, 0, sizeof(*e));
  e->id = c->id;
  int used = 0;
  if (sscanf(c->arch, "input %dx%dx%d ;%n", &e->c, &e->h, &e->w, &used) != 3 || used == 0)
    return hant__error(HANT_EFORMAT, "candidate %lld: architecture '%.60s' is not 'input CxHxW; BLOCK'",
                       (long long)c->id, c->arch);
  const char *b = c->arch + used;
  while (*b == ' ')
    b++;
  if (strchr(b, ';') || strlen(b) >= sizeof(e->block))
    return hant__error(HANT_EFORMAT, "candidate %lld: architecture '%.60s' has more than one block line",
                       (long long)c->id, c->arch);
  snprintf(e->block, sizeof(e->block), "%s", b);
  return 0;
}

int cmd_export_ops(int argc, char **argv) {
  const char *db = NULL, *out_path = NULL, *only = NULL;
  const hant_opt opts[] = {
      HANT_OPT_STRING("db", 0, &db, "LIBRARY.db", NULL),
      HANT_OPT_STRING("out", 0, &out_path, "OPS.txt", NULL),
      HANT_OPT_STRING("slot", 0, &only, "NAME", NULL),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill export-ops", .usage = usage, .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  if (!db || !out_path)
    return cli_usage_error(&cmd, "--db FILE and --out FILE are required");
  hant_store *st = NULL;
  hant_cand_rec *cands = NULL;
  hant_slot_rec *slots = NULL;
  int nc = 0, ns = 0, written = 0;
  FILE *f = NULL;
  char tmp[1100] = "";
  hant_teacher_rec t;
  int rc = hant_store_open(db, HANT_STORE_READONLY, &st);
  if (rc || (rc = hant_store_teacher_get(st, &t)) || (rc = hant_store_slots(st, &slots, &ns)) ||
      (rc = hant_store_candidates(st, -1, &cands, &nc)))
    goto out;
  int64_t only_id = -1;
  for (int s = 0; only && s < ns; s++)
    if (!strcmp(slots[s].name, only))
      only_id = slots[s].id;
  if (only && only_id < 0) {
    rc = hant__error(HANT_ENOENT, "%s has no slot '%s'", db, only);
    goto out;
  }
  if (!strcmp(out_path, "-")) {
    f = stdout;
  } else {
    snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
    if (!(f = fopen(tmp, "w"))) {
      rc = hant__error(HANT_EIO, "%s: cannot write: %s", tmp, strerror(errno));
      goto out;
    }
  }
  char now[32], comment[1400];
  hant_store_now(now);
  snprintf(comment, sizeof(comment),
           "exported by hant-distill %s from %s on %s\nteacher %s sha256 %s\nrun: hant-bench THIS_FILE -o costs.csv",
           hant_version(), db, now, t.path, t.sha256);
  if ((rc = hant_opsfile_write_header(f, comment)))
    goto out;
  for (int i = 0; i < nc; i++) {
    if (only && cands[i].slot_id != only_id)
      continue;
    hant_ops_entry e;
    if ((rc = split_arch(&cands[i], &e)) || (rc = hant_opsfile_write(f, &e)))
      goto out;
    written++;
  }
out:
  if (f && f != stdout) {
    if (fclose(f) && !rc)
      rc = hant__error(HANT_EIO, "%s: write error", tmp);
    if (!rc && rename(tmp, out_path))
      rc = hant__error(HANT_EIO, "%s: cannot rename to %s: %s", tmp, out_path, strerror(errno));
    if (rc)
      remove(tmp);
  }
  if (rc)
    fprintf(stderr, "hant-distill export-ops: %s\n", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
  else if (f != stdout)
    fprintf(stderr, "export-ops: %d operators written to %s\n", written, out_path);
  free(cands);
  free(slots);
  hant_store_close(st);
  return rc ? EXIT_FAIL : EXIT_OK_;
}
