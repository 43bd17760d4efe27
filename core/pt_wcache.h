/*
 * pt_wcache.h - a write-back cache of plugin state for one apply
 * transaction.
 *
 * Plugins keep running aggregates (a unit's counters, its fund totals) that
 * nearly every event of a chunk reads and rewrites: through LMDB that is a
 * B-tree descent and a page copy per access.  Inside the host's apply
 * transaction, puts and deletes land here instead and gets look here
 * first; the host writes the surviving values to LMDB, in key order, just
 * before it writes the plugin cursors and commits (pt_wcache_flush), and
 * drops everything when the transaction ends either way
 * (pt_wcache_reset).  So what commits is exactly what the plugin wrote,
 * with the cursor, in the same transaction, and an aborted chunk leaves
 * nothing behind.
 *
 * A get of a key never written in the transaction goes to LMDB and is not
 * copied: LMDB is the truth for every key the cache does not hold.  A scan
 * first flushes the plugin's database, so it sees every write.  Memory is
 * bounded (see pt_wcache_put) and released, down to a small reserve, at
 * reset.
 */
#ifndef POVTRACK_PT_WCACHE_H
#define POVTRACK_PT_WCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#ifndef PT_WCACHE_SPILL_ENTRIES
#define PT_WCACHE_SPILL_ENTRIES ((size_t)1 << 18)
#endif
#ifndef PT_WCACHE_SPILL_BYTES
#define PT_WCACHE_SPILL_BYTES ((size_t)32 << 20)
#endif

struct pt_wcache;

/* NULL when out of memory. */
struct pt_wcache *pt_wcache_new(void);
void pt_wcache_free(struct pt_wcache *c);

/* The value of key in dbi as this transaction left it: 0 with *val and
 * *vlen (valid until the next put, del, flush or reset), MDB_NOTFOUND, or a
 * storage error.  Errors are codes of <povtrack/errors.h> (LMDB's passed
 * through st_mdb_rc), as for every function here. */
int pt_wcache_get(struct pt_wcache *c, MDB_txn *txn, MDB_dbi dbi,
                  const void *key, size_t klen, const void **val, size_t *vlen);
/* Remember key = val for dbi; 0, POVTRACK_ENOMEM, or a storage error of a
 * spill:
 * when the cache holds more than PT_WCACHE_SPILL_ENTRIES entries or
 * PT_WCACHE_SPILL_BYTES of keys and values (a transaction that touches
 * millions of keys, such as a province's review), everything is written
 * into txn and forgotten, so memory stays bounded whatever one transaction
 * does. */
int pt_wcache_put(struct pt_wcache *c, MDB_txn *txn, MDB_dbi dbi,
                  const void *key, size_t klen, const void *val, size_t vlen);
/* Delete key: 0, MDB_NOTFOUND when it does not exist, or a storage error. */
int pt_wcache_del(struct pt_wcache *c, MDB_txn *txn, MDB_dbi dbi,
                  const void *key, size_t klen);
/* Write the pending puts and deletes of dbi (all databases when all is
 * non-zero) into txn, in key order.  0 or a storage error (MDB_MAP_FULL:
 * grow and redo the transaction). */
int pt_wcache_flush(struct pt_wcache *c, MDB_txn *txn, MDB_dbi dbi, int all);
/* Forget everything: after the transaction committed or aborted. */
void pt_wcache_reset(struct pt_wcache *c);

#endif /* POVTRACK_PT_WCACHE_H */
