/* slowlog: the commands that took longer than slowlog-log-slower-than
 * microseconds, newest first, at most slowlog-max-len of them, each with
 * its arguments trimmed as Redis trims them (32 arguments, 128 bytes
 * each) so the log's memory stays bounded whatever the commands were. */
#ifndef KEEL_SLOWLOG_H
#define KEEL_SLOWLOG_H

#include <stdint.h>

#include "server/server.h"

/* After a call of duration_us: logs it when over the threshold. argv is
 * the command as monitors see it (sensitive arguments redacted). */
/* Whether a call that took duration_us goes into the log: checked before
 * its arguments are redacted, which most calls need not be. */
int slowlog_wants(int64_t duration_us);
void slowlog_record(client *c, const sv *argv, int argc, int64_t duration_us);
/* Trims the log to slowlog-max-len (after CONFIG SET). */
void slowlog_trim(void);
/* Appends the newest max entries (at most) as a JSON array of objects
 * {id, time, duration_us, args, client, name}, newest first: the metrics
 * snapshot carries them, so the work is bounded by max entries of at most
 * 32 arguments of 128 bytes. */
str slowlog_json(str out, long max);

#endif
