/*
 * tsan_stress.c: gnk's concurrency surfaces under ThreadSanitizer (make
 * test-tsan). Criterion's forking runner crashes under TSan, so this is a
 * plain program: the runtime is built with -fsanitize=thread (the generated
 * kernels are linked uninstrumented: they share no state, only the disjoint
 * slices of y the executor hands them), every scenario checks its results,
 * and TSan (halt_on_error=1) fails the run on the first data race.
 *
 * Scenarios, each with threads released together by a barrier:
 *  1. single flight: racers create measure-mode plans of the same cold keys;
 *     exactly one measures each key, all get the same kernel;
 *  2. one plan, many executing threads (plans of 1 and 2 threads: the
 *     executors contend for gnk's pool), both layouts, against the serial bits;
 *  3. a caller-supplied parallel_for (a pthread per task) beside gnk's pool;
 *  4. the one-shot gnk_group_norm and the general path from many threads;
 *  5. wisdom export / import / forget and plan-cache lookups while other
 *     threads plan and execute.
 * Exit status 0 when every check held (and TSan found nothing).
 */
#include "gnk.h"
#include "../c/test_desc.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 6
static pthread_barrier_t barrier;
static atomic_int failures;

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "tsan_stress: %s:%d: ", __FILE__, __LINE__);           \
      fprintf(stderr, __VA_ARGS__);                                          \
      fprintf(stderr, "\n");                                                 \
      atomic_fetch_add(&failures, 1);                                        \
    }                                                                        \
  } while (0)


static float *tensor(int64_t count, unsigned seed) {
  float *p = malloc(sizeof(float) * (size_t)count);
  uint32_t s = 0x9e3779b9u ^ seed;
  for (int64_t i = 0; i < count; ++i) {
    s = s * 1664525u + 1013904223u;
    p[i] = (float)(s >> 8) * (1.0f / 16777216.0f) * 4.0f - 2.0f + (float)(seed % 5);
  }
  return p;
}

/* ---- 1. single flight ---- */
typedef struct racer {
  const gnk_desc *d;
  char kernel[128], source[16];
  gnk_status st;
} racer;

static void *race_main(void *arg) {
  racer *r = arg;
  pthread_barrier_wait(&barrier);
  gnk_plan *p = NULL;
  gnk_plan_options o = {GNK_MEASURE, 1, NULL, NULL};
  r->st = gnk_plan_create_ex(&p, r->d, &o);
  if (r->st == GNK_OK) {
    snprintf(r->kernel, sizeof r->kernel, "%s", gnk_plan_kernel_name(p));
    snprintf(r->source, sizeof r->source, "%s", gnk_plan_source(p));
  }
  gnk_plan_destroy(p);
  return NULL;
}

static void single_flight(void) {
  const gnk_desc keys[] = {make_desc(GNK_LAYOUT_NCHW, GNK_ACT_SILU, 1, 64, 4099, 8),
                           make_desc(GNK_LAYOUT_NHWC, GNK_ACT_NONE, 2, 96, 517, 4)};
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; ++k) {
    racer r[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; ++i) {
      memset(&r[i], 0, sizeof r[i]);
      r[i].d = &keys[k];
      pthread_create(&t[i], NULL, race_main, &r[i]);
    }
    int measured = 0;
    for (int i = 0; i < THREADS; ++i) {
      pthread_join(t[i], NULL);
      CHECK(r[i].st == GNK_OK, "racer %d: %s", i, gnk_status_string(r[i].st));
      CHECK(!strcmp(r[i].kernel, r[0].kernel), "racers got %s and %s", r[i].kernel, r[0].kernel);
      measured += !strcmp(r[i].source, "measured");
    }
    CHECK(measured == 1, "key %zu: %d racers measured, single flight means one", k, measured);
  }
}

/* ---- 2-4. many executing threads ---- */
typedef struct job {
  const gnk_plan *plan;   /* gnk_execute (NULL: gnk_group_norm of d) */
  const gnk_desc *d;
  const float *x, *want;  /* want: the serial result */
  int reps;
} job;

static void *execute_main(void *arg) {
  const job *j = arg;
  const int64_t total = desc_numel(j->d);
  float *y = malloc(sizeof(float) * (size_t)total);
  pthread_barrier_wait(&barrier);
  for (int r = 0; r < j->reps; ++r) {
    const gnk_status st = j->plan ? gnk_execute(j->plan, j->x, y, NULL, NULL) : gnk_group_norm(j->d, j->x, y, NULL, NULL);
    CHECK(st == GNK_OK, "execute: %s", gnk_last_error());
    CHECK(!memcmp(y, j->want, sizeof(float) * (size_t)total), "a concurrent execute gave other bits than the serial one");
  }
  free(y);
  return NULL;
}

static void run_executors(const gnk_plan *plan, const gnk_desc *d, const float *x, const float *want) {
  job j = {plan, d, x, want, 3};
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; ++i) pthread_create(&t[i], NULL, execute_main, &j);
  for (int i = 0; i < THREADS; ++i) pthread_join(t[i], NULL);
}

/* A caller's pool: one pthread per task (a server's pool in miniature). */
typedef struct task_arg {
  gnk_task_fn task;
  void *ctx;
  int64_t i;
} task_arg;
static void *task_main(void *arg) {
  task_arg *a = arg;
  a->task(a->ctx, a->i);
  return NULL;
}
static void threads_parallel_for(void *pool, gnk_task_fn task, void *ctx, int64_t count) {
  (void)pool;
  pthread_t t[64];
  task_arg a[64];
  if (count > 64) count = 64; /* gnk would then report GNK_ERR_PARALLEL_FOR; never with these plans */
  for (int64_t i = 0; i < count; ++i) {
    a[i] = (task_arg){task, ctx, i};
    pthread_create(&t[i], NULL, task_main, &a[i]);
  }
  for (int64_t i = 0; i < count; ++i) pthread_join(t[i], NULL);
}

static void executors(void) {
  for (int l = 0; l < 2; ++l)
    for (int mode = 0; mode < 3; ++mode) { /* gnk's pool at 1 and 2 threads, the caller's parallel_for */
      const gnk_desc d = make_desc((gnk_layout)l, GNK_ACT_SILU, 2, 64, 1500, 8);
      const int64_t total = desc_numel(&d);
      float *x = tensor(total, (unsigned)(l * 3 + mode)), *want = malloc(sizeof(float) * (size_t)total);
      gnk_plan_options o = {GNK_ESTIMATE, mode == 0 ? 1 : 2, mode == 2 ? threads_parallel_for : NULL, NULL};
      gnk_plan *plan = NULL;
      CHECK(gnk_plan_create_ex(&plan, &d, &o) == GNK_OK, "plan: %s", gnk_last_error());
      CHECK(gnk_execute(plan, x, want, NULL, NULL) == GNK_OK, "serial execute: %s", gnk_last_error());
      run_executors(plan, &d, x, want);
      gnk_plan_destroy(plan);
      free(x);
      free(want);
    }
  /* the one-shot API: plan cache lookups and gnk's default pool */
  const gnk_desc d = make_desc(GNK_LAYOUT_NHWC, GNK_ACT_RELU, 3, 32, 333, 4);
  float *x = tensor(desc_numel(&d), 11), *want = malloc(sizeof(float) * (size_t)desc_numel(&d));
  CHECK(gnk_group_norm(&d, x, want, NULL, NULL) == GNK_OK, "gnk_group_norm: %s", gnk_last_error());
  run_executors(NULL, &d, x, want);
  free(x);
  free(want);
}

/* ---- 4. the general path ---- */
typedef struct gjob {
  const gnk_plan *plan;
  const float *x, *mask, *want;
  int64_t total;
} gjob;

static void *general_main(void *arg) {
  const gjob *j = arg;
  float *y = malloc(sizeof(float) * (size_t)j->total);
  pthread_barrier_wait(&barrier);
  for (int r = 0; r < 3; ++r) {
    CHECK(gnk_general_execute(j->plan, j->x, y, NULL, NULL, j->mask, NULL, NULL) == GNK_OK, "general: %s",
          gnk_last_error());
    CHECK(!memcmp(y, j->want, sizeof(float) * (size_t)j->total), "a concurrent general execute gave other bits");
  }
  free(y);
  return NULL;
}

static void general(void) {
  gnk_general_desc d;
  gnk_general_desc_init(&d);
  d.rank = 3;
  d.shape[0] = 4;
  d.shape[1] = 200;
  d.shape[2] = 12;
  d.channel_axis = 2;
  d.groups = 4;
  d.has_mask = 1;
  d.act = GNK_ACT_SILU;
  const int64_t total = 4 * 200 * 12;
  float *x = tensor(total, 21), *mask = tensor(total, 22), *want = malloc(sizeof(float) * (size_t)total);
  for (int64_t i = 0; i < total; ++i) mask[i] = fabsf(mask[i]);
  gnk_plan_options o = {GNK_ESTIMATE, 2, NULL, NULL};
  gnk_plan *plan = NULL;
  CHECK(gnk_general_plan_create(&plan, &d, &o) == GNK_OK, "general plan: %s", gnk_last_error());
  CHECK(gnk_general_execute(plan, x, want, NULL, NULL, mask, NULL, NULL) == GNK_OK, "general: %s", gnk_last_error());
  gjob j = {plan, x, mask, want, total};
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; ++i) pthread_create(&t[i], NULL, general_main, &j);
  for (int i = 0; i < THREADS; ++i) pthread_join(t[i], NULL);
  gnk_plan_destroy(plan);
  free(x);
  free(mask);
  free(want);
}

/* ---- 5. wisdom and the plan cache while others plan ---- */
static void *planner_main(void *arg) {
  const int id = (int)(intptr_t)arg;
  pthread_barrier_wait(&barrier);
  for (int r = 0; r < 4; ++r) {
    const gnk_desc d = make_desc(r % 2 ? GNK_LAYOUT_NHWC : GNK_LAYOUT_NCHW, GNK_ACT_NONE, 1, 32, 97 + 16 * id + r, 4);
    gnk_plan *p = NULL;
    gnk_plan_options o = {GNK_MEASURE, 1, NULL, NULL};
    CHECK(gnk_plan_create_ex(&p, &d, &o) == GNK_OK, "plan: %s", gnk_last_error());
    (void)gnk_plan_cache_size();
    gnk_plan_destroy(p);
  }
  return NULL;
}

static void *wisdom_main(void *arg) {
  (void)arg;
  pthread_barrier_wait(&barrier);
  for (int r = 0; r < 20; ++r) {
    char *w = NULL;
    CHECK(gnk_wisdom_export_string(&w) == GNK_OK, "export: %s", gnk_last_error());
    if (w) {
      CHECK(gnk_wisdom_import_string(w) == GNK_OK, "import of a fresh export: %s", gnk_last_error());
      gnk_free(w);
    }
    (void)gnk_wisdom_size();
    if (r % 7 == 6) gnk_wisdom_forget();
  }
  return NULL;
}

static void wisdom_while_planning(void) {
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; ++i)
    pthread_create(&t[i], NULL, i < 2 ? wisdom_main : planner_main, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; ++i) pthread_join(t[i], NULL);
}

int main(void) {
  pthread_barrier_init(&barrier, NULL, THREADS);
  single_flight();
  executors();
  general();
  wisdom_while_planning();
  pthread_barrier_destroy(&barrier);
  const int f = atomic_load(&failures);
  printf("tsan_stress: %s (single flight, many executors over gnk's pool and a caller's parallel_for, "
         "one-shot, general path, wisdom while planning)\n",
         f ? "FAILED" : "all checks passed");
  return f ? 1 : 0;
}
