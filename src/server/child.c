/* child: the background child process. See child.h. */
#include "server/child.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "module/module.h"
#include "server/latency.h"
#include "server/oom_score.h"
#include "server/server.h"

static pid_t pid = -1;
static int type = CHILD_NONE;
static int64_t started;
static void (*on_done)(int ok);
static void (*on_done_status)(int exitcode, int bysignal); /* an inline child's */
static child_cow cow;
static int progress_rd = -1; /* the server's end of the progress pipe */
static int progress_wr = -1; /* the child's end */
static long long progress_done, progress_total;
static double fork_progress = -1;

/* A report: keys done, keys in all, and a module child's progress in
 * millionths (-1: none given). */
static void report(long long done, long long total, long long millionths)
{
    if (progress_wr >= 0) {
        long long rec[3] = {done, total, millionths};
        /* Whole or not at all (24 bytes < PIPE_BUF); a full pipe drops it. */
        ssize_t n = write(progress_wr, rec, sizeof(rec));
        (void)n;
    }
}

void child_report_progress(long long done, long long total)
{
    report(done, total, -1);
}

void child_report_fork_progress(double progress)
{
    report(0, 0, progress < 0 ? -1 : (long long)(progress * 1e6));
}

double child_fork_progress(void)
{
    return pid > 0 ? fork_progress : -1;
}

int child_progress(long long *done, long long *total)
{
    *done = pid > 0 ? progress_done : 0;
    *total = pid > 0 ? progress_total : 0;
    return pid > 0;
}

static void read_progress(void)
{
    long long rec[3];
    while (progress_rd >= 0 && read(progress_rd, rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
        progress_done = rec[0];
        progress_total = rec[1];
        if (rec[2] >= 0) {
            fork_progress = (double)rec[2] / 1e6;
        }
    }
}

static void close_progress(void)
{
    if (progress_rd >= 0) {
        close(progress_rd);
    }
    progress_rd = -1;
    progress_done = progress_total = 0;
    fork_progress = -1;
}

const child_cow *child_cow_info(void)
{
    return &cow;
}

/* The child's private dirty memory (its copies), from smaps_rollup. */
static void sample_cow(void)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    size_t kb = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long v;
        if (sscanf(line, "Private_Dirty: %lu kB", &v) == 1) {
            kb += v;
        }
    }
    fclose(f);
    cow.current = kb * 1024;
    cow.sampled_ms = server_ms();
    if (cow.current > cow.peak) {
        cow.peak = cow.current;
    }
}

/* A child ended: its peak is the type's last figure. */
static void end_cow(int t)
{
    if (t == CHILD_RDB) {
        cow.last_rdb = cow.peak;
    } else if (t == CHILD_AOF) {
        cow.last_aof = cow.peak;
    } else if (t == CHILD_MODULE) {
        cow.last_module = cow.peak;
    }
    cow.current = cow.peak = 0;
    cow.sampled_ms = 0;
}

pid_t child_fork(void)
{
    int64_t before = util_mono_us();
    pid_t p = fork();
    if (p > 0) {
        /* INFO latest_fork_usec: the parent's pause while the kernel copies
         * its page tables. */
        server.stats.latest_fork_usec = util_mono_us() - before;
        server.stats.total_forks++;
        latency_add("fork", server.stats.latest_fork_usec / 1000);
        module_event_fork_child(1);
    }
    return p;
}

/* SIGUSR1 in a module's child: it says so (at verbose, as Redis's module
 * children) and leaves with 255, which the server reads as "ended by
 * SIGUSR1" (Redis's convention for a killed child). */
static void on_kill_signal(int sig)
{
    (void)sig;
    log_from_signal(LOG_VERBOSE, "Received SIGUSR1 in child, exiting now.");
    _exit(255);
}

/* Forks a child of type t: 0 in the child (its end of the progress pipe
 * set), its pid in the server (the child's state recorded), -1. */
static pid_t fork_child(int t)
{
    if (pid > 0) {
        errno = EEXIST;
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        fds[0] = fds[1] = -1;
    }
    pid_t p = child_fork();
    if (p < 0) {
        int e = errno;
        log_msg(LOG_WARNING, "Can't fork a background child: %s", strerror(errno));
        if (fds[0] >= 0) {
            close(fds[0]);
            close(fds[1]);
        }
        errno = e;
        return -1;
    }
    if (p == 0) {
        if (fds[0] >= 0) {
            close(fds[0]);
        }
        progress_wr = fds[1];
        oom_score_apply(OOM_CLASS_CHILD); /* the kernel kills a child first */
        return 0;
    }
    if (fds[1] >= 0) {
        close(fds[1]);
    }
    close_progress();
    progress_rd = fds[0];
    pid = p;
    type = t;
    started = server_ms();
    cow.current = cow.peak = 0;
    on_done = NULL;
    on_done_status = NULL;
    return p;
}

int child_start(int t, int (*fn)(void), void (*done)(int ok))
{
    pid_t p = fork_child(t);
    if (p < 0) {
        return -1;
    }
    if (p == 0) {
        /* The child leaves without the parent's exit work: its sockets,
         * threads and files are not the child's to close or flush. */
        _exit(fn() == 0 ? 0 : 1);
    }
    on_done = done;
    return 0;
}

pid_t child_start_inline(int t, void (*done)(int exitcode, int bysignal))
{
    /* SIGUSR1 stays blocked across the fork until the child's handler is
     * in place: a kill sent at once still reaches the handler instead of
     * ending the child silently. */
    sigset_t usr1, was;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &was);
    pid_t p = fork_child(t);
    if (p == 0) {
        signal(SIGUSR1, on_kill_signal);
    } else if (p > 0) {
        on_done_status = done;
    }
    pthread_sigmask(SIG_SETMASK, &was, NULL);
    return p;
}

void child_exit(int code)
{
    _exit(code);
}

pid_t child_pid(void)
{
    return pid;
}

int child_running(void)
{
    return pid > 0 ? type : CHILD_NONE;
}

int64_t child_started_ms(void)
{
    return started;
}

/* The child is gone: its state cleared (ForkChild's died event is the
 * caller's to fire). */
static void forget_child(void)
{
    close_progress();
    end_cow(type);
    pid = -1;
    type = CHILD_NONE;
    on_done = NULL;
    on_done_status = NULL;
}

void child_reap(void)
{
    if (pid <= 0) {
        return;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) != pid) {
        sample_cow();
        read_progress();
        return;
    }
    int exitcode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int bysignal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (exitcode == 255) {
        exitcode = 1; /* left by the SIGUSR1 handler: killed */
        bysignal = SIGUSR1;
    }
    void (*done)(int) = on_done;
    void (*done_status)(int, int) = on_done_status;
    if (type == CHILD_MODULE && (exitcode != 0 || bysignal)) {
        cow.peak = 0; /* Redis hears a module child's copies only from one that succeeded */
    }
    /* The state goes first: a done handler may start the next child. */
    forget_child();
    if (done_status) {
        /* A module's handler runs before the died event, as in Redis. */
        done_status(exitcode, bysignal);
        module_event_fork_child(0);
        return;
    }
    module_event_fork_child(0);
    if (done) {
        done(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

/* Stops the child and waits for it; a snapshot's or rewrite's done
 * handler hears of the failure, a module's is not called (as Redis's
 * KillForkChild). */
static void kill_child(void)
{
    kill(pid, SIGUSR1);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    void (*done)(int) = on_done;
    forget_child();
    module_event_fork_child(0);
    if (done) {
        done(0);
    }
}

void child_kill(void)
{
    if (pid > 0) {
        kill_child();
    }
}

int child_kill_pid(pid_t p, int t)
{
    if (pid <= 0 || p != pid || type != t) {
        return -1;
    }
    kill_child();
    return 0;
}
