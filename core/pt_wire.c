#include "pt_wire.h"

#include <errno.h>
#include <string.h>

int pt_wire_recv(void *sock, struct pt_request *req, int flags)
{
    memset(req, 0, sizeof *req);
    zmq_msg_t parts[PT_ENVELOPE_MAX + 2];
    size_t n = 0;
    int more = 1, overflow = 0;
    while (more) {
        /* Frames past the array are read into a scratch message and
         * dropped: the request must be consumed whole either way. */
        zmq_msg_t scratch;
        int keep = n < sizeof parts / sizeof parts[0];
        zmq_msg_t *msg = keep ? &parts[n] : &scratch;
        zmq_msg_init(msg);
        if (zmq_msg_recv(msg, sock, n == 0 ? flags : 0) < 0) {
            int e = errno;
            zmq_msg_close(msg);
            for (size_t i = 0; i < n; i++)
                zmq_msg_close(&parts[i]);
            errno = e;
            return -1;
        }
        more = zmq_msg_more(msg);
        if (keep)
            n++;
        else {
            overflow = 1;
            zmq_msg_close(msg);
        }
    }
    /* The body starts after the first empty frame; without one, after the
     * identity. */
    size_t body = 1;
    for (size_t i = 1; i < n; i++)
        if (zmq_msg_size(&parts[i]) == 0) {
            body = i + 1;
            break;
        }
    if (overflow || body > PT_ENVELOPE_MAX || n < 2 || body >= n + 1) {
        for (size_t i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
        errno = EPROTO;
        return -1;
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
        for (size_t i = body + 1; i < n; i++)
            zmq_msg_close(&parts[i]);
        req->nbody = n - body;
    } else {
        req->nbody = 0; /* delimiter with nothing after it */
    }
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
            int e = errno;
            zmq_msg_close(&copy);
            errno = e;
            return -1;
        }
    }
    return zmq_send(sock, body, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
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
