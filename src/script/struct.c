/* script/struct: the `struct` module scripts expect (pack, unpack, size),
 * converting between Lua values and binary strings.
 *
 * Format: '<' little endian, '>' big endian, '=' native, '!' [n]
 * alignment (accepted; fields are packed without padding), 'x' a zero
 * byte, 'b'/'B' signed/unsigned char, 'h'/'H' short, 'l'/'L' long (8),
 * 'T' size_t, 'i'/'I' [n] an n-byte integer (default 4), 'f' float,
 * 'd' double, 's' a zero-terminated string, 'c' [n] an n-byte string
 * ('c0' packs the whole string, and unpacks as many bytes as the previous
 * integer said). */
#include <lauxlib.h>
#include <stdint.h>
#include <string.h>

#include "script/script_int.h"

#define MAX_INT_SIZE 8

typedef struct fmt_state {
    int little;
} fmt_state;

static size_t opt_size(const char **fmt, size_t def)
{
    if (**fmt < '0' || **fmt > '9') {
        return def;
    }
    size_t n = 0;
    while (**fmt >= '0' && **fmt <= '9') {
        n = n * 10 + (size_t)(*(*fmt)++ - '0');
        if (n > 1 << 20) {
            break;
        }
    }
    return n;
}

/* Size of the next item, or 0 for options without data. */
static size_t item_size(lua_State *L, char opt, const char **fmt)
{
    switch (opt) {
    case 'x':
    case 'b':
    case 'B': return 1;
    case 'h':
    case 'H': return 2;
    case 'l':
    case 'L':
    case 'T': return 8;
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'i':
    case 'I': {
        size_t n = opt_size(fmt, 4);
        if (n < 1 || n > MAX_INT_SIZE) {
            luaL_error(L, "integral size %d is larger than limit of %d", (int)n, MAX_INT_SIZE);
        }
        return n;
    }
    case 'c': return opt_size(fmt, 1);
    default: return 0;
    }
}

static int control(lua_State *L, char opt, const char **fmt, fmt_state *st)
{
    switch (opt) {
    case ' ': return 1;
    case '>': st->little = 0; return 1;
    case '<':
    case '=': st->little = 1; return 1;
    case '!': opt_size(fmt, 8); return 1;
    default: return 0;
    }
    (void)L;
}

static void put_int(luaL_Buffer *b, uint64_t v, size_t size, int little)
{
    char buf[MAX_INT_SIZE];
    for (size_t i = 0; i < size; i++) {
        buf[little ? i : size - 1 - i] = (char)(v & 0xff);
        v >>= 8;
    }
    luaL_addlstring(b, buf, size);
}

/* A script's number as the integer bits to pack. Out-of-range values and
 * NaN saturate (0 for NaN): converting them with a cast is undefined. */
static uint64_t number_bits(lua_Number n, int is_signed)
{
    if (!(n == n)) {
        return 0;
    }
    if (is_signed || n < 0) {
        if (n <= -9223372036854775808.0) {
            return (uint64_t)INT64_MIN;
        }
        return n >= 9223372036854775808.0 ? (uint64_t)INT64_MAX : (uint64_t)(int64_t)n;
    }
    return n >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)n;
}

static int l_pack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    fmt_state st = {1};
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int arg = 2;
    while (*fmt) {
        char opt = *fmt++;
        if (control(L, opt, &fmt, &st)) {
            continue;
        }
        size_t size = item_size(L, opt, &fmt);
        switch (opt) {
        case 'x': luaL_addchar(&b, '\0'); break;
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I': {
            put_int(&b, number_bits(luaL_checknumber(L, arg++), opt >= 'a'), size, st.little);
            break;
        }
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            uint32_t u;
            memcpy(&u, &f, 4);
            put_int(&b, u, 4, st.little);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            uint64_t u;
            memcpy(&u, &d, 8);
            put_int(&b, u, 8, st.little);
            break;
        }
        case 'c':
        case 's': {
            size_t len;
            const char *s = luaL_checklstring(L, arg++, &len);
            if (opt == 'c' && size == 0) {
                size = len;
            }
            if (opt == 'c') {
                /* Redis names the argument after this one here. */
                luaL_argcheck(L, len >= size, arg, "string too short");
                luaL_addlstring(&b, s, size);
            } else {
                luaL_addlstring(&b, s, len);
                luaL_addchar(&b, '\0');
            }
            break;
        }
        default: return luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
        }
    }
    luaL_pushresult(&b);
    return 1;
}

static uint64_t get_int(const char *p, size_t size, int little)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++) {
        unsigned char ch = (unsigned char)p[little ? size - 1 - i : i];
        v = (v << 8) | ch;
    }
    return v;
}

static int l_unpack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    lua_Integer init = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, init > 0, 3, "offset must be 1 or greater");
    size_t pos = (size_t)init - 1;
    fmt_state st = {1};
    int n = 0;
    while (*fmt) {
        char opt = *fmt++;
        if (control(L, opt, &fmt, &st)) {
            continue;
        }
        size_t size = item_size(L, opt, &fmt);
        if (opt == 'c' && size == 0) {
            luaL_argcheck(L, n > 0 && lua_isnumber(L, -1), 1, "format 'c0' needs a previous size");
            /* The count is data: negative, NaN or past the end is an error
             * before it becomes a size (a huge one wrapped pos + size). */
            lua_Number want = lua_tonumber(L, -1);
            luaL_argcheck(L, want >= 0 && pos <= ld && want <= (lua_Number)(ld - pos), 2, "data string too short");
            size = (size_t)want;
            lua_pop(L, 1);
            n--;
        }
        if (opt != 's' && (pos > ld || size > ld - pos)) {
            return luaL_argerror(L, 2, "data string too short");
        }
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'x': break;
        case 'b':
        case 'h':
        case 'l':
        case 'i': {
            uint64_t u = get_int(data + pos, size, st.little);
            if (size < 8 && (u >> (size * 8 - 1)) & 1) {
                u |= ~(uint64_t)0 << (size * 8); /* sign-extend */
            }
            lua_pushnumber(L, (lua_Number)(int64_t)u);
            n++;
            break;
        }
        case 'B':
        case 'H':
        case 'L':
        case 'T':
        case 'I':
            lua_pushnumber(L, (lua_Number)get_int(data + pos, size, st.little));
            n++;
            break;
        case 'f': {
            uint32_t u = (uint32_t)get_int(data + pos, 4, st.little);
            float f;
            memcpy(&f, &u, 4);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            uint64_t u = get_int(data + pos, 8, st.little);
            double d;
            memcpy(&d, &u, 8);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *z = pos < ld ? memchr(data + pos, '\0', ld - pos) : NULL;
            if (z == NULL) {
                /* Redis raises this one without naming the argument. */
                return luaL_error(L, "unfinished string in data");
            }
            size = (size_t)(z - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default: return luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return n + 1;
}

static int l_size(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    fmt_state st = {1};
    size_t total = 0;
    while (*fmt) {
        char opt = *fmt++;
        if (control(L, opt, &fmt, &st)) {
            continue;
        }
        size_t size = item_size(L, opt, &fmt);
        if (opt == 's' || (opt == 'c' && size == 0)) {
            return luaL_argerror(L, 1, "options 'c0' - 's' have undefined sizes");
        }
        /* Like Redis's struct.size, an unknown option adds nothing. */
        total += size;
    }
    lua_pushinteger(L, (lua_Integer)total);
    return 1;
}

int script_open_struct(lua_State *L)
{
    static const luaL_Reg fns[] = {{"pack", l_pack}, {"unpack", l_unpack}, {"size", l_size}, {NULL, NULL}};
    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    return 1;
}
