/* Auto-generated file. Do not edit!
 *   Generator: gen/gnk_gen.lua
 *   Template:  templates/gn_nhwc.c.in
 *   Arguments: dtype=f32 layout=nhwc act=silu groups=32 channels=640 isa=avx2 unroll=4 store=nt order=row silu=div
 * Regenerate with `make gen`; `make check-gen` verifies this file. */
#line 36 "templates/gn_nhwc.c.in"
#include "gnk_kernel_abi.h"
#include "isa/gnk_vec_avx2.h"
#include "gnk_half.h"

#include <string.h>

#define TILE GNK_NHWC_TILE_C
#define LINE (64 / (int64_t)sizeof(float)) /* elements per cache line */

/* 1 when every sub[c] is zero (the runtime folded each mean of the unit into
 * shift), as `sub[c] == 0.0f` for all c: the bits without the sign, ORed in
 * blocks of 64 that the compiler vectorizes (a scalar scan with an exit per
 * channel cost more than the apply itself where a sample is one row: 70% of
 * the apply's time on 1x65536x1 g8), stopping at the first block that is not. */
static inline int all_zero(const float *sub, int64_t n) {
  int64_t c = 0;
  uint32_t any = 0;
  for (; c + 64 <= n && !any; c += 64) {
    for (int j = 0; j < 64; ++j) {
      uint32_t u;
      memcpy(&u, sub + c + j, sizeof u);
      any |= u << 1;
    }
  }
  for (; c < n && !any; ++c) {
    uint32_t u;
    memcpy(&u, sub + c, sizeof u);
    any |= u << 1;
  }
  return any == 0;
}

/* Offset of row p of unit v: sample v / nblk, channels [(v % nblk) * C,
 * + C) of rows nblk * C wide (gnk_kargs.nblk; 1 when the kernel's C is the
 * whole row). The kernel sees a unit as a sample of C channels and G groups:
 * partials (v * G + g), parameters v * C + c, exactly the whole-row indexing. */
static inline int64_t unit_row(const gnk_kargs *a, int64_t v, int64_t p) {
  const int64_t C = 640LL;
  return ((v / a->nblk) * a->s + p) * (C * a->nblk) + (v % a->nblk) * C;
}

/* Statistics: one pass, shifted by an estimate of each group's mean. Each
 * channel c keeps the shift k[c] of its group and sums t = x - k[c] and t^2
 * over the item's rows in f32; a group's sums are then the sums of its
 * channels' (no per-channel finalization: with few rows, as in 8x8 images,
 * that O(C) work in double would rival the pass itself). Where x streams
 * from memory the rows are read once, left to right, four at a time, the
 * sums in stack arrays (L1), with a prefetch (see PF_ROWS); where the sample
 * is cache-resident, column tiles walk the rows with the sums in registers
 * (cols_sums), the same operations per column. (A two-pass walk needs a
 * column block to stay in L1 between passes.)
 * A shift near the group mean keeps the sums small where the data has a
 * large offset and the squares nearly as accurate as a second pass. Where the
 * shift lands too far from a group's mean, the tile is summed again around
 * the estimated means; a group that still cancels (squares that overflowed
 * f32, |x| beyond ~1e18) is redone exactly (piece_exact). */
#define ROWS 4 /* rows per step: one load/store of the sums per ROWS vectors, and
                  * each f32 sum a chain of np/4 adds (128 for 512 rows) */

/* Where x streams from memory (gnk_kargs.pf_rows > 0) the statistics and
 * the apply prefetch rows pfr ahead, into L2. The statistics' four rows per
 * step are four short streams (one row each, 2 KiB at 512 channels), which
 * the hardware prefetchers keep losing: without the prefetch the statistics
 * of the VAE's 1x512x256x256 read at half the rate of a plain read of x (11.0
 * vs 5.5 ms on the Zen 4 VM), with it at the same rate; prefetcht0 at the
 * same distance did not help. The apply's prefetch goes into L1 where
 * gnk_kargs.pf_l1 says so (Intel cores: 0.81-0.99 of the time into L2 on
 * 32-128 MiB GN+SiLU), else into L2 (Zen 4: into L1 25-30% slower, into L2
 * as fast as none). */
#define PF_ROWS(p) __builtin_prefetch((p), 0, 2)
#define PF_ROWS_L1(p) __builtin_prefetch((p), 0, 3)

/* The statistics' prefetch for column j of the step of four rows at p: once
 * per cache line (vectors narrower than a line prefetch every other one). */
static inline void pf_step(const float *p, int64_t ld, int64_t j) {
  if (GNK_VL >= LINE || j % LINE == 0) {
#line 113 "templates/gn_nhwc.c.in"
    PF_ROWS(p + 0 * ld + j);
#line 113 "templates/gn_nhwc.c.in"
    PF_ROWS(p + 1 * ld + j);
#line 113 "templates/gn_nhwc.c.in"
    PF_ROWS(p + 2 * ld + j);
#line 113 "templates/gn_nhwc.c.in"
    PF_ROWS(p + 3 * ld + j);
#line 115 "templates/gn_nhwc.c.in"
  }
}

static inline void acc_rows(const float *x, int64_t ld, int64_t tc, int64_t pfr, const float *kk, float *ss, float *qq) {
  const vf m1 = v_minus_one_opaque();
  int64_t j = 0;
  for (; j + GNK_VL <= tc; j += GNK_VL) {
    if (pfr > 0) pf_step(x + pfr * ld, ld, j);
    const vf k = v_load(kk + j);
#line 129 "templates/gn_nhwc.c.in"
    const vf t0 = v_sub(v_load(x + 0 * ld + j), k);
#line 131 "templates/gn_nhwc.c.in"
    const vf t1 = v_sub_fma(v_load(x + 1 * ld + j), k, m1);
#line 131 "templates/gn_nhwc.c.in"
    const vf t2 = v_sub_fma(v_load(x + 2 * ld + j), k, m1);
#line 131 "templates/gn_nhwc.c.in"
    const vf t3 = v_sub_fma(v_load(x + 3 * ld + j), k, m1);
#line 134 "templates/gn_nhwc.c.in"
    v_store(ss + j, v_add(v_load(ss + j), v_add(v_add(t0, t1), v_add(t2, t3))));
    v_store(qq + j, v_add(v_load(qq + j), v_add(v_fma(t1, t1, v_mul(t0, t0)), v_fma(t3, t3, v_mul(t2, t2)))));
  }
  if (j < tc) { /* lanes past the tile load as 0 on both sides: t = 0 there */
    const int64_t w = tc - j;
    const vf k = v_load_tail(kk + j, w);
#line 141 "templates/gn_nhwc.c.in"
    const vf t0 = v_sub(v_load_tail(x + 0 * ld + j, w), k);
#line 141 "templates/gn_nhwc.c.in"
    const vf t1 = v_sub(v_load_tail(x + 1 * ld + j, w), k);
#line 141 "templates/gn_nhwc.c.in"
    const vf t2 = v_sub(v_load_tail(x + 2 * ld + j, w), k);
#line 141 "templates/gn_nhwc.c.in"
    const vf t3 = v_sub(v_load_tail(x + 3 * ld + j, w), k);
#line 143 "templates/gn_nhwc.c.in"
    v_store_tail(ss + j, v_add(v_load_tail(ss + j, w), v_add(v_add(t0, t1), v_add(t2, t3))), w);
    v_store_tail(qq + j, v_add(v_load_tail(qq + j, w), v_add(v_fma(t1, t1, v_mul(t0, t0)), v_fma(t3, t3, v_mul(t2, t2)))), w);
  }
}

static inline void acc_row(const float *x, int64_t tc, const float *kk, float *ss, float *qq) {
  int64_t j = 0;
  for (; j + GNK_VL <= tc; j += GNK_VL) {
    const vf t = v_sub(v_load(x + j), v_load(kk + j));
    v_store(ss + j, v_add(v_load(ss + j), t));
    v_store(qq + j, v_fma(t, t, v_load(qq + j)));
  }
  if (j < tc) {
    const int64_t w = tc - j;
    const vf t = v_sub(v_load_tail(x + j, w), v_load_tail(kk + j, w));
    v_store_tail(ss + j, v_add(v_load_tail(ss + j, w), t), w);
    v_store_tail(qq + j, v_fma(t, t, v_load_tail(qq + j, w)), w);
  }
}

/* The same sums as acc_rows + acc_row, column tile by column tile: 4
 * vectors of channels walk all the rows with their sums in registers, so the
 * per-channel sums are loaded and stored once per run instead of once per
 * four rows (the row walk's loads and stores of ss and qq, not its
 * arithmetic, bound it on cache-resident samples). Per column the same
 * operations in the same order as the row walk: the same bits. Used where
 * the sample is cache-resident (pf_rows == 0): its rows are read in strides
 * of C, which cost nothing from L2/L3 but lose the hardware prefetchers where
 * x streams from memory (there the row walk runs, with its prefetch). On the
 * Zen 4 VM, one process, statistics alone: 2x1280x8x8 0.86-0.99 of the row
 * walk's time, 2x640x32x32 0.78-0.92, 2x320x64x64 0.84-0.85; blocks of 16
 * rows (for the L1 TLB) were no better. */
static void cols_sums(const float *x, int64_t ld, int64_t np, int64_t tc, const float *kk, float *ss, float *qq) {
  const vf m1 = v_minus_one_opaque();
  int64_t j = 0;
  for (; j + 4 * GNK_VL <= tc; j += 4 * GNK_VL) {
#line 180 "templates/gn_nhwc.c.in"
    const vf k0 = v_load(kk + j + 0 * GNK_VL);
    vf s0 = v_zero(), q0 = v_zero();
#line 180 "templates/gn_nhwc.c.in"
    const vf k1 = v_load(kk + j + 1 * GNK_VL);
    vf s1 = v_zero(), q1 = v_zero();
#line 180 "templates/gn_nhwc.c.in"
    const vf k2 = v_load(kk + j + 2 * GNK_VL);
    vf s2 = v_zero(), q2 = v_zero();
#line 180 "templates/gn_nhwc.c.in"
    const vf k3 = v_load(kk + j + 3 * GNK_VL);
    vf s3 = v_zero(), q3 = v_zero();
#line 183 "templates/gn_nhwc.c.in"
    const float *xp = x + j;
    int64_t p = 0;
    for (; p + ROWS <= np; p += ROWS, xp += ROWS * ld) {
#line 189 "templates/gn_nhwc.c.in"
      const vf t0_0 = v_sub(v_load(xp + 0 * ld + 0 * GNK_VL), k0);
#line 191 "templates/gn_nhwc.c.in"
      const vf t0_1 = v_sub_fma(v_load(xp + 1 * ld + 0 * GNK_VL), k0, m1);
#line 191 "templates/gn_nhwc.c.in"
      const vf t0_2 = v_sub_fma(v_load(xp + 2 * ld + 0 * GNK_VL), k0, m1);
#line 191 "templates/gn_nhwc.c.in"
      const vf t0_3 = v_sub_fma(v_load(xp + 3 * ld + 0 * GNK_VL), k0, m1);
#line 194 "templates/gn_nhwc.c.in"
      s0 = v_add(s0, v_add(v_add(t0_0, t0_1), v_add(t0_2, t0_3)));
      q0 = v_add(q0, v_add(v_fma(t0_1, t0_1, v_mul(t0_0, t0_0)), v_fma(t0_3, t0_3, v_mul(t0_2, t0_2))));
#line 189 "templates/gn_nhwc.c.in"
      const vf t1_0 = v_sub(v_load(xp + 0 * ld + 1 * GNK_VL), k1);
#line 191 "templates/gn_nhwc.c.in"
      const vf t1_1 = v_sub_fma(v_load(xp + 1 * ld + 1 * GNK_VL), k1, m1);
#line 191 "templates/gn_nhwc.c.in"
      const vf t1_2 = v_sub_fma(v_load(xp + 2 * ld + 1 * GNK_VL), k1, m1);
#line 191 "templates/gn_nhwc.c.in"
      const vf t1_3 = v_sub_fma(v_load(xp + 3 * ld + 1 * GNK_VL), k1, m1);
#line 194 "templates/gn_nhwc.c.in"
      s1 = v_add(s1, v_add(v_add(t1_0, t1_1), v_add(t1_2, t1_3)));
      q1 = v_add(q1, v_add(v_fma(t1_1, t1_1, v_mul(t1_0, t1_0)), v_fma(t1_3, t1_3, v_mul(t1_2, t1_2))));
#line 189 "templates/gn_nhwc.c.in"
      const vf t2_0 = v_sub(v_load(xp + 0 * ld + 2 * GNK_VL), k2);
#line 191 "templates/gn_nhwc.c.in"
      const vf t2_1 = v_sub_fma(v_load(xp + 1 * ld + 2 * GNK_VL), k2, m1);
#line 191 "templates/gn_nhwc.c.in"
      const vf t2_2 = v_sub_fma(v_load(xp + 2 * ld + 2 * GNK_VL), k2, m1);
#line 191 "templates/gn_nhwc.c.in"
      const vf t2_3 = v_sub_fma(v_load(xp + 3 * ld + 2 * GNK_VL), k2, m1);
#line 194 "templates/gn_nhwc.c.in"
      s2 = v_add(s2, v_add(v_add(t2_0, t2_1), v_add(t2_2, t2_3)));
      q2 = v_add(q2, v_add(v_fma(t2_1, t2_1, v_mul(t2_0, t2_0)), v_fma(t2_3, t2_3, v_mul(t2_2, t2_2))));
#line 189 "templates/gn_nhwc.c.in"
      const vf t3_0 = v_sub(v_load(xp + 0 * ld + 3 * GNK_VL), k3);
#line 191 "templates/gn_nhwc.c.in"
      const vf t3_1 = v_sub_fma(v_load(xp + 1 * ld + 3 * GNK_VL), k3, m1);
#line 191 "templates/gn_nhwc.c.in"
      const vf t3_2 = v_sub_fma(v_load(xp + 2 * ld + 3 * GNK_VL), k3, m1);
#line 191 "templates/gn_nhwc.c.in"
      const vf t3_3 = v_sub_fma(v_load(xp + 3 * ld + 3 * GNK_VL), k3, m1);
#line 194 "templates/gn_nhwc.c.in"
      s3 = v_add(s3, v_add(v_add(t3_0, t3_1), v_add(t3_2, t3_3)));
      q3 = v_add(q3, v_add(v_fma(t3_1, t3_1, v_mul(t3_0, t3_0)), v_fma(t3_3, t3_3, v_mul(t3_2, t3_2))));
#line 197 "templates/gn_nhwc.c.in"
    }
    for (; p < np; ++p, xp += ld) {
#line 200 "templates/gn_nhwc.c.in"
      const vf t0 = v_sub(v_load(xp + 0 * GNK_VL), k0);
      s0 = v_add(s0, t0);
      q0 = v_fma(t0, t0, q0);
#line 200 "templates/gn_nhwc.c.in"
      const vf t1 = v_sub(v_load(xp + 1 * GNK_VL), k1);
      s1 = v_add(s1, t1);
      q1 = v_fma(t1, t1, q1);
#line 200 "templates/gn_nhwc.c.in"
      const vf t2 = v_sub(v_load(xp + 2 * GNK_VL), k2);
      s2 = v_add(s2, t2);
      q2 = v_fma(t2, t2, q2);
#line 200 "templates/gn_nhwc.c.in"
      const vf t3 = v_sub(v_load(xp + 3 * GNK_VL), k3);
      s3 = v_add(s3, t3);
      q3 = v_fma(t3, t3, q3);
#line 204 "templates/gn_nhwc.c.in"
    }
#line 206 "templates/gn_nhwc.c.in"
    v_store(ss + j + 0 * GNK_VL, s0);
    v_store(qq + j + 0 * GNK_VL, q0);
#line 206 "templates/gn_nhwc.c.in"
    v_store(ss + j + 1 * GNK_VL, s1);
    v_store(qq + j + 1 * GNK_VL, q1);
#line 206 "templates/gn_nhwc.c.in"
    v_store(ss + j + 2 * GNK_VL, s2);
    v_store(qq + j + 2 * GNK_VL, q2);
#line 206 "templates/gn_nhwc.c.in"
    v_store(ss + j + 3 * GNK_VL, s3);
    v_store(qq + j + 3 * GNK_VL, q3);
#line 209 "templates/gn_nhwc.c.in"
  }
  for (; j < tc; j += GNK_VL) { /* lanes past the tile load as 0 on both sides: t = 0 there */
    const int64_t w = tc - j < GNK_VL ? tc - j : GNK_VL;
    const vf k = v_load_tail(kk + j, w);
    vf s = v_zero(), q = v_zero();
    int64_t p = 0;
    for (; p + ROWS <= np; p += ROWS) {
#line 217 "templates/gn_nhwc.c.in"
      const vf t0 = v_sub(v_load_tail(x + (p + 0) * ld + j, w), k);
#line 217 "templates/gn_nhwc.c.in"
      const vf t1 = v_sub(v_load_tail(x + (p + 1) * ld + j, w), k);
#line 217 "templates/gn_nhwc.c.in"
      const vf t2 = v_sub(v_load_tail(x + (p + 2) * ld + j, w), k);
#line 217 "templates/gn_nhwc.c.in"
      const vf t3 = v_sub(v_load_tail(x + (p + 3) * ld + j, w), k);
#line 219 "templates/gn_nhwc.c.in"
      s = v_add(s, v_add(v_add(t0, t1), v_add(t2, t3)));
      q = v_add(q, v_add(v_fma(t1, t1, v_mul(t0, t0)), v_fma(t3, t3, v_mul(t2, t2))));
    }
    for (; p < np; ++p) {
      const vf t = v_sub(v_load_tail(x + p * ld + j, w), k);
      s = v_add(s, t);
      q = v_fma(t, t, q);
    }
    v_store_tail(ss + j, s, w);
    v_store_tail(qq + j, q, w);
  }
}

/* pfr: prefetch distance in rows (0: none); only the run's own rows are prefetched. */
static void shifted_sums(const float *x, int64_t ld, int64_t np, int64_t tc, int64_t pfr, const float *kk, float *ss, float *qq) {
  if (pfr == 0) { /* cache-resident: columns, sums in registers */
    cols_sums(x, ld, np, tc, kk, ss, qq);
    return;
  }
  for (int64_t j = 0; j < tc; j += GNK_VL) {
    const int64_t w = tc - j < GNK_VL ? tc - j : GNK_VL;
    v_store_tail(ss + j, v_zero(), w);
    v_store_tail(qq + j, v_zero(), w);
  }
  int64_t p = 0;
  for (; p + ROWS <= np; p += ROWS) acc_rows(x + p * ld, ld, tc, p + pfr + ROWS <= np ? pfr : 0, kk, ss, qq);
  for (; p < np; ++p) acc_row(x + p * ld, tc, kk, ss, qq);
}

/* 1 when m2 = q - s^2/n would lose more than 3 bits (s^2/n > 7/8 q, the
 * shift over 2.6 std from the mean) or the f32 squares overflowed. */
static inline int cancels(double s, double q, double n) { return q > 3.0e38 || s * s > 0.875 * n * q; }

/* Chan's merge of (cnt, mean, m2) into *t (in double). */
static inline void merge_into(gnk_partial *t, double cnt, double mean, double m2) {
  const double n = t->count + cnt, delta = mean - t->mean;
  t->mean += delta * (cnt / n);
  t->m2 += m2 + delta * delta * (t->count * cnt / n);
  t->count = n;
}

/* Lanes of 8 doubles, for the per-group sums in double (sum8_f64,
 * piece_exact): clang vector extensions, not the ISA's vf, whose lanes are
 * floats (a build without 512-bit vectors gets them as narrower vectors or
 * scalars, the same bits). Written as 8 scalar chains these loops stayed
 * scalar in the kernels with D baked in. Vectors go by pointer: by value
 * they would change the psABI of functions in builds without AVX-512. */
typedef float row_f8 __attribute__((vector_size(32)));
typedef double row_d8 __attribute__((vector_size(64)));
static inline void row_load8(const float *x, row_d8 *d) {
  row_f8 f;
  for (int j = 0; j < 8; ++j) f[j] = (float)(x[j]);
  *d = __builtin_convertvector(f, row_d8);
}
/* The lanes' total, lane 0 replaced by a0 (lane 0 plus the tail, summed in
 * a scalar: element by element into a vector lane costs an insert each). */
static inline double row_sum8(const row_d8 *a, double a0) {
  return ((a0 + (*a)[1]) + ((*a)[2] + (*a)[3])) + (((*a)[4] + (*a)[5]) + ((*a)[6] + (*a)[7]));
}

/* Sums of a group's per-channel values: its shift estimate in four
 * interleaved f32 chains, its f32 channel sums in double in 8 lanes. One
 * chain of D dependent adds per group costs ~4 cycles an add, which at 8x8
 * images (64 rows) rivals the pass over the rows itself. The order is fixed,
 * so every path agrees. */
static inline float sum4_f32(const float *v, int64_t n) {
  float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += v[i];
    a1 += v[i + 1];
    a2 += v[i + 2];
    a3 += v[i + 3];
  }
  for (; i < n; ++i) a0 += v[i];
  return (a0 + a1) + (a2 + a3);
}

static inline double sum8_f64(const float *v, int64_t n) {
  row_d8 a = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    row_f8 f;
    memcpy(&f, v + i, sizeof f);
    a += __builtin_convertvector(f, row_d8);
  }
  double a0 = a[0];
  for (; i < n; ++i) a0 += (double)v[i];
  return row_sum8(&a, a0);
}

/* Mean and M2 of w channels (from x, row pitch ld) over np rows, two-pass
 * in double, in 8 lanes each (each row's channels past its last whole 8
 * summed in a scalar beside them). A group whose shifted sums still cancel
 * is redone with it (tile_finish), and an item of one row (a sample of one
 * position, as rank-2 inputs run) takes it in place of the shifted column
 * sums, whose per-channel shift, sums and per-group passes cost several
 * times the data there (1x65536x1 g8, 256x512x1 g32). */
static void piece_exact(const float *x, int64_t ld, int64_t np, int64_t w, double *mean, double *m2) {
  row_d8 a = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}, v;
  double a0 = 0.0;
  for (int64_t p = 0; p < np; ++p) {
    const float *r = x + p * ld;
    int64_t c = 0;
    for (; c + 8 <= w; c += 8) {
      row_load8(r + c, &v);
      a += v;
    }
    for (; c < w; ++c) a0 += (double)(float)(r[c]);
  }
  const double m = row_sum8(&a, a[0] + a0) / ((double)np * (double)w);
  row_d8 q = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  double q0 = 0.0;
  for (int64_t p = 0; p < np; ++p) {
    const float *r = x + p * ld;
    int64_t c = 0;
    for (; c + 8 <= w; c += 8) {
      row_load8(r + c, &v);
      v -= m;
      q += v * v;
    }
    for (; c < w; ++c) {
      const double t = (double)(float)(r[c]) - m;
      q0 += t * t;
    }
  }
  *mean = m;
  *m2 = row_sum8(&q, q[0] + q0);
}

/* The channels [*cs, *ce) of group g (D channels each) inside the tile [c0, c0 + tc). */
static inline void piece_of(int64_t g, int64_t D, int64_t c0, int64_t tc, int64_t *cs, int64_t *ce) {
  *cs = g * D > c0 ? g * D : c0;
  *ce = (g + 1) * D < c0 + tc ? (g + 1) * D : c0 + tc;
}

/* The shift of each group touching the tile [c0, c0 + tc): the mean of its
 * channels over the item's first 8 rows (rows spread over the item would be
 * better estimates, but reading them first breaks the one sequential stream:
 * measured 3x slower), in kk[c - c0] for each channel c. */
static void tile_shift(const float *xs, int64_t ld, int64_t np, int64_t c0, int64_t tc, int64_t D, float *kk) {
  const int64_t g0 = c0 / D, g1 = (c0 + tc - 1) / D + 1;
  const int64_t ns = np >= 8 ? 8 : np;
  for (int64_t j = 0; j < tc; j += GNK_VL) {
    const int64_t w = tc - j < GNK_VL ? tc - j : GNK_VL;
    vf sk = v_zero();
    for (int64_t r = 0; r < ns; ++r) sk = v_add(sk, v_load_tail(xs + r * ld + c0 + j, w));
    v_store_tail(kk + j, v_mul(sk, v_set1(1.0f / (float)ns)), w);
  }
  for (int64_t g = g0; g < g1; ++g) {
    int64_t cs, ce;
    piece_of(g, D, c0, tc, &cs, &ce);
    const float sk = sum4_f32(kk + (cs - c0), ce - cs) / (float)(ce - cs);
    for (int64_t c = cs; c < ce; ++c) kk[c - c0] = sk;
  }
}

/* The partials of the groups touching the tile, for item k of unit n, from
 * the tile's first-pass sums ss/qq (shifted by kk). A shift that landed far
 * from a group's mean (data trending over the rows) costs accuracy: then the
 * tile is summed again, shifted by the means just estimated (the corrected
 * two-pass algorithm, from L2); a group that still cancels is redone exactly. */
static void tile_finish(const gnk_kargs *a, int64_t n, int64_t k, const float *xs, int64_t np, int64_t c0, int64_t tc,
                        float *kk, float *ss, float *qq) {
  const int64_t C = 640LL, G = 32LL, D = C / G, ld = C * a->nblk;
  const int64_t g0 = c0 / D, g1 = (c0 + tc - 1) / D + 1;
  double psum[TILE], pq[TILE]; /* per piece (at most one per channel) */
  int again = 0;
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) shifted_sums(xs + c0, ld, np, tc, 0, kk, ss, qq); /* from cache: no prefetch */
    for (int64_t g = g0; g < g1; ++g) {
      int64_t cs, ce;
      piece_of(g, D, c0, tc, &cs, &ce);
      const double sm = sum8_f64(ss + (cs - c0), ce - cs), sq = sum8_f64(qq + (cs - c0), ce - cs);
      psum[g - g0] = sm;
      pq[g - g0] = sq;
      again |= cancels(sm, sq, (double)np * (double)(ce - cs));
    }
    if (!again || pass == 1) break;
    for (int64_t g = g0; g < g1; ++g) {
      int64_t cs, ce;
      piece_of(g, D, c0, tc, &cs, &ce);
      const float kg = (float)((double)kk[cs - c0] + psum[g - g0] / ((double)np * (double)(ce - cs)));
      for (int64_t c = cs; c < ce; ++c) kk[c - c0] = kg;
    }
  }
  for (int64_t g = g0; g < g1; ++g) {
    int64_t cs, ce;
    piece_of(g, D, c0, tc, &cs, &ce);
    const double cnt = (double)np * (double)(ce - cs), sm = psum[g - g0], sq = pq[g - g0];
    double mean, m2;
    if (cancels(sm, sq, cnt)) { /* still: overflow or pathological data */
      piece_exact(xs + cs, ld, np, ce - cs, &mean, &m2);
    } else { /* a NaN or Inf in the group reaches mean and m2 from here */
      mean = (double)kk[cs - c0] + sm / cnt;
      m2 = sq - sm * sm / cnt;
    }
    gnk_partial *t = &a->part[(n * G + g) * a->nchunk + k];
    if (cs == g * D) {
      t->mean = mean;
      t->m2 = m2;
      t->count = cnt;
    } else {
      merge_into(t, cnt, mean, m2);
    }
  }
}

/* One item: positions [p0, p0+np) of unit n. Channels go in tiles of at
 * most TILE; a group cut by a tile edge gives one piece per tile, merged into
 * the group's partial with Chan's formula. */
static void stats_item(const gnk_kargs *a, int64_t it) {
  const int64_t C = 640LL, G = 32LL, D = C / G, S = a->s, ld = C * a->nblk;
  const int64_t n = it / a->nchunk, k = it % a->nchunk, p0 = k * a->chunk;
  const int64_t np = S - p0 < a->chunk ? S - p0 : a->chunk;
  const float *xs = (const float *)a->x + unit_row(a, n, p0);
  if (np == 1) { /* one row: each group's D channels directly (piece_exact) */
    for (int64_t g = 0; g < G; ++g) {
      gnk_partial *t = &a->part[(n * G + g) * a->nchunk + k];
      piece_exact(xs + g * D, ld, 1, D, &t->mean, &t->m2);
      t->count = (double)D;
    }
    return;
  }
  float kk[TILE], ss[TILE], qq[TILE];
  for (int64_t c0 = 0; c0 < C; c0 += TILE) {
    const int64_t tc = C - c0 < TILE ? C - c0 : TILE;
    tile_shift(xs, ld, np, c0, tc, D, kk);
    shifted_sums(xs + c0, ld, np, tc, a->pf_rows, kk, ss, qq);
    tile_finish(a, n, k, xs, np, c0, tc, kk, ss, qq);
  }
}

static void stats(const gnk_kargs *a, int64_t item0, int64_t item1) {
  for (int64_t it = item0; it < item1; ++it) stats_item(a, it);
}

#line 469 "templates/gn_nhwc.c.in"
static void apply_item(const float *x, float *y, int64_t C, int64_t ld, int64_t np, int64_t pfr, int pfl1, const float *sub,
                  const float *scale, const float *shift) {
#line 491 "templates/gn_nhwc.c.in"
  for (int64_t p = 0; p < np; ++p, x += ld, y += ld) {
#line 493 "templates/gn_nhwc.c.in"
    int64_t j = 0;
    const int pf = pfr > 0 && p + pfr < np; /* the item's own rows only; see PF_ROWS */
    for (; j + 4 * GNK_VL <= C; j += 4 * GNK_VL) {
      if (pf && pfl1)
        for (int64_t l = 0; l < 4 * GNK_VL; l += LINE) PF_ROWS_L1(x + pfr * ld + j + l);
      else if (pf)
        for (int64_t l = 0; l < 4 * GNK_VL; l += LINE) PF_ROWS(x + pfr * ld + j + l);
#line 501 "templates/gn_nhwc.c.in"
      const vf z0 = v_fma(v_sub(v_load(x + j + 0 * GNK_VL), v_load(sub + j + 0 * GNK_VL)), v_load(scale + j + 0 * GNK_VL), v_load(shift + j + 0 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z1 = v_fma(v_sub(v_load(x + j + 1 * GNK_VL), v_load(sub + j + 1 * GNK_VL)), v_load(scale + j + 1 * GNK_VL), v_load(shift + j + 1 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z2 = v_fma(v_sub(v_load(x + j + 2 * GNK_VL), v_load(sub + j + 2 * GNK_VL)), v_load(scale + j + 2 * GNK_VL), v_load(shift + j + 2 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z3 = v_fma(v_sub(v_load(x + j + 3 * GNK_VL), v_load(sub + j + 3 * GNK_VL)), v_load(scale + j + 3 * GNK_VL), v_load(shift + j + 3 * GNK_VL));
#line 504 "templates/gn_nhwc.c.in"
      vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_div_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 507 "templates/gn_nhwc.c.in"
      v_store(y + j + 0 * GNK_VL, s_z0);
#line 507 "templates/gn_nhwc.c.in"
      v_store(y + j + 1 * GNK_VL, s_z1);
#line 507 "templates/gn_nhwc.c.in"
      v_store(y + j + 2 * GNK_VL, s_z2);
#line 507 "templates/gn_nhwc.c.in"
      v_store(y + j + 3 * GNK_VL, s_z3);
#line 509 "templates/gn_nhwc.c.in"
    }
    for (; j < C; j += GNK_VL) {
      const int64_t w = C - j < GNK_VL ? C - j : GNK_VL;
      const vf z = v_fma(v_sub(v_load_tail(x + j, w), v_load_tail(sub + j, w)), v_load_tail(scale + j, w), v_load_tail(shift + j, w));
      v_store_tail(y + j, v_silu_div(z), w);
    }
  }
#line 550 "templates/gn_nhwc.c.in"
}

#line 469 "templates/gn_nhwc.c.in"
static void apply_item_folded(const float *x, float *y, int64_t C, int64_t ld, int64_t np, int64_t pfr, int pfl1, const float *sub,
                  const float *scale, const float *shift) {
#line 472 "templates/gn_nhwc.c.in"
  (void)sub;
#line 491 "templates/gn_nhwc.c.in"
  for (int64_t p = 0; p < np; ++p, x += ld, y += ld) {
#line 493 "templates/gn_nhwc.c.in"
    int64_t j = 0;
    const int pf = pfr > 0 && p + pfr < np; /* the item's own rows only; see PF_ROWS */
    for (; j + 4 * GNK_VL <= C; j += 4 * GNK_VL) {
      if (pf && pfl1)
        for (int64_t l = 0; l < 4 * GNK_VL; l += LINE) PF_ROWS_L1(x + pfr * ld + j + l);
      else if (pf)
        for (int64_t l = 0; l < 4 * GNK_VL; l += LINE) PF_ROWS(x + pfr * ld + j + l);
#line 501 "templates/gn_nhwc.c.in"
      const vf z0 = v_fma(v_load(x + j + 0 * GNK_VL), v_load(scale + j + 0 * GNK_VL), v_load(shift + j + 0 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z1 = v_fma(v_load(x + j + 1 * GNK_VL), v_load(scale + j + 1 * GNK_VL), v_load(shift + j + 1 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z2 = v_fma(v_load(x + j + 2 * GNK_VL), v_load(scale + j + 2 * GNK_VL), v_load(shift + j + 2 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z3 = v_fma(v_load(x + j + 3 * GNK_VL), v_load(scale + j + 3 * GNK_VL), v_load(shift + j + 3 * GNK_VL));
#line 504 "templates/gn_nhwc.c.in"
      vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_div_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 507 "templates/gn_nhwc.c.in"
      v_store(y + j + 0 * GNK_VL, s_z0);
#line 507 "templates/gn_nhwc.c.in"
      v_store(y + j + 1 * GNK_VL, s_z1);
#line 507 "templates/gn_nhwc.c.in"
      v_store(y + j + 2 * GNK_VL, s_z2);
#line 507 "templates/gn_nhwc.c.in"
      v_store(y + j + 3 * GNK_VL, s_z3);
#line 509 "templates/gn_nhwc.c.in"
    }
    for (; j < C; j += GNK_VL) {
      const int64_t w = C - j < GNK_VL ? C - j : GNK_VL;
      const vf z = v_fma(v_load_tail(x + j, w), v_load_tail(scale + j, w), v_load_tail(shift + j, w));
      v_store_tail(y + j, v_silu_div(z), w);
    }
  }
#line 550 "templates/gn_nhwc.c.in"
}

#line 469 "templates/gn_nhwc.c.in"
static void apply_item_nt(const float *x, float *y, int64_t C, int64_t ld, int64_t np, int64_t pfr, int pfl1, const float *sub,
                  const float *scale, const float *shift) {
#line 476 "templates/gn_nhwc.c.in"
  /* Four streams: the item's rows in four quarters, one row of each in turn
   * (each y is its own: the same bits in any order). Where x comes from
   * memory one sequential stream reads slower than four (bench/stream_model
   * on the Intel VM, 256 MiB: 15-16 against 18-21 GB/s; a streaming copy 20
   * against 30). kernel_ab.sh against the one-stream walk, 2026-12-04: units
   * 1x256x512x512 GN+SiLU 0.85, 1x512x256x256 0.90; 2x320x64x64 fused 0.93,
   * 2x640x32x32 0.99, 1x512x128x128 units 1.00. */
  const int64_t q4 = np / 4;
  const float *x0 = x;
  float *y0 = y;
  for (int64_t r = 0; r < np; ++r) {
    const int64_t p = r < 4 * q4 ? (r % 4) * q4 + r / 4 : r;
    x = x0 + p * ld;
    y = y0 + p * ld;
#line 493 "templates/gn_nhwc.c.in"
    int64_t j = 0;
    const int pf = pfr > 0 && p + pfr < np; /* the item's own rows only; see PF_ROWS */
    for (; j + 4 * GNK_VL <= C; j += 4 * GNK_VL) {
      if (pf && pfl1)
        for (int64_t l = 0; l < 4 * GNK_VL; l += LINE) PF_ROWS_L1(x + pfr * ld + j + l);
      else if (pf)
        for (int64_t l = 0; l < 4 * GNK_VL; l += LINE) PF_ROWS(x + pfr * ld + j + l);
#line 501 "templates/gn_nhwc.c.in"
      const vf z0 = v_fma(v_sub(v_load(x + j + 0 * GNK_VL), v_load(sub + j + 0 * GNK_VL)), v_load(scale + j + 0 * GNK_VL), v_load(shift + j + 0 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z1 = v_fma(v_sub(v_load(x + j + 1 * GNK_VL), v_load(sub + j + 1 * GNK_VL)), v_load(scale + j + 1 * GNK_VL), v_load(shift + j + 1 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z2 = v_fma(v_sub(v_load(x + j + 2 * GNK_VL), v_load(sub + j + 2 * GNK_VL)), v_load(scale + j + 2 * GNK_VL), v_load(shift + j + 2 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z3 = v_fma(v_sub(v_load(x + j + 3 * GNK_VL), v_load(sub + j + 3 * GNK_VL)), v_load(scale + j + 3 * GNK_VL), v_load(shift + j + 3 * GNK_VL));
#line 504 "templates/gn_nhwc.c.in"
      vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_div_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 507 "templates/gn_nhwc.c.in"
      v_stream(y + j + 0 * GNK_VL, s_z0);
#line 507 "templates/gn_nhwc.c.in"
      v_stream(y + j + 1 * GNK_VL, s_z1);
#line 507 "templates/gn_nhwc.c.in"
      v_stream(y + j + 2 * GNK_VL, s_z2);
#line 507 "templates/gn_nhwc.c.in"
      v_stream(y + j + 3 * GNK_VL, s_z3);
#line 509 "templates/gn_nhwc.c.in"
    }
    for (; j < C; j += GNK_VL) {
      const int64_t w = C - j < GNK_VL ? C - j : GNK_VL;
      const vf z = v_fma(v_sub(v_load_tail(x + j, w), v_load_tail(sub + j, w)), v_load_tail(scale + j, w), v_load_tail(shift + j, w));
      v_store_tail(y + j, v_silu_div(z), w);
    }
  }
#line 550 "templates/gn_nhwc.c.in"
}

#line 469 "templates/gn_nhwc.c.in"
static void apply_item_folded_nt(const float *x, float *y, int64_t C, int64_t ld, int64_t np, int64_t pfr, int pfl1, const float *sub,
                  const float *scale, const float *shift) {
#line 472 "templates/gn_nhwc.c.in"
  (void)sub;
#line 476 "templates/gn_nhwc.c.in"
  /* Four streams: the item's rows in four quarters, one row of each in turn
   * (each y is its own: the same bits in any order). Where x comes from
   * memory one sequential stream reads slower than four (bench/stream_model
   * on the Intel VM, 256 MiB: 15-16 against 18-21 GB/s; a streaming copy 20
   * against 30). kernel_ab.sh against the one-stream walk, 2026-12-04: units
   * 1x256x512x512 GN+SiLU 0.85, 1x512x256x256 0.90; 2x320x64x64 fused 0.93,
   * 2x640x32x32 0.99, 1x512x128x128 units 1.00. */
  const int64_t q4 = np / 4;
  const float *x0 = x;
  float *y0 = y;
  for (int64_t r = 0; r < np; ++r) {
    const int64_t p = r < 4 * q4 ? (r % 4) * q4 + r / 4 : r;
    x = x0 + p * ld;
    y = y0 + p * ld;
#line 493 "templates/gn_nhwc.c.in"
    int64_t j = 0;
    const int pf = pfr > 0 && p + pfr < np; /* the item's own rows only; see PF_ROWS */
    for (; j + 4 * GNK_VL <= C; j += 4 * GNK_VL) {
      if (pf && pfl1)
        for (int64_t l = 0; l < 4 * GNK_VL; l += LINE) PF_ROWS_L1(x + pfr * ld + j + l);
      else if (pf)
        for (int64_t l = 0; l < 4 * GNK_VL; l += LINE) PF_ROWS(x + pfr * ld + j + l);
#line 501 "templates/gn_nhwc.c.in"
      const vf z0 = v_fma(v_load(x + j + 0 * GNK_VL), v_load(scale + j + 0 * GNK_VL), v_load(shift + j + 0 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z1 = v_fma(v_load(x + j + 1 * GNK_VL), v_load(scale + j + 1 * GNK_VL), v_load(shift + j + 1 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z2 = v_fma(v_load(x + j + 2 * GNK_VL), v_load(scale + j + 2 * GNK_VL), v_load(shift + j + 2 * GNK_VL));
#line 501 "templates/gn_nhwc.c.in"
      const vf z3 = v_fma(v_load(x + j + 3 * GNK_VL), v_load(scale + j + 3 * GNK_VL), v_load(shift + j + 3 * GNK_VL));
#line 504 "templates/gn_nhwc.c.in"
      vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_div_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 507 "templates/gn_nhwc.c.in"
      v_stream(y + j + 0 * GNK_VL, s_z0);
#line 507 "templates/gn_nhwc.c.in"
      v_stream(y + j + 1 * GNK_VL, s_z1);
#line 507 "templates/gn_nhwc.c.in"
      v_stream(y + j + 2 * GNK_VL, s_z2);
#line 507 "templates/gn_nhwc.c.in"
      v_stream(y + j + 3 * GNK_VL, s_z3);
#line 509 "templates/gn_nhwc.c.in"
    }
    for (; j < C; j += GNK_VL) {
      const int64_t w = C - j < GNK_VL ? C - j : GNK_VL;
      const vf z = v_fma(v_load_tail(x + j, w), v_load_tail(scale + j, w), v_load_tail(shift + j, w));
      v_store_tail(y + j, v_silu_div(z), w);
    }
  }
#line 550 "templates/gn_nhwc.c.in"
}

#line 554 "templates/gn_nhwc.c.in"
/* Values from y to its next cache line (GNK_NT_LINE): 0 when y is on one. */
static inline int64_t line_head(const void *y) { return gnk_floats_to_boundary(y, GNK_NT_LINE); }

/* The streaming-store apply of one item's np whole rows of C channels (ld ==
 * C, rows of whole cache lines, C <= TILE) where y is off a line
 * (a caller's malloc or numpy buffer: 16 bytes past a 64-byte line): the rows
 * are walked `head` values later, so that every shifted row of C values
 * starts aligned, with each channel's parameters rotated to its place in the
 * shifted row; the first `head` values and the last row's rest go by regular
 * stores. Each y is computed as apply_item's: the same bits. Before this
 * (2026-12-04) such a y took regular stores throughout: on the Intel VM
 * (bench/kernel_ab.sh, 1x512x256x256 GN+SiLU, YOFF=4) 25.6-26.3 ms against
 * 18.9-21.6 with an aligned y. */
static void apply_item_shifted(const float *x, float *y, int64_t C, int64_t np, int64_t pfr, int pfl1, const float *sub,
                               const float *scale, const float *shift, int folded) {
  const int64_t head = line_head(y); /* 0 < head < C */
  float rs[TILE], rk[TILE], rh[TILE]; /* at c: channel (c + head) mod C */
  for (int64_t c = 0; c < C; ++c) {
    const int64_t src = c + head < C ? c + head : c + head - C;
    rs[c] = sub[src];
    rk[c] = scale[src];
    rh[c] = shift[src];
  }
  const int64_t last = (np - 1) * C + head;
  if (folded) {
    apply_item_folded(x, y, head, C, 1, 0, pfl1, sub, scale, shift);
    apply_item_folded_nt(x + head, y + head, C, C, np - 1, pfr, pfl1, rs, rk, rh);
    apply_item_folded(x + last, y + last, C - head, C, 1, 0, pfl1, sub + head, scale + head, shift + head);
  } else {
    apply_item(x, y, head, C, 1, 0, pfl1, sub, scale, shift);
    apply_item_nt(x + head, y + head, C, C, np - 1, pfr, pfl1, rs, rk, rh);
    apply_item(x + last, y + last, C - head, C, 1, 0, pfl1, sub + head, scale + head, shift + head);
  }
}

#line 590 "templates/gn_nhwc.c.in"
/* y = act((x - sub[c]) * scale[c] + shift[c]) over the items' rows. When the
 * runtime folded every mean of the unit into shift (sub all 0), one FMA
 * per vector does it. */
static void apply(const gnk_kargs *a, int64_t item0, int64_t item1) {
  const int64_t C = 640LL, S = a->s, ld = C * a->nblk;
#line 596 "templates/gn_nhwc.c.in"
  /* every row on a cache line (rows of whole lines), or apply_item_shifted */
  const int lines = C % GNK_VL == 0 && C * sizeof(float) % GNK_NT_LINE == 0;
  const int streamed = lines && line_head(a->y) == 0;
  const int shifted = lines && !streamed && a->nblk == 1 && C <= TILE;
#line 601 "templates/gn_nhwc.c.in"
  for (int64_t it = item0; it < item1; ++it) {
    const int64_t n = it / a->nchunk, p0 = (it % a->nchunk) * a->chunk;
    const int64_t np = S - p0 < a->chunk ? S - p0 : a->chunk;
    const float *x = (const float *)a->x + unit_row(a, n, p0);
    float *y = (float *)a->y + unit_row(a, n, p0);
    const float *sub = a->sub + n * C, *scale = a->scale + n * C, *shift = a->shift + n * C;
    const int folded = all_zero(sub, C);
#line 609 "templates/gn_nhwc.c.in"
    if (streamed) {
      if (folded) apply_item_folded_nt(x, y, C, ld, np, a->pf_rows, a->pf_l1, sub, scale, shift);
      else apply_item_nt(x, y, C, ld, np, a->pf_rows, a->pf_l1, sub, scale, shift);
      continue;
    }
    if (shifted) {
      apply_item_shifted(x, y, C, np, a->pf_rows, a->pf_l1, sub, scale, shift, folded);
      continue;
    }
#line 619 "templates/gn_nhwc.c.in"
    if (folded) apply_item_folded(x, y, C, ld, np, a->pf_rows, a->pf_l1, sub, scale, shift);
    else apply_item(x, y, C, ld, np, a->pf_rows, a->pf_l1, sub, scale, shift);
  }
#line 623 "templates/gn_nhwc.c.in"
  if (streamed || shifted) v_fence(); /* order the streamed stores before the caller reads y */
#line 625 "templates/gn_nhwc.c.in"
}

/* The normalization of item ia (rows of unit n: a sample, or a channel block
 * of one) fused with the statistics of item is (the same rows of the next
 * unit): four rows at a time, each column vector is normalized in unit n and
 * summed in the next in one loop, so the reads of the next unit overlap the
 * arithmetic and the stores of n.
 * The sums are acc_rows'/acc_row's (same order per column) and y is apply's
 * (element by element the same operations), so the bits do not depend on
 * which path ran. One channel tile of whole vectors, y aligned for the streaming stores,
 * items of more than one row (piece_exact sums one-row items); otherwise the
 * two phases run one after the other. */
static void fused(const gnk_kargs *a, int64_t ia, int64_t is) {
  const int64_t C = 640LL, G = 32LL, D = C / G, S = a->s, ld = C * a->nblk;
  const int64_t na = ia / a->nchunk, nb = is / a->nchunk, k = ia % a->nchunk, p0 = k * a->chunk;
  const int64_t np = S - p0 < a->chunk ? S - p0 : a->chunk;
  float *y = (float *)a->y + unit_row(a, na, p0);
  const int aligned = line_head(a->y) == 0 && C * sizeof(float) % GNK_NT_LINE == 0;
  if (is % a->nchunk != k || C > TILE || C % GNK_VL != 0 || !aligned || np == 1) {
    apply(a, ia, ia + 1);
    stats(a, is, is + 1);
    return;
  }
  (void)G;
  const float *x = (const float *)a->x + unit_row(a, na, p0), *xs = (const float *)a->x + unit_row(a, nb, p0);
  const float *sub = a->sub + na * C, *scale = a->scale + na * C, *shift = a->shift + na * C;
  const int folded = all_zero(sub, C);
  float kk[TILE], ss[TILE], qq[TILE];
  const int64_t pfr = a->pf_rows;
  tile_shift(xs, ld, np, 0, C, D, kk);
  for (int64_t j = 0; j < C; j += GNK_VL) {
    v_store(ss + j, v_zero());
    v_store(qq + j, v_zero());
  }
  int64_t p = 0;
#line 662 "templates/gn_nhwc.c.in"
  if (folded) { /* the means folded into shift: one FMA */
#line 702 "templates/gn_nhwc.c.in"
    for (; p + ROWS <= np; p += ROWS) {
      const int pf = pfr > 0 && p + pfr + ROWS <= np; /* as acc_rows */
      for (int64_t j = 0; j < C; j += GNK_VL) {
        if (pf) pf_step(xs + (p + pfr) * ld, ld, j);
#line 709 "templates/gn_nhwc.c.in"
        const vf vk = v_load(scale + j), vh = v_load(shift + j), km = v_load(kk + j);
#line 711 "templates/gn_nhwc.c.in"
        const vf z0 = v_fma(v_load(x + (p + 0) * ld + j), vk, vh);
#line 711 "templates/gn_nhwc.c.in"
        const vf z1 = v_fma(v_load(x + (p + 1) * ld + j), vk, vh);
#line 711 "templates/gn_nhwc.c.in"
        const vf z2 = v_fma(v_load(x + (p + 2) * ld + j), vk, vh);
#line 711 "templates/gn_nhwc.c.in"
        const vf z3 = v_fma(v_load(x + (p + 3) * ld + j), vk, vh);
#line 714 "templates/gn_nhwc.c.in"
        const vf t0 = v_sub(v_load(xs + (p + 0) * ld + j), km);
#line 714 "templates/gn_nhwc.c.in"
        const vf t1 = v_sub(v_load(xs + (p + 1) * ld + j), km);
#line 714 "templates/gn_nhwc.c.in"
        const vf t2 = v_sub(v_load(xs + (p + 2) * ld + j), km);
#line 714 "templates/gn_nhwc.c.in"
        const vf t3 = v_sub(v_load(xs + (p + 3) * ld + j), km);
#line 716 "templates/gn_nhwc.c.in"
        v_store(ss + j, v_add(v_load(ss + j), v_add(v_add(t0, t1), v_add(t2, t3))));
        v_store(qq + j, v_add(v_load(qq + j), v_add(v_fma(t1, t1, v_mul(t0, t0)), v_fma(t3, t3, v_mul(t2, t2)))));
#line 719 "templates/gn_nhwc.c.in"
        vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_div_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 722 "templates/gn_nhwc.c.in"
        v_stream(y + (p + 0) * ld + j, s_z0);
#line 722 "templates/gn_nhwc.c.in"
        v_stream(y + (p + 1) * ld + j, s_z1);
#line 722 "templates/gn_nhwc.c.in"
        v_stream(y + (p + 2) * ld + j, s_z2);
#line 722 "templates/gn_nhwc.c.in"
        v_stream(y + (p + 3) * ld + j, s_z3);
#line 724 "templates/gn_nhwc.c.in"
      }
    }
    for (; p < np; ++p) {
      for (int64_t j = 0; j < C; j += GNK_VL) {
#line 731 "templates/gn_nhwc.c.in"
        const vf vk = v_load(scale + j), vh = v_load(shift + j);
        const vf z = v_fma(v_load(x + p * ld + j), vk, vh);
        v_stream(y + p * ld + j, v_silu_div(z));
      }
      acc_row(xs + p * ld, C, kk, ss, qq);
    }
#line 662 "templates/gn_nhwc.c.in"
  } else { /* x - sub, then the FMA */
#line 702 "templates/gn_nhwc.c.in"
    for (; p + ROWS <= np; p += ROWS) {
      const int pf = pfr > 0 && p + pfr + ROWS <= np; /* as acc_rows */
      for (int64_t j = 0; j < C; j += GNK_VL) {
        if (pf) pf_step(xs + (p + pfr) * ld, ld, j);
#line 707 "templates/gn_nhwc.c.in"
        const vf vs = v_load(sub + j);
#line 709 "templates/gn_nhwc.c.in"
        const vf vk = v_load(scale + j), vh = v_load(shift + j), km = v_load(kk + j);
#line 711 "templates/gn_nhwc.c.in"
        const vf z0 = v_fma(v_sub(v_load(x + (p + 0) * ld + j), vs), vk, vh);
#line 711 "templates/gn_nhwc.c.in"
        const vf z1 = v_fma(v_sub(v_load(x + (p + 1) * ld + j), vs), vk, vh);
#line 711 "templates/gn_nhwc.c.in"
        const vf z2 = v_fma(v_sub(v_load(x + (p + 2) * ld + j), vs), vk, vh);
#line 711 "templates/gn_nhwc.c.in"
        const vf z3 = v_fma(v_sub(v_load(x + (p + 3) * ld + j), vs), vk, vh);
#line 714 "templates/gn_nhwc.c.in"
        const vf t0 = v_sub(v_load(xs + (p + 0) * ld + j), km);
#line 714 "templates/gn_nhwc.c.in"
        const vf t1 = v_sub(v_load(xs + (p + 1) * ld + j), km);
#line 714 "templates/gn_nhwc.c.in"
        const vf t2 = v_sub(v_load(xs + (p + 2) * ld + j), km);
#line 714 "templates/gn_nhwc.c.in"
        const vf t3 = v_sub(v_load(xs + (p + 3) * ld + j), km);
#line 716 "templates/gn_nhwc.c.in"
        v_store(ss + j, v_add(v_load(ss + j), v_add(v_add(t0, t1), v_add(t2, t3))));
        v_store(qq + j, v_add(v_load(qq + j), v_add(v_fma(t1, t1, v_mul(t0, t0)), v_fma(t3, t3, v_mul(t2, t2)))));
#line 719 "templates/gn_nhwc.c.in"
        vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_div_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 722 "templates/gn_nhwc.c.in"
        v_stream(y + (p + 0) * ld + j, s_z0);
#line 722 "templates/gn_nhwc.c.in"
        v_stream(y + (p + 1) * ld + j, s_z1);
#line 722 "templates/gn_nhwc.c.in"
        v_stream(y + (p + 2) * ld + j, s_z2);
#line 722 "templates/gn_nhwc.c.in"
        v_stream(y + (p + 3) * ld + j, s_z3);
#line 724 "templates/gn_nhwc.c.in"
      }
    }
    for (; p < np; ++p) {
      for (int64_t j = 0; j < C; j += GNK_VL) {
#line 729 "templates/gn_nhwc.c.in"
        const vf vs = v_load(sub + j);
#line 731 "templates/gn_nhwc.c.in"
        const vf vk = v_load(scale + j), vh = v_load(shift + j);
        const vf z = v_fma(v_sub(v_load(x + p * ld + j), vs), vk, vh);
        v_stream(y + p * ld + j, v_silu_div(z));
      }
      acc_row(xs + p * ld, C, kk, ss, qq);
    }
#line 738 "templates/gn_nhwc.c.in"
  }
#line 740 "templates/gn_nhwc.c.in"
  v_fence(); /* order the streamed stores before the caller reads y */
#line 742 "templates/gn_nhwc.c.in"
  tile_finish(a, nb, k, xs, np, 0, C, kk, ss, qq);
}

const gnk_kernel_fns gnk_f32_nhwc_gnsilu_g32c640__avx2_u4_nt_row_div = {stats, apply, fused};
