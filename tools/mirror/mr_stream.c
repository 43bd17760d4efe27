/*
 * mr_stream.c - the province's JetStream stream (mr_stream.h).
 */
#include "mr_stream.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>

#include <povtrack/errors.h>

#include "st_log.h" /* ST_FORMAT, the log a message is compared with */

#define EXPECTED_LAST_SEQ "Nats-Expected-Last-Sequence"
#define API_WAIT_MS 5000      /* JetStream API requests */
#define PING_INTERVAL_MS 2000 /* a silent server is dropped after 2 more */
#define RECONNECT_WAIT_MS 250
/* A no-wait fetch: how long the client waits for the server's answer. */
#define NOWAIT_EXPIRES_MS 50

struct mr_stream {
    const struct pt_mirror_conf *conf;
    const struct pt_log *log;
    int wake_fd;
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *reader; /* a standby's pull consumer, or NULL */
    pthread_mutex_t lock;     /* guards what the callbacks write: */
    struct mr_results res;
};

/* Tell the copy loop to look (an eventfd: adding never blocks while it is
 * far from full). */
static void wake(struct mr_stream *s)
{
    uint64_t one = 1;
    ssize_t w = write(s->wake_fd, &one, sizeof one);
    (void)w;
}

/* What NATS said, into err: status text and the library's last error. */
static int nats_fail(natsStatus st, jsErrCode jerr, const char *what, char *err,
                     size_t errlen)
{
    natsStatus last;
    const char *detail = nats_GetLastError(&last);
    if (jerr != 0)
        snprintf(err, errlen, "%s: %s (JetStream error %d)", what,
                 natsStatus_GetText(st), (int)jerr);
    else
        snprintf(err, errlen, "%s: %s%s%s", what, natsStatus_GetText(st),
                 detail != NULL && detail[0] ? ": " : "",
                 detail != NULL ? detail : "");
    return st == NATS_NO_MEMORY ? POVTRACK_ENOMEM : POVTRACK_ENATS;
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    struct mr_stream *s = closure;
    (void)nc;
    pthread_mutex_lock(&s->lock);
    s->res.connected = 0;
    pthread_mutex_unlock(&s->lock);
    wake(s);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    struct mr_stream *s = closure;
    (void)nc;
    pthread_mutex_lock(&s->lock);
    s->res.connected = 1;
    s->res.reconnects++;
    pthread_mutex_unlock(&s->lock);
    wake(s);
}

/* JetStream's answer to one publish, from nats.c's thread. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                   void *closure)
{
    struct mr_stream *s = closure;
    const char *v = NULL;
    uint64_t seq = 0;
    (void)js;
    if (natsMsgHeader_Get(msg, MR_HDR_SEQ, &v) == NATS_OK && v != NULL)
        seq = strtoull(v, NULL, 10);
    pthread_mutex_lock(&s->lock);
    s->res.inflight--;
    if (pa != NULL && pa->Sequence == seq) {
        if (seq > s->res.acked)
            s->res.acked = seq;
    } else if (!s->res.failed) {
        s->res.failed = 1;
        if (pa != NULL) {
            /* The expectation makes this impossible unless the stream is
             * not what this module keeps. */
            s->res.code = POVTRACK_EDIVERGED;
            snprintf(s->res.why, sizeof s->res.why,
                     "JetStream stored record %" PRIu64
                     " at stream sequence %" PRIu64,
                     seq, pa->Sequence);
        } else {
            s->res.code = POVTRACK_ENATS;
            snprintf(s->res.why, sizeof s->res.why,
                     "publish of seq %" PRIu64 ": %s%s", seq,
                     pae->ErrCode == JSStreamWrongLastSequenceErr
                         ? "the stream does not end where expected: "
                         : "",
                     pae->ErrText != NULL ? pae->ErrText
                                          : natsStatus_GetText(pae->Err));
        }
    }
    pthread_mutex_unlock(&s->lock);
    natsMsg_Destroy(msg);
    wake(s);
}

int mr_stream_open(const struct pt_mirror_conf *c, const struct pt_log *log,
                   int wake_fd, struct mr_stream **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    struct mr_stream *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return POVTRACK_ENOMEM;
    }
    s->conf = c;
    s->log = log;
    s->wake_fd = wake_fd;
    pthread_mutex_init(&s->lock, NULL);
    const char *urls[PT_MIRROR_SERVERS];
    for (size_t i = 0; i < c->nservers; i++)
        urls[i] = c->servers[i];
    char name[64];
    snprintf(name, sizeof name, "povtrack-mirror %s", c->province);
    natsStatus st = natsOptions_Create(&s->opts);
    if (st == NATS_OK)
        st = natsOptions_SetServers(s->opts, urls, (int)c->nservers);
    if (st == NATS_OK)
        st = natsOptions_SetName(s->opts, name);
    /* Reconnect forever: the mirror has nothing better to do, and the
     * copy loop sees the state through the callbacks. */
    if (st == NATS_OK)
        st = natsOptions_SetMaxReconnect(s->opts, -1);
    if (st == NATS_OK)
        st = natsOptions_SetReconnectWait(s->opts, RECONNECT_WAIT_MS);
    if (st == NATS_OK)
        st = natsOptions_SetPingInterval(s->opts, PING_INTERVAL_MS);
    if (st == NATS_OK)
        st = natsOptions_SetDisconnectedCB(s->opts, on_disconnected, s);
    if (st == NATS_OK)
        st = natsOptions_SetReconnectedCB(s->opts, on_reconnected, s);
    if (st == NATS_OK && c->tls)
        st = natsOptions_SetSecure(s->opts, true);
    if (st == NATS_OK && c->tls_ca[0] != '\0')
        st = natsOptions_LoadCATrustedCertificates(s->opts, c->tls_ca);
    if (st == NATS_OK && c->credentials[0] != '\0')
        st = natsOptions_SetUserCredentialsFromFiles(s->opts, c->credentials,
                                                     NULL);
    if (st != NATS_OK) {
        int rc = nats_fail(st, 0, "NATS options", err, errlen);
        mr_stream_close(s);
        return rc;
    }
    st = natsConnection_Connect(&s->nc, s->opts);
    if (st != NATS_OK) {
        int rc = nats_fail(st, 0, "connect", err, errlen);
        mr_stream_close(s);
        return rc;
    }
    s->res.connected = 1;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = API_WAIT_MS;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = s;
    st = natsConnection_JetStream(&s->js, s->nc, &jo);
    if (st != NATS_OK) {
        int rc = nats_fail(st, 0, "JetStream context", err, errlen);
        mr_stream_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Close s's connection; its threads may still call back into s. */
static void close_connection(struct mr_stream *s)
{
    mr_stream_read_close(s);
    if (s->js != NULL) {
        /* Publishes still unacknowledged at a stop are the caller's again
         * (the next run resumes from the stream's last message); nats.c
         * would otherwise keep them past jsCtx_Destroy and leak them. */
        natsMsgList pending = {NULL, 0};
        pthread_mutex_lock(&s->lock);
        size_t inflight = s->res.inflight;
        pthread_mutex_unlock(&s->lock);
        /* Only with some: nats.c 3.4 crashes asked without any publish. */
        if (inflight > 0 &&
            js_PublishAsyncGetPendingList(&pending, s->js) == NATS_OK)
            natsMsgList_Destroy(&pending);
        jsCtx_Destroy(s->js);
    }
    if (s->nc != NULL) {
        natsConnection_Close(s->nc);
        natsConnection_Destroy(s->nc);
    }
}

void mr_stream_close(struct mr_stream *s)
{
    mr_stream_close_all(&s, 1);
}

void mr_stream_close_all(struct mr_stream **s, size_t n)
{
    int connected = 0;
    const struct pt_log *log = NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == NULL)
            continue;
        close_connection(s[i]);
        connected |= s[i]->nc != NULL;
        log = s[i]->log;
    }
    if (connected) {
        /* nats.c calls back from its own threads, after the close too
         * (disconnected, a late ack): s may go only once they have all
         * ended, which nats_CloseAndWait waits for. */
        natsStatus st = nats_CloseAndWait(MR_CLOSE_WAIT_MS);
        if (st != NATS_OK) {
            pt_logf(log, PT_LOG_WARN,
                    "NATS client threads did not end within %d ms (%s)",
                    MR_CLOSE_WAIT_MS, natsStatus_GetText(st));
            return; /* s is left to them */
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == NULL)
            continue;
        natsOptions_Destroy(s[i]->opts);
        pthread_mutex_destroy(&s[i]->lock);
        free(s[i]);
        s[i] = NULL;
    }
}

void mr_stream_drain(struct mr_stream *s, int timeout_ms)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = timeout_ms;
    js_PublishAsyncComplete(s->js, &po);
}

/* Does si describe a stream with exactly the one subject? */
static int own_subject(const jsStreamInfo *si, const char *subject)
{
    const jsStreamConfig *cfg = si->Config;
    return cfg != NULL && cfg->SubjectsLen == 1 &&
           strcmp(cfg->Subjects[0], subject) == 0;
}

int mr_stream_ensure(struct mr_stream *s, uint64_t *last, char *err,
                     size_t errlen)
{
    const struct pt_mirror_conf *c = s->conf;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_GetStreamInfo(&si, s->js, c->stream, NULL, &jerr);
    if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        const char *subjects[1] = {c->subject};
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        sc.Name = c->stream;
        sc.Description = "povtrack: a province's log, record by record";
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        sc.Replicas = c->replicas;
        sc.Retention = js_LimitsPolicy;
        /* A copy of a log: nothing removes a record from it. */
        sc.DenyDelete = true;
        sc.DenyPurge = true;
        jerr = 0;
        st = js_AddStream(&si, s->js, &sc, NULL, &jerr);
        if (st == NATS_OK)
            pt_logf(s->log, PT_LOG_INFO,
                    "created the JetStream stream %s (subject %s, %u "
                    "replicas)",
                    c->stream, c->subject, c->replicas);
    }
    if (st != NATS_OK) {
        char what[128];
        snprintf(what, sizeof what, "stream %s", c->stream);
        return nats_fail(st, jerr, what, err, errlen);
    }
    int rc = 0;
    if (!own_subject(si, c->subject)) {
        snprintf(err, errlen,
                 "the stream %s exists with other subjects than %s alone: "
                 "the mirror needs a stream of its own, whose sequence is "
                 "the log's (configure another [mirror] stream)",
                 c->stream, c->subject);
        rc = POVTRACK_ENATS;
    } else {
        *last = si->State.LastSeq;
        if (si->Config->Replicas != (int64_t)c->replicas)
            pt_logf(s->log, PT_LOG_WARN,
                    "the stream %s has %lld replicas, [mirror] says %u (the "
                    "mirror does not change an existing stream)",
                    c->stream, (long long)si->Config->Replicas, c->replicas);
    }
    jsStreamInfo_Destroy(si);
    return rc;
}

int mr_stream_last(struct mr_stream *s, uint64_t *last, char *err,
                   size_t errlen)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_GetStreamInfo(&si, s->js, s->conf->stream, NULL, &jerr);
    if (st != NATS_OK)
        return nats_fail(st, jerr, "stream info", err, errlen);
    *last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return 0;
}

/* A message of the stream as an mr_stored, which takes it over. */
static void stored_of(natsMsg *msg, struct mr_stored *out)
{
    const char *v = NULL;
    memset(out, 0, sizeof *out);
    if (natsMsgHeader_Get(msg, MR_HDR_SEQ, &v) == NATS_OK && v != NULL) {
        char *end;
        out->seq = strtoull(v, &end, 10);
        if (*end != '\0')
            out->seq = 0;
    }
    v = NULL;
    if (natsMsgHeader_Get(msg, MR_HDR_PROVINCE, &v) == NATS_OK && v != NULL)
        snprintf(out->province, sizeof out->province, "%s", v);
    snprintf(out->subject, sizeof out->subject, "%s",
             natsMsg_GetSubject(msg) != NULL ? natsMsg_GetSubject(msg) : "");
    out->body = natsMsg_GetData(msg);
    out->len = (size_t)natsMsg_GetDataLength(msg);
    out->msg = msg;
}

int mr_stream_get(struct mr_stream *s, uint64_t seq, struct mr_stored *out,
                  char *err, size_t errlen)
{
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    memset(out, 0, sizeof *out);
    natsStatus st = js_GetMsg(&msg, s->js, s->conf->stream, seq, NULL, &jerr);
    if (st == NATS_NOT_FOUND)
        return POVTRACK_ENOTFOUND;
    if (st != NATS_OK) {
        char what[64];
        snprintf(what, sizeof what, "message %" PRIu64, seq);
        return nats_fail(st, jerr, what, err, errlen);
    }
    stored_of(msg, out);
    return 0;
}

void mr_stored_free(struct mr_stored *m)
{
    natsMsg_Destroy(m->msg);
    m->msg = NULL;
}

int mr_stream_same(struct mr_stream *s, struct st_reader *r, uint64_t last,
                   char *why, size_t whylen)
{
    struct mr_stored m;
    int rc = mr_stream_get(s, last, &m, why, whylen);
    if (rc == POVTRACK_ENOTFOUND) {
        snprintf(why, whylen, "its last message %" PRIu64 " cannot be read",
                 last);
        return POVTRACK_ENATS;
    }
    if (rc != 0)
        return rc;
    struct st_record rec;
    rc = st_reader_get(r, last, &rec);
    if (rc != 0) {
        snprintf(why, whylen, "the log's record %" PRIu64 ": %s", last,
                 st_strerror(rc));
    } else if (m.seq != last || strcmp(m.province, s->conf->province) != 0 ||
               strcmp(m.subject, s->conf->subject) != 0) {
        snprintf(
            why, whylen,
            "its message %" PRIu64 " is not this province's record %" PRIu64
            " (subject %s, " MR_HDR_SEQ " %" PRIu64 ", " MR_HDR_PROVINCE " %s)",
            last, last, m.subject, m.seq, m.province);
        rc = POVTRACK_EDIVERGED;
    } else if (m.len != rec.raw_len || memcmp(m.body, rec.raw, m.len) != 0) {
        snprintf(why, whylen,
                 "its record %" PRIu64 " is not the log's record %" PRIu64
                 " (%zu bytes against %zu, or other bytes)",
                 last, last, m.len, rec.raw_len);
        rc = POVTRACK_EDIVERGED;
    }
    mr_stored_free(&m);
    return rc;
}

int mr_stream_publish(struct mr_stream *s, uint64_t seq, const void *body,
                      size_t len, char *err, size_t errlen)
{
    const struct pt_mirror_conf *c = s->conf;
    char seqs[24], prev[24];
    snprintf(seqs, sizeof seqs, "%" PRIu64, seq);
    snprintf(prev, sizeof prev, "%" PRIu64, seq - 1);
    natsMsg *msg = NULL;
    natsStatus st = natsMsg_Create(&msg, c->subject, NULL, body, (int)len);
    /* Set by hand: nats.c's ExpectLastSeq option leaves out 0, which the
     * first record needs (the stream must be empty). */
    if (st == NATS_OK)
        st = natsMsgHeader_Set(msg, EXPECTED_LAST_SEQ, prev);
    if (st == NATS_OK)
        st = natsMsgHeader_Set(msg, MR_HDR_SEQ, seqs);
    if (st == NATS_OK)
        st = natsMsgHeader_Set(msg, MR_HDR_PROVINCE, c->province);
    if (st == NATS_OK)
        st = natsMsgHeader_Set(msg, MR_HDR_FORMAT, ST_FORMAT);
    if (st != NATS_OK) {
        natsMsg_Destroy(msg);
        return nats_fail(st, 0, "message", err, errlen);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = MR_PUBLISH_WAIT_MS;
    pthread_mutex_lock(&s->lock);
    s->res.inflight++;
    pthread_mutex_unlock(&s->lock);
    st = js_PublishMsgAsync(s->js, &msg, &po);
    natsMsg_Destroy(msg); /* NULL when the library took it */
    if (st != NATS_OK) {
        pthread_mutex_lock(&s->lock);
        s->res.inflight--;
        pthread_mutex_unlock(&s->lock);
        return nats_fail(st, 0, "publish", err, errlen);
    }
    return 0;
}

void mr_stream_results(struct mr_stream *s, struct mr_results *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->res;
    pthread_mutex_unlock(&s->lock);
}

void mr_stream_rearm(struct mr_stream *s, uint64_t acked)
{
    pthread_mutex_lock(&s->lock);
    s->res.failed = 0;
    s->res.code = 0;
    s->res.why[0] = '\0';
    s->res.acked = acked;
    pthread_mutex_unlock(&s->lock);
}

int mr_stream_read_open(struct mr_stream *s, uint64_t from, char *err,
                        size_t errlen)
{
    jsSubOptions so;
    jsErrCode jerr = 0;
    mr_stream_read_close(s);
    jsSubOptions_Init(&so);
    so.Stream = s->conf->stream;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = from;
    so.Config.AckPolicy = js_AckNone;
    /* The server drops the consumer this long after its reader went. */
    so.Config.InactiveThreshold = (int64_t)MR_READER_IDLE_MS * 1000000;
    natsStatus st = js_PullSubscribe(&s->reader, s->js, s->conf->subject, NULL,
                                     NULL, &so, &jerr);
    if (st != NATS_OK) {
        s->reader = NULL;
        return nats_fail(st, jerr, "pull consumer", err, errlen);
    }
    return 0;
}

void mr_stream_read_close(struct mr_stream *s)
{
    if (s->reader == NULL)
        return;
    natsSubscription_Unsubscribe(s->reader);
    natsSubscription_Destroy(s->reader);
    s->reader = NULL;
}

/*
 * The stream sequence of a message a consumer delivered, from its ack
 * subject: "$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer
 * seq>.<time>.<pending>", or with a domain and an account hash after ACK
 * (12 tokens; 11 from older servers).  0 when it is not such a subject.
 * Read here rather than with natsMsg_GetMetaData: in nats.c 3.4.1 that
 * corrupts the heap once the numbers grow long (seen at a few hundred
 * thousand messages: "malloc(): unaligned fastbin chunk detected" in
 * js_getMetaData).
 */
static uint64_t ack_stream_seq(const char *reply)
{
    const char *tok[16];
    size_t ntok = 0;
    if (reply == NULL || strncmp(reply, "$JS.ACK.", 8) != 0)
        return 0;
    for (const char *p = reply; ntok < 16; p++) {
        tok[ntok++] = p;
        p = strchr(p, '.');
        if (p == NULL)
            break;
    }
    size_t at = ntok == 9 ? 5 : ntok == 11 || ntok == 12 ? 7 : 0;
    if (at == 0)
        return 0;
    char *end;
    uint64_t seq = strtoull(tok[at], &end, 10);
    return *end == '.' && end != tok[at] ? seq : 0;
}

int mr_stream_read(struct mr_stream *s, struct mr_stored *out, size_t max,
                   size_t *n, int timeout_ms, char *err, size_t errlen)
{
    natsMsgList list = {NULL, 0};
    jsErrCode jerr = 0;
    *n = 0;
    if (s->reader == NULL || max == 0 || max > INT_MAX)
        return POVTRACK_EINVAL;
    natsStatus st;
    if (timeout_ms > 0) {
        st = natsSubscription_Fetch(&list, s->reader, (int)max, timeout_ms,
                                    &jerr);
    } else {
        /* What the stream has now, answered at once: no request is left
         * waiting on the server to deliver after the client gave up. */
        jsFetchRequest req;
        jsFetchRequest_Init(&req);
        req.Batch = (int)max;
        req.NoWait = true;
        req.Expires = (int64_t)NOWAIT_EXPIRES_MS * 1000000;
        st = natsSubscription_FetchRequest(&list, s->reader, &req);
    }
    if (st == NATS_TIMEOUT || st == NATS_NOT_FOUND)
        return 0;
    if (st != NATS_OK)
        return nats_fail(st, jerr, "fetch", err, errlen);
    for (int i = 0; i < list.Count && *n < max; i++) {
        natsMsg *msg = list.Msgs[i];
        list.Msgs[i] = NULL;
        stored_of(msg, &out[*n]);
        out[*n].stream_seq = ack_stream_seq(natsMsg_GetReply(msg));
        (*n)++;
    }
    natsMsgList_Destroy(&list);
    return 0;
}
