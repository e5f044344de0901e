"""The replication history across a restart, as Redis 7 keeps it: the
dump.rdb of a server in a replication chain records repl-id, repl-offset
and repl-stream-db. A replica restarted from it continues with a partial
resync (no full sync of the dataset); a primary restarted from it keeps
the old ID as master_replid2, so its replicas continue too, and the keys
that expired while it was down reach them as DELs through the backlog.
Run Keel to Keel and with Debian's Redis 7.0 on the other side."""
import time

import pytest
from persist_util import TempDirs, removal_fixture
from repl_util import HOST, cluster_fixture, kinds_param, replicate, wait_in_sync, wait_until

mkdir = TempDirs("keel-replrestart-")
_remove_tmpdirs = removal_fixture(mkdir)
cluster = cluster_fixture(mkdir)


def fill(peer, prefix, n):
    p = peer.c.pipeline(transaction=False)
    for i in range(n):
        p.set("%s:%d" % (prefix, i), i)
    p.execute()


@pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("redis", "keel"),
                                   kinds_param("keel", "redis")])
def test_a_restarted_replica_resyncs_partially(cluster, kinds):
    primary, replica = [cluster.start(k) for k in kinds]
    replicate(primary, replica)
    fill(primary, "before", 200)
    primary.c.execute_command("SELECT", 2)
    primary.c.set("in-db2", "x")  # the stream's db is 2 when the replica stops
    primary.c.execute_command("SELECT", 0)
    wait_in_sync(primary, replica)
    full, partial = primary.stat("sync_full"), primary.stat("sync_partial_ok")
    replica.restart("--replicaof", HOST, str(primary.port))
    wait_until(lambda: primary.stat("sync_partial_ok") == partial + 1, "a partial resync", peers=(primary, replica))
    assert primary.stat("sync_full") == full
    primary.client(2).set("in-db2-after", "y")  # no SELECT needed after the resync...
    primary.client(5).set("in-db5", "z")
    wait_in_sync(primary, replica)
    assert replica.client(2).get("in-db2-after") == "y"  # ...it lands in db 2
    assert replica.client(5).get("in-db5") == "z"
    assert replica.c.get("before:199") == "199"
    assert replica.c.dbsize() == 200


@pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("keel", "redis")])
def test_a_restarted_primary_keeps_its_replicas(cluster, kinds):
    primary, replica = [cluster.start(k) for k in kinds]
    primary.c.config_set("repl-timeout", 3600)
    replicate(primary, replica)
    fill(primary, "before", 100)
    primary.c.set("short", "gone", px=400)  # expires while the primary is down
    wait_in_sync(primary, replica)
    old_id = primary.repl()["master_replid"]
    offset = primary.offset()
    full = replica.stat("sync_full") if replica.kind == "keel" else None
    primary.restart(down=0.5)
    info = primary.repl()
    assert info["master_replid"] != old_id
    assert info["master_replid2"] == old_id
    # (the shutdown's GETACK to the replica moved the offset a little)
    second = int(info["second_repl_offset"])
    assert second >= offset + 1 and second == int(info["repl_backlog_first_byte_offset"])
    wait_until(lambda: primary.stat("sync_partial_ok") == 1, "the replica's partial resync", peers=(primary, replica))
    assert primary.stat("sync_full") == 0
    wait_in_sync(primary, replica)
    # the key that expired while the primary was down is gone on the replica
    # too: its DEL went through the backlog
    assert primary.info("persistence")["rdb_last_load_keys_expired"] == "1"
    wait_until(lambda: replica.c.execute_command("DBSIZE") == 100, "the DEL of the expired key",
               peers=(primary, replica))
    primary.c.set("after", "1")
    wait_in_sync(primary, replica)
    assert replica.c.get("after") == "1"
    if full is not None:
        assert replica.stat("sync_full") == full


def test_a_primary_without_replicas_records_no_history(cluster):
    """A server in no replication chain writes no repl-* fields: a replica
    that comes after its restart gets a full sync."""
    (primary,) = [cluster.start("keel")]
    primary.c.set("k", "v")
    primary.restart()
    assert primary.repl()["master_replid2"].strip("0") == ""
    assert int(primary.repl()["second_repl_offset"]) == -1
