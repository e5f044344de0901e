/* crash: the bug report a fatal signal writes to the log (see crash.c). */
#ifndef KEEL_CRASH_H
#define KEEL_CRASH_H

/* Installs the handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT
 * (not in sanitizer builds, whose reports are better). */
void crash_install(void);
/* Writes the calling thread's stack to fd, a frame a line, Keel's own
 * functions by name. Safe in a signal handler: it allocates nothing. */
void crash_log_stack(int fd);

#endif
