/* SPDX-License-Identifier: MIT */
/* deploy_job.c: deploy jobs as structs: made, copied and freed here, and run by handing their options (and files resolved in a peer's places) to deploy.c. */
#include "deploy_job.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"

static const char *const kind_names[] = {"transform", "eval"};
static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == HANT_DEPLOY_JOB_KIND_COUNT, "one name per job kind");

const char *hant_deploy_job_kind_name(hant_deploy_job_kind k) {
  return (unsigned)k < HANT_DEPLOY_JOB_KIND_COUNT ? kind_names[k] : "unknown";
}

hant_deploy_job_kind hant_deploy_job_kind_from_name(const char *name) {
  for (int k = 0; k < HANT_DEPLOY_JOB_KIND_COUNT; k++)
    if (name && !strcmp(name, kind_names[k]))
      return (hant_deploy_job_kind)k;
  return HANT_DEPLOY_JOB_KIND_COUNT;
}

int hant_deploy_job_new(hant_deploy_job_kind kind, hant_deploy_job **out) {
  *out = NULL;
  if ((unsigned)kind >= HANT_DEPLOY_JOB_KIND_COUNT)
    return hant__error(HANT_EINVAL, "deploy job: unknown kind %d", (int)kind);
  hant_deploy_job *job = calloc(1, sizeof(*job));
  if (!job)
    return HANT_ENOMEM;
  job->kind = kind;
  hant_deploy_job_transform *t = &job->transform;
  t->finetune_epochs = t->finetune_samples = t->eval_samples = t->evaluate = -1;
  t->teacher_accuracy = t->predicted_accuracy = NAN;
  snprintf(job->eval.split, sizeof(job->eval.split), "test");
  snprintf(job->eval.data, sizeof(job->eval.data), "fmnist");
  *out = job;
  return 0;
}

void hant_deploy_job_destroy(hant_deploy_job *job) {
  if (!job)
    return;
  free(job->transform.cand_ids);
  free(job);
}

int hant_deploy_job_set_candidates(hant_deploy_job *job, const int64_t *ids, int n) {
  if (n < 0 || (n > 0 && !ids))
    return hant__error(HANT_EINVAL, "deploy job: %d candidates", n);
  int64_t *copy = NULL;
  if (n > 0) {
    if (!(copy = malloc(sizeof(int64_t) * (size_t)n)))
      return HANT_ENOMEM;
    memcpy(copy, ids, sizeof(int64_t) * (size_t)n);
  }
  free(job->transform.cand_ids);
  job->transform.cand_ids = copy;
  job->transform.n_cands = n;
  return 0;
}

int hant_deploy_job_copy(const hant_deploy_job *job, hant_deploy_job **out) {
  *out = NULL;
  hant_deploy_job *c = malloc(sizeof(*c));
  if (!c)
    return HANT_ENOMEM;
  *c = *job;
  c->transform.cand_ids = NULL;
  c->transform.n_cands = 0;
  int rc = hant_deploy_job_set_candidates(c, job->transform.cand_ids, job->transform.n_cands);
  if (rc) {
    hant_deploy_job_destroy(c);
    return rc;
  }
  *out = c;
  return 0;
}

/* An option the job was not asked for (-1) runs as 0; any other value is
 * passed on, for hant_deploy_transform to check. */
static int asked(int v) { return v == -1 ? 0 : v; }

/* An eval job in places: the model opened beneath the peer's places, and
 * its data directory too unless it is the installed data set, which the
 * loader then reads through the descriptor's /proc name. */
static int run_eval_in(const hant_deploy_job_eval *e, uid_t uid, const hant_places *places,
                       hant_deploy_progress_fn progress, void *user, hant_deploy_eval_info *info) {
  hant_place_file mf, df;
  hant_place_file_init(&mf);
  hant_place_file_init(&df);
  int fd = -1, data_fd = -1, rc;
  char data[64];
  const char *data_dir = e->data;
  if ((rc = hant_places_resolve(places, uid, HANT_PLACE_READ, "model", e->model, &mf)) ||
      (rc = hant_place_file_open(places, &mf, "model", &fd)))
    goto out;
  if (e->data[0] && strcmp(e->data, "fmnist")) {
    if ((rc = hant_places_resolve(places, uid, HANT_PLACE_READ, "data", e->data, &df)) ||
        (rc = hant_place_file_open_dir(places, &df, "data", &data_fd)))
      goto out;
    snprintf(data, sizeof(data), "/proc/self/fd/%d", data_fd);
    data_dir = data;
  }
  rc = hant_deploy_eval_fd(fd, mf.dir_fd, mf.path, data_dir, e->split, e->samples, progress, user, info);
out:
  if (fd >= 0)
    close(fd);
  if (data_fd >= 0)
    close(data_fd);
  hant_place_file_close(&mf);
  hant_place_file_close(&df);
  return rc;
}

int hant_deploy_job_run(const hant_deploy_job *job, const hant_places *places, hant_store *st,
                        hant_deploy_progress_fn progress, void *user, hant_deploy_job_result *res) {
  memset(res, 0, sizeof(*res));
  switch (job->kind) {
  case HANT_DEPLOY_JOB_TRANSFORM: {
    const hant_deploy_job_transform *t = &job->transform;
    hant_deploy_opts o = {0};
    o.finetune_auto = t->finetune_epochs == HANT_FINETUNE_EPOCHS_AUTO;
    o.finetune_epochs = o.finetune_auto ? 0 : asked(t->finetune_epochs);
    o.finetune_samples = asked(t->finetune_samples);
    o.eval_samples = asked(t->eval_samples);
    o.evaluate = asked(t->evaluate);
    o.int8 = !strcmp(t->precision, "int8");
    o.seed = job->seed;
    o.checkpoint = job->checkpoint[0] ? job->checkpoint : NULL;
    if (!places)
      return hant_deploy_transform(st, t->cand_ids, t->n_cands, t->out, &o, progress, user, &res->transform);
    /* Resolved before the work, so that a refused path costs no training. */
    hant_place_file f;
    int rc = hant_places_resolve(places, job->uid, HANT_PLACE_WRITE, "out", t->out, &f);
    if (rc)
      return rc;
    o.places = places;
    o.out_file = &f;
    rc = hant_deploy_transform(st, t->cand_ids, t->n_cands, f.path, &o, progress, user, &res->transform);
    hant_place_file_close(&f);
    return rc;
  }
  case HANT_DEPLOY_JOB_EVAL: {
    const hant_deploy_job_eval *e = &job->eval;
    if (!e->model[0])
      return hant__error(HANT_EINVAL, "eval job: no model file");
    if (places)
      return run_eval_in(e, job->uid, places, progress, user, &res->eval);
    return hant_deploy_eval(e->model, e->data, e->split, e->samples, progress, user, &res->eval);
  }
  case HANT_DEPLOY_JOB_KIND_COUNT: break;
  }
  return hant__error(HANT_EINVAL, "deploy job: unknown kind %d", (int)job->kind);
}
