"""The povtrack package against the real povtrackd with CURVE and a
publisher registry, keys made by the real `povtrack keygen`: the stored
publisher is the key's, rights are enforced per event, and a key the
daemon refuses is told at once (KeyRefused), not after a timeout.
"""

import os
import time
import unittest

import povtrack
from daemon import DaemonCase, donation, unit_events

MTTQ = ("publish = donation.* fund.*\nunits = 593\nquery = fund\n"
        "alerts = yes\n")
PUBLISH_ONLY = "publish = *\nunits = *\n"


class Curve(DaemonCase):
    @classmethod
    def configure(cls, d):
        d.curve_setup({"mttq-593": MTTQ, "pubonly": PUBLISH_ONLY})
        d.keygen("stranger")  # not in the registry

    @classmethod
    def populate(cls):
        with cls.d.client() as c:
            r = c.send(unit_events("curve", ["593", "594"]))
            assert len(r.ok) == 3, r

    def test_publish_as_the_keys_publisher(self):
        with self.d.client("mttq-593") as c:
            before = c.query("fund", unit="593",
                             min_seq=c.stats()["last_seq"]).result["received"]
            r = c.send([donation("mttq-1", "593", 2500)])
            self.assertEqual(r.acks[0].status, "ok")
            fund = c.query("fund", unit="593", min_seq=r.last_seq)
            self.assertEqual(fund.result["received"], before + 2500)
        with self.d.client() as c:
            rec = c.request("read", **{"from": r.last_seq, "limit": 1})
        self.assertEqual(rec["records"][0]["publisher"], "mttq-593")

    def test_server_key_as_z85(self):
        server = povtrack.read_keyfile(self.d.server_pub, secret=False)
        with povtrack.Client(self.d.ingest, self.d.query,
                             server_key=server.public,
                             key=povtrack.read_keyfile(
                                 self.d.keys["mttq-593"])) as c:
            self.assertTrue(c.ping()["ok"])

    def test_rights_per_event(self):
        events = [donation("rights-1", "593", 10),
                  donation("rights-2", "594", 10),
                  povtrack.event("household.status", "rights-3", 1735750800,
                                 "593", {"year": 2025, "status": "poor"},
                                 household="hh-1")]
        with self.d.client("mttq-593") as c:
            r = c.send(events)
            with self.assertRaises(povtrack.Refused) as cm:
                c.query("poverty", unit="593")
        self.assertEqual([a.status for a in r.acks],
                         ["ok", "rejected", "rejected"])
        self.assertEqual(r.acks[1].error,
                         'unit: publisher "mttq-593" may not publish for '
                         'unit 594 (its rights: units = 593)')
        self.assertEqual(r.acks[2].error,
                         'type: publisher "mttq-593" may not publish '
                         'household.status (its rights: publish = '
                         'donation.* fund.*)')
        self.assertIn('may not query plugin poverty', cm.exception.error)

    def test_refused_key_is_told_at_once(self):
        # A key the registry does not hold: refused on every endpoint.
        # One without query or alerts rights: refused on the query
        # endpoint only.
        cases = (("stranger", "ingest"), ("stranger", "query"),
                 ("stranger", "alerts"), ("pubonly", "query"))
        for who, endpoint in cases:
            with self.subTest(who=who, endpoint=endpoint):
                with self.d.client(who, timeout=10, retries=2) as c:
                    t = time.monotonic()
                    with self.assertRaises(povtrack.KeyRefused) as cm:
                        if endpoint == "ingest":
                            c.send([donation("never", "593", 1)])
                        elif endpoint == "query":
                            c.ping()
                        else:
                            next(iter(c.alerts(since=0)))
                    self.assertLess(time.monotonic() - t, 5)
                e = cm.exception
                self.assertEqual(e.status, 400)
                self.assertEqual(e.endpoint,
                                 getattr(self.d, endpoint if endpoint !=
                                         "alerts" else "query"))
                self.assertIn("refused this client's key (status 400)",
                              str(e))
        with self.d.client("pubonly") as c:
            self.assertEqual(c.send([donation("pubonly-1", "593", 1)])
                             .acks[0].status, "ok")

    def test_wrong_server_key(self):
        stranger = povtrack.read_keyfile(self.d.keys["stranger"])
        with povtrack.Client(self.d.ingest, self.d.query,
                             server_key=stranger.public,
                             key=self.d.keys["tester"], timeout=0.3,
                             retries=1) as c:
            with self.assertRaises(povtrack.KeyRefused) as cm:
                c.ping()
        self.assertIsNone(cm.exception.status)
        self.assertIn("is server_key the daemon's public key",
                      str(cm.exception))

    def test_alerts_over_curve(self):
        with self.d.client("mttq-593") as c:
            with c.alerts(timeout=30) as stream:
                r = c.send([donation("curve-big", "593", 100_000_000)])
                alert = next(stream)
        self.assertEqual((alert.code, alert.seq),
                         ("fund.large_donation", r.last_seq))

    def test_key_file_problems_before_connecting(self):
        leaky = self.d.keygen("leaky")
        os.chmod(leaky, 0o644)
        with self.assertRaisesRegex(povtrack.KeyFileError,
                                    "readable by its owner only"):
            self.d.client(key=leaky)
        with self.assertRaisesRegex(povtrack.KeyFileError, "no secret-key"):
            self.d.client(key=self.d.server_pub)


if __name__ == "__main__":
    unittest.main()
