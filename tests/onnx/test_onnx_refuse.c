/* SPDX-License-Identifier: MIT */
/* test_onnx_refuse.c: the ONNX reader refuses unsupported, malformed and inconsistent models with messages that say why. */
#include <stdbool.h>
#include <string.h>

#include "../test_util.h"
#include "arch.h"
#include "hant.h"
#include "net.h"
#include "onnx.h"
#include "onnx.pb-c.h" /* to mutate valid models into invalid ones */
#include "rng.h"

/* conv-bn-relu, conv-bn-relu6, gap, linear: Conv, Relu, Conv, Clip,
 * GlobalAveragePool, Flatten, Gemm once exported. */
static const char *ARCH = "input 1x8x8; conv 4 k=3; conv 4 k=3 act=relu6; gap; linear 3";

static uint8_t *base;
static size_t base_len;

static void make_base(void) {
  hant_net *net = hant_arch_build(ARCH, "test");
  hant_rng r;
  hant_rng_seed(&r, 7);
  hant_net_init_params(net, &r);
  int rc = hant_onnx_serialize(net, NULL, &base, &base_len);
  CHECK(rc == 0, "serialize: %s", hant_errmsg());
  uint8_t *again;
  size_t again_len;
  rc = hant_onnx_serialize(net, NULL, &again, &again_len);
  CHECK(rc == 0 && again_len == base_len && !memcmp(again, base, base_len),
        "the same network serialises to the same bytes");
  free(again);
  hant_net *back = NULL;
  rc = hant_onnx_parse(base, base_len, "base.onnx", NULL, &back, NULL);
  CHECK(rc == 0 && back && back->n_slots == 3, "the base model reads back with 3 slots: %s", hant_errmsg());
  hant_net_destroy(back);
  hant_net_destroy(net);
}

/* Parses data and checks the error code and that the message holds every
 * string in want (NULL-terminated). */
static void expect(const char *what, const uint8_t *data, size_t len, int code, const char *const *want) {
  hant_net *net = (hant_net *)(uintptr_t)1;
  hant_errmsg_clear();
  int rc = hant_onnx_parse(data, len, "bad.onnx", NULL, &net, NULL);
  CHECK(rc == code, "%s: got %s (%s), expected %s", what, hant_err_name(rc), hant_errmsg(), hant_err_name(code));
  CHECK(net == NULL, "%s: no network handed out on error", what);
  for (const char *const *w = want; w && *w; w++)
    CHECK(strstr(hant_errmsg(), *w) != NULL, "%s: message \"%s\" should mention \"%s\"", what, hant_errmsg(), *w);
  if (rc == code)
    printf("ok   %-28s %s\n", what, hant_errmsg());
  if (net != NULL && net != (hant_net *)(uintptr_t)1)
    hant_net_destroy(net);
}

typedef void (*mutator)(Onnx__ModelProto *m, void **saved);
typedef void (*restorer)(Onnx__ModelProto *m, void **saved);

/* Unpacks the base model, applies mut, packs it, checks the refusal, and
 * undoes the mutation before freeing. */
static void mutated(const char *what, mutator mut, restorer undo, int code, const char *const *want) {
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, base_len, base);
  CHECK(m != NULL, "unpack base");
  if (!m)
    return;
  void *saved[8] = {0};
  mut(m, saved);
  size_t n = onnx__model_proto__get_packed_size(m);
  uint8_t *buf = malloc(n);
  onnx__model_proto__pack(m, buf);
  undo(m, saved);
  onnx__model_proto__free_unpacked(m, NULL);
  expect(what, buf, n, code, want);
  free(buf);
}

static Onnx__NodeProto *node_of(Onnx__ModelProto *m, const char *op) {
  for (size_t i = 0; i < m->graph->n_node; i++)
    if (!strcmp(m->graph->node[i]->op_type, op))
      return m->graph->node[i];
  return NULL;
}

static Onnx__AttributeProto *attr_of(Onnx__NodeProto *n, const char *name) {
  for (size_t i = 0; i < n->n_attribute; i++)
    if (!strcmp(n->attribute[i]->name, name))
      return n->attribute[i];
  return NULL;
}

/* unsupported op: the Relu becomes a Softplus */
static void mut_op(Onnx__ModelProto *m, void **s) {
  Onnx__NodeProto *n = node_of(m, "Relu");
  s[0] = n, s[1] = n->op_type, s[2] = n->name;
  n->op_type = (char *)"Softplus";
  n->name = (char *)"my_softplus";
}
static void undo_op(Onnx__ModelProto *m, void **s) {
  Onnx__NodeProto *n = s[0];
  n->op_type = s[1];
  n->name = s[2];
}

/* a Mul by a constant: the Relu becomes x * (an initializer); x * x of
 * one shape is a Mul hant reads (squeeze-and-excitation's operator) */
static void mut_mul(Onnx__ModelProto *m, void **s) {
  Onnx__NodeProto *n = node_of(m, "Relu");
  char **two = malloc(2 * sizeof(char *));
  two[0] = n->input[0], two[1] = m->graph->initializer[0]->name;
  s[0] = n, s[1] = n->op_type, s[2] = n->input, s[3] = two;
  n->op_type = (char *)"Mul";
  n->input = two;
  n->n_input = 2;
}
static void undo_mul(Onnx__ModelProto *m, void **s) {
  Onnx__NodeProto *n = s[0];
  n->op_type = s[1];
  n->input = s[2];
  n->n_input = 1;
  free(s[3]);
}

/* a lone HardSigmoid with ONNX's default alpha 0.2, not PyTorch's 1/6 */
static void mut_hsig(Onnx__ModelProto *m, void **s) {
  Onnx__NodeProto *n = node_of(m, "Relu");
  s[0] = n, s[1] = n->op_type, s[2] = n->name;
  n->op_type = (char *)"HardSigmoid";
  n->name = (char *)"my_hsig";
}

/* cycle: the first Conv reads the Relu's output, which depends on it */
static void mut_cycle(Onnx__ModelProto *m, void **s) {
  Onnx__NodeProto *c = node_of(m, "Conv"), *r = node_of(m, "Relu");
  s[0] = c, s[1] = c->input[0];
  c->input[0] = r->output[0];
}
static void undo_cycle(Onnx__ModelProto *m, void **s) { ((Onnx__NodeProto *)s[0])->input[0] = s[1]; }

/* asymmetric pads on the first Conv */
static void mut_pads(Onnx__ModelProto *m, void **s) {
  Onnx__AttributeProto *a = attr_of(node_of(m, "Conv"), "pads");
  s[0] = a, s[1] = (void *)(intptr_t)a->ints[2];
  a->ints[2] = 0;
}
static void undo_pads(Onnx__ModelProto *m, void **s) { ((Onnx__AttributeProto *)s[0])->ints[2] = (intptr_t)s[1]; }

/* the input claims 3 channels; the first Conv's weight expects 1 */
static void mut_channels(Onnx__ModelProto *m, void **s) {
  Onnx__TensorShapeProto__Dimension *d = m->graph->input[0]->type->tensor_type->shape->dim[1];
  s[0] = d;
  d->dim_value = 3;
}
static void undo_channels(Onnx__ModelProto *m, void **s) { ((Onnx__TensorShapeProto__Dimension *)s[0])->dim_value = 1; }

/* the output is declared with 11 classes; the graph computes 3 */
static void mut_outshape(Onnx__ModelProto *m, void **s) {
  Onnx__TensorShapeProto__Dimension *d = m->graph->output[0]->type->tensor_type->shape->dim[1];
  s[0] = d;
  d->dim_value = 11;
}
static void undo_outshape(Onnx__ModelProto *m, void **s) { ((Onnx__TensorShapeProto__Dimension *)s[0])->dim_value = 3; }

/* a weight's raw data is shorter than its shape says */
static void mut_rawlen(Onnx__ModelProto *m, void **s) {
  Onnx__TensorProto *t = m->graph->initializer[0];
  s[0] = t, s[1] = (void *)t->raw_data.len;
  t->raw_data.len -= 4;
}
static void undo_rawlen(Onnx__ModelProto *m, void **s) { ((Onnx__TensorProto *)s[0])->raw_data.len = (size_t)s[1]; }

/* Clip to [-1, 1] is not ReLU6 */
static void mut_clip(Onnx__ModelProto *m, void **s) {
  Onnx__NodeProto *n = node_of(m, "Clip");
  s[0] = n, s[1] = n->input[1];
  n->input[2 - 1] = n->input[0]; /* min becomes a computed value */
}
static void undo_clip(Onnx__ModelProto *m, void **s) { ((Onnx__NodeProto *)s[0])->input[1] = s[1]; }

/* a node reads a name nothing produces */
static void mut_dangling(Onnx__ModelProto *m, void **s) {
  Onnx__NodeProto *n = node_of(m, "GlobalAveragePool");
  s[0] = n, s[1] = n->input[0];
  n->input[0] = (char *)"nowhere";
}
static void undo_dangling(Onnx__ModelProto *m, void **s) { ((Onnx__NodeProto *)s[0])->input[0] = s[1]; }

/* opset 6 is older than hant reads */
static void mut_opset(Onnx__ModelProto *m, void **s) {
  s[0] = (void *)(intptr_t)m->opset_import[0]->version;
  m->opset_import[0]->version = 6;
}
static void undo_opset(Onnx__ModelProto *m, void **s) { m->opset_import[0]->version = (intptr_t)s[0]; }

/* two graph outputs */
static void mut_outputs(Onnx__ModelProto *m, void **s) {
  Onnx__ValueInfoProto **two = malloc(2 * sizeof(*two));
  two[0] = two[1] = m->graph->output[0];
  s[0] = m->graph->output, s[1] = two;
  m->graph->output = two;
  m->graph->n_output = 2;
}
static void undo_outputs(Onnx__ModelProto *m, void **s) {
  m->graph->output = s[0];
  m->graph->n_output = 1;
  free(s[1]);
}

/* an external data file outside the model's folder */
static void mut_external(Onnx__ModelProto *m, void **s) {
  static Onnx__StringStringEntryProto loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
  static Onnx__StringStringEntryProto *locs[1] = {&loc};
  loc.key = (char *)"location";
  loc.value = (char *)"../../etc/passwd";
  Onnx__TensorProto *t = m->graph->initializer[0];
  s[0] = t;
  t->has_raw_data = 0;
  t->has_data_location = 1;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  t->n_external_data = 1;
  t->external_data = locs;
}
static void undo_external(Onnx__ModelProto *m, void **s) {
  Onnx__TensorProto *t = s[0];
  t->has_raw_data = 1;
  t->has_data_location = 0;
  t->n_external_data = 0;
  t->external_data = NULL;
}

/* Messages nested 198 deep: model.graph.node.attribute.g.node.attribute... */
static size_t nested(uint8_t *out, size_t cap) {
  /* Built inside out: each level wraps the previous bytes in a field. */
  size_t n = 0, start = cap;
  static const uint8_t tags[3] = {(6 << 3) | 2 /* Attribute.g */, (5 << 3) | 2 /* Node.attribute */,
                                  (1 << 3) | 2 /* Graph.node */};
  for (int level = 0; level < 198; level++) { /* ends on a GraphProto */
    uint8_t tag = tags[level % 3];
    if (n > 127 * 127 || start < 4)
      break;
    uint8_t hdr[4];
    int h = 0;
    hdr[h++] = tag;
    size_t v = n;
    do {
      hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      v >>= 7;
    } while (v);
    start -= (size_t)h;
    memcpy(out + start, hdr, (size_t)h);
    n += (size_t)h;
  }
  /* model.graph (field 7) around it all */
  size_t v = n;
  uint8_t hdr[4];
  int h = 0;
  hdr[h++] = (7 << 3) | 2;
  do {
    hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  start -= (size_t)h;
  memcpy(out + start, hdr, (size_t)h);
  n += (size_t)h;
  memmove(out, out + start, n);
  return n;
}

int main(void) {
  make_base();
  if (!base)
    return test_summary("onnx_refuse");

  mutated("unsupported op", mut_op, undo_op, HANT_ENOTSUP,
          (const char *const[]){"bad.onnx", "Softplus", "my_softplus", "opset 13", NULL});
  mutated("Mul by a constant", mut_mul, undo_mul, HANT_ENOTSUP,
          (const char *const[]){"bad.onnx", "n3_act", "Mul", "opset 13", "constant", "gate", NULL});
  mutated("HardSigmoid alpha 0.2", mut_hsig, undo_op, HANT_ENOTSUP,
          (const char *const[]){"bad.onnx", "my_hsig", "HardSigmoid", "alpha=0.2", "alpha=1/6", NULL});
  mutated("cycle", mut_cycle, undo_cycle, HANT_EFORMAT, (const char *const[]){"bad.onnx", "cycle", NULL});
  mutated("asymmetric pads", mut_pads, undo_pads, HANT_ENOTSUP,
          (const char *const[]){"bad.onnx", "n1_conv", "Conv", "asymmetric pads [1, 1, 0, 1]", NULL});
  mutated("input channels vs weight", mut_channels, undo_channels, HANT_ESHAPE,
          (const char *const[]){"n1_conv", "Conv", "3 channels", NULL});
  mutated("declared output shape", mut_outshape, undo_outshape, HANT_ESHAPE,
          (const char *const[]){"logits", "11", "3", NULL});
  mutated("raw data vs shape", mut_rawlen, undo_rawlen, HANT_ESHAPE,
          (const char *const[]){"n1.weight", "raw data", NULL});
  mutated("Clip min not constant", mut_clip, undo_clip, HANT_ENOTSUP, (const char *const[]){"Clip", "constant", NULL});
  mutated("dangling input", mut_dangling, undo_dangling, HANT_EFORMAT,
          (const char *const[]){"nowhere", "not produced", NULL});
  mutated("opset too old", mut_opset, undo_opset, HANT_ENOTSUP, (const char *const[]){"opset 6", NULL});
  mutated("two outputs", mut_outputs, undo_outputs, HANT_ENOTSUP, (const char *const[]){"2 outputs", NULL});
  mutated("external data escapes", mut_external, undo_external, HANT_EFORMAT,
          (const char *const[]){"n1.weight", "../../etc/passwd", "relative path", NULL});

  /* truncated at every length: refused, never crashing */
  int refused = 0;
  for (size_t n = 0; n < base_len; n++) {
    hant_net *net = NULL;
    if (hant_onnx_parse(base, n, "cut.onnx", NULL, &net, NULL) != 0 && !net && hant_errmsg()[0])
      refused++;
    hant_net_destroy(net);
  }
  CHECK(refused == (int)base_len, "truncated: %d of %zu cuts refused with a message", refused, base_len);
  expect("truncated", base, base_len / 2, HANT_EFORMAT,
         (const char *const[]){"bad.onnx", "malformed protobuf", NULL});

  /* random bytes */
  hant_rng r;
  hant_rng_seed(&r, 42);
  uint8_t junk[4096];
  refused = 0;
  for (int t = 0; t < 2000; t++) {
    size_t n = 1 + hant_rng_below(&r, sizeof(junk));
    for (size_t i = 0; i < n; i++)
      junk[i] = (uint8_t)hant_rng_below(&r, 256);
    hant_net *net = NULL;
    if (hant_onnx_parse(junk, n, "junk.onnx", NULL, &net, NULL) != 0 && !net && hant_errmsg()[0])
      refused++;
    hant_net_destroy(net);
  }
  CHECK(refused == 2000, "random bytes: %d of 2000 refused with a message", refused);
  memset(junk, 0xff, 64);
  expect("random bytes", junk, 64, HANT_EFORMAT, (const char *const[]){"bad.onnx", "not a valid ONNX model", NULL});
  expect("empty file", junk, 0, HANT_EFORMAT, (const char *const[]){"empty", NULL});

  static uint8_t deep[1 << 16];
  size_t dn = nested(deep, sizeof(deep));
  expect("deeply nested", deep, dn, HANT_ELIMIT, (const char *const[]){"nested deeper", NULL});

  free(base);
  return test_summary("onnx_refuse");
}
