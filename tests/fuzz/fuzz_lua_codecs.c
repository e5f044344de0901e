/* fuzz_lua_codecs: the binary codecs scripts reach, cmsgpack
 * (src/script/cmsgpack.c) and struct (src/script/struct.c), under
 * arbitrary bytes, called through Lua as a script calls them. cjson is
 * Debian's lua-cjson, opened as it is (Keel adds no glue around it), so it
 * is not fuzzed here.
 *
 * The first byte of an input picks what the rest is (modulo 4):
 *  0  cmsgpack.unpack(rest); when it decodes, cmsgpack.pack of the values
 *     must succeed and its output must decode again;
 *  1  cmsgpack.unpack_one / unpack_limit(rest after two bytes, limit,
 *     offset) with the limit and offset from those two bytes;
 *  2  struct.unpack(fmt, data[, pos]) and struct.size(fmt), fmt being the
 *     bytes up to the first newline and data the rest; what unpacks must
 *     pack again with the same format, and that must unpack;
 *  3  struct.pack(fmt, ...) with arguments cut from the rest (numbers and
 *     strings alternately).
 * Lua errors are expected answers; a crash, a sanitizer report or memory
 * out of proportion to the input (a length prefix believed) is a failure.
 *
 * Built with clang -fsanitize=fuzzer this is a libFuzzer target; built
 * with -DFUZZ_STANDALONE it runs fuzz_main.h's driver. By hand:
 *   make build/fuzz/fuzz_lua_codecs
 *   build/fuzz/fuzz_lua_codecs -max_total_time=60 build/fuzz/corpus_lua tests/fuzz/corpus_lua */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int script_open_cmsgpack(lua_State *L);
int script_open_struct(lua_State *L);

/* Lua's heap, counted: a hard cap turns a runaway allocation into a Lua
 * memory error, and the peak per input is checked against its size. */
#define LUA_HEAP_CAP (256u << 20)
#define ALLOC_FACTOR 64
#define ALLOC_SLACK (4u << 20)

static size_t heap_used, heap_peak;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_lua_codecs: invariant broken: %s\n", what);
    abort();
}

static void *counted_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        heap_used -= osize;
        return NULL;
    }
    if (nsize > osize && heap_used + (nsize - osize) > LUA_HEAP_CAP) {
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) {
        heap_used = heap_used - osize + nsize;
        if (heap_used > heap_peak) {
            heap_peak = heap_used;
        }
    }
    return p;
}

static lua_State *L;

static void lua_start(void)
{
    if (L) {
        return;
    }
    L = lua_newstate(counted_alloc, NULL);
    luaL_openlibs(L);
    lua_pushcfunction(L, script_open_cmsgpack);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cmsgpack");
    lua_pushcfunction(L, script_open_struct);
    lua_call(L, 0, 1);
    lua_setglobal(L, "struct");
}

/* Pushes module.fn. */
static void push_fn(const char *module, const char *fn)
{
    lua_getglobal(L, module);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
}

/* Calls the function below nargs arguments; leaves its results on the
 * stack above base (the function's slot). Returns 1 when it returned. */
static int call(int nargs, int base)
{
    int rc = lua_pcall(L, nargs, LUA_MULTRET, 0);
    if (rc != 0) {
        if (rc != LUA_ERRRUN && rc != LUA_ERRMEM) {
            die("a codec failed with something else than an error");
        }
        lua_settop(L, base);
        return 0;
    }
    return 1;
}

static void msgpack_round_trip(const char *s, size_t len)
{
    int base = lua_gettop(L);
    push_fn("cmsgpack", "unpack");
    lua_pushlstring(L, s, len);
    if (!call(1, base)) {
        return;
    }
    int nvals = lua_gettop(L) - base;
    if (nvals == 0) {
        lua_settop(L, base); /* pack() wants an argument, as Redis's does */
        return;
    }
    push_fn("cmsgpack", "pack");
    lua_insert(L, base + 1);
    int rc = lua_pcall(L, nvals, 1, 0);
    if (rc != 0) {
        /* Packing decoded values fails only for lack of memory or stack. */
        if (rc != LUA_ERRMEM && !strstr(lua_tostring(L, -1) ? lua_tostring(L, -1) : "", "stack")) {
            fprintf(stderr, "pack: %s\n", lua_tostring(L, -1));
            die("what unpack decoded does not pack");
        }
        lua_settop(L, base);
        return;
    }
    size_t plen;
    const char *p = lua_tolstring(L, -1, &plen);
    int top = lua_gettop(L);
    push_fn("cmsgpack", "unpack");
    lua_pushlstring(L, p, plen);
    rc = lua_pcall(L, 1, LUA_MULTRET, 0);
    if (rc != 0) {
        const char *e = lua_tostring(L, -1) ? lua_tostring(L, -1) : "";
        /* What packs but cannot be a Lua table key again: NaN (decoded
         * from a float), and nil, which a table key nested deeper than
         * pack's depth limit becomes. */
        if (rc != LUA_ERRMEM && !strstr(e, "NaN") && !strstr(e, "index is nil") && !strstr(e, "stack")) {
            fprintf(stderr, "unpack of pack: %s\n", e);
            die("pack's output does not unpack");
        }
    }
    (void)top;
    lua_settop(L, base);
}

static void msgpack_partial(const uint8_t *d, size_t len)
{
    if (len < 2) {
        return;
    }
    int base = lua_gettop(L);
    lua_Integer limit = d[0] % 8, offset = d[1] % 16;
    if (limit == 0) {
        push_fn("cmsgpack", "unpack_one");
        lua_pushlstring(L, (const char *)d + 2, len - 2);
        lua_pushinteger(L, offset);
        call(2, base);
    } else {
        push_fn("cmsgpack", "unpack_limit");
        lua_pushlstring(L, (const char *)d + 2, len - 2);
        lua_pushinteger(L, limit);
        lua_pushinteger(L, offset);
        call(3, base);
    }
    lua_settop(L, base);
}

static void struct_unpack(const char *s, size_t len)
{
    const char *nl = memchr(s, '\n', len);
    size_t flen = nl ? (size_t)(nl - s) : len;
    const char *d = nl ? nl + 1 : s + len;
    size_t dlen = nl ? len - flen - 1 : 0;
    int base = lua_gettop(L);
    push_fn("struct", "size");
    lua_pushlstring(L, s, flen);
    call(1, base);
    lua_settop(L, base);
    push_fn("struct", "unpack");
    lua_pushlstring(L, s, flen);
    lua_pushlstring(L, d, dlen);
    int nargs = 2;
    if (dlen > 0 && (d[0] & 0x80)) {
        lua_pushinteger(L, (d[0] & 0x7f) - 8); /* a start position, bad ones too */
        nargs = 3;
    }
    if (!call(nargs, base)) {
        return;
    }
    /* The last result is the next position: the rest are the fields. */
    int nvals = lua_gettop(L) - base - 1;
    lua_pop(L, 1);
    push_fn("struct", "pack");
    lua_insert(L, base + 1);
    lua_pushlstring(L, s, flen);
    lua_insert(L, base + 2);
    if (!call(nvals + 1, base)) {
        return; /* 'c0' without a count before it, for one, packs nothing */
    }
    size_t plen;
    const char *p = lua_tolstring(L, -1, &plen);
    if (!p) {
        die("struct.pack returned no string");
    }
    lua_settop(L, base);
}

static void struct_pack(const char *s, size_t len)
{
    const char *nl = memchr(s, '\n', len);
    size_t flen = nl ? (size_t)(nl - s) : len;
    int base = lua_gettop(L);
    push_fn("struct", "pack");
    lua_pushlstring(L, s, flen);
    int nargs = 1;
    size_t pos = nl ? flen + 1 : len;
    while (pos < len && nargs < 32) {
        size_t n = 1 + (unsigned char)s[pos] % 9;
        if (n > len - pos) {
            n = len - pos;
        }
        if (nargs % 2) {
            double v = 0;
            memcpy(&v, s + pos, n < sizeof(v) ? n : sizeof(v));
            lua_pushnumber(L, (unsigned char)s[pos] & 1 ? (double)(int32_t)(s[pos] * 1000003) : v);
        } else {
            lua_pushlstring(L, s + pos, n);
        }
        nargs++;
        pos += n;
    }
    call(nargs, base);
    lua_settop(L, base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_start();
    if (size == 0) {
        return 0;
    }
    lua_gc(L, LUA_GCCOLLECT, 0);
    size_t start = heap_used;
    heap_peak = heap_used;
    const char *rest = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 4) {
    case 0: msgpack_round_trip(rest, len); break;
    case 1: msgpack_partial(data + 1, len); break;
    case 2: struct_unpack(rest, len); break;
    default: struct_pack(rest, len); break;
    }
    if (heap_peak - start > ALLOC_FACTOR * size + ALLOC_SLACK) {
        fprintf(stderr, "Lua heap grew by %zu bytes for a %zu-byte input\n", heap_peak - start, size);
        die("memory out of proportion to the input");
    }
    if (lua_gettop(L) != 0) {
        die("stack not balanced");
    }
    return 0;
}

#include "fuzz_main.h"
