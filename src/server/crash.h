/* crash: the bug report a fatal signal writes to the log (see crash.c). */
#ifndef KEEL_CRASH_H
#define KEEL_CRASH_H

/* Installs the handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT
 * (not in sanitizer builds, whose reports are better). */
void crash_install(void);

#endif
