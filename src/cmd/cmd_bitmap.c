/* Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
 * BITFIELD_RO. Bitmaps are strings; the bit work is types/bitops.c, and
 * this file does what Redis 7.0 does around it: argument order and error
 * texts, range clamping, growing strings with zeros (edited in place once
 * made raw), keyspace events, and which calls count as writes.
 *
 * Offsets are bounded as Redis bounds them: a bit whose byte would lie at
 * or past proto-max-bulk-len (512 MB, so 2^32 bits, by default) is refused. */
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "server/server.h"
#include "types/bitops.h"

/* ---- shared helpers ---- */

#define ERR_OFFSET "ERR bit offset is not an integer or out of range"
#define ERR_BIT "ERR bit is not an integer or out of range"
#define ERR_FIELD_TYPE                                                                                                 \
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."

/* A bit offset from argv[i]. With fieldbits > 0 (BITFIELD), "#N" means N
 * fields of that width; Redis multiplies in 64 bits and checks the result,
 * so a product that wraps is judged as it wrapped. */
static int bit_offset(client *c, int i, int fieldbits, uint64_t *out)
{
    sv a = c->argv[i];
    size_t skip = fieldbits > 0 && a.len > 0 && a.ptr[0] == '#';
    long long v;
    if (!util_parse_ll(a.ptr + skip, a.len - skip, &v)) {
        reply_err(c, ERR_OFFSET);
        return 0;
    }
    if (skip) {
        v = (long long)((unsigned long long)v * (unsigned long long)fieldbits);
    }
    if (v < 0 || ((v >> 3) >= server.cfg.proto_max_bulk_len && !client_must_obey(c))) {
        reply_err(c, ERR_OFFSET);
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

/* The bytes of a string entry (an integer's decimal form in buf). */
static sv string_bytes(const kobj *o, char *buf)
{
    return o ? kobj_str(o, buf) : (sv){"", 0};
}

/* Start and end of BITCOUNT / BITPOS as Redis clamps them: negative values
 * count from the end; the result may be empty (start > end). total is the
 * length in the range's unit (bytes or bits). */
static void clamp_range(long long total, long long *start, long long *end)
{
    if (*start < 0) {
        *start += total;
    }
    if (*end < 0) {
        *end += total;
    }
    if (*start < 0) {
        *start = 0;
    }
    if (*end < 0) {
        *end = 0;
    }
    if (*end >= total) {
        *end = total - 1;
    }
}

/* BYTE or BIT at argv[i]: 1 for BIT, 0 for BYTE, -1 (syntax error replied). */
static int range_unit(client *c, int i)
{
    if (arg_is(c, i, "BIT")) {
        return 1;
    }
    if (arg_is(c, i, "BYTE")) {
        return 0;
    }
    reply_syntax_error(c);
    return -1;
}

/* ---- SETBIT / GETBIT ---- */

void cmd_setbit(client *c)
{
    uint64_t off;
    long long on;
    if (!bit_offset(c, 2, 0, &off)) {
        return;
    }
    if (!util_parse_ll(c->argv[3].ptr, c->argv[3].len, &on) || (on & ~1LL)) {
        reply_err(c, ERR_BIT);
        return;
    }
    int bad;
    sv key = c->argv[1];
    kobj *o = lookup_typed(c, key, OBJ_STRING, 1, &bad);
    if (bad) {
        return;
    }
    size_t byte = (size_t)(off >> 3);
    int grew;
    o = string_grow(c, key, o, byte + 1, &grew);
    uint8_t *p = (uint8_t *)kobj_raw(o);
    unsigned shift = 7 - (unsigned)(off & 7);
    int old = (p[byte] >> shift) & 1;
    /* Redis counts (and announces) the write only when something changed. */
    if (grew || old != on) {
        p[byte] = (uint8_t)((p[byte] & ~(1u << shift)) | ((unsigned)on << shift));
        signal_write(c, NOTIFY_STRING, "setbit", key);
    }
    reply_int(R(c), old);
}

void cmd_getbit(client *c)
{
    uint64_t off;
    if (!bit_offset(c, 2, 0, &off)) {
        return;
    }
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_STRING, 0, &bad);
    if (bad) {
        return;
    }
    char buf[32];
    sv v = string_bytes(o, buf);
    size_t byte = (size_t)(off >> 3);
    int bit = byte < v.len ? ((uint8_t)v.ptr[byte] >> (7 - (off & 7))) & 1 : 0;
    reply_int(R(c), bit);
}

/* ---- BITCOUNT / BITPOS ---- */

void cmd_bitcount(client *c)
{
    /* Redis 7.0 looks the key up before it reads the range: a missing key
     * answers 0 whatever follows. */
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_STRING, 0, &bad);
    if (bad) {
        return;
    }
    if (!o) {
        reply_int(R(c), 0);
        return;
    }
    char buf[32];
    sv v = kobj_str(o, buf);
    const uint8_t *p = (const uint8_t *)v.ptr;
    if (c->argc == 2) {
        reply_int(R(c), (long long)bitops_count(p, v.len));
        return;
    }
    if (c->argc != 4 && c->argc != 5) {
        reply_syntax_error(c);
        return;
    }
    long long start, end;
    if (!arg_ll(c, 2, &start) || !arg_ll(c, 3, &end)) {
        return;
    }
    if (start < 0 && end < 0 && start > end) {
        reply_int(R(c), 0);
        return;
    }
    int isbit = 0;
    if (c->argc == 5 && (isbit = range_unit(c, 4)) < 0) {
        return;
    }
    long long total = (long long)v.len * (isbit ? 8 : 1);
    clamp_range(total, &start, &end);
    if (start > end) {
        reply_int(R(c), 0);
        return;
    }
    uint64_t first = (uint64_t)start, last = (uint64_t)end;
    if (!isbit) {
        reply_int(R(c), (long long)bitops_count(p + first, (size_t)(last - first + 1)));
        return;
    }
    reply_int(R(c), (long long)bitops_count_bits(p, first, last));
}

void cmd_bitpos(client *c)
{
    long long bit;
    if (!arg_ll(c, 2, &bit)) {
        return;
    }
    if (bit != 0 && bit != 1) {
        reply_err(c, "ERR The bit argument must be 1 or 0.");
        return;
    }
    /* A missing key is an endless run of zeros. */
    int bad;
    kobj *o = lookup_typed(c, c->argv[1], OBJ_STRING, 0, &bad);
    if (bad) {
        return;
    }
    if (!o) {
        reply_int(R(c), bit ? -1 : 0);
        return;
    }
    char buf[32];
    sv v = kobj_str(o, buf);
    long long start = 0, end = (long long)v.len - 1;
    int isbit = 0, end_given = 0;
    if (c->argc >= 4 && c->argc <= 6) {
        if (!arg_ll(c, 3, &start)) {
            return;
        }
        if (c->argc == 6 && (isbit = range_unit(c, 5)) < 0) {
            return;
        }
        long long total = (long long)v.len * (isbit ? 8 : 1);
        end = total - 1;
        if (c->argc >= 5) {
            if (!arg_ll(c, 4, &end)) {
                return;
            }
            end_given = 1;
        }
        clamp_range(total, &start, &end);
    } else if (c->argc != 3) {
        reply_syntax_error(c);
        return;
    }
    if (start > end) {
        reply_int(R(c), -1);
        return;
    }
    uint64_t first = (uint64_t)start, last = (uint64_t)end;
    if (!isbit) {
        first *= 8;
        last = last * 8 + 7;
    }
    int64_t pos = bitops_pos((const uint8_t *)v.ptr, first, last, (int)bit);
    /* No clear bit in the range: without an explicit end the string reads
     * as followed by zeros, so the answer is the first bit past it. */
    if (pos < 0 && bit == 0 && !end_given) {
        pos = (int64_t)v.len * 8;
    }
    reply_int(R(c), pos);
}

/* ---- BITOP ---- */

static const struct {
    const char *name;
    int op;
} bitop_names[] = {{"AND", BITOP_AND},   {"OR", BITOP_OR},       {"XOR", BITOP_XOR},     {"NOT", BITOP_NOT},
                   {"DIFF", BITOP_DIFF}, {"DIFF1", BITOP_DIFF1}, {"ANDOR", BITOP_ANDOR}, {"ONE", BITOP_ONE}};

/* Sources up to this many keep their views on the stack. */
#define BITOP_STACK 16

void cmd_bitop(client *c)
{
    int op = -1;
    const char *opname = NULL;
    for (size_t i = 0; i < sizeof(bitop_names) / sizeof(bitop_names[0]); i++) {
        if (arg_is(c, 1, bitop_names[i].name)) {
            op = bitop_names[i].op;
            opname = bitop_names[i].name;
        }
    }
    if (op < 0) {
        reply_syntax_error(c);
        return;
    }
    int n = c->argc - 3;
    if (op == BITOP_NOT && n != 1) {
        reply_err(c, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    if ((op == BITOP_DIFF || op == BITOP_DIFF1 || op == BITOP_ANDOR) && n < 2) {
        reply_errf(c, "ERR BITOP %s must be called with at least two source keys.", opname);
        return;
    }
    const uint8_t *stack_src[BITOP_STACK];
    size_t stack_len[BITOP_STACK];
    char stack_buf[BITOP_STACK][32];
    const uint8_t **src = stack_src;
    size_t *lens = stack_len;
    char(*bufs)[32] = stack_buf;
    if (n > BITOP_STACK) {
        src = alloc_mem(sizeof(*src) * (size_t)n);
        lens = alloc_mem(sizeof(*lens) * (size_t)n);
        bufs = alloc_mem(sizeof(*bufs) * (size_t)n);
    }
    size_t maxlen = 0;
    int ok = 1;
    for (int j = 0; j < n && ok; j++) {
        int bad;
        kobj *o = lookup_typed(c, c->argv[3 + j], OBJ_STRING, 0, &bad);
        if (bad) {
            ok = 0;
            break;
        }
        sv v = string_bytes(o, bufs[j]);
        src[j] = (const uint8_t *)v.ptr;
        lens[j] = v.len;
        if (v.len > maxlen) {
            maxlen = v.len;
        }
    }
    if (ok) {
        sv dest = c->argv[2];
        if (maxlen) {
            str res = str_empty(maxlen);
            bitops_op(op, (uint8_t *)res, maxlen, src, lens, n);
            str_set_len(res, maxlen);
            /* The result replaces dest whatever it held, TTL included. */
            db_set(c->db, kobj_new_raw(dest, res, -1));
            signal_write(c, NOTIFY_STRING, "set", dest);
        } else if (db_delete(c->db, dest)) {
            signal_write(c, NOTIFY_GENERIC, "del", dest);
        }
        reply_int(R(c), (long long)maxlen);
    }
    if (src != stack_src) {
        alloc_free(src);
        alloc_free(lens);
        alloc_free(bufs);
    }
}

/* ---- BITFIELD ---- */

enum { BF_GET, BF_SET, BF_INCRBY };

typedef struct bf_op {
    uint64_t offset;
    int64_t arg; /* SET value or INCRBY increment */
    uint8_t kind, ow, bits, sign;
} bf_op;

/* "i1".."i64" or "u1".."u63" (lower case, as Redis reads it). */
static int field_type(client *c, int i, int *sign, int *bits)
{
    sv a = c->argv[i];
    long long n;
    if (a.len < 2 || (a.ptr[0] != 'i' && a.ptr[0] != 'u') || !util_parse_ll(a.ptr + 1, a.len - 1, &n) || n < 1 ||
        n > (a.ptr[0] == 'i' ? 64 : 63)) {
        reply_err(c, ERR_FIELD_TYPE);
        return 0;
    }
    *sign = a.ptr[0] == 'i';
    *bits = (int)n;
    return 1;
}

/* Parses every operation before touching the key, as Redis does: the
 * first bad one is the reply. Returns the count (ops owned by the caller),
 * or -1 after replying. *writes says whether any SET/INCRBY came, *top is
 * the byte length the writes need. */
static long parse_bitfield(client *c, bf_op **out, int *writes, uint64_t *top)
{
    bf_op *ops = NULL;
    long n = 0, cap = 0;
    int ow = BITOPS_WRAP;
    *writes = 0;
    *top = 0;
    for (int j = 2; j < c->argc; j++) {
        int rest = c->argc - j - 1;
        int kind;
        if (arg_is(c, j, "GET") && rest >= 2) {
            kind = BF_GET;
        } else if (arg_is(c, j, "SET") && rest >= 3) {
            kind = BF_SET;
        } else if (arg_is(c, j, "INCRBY") && rest >= 3) {
            kind = BF_INCRBY;
        } else if (arg_is(c, j, "OVERFLOW") && rest >= 1) {
            j++;
            if (arg_is(c, j, "WRAP")) {
                ow = BITOPS_WRAP;
            } else if (arg_is(c, j, "SAT")) {
                ow = BITOPS_SAT;
            } else if (arg_is(c, j, "FAIL")) {
                ow = BITOPS_FAIL;
            } else {
                reply_err(c, "ERR Invalid OVERFLOW type specified");
                goto fail;
            }
            continue;
        } else {
            reply_syntax_error(c);
            goto fail;
        }
        int sign, bits;
        uint64_t off;
        long long arg = 0;
        if (!field_type(c, j + 1, &sign, &bits) || !bit_offset(c, j + 2, bits, &off)) {
            goto fail;
        }
        if (kind != BF_GET) {
            *writes = 1;
            uint64_t need = (off + (uint64_t)bits - 1) / 8 + 1;
            if (need > *top) {
                *top = need;
            }
            if (!arg_ll(c, j + 3, &arg)) {
                goto fail;
            }
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            ops = alloc_resize(ops, sizeof(*ops) * (size_t)cap);
        }
        ops[n++] = (bf_op){off, arg, (uint8_t)kind, (uint8_t)ow, (uint8_t)bits, (uint8_t)sign};
        j += kind == BF_GET ? 2 : 3;
    }
    *out = ops;
    return n;
fail:
    alloc_free(ops);
    return -1;
}

/* One SET or INCRBY on the raw string s: replies and returns 1 if the
 * field's bits changed, 0 if not, -1 for a FAIL overflow (nothing written,
 * nil replied). */
static int bitfield_write(client *c, uint8_t *s, size_t len, const bf_op *op)
{
    int fail;
    uint64_t before, after;
    if (op->sign) {
        int64_t old = bitops_field_get_i(s, len, op->offset, op->bits), val = 0;
        int rc = op->kind == BF_INCRBY ? bitops_add_signed(old, op->arg, op->bits, op->ow, &val)
                                       : bitops_add_signed(op->arg, 0, op->bits, op->ow, &val);
        fail = rc && op->ow == BITOPS_FAIL;
        if (!fail) {
            reply_int(R(c), op->kind == BF_INCRBY ? val : old);
        }
        before = (uint64_t)old;
        after = (uint64_t)val;
    } else {
        uint64_t old = bitops_field_get_u(s, len, op->offset, op->bits), val = 0;
        int rc = op->kind == BF_INCRBY ? bitops_add_unsigned(old, op->arg, op->bits, op->ow, &val)
                                       : bitops_add_unsigned((uint64_t)op->arg, 0, op->bits, op->ow, &val);
        fail = rc && op->ow == BITOPS_FAIL;
        if (!fail) {
            reply_int(R(c), (long long)(op->kind == BF_INCRBY ? val : old));
        }
        before = old;
        after = val;
    }
    if (fail) {
        reply_null(R(c));
        return -1;
    }
    uint64_t mask = op->bits == 64 ? ~(uint64_t)0 : (UINT64_C(1) << op->bits) - 1;
    bitops_field_set(s, op->offset, op->bits, after);
    return (before & mask) != (after & mask);
}

static void bitfield_generic(client *c, int readonly_cmd)
{
    bf_op *ops = NULL;
    int writes;
    uint64_t top;
    long n = parse_bitfield(c, &ops, &writes, &top);
    if (n < 0) {
        return;
    }
    sv key = c->argv[1];
    int bad, grew = 0;
    kobj *o;
    if (!writes) {
        o = lookup_typed(c, key, OBJ_STRING, 0, &bad);
    } else {
        if (readonly_cmd) {
            alloc_free(ops);
            reply_err(c, "ERR BITFIELD_RO only supports the GET subcommand");
            return;
        }
        o = lookup_typed(c, key, OBJ_STRING, 1, &bad);
        if (!bad) {
            o = string_grow(c, key, o, (size_t)top, &grew);
        }
    }
    if (bad) {
        alloc_free(ops);
        return;
    }
    char buf[32];
    sv v = string_bytes(o, buf);
    uint8_t *s = writes ? (uint8_t *)kobj_raw(o) : NULL;
    long long changes = 0;
    reply_array(R(c), n);
    for (long i = 0; i < n; i++) {
        const bf_op *op = &ops[i];
        if (op->kind != BF_GET) {
            /* Redis counts a write when the string was made or grew for
             * this call, or the field's bits changed. */
            int rc = bitfield_write(c, s, v.len, op);
            if (rc > 0 || (rc == 0 && grew)) {
                changes++;
            }
        } else if (op->sign) {
            reply_int(R(c), bitops_field_get_i((const uint8_t *)v.ptr, v.len, op->offset, op->bits));
        } else {
            reply_int(R(c), (long long)bitops_field_get_u((const uint8_t *)v.ptr, v.len, op->offset, op->bits));
        }
    }
    alloc_free(ops);
    if (changes) {
        signal_write(c, NOTIFY_STRING, "setbit", key);
        server.dirty += changes - 1;
    } else if (grew) {
        /* Every write failed under OVERFLOW FAIL, yet the key was made or
         * grown: Redis 7.0 leaves that unannounced and uncounted; Keel
         * still counts it so replicas and the AOF get the same string. */
        signal_write(c, NOTIFY_STRING, NULL, key);
    }
}

void cmd_bitfield(client *c)
{
    bitfield_generic(c, 0);
}

void cmd_bitfield_ro(client *c)
{
    bitfield_generic(c, 1);
}
