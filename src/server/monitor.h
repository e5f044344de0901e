/* monitor: clients that ran MONITOR get every command the server runs, as
 * a status line "+<unix time.us> [<db> <addr>] "arg" ...", quoted and
 * escaped as Redis does; commands from scripts show "lua" as the address,
 * and sensitive arguments (AUTH's, HELLO's AUTH) read "(redacted)". */
#ifndef KEEL_MONITOR_H
#define KEEL_MONITOR_H

#include "server/server.h"

/* Whether any client is monitoring (checked before building a line). */
extern int monitor_count;

void monitor_feed(client *c, const sv *argv, int argc);
/* The arguments as monitors and the slow log show them: AUTH's and
 * HELLO's passwords replaced; returns argv itself when nothing is. out
 * has room for argc entries. */
const sv *monitor_redact(client *c, const sv *argv, int argc, sv *out);

#endif
