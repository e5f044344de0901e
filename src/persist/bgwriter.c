/* bgwriter: see bgwriter.h. Bytes are gathered into 1 MB chunks; a full
 * chunk joins a queue that the thread empties in order. */
#include "persist/bgwriter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"

#define CHUNK (1u << 20)
#define SYNC_EVERY (8u << 20)
/* The most that may wait for the thread: past it the caller waits (its
 * memory is bounded, whatever the disk's speed). Callers that can pause
 * their own output (the snapshot walk) stop well before this. */
#define MAX_PENDING (8u << 20)

typedef struct chunk {
    struct chunk *next;
    size_t len;
    char data[];
} chunk;

struct bgwriter {
    int fd;
    int incremental_sync;
    chunk *cur; /* being filled by the caller */
    pthread_mutex_t lock;
    pthread_cond_t cond;    /* chunks queued, or closing */
    pthread_cond_t drained; /* a chunk was written */
    chunk *head, *tail;     /* queued for the thread */
    size_t pending;         /* bytes in the queue */
    int closing, stop;      /* no more chunks will come; give up at once */
    int err;                /* the first write error */
    pthread_t thread;
};

static chunk *chunk_new(void)
{
    chunk *c = alloc_mem(sizeof(chunk) + CHUNK);
    c->next = NULL;
    c->len = 0;
    return c;
}

/* SCHED_IDLE, or back to the normal policy while someone waits for the
 * thread (other load on the core would otherwise starve it then). */
static void set_idle(pthread_t t, int idle)
{
    struct sched_param none = {0};
    pthread_setschedparam(t, idle ? SCHED_IDLE : SCHED_OTHER, &none);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno ? errno : EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *writer_main(void *arg)
{
    bgwriter *w = arg;
    /* Run only when the event loop leaves the CPU free: on a shared core a
     * runnable writer at equal weight takes whole scheduler slices (ms)
     * from the loop. A caller that has to wait for it lifts it (priority). */
    set_idle(pthread_self(), 1);
    unsigned long long written = 0, synced = 0;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->closing && !w->stop) {
            pthread_cond_wait(&w->cond, &w->lock);
        }
        if (w->stop || !w->head) {
            break; /* stopped, or closing with nothing left */
        }
        chunk *c = w->head;
        w->head = c->next;
        if (!w->head) {
            w->tail = NULL;
        }
        pthread_mutex_unlock(&w->lock);
        int err = w->err ? 0 : write_all(w->fd, c->data, c->len);
        written += c->len;
        if (!err && w->incremental_sync && written - synced >= SYNC_EVERY) {
            /* Start the writeback now, so the final fsync has little left
             * and the kernel never throttles us for a pile of dirty pages. */
            sync_file_range(w->fd, (off64_t)synced, (off64_t)(written - synced), SYNC_FILE_RANGE_WRITE);
            synced = written;
        }
        pthread_mutex_lock(&w->lock);
        if (err && !w->err) {
            w->err = err;
        }
        w->pending -= c->len;
        pthread_cond_signal(&w->drained);
        alloc_free(c);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

bgwriter *bgwriter_open(int fd, int incremental_sync)
{
    bgwriter *w = alloc_zero(sizeof(*w));
    w->fd = fd;
    w->incremental_sync = incremental_sync;
    w->cur = chunk_new();
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->drained, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        pthread_cond_destroy(&w->drained);
        alloc_free(w->cur);
        alloc_free(w);
        return NULL;
    }
    return w;
}

static void enqueue_current(bgwriter *w)
{
    chunk *c = w->cur;
    w->cur = chunk_new();
    pthread_mutex_lock(&w->lock);
    if (w->tail) {
        w->tail->next = c;
    } else {
        w->head = c;
    }
    w->tail = c;
    w->pending += c->len;
    pthread_cond_signal(&w->cond);
    if (w->pending > MAX_PENDING && !w->err) {
        set_idle(w->thread, 0);
        while (w->pending > MAX_PENDING / 2 && !w->err) {
            pthread_cond_wait(&w->drained, &w->lock);
        }
        set_idle(w->thread, 1);
    }
    pthread_mutex_unlock(&w->lock);
}

void bgwriter_write(bgwriter *w, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        size_t room = CHUNK - w->cur->len;
        size_t take = n < room ? n : room;
        memcpy(w->cur->data + w->cur->len, s, take);
        w->cur->len += take;
        s += take;
        n -= take;
        if (w->cur->len == CHUNK) {
            enqueue_current(w);
        }
    }
}

size_t bgwriter_pending(bgwriter *w)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->pending;
    pthread_mutex_unlock(&w->lock);
    return n + w->cur->len;
}

static void finish_thread(bgwriter *w, int stop)
{
    pthread_mutex_lock(&w->lock);
    w->closing = 1;
    w->stop = stop;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    for (chunk *c = w->head, *next; c; c = next) {
        next = c->next;
        alloc_free(c);
    }
    alloc_free(w->cur);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->drained);
}

int bgwriter_close(bgwriter *w)
{
    if (w->cur->len > 0) {
        enqueue_current(w);
    }
    finish_thread(w, 0);
    int err = w->err;
    if (!err && fsync(w->fd) != 0) {
        err = errno ? errno : EIO;
    }
    if (close(w->fd) != 0 && !err) {
        err = errno ? errno : EIO;
    }
    alloc_free(w);
    return err;
}

void bgwriter_abort(bgwriter *w)
{
    finish_thread(w, 1);
    close(w->fd);
    alloc_free(w);
}
