/* SPDX-License-Identifier: MIT */
/* family.c: the family registry, candidate lists, and building a candidate network from its spec. */
#include "family.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "arch.h"
#include "family_internal.h"
#include "fnv.h"
#include "base.h"

static const struct {
  const char *name;
  int (*gen)(const slot_geom *g, cand_list *l);
} families[] = {
    [HANT_FAMILY_TEACHER] = {"teacher", hant__gen_teacher},
    [HANT_FAMILY_IDENTITY] = {"identity", hant__gen_identity},
    [HANT_FAMILY_WIDTH] = {"width", hant__gen_width},
    [HANT_FAMILY_KERNEL] = {"kernel", hant__gen_kernel},
    [HANT_FAMILY_DWS] = {"dws", hant__gen_dws},
    [HANT_FAMILY_IR] = {"ir", hant__gen_ir},
    [HANT_FAMILY_LOWRANK] = {"lowrank", hant__gen_lowrank},
    [HANT_FAMILY_GROUP] = {"group", hant__gen_group},
    [HANT_FAMILY_PRUNE] = {"prune", hant__gen_prune},
};
_Static_assert(sizeof(families) / sizeof(families[0]) == HANT_FAMILY_COUNT, "every family needs an entry");

const char *hant_family_name(hant_family f) {
  return (unsigned)f < HANT_FAMILY_COUNT ? families[f].name : "?";
}

hant_family hant_family_from_name(const char *s) {
  for (int i = 0; i < HANT_FAMILY_COUNT; i++)
    if (!strcmp(s, families[i].name))
      return (hant_family)i;
  return HANT_FAMILY_COUNT;
}

int hant_family_mask(const char *list, unsigned *mask) {
  *mask = 1u << HANT_FAMILY_TEACHER;
  if (!list || !strcmp(list, "all")) {
    *mask = (1u << HANT_FAMILY_COUNT) - 1;
    return 0;
  }
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", list);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    hant_family f = hant_family_from_name(t);
    if (f == HANT_FAMILY_COUNT)
      return hant__error(HANT_EINVAL,
                         "unknown family '%s' (expected identity, width, kernel, dws, ir, lowrank, group, prune or all)", t);
    *mask |= 1u << f;
  }
  return 0;
}

_Static_assert(HANT__HPARAMS_BYTES == sizeof(((hant_cand_spec *)0)->hparams), "hparams buffers match the spec");

int hant__cand_add(cand_list *l, hant_family f, const char *init, const char *key, const hant_jsonw *hparams,
                   const char *block_fmt, ...) {
  if (hant_jsonw_error(hparams))
    return hant__error(hant_jsonw_error(hparams), "candidate '%s': its hyper-parameters exceed %d bytes", key,
                       HANT__HPARAMS_BYTES);
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->v[i].key, key))
      return 0;
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 32;
    hant_cand_spec *v = realloc(l->v, sizeof(*v) * (size_t)cap);
    if (!v)
      return HANT_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  hant_cand_spec *c = &l->v[l->n++];
  memset(c, 0, sizeof(*c));
  c->family = f;
  snprintf(c->key, sizeof(c->key), "%s", key);
  snprintf(c->hparams, sizeof(c->hparams), "%s", hparams->buf);
  snprintf(c->init, sizeof(c->init), "%s", init);
  va_list ap;
  va_start(ap, block_fmt);
  vsnprintf(c->block, sizeof(c->block), block_fmt, ap);
  va_end(ap);
  return 0;
}

int hant__desc_int(const char *desc, const char *name, int def) {
  size_t n = strlen(name);
  for (const char *p = desc; (p = strstr(p, name)); p += n) {
    bool start = p == desc || p[-1] == ' ';
    if (start && p[n] == '=')
      return atoi(p + n + 1);
  }
  return def;
}

int hant__copy_teacher(const hant_net *teacher, int slot, hant_net *cand) {
  int tw[16], cw[16];
  int nt = hant_slot_weight_nodes(teacher, slot, tw, 16), nc = hant_net_weight_nodes(cand, cw, 16);
  if (nt != nc)
    return hant__error(HANT_ESHAPE, "teacher slot %d has %d weight layers, the candidate %d", slot, nt, nc);
  for (int i = 0; i < nt; i++)
    for (int j = 0; j < 2; j++) {
      int pt = teacher->nodes[tw[i]].param[j], pc = cand->nodes[cw[i]].param[j];
      if ((pt < 0) != (pc < 0))
        return hant__error(HANT_ESHAPE, "slot %d layer %d: bias present in one of teacher and candidate only", slot, i);
      if (pt < 0)
        continue;
      if (teacher->params[pt].n != cand->params[pc].n)
        return hant__error(HANT_ESHAPE, "slot %d layer %d: %zu teacher values, %zu candidate values", slot, i,
                           teacher->params[pt].n, cand->params[pc].n);
      memcpy(cand->params[pc].w, teacher->params[pt].w, teacher->params[pt].n * sizeof(float));
    }
  return 0;
}

static int geometry(const hant_net *t, int slot, slot_geom *g) {
  if (slot < 0 || slot >= t->n_slots)
    return hant__error(HANT_EINVAL, "slot %d does not exist (teacher has %d)", slot, t->n_slots);
  const hant_slot *s = &t->slots[slot];
  for (int i = s->first; i <= s->last; i++)
    if (t->nodes[i].op == HANT_OP_BN)
      return hant__error(HANT_EINVAL, "slot %s still has batch norm: fold the teacher first", s->name);
  memset(g, 0, sizeof(*g));
  g->teacher = t;
  g->slot = slot;
  g->s = s;
  snprintf(g->kind, sizeof(g->kind), "%s", s->kind);
  g->cin = s->in_c;
  g->cout = s->out_c;
  g->k = hant__desc_int(s->desc, "k", 3);
  g->stride = hant__desc_int(s->desc, "s", 1);
  g->e = hant__desc_int(s->desc, "e", 6);
  g->mid = hant__desc_int(s->desc, "mid", !strcmp(s->kind, "ir") ? s->in_c * g->e : s->out_c);
  g->expand = hant__desc_int(s->desc, "expand", g->mid != s->in_c) != 0;
  g->skip = hant__desc_int(s->desc, "skip", g->stride == 1 && s->in_c == s->out_c) != 0;
  g->same_shape = s->in_c == s->out_c && s->in_h == s->out_h && s->in_w == s->out_w;
  return 0;
}

int hant_family_generate(const hant_net *teacher, int slot, unsigned mask, hant_cand_spec **out, int *n) {
  slot_geom g;
  cand_list l = {0};
  *out = NULL;
  *n = 0;
  int rc = geometry(teacher, slot, &g);
  if (rc)
    return rc;
  mask |= 1u << HANT_FAMILY_TEACHER;
  for (int f = 0; f < HANT_FAMILY_COUNT; f++) {
    if (!(mask & (1u << f)))
      continue;
    if ((rc = families[f].gen(&g, &l))) {
      free(l.v);
      return rc;
    }
  }
  if ((rc = hant__gen_se(&g, mask, &l))) { /* squeeze-and-excitation slots, several families */
    free(l.v);
    return rc;
  }
  *out = l.v;
  *n = l.n;
  return 0;
}

int hant_family_thin(hant_cand_spec *specs, int n, int per_family) {
  if (per_family <= 0)
    return n;
  int count[HANT_FAMILY_COUNT] = {0}, seen[HANT_FAMILY_COUNT] = {0}, kept = 0;
  for (int i = 0; i < n; i++)
    count[specs[i].family]++;
  for (int i = 0; i < n; i++) {
    hant_family f = specs[i].family;
    int m = count[f], j = seen[f]++;
    bool keep = f == HANT_FAMILY_TEACHER || m <= per_family;
    /* Index j is kept when it is the nearest to one of per_family evenly
     * spaced points from 0 to m - 1 (one point: the first). */
    for (int k = 0; !keep && k < per_family; k++) {
      long pick = per_family == 1 ? 0 : ((long)k * (m - 1) * 2 + (per_family - 1)) / (2L * (per_family - 1));
      keep = pick == j;
    }
    if (keep)
      specs[kept++] = specs[i];
  }
  return kept;
}

uint64_t hant_candidate_seed(uint64_t base, int slot, const char *key) {
  /* FNV-1a over the key, from the base seed and the slot mixed into a
   * basis that is not HANT_FNV_BASIS but the one first written here, one
   * digit short of FNV's: every library's seeds, and so its weights,
   * depend on it. */
  return hant_fnv_str(1469598103934665603ull ^ (base * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)slot << 32), key);
}

int hant_candidate_build(const hant_net *teacher, int slot, const hant_cand_spec *spec, uint64_t seed,
                         hant_net **out) {
  *out = NULL;
  if (slot < 0 || slot >= teacher->n_slots)
    return hant__error(HANT_EINVAL, "slot %d does not exist", slot);
  const hant_slot *s = &teacher->slots[slot];
  char arch[320];
  snprintf(arch, sizeof(arch), "input %dx%dx%d; %s", s->in_c, s->in_h, s->in_w, spec->block);
  hant_net *c = hant_arch_build(arch, spec->key);
  if (!c)
    return HANT_EFORMAT;
  if (c->nodes[hant_net_output(c)].c != s->out_c || c->nodes[hant_net_output(c)].h != s->out_h ||
      c->nodes[hant_net_output(c)].w != s->out_w) {
    const hant_node *o = &c->nodes[hant_net_output(c)];
    int rc = hant__error(HANT_ESHAPE, "candidate '%s' outputs %dx%dx%d, slot %s needs %dx%dx%d", spec->key, o->c, o->h,
                         o->w, s->name, s->out_c, s->out_h, s->out_w);
    hant_net_destroy(c);
    return rc;
  }
  hant_rng rng;
  hant_rng_seed(&rng, seed);
  hant_net_init_params(c, &rng);
  int rc = 0;
  if (!strcmp(spec->init, "teacher"))
    rc = hant__copy_teacher(teacher, slot, c);
  else if (!strcmp(spec->init, "slice"))
    rc = hant__init_channels(teacher, slot, c, false);
  else if (!strcmp(spec->init, "l1-prune"))
    rc = hant__init_channels(teacher, slot, c, true);
  else if (!strcmp(spec->init, "kernel"))
    rc = hant__init_kernel(teacher, slot, c);
  else if (!strcmp(spec->init, "svd"))
    rc = hant__init_svd(teacher, slot, c);
  else if (!strcmp(spec->init, "group-slice"))
    rc = hant__init_group(teacher, slot, c);
  else if (!strncmp(spec->init, "se-", 3))
    rc = hant__init_se(teacher, slot, c, spec->init);
  else if (strcmp(spec->init, "random") && strcmp(spec->init, "none"))
    rc = hant__error(HANT_EINVAL, "candidate '%s': unknown initialisation '%s'", spec->key, spec->init);
  if (rc) {
    hant_net_destroy(c);
    return rc;
  }
  *out = c;
  return 0;
}
