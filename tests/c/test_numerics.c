/*
 * test_numerics.c: accuracy where GroupNorm is numerically hard, on every
 * kernel this CPU can run for the problem and through a planned execute:
 *   - |mean| >> std (the runtime subtracts an f32 mean and corrects the
 *     rounding, so outputs and statistics stay accurate);
 *   - a constant group gives exactly beta;
 *   - a group of more than 2^24 elements (f32 counters would stall);
 *   - NaN / Inf poison only their own group;
 *   - SiLU over z in [-90, 90].
 */
#include "gnk_internal.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(numerics, .fini = leak_check);

/* Judges one output y of problem d; ref_mean/ref_rstd are ref_stats() of x. */
typedef void (*check_fn)(const gnk_desc *d, const float *x, const float *gamma, const float *beta,
                         const double *ref_mean, const double *ref_rstd, const float *y, const char *who);

static int kernel_matches(const gnk_kernel_info *k, const gnk_desc *d) {
  return k->dtype == d->dtype && k->layout == d->layout && k->act == d->act &&
         (k->groups == 0 || (k->groups == d->groups && k->channels == d->c));
}

/* Runs d through a GNK_ESTIMATE plan (filling mean/rstd, N*G each, when not
 * NULL) and through every supported kernel that matches it; check() judges
 * each output. Returns the number of kernels run. */
static int run_everywhere(const gnk_desc *d, const float *x, const float *gamma, const float *beta, float *mean,
                          float *rstd, check_fn check) {
  const int64_t total = desc_numel(d), ng = d->n * d->groups;
  double *rm = malloc((size_t)ng * sizeof *rm), *rr = malloc((size_t)ng * sizeof *rr);
  cr_assert(rm && rr);
  ref_stats(d, x, rm, rr);
  tbuf y = tbuf_new(total, 0);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create(&p, d, GNK_ESTIMATE), GNK_OK, "%s: %s", desc_str(d), gnk_last_error());
  cr_assert_eq(gnk_execute_stats(p, x, y.p, gamma, beta, mean, rstd), GNK_OK, "%s", gnk_last_error());
  char who[160];
  snprintf(who, sizeof who, "plan (%s)", gnk_plan_kernel_name(p));
  check(d, x, gamma, beta, rm, rr, y.p, who);
  cr_expect(tbuf_guards_ok(&y), "%s wrote outside y", who);
  gnk_plan_destroy(p);
  int ran = 0;
  for (int i = 0; i < gnk_kernel_count(); ++i) {
    gnk_kernel_info k;
    cr_assert_eq(gnk_kernel_get_info(i, &k), GNK_OK);
    if (!gnk_kernel_supported(i) || !kernel_matches(&k, d)) continue;
    tbuf_fill_nan(&y);
    cr_assert_eq(gnk_kernel_run(i, d, x, y.p, gamma, beta), GNK_OK, "%s: %s", k.name, gnk_last_error());
    check(d, x, gamma, beta, rm, rr, y.p, k.name);
    cr_expect(tbuf_guards_ok(&y), "%s wrote outside y", k.name);
    ++ran;
  }
  tbuf_free(&y);
  free(rm);
  free(rr);
  return ran;
}

/* Failures are expectations, not assertions: every kernel gets reported, and
 * the test still frees its memory (a clean leak check even when failing). */
static void check_reference(const gnk_desc *d, const float *x, const float *gamma, const float *beta,
                            const double *ref_mean, const double *ref_rstd, const float *y, const char *who) {
  char msg[512];
  const int64_t bad = ref_check(d, x, gamma, beta, ref_mean, ref_rstd, y, msg, sizeof msg);
  cr_expect_eq(bad, 0, "%s: %s", who, msg);
}

static int rel_close(double got, double want) { return fabs(got - want) <= 1e-5 * fabs(want); }

/* Outputs of every path, and the planned statistics, against the reference. */
static void check_accurate(const gnk_desc *d, const float *x, const float *gamma, const float *beta) {
  const int64_t ng = d->n * d->groups;
  float *mean = malloc((size_t)ng * sizeof *mean), *rstd = malloc((size_t)ng * sizeof *rstd);
  double *rm = malloc((size_t)ng * sizeof *rm), *rr = malloc((size_t)ng * sizeof *rr);
  cr_assert(mean && rstd && rm && rr);
  run_everywhere(d, x, gamma, beta, mean, rstd, check_reference);
  ref_stats(d, x, rm, rr);
  for (int64_t i = 0; i < ng; ++i) {
    cr_expect(rel_close(mean[i], rm[i]), "%s: mean[%lld] = %.9g, reference %.9g", desc_str(d), (long long)i,
              (double)mean[i], rm[i]);
    cr_expect(rel_close(rstd[i], rr[i]), "%s: rstd[%lld] = %.9g, reference %.9g", desc_str(d), (long long)i,
              (double)rstd[i], rr[i]);
  }
  free(mean);
  free(rstd);
  free(rm);
  free(rr);
}

/* Shapes for the accuracy tests: a specialized shape (when the list has one),
 * generic ones whose groups span several runtime chunks, and one channel
 * whose whole group is a single long NHWC chunk (per-channel sums over
 * 10000 and 32768 rows). */
static const int64_t SHAPES[][4] = {/* n, c, s, g */ {2, 64, 300, 32}, {2, 320, 37, 32}, {3, 12, 3001, 3},
                                    {1, 1, 10000, 1}, {1, 1, 32768, 1}};

Test(numerics, large_mean_small_std) {
  rng r;
  rng_seed(&r, 1);
  for (int l = 0; l < 2; ++l)
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; ++i) {
      gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_NONE, SHAPES[i][0], SHAPES[i][1], SHAPES[i][2], SHAPES[i][3]);
      const int64_t total = desc_numel(&d);
      float *x = malloc((size_t)total * sizeof *x), *gamma = malloc((size_t)d.c * sizeof *gamma);
      fill_normal(&r, x, total, 1e4, 1e-2);
      fill_uniform(&r, gamma, d.c, 0.5, 2.0);
      check_accurate(&d, x, gamma, NULL);
      free(x);
      free(gamma);
    }
}

/* The channels-last apply takes its one-FMA form for a unit only when every
 * channel's mean was folded into shift (all sub == 0; the templates'
 * all_zero scans sub in blocks of 64). Here all groups are folded (mean ~0,
 * std 1) but one, whose mean is 50 std away: the first group, a group past
 * the first 64 channels, or the last, in shapes of one position (a sample is
 * one row), a few, and many; the output of every kernel and of the plan
 * must still be the reference's (the means near 0 are too small for
 * check_accurate's relative test). */
Test(numerics, one_unfolded_group_is_subtracted) {
  const int64_t shapes[][4] = {/* n, c, s, g */ {2, 320, 37, 32}, {3, 512, 1, 32}, {2, 200, 3, 40}, {1, 1280, 64, 32}};
  rng r;
  rng_seed(&r, 77);
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; ++k)
    for (int where = 0; where < 3; ++where)
      for (int act = 0; act < 2; ++act) {
        gnk_desc d = make_desc(GNK_LAYOUT_NHWC, act ? GNK_ACT_SILU : GNK_ACT_NONE, shapes[k][0], shapes[k][1],
                               shapes[k][2], shapes[k][3]);
        const int64_t total = desc_numel(&d), D = d.c / d.groups;
        const int64_t g = where == 0 ? 0 : where == 1 ? 64 / D + 1 : d.groups - 1;
        float *x = malloc((size_t)total * sizeof *x), *gamma = malloc((size_t)d.c * sizeof *gamma);
        cr_assert(x && gamma);
        fill_normal(&r, x, total, 0.0, 1.0);
        for (int64_t i = 0; i < total; ++i)
          if ((i % d.c) / D == g) x[i] += 50.0f;
        fill_uniform(&r, gamma, d.c, 0.5, 2.0);
        cr_assert_gt(run_everywhere(&d, x, gamma, NULL, NULL, NULL, check_reference), 0);
        free(x);
        free(gamma);
      }
}

/* The statistics are one pass over each chunk, shifted by a sample mean of
 * the chunk (execute.c and the templates: NCHW chunks of 4096 values, the
 * mean of every 256th; NHWC chunks of 512 rows, the mean of the first 8).
 * Here exactly the sampled values are outliers 1e4 std above a large mean,
 * the worst shift there is (its sums cancel most); the kernels must notice
 * and sum those chunks again. */
Test(numerics, outliers_where_the_shift_samples) {
  rng r;
  rng_seed(&r, 7);
  static const int64_t shapes[][4] = {{2, 64, 1024, 32}, {1, 16, 2048, 4}, {1, 1, 8192, 1}};
  for (int l = 0; l < 2; ++l)
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
      gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_NONE, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
      const int64_t total = desc_numel(&d), S = d.spatial, C = d.c, D = C / d.groups;
      float *x = malloc((size_t)total * sizeof *x);
      fill_normal(&r, x, total, 3e3, 1e-1);
      for (int64_t j = 0; j < total; ++j) {
        const int64_t sampled = l == GNK_LAYOUT_NHWC ? ((j / C) % S) % 512 < 8 /* row within its chunk */
                                                     : (((j / S) % C % D) * S + j % S) % 256 == 0; /* value within its group */
        if (sampled) x[j] = 3e3f + 1e3f;
      }
      check_accurate(&d, x, NULL, NULL);
      free(x);
    }
}

/* 40000..40003: exact in f32, mean 40001.5, variance 1.25; the f32 sum of a
 * chunk (~1.6e8 for 4096 values) is far from exact, and the rounding is
 * biased (the low bits are always dropped the same way). */
static void integer_pattern(gnk_layout layout) {
  for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; ++i) {
    gnk_desc d = make_desc(layout, GNK_ACT_NONE, SHAPES[i][0], SHAPES[i][1], SHAPES[i][2], SHAPES[i][3]);
    d.eps = 0.0;
    const int64_t total = desc_numel(&d);
    float *x = malloc((size_t)total * sizeof *x);
    for (int64_t j = 0; j < total; ++j) x[j] = 40000.0f + (float)(j % 4);
    check_accurate(&d, x, NULL, NULL);
    free(x);
  }
}

Test(numerics, large_mean_integer_pattern_nchw) { integer_pattern(GNK_LAYOUT_NCHW); }
Test(numerics, large_mean_integer_pattern_nhwc) { integer_pattern(GNK_LAYOUT_NHWC); }

static void check_is_beta(const gnk_desc *d, const float *x, const float *gamma, const float *beta,
                          const double *ref_mean, const double *ref_rstd, const float *y, const char *who) {
  (void)x;
  (void)gamma;
  (void)ref_mean;
  (void)ref_rstd;
  int64_t bad = 0, first = -1, first_c = 0;
  for (int64_t i = 0; i < desc_numel(d); ++i) {
    const int64_t c = d->layout == GNK_LAYOUT_NCHW ? (i / d->spatial) % d->c : i % d->c;
    if (memcmp(&y[i], &beta[c], sizeof(float)) && bad++ == 0) first = i, first_c = c;
  }
  cr_expect_eq(bad, 0, "%s on %s: constant groups give y[%lld] = %.9g, want beta[%lld] = %.9g exactly (%lld elements differ)",
               who, desc_str(d), (long long)first, first >= 0 ? (double)y[first] : 0.0, (long long)first_c,
               (double)beta[first_c], (long long)bad);
}

Test(numerics, constant_group_gives_beta) {
  /* Every group constant (a different awkward value each), so x - mean is 0
   * exactly and y must be beta bitwise, whatever (finite) gamma is. */
  static const float values[] = {0.1f, 3.3f, -7770.1f, 1e-3f, 12345.678f, 1e6f + 0.5f, -0.7f, 40001.0f};
  rng r;
  rng_seed(&r, 2);
  for (int e = 0; e < 2; ++e) /* eps 1e-5, and 1e-300: rstd 1e150, whose f32 scale was Inf (0 * Inf = NaN) */
  for (int l = 0; l < 2; ++l)
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; ++i) {
      gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_NONE, SHAPES[i][0], SHAPES[i][1], SHAPES[i][2], SHAPES[i][3]);
      d.eps = e ? 1e-300 : 1e-5;
      const int64_t total = desc_numel(&d), D = d.c / d.groups;
      float *x = malloc((size_t)total * sizeof *x), *gamma = malloc((size_t)d.c * sizeof *gamma),
            *beta = malloc((size_t)d.c * sizeof *beta);
      for (int64_t n = 0; n < d.n; ++n)
        for (int64_t c = 0; c < d.c; ++c)
          for (int64_t s = 0; s < d.spatial; ++s) {
            const float v = values[(n * d.groups + c / D) % (sizeof values / sizeof values[0])];
            x[d.layout == GNK_LAYOUT_NCHW ? (n * d.c + c) * d.spatial + s : (n * d.spatial + s) * d.c + c] = v;
          }
      fill_uniform(&r, gamma, d.c, -3.0, 3.0);
      fill_uniform(&r, beta, d.c, 0.25, 2.0); /* nonzero: +0 vs -0 would be a false alarm */
      run_everywhere(&d, x, gamma, beta, NULL, NULL, check_is_beta);
      free(x);
      free(gamma);
      free(beta);
    }
}

Test(numerics, group_over_2_pow_24) {
  /* One group of 2^24 + 3 values: a float count or float sum of ones would
   * stop growing at 2^24. */
  const int64_t S = ((int64_t)1 << 24) + 3;
  rng r;
  rng_seed(&r, 3);
  float *x = malloc((size_t)S * sizeof *x);
  cr_assert_not_null(x);
  fill_uniform(&r, x, S, 1.0 - 1e-3, 1.0 + 1e-3);
  for (int l = 0; l < 2; ++l) {
    gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_NONE, 1, 1, S, 1);
    check_accurate(&d, x, NULL, NULL);
  }
  free(x);
}

/* Puts `bad` into one element of group (n=1, g=3) and checks that only that
 * group turns NaN (the reference gives NaN for it: (x - mean) * NaN rstd). */
static void check_poison(gnk_layout layout, gnk_act act, int64_t s, float bad) {
  gnk_desc d = make_desc(layout, act, 2, 64, s, 8);
  const int64_t total = desc_numel(&d), ng = d.n * d.groups, D = d.c / d.groups;
  rng r;
  rng_seed(&r, 4);
  float *x = malloc((size_t)total * sizeof *x), *mean = malloc((size_t)ng * sizeof *mean),
        *rstd = malloc((size_t)ng * sizeof *rstd);
  fill_normal(&r, x, total, 0.5, 1.5);
  const int64_t n = 1, c = 3 * D + 5, sp = s - 3; /* late in the group: not in its first chunk */
  x[layout == GNK_LAYOUT_NCHW ? (n * d.c + c) * s + sp : (n * s + sp) * d.c + c] = bad;
  const int ran = run_everywhere(&d, x, NULL, NULL, mean, rstd, check_reference);
  cr_assert_gt(ran, 0);
  for (int64_t i = 0; i < ng; ++i) {
    if (i == n * d.groups + 3) cr_assert(isnan(rstd[i]), "%s: poisoned group has rstd %g", desc_str(&d), (double)rstd[i]);
    else cr_assert(isfinite(mean[i]) && isfinite(rstd[i]), "%s: clean group %lld has mean %g rstd %g", desc_str(&d),
                   (long long)i, (double)mean[i], (double)rstd[i]);
  }
  free(x);
  free(mean);
  free(rstd);
}

Test(numerics, nan_and_inf_stay_in_their_group) {
  const float bad[] = {NAN, INFINITY, -INFINITY};
  const int64_t sizes[] = {50, 1000}; /* one chunk; several chunks per group */
  for (int l = 0; l < 2; ++l)
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b)
        for (int k = 0; k < 2; ++k) check_poison((gnk_layout)l, (gnk_act)a, sizes[k], bad[b]);
}

Test(numerics, silu_range) {
  /* beta sweeps [-90, 90] over the channels; gamma alternates small (z stays
   * near beta) and large (z spreads over tens of units), so z covers the
   * whole range including the AVX2/NEON clamps (z > 87, z < -88 / -88.8)
   * and z < -88.7, where exp(-z) overflows f32 (the AVX-512 rcp14 form
   * saturates it at FLT_MAX instead).
   * Every SiLU kernel runs on its own shape (generic ones on C = 64). */
  rng r;
  rng_seed(&r, 6);
  char msg[512];
  int tested = 0;
  for (int i = 0; i < gnk_kernel_count(); ++i) {
    gnk_kernel_info k;
    cr_assert_eq(gnk_kernel_get_info(i, &k), GNK_OK);
    if (k.act != GNK_ACT_SILU || k.dtype != GNK_DTYPE_F32 || !gnk_kernel_supported(i)) continue;
    const int64_t C = k.groups ? k.channels : 64, G = k.groups ? k.groups : 16, S = 33;
    gnk_desc d = make_desc(k.layout, GNK_ACT_SILU, 1, C, S, G);
    float *x = malloc((size_t)(C * S) * sizeof *x), *gamma = malloc((size_t)C * sizeof *gamma),
          *beta = malloc((size_t)C * sizeof *beta);
    fill_normal(&r, x, C * S, 0.0, 1.0);
    for (int64_t c = 0; c < C; ++c) {
      beta[c] = (float)(-90.0 + 180.0 * (double)c / (double)(C - 1));
      gamma[c] = c % 2 ? 40.0f : 0.5f;
    }
    tbuf y = tbuf_new(C * S, 1);
    cr_assert_eq(gnk_kernel_run(i, &d, x, y.p, gamma, beta), GNK_OK, "%s: %s", k.name, gnk_last_error());
    cr_assert_eq(ref_check_all(&d, x, gamma, beta, y.p, msg, sizeof msg), 0, "%s: %s", k.name, msg);
    cr_assert(tbuf_guards_ok(&y));
    tbuf_free(&y);
    free(x);
    free(gamma);
    free(beta);
    ++tested;
  }
  cr_assert_gt(tested, 0, "no SiLU kernel runs on this CPU");
}

/* z = +Inf and z = -Inf (beta = +-Inf, finite x): silu(+Inf) = +Inf and
 * silu(-Inf) = -Inf * sigmoid(-Inf) = NaN, as PyTorch's x * sigmoid(x), on
 * every ISA (AVX2 and NEON once gave -Inf); the other channels stay finite. */
Test(numerics, silu_of_infinities_is_the_same_on_every_isa) {
  rng r;
  rng_seed(&r, 7);
  int tested = 0;
  for (int i = 0; i < gnk_kernel_count(); ++i) {
    gnk_kernel_info k;
    cr_assert_eq(gnk_kernel_get_info(i, &k), GNK_OK);
    if (k.act != GNK_ACT_SILU || k.dtype != GNK_DTYPE_F32 || !gnk_kernel_supported(i)) continue;
    const int64_t C = k.groups ? k.channels : 64, G = k.groups ? k.groups : 16, S = 21;
    gnk_desc d = make_desc(k.layout, GNK_ACT_SILU, 1, C, S, G);
    float *x = malloc((size_t)(C * S) * sizeof *x), *gamma = malloc((size_t)C * sizeof *gamma),
          *beta = malloc((size_t)C * sizeof *beta);
    fill_normal(&r, x, C * S, 0.0, 1.0);
    for (int64_t c = 0; c < C; ++c) {
      gamma[c] = 1.0f;
      beta[c] = c % 3 == 1 ? INFINITY : c % 3 == 2 ? -INFINITY : 0.25f;
    }
    tbuf y = tbuf_new(C * S, 1);
    cr_assert_eq(gnk_kernel_run(i, &d, x, y.p, gamma, beta), GNK_OK, "%s: %s", k.name, gnk_last_error());
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < S; ++p) {
        const float v = y.p[k.layout == GNK_LAYOUT_NCHW ? c * S + p : p * C + c];
        if (c % 3 == 1) cr_assert(isinf(v) && v > 0, "%s: silu(+Inf) = %g at channel %lld", k.name, (double)v, (long long)c);
        else if (c % 3 == 2) cr_assert(isnan(v), "%s: silu(-Inf) = %g at channel %lld", k.name, (double)v, (long long)c);
        else cr_assert(isfinite(v), "%s: y = %g at channel %lld", k.name, (double)v, (long long)c);
      }
    cr_assert(tbuf_guards_ok(&y));
    tbuf_free(&y);
    free(x);
    free(gamma);
    free(beta);
    ++tested;
  }
  cr_assert_gt(tested, 0, "no SiLU kernel runs on this CPU");
}

/* The apply parameters (per channel: scale, folded mean, shift) come from a
 * portable loop or its AVX-512 or AVX2 copy: all must give the same bits, or
 * a plan would compute differently on two machines with the same kernel.
 * Means within and far beyond one std (folded and not), a constant group
 * (fold_limit -1), gamma of both signs and zeros, every length 1..67 (vector
 * bodies and tails). */
Test(numerics, apply_parameters_same_bits_on_every_isa) {
  float gam[67], bet[67], p0[3][67], p1[3][67];
  rng r;
  rng_seed(&r, 99);
  static const double means[] = {0.3, -7.25, 1e4, -3e-3};
  int compared = 0;
  for (size_t m = 0; m < sizeof means / sizeof means[0]; ++m)
    for (int64_t n = 1; n <= 67; ++n) {
      fill_uniform(&r, gam, n, -2.0, 2.0);
      fill_uniform(&r, bet, n, -1.0, 1.0);
      gam[n / 2] = 0.0f;
      const double mean = means[m], rstd = 1.0 / (0.5 + (double)n / 50.0), fold_limit = m == 3 ? -1.0 : 1.0;
      const float sub = (float)mean;
      const double lo = mean - (double)sub;
      cr_assert(gnk_set_params_copy(0, gam, bet, n, mean, lo, sub, rstd, fold_limit, p0[0], p0[1], p0[2]));
      for (int w = 1; w <= 2; ++w) {
        if (!gnk_set_params_copy(w, gam, bet, n, mean, lo, sub, rstd, fold_limit, p1[0], p1[1], p1[2])) continue;
        for (int k = 0; k < 3; ++k)
          cr_assert(!memcmp(p0[k], p1[k], (size_t)n * sizeof(float)),
                    "apply parameter %d of %lld channels (mean %g): the %s copy differs", k, (long long)n, mean,
                    w == 1 ? "AVX-512" : "AVX2");
        ++compared;
      }
    }
  if (!compared) {
    fprintf(stderr, "SKIPPED numerics::apply_parameters_same_bits_on_every_isa: no AVX2 or AVX-512 here, one copy only\n");
    cr_skip_test("no AVX2 or AVX-512 on this CPU: only the portable copy runs");
  }
}

/* Same bits, or both NaN (a NaN's payload is not part of the result). */
static int same_or_both_nan(const float *a, const float *b, int64_t n, int64_t *at) {
  for (int64_t i = 0; i < n; ++i)
    if (memcmp(&a[i], &b[i], sizeof(float)) && !(isnan(a[i]) && isnan(b[i]))) {
      *at = i;
      return 0;
    }
  return 1;
}

/* The merge (group mean and rstd by Chan's formula, then every channel's
 * apply parameters) has a portable copy, on AVX-512 CPUs one that merges
 * eight groups a vector for groups under 16 channels and group by group
 * otherwise, and on AVX2 CPUs one with vector parameters for groups of 8
 * channels and more: all must give the same bits. Group widths around the
 * vector's 8 and the 16 switch, group counts around the batches of 8 and the
 * 4 switch, 1-5 chunks; partials with means near and far from zero (folded
 * and not), constant groups (m2 0, with eps 1e-300: rstd 1e150, the scale's
 * clamp), a NaN and an Inf partial, gamma with zeros and both signs; with
 * eps 0, constant groups get an infinite rstd and group 0 sits exactly on
 * the fold limit (mean 2, variance 4, gamma 1: |mean * scale| = 1). */
Test(numerics, merge_same_bits_on_every_isa) {
  static const int64_t Ds[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 40};
  static const int64_t Gs[] = {1, 3, 4, 7, 8, 9, 17, 33};
  rng r;
  rng_seed(&r, 2026);
  int compared = 0;
  for (size_t di = 0; di < sizeof Ds / sizeof Ds[0]; ++di)
    for (size_t gi = 0; gi < sizeof Gs / sizeof Gs[0]; ++gi)
      for (int64_t nchunk = 1; nchunk <= 5; nchunk += 2)
        for (int special = 0; special < 3; ++special) {
          const int64_t D = Ds[di], G = Gs[gi], C = D * G, c0 = 3;
          gnk_partial *part = malloc((size_t)(G * nchunk) * sizeof *part);
          float *gam = malloc((size_t)(C + c0) * sizeof *gam), *bet = malloc((size_t)(C + c0) * sizeof *bet);
          float *out[3][5];
          for (int w = 0; w < 3; ++w)
            for (int k = 0; k < 5; ++k) out[w][k] = calloc((size_t)C, sizeof(float));
          for (int64_t g = 0; g < G; ++g)
            for (int64_t k = 0; k < nchunk; ++k) {
              gnk_partial *p = &part[g * nchunk + k];
              const double center = g % 3 == 0 ? 1e4 : g % 3 == 1 ? -0.3 : 2.5e-3;
              p->count = (double)(1 + rng_u64(&r) % 97);
              p->mean = center + rng_normal(&r);
              p->m2 = p->count * rng_uniform(&r) * (g % 5 == 2 ? 1e-6 : 3.0);
              if (g % 4 == 1) { /* a constant group: every chunk the same value */
                p->mean = center;
                p->m2 = 0.0;
              }
            }
          if (special == 1 && G > 2) {
            part[1 * nchunk].mean = NAN;
            part[2 * nchunk + nchunk - 1].m2 = INFINITY;
          }
          fill_uniform(&r, gam, C + c0, -2.0, 2.0);
          fill_uniform(&r, bet, C + c0, -1.0, 1.0);
          gam[c0 + C / 2] = 0.0f;
          if (special == 2) {
            for (int64_t k = 0; k < nchunk; ++k) part[k] = (gnk_partial){.mean = 2.0, .m2 = 16.0, .count = 4.0};
            gam[c0] = 1.0f;
          }
          for (int w = 0; w < 3; ++w) {
            const gnk_merge_job j = {.part = part, .nchunk = nchunk, .ngroups = G, .D = D,
                                     .eps = special == 2 ? 0.0 : special ? 1e-300 : 1e-5,
                                     .param_dtype = GNK_DTYPE_F32,
                                     .gamma = gam, .beta = bet, .c0 = c0, .mean = out[w][3], .rstd = out[w][4],
                                     .sub = out[w][0], .scale = out[w][1], .shift = out[w][2]};
            if (!gnk_merge_copy(w, &j)) continue; /* that copy cannot run here */
            for (int k = 0; w > 0 && k < 5; ++k) {
              int64_t at = 0;
              cr_assert(same_or_both_nan(out[0][k], out[w][k], k < 3 ? C : G, &at),
                        "merge output %d (sub scale shift mean rstd) of %lld groups of %lld over %lld chunks%s: "
                        "the %s copy differs at %lld (%a against %a)",
                        k, (long long)G, (long long)D, (long long)nchunk,
                        special == 2 ? ", eps 0" : special ? ", NaN/Inf partials" : "", w == 1 ? "AVX-512" : "AVX2",
                        (long long)at, (double)out[0][k][at], (double)out[w][k][at]);
            }
            if (w > 0) ++compared;
          }
          for (int w = 0; w < 3; ++w)
            for (int k = 0; k < 5; ++k) free(out[w][k]);
          free(part);
          free(gam);
          free(bet);
        }
  if (!compared) {
    fprintf(stderr, "SKIPPED numerics::merge_same_bits_on_every_isa: no AVX2 or AVX-512 here, one copy only\n");
    cr_skip_test("no AVX2 or AVX-512 on this CPU: only the portable copy runs");
  }
}

/* 16-bit gamma / beta (with 16-bit data: the only pairing the API takes),
 * and absent ones, go through the merge's general path (converted to f32,
 * exactly, then the f32 arithmetic); f32 ones through the f32 path (the
 * AVX-512 copy where it runs). Both must give the same bits for the same
 * values: bf16 / f16 parameters against their f32 values on the same data,
 * and NULL gamma / beta against arrays of ones / zeros. Both layouts, group
 * widths 4 (the vector merge), 8, 16 and 40, one position and more. */
Test(numerics, parameter_types_give_the_bits_of_their_f32_values) {
  static const struct { gnk_layout layout; int64_t n, c, s, g; } cases[] = {
      {GNK_LAYOUT_NCHW, 3, 64, 1, 16},  {GNK_LAYOUT_NHWC, 2, 64, 37, 16}, {GNK_LAYOUT_NCHW, 2, 64, 37, 4},
      {GNK_LAYOUT_NHWC, 2, 320, 9, 8},  {GNK_LAYOUT_NCHW, 5, 320, 1, 80},
  };
  static const gnk_dtype types[] = {GNK_DTYPE_BF16, GNK_DTYPE_F16, GNK_DTYPE_F32}; /* f32: parameters absent */
  static const char *names[] = {"bf16", "f16", "absent"};
  rng r;
  rng_seed(&r, 77);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
    for (int pt = 0; pt < 3; ++pt) {
      gnk_desc d = make_desc(cases[i].layout, GNK_ACT_SILU, cases[i].n, cases[i].c, cases[i].s, cases[i].g);
      d.dtype = types[pt];
      const int64_t total = desc_numel(&d), C = d.c, NG = d.n * d.groups;
      tbuf x = tbuf_new_t(d.dtype, total, 0), y[2];
      fill_uniform_t(&r, d.dtype, x.v, total, -3.0, 4.0);
      float *g32 = malloc((size_t)C * sizeof *g32), *b32 = malloc((size_t)C * sizeof *b32), *st[2][2];
      uint16_t *g16 = malloc((size_t)C * sizeof *g16), *b16 = malloc((size_t)C * sizeof *b16);
      for (int64_t c = 0; c < C; ++c) {
        const float gv = (float)(rng_uniform(&r) * 3.0 - 1.0), bv = (float)(rng_uniform(&r) - 0.5);
        g16[c] = pt == 1 ? gnk_f32_to_f16(gv) : gnk_f32_to_bf16(gv);
        b16[c] = pt == 1 ? gnk_f32_to_f16(bv) : gnk_f32_to_bf16(bv);
        g32[c] = pt == 2 ? 1.0f : pt == 1 ? gnk_f16_to_f32(g16[c]) : gnk_bf16_to_f32(g16[c]);
        b32[c] = pt == 2 ? 0.0f : pt == 1 ? gnk_f16_to_f32(b16[c]) : gnk_bf16_to_f32(b16[c]);
      }
      for (int v = 0; v < 2; ++v) {
        y[v] = tbuf_new_t(d.dtype, total, 0);
        st[v][0] = malloc((size_t)NG * sizeof(float));
        st[v][1] = malloc((size_t)NG * sizeof(float));
        gnk_desc dv = d;
        if (v == 1 && pt < 2) dv.param_dtype = d.dtype;
        gnk_plan *p = NULL;
        cr_assert_eq(gnk_plan_create(&p, &dv, GNK_ESTIMATE), GNK_OK, "%s", gnk_last_error());
        const void *gam = v == 0 ? (const void *)g32 : pt == 2 ? NULL : (const void *)g16;
        const void *bet = v == 0 ? (const void *)b32 : pt == 2 ? NULL : (const void *)b16;
        cr_assert_eq(gnk_execute_stats(p, x.v, y[v].v, gam, bet, st[v][0], st[v][1]), GNK_OK, "%s",
                     gnk_last_error());
        gnk_plan_destroy(p);
      }
      cr_assert(!memcmp(y[0].v, y[1].v, (size_t)total * gnk_dtype_size(d.dtype)),
                "%s, %s parameters: y differs from that of their f32 values", desc_str(&d), names[pt]);
      cr_assert(!memcmp(st[0][0], st[1][0], (size_t)NG * sizeof(float)) &&
                    !memcmp(st[0][1], st[1][1], (size_t)NG * sizeof(float)),
                "%s, %s parameters: mean / rstd differ", desc_str(&d), names[pt]);
      for (int v = 0; v < 2; ++v) {
        tbuf_free(&y[v]);
        free(st[v][0]);
        free(st[v][1]);
      }
      tbuf_free(&x);
      free(g32);
      free(b32);
      free(g16);
      free(b16);
    }
}
