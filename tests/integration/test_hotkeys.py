"""HOTKEYS (Redis 8.6): START's arguments and errors, the fields GET shows
for each metric, COUNT, DURATION ending a session by itself, SAMPLE, STOP
keeping the results and RESET dropping them, the heaviest keys of a skewed
load found by time and by bytes, commands inside MULTI/EXEC and scripts
charged to their keys, the RESP3 shape (a map inside a one-element array,
flat key/value lists), and the command's ACL categories. Keel only: Debian's
Redis 7.0 has no HOTKEYS."""
import random
import time

import pytest
import redis

from conftest import err, raw_cmd, resp_exchange, unparsed


def no_session(cl):
    """Stops and drops whatever session a test left."""
    try:
        cl.execute_command("HOTKEYS", "STOP")
    except redis.ResponseError:
        pass
    cl.execute_command("HOTKEYS", "RESET")


@pytest.fixture
def c(server):
    cl = server.client(decode_responses=True)
    no_session(cl)
    cl.flushall()
    yield cl
    no_session(cl)
    cl.close()


def hk(c, *args):
    return c.execute_command("HOTKEYS", *args)


def report(c):
    """GET's map (the one element of its array), as a dict."""
    reply = hk(c, "GET")
    assert isinstance(reply, list) and len(reply) == 1
    flat = reply[0]
    return dict(zip(flat[::2], flat[1::2]))


def pairs(flat):
    return list(zip(flat[::2], [int(v) for v in flat[1::2]]))


def test_start_errors(c):
    cases = [(("START",), "METRICS parameter is required"),
             (("START", "COUNT", "5"), "METRICS parameter is required"),
             (("START", "METRICS", "0"), "METRICS count must be 1 or 2"),
             (("START", "METRICS", "-1"), "METRICS count must be 1 or 2"),
             (("START", "METRICS", "3", "CPU", "NET"), "METRICS count must be 1 or 2"),
             (("START", "METRICS", "2", "CPU"), "METRICS count does not match number of metric types provided"),
             (("START", "METRICS", "1", "CPU", "NET"), "syntax error"),
             (("START", "METRICS", "1", "GPU"), "METRICS no valid metrics given (CPU, NET)"),
             (("START", "METRICS", "2", "GPU", "NYET"), "METRICS no valid metrics given (CPU, NET)"),
             (("START", "METRICS", "2", "CPU", "CPU"), "METRICS CPU given more than once"),
             (("START", "METRICS", "2", "NET", "NET"), "METRICS NET given more than once"),
             (("START", "METRICS", "1", "CPU", "COUNT", "0"), "COUNT must be between 1 and 64"),
             (("START", "METRICS", "1", "CPU", "COUNT", "65"), "COUNT must be between 1 and 64"),
             (("START", "METRICS", "1", "CPU", "SAMPLE", "0"), "SAMPLE ratio must be positive"),
             (("START", "METRICS", "1", "CPU", "DURATION", "0"), "DURATION must be positive"),
             (("START", "METRICS", "1", "CPU", "SLOTS", "2", "0", "5"),
              "SLOTS parameter cannot be used in non-cluster mode"),
             (("STOP",), "no hotkey tracking session in progress")]
    for args, want in cases:
        assert err(hk, c, *args) == want, args
    assert hk(c, "GET") is None  # none of them started anything
    # An unknown metric next to a known one is accepted (a later version's).
    assert hk(c, "START", "METRICS", "2", "GPU", "CPU") == "OK"
    assert err(hk, c, "START", "METRICS", "1", "NET") == "hotkey tracking session already in progress"
    assert err(hk, c, "RESET") == "hotkey tracking session in progress, stop tracking first"
    assert hk(c, "STOP") == "OK"
    assert hk(c, "RESET") == "OK"


@pytest.mark.parametrize("metrics,has,lacks", [
    (("1", "CPU"), ("total-cpu-time-user-ms", "total-cpu-time-sys-ms", "by-cpu-time-us"),
     ("total-net-bytes", "by-net-bytes")),
    (("1", "NET"), ("total-net-bytes", "by-net-bytes"),
     ("total-cpu-time-user-ms", "total-cpu-time-sys-ms", "by-cpu-time-us")),
    (("2", "CPU", "NET"), ("total-cpu-time-user-ms", "total-cpu-time-sys-ms", "by-cpu-time-us", "total-net-bytes",
                           "by-net-bytes"), ())])
def test_fields_follow_the_metrics(c, metrics, has, lacks):
    assert hk(c, "GET") is None
    assert hk(c, "START", "METRICS", *metrics) == "OK"
    c.set("key1", "value1")
    assert hk(c, "STOP") == "OK"
    r = report(c)
    assert [k for k in r][:7] == ["tracking-active", "sample-ratio", "selected-slots", "all-commands-all-slots-us",
                                  "net-bytes-all-commands-all-slots", "collection-start-time-unix-ms",
                                  "collection-duration-ms"]
    assert r["tracking-active"] == 0 and r["sample-ratio"] == 1 and r["selected-slots"] == [[0, 16383]]
    assert abs(r["collection-start-time-unix-ms"] - time.time() * 1000) < 60000
    assert r["all-commands-all-slots-us"] >= 0 and r["net-bytes-all-commands-all-slots"] > 30
    for f in has:
        assert f in r, f
    for f in lacks:
        assert f not in r, f
    for f in ("by-cpu-time-us", "by-net-bytes"):
        if f in r:
            assert [k for k, _ in pairs(r[f])] == ["key1"]
    if "by-net-bytes" in r:
        # SET key1 value1 as RESP (35 bytes) and +OK (5).
        assert pairs(r["by-net-bytes"]) == [("key1", 40)]
    # STOP kept the results; RESET drops them.
    assert report(c) == r
    assert hk(c, "RESET") == "OK" and hk(c, "GET") is None


def test_count_sample_and_duration(c):
    assert hk(c, "START", "METRICS", "2", "CPU", "NET", "COUNT", "5", "SAMPLE", "3") == "OK"
    for i in range(30):
        c.set("key_%d" % i, "value")
    assert hk(c, "STOP") == "OK"
    r = report(c)
    assert r["sample-ratio"] == 3
    assert 0 < len(r["by-net-bytes"]) // 2 <= 5 and len(r["by-cpu-time-us"]) // 2 <= 5
    assert hk(c, "RESET") == "OK"
    # COUNT defaults to 10.
    assert hk(c, "START", "METRICS", "1", "NET") == "OK"
    for i in range(30):
        c.set("key_%d" % i, "value")
    assert hk(c, "STOP") == "OK"
    assert len(report(c)["by-net-bytes"]) == 20
    assert hk(c, "RESET") == "OK"
    # DURATION: the session ends by itself, with nothing else running.
    assert hk(c, "START", "METRICS", "1", "CPU", "DURATION", "1") == "OK"
    time.sleep(1.5)
    r = report(c)
    assert r["tracking-active"] == 0 and 1000 <= r["collection-duration-ms"] < 1400
    assert err(hk, c, "STOP") == "no hotkey tracking session in progress"


def test_skewed_load_finds_the_hot_keys(c):
    rng = random.Random(7)
    keys = ["key_%03d" % i for i in range(100)]
    hot = set(keys[:20])
    assert hk(c, "START", "METRICS", "2", "CPU", "NET") == "OK"
    p = c.pipeline(transaction=False)
    for _ in range(20000):
        k = keys[rng.randrange(20)] if rng.random() < 0.8 else keys[20 + rng.randrange(80)]
        p.set(k, "v")
    p.execute()
    assert hk(c, "STOP") == "OK"
    r = report(c)
    for f in ("by-net-bytes", "by-cpu-time-us"):
        top = pairs(r[f])
        assert len(top) == 10, f
        assert sum(k in hot for k, _ in top) >= 8, (f, top)
        assert [v for _, v in top] == sorted((v for _, v in top), reverse=True), f
    # Every hot key was written about 800 times: 40 bytes each.
    assert all(20000 <= v <= 44000 for _, v in pairs(r["by-net-bytes"]))


def test_multi_exec_and_scripts_charge_their_keys(c):
    assert hk(c, "START", "METRICS", "2", "CPU", "NET") == "OK"
    t = c.pipeline(transaction=True)
    for _ in range(7):
        t.set("k1", "value1")
        t.set("k2", "value1")
        t.set("k1", "value2")
    t.execute()
    c.eval("redis.call('set', KEYS[1], 'a'); redis.call('set', KEYS[1], 'b')", 1, "e1")
    c.eval("redis.call('set', 'e2', 'a')", 0)
    assert hk(c, "STOP") == "OK"
    r = report(c)
    net = dict(pairs(r["by-net-bytes"]))
    assert net["k1"] == 2 * net["k2"] > 0
    assert {"k1", "k2"} <= set(dict(pairs(r["by-cpu-time-us"])))
    # The script's own key gets its bytes too: more than the undeclared one.
    assert net["e1"] > net["e2"] > 0


def test_resp3_shape(server):
    s = server.raw()
    try:
        assert resp_exchange(s, raw_cmd("HELLO", "3")).startswith(b"%")
        out = resp_exchange(s, raw_cmd("HOTKEYS", "START", "METRICS", "1", "NET") + raw_cmd("SET", "rk", "v") +
                            raw_cmd("HOTKEYS", "STOP") + raw_cmd("HOTKEYS", "GET") + raw_cmd("HOTKEYS", "RESET"))
        assert out.startswith(b"+OK\r\n+OK\r\n+OK\r\n*1\r\n%9\r\n$15\r\ntracking-active\r\n:0\r\n")  # NET: 7 + 2
        assert b"$12\r\nby-net-bytes\r\n*2\r\n$2\r\nrk\r\n:" in out
        assert b"$14\r\nselected-slots\r\n*1\r\n*2\r\n:0\r\n:16383\r\n" in out
        assert out.endswith(b"+OK\r\n")
    finally:
        s.close()


def test_acl_and_command_docs(c):
    cats = c.execute_command("ACL", "CAT", "dangerous")
    assert "hotkeys|start" in cats and "hotkeys|get" in cats
    c.execute_command("ACL", "SETUSER", "app", "on", "nopass", "+@all", "-@dangerous", "~*")
    try:
        app = redis.Redis(port=c.connection_pool.connection_kwargs["port"], username="app", password="x",
                          decode_responses=True)
        assert err(app.execute_command, "HOTKEYS", "GET") == "this user has no permissions to run the 'hotkeys|get' command"
        app.close()
    finally:
        c.execute_command("ACL", "DELUSER", "app")
    raw = unparsed(c, "COMMAND")
    docs = raw.execute_command("COMMAND", "DOCS", "hotkeys")
    assert docs[0] == "hotkeys" and dict(zip(docs[1][::2], docs[1][1::2]))["since"] == "8.6.0"
    info = raw.execute_command("COMMAND", "INFO", "hotkeys")[0]
    assert info[0] == "hotkeys" and info[1] == -2
    assert [sub[0] for sub in info[9]] == ["hotkeys|start", "hotkeys|stop", "hotkeys|get", "hotkeys|reset",
                                           "hotkeys|help"]
