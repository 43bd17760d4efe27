/*
 * st_log.h - the append-only event log, kept in one LMDB environment.
 *
 * This header is the whole contract of the storage module.
 *
 * Layout of the environment (a directory holding data.mdb and lock.mdb):
 *   "events"  u64 sequence (8 bytes, big-endian) -> record, appended with
 *             MDB_APPEND; sequences start at 1 and have no gaps.
 *   "ids"     event id (bytes) -> u64 sequence (big-endian)
 *   "units"   unit code (bytes) -> msgpack [name, parent|nil, level]
 *   "meta"    "format" -> "povtrack-log-1"
 *
 * A record (the value in "events") is:
 *   int64 received (unix microseconds, big-endian)
 *   uint8 publisher length, publisher bytes
 *   the event in canonical msgpack (ev_encode)
 *
 * One process writes (povtrackd's ingest process); any number read.  A write
 * is a batch: every event that passes its checks is appended and the batch
 * commits with one LMDB commit (fsync of data, then of the meta page).  When
 * st_log_append_batch() returns 0, every item it marked ST_ITEM_OK is
 * durable.  On MDB_MAP_FULL the batch is aborted, the map grown and the whole
 * batch retried; callers never see it.
 */
#ifndef POVTRACK_ST_LOG_H
#define POVTRACK_ST_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "ev_event.h"

#define ST_PUBLISHER_MAX 255
#define ST_FORMAT "povtrack-log-1"

/* Return codes: 0 success, ST_* below, or an LMDB error code (see
 * st_strerror for either). */
enum st_rc {
    ST_OK = 0,
    ST_END = -30000,     /* iteration reached the end of the log */
    ST_NOTFOUND = -30001,
    ST_EFORMAT = -30002, /* the environment is not a povtrack log or a record
                            is corrupt */
    ST_ENOMEM = -30003,
    ST_EINVAL = -30004
};

const char *st_strerror(int rc);

struct st_log;

enum st_open_flags {
    ST_OPEN_READONLY = 1 << 0, /* reader process: never writes */
};

/* Open (creating when writable and absent) the log in directory dir.
 * On failure *err gets a message naming the directory and cause. */
int st_log_open(const char *dir, unsigned flags, struct st_log **out,
                char *err, size_t errlen);
void st_log_close(struct st_log *log);

/* Clear reader slots left by dead processes (call at start, and in the
 * writer after a reader process died). */
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
 * earlier items of the same batch wrote is visible. */
struct st_view;
int st_view_unit(struct st_view *view, struct ev_str code,
                 struct ev_unit *out);

/* Called for each item that is not a duplicate, before it is appended; a
 * non-zero return other than EV_EINVAL fails the whole batch.  Returning
 * EV_EINVAL with item->error set rejects that item alone. */
typedef int (*st_check_fn)(void *arg, struct st_view *view,
                           struct st_item *item);

/*
 * Append a batch in one transaction.  For each item in order: an id already
 * in the log (or earlier in this batch) with identical bytes is
 * ST_ITEM_DUPLICATE with the original seq; with other bytes it is
 * ST_ITEM_REJECTED "id: reused with different content"; otherwise check()
 * runs and, if it passes, the record is appended (and a unit.defined event
 * updates "units").  received is unix microseconds.  Returns 0 once the
 * transaction is durably committed; on error nothing of the batch is stored
 * and every item's status is meaningless.
 */
int st_log_append_batch(struct st_log *log, int64_t received,
                        struct st_item *items, size_t n, st_check_fn check,
                        void *arg);

/* ---- reading ---- */

struct st_record {
    uint64_t seq;
    int64_t received; /* unix microseconds */
    struct ev_str publisher;
    const void *event; /* canonical msgpack */
    size_t event_len;
};

/* A read snapshot.  Records and units it returns point into the map and
 * stay valid until st_reader_end() or st_reader_renew(). */
struct st_reader;
int st_reader_begin(struct st_log *log, struct st_reader **out);
/* Drop the snapshot and take a fresh one (cheap; keeps the handle). */
int st_reader_renew(struct st_reader *r);
void st_reader_end(struct st_reader *r);

/* Last sequence in the snapshot (0 for an empty log). */
int st_reader_last_seq(struct st_reader *r, uint64_t *seq);
/* Number of events (equals the last sequence: there are no gaps). */
int st_reader_get(struct st_reader *r, uint64_t seq, struct st_record *out);
int st_reader_find_id(struct st_reader *r, struct ev_str id, uint64_t *seq);
int st_reader_unit(struct st_reader *r, struct ev_str code,
                   struct ev_unit *out);

/* Iterate records with seq >= from: st_reader_seek then st_reader_next
 * until ST_END. */
int st_reader_seek(struct st_reader *r, uint64_t from);
int st_reader_next(struct st_reader *r, struct st_record *out);

/* Decode a record's value (exposed for tools that read raw values). */
int st_record_parse(uint64_t seq, const void *val, size_t len,
                    struct st_record *out);

#endif /* POVTRACK_ST_LOG_H */
