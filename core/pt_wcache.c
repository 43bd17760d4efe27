/*
 * pt_wcache.c - see pt_wcache.h.
 *
 * Entries live in a vector, found through an open-addressing index (linear
 * probing, at most half full); keys and values live in an arena of blocks
 * that a reset rewinds.  A value rewritten with the same or a smaller size
 * is overwritten in place, so a hot counter rewritten by every event of a
 * chunk costs no memory beyond its first copy.
 */
#include "pt_wcache.h"
#include "st_env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* An arena block; a bigger value gets a block of its own. */
#define WC_BLOCK ((size_t)1 << 20)
#define WC_INDEX_MIN 4096 /* slots of the index at first use */

enum wc_state {
    WC_DIRTY = 1, /* put in this transaction, not yet in LMDB */
    WC_DELETED,   /* deleted in this transaction, not yet in LMDB */
    WC_CLEAN,     /* flushed: LMDB holds this value */
    WC_ABSENT     /* flushed delete: LMDB does not hold the key */
};

struct wc_entry {
    unsigned char *key, *val;
    uint64_t prefix; /* the key's first 8 bytes, big-endian, 0-padded */
    uint32_t klen, vlen, vcap;
    uint32_t hash;
    MDB_dbi dbi;
    uint8_t state;
};

struct wc_slot {
    uint32_t hash;
    uint32_t entry;
};

struct wc_block {
    struct wc_block *next;
    size_t used, cap;
    unsigned char data[];
};

struct pt_wcache {
    struct wc_entry *e;
    size_t n, cap;
    /* Entry number + 1 (0: an empty slot) with the entry's hash, so that a
     * probe touches the entries only on a likely match. */
    struct wc_slot *index;
    size_t icap; /* a power of two, or 0 before first use */
    struct wc_block *blocks;
    size_t arena;             /* bytes of the blocks */
    struct wc_entry **sorted; /* flush's scratch, cap entries */
    /* The entries DIRTY or DELETED, so that flushing one plugin's database
     * (before each of its scans) costs what it flushes, not a walk over
     * every entry. */
    uint32_t *pending;
    size_t npending;
};

struct pt_wcache *pt_wcache_new(void)
{
    return calloc(1, sizeof(struct pt_wcache));
}

static void blocks_free(struct wc_block *b)
{
    while (b != NULL) {
        struct wc_block *next = b->next;
        free(b);
        b = next;
    }
}

void pt_wcache_free(struct pt_wcache *c)
{
    if (c == NULL)
        return;
    blocks_free(c->blocks);
    free(c->e);
    free(c->index);
    free(c->sorted);
    free(c->pending);
    free(c);
}

void pt_wcache_reset(struct pt_wcache *c)
{
    /* Tables sized for a big transaction (a province's review visits every
     * household, up to the spill limit) would make every later lookup miss
     * the CPU caches, be cleared in full each time and hold memory: give
     * them back when four times what this transaction used; they grow
     * again on demand. */
    size_t want = WC_INDEX_MIN;
    while (want < 2 * c->n)
        want *= 2;
    if (c->icap > 4 * want) {
        free(c->index);
        c->index = NULL;
        c->icap = 0;
    } else if (c->n > 0 && c->index != NULL) {
        memset(c->index, 0, c->icap * sizeof *c->index);
    }
    if (c->cap > 4 * (want / 2)) {
        free(c->e);
        free(c->sorted);
        free(c->pending);
        c->e = NULL;
        c->sorted = NULL;
        c->pending = NULL;
        c->cap = 0;
    }
    c->n = 0;
    c->npending = 0;
    /* Keep one standard block for the next transaction, free the rest. */
    struct wc_block *keep = NULL, *b = c->blocks;
    while (b != NULL) {
        struct wc_block *next = b->next;
        if (keep == NULL && b->cap == WC_BLOCK) {
            keep = b;
            keep->next = NULL;
            keep->used = 0;
        } else {
            free(b);
        }
        b = next;
    }
    c->blocks = keep;
    c->arena = keep != NULL ? keep->cap : 0;
}

/* size bytes of the arena, 8-aligned; NULL when out of memory. */
static void *arena_alloc(struct pt_wcache *c, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    struct wc_block *b = c->blocks;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > WC_BLOCK ? size : WC_BLOCK;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        c->arena += cap;
        b->cap = cap;
        b->used = 0;
        /* A block of its own for a big value goes behind the current one,
         * which still has room for small ones. */
        if (cap > WC_BLOCK && c->blocks != NULL) {
            b->next = c->blocks->next;
            c->blocks->next = b;
        } else {
            b->next = c->blocks;
            c->blocks = b;
        }
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

static uint32_t wc_hash(MDB_dbi dbi, const unsigned char *k, size_t n)
{
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ dbi ^ ((uint64_t)n << 32);
    uint64_t w;
    for (; n >= 8; k += 8, n -= 8) {
        memcpy(&w, k, 8);
        h = (h ^ w) * UINT64_C(0xBF58476D1CE4E5B9);
        h ^= h >> 31;
    }
    w = 0;
    memcpy(&w, k, n);
    h = (h ^ w) * UINT64_C(0x94D049BB133111EB);
    h ^= h >> 29;
    return (uint32_t)(h ^ (h >> 32));
}

/* The entry of (dbi, key), or NULL. */
static struct wc_entry *lookup(const struct pt_wcache *c, MDB_dbi dbi,
                               const void *key, size_t klen, uint32_t hash)
{
    if (c->n == 0)
        return NULL;
    size_t mask = c->icap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const struct wc_slot *slot = &c->index[i];
        if (slot->entry == 0)
            return NULL;
        if (slot->hash != hash)
            continue;
        struct wc_entry *e = &c->e[slot->entry - 1];
        if (e->dbi == dbi && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    }
}

static void index_insert(struct pt_wcache *c, size_t entry)
{
    size_t mask = c->icap - 1;
    uint32_t hash = c->e[entry].hash;
    size_t i = hash & mask;
    while (c->index[i].entry != 0)
        i = (i + 1) & mask;
    c->index[i].hash = hash;
    c->index[i].entry = (uint32_t)(entry + 1);
}

/* Room for one more entry: the vector, the flush scratch and an index at
 * most half full.  0 or POVTRACK_ENOMEM. */
static int reserve(struct pt_wcache *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        if (cap > UINT32_MAX - 1)
            return POVTRACK_ENOMEM;
        struct wc_entry *e = realloc(c->e, cap * sizeof *e);
        if (e == NULL)
            return POVTRACK_ENOMEM;
        c->e = e;
        struct wc_entry **s = realloc(c->sorted, cap * sizeof *s);
        if (s == NULL)
            return POVTRACK_ENOMEM;
        c->sorted = s;
        uint32_t *pend = realloc(c->pending, cap * sizeof *pend);
        if (pend == NULL)
            return POVTRACK_ENOMEM;
        c->pending = pend;
        c->cap = cap;
    }
    if ((c->n + 1) * 2 > c->icap) {
        size_t icap = c->icap ? c->icap * 2 : WC_INDEX_MIN;
        struct wc_slot *idx = calloc(icap, sizeof *idx);
        if (idx == NULL)
            return POVTRACK_ENOMEM;
        free(c->index);
        c->index = idx;
        c->icap = icap;
        for (size_t i = 0; i < c->n; i++)
            index_insert(c, i);
    }
    return 0;
}

int pt_wcache_get(struct pt_wcache *c, MDB_txn *txn, MDB_dbi dbi,
                  const void *key, size_t klen, const void **val, size_t *vlen)
{
    const struct wc_entry *e =
        lookup(c, dbi, key, klen, c->n ? wc_hash(dbi, key, klen) : 0);
    if (e == NULL) {
        MDB_val k = {klen, (void *)key}, v;
        int rc = st_mdb_rc(mdb_get(txn, dbi, &k, &v));
        if (rc == 0) {
            *val = v.mv_data;
            *vlen = v.mv_size;
        }
        return rc;
    }
    if (e->state == WC_DELETED || e->state == WC_ABSENT)
        return MDB_NOTFOUND;
    *val = e->val;
    *vlen = e->vlen;
    return 0;
}

int pt_wcache_put(struct pt_wcache *c, MDB_txn *txn, MDB_dbi dbi,
                  const void *key, size_t klen, const void *val, size_t vlen)
{
    if (klen > UINT32_MAX || vlen > UINT32_MAX)
        return POVTRACK_ENOMEM;
    uint32_t hash = wc_hash(dbi, key, klen);
    struct wc_entry *e = lookup(c, dbi, key, klen, hash);
    if (e == NULL) {
        if (reserve(c) != 0)
            return POVTRACK_ENOMEM;
        unsigned char *k = arena_alloc(c, klen);
        if (k == NULL)
            return POVTRACK_ENOMEM;
        memcpy(k, key, klen);
        e = &c->e[c->n];
        memset(e, 0, sizeof *e);
        e->key = k;
        e->klen = (uint32_t)klen;
        for (size_t i = 0; i < 8; i++)
            e->prefix = e->prefix << 8 | (i < klen ? k[i] : 0u);
        e->hash = hash;
        e->dbi = dbi;
        index_insert(c, c->n++);
    }
    if (e->val == NULL || vlen > e->vcap) {
        /* Values that grow (a household's history) grow again: leave them
         * room. */
        size_t cap = e->val == NULL ? vlen : vlen + vlen / 2;
        unsigned char *v = arena_alloc(c, cap ? cap : 1);
        if (v == NULL)
            return POVTRACK_ENOMEM;
        e->val = v;
        e->vcap = (uint32_t)cap;
    }
    /* val may point at this very entry's value (a get's result). */
    memmove(e->val, val, vlen);
    e->vlen = (uint32_t)vlen;
    if (e->state != WC_DIRTY && e->state != WC_DELETED)
        c->pending[c->npending++] = (uint32_t)(e - c->e);
    e->state = WC_DIRTY;
    /* Spill only now that val is copied: it may point into the arena. */
    if (c->n < PT_WCACHE_SPILL_ENTRIES && c->arena < PT_WCACHE_SPILL_BYTES)
        return 0;
    int rc = pt_wcache_flush(c, txn, 0, 1);
    if (rc == 0)
        pt_wcache_reset(c);
    return rc;
}

int pt_wcache_del(struct pt_wcache *c, MDB_txn *txn, MDB_dbi dbi,
                  const void *key, size_t klen)
{
    struct wc_entry *e =
        lookup(c, dbi, key, klen, c->n ? wc_hash(dbi, key, klen) : 0);
    if (e == NULL) {
        MDB_val k = {klen, (void *)key};
        return st_mdb_rc(mdb_del(txn, dbi, &k, NULL));
    }
    if (e->state == WC_DELETED || e->state == WC_ABSENT)
        return MDB_NOTFOUND;
    if (e->state == WC_CLEAN)
        c->pending[c->npending++] = (uint32_t)(e - c->e);
    e->state = WC_DELETED;
    return 0;
}

/* LMDB's default order: bytes, then the shorter key first.  The prefix
 * decides most comparisons without a call to memcmp. */
static int entry_cmp(const void *a, const void *b)
{
    const struct wc_entry *x = *(const struct wc_entry *const *)a;
    const struct wc_entry *y = *(const struct wc_entry *const *)b;
    if (x->dbi != y->dbi)
        return x->dbi < y->dbi ? -1 : 1;
    if (x->prefix != y->prefix)
        return x->prefix < y->prefix ? -1 : 1;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int r = n > 8 ? memcmp(x->key + 8, y->key + 8, n - 8) : 0;
    if (r != 0)
        return r;
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

int pt_wcache_flush(struct pt_wcache *c, MDB_txn *txn, MDB_dbi dbi, int all)
{
    size_t m = 0, keep = 0;
    for (size_t i = 0; i < c->npending; i++) {
        struct wc_entry *e = &c->e[c->pending[i]];
        if (all || e->dbi == dbi)
            c->sorted[m++] = e;
        else
            c->pending[keep++] = c->pending[i];
    }
    c->npending = keep;
    if (m == 0)
        return 0;
    qsort(c->sorted, m, sizeof *c->sorted, entry_cmp);
    /* In key order, through one cursor per database: LMDB looks for the
     * next key on the cursor's current leaf page first, so a run of
     * neighbouring keys costs no descent from the root. */
    MDB_cursor *cur = NULL;
    int rc = 0;
    for (size_t i = 0; i < m && rc == 0; i++) {
        struct wc_entry *e = c->sorted[i];
        if (cur == NULL || mdb_cursor_dbi(cur) != e->dbi) {
            if (cur != NULL)
                mdb_cursor_close(cur);
            cur = NULL;
            if ((rc = st_mdb_rc(mdb_cursor_open(txn, e->dbi, &cur))) != 0)
                break;
        }
        MDB_val k = {e->klen, e->key}, v = {e->vlen, e->val};
        if (e->state == WC_DIRTY) {
            rc = st_mdb_rc(mdb_cursor_put(cur, &k, &v, 0));
            e->state = WC_CLEAN;
        } else {
            rc = st_mdb_rc(mdb_cursor_get(cur, &k, NULL, MDB_SET));
            if (rc == 0)
                rc = st_mdb_rc(mdb_cursor_del(cur, 0));
            else if (rc == MDB_NOTFOUND) /* put and deleted in this txn */
                rc = 0;
            e->state = WC_ABSENT;
        }
    }
    /* On an error the transaction is aborted and the cache reset. */
    if (cur != NULL)
        mdb_cursor_close(cur);
    return rc;
}
