/* module_acl: module users and the ACL calls of the module API, on top of
 * src/acl/ (its users, rules, checks and log; nothing here decides a
 * permission itself).
 *
 * A module user (CreateModuleUser) is an ACL user outside the registry:
 * ACL LIST and ACL USERS do not show it, and its name may be any, even a
 * registered user's. A module authenticates a client with it, or with a
 * registered user by name, and may leave a callback that is told once
 * when the client's user changes next: AUTH, HELLO's AUTH, RESET, the
 * client closing, the user freed or deleted, the module unloaded. The
 * handle GetModuleUserFromUserName gives for a registered user is only a
 * view: freeing it leaves the user alone. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "module/module_int.h"
#include "proto/resp_parse.h"

struct km_user {
    acl_user *u;
    int owned; /* CreateModuleUser's: freeing the handle frees the user */
};

/* What AuthenticateClientWithUser leaves on a client (c->module_auth). */
typedef struct auth_track {
    km_user_changed_fn fn;
    void *privdata;
    km_module *module;
} auth_track;

static sv sv_of(const km_string *s)
{
    return (sv){s->s, str_len(s->s)};
}

/* ---- the user-changed callback ---- */

void module_user_changed(client *c)
{
    auth_track *t = c->module_auth;
    if (!t) {
        return;
    }
    /* Once, then forgotten: a new authentication may leave a new one. */
    c->module_auth = NULL;
    t->fn(c->id, t->privdata);
    alloc_free(t);
}

/* The client loses its user and goes (after its reply when it is the one
 * being served), its callback told first. */
static void revoke(client *c)
{
    module_user_changed(c);
    client_set_default_user(c);
    c->authenticated = 0;
    client_close_soon(c);
}

void km_acl_forget(km_module *m)
{
    for (client *c = server.clients; c; c = c->next) {
        auth_track *t = c->module_auth;
        if (t && t->module == m) {
            revoke(c);
        }
    }
}

/* ---- users ---- */

static km_user *api_create_module_user(const char *name)
{
    km_user *mu = alloc_zero(sizeof(*mu));
    mu->u = acl_user_new_detached(name, strlen(name));
    mu->owned = 1;
    return mu;
}

/* Call in this context runs as mu (NULL: as before); the module keeps mu
 * alive while the context may use it. */
static void api_set_context_user(km_ctx *ctx, const km_user *mu)
{
    ctx->user = mu ? mu->u : NULL;
}

static int api_free_module_user(km_user *mu)
{
    if (!mu) {
        return KM_ERR;
    }
    if (mu->owned) {
        for (client *c = server.clients; c; c = c->next) {
            if (c->user == mu->u) {
                revoke(c);
            }
        }
        acl_user_free_detached(mu->u);
    }
    alloc_free(mu);
    return KM_OK;
}

/* One ACL SETUSER rule. */
static int api_set_module_user_acl(km_user *mu, const char *acl)
{
    const char *why;
    if (acl_user_apply(mu->u, acl, strlen(acl), &why) < 0) {
        errno = EINVAL;
        return KM_ERR;
    }
    return KM_OK;
}

/* Rules as ACL SETUSER takes them, split at spaces (Redis 7.2); a bad one
 * changes nothing and *error says why, as ACL SETUSER would. */
static int api_set_module_user_acl_string(km_ctx *ctx, km_user *mu, const char *acl, km_string **error)
{
    str words = NULL;
    size_t *off = NULL, *lens = NULL, cap = 0;
    long n = resp_split_args(acl, strlen(acl), &words, &off, &lens, &cap);
    char err[512];
    int rc = 0;
    if (n < 0) {
        snprintf(err, sizeof(err), "Syntax error");
        rc = -1;
    } else {
        sv *rules = alloc_mem(sizeof(sv) * (size_t)(n > 0 ? n : 1));
        for (long i = 0; i < n; i++) {
            rules[i] = (sv){words + off[i], lens[i]};
        }
        rc = acl_user_apply_all(mu->u, rules, (int)n, err, sizeof(err));
        alloc_free(rules);
    }
    str_free(words);
    alloc_free(off);
    alloc_free(lens);
    if (rc < 0) {
        if (error) {
            *error = km_string_new(ctx, err, strlen(err));
        }
        return KM_ERR;
    }
    return KM_OK;
}

/* The user's rules as ACL LIST writes them, without "user <name> "
 * (Redis 7.2). */
static km_string *api_get_module_user_acl_string(km_user *mu)
{
    str d = acl_user_describe(str_empty(128), mu->u);
    size_t skip = 5 + str_len(mu->u->name) + 1; /* "user " name " " */
    km_string *s =
        km_string_new(NULL, d + (str_len(d) > skip ? skip : str_len(d)), str_len(d) > skip ? str_len(d) - skip : 0);
    str_free(d);
    return s;
}

static km_string *api_get_current_user_name(km_ctx *ctx)
{
    if (!ctx || !ctx->c || !ctx->c->user) {
        return NULL;
    }
    return km_string_new(ctx, ctx->c->user->name, str_len(ctx->c->user->name));
}

/* A view of a registered user, NULL when there is none of that name. */
static km_user *api_get_module_user_from_user_name(km_string *name)
{
    sv n = sv_of(name);
    acl_user *u = acl_user_find(n.ptr, n.len);
    if (!u) {
        return NULL;
    }
    km_user *mu = alloc_zero(sizeof(*mu));
    mu->u = u;
    return mu;
}

/* ---- checks ---- */

/* Whether the user may run argv (command, keys and channels). errno
 * ENOENT for an unknown command or subcommand, EACCES for a denial. */
static int api_acl_check_command_permissions(km_user *mu, km_string **argv, int argc)
{
    if (argc < 1) {
        errno = ENOENT;
        return KM_ERR;
    }
    sv name = sv_of(argv[0]);
    command *cmd = cmd_lookup(name.ptr, name.len);
    if (cmd && cmd->nsubs > 0 && argc >= 2) {
        sv subname = sv_of(argv[1]);
        cmd = cmd_lookup_sub(cmd, subname.ptr, subname.len);
    }
    if (!cmd) {
        errno = ENOENT;
        return KM_ERR;
    }
    sv small[16];
    sv *args = argc <= 16 ? small : alloc_mem(sizeof(sv) * (size_t)argc);
    for (int i = 0; i < argc; i++) {
        args[i] = sv_of(argv[i]);
    }
    int pos = 0;
    int denial = acl_check(mu->u, cmd, args, argc, &pos);
    if (args != small) {
        alloc_free(args);
    }
    if (denial != ACL_OK) {
        errno = EACCES;
        return KM_ERR;
    }
    return KM_OK;
}

static int api_acl_check_key_permissions(km_user *mu, km_string *key, int flags)
{
    const int allowed = (int)(KM_CMD_KEY_ACCESS | KM_CMD_KEY_UPDATE | KM_CMD_KEY_INSERT | KM_CMD_KEY_DELETE);
    if ((flags & allowed) != flags) {
        errno = EINVAL;
        return KM_ERR;
    }
    /* The module's key spec bits are the server's (KS_*). */
    if (!acl_check_key(mu->u, sv_of(key), (uint32_t)flags)) {
        errno = EACCES;
        return KM_ERR;
    }
    return KM_OK;
}

static int api_acl_check_channel_permissions(km_user *mu, km_string *ch, int flags)
{
    const int allowed =
        (int)(KM_CMD_CHANNEL_PUBLISH | KM_CMD_CHANNEL_SUBSCRIBE | KM_CMD_CHANNEL_UNSUBSCRIBE | KM_CMD_CHANNEL_PATTERN);
    if ((flags & allowed) != flags) {
        errno = EINVAL;
        return KM_ERR;
    }
    /* Leaving a channel is always allowed. */
    if (flags & KM_CMD_CHANNEL_UNSUBSCRIBE) {
        return KM_OK;
    }
    /* A pattern must be allowed literally, as PSUBSCRIBE's. A denial
     * leaves errno alone, as Redis 7.0 does. */
    if (!acl_check_channel(mu->u, sv_of(ch), (flags & KM_CMD_CHANNEL_PATTERN) != 0)) {
        return KM_ERR;
    }
    return KM_OK;
}

/* ---- the ACL LOG ---- */

static int log_reason(int reason)
{
    switch (reason) {
    case KM_ACL_LOG_AUTH: return ACL_DENIED_AUTH;
    case KM_ACL_LOG_CMD: return ACL_DENIED_CMD;
    case KM_ACL_LOG_KEY: return ACL_DENIED_KEY;
    case KM_ACL_LOG_CHANNEL: return ACL_DENIED_CHANNEL;
    default: return -1;
    }
}

/* An entry of context "module" for the context's client. */
static int add_log_entry(km_ctx *ctx, sv username, km_string *object, int reason)
{
    int r = log_reason(reason);
    if (r < 0 || !ctx || !ctx->c) {
        return KM_ERR;
    }
    acl_log_add(ctx->c, r, ACL_CTX_MODULE, sv_of(object), username);
    return KM_OK;
}

static int api_acl_add_log_entry(km_ctx *ctx, km_user *mu, km_string *object, int reason)
{
    return add_log_entry(ctx, (sv){mu->u->name, str_len(mu->u->name)}, object, reason);
}

static int api_acl_add_log_entry_by_user_name(km_ctx *ctx, km_string *username, km_string *object, int reason)
{
    return add_log_entry(ctx, sv_of(username), object, reason);
}

/* ---- authentication ---- */

static int authenticate(km_ctx *ctx, acl_user *u, km_user_changed_fn fn, void *privdata, uint64_t *client_id)
{
    if (!(u->flags & ACL_USER_ON)) {
        return KM_ERR;
    }
    /* A context without a real client (a thread-safe one's) would lose it. */
    client *c = ctx ? ctx->c : NULL;
    if (!c || (c->flags & CLIENT_FAKE)) {
        return KM_ERR;
    }
    module_user_changed(c);
    c->user = u;
    c->authenticated = 1;
    km_auth_note_authenticated(c);
    if (fn) {
        auth_track *t = alloc_zero(sizeof(*t));
        *t = (auth_track){fn, privdata, ctx->module};
        c->module_auth = t;
        static int hooked;
        if (!hooked) {
            /* Freed or RESET: its user changes. */
            client_register_cleanup(module_user_changed);
            hooked = 1;
        }
    }
    if (client_id) {
        *client_id = c->id;
    }
    return KM_OK;
}

static int api_authenticate_client_with_user(km_ctx *ctx, km_user *mu, km_user_changed_fn fn, void *privdata,
                                             uint64_t *client_id)
{
    return authenticate(ctx, mu->u, fn, privdata, client_id);
}

static int api_authenticate_client_with_acl_user(km_ctx *ctx, const char *name, size_t len, km_user_changed_fn fn,
                                                 void *privdata, uint64_t *client_id)
{
    acl_user *u = acl_user_find(name, len);
    if (!u) {
        return KM_ERR;
    }
    return authenticate(ctx, u, fn, privdata, client_id);
}

static int api_deauthenticate_and_close_client(km_ctx *ctx, uint64_t client_id)
{
    (void)ctx;
    client *c = client_by_id(client_id);
    if (!c) {
        return KM_ERR;
    }
    revoke(c);
    return KM_OK;
}

static int api_redact_client_command_argument(km_ctx *ctx, int pos)
{
    if (!ctx || !ctx->c || pos <= 0 || pos >= ctx->c->argc) {
        return KM_ERR;
    }
    client_redact_arg(ctx->c, pos);
    return KM_OK;
}

/* errno ENOENT for no such client, ENOTSUP for one without a user (the
 * server's own). */
static km_string *api_get_client_user_name_by_id(km_ctx *ctx, uint64_t id)
{
    client *c = client_by_id(id);
    if (!c) {
        errno = ENOENT;
        return NULL;
    }
    if (!c->user) {
        errno = ENOTSUP;
        return NULL;
    }
    return km_string_new(ctx, c->user->name, str_len(c->user->name));
}

const km_api_entry km_api_acl[] = {{"CreateModuleUser", api_create_module_user},
                                   {"SetContextUser", api_set_context_user},
                                   {"FreeModuleUser", api_free_module_user},
                                   {"SetModuleUserACL", api_set_module_user_acl},
                                   {"SetModuleUserACLString", api_set_module_user_acl_string},
                                   {"GetModuleUserACLString", api_get_module_user_acl_string},
                                   {"GetCurrentUserName", api_get_current_user_name},
                                   {"GetModuleUserFromUserName", api_get_module_user_from_user_name},
                                   {"ACLCheckCommandPermissions", api_acl_check_command_permissions},
                                   {"ACLCheckKeyPermissions", api_acl_check_key_permissions},
                                   {"ACLCheckChannelPermissions", api_acl_check_channel_permissions},
                                   {"ACLAddLogEntry", api_acl_add_log_entry},
                                   {"ACLAddLogEntryByUserName", api_acl_add_log_entry_by_user_name},
                                   {"AuthenticateClientWithUser", api_authenticate_client_with_user},
                                   {"AuthenticateClientWithACLUser", api_authenticate_client_with_acl_user},
                                   {"DeauthenticateAndCloseClient", api_deauthenticate_and_close_client},
                                   {"RedactClientCommandArgument", api_redact_client_command_argument},
                                   {"GetClientUserNameById", api_get_client_user_name_by_id},
                                   {NULL, NULL}};
