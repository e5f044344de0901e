"""Helpers for test_replication.py: servers of either kind ("keel" is
KEEL_SERVER, "redis" is Debian's /usr/bin/redis-server), the INFO sections
read as plain strings, polling waits for the replication link and offsets,
a raw RESP connection for the handshake commands (PSYNC, SYNC) and exact
error texts, and the comparison of two servers' datasets.

Every server gets its own --dir, `--save ""`, `--enable-debug-command yes`
(Redis 7.0 refuses DEBUG by default) and `--repl-diskless-sync-delay 0`
(Redis waits 5 s by default before a diskless full sync starts, hoping more
replicas join)."""
import os
import re
import socket
import time

import pytest
from conftest import SERVER
from persist_util import Node, assert_same, snapshot

REDIS = "/usr/bin/redis-server"
HAVE_REDIS = os.access(REDIS, os.X_OK)
HOST = "127.0.0.1"
BINARIES = {"keel": SERVER, "redis": REDIS}
DEADLINE = 20  # seconds any wait may take before it fails the test
NO_REDIS = "needs Debian's redis-server 7.0 at %s (apt-get install redis-server)" % REDIS


def base_args(binary):
    return ["--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0"]


def kinds_param(*kinds):
    """pytest.param(kinds) with an id like "keel-redis", skipped when a
    "redis" kind is asked for and redis-server is missing."""
    marks = [] if HAVE_REDIS or "redis" not in kinds else [pytest.mark.skip(reason=NO_REDIS)]
    return pytest.param(kinds, id="-".join(kinds), marks=marks)


# ---------------------------------------------------------------- servers

class Peer:
    """A server process (a persist_util.Node) of one kind with a str client
    `c` whose INFO replies are left as text (redis-py would turn an all-digit
    replication ID such as 40 zeros into the int 0)."""

    def __init__(self, kind, dir, args=()):
        self.kind = kind
        self.binary = BINARIES[kind]
        self.node = Node(self.binary, dir, args, save="", base_args=base_args)
        self.port = self.node.port
        self.c = self.client()

    def client(self, db=0, **kw):
        kw.setdefault("decode_responses", True)
        c = self.node.client(db, **kw)
        for name in ("INFO", "SLAVEOF"):  # INFO as text, SLAVEOF's reply as sent (not True)
            c.response_callbacks.pop(name, None)
        return c

    def bytes_client(self, db=0):
        """A bytes client without redis-py's parsers for stream replies."""
        return self.node.raw(db)

    def info(self, section="replication"):
        """INFO <section> as {field: str value}."""
        out = {}
        for line in self.c.execute_command("INFO", section).splitlines():
            if line and not line.startswith("#") and ":" in line:
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def repl(self):
        return self.info("replication")

    def stat(self, field):
        return int(self.info("stats")[field])

    def offset(self):
        return int(self.repl()["master_repl_offset"])

    def replicaof(self, primary):
        return self.c.execute_command("REPLICAOF", HOST, primary.port)

    def alive(self):
        return self.node.proc.poll() is None

    def stop(self):
        self.c.close()
        self.node.stop()

    def restart(self, *args, down=0.0):
        """SHUTDOWN SAVE (the dump.rdb records the replication history),
        `down` seconds later the same kind on the same dir and port with
        `args`."""
        self.c.shutdown(save=True)
        self.node.proc.wait(20)
        self.node.logf.close()
        time.sleep(down)
        self.node = Node(self.binary, self.node.dir, args, save="", base_args=base_args, port=self.port)
        self.c = self.client()


def cluster_fixture(mkdir):
    """A test fixture named `cluster`: a Cluster on mkdir's directories,
    whose processes are all stopped (and checked) after the test."""

    @pytest.fixture(name="cluster")
    def cluster():
        c = Cluster(mkdir)
        yield c
        c.stop_all()

    return cluster


class Cluster:
    """start(kind, *args) -> Peer on a fresh directory; stop_all() ends
    every process started (SIGTERM, then SIGKILL), last started first, and
    fails if one of them exited badly (a crash, a sanitizer report) — after
    all are ended."""

    def __init__(self, mkdir):
        self.mkdir, self.peers = mkdir, []

    def start(self, kind, *args):
        if kind == "redis" and not HAVE_REDIS:
            pytest.skip(NO_REDIS)
        p = Peer(kind, self.mkdir(), args)
        self.peers.append(p)
        return p

    def stop_all(self):
        problems = []
        # Replicas first: a Redis 7.0 primary told to stop waits (up to
        # shutdown-timeout) for its replicas to acknowledge its offset.
        for p in reversed(self.peers):
            try:
                p.stop()
            except Exception as e:  # noqa: BLE001 - reported once all are stopped
                problems.append("%s on port %d: %s" % (p.kind, p.port, e))
            finally:
                if p.node.proc.poll() is None:
                    p.node.proc.kill()
                    p.node.proc.wait()
                if not p.node.logf.closed:
                    p.node.logf.close()
        self.peers = []
        if problems:
            raise AssertionError("\n".join(problems))


# ---------------------------------------------------------------- waits

def wait_until(cond, what, timeout=DEADLINE, peers=()):
    """Polls cond() until it returns something true and returns that; fails
    after `timeout` seconds naming `what` (with the INFO replication of
    `peers`)."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            state = "\n".join("%s:%d %s" % (p.kind, p.port, p.repl()) for p in peers if p.alive())
            raise AssertionError("timed out waiting for %s\n%s" % (what, state))
        time.sleep(0.02)


def link_up(replica):
    return replica.repl().get("master_link_status") == "up"


def in_sync(primary, replica):
    """The replica's link is up and it has processed all the primary wrote
    to its replication stream."""
    if not link_up(replica):
        return False
    return int(primary.repl()["master_repl_offset"]) == int(replica.repl()["slave_repl_offset"])


def wait_link_up(replica, primary=None):
    peers = (replica,) if primary is None else (primary, replica)
    wait_until(lambda: link_up(replica), "master_link_status:up", peers=peers)


def replica_entry(primary, replica):
    """The primary's INFO slaveN line for `replica` as a dict of str, or None."""
    for k, v in primary.repl().items():
        if re.fullmatch(r"slave\d+", k):
            entry = dict(kv.split("=", 1) for kv in v.split(","))
            if entry.get("port") == str(replica.port):
                return entry
    return None


def online(primary, replica):
    """The primary counts the replica as online. A Redis primary puts a
    replica that took a diskless full sync online only at its first REPLCONF
    ACK (replicas ack once a second), so WAIT, ROLE and min-replicas-to-write
    ignore it for up to a second after the replica's link is up."""
    e = replica_entry(primary, replica)
    return e is not None and e["state"] == "online"


def wait_in_sync(primary, *replicas):
    for r in replicas:
        wait_until(lambda: in_sync(primary, r), "equal replication offsets", peers=(primary, r))


def replicate(primary, replica):
    """REPLICAOF the primary (reply OK), then wait for the link and offsets."""
    assert replica.replicaof(primary) == "OK"
    wait_link_up(replica, primary)
    wait_until(lambda: online(primary, replica), "the primary to see the replica online", peers=(primary, replica))
    wait_in_sync(primary, replica)


def stays(cond, what, seconds=1.5):
    """cond() holds at every poll for `seconds` (for "never happens" checks:
    a replication cron runs once a second, so 1.5 s sees at least one retry)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert cond(), what
        time.sleep(0.05)


# ---------------------------------------------------------------- raw RESP

class Raw:
    """A plain socket speaking RESP by hand, for the replication handshake
    and exact reply texts."""

    def __init__(self, port, timeout=DEADLINE):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("connection closed; got so far %r" % self.buf[:200])
        self.buf += chunk

    def line(self):
        """The next line, without its CRLF."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def skip_newlines(self):
        """A primary preparing a snapshot for a replica sends bare "\\n"
        keep-alives before the payload."""
        while True:
            while not self.buf:
                self._fill()
            if self.buf[:1] != b"\n":
                return
            self.buf = self.buf[1:]

    def close(self):
        self.sock.close()


def raw_reply(peer, *args):
    """The first line of the reply to one command on a fresh connection, as
    the server sent it ("-ERR ...", "+OK", ":1")."""
    r = Raw(peer.port)
    try:
        r.send(*args)
        return r.line().decode()
    finally:
        r.close()


def read_rdb_payload(raw):
    """The snapshot a primary sends a replica that did not announce
    `capa eof`: "$<len>\\r\\n" then <len> bytes (no CRLF after them)."""
    raw.skip_newlines()
    head = raw.line()
    assert head.startswith(b"$") and head[1:].isdigit(), head
    return raw.exact(int(head[1:]))


def parse_commands(data):
    """A replication stream (RESP arrays of bulk strings, back to back) as
    lists of bytes arguments; fails on anything else or a cut-off command."""
    cmds, i = [], 0
    while i < len(data):
        assert data[i:i + 1] == b"*", data[i:i + 60]
        j = data.index(b"\r\n", i)
        n, i = int(data[i + 1:j]), j + 2
        args = []
        for _ in range(n):
            assert data[i:i + 1] == b"$", data[i:i + 60]
            j = data.index(b"\r\n", i)
            size, i = int(data[i + 1:j]), j + 2
            args.append(data[i:i + size])
            assert data[i + size:i + size + 2] == b"\r\n"
            i += size + 2
        cmds.append(args)
    return cmds


# ---------------------------------------------------------------- datasets

def digests(peer, dbs):
    """DEBUG DIGEST and {(db, key): DEBUG DIGEST-VALUE key}."""
    out = {}
    for db in dbs:
        c = peer.bytes_client(db)
        for k in c.scan_iter(count=1000):
            out[(db, k)] = c.execute_command("DEBUG", "DIGEST-VALUE", k)
        c.close()
    return peer.c.execute_command("DEBUG", "DIGEST"), out


def assert_same_data(primary, replica, dbs, exact=True):
    """Both hold the same data: every key's type, value, stream groups and
    PEL, TTL (the replica's no longer than the primary's), function
    libraries, the sizes of the other databases; and DEBUG DIGEST and every
    key's DEBUG DIGEST-VALUE are equal (Keel computes them as Redis does, so
    they compare across the two servers). exact=False: the read-back
    comparison leaves out what Redis 7.0's propagation loses of stream
    groups (persist_util.forget_what_redis70_aof_forgets); the digests do
    not cover those fields and are compared anyway."""
    before = snapshot(primary.node, dbs)
    after = snapshot(replica.node, dbs)
    assert_same(before, after, exact=exact)
    pd, pk = digests(primary, dbs)
    rd, rk = digests(replica, dbs)
    assert rk == pk
    assert rd == pd
    assert pd != "0" * 40 or not before["data"]
