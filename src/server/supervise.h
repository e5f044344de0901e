/* supervise: telling a service manager how the server is doing
 * (`supervised no|upstart|systemd|auto`, as in Redis). */
#ifndef KEEL_SUPERVISE_H
#define KEEL_SUPERVISE_H

enum { SUPERVISED_NO, SUPERVISED_UPSTART, SUPERVISED_SYSTEMD, SUPERVISED_AUTO };

/* The data is loaded and clients are served: systemd gets READY=1 (a
 * Type=notify unit, as Debian's redis-server.service, waits for it);
 * upstart's job stops itself with SIGSTOP, which upstart takes as ready. */
void supervise_ready(int mode);
/* INFO's process_supervised: the mode in effect (auto resolved). */
const char *supervise_mode_name(int mode);
/* Shutting down: systemd gets STOPPING=1. */
void supervise_stopping(int mode);

#endif
