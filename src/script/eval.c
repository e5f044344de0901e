/* script/eval: EVAL scripts. Every script body run or loaded is compiled
 * once into the eval VM and cached by the lowercase hex SHA1 of its body,
 * until SCRIPT FLUSH (which also starts a fresh VM, dropping whatever
 * state scripts may have left in it). */
#include <lauxlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/sha1.h"
#include "base/util.h"
#include "repl/repl.h"
#include "script/script_int.h"

typedef struct eval_script {
    str body;
    int ref;   /* compiled function in the eval VM's registry */
    int flags; /* from the shebang, or SCRIPT_FLAG_EVAL_COMPAT */
} eval_script;

static svm *evm;
static dict cache; /* sha -> eval_script */
static size_t cache_bytes;

static void eval_script_free(void *p)
{
    eval_script *s = p;
    str_free(s->body);
    alloc_free(s);
}

void script_eval_init(void)
{
    evm = svm_new(0);
    dict_init(&cache, &dict_type_entry);
}

size_t script_eval_vm_memory(void)
{
    return evm ? evm->mem : 0;
}

size_t script_eval_cached_count(void)
{
    return dict_size(&cache);
}

size_t script_eval_cache_memory(void)
{
    return cache_bytes;
}

typedef struct script_budget {
    size_t visited;
} script_budget;

static dnode *move_script(dnode *n, void *ctx)
{
    ((script_budget *)ctx)->visited++;
    dict_entry *e = (dict_entry *)n;
    eval_script *s = e->val;
    str body = str_defrag(s->body);
    if (body) {
        s->body = body;
    }
    e->val = alloc_defrag_keep(s);
    return alloc_defrag(n);
}

unsigned long script_eval_defrag(unsigned long cursor, size_t budget)
{
    if (cursor == 0) {
        dict_defrag_tables(&cache);
    }
    script_budget b = {0};
    do {
        cursor = dict_defrag_scan(&cache, cursor, move_script, &b);
    } while (cursor != 0 && b.visited < budget);
    return cursor;
}

/* "#!lua [flags=a,b]" on the first line. Returns 0 with *flags set, or
 * -1 with the error reply text in *err. */
static int parse_shebang(const char *code, size_t len, int *flags, str *err)
{
    const char *nl = memchr(code, '\n', len);
    size_t line = nl ? (size_t)(nl - code) : len;
    const char *p = code, *end = code + line;
    const char *tok = p;
    while (p < end && *p != ' ') {
        p++;
    }
    if ((size_t)(p - tok) != 5 || memcmp(tok, "#!lua", 5) != 0) {
        *err = str_printf(str_empty(64), "ERR Unexpected engine in script shebang: %.*s", (int)(p - tok), tok);
        return -1;
    }
    *flags = 0;
    while (p < end) {
        while (p < end && *p == ' ') {
            p++;
        }
        if (p == end) {
            break;
        }
        tok = p;
        while (p < end && *p != ' ') {
            p++;
        }
        size_t tlen = (size_t)(p - tok);
        if (tlen < 6 || memcmp(tok, "flags=", 6) != 0) {
            *err = str_printf(str_empty(64), "ERR Unknown lua shebang option: %.*s", (int)tlen, tok);
            return -1;
        }
        const char *f = tok + 6;
        while (f < p) {
            const char *comma = memchr(f, ',', (size_t)(p - f));
            const char *fe = comma ? comma : p;
            int flag = script_flag_from_name(f, (size_t)(fe - f));
            if (!flag && fe > f) {
                *err = str_printf(str_empty(64), "ERR Unexpected flag in script shebang: %.*s", (int)(fe - f), f);
                return -1;
            }
            *flags |= flag;
            f = comma ? comma + 1 : p;
        }
    }
    return 0;
}

/* The cached script named by a SHA1 as a client wrote it. The cache keys
 * are lowercase hex; Redis accepts the digest in either case (EVALSHA,
 * SCRIPT EXISTS), so the name is folded before the lookup. The lowercase
 * name goes to `sha` when it is not NULL. */
static dict_entry *cache_find_sha(sv name, char sha[41])
{
    char lower[41];
    if (name.len != 40) {
        return NULL;
    }
    for (int i = 0; i < 40; i++) {
        char ch = name.ptr[i];
        lower[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    lower[40] = '\0';
    if (sha) {
        memcpy(sha, lower, 41);
    }
    return dict_entry_find(&cache, lower, 40);
}

/* The cached script for this body, compiling and caching it if new.
 * Replies the error and returns NULL when it does not compile. */
static eval_script *get_or_compile(client *c, sv body, char sha[41])
{
    uint8_t d[20];
    sha1(body.ptr, body.len, d);
    sha1_hex(d, sha);
    dict_entry *e = dict_entry_find(&cache, sha, 40);
    if (e) {
        return e->val;
    }
    int flags = SCRIPT_FLAG_EVAL_COMPAT;
    const char *code = body.ptr;
    size_t len = body.len;
    if (script_has_shebang(body.ptr, body.len)) {
        str err = NULL;
        if (parse_shebang(body.ptr, body.len, &flags, &err) < 0) {
            reply_err(c, err);
            str_free(err);
            return NULL;
        }
        /* Compile from the end of the shebang line, keeping its newline
         * so line numbers match the text the user sent. */
        const char *nl = memchr(body.ptr, '\n', body.len);
        code = nl ? nl : "";
        len = nl ? body.len - (size_t)(nl - body.ptr) : 0;
    }
    str err = NULL;
    int ref = svm_compile(evm, code, len, "@user_script", &err);
    if (ref == LUA_NOREF) {
        reply_errf(c, "ERR Error compiling script (new function): %s", err);
        str_free(err);
        return NULL;
    }
    eval_script *s = alloc_zero(sizeof(*s));
    s->body = str_new(body.ptr, body.len);
    s->ref = ref;
    s->flags = flags;
    dict_insert(&cache, &dict_entry_new(sha, 40, s)->node);
    cache_bytes += body.len;
    return s;
}

/* The flags the script of an EVAL or EVALSHA declared: 0 when it
 * declared none (no shebang, or not cached: the command fails anyway). */
static int eval_declared_flags(client *c, int by_sha, int *flags)
{
    if (c->argc < 2) {
        return 0;
    }
    if (by_sha) {
        dict_entry *e = cache_find_sha(c->argv[1], NULL);
        const eval_script *s = e ? e->val : NULL;
        if (!s || (s->flags & SCRIPT_FLAG_EVAL_COMPAT)) {
            return 0;
        }
        *flags = s->flags;
        return 1;
    }
    sv body = c->argv[1];
    str err = NULL;
    if (!script_has_shebang(body.ptr, body.len) || parse_shebang(body.ptr, body.len, flags, &err) < 0) {
        str_free(err);
        return 0;
    }
    return 1;
}

uint32_t script_command_flags(client *c, const command *cmd)
{
    int flags, declared;
    if (cmd->fn == cmd_eval || cmd->fn == cmd_eval_ro) {
        declared = eval_declared_flags(c, 0, &flags);
    } else if (cmd->fn == cmd_evalsha || cmd->fn == cmd_evalsha_ro) {
        declared = eval_declared_flags(c, 1, &flags);
    } else if (cmd->fn == cmd_fcall || cmd->fn == cmd_fcall_ro) {
        declared = c->argc >= 2 && script_function_flags(c->argv[1], &flags);
    } else {
        return cmd->flags;
    }
    if (!declared) {
        return cmd->flags;
    }
    uint32_t f = cmd->flags & ~(CMD_STALE | CMD_DENYOOM | CMD_WRITE | CMD_MAY_REPLICATE);
    if (!(flags & (SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_NO_WRITES))) {
        f |= CMD_DENYOOM;
    }
    if (!(flags & SCRIPT_FLAG_NO_WRITES)) {
        f |= CMD_WRITE;
    }
    if (flags & SCRIPT_FLAG_ALLOW_STALE) {
        f |= CMD_STALE;
    }
    return f;
}

/* Parses numkeys at argv[i]; replies the error and returns 0 on bad
 * input. */
int script_parse_numkeys(client *c, int i, long long *numkeys)
{
    if (!util_parse_ll(c->argv[i].ptr, c->argv[i].len, numkeys)) {
        reply_not_integer(c);
        return 0;
    }
    if (*numkeys > c->argc - i - 1) {
        reply_err(c, "ERR Number of keys can't be greater than number of args");
        return 0;
    }
    if (*numkeys < 0) {
        reply_err(c, "ERR Number of keys can't be negative");
        return 0;
    }
    return 1;
}

/* Why a script may not start, in Redis 7.0's order, or NULL. A script
 * with a shebang is judged by its flags: on a stale replica unless
 * allow-stale; unless no-writes, where writes are refused (read-only
 * replica, failed save), by a *_RO command, or without enough good
 * replicas; past maxmemory unless allow-oom. A legacy script (no shebang)
 * only never runs on a stale replica; its commands are judged as they
 * come. */
static const char *script_start_refusal(client *c, int flags, int ro)
{
    int stale = server_stale_for(c);
    if (flags & SCRIPT_FLAG_EVAL_COMPAT) {
        return stale ? MASTERDOWN_ERROR : NULL;
    }
    if (stale && !(flags & SCRIPT_FLAG_ALLOW_STALE)) {
        return "MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag "
               "is not set";
    }
    if (!(flags & SCRIPT_FLAG_NO_WRITES)) {
        const char *e = server_write_refusal(c, ro);
        if (e && strcmp(e, READONLY_ERROR) == 0) {
            /* (Also only what a module's Call of it gets: a client's EVAL
             * is refused before, with the plain READONLY error.) */
            return "READONLY Can not run script with write flag on readonly replica";
        }
        if (e) {
            return e;
        }
    }
    /* no-writes implies allow-oom; a replica's memory is its primary's. */
    if (!(flags & (SCRIPT_FLAG_NO_WRITES | SCRIPT_FLAG_ALLOW_OOM)) && server.cfg.maxmemory > 0 && !repl_is_replica() &&
        server_over_memory()) {
        /* (A client's EVAL is refused before, with the plain OOM error;
         * this is what a module's Call of it gets, as in Redis.) */
        return "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'";
    }
    return NULL;
}

/* Shared by EVAL and FCALL. */
void script_start(client *c, svm *vm, int ref, const char *name, int is_function, int flags, int ro, long long numkeys)
{
    const char *refusal = script_start_refusal(c, flags, ro);
    if (refusal) {
        reply_err(c, refusal);
        return;
    }
    script_call sc = {.vm = vm,
                      .ref = ref,
                      .name = name,
                      .is_function = is_function,
                      .flags = flags,
                      .ro = ro || (flags & SCRIPT_FLAG_NO_WRITES),
                      .keys = c->argv + 3,
                      .nkeys = (int)numkeys,
                      .args = c->argv + 3 + numkeys,
                      .nargs = c->argc - 3 - (int)numkeys};
    svm_call(c, &sc);
}

static void eval_command(client *c, int by_sha, int ro)
{
    long long numkeys;
    if (!script_parse_numkeys(c, 2, &numkeys)) {
        return;
    }
    char sha[41];
    eval_script *s;
    if (by_sha) {
        dict_entry *e = cache_find_sha(c->argv[1], sha);
        if (!e) {
            reply_err(c, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
        s = e->val;
    } else {
        s = get_or_compile(c, c->argv[1], sha);
        if (!s) {
            return;
        }
    }
    script_start(c, evm, s->ref, sha, 0, s->flags, ro, numkeys);
}

void script_eval_command(client *c, int by_sha, int ro)
{
    /* No script has a SHA1 that is not 40 characters: Redis says so
     * before it looks at numkeys. */
    if (by_sha && c->argv[1].len != 40) {
        reply_err(c, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    /* (Inside EXEC the reply array is half-built: no session there.) */
    if (!(c->flags & CLIENT_LUA_DEBUG) || (c->flags & CLIENT_IN_EXEC)) {
        eval_command(c, by_sha, ro);
        return;
    }
    /* SCRIPT DEBUG YES|SYNC: this EVAL runs under the debugger (ldb.c),
     * which needs the source to show. */
    if (by_sha) {
        reply_err(c, "ERR Please use EVAL instead of EVALSHA for debugging");
        return;
    }
    if (ldb_session_start(c)) {
        eval_command(c, 0, ro);
        ldb_session_end(c);
    }
}

/* SCRIPT DEBUG YES|SYNC|NO: how this connection's next EVALs run. The
 * debugger writes to the socket itself, so no reply may be waiting. */
static void script_debug(client *c)
{
    if ((c->flags & CLIENT_IN_EXEC) || rbuf_pending(&c->out)) {
        reply_err(c, "ERR SCRIPT DEBUG must be called outside a pipeline");
    } else if (arg_is(c, 2, "NO")) {
        c->flags &= ~(CLIENT_LUA_DEBUG | CLIENT_LUA_DEBUG_SYNC);
        reply_ok(R(c));
    } else if (arg_is(c, 2, "YES")) {
        c->flags = (c->flags | CLIENT_LUA_DEBUG) & ~CLIENT_LUA_DEBUG_SYNC;
        reply_ok(R(c));
    } else if (arg_is(c, 2, "SYNC")) {
        c->flags |= CLIENT_LUA_DEBUG | CLIENT_LUA_DEBUG_SYNC;
        reply_ok(R(c));
    } else {
        reply_err(c, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
}

static void script_flush(void)
{
    dict_entry_clear(&cache, eval_script_free);
    cache_bytes = 0;
    svm_free(evm);
    evm = svm_new(0);
}

/* SCRIPT: dispatch checked the subcommand and its arity (the SUB lines);
 * only FLUSH's upper bound is left to check here. */
void script_script_command(client *c)
{
    if (arg_is(c, 1, "LOAD")) {
        char sha[41];
        if (get_or_compile(c, c->argv[2], sha)) {
            reply_bulk(R(c), sha, 40);
        }
    } else if (arg_is(c, 1, "EXISTS")) {
        reply_array(R(c), c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            int found = cache_find_sha(c->argv[i], NULL) != NULL;
            reply_int(R(c), found);
        }
    } else if (arg_is(c, 1, "FLUSH") && c->argc <= 3) {
        if (c->argc == 3 && !arg_is(c, 2, "ASYNC") && !arg_is(c, 2, "SYNC")) {
            reply_err(c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            return;
        }
        script_flush();
        reply_ok(R(c));
    } else if (arg_is(c, 1, "KILL")) {
        script_kill(c, 0);
    } else if (arg_is(c, 1, "DEBUG")) {
        script_debug(c);
    } else if (arg_is(c, 1, "HELP")) {
        static const char *const help[] = {
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Run the next EVALs of this connection under the Lua debugger (YES: in a forked",
            "    child, changes discarded; SYNC: blocking the server, changes kept) or not.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Print this help.",
            NULL};
        reply_help(c, help);
    } else if (arg_is(c, 1, "FLUSH")) {
        reply_err(c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    } else {
        reply_subcommand_unknown(c);
    }
}
