/* kernel_ab: two builds of one f32 kernel in one process, A (an older
 * revision's generated file) against B (the working tree's), rounds
 * interleaved A B A B, so that the host's drift hits both alike. On a noisy
 * shared machine two whole `make run`s differ by 5-10%; this measures a
 * change of a few percent. Performance research only: it calls the kernel
 * ABI as the one-thread executor does (execute.c: its chunk sizes, prefetch
 * kinds and the run_unit / run_units_fused orders) without the merge, with
 * fixed apply parameters, and reports medians and minimums of R rounds
 * (environment R, default 100). It also checks that y and the partials of
 * A and B are bitwise identical ("bitwise same"): the exit status is 1 when
 * they differ, which is what a change that claims the same bits must show.
 *
 *   bench/kernel_ab.sh KERNEL REV N C S G LAYOUT SCHEDULE [unfolded]
 *
 * LAYOUT nchw|nhwc; SCHEDULE units|fused|stats, or units-vs-fused (B's build
 * only, units as A, fused as B; the bits are compared as well). The script
 * builds A from `git show REV:generated/kernels/KERNEL.c` and B from
 * generated/kernels/KERNEL.c, each with its ISA's flags, renamed k_a / k_b. */
#include "gnk_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const gnk_kernel_fns k_a, k_b;

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One whole problem under `sched`, as execute.c's one-thread paths run it. */
static void run(const gnk_kernel_fns *k, const gnk_kargs *a, const char *sched, int64_t units) {
  const int64_t K = a->nchunk;
  if (!strcmp(sched, "stats")) {
    k->stats(a, 0, units * K);
  } else if (!strcmp(sched, "units")) {
    for (int64_t u = 0; u < units; ++u) {
      k->stats(a, u * K, u * K + K);
      k->apply(a, u * K, u * K + K);
    }
  } else { /* fused: run_units_fused */
    k->stats(a, 0, K);
    for (int64_t u = 0; u < units; ++u) {
      if (u + 1 < units)
        for (int64_t q = 0; q < K; ++q) k->fused(a, u * K + q, u * K + K + q);
      else
        k->apply(a, u * K, u * K + K);
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: %s N C S G nchw|nhwc units|fused|stats|units-vs-fused [unfolded]\n", argv[0]);
    return 2;
  }
  const int64_t N = atoll(argv[1]), C = atoll(argv[2]), S = atoll(argv[3]), G = atoll(argv[4]);
  const int nhwc = !strcmp(argv[5], "nhwc");
  const char *sched = argv[6];
  const int both = !strcmp(sched, "units-vs-fused"), unfolded = argc > 7 && !strcmp(argv[7], "unfolded");
  if (N < 1 || C < 1 || S < 1 || G < 1 || C % G || (!nhwc && strcmp(argv[5], "nchw")) ||
      (!both && strcmp(sched, "units") && strcmp(sched, "fused") && strcmp(sched, "stats"))) {
    fprintf(stderr, "%s: need positive N C S G with G dividing C, nchw|nhwc and a schedule\n", argv[0]);
    return 2;
  }
  const int R = getenv("R") ? atoi(getenv("R")) : 100;
  const int64_t total = N * C * S;
  const size_t bytes = (size_t)total * sizeof(float);
  /* YOFF=k: y k floats past a 64-byte line (a malloc or numpy buffer is 16 bytes past one: YOFF=4) */
  const size_t yoff = getenv("YOFF") ? (size_t)atoi(getenv("YOFF")) % 16 : 0;
  const size_t abytes = (bytes + 64 + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
  float *x = aligned_alloc(64, abytes), *yb[2] = {aligned_alloc(64, abytes), aligned_alloc(64, abytes)},
        *y[2] = {yb[0] ? yb[0] + yoff : NULL, yb[1] ? yb[1] + yoff : NULL}, *sub = malloc((size_t)(N * C) * 4),
        *scale = malloc((size_t)(N * C) * 4), *shift = malloc((size_t)(N * C) * 4);
  double *t[2] = {malloc((size_t)(R > 0 ? R : 1) * sizeof(double)), malloc((size_t)(R > 0 ? R : 1) * sizeof(double))};
  if (R < 1 || !x || !y[0] || !y[1] || !sub || !scale || !shift || !t[0] || !t[1]) {
    fprintf(stderr, "%s: no memory (or R < 1)\n", argv[0]);
    return 2;
  }
  uint32_t s = 1;
  for (int64_t i = 0; i < total; ++i) {
    s = s * 1664525u + 1013904223u;
    x[i] = (float)(s >> 8) * (2.0f / 16777216.0f) - 0.7f;
  }
  for (int64_t i = 0; i < N * C; ++i) {
    scale[i] = 1.1f;
    shift[i] = 0.1f;
    sub[i] = unfolded ? 0.3f : 0.0f; /* unfolded: the apply's x - sub path */
  }
  gnk_kargs a = gnk_kargs_f32_whole_rows(nhwc ? GNK_LAYOUT_NHWC : GNK_LAYOUT_NCHW, x, NULL, N, C, S, G);
  a.sub = sub;
  a.scale = scale;
  a.shift = shift;
  const int64_t units = nhwc ? N : N * G;
  const size_t pbytes = (size_t)(N * G * a.nchunk) * sizeof(gnk_partial);
  gnk_partial *part[2] = {calloc(1, pbytes), calloc(1, pbytes)};
  if (!part[0] || !part[1]) return 2;
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 2; ++v) {
      a.y = y[v];
      a.part = part[v];
      const double t0 = now_ns();
      if (both) run(&k_b, &a, v ? "fused" : "units", units);
      else run(v ? &k_b : &k_a, &a, sched, units);
      t[v][r] = now_ns() - t0;
    }
  qsort(t[0], (size_t)R, sizeof(double), cmp_double);
  qsort(t[1], (size_t)R, sizeof(double), cmp_double);
  const int same = !memcmp(part[0], part[1], pbytes) && (!strcmp(sched, "stats") || !memcmp(y[0], y[1], bytes));
  printf("%s %lldx%lldx%lld g%lld %s: A median %.1f us (min %.1f)  B median %.1f us (min %.1f)  B/A %.3f  bitwise %s\n",
         nhwc ? "nhwc" : "nchw", (long long)N, (long long)C, (long long)S, (long long)G, sched, t[0][R / 2] / 1e3,
         t[0][0] / 1e3, t[1][R / 2] / 1e3, t[1][0] / 1e3, t[1][R / 2] / t[0][R / 2], same ? "same" : "DIFFERENT");
  free(x);
  free(yb[0]);
  free(yb[1]);
  free(sub);
  free(scale);
  free(shift);
  free(t[0]);
  free(t[1]);
  free(part[0]);
  free(part[1]);
  return !same;
}
