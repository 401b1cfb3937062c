/* Internal declarations shared by the runtime's files (not installed). */
#ifndef GNK_INTERNAL_H
#define GNK_INTERNAL_H

#include "gnk.h"
#include "gnk_half.h"
#include "gnk_kernel_abi.h"

#include <stdarg.h>
#include <stdint.h>

/* ---- errors (desc.c) ---- */
/* Records `fmt` as this thread's last error and returns s. */
gnk_status gnk_fail(gnk_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- CPU (cpu.c) ---- */
gnk_isa gnk_cpu_native_isa(void);       /* what the hardware + OS support */
const char *gnk_cpu_signature(void);    /* vendor, model and ISA features, one line */
int gnk_verbose(void);                  /* GNK_VERBOSE */
int gnk_default_threads(void);          /* GNK_NUM_THREADS, else 1 */
/* 1 when estimate mode takes the SiLU-by-division kernels (*_div): AMD
 * cores and Intel Sapphire / Emerald Rapids (see cpu.c), or GNK_SILU=div;
 * measure mode times both forms wherever they exist. */
int gnk_cpu_silu_div(void);
/* 1 when the channels-last apply prefetches its rows into L1 rather than L2
 * (gnk_kargs.pf_l1): Intel cores, or GNK_APPLY_PREFETCH=l1. Speed only. */
int gnk_cpu_apply_pf_l1(void);
/* For tests: replace that choice. Not synchronized with executes on other threads. */
void gnk_cpu_set_apply_pf_l1(int l1);
/* For tests and research tools: replace the detected cache sizes (0 keeps
 * one; see gnk_cpu_cache_bytes). Not synchronized with planning on other threads. */
void gnk_cpu_set_caches(size_t l2, size_t l3);

/* ---- kernel registry (registry.c) ---- */
typedef struct gnk_kernel {
  gnk_kernel_info info;
  const gnk_kernel_fns *fns;
} gnk_kernel;
int gnk_registry_count(void);
const gnk_kernel *gnk_registry_get(int i);
int gnk_registry_find(const char *name); /* index or -1 */
/* 1 when kernel k can compute problem d (layout, dtype, act, baked shape). */
int gnk_kernel_matches(const gnk_kernel *k, const gnk_desc *d);
/* How kernel k runs problem d: 0 as it is (gnk_kernel_matches), W > 0 block by
 * block of W channels (an NHWC kernel baked for W channels, C/W blocks of
 * whole groups of d, see gnk_kernel_abi.h), -1 not at all. */
int64_t gnk_block_of(const gnk_kernel *k, const gnk_desc *d);
uint64_t gnk_registry_digest(void);      /* hash of the whole kernel list */

/* ---- execution (execute.c) ---- */
/* How the work is spread; never changes the result. */
typedef enum gnk_split {
  GNK_SPLIT_UNITS = 0,  /* each thread takes whole units (n,g) / n: one read from memory */
  GNK_SPLIT_PHASES = 1, /* stats, merge, apply each spread over all threads */
  GNK_SPLIT_FUSED = 2,  /* units, the statistics of unit u+1 inside the apply loop of u */
  GNK_SPLIT_PIPELINE = 3 /* units, the statistics of unit u+1 chunk by chunk between u's apply chunks */
} gnk_split;
#define GNK_SPLIT_COUNT 4
const char *gnk_split_name(gnk_split s);

/* Cache sizes the executor and the planner decide by, from this machine's
 * caches (gnk_cpu_cache_bytes: detected, or GNK_CACHE_L2 / GNK_CACHE_L3).
 * A tensor up to gnk_l2_bytes() is taken to stay in L2 (regular stores,
 * prefetch into L1); an NCHW group or channels-last unit up to
 * gnk_l2_unit_bytes() fits in L2 beside its successor (prefetch of the next
 * group; above it, no prefetch; channel blocks). Tuned on a
 * 2 MiB L2 (Intel, 2026-11) and checked on a 1 MiB one (AMD Zen 4). */
static inline size_t gnk_l2_bytes(void) { return gnk_cpu_cache_bytes(2); }
static inline size_t gnk_l2_unit_bytes(void) { return gnk_cpu_cache_bytes(2) / 2; }

/* A tensor over gnk_stream_bytes() is taken to stream from memory: the NHWC
 * statistics and apply then prefetch x GNK_PF_BYTES ahead into L2
 * (gnk_kargs.pf_rows). Measured on a 260 MiB-L3 Intel VM (GN+SiLU, apply
 * alone, prefetch into L1): -25% on 32-128 MiB tensors, +3% on 10 MiB, so at
 * most 16 MiB; half the last-level cache where that is smaller (x and y both
 * pass through it). On the 32 MiB-L3 Zen 4 VM (1x512x256x256): statistics
 * 11.0 -> 5.5-6.6 ms (a plain read: 5.0-5.5), apply into L1 9.1-10.3 -> 11.5-13.3 ms
 * (so L2: 9.1-10.3, the same as none). */
static inline size_t gnk_stream_bytes(void) {
  const size_t half_l3 = gnk_cpu_cache_bytes(3) / 2, cap = (size_t)16 << 20;
  return half_l3 < cap ? half_l3 : cap;
}
#define GNK_PF_BYTES 8192
/* gnk_kargs.pf_rows for a channels-last tensor of rows of row_bytes: the rows
 * in GNK_PF_BYTES where it streams, else 0. */
static inline int64_t gnk_nhwc_pf_rows(size_t tensor_bytes, size_t row_bytes) {
  return tensor_bytes > gnk_stream_bytes() ? (int64_t)((GNK_PF_BYTES + row_bytes - 1) / row_bytes) : 0;
}

/* The channels-last prefetch of a's kernel call, the executor's rule (one
 * place for gnk_run and the research tools): distance and target. */
static inline void gnk_nhwc_set_prefetch(gnk_kargs *a, size_t tensor_bytes, size_t row_bytes) {
  a->pf_rows = gnk_nhwc_pf_rows(tensor_bytes, row_bytes);
  a->pf_l1 = gnk_cpu_apply_pf_l1();
}

/* The apply's prefetch of the next NCHW group (gnk_kargs.prefetch_next) when
 * units run one after another, from the group's and the tensor's bytes. */
static inline int gnk_prefetch_kind(gnk_layout layout, size_t group_bytes, size_t tensor_bytes) {
  if (layout != GNK_LAYOUT_NCHW || group_bytes > gnk_l2_unit_bytes()) return GNK_PREFETCH_NONE;
  return tensor_bytes > gnk_l2_bytes() ? GNK_PREFETCH_L2 : GNK_PREFETCH_L1;
}

/* 1 when the units, fused and phases schedules walk a unit's chunks
 * backwards on the pass after the one that read it forwards (execute.c,
 * run.backward): a unit (NCHW group, NHWC sample or channel block; phases: a
 * thread's part of the items) of unit_bytes over gnk_l2_unit_bytes() in more
 * than one chunk. The pipeline keeps its order
 * (measured no better backwards, execute.c). Changes no value. */
static inline int gnk_walk_backward(gnk_split split, int64_t unit_items, size_t unit_bytes) {
  return split != GNK_SPLIT_PIPELINE && unit_items > 1 && unit_bytes > gnk_l2_unit_bytes();
}

/* Chunk sizes: functions of the problem only (never of threads), so every
 * split computes the same partials. NCHW: 4096 values (16 KiB: L1-resident
 * when a chunk must be summed a second time, see the template). NHWC: 512
 * rows (fewer when S is smaller): the statistics are one sequential pass, the
 * per-chunk fold of channel statistics into groups (O(C) in double) is spread
 * over 512 rows, and no more because each channel's rows are summed in one
 * f32 lane. */
#define GNK_NCHW_CHUNK 4096
#define GNK_NHWC_ROWS 512
/* gnk_kargs.chunk and .nchunk of a unit of `len` values (NCHW: a group's
 * D*S) or `len` rows (NHWC: S). */
static inline void gnk_chunking(gnk_layout layout, int64_t len, gnk_kargs *a) {
  const int64_t c = layout == GNK_LAYOUT_NCHW ? GNK_NCHW_CHUNK : len < GNK_NHWC_ROWS ? len : GNK_NHWC_ROWS;
  a->chunk = c;
  a->nchunk = (len + c - 1) / c;
}

/* The kernel arguments the executor gives a one-thread, whole-row f32 run of
 * (N, C, S, G) (no channel blocks; sub/scale/shift/part left to the caller):
 * its chunking, NCHW prefetch kind and NHWC prefetch distance. For the
 * research tools that call the kernel ABI directly (bench/phases.c,
 * bench/kernel_ab.c). */
static inline gnk_kargs gnk_kargs_f32_whole_rows(gnk_layout layout, const float *x, float *y, int64_t N, int64_t C,
                                                 int64_t S, int64_t G) {
  gnk_kargs a = {0};
  const size_t bytes = (size_t)(N * C * S) * sizeof(float);
  a.x = x;
  a.y = y;
  a.n = N;
  a.c = C;
  a.s = S;
  a.groups = G;
  a.nblk = 1;
  gnk_chunking(layout, layout == GNK_LAYOUT_NCHW ? C / G * S : S, &a);
  a.prefetch_next = gnk_prefetch_kind(layout, (size_t)(C / G * S) * sizeof(float), bytes);
  if (layout == GNK_LAYOUT_NHWC) gnk_nhwc_set_prefetch(&a, bytes, (size_t)C * sizeof(float));
  return a;
}

typedef struct gnk_exec_cfg {
  const gnk_kernel *kernel;
  gnk_split split;
  int threads;
  gnk_parallel_for_fn parallel_for; /* NULL: gnk's pool */
  void *parallel_for_ctx;
} gnk_exec_cfg;

/* ---- the merge of partial statistics (merge.c) ---- */
/* A run of consecutive groups of one sample: their partials [group][nchunk],
 * their D channels each, consecutive from channel c0 of gamma and beta. */
typedef struct gnk_merge_job {
  const gnk_partial *part;
  int64_t nchunk, ngroups, D;
  double eps;
  gnk_dtype param_dtype;
  const void *gamma, *beta;   /* the whole [C] arrays; NULL: 1 and 0 */
  int64_t c0;                 /* the run's first channel in them */
  float *mean, *rstd;         /* the run's first group's, or NULL: not wanted */
  float *sub, *scale, *shift; /* the run's first channel's apply parameters */
} gnk_merge_job;
/* Each group's mean and rstd (Chan's formula in double, chunk order) and
 * the apply parameters of its channels; the same bits on every ISA. */
void gnk_merge(const gnk_merge_job *j);
/* For the test that every copy gives the same bits: f32 gamma and beta, by
 * the portable copy (wide 0), the AVX-512 one (wide 1) or the AVX2 one (wide
 * 2); returns 0 where that copy cannot run. */
int gnk_merge_copy(int wide, const gnk_merge_job *j);
/* The apply parameters of n channels with f32 gamma/beta, by the copy
 * `wide` as above (returns 0 where it cannot run): for the same test. */
int gnk_set_params_copy(int wide, const float *gam, const float *bet, int64_t n, double mean, double lo, float sub,
                        double rstd, double fold_limit, float *ps, float *pk, float *ph);

gnk_status gnk_run(const gnk_exec_cfg *cfg, const gnk_desc *d, const void *x, void *y,
                   const void *gamma, const void *beta, float *mean, float *rstd);

/* Measure mode's timer of one run of a candidate (planner.c): ns. Tests
 * replace it (gnk_planner_set_timer; NULL restores the real one) to check
 * how the planner's timing schedule copes with noise; not thread-safe. */
typedef double (*gnk_run_timer_fn)(const gnk_exec_cfg *cfg, const gnk_desc *d, const void *x, void *y,
                                   const void *gamma, const void *beta);
void gnk_planner_set_timer(gnk_run_timer_fn f);
/* The most bytes per buffer (x, y) measure mode allocates to time a problem
 * (planner.c measure_bytes); tests set a small one (0 restores the default). */
void gnk_planner_set_measure_bytes(size_t bytes);

/* ---- thread pool (threadpool.c) ---- */
/* Runs task(ctx, i) for i in [0, count) on up to `threads` threads (the caller
 * included). If the pool is busy with another caller, runs inline. */
void gnk_pool_parallel_for(int threads, gnk_task_fn task, void *ctx, int64_t count);
/* 1 when the pool's workers are most likely still spinning after a job (one
 * ended less than ~40 us ago): a hand-off then costs about a microsecond
 * instead of a wake-up. A speed hint only; results never depend on it. */
int gnk_pool_warm(void);
/* fork() safety (threadpool.c registers the handlers): each lock-holding
 * part takes its locks before the fork and releases them in the parent and
 * in the child, where it also forgets what vanished threads were doing. */
void gnk_planner_fork_prepare(void);
void gnk_planner_fork_parent(void);
void gnk_planner_fork_child(void);
void gnk_wisdom_fork_prepare(void);
void gnk_wisdom_fork_parent(void);
void gnk_wisdom_fork_child(void);
/* The caller's parallel_for (pf) running task over [0, count), count <=
 * GNK_MAX_THREADS, each index checked: GNK_ERR_PARALLEL_FOR unless every index
 * ran exactly once and had finished when pf returned (an index out of range or
 * repeated is not run). A callback that returns early, skips or repeats work
 * would otherwise leave y silently wrong. */
gnk_status gnk_caller_parallel_for(gnk_parallel_for_fn pf, void *pool_ctx, gnk_task_fn task, void *ctx,
                                   int64_t count);

/* ---- wisdom (wisdom.c) ---- */
/* Looks up the measured decision for key; returns 1 and fills kernel/split. */
int gnk_wisdom_lookup(const char *key, int *kernel, gnk_split *split, double *ns);
void gnk_wisdom_record(const char *key, int kernel, gnk_split split, double ns);

/* ---- general GroupNorm (general.c) ---- */
/* A validated, resolved general problem (see gnk.h "General GroupNorm"). */
typedef struct gnk_general gnk_general;
/* The general problem of a plain descriptor (for acts only it has: GELU). */
gnk_status gnk_general_from_desc(gnk_general **out, const gnk_desc *d);
/* Runs g with cfg's threads / parallel_for (cfg->kernel unused). */
gnk_status gnk_general_run(const gnk_general *g, const gnk_exec_cfg *cfg, const void *x, void *y,
                           const void *gamma, const void *beta, const void *mask, float *mean, float *rstd);
const char *gnk_general_name(const gnk_general *g);
int64_t gnk_general_count(const gnk_general *g); /* statistics sets */
void gnk_general_free(gnk_general *g);
/* planner.c: wraps g (ownership passes, freed on failure) in a plan; `approx`
 * is what gnk_plan_desc reports. */
gnk_status gnk_plan_wrap_general(gnk_plan **plan, gnk_general *g, const gnk_desc *approx,
                                 const gnk_plan_options *o);
/* NULL for a fast plan; else its problem, and *cfg its threads / parallel_for. */
const gnk_general *gnk_plan_general(const gnk_plan *p, const gnk_exec_cfg **cfg);
/* The problem as a fast plan runs it (gnk_plan_desc reports the caller's):
 * e.g. a channels-first problem with one position per channel runs as the
 * channels-last one. For bench/overhead.c's baseline. */
const gnk_desc *gnk_plan_run_desc(const gnk_plan *p);

/* ---- misc (desc.c) ---- */
size_t gnk_dtype_size(gnk_dtype t);
/* The memory an execute reads and writes, for gnk_check_buffers; NULL
 * pointers (absent gamma, beta, mask, mean, rstd) are skipped. */
typedef struct gnk_buffers {
  const void *x;
  void *y;
  size_t es, xbytes;           /* x/y element size and bytes */
  const void *gamma, *beta;
  size_t ps, pbytes;           /* gamma/beta element size and bytes (each) */
  const float *mask;           /* general path only; total floats */
  size_t mbytes;
  float *mean, *rstd;
  size_t sbytes;               /* bytes of each */
} gnk_buffers;

/* The pointer checks of every execute (fast and general path), inline since
 * they run on every call (6-9 ns):
 * - x and y overlap only as the same buffer (in place);
 * - every pointer is aligned to its element (GNK_ERR_MISALIGNED): the kernels
 *   load and store with unaligned vector instructions, but their scalar paths
 *   (and C itself) read a float * or uint16_t * as such, and a streaming store
 *   needs an element-aligned y to reach a vector boundary;
 * - no output (y, mean, rstd) shares memory with another argument
 *   (GNK_ERR_OVERLAP): outputs are written while inputs are still read (a
 *   group's parameters are made from gamma/beta just before it is normalized,
 *   mean and rstd before x is read again), so that would give wrong numbers. */
static inline gnk_status gnk_check_buffers(const gnk_buffers *b) {
  const char *xb = (const char *)b->x, *yb = (const char *)b->y;
  if (xb != yb && xb < yb + b->xbytes && yb < xb + b->xbytes)
    return gnk_fail(GNK_ERR_OVERLAP, "x and y overlap without being the same buffer");
  const struct {
    const char *name;
    const void *p;
    size_t align, bytes;
    int out;
  } r[] = {{"x", b->x, b->es, b->xbytes, 0},           {"y", b->y, b->es, b->xbytes, 1},
           {"gamma", b->gamma, b->ps, b->pbytes, 0},   {"beta", b->beta, b->ps, b->pbytes, 0},
           {"mask", b->mask, sizeof(float), b->mbytes, 0}, {"mean", b->mean, sizeof(float), b->sbytes, 1},
           {"rstd", b->rstd, sizeof(float), b->sbytes, 1}};
  enum { NR = (int)(sizeof r / sizeof r[0]) };
  for (int i = 0; i < NR; ++i)
    if ((uintptr_t)r[i].p & (r[i].align - 1))
      return gnk_fail(GNK_ERR_MISALIGNED, "%s (%p) is not aligned to its %zu-byte elements", r[i].name, r[i].p,
                      r[i].align);
  for (int i = 1; i < NR; ++i) { /* outputs against everything else; x/y is checked above */
    if (!r[i].out || !r[i].p || !r[i].bytes) continue;
    const char *a = (const char *)r[i].p;
    for (int j = 0; j < NR; ++j) {
      if (j == i || (i == 1 && j == 0) || !r[j].p || !r[j].bytes) continue;
      const char *c = (const char *)r[j].p;
      if (a < c + r[j].bytes && c < a + r[i].bytes)
        return gnk_fail(GNK_ERR_OVERLAP, "%s and %s overlap: an output must not share memory with another argument",
                        r[i].name, r[j].name);
    }
  }
  return GNK_OK;
}

/* The statistics of an empty problem (count sets: mean 0, rstd `rstd_value`),
 * checked like any execute's outputs first (alignment, mean against rstd);
 * x, y and the parameters are not touched. Fast and general path. */
static inline gnk_status gnk_empty_stats(float *mean, float *rstd, int64_t count, float rstd_value) {
  const gnk_buffers b = {.mean = mean, .rstd = rstd, .sbytes = (size_t)count * sizeof(float)};
  const gnk_status st = gnk_check_buffers(&b);
  for (int64_t i = 0; st == GNK_OK && (mean || rstd) && i < count; ++i) {
    if (mean) mean[i] = 0.0f;
    if (rstd) rstd[i] = rstd_value;
  }
  return st;
}
const char *gnk_dtype_name(gnk_dtype t);

/* Element i of a gamma/beta-like array stored as `t`, as a double. */
static inline double gnk_value_at(gnk_dtype t, const void *p, int64_t i) {
  switch (t) {
  case GNK_DTYPE_F16: return (double)gnk_f16_to_f32(((const uint16_t *)p)[i]);
  case GNK_DTYPE_BF16: return (double)gnk_bf16_to_f32(((const uint16_t *)p)[i]);
  default: return (double)((const float *)p)[i];
  }
}

static inline int gnk_act_valid(gnk_act a) {
  return a == GNK_ACT_NONE || a == GNK_ACT_SILU || a == GNK_ACT_RELU || a == GNK_ACT_GELU_ERF || a == GNK_ACT_GELU_TANH;
}
/* Activations only the general kernel implements (GELU). */
static inline int gnk_act_general_only(gnk_act a) { return a == GNK_ACT_GELU_ERF || a == GNK_ACT_GELU_TANH; }

/* Plan options (flags, thread count) checked once for every plan entry point. */
gnk_status gnk_plan_options_validate(const gnk_plan_options *o);
double gnk_now_ns(void);

#endif
