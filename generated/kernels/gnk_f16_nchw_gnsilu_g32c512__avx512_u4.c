/* Auto-generated file. Do not edit!
 *   Generator: gen/gnk_gen.lua
 *   Template:  templates/gn_nchw.c.in
 *   Arguments: dtype=f16 layout=nchw act=silu groups=32 channels=512 isa=avx512 unroll=4 store=st order=blk
 * Regenerate with `make gen`; `make check-gen` verifies this file. */
#line 30 "templates/gn_nchw.c.in"
#include "gnk_kernel_abi.h"
#include "isa/gnk_vec_avx512.h"
#include "gnk_half.h"

/* Partial statistics of `len` contiguous values (the runtime picks
 * len <= 16 KiB, so a run sits in L1). One pass, shifted by k, an estimate of
 * the mean from a sample of the run: sums of t = x - k and t^2 in 4 f32
 * accumulator pairs (hiding the add latency), then mean = k + s/len and
 * M2 = q - s^2/len in double. A shift near the mean keeps the sums small
 * where |mean| >> std and the squares nearly as accurate as a second pass.
 * Where k still lands far from the mean (s^2/len > 7/8 q: more than 3 bits
 * would cancel), the run is summed again around the mean just estimated (the
 * corrected two-pass algorithm); if that cancels too (f32 squares that
 * overflowed, |x| beyond ~1e18), the run is redone exactly in double. */
static void stats_exact(const uint16_t *p, int64_t len, gnk_partial *out) {
  double sm = 0.0;
  for (int64_t j = 0; j < len; ++j) sm += (double)gnk_f16_to_f32(p[j]);
  const double m = sm / (double)len;
  double q = 0.0;
  for (int64_t j = 0; j < len; ++j) {
    const double t = (double)gnk_f16_to_f32(p[j]) - m;
    q += t * t;
  }
  out->mean = m;
  out->m2 = q;
  out->count = (double)len;
}

/* Sums of (x - k) and (x - k)^2 over the run. */
static void shifted_sums(const uint16_t *p, int64_t len, float k, double *s, double *sq) {
  const vf vk = v_set1(k), m1 = v_minus_one_opaque();
  (void)m1;
#line 63 "templates/gn_nchw.c.in"
  vf d0 = v_zero(), q0 = v_zero();
#line 63 "templates/gn_nchw.c.in"
  vf d1 = v_zero(), q1 = v_zero();
#line 63 "templates/gn_nchw.c.in"
  vf d2 = v_zero(), q2 = v_zero();
#line 63 "templates/gn_nchw.c.in"
  vf d3 = v_zero(), q3 = v_zero();
#line 65 "templates/gn_nchw.c.in"
  /* Blocks of 64 values per lane are summed apart and then added up
   * (cascade): no f32 chain runs longer than 64 + len / (64 * lanes) adds,
   * also where lanes are few (scalar, 4 lanes). */
  const int64_t full = len - len % (4 * GNK_VL);
  int64_t i = 0;
  while (i < full) {
    const int64_t bend = full - i < 64 * 4 * GNK_VL ? full : i + 64 * 4 * GNK_VL;
#line 73 "templates/gn_nchw.c.in"
    vf bd0 = v_zero(), bq0 = v_zero();
#line 73 "templates/gn_nchw.c.in"
    vf bd1 = v_zero(), bq1 = v_zero();
#line 73 "templates/gn_nchw.c.in"
    vf bd2 = v_zero(), bq2 = v_zero();
#line 73 "templates/gn_nchw.c.in"
    vf bd3 = v_zero(), bq3 = v_zero();
#line 75 "templates/gn_nchw.c.in"
    for (; i < bend; i += 4 * GNK_VL) {
#line 82 "templates/gn_nchw.c.in"
      const vf t0 = v_sub(v_load_f16(p + i + 0 * GNK_VL), vk);
#line 84 "templates/gn_nchw.c.in"
      bd0 = v_add(bd0, t0);
      bq0 = v_fma(t0, t0, bq0);
#line 80 "templates/gn_nchw.c.in"
      const vf t1 = v_sub_fma(v_load_f16(p + i + 1 * GNK_VL), vk, m1);
#line 84 "templates/gn_nchw.c.in"
      bd1 = v_add(bd1, t1);
      bq1 = v_fma(t1, t1, bq1);
#line 82 "templates/gn_nchw.c.in"
      const vf t2 = v_sub(v_load_f16(p + i + 2 * GNK_VL), vk);
#line 84 "templates/gn_nchw.c.in"
      bd2 = v_add(bd2, t2);
      bq2 = v_fma(t2, t2, bq2);
#line 80 "templates/gn_nchw.c.in"
      const vf t3 = v_sub_fma(v_load_f16(p + i + 3 * GNK_VL), vk, m1);
#line 84 "templates/gn_nchw.c.in"
      bd3 = v_add(bd3, t3);
      bq3 = v_fma(t3, t3, bq3);
#line 87 "templates/gn_nchw.c.in"
    }
#line 89 "templates/gn_nchw.c.in"
    d0 = v_add(d0, bd0);
    q0 = v_add(q0, bq0);
#line 89 "templates/gn_nchw.c.in"
    d1 = v_add(d1, bd1);
    q1 = v_add(q1, bq1);
#line 89 "templates/gn_nchw.c.in"
    d2 = v_add(d2, bd2);
    q2 = v_add(q2, bq2);
#line 89 "templates/gn_nchw.c.in"
    d3 = v_add(d3, bd3);
    q3 = v_add(q3, bq3);
#line 92 "templates/gn_nchw.c.in"
  }
  for (; i + GNK_VL <= len; i += GNK_VL) {
    const vf t = v_sub(v_load_f16(p + i), vk);
    d0 = v_add(d0, t);
    q0 = v_fma(t, t, q0);
  }
  if (i < len) {
    const vf t = v_sub_tail(v_load_tail_f16(p + i, len - i), vk, len - i);
    d0 = v_add(d0, t);
    q0 = v_fma(t, t, q0);
  }
#line 104 "templates/gn_nchw.c.in"
  d0 = v_add(d0, d1);
  q0 = v_add(q0, q1);
#line 104 "templates/gn_nchw.c.in"
  d0 = v_add(d0, d2);
  q0 = v_add(q0, q2);
#line 104 "templates/gn_nchw.c.in"
  d0 = v_add(d0, d3);
  q0 = v_add(q0, q3);
#line 107 "templates/gn_nchw.c.in"
  *s = (double)v_hsum(d0);
  *sq = (double)v_hsum(q0);
}

static inline int cancels(double s, double q, double n) { return q > 3.0e38 || s * s > 0.875 * n * q; }

/* The shift of a run: the mean of 16 values spread over it (its first value
 * alone lies far from the mean where the data trends along the run). */
static float shift_of(const uint16_t *p, int64_t len) {
  float k = gnk_f16_to_f32(p[0]);
  if (len >= 16) { /* four partial sums: not one chain of 16 dependent adds */
    const int64_t st = len / 16;
    float sk[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t j = 0; j < 16; ++j) sk[j % 4] += gnk_f16_to_f32(p[j * st]);
    k = ((sk[0] + sk[1]) + (sk[2] + sk[3])) * (1.0f / 16.0f);
  }
  return k;
}

/* Prefetch the values shift_of() will read in the run after this one (the
 * tensor's next len values): a run's sums wait on its shift, and where x
 * streams from memory each run's 16 scattered loads would be one memory
 * round trip before its sums can start. A hint only: no value changes. */
static inline void prefetch_next_shift(const uint16_t *p, int64_t len) {
  if (len >= 16)
    for (int64_t j = 0; j < 16; ++j) __builtin_prefetch(p + len + j * (len / 16), 0, 3);
}

/* Mean and M2 of the run from its sums shifted by k, or summed again where
 * they cancel (see above). */
static void finish_run(const uint16_t *p, int64_t len, float k, double ds, double q, gnk_partial *out) {
  const double dn = (double)len;
  if (cancels(ds, q, dn)) {
    k = (float)((double)k + ds / dn);
    shifted_sums(p, len, k, &ds, &q);
    if (cancels(ds, q, dn)) {
      stats_exact(p, len, out);
      return;
    }
  }
  out->mean = (double)k + ds / dn; /* a NaN or Inf in the run reaches mean and m2 from here */
  out->m2 = q - ds * ds / dn;
  out->count = dn;
}

static void stats_run(const uint16_t *p, int64_t len, gnk_partial *out) {
  const float k = shift_of(p, len);
  prefetch_next_shift(p, len);
  double ds, q;
  shifted_sums(p, len, k, &ds, &q);
  finish_run(p, len, k, ds, q, out);
}

/* The apply's prefetch of the next group's x (prefetch_next): into L1 when
 * the tensor fits in L2 (the group is there already), into L2 when it streams
 * from L3 or memory (measured 3-11% faster there, 4-6% slower on 8x8 images). */
#define PREFETCH(p, l2) ((l2) ? __builtin_prefetch((p), 0, 2) : __builtin_prefetch((p), 0, 3))

#line 177 "templates/gn_nchw.c.in"
/* y = act((x - sub) * scale + shift) over `len` contiguous values of one channel. */
#line 185 "templates/gn_nchw.c.in"
static void apply_run(const uint16_t *x, uint16_t *y, int64_t len, float sub, float scale, float shift, const uint16_t *pf, int pf_l2) {
#line 190 "templates/gn_nchw.c.in"
  const vf vs = v_set1(sub), vk = v_set1(scale), vh = v_set1(shift);
#line 192 "templates/gn_nchw.c.in"
  int64_t i = 0;
#line 204 "templates/gn_nchw.c.in"
  for (; i + 4 * GNK_VL <= len; i += 4 * GNK_VL) {
#line 206 "templates/gn_nchw.c.in"
    if (pf) PREFETCH(pf + i + 0 * GNK_VL, pf_l2);
#line 206 "templates/gn_nchw.c.in"
    if (pf) PREFETCH(pf + i + 1 * GNK_VL, pf_l2);
#line 206 "templates/gn_nchw.c.in"
    if (pf) PREFETCH(pf + i + 2 * GNK_VL, pf_l2);
#line 206 "templates/gn_nchw.c.in"
    if (pf) PREFETCH(pf + i + 3 * GNK_VL, pf_l2);
#line 209 "templates/gn_nchw.c.in"
    const vf z0 = v_fma(v_sub(v_load_f16(x + i + 0 * GNK_VL), vs), vk, vh);
#line 209 "templates/gn_nchw.c.in"
    const vf z1 = v_fma(v_sub(v_load_f16(x + i + 1 * GNK_VL), vs), vk, vh);
#line 209 "templates/gn_nchw.c.in"
    const vf z2 = v_fma(v_sub(v_load_f16(x + i + 2 * GNK_VL), vs), vk, vh);
#line 209 "templates/gn_nchw.c.in"
    const vf z3 = v_fma(v_sub(v_load_f16(x + i + 3 * GNK_VL), vs), vk, vh);
#line 212 "templates/gn_nchw.c.in"
    vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 215 "templates/gn_nchw.c.in"
    v_store_f16(y + i + 0 * GNK_VL, s_z0);
#line 215 "templates/gn_nchw.c.in"
    v_store_f16(y + i + 1 * GNK_VL, s_z1);
#line 215 "templates/gn_nchw.c.in"
    v_store_f16(y + i + 2 * GNK_VL, s_z2);
#line 215 "templates/gn_nchw.c.in"
    v_store_f16(y + i + 3 * GNK_VL, s_z3);
#line 217 "templates/gn_nchw.c.in"
  }
  for (; i + GNK_VL <= len; i += GNK_VL) {
    const vf z = v_fma(v_sub(v_load_f16(x + i), vs), vk, vh);
    v_store_f16(y + i, v_silu(z));
  }
  if (i < len) {
    const vf z = v_fma(v_sub(v_load_tail_f16(x + i, len - i), vs), vk, vh);
    v_store_tail_f16(y + i, v_silu(z), len - i);
  }
}

#line 182 "templates/gn_nchw.c.in"
/* The same with sub == 0 (the runtime folds the mean into shift when that
 * is exact enough): one FMA per vector instead of a subtraction and an FMA. */
#line 185 "templates/gn_nchw.c.in"
static void apply_run_folded(const uint16_t *x, uint16_t *y, int64_t len, float sub, float scale, float shift, const uint16_t *pf, int pf_l2) {
#line 187 "templates/gn_nchw.c.in"
  (void)sub;
  const vf vk = v_set1(scale), vh = v_set1(shift);
#line 192 "templates/gn_nchw.c.in"
  int64_t i = 0;
#line 204 "templates/gn_nchw.c.in"
  for (; i + 4 * GNK_VL <= len; i += 4 * GNK_VL) {
#line 206 "templates/gn_nchw.c.in"
    if (pf) PREFETCH(pf + i + 0 * GNK_VL, pf_l2);
#line 206 "templates/gn_nchw.c.in"
    if (pf) PREFETCH(pf + i + 1 * GNK_VL, pf_l2);
#line 206 "templates/gn_nchw.c.in"
    if (pf) PREFETCH(pf + i + 2 * GNK_VL, pf_l2);
#line 206 "templates/gn_nchw.c.in"
    if (pf) PREFETCH(pf + i + 3 * GNK_VL, pf_l2);
#line 209 "templates/gn_nchw.c.in"
    const vf z0 = v_fma(v_load_f16(x + i + 0 * GNK_VL), vk, vh);
#line 209 "templates/gn_nchw.c.in"
    const vf z1 = v_fma(v_load_f16(x + i + 1 * GNK_VL), vk, vh);
#line 209 "templates/gn_nchw.c.in"
    const vf z2 = v_fma(v_load_f16(x + i + 2 * GNK_VL), vk, vh);
#line 209 "templates/gn_nchw.c.in"
    const vf z3 = v_fma(v_load_f16(x + i + 3 * GNK_VL), vk, vh);
#line 212 "templates/gn_nchw.c.in"
    vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 215 "templates/gn_nchw.c.in"
    v_store_f16(y + i + 0 * GNK_VL, s_z0);
#line 215 "templates/gn_nchw.c.in"
    v_store_f16(y + i + 1 * GNK_VL, s_z1);
#line 215 "templates/gn_nchw.c.in"
    v_store_f16(y + i + 2 * GNK_VL, s_z2);
#line 215 "templates/gn_nchw.c.in"
    v_store_f16(y + i + 3 * GNK_VL, s_z3);
#line 217 "templates/gn_nchw.c.in"
  }
  for (; i + GNK_VL <= len; i += GNK_VL) {
    const vf z = v_fma(v_load_f16(x + i), vk, vh);
    v_store_f16(y + i, v_silu(z));
  }
  if (i < len) {
    const vf z = v_fma(v_load_tail_f16(x + i, len - i), vk, vh);
    v_store_tail_f16(y + i, v_silu(z), len - i);
  }
}

#line 229 "templates/gn_nchw.c.in"
/* Rows that are not whole vectors (S % GNK_VL != 0, S > GNK_VL: 7x7 and
 * 14x14 images), cut row by row, end in a masked vector each and start off
 * the vector grid: a row of 49 values takes four vectors, three of them
 * whole, and the SiLU runs on all four. Here values [i, end) of a group are
 * walked on the group's own vector grid instead: the vectors inside row q
 * use its parameters, the one across the end of row q takes row q+1's in the
 * lanes past it (S > GNK_VL: a vector spans at most two rows), and only the
 * range's last vector is masked. GN+SiLU always walks this way (Zen 4,
 * AVX-512, bench/kernel_ab.sh units: 0.88 of the row walk at S = 49, 0.91 at
 * 100, 0.95 at 196; AVX2 at S = 25: 0.77); GN and GN+ReLU for rows shorter
 * than GNK_FLAT_ROWS_MAX values, set by each ISA header: on Zen 4 with
 * AVX-512 the row walk's folded rows (one FMA, no subtraction) won at S =
 * 100-196 (1.02-1.05) and lost at 17-81 (0.93-0.95), hence 4 vectors; on Zen
 * 3 with AVX2 the masked store (vmaskmovps, 41% of the apply's samples at S
 * = 49) makes the flat walk faster at every S tried (0.69-0.86 at S = 36-49,
 * 0.88-0.97 at 81-1225). The parameters of channel q are ps/pk/ph[q], row
 * q ends at row_end + q * S. Per value the same operations as apply_run
 * (x - sub, then the FMA; a folded channel's sub is 0, and the vector across
 * two rows computes x - 0, which is x), so the same bits as the row walk.
 * With streaming stores the caller passes y + i aligned: every whole vector
 * on the grid is then aligned. The loops over a row's whole vectors repeat
 * apply_run's: calling apply_run / apply_run_folded instead measured
 * 1.04-1.09 of the row walk at S = 49 (GN; GN+SiLU 0.99), inline 0.88-0.93. */
static void apply_flat(const uint16_t *x, uint16_t *y, int64_t i, int64_t end, int64_t S, int64_t row_end, const float *ps,
                       const float *pk, const float *ph, const uint16_t *pf, int pf_l2) {
  for (int64_t q = 0; i < end; ++q, row_end += S) {
    const vf vs = v_set1(ps[q]), vk = v_set1(pk[q]), vh = v_set1(ph[q]);
    const int64_t stop = row_end < end ? row_end : end;
#line 259 "templates/gn_nchw.c.in"
    if (ps[q] == 0.0f) { /* the mean folded into shift: one FMA */
      for (; i + 4 * GNK_VL <= stop; i += 4 * GNK_VL) {
#line 262 "templates/gn_nchw.c.in"
        if (pf) PREFETCH(pf + i + 0 * GNK_VL, pf_l2);
#line 262 "templates/gn_nchw.c.in"
        if (pf) PREFETCH(pf + i + 1 * GNK_VL, pf_l2);
#line 262 "templates/gn_nchw.c.in"
        if (pf) PREFETCH(pf + i + 2 * GNK_VL, pf_l2);
#line 262 "templates/gn_nchw.c.in"
        if (pf) PREFETCH(pf + i + 3 * GNK_VL, pf_l2);
#line 265 "templates/gn_nchw.c.in"
        const vf z0 = v_fma(v_load_f16(x + i + 0 * GNK_VL), vk, vh);
#line 265 "templates/gn_nchw.c.in"
        const vf z1 = v_fma(v_load_f16(x + i + 1 * GNK_VL), vk, vh);
#line 265 "templates/gn_nchw.c.in"
        const vf z2 = v_fma(v_load_f16(x + i + 2 * GNK_VL), vk, vh);
#line 265 "templates/gn_nchw.c.in"
        const vf z3 = v_fma(v_load_f16(x + i + 3 * GNK_VL), vk, vh);
#line 268 "templates/gn_nchw.c.in"
        vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 271 "templates/gn_nchw.c.in"
        v_store_f16(y + i + 0 * GNK_VL, s_z0);
#line 271 "templates/gn_nchw.c.in"
        v_store_f16(y + i + 1 * GNK_VL, s_z1);
#line 271 "templates/gn_nchw.c.in"
        v_store_f16(y + i + 2 * GNK_VL, s_z2);
#line 271 "templates/gn_nchw.c.in"
        v_store_f16(y + i + 3 * GNK_VL, s_z3);
#line 273 "templates/gn_nchw.c.in"
      }
      for (; i + GNK_VL <= stop; i += GNK_VL) {
        const vf z = v_fma(v_load_f16(x + i), vk, vh);
        v_store_f16(y + i, v_silu(z));
      }
#line 259 "templates/gn_nchw.c.in"
    } else {
      for (; i + 4 * GNK_VL <= stop; i += 4 * GNK_VL) {
#line 262 "templates/gn_nchw.c.in"
        if (pf) PREFETCH(pf + i + 0 * GNK_VL, pf_l2);
#line 262 "templates/gn_nchw.c.in"
        if (pf) PREFETCH(pf + i + 1 * GNK_VL, pf_l2);
#line 262 "templates/gn_nchw.c.in"
        if (pf) PREFETCH(pf + i + 2 * GNK_VL, pf_l2);
#line 262 "templates/gn_nchw.c.in"
        if (pf) PREFETCH(pf + i + 3 * GNK_VL, pf_l2);
#line 265 "templates/gn_nchw.c.in"
        const vf z0 = v_fma(v_sub(v_load_f16(x + i + 0 * GNK_VL), vs), vk, vh);
#line 265 "templates/gn_nchw.c.in"
        const vf z1 = v_fma(v_sub(v_load_f16(x + i + 1 * GNK_VL), vs), vk, vh);
#line 265 "templates/gn_nchw.c.in"
        const vf z2 = v_fma(v_sub(v_load_f16(x + i + 2 * GNK_VL), vs), vk, vh);
#line 265 "templates/gn_nchw.c.in"
        const vf z3 = v_fma(v_sub(v_load_f16(x + i + 3 * GNK_VL), vs), vk, vh);
#line 268 "templates/gn_nchw.c.in"
        vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 271 "templates/gn_nchw.c.in"
        v_store_f16(y + i + 0 * GNK_VL, s_z0);
#line 271 "templates/gn_nchw.c.in"
        v_store_f16(y + i + 1 * GNK_VL, s_z1);
#line 271 "templates/gn_nchw.c.in"
        v_store_f16(y + i + 2 * GNK_VL, s_z2);
#line 271 "templates/gn_nchw.c.in"
        v_store_f16(y + i + 3 * GNK_VL, s_z3);
#line 273 "templates/gn_nchw.c.in"
      }
      for (; i + GNK_VL <= stop; i += GNK_VL) {
        const vf z = v_fma(v_sub(v_load_f16(x + i), vs), vk, vh);
        v_store_f16(y + i, v_silu(z));
      }
#line 279 "templates/gn_nchw.c.in"
    }
    if (i < stop) { /* the vector across the end of row q, or the range's last */
      const int64_t w = end - i < GNK_VL ? end - i : GNK_VL, in_q = stop - i;
      vf s = vs, k = vk, h = vh;
      if (in_q < w) { /* lanes in_q.. belong to row q + 1, inside the range */
        s = v_blend_lanes(vs, v_set1(ps[q + 1]), in_q);
        k = v_blend_lanes(vk, v_set1(pk[q + 1]), in_q);
        h = v_blend_lanes(vh, v_set1(ph[q + 1]), in_q);
      }
      if (w == GNK_VL) {
        const vf z = v_fma(v_sub(v_load_f16(x + i), s), k, h);
        v_store_f16(y + i, v_silu(z));
      } else {
        const vf z = v_fma(v_sub(v_load_tail_f16(x + i, w), s), k, h);
        v_store_tail_f16(y + i, v_silu(z), w);
      }
      i += w;
    }
  }
}

static void stats(const gnk_kargs *a, int64_t item0, int64_t item1) {
  const int64_t C = 512LL, G = 32LL, gsize = (C / G) * a->s;
  for (int64_t it = item0; it < item1; ++it) {
    const int64_t ng = it / a->nchunk, start = (it % a->nchunk) * a->chunk;
    const int64_t len = gsize - start < a->chunk ? gsize - start : a->chunk;
    stats_run((const uint16_t *)a->x + ng * gsize + start, len, &a->part[it]);
  }
}

static void apply(const gnk_kargs *a, int64_t item0, int64_t item1) {
  const int64_t C = 512LL, G = 32LL, D = C / G, S = a->s, gsize = D * S;
  for (int64_t it = item0; it < item1; ++it) {
    const int64_t ng = it / a->nchunk, n = ng / G, g = ng % G;
    int64_t e = (it % a->nchunk) * a->chunk;
    const int64_t end = gsize - e < a->chunk ? gsize : e + a->chunk;
    const uint16_t *x = (const uint16_t *)a->x + ng * gsize;
    uint16_t *y = (uint16_t *)a->y + ng * gsize;
    /* the chunk may span several channels' rows: one division per chunk,
     * not per row (rows of 8x8 images are 4 vectors long) */
    const int64_t cl0 = e / S;
    int64_t row_end = (cl0 + 1) * S < end ? (cl0 + 1) * S : end;
    const int pfn = a->prefetch_next && ng + 1 < a->n * G; /* the next unit's group follows this one */
    const int pf_l2 = a->prefetch_next == GNK_PREFETCH_L2;
    if (S % GNK_VL != 0 && S > GNK_VL) {
      const int64_t p0 = n * C + g * D + cl0;
      apply_flat(x, y, e, end, S, (cl0 + 1) * S, a->sub + p0, a->scale + p0, a->shift + p0, pfn ? x + gsize : NULL,
                 pf_l2);
      continue;
    }
    for (int64_t p = n * C + g * D + cl0; e < end; ++p) {
      const uint16_t *pf = pfn ? x + gsize + e : NULL;
      if (a->sub[p] == 0.0f) apply_run_folded(x + e, y + e, row_end - e, 0.0f, a->scale[p], a->shift[p], pf, pf_l2);
      else apply_run(x + e, y + e, row_end - e, a->sub[p], a->scale[p], a->shift[p], pf, pf_l2);
      e = row_end;
      row_end = row_end + S < end ? row_end + S : end;
    }
  }
#line 340 "templates/gn_nchw.c.in"
}

/* The normalization of chunk ia (group g) fused with the statistics of chunk
 * is (the same chunk of a group g' with the same size, in practice g + 1): one
 * loop that stores y of g and sums x of g', so the memory reads of g' overlap
 * the arithmetic and the stores of g (the SiLU above all) at the level of the
 * out-of-order window, and x of g' is read once, here. The sums are those of
 * shifted_sums (same accumulators, blocks and order) and y is that of apply
 * (the same folded and unfolded forms per row), so the bits do not depend on
 * which path ran. Rows must be whole loop steps (S and the chunk multiples of
 * 4 vectors); otherwise the two phases run one after the other. */
#ifndef FUSED_AHEAD
#define FUSED_AHEAD 1024
#endif
#line 434 "templates/gn_nchw.c.in"
static void fused(const gnk_kargs *a, int64_t ia, int64_t is) {
  const int64_t C = 512LL, G = 32LL, D = C / G, S = a->s, gsize = D * S, step = 4 * GNK_VL;
  const int64_t nga = ia / a->nchunk, ngs = is / a->nchunk, e0 = (ia % a->nchunk) * a->chunk;
  const int64_t len = gsize - e0 < a->chunk ? gsize - e0 : a->chunk;
  uint16_t *y = (uint16_t *)a->y + nga * gsize + e0;
  const int aligned = 1;
#line 448 "templates/gn_nchw.c.in"
  if (is % a->nchunk != ia % a->nchunk || S % step != 0 || a->chunk % step != 0 || !aligned) {
    apply(a, ia, ia + 1);
    stats(a, is, is + 1);
    return;
  }
  const uint16_t *x = (const uint16_t *)a->x + nga * gsize + e0, *xs = (const uint16_t *)a->x + ngs * gsize + e0;
  const int64_t n = nga / G, g = nga % G;
  int64_t p = n * C + g * D + e0 / S, row_left = S - e0 % S;
  vf vs = v_set1(a->sub[p]), vk = v_set1(a->scale[p]), vh = v_set1(a->shift[p]);
  const float k = shift_of(xs, len);
  prefetch_next_shift(xs, len);
  const vf vm = v_set1(k);
#line 461 "templates/gn_nchw.c.in"
  vf d0 = v_zero(), q0 = v_zero();
#line 461 "templates/gn_nchw.c.in"
  vf d1 = v_zero(), q1 = v_zero();
#line 461 "templates/gn_nchw.c.in"
  vf d2 = v_zero(), q2 = v_zero();
#line 461 "templates/gn_nchw.c.in"
  vf d3 = v_zero(), q3 = v_zero();
#line 463 "templates/gn_nchw.c.in"
  int64_t i = 0;
  while (i < len) {
    const int64_t bend = len - i < 64 * step ? len : i + 64 * step;
#line 467 "templates/gn_nchw.c.in"
    vf bd0 = v_zero(), bq0 = v_zero();
#line 467 "templates/gn_nchw.c.in"
    vf bd1 = v_zero(), bq1 = v_zero();
#line 467 "templates/gn_nchw.c.in"
    vf bd2 = v_zero(), bq2 = v_zero();
#line 467 "templates/gn_nchw.c.in"
    vf bd3 = v_zero(), bq3 = v_zero();
#line 469 "templates/gn_nchw.c.in"
    while (i < bend) {
      if (row_left == 0) { /* the next channel's row */
        ++p;
        row_left = S;
        vs = v_set1(a->sub[p]);
        vk = v_set1(a->scale[p]);
        vh = v_set1(a->shift[p]);
      }
      const int64_t seg_end = bend - i < row_left ? bend : i + row_left;
      row_left -= seg_end - i;
#line 481 "templates/gn_nchw.c.in"
      if (a->sub[p] == 0.0f) { /* the mean folded into shift: one FMA */
        for (; i < seg_end; i += step) {
#line 484 "templates/gn_nchw.c.in"
          const vf z0 = v_fma(v_load_f16(x + i + 0 * GNK_VL), vk, vh);
#line 484 "templates/gn_nchw.c.in"
          const vf z1 = v_fma(v_load_f16(x + i + 1 * GNK_VL), vk, vh);
#line 484 "templates/gn_nchw.c.in"
          const vf z2 = v_fma(v_load_f16(x + i + 2 * GNK_VL), vk, vh);
#line 484 "templates/gn_nchw.c.in"
          const vf z3 = v_fma(v_load_f16(x + i + 3 * GNK_VL), vk, vh);
#line 486 "templates/gn_nchw.c.in"
          if (i + FUSED_AHEAD < len) {
#line 488 "templates/gn_nchw.c.in"
            PREFETCH(xs + i + FUSED_AHEAD + 0 * GNK_VL, 0);
#line 488 "templates/gn_nchw.c.in"
            PREFETCH(xs + i + FUSED_AHEAD + 1 * GNK_VL, 0);
#line 488 "templates/gn_nchw.c.in"
            PREFETCH(xs + i + FUSED_AHEAD + 2 * GNK_VL, 0);
#line 488 "templates/gn_nchw.c.in"
            PREFETCH(xs + i + FUSED_AHEAD + 3 * GNK_VL, 0);
#line 490 "templates/gn_nchw.c.in"
          }
#line 492 "templates/gn_nchw.c.in"
          const vf t0 = v_sub(v_load_f16(xs + i + 0 * GNK_VL), vm);
          bd0 = v_add(bd0, t0);
          bq0 = v_fma(t0, t0, bq0);
#line 492 "templates/gn_nchw.c.in"
          const vf t1 = v_sub(v_load_f16(xs + i + 1 * GNK_VL), vm);
          bd1 = v_add(bd1, t1);
          bq1 = v_fma(t1, t1, bq1);
#line 492 "templates/gn_nchw.c.in"
          const vf t2 = v_sub(v_load_f16(xs + i + 2 * GNK_VL), vm);
          bd2 = v_add(bd2, t2);
          bq2 = v_fma(t2, t2, bq2);
#line 492 "templates/gn_nchw.c.in"
          const vf t3 = v_sub(v_load_f16(xs + i + 3 * GNK_VL), vm);
          bd3 = v_add(bd3, t3);
          bq3 = v_fma(t3, t3, bq3);
#line 497 "templates/gn_nchw.c.in"
          vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 500 "templates/gn_nchw.c.in"
          v_store_f16(y + i + 0 * GNK_VL, s_z0);
#line 500 "templates/gn_nchw.c.in"
          v_store_f16(y + i + 1 * GNK_VL, s_z1);
#line 500 "templates/gn_nchw.c.in"
          v_store_f16(y + i + 2 * GNK_VL, s_z2);
#line 500 "templates/gn_nchw.c.in"
          v_store_f16(y + i + 3 * GNK_VL, s_z3);
#line 502 "templates/gn_nchw.c.in"
        }
#line 481 "templates/gn_nchw.c.in"
      } else { /* x - sub, then the FMA */
        for (; i < seg_end; i += step) {
#line 484 "templates/gn_nchw.c.in"
          const vf z0 = v_fma(v_sub(v_load_f16(x + i + 0 * GNK_VL), vs), vk, vh);
#line 484 "templates/gn_nchw.c.in"
          const vf z1 = v_fma(v_sub(v_load_f16(x + i + 1 * GNK_VL), vs), vk, vh);
#line 484 "templates/gn_nchw.c.in"
          const vf z2 = v_fma(v_sub(v_load_f16(x + i + 2 * GNK_VL), vs), vk, vh);
#line 484 "templates/gn_nchw.c.in"
          const vf z3 = v_fma(v_sub(v_load_f16(x + i + 3 * GNK_VL), vs), vk, vh);
#line 486 "templates/gn_nchw.c.in"
          if (i + FUSED_AHEAD < len) {
#line 488 "templates/gn_nchw.c.in"
            PREFETCH(xs + i + FUSED_AHEAD + 0 * GNK_VL, 0);
#line 488 "templates/gn_nchw.c.in"
            PREFETCH(xs + i + FUSED_AHEAD + 1 * GNK_VL, 0);
#line 488 "templates/gn_nchw.c.in"
            PREFETCH(xs + i + FUSED_AHEAD + 2 * GNK_VL, 0);
#line 488 "templates/gn_nchw.c.in"
            PREFETCH(xs + i + FUSED_AHEAD + 3 * GNK_VL, 0);
#line 490 "templates/gn_nchw.c.in"
          }
#line 492 "templates/gn_nchw.c.in"
          const vf t0 = v_sub(v_load_f16(xs + i + 0 * GNK_VL), vm);
          bd0 = v_add(bd0, t0);
          bq0 = v_fma(t0, t0, bq0);
#line 492 "templates/gn_nchw.c.in"
          const vf t1 = v_sub(v_load_f16(xs + i + 1 * GNK_VL), vm);
          bd1 = v_add(bd1, t1);
          bq1 = v_fma(t1, t1, bq1);
#line 492 "templates/gn_nchw.c.in"
          const vf t2 = v_sub(v_load_f16(xs + i + 2 * GNK_VL), vm);
          bd2 = v_add(bd2, t2);
          bq2 = v_fma(t2, t2, bq2);
#line 492 "templates/gn_nchw.c.in"
          const vf t3 = v_sub(v_load_f16(xs + i + 3 * GNK_VL), vm);
          bd3 = v_add(bd3, t3);
          bq3 = v_fma(t3, t3, bq3);
#line 497 "templates/gn_nchw.c.in"
          vf s_z0 = z0, s_z1 = z1, s_z2 = z2, s_z3 = z3; v_silu_x4(&s_z0, &s_z1, &s_z2, &s_z3);
#line 500 "templates/gn_nchw.c.in"
          v_store_f16(y + i + 0 * GNK_VL, s_z0);
#line 500 "templates/gn_nchw.c.in"
          v_store_f16(y + i + 1 * GNK_VL, s_z1);
#line 500 "templates/gn_nchw.c.in"
          v_store_f16(y + i + 2 * GNK_VL, s_z2);
#line 500 "templates/gn_nchw.c.in"
          v_store_f16(y + i + 3 * GNK_VL, s_z3);
#line 502 "templates/gn_nchw.c.in"
        }
#line 504 "templates/gn_nchw.c.in"
      }
    }
#line 507 "templates/gn_nchw.c.in"
    d0 = v_add(d0, bd0);
    q0 = v_add(q0, bq0);
#line 507 "templates/gn_nchw.c.in"
    d1 = v_add(d1, bd1);
    q1 = v_add(q1, bq1);
#line 507 "templates/gn_nchw.c.in"
    d2 = v_add(d2, bd2);
    q2 = v_add(q2, bq2);
#line 507 "templates/gn_nchw.c.in"
    d3 = v_add(d3, bd3);
    q3 = v_add(q3, bq3);
#line 510 "templates/gn_nchw.c.in"
  }
#line 512 "templates/gn_nchw.c.in"
  d0 = v_add(d0, d1);
  q0 = v_add(q0, q1);
#line 512 "templates/gn_nchw.c.in"
  d0 = v_add(d0, d2);
  q0 = v_add(q0, q2);
#line 512 "templates/gn_nchw.c.in"
  d0 = v_add(d0, d3);
  q0 = v_add(q0, q3);
#line 518 "templates/gn_nchw.c.in"
  finish_run(xs, len, k, (double)v_hsum(d0), (double)v_hsum(q0), &a->part[is]);
}

const gnk_kernel_fns gnk_f16_nchw_gnsilu_g32c512__avx512_u4 = {stats, apply, fused};
