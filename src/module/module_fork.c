/* module_fork: the module fork API. A module forks a child that sees the
 * dataset as it was at the fork (copy-on-write) and works on it beside
 * the server; the child ends with ExitFromChild and the module's done
 * handler gets its exit code and signal in the server.
 *
 * The child is server/child.c's, of type CHILD_MODULE: one child at a
 * time, as in Redis, so Fork fails while a BGSAVE or an AOF rewrite runs
 * (a forkless one too), and BGSAVE answers "Another child process is
 * active" (or schedules) while the module's runs. ForkChild's born and
 * died events fire for it like for any child. */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "module/module_int.h"
#include "persist/snapshot.h"
#include "server/child.h"

static km_fork_done_fn done_handler;
static void *done_user_data;

static void fork_done(int exitcode, int bysignal)
{
    log_msg(LOG_NOTICE, "Module fork exited pid: %ld, retcode: %d, bysignal: %d", (long)child_pid(), exitcode,
            bysignal);
    km_fork_done_fn fn = done_handler;
    void *ud = done_user_data;
    done_handler = NULL;
    done_user_data = NULL;
    if (fn) {
        fn(exitcode, bysignal, ud);
    }
}

/* 0 in the child, the child's pid in the server, -1 when another child
 * (or a forkless snapshot, Keel's BGSAVE) runs or fork failed. */
static int api_fork(km_fork_done_fn cb, void *user_data)
{
    if (snapshot_running()) {
        errno = EEXIST;
        log_msg(LOG_WARNING, "Can't fork for module: %s", strerror(errno));
        return -1;
    }
    pid_t p = child_start_inline(CHILD_MODULE, fork_done);
    if (p < 0) {
        log_msg(LOG_WARNING, "Can't fork for module: %s", strerror(errno));
        return -1;
    }
    if (p > 0) {
        done_handler = cb;
        done_user_data = user_data;
        log_msg(LOG_VERBOSE, "Module fork started pid: %ld ", (long)p);
    }
    return (int)p;
}

/* From the child: how far it is (0..1, -1 unknown), for INFO. */
static void api_send_child_heartbeat(double progress)
{
    child_report_fork_progress(progress);
}

static int api_exit_from_child(int retcode)
{
    child_exit(retcode);
    return KM_OK;
}

/* Kills the module child of that pid and waits for it; its done handler
 * is not called. */
static int api_kill_fork_child(int pid)
{
    if (child_kill_pid(pid, CHILD_MODULE) < 0) {
        return KM_ERR;
    }
    log_msg(LOG_VERBOSE, "Killed running module fork child: %ld", (long)pid);
    done_handler = NULL;
    done_user_data = NULL;
    return KM_OK;
}

const km_api_entry km_api_fork[] = {{"Fork", api_fork},
                                    {"SendChildHeartbeat", api_send_child_heartbeat},
                                    {"ExitFromChild", api_exit_from_child},
                                    {"KillForkChild", api_kill_fork_child},
                                    {NULL, NULL}};
