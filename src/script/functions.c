/* script/functions: FUNCTION libraries and FCALL.
 *
 * A library is Lua code opening with "#!lua name=<lib>" whose top level
 * calls redis.register_function. Loading is two-phase: lib_create runs
 * the code in the functions VM and collects its functions into a detached
 * library, then lib_commit checks name clashes and links it in, so a
 * failing FUNCTION LOAD or RESTORE leaves the loaded set unchanged.
 * Libraries are kept sorted by name (FUNCTION LIST and DUMP are stable);
 * functions are found by name through a dict. */
#include <lauxlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sha1.h"
#include "base/util.h"
#include "persist/rdb.h"
#include "proto/resp_parse.h"
#include "script/script_int.h"

typedef struct fn_lib fn_lib;

typedef struct fn_func {
    str name;
    str desc; /* NULL when none */
    int flags;
    int ref; /* the callback in the functions VM's registry */
    fn_lib *lib;
} fn_func;

struct fn_lib {
    str name;
    str code;
    fn_func **funcs;
    int nfuncs;
    fn_lib *next;
};

static svm *fvm;
static fn_lib *libs;
static dict funcs; /* name -> fn_func; names match in any case, as in Redis */
static fn_lib *loading;
static size_t nfuncs_total, nlibs, code_bytes;

void script_functions_init(void)
{
    fvm = svm_new(1);
    dict_init(&funcs, &dict_type_entry_nocase);
}

size_t script_functions_vm_memory(void)
{
    return fvm ? fvm->mem : 0;
}

size_t script_functions_memory(void)
{
    return code_bytes + nfuncs_total * sizeof(fn_func) + nlibs * sizeof(fn_lib);
}

size_t script_functions_count(void)
{
    return nfuncs_total;
}

size_t script_libraries_count(void)
{
    return nlibs;
}

/* ---- libraries ---- */

static void func_free(fn_func *f, int unref)
{
    if (unref) {
        svm_unref(fvm, f->ref);
    }
    str_free(f->name);
    str_free(f->desc);
    alloc_free(f);
}

static void lib_free(fn_lib *lib, int unref)
{
    for (int i = 0; i < lib->nfuncs; i++) {
        func_free(lib->funcs[i], unref);
    }
    alloc_free(lib->funcs);
    str_free(lib->name);
    str_free(lib->code);
    alloc_free(lib);
}

static fn_lib *lib_find(const char *name, size_t len)
{
    for (fn_lib *l = libs; l; l = l->next) {
        if (str_len(l->name) == len && memcmp(l->name, name, len) == 0) {
            return l;
        }
    }
    return NULL;
}

static int valid_name(const char *p, size_t len)
{
    if (len == 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_')) {
            return 0;
        }
    }
    return 1;
}

/* Unlinks a committed library and frees it with its functions. */
static void lib_remove(fn_lib *lib)
{
    for (fn_lib **pp = &libs; *pp; pp = &(*pp)->next) {
        if (*pp == lib) {
            *pp = lib->next;
            break;
        }
    }
    for (int i = 0; i < lib->nfuncs; i++) {
        int found;
        dict_entry_remove(&funcs, lib->funcs[i]->name, str_len(lib->funcs[i]->name), &found);
    }
    nfuncs_total -= (size_t)lib->nfuncs;
    nlibs--;
    code_bytes -= str_len(lib->code);
    lib_free(lib, 1);
}

/* Clash checks for committing lib. Returns 0, or -1 with *err set (in
 * Redis's words: FUNCTION RESTORE names the library without quotes). */
static int lib_check(fn_lib *lib, int replace, int restoring, str *err)
{
    fn_lib *old = lib_find(lib->name, str_len(lib->name));
    if (old && !replace) {
        *err = str_printf(str_empty(64),
                          restoring ? "ERR Library %s already exists" : "ERR Library '%s' already exists", lib->name);
        return -1;
    }
    for (int i = 0; i < lib->nfuncs; i++) {
        dict_entry *e = dict_entry_find(&funcs, lib->funcs[i]->name, str_len(lib->funcs[i]->name));
        if (e && ((fn_func *)e->val)->lib != old) {
            *err = str_printf(str_empty(64), "ERR Function %s already exists", lib->funcs[i]->name);
            return -1;
        }
    }
    return 0;
}

/* Links a checked library in, replacing one of the same name. */
static void lib_commit(fn_lib *lib)
{
    fn_lib *old = lib_find(lib->name, str_len(lib->name));
    if (old) {
        lib_remove(old);
    }
    fn_lib **pp = &libs;
    while (*pp && strcmp((*pp)->name, lib->name) < 0) {
        pp = &(*pp)->next;
    }
    lib->next = *pp;
    *pp = lib;
    for (int i = 0; i < lib->nfuncs; i++) {
        dict_insert(&funcs, &dict_entry_new(lib->funcs[i]->name, str_len(lib->funcs[i]->name), lib->funcs[i])->node);
    }
    nfuncs_total += (size_t)lib->nfuncs;
    nlibs++;
    code_bytes += str_len(lib->code);
}

/* The shebang line's words, split with Redis's quoting rules (name="x"
 * names x): "#!<engine>" then name=<library>. 0 with the engine and name
 * in owned strings, or -1 with the error reply text in *err. */
static int parse_shebang(const char *line, size_t len, str *engine, str *name, str *err)
{
    str args = NULL;
    size_t *off = NULL, *lens = NULL, cap = 0;
    long n = resp_split_args(line, len, &args, &off, &lens, &cap);
    *engine = *name = NULL;
    if (n <= 0) {
        *err = str_new("ERR Invalid library metadata", 28);
    } else {
        /* Past the "#!" (a quoted first word may be shorter). */
        size_t skip = lens[0] < 2 ? lens[0] : 2;
        *engine = str_new(args + off[0] + skip, lens[0] - skip);
    }
    for (long i = 1; i < n; i++) {
        sv w = {args + off[i], lens[i]};
        if (w.len >= 5 && strncasecmp(w.ptr, "name=", 5) == 0) {
            if (*name) {
                *err = str_new("ERR Invalid metadata value, name argument was given multiple times", 66);
                break;
            }
            *name = str_new(w.ptr + 5, w.len - 5);
        } else {
            *err = str_printf(str_empty(64), "ERR Invalid metadata value given: %.*s", (int)w.len, w.ptr);
            break;
        }
    }
    str_free(args);
    alloc_free(off);
    alloc_free(lens);
    if (*err) {
        str_free(*engine);
        str_free(*name);
        *engine = *name = NULL;
        return -1;
    }
    return 0;
}

/* The library's metadata checks, in Redis 7.0's order: the shebang line,
 * its values, the name, the engine, then (refuse_existing) a library of
 * that name. The name in an owned string, or NULL with *err. */
static str lib_check_metadata(const char *code, size_t len, int refuse_existing, str *err)
{
    if (!script_has_shebang(code, len)) {
        *err = str_new("ERR Missing library metadata", 28);
        return NULL;
    }
    const char *nl = memchr(code, '\n', len);
    if (!nl) {
        *err = str_new("ERR Invalid library metadata", 28);
        return NULL;
    }
    str engine, name;
    if (parse_shebang(code, (size_t)(nl - code), &engine, &name, err) < 0) {
        return NULL;
    }
    if (!name) {
        *err = str_new("ERR Library name was not given", 30);
    } else if (!valid_name(name, str_len(name))) {
        *err = str_new("ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
                       "least one character long",
                       110);
    } else if (str_len(engine) != 3 || strncasecmp(engine, "lua", 3) != 0) {
        *err = str_printf(str_empty(64), "ERR Engine '%.*s' not found", (int)str_len(engine), engine);
    } else if (refuse_existing && lib_find(name, str_len(name))) {
        *err = str_printf(str_empty(64), "ERR Library '%s' already exists", name);
    }
    str_free(engine);
    if (*err) {
        str_free(name);
        return NULL;
    }
    return name;
}

/* Runs library code and returns the detached library, or NULL with the
 * error reply text in *err: the metadata is checked first, and only then
 * the code. */
static fn_lib *lib_create(const char *code, size_t len, int refuse_existing, str *err)
{
    str name = lib_check_metadata(code, len, refuse_existing, err);
    if (!name) {
        return NULL;
    }
    const char *nl = memchr(code, '\n', len);
    str cerr = NULL;
    int ref = svm_compile(fvm, nl, len - (size_t)(nl - code), "@user_function", &cerr);
    if (ref == LUA_NOREF) {
        *err = str_printf(str_empty(64), "ERR Error compiling function: %s", cerr);
        str_free(cerr);
        str_free(name);
        return NULL;
    }
    fn_lib *lib = alloc_zero(sizeof(*lib));
    lib->name = name;
    lib->code = str_new(code, len);
    loading = lib;
    str rerr = NULL;
    int rc = svm_run_load(fvm, ref, &rerr);
    loading = NULL;
    svm_unref(fvm, ref);
    if (rc < 0) {
        *err = str_printf(str_empty(64), "ERR Error registering functions: %s", rerr);
        str_free(rerr);
        lib_free(lib, 1);
        return NULL;
    }
    if (lib->nfuncs == 0) {
        *err = str_new("ERR No functions registered", 27);
        lib_free(lib, 1);
        return NULL;
    }
    return lib;
}

/* redis.register_function(name, fn) or
 * redis.register_function{function_name=, callback=, flags=, description=} */
int functions_lua_register(lua_State *L)
{
    fn_lib *lib = loading;
    if (!lib) {
        return svm_raise(L, "ERR redis.register_function can only be called on FUNCTION LOAD command");
    }
    int argc = lua_gettop(L);
    int name_idx, fn_idx, desc_idx = 0, flags = 0;
    if (argc < 1 || argc > 2) {
        return svm_raise(L, "ERR wrong number of arguments to redis.register_function");
    }
    /* Redis's texts, which differ between the named and positional forms;
     * names and descriptions may be numbers (lua_isstring), as there. */
    if (argc == 1 && lua_type(L, 1) != LUA_TTABLE) {
        return svm_raise(L, "ERR calling redis.register_function with a single argument is only applicable to Lua "
                            "table (representing named arguments).");
    }
    if (argc == 1) {
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                return svm_raise(L, "ERR named argument key given to redis.register_function is not a string");
            }
            const char *k = lua_tostring(L, -2);
            if (strcmp(k, "function_name") != 0 && strcmp(k, "callback") != 0 && strcmp(k, "description") != 0 &&
                strcmp(k, "flags") != 0) {
                return svm_raise(L, "ERR unknown argument given to redis.register_function");
            }
            lua_pop(L, 1);
        }
        lua_getfield(L, 1, "function_name");
        lua_getfield(L, 1, "callback");
        lua_getfield(L, 1, "description");
        lua_getfield(L, 1, "flags");
        name_idx = 2;
        fn_idx = 3;
        if (lua_isnil(L, 2)) {
            return svm_raise(L, "ERR redis.register_function must get a function name argument");
        }
        if (lua_isnil(L, 3)) {
            return svm_raise(L, "ERR redis.register_function must get a callback argument");
        }
        if (!lua_isnil(L, 4)) {
            if (!lua_isstring(L, 4)) {
                return svm_raise(L, "ERR description argument given to redis.register_function must be a string");
            }
            desc_idx = 4;
        }
        if (!lua_isnil(L, 5)) {
            if (lua_type(L, 5) != LUA_TTABLE) {
                return svm_raise(L, "ERR flags argument to redis.register_function must be a table representing "
                                    "function flags");
            }
            for (int i = 1;; i++) {
                lua_rawgeti(L, 5, i);
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    break;
                }
                size_t fl = 0;
                const char *fs = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &fl) : NULL;
                int f = fs ? script_flag_from_name(fs, fl) : 0;
                if (!f) {
                    return svm_raise(L, "ERR unknown flag given");
                }
                flags |= f;
                lua_pop(L, 1);
            }
        }
        if (!lua_isstring(L, name_idx)) {
            return svm_raise(L, "ERR function_name argument given to redis.register_function must be a string");
        }
        if (lua_type(L, fn_idx) != LUA_TFUNCTION) {
            return svm_raise(L, "ERR callback argument given to redis.register_function must be a function");
        }
    } else {
        name_idx = 1;
        fn_idx = 2;
        if (!lua_isstring(L, name_idx)) {
            return svm_raise(L, "ERR first argument to redis.register_function must be a string");
        }
        if (lua_type(L, fn_idx) != LUA_TFUNCTION) {
            return svm_raise(L, "ERR second argument to redis.register_function must be a function");
        }
    }
    size_t nlen;
    const char *name = lua_tolstring(L, name_idx, &nlen);
    if (!valid_name(name, nlen)) {
        return svm_raise(L, "ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
                            "least one character long");
    }
    for (int i = 0; i < lib->nfuncs; i++) {
        if (str_len(lib->funcs[i]->name) == nlen && strncasecmp(lib->funcs[i]->name, name, nlen) == 0) {
            return svm_raise(L, "ERR Function already exists in the library");
        }
    }
    fn_func *f = alloc_zero(sizeof(*f));
    f->name = str_new(name, nlen);
    if (desc_idx) {
        size_t dl;
        const char *d = lua_tolstring(L, desc_idx, &dl);
        f->desc = str_new(d, dl);
    }
    f->flags = flags;
    f->lib = lib;
    lua_pushvalue(L, fn_idx);
    f->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lib->funcs = alloc_resize(lib->funcs, sizeof(fn_func *) * (size_t)(lib->nfuncs + 1));
    lib->funcs[lib->nfuncs++] = f;
    return 0;
}

/* ---- FCALL ---- */

int script_function_flags(sv name, int *flags)
{
    dict_entry *e = dict_entry_find(&funcs, name.ptr, name.len);
    if (!e) {
        return 0;
    }
    *flags = ((fn_func *)e->val)->flags;
    return 1;
}

void script_fcall_command(client *c, int ro)
{
    dict_entry *e = dict_entry_find(&funcs, c->argv[1].ptr, c->argv[1].len);
    if (!e) {
        reply_err(c, "ERR Function not found");
        return;
    }
    fn_func *f = e->val;
    long long numkeys;
    if (!util_parse_ll(c->argv[2].ptr, c->argv[2].len, &numkeys)) {
        reply_err(c, "ERR Bad number of keys provided"); /* FCALL's own text */
        return;
    }
    if (!script_parse_numkeys(c, 2, &numkeys)) {
        return;
    }
    script_start(c, fvm, f->ref, f->name, 1, f->flags, ro, numkeys);
}

/* ---- FUNCTION subcommands ---- */

/* A change to the loaded functions: counted and propagated as sent. */
static void functions_changed(client *c)
{
    server.dirty++;
    propagate_also(c, c->argv, c->argc);
}

static void function_load(client *c)
{
    int replace = 0;
    int i = 2;
    for (; i < c->argc - 1; i++) {
        if (arg_is(c, i, "REPLACE")) {
            replace = 1;
        } else {
            reply_errf(c, "ERR Unknown option given: %.*s", (int)c->argv[i].len, c->argv[i].ptr);
            return;
        }
    }
    str err = NULL;
    fn_lib *lib = lib_create(c->argv[i].ptr, c->argv[i].len, !replace, &err);
    if (lib && lib_check(lib, replace, 0, &err) < 0) {
        lib_free(lib, 1);
        lib = NULL;
    }
    if (!lib) {
        reply_err(c, err);
        str_free(err);
        return;
    }
    lib_commit(lib);
    reply_bulk(R(c), lib->name, str_len(lib->name));
    functions_changed(c);
}

static void reply_lib(client *c, fn_lib *lib, int withcode)
{
    reply_map(R(c), withcode ? 4 : 3);
    reply_bulk_cstr(R(c), "library_name");
    reply_bulk(R(c), lib->name, str_len(lib->name));
    reply_bulk_cstr(R(c), "engine");
    reply_bulk_cstr(R(c), "LUA");
    reply_bulk_cstr(R(c), "functions");
    reply_array(R(c), lib->nfuncs);
    for (int i = 0; i < lib->nfuncs; i++) {
        fn_func *f = lib->funcs[i];
        reply_map(R(c), 3);
        reply_bulk_cstr(R(c), "name");
        reply_bulk(R(c), f->name, str_len(f->name));
        reply_bulk_cstr(R(c), "description");
        if (f->desc) {
            reply_bulk(R(c), f->desc, str_len(f->desc));
        } else {
            reply_null(R(c));
        }
        reply_bulk_cstr(R(c), "flags");
        const char *names[8];
        int n = script_flag_names(f->flags, names, 8);
        reply_set(R(c), n);
        for (int j = 0; j < n; j++) {
            reply_status(R(c), names[j]);
        }
    }
    if (withcode) {
        reply_bulk_cstr(R(c), "library_code");
        reply_bulk(R(c), lib->code, str_len(lib->code));
    }
}

static void function_list(client *c)
{
    int withcode = 0, named = 0;
    sv pattern = {NULL, 0};
    /* Each option once: a second one is an unknown argument, as in Redis. */
    for (int i = 2; i < c->argc; i++) {
        if (arg_is(c, i, "WITHCODE") && !withcode) {
            withcode = 1;
        } else if (arg_is(c, i, "LIBRARYNAME") && !named) {
            named = 1;
            if (i + 1 >= c->argc) {
                reply_err(c, "ERR library name argument was not given");
                return;
            }
            pattern = c->argv[++i];
        } else {
            reply_errf(c, "ERR Unknown argument %.*s", (int)c->argv[i].len, c->argv[i].ptr);
            return;
        }
    }
    size_t h = reply_defer(R(c));
    long long n = 0;
    for (fn_lib *l = libs; l; l = l->next) {
        if (pattern.ptr && !util_glob_match(pattern.ptr, pattern.len, l->name, str_len(l->name), 0)) {
            continue;
        }
        reply_lib(c, l, withcode);
        n++;
    }
    reply_defer_array(R(c), h, n);
}

static void functions_flush(void)
{
    while (libs) {
        lib_remove(libs);
    }
    svm_free(fvm);
    fvm = svm_new(1);
}

/* DUMP payload: magic, version byte, then per library a 4-byte
 * little-endian length and its code, then the first 8 bytes of the SHA1
 * of everything before them. */
static void function_dump(client *c)
{
    str out = rdb_dump_functions();
    reply_bulk(R(c), out, str_len(out));
    str_free(out);
}

typedef struct restore_ctx {
    fn_lib **made;
    int nmade;
    str err;
} restore_ctx;

static void restore_one(const char *code, size_t len, void *ctx)
{
    restore_ctx *rc = ctx;
    if (rc->err) {
        return;
    }
    fn_lib *lib = lib_create(code, len, 0, &rc->err);
    if (lib) {
        rc->made = alloc_resize(rc->made, sizeof(*rc->made) * (size_t)(rc->nmade + 1));
        rc->made[rc->nmade++] = lib;
    }
}

static void function_restore(client *c)
{
    int policy = 0; /* 0 append, 1 replace, 2 flush */
    if (c->argc > 4) {
        reply_subcommand_syntax_error(c);
        return;
    }
    if (c->argc == 4) {
        if (arg_is(c, 3, "APPEND")) {
            policy = 0;
        } else if (arg_is(c, 3, "REPLACE")) {
            policy = 1;
        } else if (arg_is(c, 3, "FLUSH")) {
            policy = 2;
        } else {
            reply_err(c, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    /* Phase one: build every library; nothing is linked in yet. */
    sv pl = c->argv[2];
    restore_ctx rc = {NULL, 0, NULL};
    char perr[128];
    if (rdb_parse_functions(pl.ptr, pl.len, restore_one, &rc, perr, sizeof(perr)) < 0 && !rc.err) {
        rc.err = str_new(perr, strlen(perr));
    }
    fn_lib **made = rc.made;
    int nmade = rc.nmade;
    str err = rc.err;
    /* Phase two: check the clashes, then commit all or nothing. */
    for (int i = 0; !err && i < nmade; i++) {
        if (policy == 2) {
            for (int j = 0; j < i && !err; j++) {
                if (strcmp(made[j]->name, made[i]->name) == 0) {
                    err = str_printf(str_empty(64), "ERR Library '%s' already exists", made[i]->name);
                }
            }
        } else {
            lib_check(made[i], policy == 1, 1, &err);
        }
    }
    if (err) {
        for (int i = 0; i < nmade; i++) {
            lib_free(made[i], 1);
        }
        alloc_free(made);
        reply_err(c, err);
        str_free(err);
        return;
    }
    if (policy == 2) {
        /* The new libraries' callbacks live in this VM: keep it. */
        while (libs) {
            lib_remove(libs);
        }
    }
    for (int i = 0; i < nmade; i++) {
        lib_commit(made[i]);
    }
    alloc_free(made);
    reply_ok(R(c));
    functions_changed(c);
}

void script_functions_each(void (*fn)(const char *code, size_t len, void *ctx), void *ctx)
{
    for (fn_lib *l = libs; l; l = l->next) {
        fn(l->code, str_len(l->code), ctx);
    }
}

int script_functions_load_code(const char *code, size_t len, int replace, str *err)
{
    fn_lib *lib = lib_create(code, len, 0, err);
    if (!lib) {
        return -1;
    }
    if (lib_check(lib, replace, 0, err) != 0) {
        lib_free(lib, 1);
        return -1;
    }
    lib_commit(lib);
    return 0;
}

void script_functions_clear(void)
{
    functions_flush();
}

static void function_stats(client *c)
{
    reply_map(R(c), 2);
    reply_bulk_cstr(R(c), "running_script");
    script_reply_running(c);
    reply_bulk_cstr(R(c), "engines");
    reply_map(R(c), 1);
    reply_bulk_cstr(R(c), "LUA");
    reply_map(R(c), 2);
    reply_bulk_cstr(R(c), "libraries_count");
    reply_int(R(c), (long long)nlibs);
    reply_bulk_cstr(R(c), "functions_count");
    reply_int(R(c), (long long)nfuncs_total);
}

/* FUNCTION: dispatch checked the subcommand and its arity (the SUB lines);
 * only the upper bound of FLUSH is left to check here (LOAD names any
 * extra argument as an unknown option, as Redis does). */
void script_function_command(client *c)
{
    int argc = c->argc;
    if (arg_is(c, 1, "LOAD")) {
        function_load(c);
    } else if (arg_is(c, 1, "LIST")) {
        function_list(c);
    } else if (arg_is(c, 1, "DELETE")) {
        fn_lib *lib = lib_find(c->argv[2].ptr, c->argv[2].len);
        if (!lib) {
            reply_err(c, "ERR Library not found");
            return;
        }
        lib_remove(lib);
        reply_ok(R(c));
        functions_changed(c);
    } else if (arg_is(c, 1, "FLUSH")) {
        if (argc > 3) {
            reply_subcommand_syntax_error(c);
            return;
        }
        if (argc == 3 && !arg_is(c, 2, "ASYNC") && !arg_is(c, 2, "SYNC")) {
            reply_err(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            return;
        }
        functions_flush();
        reply_ok(R(c));
        functions_changed(c);
    } else if (arg_is(c, 1, "DUMP")) {
        function_dump(c);
    } else if (arg_is(c, 1, "RESTORE")) {
        function_restore(c);
    } else if (arg_is(c, 1, "STATS")) {
        function_stats(c);
    } else if (arg_is(c, 1, "KILL")) {
        script_kill(c, 1);
    } else if (arg_is(c, 1, "HELP")) {
        static const char *const help[] = {
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries.",
            "FCALL <FUNCTION NAME> <NUMKEYS> <KEY1> .. <KEYN> <ARG1> .. <ARGN>",
            "    Call the given function.",
            "FCALL_RO <FUNCTION NAME> <NUMKEYS> <KEY1> .. <KEYN> <ARG1> .. <ARGN>",
            "    Call the given function; the function must be flagged no-writes.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "STATS",
            "    Return information about the current function running.",
            "DUMP",
            "    Return a serialized payload representing the current libraries.",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload (default policy: APPEND).",
            "HELP",
            "    Print this help.",
            NULL};
        reply_help(c, help);
    } else {
        reply_subcommand_unknown(c);
    }
}
