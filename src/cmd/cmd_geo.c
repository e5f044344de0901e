/* Geo commands: points kept in a sorted set whose scores are Redis's 52-bit
 * geohash cells (types/geohash), so a set written here or by Redis reads
 * the same in both. GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH[STORE] and
 * the deprecated GEORADIUS[BYMEMBER][_RO]. A search scans the score ranges
 * of at most 9 cells around the shape, as Redis does, so it finds the same
 * candidates in the same order; replies and errors follow Redis 7.0. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "server/server.h"
#include "types/geohash.h"
#include "types/zset.h"

/* ---- argument parsing ---- */

/* Meters per unit, or -1 (after replying the error). */
static double arg_unit(client *c, int i)
{
    sv u = c->argv[i];
    if (sv_eq_ci(u, "m")) {
        return 1;
    }
    if (sv_eq_ci(u, "km")) {
        return 1000;
    }
    if (sv_eq_ci(u, "ft")) {
        return 0.3048;
    }
    if (sv_eq_ci(u, "mi")) {
        return 1609.34;
    }
    reply_err(c, "ERR unsupported unit provided. please use M, KM, FT, MI");
    return -1;
}

/* A longitude and latitude at argv[i], argv[i + 1]. */
static int arg_lonlat(client *c, int i, double *lon, double *lat)
{
    if (!arg_double(c, i, lon) || !arg_double(c, i + 1, lat)) {
        return 0;
    }
    if (!geo_valid(*lon, *lat)) {
        reply_errf(c, "ERR invalid longitude,latitude pair %f,%f", *lon, *lat);
        return 0;
    }
    return 1;
}

/* A double with its own error text (Redis's "need numeric radius"...). */
static int arg_double_or(client *c, int i, double *v, const char *err)
{
    if (!util_parse_double(c->argv[i].ptr, c->argv[i].len, v)) {
        reply_err(c, err);
        return 0;
    }
    return 1;
}

/* "radius unit" at argv[i]. */
static int arg_radius(client *c, int i, geo_shape *s)
{
    double r;
    if (!arg_double_or(c, i, &r, "ERR need numeric radius")) {
        return 0;
    }
    if (r < 0) {
        reply_err(c, "ERR radius cannot be negative");
        return 0;
    }
    s->radius = r;
    s->conv = arg_unit(c, i + 1);
    return s->conv >= 0;
}

/* "width height unit" at argv[i]. */
static int arg_box(client *c, int i, geo_shape *s)
{
    double w, h;
    if (!arg_double_or(c, i, &w, "ERR need numeric width") || !arg_double_or(c, i + 1, &h, "ERR need numeric height")) {
        return 0;
    }
    if (h < 0 || w < 0) {
        reply_err(c, "ERR height or width cannot be negative");
        return 0;
    }
    s->width = w;
    s->height = h;
    s->conv = arg_unit(c, i + 2);
    return s->conv >= 0;
}

/* The decoded position of a member; 0 when it is not in the set. */
static int member_pos(zset *z, sv member, double *lon, double *lat)
{
    double score;
    if (!zset_score(z, member, &score)) {
        return 0;
    }
    geo_decode(score, lon, lat);
    return 1;
}

/* ---- replies ---- */

/* A coordinate as Redis prints it: 17 decimals, trailing zeros (and a
 * bare point) dropped; a bulk string in RESP2, a double in RESP3. */
static void reply_coord(client *c, double v)
{
    char buf[400];
    int n = snprintf(buf + 1, sizeof(buf) - 3, "%.17f", v);
    if (n < 0 || n >= (int)sizeof(buf) - 3) {
        n = snprintf(buf + 1, sizeof(buf) - 3, "%s", v < 0 ? "-inf" : "inf");
    }
    char *t = buf + 1;
    if (memchr(t, '.', (size_t)n)) {
        while (t[n - 1] == '0') {
            n--;
        }
        if (t[n - 1] == '.') {
            n--;
        }
    }
    if (n == 2 && t[0] == '-' && t[1] == '0') {
        t[0] = '0';
        n = 1;
    }
    if (c->resp == 2) {
        reply_bulk(R(c), t, (size_t)n);
        return;
    }
    buf[0] = ',';
    memcpy(t + n, "\r\n", 2);
    reply_raw(R(c), buf, (size_t)n + 3);
}

static void reply_coords(client *c, double lon, double lat)
{
    reply_array(R(c), 2);
    reply_coord(c, lon);
    reply_coord(c, lat);
}

/* A distance: a bulk string with 4 decimals in both protocols. Redis
 * scales by 10^4 and rounds to an integer (half to even, the FPU's mode)
 * rather than printing with %.4f: the two differ when the scaled value
 * lands on a half, so do as it does. */
static void reply_distance(client *c, double d)
{
    char buf[400];
    int n;
    double scaled = d * 10000;
    if (fabs(scaled) < 9e18) {
        long long v = llrint(scaled);
        unsigned long long a = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
        n = snprintf(buf, sizeof(buf), "%s%llu.%04llu", v < 0 ? "-" : "", a / 10000, a % 10000);
    } else {
        n = snprintf(buf, sizeof(buf), "%.4f", d);
        if (n < 0 || n >= (int)sizeof(buf)) {
            n = snprintf(buf, sizeof(buf), "%s", d < 0 ? "-inf" : "inf");
        }
    }
    reply_bulk(R(c), buf, (size_t)n);
}

/* ---- GEOADD ---- */

void cmd_geoadd(client *c)
{
    int nx = 0, xx = 0, ch = 0, idx = 2;
    for (; idx < c->argc; idx++) {
        if (sv_eq_ci(c->argv[idx], "nx")) {
            nx = 1;
        } else if (sv_eq_ci(c->argv[idx], "xx")) {
            xx = 1;
        } else if (sv_eq_ci(c->argv[idx], "ch")) {
            ch = 1;
        } else {
            break;
        }
    }
    int elements = (c->argc - idx) / 3;
    if ((c->argc - idx) % 3 || (nx && xx) || elements == 0) {
        reply_syntax_error(c);
        return;
    }
    /* Every pair is checked before anything changes. The ZADD this
     * replays as is built at the same time: "zadd key opts score member...". */
    int pargc = idx + 2 * elements;
    sv stack_argv[64];
    char stack_scores[16][24];
    sv *pargv = pargc <= 64 ? stack_argv : alloc_mem(sizeof(sv) * (size_t)pargc);
    char(*scores)[24] = elements <= 16 ? stack_scores : alloc_mem(24 * (size_t)elements);
    size_t maxlen = 0;
    for (int i = 0; i < elements; i++) {
        int a = idx + 3 * i;
        double lon, lat;
        if (!arg_lonlat(c, a, &lon, &lat)) {
            goto done;
        }
        int n = util_ll2str(scores[i], (long long)geo_score(lon, lat));
        pargv[idx + 2 * i] = (sv){scores[i], (size_t)n};
        pargv[idx + 2 * i + 1] = c->argv[a + 2];
        if (c->argv[a + 2].len > maxlen) {
            maxlen = c->argv[a + 2].len;
        }
    }
    sv key = c->argv[1];
    int bad;
    kobj *o = lookup_typed(c, key, OBJ_ZSET, 1, &bad);
    if (bad) {
        goto done;
    }
    zset_set_limits((size_t)server.cfg.zset_max_listpack_entries, (size_t)server.cfg.zset_max_listpack_value);
    long long added = 0, updated = 0;
    if (o || !xx) {
        zset *z = o ? kobj_ptr(o) : zset_new((size_t)elements, maxlen);
        int flags = (nx ? ZADD_NX : 0) | (xx ? ZADD_XX : 0);
        for (int i = 0; i < elements; i++) {
            int out;
            sv s = pargv[idx + 2 * i];
            z = zset_add(z, (double)strtoll(s.ptr, NULL, 10), pargv[idx + 2 * i + 1], flags, &out, NULL);
            added += (out & ZADD_OUT_ADDED) != 0;
            updated += (out & ZADD_OUT_UPDATED) != 0;
        }
        if (o) {
            kobj_set_ptr(o, z);
        } else if (zset_len(z)) {
            db_add(c->db, kobj_new_ptr(key, OBJ_ZSET, z, -1));
        } else {
            zset_free(z);
        }
    }
    reply_int(R(c), ch ? added + updated : added);
    if (added || updated) {
        pargv[0] = SV("zadd");
        for (int i = 1; i < idx; i++) {
            pargv[i] = c->argv[i];
        }
        propagate_also(c, pargv, pargc);
        signal_write(c, NOTIFY_ZSET, "zadd", key);
    }
done:
    if (pargv != stack_argv) {
        alloc_free(pargv);
    }
    if (scores != stack_scores) {
        alloc_free(scores);
    }
}

/* ---- GEODIST / GEOHASH / GEOPOS ---- */

void cmd_geodist(client *c)
{
    double conv = 1;
    if (c->argc == 5) {
        conv = arg_unit(c, 4);
        if (conv < 0) {
            return;
        }
    } else if (c->argc > 5) {
        reply_syntax_error(c);
        return;
    }
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    double lon1, lat1, lon2, lat2;
    if (!o || !member_pos(kobj_ptr(o), c->argv[2], &lon1, &lat1) ||
        !member_pos(kobj_ptr(o), c->argv[3], &lon2, &lat2)) {
        reply_null(R(c));
        return;
    }
    reply_distance(c, geo_distance(lon1, lat1, lon2, lat2) / conv);
}

void cmd_geohash(client *c)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    reply_array(R(c), c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        double score;
        if (!o || !zset_score(kobj_ptr(o), c->argv[i], &score)) {
            reply_null(R(c));
            continue;
        }
        char h[11];
        geo_hash_string(score, h);
        reply_bulk(R(c), h, sizeof(h));
    }
}

void cmd_geopos(client *c)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    reply_array(R(c), c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        double lon, lat;
        if (!o || !member_pos(kobj_ptr(o), c->argv[i], &lon, &lat)) {
            reply_null_array(R(c));
            continue;
        }
        reply_coords(c, lon, lat);
    }
}

/* ---- searches ---- */

/* A match: the member's bytes stay in the set, which does not change
 * while the command runs (a STORE replaces the key only at the end). */
typedef struct geo_hit {
    sv member;
    double score, dist, lon, lat;
    size_t seq; /* order found: ties in distance keep it, as Redis's sort does */
} geo_hit;

typedef struct geo_hits {
    geo_hit *v;
    size_t n, cap;
} geo_hits;

/* Collects the members inside s, cell by cell in Redis's order, stopping
 * once `limit` were found (0: no limit). */
static void geo_collect(zset *z, const geo_shape *s, size_t limit, geo_hits *h)
{
    geo_plan p;
    geo_plan_search(s, &p);
    for (int i = 0; i < p.n; i++) {
        if (limit && h->n >= limit) {
            return;
        }
        zset_iter it;
        sv m;
        double score;
        zset_iter_from_score(&it, z, p.min[i]);
        while (zset_iter_next(&it, &m, &score) && score < p.max[i]) {
            double lon, lat, dist;
            geo_decode(score, &lon, &lat);
            if (!geo_in_shape(s, lon, lat, &dist)) {
                continue;
            }
            if (h->n == h->cap) {
                h->cap = h->cap ? h->cap * 2 : 16;
                h->v = alloc_resize(h->v, sizeof(geo_hit) * h->cap);
            }
            h->v[h->n] = (geo_hit){m, score, dist, lon, lat, h->n};
            h->n++;
            if (limit && h->n >= limit) {
                return;
            }
        }
    }
}

static int cmp_asc(const void *a, const void *b)
{
    const geo_hit *x = a, *y = b;
    if (x->dist != y->dist) {
        return x->dist < y->dist ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_desc(const void *a, const void *b)
{
    const geo_hit *x = a, *y = b;
    if (x->dist != y->dist) {
        return x->dist > y->dist ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* WITHHASH prints the score as an integer (scores in a searched range are
 * below 2^54, so the conversion is exact). */
static long long score_ll(double s)
{
    return s >= -9223372036854775808.0 && s < 9223372036854775808.0 ? (long long)s : LLONG_MIN;
}

enum { SORT_NONE, SORT_ASC, SORT_DESC };

#define GEO_FROM_COORDS (1 << 0) /* GEORADIUS: center at argv[2..3] */
#define GEO_FROM_MEMBER (1 << 1) /* GEORADIUSBYMEMBER: center member argv[2] */
#define GEO_SEARCH (1 << 2)      /* GEOSEARCH: FROM and BY options */
#define GEO_SEARCHSTORE (1 << 3) /* GEOSEARCHSTORE: dest at argv[1] */
#define GEO_NOSTORE (1 << 4)     /* the _RO variants */

/* Stores the hits at dst (replacing it, or deleting it when there are
 * none) and replies how many were stored. */
static void store_hits(client *c, sv dst, geo_hit *v, size_t n, int storedist, double conv, const char *event)
{
    if (n == 0) {
        if (db_delete(c->db, dst)) {
            signal_write(c, NOTIFY_GENERIC, "del", dst);
        }
        reply_int(R(c), 0);
        return;
    }
    zset_set_limits((size_t)server.cfg.zset_max_listpack_entries, (size_t)server.cfg.zset_max_listpack_value);
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++) {
        maxlen = v[i].member.len > maxlen ? v[i].member.len : maxlen;
    }
    zset *z = zset_new(n, maxlen);
    for (size_t i = 0; i < n; i++) {
        int out;
        z = zset_add(z, storedist ? v[i].dist / conv : v[i].score, v[i].member, 0, &out, NULL);
    }
    db_set(c->db, kobj_new_ptr(dst, OBJ_ZSET, z, -1));
    signal_write(c, NOTIFY_ZSET, event, dst);
    reply_int(R(c), (long long)n);
}

/* Every search command: src_idx is the source key's position. The options
 * are read in Redis's order, so the first error it would report is the
 * one reported here. */
static void search_generic(client *c, int src_idx, int flags)
{
    int bad;
    kobj *o = lookup_typed(c, c->argv[src_idx], OBJ_ZSET, 0, &bad);
    if (bad) {
        return;
    }
    zset *z = o ? kobj_ptr(o) : NULL;
    sv store = {NULL, 0};
    int storedist = 0, base;
    geo_shape s = {0};
    if (flags & GEO_FROM_COORDS) {
        base = 6;
        if (!arg_lonlat(c, 2, &s.lon, &s.lat) || !arg_radius(c, 4, &s)) {
            return;
        }
    } else if (flags & GEO_FROM_MEMBER) {
        base = 5;
        /* Without a set the member is not looked for, nor the radius read:
         * the options are still checked, to pick the empty reply. */
        if (z) {
            if (!member_pos(z, c->argv[2], &s.lon, &s.lat)) {
                reply_err(c, "ERR could not decode requested zset member");
                return;
            }
            if (!arg_radius(c, 3, &s)) {
                return;
            }
        }
    } else {
        base = 2;
        if (flags & GEO_SEARCHSTORE) {
            base = 3;
            store = c->argv[1];
        }
    }
    int withdist = 0, withhash = 0, withcoord = 0, any = 0, sort = SORT_NONE;
    int frommember = 0, fromlonlat = 0, byradius = 0, bybox = 0;
    long long count = 0;
    int search = (flags & GEO_SEARCH) != 0, can_store = !(flags & (GEO_NOSTORE | GEO_SEARCH));
    for (int i = base; i < c->argc; i++) {
        sv a = c->argv[i];
        int left = c->argc - i - 1;
        if (sv_eq_ci(a, "withdist")) {
            withdist = 1;
        } else if (sv_eq_ci(a, "withhash")) {
            withhash = 1;
        } else if (sv_eq_ci(a, "withcoord")) {
            withcoord = 1;
        } else if (sv_eq_ci(a, "any")) {
            any = 1;
        } else if (sv_eq_ci(a, "asc")) {
            sort = SORT_ASC;
        } else if (sv_eq_ci(a, "desc")) {
            sort = SORT_DESC;
        } else if (sv_eq_ci(a, "count") && left >= 1) {
            if (!arg_ll(c, i + 1, &count)) {
                return;
            }
            if (count <= 0) {
                reply_err(c, "ERR COUNT must be > 0");
                return;
            }
            i++;
        } else if ((sv_eq_ci(a, "store") || sv_eq_ci(a, "storedist")) && left >= 1 && can_store) {
            store = c->argv[i + 1];
            storedist = a.len == 9;
            i++;
        } else if (sv_eq_ci(a, "storedist") && (flags & GEO_SEARCHSTORE)) {
            storedist = 1;
        } else if (sv_eq_ci(a, "frommember") && left >= 1 && search && !fromlonlat) {
            if (z && !member_pos(z, c->argv[i + 1], &s.lon, &s.lat)) {
                reply_err(c, "ERR could not decode requested zset member");
                return;
            }
            frommember = 1;
            i++;
        } else if (sv_eq_ci(a, "fromlonlat") && left >= 2 && search && !frommember) {
            if (!arg_lonlat(c, i + 1, &s.lon, &s.lat)) {
                return;
            }
            fromlonlat = 1;
            i += 2;
        } else if (sv_eq_ci(a, "byradius") && left >= 2 && search && !bybox) {
            if (!arg_radius(c, i + 1, &s)) {
                return;
            }
            s.box = 0;
            byradius = 1;
            i += 2;
        } else if (sv_eq_ci(a, "bybox") && left >= 3 && search && !byradius) {
            if (!arg_box(c, i + 1, &s)) {
                return;
            }
            s.box = 1;
            bybox = 1;
            i += 3;
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (store.ptr && (withdist || withhash || withcoord)) {
        reply_errf(c, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                   (flags & GEO_SEARCHSTORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return;
    }
    /* The command's name as the client typed it, as Redis prints it. */
    sv name = c->argv[0];
    if (search && !(frommember || fromlonlat)) {
        reply_errf(c, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s", (int)name.len, name.ptr);
        return;
    }
    if (search && !(byradius || bybox)) {
        reply_errf(c, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s", (int)name.len, name.ptr);
        return;
    }
    if (any && !count) {
        reply_err(c, "ERR the ANY argument requires COUNT argument");
        return;
    }
    const char *event = (flags & GEO_SEARCHSTORE) ? "geosearchstore" : "georadiusstore";
    if (!z) {
        if (store.ptr) {
            store_hits(c, store, NULL, 0, 0, 1, event);
        } else {
            reply_empty_array(R(c));
        }
        return;
    }
    /* COUNT alone means the nearest ones. */
    if (count && sort == SORT_NONE && !any) {
        sort = SORT_ASC;
    }
    geo_hits h = {NULL, 0, 0};
    geo_collect(z, &s, any ? (size_t)count : 0, &h);
    size_t n = count && (unsigned long long)count < h.n ? (size_t)count : h.n;
    if (sort != SORT_NONE && h.n > 1) {
        qsort(h.v, h.n, sizeof(geo_hit), sort == SORT_ASC ? cmp_asc : cmp_desc);
    }
    if (store.ptr) {
        store_hits(c, store, h.v, n, storedist, s.conv, event);
        alloc_free(h.v);
        return;
    }
    int opts = withdist + withhash + withcoord;
    reply_array(R(c), (long long)n);
    for (size_t i = 0; i < n; i++) {
        geo_hit *g = &h.v[i];
        if (opts) {
            reply_array(R(c), opts + 1);
        }
        reply_bulk(R(c), g->member.ptr, g->member.len);
        if (withdist) {
            reply_distance(c, g->dist / s.conv);
        }
        if (withhash) {
            reply_int(R(c), score_ll(g->score));
        }
        if (withcoord) {
            reply_coords(c, g->lon, g->lat);
        }
    }
    alloc_free(h.v);
}

void cmd_georadius(client *c)
{
    search_generic(c, 1, GEO_FROM_COORDS);
}

void cmd_georadius_ro(client *c)
{
    search_generic(c, 1, GEO_FROM_COORDS | GEO_NOSTORE);
}

void cmd_georadiusbymember(client *c)
{
    search_generic(c, 1, GEO_FROM_MEMBER);
}

void cmd_georadiusbymember_ro(client *c)
{
    search_generic(c, 1, GEO_FROM_MEMBER | GEO_NOSTORE);
}

void cmd_geosearch(client *c)
{
    search_generic(c, 1, GEO_SEARCH);
}

void cmd_geosearchstore(client *c)
{
    search_generic(c, 2, GEO_SEARCH | GEO_SEARCHSTORE);
}
