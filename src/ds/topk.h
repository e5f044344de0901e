/* topk: the heaviest keys of a weighted stream in bounded memory (the
 * Space-Saving summary of Metwally, Agrawal and El Abbadi). At most
 * `capacity` keys are counted; a new key, when all are taken, replaces the
 * lightest and starts from its weight. A key's count then overestimates
 * its true weight by at most total / capacity, and every key heavier than
 * that is in the summary, so the top few of a skewed stream come out
 * right. Add and lookup are O(log capacity). */
#ifndef KEEL_TOPK_H
#define KEEL_TOPK_H

#include <stddef.h>
#include <stdint.h>

typedef struct topk topk;

typedef struct topk_item {
    const char *key; /* valid until the next add or free */
    size_t len;
    uint64_t weight;
} topk_item;

topk *topk_new(size_t capacity);
void topk_free(topk *t);
void topk_add(topk *t, const char *key, size_t len, uint64_t weight);
/* The heaviest (at most k) keys, heaviest first, into out; returns how
 * many. Ties come in key order. */
size_t topk_list(const topk *t, size_t k, topk_item *out);
size_t topk_count(const topk *t);
size_t topk_mem(const topk *t);

#endif
