/* module_type: module data types. A type has a nine-letter name and an
 * encoding version, which together make the 64-bit id RDB files name it
 * by; its values sit in the keyspace as OBJ_MODULE entries (a km_value:
 * type and the module's pointer). Saving and loading go through the
 * type's callbacks and the Save / Load functions here, which write each
 * item after an opcode, in Redis's own layout. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/digest.h"
#include "base/log.h"
#include "base/util.h"
#include "module/module_int.h"
#include "persist/rdb_format.h"
#include "proto/resp_parse.h"

static km_type **types;
static int ntypes;

static uint64_t type_id(const char *name, int encver)
{
    return rdb_module_type_id(name, encver);
}

static void id_name(uint64_t id, char out[10])
{
    rdb_module_type_name(id, out);
}

km_type *km_type_by_id(uint64_t id)
{
    for (int i = 0; i < ntypes; i++) {
        if ((types[i]->id >> 10) == (id >> 10)) {
            return types[i];
        }
    }
    return NULL;
}

static km_type *type_by_name(const char *name)
{
    for (int i = 0; i < ntypes; i++) {
        if (memcmp(types[i]->name, name, 9) == 0) {
            return types[i];
        }
    }
    return NULL;
}

void km_types_forget(km_module *m)
{
    for (int i = 0; i < ntypes;) {
        if (types[i]->module == m) {
            alloc_free(types[i]);
            types[i] = types[--ntypes];
        } else {
            i++;
        }
    }
}

static km_type *api_create_data_type(km_ctx *ctx, const char *name, int encver, void *methods_ptr)
{
    const km_type_methods *methods = methods_ptr;
    if (!ctx->module || !ctx->module->loading || !name || !rdb_module_type_name_ok(name) || encver < 0 ||
        encver > 1023 || type_by_name(name) || !methods || strcmp(name, "vectorset") == 0) {
        return NULL;
    }
    km_type *t = alloc_zero(sizeof(*t));
    t->module = ctx->module;
    memcpy(t->name, name, 10);
    t->encver = encver;
    t->id = type_id(name, encver);
    /* Only the fields of the version the module filled are read. */
    size_t have = offsetof(km_type_methods, aux_load);
    if (methods->version >= 5) {
        have = sizeof(km_type_methods);
    } else if (methods->version == 4) {
        have = offsetof(km_type_methods, aux_save2);
    } else if (methods->version == 3) {
        have = offsetof(km_type_methods, mem_usage2);
    } else if (methods->version == 2) {
        have = offsetof(km_type_methods, free_effort);
    }
    memcpy(&t->m, methods, have);
    types = alloc_resize(types, sizeof(*types) * (size_t)(ntypes + 1));
    types[ntypes++] = t;
    km_module *m = ctx->module;
    m->types = alloc_resize(m->types, sizeof(*m->types) * (size_t)(m->ntypes + 1));
    m->types[m->ntypes++] = t;
    return t;
}

/* ---- values in the keyspace ---- */

km_value *km_value_new(km_type *t, void *v)
{
    km_value *mv = alloc_mem(sizeof(*mv));
    mv->type = t;
    mv->v = v;
    return mv;
}

void km_value_free(km_value *mv)
{
    if (!mv) {
        return;
    }
    if (mv->type->m.free && mv->v) {
        mv->type->m.free(mv->v);
    }
    alloc_free(mv);
}

/* The lazy-free thread frees big keyspaces (FLUSHALL ASYNC, a synchronous
 * flush of many keys): a module's free method then runs under the GIL, as
 * module code off the main thread must. */
static void value_free(void *v)
{
    if (km_gil_held_here()) {
        km_value_free(v);
        return;
    }
    pthread_mutex_lock(&km_gil);
    km_value_free(v);
    pthread_mutex_unlock(&km_gil);
}

/* COPY goes through module_value_copy; this serves nothing else. */
static void *value_dup(const void *v)
{
    (void)v;
    return NULL;
}

/* The version 4 callbacks' context for a key (dbid -1: none). The key's
 * string lives until opt_ctx_done. */
static void opt_ctx_init(km_key_opt_ctx *oc, sv key, int dbid)
{
    oc->from_key = km_string_new(NULL, key.ptr, key.len);
    oc->from_dbid = dbid;
    oc->to_key = NULL;
    oc->to_dbid = -1;
}

static void opt_ctx_done(km_key_opt_ctx *oc)
{
    km_string_release(NULL, oc->from_key);
    km_string_release(NULL, oc->to_key);
}

/* MEMORY USAGE: mem_usage2 when the type has it, else mem_usage. */
static size_t value_mem_of_key(const void *v, sv key, int dbid, size_t samples)
{
    const km_value *mv = v;
    size_t n = sizeof(*mv);
    if (mv->type->m.mem_usage2) {
        km_key_opt_ctx oc;
        opt_ctx_init(&oc, key, dbid);
        n += mv->type->m.mem_usage2(&oc, mv->v, samples);
        opt_ctx_done(&oc);
    } else if (mv->type->m.mem_usage) {
        n += mv->type->m.mem_usage(mv->v);
    }
    return n;
}

/* Lazy-free sizing: free_effort2, else free_effort, else 1 (one
 * allocation). As in Redis, 0 means "too much to count": always lazy. */
static size_t value_free_effort(const void *v, sv key, int dbid)
{
    const km_value *mv = v;
    size_t effort = 1;
    if (mv->type->m.free_effort2) {
        km_key_opt_ctx oc;
        opt_ctx_init(&oc, key, dbid);
        effort = mv->type->m.free_effort2(&oc, mv->v);
        opt_ctx_done(&oc);
    } else if (mv->type->m.free_effort) {
        km_string *k = km_string_new(NULL, key.ptr, key.len);
        effort = mv->type->m.free_effort(k, mv->v);
        km_string_release(NULL, k);
    }
    return effort == 0 ? SIZE_MAX : effort;
}

/* The key leaves the keyspace: unlink2, else unlink. */
static void value_unlink(const void *v, sv key, int dbid)
{
    const km_value *mv = v;
    if (mv->type->m.unlink2) {
        km_key_opt_ctx oc;
        opt_ctx_init(&oc, key, dbid);
        mv->type->m.unlink2(&oc, mv->v);
        opt_ctx_done(&oc);
    } else if (mv->type->m.unlink) {
        km_string *k = km_string_new(NULL, key.ptr, key.len);
        mv->type->m.unlink(k, mv->v);
        km_string_release(NULL, k);
    }
}

static const char *value_encoding(const void *v)
{
    (void)v;
    return "raw";
}

static void value_digest(const void *v, sv key, int dbid, uint8_t d[20])
{
    const km_value *mv = v;
    km_digest md;
    memset(&md, 0, sizeof(md));
    /* d holds the type (and key) mixed in already: the module's part is
     * XORed onto it, as Redis does. */
    if (mv->type->m.digest) {
        md.key = km_string_new(NULL, key.ptr, key.len);
        md.dbid = dbid;
        mv->type->m.digest(&md, mv->v);
        km_string_release(NULL, md.key);
        digest_xor(d, md.acc, 20);
    }
}

static size_t value_length(const void *v)
{
    (void)v;
    return 1; /* never an empty collection */
}

static void *value_defrag(void *v, sv key, int dbid, unsigned long *cursor, size_t budget)
{
    return km_value_defrag(v, key, dbid, cursor, budget);
}

static const type_ops module_ops = {.name = "module",
                                    .free = value_free,
                                    .dup = value_dup,
                                    .encoding = value_encoding,
                                    .digest = value_digest,
                                    .length = value_length,
                                    .defrag = value_defrag,
                                    .mem_of_key = value_mem_of_key,
                                    .free_effort = value_free_effort,
                                    .unlink = value_unlink};

void module_init(void)
{
    obj_register_type(OBJ_MODULE, &module_ops);
    km_eventloop_init();
}

const char *module_value_type_name(const kobj *o)
{
    return ((const km_value *)kobj_ptr(o))->type->name;
}

int module_value_copy(const kobj *o, int from_db, sv newkey, int to_db, void **out)
{
    const km_value *mv = kobj_ptr(o);
    if (!mv->type->m.copy && !mv->type->m.copy2) {
        return -1;
    }
    km_key_opt_ctx oc;
    opt_ctx_init(&oc, kobj_key(o), from_db);
    oc.to_key = km_string_new(NULL, newkey.ptr, newkey.len);
    oc.to_dbid = to_db;
    void *v = mv->type->m.copy2 ? mv->type->m.copy2(&oc, mv->v) : mv->type->m.copy(oc.from_key, oc.to_key, mv->v);
    opt_ctx_done(&oc);
    if (!v) {
        return -2;
    }
    *out = km_value_new(mv->type, v);
    return 0;
}

/* ---- saving ---- */

/* Frees what an IO handed out (its context, the key name). */
static void io_done(km_io *io)
{
    if (io->ctx) {
        km_ctx_done(io->ctx);
        alloc_free(io->ctx);
        io->ctx = NULL;
    }
    km_string_release(NULL, io->key);
    io->key = NULL;
}

/* Doubles and floats go in their IEEE bytes, little endian, as Redis
 * writes them. */
static void put_le(km_io *io, uint64_t u, int n)
{
    unsigned char b[8];
    for (int i = 0; i < n; i++) {
        b[i] = (unsigned char)(u >> (8 * i));
    }
    rdb_out_bytes(io->out, b, (size_t)n);
}

static uint64_t get_le(const unsigned char *b, int n)
{
    uint64_t u = 0;
    for (int i = n - 1; i >= 0; i--) {
        u = (u << 8) | b[i];
    }
    return u;
}

static void api_save_unsigned(km_io *io, uint64_t v)
{
    if (io->is_aof || !io->out) {
        return;
    }
    rdb_out_mod_uint(io->out, v);
}

static void api_save_signed(km_io *io, int64_t v)
{
    api_save_unsigned(io, (uint64_t)v);
}

static void api_save_string_buffer(km_io *io, const char *p, size_t len)
{
    if (io->is_aof || !io->out) {
        return;
    }
    rdb_out_mod_string(io->out, p, len);
}

static void api_save_string(km_io *io, km_string *s)
{
    api_save_string_buffer(io, s->s, str_len(s->s));
}

static void api_save_double(km_io *io, double d)
{
    if (io->is_aof || !io->out) {
        return;
    }
    rdb_out_len(io->out, RDB_MOD_DOUBLE);
    uint64_t u;
    memcpy(&u, &d, 8);
    put_le(io, u, 8);
}

static void api_save_float(km_io *io, float f)
{
    if (io->is_aof || !io->out) {
        return;
    }
    rdb_out_len(io->out, RDB_MOD_FLOAT);
    uint32_t u;
    memcpy(&u, &f, 4);
    put_le(io, u, 4);
}

void module_rdb_save_value(rdb_out *w, const kobj *o, int dbid)
{
    const km_value *mv = kobj_ptr(o);
    rdb_out_len(w, mv->type->id);
    km_io io;
    memset(&io, 0, sizeof(io));
    io.type = mv->type;
    io.out = w;
    sv key = kobj_key(o);
    io.key = km_string_new(NULL, key.ptr, key.len);
    io.dbid = dbid;
    if (mv->type->m.rdb_save) {
        mv->type->m.rdb_save(&io, mv->v);
    }
    io_done(&io);
    rdb_out_len(w, RDB_MOD_EOF);
}

/* Aux data, as Redis 7.0 writes it: for each type whose aux_save_triggers
 * include when, the opcode, the type's id, when (after a UINT opcode, as
 * every item is), what aux_save wrote and an EOF opcode. A type that
 * writes nothing still gets its (empty) record: Redis 7.0 keeps it. With
 * aux_save2 (Redis 7.2) what the type writes is gathered first, and a
 * type that wrote nothing gets no record. */
_Static_assert(MODULE_AUX_BEFORE_RDB == KM_AUX_BEFORE_RDB && MODULE_AUX_AFTER_RDB == KM_AUX_AFTER_RDB,
               "module.h's aux triggers are the API's");

void module_rdb_save_aux(rdb_out *w, int when)
{
    for (int i = 0; i < ntypes; i++) {
        km_type *t = types[i];
        km_type_aux_save_fn save = t->m.aux_save2 ? t->m.aux_save2 : t->m.aux_save;
        if (!save || !(t->m.aux_save_triggers & when)) {
            continue;
        }
        km_io io;
        memset(&io, 0, sizeof(io));
        io.type = t;
        io.dbid = -1;
        rdb_out *body = t->m.aux_save2 ? rdb_out_mem_new() : NULL;
        if (!body) {
            rdb_out_opcode(w, RDB_OPCODE_MODULE_AUX);
            rdb_out_len(w, t->id);
            rdb_out_len(w, RDB_MOD_UINT);
            rdb_out_len(w, (uint64_t)when);
        }
        io.out = body ? body : w;
        save(&io, when);
        io_done(&io);
        if (body) {
            str bytes = rdb_out_mem_take(body);
            if (str_len(bytes) == 0) {
                str_free(bytes);
                continue;
            }
            rdb_out_opcode(w, RDB_OPCODE_MODULE_AUX);
            rdb_out_len(w, t->id);
            rdb_out_len(w, RDB_MOD_UINT);
            rdb_out_len(w, (uint64_t)when);
            rdb_out_bytes(w, bytes, str_len(bytes));
            str_free(bytes);
        }
        rdb_out_len(w, RDB_MOD_EOF);
    }
}

/* ---- loading ---- */

/* The next item's opcode must be want: otherwise the load fails. */
static int expect(km_io *io, int want)
{
    uint64_t code;
    if (io->error || rdb_in_len(io->in, &code) < 0) {
        io->error = 1;
        return -1;
    }
    if (code != (uint64_t)want) {
        io->error = 1;
        return -1;
    }
    return 0;
}

static uint64_t api_load_unsigned(km_io *io)
{
    uint64_t v = 0;
    if (io->error || !io->in || rdb_in_mod_uint(io->in, &v) < 0) {
        io->error = 1;
        return 0;
    }
    return v;
}

static int64_t api_load_signed(km_io *io)
{
    return (int64_t)api_load_unsigned(io);
}

static str load_str(km_io *io)
{
    str s = io->error || !io->in ? NULL : rdb_in_mod_string(io->in);
    if (!s) {
        io->error = 1;
    }
    return s;
}

static km_string *api_load_string(km_io *io)
{
    str s = load_str(io);
    if (!s) {
        return km_string_new(NULL, "", 0);
    }
    km_string *ks = alloc_mem(sizeof(*ks));
    ks->s = s;
    ks->refs = 1;
    return ks;
}

static char *api_load_string_buffer(km_io *io, size_t *len)
{
    str s = load_str(io);
    size_t n = s ? str_len(s) : 0;
    char *p = alloc_mem(n + 1);
    if (s) {
        memcpy(p, s, n);
    }
    p[n] = '\0';
    if (len) {
        *len = n;
    }
    str_free(s);
    return p;
}

/* A long double travels as text ("%La"), as Redis writes it: its width
 * differs between platforms. */
static void api_save_long_double(km_io *io, long double v)
{
    char buf[128];
    int n = isinf(v) ? snprintf(buf, sizeof(buf), "%s", v > 0 ? "inf" : "-inf") : snprintf(buf, sizeof(buf), "%La", v);
    api_save_string_buffer(io, buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
}

static long double api_load_long_double(km_io *io)
{
    size_t len;
    char *p = api_load_string_buffer(io, &len);
    long double v = 0;
    if (!io->error && !util_parse_long_double(p, len, &v)) {
        v = 0;
    }
    alloc_free(p);
    return v;
}

static double api_load_double(km_io *io)
{
    unsigned char b[8];
    if (!io->in || expect(io, RDB_MOD_DOUBLE) < 0 || rdb_in_bytes(io->in, b, 8) < 0) {
        io->error = 1;
        return 0;
    }
    uint64_t u = get_le(b, 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static float api_load_float(km_io *io)
{
    unsigned char b[4];
    if (!io->in || expect(io, RDB_MOD_FLOAT) < 0 || rdb_in_bytes(io->in, b, 4) < 0) {
        io->error = 1;
        return 0;
    }
    uint32_t u = (uint32_t)get_le(b, 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void *module_rdb_load_value(rdb_in *r, sv key, uint64_t id, int dbid)
{
    km_type *t = km_type_by_id(id);
    if (!t) {
        char name[10];
        id_name(id, name);
        rdb_in_fail(r, "The RDB file contains module data I can't load: no matching module type '%s'", name);
        return NULL;
    }
    if (!t->m.rdb_load) {
        rdb_in_fail(r, "The module type '%s' has no rdb_load method", t->name);
        return NULL;
    }
    km_io io;
    memset(&io, 0, sizeof(io));
    io.type = t;
    io.in = r;
    io.key = km_string_new(NULL, key.ptr, key.len);
    io.dbid = dbid;
    void *v = t->m.rdb_load(&io, (int)(id & 1023));
    io_done(&io);
    if (!io.error && v) {
        uint64_t eof;
        if (rdb_in_len(r, &eof) < 0 || eof != RDB_MOD_EOF) {
            io.error = 1;
        }
    }
    if (io.error || !v) {
        if (v && t->m.free) {
            t->m.free(v);
        }
        rdb_in_fail(r, "Error loading the value of module type '%s' (bad or truncated data)", t->name);
        return NULL;
    }
    return km_value_new(t, v);
}

int module_rdb_load_aux(rdb_in *r)
{
    uint64_t id, when_op, when;
    if (rdb_in_len(r, &id) < 0 || rdb_in_len(r, &when_op) < 0 || rdb_in_len(r, &when) < 0) {
        return -1;
    }
    km_type *t = km_type_by_id(id);
    if (!t || !t->m.aux_load) {
        char name[10];
        id_name(id, name);
        return rdb_in_fail(r,
                           t ? "The RDB file contains module AUX data, but the module '%s' doesn't seem to support it."
                             : "The RDB file contains AUX module data I can't load: no matching module '%s'",
                           name);
    }
    if (when_op != RDB_MOD_UINT) {
        return rdb_in_fail(r, "The RDB holds module aux data of type '%s' in a form Keel does not know", t->name);
    }
    km_io io;
    memset(&io, 0, sizeof(io));
    io.type = t;
    io.in = r;
    io.dbid = -1;
    int rc = t->m.aux_load(&io, (int)(id & 1023), (int)when);
    uint64_t eof;
    io_done(&io);
    if (rc != KM_OK || io.error || rdb_in_len(r, &eof) < 0 || eof != RDB_MOD_EOF) {
        return rdb_in_fail(r, "Error loading the aux data of module type '%s'", t->name);
    }
    return 0;
}

/* ---- AOF rewrite ---- */

static void api_emit_aof(km_io *io, const char *cmdname, const char *fmt, ...)
{
    if (!io->is_aof || !io->aof) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    sv *argv;
    str *owned;
    int argc = km_build_argv(NULL, cmdname, fmt, ap, &argv, &owned, NULL);
    va_end(ap);
    if (argc < 0) {
        io->error = 1;
        log_msg(LOG_WARNING, "Fatal: AOF method for module data type '%s' tried to emit a command with a bad format",
                io->type->name);
        return;
    }
    *io->aof = resp_append_command(*io->aof, argv, argc);
    km_free_argv(argv, owned, argc);
}

str module_aof_rewrite(str out, const kobj *o, int dbid)
{
    const km_value *mv = kobj_ptr(o);
    if (!mv->type->m.aof_rewrite) {
        log_msg(LOG_WARNING, "The module type '%s' has no AOF rewrite method: its key is left out of the rewrite",
                mv->type->name);
        return out;
    }
    km_io io;
    memset(&io, 0, sizeof(io));
    io.type = mv->type;
    io.is_aof = 1;
    io.aof = &out;
    sv key = kobj_key(o);
    io.key = km_string_new(NULL, key.ptr, key.len);
    io.dbid = dbid;
    mv->type->m.aof_rewrite(&io, io.key, mv->v);
    io_done(&io);
    return out;
}

/* ---- IO context ---- */

static km_ctx *api_get_context_from_io(km_io *io)
{
    if (!io->ctx) {
        io->ctx = alloc_mem(sizeof(km_ctx));
        km_ctx_init(io->ctx, io->type ? io->type->module : NULL, NULL);
    }
    return io->ctx;
}

static const km_string *api_get_key_name_from_io(km_io *io)
{
    return io->key;
}

static int api_get_db_id_from_io(km_io *io)
{
    return io->dbid;
}

static int api_is_io_error(km_io *io)
{
    return io->error;
}

/* ---- a value to and from a string: what rdb_save writes (its items,
 * each after its opcode, without the type id or the EOF opcode), as
 * Redis's SaveDataTypeToString gives it; the IO has no key and db. ---- */

static km_string *api_save_data_type_to_string(km_ctx *ctx, void *data, km_type *t)
{
    if (!t || !t->m.rdb_save) {
        return NULL;
    }
    km_io io;
    memset(&io, 0, sizeof(io));
    io.type = t;
    io.dbid = -1;
    io.out = rdb_out_mem_new();
    t->m.rdb_save(&io, data);
    str bytes = rdb_out_mem_take(io.out);
    io_done(&io);
    if (io.error) {
        str_free(bytes);
        return NULL;
    }
    km_string *s = km_string_new(ctx, bytes, str_len(bytes));
    str_free(bytes);
    return s;
}

/* NULL when the bytes are not what rdb_load wants (short, corrupt): a
 * value the type made before the error is freed. */
static void *api_load_data_type_from_string_encver(const km_string *s, km_type *t, int encver)
{
    if (!s || !t || !t->m.rdb_load) {
        return NULL;
    }
    km_io io;
    memset(&io, 0, sizeof(io));
    io.type = t;
    io.dbid = -1;
    io.in = rdb_in_mem_new(s->s, str_len(s->s));
    void *v = t->m.rdb_load(&io, encver);
    rdb_in_mem_free(io.in);
    io_done(&io);
    if (io.error && v) {
        if (t->m.free) {
            t->m.free(v);
        }
        v = NULL;
    }
    return v;
}

static void *api_load_data_type_from_string(const km_string *s, km_type *t)
{
    return api_load_data_type_from_string_encver(s, t, 0);
}

/* ---- the version 4 callbacks' context ---- */

static const km_string *api_get_key_name_from_opt_ctx(km_key_opt_ctx *oc)
{
    return oc->from_key;
}

static const km_string *api_get_to_key_name_from_opt_ctx(km_key_opt_ctx *oc)
{
    return oc->to_key;
}

static int api_get_db_id_from_opt_ctx(km_key_opt_ctx *oc)
{
    return oc->from_dbid;
}

static int api_get_to_db_id_from_opt_ctx(km_key_opt_ctx *oc)
{
    return oc->to_dbid;
}

/* ---- digests: each sequence of items is folded in as Redis does, so
 * DEBUG DIGEST matches Redis's for the same module data. ---- */

static void api_digest_add_string_buffer(km_digest *md, const char *p, size_t len)
{
    digest_mix(md->acc_seq, p, len);
}

static void api_digest_add_long_long(km_digest *md, long long v)
{
    char buf[32];
    int n = util_ll2str(buf, v);
    api_digest_add_string_buffer(md, buf, (size_t)n);
}

static void api_digest_end_sequence(km_digest *md)
{
    digest_xor(md->acc, md->acc_seq, 20);
    memset(md->acc_seq, 0, 20);
}

static const km_string *api_get_key_name_from_digest(km_digest *md)
{
    return md->key;
}

static int api_get_db_id_from_digest(km_digest *md)
{
    return md->dbid;
}

const km_api_entry km_api_type[] = {{"CreateDataType", api_create_data_type},
                                    {"SaveUnsigned", api_save_unsigned},
                                    {"SaveSigned", api_save_signed},
                                    {"SaveString", api_save_string},
                                    {"SaveStringBuffer", api_save_string_buffer},
                                    {"SaveDouble", api_save_double},
                                    {"SaveFloat", api_save_float},
                                    {"SaveLongDouble", api_save_long_double},
                                    {"LoadLongDouble", api_load_long_double},
                                    {"LoadUnsigned", api_load_unsigned},
                                    {"LoadSigned", api_load_signed},
                                    {"LoadString", api_load_string},
                                    {"LoadStringBuffer", api_load_string_buffer},
                                    {"LoadDouble", api_load_double},
                                    {"LoadFloat", api_load_float},
                                    {"EmitAOF", api_emit_aof},
                                    {"GetContextFromIO", api_get_context_from_io},
                                    {"GetKeyNameFromIO", api_get_key_name_from_io},
                                    {"GetDbIdFromIO", api_get_db_id_from_io},
                                    {"IsIOError", api_is_io_error},
                                    {"SaveDataTypeToString", api_save_data_type_to_string},
                                    {"LoadDataTypeFromString", api_load_data_type_from_string},
                                    {"LoadDataTypeFromStringEncver", api_load_data_type_from_string_encver},
                                    {"GetKeyNameFromOptCtx", api_get_key_name_from_opt_ctx},
                                    {"GetToKeyNameFromOptCtx", api_get_to_key_name_from_opt_ctx},
                                    {"GetDbIdFromOptCtx", api_get_db_id_from_opt_ctx},
                                    {"GetToDbIdFromOptCtx", api_get_to_db_id_from_opt_ctx},
                                    {"GetKeyNameFromDigest", api_get_key_name_from_digest},
                                    {"GetDbIdFromDigest", api_get_db_id_from_digest},
                                    {"DigestAddStringBuffer", api_digest_add_string_buffer},
                                    {"DigestAddLongLong", api_digest_add_long_long},
                                    {"DigestEndSequence", api_digest_end_sequence},
                                    {NULL, NULL}};
