/*
 * st_internal.h - what the storage module's .c files share.  Not installed,
 * not included outside storage/.
 */
#ifndef POVTRACK_ST_INTERNAL_H
#define POVTRACK_ST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "st_env.h" /* st_mdb_rc */
#include "st_log.h"

/* Bytes of a record before the publisher: received (8) and the publisher
 * length (1). */
#define ST_REC_HDR 9

struct st_log {
    MDB_env *env;
    MDB_dbi events;
    MDB_dbi ids;
    MDB_dbi units;
    MDB_dbi unitseq; /* 0 in a read-only log written before it existed */
    MDB_dbi amends;  /* likewise */
    /* The national daemon's (st_origin.c); 0 in a read-only log written
     * before them. */
    MDB_dbi origins, cursors, rejects;
    MDB_dbi meta;
    int readonly;
    /* Read snapshots of this handle that are live (begun or renewed, not yet
     * reset or ended).  mdb_env_set_mapsize() unmaps and remaps the file, so
     * it may only run while this is zero: every pointer a live snapshot has
     * handed out would dangle. */
    size_t live_snapshots;
    /* Set when a remap failed: LMDB leaves the environment without a map,
     * so every later call must fail instead of touching it. */
    int broken;
    /* What opening repaired (st_log_notice), "" when nothing. */
    char notice[640];
};

struct st_view {
    MDB_txn *txn;
    const struct st_log *log;
};

/* u64 <-> 8 bytes big-endian: keys of "events" sort in sequence order with
 * LMDB's default memcmp comparison. */
void st_put_u64be(unsigned char *p, uint64_t v);
uint64_t st_get_u64be(const unsigned char *p);

/* ---- the unit registry (st_units.c) ---- */

/* Parse a stored history (either form) of code; strings point into val. */
int st_history_parse(struct ev_str code, const void *val, size_t len,
                     struct ev_history *out);
/* Read and parse units[code] inside txn: 0, POVTRACK_ENOTFOUND,
 * POVTRACK_EFORMAT or an LMDB error. */
int st_history_get(MDB_txn *txn, MDB_dbi units, struct ev_str code,
                   struct ev_history *out);
/* The latest span of h (n > 0) as the ev_unit of the plugin ABI. */
void st_history_latest(const struct ev_history *h, struct ev_unit *out);
/* Some unit with a span ending after t under parent (ev_registry's
 * child_after): 0 with *child set (pointing into the map), POVTRACK_ENOTFOUND.
 */
int st_child_after(MDB_txn *txn, MDB_dbi units, struct ev_str parent, int64_t t,
                   struct ev_str *child);
/* Stamp what record seq changed in h, the new history of a code whose
 * history was old (NULL: a new code): a span not in old (no span of old
 * starts where it starts) gets since_seq = seq, a span that old had open
 * and h ends gets closed_seq = seq; the other stamps are left as they are
 * (ev_unit_update carries them over from old).  What st_units_apply does
 * before it writes, and what st_verify's replay does. */
void st_history_stamp(struct ev_history *h, const struct ev_history *old,
                      uint64_t seq);
/* Write the histories a unit.defined or unit.changed leaves behind, as
 * record seq, and note seq in "unitseq".  POVTRACK_EINVALID (it->error set)
 * when the event breaks the rules (only possible without a check()). */
int st_units_apply(struct st_view *view, const struct ev_event *ev,
                   uint64_t seq, struct st_item *it);

/* ---- voids and corrections (st_amend.c) ---- */

/* The amends of original inside txn, as st_reader_amends. */
int st_amends_each(MDB_txn *txn, const struct st_log *log, uint64_t original,
                   st_amend_fn fn, void *arg);
/* Note in "amends" that record seq (it->ev, a void or correction) amends
 * its target, as of view; POVTRACK_EINVALID (it->error set) when the
 * target breaks the rules (only possible without a check()). */
int st_amend_apply(struct st_view *view, uint64_t seq, struct st_item *it);

/* ---- origins of a national log (st_origin.c) ---- */

/* Open "origins", "cursors" and "rejects" in txn: created by a writer,
 * left 0 for a reader of a log without them. */
int st_origin_dbs_open(struct st_log *log, MDB_txn *txn);
/* In txn: the cursor of province (0 when none); set it; note that record
 * seq came from (province, origin_seq); note a rejected record. */
int st_origin_cursor_get(MDB_txn *txn, const struct st_log *log,
                         const char *province, uint64_t *seq);
int st_origin_cursor_put(MDB_txn *txn, const struct st_log *log,
                         const char *province, uint64_t seq);
int st_origin_put(MDB_txn *txn, const struct st_log *log, uint64_t seq,
                  const char *province, uint64_t origin_seq);
int st_origin_reject_put(MDB_txn *txn, const struct st_log *log,
                         const char *province, uint64_t origin_seq,
                         const struct st_item *it, const char *code);

/* A live reader's transaction and log, for the other modules' reads
 * (st_origin.c); POVTRACK_EINVAL when it holds no snapshot. */
struct st_reader;
int st_reader_txn(struct st_reader *r, MDB_txn **txn, struct st_log **log);

/* Begin a read transaction on log, adopting a map grown by another process
 * (MDB_MAP_RESIZED) when that is safe. */
int st_txn_begin_read(struct st_log *log, MDB_txn **txn);
/* Remap at the size the environment records; tries counts earlier attempts
 * (the caller gives up after a few). */
int st_adopt_map_size(struct st_log *log, int tries);

/* Copy bytes read from a file into buf as printable ASCII ('?' for the
 * rest), bounded and NUL-terminated, so that a message quoting them stays
 * readable whatever the file holds. */
void st_printable(char *buf, size_t buflen, const void *p, size_t len);

/* Level names as stored in "units" (a private table so that the stored form
 * does not depend on another module's implementation). */
const char *st_level_name(enum ev_level level);

#endif /* POVTRACK_ST_INTERNAL_H */
