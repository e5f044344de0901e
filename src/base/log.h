/* log: leveled, timestamped lines in Redis's format, to a file or stdout. */
#ifndef KEEL_LOG_H
#define KEEL_LOG_H

enum { LOG_DEBUG = 0, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING, LOG_NOTHING };

void log_set_level(int level);
int log_get_level(void);
/* Empty path means stdout. Returns 0, or -1 if the file cannot be opened. */
int log_set_file(const char *path);
/* The descriptor lines go to (a crash report writes to it directly). */
int log_fd(void);
/* Sends every line to syslog(3) too while on (syslog-enabled), as ident,
 * to facility (0 user, 1-8 local0-local7). */
void log_set_syslog(int on, const char *ident, int facility);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* From a signal handler (async-signal-safe: no stdio, no locale), as
 * Redis's handlers log: "pid:signal-handler (unix time) msg". */
void log_from_signal(int level, const char *msg);
/* Level name <-> number ("debug", "verbose", "notice", "warning", "nothing"). */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

/* Set by PANIC before it aborts: the crash report knows the abort was
 * ours (use-exit-on-panic applies to those only, as in Redis). */
extern volatile int log_panicking;
#define PANIC(...)                                                                                                     \
    do {                                                                                                               \
        log_msg(LOG_WARNING, "PANIC at %s:%d: ", __FILE__, __LINE__);                                                  \
        log_msg(LOG_WARNING, __VA_ARGS__);                                                                             \
        log_panicking = 1;                                                                                             \
        abort();                                                                                                       \
    } while (0)
#define ASSERT(cond)                                                                                                   \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            PANIC("assertion failed: %s", #cond);                                                                      \
        }                                                                                                              \
    } while (0)

#include <stdlib.h>

#endif
