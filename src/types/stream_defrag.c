/* stream_defrag: active defragmentation of a stream (type_ops.defrag,
 * db/object.h), in bounded steps. What moves, and what points at it:
 *   the stream struct        the key's entry (our caller, from the return)
 *   an entry block           its slot in a leaf of s->blocks
 *   a node of any idtree     its parent (or the root) and the leaf chain
 *                            (idtree_defrag_step fixes both)
 *   the groups array         s->groups
 *   a group                  s->groups[i]
 *   its name, consumer array the group
 *   a pending entry (nack)   the group's PEL and its owner's PEL: one
 *                            record in both, so both slots change
 *   a consumer               g->consumers[j] and the owner field of each
 *                            of its pending entries
 *   a consumer's name        the consumer
 *   IDMP producers and iids  see stream_idmp_defrag_step
 * Nothing outside the type holds these between commands: a blocked
 * XREADGROUP keeps only its arguments and looks its group and consumer up
 * again when it is re-run (cmd_stream_read.c); metrics copy figures out.
 *
 * The walk goes in phases: the struct, groups array and IDMP table, the
 * entry blocks, then group by group its struct, its PEL, and consumer by
 * consumer its struct and PEL, then the IDMP producers. The cursor holds the phase (low 3 bits), the
 * group index (the next 29) and the consumer index (the high 32). A
 * position inside a tree ordered by ID (blocks, PELs) needs a whole
 * 128-bit ID: a cursor holding only the ms part would repeat, or have to
 * skip, a run of blocks within one millisecond (explicit IDs 5-1, 5-2,
 * ... put a whole stream there), so the stream keeps the position itself
 * (s->defrag_at, the next key to visit), which costs no memory: the struct
 * stays in its allocator size class. Between calls the stream may change:
 * a key is found again by seeking, an index past the end moves on, so
 * writes can only make the walk miss or repeat some blocks, and every call
 * moves forward.
 *
 * The budget counts one per entry block, pending entry, consumer PEL slot,
 * group, consumer (plus its pending entries when it moves), producer and
 * iid; a seek per tree leaf comes on top. */
#include "base/alloc.h"
#include "base/log.h"
#include "types/stream.h"
#include "types/stream_group.h"
#include "types/stream_idmp.h"

_Static_assert(sizeof(unsigned long) >= 8, "the cursor packs a phase and two indexes into 64 bits");

enum {
    PH_START,        /* the stream struct, groups array, IDMP table */
    PH_BLOCKS,       /* entry blocks from defrag_at */
    PH_GROUP,        /* group g: struct, name, consumers array */
    PH_GROUP_PEL,    /* group g's pending entries from defrag_at */
    PH_CONSUMER,     /* consumer j of group g: struct and name */
    PH_CONSUMER_PEL, /* consumer j's PEL nodes from defrag_at */
    PH_IDMP,         /* IDMP producers and iids from defrag_at */
    PH_DONE
};

#define GROUP_BITS 29
#define GROUP_MAX ((1ul << GROUP_BITS) - 1)

/* A consumer's move rewrites the owner of each of its pending entries at
 * once (the old block is gone after the move); one with more than this
 * (or than the budget, when that is larger) stays, so one step stays
 * short. */
#define CONSUMER_FIXUP_MAX 1024

static void *move_block(void *val, const stream_id *key, void *ctx)
{
    (void)key;
    (void)ctx;
    return alloc_defrag(val);
}

/* A nack moved in the group's PEL; its owner's PEL holds it too. */
static void *move_nack(void *val, const stream_id *key, void *ctx)
{
    (void)ctx;
    stream_nack *n = alloc_defrag(val);
    if (n && !idtree_replace(&n->consumer->pel, key, n)) {
        PANIC("stream defrag: a pending entry missing from its consumer's PEL");
    }
    return n;
}

static size_t group_top(stream *s, int gi)
{
    stream_group *g = s->groups[gi] = alloc_defrag_keep(s->groups[gi]);
    str name = str_defrag(g->name);
    if (name) {
        g->name = name;
    }
    g->consumers = alloc_defrag_keep(g->consumers);
    return 1;
}

static size_t consumer_top(stream_group *g, int j, size_t budget)
{
    stream_consumer *c = g->consumers[j];
    str name = str_defrag(c->name);
    if (name) {
        c->name = name;
    }
    size_t pending = idtree_count(&c->pel);
    if (pending > (budget > CONSUMER_FIXUP_MAX ? budget : CONSUMER_FIXUP_MAX)) {
        return 1;
    }
    stream_consumer *m = alloc_defrag(c);
    if (!m) {
        return 1;
    }
    g->consumers[j] = m;
    idtree_pos p;
    for (int ok = idtree_first(&m->pel, &p); ok; ok = idtree_next(&p)) {
        ((stream_nack *)idtree_val(&p))->consumer = m;
    }
    return 1 + pending;
}

/* One leaf of a tree from s->defrag_at; 0 when the tree is done. */
static int tree_step(stream *s, idtree *t, size_t room, idtree_move_fn move, size_t *spent)
{
    size_t before = *spent;
    int more = idtree_defrag_step(t, &s->defrag_at, room, move, NULL, spent);
    return more && *spent > before; /* (a step offers at least one value) */
}

stream *stream_defrag(stream *s, unsigned long *cursor, size_t budget)
{
    int phase = (int)(*cursor & 7);
    unsigned long g = (*cursor >> 3) & GROUP_MAX;
    unsigned long j = *cursor >> 32;
    size_t spent = 0;
    budget = budget ? budget : 1;
    if (phase == PH_START) {
        s = alloc_defrag_keep(s);
        s->groups = alloc_defrag_keep(s->groups);
        stream_idmp_defrag_top(s);
        s->defrag_at = (stream_id){0, 0};
        phase = PH_BLOCKS;
        spent = 1;
    }
    while (phase != PH_DONE && spent < budget) {
        size_t room = budget - spent;
        stream_group *grp =
            (phase != PH_BLOCKS && phase != PH_IDMP && g < (unsigned long)s->ngroups) ? s->groups[g] : NULL;
        switch (phase) {
        case PH_BLOCKS:
            if (!tree_step(s, &s->blocks, room, move_block, &spent)) {
                phase = PH_GROUP;
                g = 0;
            }
            break;
        case PH_GROUP:
            if (!grp || g >= GROUP_MAX) {
                phase = PH_IDMP;
                s->defrag_at = (stream_id){0, 0};
                break;
            }
            spent += group_top(s, (int)g);
            s->defrag_at = (stream_id){0, 0};
            phase = PH_GROUP_PEL;
            break;
        case PH_GROUP_PEL:
            if (!grp) {
                phase = PH_GROUP; /* gone meanwhile: on to the next */
            } else if (!tree_step(s, &grp->pel, room, move_nack, &spent)) {
                phase = PH_CONSUMER;
                j = 0;
            }
            break;
        case PH_CONSUMER:
            if (!grp || j >= (unsigned long)grp->nconsumers) {
                phase = PH_GROUP;
                g++;
                break;
            }
            spent += consumer_top(grp, (int)j, budget);
            s->defrag_at = (stream_id){0, 0};
            phase = PH_CONSUMER_PEL;
            break;
        case PH_CONSUMER_PEL:
            /* The values are the group's records, already done: only the
             * tree's own nodes move here. */
            if (!grp || j >= (unsigned long)grp->nconsumers ||
                !tree_step(s, &grp->consumers[j]->pel, room, NULL, &spent)) {
                phase = PH_CONSUMER;
                j++;
            }
            break;
        default: /* PH_IDMP */
            if (!stream_idmp_defrag_step(s, &s->defrag_at, room, &spent)) {
                phase = PH_DONE;
            }
            break;
        }
    }
    *cursor = phase == PH_DONE ? 0 : (unsigned long)phase | g << 3 | j << 32;
    return s;
}
