/* acl_log: the ACL LOG, recent denials and failed AUTHs, newest first.
 *
 * As in Redis, a denial like one logged in the last 60 seconds (same
 * reason, context, object and user) updates that entry (count, time,
 * client) instead of adding one, so a client retrying in a loop cannot
 * flush the log. Its length is capped by acllog-max-len. Entries carry
 * Redis 7.2's entry-id and timestamps besides 7.0's fields. */
#include <string.h>

#include "acl/acl.h"
#include "base/alloc.h"
#include "server/server.h"

#define GROUPING_MS 60000

typedef struct log_entry {
    long long count;
    int reason;
    int context;
    str object;
    str username;
    int64_t ctime;   /* ms */
    int64_t updated; /* ms */
    long long id;
    str cinfo;
    struct log_entry *next; /* older */
} log_entry;

static log_entry *head;
static long long nentries;
static long long next_id;

static void entry_free(log_entry *e)
{
    str_free(e->object);
    str_free(e->username);
    str_free(e->cinfo);
    alloc_free(e);
}

static int same_str(str s, sv v)
{
    return str_len(s) == v.len && memcmp(s, v.ptr, v.len) == 0;
}

static void trim(void)
{
    long long max = server.cfg.acllog_max_len;
    log_entry **pp = &head;
    long long n = 0;
    while (*pp) {
        if (n >= max) {
            log_entry *dead = *pp;
            *pp = dead->next;
            entry_free(dead);
            nentries--;
        } else {
            pp = &(*pp)->next;
            n++;
        }
    }
}

void acl_log_add(client *c, int reason, int context, sv object, sv username)
{
    if (reason > ACL_OK && reason <= ACL_DENIED_CHANNEL) {
        server.stats.acl_denied[reason]++;
    }
    int64_t now = server_ms();
    str info = str_empty(256);
    client_info_line(c, &info);
    /* Like Redis, only the 10 newest entries are candidates to merge with. */
    int scanned = 0;
    for (log_entry **pp = &head; *pp && scanned < 10; pp = &(*pp)->next, scanned++) {
        log_entry *e = *pp;
        if (e->reason == reason && e->context == context && same_str(e->object, object) &&
            same_str(e->username, username) && now - e->updated < GROUPING_MS) {
            e->count++;
            e->updated = now;
            str_free(e->cinfo);
            e->cinfo = info;
            /* Moved to the front: it is the most recent event. */
            *pp = e->next;
            e->next = head;
            head = e;
            return;
        }
    }
    log_entry *e = alloc_zero(sizeof(*e));
    e->count = 1;
    e->reason = reason;
    e->context = context;
    e->object = str_new(object.ptr, object.len);
    e->username = str_new(username.ptr, username.len);
    e->ctime = e->updated = now;
    e->id = next_id++;
    e->cinfo = info;
    e->next = head;
    head = e;
    nentries++;
    trim();
}

void acl_log_reset(void)
{
    while (head) {
        log_entry *e = head;
        head = e->next;
        entry_free(e);
    }
    nentries = 0;
}

static const char *reason_name(int r)
{
    switch (r) {
    case ACL_DENIED_CMD: return "command";
    case ACL_DENIED_KEY: return "key";
    case ACL_DENIED_CHANNEL: return "channel";
    default: return "auth";
    }
}

static const char *context_name(int ctx)
{
    return ctx == ACL_CTX_MULTI ? "multi" : ctx == ACL_CTX_LUA ? "lua" : ctx == ACL_CTX_MODULE ? "module" : "toplevel";
}

void acl_log_reply(client *c, long long count)
{
    trim(); /* acllog-max-len may have shrunk */
    long long n = count < nentries ? count : nentries;
    int64_t now = server_ms();
    reply_array(R(c), n);
    log_entry *e = head;
    for (long long i = 0; i < n; i++, e = e->next) {
        reply_map(R(c), 10);
        reply_bulk_cstr(R(c), "count");
        reply_int(R(c), e->count);
        reply_bulk_cstr(R(c), "reason");
        reply_bulk_cstr(R(c), reason_name(e->reason));
        reply_bulk_cstr(R(c), "context");
        reply_bulk_cstr(R(c), context_name(e->context));
        reply_bulk_cstr(R(c), "object");
        reply_bulk(R(c), e->object, str_len(e->object));
        reply_bulk_cstr(R(c), "username");
        reply_bulk(R(c), e->username, str_len(e->username));
        reply_bulk_cstr(R(c), "age-seconds");
        reply_double(R(c), (double)(now - e->ctime) / 1000.0);
        reply_bulk_cstr(R(c), "client-info");
        reply_bulk(R(c), e->cinfo, str_len(e->cinfo));
        reply_bulk_cstr(R(c), "entry-id");
        reply_int(R(c), e->id);
        reply_bulk_cstr(R(c), "timestamp-created");
        reply_int(R(c), e->ctime);
        reply_bulk_cstr(R(c), "timestamp-last-updated");
        reply_int(R(c), e->updated);
    }
}
