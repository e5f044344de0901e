/* lazyfree: one worker thread draining a queue of things to free. The
 * allocator counters are atomic, and the values freed here are no longer
 * reachable from the main thread, so no other locking is needed. */
#include "db/lazyfree.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/alloc.h"

typedef struct job {
    struct job *next;
    kobj *obj;     /* one entry, or */
    ktable *table; /* a detached table of entries */
} job;

static pthread_t worker;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static job *head, *tail;
static int running;
static size_t pending, freed;
/* Jobs are freed in queue order by one worker, so a job's ticket (its
 * place in the queue) is done once that many jobs are. */
static uint64_t queued;
static _Atomic uint64_t finished;
static int signal_fd = -1;

static void free_node(void *n, void *ctx)
{
    (void)ctx;
    kobj_free((kobj *)n);
}

/* Returns how many objects it freed (INFO lazyfreed_objects counts keys,
 * as Redis: a flushed table adds its size). */
static size_t free_job(job *j)
{
    int table = j->table != NULL;
    size_t n = 1;
    if (j->obj) {
        kobj_free(j->obj);
    } else {
        n = ktable_size(j->table);
        ktable_clear(j->table, free_node, NULL);
        alloc_free(j->table);
    }
    alloc_free(j);
    atomic_fetch_add(&finished, 1);
    if (table && signal_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(signal_fd, &one, sizeof(one));
        (void)w; /* a full counter is still readable */
    }
    return n;
}

static void *work(void *arg)
{
    (void)arg;
    int freed_since_flush = 0;
    pthread_mutex_lock(&lock);
    for (;;) {
        if (!head && freed_since_flush) {
            /* Idle from here: the blocks this thread freed and keeps in
             * its cache go back to their pages, which can then empty (an
             * idle thread's cache is never trimmed, and would hold one
             * block per page of what it freed: fragmentation no
             * defragmentation can move). */
            pthread_mutex_unlock(&lock);
            alloc_thread_cache_flush();
            freed_since_flush = 0;
            pthread_mutex_lock(&lock);
            continue;
        }
        while (!head && running) {
            pthread_cond_wait(&cond, &lock);
        }
        if (!head) {
            break;
        }
        job *j = head;
        head = j->next;
        if (!head) {
            tail = NULL;
        }
        pthread_mutex_unlock(&lock);
        size_t n = free_job(j);
        freed_since_flush = 1;
        pthread_mutex_lock(&lock);
        pending--;
        freed += n;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

void lazyfree_start(void)
{
    signal_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    running = 1;
    pthread_create(&worker, NULL, work, NULL);
}

void lazyfree_stop(void)
{
    if (!running) {
        return;
    }
    pthread_mutex_lock(&lock);
    running = 0;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(worker, NULL);
    if (signal_fd >= 0) {
        close(signal_fd);
        signal_fd = -1;
    }
}

static uint64_t enqueue(job *j)
{
    uint64_t ticket = ++queued;
    if (!running) {
        free_job(j);
        return ticket;
    }
    pthread_mutex_lock(&lock);
    j->next = NULL;
    if (tail) {
        tail->next = j;
    } else {
        head = j;
    }
    tail = j;
    pending++;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    return ticket;
}

static size_t free_effort(const kobj *o, int dbid)
{
    const type_ops *ops = o->type == OBJ_STRING ? NULL : obj_type_ops(o->type);
    if (ops && ops->free_effort) {
        return ops->free_effort(kobj_ptr(o), kobj_key(o), dbid);
    }
    return ops && ops->length ? ops->length(kobj_ptr(o)) : 1;
}

void lazyfree_obj(kobj *o, int dbid)
{
    if (free_effort(o, dbid) <= LAZYFREE_THRESHOLD) {
        kobj_free(o);
        return;
    }
    job *j = alloc_zero(sizeof(*j));
    j->obj = o;
    enqueue(j);
}

uint64_t lazyfree_table(ktable *t)
{
    job *j = alloc_zero(sizeof(*j));
    j->table = t;
    return enqueue(j);
}

int lazyfree_done(uint64_t ticket)
{
    return atomic_load(&finished) >= ticket;
}

int lazyfree_signal_fd(void)
{
    return signal_fd;
}

void lazyfree_drain_signal(void)
{
    uint64_t n;
    ssize_t r = read(signal_fd, &n, sizeof(n));
    (void)r; /* EAGAIN: nothing was signalled */
}

size_t lazyfree_pending(void)
{
    pthread_mutex_lock(&lock);
    size_t n = pending;
    pthread_mutex_unlock(&lock);
    return n;
}

size_t lazyfree_freed(void)
{
    pthread_mutex_lock(&lock);
    size_t n = freed;
    pthread_mutex_unlock(&lock);
    return n;
}

void lazyfree_reset_freed(void)
{
    pthread_mutex_lock(&lock);
    freed = 0;
    pthread_mutex_unlock(&lock);
}
