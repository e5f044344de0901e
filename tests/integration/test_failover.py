"""FAILOVER (Redis 7's coordinated switch) and CLIENT PAUSE, the pause it
takes while a replica catches up. Checked against Debian's redis-server 7.0
(KEEL_SERVER=/usr/bin/redis-server passes); the FAILOVER pairs also run
with Redis on the other side."""
import threading
import time

import pytest
from persist_util import TempDirs, removal_fixture
from repl_util import HOST, cluster_fixture, kinds_param, raw_reply, replicate, wait_in_sync, wait_until

mkdir = TempDirs("keel-failover-")
_remove_tmpdirs = removal_fixture(mkdir)

PAIRS = [kinds_param("keel", "keel"), kinds_param("redis", "keel"), kinds_param("keel", "redis")]

cluster = cluster_fixture(mkdir)


def role(peer):
    return peer.c.execute_command("ROLE")


@pytest.mark.parametrize("kinds", PAIRS)
def test_failover_to_the_replica_continues_the_history(cluster, kinds):
    primary, replica = [cluster.start(k) for k in kinds]
    primary.c.set("before", "1")
    replicate(primary, replica)
    old_id = primary.repl()["master_replid"]
    assert primary.c.execute_command("FAILOVER", "TO", HOST, replica.port) == "OK"
    wait_until(lambda: role(replica)[0] == "master" and role(primary)[0] == "slave", "the roles swapped")
    wait_until(lambda: primary.repl().get("master_link_status") == "up", "old primary linked to the new one")
    assert primary.repl()["master_failover_state"] == "no-failover"
    # The promoted replica continues the old history: the old primary
    # resynced partially, with no full sync.
    assert replica.repl()["master_replid2"] == old_id
    assert replica.stat("sync_partial_ok") == 1
    assert replica.stat("sync_full") == 0
    replica.c.set("after", "2")
    wait_in_sync(replica, primary)
    assert primary.c.mget("before", "after") == ["1", "2"]
    assert raw_reply(primary, "SET", "x", "y") == "-READONLY You can't write against a read only replica."


def test_failover_without_target_picks_the_replica(cluster):
    primary, replica = cluster.start("keel"), cluster.start("keel")
    replicate(primary, replica)
    assert primary.c.execute_command("FAILOVER") == "OK"
    wait_until(lambda: role(replica)[0] == "master" and role(primary)[0] == "slave", "the roles swapped")


def test_failover_errors(cluster):
    primary, replica = cluster.start("keel"), cluster.start("keel")
    assert raw_reply(primary, "FAILOVER") == "-ERR FAILOVER requires connected replicas."
    assert raw_reply(primary, "FAILOVER", "ABORT") == "-ERR No failover in progress."
    replicate(primary, replica)
    assert raw_reply(primary, "FAILOVER", "TO", HOST, replica.port + 1) == \
        "-ERR FAILOVER target HOST and PORT is not a replica."
    assert raw_reply(primary, "FAILOVER", "FORCE") == \
        "-ERR FAILOVER with force option requires both a timeout and target HOST and IP."
    assert raw_reply(primary, "FAILOVER", "TO", HOST, replica.port, "FORCE") == \
        "-ERR FAILOVER with force option requires both a timeout and target HOST and IP."
    assert raw_reply(primary, "FAILOVER", "TIMEOUT", 0) == "-ERR FAILOVER timeout must be greater than 0"
    assert raw_reply(primary, "FAILOVER", "BOGUS") == "-ERR syntax error"
    assert raw_reply(replica, "FAILOVER") == "-ERR FAILOVER is not valid when server is a replica."
    assert primary.repl()["master_failover_state"] == "no-failover"


def test_failover_timeout_aborts_and_writes_resume(cluster):
    primary, replica = cluster.start("keel"), cluster.start("keel")
    replicate(primary, replica)
    # A replica that never acknowledges cannot be caught up with.
    replica.c.execute_command("CLIENT", "PAUSE", 5000, "ALL")
    primary.c.set("k", "v")
    assert primary.c.execute_command("FAILOVER", "TIMEOUT", 500) == "OK"
    assert primary.repl()["master_failover_state"] == "waiting-for-sync"
    writer = primary.client()
    t0 = time.time()
    assert writer.set("held", "1") is True  # waits for the pause to end
    assert time.time() - t0 >= 0.3
    assert primary.repl()["master_failover_state"] == "no-failover"
    assert role(primary)[0] == "master"
    replica.c.execute_command("CLIENT", "UNPAUSE")


def test_failover_abort(cluster):
    primary, replica = cluster.start("keel"), cluster.start("keel")
    replicate(primary, replica)
    replica.c.execute_command("CLIENT", "PAUSE", 5000, "ALL")
    primary.c.set("k", "v")
    assert primary.c.execute_command("FAILOVER") == "OK"
    assert raw_reply(primary, "FAILOVER") == "-ERR FAILOVER already in progress."
    assert primary.c.execute_command("FAILOVER", "ABORT") == "OK"
    assert primary.repl()["master_failover_state"] == "no-failover"
    assert primary.c.set("k", "w") is True
    replica.c.execute_command("CLIENT", "UNPAUSE")


# ---------------------------------------------------------------- CLIENT PAUSE

def test_client_pause_write_holds_writes_not_reads(cluster):
    (p,) = [cluster.start("keel")]
    p.c.set("k", "v")
    assert p.c.execute_command("CLIENT", "PAUSE", 400, "WRITE") == "OK"
    t0 = time.time()
    assert p.client().get("k") == "v"
    assert time.time() - t0 < 0.3
    t0 = time.time()
    assert p.client().set("k", "w") is True
    assert time.time() - t0 >= 0.3


def test_client_pause_all_holds_everything_in_order(cluster):
    (p,) = [cluster.start("keel")]
    # ALL holds every command, CLIENT UNPAUSE too (as in Redis 7.0): the
    # pause ends by its timeout.
    assert p.c.execute_command("CLIENT", "PAUSE", 1000) == "OK"
    results = []

    def call(i):
        c = p.client()
        results.append((i, c.rpush("order", i)))

    threads = []
    for i in range(3):
        t = threading.Thread(target=call, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.1)
    time.sleep(0.2)
    assert results == []
    for t in threads:
        t.join(5)
    assert p.c.lrange("order", 0, -1) == ["0", "1", "2"]


def test_client_pause_errors(cluster):
    (p,) = [cluster.start("keel")]
    assert raw_reply(p, "CLIENT", "PAUSE", "abc") == "-ERR timeout is not an integer or out of range"
    assert raw_reply(p, "CLIENT", "PAUSE", -1) == "-ERR timeout is negative"
    assert raw_reply(p, "CLIENT", "PAUSE", 10, "SOME") == "-ERR CLIENT PAUSE mode must be WRITE or ALL"
    assert raw_reply(p, "CLIENT", "PAUSE") == "-ERR wrong number of arguments for 'client|pause' command"
    assert raw_reply(p, "CLIENT", "UNPAUSE") == "+OK"


def test_client_pause_write_judges_scripts_by_their_declared_flags(cluster):
    """Under CLIENT PAUSE WRITE a script that declares no-writes (shebang
    flags, a function's flags) runs at once, also queued in MULTI; one
    without a shebang (may replicate) or declaring it writes waits."""
    (p,) = [cluster.start("keel")]
    ro_body = "#!lua flags=no-writes\nreturn 'ro'"
    p.c.execute_command("FUNCTION", "LOAD",
                        "#!lua name=lib\n"
                        "redis.register_function{function_name='f_ro', callback=function() return 'fro' end,"
                        " flags={'no-writes'}}\n"
                        "redis.register_function('f_rw', function() return 'frw' end)")
    ro_sha = p.c.execute_command("SCRIPT", "LOAD", ro_body)
    cases = {
        "eval no-writes": (("EVAL", ro_body, 0), "ro", False),
        "evalsha no-writes": (("EVALSHA", ro_sha, 0), "ro", False),
        "eval_ro legacy": (("EVAL_RO", "return 'r'", 0), "r", False),
        "fcall no-writes": (("FCALL", "f_ro", 0), "fro", False),
        "eval legacy": (("EVAL", "return 'l'", 0), "l", True),
        "eval shebang": (("EVAL", "#!lua\nreturn 'w'", 0), "w", True),
        "fcall writes": (("FCALL", "f_rw", 0), "frw", True),
    }
    assert p.c.execute_command("CLIENT", "PAUSE", 60000, "WRITE") == "OK"
    results, threads = {}, []

    def call(name, args):
        results[name] = p.client().execute_command(*args)

    def transaction(name, body, want):
        pipe = p.client().pipeline(transaction=True)
        pipe.execute_command("EVAL", body, 0)
        results[name] = pipe.execute()[0]
        assert results[name] == want

    for name, (args, _, _) in cases.items():
        threads.append(threading.Thread(target=call, args=(name, args)))
    threads.append(threading.Thread(target=transaction, args=("multi no-writes", ro_body, "ro")))
    threads.append(threading.Thread(target=transaction, args=("multi shebang", "#!lua\nreturn 'm'", "m")))
    for t in threads:
        t.start()
    wait_until(lambda: len(results) == 5, "the no-writes scripts ran")
    time.sleep(0.2)
    assert sorted(results) == ["eval no-writes", "eval_ro legacy", "evalsha no-writes", "fcall no-writes",
                               "multi no-writes"]
    p.c.execute_command("CLIENT", "UNPAUSE")
    for t in threads:
        t.join(5)
    assert len(results) == 9
    for name, (_, want, _) in cases.items():
        assert results[name] == want, name


def test_paused_multi_waits_at_exec(cluster):
    (p,) = [cluster.start("keel")]
    c = p.client()
    pipe = c.pipeline(transaction=True)
    pipe.set("a", 1).incr("a")
    assert p.c.execute_command("CLIENT", "PAUSE", 400, "WRITE") == "OK"
    t0 = time.time()
    assert pipe.execute() == [True, 2]
    assert time.time() - t0 >= 0.3
