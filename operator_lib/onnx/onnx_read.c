/* SPDX-License-Identifier: MIT */
/* onnx_read.c: reads ONNX models defensively into hant networks, refusing what hant cannot run exactly. */
#include "onnx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "file.h"
#include "fnv.h"
#include "netfile.h"
#include "onnx_internal.h"
#include "slots.h"

#define OPSET_MIN 7
#define OPSET_MAX 21

/* ---- values by name ----------------------------------------------------------- */

enum { ST_NEW, ST_OPEN, ST_DONE }; /* onnx_rnode.state in the graph walk */

/* FNV-1a, then a 64-bit finaliser so the table's low bits depend on every
 * byte (FNV's low bits alone are easy to collide on purpose). */
static uint64_t hash_str(const char *s) {
  uint64_t h = hant_fnv_str(HANT_FNV_BASIS, s);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

int hant__onnx_find(const onnx_reader *r, const char *name) {
  if (!r->hcap)
    return -1;
  for (size_t i = hash_str(name) & (r->hcap - 1);; i = (i + 1) & (r->hcap - 1)) {
    int k = r->htab[i];
    if (!k)
      return -1;
    if (!strcmp(r->vals[k - 1].name, name))
      return k - 1;
  }
}

/* A readable label for messages: node names from the file can be anything. */
const char *hant__onnx_node_name(const onnx_reader *r, int ni, char *buf, size_t n) {
  const Onnx__NodeProto *p = r->nodes[ni].p;
  if (p->name && p->name[0])
    snprintf(buf, n, "%.80s", p->name);
  else
    snprintf(buf, n, "#%d", ni);
  return buf;
}

int hant__onnx_node_err(const onnx_reader *r, int ni, int err, const char *fmt, ...) {
  char what[640], nb[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  const Onnx__NodeProto *p = r->nodes[ni].p;
  return hant__error(err, "%s: node '%s' (%.40s, opset %d): %s", r->file, hant__onnx_node_name(r, ni, nb, sizeof(nb)),
                     p->op_type ? p->op_type : "?", r->opset, what);
}

static int add_value(onnx_reader *r, const char *name, onnx_vkind kind, int producer) {
  if (!name || !name[0])
    return hant__error(HANT_EFORMAT, "%s: a value has an empty name", r->file);
  if (hant__onnx_find(r, name) >= 0)
    return hant__error(HANT_EFORMAT, "%s: value '%.80s' is defined more than once", r->file, name);
  if (r->n_vals == r->cap_vals)
    return hant__error(HANT_ELIMIT, "%s: too many values", r->file);
  onnx_value *v = &r->vals[r->n_vals];
  memset(v, 0, sizeof(*v));
  v->name = name;
  v->kind = kind;
  v->producer = producer;
  v->alias = -1;
  v->hnode = -1;
  v->reader = -1;
  for (size_t i = hash_str(name) & (r->hcap - 1);; i = (i + 1) & (r->hcap - 1))
    if (!r->htab[i]) {
      r->htab[i] = r->n_vals + 1;
      break;
    }
  return r->n_vals++;
}

/* Looks a name up and follows Identity aliases to the value that holds the data. */
int hant__onnx_lookup(const onnx_reader *r, const char *name) {
  int v = hant__onnx_find(r, name);
  return v >= 0 && r->vals[v].kind == V_ALIAS ? r->vals[v].alias : v;
}

/* ---- the graph ---------------------------------------------------------------- */

/* The data input's type: float32 [N, C, H, W] with C, H, W fixed. */
static int graph_input(onnx_reader *r, const Onnx__ValueInfoProto *vi, hant_onnx_info *info) {
  const char *nm = vi->name;
  const Onnx__TypeProto *t = vi->type;
  if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
    return hant__error(HANT_ENOTSUP, "%s: graph input '%.80s' is not a tensor", r->file, nm);
  const Onnx__TypeProto__Tensor *tt = t->tensor_type;
  if (tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return hant__error(HANT_ENOTSUP, "%s: graph input '%.80s' has element type %d (expected float32)", r->file, nm,
                       tt->elem_type);
  if (!tt->shape || tt->shape->n_dim != 4)
    return hant__error(HANT_ENOTSUP, "%s: graph input '%.80s' must have shape [N, C, H, W] (it has %zu dimensions)",
                       r->file, nm, tt->shape ? tt->shape->n_dim : (size_t)0);
  int64_t d[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4; i++) {
    const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[i];
    if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
      d[i] = dm->dim_value;
    else if (i > 0)
      return hant__error(HANT_ENOTSUP, "%s: graph input '%.80s' dimension %d is not fixed (only the batch may vary)",
                         r->file, nm, i);
  }
  if (d[0] < 0 || d[0] > 1 << 20 || d[1] < 1 || d[1] > ONNX_MAX_CHANNELS || d[2] < 1 || d[2] > ONNX_MAX_SPATIAL ||
      d[3] < 1 || d[3] > ONNX_MAX_SPATIAL || d[1] * d[2] * d[3] > (int64_t)ONNX_MAX_NUMEL)
    return hant__error(HANT_ELIMIT, "%s: graph input '%.80s' shape [%lld, %lld, %lld, %lld] is out of range", r->file,
                       nm, (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3]);
  r->batch = (int)d[0];
  if (info) {
    info->batch = (int)d[0];
    snprintf(info->input, sizeof(info->input), "%s", nm);
  }
  r->net = hant_net_new((int)d[1], (int)d[2], (int)d[3]);
  return r->net ? 0 : HANT_ENOMEM;
}

/* Checks a declared [N, ...] shape (where given) against what hant computed. */
static int check_declared(const onnx_reader *r, const Onnx__ValueInfoProto *vi, int vidx, const char *what) {
  const onnx_value *v = &r->vals[vidx];
  const Onnx__TypeProto *t = vi->type;
  if (v->hnode < 0 || !t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type ||
      !t->tensor_type->shape)
    return 0;
  const Onnx__TensorShapeProto *s = t->tensor_type->shape;
  const hant_node *nd = &r->net->nodes[v->hnode];
  int64_t want[4] = {0, v->rank == 4 ? nd->c : (int64_t)nd->c * nd->h * nd->w, nd->h, nd->w};
  if (s->n_dim != (size_t)v->rank)
    return hant__error(HANT_ESHAPE, "%s: %s '%.80s' is declared with %zu dimensions, the graph computes %d", r->file,
                       what, v->name, s->n_dim, v->rank);
  for (int i = 1; i < v->rank; i++)
    if (s->dim[i]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
        s->dim[i]->dim_value != want[i])
      return hant__error(HANT_ESHAPE, "%s: %s '%.80s' is declared with dimension %d = %lld, the graph computes %lld",
                         r->file, what, v->name, i, (long long)s->dim[i]->dim_value, (long long)want[i]);
  return 0;
}

/* Post-order depth-first walk from the output's producer, iterative so a
 * long chain cannot exhaust the stack. Visiting inputs in order emits the
 * nodes of a block (everything a node needs that is not yet emitted)
 * together, right before the node: slots come out contiguous. */
static int emit_all(onnx_reader *r) {
  int *stack = malloc(sizeof(int) * (size_t)(r->n_nodes + 1));
  int *next = calloc((size_t)r->n_nodes + 1, sizeof(int));
  int rc = 0, sp = 0;
  if (!stack || !next) {
    rc = HANT_ENOMEM;
    goto out;
  }
  int start = r->vals[r->output].producer;
  stack[sp++] = start;
  r->nodes[start].state = ST_OPEN;
  while (sp && !rc) {
    int ni = stack[sp - 1];
    const Onnx__NodeProto *p = r->nodes[ni].p;
    if (next[ni] < (int)p->n_input) {
      int k = next[ni]++;
      int v = hant__onnx_in_val(r, ni, k);
      if (v < 0 && p->input[k] && p->input[k][0]) {
        char nb[96];
        rc = hant__error(HANT_EFORMAT,
                         "%s: input '%.80s' of node '%s' (%s, opset %d) is not produced by any node, initializer or "
                         "graph input",
                         r->file, p->input[k], hant__onnx_node_name(r, ni, nb, sizeof(nb)), p->op_type, r->opset);
        break;
      }
      if (v < 0 || r->vals[v].kind != V_DYN)
        continue;
      int src = r->vals[v].producer;
      if (r->nodes[src].state == ST_OPEN) {
        rc = hant__onnx_node_err(r, src, HANT_EFORMAT, "the graph has a cycle through this node");
        break;
      }
      if (r->nodes[src].state == ST_NEW) {
        r->nodes[src].state = ST_OPEN;
        stack[sp++] = src;
      }
      continue;
    }
    sp--;
    r->nodes[ni].state = ST_DONE;
    bool known;
    hant__onnx_op_fn fn = hant__onnx_find_op(p->op_type, r->opset, &known);
    if (fn && r->net->n_nodes >= HANT_ONNX_MAX_NODES)
      rc = hant__error(HANT_ELIMIT, "%s: more than %d operators", r->file, HANT_ONNX_MAX_NODES);
    else if ((rc = hant__onnx_fold(r, ni)) > 0)
      rc = 0; /* shape arithmetic, now constants */
    else if (fn && !rc)
      rc = fn(r, ni);
  }
out:
  free(stack);
  free(next);
  return rc;
}

static void free_reader(onnx_reader *r) {
  for (int i = 0; i < r->n_vals; i++) {
    free(r->vals[i].f);
    free(r->vals[i].i64);
  }
  free(r->vals);
  free(r->htab);
  free(r->nodes);
}

static int read_model(onnx_reader *r, const Onnx__ModelProto *m, hant_onnx_info *info) {
  int rc;
  r->opset = -1;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    if ((!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) && o->has_version)
      r->opset = o->version > 1000 ? 1000 : (int)o->version;
  }
  if (r->opset < 0)
    return hant__error(HANT_EFORMAT, "%s: the model imports no default-domain opset", r->file);
  if (r->opset < OPSET_MIN || r->opset > OPSET_MAX)
    return hant__error(HANT_ENOTSUP, "%s: opset %d is not supported (hant reads opsets %d-%d)", r->file, r->opset,
                       OPSET_MIN, OPSET_MAX);
  const Onnx__GraphProto *g = r->g = m->graph;
  if (!g)
    return hant__error(HANT_EFORMAT, "%s: the model has no graph", r->file);
  if (info) {
    info->opset = r->opset;
    info->ir_version = m->ir_version;
    snprintf(info->producer, sizeof(info->producer), "%.30s %.30s", m->producer_name ? m->producer_name : "",
             m->producer_version ? m->producer_version : "");
    info->onnx_nodes = (int)g->n_node;
  }
  if (g->n_node > HANT_ONNX_MAX_NODES)
    return hant__error(HANT_ELIMIT, "%s: %zu nodes (at most %d)", r->file, g->n_node, HANT_ONNX_MAX_NODES);
  if (g->n_sparse_initializer)
    return hant__error(HANT_ENOTSUP, "%s: sparse initializers are not supported", r->file);
  size_t nv = g->n_initializer + g->n_input;
  r->n_nodes = (int)g->n_node;
  for (size_t i = 0; i < g->n_node; i++)
    nv += g->node[i]->n_output;
  if (nv > 4 * (size_t)HANT_ONNX_MAX_MESSAGES)
    return hant__error(HANT_ELIMIT, "%s: too many values", r->file);
  r->cap_vals = (int)nv + 1;
  r->hcap = 16;
  while (r->hcap < 2 * nv + 2)
    r->hcap *= 2;
  r->vals = calloc((size_t)r->cap_vals, sizeof(onnx_value));
  r->htab = calloc(r->hcap, sizeof(int));
  r->nodes = calloc((size_t)r->n_nodes + 1, sizeof(onnx_rnode));
  if (!r->vals || !r->htab || !r->nodes)
    return HANT_ENOMEM;

  /* initializers */
  for (size_t i = 0; i < g->n_initializer; i++) {
    const Onnx__TensorProto *t = g->initializer[i];
    int v = add_value(r, t->name, V_CONST, -1);
    if (v < 0)
      return v;
    if ((rc = hant__onnx_decode_tensor(r, t, r->vals[v].name, &r->vals[v])))
      return rc;
  }
  /* the data input: the one graph input that is not an initializer */
  r->input = -1;
  for (size_t i = 0; i < g->n_input; i++) {
    const char *nm = g->input[i]->name;
    if (nm && hant__onnx_find(r, nm) >= 0 && r->vals[hant__onnx_find(r, nm)].kind == V_CONST)
      continue;
    if (r->input >= 0)
      return hant__error(HANT_ENOTSUP,
                         "%s: the graph has more than one input ('%.80s', '%.80s'); hant networks take one", r->file,
                         r->vals[r->input].name, nm ? nm : "");
    if ((r->input = add_value(r, nm, V_INPUT, -1)) < 0)
      return r->input;
    if ((rc = graph_input(r, g->input[i], info)))
      return rc;
    r->vals[r->input].hnode = 0;
    r->vals[r->input].rank = 4;
  }
  if (r->input < 0)
    return hant__error(HANT_EFORMAT, "%s: the graph has no input", r->file);

  /* nodes: register outputs; every op must be one hant reads */
  for (int ni = 0; ni < r->n_nodes; ni++) {
    const Onnx__NodeProto *p = r->nodes[ni].p = g->node[ni];
    r->nodes[ni].absorbed_by = -1;
    if (!p->op_type || !p->op_type[0])
      return hant__error(HANT_EFORMAT, "%s: node #%d has no op_type", r->file, ni);
    if (p->domain && p->domain[0] && strcmp(p->domain, "ai.onnx")) {
      char nb[96];
      return hant__error(HANT_ENOTSUP, "%s: node '%s': op %.40s of domain '%.40s' is not supported (opset %d)", r->file,
                         hant__onnx_node_name(r, ni, nb, sizeof(nb)), p->op_type, p->domain, r->opset);
    }
    bool known;
    hant__onnx_find_op(p->op_type, r->opset, &known);
    if (!known) {
      char nb[96];
      return hant__error(HANT_ENOTSUP, "%s: node '%s': op %.40s is not supported (opset %d)", r->file,
                         hant__onnx_node_name(r, ni, nb, sizeof(nb)), p->op_type, r->opset);
    }
    if (p->n_output < 1 || p->n_output > 8)
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "%zu outputs", p->n_output);
    bool is_id = !strcmp(p->op_type, "Identity"), is_const = !strcmp(p->op_type, "Constant");
    bool is_qdq = hant__onnx_is_qdq(p), qdq_const = false, qdq_relu = false;
    if (is_qdq && (rc = hant__onnx_qdq_check(r, ni, &qdq_const, &qdq_relu)))
      return rc;
    /* a quantised constant reads as its float values, a Q/DQ of a computed
     * value as that value, or as a ReLU (onnx_qdq_read.c) */
    if (is_qdq)
      is_id = !qdq_const && !qdq_relu, is_const = qdq_const;
    for (size_t k = 0; k < p->n_output; k++) {
      if (!p->output[k] || !p->output[k][0]) {
        if (k == 0)
          return hant__onnx_node_err(r, ni, HANT_EFORMAT, "the first output has no name");
        continue;
      }
      int v = add_value(r, p->output[k], is_id ? V_ALIAS : is_const ? V_CONST : V_DYN, ni);
      if (v < 0)
        return hant__onnx_node_err(r, ni, v, "%s", "output names must be unique and not shadow initializers or inputs");
      if (is_const && (rc = is_qdq ? hant__onnx_qdq_const(r, ni, &r->vals[v])
                                   : hant__onnx_constant_node(r, ni, &r->vals[v])))
        return rc;
    }
    if ((is_id || is_const) && p->n_output != 1)
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "expected one output");
    if (is_id && !is_qdq && (p->n_input != 1 || !p->input[0] || !p->input[0][0]))
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "expected one input");
    if (is_const && !is_qdq && p->n_input)
      return hant__onnx_node_err(r, ni, HANT_EFORMAT, "expected no inputs");
  }
  /* Identity chains: resolve each alias to its source, refusing loops */
  for (int v = 0; v < r->n_vals; v++) {
    if (r->vals[v].kind != V_ALIAS)
      continue;
    int cur = v, steps = 0;
    while (r->vals[cur].kind == V_ALIAS && r->vals[cur].alias < 0) {
      const Onnx__NodeProto *p = r->nodes[r->vals[cur].producer].p;
      int src = hant__onnx_find(r, p->input[0]);
      if (src < 0)
        return hant__onnx_node_err(r, r->vals[cur].producer, HANT_EFORMAT,
                                   "input '%.80s' is not produced by any node, initializer or graph input",
                                   p->input[0]);
      if (++steps > r->n_vals)
        return hant__onnx_node_err(r, r->vals[cur].producer, HANT_EFORMAT, "the graph has a cycle of Identity nodes");
      cur = src;
    }
    int root = r->vals[cur].kind == V_ALIAS ? r->vals[cur].alias : cur;
    for (int w = v; r->vals[w].kind == V_ALIAS && r->vals[w].alias < 0;)
      r->vals[w].alias = root, w = hant__onnx_find(r, r->nodes[r->vals[w].producer].p->input[0]);
  }
  /* graph output */
  if (g->n_output != 1)
    return hant__error(HANT_ENOTSUP, "%s: the graph has %zu outputs; hant networks have exactly one", r->file,
                       g->n_output);
  if (!g->output[0]->name || (r->output = hant__onnx_lookup(r, g->output[0]->name)) < 0)
    return hant__error(HANT_EFORMAT, "%s: graph output '%.80s' is not produced by any node", r->file,
                       g->output[0]->name ? g->output[0]->name : "");
  if (r->vals[r->output].kind != V_DYN)
    return hant__error(HANT_ENOTSUP, "%s: graph output '%.80s' is %s, not computed from the input", r->file,
                       g->output[0]->name, r->vals[r->output].kind == V_INPUT ? "the input itself" : "a constant");
  if (info)
    snprintf(info->output, sizeof(info->output), "%s", g->output[0]->name);
  /* readers of each value, then the fused patterns */
  for (int ni = 0; ni < r->n_nodes; ni++) {
    const Onnx__NodeProto *p = r->nodes[ni].p;
    if (!strcmp(p->op_type, "Identity") || !strcmp(p->op_type, "Constant") ||
        (hant__onnx_is_qdq(p) && r->vals[hant__onnx_find(r, p->output[0])].kind != V_DYN))
      continue;
    for (size_t k = 0; k < p->n_input; k++) {
      int v = p->input[k] && p->input[k][0] ? hant__onnx_lookup(r, p->input[k]) : -1;
      if (v >= 0)
        r->vals[v].cons++, r->vals[v].reader = ni;
    }
  }
  r->vals[r->output].cons++;
  for (int ni = 0; ni < r->n_nodes; ni++) {
    int by = hant__onnx_hswish_mul(r, ni);
    if (by < 0)
      by = hant__onnx_silu_mul(r, ni);
    if (by < 0)
      by = hant__onnx_matmul_add(r, ni);
    if (by < 0)
      by = hant__onnx_pad_pool(r, ni, NULL);
    r->nodes[ni].absorbed_by = by;
  }
  for (int ni = 0; ni < r->n_nodes; ni++) { /* after: marks nodes other than ni */
    int64_t tail;
    hant__onnx_batch_shape(r, ni, &tail, true);
  }
  if ((rc = emit_all(r)))
    return rc;
  const onnx_value *o = &r->vals[r->output];
  if (o->hnode != hant_net_output(r->net))
    return hant__error(HANT_EFORMAT, "%s: graph output '%.80s' is not the last value computed", r->file, o->name);
  if ((rc = check_declared(r, g->output[0], r->output, "graph output")))
    return rc;
  for (size_t i = 0; i < g->n_value_info; i++) {
    const char *nm = g->value_info[i]->name;
    int v = nm ? hant__onnx_lookup(r, nm) : -1;
    if (v >= 0 && (rc = check_declared(r, g->value_info[i], v, "value")))
      return rc;
  }
  return 0;
}

/* ---- entry points ------------------------------------------------------------- */

/* The reader's one entry: external data beneath dir_fd when it is open,
 * else beneath dir, opened on first use; dir labels messages either way. */
static int parse_at(const uint8_t *data, size_t len, const char *name, const char *dir, int dir_fd, hant_net **out,
                    hant_onnx_info *info) {
  if (!out || (!data && len))
    return hant__error(HANT_EINVAL, "ONNX reader: no output or data");
  *out = NULL;
  if (!name)
    name = "onnx";
  if (info)
    memset(info, 0, sizeof(*info));
  if (len > HANT_ONNX_MAX_BYTES)
    return hant__error(HANT_ELIMIT, "%s: %zu bytes is more than the %zu-byte limit for ONNX files", name, len,
                       HANT_ONNX_MAX_BYTES);
  if (len == 0)
    return hant__error(HANT_EFORMAT, "%s: empty file, not an ONNX model", name);
  int rc = hant__onnx_wire_check(data, len, name);
  if (rc)
    return rc;
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
  if (!m)
    return hant__error(HANT_EFORMAT, "%s: not a valid ONNX model (protobuf-c could not unpack it)", name);
  onnx_reader r = {.file = name, .dir = dir, .dir_fd = dir_fd};
  rc = read_model(&r, m, info);
  if (!rc && (rc = hant_slots_discover(r.net)) > 0)
    rc = 0;
  free_reader(&r);
  if (r.own_dir_fd)
    close(r.dir_fd);
  onnx__model_proto__free_unpacked(m, NULL);
  if (rc) {
    hant_net_destroy(r.net);
    return rc;
  }
  *out = r.net;
  return 0;
}

int hant_onnx_parse(const uint8_t *data, size_t len, const char *name, const char *dir, hant_net **out,
                    hant_onnx_info *info) {
  return parse_at(data, len, name, dir, -1, out, info);
}

/* The directory of path, for external data files: "." for a bare name. */
static void dir_of(const char *path, char *dir, size_t n) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(dir, n, ".");
  else
    snprintf(dir, n, "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
}

int hant_onnx_load(const char *path, hant_net **out, hant_onnx_info *info) {
  uint8_t *buf;
  size_t len;
  int rc = hant_file_read(path, HANT_ONNX_MAX_BYTES, (char **)&buf, &len);
  if (rc)
    return rc;
  char dir[4096];
  dir_of(path, dir, sizeof(dir));
  rc = hant_onnx_parse(buf, len, path, dir, out, info);
  free(buf);
  return rc;
}

/* Either format from memory: hant's native files start with "HANTNET1". */
static int parse_any(const uint8_t *buf, size_t len, const char *name, const char *dir, int dir_fd, hant_net **out,
                     bool *onnx) {
  bool native = len >= 8 && !memcmp(buf, "HANTNET1", 8);
  if (onnx)
    *onnx = !native;
  if (native)
    return hant_netfile_parse(buf, len, name, out, NULL);
  return parse_at(buf, len, name, dir, dir_fd, out, NULL);
}

int hant_onnx_load_any(const char *path, hant_net **out, bool *onnx) {
  uint8_t *buf;
  size_t len;
  int rc = hant_file_read(path, HANT_ONNX_MAX_BYTES, (char **)&buf, &len);
  if (rc)
    return rc;
  char dir[4096];
  dir_of(path, dir, sizeof(dir));
  rc = parse_any(buf, len, path, dir, -1, out, onnx);
  free(buf);
  return rc;
}

int hant_onnx_load_any_fd(int fd, int dir_fd, const char *name, hant_net **out, bool *onnx) {
  if (!out || fd < 0)
    return hant__error(HANT_EINVAL, "ONNX reader: no file or no output");
  *out = NULL;
  if (!name)
    name = "model";
  uint8_t *buf;
  size_t len;
  int rc = hant_file_read_fd(fd, name, HANT_ONNX_MAX_BYTES, (char **)&buf, &len);
  if (rc)
    return rc;
  char dir[4096];
  dir_of(name, dir, sizeof(dir));
  /* Without a directory, external data is refused as from memory. */
  rc = parse_any(buf, len, name, dir_fd >= 0 ? dir : NULL, dir_fd, out, onnx);
  free(buf);
  return rc;
}
