/*
 * pt_auth.c - CURVE on the server sockets and the ZAP handler that admits
 * the keys of the publisher registry.
 */
#include "pt_auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <povtrack/client.h>

#include "pt_refusals.h"

#define ZAP_FRAMES_MAX 8

struct pt_auth {
    const struct pt_log *log;
    char registry_path[PATH_MAX];
    bool curve;
    char secret_key[POVTRACK_CLIENT_KEY_Z85];
    char public_key[POVTRACK_CLIENT_KEY_Z85];
    struct pt_registry *reg;
    struct pt_publisher everyone; /* plain mode */
    void *zap;
    struct pt_refusals refused; /* which refusals to log */
    /* Handshakes the ZAP handler refused, per domain (ingest, query,
     * alerts), for the stats op. */
    uint64_t handshakes_refused[3];
};

/* Index of a ZAP domain in handshakes_refused; -1 for another. */
static int domain_index(const char *domain, size_t len)
{
    static const char *const names[3] = {"ingest", "query", "alerts"};
    for (int i = 0; i < 3; i++)
        if (strlen(names[i]) == len && memcmp(domain, names[i], len) == 0)
            return i;
    return -1;
}

uint64_t pt_auth_handshakes_refused(const struct pt_auth *a, const char *domain)
{
    int i = domain_index(domain, strlen(domain));
    return a != NULL && i >= 0 ? a->handshakes_refused[i] : 0;
}

int pt_auth_open(const struct pt_config *cfg, const struct pt_log *log,
                 void *zctx, struct pt_auth **out, char *err, size_t errlen)
{
    struct pt_auth *a = calloc(1, sizeof *a);
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return POVTRACK_ENOMEM;
    }
    a->log = log;
    pt_publisher_everyone(&a->everyone, PT_PUBLISHER_UNAUTH);
    if (cfg->curve_key_file[0] == '\0') {
        *out = a;
        return 0;
    }
    a->curve = true;
    snprintf(a->registry_path, sizeof a->registry_path, "%s",
             cfg->registry_file);
    char kerr[512];
    int rc = povtrack_client_read_keyfile(cfg->curve_key_file, a->public_key,
                                          a->secret_key, kerr, sizeof kerr);
    if (rc != 0) {
        snprintf(err, errlen, "[security] curve_key: %s", kerr);
        pt_auth_close(a);
        return rc;
    }
    rc = pt_registry_load(a->registry_path, &a->reg, err, errlen);
    if (rc != 0) {
        pt_auth_close(a);
        return rc;
    }
    /* RFC 27: the handler of a context is whoever binds this address; it
     * must be there before the first handshake. */
    int zero = 0;
    a->zap = zmq_socket(zctx, ZMQ_REP);
    if (a->zap == NULL ||
        zmq_setsockopt(a->zap, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(a->zap, "inproc://zeromq.zap.01") != 0) {
        rc = povtrack_zmq_error(zmq_errno());
        snprintf(err, errlen, "cannot start the ZAP handler: %s",
                 povtrack_strerror(rc));
        pt_auth_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void pt_auth_close(struct pt_auth *a)
{
    if (a == NULL)
        return;
    if (a->zap != NULL)
        zmq_close(a->zap);
    pt_registry_free(a->reg);
    memset(a->secret_key, 0, sizeof a->secret_key);
    free(a);
}

bool pt_auth_secure(const struct pt_auth *a)
{
    return a->curve;
}

int pt_auth_server_socket(struct pt_auth *a, void *sock, const char *domain)
{
    /* A peer that connects and stalls in the handshake holds a connection
     * for this long (libzmq's default is 30 s). */
    int handshake_ms = PT_AUTH_HANDSHAKE_MS;
    if (zmq_setsockopt(sock, ZMQ_HANDSHAKE_IVL, &handshake_ms,
                       sizeof handshake_ms) != 0)
        return povtrack_zmq_error(zmq_errno());
    if (!a->curve)
        return 0;
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, a->secret_key, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0)
        return povtrack_zmq_error(zmq_errno());
    return 0;
}

void *pt_auth_zap_socket(const struct pt_auth *a)
{
    return a->zap;
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* The right p lacks on the endpoint of domain (len bytes), or NULL when it
 * has it: the one rule for admitting a handshake and for keeping a
 * connection's requests coming after a reload. */
static const char *missing_right(const struct pt_publisher *p,
                                 const char *domain, size_t len)
{
    if (len == 6 && memcmp(domain, "ingest", 6) == 0)
        return pt_publisher_may_publish_any(p) ? NULL : "publish";
    if (len == 5 && memcmp(domain, "query", 5) == 0)
        return pt_publisher_may_query_any(p) ? NULL : "query";
    if (len == 6 && memcmp(domain, "alerts", 6) == 0)
        return p->alerts ? NULL : "alerts";
    return "use an unknown ZAP domain";
}

/* Log a refusal of key (NULL when the client offered none), unless this
 * key was logged less than a minute ago. */
static void log_refusal(struct pt_auth *a, const uint8_t *key, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));

static void log_refusal(struct pt_auth *a, const uint8_t *key, const char *fmt,
                        ...)
{
    static const uint8_t none[PT_CURVE_KEY_BYTES];
    if (!pt_refusals_due(&a->refused, key != NULL ? key : none, time(NULL)))
        return;
    char z85[POVTRACK_CLIENT_KEY_Z85] = "(none)";
    if (key != NULL)
        zmq_z85_encode(z85, key, PT_CURVE_KEY_BYTES);
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    pt_logf(a->log, PT_LOG_WARN, "refused %s (key %s)", what, z85);
}

static void send_str(void *sock, const char *s, int more)
{
    zmq_send(sock, s, strlen(s), more ? ZMQ_SNDMORE : 0);
}

/* The ZAP reply's metadata (ZMTP property encoding: name length, name,
 * 4-byte big-endian value length, value): the key the client proved it
 * holds, which pt_auth_sender looks up on every request. */
static void send_key_metadata(void *sock, const uint8_t *key)
{
    static const char name[] = PT_AUTH_KEY_PROPERTY;
    const size_t nlen = sizeof name - 1, vlen = POVTRACK_CLIENT_KEY_Z85 - 1;
    unsigned char meta[1 + sizeof name - 1 + 4 + POVTRACK_CLIENT_KEY_Z85];
    size_t n = 0;
    meta[n++] = (unsigned char)nlen;
    memcpy(meta + n, name, nlen);
    n += nlen;
    meta[n++] = 0;
    meta[n++] = 0;
    meta[n++] = 0;
    meta[n++] = (unsigned char)vlen;
    zmq_z85_encode((char *)meta + n, key, PT_CURVE_KEY_BYTES);
    n += vlen;
    zmq_send(sock, meta, n, 0);
}

/* One request: version, request id, domain, address, routing id,
 * mechanism, credentials (the client's public key for CURVE). */
static void handle_one(struct pt_auth *a)
{
    zmq_msg_t f[ZAP_FRAMES_MAX];
    size_t n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, a->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (n < ZAP_FRAMES_MAX)
            f[n++] = m;
        else
            zmq_msg_close(&m);
    }
    if (n == 0)
        return;
    if (n < 7 || !frame_is(&f[0], "1.0")) {
        /* Not ZAP 1.0: answer something so the REP socket can go on. */
        send_str(a->zap, "1.0", 1);
        if (n >= 2)
            zmq_send(a->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]),
                     ZMQ_SNDMORE);
        else
            send_str(a->zap, "", 1);
        send_str(a->zap, "500", 1);
        send_str(a->zap, "malformed ZAP request", 1);
        send_str(a->zap, "", 1);
        send_str(a->zap, "", 0);
    } else {
        const struct pt_publisher *p = NULL;
        const uint8_t *key = NULL;
        const char *why = "not a CURVE handshake";
        char whybuf[64];
        if (frame_is(&f[5], "CURVE") &&
            zmq_msg_size(&f[6]) == PT_CURVE_KEY_BYTES) {
            key = zmq_msg_data(&f[6]);
            p = pt_registry_find_key(a->reg, key);
            why = "key not in the publisher registry";
            if (p != NULL) {
                const char *right =
                    missing_right(p, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
                why = NULL;
                if (right != NULL) {
                    snprintf(whybuf, sizeof whybuf, "no right to %s", right);
                    why = whybuf;
                }
            }
        }
        if (why != NULL) {
            int d = domain_index(zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
            if (d >= 0)
                a->handshakes_refused[d]++;
        }
        if (why != NULL)
            log_refusal(
                a, key, "%.*s connection from %.*s%s%s%s: %s",
                (int)zmq_msg_size(&f[2]), (const char *)zmq_msg_data(&f[2]),
                (int)zmq_msg_size(&f[3]), (const char *)zmq_msg_data(&f[3]),
                p ? " as \"" : "", p ? p->name : "", p ? "\"" : "", why);
        send_str(a->zap, "1.0", 1);
        zmq_send(a->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
        send_str(a->zap, why == NULL ? "200" : "400", 1);
        send_str(a->zap, why == NULL ? "OK" : why, 1);
        send_str(a->zap, why == NULL ? p->name : "", 1);
        if (why == NULL)
            send_key_metadata(a->zap, key);
        else
            send_str(a->zap, "", 0);
    }
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

void pt_auth_zap_handle(struct pt_auth *a)
{
    if (a->zap == NULL)
        return;
    for (;;) {
        int events = 0;
        size_t len = sizeof events;
        if (zmq_getsockopt(a->zap, ZMQ_EVENTS, &events, &len) != 0 ||
            !(events & ZMQ_POLLIN))
            return;
        handle_one(a);
    }
}

/* Keys with alerts = yes in old that lack it in new. */
static size_t count_alerts_lost(const struct pt_registry *old,
                                const struct pt_registry *new)
{
    size_t lost = 0;
    for (size_t i = 0; i < old->count; i++) {
        const struct pt_publisher *was = &old->pubs[i];
        if (!was->alerts || !was->has_key)
            continue;
        const struct pt_publisher *now = pt_registry_find_key(new, was->key);
        if (now == NULL || !now->alerts)
            lost++;
    }
    return lost;
}

int pt_auth_reload(struct pt_auth *a, size_t *alerts_lost, char *err,
                   size_t errlen)
{
    if (alerts_lost != NULL)
        *alerts_lost = 0;
    if (!a->curve)
        return 0;
    struct pt_registry *reg;
    int rc = pt_registry_load(a->registry_path, &reg, err, errlen);
    if (rc != 0)
        return rc;
    if (alerts_lost != NULL)
        *alerts_lost = count_alerts_lost(a->reg, reg);
    pt_registry_free(a->reg);
    a->reg = reg;
    pt_logf(a->log, PT_LOG_INFO,
            "publisher registry %s reloaded: %zu "
            "publishers",
            a->registry_path, reg->count);
    return 0;
}

const struct pt_publisher *pt_auth_sender(struct pt_auth *a, zmq_msg_t *msg,
                                          const char *domain, char *why,
                                          size_t whylen)
{
    if (!a->curve)
        return &a->everyone;
    const char *user = zmq_msg_gets(msg, "User-Id");
    const char *z85 = zmq_msg_gets(msg, PT_AUTH_KEY_PROPERTY);
    uint8_t key[PT_CURVE_KEY_BYTES];
    if (user == NULL || z85 == NULL ||
        strlen(z85) != POVTRACK_CLIENT_KEY_Z85 - 1 ||
        zmq_z85_decode(key, z85) == NULL) {
        /* Every CURVE connection passed the ZAP handler, which sets both:
         * this is not one of ours. */
        snprintf(why, whylen, "this connection carries no authenticated key");
        log_refusal(a, NULL, "%s request: no authenticated key", domain);
        return NULL;
    }
    const struct pt_publisher *p = pt_registry_find_key(a->reg, key);
    const char *lost;
    char no_right[64];
    if (p == NULL) {
        lost = "it is no longer in the publisher registry";
    } else if (strcmp(p->name, user) != 0) {
        /* The operator moved the key to another section: events must not
         * be stored under the name the connection was admitted as. */
        lost = "the publisher registry has it under another name now (a new "
               "connection is admitted as that)";
    } else {
        const char *right = missing_right(p, domain, strlen(domain));
        if (right == NULL)
            return p;
        snprintf(no_right, sizeof no_right, "it no longer has any right to %s",
                 right);
        lost = no_right;
    }
    snprintf(why, whylen,
             "the key this connection authenticated with (as \"%s\") has "
             "been revoked: %s",
             user, lost);
    log_refusal(a, key, "%s request from \"%s\": revoked: %s", domain, user,
                lost);
    return NULL;
}
