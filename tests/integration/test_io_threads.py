"""I/O threads (io-threads, io-threads-do-reads) and the socket backend
(io-backend): configuration as Redis 7.0 has it, and every reply still
right and in order when helper threads read and write the sockets, when one
io_uring submission does a batch's receives or sends, and with plain read
and write calls. `make integration-iothreads` and `make integration-epoll`
also run the whole suite in those modes; the default (auto) is io_uring
where the kernel allows it.

The threaded tests start Keel with io-threads-min-clients 1 (a Keel knob:
Redis engages threads only with at least two pending clients per thread) so
that even a handful of clients goes through the threads; they check
INFO's io_threaded_*_processed (or io_uring_*_processed) counters to show
it did.
"""
import os
import socket
import subprocess
import threading

import pytest
import redis

from conftest import SERVER, SERVER_ARGS, Server, raw_cmd

IS_REDIS = os.path.basename(SERVER).startswith("redis")
keel_only = pytest.mark.skipif(IS_REDIS, reason="Keel-only knob io-threads-min-clients")

THREADED = ("--io-threads", "4", "--io-threads-do-reads", "yes", "--io-threads-min-clients", "1")
MODES = {
    "threads": THREADED,
    "uring": ("--io-backend", "uring"),
    "epoll": ("--io-backend", "epoll"),
}


def uring_allowed():
    """Whether this kernel lets Keel use io_uring (auto then picks it)."""
    if IS_REDIS:
        return False
    s = Server()
    try:
        return s.client().info("server")["multiplexing_api"] == "epoll+io_uring"
    finally:
        s.stop()


@pytest.mark.skipif(bool(SERVER_ARGS), reason="the suite runs with options of its own")
def test_config_defaults_and_immutable(server):
    c = server.client(decode_responses=True)
    assert c.config_get("io-threads") == {"io-threads": "1"}
    assert c.config_get("io-threads-do-reads") == {"io-threads-do-reads": "no"}
    if not IS_REDIS:
        assert c.config_get("io-backend") == {"io-backend": "auto"}
    for name, value in (("io-threads", "2"), ("io-threads-do-reads", "yes")):
        with pytest.raises(redis.ResponseError) as e:
            c.config_set(name, value)
        assert str(e.value) == ("CONFIG SET failed (possibly related to argument '%s') - can't set immutable config" %
                                name)
    info = c.info()
    assert info["io_threads_active"] == 0
    assert info["io_threaded_reads_processed"] == 0
    assert info["io_threaded_writes_processed"] == 0
    assert info["total_reads_processed"] > 0
    assert info["total_writes_processed"] > 0


@keel_only
def test_io_backend_changes_at_run_time(server):
    """CONFIG SET io-backend closes or opens the ring between two batches;
    traffic from many clients goes on right through the switches."""
    c = server.client(decode_responses=True)
    was = c.config_get("io-backend")["io-backend"]
    try:  # whether this kernel allows io_uring (the suite may run with --io-backend epoll)
        uring = c.config_set("io-backend", "uring")
    except redis.ResponseError:
        uring = False
    with pytest.raises(redis.ResponseError,
                       match="CONFIG SET failed \\(possibly related to argument 'io-backend'\\) - argument\\(s\\) must be one of"):
        c.config_set("io-backend", "kqueue")
    try:
        for backend, api in (("epoll", "epoll"), ("auto", "epoll+io_uring" if uring else "epoll"),
                             ("uring", "epoll+io_uring"), ("epoll", "epoll")):
            if backend == "uring" and not uring:
                with pytest.raises(redis.ResponseError, match="the kernel refuses io_uring"):
                    c.config_set("io-backend", backend)
                continue
            assert c.config_set("io-backend", backend)
            assert c.config_get("io-backend") == {"io-backend": backend}
            assert c.info("server")["multiplexing_api"] == api
            c.flushall()
            assert run_workers(server, 8, 3) == []
    finally:
        c.config_set("io-backend", was)


@pytest.mark.parametrize("value", ["0", "129", "x"])
def test_out_of_range_refuses_to_start(value):
    r = subprocess.run([SERVER, "--port", "0", "--io-threads", value], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    assert r.returncode != 0
    out = r.stdout.decode()
    assert ">>> 'io-threads " in out
    want = "argument couldn't be parsed into an integer" if value == "x" else \
        "argument must be between 1 and 128 inclusive"
    assert want in out


@keel_only
def test_io_backend_refuses_unknown_value():
    r = subprocess.run([SERVER, "--port", "0", "--io-backend", "kqueue"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    assert r.returncode != 0
    out = r.stdout.decode()
    assert ">>> 'io-backend \"kqueue\"'" in out or ">>> 'io-backend kqueue'" in out
    assert "argument(s) must be one of the following: auto, epoll, uring" in out


def test_reads_and_writes_counted(server):
    c = server.client()
    before = c.info("stats")
    for i in range(20):
        c.ping()
    after = c.info("stats")
    assert after["total_reads_processed"] - before["total_reads_processed"] >= 20
    assert after["total_writes_processed"] - before["total_writes_processed"] >= 20


@pytest.fixture(scope="module", params=sorted(MODES))
def threaded(request):
    """A server in each mode: threads engaged, io_uring batches, plain calls."""
    if request.param == "uring" and not uring_allowed():
        pytest.skip("the kernel refuses io_uring")
    s = Server(*MODES[request.param])
    s.mode = request.param
    yield s
    s.stop()


def worker(srv, wid, rounds, errors):
    """Pipelined writes and reads whose answers are all predictable."""
    try:
        c = srv.client()
        for r in range(rounds):
            p = c.pipeline(transaction=False)
            for i in range(50):
                p.set("w%d:%d" % (wid, i), "v%d-%d-%d" % (wid, r, i))
                p.incr("ctr%d" % wid)
                p.get("w%d:%d" % (wid, i))
            got = p.execute()
            for i in range(50):
                assert got[3 * i] is True
                assert got[3 * i + 1] == r * 50 + i + 1
                assert got[3 * i + 2] == b"v%d-%d-%d" % (wid, r, i)
        c.close()
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append("worker %d: %r" % (wid, e))


def run_workers(srv, n, rounds):
    """n workers at once, each `rounds` pipelines; the errors they met."""
    errors = []
    ts = [threading.Thread(target=worker, args=(srv, w, rounds, errors)) for w in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


@keel_only
def test_many_clients_pipelined_through_threads(threaded):
    c = threaded.client()
    c.flushall()
    before = c.info("stats")
    assert run_workers(threaded, 24, 20) == []
    for w in range(24):
        assert c.get("ctr%d" % w) == b"1000"
    if SERVER_ARGS:
        return  # the suite's own options (make integration-*) decide which path serves
    after = c.info("stats")
    counter = {"threads": "io_threaded", "uring": "io_uring"}.get(threaded.mode)
    for what in ("io_threaded", "io_uring"):
        for step in ("reads", "writes"):
            name = "%s_%s_processed" % (what, step)
            if what == counter:
                assert after[name] > before[name]
            else:
                assert after[name] == before[name] == 0
    api = c.info("server")["multiplexing_api"]
    if threaded.mode != "threads":  # (those use whichever auto picked)
        assert api == ("epoll+io_uring" if threaded.mode == "uring" else "epoll")


@keel_only
def test_big_values_and_partial_writes(threaded):
    """Replies bigger than the socket buffer finish through writable events;
    an argument bigger than a read chunk arrives over several reads."""
    c = threaded.client()
    big = os.urandom(3 * 1024 * 1024)
    c.set("big", big)
    readers = []
    for _ in range(4):
        s = threaded.raw()
        s.sendall(raw_cmd("GET", "big") * 3)
        readers.append(s)
    want = (b"$%d\r\n" % len(big) + big + b"\r\n") * 3
    for s in readers:
        got = b""
        while len(got) < len(want):
            chunk = s.recv(1 << 20)
            assert chunk
            got += chunk
        assert got == want
        s.close()
    assert c.strlen("big") == len(big)


@keel_only
def test_query_buffer_limit_still_closes(threaded):
    c = threaded.client()
    c.config_set("client-query-buffer-limit", 1024 * 1024)
    try:
        s = threaded.raw()
        # A bulk length promising 8 MB, then 2 MB of it: over the limit.
        # The server may close while the rest is still on its way: the
        # send then fails with a reset, which is the same answer.
        s.settimeout(5)
        try:
            s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8388608\r\n" + b"x" * (2 * 1024 * 1024))
            assert s.recv(100) == b""
        except (ConnectionResetError, BrokenPipeError):
            pass
        s.close()
        assert c.info("stats")["client_query_buffer_limit_disconnections"] >= 1
    finally:
        c.config_set("client-query-buffer-limit", 1024 * 1024 * 1024)


@keel_only
def test_killed_and_closing_clients(threaded):
    c = threaded.client()
    victims = [threaded.client(single_connection_client=True) for _ in range(6)]
    for v in victims:
        v.client_setname("victim")
        v.ping()
    ids = [v.client_id() for v in victims]
    # The killer's batch and the victims' reads can share one iteration.
    for v in victims:
        v.connection.send_command("PING")
    for i in ids:
        c.client_kill_filter(_id=i)
    for v in victims:
        with pytest.raises((redis.ConnectionError, redis.TimeoutError)):
            v.connection.read_response()
            v.connection.send_command("PING")
            v.connection.read_response()
    names = [x["name"] for x in c.client_list()]
    assert "victim" not in names
    s = threaded.raw()
    s.sendall(b"PING\r\nQUIT\r\nPING\r\n")
    got = b""
    s.settimeout(5)
    while True:
        chunk = s.recv(100)
        if not chunk:
            break
        got += chunk
    assert got == b"+PONG\r\n+OK\r\n"
    s.close()


@keel_only
def test_pubsub_and_blocking_through_threads(threaded):
    c = threaded.client()
    subs = []
    for i in range(5):
        p = threaded.client().pubsub()
        p.subscribe("news")
        assert p.get_message(timeout=5)["type"] == "subscribe"
        subs.append(p)
    b = threaded.client(single_connection_client=True)
    b.connection.send_command("BLPOP", "q", "5")
    assert c.publish("news", "hello") == 5
    for p in subs:
        m = p.get_message(timeout=5)
        assert m["data"] == b"hello"
        p.close()
    c.rpush("q", "x")
    assert b.connection.read_response() == [b"q", b"x"]


@keel_only
def test_busy_script_answers_others_busy(threaded):
    """A busy script keeps the loop answering BUSY; reads made meanwhile are
    not left waiting for a before_sleep that the script holds up."""
    c = threaded.client()
    c.config_set("busy-reply-threshold", 50)
    s = threaded.raw()
    s.sendall(raw_cmd("EVAL", "local t = redis.call('TIME') while true do end", "0"))
    other = threaded.client(socket_timeout=5)
    for _ in range(50):
        try:
            other.ping()
        except redis.ResponseError as e:
            assert str(e).startswith("BUSY Redis is busy running a script.")
            break
    else:
        pytest.fail("no BUSY reply")
    other.script_kill()
    s.settimeout(5)
    assert s.recv(200).startswith(b"-ERR Script killed by user with SCRIPT KILL...")
    s.close()
    assert other.ping() is True


@keel_only
def test_socket_closed_midway(threaded):
    """Peers that vanish mid-request leave the server serving the rest."""
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", threaded.port))
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$100\r\nxx")
        s.close()
    assert threaded.client().ping() is True
