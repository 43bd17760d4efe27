#include "pt_wire.h"

#include <errno.h>
#include <string.h>

#include <povtrack/errors.h>

int pt_wire_recv(void *sock, struct pt_request *req, int flags)
{
    memset(req, 0, sizeof *req);
    /* The envelope and the first body frame are kept; frames after that
     * are only counted, however many come, so that the request is consumed
     * whole and can still be answered ("exactly one frame after the
     * envelope, got 101"). */
    zmq_msg_t parts[PT_ENVELOPE_MAX + 1];
    size_t n = 0, kept = 0;
    size_t delim = 0; /* the first empty frame after the identity; 0: none */
    int more = 1;
    while (more) {
        zmq_msg_t scratch;
        int keep = kept < sizeof parts / sizeof parts[0];
        zmq_msg_t *msg = keep ? &parts[kept] : &scratch;
        zmq_msg_init(msg);
        if (zmq_msg_recv(msg, sock, n == 0 ? flags : 0) < 0) {
            int rc = povtrack_zmq_error(zmq_errno());
            zmq_msg_close(msg);
            for (size_t i = 0; i < kept; i++)
                zmq_msg_close(&parts[i]);
            return rc;
        }
        more = zmq_msg_more(msg);
        if (n > 0 && delim == 0 && zmq_msg_size(msg) == 0)
            delim = n;
        n++;
        if (keep)
            kept++;
        else
            zmq_msg_close(msg);
    }
    /* The body starts after the first empty frame; without one, after the
     * identity.  parts holds the body's first frame whenever the envelope
     * is within PT_ENVELOPE_MAX. */
    size_t body = delim > 0 ? delim + 1 : 1;
    if (body > PT_ENVELOPE_MAX || n < 2) {
        for (size_t i = 0; i < kept; i++)
            zmq_msg_close(&parts[i]);
        return POVTRACK_EPROTO;
    }
    /* zmq_msg_t must be moved with zmq_msg_move, never copied: a small
     * message keeps its bytes inside the struct. */
    for (size_t i = 0; i < body; i++) {
        zmq_msg_init(&req->env[i]);
        zmq_msg_move(&req->env[i], &parts[i]);
        zmq_msg_close(&parts[i]);
    }
    req->nenv = body;
    zmq_msg_init(&req->body);
    if (body < n) {
        zmq_msg_move(&req->body, &parts[body]);
        zmq_msg_close(&parts[body]);
        for (size_t i = body + 1; i < kept; i++)
            zmq_msg_close(&parts[i]);
    }
    req->nbody = n - body; /* 0: a delimiter with nothing after it */
    return 0;
}

int pt_wire_reply(void *sock, struct pt_request *req, const void *body,
                  size_t len)
{
    for (size_t i = 0; i < req->nenv; i++) {
        zmq_msg_t copy;
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, &req->env[i]);
        if (zmq_msg_send(&copy, sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            int rc = povtrack_zmq_error(zmq_errno());
            zmq_msg_close(&copy);
            return rc;
        }
    }
    return zmq_send(sock, body, len, ZMQ_DONTWAIT) < 0
               ? povtrack_zmq_error(zmq_errno())
               : 0;
}

void pt_wire_close(struct pt_request *req)
{
    for (size_t i = 0; i < req->nenv; i++)
        zmq_msg_close(&req->env[i]);
    zmq_msg_close(&req->body);
    memset(req, 0, sizeof *req);
}

void pt_wire_move(struct pt_request *dst, struct pt_request *req)
{
    for (size_t i = 0; i < req->nenv; i++) {
        zmq_msg_init(&dst->env[i]);
        zmq_msg_move(&dst->env[i], &req->env[i]);
        zmq_msg_close(&req->env[i]);
    }
    dst->nenv = req->nenv;
    dst->nbody = req->nbody;
    zmq_msg_init(&dst->body);
    zmq_msg_move(&dst->body, &req->body);
    req->nenv = 0; /* req->body is now an empty message, safe to close */
}
