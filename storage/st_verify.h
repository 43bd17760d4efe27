/*
 * st_verify.h - checking that a log is what st_log.h promises.
 *
 * This header is the whole contract of the log checker (storage/st_verify.c),
 * used by `povtrack verify` and by tests.  It reads the log through one read
 * snapshot, so it may run on the log of a running povtrackd: it sees the log
 * as it was when it began and does not block the writer.  (Like any long
 * reader, it keeps the writer from reusing the pages of that snapshot until
 * it ends, so the file may grow by what is written meanwhile.)
 *
 * Three checks, each counted on its own so that one damage is reported under
 * the check it breaks:
 *
 *   ST_VERIFY_SEQUENCE  the keys of "events" are the sequences 1..last
 *                       without a gap (and every key is an 8-byte sequence).
 *   ST_VERIFY_RECORDS   every record parses (header, publisher) and its event
 *                       is well-formed msgpack that ev_decode accepts (with
 *                       max_at INT64_MAX, as the plugin host decodes it) and
 *                       is in the canonical form ev_encode writes.
 *   ST_VERIFY_IDS       the id index maps the id of every record to that
 *                       record's sequence, and holds no other entry: exactly
 *                       one entry per record.
 */
#ifndef POVTRACK_ST_VERIFY_H
#define POVTRACK_ST_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "st_log.h"

#define ST_VERIFY_MSG_MAX 256

enum st_verify_check {
    ST_VERIFY_SEQUENCE = 0,
    ST_VERIFY_RECORDS,
    ST_VERIFY_IDS,
    ST_VERIFY_NCHECKS
};

/* What one check found.  failed == 0 means it passed. */
struct st_verify_outcome {
    /* Items the check looked at: keys of "events" (sequence), records
     * (records), records whose id could be decoded (ids). */
    uint64_t checked;
    /* Sequence: sequences missing from 1..last plus keys that are not a
     * sequence.  Records: records that fail.  Ids: records without their
     * index entry (or whose entry names another sequence), plus index
     * entries that belong to no record. */
    uint64_t failed;
    /* The first failure found, in words ("" when none): the sequence, the
     * id and what is wrong. */
    char first[ST_VERIFY_MSG_MAX];
};

struct st_verify_report {
    uint64_t last_seq;      /* highest sequence in the snapshot, 0 if empty */
    uint64_t records;       /* entries of "events" */
    uint64_t index_entries; /* entries of "ids" */
    struct st_verify_outcome check[ST_VERIFY_NCHECKS];
};

/* Short name of a check ("sequence", "records", "ids"), NULL if out of
 * range. */
const char *st_verify_check_name(enum st_verify_check c);

/* Called now and then during the walk over the records: done of total
 * records looked at so far. */
typedef void (*st_verify_progress_fn)(void *arg, uint64_t done, uint64_t total);

/*
 * Run every check on one read snapshot of log and fill *out.  Returns 0 when
 * the checks ran to the end, whatever they found (see out->check[i].failed),
 * and otherwise the error that stopped them (an LMDB error reading the
 * environment, ST_ENOMEM, ST_EINVAL for bad arguments; see st_strerror), with
 * *out incomplete.  progress may be NULL.  The snapshot counts as a live
 * reader of the handle while the checks run: the rules of st_log.h on
 * threads and map growth apply.
 */
int st_verify(struct st_log *log, struct st_verify_report *out,
              st_verify_progress_fn progress, void *arg);

#endif /* POVTRACK_ST_VERIFY_H */
