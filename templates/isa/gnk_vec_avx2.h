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
/* See gnk_vec_avx512.h; 2^k is built in the exponent bits (k in [-127, 127],
 * hence the clamp at 87), and rcp_ps (12 bits) needs two Newton steps. */
static inline vf v_silu(vf z) {
  vf zc = _mm256_min_ps(_mm256_max_ps(z, v_set1(-87.0f)), v_set1(87.0f));
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
#endif
