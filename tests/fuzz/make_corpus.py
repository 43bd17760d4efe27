#!/usr/bin/env python3
"""Write the seed corpus of the fuzz targets: tests/fuzz/corpus/<target>/.

Seeds are small and meaningful: valid requests and files as the README
describes them, and a few edge cases for each parser.  Run it again after
changing it; it overwrites its own seeds and leaves other files (the
regress-* inputs that reproduce fixed bugs) alone.  Needs nothing beyond
the Python standard library: msgpack and Z85 are encoded here.
"""
import os
import struct
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
SAMPLE_CSV = os.path.join(HERE, "..", "tools", "donations-sample.csv")


class Raw:
    """Bytes put into a msgpack frame as they are (a hand-made encoding)."""

    def __init__(self, data):
        self.data = data


def pack(v):
    """msgpack in its shortest form; dict order is kept as given."""
    if isinstance(v, Raw):
        return v.data
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v <= 0x7F:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack(">b", v)
        if v >= 0:
            for code, fmt, top in ((0xCC, ">B", 0xFF), (0xCD, ">H", 0xFFFF),
                                   (0xCE, ">I", 0xFFFFFFFF),
                                   (0xCF, ">Q", 0xFFFFFFFFFFFFFFFF)):
                if v <= top:
                    return bytes([code]) + struct.pack(fmt, v)
        for code, fmt, lo in ((0xD0, ">b", -0x80), (0xD1, ">h", -0x8000),
                              (0xD2, ">i", -0x80000000),
                              (0xD3, ">q", -0x8000000000000000)):
            if v >= lo:
                return bytes([code]) + struct.pack(fmt, v)
        raise ValueError(v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        n = len(v)
        if n < 32:
            return bytes([0xA0 | n]) + v
        if n < 0x100:
            return b"\xd9" + bytes([n]) + v
        if n < 0x10000:
            return b"\xda" + struct.pack(">H", n) + v
        return b"\xdb" + struct.pack(">I", n) + v
    if isinstance(v, (list, tuple)):
        n = len(v)
        head = (bytes([0x90 | n]) if n < 16 else
                b"\xdc" + struct.pack(">H", n))
        return head + b"".join(pack(e) for e in v)
    if isinstance(v, dict):
        n = len(v)
        head = (bytes([0x80 | n]) if n < 16 else
                b"\xde" + struct.pack(">H", n))
        return head + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(type(v))


Z85_CHARS = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
             ".-:+=^!/*?&<>()[]{}@%$#")


def z85(data):
    out = []
    for i in range(0, len(data), 4):
        v = int.from_bytes(data[i:i + 4], "big")
        chunk = []
        for _ in range(5):
            chunk.append(Z85_CHARS[v % 85])
            v //= 85
        out.extend(reversed(chunk))
    return "".join(out)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_event: one ingest request frame ----------------------------------

AT = 1704042000  # 2024-01-01 00:00 UTC+7; the target's "now" is 2026-01-01
JUL_2025 = 1751302800  # 2025-07-01 00:00 UTC+7: the reorganisation


def ev(id_, type_, unit, data, household=None, at=AT):
    e = {"v": 1, "id": id_, "type": type_, "at": at, "unit": unit}
    if household is not None:
        e["household"] = household
    e["data"] = data
    return e


CATALOGUE = [
    ev("u-22871", "unit.defined", "22871",
       {"name": "Hàm Tiến", "parent": "593", "level": "commune"}),
    ev("hh-593-2024", "unit.households", "593",
       {"year": 2024, "households": 1000}),
    ev("as-1", "household.assessed", "22870",
       {"year": 2024, "area": "rural", "members": 4, "income": 1200000,
        "deprived": ["employment", "water", "latrine", "information_access"]},
       household="hh-1"),
    ev("st-1", "household.status", "22870",
       {"year": 2024, "status": "poor", "decision": "QĐ-12/2024"},
       household="hh-1"),
    ev("rc-593", "review.closed", "593", {"year": 2024}),
    ev("pl-1", "donation.pledged", "593",
       {"pledge": "P-1", "amount": 200000000, "donor": "Công ty A",
        "due": AT + 150 * 86400}),
    ev("dr-1", "donation.received", "593",
       {"amount": 1500000, "donor": "Nguyễn Văn An", "donor_kind": "person",
        "level": "district", "pledge": "P-1", "in_kind": False}),
    ev("fd-1", "fund.disbursed", "22870",
       {"amount": 5000000, "purpose": "housing", "level": "commune"},
       household="hh-1"),
    ev("rl-4", "relocation.completed", "22870",
       {"from": "594", "reason": "landslide"}, household="hh-4"),
    ev("rs-4", "relocation.support", "22870",
       {"item": "land", "amount": 10000000}, household="hh-4"),
    ev("cd-1", "credit.disbursed", "22870",
       {"loan": "L-1", "program": "hộ nghèo", "amount": 50000000},
       household="hh-1"),
    ev("cr-1", "credit.repaid", "22870",
       {"loan": "L-1", "amount": 10000000}, household="hh-1"),
    ev("rd-1", "report.due", "60",
       {"org": "UBND-60", "report": "bc-2024", "due": AT + 340 * 86400}),
    ev("rs-1", "report.submitted", "60",
       {"org": "UBND-60", "report": "bc-2024"}),
    ev("ex-1", "household.exited", "22870",
       {"reason": "moved_out", "year": 2024}, household="hh-1"),
    ev("mv-1", "household.moved", "22870",
       {"from": "22871"}, household="hh-2"),
    ev("uc-1", "unit.changed", "594",
       {"kind": "rename", "effective": JUL_2025, "predecessors": ["594"],
        "name": "Thị xã La Gi mới"}),
    ev("pl-l1", "production.linked", "22870",
       {"link": "LK-1", "partner": "HTX Thanh Long", "partner_kind":
        "cooperative", "product": "Thanh long", "year": 2024},
       household="hh-1"),
    ev("oc-1", "ocop.certified", "22870",
       {"product": "Thanh long", "stars": 4, "partner": "HTX Thanh Long"}),
    ev("ap-1", "assistance.paid", "22870",
       {"kind": "regular", "amount": 500000}, household="hh-1"),
    ev("ba-1", "budget.allocated", "593",
       {"program": "poverty_reduction", "component": "Dự án 2",
        "year": 2024, "amount": 1500000000}),
    ev("bs-1", "budget.spent", "593",
       {"program": "ethnic_minority", "component": "Dự án 1",
        "year": 2024, "amount": 250000000}),
    ev("cm-1", "commendation.awarded", "60",
       {"recipient": "Hội Nông dân xã Hàm Chính", "recipient_kind":
        "collective", "awarded_by": "UBND tỉnh", "level": "province",
        "decision": "QĐ 45"}),
    # Corrections kept in the log: after their targets.
    ev("fix-1", "record.corrected", "593",
       {"target": "dr-1", "type": "donation.received",
        "reason": "sai số tiền",
        "record": {"amount": 2500000, "donor": "Nguyễn Văn An",
                   "donor_kind": "person", "level": "district"}}),
    ev("void-1", "record.voided", "22870",
       {"target": "fd-1", "type": "fund.disbursed", "reason": "trùng"}),
]


def event_seeds():
    for e in CATALOGUE:
        write("fuzz_event", "valid-" + e["type"], pack([e]))
    write("fuzz_event", "valid-all-types", pack(CATALOGUE))
    # The optional labour capacity of an assessment (social protection).
    write("fuzz_event", "assessed-no-labour", pack([
        ev("as-2", "household.assessed", "22870",
           {"year": 2024, "area": "rural", "members": 1, "income": 900000,
            "deprived": ["employment"], "no_labour_capacity": True},
           household="hh-2")]))
    # A unit defined, then used, in the same request; a redefinition.
    write("fuzz_event", "define-then-use", pack([
        ev("u-5", "unit.defined", "595",
           {"name": "Hàm Thuận Bắc", "parent": "60", "level": "district"}),
        ev("u-6", "unit.defined", "22950",
           {"name": "Ma Lâm", "parent": "595", "level": "commune"}),
        ev("h-6", "unit.households", "22950",
           {"year": 2025, "households": 2400}),
        ev("u-7", "unit.defined", "593",
           {"name": "TP Phan Thiết", "parent": "60", "level": "district"}),
        ev("u-8", "unit.defined", "593",
           {"name": "moved", "parent": "594", "level": "district"}),
    ]))
    # The 2025 reorganisation in the order the rules want: a new province,
    # the commune moved under it, the district abolished, provinces merged;
    # then a split into a successor defined first, and records after it.
    write("fuzz_event", "reorganisation-2025", pack([
        ev("r-0", "unit.defined", "68",
           {"name": "Lâm Đồng", "parent": None, "level": "province"}),
        ev("r-1", "unit.changed", "22870",
           {"kind": "reparent", "effective": JUL_2025,
            "predecessors": ["22870"], "parent": "68"}),
        ev("r-2", "unit.changed", "593",
           {"kind": "abolish", "effective": JUL_2025,
            "predecessors": ["593"]}),
        ev("r-3", "unit.defined", "22871",
           {"name": "Mũi Né 2", "parent": "68", "level": "commune",
            "effective": JUL_2025 + 86400}),
        ev("r-4", "unit.changed", "22870",
           {"kind": "split", "effective": JUL_2025 + 86400,
            "predecessors": ["22870"], "successors": ["22870", "22871"]}),
        ev("r-5", "unit.changed", "594",
           {"kind": "abolish", "effective": JUL_2025,
            "predecessors": ["594"]}),
        ev("r-6", "unit.changed", "68",
           {"kind": "merge", "effective": JUL_2025,
            "predecessors": ["60", "68"], "successor": "68",
            "name": "Tỉnh Lâm Đồng"}),
        ev("r-7", "household.status", "22871",
           {"year": 2025, "status": "poor"}, household="hh-7",
           at=JUL_2025 + 2 * 86400),
        ev("r-8", "household.status", "593",
           {"year": 2025, "status": "poor"}, household="hh-8",
           at=JUL_2025 + 2 * 86400),
    ]))
    write("fuzz_event", "deprived-2027", pack([ev(
        "as-2027", "household.assessed", "22870",
        {"year": 2027, "area": "urban", "members": 1, "income": 0,
         "deprived": ["waste_treatment", "telecom"]}, household="hh-9")]))
    write("fuzz_event", "fund-without-household", pack([ev(
        "fd-2", "fund.disbursed", "593",
        {"amount": 1, "purpose": "tet", "level": "central"})]))
    # The same event in a non-canonical encoding: keys out of order, every
    # integer and string in a wider form than needed.
    wide = (b"\x91\x86" +
            pack("data") +
            pack({"year": Raw(b"\xcf" + struct.pack(">Q", 2024)),
                  "households": Raw(b"\xd3" + struct.pack(">q", 1000))}) +
            pack("unit") + b"\xd9\x03593" +
            pack("at") + b"\xcf" + struct.pack(">Q", AT) +
            pack("type") + b"\xda\x00\x0funit.households" +
            pack("id") + pack("wide-1") +
            pack("v") + b"\xd0\x01")
    write("fuzz_event", "non-canonical", wide)
    # Rejections, one reason each.
    bad = {
        "bad-unknown-key": ev("b1", "review.closed", "593",
                              {"year": 2024, "note": "x"}),
        "bad-float-amount": ev("b2", "credit.repaid", "22870",
                               {"loan": "L", "amount": 1.5}, household="h"),
        "bad-at-future": ev("b3", "review.closed", "593", {"year": 2024},
                            at=4102444800),
        "bad-district-nil-parent": ev("b4", "unit.defined", "596",
                                      {"name": "x", "parent": None,
                                       "level": "district"}),
        "bad-household-not-allowed": ev("b5", "unit.households", "593",
                                        {"year": 2024, "households": 1},
                                        household="h"),
        "bad-utf8-name": ev("b6", "donation.pledged", "593",
                            {"pledge": "P", "amount": 1,
                             "donor": b"Nguy\xe9n", "due": AT}),
        "bad-id-space": ev("b 7", "review.closed", "593", {"year": 2024}),
        "bad-amount-uint64-max": ev("b8", "donation.received", "593",
                                    {"amount": 2**64 - 1, "donor": "d",
                                     "donor_kind": "person",
                                     "level": "province"}),
        "bad-negative-households": ev("b9", "unit.households", "593",
                                      {"year": 2024, "households": -1}),
        "bad-undefined-unit": ev("b10", "review.closed", "99999",
                                 {"year": 2024}),
        "bad-deprived-duplicate": ev("b11", "household.assessed", "22870",
                                     {"year": 2024, "area": "rural",
                                      "members": 2, "income": 5,
                                      "deprived": ["water", "water"]},
                                     household="h"),
    }
    for name, e in bad.items():
        write("fuzz_event", name, pack([e]))
    dup = b"\x91\x82" + pack("v") + pack(1) + pack("v") + pack(1)
    write("fuzz_event", "bad-duplicate-key", dup)
    write("fuzz_event", "frame-empty-array", pack([]))
    write("fuzz_event", "frame-map", pack({"op": "ping"}))
    # msgpack-c issue #1013: a header that declares 4 billion elements.
    write("fuzz_event", "frame-huge-array-header", b"\xdd\xff\x00\x00\x00")
    write("fuzz_event", "frame-deep", b"\x91" * 12 + b"\xc0")
    write("fuzz_event", "frame-trailing", pack([CATALOGUE[4]]) + b"\xc0")


# ---- fuzz_query: one query request frame ------------------------------------

def query_seeds():
    q = {
        "ping": {"op": "ping"},
        "stats": {"op": "stats"},
        "read": {"op": "read", "from": 1, "limit": 5},
        "read-all": {"op": "read", "from": 0, "limit": 10000},
        "read-past-end": {"op": "read", "from": 2**64 - 1},
        "alerts": {"op": "alerts", "since": 0, "limit": 100},
        "alerts-late": {"op": "alerts", "since": 2**64 - 2, "limit": 1},
        "units-provinces": {"op": "units", "parent": None},
        "units-60": {"op": "units", "parent": "60"},
        "units-regroup": {"op": "units", "regroup": ["593", "22921", "99"],
                          "at": 1767200399},
        "poverty-year": {"op": "query", "plugin": "poverty",
                         "q": {"unit": "593", "year": 2025}},
        "poverty-cohort": {"op": "query", "plugin": "poverty",
                           "q": {"unit": "60", "cohort": 2024}},
        "fund-range": {"op": "query", "plugin": "fund",
                       "q": {"unit": "60", "from": 1704042000,
                             "to": 1735664400}},
        "fund-year": {"op": "query", "plugin": "fund",
                      "q": {"unit": "593", "year": 2024}},
        "standard-year": {"op": "query", "plugin": "standard",
                          "q": {"unit": "60", "year": 2024}},
        "standard-list": {"op": "query", "plugin": "standard",
                          "q": {"unit": "60", "year": 2025,
                                "list": "unrecognised", "limit": 10}},
        "relocation": {"op": "query", "plugin": "relocation",
                       "q": {"unit": "60"}},
        "relocation-missing": {"op": "query", "plugin": "relocation",
                               "q": {"unit": "593", "list": "missing",
                                     "year": 2024, "limit": 1000}},
        "relocation-households": {"op": "query", "plugin": "relocation",
                                  "q": {"unit": "22870",
                                        "list": "households"}},
        "credit": {"op": "query", "plugin": "credit",
                   "q": {"unit": "22870", "year": 2024}},
        "deadlines": {"op": "query", "plugin": "deadlines", "q": {}},
        "deadlines-one": {"op": "query", "plugin": "deadlines",
                          "q": {"org": "UBND-60", "report": "bc-2024",
                                "now": 1767225600}},
        "poverty-as-of": {"op": "query", "plugin": "poverty",
                          "q": {"unit": "22870", "year": 2024,
                                "as_of": 1767225600}},
        "poverty-cohort-as-of": {"op": "query", "plugin": "poverty",
                                 "q": {"unit": "60", "cohort": 2024,
                                       "as_of": 1767225600}},
        "fund-as-of": {"op": "query", "plugin": "fund",
                       "q": {"unit": "22870", "year": 2024,
                             "as_of": 1767225600}},
        "fund-ended": {"op": "query", "plugin": "fund",
                       "q": {"unit": "22900", "year": 2025}},
        "credit-as-of": {"op": "query", "plugin": "credit",
                         "q": {"unit": "593", "year": 2024,
                               "as_of": 1767225600}},
        "relocation-as-of": {"op": "query", "plugin": "relocation",
                             "q": {"unit": "593", "list": "households",
                                   "as_of": 1767225600}},
        "standard-as-of": {"op": "query", "plugin": "standard",
                           "q": {"unit": "60", "year": 2025,
                                 "list": "unrecognised",
                                 "as_of": 1767225600}},
        "deadlines-unit": {"op": "query", "plugin": "deadlines",
                           "q": {"unit": "593", "as_of": 1767225600}},
        "query-min-seq": {"op": "query", "plugin": "fund",
                          "q": {"unit": "60"}, "min_seq": 3},
        # The gateway's dry run: a unit the next event uses, a donation, a
        # reference to an undefined unit, an invalid amount.
        "validate": {"op": "validate", "events": [
            {"v": 1, "id": "v-u", "type": "unit.defined", "at": 1609459200,
             "unit": "599", "data": {"name": "X", "parent": "60",
                                     "level": "district"}},
            {"v": 1, "id": "v-1", "type": "donation.received",
             "at": 1730000000, "unit": "599",
             "data": {"amount": 5, "donor": "E", "donor_kind": "person",
                      "level": "district"}},
            {"v": 1, "id": "v-2", "type": "donation.received",
             "at": 1730000000, "unit": "98",
             "data": {"amount": -5, "donor": "E", "donor_kind": "person",
                      "level": "district"}}]},
        "bad-validate-events": {"op": "validate", "events": 5},
        "bad-unknown-op": {"op": "drop"},
        "bad-no-op": {"plugin": "fund"},
        "bad-unknown-plugin": {"op": "query", "plugin": "nope", "q": {}},
        "bad-q-not-map": {"op": "query", "plugin": "poverty", "q": [1]},
        "bad-undefined-unit": {"op": "query", "plugin": "poverty",
                               "q": {"unit": "99", "year": 2024}},
        "bad-read-limit": {"op": "read", "from": 1, "limit": 10001},
        "bad-units-parent": {"op": "units", "parent": 60},
        "bad-units-regroup-no-at": {"op": "units", "regroup": ["593"]},
        "bad-units-regroup-code": {"op": "units", "regroup": [593],
                                   "at": 0},
    }
    for name, req in q.items():
        write("fuzz_query", name, pack(req))


# ---- fuzz_config: povtrackd's INI file --------------------------------------

def config_seeds():
    write("fuzz_config", "readme-example", """\
[daemon]
data_dir = /var/lib/povtrack
ingest = tcp://127.0.0.1:7170
query = tcp://127.0.0.1:7171
alerts = tcp://127.0.0.1:7172
plugin_dir = /usr/local/lib/povtrack
plugins = poverty fund standard relocation credit deadlines  ; in order
batch_max = 10000
log_level = info

[plugin.poverty]
target_min_pp = 0.7           ; least yearly reduction of the poor rate
target_max_pp = 1.0           ; top of the band, shown in messages
relapse_max_share = 10        ; percent of an escape cohort poor again

[plugin.fund]
large_donation = 100000000
idle_balance = 500000000
idle_days = 90

[plugin.standard]
standard.2022.rural_line = 2000000
standard.2027-2030.urban_line = 3000000

[plugin.relocation]
follow_up_days = 180

[plugin.mine]
path = /opt/povtrack/mine.so
""")
    write("fuzz_config", "limits-security", """\
[security]
curve_key = server.key
registry = publishers.ini
[limits]
frame_max = 4194304
events_max = 10000
string_max = 4096
depth_max = 8
container_max = 64
requests_per_second = 0
[daemon]
ingest = tcp://0.0.0.0:7170
""")
    write("fuzz_config", "plugins-custom-order", """\
[plugin.mine]
path = mine.so
key = value
[daemon]
plugins = mine, fund,poverty
log_level = debug
""")
    write("fuzz_config", "empty", "")
    write("fuzz_config", "comments-only", "; nothing\n# else\n\n")
    write("fuzz_config", "bad-section", "[daemons]\ndata_dir = x\n")
    write("fuzz_config", "bad-key", "[daemon]\nbatchmax = 5\n")
    write("fuzz_config", "bad-batch-max", "[daemon]\nbatch_max = 0x10\n")
    write("fuzz_config", "bad-limit", "[limits]\ndepth_max = 99\n")
    write("fuzz_config", "bad-plugin-name", "[plugin.Bad-Name]\nx = 1\n")
    write("fuzz_config", "bad-plugins-twice",
          "[daemon]\nplugins = fund fund\n")
    write("fuzz_config", "bad-syntax", "[daemon\ndata_dir\n")
    write("fuzz_config", "mirror", """\
[mirror]
servers = nats://127.0.0.1:4222,nats://127.0.0.1:4223, nats://10.0.0.3:4222
province = 60
stream = POVTRACK_LOG_60
subject_prefix = povtrack.log
replicas = 3
lag_alert_records = 100000
lag_alert_seconds = 300
strict = yes
credentials = nats/povtrack.creds
tls = yes
tls_ca = nats/ca.pem
""")
    write("fuzz_config", "bad-mirror", "[mirror]\nservers = nats://x\nprovince = 6\n")
    write("fuzz_config", "remote-without-curve",
          "[daemon]\nquery = tcp://10.0.0.1:7171\n")
    write("fuzz_config", "long-value",
          "[daemon]\ndata_dir = " + "d" * 190 + "\n")
    write("fuzz_config", "crlf-bom",
          "\ufeff[daemon]\r\ndata_dir = /srv/p\r\nlog_level = warn\r\n")


# ---- fuzz_registry: the publisher registry ----------------------------------

def registry_seeds():
    k1 = z85(bytes(range(32)))
    k2 = z85(bytes(range(100, 132)))
    k3 = z85(bytes([0xFF] * 32))
    write("fuzz_registry", "valid-example", f"""\
[mttq-593]
key = {k1}
publish = donation.* fund.*   ; event types
units = 593                   ; and every unit under it
query = fund poverty
alerts = yes

[ldtbxh-60]
key = {k2}
publish = household.status household.assessed review.closed unit.*
units = 60
query = *
alerts = no

[dashboard]
key = {k3}
query = log, poverty
""")
    write("fuzz_registry", "valid-everything",
          f"[admin]\nkey = {k1}\npublish = *\nunits = *\nquery = *\n"
          "alerts = true\nadmin = yes\n")
    write("fuzz_registry", "empty", "")
    write("fuzz_registry", "bad-no-key", "[a]\nquery = fund\n")
    write("fuzz_registry", "bad-key-short", "[a]\nkey = abc\n")
    write("fuzz_registry", "bad-same-key",
          f"[a]\nkey = {k1}\n[b]\nkey = {k1}\n")
    write("fuzz_registry", "bad-twice",
          f"[a]\nkey = {k1}\n[b]\nkey = {k2}\n[a]\nalerts = no\n")
    write("fuzz_registry", "bad-type",
          f"[a]\nkey = {k1}\npublish = donation.x\nunits = 60\n")
    write("fuzz_registry", "bad-unit",
          f"[a]\nkey = {k1}\npublish = *\nunits = 1234\n")
    write("fuzz_registry", "bad-publish-no-units",
          f"[a]\nkey = {k1}\npublish = credit.*\n")
    write("fuzz_registry", "bad-name", f"[a b]\nkey = {k1}\n")
    write("fuzz_registry", "bad-outside-section", f"key = {k1}\n")
    write("fuzz_registry", "bad-empty-list",
          f"[a]\nkey = {k1}\nquery = , ,\n")
    write("fuzz_registry", "bad-unknown-key",
          f"[a]\nkey = {k1}\nsubscribe = yes\n")
    write("fuzz_registry", "many-units",
          f"[a]\nkey = {k1}\npublish = report.*\nunits = " +
          " ".join(str(60 + i) for i in range(39)) + "\n")


# ---- fuzz_csv: a donations spreadsheet --------------------------------------

def cp1258(text):
    """text as Excel saves it in Windows-1258: letters of the code page,
    and the tone marks it lacks precomposed as combining characters."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        d = unicodedata.normalize("NFD", ch)
        base, marks = d[0], d[1:]
        for i in range(len(marks)):
            head = unicodedata.normalize("NFC", base + marks[i])
            try:
                out += (head.encode("cp1258") +
                        (marks[:i] + marks[i + 1:]).encode("cp1258"))
                break
            except UnicodeEncodeError:
                continue
        else:
            out += d.encode("cp1258")
    return out


def csv_seeds():
    # First byte: bit 0 clear, donation.received with --unit 593; set,
    # fund.disbursed with ';', --column tien=amount... and --set
    # purpose=other; bit 1, --encoding cp1258 (fuzz_csv.c).
    with open(SAMPLE_CSV, "rb") as f:
        write("fuzz_csv", "sample-donations", b"0" + f.read())
    write("fuzz_csv", "english-headers",
          "0receipt,date,unit,amount,donor,donor_kind,level,pledge,in_kind\n"
          "d-1,2024-10-17,60,\"1,500,000\",An,person,province,CK-1,no\n"
          "d-2,17/10/2024,22870,2000000 VND,Bình,business,,,x\n"
          ",1/2/2024,,500.000 đ,Ẩn danh,anonymous,central,,\n")
    write("fuzz_csv", "bom-crlf",
          "0\ufeffNgày,Số tiền,Nhà tài trợ,Hiện vật,Loại,Ghi chú\r\n"
          "01/11/2024,300.000,An,có,Cá nhân,\"gạo, 10kg\"\r\n"
          "\r\n"
          "02/11/2024,\"1.000.000\",\"Công ty \"\"A\"\"\",không,Doanh "
          "nghiệp,\r\n")
    # A clerk's sheet as the issue describes it: capitals, receipts,
    # semicolons, a blank row, a repeated row, a unit column, a date in
    # the future, a decomposed header.
    write("fuzz_csv", "clerk-capitals-semicolon",
          "0\ufeffSTT;SỐ BIÊN LAI;NGÀY;HỌ VÀ TÊN;SỐ TIỀN;LOA\u0323I;ĐƠN VỊ;"
          "HÌNH THỨC;GHI CHÚ\r\n"
          "1;BL-001;17/10/2024;Nguyễn Văn An;1.500.000;Cá nhân;22957;"
          "Tiền mặt;\r\n"
          "2;BL-002;18/10/2024;Công ty TNHH Thanh Long;5.000.000;"
          "Doanh nghiệp;22957;Chuyển khoản;\r\n"
          ";;;;;;;;\r\n"
          "3;BL-002;18/10/2024;Công ty TNHH Thanh Long;5.000.000;"
          "Doanh nghiệp;22957;Chuyển khoản;\r\n"
          "4;BL-003;20/10/2024;Ẩn danh;200.000;ẩn danh;99999;Hiện vật;\r\n"
          "5;BL-004;12/03/2027;Trần Thị Bình;300.000;an danh;22960;;\r\n")
    write("fuzz_csv", "clerk-no-receipts-tab",
          "0Ngày\tTên người ủng hộ\tSố tiền\tĐối tượng\tMã đơn vị\n"
          "17/10/2024\tPhạm Thị Hoa\t1,000,000\tCá nhân\t22963\n"
          "18/10/2024\tVõ Văn Dũng\t2,000,000\tCá nhân\t22963\n"
          "18/10/2024\tVõ Văn Dũng\t2,000,000\tCá nhân\t22963\n")
    write("fuzz_csv", "clerk-cp1258", b"2" + cp1258(
        "Ngày,Tên,Số tiền,Loại,Cấp\n"
        "17/10/2024,Nguyễn Văn Đức,100.000,Ẩn danh,Phường\n"
        "18/10/2024,Hội Phụ nữ,200.000,Tổ chức,Huyện\n"))
    write("fuzz_csv", "pledge-type",
          "0ngay,han,ma_cam_ket,so_tien,nha_tai_tro\n"
          "2024-01-05,2024-06-30,CK-9,50.000.000,Công ty B\n")
    write("fuzz_csv", "header-only", "0ngay,so_tien,nha_tai_tro\n")
    write("fuzz_csv", "bad-no-date-column",
          "0Thời điểm,so_tien,nha_tai_tro,loai\n1,1,a,x\n")
    write("fuzz_csv", "bad-unterminated-quote",
          "0ngay,so_tien\n2024-01-01,\"100\n")
    write("fuzz_csv", "disbursed-map",
          "1ngay_chi;ma_dv;ho;tien;muc_dich;cap\n"
          "2024-03-01;22870;hh-1;5.000.000;nhà ở;xã\n"
          "2024-03-02;593;;1.000.000 ₫;tết;huyện\n"
          "2024-03-02;593;;1.000.000 ₫;tết;huyện\n"
          "2024-03-03;22870;hh-2;\"2;000\";y tế;\n")
    write("fuzz_csv", "disbursed-map-missing-column",
          "1ngay_chi;tien;muc_dich\n2024-03-01;1000;khác\n")


# ---- fuzz_client: one reply as the client library reads it -------------------

def client_seeds():
    """Replies as povtrackd sends them (README, Wire protocol v1), and the
    ways a reply can break the protocol."""
    ok = {"id": "mttq-60-2024-000123", "status": "ok", "seq": 4711}
    dup = {"id": "mttq-60-2024-000123", "status": "duplicate", "seq": 4711}
    rej = {"id": "mttq-60-2024-000124", "status": "rejected",
           "error": "data.amount: must be a positive integer"}
    nil_id = {"id": None, "index": 2, "status": "rejected",
              "error": "id: byte 0 is not printable ASCII (0x21..0x7e)"}
    write("fuzz_client", "acks", pack([ok, dup, rej, nil_id]))
    write("fuzz_client", "acks-refused-whole", pack([
        {"id": None, "status": "rejected",
         "error": "request: must be an array of 1 to 10000 events "
                  "(limits.events_max)"}]))
    write("fuzz_client", "acks-escaped", pack([
        {"id": None, "index": 0, "status": "rejected",
         "error": "unit: '\\xff\\xfe' is not a defined unit"}]))
    write("fuzz_client", "acks-many", pack([ok] * 20))
    write("fuzz_client", "bad-ack-no-status", pack([{"id": "a", "seq": 1}]))
    write("fuzz_client", "bad-ack-unknown-status",
          pack([{"id": "a", "status": "maybe", "seq": 1}]))
    write("fuzz_client", "bad-ack-no-seq", pack([{"id": "a", "status": "ok"}]))
    write("fuzz_client", "bad-ack-id-int",
          pack([{"id": 7, "status": "ok", "seq": 1}]))
    write("fuzz_client", "bad-ack-nul-in-error",
          pack([{"id": "a", "status": "rejected", "error": "x\0y"}]))
    write("fuzz_client", "bad-ack-not-utf8",
          pack([{"id": b"\xff", "status": "rejected",
                 "error": b"\xc0\xaf"}]))
    write("fuzz_client", "ping", pack({"ok": True, "version": "0.1.0"}))
    write("fuzz_client", "stats", pack({
        "ok": True, "events": 12, "last_seq": 12,
        "plugins": [{"name": "fund", "version": "1", "applied_seq": 12,
                     "lag": 0, "status": "running"},
                    {"name": "poverty", "version": "1", "applied_seq": 3,
                     "lag": 9, "status": "quarantined",
                     "error": "apply: returned -1"}]}))
    write("fuzz_client", "query-fund", pack({
        "ok": True, "applied_seq": 12,
        "result": {"unit": "60", "received": 1500000, "disbursed": 500000,
                   "balance": 1000000, "by_purpose": {"housing": 500000}}}))
    write("fuzz_client", "read", pack({"ok": True, "records": [
        {"seq": 1, "received": 1767225600000000, "publisher": "mttq-60",
         "event": {"v": 1, "id": "u-60", "type": "unit.defined",
                   "at": 1704042000, "unit": "60",
                   "data": {"name": "Bình Thuận", "parent": None,
                            "level": "province"}}}]}))
    write("fuzz_client", "refused", pack({
        "ok": False,
        "error": "plugin: no plugin named \"nope\" is loaded"}))
    write("fuzz_client", "refused-restarting", pack({
        "ok": False, "error": "plugin host is restarting (killed by signal "
                              "9); retry in 200 ms", "retry_after_ms": 200}))
    write("fuzz_client", "alert", pack({
        "plugin": "fund", "code": "fund.overdrawn", "severity": "warning",
        "unit": "60", "message": "disbursed more than received",
        "at": 1767225600, "seq": 13}))
    write("fuzz_client", "bad-reply-no-ok", pack({"version": "0.1.0"}))
    write("fuzz_client", "bad-reply-ok-not-bool", pack({"ok": 1}))
    write("fuzz_client", "bad-huge-array-header", b"\xdd\xff\x00\x00\x00")
    write("fuzz_client", "bad-deep", b"\x91" * 40 + b"\xc0")
    write("fuzz_client", "bad-trailing", pack({"ok": True}) + b"\xc0")
    write("fuzz_client", "bad-truncated", pack([ok, rej])[:-3])
    write("fuzz_client", "empty", b"")


def main():
    event_seeds()
    query_seeds()
    config_seeds()
    registry_seeds()
    csv_seeds()
    client_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
