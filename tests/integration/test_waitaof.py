"""WAITAOF numlocal numreplicas timeout (Redis 7.2): blocks until the local
AOF and/or that many replicas' AOFs have the connection's writes on disk,
and replies [local 0|1, replicas].

The local count follows the fsync policy: `always` syncs before replies
leave, `everysec` within a second (a background fsync), and `no` never
promises a sync, so a WAITAOF for it times out. A log turned on at run time
counts only once its first base is in place. Replicas report what their log
has on disk with `REPLCONF ACK <offset> FACK <offset>`, as Redis 7.2
replicas do; Redis 7.0 replicas (Debian's) send no FACK and never count,
and a Redis 7.0 primary ignores Keel's FACK. Error texts are Redis 7.2's."""
import threading
import time

import pytest
import redis
from persist_util import Node, TempDirs, removal_fixture
from repl_util import Raw, base_args, cluster_fixture, raw_reply, replicate, wait_in_sync, wait_until

mkdir = TempDirs("keel-waitaof-")
_remove_tmpdirs = removal_fixture(mkdir)

ON_REPLICA = ("-ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are "
              "just local and are not propagated.")
NO_AOF = "-ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled."
POSITIVE = "-ERR value is out of range, must be positive"

cluster = cluster_fixture(mkdir)


def waitaof(peer, numlocal, numreplicas, timeout_ms):
    """(reply, seconds taken) of WAITAOF on a fresh connection."""
    c = peer.client()
    t = time.time()
    try:
        return c.execute_command("WAITAOF", numlocal, numreplicas, timeout_ms), time.time() - t
    finally:
        c.close()


def test_argument_errors_and_aof_off(cluster):
    p = cluster.start("keel")
    assert raw_reply(p, "WAITAOF", 0, 0) == "-ERR wrong number of arguments for 'waitaof' command"
    assert raw_reply(p, "WAITAOF", -1, 0, 0) == POSITIVE
    assert raw_reply(p, "WAITAOF", 0, -1, 0) == POSITIVE
    assert raw_reply(p, "WAITAOF", "x", 0, 0) == "-ERR value is not an integer or out of range"
    assert raw_reply(p, "WAITAOF", 0, "1.5", 0) == "-ERR value is not an integer or out of range"
    assert raw_reply(p, "WAITAOF", 0, 0, -1) == "-ERR timeout is negative"
    assert raw_reply(p, "WAITAOF", 0, 0, "x") == "-ERR timeout is not an integer or out of range"
    # The log is off: asking for it is an error, asking for nothing is not.
    assert raw_reply(p, "WAITAOF", 1, 0, 0) == NO_AOF
    p.c.set("k", "v")
    assert waitaof(p, 0, 0, 0)[0] == [0, 0]
    # No replica: the timeout passes with none counted.
    reply, took = waitaof(p, 0, 1, 150)
    assert reply == [0, 0] and took >= 0.14


def test_local_always_is_synced_before_the_reply(cluster):
    p = cluster.start("keel", "--appendonly", "yes", "--appendfsync", "always")
    c = p.client()
    c.set("k", "v")
    t = time.time()
    assert c.execute_command("WAITAOF", 1, 0, 0) == [1, 0]
    assert time.time() - t < 0.5
    # In a pipeline right behind the write.
    pipe = c.pipeline(transaction=False)
    pipe.set("k2", "v2")
    pipe.execute_command("WAITAOF", 1, 0, 0)
    assert pipe.execute() == [True, [1, 0]]
    c.close()


def test_local_everysec_waits_for_the_background_fsync(cluster):
    p = cluster.start("keel", "--appendonly", "yes", "--appendfsync", "everysec")
    c = p.client()
    for i in range(3):
        c.set("k%d" % i, "v")
        t = time.time()
        assert c.execute_command("WAITAOF", 1, 0, 5000) == [1, 0]
        assert time.time() - t < 3
    c.close()


def test_local_no_never_promises_a_sync(cluster):
    p = cluster.start("keel", "--appendonly", "yes", "--appendfsync", "no")
    p.c.set("k", "v")
    reply, took = waitaof(p, 1, 0, 200)
    assert reply == [0, 0] and took >= 0.19
    # Switched to always, the next write syncs everything before it.
    p.c.config_set("appendfsync", "always")
    p.c.set("k2", "v")
    assert waitaof(p, 1, 0, 1000)[0] == [1, 0]


def test_multi_and_scripts_do_not_block(cluster):
    p = cluster.start("keel", "--appendonly", "yes", "--appendfsync", "no")
    c = p.client()
    c.set("k", "v")
    pipe = c.pipeline(transaction=True)
    pipe.set("k", "v2")
    pipe.execute_command("WAITAOF", 1, 1, 0)
    t = time.time()
    assert pipe.execute() == [True, [0, 0]]
    assert time.time() - t < 1
    with pytest.raises(redis.ResponseError, match="not allowed from script"):
        c.eval("return redis.call('WAITAOF', 0, 0, 0)", 0)
    c.close()


def test_log_turned_on_at_run_time_counts_once_its_base_is_written(cluster):
    p = cluster.start("keel", "--appendfsync", "always", "--rdb-key-save-delay", "2000")
    pipe = p.c.pipeline(transaction=False)
    for i in range(400):
        pipe.set("key:%d" % i, i)
    pipe.execute()
    assert p.c.config_set("appendonly", "yes")
    # The base (about 0.8 s at 2 ms a key) is being written: not yet.
    reply, took = waitaof(p, 1, 0, 100)
    assert reply == [0, 0] and took >= 0.09
    assert p.info("persistence")["aof_rewrite_in_progress"] == "1"
    reply, took = waitaof(p, 1, 0, 10000)
    assert reply == [1, 0]
    assert p.info("persistence")["aof_rewrite_in_progress"] == "0"


def test_a_disconnected_waiter_is_forgotten(cluster):
    p = cluster.start("keel", "--appendonly", "yes", "--appendfsync", "no")
    p.c.set("k", "v")
    c = Raw(p.port)
    c.send("WAITAOF", 1, 0, 0)  # blocks for ever: `no` never syncs
    wait_until(lambda: p.info("clients")["blocked_clients"] == "1", "the waiter to block")
    c.close()
    wait_until(lambda: p.info("clients")["blocked_clients"] == "0", "the waiter to go")
    assert p.c.ping()


def test_replicas_count_once_their_log_has_the_writes(cluster):
    primary = cluster.start("keel")
    always = cluster.start("keel", "--appendonly", "yes", "--appendfsync", "always")
    everysec = cluster.start("keel", "--appendonly", "yes", "--appendfsync", "everysec")
    nolog = cluster.start("keel")
    for r in (always, everysec, nolog):
        replicate(primary, r)
    c = primary.client()
    for i in range(3):
        c.set("k%d" % i, "v")
        t = time.time()
        assert c.execute_command("WAITAOF", 0, 2, 5000) == [0, 2]
        assert time.time() - t < 4
    # The replica without a log never counts; WAIT counts all three.
    c.set("k", "v")
    assert c.execute_command("WAITAOF", 0, 2, 5000) == [0, 2]
    reply, took = waitaof(primary, 0, 3, 300)
    assert reply == [0, 2] and took >= 0.29
    assert c.execute_command("WAIT", 3, 5000) == 3
    assert raw_reply(always, "WAITAOF", 0, 0, 0) == ON_REPLICA
    c.close()


def test_a_full_sync_starts_the_replicas_count_afresh(cluster):
    """After a full sync the replica's log is rebuilt from the new data (a
    new base): until that is on disk it must not count, however far its
    log had got in the old primary's (longer) stream."""
    primary = cluster.start("keel")
    replica = cluster.start("keel", "--appendonly", "yes", "--appendfsync", "always")
    replicate(primary, replica)
    pipe = primary.c.pipeline(transaction=False)
    for i in range(2000):
        pipe.set("p:%d" % i, "x" * 100)
    pipe.execute()
    assert waitaof(primary, 0, 1, 5000)[0] == [0, 1]
    other = cluster.start("keel")
    pipe = other.c.pipeline(transaction=False)
    for i in range(1000):
        pipe.set("o:%d" % i, "y")
    pipe.execute()
    # The replica writes its new base at 1 ms a key: about a second.
    replica.c.config_set("rdb-key-save-delay", 1000)
    replicate(other, replica)
    assert int(other.repl()["master_repl_offset"]) < int(primary.repl()["master_repl_offset"])
    other.c.set("after", "1")
    reply, took = waitaof(other, 0, 1, 200)
    assert reply == [0, 0] and took >= 0.19
    assert waitaof(other, 0, 1, 10000)[0] == [0, 1]
    assert replica.c.get("after") == "1"


def test_redis_70_peers(cluster):
    # A Redis 7.0 replica sends no FACK: it never counts, WAIT still does.
    primary = cluster.start("keel")
    old = cluster.start("redis", "--appendonly", "yes", "--appendfsync", "always")
    replicate(primary, old)
    primary.c.set("k", "v")
    reply, took = waitaof(primary, 0, 1, 300)
    assert reply == [0, 0] and took >= 0.29
    assert primary.c.execute_command("WAIT", 1, 5000) == 1
    # A Redis 7.0 primary reads the ACK of Keel's "ACK .. FACK .." and
    # ignores the rest: WAIT and the stream work as before.
    rprimary = cluster.start("redis")
    replica = cluster.start("keel", "--appendonly", "yes", "--appendfsync", "always")
    replicate(rprimary, replica)
    rprimary.c.set("from-redis", "1")
    assert rprimary.c.execute_command("WAIT", 1, 5000) == 1
    wait_in_sync(rprimary, replica)
    assert replica.c.get("from-redis") == "1"


def test_acknowledged_writes_survive_kill_9(cluster):
    """A writer pipelines batches of SETs, each closed by WAITAOF 1 0 0, and
    logs the batches WAITAOF acknowledged; the server is killed with
    SIGKILL mid-stream, restarted on its log, and every acknowledged key is
    there."""
    p = cluster.start("keel", "--appendonly", "yes", "--appendfsync", "everysec")
    acked, stop = [], threading.Event()

    def writer():
        c = p.client()
        batch = 0
        try:
            while not stop.is_set():
                pipe = c.pipeline(transaction=False)
                keys = ["b%d:%d" % (batch, i) for i in range(200)]
                for k in keys:
                    pipe.set(k, k)
                pipe.execute_command("WAITAOF", 1, 0, 0)
                if pipe.execute()[-1] == [1, 0]:
                    acked.extend(keys)
                batch += 1
        except (redis.ConnectionError, ConnectionResetError):
            pass

    t = threading.Thread(target=writer)
    t.start()
    wait_until(lambda: len(acked) >= 600, "three acknowledged batches")
    p.node.kill9()
    stop.set()
    t.join(10)
    node = Node(p.node.binary, p.node.dir, p.node.args, save="", base_args=base_args)
    try:
        c = node.client(decode_responses=True)
        pipe = c.pipeline(transaction=False)
        for k in acked:
            pipe.get(k)
        assert pipe.execute() == acked
        c.close()
    finally:
        node.stop()
