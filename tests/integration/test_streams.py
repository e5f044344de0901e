"""Stream commands (core, no consumer groups): XADD with every ID form and
trimming option, XLEN, XRANGE/XREVRANGE bounds and COUNT, XDEL, XTRIM,
XSETID with the XINFO STREAM fields it changes, XREAD plain and blocking
(several connections, MULTI, scripts, CLIENT UNBLOCK), type integration,
keyspace events, propagation and bad input.

Every test passes against Debian's redis-server 7.0.15 except those marked
keel_only: XREAD's `+` ID (a Redis 7.4 addition) and the propagation log
(DEBUG PROPAGATION-LOG exists only in Keel). Replies are checked raw: the
`x` client drops redis-py's stream reply parsers, so XRANGE answers
[[id, [field, value, ...]], ...] and a null array is None."""
import os
import random
import threading
import time

import pytest
import redis
from conftest import SERVER, WRONGTYPE, err, resp_exchange, blocked_call, wait_blocked

keel_only = pytest.mark.skipif(
    SERVER.endswith("redis-server"),
    reason="Keel-only: XREAD + is Redis 7.4, DEBUG PROPAGATION-LOG is Keel's")

MAX = 18446744073709551615  # UINT64_MAX, the largest ms and seq
BAD_ID = "Invalid stream ID specified as stream command argument"
NOT_INT = "value is not an integer or out of range"
XADD_SMALLER = "The ID specified in XADD is equal or smaller than the target stream top item"
XADD_ZERO = "The ID specified in XADD must be greater than 0-0"
EXHAUSTED = "The stream has exhausted the last possible ID, unable to add more items"
MAXLEN_NEG = "The MAXLEN argument must be >= 0."
LIMIT_NEG = "The LIMIT argument must be >= 0."
LIMIT_NO_APPROX = "syntax error, LIMIT cannot be used without the special ~ option"
LIMIT_NO_STRATEGY = "syntax error, LIMIT cannot be used without specifying a trimming strategy"
BOTH_STRATEGIES = "syntax error, MAXLEN and MINID options at the same time are not compatible"
BAD_START = "invalid start ID for the interval"
BAD_END = "invalid end ID for the interval"
# Redis 7.0's text names the command in capitals, unquoted (later versions say 'xread').
UNBALANCED = ("Unbalanced XREAD list of streams: for each stream key an ID or '$' "
              "must be specified.")
XSETID_SMALLER = "The ID specified in XSETID is smaller than the target stream top item"
XSETID_MAXDEL = "The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
XSETID_ADDED = "The entries_added specified in XSETID is smaller than the target stream length"
UNBLOCKED = "UNBLOCKED client unblocked via CLIENT UNBLOCK"
IDMP_KEYS = ["idmp-duration", "idmp-maxsize", "pids-tracked", "iids-tracked", "iids-added", "iids-duplicates"]
INFO_KEYS = ["length", "radix-tree-keys", "radix-tree-nodes", "last-generated-id",
             "max-deleted-entry-id", "entries-added", "recorded-first-entry-id"] + IDMP_KEYS + \
            ["groups", "first-entry", "last-entry"]
RAW_REPLIES = ("XRANGE", "XREVRANGE", "XREAD", "XADD", "XSETID", "COPY", "RENAME")


def arity(cmd):
    return "wrong number of arguments for '%s' command" % cmd


def raw_client(server):
    """A str-decoding client without redis-py's stream reply parsers."""
    c = server.client(decode_responses=True)
    for name in RAW_REPLIES:
        c.response_callbacks.pop(name, None)
    return c


@pytest.fixture
def x(server):
    c = raw_client(server)
    c.flushall()
    yield c
    c.close()


def xc(c, *args):
    return c.execute_command(*args)


def fill(c, key, ids, field="f"):
    """XADD one entry per id (value = the id's ms part); returns the ids."""
    p = c.pipeline(transaction=False)
    for i in ids:
        p.execute_command("XADD", key, i, field, str(i).split("-")[0])
    return p.execute()


def fill_n(c, key, n):
    return fill(c, key, ["%d-0" % i for i in range(1, n + 1)])


def entry(i, field="f"):
    return ["%d-0" % i, [field, str(i)]]


def info(c, key):
    flat = xc(c, "XINFO", "STREAM", key)
    return dict(zip(flat[0::2], flat[1::2]))


def snapshot(c, key):
    """Everything a failed command must leave alone."""
    i = info(c, key)
    return (xc(c, "XRANGE", key, "-", "+"), i["length"], i["last-generated-id"],
            i["entries-added"], i["max-deleted-entry-id"])


def still_blocked(c, t, n=1):
    time.sleep(0.2)
    assert t.is_alive()
    assert c.info("clients")["blocked_clients"] == n


# ---------------- XADD: IDs ----------------

def test_xadd_auto_id(x):
    before = int(time.time() * 1000)
    ids = [xc(x, "XADD", "s", "*", "f", str(i)) for i in range(3)]
    after = int(time.time() * 1000)
    parsed = [tuple(int(p) for p in i.split("-")) for i in ids]
    assert parsed == sorted(set(parsed))  # strictly increasing
    for ms, seq in parsed:
        assert before - 5 <= ms <= after + 5
    assert x.xlen("s") == 3
    assert xc(x, "XRANGE", "s", "-", "+") == [[i, ["f", str(n)]] for n, i in enumerate(ids)]


def test_xadd_explicit_and_partial_ids(x):
    assert xc(x, "XADD", "s", "1-1", "a", "1") == "1-1"
    assert xc(x, "XADD", "s", "5", "a", "2") == "5-0"      # incomplete: seq 0
    assert xc(x, "XADD", "s", "5-*", "a", "3") == "5-1"    # same ms: seq + 1
    assert xc(x, "XADD", "s", "6-*", "a", "4") == "6-0"    # new ms: seq 0
    assert xc(x, "XADD", "s", "6-18446744073709551615", "a", "5") == "6-18446744073709551615"
    assert xc(x, "XADD", "s", "7-3", "a", "6") == "7-3"
    assert xc(x, "XADD", "z", "0-*", "a", "1") == "0-1"    # 0-0 is not allowed
    assert xc(x, "XADD", "z", "0-*", "a", "2") == "0-2"
    assert xc(x, "XADD", "z", "0-5", "a", "3") == "0-5"
    assert [e[0] for e in xc(x, "XRANGE", "s", "-", "+")] == \
        ["1-1", "5-0", "5-1", "6-0", "6-18446744073709551615", "7-3"]
    assert x.xlen("z") == 3


def test_xadd_auto_id_after_future_top(x):
    # The clock is behind the top item: * reuses its ms and bumps seq ...
    assert xc(x, "XADD", "s", "18446744073709551615-0", "f", "v") == "18446744073709551615-0"
    assert xc(x, "XADD", "s", "*", "f", "v") == "18446744073709551615-1"
    # ... and moves to the next ms when seq is exhausted.
    xc(x, "XADD", "t", "2577343934890-18446744073709551615", "f", "v")
    assert xc(x, "XADD", "t", "*", "f2", "v2") == "2577343934891-0"


def test_xadd_id_must_grow(x):
    fill(x, "s", ["5-3", "6-0"])
    before = snapshot(x, "s")
    for bad in ("6-0", "5-9", "1", "6", "5-*", "4-*", "0-1"):
        assert err(xc, x, "XADD", "s", bad, "f", "v") == XADD_SMALLER, bad
    assert snapshot(x, "s") == before
    # deleting the top item does not lower the bar: the last generated ID does
    assert xc(x, "XDEL", "s", "6-0") == 1
    assert err(xc, x, "XADD", "s", "6-0", "f", "v") == XADD_SMALLER
    assert err(xc, x, "XADD", "s", "5-4", "f", "v") == XADD_SMALLER
    assert xc(x, "XADD", "s", "6-*", "f", "v") == "6-1"


def test_xadd_zero_id(x):
    for bad in ("0-0", "0"):
        assert err(xc, x, "XADD", "s", bad, "f", "v") == XADD_ZERO
    assert x.exists("s") == 0
    fill(x, "t", ["1-0"])
    assert err(xc, x, "XADD", "t", "0-0", "f", "v") == XADD_ZERO
    assert x.xlen("t") == 1


def test_xadd_exhausted_ids(x):
    top = "18446744073709551615-18446744073709551615"
    assert xc(x, "XADD", "s", top, "f", "v") == top
    # once the top item is the largest ID, every form gets the same answer
    for form in ("*", "18446744073709551615-*", "5-*", top, "1-1"):
        assert err(xc, x, "XADD", "s", form, "f", "v") == EXHAUSTED, form
    assert err(xc, x, "XADD", "s", "0-0", "f", "v") == XADD_ZERO  # checked first
    assert x.xlen("s") == 1


@pytest.mark.parametrize("bad", [
    "1-", "-1", "18446744073709551616-0", "1-18446744073709551616", "abc", "1-abc",
    "-", "+", "$", ">", "(1", "*-1", "", "10-1-1", "1--1", "0x10", "-0", "8-1 ",
    "99999999999999999999999",
])
def test_xadd_malformed_id(x, bad):
    assert err(xc, x, "XADD", "s", bad, "f", "v") == BAD_ID
    assert x.exists("s") == 0
    fill(x, "s", ["1-1"])
    assert err(xc, x, "XADD", "s", bad, "f", "v") == BAD_ID
    assert xc(x, "XRANGE", "s", "-", "+") == [["1-1", ["f", "1"]]]


def test_xadd_arity(x):
    for args in (["s"], ["s", "*"], ["s", "*", "f"], ["s", "*", "f", "v", "g"],
                 ["s", "5"], ["s", "MAXLEN", "1", "*", "f"], ["s", "NOMKSTREAM", "*"],
                 ["s", "NOMKSTREAM"], ["s", "MAXLEN"]):
        assert err(xc, x, "XADD", *args) == arity("xadd"), args
    assert err(xc, x, "XADD") == arity("xadd")
    assert x.exists("s") == 0


def test_xadd_fields_values_and_large_counts(server, x):
    assert xc(x, "XADD", "s", "1-0", "f", "1", "f", "2", "", "") == "1-0"  # dup fields kept
    pairs = []
    for i in range(2000):
        pairs += ["k%d" % i, "v%d" % i]
    assert xc(x, "XADD", "s", "2-0", *pairs) == "2-0"
    big = "x" * 100000
    assert xc(x, "XADD", "s", "3-0", "big", big) == "3-0"
    assert xc(x, "XRANGE", "s", "1", "1") == [["1-0", ["f", "1", "f", "2", "", ""]]]
    assert xc(x, "XRANGE", "s", "2", "2") == [["2-0", pairs]]
    assert xc(x, "XRANGE", "s", "3", "3") == [["3-0", ["big", big]]]
    assert x.xlen("s") == 3
    # binary-safe fields and values
    rb = server.client()
    rb.response_callbacks.pop("XRANGE", None)
    binary = [b"\x00\xff", b"\r\n", b"\xfe", b"end"]
    assert rb.execute_command("XADD", "bin", "1-0", *binary) == b"1-0"
    assert rb.execute_command("XRANGE", "bin", "-", "+") == [[b"1-0", binary]]
    rb.close()


def test_xadd_nomkstream(server, x):
    assert xc(x, "XADD", "s", "NOMKSTREAM", "*", "f", "v") is None
    assert x.exists("s") == 0
    raw = server.raw()
    assert resp_exchange(raw, b"XADD s NOMKSTREAM * f v\r\n") == b"$-1\r\n"
    raw.close()
    assert x.exists("s") == 0
    fill(x, "s", ["1-0"])
    assert xc(x, "XADD", "s", "NOMKSTREAM", "2-0", "f", "v") == "2-0"
    assert xc(x, "XADD", "s", "nomkstream", "MAXLEN", "10", "3-0", "f", "v") == "3-0"
    assert xc(x, "XADD", "s", "MAXLEN", "~", "10", "NOMKSTREAM", "4-0", "f", "v") == "4-0"
    assert xc(x, "XADD", "s", "NOMKSTREAM", "NOMKSTREAM", "5-0", "f", "v") == "5-0"
    assert x.xlen("s") == 5


# ---------------- XADD: trimming ----------------

def test_xadd_maxlen_exact(x):
    fill_n(x, "s", 10)
    assert xc(x, "XADD", "s", "MAXLEN", "5", "11-0", "f", "11") == "11-0"
    assert xc(x, "XRANGE", "s", "-", "+") == [entry(i) for i in range(7, 12)]
    assert xc(x, "XADD", "s", "maxlen", "=", "3", "12-0", "f", "12") == "12-0"
    assert xc(x, "XRANGE", "s", "-", "+") == [entry(i) for i in range(10, 13)]
    assert xc(x, "XADD", "s", "MAXLEN", "100", "13-0", "f", "13") == "13-0"
    assert x.xlen("s") == 4
    # MAXLEN 0 keeps an empty stream, not a missing key
    assert xc(x, "XADD", "s", "MAXLEN", "0", "14-0", "f", "14") == "14-0"
    assert x.xlen("s") == 0 and x.exists("s") == 1 and x.type("s") == "stream"
    assert info(x, "s")["last-generated-id"] == "14-0"
    assert xc(x, "XADD", "e", "MAXLEN", "0", "*", "a", "b") is not None
    assert x.exists("e") == 1 and x.xlen("e") == 0


def test_xadd_minid_exact(x):
    fill_n(x, "s", 10)
    assert xc(x, "XADD", "s", "MINID", "8", "11-0", "f", "11") == "11-0"
    assert xc(x, "XRANGE", "s", "-", "+") == [entry(i) for i in range(8, 12)]
    assert xc(x, "XADD", "s", "MINID", "=", "10-0", "12-0", "f", "12") == "12-0"
    assert xc(x, "XRANGE", "s", "-", "+") == [entry(i) for i in range(10, 13)]
    assert xc(x, "XADD", "s", "MINID", "1", "13-0", "f", "13") == "13-0"
    assert x.xlen("s") == 4
    # a MINID past the new entry trims the new entry too
    assert xc(x, "XADD", "s", "MINID", "1000", "14-0", "f", "14") == "14-0"
    assert x.xlen("s") == 0 and x.exists("s") == 1
    assert info(x, "s")["last-generated-id"] == "14-0"


@pytest.mark.parametrize("args,msg", [
    (["MAXLEN", "-1"], MAXLEN_NEG),
    (["MAXLEN", "=", "-1"], MAXLEN_NEG),
    (["MAXLEN", "~", "-5"], MAXLEN_NEG),
    (["MAXLEN", "1", "LIMIT", "10"], LIMIT_NO_APPROX),
    (["MAXLEN", "=", "1", "LIMIT", "10"], LIMIT_NO_APPROX),
    (["MINID", "=", "1", "LIMIT", "10"], LIMIT_NO_APPROX),
    (["MAXLEN", "~", "1", "LIMIT", "-1"], LIMIT_NEG),
    (["LIMIT", "5"], LIMIT_NO_STRATEGY),
    (["MAXLEN", "abc"], NOT_INT),
    (["MAXLEN", "1.5"], NOT_INT),
    (["MAXLEN", "9223372036854775808"], NOT_INT),
    (["MAXLEN", "=", "~", "1"], NOT_INT),
    (["MAXLEN", "~", "1", "LIMIT", "abc"], NOT_INT),
    (["MAXLEN", "1", "MINID", "2"], BOTH_STRATEGIES),
    (["MAXLEN", "1", "MAXLEN", "2"], BOTH_STRATEGIES),
    (["MINID", "=", "1", "MINID", "=", "2"], BOTH_STRATEGIES),
    (["MINID", "~", "abc"], BAD_ID),
    (["MINID", "=", "-1"], BAD_ID),
    (["BOGUS"], BAD_ID),  # an unknown word is taken for the ID
])
def test_xadd_trim_option_errors(x, args, msg):
    fill_n(x, "s", 3)
    before = snapshot(x, "s")
    assert err(xc, x, "XADD", "s", *args, "*", "f", "v") == msg
    assert snapshot(x, "s") == before
    assert err(xc, x, "XADD", "n", *args, "*", "f", "v") == msg
    assert x.exists("n") == 0


def test_xadd_option_eats_the_id(x):
    fill_n(x, "s", 3)
    before = snapshot(x, "s")
    # MAXLEN 2 then "f" is the ID: malformed
    assert err(xc, x, "XADD", "s", "MAXLEN", "2", "f", "v") == BAD_ID
    # LIMIT takes "*" as its value
    assert err(xc, x, "XADD", "s", "MAXLEN", "~", "1", "LIMIT", "*", "f", "v") == NOT_INT
    assert err(xc, x, "XADD", "s", "MAXLEN", "~", "*", "f", "v") == NOT_INT
    assert snapshot(x, "s") == before


def test_xadd_approx_trim_keeps_at_least_threshold(x):
    fill_n(x, "s", 250)
    new = xc(x, "XADD", "s", "MAXLEN", "~", "10", "251-0", "f", "251")
    assert new == "251-0"
    n = x.xlen("s")
    assert 11 <= n <= 251
    # what is left is the newest entries, in order
    assert xc(x, "XRANGE", "s", "-", "+") == [entry(i) for i in range(252 - n, 252)]
    # ~ with a threshold above the length removes nothing
    assert xc(x, "XADD", "s", "MAXLEN", "~", "1000", "252-0", "f", "252") == "252-0"
    assert x.xlen("s") == n + 1


def test_failed_xadd_leaves_stream_unchanged(x):
    fill(x, "s", ["1-0", "2-0", "3-0"])
    xc(x, "XDEL", "s", "2-0")
    before = snapshot(x, "s")
    bad = [
        ["3-0", "f", "v"], ["0-0", "f", "v"], ["1-", "f", "v"], ["*", "f"],
        ["MAXLEN", "-1", "*", "f", "v"], ["MAXLEN", "1", "LIMIT", "1", "*", "f", "v"],
        ["MINID", "x", "*", "f", "v"], ["MAXLEN", "0", "2-5", "f", "v"],
        ["MAXLEN", "0", "abc", "f", "v"], ["MINID", "9", "3", "f", "v"],
    ]
    for args in bad:
        with pytest.raises(redis.ResponseError):
            xc(x, "XADD", "s", *args)
    assert snapshot(x, "s") == before
    assert x.xlen("s") == 2


# ---------------- XLEN, XRANGE, XREVRANGE ----------------

RANGE_IDS = ["1-0", "1-1", "2-0", "3-5", "5-0", "5-1", "5-7", "6-0"]


def ranged(x):
    fill(x, "s", RANGE_IDS)
    return x


def ids_of(reply):
    return [e[0] for e in reply]


def test_xlen(x):
    assert x.xlen("nokey") == 0
    fill_n(x, "s", 7)
    assert x.xlen("s") == 7
    xc(x, "XDEL", "s", "1-0", "2-0")
    assert x.xlen("s") == 5
    assert err(xc, x, "XLEN") == arity("xlen")
    assert err(xc, x, "XLEN", "s", "extra") == arity("xlen")


def test_xrange_reply_shape_raw(server, x):
    xc(x, "XADD", "s", "1-1", "f", "v", "g", "w")
    raw = server.raw()
    assert resp_exchange(raw, b"XRANGE s - +\r\n") == \
        b"*1\r\n*2\r\n$3\r\n1-1\r\n*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\ng\r\n$1\r\nw\r\n"
    assert resp_exchange(raw, b"XRANGE nokey - +\r\n") == b"*0\r\n"
    assert resp_exchange(raw, b"XRANGE s 9 10\r\n") == b"*0\r\n"
    assert resp_exchange(raw, b"XRANGE s - + COUNT 0\r\n") == b"*-1\r\n"
    assert resp_exchange(raw, b"XRANGE nokey - + COUNT 0\r\n") == b"*0\r\n"
    assert resp_exchange(raw, b"XREVRANGE s + - COUNT 0\r\n") == b"*-1\r\n"
    raw.close()


def test_xrange_full_and_incomplete_ids(x):
    ranged(x)
    assert ids_of(xc(x, "XRANGE", "s", "-", "+")) == RANGE_IDS
    assert xc(x, "XRANGE", "s", "1-1", "1-1") == [["1-1", ["f", "1"]]]
    assert ids_of(xc(x, "XRANGE", "s", "5", "5")) == ["5-0", "5-1", "5-7"]  # 5-0 .. 5-max
    assert ids_of(xc(x, "XRANGE", "s", "2", "5-1")) == ["2-0", "3-5", "5-0", "5-1"]
    assert ids_of(xc(x, "XRANGE", "s", "3-6", "+")) == ["5-0", "5-1", "5-7", "6-0"]
    assert ids_of(xc(x, "XRANGE", "s", "-", "1")) == ["1-0", "1-1"]
    assert xc(x, "XRANGE", "s", "6", "1") == []
    assert xc(x, "XRANGE", "s", "+", "-") == []
    assert xc(x, "XRANGE", "nokey", "-", "+") == []
    assert ids_of(xc(x, "XRANGE", "s", "0", "18446744073709551615")) == RANGE_IDS


def test_xrange_exclusive_bounds(x):
    ranged(x)
    assert ids_of(xc(x, "XRANGE", "s", "(5-0", "+")) == ["5-1", "5-7", "6-0"]
    assert ids_of(xc(x, "XRANGE", "s", "-", "(5-7")) == ["1-0", "1-1", "2-0", "3-5", "5-0", "5-1"]
    assert ids_of(xc(x, "XRANGE", "s", "(5", "+")) == ["5-1", "5-7", "6-0"]    # after 5-0
    assert ids_of(xc(x, "XRANGE", "s", "-", "(5")) == RANGE_IDS[:7]             # before 5-max
    assert ids_of(xc(x, "XRANGE", "s", "(0-0", "+")) == RANGE_IDS
    assert ids_of(xc(x, "XRANGE", "s", "-", "(18446744073709551615-18446744073709551615")) == RANGE_IDS
    assert xc(x, "XRANGE", "s", "(18446744073709551615", "+") == []
    assert xc(x, "XRANGE", "s", "-", "(0") == []
    assert xc(x, "XRANGE", "s", "(5-1", "(5-7") == []
    assert ids_of(xc(x, "XRANGE", "s", "(5-0", "(5-7")) == ["5-1"]


def test_xrange_exclusive_edge_errors(x):
    ranged(x)
    top = "(18446744073709551615-18446744073709551615"
    for key in ("s", "nokey"):
        assert err(xc, x, "XRANGE", key, top, "+") == BAD_START
        assert err(xc, x, "XRANGE", key, "-", "(0-0") == BAD_END
        # XREVRANGE takes end first; the texts name the interval's ends
        assert err(xc, x, "XREVRANGE", key, "(0-0", "-") == BAD_END
        assert err(xc, x, "XREVRANGE", key, "+", top) == BAD_START
        for a, b in (("(-", "+"), ("-", "(+"), ("(+", "+"), ("-", "(-"), ("(", "+"),
                     ("((1", "+"), ("abc", "+"), ("-", "abc"), ("1-", "+"), ("*", "+")):
            assert err(xc, x, "XRANGE", key, a, b) == BAD_ID, (a, b)
            assert err(xc, x, "XREVRANGE", key, b, a) == BAD_ID, (b, a)
    assert ids_of(xc(x, "XREVRANGE", "s", "+", "(0-0")) == RANGE_IDS[::-1]
    assert ids_of(xc(x, "XREVRANGE", "s", top, "-")) == RANGE_IDS[::-1]


def test_xrange_count(server, x):
    ranged(x)
    assert ids_of(xc(x, "XRANGE", "s", "-", "+", "COUNT", "2")) == ["1-0", "1-1"]
    assert ids_of(xc(x, "XRANGE", "s", "(1-1", "+", "count", "3")) == ["2-0", "3-5", "5-0"]
    assert ids_of(xc(x, "XRANGE", "s", "-", "+", "COUNT", "99999999999999")) == RANGE_IDS
    assert ids_of(xc(x, "XRANGE", "s", "-", "+", "COUNT", "9223372036854775807")) == RANGE_IDS
    # COUNT 0 and negative COUNTs answer a null array
    for n in ("0", "-1", "-5"):
        assert xc(x, "XRANGE", "s", "-", "+", "COUNT", n) is None
        assert xc(x, "XREVRANGE", "s", "+", "-", "COUNT", n) is None
    assert xc(x, "XRANGE", "nokey", "-", "+", "COUNT", "0") == []
    # the last COUNT wins
    assert ids_of(xc(x, "XRANGE", "s", "-", "+", "COUNT", "1", "COUNT", "2")) == ["1-0", "1-1"]
    assert ids_of(xc(x, "XRANGE", "s", "-", "+", "COUNT", "0", "COUNT", "1")) == ["1-0"]


def test_xrange_argument_errors(x):
    ranged(x)
    for cmd, a, b in (("XRANGE", "-", "+"), ("XREVRANGE", "+", "-")):
        assert err(xc, x, cmd, "s", a, b, "COUNT", "abc") == NOT_INT
        assert err(xc, x, cmd, "s", a, b, "COUNT", "1.5") == NOT_INT
        assert err(xc, x, cmd, "s", a, b, "COUNT") == "syntax error"
        assert err(xc, x, cmd, "s", a, b, "FOO", "1") == "syntax error"
        assert err(xc, x, cmd, "s", a, b, "COUNT", "1", "x") == "syntax error"
        assert err(xc, x, cmd, "s", a) == arity(cmd.lower())
        assert err(xc, x, cmd, "s") == arity(cmd.lower())


def test_xrevrange(x):
    ranged(x)
    assert ids_of(xc(x, "XREVRANGE", "s", "+", "-")) == RANGE_IDS[::-1]
    assert xc(x, "XREVRANGE", "s", "+", "-", "COUNT", "2") == \
        [["6-0", ["f", "6"]], ["5-7", ["f", "5"]]]
    assert ids_of(xc(x, "XREVRANGE", "s", "5", "5")) == ["5-7", "5-1", "5-0"]
    assert ids_of(xc(x, "XREVRANGE", "s", "(5-7", "-")) == ["5-1", "5-0", "3-5", "2-0", "1-1", "1-0"]
    assert ids_of(xc(x, "XREVRANGE", "s", "+", "(5-7")) == ["6-0"]
    assert ids_of(xc(x, "XREVRANGE", "s", "(5", "(1")) == ["5-7", "5-1", "5-0", "3-5", "2-0", "1-1"]
    assert xc(x, "XREVRANGE", "s", "-", "+") == []
    assert xc(x, "XREVRANGE", "nokey", "+", "-") == []


def _model_bound(text, is_start):
    """(ms, seq) for an XRANGE bound, or None when Redis rejects it."""
    excl = text.startswith("(")
    t = text[1:] if excl else text
    if t == "-":
        v = (0, 0)
    elif t == "+":
        v = (MAX, MAX)
    elif "-" in t:
        ms, seq = t.split("-")
        v = (int(ms), int(seq))
    else:
        v = (int(t), 0 if is_start else MAX)
    if excl:
        n = v[0] * (MAX + 1) + v[1] + (1 if is_start else -1)
        if n < 0 or n > MAX * (MAX + 1) + MAX:
            return None
        v = divmod(n, MAX + 1)
    return v


def test_xrange_against_model(x):
    rnd = random.Random(7)
    ids = sorted({(rnd.randint(1, 30), rnd.randint(0, 3)) for _ in range(120)})
    fill(x, "s", ["%d-%d" % i for i in ids])
    xc(x, "XDEL", "s", *["%d-%d" % i for i in ids[::5]])
    live = [i for n, i in enumerate(ids) if n % 5]

    def bound():
        k = rnd.random()
        if k < 0.1:
            return rnd.choice(["-", "+"])
        b = "%d" % rnd.randint(0, 32) if k < 0.4 else "%d-%d" % (rnd.randint(0, 32), rnd.randint(0, 4))
        return "(" + b if rnd.random() < 0.4 else b

    for _ in range(300):
        a, b = bound(), bound()
        lo, hi = _model_bound(a, True), _model_bound(b, False)
        count = rnd.choice([None, 1, 3, 50])
        extra = [] if count is None else ["COUNT", str(count)]
        if lo is None or hi is None:
            msg = BAD_START if lo is None else BAD_END
            assert err(xc, x, "XRANGE", "s", a, b, *extra) == msg, (a, b)
            assert err(xc, x, "XREVRANGE", "s", b, a, *extra) == msg, (b, a)
            continue
        want = [i for i in live if lo <= i <= hi]
        got = xc(x, "XRANGE", "s", a, b, *extra)
        assert ids_of(got) == ["%d-%d" % i for i in want[:count]], (a, b, count)
        rev = xc(x, "XREVRANGE", "s", b, a, *extra)
        assert ids_of(rev) == ["%d-%d" % i for i in want[::-1][:count]], (b, a, count)


# ---------------- XDEL ----------------

def test_xdel(x):
    fill_n(x, "s", 10)
    assert xc(x, "XDEL", "s", "1-0", "1-0", "2", "99-0") == 2  # duplicates count once
    assert xc(x, "XDEL", "s", "1-0") == 0
    assert x.xlen("s") == 8
    assert ids_of(xc(x, "XRANGE", "s", "-", "+")) == ["%d-0" % i for i in range(3, 11)]
    i = info(x, "s")
    assert (i["max-deleted-entry-id"], i["entries-added"], i["recorded-first-entry-id"]) == \
        ("2-0", 10, "3-0")
    assert i["first-entry"] == entry(3) and i["last-entry"] == entry(10)
    assert xc(x, "XDEL", "s", *["%d-0" % i for i in range(3, 11)]) == 8
    assert x.xlen("s") == 0 and x.exists("s") == 1  # an emptied stream stays
    i = info(x, "s")
    assert (i["length"], i["last-generated-id"], i["max-deleted-entry-id"],
            i["recorded-first-entry-id"], i["first-entry"], i["last-entry"]) == \
        (0, "10-0", "10-0", "0-0", None, None)


def test_xdel_errors(x):
    fill_n(x, "s", 3)
    before = snapshot(x, "s")
    assert err(xc, x, "XDEL", "s", "abc") == BAD_ID
    assert err(xc, x, "XDEL", "s", "1-0", "abc") == BAD_ID  # nothing deleted
    assert err(xc, x, "XDEL", "s", "-") == BAD_ID
    assert err(xc, x, "XDEL", "s", "(2") == BAD_ID
    assert snapshot(x, "s") == before
    assert err(xc, x, "XDEL", "s") == arity("xdel")
    assert xc(x, "XDEL", "nokey", "1-0") == 0
    assert x.exists("nokey") == 0


def test_xdel_missing_key_reads_no_ids(x):
    # Redis 7.0 looks the key up first: a missing key answers 0, bad IDs and all
    assert xc(x, "XDEL", "nokey", "abc") == 0
    assert xc(x, "XDEL", "nokey", "1-0", "(", "-") == 0
    assert x.exists("nokey") == 0
    x.set("str", "v")
    assert err(xc, x, "XDEL", "str", "abc") == WRONGTYPE  # and the type before the IDs


# ---------------- XTRIM ----------------

def test_xtrim_maxlen_exact(x):
    fill_n(x, "s", 10)
    assert xc(x, "XTRIM", "s", "MAXLEN", "5") == 5
    assert ids_of(xc(x, "XRANGE", "s", "-", "+")) == ["%d-0" % i for i in range(6, 11)]
    assert xc(x, "XTRIM", "s", "MAXLEN", "=", "3") == 2
    assert xc(x, "XTRIM", "s", "maxlen", "10") == 0
    assert xc(x, "XTRIM", "s", "MAXLEN", "0") == 3
    assert x.exists("s") == 1 and x.xlen("s") == 0
    assert xc(x, "XTRIM", "nokey", "MAXLEN", "0") == 0
    assert x.exists("nokey") == 0
    i = info(x, "s")
    # trimming does not move max-deleted-entry-id (only XDEL does)
    assert (i["last-generated-id"], i["max-deleted-entry-id"], i["entries-added"],
            i["recorded-first-entry-id"]) == ("10-0", "0-0", 10, "0-0")


def test_xtrim_minid_exact(x):
    fill(x, "s", ["5-0", "5-1", "6-0", "7-0", "7-3", "8-0"])
    assert xc(x, "XTRIM", "s", "MINID", "5") == 0          # 5 means 5-0
    assert xc(x, "XTRIM", "s", "MINID", "5-1") == 1
    assert xc(x, "XTRIM", "s", "minid", "=", "7") == 2
    assert ids_of(xc(x, "XRANGE", "s", "-", "+")) == ["7-0", "7-3", "8-0"]
    assert xc(x, "XTRIM", "s", "MINID", "7-1") == 1
    assert xc(x, "XTRIM", "s", "MINID", "18446744073709551615-18446744073709551615") == 2
    assert x.xlen("s") == 0 and x.exists("s") == 1


@pytest.mark.parametrize("args,msg", [
    (["MAXLEN", "-1"], MAXLEN_NEG),
    (["MAXLEN", "1", "LIMIT", "2"], LIMIT_NO_APPROX),
    (["LIMIT", "1", "MAXLEN", "1"], LIMIT_NO_APPROX),
    (["MINID", "=", "1", "LIMIT", "2"], LIMIT_NO_APPROX),
    (["MAXLEN", "~", "1", "LIMIT", "-1"], LIMIT_NEG),
    (["MAXLEN", "~", "1", "LIMIT"], "syntax error"),
    (["MAXLEN", "1", "extra"], "syntax error"),
    (["FOO", "1"], "syntax error"),
    (["MAXLEN", "abc"], NOT_INT),
    (["MAXLEN", "~", "x"], NOT_INT),
    (["MAXLEN", "18446744073709551615"], NOT_INT),
    (["MAXLEN", "1", "MINID", "1"], BOTH_STRATEGIES),
    (["MINID", "abc"], BAD_ID),
    (["MAXLEN"], arity("xtrim")),
    ([], arity("xtrim")),
])
def test_xtrim_errors(x, args, msg):
    fill_n(x, "s", 5)
    before = snapshot(x, "s")
    assert err(xc, x, "XTRIM", "s", *args) == msg
    assert snapshot(x, "s") == before


def test_xtrim_approx_properties(x):
    fill_n(x, "s", 250)
    assert xc(x, "XTRIM", "s", "MAXLEN", "~", "300") == 0
    assert xc(x, "XTRIM", "s", "MAXLEN", "~", "250") == 0
    removed = xc(x, "XTRIM", "s", "MAXLEN", "~", "100")
    assert 0 <= removed <= 150 and x.xlen("s") == 250 - removed
    left = x.xlen("s")
    assert ids_of(xc(x, "XRANGE", "s", "-", "+")) == ["%d-0" % i for i in range(251 - left, 251)]
    # ~ 0 removes every whole node, i.e. everything
    assert xc(x, "XTRIM", "s", "MAXLEN", "~", "0") == left
    assert x.xlen("s") == 0 and x.exists("s") == 1

    fill(x, "m", ["%d-0" % i for i in range(1, 251)])
    removed = xc(x, "XTRIM", "m", "MINID", "~", "120")
    assert 0 <= removed <= 119
    assert ids_of(xc(x, "XRANGE", "m", "-", "+")) == ["%d-0" % i for i in range(removed + 1, 251)]
    # LIMIT bounds what one call removes; LIMIT 0 means no limit
    fill_n(x, "l", 250)
    removed = xc(x, "XTRIM", "l", "MAXLEN", "~", "0", "LIMIT", "99")
    assert 0 <= removed <= 99 and x.xlen("l") == 250 - removed
    assert xc(x, "XTRIM", "l", "MAXLEN", "~", "0", "LIMIT", "0") == 250 - removed
    assert x.xlen("l") == 0


def test_approx_trim_node_granularity(x):
    """Redis trims ~ by whole nodes of stream-node-max-entries (100) entries."""
    fill_n(x, "s", 250)                       # nodes: 100, 100, 50
    assert xc(x, "XTRIM", "s", "MAXLEN", "~", "10") == 200
    assert x.xlen("s") == 50
    fill_n(x, "t", 250)
    assert xc(x, "XTRIM", "t", "MAXLEN", "~", "0", "LIMIT", "99") == 0
    assert xc(x, "XTRIM", "t", "MAXLEN", "~", "0", "LIMIT", "150") == 100
    assert xc(x, "XTRIM", "t", "MINID", "~", "220") == 100
    assert ids_of(xc(x, "XRANGE", "t", "-", "+", "COUNT", "1")) == ["201-0"]
    fill_n(x, "u", 250)
    assert xc(x, "XADD", "u", "MAXLEN", "~", "10", "251-0", "f", "v") == "251-0"
    assert x.xlen("u") == 51
    fill(x, "v", ["%d-0" % i for i in range(1, 1001)])
    assert xc(x, "XTRIM", "v", "MAXLEN", "666") == 334
    assert xc(x, "XTRIM", "v", "MAXLEN", "~", "444") == 166
    assert x.xlen("v") == 500


# ---------------- XSETID and XINFO STREAM ----------------

def test_xsetid_basic(x):
    fill(x, "s", ["3-0", "4-0", "5-0"])
    assert xc(x, "XSETID", "s", "5-0") == "OK"   # equal to the top item is fine
    assert xc(x, "XSETID", "s", "10-0") == "OK"
    assert info(x, "s")["last-generated-id"] == "10-0"
    assert err(xc, x, "XADD", "s", "9-0", "f", "v") == XADD_SMALLER
    assert err(xc, x, "XADD", "s", "10-0", "f", "v") == XADD_SMALLER
    assert xc(x, "XADD", "s", "10-*", "f", "v") == "10-1"
    assert xc(x, "XSETID", "s", "20") == "OK"    # incomplete: 20-0
    assert info(x, "s")["last-generated-id"] == "20-0"
    assert x.xlen("s") == 4


def test_xsetid_entriesadded_and_maxdeletedid(x):
    fill(x, "s", ["3-0", "4-0"])
    assert xc(x, "XSETID", "s", "10-0", "ENTRIESADDED", "2") == "OK"
    assert xc(x, "XSETID", "s", "10-0", "entriesadded", "5", "maxdeletedid", "7-0") == "OK"
    i = info(x, "s")
    assert list(i) == INFO_KEYS
    assert (i["length"], i["last-generated-id"], i["max-deleted-entry-id"], i["entries-added"],
            i["recorded-first-entry-id"], i["groups"]) == (2, "10-0", "7-0", 5, "3-0", 0)
    assert i["first-entry"] == ["3-0", ["f", "3"]]
    assert i["last-entry"] == ["4-0", ["f", "4"]]
    assert xc(x, "XSETID", "s", "10", "ENTRIESADDED", "5", "MAXDELETEDID", "10-0") == "OK"
    # MAXDELETEDID 0-0 is accepted and leaves the recorded value alone
    assert xc(x, "XSETID", "s", "10-0", "MAXDELETEDID", "0-0") == "OK"
    assert info(x, "s")["max-deleted-entry-id"] == "10-0"


def test_xsetid_errors(x):
    fill(x, "s", ["3-0", "4-0"])
    before = snapshot(x, "s")
    assert err(xc, x, "XSETID", "nokey", "5-0") == "no such key"
    assert err(xc, x, "XSETID", "s", "3-9") == XSETID_SMALLER
    assert err(xc, x, "XSETID", "s", "10-0", "ENTRIESADDED", "1") == XSETID_ADDED
    assert err(xc, x, "XSETID", "s", "10-0", "ENTRIESADDED", "5", "MAXDELETEDID", "11-0") == XSETID_MAXDEL
    assert err(xc, x, "XSETID", "s", "10", "ENTRIESADDED", "5", "MAXDELETEDID", "10-1") == XSETID_MAXDEL
    # the max_deleted check comes before the other two
    assert err(xc, x, "XSETID", "s", "1-0", "MAXDELETEDID", "2-0") == XSETID_MAXDEL
    assert err(xc, x, "XSETID", "s", "4-0", "ENTRIESADDED", "1", "MAXDELETEDID", "5-0") == XSETID_MAXDEL
    assert err(xc, x, "XSETID", "s", "3-0", "MAXDELETEDID", "2-0") == XSETID_SMALLER
    assert err(xc, x, "XSETID", "s", "10-0", "ENTRIESADDED", "-1") == "entries_added must be positive"
    assert err(xc, x, "XSETID", "s", "10-0", "ENTRIESADDED", "abc") == NOT_INT
    assert err(xc, x, "XSETID", "s", "10-0", "MAXDELETEDID", "abc") == BAD_ID
    assert err(xc, x, "XSETID", "s", "10-0", "FOO") == "syntax error"
    assert err(xc, x, "XSETID", "s", "10-0", "ENTRIESADDED") == "syntax error"
    assert err(xc, x, "XSETID", "s", "10-0", "0") == "syntax error"
    for bad in ("abc", "*", "$", "+", "-", "1-"):
        assert err(xc, x, "XSETID", "s", bad) == BAD_ID, bad
    assert err(xc, x, "XSETID", "s") == arity("xsetid")
    assert snapshot(x, "s") == before
    x.set("str", "x")
    assert err(xc, x, "XSETID", "str", "1-0") == WRONGTYPE


def test_xsetid_on_empty_stream_may_go_back(x):
    fill(x, "s", ["3-0", "4-0"])
    assert xc(x, "XSETID", "s", "10-0") == "OK"
    assert xc(x, "XTRIM", "s", "MAXLEN", "0") == 2
    # with no entries there is no top item to compare against
    assert xc(x, "XSETID", "s", "1-0") == "OK"
    i = info(x, "s")
    assert (i["length"], i["last-generated-id"], i["max-deleted-entry-id"], i["entries-added"],
            i["recorded-first-entry-id"]) == (0, "1-0", "0-0", 2, "0-0")
    assert xc(x, "XADD", "s", "2-0", "f", "v") == "2-0"


def test_xsetid_on_empty_stream_ignores_max_deleted(x):
    """Redis 7.0 does not compare the new ID with max-deleted-entry-id
    (later Redis refuses with "...smaller than current max_deleted_entry_id")."""
    fill(x, "s", ["3-0", "4-0"])
    xc(x, "XSETID", "s", "10-0", "ENTRIESADDED", "5", "MAXDELETEDID", "10-0")
    assert xc(x, "XTRIM", "s", "MAXLEN", "0") == 2
    assert xc(x, "XSETID", "s", "1-0") == "OK"
    i = info(x, "s")
    assert (i["length"], i["last-generated-id"], i["max-deleted-entry-id"], i["entries-added"],
            i["recorded-first-entry-id"]) == (0, "1-0", "10-0", 5, "0-0")
    # Nor with entries: only the top item bounds it.
    fill(x, "t", ["1-1", "5-0"])
    xc(x, "XDEL", "t", "5-0")
    assert xc(x, "XSETID", "t", "3-0") == "OK"
    assert err(xc, x, "XSETID", "t", "1-0") == "The ID specified in XSETID is smaller than the target stream top item"


def test_xinfo_stream_tracks_writes(x):
    assert err(xc, x, "XINFO", "STREAM", "nokey") == "no such key"
    fill_n(x, "s", 5)
    i = info(x, "s")
    assert list(i) == INFO_KEYS
    assert (i["length"], i["last-generated-id"], i["max-deleted-entry-id"], i["entries-added"],
            i["recorded-first-entry-id"], i["first-entry"], i["last-entry"]) == \
        (5, "5-0", "0-0", 5, "1-0", entry(1), entry(5))
    xc(x, "XDEL", "s", "3-0")
    xc(x, "XDEL", "s", "1-0")
    xc(x, "XTRIM", "s", "MAXLEN", "2")
    xc(x, "XADD", "s", "9-0", "f", "9")
    i = info(x, "s")
    assert (i["length"], i["last-generated-id"], i["max-deleted-entry-id"], i["entries-added"],
            i["recorded-first-entry-id"], i["first-entry"], i["last-entry"]) == \
        (3, "9-0", "3-0", 6, "4-0", entry(4), entry(9))
    x.set("str", "v")
    assert err(xc, x, "XINFO", "STREAM", "str") == WRONGTYPE


# ---------------- XREAD ----------------

def test_xread_basic(x):
    ranged(x)
    assert xc(x, "XREAD", "STREAMS", "s", "5-1") == \
        [["s", [["5-7", ["f", "5"]], ["6-0", ["f", "6"]]]]]
    assert ids_of(xc(x, "XREAD", "STREAMS", "s", "0")[0][1]) == RANGE_IDS
    assert ids_of(xc(x, "XREAD", "STREAMS", "s", "5")[0][1]) == ["5-1", "5-7", "6-0"]  # after 5-0
    assert ids_of(xc(x, "XREAD", "streams", "s", "5-0")[0][1]) == ["5-1", "5-7", "6-0"]
    assert xc(x, "XREAD", "STREAMS", "s", "6-0") is None
    assert xc(x, "XREAD", "STREAMS", "s", "18446744073709551615-18446744073709551615") is None
    assert xc(x, "XREAD", "STREAMS", "s", "$") is None
    assert xc(x, "XREAD", "STREAMS", "nokey", "0") is None


def test_xread_count(x):
    fill_n(x, "c", 5)
    assert xc(x, "XREAD", "COUNT", "2", "STREAMS", "c", "0") == [["c", [entry(1), entry(2)]]]
    for n in ("0", "-1"):  # no limit
        assert ids_of(xc(x, "XREAD", "COUNT", n, "STREAMS", "c", "0")[0][1]) == \
            ["%d-0" % i for i in range(1, 6)]
    assert ids_of(xc(x, "XREAD", "COUNT", "1", "COUNT", "3", "STREAMS", "c", "0")[0][1]) == \
        ["1-0", "2-0", "3-0"]
    # COUNT is per stream
    assert xc(x, "XREAD", "COUNT", "2", "STREAMS", "c", "nokey", "c", "0", "0", "3") == \
        [["c", [entry(1), entry(2)]], ["c", [entry(4), entry(5)]]]


def test_xread_multiple_streams(x):
    fill(x, "a", ["1-0", "2-0"])
    fill(x, "b", ["3-0"])
    assert xc(x, "XREAD", "STREAMS", "b", "nokey", "a", "0", "0", "1") == \
        [["b", [entry(3)]], ["a", [entry(2)]]]
    # streams with nothing new are left out; nothing at all is nil
    assert xc(x, "XREAD", "STREAMS", "a", "b", "0", "3-0") == [["a", [entry(1), entry(2)]]]
    assert xc(x, "XREAD", "STREAMS", "a", "b", "nokey", "$", "$", "$") is None
    # the same key twice is read twice
    assert xc(x, "XREAD", "STREAMS", "a", "a", "0", "1") == [["a", [entry(1), entry(2)]], ["a", [entry(2)]]]


def test_xread_errors(x):
    fill_n(x, "s", 2)
    x.set("str", "v")
    assert err(xc, x, "XREAD", "STREAMS", "s", "s2", "0") == UNBALANCED
    assert err(xc, x, "XREAD", "STREAMS", "s", "0", "STREAMS") == UNBALANCED
    assert err(xc, x, "XREAD", "COUNT", "1", "STREAMS", "a", "b", "c") == UNBALANCED
    for args in (["STREAMS", "s"], ["STREAMS"], ["COUNT", "1"], []):
        assert err(xc, x, "XREAD", *args) == arity("xread"), args
    assert err(xc, x, "XREAD", "BLOCK", "-1", "STREAMS", "s", "0") == "timeout is negative"
    assert err(xc, x, "XREAD", "BLOCK", "abc", "STREAMS", "s", "0") == \
        "timeout is not an integer or out of range"
    assert err(xc, x, "XREAD", "COUNT", "abc", "STREAMS", "s", "0") == NOT_INT
    assert err(xc, x, "XREAD", "FOO", "STREAMS", "s", "0") == "syntax error"
    for bad in ("abc", "-", "(1", "*", "1-"):
        assert err(xc, x, "XREAD", "STREAMS", "s", bad) == BAD_ID, bad
    assert err(xc, x, "XREAD", "STREAMS", "s", ">") == \
        "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."
    for args in (["STREAMS", "str", "0"], ["STREAMS", "str", "$"], ["BLOCK", "10", "STREAMS", "str", "0"],
                 ["STREAMS", "s", "str", "0", "0"]):
        assert err(xc, x, "XREAD", *args) == WRONGTYPE, args


def test_xread_resp3_shapes(server, x):
    xc(x, "XADD", "s", "1-1", "f", "v")
    raw = server.raw()
    assert resp_exchange(raw, b"HELLO 3\r\n").startswith(b"%")
    assert resp_exchange(raw, b"XREAD STREAMS s nokey 0 0\r\n") == \
        b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    assert resp_exchange(raw, b"XREAD STREAMS s 1-1\r\n") == b"_\r\n"
    assert resp_exchange(raw, b"XREAD BLOCK 10 STREAMS s $\r\n") == b"_\r\n"
    assert resp_exchange(raw, b"XRANGE s - + COUNT 0\r\n") == b"_\r\n"
    assert resp_exchange(raw, b"XADD nk NOMKSTREAM * f v\r\n") == b"_\r\n"
    raw.close()


def test_xread_block_timeout(server, x):
    fill_n(x, "s", 1)
    for args in (["q", "$"], ["q", "0"], ["s", "$"], ["s", "1-0"]):
        start = time.time()
        assert xc(x, "XREAD", "BLOCK", "100", "STREAMS", *args) is None
        assert 0.09 <= time.time() - start < 2
    assert x.info("clients")["blocked_clients"] == 0
    raw = server.raw()
    assert resp_exchange(raw, b"XREAD BLOCK 50 STREAMS q $\r\n") == b"*-1\r\n"
    raw.close()


def test_xread_block_with_data_returns_at_once(x):
    fill_n(x, "s", 2)
    start = time.time()
    assert xc(x, "XREAD", "BLOCK", "0", "STREAMS", "s", "1-0") == [["s", [entry(2)]]]
    assert xc(x, "XREAD", "BLOCK", "5000", "STREAMS", "q", "s", "$", "0") == \
        [["s", [entry(1), entry(2)]]]
    assert time.time() - start < 1


def test_xread_block_woken_by_xadd(server, x):
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "s", "0")
    wait_blocked(x)
    assert xc(x, "XADD", "s", "7-1", "a", "1", "b", "2") == "7-1"
    t.join(5)
    assert box == {"value": [["s", [["7-1", ["a", "1", "b", "2"]]]]]}
    assert x.info("clients")["blocked_clients"] == 0
    w.close()


def test_xread_block_dollar_sees_only_new_entries(server, x):
    fill_n(x, "s", 3)
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "s", "$")
    wait_blocked(x)
    xc(x, "XADD", "s", "10-0", "f", "10")
    t.join(5)
    assert box == {"value": [["s", [entry(10)]]]}
    # an explicit ID: woken by the first entry past it
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "s", "10-0")
    wait_blocked(x)
    xc(x, "XADD", "s", "11-0", "f", "11")
    t.join(5)
    assert box == {"value": [["s", [entry(11)]]]}
    w.close()


def test_xread_block_id_below_last_generated(server, x):
    # the stream ran dry: an ID below the last generated one still blocks
    xc(x, "XADD", "s", "666", "key", "value")
    xc(x, "XDEL", "s", "666")
    assert xc(x, "XREAD", "BLOCK", "10", "STREAMS", "s", "665") is None
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "s", "665")
    wait_blocked(x)
    xc(x, "XADD", "s", "667", "key", "value")
    t.join(5)
    assert box == {"value": [["s", [["667-0", ["key", "value"]]]]]}
    w.close()


def test_xread_block_edge_id(server, x):
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "x", "1-18446744073709551615")
    wait_blocked(x)
    xc(x, "XADD", "x", "1-1", "f", "v")
    xc(x, "XADD", "x", "1-18446744073709551615", "f", "v")
    still_blocked(x, t)
    xc(x, "XADD", "x", "2-1", "f", "v")
    t.join(5)
    assert box == {"value": [["x", [["2-1", ["f", "v"]]]]]}
    w.close()


def test_xread_block_multiple_streams_serves_ready_one(server, x):
    fill_n(x, "a", 1)
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "a", "b", "c", "$", "$", "$")
    wait_blocked(x)
    xc(x, "XADD", "b", "1-0", "q", "1")
    t.join(5)
    assert box == {"value": [["b", [["1-0", ["q", "1"]]]]]}
    w.close()


def test_xread_block_same_key_named_three_times(server, x):
    # Redis 7.0 serves a woken XREAD once per key; 7.2 re-runs the command
    # (as Keel does), which answers once per name like the non-blocking form
    fill_n(x, "a", 1)
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "a", "a", "a", "$", "$", "$")
    wait_blocked(x)
    xc(x, "XADD", "a", "2-0", "new", "x")
    t.join(5)
    once = ["a", [["2-0", ["new", "x"]]]]
    redis70 = os.environ.get("KEEL_SERVER", "").endswith("redis-server")
    assert box == {"value": [once] if redis70 else [once, once, once]}
    w.close()


def test_xread_block_woken_by_multi(server, x):
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "m", "$")
    wait_blocked(x)
    p = x.pipeline(transaction=True)
    for i, word in enumerate(("one", "two", "three"), 1):
        p.execute_command("XADD", "m", "%d-0" % i, "field", word)
    p.execute()
    t.join(5)
    assert box == {"value": [["m", [["1-0", ["field", "one"]], ["2-0", ["field", "two"]],
                                    ["3-0", ["field", "three"]]]]]}
    # COUNT still applies to what the wake-up hands over
    t, box = blocked_call(w, "XREAD", "COUNT", "1", "BLOCK", "5000", "STREAMS", "m", "$")
    wait_blocked(x)
    p = x.pipeline(transaction=True)
    p.execute_command("XADD", "m", "6-0", "x", "1")
    p.execute_command("XADD", "m", "7-0", "x", "2")
    p.execute()
    t.join(5)
    assert box == {"value": [["m", [["6-0", ["x", "1"]]]]]}
    w.close()


def test_xread_block_woken_by_script(server, x):
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "s", "$")
    wait_blocked(x)
    x.eval("redis.call('xadd', KEYS[1], '8-0', 'l', 'u'); redis.call('xadd', KEYS[1], '9-0', 'l', 'v')",
           1, "s")
    t.join(5)
    assert box == {"value": [["s", [["8-0", ["l", "u"]], ["9-0", ["l", "v"]]]]]}
    w.close()


def test_xread_block_every_waiter_gets_the_entry(server, x):
    a, b = raw_client(server), raw_client(server)
    ta, boxa = blocked_call(a, "XREAD", "BLOCK", "5000", "STREAMS", "f", "$")
    wait_blocked(x, 1)
    tb, boxb = blocked_call(b, "XREAD", "BLOCK", "5000", "STREAMS", "f", "0")
    wait_blocked(x, 2)
    xc(x, "XADD", "f", "1-0", "k", "v")
    ta.join(5)
    tb.join(5)
    assert boxa == {"value": [["f", [["1-0", ["k", "v"]]]]]}
    assert boxb == {"value": [["f", [["1-0", ["k", "v"]]]]]}
    assert x.xlen("f") == 1  # reading consumes nothing
    a.close()
    b.close()


def test_xread_client_unblock(server, x):
    w = raw_client(server)
    wid = w.client_id()
    t, box = blocked_call(w, "XREAD", "BLOCK", "0", "STREAMS", "q", "$")
    wait_blocked(x)
    assert x.execute_command("CLIENT", "UNBLOCK", wid) == 1
    t.join(5)
    assert box == {"value": None}
    t, box = blocked_call(w, "XREAD", "BLOCK", "0", "STREAMS", "q", "$")
    wait_blocked(x)
    assert x.execute_command("CLIENT", "UNBLOCK", wid, "ERROR") == 1
    t.join(5)
    assert isinstance(box["error"], redis.ResponseError)
    assert str(box["error"]) == UNBLOCKED
    assert x.execute_command("CLIENT", "UNBLOCK", wid) == 0
    assert x.info("clients")["blocked_clients"] == 0
    w.close()


def test_xread_block_key_of_other_type_keeps_waiting(server, x):
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "k", "$")
    wait_blocked(x)
    x.set("k", "str")                 # not a stream: the reader waits on
    still_blocked(x, t)
    x.delete("k")
    x.lpush("k", "a")
    still_blocked(x, t)
    x.delete("k")
    xc(x, "XADD", "k", "1-0", "f", "v")
    t.join(5)
    assert box == {"value": [["k", [["1-0", ["f", "v"]]]]]}
    w.close()


def test_xread_block_deleted_stream_keeps_waiting(server, x):
    xc(x, "XADD", "s", "5-0", "a", "1")
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "s", "$")  # $ is 5-0
    wait_blocked(x)
    x.delete("s")
    still_blocked(x, t)
    xc(x, "XADD", "s", "3-0", "b", "2")  # a new stream, but nothing past 5-0
    still_blocked(x, t)
    xc(x, "XADD", "s", "6-0", "c", "3")
    t.join(5)
    assert box == {"value": [["s", [["6-0", ["c", "3"]]]]]}
    # XADD then DEL in one transaction wakes nobody
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "s1", "$")
    wait_blocked(x)
    p = x.pipeline(transaction=True)
    p.execute_command("XADD", "s1", "1-0", "old", "x")
    p.delete("s1")
    p.execute()
    still_blocked(x, t)
    xc(x, "XADD", "s1", "2-0", "new", "y")
    t.join(5)
    assert box == {"value": [["s1", [["2-0", ["new", "y"]]]]]}
    w.close()


def test_xread_block_inside_multi_does_not_block(x):
    fill_n(x, "s", 1)
    p = x.pipeline(transaction=True)
    p.execute_command("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    p.execute_command("XREAD", "BLOCK", "0", "STREAMS", "nokey", "0")
    p.execute_command("XREAD", "BLOCK", "0", "STREAMS", "s", "0")
    start = time.time()
    assert p.execute() == [None, None, [["s", [entry(1)]]]]
    assert time.time() - start < 1


def test_xread_block_disconnect_is_cleaned_up(server, x):
    s = server.raw()
    s.sendall(b"XREAD BLOCK 0 STREAMS q $\r\n")
    wait_blocked(x)
    s.close()
    deadline = time.time() + 5
    while x.info("clients")["blocked_clients"] and time.time() < deadline:
        time.sleep(0.02)
    assert x.info("clients")["blocked_clients"] == 0
    assert xc(x, "XADD", "q", "1-0", "f", "v") == "1-0"
    assert x.xlen("q") == 1


# ---------------- XREAD + (Redis 7.4) ----------------

@keel_only
def test_xread_plus_returns_last_entry(x):
    fill(x, "s", ["1-0", "2-0", "3-0"])
    assert xc(x, "XREAD", "STREAMS", "s", "+") == [["s", [entry(3)]]]
    assert xc(x, "XREAD", "COUNT", "3", "STREAMS", "s", "+") == [["s", [entry(3)]]]  # COUNT ignored
    xc(x, "XADD", "s", "3-18446744073709551614", "k4", "v4")
    xc(x, "XADD", "s", "3-18446744073709551615", "k5", "v5")
    assert xc(x, "XREAD", "STREAMS", "s", "+") == [["s", [["3-18446744073709551615", ["k5", "v5"]]]]]
    # after the top entry is deleted, + is the entry now last
    fill(x, "d", ["1-0", "2-0"])
    xc(x, "XDEL", "d", "2-0")
    assert xc(x, "XREAD", "STREAMS", "d", "+") == [["d", [entry(1)]]]
    # mixed with other IDs and keys
    assert xc(x, "XREAD", "STREAMS", "s", "d", "nokey", "+", "0", "+") == \
        [["s", [["3-18446744073709551615", ["k5", "v5"]]]], ["d", [entry(1)]]]


@keel_only
def test_xread_plus_on_empty_or_missing_stream(x):
    assert xc(x, "XREAD", "STREAMS", "nokey", "+") is None
    xc(x, "XADD", "e", "1-0", "k", "v")
    xc(x, "XDEL", "e", "1-0")
    assert xc(x, "XREAD", "STREAMS", "e", "+") is None
    xc(x, "XADD", "z", "MAXLEN", "0", "5-0", "k", "v")
    assert xc(x, "XREAD", "STREAMS", "z", "+") is None


@keel_only
def test_xread_plus_blocking(server, x):
    fill(x, "s", ["1-0", "2-0", "3-0"])
    start = time.time()
    assert xc(x, "XREAD", "BLOCK", "1000000", "STREAMS", "s", "+") == [["s", [entry(3)]]]
    assert time.time() - start < 1
    w = raw_client(server)
    t, box = blocked_call(w, "XREAD", "BLOCK", "5000", "STREAMS", "le", "+")
    wait_blocked(x)
    xc(x, "XADD", "le", "1-0", "k1", "v1")
    t.join(5)
    assert box == {"value": [["le", [["1-0", ["k1", "v1"]]]]]}
    w.close()


# ---------------- type integration ----------------

def test_type_and_encoding(x):
    fill_n(x, "s", 3)
    xc(x, "XADD", "e", "MAXLEN", "0", "*", "f", "v")
    for key in ("s", "e"):
        assert x.type(key) == "stream"
        assert x.object("encoding", key) == "stream"


def test_wrongtype_stream_commands_on_string(x):
    x.set("str", "v")
    for args in (["XADD", "str", "*", "f", "v"], ["XADD", "str", "NOMKSTREAM", "*", "f", "v"],
                 ["XLEN", "str"], ["XRANGE", "str", "-", "+"], ["XREVRANGE", "str", "+", "-"],
                 ["XDEL", "str", "1-0"], ["XTRIM", "str", "MAXLEN", "0"], ["XSETID", "str", "1-0"],
                 ["XREAD", "STREAMS", "str", "0"], ["XINFO", "STREAM", "str"]):
        assert err(xc, x, *args) == WRONGTYPE, args
    assert x.get("str") == "v"


def test_wrongtype_other_commands_on_stream(x):
    fill_n(x, "s", 2)
    for args in (["GET", "s"], ["INCR", "s"], ["APPEND", "s", "x"], ["STRLEN", "s"],
                 ["LPUSH", "s", "a"], ["LLEN", "s"], ["HSET", "s", "f", "v"], ["SADD", "s", "m"],
                 ["ZADD", "s", "1", "m"], ["GETRANGE", "s", "0", "1"]):
        assert err(xc, x, *args) == WRONGTYPE, args
    assert x.xlen("s") == 2


def test_memory_usage_grows(x):
    xc(x, "XADD", "m", "1-0", "f", "v")
    small = x.memory_usage("m")
    assert isinstance(small, int) and small > 0
    p = x.pipeline(transaction=False)
    for i in range(500):
        p.execute_command("XADD", "m", "*", "field", "x" * 50)
    p.execute()
    big = x.memory_usage("m")
    assert isinstance(big, int)
    assert big >= small + 500 * 50


def test_copy_rename_del_exists(x):
    fill_n(x, "s", 3)
    xc(x, "XDEL", "s", "2-0")
    xc(x, "XSETID", "s", "9-0")
    assert x.exists("s") == 1
    assert x.execute_command("COPY", "s", "c") == 1
    assert xc(x, "XRANGE", "c", "-", "+") == [entry(1), entry(3)]
    ic = info(x, "c")
    assert (ic["last-generated-id"], ic["max-deleted-entry-id"], ic["entries-added"]) == \
        ("9-0", "2-0", 3)
    xc(x, "XADD", "c", "10-0", "f", "10")           # the copy is independent
    assert x.xlen("s") == 2 and x.xlen("c") == 3
    assert err(xc, x, "XADD", "c", "9-5", "f", "v") == XADD_SMALLER
    assert x.execute_command("COPY", "s", "c") == 0
    assert x.execute_command("COPY", "s", "c", "REPLACE") == 1
    assert x.xlen("c") == 2
    assert x.execute_command("RENAME", "c", "r") == "OK"
    assert x.exists("c") == 0 and x.type("r") == "stream"
    assert xc(x, "XRANGE", "r", "-", "+") == [entry(1), entry(3)]
    assert info(x, "r")["last-generated-id"] == "9-0"
    assert x.delete("r", "s") == 2
    assert x.exists("r", "s") == 0
    assert xc(x, "XRANGE", "s", "-", "+") == []


def test_scan_type_stream(x):
    for i in range(5):
        xc(x, "XADD", "st%d" % i, "*", "f", "v")
    x.set("str", "v")
    x.lpush("list", "a")
    xc(x, "XADD", "empty", "MAXLEN", "0", "*", "f", "v")
    got = set(x.scan_iter(_type="stream"))
    assert got == {"st0", "st1", "st2", "st3", "st4", "empty"}
    assert set(x.scan_iter(_type="STREAM")) == got
    assert set(x.scan_iter(_type="string")) == {"str"}


def test_keyspace_events(x, events):
    def ev(name, key="s"):
        return [("__keyspace@0__:%s" % key, name), ("__keyevent@0__:%s" % name, key)]

    events()
    xc(x, "XADD", "s", "1-0", "f", "v")
    xc(x, "XADD", "s", "2-0", "f", "v")
    assert events() == ev("xadd") + ev("xadd")
    xc(x, "XADD", "s", "MAXLEN", "1", "3-0", "f", "v")          # trims: xadd then xtrim
    assert events() == ev("xadd") + ev("xtrim")
    xc(x, "XADD", "s", "MAXLEN", "5", "4-0", "f", "v")          # nothing trimmed
    xc(x, "XADD", "s", "MAXLEN", "~", "1", "5-0", "f", "v")     # nothing trimmed
    assert events() == ev("xadd") + ev("xadd")
    xc(x, "XADD", "s", "MINID", "100", "6-0", "f", "v")         # trims everything
    assert events() == ev("xadd") + ev("xtrim")
    fill(x, "s", ["7-0", "8-0", "9-0"])
    events()
    assert xc(x, "XDEL", "s", "7-0", "99-0") == 1
    assert events() == ev("xdel")
    assert xc(x, "XTRIM", "s", "MAXLEN", "1") == 1
    assert events() == ev("xtrim")
    assert xc(x, "XSETID", "s", "50-0") == "OK"
    assert xc(x, "XSETID", "s", "50-0") == "OK"                  # even when nothing changes
    assert events() == ev("xsetid") + ev("xsetid")


def test_keyspace_events_not_sent_for_noops(x, events):
    fill(x, "s", ["1-0", "2-0"])
    events()
    assert xc(x, "XADD", "n", "NOMKSTREAM", "*", "f", "v") is None
    assert xc(x, "XDEL", "s", "5-0") == 0
    assert xc(x, "XTRIM", "s", "MAXLEN", "10") == 0
    assert xc(x, "XTRIM", "s", "MINID", "1") == 0
    with pytest.raises(redis.ResponseError):
        xc(x, "XADD", "s", "1-0", "f", "v")
    with pytest.raises(redis.ResponseError):
        xc(x, "XSETID", "s", "1-0")
    xc(x, "XRANGE", "s", "-", "+")
    xc(x, "XREAD", "STREAMS", "s", "0")
    assert events() == []


# ---------------- propagation (Keel's DEBUG PROPAGATION-LOG) ----------------

def log_mark(plog):
    """What the log holds now (DEBUG PROPAGATION-LOG GET also empties it)."""
    return plog()


def new_log(plog, mark):
    """Entries propagated since log_mark, command names upper-cased."""
    got = plog()
    if mark and got[:len(mark)] == mark:  # a log that GET does not empty
        got = got[len(mark):]
    return [[e[0], e[1].upper()] + e[2:] for e in got]


@keel_only
def test_propagate_xadd_resolves_id(x, plog):
    start = log_mark(plog)
    auto = xc(x, "XADD", "s", "*", "f", "v")
    part = xc(x, "XADD", "s", "%s-*" % (int(auto.split("-")[0]) + 1), "g", "w")
    assert new_log(plog, start) == [["0", "XADD", "s", auto, "f", "v"],
                                    ["0", "XADD", "s", part, "g", "w"]]
    assert part.endswith("-0")


@keel_only
def test_propagate_approx_maxlen_as_exact(x, plog):
    fill_n(x, "s", 250)
    start = log_mark(plog)
    new = xc(x, "XADD", "s", "MAXLEN", "~", "10", "*", "f", "v")
    log = new_log(plog, start)
    assert log == [["0", "XADD", "s", "MAXLEN", "=", str(x.xlen("s")), new, "f", "v"]]
    assert "~" not in log[0]


@keel_only
def test_propagate_approx_minid_and_limit(x, plog):
    fill_n(x, "s", 250)
    start = log_mark(plog)
    assert xc(x, "XADD", "s", "MINID", "~", "180", "251-0", "f", "v") == "251-0"
    first = xc(x, "XRANGE", "s", "-", "+", "COUNT", "1")[0][0]
    assert new_log(plog, start) == [["0", "XADD", "s", "MINID", "=", first, "251-0", "f", "v"]]
    start = log_mark(plog)
    assert xc(x, "XADD", "s", "MAXLEN", "~", "5", "LIMIT", "100", "252-0", "f", "v") == "252-0"
    log = new_log(plog, start)
    assert len(log) == 1 and "~" not in log[0]
    assert log[0][:6] == ["0", "XADD", "s", "MAXLEN", "=", str(x.xlen("s"))]
    assert log[0][-3:] == ["252-0", "f", "v"]


@keel_only
def test_propagate_xtrim_and_noops(x, plog):
    fill_n(x, "s", 250)
    start = log_mark(plog)
    removed = xc(x, "XTRIM", "s", "MAXLEN", "~", "0")
    assert removed == 250
    assert new_log(plog, start) == [["0", "XTRIM", "s", "MAXLEN", "=", "0"]]
    fill(x, "t", ["1-0", "2-0", "3-0"])
    start = log_mark(plog)
    # nothing written, nothing propagated
    assert xc(x, "XTRIM", "t", "MAXLEN", "10") == 0
    assert xc(x, "XDEL", "t", "9-0") == 0
    assert xc(x, "XADD", "n", "NOMKSTREAM", "*", "f", "v") is None
    with pytest.raises(redis.ResponseError):
        xc(x, "XADD", "t", "1-0", "f", "v")
    assert new_log(plog, start) == []
    assert xc(x, "XTRIM", "t", "MAXLEN", "2") == 1
    assert xc(x, "XDEL", "t", "2-0") == 1
    assert xc(x, "XSETID", "t", "9-0", "ENTRIESADDED", "10", "MAXDELETEDID", "2-0") == "OK"
    assert new_log(plog, start) == [
        ["0", "XTRIM", "t", "MAXLEN", "2"],
        ["0", "XDEL", "t", "2-0"],
        ["0", "XSETID", "t", "9-0", "ENTRIESADDED", "10", "MAXDELETEDID", "2-0"],
    ]


# ---------------- bad input ----------------

def test_bad_input_never_changes_the_stream(server, x):
    fill_n(x, "s", 20)
    xc(x, "XDEL", "s", "4-0")
    before = snapshot(x, "s")
    rnd = random.Random(11)
    words = ["*", "-", "+", "$", ">", "(", "(1", "1-", "-1", "0-0", "0", "abc", "", "~", "=",
             "MAXLEN", "MINID", "LIMIT", "NOMKSTREAM", "COUNT", "BLOCK", "STREAMS", "-5",
             "18446744073709551616", "18446744073709551615-18446744073709551615", "3-0",
             "ENTRIESADDED", "MAXDELETEDID", "\x00", "9" * 40]
    cmds = ["XADD", "XTRIM", "XDEL", "XSETID", "XRANGE", "XREVRANGE", "XREAD", "XLEN"]
    errors = 0
    for _ in range(600):
        cmd = rnd.choice(cmds)
        args = [rnd.choice(words) for _ in range(rnd.randint(0, 7))]
        if cmd != "XREAD":
            args = ["s"] + args
        if cmd == "XREAD" and "BLOCK" in args:
            continue
        try:
            reply = xc(x, cmd, *args)
        except redis.ResponseError:
            errors += 1
            continue
        if cmd in ("XADD", "XTRIM", "XDEL", "XSETID") and reply not in (None, 0):
            # a random command that happened to be a valid write: start again
            x.delete("s")
            fill_n(x, "s", 20)
            xc(x, "XDEL", "s", "4-0")
    assert errors > 300
    assert snapshot(x, "s") == before
    assert x.ping() is True
    # garbage at the protocol level does not hurt either
    raw = server.raw()
    resp_exchange(raw, b"*3\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n")
    raw.close()
    assert snapshot(x, "s") == before
    assert x.ping() is True


def test_stream_node_limits_shape_the_blocks(r):
    """stream-node-max-entries / -max-bytes decide when a new block starts
    (XINFO STREAM counts blocks as radix-tree-keys)."""
    r.config_set("stream-node-max-entries", 10)
    try:
        for i in range(1, 101):
            r.xadd("nodes", {"f": i}, id="%d-0" % i)
        info = r.xinfo_stream("nodes")
        assert info["length"] == 100 and info["radix-tree-keys"] == 10
        r.config_set("stream-node-max-entries", 0)
        r.config_set("stream-node-max-bytes", 1)  # every entry alone in its block
        for i in range(101, 106):
            r.xadd("nodes", {"f": "x" * 50}, id="%d-0" % i)
        assert r.xinfo_stream("nodes")["radix-tree-keys"] == 15
        assert [e[0] for e in r.xrange("nodes", "99", "+")] == [b"%d-0" % i for i in range(99, 106)]
    finally:
        r.config_set("stream-node-max-entries", 100)
        r.config_set("stream-node-max-bytes", "4096")
