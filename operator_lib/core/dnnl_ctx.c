/* SPDX-License-Identifier: MIT */
/* dnnl_ctx.c: the oneDNN engine, per-thread streams and OpenMP thread counts, and the primitive cache (kernels.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "dnnl_internal.h"
#include "fnv.h"
#include "kernels.h"

/* OpenMP's one call hant needs, declared here rather than through omp.h so
 * that the build does not depend on which compiler's omp.h is found. oneDNN
 * runs its teams on the same libgomp. */
extern void omp_set_num_threads(int num_threads);

/* Below this many multiply-adds (or element operations) an operator runs on
 * one thread: waking a second OpenMP thread and joining it costs a few
 * microseconds, more than it saves on small tensors at batch 1. */
#define SMALL_WORK 65536.0

/* Prepared primitives kept at most. A training step of the largest networks
 * hant builds needs well under a hundred; a library build cycles through
 * many candidates' shapes, and the least recently used are dropped. */
#define CACHE_CAPACITY 1024
#define CACHE_BUCKETS 2048

int hant_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* ---- engine --------------------------------------------------------------- */

static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;
static dnnl_primitive_attr_t user_scratch_attr;
static dnnl_status_t engine_status;

static void engine_init(void) {
  engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
  if (engine_status == dnnl_success)
    engine_status = dnnl_primitive_attr_create(&user_scratch_attr);
  /* Scratchpads come from the caller's arena: oneDNN's own would be shared
   * between primitives of one thread or allocated per call. */
  if (engine_status == dnnl_success)
    engine_status = dnnl_primitive_attr_set_scratchpad_mode(user_scratch_attr, dnnl_scratchpad_mode_user);
}

static const char *status_str(dnnl_status_t s) {
  switch (s) {
  case dnnl_success: return "success";
  case dnnl_out_of_memory: return "out of memory";
  case dnnl_invalid_arguments: return "invalid arguments";
  case dnnl_unimplemented: return "no implementation for these shapes";
  case dnnl_iterator_ends: return "no more implementations";
  case dnnl_runtime_error: return "runtime error";
  case dnnl_not_required: return "not required";
  }
  return "unknown status";
}

static int status_err(dnnl_status_t s) {
  return s == dnnl_out_of_memory ? HANT_ENOMEM : s == dnnl_unimplemented ? HANT_ENOTSUP : HANT_EINVAL;
}

static int engine_get(void) {
  pthread_once(&engine_once, engine_init);
  if (engine_status != dnnl_success)
    return hant__error(status_err(engine_status), "oneDNN: cannot create a CPU engine (%s)", status_str(engine_status));
  return 0;
}

/* ---- per-thread state ------------------------------------------------------ */

/* Memory objects kept from one execution to the next: creating and
 * destroying four per primitive call cost about a tenth of a batch-1
 * inference (glibc consolidating its free lists on every destroy). An
 * entry serves one argument position of one descriptor; the data handle
 * is set on each use, which zero-pads blocked layouts exactly as creation
 * does. Direct-mapped per argument position, so the arguments of one
 * execution never evict each other: a collision replaces the entry. */
#define MAX_ARGS 12
enum { MEM_CACHE = 64 };

typedef struct mem_entry {
  const dnnl_memory_desc_t *md; /* the descriptor it was made for (the owner's pointer) */
  dnnl_memory_t mem;
} mem_entry;

typedef struct thread_state {
  dnnl_stream_t stream; /* NULL until the thread first runs a primitive */
  mem_entry mem[MAX_ARGS][MEM_CACHE];
  hant_arena arena;     /* scratch for kernels whose signature has none */
  int local;            /* the thread's own count, 0: the process's */
  int applied;          /* count last given to OpenMP on this thread, 0: none */
} thread_state;

static _Thread_local thread_state *tls;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static bool tls_key_ok;

static void thread_state_free(void *p) {
  thread_state *t = p;
  tls = NULL; /* runs on the exiting thread: later destructors start afresh */
  if (t->stream)
    dnnl_stream_destroy(t->stream);
  for (int a = 0; a < MAX_ARGS; a++)
    for (int i = 0; i < MEM_CACHE; i++)
      if (t->mem[a][i].mem)
        dnnl_memory_destroy(t->mem[a][i].mem);
  hant_arena_free(&t->arena);
  free(t);
}

static void tls_key_init(void) { tls_key_ok = pthread_key_create(&tls_key, thread_state_free) == 0; }

/* The calling thread's state, made on first use; NULL when out of memory.
 * The key's destructor frees it when the thread exits. */
static thread_state *thread_state_get(void) {
  if (tls)
    return tls;
  pthread_once(&tls_once, tls_key_init);
  thread_state *t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  hant_arena_init(&t->arena, (size_t)1 << 20);
  if (tls_key_ok)
    pthread_setspecific(tls_key, t);
  tls = t;
  return t;
}

hant_arena *hant__thread_arena(void) {
  thread_state *t = thread_state_get();
  if (!t) {
    hant__error(HANT_ENOMEM, "no memory for this thread's kernel state");
    hant__kernel_fail(__FILE__, __LINE__);
  }
  return &t->arena;
}

/* ---- threads --------------------------------------------------------------- */

/* One thread until a program asks for more. OpenMP's threads spin for
 * milliseconds after each parallel region (libgomp's default wait policy,
 * which it reads from the environment before main), taking cores from
 * anything else the process or the machine runs; so teams are formed only
 * where a program has chosen to spend its cores on them. */
static atomic_int process_threads = 1;

static int clamp_threads(int n) {
  int max = hant_cpu_count();
  return n < 1 ? 1 : n > max ? max : n;
}

int hant_threads_set(int n) {
  n = clamp_threads(n);
  atomic_store(&process_threads, n);
  return n;
}

int hant_threads_set_local(int n) {
  thread_state *t = thread_state_get();
  if (t)
    t->local = n <= 0 ? 0 : clamp_threads(n);
  return hant_threads_get();
}

int hant_threads_get(void) {
  thread_state *t = tls;
  if (t && t->local)
    return t->local;
  return atomic_load(&process_threads);
}

void hant__key_init(hant__prim_key *key, hant__prim_kind kind, double work) {
  memset(key, 0, sizeof(*key));
  key->kind = kind;
  int n = work < SMALL_WORK ? 1 : hant_threads_get();
  hant__threads_apply(n);
  key->threads = n;
}

void hant__threads_apply(int n) {
  /* OpenMP keeps the count per calling thread, so each thread applies its
   * own; remembering the last value saves the call on every kernel. */
  thread_state *t = thread_state_get();
  if (!t || t->applied != n) {
    omp_set_num_threads(n);
    if (t)
      t->applied = n;
  }
}

/* ---- primitive cache --------------------------------------------------------- */

static const char *const kind_names[] = {
    [HANT__PRIM_CONV_FWD] = "convolution forward",
    [HANT__PRIM_CONV_INFER] = "convolution forward (inference, fused)",
    [HANT__PRIM_CONV_BWD_DATA] = "convolution backward data",
    [HANT__PRIM_CONV_BWD_WEIGHTS] = "convolution backward weights",
    [HANT__PRIM_IP_FWD] = "inner product forward",
    [HANT__PRIM_IP_BWD_DATA] = "inner product backward data",
    [HANT__PRIM_IP_BWD_WEIGHTS] = "inner product backward weights",
    [HANT__PRIM_BN_FWD_TRAIN] = "batch norm forward (training)",
    [HANT__PRIM_BN_FWD_EVAL] = "batch norm forward (inference)",
    [HANT__PRIM_BN_BWD] = "batch norm backward",
    [HANT__PRIM_ELTWISE_FWD] = "element-wise forward",
    [HANT__PRIM_ELTWISE_BWD] = "element-wise backward",
    [HANT__PRIM_POOL_FWD] = "pooling forward",
    [HANT__PRIM_POOL_BWD] = "pooling backward",
    [HANT__PRIM_BINARY_MUL] = "element-wise multiply",
    [HANT__PRIM_CONCAT] = "concat",
    [HANT__PRIM_QCONV_INFER] = "int8 convolution forward (inference)",
};
_Static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == HANT__PRIM_COUNT, "kind_names must cover every kind");

/* A reorder between the plain layout ops.h uses and the layout a primitive
 * chose for one of its arguments; inputs are reordered before the primitive
 * runs, outputs after. */
typedef struct reorder {
  int arg;                          /* DNNL_ARG_* it serves */
  bool out;                         /* the primitive writes it */
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  const dnnl_memory_desc_t *native; /* owned by the primitive's pd */
  dnnl_memory_desc_t plain;
  const dnnl_memory_desc_t *scratch_md; /* owned by pd */
  size_t scratch_bytes;
} reorder;

/* Arguments that may be in a layout of the primitive's choosing, and
 * whether the caller's buffer is an activation (channels last, see
 * hant__md_act) or a parameter (plain row-major). */
static const struct {
  int arg;
  bool out;
  bool act;
} reorderable[] = {
    {DNNL_ARG_SRC, false, true}, {DNNL_ARG_WEIGHTS, false, false}, {DNNL_ARG_DIFF_DST, false, true},
    {DNNL_ARG_DST, true, true},  {DNNL_ARG_DIFF_SRC, true, true},  {DNNL_ARG_DIFF_WEIGHTS, true, false},
};
#define MAX_REORDERS (sizeof(reorderable) / sizeof(reorderable[0]))

struct hant__prim {
  hant__prim_key key;
  uint64_t hash;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  const dnnl_memory_desc_t *scratch_md; /* owned by pd */
  size_t scratch_bytes;
  reorder re[MAX_REORDERS];
  int n_re;
  atomic_int refs;  /* callers holding it; only the lock holder raises it */
  uint64_t used;    /* cache clock at the last get, for LRU */
  hant__prim *next; /* bucket chain */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static hant__prim *buckets[CACHE_BUCKETS];
static size_t cache_count;
static uint64_t cache_clock, cache_created, cache_hits;

static uint64_t key_hash(const hant__prim_key *k) {
  /* FNV-1a over the key's bytes; keys are zeroed before they are filled,
   * so padding and unused values hash alike. */
  return hant_fnv(HANT_FNV_BASIS, k, sizeof(*k));
}

static hant__prim *find(const hant__prim_key *k, uint64_t h) {
  for (hant__prim *p = buckets[h % CACHE_BUCKETS]; p; p = p->next)
    if (p->hash == h && !memcmp(&p->key, k, sizeof(*k)))
      return p;
  return NULL;
}

static void prim_destroy(hant__prim *p) {
  if (!p)
    return;
  for (int i = 0; i < p->n_re; i++) {
    if (p->re[i].prim)
      dnnl_primitive_destroy(p->re[i].prim);
    if (p->re[i].pd)
      dnnl_primitive_desc_destroy(p->re[i].pd);
  }
  if (p->prim)
    dnnl_primitive_destroy(p->prim);
  if (p->pd)
    dnnl_primitive_desc_destroy(p->pd);
  free(p);
}

/* Unlinks the least recently used entry that no caller holds. Called with
 * the lock held; returns it for destruction outside the lock, or NULL. */
static hant__prim *evict_one(void) {
  hant__prim **best = NULL;
  for (size_t b = 0; b < CACHE_BUCKETS; b++)
    for (hant__prim **pp = &buckets[b]; *pp; pp = &(*pp)->next)
      if (atomic_load(&(*pp)->refs) == 0 && (!best || (*pp)->used < (*best)->used))
        best = pp;
  if (!best)
    return NULL;
  hant__prim *victim = *best;
  *best = victim->next;
  cache_count--;
  return victim;
}

/* Prepares the reorders for every argument whose layout the primitive
 * chose and which is not the caller's. */
static dnnl_status_t reorders_make(hant__prim *p) {
  for (size_t i = 0; i < MAX_REORDERS; i++) {
    const dnnl_memory_desc_t *md = hant__prim_arg_md(p, reorderable[i].arg);
    if (!md || md->ndims == 0)
      continue;
    reorder *r = &p->re[p->n_re];
    dnnl_status_t s = reorderable[i].act && md->ndims <= 4 ? hant__md_act(&r->plain, md->ndims, md->dims)
                                                            : hant__md_plain(&r->plain, md->ndims, md->dims);
    if (s)
      return s;
    /* the caller's buffer holds the primitive's data type (int8 weights stay int8) */
    r->plain.data_type = md->data_type;
    if (dnnl_memory_desc_equal(&r->plain, md))
      continue;
    r->arg = reorderable[i].arg;
    r->out = reorderable[i].out;
    r->native = md;
    p->n_re++;
    s = r->out ? dnnl_reorder_primitive_desc_create(&r->pd, md, engine, &r->plain, engine, user_scratch_attr)
               : dnnl_reorder_primitive_desc_create(&r->pd, &r->plain, engine, md, engine, user_scratch_attr);
    if (!s)
      s = dnnl_primitive_create(&r->prim, r->pd);
    if (s)
      return s;
    r->scratch_md = dnnl_primitive_desc_query_md(r->pd, dnnl_query_scratchpad_md, 0);
    r->scratch_bytes = r->scratch_md ? dnnl_memory_desc_get_size(r->scratch_md) : 0;
  }
  return dnnl_success;
}

static int prim_make(const hant__prim_key *key, hant__prim_make_fn make, hant__prim **out) {
  hant__prim *p = calloc(1, sizeof(*p));
  if (!p)
    return hant__error(HANT_ENOMEM, "oneDNN: no memory for a %s primitive", kind_names[key->kind]);
  p->key = *key;
  dnnl_status_t s = make(key, engine, user_scratch_attr, &p->pd);
  if (s == dnnl_success)
    s = dnnl_primitive_create(&p->prim, p->pd);
  if (s == dnnl_success)
    s = reorders_make(p);
  if (s != dnnl_success) {
    prim_destroy(p);
    return hant__error(status_err(s), "oneDNN cannot prepare a %s primitive (%s)", kind_names[key->kind],
                       status_str(s));
  }
  p->scratch_md = dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
  p->scratch_bytes = p->scratch_md ? dnnl_memory_desc_get_size(p->scratch_md) : 0;
  *out = p;
  return 0;
}

int hant__prim_get(const hant__prim_key *key, hant__prim_make_fn make, hant__prim **out) {
  HANT_ASSERT(key->kind >= 0 && key->kind < HANT__PRIM_COUNT);
  int rc = engine_get();
  if (rc)
    return rc;
  uint64_t h = key_hash(key);
  pthread_mutex_lock(&cache_lock);
  hant__prim *p = find(key, h);
  if (p) {
    atomic_fetch_add(&p->refs, 1);
    p->used = ++cache_clock;
    cache_hits++;
    pthread_mutex_unlock(&cache_lock);
    *out = p;
    return 0;
  }
  pthread_mutex_unlock(&cache_lock);

  /* Prepare outside the lock: it is the slow part, and other threads keep
   * running their cached primitives meanwhile. */
  hant__prim *made = NULL;
  if ((rc = prim_make(key, make, &made)))
    return rc;
  made->hash = h;
  hant__prim *victim = NULL;
  pthread_mutex_lock(&cache_lock);
  p = find(key, h);
  if (p) { /* another thread prepared the same one first */
    atomic_fetch_add(&p->refs, 1);
    p->used = ++cache_clock;
    pthread_mutex_unlock(&cache_lock);
    prim_destroy(made);
    *out = p;
    return 0;
  }
  atomic_store(&made->refs, 1);
  made->used = ++cache_clock;
  made->next = buckets[h % CACHE_BUCKETS];
  buckets[h % CACHE_BUCKETS] = made;
  cache_count++;
  cache_created++;
  if (cache_count > CACHE_CAPACITY)
    victim = evict_one();
  pthread_mutex_unlock(&cache_lock);
  prim_destroy(victim);
  *out = made;
  return 0;
}

void hant__prim_release(hant__prim *p) {
  /* No lock: an entry is only evicted at refs 0 under the lock, and only
   * the lock holder raises refs, so a release can never race an eviction. */
  if (p)
    atomic_fetch_sub(&p->refs, 1);
}

const dnnl_memory_desc_t *hant__prim_arg_md(const hant__prim *p, int arg) {
  return dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, arg);
}

void hant_kernel_stats_get(hant_kernel_stats *s) {
  pthread_mutex_lock(&cache_lock);
  s->created = cache_created;
  s->hits = cache_hits;
  s->cached = cache_count;
  pthread_mutex_unlock(&cache_lock);
}

/* ---- execution ----------------------------------------------------------------- */

/* A memory object for descriptor md at argument position slot, its data
 * handle set to ptr. The pointer alone does not identify a descriptor (a
 * released primitive's address can be reused), so the cached object's own
 * descriptor is compared too. */
static dnnl_status_t mem_get(thread_state *t, const dnnl_memory_desc_t *md, int slot, void *ptr,
                             dnnl_memory_t *out) {
  uintptr_t h = (uintptr_t)md >> 4;
  mem_entry *e = &t->mem[slot][(h ^ (h >> 6) ^ (h >> 12)) % MEM_CACHE];
  if (e->mem && e->md == md) {
    const dnnl_memory_desc_t *have = NULL;
    if (dnnl_memory_get_memory_desc(e->mem, &have) == dnnl_success && dnnl_memory_desc_equal(have, md)) {
      *out = e->mem;
      return dnnl_memory_set_data_handle_v2(e->mem, ptr, t->stream);
    }
  }
  if (e->mem)
    dnnl_memory_destroy(e->mem);
  e->mem = NULL;
  dnnl_status_t s = dnnl_memory_create(&e->mem, md, engine, ptr);
  if (s != dnnl_success) {
    e->mem = NULL;
    return s;
  }
  e->md = md;
  *out = e->mem;
  return dnnl_success;
}

/* Runs one primitive on the thread's stream with the thread's own memory
 * objects (a primitive is safe to run from several threads at once only
 * with distinct memory objects), taking its scratchpad from the arena. */
static dnnl_status_t run_one(thread_state *t, dnnl_primitive_t prim, const dnnl_memory_desc_t *scratch_md,
                             size_t scratch_bytes, hant_arena *scratch, int n, const int *arg,
                             const dnnl_memory_desc_t *const *md, void *const *ptr) {
  dnnl_exec_arg_t ea[MAX_ARGS];
  void *pad = scratch_bytes ? hant_arena_alloc(scratch, scratch_bytes) : NULL;
  if (scratch_bytes && !pad)
    return dnnl_out_of_memory;
  dnnl_status_t s = dnnl_success;
  int made = 0;
  for (; made < n + (pad != NULL) && s == dnnl_success; made++) {
    ea[made].arg = made < n ? arg[made] : DNNL_ARG_SCRATCHPAD;
    s = mem_get(t, made < n ? md[made] : scratch_md, made, made < n ? ptr[made] : pad, &ea[made].memory);
  }
  if (s == dnnl_success)
    s = dnnl_primitive_execute(prim, t->stream, made, ea);
  if (s == dnnl_success)
    s = dnnl_stream_wait(t->stream);
  return s;
}

int hant__prim_exec(const hant__prim *p, const hant__arg *args, int nargs, hant_arena *scratch) {
  HANT_ASSERT(nargs >= 0 && nargs < MAX_ARGS);
  thread_state *t = thread_state_get();
  if (!t)
    return hant__error(HANT_ENOMEM, "oneDNN: no memory for this thread's state");
  dnnl_status_t s = dnnl_success;
  if (!t->stream && (s = dnnl_stream_create(&t->stream, engine, dnnl_stream_default_flags)) != dnnl_success)
    return hant__error(status_err(s), "oneDNN: cannot create a stream (%s)", status_str(s));
  int arg[MAX_ARGS] = {0};
  const dnnl_memory_desc_t *md[MAX_ARGS] = {0};
  void *ptr[MAX_ARGS] = {0};
  const reorder *re[MAX_ARGS] = {0};
  for (int i = 0; i < nargs; i++) {
    bool native = (args[i].arg & HANT__NATIVE) != 0;
    arg[i] = args[i].arg & ~HANT__NATIVE;
    md[i] = hant__prim_arg_md(p, arg[i]);
    ptr[i] = (void *)args[i].ptr;
    for (int j = 0; j < p->n_re && !native; j++)
      if (p->re[j].arg == arg[i])
        re[i] = &p->re[j];
  }
  /* Inputs go to the primitive's own layout first, the primitive runs on
   * those copies, and its outputs come back to the caller's plain buffers. */
  static const int from_to[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
  void *native[MAX_ARGS] = {0};
  for (int i = 0; i < nargs && s == dnnl_success; i++) {
    if (!re[i])
      continue;
    if (!(native[i] = hant_arena_alloc(scratch, dnnl_memory_desc_get_size(re[i]->native))))
      s = dnnl_out_of_memory;
    else if (!re[i]->out)
      s = run_one(t, re[i]->prim, re[i]->scratch_md, re[i]->scratch_bytes, scratch, 2, from_to,
                  (const dnnl_memory_desc_t *const[]){&re[i]->plain, re[i]->native}, (void *const[]){ptr[i], native[i]});
    md[i] = re[i]->native;
    ptr[i] = native[i];
  }
  if (s == dnnl_success)
    s = run_one(t, p->prim, p->scratch_md, p->scratch_bytes, scratch, nargs, arg, md, ptr);
  for (int i = 0; i < nargs && s == dnnl_success; i++)
    if (re[i] && re[i]->out)
      s = run_one(t, re[i]->prim, re[i]->scratch_md, re[i]->scratch_bytes, scratch, 2, from_to,
                  (const dnnl_memory_desc_t *const[]){re[i]->native, &re[i]->plain},
                  (void *const[]){native[i], (void *)args[i].ptr});
  if (s != dnnl_success)
    return hant__error(status_err(s), "oneDNN cannot run a %s primitive (%s)", kind_names[p->key.kind],
                       status_str(s));
  return 0;
}

int hant__prim_pack(const hant__prim *p, int arg, const void *plain, void **packed) {
  *packed = NULL;
  const reorder *r = NULL;
  for (int j = 0; j < p->n_re; j++)
    if (p->re[j].arg == arg && !p->re[j].out)
      r = &p->re[j];
  const dnnl_memory_desc_t *md = r ? r->native : hant__prim_arg_md(p, arg);
  size_t bytes = dnnl_memory_desc_get_size(md);
  void *buf = bytes ? aligned_alloc(64, (bytes + 63) / 64 * 64) : NULL;
  if (!buf)
    return hant__error(HANT_ENOMEM, "oneDNN: no memory to pack %zu bytes for a %s primitive", bytes,
                       kind_names[p->key.kind]);
  if (!r) {
    memcpy(buf, plain, bytes);
    *packed = buf;
    return 0;
  }
  thread_state *t = thread_state_get();
  dnnl_status_t s = dnnl_success;
  if (!t)
    s = dnnl_out_of_memory;
  else if (!t->stream)
    s = dnnl_stream_create(&t->stream, engine, dnnl_stream_default_flags);
  hant_arena scratch;
  hant_arena_init(&scratch, 0);
  static const int from_to[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
  if (s == dnnl_success)
    s = run_one(t, r->prim, r->scratch_md, r->scratch_bytes, &scratch, 2, from_to,
                (const dnnl_memory_desc_t *const[]){&r->plain, r->native}, (void *const[]){(void *)plain, buf});
  hant_arena_free(&scratch);
  if (s != dnnl_success) {
    free(buf);
    return hant__error(status_err(s), "oneDNN cannot pack an argument of a %s primitive (%s)",
                       kind_names[p->key.kind], status_str(s));
  }
  *packed = buf;
  return 0;
}

int hant__prim_run(const hant__prim_key *key, hant__prim_make_fn make, const hant__arg *args, int nargs,
                   hant_arena *scratch) {
  hant__prim *p;
  int rc = hant__prim_get(key, make, &p);
  if (rc)
    return rc;
  rc = hant__prim_exec(p, args, nargs, scratch);
  hant__prim_release(p);
  return rc;
}

/* ---- helpers ------------------------------------------------------------------- */

void hant__kernel_fail(const char *file, int line) { hant__assert_fail(file, line, hant_errmsg()); }

dnnl_status_t hant__md_act(dnnl_memory_desc_t *md, int ndims, const int64_t *dims) {
  static const dnnl_format_tag_t tags[] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_acb, dnnl_acdb};
  HANT_ASSERT(ndims >= 1 && ndims <= 4);
  dnnl_dims_t d;
  for (int i = 0; i < ndims; i++)
    d[i] = dims[i];
  return dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, tags[ndims]);
}

dnnl_status_t hant__md_plain(dnnl_memory_desc_t *md, int ndims, const int64_t *dims) {
  static const dnnl_format_tag_t tags[] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde};
  HANT_ASSERT(ndims >= 1 && ndims <= 5);
  dnnl_dims_t d;
  for (int i = 0; i < ndims; i++)
    d[i] = dims[i];
  return dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, tags[ndims]);
}
