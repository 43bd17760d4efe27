/*
 * mr_copy.c - the log into the stream (mr_copy.h).
 */
#include "mr_copy.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <povtrack/errors.h>

#include "mr_stream.h"
#include "pt_clock.h"
#include "pt_mirror.h"
#include "pt_state.h"
#include "st_log.h"

struct copier {
    const struct pt_mirror_conf *conf;
    const char *data_dir;
    /* A standby not yet promoted: the stream into the log (acked is then
     * what the log holds of the stream). */
    int following;
    int caught_up; /* following: the last fetch found nothing new */
    const struct pt_log *log;
    int strict;
    int ingest_fd, signal_fd, wake_fd;
    struct st_log *events;
    struct st_reader *reader;
    struct pt_mirror_page *page;
    struct mr_stream *stream; /* NULL while not connected */
    uint64_t acked;           /* JetStream holds 1..acked, as far as known */
    uint64_t next;            /* the next record to publish */
    uint64_t told;            /* the last acked told to ingest */
    int synced;               /* acked and next hold since the last resync */
    int failure_logged;       /* the current failure is in the log */
    enum pt_mirror_state state;
    unsigned reconnects_seen;
    int64_t retry_at_ms; /* the next connect or resync, after a failure */
    int64_t backoff_ms;
    int64_t check_at_ms; /* the next idle look at the stream */
    int stop;
};

/* The page's state and problem; logged when either changes. */
static void set_state(struct copier *c, enum pt_mirror_state state,
                      const char *problem)
{
    struct pt_mirror_progress now;
    pt_mirror_page_read(c->page, &now);
    if (state != c->state ||
        (problem != NULL && strcmp(problem, now.error) != 0)) {
        enum pt_log_level level = state == PT_MIRROR_DIVERGED ? PT_LOG_ERROR
                                  : problem != NULL && problem[0] != '\0'
                                      ? PT_LOG_WARN
                                      : PT_LOG_INFO;
        pt_logf(c->log, level, "%s%s%s", pt_mirror_state_name(state),
                problem != NULL && problem[0] ? ": " : "",
                problem != NULL ? problem : "");
    }
    c->state = state;
    pt_mirror_page_set(c->page, state, c->acked, problem);
}

/* Say acked on the page, and to ingest in strict mode: the message is a
 * wake-up (the page has the number; it is in the text for whoever traces
 * the two processes). */
static void publish_acked(struct copier *c)
{
    pt_mirror_page_set_acked(c->page, c->acked);
    if (!c->strict || c->acked == c->told)
        return;
    char msg[32];
    int n = snprintf(msg, sizeof msg, "acked %" PRIu64, c->acked);
    /* A full socket already holds a wake-up. */
    ssize_t w = send(c->ingest_fd, msg, (size_t)n, MSG_DONTWAIT);
    (void)w;
    c->told = c->acked;
}

/* After a failure: try again after the back-off, which grows until
 * something works. */
static void back_off(struct copier *c)
{
    c->backoff_ms = c->backoff_ms == 0                      ? MR_BACKOFF_MIN_MS
                    : c->backoff_ms * 2 > MR_BACKOFF_MAX_MS ? MR_BACKOFF_MAX_MS
                                                            : c->backoff_ms * 2;
    c->retry_at_ms = pt_mono_ms() + c->backoff_ms;
}

/* The log's last sequence now. */
static int log_last(struct copier *c, uint64_t *last)
{
    int rc = st_reader_renew(c->reader);
    if (rc == 0)
        rc = st_reader_last_seq(c->reader, last);
    return rc;
}

/* Where the stream ends, checked against the log: sets acked and next.
 * 0, or an error with why (POVTRACK_EDIVERGED: the stream is not a copy
 * of this log). */
static int resync(struct copier *c, char *why, size_t whylen)
{
    uint64_t last = 0, loglast = 0;
    set_state(c, PT_MIRROR_SYNCING, NULL);
    int rc = mr_stream_ensure(c->stream, &last, why, whylen);
    if (rc == 0 && (rc = log_last(c, &loglast)) != 0)
        snprintf(why, whylen, "the log: %s", st_strerror(rc));
    if (rc == 0 && last > loglast) {
        snprintf(why, whylen,
                 "the stream %s holds %" PRIu64 " records, the log %" PRIu64
                 " (the log was restored from an older backup, or another "
                 "povtrackd copies into this stream)",
                 c->conf->stream, last, loglast);
        rc = POVTRACK_EDIVERGED;
    }
    if (rc == 0 && last > 0)
        rc = mr_stream_same(c->stream, c->reader, last, why, whylen);
    st_reader_reset(c->reader);
    if (rc != 0)
        return rc;
    if (last < c->acked)
        pt_logf(c->log, PT_LOG_WARN,
                "JetStream lost its tail: it had acknowledged the log up to "
                "seq %" PRIu64 ", and the stream %s now ends at %" PRIu64
                " (nats-server fsyncs on a timer); sending %" PRIu64
                "..%" PRIu64 " again from the log",
                c->acked, c->conf->stream, last, last + 1, c->acked);
    c->acked = last;
    c->next = last + 1;
    mr_stream_rearm(c->stream, last);
    set_state(c, PT_MIRROR_COPYING, "");
    publish_acked(c);
    return 0;
}

/* Publish what the log has beyond next, up to the window. */
static void pump(struct copier *c)
{
    uint64_t last;
    char why[512];
    int rc = log_last(c, &last);
    if (rc == 0 && c->next <= last)
        rc = st_reader_seek(c->reader, c->next);
    while (rc == 0 && c->next <= last && c->next - 1 - c->acked < MR_WINDOW) {
        struct st_record rec;
        rc = st_reader_next(c->reader, &rec);
        if (rc != 0)
            break;
        if (rec.seq != c->next) {
            rc = POVTRACK_EFORMAT; /* the log has gaps: cannot be */
            break;
        }
        rc = mr_stream_publish(c->stream, rec.seq, rec.raw, rec.raw_len, why,
                               sizeof why);
        if (rc != 0) {
            /* Resync once what is in flight is answered. */
            pt_logf(c->log, PT_LOG_WARN, "%s", why);
            c->synced = 0;
            st_reader_reset(c->reader);
            return;
        }
        c->next++;
    }
    st_reader_reset(c->reader);
    if (rc != 0 && rc != POVTRACK_EEND) {
        pt_logf(c->log, PT_LOG_ERROR, "reading the log at seq %" PRIu64 ": %s",
                c->next, st_strerror(rc));
        c->synced = 0;
        back_off(c);
    }
}

/* One turn with a connection: take the acks, resync when needed, copy. */
static void work(struct copier *c)
{
    struct mr_results r;
    char why[512];
    mr_stream_results(c->stream, &r);
    if (r.acked > c->acked) {
        c->acked = r.acked;
        publish_acked(c);
    }
    if (!r.connected && c->state != PT_MIRROR_CONNECTING)
        set_state(c, PT_MIRROR_CONNECTING,
                  "disconnected from NATS; reconnecting");
    if (r.reconnects != c->reconnects_seen) {
        /* The servers may have restarted, and lost their tail. */
        c->reconnects_seen = r.reconnects;
        c->synced = 0;
    }
    if (r.failed && c->synced) {
        pt_logf(c->log, PT_LOG_WARN,
                "%s; resuming from the stream's last message", r.why);
        c->synced = 0;
    }
    int64_t now = pt_mono_ms();
    if (!c->synced && r.inflight == 0 && r.connected && now >= c->retry_at_ms) {
        int rc = resync(c, why, sizeof why);
        if (rc == 0) {
            c->synced = 1;
            c->backoff_ms = 0;
            c->check_at_ms = now + MR_IDLE_CHECK_MS;
        } else if (rc == POVTRACK_EDIVERGED) {
            set_state(c, PT_MIRROR_DIVERGED, why);
            c->retry_at_ms = now + MR_DIVERGED_RECHECK_MS;
        } else {
            set_state(c, PT_MIRROR_CONNECTING, why);
            back_off(c);
        }
    }
    if (!c->synced)
        return;
    pump(c);
    if (c->synced && r.inflight == 0 && c->next - 1 == c->acked &&
        now >= c->check_at_ms) {
        uint64_t last;
        c->check_at_ms = now + MR_IDLE_CHECK_MS;
        if (mr_stream_last(c->stream, &last, why, sizeof why) == 0 &&
            last != c->acked) {
            pt_logf(c->log, PT_LOG_WARN,
                    "the stream %s ends at %" PRIu64
                    ", JetStream had acknowledged %" PRIu64 ": resyncing",
                    c->conf->stream, last, c->acked);
            c->synced = 0;
        }
    }
}

/* ---- a standby: the stream into the log ---- */

/* Tell ingest, which wakes the plugin host and, after "promoted", takes
 * publishers.  A full socket already holds a wake-up. */
static void tell_ingest(struct copier *c, const char *what, uint64_t seq)
{
    char msg[48];
    int n = snprintf(msg, sizeof msg, "%s %" PRIu64, what, seq);
    ssize_t w = send(c->ingest_fd, msg, (size_t)n, MSG_DONTWAIT);
    (void)w;
}

/* Where the log ends, checked against the stream: the stream holds at
 * least the log, and its message at the log's last sequence is the log's
 * record; then read from the record after it.  0, or an error with why
 * (POVTRACK_EDIVERGED: the log is not a copy of the stream). */
static int follow_sync(struct copier *c, char *why, size_t whylen)
{
    uint64_t last = 0, loglast = 0;
    set_state(c, PT_MIRROR_SYNCING, NULL);
    int rc = mr_stream_last(c->stream, &last, why, whylen);
    if (rc == 0 && (rc = log_last(c, &loglast)) != 0)
        snprintf(why, whylen, "the log: %s", st_strerror(rc));
    if (rc == 0 && loglast > last) {
        snprintf(why, whylen,
                 "the log holds %" PRIu64 " records, the stream %s %" PRIu64
                 " (this standby's log was written by another povtrackd, or "
                 "the stream was replaced)",
                 loglast, c->conf->stream, last);
        rc = POVTRACK_EDIVERGED;
    }
    if (rc == 0 && loglast > 0)
        rc = mr_stream_same(c->stream, c->reader, loglast, why, whylen);
    st_reader_reset(c->reader);
    if (rc == 0)
        rc = mr_stream_read_open(c->stream, loglast + 1, why, whylen);
    if (rc != 0)
        return rc;
    c->acked = loglast;
    c->caught_up = 0;
    set_state(c, PT_MIRROR_FOLLOWING, "");
    pt_mirror_page_set_acked(c->page, c->acked);
    return 0;
}

/* Fetch up to MR_FOLLOW_BATCH messages after acked (waiting up to
 * MR_FOLLOW_POLL_MS for the first) and append them to the log as they
 * are, in one transaction.  0 (caught_up set when none came), or an error
 * with why. */
static int follow_batch(struct copier *c, char *why, size_t whylen)
{
    struct mr_stored m[MR_FOLLOW_BATCH];
    struct st_raw raw[MR_FOLLOW_BATCH];
    size_t n = 0;
    int rc = mr_stream_read(c->stream, m, MR_FOLLOW_BATCH, &n,
                            MR_FOLLOW_POLL_MS, why, whylen);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t seq = c->acked + i + 1;
        if (m[i].stream_seq != seq || m[i].seq != seq ||
            strcmp(m[i].province, c->conf->province) != 0 ||
            strcmp(m[i].subject, c->conf->subject) != 0) {
            snprintf(why, whylen,
                     "the stream's message %" PRIu64
                     " is not this province's record %" PRIu64
                     " (subject %s, " MR_HDR_SEQ " %" PRIu64
                     ", " MR_HDR_PROVINCE " %s)",
                     m[i].stream_seq, seq, m[i].subject, m[i].seq,
                     m[i].province);
            rc = POVTRACK_EDIVERGED;
        }
        raw[i] = (struct st_raw){seq, m[i].body, m[i].len};
    }
    c->caught_up = rc == 0 && n == 0;
    if (rc == 0 && n > 0) {
        rc = st_log_append_raw(c->events, raw, n, why, whylen);
        if (rc != 0 && why[0] == '\0')
            snprintf(why, whylen, "the log: %s", st_strerror(rc));
        if (rc == 0) {
            c->acked += n;
            pt_mirror_page_set_acked(c->page, c->acked);
            tell_ingest(c, "applied", c->acked);
        }
    }
    for (size_t i = 0; i < n; i++)
        mr_stored_free(&m[i]);
    return rc;
}

/* `povtrack promote` asked, and the log holds the whole stream as it is
 * now: mark the promotion, tell ingest, and copy from now on. */
static void maybe_promote(struct copier *c)
{
    char why[512];
    uint64_t last;
    if (!c->caught_up || !pt_mirror_promote_requested(c->data_dir))
        return;
    if (mr_stream_last(c->stream, &last, why, sizeof why) != 0) {
        pt_logf(c->log, PT_LOG_WARN, "promote: %s; trying again", why);
        return;
    }
    if (last != c->acked)
        return; /* read the rest first */
    int rc = pt_mirror_mark_promoted(c->data_dir, c->acked, why, sizeof why);
    if (rc != 0) {
        pt_logf(c->log, PT_LOG_ERROR, "promote: %s; trying again", why);
        return;
    }
    pt_logf(c->log, PT_LOG_INFO,
            "promoted: the log holds the stream %s to its end, seq %" PRIu64
            "; this povtrackd is the primary and copies its log into it",
            c->conf->stream, c->acked);
    tell_ingest(c, "promoted", c->acked);
    mr_stream_read_close(c->stream);
    c->following = 0;
    c->synced = 0;
}

/* One turn of a standby with a connection. */
static void follow(struct copier *c)
{
    struct mr_results r;
    char why[512];
    int64_t now = pt_mono_ms();
    mr_stream_results(c->stream, &r);
    if (!r.connected) {
        if (c->state != PT_MIRROR_CONNECTING)
            set_state(c, PT_MIRROR_CONNECTING,
                      "disconnected from NATS; reconnecting");
        c->synced = 0;
        return;
    }
    if (r.reconnects != c->reconnects_seen) {
        c->reconnects_seen = r.reconnects;
        c->synced = 0;
    }
    int rc = 0;
    why[0] = '\0';
    if (!c->synced) {
        if (now < c->retry_at_ms)
            return;
        rc = follow_sync(c, why, sizeof why);
        c->synced = rc == 0;
    }
    if (rc == 0)
        rc = follow_batch(c, why, sizeof why);
    if (rc == 0) {
        c->backoff_ms = 0;
        maybe_promote(c);
        return;
    }
    c->synced = 0;
    mr_stream_read_close(c->stream);
    if (rc == POVTRACK_EDIVERGED) {
        set_state(c, PT_MIRROR_DIVERGED, why);
        c->retry_at_ms = now + MR_DIVERGED_RECHECK_MS;
    } else {
        set_state(c, PT_MIRROR_CONNECTING, why);
        back_off(c);
    }
}

/* Connect when not connected and the back-off allows. */
static void connect_stream(struct copier *c)
{
    char why[512];
    if (c->stream != NULL || pt_mono_ms() < c->retry_at_ms)
        return;
    int rc = mr_stream_open(c->conf, c->log, c->wake_fd, &c->stream, why,
                            sizeof why);
    if (rc != 0) {
        c->stream = NULL;
        set_state(c, PT_MIRROR_CONNECTING, why);
        back_off(c);
        return;
    }
    pt_logf(c->log, PT_LOG_INFO, "connected to NATS; stream %s, subject %s%s",
            c->conf->stream, c->conf->subject,
            c->following ? " (standby: following it)"
            : c->strict  ? " (strict: acks wait for JetStream)"
                         : "");
    c->synced = 0;
    c->backoff_ms = 0;
    c->reconnects_seen = 0;
}

/* How long poll may sleep: until the next retry or idle check, at most a
 * second (the log may grow without a word from ingest). */
static int wait_ms(const struct copier *c)
{
    int64_t now = pt_mono_ms(), until = now + 1000;
    if ((c->stream == NULL || !c->synced) && c->retry_at_ms < until)
        until = c->retry_at_ms;
    if (c->synced && c->check_at_ms < until)
        until = c->check_at_ms;
    if (c->following && c->synced)
        until = now; /* the fetch itself waits for messages */
    return until > now ? (int)(until - now) : 0;
}

/* Read what woke us.  Ingest's socket closing means it is gone. */
static void take_events(struct copier *c, struct pollfd *p)
{
    if (p[0].revents != 0) {
        struct signalfd_siginfo si;
        while (read(c->signal_fd, &si, sizeof si) == (ssize_t)sizeof si)
            if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                c->stop = 1;
    }
    if (p[1].revents != 0) {
        char buf[64];
        ssize_t r;
        while ((r = recv(c->ingest_fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            ;
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            pt_logf(c->log, PT_LOG_INFO, "ingest is gone; stopping");
            c->stop = 1;
        }
    }
    if (p[2].revents != 0) {
        uint64_t n;
        ssize_t r = read(c->wake_fd, &n, sizeof n);
        (void)r;
    }
}

static int open_all(struct copier *c, const struct pt_config *cfg)
{
    char err[PATH_MAX + 512], dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/" PT_DATA_LOG_SUBDIR, cfg->data_dir) >=
        (int)sizeof dir) {
        pt_logf(c->log, PT_LOG_ERROR, "%s: path too long", cfg->data_dir);
        return POVTRACK_ENAMETOOLONG;
    }
    int rc = pt_mirror_page_open(cfg->data_dir, PT_MIRROR_PAGE_WRITE, &c->page,
                                 err, sizeof err);
    if (rc == 0)
        rc = st_log_open(dir, c->following ? 0 : ST_OPEN_READONLY, &c->events,
                         err, sizeof err);
    if (rc == 0 && (rc = st_reader_begin(c->events, &c->reader)) != 0)
        snprintf(err, sizeof err, "%s: %s", dir, st_strerror(rc));
    if (rc == 0) {
        c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (c->wake_fd < 0) {
            rc = -errno;
            snprintf(err, sizeof err, "eventfd: %s", povtrack_strerror(rc));
        }
    }
    if (rc != 0)
        pt_logf(c->log, PT_LOG_ERROR, "%s", err);
    else
        st_reader_reset(c->reader);
    return rc;
}

int mr_copy_run(const struct pt_config *cfg, const struct pt_log *log,
                int ingest_fd, int signal_fd)
{
    struct copier c = {.conf = &cfg->mirror,
                       .data_dir = cfg->data_dir,
                       .following =
                           pt_mirror_standby(&cfg->mirror, cfg->data_dir),
                       .log = log,
                       .strict = cfg->mirror.strict,
                       .ingest_fd = ingest_fd,
                       .signal_fd = signal_fd,
                       .wake_fd = -1,
                       .state = PT_MIRROR_STARTING};
    int rc = open_all(&c, cfg);
    if (rc == 0) {
        /* Where the previous mirror of this povtrackd got to: what
         * JetStream acknowledged then, for telling a lost tail. */
        struct pt_mirror_progress p;
        pt_mirror_page_read(c.page, &p);
        c.acked = c.told = p.acked_seq;
        set_state(&c, PT_MIRROR_CONNECTING, "");
    }
    while (rc == 0 && !c.stop) {
        connect_stream(&c);
        if (c.stream != NULL && c.following)
            follow(&c);
        else if (c.stream != NULL)
            work(&c);
        struct pollfd p[3] = {{signal_fd, POLLIN, 0},
                              {ingest_fd, POLLIN, 0},
                              {c.wake_fd, POLLIN, 0}};
        int n = poll(p, 3, wait_ms(&c));
        if (n > 0)
            take_events(&c, p);
    }
    if (c.stream != NULL) {
        /* Wait for the acks still due, and say how far they got. */
        struct mr_results r;
        mr_stream_drain(c.stream, MR_PUBLISH_WAIT_MS);
        mr_stream_results(c.stream, &r);
        if (r.acked > c.acked) {
            c.acked = r.acked;
            publish_acked(&c);
        }
        mr_stream_close(c.stream);
    }
    if (c.page != NULL)
        pt_mirror_page_close(c.page);
    if (c.reader != NULL)
        st_reader_end(c.reader);
    st_log_close(c.events);
    if (c.wake_fd >= 0)
        close(c.wake_fd);
    return rc == 0 ? 0 : 1;
}
