/* rdb_module_items: the framing of module-type values, shared by module
 * types and vector sets (see rdb_io.h). */
#include <string.h>

#include "persist/rdb_io.h"

static const char id_charset[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

uint64_t rdb_module_type_id(const char *name, int encver)
{
    uint64_t id = 0;
    for (int i = 0; i < 9; i++) {
        const char *p = strchr(id_charset, name[i]);
        id = (id << 6) | (uint64_t)(p ? p - id_charset : 0);
    }
    return (id << 10) | (uint64_t)(encver & 1023);
}

int rdb_module_type_name_ok(const char *name)
{
    return strlen(name) == 9 && strspn(name, id_charset) == 9;
}

void rdb_module_type_name(uint64_t id, char out[10])
{
    uint64_t bits = id >> 10;
    for (int i = 8; i >= 0; i--) {
        out[i] = id_charset[bits & 63];
        bits >>= 6;
    }
    out[9] = '\0';
}

void rdb_out_mod_uint(rdb_out *w, uint64_t v)
{
    rdb_out_len(w, RDB_MOD_UINT);
    rdb_out_len(w, v);
}

void rdb_out_mod_string(rdb_out *w, const char *p, size_t len)
{
    rdb_out_len(w, RDB_MOD_STRING);
    rdb_out_string(w, p, len);
}

static int expect(rdb_in *r, uint64_t want)
{
    uint64_t code;
    return rdb_in_len(r, &code) < 0 || code != want ? -1 : 0;
}

int rdb_in_mod_uint(rdb_in *r, uint64_t *v)
{
    return expect(r, RDB_MOD_UINT) < 0 ? -1 : rdb_in_len(r, v);
}

str rdb_in_mod_string(rdb_in *r)
{
    return expect(r, RDB_MOD_STRING) < 0 ? NULL : rdb_in_string(r);
}
