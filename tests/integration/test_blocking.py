"""The blocking framework itself: CLIENT UNBLOCK, timeouts that survive a
busy server, wake-ups from transactions and scripts, FIFO order across
commands of different families."""
import threading
import time

import pytest
import redis
from conftest import blocked_call, wait_blocked


def test_client_unblock_timeout_and_error(server):
    r = server.client()
    r.flushall()
    waiter = server.client()
    wid = waiter.client_id()
    t, box = blocked_call(waiter, "BLPOP", "q", 0)
    wait_blocked(r)
    assert r.execute_command("CLIENT", "UNBLOCK", wid) == 1
    t.join(5)
    assert box.get("value") is None and "error" not in box
    assert r.execute_command("CLIENT", "UNBLOCK", wid) == 0  # not blocked any more

    t, box = blocked_call(waiter, "BZPOPMIN", "z", 0)
    wait_blocked(r)
    assert r.execute_command("CLIENT", "UNBLOCK", wid, "ERROR") == 1
    t.join(5)
    assert "UNBLOCKED client unblocked via CLIENT UNBLOCK" in str(box["error"])
    with pytest.raises(redis.ResponseError, match="CLIENT UNBLOCK reason should be TIMEOUT or ERROR"):
        r.execute_command("CLIENT", "UNBLOCK", wid, "LATER")
    assert r.execute_command("CLIENT", "UNBLOCK", 999999) == 0
    with pytest.raises(redis.ResponseError, match="^wrong number of arguments for 'client\\|unblock' command$"):
        r.execute_command("CLIENT", "UNBLOCK")
    with pytest.raises(redis.ResponseError, match="^unknown subcommand or wrong number of arguments for 'unblock'"):
        r.execute_command("CLIENT", "unblock", wid, "ERROR", "x")


def test_timeout_survives_busy_server(server):
    r = server.client()
    r.flushall()
    waiter = server.client()
    start = time.time()
    t, box = blocked_call(waiter, "BLPOP", "q", "0.2")
    wait_blocked(r)
    r.execute_command("DEBUG", "SLEEP", "0.5")  # the loop is busy past the deadline
    t.join(5)
    assert box.get("value") is None and "error" not in box
    assert time.time() - start < 3
    assert r.info("clients")["blocked_clients"] == 0


def test_millisecond_timeouts(server):
    r = server.client()
    r.flushall()
    for secs in ("0.05", "0.15"):
        start = time.time()
        assert r.execute_command("BLPOP", "none", secs) is None
        took = time.time() - start
        assert float(secs) <= took < float(secs) + 0.5


def test_fifo_across_waiters_and_wake_from_multi(server):
    r = server.client()
    r.flushall()
    a, b = server.client(), server.client()
    ta, boxa = blocked_call(a, "BLPOP", "q", 5)
    wait_blocked(r, 1)
    tb, boxb = blocked_call(b, "BLPOP", "q", 5)
    wait_blocked(r, 2)
    p = r.pipeline(transaction=True)
    p.rpush("q", "first", "second")
    p.execute()
    ta.join(5)
    tb.join(5)
    assert list(boxa["value"]) == [b"q", b"first"]
    assert list(boxb["value"]) == [b"q", b"second"]


def test_wake_from_script(server):
    r = server.client()
    r.flushall()
    w = server.client()
    t, box = blocked_call(w, "BLPOP", "q", 5)
    wait_blocked(r)
    r.eval("redis.call('rpush', KEYS[1], 'from-lua')", 1, "q")
    t.join(5)
    assert list(box["value"]) == [b"q", b"from-lua"]


def test_disconnect_while_blocked_is_cleaned_up(server):
    r = server.client()
    r.flushall()
    s = server.raw()
    s.sendall(b"BLPOP q 0\r\n")
    wait_blocked(r)
    s.close()
    deadline = time.time() + 5
    while r.info("clients")["blocked_clients"] and time.time() < deadline:
        time.sleep(0.02)
    assert r.info("clients")["blocked_clients"] == 0
    r.rpush("q", "x")
    assert r.lrange("q", 0, -1) == [b"x"]  # nobody consumed it


@pytest.mark.parametrize("cmd", [("BZPOPMIN", "z", 5), ("BZPOPMAX", "z", 5), ("BZMPOP", 5, 1, "z", "MIN")])
def test_sorted_set_waiter_ignores_a_key_of_another_type(server, cmd):
    # As list and stream waiters do: a key created with another type is not
    # ready for them, and they keep waiting until it is a sorted set.
    r = server.client()
    r.flushall()
    w = server.client()
    t, box = blocked_call(w, *cmd)
    wait_blocked(r)
    r.rpush("z", "a")
    r.delete("z")
    r.set("z", "v")
    time.sleep(0.1)
    assert t.is_alive() and not box
    r.delete("z")
    r.zadd("z", {"m": 1})
    t.join(5)
    assert box["value"] in ((b"z", b"m", 1.0), [b"z", [[b"m", b"1"]]])  # redis-py parses BZPOP*


def test_blocking_list_commands_are_refused_in_scripts(r):
    # noscript, as in Redis: a script must not run BLPOP and friends (which
    # would pop and then not block anyway).
    r.rpush("l", "a")
    for cmd in ("'blpop', KEYS[1], 0", "'brpop', KEYS[1], 0", "'blmove', KEYS[1], 'x', 'LEFT', 'LEFT', 0",
                "'brpoplpush', KEYS[1], 'x', 0"):
        with pytest.raises(redis.ResponseError) as e:
            r.eval("return redis.call(%s)" % cmd, 1, "l")
        assert str(e.value).startswith("This Redis command is not allowed from script")
    assert r.lrange("l", 0, -1) == [b"a"]


def test_bzmpop_reads_its_timeout_last(r):
    for args, text in [(("abc", 1, "z", "LEFT"), "syntax error"),
                       (("-1", 1, "z", "MIN", "COUNT", 0), "count should be greater than 0"),
                       (("abc", 1, "z", "MIN"), "timeout is not a float or out of range"),
                       (("-1", 1, "z", "MIN"), "timeout is negative")]:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("BZMPOP", *args)
        assert str(e.value) == text
