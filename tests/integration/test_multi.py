"""Transactions: MULTI/EXEC/DISCARD, WATCH/UNWATCH and their error paths."""
import threading
import time

import pytest
import redis

from conftest import resp_exchange


def test_multi_exec_basic(r):
    p = r.pipeline(transaction=True)
    p.set("a", "1").incr("a").get("a")
    assert p.execute() == [True, 2, b"2"]


def test_queued_replies_raw(server):
    server.client().flushall()
    s = server.raw()
    out = resp_exchange(s, b"MULTI\r\nSET k v\r\nGET k\r\nEXEC\r\n")
    assert out == b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\nv\r\n"


def test_exec_without_multi_and_nesting(r):
    with pytest.raises(redis.ResponseError, match="^EXEC without MULTI$"):
        r.execute_command("EXEC")
    with pytest.raises(redis.ResponseError, match="^DISCARD without MULTI$"):
        r.execute_command("DISCARD")
    r.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="^MULTI calls can not be nested$"):
        r.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="^WATCH inside MULTI is not allowed$"):
        r.execute_command("WATCH", "x")
    assert r.execute_command("DISCARD") == b"OK"


def test_queue_time_error_aborts(server):
    c = server.client()
    c.flushall()
    c.execute_command("MULTI")
    c.execute_command("SET", "k", "v")
    with pytest.raises(redis.ResponseError, match="unknown command"):
        c.execute_command("NOSUCHCMD")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        c.execute_command("GET")
    # redis-py maps the EXECABORT code to ExecAbortError, so this proves the code
    with pytest.raises(redis.exceptions.ExecAbortError, match="^Transaction discarded because of previous errors.$"):
        c.execute_command("EXEC")
    assert c.get("k") is None


def test_runtime_error_does_not_roll_back(server):
    c = server.client()
    c.flushall()
    c.set("s", "abc")
    c.execute_command("MULTI")
    c.execute_command("SET", "a", "1")
    c.execute_command("INCR", "s")
    c.execute_command("SET", "b", "2")
    res = c.execute_command("EXEC")
    assert res[0] == b"OK"
    assert isinstance(res[1], redis.ResponseError)
    assert "not an integer" in str(res[1])
    assert res[2] == b"OK"
    assert c.get("a") == b"1" and c.get("b") == b"2"


def test_discard(server):
    c = server.client()
    c.flushall()
    c.execute_command("MULTI")
    c.execute_command("SET", "k", "v")
    assert c.execute_command("DISCARD") == b"OK"
    assert c.get("k") is None
    assert c.execute_command("PING") is True


def test_watch_race(server):
    a, b = server.client(), server.client()
    a.flushall()
    a.set("counter", "1")
    a.execute_command("WATCH", "counter")
    b.set("counter", "5")  # another client changes the watched key
    a.execute_command("MULTI")
    a.execute_command("SET", "counter", "2")
    assert a.execute_command("EXEC") is None
    assert a.get("counter") == b"5"
    # without interference it succeeds
    a.execute_command("WATCH", "counter")
    a.execute_command("MULTI")
    a.execute_command("INCR", "counter")
    assert a.execute_command("EXEC") == [6]


@pytest.mark.parametrize("change", [
    lambda c: c.delete("w"),
    lambda c: c.expire("w", 100),
    lambda c: c.execute_command("FLUSHDB"),
    lambda c: c.execute_command("FLUSHALL"),
    lambda c: c.append("w", "x"),
])
def test_watch_invalidated_by(server, change):
    a, b = server.client(), server.client()
    a.flushall()
    a.set("w", "1")
    a.execute_command("WATCH", "w")
    change(b)
    a.execute_command("MULTI")
    a.execute_command("SET", "w", "2")
    assert a.execute_command("EXEC") is None


@pytest.mark.parametrize("change", ["FLUSHDB", "FLUSHALL", "SWAPDB"])
def test_watch_of_a_missing_key_survives_flush_and_swap(server, change):
    """As in Redis: emptying or swapping a db touches only watched keys that
    exist there (SWAPDB: on either side)."""
    a, b = server.client(), server.client()
    a.flushall()
    a.set("other", "1")
    b.execute_command("SELECT", 1)
    b.set("other1", "1")
    a.execute_command("WATCH", "w")
    b.execute_command(*(["SWAPDB", 0, 1] if change == "SWAPDB" else [change]))
    a.execute_command("MULTI")
    a.execute_command("PING")
    assert a.execute_command("EXEC") == [b"PONG"]
    # A watched key that exists in the other db is touched by the swap.
    b.set("w", "there")
    a.execute_command("WATCH", "w")
    a.execute_command("SWAPDB", 0, 1)
    a.execute_command("MULTI")
    a.execute_command("PING")
    assert a.execute_command("EXEC") is None
    a.flushall()


def test_watch_expired_key(server):
    a = server.client()
    a.flushall()
    a.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        a.set("w", "1", px=50)
        a.execute_command("WATCH", "w")
        time.sleep(0.15)
        a.execute_command("MULTI")
        a.execute_command("SET", "x", "2")
        assert a.execute_command("EXEC") is None
    finally:
        a.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_unwatch(server):
    a, b = server.client(), server.client()
    a.flushall()
    a.execute_command("WATCH", "w")
    assert a.execute_command("UNWATCH") is True
    b.set("w", "x")
    a.execute_command("MULTI")
    a.execute_command("SET", "w", "mine")
    assert a.execute_command("EXEC") == [b"OK"]


def test_watch_missing_key_then_created(server):
    a, b = server.client(), server.client()
    a.flushall()
    a.execute_command("WATCH", "nokey")
    b.set("nokey", "1")
    a.execute_command("MULTI")
    a.execute_command("GET", "nokey")
    assert a.execute_command("EXEC") is None


def test_transaction_is_atomic(server):
    """Two clients increment with WATCH-retry loops; no update is lost."""
    server.client().flushall()
    server.client().set("n", 0)

    def worker():
        c = server.client()
        for _ in range(50):
            with c.pipeline() as p:
                while True:
                    try:
                        p.watch("n")
                        v = int(p.get("n"))
                        p.multi()
                        p.set("n", v + 1)
                        p.execute()
                        break
                    except redis.WatchError:
                        continue

    ts = [threading.Thread(target=worker) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert int(server.client().get("n")) == 100


def test_client_list_shows_multi(server):
    c = server.client()
    c.execute_command("MULTI")
    c.execute_command("PING")
    assert c.execute_command("CLIENT", "INFO") == b"QUEUED"
    c.execute_command("DISCARD")
    info = c.execute_command("CLIENT", "INFO").decode()
    assert " multi=-1 " in info


def test_busy_refusal_while_queueing_aborts_exec(server, r):
    """A command refused with BUSY (a script runs past busy-reply-threshold)
    while a client queues a MULTI flags the transaction: EXEC answers
    EXECABORT and nothing runs, as in Redis 7.0."""
    from resp_client import RespConn
    r.config_set("busy-reply-threshold", 100)
    busy = RespConn(server)
    tx = RespConn(server)
    try:
        assert tx.call("MULTI") == "OK"
        busy.send("EVAL", "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] "
                  "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - s > 600000 return 1", "0")
        time.sleep(0.3)
        assert str(tx.call("SET", "tx:busy", "1")).startswith("BUSY ")
        assert busy.read(10) == 1
        assert str(tx.call("EXEC")) == "EXECABORT Transaction discarded because of previous errors."
        assert r.get("tx:busy") is None
    finally:
        r.config_set("busy-reply-threshold", 5000)
        busy.close()
        tx.close()
