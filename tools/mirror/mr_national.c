/*
 * mr_national.c - every province's stream into the national log
 * (mr_national.h).
 */
#include "mr_national.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <povtrack/errors.h>

#include "ev_event.h"
#include "ev_unit.h"
#include "mr_copy.h" /* MR_BACKOFF_*, MR_DIVERGED_RECHECK_MS */
#include "mr_stream.h"
#include "pt_clock.h"
#include "pt_mirror.h"
#include "pt_state.h"
#include "st_log.h"

#define IDLE_WAIT_MS 50    /* between rounds when none had anything */
#define LAST_CHECK_MS 1000 /* a stream's last sequence, for stats */
#define UNIT_CHAIN_MAX 8

/* One record rewritten for the nation: the event and the strings it now
 * points to. */
struct rewrite {
    msgpack_unpacked up;
    struct ev_event ev;
    char id[EV_ID_MAX + 1];
    char target[EV_ID_MAX + 1];
    char household[EV_HOUSEHOLD_MAX + 1];
    msgpack_sbuffer sb;
};

struct province {
    const struct pt_national_province *conf;
    struct pt_mirror_conf stream_conf; /* its stream, as [mirror] names it */
    struct pt_mirror_page *page;
    uint64_t cursor;      /* the national log has taken 1..cursor */
    uint64_t stream_last; /* the stream's last sequence, last seen */
    int synced;           /* reading from cursor + 1 */
    int more;             /* the last fetch was full: read again at once */
    enum pt_mirror_state state;
    unsigned reconnects_seen;
    int64_t retry_at_ms, backoff_ms, check_at_ms;
};

struct national {
    const struct pt_config *cfg;
    const struct pt_log *log;
    int ingest_fd, signal_fd, wake_fd;
    struct st_log *events;
    struct st_reader *reader;
    struct province prov[PT_NATIONAL_PROVINCES];
    struct mr_stream *stream[PT_NATIONAL_PROVINCES]; /* NULL: not connected */
    size_t n;
    struct rewrite *rw;           /* MR_NATIONAL_BATCH */
    struct st_origin_item *items; /* MR_NATIONAL_BATCH */
    uint64_t last_seq; /* the national log's, after the last commit */
    int stop;
};

/* The province's state and problem on its page; logged when they change. */
static void set_state(struct national *nt, struct province *p,
                      enum pt_mirror_state state, const char *problem)
{
    struct pt_mirror_progress now;
    pt_mirror_page_read(p->page, &now);
    if (state != p->state ||
        (problem != NULL && strcmp(problem, now.error) != 0)) {
        enum pt_log_level level = state == PT_MIRROR_DIVERGED ? PT_LOG_ERROR
                                  : problem != NULL && problem[0] != '\0'
                                      ? PT_LOG_WARN
                                      : PT_LOG_INFO;
        pt_logf(nt->log, level, "province %s: %s%s%s", p->conf->code,
                pt_mirror_state_name(state),
                problem != NULL && problem[0] ? ": " : "",
                problem != NULL ? problem : "");
    }
    p->state = state;
    pt_mirror_page_set(p->page, state, p->stream_last, problem);
}

static void back_off(struct province *p)
{
    p->backoff_ms = p->backoff_ms == 0                      ? MR_BACKOFF_MIN_MS
                    : p->backoff_ms * 2 > MR_BACKOFF_MAX_MS ? MR_BACKOFF_MAX_MS
                                                            : p->backoff_ms * 2;
    p->retry_at_ms = pt_mono_ms() + p->backoff_ms;
}

/* ---- the rewrite ---- */

/* "<province>/<s>" into buf (max bytes at most); 0, or -1 when too long. */
static int prefixed(const char *province, struct ev_str s, char *buf,
                    size_t max, struct ev_str *out)
{
    int n = snprintf(buf, max + 1, "%s/%.*s", province, (int)s.len, s.ptr);
    if (n < 0 || (size_t)n > max)
        return -1;
    out->ptr = buf;
    out->len = (uint32_t)n;
    return 0;
}

/* Refuse the record before storage sees it (its own event, when it
 * decoded, names the unit and id in the reject). */
static void refuse(struct st_origin_item *o, const struct ev_event *ev,
                   const char *fmt, const char *what)
{
    o->item.ev = ev;
    o->item.status = ST_ITEM_REJECTED;
    o->reject_code = "national.rejected";
    snprintf(o->item.error, sizeof o->item.error, fmt, what);
}

/* Message m of province p as item o of the national log, rewritten into
 * rw (mr_national.h).  A record that cannot be taken is refused in o. */
static void rewrite(const struct province *p, const struct mr_stored *m,
                    struct rewrite *rw, struct st_origin_item *o)
{
    const char *code = p->conf->code;
    struct st_record rec;
    struct ev_error everr = {{0}, EV_WHY_OTHER};
    memset(o, 0, sizeof *o);
    o->origin_seq = m->stream_seq;
    msgpack_sbuffer_clear(&rw->sb);
    if (st_record_parse(m->stream_seq, m->body, m->len, &rec) != 0) {
        refuse(o, NULL, "%s", "the message is not a stored record");
        return;
    }
    o->received = rec.received;
    o->item.publisher = rec.publisher;
    if (msgpack_unpack_next(&rw->up, rec.event, rec.event_len, NULL) !=
            MSGPACK_UNPACK_SUCCESS ||
        ev_decode(&rw->up.data, INT64_MAX, &rw->ev, &everr) != POVTRACK_OK) {
        refuse(o, NULL, "its event does not decode: %.200s", everr.msg);
        return;
    }
    /* rw->ev stays the province's event until the rewrite is whole. */
    const struct ev_event *orig = &rw->ev;
    struct ev_event nev = *orig, *ev = &nev;
    if (prefixed(code, orig->id, rw->id, EV_ID_MAX, &ev->id) != 0) {
        refuse(o, orig, "id: longer than %s bytes with its province's prefix",
               "128");
        return;
    }
    if (ev->data.target.ptr != NULL &&
        prefixed(code, orig->data.target, rw->target, EV_ID_MAX,
                 &ev->data.target) != 0) {
        refuse(o, orig,
               "data.target: longer than %s bytes with its province's prefix",
               "128");
        return;
    }
    if (ev->household.ptr != NULL &&
        prefixed(code, orig->household, rw->household, EV_HOUSEHOLD_MAX,
                 &ev->household) != 0) {
        refuse(o, orig,
               "household: longer than %s bytes with its province's prefix",
               "64");
        return;
    }
    /* The provinces under the country. */
    int province_unit =
        (ev->type == EV_UNIT_DEFINED && ev->data.level == EV_LEVEL_PROVINCE) ||
        (ev->type == EV_UNIT_CHANGED && ev->unit.len == 2);
    if (province_unit && ev->data.parent.ptr == NULL)
        ev->data.parent = (struct ev_str){EV_COUNTRY, 2};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &rw->sb, msgpack_sbuffer_write);
    if (ev_encode(ev, &pk) != 0) {
        refuse(o, orig, "%s", "its event cannot be encoded again");
        return;
    }
    rw->ev = nev;
    o->item.ev = &rw->ev;
    o->item.bytes = rw->sb.data;
    o->item.len = rw->sb.size;
}

/* ---- what a province may carry ---- */

struct carry_check {
    const struct pt_national_province *conf;
};

static int carried_code(const struct pt_national_province *c, struct ev_str u)
{
    for (size_t i = 0; i < c->ncarry; i++)
        if (strlen(c->carry[i]) == u.len &&
            memcmp(c->carry[i], u.ptr, u.len) == 0)
            return 1;
    return 0;
}

/* Is ev's unit one of the carried units or under one, in the registry of
 * this commit (a unit.defined: under the parent it names)? */
static int carried(const struct pt_national_province *c, struct st_view *view,
                   const struct ev_event *ev)
{
    struct ev_str code = ev->unit;
    for (int depth = 0; depth < UNIT_CHAIN_MAX; depth++) {
        if (carried_code(c, code))
            return 1;
        struct ev_str parent;
        struct ev_unit u;
        if (depth == 0 && ev->type == EV_UNIT_DEFINED) {
            parent = ev->data.parent;
        } else if (st_view_unit(view, code, &u) == 0) {
            parent = u.parent;
        } else {
            return 0;
        }
        if (parent.ptr == NULL ||
            (parent.len == 2 && memcmp(parent.ptr, EV_COUNTRY, 2) == 0))
            return 0;
        code = parent;
    }
    return 0;
}

/* The province's rule, then the registry's (st_check_refs). */
static int national_check(void *arg, struct st_view *view, struct st_item *item)
{
    const struct carry_check *cc = arg;
    struct st_origin_item *o = (struct st_origin_item *)item;
    const struct ev_event *ev = item->ev;
    if (!carried(cc->conf, view, ev)) {
        char units[PT_NATIONAL_CARRY * 7] = "";
        for (size_t i = 0, off = 0; i < cc->conf->ncarry && off < sizeof units;
             i++)
            off += (size_t)snprintf(units + off, sizeof units - off, "%s%s",
                                    i ? ", " : "", cc->conf->carry[i]);
        snprintf(item->error, sizeof item->error,
                 "unit: %.*s is not under the units province %s's stream may "
                 "carry (%s)",
                 (int)ev->unit.len, ev->unit.ptr, cc->conf->code, units);
        o->reject_code = "national.foreign_unit";
        return POVTRACK_EINVALID;
    }
    return st_check_refs(NULL, view, item);
}

/* ---- reading a province's stream ---- */

static void tell_ingest(struct national *nt, uint64_t seq)
{
    char msg[48];
    int n = snprintf(msg, sizeof msg, "applied %" PRIu64, seq);
    ssize_t w = send(nt->ingest_fd, msg, (size_t)n, MSG_DONTWAIT);
    (void)w;
}

/* The province's cursor in the national log. */
static int read_cursor(struct national *nt, const char *code, uint64_t *cursor)
{
    int rc = st_reader_renew(nt->reader);
    if (rc == 0)
        rc = st_reader_cursor(nt->reader, code, cursor);
    st_reader_reset(nt->reader);
    return rc;
}

/* Where the province's cursor is, and read its stream from the record
 * after it.  0; or an error with why (the stream ending before the cursor
 * is waited for: POVTRACK_EAGAIN). */
static int sync_province(struct national *nt, struct province *p,
                         struct mr_stream *s, char *why, size_t whylen)
{
    set_state(nt, p, PT_MIRROR_SYNCING, NULL);
    int rc = read_cursor(nt, p->conf->code, &p->cursor);
    if (rc != 0) {
        snprintf(why, whylen, "the national log: %s", st_strerror(rc));
        return rc;
    }
    rc = mr_stream_last(s, &p->stream_last, why, whylen);
    if (rc == 0 && p->stream_last < p->cursor) {
        snprintf(why, whylen,
                 "the stream %s ends at %" PRIu64
                 ", the national log has taken it up to %" PRIu64
                 " (its nodes lost their tail: waiting for the province's "
                 "mirror to send it again)",
                 p->stream_conf.stream, p->stream_last, p->cursor);
        return POVTRACK_EAGAIN;
    }
    if (rc == 0)
        rc = mr_stream_read_open(s, p->cursor + 1, why, whylen);
    if (rc == 0) {
        p->check_at_ms = pt_mono_ms() + LAST_CHECK_MS;
        set_state(nt, p, PT_MIRROR_FOLLOWING, "");
    }
    return rc;
}

/* One fetch of the province's stream into the national log.  0 (*got
 * the records taken), or an error with why. */
static int take_batch(struct national *nt, struct province *p,
                      struct mr_stream *s, size_t *got, char *why,
                      size_t whylen)
{
    struct mr_stored m[MR_NATIONAL_BATCH];
    size_t n = 0;
    *got = 0;
    size_t fetched = 0;
    int rc = mr_stream_read(s, m, MR_NATIONAL_BATCH, &fetched, 0, why, whylen);
    for (size_t i = 0; rc == 0 && i < fetched; i++, n++) {
        uint64_t seq = p->cursor + i + 1;
        if (m[i].stream_seq != seq) {
            /* The consumer skipped or repeated a delivery: take what came
             * in order, and read again from the cursor. */
            pt_logf(nt->log, PT_LOG_WARN,
                    "province %s: the consumer delivered message %" PRIu64
                    " where %" PRIu64 " was due; reading again from there",
                    p->conf->code, m[i].stream_seq, seq);
            p->synced = 0;
            break;
        }
        if (m[i].seq != seq || strcmp(m[i].province, p->conf->code) != 0 ||
            strcmp(m[i].subject, p->stream_conf.subject) != 0) {
            snprintf(why, whylen,
                     "the stream's message %" PRIu64
                     " is not province %s's record %" PRIu64
                     " (subject %s, " MR_HDR_SEQ " %" PRIu64
                     ", " MR_HDR_PROVINCE " %s)",
                     m[i].stream_seq, p->conf->code, seq, m[i].subject,
                     m[i].seq, m[i].province);
            rc = POVTRACK_EDIVERGED;
            break;
        }
        rewrite(p, &m[i], &nt->rw[i], &nt->items[i]);
    }
    if (rc == 0 && n > 0) {
        struct carry_check cc = {p->conf};
        rc = st_log_append_origin(nt->events, p->conf->code, p->cursor,
                                  nt->items, n, national_check, &cc, why,
                                  whylen);
        if (rc != 0 && why[0] == '\0')
            snprintf(why, whylen, "the national log: %s", st_strerror(rc));
    }
    if (rc == 0 && n > 0) {
        for (size_t i = 0; i < n; i++) {
            const struct st_origin_item *o = &nt->items[i];
            if (o->item.status == ST_ITEM_OK)
                nt->last_seq = o->item.seq;
            else
                pt_logf(nt->log, PT_LOG_WARN,
                        "province %s, record %" PRIu64 ": not stored (%s): %s",
                        p->conf->code, o->origin_seq,
                        o->reject_code != NULL ? o->reject_code
                                               : "national.rejected",
                        o->item.error);
        }
        p->cursor += n;
        if (p->stream_last < p->cursor)
            p->stream_last = p->cursor;
        pt_mirror_page_set_acked(p->page, p->stream_last);
        *got = n;
    }
    for (size_t i = 0; i < fetched; i++)
        mr_stored_free(&m[i]);
    if (!p->synced)
        mr_stream_read_close(s);
    return rc;
}

/* One turn of a province: connect, sync, fetch.  Returns 1 when it took
 * records (there may be more at once). */
static int turn(struct national *nt, size_t i)
{
    struct province *p = &nt->prov[i];
    char why[512];
    int64_t now = pt_mono_ms();
    if (now < p->retry_at_ms)
        return 0;
    if (nt->stream[i] == NULL) {
        int rc = mr_stream_open(&p->stream_conf, nt->log, nt->wake_fd,
                                &nt->stream[i], why, sizeof why);
        if (rc != 0) {
            nt->stream[i] = NULL;
            set_state(nt, p, PT_MIRROR_CONNECTING, why);
            back_off(p);
            return 0;
        }
        p->synced = 0;
        p->reconnects_seen = 0;
    }
    struct mr_stream *s = nt->stream[i];
    struct mr_results r;
    mr_stream_results(s, &r);
    if (!r.connected) {
        if (p->state != PT_MIRROR_CONNECTING)
            set_state(nt, p, PT_MIRROR_CONNECTING,
                      "disconnected from NATS; reconnecting");
        p->synced = 0;
        return 0;
    }
    if (r.reconnects != p->reconnects_seen) {
        p->reconnects_seen = r.reconnects;
        p->synced = 0;
    }
    why[0] = '\0';
    int rc = 0;
    if (!p->synced) {
        rc = sync_province(nt, p, s, why, sizeof why);
        p->synced = rc == 0;
    }
    size_t got = 0;
    if (rc == 0)
        rc = take_batch(nt, p, s, &got, why, sizeof why);
    if (rc == 0) {
        p->backoff_ms = 0;
        if (got > 0)
            tell_ingest(nt, nt->last_seq);
        if (got == 0 && now >= p->check_at_ms) {
            /* For stats: how far the stream goes. */
            p->check_at_ms = now + LAST_CHECK_MS;
            if (mr_stream_last(s, &p->stream_last, why, sizeof why) == 0)
                pt_mirror_page_set_acked(p->page, p->stream_last);
        }
        return got > 0;
    }
    p->synced = 0;
    mr_stream_read_close(s);
    if (rc == POVTRACK_EDIVERGED) {
        set_state(nt, p, PT_MIRROR_DIVERGED, why);
        p->retry_at_ms = now + MR_DIVERGED_RECHECK_MS;
    } else {
        set_state(nt, p, PT_MIRROR_CONNECTING, why);
        back_off(p);
    }
    return 0;
}

/* ---- start and stop ---- */

/* The country's unit, once: unit.defined EV_COUNTRY. */
static int define_country(struct national *nt)
{
    struct ev_unit u;
    struct ev_str code = {EV_COUNTRY, 2};
    int rc = st_reader_renew(nt->reader);
    if (rc == 0)
        rc = st_reader_unit(nt->reader, code, &u);
    st_reader_reset(nt->reader);
    if (rc != POVTRACK_ENOTFOUND)
        return rc;
    struct ev_event ev = {.type = EV_UNIT_DEFINED,
                          .id = {"national/" EV_COUNTRY, 11},
                          .at = EV_AT_MIN,
                          .unit = code};
    ev.data.name = (struct ev_str){MR_NATIONAL_COUNTRY_NAME,
                                   sizeof MR_NATIONAL_COUNTRY_NAME - 1};
    ev.data.level = EV_LEVEL_CENTRAL;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc = ev_encode(&ev, &pk);
    struct st_item it = {
        .ev = &ev,
        .bytes = sb.data,
        .len = sb.size,
        .publisher = {MR_NATIONAL_PUBLISHER, sizeof MR_NATIONAL_PUBLISHER - 1}};
    if (rc == 0)
        rc = st_log_append_batch(nt->events, pt_real_us(), &it, 1,
                                 st_check_refs, NULL);
    if (rc == 0 && it.status == ST_ITEM_REJECTED) {
        pt_logf(nt->log, PT_LOG_ERROR, "the country's unit %s: %s", EV_COUNTRY,
                it.error);
        rc = POVTRACK_EINVALID;
    }
    if (rc == 0)
        pt_logf(nt->log, PT_LOG_INFO,
                "defined the country's unit %s (%s) at seq %" PRIu64,
                EV_COUNTRY, MR_NATIONAL_COUNTRY_NAME, it.seq);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int open_all(struct national *nt)
{
    const struct pt_config *cfg = nt->cfg;
    char err[PATH_MAX + 512], dir[PATH_MAX];
    int rc = 0;
    if (snprintf(dir, sizeof dir, "%s/" PT_DATA_LOG_SUBDIR, cfg->data_dir) >=
        (int)sizeof dir) {
        pt_logf(nt->log, PT_LOG_ERROR, "%s: path too long", cfg->data_dir);
        return POVTRACK_ENAMETOOLONG;
    }
    nt->rw = calloc(MR_NATIONAL_BATCH, sizeof *nt->rw);
    nt->items = calloc(MR_NATIONAL_BATCH, sizeof *nt->items);
    if (nt->rw == NULL || nt->items == NULL) {
        pt_logf(nt->log, PT_LOG_ERROR, "out of memory");
        return POVTRACK_ENOMEM;
    }
    for (size_t i = 0; i < MR_NATIONAL_BATCH; i++) {
        msgpack_unpacked_init(&nt->rw[i].up);
        msgpack_sbuffer_init(&nt->rw[i].sb);
    }
    nt->n = cfg->national.nprovinces;
    for (size_t i = 0; i < nt->n && rc == 0; i++) {
        struct province *p = &nt->prov[i];
        char file[64];
        p->conf = &cfg->national.provinces[i];
        pt_national_stream(&cfg->national, i, &p->stream_conf);
        snprintf(file, sizeof file, PT_DATA_NATIONAL_FILE_PREFIX "%s",
                 p->conf->code);
        rc = pt_mirror_page_open_file(cfg->data_dir, file, PT_MIRROR_PAGE_RESET,
                                      &p->page, err, sizeof err);
    }
    if (rc == 0)
        rc = st_log_open(dir, 0, &nt->events, err, sizeof err);
    if (rc == 0 && (rc = st_reader_begin(nt->events, &nt->reader)) != 0)
        snprintf(err, sizeof err, "%s: %s", dir, st_strerror(rc));
    if (rc == 0) {
        st_reader_reset(nt->reader);
        nt->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (nt->wake_fd < 0) {
            rc = -errno;
            snprintf(err, sizeof err, "eventfd: %s", povtrack_strerror(rc));
        }
    }
    if (rc != 0) {
        pt_logf(nt->log, PT_LOG_ERROR, "%s", err);
        return rc;
    }
    rc = define_country(nt);
    if (rc != 0)
        pt_logf(nt->log, PT_LOG_ERROR, "the country's unit %s: %s", EV_COUNTRY,
                st_strerror(rc));
    return rc;
}

static void close_all(struct national *nt)
{
    mr_stream_close_all(nt->stream, nt->n);
    for (size_t i = 0; i < nt->n; i++)
        if (nt->prov[i].page != NULL)
            pt_mirror_page_close(nt->prov[i].page);
    if (nt->reader != NULL)
        st_reader_end(nt->reader);
    st_log_close(nt->events);
    if (nt->wake_fd >= 0)
        close(nt->wake_fd);
    if (nt->rw != NULL)
        for (size_t i = 0; i < MR_NATIONAL_BATCH; i++) {
            msgpack_unpacked_destroy(&nt->rw[i].up);
            msgpack_sbuffer_destroy(&nt->rw[i].sb);
        }
    free(nt->rw);
    free(nt->items);
}

/* Read what woke us.  Ingest's socket closing means it is gone. */
static void take_events(struct national *nt, const struct pollfd *p)
{
    if (p[0].revents != 0) {
        struct signalfd_siginfo si;
        while (read(nt->signal_fd, &si, sizeof si) == (ssize_t)sizeof si)
            if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                nt->stop = 1;
    }
    if (p[1].revents != 0) {
        char buf[64];
        ssize_t r;
        while ((r = recv(nt->ingest_fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            ;
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            pt_logf(nt->log, PT_LOG_INFO, "ingest is gone; stopping");
            nt->stop = 1;
        }
    }
    if (p[2].revents != 0) {
        uint64_t v;
        ssize_t r = read(nt->wake_fd, &v, sizeof v);
        (void)r;
    }
}

int mr_national_run(const struct pt_config *cfg, const struct pt_log *log,
                    int ingest_fd, int signal_fd)
{
    struct national *nt = calloc(1, sizeof *nt);
    if (nt == NULL) {
        pt_logf(log, PT_LOG_ERROR, "out of memory");
        return 1;
    }
    nt->cfg = cfg;
    nt->log = log;
    nt->ingest_fd = ingest_fd;
    nt->signal_fd = signal_fd;
    nt->wake_fd = -1;
    int rc = open_all(nt);
    if (rc == 0)
        pt_logf(log, PT_LOG_INFO,
                "national: reading the streams of %zu provinces into the "
                "national log",
                nt->n);
    while (rc == 0 && !nt->stop) {
        int more = 0;
        for (size_t i = 0; i < nt->n && !nt->stop; i++)
            more |= turn(nt, i);
        struct pollfd p[3] = {{signal_fd, POLLIN, 0},
                              {ingest_fd, POLLIN, 0},
                              {nt->wake_fd, POLLIN, 0}};
        if (poll(p, 3, more ? 0 : IDLE_WAIT_MS) > 0)
            take_events(nt, p);
    }
    close_all(nt);
    free(nt);
    return rc == 0 ? 0 : 1;
}
