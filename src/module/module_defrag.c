/* module_defrag: modules' part in active defragmentation (server/defrag.h),
 * Redis 7.0's API.
 *
 * A data type's defrag callback gets each of its values as the pass meets
 * the key, and moves what it allocated with DefragAlloc and
 * DefragRedisModuleString. A value whose free_effort is above
 * active-defrag-max-scan-fields is left for later: its callback is then
 * called again, slice after slice, with a cursor (DefragCursorGet/Set)
 * and a deadline (DefragShouldStop), until it returns 0. A module's global
 * data has its own callback (RegisterDefragFunc), called as each pass
 * begins. */
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "module/module_int.h"
#include "server/defrag.h"

struct km_defrag_ctx {
    int64_t deadline_us;   /* 0: no deadline */
    unsigned long *cursor; /* NULL: not a later call, no cursor */
    km_string *key;
    int dbid;
};

typedef int (*km_type_defrag_fn)(km_defrag_ctx *ctx, km_string *key, void **value);

static void *api_defrag_alloc(km_defrag_ctx *ctx, void *p)
{
    (void)ctx;
    return alloc_defrag(p);
}

/* A string held elsewhere too (refs > 1) stays: the other holders keep
 * its address. The bytes move under the same handle. */
static km_string *api_defrag_string(km_defrag_ctx *ctx, km_string *s)
{
    (void)ctx;
    if (!s || s->refs > 1) {
        return NULL;
    }
    str bytes = str_defrag(s->s);
    if (bytes) {
        s->s = bytes;
    }
    return alloc_defrag(s);
}

static int api_defrag_should_stop(km_defrag_ctx *ctx)
{
    return ctx->deadline_us && util_mono_us() >= ctx->deadline_us;
}

static int api_defrag_cursor_set(km_defrag_ctx *ctx, unsigned long cursor)
{
    if (!ctx->cursor) {
        return KM_ERR;
    }
    *ctx->cursor = cursor;
    return KM_OK;
}

static int api_defrag_cursor_get(km_defrag_ctx *ctx, unsigned long *cursor)
{
    if (!ctx->cursor) {
        return KM_ERR;
    }
    *cursor = *ctx->cursor;
    return KM_OK;
}

static const km_string *api_get_key_name_from_defrag_ctx(km_defrag_ctx *ctx)
{
    return ctx->key;
}

static int api_get_db_id_from_defrag_ctx(km_defrag_ctx *ctx)
{
    return ctx->dbid;
}

static int api_register_defrag_func(km_ctx *ctx, km_defrag_fn fn)
{
    if (!ctx->module) {
        return KM_ERR;
    }
    ctx->module->defrag_fn = fn;
    return KM_OK;
}

void module_defrag_globals(void)
{
    for (int i = 0; i < module_count(); i++) {
        km_module *m = km_module_at(i);
        if (m->defrag_fn) {
            km_defrag_ctx ctx = {.dbid = -1};
            m->defrag_fn(&ctx);
        }
    }
}

/* The outer cursor (server/defrag.c's) is 0 at the first visit and when
 * done; a value left for later carries its module cursor plus one. */
void *km_value_defrag(km_value *mv, sv key, int dbid, unsigned long *cursor, size_t budget)
{
    mv = alloc_defrag_keep(mv);
    km_type_defrag_fn fn = (km_type_defrag_fn)mv->type->m.defrag;
    if (!fn) {
        *cursor = 0;
        return mv;
    }
    km_string *name = km_string_new(NULL, key.ptr, key.len);
    km_defrag_ctx ctx = {.key = name, .dbid = dbid};
    if (*cursor == 0) {
        km_type_free_effort_fn effort = mv->type->m.free_effort;
        if (effort && effort(name, mv->v) > budget) {
            *cursor = 1; /* big: its calls come later, with a cursor */
        } else {
            fn(&ctx, name, &mv->v);
        }
    } else {
        unsigned long module_cursor = *cursor - 1;
        ctx.cursor = &module_cursor;
        ctx.deadline_us = defrag_deadline_us();
        *cursor = fn(&ctx, name, &mv->v) ? module_cursor + 1 : 0;
    }
    km_string_release(NULL, name);
    return mv;
}

const km_api_entry km_api_defrag[] = {{"DefragAlloc", api_defrag_alloc},
                                      {"DefragRedisModuleString", api_defrag_string},
                                      {"DefragShouldStop", api_defrag_should_stop},
                                      {"DefragCursorSet", api_defrag_cursor_set},
                                      {"DefragCursorGet", api_defrag_cursor_get},
                                      {"GetKeyNameFromDefragCtx", api_get_key_name_from_defrag_ctx},
                                      {"GetDbIdFromDefragCtx", api_get_db_id_from_defrag_ctx},
                                      {"RegisterDefragFunc", api_register_defrag_func},
                                      {NULL, NULL}};
