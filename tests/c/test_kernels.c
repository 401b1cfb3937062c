/*
 * test_kernels.c: one Criterion test per entry of the kernel list
 * (generated/gnk_kernels.inc), so a kernel added to the list is tested
 * without touching this file. Each kernel runs directly (gnk_kernel_run) on
 * problems around its vector width and the runtime's chunk boundaries, in its
 * own dtype (f32, f16, bf16; 16-bit kernels alternately with f32 and with
 * same-dtype gamma/beta), and is compared with the float64 reference:
 *   - gamma/beta given, NULL, and mixed;
 *   - out of place, in place (y == x), and misaligned (x+1, y+1);
 *   - guard zones around x, y, gamma, beta untouched, inputs unchanged;
 *   - channels-last specialized kernels also on problems of 2 and 3 times
 *     their channels and groups, which they run block by block;
 *   - a problem the kernel does not match (layout, act, dtype, shape) is
 *     refused with GNK_ERR_NO_KERNEL.
 * A kernel this CPU cannot run is skipped loudly (stderr + Criterion skip).
 */
#include "test_util.h"
#include "test_shapes.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(kernels, .fini = leak_check);

/* Spatial sizes around the vector widths (1, 8, 16 lanes) and the 4096-value chunk. */
static const int64_t SPATIAL[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 4095, 4096, 4097, 8200};
#define NSPATIAL ((int)(sizeof SPATIAL / sizeof SPATIAL[0]))
static const int64_t GENERIC_C[] = {1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 32, 33, 48, 64, 100, 320};
#define NGENERIC_C ((int)(sizeof GENERIC_C / sizeof GENERIC_C[0]))

/* Cost control (~460 kernels x 4 runs each, also under ASan): problems from
 * SPATIAL are capped at SMALL_MAX_ELEMS floats and use n = 3 only when tiny
 * (batching adds no code path on big ones); the chunk-boundary sizes, the
 * only reason for big problems, run with n = 1 and two of the four pointer
 * variants, up to BIG_MAX_ELEMS. Generic kernels run ~40 shapes, so each is
 * kept smaller (their narrow shapes cross the boundaries cheaply). */
#define SMALL_MAX_ELEMS (1 << 16)
#define BIG_MAX_ELEMS (1 << 19)
#define GENERIC_SMALL_MAX_ELEMS (1 << 14)
#define GENERIC_BIG_MAX_ELEMS (1 << 16)
#define N3_MAX_SPATIAL 33

static int find_kernel(const char *name) {
  for (int i = 0; i < gnk_kernel_count(); ++i) {
    gnk_kernel_info info;
    if (gnk_kernel_get_info(i, &info) == GNK_OK && !strcmp(info.name, name)) return i;
  }
  return -1;
}

/* Runs kernel idx on d with a variety of pointers and optional parameters
 * (all four variants, or only the first and third when !all); every result is
 * checked against the reference. x/y are of d->dtype, gamma/beta of d->param_dtype. */
static void check_problem(int idx, const char *name, const gnk_desc *d, rng *r, int all) {
  const int64_t total = desc_numel(d), C = d->c;
  const gnk_dtype t = d->dtype, pt = d->param_dtype;
  const size_t xbytes = (size_t)total * dtype_size(t), pbytes = (size_t)C * dtype_size(pt);
  tbuf x = tbuf_new_t(t, total, 0), xu = tbuf_new_t(t, total, 1), y = tbuf_new_t(t, total, 0),
       yu = tbuf_new_t(t, total, 1), io = tbuf_new_t(t, total, 1);
  tbuf gamma = tbuf_new_t(pt, C, 0), beta = tbuf_new_t(pt, C, 1), gamma0 = tbuf_new_t(pt, C, 0),
       beta0 = tbuf_new_t(pt, C, 0);
  /* A per-problem offset and spread, so that the mean is not ~0 and std not ~1
   * (uniform noise: as good as normal here, and much cheaper to draw). */
  const double mid = 4.0 * rng_uniform(r) - 2.0, half = 0.25 + 3.0 * rng_uniform(r);
  fill_uniform_t(r, t, x.v, total, mid - half, mid + half);
  fill_uniform_t(r, pt, gamma.v, C, -2.0, 2.0);
  fill_uniform_t(r, pt, beta.v, C, -1.0, 1.0);
  memcpy(gamma0.v, gamma.v, pbytes);
  memcpy(beta0.v, beta.v, pbytes);
  memcpy(xu.v, x.v, xbytes);
  memcpy(io.v, x.v, xbytes);

  const size_t ng = (size_t)(d->n * d->groups);
  double *mean = malloc(ng * sizeof *mean), *rstd = malloc(ng * sizeof *rstd);
  cr_assert(mean && rstd);
  ref_stats(d, x.v, mean, rstd);

  struct variant {
    const char *what;
    const void *x;
    tbuf *y;
    const void *gamma, *beta;
  } v[] = {
      {"aligned, gamma+beta", x.v, &y, gamma.v, beta.v},
      {"aligned, gamma=beta=NULL", x.v, &y, NULL, NULL},
      {"in place (y == x, misaligned), gamma only", io.v, &io, gamma.v, NULL},
      {"misaligned x+1/y+1, beta only", xu.v, &yu, NULL, beta.v},
  };
  char msg[512];
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i += all ? 1 : 2) {
    if (v[i].y != &io) tbuf_fill_nan(v[i].y);
    const gnk_status st = gnk_kernel_run(idx, d, v[i].x, v[i].y->v, v[i].gamma, v[i].beta);
    cr_assert_eq(st, GNK_OK, "%s on %s (%s): status %s: %s", name, desc_str(d), v[i].what, gnk_status_string(st),
                 gnk_last_error());
    const int64_t bad = ref_check(d, x.v, v[i].gamma, v[i].beta, mean, rstd, v[i].y->v, msg, sizeof msg);
    cr_assert_eq(bad, 0, "%s (%s): %s", name, v[i].what, msg);
    cr_assert(tbuf_guards_ok(v[i].y), "%s on %s (%s): wrote outside y", name, desc_str(d), v[i].what);
  }
  /* Inputs are const: x (two copies), gamma and beta must be bitwise unchanged. */
  cr_assert(!memcmp(x.v, xu.v, xbytes), "%s on %s modified x", name, desc_str(d));
  cr_assert(!memcmp(gamma.v, gamma0.v, pbytes) && !memcmp(beta.v, beta0.v, pbytes), "%s on %s modified gamma or beta",
            name, desc_str(d));
  cr_assert(tbuf_guards_ok(&x) && tbuf_guards_ok(&xu) && tbuf_guards_ok(&gamma) && tbuf_guards_ok(&beta),
            "%s on %s wrote outside an input", name, desc_str(d));

  free(mean);
  free(rstd);
  tbuf *bufs[] = {&x, &xu, &y, &yu, &io, &gamma, &beta, &gamma0, &beta0};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i) tbuf_free(bufs[i]);
}

/* A problem the kernel cannot run is refused, and y stays untouched. */
static void check_refused(int idx, const char *name, const gnk_desc *d, const char *why) {
  const int64_t total = desc_numel(d);
  tbuf x = tbuf_new_t(d->dtype, total, 0), y = tbuf_new_t(d->dtype, total, 0);
  for (int64_t i = 0; i < total; ++i) elem_set(d->dtype, x.v, i, (double)(i % 7));
  const gnk_status st = gnk_kernel_run(idx, d, x.v, y.v, NULL, NULL);
  cr_assert_eq(st, GNK_ERR_NO_KERNEL, "%s ran %s (%s): status %s, want GNK_ERR_NO_KERNEL", name, desc_str(d), why,
               gnk_status_string(st));
  cr_assert(tbuf_all_nan_fill(&y) && tbuf_guards_ok(&y), "%s wrote y while refusing %s", name, desc_str(d));
  tbuf_free(&x);
  tbuf_free(&y);
}

/* Sizes just past the runtime's chunk boundaries for this shape (see
 * execute.c: NCHW cuts a group into 4096-value chunks; NHWC cuts a sample
 * into 512-position chunks), skipping sizes already in SPATIAL. Returns how
 * many. */
static int boundary_sizes(gnk_layout layout, int64_t c, int64_t g, int64_t *out) {
  int64_t cand[4];
  int nc = 0, n = 0;
  if (layout == GNK_LAYOUT_NCHW) {
    const int64_t dd = c / g;
    cand[nc++] = 4096 / dd;
    cand[nc++] = 4096 / dd + 1;
    cand[nc++] = 8192 / dd + 1;
  } else {
    cand[nc++] = 512 + 1;
    cand[nc++] = 2 * 512 + 1;
  }
  for (int i = 0; i < nc; ++i) {
    int dup = cand[i] < 1;
    for (int j = 0; j < NSPATIAL; ++j) dup |= SPATIAL[j] == cand[i];
    for (int j = 0; j < n; ++j) dup |= out[j] == cand[i];
    if (!dup) out[n++] = cand[i];
  }
  return n;
}

/* The kernel's problem with this shape: its layout, act and dtype; 16-bit
 * kernels alternate f32 and same-dtype gamma/beta from problem to problem. */
static gnk_desc kernel_desc(const gnk_kernel_info *k, int64_t n, int64_t c, int64_t s, int64_t g, int problem) {
  gnk_desc d = make_desc(k->layout, k->act, n, c, s, g);
  d.dtype = k->dtype;
  d.param_dtype = problem % 2 ? k->dtype : GNK_DTYPE_F32;
  return d;
}

/* Runs every problem of shape (c, g) the cost rules allow (big_max 0: no
 * chunk-boundary sizes); returns how many. */
static int check_shape(int idx, const gnk_kernel_info *k, int64_t c, int64_t g, int64_t small_max, int64_t big_max,
                       rng *r) {
  int problems = 0;
  for (int i = 0; i < NSPATIAL; ++i)
    for (int64_t n = 1; n <= 3; n += 2) {
      if ((n == 3 && SPATIAL[i] > N3_MAX_SPATIAL) || n * c * SPATIAL[i] > small_max) continue;
      gnk_desc d = kernel_desc(k, n, c, SPATIAL[i], g, problems++);
      check_problem(idx, k->name, &d, r, 1);
    }
  int64_t extra[4];
  const int ne = boundary_sizes(k->layout, c, g, extra);
  for (int i = 0; i < ne; ++i) {
    if (c * extra[i] > big_max) continue;
    gnk_desc d = kernel_desc(k, 1, c, extra[i], g, problems++);
    check_problem(idx, k->name, &d, r, 0);
  }
  return problems;
}

/* A channels-last kernel baked for W channels also runs problems of 2W and
 * 3W channels block by block (gnk_kernel_run; the schedule measure mode may
 * choose, see gnk_kernel_abi.h): rows around the vector widths, 1 and 2
 * samples, and a sample over the 512-row chunk where the size allows. Returns
 * how many problems ran. */
static int check_blocks(int idx, const gnk_kernel_info *k, rng *r) {
  static const int64_t rows[] = {1, 7, 37, 513};
  int problems = 0;
  for (int64_t nb = 2; nb <= 3; ++nb)
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; ++i)
      for (int64_t n = 1; n <= 2; ++n) {
        const int64_t c = nb * k->channels, s = rows[i], big = s > 512;
        if ((big && n > 1) || n * c * s > (big ? BIG_MAX_ELEMS : SMALL_MAX_ELEMS)) continue;
        gnk_desc d = kernel_desc(k, n, c, s, nb * k->groups, problems++);
        check_problem(idx, k->name, &d, r, !big);
      }
  return problems;
}

static void check_kernel(const char *name, gnk_isa isa, gnk_dtype dtype, gnk_layout layout, gnk_act act,
                         int64_t groups, int64_t channels, int unroll) {
  const int idx = find_kernel(name);
  cr_assert_geq(idx, 0, "kernel %s is in gnk_kernels.inc but not in the registry", name);
  gnk_kernel_info info;
  cr_assert_eq(gnk_kernel_get_info(idx, &info), GNK_OK);
  cr_assert(info.isa == isa && info.dtype == dtype && info.layout == layout && info.act == act &&
                info.groups == groups && info.channels == channels && info.unroll == unroll,
            "registry info of %s differs from gnk_kernels.inc", name);
  const int generic = groups == 0;
  /* A small problem the kernel matches (its own shape, or any for generic kernels). */
  const int64_t own_c = generic ? 8 : channels, own_g = generic ? 2 : groups;

  if (!gnk_kernel_supported(idx)) {
    gnk_desc d = kernel_desc(&info, 1, own_c, 9, own_g, 0);
    check_refused(idx, name, &d, "ISA not available");
    fprintf(stderr, "SKIPPED %s: needs ISA %s, this CPU (after GNK_MAX_ISA) has only %s\n", name,
            gnk_isa_name(isa), gnk_isa_name(gnk_cpu_isa()));
    cr_skip_test("%s needs ISA %s; this CPU (after GNK_MAX_ISA) has only %s", name, gnk_isa_name(isa),
                 gnk_isa_name(gnk_cpu_isa()));
  }

  /* Mismatches: other layout, other activation, and for specialized kernels other groups/channels. */
  const gnk_layout other_layout = layout == GNK_LAYOUT_NCHW ? GNK_LAYOUT_NHWC : GNK_LAYOUT_NCHW;
  const gnk_act other_act = act == GNK_ACT_NONE ? GNK_ACT_SILU : GNK_ACT_NONE;
  gnk_desc m = kernel_desc(&info, 1, own_c, 9, own_g, 0);
  m.layout = other_layout;
  check_refused(idx, name, &m, "other layout");
  m = kernel_desc(&info, 1, own_c, 9, own_g, 0);
  m.act = other_act;
  check_refused(idx, name, &m, "other activation");
  m = kernel_desc(&info, 1, own_c, 9, own_g, 0);
  m.dtype = m.param_dtype = dtype == GNK_DTYPE_F32 ? GNK_DTYPE_F16 : GNK_DTYPE_F32;
  check_refused(idx, name, &m, "other dtype");
  if (!generic) {
    /* half or twice the groups (g1c80: 2), whichever divides the channels */
    const int64_t og = groups % 2 == 0 ? groups / 2 : channels % (2 * groups) == 0 ? 2 * groups : 0;
    cr_assert_gt(og, 0, "%s: no other group count to refuse", name);
    m = kernel_desc(&info, 1, channels, 9, og, 0);
    check_refused(idx, name, &m, "other groups");
    m = kernel_desc(&info, 1, channels + groups, 9, groups, 0);
    check_refused(idx, name, &m, "other channels");
    /* twice the channels: a block of whole groups only if the groups double too */
    m = kernel_desc(&info, 1, 2 * channels, 9, groups, 0);
    check_refused(idx, name, &m, "twice the channels, other channels per group");
    m = kernel_desc(&info, 1, 2 * channels, 9, 2 * groups, 0);
    m.layout = other_layout;
    check_refused(idx, name, &m, "channel blocks in the other layout");
  }

  rng r;
  rng_seed(&r, (uint64_t)idx * 1000003u + 17u);
  int problems = 0;
  if (!generic) {
    problems += check_shape(idx, &info, channels, groups, SMALL_MAX_ELEMS, BIG_MAX_ELEMS, &r);
    if (layout == GNK_LAYOUT_NHWC) problems += check_blocks(idx, &info, &r);
  } else {
    for (int ci = 0; ci < NGENERIC_C; ++ci) {
      const int64_t c = GENERIC_C[ci], gs[3] = {1, middle_divisor(c), c};
      for (int gi = 0; gi < 3; ++gi) /* chunk-boundary sizes only with G = 1 and G = C (cost) */
        if (gi == 0 || gs[gi] != gs[gi - 1])
          problems += check_shape(idx, &info, c, gs[gi], GENERIC_SMALL_MAX_ELEMS, gi == 1 ? 0 : GENERIC_BIG_MAX_ELEMS,
                                  &r);
    }
  }
  cr_assert_gt(problems, 0, "%s: no problem was run", name);
}

/* One Criterion test per kernel of the list. */
#define GNK_KERNEL(name, isa, dtype, layout, act, groups, channels, unroll) \
  Test(kernels, name) { check_kernel(#name, isa, dtype, layout, act, groups, channels, unroll); }
#include "gnk_kernels.inc"
#undef GNK_KERNEL

/* The registry holds exactly the kernels of the list. */
Test(kernels, registry_matches_list) {
  int listed = 0;
#define GNK_KERNEL(name, isa, dtype, layout, act, groups, channels, unroll) ++listed;
#include "gnk_kernels.inc"
#undef GNK_KERNEL
  cr_assert_eq(gnk_kernel_count(), listed, "registry has %d kernels, gnk_kernels.inc %d", gnk_kernel_count(), listed);
  for (int i = 0; i < listed; ++i) cr_assert_eq(find_kernel(gnk_kernel_name(i)), i, "duplicate kernel name at %d", i);
}
