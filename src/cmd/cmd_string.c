/* String commands: GET/SET and friends, counters, ranges, and the
 * compare-and-set / compare-and-delete forms (Redis 8.4's IFEQ, IFNE and
 * their digest variants, DELEX, DIGEST) used to update and release locks
 * without Lua. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/util.h"
#include "server/server.h"

/* ---- shared helpers ---- */

/* Looks up a string key (mode: LOOKUP_FOR_*); replies WRONGTYPE and
 * returns -1 on a type mismatch, 0 if absent, 1 if found. */
static int get_string(client *c, sv key, kobj **out, int mode)
{
    int bad;
    *out = lookup_typed(c, key, OBJ_STRING, mode, &bad);
    return bad ? -1 : *out != NULL;
}

static void reply_value(client *c, kobj *o)
{
    char buf[32];
    sv v = kobj_str(o, buf);
    reply_bulk(R(c), v.ptr, v.len);
}

static int check_size(client *c, size_t len)
{
    if (len > (unsigned long long)server.cfg.proto_max_bulk_len && !client_must_obey(c)) {
        reply_err(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return 0;
    }
    return 1;
}

/* Propagates "SET key value PXAT when" (or plain SET / KEEPTTL form). */
static void propagate_set(client *c, sv key, sv val, int64_t expire, int keepttl)
{
    char tbuf[32];
    sv argv[5] = {SV("SET"), key, val, SV("PXAT"), {tbuf, 0}};
    int argc = 3;
    if (expire >= 0) {
        argv[4].len = (size_t)util_ll2str(tbuf, expire);
        argc = 5;
    } else if (keepttl) {
        argv[3] = SV("KEEPTTL");
        argc = 4;
    }
    propagate_also(c, argv, argc);
}

/* Turns an EX/PX/EXAT/PXAT argument into an absolute ms time. Returns 0
 * and replies "invalid expire time" on bad input. */
static int parse_expire(client *c, sv arg, int unit_ms, int absolute, const char *cmdname, int64_t *out)
{
    long long v;
    if (!util_parse_ll(arg.ptr, arg.len, &v)) {
        reply_not_integer(c);
        return 0;
    }
    if (v <= 0 || (unit_ms == 0 && v > LLONG_MAX / 1000)) {
        reply_errf(c, "ERR invalid expire time in '%s' command", cmdname);
        return 0;
    }
    if (unit_ms == 0) {
        v *= 1000;
    }
    if (!absolute) {
        if (v > LLONG_MAX - db_time()) {
            reply_errf(c, "ERR invalid expire time in '%s' command", cmdname);
            return 0;
        }
        v += db_time();
    }
    *out = v;
    return 1;
}

/* Which expiry option a is: 1 EX, 2 PX, 3 EXAT, 4 PXAT, 0 none. Like Redis,
 * SET and GETEX accept the same option twice (the last value wins) but not
 * two different ones, and check the value only after all options parsed. */
static int expiry_kind(sv a)
{
    static const char *const names[] = {"EX", "PX", "EXAT", "PXAT"};
    for (int k = 0; k < 4; k++) {
        if (sv_eq_ci(a, names[k])) {
            return k + 1;
        }
    }
    return 0;
}

static int parse_expiry_kind(client *c, sv arg, int kind, const char *cmdname, int64_t *out)
{
    return parse_expire(c, arg, kind == 2 || kind == 4, kind >= 3, cmdname, out);
}

/* Stores val at key with the given absolute expiry (-1 none); an expiry
 * already in the past deletes the key instead, as Redis does (but see
 * expire_time_passed). */
static void store(client *c, sv key, sv val, int64_t expire, int keepttl, kobj *old)
{
    int kept = keepttl && old;
    if (kept) {
        expire = kobj_expire(old);
    }
    if (expire >= 0 && expire_time_passed(expire)) {
        if (!cmd_delete_key(c, key)) {
            propagate_none(c);
        }
        return;
    }
    db_set(c->db, kobj_new_string(key, val, expire));
    signal_write(c, NOTIFY_STRING, "set", key);
    if (expire >= 0 && !kept) { /* a kept TTL is no new expire event */
        notify_event(NOTIFY_GENERIC, "expire", key, c->db->id);
    }
    propagate_set(c, key, val, expire, kept && expire < 0);
}

/* ---- compare conditions (Redis 8.4) ---- */

enum { CMP_NONE, CMP_IFEQ, CMP_IFNE, CMP_IFDEQ, CMP_IFDNE };

static int compare_kind(sv a)
{
    static const char *const names[] = {"IFEQ", "IFNE", "IFDEQ", "IFDNE"};
    for (int k = 0; k < 4; k++) {
        if (sv_eq_ci(a, names[k])) {
            return k + 1;
        }
    }
    return CMP_NONE;
}

/* DIGEST's value: XXH3 (64 bits, seed 0) of the string's bytes. */
static uint64_t value_digest(kobj *o)
{
    char buf[32];
    sv v = kobj_str(o, buf);
    return XXH3_64bits(v.ptr, v.len);
}

/* Whether the string at old (NULL: absent) passes the condition. A missing
 * key equals nothing: IFEQ/IFDEQ fail and IFNE/IFDNE pass on it. A digest
 * is checked only when there is a value to compare: exactly 16 hex digits,
 * either case. -1 after replying that error. */
static int compare_passes(client *c, kobj *old, int kind, sv arg)
{
    if (!old) {
        return kind == CMP_IFNE || kind == CMP_IFDNE;
    }
    if (kind == CMP_IFEQ || kind == CMP_IFNE) {
        char buf[32];
        return sv_eq(kobj_str(old, buf), arg) == (kind == CMP_IFEQ);
    }
    uint64_t want = 0;
    for (size_t i = 0; i < arg.len && arg.len == 16; i++) {
        int ch = arg.ptr[i], d = ch >= '0' && ch <= '9'   ? ch - '0'
                                 : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                          : -1;
        if (d < 0) {
            break;
        }
        want = want << 4 | (uint64_t)d;
        if (i == 15) {
            return (value_digest(old) == want) == (kind == CMP_IFDEQ);
        }
    }
    reply_err(c, "ERR The digest must be exactly 16 hexadecimal characters");
    return -1;
}

/* DIGEST key: the value's XXH3 as 16 lowercase hex digits, nil if absent. */
void cmd_digest(client *c)
{
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_READ);
    if (rc <= 0) {
        if (rc == 0) {
            reply_null(R(c));
        }
        return;
    }
    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)value_digest(o));
    reply_bulk(R(c), hex, 16);
}

/* ---- GET / SET ---- */

void cmd_get(client *c)
{
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_READ);
    if (rc < 0) {
        return;
    }
    if (rc == 0) {
        reply_null(R(c));
        return;
    }
    reply_value(c, o);
}

#define SET_NX 1
#define SET_XX 2
#define SET_IF 4 /* IFEQ, IFNE, IFDEQ or IFDNE */
#define SET_GET 8
#define SET_KEEPTTL 16
#define SET_EXPIRE 32

void cmd_set(client *c)
{
    int flags = 0, kind = 0, cmp = CMP_NONE;
    int64_t expire = -1;
    sv cmp_arg = {0}, when = {0};
    for (int i = 3; i < c->argc; i++) {
        sv a = c->argv[i];
        int has_next = i + 1 < c->argc;
        int k = expiry_kind(a);
        int ck = compare_kind(a);
        if (sv_eq_ci(a, "NX") && !(flags & (SET_XX | SET_IF))) {
            flags |= SET_NX;
        } else if (sv_eq_ci(a, "XX") && !(flags & (SET_NX | SET_IF))) {
            flags |= SET_XX;
        } else if (ck && has_next && !(flags & (SET_NX | SET_XX | SET_IF))) {
            flags |= SET_IF;
            cmp = ck;
            cmp_arg = c->argv[++i];
        } else if (sv_eq_ci(a, "GET")) {
            flags |= SET_GET;
        } else if (sv_eq_ci(a, "KEEPTTL") && !(flags & (SET_EXPIRE))) {
            flags |= SET_KEEPTTL;
        } else if (k && has_next && !(flags & SET_KEEPTTL) && (!kind || kind == k)) {
            flags |= SET_EXPIRE;
            kind = k;
            when = c->argv[++i];
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (kind && !parse_expiry_kind(c, when, kind, "set", &expire)) {
        return;
    }
    sv key = c->argv[1], val = c->argv[2];
    /* GET reads the old value as GET does (stats, keymiss). */
    kobj *old = (flags & SET_GET) ? lookup_read_write(c, key) : db_lookup(c->db, key, LOOKUP_NOTOUCH);
    if (old && old->type != OBJ_STRING && (flags & (SET_GET | SET_IF))) {
        reply_wrongtype(c);
        return;
    }
    int ok = 1;
    if ((flags & SET_NX) && old) {
        ok = 0;
    } else if ((flags & SET_XX) && !old) {
        ok = 0;
    } else if (flags & SET_IF) {
        ok = compare_passes(c, old, cmp, cmp_arg);
        if (ok < 0) {
            return;
        }
    }
    /* GET's reply is the old value whether or not the set happens. */
    if (flags & SET_GET) {
        if (old) {
            reply_value(c, old);
        } else {
            reply_null(R(c));
        }
    }
    if (!ok) {
        if (!(flags & SET_GET)) {
            reply_null(R(c));
        }
        return;
    }
    store(c, key, val, expire, flags & SET_KEEPTTL, old);
    if (!(flags & SET_GET)) {
        reply_ok(R(c));
    }
}

void cmd_setnx(client *c)
{
    if (db_lookup(c->db, c->argv[1], LOOKUP_NOTOUCH)) {
        reply_int(R(c), 0);
        return;
    }
    store(c, c->argv[1], c->argv[2], -1, 0, NULL);
    reply_int(R(c), 1);
}

static void setex_generic(client *c, int ms, const char *name)
{
    int64_t expire;
    if (!parse_expire(c, c->argv[2], ms, 0, name, &expire)) {
        return;
    }
    store(c, c->argv[1], c->argv[3], expire, 0, NULL);
    reply_ok(R(c));
}

void cmd_setex(client *c)
{
    setex_generic(c, 0, "setex");
}

void cmd_psetex(client *c)
{
    setex_generic(c, 1, "psetex");
}

void cmd_getset(client *c)
{
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_READ_WRITE);
    if (rc < 0) {
        return;
    }
    if (rc) {
        reply_value(c, o);
    } else {
        reply_null(R(c));
    }
    store(c, c->argv[1], c->argv[2], -1, 0, NULL);
}

void cmd_getdel(client *c)
{
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_READ_WRITE);
    if (rc <= 0) {
        if (rc == 0) {
            reply_null(R(c));
        }
        return;
    }
    reply_value(c, o);
    cmd_delete_key(c, c->argv[1]);
}

void cmd_getex(client *c)
{
    int64_t expire = -1;
    int persist = 0, kind = 0;
    sv when = {0};
    for (int i = 2; i < c->argc; i++) {
        sv a = c->argv[i];
        int k = expiry_kind(a);
        if (sv_eq_ci(a, "PERSIST") && !kind) {
            persist = 1;
        } else if (k && i + 1 < c->argc && !persist && (!kind || kind == k)) {
            kind = k;
            when = c->argv[++i];
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    int has_expire = kind != 0;
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_READ_WRITE);
    if (rc <= 0) {
        if (rc == 0) {
            reply_null(R(c));
        }
        return;
    }
    /* Redis checks the key and its type before the expiry value. */
    if (kind && !parse_expiry_kind(c, when, kind, "getex", &expire)) {
        return;
    }
    reply_value(c, o);
    sv key = c->argv[1];
    if (has_expire) {
        cmd_expire_key(c, o, key, expire);
    } else if (persist && o->has_expire) {
        db_set_expire(c->db, o, -1);
        sv argv[2] = {SV("PERSIST"), key};
        propagate_also(c, argv, 2);
        signal_write(c, NOTIFY_GENERIC, "persist", key);
    }
}

void cmd_mget(client *c)
{
    reply_array(R(c), c->argc - 1);
    for (int i = 1; i < c->argc; i++) {
        kobj *o = lookup_read(c, c->argv[i]);
        if (!o || o->type != OBJ_STRING) {
            reply_null(R(c));
        } else {
            reply_value(c, o);
        }
    }
}

static int mset_generic(client *c, int nx)
{
    if (c->argc % 2 == 0) {
        reply_arity_error(c);
        return -1;
    }
    if (nx) {
        for (int i = 1; i < c->argc; i += 2) {
            if (db_lookup(c->db, c->argv[i], LOOKUP_NOTOUCH)) {
                return 0;
            }
        }
    }
    for (int i = 1; i < c->argc; i += 2) {
        db_set(c->db, kobj_new_string(c->argv[i], c->argv[i + 1], -1));
        signal_write(c, NOTIFY_STRING, "set", c->argv[i]);
    }
    return 1;
}

void cmd_mset(client *c)
{
    if (mset_generic(c, 0) > 0) {
        reply_ok(R(c));
    }
}

void cmd_msetnx(client *c)
{
    int rc = mset_generic(c, 1);
    if (rc >= 0) {
        reply_int(R(c), rc);
    }
}

/* MSETEX numkeys key value [key value ...] [NX | XX] [EX s | PX ms |
 * EXAT s | PXAT ms | KEEPTTL] (Redis 8.4): all the keys or none (NX: none
 * may exist, XX: all must), with one expiry; replies 1 if it set them.
 * Each key is propagated as its own SET with an absolute PXAT (Redis 7.0
 * replicas read it), wrapped in MULTI/EXEC. */
void cmd_msetex(client *c)
{
    long long n;
    if (!util_parse_ll(c->argv[1].ptr, c->argv[1].len, &n) || n < 1 || n > INT_MAX) {
        reply_err(c, "ERR invalid numkeys value");
        return;
    }
    if (n > (c->argc - 2) / 2) {
        reply_err(c, "ERR wrong number of key-value pairs");
        return;
    }
    int nx = 0, xx = 0, keepttl = 0, kind = 0;
    sv when = {0};
    for (int i = 2 + 2 * (int)n; i < c->argc; i++) {
        sv a = c->argv[i];
        int k = expiry_kind(a);
        if ((sv_eq_ci(a, "NX") || sv_eq_ci(a, "XX")) && !nx && !xx) {
            *(sv_eq_ci(a, "NX") ? &nx : &xx) = 1;
        } else if (sv_eq_ci(a, "KEEPTTL") && !keepttl && !kind) {
            keepttl = 1;
        } else if (k && i + 1 < c->argc && !keepttl && !kind) {
            kind = k;
            when = c->argv[++i];
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    int64_t expire = -1;
    if (kind && !parse_expiry_kind(c, when, kind, "msetex", &expire)) {
        return;
    }
    int end = 2 + 2 * (int)n;
    if (nx || xx) {
        for (int i = 2; i < end; i += 2) {
            if ((db_lookup(c->db, c->argv[i], LOOKUP_NOTOUCH) != NULL) != xx) {
                reply_int(R(c), 0);
                return;
            }
        }
    }
    for (int i = 2; i < end; i += 2) {
        store(c, c->argv[i], c->argv[i + 1], expire, keepttl, db_lookup(c->db, c->argv[i], LOOKUP_NOTOUCH));
    }
    reply_int(R(c), 1);
}

/* ---- in-place edits ---- */

/* Declared in server.h: bitmaps and HyperLogLogs edit strings in place too. */
kobj *string_make_raw(client *c, sv key, kobj *o)
{
    if (!o) {
        kobj *n = kobj_new_raw(key, str_empty(0), -1);
        db_add(c->db, n);
        return n;
    }
    if (o->enc == ENC_RAW) {
        return o;
    }
    char buf[32];
    sv v = kobj_str(o, buf);
    kobj *n = kobj_new_raw(key, str_new(v.ptr, v.len), kobj_expire(o));
    n->lru = o->lru;
    db_swap_entry(c->db, o, n);
    kobj_free(o);
    return n;
}

/* The string entry o of key (NULL: absent) made raw and at least len bytes
 * long, growing with zeros; *grew says whether it was created or grew. */
kobj *string_grow(client *c, sv key, kobj *o, size_t len, int *grew)
{
    if (!o) {
        /* A new key: one allocation of the exact size (Redis's size too). */
        str s = str_empty(len);
        memset(s, 0, len);
        str_set_len(s, len);
        o = kobj_new_raw(key, s, -1);
        db_add(c->db, o);
        *grew = 1;
        return o;
    }
    char buf[32];
    size_t before = kobj_str(o, buf).len;
    *grew = before < len;
    o = string_make_raw(c, key, o);
    if (*grew) {
        kobj_set_raw(o, str_grow_zero(kobj_raw(o), len));
    }
    return o;
}

void cmd_append(client *c)
{
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_WRITE);
    if (rc < 0) {
        return;
    }
    char buf[32];
    size_t cur = o ? kobj_str(o, buf).len : 0;
    if (!check_size(c, cur + c->argv[2].len)) {
        return;
    }
    size_t len = c->argv[2].len;
    if (!o) {
        /* A new key is stored as SET stores its value (an integer, or a
         * short string inline), as Redis does. */
        db_add(c->db, kobj_new_string(c->argv[1], c->argv[2], -1));
    } else {
        o = string_make_raw(c, c->argv[1], o);
        str s = str_append(kobj_raw(o), c->argv[2].ptr, c->argv[2].len);
        kobj_set_raw(o, s);
        len = str_len(s);
    }
    signal_write(c, NOTIFY_STRING, "append", c->argv[1]);
    reply_int(R(c), (long long)len);
}

void cmd_strlen(client *c)
{
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_READ);
    if (rc < 0) {
        return;
    }
    char buf[32];
    reply_int(R(c), rc ? (long long)kobj_str(o, buf).len : 0);
}

void cmd_setrange(client *c)
{
    long long off;
    if (!arg_ll(c, 2, &off)) {
        return;
    }
    if (off < 0) {
        reply_err(c, "ERR offset is out of range");
        return;
    }
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_WRITE);
    if (rc < 0) {
        return;
    }
    sv val = c->argv[3];
    char buf[32];
    size_t cur = o ? kobj_str(o, buf).len : 0;
    if (val.len == 0) {
        reply_int(R(c), (long long)cur);
        return;
    }
    if (!check_size(c, (size_t)off + val.len)) { /* no wrap: off <= LLONG_MAX, compared unsigned */
        return;
    }
    int grew;
    o = string_grow(c, c->argv[1], o, (size_t)off + val.len, &grew);
    str s = kobj_raw(o);
    memcpy(s + off, val.ptr, val.len);
    signal_write(c, NOTIFY_STRING, "setrange", c->argv[1]);
    reply_int(R(c), (long long)str_len(s));
}

void cmd_getrange(client *c)
{
    long long start, end;
    if (!arg_ll(c, 2, &start) || !arg_ll(c, 3, &end)) {
        return;
    }
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_READ);
    if (rc < 0) {
        return;
    }
    char buf[32];
    sv v = rc ? kobj_str(o, buf) : (sv){"", 0};
    long long len = (long long)v.len;
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(R(c), "", 0);
        return;
    }
    if (start < 0) {
        start = len + start;
    }
    if (end < 0) {
        end = len + end;
    }
    if (start < 0) {
        start = 0;
    }
    if (end < 0) {
        end = 0;
    }
    if (end >= len) {
        end = len - 1;
    }
    if (len == 0 || start > end) {
        reply_bulk(R(c), "", 0);
        return;
    }
    reply_bulk(R(c), v.ptr + start, (size_t)(end - start + 1));
}

/* ---- counters ---- */

static void incr_generic(client *c, long long by)
{
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_WRITE);
    if (rc < 0) {
        return;
    }
    long long v = 0;
    if (o && !kobj_get_int(o, &v)) {
        char buf[32];
        sv s = kobj_str(o, buf);
        if (!util_parse_ll(s.ptr, s.len, &v)) {
            reply_not_integer(c);
            return;
        }
    }
    if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
        reply_err(c, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    if (o && o->enc == ENC_INT) {
        kobj_set_int(o, v); /* in place: no allocation on the hot path */
    } else {
        kobj *n = kobj_new_int(c->argv[1], v, o ? kobj_expire(o) : -1);
        if (o) {
            n->lru = o->lru;
            db_swap_entry(c->db, o, n);
            kobj_free(o);
        } else {
            db_add(c->db, n);
        }
    }
    signal_write(c, NOTIFY_STRING, "incrby", c->argv[1]);
    reply_int(R(c), v);
}

void cmd_incr(client *c)
{
    incr_generic(c, 1);
}

void cmd_decr(client *c)
{
    incr_generic(c, -1);
}

void cmd_incrby(client *c)
{
    long long by;
    if (arg_ll(c, 2, &by)) {
        incr_generic(c, by);
    }
}

void cmd_decrby(client *c)
{
    long long by;
    if (!arg_ll(c, 2, &by)) {
        return;
    }
    if (by == LLONG_MIN) {
        reply_err(c, "ERR decrement would overflow");
        return;
    }
    incr_generic(c, -by);
}

void cmd_incrbyfloat(client *c)
{
    long double by, v = 0;
    /* Redis checks the key's type and value before the increment. */
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_WRITE);
    if (rc < 0) {
        return;
    }
    if (o) {
        char buf[32];
        sv s = kobj_str(o, buf);
        if (!util_parse_long_double(s.ptr, s.len, &v)) {
            reply_not_float(c);
            return;
        }
    }
    if (!util_parse_long_double(c->argv[2].ptr, c->argv[2].len, &by)) {
        reply_not_float(c);
        return;
    }
    v += by;
    if (isnan(v) || isinf(v)) {
        reply_err(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char out[5 * 1024];
    int n = util_ld2str(out, sizeof(out), v);
    if (n < 0) {
        reply_err(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    sv val = {out, (size_t)n};
    db_set(c->db, kobj_new_string(c->argv[1], val, o ? kobj_expire(o) : -1));
    signal_write(c, NOTIFY_STRING, "incrbyfloat", c->argv[1]);
    /* Replay must not redo float arithmetic: propagate the result. */
    propagate_set(c, c->argv[1], val, -1, 1);
    reply_bulk(R(c), out, (size_t)n);
}

/* ---- compare-and-delete ---- */

void cmd_delifeq(client *c)
{
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_WRITE);
    if (rc < 0) {
        return;
    }
    char buf[32];
    if (rc && sv_eq(kobj_str(o, buf), c->argv[2])) {
        cmd_delete_key(c, c->argv[1]);
        reply_int(R(c), 1);
    } else {
        reply_int(R(c), 0);
    }
}

/* DELEX key [IFEQ v | IFNE v | IFDEQ digest | IFDNE digest] (Redis 8.4):
 * without a condition any key goes, as with DEL; with one, only a string
 * that passes it. */
void cmd_delex(client *c)
{
    if (c->argc == 2) {
        int existed = db_lookup(c->db, c->argv[1], LOOKUP_NOTOUCH) != NULL;
        if (existed) {
            cmd_delete_key(c, c->argv[1]);
        }
        reply_int(R(c), existed);
        return;
    }
    if (c->argc != 4) {
        reply_arity_error(c);
        return;
    }
    int kind = compare_kind(c->argv[2]);
    if (!kind) {
        reply_err(c, "ERR Invalid condition. Use IFEQ, IFNE, IFDEQ, or IFDNE");
        return;
    }
    kobj *o;
    int rc = get_string(c, c->argv[1], &o, LOOKUP_FOR_WRITE);
    if (rc <= 0) {
        if (rc == 0) {
            reply_int(R(c), 0);
        }
        return;
    }
    int pass = compare_passes(c, o, kind, c->argv[3]);
    if (pass < 0) {
        return;
    }
    if (pass) {
        cmd_delete_key(c, c->argv[1]);
    }
    reply_int(R(c), pass);
}
