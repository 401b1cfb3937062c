/* silu_cost: what gnk's SiLU costs on this core, in cycles per vector, next
 * to the throughput of the instructions it is made of. Built twice from this
 * file: build/silu_cost with the AVX-512 kernels' flags (16 floats a vector)
 * and build/silu_cost_avx2 with the AVX2 ones (-DSILU_COST_AVX2, 8 floats).
 * Performance research only (like phases.c): it includes the kernels' own ISA
 * header, so it times the v_silu / v_silu_x4 the kernels run, on an
 * L1-resident array (no memory traffic), and estimates the clock from a chain
 * of dependent imuls (3 cycles each), since the VMs here expose no cycle
 * counter.
 *
 *   make build/silu_cost && ./build/silu_cost
 *   make build/silu_cost_avx2 && ./build/silu_cost_avx2
 *
 * main() asks gnk_cpu_isa() before any instruction of the ISA runs and skips
 * (exit 0) where the CPU or OS has none.
 *
 * Reading the output: an instruction at 0.5 cycles issues on two ports, one
 * at 2.0 cycles per 16 lanes (rcp14) on one port for two cycles. A SiLU of
 * n cheap operations plus one rcp14 needs at least (n + 2) / 2 cycles. The
 * *_div kernels' v_silu_div (one vdivps for the reciprocal, Newton step and
 * multiply) is timed the same way; "x4" is four SiLUs through v_silu_x4, as
 * the kernels' unroll-4 loops do (interleaved op by op on AVX2). */
#include "gnk.h"
#ifdef SILU_COST_AVX2
#include "isa/gnk_vec_avx2.h"
#define ISA_NAME "AVX2"
#define ISA_MIN GNK_ISA_AVX2
#else
#include "isa/gnk_vec_avx512.h"
#define ISA_NAME "AVX-512"
#define ISA_MIN GNK_ISA_AVX512
#endif

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

/* Reciprocal throughput of one vector instruction: 8 independent chains. */
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
#define FMA_(a, b) v_fma(a, b, b)
#define DIV_(a, b) v_div_(b, a)
#ifdef SILU_COST_AVX2
static inline vf v_div_(vf a, vf b) { return _mm256_div_ps(a, b); }
#define MIN_(a, b) _mm256_min_ps(a, b)
#define RCP_(a, b) ((void)(b), _mm256_rcp_ps(a))
#define SHIFT_(a, b) ((void)(b), _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(a), 1)))
OP_COST(fma, FMA_)
OP_COST(min, MIN_)
OP_COST(shift, SHIFT_)
OP_COST(rcp, RCP_)
OP_COST(div, DIV_)
#else
static inline vf v_div_(vf a, vf b) { return _mm512_div_ps(a, b); }
#define REDUCE_(a, b) ((void)(b), _mm512_reduce_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC))
#define SCALEF_(a, b) _mm512_scalef_ps(a, b)
#define RCP14_(a, b) ((void)(b), _mm512_rcp14_ps(a))
OP_COST(fma, FMA_)
OP_COST(scalef, SCALEF_)
OP_COST(rcp14, RCP14_)
OP_COST(div, DIV_)
OP_COST(reduce, REDUCE_) /* settles in [0, 1) at once: no denormals */
#endif

/* 8 KiB in + 8 KiB out: L1-resident on every core here (32-48 KiB L1d). Until
 * 2026-12-03 the arrays were 32 KiB each, so that x and y together (64 KiB)
 * overflowed L1 and the loops ran from L2: x*k+h read 4.0-4.3 cycles per 16
 * floats on the Intel VM against 1.2-1.3 from L1, and the SiLU's figures
 * included some L2 traffic (SiLU 8.9-9.0 then, 8.7-8.8 from L1). */
enum { NV = 2048 / GNK_VL, SWEEPS = 32 };
static float xin[NV * GNK_VL] __attribute__((aligned(64))), yout[NV * GNK_VL] __attribute__((aligned(64)));

/* y = act(x * k + h) over the array, 4 vectors a step, as the kernels' apply
 * loop (STEP stores four vectors z0..z3), SWEEPS times per timed pass so that
 * the timer and the loop's start and drain are a small part of it; best of
 * 400 passes, seconds per vector. */
#define APPLY_COST(name, STEP)                                                           \
  static double apply_##name(void) {                                                     \
    const vf k = v_set1(1.01f), h = v_set1(0.01f);                                       \
    double best = 1e30;                                                                  \
    for (int r = 0; r < 400; ++r) {                                                      \
      const double t0 = now_s();                                                         \
      for (int w = 0; w < SWEEPS; ++w) {                                                 \
        for (int i = 0; i < NV * GNK_VL; i += 4 * GNK_VL) {                              \
          vf z0 = v_fma(v_load(xin + i), k, h), z1 = v_fma(v_load(xin + i + GNK_VL), k, h), \
             z2 = v_fma(v_load(xin + i + 2 * GNK_VL), k, h), z3 = v_fma(v_load(xin + i + 3 * GNK_VL), k, h); \
          STEP;                                                                          \
          v_store(yout + i, z0), v_store(yout + i + GNK_VL, z1);                         \
          v_store(yout + i + 2 * GNK_VL, z2), v_store(yout + i + 3 * GNK_VL, z3);        \
        }                                                                                \
        __asm__ volatile("" ::"r"(yout) : "memory"); /* each sweep's stores happen */    \
      }                                                                                  \
      const double t = now_s() - t0;                                                     \
      __asm__ volatile("" ::"r"(yout) : "memory");                                       \
      if (t < best) best = t;                                                            \
    }                                                                                    \
    return best / (NV * SWEEPS);                                                         \
  }
APPLY_COST(gn, (void)0)
APPLY_COST(silu, (z0 = v_silu(z0), z1 = v_silu(z1), z2 = v_silu(z2), z3 = v_silu(z3)))
APPLY_COST(silu_x4, v_silu_x4(&z0, &z1, &z2, &z3))
APPLY_COST(silu_div, (z0 = v_silu_div(z0), z1 = v_silu_div(z1), z2 = v_silu_div(z2), z3 = v_silu_div(z3)))
APPLY_COST(silu_div_x4, v_silu_div_x4(&z0, &z1, &z2, &z3))

int main(void) {
  const gnk_isa isa = gnk_cpu_isa(); /* CPUID and the OS's ymm / zmm state, as the registry sees them */
  if (isa < ISA_MIN) {
    printf("silu_cost: skipped, this CPU runs %s, not " ISA_NAME "\n", gnk_isa_name(isa));
    return 0;
  }
  for (int i = 0; i < NV * GNK_VL; ++i) xin[i] = (float)((i * 7919) % 2000) / 100.0f - 10.0f;
  const double hz = clock_hz();
  printf("clock ~%.2f GHz (dependent imul chain); " ISA_NAME ", %d floats a vector\n", hz / 1e9, GNK_VL);
#ifdef SILU_COST_AVX2
  printf("cycles per ymm instruction (throughput): fma %.2f  min %.2f  shift %.2f  rcp %.2f  div %.2f\n",
         cost_fma() * hz, cost_min() * hz, cost_shift() * hz, cost_rcp() * hz, cost_div() * hz);
#else
  printf("cycles per zmm instruction (throughput): fma %.2f  reduce %.2f  scalef %.2f  rcp14 %.2f  div %.2f\n",
         cost_fma() * hz, cost_reduce() * hz, cost_scalef() * hz, cost_rcp14() * hz, cost_div() * hz);
#endif
  const double gn = apply_gn(), silu = apply_silu(), silu_x4 = apply_silu_x4(), silu_div = apply_silu_div(),
               silu_div_x4 = apply_silu_div_x4();
  printf("apply loop per vector (L1), cycles (ns): x*k+h %.2f (%.2f); SiLU(x*k+h) one at a time %.2f (%.2f), "
         "v_silu_x4 %.2f (%.2f); the *_div kernels' SiLU %.2f (%.2f), v_silu_div_x4 %.2f (%.2f)\n",
         gn * hz, gn * 1e9, silu * hz, silu * 1e9, silu_x4 * hz, silu_x4 * 1e9, silu_div * hz, silu_div * 1e9,
         silu_div_x4 * hz, silu_div_x4 * 1e9);
  return 0;
}
