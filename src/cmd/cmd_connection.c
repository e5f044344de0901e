/* Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT, CLIENT. */
#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/util.h"
#include "module/module.h"
#include "server/server.h"

void cmd_ping(client *c)
{
    if (c->argc > 2) {
        reply_arity_error(c);
        return;
    }
    /* In RESP2 subscribed mode PING answers in the pub/sub message shape. */
    if ((c->flags & CLIENT_PUBSUB) && c->resp == 2) {
        reply_array(R(c), 2);
        reply_bulk(R(c), "pong", 4);
        if (c->argc == 2) {
            reply_bulk(R(c), c->argv[1].ptr, c->argv[1].len);
        } else {
            reply_bulk(R(c), "", 0);
        }
        return;
    }
    if (c->argc == 2) {
        reply_bulk(R(c), c->argv[1].ptr, c->argv[1].len);
    } else {
        reply_status(R(c), "PONG");
    }
}

void cmd_echo(client *c)
{
    reply_bulk(R(c), c->argv[1].ptr, c->argv[1].len);
}

void cmd_quit(client *c)
{
    reply_ok(R(c));
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* Authenticates c as user when pass is right (and the user is on);
 * a failure is logged in the ACL LOG, as in Redis. */
static int authenticate(client *c, sv user, sv pass)
{
    acl_user *u = acl_check_credentials(user, pass);
    if (!u) {
        /* the object is the command as sent (AUTH, auth, HELLO), as in Redis */
        acl_log_add(c, ACL_DENIED_AUTH, (c->flags & CLIENT_MULTI) ? ACL_CTX_MULTI : ACL_CTX_TOPLEVEL, c->argv[0], user);
        return 0;
    }
    module_user_changed(c);
    c->user = u;
    c->authenticated = 1;
    return 1;
}

/* AUTH's and HELLO's: the modules' auth callbacks first (Redis 7.2),
 * then the user's passwords. 1: authenticated; 0: refused, the error
 * replied; -1: a module blocked the client, and the command runs again
 * when the module answers. */
static int auth_user(client *c, sv user, sv pass)
{
    switch (module_auth(c, user, pass)) {
    case MODULE_AUTH_OK: return 1;
    case MODULE_AUTH_FAILED: return 0;
    case MODULE_AUTH_BLOCKED: return -1;
    default: break;
    }
    if (!authenticate(c, user, pass)) {
        reply_err(c, AUTH_WRONGPASS);
        return 0;
    }
    return 1;
}

void cmd_reset(client *c)
{
    client_run_cleanups(c);
    c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_CAS | CLIENT_DIRTY_EXEC | CLIENT_PUBSUB | CLIENT_TRACKING |
                  CLIENT_NO_EVICT | CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT | CLIENT_SILENCED);
    client_select_db(c, 0);
    c->resp = 2;
    c->out.resp = 2;
    str_free(c->name);
    c->name = NULL;
    client_set_default_user(c);
    reply_status(R(c), "RESET");
}

void cmd_auth(client *c)
{
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    sv user = c->argc == 3 ? c->argv[1] : SV("default");
    sv pass = c->argv[c->argc - 1];
    if (c->argc == 2 && (acl_default_user->flags & ACL_USER_NOPASS)) {
        reply_err(c, "ERR AUTH <password> called without any password configured for the default user. Are you "
                     "sure your configuration is correct?");
        return;
    }
    if (auth_user(c, user, pass) == 1) {
        reply_ok(R(c));
    }
}

static int valid_name(sv name)
{
    for (size_t i = 0; i < name.len; i++) {
        if (name.ptr[i] < '!' || name.ptr[i] > '~') {
            return 0;
        }
    }
    return 1;
}

static void set_name(client *c, sv name)
{
    str_free(c->name);
    c->name = name.len ? str_new(name.ptr, name.len) : NULL;
}

int client_name_set(client *c, sv name)
{
    if (!valid_name(name)) {
        return -1;
    }
    set_name(c, name);
    return 0;
}

void cmd_hello(client *c)
{
    long long ver = 0;
    int i = 1;
    if (c->argc >= 2) {
        if (!util_parse_ll(c->argv[1].ptr, c->argv[1].len, &ver)) {
            reply_err(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_err(c, "NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
    }
    sv setname = {NULL, 0}, user = {NULL, 0}, pass = {NULL, 0};
    int has_name = 0, has_auth = 0;
    /* All options are read first, then the client authenticates (the last
     * AUTH given), as in Redis: a module's auth callback may block it, and
     * the command then runs again from the start when it answers. */
    for (; i < c->argc; i++) {
        if (arg_is(c, i, "AUTH") && i + 2 < c->argc) {
            user = c->argv[i + 1];
            pass = c->argv[i + 2];
            has_auth = 1;
            i += 2;
        } else if (arg_is(c, i, "SETNAME") && i + 1 < c->argc) {
            setname = c->argv[++i];
            has_name = 1;
            if (!valid_name(setname)) {
                reply_err(c, "ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }
        } else {
            reply_errf(c, "ERR Syntax error in HELLO option '%.*s'", (int)c->argv[i].len, c->argv[i].ptr);
            return;
        }
    }
    if (has_auth && auth_user(c, user, pass) != 1) {
        return;
    }
    if (!c->authenticated) {
        reply_err(c, "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
                     "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
                     "RESP protocol version at the same time");
        return;
    }
    if (has_name) {
        set_name(c, setname);
    }
    if (ver) {
        c->resp = (int)ver;
        c->out.resp = (int)ver;
    }
    reply_map(R(c), 7);
    reply_bulk_cstr(R(c), "server");
    reply_bulk_cstr(R(c), "redis");
    reply_bulk_cstr(R(c), "version");
    reply_bulk_cstr(R(c), KEEL_REDIS_COMPAT_VERSION);
    reply_bulk_cstr(R(c), "proto");
    reply_int(R(c), c->resp);
    reply_bulk_cstr(R(c), "id");
    reply_int(R(c), (long long)c->id);
    reply_bulk_cstr(R(c), "mode");
    reply_bulk_cstr(R(c), "standalone");
    reply_bulk_cstr(R(c), "role");
    reply_bulk_cstr(R(c), (c->flags & CLIENT_REPLICA) ? "replica" : "master");
    reply_bulk_cstr(R(c), "modules");
    module_list_reply(c);
}

void cmd_select(client *c)
{
    long long id;
    if (!arg_int(c, 1, &id, NULL)) {
        return;
    }
    if (id < 0 || id >= server.cfg.databases) {
        reply_err(c, "ERR DB index is out of range");
        return;
    }
    client_select_db(c, (int)id);
    reply_ok(R(c));
}

/* ---- CLIENT ---- */

static int client_type_matches(client *t, sv type)
{
    int cls = client_obuf_class(t);
    if (sv_eq_ci(type, "normal")) {
        return cls == OBUF_NORMAL && !(t->flags & CLIENT_MASTER);
    }
    if (sv_eq_ci(type, "replica") || sv_eq_ci(type, "slave")) {
        return cls == OBUF_REPLICA;
    }
    if (sv_eq_ci(type, "pubsub")) {
        return cls == OBUF_PUBSUB;
    }
    if (sv_eq_ci(type, "master")) {
        return (t->flags & CLIENT_MASTER) != 0;
    }
    return -1;
}

static void client_list(client *c)
{
    sv type = {NULL, 0};
    int ids_from = 0;
    if (c->argc == 4 && arg_is(c, 2, "TYPE")) {
        type = c->argv[3];
        if (client_type_matches(c, type) < 0) {
            reply_errf(c, "ERR Unknown client type '%.*s'", (int)type.len, type.ptr);
            return;
        }
    } else if (c->argc >= 4 && arg_is(c, 2, "ID")) {
        ids_from = 3;
        for (int i = 3; i < c->argc; i++) {
            long long id;
            if (!util_parse_ll(c->argv[i].ptr, c->argv[i].len, &id)) {
                reply_err(c, "ERR Invalid client ID");
                return;
            }
        }
    } else if (c->argc != 2) {
        reply_syntax_error(c);
        return;
    }
    str out = str_empty(1024);
    if (ids_from) {
        /* In the order asked, a repeated ID repeated, as Redis does. */
        for (int i = ids_from; i < c->argc; i++) {
            long long id;
            util_parse_ll(c->argv[i].ptr, c->argv[i].len, &id);
            for (client *t = server.clients; t; t = t->next) {
                if ((uint64_t)id == t->id && !(t->flags & CLIENT_GONE)) {
                    client_info_line(t, &out);
                    out = str_append(out, "\n", 1);
                    break;
                }
            }
        }
    } else {
        /* Oldest first, as Redis lists them: new clients join the head. */
        client *last = server.clients;
        while (last && last->next) {
            last = last->next;
        }
        for (client *t = last; t; t = t->prev) {
            if ((t->flags & CLIENT_GONE) || (type.ptr && client_type_matches(t, type) != 1)) {
                continue;
            }
            client_info_line(t, &out);
            out = str_append(out, "\n", 1);
        }
    }
    reply_verbatim(R(c), out, str_len(out), "txt");
    str_free(out);
}

static void client_kill(client *c)
{
    if (c->argc == 3) {
        /* Old form: CLIENT KILL addr:port */
        for (client *t = server.clients; t; t = t->next) {
            if (!(t->flags & CLIENT_GONE) && sv_eq(c->argv[2], (sv){t->addr, strlen(t->addr)})) {
                if (t == c) {
                    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
                } else {
                    client_kill_now(t);
                }
                reply_ok(R(c));
                return;
            }
        }
        reply_err(c, "ERR No such client");
        return;
    }
    long long id = 0, maxage = 0;
    sv addr = {0}, laddr = {0}, type = {0};
    acl_user *user = NULL;
    int skipme = 1;
    /* Filters are read in order, as Redis does: a bad value is reported
     * before a later missing value or unknown word. */
    for (int i = 2; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            reply_syntax_error(c);
            return;
        }
        sv v = c->argv[i + 1];
        if (arg_is(c, i, "ID")) {
            if (!util_parse_ll(v.ptr, v.len, &id) || id <= 0) {
                reply_err(c, "ERR client-id should be greater than 0");
                return;
            }
        } else if (arg_is(c, i, "ADDR")) {
            addr = v;
        } else if (arg_is(c, i, "LADDR")) {
            laddr = v;
        } else if (arg_is(c, i, "TYPE")) {
            type = v;
            if (client_type_matches(c, type) < 0) {
                reply_errf(c, "ERR Unknown client type '%.*s'", (int)v.len, v.ptr);
                return;
            }
        } else if (arg_is(c, i, "USER")) {
            user = acl_user_find(v.ptr, v.len);
            if (!user) {
                reply_errf(c, "ERR No such user '%.*s'", (int)v.len, v.ptr);
                return;
            }
        } else if (arg_is(c, i, "SKIPME")) {
            if (sv_eq_ci(v, "yes")) {
                skipme = 1;
            } else if (sv_eq_ci(v, "no")) {
                skipme = 0;
            } else {
                reply_syntax_error(c);
                return;
            }
        } else if (arg_is(c, i, "MAXAGE")) {
            if (!util_parse_ll(v.ptr, v.len, &maxage)) {
                reply_syntax_error(c);
                return;
            }
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    long long killed = 0;
    for (client *t = server.clients; t; t = t->next) {
        if ((t->flags & CLIENT_GONE) || (id && t->id != (uint64_t)id)) {
            continue;
        }
        if (addr.ptr && !sv_eq(addr, (sv){t->addr, strlen(t->addr)})) {
            continue;
        }
        if (laddr.ptr && !sv_eq(laddr, (sv){t->laddr, strlen(t->laddr)})) {
            continue;
        }
        if (type.ptr && client_type_matches(t, type) != 1) {
            continue;
        }
        if (user && t->user != user) {
            continue;
        }
        if (maxage && (server_ms() - t->ctime) / 1000 < maxage) {
            continue;
        }
        if (t == c && skipme) {
            continue;
        }
        if (t == c) {
            c->flags |= CLIENT_CLOSE_AFTER_REPLY;
        } else {
            client_kill_now(t);
        }
        killed++;
    }
    reply_int(R(c), killed);
}

/* Subcommands other modules add (TRACKING, UNBLOCK, ...): each returns 1
 * if it recognised the subcommand. */
#define MAX_CLIENT_EXT 8
static int (*client_ext[MAX_CLIENT_EXT])(client *c);
static int nclient_ext;

void cmd_client_register(int (*fn)(client *c))
{
    if (nclient_ext < MAX_CLIENT_EXT) {
        client_ext[nclient_ext++] = fn;
    }
}

static const char *const client_help[] = {
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE.",
    "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
    "    Return information about client connections.",
    "GETNAME",
    "    Return the name of the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set client meta attribute.",
    "NO-EVICT (ON|OFF)",
    "    Protect the current client connection from eviction.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "CACHING (YES|NO)",
    "    Whether the next command's keys are tracked (OPTIN / OPTOUT tracking).",
    "GETREDIR",
    "    Return the ID of the client tracking invalidations are redirected to, 0 or -1.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]] [OPTIN] [OPTOUT] [NOLOOP]",
    "    Turn client-side caching invalidation messages on or off.",
    "TRACKINGINFO",
    "    Return the tracking state of the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock a client blocked in a blocking command, with a timeout reply or an error.",
    "HELP",
    "    Prints this help.",
    NULL};

/* Subcommand names and arities are checked by dispatch (the SUB lines of
 * table_connection.def); feature modules add theirs through
 * cmd_client_register. */
void cmd_client(client *c)
{
    if (arg_is(c, 1, "ID")) {
        reply_int(R(c), (long long)c->id);
    } else if (arg_is(c, 1, "HELP")) {
        reply_help(c, client_help);
    } else if (arg_is(c, 1, "SETNAME")) {
        if (!valid_name(c->argv[2])) {
            reply_err(c, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_name(c, c->argv[2]);
        reply_ok(R(c));
    } else if (arg_is(c, 1, "GETNAME")) {
        if (c->name) {
            reply_bulk(R(c), c->name, str_len(c->name));
        } else {
            reply_null(R(c));
        }
    } else if (arg_is(c, 1, "LIST")) {
        client_list(c);
    } else if (arg_is(c, 1, "INFO")) {
        str out = str_empty(256);
        client_info_line(c, &out);
        out = str_append(out, "\n", 1);
        reply_verbatim(R(c), out, str_len(out), "txt");
        str_free(out);
    } else if (arg_is(c, 1, "KILL")) {
        client_kill(c);
    } else if (arg_is(c, 1, "SETINFO")) {
        sv v = c->argv[3];
        int is_name = arg_is(c, 2, "LIB-NAME");
        if (!is_name && !arg_is(c, 2, "LIB-VER")) {
            reply_errf(c, "ERR Unrecognized option '%.*s'", (int)c->argv[2].len, c->argv[2].ptr);
            return;
        }
        if (!valid_name(v)) {
            reply_errf(c, "ERR %s cannot contain spaces, newlines or special characters.",
                       is_name ? "lib-name" : "lib-ver");
            return;
        }
        str *dst = is_name ? &c->lib_name : &c->lib_ver;
        str_free(*dst);
        *dst = v.len ? str_new(v.ptr, v.len) : NULL;
        reply_ok(R(c));
    } else if (arg_is(c, 1, "REPLY")) {
        /* The flags take effect in the read loop (client.c), which drops
         * replies after the command ran; OFF and SKIP have none. */
        if (arg_is(c, 2, "ON")) {
            /* also ends a SKIP this command was to be skipped by */
            c->flags &= ~(CLIENT_REPLY_OFF | CLIENT_REPLY_SKIP | CLIENT_REPLY_SKIP_NEXT | CLIENT_SILENCED);
            reply_ok(R(c));
        } else if (arg_is(c, 2, "OFF")) {
            c->flags |= CLIENT_REPLY_OFF;
        } else if (arg_is(c, 2, "SKIP")) {
            if (!(c->flags & CLIENT_REPLY_OFF)) {
                c->flags |= CLIENT_REPLY_SKIP_NEXT;
            }
        } else {
            reply_syntax_error(c);
        }
    } else if (arg_is(c, 1, "NO-EVICT") || arg_is(c, 1, "NO-TOUCH")) {
        uint32_t flag = arg_is(c, 1, "NO-EVICT") ? CLIENT_NO_EVICT : 0;
        if (arg_is(c, 2, "ON")) {
            c->flags |= flag;
        } else if (arg_is(c, 2, "OFF")) {
            c->flags &= ~flag;
        } else {
            reply_syntax_error(c);
            return;
        }
        reply_ok(R(c));
    } else {
        for (int i = 0; i < nclient_ext; i++) {
            if (client_ext[i](c)) {
                return;
            }
        }
        reply_subcommand_unknown(c);
    }
}
