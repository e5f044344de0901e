/* vset_filter: a FILTER expression is compiled once into a postfix program
 * and then run against the JSON attributes of every candidate of a search.
 *
 * Compiling is a shunting-yard pass checked by a two-state grammar (an
 * operand is expected, or an operator is). The expression is the user's,
 * so nothing here recurses: 100k nested parentheses cost heap, not C
 * stack. The program's deepest stack is known once compiled, so a match
 * needs no allocation for it in the common case.
 *
 * A match first walks the attributes object once, taking the top-level
 * fields the selectors name and stopping as soon as it has all of them;
 * then the program runs over those values. Strings point into the program
 * or into the JSON; only JSON strings with escapes are decoded, into a
 * small buffer on the C stack (for large attributes, one heap block no
 * larger than the JSON). A JSON array stays as its validated text, which
 * `in` walks again. */
#include "types/vset_filter.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

/* ---- Values ---- */

/* V_UNSET marks a selector's slot not yet found in the JSON. */
enum { V_NUM, V_STR, V_TUP, V_JTUP, V_NULL, V_UNSET };

/* A run-time value. A V_STR's bytes live in the program's pool, in the
 * JSON, or in the match's decode buffer, and may hold NULs; a V_TUP's
 * elements (numbers and strings) in the program; a V_JTUP is the text of a
 * JSON array between its brackets, validated when it was read. */
typedef struct vf_val {
    uint8_t type;
    size_t len; /* bytes of a string or of a JSON array's text; elements of a tuple */
    union {
        double num;
        const char *s;
        const struct vf_val *tup;
    };
} vf_val;

enum {
    OP_PUSH, /* a constant */
    OP_SEL,  /* a selector's value */
    OP_OR,
    OP_AND,
    OP_GT,
    OP_GE,
    OP_LT,
    OP_LE,
    OP_EQ,
    OP_NE,
    OP_IN,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_POW,
    OP_NOT,
    OP_LPAREN /* only ever on the compiler's operator stack */
};

/* Binding strength; higher binds tighter. */
static const uint8_t vf_prec[] = {
    [OP_OR] = 0, [OP_AND] = 1, [OP_GT] = 2,  [OP_GE] = 2,  [OP_LT] = 2,  [OP_LE] = 2,  [OP_EQ] = 2,  [OP_NE] = 2,
    [OP_IN] = 2, [OP_ADD] = 3, [OP_SUB] = 3, [OP_MUL] = 4, [OP_DIV] = 4, [OP_MOD] = 4, [OP_POW] = 5, [OP_NOT] = 6,
};

typedef struct {
    uint8_t op;
    /* OP_SEL: the selector's slot. OP_PUSH of a tuple: the index of its
     * first element in vfilter.elems (the pointer is set once compiled,
     * since the array may move while it grows). */
    uint32_t arg;
    vf_val v; /* OP_PUSH: the constant */
} vf_ins;

typedef struct {
    const char *name; /* in the pool */
    size_t len;
    uint32_t hash;
} vf_sel;

struct vfilter {
    vf_ins *code;
    size_t ncode;
    size_t depth; /* the most values the program holds on its stack at once */
    vf_sel *sels; /* distinct selectors; a match fills one slot for each */
    size_t nsel;
    size_t max_name; /* the longest selector name: longer keys need no lookup */
    uint32_t *index; /* open addressing over sels: slot + 1, 0 when free */
    size_t index_mask;
    /* Decoded string literals and selector names. Sized to the expression
     * when compiling starts and never moved, since each is decoded from its
     * own span of the expression and is no longer than it. */
    char *pool;
    vf_val *elems; /* the elements of every tuple literal */
};

/* Exact powers of ten: a double holds 10^k exactly up to k = 22. */
static const double vf_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Sets *out to the double that all n bytes at s spell, as strtod reads
 * them; 0 when they are empty or strtod would stop short. */
static int vf_parse_double(const char *s, size_t n, double *out)
{
    /* The usual attribute (1985, 8.5, -3) is [-]digits[.digits] with at
     * most 15 digits: the digits make an integer below 2^53 and 10^frac
     * is exact, so one division rounds correctly, as strtod does, at a
     * fraction of its cost. */
    size_t i = 0;
    int neg = 0;
    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    uint64_t m = 0;
    int digits = 0, frac = 0, dot = 0;
    for (; i < n && digits <= 15; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9') {
            m = m * 10 + (uint64_t)(ch - '0');
            digits++;
            frac += dot;
        } else if (ch == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    if (i == n && digits > 0 && digits <= 15) {
        double d = (double)m;
        if (frac) {
            d /= vf_pow10[frac];
        }
        *out = neg ? -d : d;
        return 1;
    }
    char local[64];
    char *buf = n < sizeof local ? local : alloc_mem(n + 1);
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    double d = strtod(buf, &end);
    int ok = n > 0 && end == buf + n;
    if (buf != local) {
        alloc_free(buf);
    }
    if (ok) {
        *out = d;
    }
    return ok;
}

static double vf_num(const vf_val *v)
{
    double d;
    if (v->type == V_NUM) {
        return v->num;
    }
    if (v->type == V_STR && vf_parse_double(v->s, v->len, &d)) {
        return d;
    }
    return 0;
}

static int vf_truthy(const vf_val *v)
{
    switch (v->type) {
    case V_NUM: return v->num != 0;
    case V_STR: return v->len != 0;
    case V_NULL: return 0;
    default: return 1;
    }
}

static int vf_equal(const vf_val *a, const vf_val *b)
{
    if (a->type == V_STR && b->type == V_STR) {
        return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
    }
    if (a->type == V_NUM && b->type == V_NUM) {
        return a->num == b->num;
    }
    if (a->type == V_NULL || b->type == V_NULL) {
        return a->type == b->type;
    }
    return vf_num(a) == vf_num(b);
}

/* ---- JSON ---- */

/* Every reader takes [p, end) and returns where it stopped, or NULL when
 * the text is not JSON; none reads past end (attributes need not end in
 * a NUL). */

static const char *vf_jws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

static int vf_hexval(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

/* A string starting at the quote p; *esc tells whether it holds escapes
 * (when not, its bytes are its value). Raw bytes >= 0x80 pass unchecked:
 * attributes are matched as bytes, not judged as UTF-8. */
static const char *vf_jstr(const char *p, const char *end, int *esc)
{
    int e = 0;
    for (p++; p < end; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"') {
            *esc = e;
            return p + 1;
        }
        if (ch < 0x20) {
            return NULL;
        }
        if (ch == '\\') {
            e = 1;
            if (end - p < 2) {
                return NULL;
            }
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't': p++; break;
            case 'u':
                if (end - p < 6 || vf_hexval(p[2]) < 0 || vf_hexval(p[3]) < 0 || vf_hexval(p[4]) < 0 ||
                    vf_hexval(p[5]) < 0) {
                    return NULL;
                }
                p += 5;
                break;
            default: return NULL;
            }
        }
    }
    return NULL;
}

static unsigned vf_hex4(const char *p)
{
    return (unsigned)(vf_hexval(p[0]) << 12 | vf_hexval(p[1]) << 8 | vf_hexval(p[2]) << 4 | vf_hexval(p[3]));
}

/* Decodes the content [s, e) of a string vf_jstr accepted into out, which
 * has room for e - s bytes: no escape decodes to more bytes than it spans
 * (\uXXXX to at most 3, a surrogate pair's 12 to 4). A surrogate without
 * its other half becomes U+FFFD. Returns the decoded length. */
static size_t vf_jstr_decode(const char *s, const char *e, char *out)
{
    size_t n = 0;
    while (s < e) {
        if (*s != '\\') {
            out[n++] = *s++;
            continue;
        }
        char ch = s[1];
        s += 2;
        switch (ch) {
        case 'b': out[n++] = '\b'; continue;
        case 'f': out[n++] = '\f'; continue;
        case 'n': out[n++] = '\n'; continue;
        case 'r': out[n++] = '\r'; continue;
        case 't': out[n++] = '\t'; continue;
        case 'u': break;
        default: out[n++] = ch; continue;
        }
        unsigned cp = vf_hex4(s);
        s += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo = e - s >= 6 && s[0] == '\\' && s[1] == 'u' ? vf_hex4(s + 2) : 0;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                s += 6;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        if (cp < 0x80) {
            out[n++] = (char)cp;
        } else if (cp < 0x800) {
            out[n++] = (char)(0xC0 | cp >> 6);
            out[n++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[n++] = (char)(0xE0 | cp >> 12);
            out[n++] = (char)(0x80 | (cp >> 6 & 0x3F));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[n++] = (char)(0xF0 | cp >> 18);
            out[n++] = (char)(0x80 | (cp >> 12 & 0x3F));
            out[n++] = (char)(0x80 | (cp >> 6 & 0x3F));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return n;
}

static int vf_isdigit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* A number by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 * (what follows it is the caller's to judge, so 01 fails there). */
static const char *vf_jnum(const char *p, const char *end)
{
    if (p < end && *p == '-') {
        p++;
    }
    if (p >= end || !vf_isdigit(*p)) {
        return NULL;
    }
    if (*p == '0') {
        p++;
    } else {
        while (p < end && vf_isdigit(*p)) {
            p++;
        }
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !vf_isdigit(*p)) {
            return NULL;
        }
        while (p < end && vf_isdigit(*p)) {
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= end || !vf_isdigit(*p)) {
            return NULL;
        }
        while (p < end && vf_isdigit(*p)) {
            p++;
        }
    }
    return p;
}

static const char *vf_jlit(const char *p, const char *end, const char *lit, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}

/* An object member's key and colon, p at the key's quote. */
static const char *vf_jkey(const char *p, const char *end)
{
    int esc;
    if (p >= end || *p != '"' || !(p = vf_jstr(p, end, &esc))) {
        return NULL;
    }
    p = vf_jws(p, end);
    return p < end && *p == ':' ? p + 1 : NULL;
}

/* How deep a skipped value may nest containers (`[[1]]` is 2 deep);
 * deeper counts as invalid JSON. The cap keeps the stack of open
 * containers a few words on the C stack. */
#define VF_JSON_MAX_DEPTH 1024

/* Skips one value, validating it, without recursing: the kind of each open
 * container is a bit in a fixed stack. */
static const char *vf_jskip(const char *p, const char *end)
{
    uint64_t is_obj[VF_JSON_MAX_DEPTH / 64];
    size_t depth = 0;
    int esc;
    for (;;) {
        /* A value starts here. */
        p = vf_jws(p, end);
        if (p >= end) {
            return NULL;
        }
        switch (*p) {
        case '{':
        case '[': {
            int obj = *p == '{';
            if (depth == VF_JSON_MAX_DEPTH) {
                return NULL;
            }
            p = vf_jws(p + 1, end);
            if (p < end && *p == (obj ? '}' : ']')) {
                p++;
                break;
            }
            if (obj) {
                is_obj[depth / 64] |= (uint64_t)1 << (depth % 64);
            } else {
                is_obj[depth / 64] &= ~((uint64_t)1 << (depth % 64));
            }
            depth++;
            if (obj && !(p = vf_jkey(p, end))) {
                return NULL;
            }
            continue;
        }
        case '"': p = vf_jstr(p, end, &esc); break;
        case 't': p = vf_jlit(p, end, "true", 4); break;
        case 'f': p = vf_jlit(p, end, "false", 5); break;
        case 'n': p = vf_jlit(p, end, "null", 4); break;
        default: p = vf_jnum(p, end); break;
        }
        if (!p) {
            return NULL;
        }
        /* A value ended: close containers until one has a next element. */
        for (;;) {
            if (depth == 0) {
                return p;
            }
            p = vf_jws(p, end);
            if (p >= end) {
                return NULL;
            }
            int obj = (int)(is_obj[(depth - 1) / 64] >> ((depth - 1) % 64) & 1);
            if (*p == ',') {
                p++;
                if (obj && !(p = vf_jkey(vf_jws(p, end), end))) {
                    return NULL;
                }
                break;
            }
            if (*p != (obj ? '}' : ']')) {
                return NULL;
            }
            p++;
            depth--;
        }
    }
}

/* ---- Matching ---- */

/* Room on the C stack for decoded strings and for values; attributes and
 * programs beyond it take one heap block for the call. */
#define VF_LOCAL_BYTES 256
#define VF_LOCAL_VALS 48

/* Where the strings of one match are decoded. Each decoded string comes
 * from its own span of the JSON and is no longer than it, so the JSON's
 * length bounds what is live at once: when the local buffer is full, one
 * heap block of that length holds everything after. */
typedef struct {
    char *buf;
    size_t cap, used;
    size_t bound; /* the JSON's length */
    char *heap;
    char local[VF_LOCAL_BYTES];
} vf_arena;

static char *vf_arena_get(vf_arena *a, size_t n)
{
    if (a->cap - a->used < n) {
        ASSERT(a->heap == NULL && n <= a->bound);
        a->heap = alloc_mem(a->bound);
        a->buf = a->heap;
        a->cap = a->bound;
        a->used = 0;
    }
    char *r = a->buf + a->used;
    a->used += n;
    return r;
}

/* Frees what was taken since the mark (buf, used). If the heap block came
 * in meanwhile, all it holds was taken since. */
static void vf_arena_release(vf_arena *a, const char *buf, size_t used)
{
    a->used = a->buf == buf ? used : 0;
}

/* A JSON string's value, p at its quote; NULL when it is malformed. */
static const char *vf_jstr_value(const char *p, const char *end, vf_val *v, vf_arena *a)
{
    int esc;
    const char *q = vf_jstr(p, end, &esc);
    if (!q) {
        return NULL;
    }
    size_t raw = (size_t)(q - p - 2);
    v->type = V_STR;
    if (esc) {
        char *d = vf_arena_get(a, raw);
        v->len = vf_jstr_decode(p + 1, q - 1, d);
        v->s = d;
    } else {
        v->s = p + 1;
        v->len = raw;
    }
    return q;
}

/* Reads the value of a selected field into *v. NULL when the JSON is
 * invalid or the value is one a selector cannot use (an object; an array
 * holding anything but numbers, strings and booleans): either makes the
 * match false. An array is only validated here, and kept as its text. */
static const char *vf_field(const char *p, const char *end, vf_val *v, vf_arena *a)
{
    if (p >= end) {
        return NULL;
    }
    switch (*p) {
    case '"': return vf_jstr_value(p, end, v, a);
    case 't':
        v->type = V_NUM;
        v->num = 1;
        return vf_jlit(p, end, "true", 4);
    case 'f':
        v->type = V_NUM;
        v->num = 0;
        return vf_jlit(p, end, "false", 5);
    case 'n': v->type = V_NULL; return vf_jlit(p, end, "null", 4);
    case '{': return NULL;
    case '[': break;
    default: {
        const char *q = vf_jnum(p, end);
        if (q) {
            v->type = V_NUM;
            vf_parse_double(p, (size_t)(q - p), &v->num);
        }
        return q;
    }
    }
    const char *start = p + 1;
    p = vf_jws(start, end);
    if (p < end && *p == ']') {
        v->type = V_JTUP;
        v->s = start;
        v->len = (size_t)(p - start);
        return p + 1;
    }
    for (;;) {
        int esc;
        if (p >= end) {
            return NULL;
        }
        switch (*p) {
        case '"': p = vf_jstr(p, end, &esc); break;
        case 't': p = vf_jlit(p, end, "true", 4); break;
        case 'f': p = vf_jlit(p, end, "false", 5); break;
        default: p = vf_jnum(p, end); break; /* and null, [ and { fail */
        }
        if (!p) {
            return NULL;
        }
        p = vf_jws(p, end);
        if (p < end && *p == ']') {
            v->type = V_JTUP;
            v->s = start;
            v->len = (size_t)(p - start);
            return p + 1;
        }
        if (p >= end || *p != ',') {
            return NULL;
        }
        p = vf_jws(p + 1, end);
    }
}

static uint32_t vf_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h;
}

/* The index entry holding the selector (s, n), or the free entry where it
 * would go. */
static uint32_t *vf_index_find(const vfilter *f, const char *s, size_t n, uint32_t h)
{
    for (size_t i = h & f->index_mask;; i = (i + 1) & f->index_mask) {
        uint32_t e = f->index[i];
        if (e == 0) {
            return &f->index[i];
        }
        const vf_sel *sel = &f->sels[e - 1];
        if (sel->hash == h && sel->len == n && memcmp(sel->name, s, n) == 0) {
            return &f->index[i];
        }
    }
}

/* The slot of the selector a key's content [k, ke) names, or SIZE_MAX. */
static size_t vf_key_slot(const vfilter *f, const char *k, const char *ke, int esc, vf_arena *a)
{
    size_t n = (size_t)(ke - k);
    if (!esc) {
        if (n > f->max_name) {
            return SIZE_MAX;
        }
        return (size_t)*vf_index_find(f, k, n, vf_hash(k, n)) - 1;
    }
    /* Escaped keys are rare; decode one to compare it. */
    const char *mbuf = a->buf;
    size_t mused = a->used;
    char *d = vf_arena_get(a, n);
    n = vf_jstr_decode(k, ke, d);
    size_t slot = n > f->max_name ? SIZE_MAX : (size_t)*vf_index_find(f, d, n, vf_hash(d, n)) - 1;
    vf_arena_release(a, mbuf, mused);
    return slot;
}

/* Fills every selector's slot from the top-level object in [p, end),
 * reading no further than the last one needed. 0 when the JSON is not an
 * object, is invalid in what was read, or lacks a usable field. A
 * duplicate key keeps its first value. */
static int vf_resolve(const vfilter *f, const char *p, const char *end, vf_val *slots, vf_arena *a)
{
    for (size_t i = 0; i < f->nsel; i++) {
        slots[i].type = V_UNSET;
    }
    size_t left = f->nsel;
    p = vf_jws(p, end);
    if (p >= end || *p != '{') {
        return 0;
    }
    p = vf_jws(p + 1, end);
    for (;;) {
        int esc;
        if (p >= end || *p != '"') {
            return 0; /* also the end of the object: some field is missing */
        }
        const char *k = p + 1;
        const char *q = vf_jstr(p, end, &esc);
        if (!q) {
            return 0;
        }
        size_t slot = vf_key_slot(f, k, q - 1, esc, a);
        p = vf_jws(q, end);
        if (p >= end || *p != ':') {
            return 0;
        }
        p = vf_jws(p + 1, end);
        if (slot != SIZE_MAX && slots[slot].type == V_UNSET) {
            if (!(p = vf_field(p, end, &slots[slot], a))) {
                return 0;
            }
            /* What follows the value decides where it ended (01, 1x,
             * truex); what follows that is not read once all is found. */
            p = vf_jws(p, end);
            if (p >= end || (*p != ',' && *p != '}')) {
                return 0;
            }
            if (--left == 0) {
                return 1;
            }
        } else if (!(p = vf_jskip(p, end)) || (p = vf_jws(p, end)) >= end) {
            return 0;
        }
        if (*p != ',') {
            return 0; /* the object ends (a field is missing), or is invalid */
        }
        p = vf_jws(p + 1, end);
    }
}

/* `a in t` for a JSON array t: its elements are read again one by one, an
 * escaped string decoded only for its comparison. */
static int vf_in_json(const vf_val *a, const vf_val *t, vf_arena *ar)
{
    const char *p = t->s, *end = t->s + t->len;
    const char *mbuf = ar->buf;
    size_t mused = ar->used;
    while ((p = vf_jws(p, end)) < end) {
        vf_val e;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '"') {
            p = vf_jstr_value(p, end, &e, ar);
        } else if (*p == 't' || *p == 'f') {
            e.type = V_NUM;
            e.num = *p == 't';
            p += *p == 't' ? 4 : 5;
        } else {
            const char *q = vf_jnum(p, end);
            e.type = V_NUM;
            vf_parse_double(p, (size_t)(q - p), &e.num);
            p = q;
        }
        int hit = vf_equal(a, &e);
        vf_arena_release(ar, mbuf, mused);
        if (hit) {
            return 1;
        }
    }
    return 0;
}

static int vf_in(const vf_val *a, const vf_val *b, vf_arena *ar)
{
    if (b->type == V_TUP) {
        for (size_t i = 0; i < b->len; i++) {
            if (vf_equal(a, &b->tup[i])) {
                return 1;
            }
        }
        return 0;
    }
    if (b->type == V_JTUP) {
        return vf_in_json(a, b, ar);
    }
    if (a->type == V_STR && b->type == V_STR) {
        return a->len == 0 || memmem(b->s, b->len, a->s, a->len) != NULL;
    }
    return 0;
}

static double vf_binary(uint8_t op, const vf_val *a, const vf_val *b, vf_arena *ar)
{
    switch (op) {
    case OP_OR: return vf_truthy(a) || vf_truthy(b);
    case OP_AND: return vf_truthy(a) && vf_truthy(b);
    case OP_EQ: return vf_equal(a, b);
    case OP_NE: return !vf_equal(a, b);
    case OP_IN: return vf_in(a, b, ar);
    default: break;
    }
    double x = vf_num(a), y = vf_num(b);
    switch (op) {
    case OP_GT: return x > y;
    case OP_GE: return x >= y;
    case OP_LT: return x < y;
    case OP_LE: return x <= y;
    case OP_ADD: return x + y;
    case OP_SUB: return x - y;
    case OP_MUL: return x * y;
    case OP_DIV: return x / y;
    case OP_MOD: return fmod(x, y);
    default: return pow(x, y);
    }
}

static int vf_run(const vfilter *f, const vf_val *slots, vf_val *stack, vf_arena *ar)
{
    size_t sp = 0;
    for (size_t i = 0; i < f->ncode; i++) {
        const vf_ins *ins = &f->code[i];
        switch (ins->op) {
        case OP_PUSH: stack[sp++] = ins->v; break;
        case OP_SEL: stack[sp++] = slots[ins->arg]; break;
        case OP_NOT:
            stack[sp - 1].num = !vf_truthy(&stack[sp - 1]);
            stack[sp - 1].type = V_NUM;
            break;
        default: {
            sp--;
            double r = vf_binary(ins->op, &stack[sp - 1], &stack[sp], ar);
            stack[sp - 1].type = V_NUM;
            stack[sp - 1].num = r;
            break;
        }
        }
    }
    return vf_truthy(&stack[0]);
}

int vfilter_match(const vfilter *f, const char *json, size_t len)
{
    vf_val local[VF_LOCAL_VALS];
    vf_val *vals = local;
    vf_arena ar;
    if (json == NULL) {
        json = "";
        len = 0;
    }
    size_t need = f->nsel + f->depth;
    if (need > VF_LOCAL_VALS) {
        vals = alloc_mem(need * sizeof *vals);
    }
    ar.buf = ar.local;
    ar.cap = sizeof ar.local;
    ar.used = 0;
    ar.bound = len;
    ar.heap = NULL;
    /* A program without selectors never looks at the JSON. */
    int r = 0;
    if (f->nsel == 0 || vf_resolve(f, json, json + len, vals, &ar)) {
        r = vf_run(f, vals, vals + f->nsel, &ar);
    }
    alloc_free(ar.heap);
    if (vals != local) {
        alloc_free(vals);
    }
    return r;
}

void vfilter_free(vfilter *f)
{
    if (f == NULL) {
        return;
    }
    alloc_free(f->code);
    alloc_free(f->sels);
    alloc_free(f->index);
    alloc_free(f->pool);
    alloc_free(f->elems);
    alloc_free(f);
}

/* ---- Compiling ---- */

enum { K_ERR, K_VALUE, K_LPAREN, K_RPAREN, K_NOT, K_BINOP };

typedef struct {
    int kind;
    uint8_t op; /* K_BINOP */
    vf_ins ins; /* K_VALUE */
} vf_tok;

typedef struct {
    uint8_t op;
    size_t pos; /* where the token is in the expression, for errors */
} vf_pending;

typedef struct {
    const char *e;
    size_t len;
    vfilter *f;
    size_t code_cap, nelems, elems_cap, pool_used, sels_cap;
    vf_pending *ops; /* the operator stack */
    size_t nops, ops_cap;
    size_t sp; /* the program's stack depth at its end so far */
} vf_comp;

static void *vf_grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return p;
    }
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need) {
        n *= 2;
    }
    *cap = n;
    return alloc_resize(p, n * size);
}

static void vf_emit(vf_comp *c, const vf_ins *ins)
{
    vfilter *f = c->f;
    f->code = vf_grow(f->code, &c->code_cap, f->ncode + 1, sizeof *f->code);
    f->code[f->ncode++] = *ins;
    /* The grammar check in vfilter_compile keeps every operator supplied
     * with operands, so sp never goes below one here. */
    if (ins->op == OP_PUSH || ins->op == OP_SEL) {
        c->sp++;
    } else if (ins->op != OP_NOT) {
        c->sp--;
    }
    if (c->sp > f->depth) {
        f->depth = c->sp;
    }
}

static void vf_emit_op(vf_comp *c, uint8_t op)
{
    vf_ins ins = {.op = op};
    vf_emit(c, &ins);
}

static void vf_push_op(vf_comp *c, uint8_t op, size_t pos)
{
    c->ops = vf_grow(c->ops, &c->ops_cap, c->nops + 1, sizeof *c->ops);
    c->ops[c->nops++] = (vf_pending){op, pos};
}

static int vf_is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static size_t vf_skip_ws(const vf_comp *c, size_t p)
{
    while (p < c->len && vf_is_ws(c->e[p])) {
        p++;
    }
    return p;
}

static int vf_is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int vf_is_name(char ch)
{
    return vf_is_alpha(ch) || vf_isdigit(ch) || ch == '_' || ch == '-';
}

/* The lexers below return the offset after their token, or 0 when it is
 * malformed (a token is never empty, so 0 cannot be a real end). */

/* A number literal: an optional '-', then the longest run of digits, '.',
 * 'e' and 'E', which must all be one number (so 1e-5 is not: '-' ends the
 * run and 1e is no number). */
static size_t vf_lex_number(const vf_comp *c, size_t p, double *d)
{
    size_t s = p;
    if (c->e[p] == '-') {
        p++;
    }
    while (p < c->len && (vf_isdigit(c->e[p]) || c->e[p] == '.' || c->e[p] == 'e' || c->e[p] == 'E')) {
        p++;
    }
    return vf_parse_double(c->e + s, p - s, d) ? p : 0;
}

/* A string in single or double quotes; a backslash takes the next byte
 * as it is (\" \' \\, and \n is plain n). Decoded into the pool. */
static size_t vf_lex_string(vf_comp *c, size_t p, vf_val *v)
{
    char q = c->e[p++];
    char *out = c->f->pool + c->pool_used;
    size_t n = 0;
    while (p < c->len) {
        char ch = c->e[p];
        if (ch == q) {
            v->type = V_STR;
            v->s = out;
            v->len = n;
            c->pool_used += n;
            return p + 1;
        }
        if (ch == '\\') {
            if (p + 1 >= c->len) {
                return 0;
            }
            ch = c->e[p + 1];
            p += 2;
        } else {
            p++;
        }
        out[n++] = ch;
    }
    return 0;
}

/* A tuple of number and string literals, p at its '['. */
static size_t vf_lex_tuple(vf_comp *c, size_t p, vf_tok *t)
{
    vfilter *f = c->f;
    size_t first = c->nelems;
    p = vf_skip_ws(c, p + 1);
    if (p < c->len && c->e[p] == ']') {
        p++;
    } else {
        for (;;) {
            vf_val v = {0};
            if (p >= c->len) {
                return 0;
            }
            char ch = c->e[p];
            if (ch == '"' || ch == '\'') {
                p = vf_lex_string(c, p, &v);
            } else if (vf_isdigit(ch) || (ch == '-' && p + 1 < c->len && vf_isdigit(c->e[p + 1]))) {
                v.type = V_NUM;
                p = vf_lex_number(c, p, &v.num);
            } else {
                return 0;
            }
            if (p == 0) {
                return 0;
            }
            f->elems = vf_grow(f->elems, &c->elems_cap, c->nelems + 1, sizeof *f->elems);
            f->elems[c->nelems++] = v;
            p = vf_skip_ws(c, p);
            if (p < c->len && c->e[p] == ']') {
                p++;
                break;
            }
            if (p >= c->len || c->e[p] != ',') {
                return 0;
            }
            p = vf_skip_ws(c, p + 1);
        }
    }
    if (c->nelems - first > UINT32_MAX || first > UINT32_MAX) {
        return 0;
    }
    t->kind = K_VALUE;
    t->ins = (vf_ins){.op = OP_PUSH, .arg = (uint32_t)first, .v = {.type = V_TUP, .len = c->nelems - first}};
    return p;
}

/* The slot of the selector named (name, n), adding it if new. The index
 * is kept at most half full. */
static uint32_t vf_intern(vf_comp *c, const char *name, size_t n)
{
    vfilter *f = c->f;
    uint32_t h = vf_hash(name, n);
    if (f->index) {
        uint32_t *e = vf_index_find(f, name, n, h);
        if (*e) {
            return *e - 1;
        }
    }
    if ((f->nsel + 1) * 2 > (f->index ? f->index_mask + 1 : 0)) {
        size_t cap = f->index ? (f->index_mask + 1) * 2 : 8;
        alloc_free(f->index);
        f->index = alloc_zero(cap * sizeof *f->index);
        f->index_mask = cap - 1;
        for (size_t i = 0; i < f->nsel; i++) {
            *vf_index_find(f, f->sels[i].name, f->sels[i].len, f->sels[i].hash) = (uint32_t)(i + 1);
        }
    }
    char *copy = f->pool + c->pool_used;
    memcpy(copy, name, n);
    c->pool_used += n;
    f->sels = vf_grow(f->sels, &c->sels_cap, f->nsel + 1, sizeof *f->sels);
    f->sels[f->nsel] = (vf_sel){copy, n, h};
    *vf_index_find(f, name, n, h) = (uint32_t)(f->nsel + 1);
    if (n > f->max_name) {
        f->max_name = n;
    }
    return (uint32_t)f->nsel++;
}

/* Reads the token at p (not whitespace, p < len). want_operand says
 * whether a value may come here, which decides if '-' starts a number.
 * Returns the offset after the token; t->kind is K_ERR when malformed. */
static size_t vf_lex(vf_comp *c, size_t p, int want_operand, vf_tok *t)
{
    const char *e = c->e;
    char ch = e[p];
    char next = p + 1 < c->len ? e[p + 1] : '\0';
    t->kind = K_BINOP;
    switch (ch) {
    case '(': t->kind = K_LPAREN; return p + 1;
    case ')': t->kind = K_RPAREN; return p + 1;
    case '!':
        if (next == '=') {
            t->op = OP_NE;
            return p + 2;
        }
        t->kind = K_NOT;
        return p + 1;
    case '*': t->op = next == '*' ? OP_POW : OP_MUL; return p + (next == '*' ? 2 : 1);
    case '/': t->op = OP_DIV; return p + 1;
    case '%': t->op = OP_MOD; return p + 1;
    case '+': t->op = OP_ADD; return p + 1;
    case '>': t->op = next == '=' ? OP_GE : OP_GT; return p + (next == '=' ? 2 : 1);
    case '<': t->op = next == '=' ? OP_LE : OP_LT; return p + (next == '=' ? 2 : 1);
    case '=':
    case '&':
    case '|':
        if (next != ch) {
            break;
        }
        t->op = ch == '=' ? OP_EQ : ch == '&' ? OP_AND : OP_OR;
        return p + 2;
    case '-':
        if (!want_operand || !vf_isdigit(next)) {
            t->op = OP_SUB;
            return p + 1;
        }
        /* A negative number literal. */
        /* fall through */
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9': {
        t->kind = K_VALUE;
        t->ins = (vf_ins){.op = OP_PUSH, .v = {.type = V_NUM}};
        size_t q = vf_lex_number(c, p, &t->ins.v.num);
        if (q) {
            return q;
        }
        break;
    }
    case '"':
    case '\'': {
        t->kind = K_VALUE;
        t->ins = (vf_ins){.op = OP_PUSH};
        size_t q = vf_lex_string(c, p, &t->ins.v);
        if (q) {
            return q;
        }
        break;
    }
    case '[': {
        size_t q = vf_lex_tuple(c, p, t);
        if (q) {
            return q;
        }
        break;
    }
    case '.': {
        size_t q = p + 1;
        while (q < c->len && vf_is_name(e[q])) {
            q++;
        }
        if (q == p + 1) {
            break;
        }
        t->kind = K_VALUE;
        t->ins = (vf_ins){.op = OP_SEL, .arg = vf_intern(c, e + p + 1, q - p - 1)};
        return q;
    }
    default: {
        /* Keywords are whole runs of letters: `andx` is no `and`. */
        size_t q = p;
        while (q < c->len && vf_is_alpha(e[q])) {
            q++;
        }
        size_t n = q - p;
        if (n == 3 && memcmp(e + p, "not", 3) == 0) {
            t->kind = K_NOT;
            return q;
        }
        if (n == 4 && memcmp(e + p, "null", 4) == 0) {
            t->kind = K_VALUE;
            t->ins = (vf_ins){.op = OP_PUSH, .v = {.type = V_NULL}};
            return q;
        }
        if (n == 2 && memcmp(e + p, "in", 2) == 0) {
            t->op = OP_IN;
            return q;
        }
        if (n == 3 && memcmp(e + p, "and", 3) == 0) {
            t->op = OP_AND;
            return q;
        }
        if (n == 2 && memcmp(e + p, "or", 2) == 0) {
            t->op = OP_OR;
            return q;
        }
        break;
    }
    }
    t->kind = K_ERR;
    return p;
}

/* Shunting-yard, with the grammar tracked in want_operand: a value, '('
 * or `not` may only come where an operand is expected, a binary operator
 * or ')' only after one. That rejects what a bare operand count would let
 * through (`1 2 +`, `+ 1 2`), and leaves every operator of the program
 * its operands. */
vfilter *vfilter_compile(const char *expr, size_t len, size_t *errpos)
{
    vf_comp c = {.e = expr, .len = len};
    c.f = alloc_zero(sizeof *c.f);
    c.f->pool = alloc_mem(len + 1);
    int want_operand = 1, any = 0;
    size_t p = 0, last = 0, err = 0;
    for (;;) {
        p = vf_skip_ws(&c, p);
        if (p >= len) {
            break;
        }
        size_t start = p;
        vf_tok t;
        p = vf_lex(&c, p, want_operand, &t);
        any = 1;
        last = start;
        err = start;
        switch (t.kind) {
        case K_ERR: goto fail;
        case K_VALUE:
            if (!want_operand) {
                goto fail; /* a second value where an operator belongs: `1 2` */
            }
            vf_emit(&c, &t.ins);
            want_operand = 0;
            break;
        case K_LPAREN:
        case K_NOT:
            if (!want_operand) {
                goto fail;
            }
            vf_push_op(&c, t.kind == K_LPAREN ? OP_LPAREN : OP_NOT, start);
            break;
        case K_RPAREN:
            if (want_operand) {
                goto fail; /* `()`, `1 + )` */
            }
            while (c.nops > 0 && c.ops[c.nops - 1].op != OP_LPAREN) {
                vf_emit_op(&c, c.ops[--c.nops].op);
            }
            if (c.nops == 0) {
                goto fail; /* unbalanced ')' */
            }
            c.nops--;
            break;
        default: {
            if (want_operand) {
                goto fail; /* the operator lacks its left operand */
            }
            /* Pop what binds tighter, or as tight for left-associative
             * operators; `**` is right-associative. */
            uint8_t prec = vf_prec[t.op];
            while (c.nops > 0) {
                uint8_t top = c.ops[c.nops - 1].op;
                if (top == OP_LPAREN || vf_prec[top] < prec || (vf_prec[top] == prec && t.op == OP_POW)) {
                    break;
                }
                vf_emit_op(&c, top);
                c.nops--;
            }
            vf_push_op(&c, t.op, start);
            want_operand = 1;
            break;
        }
        }
    }
    /* Empty, or ending where an operand is due (after an operator, `(` or
     * `not`): the last token is to blame. */
    err = last;
    if (!any || want_operand) {
        goto fail;
    }
    while (c.nops > 0) {
        vf_pending top = c.ops[--c.nops];
        if (top.op == OP_LPAREN) {
            err = top.pos;
            goto fail;
        }
        vf_emit_op(&c, top.op);
    }
    alloc_free(c.ops);
    vfilter *f = c.f;
    for (size_t i = 0; i < f->ncode; i++) {
        vf_ins *ins = &f->code[i];
        if (ins->op == OP_PUSH && ins->v.type == V_TUP) {
            ins->v.tup = ins->v.len ? f->elems + ins->arg : NULL;
        }
    }
    return f;

fail:
    alloc_free(c.ops);
    vfilter_free(c.f);
    if (errpos) {
        *errpos = len > 0 && err >= len ? len - 1 : err;
    }
    return NULL;
}
