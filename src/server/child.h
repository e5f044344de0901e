/* child: the one background child process at a time, as in Redis: a
 * snapshot (BGSAVE) or an append-only file rewrite, each a fork that sees
 * the data as it was at the fork. */
#ifndef KEEL_CHILD_H
#define KEEL_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { CHILD_NONE, CHILD_RDB, CHILD_AOF };

/* fork(), counted and timed for INFO (total_forks, latest_fork_usec) and
 * the latency monitor's "fork" event: every fork of the server goes
 * through it (child_start, the Lua debugger's sessions). */
pid_t child_fork(void);
/* Forks a child of the given type that runs fn and exits with its result
 * (0: success); done(ok) runs in the server when the child has ended.
 * Returns -1 when a child is already running or fork failed. */
int child_start(int type, int (*fn)(void), void (*done)(int ok));
/* The running child's type, CHILD_NONE if there is none. */
int child_running(void);
int64_t child_started_ms(void);
/* Reaps a child that ended (cron). */
void child_reap(void);
/* Stops the child and discards its work (shutdown). */
void child_kill(void);

/* Copy-on-write of the running child, as INFO persistence reports it: the
 * memory the child holds privately (pages it copied since the fork), read
 * from /proc by the cron while the child runs. */
typedef struct child_cow {
    size_t current, peak;      /* 0 when no child runs */
    int64_t sampled_ms;        /* when current was read */
    size_t last_rdb, last_aof; /* the peak of the last child of each type */
} child_cow;
const child_cow *child_cow_info(void);

/* Progress of the running child: it reports keys written of keys to write
 * through a pipe (child_report_progress, a no-op outside a child), and the
 * cron keeps the last report. 0 when no child runs. */
void child_report_progress(long long done, long long total);
int child_progress(long long *done, long long *total);

#endif
