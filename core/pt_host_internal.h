/*
 * pt_host_internal.h - what the plugin host's own files share: the host's
 * state and a few helpers.  Not a contract for anyone else.
 */
#ifndef POVTRACK_PT_HOST_INTERNAL_H
#define POVTRACK_PT_HOST_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include <lmdb.h>
#include <msgpack.h>

#include <povtrack/plugin.h>
#include "pt_config.h"
#include "pt_guard.h"
#include "pt_host.h"
#include "pt_log.h"
#include "pt_mirror.h"
#include "pt_registry.h"
#include "pt_stats.h"
#include "pt_wcache.h"
#include "st_log.h"

#define STATE_MAP_INITIAL ((size_t)64 << 20)
#define APPLY_CHUNK 10000  /* records per apply transaction */
#define APPLY_BUDGET_MS 25 /* ... or fewer, when they take this long */
#define APPLY_YIELD_MS 5   /* ... or this long, when a query is waiting */
#define READ_LIMIT_MAX POVTRACK_PROTO_READ_LIMIT_MAX /* per read, alerts */
#define MIN_SEQ_WAIT_MS 5000 /* how long a query may wait for min_seq */
#define PARKED_MAX 1024      /* queries waiting for min_seq */
#define REQUEST_MAX POVTRACK_PROTO_REQUEST_MAX /* bytes of a query */
#define TICK_MS 1000

struct pt_plugin {
    const struct pt_plugin_conf *conf;
    void *dl;
    const struct povtrack_plugin *desc;
    void *state;
    MDB_dbi dbi;
    uint64_t applied; /* committed cursor */
    /* A record applied in steps (POVTRACK_EAGAIN): the one in progress as
     * committed (0: none) and the alerts its steps raised so far; and the
     * same as the transaction being built leaves it (pending_*), which
     * becomes the committed one when that transaction commits. */
    uint64_t stepping_seq, pending_seq;
    uint32_t stepping_alerts, pending_alerts;
    /* Quarantined: not applied, not queried, state kept, until an
     * operator resumes it.  desc is NULL when it never loaded. */
    int quarantined;
    int quarantine_unsaved; /* set in memory, not yet committed */
    /* Held back after crashing or hanging a host (pt_guard.h): not applied
     * and not ticked until this monotonic time; 0 when not held.  Queries
     * still read its committed state. */
    int64_t held_until_ms;
    char error[1024];
    struct pt_hist query_us; /* its query calls, for the stats op */
};

struct povtrack_ctx {
    struct pt_host *host;
    struct pt_plugin *plugin;
    MDB_txn *txn;
    int writable;
    uint64_t seq;     /* record being applied; alert key */
    int tick;         /* inside tick(): alerts keyed apart from apply's */
    int64_t now;      /* tick's time, part of a tick alert's key */
    uint32_t ordinal; /* alerts raised so far under this (seq, plugin) */
    int storage_rc;   /* first LMDB error seen by a host call */
    int cached;       /* get/put/del go through host->wcache (apply) */
};

/* [mirror] as the plugin host sees it (pt_host_mirror.c): the mirror's
 * progress page, read for stats, and the episodes of its alerts. */
struct pt_host_mirror {
    struct pt_mirror_page *page;    /* NULL until it could be opened */
    int open_failed;                /* said once */
    struct pt_mirror_progress seen; /* at the last tick */
    struct pt_mirror_lag lag;
    int lagging, diverged;         /* this episode's alert is stored */
    int lagging_due, diverged_due; /* to raise in the tick's transaction */
};

/* [national] as the plugin host sees it (pt_host_national.c): each
 * province's page (its stream's last sequence, for stats), and the
 * rejected records of the log (st_reader_rejects) raised as alerts, each
 * once: how many are raised is kept in the state's cursors under
 * PT_HOST_NATIONAL_KEY, in the transaction of the alerts. */
#define PT_HOST_NATIONAL_KEY "#national.rejects"
#define PT_HOST_NATIONAL_RAISE_MAX 64 /* alerts per tick */
struct pt_host_national {
    struct pt_mirror_page *page[PT_NATIONAL_PROVINCES]; /* NULL: not yet */
    uint64_t raised;  /* rejects raised, as last committed (or seen) */
    uint64_t raising; /* ... once the tick's transaction commits */
    size_t ndue;      /* rejects read by due, to raise */
    struct st_reject due[PT_HOST_NATIONAL_RAISE_MAX];
};

struct pending_alert {
    char topic[128];
    char *body;
    size_t len;
};

struct pt_host {
    struct pt_config cfg;
    struct pt_log log;
    struct st_log *events;
    int owns_events; /* opened here, read-only; else borrowed */
    struct st_reader *reader;
    /* The registry version (host units_seq) at the record apply_range is
     * at: the last unit.defined or unit.changed at or before it. */
    uint64_t units_version;
    MDB_env *state;
    MDB_dbi cursors_dbi;
    MDB_dbi layouts_dbi;  /* plugin name -> state layout, beside the cursor */
    MDB_dbi applying_dbi; /* plugin name -> record applied in steps */
    /* How long an apply transaction goes on before it commits, so that
     * queries wait at most about this long (APPLY_BUDGET_MS;
     * pt_host_set_apply_budget). */
    int64_t apply_budget_ms;
    MDB_dbi alerts_dbi;
    size_t map_size;
    struct pt_plugin plugins[PT_PLUGINS_MAX];
    size_t nplugins;
    /* The record being applied is unpacked here; cleared, not freed,
     * between records, so applying allocates nothing per record. */
    msgpack_zone zone;
    /* Plugin writes of the apply transaction, flushed before its commit. */
    struct pt_wcache *wcache;
    struct pending_alert *pending;
    size_t npending, cappending;
    void *pub;              /* alerts PUB socket, NULL in-process */
    void *queries;          /* query ROUTER socket, NULL in-process */
    MDB_dbi quarantine_dbi; /* plugin name -> why, while quarantined */
    struct pt_guard *guard; /* NULL in-process */
    /* For the stats op (pt_stats.h): ingest's counters, mapped when first
     * asked (NULL in-process); the process loop's authentication and its
     * parked queries; the alerts published, by code; when it started. */
    const struct pt_ingest_stats *ingest_stats;
    struct pt_auth *auth;
    size_t parked;
    struct pt_code_counts alerts_published;
    int64_t started;
    /* Who sent the request being answered (the process loop sets it; NULL
     * in-process, where the caller is the operator). */
    const struct pt_publisher *sender;
    struct pt_host_mirror mirror;
    struct pt_host_national national;
};

/* The plugin's name, also when it never loaded or is being unloaded. */
const char *pt_plugin_name(const struct pt_plugin *p);

/* Quarantined plugins: resume (load the .so again, apply from its cursor,
 * or from the start when the new .so writes another state layout) and
 * rebuild (drop its state, apply the whole log again).  0, or with err set
 * POVTRACK_EINVALID (resume: not quarantined; rebuild: quarantined),
 * POVTRACK_EPLUGIN (it cannot load), or a storage error. */
int pt_host_resume(struct pt_host *h, struct pt_plugin *p, char *err,
                   size_t errlen);
int pt_host_rebuild(struct pt_host *h, struct pt_plugin *p, char *err,
                    size_t errlen);

static inline void pt_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static inline void pt_put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static inline uint32_t pt_get_be32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | p[i];
    return v;
}

static inline uint64_t pt_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Store an alert of the host's own (source "host" or "mirror", not a
 * plugin's) in txn, keyed just past the log's end now, and queue it for
 * publishing after the commit.  a->code starts with source and a dot. */
int pt_host_raise(struct pt_host *h, MDB_txn *txn, const char *source,
                  const struct povtrack_alert *a);

/* The mirror's part of the tick (every TICK_MS), in pt_host_tick: due
 * reads the progress page and says whether an alert is to be raised (an
 * episode began: the lag passed [mirror] lag_alert_records or
 * lag_alert_seconds, or the stream diverged); raise stores them in the
 * tick's transaction; raised marks them stored once it committed.  An
 * episode ends when its condition does (logged), and the next one raises
 * its alert again.  Nothing without [mirror]. */
int pt_host_mirror_due(struct pt_host *h, int64_t now);
int pt_host_mirror_raise(struct pt_host *h, MDB_txn *txn, int64_t now);
void pt_host_mirror_raised(struct pt_host *h, int committed);
/* The "mirror" entry of stats (a key and its map), given the log's last
 * sequence from h->reader, live; nothing without [mirror]. */
void pt_host_mirror_pack_stats(struct pt_host *h, msgpack_packer *pk,
                               uint64_t last_seq);
void pt_host_mirror_close(struct pt_host *h);

/* The national daemon's part, called from the mirror's (so the tick and
 * stats need no more hooks): due reads the rejects not yet raised, raise
 * stores their alerts (national.foreign_unit, national.rejected: critical)
 * and the count, raised notes it once committed; pack_stats adds the
 * "national" entry of stats.  Nothing without [national]. */
int pt_host_national_due(struct pt_host *h);
int pt_host_national_raise(struct pt_host *h, MDB_txn *txn, int64_t now);
void pt_host_national_raised(struct pt_host *h, int committed);
void pt_host_national_pack_stats(struct pt_host *h, msgpack_packer *pk);
void pt_host_national_close(struct pt_host *h);

/* The loaded plugin called name, or NULL. */
struct pt_plugin *pt_host_plugin(struct pt_host *h, const char *name,
                                 size_t len);

/* The "validate" op (pt_validate.c): what ingest would answer to
 * {"events": [...]}, nothing stored.  Packs the reply; returns non-zero only
 * on an internal error. */
int pt_request_validate(struct pt_host *h, const msgpack_object *req,
                        msgpack_packer *pk);

/* Append a msgpack string. */
void pt_pack_cstr(msgpack_packer *pk, const char *s);

/* Pack {"ok": false, "error": <formatted>}. */
void pt_pack_error(msgpack_packer *pk, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The value of key in a msgpack map, or NULL. */
const msgpack_object *pt_map_get(const msgpack_object *map, const char *key);

#endif /* POVTRACK_PT_HOST_INTERNAL_H */
