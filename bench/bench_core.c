/* Timing, buffers, and the roof: a (multi-threaded) memcpy of the tensor. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gnk_bench.h"
#include "bench_internal.h"

static _Thread_local char last_error[512];

const char *bench_last_error(void) { return last_error; }

void bench_set_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
}

static clockid_t bench_clock = CLOCK_MONOTONIC;

int bench_set_clock(int cpu) {
  bench_clock = cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
  return 0;
}

double bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(bench_clock, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void *bench_alloc(size_t bytes) {
  size_t sz = (bytes + 63) / 64 * 64;
  void *p = NULL;
  if (sz == 0) sz = 64;
  if (posix_memalign(&p, 64, sz) != 0) {
    bench_set_error("out of memory (%zu bytes)", bytes);
    return NULL;
  }
  memset(p, 0, sz); /* touch every page now, not inside a timed region */
  return p;
}

void bench_free(void *p) { free(p); }

void bench_fill(float *p, size_t count, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < count; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    p[i] = (float)((double)(s >> 11) * (1.0 / 9007199254740992.0) * 4.0 - 2.0);
  }
}

/* ---- memcpy split between threads; helpers spin for the length of one call ---- */

#define MAX_HELPERS 255

typedef struct copy_job {
  char *dst;
  const char *src;
  size_t bytes;
  int parts;
  _Atomic long go;   /* generation the helpers should run */
  _Atomic int done;  /* helpers finished in this generation */
  _Atomic int quit;
} copy_job;

typedef struct helper_arg {
  copy_job *job;
  int part;
} helper_arg;

static void copy_part(copy_job *j, int part) {
  size_t chunk = (j->bytes / (size_t)j->parts + 63) / 64 * 64;
  size_t lo = chunk * (size_t)part;
  if (lo >= j->bytes) return;
  size_t hi = lo + chunk < j->bytes ? lo + chunk : j->bytes;
  memcpy(j->dst + lo, j->src + lo, hi - lo);
}

static void *helper_main(void *arg) {
  helper_arg *h = arg;
  copy_job *j = h->job;
  long seen = 0;
  for (;;) {
    long g;
    while ((g = atomic_load_explicit(&j->go, memory_order_acquire)) == seen) {
      if (atomic_load_explicit(&j->quit, memory_order_relaxed)) return NULL;
      __builtin_ia32_pause();
    }
    seen = g;
    copy_part(j, h->part);
    atomic_fetch_add_explicit(&j->done, 1, memory_order_acq_rel);
  }
}

static void copy_once(copy_job *j, long gen) {
  if (j->parts > 1) {
    atomic_store_explicit(&j->done, 0, memory_order_relaxed);
    atomic_store_explicit(&j->go, gen, memory_order_release);
  }
  copy_part(j, 0);
  if (j->parts > 1)
    while (atomic_load_explicit(&j->done, memory_order_acquire) != j->parts - 1)
      __builtin_ia32_pause();
}

int bench_memcpy(void *dst, const void *src, size_t bytes, int threads, int warmup,
                 int reps, double *samples) {
  if (threads < 1) threads = 1;
  if (threads > MAX_HELPERS + 1) threads = MAX_HELPERS + 1;
  copy_job j = {.dst = dst, .src = src, .bytes = bytes, .parts = threads};
  atomic_init(&j.go, 0);
  atomic_init(&j.done, 0);
  atomic_init(&j.quit, 0);
  pthread_t tid[MAX_HELPERS];
  helper_arg args[MAX_HELPERS];
  int started = 0;
  for (int t = 1; t < threads; t++) {
    args[t - 1] = (helper_arg){&j, t};
    if (pthread_create(&tid[t - 1], NULL, helper_main, &args[t - 1]) != 0) break;
    started++;
  }
  int rc = 0;
  if (started != threads - 1) {
    bench_set_error("pthread_create failed");
    rc = -1;
    goto out;
  }
  long gen = 0;
  for (int i = 0; i < warmup; i++) copy_once(&j, ++gen);
  for (int i = 0; i < reps; i++) {
    double t0 = bench_now_ns();
    copy_once(&j, ++gen);
    samples[i] = bench_now_ns() - t0;
  }
out:
  atomic_store(&j.quit, 1);
  for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
  return rc;
}
