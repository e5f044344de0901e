/* log_syslog: Keel's log lines also sent to syslog(3) (syslog-enabled).
 * Kept apart from log.h, whose level names syslog.h's macros would clash
 * with. */
#ifndef KEEL_LOG_SYSLOG_H
#define KEEL_LOG_SYSLOG_H

/* facility: 0 for user, 1-8 for local0-local7 (syslog-facility's names). */
void log_syslog_open(const char *ident, int facility);
void log_syslog_close(void);
/* level: log.h's (debug, verbose, notice, warning). */
void log_syslog_line(int level, const char *msg);

#endif
