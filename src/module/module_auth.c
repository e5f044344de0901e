/* module_auth: Redis 7.2's module authentication (RegisterAuthCallback,
 * BlockClientOnAuth).
 *
 * AUTH and HELLO's AUTH ask the modules' auth callbacks first, the last
 * registered first, across all modules; the user's passwords are checked
 * only when none of them decides. A callback decides by answering HANDLED:
 * with success when it authenticated the client meanwhile
 * (AuthenticateClientWithUser / AuthenticateClientWithACLUser), else as a
 * refusal, replied with the error it left in *err ("ERR " put before it
 * unless it starts with '-', as Redis's addReplyError does) or WRONGPASS.
 * NOT_HANDLED passes to the next callback.
 *
 * A callback may instead block the client (BlockClientOnAuth) and answer
 * HANDLED. The module's thread unblocks it later; then, in the main
 * thread, the AUTH or HELLO runs again (so HELLO's SETNAME and its reply
 * come only now), starts with the block's reply callback, which answers as
 * a callback does, and goes on with the callbacks after the one that
 * blocked. The client's later commands wait, as for any blocked client.
 *
 * As in Redis: the server writes no ACL LOG entry for a module's refusal
 * (the module may, with ACLAddLogEntryByUserName); a client that goes away
 * while blocked gets no reply callback, only its private data freed, and
 * its command is not counted in INFO commandstats (it is counted once,
 * when it ends, otherwise); a module cannot be unloaded while one of its
 * auth blocks is under way (its blocked client holds it), and its
 * callbacks go when it is unloaded. */
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "module/module_int.h"

/* A registered callback. The list runs from the newest; an entry stays
 * where it is while others come and go, so a blocked client can take up
 * from the one that blocked it. */
typedef struct auth_entry {
    km_module *module;
    km_auth_fn fn;
    struct auth_entry *next;
} auth_entry;

static auth_entry *entries;

/* One AUTH / HELLO going through the callbacks. */
typedef struct attempt {
    client *c;
    int authed;     /* the callback running now authenticated c (Redis's HAS_RESULT) */
    km_blocked *bc; /* what BlockClientOnAuth gave it */
    int replied;    /* BlockClientOnAuth in MULTI replied its error already */
    struct attempt *outer;
} attempt;

static attempt *current;
/* The auth block just answered, whose client's command runs again now. */
static km_blocked *resuming;

/* ---- the API ---- */

static void api_register_auth_callback(km_ctx *ctx, km_auth_fn cb)
{
    if (!ctx || !ctx->module || !cb) {
        return;
    }
    auth_entry *e = alloc_zero(sizeof(*e));
    e->module = ctx->module;
    e->fn = cb;
    e->next = entries;
    entries = e;
}

/* Only from an auth callback (or a block's reply callback) for the client
 * being authenticated, and once in it; NULL otherwise. In MULTI the
 * client is not blocked: the error is replied and the handle has no
 * client, as BlockClient's. */
static km_blocked *api_block_client_on_auth(km_ctx *ctx, km_auth_fn reply_cb, void (*free_cb)(km_ctx *, void *))
{
    if (!current || !ctx || ctx->c != current->c || current->bc) {
        return NULL;
    }
    km_blocked *bc = km_block_client(ctx, NULL, NULL, free_cb, 0);
    bc->auth_reply_cb = reply_cb;
    current->bc = bc;
    if (!bc->c) {
        current->replied = 1;
    }
    return bc;
}

/* ---- what the rest of src/module/ tells us ---- */

void km_auth_note_authenticated(client *c)
{
    if (current && current->c == c) {
        current->authed = 1;
    }
}

void km_auth_forget(km_module *m)
{
    auth_entry **pp = &entries;
    while (*pp) {
        auth_entry *e = *pp;
        if (e->module == m) {
            *pp = e->next;
            alloc_free(e);
        } else {
            pp = &e->next;
        }
    }
}

/* ---- trying the callbacks ---- */

/* One callback for the attempt: an entry's, or (replying set) a block's
 * reply callback. The error it leaves becomes ours (*err), even from an
 * auto-memory context. */
static int run_callback(attempt *a, km_module *m, km_auth_fn fn, km_blocked *replying, km_string *user, km_string *pass,
                        km_string **err)
{
    km_ctx ctx;
    km_ctx_init(&ctx, m, a->c);
    if (replying) {
        ctx.flags |= KCTX_BLOCKED_REPLY;
        ctx.blocked = replying;
    }
    a->authed = 0;
    a->bc = NULL;
    km_string *e = NULL;
    int r = fn(&ctx, user, pass, &e);
    if (e) {
        km_auto_forget(&ctx, e);
    }
    km_ctx_done(&ctx);
    if (*err) {
        km_string_release(NULL, *err);
    }
    *err = e;
    return r;
}

static void reply_refusal(client *c, km_string *err)
{
    if (!err) {
        reply_err(c, AUTH_WRONGPASS);
        return;
    }
    if (str_len(err->s) > 0 && err->s[0] == '-') {
        reply_err(c, err->s);
        return;
    }
    str msg = str_printf(str_empty(str_len(err->s) + 5), "ERR %s", err->s);
    reply_err(c, msg);
    str_free(msg);
}

int module_auth(client *c, sv user, sv pass)
{
    km_blocked *resume = resuming && resuming->c == c ? resuming : NULL;
    if (!entries && !resume) {
        return MODULE_AUTH_NOT_HANDLED;
    }
    if (resume) {
        resuming = NULL;
        c->flags &= ~(CLIENT_BLOCKED | CLIENT_AUTH_BLOCKED);
    }
    attempt a = {.c = c, .outer = current};
    current = &a;
    km_string *u = km_string_new(NULL, user.ptr, user.len);
    km_string *p = km_string_new(NULL, pass.ptr, pass.len);
    km_string *err = NULL;
    int result = KM_AUTH_NOT_HANDLED;
    auth_entry *e = entries;
    if (resume) {
        /* An aborted block (AbortBlock) has no reply callback: not handled. */
        e = resume->auth_entry;
        if (resume->auth_reply_cb) {
            result = run_callback(&a, resume->module, resume->auth_reply_cb, resume, u, p, &err);
        }
        km_blocked_free_privdata(resume);
        km_blocked_free(resume);
        if (!(a.bc && a.bc->c)) {
            e = e->next;
        }
    }
    while (!(a.bc && a.bc->c) && !a.replied && result != KM_AUTH_HANDLED && e) {
        result = run_callback(&a, e->module, e->fn, NULL, u, p, &err);
        if (!(a.bc && a.bc->c)) {
            e = e->next;
        }
    }
    current = a.outer;
    km_string_release(NULL, u);
    km_string_release(NULL, p);
    int rc = MODULE_AUTH_NOT_HANDLED;
    if (a.bc) {
        a.bc->auth_entry = e; /* the thread's unblock comes back to module_auth through it */
    }
    if (a.bc && a.bc->c) {
        if (result != KM_AUTH_HANDLED) {
            log_msg(LOG_WARNING, "Module auth callback blocked the client but did not answer HANDLED");
        }
        c->flags |= CLIENT_AUTH_BLOCKED;
        rc = MODULE_AUTH_BLOCKED;
    } else if (a.replied) {
        rc = MODULE_AUTH_FAILED; /* BlockClientOnAuth's error was the reply */
    } else if (result == KM_AUTH_HANDLED) {
        if (a.authed) {
            rc = MODULE_AUTH_OK;
        } else {
            reply_refusal(c, err);
            rc = MODULE_AUTH_FAILED;
        }
    }
    if (err) {
        km_string_release(NULL, err);
    }
    return rc;
}

void km_auth_unblocked(km_blocked *bc)
{
    client *c = bc->c;
    if (!c) {
        /* Gone while blocked (or never blocked: MULTI): no reply callback. */
        km_blocked_free_privdata(bc);
        km_blocked_free(bc);
        return;
    }
    resuming = bc;
    client *outer = server.current_client;
    server.current_client = c;
    server_update_time();
    db_set_time(server.now_ms);
    dispatch_call(c, c->cmd);
    server.current_client = outer;
    if (resuming == bc) {
        /* Not taken up: only AUTH and HELLO block on auth, so never. */
        resuming = NULL;
        c->flags &= ~(CLIENT_BLOCKED | CLIENT_AUTH_BLOCKED);
        km_blocked_free_privdata(bc);
        km_blocked_free(bc);
    }
    if (!(c->flags & CLIENT_BLOCKED)) {
        client_resume(c);
    }
}

const km_api_entry km_api_auth[] = {{"RegisterAuthCallback", api_register_auth_callback},
                                    {"BlockClientOnAuth", api_block_client_on_auth},
                                    {NULL, NULL}};
