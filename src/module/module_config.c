/* module_config: configuration parameters of modules (Register*Config),
 * named "<module>.<name>" and read and set by CONFIG GET / SET, the config
 * file, the command line and MODULE LOADEX ... CONFIG. Values given
 * before the module is loaded wait until its LoadConfigs call applies
 * them (or the defaults). A module's setter may refuse a value with its
 * own error; its apply callback runs once per CONFIG SET, after all the
 * pairs are set. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "module/module_int.h"

enum { CFG_STRING, CFG_BOOL, CFG_NUMERIC, CFG_ENUM };

/* Register*Config flags. */
#define KM_CONFIG_IMMUTABLE (1 << 0)
#define KM_CONFIG_SENSITIVE (1 << 1)
#define KM_CONFIG_HIDDEN (1 << 4)
#define KM_CONFIG_PROTECTED (1 << 5)
#define KM_CONFIG_DENY_LOADING (1 << 6)
#define KM_CONFIG_MEMORY (1 << 7)
#define KM_CONFIG_BITFLAGS (1 << 8)

typedef int (*km_apply_fn)(km_ctx *ctx, void *privdata, km_string **err);

typedef struct km_config {
    km_module *module;
    char *name; /* "<module>.<name>" */
    int type, flags;
    long long min, max;
    char **enum_names;
    int *enum_values;
    int nenum;
    void *get, *set;
    km_apply_fn apply;
    void *privdata;
    str dflt;      /* the default, as text */
    int rewritten; /* CONFIG REWRITE has written it already */
    int loaded;    /* its module called LoadConfigs */
} km_config;

static km_config **configs;
static int nconfigs;
/* Values given before their module registered them: name and value. */
static str *waiting_names, *waiting_values;
static int nwaiting;
/* The apply callbacks a CONFIG SET has to run (each once). */
static km_config **to_apply;
static int nto_apply;

static km_config *find(const char *name)
{
    for (int i = 0; i < nconfigs; i++) {
        if (strcasecmp(configs[i]->name, name) == 0) {
            return configs[i];
        }
    }
    return NULL;
}

/* ---- values as text ---- */

/* A value's name; for bit flags without one, the names in the order
 * registered that each cover bits not yet named (so an entry that is
 * several bits wins over its parts when registered first), or "unknown"
 * when some bits have no name, as Redis shows them. */
static str enum_text(const km_config *cf, int v)
{
    str s = str_empty(16);
    for (int i = 0; i < cf->nenum; i++) {
        if (cf->enum_values[i] == v) {
            return str_append_cstr(s, cf->enum_names[i]);
        }
    }
    int unnamed = v;
    if (cf->flags & KM_CONFIG_BITFLAGS) {
        for (int i = 0; i < cf->nenum; i++) {
            int bits = cf->enum_values[i];
            if (bits && (unnamed & bits) == bits) {
                if (str_len(s)) {
                    s = str_append(s, " ", 1);
                }
                s = str_append_cstr(s, cf->enum_names[i]);
                unnamed &= ~bits;
            }
        }
    }
    if (str_len(s) == 0 || unnamed) {
        str_set_len(s, 0);
        s = str_append_cstr(s, "unknown");
    }
    return s;
}

static str value_text(km_config *cf)
{
    char buf[32];
    switch (cf->type) {
    case CFG_STRING: {
        km_string *v =
            ((km_string * (*)(const char *, void *)) cf->get)(cf->name + strlen(cf->module->name) + 1, cf->privdata);
        return v ? str_new(v->s, str_len(v->s)) : str_empty(0);
    }
    case CFG_BOOL: {
        int v = ((int (*)(const char *, void *))cf->get)(cf->name + strlen(cf->module->name) + 1, cf->privdata);
        return str_new(v ? "yes" : "no", v ? 3 : 2);
    }
    case CFG_NUMERIC: {
        long long v =
            ((long long (*)(const char *, void *))cf->get)(cf->name + strlen(cf->module->name) + 1, cf->privdata);
        int n = util_ll2str(buf, v);
        return str_new(buf, (size_t)n);
    }
    default: {
        int v = ((int (*)(const char *, void *))cf->get)(cf->name + strlen(cf->module->name) + 1, cf->privdata);
        return enum_text(cf, v);
    }
    }
}

/* The module's getters, by type. */
static long long get_int(km_config *cf)
{
    const char *short_name = cf->name + strlen(cf->module->name) + 1;
    if (cf->type == CFG_NUMERIC) {
        return ((long long (*)(const char *, void *))cf->get)(short_name, cf->privdata);
    }
    return ((int (*)(const char *, void *))cf->get)(short_name, cf->privdata);
}

/* Sets cf from text through the module's setter: 0, 1 when changed_only
 * and the value is the one it has (the setter is not called), or -1 with
 * err. */
static int set_text(km_config *cf, const char *value, size_t len, int changed_only, char *err, size_t errlen)
{
    const char *short_name = cf->name + strlen(cf->module->name) + 1;
    km_string *merr = NULL;
    int rc = KM_OK;
    switch (cf->type) {
    case CFG_STRING: {
        if (changed_only) {
            str cur = value_text(cf);
            int same = str_len(cur) == len && memcmp(cur, value, len) == 0;
            str_free(cur);
            if (same) {
                return 1;
            }
        }
        km_string *v = km_string_new(NULL, value, len); /* binary: a NUL is kept */
        rc = ((int (*)(const char *, km_string *, void *, km_string **))cf->set)(short_name, v, cf->privdata, &merr);
        km_string_release(NULL, v);
        break;
    }
    case CFG_BOOL: {
        int b;
        if (strcasecmp(value, "yes") == 0) {
            b = 1;
        } else if (strcasecmp(value, "no") == 0) {
            b = 0;
        } else {
            snprintf(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        if (changed_only && get_int(cf) == b) {
            return 1;
        }
        rc = ((int (*)(const char *, int, void *, km_string **))cf->set)(short_name, b, cf->privdata, &merr);
        break;
    }
    case CFG_NUMERIC: {
        long long v;
        int ok;
        if (cf->flags & KM_CONFIG_MEMORY) {
            ok = util_parse_memory(value, &v);
        } else {
            ok = util_parse_ll(value, strlen(value), &v);
        }
        if (!ok) {
            snprintf(err, errlen,
                     (cf->flags & KM_CONFIG_MEMORY) ? "argument must be a memory value"
                                                    : "argument couldn't be parsed into an integer");
            return -1;
        }
        if (v < cf->min || v > cf->max) {
            snprintf(err, errlen, "argument must be between %lld and %lld inclusive", cf->min, cf->max);
            return -1;
        }
        if (changed_only && get_int(cf) == v) {
            return 1;
        }
        rc = ((int (*)(const char *, long long, void *, km_string **))cf->set)(short_name, v, cf->privdata, &merr);
        break;
    }
    default: {
        int v = 0, found = 1;
        /* One name, or with BITFLAGS any number of them (their bits OR-ed). */
        const char *p = value;
        int words = 0;
        while (found && *p) {
            while (*p == ' ') {
                p++;
            }
            size_t len = strcspn(p, " ");
            if (len == 0) {
                break;
            }
            found = 0;
            for (int i = 0; i < cf->nenum && !found; i++) {
                if (strlen(cf->enum_names[i]) == len && strncasecmp(cf->enum_names[i], p, len) == 0) {
                    v |= cf->enum_values[i];
                    found = 1;
                }
            }
            words++;
            p += len;
        }
        if (words == 0 || (words > 1 && !(cf->flags & KM_CONFIG_BITFLAGS))) {
            found = 0;
        }
        if (!found) {
            str list = str_empty(64);
            for (int i = 0; i < cf->nenum; i++) {
                list = str_printf(list, "%s%s", i ? ", " : "", cf->enum_names[i]);
            }
            snprintf(err, errlen, "argument(s) must be one of the following: %s", list);
            str_free(list);
            return -1;
        }
        if (changed_only && get_int(cf) == v) {
            return 1;
        }
        rc = ((int (*)(const char *, int, void *, km_string **))cf->set)(short_name, v, cf->privdata, &merr);
        break;
    }
    }
    if (rc != KM_OK) {
        snprintf(err, errlen, "%s", merr ? merr->s : "Set failed");
        km_string_release(NULL, merr);
        return -1;
    }
    km_string_release(NULL, merr);
    return 0;
}

/* ---- registering ---- */

static km_config *reg(km_ctx *ctx, const char *name, int type, int flags, void *get, void *set, km_apply_fn apply,
                      void *privdata)
{
    if (!ctx->module || !ctx->module->loading) {
        errno = EBUSY; /* only while the module loads */
        return NULL;
    }
    if (!name || !name[0] || !get || !set) {
        errno = EINVAL;
        return NULL;
    }
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_')) {
            errno = EINVAL; /* Redis takes letters, digits, '-' and '_' */
            return NULL;
        }
    }
    char full[512];
    snprintf(full, sizeof(full), "%s.%s", ctx->module->name, name);
    if (find(full)) {
        errno = EALREADY;
        return NULL;
    }
    km_config *cf = alloc_zero(sizeof(*cf));
    cf->module = ctx->module;
    cf->name = alloc_strdup(full);
    cf->type = type;
    cf->flags = flags;
    cf->get = get;
    cf->set = set;
    cf->apply = apply;
    cf->privdata = privdata;
    configs = alloc_resize(configs, sizeof(*configs) * (size_t)(nconfigs + 1));
    configs[nconfigs++] = cf;
    return cf;
}

static int api_register_string_config(km_ctx *ctx, const char *name, const char *dflt, unsigned int flags, void *get,
                                      void *set, km_apply_fn apply, void *privdata)
{
    km_config *cf = reg(ctx, name, CFG_STRING, (int)flags, get, set, apply, privdata);
    if (!cf) {
        return KM_ERR;
    }
    cf->dflt = str_new(dflt ? dflt : "", dflt ? strlen(dflt) : 0);
    return KM_OK;
}

static int api_register_bool_config(km_ctx *ctx, const char *name, int dflt, unsigned int flags, void *get, void *set,
                                    km_apply_fn apply, void *privdata)
{
    km_config *cf = reg(ctx, name, CFG_BOOL, (int)flags, get, set, apply, privdata);
    if (!cf) {
        return KM_ERR;
    }
    cf->dflt = str_new(dflt ? "yes" : "no", dflt ? 3 : 2);
    return KM_OK;
}

static int api_register_numeric_config(km_ctx *ctx, const char *name, long long dflt, unsigned int flags, long long min,
                                       long long max, void *get, void *set, km_apply_fn apply, void *privdata)
{
    if (min > max || dflt < min || dflt > max) {
        return KM_ERR;
    }
    km_config *cf = reg(ctx, name, CFG_NUMERIC, (int)flags, get, set, apply, privdata);
    if (!cf) {
        return KM_ERR;
    }
    cf->min = min;
    cf->max = max;
    cf->dflt = str_from_ll(dflt);
    return KM_OK;
}

static int api_register_enum_config(km_ctx *ctx, const char *name, int dflt, unsigned int flags,
                                    const char **enum_names, const int *enum_values, int n, void *get, void *set,
                                    km_apply_fn apply, void *privdata)
{
    if (n <= 0 || !enum_names || !enum_values) {
        return KM_ERR;
    }
    km_config *cf = reg(ctx, name, CFG_ENUM, (int)flags, get, set, apply, privdata);
    if (!cf) {
        return KM_ERR;
    }
    cf->enum_names = alloc_mem(sizeof(char *) * (size_t)n);
    cf->enum_values = alloc_mem(sizeof(int) * (size_t)n);
    cf->nenum = n;
    for (int i = 0; i < n; i++) {
        cf->enum_names[i] = alloc_strdup(enum_names[i]);
        cf->enum_values[i] = enum_values[i];
    }
    cf->dflt = enum_text(cf, dflt);
    return KM_OK;
}

/* Applies what the configuration gave for the module's parameters (or
 * their defaults), then their apply callbacks. */
static int api_load_configs(km_ctx *ctx)
{
    if (!ctx->module) {
        return KM_ERR;
    }
    char err[256];
    for (int i = 0; i < nconfigs; i++) {
        km_config *cf = configs[i];
        if (cf->module != ctx->module) {
            continue;
        }
        cf->loaded = 1;
        str given = NULL;
        for (int j = 0; j < nwaiting; j++) {
            if (strcasecmp(waiting_names[j], cf->name) == 0) {
                given = waiting_values[j];
                str_free(waiting_names[j]);
                waiting_names[j] = waiting_names[--nwaiting];
                waiting_values[j] = waiting_values[nwaiting];
                break;
            }
        }
        const char *text = given ? given : cf->dflt;
        int rc = set_text(cf, text, given ? str_len(given) : strlen(text), 0, err, sizeof(err));
        str_free(given);
        if (rc < 0) {
            log_msg(LOG_WARNING, "Issue during loading of configuration %s : %s", cf->name, err);
            return KM_ERR;
        }
    }
    return KM_OK;
}

/* ---- what the configuration layer calls ---- */

int module_config_set(const char *name, const char *value, size_t len, char *err, size_t errlen, int at_startup)
{
    km_config *cf = find(name);
    if (!cf) {
        if (at_startup && strchr(name, '.')) {
            /* For a module loaded later (loadmodule, LOADEX ... CONFIG);
             * named twice, the last value counts, as in Redis. */
            for (int j = 0; j < nwaiting; j++) {
                if (strcasecmp(waiting_names[j], name) == 0) {
                    str_free(waiting_values[j]);
                    waiting_values[j] = str_new(value, len);
                    return 0;
                }
            }
            waiting_names = alloc_resize(waiting_names, sizeof(str) * (size_t)(nwaiting + 1));
            waiting_values = alloc_resize(waiting_values, sizeof(str) * (size_t)(nwaiting + 1));
            waiting_names[nwaiting] = str_new(name, strlen(name));
            waiting_values[nwaiting++] = str_new(value, len);
            return 0;
        }
        return -2;
    }
    if (!at_startup && (cf->flags & KM_CONFIG_IMMUTABLE)) {
        snprintf(err, errlen, "can't set immutable config");
        return -1;
    }
    if (!at_startup && (cf->flags & KM_CONFIG_DENY_LOADING) && server.loading) {
        snprintf(err, errlen, "can't set config while loading");
        return -1;
    }
    int rc = set_text(cf, value, len, !at_startup, err, errlen);
    if (rc < 0) {
        return -1;
    }
    if (rc == 0 && !at_startup && cf->apply) {
        int seen = 0;
        for (int i = 0; i < nto_apply && !seen; i++) {
            seen = to_apply[i]->apply == cf->apply && to_apply[i]->privdata == cf->privdata;
        }
        if (!seen) {
            to_apply = alloc_resize(to_apply, sizeof(*to_apply) * (size_t)(nto_apply + 1));
            to_apply[nto_apply++] = cf;
        }
    }
    return 0;
}

/* Runs the queued apply callbacks; on a refusal the queue stays, so the
 * caller can run them again once it has put the old values back. */
int module_config_apply(char *err, size_t errlen, const char **failed)
{
    int rc = 0;
    for (int i = 0; i < nto_apply; i++) {
        km_config *cf = to_apply[i];
        km_ctx ctx;
        km_ctx_init(&ctx, cf->module, NULL);
        km_string *merr = NULL;
        if (cf->apply(&ctx, cf->privdata, &merr) != KM_OK) {
            snprintf(err, errlen, "%s", merr ? merr->s : "Apply failed");
            if (rc == 0) {
                *failed = cf->name + strlen(cf->module->name) + 1; /* Redis names it so */
            }
            rc = -1;
        }
        km_string_release(NULL, merr);
        km_ctx_done(&ctx);
        if (rc < 0) {
            return rc;
        }
    }
    nto_apply = 0;
    return rc;
}

void module_config_apply_abandon(void)
{
    nto_apply = 0;
}

str module_config_get(const char *name, int *found)
{
    km_config *cf = find(name);
    *found = cf != NULL;
    return cf ? value_text(cf) : NULL;
}

int module_config_protected(const char *name)
{
    km_config *cf = find(name);
    return cf && (cf->flags & KM_CONFIG_PROTECTED);
}

long long module_config_reply_matching(client *c, const sv *patterns, int n)
{
    long long pairs = 0;
    for (int i = 0; i < nconfigs; i++) {
        km_config *cf = configs[i];
        for (int p = 0; p < n; p++) {
            sv pat = patterns[p];
            int literal =
                !memchr(pat.ptr, '*', pat.len) && !memchr(pat.ptr, '?', pat.len) && !memchr(pat.ptr, '[', pat.len);
            int match = literal ? strlen(cf->name) == pat.len && strncasecmp(cf->name, pat.ptr, pat.len) == 0
                                : !(cf->flags & KM_CONFIG_HIDDEN) &&
                                      util_glob_match(pat.ptr, pat.len, cf->name, strlen(cf->name), 1);
            if (match) {
                str v = value_text(cf);
                /* An exact name comes back as it was asked, as Redis answers. */
                if (literal) {
                    reply_bulk(R(c), pat.ptr, pat.len);
                } else {
                    reply_bulk_cstr(R(c), cf->name);
                }
                reply_bulk(R(c), v, str_len(v));
                str_free(v);
                pairs++;
                break;
            }
        }
    }
    return pairs;
}

/* CONFIG REWRITE: the directive of a module parameter ("name value", a
 * string quoted), or NULL when name is none. */
str module_config_directive(const char *name)
{
    km_config *cf = find(name);
    if (!cf) {
        return NULL;
    }
    cf->rewritten = 1;
    str v = value_text(cf);
    str line = str_printf(str_empty(64), "%s ", cf->name);
    line = cf->type == CFG_STRING ? str_append_quoted(line, v, str_len(v)) : str_append(line, v, str_len(v));
    str_free(v);
    return line;
}

void module_config_rewrite_begin(void)
{
    for (int i = 0; i < nconfigs; i++) {
        configs[i]->rewritten = 0;
    }
}

/* The parameters not rewritten in place whose value is not the default,
 * appended to out one directive a line. */
str module_config_rewrite_rest(str out, int *has_signature, const char *signature)
{
    for (int i = 0; i < nconfigs; i++) {
        km_config *cf = configs[i];
        if (cf->rewritten) {
            continue;
        }
        str v = value_text(cf);
        int changed = strcmp(v, cf->dflt) != 0;
        str_free(v);
        if (!changed) {
            continue;
        }
        if (!*has_signature) {
            out = str_append_cstr(out, signature);
            out = str_append(out, "\n", 1);
            *has_signature = 1;
        }
        str line = module_config_directive(cf->name);
        out = str_append(out, line, str_len(line));
        out = str_append(out, "\n", 1);
        str_free(line);
    }
    return out;
}

int km_configs_unloaded(const km_module *m)
{
    int has = 0;
    for (int i = 0; i < nconfigs; i++) {
        if (configs[i]->module == m) {
            if (configs[i]->loaded) {
                return 0; /* it called LoadConfigs (Redis asks no more) */
            }
            has = 1;
        }
    }
    return has;
}

int module_config_unclaimed(const char **name)
{
    if (nwaiting > 0) {
        *name = waiting_names[0];
        return 1;
    }
    return 0;
}

void module_config_drop_waiting(void)
{
    for (int i = 0; i < nwaiting; i++) {
        str_free(waiting_names[i]);
        str_free(waiting_values[i]);
    }
    nwaiting = 0;
}

void km_configs_forget(km_module *m)
{
    for (int i = 0; i < nconfigs;) {
        km_config *cf = configs[i];
        if (cf->module != m) {
            i++;
            continue;
        }
        for (int j = 0; j < cf->nenum; j++) {
            alloc_free(cf->enum_names[j]);
        }
        alloc_free(cf->enum_names);
        alloc_free(cf->enum_values);
        alloc_free(cf->name);
        str_free(cf->dflt);
        alloc_free(cf);
        configs[i] = configs[--nconfigs];
    }
}

const km_api_entry km_api_config[] = {{"RegisterStringConfig", api_register_string_config},
                                      {"RegisterBoolConfig", api_register_bool_config},
                                      {"RegisterNumericConfig", api_register_numeric_config},
                                      {"RegisterEnumConfig", api_register_enum_config},
                                      {"LoadConfigs", api_load_configs},
                                      {NULL, NULL}};
