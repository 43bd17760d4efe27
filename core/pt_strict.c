/*
 * pt_strict.c - acks held until JetStream has the records (pt_strict.h).
 */
#include "pt_strict.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <povtrack/errors.h>

#include "pt_clock.h"

/* One reply held back. */
struct held {
    struct pt_request req; /* the envelope; the body frame is let go */
    char *body;
    size_t len;
    uint64_t seq;
    int64_t since_ms;
};

struct pt_strict {
    const struct pt_log *log;
    const struct pt_mirror_page *page;
    struct held *ring; /* PT_STRICT_HELD_MAX, FIFO from head */
    size_t head, n, bytes;
    int64_t warned_ms; /* last "acks wait" warning */
    uint64_t dropped;  /* oldest replies dropped to make room */
};

int pt_strict_open(const struct pt_log *log, const struct pt_mirror_page *page,
                   struct pt_strict **out)
{
    struct pt_strict *s = calloc(1, sizeof *s);
    if (s != NULL)
        s->ring = calloc(PT_STRICT_HELD_MAX, sizeof *s->ring);
    if (s == NULL || s->ring == NULL) {
        free(s);
        return POVTRACK_ENOMEM;
    }
    s->log = log;
    s->page = page;
    *out = s;
    return 0;
}

/* Forget the oldest held reply. */
static void drop_head(struct pt_strict *s)
{
    struct held *h = &s->ring[s->head];
    pt_wire_close(&h->req);
    free(h->body);
    s->bytes -= h->len;
    s->head = (s->head + 1) % PT_STRICT_HELD_MAX;
    s->n--;
}

void pt_strict_close(struct pt_strict *s)
{
    if (s == NULL)
        return;
    if (s->n > 0)
        pt_logf(s->log, PT_LOG_WARN,
                "strict mode: %zu acks not sent, JetStream had not "
                "acknowledged their records (the publishers send again)",
                s->n);
    while (s->n > 0)
        drop_head(s);
    free(s->ring);
    free(s);
}

size_t pt_strict_held(const struct pt_strict *s)
{
    return s->n;
}

int pt_strict_reply(struct pt_strict *s, void *sock, struct pt_request *req,
                    const void *body, size_t len, uint64_t seq)
{
    /* Nothing to wait for: nothing stored, or JetStream has it and no
     * earlier reply waits. */
    if (seq == 0 || (s->n == 0 && seq <= pt_mirror_page_acked(s->page)))
        return pt_wire_reply(sock, req, body, len);
    char *copy = malloc(len);
    if (copy == NULL)
        return POVTRACK_ENOMEM; /* not sent: the publisher sends again */
    while (s->n > 0 && (s->n == PT_STRICT_HELD_MAX ||
                        s->bytes + len > PT_STRICT_BYTES_MAX)) {
        if (s->dropped++ == 0)
            pt_logf(s->log, PT_LOG_WARN,
                    "strict mode: %d acks held for JetStream; dropping the "
                    "oldest (their publishers time out and send again)",
                    PT_STRICT_HELD_MAX);
        drop_head(s);
    }
    struct held *h = &s->ring[(s->head + s->n) % PT_STRICT_HELD_MAX];
    pt_wire_move(&h->req, req);
    /* Only the envelope is needed to answer: let the request's frame go. */
    zmq_msg_close(&h->req.body);
    zmq_msg_init(&h->req.body);
    memcpy(copy, body, len);
    h->body = copy;
    h->len = len;
    h->seq = seq;
    h->since_ms = pt_mono_ms();
    s->bytes += len;
    s->n++;
    return 0;
}

void pt_strict_release(struct pt_strict *s, void *sock)
{
    if (s->n == 0)
        return;
    uint64_t acked = pt_mirror_page_acked(s->page);
    while (s->n > 0 && s->ring[s->head].seq <= acked) {
        struct held *h = &s->ring[s->head];
        int rc = pt_wire_reply(sock, &h->req, h->body, h->len);
        if (rc != 0)
            pt_logf(s->log, PT_LOG_WARN, "ack not delivered (client gone?): %s",
                    povtrack_strerror(rc));
        drop_head(s);
    }
    if (s->n == 0) {
        s->dropped = 0;
        return;
    }
    int64_t now = pt_mono_ms();
    const struct held *oldest = &s->ring[s->head];
    if (now - oldest->since_ms < PT_STRICT_WARN_MS ||
        now - s->warned_ms < PT_STRICT_WARN_MS)
        return;
    s->warned_ms = now;
    struct pt_mirror_progress p;
    pt_mirror_page_read(s->page, &p);
    pt_logf(s->log, PT_LOG_WARN,
            "strict mode: %zu acks wait for JetStream, the oldest for %lld "
            "ms (it needs seq %llu; JetStream has acknowledged %llu; mirror "
            "%s%s%s)",
            s->n, (long long)(now - oldest->since_ms),
            (unsigned long long)oldest->seq, (unsigned long long)p.acked_seq,
            pt_mirror_state_name(p.state), p.error[0] != '\0' ? ": " : "",
            p.error);
}
