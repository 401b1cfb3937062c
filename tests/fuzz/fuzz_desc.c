/*
 * fuzz_desc.c: libFuzzer target for descriptor validation, planning and
 * execution (make test-fuzz), built with ASan + UBSan over the runtime and the
 * kernels. The input bytes become a gnk_desc (first byte even) or a
 * gnk_general_desc (odd): every field, enum values out of range, sizes near
 * 2^31, 2^32 and 2^63, eps NaN / Inf / negative / tiny / huge, unknown flags,
 * thread counts, planning modes. Properties:
 *  - planning returns GNK_OK or an error with a message, never crashes;
 *  - a plan of a small problem executes with exactly-sized buffers (ASan
 *    catches any read or write outside them), in place or not, with and
 *    without gamma/beta/mean/rstd, and returns GNK_OK;
 *  - fast-path outputs match a float64 reference within a bound that allows
 *    the dtype's rounding and f32 arithmetic amplified by rstd (x is a
 *    multiple of 1/16 in [-8, 8], exact in every dtype).
 * Abort = a finding.
 */
#include "gnk.h"
#include "gnk_half.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
  const uint8_t *p;
  size_t n;
} reader;

static uint8_t byte(reader *r) {
  if (!r->n) return 0;
  --r->n;
  return *r->p++;
}

static int64_t raw64(reader *r) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | byte(r);
  return (int64_t)v;
}

/* Mostly small sizes, sometimes the values that overflowed real libraries. */
static int64_t size_field(reader *r) {
  static const int64_t edge[] = {-1,          0,           1,           (1ll << 31) - 1, 1ll << 31,
                                 1ll << 32,   (1ll << 32) + 1, 1ll << 40, 1ll << 62,   INT64_MAX,
                                 INT64_MIN,   3037000500ll /* ~sqrt(2^63) */, 65536, 65537};
  const uint8_t s = byte(r);
  switch (s % 8) {
  case 0: case 1: case 2: case 3: return byte(r) % 40;
  case 4: return 1 + byte(r) % 8;
  case 5: return edge[byte(r) % (sizeof edge / sizeof edge[0])];
  case 6: return (int64_t)byte(r) * 16 + byte(r) % 16;
  default: return raw64(r);
  }
}

static double eps_field(reader *r) {
  const uint8_t s = byte(r);
  switch (s % 8) {
  case 0: case 1: case 2: return 1e-5;
  case 3: return (double)byte(r) * 1e-3;
  case 4: return 0.0;
  case 5: { static const double e[] = {NAN, INFINITY, -1.0, 1e-300, 1e300, -0.0, 5e-324}; return e[byte(r) % 7]; }
  default: { int64_t v = raw64(r); double d; memcpy(&d, &v, sizeof d); return d; }
  }
}

static int enum_field(reader *r, int valid) {
  const uint8_t s = byte(r);
  return s < 240 ? s % valid : (int)(int8_t)byte(r); /* now and then out of range, negative too */
}

static void plan_options(reader *r, gnk_plan_options *o) {
  const uint8_t m = byte(r);
  o->flags = m < 200 ? GNK_ESTIMATE : m < 215 ? GNK_MEASURE : m < 225 ? GNK_WISDOM_ONLY
           : m < 235 ? (GNK_ESTIMATE | GNK_NO_CACHE) : (unsigned)raw64(r);
  const uint8_t t = byte(r);
  o->threads = t < 250 ? t % 4 : (int)(int32_t)raw64(r);
  o->parallel_for = NULL;
  o->parallel_for_ctx = NULL;
}

#define SMALL (1 << 14) /* problems executed (and measured) */

static void check_message(gnk_status st) {
  if (st != GNK_OK && !*gnk_last_error()) {
    fprintf(stderr, "fuzz_desc: %s without a message\n", gnk_status_string(st));
    abort();
  }
}


static float value(reader *r) { return (float)((int)byte(r) - 128) / 16.0f; }

static void store(void *p, int dt, int64_t i, float v) {
  if (dt == GNK_DTYPE_F32) ((float *)p)[i] = v;
  else if (dt == GNK_DTYPE_F16) ((uint16_t *)p)[i] = gnk_f32_to_f16(v);
  else ((uint16_t *)p)[i] = gnk_f32_to_bf16(v);
}

static double load(const void *p, int dt, int64_t i) {
  if (dt == GNK_DTYPE_F32) return ((const float *)p)[i];
  if (dt == GNK_DTYPE_F16) return gnk_f16_to_f32(((const uint16_t *)p)[i]);
  return gnk_bf16_to_f32(((const uint16_t *)p)[i]);
}

static double activate(int act, double z) {
  switch (act) {
  case GNK_ACT_SILU: return z / (1.0 + exp(-z));
  case GNK_ACT_RELU: return isnan(z) || z > 0 ? z : 0; /* NaN stays NaN, as in PyTorch */
  case GNK_ACT_GELU_ERF: return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
  case GNK_ACT_GELU_TANH: return 0.5 * z * (1.0 + tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)));
  default: return z;
  }
}

static size_t esize(int dt) { return dt == GNK_DTYPE_F32 ? 4 : 2; }

static void fast(reader *r) {
  gnk_desc d;
  gnk_desc_init(&d);
  d.layout = (gnk_layout)enum_field(r, 2);
  d.dtype = (gnk_dtype)enum_field(r, 3);
  d.act = (gnk_act)enum_field(r, 5);
  d.n = size_field(r);
  d.c = size_field(r);
  d.spatial = size_field(r);
  d.groups = size_field(r);
  d.eps = eps_field(r);
  const uint8_t pf = byte(r);
  d.param_dtype = pf < 128 ? GNK_DTYPE_F32 : pf < 250 ? d.dtype : (gnk_dtype)(int8_t)byte(r);
  if (byte(r) >= 250) d.flags = (unsigned)raw64(r);
  gnk_plan_options o;
  plan_options(r, &o);
  int64_t nc, all;
  if ((o.flags & 3u) == GNK_MEASURE && (__builtin_mul_overflow(d.n, d.c, &nc) ||
                                        __builtin_mul_overflow(nc, d.spatial, &all) || all > SMALL))
    o.flags &= ~3u; /* measure mode times the real problem: small ones only */
  char buf[256];
  check_message(gnk_desc_validate(&d));
  (void)gnk_desc_string(&d, buf, sizeof buf);
  if (getenv("FUZZ_DESC_VERBOSE")) /* triage: what a crashing input plans */
    fprintf(stderr, "fuzz_desc: layout %d dtype %d act %d n %lld c %lld s %lld g %lld eps %g flags %u mode %u threads %d\n",
            (int)d.layout, (int)d.dtype, (int)d.act, (long long)d.n, (long long)d.c, (long long)d.spatial,
            (long long)d.groups, d.eps, d.flags, o.flags, o.threads);
  gnk_plan *p = NULL;
  const gnk_status st = gnk_plan_create_ex(&p, &d, &o);
  check_message(st);
  if (st != GNK_OK) return;
  const int64_t total = d.n * d.c * d.spatial, ng = d.n * d.groups;
  if (total > SMALL || ng > SMALL || d.c > SMALL) {
    gnk_plan_destroy(p);
    return;
  }
  const uint8_t how = byte(r);
  const int in_place = how & 1, params = how & 2, stats = how & 4;
  const size_t es = esize(d.dtype), ps = esize(d.param_dtype);
  void *x = malloc((size_t)total * es + 1), *y = in_place ? x : malloc((size_t)total * es + 1);
  void *gamma = params ? malloc((size_t)d.c * ps + 1) : NULL, *beta = params ? malloc((size_t)d.c * ps + 1) : NULL;
  float *mean = stats ? malloc((size_t)ng * sizeof(float) + 1) : NULL, *rstd = stats ? malloc((size_t)ng * sizeof(float) + 1) : NULL;
  double *xd = malloc(sizeof(double) * (size_t)(total + 1));
  for (int64_t i = 0; i < total; ++i) {
    store(x, d.dtype, i, value(r));
    xd[i] = load(x, d.dtype, i);
  }
  for (int64_t c = 0; params && c < d.c; ++c) {
    store(gamma, d.param_dtype, c, value(r) * 0.25f);
    store(beta, d.param_dtype, c, value(r));
  }
  const gnk_status ex = stats ? gnk_execute_stats(p, x, y, gamma, beta, mean, rstd) : gnk_execute(p, x, y, gamma, beta);
  if (ex != GNK_OK) {
    fprintf(stderr, "fuzz_desc: execute of a valid plan failed: %s\n", gnk_last_error());
    abort();
  }
  /* float64 reference */
  const int64_t D = d.c / d.groups;
  const double tol = d.dtype == GNK_DTYPE_F32 ? 1e-5 : d.dtype == GNK_DTYPE_F16 ? 2e-3 : 1.6e-2;
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t g = 0; g < d.groups; ++g) {
#define IDX(c, s) (d.layout == GNK_LAYOUT_NCHW ? (n * d.c + (c)) * d.spatial + (s) : (n * d.spatial + (s)) * d.c + (c))
      double sum = 0, sq = 0, amax = 0;
      const double cnt = (double)(D * d.spatial);
      for (int64_t c = g * D; c < (g + 1) * D; ++c)
        for (int64_t s = 0; s < d.spatial; ++s) sum += xd[IDX(c, s)];
      const double m = cnt > 0 ? sum / cnt : 0;
      for (int64_t c = g * D; c < (g + 1) * D; ++c)
        for (int64_t s = 0; s < d.spatial; ++s) {
          const double t = xd[IDX(c, s)] - m;
          sq += t * t;
          if (fabs(xd[IDX(c, s)]) > amax) amax = fabs(xd[IDX(c, s)]);
        }
      const double rs = 1.0 / sqrt(sq / cnt + d.eps);
      for (int64_t c = g * D; c < (g + 1) * D; ++c) {
        const double ga = gamma ? load(gamma, d.param_dtype, c) : 1.0, be = beta ? load(beta, d.param_dtype, c) : 0.0;
        /* f32 arithmetic: x - mean and the parameters rounded, amplified by rstd * |gamma| */
        const double slack = 16.0 * 0x1p-24 * (amax + fabs(m)) * rs * fabs(ga) + 8.0 * 0x1p-24 * fabs(be);
        for (int64_t s = 0; s < d.spatial; ++s) {
          const double want = activate(d.act, (xd[IDX(c, s)] - m) * rs * ga + be), got = load(y, d.dtype, IDX(c, s));
          const double err = fabs(got - want), bound = tol * (1.0 + fabs(want)) + 1.2 * slack;
          if (!(err <= bound) && !(isnan(want) && isnan(got)) && !(isinf(want) && got == want)) {
            fprintf(stderr, "fuzz_desc: %s y[%lld] = %.9g, reference %.9g (bound %.3g), plan %s\n",
                    (gnk_desc_string(&d, buf, sizeof buf), buf), (long long)IDX(c, s), got, want, bound,
                    gnk_plan_kernel_name(p));
            abort();
          }
        }
      }
#undef IDX
    }
  free(xd);
  if (!in_place) free(y);
  free(x);
  free(gamma);
  free(beta);
  free(mean);
  free(rstd);
  gnk_plan_destroy(p);
}

static void general(reader *r) {
  gnk_general_desc d;
  gnk_general_desc_init(&d);
  d.dtype = (gnk_dtype)enum_field(r, 3);
  d.param_dtype = byte(r) < 128 ? GNK_DTYPE_F32 : d.dtype;
  const uint8_t rk = byte(r);
  d.rank = rk < 250 ? 2 + rk % 4 : (int)(int8_t)byte(r);
  for (int i = 0; i < GNK_MAX_RANK; ++i) d.shape[i] = i < 2 ? size_field(r) : 1 + byte(r) % 6;
  if (byte(r) >= 240) d.shape[byte(r) % GNK_MAX_RANK] = size_field(r);
  d.channel_axis = (int)(int8_t)byte(r) % 10;
  d.groups = size_field(r);
  d.grouping = (gnk_grouping)enum_field(r, 2);
  d.reduce_axes = byte(r) < 128 ? 0u : (unsigned)byte(r);
  d.affine = (gnk_affine)enum_field(r, 2);
  d.variance = (gnk_variance)enum_field(r, 2);
  d.eps = eps_field(r);
  d.act = (gnk_act)enum_field(r, 5);
  d.has_mask = byte(r) < 200 ? byte(r) & 1 : (int)(int8_t)byte(r);
  d.flags = byte(r) < 200 ? (unsigned)(byte(r) % 4) : (unsigned)raw64(r);
  gnk_plan_options o;
  plan_options(r, &o);
  int64_t prod = 1;
  for (int i = 0; i < d.rank && i < GNK_MAX_RANK && i >= 0; ++i)
    if (d.shape[i] < 0 || __builtin_mul_overflow(prod, d.shape[i], &prod)) prod = INT64_MAX;
  if ((o.flags & 3u) == GNK_MEASURE && (d.rank < 2 || prod > SMALL)) o.flags &= ~3u; /* small ones only */
  if (getenv("FUZZ_DESC_VERBOSE")) {
    fprintf(stderr, "fuzz_desc: general dtype %d rank %d shape", (int)d.dtype, d.rank);
    for (int i = 0; i < GNK_MAX_RANK; ++i) fprintf(stderr, " %lld", (long long)d.shape[i]);
    fprintf(stderr, " axis %d groups %lld grouping %d reduce 0x%x affine %d variance %d eps %g act %d mask %d flags %u mode %u threads %d\n",
            d.channel_axis, (long long)d.groups, (int)d.grouping, d.reduce_axes, (int)d.affine, (int)d.variance, d.eps,
            (int)d.act, d.has_mask, d.flags, o.flags, o.threads);
  }
  gnk_plan *p = NULL;
  const gnk_status st = gnk_general_plan_create(&p, &d, &o);
  check_message(st);
  if (st != GNK_OK) return;
  int64_t total = 1;
  for (int i = 0; i < d.rank; ++i) total *= d.shape[i]; /* validated: no overflow */
  const int64_t sets = gnk_general_stats_count(p);
  int axis = d.channel_axis < 0 ? d.rank + d.channel_axis : d.channel_axis - ((d.flags & GNK_AXIS_ONE_BASED) ? 1 : 0);
  const int64_t C = d.shape[axis], G = d.groups < 0 ? C : d.groups, npar = d.affine == GNK_AFFINE_PER_GROUP ? G : C;
  if (total > SMALL || sets > SMALL || npar > SMALL) {
    gnk_plan_destroy(p);
    return;
  }
  const size_t es = esize(d.dtype), ps = esize(d.param_dtype);
  void *x = malloc((size_t)total * es + 1), *y = malloc((size_t)total * es + 1);
  void *gamma = malloc((size_t)npar * ps + 1), *beta = malloc((size_t)npar * ps + 1);
  float *mask = d.has_mask ? malloc((size_t)total * sizeof(float) + 1) : NULL;
  float *mean = malloc((size_t)sets * sizeof(float) + 1), *rstd = malloc((size_t)sets * sizeof(float) + 1);
  for (int64_t i = 0; i < total; ++i) {
    store(x, d.dtype, i, value(r));
    if (mask) mask[i] = (float)(byte(r) % 4) * 0.5f;
  }
  for (int64_t i = 0; i < npar; ++i) {
    store(gamma, d.param_dtype, i, value(r));
    store(beta, d.param_dtype, i, value(r));
  }
  const gnk_status ex = gnk_general_execute(p, x, y, gamma, beta, mask, mean, rstd);
  if (ex != GNK_OK) {
    fprintf(stderr, "fuzz_desc: general execute of a valid plan failed: %s\n", gnk_last_error());
    abort();
  }
  free(x);
  free(y);
  free(gamma);
  free(beta);
  free(mask);
  free(mean);
  free(rstd);
  gnk_plan_destroy(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  reader r = {data + 1, size - 1};
  if (data[0] & 1) general(&r);
  else fast(&r);
  return 0;
}
