/* fuzz_redis_listpack: the Redis listpack validator and reader under
 * arbitrary bytes (they come from RDB files and DUMP payloads).
 *
 * Each input is used twice:
 *  - as a blob: rlp_validate on an exact-size copy; when it accepts, the
 *    iterator must yield exactly the counted entries, every string inside
 *    the blob, ending on the terminator, and the values rebuilt with the
 *    builder must validate and read back the same;
 *  - as a recipe: its bytes choose entries (integers of every width, their
 *    decimal text, strings of boundary lengths, raw slices), the builder's
 *    blob must validate and read back as the model says, and the rest of
 *    the input then corrupts that blob byte by byte, which the validator
 *    must survive (and the reader too whenever it still accepts). This
 *    reaches deep, almost-valid blobs without a seed corpus.
 * The sanitizers catch any read outside the blob.
 *
 * Built with clang -fsanitize=fuzzer this is a libFuzzer target; built
 * with -DFUZZ_STANDALONE it replays files given on the command line and
 * some built-in seeds, then runs random mutations of them. `make fuzz`
 * builds and runs it after the RESP target (FUZZ_SECONDS, FUZZ_ITERATIONS);
 * by hand:
 *   make build/fuzz/fuzz_redis_listpack
 *   build/fuzz/fuzz_redis_listpack -max_total_time=60 build/fuzz/corpus_rlp */
#include "fuzz_read.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "ds/redis_listpack.h"

#define MAX_OPS 256

static void die(const char *what)
{
    fprintf(stderr, "fuzz_redis_listpack: invariant broken: %s\n", what);
    abort();
}

/* An entry as text (integers in decimal), the form both sides compare in. */
static size_t entry_text(char *out, const unsigned char *s, size_t slen, long long v, int is_int)
{
    if (is_int) {
        return (size_t)util_ll2str(out, v);
    }
    memcpy(out, s, slen);
    return slen;
}

/* Walks a blob rlp_validate accepted: checks the reader stays inside it
 * and agrees with the count, and returns the blob rebuilt from what it
 * read (NULL when told not to rebuild). */
static unsigned char *read_all(const unsigned char *blob, size_t len, size_t count, int rebuild, size_t *rlen)
{
    rlp_builder b;
    rlp_builder_init(&b);
    rlp_iter it;
    rlp_iter_init(&it, blob, len);
    const unsigned char *s;
    size_t slen, n = 0;
    long long v;
    int is_int;
    while (rlp_iter_next(&it, &s, &slen, &v, &is_int)) {
        if (!is_int && (s < blob + 6 || slen > (size_t)(blob + len - 1 - s))) {
            die("string outside the blob");
        }
        if (rebuild) {
            if (is_int) {
                rlp_append_int(&b, v);
            } else {
                rlp_append(&b, (const char *)s, slen);
            }
        }
        n++;
    }
    if (n != count) {
        die("iterator and validator disagree on the count");
    }
    if (it.p != blob + len - 1) {
        die("iteration did not end on the terminator");
    }
    if (!rebuild) {
        return NULL;
    }
    return rlp_builder_finish(&b, rlen);
}

/* Same entries, compared as text (a string holding a canonical integer is
 * rebuilt as that integer, which reads back as the same text). */
static void same_entries(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    static char ta[70000 + 32], tb[70000 + 32];
    rlp_iter ia, ib;
    rlp_iter_init(&ia, a, alen);
    rlp_iter_init(&ib, b, blen);
    const unsigned char *s;
    size_t slen;
    long long v;
    int is_int;
    for (;;) {
        int ra = rlp_iter_next(&ia, &s, &slen, &v, &is_int);
        size_t na = ra ? entry_text(ta, s, slen, v, is_int) : 0;
        int rb = rlp_iter_next(&ib, &s, &slen, &v, &is_int);
        size_t nb = rb ? entry_text(tb, s, slen, v, is_int) : 0;
        if (ra != rb || na != nb || memcmp(ta, tb, na) != 0) {
            die("rebuilt blob reads back differently");
        }
        if (!ra) {
            break;
        }
    }
}

static void check_blob(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so a read past the end is a sanitizer report. */
    unsigned char *blob = alloc_mem(size ? size : 1);
    if (size) {
        memcpy(blob, data, size);
    }
    size_t count = 0;
    if (rlp_validate(blob, size, &count)) {
        /* Entries are at most 70000 bytes here so same_entries can hold
         * one; longer inputs are only walked. */
        int rebuild = size <= 70000;
        size_t rlen = 0, rcount = 0;
        unsigned char *re = read_all(blob, size, count, rebuild, &rlen);
        if (re) {
            if (!rlp_validate(re, rlen, &rcount) || rcount != count) {
                die("rebuilt blob does not validate");
            }
            same_entries(blob, size, re, rlen);
            alloc_free(re);
        }
    }
    alloc_free(blob);
}

/* --- recipes ------------------------------------------------------------ */

typedef struct cursor {
    const uint8_t *p;
    size_t left;
} cursor;

static uint64_t take(cursor *c, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes && c->left; i++) {
        v = v << 8 | *c->p++;
        c->left--;
    }
    return v;
}

static void check_recipe(const uint8_t *data, size_t size)
{
    static const size_t lens[] = {0, 1, 62, 63, 64, 65, 125, 126, 127, 4094, 4095, 4096, 4097, 16377, 16378, 70000};
    static char text[MAX_OPS][32];
    static size_t tlen[MAX_OPS];
    static const char *sptr[MAX_OPS];
    static char fill[70000];
    cursor c = {data, size};
    if (!c.left) {
        return;
    }
    int nops = (int)(take(&c, 1) % (MAX_OPS + 1));
    rlp_builder b;
    rlp_builder_init(&b);
    int n = 0;
    memset(fill, 'z', sizeof(fill));
    /* A megabyte is plenty to reach every encoding and keeps runs fast. */
    for (; n < nops && c.left && b.len < (1 << 20); n++) {
        uint8_t op = (uint8_t)take(&c, 1);
        sptr[n] = NULL;
        switch (op % 4) {
        case 0: { /* an integer of a chosen width, either sign */
            int shift = (op >> 2) % 64;
            long long v = (long long)(take(&c, 8) >> shift);
            if (op & 0x80) {
                v = -v - 1;
            }
            rlp_append_int(&b, v);
            tlen[n] = (size_t)util_ll2str(text[n], v);
            break;
        }
        case 1: { /* the same, as decimal text */
            int shift = (op >> 2) % 64;
            long long v = (long long)(take(&c, 8) >> shift);
            if (op & 0x80) {
                v = -v - 1;
            }
            tlen[n] = (size_t)util_ll2str(text[n], v);
            rlp_append(&b, text[n], tlen[n]);
            break;
        }
        case 2: /* a string of a boundary length */
            tlen[n] = lens[(op >> 2) % (sizeof(lens) / sizeof(lens[0]))];
            sptr[n] = fill;
            rlp_append(&b, fill, tlen[n]);
            break;
        default: { /* a slice of the input (may look like an integer) */
            size_t want = (size_t)(op >> 2) % 40;
            size_t len = want < c.left ? want : c.left;
            long long v;
            if (util_parse_ll((const char *)c.p, len, &v)) {
                tlen[n] = (size_t)util_ll2str(text[n], v);
            } else {
                sptr[n] = (const char *)c.p;
                tlen[n] = len;
            }
            rlp_append(&b, (const char *)c.p, len);
            c.p += len;
            c.left -= len;
            break;
        }
        }
    }
    size_t len, count = 0;
    unsigned char *blob = rlp_builder_finish(&b, &len);
    if (!rlp_validate(blob, len, &count) || count != (size_t)n) {
        die("a built blob does not validate");
    }
    rlp_iter it;
    rlp_iter_init(&it, blob, len);
    for (int i = 0; i < n; i++) {
        const unsigned char *s;
        size_t slen;
        long long v;
        int is_int;
        if (!rlp_iter_next(&it, &s, &slen, &v, &is_int)) {
            die("a built blob ends early");
        }
        char buf[32];
        const char *want = sptr[i] ? sptr[i] : text[i];
        if (is_int) {
            size_t nb = (size_t)util_ll2str(buf, v);
            if (sptr[i] || nb != tlen[i] || memcmp(buf, want, nb) != 0) {
                die("a built integer reads back wrong");
            }
        } else if (!sptr[i] || slen != tlen[i] || (slen && memcmp(s, want, slen) != 0)) {
            die("a built string reads back wrong");
        }
    }
    read_all(blob, len, count, 0, NULL);

    /* Corrupt it with what is left: (position, xor) pairs, checking after
     * each. The header total is kept honest half of the time so the walk,
     * not the first comparison, meets the damage. */
    unsigned char *bad = alloc_mem(len);
    memcpy(bad, blob, len);
    while (c.left >= 3) {
        size_t at = (size_t)take(&c, 2) % len;
        uint8_t x = (uint8_t)take(&c, 1);
        bad[at] ^= x ? x : 1;
        size_t cut = len;
        if (x & 1) {
            cut = len - (size_t)x % (len < 16 ? len : 16);
        }
        unsigned char *q = alloc_mem(cut ? cut : 1);
        memcpy(q, bad, cut);
        if (cut >= 4 && (x & 2)) {
            for (int i = 0; i < 4; i++) {
                q[i] = (unsigned char)(cut >> (8 * i));
            }
        }
        size_t qc = 0;
        if (rlp_validate(q, cut, &qc)) {
            read_all(q, cut, qc, 0, NULL);
        }
        alloc_free(q);
    }
    alloc_free(bad);
    alloc_free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_blob(data, size);
    check_recipe(data, size);
    return 0;
}

#ifdef FUZZ_STANDALONE
/* Replays the given files and built-in seeds, then mutates them at random
 * for a while. */
/* Listpacks from redis-server 7.0 (a hash, a sorted set, a list node). */
static const char *const seed_hex[] = {
    "24000000080081610201018162028568656c6c6f06816302dffb02816402f2a0860104ff",
    "140000000400816d0283312e3504816e020201ff",
    "100000000400817802010102010301ff",
    "07000000ffffff",
};

int main(int argc, char **argv)
{
    long iterations = getenv("FUZZ_ITERATIONS") ? atol(getenv("FUZZ_ITERATIONS")) : 200000;
    uint8_t *seeds[256];
    size_t seed_len[256];
    int nseeds = 0;
    for (size_t i = 0; i < sizeof(seed_hex) / sizeof(seed_hex[0]); i++) {
        size_t n = strlen(seed_hex[i]) / 2;
        seeds[nseeds] = malloc(n);
        for (size_t j = 0; j < n; j++) {
            char byte[3] = {seed_hex[i][2 * j], seed_hex[i][2 * j + 1], 0};
            seeds[nseeds][j] = (uint8_t)strtoul(byte, NULL, 16);
        }
        seed_len[nseeds++] = n;
    }
    for (int i = 1; i < argc && nseeds < 256; i++) {
        seeds[nseeds] = fuzz_read_file(argv[i], &seed_len[nseeds]);
        if (seeds[nseeds]) {
            nseeds++;
        }
    }
    for (int i = 0; i < nseeds; i++) {
        LLVMFuzzerTestOneInput(seeds[i], seed_len[i]);
    }
    util_rand_seed(12345);
    uint8_t buf[4096];
    for (long it = 0; it < iterations; it++) {
        size_t len = 0;
        if (util_rand64() % 4) {
            int s = (int)(util_rand64() % (uint64_t)nseeds);
            len = seed_len[s] < sizeof(buf) ? seed_len[s] : sizeof(buf);
            memcpy(buf, seeds[s], len);
        } else {
            /* A random recipe. */
            len = (size_t)(util_rand64() % 200);
            for (size_t i = 0; i < len; i++) {
                buf[i] = (uint8_t)util_rand64();
            }
        }
        int muts = (int)(util_rand64() % 4);
        for (int m = 0; m < muts && len; m++) {
            uint64_t r = util_rand64();
            size_t at = (size_t)(r >> 8) % len;
            switch (r % 3) {
            case 0: buf[at] = (uint8_t)(r >> 40); break;
            case 1: len = at + 1; break;
            default: /* a fresh header total, so the walk meets the damage */
                if (len >= 4) {
                    for (int i = 0; i < 4; i++) {
                        buf[i] = (uint8_t)(len >> (8 * i));
                    }
                }
                break;
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    for (int i = 0; i < nseeds; i++) {
        free(seeds[i]);
    }
    printf("fuzz_redis_listpack: %ld random inputs and %d seeds, no invariant broken\n", iterations, nseeds);
    return 0;
}
#endif
