/* cpu.c: what this CPU can run (cpuid + the OS's saved vector state) and the
 * environment variables that steer the library (read once, thread-safely). */
#include "gnk_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static gnk_isa native_isa = GNK_ISA_SCALAR, capped_isa = GNK_ISA_SCALAR;
static char signature[256];
static int verbose, default_threads = 1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) || defined(__i386__)
static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

static void detect(void) {
  unsigned a, b, c, d, max;
  char vendor[13] = {0};
  if (!__get_cpuid(0, &max, &b, &c, &d)) return;
  memcpy(vendor, &b, 4);
  memcpy(vendor + 4, &d, 4);
  memcpy(vendor + 8, &c, 4);
  __get_cpuid(1, &a, &b, &c, &d);
  const unsigned family = ((a >> 8) & 0xf) + ((a >> 20) & 0xff), model = ((a >> 4) & 0xf) | ((a >> 12) & 0xf0);
  const int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const int ymm_ok = (xcr0 & 0x6) == 0x6, zmm_ok = (xcr0 & 0xe6) == 0xe6;
  int avx2 = 0, avx512f = 0, avx512bw = 0, avx512vl = 0, avx512dq = 0, avx512bf16 = 0;
  if (max >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    avx2 = (b >> 5) & 1;
    avx512f = (b >> 16) & 1;
    avx512dq = (b >> 17) & 1;
    avx512bw = (b >> 30) & 1;
    avx512vl = (b >> 31) & 1;
    __cpuid_count(7, 1, a, b, c, d);
    avx512bf16 = (a >> 5) & 1;
  }
  if (avx && avx2 && fma && f16c && ymm_ok) native_isa = GNK_ISA_AVX2;
  if (native_isa == GNK_ISA_AVX2 && avx512f && avx512bw && avx512vl && avx512dq && zmm_ok) native_isa = GNK_ISA_AVX512;
  if (native_isa == GNK_ISA_AVX512 && avx512bf16) native_isa = GNK_ISA_AVX512_BF16;
  snprintf(signature, sizeof signature, "%s family=%u model=%u isa=%s%s", vendor, family, model,
           gnk_isa_name(native_isa), f16c ? "+f16c" : "");
}
#else
static void detect(void) { snprintf(signature, sizeof signature, "unknown isa=scalar"); }
#endif

static void init(void) {
  detect();
  capped_isa = native_isa;
  const char *cap = getenv("GNK_MAX_ISA");
  if (cap && *cap) {
    gnk_isa want = native_isa;
    if (!strcmp(cap, "scalar")) want = GNK_ISA_SCALAR;
    else if (!strcmp(cap, "avx2")) want = GNK_ISA_AVX2;
    else if (!strcmp(cap, "avx512")) want = GNK_ISA_AVX512;
    else if (!strcmp(cap, "avx512bf16")) want = GNK_ISA_AVX512_BF16;
    else fprintf(stderr, "gnk: GNK_MAX_ISA=%s not understood (scalar|avx2|avx512|avx512bf16); ignored\n", cap);
    if (want < capped_isa) capped_isa = want;
  }
  const char *v = getenv("GNK_VERBOSE");
  verbose = v && *v && strcmp(v, "0") != 0;
  const char *t = getenv("GNK_NUM_THREADS");
  if (t && *t) {
    char *end;
    long n = strtol(t, &end, 10);
    if (*end == 0 && n >= 1 && n <= GNK_MAX_THREADS) default_threads = (int)n;
    else fprintf(stderr, "gnk: GNK_NUM_THREADS=%s not in 1..%d; using 1\n", t, GNK_MAX_THREADS);
  }
  if (verbose)
    fprintf(stderr, "gnk: version %s, cpu: %s, using isa %s, default threads %d\n", GNK_VERSION_STRING, signature,
            gnk_isa_name(capped_isa), default_threads);
}

gnk_isa gnk_cpu_native_isa(void) { pthread_once(&once, init); return native_isa; }
gnk_isa gnk_cpu_isa(void) { pthread_once(&once, init); return capped_isa; }
const char *gnk_cpu_signature(void) { pthread_once(&once, init); return signature; }
int gnk_verbose(void) { pthread_once(&once, init); return verbose; }
int gnk_default_threads(void) { pthread_once(&once, init); return default_threads; }

const char *gnk_isa_name(gnk_isa isa) {
  switch (isa) {
  case GNK_ISA_SCALAR: return "scalar";
  case GNK_ISA_AVX2: return "avx2";
  case GNK_ISA_AVX512: return "avx512";
  case GNK_ISA_AVX512_BF16: return "avx512bf16";
  case GNK_ISA_NEON: return "neon";
  }
  return "unknown";
}
