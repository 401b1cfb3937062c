/* gnk itself: the planner's choice (GNK_MEASURE) and the generic kernel. */
#include <stdio.h>
#include <stdlib.h>

#include "gnk.h"
#include "gnk_bench.h"
#include "bench_internal.h"

static void to_desc(const bench_problem *p, gnk_desc *d) {
  gnk_desc_init(d);
  d->layout = p->layout == 1 ? GNK_LAYOUT_NHWC : GNK_LAYOUT_NCHW;
  d->dtype = p->dtype == 1 ? GNK_DTYPE_F16 : p->dtype == 2 ? GNK_DTYPE_BF16 : GNK_DTYPE_F32;
  d->n = p->n;
  d->c = p->c;
  d->spatial = p->h * p->w;
  d->groups = p->groups;
  d->eps = p->eps;
  d->act = p->act == 1 ? GNK_ACT_SILU : p->act == 2 ? GNK_ACT_RELU : GNK_ACT_NONE;
}

void *bench_gnk_plan(const bench_problem *p, int threads) {
  gnk_desc d;
  to_desc(p, &d);
  gnk_plan_options opt = {.flags = GNK_MEASURE, .threads = threads};
  gnk_plan *plan = NULL;
  gnk_status s = gnk_plan_create_ex(&plan, &d, &opt);
  if (s != GNK_OK) {
    bench_set_error("gnk_plan_create_ex: %s: %s", gnk_status_string(s), gnk_last_error());
    return NULL;
  }
  return plan;
}

const char *bench_gnk_plan_kernel(const void *plan) { return gnk_plan_kernel_name(plan); }
const char *bench_gnk_plan_source(const void *plan) { return gnk_plan_source(plan); }
void bench_gnk_destroy(void *plan) { gnk_plan_destroy(plan); }
const char *bench_gnk_version(void) { return gnk_version(); }
const char *bench_gnk_isa(void) { return gnk_isa_name(gnk_cpu_isa()); }

int bench_gnk_run(const void *plan, const void *x, void *y, const float *gamma,
                  const float *beta, int warmup, int reps, double *samples) {
  gnk_status s = GNK_OK;
  for (int i = 0; i < warmup && s == GNK_OK; i++) s = gnk_execute(plan, x, y, gamma, beta);
  for (int i = 0; i < reps && s == GNK_OK; i++) {
    double t0 = bench_now_ns();
    s = gnk_execute(plan, x, y, gamma, beta);
    samples[i] = bench_now_ns() - t0;
  }
  if (s != GNK_OK) {
    bench_set_error("gnk_execute: %s: %s", gnk_status_string(s), gnk_last_error());
    return -1;
  }
  return 0;
}

int bench_gnk_generic_index(int layout, int act, int dtype) {
  /* The generic kernel for gnk_cpu_isa(); when that ISA has none for the dtype (e.g. f32 on
   * the bf16-only ISA level), the one of the highest ISA below it that this CPU runs. */
  const gnk_dtype dt = dtype == 1 ? GNK_DTYPE_F16 : dtype == 2 ? GNK_DTYPE_BF16 : GNK_DTYPE_F32;
  gnk_isa isa = gnk_cpu_isa();
  int n = gnk_kernel_count(), best = -1;
  gnk_isa best_isa = GNK_ISA_SCALAR;
  for (int i = 0; i < n; i++) {
    gnk_kernel_info k;
    if (gnk_kernel_get_info(i, &k) != GNK_OK) continue;
    if (k.groups == 0 && k.channels == 0 && k.dtype == dt &&
        (int)k.layout == layout && (int)k.act == act && k.isa <= isa &&
        gnk_kernel_supported(i) && (best < 0 || k.isa > best_isa)) {
      best = i;
      best_isa = k.isa;
    }
  }
  if (best < 0)
    bench_set_error("no generic gnk kernel for layout %d act %d dtype %d isa <= %s", layout, act, dtype,
                    gnk_isa_name(isa));
  return best;
}

const char *bench_gnk_kernel_name(int index) { return gnk_kernel_name(index); }

int bench_gnk_kernel(int index, const bench_problem *p, const void *x, void *y,
                     const float *gamma, const float *beta, int warmup, int reps,
                     double *samples) {
  gnk_desc d;
  to_desc(p, &d);
  gnk_status s = GNK_OK;
  for (int i = 0; i < warmup && s == GNK_OK; i++) s = gnk_kernel_run(index, &d, x, y, gamma, beta);
  for (int i = 0; i < reps && s == GNK_OK; i++) {
    double t0 = bench_now_ns();
    s = gnk_kernel_run(index, &d, x, y, gamma, beta);
    samples[i] = bench_now_ns() - t0;
  }
  if (s != GNK_OK) {
    bench_set_error("gnk_kernel_run: %s: %s", gnk_status_string(s), gnk_last_error());
    return -1;
  }
  return 0;
}
