/* ev unit test: file events and timers fire, the adaptive busy-poll
 * window grows while events keep arriving, shrinks back to zero when the
 * loop only wakes for timers, and stays zero when polling is off; a
 * handler knows whether ev_run's own iteration called it. */
#include <unistd.h>

#include "net/ev.h"
#include "unit.h"

static int reads, ticks;

static void on_read(ev_loop *l, int fd, void *data, int mask)
{
    (void)l;
    (void)data;
    (void)mask;
    char buf[64];
    if (read(fd, buf, sizeof(buf)) > 0) {
        reads++;
    }
}

static long on_tick(ev_loop *l, long long id, void *data)
{
    (void)l;
    (void)id;
    (void)data;
    ticks++;
    return 1;
}

/* One loop iteration with a byte already waiting: the wait ends at once. */
static void feed_once(ev_loop *l, int wfd)
{
    CHECK(write(wfd, "x", 1) == 1);
    ev_process(l, -1);
}

static void test_events_and_timers(void)
{
    ev_loop *l = ev_new(64);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(ev_add(l, p[0], EV_READABLE, on_read, NULL) == 0);
    feed_once(l, p[1]);
    CHECK(reads == 1);
    long long id = ev_timer_add(l, 1, on_tick, NULL);
    ev_process(l, -1);
    CHECK(ticks == 1);
    ev_timer_del(l, id);
    ev_del(l, p[0], EV_READABLE);
    close(p[0]);
    close(p[1]);
    ev_free(l);
}

static void test_busy_poll_adapts(void)
{
    ev_loop *l = ev_new(64);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(ev_add(l, p[0], EV_READABLE, on_read, NULL) == 0);

    /* Off: the window never opens. */
    for (int i = 0; i < 5; i++) {
        feed_once(l, p[1]);
    }
    CHECK(ev_busy_poll_window(l) == 0);

    /* Dense traffic: a wait that ends within the ceiling opens the window;
     * while polling keeps catching events it has no reason to grow. */
    ev_set_busy_poll(l, 200);
    for (int i = 0; i < 20; i++) {
        feed_once(l, p[1]);
    }
    long open = ev_busy_poll_window(l);
    CHECK(open > 0 && open <= 200);
    CHECK(reads == 26);

    /* A lower ceiling clamps the open window. */
    ev_set_busy_poll(l, 5);
    CHECK(ev_busy_poll_window(l) == 5);

    /* Only timers wake the loop: polling was wasted, the window closes. */
    long long id = ev_timer_add(l, 1, on_tick, NULL);
    for (int i = 0; i < 10; i++) {
        ev_process(l, -1);
    }
    CHECK(ev_busy_poll_window(l) == 0);
    ev_timer_del(l, id);

    /* A zero-timeout pass never polls nor adapts. */
    ev_process(l, 0);
    CHECK(ev_busy_poll_window(l) == 0);

    ev_del(l, p[0], EV_READABLE);
    close(p[0]);
    close(p[1]);
    ev_free(l);
}

/* What ev_in_main_iteration said in the handler (outer) and in a handler
 * that the handler's nested ev_process ran (inner). */
static int seen_outer = -1, seen_inner = -1;
static int inner_rfd = -1, inner_wfd = -1;

static void on_read_inner(ev_loop *l, int fd, void *data, int mask)
{
    (void)data;
    (void)mask;
    char buf[8];
    CHECK(read(fd, buf, sizeof(buf)) == 1);
    seen_inner = ev_in_main_iteration(l);
    ev_del(l, fd, EV_READABLE);
}

static void on_read_outer(ev_loop *l, int fd, void *data, int mask)
{
    (void)data;
    (void)mask;
    char buf[8];
    CHECK(read(fd, buf, sizeof(buf)) == 1);
    seen_outer = ev_in_main_iteration(l);
    if (inner_rfd >= 0) {
        /* As a busy script serves other clients from inside a command. */
        CHECK(ev_add(l, inner_rfd, EV_READABLE, on_read_inner, NULL) == 0);
        CHECK(write(inner_wfd, "y", 1) == 1);
        ev_process(l, 0);
    }
    ev_stop(l);
}

static void test_main_iteration(void)
{
    ev_loop *l = ev_new(64);
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0);
    CHECK(ev_add(l, a[0], EV_READABLE, on_read_outer, NULL) == 0);
    /* A direct call (start-up loading, for one) is not ev_run's. */
    CHECK(write(a[1], "x", 1) == 1);
    ev_process(l, -1);
    CHECK(seen_outer == 0);
    inner_rfd = b[0];
    inner_wfd = b[1];
    CHECK(write(a[1], "x", 1) == 1);
    ev_run(l);
    CHECK(seen_outer == 1);
    CHECK(seen_inner == 0);
    CHECK(ev_in_main_iteration(l) == 0); /* after ev_run */
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    ev_free(l);
}

int main(void)
{
    test_events_and_timers();
    test_busy_poll_adapts();
    test_main_iteration();
    return unit_report("ev");
}
