/* fuzz_restore: RESTORE as a client sends it (src/cmd/cmd_dump.c: its
 * options, TTLs and existing keys, then the DUMP payload validator and
 * the value loader of src/persist/rdb_load.c), inside a whole server (see
 * fuzz_server.h).
 *
 * The first byte of an input sets the call up; the rest is the payload:
 *  bit 0  append a version and a correct CRC64 to it (so mutated bodies
 *         reach the decoders instead of failing the checksum);
 *  bit 1  REPLACE;   bit 2  ABSTTL;   bit 3  IDLETIME 1000;   bit 4  FREQ 5;
 *  bit 5  the key exists already (a string);
 *  bit 6  a TTL (one hour, or an absolute time an hour ahead with ABSTTL);
 *  bit 7  a bad option value (IDLETIME -1) instead.
 * The reply must be +OK or an error. After +OK the key must DUMP, that
 * DUMP must RESTORE under another name to a value with the same digest,
 * and the value must take the type's reads and writes (TYPE, DUMP, the
 * range reads, a push, a pop). Memory must stay within a bounded multiple
 * of the input.
 *
 * Built with clang -fsanitize=fuzzer this is a libFuzzer target; built
 * with -DFUZZ_STANDALONE it runs fuzz_server.c's driver. By hand:
 *   make build/fuzz/fuzz_restore
 *   build/fuzz/fuzz_restore -max_total_time=60 build/fuzz/corpus_restore tests/fuzz/corpus_restore */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/crc64.h"
#include "fuzz_server.h"

#define ALLOC_FACTOR 256
#define ALLOC_SLACK (1 << 20)

/* Runs argv through dispatch_call and returns a copy of the reply. */
static str call(int argc, const sv *argv)
{
    client *c = fuzz_client();
    command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
    if (!cmd) {
        fuzz_die("unknown command in the harness");
    }
    if (argc > c->argv_cap) {
        c->argv_cap = argc;
        c->argv = alloc_resize(c->argv, sizeof(sv) * (size_t)argc);
    }
    memcpy(c->argv, argv, sizeof(sv) * (size_t)argc);
    c->argc = argc;
    server_update_time();
    db_set_time(server.now_ms);
    c->out.len = c->out.sent = 0;
    dispatch_call(c, cmd);
    client_end_command(c);
    str reply = str_new(c->out.data ? c->out.data : "", c->out.len);
    c->out.len = c->out.sent = 0;
    return reply;
}

#define A(s) ((sv){(s), sizeof(s) - 1})
#define AI(s)                                                                                                          \
    {                                                                                                                  \
        (s), sizeof(s) - 1                                                                                             \
    }

/* The body of a bulk string reply ("$n\r\n...\r\n"), NULL if not one. */
static str bulk_body(str reply)
{
    if (str_len(reply) < 4 || reply[0] != '$' || reply[1] == '-') {
        return NULL;
    }
    const char *nl = memchr(reply, '\n', str_len(reply));
    size_t start = (size_t)(nl - reply) + 1;
    return str_new(reply + start, str_len(reply) - start - 2);
}

static void check_restored(void)
{
    str dump = call(2, (sv[]){A("DUMP"), A("k")});
    str payload = bulk_body(dump);
    if (!payload) {
        fuzz_die("a restored key does not DUMP");
    }
    str r = call(4, (sv[]){A("RESTORE"), A("k2"), A("0"), {payload, str_len(payload)}});
    if (strcmp(r, "+OK\r\n") != 0) {
        fprintf(stderr, "%s", r);
        fuzz_die("the DUMP of a restored key does not RESTORE");
    }
    /* The digest counts a TTL: compare the values alone. */
    str_free(call(2, (sv[]){A("PERSIST"), A("k")}));
    str d1 = call(3, (sv[]){A("DEBUG"), A("DIGEST-VALUE"), A("k")});
    str d2 = call(3, (sv[]){A("DEBUG"), A("DIGEST-VALUE"), A("k2")});
    if (strcmp(d1, d2) != 0) {
        fuzz_die("DUMP and RESTORE changed the value");
    }
    static const sv walk[][8] = {
        {AI("TYPE"), AI("k")},
        {AI("OBJECT"), AI("ENCODING"), AI("k")},
        {AI("MEMORY"), AI("USAGE"), AI("k")},
        {AI("GETRANGE"), AI("k"), AI("0"), AI("-1")},
        {AI("LRANGE"), AI("k"), AI("0"), AI("-1")},
        {AI("SMEMBERS"), AI("k")},
        {AI("ZRANGE"), AI("k"), AI("0"), AI("-1"), AI("WITHSCORES")},
        {AI("HGETALL"), AI("k")},
        {AI("XRANGE"), AI("k"), AI("-"), AI("+")},
        {AI("RPUSH"), AI("k"), AI("x")},
        {AI("SADD"), AI("k"), AI("x")},
        {AI("ZADD"), AI("k"), AI("1"), AI("x")},
        {AI("HSET"), AI("k"), AI("x"), AI("y")},
        {AI("XADD"), AI("k"), AI("*"), AI("f"), AI("v")},
        {AI("APPEND"), AI("k"), AI("x")},
        {AI("TTL"), AI("k")},
        {AI("OBJECT"), AI("FREQ"), AI("k")},
        {AI("VINFO"), AI("k")},
        {AI("VRANDMEMBER"), AI("k"), AI("-3")},
        {AI("VSIM"), AI("k"), AI("VALUES"), AI("2"), AI("1"), AI("-1")},
        {AI("VADD"), AI("k"), AI("VALUES"), AI("2"), AI("1"), AI("x")},
        {AI("VREM"), AI("k"), AI("x")},
        {AI("XINFO"), AI("STREAM"), AI("k")},
        {AI("XADD"), AI("k"), AI("IDMP"), AI("p0"), AI("i0"), AI("*"), AI("f"), AI("v")},
        {AI("XADD"), AI("k"), AI("IDMPAUTO"), AI("p1"), AI("*"), AI("f"), AI("v")},
        {AI("XCFGSET"), AI("k"), AI("IDMP-MAXSIZE"), AI("1")},
    };
    static const int argcs[] = {2, 3, 3, 4, 4, 2, 5, 2, 4, 3, 3, 4, 4, 5, 3, 2, 3, 2, 3, 6, 6, 3, 3, 8, 7, 4};
    _Static_assert(sizeof(argcs) / sizeof(argcs[0]) == sizeof(walk) / sizeof(walk[0]), "one count per call");
    for (size_t i = 0; i < sizeof(argcs) / sizeof(argcs[0]); i++) {
        str_free(call(argcs[i], walk[i]));
    }
    /* A vector set: a search from one of its own elements, through the
     * graph and exactly, and a removal that repairs the graph. */
    str picked = call(2, (sv[]){A("VRANDMEMBER"), A("k")});
    str member = bulk_body(picked);
    str_free(picked);
    if (member) {
        sv m = {member, str_len(member)};
        str_free(call(6, (sv[]){A("VSIM"), A("k"), A("ELE"), m, A("COUNT"), A("5")}));
        str_free(call(5, (sv[]){A("VSIM"), A("k"), A("ELE"), m, A("TRUTH")}));
        str_free(call(3, (sv[]){A("VLINKS"), A("k"), m}));
        str_free(call(3, (sv[]){A("VREM"), A("k"), m}));
        str_free(call(5, (sv[]){A("VSIM"), A("k2"), A("ELE"), m, A("WITHSCORES")}));
        str_free(member);
    }
    str_free(d1);
    str_free(d2);
    str_free(r);
    str_free(payload);
    str_free(dump);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_server_init();
    if (size == 0) {
        return 0;
    }
    uint8_t flags = data[0];
    str payload = str_new((const char *)data + 1, size - 1);
    if (flags & 1) {
        unsigned char ver[2] = {10, 0};
        payload = str_append(payload, (const char *)ver, 2);
        uint64_t crc = crc64(0, payload, str_len(payload));
        unsigned char b[8];
        for (int i = 0; i < 8; i++) {
            b[i] = (unsigned char)(crc >> (8 * i));
        }
        payload = str_append(payload, (const char *)b, 8);
    }
    if (flags & 32) {
        str_free(call(3, (sv[]){A("SET"), A("k"), A("old")}));
    }
    char ttl[32] = "0";
    if (flags & 64) {
        snprintf(ttl, sizeof(ttl), "%lld", (flags & 4) ? (long long)server_ms() + 3600000 : 3600000LL);
    }
    sv argv[12] = {A("RESTORE"), A("k"), {ttl, strlen(ttl)}, {payload, str_len(payload)}};
    int argc = 4;
    if (flags & 2) {
        argv[argc++] = A("REPLACE");
    }
    if (flags & 4) {
        argv[argc++] = A("ABSTTL");
    }
    if (flags & 8) {
        argv[argc++] = A("IDLETIME");
        argv[argc++] = (flags & 128) ? A("-1") : A("1000");
    }
    if (flags & 16) {
        argv[argc++] = A("FREQ");
        argv[argc++] = A("5");
    }
    fuzz_alloc_start();
    str reply = call(argc, argv);
    fuzz_alloc_check(size, ALLOC_FACTOR, ALLOC_SLACK);
    if (getenv("FUZZ_VERBOSE")) {
        fprintf(stderr, "restore: %s", reply);
    }
    if (strcmp(reply, "+OK\r\n") == 0) {
        check_restored();
    } else if (reply[0] != '-') {
        fprintf(stderr, "%s\n", reply);
        fuzz_die("RESTORE answered neither +OK nor an error");
    }
    str_free(reply);
    str_free(payload);
    fuzz_server_reset();
    return 0;
}
