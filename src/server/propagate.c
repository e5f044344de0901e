/* propagate: the one point every write passes on its way to persistence and
 * replicas. Writes of one top-level command (a plain command, an EXEC, a
 * script) are collected and handed to the listeners together, wrapped in
 * MULTI/EXEC when there is more than one, so replay is atomic too.
 * Commands propagate in deterministic form: handlers rewrite relative
 * times to absolute ones and random choices to their results. */
#include <string.h>

#include "base/alloc.h"
#include "server/server.h"

#define MAX_LISTENERS 8

/* A pending command: its arguments are copied into one arena (offsets,
 * as the arena may move when it grows), so a write costs no allocation
 * once the arena has its size. */
typedef struct prop_cmd {
    int dbid;
    int argc;
    int targets;  /* PROPAGATE_AOF | PROPAGATE_REPL */
    size_t first; /* index of its first argument in args */
} prop_cmd;

typedef struct prop_arg {
    size_t off, len;
} prop_arg;

static str arena;
static prop_arg *args;
static size_t nargs, cap_args;

static propagate_fn listeners[MAX_LISTENERS];
static int listener_targets[MAX_LISTENERS];
static int nlisteners;
static prop_cmd *pending;
static int npending, cap_pending;

void propagate_register(propagate_fn fn, int targets)
{
    if (nlisteners < MAX_LISTENERS) {
        listener_targets[nlisteners] = targets;
        listeners[nlisteners++] = fn;
    }
}

void propagate_begin(void)
{
    npending = 0;
    nargs = 0;
    if (arena) {
        str_set_len(arena, 0);
    }
}

void propagate_cmd(int dbid, sv *argv, int argc)
{
    propagate_cmd_to(dbid, argv, argc, PROPAGATE_AOF | PROPAGATE_REPL);
}

static int suspended;

int propagate_suspend(int on)
{
    int was = suspended;
    suspended = on;
    return was;
}

/* A module's Call without "!": what the command and anything it runs write
 * stays local, but for the DELs of keys found expired or evicted, which
 * replicas must see whatever the caller asked (as in Redis). */
static int quiet, removing;

int propagate_quiet(int on)
{
    int was = quiet;
    quiet = on;
    return was;
}

void propagate_cmd_to(int dbid, sv *argv, int argc, int targets)
{
    if (nlisteners == 0 || suspended || (quiet && !removing)) {
        return; /* nobody listens: no copies */
    }
    if (npending == cap_pending) {
        cap_pending = cap_pending ? cap_pending * 2 : 8;
        pending = alloc_resize(pending, sizeof(prop_cmd) * (size_t)cap_pending);
    }
    prop_cmd *p = &pending[npending++];
    p->dbid = dbid;
    p->argc = argc;
    p->targets = targets;
    p->first = nargs;
    if (nargs + (size_t)argc > cap_args) {
        cap_args = (nargs + (size_t)argc) * 2;
        args = alloc_resize(args, sizeof(prop_arg) * cap_args);
    }
    arena = arena ? arena : str_empty(1024);
    for (int i = 0; i < argc; i++) {
        args[nargs++] = (prop_arg){str_len(arena), argv[i].len};
        arena = str_append(arena, argv[i].ptr, argv[i].len);
    }
}

static void emit(propagate_fn fn, const prop_cmd *p)
{
    sv stack[16];
    sv *v = p->argc <= 16 ? stack : alloc_mem(sizeof(sv) * (size_t)p->argc);
    for (int i = 0; i < p->argc; i++) {
        const prop_arg *a = &args[p->first + (size_t)i];
        v[i] = (sv){arena + a->off, a->len};
    }
    fn(p->dbid, v, p->argc);
    if (v != stack) {
        alloc_free(v);
    }
}

static void emit_word(propagate_fn fn, int dbid, const char *word)
{
    sv v = {word, strlen(word)};
    fn(dbid, &v, 1);
}

/* While on, a unit's writes go out unwrapped (the server's own expiry and
 * eviction passes, as Redis sends them). */
static int no_multi;

int propagate_no_multi(int on)
{
    int was = no_multi;
    no_multi = on;
    return was;
}

int propagate_unit_open(void)
{
    int top = server.propagate_depth == 0;
    if (top) {
        propagate_begin();
    }
    server.propagate_depth++;
    return top;
}

void propagate_unit_close(int top)
{
    server.propagate_depth--;
    if (top) {
        propagate_end();
    }
}

void propagate_end(void)
{
    if (npending == 0) {
        return;
    }
    /* Each listener gets the commands meant for it, wrapped in MULTI/EXEC
     * when there is more than one. */
    for (int l = 0; l < nlisteners; l++) {
        int n = 0, first = -1, last = -1;
        for (int i = 0; i < npending; i++) {
            if (pending[i].targets & listener_targets[l]) {
                first = first < 0 ? i : first;
                last = i;
                n++;
            }
        }
        if (n == 0) {
            continue;
        }
        int wrap = n > 1 && !no_multi;
        if (wrap) {
            emit_word(listeners[l], pending[first].dbid, "MULTI");
        }
        for (int i = 0; i < npending; i++) {
            if (pending[i].targets & listener_targets[l]) {
                emit(listeners[l], &pending[i]);
            }
        }
        if (wrap) {
            /* In the last command's db: no SELECT before the EXEC. */
            emit_word(listeners[l], pending[last].dbid, "EXEC");
        }
    }
    npending = 0;
    nargs = 0;
    /* Keep a modest arena for the next write; give back a big one. */
    if (str_cap(arena) > (1u << 20)) {
        str_free(arena);
        arena = NULL;
    } else {
        str_set_len(arena, 0);
    }
}

static int removals_alone;

int propagate_removals_alone(int on)
{
    int was = removals_alone;
    removals_alone = on;
    return was;
}

void propagate_removal(int dbid, sv key)
{
    sv argv[2] = {SV("DEL"), key};
    if (removals_alone) {
        /* Found by a walk of the keyspace: each DEL on its own, now. */
        for (int l = 0; l < nlisteners && !suspended; l++) {
            listeners[l](dbid, argv, 2);
        }
        return;
    }
    int top = propagate_unit_open();
    removing = 1;
    propagate_cmd(dbid, argv, 2);
    removing = 0;
    propagate_unit_close(top);
}

void propagate_cmd_for(client *c, sv *argv, int argc)
{
    int targets = (PROPAGATE_AOF | PROPAGATE_REPL) & ~c->propagate_skip;
    if (targets) {
        propagate_cmd_to(c->db->id, argv, argc, targets);
    }
}

void propagate_also(client *c, sv *argv, int argc)
{
    propagate_cmd_for(c, argv, argc);
    c->propagate_as_is = 1;
}

void propagate_to_replicas(client *c)
{
    propagate_cmd_to(c->db->id, c->argv, c->argc, PROPAGATE_REPL);
}

void propagate_none(client *c)
{
    c->propagate_as_is = 1;
}

/* Owned copies of argv strings, kept until the command ends. */
static str own(client *c, sv val)
{
    if (c->argv_owned_len == c->argv_owned_cap) {
        c->argv_owned_cap = c->argv_owned_cap ? c->argv_owned_cap * 2 : 8;
        c->argv_owned = alloc_resize(c->argv_owned, sizeof(str) * (size_t)c->argv_owned_cap);
    }
    str s = str_new(val.ptr, val.len);
    c->argv_owned[c->argv_owned_len++] = s;
    return s;
}

/* The argv as sent, kept once before the first rewrite. */
static void keep_original(client *c)
{
    if (c->orig_kept) {
        return;
    }
    if (c->argc > c->orig_cap) {
        c->orig_cap = c->argc;
        c->orig_argv = alloc_resize(c->orig_argv, sizeof(sv) * (size_t)c->orig_cap);
    }
    memcpy(c->orig_argv, c->argv, sizeof(sv) * (size_t)c->argc);
    c->orig_argc = c->argc;
    c->orig_kept = 1;
}

void client_forget_original(client *c)
{
    c->orig_kept = 0;
}

sv *client_sent_argv(client *c, int *argc)
{
    *argc = c->orig_kept ? c->orig_argc : c->argc;
    return c->orig_kept ? c->orig_argv : c->argv;
}

void client_redact_arg(client *c, int i)
{
    keep_original(c);
    if (i < c->orig_argc) {
        c->orig_argv[i] = SV("(redacted)");
    }
}

void client_rewrite_arg(client *c, int i, sv val)
{
    keep_original(c);
    str s = own(c, val);
    c->argv[i] = (sv){s, str_len(s)};
}

void client_rewrite_argv(client *c, sv *argv, int argc)
{
    keep_original(c);
    if (argc > c->argv_cap) {
        c->argv_cap = argc;
        c->argv = alloc_resize(c->argv, sizeof(sv) * (size_t)argc);
    }
    /* Copy first: argv may point into the old owned strings. */
    sv *tmp = alloc_mem(sizeof(sv) * (size_t)(argc ? argc : 1));
    for (int i = 0; i < argc; i++) {
        str s = own(c, argv[i]);
        tmp[i] = (sv){s, str_len(s)};
    }
    memcpy(c->argv, tmp, sizeof(sv) * (size_t)argc);
    c->argc = argc;
    alloc_free(tmp);
}

void client_own_argv(client *c)
{
    for (int i = 0; i < c->argc; i++) {
        str s = own(c, c->argv[i]); /* the same words: no original to keep */
        c->argv[i] = (sv){s, str_len(s)};
    }
}

/* ---- a recording listener for tests (DEBUG PROPAGATION-LOG) ----
 * Keeps the last PROP_LOG_MAX propagated commands while enabled, so tests
 * can see the exact deterministic form writes take. */

#define PROP_LOG_MAX 1024

static int log_on, log_registered;
static str *prop_log[PROP_LOG_MAX];
static int prop_log_argc[PROP_LOG_MAX];
static int prop_log_db[PROP_LOG_MAX];
static int prop_log_n;

static void log_clear(void)
{
    for (int i = 0; i < prop_log_n; i++) {
        for (int j = 0; j < prop_log_argc[i]; j++) {
            str_free(prop_log[i][j]);
        }
        alloc_free(prop_log[i]);
    }
    prop_log_n = 0;
}

static void log_listener(int dbid, sv *argv, int argc)
{
    if (!log_on) {
        return;
    }
    if (prop_log_n == PROP_LOG_MAX) {
        return; /* bounded: tests read it long before */
    }
    str *copy = alloc_mem(sizeof(str) * (size_t)argc);
    for (int i = 0; i < argc; i++) {
        copy[i] = str_new(argv[i].ptr, argv[i].len);
    }
    prop_log[prop_log_n] = copy;
    prop_log_argc[prop_log_n] = argc;
    prop_log_db[prop_log_n] = dbid;
    prop_log_n++;
}

void propagate_debug_log(client *c, sv mode)
{
    if (sv_eq_ci(mode, "ON")) {
        if (!log_registered) {
            propagate_register(log_listener, PROPAGATE_AOF);
            log_registered = 1;
        }
        log_clear();
        log_on = 1;
        reply_ok(R(c));
    } else if (sv_eq_ci(mode, "OFF")) {
        log_on = 0;
        log_clear();
        reply_ok(R(c));
    } else if (sv_eq_ci(mode, "GET")) {
        /* Each entry: [dbid, arg0, arg1, ...] */
        reply_array(R(c), prop_log_n);
        for (int i = 0; i < prop_log_n; i++) {
            reply_array(R(c), prop_log_argc[i] + 1);
            reply_bulk_ll(R(c), prop_log_db[i]);
            for (int j = 0; j < prop_log_argc[i]; j++) {
                reply_bulk(R(c), prop_log[i][j], str_len(prop_log[i][j]));
            }
        }
        log_clear();
    } else {
        reply_syntax_error(c);
    }
}
