/* module_reply: the Reply* functions. A command context replies to its
 * client; a blocked client's reply callback to that client; a thread-safe
 * context of a blocked client to a private client whose bytes follow the
 * blocked client's answer; any other thread-safe context nowhere. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "module/module_int.h"

static rbuf *out(km_ctx *ctx)
{
    if (!ctx || !ctx->c || (ctx->flags & (KCTX_KEYS_POS | KCTX_CHANNELS_POS))) {
        return NULL;
    }
    if ((ctx->flags & KCTX_THREAD_SAFE) && !ctx->blocked) {
        return NULL;
    }
    return R(ctx->c);
}

static int api_reply_with_long_long(km_ctx *ctx, long long v)
{
    rbuf *r = out(ctx);
    if (r) {
        reply_int(r, v);
    }
    return KM_OK;
}

/* The text follows a '-' of its own, as in Redis: "-ERR x" comes out
 * as the error "-ERR x". */
static int api_reply_with_error(km_ctx *ctx, const char *err)
{
    if (!out(ctx)) {
        return KM_OK;
    }
    if (err[0] != '-') {
        reply_err(ctx->c, err);
        return KM_OK;
    }
    size_t len = strlen(err);
    char *dashed = alloc_mem(len + 2);
    dashed[0] = '-';
    memcpy(dashed + 1, err, len + 1);
    reply_err(ctx->c, dashed);
    alloc_free(dashed);
    return KM_OK;
}

static int api_reply_with_simple_string(km_ctx *ctx, const char *msg)
{
    rbuf *r = out(ctx);
    if (r) {
        reply_status(r, msg); /* line breaks become spaces there */
    }
    return KM_OK;
}

static void push_postponed(km_ctx *ctx, size_t handle)
{
    if (ctx->npostponed == ctx->cap_postponed) {
        ctx->cap_postponed = ctx->cap_postponed ? ctx->cap_postponed * 2 : 4;
        ctx->postponed = alloc_resize(ctx->postponed, sizeof(size_t) * (size_t)ctx->cap_postponed);
    }
    ctx->postponed[ctx->npostponed++] = handle;
}

/* An aggregate of n elements (pairs for a map), or, with KM_POSTPONED_LEN,
 * one whose length a Set*Length call gives later. */
static int aggregate(km_ctx *ctx, long n, void (*head)(rbuf *, long long))
{
    rbuf *r = out(ctx);
    if (!r) {
        return KM_OK;
    }
    if (n == KM_POSTPONED_LEN) {
        push_postponed(ctx, reply_defer(r));
    } else {
        head(r, n);
    }
    return KM_OK;
}

static void set_length(km_ctx *ctx, long n, void (*set)(rbuf *, size_t, long long))
{
    rbuf *r = out(ctx);
    if (!r || ctx->npostponed == 0) {
        return;
    }
    set(r, ctx->postponed[--ctx->npostponed], n);
}

static int api_reply_with_array(km_ctx *ctx, long n)
{
    return aggregate(ctx, n, reply_array);
}

static int api_reply_with_map(km_ctx *ctx, long n)
{
    return aggregate(ctx, n, reply_map);
}

static int api_reply_with_set(km_ctx *ctx, long n)
{
    return aggregate(ctx, n, reply_set);
}

static void api_reply_set_array_length(km_ctx *ctx, long n)
{
    set_length(ctx, n, reply_defer_array);
}

static void api_reply_set_map_length(km_ctx *ctx, long n)
{
    set_length(ctx, n, reply_defer_map);
}

static void api_reply_set_set_length(km_ctx *ctx, long n)
{
    set_length(ctx, n, reply_defer_set);
}

/* Attributes exist only in RESP3: for a client speaking RESP2 (or no
 * client at all) nothing is written and the module is told (Redis 7.0's
 * ERR), so it can answer without them. */
static int api_reply_with_attribute(km_ctx *ctx, long n)
{
    rbuf *r = out(ctx);
    if (!r || r->resp != 3) {
        return KM_ERR;
    }
    return aggregate(ctx, n, reply_attribute);
}

/* A no-op where ReplyWithAttribute refused: no length was postponed. */
static void api_reply_set_attribute_length(km_ctx *ctx, long n)
{
    rbuf *r = out(ctx);
    if (r && r->resp == 3) {
        set_length(ctx, n, reply_defer_attribute);
    }
}

static int api_reply_with_empty_array(km_ctx *ctx)
{
    rbuf *r = out(ctx);
    if (r) {
        reply_array(r, 0);
    }
    return KM_OK;
}

static int api_reply_with_null_array(km_ctx *ctx)
{
    rbuf *r = out(ctx);
    if (r) {
        reply_null_array(r);
    }
    return KM_OK;
}

static int api_reply_with_string_buffer(km_ctx *ctx, const char *p, size_t len)
{
    rbuf *r = out(ctx);
    if (r) {
        reply_bulk(r, p, len);
    }
    return KM_OK;
}

static int api_reply_with_cstring(km_ctx *ctx, const char *s)
{
    return api_reply_with_string_buffer(ctx, s, strlen(s));
}

static int api_reply_with_string(km_ctx *ctx, km_string *s)
{
    size_t len;
    const char *p = s ? s->s : NULL;
    len = p ? str_len(s->s) : 0;
    rbuf *r = out(ctx);
    if (r) {
        if (p) {
            reply_bulk(r, p, len);
        } else {
            reply_null(r);
        }
    }
    return KM_OK;
}

static int api_reply_with_empty_string(km_ctx *ctx)
{
    return api_reply_with_string_buffer(ctx, "", 0);
}

static int api_reply_with_verbatim_string_type(km_ctx *ctx, const char *p, size_t len, const char *ext)
{
    rbuf *r = out(ctx);
    if (r) {
        reply_verbatim(r, p, len, ext);
    }
    return KM_OK;
}

static int api_reply_with_verbatim_string(km_ctx *ctx, const char *p, size_t len)
{
    return api_reply_with_verbatim_string_type(ctx, p, len, "txt");
}

static int api_reply_with_big_number(km_ctx *ctx, const char *p, size_t len)
{
    rbuf *r = out(ctx);
    if (r) {
        reply_big_number(r, p, len);
    }
    return KM_OK;
}

static int api_reply_with_null(km_ctx *ctx)
{
    rbuf *r = out(ctx);
    if (r) {
        reply_null(r);
    }
    return KM_OK;
}

static int api_reply_with_bool(km_ctx *ctx, int b)
{
    rbuf *r = out(ctx);
    if (r) {
        reply_bool(r, b);
    }
    return KM_OK;
}

static int api_reply_with_double(km_ctx *ctx, double d)
{
    rbuf *r = out(ctx);
    if (r) {
        reply_double(r, d);
    }
    return KM_OK;
}

/* Redis's human form (%.17Lf without trailing zeros; inf, -inf and nan
 * spelled out), a double in RESP3. */
static int api_reply_with_long_double(km_ctx *ctx, long double d)
{
    rbuf *r = out(ctx);
    if (r) {
        char buf[128];
        int n = isinf(d) || isnan(d) ? snprintf(buf, sizeof(buf), "%Lf", d) : util_ld2str(buf, sizeof(buf), d);
        reply_double_text(r, buf, (size_t)(n > 0 ? n : 0));
    }
    return KM_OK;
}

static int api_reply_with_call_reply(km_ctx *ctx, km_call_reply *reply)
{
    rbuf *r = out(ctx);
    const char *p;
    size_t len;
    int resp3;
    int got = km_call_reply_proto_of(reply, &p, &len, &resp3);
    if (r && got == -2) {
        return KM_ERR; /* broken bytes would leave the client waiting */
    }
    if (r && got == 0) {
        if (resp3 && ctx->c->resp == 2) {
            return KM_ERR; /* a RESP2 client cannot read it (Redis refuses too) */
        }
        if (len > 0 && p[0] == '-') {
            char *msg = alloc_strndup(p + 1, len >= 3 ? len - 3 : 0);
            (km_call_reply_counted(reply) ? reply_err_counted : reply_err)(ctx->c, msg);
            alloc_free(msg);
        } else {
            reply_raw(r, p, len);
        }
    }
    return KM_OK;
}

const km_api_entry km_api_reply[] = {{"ReplyWithLongLong", api_reply_with_long_long},
                                     {"ReplyWithError", api_reply_with_error},
                                     {"ReplyWithSimpleString", api_reply_with_simple_string},
                                     {"ReplyWithArray", api_reply_with_array},
                                     {"ReplyWithMap", api_reply_with_map},
                                     {"ReplyWithSet", api_reply_with_set},
                                     {"ReplySetArrayLength", api_reply_set_array_length},
                                     {"ReplySetMapLength", api_reply_set_map_length},
                                     {"ReplySetSetLength", api_reply_set_set_length},
                                     {"ReplyWithAttribute", api_reply_with_attribute},
                                     {"ReplySetAttributeLength", api_reply_set_attribute_length},
                                     {"ReplyWithEmptyArray", api_reply_with_empty_array},
                                     {"ReplyWithNullArray", api_reply_with_null_array},
                                     {"ReplyWithStringBuffer", api_reply_with_string_buffer},
                                     {"ReplyWithCString", api_reply_with_cstring},
                                     {"ReplyWithString", api_reply_with_string},
                                     {"ReplyWithEmptyString", api_reply_with_empty_string},
                                     {"ReplyWithVerbatimString", api_reply_with_verbatim_string},
                                     {"ReplyWithVerbatimStringType", api_reply_with_verbatim_string_type},
                                     {"ReplyWithNull", api_reply_with_null},
                                     {"ReplyWithBigNumber", api_reply_with_big_number},
                                     {"ReplyWithBool", api_reply_with_bool},
                                     {"ReplyWithDouble", api_reply_with_double},
                                     {"ReplyWithLongDouble", api_reply_with_long_double},
                                     {"ReplyWithCallReply", api_reply_with_call_reply},
                                     {NULL, NULL}};
