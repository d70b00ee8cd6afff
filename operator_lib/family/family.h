/* SPDX-License-Identifier: MIT */
/* family.h: operator families, and the candidate replacements they generate for a teacher's slots. */
#ifndef HANT_FAMILY_H
#define HANT_FAMILY_H

#include <stdint.h>

#include "net.h"
#include "rng.h"

/* The families of the product brief, section 5 (int8 comes later), plus
 * the teacher's own block, kept so selection can leave a slot as it is. */
typedef enum hant_family {
  HANT_FAMILY_TEACHER,  /* the teacher block itself (BN folded) */
  HANT_FAMILY_IDENTITY, /* skip, or one conv for a two-conv block (elastic depth) */
  HANT_FAMILY_WIDTH,    /* fewer inner channels, tile-aligned, sliced from the teacher */
  HANT_FAMILY_KERNEL,   /* kernel 1, 5 or 7, cropped or padded from the teacher */
  HANT_FAMILY_DWS,      /* depthwise kxk then pointwise 1x1 */
  HANT_FAMILY_IR,       /* inverted residual: expand, depthwise, project */
  HANT_FAMILY_LOWRANK,  /* kxk as kx1 + 1xk, or linear as in->r->out, by SVD */
  HANT_FAMILY_GROUP,    /* grouped convolution, g = 2, 4, 8, block-diagonal init */
  HANT_FAMILY_PRUNE,    /* keep 30-70% of inner channels by L1 importance */
  HANT_FAMILY_COUNT
} hant_family;

const char *hant_family_name(hant_family f);
/* HANT_FAMILY_COUNT for an unknown name. */
hant_family hant_family_from_name(const char *s);
/* Parses a comma-separated list ("width,lowrank" or "all") into a bit mask
 * over hant_family. The teacher family is always included. Returns 0 or
 * HANT_EINVAL naming the unknown family. */
int hant_family_mask(const char *list, unsigned *mask);

/* One candidate to build and train for a slot. */
typedef struct hant_cand_spec {
  hant_family family;
  char key[96];      /* unique within the slot, e.g. "ir e=4 k=5" */
  char block[192];   /* architecture line of the replacement block */
  char hparams[256]; /* JSON object of the family's parameters */
  char init[24];     /* teacher, slice, l1-prune, kernel, svd, group-slice, random */
} hant_cand_spec;

/* Generates the candidates of every family in `mask` for slot `slot` of
 * the teacher, whose batch norms must already be folded
 * (hant_net_fold_bn). *out is malloc'd. */
int hant_family_generate(const hant_net *teacher, int slot, unsigned mask, hant_cand_spec **out, int *n);

/* Keeps at most per_family candidates of each family in specs[0..n),
 * spread evenly over the family's list from its first to its last (so
 * the smallest and the largest of a family's ratios stay), in their
 * order; the teacher's own block always stays. per_family <= 0 keeps
 * everything. Returns the new count; the specs kept move to the front. */
int hant_family_thin(hant_cand_spec *specs, int n, int per_family);

/* Builds the candidate network "input CxHxW; <block>" for the slot and
 * initialises it: from the teacher's weights when spec->init says so,
 * otherwise He-random from seed. */
int hant_candidate_build(const hant_net *teacher, int slot, const hant_cand_spec *spec, uint64_t seed,
                         hant_net **out);

/* Seed of a candidate: a hash of the build seed, the slot and the key, so
 * a candidate trains the same whatever else is built with it. */
uint64_t hant_candidate_seed(uint64_t base, int slot, const char *key);

#endif
