/* gnk_half.h: portable scalar conversions between f32 and the 16-bit storage
 * types (IEEE binary16, bfloat16), round to nearest even, NaN kept quiet.
 * Used by the scalar kernels, the runtime (gamma/beta) and the tests. */
#ifndef GNK_HALF_H
#define GNK_HALF_H
#include <stdint.h>
#include <string.h>

static inline float gnk_bits_f32_(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t gnk_f32_bits_(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static inline float gnk_bf16_to_f32(uint16_t h) { return gnk_bits_f32_((uint32_t)h << 16); }

static inline uint16_t gnk_f32_to_bf16(float f) {
  const uint32_t u = gnk_f32_bits_(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline float gnk_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1f) return gnk_bits_f32_(sign | 0x7f800000u | (man << 13)); /* Inf, NaN */
  if (exp == 0) { /* zero or subnormal: man * 2^-24 */
    const float v = (float)man * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return gnk_bits_f32_(sign | ((exp + 112u) << 23) | (man << 13));
}

static inline uint16_t gnk_f32_to_f16(float f) {
  const uint32_t u = gnk_f32_bits_(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);                        /* rounds to Inf */
  if (a < 0x38800000u) { /* subnormal half (or zero): scale and round to nearest even */
    const float v = gnk_bits_f32_(a) * 16777216.0f; /* exact: value in units of 2^-24 */
    uint32_t m = (uint32_t)v;
    const float rem = v - (float)m;
    if (rem > 0.5f || (rem == 0.5f && (m & 1u))) ++m;
    return (uint16_t)(sign | m);
  }
  const uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - (112u << 23);
  return (uint16_t)(sign | (r >> 13));
}
#endif
