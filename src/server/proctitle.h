/* proctitle: the process title that ps and /proc/<pid>/cmdline show,
 * made from proc-title-template as Redis 7.0 makes it ("keel-server
 * *:6379" by default), so tools and operators that look for a server by
 * its title find it. */
#ifndef KEEL_PROCTITLE_H
#define KEEL_PROCTITLE_H

#include "base/str.h"

/* Takes over argv's memory (call first in main, before anything keeps a
 * pointer into argv: each argv[i] is moved to a copy, and so is environ). */
void proctitle_init(int argc, char **argv);
/* Once listening: writes the title from proc-title-template when
 * set-proc-title is on (else the arguments stay as they were). */
void proctitle_start(void);
/* proc-title-template's apply function: after proctitle_start, writes the
 * new title, as Redis does whatever set-proc-title says. */
void proctitle_update(void);
/* The template with its variables filled in ({title} being `title`) and
 * the spaces at both ends trimmed, or NULL when it is malformed or names
 * an unknown variable. */
str proctitle_expand(const char *tpl, const char *title);

#endif
