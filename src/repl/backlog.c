/* backlog: the replication stream in shared blocks. */
#include "repl/backlog.h"

#include <string.h>

#include "base/alloc.h"

/* A block: big enough that a write rarely spans two, small enough that a
 * trim frees memory in steps; and at most a 16th of the limit, so the
 * backlog never holds much more than its limit (a big write spans many
 * blocks: as one, it would stay whole, and a replica far behind could
 * resume from it only to overflow its output limit, again and again). */
#define BLOCK_SIZE (16 * 1024)

/* A block's room. Its allocation, header included, is a size the
 * allocator hands out whole (16 KB, not 16 KB and a header, which would
 * take a 20 KB class). */
static size_t block_size(const backlog *b)
{
    size_t size = b->limit / 16;
    size = size < 1024 ? 1024 : size > BLOCK_SIZE ? BLOCK_SIZE : size;
    return size - sizeof(backlog_block);
}

backlog *backlog_new(size_t limit, long long end_offset)
{
    backlog *b = alloc_zero(sizeof(*b));
    b->limit = limit;
    b->end_offset = end_offset;
    return b;
}

void backlog_free(backlog *b)
{
    if (!b) {
        return;
    }
    backlog_block *k = b->head;
    while (k) {
        backlog_block *next = k->next;
        alloc_free(k);
        k = next;
    }
    alloc_free(b);
}

static void add_block(backlog *b)
{
    size_t size = block_size(b);
    backlog_block *k = alloc_mem(sizeof(*k) + size);
    k->next = NULL;
    k->offset = b->end_offset + 1;
    k->used = 0;
    k->size = size;
    if (b->tail) {
        b->tail->next = k;
    } else {
        b->head = k;
    }
    b->tail = k;
    b->mem += sizeof(*k) + size;
}

void backlog_append(backlog *b, const char *p, size_t len)
{
    while (len > 0) {
        backlog_block *k = b->tail;
        if (!k || k->used == k->size) {
            add_block(b);
            k = b->tail;
        }
        size_t n = k->size - k->used < len ? k->size - k->used : len;
        memcpy(k->data + k->used, p, n);
        k->used += n;
        b->histlen += n;
        b->end_offset += (long long)n;
        p += n;
        len -= n;
    }
}

long long backlog_first_offset(const backlog *b)
{
    return b->end_offset - (long long)b->histlen + 1;
}

int backlog_has(const backlog *b, long long offset)
{
    return offset >= backlog_first_offset(b) && offset <= b->end_offset + 1;
}

/* The block holding offset, the tail for the end of the stream. */
static backlog_block *block_of(const backlog *b, long long offset)
{
    backlog_block *k = b->head;
    while (k && k->next && offset >= k->offset + (long long)k->used) {
        k = k->next;
    }
    return k;
}

void backlog_reader_start(const backlog *b, backlog_reader *rd, long long offset)
{
    rd->offset = offset;
    rd->blk = block_of(b, offset);
}

size_t backlog_reader_lag(const backlog *b, const backlog_reader *rd)
{
    return (size_t)(b->end_offset + 1 - rd->offset);
}

size_t backlog_read(backlog *b, backlog_reader *rd, size_t max, void (*fn)(const char *p, size_t len, void *ctx),
                    void *ctx)
{
    size_t done = 0;
    if (!rd->blk) {
        rd->blk = block_of(b, rd->offset); /* the stream was empty when it began */
    }
    while (rd->blk && done < max) {
        backlog_block *k = rd->blk;
        size_t pos = (size_t)(rd->offset - k->offset);
        if (pos == k->used) {
            if (!k->next) {
                break; /* read up to the end */
            }
            rd->blk = k->next;
            continue;
        }
        size_t n = k->used - pos < max - done ? k->used - pos : max - done;
        fn(k->data + pos, n, ctx);
        rd->offset += (long long)n;
        done += n;
    }
    return done;
}

int backlog_over_limit(const backlog *b)
{
    return b->head != b->tail && b->histlen - b->head->used >= b->limit;
}

void backlog_trim(backlog *b, long long keep_from)
{
    /* A block a reader has just finished stays until the reader moves on:
     * the reader still points at it. */
    while (backlog_over_limit(b) && b->head->offset + (long long)b->head->used < keep_from) {
        backlog_block *k = b->head;
        b->head = k->next;
        b->histlen -= k->used;
        b->mem -= sizeof(*k) + k->size;
        alloc_free(k);
    }
}
