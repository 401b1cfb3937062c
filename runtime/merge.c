/* merge.c: the merge of the kernels' chunk partials into each group's mean
 * and rstd (Chan's formula, in double), and the per-channel apply parameters
 * (sub, scale, shift) the kernels' normalization pass reads.
 *
 * Three copies compute the same bits: a portable one (per group, then its
 * channels), on AVX-512 CPUs one that merges eight groups a vector and sets
 * the parameters of their channels eight a vector, and on AVX2 CPUs the
 * portable merge with the channels' parameters four a vector. Where a group
 * has few channels (rank-2 inputs: 1x2048 with 512 groups of 4) the
 * per-group scalar square root, division and short channel loop were most of
 * a call. Every operation here is an IEEE basic operation (add, sub, mul,
 * div, sqrt, conversion), correctly rounded in every copy, in the same order,
 * so the copies agree bit for bit (tests/c/test_numerics.c checks it). */
#include "gnk_internal.h"

#include <float.h>
#include <math.h>
#include <pthread.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* No contraction of a*b+c into FMAs: both copies must round every operation. */
#pragma STDC FP_CONTRACT OFF

/* The f32 scale rstd * gamma of the apply. A finite scale past FLT_MAX (a
 * constant group with a tiny eps: eps 1e-300 gives rstd 1e150) becomes
 * +-FLT_MAX, not Inf, so that the group's (x - mean) * scale is 0 and y is
 * exactly beta, not 0 * Inf = NaN (found by tests/fuzz/fuzz_desc); an
 * infinite one (variance and eps both 0) stays Inf, as 0 * Inf is then the
 * framework's NaN too. */
static inline float f32_scale(double scale) {
  const double clamped = scale > FLT_MAX ? FLT_MAX : scale < -FLT_MAX ? -FLT_MAX : scale;
  return (float)(isinf(scale) ? scale : clamped);
}

/* A partial's field, read by itself: the kernels have just stored mean, m2
 * and count one double at a time, and a 16-byte load of two of them (which
 * clang's SLP vectorizer made of adjacent reads in the AVX-512 copy) cannot
 * take them from the store buffer, so it waits for both stores to reach L1
 * (perf: 72% of the merge's samples on that load; channels-last 4096x64 g4,
 * estimate's block kernel, 1.20 ms a call against 1.08-1.15 ms without it).
 * The empty asm keeps each read apart. */
static inline double field(const double *p) {
  double v = *p;
#if defined(__x86_64__)
  __asm__("" : "+x"(v));
#endif
  return v;
}

/* One group's mean, m2 and rstd from its chunk partials, merged in chunk
 * order. */
static inline void group_stats(const gnk_partial *p, int64_t nchunk, double eps, double *mean_out, double *m2_out,
                               double *rstd_out) {
  double cnt = field(&p[0].count), mean = field(&p[0].mean), m2 = field(&p[0].m2);
  for (int64_t k = 1; k < nchunk; ++k) {
    const double nb = field(&p[k].count), n = cnt + nb, delta = field(&p[k].mean) - mean;
    mean += delta * (nb / n);
    m2 += field(&p[k].m2) + delta * delta * (cnt * nb / n);
    cnt = n;
  }
  const double var = m2 / cnt; /* >= 0 by construction; NaN stays NaN */
  *mean_out = mean;
  *m2_out = m2;
  *rstd_out = 1.0 / sqrt(var + eps);
}

/* Folding: when |mean * scale| <= 1 (|mean| within about one std), y = x*scale +
 * (beta - mean*scale) loses at most an ulp of O(1) and saves the kernels a
 * subtraction per element (they test sub == 0). A constant group (m2 == 0)
 * is never folded: its output must be exactly beta. */
static inline double fold_limit_of(double m2) { return m2 > 0.0 ? 1.0 : -1.0; }

/* The apply parameters of n channels with f32 gamma and beta (the common
 * case), branch-free and with restrict pointers so that it vectorizes. lo is
 * what the f32 subtraction of sub = (float)mean misses. */
static inline __attribute__((always_inline)) void
set_params_body(const float *restrict gam, const float *restrict bet, int64_t n, double mean, double lo, float sub,
                double rstd, double fold_limit, float *restrict ps, float *restrict pk, float *restrict ph) {
  for (int64_t c = 0; c < n; ++c) {
    const double scale = rstd * (double)gam[c];
    const int fold = fabs(mean * scale) <= fold_limit;
    pk[c] = f32_scale(scale);
    ps[c] = fold ? 0.0f : sub;
    ph[c] = (float)((double)bet[c] - (fold ? mean : lo) * scale);
  }
}

static void set_params_base(const float *restrict gam, const float *restrict bet, int64_t n, double mean, double lo,
                            float sub, double rstd, double fold_limit, float *restrict ps, float *restrict pk,
                            float *restrict ph) {
  set_params_body(gam, bet, n, mean, lo, sub, rstd, fold_limit, ps, pk, ph);
}

typedef void (*set_params_fn)(const float *restrict, const float *restrict, int64_t, double, double, float, double,
                              double, float *restrict, float *restrict, float *restrict);

/* One group's merged values, as its channels' parameters need them. */
typedef struct group_vals {
  double mean, lo, rstd, fold_limit;
  float sub;
} group_vals;

/* Group g of the job merged, its mean and rstd stored where they are wanted. */
static inline group_vals merge_one(const gnk_merge_job *j, int64_t g) {
  double mean, m2, rstd;
  group_stats(j->part + g * j->nchunk, j->nchunk, j->eps, &mean, &m2, &rstd);
  if (j->mean) j->mean[g] = (float)mean;
  if (j->rstd) j->rstd[g] = (float)rstd;
  const float sub = (float)mean;
  return (group_vals){.mean = mean, .lo = mean - (double)sub, .rstd = rstd, .fold_limit = fold_limit_of(m2), .sub = sub};
}

/* f32 gamma and beta, group by group: each merged, then its channels set. */
static inline __attribute__((always_inline)) void merge_each(const gnk_merge_job *j, set_params_fn set) {
  const float *gam = (const float *)j->gamma + j->c0, *bet = (const float *)j->beta + j->c0;
  for (int64_t g = 0; g < j->ngroups; ++g) {
    const group_vals v = merge_one(j, g);
    const int64_t c = g * j->D;
    set(gam + c, bet + c, j->D, v.mean, v.lo, v.sub, v.rstd, v.fold_limit, j->sub + c, j->scale + c, j->shift + c);
  }
}

/* The portable merge of f32-parameter groups. */
static void merge_f32_base(const gnk_merge_job *j) { merge_each(j, set_params_base); }

#if defined(__x86_64__)
#define GNK_MERGE_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl")))

/* set_params_body compiled for AVX-512 (8 doubles a vector instead of SSE2's
 * 2), for groups of 16 channels and more. Measured on 2x1280x8x8 (64 groups,
 * 2560 channels): merge 4.2 -> 1.9 us of a ~40 us call. Not inlined: inlined
 * into merge_f32_avx512 it ran 3% slower on 256x512 g32 and 1024x256 g8. */
GNK_MERGE_AVX512 __attribute__((noinline)) static void
set_params_avx512(const float *restrict gam, const float *restrict bet, int64_t n, double mean, double lo, float sub,
                  double rstd, double fold_limit, float *restrict ps, float *restrict pk, float *restrict ph) {
  set_params_body(gam, bet, n, mean, lo, sub, rstd, fold_limit, ps, pk, ph);
}

/* f32_scale on eight lanes: vmaxpd/vminpd return their second operand on a
 * NaN, so NaN stays NaN as in the ternaries; +-Inf is kept by the blend. */
GNK_MERGE_AVX512 static inline __m256 f32_scale8(__m512d scale) {
  const __m512d cl = _mm512_min_pd(_mm512_set1_pd(FLT_MAX), _mm512_max_pd(_mm512_set1_pd(-FLT_MAX), scale));
  return _mm512_cvtpd_ps(_mm512_mask_blend_pd(_mm512_fpclass_pd_mask(scale, 0x18), cl, scale));
}

/* Groups of 16 channels and more, or fewer than four groups: one by one
 * (the scalar merge, then set_params_avx512 on the group's channels), as
 * before this copy existed. There the channels dominate, and the vector
 * merge below measured 3-5% slower in whole runs (its gathers of partials
 * the kernel has just stored wait for those stores to reach L1; a few
 * groups also pay the ~80-cycle chain of a zmm division, square root and
 * division in a row where scalar ones overlap).
 *
 * Narrower groups, eight a vector: their partials gathered chunk by chunk
 * (a partial is three doubles: mean, m2, count), Chan's formula lane by
 * lane, then the parameters of their channels eight a vector, each lane
 * taking its group's mean, rstd and fold limit from the eight-group vectors
 * by vpermpd (lane c of a batch belongs to group c / D, counted up step by
 * step). 1x2048 g512 (D 4): 9.3 -> 2.3 us per merge; 32 groups of 10 over
 * 16 chunks: 2.3 -> 0.9 us (scratch loop of gnk_merge_copy, 2026-12-03). */
GNK_MERGE_AVX512 static void merge_f32_avx512(const gnk_merge_job *j) {
  if (j->D >= 16 || j->ngroups < 4) {
    merge_each(j, set_params_avx512);
    return;
  }
  const float *gam = (const float *)j->gamma + j->c0, *bet = (const float *)j->beta + j->c0;
  const double *pd = (const double *)j->part;
  const int64_t D = j->D, stride = 3 * j->nchunk;
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i gidx = _mm512_mullo_epi64(lane, _mm512_set1_epi64(stride));
  const __m512d zero = _mm512_setzero_pd();
  /* Lane i's group i / D and place i % D in it at a batch's first step, and
   * the step 8 = g8 * D + r8, counted rather than divided: a job can be a
   * few groups (a channels-last unit), and integer division costs tens of
   * cycles. */
  int64_t gi[9], ri[9];
  for (int64_t i = 0, g = 0, r = 0; i < 9; ++i) {
    gi[i] = g;
    ri[i] = r;
    if (++r == D) r = 0, ++g;
  }
  const __m512i g_first = _mm512_loadu_si512(gi), r_first = _mm512_loadu_si512(ri);
  const __m512i g_step = _mm512_set1_epi64(gi[8]), r_step = _mm512_set1_epi64(ri[8]), Dv = _mm512_set1_epi64(D),
                one = _mm512_set1_epi64(1);
  for (int64_t g0 = 0; g0 < j->ngroups; g0 += 8) {
    const int64_t nb = j->ngroups - g0 < 8 ? j->ngroups - g0 : 8;
    const __mmask8 gm = (__mmask8)((1u << nb) - 1);
    const double *p0 = pd + g0 * stride;
    __m512d cnt = _mm512_mask_i64gather_pd(zero, gm, gidx, p0 + 2, 8);
    __m512d mean = _mm512_mask_i64gather_pd(zero, gm, gidx, p0, 8);
    __m512d m2 = _mm512_mask_i64gather_pd(zero, gm, gidx, p0 + 1, 8);
    for (int64_t k = 1; k < j->nchunk; ++k) {
      const double *pk = p0 + 3 * k;
      const __m512d c_k = _mm512_mask_i64gather_pd(zero, gm, gidx, pk + 2, 8);
      const __m512d mean_k = _mm512_mask_i64gather_pd(zero, gm, gidx, pk, 8);
      const __m512d m2_k = _mm512_mask_i64gather_pd(zero, gm, gidx, pk + 1, 8);
      const __m512d n = _mm512_add_pd(cnt, c_k), delta = _mm512_sub_pd(mean_k, mean);
      mean = _mm512_add_pd(mean, _mm512_mul_pd(delta, _mm512_div_pd(c_k, n)));
      m2 = _mm512_add_pd(m2, _mm512_add_pd(m2_k, _mm512_mul_pd(_mm512_mul_pd(delta, delta),
                                                               _mm512_div_pd(_mm512_mul_pd(cnt, c_k), n))));
      cnt = n;
    }
    const __m512d var = _mm512_div_pd(m2, cnt);
    const __m512d rstd = _mm512_div_pd(_mm512_set1_pd(1.0), _mm512_sqrt_pd(_mm512_add_pd(var, _mm512_set1_pd(j->eps))));
    const __m512d flim =
        _mm512_mask_blend_pd(_mm512_cmp_pd_mask(m2, zero, _CMP_GT_OQ), _mm512_set1_pd(-1.0), _mm512_set1_pd(1.0));
    if (j->mean) _mm256_mask_storeu_ps(j->mean + g0, gm, _mm512_cvtpd_ps(mean));
    if (j->rstd) _mm256_mask_storeu_ps(j->rstd + g0, gm, _mm512_cvtpd_ps(rstd));
    const int64_t c0 = g0 * D;
    const int64_t nch = nb * D;
    __m512i gl = g_first, rl = r_first;
    for (int64_t c = c0; c < c0 + nch; c += 8) {
      const int64_t left = c0 + nch - c;
      const __mmask8 cm = left >= 8 ? (__mmask8)0xff : (__mmask8)((1u << left) - 1);
      const __m512d mean_l = _mm512_permutexvar_pd(gl, mean), rstd_l = _mm512_permutexvar_pd(gl, rstd),
                    flim_l = _mm512_permutexvar_pd(gl, flim);
      const __m256 sub_l = _mm512_cvtpd_ps(mean_l);
      const __m512d lo_l = _mm512_sub_pd(mean_l, _mm512_cvtps_pd(sub_l));
      const __m512d scale = _mm512_mul_pd(rstd_l, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(cm, gam + c)));
      const __mmask8 fold = _mm512_cmp_pd_mask(_mm512_abs_pd(_mm512_mul_pd(mean_l, scale)), flim_l, _CMP_LE_OQ);
      const __m512d shift = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(cm, bet + c)),
                                          _mm512_mul_pd(_mm512_mask_blend_pd(fold, lo_l, mean_l), scale));
      _mm256_mask_storeu_ps(j->scale + c, cm, f32_scale8(scale));
      _mm256_mask_storeu_ps(j->sub + c, cm, _mm256_maskz_mov_ps((__mmask8)~fold, sub_l));
      _mm256_mask_storeu_ps(j->shift + c, cm, _mm512_cvtpd_ps(shift));
      gl = _mm512_add_epi64(gl, g_step);
      rl = _mm512_add_epi64(rl, r_step);
      const __mmask8 wrap = _mm512_cmpge_epi64_mask(rl, Dv);
      rl = _mm512_mask_sub_epi64(rl, wrap, rl, Dv);
      gl = _mm512_mask_add_epi64(gl, wrap, gl, one);
    }
  }
}

static int have_avx512(void) { return gnk_cpu_isa() >= GNK_ISA_AVX512 && gnk_cpu_isa() <= GNK_ISA_AVX512_BF16; }

/* set_params_body compiled for AVX2 (4 doubles a vector instead of SSE2's
 * 2; no FMA: the pragma above forbids contraction anyway), on AVX2 CPUs
 * without AVX-512, group by group after the scalar merge, for groups of 8
 * channels and more. AMD Zen 3, one merge of one chunk per group, medians of
 * a scratch loop of gnk_merge_copy (0 against 2) in one process: 32 groups
 * of 16 (1x512x7x7) 1.63 -> 1.06 us, 64 of 40 (2x1280x8x8) 4.55 -> 2.63 us,
 * 2 of 1024 3.10 -> 1.50 us; under 8 channels the call and vector setup per
 * group cost more than they save (512 groups of 4: 8.3 -> 12.3 us), so those
 * stay on the portable copy. */
#define GNK_MERGE_AVX2 __attribute__((target("avx2")))
GNK_MERGE_AVX2 __attribute__((noinline)) static void
set_params_avx2(const float *restrict gam, const float *restrict bet, int64_t n, double mean, double lo, float sub,
                double rstd, double fold_limit, float *restrict ps, float *restrict pk, float *restrict ph) {
  set_params_body(gam, bet, n, mean, lo, sub, rstd, fold_limit, ps, pk, ph);
}

static void merge_f32_avx2(const gnk_merge_job *j) {
  if (j->D >= 8) merge_each(j, set_params_avx2);
  else merge_f32_base(j);
}

static int have_avx2(void) { return gnk_cpu_isa() >= GNK_ISA_AVX2 && gnk_cpu_isa() <= GNK_ISA_AVX512_BF16; }
#endif

/* Any other parameters (16-bit, or gamma / beta absent): a group's values
 * converted to f32 (exactly: f16 and bf16 are subsets of f32), 1 and 0 where
 * absent, a block at a time, then set_params_base, so that one definition of
 * the arithmetic serves every parameter type. */
static void merge_general(const gnk_merge_job *j) {
  enum { BLOCK = 256 };
  float gam[BLOCK], bet[BLOCK];
  for (int64_t g = 0; g < j->ngroups; ++g) {
    const group_vals v = merge_one(j, g);
    for (int64_t i0 = 0; i0 < j->D; i0 += BLOCK) {
      const int64_t w = j->D - i0 < BLOCK ? j->D - i0 : BLOCK, c = g * j->D + i0;
      for (int64_t i = 0; i < w; ++i) {
        gam[i] = j->gamma ? (float)gnk_value_at(j->param_dtype, j->gamma, j->c0 + c + i) : 1.0f;
        bet[i] = j->beta ? (float)gnk_value_at(j->param_dtype, j->beta, j->c0 + c + i) : 0.0f;
      }
      set_params_base(gam, bet, w, v.mean, v.lo, v.sub, v.rstd, v.fold_limit, j->sub + c, j->scale + c, j->shift + c);
    }
  }
}

typedef void (*merge_fn)(const gnk_merge_job *);
static merge_fn merge_f32 = merge_f32_base;
static pthread_once_t merge_once = PTHREAD_ONCE_INIT;
static void merge_choose(void) {
#if defined(__x86_64__)
  if (have_avx512()) merge_f32 = merge_f32_avx512;
  else if (have_avx2()) merge_f32 = merge_f32_avx2;
#endif
}

void gnk_merge(const gnk_merge_job *j) {
  if (j->ngroups <= 0) return;
  if (j->param_dtype != GNK_DTYPE_F32 || !j->gamma || !j->beta) {
    merge_general(j);
    return;
  }
  pthread_once(&merge_once, merge_choose);
  merge_f32(j);
}

int gnk_merge_copy(int wide, const gnk_merge_job *j) {
  if (wide == 0) merge_f32_base(j);
#if defined(__x86_64__)
  else if (wide == 1 && have_avx512()) merge_f32_avx512(j);
  else if (wide == 2 && have_avx2()) merge_f32_avx2(j);
#endif
  else return 0;
  return 1;
}

int gnk_set_params_copy(int wide, const float *gam, const float *bet, int64_t n, double mean, double lo, float sub,
                        double rstd, double fold_limit, float *ps, float *pk, float *ph) {
  if (wide == 0) set_params_base(gam, bet, n, mean, lo, sub, rstd, fold_limit, ps, pk, ph);
#if defined(__x86_64__)
  else if (wide == 1 && have_avx512()) set_params_avx512(gam, bet, n, mean, lo, sub, rstd, fold_limit, ps, pk, ph);
  else if (wide == 2 && have_avx2()) set_params_avx2(gam, bet, n, mean, lo, sub, rstd, fold_limit, ps, pk, ph);
#endif
  else return 0;
  return 1;
}
