/* module_keypos: asking a module command where its keys and channels are.
 * A command made with "getkeys-api" or "getchannels-api" is called in a
 * request context instead of being run: it names the positions with
 * KeyAtPos(WithFlags) or ChannelAtPosWithFlags and replies nothing. COMMAND
 * GETKEYS / GETKEYSANDFLAGS, the ACL key checks and GetCommandKeys read the
 * keys through km_keys_by_module (src/cmd/keys.c calls it as the command's
 * finder); the ACL channel checks read the channels through
 * km_channels_by_module. */
#include "base/alloc.h"
#include "module/module_int.h"

/* What KeyAtPos reports: Redis cannot tell what a legacy call does with a
 * key, so it is read and written. */
#define KEY_FULL_ACCESS (KS_RW | KS_ACCESS | KS_UPDATE)

/* Runs cmd's module function on argv in a request context (request_flag:
 * KCTX_KEYS_POS or KCTX_CHANNELS_POS); the positions it reported are left
 * in ctx, which the caller ends with km_ctx_done. */
static void ask_module(km_ctx *ctx, const command *cmd, const sv *argv, int argc, int request_flag)
{
    km_command *kc = km_command_of(cmd);
    km_ctx_init(ctx, kc->module, server.current_client);
    ctx->flags |= request_flag;
    km_string *small[16];
    km_string **args = argc <= 16 ? small : alloc_mem(sizeof(*args) * (size_t)argc);
    for (int i = 0; i < argc; i++) {
        args[i] = km_string_new(NULL, argv[i].ptr, argv[i].len);
    }
    kc->fn(ctx, args, argc);
    for (int i = 0; i < argc; i++) {
        km_string_release(NULL, args[i]);
    }
    if (args != small) {
        alloc_free(args);
    }
}

/* A reported position past argv is dropped: checks index argv with it. */
static int position_usable(int pos, int argc)
{
    return pos > 0 && pos < argc;
}

/* Specs come first, as in Redis: when they can say (a spec for keys, none
 * with VARIABLE_FLAGS, every applying one complete), the module is not
 * asked. A legacy range given with getkeys-api carries VARIABLE_FLAGS, so
 * such a command is always asked. */
int km_keys_by_module(const command *cmd, const sv *argv, int argc, key_ref *out, int max)
{
    if (max >= argc) {
        int n = keys_find_by_specs(cmd, argv, argc, out);
        if (n >= 0) {
            return n;
        }
    }
    km_ctx ctx;
    ask_module(&ctx, cmd, argv, argc, KCTX_KEYS_POS);
    int n = 0;
    for (int i = 0; i < ctx.npositions && n < max; i++) {
        if (position_usable(ctx.positions[i].pos, argc)) {
            out[n++] = ctx.positions[i];
        }
    }
    km_ctx_done(&ctx);
    return n;
}

key_ref *km_channels_by_module(const command *cmd, const sv *argv, int argc, int *n)
{
    km_ctx ctx;
    ask_module(&ctx, cmd, argv, argc, KCTX_CHANNELS_POS);
    *n = 0;
    for (int i = 0; i < ctx.npositions; i++) {
        if (position_usable(ctx.positions[i].pos, argc)) {
            ctx.positions[(*n)++] = ctx.positions[i];
        }
    }
    key_ref *out = *n ? ctx.positions : NULL;
    if (out) {
        ctx.positions = NULL; /* handed to the caller */
    }
    km_ctx_done(&ctx);
    return out;
}

/* ---- API ---- */

static void add_position(km_ctx *ctx, int pos, uint32_t flags)
{
    if (ctx->npositions == ctx->cap_positions) {
        ctx->cap_positions = ctx->cap_positions ? ctx->cap_positions * 2 : 8;
        ctx->positions = alloc_resize(ctx->positions, sizeof(key_ref) * (size_t)ctx->cap_positions);
    }
    ctx->positions[ctx->npositions++] = (key_ref){pos, flags};
}

static int api_is_keys_position_request(km_ctx *ctx)
{
    return ctx && (ctx->flags & KCTX_KEYS_POS) != 0;
}

/* The flags are a key spec's (the API's bits are the server's). */
static void api_key_at_pos_with_flags(km_ctx *ctx, int pos, int flags)
{
    if (api_is_keys_position_request(ctx) && pos > 0) {
        add_position(ctx, pos,
                     (uint32_t)flags & (KS_RO | KS_RW | KS_OW | KS_RM | KS_ACCESS | KS_UPDATE | KS_INSERT | KS_DELETE |
                                        KS_NOT_KEY | KS_INCOMPLETE | KS_VARIABLE_FLAGS));
    }
}

static void api_key_at_pos(km_ctx *ctx, int pos)
{
    api_key_at_pos_with_flags(ctx, pos, KEY_FULL_ACCESS);
}

static int api_is_channels_position_request(km_ctx *ctx)
{
    return ctx && (ctx->flags & KCTX_CHANNELS_POS) != 0;
}

/* The API's channel bits are the server's CH_* ones. */
static void api_channel_at_pos_with_flags(km_ctx *ctx, int pos, int flags)
{
    if (api_is_channels_position_request(ctx) && pos > 0) {
        add_position(ctx, pos, (uint32_t)flags & (CH_PATTERN | CH_PUBLISH | CH_SUBSCRIBE | CH_UNSUBSCRIBE));
    }
}

const km_api_entry km_api_keypos[] = {{"IsKeysPositionRequest", api_is_keys_position_request},
                                      {"KeyAtPos", api_key_at_pos},
                                      {"KeyAtPosWithFlags", api_key_at_pos_with_flags},
                                      {"IsChannelsPositionRequest", api_is_channels_position_request},
                                      {"ChannelAtPosWithFlags", api_channel_at_pos_with_flags},
                                      {NULL, NULL}};
