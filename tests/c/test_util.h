/*
 * test_util.h: shared helpers of the Criterion suite (implemented in test_util.c).
 *
 *   - a float64 scalar reference GroupNorm (two passes in double on the
 *     inputs as stored: f32, or f16/bf16 decoded exactly), split into
 *     statistics and a per-element check so that even a 2^24-element group
 *     needs no double-sized output buffer;
 *   - a seeded RNG (results must be reproducible from the test's seed);
 *   - guarded buffers (f32, f16, bf16): every buffer has GUARD_ELEMS sentinel
 *     elements before and after it, and its data is prefilled with NaN, so a
 *     kernel that writes outside its output or forgets an element is caught.
 */
#ifndef GNK_TEST_UTIL_H
#define GNK_TEST_UTIL_H

#include "gnk.h"
#include "test_desc.h" /* make_desc, desc_numel */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* f32 tolerance: |y - ref| <= TOL_ABS + TOL_REL * |ref| (16-bit outputs: see close_enough). */
#define TOL_ABS 1e-5
#define TOL_REL 1e-5

/* ---- RNG (splitmix64) ---- */
typedef struct rng { uint64_t s; } rng;
void rng_seed(rng *r, uint64_t seed);
uint64_t rng_u64(rng *r);
double rng_uniform(rng *r); /* [0, 1) */
double rng_normal(rng *r);  /* N(0, 1) */
void fill_normal(rng *r, float *p, int64_t count, double mean, double std);
void fill_uniform(rng *r, float *p, int64_t count, double lo, double hi);

/* ---- element types (the test's own conversions, independent of gnk's;
 * inline: the reference decodes every element several times) ---- */
static inline size_t dtype_size(gnk_dtype t) { return t == GNK_DTYPE_F32 ? 4 : 2; }

static inline float bits_to_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline float f16_to_f32_ref(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) { /* zero or subnormal: m * 2^-24, exact in f32 */
    const float v = (float)m * 0x1p-24f;
    return sign ? -v : v;
  }
  return bits_to_f32(sign | (e == 31 ? 0x7f800000u | (m << 13) : ((e + 112u) << 23) | (m << 13)));
}

/* Exact decode of element i. */
static inline double elem_get(gnk_dtype t, const void *p, int64_t i) {
  if (t == GNK_DTYPE_F32) return ((const float *)p)[i];
  const uint16_t h = ((const uint16_t *)p)[i];
  return t == GNK_DTYPE_F16 ? f16_to_f32_ref(h) : bits_to_f32((uint32_t)h << 16);
}

void elem_set(gnk_dtype t, void *p, int64_t i, double v); /* 16-bit: rounds toward zero */
void fill_uniform_t(rng *r, gnk_dtype t, void *p, int64_t count, double lo, double hi);

/* ---- guarded buffers ---- */
#define GUARD_ELEMS 64
typedef struct tbuf {
  unsigned char *base; /* allocation start (64-byte aligned) */
  void *v;             /* data: GUARD_ELEMS + offset elements after base */
  float *p;            /* the same, for f32 buffers */
  gnk_dtype dtype;
  int64_t count;       /* data elements */
  int offset;          /* 0: 64-byte aligned data; 1: misaligned by one element */
} tbuf;
tbuf tbuf_new(int64_t count, int offset); /* f32; data = NaN, guards = sentinel */
tbuf tbuf_new_t(gnk_dtype t, int64_t count, int offset);
void tbuf_free(tbuf *b);
void tbuf_fill_nan(tbuf *b);
int tbuf_guards_ok(const tbuf *b);   /* 1 when both guard zones are untouched */
int tbuf_all_nan_fill(const tbuf *b); /* 1 when the data still holds the NaN fill, bitwise */

/* ---- reference ----
 * x and y hold elements of d->dtype, gamma and beta of d->param_dtype. */
const char *desc_str(const gnk_desc *d); /* gnk_desc_string into a thread-local buffer */
/* f32 tolerance, plus half an ulp of the storage type for 16-bit outputs; NaN wants NaN. */
int close_enough(gnk_dtype t, double got, double want);
double ref_act(gnk_act act, double z);

/* Per (n, g) mean and rstd, two-pass in double; mean/rstd hold n*groups values. */
void ref_stats(const gnk_desc *d, const void *x, double *mean, double *rstd);

/* Compares y with the reference output (from ref_stats' mean/rstd). Returns the
 * number of elements out of tolerance and describes the first one in msg. */
int64_t ref_check(const gnk_desc *d, const void *x, const void *gamma, const void *beta, const double *mean,
                  const double *rstd, const void *y, char *msg, size_t msg_size);

/* ref_stats + ref_check in one call (allocates the statistics). */
int64_t ref_check_all(const gnk_desc *d, const void *x, const void *gamma, const void *beta, const void *y,
                      char *msg, size_t msg_size);

/* Fails the current test when LeakSanitizer finds memory it leaked (ASan
 * builds; a no-op otherwise). Every suite runs it as its .fini:
 * TestSuite(name, .fini = leak_check). */
void leak_check(void);

/* Asserts status `got` == `want` and that the last error mentions `word`
 * (Criterion tests only). */
#define expect_error(got, want, word)                                                                       \
  do {                                                                                                      \
    const gnk_status got_ = (got);                                                                          \
    cr_assert_eq(got_, (want), "%s: got %s, want %s (%s)", #got, gnk_status_string(got_),                   \
                 gnk_status_string(want), gnk_last_error());                                                \
    cr_assert(strstr(gnk_last_error(), (word)) != NULL, "%s: message '%s' does not mention '%s'", #got,     \
              gnk_last_error(), (word));                                                                    \
  } while (0)

#endif
