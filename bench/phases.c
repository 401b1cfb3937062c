/* phases: where a kernel's time goes. Times one kernel's two phases
 * separately on an f32 problem (statistics of each unit, then its
 * normalization, as the 1-thread executor runs them, without the merge), next
 * to memcpy of the tensor and a plain vectorized read of it (the read-only
 * streaming rate). Minimum of 20 rounds. Performance research only: it calls
 * the kernel ABI directly with the executor's chunk sizes. Its memcpy follows
 * the kernel's (possibly streamed) stores, so y may be cold: roof ratios come
 * from gnk-run and make bench, not from here.
 *
 *   build/phases KERNEL N C S      e.g. build/phases gnk_f32_nchw_gnsilu_g32c320__avx512_u4 2 320 4096
 *
 * Channels-last tensors over gnk_stream_bytes() get the executor's prefetch
 * distance (gnk_kargs.pf_rows); PFR=rows in the environment replaces it (0:
 * no prefetch), to time the prefetch against none. */
#include "gnk_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Sum of the tensor with 8 independent chains: the read-only streaming rate. */
static float read_sum(const float *x, int64_t n) {
  float s[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += x[i + k];
  for (; i < n; ++i) s[0] += x[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s KERNEL N C S\n", argv[0]);
    return 2;
  }
  const int ki = gnk_registry_find(argv[1]);
  const gnk_kernel *k = gnk_registry_get(ki);
  const int64_t N = atoll(argv[2]), C = atoll(argv[3]), S = atoll(argv[4]);
  if (!k || k->info.dtype != GNK_DTYPE_F32 || N < 1 || C < 1 || S < 1) {
    fprintf(stderr, "%s: need an f32 kernel of the registry and positive N C S\n", argv[0]);
    return 2;
  }
  const int64_t G = k->info.groups ? k->info.groups : 32;
  if (C % G || (k->info.channels && k->info.channels != C) || gnk_cpu_isa() < k->info.isa) {
    fprintf(stderr, "%s: %s cannot run C=%lld on this CPU\n", argv[0], argv[1], (long long)C);
    return 2;
  }
  const int nhwc = k->info.layout == GNK_LAYOUT_NHWC;
  const int64_t total = N * C * S;
  float *x = aligned_alloc(64, (size_t)(total * 4 + 63) / 64 * 64), *y = aligned_alloc(64, (size_t)(total * 4 + 63) / 64 * 64);
  if (!x || !y) return 1;
  for (int64_t i = 0; i < total; ++i) x[i] = (float)(i % 977) * 0.01f;
  memset(y, 0, (size_t)total * 4);
  gnk_kargs a = gnk_kargs_f32_whole_rows(k->info.layout, x, y, N, C, S, G); /* as the executor runs it */
  const int64_t units = nhwc ? N : N * G;
  if (nhwc && getenv("PFR")) a.pf_rows = atoll(getenv("PFR")); /* research override, see above */
  const int64_t K = a.nchunk;
  a.part = calloc((size_t)(N * G * K), sizeof(gnk_partial));
  float *sub = calloc((size_t)(N * C), 4), *scale = calloc((size_t)(N * C), 4), *shift = calloc((size_t)(N * C), 4);
  if (!a.part || !sub || !scale || !shift) return 1;
  for (int64_t i = 0; i < N * C; ++i) scale[i] = 1.0f;
  a.sub = sub;
  a.scale = scale;
  a.shift = shift;
  double bs = 1e30, ba = 1e30, bm = 1e30, br = 1e30;
  float sink = 0.0f;
  for (int r = 0; r < 20; ++r) {
    double ts = 0.0, ta = 0.0;
    for (int64_t u = 0; u < units; ++u) {
      const double t0 = now_ns();
      k->fns->stats(&a, u * K, u * K + K);
      const double t1 = now_ns();
      k->fns->apply(&a, u * K, u * K + K);
      ta += now_ns() - t1;
      ts += t1 - t0;
    }
    if (ts < bs) bs = ts;
    if (ta < ba) ba = ta;
    double t0 = now_ns();
    memcpy(y, x, (size_t)total * 4);
    if (now_ns() - t0 < bm) bm = now_ns() - t0;
    t0 = now_ns();
    sink += read_sum(x, total);
    if (now_ns() - t0 < br) br = now_ns() - t0;
  }
  if (sink == 12345.0f) puts(""); /* keeps read_sum from being optimized away */
  printf("%s %lldx%lldx%lld: statistics %.0f us, normalization %.0f us, total %.0f us | memcpy %.0f us, "
         "read-only sum %.0f us | memcpy/total %.2f\n",
         argv[1], (long long)N, (long long)C, (long long)S, bs / 1e3, ba / 1e3, (bs + ba) / 1e3, bm / 1e3, br / 1e3,
         bm / (bs + ba));
  free(a.part);
  free(sub);
  free(scale);
  free(shift);
  free(x);
  free(y);
  return 0;
}
