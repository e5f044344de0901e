/* Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and
 * PUBSUB introspection. The registries and delivery live in src/pubsub/;
 * these handlers parse arguments and write the confirmations, which are
 * pushes in RESP3 and plain arrays in RESP2 exactly as Redis sends them. */
#include "base/util.h"
#include "pubsub/pubsub.h"
#include "server/server.h"

static const char *const sub_word[PUBSUB_KINDS] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsub_word[PUBSUB_KINDS] = {"unsubscribe", "punsubscribe", "sunsubscribe"};

/* [word, name-or-nil, count] */
static void reply_confirm(client *c, const char *word, sv name, int count)
{
    client_push_begin(c);
    reply_push(R(c), 3);
    reply_bulk_cstr(R(c), word);
    if (name.ptr) {
        reply_bulk(R(c), name.ptr, name.len);
    } else {
        reply_null(R(c));
    }
    reply_int(R(c), count);
    client_push_end(c);
}

static void confirm_unsub(client *c, int kind, sv name)
{
    reply_confirm(c, unsub_word[kind], name, pubsub_confirm_count(c, kind));
}

static void subscribe_cmd(client *c, int kind)
{
    /* A module's Call runs on a client that expects one reply per command
     * (MULTI is let through, as Redis does for old clients' sake). */
    if ((c->flags & CLIENT_FAKE) && !(c->flags & CLIENT_MULTI)) {
        static const char *const names[] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"};
        reply_errf(c, "ERR %s isn't allowed for a DENY BLOCKING client", names[kind]);
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        pubsub_subscribe(c, kind, c->argv[i]);
        reply_confirm(c, sub_word[kind], c->argv[i], pubsub_confirm_count(c, kind));
    }
    pubsub_settle(c);
}

/* Without arguments every subscription of the kind goes, one confirmation
 * each; with none held, a single confirmation with a nil name. */
static void unsubscribe_cmd(client *c, int kind)
{
    if (c->argc == 1) {
        if (pubsub_unsubscribe_all(c, kind, confirm_unsub) == 0) {
            confirm_unsub(c, kind, (sv){NULL, 0});
        }
    } else {
        for (int i = 1; i < c->argc; i++) {
            pubsub_unsubscribe(c, kind, c->argv[i]);
            confirm_unsub(c, kind, c->argv[i]);
        }
    }
    pubsub_settle(c);
}

void cmd_subscribe(client *c)
{
    subscribe_cmd(c, PUBSUB_CHANNEL);
}

void cmd_unsubscribe(client *c)
{
    unsubscribe_cmd(c, PUBSUB_CHANNEL);
}

void cmd_psubscribe(client *c)
{
    subscribe_cmd(c, PUBSUB_PATTERN);
}

void cmd_punsubscribe(client *c)
{
    unsubscribe_cmd(c, PUBSUB_PATTERN);
}

void cmd_ssubscribe(client *c)
{
    subscribe_cmd(c, PUBSUB_SHARD);
}

void cmd_sunsubscribe(client *c)
{
    unsubscribe_cmd(c, PUBSUB_SHARD);
}

void cmd_publish(client *c)
{
    reply_int(R(c), pubsub_publish(c->argv[1], c->argv[2], 0));
    propagate_to_replicas(c);
}

/* Single node: every shard channel is local. */
void cmd_spublish(client *c)
{
    reply_int(R(c), pubsub_publish(c->argv[1], c->argv[2], 1));
    propagate_to_replicas(c);
}

/* ---- PUBSUB ---- */

struct list_ctx {
    client *c;
    sv pattern;
    long long n;
};

static void list_one(sv name, void *p)
{
    struct list_ctx *ctx = p;
    if (ctx->pattern.ptr && !util_glob_match(ctx->pattern.ptr, ctx->pattern.len, name.ptr, name.len, 0)) {
        return;
    }
    reply_bulk(R(ctx->c), name.ptr, name.len);
    ctx->n++;
}

/* PUBSUB CHANNELS / SHARDCHANNELS [pattern] */
static void list_channels(client *c, int kind)
{
    struct list_ctx ctx = {c, c->argc == 3 ? c->argv[2] : (sv){NULL, 0}, 0};
    size_t h = reply_defer(R(c));
    pubsub_each(kind, list_one, &ctx);
    reply_defer_array(R(c), h, ctx.n);
}

/* PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: a flat name, count list. */
static void num_subs(client *c, int kind)
{
    reply_array(R(c), (long long)(c->argc - 2) * 2);
    for (int i = 2; i < c->argc; i++) {
        reply_bulk(R(c), c->argv[i].ptr, c->argv[i].len);
        reply_int(R(c), pubsub_numsub(kind, c->argv[i]));
    }
}

static void pubsub_help(client *c)
{
    static const char *const lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    The channels with at least one subscriber (those matching <pattern>).",
        "NUMPAT",
        "    How many pattern subscriptions there are, over all clients.",
        "NUMSUB [<channel> ...]",
        "    Each channel with its number of subscribers (pattern subscribers not counted).",
        "SHARDCHANNELS [<pattern>]",
        "    The shard channels with at least one subscriber (those matching <pattern>).",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Each shard channel with its number of subscribers.",
        "HELP",
        "    Print this help.",
        NULL,
    };
    reply_help(c, lines);
}

void cmd_pubsub(client *c)
{
    if (arg_is(c, 1, "CHANNELS") || arg_is(c, 1, "SHARDCHANNELS")) {
        if (c->argc > 3) {
            reply_subcommand_syntax_error(c);
            return;
        }
        list_channels(c, arg_is(c, 1, "CHANNELS") ? PUBSUB_CHANNEL : PUBSUB_SHARD);
    } else if (arg_is(c, 1, "NUMSUB")) {
        num_subs(c, PUBSUB_CHANNEL);
    } else if (arg_is(c, 1, "SHARDNUMSUB")) {
        num_subs(c, PUBSUB_SHARD);
    } else if (arg_is(c, 1, "NUMPAT")) {
        reply_int(R(c), (long long)pubsub_total(PUBSUB_PATTERN));
    } else if (arg_is(c, 1, "HELP")) {
        pubsub_help(c);
    } else {
        reply_subcommand_unknown(c);
    }
}
