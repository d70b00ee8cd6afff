/* SPDX-License-Identifier: MIT */
/* divergence.c: measures candidates' divergences from the teacher on assembled networks and commits each. */
#include "divergence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "deploy.h"
#include "infer.h"
#include "ops.h"

enum { BATCH = 250 };

int hant_divergence_logits(hant_net *net, const hant_dataset *ds, float **out) {
  *out = NULL;
  int k = ds->classes;
  size_t per = (size_t)ds->c * ds->h * ds->w;
  float *x = hant_alloc(per * BATCH * sizeof(float));
  float *all = malloc(sizeof(float) * (size_t)k * (size_t)(ds->n > 0 ? ds->n : 1));
  int idx[BATCH], lab[BATCH];
  hant_infer *inf = NULL;
  int rc = x && all ? hant_infer_new(net, &inf) : HANT_ENOMEM;
  for (int b0 = 0; !rc && b0 < ds->n; b0 += BATCH) {
    int nb = ds->n - b0 < BATCH ? ds->n - b0 : BATCH;
    for (int i = 0; i < nb; i++)
      idx[i] = b0 + i;
    hant_dataset_batch(ds, idx, nb, false, 0, NULL, x, lab);
    const float *z;
    if (!(rc = hant_infer_run(inf, x, nb, &z)))
      memcpy(all + (size_t)b0 * (size_t)k, z, sizeof(float) * (size_t)nb * (size_t)k);
  }
  hant_infer_free(inf);
  hant_free(x);
  if (rc)
    free(all);
  else
    *out = all;
  return rc;
}

/* Each slot's teacher block (family "teacher"); HANT_ENOENT naming the
 * slot without one. */
static int teacher_choice(const hant_library *lib, int *choice) {
  for (int s = 0; s < lib->n_slots; s++) {
    choice[s] = -1;
    for (int j = 0; j < lib->slot_count[s] && choice[s] < 0; j++)
      if (!strcmp(lib->cands[lib->slot_first[s] + j].family, "teacher"))
        choice[s] = lib->slot_first[s] + j;
    if (choice[s] < 0)
      return hant__error(HANT_ENOENT, "%s: slot %s has no teacher block to measure divergences against", lib->path,
                         lib->slots[s].name);
  }
  return 0;
}

int hant_divergence_measure(hant_store *st, const hant_library *lib, const hant_dataset *val,
                            int (*progress)(void *user, int done, int total, const char *note), void *user,
                            hant_divergence_summary *sum) {
  memset(sum, 0, sizeof(*sum));
  double t0 = hant_now_s();
  for (int c = 0; c < lib->n_cands; c++)
    sum->missing += lib->cands[c].kl_images <= 0;
  if (!sum->missing)
    return 0;
  if (val->n < 1)
    return hant__error(HANT_EINVAL, "divergences need at least one validation image");
  int ns = lib->n_slots, k = val->classes;
  int *teacher = malloc(sizeof(int) * (size_t)ns), *choice = malloc(sizeof(int) * (size_t)ns);
  float *zt = NULL, *z = NULL;
  hant_net *net = NULL;
  int rc = teacher && choice ? teacher_choice(lib, teacher) : HANT_ENOMEM;
  if (!rc && !(rc = hant_deploy_assemble_choice(st, lib, teacher, ns, &net)))
    rc = hant_divergence_logits(net, val, &zt);
  hant_net_destroy(net);
  net = NULL;
  for (int s = 0, done = 0; s < ns && !rc; s++)
    for (int j = 0; j < lib->slot_count[s] && !rc; j++) {
      int c = lib->slot_first[s] + j;
      const hant_cand_rec *cr = &lib->cands[c];
      if (cr->kl_images > 0)
        continue;
      memcpy(choice, teacher, sizeof(int) * (size_t)ns);
      choice[s] = c;
      if ((rc = hant_deploy_assemble_choice(st, lib, choice, ns, &net)) || (rc = hant_divergence_logits(net, val, &z)))
        break;
      hant_net_destroy(net);
      net = NULL;
      double kl = 0;
      for (int i = 0; i < val->n; i++)
        kl += hant_kl_logits(zt + (size_t)i * (size_t)k, z + (size_t)i * (size_t)k, k);
      free(z);
      z = NULL;
      if ((rc = hant_store_divergence_put(st, cr->id, kl / val->n, val->n)))
        break;
      sum->measured++;
      done++;
      if (progress) {
        char note[160];
        snprintf(note, sizeof(note), "divergence of %s %s: %.4f nats", lib->slots[s].name, cr->key, kl / val->n);
        if (progress(user, done, sum->missing, note))
          rc = hant__error(HANT_ECANCELED, "divergences: stopped after %d of %d candidates", done, sum->missing);
      }
    }
  hant_net_destroy(net);
  free(z);
  free(zt);
  free(teacher);
  free(choice);
  sum->seconds = hant_now_s() - t0;
  return rc;
}
