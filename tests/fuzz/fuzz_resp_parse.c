/* fuzz_resp_parse: the RESP request parser under arbitrary bytes.
 *
 * Each input is parsed twice: whole, and split into chunks (sizes taken
 * from the input's own bytes) with the buffer compacted between "reads"
 * the way the client does. Both runs must produce the same sequence of
 * commands and stop with the same result; offsets must stay inside the
 * buffer, and a length prefix must never make the parser allocate more
 * than a bounded amount. The sanitizers catch memory errors.
 *
 * Built with clang -fsanitize=fuzzer this is a libFuzzer target; built
 * with -DFUZZ_STANDALONE it replays files given on the command line and
 * then runs random mutations of them (`make fuzz` picks one). */
#include "fuzz_read.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/str.h"
#include "base/util.h"
#include "proto/resp_parse.h"

#define MAX_EVENTS 256

/* What one run saw: a hash of each command's arguments, then the final
 * result code. */
typedef struct trace {
    uint64_t cmd_hash[MAX_EVENTS];
    int ncmds;
    int last_rc;
    char err[128];
} trace;

static const resp_limits lim = {64 * 1024, INT_MAX, 1024, 0};

static void die(const char *what)
{
    fprintf(stderr, "fuzz_resp_parse: invariant broken: %s\n", what);
    abort();
}

static uint64_t hash_cmd(resp_parser *p, const char *buf, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < p->argc; i++) {
        sv a = resp_parser_arg(p, buf, i);
        if (!p->is_inline && (a.ptr < buf || a.ptr + a.len > buf + len)) {
            die("argument outside the buffer");
        }
        for (size_t j = 0; j < a.len; j++) {
            h = (h ^ (unsigned char)a.ptr[j]) * 1099511628211ULL;
        }
        h = (h ^ 0x100) * 1099511628211ULL; /* argument separator */
    }
    return h ^ p->argc;
}

/* chunks == NULL: one read of everything. */
static void run(const uint8_t *data, size_t size, const uint8_t *chunks, size_t nchunks, trace *t)
{
    resp_parser p;
    resp_parser_init(&p);
    char *buf = alloc_mem(size + 1);
    size_t len = 0, pos = 0, fed = 0, ci = 0;
    memset(t, 0, sizeof(*t));
    t->last_rc = RESP_INCOMPLETE;
    size_t base = alloc_used();
    while (fed < size) {
        size_t n = chunks ? (size_t)(chunks[ci++ % nchunks] % 17) + 1 : size;
        if (n > size - fed) {
            n = size - fed;
        }
        memcpy(buf + len, data + fed, n);
        len += n;
        fed += n;
        for (;;) {
            size_t before = pos;
            int rc = resp_parse(&p, buf, len, &pos, &lim, t->err, sizeof(t->err));
            if (pos > len || pos < before) {
                die("position moved outside the buffer");
            }
            /* Allocation tracks the bytes fed, never a promised length. */
            if (alloc_used() > base + 16 * size + 64 * 1024) {
                die("parser allocated more than the input justifies");
            }
            t->last_rc = rc;
            if (rc == RESP_ERROR) {
                goto out;
            }
            if (rc == RESP_INCOMPLETE) {
                break;
            }
            if (p.argc > 0 && t->ncmds < MAX_EVENTS) {
                t->cmd_hash[t->ncmds++] = hash_cmd(&p, buf, len);
            }
            resp_parser_reset(&p);
            if (pos == len) {
                t->last_rc = RESP_INCOMPLETE;
                break;
            }
        }
        size_t drop = resp_parser_keep_from(&p, pos);
        if (drop > pos) {
            die("keep_from past the parse position");
        }
        memmove(buf, buf + drop, len - drop);
        resp_parser_shift(&p, drop);
        len -= drop;
        pos -= drop;
    }
out:
    alloc_free(buf);
    resp_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    trace whole, split;
    run(data, size, NULL, 0, &whole);
    if (size == 0) {
        return 0;
    }
    run(data, size, data, size, &split);
    /* A split stream stops at the same error, or sees the same commands.
     * (An inline line that is too long can be detected at different
     * points, so only the sequence of commands before it must agree.) */
    int n = whole.ncmds < split.ncmds ? whole.ncmds : split.ncmds;
    for (int i = 0; i < n; i++) {
        if (whole.cmd_hash[i] != split.cmd_hash[i]) {
            die("whole and split parses disagree on a command");
        }
    }
    if (whole.last_rc != split.last_rc || whole.ncmds != split.ncmds) {
        if (!strstr(whole.err, "too big") && !strstr(split.err, "too big")) {
            die("whole and split parses end differently");
        }
    }
    if (whole.last_rc == RESP_ERROR && split.last_rc == RESP_ERROR && strcmp(whole.err, split.err) != 0 &&
        !strstr(whole.err, "too big") && !strstr(split.err, "too big")) {
        die("whole and split parses report different errors");
    }
    return 0;
}

#ifdef FUZZ_STANDALONE
/* Replays the given files, then mutates them at random for a while. */
int main(int argc, char **argv)
{
    long iterations = getenv("FUZZ_ITERATIONS") ? atol(getenv("FUZZ_ITERATIONS")) : 200000;
    static const char *const tokens[] = {"*",          "$",  "\r\n", "\r",    "\n", "-1", "0",    "3",
                                         "1000000000", "\"", "'",    "\\x41", "\\", " ",  "PING", "65537"};
    uint8_t *seeds[256];
    size_t seed_len[256];
    int nseeds = 0;
    for (int i = 1; i < argc && nseeds < 256; i++) {
        seeds[nseeds] = fuzz_read_file(argv[i], &seed_len[nseeds]);
        if (seeds[nseeds]) {
            LLVMFuzzerTestOneInput(seeds[nseeds], seed_len[nseeds]);
            nseeds++;
        }
    }
    util_rand_seed(12345);
    uint8_t buf[4096];
    for (long it = 0; it < iterations; it++) {
        size_t len = 0;
        if (nseeds && util_rand64() % 4) {
            int s = (int)(util_rand64() % (uint64_t)nseeds);
            len = seed_len[s] < sizeof(buf) ? seed_len[s] : sizeof(buf);
            memcpy(buf, seeds[s], len);
        }
        int muts = 1 + (int)(util_rand64() % 8);
        for (int m = 0; m < muts; m++) {
            uint64_t r = util_rand64();
            size_t at = len ? (size_t)(r >> 8) % (len + 1) : 0;
            switch (r % 4) {
            case 0: /* flip a byte */
                if (len) {
                    buf[at % len] = (uint8_t)(r >> 40);
                }
                break;
            case 1: { /* insert a token */
                const char *tok = tokens[(r >> 32) % (sizeof(tokens) / sizeof(tokens[0]))];
                size_t tl = strlen(tok);
                if (len + tl <= sizeof(buf)) {
                    memmove(buf + at + tl, buf + at, len - at);
                    memcpy(buf + at, tok, tl);
                    len += tl;
                }
                break;
            }
            case 2: /* truncate */ len = at; break;
            default: /* duplicate a slice (pipelining) */
                if (len && len * 2 <= sizeof(buf)) {
                    memcpy(buf + len, buf, len);
                    len *= 2;
                }
                break;
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    for (int i = 0; i < nseeds; i++) {
        free(seeds[i]);
    }
    printf("fuzz_resp_parse: %ld random inputs and %d seeds, no invariant broken\n", iterations, nseeds);
    return 0;
}
#endif
