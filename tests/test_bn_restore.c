/* SPDX-License-Identifier: MIT */
/* test_bn_restore.c: batch norms restored into a folded network start as identities, and fold back to the function the trained copy computes. */
#include <string.h>

#include "arch.h"
#include "bn_restore.h"
#include "kernels.h"
#include "hant.h"
#include "test_util.h"

#define N_IMG 64

/* Eval-mode logits of net on the first N_IMG images of ds. */
static float *logits(hant_net *net, const hant_dataset *ds) {
  hant_pass p;
  hant_pass_init(&p);
  float *x = malloc(sizeof(float) * 784 * N_IMG), *z = malloc(sizeof(float) * 10 * N_IMG);
  int idx[N_IMG], lab[N_IMG];
  for (int i = 0; i < N_IMG; i++)
    idx[i] = i;
  hant_dataset_batch(ds, idx, N_IMG, false, 0, NULL, x, lab);
  HANT_ASSERT(hant_net_forward(net, &p, x, N_IMG, false) == 0);
  memcpy(z, p.out[hant_net_output(net)], sizeof(float) * 10 * N_IMG);
  hant_pass_free(&p);
  free(x);
  return z;
}

int main(void) {
  hant_threads_set(1);
  hant_dataset tr, va;
  if (hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_TRAIN, 2048, &tr) ||
      hant_fmnist_load(hant_fmnist_dir(), HANT_SPLIT_VAL, 256, &va)) {
    CHECK(0, "Fashion-MNIST is needed: %s", hant_errmsg());
    return test_summary("test_bn_restore");
  }
  /* A trained network with batch norms, folded as a teacher is; then a
   * depthwise-separable block with its own batch norms, as a randomly
   * initialised candidate brings, and a low-rank pair whose first factor
   * has no bias. */
  hant_net *net = hant_arch_build("input 1x28x28; conv 8 s=2; res 16 s=2 mid=8; dws 16 k=3 s=1; gap; linear 10", "n");
  HANT_ASSERT(net);
  hant_rng rng;
  hant_rng_seed(&rng, 3);
  hant_net_init_params(net, &rng);
  hant_train_opts to;
  hant_train_opts_default(&to);
  to.epochs = 1;
  to.batch = 64;
  to.lr = 0.05f;
  hant_train_result tres;
  CHECK(hant_train_classifier(net, &tr, NULL, &to, &tres) == 0, "training: %s", hant_errmsg());
  int bn_before = 0;
  for (int i = 0; i < net->n_nodes; i++)
    bn_before += net->nodes[i].op == HANT_OP_BN;
  /* The same network folded, as a teacher is. */
  hant_net *folded = hant_arch_build("input 1x28x28; conv 8 s=2; res 16 s=2 mid=8; dws 16 k=3 s=1; gap; linear 10", "f");
  for (int i = 0; i < net->n_params; i++)
    memcpy(folded->params[i].w, net->params[i].w, sizeof(float) * net->params[i].n);
  CHECK(hant_net_fold_bn(folded) == 0, "fold: %s", hant_errmsg());
  int convs_with_bias = 0;
  for (int i = 0; i < folded->n_nodes; i++)
    convs_with_bias += folded->nodes[i].op == HANT_OP_CONV && folded->nodes[i].param[1] >= 0;
  float *z_folded = logits(folded, &va);

  hant_bn_restored r;
  CHECK(hant_bn_restore(folded, &tr, 1024, &r) == 0, "restore: %s", hant_errmsg());
  /* Every conv was folded (the dws block's too), so every one gets its batch norm back. */
  CHECK(r.restored == convs_with_bias && r.restored > 0, "restored %d batch norms, %d convs have a bias", r.restored,
        convs_with_bias);
  int bn_copy = 0;
  for (int i = 0; i < r.net->n_nodes; i++)
    bn_copy += r.net->nodes[i].op == HANT_OP_BN;
  CHECK(bn_copy == r.restored, "the copy has %d batch norms, %d restored", bn_copy, r.restored);
  float *z_copy = logits(r.net, &va);
  double d0 = t_rel_diff(z_copy, z_folded, 10 * N_IMG);
  CHECK(d0 < 1e-4, "restored copy differs from the folded network by %g", d0);

  /* Train the copy; folding back must give the copy's eval function. */
  to.max_steps = 20;
  to.lr = 0.02f;
  CHECK(hant_train_classifier(r.net, &tr, NULL, &to, &tres) == 0, "training the copy: %s", hant_errmsg());
  float *z_trained = logits(r.net, &va);
  double moved = t_rel_diff(z_trained, z_folded, 10 * N_IMG);
  CHECK(moved > 1e-3, "20 training steps did not change the copy (%g)", moved);
  CHECK(hant_bn_refold(&r, folded) == 0, "refold: %s", hant_errmsg());
  float *z_refolded = logits(folded, &va);
  double d1 = t_rel_diff(z_refolded, z_trained, 10 * N_IMG);
  CHECK(d1 < 1e-4, "refolded network differs from the trained copy by %g", d1);

  /* Convolutions that a batch norm still reads get none. */
  hant_bn_restored unfolded;
  CHECK(hant_bn_restore(net, &tr, 256, &unfolded) == 0, "restore: %s", hant_errmsg());
  CHECK(unfolded.restored == 0, "%d batch norms restored into a network that has its own", unfolded.restored);
  hant_bn_restored_free(&unfolded);

  /* A network of another shape is refused. */
  hant_net *other = hant_arch_build("input 1x28x28; conv 8 s=2; gap; linear 10", "o");
  CHECK(hant_bn_refold(&r, other) == HANT_EINVAL, "refolding into another network was accepted");
  CHECK(bn_before > 0, "the test network had no batch norm");

  free(z_folded), free(z_copy), free(z_trained), free(z_refolded);
  hant_net_destroy(other);
  hant_bn_restored_free(&r);
  hant_net_destroy(folded);
  hant_net_destroy(net);
  hant_dataset_free(&tr);
  hant_dataset_free(&va);
  return test_summary("test_bn_restore");
}
