"""The povtrack package without a daemon: its mirror of protocol.h, key
files (as the real `povtrack keygen` writes them), how send() splits and
reads acks, times, and the arguments it refuses before sending anything.
"""

import ast
import datetime
import os
import re
import shutil
import tempfile
import time
import tomllib
import unittest

import msgpack
import zmq

import povtrack
from povtrack import client, keys, protocol
from daemon import SOURCE_DIR, run

HEADER = os.path.join(SOURCE_DIR, "include", "povtrack", "protocol.h")
# Defines of protocol.h that only C needs: the size of its error buffers.
C_ONLY = {"POVTRACK_PROTO_ERROR_MAX"}


def c_value(text):
    """The value of a #define's body: a string literal, or an integer
    expression of literals with u suffixes, * and parentheses."""
    text = re.sub(r"\b(\d+)[uU]\b", r"\1", text.strip())
    tree = ast.parse(text, mode="eval")
    allowed = (ast.Expression, ast.BinOp, ast.Mult, ast.Add, ast.Sub,
               ast.LShift, ast.Constant)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise ValueError(f"not a constant expression: {text}")
    return eval(compile(tree, HEADER, "eval"))


def header_defines():
    """{name: value} of protocol.h's POVTRACK_PROTO_*, POVTRACK_KEY_* and
    POVTRACK_OP_* defines."""
    defines = {}
    with open(HEADER) as f:
        for line in f:
            m = re.match(r"#define\s+(POVTRACK_(?:PROTO|KEY|OP)_\w+)\s+"
                         r"(.+?)\s*(?:/\*.*)?$", line)
            if m:
                defines[m.group(1)] = c_value(m.group(2))
    return defines


def mirror_name(c_name):
    """POVTRACK_PROTO_FRAME_MAX -> FRAME_MAX, POVTRACK_KEY_OP -> KEY_OP."""
    name = c_name[len("POVTRACK_"):]
    return name[len("PROTO_"):] if name.startswith("PROTO_") else name


class ExamplePublisher(unittest.TestCase):
    """The README's agency_publisher.py refuses a bad file before it
    connects: every bad cell, in words, with its row and column."""

    def test_every_bad_cell_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bad.csv")
            with open(path, "w", encoding="utf-8") as f:
                f.write("receipt,date,donor,donor_kind,amount\n"
                        "A-1,2025-05-17,A,person,2000000\n"
                        "A-2,17/05/2025,B,person,100\n"
                        "A-3,2025-05-18,C,person,1.5\n")
            out = run(["/usr/bin/python3",
                       os.path.join(SOURCE_DIR, "tools", "python", "examples",
                                    "agency_publisher.py"),
                       "--ingest", "ipc://" + os.path.join(tmp, "none"),
                       path],
                      env=dict(os.environ, PYTHONPATH=os.path.join(
                          SOURCE_DIR, "tools", "python"),
                          PYTHONDONTWRITEBYTECODE="1"))
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("row 3, column date: '17/05/2025' is not a date "
                      "(write YYYY-MM-DD)", out.stderr)
        self.assertIn("row 4, column amount: '1.5' is not a whole number "
                      "of VND", out.stderr)
        self.assertIn("nothing sent", out.stderr)


class ProtocolMirror(unittest.TestCase):
    def test_every_define_is_mirrored_with_its_value(self):
        defines = header_defines()
        # The parse found what it should: a limit, a key, an op.
        self.assertEqual(defines["POVTRACK_PROTO_FRAME_MAX"], 4194304)
        self.assertEqual(defines["POVTRACK_KEY_MIN_SEQ"], "min_seq")
        self.assertEqual(defines["POVTRACK_OP_ALERTS"], "alerts")
        for c_name, value in defines.items():
            if c_name in C_ONLY:
                continue
            with self.subTest(c_name):
                py = mirror_name(c_name)
                self.assertTrue(hasattr(protocol, py),
                                f"protocol.py has no {py} for {c_name}")
                self.assertEqual(getattr(protocol, py), value,
                                 f"protocol.{py} differs from {c_name}")

    def test_environment_as_the_cli(self):
        """Endpoints and keys left out come from $POVTRACK_*, as the CLI
        takes them; given, they win; one key without the other is said."""
        saved = {k: os.environ.pop(k, None) for k in (
            "POVTRACK_INGEST", "POVTRACK_QUERY", "POVTRACK_ALERTS",
            "POVTRACK_SERVER_KEY", "POVTRACK_KEY")}
        try:
            with povtrack.Client() as c:
                self.assertEqual(c.endpoints["ingest"],
                                 protocol.INGEST_DEFAULT)
            os.environ["POVTRACK_INGEST"] = "ipc:///tmp/in"
            os.environ["POVTRACK_QUERY"] = "ipc:///tmp/q"
            os.environ["POVTRACK_ALERTS"] = "ipc:///tmp/al"
            with povtrack.Client() as c:
                self.assertEqual(c.endpoints, {"ingest": "ipc:///tmp/in",
                                               "query": "ipc:///tmp/q",
                                               "alerts": "ipc:///tmp/al"})
            with povtrack.Client(query="ipc:///tmp/other") as c:
                self.assertEqual(c.endpoints["query"], "ipc:///tmp/other")
            os.environ["POVTRACK_SERVER_KEY"] = "x" * 40
            with self.assertRaises(ValueError) as cm:
                povtrack.Client()
            self.assertIn("only $POVTRACK_SERVER_KEY is set",
                          str(cm.exception))
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None)
                if v is not None:
                    os.environ[k] = v

    def test_version_is_the_projects(self):
        with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
            m = re.search(r"project\(povtrack VERSION ([0-9.]+)", f.read())
        self.assertEqual(povtrack.__version__, m.group(1))
        with open(os.path.join(SOURCE_DIR, "tools", "python",
                               "pyproject.toml"), "rb") as f:
            meta = tomllib.load(f)
        self.assertEqual(meta["tool"]["setuptools"]["dynamic"]["version"],
                         {"attr": "povtrack.__version__"})
        self.assertEqual(meta["project"]["dependencies"],
                         ["pyzmq", "msgpack"])


class KeyFiles(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="povtrack-pykeys-")
        self.addCleanup(shutil.rmtree, self.dir)

    def keygen(self, name):
        r = run(["povtrack", "keygen", os.path.join(self.dir, name)])
        self.assertEqual(r.returncode, 0, r.stderr)
        return os.path.join(self.dir, name)

    def write(self, text, mode=0o600, name="k.key"):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
        os.chmod(path, mode)
        return path

    def test_keygen_files(self):
        base = self.keygen("mttq-593")
        pair = povtrack.read_keyfile(base + ".key")
        self.assertTrue(keys.key_valid(pair.public))
        self.assertTrue(keys.key_valid(pair.secret))
        pub = povtrack.read_keyfile(base + ".pub", secret=False)
        self.assertEqual(pub, povtrack.KeyPair(pair.public))
        self.assertEqual(keys.server_key(base + ".pub"), pair.public)
        self.assertEqual(keys.server_key(pair.public), pair.public)
        self.assertNotIn(pair.secret, repr(pair))
        with self.assertRaisesRegex(povtrack.KeyFileError,
                                    r"\.pub: no secret-key \(this is a "
                                    r"public key file"):
            povtrack.read_keyfile(base + ".pub")

    def test_secret_file_readable_by_others_is_refused(self):
        base = self.keygen("leaky")
        for mode in (0o640, 0o604, 0o644):
            os.chmod(base + ".key", mode)
            with self.assertRaisesRegex(
                    povtrack.KeyFileError,
                    r"must be readable by its owner only \(chmod 600 "):
                povtrack.Client(server_key=base + ".pub", key=base + ".key")
        os.chmod(base + ".key", 0o400)
        povtrack.read_keyfile(base + ".key")

    def test_what_the_c_reader_accepts(self):
        pub, sec = (k.decode() for k in zmq.curve_keypair())
        text = ("\ufeff# comment\r\n; another\r\n\r\n[keys]\r\n"
                f"public-key:{pub}   ; a comment\r\n"
                f"  secret-key =  {sec}\r\n")
        self.assertEqual(povtrack.read_keyfile(self.write(text)),
                         povtrack.KeyPair(pub, sec))

    def test_bad_files_name_the_line(self):
        pub, sec = (k.decode() for k in zmq.curve_keypair())
        cases = {
            f"public-key = {pub}\nsecret = {sec}\n":
                r"k\.key:2: secret is not a key this file may hold",
            f"public-key = {pub[:-1]}\n":
                r"k\.key:1: public-key is not a key this file may hold",
            f"public-key = {pub};x\n": r"k\.key:1: public-key is not",
            "just words\n": r"k\.key:1: the line is not a key",
            "[section\n": r"k\.key:1: the line is not a key",
            f"public-key = {pub}\n\0\n": r"k\.key:2: the line is not a key",
            f"secret-key = {sec}\n": r"k\.key: no public-key",
            f"public-key = {pub}\n": r"k\.key: no secret-key",
            b"x" * (keys.KEYFILE_MAX + 1): r"larger than 16384 bytes",
        }
        for text, error in cases.items():
            with self.subTest(error):
                with self.assertRaisesRegex(povtrack.KeyFileError, error):
                    povtrack.read_keyfile(self.write(text))
        with self.assertRaisesRegex(povtrack.KeyFileError,
                                    r"nothing\.key: No such file"):
            povtrack.read_keyfile(os.path.join(self.dir, "nothing.key"))

    def test_server_key_path_that_is_also_z85(self):
        # "/tmp/pkXXXXXXXX/kkkkkkkkkkkkkkkkkkkk.pub" is 40 characters of the
        # Z85 alphabet, so it reads as a key too: an existing file wins.
        # (mkdtemp may put a "_", which Z85 lacks, in the name: try again.)
        for _ in range(100):
            d = tempfile.mkdtemp(prefix="pk", dir="/tmp")
            self.addCleanup(shutil.rmtree, d)
            path = d + "/" + "k" * (40 - len(d) - 5) + ".pub"
            if len(path) == 40 and keys.key_valid(path):
                break
        self.assertTrue(keys.key_valid(path), path)
        base = self.keygen("server")
        shutil.copy(base + ".pub", path)
        want = povtrack.read_keyfile(base + ".pub", secret=False).public
        self.assertEqual(keys.server_key(path), want)


class Splitting(unittest.TestCase):
    def test_array_header(self):
        for n in (0, 1, 15, 16, 10000, 65535, 65536):
            self.assertEqual(client._array_header(n),
                             msgpack.packb([0] * n)[:-n or None])

    def test_batches_by_count_and_bytes(self):
        b = client._batches
        self.assertEqual(list(b([10] * 25, 10, 10**6)),
                         [(0, 10), (10, 20), (20, 25)])
        # 3 bytes of array header plus the events.
        self.assertEqual(list(b([40, 40, 40], 100, 100)), [(0, 2), (2, 3)])
        self.assertEqual(list(b([97], 100, 100)), [(0, 1)])
        self.assertEqual(list(b([50, 47, 1], 100, 100)), [(0, 2), (2, 3)])
        self.assertEqual(list(b([], 100, 100)), [])


def ack(id, status, **kw):
    a = {"id": id, "status": status}
    a.update(kw)
    return a


class Acks(unittest.TestCase):
    EP = "ipc:///x"

    def test_acks_in_order_with_their_index(self):
        reply = [ack("a", "ok", seq=7), ack("b", "duplicate", seq=3),
                 ack(None, "rejected", index=2, error="id: missing"),
                 ack("d", "rejected", error="data.amount: must be a "
                                            "positive integer")]
        acks = client.parse_acks(self.EP, reply, ["a", "b", None, "d"], 100)
        self.assertEqual(acks[0], povtrack.Ack("a", "ok", 7, None, 100))
        self.assertEqual(acks[1], povtrack.Ack("b", "duplicate", 3, None,
                                               101))
        self.assertEqual(acks[2], povtrack.Ack(None, "rejected", None,
                                               "id: missing", 102))
        self.assertEqual(acks[3].error,
                         "data.amount: must be a positive integer")
        result = povtrack.SendResult(acks, 1)
        self.assertEqual([a.index for a in result.ok], [100])
        self.assertEqual([a.index for a in result.duplicates], [101])
        self.assertEqual([a.index for a in result.rejected], [102, 103])
        self.assertEqual(result.last_seq, 7)

    def test_request_refused_whole(self):
        reply = [ack(None, "rejected", error="request: over limits")]
        for ids in (["a"], ["a", "b"]):
            with self.assertRaises(povtrack.Refused) as cm:
                client.parse_acks(self.EP, reply, ids)
            self.assertEqual(cm.exception.error, "request: over limits")
            self.assertNotIsInstance(cm.exception, povtrack.HostRestarting)
        # With an index it is the one event's own rejection.
        one = [ack(None, "rejected", index=0, error="id: missing")]
        self.assertEqual(client.parse_acks(self.EP, one, [None])[0].error,
                         "id: missing")

    def test_replies_that_break_the_protocol(self):
        bad = [
            ({"a": 1}, ["a"], "not an array"),
            ([ack("a", "ok", seq=1)], ["a", "b"], "1 acks for 2 events"),
            ([ack("a", "stored", seq=1)], ["a"], "unknown status"),
            ([ack("a", "ok")], ["a"], "accepted without a seq"),
            ([ack("a", "ok", seq=0)], ["a"], "accepted without a seq"),
            ([ack("a", "rejected")], ["a"], "rejected without an error"),
            ([ack(5, "ok", seq=1)], ["a"], "id is not a string"),
            ([ack("b", "ok", seq=1)], ["a"], "is for id 'b'"),
            ([ack(None, "ok", seq=1, index=1), ack("b", "ok", seq=2)],
             ["a", "b"], "nil id and index 1"),
            (["x"], ["a"], "ack 0 is not a map"),
        ]
        for reply, ids, error in bad:
            with self.subTest(error):
                with self.assertRaisesRegex(povtrack.ProtocolError, error):
                    client.parse_acks(self.EP, reply, ids)


class Times(unittest.TestCase):
    NEW_YEAR_2025 = 1735664400  # 2025-01-01 00:00 in Vietnam (UTC+7)

    def test_unix_seconds(self):
        u = povtrack.unix_seconds
        self.assertEqual(u(datetime.datetime(2025, 1, 1)), self.NEW_YEAR_2025)
        self.assertEqual(u(datetime.datetime(2025, 1, 1, 0, 0, 0, 999999)),
                         self.NEW_YEAR_2025)
        self.assertEqual(u(datetime.date(2025, 1, 1)), self.NEW_YEAR_2025)
        self.assertEqual(u(datetime.datetime(2024, 12, 31, 17, 0,
                                             tzinfo=datetime.timezone.utc)),
                         self.NEW_YEAR_2025)
        self.assertEqual(u(datetime.datetime(2025, 1, 1,
                                             tzinfo=povtrack.VIETNAM)),
                         self.NEW_YEAR_2025)
        self.assertEqual(u(12345), 12345)
        for bad in (True, 1.5, "2025-01-01", None):
            with self.assertRaises(TypeError):
                u(bad)

    def test_times_in_events_are_sent_as_seconds(self):
        e = povtrack.event("donation.pledged", "p-1",
                           datetime.datetime(2025, 1, 1, 9, 30), "593",
                           {"pledge": "p", "amount": 1, "donor": "d",
                            "due": datetime.date(2025, 1, 2)})
        packed = msgpack.unpackb(msgpack.packb(
            e, default=povtrack.events.pack_default))
        self.assertEqual(packed["v"], 1)
        self.assertEqual(packed["at"], self.NEW_YEAR_2025 + 9 * 3600 + 1800)
        self.assertEqual(packed["data"]["due"], self.NEW_YEAR_2025 + 86400)


class Arguments(unittest.TestCase):
    """Refused before any socket is used: the endpoints lead nowhere and
    the timeout is long, so a send would show as a long wait."""

    def setUp(self):
        self.c = povtrack.Client("ipc:///nonexistent/ingest",
                                 "ipc:///nonexistent/query", timeout=30)
        self.addCleanup(self.c.close)

    def test_client_arguments(self):
        for kw in ({"timeout": 0}, {"retries": -1}, {"retries": 101},
                   {"max_events": 0}, {"max_events": 10001},
                   {"max_bytes": 4 * 1024 * 1024 + 1},
                   {"server_key": "x" * 40}, {"key": "a.key"}):
            with self.subTest(kw):
                with self.assertRaises(ValueError):
                    povtrack.Client(**kw)

    def test_send_refuses_before_sending(self):
        t = time.monotonic()
        with self.assertRaisesRegex(TypeError, "a list of events"):
            self.c.send({"id": "x"})
        with self.assertRaisesRegex(TypeError, "event 1: cannot be sent"):
            self.c.send([{"id": "a"}, {"id": "b", "data": object()}])
        big = {"id": "big", "data": {"donor": "x" * protocol.FRAME_MAX}}
        with self.assertRaisesRegex(povtrack.RequestTooLarge,
                                    r"event 1 \('big'\) takes 41943\d\d "
                                    r"bytes: a request may hold 4194304; "
                                    r"nothing sent"):
            self.c.send([{"id": "a"}, big])
        with self.assertRaisesRegex(povtrack.RequestTooLarge,
                                    "query request of"):
            self.c.query("fund", unit="x" * protocol.REQUEST_MAX)
        self.assertEqual(self.c.send([]).acks, [])
        self.assertLess(time.monotonic() - t, 5)


if __name__ == "__main__":
    unittest.main()
