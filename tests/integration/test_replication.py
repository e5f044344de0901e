"""Replication (the PSYNC2 protocol of Redis 7.0), written before Keel had
it and validated against Debian's redis-server 7.0.15: every test passes
with KEEL_SERVER=/usr/bin/redis-server.

Topologies that matter run three ways, (primary, replica) in (keel, keel),
(redis, keel), (keel, redis), where "keel" is KEEL_SERVER and "redis" is
/usr/bin/redis-server (the redis variants are skipped when it is missing):
the full sync of every type, the command stream after it, ROLE and INFO
replication, read-only replicas, WAIT, PSYNC2 promotion (three servers),
partial resync after a cut, a backlog too short for it, expiry seen from a
replica, min-replicas-to-write and the SLAVEOF alias. Single-server tests
(bad REPLICAOF arguments, replicating from itself or from nowhere, raw
PSYNC/SYNC handshakes and the replication stream's bytes, redis-cli --rdb)
run against KEEL_SERVER alone.

Datasets are compared by reading everything back (persist_util.snapshot:
values, TTLs, stream groups and PELs, functions, other databases' sizes)
and by DEBUG DIGEST and every key's DEBUG DIGEST-VALUE (Keel computes them
as Redis does, so they compare across the two servers). Waits poll (link up, the primary seeing the replica
online, offsets equal) with 20 s deadlines; every server is stopped at the
end of its test, also when the test fails. Helpers are in repl_util.py."""
import hashlib
import os
import random
import select
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import redis
from conftest import free_port
from persist_util import TempDirs, assert_same, removal_fixture, snapshot
from repl_util import (DBS, DEADLINE, HOST, REDIS, Raw, assert_same_data, cluster_fixture, kinds_param, link_up,
                       online, parse_commands, preload, raw_reply, read_rdb_payload, replica_entry, replicate, snapshot_in, stays,
                       wait_in_sync, wait_link_up, wait_until)

mkdir = TempDirs("keel-repl-")
_remove_tmpdirs = removal_fixture(mkdir)

PAIRS = [kinds_param("keel", "keel"), kinds_param("redis", "keel"), kinds_param("keel", "redis")]
# (old primary, the replica promoted, the replica that follows it afterwards)
TRIOS = [kinds_param("keel", "keel", "keel"), kinds_param("redis", "keel", "redis"),
         kinds_param("keel", "redis", "keel")]
pairs = pytest.mark.parametrize("kinds", PAIRS)
trios = pytest.mark.parametrize("kinds", TRIOS)

HEX = set("0123456789abcdef")
ZERO_ID = "0" * 40
READONLY = "-READONLY You can't write against a read only replica."
WAIT_ON_REPLICA = ("-ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "
                   "replica is configured to be writable (which is not the default) writes to replicas are just "
                   "local and are not propagated.")
NOREPLICAS = "-NOREPLICAS Not enough good replicas to write."
NOMASTERLINK = "-NOMASTERLINK Can't SYNC while not connected with my master"
MASTERDOWN = "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
BAD_PORT = "-ERR Invalid master port"

cluster = cluster_fixture(mkdir)


def start(cluster, kinds):
    return [cluster.start(k) for k in kinds]


def is_replid(v):
    return isinstance(v, str) and len(v) == 40 and set(v) <= HEX


# ---------------------------------------------------------------- datasets

def write_load(primary):
    """Writes of every kind the replication stream must carry, across
    databases: the replica must end up equal. Returns the dbs written."""
    c0 = primary.bytes_client(0)
    x = c0.execute_command
    x("SET", "a", "1")
    x("INCR", "a")
    x("INCRBY", "n", 5)
    x("INCRBYFLOAT", "f", "1.5")  # propagated as SET ... KEEPTTL
    x("APPEND", "a", "0")
    x("SET", "ex", "v", "EX", 1000)
    x("SETEX", "ex2", 2000, "v")
    x("SET", "keep", "v", "PX", 900_000)
    x("SET", "keep", "w", "KEEPTTL")
    x("GETEX", "ex2", "PERSIST")
    x("RPUSH", "l", *range(20))
    x("LPOP", "l")
    x("LINSERT", "l", "BEFORE", "5", "ins")
    x("LTRIM", "l", 0, 15)
    x("HSET", "h", "a", 1, "b", 2, "c", 3)
    x("HINCRBY", "h", "a", 10)
    x("HDEL", "h", "b")
    x("SADD", "s", *range(50))
    x("SPOP", "s", 5)  # random: propagated as the SREM of what it popped
    x("SREM", "s", 10)
    x("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d")
    x("ZINCRBY", "z", 2.5, "a")
    x("ZPOPMIN", "z")
    x("XADD", "xs", "*", "f", "v")  # auto ID: the replica must get the same one
    x("XADD", "xs", "MAXLEN", "=", 3, "*", "f", "w")
    x("XGROUP", "CREATE", "xs", "g", "0")
    x("XREADGROUP", "GROUP", "g", "c1", "COUNT", 1, "STREAMS", "xs", ">")
    x("XADD", "xs", "*", "f", "later")
    x("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "xs", ">")
    ids = [e[0] for e in x("XRANGE", "xs", "-", "+")]
    x("XACK", "xs", "g", ids[0])
    x("SET", "gone", "x")
    x("EXPIRE", "gone", 10_000)
    x("EXPIRE", "a", 3000)  # relative: propagated as an absolute PEXPIREAT
    x("PEXPIRE", "h", 8_000_000)
    x("PERSIST", "h")
    x("DEL", "gone")
    x("SET", "past", "x")
    x("EXPIREAT", "past", 1)  # in the past: a deletion
    x("UNLINK", "n")
    x("RENAME", "f", "f2")
    t = c0.pipeline(transaction=True)
    t.set("m1", "x")
    t.incr("m2")
    t.lpush("l", "multi")
    t.execute()
    x("EVAL", "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCR', KEYS[2]); "
              "redis.call('SET', KEYS[3], redis.call('TIME')[1]); return redis.call('SPOP', KEYS[4])",
      4, "e1", "e2", "etime", "s", "scripted")
    # The same connection changing databases: each write goes to the db the
    # replication stream last SELECTed.
    x("SELECT", 2)
    x("SET", "in2", "two")
    x("RPUSH", "l2", "a", "b")
    x("SELECT", 7)
    x("SET", "in7", "seven")
    x("HSET", "h7", "f", "v")
    x("SELECT", 0)
    x("SET", "back0", "zero")
    x("SELECT", 7)
    x("FLUSHDB")
    x("SET", "after-flush", "7")
    x("SELECT", 2)
    x("SWAPDB", 2, 4)
    x("SET", "in2-after-swap", "x")
    x("SELECT", 0)
    rng = random.Random(5)
    p = c0.pipeline(transaction=False)
    for i in range(400):
        db, k = rng.choice((0, 2, 4)), "r:%d" % rng.randrange(60)
        p.execute_command("SELECT", db)
        op = rng.randrange(6)
        if op == 0:
            p.execute_command("SET", k, rng.randrange(10**6))
        elif op == 1:
            p.execute_command("DEL", k)
        elif op == 2:
            p.execute_command("EXPIRE", k, rng.randrange(100, 10_000))
        elif op == 3:
            p.execute_command("APPEND", k + ":s", "y")
        elif op == 4:
            p.execute_command("RPUSH", k + ":l", i)
        else:
            p.execute_command("ZADD", k + ":z", rng.random(), i)
    p.execute_command("SELECT", 0)
    p.execute()
    c0.close()
    return (0, 2, 4, 7)


# ---------------------------------------------------------------- 1, 2: full sync and the stream

@pairs
def test_full_sync_copies_every_type_ttl_and_db(cluster, kinds):
    primary, replica = start(cluster, kinds)
    preload(primary)
    replica.c.set("stale", "the replica's own data is dropped")
    replica.client(5).set("stale5", "x")
    assert primary.stat("sync_full") == 0
    replicate(primary, replica)
    assert primary.stat("sync_full") == 1
    assert primary.stat("sync_partial_ok") == 0
    assert replica.c.exists("stale") == 0
    assert replica.client(5).dbsize() == 0
    assert_same_data(primary, replica, DBS)
    # The function library came with the snapshot and runs on the replica:
    # a function flagged no-writes does; one without flags may write, so a
    # read-only replica refuses it.
    assert replica.c.execute_command("FCALL_RO", "repl_get", 1, "s:short") == "hello"
    assert replica.c.execute_command("FCALL", "repl_get", 1, "s:short") == "hello"
    assert raw_reply(replica, "FCALL", "repl_echo", 0, "hi") == READONLY


@pairs
def test_full_sync_of_an_empty_primary(cluster, kinds):
    primary, replica = start(cluster, kinds)
    replica.c.set("stale", "x")
    replicate(primary, replica)
    assert replica.c.dbsize() == 0
    assert replica.c.execute_command("DEBUG", "DIGEST") == ZERO_ID
    primary.c.set("k", "v")
    wait_in_sync(primary, replica)
    assert replica.c.get("k") == "v"


@pairs
def test_stream_of_writes_after_sync(cluster, kinds):
    primary, replica = start(cluster, kinds)
    preload(primary)
    replicate(primary, replica)
    dbs = write_load(primary)
    wait_in_sync(primary, replica)
    # Redis 7.0 propagates XREADGROUP as XCLAIMs that do not carry the
    # group's entries-read: a Redis primary's replicas lose it (and the
    # group's lag). Keel's stream carries it: exact when Keel is the primary.
    assert_same_data(primary, replica, sorted(set(DBS) | set(dbs)), exact=primary.binary != REDIS)
    r7 = replica.client(7)
    assert r7.keys() == ["after-flush"]
    assert replica.client(4).get("in2") == "two"  # SWAPDB 2 4
    assert replica.client(2).get("in2-after-swap") == "x"


@pairs
def test_publish_on_the_primary_reaches_subscribers_of_the_replica(cluster, kinds):
    primary, replica = start(cluster, kinds)
    replicate(primary, replica)
    sub = replica.client().pubsub()
    try:
        sub.subscribe("news")
        assert sub.get_message(timeout=5)["type"] == "subscribe"
        off = primary.offset()
        assert primary.c.publish("news", "hello") == 0  # no subscriber on the primary itself
        assert primary.offset() > off  # PUBLISH goes down the replication stream
        m = wait_until(lambda: sub.get_message(timeout=0.1), "the message on the replica")
        assert (m["type"], m["channel"], m["data"]) == ("message", "news", "hello")
    finally:
        sub.close()


@pairs
def test_writes_during_the_full_sync_are_not_lost(cluster, kinds):
    primary, replica = start(cluster, kinds)
    p = primary.bytes_client(0).pipeline(transaction=False)
    for i in range(20_000):
        p.set("k:%d" % i, "v" * (i % 100))
    p.execute()
    stop = threading.Event()
    done = {"n": 0, "error": None}

    def writer():
        c = primary.client()
        try:
            while not stop.is_set():
                n = done["n"]
                c.pipeline(transaction=False).incr("counter").rpush("log", n).set("k:%d" % (n % 20_000), n).execute()
                done["n"] = n + 1
        except Exception as e:  # noqa: BLE001 - the test reports it
            done["error"] = e
        finally:
            c.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert replica.replicaof(primary) == "OK"
        wait_link_up(replica, primary)
        n = done["n"]
        wait_until(lambda: done["n"] >= n + 50 or done["error"], "more writes after the sync")
    finally:
        stop.set()
        t.join()
    assert done["error"] is None, done["error"]
    wait_in_sync(primary, replica)
    n = done["n"]
    assert replica.c.get("counter") == str(n)
    assert replica.c.lrange("log", 0, -1) == [str(i) for i in range(n)]
    names = ["k:%d" % i for i in range(20_000)]
    assert replica.c.mget(names) == primary.c.mget(names)
    assert replica.c.dbsize() == primary.c.dbsize() == 20_002


# ---------------------------------------------------------------- 3: ROLE and INFO replication

@pairs
def test_connected_clients_leaves_replicas_out(cluster, kinds):
    """INFO connected_clients: a primary does not count its replicas (they
    are connected_slaves); a replica counts its link to the primary."""
    primary, replica = start(cluster, kinds)
    before = int(primary.info("clients")["connected_clients"])
    replicate(primary, replica)
    assert int(primary.info("clients")["connected_clients"]) == before
    assert primary.repl()["connected_slaves"] == "1"
    others = len(replica.c.client_list()) - 1  # every connection but the primary's link
    assert int(replica.info("clients")["connected_clients"]) == others + 1


@pairs
def test_role_and_info_replication(cluster, kinds):
    primary, replica = start(cluster, kinds)
    pinfo = primary.repl()
    assert pinfo["role"] == "master"
    assert pinfo["connected_slaves"] == "0"
    assert pinfo["master_replid2"] == ZERO_ID
    assert pinfo["second_repl_offset"] == "-1"
    assert pinfo["repl_backlog_active"] == "0"
    assert pinfo["repl_backlog_size"] == "1048576"
    assert is_replid(pinfo["master_replid"])
    assert primary.c.execute_command("ROLE") == ["master", 0, []]
    replicate(primary, replica)
    primary.c.set("k", "v")
    assert primary.c.execute_command("WAIT", 1, 5000) == 1

    # ROLE on the primary: the replicas' addresses, ports and acknowledged
    # offsets are bulk strings. Replicas ack once a second; poll until the
    # ack matches the primary's offset.
    def role_settled():
        role = primary.c.execute_command("ROLE")
        return role if role[2] and role[2][0][2] == str(role[1]) else None

    role = wait_until(role_settled, "the replica's ack to reach the primary's offset", peers=(primary, replica))
    assert role[0] == "master"
    assert isinstance(role[1], int) and role[1] > 0
    assert role[2] == [[HOST, str(replica.port), str(role[1])]]

    # ROLE on the replica: its processed offset (an integer).
    def replica_role_settled():
        before = int(replica.repl()["slave_repl_offset"])
        role = replica.c.execute_command("ROLE")
        return role if role[4] == before else None

    rrole = wait_until(replica_role_settled, "a stable replica offset")
    assert rrole == ["slave", HOST, primary.port, "connected", rrole[4]]
    assert rrole[4] > 0

    # Both INFOs read at one offset (a ping from the primary may land between
    # two reads: read again then).
    def infos_at_one_offset():
        pinfo, rinfo = primary.repl(), replica.repl()
        return (pinfo, rinfo) if pinfo["master_repl_offset"] == rinfo["slave_repl_offset"] else None

    pinfo, rinfo = wait_until(infos_at_one_offset, "equal offsets", peers=(primary, replica))
    off = int(pinfo["master_repl_offset"])
    assert pinfo["role"] == "master"
    assert pinfo["connected_slaves"] == "1"
    slave0 = pinfo["slave0"]
    assert [kv.split("=")[0] for kv in slave0.split(",")] == ["ip", "port", "state", "offset", "lag"]
    entry = replica_entry(primary, replica)
    assert entry["ip"] == HOST
    assert entry["port"] == str(replica.port)
    assert entry["state"] == "online"
    assert 0 < int(entry["offset"]) <= off
    assert 0 <= int(entry["lag"]) <= DEADLINE
    assert pinfo["master_failover_state"] == "no-failover"
    assert is_replid(pinfo["master_replid"])
    assert pinfo["master_replid2"] == ZERO_ID
    assert pinfo["second_repl_offset"] == "-1"
    assert pinfo["repl_backlog_active"] == "1"
    assert pinfo["repl_backlog_size"] == "1048576"
    # The backlog holds everything since the replica attached: its first
    # byte is offset 1, so its length is the offset itself.
    assert pinfo["repl_backlog_first_byte_offset"] == "1"
    assert int(pinfo["repl_backlog_histlen"]) == off

    assert rinfo["role"] == "slave"
    assert rinfo["master_host"] == HOST
    assert rinfo["master_port"] == str(primary.port)
    assert rinfo["master_link_status"] == "up"
    assert 0 <= int(rinfo["master_last_io_seconds_ago"]) <= DEADLINE
    assert rinfo["master_sync_in_progress"] == "0"
    assert rinfo["slave_read_repl_offset"] == rinfo["slave_repl_offset"] == str(off)
    assert rinfo["slave_priority"] == "100"
    assert rinfo["slave_read_only"] == "1"
    assert rinfo["replica_announced"] == "1"
    assert "master_link_down_since_seconds" not in rinfo  # only while the link is down
    assert rinfo["connected_slaves"] == "0"
    # A replica takes its primary's replication ID and offset, and keeps a
    # backlog of its own (so it can serve partial resyncs once promoted).
    assert rinfo["master_replid"] == pinfo["master_replid"]
    assert rinfo["master_replid2"] == ZERO_ID
    assert rinfo["second_repl_offset"] == "-1"
    assert rinfo["master_repl_offset"] == str(off)
    assert rinfo["repl_backlog_active"] == "1"
    first = int(rinfo["repl_backlog_first_byte_offset"])
    assert first >= 1
    assert first + int(rinfo["repl_backlog_histlen"]) - 1 == off


# ---------------------------------------------------------------- 4: read-only replicas

@pairs
def test_replica_is_read_only_by_default(cluster, kinds):
    primary, replica = start(cluster, kinds)
    primary.c.rpush("l", "a", "b")
    primary.c.set("k", "v")
    replicate(primary, replica)
    for cmd in (("SET", "k", "x"), ("DEL", "k"), ("RPUSH", "l", "c"), ("EXPIRE", "k", 100), ("FLUSHALL",),
                ("INCR", "new")):
        assert raw_reply(replica, *cmd) == READONLY, cmd
    # redis-py drops the READONLY code: ReadOnlyError, the rest as its text.
    with pytest.raises(redis.ReadOnlyError) as e:
        replica.c.set("k", "x")
    assert str(e.value) == "You can't write against a read only replica."
    # MULTI: the write is refused when queued, EXEC then aborts.
    raw = Raw(replica.port)
    try:
        raw.send("MULTI")
        raw.send("SET", "k", "x")
        raw.send("EXEC")
        assert [raw.line() for _ in range(3)] == [b"+OK", READONLY.encode(),
                                                 b"-EXECABORT Transaction discarded because of previous errors."]
    finally:
        raw.close()
    # A script's write fails inside the script (the text names the script;
    # this form is Redis 7's); read-only scripts and PUBLISH are fine.
    script = "return redis.call('SET', 'k', 'x')"
    sha = hashlib.sha1(script.encode()).hexdigest()
    assert raw_reply(replica, "EVAL", script, 0) == "%s script: %s, on @user_script:1." % (READONLY, sha)
    assert replica.c.eval("return redis.call('GET', 'k')", 0) == "v"
    assert replica.c.publish("ch", "m") == 0
    assert replica.c.get("k") == "v"
    assert replica.c.lrange("l", 0, -1) == ["a", "b"]
    assert replica.c.dbsize() == 2
    assert replica.c.config_get("replica-read-only") == {"replica-read-only": "yes"}


@pairs
def test_writable_replica_writes_stay_local(cluster, kinds):
    primary, replica = start(cluster, kinds)
    replicate(primary, replica)
    assert replica.c.config_set("replica-read-only", "no") is True
    assert replica.repl()["slave_read_only"] == "0"
    assert replica.c.set("local", "1") is True
    assert replica.c.get("local") == "1"
    # Local writes neither reach the primary nor move the replica's offset
    # (a replica ahead of its primary would never be in sync again).
    wait_in_sync(primary, replica)
    primary.c.set("p", "2")
    wait_in_sync(primary, replica)
    assert replica.c.get("p") == "2"
    assert primary.c.exists("local") == 0
    assert raw_reply(replica, "WAIT", 1, 10) == WAIT_ON_REPLICA
    assert replica.c.config_set("replica-read-only", "yes") is True
    assert raw_reply(replica, "SET", "local", "2") == READONLY


@pairs
def test_partial_resync_bigger_than_the_replica_output_limit(cluster, kinds):
    """A partial resync may queue up to repl-backlog-size at once: a
    replica's hard output limit below it counts as repl-backlog-size (as in
    Redis), or the primary would drop the replica it just accepted, again
    and again."""
    primary, replica = start(cluster, kinds)
    primary.c.config_set("repl-backlog-size", "64mb")
    primary.c.config_set("client-output-buffer-limit", "replica 512k 0 0")
    replicate(primary, replica)
    big = "A" * (4 << 20)
    p = primary.c.pipeline(transaction=True)
    p.execute_command("CLIENT", "KILL", "TYPE", "replica")
    p.set("k1", big)
    p.set("k2", big)
    p.execute()
    wait_until(lambda: replica.c.exists("k1", "k2") == 2, "the big keys on the replica", peers=(primary, replica))
    wait_in_sync(primary, replica)
    stats = primary.info("stats")
    assert stats["sync_full"] == "1" and stats["sync_partial_ok"] == "1", stats
    assert replica.c.strlen("k2") == len(big)


@pairs
def test_debug_replicate_sends_to_replicas_only(cluster, kinds):
    """DEBUG REPLICATE (Redis's test hook): the command goes to the
    replicas and is not run on the primary; an unknown one is the replica's
    error, logged."""
    primary, replica = start(cluster, kinds)
    replicate(primary, replica)
    assert primary.c.execute_command("DEBUG", "REPLICATE", "SET", "only-there", "1") in ("OK", True)
    primary.c.set("after", "2")
    wait_in_sync(primary, replica)
    assert replica.c.get("only-there") == "1" and replica.c.get("after") == "2"
    assert primary.c.exists("only-there") == 0
    primary.c.execute_command("DEBUG", "REPLICATE", "fake-command-1")
    wait_until(lambda: "fake-command-1" in replica.node.log_text(), "the replica's error logged")


@pairs
@pytest.mark.parametrize("behavior", ["ignore", "panic-on-replicas"])
def test_an_error_on_the_replication_stream(cluster, kinds, behavior):
    """A command of the stream that fails on the replica (here INCRBY of a
    string a write of its own put there while it was writable) is logged as
    Redis logs it; with propagation-error-behavior ignore (the default) the
    replica goes on, with panic-on-replicas (or panic) a read-only replica
    stops rather than diverge further (a writable one never does)."""
    primary, replica = start(cluster, kinds)
    replicate(primary, replica)
    replica.c.config_set("replica-read-only", "no")
    replica.c.config_set("propagation-error-behavior", behavior)
    assert replica.c.set("number", "foo") is True
    replica.c.config_set("replica-read-only", "yes")
    primary.c.incrby("number", 1)
    want = ("== CRITICAL == This replica is sending an error to its master: 'value is not an integer or out "
            "of range' after processing the command 'incrby'")
    wait_until(lambda: want in replica.node.log_text(), "the error logged")
    if behavior == "ignore":
        wait_in_sync(primary, replica)
        assert replica.c.get("number") == "foo" and primary.c.get("number") == "1"
        return
    assert replica.node.wait_exit(10) != 0
    replica.node.killed = True  # gone: nothing to stop
    assert ("This replica panicked sending an error to its master after processing the command 'incrby'"
            in replica.node.log_text())


@pairs
@pytest.mark.parametrize("ignore", ["no", "yes"])
def test_a_replica_that_cannot_persist(cluster, kinds, ignore):
    """As Redis 7.0: a replica whose own save failed (save points set,
    stop-writes-on-bgsave-error) stops at the primary's next write rather
    than hold data its files miss, unless replica-ignore-disk-write-errors
    is yes: then it applies the write and logs that it could not persist."""
    primary = cluster.start(kinds[0])
    replica = cluster.start(kinds[1], "--enable-protected-configs", "local")
    replicate(primary, replica)
    r = replica.c
    r.config_set("replica-ignore-disk-write-errors", ignore)
    r.config_set("save", "3600 1")
    gone = tempfile.mkdtemp(prefix="keel-gone-")
    r.config_set("dir", gone)
    shutil.rmtree(gone)  # the save cannot create its file
    try:
        r.bgsave()
    except redis.ResponseError:
        pass  # a forkless save fails at once
    wait_until(lambda: replica.info("persistence")["rdb_last_bgsave_status"] == "err", "the save to fail")
    primary.c.set("k", "v")
    if ignore == "yes":
        wait_in_sync(primary, replica)
        assert r.get("k") == "v"
        wait_until(lambda: "Replica is applying a command even though it is unable to write to disk."
                   in replica.node.log_text(), "the warning logged")
        r.config_set("dir", replica.node.dir)
        return
    assert replica.node.wait_exit(10) != 0
    replica.node.killed = True  # gone: nothing to stop
    assert "Replica was unable to write command to disk." in replica.node.log_text()


@pairs
def test_the_primarys_stream_waits_for_a_busy_script_on_the_replica(cluster, kinds):
    """While a script on the replica runs past busy-reply-threshold, other
    clients get -BUSY but the primary's commands wait in their buffer (an
    error sent to the primary would panic the replica under
    propagation-error-behavior panic); they are applied once the script is
    killed."""
    primary, replica = start(cluster, kinds)
    replica.c.config_set("busy-reply-threshold", 100)
    replica.c.config_set("propagation-error-behavior", "panic")
    replicate(primary, replica)
    busy = Raw(replica.port)
    busy.send("EVAL", "while true do end", "0")
    wait_until(lambda: raw_reply(replica, "PING").startswith("-BUSY"), "the replica busy")
    # The server's state gates come first, as in Redis: a write is refused
    # for the read-only replica, not for the busy script.
    assert raw_reply(replica, "SET", "x", "1") == READONLY
    for i in range(100):
        primary.c.set("during:%d" % i, i)
    primary.c.incr("during:counter")
    time.sleep(0.3)  # the stream reaches the replica while the script runs
    assert raw_reply(replica, "SCRIPT", "KILL") == "+OK"
    assert busy.line().startswith(b"-ERR")
    busy.close()
    wait_in_sync(primary, replica)
    assert replica.alive()
    assert replica.c.get("during:99") == "99" and replica.c.get("during:counter") == "1"
    assert "CRITICAL" not in replica.node.log_text()


@pairs
def test_a_busy_script_sees_its_replica_leave_and_writes_on(cluster, kinds):
    """While a script runs past busy-reply-threshold the primary still
    serves events: a replica that leaves is seen gone (INFO from the script
    shows connected_slaves:0). With min-replicas-to-write 1 the script,
    which already wrote, writes on: the server's state no longer stops a
    script half-way, as in Redis."""
    primary, replica = start(cluster, kinds)
    replicate(primary, replica)
    primary.c.config_set("min-replicas-to-write", 1)
    primary.c.config_set("busy-reply-threshold", 10)
    wait_until(lambda: primary.info()["min_slaves_good_slaves"] == "1", "a good replica")
    busy = Raw(primary.port)
    busy.send("EVAL", """
        redis.call('set', KEYS[1], 'first')
        while true do
            local info = redis.call('info', 'replication')
            if string.match(info, 'connected_slaves:0') then
                redis.call('set', KEYS[1], 'after')
                return 1
            end
        end""", 1, "x")
    wait_until(lambda: raw_reply(primary, "PING").startswith("-BUSY"), "the script busy")
    assert replica.c.execute_command("REPLICAOF", "NO", "ONE") == "OK"
    assert busy.line() == b":1"
    busy.close()
    assert primary.c.get("x") == "after"
    # A new script is refused before it writes.
    with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
        primary.c.eval("redis.call('set', KEYS[1], 'no')", 1, "x")
    assert primary.c.get("x") == "after"


@pairs
@pytest.mark.parametrize("how", ["EVAL", "FCALL"])
def test_redis_set_repl_chooses_where_a_scripts_writes_go(cluster, kinds, how):
    """redis.set_repl() sends the script's next writes to the AOF and the
    replicas (REPL_ALL), to one of them, or to neither; the primary keeps
    them all. Reloading its AOF shows what the log got."""
    primary, replica = start(cluster, kinds)
    primary.c.config_set("appendonly", "yes")
    wait_until(lambda: primary.info("persistence")["aof_rewrite_in_progress"] == "0"
               and primary.info("persistence")["aof_rewrite_scheduled"] == "0", "the first AOF rewrite")
    replicate(primary, replica)
    body = """
        redis.call('set', KEYS[1], '1')
        redis.set_repl(redis.REPL_NONE)
        redis.call('set', KEYS[2], '2')
        redis.set_repl(redis.REPL_AOF)
        redis.call('set', KEYS[3], '3')
        redis.set_repl(redis.REPL_REPLICA)
        redis.call('set', KEYS[4], '4')
        redis.set_repl(redis.REPL_ALL)
        redis.call('set', KEYS[5], '5')
    """
    keys = ["a", "b", "c", "d", "e"]
    if how == "EVAL":
        primary.c.eval(body, 5, *keys)
    else:
        primary.c.function_load("#!lua name=repl\nredis.register_function('go', function(KEYS, ARGV)\n%s\nend)"
                                % body)
        primary.c.fcall("go", 5, *keys)
    primary.c.set("sync-mark", "1")
    wait_in_sync(primary, replica)
    assert replica.c.mget(keys) == ["1", None, None, "4", "5"]
    assert primary.c.mget(keys) == ["1", "2", "3", "4", "5"]
    assert primary.c.execute_command("DEBUG", "LOADAOF") == "OK"
    assert primary.c.mget(keys) == ["1", None, "3", None, "5"]
    # The next script starts over with REPL_ALL.
    primary.c.eval("redis.call('set', KEYS[1], 'again')", 1, "b")
    wait_in_sync(primary, replica)
    assert replica.c.get("b") == "again"


@pairs
def test_writable_replica_write_replaces_an_expired_key_it_kept(cluster, kinds):
    """A key the primary set with a TTL has expired on a writable replica,
    which keeps it for the primary's DEL. A client's write there replaces it
    (INCR starts from nothing, without the old TTL) and the replica holds the
    key once; the key nobody wrote stays for the DEL."""
    primary, replica = start(cluster, kinds)
    assert primary.c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0) == "OK"
    replicate(primary, replica)
    primary.c.set("kept", "v")
    wait_in_sync(primary, replica)
    primary.c.set("key1", "5", px=200)
    primary.c.set("key2", "5", px=200)
    wait_in_sync(primary, replica)
    wait_until(lambda: replica.c.exists("key1", "key2") == 0, "the keys to expire on the replica")
    assert replica.c.dbsize() == 3
    assert replica.c.config_set("replica-read-only", "no") is True
    assert replica.c.incr("key1") == 1
    assert replica.c.ttl("key1") == -1
    assert replica.c.get("key2") is None
    assert replica.c.dbsize() == 3
    assert sorted(replica.c.keys("*")) == ["kept", "key1"]
    assert replica.c.config_set("replica-read-only", "yes") is True
    assert primary.c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 1) == "OK"


UNBLOCKED_ROLE = "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"


@pairs
def test_becoming_a_replica_ends_every_wait(cluster, kinds):
    """A primary with clients blocked in BLPOP (and WAIT) becomes the
    replica of another: each gets UNBLOCKED and its connection closes, so
    none can take what the new primary sends (a BLPOP served there would
    pop a replicated element and fork the data)."""
    b, a = start(cluster, kinds)  # b is the primary that becomes a replica of a
    blpop, wait = Raw(b.port), Raw(b.port)
    try:
        blpop.send("BLPOP", "foo", 0)
        b.c.set("w", "1")
        wait.send("WAIT", 5, 0)
        wait_until(lambda: b.info("clients")["blocked_clients"] == "2", "two blocked clients")
        assert b.c.execute_command("REPLICAOF", HOST, a.port) == "OK"
        assert blpop.line().decode() == UNBLOCKED_ROLE
        assert wait.line().decode() == UNBLOCKED_ROLE
        for conn in (blpop, wait):
            conn.sock.settimeout(5)
            with pytest.raises(ConnectionError):
                conn._fill()  # closed once the error was sent
    finally:
        blpop.close()
        wait.close()
    wait_link_up(b)
    a.c.rpush("foo", "a", "b", "c")
    wait_in_sync(a, b)
    assert b.c.lrange("foo", 0, -1) == ["a", "b", "c"]
    assert_same_data(a, b, (0,))


# ---------------------------------------------------------------- 5: WAIT

@pairs
def test_wait(cluster, kinds):
    primary, replica = start(cluster, kinds)
    replicate(primary, replica)
    c = primary.client()
    # A connection that wrote nothing needs no acknowledgement.
    assert c.execute_command("WAIT", 1, 5000) == 1
    c.set("k", "v")
    t = time.time()
    assert c.execute_command("WAIT", 1, 5000) == 1
    assert time.time() - t < 4.5
    assert replica.c.get("k") == "v"
    c.set("k2", "v")
    t = time.time()
    assert c.execute_command("WAIT", 2, 200) == 1  # the timeout passes, one replica acknowledged
    elapsed = time.time() - t
    assert 0.19 <= elapsed < 5, elapsed
    assert raw_reply(replica, "WAIT", 1, 1000) == WAIT_ON_REPLICA
    assert raw_reply(replica, "WAIT", 0, 0) == WAIT_ON_REPLICA
    c.close()


def test_wait_without_replicas_and_bad_arguments(cluster):
    (p,) = start(cluster, ("keel",))
    assert raw_reply(p, "WAIT", 0, 0) == ":0"
    p.c.set("k", "v")
    t = time.time()
    assert p.c.execute_command("WAIT", 1, 100) == 0
    assert time.time() - t >= 0.09
    assert raw_reply(p, "WAIT", 1, -1) == "-ERR timeout is negative"
    assert raw_reply(p, "WAIT", "x", 1) == "-ERR value is not an integer or out of range"
    assert raw_reply(p, "WAIT", 1, "x") == "-ERR timeout is not an integer or out of range"
    assert raw_reply(p, "WAIT", 1) == "-ERR wrong number of arguments for 'wait' command"


def test_client_unblock_ends_a_wait(cluster):
    """CLIENT UNBLOCK ends a WAIT as Redis 7.0 does: TIMEOUT replies the
    count so far, ERROR the UNBLOCKED error (a failed call of WAIT)."""
    (p,) = start(cluster, ("keel",))
    assert p.c.execute_command("CONFIG", "RESETSTAT") == "OK"
    for how, want in (("TIMEOUT", ":0"), ("ERROR", "-UNBLOCKED client unblocked via CLIENT UNBLOCK")):
        w = Raw(p.port)
        try:
            w.send("CLIENT", "ID")
            cid = int(w.line()[1:])
            w.send("SET", "k", "v")
            assert w.line() == b"+OK"
            w.send("WAIT", 1, 0)
            wait_until(lambda: p.info("clients")["blocked_clients"] == "1", "WAIT to block")
            assert p.c.execute_command("CLIENT", "UNBLOCK", cid, how) == 1
            assert w.line().decode() == want
            assert p.c.execute_command("CLIENT", "UNBLOCK", cid, how) == 0
            w.send("PING")
            assert w.line() == b"+PONG"
        finally:
            w.close()
    # Failed: the one that got the error (Redis 7.0 counts the TIMEOUT one
    # too, though it replied the count).
    stat = p.info("commandstats")["cmdstat_wait"]
    failed = "2" if os.path.basename(p.binary).startswith("redis") else "1"
    assert stat.startswith("calls=2,") and stat.endswith(",rejected_calls=0,failed_calls=" + failed), stat


# ---------------------------------------------------------------- 6: promotion (PSYNC2)

@trios
def test_promoted_replica_keeps_replid_and_serves_partial_resync(cluster, kinds):
    a, b, c = start(cluster, kinds)
    preload(a)
    replicate(a, b)
    replicate(a, c)
    a.c.set("before-failover", "1")
    wait_in_sync(a, b, c)
    old_id = a.repl()["master_replid"]
    data = snapshot(a.node, DBS)
    # The primary dies; both replicas hold the same offset.
    a.node.kill9()
    wait_until(lambda: not link_up(b) and not link_up(c), "both links down")
    b_off = int(b.repl()["master_repl_offset"])
    assert int(c.repl()["master_repl_offset"]) == b_off

    assert b.c.execute_command("REPLICAOF", "NO", "ONE") == "OK"
    binfo = b.repl()
    assert binfo["role"] == "master"
    assert binfo["master_replid2"] == old_id  # PSYNC2: the old ID stays valid...
    assert binfo["second_repl_offset"] == str(b_off + 1)  # ...up to the offset of the promotion
    assert is_replid(binfo["master_replid"]) and binfo["master_replid"] != old_id
    assert binfo["master_repl_offset"] == str(b_off)
    assert binfo["repl_backlog_active"] == "1"
    assert b.c.execute_command("ROLE")[0] == "master"
    assert_same(data, snapshot(b.node, DBS))  # promotion keeps the data
    assert b.c.set("after-failover", "2") is True  # and accepts writes
    assert b.stat("sync_full") == 0 and b.stat("sync_partial_ok") == 0

    # The other replica follows the promoted one with a partial resync.
    replicate(b, c)
    assert b.stat("sync_partial_ok") == 1
    assert b.stat("sync_full") == 0
    assert b.stat("sync_partial_err") == 0
    cinfo = c.repl()
    assert cinfo["master_replid"] == b.repl()["master_replid"]
    assert c.c.get("after-failover") == "2"
    assert c.c.get("before-failover") == "1"
    b.c.set("streamed", "3")
    wait_in_sync(b, c)
    assert_same_data(b, c, DBS)


# ---------------------------------------------------------------- 7: partial resync after a cut

def cut_on_replica(primary, replica):
    assert replica.c.execute_command("CLIENT", "KILL", "TYPE", "master") == 1


def cut_on_primary(primary, replica):
    assert primary.c.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1


def cut_on_primary_slave_alias(primary, replica):
    assert primary.c.execute_command("CLIENT", "KILL", "TYPE", "slave") == 1


@pytest.mark.parametrize("cut", [cut_on_replica, cut_on_primary, cut_on_primary_slave_alias],
                         ids=["kill-master-link", "kill-replica", "kill-slave"])
@pairs
def test_partial_resync_after_the_link_is_cut(cluster, kinds, cut):
    primary, replica = start(cluster, kinds)
    preload(primary)
    replicate(primary, replica)
    replid = primary.repl()["master_replid"]
    full, partial = primary.stat("sync_full"), primary.stat("sync_partial_ok")
    cut(primary, replica)
    c = primary.client()
    for i in range(100):
        c.rpush("during-cut", i)
    c.incr("s:counter")
    c.close()
    c3 = primary.client(3)
    c3.set("in3", "x")
    c3.close()
    wait_until(lambda: primary.stat("sync_partial_ok") == partial + 1, "a partial resync",
               peers=(primary, replica))
    wait_until(lambda: online(primary, replica), "the replica back online", peers=(primary, replica))
    wait_in_sync(primary, replica)
    assert primary.stat("sync_full") == full
    assert primary.repl()["master_replid"] == replid
    assert replica.repl()["master_replid"] == replid
    assert replica.c.llen("during-cut") == 100
    assert_same_data(primary, replica, DBS)


@pairs
def test_a_killed_link_closes_at_once(cluster, kinds):
    """CLIENT KILL closes the connection at once, not when the command that
    runs it ends: killed inside a MULTI that then sleeps, the primary sees
    its replica go during the sleep, and its backlog (repl-backlog-ttl 1)
    expires, so the reconnection needs a full sync."""
    primary, replica = start(cluster, kinds)
    primary.c.config_set("repl-backlog-ttl", 1)
    replicate(primary, replica)
    full = primary.stat("sync_full")
    raw = Raw(replica.port)
    raw.send("MULTI")
    raw.send("CLIENT", "KILL", "TYPE", "master")
    raw.send("DEBUG", "SLEEP", "3")
    assert [raw.line() for _ in range(3)] == [b"+OK", b"+QUEUED", b"+QUEUED"]
    raw.send("EXEC")
    wait_until(lambda: primary.repl()["connected_slaves"] == "0", "the primary to see its replica go")
    # ... while the EXEC still sleeps: its reply has not come yet.
    assert select.select([raw.sock], [], [], 0)[0] == []
    assert raw.line() == b"*2"
    raw.close()
    wait_link_up(replica, primary)
    wait_in_sync(primary, replica)
    assert primary.stat("sync_partial_err") >= 1 and primary.stat("sync_full") == full + 1


@pairs
def test_backlog_too_short_forces_full_resync(cluster, kinds):
    primary, replica = start(cluster, kinds)
    assert primary.c.config_set("repl-backlog-size", "16384") is True
    primary.c.set("k", "v")
    replicate(primary, replica)
    # Pointing the replica elsewhere keeps what it had (its cached primary)
    # for a partial resync later.
    assert replica.c.execute_command("REPLICAOF", HOST, free_port()) == "OK"
    off = int(replica.repl()["master_repl_offset"])
    wait_until(lambda: replica_entry(primary, replica) is None, "the primary to drop the replica")
    p = primary.client().pipeline(transaction=False)
    for i in range(200):
        p.set("big:%d" % i, "x" * 1000)
    p.execute()
    wait_until(lambda: int(primary.repl()["repl_backlog_first_byte_offset"]) > off + 1,
               "the backlog to drop the replica's offset")
    full, err = primary.stat("sync_full"), primary.stat("sync_partial_err")
    replicate(primary, replica)
    assert primary.stat("sync_full") == full + 1
    assert primary.stat("sync_partial_err") == err + 1
    assert primary.stat("sync_partial_ok") == 0
    assert replica.c.dbsize() == 201
    assert_same_data(primary, replica, (0,))


# ---------------------------------------------------------------- 8: expiry seen from a replica

@pairs
def test_replica_hides_expired_keys_and_waits_for_the_primarys_del(cluster, kinds):
    primary, replica = start(cluster, kinds)
    assert primary.c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0) == "OK"
    replicate(primary, replica)
    # A Redis primary starts the command stream to a replica it fed a
    # diskless snapshot at that replica's next ack (up to a second later):
    # let it flow before the timed part.
    primary.c.set("kept", "v")
    wait_in_sync(primary, replica)
    primary.c.set("short", "v")
    assert primary.c.pexpire("short", 200) is True
    wait_in_sync(primary, replica)
    assert replica.c.pttl("short") <= 200  # the TTL came along (-2 once expired, never -1)
    # Logical expiry: the replica answers as if the key were gone...
    wait_until(lambda: replica.c.get("short") is None, "the key to expire on the replica")
    assert replica.c.exists("short") == 0
    assert replica.c.ttl("short") == -2
    assert replica.c.keys("*") == ["kept"]
    # ...but never deletes it itself: that is the primary's DEL (Redis
    # behaviour: the key still counts on the replica until then, and DEBUG
    # OBJECT, which looks at what is stored, still finds it).
    assert replica.c.dbsize() == 2
    assert "encoding:" in str(replica.c.execute_command("DEBUG", "OBJECT", "short"))
    wait_in_sync(primary, replica)
    assert replica.c.dbsize() == 2
    assert primary.c.dbsize() == 2
    # The primary touches it: it expires there and the DEL arrives.
    assert primary.c.get("short") is None
    wait_until(lambda: replica.c.dbsize() == 1, "the primary's DEL on the replica", peers=(primary, replica))
    wait_in_sync(primary, replica)
    # Active expiry on the primary also sends the DEL.
    assert primary.c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 1) == "OK"
    primary.c.set("short2", "v", px=100)
    wait_in_sync(primary, replica)  # the SET is there (and maybe already its DEL)
    wait_until(lambda: replica.c.dbsize() == 1 and primary.c.dbsize() == 1, "active expiry on both",
               peers=(primary, replica))
    wait_in_sync(primary, replica)
    assert replica.c.keys("*") == ["kept"]


# ---------------------------------------------------------------- 10: min-replicas-to-write

@pairs
def test_min_replicas_to_write(cluster, kinds):
    primary, replica = start(cluster, kinds)
    replicate(primary, replica)
    assert "min_slaves_good_slaves" not in primary.repl()
    assert primary.c.config_set("min-replicas-to-write", 2) is True
    # Shown only while min-replicas-to-write is set (Redis 7.0 keeps the old name).
    assert primary.repl()["min_slaves_good_slaves"] == "1"
    assert raw_reply(primary, "SET", "k", "v") == NOREPLICAS
    with pytest.raises(redis.ResponseError) as e:
        primary.c.set("k", "v")
    assert str(e.value) == "NOREPLICAS Not enough good replicas to write."  # redis-py keeps unknown codes
    assert primary.c.get("k") is None  # reads are fine
    assert primary.c.config_set("min-replicas-to-write", 1) is True
    assert primary.c.set("k", "v") is True
    wait_in_sync(primary, replica)
    assert replica.c.get("k") == "v"
    assert primary.c.config_set("min-replicas-to-write", 0) is True
    assert "min_slaves_good_slaves" not in primary.repl()


@pairs
def test_replica_counts_for_min_replicas_once_its_snapshot_is_sent(cluster, kinds):
    """A replica that has the whole of a diskless snapshot and is still
    loading it (its first REPLCONF ACK comes after the load) is online to
    the primary and counts for min-replicas-to-write, as Redis 7.0 counts
    it from the snapshot's end: writes are not refused meanwhile. Redis's
    unit/scripting "not enough good replicas state change during long
    script" runs into that window."""
    primary = cluster.start(kinds[0], "--repl-diskless-sync", "yes")
    # 2 ms a key: 2 s for the load, serving INFO meanwhile
    replica = cluster.start(kinds[1], "--key-load-delay", "2000", "--loading-process-events-interval-bytes", "1024")
    primary.c.execute_command("DEBUG", "POPULATE", "1000")
    assert primary.c.config_set("min-replicas-to-write", 1) is True
    assert replica.replicaof(primary) == "OK"
    wait_until(lambda: online(primary, replica), "the primary to see the replica online", peers=(primary, replica))
    assert replica.info("persistence")["loading"] == "1"  # no ACK yet
    assert primary.repl()["min_slaves_good_slaves"] == "1"
    assert primary.c.set("k", "v") is True
    wait_link_up(replica, primary)
    wait_in_sync(primary, replica)
    assert replica.c.get("k") == "v"


# ---------------------------------------------------------------- 11: SLAVEOF and REPLICAOF NO ONE

@pairs
def test_slaveof_is_replicaof(cluster, kinds):
    primary, replica = start(cluster, kinds)
    primary.c.set("k", "v")
    assert replica.c.execute_command("SLAVEOF", HOST, primary.port) == "OK"
    wait_link_up(replica, primary)
    wait_in_sync(primary, replica)
    assert replica.c.get("k") == "v"
    assert replica.c.execute_command("SLAVEOF", HOST, primary.port) == "OK Already connected to specified master"
    assert replica.c.execute_command("REPLICAOF", HOST, primary.port) == "OK Already connected to specified master"
    assert raw_reply(replica, "REPLICAOF", HOST, primary.port) == "+OK Already connected to specified master"
    assert replica.c.execute_command("SLAVEOF", "NO", "ONE") == "OK"
    assert replica.repl()["role"] == "master"
    assert replica.c.set("w", "1") is True
    assert replica.c.get("k") == "v"
    wait_until(lambda: primary.repl()["connected_slaves"] == "0", "the primary to drop the replica")


def test_replicaof_no_one_on_a_primary(cluster):
    (p,) = start(cluster, ("keel",))
    p.c.set("k", "v")
    replid = p.repl()["master_replid"]
    assert raw_reply(p, "REPLICAOF", "NO", "ONE") == "+OK"
    assert raw_reply(p, "SLAVEOF", "no", "one") == "+OK"
    assert p.repl()["master_replid"] == replid
    assert p.c.execute_command("ROLE") == ["master", 0, []]
    assert p.c.get("k") == "v"
    assert p.c.execute_command("CLIENT", "KILL", "TYPE", "master") == 0
    assert p.c.execute_command("CLIENT", "KILL", "TYPE", "replica") == 0
    assert p.c.execute_command("CLIENT", "KILL", "TYPE", "slave") == 0


# ---------------------------------------------------------------- 9: bad input, no primary, raw handshakes

def test_replicaof_bad_arguments(cluster):
    (p,) = start(cluster, ("keel",))
    for port in ("abc", "70000", "-1", "65536", "1.5", ""):
        assert raw_reply(p, "REPLICAOF", HOST, port) == BAD_PORT, port
        assert raw_reply(p, "SLAVEOF", HOST, port) == BAD_PORT, port
    assert raw_reply(p, "REPLICAOF") == "-ERR wrong number of arguments for 'replicaof' command"
    assert raw_reply(p, "REPLICAOF", HOST) == "-ERR wrong number of arguments for 'replicaof' command"
    assert raw_reply(p, "REPLICAOF", "NO", "ONE", "x") == "-ERR wrong number of arguments for 'replicaof' command"
    assert raw_reply(p, "SLAVEOF", "NO") == "-ERR wrong number of arguments for 'slaveof' command"
    assert p.repl()["role"] == "master"


def test_replicaof_itself_never_links(cluster):
    (p,) = start(cluster, ("keel",))
    p.c.set("k", "v")
    assert p.replicaof(p) == "OK"  # Redis does not refuse it: the handshake fails forever
    info = p.repl()
    assert info["role"] == "slave"
    assert info["master_port"] == str(p.port)
    stays(lambda: p.repl()["master_link_status"] == "down", "the link to itself stays down")
    role = p.c.execute_command("ROLE")
    assert role[:3] == ["slave", HOST, p.port]
    assert role[3] in ("connect", "connecting", "handshake")
    assert role[4] == -1
    # A replica that never synced serves its old data and refuses writes and
    # replicas of its own.
    assert p.c.get("k") == "v"
    assert raw_reply(p, "SET", "k", "w") == READONLY
    assert raw_reply(p, "PSYNC", "?", "-1") == NOMASTERLINK
    assert raw_reply(p, "SYNC") == NOMASTERLINK
    assert p.c.execute_command("REPLICAOF", "NO", "ONE") == "OK"
    assert p.repl()["role"] == "master"
    assert p.c.set("k", "w") is True


@pytest.mark.parametrize("kind", ["keel", "redis"])
def test_replica_keeps_its_replicas_until_a_new_snapshot_loads(cluster, kind):
    """A replica told to follow another primary keeps its own replicas (as
    Redis 7 does): until a snapshot from the new primary loads, its data
    and history are what they were. Here that full sync dies halfway (the
    new primary goes), so the replica keeps its history, goes back to the
    old primary with a partial resync, and its replica never notices.
    Redis's integration/replication "Don't disconnect with replicas before
    loading transferred RDB when full sync" and "Discard cache master
    before loading transferred RDB when full sync". (The replica is the
    kind under test; the others are Keel.)"""
    a, b, sub = start(cluster, ("keel", "keel", "keel"))
    r = cluster.start(kind)
    a.c.set("a", "b")
    b.c.execute_command("DEBUG", "POPULATE", "10", "b", "10")
    b.c.config_set("rdb-key-save-delay", "1000000")  # 10 s: the sync never ends
    replicate(a, r)
    replicate(r, sub)
    assert sub.c.get("a") == "b"
    assert r.replicaof(b) == "OK"
    wait_until(lambda: b.info("persistence")["rdb_bgsave_in_progress"] == "1" and
               r.repl()["master_sync_in_progress"] == "1", "the full sync from the new primary", peers=(b, r))
    b.node.kill9()
    time.sleep(0.3)
    lost = "Connection with master lost"
    assert lost not in sub.node.log_text()
    assert r.repl()["master_replid"] == a.repl()["master_replid"] == sub.repl()["master_replid"]
    full, partial = a.stat("sync_full"), a.stat("sync_partial_ok")
    assert r.replicaof(a) == "OK"
    wait_link_up(r, a)
    assert (a.stat("sync_full"), a.stat("sync_partial_ok")) == (full, partial + 1)
    a.c.set("c", "d")
    wait_in_sync(a, r)
    wait_until(lambda: sub.c.get("c") == "d", "the write to reach the replica's replica", peers=(r, sub))
    assert lost not in sub.node.log_text()
    assert (r.stat("sync_full"), r.stat("sync_partial_ok")) == (1, 0)


@pytest.mark.parametrize("kind", ["keel", "redis"])
def test_watchdog_during_a_diskless_load(cluster, kind):
    """A replica loading straight from the socket holds the server (it only
    serves events in between), so its watchdog reports the load, and the
    signal breaking into its wait for the primary's bytes does not break
    the sync: one full sync, and the data arrives. Redis's
    integration/replication "replica can handle EINTR if use diskless
    load". (The replica is the kind under test.)"""
    p = cluster.start("keel")
    r = cluster.start(kind)
    p.c.execute_command("DEBUG", "POPULATE", "100", "master", "100000")
    p.c.config_set("rdbcompression", "no")
    p.c.config_set("repl-diskless-sync", "yes")
    p.c.config_set("repl-diskless-sync-delay", "0")
    p.c.config_set("rdb-key-save-delay", "10000")  # 10 ms a key: a 1 s load
    r.c.config_set("repl-diskless-load", "on-empty-db")
    r.c.config_set("watchdog-period", "200")
    assert r.replicaof(p) == "OK"
    wait_until(lambda: "Loading DB in memory" in r.node.log_text(), "the load to start", peers=(p, r))
    wait_until(lambda: "WATCHDOG TIMER EXPIRED" in r.node.log_text().split("Loading DB in memory", 1)[1],
               "the watchdog to report the load", peers=(p, r))
    assert r.info("persistence")["loading"] == "1"
    r.c.config_set("watchdog-period", "0")
    wait_link_up(r, p)
    assert r.c.dbsize() == 100
    assert p.stat("sync_full") == 1


def full_sync_waiter(peer, diskless):
    """A raw replica that asked for a full sync (the EOF-mark form when
    diskless) and reads nothing more."""
    raw = Raw(peer.port)
    if diskless:
        raw.send("REPLCONF", "capa", "eof", "capa", "psync2")
        assert raw.line() == b"+OK"
    raw.send("PSYNC", "?", "-1")
    return raw


@pytest.mark.parametrize("kind", ["keel", "redis"])
@pytest.mark.parametrize("diskless", ["no", "yes"])
def test_snapshot_no_replica_waits_for_is_stopped(cluster, kind, diskless):
    """A full sync's snapshot stops once the last replica waiting for it
    goes (as Redis kills its child), so it takes no more time and the next
    full sync starts at once; stopped is not failed. One made to a file is
    kept when save points are set: the file is worth having. Redis's
    integration/replication "Kill rdb child process if its dumping RDB is
    not useful"."""
    (p,) = start(cluster, (kind,))
    p.c.execute_command("DEBUG", "POPULATE", "100000", "key", "100")
    p.c.config_set("repl-diskless-sync", diskless)
    p.c.config_set("repl-diskless-sync-delay", "0")
    p.c.config_set("rdb-key-save-delay", "100")  # 10 s in all
    saving = lambda: p.info("persistence")["rdb_bgsave_in_progress"] == "1"  # noqa: E731
    first, second = full_sync_waiter(p, diskless == "yes"), full_sync_waiter(p, diskless == "yes")
    try:
        wait_until(lambda: saving() and p.repl()["connected_slaves"] == "2", "the snapshot for two replicas")
        first.close()
        stays(saving, "the snapshot goes on while a replica waits for it", seconds=0.3)
        second.close()
        wait_until(lambda: not saving(), "the snapshot to stop", timeout=5)
        assert p.info("persistence")["rdb_last_bgsave_status"] == "ok"
    finally:
        first.close()
        second.close()
    if diskless == "no":
        p.c.config_set("save", "900 1")
        first, second = full_sync_waiter(p, False), full_sync_waiter(p, False)
        try:
            wait_until(lambda: saving() and p.repl()["connected_slaves"] == "2", "the snapshot for two replicas")
        finally:
            first.close()
            second.close()
        wait_until(lambda: p.repl()["connected_slaves"] == "0", "the replicas gone")
        stays(saving, "a snapshot with save points set goes on", seconds=0.5)
        p.c.flushall()  # (stops it)
        p.c.config_set("save", "")


@pytest.mark.parametrize("kind", ["keel", "redis"])
def test_psync_with_a_wrong_offset_is_refused(cluster, kind):
    """PSYNC whose offset is not an integer gets Redis's integer error and
    the connection does not become a replica (Keel answered a FULLRESYNC).
    Redis's integration/replication "PSYNC with wrong offset should throw
    error"."""
    (p,) = start(cluster, (kind,))
    assert raw_reply(p, "PSYNC", "replicationid", "offset_str") == "-ERR value is not an integer or out of range"
    assert raw_reply(p, "PSYNC", "?", "1.5") == "-ERR value is not an integer or out of range"
    assert p.repl()["connected_slaves"] == "0"
    assert p.stat("sync_full") == 0


@pytest.mark.parametrize("kind", ["keel", "redis"])
@pytest.mark.parametrize("command,name", [(("PING",), "ping"), (("XINFO", "HELP"), "xinfo|help"),
                                          (("GET", "foo"), "get")])
def test_replica_that_sends_a_replying_command_is_dropped(cluster, kind, command, name):
    """A connection that became a replica (SYNC) and then sends a command
    that replies is dropped with Redis's log line: the reply would land
    among the stream's bytes. It gets its snapshot and no reply. A command
    that reads or writes keys is refused first ("Replica can't interact
    with the keyspace": replicas are exempt from CLIENT PAUSE), an error
    to a replica, which the log calls critical. Redis's
    integration/replication "replica do not write the reply to the
    replication link"."""
    (p,) = start(cluster, (kind,))
    p.c.config_set("repl-diskless-sync", "no")
    raw = Raw(p.port)
    try:
        raw.send("SYNC")
        time.sleep(0.3)
        raw.send(*command)
        raw.sock.settimeout(5)
        got = b""
        while True:
            chunk = raw.sock.recv(65536)
            if not chunk:
                break
            got += chunk
        size = int(got[1:got.index(b"\r\n")])
        assert got.startswith(b"$") and len(got) == got.index(b"\r\n") + 2 + size  # the snapshot, nothing after
    finally:
        raw.close()
    wait_until(lambda: "Replica generated a reply to command '%s', disconnecting it: " % name in p.node.log_text(),
               "the log line", peers=(p,))
    assert p.repl()["connected_slaves"] == "0"
    refused = ("== CRITICAL == This master is sending an error to its replica: 'Replica can't interact with the "
               "keyspace' after processing the command 'get'")
    assert (refused in p.node.log_text()) == (name == "get")
    if name == "get":
        assert "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0" in p.c.execute_command(
            "INFO", "commandstats")


def test_replicaof_unreachable_primary(cluster):
    (p,) = start(cluster, ("keel",))
    p.c.set("k", "v")
    p.client(2).rpush("l", 1, 2)
    nowhere = free_port()
    assert p.c.execute_command("REPLICAOF", HOST, nowhere) == "OK"
    stays(lambda: p.repl()["master_link_status"] == "down", "the link to nowhere stays down")
    info = p.repl()
    assert info["role"] == "slave"
    assert info["master_host"] == HOST
    assert info["master_port"] == str(nowhere)
    assert info["master_sync_in_progress"] == "0"
    assert info["master_last_io_seconds_ago"] == "-1"  # never heard from it
    assert info["master_link_down_since_seconds"] == "-1"  # Redis 7.0: -1 when the link was never up
    role = p.c.execute_command("ROLE")
    assert role[:3] == ["slave", HOST, nowhere]
    assert role[3] in ("connect", "connecting")
    assert role[4] == -1
    # Reads are served from the old data (replica-serve-stale-data yes)...
    assert p.c.get("k") == "v"
    assert p.client(2).lrange("l", 0, -1) == ["1", "2"]
    assert p.c.dbsize() == 1
    assert raw_reply(p, "SET", "k", "w") == READONLY
    # ...or refused with replica-serve-stale-data no; INFO still works.
    assert p.c.config_set("replica-serve-stale-data", "no") is True
    assert raw_reply(p, "GET", "k") == MASTERDOWN
    assert raw_reply(p, "DBSIZE") == MASTERDOWN
    assert raw_reply(p, "PING") == MASTERDOWN  # PING has no "stale" flag in Redis
    assert p.repl()["master_link_status"] == "down"
    assert p.c.config_set("replica-serve-stale-data", "yes") is True
    assert p.c.execute_command("REPLICAOF", "NO", "ONE") == "OK"
    assert p.c.get("k") == "v"
    assert p.c.set("k", "w") is True


@pytest.mark.parametrize("replid,offset", [("?", "-1"), ("ab" * 20, "1")], ids=["question-mark", "unknown-id"])
def test_psync_from_scratch_gets_fullresync_and_rdb(cluster, replid, offset):
    (p,) = start(cluster, ("keel",))
    p.c.set("psync-key", "v")
    err = p.stat("sync_partial_err")
    raw = Raw(p.port)
    try:
        raw.send("PSYNC", replid, offset)
        head = raw.line().split(b" ")
        assert head[0] == b"+FULLRESYNC" and len(head) == 3, head
        # The ID and offset the replica must continue from. (Redis 7.0 makes
        # a new ID when its first replica creates the backlog, so compare with
        # INFO read afterwards.)
        info = p.repl()
        assert head[1].decode() == info["master_replid"]
        assert int(head[2]) == int(info["master_repl_offset"])
        rdb = read_rdb_payload(raw)  # no `capa eof` announced: a $<len> bulk
        assert rdb.startswith(b"REDIS00")
        assert rdb[-9] == 0xFF  # EOF opcode, then the 8-byte checksum
        assert b"psync-key" in rdb
    finally:
        raw.close()
    assert p.stat("sync_full") == 1
    assert p.stat("sync_partial_err") == err + (replid != "?")  # "?" asks for a full sync: not an error


def test_sync_gets_rdb_bulk(cluster):
    (p,) = start(cluster, ("keel",))
    p.c.set("sync-key", "v")
    raw = Raw(p.port)
    try:
        raw.send("SYNC")
        rdb = read_rdb_payload(raw)
        assert rdb.startswith(b"REDIS00")
        assert rdb[-9] == 0xFF
        assert b"sync-key" in rdb
    finally:
        raw.close()
    assert p.stat("sync_full") == 1


def test_replication_stream_bytes_and_raw_partial_resync(cluster):
    """What a replica receives after the snapshot is the writes as RESP
    arrays, starting with a SELECT; the offset counts those bytes; PSYNC
    with the ID and offset+1 continues from the backlog with the same bytes."""
    (p,) = start(cluster, ("keel",))
    first = Raw(p.port)
    second = Raw(p.port)
    try:
        first.send("REPLCONF", "capa", "psync2")
        assert first.line() == b"+OK"
        first.send("PSYNC", "?", "-1")
        _, replid, off = first.line().split(b" ")
        off = int(off)
        read_rdb_payload(first)
        p.client(5).set("k", "v")
        p.c.execute_command("DEL", "nosuch")  # no effect: not propagated
        p.c.rpush("l", "a", "b")
        end = p.offset()
        stream = first.exact(end - off)
        cmds = [c for c in parse_commands(stream) if c != [b"PING"]]  # a primary pings its replicas now and then
        assert cmds == [[b"SELECT", b"5"], [b"SET", b"k", b"v"], [b"SELECT", b"0"], [b"RPUSH", b"l", b"a", b"b"]]
        second.send("REPLCONF", "capa", "psync2")
        assert second.line() == b"+OK"
        second.send("PSYNC", replid, off + 1)
        assert second.line() == b"+CONTINUE " + replid  # PSYNC2 names the ID to continue with
        assert second.exact(len(stream)) == stream
    finally:
        first.close()
        second.close()
    assert p.stat("sync_partial_ok") == 1
    assert p.stat("sync_full") == 1


@pytest.mark.skipif(not (shutil.which("redis-cli") and shutil.which("redis-check-rdb")),
                    reason="needs redis-cli and redis-check-rdb (apt-get install redis-tools)")
def test_redis_cli_rdb_downloads_a_valid_snapshot(cluster):
    (p,) = start(cluster, ("keel",))
    preload(p)
    path = os.path.join(mkdir(), "cli.rdb")
    out = subprocess.run([shutil.which("redis-cli"), "-h", HOST, "-p", str(p.port), "--rdb", path],
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Transfer finished with success" in out.stdout + out.stderr
    with open(path, "rb") as f:
        assert f.read(7) == b"REDIS00"
    check = subprocess.run([shutil.which("redis-check-rdb"), path], capture_output=True, text=True, timeout=DEADLINE)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "RDB looks OK" in check.stdout
    assert p.c.get("s:short") == "hello"  # the primary carries on


LIB = "#!lua name=lib1\nredis.register_function('func1', function() return 123 end)"


@pytest.mark.skipif(not shutil.which("redis-cli"), reason="needs redis-cli (apt-get install redis-tools)")
@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_redis_cli_functions_rdb_holds_the_libraries_alone(cluster, diskless):
    """redis-cli --functions-rdb (REPLCONF rdb-filter-only functions): a
    snapshot with the function libraries and no key, which a server then
    starts from; the primary drops the rdb-only replica once it is sent."""
    (p,) = start(cluster, ("keel",))
    assert p.c.config_set("repl-diskless-sync", diskless) is True
    preload(p)
    assert p.c.function_load(LIB) == "lib1"
    libraries = p.c.function_list()
    path = os.path.join(p.node.dir, "cli.rdb")
    out = subprocess.run([shutil.which("redis-cli"), "-h", HOST, "-p", str(p.port), "--functions-rdb", path],
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Transfer finished with success" in out.stdout + out.stderr
    os.replace(path, p.node.rdb)
    p.c.set("should-not-exist", "1")
    assert p.c.execute_command("DEBUG", "RELOAD", "NOSAVE") == "OK"
    assert p.c.dbsize() == 0
    assert sorted(p.c.function_list()) == sorted(libraries) and len(libraries) >= 2
    wait_until(lambda: p.repl()["connected_slaves"] == "0", "the rdb-only replica to be dropped")


def sync_reply(port, *replconf):
    """What a primary sends for SYNC after the REPLCONF pairs given, until
    it closes the connection (within 5 s)."""
    raw = Raw(port)
    try:
        for name, value in replconf:
            raw.send("REPLCONF", name, value)
            assert raw.line() == b"+OK"
        raw.send("SYNC")
        return raw.until_closed(5)
    finally:
        raw.close()


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_rdb_only_replica_gets_the_snapshot_then_goes(cluster, diskless):
    """REPLCONF rdb-only 1: the snapshot and no stream after it (the primary
    closes the connection), through a file or sockets."""
    (p,) = start(cluster, ("keel",))
    assert p.c.config_set("repl-diskless-sync", diskless) is True
    p.c.set("k", "v")
    got = sync_reply(p.port, ("capa", "eof"), ("rdb-only", "1"))
    assert got.lstrip(b"\n").startswith(b"$EOF:" if diskless == "yes" else b"$"), got[:80]
    assert snapshot_in(got).startswith(b"REDIS0010")
    p.c.set("after", "1")  # (no replica left to stream it to)
    wait_until(lambda: p.repl()["connected_slaves"] == "0", "the rdb-only replica to be dropped")


def test_rdb_filter_only_arguments(cluster):
    (p,) = start(cluster, ("keel",))
    raw = Raw(p.port)
    try:
        for value, reply in [("bogus", b"-ERR Unsupported rdb-filter-only option: bogus"),
                             ("functions bogus", b"-ERR Unsupported rdb-filter-only option: bogus"),
                             ("'functions", b"-ERR Missing rdb-filter-only values"),
                             ("", b"+OK"), ("FUNCTIONS", b"+OK"), ('"functions" functions', b"+OK")]:
            raw.send("REPLCONF", "rdb-filter-only", value)
            assert raw.line() == reply, value
        for value, reply in [("2", b"-ERR value is out of range, value must between 0 and 1"),
                             ("-1", b"-ERR value is out of range, value must between 0 and 1"),
                             ("x", b"-ERR value is not an integer or out of range"),
                             ("0", b"+OK"), ("1", b"+OK")]:
            raw.send("REPLCONF", "rdb-only", value)
            assert raw.line() == reply, value
        # A filtered snapshot goes only to a replica that reads the EOF mark.
        raw.send("SYNC")
        assert raw.line() == b"-ERR Filtered replica requires EOF capability"
    finally:
        raw.close()


def test_rdb_filter_only_empty_sends_a_snapshot_of_nothing(cluster):
    """rdb-filter-only "": neither keys nor functions, a valid snapshot."""
    (p,) = start(cluster, ("keel",))
    p.c.set("k", "v")
    assert p.c.function_load(LIB) == "lib1"
    got = sync_reply(p.port, ("capa", "eof"), ("rdb-only", "1"), ("rdb-filter-only", ""))
    payload = snapshot_in(got)
    assert payload.startswith(b"REDIS0010")
    assert b"func1" not in payload and b"\x00\x01k\x01v" not in payload
    path = os.path.join(p.node.dir, "empty.rdb")
    with open(path, "wb") as f:
        f.write(payload)
    if shutil.which("redis-check-rdb"):
        check = subprocess.run([shutil.which("redis-check-rdb"), path], capture_output=True, text=True,
                               timeout=DEADLINE)
        assert "RDB looks OK" in check.stdout and "0 keys read" in check.stdout, check.stdout


# ---------------------------------------------------------------- diskless and disk full syncs

@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_full_sync_through_sockets_or_a_file(cluster, diskless):
    """repl-diskless-sync yes streams the snapshot with an EOF mark as it is
    walked (no file); no writes dbfilename and sends it as a sized bulk.
    Both carry every type, and the writes made meanwhile follow."""
    primary, replica = cluster.start("keel"), cluster.start("keel")
    assert primary.c.config_set("repl-diskless-sync", diskless) is True
    preload(primary)
    replicate(primary, replica)
    primary.c.set("after", "1")
    wait_in_sync(primary, replica)
    assert_same_data(primary, replica, DBS)
    log = open(primary.node.log).read()
    target = "replicas sockets" if diskless == "yes" else "disk"
    assert "Starting BGSAVE for SYNC with target: %s" % target in log
    assert os.path.exists(os.path.join(primary.node.dir, "dump.rdb")) == (diskless == "no")


def test_diskless_delay_lets_replicas_share_one_snapshot(cluster):
    primary = cluster.start("keel")
    r1, r2 = cluster.start("keel"), cluster.start("keel")
    assert primary.c.config_set("repl-diskless-sync-delay", "2") is True
    primary.c.set("k", "v")
    assert r1.replicaof(primary) == "OK"
    assert r2.replicaof(primary) == "OK"
    wait_link_up(r1, primary)
    wait_link_up(r2, primary)
    log = open(primary.node.log).read()
    assert log.count("Starting BGSAVE for SYNC with target: replicas sockets") == 1
    assert primary.stat("sync_full") == 2
    assert r1.c.get("k") == r2.c.get("k") == "v"


# ---------------------------------------------------------------- masterauth, masteruser, announce

@pairs
def test_masterauth_and_masteruser(cluster, kinds):
    primary, replica = start(cluster, kinds)
    primary.c.set("k", "v")
    primary.c.config_set("requirepass", "s3cret")  # this connection stays authenticated
    replica.c.config_set("masterauth", "wrong")
    assert replica.replicaof(primary) == "OK"
    stays(lambda: replica.repl()["master_link_status"] == "down", "a wrong masterauth keeps the link down")
    replica.c.config_set("masterauth", "s3cret")
    wait_link_up(replica, primary)
    wait_in_sync(primary, replica)
    assert replica.c.get("k") == "v"
    # AUTH <user> <password> when masteruser is set.
    replica.c.config_set("masteruser", "default")
    replica.c.execute_command("CLIENT", "KILL", "TYPE", "master")
    primary.c.set("k2", "v2")
    wait_link_up(replica, primary)
    wait_in_sync(primary, replica)
    assert replica.c.get("k2") == "v2"


@pairs
def test_replica_announce_ip_and_port(cluster, kinds):
    primary, replica = start(cluster, kinds)
    replica.c.config_set("replica-announce-ip", "10.9.8.7")
    replica.c.config_set("replica-announce-port", "7777")
    assert replica.replicaof(primary) == "OK"
    wait_link_up(replica, primary)
    wait_until(lambda: "ip=10.9.8.7,port=7777,state=online" in primary.repl().get("slave0", ""),
               "the primary to list the announced address", peers=(primary, replica))
    wait_until(lambda: primary.c.execute_command("ROLE")[2][:1] and
               primary.c.execute_command("ROLE")[2][0][:2] == ["10.9.8.7", "7777"], "ROLE with the announced address")


def test_redis_cli_replica_logs_the_stream(cluster):
    if os.environ.get("KEEL_SERVER", "").endswith("redis-server"):
        # redis-cli 7.0 asks for "rdb-filter-only", which makes Redis 7.0
        # stream the snapshot diskless and then wait for an ACK redis-cli
        # never sends, so it logs nothing. Keel sends the stream after a
        # snapshot through a file.
        pytest.skip("redis-server 7.0 sends redis-cli --replica no commands")
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli (Debian's redis-tools) is not installed")
    (p,) = start(cluster, ("keel",))
    # redis-cli never sends REPLCONF ACK, after which a diskless primary
    # (Redis too) starts the stream: --replica needs a sync through a file.
    p.c.config_set("repl-diskless-sync", "no")
    p.c.set("before", "1")
    proc = subprocess.Popen(["redis-cli", "-p", str(p.port), "--replica"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: p.repl()["connected_slaves"] == "1", "redis-cli attached as a replica")
        wait_until(lambda: "state=online" in p.repl().get("slave0", ""), "redis-cli online")
        p.c.set("after", "2")
        time.sleep(0.5)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    assert "SYNC done" in out, out
    assert '"SET","after","2"' in out, out


def test_config_set_repl_backlog_size_resizes_the_backlog(cluster):
    """The backlog is the newest blocks of the shared replication buffer:
    once the replica has read them it keeps at least repl-backlog-size
    bytes, and at most one 16 KB block more, and a smaller size given by
    CONFIG SET frees the rest at once."""
    primary, replica = start(cluster, ("keel", "keel"))
    replicate(primary, replica)
    for i in range(300):
        primary.c.set("k%d" % i, "v" * 1000)
    wait_in_sync(primary, replica)
    primary.c.set("one-more", "v")  # a write after the replica read them all: the trim's turn
    assert int(primary.repl()["repl_backlog_histlen"]) > 200000  # the 1 MB default keeps them all
    assert primary.c.config_set("repl-backlog-size", "32kb") is True
    info = primary.repl()
    assert info["repl_backlog_size"] == "32768"
    histlen = int(info["repl_backlog_histlen"])
    assert 32768 <= histlen <= 32768 + 16384
    assert int(info["repl_backlog_first_byte_offset"]) == int(info["master_repl_offset"]) - histlen + 1
    mem = {k: int(v) for k, v in primary.info("memory").items() if k.startswith("mem_")
           and v.isdigit()}
    assert histlen <= mem["mem_total_replication_buffers"] <= histlen + 2 * 16384
    assert mem["mem_replication_backlog"] == min(mem["mem_total_replication_buffers"], 32768)
    for i in range(100):
        primary.c.set("k%d" % i, "v" * 1000)
    wait_in_sync(primary, replica)
    primary.c.set("one-more", "v")
    histlen = int(primary.repl()["repl_backlog_histlen"])
    assert 32768 <= histlen <= 32768 + 16384


# ---------------------------------------------------------------- writable replicas

@pairs
def test_writable_replica_expires_its_own_keys(cluster, kinds):
    """Keys a writable replica's own clients give a TTL are unknown to the
    primary, which will never send their DEL: the replica tracks and
    expires them itself (INFO slave_expires_tracked_keys), while keys from
    the primary still wait for the primary's DEL."""
    primary, replica = start(cluster, kinds)
    replicate(primary, replica)
    replica.c.config_set("replica-read-only", "no")
    r = replica.client()
    primary.c.set("theirs", "1", px=2000)
    wait_in_sync(primary, replica)
    r.set("mine", "1", px=1000)
    r.execute_command("SET", "mine2", "1")
    r.execute_command("PEXPIRE", "mine2", 1000)
    replica.client(3).set("mine3", "1", px=1000)
    r.eval("redis.call('set', KEYS[1], '1', 'PX', 1000)", 1, "byscript")
    r.set("kept", "1")  # no TTL: not tracked
    assert int(replica.info("stats")["slave_expires_tracked_keys"]) == 4
    assert replica.info("keyspace")["db0"].startswith("keys=5,expires=4,")
    wait_until(lambda: int(replica.info("stats")["slave_expires_tracked_keys"]) == 0,
               "the replica to expire its own keys", peers=(primary, replica))
    # Gone for real (not just hidden): the keyspace no longer counts them;
    # "theirs" went when the primary's DEL arrived.
    wait_until(lambda: replica.info("keyspace")["db0"].startswith("keys=1,expires=0,"),
               "the primary's key to go too", peers=(primary, replica))
    assert "db3" not in replica.info("keyspace")
    assert r.get("kept") == "1"


@pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("redis", "keel")])
def test_bind_source_addr_is_the_replicas_address(cluster, kinds):
    """bind-source-addr: the replica's link leaves from that local address,
    so the primary lists the replica under it (127.0.0.2 is loopback on
    Linux)."""
    primary, replica = [cluster.start(k) for k in kinds]
    primary.c.config_set("protected-mode", "no")  # Redis counts only 127.0.0.1 as local
    assert replica.c.config_set("bind-source-addr", "127.0.0.2")
    replicate(primary, replica)
    assert "ip=127.0.0.2," in primary.repl()["slave0"]


@pytest.mark.parametrize("kinds", PAIRS)
def test_a_paused_replica_reads_but_does_not_apply(cluster, kinds):
    """CLIENT PAUSE WRITE on a replica: it goes on reading its primary's
    stream (slave_read_repl_offset) but applies nothing (slave_repl_offset,
    the data) until the pause ends, as in Redis 7."""
    primary, replica = [cluster.start(k) for k in kinds]
    replicate(primary, replica)
    primary.c.set("foo", "bar")
    wait_in_sync(primary, replica)
    old = int(primary.repl()["master_repl_offset"])
    assert replica.c.execute_command("CLIENT", "PAUSE", 100000, "WRITE") == "OK"
    primary.c.set("foo2", "bar2")
    now = int(primary.repl()["master_repl_offset"])
    wait_until(lambda: int(replica.repl()["slave_read_repl_offset"]) == now, "the replica to read the write",
               peers=(primary, replica))
    assert int(replica.repl()["slave_repl_offset"]) == old
    assert replica.c.get("foo2") is None
    assert replica.c.execute_command("CLIENT", "UNPAUSE") == "OK"
    wait_until(lambda: int(replica.repl()["slave_repl_offset"]) == now, "the replica to apply it",
               peers=(primary, replica))
    assert replica.c.get("foo2") == "bar2"


@pytest.mark.parametrize("kinds", PAIRS)
def test_binary_requirepass_and_masterauth(cluster, kinds):
    """A password may hold a NUL byte, as in Redis: CONFIG SET requirepass
    and masterauth keep every byte, AUTH compares them all, and a replica
    authenticates with the whole masterauth."""
    primary, replica = [cluster.start(k) for k in kinds]
    pw = b"abc\x00def"
    admin = primary.bytes_client()
    assert admin.execute_command("CONFIG", "SET", "requirepass", pw) == b"OK"
    assert admin.execute_command("CONFIG", "GET", "requirepass") == [b"requirepass", pw]
    other = primary.node.raw()
    with pytest.raises(redis.ResponseError, match="WRONGPASS"):
        other.execute_command("AUTH", "abc")
    assert other.execute_command("AUTH", pw) in (True, b"OK")
    rc = replica.bytes_client()
    rc.execute_command("CONFIG", "SET", "masterauth", "abc")
    rc.execute_command("REPLICAOF", HOST, primary.port)
    stays(lambda: replica.repl()["master_link_status"] == "down", "the link to stay down with a wrong password")
    rc.execute_command("CONFIG", "SET", "masterauth", pw)
    wait_until(lambda: replica.repl()["master_link_status"] == "up", "the link with the binary password",
               peers=(primary, replica))
    assert rc.execute_command("CONFIG", "GET", "masterauth") == [b"masterauth", pw]


@pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("redis", "keel")])
def test_scripts_on_a_read_only_replica_are_judged_by_their_flags(cluster, kinds):
    """A script that declares no flags may write: a read-only replica
    refuses it before it runs (READONLY); one declaring no-writes runs, as
    does a legacy script that does not write."""
    primary, replica = [cluster.start(k) for k in kinds]
    replicate(primary, replica)
    c = replica.c
    with pytest.raises(redis.ResponseError, match="^You can't write against a read only replica"):
        c.eval("#!lua\nreturn 1", 0)
    assert c.eval("#!lua flags=no-writes\nreturn 2", 0) == 2
    assert c.eval("return 3", 0) == 3
    with pytest.raises(redis.ResponseError, match="READONLY|read only replica"):
        c.eval("return redis.call('set', 'k', 'v')", 0)


@pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("redis", "keel")])
def test_config_resetstat_zeroes_the_sync_counters(cluster, kinds):
    primary, replica = [cluster.start(k) for k in kinds]
    replicate(primary, replica)
    assert primary.stat("sync_full") == 1
    assert primary.c.config_resetstat()
    assert (primary.stat("sync_full"), primary.stat("sync_partial_ok"), primary.stat("sync_partial_err")) == (0, 0, 0)
