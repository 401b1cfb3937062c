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

#define GNK_VL 16
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
/* (x - m) in lanes < n, 0 elsewhere: tails must not add (0 - m) to a sum. */
static inline vf v_sub_tail(vf x, vf m, int64_t n) { return _mm512_maskz_sub_ps(v_mask_(n), x, m); }
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
/* z * sigmoid(z) = z / (1 + exp(-z)).
 * exp(-z) = 2^k * e^(-r) with k = round(-z*log2(e)), r = z + k*ln2, |r| <= ln2/2;
 * e^(-r) by a degree-5 Taylor polynomial (rel. error <= 2.5e-6), 2^k by
 * scalef; 1/(1+e) by rcp14 and one Newton step. z is clamped to [-88, 88]
 * first (beyond that sigmoid is 0 or 1 in f32); a NaN z stays NaN through
 * the final multiply. 16 vector ops: the fused SiLU is compute-bound. */
static inline vf v_silu(vf z) {
  vf zc = _mm512_min_ps(_mm512_max_ps(z, v_set1(-88.0f)), v_set1(88.0f));
  vf k = _mm512_roundscale_ps(_mm512_mul_ps(zc, v_set1(-1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  vf r = v_fma(k, v_set1(0.693147180559945f), zc);
  vf p = v_set1(-1.0f / 120.0f);
  p = v_fma(p, r, v_set1(1.0f / 24.0f));
  p = v_fma(p, r, v_set1(-1.0f / 6.0f));
  p = v_fma(p, r, v_set1(0.5f));
  p = v_fma(p, r, v_set1(-1.0f));
  p = v_fma(p, r, v_set1(1.0f));
  vf d = _mm512_add_ps(_mm512_scalef_ps(p, k), v_set1(1.0f));
  vf rc = _mm512_rcp14_ps(d);
  rc = v_fma(rc, _mm512_fnmadd_ps(d, rc, v_set1(1.0f)), rc); /* one Newton step */
  return _mm512_mul_ps(z, rc);
}
#endif
