/* SPDX-License-Identifier: MIT */
/* family_internal.h: what the family files share: the candidate list, slot geometry and weight transfer. */
#ifndef HANT_FAMILY_INTERNAL_H
#define HANT_FAMILY_INTERNAL_H

#include <stdbool.h>

#include "family.h"
#include "jsonw.h"
#include "slots.h"

typedef struct cand_list {
  hant_cand_spec *v;
  int n, cap;
} cand_list;

/* Geometry of a slot, read from its teacher block. */
typedef struct slot_geom {
  const hant_net *teacher;
  int slot;
  const hant_slot *s;
  char kind[16];
  int cin, cout, k, stride, mid; /* mid: inner width (res: first conv's outputs; ir: expanded) */
  int e;                         /* ir expansion */
  bool expand, skip;             /* ir: has its 1x1 expansion conv; adds its input */
  bool same_shape;               /* input and output shapes equal */
} slot_geom;

/* Bytes of a candidate's hyper-parameter text, as in hant_cand_spec. */
#define HANT__HPARAMS_BYTES 256

/* Appends a candidate; printf-style block line. Duplicate keys are dropped.
 * hparams is a writer into a buffer of HANT__HPARAMS_BYTES holding the
 * family's parameters as one JSON object; HANT_ELIMIT when they did not
 * fit. The text is stored and compared as it is, so generators write it
 * in a fixed key order and fixed digits. */
int hant__cand_add(cand_list *l, hant_family f, const char *init, const char *key, const hant_jsonw *hparams,
                   const char *block_fmt, ...) __attribute__((format(printf, 6, 7)));

/* Integer option "name=V" of an architecture line, or def. */
int hant__desc_int(const char *desc, const char *name, int def);


/* Copies all weight and bias tensors from the teacher slot to the
 * candidate when the two have the same sequence of shapes. */
int hant__copy_teacher(const hant_net *teacher, int slot, hant_net *cand);

/* Family generators and initialisers. */
int hant__gen_teacher(const slot_geom *g, cand_list *l);
int hant__gen_identity(const slot_geom *g, cand_list *l);
int hant__gen_width(const slot_geom *g, cand_list *l);
int hant__gen_kernel(const slot_geom *g, cand_list *l);
int hant__gen_dws(const slot_geom *g, cand_list *l);
int hant__gen_ir(const slot_geom *g, cand_list *l);
int hant__gen_lowrank(const slot_geom *g, cand_list *l);
int hant__gen_group(const slot_geom *g, cand_list *l);
int hant__gen_prune(const slot_geom *g, cand_list *l);
/* Squeeze-and-excitation slots (se_ir, se_bottleneck): width, prune,
 * kernel and identity (the block without its SE) candidates, each family
 * only when its bit is in mask (family_se.c). */
int hant__gen_se(const slot_geom *g, unsigned mask, cand_list *l);

/* Inner-channel selection (width: first M; prune: top M by L1). */
int hant__init_channels(const hant_net *teacher, int slot, hant_net *cand, bool by_l1);
int hant__init_kernel(const hant_net *teacher, int slot, hant_net *cand);
int hant__init_svd(const hant_net *teacher, int slot, hant_net *cand);
int hant__init_group(const hant_net *teacher, int slot, hant_net *cand);
/* how: "se-slice" (the first hidden channels), "se-l1-prune" (those of
 * largest L1 norm) or "se-drop" (every layer but the SE's). */
int hant__init_se(const hant_net *teacher, int slot, hant_net *cand, const char *how);

#endif
