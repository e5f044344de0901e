/* child: the one background child process at a time, as in Redis: a
 * snapshot (BGSAVE), an append-only file rewrite or a module's fork
 * (RedisModule_Fork), each a fork that sees the data as it was at the
 * fork; one excludes the others. */
#ifndef KEEL_CHILD_H
#define KEEL_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { CHILD_NONE, CHILD_RDB, CHILD_AOF, CHILD_MODULE };

/* fork(), counted and timed for INFO (total_forks, latest_fork_usec) and
 * the latency monitor's "fork" event: every fork of the server goes
 * through it (child_start, the Lua debugger's sessions). */
pid_t child_fork(void);
/* Forks a child of the given type that runs fn and exits with its result
 * (0: success); done(ok) runs in the server when the child has ended.
 * Returns -1 when a child is already running or fork failed. */
int child_start(int type, int (*fn)(void), void (*done)(int ok));
/* Forks a child of the given type that goes on from the fork itself
 * (a module's, which ends with child_exit): 0 in the child, the pid in
 * the server, -1 with errno EEXIST when a child is already running (or
 * fork's errno). done(exitcode, bysignal) runs in the server when the
 * child has ended, with Redis's figures: the exit code, or -1 when a
 * signal ended it; an exit by SIGUSR1's handler reads 1 and SIGUSR1. */
pid_t child_start_inline(int type, void (*done)(int exitcode, int bysignal));
/* Ends a child started by child_start_inline with code. */
void child_exit(int code);
/* Stops the running child if it is pid's and of the given type, without
 * calling its done handler: 0, or -1 when it is not. */
int child_kill_pid(pid_t pid, int type);
/* The running child's pid, -1 if there is none. */
pid_t child_pid(void);
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
    size_t current, peak;                   /* 0 when no child runs */
    int64_t sampled_ms;                     /* when current was read */
    size_t last_rdb, last_aof, last_module; /* the peak of the last child of each type */
} child_cow;
const child_cow *child_cow_info(void);

/* Progress of the running child: it reports keys written of keys to write
 * through a pipe (child_report_progress, a no-op outside a child), and the
 * cron keeps the last report. 0 when no child runs. */
void child_report_progress(long long done, long long total);
int child_progress(long long *done, long long *total);
/* A module child's heartbeat: its progress from 0 to 1 (-1: unknown), as
 * INFO's current_fork_perc shows it; -1 when none was reported. */
void child_report_fork_progress(double progress);
double child_fork_progress(void);

#endif
