"""Replication under bad peers: a fake primary (a Python socket server that
speaks the handshake) sends a truncated snapshot, a corrupt one, or garbage
instead of one; a fake replica asks for the stream and stops reading. The
server must keep serving, report the link down, retry, never serve half a
dataset, and drop a replica that does not read. Keel only (the fake peers
script one side of the protocol)."""
import contextlib
import socket
import threading
import time

from persist_util import TempDirs, removal_fixture
from repl_util import HOST, Raw, cluster_fixture, wait_until

mkdir = TempDirs("keel-repl-faults-")
_remove_tmpdirs = removal_fixture(mkdir)

cluster = cluster_fixture(mkdir)


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


@contextlib.contextmanager
def replica_of_fake(cluster, serve):
    """A Keel server with data of its own, told to replicate a fake primary
    that runs serve(conn) after the handshake; yields it once it has tried
    twice (so the first failure was handled and a retry began)."""
    fake = FakePrimary(serve)
    try:
        r = cluster.start("keel")
        r.c.set("mine", "old data")
        assert r.c.execute_command("REPLICAOF", HOST, fake.port) == "OK"
        wait_until(lambda: fake.connections >= 2, "the replica retried")
        yield r
    finally:
        fake.close()


def test_truncated_snapshot_keeps_the_old_data_and_retries(cluster):
    rdb = valid_rdb(cluster)

    def serve(conn):
        conn.sendall(b"$%d\r\n" % len(rdb) + rdb[: len(rdb) // 2])  # then the link dies

    with replica_of_fake(cluster, serve) as r:
        info = r.repl()
        assert info["master_link_status"] == "down"
        # Nothing was flushed: the transfer never completed.
        assert r.c.get("mine") == "old data"
        assert r.c.exists("x") == 0


def test_corrupt_snapshot_is_never_served_half_loaded(cluster):
    rdb = bytearray(valid_rdb(cluster))
    rdb[len(rdb) // 2] ^= 0xFF  # the CRC64 trailer no longer matches

    def serve(conn):
        conn.sendall(b"$%d\r\n" % len(rdb) + bytes(rdb))
        time.sleep(0.5)

    with replica_of_fake(cluster, serve) as r:
        assert r.repl()["master_link_status"] == "down"
        # The old data was replaced, the new did not load: empty, as Redis.
        assert r.c.dbsize() == 0
        assert "Failed trying to load the MASTER synchronization DB from disk" in open(r.node.log).read()
        assert r.c.ping() is True


def test_garbage_instead_of_a_snapshot(cluster):
    def serve(conn):
        conn.sendall(b"this is not a bulk\r\n")
        time.sleep(0.3)

    with replica_of_fake(cluster, serve) as r:
        assert r.repl()["master_link_status"] == "down"
        assert r.c.get("mine") == "old data"
        assert "Bad protocol from MASTER" in open(r.node.log).read()


def test_huge_bulk_length_is_refused_by_the_disk_not_memory(cluster):
    """A primary that promises 2^40 bytes and sends 10: the replica writes
    what arrives to its temp file (no allocation of the promised size) and
    gives up on the link when it closes."""
    def serve(conn):
        conn.sendall(b"$1099511627776\r\n0123456789")

    with replica_of_fake(cluster, serve) as r:
        assert int(r.info("memory")["used_memory"]) < 64 * 1024 * 1024
        assert r.c.get("mine") == "old data"


def test_a_replica_that_stops_reading_is_dropped(cluster):
    p = cluster.start("keel")
    p.c.config_set("client-output-buffer-limit", "replica 1mb 0 0")
    raw = Raw(p.port)
    raw.send("REPLCONF", "capa", "psync2")
    assert raw.line() == b"+OK"
    raw.send("PSYNC", "?", "-1")
    assert raw.line().startswith(b"+FULLRESYNC ")
    # Never read again; flood the stream.
    value = "v" * 10000
    drops = int(p.info("stats")["client_output_buffer_limit_disconnections"])
    deadline = time.time() + 20
    while time.time() < deadline:
        pipe = p.c.pipeline(transaction=False)
        for i in range(200):
            pipe.set("k%d" % i, value)
        pipe.execute()
        if int(p.info("stats")["client_output_buffer_limit_disconnections"]) > drops:
            break
    assert int(p.info("stats")["client_output_buffer_limit_disconnections"]) > drops
    wait_until(lambda: p.repl()["connected_slaves"] == "0", "the replica dropped")
    assert p.c.set("still", "works") is True
    raw.close()


def test_psync_from_an_unknown_history_gets_a_full_resync(cluster):
    p = cluster.start("keel")
    p.c.set("k", "v")
    raw = Raw(p.port)
    raw.send("PSYNC", "f" * 40, "12345")
    line = raw.line()
    assert line.startswith(b"+FULLRESYNC ")
    raw.close()
    wait_until(lambda: p.stat("sync_partial_err") == 1, "the refused partial resync counted")
