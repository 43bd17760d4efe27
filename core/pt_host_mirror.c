/*
 * pt_host_mirror.c - the plugin host's view of the mirror: its lag in
 * stats, and the alerts mirror.lagging and mirror.diverged (the host owns
 * alerts; the mirror only writes its progress page, pt_mirror.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <povtrack/protocol.h>

#include "pt_host_internal.h"

/* The page, opened on first use: ingest creates it before it starts the
 * host, but a host run in-process (tests, tools) with [mirror] has none. */
static struct pt_mirror_page *page(struct pt_host *h)
{
    struct pt_host_mirror *m = &h->mirror;
    if (!h->cfg.mirror.enabled || m->page != NULL || m->open_failed)
        return m->page;
    char err[512];
    if (pt_mirror_page_open(h->cfg.data_dir, PT_MIRROR_PAGE_READ, &m->page, err,
                            sizeof err) != 0) {
        pt_logf(&h->log, PT_LOG_WARN,
                "mirror: %s; its lag is not in stats, and not alerted", err);
        m->open_failed = 1;
        m->page = NULL;
    }
    return m->page;
}

/* The page and the lag behind the log as it is now, in *p and *lag;
 * 0, or a storage error. */
static int look(struct pt_host *h, struct pt_mirror_page *pg, int64_t now_us,
                uint64_t last_seq, struct pt_mirror_progress *p,
                struct pt_mirror_lag *lag)
{
    pt_mirror_page_read(pg, p);
    return pt_mirror_lag(h->reader, p->acked_seq, last_seq, now_us, lag);
}

static int mirror_due(struct pt_host *h, int64_t now);

int pt_host_mirror_due(struct pt_host *h, int64_t now)
{
    int national = pt_host_national_due(h);
    return mirror_due(h, now) || national;
}

static int mirror_due(struct pt_host *h, int64_t now)
{
    struct pt_host_mirror *m = &h->mirror;
    struct pt_mirror_page *pg = page(h);
    m->lagging_due = m->diverged_due = 0;
    if (pg == NULL)
        return 0;
    uint64_t last = 0;
    int rc = st_reader_renew(h->reader);
    if (rc == 0)
        rc = st_reader_last_seq(h->reader, &last);
    if (rc == 0)
        rc = look(h, pg, now * 1000000, last, &m->seen, &m->lag);
    st_reader_reset(h->reader);
    if (rc != 0)
        return 0; /* the next tick looks again */
    const struct pt_mirror_conf *c = &h->cfg.mirror;
    int lagging =
        (c->lag_alert_records > 0 && m->lag.records > c->lag_alert_records) ||
        (c->lag_alert_seconds > 0 &&
         m->lag.seconds > (int64_t)c->lag_alert_seconds);
    int diverged = m->seen.state == PT_MIRROR_DIVERGED;
    if (!lagging && m->lagging)
        pt_logf(&h->log, PT_LOG_INFO,
                "mirror: caught up again (JetStream holds seq %" PRIu64
                " of %" PRIu64 ")",
                m->seen.acked_seq, last);
    if (!diverged && m->diverged)
        pt_logf(&h->log, PT_LOG_INFO,
                "mirror: the stream no longer diverges from the log");
    m->lagging &= lagging;
    m->diverged &= diverged;
    m->lagging_due = lagging && !m->lagging;
    m->diverged_due = diverged && !m->diverged;
    return m->lagging_due || m->diverged_due;
}

int pt_host_mirror_raise(struct pt_host *h, MDB_txn *txn, int64_t now)
{
    struct pt_host_mirror *m = &h->mirror;
    const struct pt_mirror_conf *c = &h->cfg.mirror;
    const struct pt_mirror_progress *p = &m->seen;
    char msg[PT_MIRROR_ERROR_MAX + 512];
    struct povtrack_alert a = {
        .size = sizeof a, .unit = c->province, .message = msg, .at = now};
    int rc = 0;
    if (m->diverged_due) {
        snprintf(msg, sizeof msg,
                 "the JetStream stream %s diverges from the log: %s; the "
                 "mirror has stopped copying (README, Many provinces: when "
                 "the stream diverges)",
                 c->stream, p->error);
        a.code = "mirror.diverged";
        a.severity = POVTRACK_CRITICAL;
        rc = pt_host_raise(h, txn, "mirror", &a);
    }
    if (rc == 0 && m->lagging_due) {
        snprintf(msg, sizeof msg,
                 "the JetStream stream %s is %" PRIu64
                 " records behind the log, the oldest waiting for %" PRId64
                 " s (bounds: lag_alert_records %" PRIu64
                 ", lag_alert_seconds %u); mirror %s%s%s",
                 c->stream, m->lag.records, m->lag.seconds,
                 c->lag_alert_records, c->lag_alert_seconds,
                 pt_mirror_state_name(p->state), p->error[0] ? ": " : "",
                 p->error);
        a.code = "mirror.lagging";
        a.severity = POVTRACK_WARNING;
        rc = pt_host_raise(h, txn, "mirror", &a);
    }
    if (rc == 0)
        rc = pt_host_national_raise(h, txn, now);
    return rc;
}

void pt_host_mirror_raised(struct pt_host *h, int committed)
{
    struct pt_host_mirror *m = &h->mirror;
    if (committed) {
        if (m->diverged_due)
            pt_logf(&h->log, PT_LOG_ERROR,
                    "mirror: the stream diverges from the log: %s "
                    "(alert mirror.diverged)",
                    m->seen.error);
        if (m->lagging_due)
            pt_logf(&h->log, PT_LOG_WARN,
                    "mirror: %" PRIu64 " records behind, the oldest waiting "
                    "for %" PRId64 " s (alert mirror.lagging)",
                    m->lag.records, m->lag.seconds);
        m->diverged |= m->diverged_due;
        m->lagging |= m->lagging_due;
    }
    m->lagging_due = m->diverged_due = 0;
    pt_host_national_raised(h, committed);
}

void pt_host_mirror_pack_stats(struct pt_host *h, msgpack_packer *pk,
                               uint64_t last_seq)
{
    const struct pt_mirror_conf *c = &h->cfg.mirror;
    struct pt_mirror_page *pg = page(h);
    if (!c->enabled)
        return;
    struct pt_mirror_progress p;
    struct pt_mirror_lag lag = {0, 0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    if (pg == NULL || look(h, pg, now_us, last_seq, &p, &lag) != 0) {
        memset(&p, 0, sizeof p);
        snprintf(p.error, sizeof p.error, "%s",
                 pg == NULL ? "no progress page (see the log)"
                            : "the log cannot be read");
        lag.records = last_seq;
    }
    pt_pack_cstr(pk, "mirror");
    msgpack_pack_map(pk, p.error[0] != '\0' ? 9 : 8);
    pt_pack_cstr(pk, "state");
    pt_pack_cstr(pk, pt_mirror_state_name(p.state));
    pt_pack_cstr(pk, "stream");
    pt_pack_cstr(pk, c->stream);
    pt_pack_cstr(pk, "subject");
    pt_pack_cstr(pk, c->subject);
    pt_pack_cstr(pk, "strict");
    if (c->strict)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    pt_pack_cstr(pk, "acked_seq");
    msgpack_pack_uint64(pk, p.acked_seq);
    pt_pack_cstr(pk, "lag_records");
    msgpack_pack_uint64(pk, lag.records);
    pt_pack_cstr(pk, "lag_seconds");
    msgpack_pack_int64(pk, lag.seconds);
    pt_pack_cstr(pk, "updated");
    msgpack_pack_int64(pk, p.updated_us);
    if (p.error[0] != '\0') {
        pt_pack_cstr(pk, "error");
        povtrack_proto_pack_text(pk, p.error, strlen(p.error));
    }
}

void pt_host_mirror_close(struct pt_host *h)
{
    pt_mirror_page_close(h->mirror.page);
    h->mirror.page = NULL;
    pt_host_national_close(h);
}
