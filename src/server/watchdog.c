/* watchdog: while watchdog-period is above 0, each cron tick re-arms a
 * one-shot timer of that period aimed at the main thread. A main thread
 * that does not return to the cron in time (a slow command, a stall in a
 * system call) gets SIGALRM, whose handler logs the stack it was
 * interrupted in, and goes on (a load or a busy script counts as one long
 * stall, though it serves events). As in Redis the period is raised to two
 * cron ticks at least, so an idle server never trips it. */
#include "server/watchdog.h"

#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "server/crash.h"
#include "server/server.h"

/* Made on first use, from the cron: on the main thread, after daemonize's
 * fork (a forked child never runs the cron). */
static timer_t timer;
static int created;
static int armed;

static void expired(int sig)
{
    (void)sig;
    int fd = log_fd();
    static const char head[] = "\n--- WATCHDOG TIMER EXPIRED ---\n";
    static const char tail[] = "--------\n\n";
    ssize_t w = write(fd, head, sizeof(head) - 1);
    crash_log_stack(fd);
    w = write(fd, tail, sizeof(tail) - 1);
    (void)w;
}

static int create(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = expired;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigaction(SIGALRM, &sa, NULL);
    struct sigevent ev;
    memset(&ev, 0, sizeof(ev));
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGALRM;
    ev._sigev_un._tid = gettid();
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) {
        return -1;
    }
    created = 1;
    return 0;
}

static void arm(long ms)
{
    struct itimerspec it;
    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_nsec = (ms % 1000) * 1000000L;
    timer_settime(timer, 0, &it, NULL);
}

void watchdog_cron(void)
{
    long period = server.cfg.watchdog_period;
    if (period <= 0) {
        if (armed) {
            arm(0);
            armed = 0;
        }
        return;
    }
    /* Only the event loop's own turns re-arm it: a load or a busy script
     * serves events (and runs the cron) from deep inside, yet holds the
     * server all the same, so it is reported, as in Redis. */
    if (client_serving_events_inside()) {
        return;
    }
    if (!created && create() < 0) {
        return;
    }
    long tick = 1000 / (server.cfg.hz > 0 ? server.cfg.hz : 10);
    arm(period < 2 * tick ? 2 * tick : period);
    armed = 1;
}
