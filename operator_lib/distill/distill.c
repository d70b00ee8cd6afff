/* SPDX-License-Identifier: MIT */
/* distill.c: layer-wise distillation of candidates against a teacher's slot activations, and their scoring. */
#include "distill.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "energy.h"
#include "family.h"
#include "family_lsq.h"
#include "kernels.h"
#include "library.h"
#include "base.h"
#include "jsonw.h"
#include "netfile.h"
#include "sha256.h"
#include "train.h"

static const char *const init_names[] = {"random", "lsq"};
static_assert(sizeof(init_names) / sizeof(init_names[0]) == HANT_DISTILL_INIT_COUNT, "one name per init");

const char *hant_distill_init_name(hant_distill_init i) {
  return (unsigned)i < HANT_DISTILL_INIT_COUNT ? init_names[i] : NULL;
}

hant_distill_init hant_distill_init_from_name(const char *s) {
  for (int i = 0; s && i < HANT_DISTILL_INIT_COUNT; i++)
    if (!strcmp(s, init_names[i]))
      return (hant_distill_init)i;
  return HANT_DISTILL_INIT_COUNT;
}

const char *hant_distill_init_names(void) { return "random or lsq"; }

void hant_distill_opts_default(hant_distill_opts *o) {
  memset(o, 0, sizeof(*o));
  o->families = (1u << HANT_FAMILY_COUNT) - 1;
  o->epochs = 1;
  o->epochs_teacher = 0;
  o->plateau = 0.0;
  o->batch = 64;
  o->lr_random = 5e-3f;
  o->lr_teacher = 5e-4f;
  o->jobs = hant_cpu_count();
  o->chunk = 0;
  o->seed = 1;
  o->grid_g_per_kwh = HANT_GRID_G_PER_KWH_DEFAULT;
  o->shards = 1;
  o->record_run = true;
}

/* ---- teacher registration ----------------------------------------------- */

/* The library holds its teacher's bytes, so that nothing it needs lives
 * beside it. A teacher whose bytes alone are not the model (ONNX external
 * data) is left out: the library reads it from its path as before. */
static int store_teacher(hant_store *st, hant_teacher_rec *t, const char *teacher_path) {
  int rc = hant_library_teacher_store(st, t, teacher_path);
  if (rc == HANT_ENOTSUP) {
    hant_errmsg_clear();
    return 0;
  }
  return rc;
}

int hant_distill_register(hant_store *st, const char *teacher_path, const char *format, hant_net *teacher,
                          const hant_dataset *val, const char *val_split) {
  char sha[65], split[64];
  int rc = hant_sha256_file(teacher_path, sha);
  if (rc)
    return rc;
  if (val_split)
    snprintf(split, sizeof(split), "%s", val_split);
  else
    snprintf(split, sizeof(split), "fmnist train[55000:%d)", 55000 + val->n);
  hant_teacher_rec t;
  rc = hant_store_teacher_get(st, &t);
  if (rc == 0) {
    if (strcmp(t.sha256, sha))
      return hant__error(HANT_EINVAL,
                         "%s: this library was built from teacher %s (sha256 %.12s...), not %s (sha256 %.12s...); "
                         "use another --db",
                         hant_store_path(st), t.path, t.sha256, teacher_path, sha);
    if (t.val_images != val->n)
      return hant__error(HANT_EINVAL,
                         "%s: scores in this library use %d validation images; rerun with --val-samples %d",
                         hant_store_path(st), t.val_images, t.val_images);
    /* A library from before libraries held their teachers gets it now. */
    return t.stored_bytes > 0 ? 0 : store_teacher(st, &t, teacher_path);
  }
  if (rc != HANT_ENOENT)
    return rc;
  if (teacher->n_slots == 0)
    return hant__error(HANT_EINVAL, "%s: the teacher has no replaceable slots", teacher_path);
  double acc, loss;
  if ((rc = hant_eval_classifier(teacher, val, 256, &acc, &loss)))
    return rc;
  memset(&t, 0, sizeof(t));
  snprintf(t.sha256, sizeof(t.sha256), "%s", sha);
  snprintf(t.path, sizeof(t.path), "%s", teacher_path);
  snprintf(t.format, sizeof(t.format), "%s", format);
  t.input_c = teacher->nodes[0].c;
  t.input_h = teacher->nodes[0].h;
  t.input_w = teacher->nodes[0].w;
  const hant_node *o = &teacher->nodes[hant_net_output(teacher)];
  t.classes = o->c * o->h * o->w;
  t.macs = hant_net_macs(teacher);
  t.params = (int64_t)hant_net_param_count(teacher);
  t.val_accuracy = acc;
  snprintf(t.val_split, sizeof(t.val_split), "%s", split);
  t.val_images = val->n;
  if ((rc = hant_store_begin(st)))
    return rc;
  if ((rc = hant_store_teacher_put(st, &t)) || (rc = store_teacher(st, &t, teacher_path)))
    goto fail;
  for (int i = 0; i < teacher->n_slots; i++) {
    const hant_slot *s = &teacher->slots[i];
    hant_slot_rec r = {.teacher_id = t.id, .idx = i};
    snprintf(r.name, sizeof(r.name), "%s", s->name);
    snprintf(r.kind, sizeof(r.kind), "%s", s->kind);
    snprintf(r.arch, sizeof(r.arch), "%s", s->desc);
    r.in_c = s->in_c, r.in_h = s->in_h, r.in_w = s->in_w;
    r.out_c = s->out_c, r.out_h = s->out_h, r.out_w = s->out_w;
    double macs = 0;
    int64_t params = 0;
    for (int j = s->first; j <= s->last; j++) {
      macs += hant_node_macs(teacher, j);
      for (int k = 0; k < 2; k++)
        if (teacher->nodes[j].param[k] >= 0 && teacher->nodes[j].op != HANT_OP_BN)
          params += (int64_t)teacher->params[teacher->nodes[j].param[k]].n;
    }
    r.macs = macs;
    r.params = params;
    if ((rc = hant_store_slot_put(st, &r)))
      goto fail;
  }
  return hant_store_commit(st);
fail:
  hant_store_rollback(st);
  return rc;
}

/* Whether a candidate's generated start is random (dws, ir) rather than
 * taken from the teacher's weights. */
static bool starts_random(const char *init) { return !strcmp(init, "random") || !strcmp(init, "none"); }

/* Batches of training images used to re-estimate BN statistics. */
#define CAL_BATCHES 32
/* Images a least-squares initialisation fits on: the first of the BN
 * re-estimation draw. 512 images give the regression of even the widest
 * ir (384 hidden channels at 7x7) over 25,000 rows, and cost about as much
 * as eight training steps. */
#define LSQ_IMAGES 512
/* Ridge of the fit, relative to the features' mean variance. */
#define LSQ_RIDGE 1e-3

/* ---- a chunk of candidates trained together ----------------------------- */

typedef struct cand_state {
  hant_cand_spec spec;
  uint64_t seed;
  hant_net *net;
  hant_pass pass, suffix;
  hant_optim opt;
  float lr;
  double mse_init, mse_final; /* sums over validation elements */
  long correct;
  double kl; /* sum over validation images of KL(teacher || teacher with this candidate) */
  double cpu_s;               /* this candidate's thread CPU time */
  bool exact;                 /* initialised to the teacher's function: no training */
  /* Rounds: one epoch each, on a cosine from a peak that halves from one
   * round to the next (warm restarts, Loshchilov & Hutter 2017), until
   * the round cap or a validation plateau. */
  int cap;                    /* rounds allowed */
  int rounds;                 /* rounds trained */
  bool stopped;               /* no more rounds: capped, converged or exact */
  double mse_round;           /* validation sum of squares after the current round */
  double mse_best;            /* ... of the best round so far */
  float *best;                /* parameter values after the best round */
  hant_lsq *lsq;              /* the least-squares fit of its last conv, until solved */
  bool lsq_used;              /* it started from that fit */
  int rc;
} cand_state;

typedef struct chunk {
  hant_net *teacher;
  const hant_slot *slot;
  cand_state *c;
  int n;
  int jobs;
  int threads;         /* kernel threads per worker; 0: the process's count */
  /* The current batch, shared read-only by the workers. */
  const float *x, *y;  /* teacher slot input and output */
  const float *z;      /* the teacher's pre-activation of y, or NULL (phase 5) */
  const float *zt;     /* the teacher's logits on the batch (phase 2) */
  const int *labels;
  int nb;
  int phase;           /* 0: val MSE, 1: train step, 2: val MSE + accuracy, 3: BN calibration,
                        * 4: val MSE after a round, 5: least-squares features,
                        * 6: least-squares solve */
  long step, total;
  int round;           /* the round being trained */
  long round_step, round_steps;
  int cal_step;        /* batches of BN calibration done */
  /* Work queue of the current batch: candidates, largest first, taken in
   * turn by whichever worker is free. */
  int *order; /* NULL: in index order */
  atomic_int next;
} chunk;

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run_one(chunk *ch, cand_state *cs) {
  if (cs->rc)
    return;
  double t0 = thread_cpu_s();
  const hant_slot *s = ch->slot;
  size_t ny = (size_t)ch->nb * s->out_c * s->out_h * s->out_w;
  int out = hant_net_output(cs->net);
  bool train = ch->phase == 1;
  int rc;
  if ((ch->phase == 1 || ch->phase == 3 || ch->phase == 4) && cs->stopped)
    goto done_ok;
  if (ch->phase == 5 || ch->phase == 6) {
    if (!cs->lsq)
      goto done_ok;
    if (ch->phase == 5) {
      rc = hant_lsq_add(cs->lsq, &cs->pass, ch->x, ch->y, ch->z, ch->nb);
      goto done;
    }
    rc = hant_lsq_solve(cs->lsq, LSQ_RIDGE);
    hant_lsq_destroy(cs->lsq);
    cs->lsq = NULL;
    cs->lsq_used = rc == 0;
    goto done;
  }
  if (ch->phase == 3) {
    /* Running statistics as the exact mean over the calibration batches:
     * the k-th batch gets weight 1/(k+1). */
    for (int i = 0; i < cs->net->n_nodes; i++)
      if (cs->net->nodes[i].op == HANT_OP_BN)
        cs->net->nodes[i].bn_momentum = 1.0f / (float)(ch->cal_step + 1);
    rc = hant_net_forward(cs->net, &cs->pass, ch->x, ch->nb, true);
    for (int i = 0; i < cs->net->n_nodes; i++)
      if (cs->net->nodes[i].op == HANT_OP_BN)
        cs->net->nodes[i].bn_momentum = 0.1f;
    goto done;
  }
  rc = hant_net_forward(cs->net, &cs->pass, ch->x, ch->nb, train);
  if (rc)
    goto done;
  const float *yh = cs->pass.out[out];
  if (train) {
    float *dy = hant_arena_floats(&cs->pass.act, ny);
    if (!dy) {
      rc = HANT_ENOMEM;
      goto done;
    }
    float l = hant_loss_mse(yh, ch->y, ny, dy);
    if (!isfinite(l)) {
      rc = hant__error(HANT_ERANGE, "candidate '%s' diverged (distillation loss %g)", cs->spec.key, (double)l);
      goto done;
    }
    hant_net_zero_grad(cs->net);
    if ((rc = hant_net_backward(cs->net, &cs->pass, dy, NULL)))
      goto done;
    float peak = ldexpf(cs->lr, -ch->round);
    float lr = hant_sched_lr(HANT_SCHED_COSINE, peak, ch->round_step, ch->round_steps, 0);
    rc = hant_optim_step(&cs->opt, cs->net->params, cs->net->n_params, lr);
    goto done;
  }
  double se = 0.0;
  for (size_t i = 0; i < ny; i++) {
    double d = (double)yh[i] - ch->y[i];
    se += d * d;
  }
  if (ch->phase == 0) {
    cs->mse_init += se;
    goto done;
  }
  if (ch->phase == 4) {
    cs->mse_round += se;
    goto done;
  }
  cs->mse_final += se;
  /* The teacher with only this slot replaced: run the rest of the teacher. */
  if ((rc = hant_net_forward_from(ch->teacher, &cs->suffix, s->last, yh, ch->nb, false)))
    goto done;
  const hant_node *o = &ch->teacher->nodes[hant_net_output(ch->teacher)];
  int k = o->c * o->h * o->w;
  const float *z = cs->suffix.out[hant_net_output(ch->teacher)];
  for (int i = 0; i < ch->nb; i++) {
    int best = 0;
    for (int j = 1; j < k; j++)
      if (z[(size_t)i * k + j] > z[(size_t)i * k + best])
        best = j;
    cs->correct += best == ch->labels[i];
    cs->kl += hant_kl_logits(ch->zt + (size_t)i * k, z + (size_t)i * k, k);
  }
done:
  cs->rc = rc;
done_ok:
  cs->cpu_s += thread_cpu_s() - t0;
}

typedef struct worker_arg {
  chunk *ch;
  int id;
} worker_arg;

static void *worker(void *p) {
  worker_arg *a = p;
  hant_threads_set_local(a->ch->threads);
  for (int k; (k = atomic_fetch_add(&a->ch->next, 1)) < a->ch->n;)
    run_one(a->ch, &a->ch->c[a->ch->order ? a->ch->order[k] : k]);
  hant_threads_set_local(0);
  return NULL;
}

/* Runs every candidate on the current batch, spread over the workers.
 * Candidates are independent and every worker runs the same thread count,
 * so which worker runs which does not change results. A free worker takes
 * the largest candidate left (the longest-first rule), so that workers do
 * not wait at the end of the batch for one that drew the large blocks, as
 * they did with a fixed round-robin share. */
static void par_candidates(chunk *ch) {
  pthread_t th[64];
  worker_arg args[64];
  int jobs = ch->jobs < 64 ? ch->jobs : 64, started;
  double *macs = malloc(sizeof(double) * (size_t)ch->n);
  ch->order = macs ? malloc(sizeof(int) * (size_t)ch->n) : NULL;
  for (int i = 0; ch->order && i < ch->n; i++) {
    macs[i] = ch->c[i].net ? hant_net_macs(ch->c[i].net) : 0;
    int j = i;
    for (; j > 0 && macs[ch->order[j - 1]] < macs[i]; j--)
      ch->order[j] = ch->order[j - 1];
    ch->order[j] = i;
  }
  free(macs);
  atomic_store(&ch->next, 0);
  for (started = 1; started < jobs; started++) {
    args[started] = (worker_arg){ch, started};
    if (pthread_create(&th[started], NULL, worker, &args[started]))
      break;
  }
  /* The calling thread is worker 0, and runs the share of any worker
   * whose thread could not start. */
  for (int j = 0; j < jobs; j++)
    if (j == 0 || j >= started) {
      args[j] = (worker_arg){ch, j};
      worker(&args[j]);
    }
  for (int j = 1; j < started; j++)
    pthread_join(th[j], NULL);
  free(ch->order);
  ch->order = NULL;
}

int hant_distill_rounds(const hant_distill_opts *o, const char *init) {
  return starts_random(init) || o->epochs_teacher < 1 ? o->epochs : o->epochs_teacher;
}

bool hant_distill_slot_wanted(const char *list, const char *name) {
  if (!list)
    return true;
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    size_t k = strcspn(p, ",");
    if (k == n && !strncmp(p, name, n))
      return true;
    p += k;
    if (*p)
      p++;
  }
  return false;
}

int hant_distill_slots_check(const hant_net *teacher, const char *list) {
  for (const char *p = list; p && *p;) {
    size_t k = strcspn(p, ",");
    bool found = false;
    for (int s = 0; s < teacher->n_slots && !found; s++)
      found = strlen(teacher->slots[s].name) == k && !strncmp(teacher->slots[s].name, p, k);
    if (!found)
      return hant__error(HANT_EINVAL, "--slots: the teacher has no slot named '%.*s' (it has slot0 to slot%d)",
                         (int)k, p, teacher->n_slots - 1);
    p += k;
    if (*p)
      p++;
  }
  return 0;
}

double hant_distill_candidate_work(const hant_net *teacher, int slot, long images, int epochs, int chunk_n) {
  const hant_slot *s = &teacher->slots[slot];
  double prefix = 0, block = 0;
  for (int j = 0; j <= s->last; j++) {
    double m = hant_node_macs(teacher, j);
    prefix += m;
    if (j >= s->first)
      block += m;
  }
  return (double)images * epochs * (prefix / (chunk_n > 0 ? chunk_n : 1) + 3.0 * block);
}

/* Candidates trained together share the teacher's pass over each batch,
 * whatever their number: on the default teacher, chunks of 32 instead of 8
 * cut slot 4's CPU time by a third with the same weights (docs/
 * benchmarks.md). Each candidate holds its activations and gradients for a
 * batch: about CHUNK_BYTES_PER_ELEM bytes per element of the slot's wider
 * end (input or output) per image, as measured on the default teacher at
 * batch 64 (slot 1's 32 candidates at once: 10.2 GB, the build's peak). So the
 * default is 16 candidates per worker, fewer where that would take more
 * than half the machine's memory, and never fewer than the workers. */
#define CHUNK_PER_JOB 16
#define CHUNK_BYTES_PER_ELEM 384.0

int hant_distill_chunk(const hant_net *teacher, int slot, const hant_distill_opts *o) {
  if (o->chunk > 0)
    return o->chunk;
  const hant_slot *s = &teacher->slots[slot];
  const hant_node *in = &teacher->nodes[s->in];
  double elems = (double)s->out_c * s->out_h * s->out_w, in_elems = (double)in->c * in->h * in->w;
  elems = in_elems > elems ? in_elems : elems;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  double budget = pages > 0 && page > 0 ? 0.5 * (double)pages * (double)page : 4e9;
  double per = CHUNK_BYTES_PER_ELEM * elems * o->batch;
  double fit = per > 0 ? budget / per : CHUNK_PER_JOB * o->jobs;
  int n = CHUNK_PER_JOB * o->jobs;
  if (fit < n)
    n = (int)fit;
  return n > o->jobs ? n : o->jobs;
}

static void emit(const hant_distill_opts *o, hant_distill_event *e, double t0) {
  if (o->progress) {
    e->elapsed_s = hant_now_s() - t0;
    o->progress(o->user, e);
  }
}

/* Teacher pass over a split: calls back with each batch's slot input and
 * output. Validation batches are taken in order, without augmentation. */
static int val_pass(chunk *ch, hant_pass *tp, const hant_dataset *val, int batch, float *xb, int *lab, int phase) {
  const hant_slot *s = ch->slot;
  int *idx = malloc(sizeof(int) * (size_t)batch);
  if (!idx)
    return HANT_ENOMEM;
  int rc = 0;
  for (int b0 = 0; b0 < val->n && !rc; b0 += batch) {
    int nb = val->n - b0 < batch ? val->n - b0 : batch;
    for (int i = 0; i < nb; i++)
      idx[i] = b0 + i;
    hant_dataset_batch(val, idx, nb, false, 0, NULL, xb, lab);
    /* The final pass also needs the teacher's logits, for the divergence. */
    int last = phase == 2 ? ch->teacher->n_nodes - 1 : s->last;
    if ((rc = hant_net_forward_to(ch->teacher, tp, xb, nb, last, false)))
      break;
    ch->zt = phase == 2 ? tp->out[hant_net_output(ch->teacher)] : NULL;
    ch->x = tp->out[s->in];
    ch->y = tp->out[s->last];
    ch->labels = lab;
    ch->nb = nb;
    ch->phase = phase;
    par_candidates(ch);
  }
  free(idx);
  return rc;
}

/* One training batch and the teacher's features on it. While the workers
 * train on one batch, the next is drawn and run through the teacher on a
 * thread of its own (one kernel thread, so no OpenMP team spins beside the
 * workers): the teacher's pass no longer leaves the workers waiting. The
 * batches are drawn in the same order, from the same random stream, as one
 * after the other. */
typedef struct batch_prep {
  const hant_dataset *train;
  const int *idx;
  int n;
  hant_rng *rng;
  hant_net *teacher;
  int last;
  float *x;
  int *labels;
  hant_pass pass;
  int rc;
} batch_prep;

static void *batch_prep_run(void *p) {
  batch_prep *q = p;
  hant_threads_set_local(1);
  hant_dataset_batch(q->train, q->idx, q->n, true, 2, q->rng, q->x, q->labels);
  q->rc = hant_net_forward_to(q->teacher, &q->pass, q->x, q->n, q->last, false);
  hant_threads_set_local(0);
  return NULL;
}

/* The best round's parameters, kept while later rounds try to improve on
 * them. */
static size_t param_floats(const hant_net *net) {
  size_t n = 0;
  for (int i = 0; i < net->n_params; i++)
    n += net->params[i].n;
  return n;
}

static int snapshot_params(cand_state *c) {
  if (!c->best && !(c->best = malloc(sizeof(float) * param_floats(c->net))))
    return HANT_ENOMEM;
  for (int i = 0, o = 0; i < c->net->n_params; o += (int)c->net->params[i].n, i++)
    memcpy(c->best + o, c->net->params[i].w, sizeof(float) * c->net->params[i].n);
  return 0;
}

static void restore_params(cand_state *c) {
  for (int i = 0, o = 0; i < c->net->n_params; o += (int)c->net->params[i].n, i++)
    memcpy(c->net->params[i].w, c->best + o, sizeof(float) * c->net->params[i].n);
}

/* Fits the last conv of every candidate that has a least-squares fit to
 * the teacher on the first LSQ_IMAGES images of `order` (training images,
 * without augmentation: validation images only score), in batches of B,
 * and solves. Candidates without a fit are not touched. */
static int lsq_init(chunk *ch, hant_pass *tp, const hant_dataset *train, const int *order, int B, float *xb,
                    int *lab) {
  bool any = false;
  for (int i = 0; i < ch->n; i++)
    any |= ch->c[i].lsq != NULL;
  if (!any)
    return 0;
  const hant_slot *s = ch->slot;
  const hant_node *last = &ch->teacher->nodes[s->last];
  /* The teacher's value before its final ReLU, the target of candidates
   * that end in an activation (family_lsq.h). */
  bool pre = last->op == HANT_OP_ACT && last->act == HANT_ACT_RELU;
  int rc = 0;
  for (long b0 = 0; b0 + B <= LSQ_IMAGES && b0 + B <= train->n && !rc; b0 += B) {
    hant_dataset_batch(train, order + b0, B, false, 0, NULL, xb, lab);
    if ((rc = hant_net_forward_to(ch->teacher, tp, xb, B, s->last, false)))
      break;
    ch->x = tp->out[s->in];
    ch->y = tp->out[s->last];
    ch->z = pre ? tp->out[last->in[0]] : NULL;
    ch->nb = B;
    ch->phase = 5;
    par_candidates(ch);
  }
  ch->z = NULL;
  if (!rc) {
    ch->phase = 6;
    par_candidates(ch);
  }
  for (int i = 0; i < ch->n && !rc; i++)
    rc = ch->c[i].rc;
  return rc;
}

static int train_chunk(chunk *ch, const hant_dataset *train, const hant_dataset *val, const hant_distill_opts *o,
                       int slot_idx, hant_distill_event *ev, double t0) {
  const hant_slot *s = ch->slot;
  int B = o->batch;
  size_t per = (size_t)train->c * train->h * train->w;
  int vb = 256 > B ? 256 : B;
  float *xb = hant_alloc(per * (size_t)vb * sizeof(float));
  int *lab = malloc(sizeof(int) * (size_t)vb), *order = malloc(sizeof(int) * (size_t)train->n),
      *cal_order = malloc(sizeof(int) * (size_t)train->n);
  hant_pass tp;
  hant_pass_init(&tp);
  batch_prep bp[2];
  memset(bp, 0, sizeof(bp));
  for (int k = 0; k < 2; k++) {
    hant_pass_init(&bp[k].pass);
    bp[k].x = hant_alloc(per * (size_t)B * sizeof(float));
    bp[k].labels = malloc(sizeof(int) * (size_t)B);
  }
  int rc = 0;
  if (!xb || !lab || !order || !cal_order || !bp[0].x || !bp[1].x || !bp[0].labels || !bp[1].labels) {
    rc = HANT_ENOMEM;
    goto out;
  }
  /* The images that re-estimate BN statistics after each round: the first
   * round's order, a fixed draw, so a candidate's result does not depend
   * on how many rounds its chunk's neighbours train; a one-round build
   * re-estimates on exactly the images recipe 1 did. */
  hant_rng crng;
  hant_rng_seed(&crng, o->seed * 1000003u + (uint64_t)slot_idx * 7919u);
  for (int i = 0; i < train->n; i++)
    cal_order[i] = i;
  hant_rng_shuffle(&crng, cal_order, train->n);
  if ((rc = lsq_init(ch, &tp, train, cal_order, B, xb, lab)))
    goto out;
  if ((rc = val_pass(ch, &tp, val, vb, xb, lab, 0)))
    goto out;
  long spe = train->n / B;
  if (spe < 1) {
    rc = hant__error(HANT_EINVAL, "%d training images are fewer than one batch of %d", train->n, B);
    goto out;
  }
  /* A candidate that already computes the teacher's function (the
   * teacher's own block, a zero-padded kernel) is left as it is: Adam
   * would turn its near-zero gradients into unit-size steps. */
  int max_cap = 0;
  for (int i = 0; i < ch->n; i++) {
    const hant_slot *sl = ch->slot;
    double ref = (double)val->n * sl->out_c * sl->out_h * sl->out_w;
    ch->c[i].exact = ch->c[i].mse_init / ref < 1e-10;
    ch->c[i].stopped = ch->c[i].exact;
    if (!ch->c[i].exact && ch->c[i].cap > max_cap)
      max_cap = ch->c[i].cap;
  }
  ch->total = spe * (max_cap > 0 ? max_cap : 1);
  ch->step = 0;
  ch->round_steps = spe;
  for (int round = 0; round < max_cap; round++) {
    bool active = false;
    for (int i = 0; i < ch->n; i++)
      active |= !ch->c[i].stopped;
    if (!active)
      break;
    ch->round = round;
    /* Data order and augmentation depend on the seed, slot and round only. */
    hant_rng rng;
    hant_rng_seed(&rng, o->seed * 1000003u + (uint64_t)slot_idx * 7919u + (uint64_t)round);
    for (int i = 0; i < train->n; i++)
      order[i] = i;
    hant_rng_shuffle(&rng, order, train->n);
    for (int k = 0; k < 2; k++) {
      bp[k].train = train, bp[k].n = B, bp[k].rng = &rng, bp[k].teacher = ch->teacher, bp[k].last = s->last;
    }
    bp[0].idx = order;
    batch_prep_run(&bp[0]);
    for (long b = 0; b < spe; b++, ch->step++) {
      batch_prep *cur = &bp[b & 1], *next = &bp[(b + 1) & 1];
      if ((rc = cur->rc))
        goto out;
      pthread_t th;
      bool ahead = false;
      if (b + 1 < spe) {
        next->idx = order + (b + 1) * B;
        ahead = pthread_create(&th, NULL, batch_prep_run, next) == 0;
      }
      ch->x = cur->pass.out[s->in];
      ch->y = cur->pass.out[s->last];
      ch->nb = B;
      ch->phase = 1;
      ch->round_step = b;
      par_candidates(ch);
      if (ahead)
        pthread_join(th, NULL);
      else if (b + 1 < spe)
        batch_prep_run(next);
      for (int i = 0; i < ch->n; i++)
        if (ch->c[i].rc) {
          rc = ch->c[i].rc;
          goto out;
        }
      if (o->progress && (ch->step % 10 == 0 || ch->step + 1 == ch->total)) {
        ev->kind = HANT_DISTILL_EV_PROGRESS;
        ev->chunk_frac = (double)(ch->step + 1) / (double)ch->total;
        emit(o, ev, t0);
      }
    }
    /* Re-estimate BN statistics of the trained candidates (as Once-for-All
     * does after sampling a subnet): the running averages of a short
     * training run lag behind the weights. */
    for (int cb = 0; cb < CAL_BATCHES && (long)cb * B + B <= train->n; cb++) {
      hant_dataset_batch(train, cal_order + (long)cb * B, B, false, 0, NULL, xb, lab);
      if ((rc = hant_net_forward_to(ch->teacher, &tp, xb, B, s->last, false)))
        goto out;
      ch->x = tp.out[s->in];
      ch->y = tp.out[s->last];
      ch->nb = B;
      ch->phase = 3;
      ch->cal_step = cb;
      par_candidates(ch);
    }
    /* Whether another round could follow for anyone: only then is the
     * round's validation loss needed. */
    bool more = false;
    for (int i = 0; i < ch->n; i++) {
      cand_state *c = &ch->c[i];
      if (c->stopped)
        continue;
      c->rounds++;
      c->mse_round = 0;
      if (c->rounds >= c->cap) {
        c->stopped = true;
        c->mse_round = NAN; /* not measured: nothing to decide */
      }
      more |= !c->stopped;
    }
    if (!more)
      break;
    if ((rc = val_pass(ch, &tp, val, vb, xb, lab, 4)))
      goto out;
    for (int i = 0; i < ch->n && !rc; i++) {
      cand_state *c = &ch->c[i];
      if (c->stopped)
        continue;
      if (c->rounds > 1 && !(c->mse_round < c->mse_best)) {
        /* Worse than the best round: back to it, and no further. */
        restore_params(c);
        c->stopped = true;
        continue;
      }
      double gain = c->rounds > 1 ? (c->mse_best - c->mse_round) / c->mse_best : INFINITY;
      c->mse_best = c->mse_round;
      c->stopped = gain < o->plateau;
      if (!c->stopped)
        rc = snapshot_params(c);
    }
    for (int i = 0; i < ch->n && o->progress; i++) {
      cand_state *c = &ch->c[i];
      if (c->exact || c->rounds != round + 1 || isnan(c->mse_round))
        continue;
      ev->kind = HANT_DISTILL_EV_ROUND;
      ev->round_key = c->spec.key;
      ev->round = c->rounds;
      ev->round_loss = c->mse_round / ((double)val->n * s->out_c * s->out_h * s->out_w);
      ev->round_stop = c->stopped;
      emit(o, ev, t0);
    }
    ev->round_key = NULL;
    if (rc)
      goto out;
  }
  for (int i = 0; i < ch->n; i++)
    ch->c[i].stopped = ch->c[i].exact;
  rc = val_pass(ch, &tp, val, vb, xb, lab, 2);
out:
  for (int k = 0; k < 2; k++) {
    hant_pass_free(&bp[k].pass);
    hant_free(bp[k].x);
    free(bp[k].labels);
  }
  hant_pass_free(&tp);
  hant_free(xb);
  free(lab);
  free(order);
  free(cal_order);
  return rc;
}

static int finish_candidate(cand_state *cs, const hant_distill_opts *o, int64_t slot_id, double teacher_acc,
                            const hant_dataset *train, const hant_dataset *val, const hant_slot *s, double share_wall,
                            double share_cpu, hant_distill_result *r) {
  memset(r, 0, sizeof(*r));
  hant_cand_rec *c = &r->rec;
  size_t ny = (size_t)val->n * s->out_c * s->out_h * s->out_w;
  c->slot_id = slot_id;
  snprintf(c->key, sizeof(c->key), "%s", cs->spec.key);
  snprintf(c->family, sizeof(c->family), "%s", hant_family_name(cs->spec.family));
  /* The start as generated; with the fit, "lsq" after a random one and
   * "group-slice+lsq" after another. */
  if (!cs->lsq_used)
    snprintf(c->init, sizeof(c->init), "%s", cs->spec.init);
  else if (starts_random(cs->spec.init))
    snprintf(c->init, sizeof(c->init), "lsq");
  else
    snprintf(c->init, sizeof(c->init), "%s+lsq", cs->spec.init);
  snprintf(c->arch, sizeof(c->arch), "%s", cs->net->arch);
  snprintf(c->hparams, sizeof(c->hparams), "%s", cs->spec.hparams);
  c->seed = cs->seed;
  c->params = (int64_t)hant_net_param_count(cs->net);
  c->macs = hant_net_macs(cs->net);
  c->peak_act_bytes = (int64_t)hant_net_peak_act_bytes(cs->net);
  c->loss_init = cs->mse_init / (double)ny;
  c->loss_final = cs->mse_final / (double)ny;
  c->val_accuracy = (double)cs->correct / val->n;
  c->score = c->val_accuracy - teacher_acc;
  c->val_kl = cs->kl / val->n;
  c->kl_images = val->n;
  c->train_samples = (int64_t)(train->n / o->batch) * o->batch * cs->rounds;
  c->train_seconds = share_wall;
  c->cpu_seconds = cs->cpu_s + share_cpu;
  /* The weights carry which candidate they are; the text is part of the
   * stored blob, so its layout stays fixed. */
  char meta[512];
  hant_jsonw w;
  hant_jsonw_init_buf(&w, meta, sizeof(meta));
  hant_jsonw_obj_begin(&w);
  hant_jsonw_key(&w, "kind"), hant_jsonw_str(&w, "candidate");
  hant_jsonw_key(&w, "slot"), hant_jsonw_str(&w, s->name);
  hant_jsonw_key(&w, "key"), hant_jsonw_str(&w, cs->spec.key);
  hant_jsonw_key(&w, "family"), hant_jsonw_str(&w, c->family);
  hant_jsonw_obj_end(&w);
  if (hant_jsonw_error(&w))
    return hant__error(hant_jsonw_error(&w), "candidate '%s': its metadata exceeds %zu bytes", cs->spec.key,
                       sizeof(meta));
  return hant_netfile_encode(cs->net, meta, &r->weights, &r->weights_len);
}

int hant_distill_measure(hant_net *teacher, int slot, hant_net *cand, const hant_dataset *val, double *mse,
                         double *accuracy) {
  if (slot < 0 || slot >= teacher->n_slots)
    return hant__error(HANT_EINVAL, "slot %d does not exist", slot);
  cand_state cs = {.net = cand};
  hant_pass_init(&cs.pass);
  hant_pass_init(&cs.suffix);
  snprintf(cs.spec.key, sizeof(cs.spec.key), "measured");
  chunk ch = {.teacher = teacher, .slot = &teacher->slots[slot], .c = &cs, .n = 1, .jobs = 1};
  size_t per = (size_t)val->c * val->h * val->w;
  float *xb = hant_alloc(per * 256 * sizeof(float));
  int *lab = malloc(sizeof(int) * 256);
  hant_pass tp;
  hant_pass_init(&tp);
  int rc = !xb || !lab ? HANT_ENOMEM : val_pass(&ch, &tp, val, 256, xb, lab, 2);
  if (!rc)
    rc = cs.rc;
  if (!rc) {
    const hant_slot *s = &teacher->slots[slot];
    *mse = cs.mse_final / ((double)val->n * s->out_c * s->out_h * s->out_w);
    *accuracy = (double)cs.correct / val->n;
  }
  hant_pass_free(&tp);
  hant_pass_free(&cs.pass);
  hant_pass_free(&cs.suffix);
  hant_free(xb);
  free(lab);
  return rc;
}

int hant_distill_store_sink(void *user, hant_distill_result *r) {
  return hant_store_candidate_put(user, &r->rec, r->weights, r->weights_len);
}

int hant_distill_build(hant_store *st, hant_net *teacher, const hant_dataset *train, const hant_dataset *val,
                       const hant_distill_opts *o, hant_distill_sink_fn sink, void *sink_user,
                       hant_distill_summary *sum) {
  memset(sum, 0, sizeof(*sum));
  hant_teacher_rec t;
  hant_slot_rec *slots = NULL;
  int nslots = 0, rc;
  if (o->epochs < 1 || o->batch < 1 || o->jobs < 1 || o->shards < 1 || o->shard < 0 || o->shard >= o->shards)
    return hant__error(HANT_EINVAL, "distill: epochs %d, batch %d, jobs %d, shard %d/%d are not valid", o->epochs,
                       o->batch, o->jobs, o->shard, o->shards);
  if ((rc = hant_distill_slots_check(teacher, o->slots)))
    return rc;
  if ((rc = hant_store_teacher_get(st, &t)))
    return rc == HANT_ENOENT ? hant__error(rc, "%s: no teacher registered", hant_store_path(st)) : rc;
  if ((rc = hant_store_slots(st, &slots, &nslots)))
    return rc;
  if (nslots != teacher->n_slots) {
    free(slots);
    return hant__error(HANT_EINVAL, "%s: library has %d slots, the teacher %d", hant_store_path(st), nslots,
                       teacher->n_slots);
  }
  for (const char *p = o->slots; p && *p;) {
    size_t k = strcspn(p, ",");
    bool found = false;
    for (int i = 0; i < teacher->n_slots; i++)
      found |= strlen(teacher->slots[i].name) == k && !strncmp(teacher->slots[i].name, p, k);
    if (!found) {
      free(slots);
      return hant__error(HANT_EINVAL, "--slots: the teacher has no slot '%.*s' (slots are slot0 to slot%d)", (int)k, p,
                         teacher->n_slots - 1);
    }
    p += k;
    if (*p)
      p++;
  }
  int jobs = o->jobs;
  /* Each worker gets an equal share of the cores, and the ranks of an MPI
   * job are taken to share one machine's: no oversubscription. A build's
   * results depend on this count, so a resumed build and its MPI twin use
   * the same when jobs * ranks is the same. */
  int worker_threads = hant_cpu_count() / (jobs * o->shards);
  worker_threads = worker_threads > 1 ? worker_threads : 1;
  hant_energy_meter em;
  hant_energy_start(&em);
  double t0 = hant_now_s(), cpu0 = hant_cpu_s();
  hant_run_rec run = {0};
  snprintf(run.args, sizeof(run.args), "%s", o->args ? o->args : "");
  run.grid_g_per_kwh = o->grid_g_per_kwh;
  snprintf(run.energy_source, sizeof(run.energy_source), "%s", em.source);
  bool record_run = o->record_run;
  if (record_run && (rc = hant_store_run_begin(st, &run)))
    goto out_free;
  sum->run_id = run.id;

  /* Plan: every (slot, candidate) task, numbered in a fixed order so that
   * shards split the same list the same way. */
  hant_cand_spec **specs = calloc((size_t)nslots, sizeof(*specs));
  int *nspec = calloc((size_t)nslots, sizeof(int));
  if (!specs || !nspec) {
    rc = HANT_ENOMEM;
    goto out_plan;
  }
  int task = 0;
  hant_distill_event ev = {.n_slots = nslots};
  for (int i = 0; i < nslots; i++) {
    if ((rc = hant_family_generate(teacher, i, o->families, &specs[i], &nspec[i])))
      goto out_plan;
    nspec[i] = hant_family_thin(specs[i], nspec[i], o->per_family);
    for (int j = 0; j < nspec[i]; j++, task++) {
      if (task % o->shards != o->shard || !hant_distill_slot_wanted(o->slots, teacher->slots[i].name))
        continue;
      sum->planned++;
      double w = hant_distill_candidate_work(teacher, i, train->n, hant_distill_rounds(o, specs[i][j].init),
                                             hant_distill_chunk(teacher, i, o));
      ev.work_total += w;
      if (hant_store_candidate_exists(st, slots[i].id, specs[i][j].key)) {
        sum->existing++;
        ev.work_done += w;
      }
    }
  }
  sum->slots = nslots;
  ev.total = sum->planned;
  ev.done = sum->existing;
  task = 0;
  for (int i = 0; i < nslots && !rc; i++) {
    const hant_slot *s = &teacher->slots[i];
    int first_task = task, chunk_n = hant_distill_chunk(teacher, i, o);
    task += nspec[i];
    /* Pending candidates of this slot for this shard. */
    int *pend = malloc(sizeof(int) * (size_t)(nspec[i] ? nspec[i] : 1)), npend = 0, slot_planned = 0;
    if (!pend) {
      rc = HANT_ENOMEM;
      break;
    }
    for (int j = 0; j < nspec[i]; j++) {
      if ((first_task + j) % o->shards != o->shard || !hant_distill_slot_wanted(o->slots, s->name))
        continue;
      slot_planned++;
      if (!hant_store_candidate_exists(st, slots[i].id, specs[i][j].key))
        pend[npend++] = j;
    }
    ev.slot = i;
    ev.slot_name = s->name;
    ev.slot_total = slot_planned;
    ev.slot_done = slot_planned - npend;
    for (int c0 = 0; c0 < npend && !rc; c0 += chunk_n) {
      int n = npend - c0 < chunk_n ? npend - c0 : chunk_n;
      cand_state *cs = calloc((size_t)n, sizeof(*cs));
      if (!cs) {
        rc = HANT_ENOMEM;
        break;
      }
      double tc = hant_now_s(), cc = hant_cpu_s();
      for (int k = 0; k < n && !rc; k++) {
        cs[k].spec = specs[i][pend[c0 + k]];
        cs[k].seed = hant_candidate_seed(o->seed, i, cs[k].spec.key);
        if ((rc = hant_candidate_build(teacher, i, &cs[k].spec, cs[k].seed, &cs[k].net))) {
          rc = hant__error(rc, "slot %s, candidate '%s': %s", s->name, cs[k].spec.key, hant_errmsg());
          break;
        }
        hant_pass_init(&cs[k].pass);
        hant_pass_init(&cs[k].suffix);
        hant_optim_init(&cs[k].opt, HANT_OPTIM_ADAM);
        bool random = starts_random(cs[k].spec.init);
        cs[k].lr = random ? o->lr_random : o->lr_teacher;
        /* The fit is for the families measured with it (issue 16): dws
         * and ir from their random start, group after the slice of the
         * teacher's weights, whose dropped cross-group weights the fit of
         * its last conv makes up for as far as a linear map can. A
         * candidate whose ending has nothing to fit keeps its start. */
        bool fitted = (random && (cs[k].spec.family == HANT_FAMILY_DWS || cs[k].spec.family == HANT_FAMILY_IR)) ||
                      cs[k].spec.family == HANT_FAMILY_GROUP;
        if (fitted && o->init == HANT_DISTILL_INIT_LSQ && (rc = hant_lsq_new(cs[k].net, &cs[k].lsq))) {
          if (rc != HANT_ENOTSUP)
            break;
          hant_errmsg_clear();
          rc = 0;
        }
        cs[k].cap = hant_distill_rounds(o, cs[k].spec.init);
      }
      chunk ch = {.teacher = teacher, .slot = s, .c = cs, .n = n, .jobs = jobs, .threads = worker_threads};
      ev.kind = HANT_DISTILL_EV_SLOT;
      ev.chunk_size = n;
      ev.chunk_frac = 0;
      ev.chunk_work = 0;
      for (int k = 0; k < n; k++)
        ev.chunk_work += hant_distill_candidate_work(teacher, i, train->n, cs[k].cap, chunk_n);
      emit(o, &ev, t0);
      if (!rc)
        rc = train_chunk(&ch, train, val, o, i, &ev, t0);
      for (int k = 0; k < n && !rc; k++)
        if (cs[k].rc)
          rc = cs[k].rc;
      double wall = hant_now_s() - tc, cpu_all = hant_cpu_s() - cc, cpu_c = 0;
      for (int k = 0; k < n; k++)
        cpu_c += cs[k].cpu_s;
      /* The teacher passes are shared: split their CPU time evenly. */
      double share_cpu = cpu_all > cpu_c ? (cpu_all - cpu_c) / n : 0;
      for (int k = 0; k < n && !rc; k++) {
        hant_distill_result r;
        if ((rc = finish_candidate(&cs[k], o, slots[i].id, t.val_accuracy, train, val, s, wall / n, share_cpu, &r)))
          break;
        rc = sink(sink_user, &r);
        if (!rc) {
          sum->trained++;
          ev.done++;
          ev.slot_done++;
          /* Counted at its cap, as planned, however early it stopped. */
          double cand_work = hant_distill_candidate_work(teacher, i, train->n, cs[k].cap, chunk_n);
          ev.work_done += cand_work;
          /* What is left of the chunk in flight shrinks with it. */
          ev.chunk_work -= cand_work;
          ev.kind = HANT_DISTILL_EV_CANDIDATE;
          ev.cand = &r.rec;
          emit(o, &ev, t0);
          ev.cand = NULL;
          if (record_run) {
            run.candidates = sum->trained;
            run.wall_seconds = hant_now_s() - t0;
            run.cpu_seconds = hant_cpu_s() - cpu0;
            run.energy_j = hant_energy_joules(&em);
            run.co2_g = hant_co2_grams(run.energy_j, run.grid_g_per_kwh);
            rc = hant_store_run_update(st, &run);
          }
        }
        free(r.weights);
      }
      for (int k = 0; k < n; k++) {
        hant_net_destroy(cs[k].net);
        hant_lsq_destroy(cs[k].lsq);
        free(cs[k].best);
        hant_pass_free(&cs[k].pass);
        hant_pass_free(&cs[k].suffix);
      }
      free(cs);
    }
    free(pend);
  }
  sum->wall_s = hant_now_s() - t0;
  sum->cpu_s = hant_cpu_s() - cpu0;
  sum->energy_j = hant_energy_joules(&em);
  sum->co2_g = hant_co2_grams(sum->energy_j, o->grid_g_per_kwh);
  snprintf(sum->energy_source, sizeof(sum->energy_source), "%s", em.source);
  if (record_run) {
    hant_store_now(run.finished);
    run.candidates = sum->trained;
    run.wall_seconds = sum->wall_s;
    run.cpu_seconds = sum->cpu_s;
    run.energy_j = sum->energy_j;
    run.co2_g = sum->co2_g;
    int rc2 = hant_store_run_update(st, &run);
    if (!rc)
      rc = rc2;
  }
  if (!rc) {
    ev.kind = HANT_DISTILL_EV_DONE;
    emit(o, &ev, t0);
  }
out_plan:
  for (int i = 0; specs && i < nslots; i++)
    free(specs[i]);
  free(specs);
  free(nspec);
out_free:
  free(slots);
  return rc;
}
