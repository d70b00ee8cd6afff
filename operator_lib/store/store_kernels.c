/* SPDX-License-Identifier: MIT */
/* store_kernels.c: reads and writes the host_kernel table of migration 006. */
#include "store_kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "store_internal.h"

static int db_error(hant_store *st, const char *what) {
  return hant__error(HANT_EDB, "%s: %s: %s", hant_store_path(st), what, sqlite3_errmsg(hant__store_db(st)));
}

static int prepare(hant_store *st, const char *sql, sqlite3_stmt **s) {
  if (sqlite3_prepare_v2(hant__store_db(st), sql, -1, s, NULL) != SQLITE_OK)
    return db_error(st, "prepare");
  return 0;
}

static void col_text(sqlite3_stmt *s, int i, char *dst, size_t n) {
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(dst, n, "%s", t ? (const char *)t : "");
}

#define KERNEL_COLS                                                                                                   \
  "cpu, threads, op, c_in, h_in, w_in, c_out, h_out, w_out, kh, kw, sh, sw, ph, pw, groups, bn, sum, act, batch, "   \
  "latency_us, spread, samples, created"

int hant_store_kernels_put(hant_store *st, const char *cpu, int threads, int batch, const hant_kernel_rec *recs,
                           int n) {
  if (!cpu || !cpu[0] || threads < 1 || batch < 1)
    return hant__error(HANT_EINVAL, "%s: kernel table: need a CPU identifier, threads >= 1 and batch >= 1",
                       hant_store_path(st));
  char now[32];
  hant_store_now(now);
  sqlite3_stmt *del = NULL, *ins = NULL;
  int rc = hant_store_begin(st);
  if (rc)
    return rc;
  if ((rc = prepare(st, "DELETE FROM host_kernel WHERE cpu = ? AND threads = ? AND batch = ?", &del)) ||
      (rc = prepare(st, "INSERT INTO host_kernel (" KERNEL_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    &ins)))
    goto fail;
  sqlite3_bind_text(del, 1, cpu, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(del, 2, threads);
  sqlite3_bind_int(del, 3, batch);
  if (sqlite3_step(del) != SQLITE_DONE) {
    rc = db_error(st, "replace kernel table");
    goto fail;
  }
  for (int i = 0; i < n; i++) {
    const hant_kernel_rec *r = &recs[i];
    const hant_infer_kernel *k = &r->k;
    const char *act = k->act != HANT_ACT_NONE ? hant_act_name(k->act) : "";
    if (!(r->latency_us > 0)) {
      rc = hant__error(HANT_EINVAL, "%s: kernel table row %d: latency_us must be positive, got %g",
                       hant_store_path(st), i, r->latency_us);
      goto fail;
    }
    int v[] = {k->c_in,  k->h_in,   k->w_in,    k->c_out,  k->h_out,       k->w_out,
               k->conv.kh, k->conv.kw, k->conv.sh, k->conv.sw, k->conv.ph, k->conv.pw,
               k->conv.groups, k->bn, k->sum ? (k->sum_copy ? 2 : 1) : 0};
    if (k->op == HANT_OP_MAXPOOL || k->op == HANT_OP_AVGPOOL) {
      v[6] = v[7] = k->pool.k, v[8] = v[9] = k->pool.s, v[10] = v[11] = k->pool.p;
    }
    sqlite3_reset(ins);
    sqlite3_bind_text(ins, 1, cpu, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ins, 2, threads);
    sqlite3_bind_text(ins, 3, hant_op_name(k->op), -1, SQLITE_STATIC);
    for (int j = 0; j < 15; j++)
      sqlite3_bind_int(ins, 4 + j, v[j]);
    sqlite3_bind_text(ins, 19, act ? act : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ins, 20, batch);
    sqlite3_bind_double(ins, 21, r->latency_us);
    sqlite3_bind_double(ins, 22, r->spread);
    sqlite3_bind_int(ins, 23, r->samples);
    sqlite3_bind_text(ins, 24, r->created[0] ? r->created : now, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(ins) != SQLITE_DONE) {
      rc = db_error(st, "store kernel table row");
      goto fail;
    }
  }
  sqlite3_finalize(del);
  sqlite3_finalize(ins);
  return hant_store_commit(st);
fail:
  sqlite3_finalize(del);
  sqlite3_finalize(ins);
  hant_store_rollback(st);
  return rc;
}

static int read_kernel(sqlite3_stmt *s, void *rec) {
  hant_kernel_rec *r = rec;
  col_text(s, 0, r->cpu, sizeof(r->cpu));
  r->threads = sqlite3_column_int(s, 1);
  char op[32];
  col_text(s, 2, op, sizeof(op));
  hant_infer_kernel *k = &r->k;
  k->op = HANT_OP_COUNT;
  for (int o = 0; o < HANT_OP_COUNT; o++)
    if (!strcmp(op, hant_op_name((hant_op)o)))
      k->op = (hant_op)o;
  if (k->op == HANT_OP_COUNT)
    return hant__error(HANT_EINVAL, "host_kernel: unknown op '%s'", op);
  int v[15];
  for (int j = 0; j < 15; j++)
    v[j] = sqlite3_column_int(s, 3 + j);
  k->c_in = v[0], k->h_in = v[1], k->w_in = v[2], k->c_out = v[3], k->h_out = v[4], k->w_out = v[5];
  if (k->op == HANT_OP_MAXPOOL || k->op == HANT_OP_AVGPOOL) {
    k->pool = (hant_pool_desc){.k = v[6], .s = v[8], .p = v[10], .count_include_pad = true};
  } else if (k->op == HANT_OP_CONV) {
    k->conv = (hant_conv_desc){.c_in = v[0], .c_out = v[3], .kh = v[6], .kw = v[7], .sh = v[8], .sw = v[9],
                               .ph = v[10], .pw = v[11], .groups = v[12]};
  }
  k->bn = v[13] != 0, k->sum = v[14] != 0, k->sum_copy = v[14] == 2;
  char act[32];
  col_text(s, 18, act, sizeof(act));
  k->act = act[0] ? hant_act_from_name(act) : HANT_ACT_NONE;
  if (k->act == HANT_ACT_COUNT)
    return hant__error(HANT_EINVAL, "host_kernel: unknown activation '%s'", act);
  r->batch = sqlite3_column_int(s, 19);
  r->latency_us = sqlite3_column_double(s, 20);
  r->spread = sqlite3_column_double(s, 21);
  r->samples = sqlite3_column_int(s, 22);
  col_text(s, 23, r->created, sizeof(r->created));
  return 0;
}

int hant_store_kernels(hant_store *st, const char *cpu, int threads, int batch, hant_kernel_rec **out, int *n) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *s;
  int rc = prepare(st, "SELECT " KERNEL_COLS " FROM host_kernel WHERE cpu = ? AND threads = ? AND batch = ? ORDER BY id", &s);
  if (rc)
    return rc;
  sqlite3_bind_text(s, 1, cpu, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(s, 2, threads);
  sqlite3_bind_int(s, 3, batch);
  return hant__store_list(st, s, sizeof(hant_kernel_rec), 256, read_kernel, NULL, "read kernel table",
                          (void **)out, n);
}

static int read_key(sqlite3_stmt *s, void *rec) {
  hant_kernel_key *k = rec;
  col_text(s, 0, k->cpu, sizeof(k->cpu));
  k->threads = sqlite3_column_int(s, 1);
  k->batch = sqlite3_column_int(s, 2);
  k->rows = sqlite3_column_int(s, 3);
  col_text(s, 4, k->created, sizeof(k->created));
  return 0;
}

int hant_store_kernel_keys(hant_store *st, hant_kernel_key **out, int *n) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *s;
  int rc = prepare(st,
                   "SELECT cpu, threads, batch, COUNT(*), MAX(created) FROM host_kernel GROUP BY cpu, threads, batch "
                   "ORDER BY MAX(created) DESC, cpu, threads, batch",
                   &s);
  if (rc)
    return rc;
  return hant__store_list(st, s, sizeof(hant_kernel_key), 8, read_key, NULL, "read kernel table keys", (void **)out,
                          n);
}
