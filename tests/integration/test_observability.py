"""SLOWLOG, LATENCY and MONITOR as Redis 7.0 answers them (every test
here also passes against Debian's redis-server 7.0.15 with
KEEL_SERVER=/usr/bin/redis-server)."""
import re
import socket
import threading
import time

import pytest
import redis
from conftest import SERVER, err, raw_cmd

IS_REDIS = SERVER.endswith("redis-server")

# A script that keeps the server busy for about `ms` milliseconds.
BUSY = ("local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] "
        "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start >= tonumber(ARGV[1]) * 1000 "
        "return 1")


def slowlog(r, *args):
    return r.execute_command("SLOWLOG", "GET", *args)


@pytest.fixture
def sl(r):
    r.config_set("slowlog-log-slower-than", 0)
    r.config_set("slowlog-max-len", 128)
    r.execute_command("SLOWLOG", "RESET")
    yield r
    r.config_set("slowlog-log-slower-than", 10000)
    r.config_set("slowlog-max-len", 128)


# ---------------------------------------------------------------- SLOWLOG

def test_slowlog_entries_newest_first_with_their_fields(server, sl):
    c = server.client()
    c.client_setname("worker-1")
    c.set("k", "v")
    c.execute_command("GET", "k")
    entries = slowlog(sl)
    # Newest first: GET, then SET, then CLIENT SETNAME.
    assert [e[3][0].lower() for e in entries[:3]] == [b"get", b"set", b"client"]
    get = entries[0]
    assert len(get) == 6
    assert isinstance(get[0], int) and get[0] > entries[1][0]
    assert abs(get[1] - time.time()) < 5
    assert get[2] >= 0
    assert get[3] == [b"GET", b"k"]
    assert re.fullmatch(rb"127\.0\.0\.1:\d+", get[4])
    assert get[5] == b"worker-1"
    n = sl.execute_command("SLOWLOG", "LEN")
    assert len(slowlog(sl, -1)) == n + 1  # the LEN call is logged too


def test_slowlog_threshold_and_reset(server, sl):
    sl.config_set("slowlog-log-slower-than", 15000)
    sl.execute_command("SLOWLOG", "RESET")
    sl.set("fast", "1")
    sl.eval(BUSY, 0, 20)
    entries = slowlog(sl)
    assert len(entries) == 1
    assert entries[0][3][0].lower() == b"eval" and entries[0][2] >= 15000
    sl.config_set("slowlog-log-slower-than", -1)
    sl.eval(BUSY, 0, 20)
    assert sl.execute_command("SLOWLOG", "LEN") == 1
    assert sl.execute_command("SLOWLOG", "RESET") in (b"OK", True)
    assert sl.execute_command("SLOWLOG", "LEN") == 0


def test_slowlog_max_len_trims_and_get_counts(sl):
    for i in range(20):
        sl.set("k%d" % i, i)
    assert sl.execute_command("SLOWLOG", "LEN") == 21  # and the RESET
    assert len(slowlog(sl)) == 10
    assert len(slowlog(sl, 3)) == 3
    assert len(slowlog(sl, 0)) == 0
    n = sl.execute_command("SLOWLOG", "LEN")
    assert len(slowlog(sl, -1)) == n + 1
    sl.config_set("slowlog-max-len", 5)
    # The CONFIG SET itself is logged after it trimmed the log.
    assert sl.execute_command("SLOWLOG", "LEN") == 5
    assert [x.lower() for x in slowlog(sl, 2)[1][3][:2]] == [b"config", b"set"]
    assert len(slowlog(sl, 1000000)) == 5
    assert err(slowlog, sl, -5) == "count should be greater than or equal to -1"
    assert err(slowlog, sl, "x") == "count should be greater than or equal to -1"
    assert err(sl.execute_command, "SLOWLOG", "GET", 1, 2) == \
        "unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."
    assert err(sl.execute_command, "SLOWLOG", "NOPE").startswith("unknown subcommand 'NOPE'")
    help_lines = sl.execute_command("SLOWLOG", "HELP")
    assert help_lines[0].startswith(b"SLOWLOG <subcommand>") and b"LEN" in help_lines


def test_slowlog_trims_arguments_as_redis(sl):
    args = ["a%d" % i for i in range(40)]
    sl.execute_command("RPUSH", "l", *args)
    sl.set("big", "x" * 300)
    big, rpush = slowlog(sl, 2)
    assert big[3][2] == b"x" * 128 + b"... (172 more bytes)"
    assert len(rpush[3]) == 32
    assert rpush[3][:3] == [b"RPUSH", b"l", b"a0"]
    assert rpush[3][30] == b"a28"
    assert rpush[3][31] == b"... (11 more arguments)"


def test_slowlog_redacts_auth_and_logs_inside_exec_and_scripts(server, sl):
    with pytest.raises(redis.ResponseError):
        sl.execute_command("AUTH", "secret-password")
    p = sl.pipeline(transaction=True)
    p.set("t", "1")
    p.execute()
    sl.eval("return redis.call('SET', KEYS[1], 'v')", 1, "from-script")
    cmds = [e[3] for e in slowlog(sl, -1)]
    assert [b"AUTH", b"(redacted)"] in [[x[0].upper()] + x[1:] for x in cmds]
    assert not any(b"secret-password" in a for x in cmds for a in x)
    names = [x[0].lower() for x in cmds]
    assert b"multi" in names and b"exec" not in names  # EXEC itself is skipped
    assert [b"SET", b"t", b"1"] in [[x[0].upper()] + x[1:] for x in cmds]
    inner = [e for e in slowlog(sl, -1) if e[3] == [b"SET", b"from-script", b"v"]]
    assert inner and inner[0][4] == b"?:0" and inner[0][5] == b""


def test_migrate_credentials_are_redacted(server, sl):
    """MIGRATE's AUTH password and AUTH2 user and password show as
    "(redacted)" in SLOWLOG and MONITOR, as in Redis 7.0."""
    from resp_client import RespConn
    mon = RespConn(server)
    try:
        assert mon.call("MONITOR") == "OK"
        for opts in ((), ("AUTH", "pw1"), ("AUTH2", "user2", "pw2")):
            sl.execute_command("MIGRATE", "127.0.0.1", server.port, "no-such-key", 9, 5000, *opts)
        lines = [mon.read() for _ in range(3)]
    finally:
        mon.close()
    assert lines[0].endswith('"no-such-key" "9" "5000"')
    assert lines[1].endswith('"no-such-key" "9" "5000" "AUTH" "(redacted)"')
    assert lines[2].endswith('"no-such-key" "9" "5000" "AUTH2" "(redacted)" "(redacted)"')
    logged = [e[3] for e in slowlog(sl, -1) if e[3][0].upper() == b"MIGRATE"]
    assert [b"AUTH2", b"(redacted)", b"(redacted)"] == logged[0][6:]
    assert [b"AUTH", b"(redacted)"] == logged[1][6:]
    assert not any(b"pw" in a for x in logged for a in x)


def test_slowlog_redacts_acl_setuser_and_password_configs(sl):
    sl.execute_command("ACL", "SETUSER", "slow-user", "+get", ">secret")
    sl.execute_command("CONFIG", "SET", "masterauth", "pw", "maxmemory-samples", "5")
    sl.execute_command("CONFIG", "SET", "requirepass", "")
    entries = [e[3] for e in slowlog(sl, -1)]
    assert [b"ACL", b"SETUSER", b"(redacted)", b"(redacted)", b"(redacted)"] in entries
    assert [b"CONFIG", b"SET", b"masterauth", b"(redacted)", b"maxmemory-samples", b"5"] in entries
    assert [b"CONFIG", b"SET", b"requirepass", b"(redacted)"] in entries
    sl.execute_command("ACL", "DELUSER", "slow-user")
    sl.config_set("masterauth", "")


def test_slowlog_logs_a_blocked_command_when_served(server, sl):
    """A BLPOP is logged once, as sent, when a push serves it (not when it
    blocks), as in Redis."""
    waiter = server.client()
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("v", waiter.blpop("sl:l", 0)))
    t.start()
    deadline = time.time() + 5
    while sl.info("clients")["blocked_clients"] == 0 and time.time() < deadline:
        time.sleep(0.01)
    assert [b"BLPOP", b"sl:l", b"0"] not in [e[3] for e in slowlog(sl, -1)]
    sl.lpush("sl:l", "x")
    t.join(5)
    assert got["v"] == (b"sl:l", b"x")
    entries = [e[3] for e in slowlog(sl, -1)]
    assert entries.count([b"BLPOP", b"sl:l", b"0"]) == 1
    assert entries[0] == [b"BLPOP", b"sl:l", b"0"]  # after the LPUSH that served it
    waiter.close()


# ---------------------------------------------------------------- LATENCY

def test_latency_events_latest_history_reset(r):
    r.config_set("latency-monitor-threshold", 10)
    try:
        r.execute_command("LATENCY", "RESET")
        assert r.execute_command("LATENCY", "LATEST") == []
        r.eval(BUSY, 0, 30)
        latest = r.execute_command("LATENCY", "LATEST")
        assert len(latest) == 1
        name, when, last, worst = latest[0]
        assert name == b"command" and abs(when - time.time()) < 5 and last >= 30 and worst >= last
        hist = r.execute_command("LATENCY", "HISTORY", "command")
        assert len(hist) == 1 and hist[0][1] == last
        assert r.execute_command("LATENCY", "HISTORY", "nope") == []
        graph = r.execute_command("LATENCY", "GRAPH", "command")
        assert b"command - high" in graph
        assert err(r.execute_command, "LATENCY", "GRAPH", "nope") == "No samples available for event 'nope'"
        assert b"latency" in r.execute_command("LATENCY", "DOCTOR").lower()
        assert r.execute_command("LATENCY", "RESET", "other") == 0
        assert r.execute_command("LATENCY", "RESET") == 1
        assert r.execute_command("LATENCY", "LATEST") == []
    finally:
        r.config_set("latency-monitor-threshold", 0)


def test_latency_histogram_and_info_latencystats(server):
    c = server.client()
    c.config_resetstat()
    for _ in range(5):
        c.set("h", "v")
    c.get("h")
    hist = c.execute_command("LATENCY", "HISTOGRAM", "set", "get", "nosuchcommand")
    as_dict = {k: v for k, v in zip(hist[0::2], hist[1::2])} if isinstance(hist, list) else hist
    assert set(as_dict) == {b"set", b"get"}
    s = as_dict[b"set"]
    s = dict(zip(s[0::2], s[1::2])) if isinstance(s, list) else s
    assert s[b"calls"] == 5
    buckets = s[b"histogram_usec"]
    buckets = dict(zip(buckets[0::2], buckets[1::2])) if isinstance(buckets, list) else buckets
    keys = sorted(buckets)
    assert all(k & (k - 1) == 0 for k in keys)  # powers of two
    counts = [buckets[k] for k in keys]
    assert counts == sorted(counts) and counts[-1] == 5  # cumulative
    # A container stands for its subcommands that were called, as in Redis.
    c.client_id()
    c.execute_command("CLIENT", "LIST")
    hist = c.execute_command("LATENCY", "HISTOGRAM", "client")
    names = hist[0::2] if isinstance(hist, list) else list(hist)
    assert sorted(names) == [b"client|id", b"client|list"]
    hist = c.execute_command("LATENCY", "HISTOGRAM", "client|id")
    assert (hist[0::2] if isinstance(hist, list) else list(hist)) == [b"client|id"]
    info = c.info("latencystats")
    assert "latency_percentiles_usec_set" in info
    p = info["latency_percentiles_usec_set"]
    assert set(p) == {"p50", "p99", "p99.9"} and 0 <= p["p50"] <= p["p99"] <= p["p99.9"]
    assert c.config_get("latency-tracking-info-percentiles") == {"latency-tracking-info-percentiles": "50 99 99.9"}
    c.config_set("latency-tracking-info-percentiles", "90")
    try:
        one = c.info("latencystats")["latency_percentiles_usec_set"]
        # redis-py leaves a single "k=v" field as text
        assert (set(one) if isinstance(one, dict) else {one.split("=")[0]}) == {"p90"}
        with pytest.raises(redis.ResponseError):
            c.config_set("latency-tracking-info-percentiles", "101")
    finally:
        c.config_set("latency-tracking-info-percentiles", "50 99 99.9")
    assert "latency_percentiles_usec_set" not in c.info("default")
    c.config_resetstat()
    assert "latency_percentiles_usec_set" not in c.info("latencystats")


# ---------------------------------------------------------------- MONITOR

class Monitor:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(raw_cmd("MONITOR"))
        self.buf = b""
        assert self.line() == b"+OK"

    def line(self, timeout=5):
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def lines_until(self, marker):
        out = []
        while True:
            line = self.line()
            out.append(line)
            if marker in line:
                return out

    def close(self):
        self.sock.close()


LINE = re.compile(rb'^\+(\d+\.\d{6}) \[(\d+) ([^\]]+)\] (.*)$')


def parsed(line):
    m = LINE.match(line)
    assert m, line
    return float(m.group(1)), int(m.group(2)), m.group(3), m.group(4)


def test_monitor_shows_commands_with_db_and_address(server, r):
    m = Monitor(server.port)
    try:
        r.set("a", 'x y\n"q"\\\x01')
        c3 = server.client(db=3)
        c3.get("a")
        r.execute_command("CONFIG", "GET", "maxmemory")  # admin: never shown
        r.set("end", "1")
        lines = m.lines_until(b'"end"')
        shown = [parsed(x) for x in lines]
        body = [s[3].lower() for s in shown]
        assert body[0] == b'"set" "a" "x y\\n\\"q\\"\\\\\\x01"'
        assert b'"get" "a"' in body
        assert all(b"maxmemory" not in b for b in body)
        get = [s for s in shown if s[3].lower() == b'"get" "a"'][0]
        assert get[1] == 3 and re.fullmatch(rb"127\.0\.0\.1:\d+", get[2])
        assert abs(shown[0][0] - time.time()) < 5
    finally:
        m.close()


def test_monitor_and_slowlog_show_arguments_as_sent(server, sl):
    """XADD * and SET ... EX are rewritten for replicas (the ID, PXAT);
    MONITOR and SLOWLOG show what the client sent, as Redis does."""
    m = Monitor(server.port)
    try:
        sl.execute_command("XADD", "mon:s", "*", "f", "v")
        sl.execute_command("SET", "mon:k", "v", "EX", "100")
        sl.set("end", "1")
        body = [parsed(x)[3].lower() for x in m.lines_until(b'"end"')]
        assert body[:2] == [b'"xadd" "mon:s" "*" "f" "v"', b'"set" "mon:k" "v" "ex" "100"']
    finally:
        m.close()
    logged = [e[3] for e in slowlog(sl)]
    assert [b"XADD", b"mon:s", b"*", b"f", b"v"] in logged
    assert [b"SET", b"mon:k", b"v", b"EX", b"100"] in logged


def test_monitor_redacts_auth_and_marks_scripts_and_transactions(server, r):
    m = Monitor(server.port)
    try:
        with pytest.raises(redis.ResponseError):
            r.execute_command("AUTH", "pw")
        with pytest.raises(redis.ResponseError):
            r.execute_command("HELLO", "3", "AUTH", "user", "pw")
        r.eval("return redis.call('SET', 'from-lua', '1')", 0)
        p = r.pipeline(transaction=True)
        p.set("in-tx", "1")
        p.execute()
        r.set("end", "1")
        body = [parsed(x) for x in m.lines_until(b'"end"')]
        texts = [b[3].lower() for b in body]
        assert b'"auth" "(redacted)"' in texts
        assert b'"hello" "3" "auth" "(redacted)" "(redacted)"' in texts
        assert all(b"pw" not in t and b"user" not in t for t in texts)
        ev = texts.index(next(t for t in texts if t.startswith(b'"eval"')))
        assert texts[ev + 1] == b'"set" "from-lua" "1"' and body[ev + 1][2] == b"lua"
        i = texts.index(b'"multi"')
        assert texts[i:i + 3] == [b'"multi"', b'"set" "in-tx" "1"', b'"exec"']
    finally:
        m.close()


def test_monitor_leaves_when_it_disconnects(server, r):
    m = Monitor(server.port)
    m.close()
    time.sleep(0.1)
    r.set("k", "v")
    assert r.get("k") == b"v"


def test_a_monitor_that_never_reads_is_bounded(keel):
    # A monitor is a normal client for the limits, as in Redis.
    s = keel("--client-output-buffer-limit", "normal 1mb 0 0")
    m = socket.create_connection(("127.0.0.1", s.port))
    m.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    m.sendall(raw_cmd("MONITOR"))
    c = s.client()
    val = "v" * 1000
    for i in range(20):
        p = c.pipeline(transaction=False)
        for j in range(500):
            p.set("k%d" % j, val)
        p.execute()
    clients = c.client_list()
    assert len(clients) == 1  # the monitor was disconnected at the limit
    assert c.ping()
    m.close()


def test_latency_records_expire_cycles(keel):
    """Background work is recorded as Redis records it: an active expiry
    cycle that deletes many keys is an "expire-cycle" event. (Eviction runs
    in bounded steps here, so its "eviction-cycle" event rarely reaches
    the 1 ms the threshold allows at the least.)"""
    s = keel("--latency-monitor-threshold", "1", "--hz", "10")
    r = s.client()
    p = r.pipeline(transaction=False)
    for i in range(150000):
        p.set("e:%d" % i, "x" * 20, px=50)
        if i % 5000 == 4999:
            p.execute()
    p.execute()
    deadline = time.time() + 20
    events = {}
    while time.time() < deadline and "expire-cycle" not in events:
        time.sleep(0.2)
        events = {e[0].decode(): e for e in r.execute_command("LATENCY", "LATEST")}
    assert "expire-cycle" in events and events["expire-cycle"][2] >= 1
    hist = r.execute_command("LATENCY", "HISTORY", "expire-cycle")
    assert hist and all(ms >= 1 for _, ms in hist)


def test_latency_records_aof_writes_and_fsyncs(keel):
    """The AOF's write and its fsync under `appendfsync always` are latency
    events as in Redis: a 64 MB value takes well over the 1 ms threshold to
    write and to sync, so "aof-write", "aof-write-alone" (nothing else was
    running) and "aof-fsync-always" appear with their durations."""
    s = keel("--latency-monitor-threshold", "1", "--appendonly", "yes", "--appendfsync", "always",
             "--proto-max-bulk-len", "128mb")
    r = s.client()
    r.set("big", "x" * (64 << 20))
    events = {e[0].decode(): e for e in r.execute_command("LATENCY", "LATEST")}
    for name in ("aof-write", "aof-write-alone", "aof-fsync-always"):
        assert name in events and events[name][2] >= 1, (name, sorted(events))
    assert events["aof-write"][2] == events["aof-write-alone"][2]
