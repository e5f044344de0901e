/* Generic keyspace commands: DEL, UNLINK, EXISTS, TYPE, DBSIZE, FLUSH*. */
#include <string.h>

#include "base/alloc.h"
#include "db/lazyfree.h"
#include "server/server.h"

static void del_generic(client *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        /* Lookup first so an expired key counts as absent. */
        if (db_lookup(c->db, c->argv[i], LOOKUP_NOTOUCH) && db_delete(c->db, c->argv[i])) {
            signal_write(c, NOTIFY_GENERIC, "del", c->argv[i]);
            n++;
        }
    }
    reply_int(R(c), n);
}

void cmd_del(client *c)
{
    del_generic(c);
}

void cmd_unlink(client *c)
{
    del_generic(c);
}

void cmd_exists(client *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        if (db_lookup(c->db, c->argv[i], LOOKUP_NOTOUCH)) {
            n++;
        }
    }
    reply_int(R(c), n);
}

void cmd_type(client *c)
{
    kobj *o = db_lookup(c->db, c->argv[1], LOOKUP_NOTOUCH);
    reply_status(R(c), o ? obj_type_name(o->type) : "none");
}

void cmd_dbsize(client *c)
{
    reply_int(R(c), (long long)db_size(c->db));
}

/* Parses the optional ASYNC|SYNC argument; -1 after replying an error. */
static int flush_mode(client *c)
{
    if (c->argc == 1) {
        return server.cfg.lazyfree_lazy_user_flush;
    }
    if (c->argc == 2 && arg_is(c, 1, "ASYNC")) {
        return 1;
    }
    if (c->argc == 2 && arg_is(c, 1, "SYNC")) {
        return 0;
    }
    reply_syntax_error(c);
    return -1;
}

/* Empties one db; the keys of a big one are freed off the main thread. */
static void empty_db(client *c, db *d, int async)
{
    size_t n = db_size(d);
    if (n == 0) {
        return;
    }
    /* Every key's watchers and trackers must learn of the flush. */
    server_key_written(d, (sv){NULL, 0}, c);
    if (async || n > 10000) {
        dict *old = alloc_mem(sizeof(dict));
        size_t expires;
        db_take(d, old, &expires);
        lazyfree_dict(old);
    } else {
        db_clear(d);
    }
    server.dirty += (long long)n;
}

void cmd_flushdb(client *c)
{
    int async = flush_mode(c);
    if (async < 0) {
        return;
    }
    empty_db(c, c->db, async);
    server.dirty++;
    reply_ok(R(c));
}

void cmd_flushall(client *c)
{
    int async = flush_mode(c);
    if (async < 0) {
        return;
    }
    for (int i = 0; i < server.cfg.databases; i++) {
        empty_db(c, &server.dbs[i], async);
    }
    server.dirty++;
    reply_ok(R(c));
}
