/* layout_model: the memory traffic of a GroupNorm in each layout, with the
 * arithmetic stripped to the minimum (plain sums of x and x^2, one FMA and a
 * streaming store per vector), next to memcpy of the same tensor. Performance
 * research only: it tells how much of a kernel's time its layout and
 * schedule cost before any real arithmetic, and whether a schedule is worth
 * building. Rows (f32, groups of C/32 channels; the sums are not used):
 *
 *   nchw      per group: sum pass, then apply pass prefetching the next group
 *             into L2 (gnk's units schedule);
 *   nchw-fused the sums of the next group inside this group's apply loop
 *             (gnk's fused schedule): a group over L2 is read twice;
 *   nhwc      the next sample's sums inside this sample's apply loop (gnk's
 *             fused schedule): x is read twice when a sample exceeds L2;
 *   nhwc-alt  nhwc with each sample's apply walked opposite to the pass
 *             that read it last (gnk's rule since c9a8521, execute.c
 *             run.backward): 2x320x4096 0.95-0.96 of nhwc's time;
 *   nhwc-bK   the same over blocks of K channels (units = (sample, block)):
 *             a block may fit in L2, but its rows are read in strides;
 *   nchw-st   per group: sum pass, then apply pass with regular stores;
 *   pieces-8k the same per 8 KiB piece instead of per group (not a
 *             GroupNorm: the second read comes from L1, see nchw_st).
 *
 *   make build/layout_model && ./build/layout_model N C S [REPS [BLOCK...]]
 *
 * (BLOCK...: the channel block sizes to model, default 64 80 128 160; the
 * environment variable PF=rows prefetches each block's rows that many rows
 * ahead: measured no help, 1x512x65536 blocks stay 1.09-1.36x slower.)
 *
 * Built with the AVX-512 kernels' flags and their vector header; main() asks
 * gnk_cpu_isa() first and skips (exit 0) where the CPU or OS has no AVX-512. */
#include "gnk.h"
#include "isa/gnk_vec_avx512.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t N, C, S, PF;
static float *x, *y, *y2, *y3, *par; /* y3: the regular-store rows' own output, so that the streamed
                                        * stores of the other rows do not leave it in memory */
static volatile float sink;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return 1e6 * (double)t.tv_sec + 1e-3 * (double)t.tv_nsec;
}

static void copy(int64_t cb) {
  (void)cb;
  memcpy(y2, x, (size_t)(N * C * S) * sizeof(float));
}

/* One step of the statistics over two vectors at p: sums of x and x^2 in
 * two accumulator pairs (acc[0..1], acc[2..3]). */
static inline void sum_step(const float *p, vf acc[4]) {
  const vf a = v_load(p), b = v_load(p + GNK_VL);
  acc[0] = v_add(acc[0], a);
  acc[1] = v_fma(a, a, acc[1]);
  acc[2] = v_add(acc[2], b);
  acc[3] = v_fma(b, b, acc[3]);
}
static inline float sum_total(const vf acc[4]) { return v_hsum(v_add(v_add(acc[0], acc[1]), v_add(acc[2], acc[3]))); }

/* The statistics' pass over gs values (the sums are not used: sink). */
static void sums(const float *xs, int64_t gs) {
  vf acc[4] = {v_zero(), v_zero(), v_zero(), v_zero()};
  for (int64_t i = 0; i + 2 * GNK_VL <= gs; i += 2 * GNK_VL) sum_step(xs + i, acc);
  sink = sum_total(acc);
}

/* Channels-first: group after group, the next one prefetched during the apply. */
static void nchw(int64_t cb) {
  (void)cb;
  const int64_t gs = C / 32 * S, total = N * C * S;
  for (int64_t g0 = 0; g0 < total; g0 += gs) {
    const float *xs = x + g0;
    sums(xs, gs);
    const float *next = g0 + gs < total ? xs + gs : NULL;
    const vf k = v_set1(1.01f), h = v_set1(0.01f);
    for (int64_t i = 0; i + GNK_VL <= gs; i += GNK_VL) {
      if (next) __builtin_prefetch(next + i, 0, 2);
      v_stream(y + g0 + i, v_fma(v_load(xs + i), k, h));
    }
  }
  v_fence();
}

/* Channels-first, gnk's fused schedule (execute.c's run_units_fused): the sums
 * of group g+1 inside the apply loop of group g, so that the reads of g+1
 * overlap the apply's stores; a group over L2 is read twice (its apply
 * re-reads it from L3 or memory). */
static void nchw_fused(int64_t cb) {
  (void)cb;
  const int64_t gs = C / 32 * S, total = N * C * S;
  const vf k = v_set1(1.01f), h = v_set1(0.01f);
  sums(x, gs);
  for (int64_t g0 = 0; g0 < total; g0 += gs) {
    const float *xs = x + g0, *xn = g0 + gs < total ? xs + gs : NULL;
    if (!xn) {
      for (int64_t i = 0; i + GNK_VL <= gs; i += GNK_VL) v_stream(y + g0 + i, v_fma(v_load(xs + i), k, h));
      break;
    }
    vf acc[4] = {v_zero(), v_zero(), v_zero(), v_zero()};
    for (int64_t i = 0; i + 2 * GNK_VL <= gs; i += 2 * GNK_VL) {
      sum_step(xn + i, acc);
      v_stream(y + g0 + i, v_fma(v_load(xs + i), k, h));
      v_stream(y + g0 + i + GNK_VL, v_fma(v_load(xs + i + GNK_VL), k, h));
    }
    sink = sum_total(acc);
  }
  v_fence();
}

/* Channels-first with regular stores (the kernels' store kind on tensors
 * the caches hold), per group or, with piece > 0, per piece of `piece`
 * floats: a sum pass, then an FMA pass over the same values. Pieces of 8 KiB
 * are not a GroupNorm (the statistics need the whole group first); they show
 * what a second read from L1 costs instead of one from L2/L3: on the Zen 4
 * VM one core fills L1 at ~2 cycles per 64-byte line from L2 and from L3
 * alike, memcpy fills two lines per line copied (x and y's read for
 * ownership), a group larger than L1 three (x twice, y once). */
static void nchw_st(int64_t piece) {
  const int64_t gs = piece ? piece : C / 32 * S, total = N * C * S;
  const vf k = v_set1(1.01f), h = v_set1(0.01f);
  for (int64_t g0 = 0; g0 < total; g0 += gs) {
    const float *xs = x + g0;
    sums(xs, gs);
    for (int64_t i = 0; i + GNK_VL <= gs; i += GNK_VL) v_store(y3 + g0 + i, v_fma(v_load(xs + i), k, h));
  }
}

/* Channels-last over units of cb channels of one sample: the sums of unit u+1
 * inside the apply of unit u; cb == C is gnk's fused schedule over samples.
 * cb == -C: the same over samples, each sample's apply (with the next one's
 * sums inside it) walked opposite to the pass that read it last (nhwc-alt). */
static void nhwc(int64_t cb) {
  const int alt = cb < 0;
  if (alt) cb = -cb;
  const int64_t nb = C / cb, units = N * nb, nv = cb / GNK_VL;
  vf acc[2 * 256];
  for (int64_t j = 0; j < 2 * nv; ++j) acc[j] = v_zero();
  for (int64_t p = 0; p < S; ++p)
    for (int64_t j = 0; j < nv; ++j) {
      const vf a = v_load(x + p * C + j * GNK_VL);
      acc[j] = v_add(acc[j], a);
      acc[nv + j] = v_fma(a, a, acc[nv + j]);
    }
  for (int64_t u = 0; u < units; ++u) {
    const int64_t c0 = (u % nb) * cb;
    const float *xs = x + (u / nb) * S * C + c0, *pk = par + c0, *ph = par + C + c0;
    float *ys = y + (u / nb) * S * C + c0;
    const float *xn = u + 1 < units ? x + ((u + 1) / nb) * S * C + ((u + 1) % nb) * cb : NULL;
    vf t = v_zero();
    for (int64_t j = 0; j < 2 * nv; ++j) {
      t = v_add(t, acc[j]);
      acc[j] = v_zero();
    }
    sink = v_hsum(t);
    const int back = alt && u % 2 == 0; /* sample 0's sums ran forward */
    for (int64_t q = 0; q < S; ++q) {
      const int64_t p = back ? S - 1 - q : q;
      if (PF && cb < C && p + PF < S)
        for (int64_t j = 0; j < nv; ++j) {
          __builtin_prefetch(xs + (p + PF) * C + j * GNK_VL, 0, 3);
          if (xn) __builtin_prefetch(xn + (p + PF) * C + j * GNK_VL, 0, 3);
        }
      for (int64_t j = 0; j < nv; ++j) {
        const int64_t o = p * C + j * GNK_VL;
        if (xn) {
          const vf a = v_load(xn + o);
          acc[j] = v_add(acc[j], a);
          acc[nv + j] = v_fma(a, a, acc[nv + j]);
        }
        v_stream(ys + o, v_fma(v_load(xs + o), v_load(pk + j * GNK_VL), v_load(ph + j * GNK_VL)));
      }
    }
  }
  v_fence();
}

typedef struct row {
  char name[16];
  void (*fn)(int64_t cb);
  int64_t cb;
} row;

static int cmp_double(const void *a, const void *b) {
  const double u = *(const double *)a, v = *(const double *)b;
  return u < v ? -1 : u > v;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s N C S [REPS]   e.g. %s 2 320 4096\n", argv[0], argv[0]);
    return 2;
  }
  const gnk_isa isa = gnk_cpu_isa(); /* CPUID and the OS's zmm state, as the registry sees them */
  if (isa != GNK_ISA_AVX512 && isa != GNK_ISA_AVX512_BF16) {
    printf("layout_model: skipped, this CPU runs %s, not AVX-512\n", gnk_isa_name(isa));
    return 0;
  }
  N = atoll(argv[1]);
  C = atoll(argv[2]);
  S = atoll(argv[3]);
  const int reps = argc > 4 ? atoi(argv[4]) : 41;
  PF = getenv("PF") ? atoll(getenv("PF")) : 0;
  if (N < 1 || S < 1 || C < 32 || C % 32 || (C / 32 * S) % (2 * GNK_VL) || C % GNK_VL || C > 256 * GNK_VL ||
      reps < 1 || reps > 1000) {
    fprintf(stderr, "%s: need N, S >= 1, C a multiple of 32 and of %d (at most %d), C/32*S a multiple of %d, "
                    "REPS in 1..1000\n", argv[0], GNK_VL, 256 * GNK_VL, 2 * GNK_VL);
    return 2;
  }
  const size_t bytes = (size_t)(N * C * S) * sizeof(float);
  x = aligned_alloc(64, bytes);
  y = aligned_alloc(64, bytes);
  y2 = aligned_alloc(64, bytes);
  y3 = aligned_alloc(64, bytes);
  par = aligned_alloc(64, (size_t)(2 * C) * sizeof(float));
  if (!x || !y || !y2 || !y3 || !par) return 1;
  for (int64_t i = 0; i < N * C * S; ++i) x[i] = (float)(i % 977) * 0.01f;
  for (int64_t c = 0; c < 2 * C; ++c) par[c] = c < C ? 1.01f : 0.01f;
  memset(y, 0, bytes);
  memset(y2, 0, bytes);
  memset(y3, 0, bytes);

  row rows[20] = {{"memcpy", copy, 0}, {"nchw", nchw, 0}, {"nchw-fused", nchw_fused, 0}, {"nhwc", nhwc, C},
                  {"nhwc-alt", nhwc, -C}, {"nchw-st", nchw_st, 0}};
  int nrows = 6;
  if ((N * C * S) % 2048 == 0) rows[nrows++] = (row){"pieces-8k", nchw_st, 2048};
  int64_t blocks[13] = {64, 80, 128, 160};
  size_t nblocks = 4;
  if (argc > 5) {
    nblocks = 0;
    for (int i = 5; i < argc && nblocks < 13; ++i) blocks[nblocks++] = atoll(argv[i]);
  }
  for (size_t b = 0; b < nblocks; ++b)
    if (blocks[b] >= GNK_VL && blocks[b] % GNK_VL == 0 && C % blocks[b] == 0 && blocks[b] < C) {
      rows[nrows] = (row){"", nhwc, blocks[b]};
      snprintf(rows[nrows].name, sizeof rows[nrows].name, "nhwc-b%lld", (long long)blocks[b]);
      ++nrows;
    }
  /* round robin: every row once per round, so drift hits all alike */
  double *t = malloc(sizeof(double) * (size_t)(nrows * reps));
  if (!t) return 1;
  for (int r = -1; r < reps; ++r)
    for (int k = 0; k < nrows; ++k) {
      const double t0 = now_us();
      rows[k].fn(rows[k].cb);
      if (r >= 0) t[k * reps + r] = now_us() - t0;
    }
  printf("layout_model %lldx%lldx%lld f32 (%.1f MiB), median of %d rounds\n", (long long)N, (long long)C,
         (long long)S, (double)bytes / 1048576.0, reps);
  double med[20];
  for (int k = 0; k < nrows; ++k) {
    qsort(t + k * reps, (size_t)reps, sizeof(double), cmp_double);
    med[k] = t[k * reps + reps / 2];
  }
  for (int k = 0; k < nrows; ++k)
    printf("  %-10s %10.1f us  (min %10.1f)  memcpy/this %.2f  this/nhwc %.2f\n", rows[k].name, med[k],
           t[k * reps], med[0] / med[k], med[k] / med[3]);
  free(t);
  return 0;
}
