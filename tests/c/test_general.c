/*
 * test_general.c: the general GroupNorm API (gnk.h, "General GroupNorm"):
 * routing of plain problems to the generated kernels, every option against a
 * float64 reference written here from the header's definition, statistics
 * outputs, thread-count independence, empty tensors and every error path.
 */
#include "test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

TestSuite(general, .fini = leak_check);

/* ---- problem description used by the tests ---- */
typedef struct prob {
  gnk_general_desc d;
  int axis;          /* resolved 0-based channel axis */
  int64_t G, total, sets;
  unsigned reduced;  /* resolved reduce mask */
} prob;

static gnk_general_desc gdesc(int rank, const int64_t *shape, int axis, int64_t groups) {
  gnk_general_desc d;
  gnk_general_desc_init(&d);
  d.rank = rank;
  for (int i = 0; i < rank; ++i) d.shape[i] = shape[i];
  d.channel_axis = axis;
  d.groups = groups;
  return d;
}

static prob resolve(const gnk_general_desc *d) {
  prob p;
  p.d = *d;
  int a = d->channel_axis;
  if ((d->flags & GNK_AXIS_ONE_BASED) && a > 0) --a;
  if (a < 0) a += d->rank;
  p.axis = a;
  const int64_t C = d->shape[a];
  p.G = d->groups == -1 ? C : d->groups;
  const unsigned all = ((1u << d->rank) - 1u) & ~1u & ~(1u << a);
  p.reduced = (d->reduce_axes || (d->flags & GNK_REDUCE_AXES_EXACT)) ? d->reduce_axes : all;
  p.total = 1;
  p.sets = d->shape[0] * p.G;
  for (int i = 0; i < d->rank; ++i) {
    p.total *= d->shape[i];
    if (i > 0 && i != a && !(p.reduced >> i & 1u)) p.sets *= d->shape[i];
  }
  return p;
}

/* Statistics set and channel of element i (row-major). */
static int64_t set_of(const prob *p, int64_t i, int64_t *channel) {
  int64_t idx[GNK_MAX_RANK], rem = i;
  for (int k = p->d.rank - 1; k >= 0; --k) {
    idx[k] = rem % p->d.shape[k];
    rem /= p->d.shape[k];
  }
  const int64_t C = p->d.shape[p->axis], c = idx[p->axis];
  const int64_t g = p->d.grouping == GNK_GROUPING_INTERLEAVED ? c % p->G : c / (C / p->G);
  int64_t s = idx[0];
  for (int k = 1; k < p->d.rank; ++k)
    if (k != p->axis && !(p->reduced >> k & 1u)) s = s * p->d.shape[k] + idx[k];
  *channel = c;
  return s * p->G + g;
}

static double act_ref(gnk_act a, double z) {
  switch (a) {
  case GNK_ACT_SILU: return z / (1.0 + exp(-z));
  case GNK_ACT_RELU: return z > 0 ? z : 0.0;
  case GNK_ACT_GELU_ERF: return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
  case GNK_ACT_GELU_TANH: return 0.5 * z * (1.0 + tanh(sqrt(2.0 / M_PI) * (z + 0.044715 * z * z * z)));
  default: return z;
  }
}

/* float64 reference of the header's definition: y (doubles), mean, rstd per set. */
static void reference(const prob *p, const void *x, const void *gamma, const void *beta, const float *mask,
                      double *y, double *mean, double *rstd) {
  const gnk_dtype t = p->d.dtype, pt = p->d.param_dtype;
  double *w = calloc((size_t)p->sets, sizeof *w), *s1 = calloc((size_t)p->sets, sizeof *s1),
         *s2 = calloc((size_t)p->sets, sizeof *s2);
  int64_t c;
  for (int64_t i = 0; i < p->total; ++i) {
    const int64_t s = set_of(p, i, &c);
    const double wi = mask ? mask[i] : 1.0;
    w[s] += wi;
    s1[s] += wi * elem_get(t, x, i);
  }
  for (int64_t s = 0; s < p->sets; ++s) mean[s] = w[s] != 0 ? s1[s] / w[s] : 0.0;
  for (int64_t i = 0; i < p->total; ++i) {
    const int64_t s = set_of(p, i, &c);
    const double wi = mask ? mask[i] : 1.0, dx = elem_get(t, x, i) - mean[s];
    s2[s] += wi * dx * dx;
  }
  for (int64_t s = 0; s < p->sets; ++s) rstd[s] = 1.0 / sqrt((w[s] != 0 ? s2[s] / w[s] : 0.0) + p->d.eps);
  for (int64_t i = 0; i < p->total; ++i) {
    const int64_t s = set_of(p, i, &c);
    const int64_t pi = p->d.affine == GNK_AFFINE_PER_GROUP ? s % p->G : c;
    const double gm = gamma ? elem_get(pt, gamma, pi) : 1.0, bt = beta ? elem_get(pt, beta, pi) : 0.0;
    y[i] = act_ref(p->d.act, (elem_get(t, x, i) - mean[s]) * rstd[s] * gm + bt);
  }
  free(w);
  free(s1);
  free(s2);
}

typedef struct run_opts {
  int gamma, beta, mask; /* mask: 0 none, 1 binary, 2 weights, 3 binary + one set fully masked */
  int threads;
  double x_mean;
} run_opts;

/* Plans d, runs it on seeded data and checks y, mean and rstd against the reference. */
static void check(const gnk_general_desc *d, run_opts o, const char *what) {
  prob p = resolve(d);
  gnk_plan *plan = NULL;
  gnk_plan_options po = {GNK_ESTIMATE, o.threads, NULL, NULL};
  cr_assert_eq(gnk_general_plan_create(&plan, d, &po), GNK_OK, "%s: %s", what, gnk_last_error());
  cr_assert_eq(gnk_general_stats_count(plan), p.sets, "%s: stats count", what);
  rng r;
  rng_seed(&r, (uint64_t)p.total * 31 + (uint64_t)p.G);
  tbuf x = tbuf_new_t(d->dtype, p.total, 1), y = tbuf_new_t(d->dtype, p.total, 0);
  fill_uniform_t(&r, d->dtype, x.v, p.total, o.x_mean - 2.0, o.x_mean + 2.0);
  const int64_t np_ = d->affine == GNK_AFFINE_PER_GROUP ? p.G : d->shape[p.axis];
  tbuf gm = tbuf_new_t(d->param_dtype, np_ > 0 ? np_ : 1, 0), bt = tbuf_new_t(d->param_dtype, np_ > 0 ? np_ : 1, 0);
  fill_uniform_t(&r, d->param_dtype, gm.v, np_, 0.5, 1.5);
  fill_uniform_t(&r, d->param_dtype, bt.v, np_, -0.5, 0.5);
  float *mask = NULL;
  if (o.mask) {
    mask = malloc((size_t)p.total * sizeof *mask);
    for (int64_t i = 0; i < p.total; ++i)
      mask[i] = o.mask == 2 ? (float)(rng_u64(&r) % 4) : (float)(rng_uniform(&r) > 0.3);
    if (o.mask == 3) { /* every element of statistics set 1 masked out */
      int64_t c;
      for (int64_t i = 0; i < p.total; ++i)
        if (set_of(&p, i, &c) == 1) mask[i] = 0.0f;
    }
  }
  float *mean = malloc((size_t)(p.sets + 1) * sizeof *mean), *rstd = malloc((size_t)(p.sets + 1) * sizeof *rstd);
  cr_assert_eq(gnk_general_execute(plan, x.v, y.v, o.gamma ? gm.v : NULL, o.beta ? bt.v : NULL, mask, mean, rstd),
               GNK_OK, "%s: %s", what, gnk_last_error());
  cr_assert(tbuf_guards_ok(&y), "%s: wrote outside y", what);
  double *ry = malloc((size_t)p.total * sizeof *ry), *rm = malloc((size_t)p.sets * sizeof *rm),
         *rr = malloc((size_t)p.sets * sizeof *rr);
  reference(&p, x.v, o.gamma ? gm.v : NULL, o.beta ? bt.v : NULL, mask, ry, rm, rr);
  for (int64_t i = 0; i < p.total; ++i) {
    const double got = elem_get(d->dtype, y.v, i);
    cr_assert(close_enough(d->dtype, got, ry[i]), "%s: y[%lld] = %.9g, want %.9g", what, (long long)i, got, ry[i]);
  }
  for (int64_t s = 0; s < p.sets; ++s) {
    cr_assert(fabs(mean[s] - rm[s]) <= 1e-6 + 1e-6 * fabs(rm[s]), "%s: mean[%lld] = %.9g, want %.9g", what,
              (long long)s, mean[s], rm[s]);
    cr_assert(fabs(rstd[s] - rr[s]) <= 1e-6 + 1e-5 * fabs(rr[s]), "%s: rstd[%lld] = %.9g, want %.9g", what,
              (long long)s, rstd[s], rr[s]);
  }
  free(ry); free(rm); free(rr); free(mean); free(rstd); free(mask);
  tbuf_free(&x); tbuf_free(&y); tbuf_free(&gm); tbuf_free(&bt);
  gnk_plan_destroy(plan);
}

static const run_opts DEF = {1, 1, 0, 1, 0.5};

/* ---- routing ---- */
static const char *plan_name(const gnk_general_desc *d, char *buf, size_t size) {
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_general_plan_create(&p, d, NULL), GNK_OK, "%s", gnk_last_error());
  snprintf(buf, size, "%s", gnk_plan_kernel_name(p));
  gnk_plan_destroy(p);
  return buf;
}
#define expect_fast(d) do { char b_[128]; cr_assert(strncmp(plan_name(&(d), b_, sizeof b_), "gnk_", 4) == 0, "%s: %s", #d, b_); } while (0)
#define expect_general(d) do { char b_[128]; cr_assert(strncmp(plan_name(&(d), b_, sizeof b_), "general_", 8) == 0, "%s: %s", #d, b_); } while (0)

Test(general, routing_fast_for_plain_problems) {
  const int64_t s4[] = {2, 32, 4, 4}, s2[] = {3, 16}, s5[] = {2, 3, 4, 5, 32};
  gnk_general_desc d = gdesc(4, s4, 1, 8);
  expect_fast(d);                                   /* NCHW */
  d.channel_axis = -3; expect_fast(d);              /* same axis, from the end */
  d.act = GNK_ACT_SILU; expect_fast(d);
  d.act = GNK_ACT_RELU; expect_fast(d);
  d = gdesc(4, (int64_t[]){2, 4, 4, 32}, -1, 8); expect_fast(d); /* NHWC */
  d = gdesc(2, s2, 1, 4); expect_fast(d);           /* rank 2 */
  d = gdesc(5, s5, 4, 4); expect_fast(d);           /* rank 5, channels last */
  d.reduce_axes = 0xeu; expect_fast(d);             /* explicit: every spatial axis */
  d = gdesc(4, s4, 1, 1); d.grouping = GNK_GROUPING_INTERLEAVED; expect_fast(d);  /* G == 1 */
  d = gdesc(4, s4, 1, -1); d.grouping = GNK_GROUPING_INTERLEAVED; expect_fast(d); /* G == C */
  d.affine = GNK_AFFINE_PER_GROUP; expect_fast(d);  /* per group == per channel when G == C */
  d = gdesc(4, s4, 2, 8); d.flags = GNK_AXIS_ONE_BASED; expect_fast(d); /* R axis 2 = axis 1 */
  d = gdesc(4, s4, 1, 8); d.dtype = GNK_DTYPE_F16; expect_fast(d);
  d.dtype = GNK_DTYPE_BF16; d.param_dtype = GNK_DTYPE_BF16; expect_fast(d);
}

Test(general, routing_general_for_the_rest) {
  const int64_t s4[] = {2, 32, 4, 4};
  gnk_general_desc d = gdesc(4, s4, 1, 8);
  d.grouping = GNK_GROUPING_INTERLEAVED; expect_general(d);
  d = gdesc(4, s4, 1, 8); d.affine = GNK_AFFINE_PER_GROUP; expect_general(d);
  d = gdesc(4, s4, 1, 8); d.variance = GNK_VARIANCE_SUMSQ; expect_general(d);
  d = gdesc(4, s4, 1, 8); d.has_mask = 1; expect_general(d);
  d = gdesc(4, s4, 1, 8); d.act = GNK_ACT_GELU_ERF; expect_general(d);
  d = gdesc(4, s4, 1, 8); d.act = GNK_ACT_GELU_TANH; expect_general(d);
  d = gdesc(4, s4, 1, 8); d.reduce_axes = 1u << 2; expect_general(d);  /* axis 3 kept */
  d = gdesc(4, (int64_t[]){2, 4, 32, 4}, 2, 8); expect_general(d);     /* channel axis in the middle */
  d = gdesc(4, (int64_t[]){2, 0, 4, 4}, 1, 1); expect_general(d);      /* empty */
  /* A plain descriptor with GELU runs on the general kernel too. */
  gnk_desc pd = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_GELU_TANH, 2, 16, 9, 4);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create(&p, &pd, GNK_ESTIMATE), GNK_OK, "%s", gnk_last_error());
  cr_assert_str_eq(gnk_plan_kernel_name(p), "general_f32");
  cr_assert_eq(gnk_general_stats_count(p), 2 * 4);
  gnk_plan_destroy(p);
}

Test(general, plain_gelu_matches_general) {
  gnk_desc pd = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_GELU_ERF, 2, 16, 9, 4);
  gnk_general_desc d = gdesc(3, (int64_t[]){2, 9, 16}, -1, 4);
  d.act = GNK_ACT_GELU_ERF;
  float x[2 * 9 * 16], y1[2 * 9 * 16], y2[2 * 9 * 16], m1[8], m2[8], r1[8], r2[8];
  rng r;
  rng_seed(&r, 5);
  fill_normal(&r, x, 2 * 9 * 16, 0.3, 1.2);
  gnk_plan *a = NULL, *b = NULL;
  cr_assert_eq(gnk_plan_create(&a, &pd, GNK_ESTIMATE), GNK_OK);
  cr_assert_eq(gnk_general_plan_create(&b, &d, NULL), GNK_OK);
  cr_assert_eq(gnk_execute_stats(a, x, y1, NULL, NULL, m1, r1), GNK_OK);
  cr_assert_eq(gnk_general_execute(b, x, y2, NULL, NULL, NULL, m2, r2), GNK_OK);
  cr_assert(memcmp(y1, y2, sizeof y1) == 0 && memcmp(m1, m2, sizeof m1) == 0 && memcmp(r1, r2, sizeof r1) == 0);
  cr_assert_eq(gnk_execute(a, x, y1, NULL, NULL), GNK_OK);
  gnk_plan_destroy(a);
  gnk_plan_destroy(b);
}

/* ---- options against the float64 reference ---- */
Test(general, fast_path_matches_reference) {
  gnk_general_desc d = gdesc(4, (int64_t[]){2, 32, 5, 3}, 1, 8);
  check(&d, DEF, "nchw fast");
  d = gdesc(4, (int64_t[]){2, 5, 3, 32}, -1, 4);
  check(&d, DEF, "nhwc fast");
}

Test(general, channel_axis_anywhere_any_rank) {
  gnk_general_desc d = gdesc(2, (int64_t[]){3, 12}, -1, 3);
  d.act = GNK_ACT_GELU_ERF; /* force the general kernel */
  check(&d, DEF, "rank 2");
  d = gdesc(3, (int64_t[]){2, 12, 7}, 1, 4); d.act = GNK_ACT_GELU_ERF; check(&d, DEF, "rank 3 axis 1");
  d = gdesc(4, (int64_t[]){2, 3, 12, 5}, 2, 4); check(&d, DEF, "rank 4 axis 2");
  d = gdesc(5, (int64_t[]){2, 3, 4, 6, 5}, -2, 3); check(&d, DEF, "rank 5 axis -2");
  d = gdesc(6, (int64_t[]){2, 2, 3, 4, 2, 3}, 3, 2); check(&d, DEF, "rank 6 axis 3");
  d = gdesc(8, (int64_t[]){2, 2, 1, 2, 4, 2, 1, 3}, 4, 2); check(&d, DEF, "rank 8");
  d = gdesc(4, (int64_t[]){2, 3, 12, 5}, 3, 4); d.flags = GNK_AXIS_ONE_BASED; check(&d, DEF, "R axis 3");
  d = gdesc(4, (int64_t[]){2, 3, 12, 5}, -2, -1); d.flags = GNK_AXIS_ONE_BASED; check(&d, DEF, "R axis -2, G = -1");
}

/* Channels-last with more than BLOCK_TABLE_MAX (2^20) channel positions per
 * block: the row walk instead of the block tables, the same reference (the
 * tables for 2^31 channels took 32 GiB at plan time before). */
Test(general, huge_axes_run_without_index_tables) {
  gnk_general_desc d = gdesc(3, (int64_t[]){1, 2, 1100000}, -1, 4);
  d.act = GNK_ACT_GELU_ERF; /* force the general kernel */
  check(&d, DEF, "1x2x1100000 channels last");
  /* kept axes of more than KEPT_TABLE_MAX (2^20) positions after and before
   * the channel axis: their index computed per position, not tabled */
  d = gdesc(3, (int64_t[]){1, 4, (1 << 20) + 3}, 1, 2);
  d.reduce_axes = 0;
  d.flags = GNK_REDUCE_AXES_EXACT;
  check(&d, DEF, "1x4x(2^20+3), per-position statistics");
  d = gdesc(3, (int64_t[]){1, (1 << 20) + 3, 4}, 2, 2);
  d.reduce_axes = 0;
  d.flags = GNK_REDUCE_AXES_EXACT;
  check(&d, DEF, "1x(2^20+3)x4, per-position statistics");
}

/* Planning allocates nothing in proportion to the channel count: a 2^31-1
 * channel problem (GELU: the general kernel) is planned under a 4 GiB address
 * space limit (before, the plan built 32 GiB of tables, or 2 x 8 GiB for a
 * channels-last layout, and failed or was killed). */
Test(general, planning_huge_channel_counts_allocates_no_tables) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
  cr_skip_test("RLIMIT_AS cannot be lowered under AddressSanitizer (its shadow memory)");
#endif
#endif
  const struct rlimit cap = {(rlim_t)4 << 30, (rlim_t)4 << 30};
  cr_assert_eq(setrlimit(RLIMIT_AS, &cap), 0);
  for (int l = 0; l < 2; ++l) {
    gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_GELU_ERF, 15, ((int64_t)1 << 31) - 1, 1, 1);
    gnk_plan *p = NULL;
    cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE), GNK_OK, "%s", gnk_last_error());
    gnk_plan_destroy(p);
    d.n = 0; /* empty: no tables either */
    d.spatial = 7;
    cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE), GNK_OK, "%s", gnk_last_error());
    cr_assert_eq(gnk_execute(p, NULL, NULL, NULL, NULL), GNK_OK, "%s", gnk_last_error());
    gnk_plan_destroy(p);
  }
}

Test(general, interleaved_grouping) {
  gnk_general_desc d = gdesc(3, (int64_t[]){2, 7, 12}, -1, 3);
  d.grouping = GNK_GROUPING_INTERLEAVED;
  check(&d, DEF, "interleaved");
  d.affine = GNK_AFFINE_PER_GROUP;
  check(&d, DEF, "interleaved per group");
  d = gdesc(4, (int64_t[]){2, 12, 3, 5}, 1, 4); d.grouping = GNK_GROUPING_INTERLEAVED;
  check(&d, DEF, "interleaved nchw");
}

Test(general, reduction_subsets) {
  gnk_general_desc d = gdesc(5, (int64_t[]){2, 3, 4, 5, 8}, -1, 2);
  d.reduce_axes = (1u << 2) | (1u << 3); /* NDHWC with tf.contrib's defaults: per depth */
  check(&d, DEF, "ndhwc (-3, -2)");
  d = gdesc(4, (int64_t[]){2, 8, 5, 6}, 1, 4); d.reduce_axes = 1u << 3; check(&d, DEF, "kept axis 2 (before reduced)");
  d = gdesc(4, (int64_t[]){2, 8, 5, 6}, 1, 4); d.reduce_axes = 1u << 2; check(&d, DEF, "kept axis 3 (innermost)");
  /* the same with inner sizes >= 32 (row walk instead of block walk) */
  d = gdesc(4, (int64_t[]){2, 8, 5, 40}, 1, 4); d.reduce_axes = 1u << 2; check(&d, DEF, "kept axis 3, long rows");
  d = gdesc(4, (int64_t[]){2, 8, 40, 5}, 1, 4); d.reduce_axes = 1u << 3; check(&d, DEF, "kept axis 2, long rows");
  d.has_mask = 1; check(&d, (run_opts){1, 1, 3, 1, 0.5}, "kept axis 2, long rows, mask");
  d = gdesc(5, (int64_t[]){2, 4, 6, 3, 5}, 2, 3); d.reduce_axes = (1u << 1) | (1u << 4); check(&d, DEF, "kept axis after channel");
  d = gdesc(3, (int64_t[]){3, 7, 6}, -1, 3); d.reduce_axes = 0; d.flags = GNK_REDUCE_AXES_EXACT;
  check(&d, DEF, "no reduced axis (exact 0)");
  d.grouping = GNK_GROUPING_INTERLEAVED; d.variance = GNK_VARIANCE_SUMSQ; check(&d, DEF, "no reduced axis, interleaved, sumsq");
}

Test(general, affine_variants) {
  gnk_general_desc d = gdesc(4, (int64_t[]){2, 12, 3, 5}, 1, 4);
  d.act = GNK_ACT_GELU_TANH;
  check(&d, (run_opts){0, 0, 0, 1, 0.5}, "no affine");
  check(&d, (run_opts){1, 0, 0, 1, 0.5}, "gamma only");
  check(&d, (run_opts){0, 1, 0, 1, 0.5}, "beta only");
  d.affine = GNK_AFFINE_PER_GROUP;
  check(&d, DEF, "per group (ONNX 18)");
  d.affine = GNK_AFFINE_PER_CHANNEL; d.dtype = d.param_dtype = GNK_DTYPE_F16;
  check(&d, DEF, "f16 params");
  d.dtype = d.param_dtype = GNK_DTYPE_BF16; check(&d, DEF, "bf16 params");
  d.param_dtype = GNK_DTYPE_F32; check(&d, DEF, "bf16 x, f32 params");
}

Test(general, masks) {
  gnk_general_desc d = gdesc(3, (int64_t[]){3, 10, 8}, -1, 4);
  d.has_mask = 1;
  run_opts o = DEF;
  o.mask = 1; check(&d, o, "binary mask");
  o.mask = 2; check(&d, o, "frequency weights");
  o.mask = 3; check(&d, o, "fully masked set");
  o.mask = 0; check(&d, o, "has_mask, mask NULL");
  d = gdesc(4, (int64_t[]){2, 3, 8, 5}, 2, 2); d.has_mask = 1; d.reduce_axes = 1u << 3;
  o.mask = 3; check(&d, o, "mask with kept axis");
  d.dtype = GNK_DTYPE_F16; o.mask = 1; check(&d, o, "f16 mask");
}

Test(general, variance_and_activations) {
  gnk_general_desc d = gdesc(4, (int64_t[]){2, 8, 6, 5}, 2, 2);
  const gnk_act acts[] = {GNK_ACT_NONE, GNK_ACT_SILU, GNK_ACT_RELU, GNK_ACT_GELU_ERF, GNK_ACT_GELU_TANH};
  for (int v = 0; v < 2; ++v)
    for (int a = 0; a < 5; ++a) {
      d.variance = (gnk_variance)v;
      d.act = acts[a];
      char what[64];
      snprintf(what, sizeof what, "variance %d act %d", v, (int)acts[a]);
      check(&d, DEF, what);
    }
  /* accurate variance with |mean| >> std (the SUMSQ trap; double keeps even SUMSQ close here) */
  d.variance = GNK_VARIANCE_ACCURATE; d.act = GNK_ACT_NONE;
  run_opts o = DEF; o.x_mean = 1e4;
  check(&d, o, "accurate, mean 1e4");
}

Test(general, f16_bf16_inputs) {
  gnk_general_desc d = gdesc(4, (int64_t[]){2, 3, 12, 5}, 2, 3);
  d.dtype = GNK_DTYPE_F16; check(&d, DEF, "f16");
  d.dtype = GNK_DTYPE_BF16; check(&d, DEF, "bf16");
  d.grouping = GNK_GROUPING_INTERLEAVED; d.reduce_axes = 1u << 1; check(&d, DEF, "bf16 interleaved subset");
}

Test(general, threads_do_not_change_bits) {
  gnk_general_desc d = gdesc(4, (int64_t[]){7, 3, 12, 50}, 2, 3);
  d.grouping = GNK_GROUPING_INTERLEAVED;
  const int64_t total = 7 * 3 * 12 * 50;
  float *x = malloc(total * sizeof *x), *y1 = malloc(total * sizeof *y1), *y4 = malloc(total * sizeof *y4);
  rng r;
  rng_seed(&r, 9);
  fill_normal(&r, x, total, 1.0, 2.0);
  gnk_plan *p1 = NULL, *p4 = NULL;
  gnk_plan_options o1 = {GNK_ESTIMATE, 1, NULL, NULL}, o4 = {GNK_ESTIMATE, 4, NULL, NULL};
  cr_assert_eq(gnk_general_plan_create(&p1, &d, &o1), GNK_OK);
  cr_assert_eq(gnk_general_plan_create(&p4, &d, &o4), GNK_OK);
  cr_assert_eq(gnk_plan_threads(p4), 4);
  cr_assert_eq(gnk_general_execute(p1, x, y1, NULL, NULL, NULL, NULL, NULL), GNK_OK);
  cr_assert_eq(gnk_general_execute(p4, x, y4, NULL, NULL, NULL, NULL, NULL), GNK_OK);
  cr_assert(memcmp(y1, y4, total * sizeof *x) == 0, "1 and 4 threads differ");
  /* in place */
  memcpy(y4, x, total * sizeof *x);
  cr_assert_eq(gnk_general_execute(p4, y4, y4, NULL, NULL, NULL, NULL, NULL), GNK_OK);
  cr_assert(memcmp(y1, y4, total * sizeof *x) == 0, "in place differs");
  gnk_plan_destroy(p1);
  gnk_plan_destroy(p4);
  free(x); free(y1); free(y4);
}

Test(general, stats_layout) {
  /* (batch, kept axes..., group): N=2, kept axis 1 of size 3, G=2 */
  gnk_general_desc d = gdesc(3, (int64_t[]){2, 3, 4}, -1, 2);
  d.reduce_axes = 0; d.flags = GNK_REDUCE_AXES_EXACT;
  float x[24], y[24], mean[12], rstd[12];
  for (int i = 0; i < 24; ++i) x[i] = (float)i;
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_general_plan_create(&p, &d, NULL), GNK_OK);
  cr_assert_eq(gnk_general_stats_count(p), 12);
  cr_assert_eq(gnk_general_execute(p, x, y, NULL, NULL, NULL, mean, rstd), GNK_OK);
  for (int s = 0; s < 12; ++s) { /* set s covers x[2s], x[2s+1] */
    cr_assert_float_eq(mean[s], 2.0f * s + 0.5f, 1e-6);
    cr_assert_float_eq(rstd[s], (float)(1.0 / sqrt(0.25 + 1e-5)), 1e-3);
  }
  gnk_plan_destroy(p);
}

Test(general, fast_plan_through_general_execute) {
  gnk_general_desc d = gdesc(4, (int64_t[]){2, 8, 3, 3}, 1, 4);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_general_plan_create(&p, &d, NULL), GNK_OK);
  cr_assert_eq(strncmp(gnk_plan_kernel_name(p), "gnk_", 4), 0);
  cr_assert_eq(gnk_general_stats_count(p), 8);
  float x[144], y1[144], y2[144], m1[8], m2[8], r1[8], r2[8], w[144];
  rng r;
  rng_seed(&r, 3);
  fill_normal(&r, x, 144, 0.0, 1.0);
  cr_assert_eq(gnk_general_execute(p, x, y1, NULL, NULL, NULL, m1, r1), GNK_OK);
  cr_assert_eq(gnk_execute_stats(p, x, y2, NULL, NULL, m2, r2), GNK_OK);
  cr_assert(memcmp(y1, y2, sizeof y1) == 0 && memcmp(m1, m2, sizeof m1) == 0 && memcmp(r1, r2, sizeof r1) == 0);
  for (int i = 0; i < 144; ++i) w[i] = 1.0f;
  expect_error(gnk_general_execute(p, x, y1, NULL, NULL, w, NULL, NULL), GNK_ERR_BAD_OPTION, "has_mask");
  gnk_plan_destroy(p);
}

Test(general, empty_tensors) {
  gnk_general_desc d = gdesc(4, (int64_t[]){2, 8, 0, 3}, 1, 4);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_general_plan_create(&p, &d, NULL), GNK_OK);
  float mean[8], rstd[8];
  cr_assert_eq(gnk_general_stats_count(p), 8);
  cr_assert_eq(gnk_general_execute(p, NULL, NULL, NULL, NULL, NULL, mean, rstd), GNK_OK);
  for (int i = 0; i < 8; ++i) cr_assert(mean[i] == 0.0f && isnan(rstd[i]));
  /* the statistics written are checked as on any other size */
  float stats[17];
  for (int i = 0; i < 17; ++i) stats[i] = 7.0f;
  expect_error(gnk_general_execute(p, NULL, NULL, NULL, NULL, NULL, (float *)((char *)stats + 2), rstd),
               GNK_ERR_MISALIGNED, "mean");
  expect_error(gnk_general_execute(p, NULL, NULL, NULL, NULL, NULL, stats, stats + 7), GNK_ERR_OVERLAP, "rstd");
  for (int i = 0; i < 17; ++i) cr_assert(stats[i] == 7.0f, "a refused execute wrote stats[%d]", i);
  cr_assert_eq(gnk_general_execute(p, NULL, NULL, NULL, NULL, NULL, stats, stats + 8), GNK_OK, "%s", gnk_last_error());
  gnk_plan_destroy(p);
  d.has_mask = 1;
  float w = 1.0f;
  cr_assert_eq(gnk_general_plan_create(&p, &d, NULL), GNK_OK);
  cr_assert_eq(gnk_general_execute(p, NULL, NULL, NULL, NULL, &w, mean, rstd), GNK_OK);
  for (int i = 0; i < 8; ++i) cr_assert(mean[i] == 0.0f && fabsf(rstd[i] - (float)(1.0 / sqrt(1e-5))) < 1e-2f);
  gnk_plan_destroy(p);
  d = gdesc(3, (int64_t[]){0, 4, 3}, 1, 2);
  cr_assert_eq(gnk_general_plan_create(&p, &d, NULL), GNK_OK);
  cr_assert_eq(gnk_general_stats_count(p), 0);
  cr_assert_eq(gnk_general_execute(p, NULL, NULL, NULL, NULL, NULL, NULL, NULL), GNK_OK);
  gnk_plan_destroy(p);
  d = gdesc(3, (int64_t[]){2, 0, 3}, 1, -1); /* groups = -1 with no channel: no set */
  cr_assert_eq(gnk_general_plan_create(&p, &d, NULL), GNK_OK);
  cr_assert_eq(gnk_general_stats_count(p), 0);
  gnk_plan_destroy(p);
}

/* ---- errors ---- */
static void expect_invalid(const gnk_general_desc *d, gnk_status want, const char *word) {
  gnk_plan *p = (gnk_plan *)&p;
  expect_error(gnk_general_plan_create(&p, d, NULL), want, word);
  cr_assert_null(p, "a failed gnk_general_plan_create must set *plan = NULL");
}

Test(general, errors) {
  const int64_t s4[] = {2, 8, 3, 3};
  gnk_general_desc d;
  gnk_plan *p = NULL;
  expect_error(gnk_general_plan_create(&p, NULL, NULL), GNK_ERR_NULL_ARGUMENT, "NULL");
  d = gdesc(4, s4, 1, 4);
  expect_error(gnk_general_plan_create(NULL, &d, NULL), GNK_ERR_NULL_ARGUMENT, "plan");
  expect_error(gnk_general_execute(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), GNK_ERR_NULL_ARGUMENT, "plan");
  cr_assert_eq(gnk_general_stats_count(NULL), -1);
  gnk_general_desc_init(NULL);

  d = gdesc(4, s4, 1, 4); d.rank = 1; expect_invalid(&d, GNK_ERR_BAD_RANK, "at least 2");
  d = gdesc(4, s4, 1, 4); d.rank = 9; expect_invalid(&d, GNK_ERR_BAD_RANK, "GNK_MAX_RANK");
  d = gdesc(4, s4, 1, 4); d.shape[2] = -1; expect_invalid(&d, GNK_ERR_NEGATIVE_SIZE, "shape[2]");
  d = gdesc(4, s4, 1, 4); d.flags = 0x80; expect_invalid(&d, GNK_ERR_BAD_FLAGS, "flags");
  d = gdesc(4, s4, 4, 4); expect_invalid(&d, GNK_ERR_BAD_AXIS, "out of range");
  d = gdesc(4, s4, -5, 4); expect_invalid(&d, GNK_ERR_BAD_AXIS, "out of range");
  d = gdesc(4, s4, 0, 4); expect_invalid(&d, GNK_ERR_BAD_AXIS, "batch axis");
  d = gdesc(4, s4, -4, 4); expect_invalid(&d, GNK_ERR_BAD_AXIS, "batch axis");
  d = gdesc(4, s4, 0, 4); d.flags = GNK_AXIS_ONE_BASED; expect_invalid(&d, GNK_ERR_BAD_AXIS, "GNK_AXIS_ONE_BASED");
  d = gdesc(4, s4, 1, 4); d.flags = GNK_AXIS_ONE_BASED; expect_invalid(&d, GNK_ERR_BAD_AXIS, "batch axis");
  d = gdesc(4, s4, 5, 4); d.flags = GNK_AXIS_ONE_BASED; expect_invalid(&d, GNK_ERR_BAD_AXIS, "out of range");
  d = gdesc(4, s4, 1, 0); expect_invalid(&d, GNK_ERR_BAD_GROUPS, "positive");
  d = gdesc(4, s4, 1, -2); expect_invalid(&d, GNK_ERR_BAD_GROUPS, "-1");
  d = gdesc(4, s4, 1, 16); expect_invalid(&d, GNK_ERR_GROUPS_NOT_DIVISOR, "exceeds channels");
  d = gdesc(4, s4, 1, 3); expect_invalid(&d, GNK_ERR_GROUPS_NOT_DIVISOR, "does not divide");
  d = gdesc(4, s4, 1, 4); d.grouping = (gnk_grouping)2; expect_invalid(&d, GNK_ERR_BAD_OPTION, "grouping");
  d = gdesc(4, s4, 1, 4); d.affine = (gnk_affine)2; expect_invalid(&d, GNK_ERR_BAD_OPTION, "affine");
  d = gdesc(4, s4, 1, 4); d.variance = (gnk_variance)2; expect_invalid(&d, GNK_ERR_BAD_OPTION, "variance");
  d = gdesc(4, s4, 1, 4); d.has_mask = 2; expect_invalid(&d, GNK_ERR_BAD_OPTION, "has_mask");
  d = gdesc(4, s4, 1, 4); d.reduce_axes = 1u << 4; expect_invalid(&d, GNK_ERR_BAD_AXIS, "reduction axis 4 is out of range");
  d = gdesc(4, s4, 1, 4); d.reduce_axes = 1u | 4u; expect_invalid(&d, GNK_ERR_BAD_AXIS, "batch axis");
  d = gdesc(4, s4, 1, 4); d.reduce_axes = 2u | 4u; expect_invalid(&d, GNK_ERR_BAD_AXIS, "channel axis");
  d = gdesc(4, s4, 1, 4); d.eps = -1.0; expect_invalid(&d, GNK_ERR_BAD_EPS, "eps");
  d = gdesc(4, s4, 1, 4); d.eps = NAN; expect_invalid(&d, GNK_ERR_BAD_EPS, "eps");
  d = gdesc(4, s4, 1, 4); d.act = (gnk_act)9; expect_invalid(&d, GNK_ERR_BAD_ACTIVATION, "activation");
  d = gdesc(4, s4, 1, 4); d.dtype = (gnk_dtype)5; expect_invalid(&d, GNK_ERR_BAD_DTYPE, "dtype");
  d = gdesc(4, s4, 1, 4); d.param_dtype = GNK_DTYPE_F16; expect_invalid(&d, GNK_ERR_BAD_DTYPE, "param_dtype");
  d = gdesc(4, (int64_t[]){1ll << 40, 1ll << 20, 1ll << 10, 1}, 1, 1);
  expect_invalid(&d, GNK_ERR_SIZE_OVERFLOW, "overflows");
  /* empty, with the other dimensions' product past 2^63: planned anyway, so refused */
  d = gdesc(4, (int64_t[]){0, 1ll << 40, 1ll << 40, 1}, 3, 1);
  expect_invalid(&d, GNK_ERR_SIZE_OVERFLOW, "overflows");
  d = gdesc(3, (int64_t[]){1ll << 40, 0, 1ll << 30}, 1, 1ll << 40); /* 0 channels: N*K*G statistics */
  d.reduce_axes = 0;
  d.flags = GNK_REDUCE_AXES_EXACT;
  expect_invalid(&d, GNK_ERR_SIZE_OVERFLOW, "statistics");
  d = gdesc(4, s4, 1, 4);
  gnk_plan_options bad = {GNK_ESTIMATE, GNK_MAX_THREADS + 1, NULL, NULL};
  expect_error(gnk_general_plan_create(&p, &d, &bad), GNK_ERR_BAD_THREADS, "threads");
  d.act = GNK_ACT_GELU_ERF; /* the general path checks them too */
  expect_error(gnk_general_plan_create(&p, &d, &bad), GNK_ERR_BAD_THREADS, "threads");
  gnk_plan_options badf = {0x40, 0, NULL, NULL};
  expect_error(gnk_general_plan_create(&p, &d, &badf), GNK_ERR_BAD_FLAGS, "flags");

  /* execute-time errors on a general plan */
  d = gdesc(4, s4, 1, 4); d.grouping = GNK_GROUPING_INTERLEAVED;
  cr_assert_eq(gnk_general_plan_create(&p, &d, NULL), GNK_OK);
  float x[72] = {0}, w[72] = {0};
  expect_error(gnk_general_execute(p, NULL, x, NULL, NULL, NULL, NULL, NULL), GNK_ERR_NULL_ARGUMENT, "x");
  expect_error(gnk_general_execute(p, x, NULL, NULL, NULL, NULL, NULL, NULL), GNK_ERR_NULL_ARGUMENT, "y");
  expect_error(gnk_general_execute(p, x, x + 1, NULL, NULL, NULL, NULL, NULL), GNK_ERR_OVERLAP, "overlap");
  expect_error(gnk_general_execute(p, x, w, NULL, NULL, w, NULL, NULL), GNK_ERR_BAD_OPTION, "has_mask");
  /* pointers off their element alignment (separate allocations of the whole 144 values: no overlap) */
  float *xa = calloc(144, sizeof(float)), *ya = calloc(144, sizeof(float)), *buf = calloc(160, sizeof(float));
  cr_assert(xa && ya && buf);
  float *odd = (float *)((char *)buf + 2), m[32], rs[32];
  expect_error(gnk_general_execute(p, odd, ya, NULL, NULL, NULL, NULL, NULL), GNK_ERR_MISALIGNED, "x ");
  expect_error(gnk_general_execute(p, xa, odd, NULL, NULL, NULL, NULL, NULL), GNK_ERR_MISALIGNED, "y ");
  expect_error(gnk_general_execute(p, xa, ya, odd, NULL, NULL, NULL, NULL), GNK_ERR_MISALIGNED, "gamma");
  expect_error(gnk_general_execute(p, xa, ya, NULL, NULL, NULL, (float *)((char *)m + 1), rs), GNK_ERR_MISALIGNED,
               "mean");
  cr_assert_eq(gnk_general_execute(p, xa, ya, NULL, NULL, NULL, NULL, NULL), GNK_OK, "%s", gnk_last_error());
  gnk_plan_destroy(p);
  d.has_mask = 1;
  cr_assert_eq(gnk_general_plan_create(&p, &d, NULL), GNK_OK);
  expect_error(gnk_general_execute(p, xa, ya, NULL, NULL, odd, NULL, NULL), GNK_ERR_MISALIGNED, "mask");
  /* outputs sharing memory with other arguments (the mask read while y is written, say) */
  expect_error(gnk_general_execute(p, xa, ya, NULL, NULL, ya, NULL, NULL), GNK_ERR_OVERLAP, "mask");
  expect_error(gnk_general_execute(p, xa, ya, ya + 4, NULL, xa, NULL, NULL), GNK_ERR_OVERLAP, "gamma");
  expect_error(gnk_general_execute(p, xa, ya, NULL, NULL, xa, xa, m), GNK_ERR_OVERLAP, "mean");
  expect_error(gnk_general_execute(p, xa, ya, NULL, NULL, xa, m, m), GNK_ERR_OVERLAP, "rstd");
  cr_assert_eq(gnk_general_execute(p, xa, ya, NULL, NULL, xa, m, rs), GNK_OK, "%s", gnk_last_error());
  gnk_plan_destroy(p);
  free(xa);
  free(ya);
  free(buf);
  /* status strings of the new codes */
  cr_assert_str_eq(gnk_status_string(GNK_ERR_BAD_RANK), "GNK_ERR_BAD_RANK");
  cr_assert_str_eq(gnk_status_string(GNK_ERR_BAD_AXIS), "GNK_ERR_BAD_AXIS");
  cr_assert_str_eq(gnk_status_string(GNK_ERR_BAD_OPTION), "GNK_ERR_BAD_OPTION");
  cr_assert_str_eq(gnk_status_string(GNK_ERR_MISALIGNED), "GNK_ERR_MISALIGNED");
}

Test(general, one_call_api_with_gelu) {
  gnk_desc pd = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_GELU_ERF, 2, 8, 5, 4);
  float x[80], y1[80], y2[80];
  rng r;
  rng_seed(&r, 8);
  fill_normal(&r, x, 80, 0.0, 1.0);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create(&p, &pd, GNK_ESTIMATE), GNK_OK);
  cr_assert_eq(gnk_execute(p, x, y1, NULL, NULL), GNK_OK);
  cr_assert_eq(gnk_group_norm(&pd, x, y2, NULL, NULL), GNK_OK, "%s", gnk_last_error());
  cr_assert(memcmp(y1, y2, sizeof y1) == 0);
  gnk_plan_destroy(p);
}
