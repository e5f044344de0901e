/* HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST.
 * An HLL is a plain string in Redis's byte format (types/hll), edited in
 * place, so DUMP/RESTORE, snapshots and replication carry it unchanged.
 *
 * A string that is not an HLL at all (header, magic, encoding, dense size)
 * is refused as WRONGTYPE; one whose sparse opcodes do not cover exactly
 * 16384 registers is refused as corrupt (INVALIDOBJ) by every command that
 * reads all the registers, and by PFADD when its walk meets the fault. */
#include <string.h>

#include "server/server.h"
#include "types/hll.h"

#define HLL_WRONGTYPE "WRONGTYPE Key is not a valid HyperLogLog string value."
#define HLL_INVALID "INVALIDOBJ Corrupted HLL object detected"

static size_t sparse_max(void)
{
    long long m = server.cfg.hll_sparse_max_bytes;
    return m < 0 ? 0 : (size_t)m;
}

/* The HLL at key, write-looked-up or not: -1 after replying (another type,
 * or a string that is no HLL), 0 when absent, 1 with *out and its bytes. */
static int hll_lookup(client *c, sv key, int write, kobj **out, sv *val)
{
    int bad;
    kobj *o = lookup_typed(c, key, OBJ_STRING, write, &bad);
    *out = o;
    if (bad) {
        return -1;
    }
    if (!o) {
        return 0;
    }
    char buf[32];
    sv v = kobj_str(o, buf);
    if (o->enc == ENC_INT || !hll_header_ok(v.ptr, v.len)) {
        reply_err(c, HLL_WRONGTYPE);
        return -1;
    }
    *val = v;
    return 1;
}

/* ---- commands ---- */

void cmd_pfadd(client *c)
{
    kobj *o;
    sv v;
    int rc = hll_lookup(c, c->argv[1], 1, &o, &v);
    if (rc < 0) {
        return;
    }
    long long updated = 0;
    int corrupt = 0;
    if (rc == 0) {
        o = kobj_new_raw(c->argv[1], hll_new(), -1);
        db_add(c->db, o);
        updated = 1; /* creating the key is a change, even with no elements */
    } else if (c->argc > 2) {
        o = string_make_raw(c, c->argv[1], o);
    }
    if (c->argc > 2) {
        str s = kobj_raw(o);
        size_t max = sparse_max();
        for (int j = 2; j < c->argc; j++) {
            int r = hll_add(&s, c->argv[j].ptr, c->argv[j].len, max);
            if (r < 0) {
                corrupt = 1;
                break;
            }
            updated += r;
        }
        kobj_set_raw(o, s);
    }
    /* Changes made before a corrupt value was noticed are kept and
     * signalled: replayed on the same bytes, the command fails alike. */
    if (updated) {
        hll_cache_invalidate(kobj_raw(o));
        signal_write(c, NOTIFY_STRING, "pfadd", c->argv[1]);
        server.dirty += updated - 1; /* as Redis counts: one per change */
    }
    if (corrupt) {
        reply_err(c, HLL_INVALID);
        return;
    }
    reply_int(R(c), updated ? 1 : 0);
}

/* Several keys: the estimate of their union, from the maximum of each
 * register; nothing is cached. One key: the cached estimate, refreshed in
 * place when stale. The refresh changes the value's bytes, so (as Redis
 * does) it counts as a change and the command itself is propagated, which
 * is why PFCOUNT may replicate though it is a read. */
/* The registers of the HLLs at argv[first..] merged into regs (absent keys
 * count as empty); *any_dense says whether one of them is dense. -1 after
 * replying an error. */
static int merge_keys(client *c, int first, uint8_t regs[HLL_REGISTERS], int *any_dense)
{
    memset(regs, 0, HLL_REGISTERS);
    *any_dense = 0;
    for (int j = first; j < c->argc; j++) {
        kobj *o;
        sv v;
        int rc = hll_lookup(c, c->argv[j], 0, &o, &v);
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            continue;
        }
        if (hll_merge(regs, v.ptr, v.len) < 0) {
            reply_err(c, HLL_INVALID);
            return -1;
        }
        *any_dense |= hll_encoding(v.ptr) == HLL_DENSE;
    }
    return 0;
}

void cmd_pfcount(client *c)
{
    kobj *o;
    sv v;
    if (c->argc > 2) {
        uint8_t regs[HLL_REGISTERS];
        int dense;
        if (merge_keys(c, 1, regs, &dense) == 0) {
            reply_int(R(c), (long long)hll_count_regs(regs));
        }
        return;
    }
    int rc = hll_lookup(c, c->argv[1], 0, &o, &v);
    if (rc <= 0) {
        if (rc == 0) {
            reply_int(R(c), 0);
        }
        return;
    }
    uint64_t card;
    if (hll_cache_get(v.ptr, &card)) {
        reply_int(R(c), (long long)card);
        return;
    }
    if (hll_count(v.ptr, v.len, &card) < 0) {
        reply_err(c, HLL_INVALID);
        return;
    }
    db_will_change(c->db, o);
    o = string_make_raw(c, c->argv[1], o);
    hll_cache_set(kobj_raw(o), card);
    signal_write(c, 0, NULL, c->argv[1]); /* no keyspace event, as Redis */
    propagate_also(c, c->argv, c->argc);
    reply_int(R(c), (long long)card);
}

/* Packs 16384 byte registers into a dense value's register bytes. */
static void pack_dense(uint8_t *out, const uint8_t *regs)
{
    for (int g = 0; g < HLL_REGISTERS / 4; g++, regs += 4, out += 3) {
        uint32_t w = (uint32_t)regs[0] | (uint32_t)regs[1] << 6 | (uint32_t)regs[2] << 12 | (uint32_t)regs[3] << 18;
        out[0] = (uint8_t)w;
        out[1] = (uint8_t)(w >> 8);
        out[2] = (uint8_t)(w >> 16);
    }
}

/* The destination is a source too. It turns dense when any source is
 * dense; a sparse one takes the registers in index order through the
 * sparse update, so its bytes are the ones Redis writes. */
void cmd_pfmerge(client *c)
{
    uint8_t regs[HLL_REGISTERS];
    int use_dense;
    if (merge_keys(c, 1, regs, &use_dense) < 0) {
        return;
    }
    kobj *o = lookup_write(c, c->argv[1]);
    str s;
    if (o) {
        o = string_make_raw(c, c->argv[1], o);
        s = kobj_raw(o);
    } else {
        s = hll_new();
    }
    if (use_dense) {
        s = hll_to_dense(s); /* the destination was checked as a source */
    }
    if (hll_encoding(s) == HLL_DENSE) {
        /* regs already holds the maximum with the destination's own. */
        pack_dense((uint8_t *)s + HLL_HDR_SIZE, regs);
    } else {
        size_t max = sparse_max();
        for (long j = 0; j < HLL_REGISTERS; j++) {
            if (regs[j]) {
                hll_set(&s, j, regs[j], max);
            }
        }
    }
    hll_cache_invalidate(s);
    if (o) {
        kobj_set_raw(o, s);
    } else {
        db_add(c->db, kobj_new_raw(c->argv[1], s, -1));
    }
    /* Redis reports a merge as "pfadd" too. */
    signal_write(c, NOTIFY_STRING, "pfadd", c->argv[1]);
    reply_ok(R(c));
}

/* PFDEBUG GETREG|DECODE|ENCODING|TODENSE key. A conversion to dense counts
 * as a change (so it propagates) but, as in Redis, signals nothing. */
void cmd_pfdebug(client *c)
{
    sv sub = c->argv[1];
    kobj *o = lookup_write(c, c->argv[2]);
    if (!o) {
        reply_err(c, "ERR The specified key does not exist");
        return;
    }
    if (o->type != OBJ_STRING) {
        reply_wrongtype(c);
        return;
    }
    char buf[32];
    sv v = kobj_str(o, buf);
    if (o->enc == ENC_INT || !hll_header_ok(v.ptr, v.len)) {
        reply_err(c, HLL_WRONGTYPE);
        return;
    }
    int sparse = hll_encoding(v.ptr) == HLL_SPARSE;
    int getreg = sv_eq_ci(sub, "getreg");
    if (getreg || sv_eq_ci(sub, "todense")) {
        if (sparse) {
            if (!hll_valid(v.ptr, v.len)) {
                reply_err(c, HLL_INVALID);
                return;
            }
            o = string_make_raw(c, c->argv[2], o);
            kobj_set_raw(o, hll_to_dense(kobj_raw(o))); /* valid: never NULL */
            server.dirty++;
        }
        if (!getreg) {
            reply_int(R(c), sparse);
            return;
        }
        const uint8_t *regs = (const uint8_t *)kobj_raw(o) + HLL_HDR_SIZE;
        reply_array(R(c), HLL_REGISTERS);
        for (long j = 0; j < HLL_REGISTERS; j++) {
            reply_int(R(c), hll_dense_get(regs, j));
        }
    } else if (sv_eq_ci(sub, "decode")) {
        if (!sparse) {
            reply_err(c, "ERR HLL encoding is not sparse");
            return;
        }
        str d = hll_decode(str_empty(64), v.ptr, v.len);
        reply_bulk(R(c), d, str_len(d));
        str_free(d);
    } else if (sv_eq_ci(sub, "encoding")) {
        reply_status(R(c), sparse ? "sparse" : "dense");
    } else {
        reply_errf(c, "ERR Unknown PFDEBUG subcommand '%.*s'", (int)sub.len, sub.ptr);
    }
}

void cmd_pfselftest(client *c)
{
    char err[160];
    if (hll_selftest(err, sizeof(err)) != 0) {
        reply_errf(c, "ERR %s", err);
        return;
    }
    reply_ok(R(c));
}
