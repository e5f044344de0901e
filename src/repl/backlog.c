/* backlog: a byte ring over the replication stream. */
#include "repl/backlog.h"

#include <string.h>

#include "base/alloc.h"

backlog *backlog_new(size_t size, long long end_offset)
{
    backlog *b = alloc_zero(sizeof(*b));
    b->size = size ? size : 1;
    b->buf = alloc_mem(b->size);
    b->end_offset = end_offset;
    return b;
}

void backlog_free(backlog *b)
{
    if (b) {
        alloc_free(b->buf);
        alloc_free(b);
    }
}

void backlog_append(backlog *b, const char *p, size_t len)
{
    b->end_offset += (long long)len;
    if (len >= b->size) {
        /* Only the newest `size` bytes survive. */
        memcpy(b->buf, p + len - b->size, b->size);
        b->idx = 0;
        b->histlen = b->size;
        return;
    }
    size_t first = b->size - b->idx < len ? b->size - b->idx : len;
    memcpy(b->buf + b->idx, p, first);
    memcpy(b->buf, p + first, len - first);
    b->idx = (b->idx + len) % b->size;
    b->histlen = b->histlen + len > b->size ? b->size : b->histlen + len;
}

long long backlog_first_offset(const backlog *b)
{
    return b->end_offset - (long long)b->histlen + 1;
}

int backlog_has(const backlog *b, long long offset)
{
    return offset >= backlog_first_offset(b) && offset <= b->end_offset + 1;
}

void backlog_copy_from(const backlog *b, long long offset, void (*fn)(const char *p, size_t len, void *ctx), void *ctx)
{
    size_t want = (size_t)(b->end_offset + 1 - offset);
    if (want == 0) {
        return;
    }
    /* The oldest byte sits at idx when the ring is full, else at 0. */
    size_t oldest = b->histlen == b->size ? b->idx : 0;
    size_t start = (oldest + (b->histlen - want)) % b->size;
    size_t first = b->size - start < want ? b->size - start : want;
    fn(b->buf + start, first, ctx);
    if (first < want) {
        fn(b->buf, want - first, ctx);
    }
}

static void append_piece(const char *p, size_t len, void *ctx)
{
    backlog_append(ctx, p, len);
}

void backlog_resize(backlog *b, size_t size)
{
    if (size == b->size || size == 0) {
        return;
    }
    backlog *n = backlog_new(size, b->end_offset - (long long)b->histlen);
    backlog_copy_from(b, backlog_first_offset(b), append_piece, n);
    alloc_free(b->buf);
    *b = *n;
    alloc_free(n);
}
