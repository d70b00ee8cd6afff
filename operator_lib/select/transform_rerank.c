/* SPDX-License-Identifier: MIT */
/* transform_rerank.c: measured re-ranking of a transform: the K best choices by predicted accuracy, each assembled and measured on validation images, and the best measured made the answer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "power.h"
#include "transform_internal.h"

/* A choice found in one mode. */
struct found {
  int mi;        /* index into sp->mode */
  int *choice;   /* [n_slots] indices into lib->cands */
  double score;  /* summed scores */
  double energy; /* energy_mj in its mode: breaks ties in score */
};

/* a ranks before b: a higher summed score (beyond the solver's value
 * tolerance), then lower energy, then the earlier mode. */
static int ranks_before(const struct found *a, const struct found *b, double vtol) {
  if (fabs(a->score - b->score) > vtol)
    return a->score > b->score;
  if (a->energy != b->energy)
    return a->energy < b->energy;
  return a->mi < b->mi;
}

static void ranked_free(hant_transform_ranked *r, int n) {
  if (!r)
    return;
  for (int i = 0; i < n; i++)
    free(r[i].choice);
  free(r);
}

int hant__transform_rerank(const struct hant__transform_space *sp, const hant_transform_req *req,
                           hant_transform_result *res) {
  int k = req->rerank_k, images = req->rerank_images > 0 ? req->rerank_images : HANT_TRANSFORM_RERANK_IMAGES_DEFAULT;
  size_t S = (size_t)sp->n_slots;
  if (k <= 1 || !req->accuracy || !res->has_choice)
    return 0;
  if (k > HANT_TRANSFORM_RERANK_K_MAX)
    return hant__error(HANT_EINVAL, "rerank_k: at most %d choices can be measured, not %d",
                       HANT_TRANSFORM_RERANK_K_MAX, k);
  struct found *f = calloc((size_t)sp->n_modes * (size_t)k, sizeof *f);
  hant_transform_ranked *rk = NULL;
  int nf = 0, nr = 0, rc = 0;
  struct hant_select_kbest kb;
  hant_select_kbest_init(&kb);
  if (!f)
    return hant__error(HANT_ENOMEM, "rerank: out of memory");
  /* The K best of each mode hold the K best over all modes: a choice
   * among the K best overall has fewer than K better ones in any mode
   * where it fits. */
  double vscale = 0;
  for (int m = 0; m < sp->n_modes; m++) {
    if ((rc = hant_select_kbest(&sp->problem[m], (size_t)k, &kb)))
      goto out;
    for (size_t i = 0; i < kb.n; i++) {
      struct found *e = &f[nf];
      if (!(e->choice = malloc(S * sizeof *e->choice))) {
        rc = hant__error(HANT_ENOMEM, "rerank: out of memory");
        goto out;
      }
      nf++;
      size_t o = 0;
      for (size_t s = 0; s < S; s++) {
        e->choice[s] = sp->item[o + kb.choice[i * S + s]];
        o += sp->gsize[s];
      }
      e->mi = m;
      e->score = kb.objective[i];
      hant_transform_totals t;
      sp->totals(sp->ctx, sp->mode[m], e->choice, &t);
      e->energy = t.energy_mj;
      vscale = fmax(vscale, fabs(e->score));
    }
  }
  double vtol = 1e-9 * (1 + vscale);
  /* Best predicted first; a choice found in several modes keeps its best. */
  for (int i = 1; i < nf; i++) {
    struct found x = f[i];
    int j = i;
    for (; j > 0 && ranks_before(&x, &f[j - 1], vtol); j--)
      f[j] = f[j - 1];
    f[j] = x;
  }
  if (!(rk = calloc((size_t)k, sizeof *rk))) {
    rc = hant__error(HANT_ENOMEM, "rerank: out of memory");
    goto out;
  }
  for (int i = 0; i < nf && nr < k; i++) {
    bool dup = false;
    for (int j = 0; j < nr && !dup; j++)
      dup = !memcmp(rk[j].choice, f[i].choice, S * sizeof *f[i].choice);
    if (dup)
      continue;
    hant_transform_ranked *r = &rk[nr++];
    r->choice = f[i].choice;
    f[i].choice = NULL;
    r->mode = sp->mode[f[i].mi];
    snprintf(r->power_mode, sizeof(r->power_mode), "%s", sp->dev->modes[r->mode].name);
    sp->totals(sp->ctx, r->mode, r->choice, &r->totals);
    r->predicted_accuracy = hant_transform_predicted(sp->lib, r->choice);
  }
  /* Every choice on the same images, so that their differences are the
   * networks', not the samples'. */
  int best = 0;
  bool int8 = !strcmp(res->scores_precision, "int8");
  for (int i = 0; i < nr; i++) {
    if ((rc = req->accuracy(req->accuracy_user, rk[i].choice, sp->n_slots, images, int8, &rk[i].measured_accuracy)))
      goto out;
    /* Strictly better only: a tie keeps the higher predicted, which ranks
     * first (and, among equal predictions, the lower energy). */
    if (rk[i].measured_accuracy > rk[best].measured_accuracy)
      best = i;
  }
  if (nr == 0)
    goto out; /* the solve had a choice, so this is not reached; keep the prediction */
  int *choice = malloc(S * sizeof *choice);
  if (!choice) {
    rc = hant__error(HANT_ENOMEM, "rerank: out of memory");
    goto out;
  }
  memcpy(choice, rk[best].choice, S * sizeof *choice);
  free(res->choice);
  res->choice = choice;
  res->mode = rk[best].mode;
  snprintf(res->power_mode, sizeof(res->power_mode), "%s", rk[best].power_mode);
  res->totals = rk[best].totals;
  res->predicted_accuracy = rk[best].predicted_accuracy;
  res->co2e_g_per_million = hant_power_co2_g_per_million(res->totals.energy_mj, res->grid_g_per_kwh);
  res->chosen_by_measurement = true;
  res->chosen_rank = best;
  res->n_ranked = nr;
  res->ranked = rk;
  res->rerank_images = images;
  rk = NULL;
out:
  ranked_free(rk, nr);
  for (int i = 0; i < nf; i++)
    free(f[i].choice);
  free(f);
  hant_select_kbest_free(&kb);
  return rc;
}
