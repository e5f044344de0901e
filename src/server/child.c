/* child: the background child process. See child.h. */
#include "server/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "module/module.h"
#include "server/latency.h"
#include "server/server.h"

static pid_t pid = -1;
static int type = CHILD_NONE;
static int64_t started;
static void (*on_done)(int ok);
static child_cow cow;
static int progress_rd = -1; /* the server's end of the progress pipe */
static int progress_wr = -1; /* the child's end */
static long long progress_done, progress_total;

void child_report_progress(long long done, long long total)
{
    if (progress_wr >= 0) {
        long long rec[2] = {done, total};
        /* Whole or not at all (16 bytes < PIPE_BUF); a full pipe drops it. */
        ssize_t n = write(progress_wr, rec, sizeof(rec));
        (void)n;
    }
}

int child_progress(long long *done, long long *total)
{
    *done = pid > 0 ? progress_done : 0;
    *total = pid > 0 ? progress_total : 0;
    return pid > 0;
}

static void read_progress(void)
{
    long long rec[2];
    while (progress_rd >= 0 && read(progress_rd, rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
        progress_done = rec[0];
        progress_total = rec[1];
    }
}

static void close_progress(void)
{
    if (progress_rd >= 0) {
        close(progress_rd);
    }
    progress_rd = -1;
    progress_done = progress_total = 0;
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

int child_start(int t, int (*fn)(void), void (*done)(int ok))
{
    if (pid > 0) {
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        fds[0] = fds[1] = -1;
    }
    pid_t p = child_fork();
    if (p < 0) {
        log_msg(LOG_WARNING, "Can't fork a background child: %s", strerror(errno));
        if (fds[0] >= 0) {
            close(fds[0]);
            close(fds[1]);
        }
        return -1;
    }
    if (p == 0) {
        if (fds[0] >= 0) {
            close(fds[0]);
        }
        progress_wr = fds[1];
        /* The child leaves without the parent's exit work: its sockets,
         * threads and files are not the child's to close or flush. */
        _exit(fn() == 0 ? 0 : 1);
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
    on_done = done;
    return 0;
}

int child_running(void)
{
    return pid > 0 ? type : CHILD_NONE;
}

int64_t child_started_ms(void)
{
    return started;
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
    close_progress();
    module_event_fork_child(0);
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    end_cow(type);
    void (*done)(int) = on_done;
    pid = -1;
    type = CHILD_NONE;
    on_done = NULL;
    if (done) {
        done(ok);
    }
}

void child_kill(void)
{
    if (pid <= 0) {
        return;
    }
    kill(pid, SIGUSR1);
    waitpid(pid, NULL, 0);
    module_event_fork_child(0);
    close_progress();
    end_cow(type);
    void (*done)(int) = on_done;
    pid = -1;
    type = CHILD_NONE;
    on_done = NULL;
    if (done) {
        done(0);
    }
}
