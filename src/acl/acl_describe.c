/* acl_describe: the textual forms of users and selectors (ACL LIST,
 * GETUSER, the aclfile, CONFIG REWRITE).
 *
 * Rules are not stored: the command rules are recomputed from the bitmap
 * the way Redis 7.0 does it (the categories that best cover the bitmap,
 * then single commands), so equal permissions always print the same way
 * whatever rules built them. */
#include <string.h>

#include "acl/acl_int.h"
#include "base/alloc.h"
#include "server/server.h"

/* ---- descriptions ---- */

static void count_category(const acl_selector *s, uint32_t cat, long *on, long *off)
{
    *on = *off = 0;
    for (int i = 0; i < acl_nids; i++) {
        const command *cmd = cmd_by_id(i);
        if (cmd && !cmd->gone && (cmd->acl_cats & cat)) {
            if (acl_bit_get(s, i)) {
                (*on)++;
            } else {
                (*off)++;
            }
        }
    }
}

static str describe_singles(str out, const acl_selector *s, acl_selector *fake, command *cmds, int n, int stride)
{
    for (int i = 0; i < n; i++) {
        command *cmd = stride ? &cmds[i] : cmd_at(i);
        int ub = acl_bit_get(s, cmd->acl_id), fb = acl_bit_get(fake, cmd->acl_id);
        if (ub != fb) {
            out = str_printf(out, "%c%s ", ub ? '+' : '-', acl_cmd_fullname(cmd));
            acl_change_perm(fake, cmd, ub);
        }
        if (cmd->nsubs) {
            out = describe_singles(out, s, fake, cmd->subs, cmd->nsubs, 1);
        }
        if (!ub) {
            for (int j = 0; j < s->nfirstargs; j++) {
                if (s->firstargs[j].id == cmd->acl_id) {
                    out = str_printf(out, "+%s|%s ", acl_cmd_fullname(cmd), s->firstargs[j].arg);
                }
            }
        }
    }
    return out;
}

str acl_selector_describe_commands(str out, const acl_selector *s)
{
    int additive = !(s->flags & ACL_SEL_ALLCOMMANDS);
    acl_selector fake, temp;
    acl_selector_init(&fake, 0);
    acl_selector_init(&temp, 0);
    memcpy(temp.bits, s->bits, sizeof(uint64_t) * (size_t)acl_nwords);
    const char *why;
    acl_selector_apply(&fake, additive ? "-@all" : "+@all", 5, &why);
    size_t start = str_len(out);
    out = str_append_cstr(out, additive ? "-@all " : "+@all ");
    /* Greedy: the category that matches the most commands with the fewest
     * exceptions, until none covers more than it gets wrong. */
    char applied[32] = {0};
    for (;;) {
        int best = -1;
        long mindiff = 1L << 30, maxsame = 0;
        for (int j = 0; j < acl_category_count(); j++) {
            if (applied[j]) {
                continue;
            }
            long on, off;
            count_category(&temp, 1u << j, &on, &off);
            long diff = additive ? off : on, same = additive ? on : off;
            if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = j;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best < 0) {
            break;
        }
        acl_change_category(&fake, 1u << best, additive);
        acl_change_category(&temp, 1u << best, !additive);
        out = str_printf(out, "%c@%s ", additive ? '+' : '-', acl_category_name(best));
        applied[best] = 1;
    }
    out = describe_singles(out, s, &fake, NULL, cmd_count(), 0);
    if (str_len(out) > start) {
        str_set_len(out, str_len(out) - 1); /* the last space */
    }
    acl_selector_free(&fake);
    acl_selector_free(&temp);
    return out;
}

static str keypat_describe(str out, const acl_keypat *k)
{
    if (k->flags == (ACL_KEY_READ | ACL_KEY_WRITE)) {
        out = str_append(out, "~", 1);
    } else if (k->flags == ACL_KEY_READ) {
        out = str_append(out, "%R~", 3);
    } else if (k->flags == ACL_KEY_WRITE) {
        out = str_append(out, "%W~", 3);
    }
    return str_append(out, k->pat, str_len(k->pat));
}

str acl_selector_describe_keys(str out, const acl_selector *s)
{
    if (s->flags & ACL_SEL_ALLKEYS) {
        return str_append(out, "~*", 2);
    }
    for (int i = 0; i < s->nkeys; i++) {
        if (i) {
            out = str_append(out, " ", 1);
        }
        out = keypat_describe(out, &s->keys[i]);
    }
    return out;
}

str acl_selector_describe_channels(str out, const acl_selector *s)
{
    if (s->flags & ACL_SEL_ALLCHANNELS) {
        return str_append(out, "&*", 2);
    }
    for (int i = 0; i < s->nchannels; i++) {
        out = str_printf(out, "%s&", i ? " " : "");
        out = str_append(out, s->channels[i], str_len(s->channels[i]));
    }
    return out;
}

static str selector_describe(str out, const acl_selector *s)
{
    if (s->flags & ACL_SEL_ALLKEYS) {
        out = str_append(out, "~* ", 3);
    } else {
        for (int i = 0; i < s->nkeys; i++) {
            out = keypat_describe(out, &s->keys[i]);
            out = str_append(out, " ", 1);
        }
    }
    if (s->flags & ACL_SEL_ALLCHANNELS) {
        out = str_append(out, "&* ", 3);
    } else {
        out = str_append_cstr(out, "resetchannels ");
        for (int i = 0; i < s->nchannels; i++) {
            out = str_append(out, "&", 1);
            out = str_append(out, s->channels[i], str_len(s->channels[i]));
            out = str_append(out, " ", 1);
        }
    }
    return acl_selector_describe_commands(out, s);
}

str acl_user_describe(str out, const acl_user *u)
{
    out = str_append_cstr(out, "user ");
    out = str_append(out, u->name, str_len(u->name));
    out = str_append_cstr(out, (u->flags & ACL_USER_ON) ? " on " : " off ");
    if (u->flags & ACL_USER_NOPASS) {
        out = str_append_cstr(out, "nopass ");
    }
    if (u->flags & ACL_USER_SKIP_SANITIZE) {
        out = str_append_cstr(out, "skip-sanitize-payload ");
    }
    if (u->flags & ACL_USER_SANITIZE) {
        out = str_append_cstr(out, "sanitize-payload ");
    }
    for (int i = 0; i < u->npasswords; i++) {
        out = str_append(out, "#", 1);
        out = str_append(out, u->passwords[i], 64);
        out = str_append(out, " ", 1);
    }
    for (int i = 0; i < u->nsels; i++) {
        if (i) {
            out = str_append(out, " (", 2);
        }
        out = selector_describe(out, &u->sels[i]);
        if (i) {
            out = str_append(out, ")", 1);
        }
    }
    return out;
}

/* GETUSER's flags, in Redis's order. */
int acl_user_flag_names(const acl_user *u, const char **out)
{
    int n = 0;
    out[n++] = (u->flags & ACL_USER_ON) ? "on" : "off";
    if (u->flags & ACL_USER_NOPASS) {
        out[n++] = "nopass";
    }
    if (u->flags & ACL_USER_SKIP_SANITIZE) {
        out[n++] = "skip-sanitize-payload";
    }
    if (u->flags & ACL_USER_SANITIZE) {
        out[n++] = "sanitize-payload";
    }
    return n;
}
