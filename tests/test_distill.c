/* SPDX-License-Identifier: MIT */
/* test_distill.c: candidate families fit their slots, teacher-derived inits are exact, distillation lowers the
 * loss, scores come from validation, and a resumed build equals an uninterrupted one. */
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "distill.h"
#include "family.h"
#include "gemm.h"
#include "hant.h"
#include "store.h"
#include "test_util.h"

static const char *ARCH = "input 1x28x28; conv 8 s=2; res 8; res 16 s=2; gap; linear 10";

/* A teacher with non-trivial BN statistics, folded. */
static hant_net *make_teacher_arch(const char *arch) {
  hant_net *t = hant_arch_build(arch, "teacher");
  hant_rng rng;
  hant_rng_seed(&rng, 5);
  hant_net_init_params(t, &rng);
  for (int i = 0; i < t->n_params; i++) {
    hant_param *p = &t->params[i];
    for (size_t j = 0; j < p->n; j++) {
      if (strstr(p->name, "gamma"))
        p->w[j] = 0.5f + hant_rng_uniform(&rng);
      else if (strstr(p->name, "beta") || strstr(p->name, "running_mean"))
        p->w[j] = 0.2f * hant_rng_normal(&rng);
      else if (strstr(p->name, "running_var"))
        p->w[j] = 0.5f + hant_rng_uniform(&rng);
    }
  }
  HANT_ASSERT(hant_teacher_prepare(t, "teacher") == 0);
  return t;
}

static hant_net *make_teacher(void) { return make_teacher_arch(ARCH); }

/* Max |teacher slot output - candidate output| over a random batch. */
static double slot_diff(hant_net *t, int slot, hant_net *c) {
  const hant_node *in = &t->nodes[0];
  int n = 3;
  size_t nx = (size_t)n * in->c * in->h * in->w;
  float *x = malloc(nx * sizeof(float));
  hant_rng rng;
  hant_rng_seed(&rng, 9);
  for (size_t i = 0; i < nx; i++)
    x[i] = hant_rng_uniform(&rng);
  hant_pass p, q;
  hant_pass_init(&p);
  hant_pass_init(&q);
  const hant_slot *s = &t->slots[slot];
  HANT_ASSERT(hant_net_forward_to(t, &p, x, n, s->last, false) == 0);
  HANT_ASSERT(hant_net_forward(c, &q, p.out[s->in], n, false) == 0);
  size_t ny = (size_t)n * s->out_c * s->out_h * s->out_w;
  double d = 0, scale = 0;
  for (size_t i = 0; i < ny; i++) {
    d = fmax(d, fabs(p.out[s->last][i] - q.out[hant_net_output(c)][i]));
    scale = fmax(scale, fabs(p.out[s->last][i]));
  }
  hant_pass_free(&p);
  hant_pass_free(&q);
  free(x);
  return d / (scale > 0 ? scale : 1);
}

static void test_families(hant_net *t) {
  int total = 0;
  for (int s = 0; s < t->n_slots; s++) {
    hant_cand_spec *specs;
    int n;
    int rc = hant_family_generate(t, s, (1u << HANT_FAMILY_COUNT) - 1, &specs, &n);
    CHECK(rc == 0 && n > 1, "slot %d: generate failed or empty: %s", s, hant_errmsg());
    bool seen[HANT_FAMILY_COUNT] = {0};
    for (int i = 0; i < n; i++) {
      hant_net *c = NULL;
      rc = hant_candidate_build(t, s, &specs[i], 42, &c);
      CHECK(rc == 0, "slot %d candidate '%s' (%s) does not build: %s", s, specs[i].key, specs[i].block, hant_errmsg());
      if (!rc) {
        const hant_node *o = &c->nodes[hant_net_output(c)];
        CHECK(o->c == t->slots[s].out_c && o->h == t->slots[s].out_h && o->w == t->slots[s].out_w,
              "slot %d candidate '%s' has the wrong output shape", s, specs[i].key);
        seen[specs[i].family] = true;
        /* ir ends in a ReLU exactly where the teacher's slot does. */
        const hant_node *tl = &t->nodes[t->slots[s].last];
        bool relu_end = tl->op == HANT_OP_ACT && tl->act == HANT_ACT_RELU;
        if (specs[i].family == HANT_FAMILY_IR)
          CHECK(relu_end == (strstr(specs[i].block, " post=relu") != NULL) &&
                    relu_end == (o->op == HANT_OP_ACT && o->act == HANT_ACT_RELU),
                "slot %d (%s) candidate '%s' is \"%s\"", s, t->slots[s].desc, specs[i].key, specs[i].block);
        /* Inits that preserve the teacher's function exactly. */
        if (specs[i].family == HANT_FAMILY_TEACHER)
          CHECK(slot_diff(t, s, c) < 1e-5, "slot %d: teacher copy differs by %g", s, slot_diff(t, s, c));
        if (specs[i].family == HANT_FAMILY_KERNEL && strstr(specs[i].key, "k=5"))
          CHECK(slot_diff(t, s, c) < 1e-5, "slot %d: zero-padded 5x5 kernel differs by %g", s, slot_diff(t, s, c));
      }
      hant_net_destroy(c);
    }
    total += n;
    /* Families that apply to a residual block all show up. */
    if (!strcmp(t->slots[s].kind, "res"))
      for (int f = 0; f < HANT_FAMILY_COUNT; f++)
        CHECK(seen[f] || (f == HANT_FAMILY_IDENTITY && t->slots[s].in_c != t->slots[s].out_c) ||
                  (f == HANT_FAMILY_WIDTH && t->slots[s].out_c <= 8), /* no multiple of 8 below 8 */
              "slot %d (res): family %s produced no candidate", s, hant_family_name(f));
    free(specs);
  }
  CHECK(total > 60, "only %d candidates over all slots", total);

  /* Full-rank SVD, all-channel slicing and pruning reproduce the teacher. */
  struct {
    int slot;
    const char *init, *block;
  } exact[] = {{1, "svd", "res 8 s=1 k=3 mid=8 r=24 bn=0"},
               {1, "slice", "res 8 s=1 k=3 mid=8 bn=0"},
               {1, "l1-prune", "res 8 s=1 k=3 mid=8 bn=0"},
               {0, "svd", "conv 8 k=3 s=2 r=3 bn=0"},
               {3, "svd", "linear 10 r=10"}};
  for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
    hant_cand_spec sp = {.family = HANT_FAMILY_LOWRANK};
    snprintf(sp.key, sizeof(sp.key), "exact %zu", i);
    snprintf(sp.init, sizeof(sp.init), "%s", exact[i].init);
    snprintf(sp.block, sizeof(sp.block), "%s", exact[i].block);
    hant_net *c = NULL;
    int rc = hant_candidate_build(t, exact[i].slot, &sp, 1, &c);
    CHECK(rc == 0, "%s: %s", exact[i].block, hant_errmsg());
    if (!rc)
      CHECK(slot_diff(t, exact[i].slot, c) < 1e-4, "%s (%s) differs from the teacher by %g", exact[i].block,
            exact[i].init, slot_diff(t, exact[i].slot, c));
    hant_net_destroy(c);
  }
}

/* Reads (key, score, loss, weights) of every candidate into a string for comparison. */
static char *dump(hant_store *st) {
  hant_cand_rec *c;
  int n;
  HANT_ASSERT(hant_store_candidates(st, -1, &c, &n) == 0);
  size_t cap = 1 << 20, len = 0;
  char *out = malloc(cap);
  out[0] = 0;
  for (int i = 0; i < n; i++) {
    uint8_t *w;
    size_t wl;
    HANT_ASSERT(hant_store_candidate_weights(st, c[i].id, &w, &wl) == 0);
    uint32_t h = 2166136261u;
    for (size_t j = 0; j < wl; j++)
      h = (h ^ w[j]) * 16777619u;
    free(w);
    len += snprintf(out + len, cap - len, "%lld|%s|%.9g|%.9g|%.9g|%08x\n", (long long)c[i].slot_id, c[i].key,
                    c[i].score, c[i].loss_init, c[i].loss_final, h);
  }
  free(c);
  return out;
}

/* Candidates of `x` missing from `y` (equal key, scores, losses and
 * weights); 0 when the libraries hold the same ones. Row order differs
 * (ids), so they are compared as sets of lines. */
static int same_candidates(hant_store *x, hant_store *y) {
  char *dx = dump(x), *dy = dump(y);
  int missing = strlen(dx) != strlen(dy);
  for (char *line = strtok(dx, "\n"); line; line = strtok(NULL, "\n"))
    missing += strstr(dy, line) == NULL;
  free(dx);
  free(dy);
  return missing;
}

/* Progress weighed by work: each committed candidate adds its slot's
 * work, and the build ends with all of it done. */
static struct {
  const hant_net *teacher;
  long images;
  double last;
  int candidates, bad;
  bool done_ok;
} progress;

static void on_progress(void *user, const hant_distill_event *e) {
  (void)user;
  if (e->kind == HANT_DISTILL_EV_SLOT && e->done == 0)
    progress.last = e->work_done;
  if (e->kind == HANT_DISTILL_EV_CANDIDATE) {
    double w = hant_distill_candidate_work(progress.teacher, e->slot, progress.images, 1, 3);
    progress.bad += fabs(e->work_done - progress.last - w) > 1e-9 * e->work_total;
    progress.last = e->work_done;
    progress.candidates++;
  }
  if (e->kind == HANT_DISTILL_EV_DONE)
    progress.done_ok = e->work_total > 0 && fabs(e->work_done - e->work_total) <= 1e-9 * e->work_total;
}

static int build(const char *db, hant_net *t, const hant_dataset *tr, const hant_dataset *va, const char *families,
                 int shard, int shards, int chunk, hant_store **out) {
  hant_store *st;
  int rc = hant_store_open(db, HANT_STORE_CREATE, &st);
  if (rc)
    return rc;
  if ((rc = hant_distill_register(st, "teacher.bin", "hant", t, va, NULL))) {
    hant_store_close(st);
    return rc;
  }
  hant_distill_opts o;
  hant_distill_opts_default(&o);
  HANT_ASSERT(hant_family_mask(families, &o.families) == 0);
  o.batch = 16; /* 128 steps: enough for random-init blocks to learn */
  o.lr_random = 1e-2f;
  o.jobs = 2;
  o.chunk = chunk;
  o.shard = shard;
  o.shards = shards;
  o.progress = on_progress;
  hant_distill_summary sum;
  rc = hant_distill_build(st, t, tr, va, &o, hant_distill_store_sink, st, &sum);
  *out = st;
  return rc;
}

int main(void) {
  hant_net *t = make_teacher();
  test_families(t);
  /* Candidate seeds are part of every library: the values the default
   * teacher's libraries were built with (build seed 1, slot1). */
  CHECK(hant_candidate_seed(1, 1, "dws k=3 act=relu") == 12428813170896053742ull &&
            hant_candidate_seed(1, 1, "teacher") == 16035917715011971704ull,
        "candidate seeds changed: %llu, %llu", (unsigned long long)hant_candidate_seed(1, 1, "dws k=3 act=relu"),
        (unsigned long long)hant_candidate_seed(1, 1, "teacher"));

  hant_dataset tr, va;
  if (hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_TRAIN, 2048, &tr) ||
      hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_VAL, 200, &va)) {
    CHECK(0, "Fashion-MNIST is needed: %s", hant_errmsg());
    return test_summary("test_distill");
  }
  /* The teacher file is hashed on registration: write one. */
  FILE *f = fopen("teacher.bin", "wb");
  fputs(ARCH, f);
  fclose(f);
  char dir[] = "/tmp/hant-distill-XXXXXX";
  HANT_ASSERT(mkdtemp(dir));
  char a[256], b[256];
  snprintf(a, sizeof(a), "%s/a.db", dir);
  snprintf(b, sizeof(b), "%s/b.db", dir);
  const char *fams = "kernel,lowrank,dws,prune";

  hant_store *sa = NULL, *sb = NULL;
  progress.teacher = t;
  progress.images = tr.n;
  int rc = build(a, t, &tr, &va, fams, 0, 1, 3, &sa);
  CHECK(rc == 0, "build: %s", hant_errmsg());
  CHECK(progress.candidates > 10 && progress.bad == 0 && progress.done_ok,
        "progress by work: %d candidates, %d with the wrong work, all done at the end %d", progress.candidates,
        progress.bad, progress.done_ok);
  /* Slots differ in work as they differ in MACs: an ETA by candidate
   * counts would be wrong. */
  double wmin = INFINITY, wmax = 0;
  for (int s = 0; s < t->n_slots; s++) {
    double w = hant_distill_candidate_work(t, s, tr.n, 1, 3);
    wmin = fmin(wmin, w), wmax = fmax(wmax, w);
  }
  CHECK(wmax > 1.5 * wmin, "slots' work should differ: %g to %g MACs", wmin, wmax);
  CHECK(hant_progress_eta_s(10, 1, 3) == 30 && hant_progress_eta_s(0.1, 1, 3) == 0 &&
            hant_progress_eta_s(10, 0, 3) == 0 && hant_progress_eta_s(10, 1, 0) == 0,
        "ETA: seconds per unit of work times the work left, 0 while unknown");
  hant_cand_rec *c;
  int n;
  hant_teacher_rec tr_rec;
  HANT_ASSERT(hant_store_teacher_get(sa, &tr_rec) == 0 && hant_store_candidates(sa, -1, &c, &n) == 0);
  CHECK(n > 10, "only %d candidates built", n);
  CHECK(tr_rec.val_images == 200 && strstr(tr_rec.val_split, "55000"), "teacher scored on '%s' (%d images)",
        tr_rec.val_split, tr_rec.val_images);
  for (int i = 0; i < n; i++) {
    if (!strcmp(c[i].key, "teacher")) {
      CHECK(c[i].score == 0.0, "teacher copy scores %g, expected exactly 0", c[i].score);
      CHECK(c[i].loss_final < 1e-6, "teacher copy drifted to loss %g", c[i].loss_final);
    } else if (c[i].loss_init < 1e-9) { /* exact inits (zero-padded kernels) stay exact */
      CHECK(c[i].loss_final < 1e-6, "candidate %s: exact init drifted to loss %g", c[i].key, c[i].loss_final);
    } else {
      CHECK(c[i].loss_final < c[i].loss_init, "candidate %s: distillation did not lower the loss (%g -> %g)", c[i].key,
            c[i].loss_init, c[i].loss_final);
    }
    CHECK(fabs(c[i].val_accuracy - tr_rec.val_accuracy - c[i].score) < 1e-12, "score is not val accuracy - teacher's");
  }
  free(c);

  /* Resume: a build split in two halves (shard 0 then the rest) equals one build. */
  rc = build(b, t, &tr, &va, fams, 0, 2, 3, &sb);
  CHECK(rc == 0, "half build: %s", hant_errmsg());
  hant_store_close(sb);
  rc = build(b, t, &tr, &va, fams, 0, 1, 3, &sb);
  CHECK(rc == 0, "resumed build: %s", hant_errmsg());
  int missing = same_candidates(sa, sb);
  CHECK(missing == 0, "%d candidates differ between the resumed and the uninterrupted build", missing);

  /* The chunk only decides which candidates share the teacher's passes:
   * the default (the whole slot at once here) trains the same weights as
   * chunks of 3. */
  hant_store *sc = NULL;
  snprintf(b, sizeof(b), "%s/c.db", dir);
  rc = build(b, t, &tr, &va, fams, 0, 1, 0, &sc);
  CHECK(rc == 0, "build with the default chunk: %s", hant_errmsg());
  missing = same_candidates(sa, sc);
  CHECK(missing == 0, "%d candidates differ between chunks of 3 and the default chunk", missing);
  hant_store_close(sc);
  hant_distill_opts co;
  hant_distill_opts_default(&co);
  co.jobs = 2;
  int full = hant_distill_chunk(t, 0, &co);
  CHECK(full == 32, "default chunk of a small teacher on 2 workers: %d, expected 16 per worker", full);
  co.batch = 1 << 30; /* activations far beyond any machine's memory */
  int tight = hant_distill_chunk(t, 0, &co);
  CHECK(tight == 2, "default chunk when memory is short: %d, expected one per worker", tight);
  co.chunk = 5;
  CHECK(hant_distill_chunk(t, 0, &co) == 5, "a chunk that is set is kept");
  bool ok;
  char msg[64];
  CHECK(hant_store_integrity(sb, &ok, msg, sizeof(msg)) == 0 && ok, "integrity: %s", msg);
  hant_store_close(sa);
  hant_store_close(sb);

  /* A foreign database and a non-database are refused. */
  char foreign[256];
  snprintf(foreign, sizeof(foreign), "%s/foreign.db", dir);
  FILE *ff = fopen(foreign, "wb");
  fputs("this is not sqlite at all, just some text that is long enough to look like a header......", ff);
  fclose(ff);
  hant_store *x = NULL;
  rc = hant_store_open(foreign, 0, &x);
  CHECK(rc == HANT_EFORMAT && strstr(hant_errmsg(), "not a hant library"), "garbage file: %d %s", rc, hant_errmsg());
  hant_store_close(x);

  hant_dataset_free(&tr);
  hant_dataset_free(&va);
  hant_net_destroy(t);
  unlink("teacher.bin");
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  return test_summary("test_distill");
}
