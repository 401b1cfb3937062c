/*
 * gnk_vec_scalar.h: the vector vocabulary of gnk kernel templates, portable C
 * with one lane. Same names as every other gnk_vec_*.h; runs on any CPU.
 */
#ifndef GNK_VEC_SCALAR_H
#define GNK_VEC_SCALAR_H
#include <math.h>
#include <stdint.h>
#include "gnk_vec_x4.h"

#define GNK_VL 1
/* Channels-first rows that are not whole vectors: none here (GNK_VL 1). */
#define GNK_FLAT_ROWS_MAX (4 * GNK_VL)
typedef float vf;

static inline vf v_zero(void) { return 0.0f; }
static inline vf v_set1(float a) { return a; }
static inline vf v_load(const float *p) { return *p; }
static inline void v_store(float *p, vf v) { *p = v; }
static inline void v_stream(float *p, vf v) { *p = v; }
static inline void v_fence(void) {  }
#define GNK_VBYTES 4
static inline vf v_load_tail(const float *p, int64_t n) { return n > 0 ? *p : 0.0f; }
static inline void v_store_tail(float *p, vf v, int64_t n) { if (n > 0) *p = v; }
static inline vf v_add(vf a, vf b) { return a + b; }
static inline vf v_sub(vf a, vf b) { return a - b; }
static inline vf v_mul(vf a, vf b) { return a * b; }
static inline vf v_fma(vf a, vf b, vf c) { return a * b + c; } /* no FMA unit assumed */
/* x - k (gnk_vec_avx512.h issues it on the FMA pipes; here a plain subtraction). */
static inline vf v_minus_one_opaque(void) { return -1.0f; }
static inline vf v_sub_fma(vf x, vf k, vf minus_one) { (void)minus_one; return x - k; }
static inline vf v_sub_tail(vf x, vf m, int64_t n) { return n > 0 ? x - m : 0.0f; }
/* Lanes < n from a, the others from b (0 <= n <= GNK_VL). */
static inline vf v_blend_lanes(vf a, vf b, int64_t n) { return n > 0 ? a : b; }
static inline float v_hsum(vf v) { return v; }
static inline vf v_relu(vf z) { return z > 0.0f || z != z ? z : 0.0f; }
static inline vf v_silu(vf z) { return z / (1.0f + expf(-z)); }
/* Four SiLUs in place (the templates' GN+SiLU stores): four calls. */
GNK_X4_BY_CALLS(v_silu)

/* ---- 16-bit storage (portable bit manipulation; round to nearest even) ---- */
typedef uint16_t gnk_f16_t;
typedef uint16_t gnk_bf16_t;
#include "gnk_half.h"
static inline vf v_load_f16(const uint16_t *p) { return gnk_f16_to_f32(*p); }
static inline vf v_load_tail_f16(const uint16_t *p, int64_t n) { return n > 0 ? gnk_f16_to_f32(*p) : 0.0f; }
static inline void v_store_f16(uint16_t *p, vf v) { *p = gnk_f32_to_f16(v); }
static inline void v_store_tail_f16(uint16_t *p, vf v, int64_t n) { if (n > 0) *p = gnk_f32_to_f16(v); }
static inline vf v_load_bf16(const uint16_t *p) { return gnk_bf16_to_f32(*p); }
static inline vf v_load_tail_bf16(const uint16_t *p, int64_t n) { return n > 0 ? gnk_bf16_to_f32(*p) : 0.0f; }
static inline void v_store_bf16(uint16_t *p, vf v) { *p = gnk_f32_to_bf16(v); }
static inline void v_store_tail_bf16(uint16_t *p, vf v, int64_t n) { if (n > 0) *p = gnk_f32_to_bf16(v); }
#endif
