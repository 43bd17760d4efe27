/*
 * gw_sse.c - see gw_sse.h.
 */
#include "gw_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/protocol.h>

#include "gw_api.h"
#include "tl_alertfilter.h"

#define PAGE 1000         /* alerts listed per request */
#define WAIT_MS 1000      /* a published alert, or list again */
#define KEEPALIVE_S 15.0  /* a comment line when idle this long */
#define PENDING_MAX 65536 /* bytes queued before listing stops */

struct stream {
    struct gw *gw;
    const struct gw_identity *who;
    povtrack_client *c;
    /* Sent: every alert of the events before seq, and the first k of
     * seq's. */
    uint64_t seq;
    uint32_t k;
    char code[64], severity[16], unit[16];
    char *pending;
    size_t len, off, cap;
    double last_write;
};

static void stream_free(void *cls)
{
    struct stream *s = cls;
    povtrack_client_close(s->c);
    free(s->pending);
    free(s);
}

static int append(struct stream *s, const char *text, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = (s->len + n) * 2;
        char *p = realloc(s->pending, cap);
        if (p == NULL)
            return POVTRACK_ENOMEM;
        s->pending = p;
        s->cap = cap;
    }
    memcpy(s->pending + s->len, text, n);
    s->len += n;
    return 0;
}

/* List the stored alerts past the position and queue the new ones.
 * *more: a full page came back.  0, or the client's code with msg set. */
static int list(struct stream *s, bool *more, char *msg, size_t cap)
{
    char req[96];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct povtrack_client_msg reply;
    int rc;

    *more = false;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    povtrack_proto_pack_request(&pk, POVTRACK_OP_ALERTS, 2);
    povtrack_proto_pack_cstr(&pk, "since");
    msgpack_pack_uint64(&pk, s->seq > 0 ? s->seq - 1 : 0);
    povtrack_proto_pack_cstr(&pk, "limit");
    msgpack_pack_uint32(&pk, PAGE);
    rc = povtrack_client_request(s->c, sb.data, sb.size, &reply);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0) {
        const msgpack_object *e =
            reply.buf_ != NULL
                ? povtrack_client_map_get(&reply.obj, POVTRACK_KEY_ERROR)
                : NULL;
        if (e != NULL && e->type == MSGPACK_OBJECT_STR)
            snprintf(msg, cap, "%.*s", (int)e->via.str.size, e->via.str.ptr);
        else
            snprintf(msg, cap, "%s", povtrack_client_error(s->c));
        povtrack_client_msg_free(&reply);
        return rc;
    }
    const msgpack_object *arr = povtrack_client_map_get(&reply.obj, "alerts");
    uint32_t n = arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY
                     ? arr->via.array.size
                     : 0;
    uint32_t skip = s->k;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const msgpack_object *a = &arr->via.array.ptr[i];
        const msgpack_object *so = povtrack_client_map_get(a, "seq");
        if (so == NULL || so->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            so->via.u64 < s->seq)
            continue;
        if (so->via.u64 == s->seq && skip > 0) {
            skip--;
            continue;
        }
        if (so->via.u64 == s->seq) {
            s->k++;
        } else {
            s->seq = so->via.u64;
            s->k = 1;
        }
        skip = 0;
        const struct tl_alert_filter filter = {s->code, s->severity, s->unit};
        if (!tl_alert_filter_match(&filter, a))
            continue;
        json_t *j = gw_api_json(a);
        char *data = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (data == NULL)
            continue;
        snprintf(req, sizeof req, "id: %llu.%u\nevent: alert\ndata: ",
                 (unsigned long long)s->seq, s->k);
        rc = append(s, req, strlen(req));
        if (rc == 0)
            rc = append(s, data, strlen(data));
        if (rc == 0)
            rc = append(s, "\n\n", 2);
        free(data);
    }
    *more = n == PAGE;
    povtrack_client_msg_free(&reply);
    if (rc != 0)
        snprintf(msg, cap, "out of memory");
    return rc;
}

/* Called by libmicrohttpd in the connection's own thread whenever it can
 * send: block until there is something (an alert, a keep-alive). */
static ssize_t produce(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    (void)pos;
    for (;;) {
        if (s->off < s->len) {
            size_t n = s->len - s->off < max ? s->len - s->off : max;
            memcpy(buf, s->pending + s->off, n);
            s->off += n;
            if (s->off == s->len)
                s->off = s->len = 0;
            s->last_write = gw_now();
            return (ssize_t)n;
        }
        if (atomic_load(&s->gw->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        bool more = true;
        char msg[512];
        while (more && s->len < PENDING_MAX) {
            int rc = list(s, &more, msg, sizeof msg);
            if (rc != 0) {
                /* povtrackd away or restarting: say so, try again. */
                char line[600];
                snprintf(line, sizeof line, ": povtrackd: %.500s\n\n", msg);
                for (char *p = line + 2; *p != '\0'; p++)
                    if (*p == '\n' && p[1] != '\0' && p[1] != '\n')
                        *p = ' ';
                if (append(s, line, strlen(line)) != 0)
                    return MHD_CONTENT_READER_END_WITH_ERROR;
                break;
            }
        }
        if (s->len > 0)
            continue;
        struct povtrack_client_msg alert;
        int rc = povtrack_client_recv_alert(s->c, WAIT_MS, &alert);
        if (rc == 0) {
            /* The cue to list; drain what else came meanwhile. */
            povtrack_client_msg_free(&alert);
            while (povtrack_client_recv_alert(s->c, 0, &alert) == 0)
                povtrack_client_msg_free(&alert);
        } else if (gw_now() - s->last_write >= KEEPALIVE_S) {
            if (append(s, ": keep-alive\n\n", 14) != 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

/* The position to start from: Last-Event-ID ("SEQ.K"), ?since=SEQ, else
 * past what every plugin has applied now.  0, or the failure answered. */
static int start_position(struct gw_req *r, struct stream *s,
                          enum MHD_Result *result)
{
    const char *last =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *since = gw_arg(r, "since");
    unsigned long long seq;
    unsigned k;
    char end;

    if (last != NULL && sscanf(last, "%llu.%u%c", &seq, &k, &end) == 2) {
        s->seq = seq;
        s->k = k;
        return 0;
    }
    if (since != NULL) {
        if (sscanf(since, "%llu%c", &seq, &end) != 1) {
            *result =
                gw_reply_error(r, 400, "since", 0, "must be a sequence number");
            return POVTRACK_EINVALID;
        }
        s->seq = seq + 1;
        return 0;
    }
    struct povtrack_client_msg reply;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    povtrack_proto_pack_request(&pk, POVTRACK_OP_STATS, 0);
    int rc = gw_api_ask(r, s->who, sb.data, sb.size, &reply, result);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return rc;
    /* Alerts of the events every plugin has applied are stored already:
     * start after those.  A faster plugin's alerts of later events are
     * listed, none is lost. */
    const msgpack_object *ps = povtrack_client_map_get(&reply.obj, "plugins");
    const msgpack_object *ls = povtrack_client_map_get(&reply.obj, "last_seq");
    uint64_t low = ls != NULL && ls->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                       ? ls->via.u64
                       : 0;
    for (uint32_t i = 0; ps != NULL && ps->type == MSGPACK_OBJECT_ARRAY &&
                         i < ps->via.array.size;
         i++) {
        const msgpack_object *a =
            povtrack_client_map_get(&ps->via.array.ptr[i], "applied_seq");
        if (a != NULL && a->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
            a->via.u64 < low)
            low = a->via.u64;
    }
    s->seq = low + 1;
    povtrack_client_msg_free(&reply);
    return 0;
}

enum MHD_Result gw_sse_stream(struct gw_req *r)
{
    struct stream *s = calloc(1, sizeof *s);
    enum MHD_Result result = MHD_NO;
    char msg[512];
    bool more;

    if (s == NULL)
        return gw_reply_error(r, 500, NULL, 0, "out of memory");
    if (gw_api_severity_arg(r, &result) != 0) {
        free(s);
        return result;
    }
    s->gw = r->gw;
    s->who = r->who;
    s->last_write = gw_now();
    const char *f[3] = {gw_arg(r, "code"), gw_arg(r, "severity"),
                        gw_arg(r, "unit")};
    snprintf(s->code, sizeof s->code, "%s", f[0] != NULL ? f[0] : "");
    snprintf(s->severity, sizeof s->severity, "%s", f[1] != NULL ? f[1] : "");
    snprintf(s->unit, sizeof s->unit, "%s", f[2] != NULL ? f[2] : "");
    if (start_position(r, s, &result) != 0) {
        stream_free(s);
        return result;
    }
    /* Its own client: the subscription lives as long as the stream.
     * Subscribe first, then list, so that nothing raised in between is
     * missed. */
    s->c = gw_daemon_client(r->gw->daemon, r->who);
    int rc = s->c == NULL ? POVTRACK_ENOMEM
                          : povtrack_client_subscribe(s->c, "alert.");
    /* The browser reconnects after 2 s when the stream breaks. */
    if (rc == 0)
        rc = append(s, "retry: 2000\n\n", 13);
    if (rc == 0)
        rc = list(s, &more, msg, sizeof msg);
    else
        snprintf(msg, sizeof msg, "%s",
                 s->c != NULL ? povtrack_client_error(s->c) : "out of memory");
    if (rc != 0) {
        /* The first listing says whether this user may follow alerts at
         * all: answer that as HTTP rather than open a stream. */
        struct gw_failure fail;
        gw_daemon_failure(rc, msg, NULL, &fail);
        stream_free(s);
        return gw_reply_failure(r, &fail);
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, produce, s, stream_free);
    if (resp == NULL) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    gw_http_headers(r->gw, resp, false);
    r->status = 200;
    result = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return result;
}
