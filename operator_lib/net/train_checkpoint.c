/* SPDX-License-Identifier: MIT */
/* train_checkpoint.c: the training loop's state at the end of an epoch, written to a file and read back to resume
 * (train.h's checkpoint option). */
#include "train_checkpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "base.h"
#include "file.h"
#include "fnv.h"

/* Layout, little-endian (hant runs on little-endian hosts only; floats are
 * stored as their IEEE bits):
 *   "HANTCKPT" | u32 version |
 *   the run: u32 n_params | n_params x u64 element count | then each
 *     run_field below in order, u32 or u64 |
 *   the state: u32 epochs done | u64 steps done | 4 x u64 generator state |
 *     u32[training images] the order of the last epoch | u64 optimiser steps |
 *     f64 the last epoch's mean training loss | f64 seconds of training so far |
 *     n_params x (f32[count] values | u8 m present | [f32[count] m] |
 *                 u8 v present | [f32[count] v]) |
 *     u8 average present | [n_params x f32[count] average] |
 *   u64 FNV-1a 64 of every byte before it. */
static const char CKPT_MAGIC[8] = {'H', 'A', 'N', 'T', 'C', 'K', 'P', 'T'};
#define CKPT_VERSION 2u /* 2: the start's and the images' fingerprints in the run */

/* One value of the header that must be the same for a run to continue
 * from a checkpoint: a count, a flag or a float's bits. */
typedef struct run_field {
  const char *name;
  uint64_t value;
  int bytes;      /* 4 or 8 in the file */
  bool is_float;  /* value holds a float's bits; printed as the float */
  bool is_print;  /* value is a fingerprint; printed in hexadecimal */
} run_field;

static uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  return u;
}

static float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
}

/* Which hooks a run has, one bit each: a run with a loss hook or
 * quantisation-aware hooks follows another trajectory than one without. */
static uint64_t hook_mask(const hant_train_opts *o) {
  return (o->loss ? 1u : 0u) | (o->pass_hook ? 2u : 0u) | (o->step_begin ? 4u : 0u) | (o->step_end ? 8u : 0u);
}

#define RUN_FIELDS 22
static int run_fields(const hant_train_opts *o, const hant_train_state *s, long total, run_field f[RUN_FIELDS]) {
  int n = 0;
  int train_n = s->train_n;
#define INT4(nm, v) f[n++] = (run_field){nm, (uint64_t)(uint32_t)(v), 4, false, false}
#define INT8(nm, v) f[n++] = (run_field){nm, (uint64_t)(v), 8, false, false}
#define FLT(nm, v) f[n++] = (run_field){nm, float_bits(v), 4, true, false}
#define PRINT(nm, v) f[n++] = (run_field){nm, (v), 8, false, true}
  INT4("epochs", o->epochs);
  INT4("batch", o->batch);
  INT8("training images", train_n);
  INT8("total steps", total);
  INT8("seed", o->seed);
  FLT("lr", o->lr);
  FLT("weight_decay", o->weight_decay);
  FLT("momentum", o->momentum);
  INT4("nesterov", o->nesterov);
  INT4("optim", o->optim);
  INT4("sched", o->sched);
  INT4("warmup_epochs", o->warmup_epochs);
  FLT("label_smoothing", o->label_smoothing);
  INT4("augment", o->augment);
  INT4("pad", o->pad);
  FLT("clip_norm", o->clip_norm);
  FLT("ema_horizon", o->ema_horizon);
  FLT("mixup", o->mixup);
  INT4("hooks (1 loss, 2 pass, 4 step_begin, 8 step_end)", hook_mask(o));
  PRINT("start weights' fingerprint", s->start_print);
  PRINT("training images' fingerprint", s->data_print);
#undef PRINT
#undef INT4
#undef INT8
#undef FLT
  HANT_ASSERT(n <= RUN_FIELDS);
  return n;
}


/* FNV-1a's multiply over 8-byte words (bytes at the end), for
 * fingerprints of megabytes: a change of any byte shows, at a fraction of
 * the bytewise hash's time. Not a defence against a forger, nor meant as
 * one (the directory's permissions are). */
static uint64_t print_mix(uint64_t h, const void *data, size_t n) {
  const uint8_t *b = data;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, sizeof(w));
    h = (h ^ w) * HANT_FNV_PRIME;
    h ^= h >> 29;
  }
  return hant_fnv(h, b + i, n - i);
}

void hant_train_checkpoint_prints(const hant_net *net, const hant_dataset *train, hant_train_state *s) {
  uint64_t h = HANT_FNV_BASIS;
  for (int i = 0; i < net->n_params; i++)
    h = print_mix(h, net->params[i].w, net->params[i].n * sizeof(float));
  s->start_print = h;
  size_t px = (size_t)train->n * (size_t)train->c * (size_t)train->h * (size_t)train->w;
  int shape[5] = {train->n, train->c, train->h, train->w, train->classes};
  h = print_mix(HANT_FNV_BASIS, shape, sizeof(shape));
  h = print_mix(h, train->images, px);
  h = print_mix(h, train->labels, (size_t)train->n);
  uint8_t norm = train->normalised;
  h = print_mix(h, &norm, 1);
  if (train->normalised) {
    h = print_mix(h, train->mean, sizeof(train->mean));
    h = print_mix(h, train->std, sizeof(train->std));
  }
  s->data_print = h;
}

/* Encodes into p, or with p NULL only counts the bytes: the same code
 * sizes the buffer and fills it. */
typedef struct ckpt_out {
  uint8_t *p;
  size_t len;
} ckpt_out;

static void out_bytes(ckpt_out *w, const void *data, size_t n) {
  if (w->p)
    memcpy(w->p + w->len, data, n);
  w->len += n;
}

static void out_u(ckpt_out *w, uint64_t v, int bytes) {
  uint8_t x[8];
  for (int i = 0; i < bytes; i++)
    x[i] = (uint8_t)(v >> (8 * i));
  out_bytes(w, x, (size_t)bytes);
}

static void ckpt_encode(ckpt_out *w, const hant_net *net, const run_field *f, int nf, const hant_train_state *s) {
  out_bytes(w, CKPT_MAGIC, sizeof(CKPT_MAGIC));
  out_u(w, CKPT_VERSION, 4);
  out_u(w, (uint64_t)net->n_params, 4);
  for (int i = 0; i < net->n_params; i++)
    out_u(w, net->params[i].n, 8);
  for (int i = 0; i < nf; i++)
    out_u(w, f[i].value, f[i].bytes);
  out_u(w, (uint64_t)s->epochs_done, 4);
  out_u(w, (uint64_t)s->step, 8);
  for (int i = 0; i < 4; i++)
    out_u(w, s->rng.s[i], 8);
  for (int i = 0; i < s->train_n; i++)
    out_u(w, (uint32_t)s->order[i], 4);
  out_u(w, (uint64_t)s->opt->step, 8);
  uint64_t loss_bits, seconds_bits;
  memcpy(&loss_bits, &s->train_loss, sizeof(loss_bits));
  memcpy(&seconds_bits, &s->seconds, sizeof(seconds_bits));
  out_u(w, loss_bits, 8);
  out_u(w, seconds_bits, 8);
  for (int i = 0; i < net->n_params; i++) {
    const hant_param *p = &net->params[i];
    out_bytes(w, p->w, p->n * sizeof(float));
    out_u(w, p->m != NULL, 1);
    if (p->m)
      out_bytes(w, p->m, p->n * sizeof(float));
    out_u(w, p->v != NULL, 1);
    if (p->v)
      out_bytes(w, p->v, p->n * sizeof(float));
  }
  out_u(w, s->ema != NULL, 1);
  for (int i = 0; s->ema && i < net->n_params; i++)
    out_bytes(w, s->ema[i], net->params[i].n * sizeof(float));
}

int hant_train_checkpoint_save(const char *path, const hant_net *net, const hant_train_opts *o, long total,
                               const hant_train_state *s) {
  run_field f[RUN_FIELDS];
  int nf = run_fields(o, s, total, f);
  ckpt_out w = {0};
  ckpt_encode(&w, net, f, nf, s);
  size_t body = w.len;
  if (!(w.p = malloc(body + 8)))
    return hant__error(HANT_ENOMEM, "%s: no memory for a checkpoint of %zu bytes", path, body + 8);
  w.len = 0;
  ckpt_encode(&w, net, f, nf, s);
  out_u(&w, hant_fnv(HANT_FNV_BASIS, w.p, body), 8);
  int rc = hant_file_write_atomic(path, w.p, w.len);
  free(w.p);
  return rc;
}

/* Reads a checkpoint's bytes in order; running past the end means the
 * file is shorter than its own contents say. */
typedef struct ckpt_in {
  const uint8_t *p;
  size_t len, pos;
  bool short_read;
} ckpt_in;

static uint64_t in_u(ckpt_in *r, int bytes) {
  if (r->short_read || r->len - r->pos < (size_t)bytes) {
    r->short_read = true;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++)
    v |= (uint64_t)r->p[r->pos + (size_t)i] << (8 * i);
  r->pos += (size_t)bytes;
  return v;
}

/* Points at n floats of the file (copied out, as they need not be
 * aligned), or NULL past its end. */
static const uint8_t *in_floats(ckpt_in *r, size_t n) {
  if (r->short_read || (r->len - r->pos) / sizeof(float) < n) {
    r->short_read = true;
    return NULL;
  }
  const uint8_t *at = r->p + r->pos;
  r->pos += n * sizeof(float);
  return at;
}

/* Optimiser state of one parameter from the file: kept in *slot when
 * present (allocated if needed), released when absent, as the run had it. */
static int load_moment(float **slot, const uint8_t *data, size_t n) {
  if (!data) {
    hant_free(*slot);
    *slot = NULL;
    return 0;
  }
  if (!*slot && !(*slot = hant_alloc(n * sizeof(float))))
    return HANT_ENOMEM;
  memcpy(*slot, data, n * sizeof(float));
  return 0;
}

/* Parses the state after the header; with apply false only checks it, so
 * that nothing is changed unless the whole file is good. */
static int ckpt_state(const char *path, ckpt_in *r, hant_net *net, hant_train_state *s, long per_epoch, long total,
                      int epochs, bool apply) {
  long epochs_done = (long)in_u(r, 4);
  uint64_t step = in_u(r, 8);
  hant_rng rng;
  for (int i = 0; i < 4; i++)
    rng.s[i] = in_u(r, 8);
  if (r->short_read)
    return hant__error(HANT_EIO, "%s: the checkpoint ends inside its state (truncated)", path);
  long want_step = epochs_done * per_epoch < total ? epochs_done * per_epoch : total;
  if (epochs_done < 1 || epochs_done > epochs || step != (uint64_t)want_step)
    return hant__error(HANT_EIO, "%s: the checkpoint says %ld epochs and %llu steps done, which a run of %d epochs "
                                 "of %ld steps (%ld in all) never records", path, epochs_done,
                       (unsigned long long)step, epochs, per_epoch, total);
  /* the order indexes the data set: it must be a permutation */
  unsigned char *seen = apply ? NULL : calloc((size_t)s->train_n, 1);
  if (!apply && !seen)
    return hant__error(HANT_ENOMEM, "%s: no memory to check the checkpoint's image order", path);
  for (int i = 0; i < s->train_n; i++) {
    uint64_t v = in_u(r, 4);
    if (apply) {
      s->order[i] = (int)v;
    } else if (!r->short_read && (v >= (uint64_t)s->train_n || seen[v]++)) {
      free(seen);
      return hant__error(HANT_EIO, "%s: the checkpoint's image order is not a permutation of %d images (entry %d "
                                   "is %llu)", path, s->train_n, i, (unsigned long long)v);
    }
  }
  free(seen);
  uint64_t opt_step = in_u(r, 8), loss_bits = in_u(r, 8), seconds_bits = in_u(r, 8);
  double seconds;
  memcpy(&seconds, &seconds_bits, sizeof(seconds));
  if (!r->short_read && !(seconds >= 0 && seconds < 1e9))
    return hant__error(HANT_EIO, "%s: the checkpoint says %g seconds of training", path, seconds);
  if (!r->short_read && opt_step != step)
    return hant__error(HANT_EIO, "%s: the checkpoint's optimiser made %llu steps, its loop %llu", path,
                       (unsigned long long)opt_step, (unsigned long long)step);
  for (int i = 0; i < net->n_params; i++) {
    hant_param *p = &net->params[i];
    const uint8_t *w = in_floats(r, p->n);
    const uint8_t *m = in_u(r, 1) ? in_floats(r, p->n) : NULL;
    const uint8_t *v = in_u(r, 1) ? in_floats(r, p->n) : NULL;
    if (r->short_read)
      break;
    if (apply) {
      memcpy(p->w, w, p->n * sizeof(float));
      if (load_moment(&p->m, m, p->n) || load_moment(&p->v, v, p->n))
        return hant__error(HANT_ENOMEM, "%s: no memory for the optimiser state of %s", path, p->name);
    }
  }
  bool has_ema = in_u(r, 1) != 0;
  if (!r->short_read && has_ema != (s->ema != NULL))
    return hant__error(HANT_EIO, "%s: the checkpoint %s a moving average, the run %s", path,
                       has_ema ? "has" : "has no", s->ema ? "keeps one" : "keeps none");
  for (int i = 0; has_ema && i < net->n_params && !r->short_read; i++) {
    const uint8_t *a = in_floats(r, net->params[i].n);
    if (apply && a)
      memcpy(s->ema[i], a, net->params[i].n * sizeof(float));
  }
  if (r->short_read)
    return hant__error(HANT_EIO, "%s: the checkpoint ends inside its state (truncated)", path);
  if (r->pos != r->len)
    return hant__error(HANT_EIO, "%s: %zu bytes follow the checkpoint's state", path, r->len - r->pos);
  if (apply) {
    s->epochs_done = (int)epochs_done;
    s->step = (long)step;
    s->rng = rng;
    s->opt->step = (long)opt_step;
    memcpy(&s->train_loss, &loss_bits, sizeof(loss_bits));
    s->seconds = seconds;
  }
  return 0;
}

/* The run's state from the checkpoint at path into net and s; *found says
 * whether there was one (none: nothing changes and the run starts fresh,
 * once the file is known to be writable where it will go). */
int hant_train_checkpoint_load(const char *path, hant_net *net, const hant_train_opts *o, long per_epoch, long total,
                               hant_train_state *s, bool *found) {
  run_field f[RUN_FIELDS];
  int nf = run_fields(o, s, total, f), epochs = o->epochs;
  *found = false;
  char *data = NULL;
  size_t len = 0;
  /* checkpoints are written by ckpt_save, whatever their size: no limit
   * below the address space */
  int rc = hant_file_read(path, SIZE_MAX / 2, &data, &len);
  if (rc == HANT_ENOENT) {
    hant_errmsg_clear();
    /* Fail now rather than after the first epoch, which may take an hour. */
    char *dir = strdup(path);
    if (!dir)
      return HANT_ENOMEM;
    const char *where = ".";
    char *slash = strrchr(dir, '/');
    if (slash == dir) {
      where = "/";
    } else if (slash) {
      *slash = '\0';
      where = dir;
    }
    if (access(where, W_OK | X_OK))
      rc = hant__error(HANT_EIO, "%s: cannot write a checkpoint in %s: %s", path, where, strerror(errno));
    else
      rc = 0;
    free(dir);
    return rc;
  }
  if (rc)
    return rc;
  *found = true;
  ckpt_in r = {.p = (const uint8_t *)data, .len = len};
  size_t least = sizeof(CKPT_MAGIC) + 4 + 8;
  if (len < sizeof(CKPT_MAGIC) || memcmp(data, CKPT_MAGIC, sizeof(CKPT_MAGIC))) {
    rc = hant__error(HANT_EIO, "%s: not a training checkpoint (it does not start with \"HANTCKPT\")", path);
    goto out;
  }
  if (len < least) {
    rc = hant__error(HANT_EIO, "%s: the checkpoint is %zu bytes, shorter than any (truncated)", path, len);
    goto out;
  }
  /* The sum first: a flipped byte of the header must read as damage, not
   * as another run. */
  r.len = len - 8;
  uint64_t sum = 0;
  for (int i = 0; i < 8; i++)
    sum |= (uint64_t)(uint8_t)data[len - 8 + (size_t)i] << (8 * i);
  if (hant_fnv(HANT_FNV_BASIS, r.p, r.len) != sum) {
    rc = hant__error(HANT_EIO, "%s: the checkpoint's checksum does not match its contents (truncated or altered)",
                     path);
    goto out;
  }
  r.pos = sizeof(CKPT_MAGIC);
  uint32_t version = (uint32_t)in_u(&r, 4);
  if (version != CKPT_VERSION) {
    rc = hant__error(HANT_EINVAL, "%s: checkpoint format version %u, this build reads version %u", path, version,
                     CKPT_VERSION);
    goto out;
  }
  /* the run it belongs to: the first difference is named */
  uint64_t n_params = in_u(&r, 4);
  if (!r.short_read && n_params != (uint64_t)net->n_params) {
    rc = hant__error(HANT_EINVAL, "%s: the checkpoint is of another run: it has %llu parameters, this network %d",
                     path, (unsigned long long)n_params, net->n_params);
    goto out;
  }
  for (int i = 0; i < net->n_params && !r.short_read; i++) {
    uint64_t n = in_u(&r, 8);
    if (!r.short_read && n != net->params[i].n) {
      rc = hant__error(HANT_EINVAL, "%s: the checkpoint is of another run: its parameter %d has %llu values, this "
                                    "network's (%s) %zu", path, i, (unsigned long long)n, net->params[i].name,
                       net->params[i].n);
      goto out;
    }
  }
  for (int i = 0; i < nf && !r.short_read; i++) {
    uint64_t v = in_u(&r, f[i].bytes);
    if (r.short_read || v == f[i].value)
      continue;
    if (f[i].is_float)
      rc = hant__error(HANT_EINVAL, "%s: the checkpoint is of another run: its %s is %g, this run's %g", path,
                       f[i].name, (double)bits_float((uint32_t)v), (double)bits_float((uint32_t)f[i].value));
    else if (f[i].is_print)
      rc = hant__error(HANT_EINVAL, "%s: the checkpoint is of another run: its %s is %016llx, this run's %016llx",
                       path, f[i].name, (unsigned long long)v, (unsigned long long)f[i].value);
    else
      rc = hant__error(HANT_EINVAL, "%s: the checkpoint is of another run: its %s is %llu, this run's %llu", path,
                       f[i].name, (unsigned long long)v, (unsigned long long)f[i].value);
    goto out;
  }
  if (r.short_read) {
    rc = hant__error(HANT_EIO, "%s: the checkpoint ends inside its header (truncated)", path);
    goto out;
  }
  size_t state_at = r.pos;
  if ((rc = ckpt_state(path, &r, net, s, per_epoch, total, epochs, false)))
    goto out;
  r.pos = state_at;
  rc = ckpt_state(path, &r, net, s, per_epoch, total, epochs, true);
out:
  free(data);
  return rc;
}
