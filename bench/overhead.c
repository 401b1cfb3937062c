/* bench/overhead.c: what a call costs above the kernel, on tiny problems.
 *   run:   the plan's kernel, split and problem as run through the runtime's
 *          executor (no lookup, no descriptor validation): the baseline;
 *          it includes the executor's pointer checks (NULL, overlaps of x, y and
 *          of each output with the other arguments, element alignment: ~6-9 ns
 *          on the Zen 4 VM, timed alone);
 *   plan:  gnk_execute on a plan (validation of pointers + executor);
 *   oneshot: gnk_group_norm (descriptor validation + plan-cache lookup + executor).
 * Median of many batches of 1000 calls, single thread. */
#include "gnk_internal.h"

#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#define BATCH 1000
#define ROUNDS 101

int main(void) {
  const int64_t shapes[][3] = {{1, 8, 1}, {1, 32, 16}, {2, 64, 64}}; /* n, c, spatial; groups = c/4 */
  printf("%-16s %10s %10s %10s %12s %12s\n", "problem", "run_ns", "plan_ns", "oneshot_ns", "plan-run", "oneshot-run");
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; ++k) {
    gnk_desc d;
    gnk_desc_init(&d);
    d.n = shapes[k][0]; d.c = shapes[k][1]; d.spatial = shapes[k][2]; d.groups = d.c / 4; d.act = GNK_ACT_SILU;
    const size_t count = (size_t)(d.n * d.c * d.spatial);
    float *x = calloc(count, sizeof *x), *y = calloc(count, sizeof *y);
    for (size_t i = 0; i < count; ++i) x[i] = (float)(i % 7) - 3.0f;
    gnk_plan *plan;
    if (gnk_plan_create(&plan, &d, GNK_ESTIMATE) != GNK_OK) { fprintf(stderr, "%s\n", gnk_last_error()); return 1; }
    /* The baseline runs what the plan runs: its kernel, split and problem as
     * run (until 2026-12-03 it took the plan's kernel with the units split
     * on the caller's descriptor, which for 1x8x1, a one-position problem
     * the plan runs channels-last, was a different run: the kernel refused
     * it at once, and "plan-run" read ~145 ns that were the kernel's own). */
    const gnk_exec_cfg *pcfg;
    if (gnk_plan_general(plan, &pcfg)) { fprintf(stderr, "overhead: a general plan for a fast problem\n"); return 1; }
    const gnk_exec_cfg cfg = *pcfg;
    const gnk_desc run_d = *gnk_plan_run_desc(plan);
    double t[3][ROUNDS];
    for (int r = 0; r < ROUNDS; ++r) { /* interleaved so drift hits all three alike */
      double t0 = gnk_now_ns();
      for (int i = 0; i < BATCH; ++i) gnk_run(&cfg, &run_d, x, y, NULL, NULL, NULL, NULL);
      double t1 = gnk_now_ns();
      for (int i = 0; i < BATCH; ++i) gnk_execute(plan, x, y, NULL, NULL);
      double t2 = gnk_now_ns();
      for (int i = 0; i < BATCH; ++i) gnk_group_norm(&d, x, y, NULL, NULL);
      double t3 = gnk_now_ns();
      t[0][r] = (t1 - t0) / BATCH; t[1][r] = (t2 - t1) / BATCH; t[2][r] = (t3 - t2) / BATCH;
    }
    for (int j = 0; j < 3; ++j) qsort(t[j], ROUNDS, sizeof(double), cmp);
    char name[64];
    snprintf(name, sizeof name, "%lldx%lldx%lld", (long long)d.n, (long long)d.c, (long long)d.spatial);
    const double run = t[0][ROUNDS / 2], pl = t[1][ROUNDS / 2], one = t[2][ROUNDS / 2];
    printf("%-16s %10.1f %10.1f %10.1f %12.1f %12.1f\n", name, run, pl, one, pl - run, one - run);
    gnk_plan_destroy(plan);
    free(x); free(y);
  }
  return 0;
}
