/*
 * pt_stats.h - povtrackd's operational counters, reported by the stats op
 * (and from there by the web gateway's /metrics).
 *
 * The two processes count different things.  The ingest process counts
 * what it acknowledges, rejects and commits; the stats op is answered by
 * the plugin host.  So ingest keeps its counters in a small file mapped
 * shared, <data_dir>/PT_DATA_STATS_FILE, made afresh at every start, and the
 * host maps the same file read-only and reads it when asked.  Ingest adds
 * to it once per group commit (a few relaxed stores into the page: no
 * system call, nothing per event), the way host.guard is written
 * (pt_guard.h).  The host's own figures (query latency per plugin, alerts
 * published by code, parked queries) live in its memory.
 *
 * Counters start at zero when povtrackd (ingest) or the plugin host
 * starts; a reader sees a reset as a counter that went down (Prometheus's
 * rate() handles it).  The figures are about operations, never about
 * units or households.
 *
 * Histograms have fixed buckets (PT_HIST_*), recorded as integers in a
 * unit of their own (events; microseconds) and reported in the unit
 * Prometheus expects (events; seconds): per bucket counts (not cumulative),
 * the last one above the highest bound, and the sum.
 */
#ifndef POVTRACK_PT_STATS_H
#define POVTRACK_PT_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

#define PT_DATA_STATS_FILE "ingest.stats"

/* Why ingest refused an event (or a whole request): a small fixed set, for
 * counting.  The message sent with the rejection says the details. */
enum pt_reject_class {
    PT_REJECT_INVALID = 0, /* not a valid event or request */
    PT_REJECT_RIGHTS,      /* the sender lacks the right (or was revoked) */
    PT_REJECT_CONFLICT,    /* an id reused with other content */
    PT_REJECT_LIMITS,      /* [limits]: sizes, requests_per_second */
    PT_REJECT_STORAGE,     /* the commit failed (disk full ...) */
    PT_REJECT_CLASSES
};

/* "invalid", "rights", "duplicate_conflict", "limits", "storage". */
const char *pt_reject_class_name(enum pt_reject_class c);

/* The histograms' bounds, in their recording unit. */
enum pt_hist_kind {
    PT_HIST_EVENTS = 0, /* events in one group commit */
    PT_HIST_MICROS,     /* a duration in microseconds, reported in s */
    PT_HIST_KINDS
};
#define PT_HIST_BOUNDS_MAX 16

struct pt_hist {
    _Atomic uint64_t bucket[PT_HIST_BOUNDS_MAX + 1]; /* last: above all */
    _Atomic uint64_t sum; /* of the values recorded, recording unit */
};

/* Count v (recording unit) in h.  One writer at a time. */
void pt_hist_observe(struct pt_hist *h, enum pt_hist_kind kind, uint64_t v);

/* Pack h as {"le": [bounds in the reported unit], "counts": [per bucket,
 * one more than le], "sum", "count"}.  0 or POVTRACK_ENOMEM. */
int pt_hist_pack(msgpack_packer *pk, const struct pt_hist *h,
                 enum pt_hist_kind kind);

/* The ingest process's counters: the layout of the shared file. */
struct pt_ingest_stats {
    uint32_t magic;
    uint32_t size;               /* of this struct, as written */
    int64_t started;             /* unix seconds */
    _Atomic uint64_t requests;   /* requests taken (whole refusals too) */
    _Atomic uint64_t acked;      /* events acknowledged "ok" (stored) */
    _Atomic uint64_t duplicates; /* acknowledged "duplicate" */
    /* Events rejected, and requests refused whole (each counted once: its
     * events are not read), by class. */
    _Atomic uint64_t rejected[PT_REJECT_CLASSES];
    struct pt_hist commit_events; /* events stored or found per commit */
    struct pt_hist commit_us;     /* st_log_append_batch, fsyncs included */
    _Atomic uint32_t in_flight;   /* requests of the group being handled */
    _Atomic int64_t connections;  /* open on the ingest endpoint */
    _Atomic uint64_t refused_handshakes; /* keys the ZAP handler refused */
};

/* Ingest: make <data_dir>/PT_DATA_STATS_FILE afresh (zeroed, started now)
 * and map it shared.  0, or a negated errno value with err set. */
int pt_ingest_stats_create(const char *data_dir, struct pt_ingest_stats **out,
                           char *err, size_t errlen);
void pt_ingest_stats_close(struct pt_ingest_stats *s);

/* The host: map ingest's file read-only.  POVTRACK_ENOENT when there is
 * none (an in-process host) or it is not one this build wrote. */
int pt_ingest_stats_open_ro(const char *data_dir,
                            const struct pt_ingest_stats **out);
void pt_ingest_stats_close_ro(const struct pt_ingest_stats *s);

/* Pack the "ingest" map of the stats reply from s.  0 or POVTRACK_ENOMEM. */
int pt_ingest_stats_pack(msgpack_packer *pk, const struct pt_ingest_stats *s);

/* A count per alert code (the host's alerts published since it started);
 * codes past PT_STATS_CODES_MAX are counted under "other". */
#define PT_STATS_CODES_MAX 128
#define PT_STATS_CODE_MAX 64
struct pt_code_counts {
    struct {
        char code[PT_STATS_CODE_MAX];
        uint64_t n;
    } c[PT_STATS_CODES_MAX];
    size_t n;
    uint64_t other;
};
void pt_code_count(struct pt_code_counts *cc, const char *code, size_t len);
/* Pack {code: n, ...} ("other" last when some overflowed). */
int pt_code_counts_pack(msgpack_packer *pk, const struct pt_code_counts *cc);

#endif /* POVTRACK_PT_STATS_H */
