/* module_call: RedisModule_Call, which runs a command on a private client
 * as scripts do, and the reply tree the module reads back. The argument
 * builder here also serves Replicate and EmitAOF. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "base/util.h"
#include "module/module_int.h"
#include "repl/repl.h"
#include "server/persistence.h"

struct km_call_reply {
    int type;
    const char *proto; /* this element's bytes, inside the root's copy */
    size_t protolen;
    const char *str; /* strings, errors, verbatim text, big numbers */
    size_t len;
    long long ll; /* integers, booleans */
    double d;
    km_call_reply *elems; /* arrays, sets, maps and attributes (2 per pair) */
    size_t n;
    km_call_reply *attr; /* the RESP3 attribute sent before this reply, or NULL */
    km_ctx *ctx;
    int resp3;     /* the call asked for RESP3 (its client spoke it) */
    str owned;     /* the root's copy of the whole reply */
    int own_error; /* an error Call made itself: counted when passed on */
};

/* ---- arguments ---- */

int km_call_flag(char ch)
{
    static const char letters[] = "!AR30CSWMEKDX";
    const char *p = ch ? strchr(letters, ch) : NULL;
    return p ? 1 << (p - letters) : 0;
}

/* argv for cmdname from fmt's arguments; letters that are not arguments
 * (! A R 3 0 C S W M E ...) are collected in *flags (km_call_flag's bits). */
int km_build_argv(km_ctx *ctx, const char *cmdname, const char *fmt, va_list ap, sv **argv_out, str **owned_out,
                  int *flagbits)
{
    (void)ctx;
    int cap = 8, argc = 0;
    sv *argv = alloc_mem(sizeof(sv) * (size_t)cap);
    str *owned = alloc_zero(sizeof(str) * (size_t)cap);
    argv[argc++] = (sv){cmdname, strlen(cmdname)};
    for (const char *f = fmt ? fmt : ""; *f; f++) {
        sv one[1];
        km_string **many = NULL;
        size_t nmany = 0;
        str keep = NULL;
        int n = 1;
        switch (*f) {
        case 'c': {
            const char *s = va_arg(ap, const char *);
            one[0] = (sv){s, strlen(s)};
            break;
        }
        case 's': {
            km_string *s = va_arg(ap, km_string *);
            one[0] = (sv){s->s, str_len(s->s)};
            break;
        }
        case 'b': {
            const char *p = va_arg(ap, const char *);
            size_t len = va_arg(ap, size_t);
            one[0] = (sv){p, len};
            break;
        }
        case 'l': {
            long long v = va_arg(ap, long long);
            keep = str_from_ll(v);
            one[0] = (sv){keep, str_len(keep)};
            break;
        }
        case 'v':
            many = va_arg(ap, km_string **);
            nmany = va_arg(ap, size_t);
            n = (int)nmany;
            break;
        default:
            if (flagbits && km_call_flag(*f)) {
                *flagbits |= km_call_flag(*f);
                continue;
            }
            km_free_argv(argv, owned, argc);
            return -1;
        }
        if (argc + n > cap) {
            int ncap = (argc + n) * 2;
            argv = alloc_resize(argv, sizeof(sv) * (size_t)ncap);
            owned = alloc_resize(owned, sizeof(str) * (size_t)ncap);
            memset(owned + cap, 0, sizeof(str) * (size_t)(ncap - cap));
            cap = ncap;
        }
        if (many) {
            for (size_t i = 0; i < nmany; i++) {
                argv[argc++] = (sv){many[i]->s, str_len(many[i]->s)};
            }
        } else {
            owned[argc] = keep;
            argv[argc++] = one[0];
        }
    }
    *argv_out = argv;
    *owned_out = owned;
    return argc;
}

void km_free_argv(sv *argv, str *owned, int argc)
{
    for (int i = 0; i < argc; i++) {
        str_free(owned[i]);
    }
    alloc_free(owned);
    alloc_free(argv);
}

#define FLAG(ch) km_call_flag(ch)

/* ---- the reply tree ---- */

static size_t line_end(const char *p, const char *end)
{
    const char *q = p;
    while (q + 1 < end && !(q[0] == '\r' && q[1] == '\n')) {
        q++;
    }
    return (size_t)(q - p);
}

static int parse(const char **pp, const char *end, km_call_reply *r);
static void free_elems(km_call_reply *r);

/* How many elements the bytes left could hold at most (the shortest, a
 * RESP3 null, takes 3): a length beyond it is a module's lie (a reply
 * length it did not keep to), refused before anything is allocated. */
static size_t elements_fit(const char *p, const char *end)
{
    return p < end ? (size_t)(end - p) / 3 : 0;
}

/* An attribute ('|', its header line read: n pairs at *pp) describes the
 * reply after it, so it hangs on that reply (CallReplyAttribute) rather
 * than standing as an element of its own; the reply's bytes begin at the
 * attribute, as Redis 7.0 keeps them. */
static int parse_attributed(const char **pp, const char *p, const char *end, long long n, km_call_reply *r)
{
    const char *start = *pp;
    km_call_reply *a = alloc_zero(sizeof(*a));
    if (r->attr) {
        /* A second attribute in a row: the later one describes the reply. */
        free_elems(r->attr);
        alloc_free(r->attr);
    }
    r->attr = a;
    a->type = KM_REPLY_ATTRIBUTE;
    a->proto = start;
    a->n = n > 0 ? (size_t)n : 0;
    if (a->n > elements_fit(p, end) / 2) {
        return -1;
    }
    a->elems = a->n ? alloc_zero(sizeof(km_call_reply) * a->n * 2) : NULL;
    for (size_t i = 0; i < a->n * 2; i++) {
        if (parse(&p, end, &a->elems[i]) < 0) {
            return -1;
        }
    }
    a->protolen = (size_t)(p - start);
    if (parse(&p, end, r) < 0) {
        return -1;
    }
    r->proto = start;
    r->protolen = (size_t)(p - start);
    *pp = p;
    return 0;
}

/* Parses one element at *pp (bytes our own reply writers made) into r. */
static int parse(const char **pp, const char *end, km_call_reply *r)
{
    const char *p = *pp;
    if (p >= end) {
        return -1;
    }
    char t = *p++;
    size_t ln = line_end(p, end);
    const char *line = p;
    p += ln + 2;
    long long n = 0;
    r->proto = *pp;
    switch (t) {
    case '+':
        r->type = KM_REPLY_STRING;
        r->str = line;
        r->len = ln;
        break;
    case '-':
        r->type = KM_REPLY_ERROR;
        r->str = line;
        r->len = ln;
        break;
    case ':':
        r->type = KM_REPLY_INTEGER;
        util_parse_ll(line, ln, &r->ll);
        break;
    case ',':
        r->type = KM_REPLY_DOUBLE;
        util_parse_double(line, ln, &r->d);
        break;
    case '(':
        r->type = KM_REPLY_BIG_NUMBER;
        r->str = line;
        r->len = ln;
        break;
    case '#':
        r->type = KM_REPLY_BOOL;
        r->ll = ln > 0 && line[0] == 't';
        break;
    case '_': r->type = KM_REPLY_NULL; break;
    case '$':
    case '=':
        util_parse_ll(line, ln, &n);
        if (n < 0) {
            r->type = KM_REPLY_NULL;
            break;
        }
        if (p + n + 2 > end) {
            return -1;
        }
        r->type = t == '$' ? KM_REPLY_STRING : KM_REPLY_VERBATIM_STRING;
        r->str = t == '=' && n >= 4 ? p + 4 : p;
        r->len = t == '=' && n >= 4 ? (size_t)n - 4 : (size_t)n;
        p += n + 2;
        break;
    case '|': util_parse_ll(line, ln, &n); return parse_attributed(pp, p, end, n, r);
    case '*':
    case '~':
    case '%':
    case '>':
        util_parse_ll(line, ln, &n);
        if (n < 0) {
            r->type = KM_REPLY_NULL;
            break;
        }
        r->type = t == '%' ? KM_REPLY_MAP : t == '~' ? KM_REPLY_SET : KM_REPLY_ARRAY;
        r->n = (size_t)n;
        size_t items = t == '%' ? r->n * 2 : r->n;
        if (items > elements_fit(p, end)) {
            return -1;
        }
        r->elems = items ? alloc_zero(sizeof(km_call_reply) * items) : NULL;
        for (size_t i = 0; i < items; i++) {
            if (parse(&p, end, &r->elems[i]) < 0) {
                return -1;
            }
        }
        break;
    default: return -1;
    }
    r->protolen = (size_t)(p - *pp);
    *pp = p;
    return 0;
}

static void free_elems(km_call_reply *r)
{
    size_t items = r->type == KM_REPLY_MAP || r->type == KM_REPLY_ATTRIBUTE ? r->n * 2 : r->n;
    for (size_t i = 0; r->elems && i < items; i++) {
        free_elems(&r->elems[i]);
    }
    alloc_free(r->elems);
    r->elems = NULL;
    if (r->attr) {
        free_elems(r->attr);
        alloc_free(r->attr);
        r->attr = NULL;
    }
}

void km_call_reply_free(km_call_reply *r)
{
    if (!r) {
        return;
    }
    free_elems(r);
    str_free(r->owned);
    alloc_free(r);
}

int km_call_reply_counted(const km_call_reply *r)
{
    return !r->own_error;
}

int km_call_reply_proto_of(const km_call_reply *r, const char **p, size_t *len, int *resp3)
{
    if (!r) {
        return -1;
    }
    if (r->type == KM_REPLY_UNKNOWN) {
        return -2;
    }
    *p = r->proto;
    *len = r->protolen;
    *resp3 = r->resp3;
    return 0;
}

/* Every element answers for the root's context (strings made from them
 * join its automatic memory) and was written in the root's protocol. */
static void set_ctx(km_call_reply *r, km_ctx *ctx, int resp3)
{
    r->ctx = ctx;
    r->resp3 = resp3;
    size_t items = r->type == KM_REPLY_MAP || r->type == KM_REPLY_ATTRIBUTE ? r->n * 2 : r->n;
    for (size_t i = 0; r->elems && i < items; i++) {
        set_ctx(&r->elems[i], ctx, resp3);
    }
    if (r->attr) {
        set_ctx(r->attr, ctx, resp3);
    }
}

static km_call_reply *reply_from(km_ctx *ctx, const char *p, size_t len, int resp3)
{
    km_call_reply *r = alloc_zero(sizeof(*r));
    r->owned = str_new(p, len);
    const char *q = r->owned;
    if (parse(&q, r->owned + len, r) < 0) {
        /* Unreadable (a module's reply that broke its own lengths): its
         * bytes are all a reader gets. */
        free_elems(r);
        r->n = 0;
        r->type = KM_REPLY_UNKNOWN;
        r->proto = r->owned;
        r->protolen = len;
    }
    set_ctx(r, ctx, resp3);
    km_auto_add(ctx, KAUTO_REPLY, r);
    return r;
}

static km_call_reply *error_reply(km_ctx *ctx, const char *msg)
{
    str s = str_new("-", 1);
    s = str_append_cstr(s, msg);
    s = str_append(s, "\r\n", 2);
    km_call_reply *r = reply_from(ctx, s, str_len(s), 0);
    str_free(s);
    r->own_error = 1;
    return r;
}

/* ---- running a command ---- */

/* One private client per nesting level (a module command called through
 * Call may Call again), reused across calls. */
#define CALL_DEPTH_MAX 16
static client *fakes[CALL_DEPTH_MAX];
static int depth;

static km_call_reply *api_call(km_ctx *ctx, const char *cmdname, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sv *argv;
    str *owned;
    int flags = 0;
    int argc = km_build_argv(ctx, cmdname, fmt, ap, &argv, &owned, &flags);
    va_end(ap);
    if (argc < 0) {
        errno = EINVAL;
        return NULL;
    }
    km_call_reply *reply = NULL;
    int errors_as_replies = (flags & FLAG('E')) != 0;
    command *cmd = cmd_lookup(argv[0].ptr, argv[0].len);
    command *run = cmd ? cmd_resolve(cmd, argv, argc) : NULL;
    /* The errors (with E) are the ones a client would get, as Redis 7. */
    char why[256];
    if (!cmd || !run) {
        errno = ENOENT;
        if (errors_as_replies) {
            str e = command_unknown_error(argv, argc, cmd != NULL && argc > 1);
            reply = error_reply(ctx, e);
            str_free(e);
        }
        goto done;
    }
    if ((run->arity > 0 && run->arity != argc) || argc < -run->arity) {
        errno = EINVAL;
        if (errors_as_replies) {
            snprintf(why, sizeof(why), "ERR wrong number of arguments for '%s' command", run->name);
            reply = error_reply(ctx, why);
        }
        goto done;
    }
    /* S: as a script would run it: neither a command scripts may not run
     * nor a write the server refuses for its persistence or replicas. */
    if ((flags & FLAG('S')) && (run->flags & CMD_NOSCRIPT)) {
        errno = EINVAL;
        if (errors_as_replies) {
            snprintf(why, sizeof(why), "ERR command '%s' is not allowed on script mode", run->name);
            reply = error_reply(ctx, why);
        }
        goto done;
    }
    if (flags & FLAG('S')) {
        const char *e = run->flags & CMD_WRITE ? server_write_refusal(ctx->c, 0) : NULL;
        if (!e && !(run->flags & CMD_STALE) && server_stale_for(ctx->c)) {
            e = MASTERDOWN_ERROR;
        }
        if (e) {
            errno = ESPIPE;
            if (errors_as_replies) {
                reply = error_reply(ctx, e);
            }
            goto done;
        }
    }
    /* M: deny-oom commands are refused over maxmemory (judged as it is,
     * not evicting from inside a module's command). */
    if ((flags & FLAG('M')) && (run->flags & CMD_DENYOOM) && server_memory_exceeded()) {
        errno = ENOSPC;
        if (errors_as_replies) {
            reply = error_reply(ctx, OOM_ERROR);
        }
        goto done;
    }
    if (depth == CALL_DEPTH_MAX) {
        errno = ENOSPC;
        goto done;
    }
    client *caller = ctx->c;
    /* C: run as the context's user (SetContextUser) or its client's,
     * checked first, as in Redis; without it as the server itself. */
    struct acl_user *as = !(flags & FLAG('C')) ? NULL : ctx->user ? ctx->user : caller ? caller->user : NULL;
    if ((flags & FLAG('C')) && !as) {
        errno = ENOTSUP;
        if (errors_as_replies) {
            reply = error_reply(ctx, "cannot run as user, no user directly attached to context or context's client");
        }
        goto done;
    }
    if (as) {
        int pos = 0;
        int denial = acl_check(as, run, argv, argc, &pos);
        if (denial != ACL_OK) {
            /* In ACL LOG as the "module" context's, with the caller's
             * client and user, as in Redis. */
            char objbuf[160];
            sv object = acl_denial_object(run, argv, denial, pos, objbuf, sizeof(objbuf));
            acl_log_add(caller, denial, ACL_CTX_MODULE, object, (sv){caller->user->name, str_len(caller->user->name)});
            errno = EACCES;
            if (errors_as_replies) {
                snprintf(why, sizeof(why), "ERR acl verification failed, %s.",
                         denial == ACL_DENIED_CMD       ? "can't run this command or subcommand"
                         : denial == ACL_DENIED_KEY     ? "can't access at least one of the keys mentioned in the "
                                                          "command arguments"
                         : denial == ACL_DENIED_CHANNEL ? "can't publish to the channel mentioned in the command"
                                                        : "lacking the permissions for the command");
                reply = error_reply(ctx, why);
            }
            goto done;
        }
    }
    if ((flags & FLAG('W')) && (run->flags & CMD_WRITE)) {
        errno = ENOSPC;
        if (errors_as_replies) {
            snprintf(why, sizeof(why), "ERR Write command '%s' was called while write is not allowed.", run->name);
            reply = error_reply(ctx, why);
        }
        goto done;
    }
    if (!fakes[depth]) {
        fakes[depth] = client_new(-1, CLIENT_FAKE);
        fakes[depth]->authenticated = 1;
    }
    client *f = fakes[depth++];
    client_select_db(f, km_ctx_dbid(ctx));
    f->resp = (flags & FLAG('3')) || ((flags & FLAG('0')) && caller && caller->resp == 3) ? 3 : 2;
    f->out.resp = f->resp;
    f->out.len = f->out.sent = 0;
    /* The client's own array: a rewrite may grow it. */
    if (argc > f->argv_cap) {
        f->argv_cap = argc < 16 ? 16 : argc;
        f->argv = alloc_resize(f->argv, sizeof(sv) * (size_t)f->argv_cap);
    }
    memcpy(f->argv, argv, sizeof(sv) * (size_t)argc);
    f->argc = argc;
    if (dispatch_filter) {
        km_filter_run(f, ctx->module);
        if (f->argc == 0 || !(cmd = cmd_lookup(f->argv[0].ptr, f->argv[0].len)) ||
            !(run = cmd_resolve(cmd, f->argv, f->argc))) {
            errno = ENOENT;
            client_end_command(f);
            depth--;
            reply = errors_as_replies ? error_reply(ctx, "ERR Unknown Redis command") : NULL;
            goto done;
        }
    }
    int was = 0;
    int replicate = (flags & FLAG('!')) != 0;
    if (!replicate) {
        was = propagate_quiet(1);
    }
    f->user = as; /* a script it runs checks its calls against this user */
    dispatch_call(f, run);
    f->user = NULL;
    client_end_command(f);
    if (!replicate) {
        propagate_quiet(was);
    }
    reply = reply_from(ctx, f->out.data, f->out.len, f->resp == 3);
    f->out.len = f->out.sent = 0;
    depth--;
done:
    km_free_argv(argv, owned, argc);
    return reply;
}

static void api_free_call_reply(km_call_reply *r)
{
    if (!r) {
        return;
    }
    if (r->owned) {
        km_auto_forget(r->ctx, r);
        km_call_reply_free(r);
    }
}

static int api_call_reply_type(km_call_reply *r)
{
    return r ? r->type : KM_REPLY_UNKNOWN;
}

static size_t api_call_reply_length(km_call_reply *r)
{
    if (!r) {
        return 0;
    }
    /* Verbatim strings and big numbers have none, as in Redis: their
     * readers give their lengths. */
    switch (r->type) {
    case KM_REPLY_STRING:
    case KM_REPLY_ERROR: return r->len;
    case KM_REPLY_ARRAY:
    case KM_REPLY_SET:
    case KM_REPLY_MAP:
    case KM_REPLY_ATTRIBUTE: return r->n;
    default: return 0;
    }
}

/* Element i of an aggregate of the type asked for (an array's reader
 * does not read a set, nor the other way round, as in Redis). */
static km_call_reply *element(km_call_reply *r, int type, size_t i)
{
    if (!r || r->type != type || i >= r->n) {
        return NULL;
    }
    return &r->elems[i];
}

static km_call_reply *api_call_reply_array_element(km_call_reply *r, size_t i)
{
    return element(r, KM_REPLY_ARRAY, i);
}

static km_call_reply *api_call_reply_set_element(km_call_reply *r, size_t i)
{
    return element(r, KM_REPLY_SET, i);
}

static int api_call_reply_map_element(km_call_reply *r, size_t i, km_call_reply **key, km_call_reply **val)
{
    if (!r || r->type != KM_REPLY_MAP || i >= r->n) {
        return KM_ERR;
    }
    if (key) {
        *key = &r->elems[2 * i];
    }
    if (val) {
        *val = &r->elems[2 * i + 1];
    }
    return KM_OK;
}

/* The attribute a RESP3 reply came with (NULL: none); the reply owns it. */
static km_call_reply *api_call_reply_attribute(km_call_reply *r)
{
    return r ? r->attr : NULL;
}

/* Pair i of an attribute. Redis 7.0 answers ERR for every attribute (it
 * checks for a map's type); Keel reads it, as the API documents. */
static int api_call_reply_attribute_element(km_call_reply *r, size_t i, km_call_reply **key, km_call_reply **val)
{
    if (!r || r->type != KM_REPLY_ATTRIBUTE || i >= r->n) {
        return KM_ERR;
    }
    if (key) {
        *key = &r->elems[2 * i];
    }
    if (val) {
        *val = &r->elems[2 * i + 1];
    }
    return KM_OK;
}

static long long api_call_reply_integer(km_call_reply *r)
{
    return r && r->type == KM_REPLY_INTEGER ? r->ll : LLONG_MIN;
}

/* Another type's reply reads as Redis's markers: LLONG_MIN, INT_MIN. */
static double api_call_reply_double(km_call_reply *r)
{
    return r && r->type == KM_REPLY_DOUBLE ? r->d : (double)LLONG_MIN;
}

static int api_call_reply_bool(km_call_reply *r)
{
    return r && r->type == KM_REPLY_BOOL ? (int)r->ll : INT_MIN;
}

static const char *api_call_reply_string_ptr(km_call_reply *r, size_t *len)
{
    if (!r || (r->type != KM_REPLY_STRING && r->type != KM_REPLY_ERROR)) {
        if (len) {
            *len = 0;
        }
        return NULL;
    }
    if (len) {
        *len = r->len;
    }
    return r->str;
}

static const char *api_call_reply_verbatim(km_call_reply *r, size_t *len, const char **format)
{
    if (!r || r->type != KM_REPLY_VERBATIM_STRING) {
        return NULL;
    }
    if (len) {
        *len = r->len;
    }
    if (format) {
        *format = r->str - 4;
    }
    return r->str;
}

static const char *api_call_reply_big_number(km_call_reply *r, size_t *len)
{
    if (!r || r->type != KM_REPLY_BIG_NUMBER) {
        return NULL;
    }
    if (len) {
        *len = r->len;
    }
    return r->str;
}

static const char *api_call_reply_proto(km_call_reply *r, size_t *len)
{
    if (!r) {
        return NULL;
    }
    if (len) {
        *len = r->protolen;
    }
    return r->proto;
}

static km_string *api_create_string_from_call_reply(km_call_reply *r)
{
    if (!r) {
        return NULL;
    }
    char buf[32];
    switch (r->type) {
    case KM_REPLY_STRING:
    case KM_REPLY_ERROR: return km_string_new(r->ctx, r->str, r->len);
    case KM_REPLY_INTEGER: {
        int n = util_ll2str(buf, r->ll);
        return km_string_new(r->ctx, buf, (size_t)n);
    }
    default: return NULL;
    }
}

const km_api_entry km_api_call[] = {{"Call", api_call},
                                    {"FreeCallReply", api_free_call_reply},
                                    {"CallReplyType", api_call_reply_type},
                                    {"CallReplyLength", api_call_reply_length},
                                    {"CallReplyArrayElement", api_call_reply_array_element},
                                    {"CallReplySetElement", api_call_reply_set_element},
                                    {"CallReplyMapElement", api_call_reply_map_element},
                                    {"CallReplyAttribute", api_call_reply_attribute},
                                    {"CallReplyAttributeElement", api_call_reply_attribute_element},
                                    {"CallReplyInteger", api_call_reply_integer},
                                    {"CallReplyDouble", api_call_reply_double},
                                    {"CallReplyBool", api_call_reply_bool},
                                    {"CallReplyStringPtr", api_call_reply_string_ptr},
                                    {"CallReplyVerbatim", api_call_reply_verbatim},
                                    {"CallReplyBigNumber", api_call_reply_big_number},
                                    {"CallReplyProto", api_call_reply_proto},
                                    {"CreateStringFromCallReply", api_create_string_from_call_reply},
                                    {NULL, NULL}};
