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
/* Channels-first GN rows that are not whole vectors walk the group's vector
 * grid at any length (apply_flat in gn_nchw.c.in): a row walk ends each row
 * in a masked store, which AMD Zen 3 makes the apply's hot spot (the flat
 * walk 0.69-0.97 of its time at S = 36-1225, bench/kernel_ab.sh). */
#define GNK_FLAT_ROWS_MAX INT64_MAX
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
/* z * sigmoid(z) = z / (1 + 2^t), t = -z * log2(e), as in gnk_vec_avx512.h
 * but with what AVX2 has. v_silu_d_ computes d = 1 + 2^t in 12 operations:
 * the multiply, two clamps of t to [-125, hi] (hi = 127 or 128, below),
 * j = t + (1.5 * 2^23 + 127), which rounds t to the nearest integer k and
 * leaves k + 127 in j's low mantissa bits, so that j minus that constant is
 * k exactly and j << 23 is the bit pattern of 2^k (no cvtps2dq, no integer
 * add), f = t - k in [-0.5, 0.5], 2^f by a degree-4 polynomial (Remez,
 * relative error 2.6e-6) in four FMAs, the shift, and d = 2^f * 2^k + 1 in
 * one FMA. t >= -125 keeps 2^f * 2^k normal (a denormal result costs a
 * microcode assist on Intel cores); d is 1 there (z > 86.6), so y = z. */
/* The SiLU of n vectors (n = 1 or 4, a constant once inlined), each step
 * over all n before the next: four independent chains side by side. One
 * SiLU is a chain of ~17 dependent operations, ~50 cycles; with 16 ymm
 * registers the compiler emits four of them one after the other, and the
 * out-of-order window cannot overlap them (AMD Zen 3, L1-resident apply
 * loop: 4.4 ns per 8 floats one at a time, 3.0 interleaved by four). The
 * same operations per lane either way: v_silu and v_silu_x4 agree bitwise. */
#define GNK_EACH_(n, stmt) for (int u_ = 0; u_ < (n); ++u_) { stmt; }
static inline void v_silu_d_(const vf *z, vf *d, int n, float hi) {
  const vf magic = v_set1(12582912.0f + 127.0f);
  vf t[4], j[4], f[4], p[4];
  GNK_EACH_(n, t[u_] = _mm256_mul_ps(z[u_], v_set1(-1.44269504088896341f)))
  GNK_EACH_(n, t[u_] = _mm256_max_ps(_mm256_min_ps(t[u_], v_set1(hi)), v_set1(-125.0f))) /* a NaN t becomes hi */
  GNK_EACH_(n, j[u_] = _mm256_add_ps(t[u_], magic))
  GNK_EACH_(n, f[u_] = _mm256_sub_ps(t[u_], _mm256_sub_ps(j[u_], magic)))
  GNK_EACH_(n, p[u_] = v_fma(v_set1(0.00957010191f), f[u_], v_set1(0.0559178603f)))
  GNK_EACH_(n, p[u_] = v_fma(p[u_], f[u_], v_set1(0.240247448f)))
  GNK_EACH_(n, p[u_] = v_fma(p[u_], f[u_], v_set1(0.693121815f)))
  GNK_EACH_(n, p[u_] = v_fma(p[u_], f[u_], v_set1(0.999999261f)))
  GNK_EACH_(n, d[u_] = v_fma(p[u_], _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(j[u_]), 23)), v_set1(1.0f)))
}
/* hi = 127, then rcp_ps (12 bits), two Newton steps and z * 1/d: 18
 * operations. One step would do for the error budget (~2^-22), but not for
 * large z: rcp_ps(1) is off by up to 3.7e-4, one step leaves 1 - 1.3e-7, and
 * silu(z) = z would come out one float ulp low (an f16 output at a rounding
 * corner one f16 ulp low: the portable test's exact problems); after two
 * steps 1/1 is exactly 1 and y = z wherever d = 1 (z > ~17). For t > 126
 * (z < -87.34) d > 2^126, whose reciprocal is below FLT_MIN: rcp_ps
 * flushes it to 0 and the Newton steps keep 0 (1 - d * 0 = 1, no Inf * 0),
 * so y = z * 0 = -0, and NaN for z = -Inf, as PyTorch's z * sigmoid(z);
 * silu(+Inf) = +Inf * 1 = +Inf. A NaN z becomes t = hi in the clamps
 * (minps returns its second operand for a NaN) and reaches y through the
 * final multiply. */
static inline void v_silu_n_(vf *z, int n) {
  vf d[4], rc[4];
  v_silu_d_(z, d, n, 127.0f);
  GNK_EACH_(n, rc[u_] = _mm256_rcp_ps(d[u_]))
  GNK_EACH_(n, rc[u_] = v_fma(rc[u_], _mm256_fnmadd_ps(d[u_], rc[u_], v_set1(1.0f)), rc[u_]))
  GNK_EACH_(n, rc[u_] = v_fma(rc[u_], _mm256_fnmadd_ps(d[u_], rc[u_], v_set1(1.0f)), rc[u_]))
  GNK_EACH_(n, z[u_] = _mm256_mul_ps(z[u_], rc[u_]))
}
static inline vf v_silu(vf z) { v_silu_n_(&z, 1); return z; }
static inline void v_silu_x4(vf *a, vf *b, vf *c, vf *d) {
  vf z[4] = {*a, *b, *c, *d};
  v_silu_n_(z, 4);
  *a = z[0], *b = z[1], *c = z[2], *d = z[3];
}
/* The same by one division (kernels *_div): vdivps replaces rcp_ps, the
 * Newton steps and the multiply (13 operations), on the divider, off the FMA
 * and add pipes; correctly rounded. hi = 128: for t >= 127.5 (z <= -88.4) k = 128 makes 2^k
 * the bit pattern of +Inf, so d = +Inf and y = z / Inf = -0; silu(-Inf) =
 * -Inf / Inf = NaN; a NaN z gives NaN / Inf = NaN. */
static inline void v_silu_div_n_(vf *z, int n) {
  vf d[4];
  v_silu_d_(z, d, n, 128.0f);
  GNK_EACH_(n, z[u_] = _mm256_div_ps(z[u_], d[u_]))
}
static inline vf v_silu_div(vf z) { v_silu_div_n_(&z, 1); return z; }
static inline void v_silu_div_x4(vf *a, vf *b, vf *c, vf *d) {
  vf z[4] = {*a, *b, *c, *d};
  v_silu_div_n_(z, 4);
  *a = z[0], *b = z[1], *c = z[2], *d = z[3];
}
#undef GNK_EACH_

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
