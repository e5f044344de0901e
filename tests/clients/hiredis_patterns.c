/* The seed article's lock, cache-aside, rate-limiter and leaderboard
 * patterns through hiredis (Debian's libhiredis, synchronous API), with
 * pipelining through redisAppendCommand. Every reply is checked for its
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
    redisFree(ctx);
    puts("ALL OK");
    return 0;
}
