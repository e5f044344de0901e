"""The replication buffer, shared as Redis 7 shares it: the stream's recent
bytes are kept once, for the backlog and for every replica, so replicas
that lag together cost one copy (INFO mem_total_replication_buffers), the
backlog holds what a lagging replica still needs beyond repl-backlog-size
(and a replica may resume from there), and it shrinks once no replica needs
it. Each test runs with a Keel primary and with Debian's Redis 7.0 primary
(the replicas are Keel): both must pass."""
import re

import pytest
from persist_util import TempDirs, removal_fixture
from repl_util import HOST, cluster_fixture, kinds_param, replicate, stays, wait_in_sync, wait_until

mkdir = TempDirs("keel-repl-buffer-")
_remove_tmpdirs = removal_fixture(mkdir)
cluster = cluster_fixture(mkdir)

primaries = pytest.mark.parametrize("kinds", [kinds_param("keel"), kinds_param("redis")])

KB = 1024


def mem(peer, field):
    return int(peer.info("memory")[field])


def repl_int(peer, field):
    return int(peer.repl()[field])


def waiting_for_snapshot(replica):
    return replica.repl().get("master_sync_in_progress") == "1"


def slow_snapshot(primary, keys=20):
    """A primary whose next snapshot (to disk, so replicas can join it)
    takes 20 keys x 1000 s: replicas that ask for one wait, and keep the
    stream from its start."""
    primary.c.config_set("repl-diskless-sync", "no")
    primary.c.config_set("repl-backlog-size", "16384")
    primary.c.config_set("client-output-buffer-limit", "replica 0 0 0")
    for i in range(keys):
        primary.c.set("pre:%d" % i, "x")
    primary.c.config_set("rdb-key-save-delay", "1000000000")


def write_mb(primary, prefix, mb=1):
    value = "v" * KB
    p = primary.c.pipeline(transaction=False)
    for i in range(mb * KB):
        p.set("%s:%d" % (prefix, i), value)
    p.execute()


@primaries
def test_replicas_that_lag_together_share_one_buffer(cluster, kinds):
    primary = cluster.start(kinds[0])
    slow_snapshot(primary)
    a, b = cluster.start("keel"), cluster.start("keel")
    for r in (a, b):
        r.c.execute_command("REPLICAOF", HOST, primary.port)
    wait_until(lambda: waiting_for_snapshot(a) and waiting_for_snapshot(b), "both replicas to wait for the snapshot")
    write_mb(primary, "big")
    total = mem(primary, "mem_total_replication_buffers")
    # One copy of the 1 MB of stream, held for both, not one each.
    assert 1024 * KB < total < 1536 * KB
    # The backlog holds it all, beyond its 16 KB size, for the replicas.
    assert repl_int(primary, "repl_backlog_histlen") > 1024 * KB
    # Its limit's worth counts as the backlog, the rest as the replicas'
    # (not counted for maxmemory), in INFO and MEMORY STATS alike.
    stats = dict(zip(*[iter(primary.c.execute_command("MEMORY", "STATS"))] * 2))
    assert stats["replication.backlog"] == mem(primary, "mem_replication_backlog") < 64 * KB
    assert mem(primary, "mem_clients_slaves") >= total - 64 * KB
    assert stats["clients.slaves"] >= total - 64 * KB
    # Losing one of the two frees nothing: the other still needs it all.
    a.c.execute_command("REPLICAOF", "NO", "ONE")
    wait_until(lambda: repl_int(primary, "connected_slaves") == 1, "the primary to see one replica go")
    assert mem(primary, "mem_total_replication_buffers") == total
    # Once no replica needs it, the buffer falls back to about the backlog
    # size (Redis trims it a little at a time, in its cron).
    b.c.execute_command("REPLICAOF", "NO", "ONE")
    wait_until(lambda: repl_int(primary, "connected_slaves") == 0, "the primary to see the other go")
    primary.c.set("after", "1")
    wait_until(lambda: mem(primary, "mem_total_replication_buffers") < 64 * KB, "the buffer to shrink",
               peers=(primary,))
    assert 16 * KB <= repl_int(primary, "repl_backlog_histlen") < 64 * KB


@primaries
def test_a_replica_resumes_from_what_a_lagging_one_keeps(cluster, kinds):
    """The stream a replica waiting for its snapshot keeps is part of the
    backlog: another replica that lost its link resumes from it with a
    partial resync, though it lacks far more than repl-backlog-size."""
    primary = cluster.start(kinds[0])
    online = cluster.start("keel")
    replicate(primary, online)
    slow_snapshot(primary)
    waiting = cluster.start("keel")
    waiting.c.execute_command("REPLICAOF", HOST, primary.port)
    wait_until(lambda: waiting_for_snapshot(waiting), "a replica to wait for the snapshot")
    # The online replica's link goes (pointed at a replica that cannot
    # serve it yet, it keeps its history), 1 MB is written, and it comes back.
    online.c.execute_command("REPLICAOF", HOST, waiting.port)
    wait_until(lambda: repl_int(primary, "connected_slaves") == 1, "the primary to see the replica go")
    write_mb(primary, "gap", 8)
    peak = mem(primary, "used_memory_peak")
    online.c.execute_command("REPLICAOF", HOST, primary.port)
    wait_in_sync(primary, online)
    # The 8 MB it lacked went out of the shared blocks a piece at a time,
    # never as a copy of its own.
    assert mem(primary, "used_memory_peak") - peak < 2 * 1024 * KB
    stats = primary.info("stats")
    assert stats["sync_partial_ok"] == "1"
    assert stats["sync_full"] == "2"  # the two first syncs, nothing more
    assert online.c.dbsize() == primary.c.dbsize()
    assert online.c.get("gap:8191") == "v" * KB
    assert waiting_for_snapshot(waiting)


@primaries
def test_a_big_write_over_the_output_limit_ends_in_one_full_resync(cluster, kinds):
    """A write bigger than a replica's output limit drops the replica; it
    comes back to a full resync, never to a partial one from a backlog that
    would only overflow its limit again, over and over. Once it has read
    the stream it holds none of it (CLIENT LIST tot-mem)."""
    primary = cluster.start(kinds[0])
    replica = cluster.start("keel")
    primary.c.config_set("repl-backlog-size", "16384")
    primary.c.config_set("client-output-buffer-limit", "replica 32768 32768 60")
    replicate(primary, replica)
    primary.c.set("key", "x" * 256 * KB)
    primary.c.set("key1", "1")
    wait_in_sync(primary, replica)
    assert replica.c.strlen("key") == 256 * KB
    stats = primary.info("stats")
    assert stats["sync_partial_ok"] == "0"
    stays(lambda: repl_int(primary, "connected_slaves") == 1, "the replica to stay")

    def replica_tot_mem():
        line = primary.c.execute_command("CLIENT", "LIST", "TYPE", "replica")
        return int(re.search(r"tot-mem=(\d+)", line).group(1))

    wait_until(lambda: replica_tot_mem() < 256 * KB, "the replica's output memory to be small")
