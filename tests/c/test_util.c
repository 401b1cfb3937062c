/* test_util.c: see test_util.h. No tests here, only helpers. */
#include "test_util.h"

#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- RNG ---- */
void rng_seed(rng *r, uint64_t seed) { r->s = seed * 0x9e3779b97f4a7c15ull + 1; }

uint64_t rng_u64(rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double rng_uniform(rng *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

double rng_normal(rng *r) {
  const double u1 = 1.0 - rng_uniform(r), u2 = rng_uniform(r); /* u1 in (0, 1]: log is finite */
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void fill_normal(rng *r, float *p, int64_t count, double mean, double std) {
  for (int64_t i = 0; i < count; ++i) p[i] = (float)(mean + std * rng_normal(r));
}

void fill_uniform(rng *r, float *p, int64_t count, double lo, double hi) {
  for (int64_t i = 0; i < count; ++i) p[i] = (float)(lo + (hi - lo) * rng_uniform(r));
}

/* ---- element types ---- */
/* f32 -> f16 toward zero (the tests decode what they stored, so the rounding
 * mode does not matter); values beyond the f16 range saturate or become Inf. */
static uint16_t f16_encode(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return 0x7e00;                                /* NaN */
  if (a >= 0x47800000u) return sign | 0x7c00;                        /* >= 65536: Inf */
  if (a >= 0x477fe000u) return sign | 0x7bff;                        /* 65504: largest finite */
  if (a < 0x38800000u) return sign | (uint16_t)(fabsf(f) * 0x1p24f); /* subnormal (< 2^-14) */
  return sign | (uint16_t)(((a >> 23) - 112u) << 10) | (uint16_t)((a >> 13) & 0x3ffu);
}

void elem_set(gnk_dtype t, void *p, int64_t i, double v) {
  if (t == GNK_DTYPE_F32) {
    ((float *)p)[i] = (float)v;
  } else if (t == GNK_DTYPE_F16) {
    ((uint16_t *)p)[i] = f16_encode((float)v);
  } else {
    const float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    ((uint16_t *)p)[i] = isnan(f) ? 0x7fc0 : (uint16_t)(u >> 16);
  }
}

void fill_uniform_t(rng *r, gnk_dtype t, void *p, int64_t count, double lo, double hi) {
  for (int64_t i = 0; i < count; ++i) elem_set(t, p, i, lo + (hi - lo) * rng_uniform(r));
}

/* ---- guarded buffers ---- */
/* Bit patterns no kernel computes: a signalling NaN for the guards and a
 * quiet NaN with a payload for "not written yet" (per element size). */
static uint32_t sentinel_bits(gnk_dtype t) { return t == GNK_DTYPE_F32 ? 0x7fa5a5a5u : 0x7da5u; }
static uint32_t nan_fill_bits(gnk_dtype t) {
  return t == GNK_DTYPE_F32 ? 0x7fc0deadu : t == GNK_DTYPE_F16 ? 0x7e0du : 0x7fcdu;
}

/* Typed loops: these run over every buffer several times per problem. */
static void fill_bits(const tbuf *b, void *p, int64_t count, uint32_t bits) {
  if (dtype_size(b->dtype) == 4)
    for (int64_t i = 0; i < count; ++i) ((uint32_t *)p)[i] = bits;
  else
    for (int64_t i = 0; i < count; ++i) ((uint16_t *)p)[i] = (uint16_t)bits;
}

static int has_bits(const tbuf *b, const void *p, int64_t count, uint32_t bits) {
  int64_t bad = 0;
  if (dtype_size(b->dtype) == 4)
    for (int64_t i = 0; i < count; ++i) bad += ((const uint32_t *)p)[i] != bits;
  else
    for (int64_t i = 0; i < count; ++i) bad += ((const uint16_t *)p)[i] != (uint16_t)bits;
  return bad == 0;
}

tbuf tbuf_new_t(gnk_dtype t, int64_t count, int offset) {
  tbuf b = {NULL, NULL, NULL, t, count, offset};
  const size_t es = dtype_size(t), elems = (size_t)(count + 2 * GUARD_ELEMS + offset);
  if (posix_memalign((void **)&b.base, 64, elems * es) != 0) {
    fprintf(stderr, "test_util: cannot allocate %zu elements\n", elems);
    abort();
  }
  fill_bits(&b, b.base, (int64_t)elems, sentinel_bits(t));
  b.v = b.base + (size_t)(GUARD_ELEMS + offset) * es;
  b.p = t == GNK_DTYPE_F32 ? (float *)b.v : NULL;
  tbuf_fill_nan(&b);
  return b;
}

tbuf tbuf_new(int64_t count, int offset) { return tbuf_new_t(GNK_DTYPE_F32, count, offset); }

void tbuf_free(tbuf *b) {
  free(b->base);
  b->base = NULL;
  b->v = b->p = NULL;
}

void tbuf_fill_nan(tbuf *b) { fill_bits(b, b->v, b->count, nan_fill_bits(b->dtype)); }

int tbuf_guards_ok(const tbuf *b) {
  const size_t es = dtype_size(b->dtype);
  return has_bits(b, b->base, GUARD_ELEMS + b->offset, sentinel_bits(b->dtype)) &&
         has_bits(b, (const unsigned char *)b->v + (size_t)b->count * es, GUARD_ELEMS, sentinel_bits(b->dtype));
}

int tbuf_all_nan_fill(const tbuf *b) { return has_bits(b, b->v, b->count, nan_fill_bits(b->dtype)); }

/* ---- reference ---- */
const char *desc_str(const gnk_desc *d) {
  static _Thread_local char buf[200];
  if (gnk_desc_string(d, buf, sizeof buf) != GNK_OK) snprintf(buf, sizeof buf, "(invalid desc)");
  return buf;
}

int close_enough(gnk_dtype t, double got, double want) {
  if (isnan(want)) return isnan(got);
  /* Storing a 16-bit result rounds once more: half an ulp, 2^-11 (f16) or 2^-8 (bf16) relative. */
  const double store = t == GNK_DTYPE_F16 ? 0x1p-11 : t == GNK_DTYPE_BF16 ? 0x1p-8 : 0.0;
  return fabs(got - want) <= TOL_ABS + (TOL_REL + store) * fabs(want); /* false for a NaN got */
}

double ref_act(gnk_act act, double z) {
  switch (act) {
  case GNK_ACT_SILU: return z / (1.0 + exp(-z));
  case GNK_ACT_RELU: return isnan(z) ? z : (z > 0.0 ? z : 0.0);
  default: return z;
  }
}

/* Two passes in double per (n, g), visiting x in memory order. */
void ref_stats(const gnk_desc *d, const void *x, double *mean, double *rstd) {
  const gnk_dtype t = d->dtype;
  const int64_t C = d->c, S = d->spatial, G = d->groups, D = C / G;
  const double cnt = (double)(D * S);
  double *acc = calloc((size_t)G, sizeof *acc);
  if (!acc) abort();
  for (int64_t n = 0; n < d->n; ++n) {
    double *mn = mean + n * G;
    for (int pass = 0; pass < 2; ++pass) {
      memset(acc, 0, (size_t)G * sizeof *acc);
      const int64_t rows = d->layout == GNK_LAYOUT_NCHW ? C : S, len = d->layout == GNK_LAYOUT_NCHW ? S : C;
      for (int64_t r = 0; r < rows; ++r) /* NCHW: a channel's S values; NHWC: a position's C values */
        for (int64_t j = 0; j < len; ++j) {
          const int64_t g = (d->layout == GNK_LAYOUT_NCHW ? r : j) / D;
          const double v = elem_get(t, x, (n * rows + r) * len + j);
          acc[g] += pass == 0 ? v : (v - mn[g]) * (v - mn[g]);
        }
      for (int64_t g = 0; g < G; ++g) {
        if (pass == 0) mn[g] = acc[g] / cnt;
        else rstd[n * G + g] = 1.0 / sqrt(acc[g] / cnt + d->eps);
      }
    }
  }
  free(acc);
}

/* One element: counts a mismatch and describes the first. */
static inline void check_one(const gnk_desc *d, int64_t n, int64_t c, int64_t s, double xi, double yi, double mean,
                             double rstd, double k, double b, int64_t *bad, char *msg, size_t msg_size) {
  const double want = ref_act(d->act, (xi - mean) * k + b);
  if (close_enough(d->dtype, yi, want)) return;
  if ((*bad)++ == 0 && msg_size)
    snprintf(msg, msg_size, "%s: y[n=%lld c=%lld s=%lld] = %.9g, reference %.9g (x=%.9g mean=%.9g rstd=%.9g)",
             desc_str(d), (long long)n, (long long)c, (long long)s, yi, want, xi, mean, rstd);
}

int64_t ref_check(const gnk_desc *d, const void *x, const void *gamma, const void *beta, const double *mean,
                  const double *rstd, const void *y, char *msg, size_t msg_size) {
  const gnk_dtype t = d->dtype, pt = d->param_dtype;
  const int64_t C = d->c, S = d->spatial, G = d->groups, D = C > 0 ? C / G : 1;
  int64_t bad = 0;
  if (msg_size) msg[0] = 0;
  /* Decoded gamma/beta once; then every element in memory order. */
  double *gm = malloc((size_t)(C + 1) * sizeof *gm), *bt = malloc((size_t)(C + 1) * sizeof *bt);
  if (!gm || !bt) abort();
  for (int64_t c = 0; c < C; ++c) {
    gm[c] = gamma ? elem_get(pt, gamma, c) : 1.0;
    bt[c] = beta ? elem_get(pt, beta, c) : 0.0;
  }
  for (int64_t n = 0; n < d->n; ++n) {
    const double *mn = mean + n * G, *rs = rstd + n * G;
    if (d->layout == GNK_LAYOUT_NCHW) {
      for (int64_t c = 0; c < C; ++c) {
        const int64_t g = c / D, i0 = (n * C + c) * S;
        const double k = rs[g] * gm[c];
        for (int64_t s = 0; s < S; ++s)
          check_one(d, n, c, s, elem_get(t, x, i0 + s), elem_get(t, y, i0 + s), mn[g], rs[g], k, bt[c], &bad, msg,
                    msg_size);
      }
    } else {
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i0 = (n * S + s) * C;
        for (int64_t c = 0; c < C; ++c) {
          const int64_t g = c / D;
          check_one(d, n, c, s, elem_get(t, x, i0 + c), elem_get(t, y, i0 + c), mn[g], rs[g], rs[g] * gm[c], bt[c],
                    &bad, msg, msg_size);
        }
      }
    }
  }
  free(gm);
  free(bt);
  if (bad && msg_size) {
    const size_t len = strlen(msg);
    snprintf(msg + len, msg_size - len, " [%lld of %lld elements out of tolerance]", (long long)bad,
             (long long)desc_numel(d));
  }
  return bad;
}

int64_t ref_check_all(const gnk_desc *d, const void *x, const void *gamma, const void *beta, const void *y,
                      char *msg, size_t msg_size) {
  const size_t ng = (size_t)(d->n * d->groups);
  double *mean = malloc((ng + 1) * sizeof *mean), *rstd = malloc((ng + 1) * sizeof *rstd);
  if (!mean || !rstd) abort();
  ref_stats(d, x, mean, rstd);
  const int64_t bad = ref_check(d, x, gamma, beta, mean, rstd, y, msg, msg_size);
  free(mean);
  free(rstd);
  return bad;
}

/* ---- leak check (build/asan/test-gnk) ---- */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GNK_TEST_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GNK_TEST_LSAN 1
#endif
#ifdef GNK_TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* A test that leaks fails: LeakSanitizer's report at a test process's exit
 * would come after Criterion has recorded the test as passed (its exit code
 * is not looked at), so every suite's .fini runs the check itself. What gnk
 * keeps on purpose (plan cache, thread pool, per-thread workspace) is
 * reachable from globals, not a leak. */
void leak_check(void) {
#ifdef GNK_TEST_LSAN
  if (__lsan_do_recoverable_leak_check()) {
    fprintf(stderr, "%s::%s leaked memory (LeakSanitizer report above)\n", criterion_current_suite->name,
            criterion_current_test->name);
    abort();
  }
#endif
}

/* The final check at exit covers the test processes, not Criterion's runner
 * process: Criterion 2.4.1's runner leaks one 48-byte allocation of its own
 * when tests finish concurrently (--jobs 2; see Snaipe/Criterion PR #515),
 * which would fail the run with no gnk code involved. Only the runner has no
 * current test. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return criterion_current_test == NULL; }
