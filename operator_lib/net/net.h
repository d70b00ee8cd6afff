/* SPDX-License-Identifier: MIT */
/* net.h: networks as DAGs of operators with named parameters and replaceable slots. */
#ifndef HANT_NET_H
#define HANT_NET_H

#include <stdbool.h>

#include "ops.h"
#include "optim.h"
#include "rng.h"
#include "tensor.h"

typedef enum hant_op {
  HANT_OP_INPUT,
  HANT_OP_CONV,     /* param[0] weight [K, C/g, kh, kw], param[1] bias or -1 */
  HANT_OP_BN,       /* param[0..3] gamma, beta, running mean, running var */
  HANT_OP_ACT,      /* act */
  HANT_OP_ADD,      /* in[0] + in[1], same shape */
  HANT_OP_MAXPOOL,  /* pool */
  HANT_OP_AVGPOOL,  /* pool */
  HANT_OP_GAP,      /* [N, C, H, W] -> [N, C, 1, 1] */
  HANT_OP_FLATTEN,  /* [N, C, H, W] -> [N, C*H*W, 1, 1], values in channels-first order */
  HANT_OP_LINEAR,   /* param[0] weight [out, in], param[1] bias or -1 */
  HANT_OP_IDENTITY, /* output aliases the input */
  /* Channel moves (ShuffleNet, SqueezeNet, GoogLeNet): */
  HANT_OP_CONCAT,   /* [in[0] channels, in[1] channels], same H and W */
  HANT_OP_CHSLICE,  /* channels [ch_first, ch_first + c) of in[0] */
  HANT_OP_SHUFFLE,  /* channel shuffle of in[0] in ch_groups groups (ops.h) */
  /* squeeze-and-excitation */
  HANT_OP_MUL,      /* in[0] * in[1]; in[1] the same shape or [C, 1, 1], broadcast over H and W */
  HANT_OP_COUNT
} hant_op;

const char *hant_op_name(hant_op op);

typedef struct hant_node {
  hant_op op;
  int in[2];   /* producing nodes, -1 when unused; always earlier nodes */
  int c, h, w; /* output shape of one sample */
  int slot;    /* slot the node belongs to, or -1 */
  int param[4];
  hant_conv_desc conv;
  hant_pool_desc pool;
  hant_act act;
  float bn_eps, bn_momentum;
  int ch_first;  /* chslice: first channel taken */
  int ch_groups; /* shuffle: groups */
} hant_node;

/* A replaceable block: a contiguous run of nodes [first, last] that reads
 * only the output of node `in` (and its own nodes) and whose result is
 * node `last`. Any candidate with the same input and output shapes can
 * take its place. */
typedef struct hant_slot {
  char name[32];
  char kind[16];  /* "conv", "res", "ir", "dws", "linear", ... */
  char desc[160]; /* architecture line that builds the slot's block */
  int in, first, last;
  int in_c, in_h, in_w;
  int out_c, out_h, out_w;
} hant_slot;

/* Nodes are kept in topological order: node 0 is the input, the last node
 * is the output. The network owns its nodes, parameters and slots. */
typedef struct hant_net {
  hant_node *nodes;
  int n_nodes, cap_nodes;
  hant_param *params;
  int n_params, cap_params;
  hant_slot *slots;
  int n_slots, cap_slots;
  int open_slot; /* slot being built, or -1 */
  char *arch;    /* architecture description that built it, or NULL */
  size_t param_budget; /* when non-zero, most parameter floats allowed */
  size_t param_total;  /* parameter floats allocated so far */
  bool folded;         /* BN folded: parameters no longer match arch */
} hant_net;

/* Creates a network with one input node of shape [C, H, W]. */
hant_net *hant_net_new(int c, int h, int w);
/* Same, refusing (HANT_ELIMIT) to allocate more than max_param_floats
 * parameter values in total: readers of untrusted files set it from the
 * file size so a tiny file cannot ask for gigabytes. 0 means no limit. */
hant_net *hant_net_new_limited(int c, int h, int w, size_t max_param_floats);
void hant_net_destroy(hant_net *net);

/* Builders. Each returns the new node's index, or a negative HANT_E* code
 * with a message when the shapes do not fit. */
int hant_net_conv(hant_net *net, int x, const hant_conv_desc *d, bool bias);
int hant_net_bn(hant_net *net, int x);
int hant_net_act(hant_net *net, int x, hant_act a);
int hant_net_add(hant_net *net, int a, int b);
int hant_net_maxpool(hant_net *net, int x, const hant_pool_desc *d);
int hant_net_avgpool(hant_net *net, int x, const hant_pool_desc *d);
int hant_net_gap(hant_net *net, int x);
int hant_net_flatten(hant_net *net, int x);
int hant_net_linear(hant_net *net, int x, int out, bool bias);
int hant_net_identity(hant_net *net, int x);
/* Channel moves: a and b must have the same H and W; the slice must lie
 * within x's channels; groups must divide x's channels. */
int hant_net_concat(hant_net *net, int a, int b);
int hant_net_chslice(hant_net *net, int x, int first, int count);
int hant_net_shuffle(hant_net *net, int x, int groups);
/* a * b, element by element, with b of a's shape or [C, 1, 1] (a channel
 * gate, broadcast over a's plane); the output has a's shape. */
int hant_net_mul(hant_net *net, int a, int b);

/* Nodes added between begin and end form a slot that reads node `in`. */
int hant_net_slot_begin(hant_net *net, const char *kind, const char *desc, int in);
int hant_net_slot_end(hant_net *net);

int hant_net_output(const hant_net *net);
size_t hant_net_param_count(const hant_net *net); /* trainable elements */
/* Multiply-accumulates for one sample, per node or in total. */
double hant_node_macs(const hant_net *net, int node);
double hant_net_macs(const hant_net *net);
/* Finds a parameter by name; -1 when absent. */
int hant_net_find_param(const hant_net *net, const char *name);

/* He-normal conv/linear weights (fan-in, ReLU gain), zero biases, BN at
 * gamma 1, beta 0, running mean 0, var 1. */
void hant_net_init_params(hant_net *net, hant_rng *rng);
void hant_net_zero_grad(hant_net *net);

/* Folds every BN that directly follows a conv whose output feeds only
 * that BN into the conv's weights and bias; the BN becomes an identity.
 * The eval-mode output is unchanged. */
int hant_net_fold_bn(hant_net *net);

/* A forward/backward pass. It owns the activations of one batch in an
 * arena; out[i] is node i's output [n, c, h, w] after a forward, channels
 * last as every activation (ops.h), so element (b, ch, y, x) is at
 * ((b*h + y)*w + x)*c + ch. Inputs, outputs and gradients given to or
 * taken from the functions below are in the same layout; with one channel
 * or 1x1 planes (images of one channel, logits) it is also the
 * channels-first one. */
typedef struct hant_pass hant_pass;

/* Where a pass calls its hook (hant_pass.hook). */
typedef enum hant_pass_event {
  HANT_PASS_FORWARD_DONE,  /* node's output is in p->out[node] */
  HANT_PASS_BACKWARD_START /* p->grad[node] (NULL when no gradient reached it) is about to flow to its inputs */
} hant_pass_event;

/* A pass hook sees every node's output after its forward (the input node's
 * too) and every node's gradient before its backward, and may change
 * either in place; it must not write into the input node's output, which
 * is the caller's buffer, but may point p->out[0] at a copy in p->act.
 * Fake quantisation (qat.h) is the one user. A nonzero return (a HANT_E*
 * code) ends the pass with it. */
typedef int (*hant_pass_hook_fn)(void *user, hant_pass *p, int node, hant_pass_event ev);

struct hant_pass {
  hant_arena act;   /* activations and gradients of the current batch */
  hant_arena tmp;   /* scratch, reset after each operator */
  float **out;      /* per node */
  float **grad;     /* per node, NULL when no gradient reached it */
  void **aux;       /* per node: BN statistics, max-pool indices */
  int cap;          /* length of the arrays */
  int n;            /* batch size of the last forward */
  bool train;
  bool want_input_grad; /* set by backward when the caller wants dx */
  hant_pass_hook_fn hook; /* NULL (hant_pass_init) for none */
  void *hook_user;
};

void hant_pass_init(hant_pass *p);
void hant_pass_free(hant_pass *p);

/* x: [n, C, H, W] of the input node, channels last. In train mode BN uses batch
 * statistics and updates its running statistics. */
int hant_net_forward(hant_net *net, hant_pass *p, const float *x, int n, bool train);
/* Runs nodes 1..last only (a prefix of the network). */
int hant_net_forward_to(hant_net *net, hant_pass *p, const float *x, int n, int last, bool train);
/* Runs the nodes after `node`, taking x ([n, shape of node]) as node's
 * output. Fails if a later node reads a node before `node`. */
int hant_net_forward_from(hant_net *net, hant_pass *p, int node, const float *x, int n, bool train);
/* Runs nodes first..last only, reading node `from`'s output from p->out
 * (already filled by the caller or an earlier forward). */
int hant_net_forward_range(hant_net *net, hant_pass *p, int first, int last, bool train);
/* dout: gradient of the loss w.r.t. the output node. Accumulates parameter
 * gradients (param.g). If dx is non-NULL it receives the input gradient. */
int hant_net_backward(hant_net *net, hant_pass *p, const float *dout, float *dx);

/* Peak bytes of live activations for one sample (float32), counting a
 * tensor from its producer to its last consumer. */
size_t hant_net_peak_act_bytes(const hant_net *net);

#endif
