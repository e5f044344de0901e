/* resp_parse unit test: a table of valid and malformed requests, each fed
 * whole and then one byte at a time the way the client reader does it
 * (dropping consumed bytes between reads), checking done / incomplete /
 * error, the exact error text, the arguments and the consumed offset. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/str.h"
#include "proto/resp_parse.h"
#include "unit.h"

#define IN(lit) lit, sizeof(lit) - 1

typedef struct tcase {
    const char *in;
    size_t len;
    int rc;          /* RESP_DONE, RESP_INCOMPLETE or RESP_ERROR */
    size_t consumed; /* *pos after RESP_DONE (0: the whole input) */
    int argc;        /* -1: do not check */
    const char *args[4];
    const char *err;
    int unauth;
} tcase;

static const tcase cases[] = {
    /* multibulk */
    {IN("*1\r\n$4\r\nPING\r\n"), RESP_DONE, 0, 1, {"PING"}, NULL, 0},
    {IN("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), RESP_DONE, 0, 2, {"GET", "k"}, NULL, 0},
    {IN("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$5\r\na\r\nb\0\r\n"), RESP_DONE, 0, 3, {"SET", "", "a\r\nb"}, NULL, 0},
    {IN("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI"), RESP_DONE, 14, 1, {"PING"}, NULL, 0},
    {IN("*0\r\n"), RESP_DONE, 0, 0, {0}, NULL, 0},
    {IN("*-1\r\n"), RESP_DONE, 0, 0, {0}, NULL, 0},
    {IN("*2\r\n$3\r\nGET\r\n"), RESP_INCOMPLETE, 0, -1, {0}, NULL, 0},
    {IN("*2\r\n$3\r\nGET\r\n$1\r\nk\r"), RESP_INCOMPLETE, 0, -1, {0}, NULL, 0},
    {IN("*2"), RESP_INCOMPLETE, 0, -1, {0}, NULL, 0},
    {IN("*2\r"), RESP_INCOMPLETE, 0, -1, {0}, NULL, 0},
    {IN("*1000000000\r\n$1\r\na\r\n"), RESP_INCOMPLETE, 0, -1, {0}, NULL, 0},
    {IN("*1\r\n$1048576\r\nabc"), RESP_INCOMPLETE, 0, -1, {0}, NULL, 0},
    /* malformed multibulk */
    {IN("*abc\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid multibulk length", 0},
    {IN("*1x\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid multibulk length", 0},
    {IN("*\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid multibulk length", 0},
    {IN("*3000000000\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid multibulk length", 0},
    {IN("*1\rx"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid multibulk length", 0},
    {IN("*2\r\nfoo\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: expected '$', got 'f'", 0},
    {IN("*2\r\n$3\r\nGET\r\n:1\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: expected '$', got ':'", 0},
    {IN("*1\r\n$abc\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*1\r\n$-1\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*1\r\n$1048577\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*1\r\n$2000000000\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*1\r\n$3\r\nabcXY"), RESP_ERROR, 0, -1, {0}, "Protocol error: bulk string is not terminated by CRLF", 0},
    /* headers either side of the 18-digit one-pass reading, and the forms
     * only the general reading decides */
    {IN("*01\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid multibulk length", 0},
    {IN("*1\r\n$03\r\nabc\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*1\r\n$3\nabc\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*1\r\n$3 \r\nabc\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*100000000000000000\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid multibulk length", 0},
    {IN("*1\r\n$123456789012345678\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*1\r\n$1234567890123456789\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*1\r\n$12345678901234567890\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*1\r\n$000000000000000000003\r\nabc\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid bulk length", 0},
    {IN("*12\r\n$1\r\na\r\n"), RESP_INCOMPLETE, 0, -1, {0}, NULL, 0},
    {IN("*1\r\n$10\r\n0123456789\r\n"), RESP_DONE, 0, 1, {"0123456789"}, NULL, 0},
    /* unauthenticated limits */
    {IN("*10\r\n"), RESP_INCOMPLETE, 0, -1, {0}, NULL, 1},
    {IN("*11\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: unauthenticated multibulk length", 1},
    {IN("*1\r\n$16385\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: unauthenticated bulk length", 1},
    {IN("*x\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: invalid multibulk length", 1},
    {IN("*1\r\n$16384\r\n"), RESP_INCOMPLETE, 0, -1, {0}, NULL, 1},
    /* inline */
    {IN("PING\r\n"), RESP_DONE, 0, 1, {"PING"}, NULL, 0},
    {IN("PING\n"), RESP_DONE, 0, 1, {"PING"}, NULL, 0},
    {IN("  SET  a   b  \r\n"), RESP_DONE, 0, 3, {"SET", "a", "b"}, NULL, 0},
    {IN("SET \"a b\" 'c d'\r\n"), RESP_DONE, 0, 3, {"SET", "a b", "c d"}, NULL, 0},
    {IN("ECHO \"\\x41\\n\\t\\\\\"\r\n"), RESP_DONE, 0, 2, {"ECHO", "A\n\t\\"}, NULL, 0},
    {IN("ECHO 'it\\'s'\r\n"), RESP_DONE, 0, 2, {"ECHO", "it's"}, NULL, 0},
    {IN("ECHO \"\"\r\n"), RESP_DONE, 0, 2, {"ECHO", ""}, NULL, 0},
    {IN("\r\n"), RESP_DONE, 0, 0, {0}, NULL, 0},
    {IN("PING\r\nPING\r\n"), RESP_DONE, 6, 1, {"PING"}, NULL, 0},
    {IN("PING"), RESP_INCOMPLETE, 0, -1, {0}, NULL, 0},
    {IN("SET \"a\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: unbalanced quotes in request", 0},
    {IN("SET 'a\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: unbalanced quotes in request", 0},
    {IN("SET \"a\"b\r\n"), RESP_ERROR, 0, -1, {0}, "Protocol error: unbalanced quotes in request", 0},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static const resp_limits lim_auth = {1024 * 1024, INT_MAX, 64 * 1024, 0};
static const resp_limits lim_unauth = {16384, 10, 64 * 1024, 1};

static int args_match(const tcase *t, resp_parser *p, const char *buf)
{
    if (t->argc < 0) {
        return 1;
    }
    if ((int)p->argc != t->argc) {
        return 0;
    }
    for (int i = 0; i < t->argc; i++) {
        sv a = resp_parser_arg(p, buf, (size_t)i);
        /* The case with an embedded NUL stores it as "a\r\nb\0": compare
         * lengths from the table's own bytes where they hold a NUL. */
        size_t want = strlen(t->args[i]);
        if (a.len == want + 1 && a.ptr[want] == '\0') {
            want++;
        }
        if (a.len != want || memcmp(a.ptr, t->args[i], want) != 0) {
            return 0;
        }
    }
    return 1;
}

static void run_whole(const tcase *t, int idx)
{
    resp_parser p;
    resp_parser_init(&p);
    char err[256] = "";
    size_t pos = 0;
    int rc = resp_parse(&p, t->in, t->len, &pos, t->unauth ? &lim_unauth : &lim_auth, err, sizeof(err));
    CHECK(rc == t->rc);
    if (rc != t->rc) {
        fprintf(stderr, "  case %d whole: rc %d, want %d (%s)\n", idx, rc, t->rc, err);
    }
    if (rc == RESP_DONE) {
        CHECK(pos == (t->consumed ? t->consumed : t->len));
        CHECK(args_match(t, &p, t->in));
    } else if (rc == RESP_ERROR) {
        CHECK(strcmp(err, t->err) == 0);
        if (strcmp(err, t->err) != 0) {
            fprintf(stderr, "  case %d: error '%s', want '%s'\n", idx, err, t->err);
        }
    }
    resp_parser_free(&p);
}

/* Feeds one byte per "read", compacting the buffer between reads as the
 * client does, so offsets of half-parsed commands are exercised. */
static void run_bytewise(const tcase *t, int idx)
{
    resp_parser p;
    resp_parser_init(&p);
    char *buf = alloc_mem(t->len + 1);
    size_t len = 0, pos = 0, dropped = 0;
    char err[256] = "";
    int rc = RESP_INCOMPLETE;
    for (size_t i = 0; i < t->len; i++) {
        buf[len++] = t->in[i];
        rc = resp_parse(&p, buf, len, &pos, t->unauth ? &lim_unauth : &lim_auth, err, sizeof(err));
        if (rc != RESP_INCOMPLETE) {
            break;
        }
        size_t drop = resp_parser_keep_from(&p, pos);
        memmove(buf, buf + drop, len - drop);
        resp_parser_shift(&p, drop);
        len -= drop;
        pos -= drop;
        dropped += drop;
    }
    CHECK(rc == t->rc);
    if (rc != t->rc) {
        fprintf(stderr, "  case %d bytewise: rc %d, want %d (%s)\n", idx, rc, t->rc, err);
    }
    if (rc == RESP_DONE) {
        CHECK(args_match(t, &p, buf));
        /* Stopped at the first complete command: all bytes up to it read. */
        CHECK(dropped + pos <= (t->consumed ? t->consumed : t->len));
    } else if (rc == RESP_ERROR) {
        CHECK(strcmp(err, t->err) == 0);
    }
    alloc_free(buf);
    resp_parser_free(&p);
}

/* Several pipelined commands in one buffer parse one after another. */
static void test_pipeline(void)
{
    const char in[] = "*1\r\n$4\r\nPING\r\nECHO hi\r\n*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n\r\n*0\r\nPING\r\n";
    size_t len = sizeof(in) - 1, pos = 0;
    resp_parser p;
    resp_parser_init(&p);
    char err[128];
    const char *want[][2] = {{"PING", NULL}, {"ECHO", "hi"}, {"ECHO", "abc"},
                             {NULL, NULL},   {NULL, NULL},   {"PING", NULL}};
    for (int i = 0; i < 6; i++) {
        CHECK(resp_parse(&p, in, len, &pos, &lim_auth, err, sizeof(err)) == RESP_DONE);
        int argc = want[i][0] ? (want[i][1] ? 2 : 1) : 0;
        CHECK((int)p.argc == argc);
        for (int a = 0; a < argc && a < (int)p.argc; a++) {
            sv v = resp_parser_arg(&p, in, (size_t)a);
            CHECK(v.len == strlen(want[i][a]) && memcmp(v.ptr, want[i][a], v.len) == 0);
        }
    }
    CHECK(pos == len);
    CHECK(resp_parse(&p, in, len, &pos, &lim_auth, err, sizeof(err)) == RESP_INCOMPLETE);
    resp_parser_free(&p);
}

/* Inline lines and header lines longer than max_inline are refused; a
 * length prefix promising more than has arrived allocates nothing big. */
static void test_limits(void)
{
    size_t n = 70000;
    char *big = alloc_mem(n + 8);
    char err[128];
    resp_parser p;
    resp_parser_init(&p);

    memset(big, 'x', n);
    size_t pos = 0;
    CHECK(resp_parse(&p, big, n, &pos, &lim_auth, err, sizeof(err)) == RESP_ERROR);
    CHECK(strcmp(err, "Protocol error: too big inline request") == 0);

    resp_parser_reset(&p);
    big[0] = '*';
    memset(big + 1, '1', n - 1);
    pos = 0;
    CHECK(resp_parse(&p, big, n, &pos, &lim_auth, err, sizeof(err)) == RESP_ERROR);
    CHECK(strcmp(err, "Protocol error: too big mbulk count string") == 0);

    resp_parser_reset(&p);
    memcpy(big, "*1\r\n$", 5);
    memset(big + 5, '1', n - 5);
    pos = 0;
    CHECK(resp_parse(&p, big, n, &pos, &lim_auth, err, sizeof(err)) == RESP_ERROR);
    CHECK(strcmp(err, "Protocol error: too big bulk count string") == 0);

    /* 64 KB exactly without a newline is still just incomplete. */
    resp_parser_reset(&p);
    memset(big, 'y', 64 * 1024);
    pos = 0;
    CHECK(resp_parse(&p, big, 64 * 1024, &pos, &lim_auth, err, sizeof(err)) == RESP_INCOMPLETE);

    /* A huge count grows the argument arrays only with what arrives. */
    resp_parser_reset(&p);
    size_t before = alloc_used();
    const char hdr[] = "*1000000000\r\n$1\r\na\r\n$1\r\nb\r\n";
    pos = 0;
    CHECK(resp_parse(&p, hdr, sizeof(hdr) - 1, &pos, &lim_auth, err, sizeof(err)) == RESP_INCOMPLETE);
    CHECK(p.argc == 2);
    CHECK(alloc_used() - before < 64 * 1024);
    CHECK(resp_parser_pending_bulk(&p, 0) == 0);

    /* pending_bulk reports what a started bulk still needs. */
    resp_parser_reset(&p);
    const char part[] = "*1\r\n$100000\r\nabc";
    pos = 0;
    CHECK(resp_parse(&p, part, sizeof(part) - 1, &pos, &lim_auth, err, sizeof(err)) == RESP_INCOMPLETE);
    CHECK(resp_parser_pending_bulk(&p, sizeof(part) - 1 - pos) == 100002 - 3);
    resp_parser_free(&p);
    alloc_free(big);
}

static void test_split_args(void)
{
    str out = NULL;
    size_t *off = NULL, *lens = NULL, cap = 0;
    const char *line = "set \"a\\x00b\" 'x y' plain \"q\\\"uote\"";
    long n = resp_split_args(line, strlen(line), &out, &off, &lens, &cap);
    CHECK(n == 5);
    CHECK(lens[1] == 3 && memcmp(out + off[1], "a\0b", 3) == 0);
    CHECK(lens[2] == 3 && memcmp(out + off[2], "x y", 3) == 0);
    CHECK(lens[3] == 5 && memcmp(out + off[3], "plain", 5) == 0);
    CHECK(lens[4] == 6 && memcmp(out + off[4], "q\"uote", 6) == 0);
    str_clear(out);
    CHECK(resp_split_args("", 0, &out, &off, &lens, &cap) == 0);
    CHECK(resp_split_args("   ", 3, &out, &off, &lens, &cap) == 0);
    CHECK(resp_split_args("\"abc", 4, &out, &off, &lens, &cap) == -1);
    CHECK(resp_split_args("'abc", 4, &out, &off, &lens, &cap) == -1);
    CHECK(resp_split_args("\"a\"b", 4, &out, &off, &lens, &cap) == -1);
    /* "\x4" is not a hex escape: the backslash escapes the 'x' */
    str_clear(out);
    CHECK(resp_split_args("\"\\x4\"", 5, &out, &off, &lens, &cap) == 1);
    CHECK(lens[0] == 2 && memcmp(out + off[0], "x4", 2) == 0);
    str_free(out);
    alloc_free(off);
    alloc_free(lens);
}

int main(void)
{
    for (size_t i = 0; i < NCASES; i++) {
        run_whole(&cases[i], (int)i);
        run_bytewise(&cases[i], (int)i);
    }
    test_pipeline();
    test_limits();
    test_split_args();
    return unit_report("resp_parse");
}
