"""bench/loadgen.c, the lean load generator bench/patterns.py drives the
limiter rows with: it sends exactly -n requests (placeholders replaced
within the -r range), parses every RESP2 reply shape (nested and null
arrays, null bulks, replies split across reads) and fails on error replies
unless --allow-errors. `make integration` builds it; run by hand, the file
is skipped until it is built. Passes against redis-server too (less the
CL.THROTTLE case)."""
import os
import re
import socket
import subprocess
import threading
import time

import pytest
from conftest import ROOT, SERVER

if SERVER.endswith("-tsan"):
    BUILD = "tsan"
elif SERVER.endswith("-san"):
    BUILD = "san"
else:
    BUILD = "rel"
LOADGEN = os.path.join(ROOT, "build", BUILD, "bench", "loadgen")

pytestmark = pytest.mark.skipif(not os.access(LOADGEN, os.X_OK), reason="bench/loadgen is not built (make)")

LINE = re.compile(r"^requests=(\d+) seconds=[\d.]+ rps=\d+ user=[\d.]+ sys=[\d.]+ cpu=[\d.]+ "
                  r"p50=([\d.]+) p99=([\d.]+) p999=([\d.]+) max=([\d.]+)$")


def loadgen(server, *args, ok=True):
    """Runs loadgen against the server; returns (exit status, stdout, stderr)."""
    res = subprocess.run([LOADGEN, "-p", str(server.port)] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=60)
    if ok:
        assert res.returncode == 0, res.stderr
    return res.returncode, res.stdout, res.stderr


def completed(out):
    """The request count of loadgen's one output line."""
    lines = out.splitlines()
    assert len(lines) == 1, out
    m = LINE.match(lines[0])
    assert m, out
    return int(m.group(1))


def latencies(out):
    """p50, p99, p99.9 and max of loadgen's output line, in ms."""
    m = LINE.match(out.strip())
    assert m, out
    return [float(m.group(i)) for i in range(2, 6)]


def calls(r, command):
    """How many times the server ran a command since CONFIG RESETSTAT."""
    return r.info("commandstats").get("cmdstat_" + command, {}).get("calls", 0)


@pytest.mark.parametrize("pipeline", [1, 16])
def test_set_random_keys_within_the_range(server, r, pipeline):
    _, out, _ = loadgen(server, "-n", 2000, "-c", 5, "-P", pipeline, "-r", 300, "SET", "k:__rand_int__", "v")
    assert completed(out) == 2000
    keys = r.keys("*")
    # 2000 draws from 300 subjects leave nearly every one of them used.
    assert 250 < len(keys) <= 300
    for k in keys:
        m = re.fullmatch(rb"k:(\d{12})", k)
        assert m and int(m.group(1)) < 300, k
    assert r.get(keys[0]) == b"v"


@pytest.mark.parametrize("pipeline", [1, 7, 16])
def test_exactly_n_requests_reach_the_server(server, r, pipeline):
    # 1000 is not a multiple of 3 connections * 7 or 16: the last batches
    # are partial, and no connection may send one request too many.
    _, out, _ = loadgen(server, "-n", 1000, "-c", 3, "-P", pipeline, "INCR", "ctr")
    assert completed(out) == 1000
    assert r.get("ctr") == b"1000"


def test_every_placeholder_of_a_word_gets_its_own_number(server, r):
    loadgen(server, "-n", 200, "-c", 2, "-r", 1000, "SET", "a:__rand_int__:b:__rand_int__", "x")
    keys = r.keys("*")
    assert all(re.fullmatch(rb"a:\d{12}:b:\d{12}", k) for k in keys), keys
    assert any(k[2:14] != k[17:29] for k in keys)


def test_without_r_the_words_are_sent_as_given(server, r):
    loadgen(server, "-n", 50, "-c", 2, "SET", "k:__rand_int__", "v")
    assert r.keys("*") == [b"k:__rand_int__"]


def test_an_error_reply_fails_the_run_with_its_text(server, r):
    r.set("s", "abc")
    rc, out, err = loadgen(server, "-n", 100, "-c", 2, "-P", 4, "INCR", "s", ok=False)
    assert rc == 1
    assert completed(out) == 100
    assert "100 error replies" in err
    assert "ERR value is not an integer or out of range" in err


def test_allow_errors_completes_with_status_zero(server, r):
    r.set("s", "abc")
    rc, out, err = loadgen(server, "-n", 100, "-c", 2, "--allow-errors", "INCR", "s", ok=False)
    assert rc == 0
    assert completed(out) == 100
    assert "ERR value is not an integer or out of range" in err


@pytest.mark.parametrize("pipeline", [1, 16])
def test_flat_array_and_null_bulk_replies(server, r, pipeline):
    r.rpush("l", "a", "bb", "ccc")
    r.config_resetstat()
    _, out, _ = loadgen(server, "-n", 1000, "-c", 3, "-P", pipeline, "LRANGE", "l", "0", "-1")
    assert completed(out) == 1000
    _, out, _ = loadgen(server, "-n", 1000, "-c", 3, "-P", pipeline, "GET", "missing")
    assert completed(out) == 1000
    _, out, _ = loadgen(server, "-n", 500, "-c", 3, "-P", pipeline, "LRANGE", "missing", "0", "-1")
    assert completed(out) == 500
    assert (calls(r, "lrange"), calls(r, "get")) == (1500, 1000)


@pytest.mark.parametrize("pipeline", [1, 16])
def test_nested_and_null_array_replies(server, r, pipeline):
    # XRANGE: an array of [id, [field, value, ...]] entries, three deep.
    r.xadd("st", {"f": "v", "g": "w"})
    r.xadd("st", {"f": "v"})
    r.config_resetstat()
    _, out, _ = loadgen(server, "-n", 1000, "-c", 3, "-P", pipeline, "XRANGE", "st", "-", "+")
    assert completed(out) == 1000
    # XREAD with nothing to read replies with a null array (*-1).
    _, out, _ = loadgen(server, "-n", 500, "-c", 3, "-P", pipeline, "XREAD", "COUNT", "1", "STREAMS", "none", "0")
    assert completed(out) == 500
    assert (calls(r, "xrange"), calls(r, "xread")) == (1000, 500)


@pytest.mark.skipif(SERVER.endswith("redis-server"), reason="Keel-only: redis-server has no CL.THROTTLE")
def test_throttle_replies(server, r):
    _, out, _ = loadgen(server, "-n", 2000, "-c", 5, "-P", 16, "-r", 50, "CL.THROTTLE", "rl:__rand_int__", 10, 10, 60)
    assert completed(out) == 2000
    keys = r.keys("rl:*")
    assert 40 < len(keys) <= 50
    # 2000 calls over 50 subjects with a burst of 11: some were limited.
    assert r.execute_command("CL.THROTTLE", keys[0], 10, 10, 60)[0] == 1


def test_replies_larger_than_one_read(server, r):
    # 200 KB values, 16 in flight per connection: every reply spans many
    # reads and the receive buffer has to grow.
    r.set("big", b"z" * 200000)
    r.config_resetstat()
    _, out, _ = loadgen(server, "-n", 300, "-c", 2, "-P", 16, "GET", "big")
    assert completed(out) == 300
    assert calls(r, "get") == 300


def test_requests_larger_than_the_socket_buffer(server, r):
    # 64 pipelined 100 KB requests cannot go in one send: the rest waits for
    # the write event, and the byte stream must stay whole.
    _, out, _ = loadgen(server, "-n", 300, "-c", 2, "-P", 64, "-r", 20, "SET", "big:__rand_int__", "y" * 100000)
    assert completed(out) == 300
    keys = r.keys("big:*")
    assert 0 < len(keys) <= 20
    assert all(r.strlen(k) == 100000 for k in keys)


class FakeServer:
    """A one-connection server answering each PING with canned bytes, sent
    whole or one byte per send (so replies arrive split anywhere), each
    after `delay` seconds; it closes the connection after `close_after`
    requests."""

    REQUEST = b"*1\r\n$4\r\nPING\r\n"

    def __init__(self, reply, split=False, close_after=None, delay=0):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.reply, self.split, self.close_after, self.delay = reply, split, close_after, delay
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf, answered = b"", 0
        try:
            while answered != self.close_after:
                data = conn.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= len(self.REQUEST) and answered != self.close_after:
                    assert buf.startswith(self.REQUEST), buf
                    buf = buf[len(self.REQUEST):]
                    chunks = [self.reply[i:i + 1] for i in range(len(self.reply))] if self.split else [self.reply]
                    time.sleep(self.delay)
                    for c in chunks:
                        conn.sendall(c)
                    answered += 1
            # FIN first, then read to the end: closing with a request
            # unread would send a reset instead.
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        except OSError:
            pass
        conn.close()
        self.listener.close()

    def run(self, *args):
        res = subprocess.run([LOADGEN, "-p", str(self.port), "-c", "1"] + [str(a) for a in args] + ["PING"],
                             capture_output=True, text=True, timeout=30)
        self.thread.join(timeout=10)
        return res


def test_every_reply_shape_split_across_reads():
    # One reply holding each RESP2 shape: status, negative integer, empty
    # bulk, nested arrays with an empty one and a null bulk, a null array;
    # an error nested in an array is an element, not an error reply.
    reply = b"*6\r\n+OK\r\n:-42\r\n$0\r\n\r\n*2\r\n*0\r\n$-1\r\n-ERR inner\r\n*-1\r\n"
    res = FakeServer(reply, split=True).run("-n", 20, "-P", 4)
    assert res.returncode == 0, res.stderr
    assert completed(res.stdout) == 20


def test_latencies_count_from_each_requests_own_send():
    # One connection, replies 30 ms apart, served in order. At pipeline 1
    # every request waits one delay; at pipeline 4 the first batch's
    # replies come 30, 60, 90, 120 ms after it went out, and each later
    # request queues behind three others: 120 ms. Only lower bounds are
    # checked, so a slow machine cannot fail this.
    res = FakeServer(b"+PONG\r\n", delay=0.03).run("-n", 6)
    assert res.returncode == 0, res.stderr
    p50, p99, p999, mx = latencies(res.stdout)
    assert 30 <= p50 <= p99 <= p999 <= mx
    res = FakeServer(b"+PONG\r\n", delay=0.03).run("-n", 12, "-P", 4)
    assert res.returncode == 0, res.stderr
    p50, p99, p999, mx = latencies(res.stdout)
    # Sorted: 30, 60, 90, then nine of 120; the median is one of the 120s.
    assert 120 <= p50 <= p99 <= p999 <= mx


def test_a_reply_that_is_not_resp2_is_a_protocol_error():
    res = FakeServer(b"%1\r\n+a\r\n+b\r\n").run("-n", 10)
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr.startswith("loadgen: protocol error in a reply starting: %1")


def test_a_bulk_without_its_crlf_is_a_protocol_error():
    res = FakeServer(b"$3\r\nabcd\r\n").run("-n", 10)
    assert res.returncode == 1
    assert "protocol error" in res.stderr


def test_more_replies_than_requests_are_refused():
    res = FakeServer(b"+OK\r\n+OK\r\n").run("-n", 10)
    assert res.returncode == 1
    assert "more replies than requests" in res.stderr


def test_a_closed_connection_ends_the_run_with_a_message():
    res = FakeServer(b"+PONG\r\n", close_after=3).run("-n", 10)
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr.strip() == "loadgen: the server closed a connection after 3 replies"


def test_connection_refused_is_a_clean_error(server):
    res = subprocess.run([LOADGEN, "-p", "1", "-n", "10", "PING"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr.startswith("loadgen: cannot connect to 127.0.0.1:1")


@pytest.mark.parametrize("args", [["-n", "0", "PING"], ["-c", "x", "PING"], ["-r", "0", "PING"], []])
def test_bad_arguments_are_refused(server, args):
    res = subprocess.run([LOADGEN, "-p", str(server.port)] + args, capture_output=True, text=True, timeout=30)
    assert res.returncode in (1, 2)
    assert res.stdout == ""
    assert res.stderr.startswith(("loadgen:", "usage: loadgen"))
