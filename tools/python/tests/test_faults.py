"""The povtrack package when povtrackd does not answer or cannot serve:
Lazy Pirate retries across a stopped daemon store every event exactly
once, and while the plugin host restarts queries raise HostRestarting
with the daemon's retry_after, and ingest goes on.
"""

import os
import signal
import time
import unittest

import povtrack
from daemon import Daemon, donation, unit_events


class Daemonised(unittest.TestCase):
    def setUp(self):
        self.d = Daemon()
        self.addCleanup(self.destroy)

    def destroy(self):
        status = self.d.destroy()
        self.assertEqual(status, 0, "povtrackd's exit status")


class Retries(Daemonised):
    def test_resend_after_timeout_stores_once(self):
        """SIGSTOP the daemon across a timeout: the first attempt's request
        waits in its socket; the retry, on a fresh socket, carries the
        same ids, so once SIGCONT lets both through, the resend's acks are
        "duplicate" at the first one's sequences and the log holds each
        event once."""
        d = self.d
        d.start()
        n = 500
        with d.client() as watcher:
            r = watcher.send(unit_events("retry", ["593"]))
            base = r.last_seq
            retried = []

            def on_retry(endpoint, attempt):
                # The first attempt timed out while the daemon was stopped.
                # Let it go, and wait (a query with min_seq: the daemon's
                # own answer) until its events are stored, before the
                # client sends them again.
                retried.append((endpoint, attempt))
                if attempt == 1:
                    os.kill(d.proc.pid, signal.SIGCONT)
                    watcher.query("fund", unit="593", min_seq=base + n)

            events = [donation(f"retry-{i}", "593", 10) for i in range(n)]
            with d.client(timeout=0.5, retries=3, on_retry=on_retry) as c:
                c.ping()
                c.send([donation("retry-warm", "593", 10)])  # connected
                base += 1
                os.kill(d.proc.pid, signal.SIGSTOP)
                result = c.send(events)
            self.assertEqual(retried, [(d.ingest, 1)])
            self.assertEqual(len(result.duplicates), n)
            self.assertEqual([a.seq for a in result.acks],
                             list(range(base + 1, base + n + 1)))
            fund = watcher.query("fund", unit="593", min_seq=base + n).result
            self.assertEqual(fund["donations"], n + 1)
            stats = watcher.stats()
            self.assertEqual((stats["events"], stats["last_seq"]),
                             (base + n, base + n))


class HostRestart(Daemonised):
    def test_host_restarting(self):
        """With its config file edited into one the plugin host refuses,
        a killed host is restarted with a back-off and does not serve:
        the stand-in answers queries with retry_after, ingest goes on;
        once the file is mended, waiting as the daemon says brings the
        answers back, with what was sent meanwhile."""
        d = self.d
        d.start()
        with d.client() as c:
            c.send(unit_events("restart", ["593"]))
            d.write_config("[plugin.fund]\nno_such_key = 1\n")
            os.kill(d.host_pid(), signal.SIGKILL)
            # The handshake: the daemon's own answer.  A reply the dying
            # host gave first is an ordinary one; ask again.
            deadline = time.monotonic() + 30
            while True:
                try:
                    c.ping()
                except povtrack.HostRestarting as e:
                    restarting = e
                    break
                self.assertLess(time.monotonic(), deadline)
            self.assertIsInstance(restarting, povtrack.Refused)
            self.assertRegex(restarting.error,
                             r"^plugin host is restarting \(.*\); retry in "
                             r"\d+ ms$")
            self.assertEqual(restarting.endpoint, d.query)
            self.assertGreater(restarting.retry_after_ms, 0)
            self.assertEqual(restarting.retry_after,
                             restarting.retry_after_ms / 1000)
            with self.assertRaises(povtrack.HostRestarting):
                c.query("fund", unit="593")

            r = c.send([donation("restart-1", "593", 4200)])
            self.assertEqual(r.acks[0].status, "ok")

            d.write_config("")
            deadline = time.monotonic() + 60
            while True:
                try:
                    fund = c.query("fund", unit="593", min_seq=r.last_seq)
                    break
                except povtrack.HostRestarting as e:
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(e.retry_after)  # as long as the daemon asks
            self.assertEqual(fund.result["received"], 4200)


if __name__ == "__main__":
    unittest.main()
