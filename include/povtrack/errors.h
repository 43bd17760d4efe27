/*
 * povtrack/errors.h - the one error space of povtrack: every function of
 * the project that can fail returns 0 or one of these negative codes, and
 * so do the plugin host's functions (<povtrack/plugin.h>) and the client
 * library (<povtrack/client.h>).  One int carries them all without
 * ambiguity because each source has a range of its own (libuv's
 * UV_ERRNO_MAP and LMDB's reserved range are the models):
 *
 *   0                  POVTRACK_OK
 *   -1 .. -4095        an errno value, negated: POVTRACK_ENOSPC == -ENOSPC
 *   -30799 .. -30600   LMDB's own codes (MDB_KEYEXIST .. MDB_LAST_ERRCODE,
 *                      the range lmdb.h reserves), passed through as they
 *                      are: MDB_MAP_FULL, MDB_CORRUPTED ...
 *   -32999 .. -32000   povtrack's own codes, POVTRACK_ERROR_MAP below
 *
 * No code is positive.  povtrack_strerror() says what a code means and
 * povtrack_err_name() gives its name for logs; a caller that wants to say
 * more (which field, which file) keeps its own message beside the code.
 *
 * This header is installed and compiles on its own with the system
 * headers; libpovtrack-client holds its implementation.
 */
#ifndef POVTRACK_ERRORS_H
#define POVTRACK_ERRORS_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POVTRACK_OK 0

/* ---- The ranges ------------------------------------------------------ */

#define POVTRACK_ERRNO_MIN (-4095) /* -errno: POVTRACK_ERRNO_MIN .. -1 */
#define POVTRACK_LMDB_MIN (-30799) /* MDB_KEYEXIST */
#define POVTRACK_LMDB_MAX (-30600)
#define POVTRACK_OWN_MIN (-32999)
#define POVTRACK_OWN_MAX (-32000)

/* ---- errno values the project returns, negated ----------------------- */

#define POVTRACK_EINVAL (-EINVAL) /* a bad argument: a caller's mistake */
#define POVTRACK_EACCES (-EACCES) /* the sender may not do that */
#define POVTRACK_ENOMEM (-ENOMEM)
#define POVTRACK_EIO (-EIO)
#define POVTRACK_ENOSPC (-ENOSPC)
#define POVTRACK_EROFS (-EROFS) /* a write where only reads may be */
#define POVTRACK_ETIMEDOUT (-ETIMEDOUT)
#define POVTRACK_EINTR (-EINTR)
#define POVTRACK_EPROTO (-EPROTO)     /* a message breaks the protocol */
#define POVTRACK_EMSGSIZE (-EMSGSIZE) /* above the protocol's limits */
#define POVTRACK_ENOENT (-ENOENT)
#define POVTRACK_EEXIST (-EEXIST)
#define POVTRACK_EAGAIN (-EAGAIN)
#define POVTRACK_EBUSY (-EBUSY)
#define POVTRACK_ENAMETOOLONG (-ENAMETOOLONG)

/* ---- povtrack's own codes -------------------------------------------- */

/*
 * X(name, value, message) for each of povtrack's own codes.  Values are
 * only ever appended: they cross the plugin ABI and the client library.
 */
#define POVTRACK_ERROR_MAP(X)                                                  \
    /* The input (an event, a request, a row, a file's line) is not valid;     \
     * the caller's message names the field and the reason. */                 \
    X(EINVALID, -32000, "invalid input")                                       \
    /* No such unit, plugin, key, record. */                                   \
    X(ENOTFOUND, -32001, "not found")                                          \
    /* A unit that is defined, but not in force at the time asked. */          \
    X(ENOTINFORCE, -32002, "not in force at that time")                        \
    /* An iteration reached its end (the log's last record). */                \
    X(EEND, -32003, "end of the log")                                          \
    /* Not a povtrack log (or state), or a record that cannot be read. */      \
    X(EFORMAT, -32004, "not a povtrack log, or a corrupt record")              \
    /* A log file with no committed transaction: empty, or no valid LMDB       \
     * meta page. */                                                           \
    X(ENOCOMMIT, -32005, "the log file holds no committed transaction")        \
    /* Plugin ABI: no state, unit registry or alerts in this callback          \
     * (init). */                                                              \
    X(ENOSTATE, -32006, "no plugin state in this callback")                    \
    /* The daemon answered with an error (the client's message has it). */     \
    X(EREFUSED, -32007, "refused by povtrackd")                                \
    /* A ZeroMQ error that is not an errno value (those come negated). */      \
    X(EZMQ, -32008, "ZeroMQ error")                                            \
    /* A configuration error: the file, the section and the key are in the     \
     * message (a plugin host that finds one exits 78, EX_CONFIG). */          \
    X(ECONFIG, -32009, "configuration error")                                  \
    /* The source of a copy (a data directory to back up, a backup to          \
     * restore) cannot be opened or is not what it should be. */               \
    X(ESOURCE, -32010, "the source cannot be used")                            \
    /* A plugin failed: it cannot be loaded (no such .so, another ABI, a bad   \
     * descriptor or config map, init refused), or a callback of it returned   \
     * an error, whatever code it chose; the message names the plugin. */      \
    X(EPLUGIN, -32011, "a plugin failed")                                      \
    /* povtrackd's plugin host process did not stop cleanly (it exited         \
     * with an error, or was killed). */                                       \
    X(EHOST, -32012, "the plugin host process failed")                         \
    /* NATS or JetStream failed (the mirror): a connection, a request or a     \
     * publish; the message beside the code says which and why. */             \
    X(ENATS, -32013, "NATS/JetStream error")                                   \
    /* A replicated copy of the log (the mirror's JetStream stream) holds      \
     * another record than the log at some sequence, or more records. */       \
    X(EDIVERGED, -32014, "the replicated stream diverges from the log")

enum povtrack_error {
#define POVTRACK_ERROR_ENUM(name, value, message) POVTRACK_##name = (value),
    POVTRACK_ERROR_MAP(POVTRACK_ERROR_ENUM)
#undef POVTRACK_ERROR_ENUM
};

/* zmq_errno() in the error space: ZeroMQ's own codes (from ZMQ_HAUSNUMERO,
 * 156384712: ETERM, EFSM ...) are POVTRACK_EZMQ, the others are errno
 * values and come negated.  Inline, so that this header needs no zmq.h
 * (tools/client/client.c checks the number against it). */
#define POVTRACK_ZMQ_HAUSNUMERO 156384712
static inline int povtrack_zmq_error(int zmq_errno_value)
{
    return zmq_errno_value > 0 && zmq_errno_value < POVTRACK_ZMQ_HAUSNUMERO
               ? -zmq_errno_value
               : POVTRACK_EZMQ;
}

/* ---- Messages -------------------------------------------------------- */

/*
 * What rc means, e.g. "No space left on device" (-ENOSPC) or "not a
 * povtrack log, or a corrupt record" (POVTRACK_EFORMAT): "success" for 0,
 * "storage error (LMDB)" for LMDB's range (the library does not link LMDB;
 * storage's st_strerror gives LMDB's own message), "unknown error" for a
 * code in no range or not assigned.  Never NULL; thread-safe; the string is
 * static.
 */
const char *povtrack_strerror(int rc);

/* rc's name for logs: "POVTRACK_EFORMAT", "ENOSPC" ("ERRNO" where the C
 * library has no names), "OK", "LMDB" (any code of LMDB's range),
 * "UNKNOWN".  Never NULL; thread-safe; static. */
const char *povtrack_err_name(int rc);

/* ---- The ranges do not overlap ---------------------------------------- */

#ifndef __cplusplus
_Static_assert(POVTRACK_OWN_MAX < POVTRACK_LMDB_MIN &&
                   POVTRACK_LMDB_MAX < POVTRACK_ERRNO_MIN,
               "the ranges of povtrack's error space overlap");
#define POVTRACK_ERROR_IN_RANGE(name, value, message)                          \
    _Static_assert((value) >= POVTRACK_OWN_MIN && (value) <= POVTRACK_OWN_MAX, \
                   "POVTRACK_" #name " is outside povtrack's own range");
POVTRACK_ERROR_MAP(POVTRACK_ERROR_IN_RANGE)
#undef POVTRACK_ERROR_IN_RANGE
_Static_assert(-POVTRACK_EINVAL > 0 && POVTRACK_ENAMETOOLONG < 0 &&
                   POVTRACK_EINVAL >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_EACCES >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_ENOMEM >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_EIO >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_ENOSPC >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_EROFS >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_ETIMEDOUT >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_EINTR >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_EPROTO >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_EMSGSIZE >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_ENOENT >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_EEXIST >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_EAGAIN >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_EBUSY >= POVTRACK_ERRNO_MIN &&
                   POVTRACK_ENAMETOOLONG >= POVTRACK_ERRNO_MIN,
               "an errno value outside 1..4095");
#endif

#ifdef __cplusplus
}
#endif

#endif /* POVTRACK_ERRORS_H */
