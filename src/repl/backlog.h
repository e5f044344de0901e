/* backlog: the replication stream's recent bytes, in a list of blocks
 * that the backlog and every replica share (Redis 7's one replication
 * buffer). The backlog keeps at least its limit (repl-backlog-size) so a
 * replica that lost its link for a moment continues from its offset
 * (partial resync); a replica reads the stream through a reader, and the
 * blocks it has yet to read stay, so a slow replica costs the bytes it
 * lags by once, however many replicas lag with it, and the backlog holds
 * them too (it may then exceed its limit). Offsets are Redis's: the
 * stream's first byte is offset 1. */
#ifndef KEEL_BACKLOG_H
#define KEEL_BACKLOG_H

#include <stddef.h>

typedef struct backlog_block {
    struct backlog_block *next;
    long long offset; /* of data[0] */
    size_t used, size;
    char data[];
} backlog_block;

typedef struct backlog {
    backlog_block *head, *tail; /* oldest, newest */
    size_t limit;               /* bytes kept for partial resyncs */
    size_t histlen;             /* bytes held, head to tail */
    size_t mem;                 /* the blocks' allocations */
    long long end_offset;       /* offset of the last byte written */
} backlog;

/* Where a replica is in the stream. */
typedef struct backlog_reader {
    long long offset;   /* the next byte it wants */
    backlog_block *blk; /* the block holding it (or the tail, at its end); NULL: not looked up */
} backlog_reader;

backlog *backlog_new(size_t limit, long long end_offset);
void backlog_free(backlog *b);
void backlog_append(backlog *b, const char *p, size_t len);
/* Offset of the oldest byte held (end_offset + 1 when empty). */
long long backlog_first_offset(const backlog *b);
/* Whether the stream from offset on (offset = the first byte wanted) is
 * all held. */
int backlog_has(const backlog *b, long long offset);
/* A reader at offset, which backlog_has. */
void backlog_reader_start(const backlog *b, backlog_reader *rd, long long offset);
/* Bytes the reader has not read. */
size_t backlog_reader_lag(const backlog *b, const backlog_reader *rd);
/* Passes up to max unread bytes to fn, in pieces, and advances the
 * reader past them. Returns how many. */
size_t backlog_read(backlog *b, backlog_reader *rd, size_t max, void (*fn)(const char *p, size_t len, void *ctx),
                    void *ctx);
/* Whether the oldest block is more than the limit needs (a trim may free
 * it, unless a reader still wants it). */
int backlog_over_limit(const backlog *b);
/* Frees the oldest blocks the limit does not need and no reader is in or
 * behind: keep_from is the lowest offset a reader wants (or past the end
 * when none reads). */
void backlog_trim(backlog *b, long long keep_from);

#endif
