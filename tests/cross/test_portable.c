/*
 * tests/cross/test_portable.c: every kernel of this build's kernel list
 * against a float64 reference, in plain C (no test framework), so that it
 * runs wherever the library is cross-built: on aarch64 under qemu-user
 * (`make test-neon`) and natively (`make test-portable`).
 *
 * For each kernel the CPU supports (gnk_kernel_supported): its own (G, C)
 * for a specialized kernel, odd channel counts (1, 3, 5, 17, 33) with several
 * group counts for a generic one, spatial sizes around the vector widths
 * (1..9, 31..33, 100) plus one multi-chunk problem, every variant of
 * gamma/beta (NULL or set, f32 or the input dtype), in place and not,
 * misaligned pointers, NaN-prefilled outputs and guard zones around x and y
 * (nothing may be written outside y, nor to x). A NaN input must turn its
 * whole group (and only it) into NaN, whatever the activation. With x = 0
 * (variance 0) y is exactly act(beta): for act none/relu it must equal
 * beta rounded to the dtype bit for bit, with betas chosen at the rounding
 * corner cases (ties, overflow, f16 subnormals, Inf, NaN); with the SiLU,
 * the same betas, silu(beta) within the tolerance, Infs exactly and
 * silu(-Inf) NaN on every ISA. Then the
 * planner's choice with 1 and 2 threads (gnk_plan_create_ex) must give
 * bitwise identical results. Kernels the CPU does not support are skipped
 * (and must be refused by gnk_kernel_run).
 *
 * Output: per-ISA counts of kernels run and skipped, then the closing line
 * "N passed, M failed" (one test per kernel, per thread-determinism case and
 * per list check). Exit status 0 when nothing failed.
 */
#include "gnk.h"
#include "gnk_half.h"
#include "../c/test_shapes.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 16         /* guard elements on each side of x and y */
#define GUARD_BYTE 0xA5  /* guard zones hold this byte */
#define MAX_ISA 8
#define MAX_REPORT 4     /* failure lines printed per test */

static int passed, failed;

/* ---- random numbers (splitmix64: the same sequence everywhere) ---- */
typedef struct rng { uint64_t s; } rng;
static uint64_t rng_next(rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double rng_uniform(rng *r, double lo, double hi) {
  return lo + (hi - lo) * (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- elements of a dtype ---- */
static size_t esize(gnk_dtype t) { return t == GNK_DTYPE_F32 ? 4 : 2; }
static const char *dtype_name(gnk_dtype t) { return t == GNK_DTYPE_F32 ? "f32" : t == GNK_DTYPE_F16 ? "f16" : "bf16"; }
static const char *layout_name(gnk_layout l) { return l == GNK_LAYOUT_NCHW ? "nchw" : "nhwc"; }
static const char *act_name(gnk_act a) { return a == GNK_ACT_NONE ? "none" : a == GNK_ACT_SILU ? "silu" : "relu"; }

static double get(const void *p, gnk_dtype t, int64_t i) {
  if (t == GNK_DTYPE_F32) return (double)((const float *)p)[i];
  const uint16_t h = ((const uint16_t *)p)[i];
  return (double)(t == GNK_DTYPE_F16 ? gnk_f16_to_f32(h) : gnk_bf16_to_f32(h));
}
/* Stores v rounded to the dtype (nearest even). */
static void put(void *p, gnk_dtype t, int64_t i, float v) {
  if (t == GNK_DTYPE_F32) ((float *)p)[i] = v;
  else ((uint16_t *)p)[i] = t == GNK_DTYPE_F16 ? gnk_f32_to_f16(v) : gnk_f32_to_bf16(v);
}
static void put_nan(void *p, gnk_dtype t, int64_t i) {
  if (t == GNK_DTYPE_F32) ((float *)p)[i] = NAN;
  else ((uint16_t *)p)[i] = t == GNK_DTYPE_F16 ? 0x7e00u : 0x7fc0u;
}

static void tolerance(gnk_dtype t, double *rel, double *abs_) {
  switch (t) {
  case GNK_DTYPE_F16: *rel = 5e-3; *abs_ = 1e-3; break;
  case GNK_DTYPE_BF16: *rel = 2e-2; *abs_ = 1e-2; break;
  default: *rel = 1e-5; *abs_ = 1e-5;
  }
}

/* ---- one problem ---- */
typedef struct problem {
  gnk_dtype dtype;
  gnk_layout layout;
  gnk_act act;
  int64_t n, c, s, g;
  double eps;
  int gamma_on, beta_on, param_same; /* param_same: gamma/beta in the input dtype */
  int inplace, xoff, yoff;           /* yoff/xoff: extra elements before the data (misalignment) */
  double offset, scale;              /* x ~ offset + scale * U(-1, 1) */
  int64_t nan_at;                    /* index of a NaN input, or -1 */
  int exact;                         /* x = 0, beta = rounding corner cases: y must be round(act(beta)) bit for bit */
  gnk_isa isa;                       /* of the kernel (0 when the planner chooses) */
} problem;

static void problem_text(const problem *p, char *buf, size_t size) {
  snprintf(buf, size, "%s %s act=%s n=%lld c=%lld s=%lld g=%lld eps=%g gamma=%s beta=%s%s%s off=%g nan_at=%lld%s",
           dtype_name(p->dtype), layout_name(p->layout), act_name(p->act), (long long)p->n, (long long)p->c,
           (long long)p->s, (long long)p->g, p->eps, p->gamma_on ? "set" : "NULL", p->beta_on ? "set" : "NULL",
           p->param_same ? " params=dtype" : "", p->inplace ? " in-place" : "", p->offset, (long long)p->nan_at,
           p->exact ? " exact" : "");
}

static int64_t index_of(const problem *p, int64_t n, int64_t c, int64_t s) {
  return p->layout == GNK_LAYOUT_NCHW ? (n * p->c + c) * p->s + s : (n * p->s + s) * p->c + c;
}

/* Inputs and parameters of a problem, rounded to their storage types. */
typedef struct data {
  int64_t total;
  void *x;            /* total elements of dtype */
  void *gamma, *beta; /* c elements of the param dtype, or NULL */
  double *ref;        /* total reference outputs */
} data;

static void data_free(data *d) {
  free(d->x);
  free(d->gamma);
  free(d->beta);
  free(d->ref);
}

/* Betas (f32 bits) whose rounding to f16/bf16 is a corner case: ties to
 * even both ways, just below/above ties, overflow to Inf, f16 subnormals
 * and their ties, Inf, NaNs (quiet and signalling, with payloads). */
static const uint32_t SPECIAL_BETA[] = {
    0x3f808000u, 0x3f818000u, 0xbf808000u, 0x3f807fffu, 0x3f808001u, 0x7f7fffffu, 0x00000001u, 0x80000001u,
    0x3f801000u, 0x3f803000u, 0xbf803000u, 0x3f800fffu, 0x3f801001u, 0x477ff000u, 0x477fefffu, 0xc77ff000u,
    0x358637bdu, 0x33000000u, 0x33400000u, 0x33c00000u, 0x387fc000u, 0x38800000u, 0x7f800000u, 0xff800000u,
    0x7fc00001u, 0x7f800001u, 0xffc12345u, 0x3effffffu, 0x40490fdbu, 0xc2f6e979u, 0x4b800001u, 0x3a800100u,
};
#define NSPECIAL ((int)(sizeof SPECIAL_BETA / sizeof SPECIAL_BETA[0]))

static int data_make(const problem *p, rng *r, data *d) {
  memset(d, 0, sizeof *d);
  d->total = p->n * p->c * p->s;
  const gnk_dtype pt = p->param_same ? p->dtype : GNK_DTYPE_F32;
  d->x = malloc((size_t)(d->total > 0 ? d->total : 1) * esize(p->dtype));
  d->ref = malloc((size_t)(d->total > 0 ? d->total : 1) * sizeof(double));
  if (p->gamma_on) d->gamma = malloc((size_t)p->c * esize(pt));
  if (p->beta_on) d->beta = malloc((size_t)p->c * esize(pt));
  if (!d->x || !d->ref || (p->gamma_on && !d->gamma) || (p->beta_on && !d->beta)) return 0;
  for (int64_t i = 0; i < d->total; ++i)
    put(d->x, p->dtype, i, p->exact ? 0.0f : (float)(p->offset + p->scale * rng_uniform(r, -1, 1)));
  if (p->nan_at >= 0) put_nan(d->x, p->dtype, p->nan_at);
  for (int64_t c = 0; c < p->c; ++c) {
    if (d->gamma) put(d->gamma, pt, c, (float)((rng_next(r) & 1 ? 1 : -1) * rng_uniform(r, 0.5, 1.5)));
    if (d->beta) {
      if (p->exact) {
        const uint32_t bits = c < NSPECIAL ? SPECIAL_BETA[c] : (uint32_t)rng_next(r);
        float b;
        memcpy(&b, &bits, 4);
        ((float *)d->beta)[c] = b;
      } else {
        put(d->beta, pt, c, (float)rng_uniform(r, -0.5, 0.5));
      }
    }
  }
  /* float64 reference on the rounded values */
  const int64_t D = p->c / p->g;
  for (int64_t n = 0; n < p->n; ++n) {
    for (int64_t g = 0; g < p->g; ++g) {
      double sum = 0.0, m2 = 0.0;
      for (int64_t c = g * D; c < (g + 1) * D; ++c)
        for (int64_t s = 0; s < p->s; ++s) sum += get(d->x, p->dtype, index_of(p, n, c, s));
      const double cnt = (double)(D * p->s), mean = sum / cnt;
      for (int64_t c = g * D; c < (g + 1) * D; ++c)
        for (int64_t s = 0; s < p->s; ++s) {
          const double t = get(d->x, p->dtype, index_of(p, n, c, s)) - mean;
          m2 += t * t;
        }
      const double rstd = 1.0 / sqrt(m2 / cnt + p->eps);
      for (int64_t c = g * D; c < (g + 1) * D; ++c) {
        const double ga = d->gamma ? get(d->gamma, pt, c) : 1.0, be = d->beta ? get(d->beta, pt, c) : 0.0;
        for (int64_t s = 0; s < p->s; ++s) {
          const int64_t i = index_of(p, n, c, s);
          double z = (get(d->x, p->dtype, i) - mean) * rstd * ga + be;
          if (p->act == GNK_ACT_SILU) z = z / (1.0 + exp(-z));
          else if (p->act == GNK_ACT_RELU) z = z > 0.0 || z != z ? z : 0.0;
          d->ref[i] = z;
        }
      }
    }
  }
  return 1;
}

static gnk_desc desc_of(const problem *p) {
  gnk_desc d;
  gnk_desc_init(&d);
  d.layout = p->layout;
  d.dtype = p->dtype;
  d.param_dtype = p->param_same ? p->dtype : GNK_DTYPE_F32;
  d.n = p->n;
  d.c = p->c;
  d.spatial = p->s;
  d.groups = p->g;
  d.eps = p->eps;
  d.act = p->act;
  return d;
}

/* Bits of v rounded to the dtype (to nearest even), and of element i of y. */
static uint32_t round_bits(gnk_dtype t, float v) {
  uint32_t u;
  if (t == GNK_DTYPE_F16) return gnk_f32_to_f16(v);
  if (t == GNK_DTYPE_BF16) return gnk_f32_to_bf16(v);
  memcpy(&u, &v, 4);
  return u;
}
static uint32_t elem_bits(const void *y, gnk_dtype t, int64_t i) {
  uint32_t u;
  if (t != GNK_DTYPE_F32) return ((const uint16_t *)y)[i];
  memcpy(&u, (const float *)y + i, 4);
  return u;
}

/* want rounded to the dtype, as a double. */
static double want_in_dtype(gnk_dtype t, double want) {
  const uint32_t b = round_bits(t, (float)want);
  const uint16_t h = (uint16_t)b;
  float f;
  memcpy(&f, &b, 4);
  return t == GNK_DTYPE_F32 ? (double)f : get(&h, t, 0);
}

/* Compares y with the reference; prints up to `*budget` mismatches. An
 * exact problem (act none/relu) must give the reference rounded to the dtype
 * bit for bit (any NaN for a NaN); with the SiLU, within the tolerance, an
 * infinite result (silu(+Inf), or a value beyond the dtype's range) exactly,
 * and silu(-Inf) = -Inf * sigmoid(-Inf) NaN, as the reference. */
static int compare(const problem *p, const data *d, const void *y, const char *who, int *budget) {
  double rel, abs_;
  tolerance(p->dtype, &rel, &abs_);
  const int bitwise = p->exact && p->act != GNK_ACT_SILU;
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < d->total; ++i) {
    const double got = get(y, p->dtype, i), want = d->ref[i];
    int ok;
    if (want != want) ok = got != got; /* a NaN group must come out NaN */
    else if (bitwise) {
      const uint32_t g = elem_bits(y, p->dtype, i), w = round_bits(p->dtype, (float)want);
      ok = g == w;
      /* AVX512-BF16's vcvtneps2bf16 flushes subnormal results to zero: a
       * property of that x86 instruction, allowed for that ISA only. */
      if (!ok && p->isa == GNK_ISA_AVX512_BF16 && (w & 0x7f80u) == 0 && (g & 0x7fffu) == 0 && (g & 0x8000u) == (w & 0x8000u))
        ok = 1;
    }
    else {
      const double rounded = want_in_dtype(p->dtype, want);
      if (isinf(rounded)) ok = got == rounded; /* silu(+Inf), overflow */
      else ok = fabs(got - want) <= abs_ + rel * fabs(want); /* false for a NaN got */
    }
    if (!ok) {
      if (bad++ == 0) first = i;
    }
  }
  if (bad && *budget > 0) {
    --*budget;
    char t[256];
    problem_text(p, t, sizeof t);
    printf("  FAIL %s [%s]: %lld of %lld values wrong, first at %lld: got %.9g (0x%x) want %.9g (0x%x)\n", who, t,
           (long long)bad, (long long)d->total, (long long)first, get(y, p->dtype, first),
           (unsigned)elem_bits(y, p->dtype, first), d->ref[first], (unsigned)round_bits(p->dtype, (float)d->ref[first]));
  }
  return bad == 0;
}

/* Buffer with guard zones: [GUARD + off elements][total][GUARD elements]. */
typedef struct guarded {
  unsigned char *buf;
  size_t bytes, lo, len; /* the data region: bytes [lo, lo + len) */
} guarded;

static int guarded_make(guarded *g, int64_t total, gnk_dtype t, int off) {
  g->len = (size_t)total * esize(t);
  g->lo = (size_t)(GUARD + off) * esize(t);
  g->bytes = g->lo + g->len + (size_t)GUARD * esize(t);
  g->buf = malloc(g->bytes);
  if (!g->buf) return 0;
  memset(g->buf, GUARD_BYTE, g->bytes);
  return 1;
}
static int guards_intact(const guarded *g) {
  for (size_t i = 0; i < g->bytes; ++i)
    if ((i < g->lo || i >= g->lo + g->len) && g->buf[i] != GUARD_BYTE) return 0;
  return 1;
}

/* Runs kernel idx on problem p (through gnk_kernel_run) and checks it. */
static int run_problem(int idx, const char *name, const problem *p, rng *r, int *budget) {
  data d;
  char t[256];
  if (!data_make(p, r, &d)) {
    data_free(&d);
    printf("  FAIL %s: out of memory\n", name);
    return 0;
  }
  int ok = 1;
  guarded gx, gy;
  if (!guarded_make(&gx, d.total, p->dtype, p->xoff) || !guarded_make(&gy, d.total, p->dtype, p->yoff)) {
    free(gx.buf);
    data_free(&d);
    printf("  FAIL %s: out of memory\n", name);
    return 0;
  }
  void *x = gx.buf + gx.lo, *y = gy.buf + gy.lo;
  memcpy(x, d.x, gx.len);
  if (p->inplace) {
    memcpy(y, d.x, gy.len);
    x = y;
  } else {
    for (int64_t i = 0; i < d.total; ++i) put_nan(y, p->dtype, i);
  }
  const gnk_desc desc = desc_of(p);
  const gnk_status st = gnk_kernel_run(idx, &desc, x, y, d.gamma, d.beta);
  if (st != GNK_OK) {
    problem_text(p, t, sizeof t);
    if ((*budget)-- > 0) printf("  FAIL %s [%s]: %s (%s)\n", name, t, gnk_status_string(st), gnk_last_error());
    ok = 0;
  } else {
    ok = compare(p, &d, y, name, budget);
    if (!guards_intact(&gy)) {
      problem_text(p, t, sizeof t);
      if ((*budget)-- > 0) printf("  FAIL %s [%s]: wrote outside y\n", name, t);
      ok = 0;
    }
    if (!p->inplace && (!guards_intact(&gx) || memcmp(gx.buf + gx.lo, d.x, gx.len) != 0)) {
      problem_text(p, t, sizeof t);
      if ((*budget)-- > 0) printf("  FAIL %s [%s]: wrote to x or its guards\n", name, t);
      ok = 0;
    }
  }
  free(gx.buf);
  free(gy.buf);
  data_free(&d);
  return ok;
}

/* The k-th variant of the options: gamma/beta NULL or set, f32 or dtype
 * parameters, in place or not, misaligned x/y, batch 1..3, eps, offset. */
static void vary(problem *p, int k, rng *r) {
  static const double eps[3] = {1e-5, 1e-6, 1e-3};
  p->gamma_on = k & 1;
  p->beta_on = (k >> 1) & 1;
  p->param_same = p->dtype != GNK_DTYPE_F32 && k % 5 >= 3;
  p->inplace = k % 3 == 2;
  p->xoff = k % 4;
  p->yoff = (k / 3) % 4;
  p->n = k % 7 == 5 ? 3 : k % 2 ? 1 : 2;
  p->eps = eps[k % 3];
  p->offset = k % 11 == 7 ? 50.0 : rng_uniform(r, -1.0, 1.0);
  p->scale = rng_uniform(r, 0.5, 3.0);
  p->nan_at = -1;
}

static const int64_t SPATIAL[] = {1, 3, 4, 5, 7, 8, 9, 31, 32, 33, 100};
#define NSPATIAL ((int)(sizeof SPATIAL / sizeof SPATIAL[0]))
static const int64_t GENERIC_C[] = {1, 3, 5, 17, 33};
#define NGENERIC_C ((int)(sizeof GENERIC_C / sizeof GENERIC_C[0]))

/* All problems of one (C, G) for kernel idx: the spatial sizes, one
 * multi-chunk problem (several NCHW chunks per group and several NHWC
 * chunks per sample), one with a NaN input and one exact-rounding problem.
 * Returns problems run; *ok is cleared on a failure. */
static int run_shape(int idx, const gnk_kernel_info *ki, int64_t c, int64_t g, rng *r, int *variant, int *ok,
                     int *budget) {
  int problems = 0;
  problem p;
  memset(&p, 0, sizeof p);
  p.dtype = ki->dtype;
  p.layout = ki->layout;
  p.act = ki->act;
  p.isa = ki->isa;
  p.c = c;
  p.g = g;
  for (int i = 0; i < NSPATIAL + 3; ++i) {
    vary(&p, (*variant)++, r);
    if (i < NSPATIAL) {
      p.s = SPATIAL[i];
    } else if (i == NSPATIAL) { /* big: several chunks per group (NCHW) and per sample (NHWC) */
      const int64_t d = c / g, a = 40000 / c + 1, b = 5000 / d + 1;
      p.s = a > b ? a : b;
      p.n = 1;
    } else if (i == NSPATIAL + 1) { /* one NaN in the last group of sample 0 */
      p.s = 5;
      p.nan_at = index_of(&p, 0, c - 1, 2);
    } else { /* x = 0: var 0, y = act(beta) exactly, then rounded to the dtype */
      p.s = 7;
      p.exact = 1;
      p.beta_on = 1;
      p.param_same = 0;
    }
    if (!run_problem(idx, ki->name, &p, r, budget)) *ok = 0;
    ++problems;
  }
  return problems;
}

/* ---- the ISA this build's kernels may need ---- */
static const char *arch_name(void) {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__i386__)
  return "i386";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "other";
#endif
}
static int isa_of_this_arch(gnk_isa isa) {
  if (isa == GNK_ISA_SCALAR) return 1;
#if defined(__x86_64__) || defined(__i386__)
  return isa == GNK_ISA_AVX2 || isa == GNK_ISA_AVX512 || isa == GNK_ISA_AVX512_BF16;
#elif defined(__aarch64__)
  return isa == GNK_ISA_NEON;
#else
  return 0;
#endif
}

static void result(int ok) {
  if (ok) ++passed;
  else ++failed;
}

/* The list: every kernel of this architecture, and for every ISA and dtype
 * it has kernels of, a generic kernel for each layout and activation. */
static void check_list(void) {
  const int count = gnk_kernel_count();
  int ok = count > 0;
  if (!ok) printf("  FAIL list: no kernels\n");
  int have[MAX_ISA][3][2][3];
  int any[MAX_ISA][3];
  memset(have, 0, sizeof have);
  memset(any, 0, sizeof any);
  for (int i = 0; i < count; ++i) {
    gnk_kernel_info k;
    if (gnk_kernel_get_info(i, &k) != GNK_OK || (int)k.isa < 0 || (int)k.isa >= MAX_ISA || (int)k.dtype > 2 ||
        (int)k.layout > 1 || (int)k.act > 2) {
      printf("  FAIL list: kernel %d has bad info\n", i);
      ok = 0;
      continue;
    }
    if (!isa_of_this_arch(k.isa)) {
      printf("  FAIL list: %s needs %s, which is not an ISA of %s\n", k.name, gnk_isa_name(k.isa), arch_name());
      ok = 0;
    }
    any[k.isa][k.dtype] = 1;
    if (k.groups == 0) have[k.isa][k.dtype][k.layout][k.act] = 1;
  }
  for (int i = 0; i < MAX_ISA; ++i)
    for (int t = 0; t < 3; ++t)
      for (int l = 0; l < 2 && any[i][t]; ++l)
        for (int a = 0; a < 3; ++a)
          if (!have[i][t][l][a]) {
            printf("  FAIL list: isa %s has %s kernels but no generic %s %s act=%s\n", gnk_isa_name((gnk_isa)i),
                   dtype_name((gnk_dtype)t), dtype_name((gnk_dtype)t), layout_name((gnk_layout)l),
                   act_name((gnk_act)a));
            ok = 0;
          }
#if defined(__aarch64__)
  if (!any[GNK_ISA_NEON][GNK_DTYPE_F32] || !any[GNK_ISA_NEON][GNK_DTYPE_F16] || !any[GNK_ISA_NEON][GNK_DTYPE_BF16]) {
    printf("  FAIL list: the aarch64 build lacks NEON kernels for some dtype\n");
    ok = 0;
  }
#endif
  printf("list: %d kernels, all of %s ISAs: %s\n", count, arch_name(), ok ? "ok" : "FAILED");
  result(ok);
}

/* ---- threads 1 vs 2 through the planner ---- */
static int run_plan(const problem *p, const data *d, int threads, guarded *gy, char *kernel, size_t ksize) {
  gnk_desc desc = desc_of(p);
  gnk_plan_options opt;
  memset(&opt, 0, sizeof opt);
  opt.flags = GNK_ESTIMATE | GNK_NO_CACHE;
  opt.threads = threads;
  gnk_plan *plan = NULL;
  gnk_status st = gnk_plan_create_ex(&plan, &desc, &opt);
  if (st != GNK_OK) {
    printf("  FAIL plan (threads %d): %s (%s)\n", threads, gnk_status_string(st), gnk_last_error());
    return 0;
  }
  snprintf(kernel, ksize, "%s", gnk_plan_kernel_name(plan));
  if (!guarded_make(gy, d->total, p->dtype, p->yoff)) {
    gnk_plan_destroy(plan);
    return 0;
  }
  void *y = gy->buf + gy->lo;
  for (int64_t i = 0; i < d->total; ++i) put_nan(y, p->dtype, i);
  st = gnk_execute(plan, d->x, y, d->gamma, d->beta);
  gnk_plan_destroy(plan);
  if (st != GNK_OK) {
    printf("  FAIL execute (threads %d): %s (%s)\n", threads, gnk_status_string(st), gnk_last_error());
    return 0;
  }
  return 1;
}

static int thread_cases;

static void check_threads(rng *r) {
  static const struct { int64_t n, c, s, g; } shapes[] = {
      {2, 64, 300, 32},  /* many units: split by whole groups */
      {1, 33, 1100, 3},  /* few units, several chunks: split by phases */
      {2, 320, 70, 32},  /* a specialized shape of the specs */
  };
  static const gnk_dtype dtypes[] = {GNK_DTYPE_F32, GNK_DTYPE_F16, GNK_DTYPE_BF16};
  static const gnk_act acts[] = {GNK_ACT_NONE, GNK_ACT_SILU, GNK_ACT_RELU};
  int k = 0;
  for (int t = 0; t < 3; ++t)
    for (int l = 0; l < 2; ++l)
      for (int a = 0; a < 3; ++a)
        for (int sh = 0; sh < 3; ++sh) {
          problem p;
          memset(&p, 0, sizeof p);
          p.dtype = dtypes[t];
          p.layout = (gnk_layout)l;
          p.act = acts[a];
          vary(&p, k++, r);
          p.inplace = 0;
          p.n = shapes[sh].n;
          p.c = shapes[sh].c;
          p.s = shapes[sh].s;
          p.g = shapes[sh].g;
          data d;
          char t1[128] = "", t2[128] = "", txt[256];
          int ok = data_make(&p, r, &d);
          guarded g1 = {0}, g2 = {0};
          int budget = MAX_REPORT;
          problem_text(&p, txt, sizeof txt);
          if (ok) ok = run_plan(&p, &d, 1, &g1, t1, sizeof t1) && run_plan(&p, &d, 2, &g2, t2, sizeof t2);
          if (ok && strcmp(t1, t2) != 0) {
            printf("  FAIL threads [%s]: kernel %s with 1 thread, %s with 2\n", txt, t1, t2);
            ok = 0;
          }
          if (ok && memcmp(g1.buf + g1.lo, g2.buf + g2.lo, g1.len) != 0) {
            printf("  FAIL threads [%s]: 1 and 2 threads differ (kernel %s)\n", txt, t1);
            ok = 0;
          }
          if (ok && !(guards_intact(&g1) && guards_intact(&g2))) {
            printf("  FAIL threads [%s]: wrote outside y (kernel %s)\n", txt, t1);
            ok = 0;
          }
          if (ok) ok = compare(&p, &d, g1.buf + g1.lo, t1, &budget);
          if (ok && sh == 2 && t == 0 && l == 0 && a == 1) printf("threads: e.g. [%s] -> %s\n", txt, t1);
          free(g1.buf);
          free(g2.buf);
          data_free(&d);
          ++thread_cases;
          result(ok);
        }
}

int main(int argc, char **argv) {
  const char *filter = argc > 1 ? argv[1] : NULL; /* optional: only kernels whose name contains this */
  const gnk_isa cpu = gnk_cpu_isa();
  printf("gnk %s portable kernel test: arch %s, cpu isa %s (after GNK_MAX_ISA), %d kernels\n", gnk_version(),
         arch_name(), gnk_isa_name(cpu), gnk_kernel_count());
  check_list();

  int run[MAX_ISA] = {0}, skipped[MAX_ISA] = {0}, problems[MAX_ISA] = {0};
  for (int idx = 0; idx < gnk_kernel_count(); ++idx) {
    gnk_kernel_info k;
    if (gnk_kernel_get_info(idx, &k) != GNK_OK || (int)k.isa < 0 || (int)k.isa >= MAX_ISA) continue;
    if (filter && !strstr(k.name, filter)) continue;
    rng r = {0x5eed0000ull + (uint64_t)idx * 7919u};
    int ok = 1, budget = MAX_REPORT, variant = idx;
    if (!gnk_kernel_supported(idx)) {
      /* Not for this CPU: it must be refused, not run. */
      ++skipped[k.isa];
      problem p;
      memset(&p, 0, sizeof p);
      p.dtype = k.dtype;
      p.layout = k.layout;
      p.act = k.act;
      p.n = 1;
      p.c = k.groups ? k.channels : 4;
      p.g = k.groups ? k.groups : 2;
      p.s = 3;
      p.eps = 1e-5;
      const gnk_desc desc = desc_of(&p);
      void *x = calloc((size_t)(p.c * p.s), 4), *y = calloc((size_t)(p.c * p.s), 4);
      const gnk_status st = x && y ? gnk_kernel_run(idx, &desc, x, y, NULL, NULL) : GNK_ERR_OUT_OF_MEMORY;
      free(x);
      free(y);
      if (st != GNK_ERR_NO_KERNEL) {
        printf("  FAIL %s: not supported here, yet gnk_kernel_run gave %s\n", k.name, gnk_status_string(st));
        result(0);
      }
      continue;
    }
    ++run[k.isa];
    if (k.groups) {
      problems[k.isa] += run_shape(idx, &k, k.channels, k.groups, &r, &variant, &ok, &budget);
    } else {
      for (int ci = 0; ci < NGENERIC_C; ++ci) {
        const int64_t c = GENERIC_C[ci], gs[3] = {1, middle_divisor(c), c};
        for (int gi = 0; gi < 3; ++gi)
          if (gi == 0 || gs[gi] != gs[gi - 1]) problems[k.isa] += run_shape(idx, &k, c, gs[gi], &r, &variant, &ok, &budget);
      }
    }
    if (!ok) printf("FAILED %s\n", k.name);
    result(ok);
  }

  printf("kernels by isa:\n");
  for (int i = 0; i < MAX_ISA; ++i) {
    if (!run[i] && !skipped[i]) continue;
    printf("  %-11s %4d run (%d problems), %d skipped", gnk_isa_name((gnk_isa)i), run[i], problems[i], skipped[i]);
    if (skipped[i]) printf(" (needs %s; this CPU, after GNK_MAX_ISA, has %s)", gnk_isa_name((gnk_isa)i), gnk_isa_name(cpu));
    printf("\n");
  }
  if (!filter) check_threads(&(rng){0x7412ull});
  printf("threads 1 vs 2 (bitwise, through gnk_plan_create_ex): %d cases\n", thread_cases);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
