/*
 * test_planner.c: measure mode's timing schedule, driven by a fake timer
 * (gnk_planner_set_timer) that returns chosen times instead of running the
 * kernels, so that noise can be put exactly where it hurts:
 *  - a burst of load that covers the next six runs once the fastest
 *    candidate starts (as long as timing that candidate alone used to take)
 *    must not make measure mode pick a slower one;
 *  - a candidate 10x slower than the best known gets no second run, and no
 *    candidate gets more than six;
 *  - without noise the fastest candidate wins wherever it sits in the list.
 */
#include "test_util.h"

#include "gnk_internal.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static void fresh(void) {
  gnk_plan_cache_clear();
  gnk_wisdom_forget();
}

static void restore(void) {
  gnk_planner_set_timer(NULL);
  gnk_planner_set_measure_bytes(0);
  leak_check();
}

TestSuite(planner, .init = fresh, .fini = restore);

#define MAX_SEEN 256
static const gnk_kernel *seen[MAX_SEEN]; /* distinct kernels in the order first timed */
static int seen_runs[MAX_SEEN];
static int nseen;
static int target_at;        /* index in seen[] of the fast kernel */
static int burst_left = -1;  /* runs still inside the burst; -1: not begun */
static int burst_runs = 0;   /* the burst's length, 0: none */
static int slow_at = -1;     /* index in seen[] of a kernel 10x slower, -1: none */

static int index_of(const gnk_kernel *k) {
  for (int i = 0; i < nseen; ++i)
    if (seen[i] == k) return i;
  cr_assert_lt(nseen, MAX_SEEN);
  seen[nseen] = k;
  return nseen++;
}

/* 100 us for every kernel, 90 us for the target, 1 ms for the slow one;
 * 1.6x inside the burst, which begins at the target's first run. */
static double fake_timer(const gnk_exec_cfg *cfg, const gnk_desc *d, const void *x, void *y, const void *gamma,
                         const void *beta) {
  (void)d, (void)x, (void)y, (void)gamma, (void)beta;
  const int i = index_of(cfg->kernel);
  ++seen_runs[i];
  double t = i == target_at ? 9e4 : i == slow_at ? 1e6 : 1e5;
  if (i == target_at && burst_left < 0) burst_left = burst_runs;
  if (burst_left > 0) {
    --burst_left;
    t *= 1.6;
  }
  return t;
}

static void setup(int target, int burst, int slow) {
  memset(seen, 0, sizeof seen);
  memset(seen_runs, 0, sizeof seen_runs);
  nseen = 0;
  target_at = target;
  burst_left = -1;
  burst_runs = burst;
  slow_at = slow;
}

/* A fresh measure-mode plan of d at `threads` under `timer` (no wisdom, no
 * plan cache: the timer really decides); the caller destroys it. */
static gnk_plan *measured_plan(const gnk_desc *d, int threads, gnk_run_timer_fn timer) {
  gnk_wisdom_forget(); /* else the previous measurement answers (GNK_NO_CACHE skips only the plan cache) */
  gnk_planner_set_timer(timer);
  gnk_plan_options o = {GNK_MEASURE | GNK_NO_CACHE, threads, NULL, NULL};
  gnk_plan *p = NULL;
  cr_assert_eq(gnk_plan_create_ex(&p, d, &o), GNK_OK, "%s", gnk_last_error());
  return p;
}

/* Plans d in measure mode under the fake timer; the name of the kernel chosen. */
static const char *measured_kernel(const gnk_desc *d) {
  gnk_plan *p = measured_plan(d, 1, fake_timer);
  const char *name = gnk_plan_kernel_name(p);
  gnk_plan_destroy(p);
  return name; /* names are the registry's static strings */
}

/* A problem with several candidate kernels on every ISA (specialized
 * variants and the generic kernel). */
static gnk_desc problem(void) { return make_desc(GNK_LAYOUT_NCHW, GNK_ACT_NONE, 2, 320, 777, 32); }

static void need_candidates(int k) {
  setup(-1, 0, -1);
  gnk_desc d = problem();
  (void)measured_kernel(&d);
  if (nseen < k) cr_skip_test("only %d candidate kernels on this CPU for this problem; the test needs %d", nseen, k);
}

Test(planner, a_burst_over_the_fastest_candidate_does_not_pick_a_slower_one) {
  need_candidates(3);
  const int n = nseen;
  for (int target = 0; target < n; ++target) {
    setup(target, 6, -1);
    gnk_desc d = problem();
    const char *got = measured_kernel(&d);
    cr_assert_geq(target_at, 0);
    cr_assert_str_eq(got, seen[target_at]->info.name,
                     "candidate %d of %d (%s, 90 us) lost to %s (100 us) after a 1.6x burst over its first six runs",
                     target, n, seen[target_at]->info.name, got);
  }
}

Test(planner, without_noise_the_fastest_wins_anywhere_in_the_list) {
  need_candidates(2);
  const int n = nseen;
  for (int target = 0; target < n; ++target) {
    setup(target, 0, -1);
    gnk_desc d = problem();
    cr_assert_str_eq(measured_kernel(&d), seen[target]->info.name, "candidate %d of %d", target, n);
  }
}

Test(planner, runs_per_candidate_are_bounded) {
  need_candidates(3);
  const int n = nseen;
  setup(0, 0, n - 1); /* the last candidate 10x slower than the first: one run */
  gnk_desc d = problem();
  (void)measured_kernel(&d);
  cr_assert_eq(nseen, n);
  for (int i = 0; i < n; ++i) {
    cr_assert_geq(seen_runs[i], 1, "%s never ran", seen[i]->info.name);
    /* the winner also runs under the other splits: two more sweeps' worth */
    cr_assert_leq(seen_runs[i], i == 0 ? 6 + 6 * (GNK_SPLIT_COUNT - 1) : 6, "%s ran %d times",
                  seen[i]->info.name, seen_runs[i]);
  }
  cr_assert_eq(seen_runs[n - 1], 1, "the 10x slower %s ran %d times", seen[n - 1]->info.name, seen_runs[n - 1]);
}

/* The scalar generic kernel is timed only where no vector kernel can run the
 * problem (planner.c keep_if_any(..., is_vector)): beside one it never wins, and its one run
 * cost a fifth of a large problem's tuning. On a CPU without vector kernels
 * (or GNK_MAX_ISA=scalar) it is the only candidate and is timed. */
Test(planner, the_scalar_kernel_is_timed_only_without_a_vector_one) {
  setup(-1, 0, -1);
  gnk_desc d = problem();
  const char *got = measured_kernel(&d);
  cr_assert_gt(nseen, 0, "nothing was timed");
  int scalar = 0;
  for (int i = 0; i < nseen; ++i) scalar += seen[i]->info.isa == GNK_ISA_SCALAR;
  if (gnk_cpu_isa() > GNK_ISA_SCALAR) {
    cr_assert_eq(scalar, 0, "%d scalar kernel(s) timed beside %d vector one(s) on %s", scalar, nseen - scalar,
                 gnk_isa_name(gnk_cpu_isa()));
    cr_assert_neq(gnk_registry_get(gnk_registry_find(got))->info.isa, GNK_ISA_SCALAR, "picked %s", got);
  } else {
    cr_assert_eq(scalar, nseen, "a vector kernel was timed on a scalar-only CPU");
  }
}

/* Where x and y together exceed the last-level cache, measure mode times only
 * the streaming-store kernels (a regular store then reads each line of y from
 * memory first): even a regular-store kernel the fake timer makes fastest is
 * not picked, and never runs. Below that, the same kernel is timed and wins.
 * The L3 is set small so that a small problem is "beyond" it. */
static int streams(const gnk_kernel *k) { return strstr(k->info.name, "_nt") != NULL; }

Test(planner, beyond_l3_only_streaming_store_kernels_are_timed) {
  need_candidates(2);
  int plain = -1, nt = 0;
  for (int i = 0; i < nseen; ++i) {
    if (streams(seen[i])) ++nt;
    else if (plain < 0) plain = i;
  }
  if (!nt || plain < 0)
    cr_skip_test("this CPU has %d streaming-store candidates and %s regular-store one for this problem; the test "
                 "needs both", nt, plain < 0 ? "no" : "a");
  const gnk_kernel *fast = seen[plain];
  /* within the cache: the regular-store kernel made fastest wins */
  setup(-1, 0, -1);
  target_at = index_of(fast);
  gnk_desc d = problem();
  cr_assert_str_eq(measured_kernel(&d), fast->info.name);
  /* beyond it (2x320x777 f32 is 1.9 MiB: x and y exceed a 2 MiB L3) */
  gnk_cpu_set_caches((size_t)256 << 10, (size_t)2 << 20);
  setup(-1, 0, -1);
  target_at = index_of(fast);
  const char *got = measured_kernel(&d);
  cr_assert(streams(gnk_registry_get(gnk_registry_find(got))), "beyond L3 measure mode picked %s", got);
  cr_assert_eq(seen_runs[target_at], 0, "the regular-store %s was timed %d times", fast->info.name,
               seen_runs[target_at]);
  for (int i = 0; i < nseen; ++i)
    cr_assert(i == target_at || streams(seen[i]), "%s was timed beyond L3", seen[i]->info.name);
}

/* Measure mode times the pipeline schedule (execute.c run_units_pipelined) as
 * a schedule of its own, and only where it differs from the others in what
 * it does to the memory traffic: NCHW groups over half of L2. A fake timer
 * makes every run under the pipeline fastest; with a 32 KiB L2 the 31 KiB
 * groups of 2x320x777 qualify and the plan must say "pipeline"; with the
 * default caches (and for channels-last) it must never be timed. */
static int pipeline_runs;
static double pipeline_timer(const gnk_exec_cfg *cfg, const gnk_desc *d, const void *x, void *y, const void *gamma,
                             const void *beta) {
  (void)d, (void)x, (void)y, (void)gamma, (void)beta;
  if (cfg->split == GNK_SPLIT_PIPELINE) ++pipeline_runs;
  return cfg->split == GNK_SPLIT_PIPELINE ? 5e4 : 1e5;
}

static const char *measured_schedule(const gnk_desc *d) {
  pipeline_runs = 0;
  gnk_plan *p = measured_plan(d, 1, pipeline_timer);
  const char *s = gnk_plan_schedule(p);
  gnk_plan_destroy(p);
  return s; /* static strings */
}

Test(planner, pipeline_is_timed_for_nchw_groups_over_half_of_l2) {
  gnk_cpu_set_caches((size_t)1 << 20, 0);
  gnk_desc nchw = problem(), nhwc = problem();
  nhwc.layout = GNK_LAYOUT_NHWC;
  cr_assert_str_neq(measured_schedule(&nchw), "pipeline");
  cr_assert_eq(pipeline_runs, 0, "pipeline timed %d times on 31 KiB groups with a 1 MiB L2", pipeline_runs);
  gnk_cpu_set_caches((size_t)32 << 10, 0);
  cr_assert_str_eq(measured_schedule(&nchw), "pipeline");
  cr_assert_gt(pipeline_runs, 0);
  cr_assert_str_neq(measured_schedule(&nhwc), "pipeline");
  cr_assert_eq(pipeline_runs, 0, "pipeline timed %d times channels-last", pipeline_runs);
}

/* Measure mode allocates at most gnk_planner_set_measure_bytes() per buffer
 * (256 MiB or twice the L3 by default): a larger problem is timed on fewer
 * samples, or on one sample with fewer positions where a sample alone is
 * larger, and its time scaled to the whole (the wisdom entry); a part keeps
 * enough samples for 4 units a thread where the whole has them. Where one
 * position of one sample is over the limit the estimate decides and nothing
 * is timed. Here the limit is 64 KiB. */
static int64_t timed_n, timed_s;
static int timed_calls;
static double sizes_timer(const gnk_exec_cfg *cfg, const gnk_desc *d, const void *x, void *y, const void *gamma,
                          const void *beta) {
  (void)cfg, (void)x, (void)y, (void)gamma, (void)beta;
  if (timed_calls++ == 0) timed_n = d->n, timed_s = d->spatial;
  cr_assert(d->n == timed_n && d->spatial == timed_s, "timed both n=%lld s=%lld and n=%lld s=%lld",
            (long long)timed_n, (long long)timed_s, (long long)d->n, (long long)d->spatial);
  cr_assert_leq(d->n * d->c * d->spatial * 4, 64 << 10, "timed %lldx%lldx%lld over the limit", (long long)d->n,
                (long long)d->c, (long long)d->spatial);
  return 1e5;
}

/* Plans d measured under sizes_timer; its source, and the ns of its wisdom entry (0 if none). */
static const char *sized_plan(const gnk_desc *d, int threads, double *ns) {
  timed_calls = 0;
  timed_n = timed_s = -1;
  gnk_plan *p = measured_plan(d, threads, sizes_timer);
  const char *src = gnk_plan_source(p);
  gnk_plan_destroy(p);
  char *text = NULL;
  cr_assert_eq(gnk_wisdom_export_string(&text), GNK_OK, "%s", gnk_last_error());
  const char *e = strstr(text, "\nentry ");
  *ns = 0;
  if (e) {
    char key[200], name[160], split[16];
    cr_assert_eq(sscanf(e + 1, "entry %199s %159s %15s %lf", key, name, split, ns), 4, "%s", e);
  }
  gnk_free(text);
  return src;
}

Test(planner, measure_mode_allocates_at_most_its_limit) {
  gnk_planner_set_measure_bytes((size_t)64 << 10);
  double ns;
  gnk_desc small = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_NONE, 2, 64, 100, 32); /* 50 KiB: timed whole */
  cr_assert_str_eq(sized_plan(&small, 1, &ns), "measured");
  cr_assert(timed_n == 2 && timed_s == 100 && ns == 1e5, "timed n=%lld s=%lld, recorded %.0f ns", (long long)timed_n,
            (long long)timed_s, ns);
  gnk_desc samples = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_NONE, 5, 64, 100, 32); /* 125 KiB: 2 of 5 samples */
  cr_assert_str_eq(sized_plan(&samples, 1, &ns), "measured");
  cr_assert(timed_n == 2 && timed_s == 100 && ns == 2.5e5, "timed n=%lld s=%lld, recorded %.0f ns", (long long)timed_n,
            (long long)timed_s, ns);
  gnk_desc positions = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_SILU, 3, 64, 1000, 32); /* 250 KiB a sample */
  cr_assert_str_eq(sized_plan(&positions, 1, &ns), "measured");
  cr_assert(timed_n == 1 && timed_s == 256 && ns == 1e5 * 3000.0 / 256.0, "timed n=%lld s=%lld, recorded %.0f ns",
            (long long)timed_n, (long long)timed_s, ns);
  /* at two threads a part keeps 8 samples (units for 4 per thread), each cut to fit */
  gnk_desc threaded = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_SILU, 16, 64, 1000, 32);
  cr_assert_str_eq(sized_plan(&threaded, 2, &ns), "measured");
  cr_assert(timed_n == 8 && timed_s == 32 && ns == 1e5 * 16000.0 / 256.0, "timed n=%lld s=%lld, recorded %.0f ns",
            (long long)timed_n, (long long)timed_s, ns);
  /* channels-first: one sample has 32 units, enough for 8 threads */
  gnk_desc groups = make_desc(GNK_LAYOUT_NCHW, GNK_ACT_SILU, 16, 64, 1000, 32);
  cr_assert_str_eq(sized_plan(&groups, 2, &ns), "measured");
  cr_assert(timed_n == 1 && timed_s == 256, "timed n=%lld s=%lld", (long long)timed_n, (long long)timed_s);
  gnk_desc wide = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_NONE, 1, 32768, 2, 32); /* 128 KiB a position */
  cr_assert_str_eq(sized_plan(&wide, 1, &ns), "estimate");
  cr_assert_eq(timed_calls, 0, "a problem over the limit at one position was timed %d times", timed_calls);
  cr_assert_eq(ns, 0, "an estimate was recorded in wisdom (%.0f ns)", ns);
}
