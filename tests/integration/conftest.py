"""Test harness: starts keel-server on a free port and hands out redis-py clients.

Each test module gets its own server (module scope), so files run in
parallel under pytest-xdist. Tests that need special configuration start
their own with `keel(...)`.
"""
import os
import random
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.environ.get("KEEL_SERVER", os.path.join(ROOT, "keel-server"))
# Options for every server the suite starts (a test's own options come
# after and win), e.g. to run the whole suite with I/O threads engaged.
SERVER_ARGS = os.environ.get("KEEL_SERVER_ARGS", "").split()
# Every server the tests start allows DEBUG from loopback, as Redis's own
# test suite sets it (the default is Redis's, no); a test's options win.
DEBUG_ARGS = ["--enable-debug-command", "local"]


def seed_script(name):
    """A Lua script of the seed article, verbatim, from tests/seed/."""
    with open(os.path.join(ROOT, "tests", "seed", name)) as f:
        return f.read()


def _port_slice():
    """This process's own run of ports: below the kernel's ephemeral range
    (so no outgoing connection of another test can take a port between
    free_port() and the server's bind), one slice per xdist worker (so two
    workers never hand out the same one), starting at a random place in it
    (so a run does not meet the last run's ports in TIME_WAIT)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    low = 10000
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0) % workers
    size = (ephemeral_low - low) // workers
    first = low + worker * size
    return first, size, random.randrange(size)


_SLICE = None  # (first port, size) once looked up
_next = 0       # where the next look starts, within the slice


def free_port():
    """A port nothing listens on, from this process's slice (_port_slice),
    handed out in turn."""
    global _SLICE, _next
    if _SLICE is None:
        first, size, _next = _port_slice()
        _SLICE = (first, size)
    first, size = _SLICE
    for _ in range(size):
        port = first + _next
        _next = (_next + 1) % size
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in %d..%d" % (first, first + size - 1))


def child_pids(pid, zombies=False):
    """The pids of the processes whose parent is pid (a server's forked
    children), zombies only when asked for."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and (zombies or fields[0] != "Z"):
                out.append(int(name))
    return out


def err(fn, *args):
    """The error text fn(*args) fails with (redis-py drops a leading "ERR ")."""
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


def unparsed(client, *names):
    """A client on client's pool that leaves the replies of the commands
    named as the server sent them (redis-py turns SET's into a bool and
    expects two-field stream entries, for instance)."""
    c = redis.Redis(connection_pool=client.connection_pool)
    for name in names:
        c.response_callbacks.pop(name, None)
    return c


def raw_cmd(*args):
    """One command as RESP bytes, for raw-socket tests."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


# Under ASan, every server the tests start (whichever helper starts it)
# leaves leaks inside third-party modules to the modules.
LSAN_SUPPRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lsan_modules.supp")
os.environ.setdefault("LSAN_OPTIONS", "suppressions=" + os.path.normpath(LSAN_SUPPRESSIONS))


class Server:
    """A running keel-server process."""

    def __init__(self, *args, config=None, binary=SERVER, env=None):
        self.dir = tempfile.mkdtemp(prefix="keel-test-")
        self.log = os.path.join(self.dir, "server.log")
        argv = [binary]
        if config is not None:
            path = os.path.join(self.dir, "keel.conf")
            with open(path, "w") as f:
                f.write(config)
            argv.append(path)
        # The free port may be taken (by another test's outgoing connection)
        # before the server binds it: then start again on another one.
        for attempt in range(5):
            self.port = free_port()
            self.logf = open(self.log, "w")
            extra = DEBUG_ARGS if config is None or "enable-debug-command" not in config else []
            extra = extra + (SERVER_ARGS if binary == SERVER else [])
            self.proc = subprocess.Popen(argv + extra + ["--port", str(self.port), "--dir", self.dir] + list(args),
                                         stdout=self.logf, stderr=subprocess.STDOUT, env=env)
            if self._wait_ready():
                return
            self.logf.close()
        raise RuntimeError("server could not bind a port:\n" + self.log_text())

    def _wait_ready(self):
        """True once it answers; False if it exited because the port was
        taken; raises on any other failure."""
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if "Address already in use" in self.log_text():
                    return False
                raise RuntimeError("server exited at start-up:\n" + self.log_text())
            try:
                # Ready means PONG: while the data loads, the server (like
                # Redis) accepts connections and answers -LOADING.
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    sock.sendall(b"PING\r\n")
                    reply = sock.recv(64)
                    if reply and not reply.startswith(b"-LOADING"):
                        return True  # PONG, or NOAUTH with a password set
                time.sleep(0.02)
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("server did not start:\n" + self.log_text())

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def raw(self):
        """A plain socket for protocol-level tests."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        # Under ASan a leak or error makes the exit code non-zero.
        rc = self.proc.returncode
        if rc not in (0, -15):
            raise AssertionError("server exited with %s:\n%s" % (rc, self.log_text()[-4000:]))


REDIS_BIN = "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def redis_ref():
    """Debian's redis-server beside the server under test, the reference of
    differential and interop tests: a client on an empty server (C locale,
    as SORT ALPHA compares with strcoll)."""
    if not os.access(REDIS_BIN, os.X_OK):
        pytest.skip("needs Debian's redis-server")
    s = Server("--save", "", "--appendonly", "no", binary=REDIS_BIN, env=dict(os.environ, LC_ALL="C"))
    c = s.client()
    c.flushall()
    yield c
    c.close()
    s.stop()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def r(server):
    """A redis-py client (bytes replies) on a flushed server."""
    c = server.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def rs(server):
    """A redis-py client that decodes replies to str."""
    c = server.client(decode_responses=True)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def plog(r):
    """The propagation log (DEBUG PROPAGATION-LOG): calling the fixture
    returns the writes propagated since the previous call (GET empties the
    log), as lists of str starting with the db number."""
    r.execute_command("DEBUG", "PROPAGATION-LOG", "ON")
    yield lambda: [[a.decode() for a in e] for e in r.execute_command("DEBUG", "PROPAGATION-LOG", "GET")]
    r.execute_command("DEBUG", "PROPAGATION-LOG", "OFF")


@pytest.fixture
def events(server, r):
    """Keyspace notifications (all classes) as (channel, message) pairs:
    calling the fixture drains what has arrived since the last call."""
    r.config_set("notify-keyspace-events", "KEA")
    c = server.client()
    p = c.pubsub()
    p.psubscribe("__key*__:*")
    assert p.get_message(timeout=2)["type"] == "psubscribe"

    def drain():
        out = []
        while True:
            m = p.get_message(timeout=0.3)
            if m is None:
                return out
            out.append((m["channel"].decode(), m["data"].decode()))

    yield drain
    p.close()
    c.close()
    r.config_set("notify-keyspace-events", "")


@pytest.fixture
def keel():
    """Factory for servers with custom arguments/config; stopped after the test."""
    started = []

    def start(*args, config=None):
        s = Server(*args, config=config)
        started.append(s)
        return s

    yield start
    # Every server stops, even after one reports a failure.
    failures = []
    for s in started:
        try:
            s.stop()
        except AssertionError as e:
            failures.append(e)
    if failures:
        raise failures[0]


def blocked_call(client, *args):
    """Runs a blocking command in a thread; returns (thread, result box)."""
    box = {}

    def run():
        try:
            box["value"] = client.execute_command(*args)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, box


def wait_blocked(r, n=1, timeout=5):
    """Waits until at least n clients are blocked."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if r.info("clients")["blocked_clients"] >= n:
            return
        time.sleep(0.01)
    raise AssertionError("client did not block")


def resp_exchange(sock, payload, expect_close=False, timeout=5):
    """Send raw bytes and read what comes back until a pause or close."""
    sock.sendall(payload)
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        if not expect_close:
            sock.settimeout(0.3)
    return data
