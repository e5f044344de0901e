/* fuzz_rdb_load: the RDB loader (src/persist/rdb_load.c) under arbitrary
 * bytes, inside a whole server (see fuzz_server.h).
 *
 * The first byte of an input picks what the rest is (modulo 4):
 *  0  an RDB value (type byte, then the value): the harness appends the
 *     version and a correct CRC64, so every input reaches the decoders,
 *     and RESTOREs it (rdb_restore_value);
 *  1  a whole DUMP payload, trailer included, restored as it is;
 *  2  a whole RDB file, loaded from a file (rdb_load_file), with
 *     rdbchecksum off when bit 2 is set;
 *  3  a FUNCTION DUMP payload body (trailer added), parsed.
 * Whatever loads must then hold up: its DUMP restores to a value that
 * dumps the same, reading and changing it with the type's commands is
 * safe, and a loaded file saves and loads back. The loader must stay
 * within a bounded multiple of the input in memory (fuzz_alloc_check).
 * The sanitizers catch memory errors, leaks and undefined behaviour. (It
 * found a group counter at INT64_MAX overflowing in XREADGROUP, fixed.)
 *
 * Seeds: tests/fuzz/corpus_rdb (made from redis-server 7.0 by
 * tests/fuzz/gen_corpus.py). By hand:
 *   make build/fuzz/fuzz_rdb_load
 *   mkdir -p build/fuzz/corpus_rdb
 *   build/fuzz/fuzz_rdb_load -max_total_time=60 build/fuzz/corpus_rdb tests/fuzz/corpus_rdb
 * (libFuzzer), or FUZZ_ITERATIONS=100000 build/fuzz/fuzz_rdb_load
 * tests/fuzz/corpus_rdb (standalone). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/crc64.h"
#include "db/db.h"
#include "fuzz_server.h"
#include "persist/rdb.h"
#include "types/stream_group.h"

/* Loaded values are data structures (a 2-byte set member becomes a hash
 * table entry): a generous multiple, but never what a corrupt length
 * claims. */
#define ALLOC_FACTOR 256
#define ALLOC_SLACK (1 << 20)

/* Marks where the key goes in the walk. */
static const char key_mark[] = "";
#define KEY key_mark

/* Commands that read every part of a value, then change it. Each runs on
 * every loaded key whatever its type (the others answer WRONGTYPE); the
 * stream ones name the group and consumer of the seeds (g, c). */
static const char *const walk[][8] = {
    {"TYPE", KEY},
    {"OBJECT", "ENCODING", KEY},
    {"MEMORY", "USAGE", KEY},
    {"DUMP", KEY},
    {"GETRANGE", KEY, "0", "-1"},
    {"STRLEN", KEY},
    {"LRANGE", KEY, "0", "-1"},
    {"LINDEX", KEY, "-1"},
    {"LPOS", KEY, "a"},
    {"SMEMBERS", KEY},
    {"SISMEMBER", KEY, "1"},
    {"SRANDMEMBER", KEY, "-3"},
    {"ZRANGE", KEY, "0", "-1", "WITHSCORES"},
    {"ZRANGEBYLEX", KEY, "-", "+"},
    {"ZRANK", KEY, "a"},
    {"ZRANDMEMBER", KEY, "-3", "WITHSCORES"},
    {"HGETALL", KEY},
    {"HRANDFIELD", KEY, "-3", "WITHVALUES"},
    {"HTTL", KEY, "FIELDS", "1", "a"},
    {"XRANGE", KEY, "-", "+"},
    {"XREVRANGE", KEY, "+", "-", "COUNT", "2"},
    {"XINFO", "STREAM", KEY, "FULL"},
    {"XINFO", "GROUPS", KEY},
    {"XINFO", "CONSUMERS", KEY, "g"},
    {"XPENDING", KEY, "g"},
    {"XPENDING", KEY, "g", "-", "+", "10"},
    {"XPENDING", KEY, "g", "IDLE", "1", "-", "+", "10"},
    {"COPY", KEY, "fuzz:copy"},
    {"APPEND", KEY, "x"},
    {"LINSERT", KEY, "BEFORE", "a", "b"},
    {"RPUSH", KEY, "x"},
    {"LPOP", KEY},
    {"SADD", KEY, "x"},
    {"SPOP", KEY},
    {"ZADD", KEY, "1", "x"},
    {"ZPOPMIN", KEY},
    {"HSET", KEY, "x", "y"},
    {"HDEL", KEY, "a"},
    {"XADD", KEY, "*", "f", "v"},
    {"XREADGROUP", "GROUP", "g", "c", "STREAMS", KEY, ">"},
    {"XAUTOCLAIM", KEY, "g", "c", "0", "0-0"},
    {"XGROUP", "CREATECONSUMER", KEY, "g", "d"},
    {"XTRIM", KEY, "MAXLEN", "1"},
    {"XDEL", KEY, "0-1"},
    {"DEL", "fuzz:copy"},
};

static void run_walk(int dbid, sv key)
{
    client *c = fuzz_client();
    client_select_db(c, dbid);
    for (size_t i = 0; i < sizeof(walk) / sizeof(walk[0]); i++) {
        sv argv[8];
        int argc = 0;
        for (; argc < 8 && walk[i][argc]; argc++) {
            argv[argc] = walk[i][argc] == KEY ? key : (sv){walk[i][argc], strlen(walk[i][argc])};
        }
        fuzz_call(c, argc, argv);
    }
    client_select_db(c, 0);
}

static void print_hex(const char *what, str s)
{
    fprintf(stderr, "%s (%zu bytes):", what, str_len(s));
    for (size_t i = 0; i < str_len(s) && i < 512; i++) {
        fprintf(stderr, " %02x", (unsigned char)s[i]);
    }
    fprintf(stderr, "\n");
}

/* A collection's content as DEBUG DIGEST-VALUE sees it (independent of
 * encoding and of hash table order); strings compare by their DUMP. */
static void content(kobj *o, uint8_t d[20])
{
    memset(d, 0, 20);
    if (o->type != OBJ_STRING) {
        obj_type_ops(o->type)->digest(kobj_ptr(o), kobj_key(o), 0, d);
    }
}

/* A loaded value's DUMP must restore to the same content, which dumps
 * to as many bytes of the same type. */
static void round_trip(kobj *o)
{
    str d1 = rdb_dump_value(o, 0);
    char err[128];
    kobj *o2 = rdb_restore_value(d1, str_len(d1), kobj_key(o), 0, -1, err, sizeof(err));
    if (!o2) {
        print_hex("DUMP", d1);
        fuzz_die("the DUMP of a loaded value does not restore");
    }
    str d2 = rdb_dump_value(o2, 0);
    uint8_t c1[20], c2[20];
    content(o, c1);
    content(o2, c2);
    if (str_len(d1) != str_len(d2) || d1[0] != d2[0] || o->type != o2->type || memcmp(c1, c2, 20) != 0 ||
        (o->type == OBJ_STRING && memcmp(d1, d2, str_len(d1)) != 0)) {
        print_hex("first DUMP", d1);
        print_hex("its RESTORE dumped", d2);
        fuzz_die("the DUMP of a loaded value restores to a different value");
    }
    str_free(d1);
    str_free(d2);
    kobj_free(o2);
}

static void restore(const char *payload, size_t len, size_t input_len)
{
    char err[128];
    /* An exact-size copy: a read past the end is a sanitizer report. */
    char *p = alloc_mem(len ? len : 1);
    memcpy(p, payload, len);
    fuzz_alloc_start();
    kobj *o = rdb_restore_value(p, len, SV("k"), 0, -1, err, sizeof(err));
    fuzz_alloc_check(input_len, ALLOC_FACTOR, ALLOC_SLACK);
    if (getenv("FUZZ_VERBOSE")) {
        fprintf(stderr, "restore: %s\n", o ? "ok" : err);
    }
    alloc_free(p);
    if (!o) {
        if (strcmp(err, "ERR Bad data format") != 0 && strcmp(err, "ERR DUMP payload version or checksum are wrong")) {
            fuzz_die("RESTORE failed with an unexpected error");
        }
        return;
    }
    round_trip(o);
    db_add(&server.dbs[0], o);
    run_walk(0, SV("k"));
    fuzz_server_reset();
}

static void add_trailer(str *body)
{
    unsigned char ver[2] = {10, 0};
    *body = str_append(*body, (const char *)ver, 2);
    uint64_t crc = crc64(0, *body, str_len(*body));
    unsigned char b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(crc >> (8 * i));
    }
    *body = str_append(*body, (const char *)b, 8);
}

/* Every key of a loaded dataset: round trip, and the walk on a few. */
static void check_dataset(void)
{
    sv keys[8];
    int kdb[8], nkeys = 0;
    for (int i = 0; i < server.cfg.databases; i++) {
        ktable_iter it;
        ktable_iter_init(&it, &server.dbs[i].keys);
        kobj *o;
        while ((o = ktable_iter_next(&it))) {
            round_trip(o);
            if (nkeys < 8) {
                sv k = kobj_key(o);
                keys[nkeys] = (sv){alloc_strndup(k.ptr, k.len), k.len};
                kdb[nkeys++] = i;
            }
        }
        ktable_iter_done(&it);
    }
    /* Saved, the dataset must load back (before the walk changes it). */
    fuzz_save_reload();
    for (int i = 0; i < nkeys; i++) {
        run_walk(kdb[i], keys[i]);
        alloc_free((char *)keys[i].ptr);
    }
}

static void load_file(const uint8_t *data, size_t size)
{
    const char *in = fuzz_path(0, "in.rdb");
    fuzz_write_file(in, data, size);
    char err[512];
    fuzz_alloc_start();
    server.loading = 1;
    int rc = rdb_load_file(in, err, sizeof(err));
    server.loading = 0;
    fuzz_alloc_check(size, ALLOC_FACTOR, ALLOC_SLACK);
    if (getenv("FUZZ_VERBOSE")) {
        fprintf(stderr, "load: %s (%zu keys)\n", rc == 0 ? "ok" : err, fuzz_key_count());
    }
    if (rc == 0) {
        check_dataset();
    }
    fuzz_server_reset();
}

static void count_library(const char *code, size_t len, void *ctx)
{
    (void)code;
    (void)len;
    ++*(int *)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_server_init();
    if (size == 0) {
        return 0;
    }
    const char *rest = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 4) {
    case 0: {
        str p = str_new(rest, len);
        add_trailer(&p);
        restore(p, str_len(p), size);
        str_free(p);
        break;
    }
    case 1: restore(rest, len, size); break;
    case 2:
        /* Half the files load with rdbchecksum no, so one changed inside
         * still loads to the end and is checked as a dataset. */
        server.cfg.rdbchecksum = !(data[0] & 4);
        load_file(data + 1, len);
        server.cfg.rdbchecksum = 1;
        break;
    default: {
        str body = str_new(rest, len);
        add_trailer(&body);
        char *p = alloc_mem(str_len(body));
        memcpy(p, body, str_len(body));
        char err[128];
        int libs = 0;
        fuzz_alloc_start();
        int rc = rdb_parse_functions(p, str_len(body), count_library, &libs, err, sizeof(err));
        fuzz_alloc_check(size, ALLOC_FACTOR, ALLOC_SLACK);
        if (getenv("FUZZ_VERBOSE")) {
            fprintf(stderr, "functions: %s (%d libraries)\n", rc == 0 ? "ok" : err, libs);
        }
        alloc_free(p);
        str_free(body);
        break;
    }
    }
    return 0;
}
