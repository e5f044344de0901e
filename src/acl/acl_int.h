/* acl_int: what the acl/ files share and nothing outside them needs. */
#ifndef KEEL_ACL_INT_H
#define KEEL_ACL_INT_H

#include "acl/acl.h"

/* Command ids and the words of a selector's bitmap (set by acl_init). */
extern int acl_nids, acl_nwords;

static inline int acl_bit_get(const acl_selector *s, int id)
{
    return (int)((s->bits[id >> 6] >> (id & 63)) & 1);
}

static inline void acl_bit_set(acl_selector *s, int id, int on)
{
    if (on) {
        s->bits[id >> 6] |= 1ull << (id & 63);
    } else {
        s->bits[id >> 6] &= ~(1ull << (id & 63));
    }
}

/* acl_rules.c */
uint32_t acl_command_categories(const command *cmd);
void acl_change_perm(acl_selector *s, const command *cmd, int allow);
void acl_change_category(acl_selector *s, uint32_t cat, int allow);
void acl_selector_init(acl_selector *s, uint32_t flags);
void acl_selector_free(acl_selector *s);
void acl_selector_copy(acl_selector *dst, const acl_selector *src);
int acl_selector_apply(acl_selector *s, const char *op, size_t len, const char **why);

#endif
