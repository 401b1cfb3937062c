/* gnk_vec_x4.h: the four-at-a-time form of a one-vector SiLU as four calls,
 * for the ISA headers whose compiler schedules four independent SiLUs as well
 * as a hand interleaving would (AVX-512: v_silu one at a time 8.9-9.0 cycles
 * per 16 floats, v_silu_x4 of four calls 8.9-9.0, ./build/silu_cost on the
 * Intel Emerald Rapids VM, 2026-12-03). The templates' GN+SiLU stores take
 * four vectors at a time through F_x4 (silu4() in gn_nchw.c.in /
 * gn_nhwc.c.in); gnk_vec_avx2.h writes its own, op by op, because there the
 * four calls measured slower (4.4 against 3.0 ns per 8 floats on Zen 3).
 * Four calls give the bits of F on each vector. */
#ifndef GNK_VEC_X4_H
#define GNK_VEC_X4_H
#define GNK_X4_BY_CALLS(F) \
  static inline void F##_x4(vf *a, vf *b, vf *c, vf *d) { *a = F(*a), *b = F(*b), *c = F(*c), *d = F(*d); }
#endif
