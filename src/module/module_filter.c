/* module_filter: command filters (RegisterCommandFilter). Before a
 * command is looked up, each filter may read and change its arguments
 * (insert, replace, delete); the command then runs as filtered, as if the
 * client had sent it so. Filters see clients' commands and those modules
 * run through Call (a NOSELF filter not its own module's). */
#include <string.h>

#include "base/alloc.h"
#include "module/module_int.h"

#define KM_CMDFILTER_NOSELF (1 << 0)

typedef struct km_filter {
    km_module *module;
    void (*fn)(void *fctx);
    int flags;
} km_filter;

/* What a filter callback gets: the arguments as module strings. */
typedef struct km_filter_ctx {
    km_string **argv;
    int argc, cap;
} km_filter_ctx;

static km_filter **filters;
static int nfilters;

static km_filter *api_register_command_filter(km_ctx *ctx, void (*fn)(void *), int flags)
{
    if (!ctx->module || !fn) {
        return NULL;
    }
    km_filter *f = alloc_mem(sizeof(*f));
    *f = (km_filter){ctx->module, fn, flags};
    filters = alloc_resize(filters, sizeof(*filters) * (size_t)(nfilters + 1));
    filters[nfilters++] = f;
    ctx->module->nfilters++;
    dispatch_filter = module_filter_command;
    return f;
}

static int api_unregister_command_filter(km_ctx *ctx, km_filter *f)
{
    for (int i = 0; i < nfilters; i++) {
        if (filters[i] == f && (!ctx || !ctx->module || f->module == ctx->module)) {
            memmove(filters + i, filters + i + 1, sizeof(*filters) * (size_t)(nfilters - i - 1));
            nfilters--;
            f->module->nfilters--;
            alloc_free(f);
            if (nfilters == 0) {
                dispatch_filter = NULL;
            }
            return KM_OK;
        }
    }
    return KM_ERR;
}

void km_filters_forget(km_module *m)
{
    for (int i = 0; i < nfilters;) {
        if (filters[i]->module == m) {
            api_unregister_command_filter(NULL, filters[i]);
        } else {
            i++;
        }
    }
}

static int api_command_filter_args_count(km_filter_ctx *fc)
{
    return fc->argc;
}

static km_string *api_command_filter_arg_get(km_filter_ctx *fc, int pos)
{
    return pos >= 0 && pos < fc->argc ? fc->argv[pos] : NULL;
}

static int api_command_filter_arg_insert(km_filter_ctx *fc, int pos, km_string *arg)
{
    if (pos < 0 || pos > fc->argc || !arg) {
        return KM_ERR;
    }
    if (fc->argc == fc->cap) {
        fc->cap = fc->cap ? fc->cap * 2 : 8;
        fc->argv = alloc_resize(fc->argv, sizeof(*fc->argv) * (size_t)fc->cap);
    }
    memmove(fc->argv + pos + 1, fc->argv + pos, sizeof(*fc->argv) * (size_t)(fc->argc - pos));
    fc->argv[pos] = arg; /* the filter gives it up */
    fc->argc++;
    return KM_OK;
}

static int api_command_filter_arg_replace(km_filter_ctx *fc, int pos, km_string *arg)
{
    if (pos < 0 || pos >= fc->argc || !arg) {
        return KM_ERR;
    }
    km_string_release(NULL, fc->argv[pos]);
    fc->argv[pos] = arg;
    return KM_OK;
}

static int api_command_filter_arg_delete(km_filter_ctx *fc, int pos)
{
    if (pos < 0 || pos >= fc->argc) {
        return KM_ERR;
    }
    km_string_release(NULL, fc->argv[pos]);
    memmove(fc->argv + pos, fc->argv + pos + 1, sizeof(*fc->argv) * (size_t)(fc->argc - pos - 1));
    fc->argc--;
    return KM_OK;
}

/* Runs the filters over c's argv (module: the module whose Call this is,
 * NULL for a client's command); a changed argv replaces c's. */
void km_filter_run(client *c, const km_module *caller)
{
    km_filter_ctx fc = {NULL, 0, 0};
    fc.cap = c->argc + 4;
    fc.argv = alloc_mem(sizeof(*fc.argv) * (size_t)fc.cap);
    for (int i = 0; i < c->argc; i++) {
        fc.argv[fc.argc++] = km_string_new(NULL, c->argv[i].ptr, c->argv[i].len);
    }
    for (int i = 0; i < nfilters; i++) {
        km_filter *f = filters[i];
        if ((f->flags & KM_CMDFILTER_NOSELF) && caller && f->module == caller) {
            continue;
        }
        f->fn(&fc);
    }
    int same = fc.argc == c->argc;
    for (int i = 0; same && i < fc.argc; i++) {
        same = str_len(fc.argv[i]->s) == c->argv[i].len && memcmp(fc.argv[i]->s, c->argv[i].ptr, c->argv[i].len) == 0;
    }
    if (!same) {
        sv *nv = alloc_mem(sizeof(sv) * (size_t)(fc.argc ? fc.argc : 1));
        for (int i = 0; i < fc.argc; i++) {
            nv[i] = (sv){fc.argv[i]->s, str_len(fc.argv[i]->s)};
        }
        client_rewrite_argv(c, nv, fc.argc);
        client_forget_original(c); /* the command is what the filters made it */
        alloc_free(nv);
    }
    for (int i = 0; i < fc.argc; i++) {
        km_string_release(NULL, fc.argv[i]);
    }
    alloc_free(fc.argv);
}

void module_filter_command(client *c)
{
    km_filter_run(c, NULL);
}

const km_api_entry km_api_filter[] = {{"RegisterCommandFilter", api_register_command_filter},
                                      {"UnregisterCommandFilter", api_unregister_command_filter},
                                      {"CommandFilterArgsCount", api_command_filter_args_count},
                                      {"CommandFilterArgGet", api_command_filter_arg_get},
                                      {"CommandFilterArgInsert", api_command_filter_arg_insert},
                                      {"CommandFilterArgReplace", api_command_filter_arg_replace},
                                      {"CommandFilterArgDelete", api_command_filter_arg_delete},
                                      {NULL, NULL}};
