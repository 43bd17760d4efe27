"""The povtrack package against the real povtrackd (plain mode, ipc://):
acks, batches split at the protocol's limits, read-your-writes, times,
alerts, an unreachable daemon, the daemon's own lower limits, and the
example publisher run as the README shows it.
"""

import datetime
import itertools
import os
import subprocess
import time
import unittest

import msgpack

import povtrack
from povtrack import protocol
from daemon import (SOURCE_DIR, T0, DaemonCase, donation, run,
                    unit_events)

PYTHON_DIR = os.path.join(SOURCE_DIR, "tools", "python")
EXAMPLES = os.path.join(PYTHON_DIR, "examples")
# Districts of province 60, one per test that counts donations, so that
# each test's fund totals are its own.
DISTRICTS = ("593", "594", "595", "596", "597", "598", "599", "600")


class PlainDaemon(DaemonCase):
    @classmethod
    def populate(cls):
        cls.c = cls.d.client()
        r = cls.c.send(unit_events("plain", DISTRICTS))
        assert len(r.ok) == 1 + len(DISTRICTS), r

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "c"):
            cls.c.close()
        super().tearDownClass()

    def fund(self, unit, min_seq):
        q = self.c.query("fund", unit=unit, min_seq=min_seq)
        self.assertGreaterEqual(q.applied_seq, min_seq)
        return q.result

    def test_acks_ok_duplicate_rejected(self):
        long_id = "x" * (protocol.ID_MAX + 1)
        events = [donation("acks-1", "593", 1000),
                  donation("acks-2", "593", -5),
                  donation(long_id, "593", 1000),
                  {k: v for k, v in donation("-", "593", 1).items()
                   if k != "id"},
                  donation("acks-5", "99999", 1000)]
        r = self.c.send(events)
        self.assertEqual(r.requests, 1)
        a = r.acks
        self.assertEqual([x.index for x in a], [0, 1, 2, 3, 4])
        self.assertEqual((a[0].id, a[0].status, a[0].error),
                         ("acks-1", "ok", None))
        self.assertGreater(a[0].seq, 0)
        self.assertEqual((a[1].id, a[1].status, a[1].seq, a[1].error),
                         ("acks-2", "rejected", None,
                          "data.amount: must be a positive integer"))
        # Ids that cannot be echoed: nil, and the index says which event.
        self.assertEqual((a[2].id, a[2].status), (None, "rejected"))
        self.assertRegex(a[2].error, r"^id: ")
        self.assertEqual((a[3].id, a[3].status), (None, "rejected"))
        self.assertRegex(a[3].error, r"^(id: |event: missing id)")
        self.assertEqual((a[4].status, a[4].error),
                         ("rejected", "unit: 99999 is not defined"))
        self.assertEqual(r.ok, [a[0]])
        self.assertEqual(r.rejected, a[1:])
        self.assertEqual(r.last_seq, a[0].seq)

        # Again: what was stored is a duplicate at the same sequence.
        again = self.c.send(events)
        self.assertEqual(again.duplicates[0].seq, a[0].seq)
        self.assertEqual(again.duplicates[0].id, "acks-1")
        self.assertEqual([x.error for x in again.rejected],
                         [x.error for x in r.rejected])
        self.assertEqual(again.ok, [])

    def test_raise_on_reject(self):
        events = [donation("strict-1", "594", 700),
                  donation("strict-2", "594", 0)]
        with self.assertRaises(povtrack.Rejected) as cm:
            self.c.send(events, raise_on_reject=True)
        e = cm.exception
        self.assertEqual([x.id for x in e.rejected], ["strict-2"])
        self.assertRegex(str(e), r"^1 of 2 events rejected; the first, "
                                 r"event 1 \(strict-2\): data\.amount: ")
        # The other one is stored all the same.
        self.assertEqual(self.fund("594", e.result.last_seq)["received"], 700)

    def test_25000_events_in_one_send(self):
        """Split at POVTRACK_PROTO_EVENTS_MAX; stored exactly once, also
        when sent again."""
        n = 25000
        events = [donation(f"many-{i}", "595", 1000 + i) for i in range(n)]
        r = self.c.send(events)
        self.assertEqual(r.requests, 3)
        self.assertEqual(len(r.ok), n)
        self.assertEqual([x.index for x in r.acks], list(range(n)))
        self.assertEqual([x.id for x in r.acks], [e["id"] for e in events])
        self.assertEqual(len({x.seq for x in r.acks}), n)
        total = sum(1000 + i for i in range(n))
        fund = self.fund("595", r.last_seq)
        self.assertEqual((fund["donations"], fund["received"]), (n, total))

        again = self.c.send(events)
        self.assertEqual(len(again.duplicates), n)
        self.assertEqual([x.seq for x in again.acks], [x.seq for x in r.acks])
        fund = self.fund("595", again.last_seq)
        self.assertEqual((fund["donations"], fund["received"]), (n, total))

    def test_split_at_the_frame_limit(self):
        """Events of ~450 bytes: 12,000 of them exceed 4 MiB and are split
        by bytes well below the event limit."""
        n = 12000
        donor = "Hợp tác xã " + "x" * 230
        events = [donation(f"wide-{i:06d}-" + "i" * 112, "596", 10,
                           donor=donor) for i in range(n)]
        sizes = [len(msgpack.packb(e)) for e in events]
        self.assertGreater(sum(sizes), protocol.FRAME_MAX)
        self.assertLess(sum(sizes) + 6, 2 * protocol.FRAME_MAX)
        r = self.c.send(events)
        self.assertEqual(r.requests, 2)
        self.assertEqual(len(r.ok), n)
        fund = self.fund("596", r.last_seq)
        self.assertEqual((fund["donations"], fund["received"]), (n, 10 * n))

    def test_read_your_writes(self):
        """Asked right after the last ack, the plugin is still applying
        30,000 events (it lags behind ingest); min_seq makes the answer
        wait for them all."""
        n = 3 * protocol.EVENTS_MAX
        r = self.c.send([donation(f"ryw-{i}", "597", 100) for i in range(n)])
        self.assertEqual(r.requests, 3)
        q = self.c.query("fund", unit="597", min_seq=r.last_seq)
        self.assertGreaterEqual(q.applied_seq, r.last_seq)
        self.assertEqual(q.result["donations"], n)

    def test_times_as_datetimes(self):
        at = datetime.datetime(2025, 3, 8, 9, 30)  # Vietnam time
        ev = povtrack.event("donation.received", "when-1", at, "598",
                            {"amount": 5, "donor": "D",
                             "donor_kind": "person", "level": "district"})
        r = self.c.send([ev])
        seq = r.acks[0].seq
        rec = self.c.request("read", **{"from": seq, "limit": 1})
        stored = rec["records"][0]["event"]
        self.assertEqual(stored["at"], 1741401000)  # 02:30 UTC
        # A range of days in a query, as dates.
        q = self.c.query("fund", unit="598", min_seq=seq,
                         **{"from": datetime.date(2025, 3, 8),
                            "to": datetime.date(2025, 3, 9)})
        self.assertEqual(q.result["donations"], 1)
        q = self.c.query("fund", unit="598", min_seq=seq,
                         **{"from": datetime.date(2025, 3, 9)})
        self.assertEqual(q.result["donations"], 0)

    def test_alerts(self):
        """A stream opened before the donations gets each alert once, in
        order (listed and published, it comes once); one opened after,
        with since, lists them."""
        before = self.c.stats()["last_seq"]
        with self.c.alerts(timeout=30) as stream:
            r = self.c.send([donation("big-1", "599", 150_000_000),
                             donation("small-1", "599", 5)])
            r2 = self.c.send([donation("big-2", "599", 120_000_000)])
            first, second = next(stream), next(stream)
        for alert, ack in ((first, r.acks[0]), (second, r2.acks[0])):
            self.assertEqual((alert.code, alert.severity, alert.plugin,
                              alert.unit, alert.seq),
                             ("fund.large_donation", "info", "fund", "599",
                              ack.seq))
            self.assertEqual(alert.topic, "alert.fund.large_donation")
        self.assertIn("150,000,000 VND", first.message)
        self.assertEqual(first.at, T0 + 86400)

        # (At most 10: a stream that repeated itself would never end.)
        with self.c.alerts(since=before, prefix="alert.fund.large",
                           timeout=0.5) as stream:
            listed = list(itertools.islice(stream, 10))
        self.assertEqual([(a.seq, a.code) for a in listed],
                         [(first.seq, first.code), (second.seq, second.code)])
        with self.c.alerts(since=before, prefix="alert.poverty.",
                           timeout=0.5) as stream:
            self.assertEqual(list(itertools.islice(stream, 10)), [])

    def test_resolved_alerts(self):
        """A large donation voided: its alert is resolved, listed only
        when asked, with who resolved it and why."""
        before = self.c.stats()["last_seq"]
        r = self.c.send([donation("big-void", "600", 200_000_000)])
        v = self.c.send([povtrack.event(
            "record.voided", "void-big", T0 + 2 * 86400, "600",
            {"target": "big-void", "type": "donation.received",
             "reason": "nhập trùng"})])
        self.assertTrue(r.ok and v.ok)
        self.c.query("fund", unit="600", min_seq=v.last_seq)  # applied
        mine = [a for a in self.c.list_alerts(before)
                if a.seq == r.acks[0].seq]
        self.assertEqual(mine, [])
        mine = [a for a in self.c.list_alerts(before, resolved=True)
                if a.seq == r.acks[0].seq]
        self.assertEqual(len(mine), 1)
        a = mine[0]
        self.assertEqual(a.code, "fund.large_donation")
        self.assertTrue(a.resolved)
        self.assertEqual((a.resolved_seq, a.resolved_by, a.resolved_reason),
                         (v.acks[0].seq, "record.voided", "nhập trùng"))
        fresh = self.c.send([donation("big-keep", "600", 300_000_000)])
        self.c.query("fund", unit="600", min_seq=fresh.last_seq)
        kept = self.c.list_alerts(fresh.acks[0].seq - 1)
        self.assertEqual([(k.seq, k.resolved, k.resolved_by) for k in kept],
                         [(fresh.acks[0].seq, False, None)])

    def test_unreachable(self):
        nowhere = f"ipc://{self.d.dir}/nobody"
        for which in ("ingest", "query"):
            with povtrack.Client(nowhere, nowhere, timeout=0.2,
                                 retries=2) as c:
                t = time.monotonic()
                with self.assertRaises(povtrack.Unreachable) as cm:
                    if which == "ingest":
                        c.send([donation("lost", "593", 1)])
                    else:
                        c.ping()
                self.assertGreaterEqual(time.monotonic() - t, 0.6)
            e = cm.exception
            self.assertEqual((e.endpoint, e.attempts, e.timeout),
                             (nowhere, 3, 0.2))
            self.assertEqual(str(e), f"cannot reach povtrackd at {nowhere}: "
                                     f"timed out after 3 attempts of 200 ms")
            self.assertIsNone(e.result)

    def test_query_refused(self):
        with self.assertRaises(povtrack.Refused) as cm:
            self.c.query("fund", unit="99999")
        self.assertNotIsInstance(cm.exception, povtrack.HostRestarting)
        self.assertRegex(cm.exception.error, r"99999")
        with self.assertRaisesRegex(povtrack.Refused, r"nosuch"):
            self.c.query("nosuch", unit="60")

    def test_example_publisher_as_the_readme_shows(self):
        env = dict(os.environ, POVTRACK_INGEST=self.d.ingest,
                   POVTRACK_QUERY=self.d.query, PYTHONPATH=PYTHON_DIR,
                   PYTHONDONTWRITEBYTECODE="1")
        # The README's steps, on this daemon's endpoints.
        units = run(["povtrack", "send",
                     os.path.join(EXAMPLES, "units.jsonl")], env=env)
        self.assertEqual(units.returncode, 0, units.stderr)
        cmd = ["/usr/bin/python3",
               os.path.join(EXAMPLES, "agency_publisher.py"), "--unit", "593",
               os.path.join(EXAMPLES, "donations.csv")]
        # Run twice: the second run stores nothing again.
        for ok, duplicate in ((4, 0), (0, 4)):
            out = subprocess.run(cmd, env=env, capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            lines = out.stdout.splitlines()
            self.assertEqual(lines[0], f"sent 4 donations in 1 request(s): "
                                       f"{ok} ok, {duplicate} duplicate, "
                                       f"0 rejected")
            self.assertRegex(lines[1], r"^fund of unit 593 \(as of seq "
                                       r"\d+\): \d+ donations, [\d,]+ VND "
                                       r"received$")


class LowerLimits(DaemonCase):
    """A daemon whose [limits] are below the protocol's: a request above
    them is refused whole (Refused, nothing stored); max_events fits the
    client to them."""

    @classmethod
    def configure(cls, d):
        d.write_config("[limits]\nevents_max = 100\n")

    def test_refused_whole_then_split_to_fit(self):
        events = unit_events("limits", ["593"]) + [
            donation(f"lim-{i}", "593", 10) for i in range(248)]
        with self.d.client() as c:
            with self.assertRaises(povtrack.Refused) as cm:
                c.send(events)
            self.assertRegex(cm.exception.error,
                             r"^request: .*limits\.events_max \(100\)")
            self.assertIsNone(cm.exception.result)
            self.assertEqual(c.stats()["last_seq"], 0)
        with self.d.client(max_events=100) as c:
            r = c.send(events)
            self.assertEqual((r.requests, len(r.ok)), (3, 250))


if __name__ == "__main__":
    unittest.main()
