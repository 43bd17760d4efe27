"""povtrack: publish events to povtrackd, query its plugins, follow alerts.

    import datetime
    import povtrack

    with povtrack.Client("tcp://povtrack.example:7170",
                         "tcp://povtrack.example:7171",
                         "tcp://povtrack.example:7172",
                         server_key="/etc/povtrack/server.pub",
                         key="mttq-593.key") as client:
        result = client.send([povtrack.event(
            "donation.received", "mttq-593-2025-000017",
            datetime.date(2025, 10, 20), "593",
            {"amount": 5000000, "donor": "Công ty A",
             "donor_kind": "business", "level": "district"})])
        for ack in result.rejected:
            print(ack.index, ack.error)
        fund = client.query("fund", unit="593", min_seq=result.last_seq)

Needs Debian's python3-zmq and python3-msgpack (apt-get install
python3-zmq python3-msgpack) and nothing else.  See the README's
"Python" section.
"""

from . import protocol
from .client import (Ack, Alert, AlertStream, Client, QueryResult,
                     SendResult)
from .errors import (HostRestarting, KeyFileError, KeyRefused, PovtrackError,
                     ProtocolError, Refused, Rejected, RequestTooLarge,
                     Unreachable)
from .events import VIETNAM, event, unix_seconds
from .keys import KeyPair, read_keyfile

__version__ = "0.1.0"

__all__ = [
    "Ack", "Alert", "AlertStream", "Client", "HostRestarting",
    "KeyFileError", "KeyPair", "KeyRefused", "PovtrackError",
    "ProtocolError", "QueryResult", "Refused", "Rejected",
    "RequestTooLarge", "SendResult", "Unreachable", "VIETNAM", "event",
    "protocol", "read_keyfile", "unix_seconds",
]
