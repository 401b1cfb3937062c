/*
 * gnk_vec_avx2.h: the vector vocabulary of gnk kernel templates, AVX2 + FMA.
 * Same names as every other gnk_vec_*.h (see gnk_vec_avx512.h).
 * Compiled with -mavx2 -mfma -mf16c.
 */
#ifndef GNK_VEC_AVX2_H
#define GNK_VEC_AVX2_H
#include <immintrin.h>
#include <stdint.h>

#define GNK_VL 8
typedef __m256 vf;

static inline vf v_zero(void) { return _mm256_setzero_ps(); }
static inline vf v_set1(float a) { return _mm256_set1_ps(a); }
static inline vf v_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void v_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
/* Non-temporal store (p 32-byte aligned). */
static inline void v_stream(float *p, vf v) { _mm256_stream_ps(p, v); }
static inline void v_fence(void) { _mm_sfence(); }
#define GNK_VBYTES 32
static inline __m256i v_mask_(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* Masked lanes are neither read (no fault) nor written. */
static inline vf v_load_tail(const float *p, int64_t n) { return _mm256_maskload_ps(p, v_mask_(n)); }
static inline void v_store_tail(float *p, vf v, int64_t n) { _mm256_maskstore_ps(p, v_mask_(n), v); }
static inline vf v_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf v_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf v_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf v_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
/* x - k issued on the multiply-add pipes, bitwise x - k: see gnk_vec_avx512.h. */
static inline vf v_minus_one_opaque(void) {
  vf m = _mm256_set1_ps(-1.0f);
  __asm__("" : "+x"(m));
  return m;
}
static inline vf v_sub_fma(vf x, vf k, vf minus_one) { return _mm256_fmadd_ps(k, minus_one, x); }
/* Lanes < n from a, the others from b (0 <= n <= GNK_VL). */
static inline vf v_blend_lanes(vf a, vf b, int64_t n) { return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(v_mask_(n))); }
static inline vf v_sub_tail(vf x, vf m, int64_t n) {
  return _mm256_and_ps(_mm256_sub_ps(x, m), _mm256_castsi256_ps(v_mask_(n)));
}
static inline float v_hsum(vf v) {
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}
static inline vf v_relu(vf z) { return _mm256_max_ps(v_zero(), z); }
/* See gnk_vec_avx512.h; 2^k is built in the exponent bits (k in [-126, 127],
 * hence the clamps), and rcp_ps (12 bits) needs two Newton steps. The lower
 * clamp, -88, keeps 1 + e^-z finite (at most ~1.8e38) but at least 2^126
 * below z = -87.34, where rcp_ps flushes its tiny result to 0 and the Newton
 * steps keep it 0 (d * 0 = 0, no Inf * 0): z * 0 is then -0, the scalar
 * kernels' value, and NaN for z = -Inf, as PyTorch's z * sigmoid(z). A NaN z
 * reaches the result through the final multiply (max_ps drops it). */
static inline vf v_silu(vf z) {
  vf zc = _mm256_min_ps(_mm256_max_ps(z, v_set1(-88.0f)), v_set1(87.0f));
  vf k = _mm256_round_ps(_mm256_mul_ps(zc, v_set1(-1.44269504088896341f)),
                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  vf r = v_fma(k, v_set1(0.693147180559945f), zc);
  vf p = v_set1(-1.0f / 120.0f);
  p = v_fma(p, r, v_set1(1.0f / 24.0f));
  p = v_fma(p, r, v_set1(-1.0f / 6.0f));
  p = v_fma(p, r, v_set1(0.5f));
  p = v_fma(p, r, v_set1(-1.0f));
  p = v_fma(p, r, v_set1(1.0f));
  __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  vf d = _mm256_add_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(bits)), v_set1(1.0f));
  vf rc = _mm256_rcp_ps(d);
  rc = v_fma(rc, _mm256_fnmadd_ps(d, rc, v_set1(1.0f)), rc);
  rc = v_fma(rc, _mm256_fnmadd_ps(d, rc, v_set1(1.0f)), rc);
  return _mm256_mul_ps(z, rc);
}

/* ---- 16-bit storage: converted to f32 on load, rounded (to nearest even) on store ---- */
typedef uint16_t gnk_f16_t;
typedef uint16_t gnk_bf16_t;
/* AVX2 has no 16-bit masked load/store: tails go through a small buffer. */
static inline __m128i v_ld16_tail_(const uint16_t *p, int64_t n) {
  uint16_t t[8] = {0};
  for (int64_t i = 0; i < n; ++i) t[i] = p[i];
  return _mm_loadu_si128((const __m128i *)t);
}
static inline void v_st16_tail_(uint16_t *p, __m128i h, int64_t n) {
  uint16_t t[8];
  _mm_storeu_si128((__m128i *)t, h);
  for (int64_t i = 0; i < n; ++i) p[i] = t[i];
}
static inline vf v_load_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline vf v_load_tail_f16(const uint16_t *p, int64_t n) { return _mm256_cvtph_ps(v_ld16_tail_(p, n)); }
static inline __m128i v_to_f16_(vf v) { return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline void v_store_f16(uint16_t *p, vf v) { _mm_storeu_si128((__m128i *)p, v_to_f16_(v)); }
static inline void v_store_tail_f16(uint16_t *p, vf v, int64_t n) { v_st16_tail_(p, v_to_f16_(v), n); }
static inline vf v_from_bf16_(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
static inline vf v_load_bf16(const uint16_t *p) { return v_from_bf16_(_mm_loadu_si128((const __m128i *)p)); }
static inline vf v_load_tail_bf16(const uint16_t *p, int64_t n) { return v_from_bf16_(v_ld16_tail_(p, n)); }
static inline __m128i v_to_bf16_(vf v) {
  const __m256i b = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  const __m256i qnan = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x40));
  r = _mm256_blendv_epi8(r, qnan, nan);
  const __m256i packed = _mm256_packus_epi32(r, r); /* values fit in 16 bits: no saturation */
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}
static inline void v_store_bf16(uint16_t *p, vf v) { _mm_storeu_si128((__m128i *)p, v_to_bf16_(v)); }
static inline void v_store_tail_bf16(uint16_t *p, vf v, int64_t n) { v_st16_tail_(p, v_to_bf16_(v), n); }
#endif
