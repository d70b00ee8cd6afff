/* SPDX-License-Identifier: MIT */
/* family_teacher.c: the teacher's own block as a candidate, so selection can keep a slot unchanged. */
#include <stdio.h>
#include <string.h>

#include "family_internal.h"

int hant__gen_teacher(const slot_geom *g, cand_list *l) {
  /* The teacher is folded, so its block is the bn=0 form of its line:
   * drop any bn= option and append bn=0. */
  bool bn_opt = !strcmp(g->kind, "conv") || !strcmp(g->kind, "res") || !strcmp(g->kind, "ir") ||
                !strcmp(g->kind, "dws") || !strcmp(g->kind, "bottleneck") || !strcmp(g->kind, "shuffle") ||
                !strcmp(g->kind, "fire") || !strcmp(g->kind, "inception") ||
                !strcmp(g->kind, "se_ir") || !strcmp(g->kind, "se_bottleneck");
  char d[192] = "";
  char buf[192];
  snprintf(buf, sizeof(buf), "%s", g->s->desc);
  for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
    if (!strncmp(t, "bn=", 3))
      continue;
    size_t n = strlen(d);
    snprintf(d + n, sizeof(d) - n, "%s%s", n ? " " : "", t);
  }
  /* The teacher's block has no parameters of its own: an empty object. */
  char hp[HANT__HPARAMS_BYTES];
  hant_jsonw w;
  hant_jsonw_init_buf(&w, hp, sizeof(hp));
  hant_jsonw_obj_begin(&w);
  hant_jsonw_obj_end(&w);
  return hant__cand_add(l, HANT_FAMILY_TEACHER, "teacher", "teacher", &w, "%s%s", d, bn_opt ? " bn=0" : "");
}
