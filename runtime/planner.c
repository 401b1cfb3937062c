/* planner.c: descriptor -> plan. Chooses a kernel and a work split by
 * heuristic (estimate), by timing every candidate (measure) or from wisdom,
 * and caches decisions per (descriptor, mode, threads) with single flight:
 * when many threads ask for the same cold key at once, one builds and the
 * others wait for it; a failed build is not cached. */
#include "gnk_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gnk_plan {
  gnk_desc desc; /* as the caller described it (gnk_plan_desc) */
  gnk_desc run;  /* as it is planned and run (as_run) */
  gnk_exec_cfg cfg; /* cfg.kernel is NULL for a general plan */
  const char *source;
  double ns; /* measured time of the choice, 0 if not measured */
  gnk_general *general; /* general.c's problem, or NULL for a fast plan */
};

typedef struct decision {
  int kernel;
  gnk_split split;
  const char *source; /* "estimate", "measured", "wisdom" */
  double ns;
} decision;

/* ---- candidates ---- */
static int candidate(int i, const gnk_desc *d) {
  const gnk_kernel *k = gnk_registry_get(i);
  return k->info.isa <= gnk_cpu_isa() && gnk_kernel_matches(k, d);
}

/* A kernel for a channel block of d (gnk_block_of) worth timing: where a
 * channels-last sample exceeds what L2 keeps beside its successor but a block
 * of it does not, units of (sample, block) are read from memory once instead
 * of twice (the statistics leave the block in L2 for the apply), and give
 * two-sample problems enough units for every thread. Measured with
 * bench/layout_model.c: 0.71-0.88 of the whole-row schedule's time at
 * 2x1280x256 and 2x2560x256, about even at 2x640x1024, slower where the
 * block's rows are long strides through a large image (2x320x4096). Measure
 * mode times them; estimate mode takes them only where they always won
 * (estimate_kernel). */
static int block_candidate(int i, const gnk_desc *d) {
  const gnk_kernel *k = gnk_registry_get(i);
  if (k->info.isa > gnk_cpu_isa()) return 0;
  const int64_t w = gnk_block_of(k, d);
  const size_t es = gnk_dtype_size(d->dtype);
  return w > 0 && (size_t)(d->c * d->spatial) * es > gnk_l2_unit_bytes() &&
         (size_t)(w * d->spatial) * es <= gnk_l2_unit_bytes();
}

/* Whether kernel k writes y with streaming (non-temporal) stores. */
static int streams_y(const gnk_kernel_info *k) { return strstr(k->name, "_nt") != NULL; }

/* Whether x and y together exceed the last-level cache: then every line of y
 * misses, and a regular store first reads it from memory (a third stream
 * beside reading x and writing y), a streaming store does not. Measured on
 * the Zen 4 VM (32 MiB L3), one thread, kernels alternating, medians of
 * 12-16 runs: the streaming-store kernel 6-7% faster on 1x512x128x128
 * GN+SiLU (32 MiB), 33-35% on 2x640x64x64 GN (21 MiB) and 1x128x512x512
 * GN+SiLU (128 MiB), 26% on 1x256x256x256 channels-last GN+SiLU. */
static int tensor_beyond_l3(const gnk_desc *d) {
  return 2 * (size_t)(d->n * d->c * d->spatial) * gnk_dtype_size(d->dtype) > gnk_cpu_cache_bytes(3);
}

/* Whether the tensor stays in L2 (estimate: regular stores, and the fused
 * schedule for plain GN and GN+ReLU). */
static int tensor_in_l2(const gnk_desc *d) {
  return (size_t)(d->n * d->c * d->spatial) * gnk_dtype_size(d->dtype) <= gnk_l2_bytes();
}

/* Estimate mode takes the fused schedule for NCHW groups over
 * gnk_l2_unit_bytes(): measured 13-15% faster than the pipeline on the VAE
 * decoder's 2-8 MiB groups on the Intel VM (plain units, faster than both by
 * their medians on the Zen 4 VM under load and even with the host quiet, were
 * not measured there; measure mode times all three). Below that, units (the
 * apply prefetches the next group) except for plain GN and GN+ReLU on tensors
 * that fit in L2 (regular stores, see estimate_rank): there fused was faster
 * (fused/units, 301 alternating pairs: 0.87 on 2x1280x8x8 GN, 0.94 on
 * 1x512x28x28 GN+ReLU; 0.86 on 1x256x56x56 with regular stores, but with the
 * streaming stores estimate takes for tensors over L2 fused was slower,
 * 1.02-1.10 on 1x256x56x56 to 2x320x64x64), and GN+SiLU keeps units at every
 * size (fused 0-18% slower on 8x8-64x64 images: the SiLU's registers and
 * ports are shared with the statistics). */

/* Whether d's NCHW groups exceed what L2 keeps beside their successor: there
 * the apply cannot prefetch the next group, and measure mode also times the
 * pipeline schedule (execute.c run_units_pipelined; it was the only schedule
 * of these units before 2026-12-02 and is still the fastest for some, f16 on
 * the Zen 4 VM). */
static int big_nchw_groups(const gnk_desc *d) {
  return d->layout == GNK_LAYOUT_NCHW &&
         (size_t)(d->c / d->groups * d->spatial) * gnk_dtype_size(d->dtype) > gnk_l2_unit_bytes();
}

/* The split for `units` units of work (NCHW groups; NHWC samples, or
 * (sample, channel block) pairs when a block kernel runs d). */
static gnk_split split_for_units(const gnk_desc *d, int threads, int64_t units) {
  const int big_groups = big_nchw_groups(d);
  /* channels-last: the next sample's statistics inside this one's
   * normalization, measured 2-4% faster on the UNet's 2-sample problems */
  const int fuse = big_groups || d->layout == GNK_LAYOUT_NHWC || (tensor_in_l2(d) && d->act != GNK_ACT_SILU);
  const gnk_split units_split = fuse ? GNK_SPLIT_FUSED : GNK_SPLIT_UNITS;
  if (threads <= 1) return units_split;
  /* Whole units keep a group in cache between statistics and apply, but
   * need enough of them to keep every thread busy. */
  return units >= 4 * (int64_t)threads ? units_split : GNK_SPLIT_PHASES;
}

static gnk_split estimate_split(const gnk_desc *d, int threads) {
  return split_for_units(d, threads, d->layout == GNK_LAYOUT_NCHW ? d->n * d->groups : d->n);
}

/* Heuristic rank of a candidate, from what GNK_MEASURE picked most often on
 * the SD 1.5 workloads: highest ISA; no streaming stores on a tensor L2
 * holds; specialized before generic; for channels-last the row-order apply;
 * streaming stores once the tensor is larger than L2 can keep (y then leaves
 * the cache anyway; below that the next layer would read y from cache),
 * regular stores otherwise; for GN+SiLU the SiLU form the CPU prefers
 * (gnk_cpu_silu_div: the *_div kernels on AMD); unroll 4.
 * The second rule outranks specialization because some specialized kernels
 * exist only with streaming stores (the channels-last block kernels, which
 * also match a problem whose whole row is one block): estimate took
 * gnk_f32_nhwc_gn_g4c64__avx512_u4_nt_row for the 1 MiB 4096x64 g4 and ran
 * 2.0x the generic kernel's time (Intel VM, 2026-12-03: 1040-1059 against
 * 513-523 us, five alternating gnk-run --estimate of both builds).
 * Higher is better. */
static long estimate_rank(const gnk_kernel_info *k, int big) {
  const int row = strstr(k->name, "_row") != NULL, nt = streams_y(k);
  const int div = strstr(k->name, "_div") != NULL; /* the SiLU form this CPU prefers, see gnk_cpu_silu_div */
  return (long)k->isa * 1000000 + !(nt && !big) * 200000 + (k->groups != 0) * 100000 + row * 10000 +
         (nt == big) * 1000 + (div == gnk_cpu_silu_div()) * 100 + k->unroll;
}

/* Estimate mode runs channels-last samples over half of L2 in channel blocks
 * of at most ESTIMATE_BLOCK_BYTES (the widest such block kernel of the best
 * ISA): the class where blocks won every time they were measured on a 2 MiB
 * L2 (2 samples of 16x16 with 1280-2560 channels: fused 0.78-0.89 of the
 * whole-row time at 1 thread, 0.83-0.94 at 2). Larger blocks (longer images)
 * were even or slower, so measure mode alone chooses those. On a 1 MiB L2
 * (AMD Zen 4) measure mode chose 80- and 160-channel blocks of these
 * problems about equally often, so the bound stays absolute. */
#define ESTIMATE_BLOCK_BYTES (256u << 10)

static int estimate_kernel(const gnk_desc *d) {
  const int big = !tensor_in_l2(d);
  int best = -1;
  for (int i = 0; i < gnk_registry_count(); ++i) {
    if (!candidate(i, d)) continue;
    if (best < 0 ||
        estimate_rank(&gnk_registry_get(i)->info, big) > estimate_rank(&gnk_registry_get(best)->info, big))
      best = i;
  }
  int blocked = -1;
  for (int i = 0; best >= 0 && i < gnk_registry_count(); ++i) {
    const gnk_kernel_info *k = &gnk_registry_get(i)->info;
    if (!block_candidate(i, d) || k->isa != gnk_registry_get(best)->info.isa ||
        (size_t)(k->channels * d->spatial) * gnk_dtype_size(d->dtype) > ESTIMATE_BLOCK_BYTES)
      continue;
    const gnk_kernel_info *b = blocked >= 0 ? &gnk_registry_get(blocked)->info : NULL;
    /* The widest block; between two of one width (the SiLU forms) the better rank. */
    if (!b || k->channels > b->channels ||
        (k->channels == b->channels && estimate_rank(k, big) > estimate_rank(b, big)))
      blocked = i;
  }
  return blocked >= 0 ? blocked : best;
}

/* The estimated split for kernel k on d (a block kernel has C/W units per sample). */
static gnk_split estimate_split_for(const gnk_desc *d, int threads, int k) {
  const int64_t w = gnk_block_of(gnk_registry_get(k), d);
  return w > 0 ? split_for_units(d, threads, d->n * (d->c / w)) : estimate_split(d, threads);
}

static void fill(void *p, int64_t count, gnk_dtype t) {
  uint32_t s = 0x9e3779b9u;
  for (int64_t i = 0; i < count; ++i) {
    s = s * 1664525u + 1013904223u;
    const float v = (float)(s >> 8) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
    if (t == GNK_DTYPE_F32) ((float *)p)[i] = v;
    else { /* f16 and bf16 alike: a small exponent keeps both finite */
      uint32_t u;
      memcpy(&u, &v, 4);
      ((uint16_t *)p)[i] = t == GNK_DTYPE_BF16 ? (uint16_t)(u >> 16) : (uint16_t)(0x3800u | ((s >> 12) & 0x83ffu));
    }
  }
}

/* One run of a candidate, timed (gnk_planner_set_timer replaces it in tests). */
static double timed_run(const gnk_exec_cfg *cfg, const gnk_desc *d, const void *x, void *y, const void *gamma,
                        const void *beta) {
  const double t0 = gnk_now_ns();
  gnk_run(cfg, d, x, y, gamma, beta, NULL, NULL);
  return gnk_now_ns() - t0;
}

static gnk_run_timer_fn run_timer = timed_run;

void gnk_planner_set_timer(gnk_run_timer_fn f) { run_timer = f ? f : timed_run; }

/* A kernel under a split, and what timing it has found so far. */
typedef struct timing {
  int kernel;
  gnk_split split;
  double t;     /* minimum over its runs (1e300 before the first) */
  double spent; /* ns of its runs so far */
  int runs;
  int fixed; /* timed already (the split stage's incumbent): compared, not run again */
} timing;

/* Measure mode times its candidates in SWEEPS sweeps over the list,
 * alternately forward and backward, a few runs per candidate each time, and
 * keeps each candidate's minimum over all its runs. On a shared machine a
 * burst of load lasts milliseconds: timed one after the other, every run of
 * one candidate can fall inside the same burst (on the Zen 4 VM that made
 * measure mode pick kernels up to 25% slower than the best now and then);
 * spread over three sweeps, a candidate's runs lie far apart, and the
 * backward sweep also cancels drift (clock, cache state) that favours
 * candidates late in the list. Per candidate the same runs as timing it
 * alone: up to two per sweep while the sweep spent under 7 ms on it, more
 * sweeps while its total is under 20 ms (a 50 ms VAE problem gets two runs,
 * a 1 ms one six). A candidate already HOPELESS times slower than the best
 * gets no more runs: 2x, where runs of one process differ by 1.2-1.3x and a
 * whole process by up to 1.5x on these VMs (it was 3x; on the Intel VM's
 * 1x512x256x256 channels-last GN+SiLU the 2x cut spares the AVX2 kernels'
 * second runs, 180 of 900 ms). */
#define HOPELESS 2.0
#define SWEEPS 3
#define SWEEP_RUNS 2
#define SWEEP_NS 7e6
#define CANDIDATE_NS 2e7

/* The index of the fastest of c[0..n) (ties: the earlier), -1 if none was timed. */
static int fastest(const timing *c, int n) {
  int win = -1;
  for (int i = 0; i < n; ++i)
    if (c[i].t < 1e300 && (win < 0 || c[i].t < c[win].t)) win = i;
  return win;
}

/* Keeps the candidates of c[0..n) whose kernel passes `keep`, where any does
 * (else all); the new n. */
static int keep_if_any(timing *c, int n, int (*keep)(const gnk_kernel_info *)) {
  int any = 0;
  for (int j = 0; j < n && !any; ++j) any = keep(&gnk_registry_get(c[j].kernel)->info);
  if (!any) return n;
  int kept = 0;
  for (int j = 0; j < n; ++j)
    if (keep(&gnk_registry_get(c[j].kernel)->info)) c[kept++] = c[j];
  return kept;
}

static int is_vector(const gnk_kernel_info *k) { return k->isa != GNK_ISA_SCALAR; }

static int hopeless(const timing *t, double best) { return t->runs > 0 && t->t > HOPELESS * best; }

static int sweeps(const gnk_desc *d, const gnk_plan_options *o, int threads, timing *c, int n, const void *x,
                  void *y, const void *gamma, const void *beta) {
  int win = fastest(c, n);
  double best = win >= 0 ? c[win].t : 1e300;
  for (int s = 0; s < SWEEPS; ++s) {
    for (int j = 0; j < n; ++j) {
      timing *t = &c[s % 2 ? n - 1 - j : j];
      if (t->fixed || hopeless(t, best) || (t->runs >= 2 && t->spent >= CANDIDATE_NS)) continue;
      const gnk_exec_cfg cfg = {gnk_registry_get(t->kernel), t->split, threads, o ? o->parallel_for : NULL,
                                o ? o->parallel_for_ctx : NULL};
      double here = 0;
      for (int r = 0; r < SWEEP_RUNS && (r < 1 || here < SWEEP_NS) && !hopeless(t, best); ++r) {
        const double ns = run_timer(&cfg, d, x, y, gamma, beta);
        here += ns;
        t->spent += ns;
        ++t->runs;
        if (ns < t->t) t->t = ns;
      }
      if (t->t < best) best = t->t;
    }
  }
  return fastest(c, n);
}

/* Measure mode allocates x and y of the problem it times and fills them, so
 * timing a 20 GiB tensor would take 40 GiB more (where the kernel's overcommit
 * lets the allocation pass, the fill would wake the OOM killer instead of
 * failing). Beyond measure_bytes() per buffer it times a part of the problem
 * in the same regime (timed_problem): fewer samples (every sample is the same
 * work), or samples cut to fewer spatial positions where the samples it needs
 * are larger; either is at least half of measure_bytes(), so x and y still
 * stream from memory (the default is at least twice the L3: only tensors far
 * beyond the last-level cache are cut, and none of the default workload,
 * whose largest is 256 MiB). The kernels do not depend on N or S (gnk_kernel_matches), the
 * candidates and their splits come from the whole problem, and the times are
 * scaled to it. */
#define MEASURE_BYTES_MIN ((size_t)256 << 20)
static size_t measure_bytes_override;

void gnk_planner_set_measure_bytes(size_t bytes) { measure_bytes_override = bytes; }

static size_t measure_bytes(void) {
  if (measure_bytes_override) return measure_bytes_override;
  const size_t l3x2 = 2 * gnk_cpu_cache_bytes(3);
  return l3x2 > MEASURE_BYTES_MIN ? l3x2 : MEASURE_BYTES_MIN;
}

/* The problem measure mode times for d at `threads` (d itself, or a part of
 * it, see measure_bytes), or 0 where no part fits the limit (then the
 * estimate decides). A part keeps enough samples for the split rule
 * (split_for_units: threaded, units for 4 per thread), or as many as d has,
 * so that the schedules compare as on the whole; where those samples are over
 * the limit, each is cut to fewer spatial positions. */
static int timed_problem(const gnk_desc *d, int threads, gnk_desc *t) {
  const size_t es = gnk_dtype_size(d->dtype), cap = measure_bytes();
  const size_t row = (size_t)d->c * es, sample = row * (size_t)d->spatial;
  *t = *d;
  if (sample * (size_t)d->n <= cap) return 1;
  const int64_t per_sample = d->layout == GNK_LAYOUT_NCHW ? d->groups : 1; /* units of a sample */
  const int64_t want = threads > 1 ? 4 * (int64_t)threads : 1;
  const int64_t need_units = d->n * per_sample < want ? d->n * per_sample : want;
  const int64_t need = (need_units + per_sample - 1) / per_sample; /* samples, at most d->n */
  const int64_t fit = (int64_t)(cap / sample);
  t->n = fit > need ? fit : need;
  if ((size_t)t->n * sample <= cap) return 1;
  if ((size_t)t->n * row > cap) return 0;
  t->spatial = (int64_t)(cap / ((size_t)t->n * row));
  return 1;
}

/* Times every candidate kernel this CPU supports on this problem, channel
 * block kernels included (block_candidate). */
static gnk_status measure(const gnk_desc *whole, const gnk_desc *d, const gnk_plan_options *o, int threads,
                          decision *out) {
  /* d is what is timed (timed_problem); the candidates and splits are the whole problem's */
  const int64_t total = d->n * d->c * d->spatial;
  const double scale = (double)(whole->n * whole->c * whole->spatial) / (double)total;
  void *x = NULL, *y = NULL, *gamma = NULL, *beta = NULL;
  const size_t bytes = (size_t)(total > 0 ? total : 1) * gnk_dtype_size(d->dtype);
  const size_t pbytes = (size_t)(d->c + 1) * gnk_dtype_size(d->param_dtype);
  timing *c = malloc(sizeof *c * (size_t)(gnk_registry_count() + GNK_SPLIT_COUNT));
  if (!c || posix_memalign(&x, 64, bytes) || posix_memalign(&y, 64, bytes) || !(gamma = malloc(pbytes)) ||
      !(beta = malloc(pbytes))) {
    free(c); free(x); free(y); free(gamma); free(beta);
    return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory to measure a %zu-byte problem", bytes);
  }
  fill(x, total, d->dtype);
  memset(y, 0, bytes);
  fill(gamma, d->c, d->param_dtype);
  fill(beta, d->c, d->param_dtype);
  /* Kernels are compared under the estimated split; then the winner alone
   * is timed under the other splits (the split changes how work is spread,
   * not which kernel loop is fastest): a fraction of the work of timing
   * every (kernel, split) pair. */
  int n = 0;
  for (int i = 0; i < gnk_registry_count(); ++i) {
    gnk_split split = estimate_split(whole, threads);
    if (!candidate(i, whole)) {
      if (!block_candidate(i, whole)) continue;
      split = estimate_split_for(whole, threads, i); /* C/W times the units: enough for every thread */
    }
    c[n++] = (timing){i, split, 1e300, 0, 0, 0};
  }
  /* The scalar generic kernel is timed only where no vector kernel can run
   * the problem: beside one it never wins (3-12x slower), and its one run,
   * which the 2x cut (hopeless) cannot spare it, took a fifth of the tuning
   * time of the VAE decoder's large problems (Intel VM, 1x512x256x256
   * channels-last GN+SiLU: 314 of 1354 ms in 25 runs). */
  n = keep_if_any(c, n, is_vector);
  /* Beyond the last-level cache only streaming-store candidates are timed
   * (where the problem has any): the others are slower there by the memory
   * traffic itself (tensor_beyond_l3), yet these are the problems of 20-50 ms
   * a run that get two runs per candidate, where bursts of load on a shared
   * machine made measure mode pick regular-store kernels (`make run` at
   * 8520088: the generic kernel for 1x128x512x512 GN+SiLU, 1.34x the
   * streaming-store kernel's median when the two alternate, 26.7 against
   * 20.0 ms). It also spares their tuning time. */
  if (tensor_beyond_l3(whole)) n = keep_if_any(c, n, streams_y);
  const int win = n > 0 ? sweeps(d, o, threads, c, n, x, y, gamma, beta) : -1;
  out->kernel = -1;
  out->ns = 1e300;
  if (win >= 0) {
    /* the winner under the other schedules (phases only when threaded); its
     * own time stands as measured above */
    const timing chosen = c[win];
    n = 0;
    c[n] = chosen;
    c[n++].fixed = 1;
    for (int s = 0; s < GNK_SPLIT_COUNT; ++s) {
      const gnk_split other = (gnk_split)s;
      if (other == chosen.split || (other == GNK_SPLIT_PHASES && threads <= 1) ||
          (other == GNK_SPLIT_FUSED && !gnk_registry_get(chosen.kernel)->fns->fused) ||
          (other == GNK_SPLIT_PIPELINE && !big_nchw_groups(whole)))
        continue;
      c[n++] = (timing){chosen.kernel, other, 1e300, 0, 0, 0};
    }
    const timing *t = &c[sweeps(d, o, threads, c, n, x, y, gamma, beta)];
    out->kernel = t->kernel;
    out->split = t->split;
    out->ns = t->t * scale; /* the whole problem's time */
  }
  free(c); free(x); free(y); free(gamma); free(beta);
  out->source = "measured";
  return out->kernel >= 0 ? GNK_OK : gnk_fail(GNK_ERR_NO_KERNEL, "no kernel can run this problem on this CPU");
}

/* ---- the decision cache ---- */
typedef struct entry {
  gnk_desc desc;
  unsigned mode;
  int threads;
  int ready; /* 0 while its builder works */
  decision dec;
  struct entry *next;
} entry;

/* A hash table of chains: a lookup is a hash, one short chain walk and an
 * uncontended mutex (tens of ns), which keeps gnk_group_norm's overhead small. */
#define CACHE_BUCKETS 256
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cache_cond = PTHREAD_COND_INITIALIZER;
static entry *cache[CACHE_BUCKETS];
static size_t cache_count;

static unsigned bucket_of(const gnk_desc *d, unsigned mode, int threads) {
  uint64_t eps;
  memcpy(&eps, &d->eps, sizeof eps);
  const uint64_t v[] = {(uint64_t)d->layout, (uint64_t)d->dtype, (uint64_t)d->param_dtype, (uint64_t)d->n,
                        (uint64_t)d->c, (uint64_t)d->spatial, (uint64_t)d->groups, eps, (uint64_t)d->act,
                        (uint64_t)mode, (uint64_t)threads};
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i) h = (h ^ v[i]) * 1099511628211ull;
  return (unsigned)(h ^ (h >> 32)) % CACHE_BUCKETS;
}

static int same(const entry *e, const gnk_desc *d, unsigned mode, int threads) {
  return e->mode == mode && e->threads == threads && e->desc.layout == d->layout && e->desc.dtype == d->dtype &&
         e->desc.param_dtype == d->param_dtype &&
         e->desc.n == d->n && e->desc.c == d->c && e->desc.spatial == d->spatial && e->desc.groups == d->groups &&
         e->desc.eps == d->eps && e->desc.act == d->act;
}

static void wisdom_key(const gnk_desc *d, int threads, char *buf, size_t size) {
  char s[160];
  gnk_desc_string(d, s, sizeof s);
  snprintf(buf, size, "%s_t%d", s, threads);
}

static gnk_status decide(const gnk_desc *d, unsigned mode, int threads, const gnk_plan_options *o, decision *out) {
  char key[200];
  wisdom_key(d, threads, key, sizeof key);
  int k;
  gnk_split split;
  double ns;
  if (gnk_wisdom_lookup(key, &k, &split, &ns)) {
    if (gnk_registry_get(k)->info.isa <= gnk_cpu_isa() && gnk_block_of(gnk_registry_get(k), d) >= 0) {
      *out = (decision){k, split, "wisdom", ns};
      return GNK_OK;
    }
  }
  if (mode == GNK_WISDOM_ONLY)
    return gnk_fail(GNK_ERR_WISDOM_ONLY_MISS, "no wisdom for %s (GNK_WISDOM_ONLY)", key);
  /* An empty tensor has nothing to time (and timing its no-op runs on
   * 2^31 statistics sets took 40 s; found by tests/fuzz/fuzz_desc): the
   * estimate. */
  if (mode == GNK_MEASURE && d->n * d->c * d->spatial > 0) {
    gnk_desc part;
    if (timed_problem(d, threads, &part)) {
      if (gnk_verbose() && (part.n != d->n || part.spatial != d->spatial))
        fprintf(stderr, "gnk: %s: timed on n=%lld spatial=%lld (measure mode allocates at most %zu bytes a buffer)\n",
                key, (long long)part.n, (long long)part.spatial, measure_bytes());
      gnk_status st = measure(d, &part, o, threads, out);
      if (st == GNK_OK) gnk_wisdom_record(key, out->kernel, out->split, out->ns);
      return st;
    }
    if (gnk_verbose())
      fprintf(stderr, "gnk: %s: no part of it fits the %zu bytes a buffer measure mode allocates; estimated\n", key,
              measure_bytes());
  }
  const int e = estimate_kernel(d);
  if (e < 0) return gnk_fail(GNK_ERR_NO_KERNEL, "no kernel can run %s on this CPU (isa %s)", key, gnk_isa_name(gnk_cpu_isa()));
  *out = (decision){e, estimate_split_for(d, threads, e), "estimate", 0};
  return GNK_OK;
}

static gnk_status decide_cached(const gnk_desc *d, unsigned mode, int threads, const gnk_plan_options *o,
                                decision *out) {
  const unsigned b = bucket_of(d, mode, threads);
  pthread_mutex_lock(&cache_lock);
  for (;;) {
    entry *e = cache[b];
    while (e && !same(e, d, mode, threads)) e = e->next;
    if (!e) break;
    if (e->ready) {
      *out = e->dec;
      out->source = "cache";
      pthread_mutex_unlock(&cache_lock);
      return GNK_OK;
    }
    pthread_cond_wait(&cache_cond, &cache_lock); /* someone is building it */
  }
  entry *e = calloc(1, sizeof *e);
  if (!e) {
    pthread_mutex_unlock(&cache_lock);
    return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory for a plan cache entry");
  }
  e->desc = *d;
  e->mode = mode;
  e->threads = threads;
  e->next = cache[b];
  cache[b] = e;
  ++cache_count;
  pthread_mutex_unlock(&cache_lock);

  gnk_status st = decide(d, mode, threads, o, out);

  pthread_mutex_lock(&cache_lock);
  if (st == GNK_OK) {
    e->dec = *out;
    e->ready = 1;
  } else { /* not cached: unlink so a later call tries again (a fork child has unlinked it already) */
    entry **pp = &cache[b];
    while (*pp && *pp != e) pp = &(*pp)->next;
    if (*pp) {
      *pp = e->next;
      --cache_count;
    }
    free(e);
  }
  pthread_cond_broadcast(&cache_cond);
  pthread_mutex_unlock(&cache_lock);
  return st;
}

void gnk_planner_fork_prepare(void) { pthread_mutex_lock(&cache_lock); }
void gnk_planner_fork_parent(void) { pthread_mutex_unlock(&cache_lock); }

/* In a fork child, entries still being built have no builder (it was another
 * thread of the parent): those waiting for them would wait forever. They are
 * unlinked, so that the child builds its own, and not freed: were the forking
 * thread their builder (a caller's parallel_for that forks), it still holds
 * them (a few bytes each, once per fork). */
void gnk_planner_fork_child(void) {
  for (unsigned b = 0; b < CACHE_BUCKETS; ++b) {
    entry **pp = &cache[b];
    while (*pp) {
      if (!(*pp)->ready) { *pp = (*pp)->next; --cache_count; }
      else pp = &(*pp)->next;
    }
  }
  pthread_cond_init(&cache_cond, NULL); /* its waiters were the parent's threads */
  pthread_mutex_unlock(&cache_lock);
}

size_t gnk_plan_cache_size(void) {
  pthread_mutex_lock(&cache_lock);
  size_t n = cache_count;
  pthread_mutex_unlock(&cache_lock);
  return n;
}

void gnk_plan_cache_clear(void) {
  pthread_mutex_lock(&cache_lock);
  for (unsigned b = 0; b < CACHE_BUCKETS; ++b) {
    entry **pp = &cache[b];
    while (*pp) { /* entries being built stay: their builder owns them */
      entry *e = *pp;
      if (e->ready) { *pp = e->next; free(e); --cache_count; }
      else pp = &e->next;
    }
  }
  pthread_mutex_unlock(&cache_lock);
}

/* ---- public ---- */
gnk_status gnk_plan_options_validate(const gnk_plan_options *o) {
  if (!o) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "plan options are NULL");
  const unsigned mode = o->flags & 0xffu;
  if ((o->flags & ~(0xffu | GNK_NO_CACHE)) || mode > GNK_WISDOM_ONLY)
    return gnk_fail(GNK_ERR_BAD_FLAGS, "plan flags 0x%x: expected GNK_ESTIMATE, GNK_MEASURE or GNK_WISDOM_ONLY, optionally | GNK_NO_CACHE", o->flags);
  if (o->threads < 0 || o->threads > GNK_MAX_THREADS)
    return gnk_fail(GNK_ERR_BAD_THREADS, "threads (%d) must be in 0..%d (0 = default)", o->threads, GNK_MAX_THREADS);
  return GNK_OK;
}

/* The problem as gnk plans and runs it. Channels-first with one position
 * per channel (rank-2 input (N, C), 1x1 images) is laid out exactly as
 * channels-last, x[n][c] either way, and only the channels-last kernels walk
 * it as what it is, one row of C channels per sample: the channels-first
 * ones take every channel as a row of one element (a masked vector per
 * element in the apply). On the Zen 4 VM (one thread, gnk-run, measure mode,
 * medians) channels-last ran these in 0.33-0.54 of the channels-first time:
 * 256x512 g32 GN 511 against 798 us, 64x1280 g32 GN+SiLU 258 against 731,
 * 1024x256 g8 962 against 1151, 8x4096 g1 86 against 161, 32x2048 g32
 * GN+SiLU 182 against 559, 1x65536 g8 173 against 335. The plan cache and
 * wisdom key are the channels-last problem's; gnk_plan_desc still reports
 * the caller's descriptor. */
static gnk_desc as_run(const gnk_desc *d) {
  gnk_desc r = *d;
  if (r.layout == GNK_LAYOUT_NCHW && r.spatial == 1) r.layout = GNK_LAYOUT_NHWC;
  return r;
}

gnk_status gnk_plan_create(gnk_plan **plan, const gnk_desc *d, unsigned flags) {
  gnk_plan_options o = {flags, 0, NULL, NULL};
  return gnk_plan_create_ex(plan, d, &o);
}

gnk_status gnk_plan_create_ex(gnk_plan **plan, const gnk_desc *d, const gnk_plan_options *o) {
  if (!plan) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "plan output pointer is NULL");
  *plan = NULL;
  if (!o) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "plan options are NULL");
  gnk_status st = gnk_desc_validate(d);
  if (st != GNK_OK) return st;
  if ((st = gnk_plan_options_validate(o)) != GNK_OK) return st;
  const unsigned mode = o->flags & 0xffu;
  if (gnk_act_general_only(d->act)) {
    gnk_general *g = NULL;
    st = gnk_general_from_desc(&g, d);
    return st != GNK_OK ? st : gnk_plan_wrap_general(plan, g, d, o);
  }
  const int threads = o->threads ? o->threads : gnk_default_threads();
  const gnk_desc run = as_run(d);
  decision dec;
  const double t0 = gnk_now_ns();
  st = (o->flags & GNK_NO_CACHE) ? decide(&run, mode, threads, o, &dec) : decide_cached(&run, mode, threads, o, &dec);
  if (st != GNK_OK) return st;
  gnk_plan *p = calloc(1, sizeof *p);
  if (!p) return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory for a plan");
  p->desc = *d;
  p->run = run;
  p->cfg = (gnk_exec_cfg){gnk_registry_get(dec.kernel), dec.split, threads, o->parallel_for, o->parallel_for_ctx};
  p->source = dec.source;
  p->ns = dec.ns;
  if (gnk_verbose()) {
    char s[160];
    gnk_desc_string(d, s, sizeof s);
    fprintf(stderr, "gnk: plan %s threads=%d -> %s split=%s", s, threads, p->cfg.kernel->info.name,
            gnk_split_name(dec.split));
    if (run.layout != d->layout) fprintf(stderr, " (one position per channel: run channels-last)");
    const int64_t block = gnk_block_of(p->cfg.kernel, &run);
    if (block > 0) fprintf(stderr, " blocks=%lldx%lld", (long long)(run.c / block), (long long)block);
    fprintf(stderr, " [%s", dec.source);
    if (dec.ns > 0) fprintf(stderr, ", kernel %.1f us", dec.ns / 1e3);
    fprintf(stderr, ", planning %.1f us]\n", (gnk_now_ns() - t0) / 1e3);
  }
  *plan = p;
  return GNK_OK;
}

/* One call: the cached GNK_ESTIMATE (or wisdom) decision for d with the
 * default thread count, then the kernel. No allocation once cached. */
gnk_status gnk_group_norm(const gnk_desc *d, const void *x, void *y, const void *gamma, const void *beta) {
  gnk_status st = gnk_desc_validate(d);
  if (st != GNK_OK) return st;
  if (gnk_act_general_only(d->act)) {
    gnk_plan *p = NULL;
    st = gnk_plan_create(&p, d, GNK_ESTIMATE);
    if (st == GNK_OK) st = gnk_execute(p, x, y, gamma, beta);
    gnk_plan_destroy(p);
    return st;
  }
  const int threads = gnk_default_threads();
  const gnk_desc run = as_run(d);
  decision dec;
  st = decide_cached(&run, GNK_ESTIMATE, threads, NULL, &dec);
  if (st != GNK_OK) return st;
  const gnk_exec_cfg cfg = {gnk_registry_get(dec.kernel), dec.split, threads, NULL, NULL};
  return gnk_run(&cfg, &run, x, y, gamma, beta, NULL, NULL);
}

gnk_status gnk_plan_wrap_general(gnk_plan **plan, gnk_general *g, const gnk_desc *approx,
                                 const gnk_plan_options *o) {
  *plan = NULL; /* callers have validated o (gnk_plan_options_validate) */
  gnk_plan *p = calloc(1, sizeof *p);
  if (!p) {
    gnk_general_free(g);
    return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory for a plan");
  }
  p->desc = p->run = *approx;
  p->cfg = (gnk_exec_cfg){NULL, GNK_SPLIT_UNITS, o->threads ? o->threads : gnk_default_threads(), o->parallel_for,
                          o->parallel_for_ctx};
  p->source = "general";
  p->general = g;
  if (gnk_verbose()) fprintf(stderr, "gnk: plan threads=%d -> %s [general]\n", p->cfg.threads, gnk_general_name(g));
  *plan = p;
  return GNK_OK;
}

const gnk_general *gnk_plan_general(const gnk_plan *p, const gnk_exec_cfg **cfg) {
  if (cfg) *cfg = p ? &p->cfg : NULL;
  return p ? p->general : NULL;
}

const gnk_desc *gnk_plan_run_desc(const gnk_plan *p) { return p ? &p->run : NULL; }

void gnk_plan_destroy(gnk_plan *plan) {
  if (plan) gnk_general_free(plan->general);
  free(plan);
}
const char *gnk_plan_kernel_name(const gnk_plan *p) {
  return !p ? NULL : p->general ? gnk_general_name(p->general) : p->cfg.kernel->info.name;
}
const char *gnk_plan_source(const gnk_plan *p) { return p ? p->source : NULL; }
const char *gnk_plan_schedule(const gnk_plan *p) {
  return !p ? NULL : p->general ? "general" : gnk_split_name(p->cfg.split);
}
int gnk_plan_threads(const gnk_plan *p) { return p ? p->cfg.threads : 0; }
const gnk_desc *gnk_plan_desc(const gnk_plan *p) { return p ? &p->desc : NULL; }

gnk_status gnk_execute_stats(const gnk_plan *p, const void *x, void *y, const void *gamma, const void *beta,
                             float *mean, float *rstd) {
  if (!p) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "plan is NULL");
  if (p->general) return gnk_general_run(p->general, &p->cfg, x, y, gamma, beta, NULL, mean, rstd);
  return gnk_run(&p->cfg, &p->run, x, y, gamma, beta, mean, rstd);
}

gnk_status gnk_execute(const gnk_plan *p, const void *x, void *y, const void *gamma, const void *beta) {
  return gnk_execute_stats(p, x, y, gamma, beta, NULL, NULL);
}

gnk_status gnk_kernel_run(int index, const gnk_desc *d, const void *x, void *y, const void *gamma,
                          const void *beta) {
  gnk_status st = gnk_desc_validate(d);
  if (st != GNK_OK) return st;
  const gnk_kernel *k = gnk_registry_get(index);
  if (!k) return gnk_fail(GNK_ERR_NO_KERNEL, "kernel index %d outside 0..%d", index, gnk_registry_count() - 1);
  if (gnk_block_of(k, d) < 0) return gnk_fail(GNK_ERR_NO_KERNEL, "kernel %s cannot run this problem", k->info.name);
  if (k->info.isa > gnk_cpu_isa())
    return gnk_fail(GNK_ERR_NO_KERNEL, "kernel %s needs %s; this CPU (after GNK_MAX_ISA) has %s", k->info.name,
                    gnk_isa_name(k->info.isa), gnk_isa_name(gnk_cpu_isa()));
  gnk_exec_cfg cfg = {k, GNK_SPLIT_UNITS, 1, NULL, NULL};
  return gnk_run(&cfg, d, x, y, gamma, beta, NULL, NULL);
}
