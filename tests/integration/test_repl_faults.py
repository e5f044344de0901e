"""Replication under bad peers: a fake primary (a Python socket server that
speaks the handshake) sends a truncated snapshot, a corrupt one, or garbage
instead of one, to a replica that writes it to disk or (repl-diskless-load)
parses it from the socket; a fake replica asks for the stream and stops
reading. The server must keep serving, report the link down, retry, never
serve half a dataset (with swapdb: keep the old one), never allocate what a
length only claims, and drop a replica that does not read. Keel only (the fake peers
script one side of the protocol)."""
import contextlib
import os
import threading
import time

import pytest
import redis

from persist_util import TempDirs, removal_fixture
from repl_util import HOST, FakePrimary, Raw, cluster_fixture, valid_rdb, wait_until

mkdir = TempDirs("keel-repl-faults-")
_remove_tmpdirs = removal_fixture(mkdir)

cluster = cluster_fixture(mkdir)

MY_LIB = "#!lua name=mine\nredis.register_function{function_name='mine', callback=function() return 'old' end, " \
    "flags={'no-writes'}}"
MARK = b"m" * 40


@contextlib.contextmanager
def replica_of_fake(cluster, serve, *args, own_data=True):
    """A Keel server started with args, with data of its own (a key and a
    function library) unless own_data is false, told to replicate a fake
    primary that runs serve(conn) after the handshake; yields it once it
    has tried twice (so the first failure was handled and a retry began)."""
    fake = FakePrimary(serve)
    try:
        r = cluster.start("keel", *args)
        if own_data:
            r.c.set("mine", "old data")
            r.c.execute_command("FUNCTION", "LOAD", MY_LIB)
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


# ---------------------------------------------------------------- diskless load (repl-diskless-load)
# The snapshot is parsed as it arrives. swapdb loads into databases of its
# own, so whatever goes wrong the old data set (keys and libraries) stays;
# on-empty-db loads straight into the (empty) databases.

def eof_framed(rdb, mark=MARK):
    """The snapshot as a diskless primary sends it: an EOF mark announced,
    the RDB, then the mark."""
    return b"$EOF:" + MARK + b"\r\n" + rdb + mark


def keeps_old_data(r):
    assert r.repl()["master_link_status"] == "down"
    assert r.c.get("mine") == "old data"
    assert r.c.dbsize() == 1
    assert r.c.execute_command("FCALL_RO", "mine", 0) == "old"
    info = r.info("persistence")
    assert info["loading"] == "0" and info["async_loading"] == "0"


@pytest.mark.parametrize("framing", ["sized", "eof"])
def test_swapdb_keeps_the_old_data_when_the_snapshot_is_cut(cluster, framing):
    rdb = valid_rdb(cluster)

    def serve(conn):
        if framing == "sized":
            conn.sendall(b"$%d\r\n" % len(rdb) + rdb[: len(rdb) // 2])
        else:
            conn.sendall(b"$EOF:" + MARK + b"\r\n" + rdb[: len(rdb) // 2])

    with replica_of_fake(cluster, serve, "--repl-diskless-load", "swapdb") as r:
        keeps_old_data(r)
        log = open(r.node.log).read()
        assert "to parser" in log
        assert "Failed trying to load the MASTER synchronization DB from socket" in log
        assert "Internal error in RDB reading offset" in log  # Redis's words
        assert not [n for n in os.listdir(r.node.dir) if n.endswith(".rdb")]


def test_swapdb_keeps_the_old_data_when_the_snapshot_is_corrupt(cluster):
    rdb = bytearray(valid_rdb(cluster))
    rdb[len(rdb) // 2] ^= 0xFF  # the CRC64 trailer no longer matches

    def serve(conn):
        conn.sendall(eof_framed(bytes(rdb)))
        time.sleep(0.5)

    with replica_of_fake(cluster, serve, "--repl-diskless-load", "swapdb") as r:
        keeps_old_data(r)
        assert "RDB CRC error" in open(r.node.log).read()


def test_a_broken_eof_mark_fails_the_load(cluster):
    rdb = valid_rdb(cluster)

    def serve(conn):
        conn.sendall(eof_framed(rdb, mark=b"x" * 40))
        time.sleep(0.5)

    with replica_of_fake(cluster, serve, "--repl-diskless-load", "swapdb") as r:
        keeps_old_data(r)
        assert "Replication stream EOF marker is broken" in open(r.node.log).read()


def test_on_empty_db_failure_leaves_the_replica_empty(cluster):
    rdb = bytearray(valid_rdb(cluster))
    rdb[len(rdb) // 2] ^= 0xFF

    def serve(conn):
        conn.sendall(b"$%d\r\n" % len(rdb) + bytes(rdb))
        time.sleep(0.5)

    with replica_of_fake(cluster, serve, "--repl-diskless-load", "on-empty-db", own_data=False) as r:
        assert r.repl()["master_link_status"] == "down"
        assert r.c.dbsize() == 0
        assert "receiving %d bytes from master to parser" % len(rdb) in open(r.node.log).read()


@pytest.mark.parametrize("framing", ["sized", "eof"])
def test_a_huge_string_claim_costs_only_what_arrives(cluster, framing):
    """A socket gives no size to check lengths against (an EOF-framed
    snapshot has none, a sized one only claims it): a string claiming 2^40
    bytes, of which 10 arrive, must not allocate the claim."""
    rdb = b"REDIS0011" + b"\x00" + b"\x01k" + b"\x81" + (1 << 40).to_bytes(8, "big") + b"0123456789"

    def serve(conn):
        head = b"$%d\r\n" % (1 << 41) if framing == "sized" else b"$EOF:" + MARK + b"\r\n"
        conn.sendall(head + rdb)

    with replica_of_fake(cluster, serve, "--repl-diskless-load", "swapdb") as r:
        assert int(r.info("memory")["used_memory"]) < 64 * 1024 * 1024
        keeps_old_data(r)


@pytest.mark.parametrize("framing", ["sized", "eof"])
def test_the_stream_that_follows_the_snapshot_in_one_write(cluster, framing):
    """Commands sent right behind the snapshot, in the same packet, are the
    replication stream: applied once the load ends, not taken for RDB."""
    rdb = valid_rdb(cluster)
    stream = b"*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n1\r\n"

    def serve(conn):
        head = b"$%d\r\n" % len(rdb) + rdb if framing == "sized" else eof_framed(rdb)
        conn.sendall(head + stream)
        conn.settimeout(5)
        try:
            while conn.recv(4096):  # REPLCONF ACKs, until the test ends
                pass
        except OSError:
            pass

    fake = FakePrimary(serve)
    try:
        r = cluster.start("keel", "--repl-diskless-load", "swapdb")
        assert r.c.execute_command("REPLICAOF", HOST, fake.port) == "OK"
        wait_until(lambda: r.c.get("after") == "1", "the command after the snapshot applied")
        assert r.c.mget("x", "y") == ["1", "2"]
        assert r.repl()["master_link_status"] == "up"
        assert fake.connections == 1
    finally:
        fake.close()


def test_a_stalled_transfer_serves_clients_then_times_out(cluster):
    """While the primary sends nothing the replica keeps answering (INFO;
    -LOADING for the rest) and gives up after repl-timeout,
    putting the old data set back."""
    rdb = valid_rdb(cluster)
    stalled = threading.Event()

    def serve(conn):
        conn.sendall(b"$EOF:" + MARK + b"\r\n" + rdb[:20])
        stalled.set()
        time.sleep(4)

    fake = FakePrimary(serve)
    try:
        r = cluster.start("keel", "--repl-diskless-load", "swapdb", "--repl-timeout", "2")
        r.c.set("mine", "old data")
        r.c.execute_command("FUNCTION", "LOAD", MY_LIB)
        assert r.c.execute_command("REPLICAOF", HOST, fake.port) == "OK"
        assert stalled.wait(10)
        wait_until(lambda: r.info("persistence")["loading"] == "1", "loading")
        for cmd in (("GET", "mine"), ("PING",)):  # PING too, as in Redis
            with pytest.raises(redis.exceptions.BusyLoadingError):
                r.c.execute_command(*cmd)
        wait_until(lambda: r.info("persistence")["loading"] == "0", "the load given up")
        assert "Timeout receiving bulk data from MASTER" in open(r.node.log).read()
        assert r.c.get("mine") == "old data"
        assert r.c.execute_command("FCALL_RO", "mine", 0) == "old"
    finally:
        fake.close()
