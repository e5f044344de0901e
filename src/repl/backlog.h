/* backlog: the last repl-backlog-size bytes of the replication stream, in
 * a ring, so a replica that lost its link for a moment continues from its
 * offset (partial resync) instead of loading a whole snapshot again.
 * Offsets are Redis's: the stream's first byte is offset 1. */
#ifndef KEEL_BACKLOG_H
#define KEEL_BACKLOG_H

#include <stddef.h>

typedef struct backlog {
    char *buf;
    size_t size;          /* capacity */
    size_t idx;           /* where the next byte goes */
    size_t histlen;       /* valid bytes, <= size */
    long long end_offset; /* offset of the last byte written */
} backlog;

backlog *backlog_new(size_t size, long long end_offset);
void backlog_free(backlog *b);
void backlog_append(backlog *b, const char *p, size_t len);
/* Offset of the oldest byte held (end_offset + 1 when empty). */
long long backlog_first_offset(const backlog *b);
/* Whether the stream from offset on (offset = the first byte wanted) is
 * all held. */
int backlog_has(const backlog *b, long long offset);
/* Copies the bytes from offset to the end through fn, in at most two
 * pieces. */
void backlog_copy_from(const backlog *b, long long offset, void (*fn)(const char *p, size_t len, void *ctx), void *ctx);
/* New capacity keeping the newest bytes (CONFIG SET repl-backlog-size). */
void backlog_resize(backlog *b, size_t size);

#endif
