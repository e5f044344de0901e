/* module_info: what a module may ask about the server and its clients:
 * INFO fields (GetServerInfo and the ServerInfoGetField* readers), a
 * client's details by id, versions, and options that change nothing here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/dict.h"
#include "base/util.h"
#include "module/module_int.h"

/* The fields of an INFO text, by name. */
typedef struct km_server_info {
    dict fields; /* dict_entry: name -> str value */
} km_server_info;

static void free_value(void *v)
{
    str_free(v);
}

static km_server_info *api_get_server_info(km_ctx *ctx, const char *section)
{
    (void)ctx;
    const char *name = section && section[0] ? section : "default";
    sv names = {name, strlen(name)};
    /* The modules' own sections too (a module's name, "everything"), as
     * INFO gives them. */
    str text = module_info_sections(info_generate(&names, 1), &names, 1);
    km_server_info *si = alloc_mem(sizeof(*si));
    dict_init(&si->fields, &dict_type_entry);
    const char *p = text, *end = text + str_len(text);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        size_t len = (size_t)(line_end - p);
        if (len > 0 && p[len - 1] == '\r') {
            len--;
        }
        const char *colon = memchr(p, ':', len);
        if (len > 0 && p[0] != '#' && colon) {
            int created;
            dict_entry *e = dict_entry_upsert(&si->fields, p, (size_t)(colon - p), &created);
            if (!created) {
                str_free(e->val);
            }
            e->val = str_new(colon + 1, len - (size_t)(colon - p) - 1);
        }
        p = eol ? eol + 1 : end;
    }
    str_free(text);
    return si;
}

static void api_free_server_info(km_ctx *ctx, km_server_info *si)
{
    (void)ctx;
    if (si) {
        dict_entry_clear(&si->fields, free_value);
        alloc_free(si);
    }
}

static str field(km_server_info *si, const char *name)
{
    dict_entry *e = si ? dict_entry_find(&si->fields, name, strlen(name)) : NULL;
    return e ? e->val : NULL;
}

static km_string *api_server_info_get_field(km_ctx *ctx, km_server_info *si, const char *name)
{
    str v = field(si, name);
    return v ? km_string_new(ctx, v, str_len(v)) : NULL;
}

static const char *api_server_info_get_field_c(km_server_info *si, const char *name)
{
    return field(si, name);
}

static long long api_server_info_get_field_signed(km_server_info *si, const char *name, int *err)
{
    str v = field(si, name);
    long long n = 0;
    int ok = v && util_parse_ll(v, str_len(v), &n);
    if (err) {
        *err = ok ? KM_OK : KM_ERR;
    }
    return ok ? n : 0;
}

static unsigned long long api_server_info_get_field_unsigned(km_server_info *si, const char *name, int *err)
{
    str v = field(si, name);
    char *end = NULL;
    errno = 0;
    unsigned long long n = v && v[0] != '-' ? strtoull(v, &end, 10) : 0;
    int ok = v && end && *end == '\0' && errno == 0 && end != v;
    if (err) {
        *err = ok ? KM_OK : KM_ERR;
    }
    return ok ? n : 0;
}

static double api_server_info_get_field_double(km_server_info *si, const char *name, int *err)
{
    str v = field(si, name);
    double d = 0;
    int ok = v && util_parse_double(v, str_len(v), &d);
    if (err) {
        *err = ok ? KM_OK : KM_ERR;
    }
    return ok ? d : 0;
}

/* ---- clients ---- */

static int api_get_client_info_by_id(void *ci, uint64_t id)
{
    client *c = client_by_id(id);
    if (!c || (ci && ((km_client_info *)ci)->version != 1)) {
        return KM_ERR; /* only the structure's version 1 is known */
    }
    if (ci) {
        km_client_info_fill(c, ci);
    }
    return KM_OK;
}

static km_string *api_get_client_name_by_id(km_ctx *ctx, uint64_t id)
{
    client *c = client_by_id(id);
    if (!c || !c->name || str_len(c->name) == 0) {
        return NULL;
    }
    return km_string_new(ctx, c->name, str_len(c->name));
}

/* ---- versions and options ---- */

static int api_get_server_version(void)
{
    /* 0x00MMmmpp of the Redis version Keel answers as. */
    int major = 0, minor = 0, patch = 0;
    sscanf(KEEL_REDIS_COMPAT_VERSION, "%d.%d.%d", &major, &minor, &patch);
    return (major << 16) | (minor << 8) | patch;
}

static int api_get_type_method_version(void)
{
    return KM_TYPE_METHOD_VERSION;
}

static uint64_t api_monotonic_microseconds(void)
{
    return (uint64_t)util_mono_us();
}

static int api_avoid_replica_traffic(void)
{
    return 0; /* Keel never asks replicas to hold back (no failover pause) */
}

/* Every class bit, as Redis 7.0 answers (its "all" of this call
 * includes the module-only ones). */
static int api_get_keyspace_notification_flags_all(void)
{
    return (1 << 15) - 1;
}

/* Shown in INFO modules. IO errors fail a load here whatever the options
 * say (never the whole server, as Redis does without them); a swapdb sync
 * serves the old data while it loads only when every module declared
 * HANDLE_REPL_ASYNC_LOAD (module_all_handle_async_load). */
static void api_set_module_options(km_ctx *ctx, int options)
{
    if (ctx && ctx->module) {
        ctx->module->options = options;
    }
}

const km_api_entry km_api_info[] = {{"GetServerInfo", api_get_server_info},
                                    {"FreeServerInfo", api_free_server_info},
                                    {"ServerInfoGetField", api_server_info_get_field},
                                    {"ServerInfoGetFieldC", api_server_info_get_field_c},
                                    {"ServerInfoGetFieldSigned", api_server_info_get_field_signed},
                                    {"ServerInfoGetFieldUnsigned", api_server_info_get_field_unsigned},
                                    {"ServerInfoGetFieldDouble", api_server_info_get_field_double},
                                    {"GetClientInfoById", api_get_client_info_by_id},
                                    {"GetClientNameById", api_get_client_name_by_id},
                                    {"GetServerVersion", api_get_server_version},
                                    {"GetTypeMethodVersion", api_get_type_method_version},
                                    {"MonotonicMicroseconds", api_monotonic_microseconds},
                                    {"AvoidReplicaTraffic", api_avoid_replica_traffic},
                                    {"GetKeyspaceNotificationFlagsAll", api_get_keyspace_notification_flags_all},
                                    {"SetModuleOptions", api_set_module_options},
                                    {NULL, NULL}};
