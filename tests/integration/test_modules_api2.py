"""The module API, second batch: functions test_modules.py leaves out.

testmod's commands of its "API coverage: the second batch" section
(tests/modules/testmod.c) call them: the side calls of blocked clients
(AbortBlock, BlockedClientDisconnected, GetBlockedClientHandle,
IsBlockedReplyRequest, IsBlockedTimeoutRequest, SetDisconnectCallback),
ThreadSafeContextTryLock and GetDetachedThreadSafeContext, the typed
CallReply readers, CreateStringFromCallReply, CreateStringFromDouble,
HoldString, RetainString, TrimStringAllocation, ReplyWithLongDouble,
ReplyWithVerbatimStringType, ReplySetMapLength / SetSetLength, the key
calls (GetAbsExpire, SetAbsExpire, KeyExists, UnlinkKey, StringTruncate,
ZsetIncrby, ZsetRem, GetKeyNameFromModuleKey), ModuleTypeReplaceValue, a
second data type whose callbacks read their IO (GetContextFromIO,
GetKeyNameFromIO, IsIOError, LogIOError), keyspace events, GetTimerInfo
and StopTimer, SelectDb / GetSelectedDb, random bytes, a getkeys-api
command (IsKeysPositionRequest, KeyAtPos), PoolAlloc, Replicate and the
cluster answers with cluster mode off.

Every one of them is in Redis 7.0, and every test here passes against it
(KEEL_SERVER=/usr/bin/redis-server); test_call_reply_readers_match_redis
also compares the two reply by reply. Keel's differences from Redis 7.0
these tests found, fixed in src/module/:
- the free callback's context of a blocked client said
  BlockedClientDisconnected 0 after a disconnect or a timeout, and gave no
  GetBlockedClientPrivateData; SetDisconnectCallback's callback was never
  called;
- CallReplyDouble / CallReplyBool of another type answered 0 (Redis:
  LLONG_MIN as a double, INT_MIN); CallReplyLength of a verbatim string or
  a big number was its text's length (Redis: 0); CallReplyArrayElement
  read sets and CallReplySetElement arrays (Redis: NULL);
- ReplyWithLongDouble wrote a bulk string in RESP3 (Redis: a double) and
  an empty string for inf, -inf and nan;
- ZsetIncrby wrote *newscore when NX/XX/GT/LT made it a no-op, and
  ZsetIncrby / ZsetAdd left the out-flags as they were for a NaN result
  (Redis: 0);
- KeyExists counted no keyspace hit or miss and fired no keymiss event;
- HoldString in an auto-memory context kept its reference past the
  command (a leak; Redis drops it with the context's other strings);
- PoolAlloc(0) gave memory (Redis: NULL); Replicate propagated a command
  the server does not know (Redis: ERR, nothing sent) and ignored the "A"
  (no AOF) and "R" (no replicas) flags; GetClusterNodesList set
  *numnodes to 0 (Redis leaves it alone).

Redis 7.0 behaviour the tests rely on (found by running them on it):
- a blocked client's callbacks: the reply callback's context says
  IsBlockedReplyRequest 1 and gives the handle and the private data; the
  timeout callback's IsBlockedTimeoutRequest 1 and the handle, but no
  private data yet; the free callback's context gives the private data,
  no handle, and BlockedClientDisconnected 1 when the client is gone,
  also when it timed out (or blocked inside MULTI) before the thread
  unblocked it. The disconnect callback runs when the client closes
  while blocked (not on a timeout, an unblock or AbortBlock), its context
  without handle and saying BlockedClientDisconnected 0. The command's own
  context has no handle. AbortBlock runs no reply callback: the client
  gets what a thread-safe context wrote for it, or what the command itself
  replied after aborting;
- TryLock from a thread while a command runs fails with EBUSY; a
  detached thread-safe context works in db 0;
- CreateStringFromDouble writes %.17g (Keel, as Redis 7.2, the shortest
  form: the deliberate difference docs/MODULES.md lists for doubles);
  ReplyWithLongDouble writes %.17Lf without trailing zeros;
- GetAbsExpire of a key without TTL (or a missing key opened for writing)
  is -1; SetAbsExpire fails on a missing key, a key opened READ and a time
  below -1; StringTruncate pads with zeros, keeps an empty string key at
  0, creates a key only for a length above 0, refuses other types and more
  than 512 MB; UnlinkKey of a missing key is OK; ZsetIncrby of XX on a
  missing key leaves an empty sorted set behind in Redis 7.0 (EXISTS 1):
  Keel creates no key, and no test looks at that;
- keyspace events reach a module whatever notify-keyspace-events says, in
  the event's db, its own NotifyKeyspaceEvent included, never a key API
  call's; GetNotifyKeyspaceEvents is the configured mask;
- a timer stopped or fired is gone for GetTimerInfo and StopTimer;
- COMMAND GETKEYS of a getkeys-api command asks the module; no key found
  is "ERR Invalid arguments specified for command"; ACL key rules use the
  same answer. (The keys request has no client: WrongArity there crashes
  Redis 7.0, so testmod does not call it then.)
- Replicate wraps two or more commands of one command in MULTI/EXEC, as
  Redis does for any command that propagates more than one;
- with cluster mode off: GetClusterSize 0, GetMyClusterID and
  GetClusterNodesList NULL, GetClusterNodeInfo and SendClusterMessage
  ERR (GetClusterNodeInfo of a 40-character id crashes Redis 7.0).
"""
import glob
import os
import time

import pytest
from conftest import REDIS_BIN, SERVER, Server
from module_util import loadmodule
from repl_util import Raw, parse_commands, read_rdb_payload
from resp_client import RespConn
from test_differential_more import Typed, tplain
from test_modules import BASE, WRONGTYPE, c, dbl, err_text, mref, msrv, poll, so, typed, x  # noqa: F401 - fixtures

ON_REDIS = os.path.realpath(SERVER) == os.path.realpath(REDIS_BIN)
KEEL_ONLY = pytest.mark.skipif(ON_REDIS, reason="Keel's own behaviour")


def bclog(conn):
    return [e.decode() for e in x(conn, "tm.bc", "log")]


# ---------------------------------------------------------------- blocked clients


def test_blocked_client_callbacks_contexts(c):
    x(c, "tm.bc", "log")
    assert x(c, "tm.bc", "reply", "20") == b"done"
    assert poll(lambda: bclog(c) or None, "the free callback") == [
        "command reply=0 timeout=0 handle=null",
        "reply reply=1 timeout=0 handle=bc privdata=done",
        "free disconnected=0 handle=null privdata=same"]
    # A timeout: the thread unblocks later; the client counts as gone then.
    assert err_text(x(c, "tm.bc", "reply", "300", "50")) == "ERR tm.bc timed out"
    log = []
    poll(lambda: log.extend(bclog(c)) or len(log) == 3, "the free callback after the timeout")
    assert log == ["command reply=0 timeout=0 handle=null",
                   "timeout reply=0 timeout=1 handle=bc privdata=null",
                   "free disconnected=1 handle=null privdata=same"]
    # Blocked inside MULTI: refused, the client never held.
    assert x(c, "MULTI") == "OK"
    assert x(c, "tm.bc", "reply", "10") == "QUEUED"
    assert [err_text(e) for e in x(c, "EXEC")] == ["ERR Blocking module command called from transaction"]
    log = []
    poll(lambda: log.extend(bclog(c)) or len(log) == 2, "the free callback after MULTI")
    assert log == ["command reply=0 timeout=0 handle=null", "free disconnected=1 handle=null privdata=same"]


def test_blocked_client_disconnect_callback(msrv, c):
    x(c, "tm.bc", "log")
    gone = RespConn(msrv)
    gone.send("tm.bc", "reply", "300")
    poll(lambda: bclog(c) == ["command reply=0 timeout=0 handle=null"], "the command to block")
    gone.close()
    log = []
    poll(lambda: log.extend(bclog(c)) or len(log) == 2, "the disconnect and free callbacks")
    assert log == ["disconnect disconnected=0 handle=null arg=bc", "free disconnected=1 handle=null privdata=same"]
    assert x(c, "PING") == "PONG"


def test_abort_block(c):
    x(c, "tm.bc", "log")
    # From the thread, after a thread-safe context wrote the answer.
    assert x(c, "tm.bc", "abort", "20") == b"from the thread"
    # In the command itself, which then replies; the pipeline goes on.
    c.send("tm.bc", "now", "0")
    c.send("PING")
    assert [c.read(), c.read()] == ["aborted", "PONG"]
    time.sleep(0.1)
    # No reply, timeout, free or disconnect callback ran for either.
    assert bclog(c) == ["command reply=0 timeout=0 handle=null"] * 2


# ---------------------------------------------------------------- thread-safe contexts


def test_thread_safe_context_try_lock(c):
    assert x(c, "tm.trylock", "busy") == [1, "EBUSY"]
    assert x(c, "tm.trylock", "idle") == ["locked", 1]
    assert x(c, "GET", "tm:trylock") == b"1"
    assert err_text(x(c, "tm.trylock", "other")) == "ERR unknown mode"


def test_detached_thread_safe_context(c):
    assert x(c, "SELECT", "5") == "OK"
    assert x(c, "tm.detached", "dk", "val") == "OK"
    assert x(c, "SELECT", "0") == "OK"
    assert poll(lambda: x(c, "GET", "dk"), "the thread's SET") == b"val db=0"
    assert x(c, "SELECT", "5") == "OK"
    assert x(c, "EXISTS", "dk") == 0
    assert x(c, "SELECT", "0") == "OK"


# ---------------------------------------------------------------- CallReply readers

# What every typed reader answers for a reply of another type:
# [Integer, Double, Bool, BigNumber, Verbatim, ArrayElement(0),
# SetElement(0), MapElement(0), MapElement(length)].
LLMIN, DMIN, IMIN = -2 ** 63, b"-9.2233720368547758e+18", -2 ** 31


def test_call_reply_readers(c):
    x(c, "HSET", "h", "f", "v")
    x(c, "SADD", "s", "m1")
    x(c, "SET", "str", "hello")
    assert x(c, "tm.cr", "3", "HGETALL", "h") == [
        [b"map:1", b"string:f len=1", b"string:v len=1"], b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n", None,
        [LLMIN, DMIN, IMIN, 0, 0, 0, 0, 1, 0]]
    assert x(c, "tm.cr", "3", "SMEMBERS", "s") == [
        [b"set:1", b"string:m1 len=2"], b"~1\r\n$2\r\nm1\r\n", None, [LLMIN, DMIN, IMIN, 0, 0, 0, 1, 0, 0]]
    assert x(c, "tm.cr", "3", "tm.reply", "array") == [
        [b"array:6", b"integer:1 len=0", b"string:two len=3",
         [b"array:3", b"integer:3 len=0", b"string:four len=4", b"null len=0"], b"null len=0", [b"array:0"],
         b"integer:-5 len=0"],
        b"*6\r\n:1\r\n$3\r\ntwo\r\n*3\r\n:3\r\n+four\r\n_\r\n_\r\n*0\r\n:-5\r\n", None,
        [LLMIN, DMIN, IMIN, 0, 0, 1, 0, 0, 0]]
    assert x(c, "tm.cr", "3", "tm.reply", "map")[0] == [
        b"map:2", b"string:a len=1", b"integer:1 len=0", b"string:b len=1",
        [b"array:2", b"bool:1 len=0", b"bool:0 len=0"]]
    assert x(c, "tm.cr", "3", "tm.reply", "bignumber") == [
        b"bignumber:123456789012345678901234567890 len=0", b"(123456789012345678901234567890\r\n", None,
        [LLMIN, DMIN, IMIN, 1, 0, 0, 0, 0, 0]]
    assert x(c, "tm.cr", "3", "tm.reply", "verbatim") == [
        b"verbatim:txt:verbatim text len=0", b"=17\r\ntxt:verbatim text\r\n", None,
        [LLMIN, DMIN, IMIN, 0, 1, 0, 0, 0, 0]]
    assert x(c, "tm.cr", "3", "tm.reply2", "verbatim")[0] == b"verbatim:mkd:# title\nbody len=0"
    assert x(c, "tm.cr", "3", "tm.reply2", "longdouble", "2.5") == [
        b"double:2.5 len=0", b",2.5\r\n", None, [LLMIN, b"2.5", IMIN, 0, 0, 0, 0, 0, 0]]
    got = x(c, "tm.cr", "3", "tm.reply", "double")
    assert got[0] == [b"array:6"] + [b"double:%s len=0" % d for d in (
        b"3.1400000000000001", b"1.0000000000000001e+300", b"-0.5", b"10", b"inf", b"-inf")]
    # Scalars: CreateStringFromCallReply gives strings, errors and integers.
    assert x(c, "tm.cr", "3", "GET", "str") == [b"string:hello len=5", b"$5\r\nhello\r\n", b"hello",
                                                 [LLMIN, DMIN, IMIN, 0, 0, 0, 0, 0, 0]]
    assert x(c, "tm.cr", "2", "EXISTS", "str") == [b"integer:1 len=0", b":1\r\n", b"1",
                                                    [1, DMIN, IMIN, 0, 0, 0, 0, 0, 0]]
    assert x(c, "tm.cr", "3", "INCR", "str")[1:3] == [b"-ERR value is not an integer or out of range\r\n",
                                                       b"ERR value is not an integer or out of range"]
    assert x(c, "tm.cr", "3", "tm.reply", "simple")[:3] == [b"string:hello simple len=12", b"+hello simple\r\n",
                                                            b"hello simple"]
    assert x(c, "tm.cr", "3", "GET", "nokey") == [b"null len=0", b"_\r\n", None,
                                                   [LLMIN, DMIN, IMIN, 0, 0, 0, 0, 0, 0]]
    assert x(c, "tm.cr", "2", "GET", "nokey")[1] == b"$-1\r\n"
    # RESP2: maps and sets are arrays, big numbers and verbatim strings strings.
    assert x(c, "tm.cr", "2", "HGETALL", "h")[0] == [b"array:2", b"string:f len=1", b"string:v len=1"]
    assert x(c, "tm.cr", "2", "tm.reply", "bignumber")[:3] == [
        b"string:123456789012345678901234567890 len=30", b"$30\r\n123456789012345678901234567890\r\n",
        b"123456789012345678901234567890"]
    assert err_text(x(c, "tm.cr", "3", "NOSUCH")) == "ERR Call failed: ENOENT"


CR_COMMANDS = [("3", "tm.reply", k) for k in ("map", "set", "bignumber", "verbatim", "array", "empties", "longlong",
                                                 "simple", "error", "null", "postponed")] + \
    [("2", "tm.reply", k) for k in ("map", "set", "bignumber", "verbatim", "null", "empties")] + \
    [("3", "tm.reply2", "postnested"), ("3", "tm.reply2", "postmap"), ("3", "tm.reply2", "longdouble", "1.5"),
     ("3", "HGETALL", "h"), ("3", "SMEMBERS", "s"), ("3", "LRANGE", "l", "0", "-1"), ("3", "ZSCORE", "z", "m"),
     ("2", "ZSCORE", "z", "m"), ("3", "INCR", "l"), ("3", "tm.reply", "double")]


def test_call_reply_readers_match_redis(c, mref):
    ref = RespConn(mref)
    for conn in (c, ref):
        for cmd in (("FLUSHALL",), ("HSET", "h", "f", "v", "g", "w"), ("SADD", "s", "a"), ("RPUSH", "l", "x"),
                    ("ZADD", "z", "2.5", "m")):
            x(conn, *cmd)
    for cmd in CR_COMMANDS:
        mine, theirs = x(c, "tm.cr", *cmd), x(ref, "tm.cr", *cmd)
        if cmd[-1] == "double":  # the proto holds the doubles' text: shortest on Keel (by design)
            mine, theirs = mine[:1] + mine[2:], theirs[:1] + theirs[2:]
        assert mine == theirs, cmd
    ref.close()


# ---------------------------------------------------------------- strings and replies


def test_strings_double_hold_retain_trim(c):
    for arg, want in [("3.14", 3.14), ("10", 10.0), ("-0", 0.0), ("inf", float("inf")), ("1e300", 1e300)]:
        assert dbl(x(c, "tm.str2", "double", arg)) == want, arg
    assert x(c, "tm.str2", "double", "-0") == b"-0"
    assert x(c, "tm.str2", "double", "10") == b"10"
    assert x(c, "tm.str2", "double", "inf") == b"inf"
    assert err_text(x(c, "tm.str2", "double", "abc")) == "ERR not a double"
    # A retained string is the module's (appending to it is allowed) and outlives the command.
    assert x(c, "tm.str2", "retain", "abc") == "OK"
    assert x(c, "tm.str2", "get") == b"abc+"
    # A held argument outlives the command too.
    assert x(c, "tm.str2", "hold", "xyz") == "OK"
    assert x(c, "tm.str2", "get") == b"xyz"
    assert x(c, "tm.str2", "trim", "q") == [b"q" + b"x" * 1000, b"xyz"]
    assert x(c, "tm.str2", "get") == b"xyz"
    assert x(c, "tm.str2", "free") == "OK"
    assert x(c, "tm.str2", "get") is None
    assert x(c, "tm.str2", "trim", "") == [b"x" * 1000, None]
    # HoldString in an auto-memory context: the same string, left to the
    # context (under ASan a reference the context kept would be a leak).
    for _ in range(3):
        assert x(c, "tm.str2", "holdauto", "zz") == ["same", b"zz"]


@KEEL_ONLY
def test_string_from_double_is_shortest(c):
    # Keel writes doubles as Redis 7.2 does (docs/MODULES.md); 7.0: %.17g.
    assert x(c, "tm.str2", "double", "3.14") == b"3.14"
    assert x(c, "tm.str2", "double", "1e300") == b"1e+300"


def test_reply_long_double_verbatim_postponed(msrv, c):
    for arg, want in [("3.5", b"3.5"), ("1e30", b"1000000000000000000024696061952"), ("0.1", b"0.1"),
                      ("-0", b"0"), ("inf", b"inf"), ("-inf", b"-inf"), ("nan", b"nan"),
                      ("123456789.123456789", b"123456789.12345678899873747")]:
        assert x(c, "tm.reply2", "longdouble", arg) == want, arg
    assert x(c, "tm.reply2", "verbatim") == b"# title\nbody"
    assert x(c, "tm.reply2", "postmap") == [b"a", [b"x", b"y", b"z"], b"b", 1]
    assert x(c, "tm.reply2", "postset") == [1, 2]
    assert x(c, "tm.reply2", "postnested") == [[b"k", []], [b"m"]]
    assert err_text(x(c, "tm.reply2", "bogus")) == "ERR unknown reply kind"
    t = typed(msrv, 3)
    T = lambda *a: tplain(t.call(*a))  # noqa: E731
    assert T("tm.reply2", "longdouble", "3.5") == Typed("double", 3.5)
    assert T("tm.reply2", "longdouble", "inf") == Typed("double", float("inf"))
    assert T("tm.reply2", "longdouble", "-0") == Typed("double", 0.0)
    assert T("tm.reply2", "longdouble", "nan") == Typed("double", "nan")
    assert T("tm.reply2", "verbatim") == Typed("verbatim", (b"mkd", b"# title\nbody"))
    assert T("tm.reply2", "postmap") == Typed("map", [(b"a", Typed("set", [b"x", b"y", b"z"])), (b"b", 1)])
    assert T("tm.reply2", "postset") == Typed("set", [1, 2])
    assert T("tm.reply2", "postnested") == [Typed("map", [(b"k", [])]), Typed("set", [b"m"])]
    t.close()


# ---------------------------------------------------------------- the key API


def test_key_exists_abs_expire_unlink(c):
    x(c, "CONFIG", "RESETSTAT")
    x(c, "SET", "s", "hello")
    x(c, "SET", "e", "1", "PX", "1")
    time.sleep(0.05)
    assert x(c, "tm.okey", "exists", "s") == 1
    assert x(c, "tm.okey", "exists", "nokey") == 0
    assert x(c, "tm.okey", "exists", "e") == 0  # expired
    stats = {k: v for k, v in (ln.split(":") for ln in x(c, "INFO", "stats").decode().split("\r\n") if ":" in ln)}
    assert (stats["keyspace_hits"], stats["keyspace_misses"], stats["expired_keys"]) == ("1", "2", "1")
    assert x(c, "tm.okey", "absexpire", "s") == -1
    assert x(c, "tm.okey", "absexpire", "nokey") == -1
    assert x(c, "tm.okey", "absexpire.ro", "nokey") is None
    assert x(c, "tm.okey", "setabsexpire", "nokey", "99999999999999") == 1
    assert x(c, "tm.okey", "setabsexpire", "s", "-5") == 1
    assert x(c, "tm.okey", "setabsexpire.ro", "s", "99999999999999") == 1
    assert x(c, "tm.okey", "setabsexpire", "s", "99999999999999") == 0
    assert x(c, "tm.okey", "absexpire", "s") == 99999999999999
    assert x(c, "tm.okey", "absexpire.ro", "s") == 99999999999999
    assert x(c, "PEXPIRETIME", "s") == 99999999999999
    when = int(time.time() * 1000) + 100_000
    assert x(c, "tm.okey", "setabsexpire", "s", str(when)) == 0
    assert 99_000 < x(c, "PTTL", "s") <= 100_000
    assert x(c, "tm.okey", "setabsexpire", "s", "-1") == 0  # REDISMODULE_NO_EXPIRE: persist
    assert x(c, "PTTL", "s") == -1
    assert x(c, "tm.okey", "setabsexpire", "s", "1") == 0  # in the past: gone
    assert x(c, "EXISTS", "s") == 0
    # UnlinkKey
    x(c, "RPUSH", "l", "a")
    assert x(c, "tm.okey", "unlink.ro", "l") == [1, 2]
    assert x(c, "tm.okey", "unlink", "l") == [0, 0]
    assert x(c, "EXISTS", "l") == 0
    assert x(c, "tm.okey", "unlink", "nokey") == [0, 0]
    assert x(c, "tm.okey", "keyname", "somekey") == [b"somekey", "same"]


def test_key_exists_fires_keymiss(msrv, c):
    x(c, "CONFIG", "SET", "notify-keyspace-events", "Em")
    sub = msrv.client()
    p = sub.pubsub()
    p.psubscribe("__keyevent@0__:*")
    assert p.get_message(timeout=2)["type"] == "psubscribe"
    try:
        assert x(c, "tm.okey", "exists", "missing1") == 0
        m = p.get_message(timeout=2)
        assert (m["channel"], m["data"]) == (b"__keyevent@0__:keymiss", b"missing1")
    finally:
        x(c, "CONFIG", "SET", "notify-keyspace-events", "")
        p.close()
        sub.close()


def test_string_truncate(c):
    x(c, "SET", "s", "hello")
    assert x(c, "tm.okey", "truncate", "s", "3") == 0
    assert x(c, "GET", "s") == b"hel"
    assert x(c, "tm.okey", "truncate", "s", "6") == 0
    assert x(c, "GET", "s") == b"hel\x00\x00\x00"
    assert x(c, "tm.okey", "truncate", "s", "0") == 0
    assert (x(c, "EXISTS", "s"), x(c, "GET", "s")) == (1, b"")
    assert x(c, "tm.okey", "truncate", "nokey", "0") == 0
    assert x(c, "EXISTS", "nokey") == 0
    assert x(c, "tm.okey", "truncate", "nokey", "4") == 0
    assert x(c, "GET", "nokey") == b"\x00" * 4
    x(c, "SET", "n", "12345")  # an integer-encoded string
    assert x(c, "tm.okey", "truncate", "n", "2") == 0
    assert x(c, "GET", "n") == b"12"
    assert x(c, "tm.okey", "truncate.ro", "s", "1") == 1
    x(c, "RPUSH", "l", "a")
    assert x(c, "tm.okey", "truncate", "l", "1") == 1
    assert x(c, "tm.okey", "truncate", "s", str(512 * 1024 * 1024 + 1)) == 1
    assert x(c, "GET", "s") == b""


def test_zset_incrby_and_rem(c):
    Z = lambda *a: x(c, "tm.okey", "zincr", "z", *a)  # noqa: E731  [result, flags, new score]
    assert Z("1.5", "m") == [0, 4, b"1.5"]  # ADDED
    assert Z("1.5", "m") == [0, 8, b"3"]  # UPDATED
    assert Z("0", "m") == [0, 0, b"3"]  # the same score: no flag
    assert Z("1", "m", "NX") == [0, 16, b"-12345"]  # NOP: the new score left alone
    assert Z("1", "q", "XX") == [0, 16, b"-12345"]
    assert Z("1", "m", "XX") == [0, 8, b"4"]
    assert Z("-10", "m", "GT") == [0, 16, b"-12345"]
    assert Z("10", "m", "GT") == [0, 8, b"14"]
    assert Z("1", "m", "LT") == [0, 16, b"-12345"]
    assert Z("inf", "m") == [0, 8, b"inf"]
    assert Z("-inf", "m", "XX") == [1, 0, b"-12345"]  # inf - inf is NaN: refused, flags cleared
    assert x(c, "ZSCORE", "z", "m") == b"inf"
    x(c, "RPUSH", "l", "a")
    assert x(c, "tm.okey", "zincr", "l", "1", "m") == [1, 0, b"-12345"]
    assert x(c, "tm.okey", "zincr.ro", "z", "1", "m") == [1, 0, b"-12345"]
    assert x(c, "tm.okey", "zrem", "z", "nosuch") == [0, 0]
    assert x(c, "tm.okey", "zrem", "z", "m") == [0, 1]
    assert x(c, "EXISTS", "z") == 0  # the last member gone: the key too
    assert x(c, "tm.okey", "zrem", "nokey", "m") == [0, 0]
    assert x(c, "tm.okey", "zrem", "l", "m") == [1, -1]
    assert x(c, "tm.okey", "zrem.ro", "l", "m") == [1, -1]
    assert x(c, "tm.okey", "zincr", "z2", "2", "a") == [0, 4, b"2"]
    assert x(c, "ZRANGE", "z2", "0", "-1", "WITHSCORES") == [b"a", b"2"]


# ---------------------------------------------------------------- module types and their IO


def test_module_type_replace_value(c):
    assert x(c, "tm.treplace", "t", "x") == [1, -1]  # missing
    assert x(c, "tm.tadd", "t", "1", "1", "a") == 1
    assert x(c, "tm.tadd", "t", "2", "2", "b") == 2
    assert x(c, "tm.treplace", "t", "new") == [0, 2]
    assert dbl(x(c, "tm.tget", "t")) == [[0, 0.0, 0.0, b"new"]]
    assert x(c, "tm.treplace", "t", "newer") == [0, 1]
    x(c, "SET", "s", "v")
    assert x(c, "tm.treplace", "s", "x") == [1, -1]  # another type
    assert x(c, "tm.t2", "set", "t2", "hello") == "OK"
    assert x(c, "tm.treplace", "t2", "x") == [1, -1]  # another module type
    assert x(c, "tm.t2", "get", "t2") == b"hello"
    assert err_text(x(c, "tm.t2", "get", "s")) == WRONGTYPE


def test_long_double_saved_and_loaded(c, mref):
    """SaveLongDouble / LoadLongDouble (a long double as Redis writes it,
    text in %La form) keep a long double's range and precision through a
    DUMP / RESTORE and a snapshot, here and in Redis 7.0 alike."""
    for conn in (c, RespConn(mref)):
        try:
            assert conn.call("FLUSHALL") == "OK"
            for key, text, want in (("a", "0.1", b"0.1"), ("b", "1e4000", b"1e+4000"),
                                    ("c", "-3.25", b"-3.25"), ("d", "inf", b"inf")):
                assert x(conn, "tm.t2", "set", key, text, "ld") == "OK"
                assert x(conn, "RESTORE", key + "2", "0", x(conn, "DUMP", key)) == "OK"
                assert x(conn, "tm.t2", "get", key + "2") == want, text
            assert x(conn, "DEBUG", "RELOAD") == "OK"
            assert x(conn, "tm.t2", "get", "b") == b"1e+4000"
        finally:
            if conn is not c:
                conn.close()


def test_io_key_name_context_and_errors(msrv, c):
    x(c, "tm.t2", "log")
    assert x(c, "tm.options") == "OK"  # HANDLE_IO_ERRORS: Redis would stop at a read error otherwise
    assert x(c, "tm.t2", "set", "good", "fine") == "OK"
    assert x(c, "tm.t2", "set", "bad", "oops", "short") == "OK"
    good, bad = x(c, "DUMP", "good"), x(c, "DUMP", "bad")
    assert x(c, "RESTORE", "good2", "0", good) == "OK"
    assert x(c, "tm.t2", "get", "good2") == b"fine"
    assert err_text(x(c, "RESTORE", "bad2", "0", bad)) == "ERR Bad data format"
    assert x(c, "EXISTS", "bad2") == 0
    assert [e.decode() for e in x(c, "tm.t2", "log")] == [
        "save key=good ctx=stable error=0", "save key=bad ctx=stable error=0",
        "load key=good2 ctx=stable error=0", "load key=bad2 ctx=stable error=0",
        "ioerror key=bad2 ctx=stable error=1"]
    assert poll(lambda: "<testmod> testtype2: short read for key bad2" in msrv.log_text(), "LogIOError's line")
    # A snapshot saved and loaded again names each key.
    assert x(c, "DEL", "bad") == 1
    assert x(c, "DEBUG", "RELOAD") == "OK"
    assert sorted(e.decode() for e in x(c, "tm.t2", "log")) == [
        "load key=good ctx=stable error=0", "load key=good2 ctx=stable error=0",
        "save key=good ctx=stable error=0", "save key=good2 ctx=stable error=0"]
    assert x(c, "tm.t2", "get", "good2") == b"fine"


def aof_commands(server, kind):
    """The commands of the server's AOF files of a kind ("base", "incr")."""
    out = []
    for path in sorted(glob.glob(os.path.join(server.dir, "appendonlydir", "*.%s.aof" % kind))):
        with open(path, "rb") as f:
            out += [[a.decode() for a in cmd] for cmd in parse_commands(f.read())]
    return out


def rewrite_done(conn):
    info = x(conn, "INFO", "persistence").decode()
    return "aof_rewrite_in_progress:0" in info and "aof_rewrite_scheduled:0" in info


def test_replicate_reaches_the_aof_and_io_key_name_in_rewrite(so):
    s = Server(*BASE, "--appendonly", "yes", "--appendfsync", "always", "--aof-use-rdb-preamble", "no",
               *loadmodule(so))
    try:
        conn = RespConn(s)
        poll(lambda: rewrite_done(conn), "the first AOF rewrite")
        assert x(conn, "tm.rep", "-", "1", "SET", "r1", "v") == 0
        assert x(conn, "tm.rep", "A", "1", "SET", "r2", "v") == 0  # not to the AOF
        assert x(conn, "tm.rep", "R", "1", "SET", "r3", "v") == 0  # not to replicas
        assert x(conn, "tm.rep", "-", "1", "NOSUCH", "x") == 1
        assert x(conn, "EXISTS", "r1", "r2", "r3") == 0  # replicated, never run
        assert x(conn, "tm.t2", "set", "k2", "val") == "OK"
        assert x(conn, "SET", "marker", "1") == "OK"
        cmds = [cmd for cmd in aof_commands(s, "incr") if cmd[0] != "SELECT"]
        assert cmds == [["SET", "r1", "v"], ["SET", "r3", "v"], ["tm.t2", "set", "k2", "val"],
                        ["SET", "marker", "1"]]
        # The rewrite asks the type for commands; the key is GetKeyNameFromIO's.
        assert x(conn, "BGREWRITEAOF") in ("Background append only file rewriting started",
                                           b"Background append only file rewriting started")
        poll(lambda: rewrite_done(conn), "the AOF rewrite")
        assert ["tm.t2", "set", "k2", "val"] in aof_commands(s, "base")
        conn.close()
    finally:
        s.stop()


# ---------------------------------------------------------------- keyspace events


def test_keyspace_events_to_the_module(c):
    flags = {"": 0, "KEA": 10239, "Kl": 17, "Em": 2050, "En": 16386, "Ed": 8194, "Kg$lshzxetd": 10237}
    try:
        for conf, want in flags.items():
            assert x(c, "CONFIG", "SET", "notify-keyspace-events", conf) == "OK"
            assert x(c, "tm.notify", "flags") == want, conf
    finally:
        x(c, "CONFIG", "SET", "notify-keyspace-events", "")
    # generic | string | module; whatever notify-keyspace-events says (nothing here).
    assert x(c, "tm.notify", "sub", str(4 | 8 | 8192)) == 0
    assert err_text(x(c, "tm.notify", "sub", "4")) == "ERR already subscribed"
    x(c, "SET", "a", "1")
    x(c, "LPUSH", "l", "x")  # a list event: not subscribed
    x(c, "DEL", "a")
    x(c, "SELECT", "2")
    x(c, "SET", "b", "1")
    x(c, "EXPIRE", "b", "100")
    assert x(c, "tm.notify", "emit", "8192", "myevent", "k2") == 0
    x(c, "SELECT", "0")
    assert x(c, "tm.notify", "emit", "16", "listev", "k3") == 0  # list: not subscribed
    assert x(c, "tm.kset", "c", "v") == "OK"  # the key API emits nothing
    assert [e.decode() for e in x(c, "tm.notify", "log")] == [
        "8 set a db=0", "4 del a db=0", "8 set b db=2", "4 expire b db=2", "8192 myevent k2 db=2"]


def test_notify_keyspace_event_reaches_pubsub(msrv, c):
    x(c, "CONFIG", "SET", "notify-keyspace-events", "Kd")
    sub = msrv.client()
    p = sub.pubsub()
    p.psubscribe("__keyspace@0__:*")
    assert p.get_message(timeout=2)["type"] == "psubscribe"
    try:
        assert x(c, "tm.notify", "emit", "8192", "custom", "mk") == 0
        m = p.get_message(timeout=2)
        assert (m["channel"], m["data"]) == (b"__keyspace@0__:mk", b"custom")
        assert x(c, "tm.notify", "emit", "8", "strev", "mk") == 0  # a class not configured
        assert p.get_message(timeout=0.3) is None
    finally:
        x(c, "CONFIG", "SET", "notify-keyspace-events", "")
        p.close()
        sub.close()


# ---------------------------------------------------------------- timers


def test_timer_info_and_stop(c):
    tid = x(c, "tm.tmr", "create", "10000", "k1")
    remaining, data = x(c, "tm.tmr", "info", str(tid))
    assert 9000 < remaining < 10000 and data == b"k1"  # (whole ms left: 9999 at once, as Redis)
    assert x(c, "tm.tmr", "stop", str(tid)) == b"k1"
    assert err_text(x(c, "tm.tmr", "info", str(tid))) == "ERR no such timer"
    assert err_text(x(c, "tm.tmr", "stop", str(tid))) == "ERR no such timer"
    assert err_text(x(c, "tm.tmr", "info", "0")) == "ERR no such timer"
    # A stopped timer never fires.
    tid = x(c, "tm.tmr", "create", "50", "k3")
    assert x(c, "tm.tmr", "stop", str(tid)) == b"k3"
    # One that fires is gone afterwards.
    tid = x(c, "tm.tmr", "create", "100", "k2")
    assert x(c, "tm.tmr", "info", str(tid))[1] == b"k2"
    assert poll(lambda: x(c, "GET", "k2"), "the timer") == b"fired"
    assert err_text(x(c, "tm.tmr", "info", str(tid))) == "ERR no such timer"
    assert err_text(x(c, "tm.tmr", "stop", str(tid))) == "ERR no such timer"
    assert x(c, "EXISTS", "k3") == 0


# ---------------------------------------------------------------- databases, random bytes, keys, pools


def test_select_db(c):
    assert x(c, "tm.db", "3") == [0, 0, 3]
    x(c, "SET", "indb3", "x")  # the client stays in db 3
    assert x(c, "tm.db", "0") == [3, 0, 0]
    assert x(c, "EXISTS", "indb3") == 0
    assert x(c, "tm.db", "16") == [0, 1, 0]
    assert x(c, "tm.db", "-1") == [0, 1, 0]
    x(c, "SELECT", "3")
    assert x(c, "tm.db", "3") == [3, 0, 3]
    assert x(c, "EXISTS", "indb3") == 1
    x(c, "SELECT", "0")


def test_random_bytes_and_hex_chars(c):
    assert x(c, "tm.rand", "0") == [b"", b""]
    seen = set()
    for _ in range(3):
        raw, hexchars = x(c, "tm.rand", "32")
        assert len(raw) == 64 and len(hexchars) == 32
        assert set(hexchars.decode()) <= set("0123456789abcdef")
        int(raw, 16)
        seen.add(raw)
        seen.add(hexchars)
    assert len(seen) == 6
    # Over many bytes every hex digit shows up.
    assert set(x(c, "tm.rand", "2000")[1].decode()) == set("0123456789abcdef")


def test_getkeys_api_command(msrv, c):
    assert x(c, "COMMAND", "GETKEYS", "tm.gk", "KEY", "a", "VAL", "x", "KEY", "b") == [b"a", b"b"]
    assert x(c, "COMMAND", "GETKEYS", "tm.gk", "KEY", "a", "KEY") == [b"a"]
    assert err_text(x(c, "COMMAND", "GETKEYS", "tm.gk", "VAL", "x")) == "ERR Invalid arguments specified for command"
    assert x(c, "COMMAND", "INFO", "tm.gk") == [
        [b"tm.gk", -1, ["readonly", "module", "movablekeys"], 0, 0, 0, [], [], [], []]]
    assert x(c, "tm.gk", "KEY", "a", "VAL", "x", "KEY", "b") == [0, b"a", b"b"]
    assert err_text(x(c, "tm.gk", "KEY")) == "ERR wrong number of arguments for 'tm.gk' command"
    # ACL key rules see the keys the module names.
    assert x(c, "ACL", "SETUSER", "gkuser", "on", ">pw", "~a*", "+@all") == "OK"
    try:
        u = RespConn(msrv)
        assert x(u, "AUTH", "gkuser", "pw") == "OK"
        assert x(u, "tm.gk", "KEY", "a1", "KEY", "a2") == [0, b"a1", b"a2"]
        assert x(u, "tm.gk", "VAL", "b") == [0]
        assert err_text(x(u, "tm.gk", "KEY", "a1", "KEY", "b")) == \
            "NOPERM this user has no permissions to access one of the keys used as arguments"
        u.close()
    finally:
        x(c, "ACL", "DELUSER", "gkuser")


def test_pool_alloc(c):
    for count, size in [(10, 100), (1, 1), (100, 3), (5, 10000), (1000, 8)]:
        assert x(c, "tm.pool", str(count), str(size)) == [1, 1, 1], (count, size)


# ---------------------------------------------------------------- Replicate


def test_replicate_reaches_replicas(msrv, c):
    raw = Raw(msrv.port)
    try:
        raw.send("SYNC")
        read_rdb_payload(raw)
        for cmd, want in [(("tm.rep", "-", "1", "SET", "r1", "v"), 0),
                          (("tm.rep", "A", "1", "SET", "r2", "v"), 0),
                          (("tm.rep", "R", "1", "SET", "r3", "v"), 0),
                          (("tm.rep", "-", "2", "INCR", "r4"), 0),
                          (("MULTI",), "OK"), (("tm.rep", "-", "1", "SET", "r5", "v"), "QUEUED"),
                          (("SET", "r6", "x"), "QUEUED"), (("EXEC",), [0, "OK"]),
                          (("tm.rep", "-", "1", "NOSUCH"), 1), (("SELECT", "4"), "OK"),
                          (("tm.rep", "-", "1", "SET", "r7", "v"), 0), (("SET", "marker", "1"), "OK")]:
            assert x(c, *cmd) == want, cmd
        x(c, "SELECT", "0")
        assert x(c, "EXISTS", "r1", "r2", "r3", "r4", "r5") == 0
        data = b""
        deadline = time.time() + 10
        while b"marker" not in data and time.time() < deadline:
            raw._fill()
            data, raw.buf = data + raw.buf, b""
        cmds = [[a.decode() for a in cmd] for cmd in parse_commands(data) if cmd != [b"PING"]]
        assert cmds == [["SELECT", "0"], ["SET", "r1", "v"], ["SET", "r2", "v"],
                        ["MULTI"], ["INCR", "r4"], ["INCR", "r4"], ["EXEC"],
                        ["MULTI"], ["SET", "r5", "v"], ["SET", "r6", "x"], ["EXEC"],
                        ["SELECT", "4"], ["SET", "r7", "v"], ["SET", "marker", "1"]]
    finally:
        raw.close()


# ---------------------------------------------------------------- cluster mode off


def test_cluster_answers_without_cluster(c):
    # [size, my id, nodes list, numnodes, node info, its port, flags, send]
    assert x(c, "tm.cluster") == [0, None, "NULL", 99, 1, -7, -7, 1]
    assert x(c, "PING") == "PONG"


def test_new_commands_are_listed(c):
    names = x(c, "COMMAND", "LIST", "FILTERBY", "MODULE", "testmod")
    for name in ("tm.bc", "tm.trylock", "tm.detached", "tm.cr", "tm.str2", "tm.reply2", "tm.okey", "tm.treplace",
                 "tm.t2", "tm.notify", "tm.tmr", "tm.db", "tm.rand", "tm.gk", "tm.pool", "tm.rep", "tm.cluster"):
        assert name.encode() in names, name
    assert x(c, "tm.missing") == b""
