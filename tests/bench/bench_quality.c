/* SPDX-License-Identifier: MIT */
/* bench_quality.c: hant's headline result: accuracy kept at 1/2, 1/4 and 1/8 of the teacher's energy and latency on several devices, against uniform width, random and greedy baselines. */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "baseline.h"
#include "costmodel.h"
#include "dataset.h"
#include "deploy.h"
#include "family.h"
#include "finetune.h"
#include "fnv.h"
#include "kernels.h"
#include "hant.h"
#include "jsonw.h"
#include "library.h"
#include "quant.h"
#include "store.h"
#include "train.h"
#include "transform_solve.h"

/*
 * For every device D, budget kind K (energy, latency) and divisor f, the
 * budget is the teacher's own cost on D divided by f (the teacher being
 * the library's teacher-copy candidate in every slot, in D's first power
 * mode, which every method then uses). Four methods choose a network
 * within it:
 *
 *   hant     the exact selection (hant_transform_solve), the product path
 *   uniform  the teacher with every width scaled by one factor, the
 *            widest that fits, weights sliced from the teacher keeping
 *            the channels of largest L1 norm (as the prune family)
 *   random   the best, by predicted accuracy, of R random feasible
 *            selections from the library
 *   greedy   upgrades by score gained per cost added
 *
 * Each chosen network is evaluated on the test split as assembled, and
 * after E epochs of the same KD fine-tuning (finetune.h defaults) for
 * every E asked, each run starting again from the assembled weights.
 * E may be "auto": as many epochs as `transform --finetune auto` gives
 * the network (hant_finetune_auto_epochs of its float32 validation
 * accuracy as assembled below the teacher's, both on the validation split).
 * Predicted accuracy is the teacher's validation accuracy plus the summed
 * validation-split scores; nothing is chosen on the test split. Results
 * are cached by network, since budgets and devices often share choices.
 *
 * The summary's "-0.33 ± 0.09" is hant's accuracy minus the teacher's, in
 * points, ± the paired standard error of that difference: both networks
 * classify the same images, so of the b images only the teacher gets right
 * and the c only hant's network does, the difference is (c - b) / n and
 * its standard error sqrt((b + c) - (b - c)^2 / n) / n (the per-image
 * differences' standard deviation over sqrt(n)). A loss within about two
 * of them of zero is within what the evaluation split can resolve. The
 * JSON gives b, c and the error for every network (paired_vs_teacher).
 *
 * With --precision int8 (issue 19; devices whose profile computes in int8)
 * every network, the teacher's included, is measured as the device runs
 * it: after the same fp32 fine-tuning (or as assembled), quantised as
 * `transform --out` does (deploy.c): hant_quantise calibrating on the
 * fine-tuning images (the whole training split with --no-train), the
 * calibration method chosen by int8 accuracy on the validation split,
 * then its int8 accuracy (hant_qnet_accuracy) on the evaluation split.
 * The teacher row and every point lost are the int8 teacher's; the fp32
 * accuracy of each network is printed beside its int8 one. hant, random
 * and greedy all choose on the library's int8 scores (hant-distill
 * quantize), and the bench refuses a device whose costed candidates lack
 * them rather than comparing fp32 choices. --qat makes the fine-tuning
 * quantisation-aware (finetune.h), as transform --out fine-tunes for an
 * int8 device; without it the fine-tuning is fp32 and the quantisation
 * post-training only.
 */

#define MAX_EPOCHS 4
/* --choose-finetuned's choices: the K best by prediction and --choose-also's two */
#define MAX_ALTS (HANT_TRANSFORM_RERANK_K_MAX + 2)
#define N_METHODS 4
static const char *const method_names[N_METHODS] = {"hant", "uniform", "random", "greedy"};

typedef struct evalrec {
  char key[640];
  double acc0;
  double acc[MAX_EPOCHS];
  double ft_s[MAX_EPOCHS];
  int ft_epochs[MAX_EPOCHS]; /* the epochs run: epochs[k], or what "auto" chose */
  double auto_loss;          /* auto: points of validation accuracy below the teacher as assembled; NAN without */
  int min_auto;              /* auto: at least this many epochs (a baseline gets hant's at its budget); 0: none */
  /* With --precision int8, acc0 and acc are int8 accuracies and these the
   * same networks' fp32 ones; NAN otherwise. */
  double acc0_fp32;
  double acc_fp32[MAX_EPOCHS];
  /* Against the teacher on the same evaluation images, column 0 as
   * assembled and 1 + k after fine-tuning k: the images only the teacher
   * classifies right (b) and only this network does (c); -1 when unknown
   * (int8, or a resume line written before they were kept). */
  int pair_b[1 + MAX_EPOCHS], pair_c[1 + MAX_EPOCHS];
  /* With --choose-finetuned, the accuracy after fine-tuning k on the
   * validation split, in the bench's precision, which hant chooses by;
   * NAN otherwise. */
  double val_ft[MAX_EPOCHS];
} evalrec;

typedef struct sel {
  bool ok;
  char why[200];
  int *choice;      /* [n_slots] indices into lib->cands (library methods) */
  double width;     /* uniform */
  double predicted; /* NAN for uniform */
  double objective; /* what hant maximises (noise-aware or calibrated values); NAN for uniform */
  double energy_mj, latency_ms;
  double search_ms;
  int eval; /* index into ctx.evals, -1 when not evaluated */
  /* hant with --choose-finetuned: the K best choices by prediction, best
   * first, then those --choose-also adds, from which choice (alt[chosen])
   * was chosen after fine-tuning; alt_source says where each came from. */
  int n_alt, chosen;
  int *alt[MAX_ALTS];
  double alt_predicted[MAX_ALTS];
  double alt_energy_mj[MAX_ALTS], alt_latency_ms[MAX_ALTS];
  int alt_eval[MAX_ALTS];
  char alt_source[MAX_ALTS][24];
} sel;

typedef struct ctx {
  hant_store *st;
  hant_library *lib;
  hant_net *teacher;
  hant_dataset train, test;
  int epochs[MAX_EPOCHS], n_epochs;
  bool train_nets;
  uint64_t seed;
  bool int8;             /* --precision int8: networks measured quantised */
  const hant_dataset *calib; /* int8: the images activation ranges are calibrated on */
  hant_dataset calib_own, val; /* int8: the whole training split (--no-train); int8 or auto epochs: the validation split */
  double teacher_val;    /* auto epochs: the float32 teacher's accuracy on val */
  hant_finetune_opts ft; /* the recipe every method's network is fine-tuned with */
  int rerank_k;          /* hant's measured re-ranking: the k best choices by prediction, the best on */
  int rerank_images;     /* ... this many validation images answers (k <= 1: the predicted optimum) */
  int choose_ft_k;       /* hant: fine-tune the K best choices by prediction and keep the best on validation */
  bool choose_greedy;    /* ... and greedy's choice at the budget */
  bool choose_other;     /* ... and hant's at the same divisor of the other budget kind, when it fits */
  /* The teacher's per-image marks on test (1 right, 0 wrong), which every
   * network's are paired with, and room for a network's; in int8 both are
   * the int8 networks' marks. */
  unsigned char *teacher_right, *marks;
  FILE *resume;          /* finished networks are appended here, when resuming */
  const char *resume_path; /* its name, which each fine-tuning's checkpoint extends */
  char setup[512];       /* what a finished network's figures depend on besides the network */
  evalrec *evals;
  int n_evals, cap_evals;
} ctx;

static void die(const char *what) {
  fprintf(stderr, "bench_quality: %s: %s\n", what, hant_errmsg());
  exit(1);
}

static int split_list(char *s, char **out, int max) {
  int n = 0;
  for (char *save = NULL, *t = strtok_r(s, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
    out[n++] = t;
  return n;
}

/* ---- costs --------------------------------------------------------------- */

typedef struct devctx {
  const hant_library_device *dev;
  const hant_library_mode *mode;
  int profile_mode; /* index into dev->profile's modes, -1 without modes */
  /* The library the baselines choose from: the library itself, or with
   * --precision int8 its int8 view (hant_library_int8_view) */
  const hant_library *lib;
  double factor, overhead_ms;
  /* Modelled costs of the uniform widths ch / base, ch = 1..base, filled on
   * first use and shared by every budget on the device. */
  int n_uniform;
  double uniform_e[257], uniform_t[257];
} devctx;

static double cand_cost(const devctx *d, int c, hant_budget_kind k) {
  return k == HANT_BUDGET_ENERGY ? d->mode->energy_mj[c] : d->factor * d->mode->latency_ms[c];
}

static double overhead(const devctx *d, hant_budget_kind k) { return k == HANT_BUDGET_LATENCY ? d->overhead_ms : 0; }

/* Modelled cost of the uniformly narrowed teacher: each slot costed on its
 * own, as the library's candidates are, then summed and corrected alike. */
static int uniform_cost(const ctx *c, const devctx *d, double width, double *energy_mj, double *latency_ms) {
  hant_net *net;
  int rc = hant_baseline_uniform(c->teacher, width, HANT_UNIFORM_L1, &net);
  if (rc)
    return rc;
  double e = 0, t = 0;
  for (int s = 0; s < net->n_slots && !rc; s++) {
    const hant_slot *sl = &net->slots[s];
    char arch[320];
    snprintf(arch, sizeof(arch), "input %dx%dx%d; %s", sl->in_c, sl->in_h, sl->in_w, sl->desc);
    hant_net *one = hant_arch_build(arch, "uniform slot");
    hant_cost_estimate est;
    if (!one || (rc = hant_costmodel_net(d->dev->profile, d->profile_mode, one, 1, &est))) {
      rc = rc ? rc : hant__error(HANT_EINVAL, "uniform slot '%s' does not build", sl->desc);
      hant_net_destroy(one);
      break;
    }
    e += est.energy_mj;
    t += est.latency_ms;
    hant_net_destroy(one);
  }
  hant_net_destroy(net);
  *energy_mj = e;
  *latency_ms = d->factor * t + d->overhead_ms;
  return rc;
}

/* ---- evaluation ---------------------------------------------------------- */

static int build_net(ctx *c, const int *choice, double width, hant_net **net) {
  if (!choice)
    return hant_baseline_uniform(c->teacher, width, HANT_UNIFORM_L1, net);
  int64_t ids[64];
  for (int s = 0; s < c->lib->n_slots; s++)
    ids[s] = c->lib->cands[choice[s]].id;
  return hant_deploy_assemble(c->st, c->teacher, ids, c->lib->n_slots, net);
}

static void key_of(const ctx *c, const int *choice, double width, char *key, size_t n) {
  if (!choice) {
    snprintf(key, n, "uniform width %.4f", width);
    return;
  }
  size_t o = (size_t)snprintf(key, n, "ids");
  for (int s = 0; s < c->lib->n_slots && o < n; s++)
    o += (size_t)snprintf(key + o, n - o, "%c%lld", s ? ',' : ' ', (long long)c->lib->cands[choice[s]].id);
}

/* Evaluates a network once; later requests for the same network reuse it. */
/* How a network was quantised: the calibration method chosen and its int8
 * accuracy on the validation images that chose it. */
typedef struct qinfo {
  hant_qcalib calib;
  double val_accuracy;
} qinfo;

/* Accuracy of net on ds (the evaluation split, or validation for
 * --choose-finetuned) as the bench's precision runs it; *acc_fp32 gets the
 * float32 accuracy (also *acc for fp32), and right (may be NULL) the
 * per-image marks of *acc. In int8 net is quantised as deploy.c's
 * quantise() does it, which folds its batch norms (its output is
 * unchanged), and qi (may be NULL) says how. */
static int measure_on(ctx *c, hant_net *net, const hant_dataset *ds, double *acc, double *acc_fp32, qinfo *qi,
                      unsigned char *right) {
  double loss;
  int rc = hant_eval_classifier_marks(net, ds, 250, c->int8 ? NULL : right, acc_fp32, &loss);
  *acc = *acc_fp32;
  if (rc || !c->int8)
    return rc;
  hant_quant_opts qo = {.choose = true};
  hant_qnet *q = NULL;
  if (!(rc = hant_quantise(net, c->calib, &c->val, &qo, &q)))
    rc = hant_qnet_accuracy_marks(q, ds, 128, right, acc);
  if (!rc && qi)
    *qi = (qinfo){q->calib, q->val_accuracy};
  hant_qnet_destroy(q);
  return rc;
}

static int measure(ctx *c, hant_net *net, double *acc, double *acc_fp32, qinfo *qi, unsigned char *right) {
  return measure_on(c, net, &c->test, acc, acc_fp32, qi, right);
}

/* The paired counts of column col from c->marks, when the teacher's are
 * known: b, images only the teacher gets right, and c, only the network. */
static void pair_count(const ctx *c, evalrec *e, int col) {
  e->pair_b[col] = e->pair_c[col] = -1;
  if (!c->teacher_right)
    return;
  int only_teacher = 0, only_net = 0;
  for (int i = 0; i < c->test.n; i++) {
    only_teacher += c->teacher_right[i] && !c->marks[i];
    only_net += !c->teacher_right[i] && c->marks[i];
  }
  e->pair_b[col] = only_teacher;
  e->pair_c[col] = only_net;
}

/* Whether evaluation e ran the epochs a floor of min_auto asks: the same,
 * or for "auto" columns the same count once the floor is applied (a
 * baseline that picked hant's own network reuses hant's run). */
static bool same_schedule(const ctx *c, const evalrec *e, int min_auto) {
  if (e->min_auto == min_auto)
    return true;
  for (int k = 0; k < c->n_epochs; k++)
    if (c->epochs[k] == HANT_FINETUNE_EPOCHS_AUTO && c->train_nets) {
      int rule = isnan(e->auto_loss) ? -1 : hant_finetune_auto_epochs(e->auto_loss);
      if (rule < 0 || (rule > min_auto ? rule : min_auto) != e->ft_epochs[k])
        return false;
    }
  return true;
}

/* The checkpoint a fine-tuning of `epochs` epochs of network `key` keeps
 * beside the resume file, so that a killed run resumes it at the epoch it
 * reached: RESUME.ckpt-<FNV-1a 64 of "setup TAB key TAB epochs">, one name
 * per run, the same in every session with the same settings. */
static void checkpoint_path(const ctx *c, const char *key, int epochs, char *buf, size_t n) {
  char ep[16];
  snprintf(ep, sizeof(ep), "%d", epochs);
  const char *parts[] = {c->setup, "\t", key, "\t", ep};
  uint64_t h = HANT_FNV_BASIS;
  for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
    h = hant_fnv_str(h, parts[i]);
  if (snprintf(buf, n, "%s.ckpt-%016llx", c->resume_path, (unsigned long long)h) >= (int)n) {
    fprintf(stderr, "bench_quality: --resume %s: the name is too long for its checkpoints\n", c->resume_path);
    exit(1);
  }
}

/* With "auto" epochs a network gets at least min_auto of them (0: as the
 * rule gives), so that a baseline is never fine-tuned for fewer epochs than
 * hant's network at the same budget: the same network with another floor
 * is another evaluation. */
static int evaluate(ctx *c, const int *choice, double width, const char *label, int min_auto) {
  char key[640];
  key_of(c, choice, width, key, sizeof(key));
  for (int i = 0; i < c->n_evals; i++)
    if (!strcmp(c->evals[i].key, key) && same_schedule(c, &c->evals[i], min_auto))
      return i;
  if (c->n_evals == c->cap_evals) {
    c->cap_evals = c->cap_evals ? 2 * c->cap_evals : 32;
    c->evals = realloc(c->evals, sizeof(evalrec) * (size_t)c->cap_evals);
    if (!c->evals)
      die("out of memory");
  }
  evalrec *e = &c->evals[c->n_evals];
  memset(e, 0, sizeof(*e));
  snprintf(e->key, sizeof(e->key), "%s", key);
  e->min_auto = min_auto;
  hant_net *net;
  e->acc0_fp32 = NAN;
  e->auto_loss = NAN;
  if (build_net(c, choice, width, &net) || measure(c, net, &e->acc0, &e->acc0_fp32, NULL, c->marks))
    die(label);
  hant_net_destroy(net);
  pair_count(c, e, 0);
  fprintf(stderr, "  %s: assembled %.4f", label, e->acc0);
  if (c->int8)
    fprintf(stderr, " (fp32 %.4f)", e->acc0_fp32);
  for (int k = 0; k < c->n_epochs; k++) {
    e->acc[k] = NAN;
    e->acc_fp32[k] = NAN;
    e->pair_b[1 + k] = e->pair_c[1 + k] = -1;
    e->val_ft[k] = NAN;
    e->ft_epochs[k] = c->epochs[k];
    if (!c->train_nets)
      continue;
    if (build_net(c, choice, width, &net))
      die(label);
    if (c->epochs[k] == HANT_FINETUNE_EPOCHS_AUTO) {
      double val_acc, val_loss;
      if (isnan(e->auto_loss)) {
        if (hant_eval_classifier(net, &c->val, 250, &val_acc, &val_loss))
          die(label);
        e->auto_loss = 100 * (c->teacher_val - val_acc);
        fprintf(stderr, ", %.2f points below the teacher on validation", e->auto_loss);
      }
      e->ft_epochs[k] = hant_finetune_auto_epochs(e->auto_loss);
      if (e->ft_epochs[k] < min_auto)
        e->ft_epochs[k] = min_auto;
    }
    hant_finetune_opts fo = c->ft;
    fo.epochs = e->ft_epochs[k];
    fo.seed = c->seed;
    char ckpt[4200];
    bool resumed = false;
    if (c->resume) {
      checkpoint_path(c, e->key, fo.epochs, ckpt, sizeof(ckpt));
      fo.checkpoint = ckpt;
      resumed = access(ckpt, F_OK) == 0;
    }
    hant_train_result tr;
    double t0 = hant_now_s();
    /* quantisation-aware fine-tuning calibrates as measure() will */
    if (hant_finetune_kd(net, c->teacher, &c->train, fo.qat ? &c->val : NULL, &fo, &tr))
      die(label);
    e->ft_s[k] = hant_now_s() - t0 + tr.seconds_resumed; /* the epochs run before resuming too */
    if (measure(c, net, &e->acc[k], &e->acc_fp32[k], NULL, c->marks))
      die(label);
    /* validation after fine-tuning: what --choose-finetuned chooses by, and
     * what a schedule is chosen by (the test split only reports) */
    double val_fp32;
    if (measure_on(c, net, &c->val, &e->val_ft[k], &val_fp32, NULL, NULL))
      die(label);
    hant_net_destroy(net);
    pair_count(c, e, 1 + k);
    if (resumed)
      fprintf(stderr, ", %d ep %.4f (%.0f s, %.0f s of them before resuming at an epoch's checkpoint)",
              e->ft_epochs[k], e->acc[k], e->ft_s[k], tr.seconds_resumed);
    else
      fprintf(stderr, ", %d ep %.4f (%.0f s)", e->ft_epochs[k], e->acc[k], e->ft_s[k]);
    if (!isnan(e->val_ft[k]))
      fprintf(stderr, " (validation %.4f)", e->val_ft[k]);
    if (c->int8)
      fprintf(stderr, " (fp32 %.4f)", e->acc_fp32[k]);
  }
  fprintf(stderr, "\n");
  if (c->resume) {
    fprintf(c->resume, "%s\t%s", c->setup, e->key);
    if (e->min_auto > 0)
      fprintf(c->resume, " auto>=%d", e->min_auto);
    fprintf(c->resume, "\t%.17g", e->acc0);
    for (int k = 0; k < c->n_epochs; k++) {
      fprintf(c->resume, "\t%.17g\t%.17g", e->acc[k], e->ft_s[k]);
      if (c->epochs[k] == HANT_FINETUNE_EPOCHS_AUTO)
        fprintf(c->resume, "\t%d\t%.17g", e->ft_epochs[k], e->auto_loss);
    }
    if (c->int8) {
      fprintf(c->resume, "\t%.17g", e->acc0_fp32);
      for (int k = 0; k < c->n_epochs; k++)
        fprintf(c->resume, "\t%.17g", e->acc_fp32[k]);
    }
    if (c->teacher_right) {
      fprintf(c->resume, "\tpaired");
      for (int k = 0; k <= c->n_epochs; k++)
        fprintf(c->resume, "\t%d\t%d", e->pair_b[k], e->pair_c[k]);
    }
    if (c->train_nets && c->n_epochs > 0) {
      fprintf(c->resume, "\tval");
      for (int k = 0; k < c->n_epochs; k++)
        fprintf(c->resume, "\t%.17g", e->val_ft[k]);
    }
    fprintf(c->resume, "\n");
    fflush(c->resume);
    /* the line holds the figures now: the fine-tunings' checkpoints are spent */
    for (int k = 0; k < c->n_epochs && c->train_nets; k++) {
      char ckpt[4200];
      checkpoint_path(c, e->key, e->ft_epochs[k], ckpt, sizeof(ckpt));
      if (hant_finetune_checkpoint_remove(ckpt))
        fprintf(stderr, "bench_quality: warning: %s\n", hant_errmsg());
    }
  }
  return c->n_evals++;
}

/* Networks a killed run already evaluated with the same setup: lines
 * "setup <TAB> key <TAB> assembled accuracy (<TAB> accuracy <TAB> seconds)
 * per fine-tuning length" (and for "auto" the epochs it chose and the
 * validation loss it chose them by), then with --precision int8 (whose setup says
 * so) the fp32 accuracies: assembled, then per fine-tuning length, then
 * "paired" and b and c against the teacher, assembled then per
 * fine-tuning length (lines of earlier runs end before it: their standard
 * errors are unknown). Lines of other setups are kept but not used. */
static void resume_load(ctx *c, const char *path) {
  FILE *f = fopen(path, "r");
  if (f) {
    /* a 64-slot key alone may take 640 characters */
    char line[4096];
    int used = 0;
    while (fgets(line, sizeof(line), f)) {
      line[strcspn(line, "\n")] = '\0';
      char *save = NULL, *setup = strtok_r(line, "\t", &save), *key = strtok_r(NULL, "\t", &save);
      if (!setup || !key || strcmp(setup, c->setup))
        continue;
      if (c->n_evals == c->cap_evals) {
        c->cap_evals = c->cap_evals ? 2 * c->cap_evals : 32;
        if (!(c->evals = realloc(c->evals, sizeof(evalrec) * (size_t)c->cap_evals)))
          die("out of memory");
      }
      evalrec *e = &c->evals[c->n_evals];
      memset(e, 0, sizeof(*e));
      /* a floor of auto epochs is kept after the network's key */
      char *floor = strstr(key, " auto>=");
      e->min_auto = floor ? atoi(floor + 7) : 0;
      if (floor)
        *floor = '\0';
      snprintf(e->key, sizeof(e->key), "%s", key);
      e->auto_loss = NAN;
      char *t = strtok_r(NULL, "\t", &save);
      bool ok = t != NULL;
      e->acc0 = t ? strtod(t, NULL) : NAN;
      for (int k = 0; k < c->n_epochs && ok; k++) {
        char *a = strtok_r(NULL, "\t", &save), *sec = strtok_r(NULL, "\t", &save);
        ok = a && sec;
        e->acc[k] = ok ? strtod(a, NULL) : NAN;
        e->ft_s[k] = ok ? strtod(sec, NULL) : NAN;
        e->ft_epochs[k] = c->epochs[k];
        if (ok && c->epochs[k] == HANT_FINETUNE_EPOCHS_AUTO) {
          char *ep = strtok_r(NULL, "\t", &save), *lo = strtok_r(NULL, "\t", &save);
          ok = ep && lo && (e->ft_epochs[k] = atoi(ep)) > 0;
          e->auto_loss = ok ? strtod(lo, NULL) : NAN;
        }
      }
      e->acc0_fp32 = NAN;
      for (int k = 0; k < c->n_epochs; k++)
        e->acc_fp32[k] = NAN;
      for (int k = -1; k < c->n_epochs && ok && c->int8; k++) {
        char *a = strtok_r(NULL, "\t", &save);
        ok = a != NULL;
        *(k < 0 ? &e->acc0_fp32 : &e->acc_fp32[k]) = ok ? strtod(a, NULL) : NAN;
      }
      for (int k = 0; k <= c->n_epochs; k++)
        e->pair_b[k] = e->pair_c[k] = -1;
      char *p = ok ? strtok_r(NULL, "\t", &save) : NULL;
      if (p && !strcmp(p, "paired")) {
        for (int k = 0; k <= c->n_epochs && ok; k++) {
          char *b = strtok_r(NULL, "\t", &save), *cc = strtok_r(NULL, "\t", &save);
          ok = b && cc && (e->pair_b[k] = atoi(b)) >= 0 && (e->pair_c[k] = atoi(cc)) >= 0;
        }
        p = ok ? strtok_r(NULL, "\t", &save) : NULL;
      }
      for (int k = 0; k < c->n_epochs; k++)
        e->val_ft[k] = NAN;
      if (p && !strcmp(p, "val"))
        for (int k = 0; k < c->n_epochs && ok; k++) {
          char *v = strtok_r(NULL, "\t", &save);
          ok = v != NULL;
          e->val_ft[k] = ok ? strtod(v, NULL) : NAN;
        }
      /* choosing after fine-tuning needs the validation accuracies */
      for (int k = 0; k < c->n_epochs && ok && c->choose_ft_k > 1; k++)
        ok = !isnan(e->val_ft[k]);
      if (ok)
        c->n_evals++, used++;
    }
    fclose(f);
    fprintf(stderr, "bench_quality: %d networks already evaluated in %s\n", used, path);
  }
  if (!(c->resume = fopen(path, "a")))
    die(path);
}

/* ---- the methods ----------------------------------------------------------- */

/* The library problem on one device and budget kind: items are candidates
 * costed there, in slot order. */
typedef struct libprob {
  struct hant_select_problem p;
  size_t *gsize;
  double *value, *cost;
  int *item; /* item -> lib->cands index */
  double budget;
} libprob;

static void libprob_build(const devctx *d, hant_budget_kind k, double budget, libprob *lp) {
  const hant_library *lib = d->lib;
  memset(lp, 0, sizeof(*lp));
  lp->gsize = calloc((size_t)lib->n_slots, sizeof(size_t));
  lp->value = malloc(sizeof(double) * (size_t)lib->n_cands);
  lp->cost = malloc(sizeof(double) * (size_t)lib->n_cands);
  lp->item = malloc(sizeof(int) * (size_t)lib->n_cands);
  if (!lp->gsize || !lp->value || !lp->cost || !lp->item)
    die("out of memory");
  size_t n = 0;
  for (int s = 0; s < lib->n_slots; s++)
    for (int j = 0; j < lib->slot_count[s]; j++) {
      int ci = lib->slot_first[s] + j;
      if (!d->mode->has[ci])
        continue;
      lp->item[n] = ci;
      /* The baselines maximise the values hant does, so that the comparison
       * is of search methods: the calibrated coefficients when the library
       * has a fit as its objective, else the divergences' or noise-aware
       * scores' values (hant_transform_cand_value). */
      lp->value[n] = lib->calib_objective ? lib->calib_coef[ci]
                                          : hant_transform_cand_value(lib, ci, hant_transform_noise_se(lib));
      lp->cost[n] = cand_cost(d, ci, k);
      lp->gsize[s]++;
      n++;
    }
  /* The latency correction's overhead is fixed: it comes off the budget. */
  lp->budget = budget - overhead(d, k);
  lp->p.n_groups = (size_t)lib->n_slots;
  lp->p.group_size = lp->gsize;
  lp->p.n_dims = 1;
  lp->p.value = lp->value;
  lp->p.cost = lp->cost;
  lp->p.budget = &lp->budget;
}

static void libprob_free(libprob *lp) {
  free(lp->gsize);
  free(lp->value);
  free(lp->cost);
  free(lp->item);
}

/* Fills a library selection's figures from its per-group item choice. */
static void sel_from_items(const devctx *d, const libprob *lp, const size_t *items, sel *s) {
  const hant_library *lib = d->lib;
  s->choice = malloc(sizeof(int) * (size_t)lib->n_slots);
  if (!s->choice)
    die("out of memory");
  size_t o = 0;
  double score = 0, objective = 0;
  s->energy_mj = 0;
  s->latency_ms = d->overhead_ms;
  for (int g = 0; g < lib->n_slots; g++) {
    int ci = lp->item[o + items[g]];
    s->choice[g] = ci;
    score += lib->cands[ci].score;
    objective += lp->value[o + items[g]];
    s->energy_mj += cand_cost(d, ci, HANT_BUDGET_ENERGY);
    s->latency_ms += cand_cost(d, ci, HANT_BUDGET_LATENCY);
    o += lp->gsize[g];
  }
  (void)score;
  s->predicted = hant_transform_predicted(lib, s->choice);
  s->objective = objective;
  s->ok = true;
}

/* Appends a copy of a choice to s's choices for --choose-finetuned. */
static void push_alt(sel *s, int n_slots, const int *choice, double predicted, double energy_mj, double latency_ms,
                     const char *source) {
  int a = s->n_alt++;
  if (!(s->alt[a] = malloc(sizeof(int) * (size_t)n_slots)))
    die("out of memory");
  memcpy(s->alt[a], choice, sizeof(int) * (size_t)n_slots);
  s->alt_predicted[a] = predicted;
  s->alt_energy_mj[a] = energy_mj;
  s->alt_latency_ms[a] = latency_ms;
  snprintf(s->alt_source[a], sizeof(s->alt_source[a]), "%s", source);
}

/* --choose-finetuned only needs re-ranking's list of the best choices by
 * prediction, not their accuracies as assembled: every one "measures" the
 * same, so the list keeps its order and the answer stays the predicted
 * optimum, and nothing is assembled. */
static int unmeasured(void *user, const int *choice, int n_slots, int images, bool int8, double *accuracy) {
  (void)user, (void)choice, (void)n_slots, (void)images, (void)int8;
  *accuracy = 0;
  return 0;
}

static void run_hant(const ctx *c, const devctx *d, hant_budget_kind k, double budget, sel *s) {
  /* --choose-finetuned draws its K from the 32 best, see below */
  int rerank = c->choose_ft_k > 1 ? HANT_TRANSFORM_RERANK_K_MAX : c->rerank_k;
  hant_transform_req req;
  hant_transform_req_init(&req);
  snprintf(req.device, sizeof(req.device), "%s", d->dev->name);
  snprintf(req.power_mode, sizeof(req.power_mode), "%s", d->mode->name);
  hant_budget b = {.kind = k, .value = budget};
  hant_transform_req_add_budget(&req, &b);
  hant_deploy_measurer measurer = {c->lib, c->st};
  if (rerank > 1) {
    req.rerank_k = rerank;
    req.rerank_images = c->rerank_images;
    req.accuracy = c->choose_ft_k > 1 ? unmeasured : hant_deploy_accuracy_choice;
    req.accuracy_user = &measurer;
  }
  hant_transform_result res;
  hant_transform_result_init(&res);
  double t0 = hant_now_s();
  if (hant_transform_solve(c->lib, &req, &res))
    die("hant selection");
  s->search_ms = 1e3 * (hant_now_s() - t0);
  /* The product path decides the scores' precision itself; an int8 bench
   * comparing fp32-chosen networks would measure something else. */
  if (c->int8 && strcmp(res.scores_precision, "int8")) {
    fprintf(stderr, "bench_quality: hant's selection on %s used %s scores (%d costed candidates without an int8 "
                    "score)\n", d->dev->name, res.scores_precision, res.int8_missing);
    exit(1);
  }
  /* Nor does an fp32 bench compare a network chosen by int8 scores (an
   * int8 device of a library with them) with baselines chosen by fp32 ones. */
  if (!c->int8 && !strcmp(res.scores_precision, "int8")) {
    fprintf(stderr, "bench_quality: %s computes in int8 and the library has int8 scores, so hant chooses by them: "
                    "run with --precision int8, or on a copy of the library without them\n", d->dev->name);
    exit(1);
  }
  if (!res.has_choice) {
    snprintf(s->why, sizeof(s->why), "%s", hant_select_status_name(res.status));
  } else {
    s->ok = true;
    s->choice = malloc(sizeof(int) * (size_t)res.n_slots);
    if (!s->choice)
      die("out of memory");
    memcpy(s->choice, res.choice, sizeof(int) * (size_t)res.n_slots);
    s->predicted = res.predicted_accuracy;
    s->objective = res.objective;
    s->energy_mj = res.totals.energy_mj;
    s->latency_ms = res.totals.latency_ms;
    if (res.status != HANT_SELECT_OPTIMAL)
      snprintf(s->why, sizeof(s->why), "%s, gap %.2g", hant_select_status_name(res.status), res.gap);
    /* --choose-finetuned: the K best by prediction, best first, each
     * differing from every better one kept in at least two slots (the
     * next best often only swaps one near-free slot's candidate for an
     * equal one); the fine-tuning chooses among them (choose_finetuned). */
    for (int i = 0; c->choose_ft_k > 1 && i < res.n_ranked && s->n_alt < c->choose_ft_k; i++) {
      const hant_transform_ranked *r = &res.ranked[i];
      bool near = false;
      for (int j = 0; j < s->n_alt && !near; j++) {
        int diff = 0;
        for (int t = 0; t < res.n_slots; t++)
          diff += s->alt[j][t] != r->choice[t];
        near = diff < 2;
      }
      if (near)
        continue;
      char src[24];
      snprintf(src, sizeof(src), "prediction %d", i + 1);
      push_alt(s, res.n_slots, r->choice, r->predicted_accuracy, r->totals.energy_mj, r->totals.latency_ms, src);
    }
  }
  hant_transform_result_free(&res);
}

/* --choose-also: adds another method's choice o (from source) to hant's
 * choices, unless it is one of them already. */
static void add_alt(const ctx *c, sel *s, const sel *o, const char *source) {
  if (!s->ok || !o->ok || !o->choice || s->n_alt >= MAX_ALTS)
    return;
  size_t bytes = sizeof(int) * (size_t)c->lib->n_slots;
  for (int j = 0; j < s->n_alt; j++)
    if (!memcmp(s->alt[j], o->choice, bytes)) {
      fprintf(stderr, "  %s's choice is hant's choice %d\n", source, j + 1);
      return;
    }
  push_alt(s, c->lib->n_slots, o->choice, o->predicted, o->energy_mj, o->latency_ms, source);
}

/* --choose-finetuned: fine-tunes each of hant's K best choices by
 * prediction with the bench's schedule and makes the one with the best
 * validation accuracy after it hant's network (a tie keeps the better
 * predicted); the test split only reports. */
static void choose_finetuned(ctx *c, sel *s, const char *label) {
  if (!s->ok || s->n_alt < 1)
    return;
  int best = -1;
  for (int i = 0; i < s->n_alt; i++) {
    char l[192];
    snprintf(l, sizeof(l), "%s choice %d of %d (%s)", label, i + 1, s->n_alt, s->alt_source[i]);
    s->alt_eval[i] = evaluate(c, s->alt[i], 0, l, 0);
    if (best < 0 || c->evals[s->alt_eval[i]].val_ft[0] > c->evals[s->alt_eval[best]].val_ft[0])
      best = i;
  }
  memcpy(s->choice, s->alt[best], sizeof(int) * (size_t)c->lib->n_slots);
  s->chosen = best;
  s->predicted = s->alt_predicted[best];
  s->energy_mj = s->alt_energy_mj[best];
  s->latency_ms = s->alt_latency_ms[best];
  /* the objective stays the optimum's, which no baseline may exceed */
  fprintf(stderr, "  %s: choice %d of %d is best on validation after fine-tuning (%.4f)\n", label, best + 1,
          s->n_alt, c->evals[s->alt_eval[best]].val_ft[0]);
}

static void run_library_baseline(const ctx *c, const devctx *d, hant_budget_kind k, double budget, int method,
                                 int draws, uint64_t seed, sel *s) {
  libprob lp;
  libprob_build(d, k, budget, &lp);
  size_t *items = malloc(sizeof(size_t) * (size_t)c->lib->n_slots);
  double value;
  if (!items)
    die("out of memory");
  double t0 = hant_now_s();
  int rc = method == 2 ? hant_baseline_random(&lp.p, draws, seed, items, &value)
                       : hant_baseline_greedy(&lp.p, items, &value);
  s->search_ms = 1e3 * (hant_now_s() - t0);
  if (rc == HANT_EINFEASIBLE)
    snprintf(s->why, sizeof(s->why), "infeasible");
  else if (rc)
    die(method_names[method]);
  else
    sel_from_items(d, &lp, items, s);
  free(items);
  libprob_free(&lp);
}

/* The widest uniform scaling within the budget; widths step by one channel
 * of the first slot. */
static void run_uniform(const ctx *c, devctx *d, hant_budget_kind k, double budget, sel *s) {
  int base = c->teacher->slots[0].out_c;
  if (base > 256)
    die("uniform width: first layer wider than 256");
  double t0 = hant_now_s();
  for (; d->n_uniform < base; d->n_uniform++) {
    int ch = d->n_uniform + 1;
    if (uniform_cost(c, d, (double)ch / base, &d->uniform_e[ch], &d->uniform_t[ch]))
      die("uniform width");
  }
  for (int ch = base; ch >= 1; ch--) {
    double e = d->uniform_e[ch], t = d->uniform_t[ch];
    if ((k == HANT_BUDGET_ENERGY ? e : t) <= budget * (1 + 1e-9)) {
      s->ok = true;
      s->width = (double)ch / base;
      s->energy_mj = e;
      s->latency_ms = t;
      s->predicted = NAN;
      s->objective = NAN;
      break;
    }
  }
  s->search_ms = 1e3 * (hant_now_s() - t0);
  if (!s->ok)
    snprintf(s->why, sizeof(s->why), "even width 1/%d is over the budget", base);
}

/* ---- output ---------------------------------------------------------------- */

static void pct(char *buf, size_t n, double v) {
  if (isnan(v))
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, "%.2f", 100 * v);
}

/* An accuracy cell: the figure, and with int8 the fp32 one of the same
 * network in parentheses. */
static void acc_cell(char *buf, size_t n, double v, double fp32) {
  if (isnan(v) || isnan(fp32)) {
    pct(buf, n, v);
    return;
  }
  snprintf(buf, n, "%.2f (%.2f)", 100 * v, 100 * fp32);
}

/* A fine-tuning column's header: "FT 3 ep", or "FT auto" (each cell then
 * says the epochs auto chose). */
static void print_ft_header(const ctx *c, int k) {
  if (c->epochs[k] == HANT_FINETUNE_EPOCHS_AUTO)
    printf(" FT auto |");
  else
    printf(" FT %d ep |", c->epochs[k]);
}

/* The paired standard error, in points, of a network's accuracy minus the
 * teacher's on the same n images, from its b and c (evalrec); NAN when
 * they are unknown. */
static double pair_se_points(int b, int cc, int n) {
  if (b < 0 || cc < 0 || n <= 0)
    return NAN;
  double d = b - cc;
  return 100 * sqrt((b + cc) - d * d / n) / n;
}

/* The JSON key of accuracy column k: "assembled" for -1, "finetune_E" for
 * a fine-tuning of E epochs, "finetune_auto" for auto. */
static void column_key(const ctx *c, int k, char *buf, size_t n) {
  if (k < 0)
    snprintf(buf, n, "assembled");
  else if (c->epochs[k] == HANT_FINETUNE_EPOCHS_AUTO)
    snprintf(buf, n, "finetune_auto");
  else
    snprintf(buf, n, "finetune_%d", c->epochs[k]);
}

/* key: {column: accuracy}, acc0 as assembled and acc[k] per fine-tuning. */
static void json_accuracies(hant_jsonw *jw, const char *key, const ctx *c, double acc0, const double *acc) {
  hant_jsonw_key(jw, key);
  hant_jsonw_obj_begin(jw);
  for (int k = -1; k < c->n_epochs; k++) {
    char kk[32];
    column_key(c, k, kk, sizeof(kk));
    hant_jsonw_key(jw, kk);
    hant_jsonw_num(jw, k < 0 ? acc0 : acc[k]);
  }
  hant_jsonw_obj_end(jw);
}

/* "val_accuracy_finetuned": {column: accuracy on the validation split
 * after that fine-tuning}, for the columns measured (resume lines of older
 * runs lack them); absent when none is. */
static void json_val_finetuned(hant_jsonw *jw, const ctx *c, const evalrec *e) {
  bool any = false;
  for (int k = 0; k < c->n_epochs; k++) {
    if (isnan(e->val_ft[k]))
      continue;
    if (!any) {
      hant_jsonw_key(jw, "val_accuracy_finetuned");
      hant_jsonw_obj_begin(jw);
      any = true;
    }
    char kk[32];
    column_key(c, k, kk, sizeof(kk));
    hant_jsonw_key(jw, kk);
    hant_jsonw_num(jw, e->val_ft[k]);
  }
  if (any)
    hant_jsonw_obj_end(jw);
}

/* "paired_vs_teacher": {column: {"b", "c", "se_points"}} for the columns
 * whose counts are known (see evalrec); absent when none is. */
static void json_paired(hant_jsonw *jw, const ctx *c, const evalrec *e) {
  bool any = false;
  for (int k = -1; k < c->n_epochs; k++) {
    int b = e->pair_b[1 + k], cc = e->pair_c[1 + k];
    if (b < 0 || cc < 0)
      continue;
    if (!any) {
      hant_jsonw_key(jw, "paired_vs_teacher");
      hant_jsonw_obj_begin(jw);
      any = true;
    }
    char kk[32];
    column_key(c, k, kk, sizeof(kk));
    hant_jsonw_key(jw, kk);
    hant_jsonw_obj_begin(jw);
    hant_jsonw_key(jw, "b");
    hant_jsonw_int(jw, b);
    hant_jsonw_key(jw, "c");
    hant_jsonw_int(jw, cc);
    hant_jsonw_key(jw, "se_points");
    hant_jsonw_num(jw, pair_se_points(b, cc, c->test.n));
    hant_jsonw_obj_end(jw);
  }
  if (any)
    hant_jsonw_obj_end(jw);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: bench_quality --db LIBRARY.db [options]\n"
          "\n"
          "For each device and each budget (the teacher's energy or latency there divided\n"
          "by each divisor), chooses a network with hant's exact selection and with three\n"
          "baselines (uniform width, best of random feasible selections, greedy score per\n"
          "cost), evaluates each on the test split as assembled and after KD fine-tuning,\n"
          "and prints Markdown tables (stdout) and progress (stderr).\n"
          "\n"
          "  --db FILE             a library with modelled costs for the devices (required)\n"
          "  --devices LIST        (default cortex-m7,rpi4,jetson-nano)\n"
          "  --divisors LIST       budget = teacher cost / divisor (default 2,4,8)\n"
          "  --kinds LIST          energy, latency or both (default energy,latency)\n"
          "  --epochs LIST         fine-tuning epochs, each run from the assembled weights (default 1,3);\n"
          "                        auto: as many as transform --finetune auto gives each network\n"
          "  --finetune-samples N  first N training images per epoch (default all 55000)\n"
          "  --test-samples N      first N test images (default all 10000)\n"
          "  --eval-split S        test (default), or val to choose a recipe without the test split\n"
          "  --draws R             random selections per budget (default 20)\n"
          "  --methods LIST        of hant, uniform, random, greedy (default all)\n"
          "  --no-train            evaluate as assembled only\n"
          "  --precision P         fp32 (default), or int8 for devices that compute in int8:\n"
          "                        every network (the teacher's too) quantised after its fp32\n"
          "                        fine-tuning as transform --out does (calibrated on the\n"
          "                        fine-tuning images, method chosen on the validation split)\n"
          "                        and measured in int8, fp32 beside it; losses against the\n"
          "                        int8 teacher; hant, random and greedy choose on the int8\n"
          "                        scores (hant-distill quantize), required on every device\n"
          "  --qat                 with int8: fine-tune quantisation-aware (finetune.h's qat,\n"
          "                        as transform --out does on int8 devices), not in fp32\n"
          "  --seed S              fine-tuning and random draws (default 1)\n"
          "  --finetune-lr LR      peak learning rate of fine-tuning (default finetune.h's)\n"
          "  --finetune-clip C     gradient-norm clip, 0 for none (default finetune.h's)\n"
          "  --finetune-folded     fine-tune the folded network (no batch norm restored)\n"
          "  --finetune-ema F      end fine-tuning on the moving average of the weights over about the\n"
          "                        last fraction F of its steps (0: none; default finetune.h's)\n"
          "  --finetune-mixup A    mix every batch with itself, Beta(A, A) proportions (0: none;\n"
          "                        default finetune.h's)\n"
          "  --finetune-alpha A    weight of the teacher's soft targets against the labels (default\n"
          "                        finetune.h's)\n"
          "  --rerank K            hant: measure the K best choices by prediction on validation\n"
          "                        images and keep the best measured, as transform --rerank does\n"
          "  --rerank-images N     validation images per re-ranked choice (default 1000)\n"
          "  --choose-finetuned K  hant: fine-tune each of the K best choices by prediction that differ\n"
          "                        from better ones in two slots or more (among the 32 best; one\n"
          "                        --epochs value) and keep the best on the validation split after it\n"
          "  --choose-also LIST    with --choose-finetuned, also fine-tune greedy's choice (greedy) and\n"
          "                        hant's at the same divisor of the other budget kind when it fits the\n"
          "                        budget (other-kind)\n"
          "  --threads N           kernel threads (default: one per core)\n"
          "  --json FILE           also write every row as JSON\n"
          "  --resume FILE         append each evaluated network to FILE and reuse those a\n"
          "                        killed run with the same settings left there; a fine-tuning\n"
          "                        in progress resumes at its last finished epoch (FILE.ckpt-*)\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'},      {"devices", required_argument, 0, 'D'},
      {"divisors", required_argument, 0, 'f'}, {"kinds", required_argument, 0, 'k'},
      {"epochs", required_argument, 0, 'e'},  {"finetune-samples", required_argument, 0, 'n'},
      {"test-samples", required_argument, 0, 't'}, {"draws", required_argument, 0, 'r'},
      {"no-train", no_argument, 0, 'N'},      {"seed", required_argument, 0, 's'},
      {"json", required_argument, 0, 'j'},    {"threads", required_argument, 0, 'T'},
      {"methods", required_argument, 0, 'M'},
      {"finetune-lr", required_argument, 0, 'L'}, {"finetune-clip", required_argument, 0, 'C'},
      {"finetune-folded", no_argument, 0, 'F'}, {"finetune-ema", required_argument, 0, 'A'}, {"finetune-mixup", required_argument, 0, 'X'}, {"finetune-alpha", required_argument, 0, 'W'}, {"resume", required_argument, 0, 'R'}, {"eval-split", required_argument, 0, 'S'},
      {"rerank", required_argument, 0, 'K'}, {"rerank-images", required_argument, 0, 'I'},
      {"choose-finetuned", required_argument, 0, 'c'}, {"choose-also", required_argument, 0, 'a'},
      {"precision", required_argument, 0, 'P'}, {"qat", no_argument, 0, 'Q'}, {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, 'V'},       {0, 0, 0, 0}};
  const char *db = NULL, *json_path = NULL;
  char devices_s[256] = "cortex-m7,rpi4,jetson-nano", divisors_s[128] = "2,4,8", kinds_s[64] = "energy,latency",
       epochs_s[64] = "1,3", methods_s[64] = "hant,uniform,random,greedy";
  int ft_samples = 0, test_samples = 0, draws = 20, threads = 0, o;
  hant_split eval_split = HANT_SPLIT_TEST;
  const char *resume_path = NULL;
  ctx c = {0};
  c.train_nets = true;
  c.seed = 1;
  hant_finetune_opts_default(&c.ft);
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'd': db = optarg; break;
    case 'D': snprintf(devices_s, sizeof(devices_s), "%s", optarg); break;
    case 'f': snprintf(divisors_s, sizeof(divisors_s), "%s", optarg); break;
    case 'k': snprintf(kinds_s, sizeof(kinds_s), "%s", optarg); break;
    case 'e': snprintf(epochs_s, sizeof(epochs_s), "%s", optarg); break;
    case 'n': ft_samples = atoi(optarg); break;
    case 't': test_samples = atoi(optarg); break;
    case 'r': draws = atoi(optarg); break;
    case 'N': c.train_nets = false; break;
    case 's': c.seed = strtoull(optarg, NULL, 10); break;
    case 'j': json_path = optarg; break;
    case 'T': threads = atoi(optarg); break;
    case 'M': snprintf(methods_s, sizeof(methods_s), "%s", optarg); break;
    case 'L': c.ft.lr = strtof(optarg, NULL); break;
    case 'C': c.ft.clip_norm = strtof(optarg, NULL); break;
    case 'F': c.ft.restore_bn = false; break;
    case 'A': c.ft.ema_horizon = strtof(optarg, NULL); break;
    case 'X': c.ft.mixup = strtof(optarg, NULL); break;
    case 'W': c.ft.alpha = strtof(optarg, NULL); break;
    case 'R': resume_path = optarg; break;
    case 'K': c.rerank_k = atoi(optarg); break;
    case 'I': c.rerank_images = atoi(optarg); break;
    case 'c': c.choose_ft_k = atoi(optarg); break;
    case 'a': {
      char buf[64], *al[4];
      snprintf(buf, sizeof(buf), "%s", optarg);
      int n = split_list(buf, al, 4);
      for (int i = 0; i < n; i++) {
        if (!strcmp(al[i], "greedy"))
          c.choose_greedy = true;
        else if (!strcmp(al[i], "other-kind"))
          c.choose_other = true;
        else {
          fprintf(stderr, "bench_quality: --choose-also: '%s' is neither greedy nor other-kind\n", al[i]);
          return 2;
        }
      }
      break;
    }
    case 'S':
      eval_split = hant_split_from_name(optarg);
      if (eval_split != HANT_SPLIT_TEST && eval_split != HANT_SPLIT_VAL)
        die("--eval-split must be val or test");
      break;
    case 'P':
      if (strcmp(optarg, "fp32") && strcmp(optarg, "int8")) {
        fprintf(stderr, "bench_quality: --precision: '%s' is neither fp32 nor int8\n", optarg);
        return 2;
      }
      c.int8 = !strcmp(optarg, "int8");
      break;
    case 'Q': c.ft.qat = true; break;
    case 'h': usage(stdout); return 0;
    case 'V': printf("bench_quality (hant) %s\n", hant_version()); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (c.ft.qat && !c.int8) {
    fprintf(stderr, "bench_quality: --qat needs --precision int8\n");
    return 2;
  }
  if (!db || draws < 1 || ft_samples < 0 || test_samples < 0 || threads < 0 || c.rerank_k < 0 ||
      c.rerank_images < 0 || c.choose_ft_k < 0 || c.choose_ft_k > HANT_TRANSFORM_RERANK_K_MAX) {
    usage(stderr);
    return 2;
  }
  if (threads)
    hant_threads_set(threads);
  char *devs[16], *divs[8], *kinds[2], *eps[MAX_EPOCHS];
  int n_devs = split_list(devices_s, devs, 16), n_divs = split_list(divisors_s, divs, 8),
      n_kinds = split_list(kinds_s, kinds, 2);
  c.n_epochs = split_list(epochs_s, eps, MAX_EPOCHS);
  bool auto_epochs = false;
  for (int i = 0; i < c.n_epochs; i++) {
    char *end;
    long v = strtol(eps[i], &end, 10);
    if (!strcmp(eps[i], "auto") && auto_epochs) {
      fprintf(stderr, "bench_quality: --epochs: 'auto' is given twice\n");
      return 2;
    } else if (!strcmp(eps[i], "auto")) {
      c.epochs[i] = HANT_FINETUNE_EPOCHS_AUTO;
      auto_epochs = true;
    } else if (end == eps[i] || *end || v < 1 || v > 100000) {
      fprintf(stderr, "bench_quality: --epochs: '%s' is not a positive count or auto\n", eps[i]);
      return 2;
    } else {
      c.epochs[i] = (int)v;
    }
  }
  if (!c.train_nets)
    c.n_epochs = 0;
  if ((c.choose_greedy || c.choose_other) && c.choose_ft_k < 2) {
    fprintf(stderr, "bench_quality: --choose-also needs --choose-finetuned K\n");
    return 2;
  }
  if (c.choose_ft_k > 1 && (c.n_epochs != 1 || c.rerank_k > 1)) {
    fprintf(stderr, "bench_quality: --choose-finetuned needs fine-tuning with one --epochs value, and chooses "
                    "instead of --rerank\n");
    return 2;
  }
  bool use[N_METHODS] = {false};
  char *ms[N_METHODS + 1];
  int n_ms = split_list(methods_s, ms, N_METHODS + 1);
  for (int i = 0; i < n_ms; i++) {
    int m = 0;
    while (m < N_METHODS && strcmp(ms[i], method_names[m]))
      m++;
    if (m == N_METHODS) {
      fprintf(stderr, "bench_quality: --methods: '%s' is not one of hant, uniform, random, greedy\n", ms[i]);
      return 2;
    }
    use[m] = true;
  }
  hant_budget_kind kind[2];
  for (int i = 0; i < n_kinds; i++) {
    kind[i] = !strcmp(kinds[i], "energy") ? HANT_BUDGET_ENERGY
              : !strcmp(kinds[i], "latency") ? HANT_BUDGET_LATENCY
                                              : HANT_BUDGET_KIND_COUNT;
    if (kind[i] == HANT_BUDGET_KIND_COUNT) {
      fprintf(stderr, "bench_quality: --kinds: '%s' is neither energy nor latency\n", kinds[i]);
      return 2;
    }
  }
  double divisor[8];
  for (int i = 0; i < n_divs; i++)
    if (!((divisor[i] = atof(divs[i])) >= 1)) {
      fprintf(stderr, "bench_quality: --divisors: '%s' is not a number >= 1\n", divs[i]);
      return 2;
    }

  char tpath[1024];
  if (hant_store_open(db, HANT_STORE_READONLY, &c.st))
    die(db);
  if (hant_library_load(c.st, NULL, &c.lib))
    die("loading the library");
  if (c.lib->n_slots > 64)
    die("more than 64 slots");
  if (hant_deploy_teacher(c.st, &c.teacher, tpath, sizeof(tpath)))
    die("teacher");
  /* Every device must be costed, and with int8 compute in int8 and have
   * every costed candidate's int8 score, before anything is measured. */
  bool refused = false;
  for (int di = 0; di < n_devs && !refused; di++) {
    const hant_library_device *dev = hant_library_device_find(c.lib, devs[di]);
    if (!dev || dev->n_modes == 0 || !dev->profile) {
      fprintf(stderr, "bench_quality: no modelled costs for %s: run hant-distill profile --db %s --device %s\n",
              devs[di], db, devs[di]);
      refused = true;
      continue;
    }
    if (!c.int8)
      continue;
    if (dev->profile->precision != HANT_PREC_INT8) {
      fprintf(stderr, "bench_quality: --precision int8: %s computes in %s (its profile), not int8\n", devs[di],
              hant_prec_name(dev->profile->precision));
      refused = true;
      continue;
    }
    hant_library *view;
    int missing;
    if (hant_library_int8_view(c.lib, dev, &view, &missing))
      die("int8 view");
    if (missing || !view) {
      fprintf(stderr, "bench_quality: --precision int8: %d of the candidates costed on %s have no int8 score: run "
                      "hant-distill quantize --db %s\n",
              missing, devs[di], db);
      refused = true;
    }
    hant_library_view_free(view);
  }
  if (refused) {
    hant_net_destroy(c.teacher);
    hant_library_unref(c.lib);
    hant_store_close(c.st);
    return 1;
  }
  /* The library's data, normalised as it was built (Fashion-MNIST unless it records other data). */
  hant_build_settings recorded;
  hant_data_spec spec;
  if (hant_deploy_data_spec(c.st, c.teacher, NULL, &recorded, &spec))
    die("the library's data");
  if (hant_data_load(&spec, eval_split, test_samples, &c.test))
    die("evaluation split");
  if (c.train_nets && hant_data_load(&spec, HANT_SPLIT_TRAIN, ft_samples, &c.train))
    die("training split");
  /* int8: calibrated as deploy.c does, on the fine-tuning images or,
   * without fine-tuning, the whole training split, the method chosen on as
   * many validation images as are evaluated. */
  if (c.int8) {
    if (!c.train_nets && hant_data_load(&spec, HANT_SPLIT_TRAIN, 0, &c.calib_own))
      die("training split (int8 calibration)");
    c.calib = c.train_nets ? &c.train : &c.calib_own;
  }
  /* validation: the int8 calibration method, auto epochs, and every
   * fine-tuned network's accuracy after it */
  if ((c.int8 || c.train_nets) && hant_data_load(&spec, HANT_SPLIT_VAL, test_samples, &c.val))
    die("validation split");
  if (auto_epochs && c.train_nets) {
    double loss;
    if (hant_eval_classifier(c.teacher, &c.val, 250, &c.teacher_val, &loss))
      die("teacher on the validation split");
    fprintf(stderr, "bench_quality: --epochs auto: the teacher's validation accuracy %.4f on %d images\n",
            c.teacher_val, c.val.n);
  }
  /* The teacher row: with int8, the teacher quantised the same way, on a
   * copy, since quantising folds batch norms and c.teacher teaches. */
  double teacher_acc, teacher_acc_fp32;
  hant_net *tq = NULL;
  qinfo tqi = {HANT_QCALIB_MINMAX, NAN};
  char tpath2[1024];
  /* + 1: never malloc(0), which may return NULL */
  if (!(c.teacher_right = malloc((size_t)c.test.n + 1)) || !(c.marks = malloc((size_t)c.test.n + 1)))
    die("out of memory");
  if ((c.int8 && hant_deploy_teacher(c.st, &tq, tpath2, sizeof(tpath2))) ||
      measure(&c, c.int8 ? tq : c.teacher, &teacher_acc, &teacher_acc_fp32, &tqi, c.teacher_right))
    die("teacher");
  hant_net_destroy(tq);
  if (resume_path) {
    /* The library's candidates by id and score, and every setting a
     * network's figures depend on. */
    double sig = 0;
    for (int i = 0; i < c.lib->n_cands; i++)
      sig += (double)c.lib->cands[i].id * (1.0 + c.lib->cands[i].score);
    snprintf(c.setup, sizeof(c.setup),
             "cands=%d:%.9g train=%d eval=%s:%d epochs=%s lr=%g clip=%g bn=%d wd=%g T=%g alpha=%g seed=%llu",
             c.lib->n_cands, sig, c.train_nets ? c.train.n : 0, hant_split_name(eval_split), c.test.n, epochs_s,
             (double)c.ft.lr, (double)c.ft.clip_norm, (int)c.ft.restore_bn, (double)c.ft.weight_decay,
             (double)c.ft.temperature, (double)c.ft.alpha, (unsigned long long)c.seed);
    /* fp32 setups keep their old text, so that files of earlier runs stay usable. */
    if (c.int8) {
      size_t n = strlen(c.setup);
      snprintf(c.setup + n, sizeof(c.setup) - n, " precision=int8%s", c.ft.qat ? " qat" : "");
    }
    if (c.ft.ema_horizon > 0) {
      size_t n = strlen(c.setup);
      snprintf(c.setup + n, sizeof(c.setup) - n, " ema_horizon=%g", (double)c.ft.ema_horizon);
    }
    if (c.ft.mixup > 0) {
      size_t n = strlen(c.setup);
      snprintf(c.setup + n, sizeof(c.setup) - n, " mixup=%g", (double)c.ft.mixup);
    }
    c.resume_path = resume_path;
    resume_load(&c, resume_path);
  }
  /* The teacher's validation accuracy the predictions add scores to: the
   * int8 teacher's (hant-distill quantize) with int8 scores. */
  double teacher_val = c.int8 && c.lib->has_int8 ? c.lib->int8.val_accuracy : c.lib->teacher.val_accuracy;
  fprintf(stderr, "bench_quality: teacher %s: %s %s accuracy %.4f on %d images, validation %.4f; %d slots, %d "
                  "candidates; fine-tuning on %d training images\n",
          tpath, c.int8 ? "int8" : "fp32", hant_split_name(eval_split), teacher_acc, c.test.n, teacher_val,
          c.lib->n_slots, c.lib->n_cands, c.train.n);
  if (c.int8)
    fprintf(stderr, "bench_quality: int8: calibrated on %d training images, method chosen on %d validation images; "
                    "teacher fp32 %.4f, int8 calibrated %s (%.4f on those validation images)\n",
            c.calib->n < 1000 ? c.calib->n : 1000, c.val.n, teacher_acc_fp32, hant_qcalib_name(tqi.calib),
            tqi.val_accuracy);

  FILE *jf = NULL;
  hant_jsonw jw;
  if (json_path) {
    if (!(jf = fopen(json_path, "w")))
      die(json_path);
    hant_jsonw_init(&jw, jf);
    hant_jsonw_obj_begin(&jw);
    hant_jsonw_key(&jw, "precision");
    hant_jsonw_str(&jw, c.int8 ? "int8" : "fp32");
    hant_jsonw_key(&jw, "qat");
    hant_jsonw_bool(&jw, c.ft.qat);
    hant_jsonw_key(&jw, "teacher_test_accuracy");
    hant_jsonw_num(&jw, teacher_acc);
    hant_jsonw_key(&jw, "teacher_val_accuracy");
    hant_jsonw_num(&jw, teacher_val);
    if (c.int8) {
      hant_jsonw_key(&jw, "teacher_test_accuracy_fp32");
      hant_jsonw_num(&jw, teacher_acc_fp32);
      hant_jsonw_key(&jw, "teacher_int8_calib");
      hant_jsonw_str(&jw, hant_qcalib_name(tqi.calib));
      hant_jsonw_key(&jw, "teacher_int8_calib_val_accuracy");
      hant_jsonw_num(&jw, tqi.val_accuracy);
      hant_jsonw_key(&jw, "int8_calibration_images");
      hant_jsonw_int(&jw, c.calib->n < 1000 ? c.calib->n : 1000);
      hant_jsonw_key(&jw, "int8_validation_images");
      hant_jsonw_int(&jw, c.val.n);
    }
    hant_jsonw_key(&jw, "test_images");
    hant_jsonw_int(&jw, c.test.n);
    hant_jsonw_key(&jw, "finetune_images");
    hant_jsonw_int(&jw, c.train.n);
    hant_jsonw_key(&jw, "rows");
    hant_jsonw_arr_begin(&jw);
  }
  if (c.int8)
    printf("Precision int8: every accuracy measured in int8 after post-training quantisation (fp32 in "
           "parentheses); losses against the int8 teacher. Teacher: int8 test accuracy %.2f%% (fp32 %.2f%%), int8 "
           "validation %.2f%%. Fine-tuning: %d training images per epoch, finetune.h defaults; %d random draws.\n",
           100 * teacher_acc, 100 * teacher_acc_fp32, 100 * teacher_val, c.train.n, draws);
  else
    printf("Teacher: test accuracy %.2f%%, validation %.2f%%. Fine-tuning: %d training images per epoch, "
           "finetune.h defaults; %d random draws.\n",
           100 * teacher_acc, 100 * c.lib->teacher.val_accuracy, c.train.n, draws);
  int failures = 0;
  for (int di = 0; di < n_devs; di++) {
    devctx d = {0};
    d.dev = hant_library_device_find(c.lib, devs[di]);
    if (!d.dev || d.dev->n_modes == 0 || !d.dev->profile) {
      fprintf(stderr, "bench_quality: no modelled costs for %s: run hant-distill profile --db %s --device %s\n",
              devs[di], db, devs[di]);
      return 1;
    }
    d.mode = &d.dev->modes[0];
    d.lib = c.lib;
    hant_library *view = NULL;
    int missing = 0;
    if (c.int8 && hant_library_int8_view(c.lib, d.dev, &view, &missing))
      die("int8 view"); /* its scores were checked before anything was measured */
    if (view)
      d.lib = view;
    d.profile_mode = d.mode->name[0] ? hant_device_mode_find(d.dev->profile, d.mode->name) : -1;
    d.factor = d.dev->has_additivity ? d.dev->additivity.factor : 1;
    d.overhead_ms = d.dev->has_additivity ? d.dev->additivity.overhead_ms : 0;
    /* The teacher: its own block in every slot. */
    double te = 0, tl = d.overhead_ms;
    for (int s = 0; s < c.lib->n_slots; s++) {
      int found = -1;
      for (int j = 0; j < c.lib->slot_count[s]; j++) {
        int ci = c.lib->slot_first[s] + j;
        if (!strcmp(c.lib->cands[ci].family, "teacher") && d.mode->has[ci])
          found = ci;
      }
      if (found < 0) {
        fprintf(stderr, "bench_quality: slot %s has no costed teacher-copy candidate on %s\n", c.lib->slots[s].name,
                devs[di]);
        return 1;
      }
      te += cand_cost(&d, found, HANT_BUDGET_ENERGY);
      tl += cand_cost(&d, found, HANT_BUDGET_LATENCY);
    }
    double ue, ul;
    if (uniform_cost(&c, &d, 1.0, &ue, &ul))
      die("uniform width 1");
    fprintf(stderr, "%s%s%s: teacher %.4g mJ, %.4g ms (uniform width 1 models %.4g mJ, %.4g ms)\n", devs[di],
            d.mode->name[0] ? " mode " : "", d.mode->name, te, tl, ue, ul);
    /* Both sides are modelled per slot, so they must agree. */
    if (fabs(ue - te) > 1e-3 * te || fabs(ul - tl) > 1e-3 * tl) {
      fprintf(stderr, "bench_quality: %s: uniform width 1 is modelled at %.6g mJ, %.6g ms, the library's teacher at "
                      "%.6g mJ, %.6g ms\n",
              devs[di], ue, ul, te, tl);
      failures++;
    }
    printf("\n### %s%s%s\n\nTeacher: %.4g mJ and %.4g ms per inference (modelled).\n\n", devs[di],
           d.mode->name[0] ? ", power mode " : "", d.mode->name, te, tl);
    printf("| budget | method | search ms | energy mJ | latency ms | predicted | assembled |");
    for (int k = 0; k < c.n_epochs; k++)
      print_ft_header(&c, k);
    printf("\n|---|---|---:|---:|---:|---:|---:|");
    for (int k = 0; k < c.n_epochs; k++)
      printf("---:|");
    printf("\n");
    /* Per budget: hant's loss against the teacher and the best baseline,
     * for each accuracy column (assembled, then each fine-tuning). */
    char summary[16][512];
    int n_summary = 0;
    for (int ki = 0; ki < n_kinds; ki++)
      for (int fi = 0; fi < n_divs; fi++) {
        double budget = (kind[ki] == HANT_BUDGET_ENERGY ? te : tl) / divisor[fi];
        sel s[N_METHODS];
        memset(s, 0, sizeof(s));
        /* the draws depend on the budget, not on where it falls in this run's
         * lists, so that a budget run alone draws what it draws among others */
        char who[160];
        snprintf(who, sizeof(who), "%s/%g", d.dev->name, divisor[fi]);
        uint64_t rseed = hant_candidate_seed(c.seed, (int)kind[ki], who);
        if (use[0])
          run_hant(&c, &d, kind[ki], budget, &s[0]);
        char bl[64];
        snprintf(bl, sizeof(bl), "%s/%g", kind[ki] == HANT_BUDGET_ENERGY ? "E" : "T", divisor[fi]);
        if (use[0] && c.choose_ft_k > 1) {
          char label[128];
          snprintf(label, sizeof(label), "%s %s hant", devs[di], bl);
          if (c.choose_greedy) {
            sel g = {0};
            run_library_baseline(&c, &d, kind[ki], budget, 3, draws, rseed, &g);
            add_alt(&c, &s[0], &g, "greedy");
            free(g.choice);
          }
          if (c.choose_other) {
            /* hant's plain choice at the same divisor of the other kind */
            ctx plain = c;
            plain.choose_ft_k = plain.rerank_k = 0;
            hant_budget_kind other = kind[ki] == HANT_BUDGET_ENERGY ? HANT_BUDGET_LATENCY : HANT_BUDGET_ENERGY;
            sel oth = {0};
            run_hant(&plain, &d, other, (other == HANT_BUDGET_ENERGY ? te : tl) / divisor[fi], &oth);
            if (oth.ok && (kind[ki] == HANT_BUDGET_ENERGY ? oth.energy_mj : oth.latency_ms) <= budget * (1 + 1e-9))
              add_alt(&c, &s[0], &oth, other == HANT_BUDGET_ENERGY ? "energy budget" : "latency budget");
            free(oth.choice);
          }
          choose_finetuned(&c, &s[0], label);
        }
        if (use[1])
          run_uniform(&c, &d, kind[ki], budget, &s[1]);
        if (use[2])
          run_library_baseline(&c, &d, kind[ki], budget, 2, draws, rseed, &s[2]);
        if (use[3])
          run_library_baseline(&c, &d, kind[ki], budget, 3, draws, rseed, &s[3]);
        fprintf(stderr, "%s %s = %.4g %s\n", devs[di], bl, budget, kind[ki] == HANT_BUDGET_ENERGY ? "mJ" : "ms");
        for (int m = 0; m < N_METHODS; m++) {
          char label[128];
          snprintf(label, sizeof(label), "%s %s %s", devs[di], bl, method_names[m]);
          if (!use[m]) {
            s[m].eval = -1;
            continue;
          }
          /* auto: a baseline gets at least hant's epochs at this budget */
          int min_auto = 0;
          for (int k = 0; k < c.n_epochs && m > 0 && s[0].eval >= 0; k++)
            if (c.epochs[k] == HANT_FINETUNE_EPOCHS_AUTO)
              min_auto = c.evals[s[0].eval].ft_epochs[k];
          s[m].eval = s[m].ok ? evaluate(&c, s[m].choice, s[m].width, label, min_auto) : -1;
          /* An exact solver cannot reach less of its objective than a
           * heuristic's choice. */
          if (m > 1 && s[0].ok && s[m].ok && s[m].objective > s[0].objective + 1e-9) {
            fprintf(stderr, "bench_quality: %s reaches objective %.6f, above hant's optimum %.6f\n", label,
                    s[m].objective, s[0].objective);
            failures++;
          }
          if (s[m].ok && (kind[ki] == HANT_BUDGET_ENERGY ? s[m].energy_mj : s[m].latency_ms) > budget * (1 + 1e-6)) {
            fprintf(stderr, "bench_quality: %s is over its budget\n", label);
            failures++;
          }
          const evalrec *e = s[m].eval >= 0 ? &c.evals[s[m].eval] : NULL;
          char p[16], a0[40], name[48];
          pct(p, sizeof(p), s[m].predicted);
          acc_cell(a0, sizeof(a0), e ? e->acc0 : NAN, e && c.int8 ? e->acc0_fp32 : NAN);
          if (m == 1 && s[m].ok)
            snprintf(name, sizeof(name), "uniform x%.3g", s[m].width);
          else
            snprintf(name, sizeof(name), "%s", method_names[m]);
          if (!s[m].ok) {
            printf("| %s %.4g | %s | %.2f | - | - | - | %s |", bl, budget, name, s[m].search_ms, s[m].why);
            for (int k = 0; k < c.n_epochs; k++)
              printf(" - |");
          } else {
            printf("| %s %.4g | %s | %.2f | %.4g (%.1fx) | %.4g (%.1fx) | %s | %s |", bl, budget, name,
                   s[m].search_ms, s[m].energy_mj, te / s[m].energy_mj, s[m].latency_ms, tl / s[m].latency_ms, p,
                   a0);
            for (int k = 0; k < c.n_epochs; k++) {
              char a[40];
              acc_cell(a, sizeof(a), e->acc[k], c.int8 ? e->acc_fp32[k] : NAN);
              if (c.epochs[k] == HANT_FINETUNE_EPOCHS_AUTO)
                printf(" %s (%d ep) |", a, e->ft_epochs[k]);
              else
                printf(" %s |", a);
            }
          }
          printf("\n");
          if (jf) {
            hant_jsonw_obj_begin(&jw);
            hant_jsonw_key(&jw, "device");
            hant_jsonw_str(&jw, devs[di]);
            hant_jsonw_key(&jw, "power_mode");
            hant_jsonw_str(&jw, d.mode->name);
            hant_jsonw_key(&jw, "kind");
            hant_jsonw_str(&jw, hant_budget_kind_key(kind[ki]));
            hant_jsonw_key(&jw, "divisor");
            hant_jsonw_num(&jw, divisor[fi]);
            hant_jsonw_key(&jw, "budget");
            hant_jsonw_num(&jw, budget);
            hant_jsonw_key(&jw, "teacher_energy_mj");
            hant_jsonw_num(&jw, te);
            hant_jsonw_key(&jw, "teacher_latency_ms");
            hant_jsonw_num(&jw, tl);
            hant_jsonw_key(&jw, "method");
            hant_jsonw_str(&jw, method_names[m]);
            hant_jsonw_key(&jw, "precision");
            hant_jsonw_str(&jw, c.int8 ? "int8" : "fp32");
            hant_jsonw_key(&jw, "feasible");
            hant_jsonw_bool(&jw, s[m].ok);
            hant_jsonw_key(&jw, "note");
            hant_jsonw_str(&jw, s[m].why);
            hant_jsonw_key(&jw, "search_ms");
            hant_jsonw_num(&jw, s[m].search_ms);
            if (s[m].ok) {
              hant_jsonw_key(&jw, "network");
              hant_jsonw_str(&jw, e->key);
              hant_jsonw_key(&jw, "energy_mj");
              hant_jsonw_num(&jw, s[m].energy_mj);
              hant_jsonw_key(&jw, "latency_ms");
              hant_jsonw_num(&jw, s[m].latency_ms);
              if (!isnan(s[m].predicted)) {
                hant_jsonw_key(&jw, "predicted_accuracy");
                hant_jsonw_num(&jw, s[m].predicted);
                hant_jsonw_key(&jw, "objective");
                hant_jsonw_num(&jw, s[m].objective);
              }
              json_accuracies(&jw, "test_accuracy", &c, e->acc0, e->acc);
              for (int k = 0; k < c.n_epochs; k++)
                if (c.epochs[k] == HANT_FINETUNE_EPOCHS_AUTO) {
                  hant_jsonw_key(&jw, "finetune_auto_epochs");
                  hant_jsonw_num(&jw, e->ft_epochs[k]);
                  hant_jsonw_key(&jw, "finetune_auto_val_loss_points");
                  hant_jsonw_num(&jw, e->auto_loss);
                }
              if (c.int8) /* the same networks before quantisation */
                json_accuracies(&jw, "test_accuracy_fp32", &c, e->acc0_fp32, e->acc_fp32);
              json_val_finetuned(&jw, &c, e);
              json_paired(&jw, &c, e);
              if (s[m].n_alt > 0) {
                /* --choose-finetuned: every choice fine-tuned, best predicted first, then --choose-also's */
                hant_jsonw_key(&jw, "finetuned_choices");
                hant_jsonw_arr_begin(&jw);
                for (int i = 0; i < s[m].n_alt; i++) {
                  const evalrec *a = &c.evals[s[m].alt_eval[i]];
                  hant_jsonw_obj_begin(&jw);
                  hant_jsonw_key(&jw, "source");
                  hant_jsonw_str(&jw, s[m].alt_source[i]);
                  hant_jsonw_key(&jw, "network");
                  hant_jsonw_str(&jw, a->key);
                  hant_jsonw_key(&jw, "predicted_accuracy");
                  hant_jsonw_num(&jw, s[m].alt_predicted[i]);
                  hant_jsonw_key(&jw, "energy_mj");
                  hant_jsonw_num(&jw, s[m].alt_energy_mj[i]);
                  hant_jsonw_key(&jw, "latency_ms");
                  hant_jsonw_num(&jw, s[m].alt_latency_ms[i]);
                  hant_jsonw_key(&jw, "val_accuracy_finetuned");
                  hant_jsonw_num(&jw, a->val_ft[0]);
                  json_accuracies(&jw, "test_accuracy", &c, a->acc0, a->acc);
                  hant_jsonw_obj_end(&jw);
                }
                hant_jsonw_arr_end(&jw);
                hant_jsonw_key(&jw, "finetuned_chosen_rank");
                hant_jsonw_int(&jw, s[m].chosen);
              }
            }
            hant_jsonw_obj_end(&jw);
          }
        }
        if (n_summary < 16) {
          char *line = summary[n_summary++];
          size_t lo;
          if (s[0].ok)
            lo = (size_t)snprintf(line, 512, "| %s | %.1fx | ", bl,
                                  kind[ki] == HANT_BUDGET_ENERGY ? te / s[0].energy_mj : tl / s[0].latency_ms);
          else
            lo = (size_t)snprintf(line, 512, "| %s | %s | ", bl, s[0].why);
          for (int k = -1; k < c.n_epochs && lo < 512; k++) {
            double h = NAN, best = -INFINITY;
            char se[32] = "";
            for (int m = 0; m < N_METHODS; m++) {
              if (s[m].eval < 0)
                continue;
              const evalrec *r = &c.evals[s[m].eval];
              double a = k < 0 ? r->acc0 : r->acc[k];
              if (m == 0) {
                h = a;
                double err = pair_se_points(r->pair_b[1 + k], r->pair_c[1 + k], c.test.n);
                if (!isnan(err))
                  snprintf(se, sizeof(se), " ± %.2f", err);
              } else if (a > best) {
                best = a;
              }
            }
            if (isnan(h))
              lo += (size_t)snprintf(line + lo, 512 - lo, "- | ");
            else
              lo += (size_t)snprintf(line + lo, 512 - lo, "%+.2f%s (%s) | ", 100 * (h - teacher_acc), se,
                                    !(best > -INFINITY) ? "no baseline run"
                                    : h > best           ? "ahead"
                                    : h == best          ? "tied"
                                                         : "behind");
          }
        }
        for (int m = 0; m < N_METHODS; m++) {
          free(s[m].choice);
          for (int i = 0; i < s[m].n_alt; i++)
            free(s[m].alt[i]);
        }
        fflush(stdout);
      }
    hant_library_view_free(view);
    printf("\nhant's %stest accuracy against the %steacher's (points%s), and against the best baseline at the "
           "same budget and fine-tuning (ahead, tied or behind):\n\n",
           c.int8 ? "int8 " : "", c.int8 ? "int8 " : "", ", ± the paired standard error");
    printf(
           "| budget | cut achieved | assembled |");
    for (int k = 0; k < c.n_epochs; k++)
      print_ft_header(&c, k);
    printf("\n|---|---:|---:|");
    for (int k = 0; k < c.n_epochs; k++)
      printf("---:|");
    printf("\n");
    for (int i = 0; i < n_summary; i++) {
      size_t n = strlen(summary[i]);
      while (n && summary[i][n - 1] == ' ')
        summary[i][--n] = '\0';
      printf("%s\n", summary[i]);
    }
  }
  if (jf) {
    hant_jsonw_arr_end(&jw);
    hant_jsonw_obj_end(&jw);
    fputc('\n', jf);
    fclose(jf);
  }
  free(c.evals);
  free(c.teacher_right);
  free(c.marks);
  hant_dataset_free(&c.train);
  hant_dataset_free(&c.test);
  hant_dataset_free(&c.calib_own);
  hant_dataset_free(&c.val);
  if (c.resume)
    fclose(c.resume);
  hant_net_destroy(c.teacher);
  hant_library_unref(c.lib);
  hant_store_close(c.st);
  if (failures)
    fprintf(stderr, "bench_quality: %d consistency failures\n", failures);
  return failures ? 1 : 0;
}
