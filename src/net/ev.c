/* ev: epoll-backed event loop with a short list of timers (the server has
 * only a handful, so a linear scan is cheaper than a heap). */
#include "net/ev.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/util.h"

typedef struct ev_file {
    int mask;
    ev_file_fn rfn;
    ev_file_fn wfn;
    void *data;
} ev_file;

typedef struct ev_timer {
    long long id;
    int64_t when_us;
    ev_timer_fn fn;
    void *data;
    struct ev_timer *next;
} ev_timer;

struct ev_loop {
    int epfd;
    int setsize;
    ev_file *files;
    struct epoll_event *fired;
    ev_timer *timers;
    long long next_timer_id;
    int stop;
    ev_hook_fn before_sleep;
    void (*before_wait)(void), (*after_wait)(void); /* around each wait for events */
    long poll_max_us;                               /* busy-poll ceiling; 0 turns polling off */
    long poll_us;                                   /* current window, adapted to how long sleeps last */
    int depth;                                      /* ev_process calls in progress */
    int from_run;                                   /* the outermost of them is ev_run's */
};

ev_loop *ev_new(int setsize)
{
    ev_loop *l = alloc_zero(sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        alloc_free(l);
        return NULL;
    }
    l->setsize = setsize;
    l->files = alloc_zero(sizeof(ev_file) * (size_t)setsize);
    l->fired = alloc_zero(sizeof(struct epoll_event) * (size_t)setsize);
    return l;
}

void ev_free(ev_loop *l)
{
    if (!l) {
        return;
    }
    close(l->epfd);
    while (l->timers) {
        ev_timer *t = l->timers;
        l->timers = t->next;
        alloc_free(t);
    }
    alloc_free(l->files);
    alloc_free(l->fired);
    alloc_free(l);
}

int ev_resize(ev_loop *l, int setsize)
{
    for (int fd = setsize; fd < l->setsize; fd++) {
        if (l->files[fd].mask) {
            return -1;
        }
    }
    l->files = alloc_resize(l->files, sizeof(ev_file) * (size_t)setsize);
    l->fired = alloc_resize(l->fired, sizeof(struct epoll_event) * (size_t)setsize);
    for (int fd = l->setsize; fd < setsize; fd++) {
        l->files[fd] = (ev_file){0};
    }
    l->setsize = setsize;
    return 0;
}

int ev_setsize(ev_loop *l)
{
    return l->setsize;
}

static int epoll_mask(int mask)
{
    return ((mask & EV_READABLE) ? EPOLLIN : 0) | ((mask & EV_WRITABLE) ? EPOLLOUT : 0);
}

int ev_add(ev_loop *l, int fd, int mask, ev_file_fn fn, void *data)
{
    if (fd >= l->setsize) {
        errno = ERANGE;
        return -1;
    }
    ev_file *f = &l->files[fd];
    int op = f->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    struct epoll_event ee = {.events = (uint32_t)epoll_mask(f->mask | mask), .data.fd = fd};
    if (epoll_ctl(l->epfd, op, fd, &ee) < 0) {
        return -1;
    }
    f->mask |= mask;
    if (mask & EV_READABLE) {
        f->rfn = fn;
    }
    if (mask & EV_WRITABLE) {
        f->wfn = fn;
    }
    f->data = data;
    return 0;
}

void ev_del(ev_loop *l, int fd, int mask)
{
    if (fd >= l->setsize) {
        return;
    }
    ev_file *f = &l->files[fd];
    if (!(f->mask & mask)) {
        return;
    }
    f->mask &= ~mask;
    struct epoll_event ee = {.events = (uint32_t)epoll_mask(f->mask), .data.fd = fd};
    epoll_ctl(l->epfd, f->mask ? EPOLL_CTL_MOD : EPOLL_CTL_DEL, fd, &ee);
}

int ev_mask(ev_loop *l, int fd)
{
    return fd < l->setsize ? l->files[fd].mask : 0;
}

long long ev_timer_add(ev_loop *l, long ms, ev_timer_fn fn, void *data)
{
    ev_timer *t = alloc_zero(sizeof(*t));
    t->id = ++l->next_timer_id;
    t->when_us = util_mono_us() + (int64_t)ms * 1000;
    t->fn = fn;
    t->data = data;
    t->next = l->timers;
    l->timers = t;
    return t->id;
}

void ev_timer_del(ev_loop *l, long long id)
{
    for (ev_timer **pp = &l->timers; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            ev_timer *t = *pp;
            *pp = t->next;
            alloc_free(t);
            return;
        }
    }
}

void ev_set_wait_hooks(ev_loop *l, void (*before)(void), void (*after)(void))
{
    l->before_wait = before;
    l->after_wait = after;
}

void ev_set_before_sleep(ev_loop *l, ev_hook_fn fn)
{
    l->before_sleep = fn;
}

static ev_timer *find_timer(ev_loop *l, long long id)
{
    for (ev_timer *t = l->timers; t; t = t->next) {
        if (t->id == id) {
            return t;
        }
    }
    return NULL;
}

/* Due timers are collected by id first and looked up again before each
 * runs: a callback may add or delete any timer, including one the loop
 * would otherwise still be pointing at. */
static void run_timers(ev_loop *l)
{
    int64_t now = util_mono_us();
    long long stack[64];
    long long *due = stack;
    size_t n = 0, cap = 64;
    for (ev_timer *t = l->timers; t; t = t->next) {
        if (t->when_us <= now) {
            if (n == cap) {
                cap *= 2;
                long long *grown = alloc_mem(sizeof(long long) * cap);
                memcpy(grown, due, sizeof(long long) * n);
                if (due != stack) {
                    alloc_free(due);
                }
                due = grown;
            }
            due[n++] = t->id;
        }
    }
    for (size_t i = 0; i < n; i++) {
        ev_timer *t = find_timer(l, due[i]);
        if (!t) {
            continue;
        }
        long again = t->fn(l, t->id, t->data);
        t = find_timer(l, due[i]);
        if (!t) {
            continue;
        }
        if (again < 0) {
            ev_timer_del(l, due[i]);
        } else {
            t->when_us = util_mono_us() + (int64_t)again * 1000;
        }
    }
    if (due != stack) {
        alloc_free(due);
    }
}

void ev_set_busy_poll(ev_loop *l, long max_us)
{
    l->poll_max_us = max_us > 0 ? max_us : 0;
    if (l->poll_us > l->poll_max_us) {
        l->poll_us = l->poll_max_us;
    }
}

long ev_busy_poll_window(ev_loop *l)
{
    return l->poll_us;
}

/* Waits for events, polling for up to poll_us before sleeping. A sleeping
 * thread is woken through the scheduler, and on a virtual machine whose
 * guest does not halt-poll that wake-up is the dearest part of a small
 * request's round trip. The window adapts like the kernel's haltpoll
 * governor: it grows while sleeps end within the ceiling (traffic is dense
 * enough that polling would have caught it) and shrinks when they do not, so
 * an idle or sparsely used server does not spin. */
static int wait_events(ev_loop *l, int wait_ms)
{
    if (wait_ms == 0 || l->poll_max_us == 0) {
        return epoll_wait(l->epfd, l->fired, l->setsize, wait_ms);
    }
    int64_t start = util_mono_us();
    if (l->poll_us > 0) {
        int64_t until = start + l->poll_us;
        do {
            int n = epoll_wait(l->epfd, l->fired, l->setsize, 0);
            if (n != 0) {
                return n;
            }
        } while (util_mono_us() < until);
    }
    int n = epoll_wait(l->epfd, l->fired, l->setsize, wait_ms);
    int64_t slept = util_mono_us() - start;
    if (n > 0 && slept <= l->poll_max_us) {
        long grown = l->poll_us ? l->poll_us * 2 : 10;
        l->poll_us = grown < l->poll_max_us ? grown : l->poll_max_us;
    } else {
        l->poll_us = l->poll_us >= 20 ? l->poll_us / 2 : 0;
    }
    return n;
}

int ev_process(ev_loop *l, long max_wait_ms)
{
    long wait = max_wait_ms;
    int64_t now = util_mono_us();
    for (ev_timer *t = l->timers; t; t = t->next) {
        long d = t->when_us <= now ? 0 : (long)((t->when_us - now + 999) / 1000);
        if (wait < 0 || d < wait) {
            wait = d;
        }
    }
    if (l->before_wait) {
        l->before_wait();
    }
    int n = wait_events(l, (int)wait);
    if (l->after_wait) {
        l->after_wait();
    }
    l->depth++;
    for (int i = 0; i < n; i++) {
        int fd = l->fired[i].data.fd;
        uint32_t ev = l->fired[i].events;
        ev_file *f = &l->files[fd];
        int fired_read = 0;
        if ((f->mask & EV_READABLE) && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
            fired_read = 1;
            f->rfn(l, fd, f->data, EV_READABLE);
        }
        f = &l->files[fd]; /* the handler may have resized the table */
        if ((f->mask & EV_WRITABLE) && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            if (!fired_read || f->wfn != f->rfn) {
                f->wfn(l, fd, f->data, EV_WRITABLE);
            }
        }
    }
    run_timers(l);
    l->depth--;
    return n;
}

int ev_in_main_iteration(ev_loop *l)
{
    return l->depth == 1 && l->from_run;
}

void ev_run(ev_loop *l)
{
    l->stop = 0;
    while (!l->stop) {
        if (l->before_sleep) {
            l->before_sleep(l);
        }
        l->from_run = 1;
        ev_process(l, -1);
        l->from_run = 0;
    }
}

void ev_stop(ev_loop *l)
{
    l->stop = 1;
}
