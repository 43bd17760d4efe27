"""Wire protocol v1: the constants of include/povtrack/protocol.h.

The C header is the protocol's one definition; this module mirrors its
``POVTRACK_PROTO_*``, ``POVTRACK_KEY_*`` and ``POVTRACK_OP_*`` defines under
the same names without the prefix (``POVTRACK_PROTO_FRAME_MAX`` is
``FRAME_MAX``, ``POVTRACK_KEY_MIN_SEQ`` is ``KEY_MIN_SEQ``,
``POVTRACK_OP_PING`` is ``OP_PING``).  tests/test_offline.py parses the
header and fails when a value here differs from it or a define has no
mirror, so the two cannot drift apart.
"""

VERSION = 1

# ---- Endpoints and limits ------------------------------------------------

INGEST_DEFAULT = "tcp://127.0.0.1:7170"
QUERY_DEFAULT = "tcp://127.0.0.1:7171"
ALERTS_DEFAULT = "tcp://127.0.0.1:7172"

# What one ingest request may hold.  The daemon's [limits] frame_max and
# events_max may lower these, never raise them.
FRAME_MAX = 4 * 1024 * 1024  # bytes
EVENTS_MAX = 10000  # events

# Defaults of the daemon's other hostile-input limits.
STRING_MAX_DEFAULT = 4096
DEPTH_MAX = 8
CONTAINER_MAX_DEFAULT = 64

# Query requests: bytes of one, and the most records or alerts one "read"
# or "alerts" request may ask for.
REQUEST_MAX = 1 * 1024 * 1024
READ_LIMIT_MAX = 10000

# What a reader of the daemon accepts.
REPLY_MAX = 64 * 1024 * 1024  # bytes of a reply
ALERT_MAX = 1 * 1024 * 1024  # bytes of an alert
TOPIC_MAX = 256  # bytes of an alert topic, NUL included (C's count)
REPLY_DEPTH_MAX = 32

# An ack echoes an event's id of 1 to this many bytes.
ID_MAX = 128

# ---- Field names ---------------------------------------------------------

KEY_OP = "op"
KEY_OK = "ok"
KEY_ERROR = "error"
KEY_ID = "id"
KEY_INDEX = "index"
KEY_STATUS = "status"
KEY_SEQ = "seq"
KEY_PLUGIN = "plugin"
KEY_Q = "q"
KEY_MIN_SEQ = "min_seq"
KEY_RESULT = "result"
KEY_APPLIED_SEQ = "applied_seq"
KEY_RETRY_AFTER_MS = "retry_after_ms"

OP_PING = "ping"
OP_STATS = "stats"
OP_READ = "read"
OP_QUERY = "query"
OP_ALERTS = "alerts"
OP_UNITS = "units"
OP_RESUME = "resume"
OP_REBUILD = "rebuild"
OP_VALIDATE = "validate"
OP_AUDIT = "audit"

# ---- Acks (enum povtrack_ack_status, by the names on the wire) ----------

STATUS_OK = "ok"
STATUS_DUPLICATE = "duplicate"  # stored before: seq says where
STATUS_REJECTED = "rejected"  # not stored: error says why
STATUSES = (STATUS_OK, STATUS_DUPLICATE, STATUS_REJECTED)

# The topic of an alert on the alerts endpoint is this and the alert's code.
ALERT_TOPIC_PREFIX = "alert."
