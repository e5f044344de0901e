/* supervise: systemd's notify protocol (one datagram to $NOTIFY_SOCKET, a
 * path or, with a leading '@', an abstract socket name) and upstart's
 * stop-when-ready convention, without libsystemd. */
#include "server/supervise.h"

#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"

static int resolve(int mode)
{
    if (mode != SUPERVISED_AUTO) {
        return mode;
    }
    if (getenv("UPSTART_JOB")) {
        return SUPERVISED_UPSTART;
    }
    return getenv("NOTIFY_SOCKET") ? SUPERVISED_SYSTEMD : SUPERVISED_NO;
}

static void notify_systemd(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = path ? strlen(path) : 0;
    if (len == 0 || len >= sizeof(sa.sun_path)) {
        log_msg(LOG_WARNING, "systemd supervision requested or auto-detected, but NOTIFY_SOCKET environment "
                             "variable not found!");
        return;
    }
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@') {
        sa.sun_path[0] = '\0';
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
        log_msg(LOG_WARNING, "Can't send notification to systemd");
    }
    if (fd >= 0) {
        close(fd);
    }
}

const char *supervise_mode_name(int mode)
{
    static const char *const names[] = {"no", "upstart", "systemd"};
    int m = resolve(mode);
    return m >= 0 && m <= SUPERVISED_SYSTEMD ? names[m] : "no";
}

void supervise_ready(int mode)
{
    switch (resolve(mode)) {
    case SUPERVISED_SYSTEMD:
        log_msg(LOG_NOTICE, "supervised by systemd. Please make sure you set appropriate values for "
                            "TimeoutStartSec and TimeoutStopSec in your service unit.");
        notify_systemd("STATUS=Ready to accept connections\nREADY=1\n");
        break;
    case SUPERVISED_UPSTART:
        if (!getenv("UPSTART_JOB")) {
            log_msg(LOG_WARNING, "upstart supervision requested, but UPSTART_JOB not found!");
            break;
        }
        log_msg(LOG_NOTICE, "supervised by upstart, will stop to signal readiness.");
        raise(SIGSTOP);
        unsetenv("UPSTART_JOB");
        break;
    default: break;
    }
}

void supervise_stopping(int mode)
{
    if (resolve(mode) == SUPERVISED_SYSTEMD && getenv("NOTIFY_SOCKET")) {
        notify_systemd("STOPPING=1\n");
    }
}
