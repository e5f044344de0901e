/* script/cmsgpack: the `cmsgpack` module scripts expect (pack, unpack,
 * unpack_one, unpack_limit), converting between Lua values and MessagePack
 * (https://github.com/msgpack/msgpack/blob/master/spec.md).
 *
 * Encoding follows what Redis scripts get: integral numbers within int64
 * use the smallest int form, other numbers float32 when that is exact and
 * float64 otherwise; strings use fixstr/str8/16/32; a table whose keys are
 * exactly 1..n is an array, any other table a map; tables nested deeper
 * than MAX_PACK_DEPTH (and functions, userdata, threads) encode as nil, so
 * a table that contains itself still ends.
 *
 * Decoding raises "Missing bytes in input." on truncated input and "Bad
 * data format in input." on codes the module does not support (ext types,
 * 0xc1). A declared array, map or string length is checked against the
 * bytes left before anything is allocated, so a short input can never
 * make the server reserve a large table.
 *
 * Nothing here uses the C allocator: the output buffer is a Lua userdata
 * and every decoded value lives on the Lua stack, so a Lua error raised
 * half way (bad input, out of memory, nil map key) leaks nothing. */
#include <float.h>
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "script/script_int.h"

/* Tables at this nesting level (the arguments of pack are level 0) are
 * encoded as nil, as in Redis. */
#define MAX_PACK_DEPTH 16
/* Decoding recurses once per nested array/map: bound the C stack. */
#define MAX_UNPACK_DEPTH 1000

#define MSG_MISSING "Missing bytes in input."
#define MSG_BADFMT "Bad data format in input."

/* ---- encoding ---- */

/* A growable byte buffer kept in a userdata at stack slot idx; growing
 * replaces the userdata, and the garbage collector frees the old one. */
typedef struct mp_buf {
    lua_State *L;
    int idx;
    unsigned char *p;
    size_t len;
    size_t cap;
} mp_buf;

static void buf_init(mp_buf *b, lua_State *L)
{
    b->L = L;
    b->cap = 64;
    b->len = 0;
    b->p = lua_newuserdata(L, b->cap);
    b->idx = lua_gettop(L);
}

static void buf_reserve(mp_buf *b, size_t n)
{
    if (b->cap - b->len >= n) {
        return;
    }
    size_t cap = b->cap;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            luaL_error(b->L, "MessagePack output too large");
        }
        cap *= 2;
    }
    unsigned char *p = lua_newuserdata(b->L, cap);
    memcpy(p, b->p, b->len);
    lua_replace(b->L, b->idx);
    b->p = p;
    b->cap = cap;
}

static void buf_add(mp_buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* A type byte followed by the low `size` bytes of v, big endian (the
 * order MessagePack uses for every multi-byte field). */
static void put_code(mp_buf *b, unsigned char code, uint64_t v, size_t size)
{
    unsigned char tmp[9];
    tmp[0] = code;
    for (size_t i = 0; i < size; i++) {
        tmp[size - i] = (unsigned char)(v >> (8 * i));
    }
    buf_add(b, tmp, size + 1);
}

static void enc_int(mp_buf *b, int64_t v)
{
    if (v >= 0) {
        uint64_t u = (uint64_t)v;
        if (u <= 0x7f) {
            put_code(b, (unsigned char)u, 0, 0); /* positive fixint */
        } else if (u <= UINT8_MAX) {
            put_code(b, 0xcc, u, 1);
        } else if (u <= UINT16_MAX) {
            put_code(b, 0xcd, u, 2);
        } else if (u <= UINT32_MAX) {
            put_code(b, 0xce, u, 4);
        } else {
            put_code(b, 0xcf, u, 8);
        }
    } else if (v >= -32) {
        put_code(b, (unsigned char)(0xe0 | (v & 0x1f)), 0, 0); /* negative fixint */
    } else if (v >= INT8_MIN) {
        put_code(b, 0xd0, (uint64_t)v, 1);
    } else if (v >= INT16_MIN) {
        put_code(b, 0xd1, (uint64_t)v, 2);
    } else if (v >= INT32_MIN) {
        put_code(b, 0xd2, (uint64_t)v, 4);
    } else {
        put_code(b, 0xd3, (uint64_t)v, 8);
    }
}

static void enc_number(mp_buf *b, lua_Number n)
{
    /* 2^63 is exact as a double; the range test also rejects NaN. */
    if (n >= -9223372036854775808.0 && n < 9223372036854775808.0 && n == floor(n)) {
        enc_int(b, (int64_t)n);
        return;
    }
    /* Converting an out-of-range double to float is undefined, so only
     * try float32 for values it can hold (or infinities). */
    if (isinf(n) || (fabs(n) <= FLT_MAX && (double)(float)n == n)) {
        float f = (float)n;
        uint32_t u;
        memcpy(&u, &f, sizeof(u));
        put_code(b, 0xca, u, 4);
    } else {
        uint64_t u;
        memcpy(&u, &n, sizeof(u));
        put_code(b, 0xcb, u, 8);
    }
}

static void enc_string(mp_buf *b, const char *s, size_t len)
{
    if (len < 32) {
        put_code(b, (unsigned char)(0xa0 | len), 0, 0);
    } else if (len <= UINT8_MAX) {
        put_code(b, 0xd9, len, 1);
    } else if (len <= UINT16_MAX) {
        put_code(b, 0xda, len, 2);
    } else if (len <= UINT32_MAX) {
        put_code(b, 0xdb, len, 4);
    } else {
        luaL_error(b->L, "MessagePack string too large");
    }
    buf_add(b, s, len);
}

/* Header of an array (base 0x90, codes 0xdc/0xdd) or a map (base 0x80,
 * codes 0xde/0xdf) of n items. */
static void enc_container(mp_buf *b, int is_map, size_t n)
{
    if (n <= 15) {
        put_code(b, (unsigned char)((is_map ? 0x80 : 0x90) | n), 0, 0);
    } else if (n <= UINT16_MAX) {
        put_code(b, is_map ? 0xde : 0xdc, n, 2);
    } else if (n <= UINT32_MAX) {
        put_code(b, is_map ? 0xdf : 0xdd, n, 4);
    } else {
        luaL_error(b->L, "MessagePack table too large");
    }
}

/* Counts the table's entries (raw, like pairs without metamethods) into
 * *count and returns 1 if its keys are exactly the integers 1..count. */
static int table_is_array(lua_State *L, int idx, size_t *count)
{
    size_t n = 0;
    lua_Number max = 0;
    int array = 1;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        n++;
        if (array) {
            lua_Number k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
            if (k >= 1 && k == floor(k)) {
                max = k > max ? k : max;
            } else {
                array = 0;
            }
        }
    }
    *count = n;
    return array && max == (lua_Number)n;
}

static void enc_value(mp_buf *b, int idx, int level);

static void enc_table(mp_buf *b, int idx, int level)
{
    lua_State *L = b->L;
    luaL_checkstack(L, 4, "MessagePack nesting too deep");
    size_t n;
    if (table_is_array(L, idx, &n)) {
        enc_container(b, 0, n);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (int)i);
            enc_value(b, lua_gettop(L), level + 1);
            lua_pop(L, 1);
        }
        return;
    }
    enc_container(b, 1, n);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        int top = lua_gettop(L);
        enc_value(b, top - 1, level + 1);
        enc_value(b, top, level + 1);
        lua_pop(L, 1);
    }
}

/* Encodes the value at absolute stack index idx. Never converts it in
 * place (no lua_tolstring on numbers), so lua_next keys stay intact. */
static void enc_value(mp_buf *b, int idx, int level)
{
    lua_State *L = b->L;
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: enc_number(b, lua_tonumber(L, idx)); break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        enc_string(b, s, len);
        break;
    }
    case LUA_TBOOLEAN: put_code(b, lua_toboolean(L, idx) ? 0xc3 : 0xc2, 0, 0); break;
    case LUA_TTABLE:
        if (level < MAX_PACK_DEPTH) {
            enc_table(b, idx, level);
        } else {
            put_code(b, 0xc0, 0, 0); /* too deep: nil */
        }
        break;
    default: put_code(b, 0xc0, 0, 0); break;
    }
}

static int l_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    luaL_argcheck(L, nargs > 0, 0, "MessagePack pack needs input.");
    mp_buf b;
    buf_init(&b, L);
    for (int i = 1; i <= nargs; i++) {
        enc_value(&b, i, 0);
    }
    lua_pushlstring(L, (const char *)b.p, b.len);
    return 1;
}

/* ---- decoding ---- */

typedef struct mp_cur {
    lua_State *L;
    const unsigned char *p;
    size_t left;
} mp_cur;

static const unsigned char *take(mp_cur *c, size_t n)
{
    if (c->left < n) {
        luaL_error(c->L, MSG_MISSING);
    }
    const unsigned char *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

/* An n-byte big-endian unsigned field. */
static uint64_t take_uint(mp_cur *c, size_t n)
{
    const unsigned char *p = take(c, n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* An n-byte big-endian two's complement field. */
static int64_t take_int(mp_cur *c, size_t n)
{
    uint64_t u = take_uint(c, n);
    if (n < 8 && (u >> (8 * n - 1)) & 1) {
        u |= ~(uint64_t)0 << (8 * n);
    }
    return (int64_t)u;
}

static void dec_value(mp_cur *c, int depth);

static void dec_string(mp_cur *c, size_t len)
{
    const unsigned char *p = take(c, len);
    lua_pushlstring(c->L, (const char *)p, len);
}

static void dec_array(mp_cur *c, uint64_t n, int depth)
{
    lua_State *L = c->L;
    /* Every element takes at least one byte. */
    if (n > c->left) {
        luaL_error(L, MSG_MISSING);
    }
    /* Not presized: tables grown one key at a time, as Redis builds
     * them, iterate in the same order when packed again. */
    lua_newtable(L);
    for (uint64_t i = 1; i <= n; i++) {
        dec_value(c, depth + 1);
        lua_rawseti(L, -2, (int)i);
    }
}

static void dec_map(mp_cur *c, uint64_t n, int depth)
{
    lua_State *L = c->L;
    /* Every pair takes at least two bytes. */
    if (n > c->left / 2) {
        luaL_error(L, MSG_MISSING);
    }
    lua_newtable(L);
    for (uint64_t i = 0; i < n; i++) {
        dec_value(c, depth + 1);
        dec_value(c, depth + 1);
        /* A nil or NaN key raises Lua's own error, as in Redis. */
        lua_rawset(L, -3);
    }
}

/* Decodes one value and pushes it. */
static void dec_value(mp_cur *c, int depth)
{
    lua_State *L = c->L;
    if (depth > MAX_UNPACK_DEPTH) {
        luaL_error(L, "MessagePack input nested too deeply");
    }
    luaL_checkstack(L, 3, "MessagePack input nested too deeply");
    unsigned char code = *take(c, 1);
    if (code <= 0x7f) {
        lua_pushnumber(L, code);
        return;
    }
    if (code >= 0xe0) {
        lua_pushnumber(L, (int)code - 256);
        return;
    }
    if (code <= 0x8f) {
        dec_map(c, code & 0x0f, depth);
        return;
    }
    if (code <= 0x9f) {
        dec_array(c, code & 0x0f, depth);
        return;
    }
    if (code <= 0xbf) {
        dec_string(c, code & 0x1f);
        return;
    }
    switch (code) {
    case 0xc0: lua_pushnil(L); return;
    case 0xc2: lua_pushboolean(L, 0); return;
    case 0xc3: lua_pushboolean(L, 1); return;
    /* bin 8/16/32: Lua strings are binary-safe, so they decode alike. */
    case 0xc4:
    case 0xd9: dec_string(c, (size_t)take_uint(c, 1)); return;
    case 0xc5:
    case 0xda: dec_string(c, (size_t)take_uint(c, 2)); return;
    case 0xc6:
    case 0xdb: dec_string(c, (size_t)take_uint(c, 4)); return;
    case 0xca: {
        uint32_t u = (uint32_t)take_uint(c, 4);
        float f;
        memcpy(&f, &u, sizeof(f));
        lua_pushnumber(L, f);
        return;
    }
    case 0xcb: {
        uint64_t u = take_uint(c, 8);
        double d;
        memcpy(&d, &u, sizeof(d));
        lua_pushnumber(L, d);
        return;
    }
    case 0xcc: lua_pushnumber(L, (lua_Number)take_uint(c, 1)); return;
    case 0xcd: lua_pushnumber(L, (lua_Number)take_uint(c, 2)); return;
    case 0xce: lua_pushnumber(L, (lua_Number)take_uint(c, 4)); return;
    case 0xcf: lua_pushnumber(L, (lua_Number)take_uint(c, 8)); return;
    case 0xd0: lua_pushnumber(L, (lua_Number)take_int(c, 1)); return;
    case 0xd1: lua_pushnumber(L, (lua_Number)take_int(c, 2)); return;
    case 0xd2: lua_pushnumber(L, (lua_Number)take_int(c, 4)); return;
    case 0xd3: lua_pushnumber(L, (lua_Number)take_int(c, 8)); return;
    case 0xdc: dec_array(c, take_uint(c, 2), depth); return;
    case 0xdd: dec_array(c, take_uint(c, 4), depth); return;
    case 0xde: dec_map(c, take_uint(c, 2), depth); return;
    case 0xdf: dec_map(c, take_uint(c, 4), depth); return;
    default:
        /* 0xc1 (never used) and the ext types. */
        luaL_error(L, MSG_BADFMT);
    }
}

/* Decodes up to `limit` values (all of them if limit is 0 and offset 0,
 * which is plain unpack) from byte offset `offset` of the string at index
 * 1. Except for plain unpack, the results start with the offset of the
 * first undecoded byte, or -1 once the input is used up. */
static int unpack_from(lua_State *L, lua_Integer limit, lua_Integer offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char msg[128];
    if (offset < 0 || limit < 0) {
        snprintf(msg, sizeof(msg), "Invalid request to unpack with offset of %lld and limit of %lld.",
                 (long long)offset, (long long)len);
        return luaL_error(L, "%s", msg);
    }
    if ((size_t)offset > len) {
        snprintf(msg, sizeof(msg), "Start offset %lld greater than input length %lld.", (long long)offset,
                 (long long)len);
        return luaL_error(L, "%s", msg);
    }
    int all = limit == 0 && offset == 0;
    lua_settop(L, 1);
    mp_cur c = {L, (const unsigned char *)s + offset, len - (size_t)offset};
    int n = 0;
    while (c.left > 0 && (all || n < limit)) {
        luaL_checkstack(L, 4, "too many results to unpack");
        dec_value(&c, 0);
        n++;
    }
    if (!all) {
        lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)(len - c.left));
        lua_insert(L, 2);
        n++;
    }
    return n;
}

static int l_unpack(lua_State *L)
{
    return unpack_from(L, 0, 0);
}

static int l_unpack_one(lua_State *L)
{
    return unpack_from(L, 1, luaL_optinteger(L, 2, 0));
}

static int l_unpack_limit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 2);
    return unpack_from(L, limit, luaL_optinteger(L, 3, 0));
}

int script_open_cmsgpack(lua_State *L)
{
    static const luaL_Reg fns[] = {{"pack", l_pack},
                                   {"unpack", l_unpack},
                                   {"unpack_one", l_unpack_one},
                                   {"unpack_limit", l_unpack_limit},
                                   {NULL, NULL}};
    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    return 1;
}
