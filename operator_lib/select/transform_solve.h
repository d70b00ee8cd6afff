/* SPDX-License-Identifier: MIT */
/* transform_solve.h: the solving half of a transform: from a device and budgets to one candidate per slot of a library snapshot, and its Pareto fronts (deploy.h assembles and exports the choice). */
#ifndef HANT_TRANSFORM_SOLVE_H
#define HANT_TRANSFORM_SOLVE_H

#include <stdbool.h>
#include <stdint.h>

#include "budget.h"
#include "library.h"
#include "predictor.h"
#include "select.h"

/*
 * The problem (brief sections 6 and 7), for device D:
 *
 *   groups = the library's slots, items = their candidates that have a
 *   cost row on D at batch 1 in every power mode considered, value = the
 *   candidate's calibrated coefficient when the library has a fit covering
 *   every candidate (predictor.h), else its single-slot score.
 *   Cost dimensions, one per budget kind given:
 *     latency_ms    factor x t_ij + overhead_ms / n_slots, where factor and
 *                   overhead_ms are D's additivity correction (additivity.h)
 *                   if the library has one, else 1 and 0; so the summed
 *                   latency is the corrected prediction of the network
 *     energy_mj     e_ij
 *     memory_bytes  the cost row's memory_bytes (weights + peak activations),
 *                   summed over slots: an upper bound, since peaks do not add
 *     macs          the candidate's MACs
 *     power_w       without fps: the cap row sum (e - P t) x <= 0, i.e.
 *                   E / T <= P; with fps F: the sustained row
 *                   F E + P_idle (1 - F T) <= P, P_idle from D's profile for
 *                   the mode; either way linear for a fixed mode
 *   With fps F, T <= 1000 / F ms is also imposed (the smaller latency budget wins).
 *   A device whose costs have power modes is solved once per mode (or in
 *   the mode asked for) and the best mode wins (hant_select_solve_modes).
 *
 * Noise is not a gain. A score is a change of validation accuracy measured
 * on the teacher's n validation images (the library's teacher record:
 * val_images, val_accuracy p), so its standard error is about
 * se = sqrt(p (1 - p) / n) (0.0034 for p = 0.937, n = 5000). In the
 * objective a score in (0, se] counts as 0 (hant_transform_value); losses
 * and gains beyond se count as they are. Reported scores and predicted
 * accuracies stay the measured ones.
 *
 * Ties. Among choices (and modes) whose objectives are equal within the
 * solver's value tolerance, the one with the lowest energy per inference
 * wins, whether or not energy is budgeted: a second exact solve minimises
 * energy with the objective held at the optimum.
 *
 * The teacher. The teacher's own selection is every slot's candidate of
 * family "teacher". If it meets every budget in a mode and is at least as
 * good in the objective and no worse on every budgeted kind than the
 * choice, the teacher is the answer (teacher_chosen).
 */

/* Measures, on this machine, the latency in ms of the network assembled
 * from choice ([n_slots] indices into lib->cands). Returns 0 or a negative
 * HANT_E* code, which aborts the solve. hant_deploy_measure_choice
 * (deploy.h) is the one hantd uses. */
typedef int (*hant_transform_measure_fn)(void *user, const int *choice, int n_slots, double *latency_ms);

/* Measures the validation accuracy (fraction 0-1) of the network assembled
 * from choice ([n_slots] indices into lib->cands) on the first `images`
 * images of the validation split, never the test split; with int8 (the
 * problem was solved on int8 scores: the device computes in int8) of the
 * network quantised as the library's int8 scores were. Returns 0 or a
 * negative HANT_E* code, which aborts the solve.
 * hant_deploy_accuracy_choice (deploy.h) is the one hantd uses. */
typedef int (*hant_transform_accuracy_fn)(void *user, const int *choice, int n_slots, int images, bool int8,
                                          double *accuracy);

/* Measured re-ranking: the default number of best choices measured (1:
 * none, the predicted optimum is the answer, as before re-ranking
 * existed) and of validation images each is measured on. One choice
 * measured on 1,000 images takes about a second on a two-core machine, so
 * re-ranking is asked for, not done by default. */
#define HANT_TRANSFORM_RERANK_K_DEFAULT 1
#define HANT_TRANSFORM_RERANK_K_MAX 32
#define HANT_TRANSFORM_RERANK_IMAGES_DEFAULT 1000

typedef struct hant_transform_req {
  char device[64];
  int n_budgets;
  hant_budget budgets[HANT_BUDGET_KIND_COUNT]; /* at most one per kind; see add_budget */
  /* Relative budgets, percent (0, 100] of the teacher's own total of each
   * kind on the device; 0 where none. hant_transform_req_resolve turns
   * them into absolute budgets (the tighter of the two wins when a kind
   * has both) and records what each resolved to in relative_value. */
  double relative_percent[HANT_BUDGET_KIND_COUNT];
  double relative_value[HANT_BUDGET_KIND_COUNT]; /* base units; 0 until resolved */
  double fps;            /* frames per second; 0: none */
  double grid_g_per_kwh; /* grid carbon intensity; <= 0: HANT_GRID_G_PER_KWH_DEFAULT */
  char power_mode[32];   /* "" lets the solver choose among the device's modes */
  double time_limit_ms;  /* of the solve; <= 0: none */
  /* Measured-latency correction (brief section 7): with a latency budget
   * on a device without power modes, the assembled network is measured
   * and, while it exceeds the budget, the budget is tightened and the
   * problem solved again, at most measure_max_rounds times (default 8). */
  hant_transform_measure_fn measure;
  void *measure_user;
  int measure_max_rounds;
  /* Measured re-ranking (transform_rerank.c): with rerank_k > 1 and an
   * accuracy callback, the rerank_k best distinct choices by predicted
   * accuracy (hant_select_kbest, over every power mode considered) are
   * each assembled and measured on the same rerank_images validation
   * images, and the best measured becomes the answer; ties go to the
   * higher predicted accuracy, then the lower energy. rerank_k <= 1 (the
   * default) answers with the predicted optimum. Not combined with the
   * measured-latency correction (HANT_EINVAL). */
  int rerank_k;      /* 0: HANT_TRANSFORM_RERANK_K_DEFAULT */
  int rerank_images; /* 0: HANT_TRANSFORM_RERANK_IMAGES_DEFAULT */
  hant_transform_accuracy_fn accuracy;
  void *accuracy_user;
} hant_transform_req;

void hant_transform_req_init(hant_transform_req *r);
/* Adds a budget; a second budget of the same kind keeps the tighter one. A
 * relative budget (b->percent > 0) goes to relative_percent, where the
 * smaller percent of a kind wins. */
void hant_transform_req_add_budget(hant_transform_req *r, const hant_budget *b);
/* The budget of a kind, or NULL. */
const hant_budget *hant_transform_req_budget(const hant_transform_req *r, hant_budget_kind k);

/* Resolves r's relative budgets on lib: N% of the teacher's total of the
 * kind on r->device, in r->power_mode when one is asked, else the
 * teacher's smallest total over the device's modes (so the cut is at
 * least N% against the teacher in any mode). Power is the teacher's
 * power while inferring (E / T), or its sustained power at r->fps. Adds
 * the absolute budgets, fills relative_value, and may be called again
 * (it is idempotent). hant_transform_solve and hant_transform_front_new
 * resolve a copy themselves; call this to show what a budget became.
 * Errors: those of hant_transform_solve for an unknown device or mode,
 * and HANT_EINVAL when the library has no teacher block costed in some
 * slot ("relative budget 50%energy: ..."). */
int hant_transform_req_resolve(const hant_library *lib, hant_transform_req *r);

/* The value a candidate's score counts for in the objective: 0 for a gain
 * within one standard error of zero (0 < score <= noise_se), else the
 * score. noise_se is hant_transform_noise_se(lib). */
double hant_transform_value(double score, double noise_se);
/* The value candidate c (index into lib->cands) counts for in the objective
 * the solver maximises when the library's fit is not the objective: with
 * divergences for every candidate (lib->has_divergence), the accuracy they
 * predict it costs, -kl_weight x val_kl (library.h: kl_slope, or its slot's
 * calibrated weight when the calibration put those in the objective), which ranks candidates whose scores
 * are all within the noise, plus its int8_cost in an int8 view (library.h);
 * otherwise its noise-aware score
 * (hant_transform_value). */
double hant_transform_cand_value(const hant_library *lib, int c, double noise_se);
/* The validation accuracy predicted for a choice ([lib->n_slots] indices
 * into lib->cands), as hant_transform_result's predicted_accuracy says. */
double hant_transform_predicted(const hant_library *lib, const int *choice);
/* The divergences' prediction of a choice: teacher accuracy - the summed
 * divergences, each weighed by its slot's calibrated weight when the
 * library has them, else by kl_slope (library.h's kl_pred_weight) (+ the summed int8 costs in an int8 view), on
 * the calibration's chance floor (hant_floor_predict with library.h's kl_floor_scale; the hard floor, at least
 * chance, in an uncalibrated library) (lib->has_divergence must hold). */
double hant_transform_predicted_divergence(const hant_library *lib, const int *choice);
/* The standard error of a score, sqrt(p (1 - p) / n) from the teacher's
 * validation accuracy p and validation image count n as the library
 * records them; 0 when either is missing (no noise threshold). */
double hant_transform_noise_se(const hant_library *lib);

/* Totals of a choice in its power mode. */
typedef struct hant_transform_totals {
  double score;             /* sum of the candidates' scores */
  double kl;                /* sum of their divergences (nats); NaN when the library has none */
  double latency_ms;        /* predicted: after the additivity correction */
  double latency_sum_ms;    /* plain sum of the candidates' latencies */
  double energy_mj;         /* per inference */
  double power_w;           /* energy / latency while inferring */
  double sustained_power_w; /* at the request's fps; -1 without fps */
  double memory_bytes;      /* summed weights + peak activations (an upper bound) */
  double macs;
} hant_transform_totals;

/* One of the best choices measured by re-ranking. */
typedef struct hant_transform_ranked {
  int *choice;               /* [n_slots] indices into lib->cands; points into the result's storage */
  int mode;                  /* index into the device's modes */
  char power_mode[32];       /* its name ("" when the device has none) */
  double predicted_accuracy; /* teacher_accuracy + summed scores, fraction 0-1 */
  double measured_accuracy;  /* on the result's rerank_images validation images, fraction 0-1 */
  hant_transform_totals totals;
} hant_transform_ranked;

typedef struct hant_transform_result {
  enum hant_select_status status;
  int has_choice;
  int n_slots;
  int *choice;         /* [n_slots] index into lib->cands of each slot's candidate; NULL without a choice */
  int mode;            /* index into the device's modes */
  char power_mode[32]; /* its name ("" when the device has none) */
  double teacher_accuracy;   /* validation accuracy of the teacher, fraction 0-1 */
  /* Validation accuracy predicted for the choice: with divergences,
   * teacher_accuracy - the summed divergences weighed per slot or by
   * kl_slope (hant_transform_predicted_divergence; never below chance)
   * unless the library is calibrated and its fit predicted the calibration
   * samples better (lib->calib_by_divergence false); then the fitted
   * predictor's (predictor.h); without either, teacher_accuracy + the
   * summed scores, which overestimates when many slots change. */
  double predicted_accuracy;
  double predicted_accuracy_error; /* the calibration's median absolute error of the prediction used (fraction); NaN when uncalibrated */
  bool prediction_calibrated;      /* the prediction is the calibrated one */
  /* What the solver maximised: "calibrated" (the fit's coefficients),
   * "divergence" (hant_transform_cand_value with divergences) or "scores". */
  char objective_values[16];
  hant_transform_totals totals;
  double grid_g_per_kwh;
  double co2e_g_per_million; /* grams of CO2e per million inferences at grid_g_per_kwh */
  /* When infeasible: the smallest total each budgeted kind can reach on
   * its own in the best mode for it (NaN for power_w), whether each budget
   * alone is out of reach in every mode, and whether only their
   * combination is. */
  double min_totals[HANT_BUDGET_KIND_COUNT];
  int over_budget[HANT_BUDGET_KIND_COUNT];
  int jointly_infeasible;
  /* The floor of each kind: the smallest total any choice reaches on its
   * own (other budgets ignored) in the best mode for it; power_w is the
   * smallest power while inferring (min over choices of E / T, exact by
   * a parametric search) or, with fps, the smallest sustained power.
   * Filled for every kind in every answer with costs. Per mode, in
   * mode_floor: the mode's idle power (W, -1 unknown) and power floor. */
  double floor[HANT_BUDGET_KIND_COUNT];
  int n_mode_floors;
  struct hant_transform_mode_floor {
    char power_mode[32];
    double idle_w;
    double power_floor_w;
  } *mode_floors; /* [n_mode_floors], one per mode considered */
  /* The teacher's own selection in the answer's mode (in mode 0 without
   * a choice); has_teacher is 0 when a slot has no costed teacher block. */
  int has_teacher;
  hant_transform_totals teacher_totals;
  double teacher_co2e_g_per_million;
  bool teacher_feasible;  /* it meets every budget in that mode */
  bool teacher_chosen;    /* the answer is the teacher (see above) */
  double noise_se;        /* the standard error below which gains count as 0 */
  double objective;       /* the summed values of the choice (hant_transform_value) */
  double gap;      /* 0 when optimal; see select.h */
  double bound;    /* proven upper bound on the summed score */
  uint64_t nodes;  /* branch-and-bound nodes, all modes */
  double solve_ms; /* building and solving, wall clock */
  int n_modes_tried;
  int skipped;     /* candidates left out for lack of a cost row on the device */
  bool latency_corrected;
  double correction_factor, correction_overhead_ms;
  /* With req->measure: solves done, the last measured latency, and whether
   * it met the budget (rounds is 0 when no measurement was made). */
  int measure_rounds;
  double measured_latency_ms;
  bool measured_fits;
  int64_t library_version;
  /* Precisions (issue 19). precision is the device profile's ("fp32",
   * "fp16", "int16", "int8"; "" when its profile does not parse): what
   * the network runs in there, and so each slot. scores_precision is what
   * the scores, teacher_accuracy and predicted_accuracy were measured in:
   * "int8" when the device computes in int8 and every candidate costed on
   * it has an int8 score (hant-distill quantize), and then the
   * teacher_accuracy is the int8 teacher's and the prediction is additive
   * and uncalibrated (the calibration was fitted on fp32 networks); "fp32"
   * otherwise, also on an int8 device, whose answer then says plainly that
   * its accuracy was measured in fp32. int8_missing counts the costed
   * candidates without an int8 score on an int8 device (0 elsewhere). */
  char precision[8];
  char scores_precision[8];
  int int8_missing;
  /* Measured re-ranking (req->rerank_k > 1 and a choice): the choices
   * measured, best predicted first, of which choice is ranked[chosen_rank],
   * the best measured (0 when the predicted optimum measured best too), and
   * the number of validation images each was measured on. chosen_by_measurement
   * is true when measured accuracy made the choice; n_ranked is then at
   * least 1 (fewer than rerank_k when fewer choices meet the budgets). */
  bool chosen_by_measurement;
  int chosen_rank;
  int n_ranked;
  hant_transform_ranked *ranked; /* [n_ranked] */
  int rerank_images;
} hant_transform_result;

void hant_transform_result_init(hant_transform_result *r);
void hant_transform_result_free(hant_transform_result *r);

/* Solves req on lib. Returns 0 whatever the status (optimal, infeasible,
 * time limit). Errors: HANT_ENOENT when the library is empty ("the library
 * is empty: ...") or has no costs for the device ("no costs for device X:
 * run hant-distill profile --db D --device X"); HANT_EINVAL for a request
 * that cannot be met as asked (unknown power mode, fps without idle power
 * in the profile), naming the field; HANT_ENOMEM. */
int hant_transform_solve(const hant_library *lib, const hant_transform_req *req, hant_transform_result *res);

/* ---- Pareto fronts ---------------------------------------------------- */

typedef struct hant_transform_front_mode {
  char power_mode[32];
  int approximate;   /* see hant_select_front_new */
  double cost_error; /* axis slack of an approximate front */
  int n_points;
  double *cost;      /* [n_points] axis total, in the axis kind's unit */
  double *score;     /* [n_points] summed score */
  int *choice;       /* [n_points, n_slots] indices into lib->cands */
  int infeasible;    /* 1 when no choice meets the other budgets in this mode */
  /* The teacher's own selection in this mode (0 when a slot has no costed
   * teacher block): its totals, and its cost on the axis. */
  int has_teacher;
  hant_transform_totals teacher_totals;
  double teacher_cost;
} hant_transform_front_mode;

typedef struct hant_transform_front {
  hant_budget_kind axis;
  int n_slots;
  double teacher_accuracy;
  int n_modes;
  hant_transform_front_mode *modes;
  double solve_ms;
  int64_t library_version;
} hant_transform_front;

/* The front of summed score (single-slot scores, even in a calibrated
 * library) against one cost kind (latency_ms, energy_mj,
 * memory_bytes or macs; not power_w, which is not additive) for every
 * mode of the device, or the one asked for. With respect_budgets, every
 * point also meets req's other budgets (the axis's own budget is
 * ignored). points > 0 samples each front at that many evenly spaced
 * levels (duplicates dropped); 0 keeps every point. On success *out is
 * new; release it with hant_transform_front_destroy. Errors as
 * hant_transform_solve, and HANT_EINVAL for a bad axis. */
int hant_transform_front_new(const hant_library *lib, const hant_transform_req *req, hant_budget_kind axis,
                             int points, bool respect_budgets, hant_transform_front **out);
void hant_transform_front_destroy(hant_transform_front *f);

#endif
