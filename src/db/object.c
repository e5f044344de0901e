/* object: layout and life of keyspace entries. All offsets derive from the
 * header, so reading a field never needs more than the entry itself. */
#include "db/object.h"

#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"

static const type_ops *registry[OBJ_TYPES];

void obj_register_type(int type, const type_ops *ops)
{
    registry[type] = ops;
}

const type_ops *obj_type_ops(int type)
{
    return type >= 0 && type < OBJ_TYPES ? registry[type] : NULL;
}

const char *obj_type_name(int type)
{
    if (type == OBJ_STRING) {
        return "string";
    }
    const type_ops *ops = obj_type_ops(type);
    return ops ? ops->name : "none";
}

static size_t expire_size(int has_expire)
{
    return has_expire ? sizeof(int64_t) : 0;
}

static size_t keylen_size(size_t len)
{
    return len < OBJ_SHORT_KEY ? 1 : sizeof(uint64_t);
}

static char *val_ptr(const kobj *o)
{
    sv k = kobj_key(o);
    return (char *)k.ptr + k.len;
}

int64_t kobj_expire(const kobj *o)
{
    if (!o->has_expire) {
        return -1;
    }
    int64_t t;
    memcpy(&t, o->data, sizeof(t));
    return t;
}

static size_t value_size(const kobj *o)
{
    if (o->type == OBJ_STRING && o->enc == ENC_EMBSTR) {
        return 1 + (unsigned char)val_ptr(o)[0];
    }
    return 8; /* an int64 or a pointer */
}

/* Allocates an entry with room for a value of vsize bytes. */
unsigned kobj_snap_parity;

static kobj *shell(sv key, int type, int enc, int64_t expire, size_t vsize)
{
    int has_exp = expire >= 0;
    size_t ks = keylen_size(key.len);
    kobj *o = alloc_mem(sizeof(kobj) + expire_size(has_exp) + ks + key.len + vsize);
    o->type = (uint32_t)type;
    o->enc = (uint32_t)enc;
    o->lru = 0;
    o->has_expire = (uint32_t)has_exp;
    o->snap = kobj_snap_parity;
    o->long_key = ks != 1;
    char *p = o->data + expire_size(has_exp);
    if (has_exp) {
        memcpy(o->data, &expire, sizeof(expire));
    }
    if (ks == 1) {
        *p = (char)(unsigned char)key.len;
    } else {
        uint64_t len = key.len;
        memcpy(p, &len, sizeof(len));
    }
    if (key.len) {
        memcpy(p + ks, key.ptr, key.len);
    }
    return o;
}

kobj *kobj_new_int(sv key, long long v, int64_t expire)
{
    kobj *o = shell(key, OBJ_STRING, ENC_INT, expire, 8);
    int64_t x = v;
    memcpy(val_ptr(o), &x, 8);
    return o;
}

kobj *kobj_new_raw(sv key, str s, int64_t expire)
{
    kobj *o = shell(key, OBJ_STRING, ENC_RAW, expire, 8);
    memcpy(val_ptr(o), &s, sizeof(s));
    return o;
}

kobj *kobj_new_string(sv key, sv val, int64_t expire)
{
    long long v;
    /* Integers are kept as integers, as Redis does for values up to 20
     * chars, so INCR needs no parse and memory stays small. */
    if (val.len <= 20 && util_parse_ll(val.ptr, val.len, &v)) {
        return kobj_new_int(key, v, expire);
    }
    if (val.len <= OBJ_EMBSTR_MAX) {
        kobj *o = shell(key, OBJ_STRING, ENC_EMBSTR, expire, 1 + val.len);
        char *v = val_ptr(o);
        v[0] = (char)(unsigned char)val.len;
        if (val.len) {
            memcpy(v + 1, val.ptr, val.len);
        }
        return o;
    }
    return kobj_new_raw(key, str_new(val.ptr, val.len), expire);
}

sv kobj_str(const kobj *o, char *buf)
{
    switch (o->enc) {
    case ENC_INT: {
        int64_t v;
        memcpy(&v, val_ptr(o), 8);
        int n = util_ll2str(buf, v);
        return (sv){buf, (size_t)n};
    }
    case ENC_EMBSTR: {
        const char *v = val_ptr(o);
        return (sv){v + 1, (unsigned char)v[0]};
    }
    case ENC_RAW: {
        str s = kobj_raw(o);
        return (sv){s, str_len(s)};
    }
    }
    PANIC("kobj_str on a non-string (type %d enc %d)", o->type, o->enc);
}

int kobj_get_int(const kobj *o, long long *v)
{
    if (o->type != OBJ_STRING || o->enc != ENC_INT) {
        return 0;
    }
    int64_t x;
    memcpy(&x, val_ptr(o), 8);
    *v = x;
    return 1;
}

void kobj_set_int(kobj *o, long long v)
{
    ASSERT(o->enc == ENC_INT);
    int64_t x = v;
    memcpy(val_ptr(o), &x, 8);
}

str kobj_raw(const kobj *o)
{
    str s;
    memcpy(&s, val_ptr(o), sizeof(s));
    return s;
}

void kobj_set_raw(kobj *o, str s)
{
    memcpy(val_ptr(o), &s, sizeof(s));
}

const char *kobj_encoding(const kobj *o)
{
    if (o->type == OBJ_STRING) {
        switch (o->enc) {
        case ENC_INT: return "int";
        case ENC_EMBSTR: return "embstr";
        default: return "raw";
        }
    }
    const type_ops *ops = obj_type_ops(o->type);
    return ops && ops->encoding ? ops->encoding(kobj_ptr(o)) : "unknown";
}

kobj *kobj_new_ptr(sv key, int type, void *ptr, int64_t expire)
{
    kobj *o = shell(key, type, ENC_PTR, expire, sizeof(void *));
    memcpy(val_ptr(o), &ptr, sizeof(ptr));
    return o;
}

void *kobj_ptr(const kobj *o)
{
    void *p;
    memcpy(&p, val_ptr(o), sizeof(p));
    return p;
}

void kobj_set_ptr(kobj *o, void *ptr)
{
    memcpy(val_ptr(o), &ptr, sizeof(ptr));
}

kobj *kobj_with_expire(kobj *o, int64_t expire)
{
    size_t vs = value_size(o);
    kobj *n = shell(kobj_key(o), o->type, o->enc, expire, vs);
    memcpy(val_ptr(n), val_ptr(o), vs);
    n->lru = o->lru;
    return n;
}

kobj *kobj_rekey(kobj *o, sv newkey, int64_t expire)
{
    size_t vs = value_size(o);
    kobj *n = shell(newkey, o->type, o->enc, expire, vs);
    memcpy(val_ptr(n), val_ptr(o), vs);
    n->lru = o->lru;
    alloc_free(o);
    return n;
}

kobj *kobj_dup_as(const kobj *o, sv newkey, int64_t expire)
{
    if (o->type == OBJ_STRING) {
        if (o->enc == ENC_RAW) {
            return kobj_new_raw(newkey, str_dup(kobj_raw(o)), expire);
        }
        size_t vs = value_size(o);
        kobj *n = shell(newkey, o->type, o->enc, expire, vs);
        memcpy(val_ptr(n), val_ptr(o), vs);
        return n;
    }
    const type_ops *ops = obj_type_ops(o->type);
    return kobj_new_ptr(newkey, o->type, ops->dup(kobj_ptr(o)), expire);
}

void kobj_free_shell(kobj *o)
{
    alloc_free(o);
}

void kobj_free(kobj *o)
{
    if (!o) {
        return;
    }
    if (o->type == OBJ_STRING) {
        if (o->enc == ENC_RAW) {
            str_free(kobj_raw(o));
        }
    } else {
        const type_ops *ops = obj_type_ops(o->type);
        if (ops && ops->free) {
            ops->free(kobj_ptr(o));
        }
    }
    alloc_free(o);
}

kobj *kobj_defrag(kobj *o)
{
    if (o->type == OBJ_STRING && o->enc == ENC_RAW) {
        str moved = str_defrag(kobj_raw(o));
        if (moved) {
            kobj_set_raw(o, moved);
        }
    }
    return alloc_defrag(o);
}

size_t kobj_mem_sampled(const kobj *o, int dbid, size_t samples)
{
    size_t n = alloc_usable(o);
    if (o->type == OBJ_STRING) {
        if (o->enc == ENC_RAW) {
            n += str_mem(kobj_raw(o));
        }
    } else {
        const type_ops *ops = obj_type_ops(o->type);
        if (ops && ops->mem_of_key) {
            n += ops->mem_of_key(kobj_ptr(o), kobj_key(o), dbid, samples);
        } else if (ops && ops->mem) {
            n += ops->mem(kobj_ptr(o));
        }
    }
    return n;
}

size_t kobj_mem(const kobj *o, int dbid)
{
    return kobj_mem_sampled(o, dbid, OBJ_MEM_SAMPLES);
}
