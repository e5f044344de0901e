/* io_threads: a fixed pool of I/O threads fed one batch at a time.
 *
 * Each worker has its own job list and a counter of jobs posted. A worker
 * spins on its counter for a short while after each batch (the next batch
 * of a busy server comes within microseconds, and a sleeping thread takes
 * tens of microseconds to wake), then parks on a condition variable so an
 * idle server burns no core. The main thread posts, does its own share,
 * then spins until every worker has zeroed its counter. */
#include "server/io_threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "server/server.h"

/* How long a worker keeps spinning after its last batch before parking. */
#define SPIN_US 1000

typedef struct worker {
    pthread_t thread;
    void **jobs; /* written by the main thread only while pending is 0 */
    int cap;
    void (*fn)(void *item);
    atomic_int pending; /* jobs posted and not yet done */
    atomic_int parked;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} worker;

static worker *workers; /* workers[0] is unused: index 0 is the main thread */
static int nthreads = 1;
static int active;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (;;) {
        int64_t since = util_mono_us();
        unsigned spins = 0;
        int n;
        while ((n = atomic_load_explicit(&w->pending, memory_order_acquire)) == 0) {
            cpu_relax();
            if ((++spins & 255) == 0 && util_mono_us() - since > SPIN_US) {
                /* Park. The main thread stores pending before it reads
                 * parked, and we store parked before we read pending, so
                 * one of the two always sees the other (no lost wake-up). */
                pthread_mutex_lock(&w->mu);
                atomic_store(&w->parked, 1);
                while (atomic_load(&w->pending) == 0) {
                    pthread_cond_wait(&w->cv, &w->mu);
                }
                atomic_store(&w->parked, 0);
                pthread_mutex_unlock(&w->mu);
                since = util_mono_us();
            }
        }
        for (int i = 0; i < n; i++) {
            w->fn(w->jobs[i]);
        }
        atomic_store_explicit(&w->pending, 0, memory_order_release);
    }
    return NULL; /* not reached: workers live as long as the process */
}

void io_threads_start(int n)
{
    if (n <= 1 || workers) {
        return;
    }
    workers = alloc_zero(sizeof(worker) * (size_t)n);
    nthreads = n;
    for (int i = 1; i < n; i++) {
        worker *w = &workers[i];
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            log_msg(LOG_WARNING, "Fatal: can't initialize IO thread.");
            exit(1);
        }
    }
    log_msg(LOG_NOTICE, "%d I/O threads started (the main thread included).", n);
}

int io_threads_engage(int n)
{
    if (nthreads <= 1) {
        return 0;
    }
    int min = server.cfg.io_threads_min_clients > 0 ? server.cfg.io_threads_min_clients : nthreads * 2;
    active = n >= min;
    return active;
}

int io_threads_enabled(void)
{
    return nthreads > 1;
}

int io_threads_active(void)
{
    return active;
}

void io_threads_run(void **items, int n, void (*fn)(void *item))
{
    int per = n / nthreads + 1;
    for (int t = 1; t < nthreads; t++) {
        worker *w = &workers[t];
        if (w->cap < per) {
            w->cap = per;
            w->jobs = alloc_resize(w->jobs, sizeof(void *) * (size_t)per);
        }
        int k = 0;
        for (int i = t; i < n; i += nthreads) {
            w->jobs[k++] = items[i];
        }
        if (k == 0) {
            continue;
        }
        w->fn = fn;
        atomic_store(&w->pending, k);
        if (atomic_load(&w->parked)) {
            pthread_mutex_lock(&w->mu);
            pthread_cond_signal(&w->cv);
            pthread_mutex_unlock(&w->mu);
        }
    }
    for (int i = 0; i < n; i += nthreads) {
        fn(items[i]);
    }
    for (int t = 1; t < nthreads; t++) {
        unsigned spins = 0;
        while (atomic_load_explicit(&workers[t].pending, memory_order_acquire) != 0) {
            /* With more threads than free cores the worker may be off-CPU:
             * give it the core rather than spin through its time slice. */
            if (++spins > 1000) {
                sched_yield();
            } else {
                cpu_relax();
            }
        }
    }
}
