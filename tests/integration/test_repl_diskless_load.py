"""Diskless load (repl-diskless-load): a replica parses its primary's
snapshot from the socket instead of writing it to disk first. Validated
against Debian's redis-server 7.0.15: every test passes with
KEEL_SERVER=/usr/bin/redis-server, and the pairings run (primary, replica)
as (keel, keel), (redis, keel) and (keel, redis).

- swapdb always loads from the socket, into databases of its own: the old
  data set stays until the new one is whole. When the snapshot continues the
  history the replica already holds (same replication ID), the old data set
  is served meanwhile (INFO async_loading:1, Redis 7's async loading);
  otherwise clients get -LOADING.
- on-empty-db loads from the socket only when the replica holds no key.
- Both framings: a diskless primary's EOF-marked stream and a disk-based
  primary's sized bulk.

Faults (cut, corrupt, stalled snapshots) are in test_repl_faults.py."""
import os
import re

import pytest
import redis
from persist_util import TempDirs, removal_fixture
from repl_util import (DBS, assert_same_data, cluster_fixture, kinds_param, preload, replicate, wait_in_sync,
                       wait_link_up, wait_until)

mkdir = TempDirs("keel-diskless-load-")
_remove_tmpdirs = removal_fixture(mkdir)
cluster = cluster_fixture(mkdir)

pairs = pytest.mark.parametrize(
    "kinds", [kinds_param("keel", "keel"), kinds_param("redis", "keel"), kinds_param("keel", "redis")])

REPLICA_LIB = ("#!lua name=replicalib\n"
               "redis.register_function{function_name='where', callback=function() return 'replica' end, "
               "flags={'no-writes'}}\n")
PRIMARY_LIB = REPLICA_LIB.replace("'replica'", "'primary'")


def start(cluster, kinds, load, sync="yes"):
    primary, replica = cluster.start(kinds[0]), cluster.start(kinds[1])
    assert primary.c.config_set("repl-diskless-sync", sync) is True
    assert replica.c.config_set("repl-diskless-load", load) is True
    return primary, replica


def rdb_files(peer):
    return [n for n in os.listdir(peer.node.dir) if n.endswith(".rdb")]


def loading_state(peer):
    info = peer.info("persistence")
    return info["loading"], info["async_loading"]


@pairs
@pytest.mark.parametrize("sync", ["yes", "no"])
@pytest.mark.parametrize("load", ["swapdb", "on-empty-db"])
def test_replica_loads_the_snapshot_from_the_socket(cluster, kinds, sync, load):
    primary, replica = start(cluster, kinds, load, sync)
    preload(primary)
    if load == "swapdb":
        replica.c.set("stale", "the replica's own data is replaced")
        replica.client(5).set("stale5", "x")
        replica.c.execute_command("FUNCTION", "LOAD", REPLICA_LIB)
    replicate(primary, replica)
    assert_same_data(primary, replica, DBS)
    assert replica.c.exists("stale") == 0
    assert replica.client(5).dbsize() == 0
    assert [lib[1] for lib in replica.c.execute_command("FUNCTION", "LIST")] == ["repllib"]
    log = open(replica.node.log).read()
    framing = r"streamed RDB from master with EOF" if sync == "yes" else r"\d+ bytes from master"
    assert re.search("MASTER <-> REPLICA sync: receiving %s to parser" % framing, log)
    assert "from master to disk" not in log and "with EOF to disk" not in log
    assert rdb_files(replica) == []
    assert loading_state(replica) == ("0", "0")
    primary.c.set("after", "1")
    wait_in_sync(primary, replica)
    assert replica.c.get("after") == "1"


@pairs
def test_on_empty_db_with_keys_goes_through_the_disk(cluster, kinds):
    primary, replica = start(cluster, kinds, "on-empty-db")
    primary.c.set("k", "v")
    replica.c.set("mine", "x")
    replicate(primary, replica)
    assert replica.c.get("k") == "v" and replica.c.exists("mine") == 0
    log = open(replica.node.log).read()
    assert "with EOF to disk" in log and "to parser" not in log


def slow_primary_with_data(primary, keys):
    """keys 100 KB values on the primary, its snapshot slowed to 2 ms a
    key (rdb-key-save-delay) so a full sync takes a while."""
    primary.c.execute_command("DEBUG", "POPULATE", keys, "master", 100000)
    primary.c.config_set("rdbcompression", "no")
    primary.c.config_set("rdb-key-save-delay", 2000)


@pairs
@pytest.mark.parametrize("outcome", ["completed", "aborted"])
def test_swapdb_from_a_new_history_refuses_reads_until_done(cluster, kinds, outcome):
    """A replica that never followed this primary: its old data set is
    hidden (-LOADING) while the snapshot loads; an aborted load brings it
    back whole, a completed one replaces it."""
    primary, replica = start(cluster, kinds, "swapdb")
    replica.c.execute_command("DEBUG", "POPULATE", 200, "slave", 10)
    replica.c.set("mykey", "myvalue")
    slow_primary_with_data(primary, 1000)
    assert replica.replicaof(primary) == "OK"
    wait_until(lambda: loading_state(replica) == ("1", "0"), "the replica loading", peers=(primary, replica))
    with pytest.raises(redis.exceptions.BusyLoadingError):
        replica.c.get("mykey")
    if outcome == "aborted":
        primary.c.config_set("repl-diskless-sync-delay", 5)  # no new attempt at once
        primary.c.execute_command("CLIENT", "KILL", "TYPE", "replica")
        wait_until(lambda: loading_state(replica) == ("0", "0"), "the load given up", peers=(primary, replica))
        assert replica.c.get("mykey") == "myvalue"
        assert replica.c.dbsize() == 201
        primary.c.config_set("rdb-key-save-delay", 0)
    else:
        primary.c.config_set("rdb-key-save-delay", 0)
        wait_link_up(replica, primary)
        assert replica.c.get("mykey") is None
        assert replica.c.dbsize() == 1000


@pairs
@pytest.mark.parametrize("outcome", ["completed", "aborted"])
def test_swapdb_of_the_same_history_serves_the_old_data_meanwhile(cluster, kinds, outcome):
    """A replica that lost its link and must take a new full sync of the
    history it follows keeps serving its old data set (async_loading:1)
    while the new one loads; commands flagged no-async-loading and
    CONFIG SET appendonly get -LOADING. An aborted load leaves the old
    data set and functions; a completed one swaps in the primary's."""
    primary, replica = start(cluster, kinds, "swapdb")
    replica.c.config_set("replica-read-only", "no")
    replicate(primary, replica)
    replica.c.execute_command("DEBUG", "POPULATE", 300, "slave", 10)
    replica.c.set("mykey", "myvalue")
    replica.c.execute_command("FUNCTION", "LOAD", REPLICA_LIB)
    primary.c.execute_command("FUNCTION", "LOAD", PRIMARY_LIB)
    slow_primary_with_data(primary, 1000)
    force_full_sync_of_the_same_history(primary)
    wait_until(lambda: loading_state(replica) == ("0", "1"), "async loading", peers=(primary, replica))
    assert replica.c.get("mykey") == "myvalue"
    assert replica.c.execute_command("FCALL_RO", "where", 0) == "replica"
    assert replica.c.dbsize() == 301
    for cmd in (("REPLICAOF", "NO", "ONE"), ("CONFIG", "SET", "appendonly", "no")):
        with pytest.raises(redis.exceptions.BusyLoadingError):
            replica.c.execute_command(*cmd)
    assert loading_state(replica) == ("0", "1")
    if outcome == "aborted":
        primary.c.config_set("repl-diskless-sync-delay", 5)
        primary.c.execute_command("CLIENT", "KILL", "TYPE", "replica")
        wait_until(lambda: loading_state(replica) == ("0", "0"), "the load given up", peers=(primary, replica))
        assert replica.c.get("mykey") == "myvalue"
        assert replica.c.execute_command("FCALL_RO", "where", 0) == "replica"
        assert replica.c.dbsize() == 301
        primary.c.config_set("rdb-key-save-delay", 0)
    else:
        primary.c.config_set("rdb-key-save-delay", 0)
        wait_link_up(replica, primary)
        wait_in_sync(primary, replica)
        assert replica.c.get("mykey") is None
        assert replica.c.execute_command("FCALL_RO", "where", 0) == "primary"
        assert replica.c.dbsize() == 1010


def force_full_sync_of_the_same_history(primary):
    """Cut the link and push the backlog past the replica's offset, so the
    reconnection needs a full sync (of the same replication ID)."""
    primary.c.config_set("repl-backlog-size", 16384)
    pipe = primary.c.pipeline(transaction=True)
    pipe.execute_command("CLIENT", "KILL", "TYPE", "replica")
    for i in range(10):
        pipe.set("fill:%d" % i, "A" * 16384)
    pipe.execute()


@pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("redis", "keel")])
def test_a_snapshot_of_the_old_data_set_stops_at_the_swap(cluster, kinds):
    """During async loading the replica serves (and may save) its old data
    set; a snapshot of it still running when the new set is swapped in is
    stopped there, never walking into the new one (Keel's snapshots are
    forkless: the walk would otherwise see both)."""
    primary, replica = start(cluster, kinds, "swapdb")
    replica.c.config_set("replica-read-only", "no")
    replicate(primary, replica)
    replica.c.execute_command("DEBUG", "POPULATE", 300, "slave", 10)
    slow_primary_with_data(primary, 2000)  # 4 s of loading
    force_full_sync_of_the_same_history(primary)
    wait_until(lambda: loading_state(replica) == ("0", "1"), "async loading", peers=(primary, replica))
    replica.c.config_set("rdb-key-save-delay", 100000)  # its own snapshot: 0.1 s a key, 30 s in all
    replica.c.config_set("save", "1 1")
    replica.c.set("dirty", "1")
    wait_until(lambda: replica.info("persistence")["rdb_bgsave_in_progress"] == "1", "a BGSAVE of the old data")
    # The save point has done its work; left on, it would start another
    # BGSAVE once the failed one's 5 s retry delay has passed (a slow load
    # lets that happen at the swap, and INFO would never read 0).
    replica.c.config_set("save", "")
    primary.c.config_set("rdb-key-save-delay", 0)
    wait_link_up(replica, primary)
    wait_until(lambda: replica.info("persistence")["rdb_bgsave_in_progress"] == "0", "the BGSAVE stopped",
               timeout=5)
    # Stopped, not finished: a dump.rdb now would hold the old set's keys
    # and the new set's together.
    assert rdb_files(replica) == []
    replica.c.config_set("rdb-key-save-delay", 0)
    wait_in_sync(primary, replica)
    assert replica.c.dbsize() == 2010 and replica.c.get("dirty") is None
    assert replica.c.execute_command("DEBUG", "DIGEST") == primary.c.execute_command("DEBUG", "DIGEST")


@pairs
def test_replica_lazy_flush_frees_the_old_keys_in_the_background(cluster, kinds):
    primary, replica = start(cluster, kinds, "disabled")
    replica.c.config_set("replica-lazy-flush", "yes")
    replica.c.execute_command("DEBUG", "POPULATE", 1000)
    primary.c.set("k", "v")
    before = int(replica.info("memory")["lazyfreed_objects"])
    replicate(primary, replica)
    wait_until(lambda: int(replica.info("memory")["lazyfreed_objects"]) >= before + 1000,
               "the old keys freed lazily")
    assert replica.c.dbsize() == 1
