/* testmod_defrag: a Redis module for the defragmentation API (Redis 7.0:
 * a data type's defrag callback, DefragAlloc, DefragRedisModuleString,
 * DefragShouldStop, DefragCursorSet/Get, GetKeyNameFromDefragCtx,
 * GetDbIdFromDefragCtx, RegisterDefragFunc), for
 * tests/integration/test_modules_defrag.py.
 *
 * Built against Keel's ABI header only (src/module/module_abi.h), like
 * testmod.c; it looks each API function up by name.
 *
 * The type "tm-defrag" holds n blocks of 64 bytes (block i filled with
 * the byte i % 251) and a name string; its free_effort is n, so a value
 * of more than active-defrag-max-scan-fields blocks is defragmented later,
 * a few blocks per call with a cursor. A global block, moved by the
 * RegisterDefragFunc callback, is filled with 0x5a.
 *
 * Commands:
 *   tmd.set key n     a value of n blocks named after the key
 *   tmd.check key     n when every block and the name read back as
 *                     written, else an error
 *   tmd.global        OK when the global block reads back as written
 *   tmd.stats         [plain calls, later calls, global calls, blocks
 *                     moved, key names that matched the callback's key,
 *                     cursor errors in plain calls, greatest cursor got,
 *                     last db id, later calls that stopped early]
 *
 * Build: cc -O2 -g -fPIC -shared -std=c11 -Wall -I src -o testmod_defrag.so \
 *        tests/modules/testmod_defrag.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module/module_abi.h"

typedef int (*tmd_type_defrag_fn)(km_defrag_ctx *ctx, km_string *key, void **value);

#define TD_API(X)                                                                                                      \
    X(void *, Alloc, (size_t bytes))                                                                                   \
    X(void, Free, (void *ptr))                                                                                         \
    X(void, SetModuleAttribs, (km_ctx * ctx, const char *name, int ver, int apiver))                                   \
    X(int, CreateCommand,                                                                                              \
      (km_ctx * ctx, const char *name, km_cmd_fn fn, const char *flags, int first, int last, int step))                \
    X(int, WrongArity, (km_ctx * ctx))                                                                                 \
    X(const char *, StringPtrLen, (const km_string *s, size_t *len))                                                   \
    X(km_string *, CreateString, (km_ctx * ctx, const char *ptr, size_t len))                                          \
    X(void, FreeString, (km_ctx * ctx, km_string * s))                                                                 \
    X(int, StringToLongLong, (const km_string *s, long long *ll))                                                      \
    X(int, ReplyWithError, (km_ctx * ctx, const char *err))                                                            \
    X(int, ReplyWithSimpleString, (km_ctx * ctx, const char *msg))                                                     \
    X(int, ReplyWithLongLong, (km_ctx * ctx, long long ll))                                                            \
    X(int, ReplyWithArray, (km_ctx * ctx, long len))                                                                   \
    X(km_key *, OpenKey, (km_ctx * ctx, km_string * name, int mode))                                                   \
    X(void, CloseKey, (km_key * key))                                                                                  \
    X(int, KeyType, (km_key * key))                                                                                    \
    X(km_type *, CreateDataType, (km_ctx * ctx, const char *name, int encver, km_type_methods *methods))               \
    X(int, ModuleTypeSetValue, (km_key * key, km_type * type, void *value))                                            \
    X(km_type *, ModuleTypeGetType, (km_key * key))                                                                    \
    X(void *, ModuleTypeGetValue, (km_key * key))                                                                      \
    X(void, SaveUnsigned, (km_io * io, uint64_t value))                                                                \
    X(uint64_t, LoadUnsigned, (km_io * io))                                                                            \
    X(void *, DefragAlloc, (km_defrag_ctx * ctx, void *ptr))                                                           \
    X(km_string *, DefragRedisModuleString, (km_defrag_ctx * ctx, km_string * str))                                    \
    X(int, DefragShouldStop, (km_defrag_ctx * ctx))                                                                    \
    X(int, DefragCursorSet, (km_defrag_ctx * ctx, unsigned long cursor))                                               \
    X(int, DefragCursorGet, (km_defrag_ctx * ctx, unsigned long *cursor))                                              \
    X(const km_string *, GetKeyNameFromDefragCtx, (km_defrag_ctx * ctx))                                               \
    X(int, GetDbIdFromDefragCtx, (km_defrag_ctx * ctx))                                                                \
    X(int, RegisterDefragFunc, (km_ctx * ctx, km_defrag_fn cb))

#define TD_DECLARE(ret, name, params) static ret(*RedisModule_##name) params;
TD_API(TD_DECLARE)

#define TD_FETCH(ret, name, params)                                                                                    \
    if (getapi("RedisModule_" #name, (void **)&RedisModule_##name) != KM_OK) {                                         \
        fprintf(stderr, "testmod_defrag: the server lacks RedisModule_%s\n", #name);                                   \
        return KM_ERR;                                                                                                 \
    }

#define BLOCK 64
#define GLOBAL_SIZE 256

typedef struct td_value {
    size_t n;
    unsigned char **blocks; /* n blocks of BLOCK bytes */
    km_string *name;
} td_value;

static km_type *td_type;
static unsigned char *global_block;
static long long n_plain, n_later, n_global, n_moved, n_name_ok, n_cursor_err, n_stopped;
static unsigned long max_cursor;
static int last_db = -2;

static td_value *tdv_new(size_t n, km_string *name)
{
    td_value *v = RedisModule_Alloc(sizeof(*v));
    v->n = n;
    v->blocks = RedisModule_Alloc((n ? n : 1) * sizeof(*v->blocks));
    for (size_t i = 0; i < n; i++) {
        v->blocks[i] = RedisModule_Alloc(BLOCK);
        memset(v->blocks[i], (int)(i % 251), BLOCK);
    }
    v->name = name;
    return v;
}

static void tdv_free(void *value)
{
    td_value *v = value;
    for (size_t i = 0; i < v->n; i++) {
        RedisModule_Free(v->blocks[i]);
    }
    RedisModule_Free(v->blocks);
    RedisModule_FreeString(NULL, v->name);
    RedisModule_Free(v);
}

static void tdv_save(km_io *io, void *value)
{
    td_value *v = value;
    RedisModule_SaveUnsigned(io, v->n);
}

static void *tdv_load(km_io *io, int encver)
{
    (void)encver;
    size_t n = RedisModule_LoadUnsigned(io);
    return tdv_new(n, RedisModule_CreateString(NULL, "loaded", 6));
}

static size_t tdv_effort(km_string *key, const void *value)
{
    (void)key;
    return ((const td_value *)value)->n;
}

static void move_block(km_defrag_ctx *ctx, unsigned char **slot)
{
    unsigned char *moved = RedisModule_DefragAlloc(ctx, *slot);
    if (moved) {
        *slot = moved;
        n_moved++;
    }
}

static int same_string(const km_string *a, const km_string *b)
{
    size_t la, lb;
    const char *pa = RedisModule_StringPtrLen(a, &la), *pb = RedisModule_StringPtrLen(b, &lb);
    return la == lb && memcmp(pa, pb, la) == 0;
}

/* Plain call: everything at once. Later call: blocks from the cursor on,
 * stopping (cursor saved, 1 returned) when the server says so. */
static int tdv_defrag(km_defrag_ctx *ctx, km_string *key, void **value)
{
    if (same_string(RedisModule_GetKeyNameFromDefragCtx(ctx), key)) {
        n_name_ok++;
    }
    last_db = RedisModule_GetDbIdFromDefragCtx(ctx);
    unsigned long cursor;
    int later = RedisModule_DefragCursorGet(ctx, &cursor) == KM_OK;
    td_value *v = *value;
    if (!later) {
        n_plain++;
        n_cursor_err += RedisModule_DefragCursorSet(ctx, 1) == KM_ERR;
        cursor = 0;
    } else {
        n_later++;
        if (cursor > max_cursor) {
            max_cursor = cursor;
        }
    }
    if (cursor == 0) {
        td_value *moved = RedisModule_DefragAlloc(ctx, v);
        if (moved) {
            *value = v = moved;
            n_moved++;
        }
        unsigned char **blocks = RedisModule_DefragAlloc(ctx, v->blocks);
        if (blocks) {
            v->blocks = blocks;
            n_moved++;
        }
        km_string *name = RedisModule_DefragRedisModuleString(ctx, v->name);
        if (name) {
            v->name = name;
            n_moved++;
        }
    }
    for (size_t i = cursor; i < v->n; i++) {
        move_block(ctx, &v->blocks[i]);
        if (later && i % 4 == 3 && i + 1 < v->n && RedisModule_DefragShouldStop(ctx)) {
            RedisModule_DefragCursorSet(ctx, i + 1);
            n_stopped++;
            return 1;
        }
    }
    return 0;
}

static void global_defrag(km_defrag_ctx *ctx)
{
    n_global++;
    unsigned char *moved = RedisModule_DefragAlloc(ctx, global_block);
    if (moved) {
        global_block = moved;
    }
}

static int open_value(km_ctx *ctx, km_string *name, int mode, km_key **key, td_value **v)
{
    *key = RedisModule_OpenKey(ctx, name, mode);
    *v = NULL;
    int type = RedisModule_KeyType(*key);
    if (type == KM_KEYTYPE_EMPTY) {
        return 0;
    }
    if (type != KM_KEYTYPE_MODULE || RedisModule_ModuleTypeGetType(*key) != td_type) {
        RedisModule_CloseKey(*key);
        RedisModule_ReplyWithError(ctx, "WRONGTYPE Operation against a key holding the wrong kind of value");
        return -1;
    }
    *v = RedisModule_ModuleTypeGetValue(*key);
    return 0;
}

static int cmd_set(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 3) {
        return RedisModule_WrongArity(ctx);
    }
    long long n;
    if (RedisModule_StringToLongLong(argv[2], &n) != KM_OK || n < 0 || n > 1000000) {
        return RedisModule_ReplyWithError(ctx, "ERR bad count");
    }
    km_key *key;
    td_value *old;
    if (open_value(ctx, argv[1], KM_READ | KM_WRITE, &key, &old) != 0) {
        return KM_OK;
    }
    size_t len;
    const char *p = RedisModule_StringPtrLen(argv[1], &len);
    RedisModule_ModuleTypeSetValue(key, td_type, tdv_new((size_t)n, RedisModule_CreateString(NULL, p, len)));
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int cmd_check(km_ctx *ctx, km_string **argv, int argc)
{
    if (argc != 2) {
        return RedisModule_WrongArity(ctx);
    }
    km_key *key;
    td_value *v;
    if (open_value(ctx, argv[1], KM_READ, &key, &v) != 0) {
        return KM_OK;
    }
    int ok = v != NULL;
    for (size_t i = 0; ok && i < v->n; i++) {
        for (size_t j = 0; j < BLOCK; j++) {
            ok &= v->blocks[i][j] == (unsigned char)(i % 251);
        }
    }
    ok = ok && same_string(v->name, argv[1]);
    long long n = ok ? (long long)v->n : -1;
    RedisModule_CloseKey(key);
    return ok ? RedisModule_ReplyWithLongLong(ctx, n) : RedisModule_ReplyWithError(ctx, "ERR value damaged");
}

static int cmd_global(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv, (void)argc;
    for (size_t i = 0; i < GLOBAL_SIZE; i++) {
        if (global_block[i] != 0x5a) {
            return RedisModule_ReplyWithError(ctx, "ERR global damaged");
        }
    }
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int cmd_stats(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv, (void)argc;
    long long v[] = {n_plain, n_later,  n_global, n_moved, n_name_ok, n_cursor_err, (long long)max_cursor,
                     last_db, n_stopped};
    RedisModule_ReplyWithArray(ctx, sizeof(v) / sizeof(v[0]));
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        RedisModule_ReplyWithLongLong(ctx, v[i]);
    }
    return KM_OK;
}

int RedisModule_OnLoad(km_ctx *ctx, km_string **argv, int argc)
{
    (void)argv, (void)argc;
    km_get_api_fn getapi = (km_get_api_fn)((void **)ctx)[0];
    TD_API(TD_FETCH)
    RedisModule_SetModuleAttribs(ctx, "testmod_defrag", 1, KM_APIVER_1);
    km_type_methods methods = {
        .version = 3,
        .rdb_load = tdv_load,
        .rdb_save = tdv_save,
        .free = tdv_free,
        .free_effort = tdv_effort,
        .defrag = (void *)(tmd_type_defrag_fn)tdv_defrag,
    };
    td_type = RedisModule_CreateDataType(ctx, "tm-defrag", 1, &methods);
    if (!td_type) {
        return KM_ERR;
    }
    global_block = RedisModule_Alloc(GLOBAL_SIZE);
    memset(global_block, 0x5a, GLOBAL_SIZE);
    RedisModule_RegisterDefragFunc(ctx, global_defrag);
    static const struct {
        const char *name;
        km_cmd_fn fn;
        const char *flags;
        int first;
    } commands[] = {{"tmd.set", cmd_set, "write", 1},
                    {"tmd.check", cmd_check, "readonly", 1},
                    {"tmd.global", cmd_global, "readonly", 0},
                    {"tmd.stats", cmd_stats, "readonly", 0}};
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        int k = commands[i].first;
        if (RedisModule_CreateCommand(ctx, commands[i].name, commands[i].fn, commands[i].flags, k, k, k) != KM_OK) {
            return KM_ERR;
        }
    }
    return KM_OK;
}
