"""The module API, fourth batch: the Redis 7.0 functions Keel added last.

testmod's commands of its "API coverage: the fourth batch" section
(tests/modules/testmod.c) call them. Every test here passes against
Redis 7.0 too (KEEL_SERVER=/usr/bin/redis-server).

Redis 7.0 behaviour the tests rely on (found by running them on it):
- BlockClientOnKeys: the reply callback runs when a key the client waits
  for is signalled: created as a list, sorted set, stream or module value,
  a stream written, or SignalKeyAsReady (of a key that exists). A push to
  a list that exists already, or a key created as a string, wakes no
  module client. The callback gets the ready key and the private data;
  ERR keeps the client waiting. The timeout callback answers a timeout and
  CLIENT UNBLOCK TIMEOUT; CLIENT UNBLOCK ERROR replies "UNBLOCKED client
  unblocked via CLIENT UNBLOCK"; without a timeout callback CLIENT UNBLOCK
  answers 0 and the client waits on. The free callback gets the private
  data once, however the wait ends. In MULTI there is no wait ("Blocking
  module command called from transaction"), and Redis 7.0 keeps the
  handle and its private data for good; Keel frees them.
- EventLoopAdd: a bad mask or no callback is EINVAL, an fd below 0 or
  past the loop's size ERANGE; adding twice is fine, deleting what was
  never added too (errno 0). The callbacks run on the main thread, the
  readable one with mask 1. EventLoopAddOneShot from a thread runs the
  callback on the main thread soon after; without a callback EINVAL.
- Yield: once the command has run busy-reply-threshold, other clients'
  commands are refused with "-BUSY <text>" while it yields with the
  CLIENTS flag (allow-busy commands run); without it they wait and run
  after the command. Its own client's next command waits either way.
- Errors and their counts: an error a command run by Call replies counts
  (errorstats, total_error_replies, the command's failed_calls); one Call
  makes itself (an unknown command, a wrong arity) counts when the module
  passes it on. A blocked client whose thread-safe context replied an
  error is a failed call. ReplyWithError writes its text after a '-' of
  its own: "-ERR x" arrives as the error "-ERR x".
- Call's S flag refuses a write on a read-only replica (READONLY) and,
  while a replica with replica-serve-stale-data no has no link, every
  command not flagged stale (MASTERDOWN); through Call a script that may
  write is refused at its start: "READONLY Can not run script with write
  flag on readonly replica", "OOM allow-oom flag is not set on the
  script, can not run it when used memory > 'maxmemory'" (a client's EVAL
  gets the plain READONLY and OOM errors, before the script starts).
- A client a module's thread holds (BlockClient) can be ended by CLIENT
  UNBLOCK only when it has a timeout callback (TIMEOUT: its reply; ERROR:
  "UNBLOCKED client unblocked via CLIENT UNBLOCK"), else CLIENT UNBLOCK
  answers 0. Such a command is timed, for SLOWLOG and its latency
  percentiles, when the thread is done: with the background time the
  module measured (BlockedClientMeasureTimeStart / End), or, timed out,
  the time measured so far (Keel counts a measure still under way;
  Redis 7.0 only what MeasureTimeEnd closed).
- ResetDataset empties every db (functions stay) and propagates nothing;
  MallocSizeDict grows with the keys; GetClientCertificate is NULL for a
  client without TLS; INFO commandstats writes a ':' of a command name as
  '_'.
"""
import time
import os

import pytest
from conftest import REDIS_BIN, SERVER
from module_util import err_text, poll, x
from resp_client import RespConn
from test_modules import BASE, c, msrv, so  # noqa: F401 - fixtures

ON_REDIS = os.path.realpath(SERVER) == os.path.realpath(REDIS_BIN)


def info_field(conn, section, name):
    for line in x(conn, "INFO", section).decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise AssertionError("no %s in INFO %s" % (name, section))


def blocked(conn):
    return int(info_field(conn, "clients", "blocked_clients"))


def bklog(conn):
    return [e.decode() for e in x(conn, "tm.bk", "log")]


@pytest.fixture
def waiter(msrv):
    conn = RespConn(msrv)
    yield conn
    conn.close()


def busy(c):
    """Whether PING is refused as busy (it may still answer PONG before
    the module's work has gone on for busy-reply-threshold)."""
    reply = x(c, "PING")
    return reply != "PONG" and err_text(reply) == "BUSY tm is busy"


def wait_blocked(c, n=1):
    poll(lambda: blocked(c) == n, "%d blocked client(s)" % n)


# ---------------------------------------------------------------- clients blocked on keys


def test_block_on_keys_served_when_the_list_appears(c, waiter):
    x(c, "tm.bk", "log")
    waiter.send("tm.bk", "pop", "k", "2", "0")
    wait_blocked(c)
    # A string under the key is no list: nobody is woken.
    assert x(c, "SET", "k", "v") == "OK"
    assert x(c, "DEL", "k") == 1
    assert x(c, "RPUSH", "k", "a", "b", "c") == 3
    assert waiter.read() == [b"c", b"b"]
    assert x(c, "LRANGE", "k", "0", "-1") == [b"a"]
    assert blocked(c) == 0
    assert bklog(c) == ["reply key=k privdata=pd:k served", "free privdata=pd:k"]


def test_block_on_keys_a_push_to_an_existing_list_needs_a_signal(c, waiter):
    x(c, "tm.bk", "log")
    assert x(c, "RPUSH", "k", "a") == 1
    waiter.send("tm.bk", "pop", "k", "3", "0")
    wait_blocked(c)
    assert x(c, "RPUSH", "k", "b", "c") == 3
    assert x(c, "PING") == "PONG"
    assert blocked(c) == 1
    # A signal of a missing key serves no one; of this one, it does.
    assert x(c, "tm.bk", "signal", "nokey") == "OK"
    assert x(c, "tm.bk", "signal", "k") == "OK"
    assert waiter.read() == [b"c", b"b", b"a"]
    assert bklog(c) == ["reply key=k privdata=pd:k served", "free privdata=pd:k"]


def test_block_on_keys_callback_err_keeps_waiting(c, waiter):
    x(c, "tm.bk", "log")
    waiter.send("tm.bk", "pop", "k", "2", "0")
    wait_blocked(c)
    assert x(c, "RPUSH", "k", "a") == 1  # created: the callback runs, one is not enough
    assert x(c, "PING") == "PONG"
    assert blocked(c) == 1
    assert x(c, "RPUSH", "k", "b") == 2
    assert x(c, "tm.bk", "signal", "k") == "OK"
    assert waiter.read() == [b"b", b"a"]
    assert bklog(c) == ["reply key=k privdata=pd:k waits", "reply key=k privdata=pd:k served",
                        "free privdata=pd:k"]


def test_block_on_keys_timeout_and_client_unblock(c, waiter):
    x(c, "tm.bk", "log")
    assert err_text(x(waiter, "tm.bk", "pop", "k", "1", "50")) == "ERR tm.bk timed out"
    assert bklog(c) == ["timeout timeout=1", "free privdata=pd:k"]
    wid = x(waiter, "CLIENT", "ID")
    waiter.send("tm.bk", "pop", "k", "1", "0")
    wait_blocked(c)
    assert x(c, "CLIENT", "UNBLOCK", str(wid), "TIMEOUT") == 1
    assert err_text(waiter.read()) == "ERR tm.bk timed out"
    waiter.send("tm.bk", "pop", "k", "1", "0")
    wait_blocked(c)
    assert x(c, "CLIENT", "UNBLOCK", str(wid), "ERROR") == 1
    assert err_text(waiter.read()) == "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    assert bklog(c) == ["timeout timeout=1", "free privdata=pd:k", "free privdata=pd:k"]
    # Without a timeout callback CLIENT UNBLOCK cannot end the wait.
    waiter.send("tm.bk", "pop", "k", "1", "0", "notocb")
    wait_blocked(c)
    assert x(c, "CLIENT", "UNBLOCK", str(wid), "TIMEOUT") == 0
    assert x(c, "CLIENT", "UNBLOCK", str(wid), "ERROR") == 0
    assert x(c, "LPUSH", "k", "z") == 1
    assert waiter.read() == [b"z"]


def test_block_on_keys_in_multi_and_on_disconnect(c, waiter):
    x(c, "tm.bk", "log")
    assert x(c, "MULTI") == "OK"
    assert x(c, "tm.bk", "pop", "k", "1", "0") == "QUEUED"
    assert [err_text(e) for e in x(c, "EXEC")] == ["ERR Blocking module command called from transaction"]
    if not ON_REDIS:
        assert poll(lambda: bklog(c) or None, "the free callback") == ["free privdata=pd:k"]
    x(c, "tm.bk", "log")
    waiter.send("tm.bk", "pop", "k2", "1", "0")
    wait_blocked(c)
    waiter.close()
    poll(lambda: blocked(c) == 0, "the client to go")
    assert bklog(c) == ["free privdata=pd:k2"]
    assert x(c, "LPUSH", "k2", "a") == 1
    assert x(c, "LLEN", "k2") == 1


# ---------------------------------------------------------------- the event loop


def test_eventloop_add_and_del_errors(c):
    assert x(c, "tm.el", "checks") == (
        "badmask=err:EINVAL nofn=err:EINVAL negfd=err:ERANGE hugefd=err:ERANGE delnever=ok:0 "
        "delbadmask=err:EINVAL delnegfd=err:ERANGE add=ok:0 addagain=ok:0 del=ok:0 oneshotnofn=err:EINVAL").encode()


def test_eventloop_watches_a_pipe_and_runs_a_oneshot(c):
    assert x(c, "tm.el", "pipe") == b"read ping mask=1"
    assert x(c, "tm.el", "oneshot") == b"oneshot"
    assert x(c, "PING") == "PONG"


# ---------------------------------------------------------------- Yield


@pytest.fixture
def threshold_50ms(c):
    old = x(c, "CONFIG", "GET", "busy-reply-threshold")[1]
    assert x(c, "CONFIG", "SET", "busy-reply-threshold", "50") == "OK"
    yield
    x(c, "CONFIG", "SET", "busy-reply-threshold", old)


def test_yield_with_clients_answers_busy(c, waiter, threshold_50ms):
    waiter.send("tm.slow", "0", "clients")
    waiter.send("PING")  # its own next command waits for the first
    poll(lambda: busy(c), "the module command to get busy")
    assert err_text(x(c, "GET", "k")) == "BUSY tm is busy"
    assert x(c, "tm.slowstop") == "OK"  # allow-busy
    assert waiter.read() == "done"
    assert waiter.read() == "PONG"
    assert x(c, "PING") == "PONG"


def test_yield_of_a_thread_holding_the_lock_answers_busy(c, waiter, threshold_50ms):
    waiter.send("tm.slowbg", "clients")
    poll(lambda: busy(c), "the module thread to get busy")
    assert x(c, "tm.slowstop") == "OK"  # allow-busy
    assert waiter.read() == "done"
    assert x(c, "PING") == "PONG"


def test_yield_without_clients_holds_commands(c, waiter, msrv, threshold_50ms):
    other = RespConn(msrv)
    try:
        waiter.send("tm.slow", "3000", "none")
        time.sleep(0.5)
        other.send("SET", "k", "after")
        # Held, not refused: no reply while the module command runs.
        with pytest.raises(OSError):
            other.read(timeout=0.5)
        assert waiter.read(timeout=10) == "done"
        assert other.read() == "OK"
        assert x(c, "GET", "k") == b"after"
    finally:
        other.close()


def test_yield_before_the_threshold_serves_nothing(c):
    # busy-reply-threshold is 5 s by default: a 100 ms command never yields.
    assert x(c, "tm.slow", "100", "clients") == "done"


# ---------------------------------------------------------------- errors and their counts


def errorstats(c):
    out = {}
    for line in x(c, "INFO", "errorstats").decode().splitlines():
        if line.startswith("errorstat_"):
            k, v = line[len("errorstat_"):].split(":")
            out[k] = int(v.split("=")[1])
    return out


def cmdstat(c, name):
    for line in x(c, "INFO", "commandstats").decode().splitlines():
        if line.startswith("cmdstat_%s:" % name):
            return dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
    return None


def test_call_errors_count_as_a_client_would_see_them(c):
    assert x(c, "CONFIG", "RESETSTAT") == "OK"
    assert err_text(x(c, "tm.callwith", "E", "nosuchcmd")).startswith("ERR unknown command 'nosuchcmd'")
    assert err_text(x(c, "tm.callwith", "E", "config", "bla")) == "ERR unknown subcommand 'bla'. Try CONFIG HELP."
    assert x(c, "SET", "s", "v") == "OK"
    assert err_text(x(c, "tm.callwith", "E", "hgetall", "s")).startswith("WRONGTYPE")
    assert errorstats(c) == {"ERR": 2, "WRONGTYPE": 1}
    assert info_field(c, "stats", "total_error_replies") == "3"
    assert cmdstat(c, "tm.callwith")["failed_calls"] == "3"
    assert cmdstat(c, "hgetall")["failed_calls"] == "1"
    # A thread-safe context's error makes the blocked command fail.
    assert err_text(x(c, "tm.el", "error")) == "ERR from the loop"
    assert cmdstat(c, "tm.el")["failed_calls"] == "1"
    assert errorstats(c)["ERR"] == 3
    # ReplyWithError puts a '-' of its own before the text.
    assert err_text(x(c, "tm.misc4", "err", "-ERR dashed")) == "-ERR dashed"
    assert err_text(x(c, "tm.misc4", "err", "ERR plain")) == "ERR plain"


def test_call_script_mode_on_a_replica(c, msrv):
    assert x(c, "SET", "k", "1") == "OK"
    try:
        assert x(c, "REPLICAOF", "127.0.0.1", "1") == "OK"
        assert err_text(x(c, "tm.callwith", "SE", "set", "k", "2")) == "READONLY You can't write against a read only replica."
        assert x(c, "tm.callwith", "SE", "get", "k") == b"1"
        script = "#!lua\nreturn redis.call('get', KEYS[1])"
        assert err_text(x(c, "tm.callwith", "E", "eval", script, "1", "k")) == (
            "READONLY Can not run script with write flag on readonly replica")
        assert err_text(x(c, "EVAL", script, "1", "k")) == "READONLY You can't write against a read only replica."
        assert x(c, "tm.callwith", "E", "eval", "#!lua flags=no-writes\nreturn 2", "0") == 2
        assert x(c, "CONFIG", "SET", "replica-serve-stale-data", "no") == "OK"
        assert err_text(x(c, "tm.callwith", "SE", "get", "k")) == (
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
    finally:
        x(c, "CONFIG", "SET", "replica-serve-stale-data", "yes")
        x(c, "REPLICAOF", "NO", "ONE")


def test_call_of_a_script_over_maxmemory(c):
    assert x(c, "SET", "k", "1") == "OK"
    try:
        assert x(c, "CONFIG", "SET", "maxmemory", "1") == "OK"
        script = "#!lua\nreturn redis.call('get', KEYS[1])"
        assert err_text(x(c, "tm.callwith", "E", "eval", script, "1", "k")) == (
            "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
        assert err_text(x(c, "EVAL", script, "1", "k")) == "OOM command not allowed when used memory > 'maxmemory'."
        assert x(c, "tm.callwith", "E", "eval", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
                 "1", "k") == b"1"
    finally:
        x(c, "CONFIG", "SET", "maxmemory", "0")


# ---------------------------------------------------------------- smaller functions


def test_reset_dataset_keeps_functions(c):
    assert x(c, "SELECT", "2") == "OK"
    assert x(c, "SET", "a", "1") == "OK"
    assert x(c, "SELECT", "0") == "OK"
    assert x(c, "SET", "b", "1") == "OK"
    assert x(c, "FUNCTION", "LOAD", "#!lua name=keep\nredis.register_function('f', function() return 1 end)") == b"keep"
    try:
        assert x(c, "tm.misc4", "reset", "0", "0") == "OK"
        assert x(c, "DBSIZE") == 0
        assert x(c, "SELECT", "2") == "OK"
        assert x(c, "DBSIZE") == 0
        assert x(c, "SELECT", "0") == "OK"
        assert x(c, "FCALL", "f", "0") == 1
        assert x(c, "SET", "c", "1") == "OK"
        assert x(c, "tm.misc4", "reset", "0", "1") == "OK"
        assert x(c, "DBSIZE") == 0
    finally:
        x(c, "FUNCTION", "FLUSH")


def test_malloc_size_dict_grows_with_its_keys(c):
    empty = x(c, "tm.misc4", "dictsize", "0")
    hundred = x(c, "tm.misc4", "dictsize", "100")
    thousand = x(c, "tm.misc4", "dictsize", "1000")
    assert 0 < empty < hundred < thousand


def test_client_certificate_without_tls_and_weird_command_names(c):
    assert x(c, "tm.misc4", "cert") is None
    assert x(c, "CONFIG", "RESETSTAT") == "OK"
    assert x(c, "tm.weird:cmd") == "OK"
    assert cmdstat(c, "tm.weird_cmd")["calls"] == "1"


# ---------------------------------------------------------------- clients a thread holds


def test_client_unblock_of_a_thread_blocked_client(c, waiter):
    wid = x(waiter, "CLIENT", "ID")
    waiter.send("tm.block", "3000", "late", "10000")  # a timeout callback
    wait_blocked(c)
    assert x(c, "CLIENT", "UNBLOCK", str(wid)) == 1
    assert err_text(waiter.read()) == "ERR tm.block timed out"
    waiter.send("tm.block", "3000", "late", "10000")
    wait_blocked(c)
    assert x(c, "CLIENT", "UNBLOCK", str(wid), "ERROR") == 1
    assert err_text(waiter.read()) == "UNBLOCKED client unblocked via CLIENT UNBLOCK"


def test_thread_blocked_command_in_slowlog_with_its_background_time(c):
    assert x(c, "CONFIG", "SET", "slowlog-log-slower-than", "150000") == "OK"
    try:
        assert x(c, "SLOWLOG", "RESET") == "OK"
        assert x(c, "tm.block", "10", "quick") == b"quick"
        assert x(c, "SLOWLOG", "LEN") == 0
        assert x(c, "tm.block", "300", "slow") == b"slow"
        entries = x(c, "SLOWLOG", "GET")
        assert len(entries) == 1 and entries[0][3] == [b"tm.block", b"300", b"slow"]
        assert entries[0][2] >= 250000
        # Timed out: the time measured until then (Keel counts a measure
        # under way; Redis 7.0 only what MeasureTimeEnd closed).
        assert x(c, "SLOWLOG", "RESET") == "OK"
        assert err_text(x(c, "tm.block", "3000", "late", "400")) == "ERR tm.block timed out"
        entries = x(c, "SLOWLOG", "GET")
        if not ON_REDIS:
            assert len(entries) == 1 and entries[0][2] >= 300000
    finally:
        x(c, "CONFIG", "SET", "slowlog-log-slower-than", "10000")
