/* SPDX-License-Identifier: MIT */
/* family_se.c: candidates for squeeze-and-excitation slots (se_ir, se_bottleneck): width, pruning, kernel and the block without its SE. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "family_internal.h"
#include "base.h"
#include "jsonw.h"

/* The slot's own line with some options replaced: every token of desc
 * except bn= and those named in drop (space-separated keys, each ending in
 * '='), then extra, then bn=0 (the teacher is folded). */
static void rewrite(const char *desc, const char *drop, const char *extra, char *out, size_t n) {
  char buf[192];
  size_t len = 0;
  snprintf(buf, sizeof(buf), "%s", desc);
  out[0] = '\0';
  for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
    const char *eq = strchr(t, '=');
    if (eq) {
      char key[24];
      snprintf(key, sizeof(key), " %.*s ", (int)(eq - t + 1), t);
      char dropped[96];
      snprintf(dropped, sizeof(dropped), " %s bn= ", drop);
      if (strstr(dropped, key))
        continue;
    }
    if (len < n)
      len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " " : "", t);
  }
  if (len < n)
    snprintf(out + len, n - len, "%s%s bn=0", extra[0] ? " " : "", extra);
}

static int add(cand_list *l, hant_family f, const char *init, const char *key, const char *hp_key, int hp_val,
               const char *line) {
  char hp[HANT__HPARAMS_BYTES];
  hant_jsonw w;
  hant_jsonw_init_buf(&w, hp, sizeof(hp));
  hant_jsonw_obj_begin(&w);
  if (hp_key)
    hant_jsonw_key(&w, hp_key), hant_jsonw_int(&w, hp_val);
  hant_jsonw_obj_end(&w);
  return hant__cand_add(l, f, init, key, &w, "%s", line);
}

int hant__gen_se(const slot_geom *g, unsigned mask, cand_list *l) {
  bool ir = !strcmp(g->kind, "se_ir"), bot = !strcmp(g->kind, "se_bottleneck");
  if (!ir && !bot)
    return 0;
  const char *desc = g->s->desc;
  int mid = hant__desc_int(desc, "mid", ir ? g->cin * hant__desc_int(desc, "e", 6) : g->cout);
  int groups = hant__desc_int(desc, "g", 1), k = hant__desc_int(desc, "k", 3);
  int se = hant__desc_int(desc, "se", 0), gw = groups > 0 && mid % groups == 0 ? mid / groups : mid;
  char line[192], extra[64], key[32];
  int rc = 0;
  /* Width: fewer hidden channels sliced from the teacher; the SE's reduce
   * layer reads the channels kept. An se_ir without expansion has none to
   * drop (its depthwise width is its input's); an se_bottleneck keeps its
   * group width, so its widths are whole groups. */
  if ((mask & (1u << HANT_FAMILY_WIDTH)) && (bot || mid != g->cin)) {
    for (int m = bot ? gw : 8; m < mid && !rc; m += bot ? gw : 8) {
      if (ir && m == g->cin)
        continue;
      if (bot && mid / gw > 8 && (m / gw) % ((mid / gw + 7) / 8)) /* at most about 8 widths */
        continue;
      snprintf(extra, sizeof(extra), bot ? "mid=%d g=%d" : "mid=%d", m, m / gw);
      rewrite(desc, "e= mid= g=", extra, line, sizeof(line));
      snprintf(key, sizeof(key), "width mid=%d", m);
      rc = add(l, HANT_FAMILY_WIDTH, "se-slice", key, "mid", m, line);
    }
  }
  /* Pruning: keep 30-70% of the expanded channels (se_bottleneck: of its
   * groups, whole), ranked by L1. */
  if ((mask & (1u << HANT_FAMILY_PRUNE)) && bot && mid / gw > 1)
    for (int pct = 30; pct <= 70 && !rc; pct += 10) {
      int keep_g = (int)lround(mid / gw * pct / 100.0);
      if (keep_g < 1 || keep_g >= mid / gw)
        continue;
      snprintf(extra, sizeof(extra), "mid=%d g=%d", keep_g * gw, keep_g);
      rewrite(desc, "mid= g=", extra, line, sizeof(line));
      snprintf(key, sizeof(key), "prune keep=%d%%", pct);
      rc = add(l, HANT_FAMILY_PRUNE, "se-l1-prune", key, "mid", keep_g * gw, line);
    }
  if ((mask & (1u << HANT_FAMILY_PRUNE)) && ir && mid != g->cin)
    for (int pct = 30; pct <= 70 && !rc; pct += 10) {
      int m = (int)lround(mid * pct / 100.0);
      if (m < 1 || m >= mid || m == g->cin)
        continue;
      snprintf(extra, sizeof(extra), "mid=%d", m);
      rewrite(desc, "e= mid=", extra, line, sizeof(line));
      snprintf(key, sizeof(key), "prune keep=%d%%", pct);
      rc = add(l, HANT_FAMILY_PRUNE, "se-l1-prune", key, "mid", m, line);
    }
  /* Kernel: 3, 5 or 7 on the depthwise (or grouped) convolution. */
  if (mask & (1u << HANT_FAMILY_KERNEL))
    for (int kk = 3; kk <= 7 && !rc; kk += 2) {
      if (kk == k)
        continue;
      snprintf(extra, sizeof(extra), "k=%d", kk);
      rewrite(desc, "k=", extra, line, sizeof(line));
      snprintf(key, sizeof(key), "kernel k=%d", kk);
      rc = add(l, HANT_FAMILY_KERNEL, "kernel", key, "k", kk, line);
    }
  /* The block without its squeeze-and-excitation (elastic depth: a part
   * of the block skipped), from the teacher's other layers. */
  if ((mask & (1u << HANT_FAMILY_IDENTITY)) && se > 0 && !rc) {
    rewrite(desc, "se= sa= gate=", "", line, sizeof(line));
    rc = add(l, HANT_FAMILY_IDENTITY, "se-drop", "drop-se", NULL, 0, line);
  }
  return rc;
}

/* ---- initialisation from the teacher ---------------------------------- */

/* The layers of an SE block by role, from its weight layers in the order
 * hant_slot_weight_nodes gives (main path, SE in its place, shortcut last). */
typedef struct roles {
  int main[3], n_main; /* se_ir: [expand,] depthwise, project; se_bottleneck: 1x1, grouped, 1x1 */
  int se[2], n_se;     /* reduce, expand */
  int sc;              /* projection shortcut or -1 */
} roles;

/* What node v reads, past identities (and activations when acts is set). */
static int source(const hant_net *net, int v, bool acts) {
  int x = net->nodes[v].in[0];
  while (x > 0 && (net->nodes[x].op == HANT_OP_IDENTITY || (acts && net->nodes[x].op == HANT_OP_ACT)))
    x = net->nodes[x].in[0];
  return x;
}

static void find_roles(const hant_net *net, const int *w, int nw, bool has_sc, roles *r) {
  memset(r, 0, sizeof(*r));
  r->sc = -1;
  for (int i = 0; i < nw; i++) {
    int src = source(net, w[i], false), src_act = source(net, w[i], true);
    if (has_sc && i == nw - 1)
      r->sc = w[i];
    else if (r->n_se == 0 && net->nodes[src].op == HANT_OP_GAP)
      r->se[r->n_se++] = w[i]; /* reduce: reads the squeezed features */
    else if (r->n_se == 1 && src_act == r->se[0])
      r->se[r->n_se++] = w[i]; /* expand: reads the reduce layer */
    else if (r->n_main < 3)
      r->main[r->n_main++] = w[i];
  }
}

static const hant_param *wt(const hant_net *n, int node, int k) {
  return n->nodes[node].param[k] >= 0 ? &n->params[n->nodes[node].param[k]] : NULL;
}

/* Copies rows `keep` (output channels) of src's weight and bias into dst,
 * whose weight must have m rows of the same size. */
static int rows(const hant_net *t, int tn, hant_net *c, int cn, const int *keep, int m) {
  const hant_param *a = wt(t, tn, 0), *ab = wt(t, tn, 1);
  hant_param *b = (hant_param *)wt(c, cn, 0), *bb = (hant_param *)wt(c, cn, 1);
  size_t per = a->n / (size_t)a->shape[0];
  if (b->n != per * (size_t)m || (bb && bb->n != (size_t)m))
    return hant__error(HANT_ESHAPE, "se: candidate layer %d has %zu weights, expected %d rows of %zu", cn, b->n, m, per);
  for (int i = 0; i < m; i++) {
    memcpy(b->w + (size_t)i * per, a->w + (size_t)keep[i] * per, sizeof(float) * per);
    if (ab && bb)
      bb->w[i] = ab->w[keep[i]];
  }
  return 0;
}

/* Copies input channels `keep` of src's [K, C, kh, kw] weight, all of its
 * bias, into dst's [K, m, kh, kw]. */
static int cols(const hant_net *t, int tn, hant_net *c, int cn, const int *keep, int m) {
  const hant_param *a = wt(t, tn, 0), *ab = wt(t, tn, 1);
  hant_param *b = (hant_param *)wt(c, cn, 0), *bb = (hant_param *)wt(c, cn, 1);
  int K = a->shape[0], C = a->shape[1];
  size_t kk = a->n / ((size_t)K * C);
  if (b->n != (size_t)K * m * kk || (ab && bb && bb->n != ab->n))
    return hant__error(HANT_ESHAPE, "se: candidate layer %d has %zu weights, expected [%d, %d, ...]", cn, b->n, K, m);
  for (int o = 0; o < K; o++)
    for (int i = 0; i < m; i++)
      memcpy(b->w + ((size_t)o * m + i) * kk, a->w + ((size_t)o * C + keep[i]) * kk, sizeof(float) * kk);
  if (ab && bb)
    memcpy(bb->w, ab->w, sizeof(float) * ab->n);
  return 0;
}

static int same(const hant_net *t, int tn, hant_net *c, int cn) {
  for (int k = 0; k < 2; k++) {
    const hant_param *a = wt(t, tn, k);
    hant_param *b = (hant_param *)wt(c, cn, k);
    if (!a || !b)
      continue;
    if (a->n != b->n)
      return hant__error(HANT_ESHAPE, "se: teacher layer %d has %zu values, the candidate's %zu", tn, a->n, b->n);
    memcpy(b->w, a->w, sizeof(float) * a->n);
  }
  return 0;
}

/* The hidden channels to keep: the first m, or the m whose producing
 * filters (the first layer's, BN folded into them) have the largest L1
 * norm, ranked in units of `unit` channels (whole groups for a grouped
 * layer, so each kept channel keeps its group's inputs). */
static void choose(const hant_net *t, int producer, int m0, int m, int unit, bool by_l1, int *keep) {
  for (int i = 0; i < m; i++)
    keep[i] = i;
  if (!by_l1)
    return;
  const hant_param *w = wt(t, producer, 0), *b = wt(t, producer, 1);
  size_t per = w->n / (size_t)m0;
  int units = m0 / unit;
  char *taken = calloc((size_t)units, 1);
  if (!taken)
    return; /* the first m: still a valid start */
  for (int i = 0; i < m / unit; i++) {
    int best = -1;
    double best_s = -1.0;
    for (int u = 0; u < units; u++) {
      if (taken[u])
        continue;
      double s = 0.0;
      for (int j = u * unit; j < (u + 1) * unit; j++) {
        s += b ? fabs(b->w[j]) : 0.0;
        for (size_t q = 0; q < per; q++)
          s += fabs(w->w[(size_t)j * per + q]);
      }
      if (s > best_s)
        best_s = s, best = u;
    }
    if (best < 0) /* fewer units than asked: cannot happen for m <= m0 */
      break;
    taken[best] = 1;
  }
  int i = 0;
  for (int u = 0; u < units; u++) /* ascending channel order */
    for (int j = u * unit; taken[u] && j < (u + 1) * unit; j++)
      keep[i++] = j;
  free(taken);
}

int hant__init_se(const hant_net *teacher, int slot, hant_net *cand, const char *how) {
  int tw[8], cw[8];
  int nt = hant_slot_weight_nodes(teacher, slot, tw, 8), nc = hant_net_weight_nodes(cand, cw, 8);
  const hant_slot *s = &teacher->slots[slot];
  bool bot = !strcmp(s->kind, "se_bottleneck");
  bool has_sc = bot && (s->in_c != s->out_c || s->in_h != s->out_h);
  roles rt, rc_;
  find_roles(teacher, tw, nt, has_sc, &rt);
  find_roles(cand, cw, nc, has_sc, &rc_);
  bool drop = !strcmp(how, "se-drop");
  if (rt.n_main < (bot ? 3 : 2) || rt.n_main != rc_.n_main || rt.n_se != 2 || rc_.n_se != (drop ? 0 : 2) ||
      (rt.sc < 0) != (rc_.sc < 0))
    return hant__error(HANT_ESHAPE, "se: candidate has %d main and %d SE layers, teacher slot %s %d and %d", rc_.n_main,
                       rc_.n_se, s->name, rt.n_main, rt.n_se);
  int rc = 0;
  if (rt.sc >= 0 && (rc = same(teacher, rt.sc, cand, rc_.sc)))
    return rc;
  if (drop) {
    for (int i = 0; i < rt.n_main && !rc; i++)
      rc = same(teacher, rt.main[i], cand, rc_.main[i]);
    return rc;
  }
  /* se-slice, se-l1-prune: the hidden width is the output of every main
   * layer but the last. */
  int m0 = teacher->nodes[rt.main[0]].c, m = cand->nodes[rc_.main[0]].c;
  if (m > m0)
    return hant__error(HANT_ESHAPE, "se: candidate keeps %d of %d hidden channels", m, m0);
  int *keep = malloc(sizeof(int) * (size_t)m);
  if (!keep)
    return HANT_ENOMEM;
  int unit = 1; /* se_bottleneck: its grouped layer's group width */
  if (bot) {
    const hant_conv_desc *d = &teacher->nodes[rt.main[1]].conv;
    unit = d->c_out / d->groups;
    if (m % unit) {
      free(keep);
      return hant__error(HANT_ESHAPE, "se: %d hidden channels are not whole groups of %d", m, unit);
    }
  }
  choose(teacher, rt.main[0], m0, m, unit, !strcmp(how, "se-l1-prune"), keep);
  int last = rt.n_main - 1;
  /* Every main layer but the last writes hidden channels: rows. A
   * depthwise row holds its own channel's input; an se_bottleneck's
   * grouped rows keep whole groups from the first, so the same holds. */
  for (int i = 0; i < last && !rc; i++)
    rc = rows(teacher, rt.main[i], cand, rc_.main[i], keep, m);
  if (!rc)
    rc = cols(teacher, rt.se[0], cand, rc_.se[0], keep, m);
  if (!rc)
    rc = rows(teacher, rt.se[1], cand, rc_.se[1], keep, m);
  if (!rc)
    rc = cols(teacher, rt.main[last], cand, rc_.main[last], keep, m);
  free(keep);
  return rc;
}
