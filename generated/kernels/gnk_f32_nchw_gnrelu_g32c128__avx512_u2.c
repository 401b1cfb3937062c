/* Auto-generated file. Do not edit!
 *   Generator: gen/gnk_gen.lua
 *   Template:  templates/gn_nchw.c.in
 *   Arguments: dtype=f32 layout=nchw act=relu groups=32 channels=128 isa=avx512 unroll=2 store=st order=blk
 * Regenerate with `make gen`; `make check-gen` verifies this file. */
#line 21 "templates/gn_nchw.c.in"
#include "gnk_kernel_abi.h"
#include "isa/gnk_vec_avx512.h"
#include "gnk_half.h"

/* Partial statistics of `len` contiguous values: mean, then squared
 * deviations, while the run sits in L1 (the runtime picks len <= 16 KiB).
 * The second pass also sums the deviations, which corrects the f32 mean
 * (corrected two-pass algorithm), so the partial is accurate even when
 * |mean| >> std. 2 accumulators per pass hide the add latency. */
static void stats_run(const float *p, int64_t len, gnk_partial *out) {
#line 32 "templates/gn_nchw.c.in"
  vf s0 = v_zero();
#line 32 "templates/gn_nchw.c.in"
  vf s1 = v_zero();
#line 34 "templates/gn_nchw.c.in"
  int64_t i = 0;
  for (; i + 2 * GNK_VL <= len; i += 2 * GNK_VL) {
#line 37 "templates/gn_nchw.c.in"
    s0 = v_add(s0, v_load(p + i + 0 * GNK_VL));
#line 37 "templates/gn_nchw.c.in"
    s1 = v_add(s1, v_load(p + i + 1 * GNK_VL));
#line 39 "templates/gn_nchw.c.in"
  }
  for (; i + GNK_VL <= len; i += GNK_VL) s0 = v_add(s0, v_load(p + i));
  if (i < len) s0 = v_add(s0, v_load_tail(p + i, len - i));
#line 43 "templates/gn_nchw.c.in"
  s0 = v_add(s0, s1);
#line 45 "templates/gn_nchw.c.in"
  const float m = v_hsum(s0) / (float)len;
  const vf vm = v_set1(m);
#line 48 "templates/gn_nchw.c.in"
  vf d0 = v_zero(), q0 = v_zero();
#line 48 "templates/gn_nchw.c.in"
  vf d1 = v_zero(), q1 = v_zero();
#line 50 "templates/gn_nchw.c.in"
  i = 0;
  for (; i + 2 * GNK_VL <= len; i += 2 * GNK_VL) {
#line 53 "templates/gn_nchw.c.in"
    const vf t0 = v_sub(v_load(p + i + 0 * GNK_VL), vm);
    d0 = v_add(d0, t0);
    q0 = v_fma(t0, t0, q0);
#line 53 "templates/gn_nchw.c.in"
    const vf t1 = v_sub(v_load(p + i + 1 * GNK_VL), vm);
    d1 = v_add(d1, t1);
    q1 = v_fma(t1, t1, q1);
#line 57 "templates/gn_nchw.c.in"
  }
  for (; i + GNK_VL <= len; i += GNK_VL) {
    const vf t = v_sub(v_load(p + i), vm);
    d0 = v_add(d0, t);
    q0 = v_fma(t, t, q0);
  }
  if (i < len) {
    const vf t = v_sub_tail(v_load_tail(p + i, len - i), vm, len - i);
    d0 = v_add(d0, t);
    q0 = v_fma(t, t, q0);
  }
#line 69 "templates/gn_nchw.c.in"
  d0 = v_add(d0, d1);
  q0 = v_add(q0, q1);
#line 72 "templates/gn_nchw.c.in"
  const double dn = (double)len;
  double ds = (double)v_hsum(d0), q = (double)v_hsum(q0);
  if (q > 3.0e38 && m == m) { /* f32 squares overflowed (|x| ~ 1e18+): redo in double */
    ds = q = 0.0;
    for (int64_t j = 0; j < len; ++j) {
      const double t = (double)(float)(p[j]) - (double)m;
      ds += t;
      q += t * t;
    }
  }
  double m2 = q - ds * ds / dn;
  if (m2 < 0.0) m2 = 0.0; /* rounding only; a NaN stays NaN */
  out->mean = (double)m + ds / dn;
  out->m2 = m2;
  out->count = dn;
}

#line 94 "templates/gn_nchw.c.in"
/* y = act((x - sub) * scale + shift) over `len` contiguous values of one channel. */
#line 103 "templates/gn_nchw.c.in"
static void apply_run(const float *x, float *y, int64_t len, float sub, float scale, float shift, const float *pf) {
#line 108 "templates/gn_nchw.c.in"
  const vf vs = v_set1(sub), vk = v_set1(scale), vh = v_set1(shift);
#line 110 "templates/gn_nchw.c.in"
  int64_t i = 0;
#line 123 "templates/gn_nchw.c.in"
  for (; i + 2 * GNK_VL <= len; i += 2 * GNK_VL) {
#line 125 "templates/gn_nchw.c.in"
    if (pf) __builtin_prefetch(pf + i + 0 * GNK_VL, 0, 3);
#line 125 "templates/gn_nchw.c.in"
    if (pf) __builtin_prefetch(pf + i + 1 * GNK_VL, 0, 3);
#line 128 "templates/gn_nchw.c.in"
    const vf z0 = v_fma(v_sub(v_load(x + i + 0 * GNK_VL), vs), vk, vh);
#line 128 "templates/gn_nchw.c.in"
    const vf z1 = v_fma(v_sub(v_load(x + i + 1 * GNK_VL), vs), vk, vh);
#line 131 "templates/gn_nchw.c.in"
    v_store(y + i + 0 * GNK_VL, v_relu(z0));
#line 131 "templates/gn_nchw.c.in"
    v_store(y + i + 1 * GNK_VL, v_relu(z1));
#line 133 "templates/gn_nchw.c.in"
  }
  for (; i + GNK_VL <= len; i += GNK_VL) {
    const vf z = v_fma(v_sub(v_load(x + i), vs), vk, vh);
    v_store(y + i, v_relu(z));
  }
  if (i < len) {
    const vf z = v_fma(v_sub(v_load_tail(x + i, len - i), vs), vk, vh);
    v_store_tail(y + i, v_relu(z), len - i);
  }
}

#line 100 "templates/gn_nchw.c.in"
/* The same with sub == 0 (the runtime folds the mean into shift when that
 * is exact enough): one FMA per vector instead of a subtraction and an FMA. */
#line 103 "templates/gn_nchw.c.in"
static void apply_run_folded(const float *x, float *y, int64_t len, float sub, float scale, float shift, const float *pf) {
#line 105 "templates/gn_nchw.c.in"
  (void)sub;
  const vf vk = v_set1(scale), vh = v_set1(shift);
#line 110 "templates/gn_nchw.c.in"
  int64_t i = 0;
#line 123 "templates/gn_nchw.c.in"
  for (; i + 2 * GNK_VL <= len; i += 2 * GNK_VL) {
#line 125 "templates/gn_nchw.c.in"
    if (pf) __builtin_prefetch(pf + i + 0 * GNK_VL, 0, 3);
#line 125 "templates/gn_nchw.c.in"
    if (pf) __builtin_prefetch(pf + i + 1 * GNK_VL, 0, 3);
#line 128 "templates/gn_nchw.c.in"
    const vf z0 = v_fma(v_load(x + i + 0 * GNK_VL), vk, vh);
#line 128 "templates/gn_nchw.c.in"
    const vf z1 = v_fma(v_load(x + i + 1 * GNK_VL), vk, vh);
#line 131 "templates/gn_nchw.c.in"
    v_store(y + i + 0 * GNK_VL, v_relu(z0));
#line 131 "templates/gn_nchw.c.in"
    v_store(y + i + 1 * GNK_VL, v_relu(z1));
#line 133 "templates/gn_nchw.c.in"
  }
  for (; i + GNK_VL <= len; i += GNK_VL) {
    const vf z = v_fma(v_load(x + i), vk, vh);
    v_store(y + i, v_relu(z));
  }
  if (i < len) {
    const vf z = v_fma(v_load_tail(x + i, len - i), vk, vh);
    v_store_tail(y + i, v_relu(z), len - i);
  }
}

#line 145 "templates/gn_nchw.c.in"
static void stats(const gnk_kargs *a, int64_t item0, int64_t item1) {
  const int64_t C = 128LL, G = 32LL, gsize = (C / G) * a->s;
  for (int64_t it = item0; it < item1; ++it) {
    const int64_t ng = it / a->nchunk, start = (it % a->nchunk) * a->chunk;
    const int64_t len = gsize - start < a->chunk ? gsize - start : a->chunk;
    stats_run((const float *)a->x + ng * gsize + start, len, &a->part[it]);
  }
}

static void apply(const gnk_kargs *a, int64_t item0, int64_t item1) {
  const int64_t C = 128LL, G = 32LL, D = C / G, S = a->s, gsize = D * S;
  for (int64_t it = item0; it < item1; ++it) {
    const int64_t ng = it / a->nchunk, n = ng / G, g = ng % G;
    int64_t e = (it % a->nchunk) * a->chunk;
    const int64_t end = gsize - e < a->chunk ? gsize : e + a->chunk;
    const float *x = (const float *)a->x + ng * gsize;
    float *y = (float *)a->y + ng * gsize;
    while (e < end) { /* the chunk may span several channels' rows */
      const int64_t cl = e / S, row_end = (cl + 1) * S < end ? (cl + 1) * S : end;
      const int64_t p = n * C + g * D + cl;
      /* the next unit's group follows this one in memory */
      const float *pf = a->prefetch_next && ng + 1 < a->n * G ? x + gsize + e : NULL;
      if (a->sub[p] == 0.0f) apply_run_folded(x + e, y + e, row_end - e, 0.0f, a->scale[p], a->shift[p], pf);
      else apply_run(x + e, y + e, row_end - e, a->sub[p], a->scale[p], a->shift[p], pf);
      e = row_end;
    }
  }
#line 175 "templates/gn_nchw.c.in"
}

const gnk_kernel_fns gnk_f32_nchw_gnrelu_g32c128__avx512_u2 = {stats, apply};
