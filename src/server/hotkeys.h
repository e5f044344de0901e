/* hotkeys: HOTKEYS START / STOP / GET / RESET (Redis 8.6), the keys that
 * cost the most command time and network bytes during a tracking session. */
#ifndef KEEL_HOTKEYS_H
#define KEEL_HOTKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

/* Set while a session is tracking: dispatch then calls hotkeys_record. */
extern int hotkeys_on;

/* After each command: its time and reply bytes go to its keys (top: not
 * nested in EXEC or a script, so it counts in the totals). */
void hotkeys_record(client *c, command *cmd, int64_t dur_us, size_t out_bytes, int top);
/* A session's DURATION ends even when no command comes. */
void hotkeys_cron(void);
void cmd_hotkeys(client *c);

#endif
