/*
 * gnk_vec_neon.h: the vector vocabulary of gnk kernel templates, AArch64
 * Advanced SIMD (NEON). Same names as every other gnk_vec_*.h (see
 * gnk_vec_avx512.h). NEON, FMA (vfmaq) and the f16 <-> f32 conversions are
 * baseline on AArch64: no extra compiler flags.
 */
#ifndef GNK_VEC_NEON_H
#define GNK_VEC_NEON_H
#if !defined(__aarch64__)
#error "gnk_vec_neon.h is for AArch64 only"
#endif
#include <arm_neon.h>
#include <stdint.h>
#include "gnk_vec_x4.h"

#define GNK_VL 4
/* Channels-first GN rows that are not whole vectors and shorter than this
 * walk the group's vector grid (apply_flat in gn_nchw.c.in); the AVX-512
 * rule (4 vectors), not measured on an AArch64 core. */
#define GNK_FLAT_ROWS_MAX (4 * GNK_VL)
typedef float32x4_t vf;

static inline vf v_zero(void) { return vdupq_n_f32(0.0f); }
static inline vf v_set1(float a) { return vdupq_n_f32(a); }
static inline vf v_load(const float *p) { return vld1q_f32(p); }
static inline void v_store(float *p, vf v) { vst1q_f32(p, v); }
/* No streaming store worth having on NEON (STNP is a hint most cores ignore
 * for this pattern): a plain store, and nothing to fence. */
static inline void v_stream(float *p, vf v) { vst1q_f32(p, v); }
static inline void v_fence(void) {}
#define GNK_VBYTES 16
/* Tails (0 <= n < GNK_VL, n == GNK_VL allowed): lane by lane, so memory at
 * p[n] and beyond is never read (no fault past the end) nor written. Lanes
 * >= n read as 0. */
static inline vf v_load_tail(const float *p, int64_t n) {
  vf r = vdupq_n_f32(0.0f);
  if (n > 0) r = vld1q_lane_f32(p, r, 0);
  if (n > 1) r = vld1q_lane_f32(p + 1, r, 1);
  if (n > 2) r = vld1q_lane_f32(p + 2, r, 2);
  if (n > 3) r = vld1q_lane_f32(p + 3, r, 3);
  return r;
}
static inline void v_store_tail(float *p, vf v, int64_t n) {
  if (n > 0) vst1q_lane_f32(p, v, 0);
  if (n > 1) vst1q_lane_f32(p + 1, v, 1);
  if (n > 2) vst1q_lane_f32(p + 2, v, 2);
  if (n > 3) vst1q_lane_f32(p + 3, v, 3);
}
static inline vf v_add(vf a, vf b) { return vaddq_f32(a, b); }
static inline vf v_sub(vf a, vf b) { return vsubq_f32(a, b); }
static inline vf v_mul(vf a, vf b) { return vmulq_f32(a, b); }
/* a * b + c, fused (FMLA). */
static inline vf v_fma(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); }
/* x - k (gnk_vec_avx512.h issues it on the FMA pipes; NEON cores share one
 * set of pipes for both, so a plain subtraction). */
static inline vf v_minus_one_opaque(void) { return vdupq_n_f32(-1.0f); }
static inline vf v_sub_fma(vf x, vf k, vf minus_one) { (void)minus_one; return vsubq_f32(x, k); }
static inline uint32x4_t v_mask_(int64_t n) {
  static const uint32_t iota[4] = {0, 1, 2, 3};
  const int64_t m = n < 0 ? 0 : n > 4 ? 4 : n;
  return vcltq_u32(vld1q_u32(iota), vdupq_n_u32((uint32_t)m));
}
/* Lanes < n from a, the others from b (0 <= n <= GNK_VL). */
static inline vf v_blend_lanes(vf a, vf b, int64_t n) { return vbslq_f32(v_mask_(n), a, b); }
/* (x - m) in lanes < n, 0 elsewhere: tails must not add (0 - m) to a sum. */
static inline vf v_sub_tail(vf x, vf m, int64_t n) {
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(vsubq_f32(x, m)), v_mask_(n)));
}
/* Fixed-order horizontal sum (deterministic): (l0 + l2) + (l1 + l3), the
 * same halves-then-pairs order as the x86 headers. */
static inline float v_hsum(vf v) {
  const float32x2_t h = vadd_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(h, 0) + vget_lane_f32(h, 1);
}
/* max(z, 0) with NaN kept: FMAX returns NaN when either operand is NaN. */
static inline vf v_relu(vf z) { return vmaxq_f32(z, vdupq_n_f32(0.0f)); }
/* z * sigmoid(z) = z / (1 + exp(-z)), the algorithm of gnk_vec_avx512.h:
 * exp(-z) = 2^k * e^(-r), k = round(-z*log2(e)) (to nearest even), r = z + k*ln2,
 * e^(-r) by the same degree-5 polynomial; 2^k is built in the exponent bits
 * (k in [-126, 128], hence the clamps); 1/(1+e) by FRECPE (8 bits) and
 * two Newton steps (FRECPS: 2 - d*rc, fused), i.e. full f32 precision.
 * The lower clamp, -88.8, lets k reach 128 below z = -88.4, whose exponent
 * bits are +Inf: d = Inf, FRECPE gives 0 and FRECPS(Inf, 0) is 2 by
 * definition (no Inf * 0), so rc = 0 and z * 0 is -0 (the scalar kernels'
 * value; the true one is below 1e-36) and NaN for z = -Inf, as PyTorch's
 * z * sigmoid(z). Above, d up to ~2.4e38 stays finite and FRECPE's estimate
 * of its reciprocal is subnormal (FZ off), refined by the same steps.
 * FMAX/FMIN propagate NaN, so a NaN z stays NaN. */
static inline vf v_silu(vf z) {
  const vf zc = vminq_f32(vmaxq_f32(z, vdupq_n_f32(-88.8f)), vdupq_n_f32(87.0f));
  const int32x4_t ki = vcvtnq_s32_f32(vmulq_f32(zc, vdupq_n_f32(-1.44269504088896341f)));
  const vf k = vcvtq_f32_s32(ki);
  const vf r = v_fma(k, vdupq_n_f32(0.693147180559945f), zc);
  vf p = vdupq_n_f32(-1.0f / 120.0f);
  p = v_fma(p, r, vdupq_n_f32(1.0f / 24.0f));
  p = v_fma(p, r, vdupq_n_f32(-1.0f / 6.0f));
  p = v_fma(p, r, vdupq_n_f32(0.5f));
  p = v_fma(p, r, vdupq_n_f32(-1.0f));
  p = v_fma(p, r, vdupq_n_f32(1.0f));
  const int32x4_t bits = vshlq_n_s32(vaddq_s32(ki, vdupq_n_s32(127)), 23);
  const vf d = vaddq_f32(vmulq_f32(p, vreinterpretq_f32_s32(bits)), vdupq_n_f32(1.0f));
  vf rc = vrecpeq_f32(d);
  rc = vmulq_f32(rc, vrecpsq_f32(d, rc));
  rc = vmulq_f32(rc, vrecpsq_f32(d, rc));
  return vmulq_f32(z, rc);
}
/* Four SiLUs in place (the templates' GN+SiLU stores): four calls. */
GNK_X4_BY_CALLS(v_silu)

/* ---- 16-bit storage: converted to f32 on load, rounded (to nearest even) on store ---- */
typedef uint16_t gnk_f16_t;
typedef uint16_t gnk_bf16_t;
/* 16-bit tails, lane by lane (never past n); lanes >= n read as 0. */
static inline uint16x4_t v_ld16_tail_(const uint16_t *p, int64_t n) {
  uint16x4_t h = vdup_n_u16(0);
  if (n > 0) h = vld1_lane_u16(p, h, 0);
  if (n > 1) h = vld1_lane_u16(p + 1, h, 1);
  if (n > 2) h = vld1_lane_u16(p + 2, h, 2);
  if (n > 3) h = vld1_lane_u16(p + 3, h, 3);
  return h;
}
static inline void v_st16_tail_(uint16_t *p, uint16x4_t h, int64_t n) {
  if (n > 0) vst1_lane_u16(p, h, 0);
  if (n > 1) vst1_lane_u16(p + 1, h, 1);
  if (n > 2) vst1_lane_u16(p + 2, h, 2);
  if (n > 3) vst1_lane_u16(p + 3, h, 3);
}
/* f16: FCVTL / FCVTN (baseline AArch64), rounding per FPCR (nearest even). */
static inline vf v_from_f16_(uint16x4_t h) { return vcvt_f32_f16(vreinterpret_f16_u16(h)); }
static inline uint16x4_t v_to_f16_(vf v) { return vreinterpret_u16_f16(vcvt_f16_f32(v)); }
static inline vf v_load_f16(const uint16_t *p) { return v_from_f16_(vld1_u16(p)); }
static inline vf v_load_tail_f16(const uint16_t *p, int64_t n) { return v_from_f16_(v_ld16_tail_(p, n)); }
static inline void v_store_f16(uint16_t *p, vf v) { vst1_u16(p, v_to_f16_(v)); }
static inline void v_store_tail_f16(uint16_t *p, vf v, int64_t n) { v_st16_tail_(p, v_to_f16_(v), n); }
/* bf16: the high half of an f32 (load: shift left 16). */
static inline vf v_from_bf16_(uint16x4_t h) { return vreinterpretq_f32_u32(vshll_n_u16(h, 16)); }
/* Plain-integer rounding (BFCVTN needs ARMv8.6): add 0x7fff + lsb (round to
 * nearest even) and keep the high half; NaNs are kept quiet. */
static inline uint16x4_t v_to_bf16_(vf v) {
  const uint32x4_t b = vreinterpretq_u32_f32(v);
  const uint32x4_t lsb = vandq_u32(vshrq_n_u32(b, 16), vdupq_n_u32(1));
  const uint16x4_t r = vaddhn_u32(b, vaddq_u32(lsb, vdupq_n_u32(0x7fff))); /* (b + bias) >> 16 */
  const uint16x4_t qnan = vorr_u16(vshrn_n_u32(b, 16), vdup_n_u16(0x40));
  const uint16x4_t ordered = vmovn_u32(vceqq_f32(v, v)); /* all ones unless NaN */
  return vbsl_u16(ordered, r, qnan);
}
static inline vf v_load_bf16(const uint16_t *p) { return v_from_bf16_(vld1_u16(p)); }
static inline vf v_load_tail_bf16(const uint16_t *p, int64_t n) { return v_from_bf16_(v_ld16_tail_(p, n)); }
static inline void v_store_bf16(uint16_t *p, vf v) { vst1_u16(p, v_to_bf16_(v)); }
static inline void v_store_tail_bf16(uint16_t *p, vf v, int64_t n) { v_st16_tail_(p, v_to_bf16_(v), n); }
#endif
