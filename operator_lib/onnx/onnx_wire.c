/* SPDX-License-Identifier: MIT */
/* onnx_wire.c: bounds an ONNX file's protobuf wire format before protobuf-c unpacks it. */
#include "onnx_internal.h"

#include "base.h"

/* protobuf-c unpacks recursively without a depth limit, and a few bytes on
 * the wire can become a large allocation. This walk, guided by the same
 * descriptors, bounds nesting, message count and the unpacked size, and
 * checks every length before protobuf-c sees the bytes. */

typedef struct wire {
  const char *name;
  long messages;
  size_t est;   /* estimated unpacked bytes */
  size_t limit; /* on est */
} wire;

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end)
      return -1;
    uint8_t b = *(*p)++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return -1;
}

static int malformed(const wire *w, const char *what) {
  return hant__error(HANT_EFORMAT, "%s: not a valid ONNX model (malformed protobuf: %s)", w->name, what);
}

static int wire_check(wire *w, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth) {
  const uint8_t *end = p + len;
  if (depth > HANT_ONNX_MAX_DEPTH)
    return hant__error(HANT_ELIMIT, "%s: protobuf messages nested deeper than %d", w->name, HANT_ONNX_MAX_DEPTH);
  if (++w->messages > HANT_ONNX_MAX_MESSAGES)
    return hant__error(HANT_ELIMIT, "%s: more than %ld protobuf messages", w->name, HANT_ONNX_MAX_MESSAGES);
  w->est += d->sizeof_message + 32;
  while (p < end) {
    uint64_t key, v;
    if (varint(&p, end, &key))
      return malformed(w, "truncated field key");
    uint32_t tag = (uint32_t)(key >> 3);
    if (tag == 0 || key >> 3 > 0x1fffffff)
      return malformed(w, "field number 0 or out of range");
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, tag);
    bool repeated = f && f->label == PROTOBUF_C_LABEL_REPEATED;
    switch (key & 7) {
    case 0:
      if (varint(&p, end, &v))
        return malformed(w, "truncated varint");
      w->est += repeated ? 8 : 0;
      break;
    case 1:
      if (end - p < 8)
        return malformed(w, "truncated 64-bit field");
      p += 8;
      w->est += repeated ? 8 : 0;
      break;
    case 5:
      if (end - p < 4)
        return malformed(w, "truncated 32-bit field");
      p += 4;
      w->est += repeated ? 4 : 0;
      break;
    case 2: {
      if (varint(&p, end, &v))
        return malformed(w, "truncated length");
      if (v > (uint64_t)(end - p))
        return malformed(w, "length beyond the end of its message");
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        int rc = wire_check(w, f->descriptor, p, (size_t)v, depth + 1);
        if (rc)
          return rc;
        w->est += sizeof(void *);
      } else if (f && repeated && f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES) {
        /* packed scalars: count varints exactly, fixed-size ones by length */
        if (f->type == PROTOBUF_C_TYPE_FLOAT || f->type == PROTOBUF_C_TYPE_FIXED32 ||
            f->type == PROTOBUF_C_TYPE_SFIXED32 || f->type == PROTOBUF_C_TYPE_DOUBLE ||
            f->type == PROTOBUF_C_TYPE_FIXED64 || f->type == PROTOBUF_C_TYPE_SFIXED64) {
          w->est += (size_t)v;
        } else {
          for (size_t k = 0; k < v; k++)
            w->est += (p[k] & 0x80) ? 0 : 8;
        }
      } else {
        w->est += (size_t)v + 32 + (repeated ? sizeof(ProtobufCBinaryData) : 0);
      }
      p += v;
      break;
    }
    default:
      return malformed(w, "unsupported wire type (groups are not used by ONNX)");
    }
    if (w->est > w->limit)
      return hant__error(HANT_ELIMIT, "%s: the model would take more than %zu bytes of memory to unpack", w->name,
                         w->limit);
  }
  return 0;
}

int hant__onnx_wire_check(const uint8_t *data, size_t len, const char *name) {
  /* Unpacked, a model may take twice its file plus 64 MiB of protobuf-c structures. */
  wire w = {.name = name, .limit = 2 * len + ((size_t)64 << 20)};
  return wire_check(&w, &onnx__model_proto__descriptor, data, len, 0);
}
