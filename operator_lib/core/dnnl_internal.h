/* SPDX-License-Identifier: MIT */
/* dnnl_internal.h: what the core kernels share to run on oneDNN; the only header that includes dnnl.h. */
#ifndef HANT_DNNL_INTERNAL_H
#define HANT_DNNL_INTERNAL_H

#include <dnnl.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "ops.h"

/* Every kind of primitive the kernels prepare; part of the cache key. */
typedef enum hant__prim_kind {
  HANT__PRIM_CONV_FWD,
  HANT__PRIM_CONV_INFER, /* forward for inference, with post-ops */
  HANT__PRIM_CONV_BWD_DATA,
  HANT__PRIM_CONV_BWD_WEIGHTS,
  HANT__PRIM_IP_FWD,
  HANT__PRIM_IP_BWD_DATA,
  HANT__PRIM_IP_BWD_WEIGHTS,
  HANT__PRIM_BN_FWD_TRAIN,
  HANT__PRIM_BN_FWD_EVAL,
  HANT__PRIM_BN_BWD,
  HANT__PRIM_ELTWISE_FWD,
  HANT__PRIM_ELTWISE_BWD,
  HANT__PRIM_POOL_FWD,
  HANT__PRIM_POOL_BWD,
  HANT__PRIM_BINARY_MUL, /* mul.c: a * b with b broadcast over H, W */
  HANT__PRIM_CONCAT, /* channels.c */
  HANT__PRIM_QCONV_INFER, /* int8 forward for inference, int32 sums (qconv.c) */
  HANT__PRIM_COUNT
} hant__prim_kind;

/* A primitive's identity: its kind, up to HANT__KEY_VALUES integers that
 * describe shapes and attributes (each kind documents its own layout, unused
 * values stay 0), and the thread count it was prepared for, since oneDNN
 * fixes how it splits work across threads when it prepares a primitive. */
#define HANT__KEY_VALUES 16
typedef struct hant__prim_key {
  int32_t kind;
  int32_t threads;
  int64_t v[HANT__KEY_VALUES];
} hant__prim_key;

/* Starts a key for a primitive of `kind` whose work is about `work`
 * multiply-adds (or element operations), and picks the thread count it runs
 * with on the calling thread: the thread's setting (kernels.h), or one
 * thread when the work is too small to gain from more. The count is applied
 * to the calling thread's OpenMP team before the key is returned. */
void hant__key_init(hant__prim_key *key, hant__prim_kind kind, double work);

/* Sets the calling thread's OpenMP team size to n, as hant__key_init does:
 * for running a primitive held across calls (prepared for key->threads). */
void hant__threads_apply(int n);

/* oneDNN's eltwise algorithm and its alpha and beta for an activation
 * other than none (activation.c). */
void hant__act_alg(hant_act a, dnnl_alg_kind_t *alg, float *alpha, float *beta);

/* Builds the primitive descriptor for a key the cache does not hold yet.
 * attr asks for the user-managed scratchpad; the function must pass it to
 * the descriptor it returns. A backward descriptor builds its own forward
 * hint and destroys it before returning. */
typedef dnnl_status_t (*hant__prim_make_fn)(const hant__prim_key *key, dnnl_engine_t engine,
                                            const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd);

/* A prepared primitive, owned by the cache. */
typedef struct hant__prim hant__prim;

/* Finds the primitive for key, preparing it with make on a miss, and holds it
 * for the caller until hant__prim_release: a held primitive is never
 * dropped. Returns 0, or a negative HANT_E* code with a message naming what
 * oneDNN refused. */
int hant__prim_get(const hant__prim_key *key, hant__prim_make_fn make, hant__prim **out);
void hant__prim_release(hant__prim *p);

/* The memory descriptor of one execution argument (DNNL_ARG_*) as the
 * primitive sees it, e.g. the layout of a pooling workspace. */
const dnnl_memory_desc_t *hant__prim_arg_md(const hant__prim *p, int arg);

/* One argument of an execution: the buffer lives as long as the call. */
typedef struct hant__arg {
  int arg;         /* DNNL_ARG_*, with HANT__NATIVE when ptr is in the primitive's layout */
  const void *ptr; /* as ops.h has it, or for a workspace the primitive's layout */
} hant__arg;

/* Marks an argument already in the primitive's layout (hant__prim_pack). */
#define HANT__NATIVE 0x40000000

/* Runs p on the calling thread's stream with the given arguments, and
 * waits for it. Buffers are as ops.h has them (activations channels last,
 * parameters plain row-major); where the
 * primitive was prepared for a layout of its own choosing (make passed
 * format_tag_any), inputs are reordered into copies before it runs and
 * outputs back after. Scratchpads and copies come from the arena, left for
 * the caller's reset. Memory objects are made per call, so several threads
 * may run one primitive at once on their own buffers. */
int hant__prim_exec(const hant__prim *p, const hant__arg *args, int nargs, hant_arena *scratch);

/* Copies the caller's buffer for input argument arg (laid out as ops.h has
 * it) into the layout p runs on, in *packed: memory from aligned_alloc that
 * the caller frees, and passes back as argument arg | HANT__NATIVE. Packing once
 * saves the reorder of every call, for parameters that do not change. */
int hant__prim_pack(const hant__prim *p, int arg, const void *plain, void **packed);

/* get + exec + release: the common case. */
int hant__prim_run(const hant__prim_key *key, hant__prim_make_fn make, const hant__arg *args, int nargs,
                   hant_arena *scratch);

/* The calling thread's own arena, for kernels whose ops.h signature has no
 * scratch arena. Callers reset it when they are done; it is freed when the
 * thread exits. Never NULL: without memory for it the process stops, as
 * those kernels have no way to report a failure. */
hant_arena *hant__thread_arena(void);

/* Stops the process with the recorded message: for the kernels of ops.h
 * that return void and so cannot report that oneDNN or memory failed. */
_Noreturn void hant__kernel_fail(const char *file, int line);
#define HANT__KERNEL_OK(rc)                                                    \
  do {                                                                         \
    if (rc)                                                                    \
      hant__kernel_fail(__FILE__, __LINE__);                                   \
  } while (0)

/* Fills the f32 memory descriptor of an activation of ndims (1-4)
 * dimensions given in oneDNN's logical order [N, C, spatial...]: channels
 * last in memory ([N, H, W, C] for 4-D), the layout of every activation
 * in ops.h. */
dnnl_status_t hant__md_act(dnnl_memory_desc_t *md, int ndims, const int64_t *dims);

/* Fills a plain (row-major) f32 memory descriptor of ndims dimensions. */
dnnl_status_t hant__md_plain(dnnl_memory_desc_t *md, int ndims, const int64_t *dims);

#endif
