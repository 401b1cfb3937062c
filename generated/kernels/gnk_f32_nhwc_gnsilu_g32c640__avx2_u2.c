/* Auto-generated file. Do not edit!
 *   Generator: gen/gnk_gen.lua
 *   Template:  templates/gn_nhwc.c.in
 *   Arguments: dtype=f32 layout=nhwc act=silu groups=32 channels=640 isa=avx2 unroll=2 store=st order=blk
 * Regenerate with `make gen`; `make check-gen` verifies this file. */
#line 20 "templates/gn_nhwc.c.in"
#include "gnk_kernel_abi.h"
#include "isa/gnk_vec_avx2.h"
#include "gnk_half.h"

#define TILE GNK_NHWC_TILE_C

/* 2 full channel vectors at once: 2 independent add chains, so the walk
 * down the rows is not bound by the add latency. Pass 1 gives the channel
 * means, pass 2 (from L1) the deviation and squared-deviation sums. */
static inline void chan_block(const float *x, int64_t C, int64_t np, float *cm, float *cd, float *cq) {
#line 31 "templates/gn_nhwc.c.in"
  vf s0 = v_zero();
#line 31 "templates/gn_nhwc.c.in"
  vf s1 = v_zero();
#line 33 "templates/gn_nhwc.c.in"
  for (int64_t p = 0; p < np; ++p) {
#line 35 "templates/gn_nhwc.c.in"
    s0 = v_add(s0, v_load(x + p * C + 0 * GNK_VL));
#line 35 "templates/gn_nhwc.c.in"
    s1 = v_add(s1, v_load(x + p * C + 1 * GNK_VL));
#line 37 "templates/gn_nhwc.c.in"
  }
  const vf inv = v_set1(1.0f / (float)np);
#line 40 "templates/gn_nhwc.c.in"
  const vf m0 = v_mul(s0, inv);
  v_store(cm + 0 * GNK_VL, m0);
  vf d0 = v_zero(), q0 = v_zero();
#line 40 "templates/gn_nhwc.c.in"
  const vf m1 = v_mul(s1, inv);
  v_store(cm + 1 * GNK_VL, m1);
  vf d1 = v_zero(), q1 = v_zero();
#line 44 "templates/gn_nhwc.c.in"
  for (int64_t p = 0; p < np; ++p) {
#line 46 "templates/gn_nhwc.c.in"
    const vf t0 = v_sub(v_load(x + p * C + 0 * GNK_VL), m0);
    d0 = v_add(d0, t0);
    q0 = v_fma(t0, t0, q0);
#line 46 "templates/gn_nhwc.c.in"
    const vf t1 = v_sub(v_load(x + p * C + 1 * GNK_VL), m1);
    d1 = v_add(d1, t1);
    q1 = v_fma(t1, t1, q1);
#line 50 "templates/gn_nhwc.c.in"
  }
#line 52 "templates/gn_nhwc.c.in"
  v_store(cd + 0 * GNK_VL, d0);
  v_store(cq + 0 * GNK_VL, q0);
#line 52 "templates/gn_nhwc.c.in"
  v_store(cd + 1 * GNK_VL, d1);
  v_store(cq + 1 * GNK_VL, q1);
#line 55 "templates/gn_nhwc.c.in"
}

/* Per-channel sums over `np` rows (stride C) of `w` <= GNK_VL channels. */
static inline void chan_pass1(const float *x, int64_t C, int64_t np, int64_t w, float *cm) {
  vf s = v_zero();
  if (w == GNK_VL) for (int64_t p = 0; p < np; ++p) s = v_add(s, v_load(x + p * C));
  else for (int64_t p = 0; p < np; ++p) s = v_add(s, v_load_tail(x + p * C, w));
  const vf mean = v_mul(s, v_set1(1.0f / (float)np));
  if (w == GNK_VL) v_store(cm, mean); else v_store_tail(cm, mean, w);
}

/* Per-channel deviation sums (d) and squared deviations (q) from cm. */
static inline void chan_pass2(const float *x, int64_t C, int64_t np, int64_t w,
                              const float *cm, float *cd, float *cq) {
  vf d = v_zero(), q = v_zero();
  if (w == GNK_VL) {
    const vf m = v_load(cm);
    for (int64_t p = 0; p < np; ++p) {
      const vf t = v_sub(v_load(x + p * C), m);
      d = v_add(d, t);
      q = v_fma(t, t, q);
    }
    v_store(cd, d);
    v_store(cq, q);
  } else {
    const vf m = v_load_tail(cm, w);
    for (int64_t p = 0; p < np; ++p) {
      const vf t = v_sub_tail(v_load_tail(x + p * C, w), m, w);
      d = v_add(d, t);
      q = v_fma(t, t, q);
    }
    v_store_tail(cd, d, w);
    v_store_tail(cq, q, w);
  }
}

/* A channel's corrected mean and M2 from its pass sums (in double). When the
 * f32 squares overflowed (|x| ~ 1e18 and beyond) the channel is redone in
 * double straight from x. */
static inline void chan_final(const float *x, int64_t C, int64_t np, float m, float d, float q,
                              double *mean, double *m2) {
  double dd = (double)d, qq = (double)q;
  if (q > 3.0e38f && m == m) {
    dd = qq = 0.0;
    for (int64_t p = 0; p < np; ++p) {
      const double t = (double)(float)(x[p * C]) - (double)m;
      dd += t;
      qq += t * t;
    }
  }
  *mean = (double)m + dd / (double)np;
  *m2 = qq - dd * dd / (double)np;
  if (*m2 < 0.0) *m2 = 0.0; /* rounding only; a NaN stays NaN */
}

/* Chan's merge of (cnt, mean, m2) into *t (in double). */
static inline void merge_into(gnk_partial *t, double cnt, double mean, double m2) {
  const double n = t->count + cnt, delta = mean - t->mean;
  t->mean += delta * (cnt / n);
  t->m2 += m2 + delta * delta * (t->count * cnt / n);
  t->count = n;
}

/* One item: positions [p0, p0+np) of sample n. Channels go in tiles of at
 * most TILE: per channel a corrected two-pass mean/M2 over the np rows (the
 * item sits in L1/L2), then each group's channels are combined exactly
 * (equal counts: the group mean is the mean of channel means, M2 adds the
 * spread of channel means) and merged into the group's partial. */
static void stats_item(const gnk_kargs *a, int64_t it) {
  const int64_t C = 640LL, G = 32LL, D = C / G, S = a->s;
  const int64_t n = it / a->nchunk, k = it % a->nchunk, p0 = k * a->chunk;
  const int64_t np = S - p0 < a->chunk ? S - p0 : a->chunk;
  const float *xs = (const float *)a->x + (n * S + p0) * C;
  float cm[TILE], cd[TILE], cq[TILE];
  double cmean[TILE], cm2[TILE];
  for (int64_t c0 = 0; c0 < C; c0 += TILE) {
    const int64_t tc = C - c0 < TILE ? C - c0 : TILE;
    int64_t j = 0;
    for (; j + 2 * GNK_VL <= tc; j += 2 * GNK_VL) chan_block(xs + c0 + j, C, np, cm + j, cd + j, cq + j);
    for (; j < tc; j += GNK_VL) {
      const int64_t w = tc - j < GNK_VL ? tc - j : GNK_VL;
      chan_pass1(xs + c0 + j, C, np, w, cm + j);
      chan_pass2(xs + c0 + j, C, np, w, cm + j, cd + j, cq + j);
    }
    for (int64_t g = c0 / D; g * D < c0 + tc; ++g) {
      const int64_t cs = g * D > c0 ? g * D : c0;
      const int64_t ce = (g + 1) * D < c0 + tc ? (g + 1) * D : c0 + tc;
      const double dnp = (double)np;
      double sm = 0.0, m2 = 0.0;
      for (int64_t c = cs; c < ce; ++c) {
        chan_final(xs + c, C, np, cm[c - c0], cd[c - c0], cq[c - c0], &cmean[c - cs], &cm2[c - cs]);
        sm += cmean[c - cs];
      }
      const double gm = sm / (double)(ce - cs);
      for (int64_t c = cs; c < ce; ++c) {
        const double dc = cmean[c - cs] - gm;
        m2 += cm2[c - cs] + dnp * dc * dc;
      }
      gnk_partial *t = &a->part[(n * G + g) * a->nchunk + k];
      const double cnt = dnp * (double)(ce - cs);
      if (cs == g * D) {
        t->mean = gm;
        t->m2 = m2;
        t->count = cnt;
      } else {
        merge_into(t, cnt, gm, m2);
      }
    }
  }
}

static void stats(const gnk_kargs *a, int64_t item0, int64_t item1) {
  for (int64_t it = item0; it < item1; ++it) stats_item(a, it);
}

#line 177 "templates/gn_nhwc.c.in"
static void apply_item(const float *x, float *y, int64_t C, int64_t np, const float *sub, const float *scale,
                  const float *shift) {
#line 200 "templates/gn_nhwc.c.in"
  int64_t j = 0;
  for (; j + 2 * GNK_VL <= C; j += 2 * GNK_VL) {
#line 204 "templates/gn_nhwc.c.in"
    const vf s0 = v_load(sub + j + 0 * GNK_VL);
#line 206 "templates/gn_nhwc.c.in"
    const vf k0 = v_load(scale + j + 0 * GNK_VL), h0 = v_load(shift + j + 0 * GNK_VL);
#line 204 "templates/gn_nhwc.c.in"
    const vf s1 = v_load(sub + j + 1 * GNK_VL);
#line 206 "templates/gn_nhwc.c.in"
    const vf k1 = v_load(scale + j + 1 * GNK_VL), h1 = v_load(shift + j + 1 * GNK_VL);
#line 208 "templates/gn_nhwc.c.in"
    for (int64_t p = 0; p < np; ++p) {
#line 210 "templates/gn_nhwc.c.in"
      const vf z0 = v_fma(v_sub(v_load(x + p * C + j + 0 * GNK_VL), s0), k0, h0);
#line 210 "templates/gn_nhwc.c.in"
      const vf z1 = v_fma(v_sub(v_load(x + p * C + j + 1 * GNK_VL), s1), k1, h1);
#line 213 "templates/gn_nhwc.c.in"
      v_store(y + p * C + j + 0 * GNK_VL, v_silu(z0));
#line 213 "templates/gn_nhwc.c.in"
      v_store(y + p * C + j + 1 * GNK_VL, v_silu(z1));
#line 215 "templates/gn_nhwc.c.in"
    }
  }
  for (; j < C; j += GNK_VL) {
    const int64_t w = C - j < GNK_VL ? C - j : GNK_VL;
#line 220 "templates/gn_nhwc.c.in"
    const vf s = v_load_tail(sub + j, w);
#line 222 "templates/gn_nhwc.c.in"
    const vf k = v_load_tail(scale + j, w), h = v_load_tail(shift + j, w);
    for (int64_t p = 0; p < np; ++p) {
      const vf z = v_fma(v_sub(v_load_tail(x + p * C + j, w), s), k, h);
      v_store_tail(y + p * C + j, v_silu(z), w);
    }
  }
#line 229 "templates/gn_nhwc.c.in"
}

#line 177 "templates/gn_nhwc.c.in"
static void apply_item_folded(const float *x, float *y, int64_t C, int64_t np, const float *sub, const float *scale,
                  const float *shift) {
#line 180 "templates/gn_nhwc.c.in"
  (void)sub;
#line 200 "templates/gn_nhwc.c.in"
  int64_t j = 0;
  for (; j + 2 * GNK_VL <= C; j += 2 * GNK_VL) {
#line 206 "templates/gn_nhwc.c.in"
    const vf k0 = v_load(scale + j + 0 * GNK_VL), h0 = v_load(shift + j + 0 * GNK_VL);
#line 206 "templates/gn_nhwc.c.in"
    const vf k1 = v_load(scale + j + 1 * GNK_VL), h1 = v_load(shift + j + 1 * GNK_VL);
#line 208 "templates/gn_nhwc.c.in"
    for (int64_t p = 0; p < np; ++p) {
#line 210 "templates/gn_nhwc.c.in"
      const vf z0 = v_fma(v_load(x + p * C + j + 0 * GNK_VL), k0, h0);
#line 210 "templates/gn_nhwc.c.in"
      const vf z1 = v_fma(v_load(x + p * C + j + 1 * GNK_VL), k1, h1);
#line 213 "templates/gn_nhwc.c.in"
      v_store(y + p * C + j + 0 * GNK_VL, v_silu(z0));
#line 213 "templates/gn_nhwc.c.in"
      v_store(y + p * C + j + 1 * GNK_VL, v_silu(z1));
#line 215 "templates/gn_nhwc.c.in"
    }
  }
  for (; j < C; j += GNK_VL) {
    const int64_t w = C - j < GNK_VL ? C - j : GNK_VL;
#line 222 "templates/gn_nhwc.c.in"
    const vf k = v_load_tail(scale + j, w), h = v_load_tail(shift + j, w);
    for (int64_t p = 0; p < np; ++p) {
      const vf z = v_fma(v_load_tail(x + p * C + j, w), k, h);
      v_store_tail(y + p * C + j, v_silu(z), w);
    }
  }
#line 229 "templates/gn_nhwc.c.in"
}

#line 232 "templates/gn_nhwc.c.in"
/* y = act((x - sub[c]) * scale[c] + shift[c]) over the items' rows. When the
 * runtime folded every mean of the sample into shift (sub all 0), one FMA
 * per vector does it. */
static void apply(const gnk_kargs *a, int64_t item0, int64_t item1) {
  const int64_t C = 640LL, S = a->s;
  for (int64_t it = item0; it < item1; ++it) {
    const int64_t n = it / a->nchunk, p0 = (it % a->nchunk) * a->chunk;
    const int64_t np = S - p0 < a->chunk ? S - p0 : a->chunk;
    const float *x = (const float *)a->x + (n * S + p0) * C;
    float *y = (float *)a->y + (n * S + p0) * C;
    const float *sub = a->sub + n * C, *scale = a->scale + n * C, *shift = a->shift + n * C;
    int folded = 1;
    for (int64_t c = 0; c < C && folded; ++c) folded = sub[c] == 0.0f;
    if (folded) apply_item_folded(x, y, C, np, sub, scale, shift);
    else apply_item(x, y, C, np, sub, scale, shift);
  }
}

const gnk_kernel_fns gnk_f32_nhwc_gnsilu_g32c640__avx2_u2 = {stats, apply};
