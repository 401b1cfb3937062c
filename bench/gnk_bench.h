/*
 * gnk benchmark helpers, built into build/libgnkbench.so and called from
 * bench/bench.py through ctypes. Every bench_* timing function runs `warmup`
 * untimed calls, then `reps` timed ones, writes each repetition's time in ns
 * (clock_gettime(CLOCK_MONOTONIC), see bench_set_clock) to samples[0..reps) and returns 0, or a
 * negative value on failure (the message is in bench_last_error()).
 * Buffers come from the caller (bench_alloc: 64-byte aligned, pre-touched), so
 * no page faults happen inside the timed region.
 */
#ifndef GNK_BENCH_H
#define GNK_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* One problem; layout 0 = NCHW, 1 = NHWC; act 0 none, 1 silu, 2 relu; dtype of x/y
 * 0 f32, 1 f16, 2 bf16 (gamma/beta are always f32). */
typedef struct bench_problem {
  int layout;
  int act;
  int64_t n, c, h, w, groups;
  double eps;
  int dtype;
} bench_problem;

const char *bench_last_error(void);
/* The clock of every bench_* timing: 0 = CLOCK_MONOTONIC (wall time, the default),
 * 1 = CLOCK_PROCESS_CPUTIME_ID (CPU time of all the process's threads: on a shared machine,
 * with one thread, it leaves out the time the process was descheduled). */
int bench_set_clock(int cpu);
double bench_now_ns(void);

/* Aligned (64 B), zero-filled and pre-touched; free with bench_free. */
void *bench_alloc(size_t bytes);
void bench_free(void *p);
/* Fill with deterministic pseudo-random values in [-2, 2). */
void bench_fill(float *p, size_t count, uint64_t seed);

/* memcpy(dst, src, bytes) split into `threads` contiguous parts, one per thread
 * (the calling thread takes part 0; helper threads spin on a flag while the
 * call lasts, so there is no thread wake-up cost in the timing). */
int bench_memcpy(void *dst, const void *src, size_t bytes, int threads, int warmup,
                 int reps, double *samples);

/* gnk: a plan made with GNK_MEASURE for `threads` threads. */
void *bench_gnk_plan(const bench_problem *p, int threads);
const char *bench_gnk_plan_kernel(const void *plan);
const char *bench_gnk_plan_source(const void *plan);
int bench_gnk_run(const void *plan, const void *x, void *y, const float *gamma,
                  const float *beta, int warmup, int reps, double *samples);
void bench_gnk_destroy(void *plan);
const char *bench_gnk_version(void);
const char *bench_gnk_isa(void);
/* Index of gnk's generic kernel (groups == 0 && channels == 0) for this layout,
 * activation and dtype, of ISA gnk_cpu_isa() or else the highest supported one below; -1 if none. */
int bench_gnk_generic_index(int layout, int act, int dtype);
const char *bench_gnk_kernel_name(int index);
/* Runs kernel `index` through gnk_kernel_run (always one thread). */
int bench_gnk_kernel(int index, const bench_problem *p, const void *x, void *y,
                     const float *gamma, const float *beta, int warmup, int reps,
                     double *samples);

/* oneDNN group normalization forward (inference), f32, use_scale|use_shift,
 * memory tag nchw / nhwc. act silu / relu: mode 0 = fused eltwise post-op
 * (swish alpha=1 / relu), mode 1 = a second eltwise primitive run in place on y
 * after the group norm. NULL when oneDNN refuses; bench_last_error() says why
 * ("unsupported: ..."). */
void *bench_onednn_create(const bench_problem *p, int mode, const void *x, void *y,
                          const float *gamma, const float *beta);
const char *bench_onednn_impl(const void *h); /* implementation name(s) */
int bench_onednn_run(void *h, int warmup, int reps, double *samples);
void bench_onednn_destroy(void *h);
/* oneDNN uses TBB here: caps TBB's parallelism (tbb::global_control). 0 if ok. */
int bench_onednn_set_threads(int threads);
const char *bench_onednn_version(void);

#endif
