/* The seed article's lock, cache-aside, rate-limiter, leaderboard and
 * streams patterns through hiredis (Debian's libhiredis, synchronous API),
 * with pipelining through redisAppendCommand. Every reply is checked for its
 * RESP2 type and value, errors for Redis's exact texts.
 *
 * Usage: hiredis_patterns <port>. Prints one line per section and exits 0
 * when everything matched, 1 at the first mismatch (with the line and the
 * reply), 2 when it cannot connect. DELIFEQ (Keel and Valkey 9 only) is
 * checked only when the server says it is Keel. */
#include <hiredis/hiredis.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static redisContext *ctx;

static const char *type_name(int type)
{
    switch (type) {
    case REDIS_REPLY_STRING: return "STRING";
    case REDIS_REPLY_ARRAY: return "ARRAY";
    case REDIS_REPLY_INTEGER: return "INTEGER";
    case REDIS_REPLY_NIL: return "NIL";
    case REDIS_REPLY_STATUS: return "STATUS";
    case REDIS_REPLY_ERROR: return "ERROR";
    default: return "?";
    }
}

static void fail(int line, const redisReply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAILED at hiredis_patterns.c:%d: ", line);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (r) {
        fprintf(stderr, " (got %s", type_name(r->type));
        if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, " \"%.*s\"", (int)r->len, r->str);
        } else if (r->type == REDIS_REPLY_INTEGER) {
            fprintf(stderr, " %lld", r->integer);
        } else if (r->type == REDIS_REPLY_ARRAY) {
            fprintf(stderr, " of %zu", r->elements);
        }
        fprintf(stderr, ")");
    }
    fprintf(stderr, "\n");
    exit(1);
}

/* One command, synchronously; a NULL reply means the connection broke. */
static redisReply *cmd(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    if (r == NULL) {
        fprintf(stderr, "FAILED: connection error: %s\n", ctx->errstr);
        exit(1);
    }
    return r;
}

/* The next reply of a pipeline. */
static redisReply *next_reply(void)
{
    void *r = NULL;
    if (redisGetReply(ctx, &r) != REDIS_OK || r == NULL) {
        fprintf(stderr, "FAILED: connection error: %s\n", ctx->errstr);
        exit(1);
    }
    return r;
}

static void check_type(int line, redisReply *r, int type)
{
    if (r->type != type) {
        fail(line, r, "expected %s", type_name(type));
    }
}

/* Each check frees the reply it was given. */
static void status_is(int line, redisReply *r, const char *want)
{
    check_type(line, r, REDIS_REPLY_STATUS);
    if (strcmp(r->str, want) != 0) {
        fail(line, r, "expected status %s", want);
    }
    freeReplyObject(r);
}

static void int_is(int line, redisReply *r, long long want)
{
    check_type(line, r, REDIS_REPLY_INTEGER);
    if (r->integer != want) {
        fail(line, r, "expected %lld", want);
    }
    freeReplyObject(r);
}

static long long int_in(int line, redisReply *r, long long lo, long long hi)
{
    check_type(line, r, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    if (v < lo || v > hi) {
        fail(line, r, "expected an integer in [%lld, %lld]", lo, hi);
    }
    freeReplyObject(r);
    return v;
}

static void nil_is(int line, redisReply *r)
{
    check_type(line, r, REDIS_REPLY_NIL);
    freeReplyObject(r);
}

static void str_is_len(int line, redisReply *r, const char *want, size_t len)
{
    check_type(line, r, REDIS_REPLY_STRING);
    if (r->len != len || memcmp(r->str, want, len) != 0) {
        fail(line, r, "expected string \"%.*s\"", (int)len, want);
    }
    freeReplyObject(r);
}

static void str_is(int line, redisReply *r, const char *want)
{
    str_is_len(line, r, want, strlen(want));
}

/* Errors: the whole text, or its start for texts that go on with detail
 * (a script's error names the script). */
static void err_is(int line, redisReply *r, const char *want, int prefix_only)
{
    check_type(line, r, REDIS_REPLY_ERROR);
    size_t n = strlen(want);
    if (prefix_only ? strncmp(r->str, want, n) != 0 : strcmp(r->str, want) != 0) {
        fail(line, r, "expected error %s\"%s\"", prefix_only ? "starting with " : "", want);
    }
    freeReplyObject(r);
}

/* An array of bulk strings, compared to a NULL-terminated list. */
static void strs_are(int line, redisReply *r, const char **want)
{
    check_type(line, r, REDIS_REPLY_ARRAY);
    size_t n = 0;
    while (want[n]) {
        n++;
    }
    if (r->elements != n) {
        fail(line, r, "expected %zu elements", n);
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || strcmp(e->str, want[i]) != 0) {
            fail(line, e, "element %zu: expected \"%s\"", i, want[i]);
        }
    }
    freeReplyObject(r);
}

#define STATUS(r, s) status_is(__LINE__, (r), (s))
#define INT(r, n) int_is(__LINE__, (r), (n))
#define INT_IN(r, lo, hi) int_in(__LINE__, (r), (lo), (hi))
#define NIL(r) nil_is(__LINE__, (r))
#define STR(r, s) str_is(__LINE__, (r), (s))
#define ERR(r, s) err_is(__LINE__, (r), (s), 0)
#define ERR_PREFIX(r, s) err_is(__LINE__, (r), (s), 1)
#define STRS(r, ...) strs_are(__LINE__, (r), (const char *[]){__VA_ARGS__, NULL})

static const char *WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
static const char *NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL.";

static const char *RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then\n"
                                    "return redis.call('del', KEYS[1])\n"
                                    "else\n"
                                    "return 0\n"
                                    "end\n";

static const char *LIMITER_SCRIPT = "local key = KEYS[1]\n"
                                    "local now = tonumber(ARGV[1])\n"
                                    "local window_start = tonumber(ARGV[2])\n"
                                    "local max_requests = tonumber(ARGV[3])\n"
                                    "local window_size = tonumber(ARGV[4])\n"
                                    "redis.call('zremrangebyscore', key, '-inf', window_start)\n"
                                    "local current = redis.call('zcard', key)\n"
                                    "if current < max_requests then\n"
                                    "redis.call('zadd', key, now, now)\n"
                                    "redis.call('expire', key, window_size)\n"
                                    "return 1\n"
                                    "else\n"
                                    "return 0\n"
                                    "end\n";

static int server_is_keel(void)
{
    redisReply *r = cmd("INFO server");
    check_type(__LINE__, r, REDIS_REPLY_STRING);
    int keel = strstr(r->str, "\r\nkeel_version:") != NULL;
    freeReplyObject(r);
    return keel;
}

static void test_lock(int keel)
{
    puts("== lock: SET NX PX, EVAL release, DELIFEQ");
    STATUS(cmd("SET %s %s NX PX %d", "resource:critical", "tok-1", 30000), "OK");
    NIL(cmd("SET %s %s NX PX %d", "resource:critical", "tok-2", 30000));
    STR(cmd("GET resource:critical"), "tok-1");
    INT_IN(cmd("PTTL resource:critical"), 29000, 30000);
    /* A wrong token leaves the lock; the right one releases it once. */
    INT(cmd("EVAL %s 1 %s %s", RELEASE_SCRIPT, "resource:critical", "tok-2"), 0);
    STR(cmd("GET resource:critical"), "tok-1");
    INT(cmd("EVAL %s 1 %s %s", RELEASE_SCRIPT, "resource:critical", "tok-1"), 1);
    INT(cmd("EVAL %s 1 %s %s", RELEASE_SCRIPT, "resource:critical", "tok-1"), 0);
    INT(cmd("EXISTS resource:critical"), 0);

    /* Binary tokens (random bytes, as a careful client would use). */
    const char token[] = {'\0', 'a', '\r', '\n', (char)0xff, ' '};
    STATUS(cmd("SET %s %b NX EX %d", "lock:bin", token, sizeof(token), 30), "OK");
    INT(cmd("EVAL %s 1 %s %b", RELEASE_SCRIPT, "lock:bin", token, sizeof(token) - 1), 0);
    INT(cmd("EVAL %s 1 %s %b", RELEASE_SCRIPT, "lock:bin", token, sizeof(token)), 1);

    /* The release on a key of another type fails inside the script with
     * WRONGTYPE (and the script's name after it). */
    INT(cmd("LPUSH lock:list x"), 1);
    ERR_PREFIX(cmd("EVAL %s 1 %s %s", RELEASE_SCRIPT, "lock:list", "x"), WRONGTYPE);
    ERR(cmd("GET lock:list"), WRONGTYPE);

    if (keel) {
        /* The native compare-and-delete does the same without a script. */
        STATUS(cmd("SET %s %s NX PX %d", "resource:critical", "tok-3", 30000), "OK");
        INT(cmd("DELIFEQ resource:critical tok-x"), 0);
        STR(cmd("GET resource:critical"), "tok-3");
        INT(cmd("DELIFEQ resource:critical tok-3"), 1);
        INT(cmd("DELIFEQ resource:critical tok-3"), 0);
        ERR(cmd("DELIFEQ lock:list x"), WRONGTYPE);
        ERR(cmd("DELIFEQ resource:critical"), "ERR wrong number of arguments for 'delifeq' command");
    }
    INT(cmd("DEL lock:list"), 1);
}

static void test_cache_aside(void)
{
    puts("== cache-aside with TTL");
    const char *user = "{\"id\":42,\"name\":\"Ada\"}";
    /* Miss, populate with SETEX (the article) and SET EX, hit. */
    NIL(cmd("GET user:42"));
    STATUS(cmd("SETEX user:42 3600 %s", user), "OK");
    STR(cmd("GET user:42"), user);
    INT_IN(cmd("TTL user:42"), 3599, 3600);
    STATUS(cmd("SET user:43 %s EX 3600", user), "OK");
    INT_IN(cmd("TTL user:43"), 3599, 3600);
    /* Write-through overwrites and resets the TTL; plain SET drops it. */
    STATUS(cmd("SETEX user:42 60 %s", "{}"), "OK");
    INT_IN(cmd("TTL user:42"), 59, 60);
    STATUS(cmd("SET user:42 v"), "OK");
    INT(cmd("TTL user:42"), -1);
    INT(cmd("TTL user:nosuch"), -2);
    ERR(cmd("SETEX user:42 0 v"), "ERR invalid expire time in 'setex' command");
    ERR(cmd("SETEX user:42 abc v"), "ERR value is not an integer or out of range");
    /* Entries really expire. */
    STATUS(cmd("SET user:short v PX 50"), "OK");
    usleep(150 * 1000);
    NIL(cmd("GET user:short"));
    INT(cmd("EXISTS user:short"), 0);
    INT(cmd("DEL user:42 user:43"), 2);
}

static void test_rate_limiter(void)
{
    puts("== rate limiter: SCRIPT LOAD + EVALSHA (pipelined)");
    redisReply *r = cmd("SCRIPT LOAD %s", LIMITER_SCRIPT);
    check_type(__LINE__, r, REDIS_REPLY_STRING);
    if (r->len != 40 || strspn(r->str, "0123456789abcdef") != 40) {
        fail(__LINE__, r, "expected a 40-digit lowercase hex SHA1");
    }
    char sha[41];
    memcpy(sha, r->str, 41);
    freeReplyObject(r);

    r = cmd("SCRIPT EXISTS %s %s", sha, "0000000000000000000000000000000000000000");
    check_type(__LINE__, r, REDIS_REPLY_ARRAY);
    if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer != 1 ||
        r->element[1]->type != REDIS_REPLY_INTEGER || r->element[1]->integer != 0) {
        fail(__LINE__, r, "expected [1, 0]");
    }
    freeReplyObject(r);

    /* 8 requests in one round trip against a limit of 5 per 60 s: the
     * first 5 pass. Timestamps are distinct (the article's members are the
     * timestamps, so equal ones would count once). */
    double now = (double)time(NULL);
    for (int i = 0; i < 8; i++) {
        char t[32], start[32];
        snprintf(t, sizeof(t), "%.3f", now + i * 0.001);
        snprintf(start, sizeof(start), "%.3f", now + i * 0.001 - 60);
        if (redisAppendCommand(ctx, "EVALSHA %s 1 %s %s %s %d %d", sha, "user:7", t, start, 5, 60) != REDIS_OK) {
            fail(__LINE__, NULL, "redisAppendCommand");
        }
    }
    for (int i = 0; i < 8; i++) {
        INT(next_reply(), i < 5 ? 1 : 0);
    }
    INT(cmd("ZCARD user:7"), 5);
    INT_IN(cmd("TTL user:7"), 1, 60);
    /* The window slides: 61 s later everything has left it. */
    char later[32], later_start[32];
    snprintf(later, sizeof(later), "%.3f", now + 61);
    snprintf(later_start, sizeof(later_start), "%.3f", now + 1);
    INT(cmd("EVALSHA %s 1 %s %s %s %d %d", sha, "user:7", later, later_start, 5, 60), 1);
    INT(cmd("ZCARD user:7"), 1);
    /* The limiter on a string key fails with WRONGTYPE from the script. */
    STATUS(cmd("SET user:str x"), "OK");
    ERR_PREFIX(cmd("EVALSHA %s 1 %s %s %s %d %d", sha, "user:str", later, later_start, 5, 60), WRONGTYPE);

    /* Unknown SHA1s and flushed caches: NOSCRIPT, with its exact text,
     * also for an upper-case SHA1 that is loaded. */
    ERR(cmd("EVALSHA %s 0", "0000000000000000000000000000000000000000"), NOSCRIPT);
    ERR(cmd("EVALSHA %s 0", "abc"), NOSCRIPT);
    char upper[41];
    for (int i = 0; i < 41; i++) {
        upper[i] = (sha[i] >= 'a' && sha[i] <= 'f') ? (char)(sha[i] - 32) : sha[i];
    }
    INT(cmd("EVALSHA %s 1 %s %s %s %d %d", upper, "user:8", later, later_start, 5, 60), 1);
    STATUS(cmd("SCRIPT FLUSH"), "OK");
    ERR(cmd("EVALSHA %s 1 %s %s %s %d %d", sha, "user:7", later, later_start, 5, 60), NOSCRIPT);
    INT(cmd("DEL user:7 user:8 user:str"), 3);
}

static void test_leaderboard(void)
{
    puts("== leaderboard (pipelined ZADD)");
    for (int i = 0; i < 100; i++) {
        redisAppendCommand(ctx, "ZADD leaderboard:global %d player:%d", i * 10, i);
    }
    for (int i = 0; i < 100; i++) {
        INT(next_reply(), 1);
    }
    /* ZADD updates in place. */
    INT(cmd("ZADD leaderboard:global 1500 user:123"), 1);
    INT(cmd("ZADD leaderboard:global 1200 user:456"), 1);
    INT(cmd("ZADD leaderboard:global 1100 user:456"), 0);
    INT(cmd("ZADD leaderboard:global 1200 user:456"), 0);
    INT(cmd("ZCARD leaderboard:global"), 102);
    STRS(cmd("ZREVRANGE leaderboard:global 0 2 WITHSCORES"), "user:123", "1500", "user:456", "1200", "player:99",
         "990");
    STRS(cmd("ZRANGE leaderboard:global 0 1 REV"), "user:123", "user:456");
    INT(cmd("ZREVRANK leaderboard:global user:123"), 0);
    INT(cmd("ZREVRANK leaderboard:global player:0"), 101);
    NIL(cmd("ZREVRANK leaderboard:global nobody"));
    STR(cmd("ZSCORE leaderboard:global user:123"), "1500");
    NIL(cmd("ZSCORE leaderboard:global nobody"));
    /* The article's incrementScore: ZINCRBY replies the new score. */
    STR(cmd("ZINCRBY leaderboard:global 300 user:456"), "1500");
    STR(cmd("ZINCRBY leaderboard:global 0.5 user:456"), "1500.5");
    STR(cmd("ZINCRBY leaderboard:global -0.5 user:456"), "1500");
    STRS(cmd("ZREVRANGE leaderboard:global 0 1"), "user:456", "user:123");
    INT(cmd("ZREM leaderboard:global user:456"), 1);
    INT(cmd("ZREM leaderboard:global user:456"), 0);
    STRS(cmd("ZREVRANGE leaderboard:global 1 3 WITHSCORES"), "player:99", "990", "player:98", "980", "player:97",
         "970");
    {
        redisReply *r = cmd("ZREVRANGE nosuch 0 -1");
        check_type(__LINE__, r, REDIS_REPLY_ARRAY);
        if (r->elements != 0) {
            fail(__LINE__, r, "expected an empty array");
        }
        freeReplyObject(r);
    }
    /* Type and argument errors keep Redis's texts. */
    STATUS(cmd("SET leaderboard:str x"), "OK");
    ERR(cmd("ZADD leaderboard:str 1 a"), WRONGTYPE);
    ERR(cmd("ZREVRANK leaderboard:str a"), WRONGTYPE);
    ERR(cmd("GET leaderboard:global"), WRONGTYPE);
    ERR(cmd("ZADD leaderboard:global notanumber a"), "ERR value is not a valid float");
    ERR(cmd("ZINCRBY leaderboard:global x user:123"), "ERR value is not a valid float");
    INT(cmd("DEL leaderboard:global leaderboard:str"), 2);
}

static void test_pipeline_mixed(void)
{
    puts("== pipeline of mixed reply types, MULTI/EXEC");
    redisAppendCommand(ctx, "SET counter 10");
    redisAppendCommand(ctx, "INCR counter");
    redisAppendCommand(ctx, "GET nosuch");
    redisAppendCommand(ctx, "INCR %s", "nosuch:str");
    redisAppendCommand(ctx, "SET nosuch:str abc");
    redisAppendCommand(ctx, "INCR nosuch:str");
    redisAppendCommand(ctx, "LPUSH events:queue a b c");
    redisAppendCommand(ctx, "LRANGE events:queue 0 999");
    redisAppendCommand(ctx, "NOSUCHCOMMAND x");
    redisAppendCommand(ctx, "PING");
    STATUS(next_reply(), "OK");
    INT(next_reply(), 11);
    NIL(next_reply());
    INT(next_reply(), 1);
    STATUS(next_reply(), "OK");
    ERR(next_reply(), "ERR value is not an integer or out of range");
    INT(next_reply(), 3);
    STRS(next_reply(), "c", "b", "a");
    ERR_PREFIX(next_reply(), "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x'");
    STATUS(next_reply(), "PONG");

    /* A lock taken inside a transaction: EXEC replies an array of the
     * queued commands' replies, a nil SET included. */
    STATUS(cmd("MULTI"), "OK");
    STATUS(cmd("SET lock:tx a NX PX 1000"), "QUEUED");
    STATUS(cmd("SET lock:tx b NX PX 1000"), "QUEUED");
    STATUS(cmd("INCR counter"), "QUEUED");
    redisReply *r = cmd("EXEC");
    check_type(__LINE__, r, REDIS_REPLY_ARRAY);
    if (r->elements != 3 || r->element[0]->type != REDIS_REPLY_STATUS || r->element[1]->type != REDIS_REPLY_NIL ||
        r->element[2]->type != REDIS_REPLY_INTEGER || r->element[2]->integer != 12) {
        fail(__LINE__, r, "expected [OK, nil, 12]");
    }
    freeReplyObject(r);
    INT(cmd("DEL counter nosuch:str events:queue lock:tx"), 4);
}

/* ---- streams ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* A stream ID "<ms>-<seq>", copied out of a STRING reply (freed). */
static void stream_id(int line, redisReply *r, char *out, size_t size)
{
    check_type(line, r, REDIS_REPLY_STRING);
    size_t digits = strspn(r->str, "0123456789");
    if (digits == 0 || r->str[digits] != '-' || strspn(r->str + digits + 1, "0123456789") != r->len - digits - 1 ||
        r->len - digits - 1 == 0 || r->len >= size) {
        fail(line, r, "expected a stream ID <ms>-<seq>");
    }
    memcpy(out, r->str, r->len + 1);
    freeReplyObject(r);
}

static int stream_id_less(const char *a, const char *b)
{
    unsigned long long am = strtoull(a, NULL, 10), bm = strtoull(b, NULL, 10);
    unsigned long long as = strtoull(strchr(a, '-') + 1, NULL, 10), bs = strtoull(strchr(b, '-') + 1, NULL, 10);
    return am < bm || (am == bm && as < bs);
}

/* One entry of a stream reply: ARRAY [STRING id, ARRAY [STRING field,
 * STRING value, ...]], compared to `fields` (NULL-terminated pairs,
 * values may hold binary data: their lengths are in `lens`, 0 = strlen). */
static void entry_is(int line, const redisReply *e, const char *id, const char **fields, const size_t *lens)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) {
        fail(line, e, "entry: expected ARRAY of 2 [id, fields]");
    }
    if (e->element[0]->type != REDIS_REPLY_STRING || strcmp(e->element[0]->str, id) != 0) {
        fail(line, e->element[0], "entry: expected id %s", id);
    }
    const redisReply *f = e->element[1];
    size_t n = 0;
    while (fields[n]) {
        n++;
    }
    if (f->type != REDIS_REPLY_ARRAY || f->elements != n) {
        fail(line, f, "entry %s: expected ARRAY of %zu field/value strings", id, n);
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = (lens && lens[i]) ? lens[i] : strlen(fields[i]);
        const redisReply *s = f->element[i];
        if (s->type != REDIS_REPLY_STRING || s->len != len || memcmp(s->str, fields[i], len) != 0) {
            fail(line, s, "entry %s: element %zu: expected \"%.*s\"", id, i, (int)len, fields[i]);
        }
    }
}

/* An XREAD/XREADGROUP reply for one stream: ARRAY [ARRAY [STRING key,
 * ARRAY of entries]]; returns the entries array (the reply stays owned by
 * the caller). */
static const redisReply *one_stream(int line, const redisReply *r, const char *key, size_t entries)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1) {
        fail(line, r, "expected ARRAY of 1 stream");
    }
    const redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2) {
        fail(line, s, "stream: expected ARRAY of 2 [key, entries]");
    }
    if (s->element[0]->type != REDIS_REPLY_STRING || strcmp(s->element[0]->str, key) != 0) {
        fail(line, s->element[0], "stream: expected key %s", key);
    }
    if (s->element[1]->type != REDIS_REPLY_ARRAY || s->element[1]->elements != entries) {
        fail(line, s->element[1], "stream %s: expected ARRAY of %zu entries", key, entries);
    }
    return s->element[1];
}

/* XINFO GROUPS for a stream with one group: ARRAY [ARRAY [name, STRING,
 * consumers, INTEGER, pending, INTEGER, last-delivered-id, STRING,
 * entries-read, INTEGER or NIL, lag, INTEGER or NIL]]. -1 stands for NIL. */
static void group_is(int line, redisReply *r, const char *name, long long consumers, long long pending,
                     const char *last_id, long long entries_read, long long lag)
{
    static const char *names[] = {"name", "consumers", "pending", "last-delivered-id", "entries-read", "lag"};
    check_type(line, r, REDIS_REPLY_ARRAY);
    if (r->elements != 1) {
        fail(line, r, "expected one group");
    }
    const redisReply *g = r->element[0];
    if (g->type != REDIS_REPLY_ARRAY || g->elements != 12) {
        fail(line, g, "group: expected ARRAY of 12");
    }
    for (int i = 0; i < 6; i++) {
        const redisReply *k = g->element[2 * i];
        if (k->type != REDIS_REPLY_STRING || strcmp(k->str, names[i]) != 0) {
            fail(line, k, "group field %d: expected \"%s\"", i, names[i]);
        }
    }
    const redisReply *v = g->element[1];
    if (v->type != REDIS_REPLY_STRING || strcmp(v->str, name) != 0) {
        fail(line, v, "name: expected \"%s\"", name);
    }
    long long ints[] = {consumers, pending};
    for (int i = 0; i < 2; i++) {
        v = g->element[3 + 2 * i];
        if (v->type != REDIS_REPLY_INTEGER || v->integer != ints[i]) {
            fail(line, v, "%s: expected %lld", names[1 + i], ints[i]);
        }
    }
    v = g->element[7];
    if (v->type != REDIS_REPLY_STRING || strcmp(v->str, last_id) != 0) {
        fail(line, v, "last-delivered-id: expected %s", last_id);
    }
    long long opt[] = {entries_read, lag};
    for (int i = 0; i < 2; i++) {
        v = g->element[9 + 2 * i];
        if (opt[i] < 0 ? v->type != REDIS_REPLY_NIL : (v->type != REDIS_REPLY_INTEGER || v->integer != opt[i])) {
            fail(line, v, opt[i] < 0 ? "%s: expected NIL" : "%s: expected %lld", names[4 + i], opt[i]);
        }
    }
    freeReplyObject(r);
}

#define GROUP(r, ...) group_is(__LINE__, (r), __VA_ARGS__)

static void wait_blocked(void)
{
    for (int i = 0; i < 500; i++) {
        redisReply *r = cmd("INFO clients");
        check_type(__LINE__, r, REDIS_REPLY_STRING);
        const char *p = strstr(r->str, "\r\nblocked_clients:");
        int n = p ? atoi(p + strlen("\r\nblocked_clients:")) : 0;
        freeReplyObject(r);
        if (n >= 1) {
            return;
        }
        usleep(10 * 1000);
    }
    fail(__LINE__, NULL, "no client blocked after 5 s");
}

static void test_streams(int port)
{
    puts("== streams: XADD *, XGROUP CREATE MKSTREAM, XREADGROUP COUNT/BLOCK, XACK, XINFO GROUPS");
    const char *key = "stream:order-events";
    const char *group = "order-processor";
    /* The article creates the group with id 0 and no MKSTREAM: refused on
     * a missing key. MKSTREAM creates an empty stream; again is BUSYGROUP. */
    ERR(cmd("XGROUP CREATE %s %s 0", key, group),
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the "
        "MKSTREAM option to create an empty stream automatically.");
    INT(cmd("EXISTS %s", key), 0);
    STATUS(cmd("XGROUP CREATE %s %s 0 MKSTREAM", key, group), "OK");
    ERR(cmd("XGROUP CREATE %s %s 0 MKSTREAM", key, group), "BUSYGROUP Consumer Group name already exists");
    STATUS(cmd("TYPE %s", key), "stream");
    INT(cmd("XLEN %s", key), 0);
    GROUP(cmd("XINFO GROUPS %s", key), group, 0, 0, "0-0", -1, 0);

    /* Producer: XADD with '*' and the article's three fields; data is
     * JSON, and one value is binary (hiredis's %b). */
    char ids[3][64];
    const char bin[] = {'{', '\0', '\r', '\n', (char)0xff, '}'};
    const char *f0[] = {"event_type", "ORDER_CREATED", "user_id", "u-1", "data", "{\"total\":42.5}", NULL};
    const char *f1[] = {"event_type", "ORDER_PAID", "user_id", "u-1", "data", bin, NULL};
    const size_t l1[] = {0, 0, 0, 0, 0, sizeof(bin)};
    const char *f2[] = {"event_type", "ORDER_SHIPPED", "user_id", "u-2", "data", "{}", NULL};
    stream_id(__LINE__, cmd("XADD %s * event_type %s user_id %s data %s", key, f0[1], f0[3], f0[5]), ids[0], 64);
    stream_id(__LINE__, cmd("XADD %s * event_type %s user_id %s data %b", key, f1[1], f1[3], bin, sizeof(bin)), ids[1],
              64);
    stream_id(__LINE__, cmd("XADD %s * event_type %s user_id %s data %s", key, f2[1], f2[3], f2[5]), ids[2], 64);
    if (!stream_id_less(ids[0], ids[1]) || !stream_id_less(ids[1], ids[2])) {
        fail(__LINE__, NULL, "IDs out of order: %s %s %s", ids[0], ids[1], ids[2]);
    }
    INT(cmd("XLEN %s", key), 3);
    GROUP(cmd("XINFO GROUPS %s", key), group, 0, 0, "0-0", -1, 3);

    /* Consumer: COUNT 1 BLOCK 1000 reads one entry at a time, in order. */
    redisReply *r = cmd("XREADGROUP GROUP %s worker-1 COUNT 1 BLOCK 1000 STREAMS %s >", group, key);
    entry_is(__LINE__, one_stream(__LINE__, r, key, 1)->element[0], ids[0], f0, NULL);
    freeReplyObject(r);
    GROUP(cmd("XINFO GROUPS %s", key), group, 1, 1, ids[0], 1, 2);
    /* The rest in one read: two entries, the binary value intact. */
    r = cmd("XREADGROUP GROUP %s worker-1 COUNT 10 BLOCK 1000 STREAMS %s >", group, key);
    const redisReply *entries = one_stream(__LINE__, r, key, 2);
    entry_is(__LINE__, entries->element[0], ids[1], f1, l1);
    entry_is(__LINE__, entries->element[1], ids[2], f2, NULL);
    freeReplyObject(r);
    GROUP(cmd("XINFO GROUPS %s", key), group, 1, 3, ids[2], 3, 0);

    /* XPENDING's summary: the count per consumer is a bulk string. */
    r = cmd("XPENDING %s %s", key, group);
    check_type(__LINE__, r, REDIS_REPLY_ARRAY);
    if (r->elements != 4 || r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer != 3 ||
        r->element[1]->type != REDIS_REPLY_STRING || strcmp(r->element[1]->str, ids[0]) != 0 ||
        r->element[2]->type != REDIS_REPLY_STRING || strcmp(r->element[2]->str, ids[2]) != 0 ||
        r->element[3]->type != REDIS_REPLY_ARRAY || r->element[3]->elements != 1) {
        fail(__LINE__, r, "expected [3, first id, last id, [[worker-1, \"3\"]]]");
    }
    const redisReply *owner = r->element[3]->element[0];
    if (owner->type != REDIS_REPLY_ARRAY || owner->elements != 2 || owner->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(owner->element[0]->str, "worker-1") != 0 || owner->element[1]->type != REDIS_REPLY_STRING ||
        strcmp(owner->element[1]->str, "3") != 0) {
        fail(__LINE__, owner, "expected [STRING worker-1, STRING 3]");
    }
    freeReplyObject(r);

    /* Nothing new: BLOCK 100 times out with a nil array (NIL in hiredis). */
    double t0 = now_ms();
    NIL(cmd("XREADGROUP GROUP %s worker-1 COUNT 1 BLOCK 100 STREAMS %s >", group, key));
    if (now_ms() - t0 < 90) {
        fail(__LINE__, NULL, "BLOCK 100 returned after %.0f ms", now_ms() - t0);
    }

    /* XACK, pipelined: one each, then the same IDs again count 0. */
    for (int i = 0; i < 3; i++) {
        redisAppendCommand(ctx, "XACK %s %s %s", key, group, ids[i]);
    }
    redisAppendCommand(ctx, "XACK %s %s %s %s %s", key, group, ids[0], ids[1], ids[2]);
    for (int i = 0; i < 3; i++) {
        INT(next_reply(), 1);
    }
    INT(next_reply(), 0);
    r = cmd("XPENDING %s %s", key, group);
    check_type(__LINE__, r, REDIS_REPLY_ARRAY);
    if (r->elements != 4 || r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer != 0 ||
        r->element[1]->type != REDIS_REPLY_NIL || r->element[2]->type != REDIS_REPLY_NIL ||
        r->element[3]->type != REDIS_REPLY_NIL) {
        fail(__LINE__, r, "expected [0, nil, nil, nil]");
    }
    freeReplyObject(r);
    GROUP(cmd("XINFO GROUPS %s", key), group, 1, 0, ids[2], 3, 0);
    /* The consumer's history ('0') is now empty: the stream, no entries. */
    r = cmd("XREADGROUP GROUP %s worker-1 STREAMS %s 0", group, key);
    one_stream(__LINE__, r, key, 0);
    freeReplyObject(r);

    /* A BLOCK read on a second connection, sent without waiting for its
     * reply, woken by an XADD on the first. */
    struct timeval timeout = {10, 0};
    redisContext *ctx2 = redisConnectWithTimeout("127.0.0.1", port, timeout);
    if (ctx2 == NULL || ctx2->err) {
        fail(__LINE__, NULL, "second connection: %s", ctx2 ? ctx2->errstr : "out of memory");
    }
    redisSetTimeout(ctx2, timeout);
    t0 = now_ms();
    redisAppendCommand(ctx2, "XREADGROUP GROUP %s worker-2 COUNT 1 BLOCK 5000 STREAMS %s >", group, key);
    int done = 0;
    while (!done) {
        if (redisBufferWrite(ctx2, &done) != REDIS_OK) {
            fail(__LINE__, NULL, "second connection: %s", ctx2->errstr);
        }
    }
    wait_blocked();
    char late[64];
    const char *f3[] = {"event_type", "ORDER_DELIVERED", "user_id", "u-1", "data", "{}", NULL};
    stream_id(__LINE__, cmd("XADD %s * event_type %s user_id %s data %s", key, f3[1], f3[3], f3[5]), late, 64);
    void *woke = NULL;
    if (redisGetReply(ctx2, &woke) != REDIS_OK || woke == NULL) {
        fail(__LINE__, NULL, "second connection: %s", ctx2->errstr);
    }
    if (now_ms() - t0 > 4000) {
        fail(__LINE__, NULL, "woken after %.0f ms", now_ms() - t0);
    }
    entry_is(__LINE__, one_stream(__LINE__, woke, key, 1)->element[0], late, f3, NULL);
    freeReplyObject(woke);
    redisFree(ctx2);
    GROUP(cmd("XINFO GROUPS %s", key), group, 2, 1, late, 4, 0);
    INT(cmd("XACK %s %s %s", key, group, late), 1);
    GROUP(cmd("XINFO GROUPS %s", key), group, 2, 0, late, 4, 0);

    /* Errors keep Redis's texts. */
    ERR_PREFIX(cmd("XREADGROUP GROUP nogroup w STREAMS %s >", key),
               "NOGROUP No such key 'stream:order-events' or consumer group 'nogroup'");
    ERR(cmd("XINFO GROUPS nosuch:stream"), "ERR no such key");
    STATUS(cmd("SET stream:str x"), "OK");
    ERR(cmd("XADD stream:str * a 1"), WRONGTYPE);
    ERR(cmd("XINFO GROUPS stream:str"), WRONGTYPE);
    ERR(cmd("XADD %s 1-1 a 1", key),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item");
    ERR(cmd("XACK %s %s notanid", key, group), "ERR Invalid stream ID specified as stream command argument");
    INT(cmd("DEL %s stream:str", key), 2);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <port>\n", argv[0]);
        return 2;
    }
    struct timeval timeout = {10, 0};
    ctx = redisConnectWithTimeout("127.0.0.1", atoi(argv[1]), timeout);
    if (ctx == NULL || ctx->err) {
        fprintf(stderr, "cannot connect: %s\n", ctx ? ctx->errstr : "out of memory");
        return 2;
    }
    redisSetTimeout(ctx, timeout);
    STATUS(cmd("FLUSHALL"), "OK");
    int keel = server_is_keel();
    test_lock(keel);
    test_cache_aside();
    test_rate_limiter();
    test_leaderboard();
    test_pipeline_mixed();
    test_streams(atoi(argv[1]));
    redisFree(ctx);
    puts("ALL OK");
    return 0;
}
