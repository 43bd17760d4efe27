/*
 * st_log.h - the append-only event log, kept in one LMDB environment.
 *
 * This header is the whole contract of the storage module.
 *
 * Layout of the environment (a directory holding data.mdb and lock.mdb):
 *   "events"  u64 sequence (8 bytes, big-endian) -> record, appended with
 *             MDB_APPEND; sequences start at 1 and have no gaps.
 *   "ids"     event id (bytes) -> u64 sequence (big-endian)
 *   "units"   unit code (bytes) -> the code's history (ev_unit.h): msgpack
 *             array of spans [from|nil, to|nil, name, parent|nil, level,
 *             ended_by|nil, successor|nil, since_seq, closed_seq]; a log
 *             written before histories holds [name, parent|nil, level],
 *             read as one span open at both ends
 *   "unitseq" u64 sequence (big-endian) -> empty, for every record that
 *             changed "units" (unit.defined, unit.changed)
 *   "amends"  u64 original (big-endian) u64 amend (big-endian) -> 'v' or
 *             'c': record amend voids ('v') or corrects ('c') record
 *             original, for every record.voided and record.corrected;
 *             absent in a log written before them (read as empty)
 *   "meta"    "format" -> "povtrack-log-1"
 *
 * A record (the value in "events") is:
 *   int64 received (unix microseconds, big-endian)
 *   uint8 publisher length, publisher bytes
 *   the event in canonical msgpack (ev_encode)
 *
 * One process writes (povtrackd's ingest process; on a standby, its
 * povtrack-mirror, with st_log_append_raw, until it is promoted and ingest
 * takes over: LMDB's writer lock keeps even two writers apart); any number
 * read.  A write
 * is a batch: every event that passes its checks is appended and the batch
 * commits with one LMDB commit (fsync of data, then of the meta page).  When
 * st_log_append_batch() returns 0, every item it marked ST_ITEM_OK is
 * durable.  On MDB_MAP_FULL the batch is aborted, the map grown and the whole
 * batch retried; callers never see it.
 *
 * Threads and handles: a struct st_log and the readers begun on it are used
 * by one thread at a time.  Open a log directory at most once per process
 * (LMDB's rule: a second MDB_env on the same files in one process breaks
 * its fcntl locks); share the handle instead.
 *
 * Map size: growing the map remaps the file, which would invalidate what a
 * live snapshot of the same handle points at.  So the writer grows only
 * while no st_reader of its handle is live (begun or renewed, and not yet
 * reset or ended); otherwise the batch fails with MDB_MAP_FULL.  Likewise a
 * reader handle adopts the writer's larger map (MDB_MAP_RESIZED) at
 * st_reader_begin / st_reader_renew only while none of its other readers is
 * live, and returns MDB_MAP_RESIZED otherwise.  Keep snapshots short.
 */
#ifndef POVTRACK_ST_LOG_H
#define POVTRACK_ST_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "ev_event.h"
#include "ev_unit.h"

#define ST_PUBLISHER_MAX 255
#define ST_FORMAT "povtrack-log-1"
/* Map size a new log starts with (bytes); the file itself grows with use. */
#define ST_DEFAULT_MAP_SIZE ((size_t)64 << 20)
/* The largest data.mdb without a committed transaction that a writer takes
 * for a log that was never written (see POVTRACK_ENOCOMMIT): four pages of the
 * smallest page size LMDB uses. */
#define ST_UNWRITTEN_MAX ((uint64_t)4 * 4096)

/* Return codes: 0, or a code of <povtrack/errors.h>: povtrack's own
 * (POVTRACK_EEND: iteration reached the end of the log; POVTRACK_ENOTFOUND;
 * POVTRACK_EFORMAT: the environment is not a povtrack log or a record is
 * corrupt; POVTRACK_ENOCOMMIT: data.mdb holds no committed transaction, it
 * is empty or has no valid LMDB meta page; POVTRACK_EINVALID: an item's
 * check rejected it), an errno value negated (POVTRACK_ENOMEM,
 * POVTRACK_EINVAL for a call breaking this contract, POVTRACK_ENOSPC ...,
 * also where LMDB returned it positive), or one of LMDB's own codes
 * (MDB_MAP_FULL ...).  Never a positive value. */

/* What rc means: LMDB's message for a code of LMDB's range (the one place
 * that knows them; the client library does not link LMDB), else
 * povtrack_strerror(rc). */
const char *st_strerror(int rc);

struct st_log;

enum st_open_flags {
    ST_OPEN_READONLY = 1 << 0, /* reader process: never writes */
    /* With ST_OPEN_READONLY: a copy that no process writes (a backup).
     * LMDB's lock file is neither used nor created, so a backup can be read
     * where it lies, read-only media included.  Never use it on a live log:
     * without the lock file the writer cannot see this reader. */
    ST_OPEN_SNAPSHOT = 1 << 1,
};

/* Open (creating when writable and absent) the log in directory dir.
 * On failure *err gets a message naming the directory and cause.
 * A writer creates dir itself (not its parents) when missing, and creates a
 * new log only in a directory that is empty (but for a stale lock.mdb and
 * what an interrupted creation left).
 * POVTRACK_EFORMAT: dir holds something that is not a povtrack log of this
 * format.
 *
 * Crash safety (st_env.h): a writer syncs the directory holding dir when it
 * creates dir, and creates the log's data.mdb whole, its first transaction
 * (the databases and the format marker) committed, under a temporary name
 * that it then renames into place before syncing dir.  So a crash, power
 * cut included, leaves either no log or a complete one.  On opening, a
 * writer removes the temporary file of a creation that a crash cut short.
 *
 * POVTRACK_ENOCOMMIT: data.mdb is empty or has no valid LMDB meta page, which
 * an older povtrackd could leave when cut off while creating the log.  Such a
 * file no larger than ST_UNWRITTEN_MAX cannot hold an acknowledged event
 * (st_log.c proves it), so a writer moves it aside (st_set_aside: to
 * data.mdb.invalid-<UTC time>, unless it is empty) and creates a new log,
 * which st_log_notice reports; a larger one may hold events, and is
 * refused and left untouched; readers refuse either.  The message says
 * which it is and what to do. */
int st_log_open(const char *dir, unsigned flags, struct st_log **out, char *err,
                size_t errlen);
/* The same, with the map size of a writer: a new log starts with
 * initial_map_size bytes (rounded up to whole pages), an existing one is
 * grown to it if smaller.  0 means ST_DEFAULT_MAP_SIZE; ignored by readers,
 * which always map what the writer set. */
int st_log_open_sized(const char *dir, unsigned flags, size_t initial_map_size,
                      struct st_log **out, char *err, size_t errlen);
void st_log_close(struct st_log *log);

/* What opening log found and repaired, for the caller to log: "" when
 * nothing, otherwise a sentence (a leftover temporary file removed, a
 * never-written data.mdb replaced). */
const char *st_log_notice(const struct st_log *log);

/*
 * Write a compacted copy of the log into dir, an existing directory without
 * a data.mdb, as dir/data.mdb: LMDB's mdb_env_copy2 with MDB_CP_COMPACT,
 * which walks one read snapshot and never takes the writer's lock, so the
 * writer (another process) goes on meanwhile.  The copy is a log that
 * st_log_open accepts; it holds exactly the records of that snapshot.  It
 * is not synced: the caller fsyncs what it wants durable.  On failure
 * dir/data.mdb is removed (unless it was there before: EEXIST) and *err
 * says why.
 */
int st_log_copy(struct st_log *log, const char *dir, char *err, size_t errlen);

/* Clear reader slots left by dead processes (st_log_open does it once; call
 * it in the writer after a reader process died).  dead may be NULL. */
int st_log_reader_check(struct st_log *log, int *dead);

/* Current map size in bytes (it grows on demand). */
size_t st_log_map_size(const struct st_log *log);

/* ---- writing ---- */

enum st_item_status {
    ST_ITEM_PENDING = 0,
    ST_ITEM_OK,        /* appended at seq */
    ST_ITEM_DUPLICATE, /* same id, same bytes, already at seq */
    ST_ITEM_REJECTED   /* error says why; nothing stored */
};

/* One event of a batch.  The caller fills ev (decoded), bytes/len (its
 * canonical encoding) and publisher; the log fills status, seq and error. */
struct st_item {
    const struct ev_event *ev;
    const void *bytes;
    size_t len;
    struct ev_str publisher;
    enum st_item_status status;
    uint64_t seq;
    char error[EV_ERROR_MAX];
};

/* Read-only view of the log's state inside the batch's transaction: what
 * earlier items of the same batch wrote is visible.  Valid only during the
 * check() call it is passed to.  st_view_unit returns 0, POVTRACK_ENOTFOUND,
 * POVTRACK_EFORMAT or an LMDB error; out->code is the code argument, the other
 * strings point into the map. */
struct st_view;
int st_view_unit(struct st_view *view, struct ev_str code, struct ev_unit *out);
/* The registry as of this commit (ev_unit.h), for ev_check_refs: arg is
 * view, valid as view is. */
void st_view_registry(struct st_view *view, struct ev_registry *out);

/* The reference checks of ev_check_refs against the registry as of this
 * commit, and a void's or correction's target (st_view_target), as an
 * st_check_fn (arg unused): what ingest runs before its
 * rights checks, and what tools and tests that append events run. */
int st_check_refs(void *arg, struct st_view *view, struct st_item *item);

/*
 * Voids and corrections.  The target of a record.voided or
 * record.corrected is always an original record (never itself a void or
 * a correction), of the type its data.type says; once voided, a record
 * takes nothing more.  A later correction replaces the earlier one.
 */
struct st_target {
    uint64_t original; /* the target's sequence */
    uint64_t current;  /* its latest correction's, or original */
    int voided;        /* a void of it is in the log (current: before it) */
    /* The record as it now stands: the original, or its latest
     * correction as the corrected record (type the original's, data, unit,
     * at and household the correction's).  Points into the map and into
     * unpacked. */
    struct ev_event event;
    struct ev_str publisher;
    msgpack_unpacked unpacked;
};

/* Resolve the target of amend (a record.voided or record.corrected) as of
 * this commit and check the rules: the target exists, is an original of
 * data.type, is not voided, and a void names the record's unit.  0 (out
 * set: st_target_free it), POVTRACK_EINVALID with err naming the field
 * and the reason in words, or a storage error.  The ingest checks the
 * publisher's rights over out->event (the record as it stands). */
int st_view_target(struct st_view *view, const struct ev_event *amend,
                   struct st_target *out, char *err, size_t errlen);
void st_target_free(struct st_target *t);

/* Called for each item that is not a duplicate, before it is appended; a
 * non-zero return other than POVTRACK_EINVALID fails the whole batch. Returning
 * POVTRACK_EINVALID with item->error set rejects that item alone.  It may run
 * more than once for an item (a batch retried after growing the map), so it
 * must only look, not act. */
typedef int (*st_check_fn)(void *arg, struct st_view *view,
                           struct st_item *item);

/*
 * Append a batch in one transaction.  For each item in order: an id already
 * in the log (or earlier in this batch) with identical bytes is
 * ST_ITEM_DUPLICATE with the original seq; with other bytes it is
 * ST_ITEM_REJECTED "id: reused with different content"; otherwise check()
 * runs and, if it passes, the record is appended (and a unit.defined event
 * updates "units"; a void or correction whose target breaks the rules of
 * st_view_target is rejected, else noted in "amends").  received is unix
 * microseconds.  Returns 0 once the transaction is durably committed; on error
 * nothing of the batch is stored and every item's status is meaningless.  n ==
 * 0 is a no-op.  POVTRACK_EINVAL (nothing stored) for a read-only log or an
 * item breaking the contract: ev, bytes or id missing, len 0, unit.defined
 * without unit code or valid level.  A publisher longer than ST_PUBLISHER_MAX
 * rejects that item.
 */
int st_log_append_batch(struct st_log *log, int64_t received,
                        struct st_item *items, size_t n, st_check_fn check,
                        void *arg);

/*
 * Append records exactly as another copy of the log stores them (a
 * standby following its province's stream): each raw is the whole stored
 * value (the layout at the top of this file: received time, publisher,
 * event) and must land at raw.seq, directly after the log's last record
 * and after the one before it in recs.  The indexes ("ids", "units",
 * "unitseq", "amends") are updated as st_log_append_batch updates them,
 * without its checks: the log the records come from made them.  One
 * transaction, durably committed when it returns 0.  POVTRACK_EDIVERGED
 * (nothing stored, err says which record and why) when a record does not
 * follow the log, its id is already stored, or its unit change or amend
 * breaks the rules here: this log is not the one the records came from.
 * POVTRACK_EFORMAT for a value that is not a record.
 */
struct st_raw {
    uint64_t seq;
    const void *bytes;
    size_t len;
};
int st_log_append_raw(struct st_log *log, const struct st_raw *recs, size_t n,
                      char *err, size_t errlen);

/*
 * ---- the national daemon's log (README, Many provinces, National) ----
 *
 * A national log holds the records of every province's stream, each as
 * the national daemon rewrote it (ids under the province: "60/<id>"),
 * with the province's received time and publisher, and three more
 * databases, written in the same transaction as the records:
 *   "origins"  u64 seq (big-endian) -> u8 length, province, u64 original
 *              sequence (big-endian): where record seq came from
 *   "cursors"  province -> u64 (big-endian): the last record of its stream
 *              this log has taken (stored or rejected)
 *   "rejects"  u64 ordinal (big-endian, from 1) -> a record of a stream
 *              that was not stored (st_reject, below)
 * A province log has them empty.
 */
struct st_origin_item {
    struct st_item item; /* first: check() may cast its item back */
    int64_t received;    /* the province's received time */
    uint64_t origin_seq; /* the record's sequence in the province's log */
    /* A rejection's alert code: set by the caller before the call (with
     * item.status ST_ITEM_REJECTED, item.error and item.ev the event or
     * NULL) for a record it refuses itself, or by check(); NULL then means
     * "national.rejected". */
    const char *reject_code;
};

/*
 * Take the next records of province's stream, in one transaction: items
 * carry origin_seq cursor+1, cursor+2 ... without a gap, where cursor must
 * be the province's cursor in the log.  Each item is appended as
 * st_log_append_batch appends it (with its own received time, check()
 * run), and its origin noted; an item rejected (by the caller, check(),
 * or the unit and amend rules) is stored in "rejects" instead; the cursor
 * moves to the last origin_seq.  Durable when it returns 0.
 * POVTRACK_EDIVERGED (nothing stored, err says why) when cursor is not the
 * log's, the sequences have a gap, or an id is already stored (this log
 * took the record before: its cursor cannot have moved back).
 */
int st_log_append_origin(struct st_log *log, const char *province,
                         uint64_t cursor, struct st_origin_item *items,
                         size_t n, st_check_fn check, void *arg, char *err,
                         size_t errlen);

/* Where record seq came from; POVTRACK_ENOTFOUND for a record that did not
 * come from a province's stream. */
struct st_reader;
struct st_origin {
    char province[8];
    uint64_t seq;
};
int st_reader_origin(struct st_reader *r, uint64_t seq, struct st_origin *out);
/* The cursor of province (0: nothing taken yet). */
int st_reader_cursor(struct st_reader *r, const char *province, uint64_t *seq);
/* The rejected records with an ordinal above after, in order: fn(arg, rj);
 * stops at and returns fn's first non-zero value.  Strings point into the
 * map (NUL-terminated copies for the short ones). */
struct st_reject {
    uint64_t ordinal;
    char province[8];
    uint64_t origin_seq;
    char unit[8];           /* "" when the record's event did not decode */
    char code[48];          /* the alert's code, e.g. national.foreign_unit */
    char id[EV_ID_MAX + 1]; /* the event's id in the province */
    char error[EV_ERROR_MAX];
};
typedef int (*st_reject_fn)(void *arg, const struct st_reject *rj);
int st_reader_rejects(struct st_reader *r, uint64_t after, st_reject_fn fn,
                      void *arg);

/* ---- reading ---- */

struct st_record {
    uint64_t seq;
    int64_t received; /* unix microseconds */
    struct ev_str publisher;
    const void *event; /* canonical msgpack */
    size_t event_len;
    /* The whole stored value (the layout at the top of this file), which
     * copies of the log elsewhere hold byte for byte (the mirror). */
    const void *raw;
    size_t raw_len;
};

/* A read snapshot.  Records and units it returns point into the map and
 * stay valid until st_reader_end(), st_reader_renew() or st_reader_reset().
 * End every reader before st_log_close().  After a failed st_reader_renew
 * the reader holds no snapshot: renew it again or end it (other calls
 * return POVTRACK_EINVAL). */
struct st_reader;
int st_reader_begin(struct st_log *log, struct st_reader **out);
/* Drop the snapshot and take a fresh one (cheap; keeps the handle). */
int st_reader_renew(struct st_reader *r);
/* Drop the snapshot now, keeping the handle for a later st_reader_renew:
 * between batches of reading, so that old pages can be reused and the map
 * can grow.  Calls other than renew and end return POVTRACK_EINVAL until then.
 */
void st_reader_reset(struct st_reader *r);
void st_reader_end(struct st_reader *r);

/* Last sequence in the snapshot (0 for an empty log); it is also the
 * number of events, as there are no gaps. */
int st_reader_last_seq(struct st_reader *r, uint64_t *seq);
/* Record seq, or POVTRACK_ENOTFOUND. */
int st_reader_get(struct st_reader *r, uint64_t seq, struct st_record *out);
/* Sequence of the event with this id, or POVTRACK_ENOTFOUND. */
int st_reader_find_id(struct st_reader *r, struct ev_str id, uint64_t *seq);
/* The unit registry: a code's latest span, or POVTRACK_ENOTFOUND; out->code is
 * the code argument. */
int st_reader_unit(struct st_reader *r, struct ev_str code,
                   struct ev_unit *out);
/* A code's whole history (ev_unit.h), or POVTRACK_ENOTFOUND. */
int st_reader_history(struct st_reader *r, struct ev_str code,
                      struct ev_history *out);
/* The registry version at seq: *version is the last record <= seq that
 * changed units (0: none), *next the first one after seq (UINT64_MAX:
 * none yet), so the answer holds for every seq in [*version, *next). */
int st_reader_units_seq(struct st_reader *r, uint64_t seq, uint64_t *version,
                        uint64_t *next);

/* The voids and corrections of record original, in log order: fn(arg,
 * seq, voided) for each; stops at and returns fn's first non-zero value.
 * 0 also when there are none. */
typedef int (*st_amend_fn)(void *arg, uint64_t seq, int voided);
int st_reader_amends(struct st_reader *r, uint64_t original, st_amend_fn fn,
                     void *arg);

/* The record original as it stood just before record before (a void or
 * correction of it, or any later record): the sequence of its latest
 * correction before that, or original itself. */
int st_reader_amended_before(struct st_reader *r, uint64_t original,
                             uint64_t before, uint64_t *current);

/* Some unit with a span ending after t under parent, or POVTRACK_ENOTFOUND. */
int st_reader_child_after(struct st_reader *r, struct ev_str parent, int64_t t,
                          struct ev_str *child);

/* The registry of a snapshot as the log knew it after record as_of
 * (UINT64_MAX: all of it), as an ev_registry whose arg is this struct. */
struct st_registry {
    struct ev_registry reg;
    struct st_reader *reader;
    uint64_t as_of;
};
void st_reader_registry(struct st_reader *r, uint64_t as_of,
                        struct st_registry *out);

/* Call fn for every code's whole history, in code order; stops at and
 * returns fn's first non-zero value.  Strings point into the map. */
typedef int (*st_history_fn)(void *arg, const struct ev_history *h);
int st_reader_histories(struct st_reader *r, st_history_fn fn, void *arg);

/* Iterate records with seq >= from: st_reader_seek then st_reader_next
 * until POVTRACK_EEND (without a seek, iteration starts at 1).  The position
 * survives st_reader_renew: after POVTRACK_EEND, renew and call next again to
 * get what was appended since.  st_reader_last_seq moves the cursor, but next
 * still continues where it was. */
int st_reader_seek(struct st_reader *r, uint64_t from);
int st_reader_next(struct st_reader *r, struct st_record *out);

/* Decode a record's value (exposed for tools that read raw values). */
int st_record_parse(uint64_t seq, const void *val, size_t len,
                    struct st_record *out);

#endif /* POVTRACK_ST_LOG_H */
