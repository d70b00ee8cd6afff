/* SPDX-License-Identifier: MIT */
/* onnx.h: reading ONNX model files into hant networks and writing hant networks as ONNX. */
#ifndef HANT_ONNX_H
#define HANT_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"
#include "quant.h"

/* Largest ONNX file accepted, and largest external data file. protobuf-c's
 * unpacker has no limit of its own, so the reader checks the size first,
 * then the message nesting depth and the number of messages (see
 * HANT_ONNX_MAX_DEPTH, HANT_ONNX_MAX_MESSAGES) before unpacking. */
#define HANT_ONNX_MAX_BYTES ((size_t)1 << 30)
#define HANT_ONNX_MAX_DEPTH 16          /* protobuf message nesting */
#define HANT_ONNX_MAX_MESSAGES 4000000L /* protobuf messages in one file */
#define HANT_ONNX_MAX_NODES 100000      /* graph nodes */

/* What the reader learned about a model besides the network itself. */
typedef struct hant_onnx_info {
  int opset;            /* default-domain opset the model imports */
  int64_t ir_version;
  char producer[64];    /* producer_name producer_version, truncated */
  char input[64];       /* graph input name, truncated */
  char output[64];      /* graph output name, truncated */
  int batch;            /* fixed batch size of the input, 0 when dynamic */
  int onnx_nodes;       /* nodes in the ONNX graph */
} hant_onnx_info;

/* Reads an ONNX model into a new network with its slots discovered (see
 * slots.h). Supports what torch.onnx.export emits for CNNs at opsets
 * 11-17: Conv (groups, strides, symmetric pads, dilation 1),
 * BatchNormalization, Relu, Clip (0, 6), HardSwish or HardSigmoid + Mul,
 * Add, MaxPool, AveragePool (also after a zero Pad), GlobalAveragePool,
 * Flatten, Reshape to [N, -1] by a constant shape or by PyTorch's
 * x.view(x.size(0), -1) shape computation, Gemm, MatMul (+ Add of a
 * constant bias), Identity, Constant, initializers, a dynamic batch
 * dimension, and external data files beneath the model's directory
 * (reached without following a symbolic link, like ONNX's own checker). The input must be
 * NCHW float32. docs/onnx.md lists the exact conditions.
 *
 * Anything else is refused with HANT_ENOTSUP and a message naming the
 * file, the op, the node and the opset; malformed protobuf, inconsistent
 * shapes, cycles, dangling names and oversized data are refused with
 * HANT_EFORMAT, HANT_ESHAPE or HANT_ELIMIT. On success *out owns a new
 * network (hant_net_destroy); info may be NULL. Imported networks carry no
 * architecture text (net->arch is NULL), so they are saved as ONNX. */
int hant_onnx_load(const char *path, hant_net **out, hant_onnx_info *info);

/* Same, from memory. `name` labels messages. External data files are
 * resolved relative to `dir`; with dir NULL a model that refers to one is
 * refused. Used by the file loader and the fuzz target. */
int hant_onnx_parse(const uint8_t *data, size_t len, const char *name, const char *dir,
                    hant_net **out, hant_onnx_info *info);

/* Loads either format, deciding by content: hant's native files start with
 * "HANTNET1", anything else is read as ONNX. *onnx (may be NULL) tells
 * which it was. */
int hant_onnx_load_any(const char *path, hant_net **out, bool *onnx);

/* The same from a file already open: fd, a regular file, read whole from
 * its start with pread (its offset is not moved); name labels messages.
 * External data files are resolved beneath dir_fd, the model's directory,
 * without following a link; with dir_fd -1 a model that refers to one is
 * refused. The caller keeps both descriptors. This is how hantd reads a
 * model it has opened beneath a peer's place (place.h); programs use the
 * path-taking loaders. */
int hant_onnx_load_any_fd(int fd, int dir_fd, const char *name, hant_net **out, bool *onnx);

typedef struct hant_onnx_save_opts {
  const char *doc; /* model doc_string, or NULL */
} hant_onnx_save_opts;

/* Writes net as an ONNX model: opset 13, IR version 7, input "input" of
 * shape [N, C, H, W] with a dynamic batch dimension "N", output "logits",
 * parameters as little-endian float32 raw_data initializers. Batch norms
 * that follow a convolution are folded into it (net is not modified);
 * others are written as BatchNormalization. The same network always gives
 * the same bytes. The file is written to a temporary name and renamed.
 * opts may be NULL. */
int hant_onnx_save(const hant_net *net, const char *path, const hant_onnx_save_opts *opts);

/* Same, into a malloc'd buffer (*data, *len) the caller frees. */
int hant_onnx_serialize(const hant_net *net, const hant_onnx_save_opts *opts, uint8_t **data,
                        size_t *len);

/* Writes a quantised network (quant.h) as a QDQ ONNX model, opset 13:
 * the float32 model hant_onnx_save writes, with QuantizeLinear ->
 * DequantizeLinear (uint8, per tensor) after every tensor the int8
 * evaluation holds in uint8, conv and linear weights as int8 initializers
 * with per-output-channel scales (DequantizeLinear axis 0), biases as int32
 * in units of input scale x weight scale, and the ReLUs the quantised
 * network absorbs into its producers left out. Input "input" and output
 * "logits" stay float32. ONNX Runtime runs it as hant_qnet_run does
 * (docs/int8.md states how closely). The same quantised network always
 * gives the same bytes; the file is written atomically. */
int hant_onnx_save_qdq(const hant_qnet *q, const char *path, const hant_onnx_save_opts *opts);

/* Same, into a malloc'd buffer the caller frees. */
int hant_onnx_serialize_qdq(const hant_qnet *q, const hant_onnx_save_opts *opts, uint8_t **data, size_t *len);

#endif
