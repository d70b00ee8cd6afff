/* SPDX-License-Identifier: MIT */
/* assemble.c: splices candidate blocks into a copy of the teacher, node by node through the public builders. */
#include "assemble.h"

#include <stdio.h>
#include <string.h>

#include "arch.h"
#include "deploy_internal.h"
#include "slots.h"
#include "base.h"

int hant__copy_node(hant_net *dst, const hant_net *src, int i, const int *map) {
  const hant_node *n = &src->nodes[i];
  int x = n->in[0] >= 0 ? map[n->in[0]] : -1, y = n->in[1] >= 0 ? map[n->in[1]] : -1;
  if ((n->in[0] >= 0 && x < 0) || (n->in[1] >= 0 && y < 0))
    return hant__error(HANT_EINVAL, "assemble: node %d reads a node that was not copied", i);
  int id;
  switch (n->op) {
  case HANT_OP_CONV:
    id = hant_net_conv(dst, x, &n->conv, n->param[1] >= 0);
    break;
  case HANT_OP_BN:
    id = hant_net_bn(dst, x);
    if (id >= 0) {
      dst->nodes[id].bn_eps = n->bn_eps;
      dst->nodes[id].bn_momentum = n->bn_momentum;
    }
    break;
  case HANT_OP_ACT:
    id = hant_net_act(dst, x, n->act);
    break;
  case HANT_OP_ADD:
    id = hant_net_add(dst, x, y);
    break;
  case HANT_OP_MUL:
    id = hant_net_mul(dst, x, y);
    break;
  case HANT_OP_MAXPOOL:
    id = hant_net_maxpool(dst, x, &n->pool);
    break;
  case HANT_OP_AVGPOOL:
    id = hant_net_avgpool(dst, x, &n->pool);
    break;
  case HANT_OP_GAP:
    id = hant_net_gap(dst, x);
    break;
  case HANT_OP_FLATTEN:
    id = hant_net_flatten(dst, x);
    break;
  case HANT_OP_LINEAR:
    id = hant_net_linear(dst, x, n->c, n->param[1] >= 0);
    break;
  case HANT_OP_IDENTITY:
    id = hant_net_identity(dst, x);
    break;
  case HANT_OP_CONCAT:
    id = hant_net_concat(dst, x, y);
    break;
  case HANT_OP_CHSLICE:
    id = hant_net_chslice(dst, x, n->ch_first, n->c);
    break;
  case HANT_OP_SHUFFLE:
    id = hant_net_shuffle(dst, x, n->ch_groups);
    break;
  default:
    return hant__error(HANT_EINVAL, "assemble: node %d: cannot copy op %s", i, hant_op_name(n->op));
  }
  if (id < 0)
    return id;
  const hant_node *m = &dst->nodes[id];
  if (m->c != n->c || m->h != n->h || m->w != n->w)
    return hant__error(HANT_ESHAPE, "assemble: node %d rebuilt as %dx%dx%d instead of %dx%dx%d", i, m->c, m->h, m->w,
                       n->c, n->h, n->w);
  for (int k = 0; k < 4; k++) {
    int ps = n->param[k], pd = m->param[k];
    if (ps < 0 && pd < 0)
      continue;
    if (ps < 0 || pd < 0 || src->params[ps].n != dst->params[pd].n)
      return hant__error(HANT_ESHAPE, "assemble: node %d: parameter %d does not match its copy", i, k);
    memcpy(dst->params[pd].w, src->params[ps].w, src->params[ps].n * sizeof(float));
    dst->params[pd].trainable = src->params[ps].trainable;
    dst->params[pd].decay = src->params[ps].decay;
  }
  return id;
}

static int append(char *buf, size_t n, size_t *len, const char *line) {
  int w = snprintf(buf + *len, n - *len, "; %s", line);
  if (w < 0 || *len + (size_t)w >= n)
    return -1;
  *len += (size_t)w;
  return 0;
}

/* Architecture text for the assembled parts, or NULL if they cannot be
 * written as a chain of arch.h lines. `descs` are the slot lines used. */
static char *compose_arch(const hant_net *t, const char (*descs)[192]) {
  size_t cap = 8192, len = 0;
  char *buf = malloc(cap);
  if (!buf)
    return NULL;
  len = (size_t)snprintf(buf, cap, "input %dx%dx%d", t->nodes[0].c, t->nodes[0].h, t->nodes[0].w);
  int prev = 0; /* teacher node the next element must read */
  for (int i = 1; i < t->n_nodes; i++) {
    const hant_node *n = &t->nodes[i];
    char line[96];
    if (n->slot >= 0) {
      const hant_slot *s = &t->slots[n->slot];
      if (i != s->first)
        continue;
      if (s->in != prev || !descs[n->slot][0] || append(buf, cap, &len, descs[n->slot]))
        goto fail;
      prev = s->last;
      i = s->last;
      continue;
    }
    if (n->in[0] != prev || n->in[1] >= 0)
      goto fail;
    switch (n->op) {
    case HANT_OP_MAXPOOL:
    case HANT_OP_AVGPOOL:
      snprintf(line, sizeof(line), "%s k=%d s=%d p=%d%s", n->op == HANT_OP_MAXPOOL ? "maxpool" : "avgpool", n->pool.k,
               n->pool.s, n->pool.p, n->pool.ceil_mode ? " ceil=1" : "");
      break;
    case HANT_OP_GAP:
      snprintf(line, sizeof(line), "gap");
      break;
    case HANT_OP_FLATTEN:
      snprintf(line, sizeof(line), "flatten");
      break;
    default:
      goto fail;
    }
    if (append(buf, cap, &len, line))
      goto fail;
    prev = i;
  }
  if (prev != t->n_nodes - 1)
    goto fail;
  return buf;
fail:
  free(buf);
  return NULL;
}

static bool same_structure(const hant_net *a, const hant_net *b) {
  if (a->n_nodes != b->n_nodes || a->n_params != b->n_params || a->n_slots != b->n_slots)
    return false;
  for (int i = 0; i < a->n_nodes; i++) {
    const hant_node *x = &a->nodes[i], *y = &b->nodes[i];
    if (x->op != y->op || x->in[0] != y->in[0] || x->in[1] != y->in[1] || x->c != y->c || x->h != y->h ||
        x->w != y->w || x->slot != y->slot || x->act != y->act)
      return false;
    if ((x->op == HANT_OP_MAXPOOL || x->op == HANT_OP_AVGPOOL) &&
        (x->pool.k != y->pool.k || x->pool.s != y->pool.s || x->pool.p != y->pool.p ||
         x->pool.count_include_pad != y->pool.count_include_pad))
      return false;
    if (x->op == HANT_OP_CONV && memcmp(&x->conv, &y->conv, sizeof(x->conv)))
      return false;
    for (int k = 0; k < 4; k++) {
      if ((x->param[k] < 0) != (y->param[k] < 0))
        return false;
      if (x->param[k] >= 0 && a->params[x->param[k]].n != b->params[y->param[k]].n)
        return false;
    }
  }
  return true;
}

int hant_assemble(const hant_net *teacher, hant_net *const *cands, hant_net **out) {
  *out = NULL;
  if (!teacher || teacher->n_nodes < 2)
    return hant__error(HANT_EINVAL, "assemble: no teacher");
  int rc = hant_slots_check_swappable(teacher, "assemble");
  if (rc)
    return rc;
  for (int i = 0; cands && i < teacher->n_slots; i++) {
    const hant_net *c = cands[i];
    const hant_slot *s = &teacher->slots[i];
    if (!c)
      continue;
    const hant_node *ci = &c->nodes[0], *co = &c->nodes[hant_net_output(c)];
    if (c->n_nodes < 2 || ci->c != s->in_c || ci->h != s->in_h || ci->w != s->in_w || co->c != s->out_c ||
        co->h != s->out_h || co->w != s->out_w)
      return hant__error(HANT_ESHAPE, "assemble: slot %s takes %dx%dx%d to %dx%dx%d but its candidate takes %dx%dx%d to "
                                      "%dx%dx%d",
                         s->name, s->in_c, s->in_h, s->in_w, s->out_c, s->out_h, s->out_w, ci->c, ci->h, ci->w, co->c,
                         co->h, co->w);
  }
  const hant_node *in = &teacher->nodes[0];
  hant_net *net = hant_net_new(in->c, in->h, in->w);
  int *map = calloc((size_t)teacher->n_nodes, sizeof(int));
  char(*descs)[192] = calloc((size_t)teacher->n_slots + 1, sizeof(*descs));
  int *cmap = NULL;
  if (!net || !map || !descs) {
    rc = HANT_ENOMEM;
    goto fail;
  }
  for (int i = 1; i < teacher->n_nodes; i++)
    map[i] = -1;
  for (int i = 1; i < teacher->n_nodes; i++) {
    const hant_node *n = &teacher->nodes[i];
    if (n->slot < 0) {
      if ((rc = map[i] = hant__copy_node(net, teacher, i, map)) < 0)
        goto fail;
      continue;
    }
    const hant_slot *s = &teacher->slots[n->slot];
    const hant_net *c = cands ? cands[n->slot] : NULL;
    const char *kind = s->kind, *desc = s->desc;
    if (c && c->n_slots > 0)
      kind = c->slots[0].kind, desc = c->slots[0].desc;
    if ((rc = hant_net_slot_begin(net, kind, desc, map[s->in])) < 0)
      goto fail;
    snprintf(net->slots[rc].name, sizeof(net->slots[rc].name), "%s", s->name);
    snprintf(descs[n->slot], sizeof(descs[n->slot]), "%s", desc);
    if (!c) {
      for (int j = s->first; j <= s->last; j++)
        if ((rc = map[j] = hant__copy_node(net, teacher, j, map)) < 0)
          goto fail;
    } else {
      int *cm = realloc(cmap, sizeof(int) * (size_t)c->n_nodes);
      if (!cm) {
        rc = HANT_ENOMEM;
        goto fail;
      }
      cmap = cm;
      cmap[0] = map[s->in];
      for (int j = 1; j < c->n_nodes; j++)
        cmap[j] = -1;
      for (int j = 1; j < c->n_nodes; j++)
        if ((rc = cmap[j] = hant__copy_node(net, c, j, cmap)) < 0)
          goto fail;
      map[s->last] = cmap[hant_net_output(c)];
    }
    if ((rc = hant_net_slot_end(net)))
      goto fail;
    i = s->last;
  }
  /* Architecture text, kept only if it rebuilds to exactly these operators. */
  char *text = compose_arch(teacher, (const char(*)[192])descs);
  if (text) {
    hant_net *check = hant_arch_build(text, "assembled");
    if (check && same_structure(check, net))
      net->arch = text, text = NULL;
    hant_net_destroy(check);
    free(text);
    hant_errmsg_clear();
  }
  free(map);
  free(cmap);
  free(descs);
  *out = net;
  return 0;
fail:
  hant_net_destroy(net);
  free(map);
  free(cmap);
  free(descs);
  return rc < 0 ? rc : HANT_EINVAL;
}
