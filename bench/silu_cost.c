/* silu_cost: what gnk's AVX-512 SiLU costs on this core, in cycles per 16
 * floats, next to the throughput of the instructions it is made of.
 * Performance research only (like phases.c): it includes the kernels' own ISA
 * header, so it times the v_silu the kernels run, on an L1-resident array
 * (no memory traffic), and estimates the clock from a chain of dependent
 * imuls (3 cycles each), since the VMs here expose no cycle counter.
 *
 *   make build/silu_cost && ./build/silu_cost
 *
 * Built with the AVX-512 kernels' flags; main() asks gnk_cpu_isa() before any
 * AVX-512 instruction runs and skips (exit 0) where the CPU or OS has none.
 *
 * Reading the output: an instruction at 0.5 cycles issues on two ports, one
 * at 2.0 cycles per 16 lanes (rcp14) on one port for two cycles. A SiLU of
 * n cheap operations plus one rcp14 needs at least (n + 2) / 2 cycles. The
 * *_div kernels' v_silu_div (one vdivps for rcp14, Newton step and multiply)
 * is timed the same way. */
#include "gnk.h"
#include "isa/gnk_vec_avx512.h"

#include <stdio.h>
#include <time.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Cycles per second: 3e8 dependent imuls of 3 cycles each (best of 3). */
static double clock_hz(void) {
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    long n = 100000000, v = 3;
    const double t0 = now_s();
    __asm__ volatile("1: imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\tdec %1\n\tjnz 1b" : "+r"(v), "+r"(n));
    const double t = now_s() - t0;
    if (t < best) best = t;
  }
  return 3.0 * 3.0 * 1e8 / best;
}

/* Reciprocal throughput of one zmm instruction: 8 independent chains. */
#define OP_COST(name, expr)                                                                        \
  static double cost_##name(void) {                                                                 \
    vf a0 = v_set1(1.1f), a1 = v_set1(1.2f), a2 = v_set1(1.3f), a3 = v_set1(1.4f), a4 = v_set1(1.5f), \
       a5 = v_set1(1.6f), a6 = v_set1(1.7f), a7 = v_set1(1.8f);                                     \
    const vf b = v_set1(1.0f);                                                                      \
    const long n = 20000000;                                                                        \
    const double t0 = now_s();                                                                      \
    for (long i = 0; i < n; ++i) {                                                                  \
      a0 = expr(a0, b); a1 = expr(a1, b); a2 = expr(a2, b); a3 = expr(a3, b);                       \
      a4 = expr(a4, b); a5 = expr(a5, b); a6 = expr(a6, b); a7 = expr(a7, b);                       \
      __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7)); \
    }                                                                                               \
    return (now_s() - t0) / (8.0 * (double)n);                                                      \
  }
#define FMA_(a, b) _mm512_fmadd_ps(a, b, b)
#define REDUCE_(a, b) ((void)(b), _mm512_reduce_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC))
#define SCALEF_(a, b) _mm512_scalef_ps(a, b)
#define RCP14_(a, b) ((void)(b), _mm512_rcp14_ps(a))
#define DIV_(a, b) _mm512_div_ps(b, a)
OP_COST(fma, FMA_)
OP_COST(scalef, SCALEF_)
OP_COST(rcp14, RCP14_)
OP_COST(div, DIV_)
OP_COST(reduce, REDUCE_) /* settles in [0, 1) at once: no denormals */

enum { NV = 256 }; /* 16 KiB in + 16 KiB out: L1-resident */
static float xin[NV * 16] __attribute__((aligned(64))), yout[NV * 16] __attribute__((aligned(64)));

/* y = act(x * k + h) over the array, 4 vectors a step, as the kernels' apply
 * loop; best of 400 passes, seconds per vector. */
#define APPLY_COST(name, ACT)                                                          \
  static double apply_##name(void) {                                                   \
    const vf k = v_set1(1.01f), h = v_set1(0.01f);                                     \
    double best = 1e30;                                                                \
    for (int r = 0; r < 400; ++r) {                                                     \
      const double t0 = now_s();                                                       \
      for (int i = 0; i < NV * 16; i += 64)                                            \
        for (int u = 0; u < 4; ++u)                                                    \
          v_store(yout + i + 16 * u, ACT(v_fma(v_load(xin + i + 16 * u), k, h)));      \
      const double t = now_s() - t0;                                                   \
      __asm__ volatile("" ::"r"(yout) : "memory");                                     \
      if (t < best) best = t;                                                          \
    }                                                                                  \
    return best / NV;                                                                  \
  }
#define IDENTITY_(z) (z)
APPLY_COST(gn, IDENTITY_)
APPLY_COST(silu, v_silu)
APPLY_COST(silu_div, v_silu_div)

int main(void) {
  const gnk_isa isa = gnk_cpu_isa(); /* CPUID and the OS's zmm state, as the registry sees them */
  if (isa != GNK_ISA_AVX512 && isa != GNK_ISA_AVX512_BF16) {
    printf("silu_cost: skipped, this CPU runs %s, not AVX-512\n", gnk_isa_name(isa));
    return 0;
  }
  for (int i = 0; i < NV * 16; ++i) xin[i] = (float)((i * 7919) % 2000) / 100.0f - 10.0f;
  const double hz = clock_hz();
  printf("clock ~%.2f GHz (dependent imul chain)\n", hz / 1e9);
  printf("cycles per zmm instruction (throughput): fma %.2f  reduce %.2f  scalef %.2f  rcp14 %.2f  div %.2f\n",
         cost_fma() * hz, cost_reduce() * hz, cost_scalef() * hz, cost_rcp14() * hz,
         cost_div() * hz);
  const double gn = apply_gn(), silu = apply_silu(), silu_div = apply_silu_div();
  printf("apply loop per 16 floats (L1): x*k+h %.2f cycles (%.2f ns), SiLU(x*k+h) %.2f cycles (%.2f ns), "
         "the *_div kernels' SiLU %.2f cycles (%.2f ns)\n",
         gn * hz, gn * 1e9, silu * hz, silu * 1e9, silu_div * hz, silu_div * 1e9);
  return 0;
}
