/* ev unit test: file events and timers fire, and the adaptive busy-poll
 * window grows while events keep arriving, shrinks back to zero when the
 * loop only wakes for timers, and stays zero when polling is off. */
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

int main(void)
{
    test_events_and_timers();
    test_busy_poll_adapts();
    return unit_report("ev");
}
