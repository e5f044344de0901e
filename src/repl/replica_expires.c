/* replica_expires: the keys a writable replica's own clients gave a TTL.
 *
 * A replica leaves expiry to its primary: an expired key stays, hidden,
 * until the primary's DEL arrives. A key that a client of the replica
 * wrote (replica-read-only no) is unknown to the primary, so no DEL would
 * ever come for it. As Redis does, the replica remembers such keys, with a
 * bit per database (databases 0-63), and its cron deletes the expired
 * ones; INFO shows how many it tracks (slave_expires_tracked_keys). */
#include <stdint.h>

#include "base/alloc.h"
#include "base/dict.h"
#include "base/log.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "repl/repl.h"

#define MAX_TRACKED_DB 64
/* Time for one cron pass over the tracked keys. */
#define STEP_US 1000

static dict tracked; /* key -> bitmap of dbs, in the entry's val */
static int ready;

static void ensure(void)
{
    if (!ready) {
        dict_init(&tracked, &dict_type_entry);
        ready = 1;
    }
}

size_t repl_tracked_expires(void)
{
    return ready ? dict_size(&tracked) : 0;
}

void repl_track_expires(client *c, const command *cmd)
{
    key_ref refs[64];
    key_ref *out = c->argc <= 64 ? refs : alloc_mem(sizeof(key_ref) * (size_t)c->argc);
    int n = keys_find(cmd, c->argv, c->argc, out);
    for (int i = 0; i < n; i++) {
        sv key = c->argv[out[i].pos];
        kobj *o = db_find_raw(c->db, key);
        if (!o || !o->has_expire) {
            continue;
        }
        if (c->db->id >= MAX_TRACKED_DB) {
            log_msg(LOG_WARNING,
                    "Writable replica: a key with a TTL in db %d will not expire here (only dbs 0-63 "
                    "are tracked)",
                    c->db->id);
            continue;
        }
        ensure();
        int created;
        dict_entry *e = dict_entry_upsert(&tracked, key.ptr, key.len, &created);
        e->val = (void *)((uintptr_t)e->val | ((uintptr_t)1 << c->db->id));
    }
    if (out != refs) {
        alloc_free(out);
    }
}

/* Drops expired keys and forgets keys that lost their TTL or went away. */
static void visit(dnode *n, void *ctx)
{
    (void)ctx;
    dict_entry *e = (dict_entry *)n;
    uintptr_t dbs = (uintptr_t)e->val;
    sv key = {e->key, e->keylen};
    for (int id = 0; id < MAX_TRACKED_DB && id < server.cfg.databases; id++) {
        if (!(dbs & ((uintptr_t)1 << id))) {
            continue;
        }
        db *d = &server.dbs[id];
        kobj *o = db_find_raw(d, key);
        if (o && db_is_expired(o)) {
            db_expire_now(d, o);
            o = NULL;
        }
        if (!o || !o->has_expire) {
            dbs &= ~((uintptr_t)1 << id);
        }
    }
    if (dbs) {
        e->val = (void *)dbs;
    } else {
        dict_entry_remove(&tracked, key.ptr, key.len, NULL);
    }
}

void repl_expire_tracked(void)
{
    static unsigned long cursor;
    if (!ready || dict_size(&tracked) == 0) {
        return;
    }
    int64_t start = util_mono_us();
    do {
        cursor = dict_scan(&tracked, cursor, visit, NULL);
    } while (cursor && util_mono_us() - start < STEP_US);
}

void repl_forget_tracked(void)
{
    if (ready) {
        dict_entry_clear(&tracked, NULL);
    }
}
