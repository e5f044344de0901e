/* module_shared: APIs modules share with each other. A module exports a
 * function under a name (ExportSharedAPI); another asks for it by name
 * (GetSharedAPI) and from then on uses the exporter, as INFO modules'
 * usedby / using lists show. As in Redis, an exporter cannot be unloaded
 * while a module uses its APIs; a module unloaded takes its APIs away and
 * stops using others'. */
#include <string.h>

#include "base/alloc.h"
#include "module/module_int.h"

typedef struct shared_api {
    char *name;
    void *fn;
    km_module *module;
} shared_api;

/* user uses provider's APIs; in the order they were first asked for. */
typedef struct use_edge {
    km_module *user, *provider;
} use_edge;

static shared_api *apis;
static int napis;
static use_edge *edges;
static int nedges;

static int api_export_shared_api(km_ctx *ctx, const char *name, void *fn)
{
    if (!ctx || !ctx->module || !name) {
        return KM_ERR;
    }
    for (int i = 0; i < napis; i++) {
        if (strcmp(apis[i].name, name) == 0) {
            return KM_ERR;
        }
    }
    apis = alloc_resize(apis, sizeof(*apis) * (size_t)(napis + 1));
    apis[napis++] = (shared_api){alloc_strdup(name), fn, ctx->module};
    return KM_OK;
}

static void *api_get_shared_api(km_ctx *ctx, const char *name)
{
    for (int i = 0; i < napis; i++) {
        if (strcmp(apis[i].name, name) != 0) {
            continue;
        }
        km_module *user = ctx ? ctx->module : NULL;
        int known = 0;
        for (int e = 0; e < nedges && !known; e++) {
            known = edges[e].user == user && edges[e].provider == apis[i].module;
        }
        if (user && !known) {
            edges = alloc_resize(edges, sizeof(*edges) * (size_t)(nedges + 1));
            edges[nedges++] = (use_edge){user, apis[i].module};
        }
        return apis[i].fn;
    }
    return NULL;
}

int km_shared_in_use(const km_module *m)
{
    for (int e = 0; e < nedges; e++) {
        if (edges[e].provider == m) {
            return 1;
        }
    }
    return 0;
}

void km_shared_forget(km_module *m)
{
    int n = 0;
    for (int i = 0; i < napis; i++) {
        if (apis[i].module == m) {
            alloc_free(apis[i].name);
        } else {
            apis[n++] = apis[i];
        }
    }
    napis = n;
    n = 0;
    for (int e = 0; e < nedges; e++) {
        if (edges[e].user != m && edges[e].provider != m) {
            edges[n++] = edges[e];
        }
    }
    nedges = n;
    if (napis == 0) {
        alloc_free(apis);
        apis = NULL;
    }
    if (nedges == 0) {
        alloc_free(edges);
        edges = NULL;
    }
}

str km_shared_info(str s, const km_module *m, int usedby)
{
    s = str_append(s, "[", 1);
    int first = 1;
    for (int e = 0; e < nedges; e++) {
        const km_module *other = usedby ? edges[e].user : edges[e].provider;
        if ((usedby ? edges[e].provider : edges[e].user) != m) {
            continue;
        }
        if (!first) {
            s = str_append(s, "|", 1);
        }
        s = str_append_cstr(s, other->name);
        first = 0;
    }
    return str_append(s, "]", 1);
}

const km_api_entry km_api_shared[] = {
    {"ExportSharedAPI", api_export_shared_api}, {"GetSharedAPI", api_get_shared_api}, {NULL, NULL}};
