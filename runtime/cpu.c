/* cpu.c: what this CPU can run (x86: cpuid + the OS's saved vector state;
 * aarch64: the kernel's hwcaps), the cache sizes the schedules are chosen by,
 * and the environment variables that steer the library (read once,
 * thread-safely). */
#include "gnk_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

static gnk_isa native_isa = GNK_ISA_SCALAR, capped_isa = GNK_ISA_SCALAR;
static char signature[256];
static int verbose, default_threads = 1;
/* Estimate mode's SiLU form (gnk_cpu_silu_div): 1 on AMD cores, whose
 * divider takes the division off the FMA pipes the SiLU saturates (Zen 4:
 * the *_div kernels 16% faster per 16 floats; Zen 3, AVX2: 2.44 against
 * 2.89 ns per 8 floats in silu_cost_avx2), and on Intel Sapphire /
 * Emerald Rapids (family 6, models 143 / 207: one core design; measured on
 * 207), where the SiLU alone is faster by rcp14 (9.4 against 10.9 cycles per
 * 16 floats in silu_cost) but the kernels are not: the same problem with
 * both forms in one process took 0.90-1.01 of the time by division (median
 * 0.96, twelve pairs, GN+SiLU 8x8 to 64x64 images, both layouts);
 * GNK_SILU=div|rcp overrides. */
static int silu_div;
static const char *silu_source = "cpu";
/* Where the channels-last apply's row prefetch (gnk_kargs.pf_rows) goes
 * (gnk_cpu_apply_pf_l1): L1 on Intel cores, L2 elsewhere;
 * GNK_APPLY_PREFETCH=l1|l2 overrides. Measured in one process, the same
 * kernel both ways (bench/kernel_ab.sh, GN+SiLU, streaming tensors): on the
 * Intel VM (family 6 model 207) L1 takes 0.81-1.00 of L2's time on 32-128 MiB
 * tensors; on the Zen 4 VM L1 was 25-30% slower and L2 as fast as none. */
static int apply_pf_l1;
static const char *apply_pf_source = "cpu";
/* Cache sizes in bytes: L2 of one core and the last-level cache (see
 * detect_caches); where they came from, for GNK_VERBOSE. */
static size_t cache_l2, cache_l3;
static const char *cache_source = "default";
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
  silu_div = strcmp(vendor, "AuthenticAMD") == 0 ||
             (strcmp(vendor, "GenuineIntel") == 0 && family == 6 && (model == 143 || model == 207));
  apply_pf_l1 = strcmp(vendor, "GenuineIntel") == 0;
  snprintf(signature, sizeof signature, "%s family=%u model=%u isa=%s%s", vendor, family, model,
           gnk_isa_name(native_isa), f16c ? "+f16c" : "");
}
#elif defined(__aarch64__)
/* Linux hwcap bits (asm/hwcap.h), spelled out so that no kernel header is needed. */
#define GNK_HWCAP_FP (1ul << 0)
#define GNK_HWCAP_ASIMD (1ul << 1)
#define GNK_HWCAP_FPHP (1ul << 9)
#define GNK_HWCAP_ASIMDHP (1ul << 10)
#define GNK_HWCAP_ASIMDDP (1ul << 20)
#define GNK_HWCAP_SVE (1ul << 22)
/* MIDR_EL1 (implementer, part, revision) as Linux exposes it, or 0. */
static unsigned long long read_midr(void) {
  unsigned long long midr = 0;
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1", "r");
  if (f) {
    if (fscanf(f, "%llx", &midr) != 1) midr = 0;
    fclose(f);
  }
  return midr;
}

static void detect(void) {
#if defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
#else
  const unsigned long hw = GNK_HWCAP_FP | GNK_HWCAP_ASIMD; /* Advanced SIMD is part of AArch64 */
#endif
  if (hw & GNK_HWCAP_ASIMD) native_isa = GNK_ISA_NEON;
  snprintf(signature, sizeof signature, "aarch64 midr=0x%llx isa=%s%s%s%s%s", read_midr(), gnk_isa_name(native_isa),
           (hw & GNK_HWCAP_FPHP) ? "+fphp" : "", (hw & GNK_HWCAP_ASIMDHP) ? "+asimdhp" : "",
           (hw & GNK_HWCAP_ASIMDDP) ? "+asimddp" : "", (hw & GNK_HWCAP_SVE) ? "+sve" : "");
}
#else
static void detect(void) { snprintf(signature, sizeof signature, "unknown isa=scalar"); }
#endif

/* ---- cache sizes ---- */
/* Defaults where nothing can be read: the smallest L2 and a small L3 of the
 * x86 and ARM server cores gnk targets, so that a tensor is never wrongly
 * taken to stay in cache. */
#define GNK_DEFAULT_L2 ((size_t)1 << 20)
#define GNK_DEFAULT_L3 ((size_t)16 << 20)

/* "1024K", "32M", "2097152": bytes, or 0 when not a size. Also the format of
 * GNK_CACHE_L2 / GNK_CACHE_L3. */
static size_t parse_size(const char *s) {
  char *end;
  const unsigned long long v = strtoull(s, &end, 10);
  if (end == s) return 0;
  unsigned shift = 0;
  if (*end == 'K' || *end == 'k') shift = 10, ++end;
  else if (*end == 'M' || *end == 'm') shift = 20, ++end;
  else if (*end == 'G' || *end == 'g') shift = 30, ++end;
  while (*end == '\n' || *end == ' ') ++end;
  if (*end || v == 0 || v > (1ull << 40) >> shift) return 0;
  return (size_t)(v << shift);
}

/* Linux describes cpu0's caches in sysfs, as the hypervisor presents them
 * (the L2 of one core; the L3 its core shares). Fills what it finds. */
static int caches_from_sysfs(size_t *l2, size_t *l3) {
  int found = 0;
  for (int i = 0; i < 16; ++i) {
    char path[96], level[16] = {0}, type[16] = {0}, size[16] = {0};
    const char *what[] = {"level", "type", "size"};
    char *into[] = {level, type, size};
    int ok = 1;
    for (int k = 0; k < 3 && ok; ++k) {
      snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/%s", i, what[k]);
      FILE *f = fopen(path, "r");
      ok = f && fgets(into[k], sizeof level, f) != NULL;
      if (f) fclose(f);
    }
    if (!ok) break; /* past the last cache (or no sysfs at all: nothing found) */
    if (!strncmp(type, "Instruction", 11)) continue;
    const size_t bytes = parse_size(size);
    if (!bytes) continue;
    if (atoi(level) == 2) *l2 = bytes, found = 1;
    if (atoi(level) == 3) *l3 = bytes, found = 1;
  }
  return found;
}

/* Sysfs first (it is what the VM gives this core: glibc's cpuid-based
 * sysconf reported a 320 MiB L3 for a 32 MiB one here), then sysconf, then
 * the defaults; GNK_CACHE_L2 / GNK_CACHE_L3 override each. A machine
 * without an L3 takes its L2 as the last level. */
static void detect_caches(void) {
  size_t l2 = 0, l3 = 0;
  if (caches_from_sysfs(&l2, &l3)) cache_source = "sysfs";
#if defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
  if (!l2) {
    const long v2 = sysconf(_SC_LEVEL2_CACHE_SIZE), v3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (v2 > 0) {
      l2 = (size_t)v2;
      if (!l3 && v3 > 0) l3 = (size_t)v3;
      cache_source = "sysconf";
    }
  }
#endif
  if (!l2) l2 = GNK_DEFAULT_L2;
  if (!l3) l3 = l2 > GNK_DEFAULT_L3 ? l2 : GNK_DEFAULT_L3;
  const char *names[] = {"GNK_CACHE_L2", "GNK_CACHE_L3"};
  size_t *vals[] = {&l2, &l3};
  for (int k = 0; k < 2; ++k) {
    const char *e = getenv(names[k]);
    if (!e || !*e) continue;
    const size_t v = parse_size(e);
    if (v) *vals[k] = v, cache_source = "environment";
    else fprintf(stderr, "gnk: %s=%s is not a size (bytes, or a number with K, M or G); ignored\n", names[k], e);
  }
  cache_l2 = l2;
  cache_l3 = l3;
}

/* GNK_MAX_ISA: the names this architecture's ISAs go by. */
static int parse_isa(const char *s, gnk_isa *out) {
  if (!strcmp(s, "scalar")) { *out = GNK_ISA_SCALAR; return 1; }
#if defined(__x86_64__) || defined(__i386__)
  if (!strcmp(s, "avx2")) { *out = GNK_ISA_AVX2; return 1; }
  if (!strcmp(s, "avx512")) { *out = GNK_ISA_AVX512; return 1; }
  if (!strcmp(s, "avx512bf16")) { *out = GNK_ISA_AVX512_BF16; return 1; }
#elif defined(__aarch64__)
  if (!strcmp(s, "neon")) { *out = GNK_ISA_NEON; return 1; }
#endif
  return 0;
}
#if defined(__x86_64__) || defined(__i386__)
#define GNK_ISA_NAMES "scalar|avx2|avx512|avx512bf16"
#elif defined(__aarch64__)
#define GNK_ISA_NAMES "scalar|neon"
#else
#define GNK_ISA_NAMES "scalar"
#endif

static void init(void) {
  detect();
  detect_caches();
  capped_isa = native_isa;
  const char *cap = getenv("GNK_MAX_ISA");
  if (cap && *cap) {
    gnk_isa want = native_isa;
    if (!parse_isa(cap, &want))
      fprintf(stderr, "gnk: GNK_MAX_ISA=%s not understood (" GNK_ISA_NAMES "); ignored\n", cap);
    if (want < capped_isa) capped_isa = want;
  }
  const char *v = getenv("GNK_VERBOSE");
  verbose = v && *v && strcmp(v, "0") != 0;
  const char *sf = getenv("GNK_SILU");
  if (sf && *sf) {
    if (!strcmp(sf, "div") || !strcmp(sf, "rcp")) silu_div = sf[0] == 'd', silu_source = "environment";
    else fprintf(stderr, "gnk: GNK_SILU=%s not understood (div, rcp); ignored\n", sf);
  }
  const char *pf = getenv("GNK_APPLY_PREFETCH");
  if (pf && *pf) {
    if (!strcmp(pf, "l1") || !strcmp(pf, "l2")) apply_pf_l1 = pf[1] == '1', apply_pf_source = "environment";
    else fprintf(stderr, "gnk: GNK_APPLY_PREFETCH=%s not understood (l1, l2); ignored\n", pf);
  }
  const char *t = getenv("GNK_NUM_THREADS");
  if (t && *t) {
    char *end;
    long n = strtol(t, &end, 10);
    if (*end == 0 && n >= 1 && n <= GNK_MAX_THREADS) default_threads = (int)n;
    else fprintf(stderr, "gnk: GNK_NUM_THREADS=%s not in 1..%d; using 1\n", t, GNK_MAX_THREADS);
  }
  if (verbose)
    fprintf(stderr,
            "gnk: version %s, cpu: %s, using isa %s, default threads %d, L2 %zu KiB, L3 %zu KiB (%s), "
            "estimated SiLU %s (%s), channels-last apply prefetch %s (%s)\n",
            GNK_VERSION_STRING, signature, gnk_isa_name(capped_isa), default_threads, cache_l2 >> 10, cache_l3 >> 10,
            cache_source, silu_div ? "div" : "rcp", silu_source, apply_pf_l1 ? "l1" : "l2", apply_pf_source);
}

gnk_isa gnk_cpu_native_isa(void) { pthread_once(&once, init); return native_isa; }
gnk_isa gnk_cpu_isa(void) { pthread_once(&once, init); return capped_isa; }
const char *gnk_cpu_signature(void) { pthread_once(&once, init); return signature; }
int gnk_verbose(void) { pthread_once(&once, init); return verbose; }
int gnk_default_threads(void) { pthread_once(&once, init); return default_threads; }
int gnk_cpu_silu_div(void) { pthread_once(&once, init); return silu_div; }
int gnk_cpu_apply_pf_l1(void) { pthread_once(&once, init); return apply_pf_l1; }

void gnk_cpu_set_apply_pf_l1(int l1) {
  pthread_once(&once, init);
  apply_pf_l1 = l1 != 0;
}

size_t gnk_cpu_cache_bytes(int level) {
  pthread_once(&once, init);
  return level == 2 ? cache_l2 : level == 3 ? cache_l3 : 0;
}

void gnk_cpu_set_caches(size_t l2, size_t l3) {
  pthread_once(&once, init);
  if (l2) cache_l2 = l2;
  if (l3) cache_l3 = l3;
}

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
