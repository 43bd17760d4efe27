"""The client of wire protocol v1: publish events, query, follow alerts.

It does what the C client library does (include/povtrack/client.h), in
Python, on pyzmq and msgpack-python:

- Sockets are created on first use: a DEALER for ingest and one for
  queries, a SUB for each alert stream.
- Every wait is bounded by ``timeout`` (seconds, per attempt).  After a
  timeout the socket is closed and a fresh one sends the very same bytes
  again, up to ``retries`` times ("Lazy Pirate"), so that a late reply is
  never taken for the reply to another request.  That is safe: ingest
  deduplicates events by id (what was stored comes back ``duplicate``) and
  queries only read.  After the last attempt: Unreachable.
- With CURVE, a monitor on each socket sees the daemon refuse the key, so
  a refused client gets KeyRefused at once rather than a timeout.

A Client is for one thread at a time (ZeroMQ sockets are); open one per
thread.
"""

import collections
import itertools
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import msgpack
import zmq
from zmq.utils.monitor import parse_monitor_message

from . import keys, protocol
from .errors import (HostRestarting, KeyRefused, PovtrackError, ProtocolError,
                     Refused, Rejected, RequestTooLarge, Unreachable)
from .events import pack_default

TIMEOUT_DEFAULT = 5.0  # seconds per attempt, as the C client
RETRIES_DEFAULT = 2  # sends after the first
RETRIES_MAX = 100
# An alert stream lists the stored alerts again after this long without a
# publication: the alerts PUB drops alerts for a slow subscriber, and
# misses those published before a new subscription reaches it.
ALERT_RELIST = 1.0  # seconds

_INGEST, _QUERY, _ALERTS = "ingest", "query", "alerts"
_HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_AUTH
                     | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                     | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
# The header of a msgpack array of up to 65535 elements takes at most 3
# bytes; EVENTS_MAX is below that.
_ARRAY_HEADER_MAX = 3


@dataclass(frozen=True)
class Ack:
    """povtrackd's answer for one event.

    id: the event's id as povtrackd echoed it; None when it could not be
        echoed (missing, not a string, too long).
    status: "ok" (stored now), "duplicate" (stored before) or "rejected".
    seq: the event's sequence number in the log (ok, duplicate).
    error: why it was rejected, naming the field ("data.amount: must be a
        positive integer").
    index: the event's position in the events given to send(), from 0.
    """

    id: Optional[str]
    status: str
    seq: Optional[int]
    error: Optional[str]
    index: int

    @property
    def stored(self):
        """Is the event in the log (ok or duplicate)?"""
        return self.status != protocol.STATUS_REJECTED


@dataclass
class SendResult:
    """The acks of one send(), one per event, in the order given."""

    acks: list = field(default_factory=list)
    requests: int = 0  # ingest requests the events were split into

    def _with(self, status):
        return [a for a in self.acks if a.status == status]

    @property
    def ok(self):
        """The acks of events stored by this send()."""
        return self._with(protocol.STATUS_OK)

    @property
    def duplicates(self):
        """The acks of events stored before (a resend)."""
        return self._with(protocol.STATUS_DUPLICATE)

    @property
    def rejected(self):
        """The acks of events not stored, with the reason."""
        return self._with(protocol.STATUS_REJECTED)

    @property
    def last_seq(self):
        """The highest sequence of the stored events (None if none): give
        it as min_seq to read them back in a query."""
        return max((a.seq for a in self.acks if a.stored), default=None)


@dataclass(frozen=True)
class QueryResult:
    """A plugin's answer: result as the plugin gave it, and the sequence
    the plugin had applied when it answered."""

    result: Any
    applied_seq: int


@dataclass(frozen=True)
class Alert:
    """An alert raised by a plugin (README: Alerts).  data is the whole
    map as povtrackd sent it."""

    seq: int
    code: str
    severity: Optional[str]
    plugin: Optional[str]
    unit: Optional[str]
    household: Optional[str]
    message: Optional[str]
    at: Optional[int]
    data: dict = field(repr=False, compare=False)

    @property
    def topic(self):
        """Its topic on the alerts endpoint: "alert.<code>"."""
        return protocol.ALERT_TOPIC_PREFIX + self.code

    @property
    def resolved(self):
        """True when the record that raised it was voided or corrected
        since (README: Alerts); it is then kept, not deleted."""
        return self.resolved_seq is not None

    @property
    def resolved_seq(self):
        """The sequence of the void or correction that resolved it, or
        None."""
        v = self.data.get("resolved_seq")
        return v if _is_int(v) else None

    @property
    def resolved_by(self):
        """"record.voided" or "record.corrected", or None."""
        return self.data.get("resolved_by")

    @property
    def resolved_reason(self):
        """The reason the clerk gave for the void or correction, or
        None."""
        return self.data.get("resolved_reason")


def _array_header(count):
    """The msgpack header of an array of count elements."""
    if count <= 15:
        return bytes([0x90 | count])
    if count <= 0xFFFF:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def _batches(sizes, max_events, max_bytes):
    """(start, stop) of consecutive runs of sizes (bytes of each packed
    event) that fit one request: at most max_events events, and their
    bytes with the array header at most max_bytes."""
    start, used = 0, _ARRAY_HEADER_MAX
    for i, size in enumerate(sizes):
        if i > start and (i - start == max_events
                          or used + size > max_bytes):
            yield start, i
            start, used = i, _ARRAY_HEADER_MAX
        used += size
    if start < len(sizes):
        yield start, len(sizes)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def parse_acks(endpoint, reply, ids, base=0):
    """The acks of an ingest reply (decoded) to a request of len(ids)
    events, ids[i] the id sent for event i (None if it was no string),
    with index base + i.  Raises Refused when povtrackd refused the whole
    request, ProtocolError when the reply breaks the protocol."""
    if not isinstance(reply, list):
        raise ProtocolError(endpoint, "ingest reply is not an array of acks")
    acks = []
    for i, a in enumerate(reply):
        if not isinstance(a, dict):
            raise ProtocolError(endpoint, f"ack {i} is not a map")
        status, id_ = a.get(protocol.KEY_STATUS), a.get(protocol.KEY_ID)
        seq, error = a.get(protocol.KEY_SEQ), a.get(protocol.KEY_ERROR)
        if status not in protocol.STATUSES:
            raise ProtocolError(endpoint, f"ack {i}: unknown status "
                                f"{status!r}")
        if id_ is not None and not isinstance(id_, str):
            raise ProtocolError(endpoint, f"ack {i}: id is not a string")
        if status == protocol.STATUS_REJECTED:
            if not isinstance(error, str):
                raise ProtocolError(endpoint, f"ack {i}: rejected without "
                                    f"an error")
            seq = None
        elif not _is_int(seq) or seq < 1:
            raise ProtocolError(endpoint, f"ack {i}: accepted without a seq")
        else:
            error = None
        acks.append((a, Ack(id_, status, seq, error, base + i)))
    if (len(acks) == 1 and acks[0][1].id is None
            and protocol.KEY_INDEX not in acks[0][0]
            and acks[0][1].status == protocol.STATUS_REJECTED):
        # An event's own ack with a nil id carries its index; without one
        # it answers the whole request.
        raise Refused(endpoint, acks[0][1].error,
                      f"povtrackd refused the whole request: "
                      f"{acks[0][1].error}")
    if len(acks) != len(ids):
        raise ProtocolError(endpoint, f"{len(acks)} acks for {len(ids)} "
                            f"events")
    for i, (a, ack) in enumerate(acks):
        if ack.id is None:
            if a.get(protocol.KEY_INDEX) != i:
                raise ProtocolError(endpoint, f"ack {i} has a nil id and "
                                    f"index {a.get(protocol.KEY_INDEX)!r}")
        elif ack.id != ids[i]:
            raise ProtocolError(endpoint, f"ack {i} is for id {ack.id!r}, "
                                f"event {i} has id {ids[i]!r}")
    return [ack for _, ack in acks]


class _TimedOut(Exception):
    """One attempt got no reply in time (the socket is closed);
    handshake_failed: a CURVE handshake failed meanwhile."""

    def __init__(self, handshake_failed=False):
        super().__init__()
        self.handshake_failed = handshake_failed


class Client:
    """A connection to povtrackd's three endpoints.

    ingest, query, alerts: endpoints ("tcp://host:7170", "ipc:///path");
        None: $POVTRACK_INGEST, $POVTRACK_QUERY, $POVTRACK_ALERTS as the
        povtrack CLI reads them, else the protocol's defaults on 127.0.0.1.
    timeout: seconds each attempt waits for a reply; retries: how many
        times a request that timed out is sent again (0..100).
    server_key, key: CURVE.  server_key is the daemon's public key (Z85,
        or the path of its .pub); key the path of this client's .key file
        from `povtrack keygen` (or a keys.KeyPair).  Both or neither;
        neither given: $POVTRACK_SERVER_KEY and $POVTRACK_KEY, as the CLI.
    max_events, max_bytes: what one ingest request may hold; send()
        splits larger batches.  Default: the protocol's limits; give lower
        ones when the daemon's [limits] are lower.
    raise_on_reject: send()'s default (see send()).
    on_retry: called as on_retry(endpoint, attempt) when attempt (from 1)
        timed out, before the same request is sent again; for logging.
    """

    def __init__(self, ingest=None, query=None, alerts=None, *,
                 timeout=TIMEOUT_DEFAULT, retries=RETRIES_DEFAULT,
                 server_key=None, key=None,
                 max_events=protocol.EVENTS_MAX, max_bytes=protocol.FRAME_MAX,
                 raise_on_reject=False, on_retry=None):
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of "
                             f"seconds, got {timeout!r}")
        if not _is_int(retries) or not 0 <= retries <= RETRIES_MAX:
            raise ValueError(f"retries must be 0 to {RETRIES_MAX}, got "
                             f"{retries!r}")
        if not _is_int(max_events) or not (
                1 <= max_events <= protocol.EVENTS_MAX):
            raise ValueError(f"max_events must be 1 to "
                             f"{protocol.EVENTS_MAX}, got {max_events!r}")
        if not _is_int(max_bytes) or not (
                1024 <= max_bytes <= protocol.FRAME_MAX):
            raise ValueError(f"max_bytes must be 1024 to "
                             f"{protocol.FRAME_MAX}, got {max_bytes!r}")
        if server_key is None and key is None:
            server_key = os.environ.get("POVTRACK_SERVER_KEY") or None
            key = os.environ.get("POVTRACK_KEY") or None
            if (server_key is None) != (key is None):
                raise ValueError("CURVE needs both $POVTRACK_SERVER_KEY (the "
                                 "daemon's public key) and $POVTRACK_KEY "
                                 "(this client's .key file); only "
                                 + ("$POVTRACK_SERVER_KEY" if key is None
                                    else "$POVTRACK_KEY") + " is set")
        if (server_key is None) != (key is None):
            raise ValueError("CURVE needs both server_key (the daemon's "
                             "public key) and key (this client's .key file)")
        self._curve = None
        if server_key is not None:
            self._curve = (keys.server_key(server_key),
                           keys.client_keys(key))
        self.endpoints = {
            _INGEST: (ingest or os.environ.get("POVTRACK_INGEST")
                      or protocol.INGEST_DEFAULT),
            _QUERY: (query or os.environ.get("POVTRACK_QUERY")
                     or protocol.QUERY_DEFAULT),
            _ALERTS: (alerts or os.environ.get("POVTRACK_ALERTS")
                      or protocol.ALERTS_DEFAULT),
        }
        self.timeout = float(timeout)
        self.retries = retries
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.raise_on_reject = raise_on_reject
        self.on_retry = on_retry
        self._ctx = zmq.Context()
        self._socks = {}  # _INGEST/_QUERY -> (socket, monitor or None)
        self._streams = set()
        self._monitors = itertools.count()

    # ---- lifetime --------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close every socket without lingering (a request nobody answered
        is dropped) and the ZeroMQ context.  Safe to call twice."""
        for stream in list(self._streams):
            stream.close()
        for which in list(self._socks):
            self._close(which)
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    # ---- sockets ---------------------------------------------------------

    def _socket(self, kind, endpoint, maxmsg):
        """A socket of kind connected to endpoint, and the monitor that
        reports a failed CURVE handshake (None without CURVE)."""
        if self._ctx is None:
            raise PovtrackError("the client is closed")
        s = self._ctx.socket(kind)
        mon = None
        try:
            # Linger 0: a request nobody answered must not hold close().
            # MAXMSGSIZE: a peer that is not povtrackd cannot make us
            # buffer without bound (the connection is dropped instead).
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.MAXMSGSIZE, maxmsg)
            if kind != zmq.SUB:
                s.setsockopt(zmq.SNDTIMEO, math.ceil(self.timeout * 1000))
            if self._curve is not None:
                server, pair = self._curve
                s.curve_serverkey = server.encode("ascii")
                s.curve_publickey = pair.public.encode("ascii")
                s.curve_secretkey = pair.secret.encode("ascii")
                addr = (f"inproc://povtrack-monitor-{id(self):x}-"
                        f"{next(self._monitors)}")
                s.monitor(addr, _HANDSHAKE_FAILED)
                mon = self._ctx.socket(zmq.PAIR)
                mon.setsockopt(zmq.LINGER, 0)
                mon.connect(addr)
            s.connect(endpoint)
        except zmq.ZMQError as e:
            _close_pair(s, mon)
            raise PovtrackError(f"cannot connect to {endpoint}: {e}") from None
        return s, mon

    def _open(self, which):
        if which not in self._socks:
            self._socks[which] = self._socket(
                zmq.DEALER, self.endpoints[which], protocol.REPLY_MAX)
        return self._socks[which]

    def _close(self, which):
        pair = self._socks.pop(which, None)
        if pair is not None:
            _close_pair(*pair)

    def _attempt(self, which, payload, what):
        """One round trip on a DEALER: [empty, payload] out, [empty,
        reply] in.  Any failure after the send closes the socket, so that
        whatever the daemon sends later for this request dies with it."""
        endpoint = self.endpoints[which]
        s, mon = self._open(which)
        try:
            s.send_multipart([b"", payload])
        except zmq.Again:
            self._close(which)
            raise _TimedOut() from None
        poller = zmq.Poller()
        poller.register(s, zmq.POLLIN)
        if mon is not None:
            poller.register(mon, zmq.POLLIN)
        deadline = time.monotonic() + self.timeout
        handshake_failed = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready = dict(poller.poll(math.ceil(left * 1000)))
            if mon is not None and mon in ready:
                status = _handshake_status(mon)
                if status is not None and status > 1:
                    self._close(which)
                    raise KeyRefused(endpoint, status)
                handshake_failed = handshake_failed or status == 1
            if s in ready:
                frames = s.recv_multipart(zmq.NOBLOCK)
                if len(frames) != 2 or frames[0] != b"":
                    self._close(which)
                    raise ProtocolError(endpoint, f"{what}: expected an "
                                        f"empty delimiter and one payload "
                                        f"frame")
                return _decode(endpoint, frames[1], what)
        self._close(which)
        raise _TimedOut(handshake_failed)

    def _roundtrip(self, which, payload, what):
        """Lazy Pirate: after a timeout the socket is closed (a late reply
        dies with it), so the very same bytes go again on a fresh one."""
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(which, payload, what)
            except _TimedOut as e:
                handshake_failed = e.handshake_failed
                if attempt < attempts and self.on_retry is not None:
                    self.on_retry(self.endpoints[which], attempt)
        # Silence with failed CURVE handshakes all along the last attempt
        # (not a refused key: that is known at once) is most often a wrong
        # server key.
        if handshake_failed:
            raise KeyRefused(self.endpoints[which], None)
        raise Unreachable(self.endpoints[which], self.timeout, attempts)

    # ---- ingest ----------------------------------------------------------

    def send(self, events, *, raise_on_reject=None):
        """Publish events (an iterable of event maps, see events.event())
        and return a SendResult with one Ack per event, in order.

        Events are split into requests of at most max_events events and
        max_bytes bytes, sent one after the other; each request is
        acknowledged once its events are on disk.  Every event is packed
        before anything is sent: one that cannot be (a value msgpack does
        not know, or one event larger than a request may be) raises
        TypeError or RequestTooLarge and nothing is sent.

        Sending the same events again is always safe: what is stored
        comes back "duplicate" with its sequence.  So after Unreachable
        (or any error), send them all again later; the exception's
        ``result`` holds the acks of the requests answered before it.

        Rejected events are in the result's ``rejected``; with
        raise_on_reject (default: the client's), Rejected is raised
        instead, once every request has been sent.
        """
        if isinstance(events, dict):
            raise TypeError("send() takes a list of events; for one event "
                            "send([event])")
        packed, ids = [], []
        for i, ev in enumerate(events):
            try:
                packed.append(msgpack.packb(ev, default=pack_default))
            except (TypeError, ValueError, OverflowError) as e:
                raise TypeError(f"event {i}: cannot be sent: {e}") from None
            ids.append(ev.get(protocol.KEY_ID)
                       if isinstance(ev, dict) else None)
            if len(packed[-1]) + _ARRAY_HEADER_MAX > self.max_bytes:
                raise RequestTooLarge(
                    f"event {i} ({ids[-1]!r}) takes {len(packed[-1])} bytes: "
                    f"a request may hold {self.max_bytes}; nothing sent")
        result = SendResult()
        endpoint = self.endpoints[_INGEST]
        for start, stop in _batches([len(p) for p in packed],
                                    self.max_events, self.max_bytes):
            frame = _array_header(stop - start) + b"".join(packed[start:stop])
            try:
                reply = self._roundtrip(_INGEST, frame, "ingest reply")
                acks = parse_acks(endpoint, reply, ids[start:stop], start)
            except PovtrackError as e:
                e.result = result if result.acks else None
                raise
            result.acks.extend(acks)
            result.requests += 1
        if raise_on_reject is None:
            raise_on_reject = self.raise_on_reject
        if raise_on_reject and result.rejected:
            raise Rejected(result)
        return result

    # ---- queries ---------------------------------------------------------

    def request(self, op, **fields):
        """Send {"op": op, **fields} to the query endpoint and return the
        reply (a dict with "ok": True).  A refusal raises Refused with the
        daemon's error (HostRestarting while no plugin host serves).
        Times in fields may be datetimes (see events)."""
        endpoint = self.endpoints[_QUERY]
        req = {protocol.KEY_OP: op}
        req.update(fields)
        payload = msgpack.packb(req, default=pack_default)
        if len(payload) > protocol.REQUEST_MAX:
            raise RequestTooLarge(f"query request of {len(payload)} bytes: "
                                  f"the limit is {protocol.REQUEST_MAX}")
        reply = self._roundtrip(_QUERY, payload, "query reply")
        ok = reply.get(protocol.KEY_OK) if isinstance(reply, dict) else None
        if not isinstance(ok, bool):
            raise ProtocolError(endpoint, 'query reply has no "ok"')
        if ok:
            return reply
        error = reply.get(protocol.KEY_ERROR)
        if not isinstance(error, str):
            error = "request failed (no message)"
        retry = reply.get(protocol.KEY_RETRY_AFTER_MS)
        if _is_int(retry) and retry >= 0:
            raise HostRestarting(endpoint, error, retry)
        raise Refused(endpoint, error)

    def ping(self):
        """{"ok": True, "version": ...} once the plugin host answers."""
        return self.request(protocol.OP_PING)

    def stats(self):
        """The daemon's counters: events, last_seq, plugins."""
        return self.request(protocol.OP_STATS)

    def query(self, plugin, q=None, *, min_seq=None, **params):
        """Ask plugin: q (a dict) and params are its query's keys, e.g.
        ``query("fund", unit="593", year=2025)``.  With min_seq, povtrackd
        answers once the plugin has applied that sequence, so a publisher
        reads its own writes: ``query("fund", unit="593",
        min_seq=result.last_seq)``; it refuses after waiting 5 s (a
        timeout above 5 s gets that refusal rather than a resend)."""
        body = dict(q or {})
        body.update(params)
        fields = {protocol.KEY_PLUGIN: plugin, protocol.KEY_Q: body}
        if min_seq is not None:
            fields[protocol.KEY_MIN_SEQ] = min_seq
        reply = self.request(protocol.OP_QUERY, **fields)
        applied = reply.get(protocol.KEY_APPLIED_SEQ)
        if not _is_int(applied):
            raise ProtocolError(self.endpoints[_QUERY],
                                'query reply has no "applied_seq"')
        return QueryResult(reply.get(protocol.KEY_RESULT), applied)

    # ---- alerts ----------------------------------------------------------

    def list_alerts(self, since=0, *, limit=protocol.READ_LIMIT_MAX,
                    resolved=False):
        """The stored alerts raised by events after sequence since, at
        most limit of them, in sequence order, as a list of Alert.  The
        active ones only, unless resolved is true: then also those whose
        record was voided or corrected since (Alert.resolved)."""
        endpoint = self.endpoints[_QUERY]
        fields = {"since": since, "limit": limit}
        if resolved:
            fields["resolved"] = True
        reply = self.request(protocol.OP_ALERTS, **fields)
        page = reply.get("alerts")
        if not isinstance(page, list):
            raise ProtocolError(endpoint, "the alerts reply has no alerts")
        return [_alert(endpoint, a) for a in page]

    def alerts(self, since=None, *, prefix=protocol.ALERT_TOPIC_PREFIX,
               timeout=None):
        """An AlertStream: every alert raised by an event after sequence
        since (None: after the log's end now), in sequence order, each
        once, the stored ones first and then each new one as povtrackd
        raises it.  prefix selects by topic ("alert.fund." for one
        plugin).  Iterating ends after timeout seconds without a new
        alert (None: never).  Use it in a with block, or close() it."""
        return AlertStream(self, since, prefix, timeout)


def _close_pair(s, mon):
    if mon is not None:
        try:
            s.disable_monitor()
        except zmq.ZMQError:
            pass
        mon.close()
    s.close()


def _handshake_status(mon):
    """Read what the monitor reported: the ZAP status of a refused
    handshake (e.g. 400), 1 for another handshake failure, None for
    nothing."""
    status = None
    while True:
        try:
            event = parse_monitor_message(mon.recv_multipart(zmq.NOBLOCK))
        except zmq.Again:
            return status
        if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            status = event["value"]
        elif status is None:
            status = 1


def _decode(endpoint, data, what):
    """Exactly one msgpack object from data, strings as str: every string
    povtrackd sends is valid UTF-8."""
    try:
        return msgpack.unpackb(data, strict_map_key=False)
    except (ValueError, TypeError) as e:
        raise ProtocolError(endpoint, f"{what}: not one well-formed msgpack "
                            f"object ({len(data)} bytes: {e})") from None


def _alert(endpoint, a):
    if not isinstance(a, dict):
        raise ProtocolError(endpoint, "an alert is not a map")
    seq, code = a.get("seq"), a.get("code")
    if not _is_int(seq) or not isinstance(code, str):
        raise ProtocolError(endpoint, "an alert without seq or code")
    return Alert(seq, code, a.get("severity"), a.get("plugin"),
                 a.get("unit"), a.get("household"), a.get("message"),
                 a.get("at"), a)


class AlertStream:
    """Alerts as Client.alerts() describes them.

    The stored alerts are the truth: the stream lists them with the
    "alerts" op (which needs the alerts right), and listens on the alerts
    endpoint (subscribed before the first listing) to know when to list
    again.  Because the PUB drops alerts for a slow subscriber, and a new
    subscription misses what was published before it took effect, the
    stream also lists again after ALERT_RELIST seconds without a
    publication; so no alert is lost and none comes twice.  While the
    plugin host restarts, it waits as long as the daemon says.  The
    alerts op lists at most 10,000 alerts of one event: an event that
    raised more is followed that far.
    """

    def __init__(self, client, since, prefix, timeout):
        self._client = client
        self._prefix = prefix
        self._timeout = timeout
        endpoint = client.endpoints[_ALERTS]
        self._sub, self._mon = client._socket(zmq.SUB, endpoint,
                                              protocol.ALERT_MAX)
        client._streams.add(self)
        try:
            self._sub.setsockopt(zmq.SUBSCRIBE, prefix.encode("utf-8"))
            if since is None:
                since = client.stats().get("last_seq")
                if not _is_int(since):
                    raise ProtocolError(client.endpoints[_QUERY],
                                        'stats reply has no "last_seq"')
        except BaseException:
            self.close()
            raise
        self._after = since  # list alerts of sequences above this
        self._boundary = None  # the highest sequence listed
        self._seen = collections.Counter()  # contents listed at _boundary
        self._queue = collections.deque()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        return self

    def __next__(self):
        alert = self.receive(self._timeout)
        if alert is None:
            raise StopIteration
        return alert

    def close(self):
        if self._sub is not None:
            _close_pair(self._sub, self._mon)
            self._sub = self._mon = None
            self._client._streams.discard(self)

    def receive(self, timeout=None):
        """The next alert, or None when none came within timeout seconds
        (None: wait as long as it takes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._queue:
            if self._sub is None:
                raise PovtrackError("the alert stream is closed")
            try:
                more = self._list()
            except HostRestarting as e:
                self._wait(e.retry_after, deadline)
                more = False
            if self._queue or more:
                continue
            if not self._wait(ALERT_RELIST, deadline):
                return None
        return self._queue.popleft()

    def _wait(self, seconds, deadline):
        """Wait up to seconds (not past deadline) for a publication, and
        read every one there is.  False when the deadline has passed."""
        if deadline is not None:
            seconds = min(seconds, deadline - time.monotonic())
            if seconds <= 0:
                return False
        poller = zmq.Poller()
        poller.register(self._sub, zmq.POLLIN)
        if self._mon is not None:
            poller.register(self._mon, zmq.POLLIN)
        ready = dict(poller.poll(math.ceil(seconds * 1000)))
        if self._mon is not None and self._mon in ready:
            status = _handshake_status(self._mon)
            if status is not None and status > 1:
                raise KeyRefused(self._client.endpoints[_ALERTS], status)
        # A publication is a cue to list (its content comes from the
        # listing, which has every alert once).
        while self._sub in ready:
            try:
                self._sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
        return True

    def _list(self):
        """List the stored alerts from _boundary on into the queue, those
        not listed before.  Alerts are told apart by their whole content,
        as `povtrack alerts` does: those of one event can differ only in
        the household, and the host's own alert can share the sequence of
        the next event.  True when the page was full (more to list)."""
        endpoint = self._client.endpoints[_QUERY]
        reply = self._client.request(protocol.OP_ALERTS, since=self._after,
                                     limit=protocol.READ_LIMIT_MAX)
        page = reply.get("alerts")
        if not isinstance(page, list):
            raise ProtocolError(endpoint, "the alerts reply has no alerts")
        listed = collections.Counter()
        fresh = 0
        for raw in page:
            alert = _alert(endpoint, raw)
            if alert.seq <= self._after:
                continue
            if self._boundary is None or alert.seq > self._boundary:
                self._boundary = alert.seq
                self._seen.clear()
                listed.clear()
            elif alert.seq < self._boundary:
                continue
            content = msgpack.packb(raw)
            listed[content] += 1
            if listed[content] <= self._seen[content]:
                continue  # listed before
            self._seen[content] += 1
            fresh += 1
            if alert.topic.startswith(self._prefix):
                self._queue.append(alert)
        full = len(page) >= protocol.READ_LIMIT_MAX
        if self._boundary is not None:
            self._after = self._boundary - 1
            if full and fresh == 0:
                # A whole page of one event, all listed: the rest of its
                # alerts are out of the alerts op's reach.
                self._after = self._boundary
                self._boundary = None
                self._seen.clear()
        return full
