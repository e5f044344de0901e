/* The token lock and CL.THROTTLE from C with hiredis: the token is 128 bits
 * from the kernel's random source (getrandom), the release is DELIFEQ, and
 * a rate-limit decision is one CL.THROTTLE whose five integers come back as
 * one array reply. Usage: lock_hiredis <port>. Exits 1 on a failed check. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

static int failed;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "FAILED: %s\n", what);
        failed = 1;
    }
}

/* 32 hex digits of fresh randomness. */
static void new_token(char out[33])
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        perror("getrandom");
        exit(1);
    }
    for (int i = 0; i < 16; i++) {
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
}

static redisContext *connect_to(int port)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "connect: %s\n", c ? c->errstr : "out of memory");
        exit(1);
    }
    return c;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lock_hiredis <port>\n");
        return 2;
    }
    int port = atoi(argv[1]);
    redisContext *a = connect_to(port), *b = connect_to(port);
    char ta[33], tb[33];
    new_token(ta);
    new_token(tb);

    redisReply *r = redisCommand(a, "SET lock:c %s NX PX 5000", ta);
    check(r && r->type == REDIS_REPLY_STATUS, "A acquires");
    printf("A acquires: %s\n", r ? r->str : "(error)");
    freeReplyObject(r);
    r = redisCommand(b, "SET lock:c %s NX PX 5000", tb);
    check(r && r->type == REDIS_REPLY_NIL, "B is refused");
    printf("B acquires: %s\n", r && r->type == REDIS_REPLY_NIL ? "(nil)" : "?");
    freeReplyObject(r);
    r = redisCommand(b, "DELIFEQ lock:c %s", tb);
    check(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0, "B cannot release A's lock");
    printf("B releases with its token: %lld\n", r ? r->integer : -1);
    freeReplyObject(r);
    r = redisCommand(a, "DELIFEQ lock:c %s", ta);
    check(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1, "A releases");
    printf("A releases with its token: %lld\n", r ? r->integer : -1);
    freeReplyObject(r);

    /* 3 per minute, burst 2 (limit 3): the fourth call is limited. */
    for (int i = 1; i <= 4; i++) {
        r = redisCommand(a, "CL.THROTTLE api:c 2 3 60");
        check(r && r->type == REDIS_REPLY_ARRAY && r->elements == 5, "five integers");
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 5) {
            printf("CL.THROTTLE %d: limited=%lld limit=%lld remaining=%lld retry_after=%lld reset_after=%lld\n", i,
                   r->element[0]->integer, r->element[1]->integer, r->element[2]->integer, r->element[3]->integer,
                   r->element[4]->integer);
        }
        freeReplyObject(r);
    }
    freeReplyObject(redisCommand(a, "DEL api:c"));
    redisFree(a);
    redisFree(b);
    return failed;
}
