/* notify: what happens when a key changes. signal_write is the single call
 * a handler makes per changed key; it fans out to the registered listeners
 * (WATCH, client tracking, blocked clients) and to keyspace notifications. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "server/server.h"

#define MAX_KEY_LISTENERS 8

static key_write_fn key_listeners[MAX_KEY_LISTENERS];
static int nkey_listeners;

void (*notify_publish)(sv channel, sv message);

void server_on_key_write(key_write_fn fn)
{
    if (nkey_listeners < MAX_KEY_LISTENERS) {
        key_listeners[nkey_listeners++] = fn;
    }
}

void server_key_written(db *d, sv key, client *by)
{
    for (int i = 0; i < nkey_listeners; i++) {
        key_listeners[i](d, key, by);
    }
}

void signal_write(client *c, int notify_class, const char *event, sv key)
{
    server.dirty++;
    server_key_written(c->db, key, c);
    if (event) {
        notify_event(notify_class, event, key, c->db->id);
    }
}

/* Publishes __keyspace@<db>__:<key> <event> and __keyevent@<db>__:<event>
 * <key> as notify-keyspace-events selects. */
void (*notify_module_hook)(int notify_class, const char *event, sv key, int dbid);

void notify_event(int notify_class, const char *event, sv key, int dbid)
{
    if (notify_module_hook) {
        notify_module_hook(notify_class, event, key, dbid);
    }
    int flags = server.cfg.notify_keyspace_events;
    if (!notify_publish || !(flags & notify_class)) {
        return;
    }
    size_t elen = strlen(event);
    if (flags & NOTIFY_KEYSPACE) {
        str ch = str_empty(32 + key.len);
        ch = str_printf(ch, "__keyspace@%d__:", dbid);
        ch = str_append(ch, key.ptr, key.len);
        notify_publish((sv){ch, str_len(ch)}, (sv){event, elen});
        str_free(ch);
    }
    if (flags & NOTIFY_KEYEVENT) {
        str ch = str_empty(32 + elen);
        ch = str_printf(ch, "__keyevent@%d__:%s", dbid, event);
        notify_publish((sv){ch, str_len(ch)}, key);
        str_free(ch);
    }
}
