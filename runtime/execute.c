/* execute.c: runs a kernel on a problem: chunking, workspace, the merge of
 * partial statistics, and the spreading of the three phases over threads
 * (see gnk_kernel_abi.h for why the result never depends on the split). */
#include "gnk_internal.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* No contraction of a*b+c into FMAs: the merge and the apply parameters give
 * the same bits on every instruction set (set_params_f32 has an AVX-512 copy). */
#pragma STDC FP_CONTRACT OFF

/* Chunk sizes: gnk_chunking (gnk_internal.h). */

/* Problems smaller than this (bytes of x) run on the calling thread unless the
 * pool is warm (see gnk_run); below GNK_TINY_BYTES always. */
#define GNK_SERIAL_BYTES (1u << 20)
#define GNK_TINY_BYTES (1u << 17)

const char *gnk_split_name(gnk_split s) {
  return s == GNK_SPLIT_UNITS ? "units" : s == GNK_SPLIT_FUSED ? "fused" : s == GNK_SPLIT_PIPELINE ? "pipeline" : "phases";
}

/* ---- per-thread workspace, reused across calls (execute is re-entrant) ---- */
static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
typedef struct workspace { void *p; size_t size; } workspace;
static void ws_free(void *w) { if (w) { free(((workspace *)w)->p); free(w); } }
static void ws_init(void) { pthread_key_create(&ws_key, ws_free); }

static void *ws_get(size_t size) {
  pthread_once(&ws_once, ws_init);
  workspace *w = pthread_getspecific(ws_key);
  if (!w) {
    w = calloc(1, sizeof *w);
    if (!w) return NULL;
    pthread_setspecific(ws_key, w);
  }
  if (w->size < size) {
    void *p = NULL;
    if (posix_memalign(&p, 64, size) != 0) return NULL;
    free(w->p);
    w->p = p;
    w->size = size;
  }
  return w->p;
}

/* ---- the run ---- */
typedef struct run {
  gnk_kargs a;
  const gnk_kernel_fns *fns;
  gnk_layout layout;
  int64_t C, groups, D; /* the whole problem's (a.c and a.groups are a channel block's) */
  double eps;
  const void *gamma, *beta;
  gnk_dtype param_dtype;
  float *mean, *rstd;
  int64_t items;       /* total items */
  int64_t units;       /* NCHW: n*G groups; NHWC: n*nblk (sample, channel block) pairs */
  int64_t unit_groups; /* groups per unit: NCHW 1; NHWC G / nblk */
  int64_t unit_items;  /* items per unit */
  int64_t parts;       /* ranges the work is cut into */
  int phase;           /* 0 stats, 1 merge, 2 apply, 3 all three per unit */
  int pipeline;        /* phase 3: u+1's stats between u's apply chunks (run_units_pipelined) */
  int fused;           /* phase 3: ... in one loop (run_units_fused) */
} run;

/* The f32 scale rstd * gamma of the apply. A finite scale past FLT_MAX (a
 * constant group with a tiny eps: eps 1e-300 gives rstd 1e150) becomes
 * +-FLT_MAX, not Inf, so that the group's (x - mean) * scale is 0 and y is
 * exactly beta, not 0 * Inf = NaN (found by tests/fuzz/fuzz_desc); an
 * infinite one (variance and eps both 0) stays Inf, as 0 * Inf is then the
 * framework's NaN too. */
static inline float f32_scale(double scale) {
  const double clamped = scale > FLT_MAX ? FLT_MAX : scale < -FLT_MAX ? -FLT_MAX : scale;
  return (float)(isinf(scale) ? scale : clamped);
}

/* The apply parameters of n channels with f32 gamma and beta (the common
 * case), branch-free and with restrict pointers so that it vectorizes: on
 * 8x8 images this per-channel work rivals the kernel's. The same arithmetic
 * as merge_group's general loop, so both give the same bits. */
static inline __attribute__((always_inline)) void
set_params_body(const float *restrict gam, const float *restrict bet, int64_t n, double mean, double lo, float sub,
                double rstd, double fold_limit, float *restrict ps, float *restrict pk, float *restrict ph) {
  for (int64_t c = 0; c < n; ++c) {
    const double scale = rstd * (double)gam[c];
    const int fold = fabs(mean * scale) <= fold_limit;
    pk[c] = f32_scale(scale);
    ps[c] = fold ? 0.0f : sub;
    ph[c] = (float)((double)bet[c] - (fold ? mean : lo) * scale);
  }
}

typedef void (*set_params_fn)(const float *restrict, const float *restrict, int64_t, double, double, float, double,
                              double, float *restrict, float *restrict, float *restrict);

static void set_params_base(const float *restrict gam, const float *restrict bet, int64_t n, double mean, double lo,
                            float sub, double rstd, double fold_limit, float *restrict ps, float *restrict pk,
                            float *restrict ph) {
  set_params_body(gam, bet, n, mean, lo, sub, rstd, fold_limit, ps, pk, ph);
}

#if defined(__x86_64__)
/* The same loop in AVX-512 (8 doubles a vector instead of SSE2's 2): the
 * runtime is built for any x86-64, so this one copy is compiled for
 * AVX-512 and chosen at run time. Measured on 2x1280x8x8 (64 groups,
 * 2560 channels): merge 4.2 -> 1.9 us of a ~40 us call. */
__attribute__((target("avx512f,avx512dq"))) static void
set_params_avx512(const float *restrict gam, const float *restrict bet, int64_t n, double mean, double lo, float sub,
                  double rstd, double fold_limit, float *restrict ps, float *restrict pk, float *restrict ph) {
  set_params_body(gam, bet, n, mean, lo, sub, rstd, fold_limit, ps, pk, ph);
}
#endif

/* For tests: the portable copy (wide 0) or the AVX-512 one (wide 1; 0 is
 * returned where it cannot run). */
int gnk_set_params_copy(int wide, const float *gam, const float *bet, int64_t n, double mean, double lo, float sub,
                        double rstd, double fold_limit, float *ps, float *pk, float *ph) {
  if (!wide) {
    set_params_base(gam, bet, n, mean, lo, sub, rstd, fold_limit, ps, pk, ph);
    return 1;
  }
#if defined(__x86_64__)
  if (gnk_cpu_isa() >= GNK_ISA_AVX512 && gnk_cpu_isa() <= GNK_ISA_AVX512_BF16) {
    set_params_avx512(gam, bet, n, mean, lo, sub, rstd, fold_limit, ps, pk, ph);
    return 1;
  }
#endif
  return 0;
}

static set_params_fn set_params_f32 = set_params_base;
static pthread_once_t set_params_once = PTHREAD_ONCE_INIT;
static void set_params_choose(void) {
#if defined(__x86_64__)
  if (gnk_cpu_isa() >= GNK_ISA_AVX512 && gnk_cpu_isa() <= GNK_ISA_AVX512_BF16) set_params_f32 = set_params_avx512;
#endif
}

/* Merge group ng's chunk partials in chunk order (Chan, in double) and set
 * the apply parameters of its channels. */
static void merge_group(const run *r, int64_t ng) {
  const gnk_kargs *a = &r->a;
  const gnk_partial *p = a->part + ng * a->nchunk;
  double cnt = p[0].count, mean = p[0].mean, m2 = p[0].m2;
  for (int64_t k = 1; k < a->nchunk; ++k) {
    const double nb = p[k].count, n = cnt + nb, delta = p[k].mean - mean;
    mean += delta * (nb / n);
    m2 += p[k].m2 + delta * delta * (cnt * nb / n);
    cnt = n;
  }
  const double var = m2 / cnt; /* >= 0 by construction; NaN stays NaN */
  const double rstd = 1.0 / sqrt(var + r->eps);
  const int64_t n = ng / r->groups, g = ng % r->groups;
  if (r->mean) r->mean[ng] = (float)mean;
  if (r->rstd) r->rstd[ng] = (float)rstd;
  const float sub = (float)mean;
  const double lo = mean - (double)sub; /* what the f32 subtraction misses */
  const int64_t c0 = g * r->D, c1 = c0 + r->D, off = n * r->C;
  float *ps = (float *)a->sub + off, *pk = (float *)a->scale + off, *ph = (float *)a->shift + off;
  /* f32 (or absent) parameters are read directly; 16-bit ones through gnk_value_at(). */
  const int f32p = r->param_dtype == GNK_DTYPE_F32;
  const float *gf = f32p ? (const float *)r->gamma : NULL, *bf = f32p ? (const float *)r->beta : NULL;
  /* Folding: when |mean * scale| <= 1 (|mean| within about one std), y = x*scale +
   * (beta - mean*scale) loses at most an ulp of O(1) and saves the kernels a
   * subtraction per element (they test sub == 0). A constant group (m2 == 0)
   * is never folded: its output must be exactly beta. */
  const double fold_limit = m2 > 0.0 ? 1.0 : -1.0;
  if (gf && bf) {
    set_params_f32(gf + c0, bf + c0, c1 - c0, mean, lo, sub, rstd, fold_limit, ps + c0, pk + c0, ph + c0);
    return;
  }
  for (int64_t c = c0; c < c1; ++c) {
    const double gam = !r->gamma ? 1.0 : gf ? (double)gf[c] : gnk_value_at(r->param_dtype, r->gamma, c);
    const double beta = !r->beta ? 0.0 : bf ? (double)bf[c] : gnk_value_at(r->param_dtype, r->beta, c);
    const double scale = rstd * gam;
    const int fold = fabs(mean * scale) <= fold_limit;
    pk[c] = f32_scale(scale);
    ps[c] = fold ? 0.0f : sub;
    ph[c] = (float)(beta - (fold ? mean : lo) * scale);
  }
}

static void range_of(int64_t total, int64_t parts, int64_t i, int64_t *b, int64_t *e) {
  *b = total * i / parts;
  *e = total * (i + 1) / parts;
}

/* A unit's groups are consecutive in n*G + g order: NHWC unit n*nblk + b
 * holds groups b*unit_groups ... of sample n. */
static void merge_unit(const run *r, int64_t u) {
  for (int64_t g = 0; g < r->unit_groups; ++g) merge_group(r, u * r->unit_groups + g);
}

static void run_unit(const run *r, int64_t u) {
  const int64_t i0 = u * r->unit_items, i1 = i0 + r->unit_items;
  r->fns->stats(&r->a, i0, i1);
  merge_unit(r, u);
  r->fns->apply(&r->a, i0, i1);
}

/* The pipeline schedule: while unit u is applied chunk by chunk, the
 * statistics of unit u+1 are computed chunk by chunk in between, so that the
 * memory reads of u+1 overlap the writes of u (one phase alone streams in one
 * direction only). The statistics of a chunk do not depend on when they are
 * computed, so the bits are those of run_unit. It ran every NCHW group over
 * half of L2 until 2026-12-02; on the Zen 4 VM (1 MiB L2, 32 MiB L3) plain
 * units were then faster on the VAE decoder's 1-8 MiB groups, f32 and bf16
 * (one thread, A/B in one process: 1x512x256x256 GN+SiLU 19.1 against 25.5
 * ms, 1x256x512x512 39.3 against 56.8), and the pipeline ahead only on f16
 * (1x512x256x256 GN+SiLU 11.3 against 12.1 ms), so measure mode now times it
 * as a schedule of its own (planner.c). (Applying u backwards, to start with
 * the chunks its statistics left in L2, measured no better.) */
static void run_units_pipelined(const run *r, int64_t b, int64_t e) {
  const int64_t K = r->unit_items;
  r->fns->stats(&r->a, b * K, b * K + K);
  for (int64_t u = b; u < e; ++u) {
    merge_unit(r, u);
    const int64_t i0 = u * K, n0 = i0 + K;
    for (int64_t k = 0; k < K; ++k) {
      r->fns->apply(&r->a, i0 + k, i0 + k + 1);
      if (u + 1 < e) r->fns->stats(&r->a, n0 + k, n0 + k + 1);
    }
  }
}

/* Units in a row on one thread, fused: the statistics of unit u+1 (NCHW
 * group, NHWC sample) are computed chunk by chunk inside the normalization
 * loop of unit u (see the templates' fused()), so every x is read from memory
 * once, during the arithmetic of the unit before it. The first unit of the range has its
 * statistics computed alone; the bits are those of run_unit. */
static void run_units_fused(const run *r, int64_t b, int64_t e) {
  const int64_t K = r->unit_items;
  r->fns->stats(&r->a, b * K, b * K + K);
  for (int64_t u = b; u < e; ++u) {
    merge_unit(r, u);
    const int64_t i0 = u * K;
    if (u + 1 < e)
      for (int64_t k = 0; k < K; ++k) r->fns->fused(&r->a, i0 + k, i0 + K + k);
    else
      r->fns->apply(&r->a, i0, i0 + K);
  }
}

static void task(void *ctx, int64_t i) {
  const run *r = ctx;
  int64_t b, e;
  switch (r->phase) {
  case 0: range_of(r->items, r->parts, i, &b, &e); r->fns->stats(&r->a, b, e); break;
  case 1:
    range_of(r->a.n * r->groups, r->parts, i, &b, &e);
    for (int64_t ng = b; ng < e; ++ng) merge_group(r, ng);
    break;
  case 2: range_of(r->items, r->parts, i, &b, &e); r->fns->apply(&r->a, b, e); break;
  default:
    range_of(r->units, r->parts, i, &b, &e);
    if (r->fused) run_units_fused(r, b, e);
    else if (r->pipeline) run_units_pipelined(r, b, e);
    else for (int64_t u = b; u < e; ++u) run_unit(r, u);
  }
}

static gnk_status parallel(const gnk_exec_cfg *cfg, run *r, int phase, int64_t work) {
  r->phase = phase;
  r->parts = work < cfg->threads ? work : cfg->threads;
  if (r->parts < 1) r->parts = 1;
  if (r->parts == 1) { task(r, 0); return GNK_OK; }
  if (cfg->parallel_for) return gnk_caller_parallel_for(cfg->parallel_for, cfg->parallel_for_ctx, task, r, r->parts);
  gnk_pool_parallel_for(cfg->threads, task, r, r->parts);
  return GNK_OK;
}

gnk_status gnk_run(const gnk_exec_cfg *cfg, const gnk_desc *d, const void *x, void *y,
                   const void *gamma, const void *beta, float *mean, float *rstd) {
  const int64_t N = d->n, C = d->c, S = d->spatial, G = d->groups;
  const int64_t total = N * C * S; /* validated: no overflow */
  if (total > 0) {
    if (!x || !y) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "%s is NULL", !x ? "x" : "y");
    const size_t es = gnk_dtype_size(d->dtype), ps = gnk_dtype_size(d->param_dtype);
    const gnk_buffers b = {.x = x, .y = y, .es = es, .xbytes = (size_t)total * es,
                           .gamma = gamma, .beta = beta, .ps = ps, .pbytes = (size_t)C * ps,
                           .mean = mean, .rstd = rstd, .sbytes = (size_t)(N * G) * sizeof(float)};
    const gnk_status st = gnk_check_buffers(&b);
    if (st != GNK_OK) return st;
  }
  /* the kernel runs d whole, or (NHWC) block by block of its baked channels */
  const int64_t block = gnk_block_of(cfg->kernel, d);
  if (block < 0) return gnk_fail(GNK_ERR_NO_KERNEL, "kernel %s cannot run this problem", cfg->kernel->info.name);
  if (N == 0 || C == 0) return GNK_OK;
  if (S == 0) return gnk_empty_stats(mean, rstd, N * G, NAN); /* empty groups: like PyTorch */
  pthread_once(&set_params_once, set_params_choose);
  run r;
  memset(&r, 0, sizeof r);
  r.fns = cfg->kernel->fns;
  r.layout = d->layout;
  r.C = C;
  r.groups = G;
  r.D = C / G;
  r.eps = d->eps;
  r.gamma = gamma;
  r.beta = beta;
  r.param_dtype = d->param_dtype;
  r.mean = mean;
  r.rstd = rstd;
  gnk_kargs *a = &r.a;
  a->x = x;
  a->y = y;
  a->n = N;
  a->c = C;
  a->s = S;
  a->groups = G;
  if (d->layout == GNK_LAYOUT_NCHW) {
    gnk_chunking(d->layout, r.D * S, a);
    a->nblk = 1;
    r.units = N * G;
    r.unit_groups = 1;
  } else {
    gnk_chunking(d->layout, S, a);
    if (block > 0) { /* the kernel's view: one block of whole groups */
      a->c = block;
      a->groups = block / r.D;
    }
    a->nblk = C / a->c;
    r.units = N * a->nblk;
    r.unit_groups = a->groups;
    gnk_nhwc_set_prefetch(a, (size_t)total * gnk_dtype_size(d->dtype), (size_t)a->c * gnk_dtype_size(d->dtype));
  }
  r.unit_items = a->nchunk; /* NCHW: chunks of a group; NHWC: of a sample (block) */
  r.items = r.units * r.unit_items;
  /* Workspace: partials [N][G][nchunk], then sub/scale/shift [N][C] each. */
  const size_t part_bytes = (size_t)(N * G * a->nchunk) * sizeof(gnk_partial);
  const size_t par_bytes = ((size_t)(N * C) * sizeof(float) + 63) & ~(size_t)63;
  char *ws = ws_get(part_bytes + 3 * par_bytes);
  if (!ws) return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory for a %zu-byte workspace", part_bytes + 3 * par_bytes);
  a->part = (gnk_partial *)ws;
  a->sub = (const float *)(ws + part_bytes);
  a->scale = (const float *)(ws + part_bytes + par_bytes);
  a->shift = (const float *)(ws + part_bytes + 2 * par_bytes);

  /* Below GNK_SERIAL_BYTES a second thread of gnk's own pool costs more than
   * it saves when the worker sleeps: waking it (tens of us in a VM) exceeds
   * the whole kernel. When a job ended moments ago (layers back to back) the
   * worker still spins and takes its share within a microsecond, so problems
   * down to GNK_TINY_BYTES use it then. Serial execution gives the same bits,
   * so this is purely a speed decision; a caller-supplied parallel_for is
   * always used as asked. */
  gnk_exec_cfg serial;
  const size_t xbytes = (size_t)total * gnk_dtype_size(d->dtype);
  if (cfg->threads > 1 && !cfg->parallel_for && xbytes < GNK_SERIAL_BYTES &&
      (xbytes < GNK_TINY_BYTES || !gnk_pool_warm())) {
    serial = *cfg;
    serial.threads = 1;
    cfg = &serial;
  }
  if (cfg->split != GNK_SPLIT_PHASES || cfg->threads <= 1) {
    /* Units split: NCHW groups that fit in L2 beside their successor
     * prefetch it during their apply; larger ones and NHWC samples run one
     * after the other (prefetch measured slower there). Pipeline split: the
     * successor's statistics between the apply's chunks (run_units_pipelined,
     * which reads it itself: no prefetch); fused split: inside the apply loop
     * (run_units_fused). */
    const size_t group_bytes = (size_t)(r.D * S) * gnk_dtype_size(d->dtype);
    r.pipeline = cfg->split == GNK_SPLIT_PIPELINE;
    r.fused = cfg->split == GNK_SPLIT_FUSED && r.fns->fused != NULL;
    a->prefetch_next = r.pipeline ? GNK_PREFETCH_NONE : gnk_prefetch_kind(d->layout, group_bytes, xbytes);
    return parallel(cfg, &r, 3, r.units);
  }
  gnk_status st = parallel(cfg, &r, 0, r.items);
  if (st == GNK_OK) st = parallel(cfg, &r, 1, N * G);
  if (st == GNK_OK) st = parallel(cfg, &r, 2, r.items);
  return st;
}
