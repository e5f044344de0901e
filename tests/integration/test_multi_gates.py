"""Transactions against the server's state, side by side with Debian's
Redis 7.0 (started here with DEBUG enabled): every scenario runs on both
and the replies must be the same.

- WATCH of a key that had already expired (not yet reclaimed): reclaiming
  or deleting it, FLUSHDB and SWAPDB do not fail the EXEC; writing it
  does; a key that expires after WATCH does.
- The state gates (OOM, READONLY, MASTERDOWN, BUSY) come before MULTI
  queues a command: a refused command fails the transaction, and EXEC is
  judged by the commands it would run (EXECABORT with the reason), so no
  transaction stops halfway. A REPLICAOF inside the transaction does not
  stop the commands after it.
- The replication stream of a transaction that changes databases ends
  with EXEC and no SELECT before it.
"""
import os
import socket
import threading
import time

import pytest
import redis

from conftest import REDIS_BIN, Server


@pytest.fixture(scope="module")
def pair(server):
    if not os.access(REDIS_BIN, os.X_OK):
        pytest.skip("needs Debian's redis-server")
    ref = Server("--save", "", "--appendonly", "no", "--enable-debug-command", "yes", binary=REDIS_BIN)
    yield [server, ref]
    ref.stop()


def run(c, *args):
    try:
        out = c.execute_command(*args)
    except redis.ResponseError as e:
        return "ERR " + str(e)
    if isinstance(out, list):
        return [("ERR " + str(x)) if isinstance(x, redis.ResponseError) else x for x in out]
    return out


def both(pair, scenario):
    """Runs scenario(client, other_client) on each server; returns both
    transcripts, which the caller compares."""
    out = []
    for s in pair:
        a, b = s.client(decode_responses=True), s.client(decode_responses=True)
        for c in (a, b):
            c.response_callbacks.clear()  # replies as sent ("QUEUED" too)
        try:
            a.flushall()
            b.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            out.append(scenario(a, b))
        finally:
            b.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            b.config_set("maxmemory", 0)
            b.execute_command("REPLICAOF", "NO", "ONE")
            b.config_set("replica-serve-stale-data", "yes")
            a.close()
            b.close()
    return out


def stale(c, key, db=None):
    """key, expired but still stored (active expiry is off meanwhile)."""
    if db is not None:
        run(c, "SELECT", db)
    run(c, "SET", key, "v", "PX", "1")
    time.sleep(0.01)
    if db is not None:
        run(c, "SELECT", 0)


def watch_then(c, key, *between):
    log = [run(c, "WATCH", key)]
    for cmd in between:
        log.append(run(c, *cmd))
    log += [run(c, "MULTI"), run(c, "PING"), run(c, "EXEC")]
    return log


def test_watch_of_an_already_expired_key(pair):
    def scenario(a, b):
        b.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        log = []
        stale(a, "x")
        log += watch_then(a, "x")
        stale(a, "x")
        log += watch_then(a, "x", ("DEL", "x"))
        stale(a, "x")
        log += watch_then(a, "x", ("GET", "x"))
        stale(a, "x")
        log += watch_then(a, "x", ("SET", "x", "new"))
        stale(a, "y")
        log += watch_then(a, "y", ("DEL", "y"), ("SET", "y", "back"))
        stale(a, "x")
        log += watch_then(a, "x", ("FLUSHDB",))
        run(a, "SET", "x", "live")
        log += watch_then(a, "x", ("FLUSHDB",))
        return log

    keel, ref = both(pair, scenario)
    assert keel == ref
    assert keel[3] == ["PONG"] and keel[-1] is None


def test_watch_across_swapdb(pair):
    def scenario(a, b):
        b.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        log = []
        # stale in 0, missing in 1 / stale on both sides / missing in 0,
        # stale in 1 / stale in 0, live in 1 / live in 0
        for mine, theirs in (("stale", None), ("stale", "stale"), (None, "stale"), ("stale", "live"),
                             ("live", None), (None, None)):
            run(a, "FLUSHALL")
            for db, what in ((None, mine), (1, theirs)):
                if what == "stale":
                    stale(a, "k", db)
                elif what == "live":
                    run(a, "SELECT", db or 0)
                    run(a, "SET", "k", "v")
                    run(a, "SELECT", 0)
            log.append((mine, theirs, watch_then(a, "k", ("SWAPDB", 0, 1))))
        return log

    keel, ref = both(pair, scenario)
    assert keel == ref
    assert [entry[2][-1] for entry in keel] == [["PONG"], ["PONG"], ["PONG"], None, None, ["PONG"]]


def test_a_key_expiring_after_watch_fails_exec(pair):
    def scenario(a, b):
        run(a, "SET", "x", "v", "PX", "50")
        log = [run(a, "WATCH", "x")]
        deadline = time.time() + 5
        while a.exists("x") and time.time() < deadline:
            time.sleep(0.01)
        log += [run(a, "MULTI"), run(a, "PING"), run(a, "EXEC")]
        return log

    keel, ref = both(pair, scenario)
    assert keel == ref
    assert keel[-1] is None


def oom_scenarios(a, b):
    def tx(before, after):
        run(a, "FLUSHALL")
        log = [run(a, "MULTI")] + [run(a, *c) for c in before]
        b.config_set("maxmemory", 1)
        log += [run(a, *c) for c in after or []]
        exec_over = after is None
        if exec_over:
            log.append(run(a, "EXEC"))
        b.config_set("maxmemory", 0)
        if not exec_over:
            log.append(run(a, "EXEC"))
        return log + [sorted(a.keys("*"))]

    return [
        tx([("SET", "a", "1")], [("LPUSH", "l", "x"), ("SET", "b", "2")]),  # queued while over: fails the tx
        tx([("GET", "a")], [("PING",)]),  # even a read is refused while queuing
        tx([("SET", "a", "1"), ("LPUSH", "l", "x")], []),  # back under: runs
        tx([("SET", "a", "1")], None),  # EXEC over the limit with a write: EXECABORT
        tx([("GET", "a"), ("DEL", "a")], None),  # only what needs no memory: runs
        tx([], [("DISCARD",)]),
    ]


def test_oom_is_checked_before_queuing_and_at_exec(pair):
    keel, ref = both(pair, oom_scenarios)
    assert keel == ref
    assert keel[0][-2].startswith("ERR Transaction discarded because of previous errors")
    assert keel[3][-2].startswith("ERR Transaction discarded because of: OOM")


def test_replica_state_gates_exec_by_what_it_would_run(pair):
    def scenario(a, b):
        log = []
        # READONLY: the instance became a replica after the write was queued.
        log += [run(a, "MULTI"), run(a, "SET", "x", "1"), run(b, "REPLICAOF", "127.0.0.1", "1"),
                run(a, "EXEC"), run(a, "PING", "after")]
        run(b, "REPLICAOF", "NO", "ONE")
        # MASTERDOWN: stale replica with replica-serve-stale-data no; GET
        # and PING may not run, MULTI/EXEC of nothing but those neither.
        run(b, "CONFIG", "SET", "replica-serve-stale-data", "no")
        for cmd in (("GET", "x"), ("PING",)):
            log += [run(a, "MULTI"), run(a, *cmd), run(b, "REPLICAOF", "127.0.0.1", "1"), run(a, "EXEC")]
            run(b, "REPLICAOF", "NO", "ONE")
        # REPLICAOF inside the transaction: what follows it still runs.
        run(a, "FLUSHALL")
        log += [run(a, "MULTI"), run(a, "SET", "f2", "v"), run(a, "REPLICAOF", "127.0.0.1", "1"),
                run(a, "SET", "f3", "v"), run(a, "EXEC"), run(a, "SET", "f4", "v")]
        run(b, "REPLICAOF", "NO", "ONE")
        return log + [sorted(a.keys("*"))]

    keel, ref = both(pair, scenario)
    assert keel == ref
    assert keel[3].startswith("ERR Transaction discarded because of: READONLY")
    assert keel[-1] == ["f2", "f3"]


def test_exec_during_a_busy_script(pair):
    def scenario(a, b):
        run(b, "CONFIG", "SET", "busy-reply-threshold", "10")
        run(a, "SET", "xx", "1")
        log = [run(a, "MULTI"), run(a, "INCR", "xx")]
        looper = threading.Thread(target=run, args=(b, "EVAL", "while true do end", "0"))
        looper.start()
        c = a.connection_pool.connection_class(port=a.connection_pool.connection_kwargs["port"],
                                               decode_responses=True)
        try:
            deadline = time.time() + 5
            while True:
                c.send_command("PING")
                try:
                    c.read_response()
                except redis.ResponseError:
                    break  # BUSY
                assert time.time() < deadline
                time.sleep(0.02)
            log += [run(a, "INCR", "xx"), run(a, "EXEC")]
            c.send_command("SCRIPT", "KILL")
            log.append(c.read_response())
        finally:
            c.disconnect()
        looper.join()
        log += [run(a, "GET", "xx"), run(a, "PING", "out of multi")]
        return log

    keel, ref = both(pair, scenario)
    assert keel == ref
    assert keel[3].startswith("ERR Transaction discarded because of: BUSY")


def replication_stream(s, action):
    """The bytes a fresh SYNC connection receives while action runs."""
    c = s.client()
    c.config_set("repl-ping-replica-period", 3600)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.sendall(b"SYNC\r\n")
    f = sock.makefile("rb")
    line = f.readline()
    while not line.strip():
        line = f.readline()
    f.read(int(line[1:]))
    action(c)
    sock.settimeout(0.5)
    got = b""
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                break
            got += d
    except socket.timeout:
        pass
    sock.close()
    c.close()
    return got


def test_transaction_over_several_dbs_ends_without_select(pair):
    def action(c):
        p = c.pipeline(transaction=False)
        p.execute_command("MULTI")
        for db in (1, 2, 3):
            p.execute_command("SELECT", db)
            p.execute_command("SET", "k%d" % db, "v")
            p.execute_command("GET", "k%d" % db)
        p.execute_command("EXEC")
        p.execute()

    keel, ref = [replication_stream(s, action) for s in pair]
    assert keel == ref
    assert keel.endswith(b"$1\r\nv\r\n*1\r\n$4\r\nEXEC\r\n")


@pytest.mark.parametrize("read", [("SCAN", "0"), ("RANDOMKEY",), ("MGET", "foo1", "foo2")])
def test_keys_found_expired_by_a_read_are_deleted_unwrapped(pair, read):
    """SCAN and RANDOMKEY, walking the keyspace, send the DEL of each key
    they find expired on its own; a command that names its keys (MGET)
    wraps them in MULTI/EXEC like any other writes of one command. Both as
    Redis 7.0 does."""
    def action(c):
        c.execute_command(*read)

    out = []
    for s in pair:
        c = s.client()
        try:
            c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
            c.flushall()
            c.set("foo1", "bar", px=1)
            c.set("foo2", "bar", px=1)
            time.sleep(0.01)
            out.append(replication_stream(s, action))
        finally:
            c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            c.close()
    keel, ref = out
    assert (b"MULTI" in keel) == (read[0] == "MGET") and keel.count(b"DEL") == 2
    if read[0] == "MGET":
        assert keel == ref
    else:  # (the order of a walk is the hash table's)
        assert sorted(keel.split(b"*2\r\n$3\r\nDEL")) == sorted(ref.split(b"*2\r\n$3\r\nDEL"))
