"""Sorted sets: every command, option and error text, in both encodings and
at the listpack/skiplist boundary, RESP3 reply shapes, blocking pops, and
the seed's leaderboard and sliding-window rate limiter end to end."""
import sys
import threading
import time

import pytest
import redis

from conftest import err, resp_exchange


def encoding(r, key):
    info = r.execute_command("DEBUG", "OBJECT", key)
    if isinstance(info, bytes):
        info = info.decode()
    return info.split("encoding:")[1].split()[0]


@pytest.fixture(params=["listpack", "skiplist"])
def z(request, r):
    """A client whose new sorted sets use the given encoding."""
    r.config_set("zset-max-listpack-entries", 128 if request.param == "listpack" else 0)
    r.enc = request.param
    yield r
    r.config_set("zset-max-listpack-entries", 128)


def cmd(r, *args):
    """The server's reply untouched by redis-py's per-command parsing."""
    saved = r.response_callbacks
    r.response_callbacks = {}
    try:
        return r.execute_command(*args)
    finally:
        r.response_callbacks = saved


# ---- ZADD / ZINCRBY ----

def test_zadd_basic_and_encoding(z):
    assert cmd(z, "ZADD", "k", 1, "a", 2, "b", 3, "c") == 3
    assert encoding(z, "k") == z.enc
    assert cmd(z, "ZADD", "k", 5, "a", 4, "d") == 1
    assert z.zrange("k", 0, -1, withscores=True) == [(b"b", 2), (b"c", 3), (b"d", 4), (b"a", 5)]
    assert z.type("k") == b"zset"


def test_zadd_options(z):
    cmd(z, "ZADD", "k", 1, "a", 2, "b")
    assert cmd(z, "ZADD", "k", "NX", 10, "a", 3, "c") == 1
    assert z.zscore("k", "a") == 1.0
    assert cmd(z, "ZADD", "k", "XX", 10, "a", 4, "d") == 0
    assert z.zscore("k", "a") == 10.0 and z.zscore("k", "d") is None
    assert cmd(z, "ZADD", "k", "CH", 11, "a", 2, "b", 5, "e") == 2
    assert cmd(z, "ZADD", "k", "GT", "CH", 5, "a", 20, "b") == 1
    assert z.zscore("k", "a") == 11.0 and z.zscore("k", "b") == 20.0
    assert cmd(z, "ZADD", "k", "LT", "CH", 5, "a", 30, "b") == 1
    assert z.zscore("k", "a") == 5.0 and z.zscore("k", "b") == 20.0
    # GT/LT still add new members
    assert cmd(z, "ZADD", "k", "GT", 1, "new") == 1
    assert cmd(z, "ZADD", "nokey", "XX", 1, "a") == 0
    assert z.exists("nokey") == 0


def test_zadd_incr(z):
    assert cmd(z, "ZADD", "k", "INCR", 1.5, "a") == b"1.5"
    assert cmd(z, "ZADD", "k", "INCR", 1, "a") == b"2.5"
    assert cmd(z, "ZADD", "k", "NX", "INCR", 1, "a") is None
    assert cmd(z, "ZADD", "k", "XX", "INCR", 1, "zz") is None
    assert cmd(z, "ZADD", "k", "GT", "INCR", -1, "a") is None
    assert cmd(z, "ZADD", "k", "LT", "INCR", -1, "a") == b"1.5"
    assert cmd(z, "ZADD", "nokey", "XX", "INCR", 1, "a") is None


def test_negative_zero_scores(r):
    """As Redis: a reply shows the -0 it computed; the compact encoding
    stores it as 0, the skiplist keeps -0."""
    assert cmd(r, "ZINCRBY", "new", "-0", "m") == b"-0"
    assert cmd(r, "ZSCORE", "new", "m") == b"0"
    assert cmd(r, "ZADD", "new2", "INCR", "-0", "m") == b"-0"
    assert cmd(r, "ZINCRBY", "new2", "-0", "m") == b"0"  # 0 + -0
    r.config_set("zset-max-listpack-entries", 0)
    try:
        r.zadd("big", {"a": "-0"})
        assert cmd(r, "ZSCORE", "big", "a") == b"-0"
        assert cmd(r, "ZRANGE", "big", "0", "-1", "WITHSCORES") == [b"a", b"-0"]
    finally:
        r.config_set("zset-max-listpack-entries", 128)


def test_zinter_nan_from_a_later_input(r):
    """inf * 0 is NaN: the first input's product is taken as 0, a later
    one sums to 0 and never wins MIN or MAX (Redis's rule)."""
    r.zadd("zi", {"a": "inf"})
    r.zadd("y", {"a": 5})
    assert cmd(r, "ZINTER", 2, "zi", "zi", "WEIGHTS", 3, 0, "WITHSCORES") == [b"a", b"0"]
    assert cmd(r, "ZINTER", 2, "y", "zi", "WEIGHTS", 1, 0, "WITHSCORES") == [b"a", b"0"]
    assert cmd(r, "ZINTER", 2, "zi", "zi", "WEIGHTS", 1, 0, "AGGREGATE", "MIN", "WITHSCORES") == [b"a", b"inf"]
    assert cmd(r, "ZINTER", 2, "zi", "zi", "WEIGHTS", 0, 1, "AGGREGATE", "MAX", "WITHSCORES") == [b"a", b"inf"]
    assert r.zinterstore("dst", {"y": 1, "zi": 0}) == 1 and cmd(r, "ZSCORE", "dst", "a") == b"0"


def test_zadd_errors(z):
    assert err(cmd, z, "ZADD", "k", "NX", "XX", 1, "a") == "XX and NX options at the same time are not compatible"
    for opts in (["GT", "LT"], ["GT", "NX"], ["LT", "NX"]):
        assert err(cmd, z, "ZADD", "k", *opts, 1, "a") == \
            "GT, LT, and/or NX options at the same time are not compatible"
    assert err(cmd, z, "ZADD", "k", "INCR", 1, "a", 2, "b") == "INCR option supports a single increment-element pair"
    assert err(cmd, z, "ZADD", "k", "abc", "a") == "value is not a valid float"
    assert err(cmd, z, "ZADD", "k", "nan", "a") == "value is not a valid float"
    assert err(cmd, z, "ZADD", "k", 1, "a", 2) == "syntax error"
    assert err(cmd, z, "ZADD", "k", "CH", 1) == "syntax error"
    assert err(cmd, z, "ZADD", "k", "CH") == "wrong number of arguments for 'zadd' command"
    # a bad score anywhere means nothing is added
    assert err(cmd, z, "ZADD", "k", 1, "a", "x", "b") == "value is not a valid float"
    assert z.exists("k") == 0
    assert err(cmd, z, "ZADD", "k") == "wrong number of arguments for 'zadd' command"


def test_zadd_accepts_dbl_max_written_in_full(z):
    """DBL_MAX spelled out with decimals is over 300 bytes: a valid float
    all the same (as Redis); one digit more overflows and is refused."""
    dbl_max = "%.5f" % sys.float_info.max
    assert len(dbl_max) > 300
    assert z.zadd("zz", {"m": dbl_max, "n": "-" + dbl_max}) == 2
    assert z.zrange("zz", 0, -1, withscores=True) == [(b"n", -sys.float_info.max), (b"m", sys.float_info.max)]
    assert z.zrangebyscore("zz", "-" + dbl_max, dbl_max) == [b"n", b"m"]
    assert err(cmd, z, "ZADD", "zz", "1" + dbl_max, "x") == "value is not a valid float"


def test_zincrby_and_nan(z):
    assert z.zincrby("k", 2.5, "a") == 2.5
    assert z.zincrby("k", -1, "a") == 1.5
    assert err(cmd, z, "ZINCRBY", "k", "x", "a") == "value is not a valid float"
    cmd(z, "ZADD", "k", "+inf", "i")
    assert err(cmd, z, "ZINCRBY", "k", "-inf", "i") == "resulting score is not a number (NaN)"
    assert err(cmd, z, "ZADD", "k", "INCR", "-inf", "i") == "resulting score is not a number (NaN)"
    assert z.zscore("k", "i") == float("inf")


def test_score_formatting(z):
    cmd(z, "ZADD", "k", 1.1, "a", "+inf", "b", "-inf", "c", "1e100", "d", 0.1, "e", "-0", "f", 3.0, "g")
    assert z.zscore("k", "a") == 1.1
    assert cmd(z, "ZSCORE", "k", "a") == b"1.1"
    assert cmd(z, "ZSCORE", "k", "b") == b"inf"
    assert cmd(z, "ZSCORE", "k", "c") == b"-inf"
    assert cmd(z, "ZSCORE", "k", "d") == b"1e+100"
    assert cmd(z, "ZSCORE", "k", "e") == b"0.1"
    # -0: the compact form stores 0, the skiplist keeps -0 (as Redis)
    assert cmd(z, "ZSCORE", "k", "f") == (b"-0" if z.enc == "skiplist" else b"0")
    assert cmd(z, "ZSCORE", "k", "g") == b"3"
    assert cmd(z, "ZINCRBY", "k", 0.2, "e") == b"0.30000000000000004"


# ---- point reads, removal ----

def test_zrem_zscore_zmscore_zcard(z):
    cmd(z, "ZADD", "k", 1, "a", 2, "b", 3, "c")
    assert z.zcard("k") == 3 and z.zcard("nokey") == 0
    assert cmd(z, "ZMSCORE", "k", "a", "nope", "c") == [b"1", None, b"3"]
    assert cmd(z, "ZMSCORE", "nokey", "a") == [None]
    assert z.zscore("nokey", "a") is None
    assert z.zrem("k", "a", "nope") == 1
    assert z.zrem("nokey", "a") == 0
    assert z.zrem("k", "b", "c") == 2
    assert z.exists("k") == 0


def test_wrongtype(z):
    z.set("s", "x")
    wt = "WRONGTYPE Operation against a key holding the wrong kind of value"
    for args in (["ZADD", "s", 1, "a"], ["ZINCRBY", "s", 1, "a"], ["ZREM", "s", "a"], ["ZSCORE", "s", "a"],
                 ["ZMSCORE", "s", "a"], ["ZCARD", "s"], ["ZCOUNT", "s", 0, 1], ["ZLEXCOUNT", "s", "-", "+"],
                 ["ZRANGE", "s", 0, 1], ["ZRANGESTORE", "d", "s", 0, 1], ["ZREVRANGE", "s", 0, 1],
                 ["ZRANGEBYSCORE", "s", 0, 1], ["ZREVRANGEBYSCORE", "s", 1, 0], ["ZRANGEBYLEX", "s", "-", "+"],
                 ["ZREVRANGEBYLEX", "s", "+", "-"], ["ZRANK", "s", "a"], ["ZREVRANK", "s", "a"],
                 ["ZREMRANGEBYSCORE", "s", 0, 1], ["ZREMRANGEBYRANK", "s", 0, 1], ["ZREMRANGEBYLEX", "s", "-", "+"],
                 ["ZPOPMIN", "s"], ["ZPOPMAX", "s"], ["ZMPOP", 1, "s", "MIN"], ["ZRANDMEMBER", "s"],
                 ["ZUNION", 1, "s"], ["ZINTER", 1, "s"], ["ZDIFF", 1, "s"], ["ZINTERCARD", 1, "s"],
                 ["ZUNIONSTORE", "d", 1, "s"], ["ZSCAN", "s", 0], ["BZPOPMIN", "s", 0.01]):
        assert err(cmd, z, *args) == wt, args


# ---- counts and ranges ----

def test_zcount_zlexcount(z):
    cmd(z, "ZADD", "k", 1, "a", 2, "b", 3, "c", 4, "d")
    assert z.zcount("k", "-inf", "+inf") == 4
    assert z.zcount("k", "(1", "3") == 2
    assert z.zcount("k", "(1", "(1") == 0
    assert z.zcount("k", 3, 1) == 0
    assert z.zcount("nokey", 0, 1) == 0
    assert err(cmd, z, "ZCOUNT", "k", "x", 1) == "min or max is not a float"
    cmd(z, "ZADD", "l", 0, "a", 0, "b", 0, "c", 0, "d")
    assert z.zlexcount("l", "-", "+") == 4
    assert z.zlexcount("l", "[b", "(d") == 2
    assert z.zlexcount("l", "+", "-") == 0
    assert err(cmd, z, "ZLEXCOUNT", "l", "a", "+") == "min or max not valid string range item"
    assert err(cmd, z, "ZLEXCOUNT", "l", "-", "+x") == "min or max not valid string range item"


def test_zrange_by_rank(z):
    cmd(z, "ZADD", "k", 1, "a", 2, "b", 3, "c", 4, "d")
    assert z.zrange("k", 0, -1) == [b"a", b"b", b"c", b"d"]
    assert z.zrange("k", 1, 2, withscores=True) == [(b"b", 2), (b"c", 3)]
    assert z.zrange("k", -2, 100) == [b"c", b"d"]
    assert z.zrange("k", -100, 0) == [b"a"]
    assert z.zrange("k", 3, 1) == [] and z.zrange("k", 4, 10) == []
    assert cmd(z, "ZRANGE", "k", 0, 1, "REV", "WITHSCORES") == [b"d", b"4", b"c", b"3"]
    assert z.zrevrange("k", 0, 1) == [b"d", b"c"]
    assert z.zrevrange("k", -1, -1, withscores=True) == [(b"a", 1)]
    assert z.zrange("nokey", 0, -1) == []
    assert err(cmd, z, "ZRANGE", "k", "x", 1) == "value is not an integer or out of range"


def test_zrange_by_score(z):
    cmd(z, "ZADD", "k", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert cmd(z, "ZRANGE", "k", "(1", 3, "BYSCORE") == [b"b", b"c"]
    assert cmd(z, "ZRANGE", "k", "-inf", "+inf", "BYSCORE", "LIMIT", 1, 2, "WITHSCORES") == [b"b", b"2", b"c", b"3"]
    assert cmd(z, "ZRANGE", "k", "+inf", "(2", "BYSCORE", "REV", "LIMIT", 0, 2) == [b"e", b"d"]
    assert cmd(z, "ZRANGE", "k", "-inf", "+inf", "BYSCORE", "LIMIT", 3, -1) == [b"d", b"e"]
    assert cmd(z, "ZRANGE", "k", "-inf", "+inf", "BYSCORE", "LIMIT", -1, 2) == []
    assert cmd(z, "ZRANGE", "k", "-inf", "+inf", "BYSCORE", "LIMIT", 9, 2) == []
    assert z.zrangebyscore("k", 2, 4) == [b"b", b"c", b"d"]
    assert z.zrangebyscore("k", "(2", "(4", withscores=True) == [(b"c", 3)]
    assert z.zrangebyscore("k", "-inf", "+inf", start=1, num=1) == [b"b"]
    assert z.zrevrangebyscore("k", 4, 2) == [b"d", b"c", b"b"]
    assert z.zrevrangebyscore("k", "+inf", "-inf", start=0, num=2, withscores=True) == [(b"e", 5), (b"d", 4)]
    assert err(cmd, z, "ZRANGEBYSCORE", "k", "a", 1) == "min or max is not a float"
    assert err(cmd, z, "ZRANGE", "k", 1, "(x", "BYSCORE") == "min or max is not a float"
    assert err(cmd, z, "ZRANGEBYSCORE", "k", 0, 1, "LIMIT", "x", 1) == "value is not an integer or out of range"
    assert err(cmd, z, "ZRANGEBYSCORE", "k", 0, 1, "LIMIT", 1) == "syntax error"


def test_zrange_by_lex(z):
    cmd(z, "ZADD", "k", 0, "a", 0, "b", 0, "c", 0, "d", 0, "e", 0, "f")
    assert cmd(z, "ZRANGE", "k", "[b", "(e", "BYLEX") == [b"b", b"c", b"d"]
    assert cmd(z, "ZRANGE", "k", "+", "-", "BYLEX", "REV", "LIMIT", 1, 2) == [b"e", b"d"]
    assert z.zrangebylex("k", "-", "+") == [b"a", b"b", b"c", b"d", b"e", b"f"]
    assert z.zrangebylex("k", "(a", "[c") == [b"b", b"c"]
    assert z.zrangebylex("k", "-", "+", start=4, num=10) == [b"e", b"f"]
    assert z.zrevrangebylex("k", "[d", "(a") == [b"d", b"c", b"b"]
    assert z.zrangebylex("k", "+", "-") == [] and z.zrangebylex("k", "[z", "+") == []
    assert err(cmd, z, "ZRANGEBYLEX", "k", "a", "+") == "min or max not valid string range item"
    assert err(cmd, z, "ZRANGEBYLEX", "k", "-", "+", "WITHSCORES") == \
        "syntax error, WITHSCORES not supported in combination with BYLEX"


def test_zrange_option_errors(z):
    cmd(z, "ZADD", "k", 1, "a")
    assert err(cmd, z, "ZRANGE", "k", 0, -1, "LIMIT", 0, 1) == \
        "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    assert err(cmd, z, "ZRANGE", "k", "-", "+", "BYLEX", "WITHSCORES") == \
        "syntax error, WITHSCORES not supported in combination with BYLEX"
    for args in (["REV", "REV"], ["BYSCORE", "BYLEX"], ["FOO"], ["LIMIT", 1]):
        assert err(cmd, z, "ZRANGE", "k", 0, -1, *args) == "syntax error"
    assert err(cmd, z, "ZREVRANGE", "k", 0, -1, "REV") == "syntax error"
    assert err(cmd, z, "ZRANGESTORE", "d", "k", 0, -1, "WITHSCORES") == "syntax error"


def test_zrangestore(z):
    cmd(z, "ZADD", "k", 1, "a", 2, "b", 3, "c")
    assert cmd(z, "ZRANGESTORE", "d", "k", 0, 1) == 2
    assert z.zrange("d", 0, -1, withscores=True) == [(b"a", 1), (b"b", 2)]
    assert cmd(z, "ZRANGESTORE", "d", "k", "+inf", "(1", "BYSCORE", "REV", "LIMIT", 0, 1) == 1
    assert z.zrange("d", 0, -1) == [b"c"]
    z.expire("d", 100)
    assert cmd(z, "ZRANGESTORE", "d", "k", "[b", "+", "BYLEX") == 2
    assert z.ttl("d") == -1
    assert cmd(z, "ZRANGESTORE", "d", "k", 5, 10) == 0
    assert z.exists("d") == 0
    z.set("d", "string")
    assert cmd(z, "ZRANGESTORE", "d", "nokey", 0, -1) == 0
    assert z.exists("d") == 0
    # the source itself as destination
    assert cmd(z, "ZRANGESTORE", "k", "k", 1, -1) == 2
    assert z.zrange("k", 0, -1) == [b"b", b"c"]


def test_zrank_zrevrank(z):
    cmd(z, "ZADD", "k", 1, "a", 2, "b", 3.5, "c")
    assert z.zrank("k", "a") == 0 and z.zrank("k", "c") == 2
    assert z.zrevrank("k", "a") == 2 and z.zrevrank("k", "c") == 0
    assert z.zrank("k", "nope") is None and z.zrank("nokey", "a") is None
    assert cmd(z, "ZRANK", "k", "c", "WITHSCORE") == [2, b"3.5"]
    assert cmd(z, "ZREVRANK", "k", "c", "withscore") == [0, b"3.5"]
    assert cmd(z, "ZRANK", "k", "nope", "WITHSCORE") is None
    assert cmd(z, "ZRANK", "nokey", "a", "WITHSCORE") is None
    assert err(cmd, z, "ZRANK", "k", "a", "foo") == "syntax error"
    assert err(cmd, z, "ZRANK", "k", "a", "withscore", "x") == "wrong number of arguments for 'zrank' command"


# ---- range removal ----

def test_zremrange(z):
    cmd(z, "ZADD", "k", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e", 6, "f")
    assert z.zremrangebyrank("k", 1, 2) == 2
    assert z.zrange("k", 0, -1) == [b"a", b"d", b"e", b"f"]
    assert z.zremrangebyrank("k", 10, 20) == 0
    assert z.zremrangebyrank("k", -1, -1) == 1
    assert z.zremrangebyscore("k", "(1", 4) == 1
    assert z.zremrangebyscore("k", "-inf", "(1") == 0
    assert z.zrange("k", 0, -1) == [b"a", b"e"]
    assert z.zremrangebyscore("k", "-inf", "+inf") == 2
    assert z.exists("k") == 0
    cmd(z, "ZADD", "l", 0, "a", 0, "b", 0, "c", 0, "d")
    assert z.zremrangebylex("l", "[b", "(d") == 2
    assert z.zrange("l", 0, -1) == [b"a", b"d"]
    assert z.zremrangebylex("l", "-", "+") == 2
    assert z.exists("l") == 0
    assert z.zremrangebyrank("nokey", 0, -1) == 0
    assert err(cmd, z, "ZREMRANGEBYRANK", "k", "x", 1) == "value is not an integer or out of range"
    assert err(cmd, z, "ZREMRANGEBYSCORE", "k", "x", 1) == "min or max is not a float"
    assert err(cmd, z, "ZREMRANGEBYLEX", "k", "x", "+") == "min or max not valid string range item"


# ---- pops ----

def test_zpopmin_zpopmax(z):
    cmd(z, "ZADD", "k", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert cmd(z, "ZPOPMIN", "k") == [b"a", b"1"]
    assert cmd(z, "ZPOPMAX", "k") == [b"e", b"5"]
    assert cmd(z, "ZPOPMIN", "k", 2) == [b"b", b"2", b"c", b"3"]
    assert cmd(z, "ZPOPMIN", "k", 0) == []
    assert cmd(z, "ZPOPMAX", "k", 10) == [b"d", b"4"]
    assert z.exists("k") == 0
    assert cmd(z, "ZPOPMIN", "nokey") == [] and cmd(z, "ZPOPMIN", "nokey", 3) == []
    assert err(cmd, z, "ZPOPMIN", "k", -1) == "value is out of range, must be positive"
    assert err(cmd, z, "ZPOPMIN", "k", "x") == "value is out of range, must be positive"
    assert err(cmd, z, "ZPOPMIN", "k", 1, 2) == "syntax error"


def test_zmpop(z):
    cmd(z, "ZADD", "k", 1, "a", 2, "b", 3, "c")
    assert cmd(z, "ZMPOP", 1, "k", "MIN") == [b"k", [[b"a", b"1"]]]
    assert cmd(z, "ZMPOP", 2, "nokey", "k", "MAX", "COUNT", 5) == [b"k", [[b"c", b"3"], [b"b", b"2"]]]
    assert z.exists("k") == 0
    assert cmd(z, "ZMPOP", 1, "k", "MIN") is None
    assert err(cmd, z, "ZMPOP", 0, "k", "MIN") == "numkeys should be greater than 0"
    assert err(cmd, z, "ZMPOP", "x", "k", "MIN") == "numkeys should be greater than 0"
    assert err(cmd, z, "ZMPOP", 3, "k", "MIN") == "syntax error"
    assert err(cmd, z, "ZMPOP", 1, "k", "FOO") == "syntax error"
    assert err(cmd, z, "ZMPOP", 1, "k", "MIN", "COUNT", 0) == "count should be greater than 0"
    assert err(cmd, z, "ZMPOP", 1, "k", "MIN", "COUNT") == "syntax error"
    assert err(cmd, z, "ZMPOP", 1, "k", "MIN", "COUNT", 1, "COUNT", 1) == "syntax error"


# ---- ZRANDMEMBER ----

def test_zrandmember(z):
    members = {b"m%d" % i: i for i in range(50)}
    cmd(z, "ZADD", "k", *[x for m, s in members.items() for x in (s, m)])
    assert cmd(z, "ZRANDMEMBER", "k") in members
    assert cmd(z, "ZRANDMEMBER", "nokey") is None
    assert cmd(z, "ZRANDMEMBER", "nokey", 5) == []
    assert cmd(z, "ZRANDMEMBER", "k", 0) == []
    got = cmd(z, "ZRANDMEMBER", "k", 10)
    assert len(got) == 10 and len(set(got)) == 10 and set(got) <= set(members)
    got = cmd(z, "ZRANDMEMBER", "k", 40)  # the shuffle path
    assert len(got) == 40 and len(set(got)) == 40
    assert sorted(cmd(z, "ZRANDMEMBER", "k", 100)) == sorted(members)
    got = cmd(z, "ZRANDMEMBER", "k", -200)
    assert len(got) == 200 and set(got) <= set(members) and len(set(got)) > 1
    got = cmd(z, "ZRANDMEMBER", "k", 5, "WITHSCORES")
    assert len(got) == 10
    for m, s in zip(got[::2], got[1::2]):
        assert members[m] == int(s)
    assert err(cmd, z, "ZRANDMEMBER", "k", 1, "foo") == "syntax error"
    assert err(cmd, z, "ZRANDMEMBER", "k", "x") == "value is not an integer or out of range"
    assert err(cmd, z, "ZRANDMEMBER", "k", -2**62, "WITHSCORES") == "value is out of range"


# ---- set algebra ----

def setup_sets(r):
    cmd(r, "ZADD", "u1", 1, "a", 2, "b", 3, "c")
    cmd(r, "ZADD", "u2", 1, "b", 2, "c", 3, "d")


def test_zunion_zinter_zdiff(z):
    setup_sets(z)
    assert cmd(z, "ZUNION", 2, "u1", "u2") == [b"a", b"b", b"d", b"c"]
    assert cmd(z, "ZUNION", 2, "u1", "u2", "WITHSCORES") == [b"a", b"1", b"b", b"3", b"d", b"3", b"c", b"5"]
    assert cmd(z, "ZUNION", 2, "u1", "u2", "WEIGHTS", 2, 3, "WITHSCORES") == \
        [b"a", b"2", b"b", b"7", b"d", b"9", b"c", b"12"]
    assert cmd(z, "ZUNION", 2, "u1", "u2", "AGGREGATE", "MIN", "WITHSCORES") == \
        [b"a", b"1", b"b", b"1", b"c", b"2", b"d", b"3"]
    assert cmd(z, "ZUNION", 2, "u1", "u2", "AGGREGATE", "MAX", "WITHSCORES") == \
        [b"a", b"1", b"b", b"2", b"c", b"3", b"d", b"3"]
    assert cmd(z, "ZUNION", 2, "u1", "nokey", "WITHSCORES") == [b"a", b"1", b"b", b"2", b"c", b"3"]
    assert cmd(z, "ZINTER", 2, "u1", "u2", "WITHSCORES") == [b"b", b"3", b"c", b"5"]
    assert cmd(z, "ZINTER", 2, "u1", "u2", "WEIGHTS", 1, 10, "AGGREGATE", "MAX", "WITHSCORES") == \
        [b"b", b"10", b"c", b"20"]
    assert cmd(z, "ZINTER", 2, "u1", "nokey") == []
    assert cmd(z, "ZDIFF", 2, "u1", "u2", "WITHSCORES") == [b"a", b"1"]
    assert cmd(z, "ZDIFF", 1, "u1") == [b"a", b"b", b"c"]
    assert cmd(z, "ZINTERCARD", 2, "u1", "u2") == 2
    assert cmd(z, "ZINTERCARD", 2, "u1", "u2", "LIMIT", 1) == 1
    assert cmd(z, "ZINTERCARD", 2, "u1", "u2", "LIMIT", 0) == 2
    # inf + -inf sums to 0, as in Redis
    cmd(z, "ZADD", "i1", "+inf", "x")
    cmd(z, "ZADD", "i2", "-inf", "x")
    assert cmd(z, "ZUNION", 2, "i1", "i2", "WITHSCORES") == [b"x", b"0"]


def test_setop_errors(z):
    setup_sets(z)
    assert err(cmd, z, "ZUNION", 0, "u1") == "at least 1 input key is needed for 'zunion' command"
    assert err(cmd, z, "ZUNIONSTORE", "d", 0, "u1") == "at least 1 input key is needed for 'zunionstore' command"
    assert err(cmd, z, "ZINTERCARD", 0, "u1") == "at least 1 input key is needed for 'zintercard' command"
    assert err(cmd, z, "ZUNION", 3, "u1", "u2") == "syntax error"
    assert err(cmd, z, "ZUNION", "x", "u1") == "value is not an integer or out of range"
    assert err(cmd, z, "ZUNION", 2, "u1", "u2", "WEIGHTS", 1, "x") == "weight value is not a float"
    assert err(cmd, z, "ZUNION", 2, "u1", "u2", "WEIGHTS", 1) == "syntax error"
    assert err(cmd, z, "ZUNION", 2, "u1", "u2", "AGGREGATE", "AVG") == "syntax error"
    assert err(cmd, z, "ZDIFF", 2, "u1", "u2", "WEIGHTS", 1, 1) == "syntax error"
    assert err(cmd, z, "ZUNIONSTORE", "d", 2, "u1", "u2", "WITHSCORES") == "syntax error"
    assert err(cmd, z, "ZINTERCARD", 2, "u1", "u2", "LIMIT", -1) == "LIMIT can't be negative"
    # Redis gives the same text for a LIMIT that is not an integer at all
    assert err(cmd, z, "ZINTERCARD", 2, "u1", "u2", "LIMIT", "x") == "LIMIT can't be negative"
    assert err(cmd, z, "ZINTERCARD", 2, "u1", "u2", "WITHSCORES") == "syntax error"


def test_setop_store(z):
    setup_sets(z)
    assert cmd(z, "ZUNIONSTORE", "d", 2, "u1", "u2") == 4
    assert z.zrange("d", 0, -1, withscores=True) == [(b"a", 1), (b"b", 3), (b"d", 3), (b"c", 5)]
    assert cmd(z, "ZINTERSTORE", "d", 2, "u1", "u2", "WEIGHTS", 2, 2) == 2
    assert z.zrange("d", 0, -1, withscores=True) == [(b"b", 6), (b"c", 10)]
    assert cmd(z, "ZDIFFSTORE", "d", 2, "u1", "u2") == 1
    assert z.zrange("d", 0, -1, withscores=True) == [(b"a", 1)]
    assert cmd(z, "ZINTERSTORE", "d", 2, "u1", "nokey") == 0
    assert z.exists("d") == 0
    # destination may be one of the inputs
    assert cmd(z, "ZUNIONSTORE", "u1", 2, "u1", "u2", "AGGREGATE", "MAX") == 4
    assert z.zrange("u1", 0, -1, withscores=True) == [(b"a", 1), (b"b", 2), (b"c", 3), (b"d", 3)]


def test_setop_store_encoding(r):
    r.config_set("zset-max-listpack-entries", 128)
    cmd(r, "ZADD", "small", *[x for i in range(10) for x in (i, "m%d" % i)])
    cmd(r, "ZADD", "big", *[x for i in range(200) for x in (i, "m%d" % i)])
    cmd(r, "ZUNIONSTORE", "d1", 1, "small")
    assert encoding(r, "d1") == "listpack"
    cmd(r, "ZUNIONSTORE", "d2", 1, "big")
    assert encoding(r, "d2") == "skiplist"
    cmd(r, "ZINTERSTORE", "d3", 2, "big", "small")
    assert encoding(r, "d3") == "listpack" and r.zcard("d3") == 10
    cmd(r, "ZRANGESTORE", "d4", "big", 0, 199)
    assert encoding(r, "d4") == "skiplist" and r.zcard("d4") == 200


# ---- ZSCAN ----

def test_zscan(z):
    n = 300
    cmd(z, "ZADD", "k", *[x for i in range(n) for x in (i, "m%d" % i)])
    seen = {}
    cursor = 0
    while True:
        cursor, items = cmd(z, "ZSCAN", "k", cursor, "COUNT", 20)
        for m, s in zip(items[::2], items[1::2]):
            seen[m] = s
        cursor = int(cursor)
        if cursor == 0:
            break
    assert len(seen) == n and seen[b"m7"] == b"7"
    cursor, items = cmd(z, "ZSCAN", "small", 0)
    assert cursor == b"0" and items == []
    cmd(z, "ZADD", "s", 1, "apple", 2, "banana", 3, "avocado")
    matched = {}
    cursor = 0
    while True:
        cursor, items = cmd(z, "ZSCAN", "s", cursor, "MATCH", "a*")
        matched.update(zip(items[::2], items[1::2]))
        cursor = int(cursor)
        if cursor == 0:
            break
    assert matched == {b"apple": b"1", b"avocado": b"3"}
    assert err(cmd, z, "ZSCAN", "k", "x") == "invalid cursor"
    assert err(cmd, z, "ZSCAN", "k", 0, "COUNT", 0) == "syntax error"
    assert err(cmd, z, "ZSCAN", "k", 0, "FOO") == "syntax error"


# ---- encoding boundary ----

def test_listpack_to_skiplist_boundary(r):
    r.config_set("zset-max-listpack-entries", 128)
    r.config_set("zset-max-listpack-value", 64)
    cmd(r, "ZADD", "k", *[x for i in range(128) for x in (i, "m%03d" % i)])
    assert encoding(r, "k") == "listpack"
    cmd(r, "ZADD", "k", 500, "one-more")
    assert encoding(r, "k") == "skiplist"
    assert r.zcard("k") == 129 and r.zrank("k", "one-more") == 128
    assert r.zrange("k", 0, 2) == [b"m000", b"m001", b"m002"]
    # removing members does not convert back
    r.zremrangebyrank("k", 0, 100)
    assert encoding(r, "k") == "skiplist"
    cmd(r, "ZADD", "v", 1, "x" * 64)
    assert encoding(r, "v") == "listpack"
    cmd(r, "ZADD", "v", 2, "y" * 65)
    assert encoding(r, "v") == "skiplist"
    assert r.zrange("v", 0, -1) == [b"x" * 64, b"y" * 65]
    # a new key with too many elements at once starts as a skiplist
    cmd(r, "ZADD", "w", *[x for i in range(129) for x in (i, "m%d" % i)])
    assert encoding(r, "w") == "skiplist"
    r.config_set("zset-max-listpack-entries", 0)
    cmd(r, "ZADD", "z0", 1, "a")
    assert encoding(r, "z0") == "skiplist"
    r.config_set("zset-max-listpack-entries", 128)


def test_big_set_ranks_and_ranges(r):
    """A few thousand members in the skiplist: ranks and ranges agree with
    a model kept in Python."""
    import random
    rnd = random.Random(3)
    model = {}
    for batch in range(5):
        args = []
        for _ in range(500):
            m = "m%d" % rnd.randrange(3000)
            s = rnd.randrange(1000) / 4
            model[m] = s
            args += [s, m]
        cmd(r, "ZADD", "big", *args)
    order = sorted(model.items(), key=lambda kv: (kv[1], kv[0].encode()))
    assert r.zcard("big") == len(order)
    for i in (0, 1, len(order) // 2, len(order) - 1):
        assert r.zrank("big", order[i][0]) == i
        assert r.zrevrank("big", order[i][0]) == len(order) - 1 - i
    assert [m.decode() for m in r.zrange("big", 100, 120)] == [m for m, _ in order[100:121]]
    inrange = [m for m, s in order if 50 < s <= 100]
    assert [m.decode() for m in r.zrangebyscore("big", "(50", 100)] == inrange
    assert r.zcount("big", "(50", 100) == len(inrange)
    assert [m.decode() for m in r.zrevrangebyscore("big", 100, "(50")] == inrange[::-1]


def test_big_set_changes_against_model(r):
    """About fifteen thousand members (two inner levels of the big
    encoding's tree; leaves split, merged and evened out): random adds,
    score moves, removals and range deletions from both ends and the middle,
    checked against a model kept in Python after each round, by rank and by
    score, both ways; then DUMP/RESTORE keeps every member and its score."""
    import random
    rnd = random.Random(15)
    model = {}

    def order():
        return sorted(model.items(), key=lambda kv: (kv[1], kv[0].encode()))

    def check():
        o = order()
        assert r.zcard("zm") == len(o)
        got = cmd(r, "ZRANGE", "zm", 0, -1, "WITHSCORES")
        assert [m.decode() for m in got[0::2]] == [m for m, _ in o]
        assert [float(s) for s in got[1::2]] == [s for _, s in o]
        rev = cmd(r, "ZRANGE", "zm", 0, -1, "REV")
        assert [m.decode() for m in rev] == [m for m, _ in reversed(o)]
        for i in [rnd.randrange(len(o)) for _ in range(20)] if o else []:
            assert r.zrank("zm", o[i][0]) == i
            assert r.zrevrank("zm", o[i][0]) == len(o) - 1 - i
            assert [m.decode() for m in r.zrange("zm", i, i + 30)] == [m for m, _ in o[i:i + 31]]
        lo, hi = sorted((rnd.randrange(4000) / 4, rnd.randrange(4000) / 4))
        inrange = [m for m, s in o if lo <= s < hi]
        assert [m.decode() for m in cmd(r, "ZRANGE", "zm", lo, "(%r" % hi, "BYSCORE")] == inrange
        assert r.zcount("zm", lo, "(%r" % hi) == len(inrange)
        return o

    for rnd_round in range(6):
        for _ in range(8):
            args = []
            for _ in range(1000):
                m = "m%d" % rnd.randrange(40000)
                s = rnd.randrange(4000) / 4
                model[m] = s
                args += [s, m]
            cmd(r, "ZADD", "zm", *args)
        o = check()
        # Remove a random tenth by member, a run by rank from the middle,
        # some from each end, and a score band.
        gone = rnd.sample([m for m, _ in o], len(o) // 10)
        assert r.zrem("zm", *gone) == len(gone)
        for m in gone:
            del model[m]
        o = order()
        start = rnd.randrange(len(o) // 2)
        stop = start + rnd.randrange(3000)
        assert r.zremrangebyrank("zm", start, stop) == len(o[start:stop + 1])
        for m, _ in o[start:stop + 1]:
            del model[m]
        o = order()
        popped = r.zpopmin("zm", 200) + r.zpopmax("zm", 200)
        assert [(m.decode(), s) for m, s in popped] == o[:200] + o[::-1][:200]
        for m, _ in popped:
            del model[m.decode()]
        lo = rnd.randrange(3000) / 4
        band = [m for m, s in model.items() if lo <= s <= lo + 40]
        assert r.zremrangebyscore("zm", lo, lo + 40) == len(band)
        for m in band:
            del model[m]
        check()
    r.restore("zm2", 0, r.dump("zm"))
    assert cmd(r, "ZRANGE", "zm2", 0, -1, "WITHSCORES") == cmd(r, "ZRANGE", "zm", 0, -1, "WITHSCORES")
    assert r.zrangestore("zm3", "zm", 100, 5099) == 5000
    assert r.zrange("zm3", 0, -1) == r.zrange("zm", 100, 5099)
    assert r.object("encoding", "zm") == b"skiplist"


# ---- RESP3 shapes ----

def test_resp3_shapes(server):
    s = server.raw()
    resp_exchange(s, b"HELLO 3\r\n")
    out = resp_exchange(s, b"DEL k\r\nZADD k 1 a 2.5 b\r\nZSCORE k b\r\nZRANGE k 0 -1 WITHSCORES\r\n")
    assert out.endswith(b",2.5\r\n*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n")
    assert resp_exchange(s, b"ZRANGE k 0 -1\r\n") == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert resp_exchange(s, b"ZPOPMIN k\r\n") == b"*2\r\n$1\r\na\r\n,1\r\n"
    assert resp_exchange(s, b"ZADD k 1 a\r\nZPOPMIN k 1\r\n") == b":1\r\n*1\r\n*2\r\n$1\r\na\r\n,1\r\n"
    assert resp_exchange(s, b"ZRANDMEMBER k 1 WITHSCORES\r\n") == b"*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
    assert resp_exchange(s, b"ZRANK k b WITHSCORE\r\n") == b"*2\r\n:0\r\n,2.5\r\n"
    assert resp_exchange(s, b"ZSCORE k nope\r\nZADD k INCR 1 inf\r\n") == b"_\r\n,1\r\n"
    assert resp_exchange(s, b"ZMPOP 1 nokey MIN\r\n") == b"_\r\n"
    assert resp_exchange(s, b"ZUNION 1 k WITHSCORES\r\n") == b"*2\r\n*2\r\n$3\r\ninf\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
    s.close()


# ---- propagation and events ----

def test_propagation(r, plog):
    cmd(r, "ZADD", "k", 1, "a", 2, "b", 3, "c")
    cmd(r, "ZADD", "k", "NX", 5, "a")  # no change: not propagated
    cmd(r, "ZMPOP", 1, "k", "MAX", "COUNT", 2)
    cmd(r, "ZPOPMIN", "k")
    cmd(r, "ZREM", "k", "nope")
    log = plog()
    assert log == [["0", "ZADD", "k", "1", "a", "2", "b", "3", "c"], ["0", "ZPOPMAX", "k", "2"],
                   ["0", "ZPOPMIN", "k", "1"]]


def test_memory_usage_and_digest(r):
    cmd(r, "ZADD", "k", *[x for i in range(1000) for x in (i, "member:%d" % i)])
    used = r.memory_usage("k")
    assert 40000 < used < 200000
    d1 = r.execute_command("DEBUG", "DIGEST-VALUE", "k")
    r.config_set("zset-max-listpack-entries", 2000)
    cmd(r, "ZUNIONSTORE", "k2", 1, "k")
    assert encoding(r, "k2") == "listpack"
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "k2") == d1
    r.config_set("zset-max-listpack-entries", 128)


# ---- blocking pops ----

def test_bzpopmin_served_immediately(r):
    cmd(r, "ZADD", "k", 1, "a", 2, "b")
    assert cmd(r, "BZPOPMIN", "nokey", "k", 0) == [b"k", b"a", b"1"]
    assert cmd(r, "BZPOPMAX", "k", 0) == [b"k", b"b", b"2"]
    assert r.exists("k") == 0
    cmd(r, "ZADD", "k", 1, "a", 2, "b", 3, "c")
    assert cmd(r, "BZMPOP", 0, 1, "k", "MAX", "COUNT", 2) == [b"k", [[b"c", b"3"], [b"b", b"2"]]]


def test_bzpop_timeout_and_errors(r):
    t = time.time()
    assert cmd(r, "BZPOPMIN", "nokey", 0.1) is None
    assert cmd(r, "BZMPOP", 0.1, 1, "nokey", "MIN") is None
    assert time.time() - t >= 0.18
    assert err(cmd, r, "BZPOPMIN", "k", "x") == "timeout is not a float or out of range"
    assert err(cmd, r, "BZPOPMIN", "k", -1) == "timeout is negative"
    assert err(cmd, r, "BZMPOP", 0, 0, "k", "MIN") == "numkeys should be greater than 0"


def blocked_call(server, *args):
    """Runs a blocking command on its own connection; returns (thread, result list)."""
    c = server.client()
    result = []
    th = threading.Thread(target=lambda: result.append(cmd(c, *args)))
    th.start()
    time.sleep(0.2)
    return th, result, c


def test_bzpopmin_woken_by_zadd(server, r):
    th, result, c = blocked_call(server, "BZPOPMIN", "q1", "q2", 5)
    assert result == []
    cmd(r, "ZADD", "q2", 3, "x", 1, "y")
    th.join(5)
    assert result == [[b"q2", b"y", b"1"]]
    assert r.zrange("q2", 0, -1) == [b"x"]
    c.close()


def test_bzpopmax_and_bzmpop_woken(server, r):
    th, result, c = blocked_call(server, "BZPOPMAX", "q", 5)
    cmd(r, "ZADD", "q", 1, "a", 2, "b")
    th.join(5)
    assert result == [[b"q", b"b", b"2"]]
    c.close()
    r.delete("q")
    th, result, c = blocked_call(server, "BZMPOP", 5, 2, "q", "q3", "MIN", "COUNT", 10)
    cmd(r, "ZADD", "q3", 1, "a", 2, "b")
    th.join(5)
    assert result == [[b"q3", [[b"a", b"1"], [b"b", b"2"]]]]
    assert r.exists("q3") == 0
    c.close()


def test_bzpop_in_multi_does_not_block(r):
    p = r.pipeline(transaction=True)
    p.execute_command("BZPOPMIN", "nokey", 0)
    assert p.execute() == [None]


def test_bzpop_woken_by_wrong_key_keeps_waiting(server, r):
    th, result, c = blocked_call(server, "BZPOPMIN", "q", 0.6)
    cmd(r, "ZADD", "other", 1, "a")
    time.sleep(0.1)
    assert result == []
    th.join(5)
    assert result == [None]
    c.close()


# ---- the seed's patterns ----

def test_leaderboard(rs):
    key = "leaderboard:global"
    rs.zadd(key, {"user:123": 1500})
    rs.zadd(key, {"user:456": 1200})
    for i in range(200):
        rs.zadd(key, {"user:%d" % (1000 + i): i * 5})
    top = rs.zrevrange(key, 0, 9, withscores=True)
    assert top[0] == ("user:123", 1500.0) and top[1] == ("user:456", 1200.0)
    assert len(top) == 10 and top[2] == ("user:1199", 995.0)
    assert rs.zrevrank(key, "user:123") + 1 == 1
    assert int(float(rs.zscore(key, "user:123"))) == 1500
    assert rs.zincrby(key, 300, "user:456") == 1500.0
    # ties order by member, descending in reverse order
    assert rs.zrevrange(key, 0, 1) == ["user:456", "user:123"]
    between = rs.zrevrange(key, 2, 4, withscores=True)
    assert between == [("user:1199", 995.0), ("user:1198", 990.0), ("user:1197", 985.0)]
    assert rs.zrevrank(key, "nobody") is None


def test_sliding_window_rate_limiter(rs):
    key = "rate:user:1"
    window, limit = 1.0, 5

    def allowed():
        now = time.time()
        rs.zremrangebyscore(key, "-inf", now - window)
        if rs.zcard(key) < limit:
            rs.zadd(key, {repr(now): now})
            rs.expire(key, int(window) + 1)
            return True
        return False

    results = [allowed() for _ in range(7)]
    assert results == [True] * 5 + [False] * 2
    assert 0 < rs.ttl(key) <= 2
    # scores keep their full precision through the round trip
    for m, s in rs.zrange(key, 0, -1, withscores=True):
        assert float(m) == s
    time.sleep(window + 0.1)
    assert allowed() is True
    assert rs.zcard(key) == 1


def test_sets_as_inputs(r):
    """Plain sets take part in the set algebra with score 1 per member."""
    cmd(r, "ZADD", "zs", 1, "a", 2, "b", 5, "x")
    r.sadd("plain", "a", "b", "c")
    r.sadd("ints", 1, 2, 3)  # intset encoding
    assert cmd(r, "ZUNION", 2, "zs", "plain", "WITHSCORES") == [b"c", b"1", b"a", b"2", b"b", b"3", b"x", b"5"]
    assert cmd(r, "ZINTER", 2, "plain", "zs", "WEIGHTS", 10, 1, "WITHSCORES") == [b"a", b"11", b"b", b"12"]
    assert cmd(r, "ZDIFF", 2, "plain", "zs") == [b"c"]
    assert cmd(r, "ZINTERCARD", 2, "zs", "plain") == 2
    assert cmd(r, "ZUNIONSTORE", "d", 2, "ints", "plain") == 6
    assert r.zrange("d", 0, -1, withscores=True) == [(b"1", 1), (b"2", 1), (b"3", 1), (b"a", 1), (b"b", 1),
                                                     (b"c", 1)]


def test_scan_cursors_parse_alike(r):
    """SCAN, HSCAN, SSCAN and ZSCAN read the cursor the same way (strtoul)."""
    r.hset("h", "f", "v")
    r.sadd("s", "m")
    r.zadd("z", {"m": 1})
    for cmd in (("SCAN",), ("HSCAN", "h"), ("SSCAN", "s"), ("ZSCAN", "z")):
        for ok in ("0", "+0", ""):
            assert int(r.execute_command(*cmd, ok)[0]) == 0
        for bad in (" 5", "5x", "99999999999999999999999"):
            with pytest.raises(redis.ResponseError, match="^invalid cursor$"):
                r.execute_command(*cmd, bad)


def test_score_bounds_parse_like_strtod(z):
    """Found by the random-command test: Redis reads score bounds with a bare
    strtod, so overflow means infinity, leading spaces and hex are fine, and
    only trailing junk or NaN is an error."""
    z.zadd("k", {"a": 1, "b": 2, "c": 16})
    assert cmd(z, "ZCOUNT", "k", " 1", "1e309") == 3
    assert cmd(z, "ZCOUNT", "k", "-1e309", "(1e309") == 3
    assert cmd(z, "ZCOUNT", "k", "0x10", "+inf") == 1
    assert cmd(z, "ZCOUNT", "k", "1e-400", "2") == 2
    assert cmd(z, "ZCOUNT", "k", "0" * 300 + "2", "inf") == 2
    assert cmd(z, "ZRANGEBYSCORE", "k", "(", "1e309") == [b"a", b"b", b"c"]
    assert cmd(z, "ZREMRANGEBYSCORE", "k", "1e309", "1e309") == 0
    for bad in ("nan", "1x", "1 ", "(nan"):
        assert err(cmd, z, "ZCOUNT", "k", bad, 1) == "min or max is not a float"
