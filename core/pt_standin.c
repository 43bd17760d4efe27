/*
 * pt_standin.c - the query endpoint's answer while no plugin host serves it.
 */
#include "pt_standin.h"

#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

#include <povtrack/protocol.h>

#include "pt_auth.h"
#include "pt_wire.h"

#define STANDIN_BATCH 256 /* requests answered per call, so ingest goes on */

struct pt_standin {
    const struct pt_log *log;
    void *zctx;
    struct pt_auth *auth;
    void *router;
};

int pt_standin_open(const struct pt_config *cfg, const struct pt_log *log,
                    struct pt_standin **out, char *err, size_t errlen)
{
    struct pt_standin *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return POVTRACK_ENOMEM;
    }
    s->log = log;
    s->zctx = zmq_ctx_new();
    if (s->zctx == NULL) {
        int rc = povtrack_zmq_error(zmq_errno());
        snprintf(err, errlen, "zmq_ctx_new: %s", povtrack_strerror(rc));
        free(s);
        return rc;
    }
    /* The ZAP handler first: it must be bound before the socket's first
     * handshake (pt_auth.h). */
    int rc = pt_auth_open(cfg, log, s->zctx, &s->auth, err, errlen);
    if (rc != 0) {
        pt_standin_close(s);
        return rc;
    }
    s->router = zmq_socket(s->zctx, ZMQ_ROUTER);
    int zero = 0;
    /* Any request the host would take is read whole and answered; the
     * limit only keeps a hostile frame from being buffered. */
    int64_t maxmsg = PT_LIMIT_FRAME_MAX;
    if (s->router == NULL ||
        zmq_setsockopt(s->router, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) !=
            0 ||
        pt_auth_server_socket(s->auth, s->router, "query") != 0 ||
        zmq_bind(s->router, cfg->query) != 0) {
        rc = povtrack_zmq_error(zmq_errno());
        snprintf(err, errlen, "cannot bind %s: %s", cfg->query,
                 povtrack_strerror(rc));
        pt_standin_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void pt_standin_serve(struct pt_standin *s, const char *error,
                      int64_t retry_after_ms)
{
    pt_auth_zap_handle(s->auth);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    povtrack_proto_pack_error(&pk, error, 1);
    povtrack_proto_pack_cstr(&pk, POVTRACK_KEY_RETRY_AFTER_MS);
    msgpack_pack_int64(&pk, retry_after_ms);
    for (int i = 0; i < STANDIN_BATCH; i++) {
        struct pt_request req;
        if (pt_wire_recv(s->router, &req, ZMQ_DONTWAIT) != 0)
            break;
        /* A reply that cannot go out (client gone or slow) is dropped, as
         * the host drops it: the client resends. */
        pt_wire_reply(s->router, &req, sb.data, sb.size);
        pt_wire_close(&req);
    }
    msgpack_sbuffer_destroy(&sb);
}

void pt_standin_reload(struct pt_standin *s)
{
    /* The same file as ingest's own registry, read just before: ingest
     * has already reported an error in it, and the old one stays here too
     * (pt_auth_reload changes nothing then). */
    char err[512];
    if (s != NULL)
        (void)pt_auth_reload(s->auth, NULL, err, sizeof err);
}

void pt_standin_close(struct pt_standin *s)
{
    if (s == NULL)
        return;
    if (s->router != NULL)
        zmq_close(s->router);
    pt_auth_close(s->auth);
    /* Returns once every socket of the context is closed: the listener,
     * and with it an ipc:// socket file, is gone. */
    zmq_ctx_term(s->zctx);
    free(s);
}
