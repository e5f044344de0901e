/* ktable: Robin Hood open addressing with incremental resizing.
 *
 * Invariants, per table: an entry sits at or after its home slot with no
 * empty slot between (linear probing), and along a run homes never
 * decrease (Robin Hood), so a search may stop at the first entry that is
 * closer to its home than the searched key would be. Runs never wrap: the
 * array ends in spill slots and grows more if a run reaches its end.
 * While resizing, table 0's slots below rehash_idx are empty (moved) and
 * searches there start at rehash_idx; inserts go to table 1 only. */
#include "base/ktable.h"

#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"

#define KT_MIN 8
#define KT_SPILL 32
#define DISP_MAX 255
/* Grow past 90% full to 70% full; shrink below 25% full. */
#define GROW_AT(size) ((size) / 10 * 9 + ((size) % 10) * 9 / 10)
#define SIZE_FOR(n) ((n) / 7 * 10 + ((n) % 7) * 10 / 7 + 1)
/* Entries moved per insert while resizing: enough that the new table,
 * sized for the old count at 70%, stays under 90% however many inserts
 * arrive before the move ends. */
#define INSERT_STEPS 4
#define CURSOR_SHIFT 16

#define PTR_MASK ((1ULL << 48) - 1)

static inline void *slot_ptr(uint64_t x)
{
    return (void *)(uintptr_t)(x & PTR_MASK);
}

static inline unsigned slot_disp(uint64_t x)
{
    return (unsigned)(x >> 48) & 0xFF;
}

static inline unsigned slot_tag(uint64_t x)
{
    return (unsigned)(x >> 56);
}

static inline uint64_t with_disp(uint64_t x, size_t d)
{
    uint64_t dd = d < DISP_MAX ? d : DISP_MAX;
    return (x & ~(0xFFULL << 48)) | (dd << 48);
}

static inline uint64_t pack(void *p, uint64_t h)
{
    uint64_t v = (uint64_t)(uintptr_t)p;
    if (v & ~PTR_MASK) {
        PANIC("ktable: a pointer above 48 bits");
    }
    return v | ((h & 0xFF) << 56);
}

/* The hash scaled to [0, n): monotone in the hash, any n. */
static inline size_t home_of(uint64_t h, size_t n)
{
    return (size_t)(((unsigned __int128)h * n) >> 64);
}

/* The first hash whose home is s (s < n). */
static uint64_t range_start(size_t s, size_t n)
{
    return (uint64_t)((((unsigned __int128)s << 64) + n - 1) / n);
}

static uint64_t node_hash(const ktable *t, const void *p)
{
    sv k = t->type->node_key(p);
    return t->type->hash(k.ptr, k.len);
}

/* The last key a lookup, insert or replace hashed, and its hash: a write
 * looks its key up and then stores it, and this saves the second SipHash
 * (about 150 instructions). Matched by content, never by address, so a
 * buffer reused for another key cannot pick up a stale hash; per thread,
 * as loading and freeing may run off the main thread. (The hash seed is
 * set once at start-up, before any table exists.) */
#define MEMO_MAX 64
static _Thread_local struct {
    uint64_t (*fn)(const void *, size_t);
    size_t len;
    uint64_t h;
    char key[MEMO_MAX];
} memo;

static uint64_t key_hash(const ktable *t, const char *key, size_t len)
{
    if (memo.fn == t->type->hash && memo.len == len && len <= MEMO_MAX && memcmp(memo.key, key, len) == 0) {
        return memo.h;
    }
    uint64_t h = t->type->hash(key, len);
    if (len <= MEMO_MAX) {
        memo.fn = t->type->hash;
        memo.len = len;
        memo.h = h;
        memcpy(memo.key, key, len);
    }
    return h;
}

/* The true distance of the entry at pos; a saturated field is recomputed. */
static size_t disp_at(const ktable *t, int tab, size_t pos, uint64_t x)
{
    unsigned d = slot_disp(x);
    if (d < DISP_MAX) {
        return d;
    }
    return pos - home_of(node_hash(t, slot_ptr(x)), t->size[tab]);
}

void ktable_init(ktable *t, const ktable_type *type)
{
    memset(t, 0, sizeof(*t));
    t->type = type;
}

size_t ktable_size(const ktable *t)
{
    return t->used[0] + t->used[1];
}

size_t ktable_longest_run(const ktable *t)
{
    size_t longest = 0;
    for (int tab = 0; tab < 2; tab++) {
        size_t run = 0;
        for (size_t i = 0; i < t->size[tab] + t->spill[tab]; i++) {
            run = t->slots[tab][i] ? run + 1 : 0;
            longest = run > longest ? run : longest;
        }
    }
    return longest;
}

size_t ktable_slots(const ktable *t)
{
    return t->size[0] + t->spill[0] + t->size[1] + t->spill[1];
}

int ktable_is_rehashing(const ktable *t)
{
    return t->rehashing;
}

static void grow_spill(ktable *t, int tab)
{
    size_t old = t->size[tab] + t->spill[tab];
    size_t more = t->spill[tab];
    t->slots[tab] = alloc_resize(t->slots[tab], (old + more) * sizeof(uint64_t));
    memset(t->slots[tab] + old, 0, more * sizeof(uint64_t));
    t->spill[tab] += more;
}

/* An insert that walks this far from its home found a stretch of the
 * table packed far past the average: with uniform homes at 90% full the
 * longest walk is about a thousand slots even at 8M slots. Keys deleted in
 * hash order (the expiry scan's, a client's SCAN and DEL) leave the rest
 * bunched in one part of the hash range, and new keys pile onto that part
 * long before the table as a whole reaches 90%, into runs of 100,000 slots
 * that every insert there walks to its end. The next insert then doubles
 * the table, which halves every stretch's fill. */
#define CROWDED_WALK 4096

/* Robin Hood insertion of a new entry with hash h. */
static void place(ktable *t, int tab, uint64_t h, void *p)
{
    size_t pos = home_of(h, t->size[tab]), d = 0, start = pos;
    uint64_t cur = pack(p, h);
    for (;; pos++, d++) {
        if (pos == t->size[tab] + t->spill[tab]) {
            grow_spill(t, tab);
        }
        uint64_t *s = t->slots[tab];
        uint64_t x = s[pos];
        if (x == 0) {
            s[pos] = with_disp(cur, d);
            break;
        }
        size_t xd = disp_at(t, tab, pos, x);
        if (xd < d) {
            s[pos] = with_disp(cur, d);
            cur = x;
            d = xd;
        }
    }
    t->used[tab]++;
    if (pos - start >= CROWDED_WALK) {
        t->crowded = 1;
    }
}

static size_t search(const ktable *t, int tab, sv key, uint64_t h)
{
    size_t n = t->size[tab];
    if (n == 0 || t->used[tab] == 0) {
        return SIZE_MAX;
    }
    size_t home = home_of(h, n), pos = home;
    if (tab == 0 && t->rehashing && pos < t->rehash_idx) {
        pos = t->rehash_idx;
    }
    const uint64_t *s = t->slots[tab];
    size_t end = n + t->spill[tab];
    unsigned tag = (unsigned)(h & 0xFF);
    for (size_t d = pos - home; pos < end; pos++, d++) {
        uint64_t x = s[pos];
        if (x == 0) {
            return SIZE_MAX;
        }
        unsigned xd = slot_disp(x);
        if (xd < d && (xd < DISP_MAX || disp_at(t, tab, pos, x) < d)) {
            return SIZE_MAX; /* a richer entry: ours would have been before */
        }
        if (slot_tag(x) == tag && sv_eq(t->type->node_key(slot_ptr(x)), key)) {
            return pos;
        }
    }
    return SIZE_MAX;
}

/* Removes the entry at pos, shifting the rest of its run back. */
static void delete_at(ktable *t, int tab, size_t pos)
{
    uint64_t *s = t->slots[tab];
    size_t end = t->size[tab] + t->spill[tab];
    for (;;) {
        size_t q = pos + 1;
        uint64_t y = q < end ? s[q] : 0;
        if (y == 0 || slot_disp(y) == 0) {
            s[pos] = 0;
            break;
        }
        s[pos] = with_disp(y, disp_at(t, tab, q, y) - 1);
        pos = q;
    }
    t->used[tab]--;
}

static void finish_move(ktable *t)
{
    alloc_free(t->slots[0]);
    t->slots[0] = t->slots[1];
    t->size[0] = t->size[1];
    t->spill[0] = t->spill[1];
    t->used[0] = t->used[1];
    t->slots[1] = NULL;
    t->size[1] = t->spill[1] = t->used[1] = 0;
    t->rehashing = 0;
    t->rehash_idx = 0;
}

int ktable_rehash(ktable *t, int n)
{
    if (!t->rehashing) {
        return 0;
    }
    int empty_visits = n * 10;
    size_t end = t->size[0] + t->spill[0];
    uint64_t *s = t->slots[0];
    while (n > 0 && t->used[0]) {
        if (t->rehash_idx == end) {
            PANIC("ktable: entries left behind the move");
        }
        uint64_t x = s[t->rehash_idx];
        if (x == 0) {
            t->rehash_idx++;
            if (--empty_visits == 0) {
                return 1;
            }
            continue;
        }
        /* Cleared without a back-shift: searches start at rehash_idx. */
        s[t->rehash_idx++] = 0;
        t->used[0]--;
        void *p = slot_ptr(x);
        place(t, 1, node_hash(t, p), p);
        n--;
    }
    if (t->used[0] == 0) {
        finish_move(t);
        return 0;
    }
    return 1;
}

int ktable_rehash_ms(ktable *t, int ms)
{
    int64_t start = util_mono_us();
    int done = 0;
    while (ktable_rehash(t, 100)) {
        done += 100;
        if (util_mono_us() - start > (int64_t)ms * 1000) {
            break;
        }
    }
    return done;
}

static void start_resize(ktable *t, size_t size)
{
    if (size < KT_MIN) {
        size = KT_MIN;
    }
    size_t want = (size + KT_SPILL) * sizeof(uint64_t);
    uint64_t *s = alloc_zero(want);
    /* The allocator rounds big sizes up to a class (up to 25% more): use
     * every slot of it rather than leave the rounding unused. */
    size_t usable = alloc_usable(s);
    if (usable > want) {
        memset((char *)s + want, 0, usable - want);
        size = usable / sizeof(uint64_t) - KT_SPILL;
    }
    if (t->used[0] == 0) {
        alloc_free(t->slots[0]);
        t->slots[0] = s;
        t->size[0] = size;
        t->spill[0] = KT_SPILL;
        return;
    }
    t->slots[1] = s;
    t->size[1] = size;
    t->spill[1] = KT_SPILL;
    t->used[1] = 0;
    t->rehash_idx = 0;
    t->rehashing = 1;
}

static void step(ktable *t, int n)
{
    if (t->rehashing && t->pause_rehash == 0) {
        ktable_rehash(t, n);
    }
}

static void maybe_grow(ktable *t)
{
    if (t->rehashing) {
        /* Only a burst of inserts while iterators pause the move gets here
         * with the new table nearly full: finish the move when allowed. */
        if (t->pause_rehash == 0 && t->used[1] >= GROW_AT(t->size[1])) {
            while (ktable_rehash(t, 1000)) {
            }
        } else {
            return;
        }
    }
    if (t->crowded) {
        /* Doubling thins every stretch. A table already 16 times the
         * size its count needs is crowded by equal homes, which no size
         * cures, so growth stops there (SipHash makes that rare). */
        t->crowded = 0;
        if (t->size[0] < 16 * SIZE_FOR(t->used[0] + 1)) {
            start_resize(t, t->size[0] * 2);
            return;
        }
    }
    if (t->size[0] == 0) {
        start_resize(t, KT_MIN);
    } else if (t->used[0] + 1 > GROW_AT(t->size[0])) {
        start_resize(t, SIZE_FOR(t->used[0] + 1));
    }
}

void ktable_reserve(ktable *t, size_t n)
{
    if (t->rehashing || n <= GROW_AT(t->size[0])) {
        return;
    }
    start_resize(t, SIZE_FOR(n));
}

/* The fullest stretch of the table, as a fraction: SHRINK_WINDOWS windows
 * of SHRINK_WINDOW slots spread over it, so the cost does not grow with
 * the table. */
#define SHRINK_WINDOWS 64
#define SHRINK_WINDOW 256

static double densest_stretch(const ktable *t)
{
    size_t n = t->size[0];
    if (n < SHRINK_WINDOWS * SHRINK_WINDOW) {
        return (double)t->used[0] / (double)n;
    }
    size_t most = 0;
    for (size_t w = 0; w < SHRINK_WINDOWS; w++) {
        const uint64_t *s = t->slots[0] + w * (n / SHRINK_WINDOWS);
        size_t c = 0;
        for (size_t i = 0; i < SHRINK_WINDOW; i++) {
            c += s[i] != 0;
        }
        most = c > most ? c : most;
    }
    return (double)most / SHRINK_WINDOW;
}

void ktable_resize_to_fit(ktable *t)
{
    if (t->rehashing || t->size[0] <= KT_MIN) {
        return;
    }
    if (t->used[0] * 4 >= t->size[0]) {
        return;
    }
    /* Homes are hash positions, so keys deleted in hash order (the expiry
     * scan's, or a client's SCAN and DEL) leave the rest bunched in one
     * part of the hash range. Sized for their count alone, the smaller
     * table would pack that part past full into one long run that every
     * lookup homed there walks. So the new size also keeps the fullest
     * stretch at most 80% full, and the shrink waits while that is not
     * much smaller. */
    size_t want = SIZE_FOR(t->used[0]);
    size_t local = (size_t)((double)t->size[0] * densest_stretch(t) / 0.8) + 1;
    want = local > want ? local : want;
    if (want * 2 <= t->size[0]) {
        start_resize(t, want);
    }
}

/* The slot holding key (hash h) in either table: its index, and the table
 * in *tab; SIZE_MAX when absent. */
static size_t locate(const ktable *t, sv key, uint64_t h, int *tab)
{
    for (*tab = 0; *tab <= t->rehashing; (*tab)++) {
        size_t pos = search(t, *tab, key, h);
        if (pos != SIZE_MAX) {
            return pos;
        }
    }
    return SIZE_MAX;
}

/* Where the last entry found sits, if that slot still holds it: entries
 * are unique, so the slot is right for that entry's key. */
static size_t last_slot(const ktable *t, const void *node, int *tab)
{
    int lt = t->last_tab;
    size_t lp = t->last_pos;
    if (node == NULL || node != t->last_node || lt > t->rehashing || lp >= t->size[lt] + t->spill[lt] ||
        slot_ptr(t->slots[lt][lp]) != node) {
        return SIZE_MAX;
    }
    *tab = lt;
    return lp;
}

/* The slot of key (hash h): the remembered one when it holds this key (a
 * different hash rules that out with one compare), else found by probing. */
static size_t find_slot(ktable *t, sv key, uint64_t h, int *tab)
{
    size_t pos;
    if (h == t->last_hash && (pos = last_slot(t, t->last_node, tab)) != SIZE_MAX &&
        sv_eq(t->type->node_key(t->last_node), key)) {
        return pos;
    }
    pos = locate(t, key, h, tab);
    if (pos != SIZE_MAX) {
        t->last_tab = *tab;
        t->last_pos = pos;
        t->last_node = slot_ptr(t->slots[*tab][pos]);
        t->last_hash = h;
    }
    return pos;
}

void *ktable_find(ktable *t, const char *key, size_t len)
{
    if (ktable_size(t) == 0) {
        return NULL;
    }
    step(t, 1);
    int tab;
    size_t pos = find_slot(t, (sv){key, len}, key_hash(t, key, len), &tab);
    return pos == SIZE_MAX ? NULL : slot_ptr(t->slots[tab][pos]);
}

void ktable_insert(ktable *t, void *node)
{
    step(t, INSERT_STEPS);
    maybe_grow(t);
    sv k = t->type->node_key(node);
    place(t, t->rehashing, key_hash(t, k.ptr, k.len), node);
}

void *ktable_unlink(ktable *t, const char *key, size_t len)
{
    if (ktable_size(t) == 0) {
        return NULL;
    }
    step(t, 1);
    int tab;
    size_t pos = find_slot(t, (sv){key, len}, key_hash(t, key, len), &tab);
    if (pos == SIZE_MAX) {
        return NULL;
    }
    void *p = slot_ptr(t->slots[tab][pos]);
    delete_at(t, tab, pos);
    return p;
}

/* repl takes old's slot; same key, same hash, so tag and distance stay. */
static void put_in_slot(ktable *t, int tab, size_t pos, const void *old, void *repl)
{
    uint64_t x = t->slots[tab][pos];
    t->slots[tab][pos] = (x & ~PTR_MASK) | (pack(repl, 0) & PTR_MASK);
    if (t->last_node == old) {
        t->last_node = repl;
    }
}

void ktable_replace(ktable *t, void *old, void *repl)
{
    int tab;
    size_t pos = last_slot(t, old, &tab);
    if (pos == SIZE_MAX) {
        sv k = t->type->node_key(repl);
        pos = locate(t, k, key_hash(t, k.ptr, k.len), &tab);
    }
    if (pos == SIZE_MAX) {
        PANIC("ktable_replace: the key is not in the table");
    }
    if (slot_ptr(t->slots[tab][pos]) != old) {
        PANIC("ktable_replace: the key is held by another entry");
    }
    put_in_slot(t, tab, pos, old, repl);
}

/* The slot holding addr, whose key hashes to h, found by address alone:
 * the entry there may be freed memory (it moved), so no key is read, and
 * the probe goes on to the end of the run. */
static size_t search_addr(const ktable *t, int tab, const void *addr, uint64_t h)
{
    size_t n = t->size[tab];
    if (n == 0 || t->used[tab] == 0) {
        return SIZE_MAX;
    }
    size_t pos = home_of(h, n), end = n + t->spill[tab];
    if (tab == 0 && t->rehashing && pos < t->rehash_idx) {
        pos = t->rehash_idx;
    }
    for (; pos < end && t->slots[tab][pos] != 0; pos++) {
        if (slot_ptr(t->slots[tab][pos]) == addr) {
            return pos;
        }
    }
    return SIZE_MAX;
}

void ktable_replace_moved(ktable *t, const void *old, void *repl)
{
    sv k = t->type->node_key(repl);
    uint64_t h = key_hash(t, k.ptr, k.len);
    for (int tab = 0; tab <= t->rehashing; tab++) {
        size_t pos = search_addr(t, tab, old, h);
        if (pos != SIZE_MAX) {
            put_in_slot(t, tab, pos, old, repl);
            return;
        }
    }
    PANIC("ktable_replace_moved: the entry is not in the table");
}

/* Slot i of the live range: table 0 from rehash_idx, then table 1. */
static uint64_t live_slot(const ktable *t, size_t i)
{
    size_t end0 = t->size[0] + t->spill[0] - t->rehash_idx;
    return i < end0 ? t->slots[0][t->rehash_idx + i] : t->slots[1][i - end0];
}

void *ktable_random(ktable *t)
{
    if (ktable_size(t) == 0) {
        return NULL;
    }
    step(t, 1);
    size_t span = t->size[0] + t->spill[0] - t->rehash_idx + (t->rehashing ? t->size[1] + t->spill[1] : 0);
    /* Uniform by rejection; a table left sparse (before cron shrinks it)
     * ends the draws by walking to the next entry instead. */
    size_t i = 0;
    for (int tries = 0; tries < 64; tries++) {
        i = (size_t)(util_rand64() % span);
        uint64_t x = live_slot(t, i);
        if (x) {
            return slot_ptr(x);
        }
    }
    for (size_t k = 1; k <= span; k++) {
        uint64_t x = live_slot(t, (i + k) % span);
        if (x) {
            return slot_ptr(x);
        }
    }
    return NULL;
}

void ktable_clear(ktable *t, ktable_fn free_fn, void *ctx)
{
    for (int tab = 0; tab <= 1; tab++) {
        size_t end = t->size[tab] + t->spill[tab];
        for (size_t i = 0; free_fn && i < end; i++) {
            if (t->slots[tab][i]) {
                free_fn(slot_ptr(t->slots[tab][i]), ctx);
            }
        }
        alloc_free(t->slots[tab]);
        t->slots[tab] = NULL;
        t->size[tab] = t->spill[tab] = t->used[tab] = 0;
    }
    t->rehashing = 0;
    t->rehash_idx = 0;
    t->crowded = 0;
}

/* ---- scan ---- */

typedef struct found {
    void **items;
    size_t len, cap;
    void *stack[64];
} found;

static void found_add(found *f, void *p)
{
    if (f->len == f->cap) {
        size_t cap = f->cap * 2;
        void **grown = alloc_mem(cap * sizeof(void *));
        memcpy(grown, f->items, f->len * sizeof(void *));
        if (f->items != f->stack) {
            alloc_free(f->items);
        }
        f->items = grown;
        f->cap = cap;
    }
    f->items[f->len++] = p;
}

/* Collects table tab's entries whose hash is in [lo, hi) (hi = 0: to the
 * end). Their homes span [hlo, hhi]; only entries at those two homes can
 * fall outside the range, and only they are hashed. */
static void collect(const ktable *t, int tab, uint64_t lo, uint64_t hi, found *f)
{
    size_t n = t->size[tab];
    if (n == 0 || t->used[tab] == 0) {
        return;
    }
    size_t hlo = home_of(lo, n), hhi = hi ? home_of(hi - 1, n) : n - 1;
    int check_lo = lo > range_start(hlo, n);
    int check_hi = hi && (hhi + 1 == n || hi < range_start(hhi + 1, n));
    size_t pos = hlo;
    if (tab == 0 && t->rehashing && pos < t->rehash_idx) {
        pos = t->rehash_idx;
    }
    const uint64_t *s = t->slots[tab];
    for (size_t end = n + t->spill[tab]; pos < end; pos++) {
        uint64_t x = s[pos];
        if (x == 0) {
            if (pos > hhi) {
                break;
            }
            continue;
        }
        size_t home = pos - disp_at(t, tab, pos, x);
        if (home > hhi) {
            break; /* homes only grow along a run */
        }
        if (home < hlo) {
            continue;
        }
        if ((home == hlo && check_lo) || (home == hhi && check_hi)) {
            uint64_t h = node_hash(t, slot_ptr(x));
            if (h < lo || (hi && h >= hi)) {
                continue;
            }
        }
        found_add(f, slot_ptr(x));
    }
}

unsigned long ktable_scan(ktable *t, unsigned long cursor, ktable_fn fn, void *ctx)
{
    if (ktable_size(t) == 0 || (cursor >> (64 - CURSOR_SHIFT)) != 0) {
        return 0;
    }
    uint64_t lo = (uint64_t)cursor << CURSOR_SHIFT;
    /* A step is one home slot of the smaller table, rounded out to the
     * cursor's granularity. */
    int small = t->rehashing && t->size[1] < t->size[0] ? 1 : 0;
    size_t n = t->size[small];
    size_t s = home_of(lo, n);
    uint64_t hi = 0;
    if (s + 1 < n) {
        uint64_t b = range_start(s + 1, n);
        uint64_t g = (1ULL << CURSOR_SHIFT) - 1;
        hi = b > UINT64_MAX - g ? 0 : (b + g) & ~g;
    }
    t->pause_rehash++;
    found f = {NULL, 0, 64, {0}};
    f.items = f.stack;
    collect(t, 0, lo, hi, &f);
    if (t->rehashing) {
        collect(t, 1, lo, hi, &f);
    }
    /* Visited after collecting: fn may delete its entry, which shifts the
     * run that collect was walking. */
    for (size_t i = 0; i < f.len; i++) {
        fn(f.items[i], ctx);
    }
    if (f.items != f.stack) {
        alloc_free(f.items);
    }
    t->pause_rehash--;
    return (unsigned long)(hi >> CURSOR_SHIFT);
}

/* ---- iteration ---- */

void ktable_iter_init(ktable_iter *it, ktable *t)
{
    memset(it, 0, sizeof(*it));
    it->t = t;
    t->pause_rehash++;
}

void *ktable_iter_next(ktable_iter *it)
{
    ktable *t = it->t;
    for (;;) {
        if (it->idx >= t->size[it->table] + t->spill[it->table]) {
            if (it->table == 0 && t->rehashing) {
                it->table = 1;
                it->idx = 0;
                continue;
            }
            return NULL;
        }
        uint64_t x = t->slots[it->table][it->idx];
        /* The index stays on the entry returned: if the caller deletes it,
         * the run shifts back and the next entry lands here. */
        if (x == 0 || slot_ptr(x) == it->last) {
            it->idx++;
            continue;
        }
        it->last = slot_ptr(x);
        return it->last;
    }
}

void ktable_iter_done(ktable_iter *it)
{
    if (it->t) {
        it->t->pause_rehash--;
        it->t = NULL;
    }
}
