/* SPDX-License-Identifier: MIT */
/* fuzz_onnx.c: fuzz target for the ONNX reader, with a standalone driver that mutates valid models bytewise and structurally. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "arch.h"
#include "hant.h"
#include "net.h"
#include "onnx.h"
#include "onnx.pb-c.h" /* structure-aware mutations of the seeds */
#include "rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long loaded_count; /* inputs that were read as networks */

/* Properties: a refusal hands nothing out and says why; an accepted model
 * runs (when small), and hant's own export of it reads back. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hant_net *net = (hant_net *)(uintptr_t)1;
  hant_errmsg_clear();
  int rc = hant_onnx_parse(data, size, "fuzz", NULL, &net, NULL);
  if (rc) {
    if (net || (rc != HANT_ENOMEM && !hant_errmsg()[0]))
      abort();
    return 0;
  }
  if (!net || net->n_nodes < 2)
    abort();
  loaded_count++;
  for (int i = 0; i < net->n_slots; i++) {
    const hant_slot *s = &net->slots[i];
    if (s->first <= s->in || s->last < s->first || s->last >= net->n_nodes)
      abort();
  }
  const hant_node *in = &net->nodes[0];
  size_t nx = (size_t)in->c * in->h * in->w;
  if (nx <= (1u << 14) && hant_net_macs(net) <= 2e6) {
    float *x = malloc(2 * nx * sizeof(float));
    if (x) {
      for (size_t i = 0; i < 2 * nx; i++)
        x[i] = (float)(i % 7) * 0.25f - 0.5f;
      hant_pass p;
      hant_pass_init(&p);
      rc = hant_net_forward(net, &p, x, 2, false);
      if (rc && rc != HANT_ENOMEM)
        abort();
      hant_pass_free(&p);
      free(x);
    }
  }
  uint8_t *out = NULL;
  size_t len = 0;
  if (!hant_onnx_serialize(net, NULL, &out, &len)) {
    hant_net *back = NULL;
    rc = hant_onnx_parse(out, len, "fuzz-export", NULL, &back, NULL);
    if (rc && rc != HANT_ENOMEM) {
      fprintf(stderr, "fuzz_onnx: hant's export of an accepted model does not read back: %s\n", hant_errmsg());
      abort();
    }
    hant_net_destroy(back);
    free(out);
  }
  hant_net_destroy(net);
  return 0;
}

#ifndef HANT_LIBFUZZER
/* Standalone driver (fuzz_driver.h): runs the files named on the command
 * line, or with --random SECONDS [--seed N] mutates models exported here
 * from small architectures, and any files named (e.g. PyTorch exports),
 * for that long: byte edits, and edits of the unpacked protobuf (op
 * types, input names, attribute values, dimensions) that reach the graph
 * checks behind the wire format. Every seed must load. A crashing input
 * is saved to fuzz_onnx-crash.bin in the working directory. */

#define FUZZ_NAME "fuzz_onnx"
#include "fuzz_driver.h"

static seed exported(const char *arch, uint64_t rs) {
  seed s = {NULL, 0};
  hant_net *net = hant_arch_build(arch, "seed");
  if (!net)
    abort();
  hant_rng r;
  hant_rng_seed(&r, rs);
  hant_net_init_params(net, &r);
  if (hant_onnx_serialize(net, NULL, &s.p, &s.n))
    abort();
  hant_net_destroy(net);
  return s;
}

static size_t mutate_bytes(uint8_t *buf, size_t len, size_t cap) {
  static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x07, 0x08, 0x0a, 0x12, 0x1a, 0x22, 0x3a, 0x7f, 0x80, 0xff};
  int edits = 1 + (int)fuzz_below(4);
  for (int e = 0; e < edits; e++) {
    size_t at = len ? fuzz_below((uint32_t)len) : 0;
    switch (fuzz_below(6)) {
    case 0:
      if (len)
        buf[at] ^= (uint8_t)(1u << fuzz_below(8));
      break;
    case 1: /* a protobuf-significant byte: tags, lengths, continuation bits */
      if (len)
        buf[at] = vals[fuzz_below(sizeof(vals))];
      break;
    case 2:
      len = at;
      break;
    case 3: { /* delete a range */
      size_t k = len - at ? 1 + fuzz_below((uint32_t)(len - at < 64 ? len - at : 64)) : 0;
      memmove(buf + at, buf + at + k, len - at - k);
      len -= k;
      break;
    }
    case 4: { /* duplicate a range (repeats fields) */
      size_t k = len - at ? 1 + fuzz_below((uint32_t)(len - at < 256 ? len - at : 256)) : 0;
      if (len + k > cap)
        break;
      memmove(buf + at + k, buf + at, len - at);
      len += k;
      break;
    }
    default:
      if (len)
        buf[at] = (uint8_t)fuzz_next();
      break;
    }
  }
  return len;
}

static const char *const op_names[] = {"Conv", "BatchNormalization", "Relu", "Clip", "HardSwish", "HardSigmoid",
                                       "Mul", "Add", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten",
                                       "Reshape", "Gemm", "MatMul", "Identity", "Constant", "Pad", "Softmax",
                                       "QuantizeLinear", "DequantizeLinear", ""};
static const int64_t ints[] = {-1, 0, 1, 2, 3, 4, 6, 7, 64, 65, 1000, 65536, 1 << 30, INT64_MAX, INT64_MIN};

/* Edits the unpacked model in place; every edit points at data owned by
 * the model or static, so the undo list restores it before freeing. */
typedef struct undo {
  void **where;
  void *old;
} undo;

static size_t mutate_struct(const seed *s, uint8_t *out, size_t cap) {
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, s->n, s->p);
  if (!m || !m->graph || !m->graph->n_node)
    abort();
  Onnx__GraphProto *g = m->graph;
  undo u[8];
  int nu = 0;
  int64_t saved_int[8], *int_at[8];
  int ni = 0;
  int edits = 1 + (int)fuzz_below(3);
  for (int e = 0; e < edits; e++) {
    Onnx__NodeProto *n = g->node[fuzz_below((uint32_t)g->n_node)];
    switch (fuzz_below(5)) {
    case 0: /* another op */
      u[nu++] = (undo){(void **)&n->op_type, n->op_type};
      n->op_type = (char *)op_names[fuzz_below(sizeof(op_names) / sizeof(op_names[0]))];
      break;
    case 1: /* rewire an input to another node's output or another input */
      if (n->n_input) {
        Onnx__NodeProto *o = g->node[fuzz_below((uint32_t)g->n_node)];
        size_t k = fuzz_below((uint32_t)n->n_input);
        u[nu++] = (undo){(void **)&n->input[k], n->input[k]};
        n->input[k] = fuzz_below(2) && o->n_input ? o->input[fuzz_below((uint32_t)o->n_input)]
                                                         : o->output[0];
      }
      break;
    case 2: /* an attribute's integer */
      if (n->n_attribute) {
        Onnx__AttributeProto *a = n->attribute[fuzz_below((uint32_t)n->n_attribute)];
        int64_t *p = a->n_ints ? &a->ints[fuzz_below((uint32_t)a->n_ints)] : &a->i;
        saved_int[ni] = *p, int_at[ni++] = p;
        *p = ints[fuzz_below(sizeof(ints) / sizeof(ints[0]))];
      }
      break;
    case 3: /* a tensor dimension */
      if (g->n_initializer) {
        Onnx__TensorProto *t = g->initializer[fuzz_below((uint32_t)g->n_initializer)];
        if (t->n_dims) {
          int64_t *p = &t->dims[fuzz_below((uint32_t)t->n_dims)];
          saved_int[ni] = *p, int_at[ni++] = p;
          *p = ints[fuzz_below(sizeof(ints) / sizeof(ints[0]))];
        }
      }
      break;
    default: { /* a shape dimension of the input or output */
      Onnx__ValueInfoProto *v = fuzz_below(2) ? g->input[0] : g->output[0];
      Onnx__TensorShapeProto *sh = v->type->tensor_type->shape;
      Onnx__TensorShapeProto__Dimension *d = sh->dim[fuzz_below((uint32_t)sh->n_dim)];
      if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
        saved_int[ni] = d->dim_value, int_at[ni++] = &d->dim_value;
        d->dim_value = ints[fuzz_below(sizeof(ints) / sizeof(ints[0]))];
      }
      break;
    }
    }
  }
  size_t len = onnx__model_proto__get_packed_size(m);
  if (len <= cap)
    onnx__model_proto__pack(m, out);
  else
    len = 0;
  while (nu--)
    *u[nu].where = u[nu].old;
  while (ni--)
    *int_at[ni] = saved_int[ni];
  onnx__model_proto__free_unpacked(m, NULL);
  return len;
}

static const char *const archs[] = {
    "input 1x8x8; conv 4; gap; linear 3",
    "input 3x8x8; conv 8 act=hswish; res 8; res 16 s=2; ir 16 e=2; dws 24; maxpool k=2; flatten; linear 5",
    "input 2x9x7; conv 6 k=5 g=2 act=relu6; avgpool k=3 s=2 p=1; gap; linear 4 act=relu",
    "input 1x12x12; conv 8 s=2 bn=0; ir 8 e=1; ir 12 e=3 s=2 k=5 act=hswish; linear 10",
    /* channel moves: slices, concatenations, the shuffle's reshapes and transpose, ceil-mode pools */
    "input 2x9x9; conv 8 s=2; shuffle 16 s=2; shuffle 16; maxpool k=3 s=2 ceil=1; fire 16 sq=4 e1=8; "
    "inception 16 c1=4 r3=4 c3=4 r5=2 c5=4 pool=4; gap; linear 3",
};

/* The same network quantised to int8 on random images and written as QDQ
 * (onnx_qdq.c), so mutations reach the quantisation parameters' checks. */
static seed exported_qdq(const char *arch, uint64_t rs) {
  seed s = {NULL, 0};
  hant_net *net = hant_arch_build(arch, "seed");
  if (!net)
    abort();
  hant_rng r;
  hant_rng_seed(&r, rs);
  hant_net_init_params(net, &r);
  const hant_node *in = &net->nodes[0];
  size_t per = (size_t)in->c * in->h * in->w;
  float *x = malloc(sizeof(float) * per * 8);
  hant_qnet *q = NULL;
  if (!x)
    abort();
  for (size_t i = 0; i < per * 8; i++)
    x[i] = hant_rng_uniform(&r);
  if (hant_net_fold_bn(net) || hant_qnet_calibrate(net, x, 8, HANT_QCALIB_MINMAX, 0, &q) ||
      hant_onnx_serialize_qdq(q, NULL, &s.p, &s.n))
    abort();
  hant_qnet_destroy(q);
  hant_net_destroy(net);
  free(x);
  return s;
}

static int make_seeds(seed *pool, size_t *n, size_t cap) {
  for (size_t i = 0; i < sizeof(archs) / sizeof(archs[0]) && *n < cap; i++)
    pool[(*n)++] = exported(archs[i], (uint64_t)i + 1);
  for (size_t i = 0; i < 2 && *n < cap; i++)
    pool[(*n)++] = exported_qdq(archs[i], (uint64_t)i + 11);
  return 0;
}

/* Byte edits, protobuf edits, or both. The driver hands over a copy of a
 * seed, and seeds load, so the protobuf unpacks. */
static size_t mutate(uint8_t *buf, size_t len, size_t cap) {
  uint32_t how = fuzz_below(3);
  if (how == 0)
    return mutate_bytes(buf, len, cap);
  seed s = {malloc(len ? len : 1), len};
  if (!s.p)
    return 0;
  memcpy(s.p, buf, len);
  len = mutate_struct(&s, buf, cap);
  free(s.p);
  return how == 1 ? len : mutate_bytes(buf, len, cap);
}

static const fuzz_target target = {
    .make_seeds = make_seeds, .mutate = mutate, .accepted = &loaded_count, .seeds_must_pass = true};

int main(int argc, char **argv) { return fuzz_main(argc, argv, &target); }
#endif
