/* child: the background child process. See child.h. */
#include "server/child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "server/latency.h"
#include "server/server.h"

static pid_t pid = -1;
static int type = CHILD_NONE;
static int64_t started;
static void (*on_done)(int ok);
static child_cow cow;

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

int child_start(int t, int (*fn)(void), void (*done)(int ok))
{
    if (pid > 0) {
        return -1;
    }
    int64_t before = util_mono_us();
    pid_t p = fork();
    if (p > 0) {
        /* INFO latest_fork_usec: the parent's pause while the kernel copies
         * its page tables. */
        server.stats.latest_fork_usec = util_mono_us() - before;
        server.stats.total_forks++;
        latency_add("fork", server.stats.latest_fork_usec / 1000);
    }
    if (p < 0) {
        log_msg(LOG_WARNING, "Can't fork a background child: %s", strerror(errno));
        return -1;
    }
    if (p == 0) {
        /* The child leaves without the parent's exit work: its sockets,
         * threads and files are not the child's to close or flush. */
        _exit(fn() == 0 ? 0 : 1);
    }
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
        return;
    }
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
    end_cow(type);
    void (*done)(int) = on_done;
    pid = -1;
    type = CHILD_NONE;
    on_done = NULL;
    if (done) {
        done(0);
    }
}
