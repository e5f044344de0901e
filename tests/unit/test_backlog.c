/* backlog unit test: the shared blocks against a model (the whole stream
 * kept in a plain buffer) under random appends of every size, readers that
 * start anywhere the backlog holds and read random amounts, trims that
 * must spare what the slowest reader has not read, and limit changes. The
 * bytes read must be the stream's, the backlog must keep at least its
 * limit and not much more once no reader holds it back, and offsets
 * outside must be refused. */
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "repl/backlog.h"
#include "unit.h"

#define STREAM_MAX (1 << 20)
#define READERS 3
#define BLOCK_MAX (16 * 1024)

static unsigned char stream[STREAM_MAX];
static size_t stream_len;

typedef struct sink {
    unsigned char buf[STREAM_MAX];
    size_t len;
} sink;

static void collect(const char *p, size_t len, void *ctx)
{
    sink *s = ctx;
    memcpy(s->buf + s->len, p, len);
    s->len += len;
}

/* What the stream holds from offset on, as read by rd. */
static void check_read(backlog *b, backlog_reader *rd, long long base, size_t max)
{
    static sink s;
    s.len = 0;
    long long from = rd->offset;
    size_t lag = backlog_reader_lag(b, rd);
    CHECK(lag == (size_t)(b->end_offset + 1 - from));
    size_t got = backlog_read(b, rd, max, collect, &s);
    CHECK(got == (lag < max ? lag : max));
    CHECK(s.len == got);
    CHECK(rd->offset == from + (long long)got);
    CHECK(memcmp(s.buf, stream + (from - base - 1), got) == 0);
}

static void check_shape(backlog *b, long long base, long long keep_from)
{
    long long first = backlog_first_offset(b);
    CHECK(b->end_offset == base + (long long)stream_len);
    CHECK(first == b->end_offset - (long long)b->histlen + 1);
    CHECK(!backlog_has(b, first - 1));
    CHECK(!backlog_has(b, b->end_offset + 2));
    CHECK(backlog_has(b, b->end_offset + 1));
    CHECK(first <= keep_from); /* the slowest reader's bytes are all there */
    CHECK(b->mem >= b->histlen);
    if (keep_from == b->end_offset + 1) {
        /* Nobody lags: the limit, one block being filled, one just read. */
        CHECK(b->histlen <= b->limit + 2 * BLOCK_MAX);
    }
    size_t sum = 0;
    for (backlog_block *k = b->head; k; k = k->next) {
        CHECK(k->offset == first + (long long)sum);
        CHECK(k->used <= k->size && k->size <= BLOCK_MAX);
        sum += k->used;
    }
    CHECK(sum == b->histlen);
}

static void test_random(void)
{
    for (int round = 0; round < 40; round++) {
        long long base = (long long)(util_rand64() % 1000000);
        size_t limit = 16 + util_rand64() % 65536;
        backlog *b = backlog_new(limit, base);
        backlog_reader rd[READERS];
        int reading[READERS] = {0};
        stream_len = 0;
        for (int step = 0; step < 300 && stream_len < STREAM_MAX - 100000; step++) {
            size_t n = util_rand64() % 4 == 0 ? util_rand64() % (3 * limit) : util_rand64() % 64;
            n = n < 90000 ? n : 90000;
            for (size_t i = 0; i < n; i++) {
                stream[stream_len + i] = (unsigned char)util_rand64();
            }
            backlog_append(b, (const char *)stream + stream_len, n);
            stream_len += n;
            int i = (int)(util_rand64() % READERS);
            switch (util_rand64() % 6) {
            case 0: { /* a reader starts anywhere the backlog holds */
                long long first = backlog_first_offset(b);
                long long off = first + (long long)(util_rand64() % (b->histlen + 1));
                CHECK(backlog_has(b, off));
                backlog_reader_start(b, &rd[i], off);
                reading[i] = 1;
                break;
            }
            case 1: reading[i] = 0; break;
            case 2: b->limit = 16 + util_rand64() % 65536; break;
            default:
                if (reading[i]) {
                    check_read(b, &rd[i], base, util_rand64() % 2 ? util_rand64() % 5000 : STREAM_MAX);
                }
            }
            long long keep_from = b->end_offset + 1;
            for (int r = 0; r < READERS; r++) {
                if (reading[r] && rd[r].offset < keep_from) {
                    keep_from = rd[r].offset;
                }
            }
            size_t before = b->histlen;
            backlog_trim(b, keep_from);
            CHECK(b->histlen >= (before < b->limit ? before : b->limit)); /* the limit stays */
            check_shape(b, base, keep_from);
        }
        /* The readers catch up and the backlog then shrinks to its limit. */
        for (int r = 0; r < READERS; r++) {
            if (reading[r]) {
                check_read(b, &rd[r], base, STREAM_MAX);
            }
        }
        backlog_trim(b, b->end_offset + 1);
        check_shape(b, base, b->end_offset + 1);
        backlog_free(b);
    }
}

/* A reader that starts before the first append, and one at the end of a
 * full block, find the bytes appended after them. */
static void test_readers_at_the_end(void)
{
    backlog *b = backlog_new(16384, 100);
    backlog_reader early, late;
    backlog_reader_start(b, &early, 101);
    CHECK(early.blk == NULL);
    static char chunk[1024];
    memset(chunk, 'a', sizeof(chunk));
    backlog_append(b, chunk, sizeof(chunk)); /* a block and part of a second (1 KB blocks, headers included) */
    backlog_reader_start(b, &late, b->end_offset + 1);
    CHECK(backlog_reader_lag(b, &late) == 0);
    memset(chunk, 'b', sizeof(chunk));
    backlog_append(b, chunk, 10);
    static sink s;
    s.len = 0;
    CHECK(backlog_read(b, &early, 5000, collect, &s) == 1034);
    CHECK(s.buf[0] == 'a' && s.buf[1023] == 'a' && s.buf[1024] == 'b');
    s.len = 0;
    CHECK(backlog_read(b, &late, 5000, collect, &s) == 10);
    CHECK(s.buf[0] == 'b');
    backlog_free(b);
}

int main(void)
{
    util_rand_seed(11);
    test_readers_at_the_end();
    test_random();
    return unit_report("backlog");
}
