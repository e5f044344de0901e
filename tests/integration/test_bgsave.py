"""BGSAVE and save points: a background snapshot of the data as it was when
BGSAVE answered (writes after it are not in the file), BGSAVE SCHEDULE,
the save points of `save`, INFO persistence while and after saving, and
stop-writes-on-bgsave-error refusing writes with MISCONF until a save works
again. The texts are Redis 7.0's; the tests use DEBUG POPULATE and CONFIG
SET dir, which Redis 7 allows only with enable-debug-command and
enable-protected-configs (every server here gets the latter as local)."""
import os
import shutil
import tempfile
import time

import pytest
import redis
from conftest import SERVER, err

MISCONF = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. "
           "Commands that may modify the data set are disabled, because this instance is configured to report "
           "errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the "
           "Redis logs for details about the RDB error.")


@pytest.fixture
def keel(keel):
    """conftest's keel, with CONFIG SET dir allowed from loopback (Redis 7.0
    and Keel refuse it by default: enable-protected-configs no)."""
    return lambda *args, **kw: keel("--enable-protected-configs", "local", *args, **kw)


def info(r):
    return r.info("persistence")


def wait_bgsave_done(r, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if info(r)["rdb_bgsave_in_progress"] == 0:
            return
        time.sleep(0.05)
    raise AssertionError("BGSAVE did not finish")


def restart(keel, srv, *args):
    """A new server on the same directory (the old one stopped without saving)."""
    c = srv.client()
    try:
        c.shutdown(nosave=True)
    except redis.ConnectionError:
        pass
    srv.proc.wait(10)
    return keel("--dir", srv.dir, *args)


def test_bgsave_is_a_point_in_time_snapshot(keel):
    s = keel("--save", "")
    r = s.client()
    r.execute_command("DEBUG", "POPULATE", "50000", "k", "100")
    r.set("before", "1")
    assert r.bgsave() is True
    # written after BGSAVE answered: not part of the snapshot
    r.set("after", "1")
    r.delete("k:1")
    r.set("k:2", "changed")
    wait_bgsave_done(r)
    assert info(r)["rdb_last_bgsave_status"] == "ok"
    s2 = restart(keel, s, "--save", "")
    r2 = s2.client()
    assert r2.dbsize() == 50001
    assert r2.get("before") == b"1" and r2.get("after") is None
    assert r2.exists("k:1") == 1 and r2.get("k:2") != b"changed"


def test_bgsave_in_progress_and_schedule(keel):
    # 10,000 keys at 100 us each: the save surely lasts past the checks
    s = keel("--save", "", "--rdb-key-save-delay", "100")
    r = s.client()
    raw = s.client()
    raw.response_callbacks.clear()  # the status texts themselves
    r.execute_command("DEBUG", "POPULATE", "10000", "k", "200")
    assert raw.execute_command("BGSAVE") == b"Background saving started"
    assert info(r)["rdb_bgsave_in_progress"] == 1
    assert err(r.execute_command, "BGSAVE") == "Background save already in progress"
    assert err(r.execute_command, "SAVE") == "Background save already in progress"
    # as Redis: SCHEDULE only waits for a child of another kind (AOF)
    assert err(r.execute_command, "BGSAVE", "SCHEDULE") == "Background save already in progress"
    wait_bgsave_done(r)
    time.sleep(0.3)
    wait_bgsave_done(r)
    p = info(r)
    assert p["rdb_last_bgsave_status"] == "ok" and p["rdb_changes_since_last_save"] == 0
    assert p["rdb_last_bgsave_time_sec"] >= 0
    assert err(r.execute_command, "BGSAVE", "NOW") == "syntax error"


def test_key_save_delay_lasts_for_keys_writes_saved_first(keel):
    """rdb-key-save-delay makes a snapshot last the delay times the keys it
    holds, as Redis's child sleeps per key of the data it forked with,
    also when writes meanwhile touch every key (Keel's snapshot saves such
    a key before the write changes it: the delay is still charged for it).
    Replication tests rely on a snapshot that lasts."""
    s = keel("--save", "")
    r = s.client()
    for i in range(4):
        r.set("k%d" % i, "old")
    r.config_set("rdb-key-save-delay", "500000")  # 0.5 s a key: 2 s in all
    assert r.bgsave() is True
    for i in range(4):
        r.set("k%d" % i, "new")
    time.sleep(1.0)
    assert info(r)["rdb_bgsave_in_progress"] == 1
    wait_bgsave_done(r)
    assert info(r)["rdb_last_bgsave_status"] == "ok"
    s2 = restart(keel, s, "--save", "")
    assert s2.client().mget("k0", "k1", "k2", "k3") == [b"old"] * 4


@pytest.mark.parametrize("forkless", ["yes", "no"])
def test_flushall_stops_a_bgsave_without_failing_it(keel, forkless):
    """FLUSHALL stops a BGSAVE in progress even without save points, as
    Redis kills its child: the file would bring the flushed keys back, and
    Keel's forkless walk would first have to save every key the flush
    deletes (5 s here). Stopped is not failed: the change count stays, the
    last status stays ok and writes go on (no MISCONF). Redis 7.0's
    integration/rdb "Test FLUSHALL aborts bgsave"."""
    # (Keel's own directive; Redis, which always forks, runs the test twice.)
    s = keel("--save", "", *([] if SERVER.endswith("redis-server") else ["--bgsave-forkless", forkless]))
    r = s.client()
    r.execute_command("DEBUG", "POPULATE", "5000")
    r.config_set("rdb-key-save-delay", "1000")  # 1 ms a key: 5 s in all
    assert r.bgsave() is True
    assert info(r)["rdb_bgsave_in_progress"] == 1
    start = time.time()
    assert r.flushall() is True
    assert time.time() - start < 2.5
    deadline = time.time() + 1
    while info(r)["rdb_bgsave_in_progress"] and time.time() < deadline:
        time.sleep(0.05)
    assert info(r)["rdb_bgsave_in_progress"] == 0
    assert info(r)["rdb_changes_since_last_save"] >= 5000
    assert info(r)["rdb_last_bgsave_status"] == "ok"
    assert r.set("x", "xx") is True
    assert not os.path.exists(os.path.join(s.dir, "dump.rdb"))
    r.config_set("rdb-key-save-delay", "0")
    assert r.bgsave() is True
    wait_bgsave_done(r)
    assert info(r)["rdb_changes_since_last_save"] == 0


def test_save_points_trigger_a_background_save(keel):
    s = keel("--save", "1 1")
    r = s.client()
    before = r.lastsave()
    r.set("k", "v")
    deadline = time.time() + 10
    while time.time() < deadline and not os.path.exists(os.path.join(s.dir, "dump.rdb")):
        time.sleep(0.1)
    assert os.path.exists(os.path.join(s.dir, "dump.rdb"))
    wait_bgsave_done(r)
    assert info(r)["rdb_changes_since_last_save"] == 0
    assert r.lastsave() >= before


def test_no_save_points_no_background_save(keel):
    s = keel("--save", "")
    r = s.client()
    r.set("k", "v")
    time.sleep(2.2)
    assert not os.path.exists(os.path.join(s.dir, "dump.rdb"))
    assert info(r)["rdb_changes_since_last_save"] == 1


def test_failed_save_refuses_writes_with_misconf(keel):
    s = keel("--save", "3600 1")
    r = s.client(decode_responses=True)
    gone = tempfile.mkdtemp(prefix="keel-gone-")
    r.config_set("dir", gone)
    shutil.rmtree(gone)  # the save cannot create its file any more
    r.set("a", "1")
    try:
        r.bgsave()  # a forked child fails later; a forkless snapshot at once
    except redis.ResponseError:
        pass
    wait_bgsave_done(r)
    assert info(r)["rdb_last_bgsave_status"] == "err"
    assert err(r.set, "b", "2") == MISCONF
    assert r.get("a") == "1"  # reads still work
    r.config_set("stop-writes-on-bgsave-error", "no")
    assert r.set("b", "2") is True
    r.config_set("stop-writes-on-bgsave-error", "yes")
    assert err(r.set, "c", "3") == MISCONF
    # a successful save lifts the refusal
    r.config_set("dir", s.dir)
    r.bgsave()
    wait_bgsave_done(r)
    assert info(r)["rdb_last_bgsave_status"] == "ok"
    assert r.set("c", "3") is True


def test_failed_save_does_not_stop_writes(keel):
    """A SAVE that fails tells its caller (an error) and leaves writes
    alone: only a failed background save stops them (MISCONF), as in Redis
    7.0, whose unit/shutdown then expects PING to answer after a SHUTDOWN
    whose save failed."""
    s = keel("--save", "3600 1")
    r = s.client(decode_responses=True)
    gone = tempfile.mkdtemp(prefix="keel-gone-")
    r.config_set("dir", gone)
    shutil.rmtree(gone)  # the save cannot create its file any more
    try:
        r.set("a", "1")
        with pytest.raises(redis.ResponseError) as e:
            r.save()
        assert str(e.value) == ""  # a bare -ERR, as Redis answers it
        assert info(r)["rdb_last_bgsave_status"] == "ok"
        assert r.set("b", "2") is True
        assert r.ping() is True
        with pytest.raises(redis.ResponseError):
            r.shutdown()  # its save fails: the server stays
        assert r.ping() is True
    finally:
        r.config_set("dir", s.dir)


def test_shutdown_during_bgsave_still_saves(keel):
    s = keel("--save", "3600 1")
    r = s.client()
    r.execute_command("DEBUG", "POPULATE", "200000", "k", "100")
    r.bgsave()
    r.set("last", "write")
    try:
        r.shutdown()
    except redis.ConnectionError:
        pass
    s.proc.wait(20)
    s2 = keel("--dir", s.dir, "--save", "")
    assert s2.client().get("last") == b"write"


def after_a_failed_bgsave(keel):
    """A server with save points whose last BGSAVE failed (its dir was
    removed), holding a = "1": writes now get MISCONF."""
    s = keel("--save", "3600 1")
    r = s.client(decode_responses=True)
    gone = tempfile.mkdtemp(prefix="keel-gone-")
    r.config_set("dir", gone)
    shutil.rmtree(gone)
    r.set("a", "1")
    try:
        r.bgsave()
    except redis.ResponseError:
        pass
    wait_bgsave_done(r)
    return s, r


def test_misconf_also_refuses_writes_queued_in_a_transaction(keel):
    """As in Redis 7.0: a write is refused when MULTI would queue it, which
    fails the transaction; a transaction of reads still runs."""
    s, r = after_a_failed_bgsave(keel)
    p = r.pipeline(transaction=True)
    p.get("a")
    assert p.execute() == ["1"]
    raw = s.raw()
    raw.sendall(b"MULTI\r\nGET a\r\nSET b 2\r\nEXEC\r\n")
    want = b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    got = b""
    deadline = time.time() + 5
    while not got.endswith(want) and time.time() < deadline:
        got += raw.recv(4096)
    assert got.startswith(b"+OK\r\n+QUEUED\r\n-MISCONF ") and got.endswith(want), got
    assert r.get("b") is None
    r.config_set("dir", s.dir)


def test_misconf_refuses_ping_too(keel):
    """As Redis 7.0: PING gets MISCONF while writes do, so Sentinel takes a
    primary that cannot persist for down (its down-conditions test); a
    successful save brings PONG back."""
    s, r = after_a_failed_bgsave(keel)
    assert err(r.ping) == MISCONF
    assert r.echo("x") == "x"  # other reads still answer
    r.config_set("dir", s.dir)
    r.bgsave()
    wait_bgsave_done(r)
    assert r.ping() is True


def test_misconf_comes_before_readonly_on_a_replica(keel):
    """Redis's order for a command: MISCONF, then READONLY. (A script's
    write gets READONLY first, as in Redis.)"""
    s, r = after_a_failed_bgsave(keel)
    r.replicaof("127.0.0.1", 1)  # nothing listens there: it stays a replica
    try:
        assert err(r.set, "b", "2") == MISCONF
        assert err(r.ping) == MISCONF
        # (redis-py drops READONLY, the error's code, from the text)
        assert err(r.eval, "return redis.call('SET', 'b', '2')", 0).startswith("You can't write against a read only")
    finally:
        r.replicaof("no", "one")
        r.config_set("dir", s.dir)


def test_misconf_refuses_writes_from_scripts(keel):
    s, r = after_a_failed_bgsave(keel)
    assert err(r.eval, "return redis.call('SET', 'b', '2')", 0).startswith("MISCONF")
    assert r.eval("return redis.call('GET', 'a')", 0) == "1"
    assert r.get("b") is None
    r.config_set("dir", s.dir)
