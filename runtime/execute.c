/* execute.c: runs a kernel on a problem: chunking, workspace, the hand-off
 * of partial statistics to the merge (merge.c), and the spreading of the
 * three phases over threads (see gnk_kernel_abi.h for why the result never
 * depends on the split). */
#include "gnk_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
  int64_t groups, D; /* the whole problem's (a.c and a.groups are a channel block's) */
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
  /* Units, fused and phases splits: a unit over half of L2 is read twice (its
   * statistics, then its apply), and the first pass leaves only its last
   * chunks in L2. Each pass that follows one over the same unit then walks
   * its chunks in the opposite direction, starting where the previous pass
   * ended: units, every apply backwards; fused, the apply of u with the
   * statistics of u+1 backwards, the next one forwards, and so on; phases,
   * each thread's part of the apply backwards where it exceeds half of L2.
   * Items' partials do not depend on when they are computed: the same bits. Intel
   * VM (2 MiB L2), one thread, A/B in alternating processes, 3 rounds:
   * NHWC 2x320x64x64 GN 1130 -> 1033 us, GN+SiLU 1100 -> 1040,
   * 4x320x64x64 GN+SiLU 2236 -> 2144, 2x640x64x64 2303 -> 2231; NCHW
   * groups in L2 (unchanged here, as units they prefetch their successor)
   * were 0-4% slower walked backwards. */
  int backward;
} run;

/* Merge the partials of groups [b, e) of n*G + g order and set the apply
 * parameters of their channels (merge.c), one sample's run of groups at a
 * time: within a sample the groups' channels are consecutive in gamma and
 * beta as in the parameter arrays [n][C]. */
static void merge_groups(const run *r, int64_t b, int64_t e) {
  const gnk_kargs *a = &r->a;
  while (b < e) {
    const int64_t n = b / r->groups, g = b % r->groups;
    const int64_t end = e < (n + 1) * r->groups ? e : (n + 1) * r->groups;
    const gnk_merge_job j = {.part = a->part + b * a->nchunk, .nchunk = a->nchunk, .ngroups = end - b, .D = r->D,
                             .eps = r->eps, .param_dtype = r->param_dtype, .gamma = r->gamma, .beta = r->beta,
                             .c0 = g * r->D, .mean = r->mean ? r->mean + b : NULL, .rstd = r->rstd ? r->rstd + b : NULL,
                             .sub = (float *)a->sub + b * r->D, .scale = (float *)a->scale + b * r->D,
                             .shift = (float *)a->shift + b * r->D};
    gnk_merge(&j);
    b = end;
  }
}

static void range_of(int64_t total, int64_t parts, int64_t i, int64_t *b, int64_t *e) {
  *b = total * i / parts;
  *e = total * (i + 1) / parts;
}

/* A unit's groups are consecutive in n*G + g order: NHWC unit n*nblk + b
 * holds groups b*unit_groups ... of sample n. */
static void merge_unit(const run *r, int64_t u) { merge_groups(r, u * r->unit_groups, (u + 1) * r->unit_groups); }

/* The apply of items [b, e): forwards, or backwards from the end the
 * previous pass left in L2 (see run.backward). */
static void apply_items(const run *r, int64_t b, int64_t e, int backward) {
  if (!backward) {
    r->fns->apply(&r->a, b, e);
    return;
  }
  for (int64_t i = e - 1; i >= b; --i) r->fns->apply(&r->a, i, i + 1);
}

static void run_unit(const run *r, int64_t u) {
  const int64_t i0 = u * r->unit_items, i1 = i0 + r->unit_items;
  r->fns->stats(&r->a, i0, i1);
  merge_unit(r, u);
  apply_items(r, i0, i1, r->backward);
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
 * statistics computed alone; the bits are those of run_unit. Units over half
 * of L2 alternate direction (run.backward). */
static void run_units_fused(const run *r, int64_t b, int64_t e) {
  const int64_t K = r->unit_items;
  r->fns->stats(&r->a, b * K, b * K + K);
  for (int64_t u = b; u < e; ++u) {
    merge_unit(r, u);
    const int64_t i0 = u * K;
    const int back = r->backward && (u - b) % 2 == 0; /* u's statistics ran forward */
    if (u + 1 == e) {
      apply_items(r, i0, i0 + K, back);
      break;
    }
    for (int64_t j = 0; j < K; ++j) {
      const int64_t k = back ? K - 1 - j : j;
      r->fns->fused(&r->a, i0 + k, i0 + K + k);
    }
  }
}

static void task(void *ctx, int64_t i) {
  const run *r = ctx;
  int64_t b, e;
  switch (r->phase) {
  case 0: range_of(r->items, r->parts, i, &b, &e); r->fns->stats(&r->a, b, e); break;
  case 1:
    range_of(r->a.n * r->groups, r->parts, i, &b, &e);
    merge_groups(r, b, e);
    break;
  case 2: range_of(r->items, r->parts, i, &b, &e); apply_items(r, b, e, r->backward); break;
  default:
    range_of(r->units, r->parts, i, &b, &e);
    if (r->fused) run_units_fused(r, b, e);
    else if (r->pipeline) run_units_pipelined(r, b, e);
    else for (int64_t u = b; u < e; ++u) run_unit(r, u);
  }
}

/* The ranges `work` units are cut into: one a thread, at most one a unit. */
static int64_t parts_of(const gnk_exec_cfg *cfg, int64_t work) {
  const int64_t p = work < cfg->threads ? work : cfg->threads;
  return p < 1 ? 1 : p;
}

static gnk_status parallel(const gnk_exec_cfg *cfg, run *r, int phase, int64_t work) {
  r->phase = phase;
  r->parts = parts_of(cfg, work);
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
  run r;
  memset(&r, 0, sizeof r);
  r.fns = cfg->kernel->fns;
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
    const size_t unit_bytes =
        d->layout == GNK_LAYOUT_NCHW ? group_bytes : (size_t)(S * a->c) * gnk_dtype_size(d->dtype); /* NHWC: a block */
    r.backward = gnk_walk_backward(cfg->split, r.unit_items, unit_bytes);
    return parallel(cfg, &r, 3, r.units);
  }
  /* phases: part i of the apply takes the items part i of the statistics
   * took, on the same thread as a rule (gnk's pool: the caller claims part
   * 0 first); a part over half of L2 is applied backwards */
  const int64_t parts = parts_of(cfg, r.items);
  r.backward = gnk_walk_backward(GNK_SPLIT_PHASES, r.items / parts, xbytes / (size_t)parts);
  gnk_status st = parallel(cfg, &r, 0, r.items);
  if (st == GNK_OK) st = parallel(cfg, &r, 1, N * G);
  if (st == GNK_OK) st = parallel(cfg, &r, 2, r.items);
  return st;
}
