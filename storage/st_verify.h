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
 * Four checks, each counted on its own so that one damage is reported under
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
 *   ST_VERIFY_UNITS     "units" and "unitseq" are what replaying the log's
 *                       unit events gives.  Every unit.defined and
 *                       unit.changed record that passes the records check
 *                       is applied, in sequence order, to a registry kept
 *                       in memory, as st_units_apply applies it on append:
 *                       ev_unit_update under today's rules (a refusal is a
 *                       failure: the record should never have been
 *                       stored), then the same stamping with the record's
 *                       sequence.  Then every "units" entry must parse and
 *                       equal the replayed history of its code, span for
 *                       span (from, to, name, parent, level, ended_by,
 *                       successor, since_seq, closed_seq); no code may be
 *                       stored without being replayed or replayed without
 *                       being stored; and "unitseq" must hold exactly the
 *                       sequences of the unit events, each with an empty
 *                       value.  A record that fails the records check is
 *                       not replayed (when it was a unit event, what it
 *                       changed fails here too), and a "unitseq" entry
 *                       naming such a record is left alone.
 *
 *   ST_VERIFY_AMENDS    "amends" holds exactly one entry per valid
 *                       record.voided and record.corrected: keyed by its
 *                       target's sequence (its data.target through "ids")
 *                       and its own, valued 'v' or 'c' by its type.  A
 *                       log without an "amends" database (opened read-only
 *                       before a writer added it) is not checked
 *                       (amends_absent).
 * Logs written before histories.  Such a log stores [name, parent|nil,
 * level] (read as one span open at both ends, both stamps 0) and had no
 * "unitseq"; a writer of today adds an empty "unitseq" to it and goes on,
 * and the spans it then ends or begins are stamped, while those begun
 * before keep since_seq 0.  The check accepts exactly that, and only when
 * the log shows it: when some stored span has since_seq 0 (no record of
 * today has sequence 0), the unit events before the first "unitseq" entry
 * (all of them when "unitseq" is empty or absent) are taken for records of
 * the old writer: they are replayed with the stamping sequence 0 instead
 * of their own, and need no "unitseq" entry.  Every other field must still
 * match, so an old-form value passes only when the replay gives one span
 * open at both ends with its name, parent and level.  A log without a
 * "unitseq" database at all (opened read-only before a writer added it)
 * has "unitseq" not checked: the report says so (unitseq_absent).
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
    ST_VERIFY_UNITS,
    ST_VERIFY_AMENDS,
    ST_VERIFY_NCHECKS
};

/* What one check found.  failed == 0 means it passed. */
struct st_verify_outcome {
    /* Items the check looked at: keys of "events" (sequence), records
     * (records), records whose id could be decoded (ids), unit events
     * replayed plus "units" entries compared (units). */
    uint64_t checked;
    /* Sequence: sequences missing from 1..last plus keys that are not a
     * sequence.  Records: records that fail.  Ids: records without their
     * index entry (or whose entry names another sequence), plus index
     * entries that belong to no record.  Units: unit events refused on
     * replay, "units" entries that do not parse or differ from the replay
     * (one per code, however many fields differ), codes stored but not
     * replayed or replayed but not stored, unit events without their
     * "unitseq" entry, and "unitseq" entries that are not the sequence of
     * a unit event (or not empty). */
    uint64_t failed;
    /* The first failure found, in words ("" when none): the sequence, the
     * id or the unit code, and what is wrong (for a history: the span, the
     * field, the stored and the replayed value). */
    char first[ST_VERIFY_MSG_MAX];
};

struct st_verify_report {
    uint64_t last_seq;      /* highest sequence in the snapshot, 0 if empty */
    uint64_t records;       /* entries of "events" */
    uint64_t index_entries; /* entries of "ids" */
    struct st_verify_outcome check[ST_VERIFY_NCHECKS];
    uint64_t unit_events;     /* unit events replayed */
    uint64_t unit_entries;    /* entries of "units" */
    uint64_t unitseq_entries; /* entries of "unitseq" */
    /* Unit events taken for records of a writer before histories (see
     * above): stamped 0, no "unitseq" entry needed. */
    uint64_t legacy_unit_events;
    /* 1: the log has no "unitseq" database, so it was not checked. */
    int unitseq_absent;
    uint64_t amend_events;  /* voids and corrections */
    uint64_t amend_entries; /* entries of "amends" */
    int amends_absent;      /* 1: no "amends" database, not checked */
};

/* Short name of a check ("sequence", "records", "ids", "units",
 * "amends"), NULL if out of range. */
const char *st_verify_check_name(enum st_verify_check c);

/* Called now and then during the walk over the records: done of total
 * records looked at so far. */
typedef void (*st_verify_progress_fn)(void *arg, uint64_t done, uint64_t total);

/*
 * Run every check on one read snapshot of log and fill *out.  Returns 0 when
 * the checks ran to the end, whatever they found (see out->check[i].failed),
 * and otherwise the error that stopped them (an LMDB error reading the
 * environment, POVTRACK_ENOMEM, POVTRACK_EINVAL for bad arguments; see
 * st_strerror), with *out incomplete.  progress may be NULL.  The snapshot
 * counts as a live reader of the handle while the checks run: the rules of
 * st_log.h on threads and map growth apply.
 */
int st_verify(struct st_log *log, struct st_verify_report *out,
              st_verify_progress_fn progress, void *arg);

#endif /* POVTRACK_ST_VERIFY_H */
