/*
 * gnk_vec_avx512.h: the vector vocabulary of gnk kernel templates, AVX-512.
 * Every ISA header (scalar, avx2, avx512, ...) defines the same names, so one
 * kernel template serves all ISAs; the generator picks the header.
 * Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma.
 */
#ifndef GNK_VEC_AVX512_H
#define GNK_VEC_AVX512_H
#include <immintrin.h>
#include <stdint.h>
#include "gnk_vec_x4.h"

#define GNK_VL 16
/* Channels-first GN rows that are not whole vectors and shorter than this
 * walk the group's vector grid (apply_flat in gn_nchw.c.in); longer ones
 * go row by row, one masked vector each (faster from S = 100 on Zen 4). */
#define GNK_FLAT_ROWS_MAX (4 * GNK_VL)
typedef __m512 vf;

static inline vf v_zero(void) { return _mm512_setzero_ps(); }
static inline vf v_set1(float a) { return _mm512_set1_ps(a); }
static inline vf v_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void v_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
/* Non-temporal store (p 64-byte aligned): bypasses the caches, no read-for-ownership. */
static inline void v_stream(float *p, vf v) { _mm512_stream_ps(p, v); }
static inline void v_fence(void) { _mm_sfence(); }
#define GNK_VBYTES 64
static inline __mmask16 v_mask_(int64_t n) { return (__mmask16)((1u << n) - 1u); }
/* Lanes >= n read as 0 and are never touched in memory (no fault past the end). */
static inline vf v_load_tail(const float *p, int64_t n) { return _mm512_maskz_loadu_ps(v_mask_(n), p); }
static inline void v_store_tail(float *p, vf v, int64_t n) { _mm512_mask_storeu_ps(p, v_mask_(n), v); }
static inline vf v_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf v_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf v_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf v_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
/* x - k issued on the multiply-add pipes: fma(k, -1, x) is bitwise x - k
 * (k * -1 is exact; one rounding), special values included. The statistics
 * loops are add-bound on AMD Zen 4, whose FP adds and FMAs run on separate
 * pipe pairs: moving some of their subtractions to the FMA pipes balances
 * the two (Intel cores issue adds and FMAs on the same ports, so there it
 * should change nothing; not measured there). `minus_one` must
 * come from v_minus_one_opaque(), which hides the constant so that the
 * compiler does not turn the FMA back into a subtraction. */
static inline vf v_minus_one_opaque(void) {
  vf m = _mm512_set1_ps(-1.0f);
  __asm__("" : "+v"(m));
  return m;
}
static inline vf v_sub_fma(vf x, vf k, vf minus_one) { return _mm512_fmadd_ps(k, minus_one, x); }
/* (x - m) in lanes < n, 0 elsewhere: tails must not add (0 - m) to a sum. */
static inline vf v_sub_tail(vf x, vf m, int64_t n) { return _mm512_maskz_sub_ps(v_mask_(n), x, m); }
/* Lanes < n from a, the others from b (0 <= n <= GNK_VL). */
static inline vf v_blend_lanes(vf a, vf b, int64_t n) { return _mm512_mask_blend_ps(v_mask_(n), b, a); }
/* Fixed-order horizontal sum (deterministic). */
static inline float v_hsum(vf v) {
  __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}
static inline vf v_relu(vf z) {
  /* max(z, 0) with NaN kept: vmaxps returns the second operand on NaN. */
  return _mm512_max_ps(v_zero(), z);
}
/* 2^f, f = t - floor(t) in [0, 1), for t = -z * log2(e): the polynomial part
 * of the SiLU's denominator 1 + 2^t (both forms below scale it by
 * 2^floor(t) with vscalefps, each with its own rounding). */
static inline vf v_silu_pow2f_(vf t) {
  const vf f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  vf p = v_set1(0.013534014113247395f);
  p = v_fma(p, f, v_set1(0.05201131850481033f));
  p = v_fma(p, f, v_set1(0.2414432018995285f));
  p = v_fma(p, f, v_set1(0.6930036544799805f));
  return v_fma(p, f, v_set1(1.0000026226043701f));
}
/* z * sigmoid(z) = z / (1 + 2^t), t = -z * log2(e).
 * 2^t = 2^floor(t) * 2^f with f = t - floor(t) in [0, 1): vreduceps gives f
 * and vscalefps applies 2^floor(t) in one instruction each; 2^f is a degree-4
 * polynomial (Lawson-fitted, rel. error 2.7e-6); 1/(1 + 2^t) is rcp14 plus one
 * Newton step. Here vscalefps rounds toward zero, so where 2^t overflows
 * (z < -88.7) it gives FLT_MAX, not Inf: d = FLT_MAX, rc ~ 2^-128 and the
 * Newton step stays finite (with Inf it would be Inf * 0 = NaN). The
 * numerator is max(z, -1e4): for z < -1e4 the product z * 2^-128 would no
 * longer be ~0 (silu(-1e38) came out -0.29), while d, from z itself, is NaN
 * for z = -Inf (vreduceps(Inf) is NaN), so silu(-Inf) is NaN, as PyTorch's
 * x * sigmoid(x); vmaxps returns its second operand, z, for a NaN z. For
 * -1e4 <= z < -88.7, y is about z * 2^-128 (the true value is smaller still).
 * 13 vector operations in 15 slots of the two FP ports: a zmm rcp14 takes
 * three (Intel VM, 2026-12-03: four rcp14 alone ran 8 cycles, 8 with four
 * independent FMAs beside them, 10 with eight), two cycles of one port. */
static inline vf v_silu(vf z) {
  const vf t = _mm512_mul_round_ps(z, v_set1(-1.44269504088896341f), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const vf p = v_silu_pow2f_(t);
  const vf d = _mm512_add_ps(_mm512_scalef_round_ps(p, t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC), v_set1(1.0f));
  vf rc = _mm512_rcp14_ps(d);
  rc = v_fma(rc, _mm512_fnmadd_ps(d, rc, v_set1(1.0f)), rc); /* one Newton step */
  return _mm512_mul_ps(_mm512_max_ps(v_set1(-1e4f), z), rc);
}
/* The same SiLU as z / (1 + 2^t) by one division, in place of rcp14, the
 * Newton step and the multiply. vdivps runs on its own unit: on AMD Zen 4 its
 * 6-cycle throughput per 16 lanes hides under the ~10 cycles the rest needs
 * on the FMA/add pipes, which lose three operations (9.9 against 11.7-11.9
 * cycles per 16 floats with the affine FMA, ./build/silu_cost); on the Intel
 * VM vdivps measured slower. Correctly rounded, so at least as accurate (max.
 * rel. error 6.2e-6 from the polynomial in both forms). vscalefps rounds to
 * nearest here, so where 2^t overflows (z < -88.7) d is +Inf and y = z / Inf
 * = -0, the value rounded (the true one is below 1e-36); silu(+Inf) = +Inf;
 * silu(-Inf) = -Inf / NaN = NaN; NaN stays NaN. Kernels *_div use it. */
static inline vf v_silu_div(vf z) {
  const vf t = _mm512_mul_ps(z, v_set1(-1.44269504088896341f));
  const vf p = v_silu_pow2f_(t);
  return _mm512_div_ps(z, _mm512_add_ps(_mm512_scalef_round_ps(p, t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                                        v_set1(1.0f)));
}
/* Four SiLUs in place (the templates' GN+SiLU stores): four calls. */
GNK_X4_BY_CALLS(v_silu)
GNK_X4_BY_CALLS(v_silu_div)

/* ---- 16-bit storage: converted to f32 on load, rounded (to nearest even) on store ---- */
typedef uint16_t gnk_f16_t;
typedef uint16_t gnk_bf16_t;
static inline vf v_load_f16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
static inline vf v_load_tail_f16(const uint16_t *p, int64_t n) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(v_mask_(n), p));
}
static inline __m256i v_to_f16_(vf v) { return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline void v_store_f16(uint16_t *p, vf v) { _mm256_storeu_si256((__m256i *)p, v_to_f16_(v)); }
static inline void v_store_tail_f16(uint16_t *p, vf v, int64_t n) { _mm256_mask_storeu_epi16(p, v_mask_(n), v_to_f16_(v)); }
static inline vf v_from_bf16_(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
static inline vf v_load_bf16(const uint16_t *p) { return v_from_bf16_(_mm256_loadu_si256((const __m256i *)p)); }
static inline vf v_load_tail_bf16(const uint16_t *p, int64_t n) { return v_from_bf16_(_mm256_maskz_loadu_epi16(v_mask_(n), p)); }
#ifdef __AVX512BF16__
/* AVX512-BF16: one instruction, round to nearest even, NaN stays NaN. */
static inline __m256i v_to_bf16_(vf v) { return (__m256i)_mm512_cvtneps_pbh(v); }
#else
/* Plain-integer path: add 0x7fff + lsb (round to nearest even), keep NaNs quiet. */
static inline __m256i v_to_bf16_(vf v) {
  const __m512i b = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(r);
}
#endif
static inline void v_store_bf16(uint16_t *p, vf v) { _mm256_storeu_si256((__m256i *)p, v_to_bf16_(v)); }
static inline void v_store_tail_bf16(uint16_t *p, vf v, int64_t n) { _mm256_mask_storeu_epi16(p, v_mask_(n), v_to_bf16_(v)); }
#endif
