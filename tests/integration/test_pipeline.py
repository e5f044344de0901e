"""Pipelining: many commands in one write, split by the server's reads at
arbitrary points, must all be parsed and answered in order."""
import time

from conftest import raw_cmd, resp_exchange


def test_large_pipeline_split_across_reads(server):
    server.client().flushall()
    n = 20000
    payload = b"".join(
        b"*3\r\n$3\r\nSET\r\n$10\r\nk:%08d\r\n$16\r\n%s\r\n" % (i, b"v" * 16) for i in range(n))
    s = server.raw()
    s.sendall(payload)
    s.settimeout(10)
    got = b""
    while got.count(b"\r\n") < n:
        chunk = s.recv(1 << 20)
        assert chunk, "connection closed"
        got += chunk
    assert got == b"+OK\r\n" * n
    assert server.client().dbsize() == n
    assert server.client().get("k:00012345") == b"v" * 16


def test_command_split_byte_by_byte(server):
    s = server.raw()
    cmd = b"*3\r\n$3\r\nSET\r\n$5\r\nsplit\r\n$5\r\nvalue\r\n"
    for i in range(len(cmd)):
        s.sendall(cmd[i:i + 1])
    assert resp_exchange(s, b"") == b"+OK\r\n"
    assert server.client().get("split") == b"value"


def replies(s, n):
    """Reads n one-line replies (status, error, integer or null bulk) or
    bulk strings from a raw socket."""
    s.settimeout(10)
    got = b""
    while True:
        out, pos = [], 0
        while len(out) < n:
            end = got.find(b"\r\n", pos)
            if end < 0:
                break
            line = got[pos:end]
            if line[:1] == b"$" and int(line[1:]) >= 0:
                size = int(line[1:])
                if len(got) < end + 2 + size + 2:
                    break
                out.append(got[end + 2:end + 2 + size])
                pos = end + 2 + size + 2
            else:
                out.append(line)
                pos = end + 2
        if len(out) == n:
            return out
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        got += chunk


# A script that spins for ARGV[1] microseconds by the server's clock: a
# slow command that works on Redis too (DEBUG is off there by default).
SPIN = (b"local s = redis.call('TIME') local t0 = s[1] * 1000000 + s[2] "
        b"repeat local t = redis.call('TIME') until t[1] * 1000000 + t[2] - t0 >= tonumber(ARGV[1]) return 1")


def slow_log_from_50ms(server):
    """A client, with the slow log and command stats emptied and logging
    calls of 50 ms or more."""
    r = server.client()
    r.config_set("slowlog-log-slower-than", 50000)
    r.config_resetstat()
    r.slowlog_reset()
    return r


def test_time_moves_on_within_one_pipeline(server):
    # A command that follows a slow one in the same read sees the clock
    # after it: the key set to expire in 100 ms is gone 200 ms later.
    s = server.raw()
    s.sendall(raw_cmd(b"SET", b"pk", b"v", b"PX", b"100") + raw_cmd(b"EVAL", SPIN, b"0", b"200000") +
              raw_cmd(b"GET", b"pk"))
    assert replies(s, 3) == [b"+OK", b":1", b"$-1"]


def test_time_is_read_anew_after_an_idle_wait(server):
    # Two reads apart, with the client idle between them: the second
    # command's clock is read anew, not carried over from the first, so
    # it is not charged for the wait (the slow log stays empty).
    r = slow_log_from_50ms(server)
    s = server.raw()
    s.sendall(raw_cmd(b"PING"))
    assert replies(s, 1) == [b"+PONG"]
    time.sleep(0.2)
    s.sendall(raw_cmd(b"PING"))
    assert replies(s, 1) == [b"+PONG"]
    assert r.slowlog_get() == []
    assert r.info("commandstats")["cmdstat_ping"]["usec"] < 50000


def test_a_pipelined_command_is_timed_from_its_own_start(server):
    # The slow log counts each call's own time: a PING pipelined behind a
    # 100 ms script is not charged for it.
    r = slow_log_from_50ms(server)
    s = server.raw()
    s.sendall(raw_cmd(b"EVAL", SPIN, b"0", b"100000") + raw_cmd(b"PING"))
    assert replies(s, 2) == [b":1", b"+PONG"]
    logged = [e["command"].split()[0] for e in r.slowlog_get()]
    assert logged == [b"EVAL"], logged
    assert r.info("commandstats")["cmdstat_ping"]["usec"] < 50000
