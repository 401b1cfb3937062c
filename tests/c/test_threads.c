/*
 * test_threads.c: threading never changes a bit of the result (gnk_kernel_abi.h:
 * the chunking and merge order depend on the problem only), whether gnk's own
 * pool or a caller's parallel_for runs the work; the plan cache builds a cold
 * key once under contention (single flight); one plan may be executed from
 * many threads at once.
 * Criterion assertions are made on the test's own thread only: worker threads
 * record what they saw and the test checks it after joining them.
 */
#include "test_util.h"
#include "gnk_internal.h" /* gnk_pool_parallel_for, gnk_pool_warm */

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(threads, .fini = leak_check);

/* N*G small (one group, many chunks: the phases split) and large (units split). */
/* The first two exceed GNK_SERIAL_BYTES (1 MiB), so gnk's own pool really runs them
 * threaded (phases, then units); the others also go through caller pools. The
 * last has NCHW groups over 1 MiB, which the estimate runs fused (planner.c). */
static const int64_t SHAPES[][4] = {/* n, c, s, g */ {1, 8, 70001, 2}, {2, 32, 8200, 32}, {1, 4, 50000, 1}, {4, 64, 500, 32}, {3, 320, 61, 32}, {2, 4, 140001, 2}};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

typedef struct problem {
  gnk_desc d;
  float *x, *gamma, *beta;
} problem;

static problem make_problem(gnk_layout layout, size_t shape, uint64_t seed) {
  problem p;
  p.d = make_desc(layout, GNK_ACT_SILU, SHAPES[shape][0], SHAPES[shape][1], SHAPES[shape][2], SHAPES[shape][3]);
  const int64_t total = desc_numel(&p.d);
  p.x = malloc((size_t)total * sizeof(float));
  p.gamma = malloc((size_t)p.d.c * sizeof(float));
  p.beta = malloc((size_t)p.d.c * sizeof(float));
  cr_assert(p.x && p.gamma && p.beta);
  rng r;
  rng_seed(&r, seed);
  fill_normal(&r, p.x, total, 0.7, 2.0);
  fill_uniform(&r, p.gamma, p.d.c, 0.5, 1.5);
  fill_uniform(&r, p.beta, p.d.c, -0.5, 0.5);
  return p;
}

static void free_problem(problem *p) {
  free(p->x);
  free(p->gamma);
  free(p->beta);
}

/* Output and statistics of one planned execution. */
typedef struct result {
  tbuf y, mean, rstd;
  char kernel[128];
} result;

static result run_plan(const problem *p, const gnk_plan_options *o) {
  result r;
  r.y = tbuf_new(desc_numel(&p->d), 0);
  r.mean = tbuf_new(p->d.n * p->d.groups, 0);
  r.rstd = tbuf_new(p->d.n * p->d.groups, 0);
  gnk_plan *plan = NULL;
  cr_assert_eq(gnk_plan_create_ex(&plan, &p->d, o), GNK_OK, "%s threads=%d: %s", desc_str(&p->d), o->threads,
               gnk_last_error());
  snprintf(r.kernel, sizeof r.kernel, "%s", gnk_plan_kernel_name(plan));
  cr_assert_eq(gnk_execute_stats(plan, p->x, r.y.p, p->gamma, p->beta, r.mean.p, r.rstd.p), GNK_OK, "%s",
               gnk_last_error());
  cr_assert(tbuf_guards_ok(&r.y) && tbuf_guards_ok(&r.mean) && tbuf_guards_ok(&r.rstd));
  gnk_plan_destroy(plan);
  return r;
}

static void free_result(result *r) {
  tbuf_free(&r->y);
  tbuf_free(&r->mean);
  tbuf_free(&r->rstd);
}

static void assert_same_bits(const result *a, const result *b, const char *what, const gnk_desc *d) {
  cr_assert_str_eq(a->kernel, b->kernel, "%s: %s picked another kernel", desc_str(d), what);
  cr_assert(!memcmp(a->y.p, b->y.p, (size_t)a->y.count * sizeof(float)), "%s: y differs with %s", desc_str(d), what);
  cr_assert(!memcmp(a->mean.p, b->mean.p, (size_t)a->mean.count * sizeof(float)) &&
                !memcmp(a->rstd.p, b->rstd.p, (size_t)a->rstd.count * sizeof(float)),
            "%s: statistics differ with %s", desc_str(d), what);
}

Test(threads, bitwise_identical_across_thread_counts) {
  static const int counts[] = {2, 3, 4, 8};
  for (int l = 0; l < 2; ++l)
    for (size_t s = 0; s < NSHAPES; ++s) {
      problem p = make_problem((gnk_layout)l, s, 10 + s);
      gnk_plan_options o = {GNK_ESTIMATE, 1, NULL, NULL};
      result one = run_plan(&p, &o);
      char msg[512];
      cr_assert_eq(ref_check_all(&p.d, p.x, p.gamma, p.beta, one.y.p, msg, sizeof msg), 0, "%s", msg);
      for (size_t i = 0; i < sizeof counts / sizeof counts[0]; ++i) {
        o.threads = counts[i];
        result t = run_plan(&p, &o);
        char what[32];
        snprintf(what, sizeof what, "threads=%d", counts[i]);
        assert_same_bits(&one, &t, what, &p.d);
        free_result(&t);
      }
      free_result(&one);
      free_problem(&p);
    }
}

/* ---- the fused and pipeline schedules: the statistics of unit u+1 (NCHW group, NHWC sample) inside the
 * apply loop of u, or between its chunks ---- */
/* NCHW shapes for it: rows of whole loop steps in one chunk (8x8-like, and S
 * = 192 with D = 8), chunks that start mid-row and rows that cross chunk
 * ends (S = 4160), rows that are not whole steps (S = 100: the kernel falls
 * back to apply then statistics), groups over 1 MiB (the estimate's
 * choice there), one position per channel, and groups of one chunk and one
 * more value. */
static const int64_t FUSED_SHAPES[][4] = {{3, 320, 64, 32}, {2, 64, 192, 8}, {1, 16, 4160, 4}, {2, 8, 100, 2}, {1, 4, 147456, 2},
                                          {4, 64, 1, 8}, {2, 16, 4097, 4}};
/* NHWC: the next sample's rows (512-row items, a remainder of rows below the
 * 4-row step), and the fallbacks: over one channel tile, channels not whole
 * vectors, items of one row (piece_exact: samples of one position, and a
 * sample's last item of one row merged with a 512-row one). */
static const int64_t FUSED_SHAPES_NHWC[][4] = {{2, 320, 64, 32}, {3, 64, 37, 8}, {2, 48, 600, 4}, {2, 1280, 16, 32}, {2, 20, 50, 4},
                                               {4, 320, 1, 32}, {2, 64, 513, 8}};
_Static_assert(sizeof FUSED_SHAPES == sizeof FUSED_SHAPES_NHWC, "one shape list per layout, same length");

/* y of kernel k on d under split/threads, into a fresh guarded buffer. */
static tbuf run_split(const gnk_kernel *k, const gnk_desc *d, const tbuf *x, const float *gamma, const float *beta,
                      gnk_split split, int threads, int y_offset) {
  tbuf y = tbuf_new_t(d->dtype, desc_numel(d), y_offset);
  const gnk_exec_cfg cfg = {k, split, threads, NULL, NULL};
  cr_assert_eq(gnk_run(&cfg, d, x->v, y.v, gamma, beta, NULL, NULL), GNK_OK, "%s: %s", k->info.name, gnk_last_error());
  cr_assert(tbuf_guards_ok(&y), "%s %s split=%s: wrote outside y", k->info.name, desc_str(d), gnk_split_name(split));
  return y;
}

/* x uniform in [lo, hi) (d's dtype), gamma in [0.5, 1.5), beta in [-0.5, 0.5), from seed. */
typedef struct inputs {
  tbuf x;
  float *gamma, *beta;
} inputs;

static inputs make_inputs(const gnk_desc *d, uint64_t seed, double lo, double hi) {
  inputs in = {tbuf_new_t(d->dtype, desc_numel(d), 0), malloc((size_t)d->c * sizeof(float)),
               malloc((size_t)d->c * sizeof(float))};
  cr_assert(in.gamma && in.beta);
  rng r;
  rng_seed(&r, seed);
  fill_uniform_t(&r, d->dtype, in.x.v, desc_numel(d), lo, hi);
  fill_uniform(&r, in.gamma, d->c, 0.5, 1.5);
  fill_uniform(&r, in.beta, d->c, -0.5, 0.5);
  return in;
}

static void free_inputs(inputs *in) {
  tbuf_free(&in->x);
  free(in->gamma);
  free(in->beta);
}

Test(threads, fused_schedule_bitwise_identical, .timeout = 120) {
  int kernels_run = 0;
  for (int l = 0; l < 2; ++l)
  for (size_t s = 0; s < sizeof FUSED_SHAPES / sizeof FUSED_SHAPES[0]; ++s)
    for (int data = 0; data < 2; ++data) /* 0: means within a std (folded rows), 1: large means (x - sub) */
      for (int y_off = 0; y_off < 2; ++y_off) { /* 1: y misaligned, streaming kernels fall back */
        if (s == 4 && (data || y_off)) continue; /* the big shape once */
        for (int ki = 0; ki < gnk_registry_count(); ++ki) {
          const gnk_kernel *k = gnk_registry_get(ki);
          const gnk_layout layout = (gnk_layout)l;
          if (k->info.layout != layout || !gnk_kernel_supported(ki)) continue;
          const int64_t *sh = layout == GNK_LAYOUT_NCHW ? FUSED_SHAPES[s] : FUSED_SHAPES_NHWC[s];
          gnk_desc d = make_desc(layout, k->info.act, sh[0], sh[1], sh[2], sh[3]);
          d.dtype = k->info.dtype;
          if (!gnk_kernel_matches(k, &d)) continue;
          const int64_t total = desc_numel(&d);
          inputs in = make_inputs(&d, 70 + s * 8 + (uint64_t)data * 2 + (uint64_t)y_off, data ? 40.0 : -2.0, data ? 44.0 : 3.0); /* data 1: large means (x - sub) */
          const tbuf x = in.x;
          const float *gamma = in.gamma, *beta = in.beta;
          tbuf units = run_split(k, &d, &x, gamma, beta, GNK_SPLIT_UNITS, 1, y_off);
          char msg[512];
          cr_assert_eq(ref_check_all(&d, x.v, gamma, beta, units.v, msg, sizeof msg), 0, "%s: %s", k->info.name, msg);
          static const int threads[] = {1, 3};
          static const gnk_split splits[] = {GNK_SPLIT_FUSED, GNK_SPLIT_PIPELINE};
          for (int sp = 0; sp < 2; ++sp)
            for (int t = 0; t < 2; ++t) {
              tbuf fused = run_split(k, &d, &x, gamma, beta, splits[sp], threads[t], y_off);
              cr_assert(!memcmp(units.v, fused.v, (size_t)total * dtype_size(d.dtype)),
                        "%s %s (data %d, y offset %d): the %s schedule on %d thread(s) changed bits", k->info.name,
                        desc_str(&d), data, y_off, gnk_split_name(splits[sp]), threads[t]);
              tbuf_free(&fused);
            }
          tbuf_free(&units);
          free_inputs(&in);
          ++kernels_run;
        }
      }
  cr_assert_gt(kernels_run, 0, "no kernel ran");
}

/* ---- streaming-store kernels on a y off its line: the same bits as on an aligned y ---- */
/* A y 16 bytes past a 64-byte line is what malloc and numpy give. The
 * channels-first fused loop then runs with its apply shifted to y's vector
 * alignment (fused_unaligned: chunks inside one row, S = 4096 here), the
 * channels-last apply on rows shifted to a cache line (apply_item_shifted;
 * half a line off, 8 floats, is the AVX2 case that was 4.4x slower before).
 * Every offset, split and thread count must give the bits of the aligned
 * y, which match the reference, and write nothing outside y. */
Test(threads, streaming_stores_on_misaligned_y_same_bits, .timeout = 240) {
  static const int64_t shapes[2][4] = {{2, 256, 4096, 32}, {2, 256, 64, 32}}; /* NCHW, NHWC */
  static const int offsets[] = {1, 4, 8, 12};
  static const struct {
    gnk_split split;
    int threads;
  } runs[] = {{GNK_SPLIT_UNITS, 1}, {GNK_SPLIT_FUSED, 1}, {GNK_SPLIT_FUSED, 2}, {GNK_SPLIT_PHASES, 2}};
  int kernels_run = 0;
  for (int ki = 0; ki < gnk_registry_count(); ++ki) {
    const gnk_kernel *k = gnk_registry_get(ki);
    if (!strstr(k->info.name, "_nt") || !gnk_kernel_supported(ki)) continue;
    const int64_t *sh = shapes[k->info.layout == GNK_LAYOUT_NHWC];
    gnk_desc d = make_desc(k->info.layout, k->info.act, sh[0], sh[1], sh[2], sh[3]);
    if (!gnk_kernel_matches(k, &d)) continue;
    for (int data = 0; data < 2; ++data) { /* 0: folded rows, 1: large means (x - sub) */
      inputs in = make_inputs(&d, 400 + (uint64_t)ki * 2 + (uint64_t)data, data ? 40.0 : -2.0, data ? 44.0 : 3.0);
      tbuf want = run_split(k, &d, &in.x, in.gamma, in.beta, GNK_SPLIT_UNITS, 1, 0);
      char msg[512];
      cr_assert_eq(ref_check_all(&d, in.x.v, in.gamma, in.beta, want.v, msg, sizeof msg), 0, "%s: %s", k->info.name, msg);
      for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; ++o)
        for (size_t r = 0; r < sizeof runs / sizeof runs[0]; ++r) {
          tbuf y = run_split(k, &d, &in.x, in.gamma, in.beta, runs[r].split, runs[r].threads, offsets[o]);
          cr_assert(!memcmp(want.v, y.v, (size_t)desc_numel(&d) * dtype_size(d.dtype)),
                    "%s %s (data %d): y %d floats past a line, %s split on %d thread(s), changed bits", k->info.name,
                    desc_str(&d), data, offsets[o], gnk_split_name(runs[r].split), runs[r].threads);
          tbuf_free(&y);
        }
      tbuf_free(&want);
      free_inputs(&in);
    }
    ++kernels_run;
  }
  cr_assert_gt(kernels_run, 0, "no streaming-store kernel matched");
}

/* ---- channel blocks: NHWC kernels baked for W channels run 2W-channel problems block by block ---- */
/* Every split and thread count gives the bits of the units split on one
 * thread (units are (sample, block) pairs here), and those match the
 * reference. Shapes: 3 samples of 37 rows (fused over blocks and samples),
 * and 2 samples of 520 rows (two row chunks per block) for W <= 160. */
Test(threads, channel_blocks_bitwise_identical, .timeout = 240) {
  int kernels_run = 0;
  for (int ki = 0; ki < gnk_registry_count(); ++ki) {
    const gnk_kernel *k = gnk_registry_get(ki);
    if (k->info.layout != GNK_LAYOUT_NHWC || k->info.groups == 0 || !gnk_kernel_supported(ki)) continue;
    for (int sh = 0; sh < 2; ++sh) {
      if (sh == 1 && k->info.channels > 160) continue;
      gnk_desc d = make_desc(GNK_LAYOUT_NHWC, k->info.act, sh ? 2 : 3, 2 * k->info.channels, sh ? 520 : 37,
                             2 * k->info.groups);
      d.dtype = k->info.dtype;
      cr_assert_eq(gnk_block_of(k, &d), k->info.channels, "%s: %s is not run in blocks", k->info.name, desc_str(&d));
      const int64_t total = desc_numel(&d);
      inputs in = make_inputs(&d, 500 + (uint64_t)ki * 2 + (uint64_t)sh, sh ? 40.0 : -2.0, sh ? 44.0 : 3.0); /* sh 1: large means (x - sub) */
      const tbuf x = in.x;
      const float *gamma = in.gamma, *beta = in.beta;
      tbuf units = run_split(k, &d, &x, gamma, beta, GNK_SPLIT_UNITS, 1, 0);
      char msg[512];
      cr_assert_eq(ref_check_all(&d, x.v, gamma, beta, units.v, msg, sizeof msg), 0, "%s: %s", k->info.name, msg);
      static const struct { gnk_split split; int threads; } runs[] = {
          {GNK_SPLIT_FUSED, 1}, {GNK_SPLIT_FUSED, 3}, {GNK_SPLIT_UNITS, 2}, {GNK_SPLIT_PHASES, 3},
          {GNK_SPLIT_PIPELINE, 1}, {GNK_SPLIT_PIPELINE, 3}};
      for (size_t i = 0; i < sizeof runs / sizeof runs[0]; ++i) {
        tbuf y = run_split(k, &d, &x, gamma, beta, runs[i].split, runs[i].threads, 0);
        cr_assert(!memcmp(units.v, y.v, (size_t)total * dtype_size(d.dtype)),
                  "%s %s in blocks: split %s on %d thread(s) changed bits", k->info.name, desc_str(&d),
                  gnk_split_name(runs[i].split), runs[i].threads);
        tbuf_free(&y);
      }
      tbuf_free(&units);
      free_inputs(&in);
      ++kernels_run;
    }
  }
  cr_assert_gt(kernels_run, 0, "no kernel ran");
}

/* ---- units over half of L2: passes alternate direction (execute.c run.backward) ---- */
/* With L2 taken as 16 KiB (gnk_l2_unit_bytes() 8 KiB) every unit of these
 * shapes walks backwards on the pass after the one that read it forwards:
 * three units of two chunks each (NCHW groups of ~5000 values, NHWC samples
 * of 520 rows), so the fused schedule runs backwards, forwards, then the last
 * apply backwards, and the phases split on 3 threads applies each part (one
 * unit) backwards. Every kernel (NHWC: generic ones and those baked for at
 * most 512 channels, for time) must give the bits of the forward walk (the
 * units split on one thread with the detected L2, 2 MiB or so; the shapes
 * then stay under its half), which match the reference. */
static void reverse_for(void *pool, gnk_task_fn task, void *ctx, int64_t count); /* below, caller parallel_for */

Test(threads, backward_walk_bitwise_identical, .timeout = 240) {
  int kernels_run = 0;
  for (int ki = 0; ki < gnk_registry_count(); ++ki) {
    const gnk_kernel *k = gnk_registry_get(ki);
    if (!gnk_kernel_supported(ki) || (k->info.layout == GNK_LAYOUT_NHWC && k->info.channels > 512)) continue;
    const int64_t C = k->info.channels ? k->info.channels : 8, G = k->info.groups ? k->info.groups : 4, D = C / G;
    const int64_t S = k->info.layout == GNK_LAYOUT_NCHW ? 5000 / D + 1 : 520;
    gnk_desc d = make_desc(k->info.layout, k->info.act, 3, C, S, G);
    d.dtype = k->info.dtype;
    if (!gnk_kernel_matches(k, &d)) continue;
    const int64_t total = desc_numel(&d);
    const size_t es = dtype_size(d.dtype);
    const size_t unit_bytes = (size_t)(k->info.layout == GNK_LAYOUT_NCHW ? D * S : C * S) * es;
    gnk_kargs chunks;
    gnk_chunking(k->info.layout, k->info.layout == GNK_LAYOUT_NCHW ? D * S : S, &chunks); /* the executor's */
    const int64_t unit_items = chunks.nchunk;
    cr_assert_eq(unit_items, 2, "%s %s: the shape has %lld chunks per unit, want 2", k->info.name, desc_str(&d),
                 (long long)unit_items);
    gnk_cpu_set_caches((size_t)64 << 20, 0); /* the forward walk: every unit under half of L2 */
    cr_assert(!gnk_walk_backward(GNK_SPLIT_UNITS, unit_items, unit_bytes), "%s: walks backwards with a 64 MiB L2", desc_str(&d));
    inputs in = make_inputs(&d, 1300 + (uint64_t)ki, -2.0, 3.0);
    const tbuf x = in.x;
    const float *gamma = in.gamma, *beta = in.beta;
    tbuf fwd = run_split(k, &d, &x, gamma, beta, GNK_SPLIT_UNITS, 1, 0);
    char msg[512];
    cr_assert_eq(ref_check_all(&d, x.v, gamma, beta, fwd.v, msg, sizeof msg), 0, "%s: %s", k->info.name, msg);
    gnk_cpu_set_caches((size_t)16 << 10, 0);
    cr_assert(gnk_walk_backward(GNK_SPLIT_UNITS, unit_items, unit_bytes) &&
                  gnk_walk_backward(GNK_SPLIT_FUSED, unit_items, unit_bytes),
              "%s: units of %zu bytes do not walk backwards with a 16 KiB L2", desc_str(&d), unit_bytes);
    /* phases on 3 threads: 2 items a part, each part one unit; through a caller parallel_for, which
     * gnk always uses (its own pool runs tensors under 1 MiB on one thread, as units, when it is cold) */
    cr_assert(gnk_walk_backward(GNK_SPLIT_PHASES, 2, unit_bytes), "%s: phases parts do not walk backwards", desc_str(&d));
    static const struct { gnk_split split; int threads; int caller; } runs[] = {
        {GNK_SPLIT_UNITS, 1, 0}, {GNK_SPLIT_FUSED, 1, 0}, {GNK_SPLIT_FUSED, 2, 0}, {GNK_SPLIT_UNITS, 3, 0},
        {GNK_SPLIT_PIPELINE, 1, 0}, {GNK_SPLIT_PHASES, 3, 1}, {GNK_SPLIT_PHASES, 3, 0}};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; ++i) {
      tbuf y = tbuf_new_t(d.dtype, total, 0);
      const gnk_exec_cfg cfg = {k, runs[i].split, runs[i].threads, runs[i].caller ? reverse_for : NULL, NULL};
      cr_assert_eq(gnk_run(&cfg, &d, x.v, y.v, gamma, beta, NULL, NULL), GNK_OK, "%s: %s", k->info.name, gnk_last_error());
      cr_assert(tbuf_guards_ok(&y), "%s %s: wrote outside y", k->info.name, desc_str(&d));
      cr_assert(!memcmp(fwd.v, y.v, (size_t)total * es),
                "%s %s: split %s on %d thread(s)%s walking backwards changed bits", k->info.name, desc_str(&d),
                gnk_split_name(runs[i].split), runs[i].threads, runs[i].caller ? " (caller parallel_for)" : "");
      tbuf_free(&y);
    }
    tbuf_free(&fwd);
    free_inputs(&in);
    ++kernels_run;
  }
  cr_assert_gt(kernels_run, 0, "no kernel ran");
  cr_log_info("backward_walk_bitwise_identical: %d kernels", kernels_run);
}

/* ---- tensors over gnk_stream_bytes(): the NHWC apply prefetches x rows ahead (gnk_kargs.pf_rows) ---- */
/* The prefetches change no value; this runs that path (the row-order apply
 * of the specialized g32c128 kernels; the generic and block-order ones run
 * alongside) against the reference, on 3 threads. */
Test(threads, streamed_nhwc_prefetch_path, .timeout = 240) {
  gnk_desc d = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_SILU, 1, 128, 32800, 32); /* 16.8 MB > 16 MiB */
  const int64_t total = desc_numel(&d);
  cr_assert_gt((size_t)total * sizeof(float), gnk_stream_bytes()); /* at most 16 MiB on every machine */
  inputs in = make_inputs(&d, 4242, -2.0, 3.0);
  const tbuf x = in.x;
  const float *gamma = in.gamma, *beta = in.beta;
  int kernels_run = 0;
  for (int ki = 0; ki < gnk_registry_count(); ++ki) {
    const gnk_kernel *k = gnk_registry_get(ki);
    if (!gnk_kernel_supported(ki) || k->info.dtype != GNK_DTYPE_F32 || !gnk_kernel_matches(k, &d)) continue;
    tbuf y = run_split(k, &d, &x, gamma, beta, GNK_SPLIT_PHASES, 3, 0);
    char msg[512];
    cr_assert_eq(ref_check_all(&d, x.v, gamma, beta, y.v, msg, sizeof msg), 0, "%s: %s", k->info.name, msg);
    tbuf_free(&y);
    kernels_run += strstr(k->info.name, "_row") != NULL;
  }
  cr_assert_gt(kernels_run, 0, "no row-order kernel ran (is g32c128 channels-last SiLU still in the specs?)");
  free_inputs(&in);
}

/* The same prefetch path on small tensors, every split: with the L3 taken as
 * 64 KiB, gnk_stream_bytes() is 32 KiB, so these tensors "stream" and the
 * NHWC statistics (stats and the fused loop) and apply prefetch rows ahead
 * (pf_rows 16 rows at 128 channels, 4 at 512, 10 at 200). Prefetches change
 * no value: every split and thread count, with the apply's prefetch into L1
 * and into L2 (gnk_kargs.pf_l1) in turn, must give the bits of the units
 * split on one thread, which match the reference. 700 rows: two row chunks,
 * the second shorter than the prefetch distance at its end. */
Test(threads, streamed_nhwc_prefetch_all_splits, .timeout = 240) {
  static const int64_t shapes[][4] = {{2, 128, 700, 32}, {2, 512, 700, 32}, {3, 200, 700, 8}};
  gnk_cpu_set_caches(0, (size_t)64 << 10);
  cr_assert_eq(gnk_stream_bytes(), (size_t)32 << 10);
  int kernels_run = 0, row_kernels = 0, block_kernels = 0;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
    for (int ki = 0; ki < gnk_registry_count(); ++ki) {
      const gnk_kernel *k = gnk_registry_get(ki);
      if (k->info.layout != GNK_LAYOUT_NHWC || !gnk_kernel_supported(ki)) continue;
      gnk_desc d = make_desc(GNK_LAYOUT_NHWC, k->info.act, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]);
      d.dtype = k->info.dtype;
      if (gnk_block_of(k, &d) < 0) continue; /* its own problem (0) or channel blocks of it */
      const int64_t total = desc_numel(&d);
      inputs in = make_inputs(&d, 900 + s, -2.0, 3.0);
      const tbuf x = in.x;
      const float *gamma = in.gamma, *beta = in.beta;
      tbuf units = run_split(k, &d, &x, gamma, beta, GNK_SPLIT_UNITS, 1, 0);
      char msg[512];
      cr_assert_eq(ref_check_all(&d, x.v, gamma, beta, units.v, msg, sizeof msg), 0, "%s: %s", k->info.name, msg);
      for (int sp = 0; sp < GNK_SPLIT_COUNT; ++sp)
        for (int t = 1; t <= 3; t += 2)
          for (int l1 = 0; l1 < 2; ++l1) {
            gnk_cpu_set_apply_pf_l1(l1);
            tbuf y = run_split(k, &d, &x, gamma, beta, (gnk_split)sp, t, 0);
            cr_assert(!memcmp(units.v, y.v, (size_t)total * dtype_size(d.dtype)),
                      "%s %s streamed: split %s on %d thread(s), apply prefetch into L%d, changed bits", k->info.name,
                      desc_str(&d), gnk_split_name((gnk_split)sp), t, l1 ? 1 : 2);
            tbuf_free(&y);
          }
      tbuf_free(&units);
      free_inputs(&in);
      ++kernels_run;
      row_kernels += strstr(k->info.name, "_row") != NULL;
      block_kernels += gnk_block_of(k, &d) > 0;
    }
  cr_assert_gt(row_kernels, 0, "no row-order kernel ran");
  cr_log_info("streamed_nhwc_prefetch_all_splits: %d kernels (%d row-order, %d in channel blocks)", kernels_run, row_kernels,
              block_kernels);
}

/* ---- warm pool: problems under GNK_SERIAL_BYTES go threaded right after a job ---- */
static void noop_task(void *ctx, int64_t i) { (void)ctx; (void)i; }

Test(threads, warm_pool_small_problems_bitwise_identical) {
  /* after a 1 ms sleep the workers have stopped spinning: cold */
  gnk_pool_parallel_for(2, noop_task, NULL, 2);
  struct timespec ms = {0, 1000000};
  nanosleep(&ms, NULL);
  cr_assert_eq(gnk_pool_warm(), 0, "the pool reads warm 1 ms after its last job");
  for (int l = 0; l < 2; ++l) {
    /* 4x64x500: 512 KB, between GNK_TINY_BYTES and GNK_SERIAL_BYTES */
    problem p = make_problem((gnk_layout)l, 3, 40 + (uint64_t)l);
    gnk_plan_options o1 = {GNK_ESTIMATE, 1, NULL, NULL}, o2 = {GNK_ESTIMATE, 2, NULL, NULL};
    result one = run_plan(&p, &o1);
    gnk_plan *plan = NULL;
    cr_assert_eq(gnk_plan_create_ex(&plan, &p.d, &o2), GNK_OK, "%s", gnk_last_error());
    tbuf y = tbuf_new(desc_numel(&p.d), 0);
    int warm = 0;
    for (int k = 0; k < 40; ++k) {
      gnk_pool_parallel_for(2, noop_task, NULL, 2); /* a job just ended: workers spin */
      warm += gnk_pool_warm();
      memset(y.p, 0, (size_t)y.count * sizeof(float));
      cr_assert_eq(gnk_execute(plan, p.x, y.p, p.gamma, p.beta), GNK_OK, "%s", gnk_last_error());
      cr_assert(tbuf_guards_ok(&y));
      cr_assert(!memcmp(y.p, one.y.p, (size_t)y.count * sizeof(float)), "%s: y differs on a warm pool (try %d)",
                desc_str(&p.d), k);
    }
    /* right after a job the pool must read warm, except when this process was
     * descheduled for over 40 us between the two calls every single time */
    cr_assert_gt(warm, 0, "the pool never read warm right after a job");
    tbuf_free(&y);
    gnk_plan_destroy(plan);
    free_result(&one);
    free_problem(&p);
  }
}

/* ---- caller-supplied parallel_for ---- */
static atomic_int calls;

static void serial_for(void *pool, gnk_task_fn task, void *ctx, int64_t count) {
  (void)pool;
  atomic_fetch_add(&calls, 1);
  for (int64_t i = 0; i < count; ++i) task(ctx, i);
}

static void reverse_for(void *pool, gnk_task_fn task, void *ctx, int64_t count) {
  (void)pool;
  atomic_fetch_add(&calls, 1);
  for (int64_t i = count - 1; i >= 0; --i) task(ctx, i);
}

/* A minimal pool: `*(int *)pool` threads claim indices from a shared counter. */
typedef struct claim {
  gnk_task_fn task;
  void *ctx;
  int64_t count;
  atomic_llong next;
} claim;

static void *claim_main(void *arg) {
  claim *c = arg;
  for (int64_t i; (i = atomic_fetch_add(&c->next, 1)) < c->count;) c->task(c->ctx, i);
  return NULL;
}

static void pthread_for(void *pool, gnk_task_fn task, void *ctx, int64_t count) {
  atomic_fetch_add(&calls, 1);
  const int nt = *(int *)pool;
  claim c = {task, ctx, count, 0};
  pthread_t t[16];
  for (int i = 0; i < nt; ++i) cr_assert_eq(pthread_create(&t[i], NULL, claim_main, &c), 0);
  for (int i = 0; i < nt; ++i) pthread_join(t[i], NULL);
}

Test(threads, caller_parallel_for_bitwise_identical) {
  int pool_threads = 3;
  const struct {
    const char *name;
    gnk_parallel_for_fn fn;
  } fors[] = {{"serial parallel_for", serial_for}, {"reverse parallel_for", reverse_for},
              {"pthread parallel_for", pthread_for}};
  for (int l = 0; l < 2; ++l)
    for (size_t s = 0; s < NSHAPES; ++s) {
      problem p = make_problem((gnk_layout)l, s, 20 + s);
      gnk_plan_options o = {GNK_ESTIMATE, 1, NULL, NULL};
      result one = run_plan(&p, &o);
      for (size_t f = 0; f < sizeof fors / sizeof fors[0]; ++f) {
        atomic_store(&calls, 0);
        gnk_plan_options of = {GNK_ESTIMATE, 4, fors[f].fn, &pool_threads};
        result t = run_plan(&p, &of);
        cr_assert_gt(atomic_load(&calls), 0, "%s: %s was never called", desc_str(&p.d), fors[f].name);
        assert_same_bits(&one, &t, fors[f].name, &p.d);
        free_result(&t);
      }
      free_result(&one);
      free_problem(&p);
    }
}

/* Broken callbacks (an adapter to a server's pool that does not wait, skips
 * or repeats work) are reported, not left as silently wrong outputs: the
 * previous library returned GNK_OK for every one of these. An index out of
 * range or repeated is not run (y's guard zones stay intact). */
static void skip_last_for(void *pool, gnk_task_fn task, void *ctx, int64_t count) {
  (void)pool;
  for (int64_t i = 0; i + 1 < count; ++i) task(ctx, i);
}
static void none_for(void *pool, gnk_task_fn task, void *ctx, int64_t count) { (void)pool, (void)task, (void)ctx, (void)count; }
static void twice_for(void *pool, gnk_task_fn task, void *ctx, int64_t count) {
  (void)pool;
  for (int64_t i = 0; i < count; ++i) task(ctx, i);
  task(ctx, 0);
}
static void out_of_range_for(void *pool, gnk_task_fn task, void *ctx, int64_t count) {
  (void)pool;
  for (int64_t i = 0; i < count; ++i) task(ctx, i);
  task(ctx, count);
  task(ctx, -1);
}
static void repeat_not_skip_for(void *pool, gnk_task_fn task, void *ctx, int64_t count) { /* count tasks, one twice */
  (void)pool;
  for (int64_t i = 0; i + 1 < count; ++i) task(ctx, i);
  task(ctx, 0);
}

Test(threads, broken_caller_parallel_for_reported) {
  const struct {
    const char *name;
    gnk_parallel_for_fn fn;
  } fors[] = {{"skips the last index", skip_last_for},   {"runs nothing", none_for},
              {"runs index 0 twice", twice_for},         {"passes count and -1", out_of_range_for},
              {"repeats one, skips another", repeat_not_skip_for}};
  for (int l = 0; l < 2; ++l)
    for (size_t f = 0; f < sizeof fors / sizeof fors[0]; ++f) {
      gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_SILU, 4, 64, 256, 32);
      const int64_t total = desc_numel(&d);
      tbuf x = tbuf_new(total, 0), y = tbuf_new(total, 0);
      for (int64_t i = 0; i < total; ++i) x.p[i] = (float)(i % 13) - 6.0f;
      gnk_plan *p = NULL;
      gnk_plan_options o = {GNK_ESTIMATE | GNK_NO_CACHE, 4, fors[f].fn, NULL};
      cr_assert_eq(gnk_plan_create_ex(&p, &d, &o), GNK_OK, "%s", gnk_last_error());
      expect_error(gnk_execute(p, x.p, y.p, NULL, NULL), GNK_ERR_PARALLEL_FOR, "parallel_for");
      cr_assert(tbuf_guards_ok(&y), "%s %s: wrote outside y", desc_str(&d), fors[f].name);
      gnk_plan_destroy(p);
      /* the general path's own parallel loop (per sample) */
      gnk_general_desc gd;
      gnk_general_desc_init(&gd);
      gd.rank = 3;
      gd.shape[0] = 4, gd.shape[1] = 64, gd.shape[2] = 256;
      gd.channel_axis = 1;
      gd.groups = 32;
      gd.act = GNK_ACT_GELU_ERF; /* not a fast-path problem: the general kernel runs */
      gnk_plan *gp = NULL;
      cr_assert_eq(gnk_general_plan_create(&gp, &gd, &o), GNK_OK, "%s", gnk_last_error());
      expect_error(gnk_general_execute(gp, x.p, y.p, NULL, NULL, NULL, NULL, NULL), GNK_ERR_PARALLEL_FOR,
                   "parallel_for");
      cr_assert(tbuf_guards_ok(&y), "general %s: wrote outside y", fors[f].name);
      gnk_plan_destroy(gp);
      tbuf_free(&x);
      tbuf_free(&y);
    }
}

/* ---- plan cache single flight ---- */
#define RACERS 16
static pthread_barrier_t barrier;

typedef struct racer {
  const gnk_desc *d;
  gnk_status st;
  char kernel[128], source[32];
} racer;

static void *race_main(void *arg) {
  racer *r = arg;
  gnk_plan *p = NULL;
  gnk_plan_options o = {GNK_MEASURE, 1, NULL, NULL};
  pthread_barrier_wait(&barrier);
  r->st = gnk_plan_create_ex(&p, r->d, &o);
  if (r->st == GNK_OK) {
    snprintf(r->kernel, sizeof r->kernel, "%s", gnk_plan_kernel_name(p));
    snprintf(r->source, sizeof r->source, "%s", gnk_plan_source(p));
  }
  gnk_plan_destroy(p);
  return NULL;
}

Test(threads, plan_cache_single_flight) {
  /* An unusual spatial size: no other plan in this process has this key. */
  gnk_desc d = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_SILU, 1, 64, 4099, 8);
  const size_t cache0 = gnk_plan_cache_size(), wisdom0 = gnk_wisdom_size();
  racer r[RACERS];
  pthread_t t[RACERS];
  cr_assert_eq(pthread_barrier_init(&barrier, NULL, RACERS), 0);
  for (int i = 0; i < RACERS; ++i) {
    memset(&r[i], 0, sizeof r[i]);
    r[i].d = &d;
    cr_assert_eq(pthread_create(&t[i], NULL, race_main, &r[i]), 0);
  }
  for (int i = 0; i < RACERS; ++i) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&barrier);
  int measured = 0;
  for (int i = 0; i < RACERS; ++i) {
    cr_assert_eq(r[i].st, GNK_OK, "racer %d: %s", i, gnk_status_string(r[i].st));
    cr_assert_str_eq(r[i].kernel, r[0].kernel, "racers got different kernels");
    measured += !strcmp(r[i].source, "measured");
    cr_assert(!strcmp(r[i].source, "measured") || !strcmp(r[i].source, "cache"), "racer %d: source %s", i,
              r[i].source);
  }
  cr_assert_eq(measured, 1, "%d racers measured; single flight means exactly one", measured);
  cr_assert_eq(gnk_plan_cache_size(), cache0 + 1, "cache grew by %zu, want 1", gnk_plan_cache_size() - cache0);
  cr_assert_eq(gnk_wisdom_size(), wisdom0 + 1);
}

/* ---- one plan, many executing threads ---- */
#define EXECUTORS 8
typedef struct executor {
  const gnk_plan *plan;
  int id;
  int64_t bad;
  gnk_status st;
  int guards_ok;
  char msg[512];
} executor;

static void *execute_main(void *arg) {
  executor *e = arg;
  const gnk_desc *d = gnk_plan_desc(e->plan);
  const int64_t total = desc_numel(d);
  tbuf x = tbuf_new(total, e->id % 2), y = tbuf_new(total, 0);
  rng r;
  rng_seed(&r, 100 + (uint64_t)e->id);
  fill_normal(&r, x.p, total, (double)e->id, 1.0 + e->id);
  e->st = GNK_OK;
  for (int rep = 0; rep < 2 && e->st == GNK_OK && e->bad == 0; ++rep) {
    tbuf_fill_nan(&y);
    e->st = gnk_execute(e->plan, x.p, y.p, NULL, NULL);
    if (e->st == GNK_OK) e->bad = ref_check_all(d, x.p, NULL, NULL, y.p, e->msg, sizeof e->msg);
  }
  e->guards_ok = tbuf_guards_ok(&x) && tbuf_guards_ok(&y);
  tbuf_free(&x);
  tbuf_free(&y);
  return NULL;
}

Test(threads, one_plan_many_executing_threads) {
  /* Plans with 1 and with 2 threads (the second makes executors contend for
   * gnk's pool, which then runs jobs inline). */
  for (int l = 0; l < 2; ++l)
    for (int pt = 1; pt <= 2; ++pt) {
      gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_RELU, 2, 64, 1500, 8);
      gnk_plan_options o = {GNK_ESTIMATE, pt, NULL, NULL};
      gnk_plan *plan = NULL;
      cr_assert_eq(gnk_plan_create_ex(&plan, &d, &o), GNK_OK, "%s", gnk_last_error());
      executor e[EXECUTORS];
      pthread_t t[EXECUTORS];
      for (int i = 0; i < EXECUTORS; ++i) {
        memset(&e[i], 0, sizeof e[i]);
        e[i].plan = plan;
        e[i].id = i;
        cr_assert_eq(pthread_create(&t[i], NULL, execute_main, &e[i]), 0);
      }
      for (int i = 0; i < EXECUTORS; ++i) pthread_join(t[i], NULL);
      for (int i = 0; i < EXECUTORS; ++i) {
        cr_assert_eq(e[i].st, GNK_OK, "executor %d: %s", i, gnk_status_string(e[i].st));
        cr_assert_eq(e[i].bad, 0, "executor %d (plan threads %d): %s", i, pt, e[i].msg);
        cr_assert(e[i].guards_ok, "executor %d wrote outside its buffers", i);
      }
      gnk_plan_destroy(plan);
    }
}

/* ---- the pool: every task of a job runs once, before the call returns ---- */
/* The caller does not wait for a worker still asleep: a worker that wakes
 * after the job is done (or once a newer job is running) must join nothing
 * and run nothing. Jobs alternate with pauses around the workers' spin time
 * (0-120 us), so workers wake up in every phase of the next job; each task
 * counts its runs, checked when the call returns and again at the end. */
typedef struct once_ctx { atomic_int *hits; } once_ctx;
static void count_task(void *ctx, int64_t i) {
  once_ctx *c = ctx;
  for (volatile int spin = 0; spin < 2000; ++spin) {}
  atomic_fetch_add_explicit(&c->hits[i], 1, memory_order_relaxed);
}

Test(threads, pool_runs_each_task_once_with_late_workers) {
  enum { JOBS = 400, MAXT = 8 };
  static atomic_int hits[JOBS][MAXT];
  for (int j = 0; j < JOBS; ++j) {
    const int64_t count = 1 + j % MAXT;
    once_ctx c = {hits[j]};
    const long pause_ns = (long)(j % 7) * 20000; /* 0..120 us */
    if (pause_ns) {
      struct timespec ts = {0, pause_ns};
      nanosleep(&ts, NULL);
    }
    gnk_pool_parallel_for(2 + j % 3, count_task, &c, count);
    for (int64_t i = 0; i < count; ++i)
      cr_assert_eq(atomic_load(&hits[j][i]), 1, "job %d task %lld ran %d times by the return", j, (long long)i,
                   atomic_load(&hits[j][i]));
  }
  struct timespec ms = {0, 5000000}; /* workers that were late have woken by now */
  nanosleep(&ms, NULL);
  for (int j = 0; j < JOBS; ++j)
    for (int64_t i = 0; i < MAXT; ++i)
      cr_assert_eq(atomic_load(&hits[j][i]), i < 1 + j % MAXT, "job %d task %lld: %d runs after the end", j,
                   (long long)i, atomic_load(&hits[j][i]));
}

/* ---- fork(): the child gets a working pool and planner ----
 * Two tasks of a two-thread pool job that wait (up to 2 s) for each other:
 * they meet only when a worker really runs one of them beside the caller. */
typedef struct meet { atomic_int here[2], met; } meet;
static void meet_task(void *ctx, int64_t i) {
  meet *m = ctx;
  atomic_store(&m->here[i], 1);
  const double until = gnk_now_ns() + 2e9;
  while (!atomic_load(&m->here[1 - i]) && gnk_now_ns() < until) sched_yield();
  if (atomic_load(&m->here[1 - i])) atomic_fetch_add(&m->met, 1);
}
static int pool_runs_two_at_once(void) {
  meet m;
  atomic_init(&m.here[0], 0);
  atomic_init(&m.here[1], 0);
  atomic_init(&m.met, 0);
  gnk_pool_parallel_for(2, meet_task, &m, 2);
  return atomic_load(&m.met) == 2;
}

/* A measure-mode plan held unfinished in another thread across the fork. */
static atomic_int timer_entered, timer_release;
static double blocking_timer(const gnk_exec_cfg *cfg, const gnk_desc *d, const void *x, void *y, const void *gamma,
                             const void *beta) {
  (void)cfg, (void)d, (void)x, (void)y, (void)gamma, (void)beta;
  atomic_store(&timer_entered, 1);
  while (!atomic_load(&timer_release)) sched_yield();
  return 1e5;
}
static void *plan_measured(void *arg) {
  gnk_plan_options o = {GNK_MEASURE, 1, NULL, NULL};
  gnk_plan *p = NULL;
  gnk_status st = gnk_plan_create_ex(&p, arg, &o);
  gnk_plan_destroy(p);
  return (void *)(intptr_t)st;
}

/* After a fork the child has only the forking thread. Its pool must start
 * workers of its own (before the atfork handlers it counted the parent's and
 * ran every job on the caller alone), and a plan the parent was still building
 * in another thread must not hang the child that asks for the same problem
 * (its builder does not exist there). The child runs both under alarm(20)
 * and reports by its exit status. */
Test(threads, fork_child_gets_its_own_pool_and_plans, .timeout = 60) {
  cr_assert(pool_runs_two_at_once(), "two pool tasks did not run at once in the parent");
  gnk_desc d = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_NONE, 1, 64, 100, 32);
  gnk_planner_set_timer(blocking_timer);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, plan_measured, &d), 0);
  while (!atomic_load(&timer_entered)) sched_yield();
  fflush(NULL);
  const pid_t pid = fork();
  cr_assert_neq(pid, -1, "fork failed");
  if (pid == 0) {
    alarm(20);
    gnk_planner_set_timer(NULL);
    if (!pool_runs_two_at_once()) _exit(2);
    gnk_plan_options o = {GNK_MEASURE, 1, NULL, NULL}; /* the key the parent's thread is building */
    gnk_plan *p = NULL;
    if (gnk_plan_create_ex(&p, &d, &o) != GNK_OK) _exit(3);
    gnk_plan_destroy(p);
    _exit(0);
  }
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  atomic_store(&timer_release, 1);
  void *st = NULL;
  pthread_join(t, &st);
  gnk_planner_set_timer(NULL);
  cr_assert_eq((gnk_status)(intptr_t)st, GNK_OK, "the parent's plan failed");
  cr_assert(!WIFSIGNALED(status), "the child was killed by signal %d (a hang ends with SIGALRM)", WTERMSIG(status));
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exit status %d: %s", WEXITSTATUS(status),
            WEXITSTATUS(status) == 2 ? "its pool ran two tasks one after the other (no worker of its own)"
                                     : "planning failed");
  cr_assert(pool_runs_two_at_once(), "the parent's pool stopped working after the fork");
}
