/* threadpool.c: gnk's own pool, created on first use and reused.
 *
 * One job at a time: a caller that finds the pool busy (another thread is
 * executing a plan) runs its job inline instead of queueing; results are the
 * same either way because the work split never changes the arithmetic.
 * Workers spin briefly (about 50 us) after a job (back-to-back layers are common) and then
 * sleep on a condition variable. Tasks are claimed with an atomic counter. */
#include "gnk_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* A spin-wait hint to the core (and to its SMT sibling). */
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
  __asm__ __volatile__("yield" ::: "memory");
#else
  __asm__ __volatile__("" ::: "memory");
#endif
}

typedef struct job {
  gnk_task_fn task;
  void *ctx;
  int64_t count;
  atomic_llong next;
  int wanted;        /* workers 0..wanted-1 take part */
  unsigned gen;      /* generation at which the job was published */
  atomic_int active; /* workers still inside this job */
} job;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER; /* guards start-up and `workers` */
static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER; /* held by the caller running a job */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static atomic_uint generation;
static job *_Atomic current;
static int workers; /* started worker threads */
static atomic_llong last_end_ns; /* when the last job ended (gnk_now_ns) */

/* Workers spin for SPIN_NS after a job; a job that ended WARM_NS ago leaves
 * them most likely still spinning. */
#define SPIN_NS 5e4
#define WARM_NS 4e4

static void drain(job *j) {
  for (;;) {
    int64_t i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
    if (i >= j->count) break;
    j->task(j->ctx, i);
  }
}

typedef struct worker_start {
  int id;
  unsigned seen; /* generation when created: a job published later is joined */
} worker_start;

static void *worker_main(void *arg) {
  const worker_start ws = *(worker_start *)arg;
  free(arg);
  const int id = ws.id;
  unsigned seen = ws.seen;
  for (;;) {
    unsigned g;
    /* Spin about 50 us (back-to-back layers), then sleep: on a small shared
     * machine a longer spin steals the core the caller needs. */
    const double spin_until = gnk_now_ns() + SPIN_NS;
    while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen && gnk_now_ns() < spin_until) {
      for (int k = 0; k < 64; ++k) cpu_relax();
    }
    if (g == seen) {
      pthread_mutex_lock(&wake_lock);
      while ((g = atomic_load(&generation)) == seen) pthread_cond_wait(&wake_cond, &wake_lock);
      pthread_mutex_unlock(&wake_lock);
    }
    /* `current` is published before `generation` moves, so a job seen here is
     * at least as new as g; each job is joined at most once (its gen). */
    job *j = atomic_load_explicit(&current, memory_order_acquire);
    if (j && j->gen != seen) {
      seen = j->gen;
      if (id < j->wanted) {
        drain(j);
        atomic_fetch_sub_explicit(&j->active, 1, memory_order_release);
      }
    } else {
      seen = g;
    }
  }
  return NULL;
}

static int ensure_workers(int n) {
  pthread_mutex_lock(&pool_lock);
  while (workers < n) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    worker_start *ws = malloc(sizeof *ws);
    if (!ws) { pthread_attr_destroy(&attr); break; }
    ws->id = workers;
    ws->seen = atomic_load(&generation); /* stable: callers hold busy_lock */
    int rc = pthread_create(&t, &attr, worker_main, ws);
    pthread_attr_destroy(&attr);
    if (rc != 0) { free(ws); break; }
    ++workers;
  }
  int have = workers;
  pthread_mutex_unlock(&pool_lock);
  return have;
}

void gnk_pool_parallel_for(int threads, gnk_task_fn task, void *ctx, int64_t count) {
  if (count <= 0) return;
  if (threads > count) threads = (int)count;
  if (threads <= 1 || pthread_mutex_trylock(&busy_lock) != 0) {
    for (int64_t i = 0; i < count; ++i) task(ctx, i);
    return;
  }
  int helpers = ensure_workers(threads - 1);
  if (helpers > threads - 1) helpers = threads - 1;
  job j = {task, ctx, count, 0, helpers, atomic_load(&generation) + 1u, helpers};
  atomic_store_explicit(&current, &j, memory_order_release);
  pthread_mutex_lock(&wake_lock);
  atomic_store_explicit(&generation, j.gen, memory_order_release);
  pthread_cond_broadcast(&wake_cond);
  pthread_mutex_unlock(&wake_lock);
  drain(&j);
  while (atomic_load_explicit(&j.active, memory_order_acquire) > 0) sched_yield();
  atomic_store(&current, NULL);
  atomic_store_explicit(&last_end_ns, (long long)gnk_now_ns(), memory_order_relaxed);
  pthread_mutex_unlock(&busy_lock);
}

int gnk_pool_warm(void) {
  const long long end = atomic_load_explicit(&last_end_ns, memory_order_relaxed);
  return end != 0 && gnk_now_ns() - (double)end < WARM_NS;
}
