/* backlog unit test: the ring against a model (the whole stream kept in a
 * plain buffer) under random appends of every size, including ones larger
 * than the ring, random resizes, and reads from every offset it claims to
 * hold: the bytes must be the stream's, and offsets outside must be refused. */
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "repl/backlog.h"
#include "unit.h"

#define STREAM_MAX (1 << 20)

static unsigned char stream[STREAM_MAX];
static size_t stream_len;

typedef struct sink {
    unsigned char buf[STREAM_MAX];
    size_t len;
    int pieces;
} sink;

static void collect(const char *p, size_t len, void *ctx)
{
    sink *s = ctx;
    memcpy(s->buf + s->len, p, len);
    s->len += len;
    s->pieces++;
}

static void check_reads(backlog *b, long long base)
{
    long long first = backlog_first_offset(b);
    /* Offsets: the stream's first byte is base + 1. */
    CHECK(b->end_offset == base + (long long)stream_len);
    CHECK(b->histlen <= b->size);
    CHECK(first == b->end_offset - (long long)b->histlen + 1);
    CHECK(!backlog_has(b, first - 1));
    CHECK(!backlog_has(b, b->end_offset + 2));
    for (int k = 0; k < 8; k++) {
        long long off = first + (long long)(util_rand64() % (b->histlen + 1));
        CHECK(backlog_has(b, off));
        static sink s;
        s.len = 0;
        s.pieces = 0;
        backlog_copy_from(b, off, collect, &s);
        size_t want = (size_t)(b->end_offset + 1 - off);
        CHECK(s.len == want);
        CHECK(s.pieces <= 2);
        CHECK(memcmp(s.buf, stream + (stream_len - want), want) == 0);
    }
}

static void test_random(void)
{
    for (int round = 0; round < 50; round++) {
        long long base = (long long)(util_rand64() % 1000000);
        size_t size = 16 + util_rand64() % 4096;
        backlog *b = backlog_new(size, base);
        stream_len = 0;
        check_reads(b, base);
        for (int step = 0; step < 200 && stream_len < STREAM_MAX - 20000; step++) {
            size_t n = util_rand64() % 4 == 0 ? util_rand64() % (3 * size) : util_rand64() % 64;
            for (size_t i = 0; i < n; i++) {
                stream[stream_len + i] = (unsigned char)util_rand64();
            }
            backlog_append(b, (const char *)stream + stream_len, n);
            stream_len += n;
            if (util_rand64() % 20 == 0) {
                backlog_resize(b, 16 + util_rand64() % 4096);
            }
            check_reads(b, base);
        }
        backlog_free(b);
    }
}

int main(void)
{
    util_rand_seed(11);
    test_random();
    return unit_report("backlog");
}
