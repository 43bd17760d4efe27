"""The exceptions of the povtrack client.

Every exception the client raises for povtrackd's sake is a PovtrackError:

    PovtrackError
     +-- Unreachable       no reply within the timeout, after every retry
     +-- Refused           povtrackd answered, and said no
     |    +-- KeyRefused       the CURVE handshake was refused
     |    +-- HostRestarting   no plugin host serves queries right now
     +-- Rejected          send(raise_on_reject=True): some events rejected
     +-- ProtocolError     a reply that breaks wire protocol v1
     +-- RequestTooLarge   a request above the protocol's limits (not sent)
     +-- KeyFileError      a key file that cannot be used

An exception raised by Client.send() after some requests of a split batch
were acknowledged carries what was acknowledged in ``result`` (a
SendResult; None when nothing was): those events are stored, and sending
all of them again is safe, since povtrackd answers ``duplicate`` for what
it has.
"""


class PovtrackError(Exception):
    """Base class of the client's exceptions."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message
        # Client.send(): the acks of the requests answered before this.
        self.result = None


class Unreachable(PovtrackError):
    """No reply from ``endpoint`` within ``timeout`` seconds, ``attempts``
    times (each on a fresh socket).  ZeroMQ shows a daemon that is down
    only as silence, so this is how unreachability shows."""

    def __init__(self, endpoint, timeout, attempts):
        ms = int(round(timeout * 1000))
        if attempts > 1:
            text = (f"cannot reach povtrackd at {endpoint}: timed out after "
                    f"{attempts} attempts of {ms} ms")
        else:
            text = (f"cannot reach povtrackd at {endpoint}: timed out after "
                    f"{ms} ms")
        super().__init__(text)
        self.endpoint = endpoint
        self.timeout = timeout
        self.attempts = attempts


class Refused(PovtrackError):
    """povtrackd answered ``endpoint`` with a refusal: a query reply with
    ``"ok": false`` (``error`` is the daemon's message, which names the
    field or right), or an ingest request refused as a whole."""

    def __init__(self, endpoint, error, message=None):
        super().__init__(message or f"povtrackd: {error}")
        self.endpoint = endpoint
        self.error = error


class KeyRefused(Refused):
    """povtrackd refused this client's CURVE key on ``endpoint``: the key
    is not in its publisher registry, or has no right on that endpoint
    (``status`` is the ZAP status code, e.g. 400).  ``status`` None: the
    handshake failed otherwise, most often a wrong server key."""

    def __init__(self, endpoint, status):
        if status is not None:
            text = (f"povtrackd at {endpoint} refused this client's key "
                    f"(status {status}): is its public key in the daemon's "
                    f"publisher registry, with the right to use this "
                    f"endpoint?")
        else:
            text = (f"CURVE handshake with {endpoint} failed: is server_key "
                    f"the daemon's public key, and does the daemon use "
                    f"CURVE?")
        super().__init__(endpoint, text, text)
        self.status = status


class HostRestarting(Refused):
    """The query endpoint is answered by povtrackd's stand-in: its plugin
    host is starting or restarting.  Ingest goes on meanwhile.  Ask again
    after ``retry_after`` seconds (``retry_after_ms``, as the daemon said)."""

    def __init__(self, endpoint, error, retry_after_ms):
        super().__init__(endpoint, error)
        self.retry_after_ms = retry_after_ms
        self.retry_after = retry_after_ms / 1000.0


class Rejected(PovtrackError):
    """Client.send(..., raise_on_reject=True) sent every event and some
    were rejected.  ``result`` is the whole SendResult (the other events
    are stored); ``rejected`` its rejected acks."""

    def __init__(self, result):
        first = result.rejected[0]
        name = f" ({first.id})" if first.id is not None else ""
        super().__init__(
            f"{len(result.rejected)} of {len(result.acks)} events rejected; "
            f"the first, event {first.index}{name}: {first.error}")
        self.result = result
        self.rejected = result.rejected


class ProtocolError(PovtrackError):
    """A reply from ``endpoint`` that breaks wire protocol v1."""

    def __init__(self, endpoint, what):
        super().__init__(f"reply from {endpoint}: {what}")
        self.endpoint = endpoint


class RequestTooLarge(PovtrackError, ValueError):
    """A request the protocol's limits do not allow; nothing was sent."""


class KeyFileError(PovtrackError, ValueError):
    """A CURVE key file (or key) that cannot be used; ``path`` names it."""

    def __init__(self, path, message):
        super().__init__(message)
        self.path = path
