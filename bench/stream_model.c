/* stream_model: what one core streams on this machine, the parts of the roof.
 *
 *   ./build/stream_model [MIB ...]        (default 8 32 128 256; R=rounds, default 11)
 *
 * For each tensor size (f32, MiB) it times, median and minimum of R rounds in
 * one process, the access patterns a GroupNorm kernel is made of, with the
 * arithmetic stripped: a read (one sequential stream, and four 4 KiB pages at
 * once), a write (regular and streaming stores), a copy (regular, streaming,
 * streaming four pages at once, glibc's memcpy: the roof `gnk-run` and `make
 * bench` divide by), and the two schedules of a group that is read twice
 * (statistics, then normalization): "2pass" (read a group, then read it again
 * and stream y) and "fused" (stream y of one group while reading the next).
 * GB/s counts the bytes moved (read + written). Why it exists: the roof is not
 * one number. On the Intel VM (2026-12-04) glibc's memcpy used regular stores
 * up to 128 MiB (16 GB/s there, every line of y read first) and streaming
 * stores four pages at once at 192 MiB and more (25-27 GB/s), while one
 * sequential read stream reached 16 GB/s at 256 MiB and four pages 21.5: a
 * kernel reading a 256 MiB tensor twice meets a roof 1.6x the 128 MiB one's.
 * Vectors are the compiler's (clang vector extensions, this machine's -march),
 * streaming stores __builtin_nontemporal_store. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float v16 __attribute__((vector_size(64), aligned(64)));
#define PAGE 1024 /* floats in 4 KiB */

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static volatile float sink; /* keeps the reads */

/* Vectors pass by pointer: a 64-byte vector by value changes the ABI on a
 * machine without AVX-512 (clang's -Wpsabi, an error under -Werror). */
static void sum_range(const float *x, size_t n, v16 *acc) {
  v16 a = {0}, b = {0}, c = {0}, d = {0};
  for (size_t i = 0; i < n; i += 64) {
    a += *(const v16 *)(x + i);
    b += *(const v16 *)(x + i + 16);
    c += *(const v16 *)(x + i + 32);
    d += *(const v16 *)(x + i + 48);
  }
  *acc += (a + b) + (c + d);
}

static void finish(const v16 *s) {
  float t = 0.0f;
  for (int l = 0; l < 16; ++l) t += (*s)[l];
  sink = t;
}

static void read1(const float *x, float *y, size_t n) {
  (void)y;
  v16 s = {0};
  sum_range(x, n, &s);
  finish(&s);
}

static void read4p(const float *x, float *y, size_t n) { /* n: a multiple of 4 pages */
  (void)y;
  v16 a = {0}, b = {0}, c = {0}, d = {0};
  for (size_t o = 0; o < n; o += 4 * PAGE)
    for (size_t j = 0; j < PAGE; j += 16) {
      a += *(const v16 *)(x + o + j);
      b += *(const v16 *)(x + o + PAGE + j);
      c += *(const v16 *)(x + o + 2 * PAGE + j);
      d += *(const v16 *)(x + o + 3 * PAGE + j);
    }
  const v16 s = (a + b) + (c + d);
  finish(&s);
}

static void write_st(const float *x, float *y, size_t n) {
  (void)x;
  const v16 v = {1.0f};
  for (size_t i = 0; i < n; i += 16) *(v16 *)(y + i) = v;
}

static void write_nt(const float *x, float *y, size_t n) {
  (void)x;
  const v16 v = {1.0f};
  for (size_t i = 0; i < n; i += 16) __builtin_nontemporal_store(v, (v16 *)(y + i));
}

static void copy_st(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i += 16) *(v16 *)(y + i) = *(const v16 *)(x + i);
}

static void copy_nt(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i += 16) __builtin_nontemporal_store(*(const v16 *)(x + i), (v16 *)(y + i));
}

static void copy_nt4p(const float *x, float *y, size_t n) {
  for (size_t o = 0; o < n; o += 4 * PAGE)
    for (size_t j = 0; j < PAGE; j += 16)
      for (size_t q = 0; q < 4; ++q)
        __builtin_nontemporal_store(*(const v16 *)(x + o + q * PAGE + j), (v16 *)(y + o + q * PAGE + j));
}

static void copy_libc(const float *x, float *y, size_t n) { memcpy(y, x, n * sizeof(float)); }

static size_t group; /* floats per group of the read-twice schedules */

static void twopass(const float *x, float *y, size_t n) {
  v16 s = {0};
  for (size_t o = 0; o < n; o += group) {
    sum_range(x + o, group, &s);
    copy_nt(x + o, y + o, group);
  }
  finish(&s);
}

static void fused(const float *x, float *y, size_t n) {
  v16 s = {0};
  sum_range(x, group, &s);
  for (size_t o = 0; o < n; o += group)
    for (size_t i = 0; i < group; i += 16) {
      if (o + group < n) s += *(const v16 *)(x + o + group + i);
      __builtin_nontemporal_store(*(const v16 *)(x + o + i), (v16 *)(y + o + i));
    }
  finish(&s);
}

static int cmp(const void *a, const void *b) {
  const double u = *(const double *)a, v = *(const double *)b;
  return u < v ? -1 : u > v;
}

typedef struct pattern {
  const char *name;
  void (*fn)(const float *, float *, size_t);
  int moved;         /* tensors of bytes moved per run: 1 read or write, 2 copy, 3 read twice + write */
  size_t group_kib;  /* the read-twice schedules' group */
} pattern;

int main(int argc, char **argv) {
  static const pattern pats[] = {
      {"read", read1, 1, 0},
      {"read-4pages", read4p, 1, 0},
      {"write", write_st, 1, 0},
      {"write-stream", write_nt, 1, 0},
      {"copy", copy_st, 2, 0},
      {"copy-stream", copy_nt, 2, 0},
      {"copy-stream-4pages", copy_nt4p, 2, 0},
      {"memcpy", copy_libc, 2, 0},
      {"2pass-256K", twopass, 3, 256},
      {"fused-256K", fused, 3, 256},
      {"2pass-2M", twopass, 3, 2048},
      {"fused-2M", fused, 3, 2048}};
  static const int defaults[] = {8, 32, 128, 256};
  const int R = getenv("R") ? atoi(getenv("R")) : 11;
  const int nsizes = argc > 1 ? argc - 1 : (int)(sizeof defaults / sizeof defaults[0]);
  if (R < 1) {
    fprintf(stderr, "stream_model: R must be >= 1\n");
    return 2;
  }
  double *t = malloc((size_t)R * sizeof(double));
  if (!t) return 2;
  for (int si = 0; si < nsizes; ++si) {
    const long mib = argc > 1 ? atol(argv[si + 1]) : defaults[si];
    if (mib < 1 || mib > (1L << 16)) {
      fprintf(stderr, "stream_model: size %s is not 1..65536 MiB\n", argv[si + 1]);
      return 2;
    }
    const size_t n = (size_t)mib << 18, bytes = n * sizeof(float);
    float *x = aligned_alloc(4096, bytes), *y = aligned_alloc(4096, bytes);
    if (!x || !y) {
      fprintf(stderr, "stream_model: cannot allocate 2 x %ld MiB\n", mib);
      return 2;
    }
    for (size_t i = 0; i < n; ++i) x[i] = (float)(i & 1023) * (1.0f / 1024.0f);
    memset(y, 0, bytes); /* every page touched before timing */
    printf("stream_model: %ld MiB (f32), one thread, median (min) of %d rounds\n", mib, R);
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; ++p) {
      group = pats[p].group_kib * 1024 / sizeof(float);
      if (group && n % group) continue; /* whole groups only */
      for (int r = 0; r < R; ++r) {
        const double t0 = now_us();
        pats[p].fn(x, y, n);
        __asm__ volatile("" : : "r"(y) : "memory");
        t[r] = now_us() - t0;
      }
      qsort(t, (size_t)R, sizeof(double), cmp);
      const double med = t[R / 2];
      printf("  %-20s %10.1f us (%10.1f)  %6.1f GB/s\n", pats[p].name, med, t[0],
             (double)pats[p].moved * (double)bytes / med * 1e-3);
    }
    free(x);
    free(y);
  }
  free(t);
  return 0;
}
