"""Graceful shutdown (Redis 7.0): a primary told to stop (SHUTDOWN, or
SIGTERM) while a replica has not acknowledged its last writes pauses
writes and waits, up to shutdown-timeout, for the replica to catch up; so
the write a client was told succeeded is on the replica before the primary
is gone. SHUTDOWN NOW skips the wait, SHUTDOWN ABORT cancels it, INFO shows
shutdown_in_milliseconds meanwhile. Real processes: the replica is stopped
with SIGSTOP to make it lag, as Redis's own test does.

Each scenario runs with a Keel primary and a Keel or a Redis 7.0 replica,
and with a Redis primary too where the behaviour is Redis's (the log lines
are compared by their Redis texts)."""
import os
import signal
import time

import pytest
from persist_util import TempDirs, removal_fixture
from repl_util import Raw, cluster_fixture, kinds_param, replicate, wait_until

mkdir = TempDirs("keel-shutdown-")
_remove_tmpdirs = removal_fixture(mkdir)
cluster = cluster_fixture(mkdir)

PAIRS = [kinds_param("keel", "keel"), kinds_param("keel", "redis"), kinds_param("redis", "keel")]
pairs = pytest.mark.parametrize("kinds", PAIRS)
FAILED = "-ERR Errors trying to SHUTDOWN. Check logs."


def lagging_pair(cluster, kinds, timeout=30):
    """A primary with shutdown-timeout `timeout` and a replica in sync, then
    stopped (SIGSTOP) with one more write, k=2, not acknowledged."""
    primary, replica = [cluster.start(k) for k in kinds]
    assert primary.c.config_set("shutdown-timeout", timeout) is True
    replicate(primary, replica)
    primary.c.set("k", "1")
    wait_until(lambda: replica.c.get("k") == "1", "k=1 on the replica")
    os.kill(replica.node.proc.pid, signal.SIGSTOP)
    assert primary.c.incr("k") == 2
    return primary, replica


def resume(replica):
    os.kill(replica.node.proc.pid, signal.SIGCONT)


def shutting_down(primary):
    info = primary.info("server")
    return int(info.get("shutdown_in_milliseconds", "0")) > 0


def exited(primary, timeout=20):
    try:
        primary.node.proc.wait(timeout=timeout)
    except Exception:  # noqa: BLE001
        return False
    return primary.node.proc.returncode == 0


@pairs
@pytest.mark.parametrize("how", ["shutdown", "sigterm"])
def test_primary_waits_for_a_lagging_replica(cluster, kinds, how):
    primary, replica = lagging_pair(cluster, kinds)
    try:
        caller = Raw(primary.port)
        if how == "shutdown":
            caller.send("SHUTDOWN")
        else:
            os.kill(primary.node.proc.pid, signal.SIGTERM)
        wait_until(lambda: shutting_down(primary), "shutdown_in_milliseconds on the primary")
        # Writes wait meanwhile (the offset the replica must reach stands still).
        writer = Raw(primary.port)
        writer.send("SET", "late", "x")
        time.sleep(0.3)
        assert primary.node.proc.poll() is None
        assert primary.c.get("k") == "2"  # reads go on
    finally:
        resume(replica)
    assert exited(primary)
    wait_until(lambda: replica.c.get("k") == "2", "k=2 on the replica")
    log = primary.node.log_text()
    assert "Waiting for replicas before shutting down." in log
    assert "1 of 1 replicas are in sync when shutting down." in log
    assert "Lagging replica" not in log
    assert replica.c.exists("late") == 0  # held, never run


@pairs
def test_the_wait_ends_at_shutdown_timeout(cluster, kinds):
    primary, replica = lagging_pair(cluster, kinds, timeout=1)
    try:
        t = time.time()
        os.kill(primary.node.proc.pid, signal.SIGTERM)
        assert exited(primary)
        assert 0.8 <= time.time() - t < 10
    finally:
        resume(replica)
    log = primary.node.log_text()
    assert "0 of 1 replicas are in sync when shutting down." in log
    assert "Lagging replica" in log and "state=online" in log


@pairs
def test_shutdown_abort_and_now(cluster, kinds):
    primary, replica = lagging_pair(cluster, kinds)
    try:
        r = Raw(primary.port)
        r.send("SHUTDOWN", "ABORT")
        assert r.line() == b"-ERR No shutdown in progress."
        waiting = Raw(primary.port)
        waiting.send("SHUTDOWN")
        wait_until(lambda: shutting_down(primary), "the shutdown to wait")
        for bad in (("SHUTDOWN", "ABORT", "NOW"), ("SHUTDOWN", "NOSAVE", "ABORT")):
            r.send(*bad)
            assert r.line() == b"-ERR syntax error"
        r.send("SHUTDOWN", "ABORT")
        assert r.line() == b"+OK"
        assert waiting.line().decode() == FAILED
        assert not shutting_down(primary)
        assert primary.c.set("after", "abort") is True  # writes flow again
        r.send("SHUTDOWN", "ABORT")
        assert r.line() == b"-ERR No shutdown in progress."
        assert "Shutdown manually aborted." in primary.node.log_text()
        # NOW: no waiting, though the replica still lags.
        t = time.time()
        r.send("SHUTDOWN", "NOW")
        assert exited(primary)
        assert time.time() - t < 5
    finally:
        resume(replica)
    assert "Waiting for replicas" in primary.node.log_text()


def test_no_replicas_no_wait(cluster):
    primary = cluster.start("keel")
    assert primary.c.config_set("shutdown-timeout", 30) is True
    primary.c.set("k", "v")
    t = time.time()
    os.kill(primary.node.proc.pid, signal.SIGTERM)
    assert exited(primary)
    assert time.time() - t < 5
    assert "Waiting for replicas" not in primary.node.log_text()
