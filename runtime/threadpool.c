/* threadpool.c: gnk's own pool, created on first use and reused.
 *
 * One job at a time: a caller that finds the pool busy (another thread is
 * executing a plan) runs its job inline instead of queueing; results are the
 * same either way because the work split never changes the arithmetic.
 * Workers spin briefly (about 50 us) after a job (back-to-back layers are common) and then
 * sleep on a condition variable. Tasks are claimed with an atomic counter.
 *
 * The caller never waits for a worker that has not woken up: a worker joins
 * the job (the pool's one static job record, so that a late worker reads live
 * memory) only while it is open, the caller closes it when its own share is
 * done and then waits for the joined workers alone. A sleeping worker costs
 * the caller a wake-up call, not the tens of microseconds of a wake-up. */
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
  int wanted; /* workers 0..wanted-1 may take part */
  /* (generation << 32) | JOB_CLOSED | workers inside: a worker joins by
   * incrementing it while it names the generation it was woken for and is
   * open; the caller sets JOB_CLOSED after its own drain and waits for the
   * count to fall to 0. */
  _Atomic uint64_t state;
} job;
#define JOB_CLOSED ((uint64_t)1 << 31)
#define JOB_INSIDE ((uint64_t)JOB_CLOSED - 1)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER; /* guards start-up and `workers` */
static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER; /* held by the caller running a job */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static atomic_uint generation;
static job the_job; /* written by the caller holding busy_lock, before `generation` moves */
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
    /* The job record is filled before `generation` moves. A worker joins it
     * only while its state names generation g and is open, and reads its
     * fields only once joined (the caller cannot finish, nor the next caller
     * refill the record, while a worker is inside): one that wakes after the
     * caller has closed the job, or started a newer one, touches nothing. */
    seen = g;
    job *j = &the_job;
    uint64_t st = atomic_load_explicit(&j->state, memory_order_acquire);
    int joined = 0;
    while (!joined && (unsigned)(st >> 32) == g && !(st & JOB_CLOSED))
      joined = atomic_compare_exchange_weak_explicit(&j->state, &st, st + 1, memory_order_acq_rel, memory_order_acquire);
    if (joined) {
      if (id < j->wanted) drain(j);
      atomic_fetch_sub_explicit(&j->state, 1, memory_order_release);
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
  job *j = &the_job;
  const unsigned gen = atomic_load(&generation) + 1u;
  j->task = task;
  j->ctx = ctx;
  j->count = count;
  atomic_store_explicit(&j->next, 0, memory_order_relaxed);
  j->wanted = helpers;
  atomic_store_explicit(&j->state, (uint64_t)gen << 32, memory_order_release);
  pthread_mutex_lock(&wake_lock);
  atomic_store_explicit(&generation, gen, memory_order_release);
  pthread_cond_broadcast(&wake_cond);
  pthread_mutex_unlock(&wake_lock);
  drain(j);
  atomic_fetch_or_explicit(&j->state, JOB_CLOSED, memory_order_acq_rel);
  while (atomic_load_explicit(&j->state, memory_order_acquire) & JOB_INSIDE) sched_yield(); /* a preempted worker may need this CPU */
  atomic_store_explicit(&last_end_ns, (long long)gnk_now_ns(), memory_order_relaxed);
  pthread_mutex_unlock(&busy_lock);
}

/* ---- fork ----
 * A process that forks after gnk has run (a server that preforks its
 * workers, Python's multiprocessing) leaves the child only the forking
 * thread: the pool's workers, and any thread inside the planner or the
 * wisdom, do not exist there. Without these handlers the child's pool still
 * counted the parent's workers and ran every job on the caller alone (threads
 * = 2 silently ran as 1), and a lock or an unfinished plan of a thread that
 * did not come along hung the child. Before fork() every gnk lock is taken
 * (plan cache, wisdom, then the pool's, the order in which gnk ever nests
 * them), so that no other thread is inside one (an execute in flight finishes
 * first); afterwards the parent releases them, and the child releases them
 * with an empty pool (its workers are created again by its first threaded
 * job) and a plan cache without the parent's unfinished entries. */
static void fork_prepare(void) {
  (void)gnk_cpu_isa(); /* detection finished, not half done by another thread */
  gnk_planner_fork_prepare();
  gnk_wisdom_fork_prepare();
  pthread_mutex_lock(&busy_lock);
  pthread_mutex_lock(&pool_lock);
  pthread_mutex_lock(&wake_lock);
}

static void fork_parent(void) {
  pthread_mutex_unlock(&wake_lock);
  pthread_mutex_unlock(&pool_lock);
  pthread_mutex_unlock(&busy_lock);
  gnk_wisdom_fork_parent();
  gnk_planner_fork_parent();
}

static void fork_child(void) {
  workers = 0;
  atomic_store(&the_job.state, 0);
  atomic_store(&the_job.next, 0);
  atomic_store(&last_end_ns, 0);
  pthread_cond_init(&wake_cond, NULL); /* its waiters were the parent's workers */
  pthread_mutex_unlock(&wake_lock);
  pthread_mutex_unlock(&pool_lock);
  pthread_mutex_unlock(&busy_lock);
  gnk_wisdom_fork_child();
  gnk_planner_fork_child();
}

/* Registered when the library is loaded: a fork can come before any gnk call
 * has made a thread, and after any. */
__attribute__((constructor)) static void register_fork_handlers(void) {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int gnk_pool_warm(void) {
  const long long end = atomic_load_explicit(&last_end_ns, memory_order_relaxed);
  return end != 0 && gnk_now_ns() - (double)end < WARM_NS;
}

/* ---- the caller's parallel_for, checked ---- */
/* Each index's state: 0 not started, 1 running, 2 done. count <= GNK_MAX_THREADS
 * (the work is cut into at most `threads` parts). */
typedef struct checked {
  gnk_task_fn task;
  void *ctx;
  int64_t count;
  _Atomic unsigned char state[GNK_MAX_THREADS];
  atomic_int bad; /* an index outside [0, count) or run twice */
} checked;

static void checked_task(void *c, int64_t i) {
  checked *k = c;
  if (i < 0 || i >= k->count || atomic_exchange_explicit(&k->state[i], 1, memory_order_relaxed) != 0) {
    atomic_store_explicit(&k->bad, 1, memory_order_relaxed);
    return; /* never run twice, never outside the work */
  }
  k->task(k->ctx, i);
  atomic_store_explicit(&k->state[i], 2, memory_order_release);
}

gnk_status gnk_caller_parallel_for(gnk_parallel_for_fn pf, void *pool_ctx, gnk_task_fn task, void *ctx,
                                   int64_t count) {
  if (count > GNK_MAX_THREADS) /* not reached: parts <= threads <= GNK_MAX_THREADS */
    return gnk_fail(GNK_ERR_BAD_THREADS, "%lld parts exceed GNK_MAX_THREADS", (long long)count);
  checked k;
  k.task = task;
  k.ctx = ctx;
  k.count = count;
  for (int64_t i = 0; i < count; ++i) atomic_init(&k.state[i], 0);
  atomic_init(&k.bad, 0);
  pf(pool_ctx, checked_task, &k, count);
  int64_t done = 0;
  for (int64_t i = 0; i < count; ++i) done += atomic_load_explicit(&k.state[i], memory_order_acquire) == 2;
  if (done != count || atomic_load_explicit(&k.bad, memory_order_relaxed))
    return gnk_fail(GNK_ERR_PARALLEL_FOR,
                    "the caller's parallel_for returned with %lld of %lld tasks done%s; it must run task(ctx, i) "
                    "once for every i in [0, count) and return when all are done (the output is unspecified)",
                    (long long)done, (long long)count,
                    atomic_load_explicit(&k.bad, memory_order_relaxed) ? ", and passed an index twice or out of range"
                                                                        : "");
  return GNK_OK;
}

