"""Start the real povtrackd for a test, as tests/integration/daemon.h does
for the C tests: ipc:// endpoints in a fresh temporary directory, the
daemon and plugins of the build tree (POVTRACK_BIN_DIR and
POVTRACK_PLUGIN_DIR, which ctest sets; else build/).  Every wait is a
handshake with a bounded timeout (a ping answered, a process reaped),
never a sleep.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import povtrack

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
BIN_DIR = os.environ.get("POVTRACK_BIN_DIR",
                         os.path.join(SOURCE_DIR, "build", "bin"))
PLUGIN_DIR = os.environ.get("POVTRACK_PLUGIN_DIR",
                            os.path.join(SOURCE_DIR, "build", "lib",
                                         "povtrack"))
START_TIMEOUT = 30.0  # seconds for the daemon to answer a ping

# A province and a district of it, for donations.
PROVINCE = "60"
T0 = 1735664400  # 2025-01-01 00:00 UTC+7


def unit_events(prefix, districts=()):
    """unit.defined of province 60 and of each district code under it."""
    evs = [povtrack.event("unit.defined", f"{prefix}-unit-60", T0, PROVINCE,
                          {"name": "Bình Thuận", "parent": None,
                           "level": "province"})]
    for code in districts:
        evs.append(povtrack.event("unit.defined", f"{prefix}-unit-{code}", T0,
                                  code, {"name": f"Huyện {code}",
                                         "parent": PROVINCE,
                                         "level": "district"}))
    return evs


def donation(id, unit, amount, at=T0 + 86400, donor="Công ty A"):
    return povtrack.event("donation.received", id, at, unit,
                          {"amount": amount, "donor": donor,
                           "donor_kind": "business", "level": "district"})


def run(args, **kw):
    """Run a program of the build tree to its end (bounded)."""
    return subprocess.run([os.path.join(BIN_DIR, args[0])] + list(args[1:]),
                          capture_output=True, text=True, timeout=60, **kw)


class Daemon:
    """One povtrackd in its own temporary directory."""

    def __init__(self, plugins="fund"):
        self.dir = tempfile.mkdtemp(prefix="povtrack-pytest-")
        self.data_dir = os.path.join(self.dir, "data")
        self.ingest = f"ipc://{self.dir}/ingest"
        self.query = f"ipc://{self.dir}/query"
        self.alerts = f"ipc://{self.dir}/alerts"
        self.config = os.path.join(self.dir, "povtrackd.ini")
        self.log = os.path.join(self.dir, "daemon.log")
        self.plugins = plugins
        self.proc = None
        self.server_pub = None  # with CURVE: the daemon's .pub file
        self.keys = {}  # publisher name -> its .key file
        self.write_config("")

    # ---- configuration ---------------------------------------------------

    def write_config(self, text):
        """The config file: [daemon] plugins, the [security] section when
        CURVE is set up, then text."""
        security = ""
        if self.server_pub is not None:
            security = (f"[security]\ncurve_key = {self.dir}/server.key\n"
                        f"registry = {self.dir}/publishers.ini\n")
        with open(self.config + ".tmp", "w") as f:
            f.write(f"[daemon]\nplugins = {self.plugins}\n{security}{text}\n")
        os.replace(self.config + ".tmp", self.config)

    def keygen(self, name):
        """A key pair written by the real `povtrack keygen`: the path of
        NAME.key; NAME.pub beside it."""
        path = os.path.join(self.dir, name)
        r = run(["povtrack", "keygen", path])
        if r.returncode != 0:
            raise RuntimeError(f"povtrack keygen {name}: {r.stderr}")
        self.keys[name] = path + ".key"
        return path + ".key"

    def public_key(self, name):
        return povtrack.read_keyfile(self.keys[name], secret=False).public

    def curve_setup(self, registry):
        """CURVE on: the daemon's key pair, "tester" with every right, and
        registry: {name: "rights lines"} (each name gets a key pair)."""
        self.keygen("server")
        self.server_pub = os.path.join(self.dir, "server.pub")
        self.keygen("tester")
        entries = {"tester": "publish = *\nunits = *\nquery = *\n"
                             "alerts = yes\n"}
        for name, rights in registry.items():
            self.keygen(name)
            entries[name] = rights
        with open(os.path.join(self.dir, "publishers.ini"), "w") as f:
            for name, rights in entries.items():
                f.write(f"[{name}]\nkey = {self.public_key(name)}\n{rights}\n")
        self.write_config("")

    # ---- clients ---------------------------------------------------------

    def client(self, as_=None, **kw):
        """A Client of this daemon; with CURVE, as publisher as_ (default
        "tester")."""
        if self.server_pub is not None:
            kw.setdefault("server_key", self.server_pub)
            kw.setdefault("key", self.keys[as_ or "tester"])
        return povtrack.Client(self.ingest, self.query, self.alerts, **kw)

    # ---- the process -----------------------------------------------------

    def start(self):
        """Start povtrackd and wait until its plugin host answers a ping."""
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BIN_DIR, "povtrackd"), "--data-dir",
                 self.data_dir, "--ingest", self.ingest, "--query",
                 self.query, "--alerts", self.alerts, "--plugin-dir",
                 PLUGIN_DIR, "--log-level", "warn", "-c", self.config],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.wait_ready()

    def wait_ready(self):
        """The handshake: a ping answered ok (while the plugin host starts
        the stand-in says when to ask again)."""
        deadline = time.monotonic() + START_TIMEOUT
        with self.client(timeout=1.0, retries=0) as c:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"povtrackd exited with status "
                                       f"{self.proc.returncode}: "
                                       f"{self.log_text()}")
                try:
                    c.ping()
                    return
                except povtrack.HostRestarting as e:
                    wait = min(e.retry_after, deadline - time.monotonic())
                    if wait > 0:
                        time.sleep(wait)  # as long as the daemon asks
                except povtrack.Unreachable:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"povtrackd did not answer a ping "
                                       f"in {START_TIMEOUT} s: "
                                       f"{self.log_text()}")

    def host_pid(self):
        """The plugin host's pid (the daemon's child), or None."""
        path = f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"
        with open(path) as f:
            pids = f.read().split()
        return int(pids[0]) if pids else None

    def stop(self):
        """SIGTERM, wait; the exit status (-N: killed by signal N)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGCONT)  # in case a test stopped it
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def destroy(self):
        """Stop it and remove its directory; returns the exit status.
        Sanitizer reports in its log are shown."""
        status = self.stop()
        text = self.log_text()
        if "Sanitizer" in text or "runtime error" in text:
            print(text)
        shutil.rmtree(self.dir, ignore_errors=True)
        return status


class DaemonCase(unittest.TestCase):
    """A test class with one povtrackd (cls.d) for all its tests:
    configure(d) before it starts, populate() once it answers; stopped
    after the last test, when its exit status must be 0."""

    @classmethod
    def configure(cls, d):
        pass

    @classmethod
    def populate(cls):
        pass

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        try:
            cls.configure(cls.d)
            cls.d.start()
            cls.populate()
        except BaseException:
            cls.d.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        status = cls.d.destroy()
        if status != 0:
            raise AssertionError(f"povtrackd exited with {status}")
