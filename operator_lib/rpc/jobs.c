/* SPDX-License-Identifier: MIT */
/* jobs.c: hantd's deploy jobs at the protocol edge: typed jobs to and from their job-table rows, and a claimed job run to its result. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "finetune.h"
#include "fnv.h"
#include "rpc_internal.h"

static json_t *num(double v) { return hant__rpc_num(v); }

/* ---- a job as its row shows it ---------------------------------------------------- */

/* The row's params: what the job was asked, in the protocol's words
 * (jobs.get shows them), so that a restart can run the job again. */
static char *job_encode(const hant_deploy_job *job) {
  json_t *o = json_object();
  if (!o)
    return NULL;
  json_object_set_new(o, "uid", json_integer((json_int_t)job->uid)); /* whose places the job's files are in */
  if (job->kind == HANT_DEPLOY_JOB_EVAL) {
    const hant_deploy_job_eval *e = &job->eval;
    json_object_set_new(o, "model", json_string(e->model));
    json_object_set_new(o, "split", json_string(e->split));
    json_object_set_new(o, "samples", json_integer(e->samples));
    json_object_set_new(o, "data", json_string(e->data));
  } else {
    const hant_deploy_job_transform *t = &job->transform;
    json_t *ids = json_array();
    for (int i = 0; i < t->n_cands; i++)
      json_array_append_new(ids, json_integer(t->cand_ids[i]));
    json_object_set_new(o, "candidates", ids);
    json_object_set_new(o, "out", json_string(t->out));
    if (t->chosen) {
      json_object_set_new(o, "device", json_string(t->device));
      json_object_set_new(o, "power_mode", json_string(t->power_mode));
      json_object_set_new(o, "library_version", json_integer(t->library_version));
      json_object_set_new(o, "predicted_accuracy", num(t->predicted_accuracy));
      json_object_set_new(o, "teacher_accuracy", num(t->teacher_accuracy));
    }
    if (t->finetune_epochs == HANT_FINETUNE_EPOCHS_AUTO)
      json_object_set_new(o, "finetune_epochs", json_string("auto"));
    else if (t->finetune_epochs >= 0)
      json_object_set_new(o, "finetune_epochs", json_integer(t->finetune_epochs));
    if (t->finetune_samples >= 0)
      json_object_set_new(o, "finetune_samples", json_integer(t->finetune_samples));
    if (t->eval_samples >= 0)
      json_object_set_new(o, "eval_samples", json_integer(t->eval_samples));
    if (t->evaluate >= 0)
      json_object_set_new(o, "evaluate", json_boolean(t->evaluate));
    if (t->precision[0])
      json_object_set_new(o, "precision", json_string(t->precision));
  }
  char *s = hant__rpc_dump(o);
  json_decref(o);
  return s;
}

/* An option of a stored row: -1 when absent (not asked); a value that is
 * not a whole number runs as 0, as it always has. */
static int row_option(const json_t *p, const char *key) {
  json_t *v = json_object_get(p, key);
  return v ? (int)json_integer_value(v) : -1;
}

static void row_string(const json_t *p, const char *key, char *out, size_t n) {
  const char *s = json_string_value(json_object_get(p, key));
  if (s)
    snprintf(out, n, "%s", s);
}

/* A stored row back into a job: for a job queued by another process, or
 * by this one before a restart. Rows were written by job_encode, but the
 * database is a file anyone can edit, so nothing is assumed. */
static int job_decode(const hant_job_rec *rec, hant_deploy_job **out) {
  *out = NULL;
  json_error_t jerr;
  json_t *p = json_loads(rec->params ? rec->params : "", JSON_REJECT_DUPLICATES, &jerr);
  if (!p || !json_is_object(p)) {
    json_decref(p);
    return hant__error(HANT_EFORMAT, "job %lld: params are not a JSON object", (long long)rec->id);
  }
  hant_deploy_job_kind kind = hant_deploy_job_kind_from_name(rec->kind);
  hant_deploy_job *job = NULL;
  int rc;
  if (kind == HANT_DEPLOY_JOB_KIND_COUNT) {
    char s[40];
    rc = hant__error(HANT_ENOTSUP, "job %lld: unknown kind '%s'", (long long)rec->id,
                     hant__rpc_shown(rec->kind, s, sizeof(s)));
    goto out;
  }
  if ((rc = hant_deploy_job_new(kind, &job)))
    goto out;
  job->seed = (uint64_t)rec->id;
  json_t *uid = json_object_get(p, "uid"); /* a row without one predates places: its paths were never checked */
  if (!json_is_integer(uid) || json_integer_value(uid) < 0 || json_integer_value(uid) > (json_int_t)UINT32_MAX - 1) {
    rc = hant__error(HANT_EFORMAT, "job %lld: params name no peer uid (queued by an older hantd); submit it again",
                     (long long)rec->id);
    goto out;
  }
  job->uid = (uid_t)json_integer_value(uid);
  if (kind == HANT_DEPLOY_JOB_TRANSFORM) {
    hant_deploy_job_transform *t = &job->transform;
    json_t *c = json_object_get(p, "candidates");
    const char *path = json_string_value(json_object_get(p, "out"));
    size_t n = json_array_size(c);
    if (!path || !n) {
      rc = hant__error(HANT_EFORMAT, "job %lld: params need candidates and out", (long long)rec->id);
      goto out;
    }
    int64_t *ids = malloc(sizeof(int64_t) * n);
    if (!ids) {
      rc = HANT_ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < n; i++)
      ids[i] = (int64_t)json_integer_value(json_array_get(c, i));
    rc = hant_deploy_job_set_candidates(job, ids, (int)n);
    free(ids);
    if (rc)
      goto out;
    snprintf(t->out, sizeof(t->out), "%s", path);
    const char *epochs = json_string_value(json_object_get(p, "finetune_epochs"));
    t->finetune_epochs = epochs && !strcmp(epochs, "auto") ? HANT_FINETUNE_EPOCHS_AUTO
                                                           : row_option(p, "finetune_epochs");
    t->finetune_samples = row_option(p, "finetune_samples");
    t->eval_samples = row_option(p, "eval_samples");
    json_t *ev = json_object_get(p, "evaluate");
    t->evaluate = ev ? json_is_true(ev) : -1;
    t->chosen = json_object_get(p, "device") != NULL;
    row_string(p, "device", t->device, sizeof(t->device));
    row_string(p, "power_mode", t->power_mode, sizeof(t->power_mode));
    row_string(p, "precision", t->precision, sizeof(t->precision));
    t->library_version = (int64_t)json_integer_value(json_object_get(p, "library_version"));
    json_t *pa = json_object_get(p, "predicted_accuracy"), *ta = json_object_get(p, "teacher_accuracy");
    t->predicted_accuracy = json_is_number(pa) ? json_number_value(pa) : NAN;
    t->teacher_accuracy = json_is_number(ta) ? json_number_value(ta) : NAN;
  } else {
    hant_deploy_job_eval *e = &job->eval;
    const char *model = json_string_value(json_object_get(p, "model"));
    if (!model) {
      rc = hant__error(HANT_EFORMAT, "job %lld: params need a model", (long long)rec->id);
      goto out;
    }
    snprintf(e->model, sizeof(e->model), "%s", model);
    row_string(p, "split", e->split, sizeof(e->split));
    row_string(p, "data", e->data, sizeof(e->data));
    e->samples = (int)json_integer_value(json_object_get(p, "samples"));
  }
  *out = job;
  job = NULL;
out:
  hant_deploy_job_destroy(job);
  json_decref(p);
  return rc;
}

/* What a finished job did, as its row's result (jobs.get shows it). */
static char *job_result(const hant_deploy_job *job, const hant_deploy_job_result *res) {
  json_t *o = json_object();
  if (!o)
    return NULL;
  if (job->kind == HANT_DEPLOY_JOB_EVAL) {
    const hant_deploy_eval_info *info = &res->eval;
    json_object_set_new(o, "model", json_string(job->eval.model));
    json_object_set_new(o, "split", json_string(info->split));
    json_object_set_new(o, "n", json_integer(info->n));
    json_object_set_new(o, "accuracy", num(info->accuracy));
    json_object_set_new(o, "loss", num(info->loss));
  } else {
    const hant_deploy_export_info *info = &res->transform;
    json_object_set_new(o, "out", json_string(info->out));
    json_object_set_new(o, "format", json_string("onnx"));
    json_object_set_new(o, "precision", json_string(info->precision[0] ? info->precision : "fp32"));
    if (!strcmp(info->precision, "int8")) {
      json_t *q8 = json_object();
      json_object_set_new(q8, "calib", json_string(info->int8_calib));
      json_object_set_new(q8, "val_accuracy", num(info->int8_val_accuracy));
      json_object_set_new(q8, "test_accuracy", info->int8_test_accuracy >= 0 ? num(info->int8_test_accuracy)
                                                                             : json_null());
      json_object_set_new(o, "int8", q8);
    }
    json_object_set_new(o, "bytes", json_integer((json_int_t)info->bytes));
    json_object_set_new(o, "macs", num(info->macs));
    json_object_set_new(o, "params", json_integer(info->params));
    json_object_set_new(o, "slots", json_integer(info->slots));
    json_object_set_new(o, "teacher", json_string(info->teacher));
    json_object_set_new(o, "finetune_epochs", json_integer(info->finetune_epochs));
    if (info->finetune_epochs > 0) {
      json_t *ft = json_object();
      json_object_set_new(ft, "samples", json_integer(info->finetune_samples));
      json_object_set_new(ft, "steps", json_integer((json_int_t)info->finetune_steps));
      json_object_set_new(ft, "seconds", num(info->finetune_s));
      json_object_set_new(ft, "clip_norm", num(info->finetune_clip_norm));
      json_object_set_new(ft, "retried_clipped", json_boolean(info->finetune_retried));
      /* a job stopped by a restart resumes at its last finished epoch */
      json_object_set_new(ft, "resumed_epochs", json_integer(info->finetune_resumed_epochs));
      json_object_set_new(ft, "restarted", json_boolean(info->finetune_restarted));
      /* why this many epochs: asked, or chosen by how far the network starts */
      json_object_set_new(ft, "epochs_chosen", json_string(info->finetune_auto ? "auto" : "asked"));
      if (info->finetune_auto)
        json_object_set_new(ft, "assembled_val_loss_points", num(info->assembled_val_loss));
      json_object_set_new(o, "finetune", ft);
    }
    /* Predicted and measured accuracy side by side. */
    json_t *pr = json_object();
    json_object_set_new(pr, "accuracy", num(job->transform.predicted_accuracy));
    json_object_set_new(o, "predicted", pr);
    if (info->evaluated) {
      json_t *m = json_object();
      json_object_set_new(m, "val_accuracy", num(info->val_accuracy));
      json_object_set_new(m, "test_accuracy", num(info->test_accuracy));
      json_object_set_new(m, "val_loss", num(info->val_loss));
      json_object_set_new(m, "test_loss", num(info->test_loss));
      json_object_set_new(m, "val_accuracy_before_finetune", num(info->val_accuracy_before));
      json_object_set_new(m, "test_accuracy_before_finetune", num(info->test_accuracy_before));
      json_object_set_new(m, "teacher_test_accuracy", num(info->teacher_test_accuracy));
      json_object_set_new(m, "teacher_val_accuracy", num(info->teacher_val_accuracy));
      json_object_set_new(m, "val_images", json_integer(info->val_n));
      json_object_set_new(m, "test_images", json_integer(info->test_n));
      json_object_set_new(o, "measured", m);
    } else {
      json_object_set_new(o, "measured", json_null());
    }
  }
  char *s = hant__rpc_dump(o);
  json_decref(o);
  return s;
}

/* ---- jobs queued by this process ------------------------------------------------------ */

/* A job travels from the request's worker to a job runner through the
 * store: runners claim rows atomically, so no two run the same job, and
 * a row outlives the process. The struct a request made travels beside
 * its row here, so that the runner that claims the row runs the struct
 * instead of decoding the row. An entry is used only when the claimed
 * row is byte for byte the one encoded from it, so a stale entry (a row
 * claimed by another process, a database replaced) is never run; the
 * runner then decodes the row, which gives the same job. Entries of jobs
 * that never run here are dropped oldest first. */
#define KEPT_MAX 256

static struct kept {
  int64_t id;
  char *row;
  hant_deploy_job *job;
} kept[KEPT_MAX];
static int kept_next;
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;

static void kept_clear(struct kept *k) {
  free(k->row);
  hant_deploy_job_destroy(k->job);
  memset(k, 0, sizeof(*k));
}

/* Takes ownership of row and job. */
static void keep(int64_t id, char *row, hant_deploy_job *job) {
  pthread_mutex_lock(&kept_mu);
  struct kept *k = &kept[kept_next];
  kept_clear(k);
  k->id = id;
  k->row = row;
  k->job = job;
  kept_next = (kept_next + 1) % KEPT_MAX;
  pthread_mutex_unlock(&kept_mu);
}

/* The kept struct of a claimed row, now the caller's; NULL when there is none. */
static hant_deploy_job *take(const hant_job_rec *rec) {
  hant_deploy_job *job = NULL;
  pthread_mutex_lock(&kept_mu);
  for (int i = 0; i < KEPT_MAX && !job; i++) {
    struct kept *k = &kept[i];
    if (k->job && k->id == rec->id && rec->params && !strcmp(k->row, rec->params) &&
        !strcmp(hant_deploy_job_kind_name(k->job->kind), rec->kind)) {
      job = k->job;
      k->job = NULL;
      kept_clear(k);
    }
  }
  pthread_mutex_unlock(&kept_mu);
  return job;
}

void hant__rpc_job_forget(int64_t id) {
  pthread_mutex_lock(&kept_mu);
  for (int i = 0; i < KEPT_MAX; i++)
    if (kept[i].job && kept[i].id == id)
      kept_clear(&kept[i]);
  pthread_mutex_unlock(&kept_mu);
}

int hant__rpc_job_queue(hant_store *st, int max_queued, hant_deploy_job **job, int64_t *id) {
  hant_deploy_job *j = *job;
  *job = NULL;
  char *row = job_encode(j);
  int rc = row ? hant_store_job_add(st, hant_deploy_job_kind_name(j->kind), row, max_queued, id) : HANT_ENOMEM;
  if (rc) {
    free(row);
    hant_deploy_job_destroy(j);
    return rc;
  }
  /* A runner may claim the row before it is kept; it then decodes the row. */
  j->seed = (uint64_t)*id;
  keep(*id, row, j);
  return 0;
}

/* ---- a job's checkpoint ------------------------------------------------------------------- */


/* The name prefix of this library's checkpoints: daemons of several
 * libraries may share a state directory. */
static void library_prefix(const hant_store *st, char *buf, size_t n) {
  snprintf(buf, n, "%016llx-", (unsigned long long)hant_fnv_str(HANT_FNV_BASIS, hant_store_path(st)));
}

/* STATE/jobs/<library>-<id>-<queued>.ckpt: the job by its id and the time
 * it was queued, so that a library made again, whose ids start over, never
 * resumes another job's file. "" without places. */
static int checkpoint_path(const hant_store *st, const hant_job_rec *rec, char *buf, size_t n) {
  const char *dir = hant_places_jobs_dir(hant__rpc_places());
  buf[0] = '\0';
  if (!dir[0])
    return 0;
  char lib[24];
  library_prefix(st, lib, sizeof(lib));
  if (snprintf(buf, n, "%s/%s%lld-%016llx.ckpt", dir, lib, (long long)rec->id,
               (unsigned long long)hant_fnv_str(HANT_FNV_BASIS, rec->created)) >= (int)n) {
    buf[0] = '\0';
    return hant__error(HANT_EINVAL, "job %lld: the state directory's name is too long for its checkpoint",
                       (long long)rec->id);
  }
  return 0;
}

int hant_rpc_job_checkpoint_remove(hant_store *st, const hant_job_rec *job) {
  char path[1280];
  int rc = checkpoint_path(st, job, path, sizeof(path));
  return rc ? rc : path[0] ? hant_finetune_checkpoint_remove(path) : 0;
}

/* Whether the checkpoint file `name` of this library (after its prefix,
 * nl bytes long: "<id>-<queued>.ckpt" and a phase's suffix) is one of a
 * job still queued or running. */
static bool checkpoint_wanted(hant_store *st, const char *name, size_t nl) {
  char *end;
  long long id = strtoll(name, &end, 10);
  hant_job_rec rec;
  if (end == name || *end != '-' || hant_store_job_get(st, id, &rec)) {
    hant_errmsg_clear();
    return false;
  }
  char path[1280];
  bool wanted = (rec.state == HANT_JOB_QUEUED || rec.state == HANT_JOB_RUNNING) &&
                !checkpoint_path(st, &rec, path, sizeof(path)) && path[0];
  if (wanted) {
    const char *own = strrchr(path, '/') + 1 + nl; /* the job's own name after the prefix */
    wanted = !strncmp(name, own, strlen(own));
  }
  hant_job_rec_free(&rec);
  return wanted;
}

int hant_rpc_job_checkpoints_sweep(hant_store *st, int *removed) {
  int n = 0, rc = 0;
  const char *dir = hant_places_jobs_dir(hant__rpc_places());
  DIR *d = dir[0] ? opendir(dir) : NULL;
  if (dir[0] && !d)
    rc = hant__error(HANT_EIO, "%s: cannot list it to remove finished jobs' checkpoints (%s)", dir, strerror(errno));
  char lib[24];
  library_prefix(st, lib, sizeof(lib));
  size_t nl = strlen(lib);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (strncmp(e->d_name, lib, nl) || checkpoint_wanted(st, e->d_name + nl, nl))
      continue;
    if (unlinkat(dirfd(d), e->d_name, 0) == 0)
      n++;
    else if (errno != ENOENT)
      rc = hant__error(HANT_EIO, "%s/%s: cannot remove a finished job's checkpoint (%s)", dir, e->d_name,
                       strerror(errno));
  }
  if (d)
    closedir(d);
  if (removed)
    *removed = n;
  return rc;
}

/* ---- running a claimed job ---------------------------------------------------------------- */

int hant_rpc_job_run(hant_store *st, const hant_job_rec *rec, int (*progress)(void *user, double f, const char *note),
                     void *user, char **result_json) {
  *result_json = NULL;
  hant_deploy_job *job = take(rec);
  int rc = job ? 0 : job_decode(rec, &job);
  if (rc)
    return rc;
  hant_deploy_job_result res;
  if (job->kind == HANT_DEPLOY_JOB_TRANSFORM && (rc = checkpoint_path(st, rec, job->checkpoint, sizeof(job->checkpoint)))) {
    hant_deploy_job_destroy(job);
    return rc;
  }
  rc = hant_deploy_job_run(job, hant__rpc_places(), st, progress, user, &res);
  if (!rc && !(*result_json = job_result(job, &res)))
    rc = HANT_ENOMEM;
  hant_deploy_job_destroy(job);
  return rc;
}
