/* SPDX-License-Identifier: MIT */
/* onnx_internal.h: what the ONNX reader's files share: the reader's state, its values, and the helpers across files. */
#ifndef HANT_ONNX_INTERNAL_H
#define HANT_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "onnx.h"
#include "onnx.pb-c.h"

/* Bounds on what a model may ask of hant, checked before anything of that
 * size is allocated or computed. */
#define ONNX_MAX_CHANNELS 65536
#define ONNX_MAX_SPATIAL 65536
#define ONNX_MAX_NUMEL ((size_t)1 << 28) /* elements of one tensor: 1 GiB of float32 */
#define ONNX_MAX_KERNEL 64

/* What a name in the graph stands for: the data input, a constant
 * (initializer or Constant node), a value some node computes, or another
 * name for a value (the output of an Identity node). */
typedef enum onnx_vkind { V_INPUT, V_CONST, V_DYN, V_ALIAS } onnx_vkind;

typedef struct onnx_value {
  const char *name; /* points into the unpacked model */
  onnx_vkind kind;
  /* V_CONST */
  int dtype; /* ONNX__TENSOR_PROTO__DATA_TYPE__* */
  int ndim;
  int64_t dims[8];
  size_t numel;
  float *f;     /* float data, owned by the reader */
  int64_t *i64; /* int64 data, owned by the reader */
  /* V_DYN: producing node; V_ALIAS: the Identity node whose input this is */
  int producer;
  int alias; /* resolved value for V_ALIAS, -1 until resolved */
  int cons;  /* readers among compute nodes and graph outputs */
  int reader; /* the last compute node that reads it, -1 for none */
  /* after emission */
  int hnode; /* hant node, -1 before */
  int rank;  /* 4: [N, C, H, W]; 2: [N, F]; 5: inside a channel shuffle */
  /* Inside a channel shuffle (onnx_channels.c): 1 after its first
   * Reshape, 2 after its Transpose, 0 elsewhere; the activation shuffled
   * and the groups. */
  int shuf_stage, shuf_src, shuf_groups;
} onnx_value;

/* The dynamic batch size in a shape folded from a Shape node (onnx_fold.c). */
#define HANT__ONNX_BATCH INT64_MIN

/* A node of the ONNX graph as the reader walks it. */
typedef struct onnx_rnode {
  const Onnx__NodeProto *p;
  int state;       /* of the graph walk in onnx_read.c */
  int absorbed_by; /* node that emits this one as part of a fused pattern, or -1 */
} onnx_rnode;

/* One model being read. It does not own the unpacked model; it owns vals
 * (with their data), htab and nodes, and net until hant_onnx_parse hands
 * the network out. */
typedef struct onnx_reader {
  const char *file; /* labels messages */
  const char *dir;  /* where external data files are (labels messages too), or NULL */
  int dir_fd;       /* that directory, opened on first use; -1: not yet (or never, when dir is NULL) */
  bool own_dir_fd;  /* dir_fd was opened here and is closed with the reader */
  int opset;
  const Onnx__GraphProto *g;
  onnx_value *vals;
  int n_vals, cap_vals;
  int *htab; /* open addressing: value index + 1, 0 empty */
  size_t hcap;
  onnx_rnode *nodes;
  int n_nodes;
  int input;  /* value index of the data input */
  int batch;  /* fixed batch size of the data input, 0 when dynamic */
  int output; /* value index of the graph output */
  hant_net *net;
} onnx_reader;

/* ---- onnx_wire.c */

/* Walks the protobuf wire format of a ModelProto of `len` bytes before
 * protobuf-c unpacks it: refuses malformed fields with HANT_EFORMAT, and
 * nesting deeper than HANT_ONNX_MAX_DEPTH, more than HANT_ONNX_MAX_MESSAGES
 * messages or an unpacked size far beyond the file's with HANT_ELIMIT.
 * `name` labels messages. */
int hant__onnx_wire_check(const uint8_t *data, size_t len, const char *name);

/* ---- onnx_read.c: values by name, and messages about nodes */

/* The index of the value called name, or -1. */
int hant__onnx_find(const onnx_reader *r, const char *name);
/* Same, following Identity aliases to the value that holds the data. */
int hant__onnx_lookup(const onnx_reader *r, const char *name);
/* A printable label of node ni in buf (n bytes): its name, or #index. */
const char *hant__onnx_node_name(const onnx_reader *r, int ni, char *buf, size_t n);
/* Records err with a message naming the file, node ni, its op and the
 * opset, then the printf-style text; returns err. */
int hant__onnx_node_err(const onnx_reader *r, int ni, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- onnx_tensor.c: constants */

/* Decodes a float32 or int64 tensor (inline or in an external data file
 * beneath the model's directory, reached without following a link) into
 * v, whose data v then owns, checking the shape against the amount of
 * data. Other data types leave a constant nothing can use. tname labels
 * messages. */
int hant__onnx_decode_tensor(onnx_reader *r, const Onnx__TensorProto *t, const char *tname, onnx_value *v);
/* Decodes the attribute of Constant node ni into v. */
int hant__onnx_constant_node(onnx_reader *r, int ni, onnx_value *v);

/* ---- onnx_attr.c: attributes of node ni */

/* The attribute called name, or NULL. */
const Onnx__AttributeProto *hant__onnx_attr(const onnx_reader *r, int ni, const char *name);
/* Refuses with HANT_ENOTSUP any attribute not in the NULL-terminated list allowed. */
int hant__onnx_attrs_known(const onnx_reader *r, int ni, const char *const *allowed);
/* Whether a declares type t (false when it declares none). */
bool hant__onnx_attr_is(const Onnx__AttributeProto *a, Onnx__AttributeProto__AttributeType t);
/* The typed readers set *out to the attribute's value, or to def when it
 * is absent, and refuse a value of the wrong type (HANT_EFORMAT) or
 * outside [lo, hi] (HANT_ENOTSUP). */
int hant__onnx_attr_int(const onnx_reader *r, int ni, const char *name, int64_t def, int64_t lo, int64_t hi,
                        int64_t *out);
int hant__onnx_attr_float(const onnx_reader *r, int ni, const char *name, float def, float *out);
/* Exactly n integers, each in [lo, hi]; *present tells whether the attribute was given. */
int hant__onnx_attr_ints(const onnx_reader *r, int ni, const char *name, size_t n, int64_t lo, int64_t hi,
                         int64_t *out, bool *present);
/* A string of at most n - 1 bytes into out (n bytes), NUL-terminated. */
int hant__onnx_attr_string(const onnx_reader *r, int ni, const char *name, const char *def, char *out, size_t n);

/* ---- onnx_fuse.c: several ONNX nodes that make one hant operator
 *
 * Each recogniser looks at the node it is given and returns the index of
 * the node that emits the whole pattern, or -1 when the node does not
 * start that pattern. They run once all values know their readers. */

/* HardSigmoid(x; 1/6, 1/2) read only by Mul(x, .): hard-swish, emitted by the Mul. */
int hant__onnx_hswish_mul(const onnx_reader *r, int hs);
/* Sigmoid(x) read only by Mul(x, .): SiLU, emitted by the Mul. */
int hant__onnx_silu_mul(const onnx_reader *r, int sg);
/* MatMul(x, W) read only by an Add of a constant bias: a linear layer, emitted by the Add. */
int hant__onnx_matmul_add(const onnx_reader *r, int mm);
/* A zero Pad of H and W read only by an AveragePool: padding counted in
 * the average, emitted by the pool. With p non-NULL, *p is the padding. */
int hant__onnx_pad_pool(const onnx_reader *r, int pad, int *p);
/* The shape computation of PyTorch's x.view(x.size(0), -1) feeding the
 * Reshape node `reshape`: returns reshape when it has that form, with the
 * constant tail of the shape in *tail. With mark set, the four shape
 * nodes are marked as absorbed by the Reshape. */
int hant__onnx_batch_shape(onnx_reader *r, int reshape, int64_t *tail, bool mark);

/* ---- onnx_qdq_read.c: QuantizeLinear and DequantizeLinear */

/* Whether p is a QuantizeLinear or DequantizeLinear node. */
bool hant__onnx_is_qdq(const Onnx__NodeProto *p);
/* Checks the quantisation parameters of Q/DQ node ni (scales positive and
 * finite, zero points in their type's range and as many as the scales,
 * the axis inside the input's rank and as long as the scales), naming the
 * node on failure. *is_const tells whether its input is an initializer:
 * then node ni is a DequantizeLinear whose output is a constant
 * (hant__onnx_qdq_const); otherwise its output passes its input through,
 * unless *clamps: a QuantizeLinear whose zero point is its type's minimum
 * clamps at 0 and is read as a ReLU. */
int hant__onnx_qdq_check(onnx_reader *r, int ni, bool *is_const, bool *clamps);
/* Decodes the float32 output of DequantizeLinear node ni of a constant into v. */
int hant__onnx_qdq_const(onnx_reader *r, int ni, onnx_value *v);

/* ---- onnx_ops.c: one importer per ONNX operator */

/* Emits node ni into r->net and records the hant node of its output. */
typedef int (*hant__onnx_op_fn)(onnx_reader *r, int ni);
/* The importer of op `name`: *known tells whether hant reads the op at
 * this opset. NULL for ops that emit nothing (Identity, Constant). */
hant__onnx_op_fn hant__onnx_find_op(const char *name, int opset, bool *known);
/* The value of node ni's input k, or -1 for an absent optional input. */
int hant__onnx_in_val(const onnx_reader *r, int ni, int k);

/* ---- onnx_fold.c: integer shape arithmetic */

/* Folds node ni into int64 constants when it is shape arithmetic whose
 * inputs are known (Shape of an emitted activation, Gather, Unsqueeze,
 * Concat on axis 0, Div, Mul, Add, Sub, Cast to int64). Returns 1 when
 * folded, 0 when the node is not such arithmetic, or an error. */
int hant__onnx_fold(onnx_reader *r, int ni);

/* ---- onnx_channels.c: channel moves */

/* Concat of activations on channels (and nodes of x.view's shape, which
 * their Reshape emits). */
int hant__onnx_op_concat(onnx_reader *r, int ni);
/* The Reshape nodes of a channel shuffle: 1 when node ni is one (and was
 * handled), 0 when it is not, or an error. */
int hant__onnx_shuffle_reshape(onnx_reader *r, int ni);
/* Importers of Slice, Split, Transpose, and integer ops left unfolded,
 * by op name, as hant__onnx_find_op. */
hant__onnx_op_fn hant__onnx_find_channel_op(const char *name, int opset, bool *known);

#endif
