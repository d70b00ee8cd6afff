/* SPDX-License-Identifier: MIT */
/* cmd_verify.c: `hant-distill verify` checks a library's integrity, weights, and re-measures losses and scores. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hant.h"

static const char usage[] =
    "usage: hant-distill verify --db LIBRARY.db [--teacher FILE] [--data fmnist|DIR] [--data-format FORMAT]\n"
    "                           [--gray] [--quick] [--json]\n"
    "\n"
    "Checks the database's integrity (PRAGMA integrity_check), that every candidate's\n"
    "weights load and match its architecture and slot, and (unless --quick) that its\n"
    "recorded distillation loss and score are reproduced by measuring them again on\n"
    "the same validation images, and the teacher stored in the library is checked\n"
    "against its recorded sha256. --teacher reads the teacher from FILE instead of\n"
    "the library (its sha256 must match).\n"
    "\n"
    "Exit status: 0 all checks passed, 1 a check failed, 2 usage error.\n";

int cmd_verify(int argc, char **argv) {
  const char *db = NULL, *teacher_path = NULL;
  data_args da = DATA_ARGS_DEFAULT;
  bool json = false, quick = false;
  const hant_opt opts[] = {
      HANT_OPT_STRING("db", 0, &db, "LIBRARY.db", NULL),
      HANT_OPT_STRING("teacher", 0, &teacher_path, "FILE", NULL),
      DATA_OPTS(da, "validation images", "the library's data"),
      HANT_OPT_FLAG("quick", 0, &quick, NULL),
      HANT_OPT_FLAG("json", 0, &json, NULL),
      HANT_OPT_END,
  };
  const hant_opt_cmd cmd = {.name = "hant-distill verify", .usage = usage, .opts = opts};
  int code = cli_parse(&cmd, argc, argv);
  if (code >= 0)
    return code;
  if (!db)
    return cli_usage_error(&cmd, "--db FILE is required");
  hant_store *st = NULL;
  hant_net *teacher = NULL;
  hant_dataset va = {0};
  hant_slot_rec *slots = NULL;
  hant_cand_rec *cands = NULL;
  int ns = 0, nc = 0, failures = 0, checked = 0, measured = 0;
  bool ok = false;
  char msg[256];
  int rc = hant_store_open(db, HANT_STORE_READONLY | HANT_STORE_NOCHECK, &st);
  if (rc) {
    fprintf(stderr, "hant-distill verify: %s\n", hant_errmsg());
    return EXIT_FAIL;
  }
  if ((rc = hant_store_integrity(st, &ok, msg, sizeof(msg))))
    goto fail;
  if (!ok) {
    fprintf(stderr, "verify: integrity check failed: %s\n", msg);
    failures++;
  }
  hant_teacher_rec t;
  if ((rc = hant_store_teacher_get(st, &t)) || (rc = hant_store_slots(st, &slots, &ns)) ||
      (rc = hant_store_candidates(st, -1, &cands, &nc)))
    goto fail;
  if (quick && t.stored_bytes > 0) {
    /* The stored teacher's hash is checked as it is read. */
    uint8_t *tb = NULL;
    size_t tl = 0;
    if (hant_store_teacher_file(st, &t, &tb, &tl)) {
      fprintf(stderr, "verify: %s\n", hant_errmsg());
      failures++;
    }
    free(tb);
  }
  if (!quick) {
    char sha[65];
    if (teacher_path) {
      if ((rc = hant_sha256_file_checked(teacher_path, t.sha256, sha)) ||
          (rc = hant_onnx_load_any(teacher_path, &teacher, NULL)) || (rc = hant_teacher_prepare(teacher, teacher_path)))
        goto fail;
    } else if ((rc = hant_deploy_teacher(st, &teacher, NULL, 0))) {
      goto fail;
    }
    /* Normalised as the library was built, or the scores would not reproduce. */
    hant_build_settings bs;
    bool has_bs = hant_build_settings_get(st, &bs) == 0;
    hant_errmsg_clear();
    hant_data_spec spec;
    if ((code = cli_data_spec(cmd.name, &da, teacher, has_bs ? &bs : NULL, &spec)) >= 0) {
      rc = hant__error(HANT_EINVAL, "bad --data options");
      goto fail;
    }
    if ((rc = hant_data_load(&spec, HANT_SPLIT_VAL, t.val_images, &va)))
      goto fail;
    hant_threads_set(hant_cpu_count());
  }
  hant_progress bar;
  hant_progress_start(&bar, "verify");
  for (int i = 0; i < nc; i++) {
    const hant_cand_rec *c = &cands[i];
    int si = -1;
    for (int s = 0; s < ns; s++)
      if (slots[s].id == c->slot_id)
        si = s;
    uint8_t *blob = NULL;
    size_t len = 0;
    hant_net *net = NULL;
    checked++;
    if (si < 0) {
      fprintf(stderr, "verify: candidate %lld refers to a missing slot\n", (long long)c->id);
      failures++;
      continue;
    }
    if ((rc = hant_store_candidate_weights(st, c->id, &blob, &len)))
      goto fail;
    char name[64];
    snprintf(name, sizeof(name), "candidate %lld", (long long)c->id);
    if (hant_netfile_parse(blob, len, name, &net, NULL)) {
      fprintf(stderr, "verify: %s\n", hant_errmsg());
      failures++;
    } else if (strcmp(net->arch, c->arch)) {
      fprintf(stderr, "verify: candidate %lld: stored weights are for '%s', the record says '%s'\n", (long long)c->id,
              net->arch, c->arch);
      failures++;
    } else {
      const hant_node *in = &net->nodes[0], *out = &net->nodes[hant_net_output(net)];
      const hant_slot_rec *s = &slots[si];
      if (in->c != s->in_c || in->h != s->in_h || in->w != s->in_w || out->c != s->out_c || out->h != s->out_h ||
          out->w != s->out_w) {
        fprintf(stderr, "verify: candidate %lld (%s) does not fit slot %s\n", (long long)c->id, c->key, s->name);
        failures++;
      } else if (!quick) {
        double mse, acc;
        if ((rc = hant_distill_measure(teacher, si, net, &va, &mse, &acc))) {
          hant_net_destroy(net);
          free(blob);
          goto fail;
        }
        measured++;
        /* Evaluation is deterministic up to float summation order. */
        if (fabs(acc - c->val_accuracy) > 1.5 / va.n || fabs(mse - c->loss_final) > 1e-3 * fabs(c->loss_final) + 1e-7) {
          fprintf(stderr, "verify: candidate %lld (%s, %s): recorded accuracy %.4f loss %.6g, measured %.4f and %.6g\n",
                  (long long)c->id, s->name, c->key, c->val_accuracy, c->loss_final, acc, mse);
          failures++;
        }
      }
    }
    hant_net_destroy(net);
    free(blob);
    hant_progress_update(&bar, i + 1, nc, c->key);
  }
  hant_progress_end(&bar);
  if (json) {
    hant_jsonw w;
    hant_jsonw_init(&w, stdout);
    hant_jsonw_obj_begin(&w);
    hant_jsonw_key(&w, "integrity"), hant_jsonw_str(&w, msg);
    hant_jsonw_key(&w, "candidates"), hant_jsonw_int(&w, checked);
    hant_jsonw_key(&w, "remeasured"), hant_jsonw_int(&w, measured);
    hant_jsonw_key(&w, "failures"), hant_jsonw_int(&w, failures);
    hant_jsonw_key(&w, "ok"), hant_jsonw_bool(&w, failures == 0);
    hant_jsonw_obj_end(&w);
    hant_jsonw_end(&w);
  } else {
    printf("integrity    %s\ncandidates   %d checked, %d re-measured\nresult       %s (%d failure%s)\n", msg, checked,
           measured, failures ? "FAILED" : "ok", failures, failures == 1 ? "" : "s");
  }
  hant_store_close(st);
  hant_net_destroy(teacher);
  hant_dataset_free(&va);
  free(slots);
  free(cands);
  return failures ? EXIT_FAIL : EXIT_OK_;
fail:
  fprintf(stderr, "hant-distill verify: %s\n", hant_errmsg()[0] ? hant_errmsg() : hant_strerror(rc));
  hant_store_close(st);
  hant_net_destroy(teacher);
  hant_dataset_free(&va);
  free(slots);
  free(cands);
  return EXIT_FAIL;
}
