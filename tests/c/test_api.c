/*
 * test_api.c: the public API's contract (gnk.h): every error path returns its
 * own status and leaves a gnk_last_error() message naming the problem; empty
 * tensors succeed without writing; status strings, descriptor strings and
 * plan introspection.
 */
#include "test_util.h"
#include "gnk_internal.h" /* gnk_cpu_set_caches */

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(api, .fini = leak_check);

/* The descriptor must be refused by validation and by both plan entry points,
 * and a refused plan_create leaves *plan NULL. */
static void expect_invalid(const gnk_desc *d, gnk_status want, const char *word) {
  expect_error(gnk_desc_validate(d), want, word);
  gnk_plan *p = (gnk_plan *)&p; /* non-NULL garbage: must be reset */
  expect_error(gnk_plan_create(&p, d, GNK_ESTIMATE), want, word);
  cr_assert_null(p, "a failed gnk_plan_create must set *plan = NULL");
  gnk_plan_options o = {GNK_MEASURE | GNK_NO_CACHE, 1, NULL, NULL};
  expect_error(gnk_plan_create_ex(&p, d, &o), want, word);
  cr_assert_null(p);
  float x[4] = {0}, y[4] = {0};
  expect_error(gnk_kernel_run(0, d, x, y, NULL, NULL), want, word);
}

static gnk_desc base(void) { return make_desc(GNK_LAYOUT_NCHW, GNK_ACT_NONE, 2, 8, 16, 4); }

Test(api, null_pointers) {
  gnk_desc d = base();
  gnk_plan *p = NULL;
  expect_error(gnk_desc_validate(NULL), GNK_ERR_NULL_ARGUMENT, "descriptor");
  expect_error(gnk_plan_create(NULL, &d, GNK_ESTIMATE), GNK_ERR_NULL_ARGUMENT, "plan");
  expect_error(gnk_plan_create(&p, NULL, GNK_ESTIMATE), GNK_ERR_NULL_ARGUMENT, "descriptor");
  expect_error(gnk_plan_create_ex(&p, &d, NULL), GNK_ERR_NULL_ARGUMENT, "options");
  expect_error(gnk_execute(NULL, NULL, NULL, NULL, NULL), GNK_ERR_NULL_ARGUMENT, "plan");
  expect_error(gnk_execute_stats(NULL, NULL, NULL, NULL, NULL, NULL, NULL), GNK_ERR_NULL_ARGUMENT, "plan");
  expect_error(gnk_desc_string(NULL, (char[8]){0}, 8), GNK_ERR_NULL_ARGUMENT, "NULL");
  expect_error(gnk_kernel_get_info(0, NULL), GNK_ERR_NULL_ARGUMENT, "info");
  expect_error(gnk_wisdom_export_string(NULL), GNK_ERR_NULL_ARGUMENT, "NULL");
  expect_error(gnk_wisdom_import_string(NULL), GNK_ERR_NULL_ARGUMENT, "NULL");
  expect_error(gnk_wisdom_export_file(NULL), GNK_ERR_NULL_ARGUMENT, "path");
  expect_error(gnk_wisdom_import_file(NULL), GNK_ERR_NULL_ARGUMENT, "path");
  gnk_desc_init(NULL); /* documented as a no-op, must not crash */
  cr_assert_null(gnk_plan_kernel_name(NULL));
  cr_assert_null(gnk_plan_source(NULL));
  cr_assert_null(gnk_plan_desc(NULL));
  gnk_plan_destroy(NULL);

  /* NULL x or y on a non-empty problem. */
  cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE), GNK_OK);
  tbuf x = tbuf_new(desc_numel(&d), 0), y = tbuf_new(desc_numel(&d), 0);
  expect_error(gnk_execute(p, NULL, y.p, NULL, NULL), GNK_ERR_NULL_ARGUMENT, "x");
  expect_error(gnk_execute(p, x.p, NULL, NULL, NULL), GNK_ERR_NULL_ARGUMENT, "y");
  cr_assert(tbuf_all_nan_fill(&y) && tbuf_guards_ok(&y), "a refused execute wrote y");
  gnk_plan_destroy(p);
  tbuf_free(&x);
  tbuf_free(&y);
}

Test(api, bad_enums) {
  gnk_desc d = base();
  d.layout = (gnk_layout)7;
  expect_invalid(&d, GNK_ERR_BAD_LAYOUT, "layout");
  d = base();
  d.layout = (gnk_layout)-1;
  expect_invalid(&d, GNK_ERR_BAD_LAYOUT, "layout");
  d = base();
  d.dtype = (gnk_dtype)3;
  expect_invalid(&d, GNK_ERR_BAD_DTYPE, "dtype");
  d = base();
  d.act = (gnk_act)9;
  expect_invalid(&d, GNK_ERR_BAD_ACTIVATION, "activation");
  /* gamma/beta must be f32 or the input's own dtype. */
  d = base();
  d.param_dtype = GNK_DTYPE_F16;
  expect_invalid(&d, GNK_ERR_BAD_DTYPE, "param");
  d.dtype = GNK_DTYPE_BF16;
  expect_invalid(&d, GNK_ERR_BAD_DTYPE, "param");
  d.param_dtype = (gnk_dtype)7;
  expect_invalid(&d, GNK_ERR_BAD_DTYPE, "dtype");
}

Test(api, bad_groups) {
  gnk_desc d = base();
  d.groups = 0;
  expect_invalid(&d, GNK_ERR_BAD_GROUPS, "groups");
  d.groups = -4;
  expect_invalid(&d, GNK_ERR_BAD_GROUPS, "groups");
  d = base();
  d.groups = 3; /* 8 % 3 != 0 */
  expect_invalid(&d, GNK_ERR_GROUPS_NOT_DIVISOR, "divide");
  d.groups = 16; /* groups > channels */
  expect_invalid(&d, GNK_ERR_GROUPS_NOT_DIVISOR, "groups");
  expect_invalid(&d, GNK_ERR_GROUPS_NOT_DIVISOR, "channels");
}

Test(api, bad_sizes) {
  gnk_desc d = base();
  d.n = -1;
  expect_invalid(&d, GNK_ERR_NEGATIVE_SIZE, "negative");
  d = base();
  d.c = -8;
  expect_invalid(&d, GNK_ERR_NEGATIVE_SIZE, "negative");
  d = base();
  d.spatial = -1;
  expect_invalid(&d, GNK_ERR_NEGATIVE_SIZE, "negative");
  /* Element count overflows int64 (2^70). */
  d = base();
  d.n = (int64_t)1 << 40;
  d.c = (int64_t)1 << 20;
  d.spatial = (int64_t)1 << 10;
  d.groups = 1;
  expect_invalid(&d, GNK_ERR_SIZE_OVERFLOW, "overflow");
  /* Count fits (2^61) but its byte size does not. */
  d.n = (int64_t)1 << 31;
  d.c = (int64_t)1 << 30;
  d.spatial = 1;
  expect_invalid(&d, GNK_ERR_SIZE_OVERFLOW, "overflow");
  d.n = INT64_MAX;
  d.c = 2;
  expect_invalid(&d, GNK_ERR_SIZE_OVERFLOW, "overflow");
  /* An empty tensor whose other sizes overflow: the planner forms c*spatial
   * and n*groups anyway (signed overflow before; found by tests/fuzz/fuzz_desc). */
  d = base();
  d.n = 0;
  d.c = (int64_t)1 << 62;
  d.spatial = 4;
  d.groups = 1;
  expect_invalid(&d, GNK_ERR_SIZE_OVERFLOW, "counted as 1");
  d = base();
  d.n = 65537;
  d.c = 0;
  d.spatial = 3661;
  d.groups = (int64_t)1 << 62; /* divides 0 channels */
  expect_invalid(&d, GNK_ERR_SIZE_OVERFLOW, "n*groups");
  d.groups = 4; /* an empty tensor of 4 empty groups stays valid */
  cr_assert_eq(gnk_desc_validate(&d), GNK_OK, "%s", gnk_last_error());
}

Test(api, bad_eps_and_flags) {
  const double bad[] = {-1.0, -1e-30, NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    gnk_desc d = base();
    d.eps = bad[i];
    expect_invalid(&d, GNK_ERR_BAD_EPS, "eps");
  }
  gnk_desc d = base();
  d.eps = 0.0; /* allowed */
  cr_assert_eq(gnk_desc_validate(&d), GNK_OK);
  d = base();
  d.flags = 1;
  expect_invalid(&d, GNK_ERR_BAD_FLAGS, "flags");

  d = base();
  gnk_plan *p = NULL;
  const unsigned bad_flags[] = {3, 7, 0xff, 0x1000, GNK_MEASURE | 0x200, 0x80000000u};
  for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; ++i) {
    expect_error(gnk_plan_create(&p, &d, bad_flags[i]), GNK_ERR_BAD_FLAGS, "flags");
    cr_assert_null(p);
  }
}

Test(api, bad_threads) {
  gnk_desc d = base();
  gnk_plan *p = NULL;
  const int bad[] = {-1, GNK_MAX_THREADS + 1, -1000000};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    gnk_plan_options o = {GNK_ESTIMATE, bad[i], NULL, NULL};
    expect_error(gnk_plan_create_ex(&p, &d, &o), GNK_ERR_BAD_THREADS, "threads");
    cr_assert_null(p);
  }
  gnk_plan_options o = {GNK_ESTIMATE, GNK_MAX_THREADS, NULL, NULL}; /* the maximum itself is fine */
  cr_assert_eq(gnk_plan_create_ex(&p, &d, &o), GNK_OK, "%s", gnk_last_error());
  cr_assert_eq(gnk_plan_threads(p), GNK_MAX_THREADS);
  gnk_plan_destroy(p);
}

Test(api, wisdom_only_miss) {
  gnk_desc d = base();
  d.spatial = 12347; /* a problem nobody measured */
  gnk_plan *p = NULL;
  expect_error(gnk_plan_create(&p, &d, GNK_WISDOM_ONLY), GNK_ERR_WISDOM_ONLY_MISS, "wisdom");
  cr_assert_null(p);
  /* A failed build is not cached: it fails again the same way. */
  expect_error(gnk_plan_create(&p, &d, GNK_WISDOM_ONLY), GNK_ERR_WISDOM_ONLY_MISS, "wisdom");
}

Test(api, overlap) {
  gnk_desc d = base();
  const int64_t total = desc_numel(&d);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE), GNK_OK);
  tbuf b = tbuf_new(3 * total, 0);
  for (int64_t i = 0; i < b.count; ++i) b.p[i] = (float)i;
  const int64_t shifts[] = {1, -1, total - 1, -(total - 1)};
  for (size_t i = 0; i < sizeof shifts / sizeof shifts[0]; ++i) {
    float *x = b.p + total, *y = x + shifts[i]; /* both inside b */
    expect_error(gnk_execute(p, x, y, NULL, NULL), GNK_ERR_OVERLAP, "overlap");
    expect_error(gnk_kernel_run(0, &d, x, y, NULL, NULL), GNK_ERR_OVERLAP, "overlap");
  }
  int64_t changed = 0;
  for (int64_t i = 0; i < b.count; ++i) changed += b.p[i] != (float)i;
  cr_assert_eq(changed, 0, "a refused execute wrote memory");
  /* Adjacent but disjoint buffers are fine. */
  cr_assert_eq(gnk_execute(p, b.p, b.p + total, NULL, NULL), GNK_OK, "%s", gnk_last_error());
  cr_assert(tbuf_guards_ok(&b));
  gnk_plan_destroy(p);
  tbuf_free(&b);
}

/* An output sharing memory with another argument is refused: the apply
 * parameters of each group are made from gamma/beta just before the group is
 * normalized, and mean/rstd are written before x is read again, so gamma
 * inside y (or mean inside x) gave silently wrong numbers on the previous
 * library (129024 of 131072 outputs wrong for gamma at the start of y). */
Test(api, outputs_aliasing_other_arguments_refused) {
  gnk_desc d = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_NONE, 2, 64, 1024, 32);
  const int64_t total = desc_numel(&d), C = d.c, NG = d.n * d.groups;
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE), GNK_OK);
  tbuf x = tbuf_new(total, 0), y = tbuf_new(total, 0), par = tbuf_new(2 * C + 2 * NG, 0);
  for (int64_t i = 0; i < total; ++i) x.p[i] = (float)(i % 97) * 0.01f;
  float *gam = par.p, *bet = par.p + C, *mean = par.p + 2 * C, *rstd = mean + NG;
  for (int64_t i = 0; i < C; ++i) gam[i] = bet[i] = 1.0f;
  expect_error(gnk_execute(p, x.p, y.p, y.p, bet), GNK_ERR_OVERLAP, "gamma");
  expect_error(gnk_execute(p, x.p, y.p, gam, y.p + total - C), GNK_ERR_OVERLAP, "beta");
  expect_error(gnk_execute(p, x.p, x.p, x.p + 5, bet), GNK_ERR_OVERLAP, "gamma"); /* in place: x is y */
  expect_error(gnk_execute_stats(p, x.p, y.p, gam, bet, x.p + 100, rstd), GNK_ERR_OVERLAP, "mean");
  expect_error(gnk_execute_stats(p, x.p, y.p, gam, bet, mean, y.p), GNK_ERR_OVERLAP, "rstd");
  expect_error(gnk_execute_stats(p, x.p, y.p, gam, bet, mean, mean + 1), GNK_ERR_OVERLAP, "rstd");
  expect_error(gnk_execute_stats(p, x.p, y.p, gam, bet, gam, rstd), GNK_ERR_OVERLAP, "mean");
  cr_assert(tbuf_all_nan_fill(&y), "a refused execute wrote y");
  /* inputs may share memory with each other (gamma == beta, gamma inside x) */
  cr_assert_eq(gnk_execute(p, x.p, y.p, gam, gam), GNK_OK, "%s", gnk_last_error());
  cr_assert_eq(gnk_execute_stats(p, x.p, y.p, x.p, x.p + 7, mean, rstd), GNK_OK, "%s", gnk_last_error());
  cr_assert(tbuf_guards_ok(&y) && tbuf_guards_ok(&par));
  gnk_plan_destroy(p);
  tbuf_free(&x);
  tbuf_free(&y);
  tbuf_free(&par);
}

/* A pointer off its element's alignment (a float * at an odd address, say,
 * which numpy can make with np.frombuffer) is refused by name, on every
 * execute path and before anything is written; on the previous library an f32
 * streaming-store kernel crashed on it (its peel cannot reach a vector
 * boundary from there). One element off (vector-misaligned) stays fine. */
static void check_misaligned(gnk_dtype dt) {
  gnk_desc d = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_SILU, 1, 64, 16384, 32); /* 4 MiB in f32: streaming stores */
  d.dtype = dt;
  const int64_t total = desc_numel(&d);
  const size_t es = dtype_size(dt);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE), GNK_OK, "%s", gnk_last_error());
  unsigned char *xb = calloc((size_t)total * es + 64, 1), *yb = malloc((size_t)total * es + 64);
  float *pb = calloc(4 * 64 + 16, sizeof(float));
  cr_assert(xb && yb && pb);
  memset(yb, 0x5a, (size_t)total * es + 64);
  unsigned char *x = xb + 64 - 1, *y = yb + 64 - 1; /* odd addresses */
  float *gam = pb, *bet = pb + 64, *mean = pb + 128, *rstd = pb + 192;
  float *odd = (float *)((unsigned char *)pb + 4 * 64 * sizeof(float) + 2); /* 2 bytes past a float */
  expect_error(gnk_execute(p, x, yb, NULL, NULL), GNK_ERR_MISALIGNED, "x ");
  expect_error(gnk_execute(p, xb, y, NULL, NULL), GNK_ERR_MISALIGNED, "y ");
  expect_error(gnk_execute(p, xb, yb, odd, bet), GNK_ERR_MISALIGNED, "gamma");
  expect_error(gnk_execute(p, xb, yb, gam, odd), GNK_ERR_MISALIGNED, "beta");
  expect_error(gnk_execute_stats(p, xb, yb, gam, bet, odd, rstd), GNK_ERR_MISALIGNED, "mean");
  expect_error(gnk_execute_stats(p, xb, yb, gam, bet, mean, odd), GNK_ERR_MISALIGNED, "rstd");
  expect_error(gnk_group_norm(&d, x, yb, NULL, NULL), GNK_ERR_MISALIGNED, "x ");
  int generic = -1; /* the portable kernel of this problem: runs everywhere */
  for (int i = 0; i < gnk_kernel_count(); ++i) {
    gnk_kernel_info ki;
    cr_assert_eq(gnk_kernel_get_info(i, &ki), GNK_OK);
    if (ki.isa == GNK_ISA_SCALAR && ki.groups == 0 && ki.dtype == dt && ki.layout == d.layout && ki.act == d.act)
      generic = i;
  }
  cr_assert(generic >= 0);
  expect_error(gnk_kernel_run(generic, &d, xb, y, NULL, NULL), GNK_ERR_MISALIGNED, "y ");
  for (int64_t i = 0; i < total * (int64_t)es + 64; ++i)
    cr_assert_eq(yb[i], 0x5a, "a refused execute wrote y (byte %lld)", (long long)i);
  /* one element off: accepted, the same bits as aligned */
  cr_assert_eq(gnk_execute(p, xb, yb, NULL, NULL), GNK_OK, "%s", gnk_last_error());
  cr_assert_eq(gnk_execute(p, xb + es, yb + es, NULL, NULL), GNK_OK, "%s", gnk_last_error());
  cr_assert(!memcmp(yb, yb + es, (size_t)total * es), "element-misaligned y changed the result");
  gnk_plan_destroy(p);
  free(xb);
  free(yb);
  free(pb);
}

Test(api, misaligned_pointers_refused) {
  check_misaligned(GNK_DTYPE_F32);
  check_misaligned(GNK_DTYPE_F16);
  check_misaligned(GNK_DTYPE_BF16);
}

/* An empty tensor succeeds and writes nothing, whatever the pointers. */
static void check_empty(gnk_layout layout, int64_t n, int64_t c, int64_t s, int64_t g) {
  gnk_desc d = make_desc(layout, GNK_ACT_SILU, n, c, s, g);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE), GNK_OK, "%s: %s", desc_str(&d), gnk_last_error());
  tbuf x = tbuf_new(16, 0), y = tbuf_new(16, 0);
  cr_assert_eq(gnk_execute(p, x.p, y.p, NULL, NULL), GNK_OK, "%s: %s", desc_str(&d), gnk_last_error());
  cr_assert_eq(gnk_execute(p, NULL, NULL, NULL, NULL), GNK_OK, "%s with NULL x/y: %s", desc_str(&d), gnk_last_error());
  cr_assert(tbuf_all_nan_fill(&y) && tbuf_guards_ok(&y), "%s wrote y", desc_str(&d));
  gnk_plan_destroy(p);
  cr_assert_eq(gnk_plan_create(&p, &d, GNK_MEASURE | GNK_NO_CACHE), GNK_OK, "%s: %s", desc_str(&d), gnk_last_error());
  gnk_plan_destroy(p);
  tbuf_free(&x);
  tbuf_free(&y);
}

Test(api, empty_tensors) {
  for (int l = 0; l < 2; ++l) {
    check_empty((gnk_layout)l, 0, 8, 16, 4);
    check_empty((gnk_layout)l, 2, 0, 16, 1);
    check_empty((gnk_layout)l, 2, 8, 0, 4);
  }
  /* Measure mode has nothing to time in an empty tensor: it takes the
   * estimate (it timed no-op runs over 2^31 statistics sets for 40 s) */
  gnk_desc d = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_NONE, (int64_t)1 << 31, 1, 0, 1);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create(&p, &d, GNK_MEASURE | GNK_NO_CACHE), GNK_OK, "%s", gnk_last_error());
  cr_assert_str_eq(gnk_plan_source(p), "estimate");
  cr_assert_eq(gnk_execute(p, NULL, NULL, NULL, NULL), GNK_OK, "%s", gnk_last_error());
  gnk_plan_destroy(p);
}

Test(api, empty_spatial_stats) {
  /* Empty groups: like PyTorch, mean 0 and rstd NaN (N*G values each). */
  for (int l = 0; l < 2; ++l) {
    gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_NONE, 3, 8, 0, 4);
    gnk_plan *p = NULL;
    cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE), GNK_OK);
    tbuf mean = tbuf_new(12, 0), rstd = tbuf_new(12, 1);
    float x = 1.0f, y = 2.0f;
    cr_assert_eq(gnk_execute_stats(p, &x, &y, NULL, NULL, mean.p, rstd.p), GNK_OK, "%s", gnk_last_error());
    for (int i = 0; i < 12; ++i) {
      cr_assert_eq(mean.p[i], 0.0f, "mean[%d] = %g", i, (double)mean.p[i]);
      cr_assert(isnan(rstd.p[i]), "rstd[%d] = %g", i, (double)rstd.p[i]);
    }
    cr_assert(tbuf_guards_ok(&mean) && tbuf_guards_ok(&rstd));
    cr_assert(x == 1.0f && y == 2.0f);
    /* Either statistics pointer may be NULL. */
    cr_assert_eq(gnk_execute_stats(p, &x, &y, NULL, NULL, NULL, rstd.p), GNK_OK);
    cr_assert_eq(gnk_execute_stats(p, &x, &y, NULL, NULL, mean.p, NULL), GNK_OK);
    /* The statistics written here are checked as on any other size (the
     * previous library stored into a misaligned or overlapping mean/rstd). */
    tbuf_fill_nan(&mean);
    tbuf_fill_nan(&rstd);
    float *odd = (float *)((unsigned char *)mean.p + 2);
    expect_error(gnk_execute_stats(p, &x, &y, NULL, NULL, odd, rstd.p), GNK_ERR_MISALIGNED, "mean");
    expect_error(gnk_execute_stats(p, &x, &y, NULL, NULL, mean.p, mean.p + 11), GNK_ERR_OVERLAP, "rstd");
    cr_assert(tbuf_all_nan_fill(&mean) && tbuf_all_nan_fill(&rstd), "a refused execute wrote the statistics");
    gnk_plan_destroy(p);
    tbuf_free(&mean);
    tbuf_free(&rstd);
  }
}

Test(api, status_strings) {
  for (int i = 0; i < GNK_STATUS_COUNT_; ++i) {
    const char *s = gnk_status_string((gnk_status)i);
    cr_assert_not_null(s, "status %d has no string", i);
    cr_assert_gt(strlen(s), 0);
    for (int j = 0; j < i; ++j)
      cr_assert_str_neq(s, gnk_status_string((gnk_status)j), "statuses %d and %d share the string %s", i, j, s);
  }
  cr_assert_str_eq(gnk_status_string(GNK_OK), "GNK_OK");
  cr_assert_not_null(gnk_status_string(GNK_STATUS_COUNT_));
  cr_assert_not_null(gnk_status_string((gnk_status)-1));
  cr_assert_str_eq(gnk_version(), GNK_VERSION_STRING);
  for (int i = GNK_ISA_SCALAR; i <= GNK_ISA_AVX512; ++i) cr_assert_not_null(gnk_isa_name((gnk_isa)i));
  cr_assert_str_neq(gnk_isa_name(gnk_cpu_isa()), "unknown");
}

Test(api, desc_init_and_string) {
  gnk_desc d;
  memset(&d, 0xab, sizeof d);
  gnk_desc_init(&d);
  cr_assert(d.layout == GNK_LAYOUT_NCHW && d.dtype == GNK_DTYPE_F32 && d.param_dtype == GNK_DTYPE_F32 && d.n == 1 &&
            d.c == 1 && d.spatial == 1 && d.groups == 1 && d.eps == 1e-5 && d.act == GNK_ACT_NONE && d.flags == 0);
  cr_assert_eq(gnk_desc_validate(&d), GNK_OK);

  char buf[128];
  d = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_SILU, 2, 320, 4096, 32);
  cr_assert_eq(gnk_desc_string(&d, buf, sizeof buf), GNK_OK);
  cr_assert_str_eq(buf, "f32_nchw_silu_n2c320s4096g32_eps1e-05"); /* the example of gnk.h */
  d = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_RELU, 1, 64, 7, 8);
  d.eps = 1e-6;
  cr_assert_eq(gnk_desc_string(&d, buf, sizeof buf), GNK_OK);
  cr_assert_str_eq(buf, "f32_nhwc_relu_n1c64s7g8_eps1e-06");
  d = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_NONE, 1, 1, 1, 1);
  d.dtype = GNK_DTYPE_F16; /* 16-bit data with f32 gamma/beta is marked "p32" */
  cr_assert_eq(gnk_desc_string(&d, buf, sizeof buf), GNK_OK);
  cr_assert_str_eq(buf, "f16p32_nchw_none_n1c1s1g1_eps1e-05");
  d.param_dtype = GNK_DTYPE_F16;
  cr_assert_eq(gnk_desc_string(&d, buf, sizeof buf), GNK_OK);
  cr_assert_str_eq(buf, "f16_nchw_none_n1c1s1g1_eps1e-05");
  d = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_NONE, 1, 1, 1, 1);
  cr_assert_eq(gnk_desc_string(&d, buf, sizeof buf), GNK_OK);
  cr_assert_str_eq(buf, "f32_nchw_none_n1c1s1g1_eps1e-05");
  /* Too small a buffer fails and stays NUL-terminated within its size. */
  memset(buf, 'z', sizeof buf);
  cr_assert_neq(gnk_desc_string(&d, buf, 8), GNK_OK);
  cr_assert_eq(buf[8], 'z', "gnk_desc_string wrote past its buffer");
  cr_assert_eq(buf[7], '\0');
}

Test(api, plan_introspection_and_source) {
  gnk_desc d = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_SILU, 2, 64, 37, 8);
  gnk_plan *p1 = NULL, *p2 = NULL, *p3 = NULL;
  const size_t before = gnk_plan_cache_size();
  cr_assert_eq(gnk_plan_create(&p1, &d, GNK_ESTIMATE), GNK_OK, "%s", gnk_last_error());
  cr_assert_not_null(gnk_plan_kernel_name(p1));
  cr_assert_str_eq(gnk_plan_source(p1), "estimate");
  cr_assert_eq(gnk_plan_cache_size(), before + 1);
  cr_assert_eq(gnk_plan_create(&p2, &d, GNK_ESTIMATE), GNK_OK);
  cr_assert_str_eq(gnk_plan_source(p2), "cache");
  cr_assert_str_eq(gnk_plan_kernel_name(p2), gnk_plan_kernel_name(p1));
  cr_assert_eq(gnk_plan_cache_size(), before + 1);
  cr_assert_eq(gnk_plan_create(&p3, &d, GNK_MEASURE | GNK_NO_CACHE), GNK_OK, "%s", gnk_last_error());
  cr_assert_str_eq(gnk_plan_source(p3), "measured");
  cr_assert_eq(gnk_plan_cache_size(), before + 1, "GNK_NO_CACHE must not add to the cache");
  cr_assert_gt(gnk_wisdom_size(), 0, "a measured plan records wisdom");

  /* gnk_plan_desc is a copy of the descriptor; the plan's kernel matches it. */
  const gnk_desc *pd = gnk_plan_desc(p1);
  cr_assert(pd && pd != &d && !memcmp(pd, &d, sizeof d));
  cr_assert_geq(gnk_plan_threads(p1), 1);
  int found = 0;
  for (int i = 0; i < gnk_kernel_count(); ++i) {
    gnk_kernel_info info;
    cr_assert_eq(gnk_kernel_get_info(i, &info), GNK_OK);
    if (strcmp(info.name, gnk_plan_kernel_name(p3))) continue;
    found = 1;
    cr_assert(info.layout == d.layout && info.act == d.act && gnk_kernel_supported(i));
  }
  cr_assert(found, "plan kernel %s is not in the registry", gnk_plan_kernel_name(p3));

  /* The plan computes the right thing. */
  const int64_t total = desc_numel(&d);
  tbuf x = tbuf_new(total, 0), y = tbuf_new(total, 1);
  rng r;
  rng_seed(&r, 5);
  fill_normal(&r, x.p, total, 0.5, 2.0);
  char msg[512];
  cr_assert_eq(gnk_execute(p3, x.p, y.p, NULL, NULL), GNK_OK);
  cr_assert_eq(ref_check_all(&d, x.p, NULL, NULL, y.p, msg, sizeof msg), 0, "%s", msg);
  cr_assert(tbuf_guards_ok(&y));

  gnk_plan_cache_clear();
  cr_assert_eq(gnk_plan_cache_size(), 0);
  gnk_plan_destroy(p1);
  gnk_plan_destroy(p2);
  gnk_plan_destroy(p3);
  tbuf_free(&x);
  tbuf_free(&y);
}

/* Channels-first with one position per channel (rank-2 input (N, C)) has
 * the layout of channels-last, x[n][c]: plans run it with a channels-last
 * kernel (planner.c as_run), while gnk_plan_desc reports the caller's
 * descriptor. Estimate, measure and the one-shot call must give the bits of
 * the channels-last plan, and the reference's values; a 1x1 image with
 * batch and the SiLU too. */
Test(api, channels_first_with_one_position_runs_channels_last) {
  const int64_t shapes[][3] = {/* n, c, g */ {5, 64, 8}, {3, 512, 32}, {2, 70, 7}};
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; ++k)
    for (int act = 0; act < 2; ++act) {
      const gnk_act a = act ? GNK_ACT_SILU : GNK_ACT_NONE;
      gnk_desc d = make_desc(GNK_LAYOUT_NCHW, a, shapes[k][0], shapes[k][1], 1, shapes[k][2]);
      gnk_desc last = d;
      last.layout = GNK_LAYOUT_NHWC;
      const int64_t total = desc_numel(&d);
      tbuf x = tbuf_new(total, 0), g = tbuf_new(d.c, 0), y = tbuf_new(total, 1), want = tbuf_new(total, 0);
      rng r;
      rng_seed(&r, 40 + (uint64_t)k);
      fill_normal(&r, x.p, total, 0.5, 2.0);
      fill_uniform(&r, g.p, d.c, -2.0, 2.0);
      gnk_plan *pl = NULL;
      cr_assert_eq(gnk_plan_create(&pl, &last, GNK_ESTIMATE), GNK_OK, "%s", gnk_last_error());
      cr_assert_eq(gnk_execute(pl, x.p, want.p, g.p, NULL), GNK_OK, "%s", gnk_last_error());
      for (int mode = 0; mode < 3; ++mode) {
        tbuf_fill_nan(&y);
        if (mode == 2) {
          cr_assert_eq(gnk_group_norm(&d, x.p, y.p, g.p, NULL), GNK_OK, "%s", gnk_last_error());
        } else {
          gnk_plan *p = NULL;
          cr_assert_eq(gnk_plan_create(&p, &d, mode ? GNK_MEASURE | GNK_NO_CACHE : GNK_ESTIMATE), GNK_OK, "%s",
                       gnk_last_error());
          cr_assert(strstr(gnk_plan_kernel_name(p), "_nhwc_"), "%s planned %s", desc_str(&d), gnk_plan_kernel_name(p));
          cr_assert(!memcmp(gnk_plan_desc(p), &d, sizeof d), "gnk_plan_desc must be the caller's descriptor");
          if (mode == 0) cr_assert_str_eq(gnk_plan_kernel_name(p), gnk_plan_kernel_name(pl));
          cr_assert_eq(gnk_execute(p, x.p, y.p, g.p, NULL), GNK_OK, "%s", gnk_last_error());
          if (mode == 0) cr_assert(!memcmp(y.p, want.p, (size_t)total * sizeof(float)), "%s: not the channels-last bits",
                                   desc_str(&d));
          gnk_plan_destroy(p);
        }
        char msg[512];
        cr_assert_eq(ref_check_all(&d, x.p, g.p, NULL, y.p, msg, sizeof msg), 0, "%s mode %d: %s", desc_str(&d), mode,
                     msg);
        cr_assert(tbuf_guards_ok(&y));
      }
      gnk_plan_destroy(pl);
      tbuf_free(&x);
      tbuf_free(&g);
      tbuf_free(&y);
      tbuf_free(&want);
    }
}

Test(api, kernel_introspection) {
  const int n = gnk_kernel_count();
  cr_assert_gt(n, 0);
  gnk_kernel_info info;
  expect_error(gnk_kernel_get_info(-1, &info), GNK_ERR_NO_KERNEL, "kernel");
  expect_error(gnk_kernel_get_info(n, &info), GNK_ERR_NO_KERNEL, "kernel");
  cr_assert_null(gnk_kernel_name(-1));
  cr_assert_null(gnk_kernel_name(n));
  cr_assert_eq(gnk_kernel_supported(-1), 0);
  cr_assert_eq(gnk_kernel_supported(n), 0);
  gnk_desc d = base();
  float x[256], y[256];
  expect_error(gnk_kernel_run(-1, &d, x, y, NULL, NULL), GNK_ERR_NO_KERNEL, "kernel");
  expect_error(gnk_kernel_run(n, &d, x, y, NULL, NULL), GNK_ERR_NO_KERNEL, "kernel");
  for (int i = 0; i < n; ++i) {
    cr_assert_eq(gnk_kernel_get_info(i, &info), GNK_OK);
    cr_assert_str_eq(info.name, gnk_kernel_name(i));
    cr_assert((info.groups == 0) == (info.channels == 0), "%s: groups and channels are baked in together", info.name);
    cr_assert(info.groups == 0 || info.channels % info.groups == 0, "%s", info.name);
    cr_assert_eq(gnk_kernel_supported(i), info.isa <= gnk_cpu_isa(), "%s", info.name);
  }
}

/* GNK_ESTIMATE: streaming stores for tensors larger than L2 can keep
 * (planner.c, 2 MiB), regular stores below; both layouts have streaming
 * variants for the specialized SD shapes on AVX2 and AVX-512. */
Test(api, estimate_streams_only_big_tensors) {
  if (gnk_cpu_isa() < GNK_ISA_AVX2) {
    /* Criterion 2.4 counts a cr_log_warn as a failure in its exit status: skip loudly instead. */
    fprintf(stderr, "SKIPPED api::estimate_streams_only_big_tensors: %s has no streaming-store kernels\n",
            gnk_isa_name(gnk_cpu_isa()));
    cr_skip_test("%s has no streaming-store kernels", gnk_isa_name(gnk_cpu_isa()));
  }
  for (int l = 0; l < 2; ++l) {
    static const int64_t spatial[2] = {64, 4096}; /* 160 KiB, 10 MiB */
    for (int b = 0; b < 2; ++b) {
      gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_SILU, 2, 320, spatial[b], 32);
      gnk_plan *p = NULL;
      cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE | GNK_NO_CACHE), GNK_OK, "%s", gnk_last_error());
      const int nt = strstr(gnk_plan_kernel_name(p), "_nt") != NULL;
      cr_expect_eq(nt, b, "%s: estimate picked %s", desc_str(&d), gnk_plan_kernel_name(p));
      gnk_plan_destroy(p);
    }
  }
}

/* The schedule estimate mode picks (gnk_plan_schedule): fused for NCHW
 * groups over gnk_l2_unit_bytes() (half of L2), for plain GN and GN+ReLU on
 * NCHW tensors that fit in L2, and for channels-last; units for other NCHW
 * problems; phases when there are too few units for the threads; "general"
 * for a general plan. The rules follow the cache sizes, so each case pins
 * them: 2 MiB of L2 (the Intel machine they were tuned on) and 1 MiB (AMD
 * Zen 4), where the 1.5 MiB tensor no longer fits and a 768 KiB group no
 * longer fits beside its successor. The bits never depend on it
 * (threads::fused_schedule_bitwise_identical). */
Test(api, estimate_schedule) {
  static const struct {
    size_t l2;
    gnk_layout layout;
    gnk_act act;
    int64_t n, c, s, g;
    int threads;
    const char *want;
  } cases[] = {
      {2u << 20, GNK_LAYOUT_NCHW, GNK_ACT_NONE, 2, 1280, 64, 32, 1, "fused"}, /* 640 KiB */
      {2u << 20, GNK_LAYOUT_NCHW, GNK_ACT_RELU, 1, 512, 784, 32, 1, "fused"},  /* 1.5 MiB */
      {1u << 20, GNK_LAYOUT_NCHW, GNK_ACT_RELU, 1, 512, 784, 32, 1, "units"},  /* 1.5 MiB > L2 */
      {1u << 20, GNK_LAYOUT_NCHW, GNK_ACT_NONE, 2, 1280, 64, 32, 1, "fused"},  /* 640 KiB */
      {2u << 20, GNK_LAYOUT_NCHW, GNK_ACT_NONE, 2, 320, 4096, 32, 1, "units"}, /* 10 MiB */
      {2u << 20, GNK_LAYOUT_NCHW, GNK_ACT_SILU, 2, 1280, 64, 32, 1, "units"},
      {2u << 20, GNK_LAYOUT_NCHW, GNK_ACT_SILU, 2, 320, 4096, 32, 1, "units"},
      {2u << 20, GNK_LAYOUT_NCHW, GNK_ACT_SILU, 1, 8, 147456, 4, 1, "fused"}, /* 1.1 MiB groups */
      {2u << 20, GNK_LAYOUT_NCHW, GNK_ACT_SILU, 1, 8, 98304, 4, 1, "units"},  /* 768 KiB groups */
      {1u << 20, GNK_LAYOUT_NCHW, GNK_ACT_SILU, 1, 8, 98304, 4, 1, "fused"},  /* 768 KiB > L2 / 2 */
      {2u << 20, GNK_LAYOUT_NHWC, GNK_ACT_SILU, 2, 320, 4096, 32, 1, "fused"},
      {2u << 20, GNK_LAYOUT_NCHW, GNK_ACT_SILU, 2, 320, 4096, 32, 2, "units"},
      {2u << 20, GNK_LAYOUT_NCHW, GNK_ACT_NONE, 1, 64, 64, 2, 2, "phases"}, /* 2 units for 2 threads */
      {2u << 20, GNK_LAYOUT_NCHW, GNK_ACT_GELU_ERF, 2, 64, 64, 32, 1, "general"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    gnk_cpu_set_caches(cases[i].l2, 0);
    gnk_desc d = make_desc(cases[i].layout, cases[i].act, cases[i].n, cases[i].c, cases[i].s, cases[i].g);
    gnk_plan_options o = {GNK_ESTIMATE | GNK_NO_CACHE, cases[i].threads, NULL, NULL};
    gnk_plan *p = NULL;
    cr_assert_eq(gnk_plan_create_ex(&p, &d, &o), GNK_OK, "%s", gnk_last_error());
    cr_expect_str_eq(gnk_plan_schedule(p), cases[i].want, "%s threads=%d L2 %zu KiB: estimate scheduled %s",
                     desc_str(&d), cases[i].threads, cases[i].l2 >> 10, gnk_plan_schedule(p));
    gnk_plan_destroy(p);
  }
  cr_expect_null(gnk_plan_schedule(NULL));
}

/* Estimate mode runs channels-last samples over half of L2 (1 MiB here) in
 * channel blocks of at most 256 KiB where block kernels are listed (planner.c estimate_kernel):
 * 2x1280x16x16 in blocks of 160 channels (the SD UNet spec lists g4c160 and
 * g2c80 for it, for AVX2 and AVX-512); 2x320x64x64, whose blocks would be
 * over 256 KiB, and 2x1280x8x8, whose samples fit, stay whole. The blocked
 * plan computes the reference's values. */
Test(api, estimate_channel_blocks) {
  const gnk_isa isa = gnk_cpu_isa();
  const char *kisa = isa == GNK_ISA_AVX2 ? "avx2" : isa == GNK_ISA_AVX512 || isa == GNK_ISA_AVX512_BF16 ? "avx512" : NULL;
  if (!kisa) {
    fprintf(stderr, "SKIPPED api::estimate_channel_blocks: block kernels are listed for AVX2/AVX-512 only, this CPU runs %s\n",
            gnk_isa_name(isa));
    cr_skip_test("no block kernels for ISA %s", gnk_isa_name(isa));
  }
  static const struct { int64_t n, c, s; int threads; int64_t want_channels; } cases[] = {
      {2, 1280, 256, 1, 160}, {2, 1280, 256, 2, 160}, {2, 320, 4096, 1, 320}, {2, 1280, 64, 1, 1280}};
  gnk_cpu_set_caches((size_t)2 << 20, 0); /* the rule's home: a 2 MiB L2 (blocks are for samples over L2 / 2) */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    gnk_desc d = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_SILU, cases[i].n, cases[i].c, cases[i].s, 32);
    const int64_t total = desc_numel(&d);
    tbuf x = tbuf_new(total, 0), y = tbuf_new(total, 0);
    float *gamma = malloc((size_t)d.c * sizeof(float)), *beta = malloc((size_t)d.c * sizeof(float));
    cr_assert(gamma && beta);
    rng r;
    rng_seed(&r, 300 + i);
    fill_uniform(&r, x.p, total, -2.0, 3.0);
    fill_uniform(&r, gamma, d.c, 0.5, 1.5);
    fill_uniform(&r, beta, d.c, -0.5, 0.5);
    gnk_plan_options o = {GNK_ESTIMATE | GNK_NO_CACHE, cases[i].threads, NULL, NULL};
    gnk_plan *plan = NULL;
    cr_assert_eq(gnk_plan_create_ex(&plan, &d, &o), GNK_OK, "%s", gnk_last_error());
    char want[96];
    snprintf(want, sizeof want, "gnk_f32_nhwc_gnsilu_g%lldc%lld__%s_u4", (long long)(cases[i].want_channels * 32 / cases[i].c),
             (long long)cases[i].want_channels, kisa);
    cr_expect(!strncmp(gnk_plan_kernel_name(plan), want, strlen(want)), "%s threads=%d: estimate chose %s, want %s*",
              desc_str(&d), cases[i].threads, gnk_plan_kernel_name(plan), want);
    cr_expect_str_eq(gnk_plan_schedule(plan), "fused", "%s threads=%d: schedule %s", desc_str(&d), cases[i].threads,
                     gnk_plan_schedule(plan));
    cr_assert_eq(gnk_execute(plan, x.p, y.p, gamma, beta), GNK_OK, "%s", gnk_last_error());
    char msg[512];
    cr_assert_eq(ref_check_all(&d, x.p, gamma, beta, y.p, msg, sizeof msg), 0, "%s: %s", desc_str(&d), msg);
    cr_assert(tbuf_guards_ok(&y));
    tbuf_free(&x);
    tbuf_free(&y);
    free(gamma);
    free(beta);
    gnk_plan_destroy(plan);
  }
}

/* Estimate mode never takes a streaming-store kernel for a tensor L2 holds
 * (planner.c estimate_rank), even where the only specialized kernels of the
 * shape stream: 4096x64 g4 matched the channels-last block kernel g4c64,
 * listed only with streaming stores, and ran 2.0x the generic kernel's time.
 * The generic kernels never stream, so a regular-store candidate always
 * exists. A 2 MiB L2 for every case; the last one (8 MiB) must stream where
 * a streaming kernel is listed for it. */
Test(api, estimate_streams_only_beyond_l2) {
  static const struct { gnk_layout layout; gnk_act act; int64_t n, c, s, g; int big; } cases[] = {
      {GNK_LAYOUT_NCHW, GNK_ACT_NONE, 4096, 64, 1, 4, 0},   /* one position: runs channels-last */
      {GNK_LAYOUT_NHWC, GNK_ACT_NONE, 4096, 64, 1, 4, 0},
      {GNK_LAYOUT_NHWC, GNK_ACT_SILU, 2, 1280, 64, 32, 0},
      {GNK_LAYOUT_NCHW, GNK_ACT_SILU, 2, 1280, 64, 32, 0},
      {GNK_LAYOUT_NHWC, GNK_ACT_RELU, 1, 64, 3136, 32, 0},
      {GNK_LAYOUT_NCHW, GNK_ACT_SILU, 2, 320, 4096, 32, 1}, /* 10 MiB */
  };
  gnk_cpu_set_caches((size_t)2 << 20, 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    gnk_desc d = make_desc(cases[i].layout, cases[i].act, cases[i].n, cases[i].c, cases[i].s, cases[i].g);
    gnk_plan_options o = {GNK_ESTIMATE | GNK_NO_CACHE, 1, NULL, NULL};
    gnk_plan *p = NULL;
    cr_assert_eq(gnk_plan_create_ex(&p, &d, &o), GNK_OK, "%s", gnk_last_error());
    const char *k = gnk_plan_kernel_name(p);
    const int nt = strstr(k, "_nt") != NULL;
    if (!cases[i].big) cr_expect(!nt, "%s (L2 holds it): estimate took the streaming-store %s", desc_str(&d), k);
    else if (gnk_cpu_isa() >= GNK_ISA_AVX2 && gnk_cpu_isa() <= GNK_ISA_AVX512_BF16)
      cr_expect(nt, "%s (beyond L2): estimate took the regular-store %s", desc_str(&d), k);
    gnk_plan_destroy(p);
  }
}

/* ---- cache sizes (gnk_cpu_cache_bytes) ---- */
/* What Linux says of cpu0's level-`level` data/unified cache, or 0. */
static size_t sysfs_cache(int level) {
  for (int i = 0; i < 16; ++i) {
    char path[96], buf[32];
    int lv = -1;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    if (fscanf(f, "%d", &lv) != 1) lv = -1;
    fclose(f);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
    f = fopen(path, "r");
    const int instr = f && fgets(buf, sizeof buf, f) && !strncmp(buf, "Instruction", 11);
    if (f) fclose(f);
    if (lv != level || instr) continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    f = fopen(path, "r");
    unsigned long kb = 0;
    char unit = 0;
    const int got = f ? fscanf(f, "%lu%c", &kb, &unit) : 0;
    if (f) fclose(f);
    if (got >= 1) return unit == 'M' ? (size_t)kb << 20 : unit == 'K' ? (size_t)kb << 10 : (size_t)kb;
  }
  return 0;
}

/* The detected sizes: what sysfs says where it says it, else plausible
 * (64 KiB .. 64 MiB of L2, an L3 at least as large); other levels 0. */
Test(api, cache_sizes) {
  const size_t l2 = gnk_cpu_cache_bytes(2), l3 = gnk_cpu_cache_bytes(3);
  fprintf(stderr, "api::cache_sizes: L2 %zu KiB, L3 %zu KiB (sysfs: %zu / %zu KiB)\n", l2 >> 10, l3 >> 10,
          sysfs_cache(2) >> 10, sysfs_cache(3) >> 10);
  if (sysfs_cache(2)) cr_expect_eq(l2, sysfs_cache(2), "L2 %zu, sysfs %zu", l2, sysfs_cache(2));
  if (sysfs_cache(3)) cr_expect_eq(l3, sysfs_cache(3), "L3 %zu, sysfs %zu", l3, sysfs_cache(3));
  cr_expect(l2 >= (64u << 10) && l2 <= (64u << 20), "L2 %zu bytes", l2);
  cr_expect_geq(l3, l2);
  cr_expect_eq(gnk_cpu_cache_bytes(1), 0);
  cr_expect_eq(gnk_cpu_cache_bytes(4), 0);
  cr_expect_eq(gnk_cpu_cache_bytes(-1), 0);
}

/* GNK_CACHE_L2 / GNK_CACHE_L3 replace the detected sizes (read once, at the
 * library's first use in this test's own process); a value that is not a
 * size is ignored with a warning. The schedules follow: a 1.5 MiB GN+ReLU
 * tensor is fused (it fits in a 3 MiB L2). */
Test(api, cache_sizes_from_environment) {
  setenv("GNK_CACHE_L2", "3M", 1);
  setenv("GNK_CACHE_L3", "12 parsecs", 1);
  const size_t want_l3 = sysfs_cache(3);
  cr_assert_eq(gnk_cpu_cache_bytes(2), (size_t)3 << 20, "GNK_CACHE_L2=3M gave %zu", gnk_cpu_cache_bytes(2));
  if (want_l3) cr_expect_eq(gnk_cpu_cache_bytes(3), want_l3, "a bad GNK_CACHE_L3 must leave the detected L3");
  gnk_desc d = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_RELU, 1, 512, 784, 32);
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE | GNK_NO_CACHE), GNK_OK, "%s", gnk_last_error());
  cr_expect_str_eq(gnk_plan_schedule(p), "fused");
  gnk_plan_destroy(p);
  gnk_cpu_set_caches((size_t)1 << 20, 0); /* the tests' setter, on top: now it no longer fits */
  cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE | GNK_NO_CACHE), GNK_OK, "%s", gnk_last_error());
  cr_expect_str_eq(gnk_plan_schedule(p), "units");
  gnk_plan_destroy(p);
}

/* The SiLU form estimate mode takes (gnk_cpu_silu_div): the *_div kernels
 * (z / (1 + 2^t) by vdivps) on AMD cores and Intel Sapphire / Emerald Rapids
 * (family 6, models 143 and 207), the rcp14 + Newton ones elsewhere;
 * GNK_SILU=div|rcp overrides, read once at the library's first use in this
 * test's own process. Measure mode times both forms. */
static void expect_silu_form(int want_div, const char *why) {
  if (gnk_cpu_isa() < GNK_ISA_AVX2) {
    /* Not cr_log_warn: Criterion 2.4 counts it as a failure in its exit status. */
    fprintf(stderr, "SKIPPED api::silu_form_*: %s has no *_div kernels (AVX2 and AVX-512 only)\n",
            gnk_isa_name(gnk_cpu_isa()));
    cr_skip_test("%s has no *_div kernels", gnk_isa_name(gnk_cpu_isa()));
  }
  cr_assert_eq(gnk_cpu_silu_div(), want_div, "%s", why);
  for (int l = 0; l < 2; ++l) {
    gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_SILU, 2, 1280, 64, 32); /* a spec problem: specialized kernels */
    gnk_plan *p = NULL;
    cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE | GNK_NO_CACHE), GNK_OK, "%s", gnk_last_error());
    const char *k = gnk_plan_kernel_name(p);
    cr_expect_eq(strstr(k, "_div") != NULL, want_div, "%s: estimate picked %s (%s)", desc_str(&d), k, why);
    cr_expect(strstr(k, "generic") == NULL, "%s: estimate picked %s", desc_str(&d), k);
    gnk_plan_destroy(p);
    d.act = GNK_ACT_NONE; /* no SiLU, no *_div kernel */
    cr_assert_eq(gnk_plan_create(&p, &d, GNK_ESTIMATE | GNK_NO_CACHE), GNK_OK, "%s", gnk_last_error());
    cr_expect(strstr(gnk_plan_kernel_name(p), "_div") == NULL, "%s", gnk_plan_kernel_name(p));
    gnk_plan_destroy(p);
  }
}

Test(api, silu_form_default_by_vendor) {
  unsetenv("GNK_SILU");
  const char *sig = gnk_cpu_signature();
  const int amd = strstr(sig, "AuthenticAMD") != NULL,
            rapids = strstr(sig, "GenuineIntel family=6 model=143 ") != NULL ||
                     strstr(sig, "GenuineIntel family=6 model=207 ") != NULL;
  expect_silu_form(amd || rapids, "default: AMD cores and Intel Sapphire / Emerald Rapids divide");
}

Test(api, silu_form_from_environment_div) {
  setenv("GNK_SILU", "div", 1);
  expect_silu_form(1, "GNK_SILU=div");
}

Test(api, silu_form_from_environment_rcp) {
  setenv("GNK_SILU", "rcp", 1);
  expect_silu_form(0, "GNK_SILU=rcp");
}

/* Where the channels-last apply's row prefetch goes (gnk_cpu_apply_pf_l1):
 * L1 on Intel cores, L2 elsewhere; GNK_APPLY_PREFETCH=l1|l2 overrides, read
 * once at the library's first use in this test's own process. Speed only:
 * threads::streamed_nhwc_prefetch_all_splits checks both give the same bits. */
Test(api, apply_prefetch_default_by_vendor) {
  unsetenv("GNK_APPLY_PREFETCH");
  cr_expect_eq(gnk_cpu_apply_pf_l1(), strstr(gnk_cpu_signature(), "GenuineIntel") != NULL, "%s", gnk_cpu_signature());
}

Test(api, apply_prefetch_from_environment_l1) {
  setenv("GNK_APPLY_PREFETCH", "l1", 1);
  cr_expect_eq(gnk_cpu_apply_pf_l1(), 1);
}

Test(api, apply_prefetch_from_environment_l2) {
  setenv("GNK_APPLY_PREFETCH", "l2", 1);
  cr_expect_eq(gnk_cpu_apply_pf_l1(), 0);
}
