/* ev: the event loop. epoll for file descriptors plus millisecond timers.
 * One loop runs in the main thread and owns all data. */
#ifndef KEEL_EV_H
#define KEEL_EV_H

#include <stdint.h>

#define EV_READABLE 1
#define EV_WRITABLE 2

typedef struct ev_loop ev_loop;
typedef void (*ev_file_fn)(ev_loop *loop, int fd, void *data, int mask);
/* Returns the delay in ms before it runs again, or -1 to be removed. */
typedef long (*ev_timer_fn)(ev_loop *loop, long long id, void *data);
typedef void (*ev_hook_fn)(ev_loop *loop);

ev_loop *ev_new(int setsize);
void ev_free(ev_loop *loop);
/* Grow the fd table; returns 0 or -1 if fds above the new size are in use. */
int ev_resize(ev_loop *loop, int setsize);
int ev_setsize(ev_loop *loop);
int ev_add(ev_loop *loop, int fd, int mask, ev_file_fn fn, void *data);
void ev_del(ev_loop *loop, int fd, int mask);
int ev_mask(ev_loop *loop, int fd);
long long ev_timer_add(ev_loop *loop, long ms, ev_timer_fn fn, void *data);
void ev_timer_del(ev_loop *loop, long long id);
void ev_set_before_sleep(ev_loop *loop, ev_hook_fn fn);
/* Run right before and right after each wait for events (modules' GIL). */
void ev_set_wait_hooks(ev_loop *loop, void (*before)(void), void (*after)(void));
/* Poll for up to max_us (adaptively) before sleeping; 0 disables. */
void ev_set_busy_poll(ev_loop *loop, long max_us);
/* The current polling window in microseconds (tests and INFO). */
long ev_busy_poll_window(ev_loop *loop);
/* Process ready events once; wait at most max_wait_ms (-1: until a timer). */
int ev_process(ev_loop *loop, long max_wait_ms);
void ev_run(ev_loop *loop);
/* 1 while ev_run's own ev_process handles events (not a nested call from
 * a handler, not a call from outside ev_run), so work left for the next
 * before_sleep will be picked up. */
int ev_in_main_iteration(ev_loop *loop);
void ev_stop(ev_loop *loop);

#endif
