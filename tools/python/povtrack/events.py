"""Events of catalogue v1 as Python values, and the times in them.

An event is a dict with the keys of README -> Wire protocol v1 -> Event
map (``v``, ``id``, ``type``, ``at``, ``unit``, ``household``, ``data``).
Times on the wire are integers, unix seconds UTC.  Wherever an event or a
query holds a time (``at``, ``data.effective``, ``data.due``, a query's
``from``/``to``, ...), the client also takes:

- an aware datetime: that instant;
- a naive datetime: a wall-clock time in Vietnam (UTC+7, which has no
  daylight saving time), as an agency's records usually are;
- a date: 00:00 of that day in Vietnam, as `povtrack import-csv` reads
  dates.

Fractions of a second are dropped (rounded down).
"""

import datetime
import math

from . import protocol

VIETNAM = datetime.timezone(datetime.timedelta(hours=7), "ICT")


def unix_seconds(t):
    """t (an int, a datetime or a date, as above) as unix seconds."""
    if isinstance(t, datetime.datetime):
        if t.tzinfo is None or t.utcoffset() is None:
            t = t.replace(tzinfo=VIETNAM)
        return math.floor(t.timestamp())
    if isinstance(t, datetime.date):
        midnight = datetime.datetime(t.year, t.month, t.day, tzinfo=VIETNAM)
        return math.floor(midnight.timestamp())
    if isinstance(t, int) and not isinstance(t, bool):
        return t
    raise TypeError(f"not a time: {t!r} (give unix seconds, a datetime or "
                    f"a date)")


def pack_default(obj):
    """msgpack's default= hook: times as unix seconds (anything else is
    refused, as msgpack refuses it)."""
    if isinstance(obj, datetime.date):
        return unix_seconds(obj)
    raise TypeError(f"cannot send a {type(obj).__name__}: {obj!r}")


def event(type, id, at, unit, data=None, household=None):
    """An event map of catalogue v1: ``event("donation.received",
    "mttq-593-2025-000017", datetime.date(2025, 10, 20), "593", {"amount":
    5000000, "donor": "...", ...})``.  It is checked by povtrackd, which
    names the field and the reason of any rejection."""
    e = {"v": protocol.VERSION, "id": id, "type": type, "at": at,
         "unit": unit}
    if household is not None:
        e["household"] = household
    e["data"] = {} if data is None else data
    return e
