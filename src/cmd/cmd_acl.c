/* The ACL command: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT,
 * GENPASS, LOG, DRYRUN, LOAD, SAVE, HELP; replies shaped as Redis 7.0's. */
#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/util.h"
#include "server/server.h"

static const char *const acl_help[] = {
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    The command categories, or the commands in <category>.",
    "DELUSER <username> [<username> ...]",
    "    Remove users and close their connections.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Tell whether the user could run the command, without running it.",
    "GETUSER <username>",
    "    The user's flags, passwords (hashed), and command, key and channel rules.",
    "GENPASS [<bits>]",
    "    A random password from the system's secure source, 256 bits as hex",
    "    unless <bits> asks for another length.",
    "LIST",
    "    Every user as the line an ACL file would hold for it.",
    "LOAD",
    "    Replace the users with those of the ACL file (all or nothing).",
    "LOG [<count> | RESET]",
    "    The newest refusals (denied commands, keys, channels, logins), or clear them.",
    "SAVE",
    "    Write the users to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create the user if needed and apply the rules in order.",
    "USERS",
    "    The names of all users.",
    "WHOAMI",
    "    The user this connection is authenticated as.",
    "HELP",
    "    Prints this help.",
    NULL};

#define NO_ACLFILE_ERROR                                                                                               \
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL "         \
    "SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to "  \
    "store users in the Redis configuration."

static void reply_str(client *c, str s)
{
    reply_bulk(R(c), s, str_len(s));
}

static void acl_setuser(client *c)
{
    sv name = c->argv[2];
    for (size_t i = 0; i < name.len; i++) {
        if (name.ptr[i] == ' ' || name.ptr[i] == '\0') {
            reply_err(c, "ERR Usernames can't contain spaces or null characters");
            return;
        }
    }
    acl_user *u = acl_user_find(name.ptr, name.len);
    acl_user *fresh = NULL;
    if (!u) {
        fresh = acl_user_new_detached(name.ptr, name.len);
    }
    char err[512];
    if (acl_user_apply_all(u ? u : fresh, c->argv + 3, c->argc - 3, err, sizeof(err)) < 0) {
        acl_user_free_detached(fresh);
        reply_errf(c, "ERR %s", err);
        return;
    }
    if (fresh) {
        acl_user_adopt(fresh); /* built aside, added once every rule was valid */
    } else {
        acl_kill_revoked_subscribers(u);
    }
    reply_ok(R(c));
}

static void reply_selector(client *c, const acl_selector *s)
{
    str tmp = acl_selector_describe_commands(str_empty(64), s);
    reply_bulk_cstr(R(c), "commands");
    reply_str(c, tmp);
    str_clear(tmp);
    tmp = acl_selector_describe_keys(tmp, s);
    reply_bulk_cstr(R(c), "keys");
    reply_str(c, tmp);
    str_clear(tmp);
    tmp = acl_selector_describe_channels(tmp, s);
    reply_bulk_cstr(R(c), "channels");
    reply_str(c, tmp);
    str_free(tmp);
}

static void acl_getuser(client *c)
{
    acl_user *u = acl_user_find(c->argv[2].ptr, c->argv[2].len);
    if (!u) {
        reply_null(R(c));
        return;
    }
    reply_map(R(c), 6);
    const char *flags[8];
    int nf = acl_user_flag_names(u, flags);
    reply_bulk_cstr(R(c), "flags");
    reply_set(R(c), nf); /* a set in RESP3, as Redis */
    for (int i = 0; i < nf; i++) {
        reply_bulk_cstr(R(c), flags[i]);
    }
    reply_bulk_cstr(R(c), "passwords");
    reply_array(R(c), u->npasswords);
    for (int i = 0; i < u->npasswords; i++) {
        reply_bulk(R(c), u->passwords[i], 64);
    }
    reply_selector(c, &u->sels[0]);
    reply_bulk_cstr(R(c), "selectors");
    reply_array(R(c), u->nsels - 1);
    for (int i = 1; i < u->nsels; i++) {
        reply_map(R(c), 3);
        reply_selector(c, &u->sels[i]);
    }
}

static void acl_deluser(client *c)
{
    long long n = 0;
    for (int i = 2; i < c->argc; i++) {
        if (sv_eq(c->argv[i], SV("default"))) {
            reply_err(c, "ERR The 'default' user cannot be removed");
            return;
        }
    }
    for (int i = 2; i < c->argc; i++) {
        acl_user *u = acl_user_find(c->argv[i].ptr, c->argv[i].len);
        if (u) {
            acl_user_delete(u);
            n++;
        }
    }
    reply_int(R(c), n);
}

/* Redis's own text for ACL CAT, LOG and GENPASS given too many arguments
 * (the subcommand as the client sent it). */
static void reply_acl_sub_arity(client *c)
{
    reply_subcommand_syntax_error(c);
}

static void acl_cat(client *c)
{
    if (c->argc == 2) {
        reply_array(R(c), acl_category_count());
        for (int i = 0; i < acl_category_count(); i++) {
            reply_bulk_cstr(R(c), acl_category_name(i));
        }
        return;
    }
    if (c->argc > 3) {
        reply_acl_sub_arity(c);
        return;
    }
    uint32_t cat = acl_category_flag(c->argv[2].ptr, c->argv[2].len);
    if (!cat) {
        reply_errf(c, "ERR Unknown category '%.*s'", (int)c->argv[2].len, c->argv[2].ptr);
        return;
    }
    size_t h = reply_defer(R(c));
    long long n = 0;
    for (int id = 0; id < cmd_total(); id++) {
        command *cmd = cmd_by_id(id);
        if (cmd && !cmd->gone && (cmd->acl_cats & cat)) {
            reply_bulk_cstr(R(c), cmd->name);
            n++;
        }
    }
    reply_defer_array(R(c), h, n);
}

static void acl_genpass(client *c)
{
    long long bits = 256;
    if (c->argc > 3) {
        reply_acl_sub_arity(c);
        return;
    }
    if (c->argc == 3 && !arg_ll(c, 2, &bits)) {
        return;
    }
    if (bits <= 0 || bits > 4096) {
        reply_err(c, "ERR ACL GENPASS argument must be the number of bits for the output password, a positive "
                     "number up to 4096");
        return;
    }
    size_t chars = (size_t)((bits + 3) / 4);
    unsigned char raw[512];
    util_os_random(raw, (chars + 1) / 2);
    char out[1025];
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < chars; i++) {
        unsigned char b = raw[i / 2];
        out[i] = hex[(i & 1) ? (b & 15) : (b >> 4)];
    }
    reply_bulk(R(c), out, chars);
}

static void acl_log(client *c)
{
    long long count = 10;
    if (c->argc > 3) {
        reply_acl_sub_arity(c);
        return;
    }
    if (c->argc == 3) {
        if (arg_is(c, 2, "RESET")) {
            acl_log_reset();
            reply_ok(R(c));
            return;
        }
        if (!arg_ll(c, 2, &count)) {
            return;
        }
        if (count < 0) {
            count = 0;
        }
    }
    acl_log_reply(c, count);
}

static void acl_dryrun(client *c)
{
    acl_user *u = acl_user_find(c->argv[2].ptr, c->argv[2].len);
    if (!u) {
        reply_errf(c, "ERR User '%.*s' not found", (int)c->argv[2].len, c->argv[2].ptr);
        return;
    }
    const sv *argv = c->argv + 3;
    int argc = c->argc - 3;
    command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
    if (cmd && cmd->nsubs && argc >= 2) {
        cmd = cmd_lookup_sub(cmd, argv[1].ptr, argv[1].len);
    }
    if (!cmd) {
        reply_errf(c, "ERR Command '%.*s' not found", (int)argv[0].len, argv[0].ptr);
        return;
    }
    if (cmd->arity > 0 ? argc != cmd->arity : argc < -cmd->arity) {
        reply_errf(c, "ERR wrong number of arguments for '%s' command", cmd->name);
        return;
    }
    int pos = 0;
    int r = acl_check(u, cmd, argv, argc, &pos);
    if (r == ACL_OK) {
        reply_ok(R(c));
        return;
    }
    str msg = str_empty(64);
    if (r == ACL_DENIED_CMD) {
        msg = str_printf(msg, "This user has no permissions to run the '%s' command", acl_cmd_fullname(cmd));
    } else {
        msg = str_printf(msg, "This user has no permissions to access the '%.*s' %s", (int)argv[pos].len, argv[pos].ptr,
                         r == ACL_DENIED_KEY ? "key" : "channel");
    }
    reply_str(c, msg);
    str_free(msg);
}

void cmd_acl(client *c)
{
    if (arg_is(c, 1, "SETUSER")) {
        acl_setuser(c);
    } else if (arg_is(c, 1, "GETUSER")) {
        acl_getuser(c);
    } else if (arg_is(c, 1, "DELUSER")) {
        acl_deluser(c);
    } else if (arg_is(c, 1, "LIST") || arg_is(c, 1, "USERS")) {
        int list = arg_is(c, 1, "LIST");
        reply_array(R(c), acl_user_count());
        for (int i = 0; i < acl_user_count(); i++) {
            acl_user *u = acl_user_at(i);
            if (list) {
                str line = acl_user_describe(str_empty(64), u);
                reply_str(c, line);
                str_free(line);
            } else {
                reply_str(c, u->name);
            }
        }
    } else if (arg_is(c, 1, "WHOAMI")) {
        if (c->user) {
            reply_str(c, c->user->name);
        } else {
            reply_null(R(c));
        }
    } else if (arg_is(c, 1, "CAT")) {
        acl_cat(c);
    } else if (arg_is(c, 1, "GENPASS")) {
        acl_genpass(c);
    } else if (arg_is(c, 1, "LOG")) {
        acl_log(c);
    } else if (arg_is(c, 1, "DRYRUN")) {
        acl_dryrun(c);
    } else if (arg_is(c, 1, "LOAD") || arg_is(c, 1, "SAVE")) {
        const char *path = server.cfg.aclfile;
        if (!path || !path[0]) {
            reply_err(c, NO_ACLFILE_ERROR);
            return;
        }
        char err[4096];
        int rc = arg_is(c, 1, "LOAD") ? acl_load_file(path, err, sizeof(err)) : acl_save_file(path, err, sizeof(err));
        if (rc < 0) {
            reply_errf(c, "ERR %s", err);
        } else {
            reply_ok(R(c));
        }
    } else if (arg_is(c, 1, "HELP")) {
        reply_help(c, acl_help);
    } else {
        reply_subcommand_unknown(c);
    }
}
