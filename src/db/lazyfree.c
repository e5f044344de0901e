/* lazyfree: one worker thread draining a queue of things to free. The
 * allocator counters are atomic, and the values freed here are no longer
 * reachable from the main thread, so no other locking is needed. */
#include "db/lazyfree.h"

#include <pthread.h>

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

static void free_node(void *n, void *ctx)
{
    (void)ctx;
    kobj_free((kobj *)n);
}

static void *work(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
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
        if (j->obj) {
            kobj_free(j->obj);
        } else {
            ktable_clear(j->table, free_node, NULL);
            alloc_free(j->table);
        }
        alloc_free(j);
        pthread_mutex_lock(&lock);
        pending--;
        freed++;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

void lazyfree_start(void)
{
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
}

static void enqueue(job *j)
{
    if (!running) {
        if (j->obj) {
            kobj_free(j->obj);
        } else {
            ktable_clear(j->table, free_node, NULL);
            alloc_free(j->table);
        }
        alloc_free(j);
        return;
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
}

void lazyfree_obj(kobj *o)
{
    const type_ops *ops = o->type == OBJ_STRING ? NULL : obj_type_ops(o->type);
    if (!ops || !ops->length || ops->length(kobj_ptr(o)) <= LAZYFREE_THRESHOLD) {
        kobj_free(o);
        return;
    }
    job *j = alloc_zero(sizeof(*j));
    j->obj = o;
    enqueue(j);
}

void lazyfree_table(ktable *t)
{
    job *j = alloc_zero(sizeof(*j));
    j->table = t;
    enqueue(j);
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
