/* module_infofn: INFO sections of modules (RegisterInfoFunc). A module's
 * callback adds sections, each "# <module>_<name>", and fields, each
 * "<module>_<field>:<value>" (or a dict field "<module>_<name>:k=v,..."),
 * as Redis writes them. INFO everything and INFO modules show every
 * module's sections; INFO <module> one module's, INFO <module>_<name> one
 * section; the default sections and INFO all show none. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "module/module_int.h"

typedef void (*km_info_fn)(void *ictx, int for_crash_report);

typedef struct km_info_ctx {
    km_module *module;
    str out;
    const sv *want; /* the sections asked for; NULL: all of them */
    int nwant;
    int in_section; /* a section is open and wanted */
    int in_dict;    /* a dict field is open */
} km_info_ctx;

static int asked(const sv *want, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (want[i].len == strlen(name) && strncasecmp(want[i].ptr, name, want[i].len) == 0) {
            return 1;
        }
    }
    return 0;
}

static int api_register_info_func(km_ctx *ctx, km_info_fn fn)
{
    if (!ctx->module) {
        return KM_ERR;
    }
    ctx->module->info_fn = (void (*)(void *, int))fn;
    return KM_OK;
}

static void end_dict(km_info_ctx *ic)
{
    if (!ic->in_dict) {
        return;
    }
    size_t len = str_len(ic->out);
    if (len > 0 && ic->out[len - 1] == ',') {
        str_set_len(ic->out, len - 1);
    }
    ic->out = str_append(ic->out, "\r\n", 2);
    ic->in_dict = 0;
}

static int api_info_add_section(km_info_ctx *ic, const char *name)
{
    end_dict(ic);
    char full[256];
    if (name && name[0]) {
        snprintf(full, sizeof(full), "%s_%s", ic->module->name, name);
    } else {
        snprintf(full, sizeof(full), "%s", ic->module->name);
    }
    ic->in_section = !ic->want || asked(ic->want, ic->nwant, full) || asked(ic->want, ic->nwant, ic->module->name);
    if (!ic->in_section) {
        return KM_ERR;
    }
    if (str_len(ic->out)) {
        ic->out = str_append(ic->out, "\r\n", 2);
    }
    ic->out = str_printf(ic->out, "# %s\r\n", full);
    return KM_OK;
}

/* s with the characters that would break an INFO line ('#', ':', CR, LF)
 * written as '_', as Redis writes a dict field's name. */
static str append_info_safe(str out, const char *s)
{
    size_t from = str_len(out);
    out = str_append_cstr(out, s);
    for (size_t i = from; i < str_len(out); i++) {
        if (strchr("#:\r\n", out[i])) {
            out[i] = '_';
        }
    }
    return out;
}

static int api_info_begin_dict_field(km_info_ctx *ic, const char *name)
{
    if (!ic->in_section) {
        return KM_ERR;
    }
    end_dict(ic);
    ic->out = append_info_safe(ic->out, ic->module->name);
    ic->out = str_append(ic->out, "_", 1);
    ic->out = append_info_safe(ic->out, name);
    ic->out = str_append(ic->out, ":", 1);
    ic->in_dict = 1;
    return KM_OK;
}

static int api_info_end_dict_field(km_info_ctx *ic)
{
    if (!ic->in_dict) {
        return KM_ERR;
    }
    end_dict(ic);
    return KM_OK;
}

/* One field, its value already text. */
static int add_field(km_info_ctx *ic, const char *field, const char *value, size_t len)
{
    if (!ic->in_section) {
        return KM_ERR;
    }
    if (ic->in_dict) {
        ic->out = str_printf(ic->out, "%s=", field);
        ic->out = str_append(ic->out, value, len);
        ic->out = str_append(ic->out, ",", 1);
    } else {
        ic->out = str_printf(ic->out, "%s_%s:", ic->module->name, field);
        ic->out = str_append(ic->out, value, len);
        ic->out = str_append(ic->out, "\r\n", 2);
    }
    return KM_OK;
}

static int api_info_add_field_string(km_info_ctx *ic, const char *field, km_string *value)
{
    return add_field(ic, field, value->s, str_len(value->s));
}

static int api_info_add_field_cstring(km_info_ctx *ic, const char *field, const char *value)
{
    return add_field(ic, field, value, strlen(value));
}

static int api_info_add_field_double(km_info_ctx *ic, const char *field, double value)
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.17g", value);
    return add_field(ic, field, buf, (size_t)n);
}

static int api_info_add_field_long_long(km_info_ctx *ic, const char *field, long long value)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", value);
    return add_field(ic, field, buf, (size_t)n);
}

static int api_info_add_field_ulong_long(km_info_ctx *ic, const char *field, unsigned long long value)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%llu", value);
    return add_field(ic, field, buf, (size_t)n);
}

/* The modules' sections for INFO's section arguments (see the top). */
str module_info_sections(str s, const sv *sections, int n)
{
    int every_module = asked(sections, n, "everything") || asked(sections, n, "modules");
    for (int i = 0; i < module_count(); i++) {
        km_module *m = km_module_at(i);
        if (!m->info_fn) {
            continue;
        }
        int mine = every_module || asked(sections, n, m->name);
        size_t len = strlen(m->name);
        for (int k = 0; k < n && !mine; k++) {
            mine =
                sections[k].len > len && strncasecmp(sections[k].ptr, m->name, len) == 0 && sections[k].ptr[len] == '_';
        }
        if (!mine) {
            continue;
        }
        km_info_ctx ic = {m, str_empty(256), every_module ? NULL : sections, n, 0, 0};
        m->info_fn(&ic, 0);
        end_dict(&ic);
        if (str_len(ic.out)) {
            if (str_len(s)) {
                s = str_append(s, "\r\n", 2);
            }
            s = str_append(s, ic.out, str_len(ic.out));
        }
        str_free(ic.out);
    }
    return s;
}

const km_api_entry km_api_infofn[] = {{"RegisterInfoFunc", api_register_info_func},
                                      {"InfoAddSection", api_info_add_section},
                                      {"InfoBeginDictField", api_info_begin_dict_field},
                                      {"InfoEndDictField", api_info_end_dict_field},
                                      {"InfoAddFieldString", api_info_add_field_string},
                                      {"InfoAddFieldCString", api_info_add_field_cstring},
                                      {"InfoAddFieldDouble", api_info_add_field_double},
                                      {"InfoAddFieldLongLong", api_info_add_field_long_long},
                                      {"InfoAddFieldULongLong", api_info_add_field_ulong_long},
                                      {NULL, NULL}};
