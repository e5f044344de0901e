"""The propagation point: every write reaches it once, in deterministic form
(relative times made absolute, float arithmetic replaced by its result),
transactions wrapped in MULTI/EXEC, expirations as DEL."""
import time

import pytest


def test_plain_write_and_reads(r, plog):
    r.set("k", "v")
    r.get("k")
    r.exists("k")
    r.set("nx", "1", nx=True)
    r.set("nx", "2", nx=True)  # not performed: not propagated
    assert plog() == [["0", "SET", "k", "v"], ["0", "SET", "nx", "1"]]


def test_relative_expiry_becomes_absolute(r, plog):
    before = int(time.time() * 1000)
    r.set("k", "v", ex=100)
    r.expire("k", 200)
    r.setex("s", 50, "v")
    after = int(time.time() * 1000)
    log = plog()
    assert log[0][1:4] == ["SET", "k", "v"] and log[0][4] == "PXAT"
    assert before + 100000 <= int(log[0][5]) <= after + 100000
    assert log[1][1] == "PEXPIREAT" and before + 200000 <= int(log[1][3]) <= after + 200000
    assert log[2][1:5] == ["SET", "s", "v", "PXAT"]


def test_incrbyfloat_propagates_result(r, plog):
    r.set("f", "1.5")
    r.incrbyfloat("f", 0.25)
    assert plog()[-1] == ["0", "SET", "f", "1.75", "KEEPTTL"]


def test_multi_is_wrapped(r, plog):
    p = r.pipeline(transaction=True)
    p.set("a", "1").execute_command("INCR", "a").get("a")
    p.execute()
    assert plog() == [["0", "MULTI"], ["0", "SET", "a", "1"], ["0", "INCR", "a"], ["0", "EXEC"]]


def test_lazy_and_active_expiry_propagate_del(r, plog):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("lazy", "v", px=30)
        time.sleep(0.1)
        assert r.get("lazy") is None
        log = plog()
        assert log[-1] == ["0", "DEL", "lazy"]
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    r.set("active", "v", px=30)
    deadline = time.time() + 5
    while r.dbsize() and time.time() < deadline:
        time.sleep(0.05)
    assert ["0", "DEL", "active"] in plog()


def test_select_db_recorded(r, plog):
    r.execute_command("SELECT", "3")
    r.set("k", "v")
    r.execute_command("SELECT", "0")
    assert plog() == [["3", "SET", "k", "v"]]


def test_script_writes_propagate_as_effects(r, plog):
    r.eval("redis.call('set', KEYS[1], ARGV[1]); redis.call('incr', KEYS[2]); return 1", 2, "a", "n", "v")
    r.eval("return redis.call('get', KEYS[1])", 1, "a")  # read-only: nothing
    assert plog() == [["0", "MULTI"], ["0", "SET", "a", "v"], ["0", "incr", "n"], ["0", "EXEC"]]


def test_script_single_write_and_expire_rewrite(r, plog):
    r.eval("redis.call('set', KEYS[1], 'v', 'EX', 100)", 1, "k")
    log = plog()
    assert len(log) == 1 and log[0][1:5] == ["SET", "k", "v", "PXAT"]
