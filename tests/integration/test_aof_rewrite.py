"""BGREWRITEAOF and CONFIG SET appendonly at run time: a rewrite under a
steady write load keeps every acknowledged write (the manifest lists the
old files until the new base exists, then only the new base and the new
incremental file), and turning the log on at run time makes a base from
what is in memory while later writes go to the new incremental file.
Also what a log that cannot be written does: MISCONF for new writes under
everysec until the disk recovers, and exit under always, so that no write
is acknowledged that the log does not hold."""
import os
import subprocess
import threading
import time

import pytest
import redis
from conftest import SERVER, err

AOF_DIR = "appendonlydir"


def manifest(srv):
    with open(os.path.join(srv.dir, AOF_DIR, "appendonly.aof.manifest")) as f:
        return [line.split() for line in f.read().splitlines() if line.strip()]


def wait_rewrite(r, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        p = r.info("persistence")
        if not p["aof_rewrite_in_progress"] and not p["aof_rewrite_scheduled"]:
            return p
        time.sleep(0.05)
    raise AssertionError("rewrite did not finish")


def restart(keel, srv, *args):
    try:
        srv.client().shutdown(nosave=True)
    except redis.ConnectionError:
        pass
    srv.proc.wait(10)
    return keel("--dir", srv.dir, "--save", "", *args)


def writer(srv, prefix, acked, stop):
    c = srv.client()
    i = 0
    while not stop.is_set():
        try:
            c.set("%s:%d" % (prefix, i), i)
        except redis.ConnectionError:
            return
        acked.append(i)
        i += 1


def test_rewrite_under_writes_keeps_every_acknowledged_write(keel):
    s = keel("--save", "", "--appendonly", "yes", "--appendfsync", "always")
    r = s.client()
    for i in range(2000):
        r.set("old:%d" % i, i)
    acked, stop = [], threading.Event()
    t = threading.Thread(target=writer, args=(s, "w", acked, stop))
    t.start()
    time.sleep(0.1)
    assert r.bgrewriteaof() is True
    time.sleep(0.2)
    p = wait_rewrite(r)
    deadline = time.time() + 20
    while len(acked) < 200 and time.time() < deadline:
        time.sleep(0.01)  # enough writes on both sides of the switch, however slow the machine
    stop.set()
    t.join()
    assert p["aof_last_bgrewrite_status"] == "ok"
    m = manifest(s)
    assert [(e[1], e[3], e[5]) for e in m] == [("appendonly.aof.2.base.rdb", "2", "b"),
                                               ("appendonly.aof.2.incr.aof", "2", "i")]
    files = sorted(os.listdir(os.path.join(s.dir, AOF_DIR)))
    assert files == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    s2 = restart(keel, s, "--appendonly", "yes")
    r2 = s2.client()
    assert len(acked) >= 200
    got = r2.mget(["w:%d" % i for i in acked])
    assert got == [str(i).encode() for i in acked]
    assert r2.get("old:1999") == b"1999"


def test_enable_at_run_time_makes_a_base_and_logs_after(keel):
    s = keel("--save", "")
    r = s.client()
    r.set("before", "1")
    r.rpush("list", "a", "b")
    info = r.info("persistence")
    assert (info["aof_last_rewrite_time_sec"], info["aof_current_rewrite_time_sec"]) == (-1, -1)
    assert r.config_set("appendonly", "yes") is True
    r.set("during", "2")
    wait_rewrite(r)
    info = r.info("persistence")
    assert info["aof_last_rewrite_time_sec"] == 0 and info["aof_current_rewrite_time_sec"] == -1
    r.set("after", "3")
    assert r.info("persistence")["aof_enabled"] == 1
    kinds = [e[5] for e in manifest(s)]
    assert kinds == ["b", "i"]
    s2 = restart(keel, s, "--appendonly", "yes")
    r2 = s2.client()
    assert r2.mget("before", "during", "after") == [b"1", b"2", b"3"]
    assert r2.lrange("list", 0, -1) == [b"a", b"b"]


def test_disable_at_run_time_stops_appending(keel):
    s = keel("--save", "", "--appendonly", "yes")
    r = s.client()
    r.set("a", "1")
    incr = os.path.join(s.dir, AOF_DIR, manifest(s)[-1][1])
    size = os.path.getsize(incr)
    assert size > 0
    r.config_set("appendonly", "no")
    r.set("b", "2")
    time.sleep(0.1)
    assert os.path.getsize(incr) == size
    assert r.info("persistence")["aof_enabled"] == 0


@pytest.mark.parametrize("forkless", ["yes", "no"])
def test_disable_during_a_rewrite_stops_it(keel, forkless):
    """appendonly no stops a rewrite in progress (a forked child is killed,
    as in Redis, whose log line is kept); the log is off and nothing of the
    stopped rewrite stays behind."""
    if SERVER.endswith("redis-server"):
        if forkless == "yes":
            pytest.skip("Redis always forks")
        s = keel("--save", "", "--appendonly", "yes")
    else:
        s = keel("--save", "", "--appendonly", "yes", "--bgsave-forkless", forkless)
    r = s.client()
    wait_rewrite(r)
    r.mset({"k%d" % i: "v" for i in range(100)})
    r.config_set("rdb-key-save-delay", 1000000)  # a rewrite that would last 100 s
    r.bgrewriteaof()
    assert r.info("persistence")["aof_rewrite_in_progress"] == 1
    r.config_set("appendonly", "no")
    want = "Killing running AOF rewrite child: " if forkless == "no" else "Stopping the running AOF rewrite"
    deadline = time.time() + 10
    while want not in s.log_text() or r.info("persistence")["aof_rewrite_in_progress"]:
        assert time.time() < deadline, s.log_text()[-2000:]
        time.sleep(0.05)
    r.config_set("rdb-key-save-delay", 0)
    p = r.info("persistence")
    assert p["aof_enabled"] == 0 and p["aof_rewrite_scheduled"] == 0
    assert r.dbsize() == 100


def test_rewrite_while_bgsave_is_scheduled(keel):
    s = keel("--save", "", "--appendonly", "yes")
    r = s.client()
    raw = s.client()
    raw.response_callbacks.clear()
    r.execute_command("DEBUG", "POPULATE", "200000", "k", "100")
    assert r.bgsave() is True
    reply = raw.execute_command("BGREWRITEAOF")
    assert reply in (b"Background append only file rewriting scheduled",
                     b"Background append only file rewriting started")
    p = wait_rewrite(r)
    assert p["aof_last_bgrewrite_status"] == "ok"
    assert manifest(s)[0][5] == "b" and manifest(s)[0][3] == "2"


def test_a_failing_log_refuses_writes_and_recovers(keel):
    """A full disk (simulated with DEBUG AOF-WRITE-ERROR) under everysec:
    the write in flight stays buffered, later writes get MISCONF, reads
    work, and once the disk takes writes again everything is logged."""
    s = keel("--save", "", "--appendonly", "yes", "--appendfsync", "everysec")
    r = s.client()
    r.set("a", "1")
    r.execute_command("DEBUG", "AOF-WRITE-ERROR", "ON")
    r.set("b", "2")  # executed before the failure is known: kept in memory and in the buffer
    deadline = time.time() + 5
    while r.info("persistence")["aof_last_write_status"] != "err":
        assert time.time() < deadline
        time.sleep(0.01)
    assert err(r.set, "c", "3").startswith("MISCONF Errors writing to the AOF file: No space left on device")
    assert r.get("b") == b"2"
    r.execute_command("DEBUG", "AOF-WRITE-ERROR", "OFF")
    deadline = time.time() + 5
    while True:
        try:
            r.set("c", "3")
            break
        except redis.ResponseError:
            assert time.time() < deadline
            time.sleep(0.01)
    assert r.info("persistence")["aof_last_write_status"] == "ok"
    s2 = restart(keel, s, "--appendonly", "yes")
    assert s2.client().mget("a", "b", "c") == [b"1", b"2", b"3"]


def test_a_failing_log_under_always_stops_the_server(keel):
    """Under appendfsync always a write that cannot be logged is never
    acknowledged: the server exits, as Redis does."""
    s = keel("--save", "", "--appendonly", "yes", "--appendfsync", "always")
    r = s.client()
    r.set("a", "1")
    r.execute_command("DEBUG", "AOF-WRITE-ERROR", "ON")
    try:
        r.set("b", "2")
        raise AssertionError("the write was acknowledged")
    except redis.ConnectionError:
        pass
    assert s.proc.wait(10) == 1
    assert "Can't recover from AOF write error" in s.log_text()
    s.proc = subprocess.Popen(["true"])  # the harness checks exit codes: this exit was expected
    s.proc.wait()
    s2 = keel("--dir", s.dir, "--save", "", "--appendonly", "yes")
    assert s2.client().mget("a", "b") == [b"1", None]


def test_bgsave_during_a_rewrite_is_scheduled(keel):
    s = keel("--save", "", "--appendonly", "yes", "--rdb-key-save-delay", "100")
    r = s.client()
    raw = s.client()
    raw.response_callbacks.clear()
    r.execute_command("DEBUG", "POPULATE", "10000", "k", "100")
    assert r.bgrewriteaof() is True
    assert r.info("persistence")["aof_rewrite_in_progress"] == 1
    assert err(r.execute_command, "BGSAVE").startswith("Another child process is active (AOF?): can't BGSAVE right now.")
    assert raw.execute_command("BGSAVE", "SCHEDULE") == b"Background saving scheduled"
    wait_rewrite(r)
    deadline = time.time() + 20
    while r.info("persistence")["rdb_bgsave_in_progress"] or not os.path.exists(os.path.join(s.dir, "dump.rdb")):
        assert time.time() < deadline
        time.sleep(0.05)
    p = r.info("persistence")
    assert p["rdb_last_bgsave_status"] == "ok" and p["aof_last_bgrewrite_status"] == "ok"


def test_automatic_rewrite_on_growth(keel):
    s = keel("--save", "", "--appendonly", "yes", "--auto-aof-rewrite-percentage", "100",
             "--auto-aof-rewrite-min-size", "1mb")
    r = s.client()
    p = r.pipeline(transaction=False)
    for i in range(30000):
        p.set("k:%d" % (i % 100), "x" * 100)  # the log grows, the data does not
    p.execute()
    deadline = time.time() + 20
    while r.info("persistence")["aof_rewrites"] < 1 or r.info("persistence")["aof_rewrite_in_progress"]:
        assert time.time() < deadline
        time.sleep(0.05)
    info = r.info("persistence")
    # 30,000 SETs of 100 bytes were logged (over 3 MB); a rewrite keeps
    # only the 100 keys plus what came after it started
    assert info["aof_current_size"] < 30000 * 100 and info["aof_base_size"] > 0
    assert int(manifest(s)[0][3]) >= 2  # rewritten at least once (more on a slow machine)


def test_bgrewriteaof_with_the_aof_off_writes_a_base_alone(keel):
    """As Redis 7: a base file from memory and a manifest naming only it;
    a later start with appendonly yes loads it and appends to a new
    incremental file."""
    s = keel("--save", "")
    r = s.client()
    r.set("a", "1")
    r.rpush("l", "x", "y")
    assert r.execute_command("BGREWRITEAOF") is True  # redis-py's reading of the started status
    info = wait_rewrite(r)
    assert info["aof_enabled"] == 0 and info["aof_rewrites"] == 1
    assert manifest(s) == [["file", "appendonly.aof.1.base.rdb", "seq", "1", "type", "b"]]
    # Again: the new base replaces the old one.
    r.set("b", "2")
    r.execute_command("BGREWRITEAOF")
    wait_rewrite(r)
    assert manifest(s) == [["file", "appendonly.aof.2.base.rdb", "seq", "2", "type", "b"]]
    assert not os.path.exists(os.path.join(s.dir, AOF_DIR, "appendonly.aof.1.base.rdb"))
    s2 = restart(keel, s, "--appendonly", "yes")
    r2 = s2.client()
    assert r2.mget("a", "b") == [b"1", b"2"] and r2.lrange("l", 0, -1) == [b"x", b"y"]
    r2.set("c", "3")
    kinds = [e[5] for e in manifest(s)]  # s2 runs in s's directory
    assert kinds == ["b", "i"]
    s2.dir = s.dir  # restart() starts again in srv.dir
    s3 = restart(keel, s2, "--appendonly", "yes")
    assert s3.client().mget("a", "b", "c") == [b"1", b"2", b"3"]


def transaction(srv, *cmds):
    """The replies of MULTI cmds... EXEC, as sent (no client parsing)."""
    from resp_client import RespConn
    c = RespConn(srv)
    try:
        assert c.call("MULTI") == "OK"
        for cmd in cmds:
            assert c.call(*cmd) == "QUEUED"
        return c.call("EXEC")
    finally:
        c.close()


def test_rewrite_and_enable_inside_multi_wait_for_the_transaction(keel):
    """BGREWRITEAOF or CONFIG SET appendonly yes inside MULTI is scheduled
    (Redis's replies), not started mid-transaction: a base taken there held
    the first INCR and the new incremental file both, so a reload counted
    it twice."""
    srv = keel("--appendonly", "yes", "--enable-debug-command", "yes")
    r = srv.client()
    assert transaction(srv, ("INCR", "x"), ("BGREWRITEAOF",), ("INCR", "x")) == \
        [1, "Background append only file rewriting scheduled", 2]
    wait_rewrite(r)
    assert manifest(srv)[0][1] == "appendonly.aof.2.base.rdb"
    assert r.execute_command("DEBUG", "LOADAOF") == b"OK"
    assert r.get("x") == b"2"
    # the log turned on inside a transaction
    r.config_set("appendonly", "no")
    assert transaction(srv, ("INCR", "y"), ("CONFIG", "SET", "appendonly", "yes"), ("INCR", "y")) == [1, "OK", 2]
    wait_rewrite(r)
    assert "An AOF background was scheduled to start when possible" in srv.log_text()
    # the earlier run's files went with the first rewrite after it
    listed = [line[1] for line in manifest(srv)] + ["appendonly.aof.manifest"]
    assert sorted(os.listdir(os.path.join(srv.dir, AOF_DIR))) == sorted(listed)
    assert r.execute_command("DEBUG", "LOADAOF") == b"OK"
    assert r.get("y") == b"2"
    assert r.get("x") == b"2"


def test_bgsave_inside_multi_is_scheduled(keel):
    srv = keel("--enable-debug-command", "yes")
    r = srv.client()
    assert transaction(srv, ("INCR", "z"), ("BGSAVE",), ("INCR", "z")) == [1, "Background saving scheduled", 2]
    deadline = time.time() + 10
    while r.info("persistence")["rdb_changes_since_last_save"] and time.time() < deadline:
        time.sleep(0.05)
    assert r.info("persistence")["rdb_changes_since_last_save"] == 0
    assert r.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
    assert r.get("z") == b"2"
