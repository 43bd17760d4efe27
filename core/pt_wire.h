/*
 * pt_wire.h - requests and replies on a ZeroMQ ROUTER socket.
 *
 * A request arrives as [identity][...envelope...][empty delimiter][body] from
 * REQ and DEALER clients that follow the REQ convention, or as
 * [identity][body] from DEALER clients that send bare frames.  The reply
 * echoes the envelope and carries one body frame.  A request with more than
 * one body frame is answered with an error rather than guessed at, however
 * many frames it has: only the first body frame is kept, the others are
 * counted (nbody).
 */
#ifndef POVTRACK_PT_WIRE_H
#define POVTRACK_PT_WIRE_H

#include <stddef.h>

#include <zmq.h>

#define PT_ENVELOPE_MAX 8

struct pt_request {
    zmq_msg_t env[PT_ENVELOPE_MAX]; /* identity, hops, delimiter */
    size_t nenv;
    zmq_msg_t body;
    size_t nbody; /* body frames seen; only the first is kept */
};

/* Receive one whole request (flags: 0 or ZMQ_DONTWAIT).  Returns 0, or
 * ZeroMQ's error in the error space (POVTRACK_EAGAIN: nothing waiting).  A
 * request whose envelope is deeper than PT_ENVELOPE_MAX is read and
 * dropped: POVTRACK_EPROTO. */
int pt_wire_recv(void *sock, struct pt_request *req, int flags);

/* Send body as the reply to req.  The request stays valid.  Returns 0 or
 * ZeroMQ's error (-EHOSTUNREACH and POVTRACK_EAGAIN mean the client is
 * gone or slow: the reply is dropped, which the client sees as a
 * timeout). */
int pt_wire_reply(void *sock, struct pt_request *req, const void *body,
                  size_t len);

void pt_wire_close(struct pt_request *req);

/* Move req into *dst (for parking a request); req is left empty. */
void pt_wire_move(struct pt_request *dst, struct pt_request *req);

#endif /* POVTRACK_PT_WIRE_H */
