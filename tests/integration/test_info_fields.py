"""INFO fields Redis 7.0 has, each with what it measures here: the field
set compared with Debian's redis-server (redis_ref), then the figures that
need a workload to move: replication traffic counted apart from clients',
forks, the keys the last RDB load took and skipped, time spent over
maxmemory, error replies nobody should get (the AOF replay's, a primary's
to its replica), and the memory maxmemory leaves out."""
import glob
import os
import signal
import time

import pytest
from conftest import SERVER, child_pids
from persist_util import TempDirs, removal_fixture, spawn_fixture
from repl_util import cluster_fixture, wait_in_sync, wait_until

mkdir = TempDirs("keel-info-")
_remove_tmpdirs = removal_fixture(mkdir)
spawn = spawn_fixture(mkdir)
IS_REDIS = os.path.basename(SERVER).startswith("redis")
keel_only = pytest.mark.skipif(IS_REDIS, reason="Keel's own accounting")

# Redis 7.0 fields Keel does not print, with the reason (none left).
NOT_PRINTED = set()


def raw_info(client, section):
    conn = client.connection_pool.get_connection("INFO")
    try:
        conn.send_command("INFO", section)
        return conn.read_response().decode()
    finally:
        client.connection_pool.release(conn)


def fields(client, section="everything"):
    out = set()
    for line in raw_info(client, section).splitlines():
        if line and not line.startswith("#") and ":" in line:
            name = line.split(":", 1)[0]
            if not name.startswith(("cmdstat_", "errorstat_", "latency_percentiles_usec_", "db")):
                out.add(name)
    return out


def test_every_redis_info_field_is_printed(r, redis_ref):
    r.set("k", "v")
    r.execute_command("PING", "x")  # a command stat and an error stat on both
    redis_ref.set("k", "v")
    missing = fields(redis_ref) - fields(r) - NOT_PRINTED
    assert not missing, sorted(missing)
    assert fields(r) >= {"total_net_repl_input_bytes", "allocator_rss_ratio", "rdb_last_load_keys_loaded",
                         "current_eviction_exceeded_time", "unexpected_error_replies", "active_defrag_running"}


def headers(client, *sections):
    conn = client.connection_pool.get_connection("INFO")
    try:
        conn.send_command("INFO", *sections)
        text = conn.read_response().decode()
    finally:
        client.connection_pool.release(conn)
    return [line for line in text.splitlines() if line.startswith("#")]


def test_several_sections_come_once_each_in_redis_order(r, redis_ref):
    """INFO with several names gives each section once, in the server's
    fixed order whatever the order asked, as Redis 7.0 does."""
    r.set("k", "v")
    redis_ref.set("k", "v")
    for asked in (("cpu", "all"), ("keyspace", "server"), ("cpu", "cpu"), ("default", "commandstats"),
                  ("latencystats", "errorstats", "commandstats"), ("everything",), ("all",), (),
                  ("CPU", "Keyspace", "nosuchsection")):
        got = headers(r, *asked)
        assert got == headers(redis_ref, *asked), asked
        assert len(got) == len(set(got)), asked
    assert headers(r, "cpu", "all").count("# CPU") == 1


def stats(c):
    return c.info("stats")

cluster = cluster_fixture(mkdir)


def test_replication_traffic_is_counted_apart(cluster):
    primary, replica = cluster.start("keel"), cluster.start("keel")
    replica.replicaof(primary)
    wait_in_sync(primary, replica)
    p_before, r_before = primary.node.client().info("stats"), replica.node.client().info("stats")
    primary.c.set("big", "x" * 100_000)
    wait_in_sync(primary, replica)
    p, rep = primary.node.client().info("stats"), replica.node.client().info("stats")
    sent = p["total_net_repl_output_bytes"] - p_before["total_net_repl_output_bytes"]
    got = rep["total_net_repl_input_bytes"] - r_before["total_net_repl_input_bytes"]
    assert 100_000 < sent < 101_000 and 100_000 < got < 101_000
    # the totals hold the replication bytes too, as in Redis 7.0
    assert p["total_net_input_bytes"] - p_before["total_net_input_bytes"] > 100_000
    assert rep["total_net_input_bytes"] - r_before["total_net_input_bytes"] >= got
    assert p["total_net_output_bytes"] - p_before["total_net_output_bytes"] >= sent
    # a full sync's snapshot counts too
    assert p_before["total_net_repl_output_bytes"] > 0 and r_before["total_net_repl_input_bytes"] > 0
    mem = primary.node.client().info("memory")
    assert mem["mem_replication_backlog"] > 0
    assert mem["mem_total_replication_buffers"] >= mem["mem_clients_slaves"]
    if not IS_REDIS:  # Redis 7 shares one buffer between the backlog and the replicas; Keel has two
        assert mem["mem_total_replication_buffers"] == mem["mem_replication_backlog"] + mem["mem_clients_slaves"]
    assert mem["mem_not_counted_for_evict"] == mem["mem_clients_slaves"] + mem["mem_aof_buffer"]


def bgsave(c):
    c.bgsave()
    wait_until(lambda: c.info("persistence")["rdb_bgsave_in_progress"] == 0, "the BGSAVE to end")


@keel_only
def test_forks_are_counted(spawn):
    c = spawn(SERVER, None, "--bgsave-forkless", "no").client()
    before = stats(c)
    assert before["total_forks"] == 0 and before["latest_fork_usec"] == 0
    c.set("k", "v")
    bgsave(c)
    after = stats(c)
    assert after["total_forks"] == 1 and after["latest_fork_usec"] > 0
    c.config_set("bgsave-forkless", "yes")  # Keel's default: a snapshot without a child
    bgsave(c)
    assert stats(c)["total_forks"] == 1


def test_last_rdb_load_counts_loaded_and_expired_keys(spawn):
    node = spawn()
    c = node.client()
    c.set("a", "1")
    c.set("b", "2")
    c.set("gone", "x", px=400)
    c.save()
    time.sleep(0.5)
    c = spawn.restart(node).client()
    p = c.info("persistence")
    assert (p["rdb_last_load_keys_loaded"], p["rdb_last_load_keys_expired"]) == (2, 1)


def test_time_over_maxmemory_is_measured(spawn):
    c = spawn(SERVER, None, "--maxmemory-policy", "noeviction").client()
    for i in range(2000):
        c.set("k%d" % i, "x" * 100)
    assert stats(c)["total_eviction_exceeded_time"] == 0
    c.config_set("maxmemory", 1)
    with pytest.raises(Exception, match="OOM"):
        c.set("one", "more")
    time.sleep(0.05)
    s = stats(c)
    assert s["current_eviction_exceeded_time"] >= 40
    assert s["total_eviction_exceeded_time"] >= s["current_eviction_exceeded_time"]
    c.config_set("maxmemory", 0)
    c.config_set("maxmemory", 1 << 30)
    c.set("one", "more")  # the next check finds memory under the limit
    s = stats(c)
    assert s["current_eviction_exceeded_time"] == 0 and s["total_eviction_exceeded_time"] >= 40


@keel_only
def test_aof_replay_errors_are_unexpected(spawn):
    node = spawn(SERVER, None, "--appendonly", "yes")
    c = node.client()
    c.set("k", "abc")
    node.stop()
    incr = glob.glob(os.path.join(node.dir, "appendonlydir", "*.incr.aof"))
    assert len(incr) == 1
    with open(incr[0], "ab") as f:
        f.write(b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n")  # an error on a string that is not a number
    c = spawn.restart(node).client()
    assert c.get("k") == b"abc"
    s = stats(c)
    assert s["unexpected_error_replies"] == 1 and s["total_error_replies"] == 1
    assert "== CRITICAL ==" in node_log(spawn)


def node_log(spawn):
    return spawn.nodes[-1].log_text()


@keel_only
def test_replica_buffers_do_not_count_for_maxmemory(cluster):
    """A replica that reads slowly holds the stream in its output buffer;
    maxmemory leaves that out (as Redis does), or evicting would free keys
    to pay for the DELs it sends the replica."""
    primary, replica = cluster.start("keel"), cluster.start("keel")
    replica.replicaof(primary)
    wait_in_sync(primary, replica)
    c = primary.node.client()
    c.config_set("client-output-buffer-limit", "replica 0 0 0")
    c.config_set("maxmemory-policy", "allkeys-random")
    os.kill(replica.node.proc.pid, signal.SIGSTOP)
    try:
        for i in range(400):
            c.set("k%d" % i, b"x" * 50_000)
        mem = c.info("memory")
        assert mem["mem_clients_slaves"] > 4_000_000
        assert mem["mem_not_counted_for_evict"] == mem["mem_clients_slaves"] + mem["mem_aof_buffer"]
        # under the limit only once the replica's buffer is left out
        limit = mem["used_memory"] - mem["mem_not_counted_for_evict"] + 2_000_000
        assert limit < mem["used_memory"]
        c.config_set("maxmemory", limit)
        c.set("one", "more")
        assert c.info("stats")["evicted_keys"] == 0 and c.dbsize() == 401
    finally:
        os.kill(replica.node.proc.pid, signal.SIGCONT)


def persistence(c):
    return c.info("persistence")


@keel_only
def test_save_progress_of_a_forkless_snapshot(spawn):
    c = spawn().client()
    c.execute_command("DEBUG", "POPULATE", 2000)
    c.config_set("rdb-key-save-delay", 1000)  # about 2 s for the walk
    c.bgsave()
    p = wait_until(lambda: (lambda p: p if p["current_save_keys_processed"] > 0 else None)(persistence(c)),
                   "the snapshot to start writing")
    assert p["current_save_keys_total"] == 2000 and p["current_save_keys_processed"] < 2000
    assert abs(p["current_fork_perc"] - 100.0 * p["current_save_keys_processed"] / 2000) < 0.01
    assert p["current_cow_size"] == 0  # nothing is copied without a fork
    c.config_set("rdb-key-save-delay", 0)
    wait_until(lambda: persistence(c)["rdb_bgsave_in_progress"] == 0, "the BGSAVE to end")
    p = persistence(c)
    assert (p["current_save_keys_processed"], p["current_save_keys_total"], p["current_fork_perc"]) == (0, 0, 0)


@keel_only
def test_copy_on_write_of_a_forked_save_is_measured(spawn):
    c = spawn(SERVER, None, "--bgsave-forkless", "no").client()
    c.execute_command("DEBUG", "POPULATE", 2000, "k", 10000)
    c.config_set("rdb-key-save-delay", 1000)  # the child takes about 2 s
    c.bgsave()
    # Changing a byte of each value makes the kernel copy its page for one side.
    pipe = c.pipeline(transaction=False)
    for i in range(2000):
        pipe.setrange("k:%d" % i, 0, "z")
    pipe.execute()
    p = wait_until(lambda: (lambda p: p if p["current_cow_size"] > 4_000_000 else None)(persistence(c)),
                   "the child's copies to show")
    assert p["current_cow_peak"] >= p["current_cow_size"]
    wait_until(lambda: persistence(c)["rdb_bgsave_in_progress"] == 0, "the BGSAVE to end", timeout=30)
    p = persistence(c)
    assert p["rdb_last_cow_size"] > 4_000_000 and p["current_cow_size"] == 0


@keel_only
def test_aof_rewrite_failures_in_a_row_are_counted(spawn):
    node = spawn(SERVER, None, "--appendonly", "yes", "--bgsave-forkless", "no")
    c = node.client()
    c.execute_command("DEBUG", "POPULATE", 1000)
    c.config_set("rdb-key-save-delay", 10000)  # the child would take 10 s
    for failures in (1, 2):
        c.bgrewriteaof()
        (child,) = wait_until(lambda: child_pids(node.proc.pid), "the rewrite child")
        os.kill(child, signal.SIGKILL)
        wait_until(lambda: persistence(c)["aof_rewrite_in_progress"] == 0, "the rewrite to end")
        p = persistence(c)
        assert p["aof_last_bgrewrite_status"] == "err" and p["aof_rewrites_consecutive_failures"] == failures
    c.config_set("rdb-key-save-delay", 0)
    c.bgrewriteaof()
    wait_until(lambda: persistence(c)["aof_rewrite_in_progress"] == 0, "the rewrite to end")
    p = persistence(c)
    assert p["aof_last_bgrewrite_status"] == "ok" and p["aof_rewrites_consecutive_failures"] == 0


def test_expired_stale_perc_follows_the_expiry_cycle(r):
    assert r.info("stats")["expired_stale_perc"] == 0
    pipe = r.pipeline(transaction=False)
    for i in range(20000):
        pipe.set("stale:%d" % i, "x", px=100)
    pipe.execute()
    wait_until(lambda: r.info("stats")["expired_stale_perc"] > 0, "the cycle to find expired keys")


@keel_only
def test_save_progress_of_a_forked_save(spawn):
    c = spawn(SERVER, None, "--bgsave-forkless", "no").client()
    c.execute_command("DEBUG", "POPULATE", 5000)
    c.config_set("rdb-key-save-delay", 300)  # the child takes about 1.5 s
    c.bgsave()
    p = wait_until(lambda: (lambda p: p if p["current_save_keys_processed"] > 0 else None)(persistence(c)),
                   "the child's first report")
    # The child reports every 1024 keys through its pipe.
    assert p["current_save_keys_total"] == 5000
    assert p["current_save_keys_processed"] % 1024 == 0 and p["current_save_keys_processed"] < 5000
    assert abs(p["current_fork_perc"] - 100.0 * p["current_save_keys_processed"] / 5000) < 0.01
    wait_until(lambda: persistence(c)["rdb_bgsave_in_progress"] == 0, "the BGSAVE to end", timeout=30)
    p = persistence(c)
    assert (p["current_save_keys_processed"], p["current_save_keys_total"]) == (0, 0)


@keel_only
def test_reply_buffers_past_their_first_size_are_counted(r):
    """Keel's reply buffers start at 16 KB and are given back once sent:
    a reply that needs more counts an expand, and its release a shrink.
    (Redis resizes a kept buffer from its cron instead, so its counts
    follow another schedule.)"""
    r.set("big", "x" * 1_000_000)
    r.config_resetstat()
    for _ in range(20):
        r.set("small", "v")
        r.get("small")
    stats = r.info("stats")
    assert (stats["reply_buffer_expands"], stats["reply_buffer_shrinks"]) == (0, 0)
    assert len(r.get("big")) == 1_000_000
    assert len(r.get("big")) == 1_000_000
    stats = r.info("stats")
    assert stats["reply_buffer_expands"] >= 2 and stats["reply_buffer_shrinks"] >= 2
    r.config_resetstat()
    stats = r.info("stats")
    assert (stats["reply_buffer_expands"], stats["reply_buffer_shrinks"]) == (0, 0)
