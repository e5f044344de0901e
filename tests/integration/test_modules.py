"""The Redis module API: modules built for Redis 7 load unchanged.

Two modules are loaded:
- testmod (tests/modules/testmod.c, built by module_util.build_testmod()
  against Keel's src/module/module_abi.h): its tm.* commands exercise one
  part of the API each (replies, strings, the key API on native types,
  RedisModule_Call and CallReply, a module data type with RDB, AOF,
  digest and DUMP/RESTORE, blocked clients unblocked from a thread,
  thread-safe contexts, timers, context flags, OnLoad arguments);
- Debian's RediSearch 1.2 (redis-redisearch), a real module that uses
  threads, blocked clients and module data types, in its SAFEMODE and in
  its default concurrent mode.

The expected behaviour is Redis 7.0's: the tests here pass against
Debian's redis-server 7.0 (KEEL_SERVER=/usr/bin/redis-server), and the
differential tests compare Keel with it reply by reply.

Redis 7.0 behaviour the tests rely on (found by running them on it):
- OpenKey in READ mode returns NULL for a missing key; KeyType,
  ValueLength and CloseKey accept NULL, GetExpire does not (it crashes),
  so testmod checks KeyType first;
- HashSet without COUNT_ALL counts only updated and deleted fields, not
  new ones; StringSet drops the key's TTL; ListPop of the last element
  deletes the key; ZsetAdd's out-flags are 0 when the score is unchanged;
- a command run through RedisModule_Call is propagated only with the "!"
  format flag, so tm.call's writes (and those of the thread-safe contexts
  and the timer, which call without "!") reach neither replicas nor the AOF;
- a module blocking command inside MULTI or a script fails with "Blocking
  module command called from transaction" / "... from Lua script" (the
  module's thread still runs and unblocks the handle); run through
  RedisModule_Call it trips an assertion in Redis 7.0, so no test does that;
- a timer callback runs in the db of the client that created the timer;
- COPY of a module key whose type has no copy callback fails with "ERR not
  supported for this module key"; OBJECT ENCODING says "raw";
- OnUnload refusing gives "ERR Error unloading module: operation not
  possible."; a module with a data type cannot be unloaded;
- MODULE LOAD/LOADEX/UNLOAD need enable-module-command (MODULE LIST does not);
- an RDB holding a module type's value does not load without the module.
"""
import os
import re
import shutil
import socket
import time

import pytest
import redis
from conftest import REDIS_BIN, SERVER, Server
from module_util import NO_REDISEARCH, REDISEARCH, build_testmod, loadmodule
from persist_util import TempDirs, assert_refused, removal_fixture, spawn_fixture, start_expect_failure
from repl_util import cluster_fixture, kinds_param, replicate, wait_in_sync
from resp_client import RespConn, RespError
from test_differential_more import Typed, TypedConn, tplain

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
LOAD_ERR = "ERR Error loading the extension. Please check the server logs."
HAVE_REDIS = os.access(REDIS_BIN, os.X_OK)
NO_REDIS = "needs Debian's redis-server 7.0 at %s" % REDIS_BIN
# Options every server here gets (Redis 7.0 refuses DEBUG by default).
BASE = ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes"]

mkdir = TempDirs("keel-modules-")
_remove_tmpdirs = removal_fixture(mkdir)
spawn = spawn_fixture(mkdir, base_args=lambda binary: ["--enable-debug-command", "yes"])
cluster = cluster_fixture(mkdir)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def so():
    return build_testmod()


@pytest.fixture(scope="module")
def msrv(so):
    """The server under test with testmod loaded (arguments a1 a2)."""
    s = Server(*BASE, *loadmodule(so, "a1", "a2"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def mref(so):
    """Debian's Redis 7.0 with testmod loaded the same way."""
    if not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    s = Server(*BASE, *loadmodule(so, "a1", "a2"), binary=REDIS_BIN, env=dict(os.environ, LC_ALL="C"))
    yield s
    s.stop()


@pytest.fixture
def c(msrv):
    """A raw RESP2 connection to the flushed server under test: replies as
    the server sent them (bytes for bulk strings, str for status replies,
    RespError values for errors)."""
    conn = RespConn(msrv)
    assert conn.call("FLUSHALL") == "OK"
    yield conn
    conn.close()


def typed(server, proto=2):
    """A TypedConn (RESP3 types kept apart) speaking RESP `proto`."""
    conn = TypedConn(server)
    if proto == 3:
        hello = conn.call("HELLO", "3")
        assert isinstance(hello, Typed) and hello.kind == "map", hello
    return conn


def x(conn, *args):
    return conn.call(*args)


NUMBER_TEXT = re.compile(rb"^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$|^-?inf$")


def dbl(v):
    """A reply with every number written as text turned into a float, so
    doubles compare by value: Keel writes a double's shortest form (as
    Redis 7.2 does: 3.14), Redis 7.0 writes %.17g (3.1400000000000001) of
    the very same double."""
    if isinstance(v, bytes) and NUMBER_TEXT.match(v):
        return float(v)
    if isinstance(v, list):
        return [dbl(e) for e in v]
    if isinstance(v, tuple):
        return tuple(dbl(e) for e in v)
    if isinstance(v, dict):
        return {k: dbl(e) for k, e in v.items()}
    return v


def err_text(reply):
    assert isinstance(reply, RespError), "expected an error, got %r" % (reply,)
    return str(reply)


def poll(fn, what, timeout=5):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


# ---------------------------------------------------------------- loading, arguments, MODULE LIST


def test_every_api_function_is_provided(c):
    assert x(c, "tm.missing") == b"", "API functions the server does not provide"


def test_loadmodule_arguments_and_module_list(c, so):
    assert x(c, "tm.args") == b"a1 a2"
    assert x(c, "MODULE", "LIST") == [[b"name", b"testmod", b"ver", 1, b"path", so.encode(), b"args", [b"a1", b"a2"]]]


def test_module_commands_in_command_table(c):
    info = x(c, "COMMAND", "INFO", "tm.tadd", "tm.reply", "tm.call", "nosuch")
    keyspec = [b"flags", ["RW", "access", "update"], b"begin_search", [b"type", b"index", b"spec", [b"index", 1]],
               b"find_keys", [b"type", b"range", b"spec", [b"lastkey", 0, b"keystep", 1, b"limit", 0]]]
    assert info == [
        [b"tm.tadd", -1, ["write", "denyoom", "module"], 1, 1, 1, [], [], [keyspec], []],
        [b"tm.reply", -1, ["readonly", "module", "fast"], 0, 0, 0, [], [], [], []],
        [b"tm.call", -1, ["module"], 0, 0, 0, [], [], [], []],
        None,
    ]
    assert x(c, "COMMAND", "GETKEYS", "tm.tadd", "k1", "1", "2", "s") == [b"k1"]
    assert err_text(x(c, "COMMAND", "GETKEYS", "tm.reply", "x")) == "ERR The command has no key arguments"
    assert x(c, "COMMAND", "DOCS", "tm.tadd") == [b"tm.tadd", [b"group", b"module", b"module", b"testmod"]]
    names = x(c, "COMMAND", "LIST", "FILTERBY", "MODULE", "testmod")
    assert len(names) == 33 and b"tm.tadd" in names and b"tm.block" in names
    assert sorted(x(c, "COMMAND", "LIST", "FILTERBY", "PATTERN", "tm.k*")) == [
        b"tm.kdel", b"tm.kexpire", b"tm.kget", b"tm.klen", b"tm.kset", b"tm.kttl", b"tm.ktype", b"tm.kupper"]
    assert err_text(x(c, "tm.reply")) == "ERR wrong number of arguments for 'tm.reply' command"
    assert err_text(x(c, "tm.hset", "h", "f")) == "ERR wrong number of arguments for 'tm.hset' command"


def test_module_load_list_unload(so):
    s = Server(*BASE, "--enable-module-command", "yes")
    try:
        conn = RespConn(s)
        assert x(conn, "MODULE", "LIST") == []
        assert err_text(x(conn, "tm.args")).startswith("ERR unknown command 'tm.args'")
        assert x(conn, "MODULE", "LOAD", so, "notype", "x y") == "OK"
        assert x(conn, "MODULE", "LIST") == [[b"name", b"testmod", b"ver", 1, b"path", so.encode(), b"args",
                                               [b"notype", b"x y"]]]
        assert x(conn, "tm.args") == b"notype x y"
        # Loaded twice: the module sees its name taken and refuses.
        assert err_text(x(conn, "MODULE", "LOAD", so)) == LOAD_ERR
        assert err_text(x(conn, "MODULE", "UNLOAD", "nosuch")) == \
            "ERR Error unloading module: no such module with that name"
        assert x(conn, "MODULE", "UNLOAD", "testmod") == "OK"
        assert x(conn, "MODULE", "LIST") == []
        assert err_text(x(conn, "tm.args")) == "ERR unknown command 'tm.args', with args beginning with: "
        assert err_text(x(conn, "MODULE", "LOAD", "/nonexistent/dir/nosuch.so")) == LOAD_ERR
        # OnLoad failing after creating its commands leaves nothing behind.
        assert err_text(x(conn, "MODULE", "LOAD", so, "fail", "notype")) == LOAD_ERR
        assert x(conn, "MODULE", "LIST") == []
        assert err_text(x(conn, "tm.reply", "null")).startswith("ERR unknown command 'tm.reply'")
        # OnUnload refusing.
        assert x(conn, "MODULE", "LOAD", so, "notype", "refuseunload") == "OK"
        assert err_text(x(conn, "MODULE", "UNLOAD", "testmod")) == \
            "ERR Error unloading module: operation not possible."
        assert len(x(conn, "MODULE", "LIST")) == 1
        assert x(conn, "tm.reply", "longlong") == -1234567890123
        conn.close()
    finally:
        s.stop()


def test_module_command_needs_enable_module_command(c):
    assert err_text(x(c, "MODULE", "UNLOAD", "testmod")) == \
        "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run " \
        "it from a local connection, otherwise you need to set this option in the configuration file, and then " \
        "restart the server."
    assert len(x(c, "MODULE", "LIST")) == 1


def test_module_loadex_and_typed_unload(so):
    s = Server(*BASE, "--enable-module-command", "yes")
    try:
        conn = RespConn(s)
        assert x(conn, "MODULE", "LOADEX", so, "ARGS", "q", "r") == "OK"
        assert x(conn, "tm.args") == b"q r"
        assert x(conn, "MODULE", "LIST")[0][-1] == [b"q", b"r"]
        assert x(conn, "tm.tadd", "k", "1", "1", "a") == 1
        assert err_text(x(conn, "MODULE", "UNLOAD", "testmod")) == \
            "ERR Error unloading module: the module exports one or more module-side data types, can't unload"
        assert x(conn, "tm.tlen", "k") == 1
        assert err_text(x(conn, "MODULE", "LOAD")) == "ERR wrong number of arguments for 'module|load' command"
        assert err_text(x(conn, "MODULE", "UNLOAD")) == "ERR wrong number of arguments for 'module|unload' command"
        conn.close()
    finally:
        s.stop()


@pytest.mark.parametrize("why", ["fail", "missing"])
def test_loadmodule_failure_stops_startup(so, why):
    d = mkdir()
    path = so if why == "fail" else os.path.join(d, "nosuch.so")
    rc, log = start_expect_failure(SERVER, d, "--loadmodule", path, "fail")
    assert_refused(rc, log, path)
    # The directive is sound; the module is what failed.
    assert "Bad directive" not in log, log[-3000:]


# ---------------------------------------------------------------- replies


REPLIES = {
    "longlong": -1234567890123,
    "simple": "hello simple",
    "array": [1, b"two", [3, "four", None], None, [], -5],
    "postponed": [10, [20, 21], b"x"],
    "postponed-empty": [],
    "null": None,
    "double": [b"3.1400000000000001", b"1.0000000000000001e+300", b"-0.5", b"10", b"inf", b"-inf"],
    "cstring": b"a c string",
    "buffer": b"ab\x00cd",
    "printf": b"printf-42",
    "fromll": b"-9007199254740993",
    "empties": [[], b"", None],
    "map": [b"a", 1, b"b", [1, 0]],
    "set": [b"m1", b"m2"],
    "bignumber": b"123456789012345678901234567890",
    "verbatim": b"verbatim text",
}


def test_reply_kinds_resp2(msrv, c):
    for kind, want in REPLIES.items():
        assert dbl(x(c, "tm.reply", kind)) == dbl(want), kind
    assert err_text(x(c, "tm.reply", "error")) == "ERR custom failure"
    assert err_text(x(c, "tm.reply", "errcode")) == "MYCODE something went wrong"
    assert err_text(x(c, "tm.reply", "bogus")) == "ERR unknown reply kind"
    # Through redis-py too: the frames parse as a client expects.
    r = msrv.client()
    assert r.execute_command("tm.reply", "array") == [1, b"two", [3, b"four", None], None, [], -5]
    with pytest.raises(redis.ResponseError, match="custom failure"):
        r.execute_command("tm.reply", "error")
    r.close()


def test_reply_kinds_resp3(msrv):
    conn = typed(msrv, 3)
    T = lambda *a: tplain(conn.call(*a))  # noqa: E731
    assert T("tm.reply", "null") == Typed("null", None)
    assert T("tm.reply", "array") == [1, b"two", [3, "four", Typed("null", None)], Typed("null", None), [], -5]
    assert T("tm.reply", "double") == [Typed("double", v) for v in (3.14, 1e300, -0.5, 10.0, float("inf"),
                                                                     float("-inf"))]
    assert T("tm.reply", "map") == Typed("map", [(b"a", 1), (b"b", [Typed("bool", True), Typed("bool", False)])])
    assert T("tm.reply", "set") == Typed("set", [b"m1", b"m2"])
    assert T("tm.reply", "bignumber") == Typed("big", 123456789012345678901234567890)
    assert T("tm.reply", "verbatim") == Typed("verbatim", (b"txt", b"verbatim text"))
    assert T("tm.reply", "empties") == [[], b"", Typed("null", None)]
    conn.close()


# ---------------------------------------------------------------- strings


def test_string_to_numbers(c):
    cases = {
        "123": [123, b"123"],
        "-9223372036854775808": [-9223372036854775808, b"-9.2233720368547758e+18"],
        "9223372036854775808": ["no-ll", b"9.2233720368547758e+18"],
        " 12": ["no-ll", "no-double"],
        "12 ": ["no-ll", "no-double"],
        "12abc": ["no-ll", "no-double"],
        "1.5": ["no-ll", b"1.5"],
        "inf": ["no-ll", b"inf"],
        "-inf": ["no-ll", b"-inf"],
        "nan": ["no-ll", "no-double"],
        "": ["no-ll", "no-double"],
        "1e400": ["no-ll", "no-double"],
        "1e-400": ["no-ll", "no-double"],
        "0x10": ["no-ll", b"16"],
        "+5": ["no-ll", b"5"],
        "-0": ["no-ll", b"-0"],
        "007": ["no-ll", b"7"],
        "3.0": ["no-ll", b"3"],
    }
    for s, want in cases.items():
        assert dbl(x(c, "tm.str.tonum", s)) == dbl(want), s


def test_string_append_and_compare(c):
    assert x(c, "tm.str.append", "abc", "def") == [b"abcdef|", b"abc"]
    assert x(c, "tm.str.append", "", "") == [b"|", b""]
    assert x(c, "tm.str.append", "a\x00", "b" * 100) == [b"a\x00" + b"b" * 100 + b"|", b"a\x00"]
    for a, b, want in [("abc", "abd", -1), ("b", "a", 1), ("ab", "abc", -1), ("x", "x", 0), ("10", "9", -1),
                       ("", "a", -1), ("a\x00b", "a\x00a", 1), ("", "", 0)]:
        assert x(c, "tm.str.compare", a, b) == want, (a, b)


# ---------------------------------------------------------------- the key API on native types


def test_key_api_strings(c):
    assert x(c, "tm.kget", "nokey") is None
    assert x(c, "tm.ktype", "nokey") == 0
    assert x(c, "tm.klen", "nokey") == 0
    assert x(c, "tm.kdel", "nokey") == 0
    assert x(c, "tm.kttl", "nokey") == -2
    assert err_text(x(c, "tm.kexpire", "nokey", "100")) == "ERR SetExpire failed"
    assert x(c, "tm.kset", "s", "hello") == "OK"
    assert x(c, "GET", "s") == b"hello"
    assert x(c, "tm.kget", "s") == b"hello"
    assert x(c, "tm.ktype", "s") == 1
    assert x(c, "tm.klen", "s") == 5
    assert x(c, "tm.kexpire", "s", "100000") == "OK"
    assert 99_000 < x(c, "tm.kttl", "s") <= 100_000
    assert 99 <= x(c, "TTL", "s") <= 100
    # StringSet drops the TTL.
    assert x(c, "tm.kset", "s", "again") == "OK"
    assert x(c, "tm.kttl", "s") == -1
    assert x(c, "TTL", "s") == -1
    assert x(c, "tm.kexpire", "s", "5000") == "OK"
    assert x(c, "tm.kexpire", "s", "-1") == "OK"  # REDISMODULE_NO_EXPIRE: persist
    assert x(c, "TTL", "s") == -1
    assert err_text(x(c, "tm.kexpire", "s", "-5")) == "ERR SetExpire failed"
    # Integer-encoded and embedded strings read through DMA, then written in place.
    assert x(c, "SET", "n", "12345") == "OK"
    assert x(c, "tm.kget", "n") == b"12345"
    assert x(c, "tm.klen", "n") == 5
    assert x(c, "SET", "u", "hello World") == "OK"
    assert x(c, "tm.kupper", "u") == 11
    assert x(c, "GET", "u") == b"HELLO WORLD"
    assert x(c, "tm.kupper", "nokey") is None
    # StringSet replaces a value of another type.
    assert x(c, "RPUSH", "l", "a", "b") == 2
    assert err_text(x(c, "tm.kget", "l")) == WRONGTYPE
    assert err_text(x(c, "tm.kupper", "l")) == WRONGTYPE
    assert x(c, "tm.kset", "l", "now a string") == "OK"
    assert x(c, "TYPE", "l") == "string"
    assert x(c, "tm.kdel", "l") == 1
    assert x(c, "EXISTS", "l") == 0
    # A SetExpire of 0 expires the key.
    assert x(c, "tm.kexpire", "s", "0") == "OK"
    poll(lambda: x(c, "EXISTS", "s") == 0, "the key to expire")


def test_key_type_numbers_and_lengths(c):
    x(c, "SET", "s", "abc")
    x(c, "RPUSH", "l", "a", "b")
    x(c, "HSET", "h", "f", "v")
    x(c, "SADD", "set", "a", "b", "c")
    x(c, "ZADD", "z", "1", "a")
    x(c, "XADD", "st", "1-1", "a", "b")
    x(c, "tm.tadd", "t", "1", "1", "a")
    got = [(x(c, "tm.ktype", k), x(c, "tm.klen", k)) for k in ("s", "l", "h", "set", "z", "st", "t", "none")]
    assert got == [(1, 3), (2, 2), (3, 1), (4, 3), (5, 1), (7, 1), (6, 0), (0, 0)]


def test_key_api_hash(c):
    # Without COUNT_ALL, HashSet counts updated and deleted fields only.
    assert x(c, "tm.hset", "h", "f1", "v1", "f2", "v2") == 0
    assert x(c, "tm.hset", "h", "f1", "v1b", "f3", "v3") == 1
    assert x(c, "HGETALL", "h") == [b"f1", b"v1b", b"f2", b"v2", b"f3", b"v3"]
    assert x(c, "tm.hget", "h", "f1") == b"v1b"
    assert x(c, "tm.hget", "h", "zz") is None
    assert x(c, "tm.hget", "nokey", "zz") is None
    assert x(c, "tm.hexists", "h", "f1") == 1
    assert x(c, "tm.hexists", "h", "zz") == 0
    assert x(c, "tm.hexists", "nokey", "zz") == 0
    assert x(c, "tm.hset", "h", "f1", ":delete:") == 1
    assert x(c, "tm.hset", "h", "zz", ":delete:") == 0
    assert x(c, "tm.hsetc", "h", "cf", "cv") == 0
    assert x(c, "tm.hsetc", "h", "cf", "cv2") == 1
    assert x(c, "HGETALL", "h") == [b"f2", b"v2", b"f3", b"v3", b"cf", b"cv2"]
    assert (x(c, "tm.ktype", "h"), x(c, "tm.klen", "h")) == (3, 3)
    # Deleting the last field deletes the key.
    assert x(c, "tm.hset", "h", "f2", ":delete:", "f3", ":delete:", "cf", ":delete:") == 3
    assert x(c, "EXISTS", "h") == 0
    x(c, "SET", "s", "v")
    for cmd in (("tm.hset", "s", "f", "v"), ("tm.hget", "s", "f"), ("tm.hexists", "s", "f"),
                ("tm.hsetc", "s", "f", "v")):
        assert err_text(x(c, *cmd)) == WRONGTYPE, cmd


def test_key_api_list(c):
    assert x(c, "tm.lpush", "L", "a") == 1
    assert x(c, "tm.lpush", "L", "b") == 2
    assert x(c, "LRANGE", "L", "0", "-1") == [b"b", b"a"]
    assert x(c, "tm.rpop", "L") == b"a"
    assert x(c, "tm.rpop", "L") == b"b"
    assert x(c, "EXISTS", "L") == 0  # the empty list is gone
    assert x(c, "tm.rpop", "L") is None
    x(c, "SET", "s", "v")
    assert err_text(x(c, "tm.lpush", "s", "x")) == WRONGTYPE
    assert err_text(x(c, "tm.rpop", "s")) == WRONGTYPE


def test_key_api_zset(c):
    assert x(c, "tm.zadd", "z", "1.5", "m") == 4  # ADDED
    assert x(c, "tm.zadd", "z", "1.5", "m") == 0  # the same score: no flag
    assert x(c, "tm.zadd", "z", "2", "m") == 8  # UPDATED
    assert x(c, "tm.zadd", "z", "3", "m", "NX") == 16  # NOP
    assert x(c, "tm.zadd", "z", "3", "n", "XX") == 16
    assert x(c, "tm.zadd", "z", "1", "m", "GT") == 16
    assert x(c, "tm.zadd", "z", "5", "m", "GT") == 8
    assert x(c, "tm.zadd", "z", "1", "m", "LT") == 8
    assert x(c, "tm.zadd", "z", "inf", "q") == 4
    assert x(c, "tm.zadd", "z", "1", "m", "NX", "XX") == 16
    assert x(c, "tm.zadd", "z", "9", "m", "GT", "LT") == 16
    assert x(c, "tm.zscore", "z", "m") == b"1"
    assert x(c, "tm.zscore", "z", "q") == b"inf"
    assert x(c, "tm.zscore", "z", "none") is None
    assert x(c, "tm.zscore", "nokey", "m") is None
    assert x(c, "ZRANGE", "z", "0", "-1", "WITHSCORES") == [b"m", b"1", b"q", b"inf"]
    assert x(c, "tm.zadd", "z2", "0.1", "a") == 4
    assert dbl(x(c, "ZSCORE", "z2", "a")) == 0.1
    assert dbl(x(c, "tm.zscore", "z2", "a")) == 0.1
    x(c, "SET", "s", "v")
    assert err_text(x(c, "tm.zadd", "s", "1", "m")) == WRONGTYPE
    assert err_text(x(c, "tm.zscore", "s", "m")) == WRONGTYPE


# ---------------------------------------------------------------- RedisModule_Call


def test_call_forwards_replies(c):
    assert x(c, "tm.call", "SET", "a", "1") == "OK"
    assert x(c, "tm.call", "GET", "a") == b"1"
    assert x(c, "tm.call", "INCR", "a") == 2
    assert x(c, "tm.call", "RPUSH", "l", "x", "y") == 2
    assert x(c, "tm.call", "LRANGE", "l", "0", "-1") == [b"x", b"y"]
    assert x(c, "tm.call", "GET", "nokey") is None
    assert x(c, "tm.call", "HGETALL", "nokey") == []
    assert x(c, "tm.call", "PING") == "PONG"
    assert err_text(x(c, "tm.call", "INCR", "l")) == WRONGTYPE
    assert err_text(x(c, "tm.call", "NOSUCHCMD")) == "ERR Call failed: ENOENT"
    assert err_text(x(c, "tm.call", "GET")) == "ERR Call failed: EINVAL"
    # A module command called by a module; its reply converted to a CallReply and back.
    for kind in ("array", "double", "map", "set", "bignumber", "verbatim", "empties", "postponed", "printf"):
        assert dbl(x(c, "tm.call", "tm.reply", kind)) == dbl(REPLIES[kind]), kind
    assert err_text(x(c, "tm.call", "tm.reply", "error")) == "ERR custom failure"
    assert x(c, "tm.call", "tm.call", "GET", "a") == b"2"
    # What a module's call may not do.
    assert x(c, "tm.call", "BLPOP", "nokey", "0") is None
    assert err_text(x(c, "tm.call", "SUBSCRIBE", "ch")) == "ERR SUBSCRIBE isn't allowed for a DENY BLOCKING client"
    assert x(c, "tm.call", "EVAL", "return redis.call('GET', KEYS[1])", "1", "a") == b"2"


def test_call_reply_inspection(c):
    x(c, "SET", "a", "2")
    x(c, "RPUSH", "l", "x", "y")
    assert x(c, "tm.callinfo", "GET", "a") == [0, 1, b"2", "none"]
    assert x(c, "tm.callinfo", "SET", "b", "2") == [0, 2, b"OK", "none"]
    assert x(c, "tm.callinfo", "LRANGE", "l", "0", "-1") == [3, 2, b"x", b"y"]
    assert x(c, "tm.callinfo", "LRANGE", "nokey", "0", "-1") == [3, 0, "none", "none"]
    assert x(c, "tm.callinfo", "INCR", "l") == [1, 65, WRONGTYPE.encode(), "none"]
    assert x(c, "tm.callinfo", "GET", "nokey") == [4, 0, None, "none"]
    assert x(c, "tm.callinfo", "tm.reply", "array") == [3, 6, 1, -5]
    assert dbl(x(c, "tm.callinfo", "tm.reply", "double")) == [3, 6, 3.14, float("-inf")]
    assert x(c, "tm.callinfo", "tm.reply", "longlong") == [2, 0, -1234567890123, "none"]
    assert x(c, "tm.callinfo", "tm.reply", "empties") == [3, 3, "type:3", None]
    assert x(c, "tm.callinfo", "tm.reply", "map") == [3, 4, b"a", "type:3"]
    assert err_text(x(c, "tm.callinfo", "NOSUCH")) == "ERR Call failed: ENOENT"


def test_call_format_letters(c):
    assert x(c, "tm.callargs", "PING") == "PONG"
    assert x(c, "tm.callargs", "INCRBY", "a", "5") == 5  # "cs"
    assert x(c, "tm.callargs", "INCR", "a") == 6  # "s"
    assert err_text(x(c, "tm.callargs", "INCRBY", "a")) == "ERR Call failed: EINVAL"
    assert x(c, "tm.callargs", "HSET", "h", "f", "v\x00w") == 1  # "csb"
    assert x(c, "HGET", "h", "f") == b"v\x00w"
    assert x(c, "tm.callargs", "GET", "123") is None  # "l"
    x(c, "SET", "123", "num")
    assert x(c, "tm.callargs", "GET", "123") == b"num"


# ---------------------------------------------------------------- the module data type


def test_data_type_values(c):
    assert x(c, "tm.tadd", "t", "1", "2.5", "one") == 1
    assert x(c, "tm.tadd", "t", "-9223372036854775808", "3.14", "two") == 2
    assert x(c, "tm.tadd", "t", "7", "1e300", "x" * 30) == 3
    assert x(c, "tm.tadd", "t", "0", "inf", "") == 4
    assert dbl(x(c, "tm.tget", "t")) == dbl([
        [1, b"2.5", b"2.5", b"one"],
        [-9223372036854775808, b"3.1400000000000001", b"3.1400001049041748", b"two"],
        [7, b"1.0000000000000001e+300", b"inf", b"x" * 30],
        [0, b"inf", b"inf", b""],
    ])
    assert x(c, "tm.tlen", "t") == 4
    assert x(c, "tm.tlen", "nokey") == 0
    assert x(c, "tm.tget", "nokey") is None
    assert x(c, "TYPE", "t") == "testtype1"
    assert x(c, "OBJECT", "ENCODING", "t") == b"raw"
    assert x(c, "SCAN", "0", "TYPE", "testtype1") == [b"0", [b"t"]]
    assert x(c, "MEMORY", "USAGE", "t") > 0
    for cmd in (("GET", "t"), ("LPUSH", "t", "x"), ("SORT", "t"), ("tm.kget", "t"), ("tm.hget", "t", "f")):
        assert err_text(x(c, *cmd)) == WRONGTYPE, cmd
    x(c, "SET", "s", "v")
    for cmd in (("tm.tadd", "s", "1", "1", "a"), ("tm.tget", "s"), ("tm.tlen", "s")):
        assert err_text(x(c, *cmd)) == WRONGTYPE, cmd
    assert err_text(x(c, "tm.tadd", "t", "x", "1", "a")) == "ERR n is not an integer"
    assert err_text(x(c, "tm.tadd", "t", "1", "nan", "a")) == "ERR d is not a double"
    assert x(c, "tm.tlen", "t") == 4


def test_data_type_keyspace_operations(c):
    x(c, "tm.tadd", "t", "1", "1", "a")
    assert err_text(x(c, "COPY", "t", "t2")) == "ERR not supported for this module key"
    assert x(c, "RENAME", "t", "t3") == "OK"
    assert x(c, "tm.tget", "t3") == [[1, b"1", b"1", b"a"]]
    assert x(c, "MOVE", "t3", "1") == 1
    assert x(c, "SELECT", "1") == "OK"
    assert x(c, "tm.tlen", "t3") == 1
    assert x(c, "SWAPDB", "0", "1") == "OK"
    assert x(c, "tm.tlen", "t3") == 0
    assert x(c, "SELECT", "0") == "OK"
    assert x(c, "tm.tlen", "t3") == 1
    assert x(c, "PEXPIRE", "t3", "30") == 1
    poll(lambda: x(c, "EXISTS", "t3") == 0, "the module key to expire")
    assert x(c, "tm.tget", "t3") is None
    x(c, "tm.tadd", "u", "1", "1", "a")
    assert x(c, "UNLINK", "u") == 1
    assert x(c, "tm.tadd", "v", "1", "1", "a") == 1
    assert x(c, "tm.kdel", "v") == 1
    assert x(c, "EXISTS", "v") == 0


def test_data_type_digest(c):
    x(c, "tm.tadd", "t", "1", "2.5", "one")
    x(c, "tm.tadd", "t2", "1", "2.5", "one")
    x(c, "tm.tadd", "t3", "1", "2.5", "onf")
    d = [x(c, "DEBUG", "DIGEST-VALUE", k)[0] for k in ("t", "t2", "t3")]
    assert d[0] == d[1] != d[2] and d[0] != b"0" * 40
    x(c, "tm.tadd", "t2", "2", "0", "")
    assert x(c, "DEBUG", "DIGEST-VALUE", "t2")[0] != d[0]


def test_data_type_debug_reload(c):
    fill_typed(c)
    before = typed_state(c)
    digest = x(c, "DEBUG", "DIGEST")
    assert x(c, "DEBUG", "RELOAD") == "OK"
    assert typed_state(c) == before
    assert x(c, "DEBUG", "DIGEST") == digest


def test_data_type_dump_restore_same_server(c):
    fill_typed(c)
    payload = x(c, "DUMP", "t:long")
    assert payload[:1] == b"\x07"  # RDB_TYPE_MODULE_2
    assert x(c, "RESTORE", "copy", "0", payload) == "OK"
    assert x(c, "tm.tget", "copy") == x(c, "tm.tget", "t:long")
    assert err_text(x(c, "RESTORE", "copy", "0", payload)) == "BUSYKEY Target key name already exists."
    assert x(c, "RESTORE", "copy", "0", payload, "REPLACE") == "OK"
    bad = payload[:-10] + bytes([payload[-10] ^ 0xFF]) + payload[-9:]
    assert err_text(x(c, "RESTORE", "bad", "0", bad)) == "ERR DUMP payload version or checksum are wrong"


# ---------------------------------------------------------------- blocked clients, threads, timers


def test_block_unblocked_by_thread(msrv, c):
    started = time.time()
    assert x(c, "tm.block", "100", "v1") == b"v1"
    assert time.time() - started >= 0.09
    assert x(c, "GET", "tm:counter") == b"1"  # INCRed by the thread before it unblocked
    # The thread-safe context of a blocked client works in the client's db.
    assert x(c, "SELECT", "3") == "OK"
    assert x(c, "tm.block", "0", "v3") == b"v3"
    assert x(c, "GET", "tm:counter") == b"1"
    assert x(c, "SELECT", "0") == "OK"
    assert x(c, "GET", "tm:counter") == b"1"
    # The client counts as blocked meanwhile.
    other = RespConn(msrv)
    c.send("tm.block", "300", "v2")
    poll(lambda: b"blocked_clients:1" in x(other, "INFO", "clients"), "the client to block")
    assert c.read() == b"v2"
    assert b"blocked_clients:0" in x(other, "INFO", "clients")
    other.close()


def test_block_timeout(c):
    started = time.time()
    assert err_text(x(c, "tm.block", "400", "late", "50")) == "ERR tm.block timed out"
    assert time.time() - started < 0.35
    # The thread still runs (and unblocks its handle) after the timeout.
    poll(lambda: x(c, "GET", "tm:counter") == b"1", "the thread to INCR after the timeout")
    assert x(c, "PING") == "PONG"


def test_block_refused_in_multi_and_scripts(c):
    assert x(c, "MULTI") == "OK"
    assert x(c, "tm.block", "0", "x") == "QUEUED"
    assert x(c, "tm.ctxflags") == "QUEUED"
    refused, flags = x(c, "EXEC")
    assert err_text(refused) == "ERR Blocking module command called from transaction"
    assert flags == [b"multi", b"master", b"deny-blocking"]
    e = err_text(x(c, "EVAL", "return redis.call('tm.block', '0', 'y')", "0"))
    assert e.startswith("ERR Blocking module command called from Lua script script: ")
    # Both threads run all the same and INCR the counter.
    poll(lambda: x(c, "GET", "tm:counter") == b"2", "both threads to INCR")


def test_thread_safe_context_without_client(c):
    assert x(c, "tm.threadcount", "cnt") == "OK"
    assert x(c, "tm.threadcount", "cnt", "50") == "OK"
    poll(lambda: x(c, "GET", "cnt") == b"150", "the threads' 150 INCRs", timeout=10)


def test_timer(c):
    assert x(c, "tm.timer", "50", "tk") == "OK"
    assert x(c, "GET", "tk") is None
    poll(lambda: x(c, "GET", "tk") == b"fired", "the timer")
    # The callback runs in the db the timer was created from.
    assert x(c, "SELECT", "2") == "OK"
    assert x(c, "tm.timer", "0", "tk2") == "OK"
    poll(lambda: x(c, "GET", "tk2") == b"fired", "the timer in db 2")
    assert x(c, "SELECT", "0") == "OK"
    assert x(c, "GET", "tk2") is None


def test_context_flags(c):
    assert x(c, "tm.ctxflags") == [b"master"]
    assert x(c, "EVAL", "return redis.call('tm.ctxflags')", "0") == [b"lua", b"master", b"deny-blocking"]
    assert x(c, "tm.call", "tm.ctxflags") == [b"master", b"deny-blocking"]
    assert x(c, "MULTI") == "OK"
    assert x(c, "tm.ctxflags") == "QUEUED"
    assert x(c, "EXEC") == [[b"multi", b"master", b"deny-blocking"]]


def test_context_flags_of_configured_servers(so):
    s = Server("--save", "3600 1", "--appendonly", "yes", "--maxmemory", "100mb", "--maxmemory-policy",
               "allkeys-lru", *loadmodule(so))
    try:
        conn = RespConn(s)
        assert x(conn, "tm.ctxflags") == [b"master", b"aof", b"rdb", b"maxmemory", b"evict"]
        assert x(conn, "CONFIG", "SET", "maxmemory-policy", "noeviction") == "OK"
        assert x(conn, "CONFIG", "SET", "appendonly", "no") == "OK"
        assert x(conn, "CONFIG", "SET", "save", "") == "OK"
        assert x(conn, "tm.ctxflags") == [b"master", b"maxmemory"]
        conn.close()
    finally:
        s.stop()


# ---------------------------------------------------------------- typed data shared by the persistence tests


TYPED = {
    "t:short": [("1", "2.5", "one"), ("-9223372036854775808", "3.14", "two"), ("9223372036854775807", "-0", "")],
    "t:long": [("7", "1e300", "x" * 300), ("0", "inf", "abc" * 20), ("-1", "-inf", "\x00\xff binary")],
    "t:many": [(str(i), str(i / 7), "s%d" % i) for i in range(200)],
}


def fill_typed(conn, extra=True):
    """The TYPED keys, plus (extra) native keys beside them."""
    for key, recs in TYPED.items():
        for n, d, s in recs:
            conn.call("tm.tadd", key, n, d, s)
    conn.call("SELECT", "5")
    conn.call("tm.tadd", "t:db5", "5", "5.5", "in db 5")
    conn.call("SELECT", "0")
    if extra:
        conn.call("SET", "plain", "value")
        conn.call("HSET", "h", "f", "v")
        conn.call("tm.tadd", "t:ttl", "1", "1", "expires later")
        conn.call("PEXPIRE", "t:ttl", "100000000")


def typed_state(conn):
    """tm.tget of every TYPED key (and t:db5 in db 5), TYPE and TTL presence."""
    out = {k: conn.call("tm.tget", k) for k in TYPED}
    out["types"] = [conn.call("TYPE", k) for k in TYPED]
    conn.call("SELECT", "5")
    out["db5"] = conn.call("tm.tget", "t:db5")
    conn.call("SELECT", "0")
    out["ttl"] = conn.call("PTTL", "t:ttl") > 0
    out["plain"] = conn.call("GET", "plain")
    return dbl(out)


def expected_state():
    """typed_state() of a server that got fill_typed(), as Redis 7.0 answers."""
    def d17(v):
        return repr_17g(float(v))
    out = {}
    for key, recs in TYPED.items():
        out[key] = [[int(n), d17(d), repr_17g(float32(float(d))), s.encode()] for n, d, s in recs]
    out["types"] = ["testtype1"] * len(TYPED)
    out["db5"] = [[5, b"5.5", b"5.5", b"in db 5"]]
    out["ttl"] = True
    out["plain"] = b"value"
    return dbl(out)


def repr_17g(v):
    if v != v:
        return b"nan"
    if v in (float("inf"), float("-inf")):
        return b"inf" if v > 0 else b"-inf"
    return ("%.17g" % v).encode()


def float32(v):
    import struct
    return struct.unpack("f", struct.pack("f", v))[0]


class At:
    """What RespConn needs of a server: its port and a way to connect."""

    def __init__(self, port):
        self.port = port

    def raw(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)


def conn_of(node):
    """A RespConn to a persist_util.Node or repl_util.Peer."""
    return RespConn(At(node.port))


# ---------------------------------------------------------------- persistence


def test_save_and_restart(spawn, so):
    n = spawn(SERVER, None, *loadmodule(so))
    conn = conn_of(n)
    fill_typed(conn)
    assert typed_state(conn) == expected_state()
    assert conn.call("SAVE") == "OK"
    conn.close()
    n = spawn.restart(n)
    conn = conn_of(n)
    assert typed_state(conn) == expected_state()
    conn.close()


@pytest.mark.parametrize("writer,reader", [("keel", "redis"), ("redis", "keel")])
def test_rdb_across_servers(spawn, so, writer, reader):
    if not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    bins = {"keel": SERVER, "redis": REDIS_BIN}
    w = spawn(bins[writer], None, *loadmodule(so))
    conn = conn_of(w)
    fill_typed(conn)
    assert conn.call("SAVE") == "OK"
    conn.close()
    d = mkdir()
    shutil.copy(w.rdb, os.path.join(d, "dump.rdb"))
    r = spawn(bins[reader], d, *loadmodule(so))
    conn = conn_of(r)
    assert typed_state(conn) == expected_state()
    conn.close()


@pytest.mark.parametrize("binary", ["keel", "redis"])
def test_rdb_with_module_data_needs_the_module(spawn, so, binary):
    if binary == "redis" and not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    w = spawn(SERVER, None, *loadmodule(so))
    conn = conn_of(w)
    conn.call("tm.tadd", "t", "1", "1", "a")
    assert conn.call("SAVE") == "OK"
    conn.close()
    d = mkdir()
    shutil.copy(w.rdb, os.path.join(d, "dump.rdb"))
    rc, log = start_expect_failure({"keel": SERVER, "redis": REDIS_BIN}[binary], d)
    # (Redis 7.0 exits 0 here: after the load error it runs its RDB check,
    # which finds the file sound and exits 0. Not serving is what counts.)
    assert rc >= 0, "server died from signal %d:\n%s" % (-rc, log[-3000:])
    assert "testtype1" in log, log[-3000:]


def aof_manifest(node):
    with open(node.path("appendonlydir", "appendonly.aof.manifest")) as f:
        return [line.split() for line in f.read().splitlines() if line.strip()]


def wait_rewrite_done(conn):
    def done():
        info = conn.call("INFO", "persistence").decode()
        return "aof_rewrite_in_progress:0" in info and "aof_rewrite_scheduled:0" in info
    poll(done, "the AOF rewrite", timeout=20)


@pytest.mark.parametrize("writer", ["keel", "redis"])
def test_aof_rewrite_and_reload(spawn, so, writer):
    if not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    bins = {"keel": SERVER, "redis": REDIS_BIN}
    args = ["--appendonly", "yes", "--aof-use-rdb-preamble", "no", "--appendfsync", "always", *loadmodule(so)]
    w = spawn(bins[writer], None, *args)
    conn = conn_of(w)
    fill_typed(conn, extra=False)
    # Half of t:many goes to the rewritten base, the rest to the new incremental file.
    assert conn.call("BGREWRITEAOF").startswith("Background append only file rewriting")
    wait_rewrite_done(conn)
    base = [f[1] for f in aof_manifest(w) if f[-1] == "b"]
    assert len(base) == 1 and base[0].endswith(".base.aof"), aof_manifest(w)
    with open(w.path("appendonlydir", base[0]), "rb") as f:
        text = f.read()
    # aof_rewrite emitted the records as tm.tadd commands.
    assert text.count(b"$7\r\ntm.tadd\r\n") == sum(len(v) for v in TYPED.values()) + 1
    conn.call("tm.tadd", "t:after", "1", "0.5", "after the rewrite")
    conn.call("tm.call", "SET", "not:logged", "1")  # no "!": not propagated
    conn.call("tm.callrepl", "SET", "logged", "1")
    conn.close()
    want = expected_state()
    del want["ttl"], want["plain"]

    def check(node):
        conn = conn_of(node)
        state = typed_state(conn)
        del state["ttl"], state["plain"]
        assert state == want
        assert conn.call("tm.tget", "t:after") == [[1, b"0.5", b"0.5", b"after the rewrite"]]
        assert conn.call("EXISTS", "not:logged") == 0
        assert conn.call("GET", "logged") == b"1"
        conn.close()

    w = spawn.restart(w)
    check(w)
    # The other server reads the same directory.
    d = mkdir()
    shutil.copytree(w.path("appendonlydir"), os.path.join(d, "appendonlydir"))
    other = spawn({"keel": REDIS_BIN, "redis": SERVER}[writer], d, *args)
    check(other)


@pytest.mark.parametrize("direction", ["keel->redis", "redis->keel"])
def test_dump_restore_across_servers(so, direction):
    if not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    k = Server(*BASE, *loadmodule(so))
    r = Server(*BASE, *loadmodule(so), binary=REDIS_BIN)
    try:
        src, dst = (k, r) if direction == "keel->redis" else (r, k)
        a, b = RespConn(src), RespConn(dst)
        fill_typed(a, extra=False)
        for key in TYPED:
            payload = a.call("DUMP", key)
            assert b.call("RESTORE", key, "0", payload) == "OK", key
            assert dbl(b.call("tm.tget", key)) == dbl(a.call("tm.tget", key)), key
        # Short strings only (no LZF): the payloads are the same bytes.
        for conn in (a, b):
            for n, d, s in TYPED["t:short"]:
                conn.call("tm.tadd", "t:same", n, d, s)
        assert a.call("DUMP", "t:same") == b.call("DUMP", "t:same")
        a.close()
        b.close()
    finally:
        k.stop()
        r.stop()


# ---------------------------------------------------------------- replication


@pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("redis", "keel"),
                                   kinds_param("keel", "redis")])
def test_replication_of_module_writes(cluster, so, kinds):
    primary = cluster.start(kinds[0], *loadmodule(so))
    replica = cluster.start(kinds[1], *loadmodule(so))
    p = conn_of(primary)
    # Before the replica attaches: reaches it by the full sync's RDB.
    p.call("tm.tadd", "t:before", "1", "1.5", "before")
    p.call("tm.tadd", "t:before", "2", "2.5", "x" * 100)
    replicate(primary, replica)
    q = conn_of(replica)
    # After: reaches it through the command stream (ReplicateVerbatim, "!").
    assert p.call("tm.tadd", "t:after", "3", "3.5", "after") == 1
    assert p.call("tm.kset", "s", "v") == "OK"
    assert p.call("tm.hset", "h", "f", "v") == 0
    assert p.call("tm.zadd", "z", "2", "m") == 4
    assert p.call("tm.lpush", "l", "a") == 1
    assert p.call("tm.kexpire", "s", "100000") == "OK"
    assert p.call("tm.callrepl", "SET", "by:callrepl", "1") == "OK"
    assert p.call("tm.call", "SET", "by:call", "1") == "OK"
    assert p.call("MULTI") == "OK"
    p.call("tm.tadd", "t:multi", "4", "4.5", "in multi")
    p.call("tm.callrepl", "INCR", "by:callrepl")
    assert p.call("EXEC") == [1, 2]
    assert p.call("tm.block", "0", "v") == b"v"
    wait_in_sync(primary, replica)
    for key in ("t:before", "t:after", "t:multi"):
        assert dbl(q.call("tm.tget", key)) == dbl(p.call("tm.tget", key)), key
    assert q.call("GET", "s") == b"v"
    assert q.call("PTTL", "s") > 0
    assert q.call("HGETALL", "h") == [b"f", b"v"]
    assert q.call("ZSCORE", "z", "m") == b"2"
    assert q.call("LRANGE", "l", "0", "-1") == [b"a"]
    assert q.call("GET", "by:callrepl") == b"2"
    # Calls without "!" (tm.call, the blocked client's thread) stay on the primary.
    assert p.call("EXISTS", "by:call", "tm:counter") == 2
    assert q.call("EXISTS", "by:call", "tm:counter") == 0
    # The replica refuses writes, and its context says so.
    assert err_text(q.call("tm.tadd", "t:after", "1", "1", "x")) == \
        "READONLY You can't write against a read only replica."
    assert q.call("tm.ctxflags") == [b"slave", b"readonly"]
    assert p.call("tm.ctxflags") == [b"master"]
    p.close()
    q.close()


# ---------------------------------------------------------------- differential against Redis 7.0


def diff_commands():
    """(argv, how) items: how is None (compare as read), "sorted" (an array
    in no set order) or "skip" (run, but do not compare)."""
    out = []
    add = lambda *a, how=None: out.append((list(a), how))  # noqa: E731
    for kind in list(REPLIES) + ["error", "errcode", "bogus"]:
        add("tm.reply", kind)
        add("tm.call", "tm.reply", kind)
        add("tm.callinfo", "tm.reply", kind)
    for s in ["123", "-12", "9223372036854775807", "9223372036854775808", "1.5", "1e10", "-1e-10", "inf", "nan",
              "", " 1", "1 ", "0x1p3", "1,5", "٣", "1e308", "1e309", "-0.0", "4.9e-324"]:
        add("tm.str.tonum", s)
    add("tm.str.append", "abc", "\x00\x01")
    add("tm.str.compare", "abc", "ABC")
    add("tm.str.compare", "\xff", "\x01")
    # key API
    for a in [("tm.kset", "s", "1"), ("tm.kget", "s"), ("tm.ktype", "s"), ("tm.klen", "s"), ("tm.kupper", "s"),
              ("APPEND", "s", "abc"), ("tm.kupper", "s"), ("GET", "s"), ("tm.kexpire", "s", "1000000"),
              ("TTL", "s"), ("tm.kset", "s", "x" * 100), ("TTL", "s"), ("OBJECT", "ENCODING", "s"),
              ("tm.hset", "h", "a", "1", "b", "2", "a", "3"), ("HGETALL", "h"), ("tm.hget", "h", "a"),
              ("tm.hexists", "h", "b"), ("tm.hset", "h", "b", ":delete:"), ("HLEN", "h"), ("tm.klen", "h"),
              ("tm.lpush", "l", "1"), ("tm.lpush", "l", "2"), ("tm.rpop", "l"), ("LLEN", "l"), ("tm.rpop", "l"),
              ("tm.rpop", "l"), ("EXISTS", "l"), ("tm.zadd", "z", "1", "a"), ("tm.zadd", "z", "-inf", "b"),
              ("tm.zadd", "z", "1", "a", "XX", "GT"), ("tm.zadd", "z", "0.5", "a", "LT"), ("ZRANGE", "z", "0", "-1",
                                                                                           "WITHSCORES"),
              ("tm.zscore", "z", "b"), ("tm.kdel", "z"), ("tm.kdel", "z"), ("tm.ktype", "z"),
              ("tm.hget", "s", "a"), ("tm.lpush", "h", "x"), ("tm.zadd", "l", "1", "m"), ("tm.kget", "h")]:
        add(*a)
    # Call
    for a in [("tm.call", "SET", "c", "5"), ("tm.call", "INCRBYFLOAT", "c", "0.1"), ("tm.call", "HGETALL", "h"),
              ("tm.call", "ZRANGE", "z", "0", "-1"), ("tm.call", "XADD", "x", "1-1", "f", "v"),
              ("tm.call", "XRANGE", "x", "-", "+"), ("tm.call", "NOSUCH"), ("tm.call", "GET"),
              ("tm.call", "GET", "c", "extra"), ("tm.call", "INCR", "h"), ("tm.callinfo", "HGETALL", "h"),
              ("tm.callinfo", "XRANGE", "x", "-", "+"), ("tm.callinfo", "ZSCORE", "nokey", "m"),
              ("tm.callargs", "SET", "d", "v", "EX"), ("tm.callargs", "LPUSH", "k", "a", "b"),
              ("tm.callargs", "LRANGE", "k", "0"), ("tm.call", "EVAL", "return {1, 'a', {err='x'}}", "0"),
              ("tm.call", "tm.call", "tm.callinfo", "GET", "c"), ("tm.call", "CONFIG", "GET", "maxmemory")]:
        add(*a)
    # the data type
    for a in [("tm.tadd", "t", "1", "1.5", "a"), ("tm.tadd", "t", "-1", "1e-300", "b\x00c"),
              ("tm.tadd", "t", "0", "-inf", ""), ("tm.tget", "t"), ("tm.tlen", "t"), ("TYPE", "t"),
              ("OBJECT", "ENCODING", "t"), ("GET", "t"), ("tm.tadd", "s", "1", "1", "a"), ("tm.tget", "s"),
              ("tm.tadd", "t", "1.5", "1", "a"), ("tm.tadd", "t", "1", "abc", "a"), ("COPY", "t", "t2"),
              ("RENAME", "t", "t2"), ("tm.tget", "t2"), ("tm.ktype", "t2"), ("tm.klen", "t2"),
              ("tm.call", "tm.tget", "t2"), ("tm.callinfo", "tm.tget", "t2"), ("SCAN", "0", "TYPE", "testtype1"),
              ("EXISTS", "t", "t2"), ("tm.tadd",), ("tm.tget", "a", "b")]:
        add(*a)
    # transactions, scripts, blocking, flags
    add("MULTI")
    add("tm.tadd", "t3", "1", "1", "m")
    add("tm.call", "SET", "m", "1")
    add("tm.ctxflags")
    add("tm.reply", "postponed")
    add("EXEC")
    add("EVAL", "return redis.call('tm.reply', 'array')", "0")
    add("EVAL", "return redis.call('tm.reply', 'double')", "0")
    add("EVAL", "return redis.call('tm.tget', KEYS[1])", "1", "t3")
    add("EVAL", "return redis.call('tm.reply', 'error')", "0")
    add("EVAL", "return redis.pcall('tm.reply', 'errcode')", "0")
    add("EVAL", "return redis.call('tm.ctxflags')", "0")
    add("tm.ctxflags")
    add("tm.block", "10", "unblocked")
    add("tm.block", "0", "unblocked too")
    add("GET", "tm:counter")
    add("tm.args")
    add("MODULE", "LIST", how="skip")  # the paths may differ
    # RESP2 only: in RESP3 Redis 7.0 sends key specs (and an empty
    # subcommand list) as sets, Keel as arrays, for every command alike.
    add("COMMAND", "INFO", "tm.tadd", "tm.kget", "tm.reply", "tm.call", "tm.block", how="resp2")
    add("COMMAND", "GETKEYS", "tm.hset", "h", "f", "v")
    add("COMMAND", "DOCS", "tm.zadd")
    add("COMMAND", "LIST", "FILTERBY", "MODULE", "testmod", how="sorted")
    add("COMMAND", "LIST", "FILTERBY", "MODULE", "nosuch")
    add("tm.missing")
    return out


@pytest.mark.parametrize("proto", [2, 3])
def test_differential_against_redis(msrv, mref, proto):
    k, r = typed(msrv, proto), typed(mref, proto)
    for conn in (k, r):
        assert conn.call("FLUSHALL") == "OK"
    done = []
    for args, how in diff_commands():
        got = [dbl(tplain(conn.call(*args))) for conn in (k, r)]
        done.append(args)
        if how == "skip" or (how == "resp2" and proto == 3):
            continue
        if how == "sorted":
            got = [sorted(g) for g in got]
        assert got[0] == got[1], "reply to %r differs (RESP%d):\n  keel:  %r\n  redis: %r\nafter %r" % (
            args, proto, got[0], got[1], done[-8:-1])
    k.close()
    r.close()


# ---------------------------------------------------------------- RediSearch


def redisearch_args(mode):
    return ["--loadmodule", REDISEARCH] + (["SAFEMODE"] if mode == "safemode" else [])


RS_DOCS = [
    ("d1", "1.0", "hello world", "the quick brown fox", "10", "red,blue"),
    ("d2", "0.9", "hello redis", "a search engine module", "25", "green"),
    ("d3", "0.8", "goodbye world", "lazy dog jumps", "5", "red"),
    ("d4", "0.7", "redis modules", "fox and dog hello", "40", "blue,green"),
    ("d5", "0.6", "world peace", "nothing to see", "15", ""),
]


def redisearch_commands():
    """(argv, how) as diff_commands(); how "info" compares FT.INFO's stable
    fields only."""
    out = []
    add = lambda *a, how=None: out.append((list(a), how))  # noqa: E731
    add("FT.CREATE", "idx", "SCHEMA", "title", "TEXT", "WEIGHT", "5.0", "body", "TEXT", "price", "NUMERIC",
        "SORTABLE", "tags", "TAG", "SEPARATOR", ",")
    add("FT.CREATE", "idx", "SCHEMA", "x", "TEXT")
    for d, score, title, body, price, tags in RS_DOCS:
        add("FT.ADD", "idx", d, score, "FIELDS", "title", title, "body", body, "price", price, "tags", tags)
    add("FT.ADD", "idx", "d1", "1.0", "FIELDS", "title", "dup")
    add("FT.ADD", "idx", "d1", "1.0", "REPLACE", "PARTIAL", "FIELDS", "price", "11")
    add("FT.ADD", "idx", "d6", "0.5", "NOSAVE", "FIELDS", "title", "unsaved hello", "price", "1")
    for q in [("hello",), ("hello", "NOCONTENT"), ("hello", "WITHSCORES", "NOCONTENT"), ("world", "LIMIT", "0", "1"),
              ("world", "LIMIT", "1", "10", "NOCONTENT"), ("*", "SORTBY", "price", "DESC", "NOCONTENT"),
              ("@price:[10 30]", "SORTBY", "price", "ASC"), ("hello", "FILTER", "price", "20", "50", "NOCONTENT"),
              ("@tags:{red}", "NOCONTENT"), ("@tags:{green | blue}", "SORTBY", "price", "NOCONTENT"),
              ("fox -dog", "NOCONTENT"), ("hel*", "NOCONTENT", "SORTBY", "price"),
              ("%helo%", "NOCONTENT", "SORTBY", "price"), ('"hello world"', "NOCONTENT"),
              ("hello", "RETURN", "1", "price", "SORTBY", "price"), ("hello", "INFIELDS", "1", "body", "NOCONTENT"),
              ("hello", "HIGHLIGHT", "FIELDS", "1", "title", "SORTBY", "price"),
              ("hello", "SUMMARIZE", "FIELDS", "1", "body", "LEN", "3", "SORTBY", "price"),
              ("hello", "WITHSCORES", "WITHSORTKEYS", "SORTBY", "price"), ("nomatch",), ("@bad:foo",),
              ("hello|goodbye", "WITHSCORES", "NOCONTENT"), ("unsaved",)]:
        add("FT.SEARCH", "idx", *q)
    add("FT.SEARCH", "nosuchidx", "x")
    add("FT.EXPLAIN", "idx", "hello @price:[1 2] -world")
    add("FT.EXPLAIN", "idx", "@tags:{red} (fox|dog) hel*")
    add("FT.AGGREGATE", "idx", "*", "GROUPBY", "1", "@price", "REDUCE", "COUNT", "0", "AS", "n", "SORTBY", "2",
        "@price", "ASC")
    add("FT.AGGREGATE", "idx", "*", "LOAD", "1", "@price", "APPLY", "@price*2", "AS", "dbl", "SORTBY", "2", "@dbl",
        "ASC")
    add("FT.AGGREGATE", "idx", "hello", "GROUPBY", "0", "REDUCE", "SUM", "1", "@price", "AS", "total")
    add("FT.GET", "idx", "d2")
    add("FT.MGET", "idx", "d1", "nosuch", "d3")
    add("FT.INFO", "idx", how="info")
    add("FT.DEL", "idx", "d3")
    add("FT.DEL", "idx", "d3")
    add("FT.SEARCH", "idx", "goodbye")
    add("FT.DEL", "idx", "d5", "DD")
    add("EXISTS", "d5", "d3")
    add("FT.TAGVALS", "idx", "tags", how="sorted")
    add("FT.INFO", "idx", how="info")
    add("FT.SUGADD", "ac", "hello world", "1")
    add("FT.SUGADD", "ac", "hello", "2")
    add("FT.SUGADD", "ac", "help me", "0.5", "PAYLOAD", "pl")
    add("FT.SUGADD", "ac", "hello", "1", "INCR")
    for q in [("hel",), ("hel", "WITHSCORES"), ("hel", "MAX", "1"), ("hel", "WITHPAYLOADS"), ("helo", "FUZZY"),
              ("zzz",)]:
        add("FT.SUGGET", "ac", *q)
    add("FT.SUGLEN", "ac")
    add("FT.SUGDEL", "ac", "help me")
    add("FT.SUGLEN", "ac")
    add("TYPE", "ac")
    add("TYPE", "idx:idx")
    add("KEYS", "*", how="sorted")
    add("FT.SEARCH", "idx", "*", "SORTBY", "price", "ASC", "NOCONTENT")
    add("FT.DROP", "idx")
    add("KEYS", "*", how="sorted")
    add("FT.DROP", "idx")
    add("FT.SEARCH", "idx", "hello")
    return out


INFO_STABLE = ("index_name", "index_options", "fields", "num_docs", "max_doc_id", "num_terms", "num_records")


def info_stable(reply):
    if not isinstance(reply, list):
        return reply
    fields = dict(zip(reply[::2], reply[1::2]))
    return {f: fields.get(f) for f in INFO_STABLE}


@pytest.fixture(params=["safemode", "concurrent"])
def rs_pair(request):
    """Keel and Redis 7.0, each with RediSearch loaded in the mode asked for."""
    if not os.path.exists(REDISEARCH):
        pytest.skip(NO_REDISEARCH)
    if not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    args = BASE + redisearch_args(request.param)
    k = Server(*args)
    r = Server(*args, binary=REDIS_BIN, env=dict(os.environ, LC_ALL="C"))
    yield k, r
    k.stop()
    r.stop()


def test_redisearch_differential(rs_pair):
    k, r = (typed(s) for s in rs_pair)
    done, seen = [], []
    for args, how in redisearch_commands():
        got = [dbl(tplain(conn.call(*args))) for conn in (k, r)]
        done.append(args)
        if how == "sorted":
            got = [sorted(g) for g in got]
        elif how == "info":
            got = [info_stable(g) for g in got]
        assert got[0] == got[1], "reply to %r differs:\n  keel:  %r\n  redis: %r\nafter %r" % (
            args, got[0], got[1], done[-8:-1])
        seen.append((" ".join(args), got[0]))
    # Some of the expected values themselves (so that a run against Redis
    # alone checks something too).
    seen = dict(seen)  # the last reply to each command line
    assert seen["FT.SEARCH idx hello NOCONTENT"] == [4, b"d1", b"d2", b"d6", b"d4"]
    assert seen["FT.SEARCH idx @tags:{red} NOCONTENT"] == [2, b"d1", b"d3"]
    assert seen["FT.SEARCH idx hello FILTER price 20 50 NOCONTENT"] == [2, b"d2", b"d4"]
    assert seen["FT.SEARCH idx * SORTBY price ASC NOCONTENT"] == [4, b"d6", b"d1", b"d2", b"d4"]
    assert seen["FT.SUGGET ac hel"] == [b"hello", b"hello world", b"help me"]
    assert seen["FT.SUGLEN ac"] == 2
    assert seen["FT.DROP idx"] == ("-ERR", "Unknown Index name")
    assert seen["FT.SEARCH idx hello"] == ("-ERR", "Unknown Index name")
    assert seen["KEYS *"] == [b"ac", b"d3"]
    k.close()
    r.close()


def test_redisearch_many_concurrent_searches():
    """In concurrent mode, searches run on RediSearch's thread pool with
    the client blocked meanwhile: many clients at once all get their
    replies, in order per client."""
    if not os.path.exists(REDISEARCH):
        pytest.skip(NO_REDISEARCH)
    s = Server(*BASE, *redisearch_args("concurrent"))
    try:
        c = RespConn(s)
        c.call("FT.CREATE", "idx", "SCHEMA", "t", "TEXT", "n", "NUMERIC", "SORTABLE")
        for i in range(300):
            c.send("FT.ADD", "idx", "doc%d" % i, "1.0", "FIELDS", "t", "word%d common" % (i % 10), "n", str(i))
        for i in range(300):
            assert c.read() == "OK"
        conns = [RespConn(s) for _ in range(8)]
        for round_ in range(5):
            for j, conn in enumerate(conns):
                conn.send("FT.SEARCH", "idx", "word%d" % j, "SORTBY", "n", "ASC", "LIMIT", "0", "3", "NOCONTENT")
                conn.send("FT.SEARCH", "idx", "common", "SORTBY", "n", "DESC", "LIMIT", "0", "1", "NOCONTENT")
            for j, conn in enumerate(conns):
                assert conn.read() == [30, b"doc%d" % j, b"doc%d" % (j + 10), b"doc%d" % (j + 20)]
                assert conn.read() == [300, b"doc299"]
        for conn in conns + [c]:
            conn.close()
    finally:
        s.stop()


@pytest.mark.parametrize("mode", ["safemode", "concurrent"])
def test_redisearch_save_and_restart(spawn, mode):
    if not os.path.exists(REDISEARCH):
        pytest.skip(NO_REDISEARCH)
    n = spawn(SERVER, None, *redisearch_args(mode))
    conn = conn_of(n)
    state = redisearch_fill(conn)
    assert conn.call("SAVE") == "OK"
    conn.close()
    n = spawn.restart(n)
    conn = conn_of(n)
    assert redisearch_state(conn) == state
    conn.close()


@pytest.mark.parametrize("writer,reader", [("redis", "keel"), ("keel", "redis")])
def test_redisearch_rdb_across_servers(spawn, writer, reader):
    if not os.path.exists(REDISEARCH):
        pytest.skip(NO_REDISEARCH)
    if not HAVE_REDIS:
        pytest.skip(NO_REDIS)
    bins = {"keel": SERVER, "redis": REDIS_BIN}
    w = spawn(bins[writer], None, *redisearch_args("safemode"))
    conn = conn_of(w)
    state = redisearch_fill(conn)
    assert conn.call("SAVE") == "OK"
    conn.close()
    d = mkdir()
    shutil.copy(w.rdb, os.path.join(d, "dump.rdb"))
    r = spawn(bins[reader], d, *redisearch_args("safemode"))
    conn = conn_of(r)
    assert redisearch_state(conn) == state
    conn.close()


def redisearch_fill(conn):
    """An index with RS_DOCS and suggestions; returns redisearch_state()."""
    assert conn.call("FT.CREATE", "idx", "SCHEMA", "title", "TEXT", "body", "TEXT", "price", "NUMERIC", "SORTABLE",
                     "tags", "TAG") == "OK"
    for d, score, title, body, price, tags in RS_DOCS:
        assert conn.call("FT.ADD", "idx", d, score, "FIELDS", "title", title, "body", body, "price", price,
                         "tags", tags) == "OK"
    conn.call("FT.SUGADD", "ac", "hello world", "1")
    conn.call("FT.SUGADD", "ac", "help", "3")
    state = redisearch_state(conn)
    assert state["all"][0] == 5
    return state


def redisearch_state(conn):
    return dbl({
        "all": conn.call("FT.SEARCH", "idx", "*", "SORTBY", "price", "ASC"),
        "hello": conn.call("FT.SEARCH", "idx", "hello", "WITHSCORES", "NOCONTENT"),
        "range": conn.call("FT.SEARCH", "idx", "@price:[10 30]", "SORTBY", "price", "DESC", "NOCONTENT"),
        "tags": conn.call("FT.SEARCH", "idx", "@tags:{red}", "SORTBY", "price", "NOCONTENT"),
        "info": info_stable(conn.call("FT.INFO", "idx")),
        "sug": conn.call("FT.SUGGET", "ac", "hel", "WITHSCORES"),
        "keys": sorted(conn.call("KEYS", "*")),
    })
