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
import random
import re
import socket
import threading
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
    """The primary shows the replica online: from the end of its snapshot
    (and counts it for min-replicas-to-write from then). After a diskless
    full sync the stream follows the replica's first REPLCONF ACK, sent once
    the snapshot is loaded, so WAIT may lag until then."""
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

    def until_closed(self, timeout):
        """Everything else the server sends until it closes the connection;
        fails if it is still open after `timeout` seconds."""
        self.sock.settimeout(timeout)
        while True:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                data, self.buf = self.buf, b""
                return data
            self.buf += chunk

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


def snapshot_in(data):
    """The RDB in a primary's whole reply to SYNC, in either form: "$<len>"
    and the bytes, or "$EOF:<mark>", the bytes and the mark."""
    data = data.lstrip(b"\n")
    if data.startswith(b"$EOF:"):
        mark = data[5:45]
        assert data[45:47] == b"\r\n" and data.endswith(mark), data[:80]
        return data[47:-40]
    head, rest = data.split(b"\r\n", 1)
    assert head.startswith(b"$") and len(rest) == int(head[1:]), data[:80]
    return rest


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


# ---------------------------------------------------------------- datasets

DBS = (0, 1, 3, 15)
LIB = ("#!lua name=repllib\n"
       "redis.register_function('repl_echo', function(keys, args) return args[1] end)\n"
       "redis.register_function{function_name='repl_get', callback=function(keys, args) "
       "return redis.call('GET', keys[1]) end, flags={'no-writes'}}\n")


def preload(peer):
    """Every type and encoding in db 0 (strings: short, empty, binary,
    integers, 300 KB random, compressible; lists, hashes, sorted sets small
    and big; sets as intset, small and big; streams with deleted entries, two
    groups, consumers with and without pending entries), TTLs, more keys (some
    with db 0's names) in dbs 1, 3 and 15, a function library."""
    rng = random.Random(20240611)
    c = peer.bytes_client(0)
    p = c.pipeline(transaction=False)
    p.set("s:short", "hello")
    p.set("s:empty", "")
    p.set(b"s:bin\x00\xff", b"\x00\r\n\xff binary")
    for v in ("0", "-1", "127", "32767", "2147483648", str(2**63 - 1), str(-2**63), "007", "1.5", "-0"):
        p.set("s:int:" + v, v)
    p.incrby("s:counter", 41)
    p.set("s:big", rng.randbytes(300_000))
    p.set("s:lzf", "ab" * 20_000)
    p.rpush("l:small", "a", "1", "-99", "", "x" * 100)
    p.rpush("l:big", *[str(i) if i % 3 == 0 else "item-%d" % i for i in range(5000)])
    p.hset("h:small", mapping={"f": "v", "n": 12, "e": ""})
    p.hset("h:big", mapping={"field:%d" % i: "v" * (i % 70) for i in range(1000)})
    p.sadd("set:int", *range(-5, 300))
    p.sadd("set:small", "a", "b", "c")
    p.sadd("set:big", *["m%d" % i for i in range(2000)])
    p.zadd("z:small", {"a": 1, "b": -2.5, "c": float("inf"), "d": float("-inf")})
    p.zadd("z:big", {"m%d" % i: i * 0.25 for i in range(1000)})
    p.set("t:px", "x", px=3_600_000)
    p.expire("l:small", 7200)
    p.expireat("h:small", int(time.time()) + 86400)
    p.pexpire("z:big", 5_000_000)
    p.execute()
    x = c.execute_command
    for i in range(1, 21):
        x("XADD", "x:s", "%d-%d" % (1000 + i, i), "f", "v%d" % i, "n", i)
    x("XDEL", "x:s", "1005-5")
    x("XGROUP", "CREATE", "x:s", "g1", "0")
    x("XGROUP", "CREATE", "x:s", "g2", "$")
    x("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "4", "STREAMS", "x:s", ">")
    x("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", "x:s", ">")
    x("XACK", "x:s", "g1", "1002-2")
    x("XGROUP", "CREATECONSUMER", "x:s", "g1", "carol")
    p = c.pipeline(transaction=False)
    for i in range(1, 1201):
        p.execute_command("XADD", "x:big", "%d-0" % (10**12 + i), "f%d" % (i // 100), i, "pad", "p" * (i % 30))
    p.execute()
    x("EXPIRE", "x:big", 100_000)
    x("FUNCTION", "LOAD", LIB)
    for db in (1, 3, 15):
        d = peer.bytes_client(db)
        d.set("s:short", "db%d" % db)
        d.rpush("l:db", *range(db + 1))
        d.hset("h:db", mapping={"db": db})
        d.set("t:db", "x", ex=1000 * db)
        d.close()
    c.close()


# ---------------------------------------------------------------- a fake primary

def read_command(f):
    """One RESP array of bulk strings, names upper-cased."""
    line = f.readline()
    if not line.startswith(b"*"):
        raise OSError("closed or not RESP: %r" % line)
    args = []
    for _ in range(int(line[1:])):
        n = int(f.readline()[1:])
        args.append(f.read(n + 2)[:-2])
    args[0] = args[0].upper()
    return args


class FakePrimary:
    """Accepts replicas, answers the handshake, then runs `serve(conn)`
    for the snapshot part; counts the connections it got."""

    def __init__(self, serve):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.serve = serve
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            try:
                conn.settimeout(5)
                self.handshake(conn)
                self.serve(conn)
            except OSError:
                pass
            finally:
                conn.close()

    def handshake(self, conn):
        f = conn.makefile("rb")
        while True:
            cmd = read_command(f)
            if cmd[0] == b"PING":
                conn.sendall(b"+PONG\r\n")
            elif cmd[0] in (b"REPLCONF", b"AUTH"):
                conn.sendall(b"+OK\r\n")
            elif cmd[0] == b"PSYNC":
                conn.sendall(b"+FULLRESYNC " + b"a" * 40 + b" 0\r\n")
                return
            else:
                raise OSError("unexpected %r" % cmd)

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def valid_rdb(cluster):
    """A real snapshot with two keys, from a scratch Keel server."""
    p = cluster.start("keel")
    p.c.mset({"x": "1", "y": "2"})
    raw = Raw(p.port)
    raw.send("SYNC")
    line = raw.line()
    while line == b"":
        line = raw.line()
    assert line.startswith(b"$")
    data = raw.exact(int(line[1:]))
    raw.close()
    return data
