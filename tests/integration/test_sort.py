"""SORT and SORT_RO: the examples of the command reference, every option and
their combinations on lists, sets and sorted sets in compact and full
encodings, BY/GET patterns (string keys, hash fields, "#", several '*',
"->" corner cases), numeric and ALPHA order with Redis's tie-breaking,
LIMIT clamping, STORE (the list written, the destination deleted when the
result is empty, keyspace events, propagation to a replica), scripts,
RESP3, COMMAND INFO/GETKEYS, the error texts, bounded time on hostile
input, and a differential test: the same data in Debian's redis-server
7.0 and in the server under test gives identical replies to a few hundred
randomly generated SORT commands.

Every behavioural test passes against redis-server too
(KEEL_SERVER=/usr/bin/redis-server); the one reading Keel's propagation log
is skipped there."""
import os
import random
import time

import pytest
import redis
from conftest import SERVER, WRONGTYPE, err, resp_exchange
from persist_util import TempDirs, removal_fixture
from repl_util import Cluster, kinds_param, replicate, wait_in_sync

REDIS_BIN = "/usr/bin/redis-server"
IS_REDIS = SERVER.endswith("redis-server")
keel_only = pytest.mark.skipif(IS_REDIS, reason="reads Keel's DEBUG PROPAGATION-LOG")
NOT_DOUBLE = "One or more scores can't be converted into double"
LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)

mkdir = TempDirs("keel-sort-")
_remove_tmpdirs = removal_fixture(mkdir)


def sort(r, *args):
    """SORT's reply as a list of str (None for nil)."""
    out = r.execute_command("SORT", *args)
    if isinstance(out, int):
        return out
    return [None if v is None else v.decode() for v in out]


def sort_ro(r, *args):
    return [None if v is None else v.decode() for v in r.execute_command("SORT_RO", *args)]


def lrange(r, key):
    return [v.decode() for v in r.lrange(key, 0, -1)]


# ---- the command reference's examples ----

def test_reference_examples(r):
    r.rpush("mylist", 3, 1, 2, 10)
    assert sort(r, "mylist") == ["1", "2", "3", "10"]
    assert sort(r, "mylist", "DESC") == ["10", "3", "2", "1"]
    r.rpush("words", "banana", "apple", "cherry", "Apple")
    assert sort(r, "words", "ALPHA") == ["Apple", "apple", "banana", "cherry"]
    assert err(sort, r, "words") == NOT_DOUBLE
    r.rpush("big", *range(20, 0, -1))
    assert sort(r, "big", "LIMIT", 0, 10) == [str(i) for i in range(1, 11)]
    assert sort(r, "words", "LIMIT", 0, 2, "ALPHA", "DESC") == ["cherry", "banana"]
    # BY external weights, BY nosort, GET, GET #, hash fields, STORE
    r.mset({"weight_3": 1, "weight_1": 30, "weight_2": 20, "weight_10": 5})
    assert sort(r, "mylist", "BY", "weight_*") == ["3", "10", "2", "1"]
    assert sort(r, "mylist", "BY", "nosort") == ["3", "1", "2", "10"]
    r.mset({"object_1": "one", "object_2": "two", "object_3": "three"})
    assert sort(r, "mylist", "GET", "object_*") == ["one", "two", "three", None]
    assert sort(r, "mylist", "BY", "weight_*", "GET", "object_*", "GET", "#") == [
        "three", "3", None, "10", "two", "2", "one", "1"]
    for i, (w, name) in {1: (3, "a"), 2: (2, "b"), 3: (1, "c"), 10: (4, "d")}.items():
        r.hset("weight_h_%d" % i, mapping={"fieldname": w})
        r.hset("object_h_%d" % i, mapping={"fieldname": name})
    assert sort(r, "mylist", "BY", "weight_h_*->fieldname", "GET", "object_h_*->fieldname") == ["c", "b", "a", "d"]
    assert sort(r, "mylist", "BY", "weight_*", "STORE", "resultkey") == 4
    assert lrange(r, "resultkey") == ["3", "10", "2", "1"]


# ---- order: numeric, ALPHA, ties ----

def test_numeric_values_as_strtod_reads_them(r):
    vals = ["10", "-3", "2.5", "1e2", "0x10", "  7", "-inf", "inf", "+4", "", "0.0", "-0", "3.0", "3"]
    r.rpush("l", *vals)
    # "" reads as 0 (strtod consumes nothing and stops at the end); equal
    # weights are ordered by the elements' bytes
    assert sort(r, "l") == ["-inf", "-3", "", "-0", "0.0", "2.5", "3", "3.0", "+4", "  7", "10", "0x10", "1e2",
                            "inf"]
    assert sort(r, "l", "DESC") == ["inf", "1e2", "0x10", "10", "  7", "+4", "3.0", "3", "2.5", "0.0", "-0", "",
                                    "-3", "-inf"]
    for bad in ("nan", "1e400", "12 ", "abc", "1,5", "1e-400"):
        r.delete("b")
        r.rpush("b", "1", bad)
        assert err(sort, r, "b") == NOT_DOUBLE, bad


def test_alpha_is_byte_order(r):
    vals = ["b", "B", "a", "ab", "", "\u00e9", "z", "_", "10", "9", "\u00c9", "aa"]
    r.rpush("l", *vals)
    want = sorted(vals, key=lambda s: s.encode())
    assert sort(r, "l", "ALPHA") == want
    assert sort(r, "l", "ALPHA", "DESC") == want[::-1]
    assert sort(r, "l", "ALPHA", "STORE", "d") == len(vals)
    assert lrange(r, "d") == want
    # raw high bytes, not UTF-8
    r.delete("l")
    r.rpush("l", b"\xff", b"\x80a", b"a\x7f", b"a")
    assert r.execute_command("SORT", "l", "ALPHA") == [b"a", b"a\x7f", b"\x80a", b"\xff"]


def test_weight_ties_ordered_by_element(r):
    r.rpush("l", "c", "a", "b", "d")
    r.mset({"w_a": 1, "w_b": 1, "w_c": 0, "w_d": 1})
    assert sort(r, "l", "BY", "w_*") == ["c", "a", "b", "d"]
    assert sort(r, "l", "BY", "w_*", "DESC") == ["d", "b", "a", "c"]
    # missing weights are 0
    assert sort(r, "l", "BY", "nokey_*") == ["a", "b", "c", "d"]
    assert sort(r, "l", "BY", "nokey_*", "DESC") == ["d", "c", "b", "a"]
    r.set("w_b", "-1")
    r.delete("w_d")
    assert sort(r, "l", "BY", "w_*") == ["b", "c", "d", "a"]


def test_alpha_by_missing_first_and_stable_ties(r):
    r.rpush("l", "x3", "x1", "x2", "x4")
    r.mset({"a_x1": "b", "a_x2": "a", "a_x3": "c"})
    assert sort(r, "l", "BY", "a_*", "ALPHA") == ["x4", "x2", "x1", "x3"]
    assert sort(r, "l", "BY", "a_*", "ALPHA", "DESC") == ["x3", "x1", "x2", "x4"]
    # equal ALPHA weights keep the list's order (the sort is stable)
    r.mset({"a_x1": "same", "a_x2": "same", "a_x3": "same", "a_x4": "same"})
    assert sort(r, "l", "BY", "a_*", "ALPHA") == ["x3", "x1", "x2", "x4"]
    assert sort(r, "l", "BY", "nokey_*", "ALPHA") == ["x3", "x1", "x2", "x4"]
    # a non-numeric BY value only matters without ALPHA
    r.set("a_x1", "word")
    assert err(sort, r, "l", "BY", "a_*") == NOT_DOUBLE
    assert sort(r, "l", "BY", "a_*", "ALPHA")[-1] == "x1"


def test_by_values_of_every_form(r):
    r.rpush("l", "a", "b", "c", "d", "e")
    r.set("w_a", 5)                        # integer-encoded
    r.set("w_b", "4.5")                    # embedded string
    r.set("w_c", "3" + "0" * 60)           # a long string: 3e60
    r.hset("w_d", "f", 1)                  # a hash: not a string value
    r.rpush("w_e", 1)                      # a list: not a string value
    assert sort(r, "l", "BY", "w_*") == ["d", "e", "b", "a", "c"]
    assert sort(r, "l", "BY", "w_*", "ALPHA") == ["d", "e", "c", "b", "a"]


# ---- patterns ----

def test_get_patterns(r):
    r.rpush("l", 2, 1)
    r.mset({"o_1": "one", "o_2": "two", "p_1_x": "first"})
    r.hset("h_1", mapping={"f": "hf1", "g": 11})
    assert sort(r, "l", "GET", "#") == ["1", "2"]
    assert sort(r, "l", "GET", "o_*", "GET", "#", "GET", "p_*_x", "GET", "h_*->f", "GET", "h_*->g") == [
        "one", "1", "first", "hf1", "11", "two", "2", None, None, None]
    # a pattern without '*' (and not "#") names nothing
    assert sort(r, "l", "GET", "o_1") == [None, None]
    assert sort(r, "l", "GET", "#x") == [None, None]
    # GET of a key of another type is nil, a hash field of a string too
    r.lpush("z_1", "x")
    assert sort(r, "l", "GET", "z_*", "GET", "o_*->f") == [None, None, None, None]


def test_only_the_first_star_is_substituted(r):
    r.rpush("l", 1, 2)
    r.set("k_1_*", "a")
    r.set("k_2_*", "b")
    r.set("k_1_1", "wrong")
    assert sort(r, "l", "GET", "k_*_*") == ["a", "b"]
    r.mset({"w_1_*": 9, "w_2_*": 3})
    assert sort(r, "l", "BY", "w_*_*") == ["2", "1"]


def test_hash_field_pattern_corners(r):
    r.rpush("l", 1)
    r.hset("h_1", mapping={"f": "field", "f->g": "nested", "": "empty"})
    r.set("h_1->", "string with arrow")
    r.set("x->y_1", "arrow before the star")
    # the field runs to the end of the pattern (a second "->" included)
    assert sort(r, "l", "GET", "h_*->f->g") == ["nested"]
    # "->" with nothing after it is part of the key name
    assert sort(r, "l", "GET", "h_*->") == ["string with arrow"]
    # "->" before the '*' is part of the key name too
    assert sort(r, "l", "GET", "x->y_*") == ["arrow before the star"]
    assert sort(r, "l", "GET", "h_*->nope") == [None]


def test_binary_elements_and_patterns(r):
    r.rpush("l", b"a\x00b", b"a\x00a")
    r.set(b"o_a\x00b", "B")
    r.set(b"o_a\x00a", "A")
    assert r.execute_command("SORT", "l", "ALPHA", "STORE", "d") == 2
    assert r.lrange("d", 0, -1) == [b"a\x00a", b"a\x00b"]
    assert r.execute_command("SORT", "l", "BY", "nosort", "GET", "o_*") == [b"B", b"A"]
    # '*' after a NUL in the pattern is not seen: the pattern names nothing
    r.set(b"x\x00_a\x00b", "hidden")
    assert r.execute_command("SORT", "l", "BY", "nosort", "GET", b"x\x00_*") == [None, None]


def test_alpha_reads_c_strings_unless_storing(r):
    # Redis compares ALPHA operands with strcoll (up to a NUL) when it
    # replies, and byte by byte when it stores: the same ties either way
    # keep the list's order
    r.rpush("l", b"a\x00y", b"a\x00x", b"b")
    assert r.execute_command("SORT", "l", "ALPHA") == [b"a\x00y", b"a\x00x", b"b"]
    assert r.execute_command("SORT", "l", "ALPHA", "DESC") == [b"b", b"a\x00y", b"a\x00x"]
    assert r.execute_command("SORT", "l", "ALPHA", "STORE", "d") == 3
    assert r.lrange("d", 0, -1) == [b"a\x00x", b"a\x00y", b"b"]
    r.mset({"w_b": b"k\x00b", "w_a\x00y": b"k\x00a", "w_a\x00x": b"k"})
    assert r.execute_command("SORT", "l", "BY", "w_*", "ALPHA") == [b"a\x00y", b"a\x00x", b"b"]
    r.execute_command("SORT", "l", "BY", "w_*", "ALPHA", "STORE", "d")
    assert r.lrange("d", 0, -1) == [b"a\x00x", b"a\x00y", b"b"]


def test_by_without_star_keeps_the_order(r):
    r.rpush("l", 3, 1, 2)
    for by in ("nosort", "constant", "#", "w_"):
        assert sort(r, "l", "BY", by) == ["3", "1", "2"]
        assert sort(r, "l", "BY", by, "DESC") == ["2", "1", "3"]
    r.rpush("w", "a", "b")
    assert sort(r, "w", "BY", "nosort") == ["a", "b"]  # no numeric check when nothing is sorted


# ---- containers and encodings ----

@pytest.mark.parametrize("n", [5, 300])
def test_lists_both_encodings(r, n):
    vals = list(range(n))
    random.Random(n).shuffle(vals)
    r.rpush("l", *vals)
    assert sort(r, "l") == [str(v) for v in sorted(vals)]
    assert sort(r, "l", "DESC", "LIMIT", 1, 3) == [str(v) for v in sorted(vals)[::-1][1:4]]
    assert sort(r, "l", "BY", "nosort", "LIMIT", 2, 2) == [str(v) for v in vals[2:4]]
    assert sort(r, "l", "BY", "nosort", "DESC", "LIMIT", 2, 2) == [str(v) for v in vals[::-1][2:4]]
    assert sort(r, "l", "BY", "nosort", "DESC") == [str(v) for v in vals[::-1]]
    assert sort(r, "l", "ALPHA", "LIMIT", 0, 3) == sorted(str(v) for v in vals)[:3]


@pytest.mark.parametrize("members", [[5, -2, 40, 7], list(range(600)), ["x", "y", "aa", "b"],
                                     ["m%03d" % i for i in range(200)]],
                         ids=["intset", "intset-big", "small", "hashtable"])
def test_sets_every_encoding(r, members):
    r.sadd("s", *members)
    strs = [str(m) for m in members]
    numeric = all(isinstance(m, int) for m in members)
    if numeric:
        assert sort(r, "s") == [str(m) for m in sorted(members)]
        assert sort(r, "s", "DESC", "LIMIT", 0, 2) == [str(m) for m in sorted(members, reverse=True)[:2]]
    else:
        assert err(sort, r, "s") == NOT_DOUBLE
    assert sort(r, "s", "ALPHA") == sorted(strs, key=lambda s: s.encode())
    # unsorted: the set's own order (only its content is portable)...
    assert sorted(sort(r, "s", "BY", "nosort")) == sorted(strs)
    assert len(sort(r, "s", "BY", "nosort", "LIMIT", 1, 2)) == min(2, len(strs) - 1)
    # ...but stored, it is sorted by bytes so a replica gets the same list
    assert sort(r, "s", "BY", "nosort", "STORE", "d") == len(strs)
    assert lrange(r, "d") == sorted(strs, key=lambda s: s.encode())
    assert sort(r, "s", "BY", "nosort", "DESC", "LIMIT", 0, 3, "STORE", "d") == 3
    assert lrange(r, "d") == sorted(strs, key=lambda s: s.encode())[::-1][:3]


@pytest.mark.parametrize("n", [6, 200])
def test_sorted_sets_both_encodings(r, n):
    rnd = random.Random(n)
    members = {"e%d" % i: rnd.randint(-50, 50) for i in range(n)}
    r.zadd("z", members)
    by_score = [m for m, _ in sorted(members.items(), key=lambda kv: (kv[1], kv[0]))]
    assert sort(r, "z", "ALPHA") == sorted(members)
    assert err(sort, r, "z") == NOT_DOUBLE
    # nosort keeps the score order, DESC reverses it, LIMIT takes ranks
    assert sort(r, "z", "BY", "nosort") == by_score
    assert sort(r, "z", "BY", "nosort", "DESC") == by_score[::-1]
    assert sort(r, "z", "BY", "nosort", "LIMIT", 1, 3) == by_score[1:4]
    assert sort(r, "z", "BY", "nosort", "DESC", "LIMIT", 1, 3) == by_score[::-1][1:4]
    assert sort(r, "z", "BY", "nosort", "LIMIT", n - 1, 10) == by_score[-1:]
    assert sort(r, "z", "BY", "nosort", "DESC", "LIMIT", n, 1) == []
    for m, s in members.items():
        r.set("w_" + m, -s)
    assert sort(r, "z", "BY", "w_*", "LIMIT", 0, 5) == sorted(members, key=lambda m: (-members[m], m))[:5]
    r.zadd("nums", {"3": 1, "1": 2, "2": 3})
    assert sort(r, "nums") == ["1", "2", "3"]


def test_missing_key_is_an_empty_list(r):
    assert sort(r, "nokey") == []
    assert sort(r, "nokey", "BY", "nosort", "DESC", "LIMIT", 0, 1, "GET", "#", "GET", "x_*") == []
    assert sort_ro(r, "nokey", "ALPHA") == []


# ---- LIMIT ----

def py_limit(items, off, cnt):
    """LIMIT as Redis reads it: a negative offset is 0, a negative count is
    everything after the offset."""
    off = max(off, 0)
    return items[off:] if cnt < 0 else items[off:off + cnt]


def test_limit_clamping(r):
    r.rpush("l", 5, 3, 1, 4, 2)
    cases = [(0, 0), (0, 1), (-5, 2), (3, -1), (3, 100), (4, 1), (5, 1), (100, -1), (-1, -1), (1, LLONG_MAX),
             (LLONG_MAX, LLONG_MAX), (LLONG_MIN, 2), (2, LLONG_MIN), (LLONG_MAX, 1), (LLONG_MIN, LLONG_MIN)]
    for off, cnt in cases:
        assert sort(r, "l", "LIMIT", off, cnt) == py_limit(["1", "2", "3", "4", "5"], off, cnt), (off, cnt)
        assert sort(r, "l", "BY", "nosort", "LIMIT", off, cnt) == py_limit(["5", "3", "1", "4", "2"], off, cnt)
        assert sort(r, "l", "BY", "nosort", "DESC", "LIMIT", off, cnt) == py_limit(["2", "4", "1", "3", "5"], off,
                                                                                     cnt)
    assert sort(r, "l", "LIMIT", 1, 2) == ["2", "3"]
    # the last LIMIT wins
    assert sort(r, "l", "LIMIT", 0, 1, "LIMIT", 1, 1) == ["2"]


def test_limit_errors(r):
    r.rpush("l", 1)
    for bad in (("x", 1), (1, "y"), ("1.5", 1), (str(2**63), 1)):
        assert err(sort, r, "l", "LIMIT", *bad) == "value is not an integer or out of range"
    assert err(sort, r, "l", "LIMIT", 0) == "syntax error"
    assert err(sort, r, "l", "LIMIT") == "syntax error"


# ---- errors ----

def test_errors(r):
    r.set("str", "x")
    r.hset("hash", "f", "v")
    r.rpush("l", 1)
    assert err(sort, r, "str") == WRONGTYPE
    assert err(sort, r, "hash", "ALPHA") == WRONGTYPE
    for bad in (("BOGUS",), ("BY",), ("GET",), ("STORE",), ("ASC", "x"), ("LIMIT", 0, 1, 2)):
        assert err(sort, r, "l", *bad) == "syntax error", bad
    # options are read before the key: a syntax error wins over WRONGTYPE
    assert err(sort, r, "str", "BOGUS") == "syntax error"
    assert err(sort_ro, r, "l", "STORE", "d") == "syntax error"
    assert r.exists("d") == 0
    assert err(r.execute_command, "SORT") == "wrong number of arguments for 'sort' command"
    assert err(r.execute_command, "SORT_RO") == "wrong number of arguments for 'sort_ro' command"
    # a failed conversion stores nothing
    r.rpush("w", "a", "b")
    r.set("d", "keep")
    assert err(sort, r, "w", "STORE", "d") == NOT_DOUBLE
    assert r.get("d") == b"keep"


def test_options_are_case_insensitive_and_repeatable(r):
    r.rpush("l", 1, 3, 2)
    assert sort(r, "l", "desc", "asc") == ["1", "2", "3"]
    assert sort(r, "l", "Desc", "alpha", "Alpha", "limit", 0, 2) == ["3", "2"]
    r.mset({"w_1": 3, "w_2": 2, "w_3": 1})
    # BY: the last pattern is used, but a BY without '*' anywhere means nosort
    assert sort(r, "l", "by", "x_*", "by", "w_*") == ["3", "2", "1"]
    assert sort(r, "l", "by", "nosort", "by", "w_*") == ["1", "3", "2"]
    assert sort(r, "l", "by", "w_*", "by", "nosort") == ["1", "3", "2"]


def test_expired_pattern_keys_are_missing(r):
    r.rpush("l", "a", "b")
    r.set("w_a", 5)
    r.set("w_b", 1, px=1)
    r.set("o_b", "gone", px=1)
    time.sleep(0.05)
    assert sort(r, "l", "BY", "w_*", "GET", "o_*", "GET", "#") == [None, "b", None, "a"]


@keel_only
def test_hash_fields_past_their_ttl_are_missing(r):
    r.rpush("l", "a", "b")
    r.hset("h_a", mapping={"f": 2, "g": "x"})
    r.hset("h_b", mapping={"f": 1, "g": "y"})
    r.execute_command("HPEXPIRE", "h_b", 1, "FIELDS", 2, "f", "g")
    time.sleep(0.05)
    assert sort(r, "l", "BY", "h_*->f", "GET", "h_*->g") == [None, "x"]


def test_watch_sees_store_only(server, r):
    r.rpush("l", 1)
    other = server.client()
    try:
        p = r.pipeline()
        p.watch("d")
        other.execute_command("SORT", "l")  # reads only
        p.multi()
        p.get("x")
        assert p.execute() == [None]
        p.watch("d")
        other.execute_command("SORT", "l", "STORE", "d")
        p.multi()
        p.get("x")
        with pytest.raises(redis.WatchError):
            p.execute()
    finally:
        other.close()


# ---- SORT_RO ----

def test_sort_ro(r):
    r.rpush("l", 2, 3, 1)
    r.mset({"w_1": 3, "w_2": 2, "w_3": 1, "o_1": "a"})
    assert sort_ro(r, "l") == ["1", "2", "3"]
    assert sort_ro(r, "l", "BY", "w_*", "GET", "o_*", "GET", "#", "DESC", "LIMIT", 0, 2) == ["a", "1", None, "2"]
    assert sort_ro(r, "l", "ALPHA", "DESC") == ["3", "2", "1"]


# ---- STORE ----

def test_store(r):
    r.rpush("l", 3, 1, 2)
    r.mset({"o_1": "a", "o_3": "c"})
    r.set("d", "a string with a ttl", ex=100)
    assert sort(r, "l", "STORE", "d") == 3
    assert r.type("d") == b"list" and lrange(r, "d") == ["1", "2", "3"] and r.ttl("d") == -1
    # GET values; a missing one is stored as ""
    assert sort(r, "l", "GET", "o_*", "GET", "#", "STORE", "d") == 6
    assert lrange(r, "d") == ["a", "1", "", "2", "c", "3"]
    # the last STORE wins; the source may be the destination
    assert sort(r, "l", "DESC", "STORE", "x", "STORE", "l") == 3
    assert lrange(r, "l") == ["3", "2", "1"] and r.exists("x") == 0
    # an empty result deletes the destination
    assert sort(r, "l", "LIMIT", 5, 1, "STORE", "d") == 0
    assert r.exists("d") == 0
    assert sort(r, "nokey", "STORE", "d") == 0
    # a big result is a full list
    r.rpush("big", *range(1000))
    assert sort(r, "big", "DESC", "STORE", "d") == 1000
    assert r.llen("d") == 1000 and r.lindex("d", 0) == b"999"


def test_store_events(r, events):
    r.rpush("l", 2, 1)
    r.set("d", "x")
    events()
    sort(r, "l", "STORE", "d")
    assert events() == [("__keyspace@0__:d", "sortstore"), ("__keyevent@0__:sortstore", "d")]
    sort(r, "l", "LIMIT", 9, 9, "STORE", "d")
    assert events() == [("__keyspace@0__:d", "del"), ("__keyevent@0__:del", "d")]
    sort(r, "l", "LIMIT", 9, 9, "STORE", "d")
    sort(r, "l", "BY", "w_*", "GET", "#")
    assert events() == []


@keel_only
def test_store_propagates_the_command(r, plog):
    r.rpush("l", 2, 1)
    plog()
    sort(r, "l", "STORE", "d")
    sort(r, "l")  # no write: nothing propagated
    sort(r, "l", "LIMIT", 9, 9, "STORE", "d")
    sort(r, "l", "LIMIT", 9, 9, "STORE", "d")  # nothing to delete
    assert plog() == [["0", "SORT", "l", "STORE", "d"], ["0", "SORT", "l", "LIMIT", "9", "9", "STORE", "d"]]


@pytest.mark.parametrize("kinds", [kinds_param("keel", "keel"), kinds_param("keel", "redis")])
def test_store_reaches_a_replica(kinds):
    cluster = Cluster(mkdir)
    try:
        primary, replica = cluster.start(kinds[0]), cluster.start(kinds[1])
        replicate(primary, replica)
        p = primary.c
        p.sadd("s", *["m%d" % i for i in range(50)])
        p.rpush("l", 3, 1, 2)
        p.mset({"w_1": 2, "w_2": 1, "w_3": 3})
        assert p.execute_command("SORT", "s", "BY", "nosort", "LIMIT", 0, 10, "STORE", "ds") == 10
        assert p.execute_command("SORT", "l", "BY", "w_*", "GET", "#", "GET", "w_*", "STORE", "dl") == 6
        p.set("gone", "x")
        assert p.execute_command("SORT", "nokey", "STORE", "gone") == 0
        wait_in_sync(primary, replica)
        assert replica.c.lrange("ds", 0, -1) == p.lrange("ds", 0, -1) == sorted("m%d" % i for i in range(50))[:10]
        assert replica.c.lrange("dl", 0, -1) == ["2", "1", "1", "2", "3", "3"]
        assert replica.c.exists("gone") == 0
        # a read-only replica serves SORT_RO but not SORT, a write command
        # even without STORE
        assert replica.c.execute_command("SORT_RO", "l", "BY", "w_*") == ["2", "1", "3"]
        with pytest.raises(redis.ReadOnlyError):
            replica.c.execute_command("SORT", "l")
    finally:
        cluster.stop_all()


# ---- scripts ----

def test_in_scripts(r):
    r.sadd("s", *["m%02d" % i for i in range(40)])
    r.rpush("l", 2, 1)
    r.mset({"w_1": 2, "w_2": 1, "o_1": "one"})
    # a set's own order is not given to scripts: nosort sorts by bytes
    got = r.eval("return redis.call('SORT', KEYS[1], 'BY', 'nosort', 'LIMIT', 0, 5)", 1, "s")
    assert got == [b"m00", b"m01", b"m02", b"m03", b"m04"]
    # BY and GET patterns work in scripts (Keel has no cluster mode, where
    # Redis refuses them)
    got = r.eval("return redis.call('SORT', KEYS[1], 'BY', 'w_*', 'GET', 'o_*', 'GET', '#')", 1, "l")
    assert got == [None, b"2", b"one", b"1"]
    assert r.eval("return redis.call('SORT_RO', KEYS[1], 'DESC')", 1, "l") == [b"2", b"1"]
    assert r.eval("return redis.call('SORT', KEYS[1], 'STORE', KEYS[2])", 2, "l", "d") == 2
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.eval("return redis.call('SORT_RO', KEYS[1], 'STORE', KEYS[2])", 2, "l", "d")


# ---- RESP3 ----

def test_resp3_shapes(server):
    s = server.raw()
    resp_exchange(s, b"HELLO 3\r\n")
    resp_exchange(s, b"FLUSHALL\r\n")
    assert resp_exchange(s, b"RPUSH l 2 1\r\nSET o_1 one\r\n") == b":2\r\n+OK\r\n"
    assert resp_exchange(s, b"SORT l GET o_* GET #\r\n") == b"*4\r\n$3\r\none\r\n$1\r\n1\r\n_\r\n$1\r\n2\r\n"
    assert resp_exchange(s, b"SORT l STORE d\r\n") == b":2\r\n"
    assert resp_exchange(s, b"SORT nokey\r\n") == b"*0\r\n"
    s.close()


# ---- COMMAND ----

def test_command_info_and_getkeys(r):
    info = r.execute_command("COMMAND INFO", "SORT", "SORT_RO")
    sort_info, ro_info = info
    assert sort_info[0] == b"sort" and sort_info[1] == -2
    assert set(sort_info[2]) == {b"write", b"denyoom", b"movablekeys"}
    assert sort_info[3:6] == [1, 1, 1]
    assert set(sort_info[6]) == {b"@write", b"@set", b"@sortedset", b"@list", b"@slow", b"@dangerous"}
    assert ro_info[0] == b"sort_ro" and ro_info[1] == -2
    assert set(ro_info[2]) == {b"readonly", b"movablekeys"}
    assert set(ro_info[6]) == {b"@read", b"@set", b"@sortedset", b"@list", b"@slow", b"@dangerous"}
    docs = r.execute_command("COMMAND DOCS", "SORT")
    assert docs[0] == b"sort" and b"generic" in docs[1]

    def keys(*args):
        return [k.decode() if isinstance(k, bytes) else k for k in r.execute_command("COMMAND GETKEYS", *args)]

    assert keys("SORT", "k") == ["k"]
    assert keys("SORT", "k", "STORE", "d") == ["k", "d"]
    assert keys("SORT", "k", "BY", "w_*", "LIMIT", 0, 1, "GET", "#", "STORE", "d", "STORE", "e") == ["k", "e"]
    # option arguments are not keys, even when spelled "store"
    assert keys("SORT", "k", "GET", "store", "BY", "store", "LIMIT", "store", "store") == ["k"]
    assert keys("SORT", "k", "STORE") == ["k"]
    assert keys("SORT_RO", "k", "BY", "w_*", "GET", "o_*") == ["k"]


# ---- bounded time and memory on hostile input ----

def test_patterns_over_a_big_keyspace(r):
    n = 10000
    p = r.pipeline(transaction=False)
    for i in range(0, n, 500):
        p.rpush("l", *range(i, i + 500))
        p.mset({"w_%d" % j: (j * 7919) % n for j in range(i, i + 500)})
        p.mset({"o_%d" % j: "v%d" % j for j in range(i, i + 500)})
    p.execute()
    t = time.time()
    out = r.execute_command("SORT", "l", "BY", "w_*", "GET", "o_*", "GET", "#", "LIMIT", 0, 3)
    first = sorted(range(n), key=lambda j: (j * 7919) % n)[:3]
    assert out == [x for j in first for x in (b"v%d" % j, b"%d" % j)]
    assert r.execute_command("SORT", "l", "BY", "w_*", "ALPHA", "DESC", "STORE", "d") == n
    assert len(r.execute_command("SORT", "l", "BY", "w_*", "GET", "o_*", "GET", "w_*", "GET", "#")) == 3 * n
    assert r.execute_command("SORT", "l", "BY", "w_*", "LIMIT", LLONG_MAX, LLONG_MAX) == []
    assert len(r.execute_command("SORT", "l", "LIMIT", n - 2, LLONG_MAX)) == 2
    assert time.time() - t < 10


def test_huge_patterns_and_elements(r):
    big = "x" * 100000
    r.rpush("l", big, "a")
    r.set("w_" + big, 1)
    r.set("w_a", 2)
    r.set("o_" + big + "_tail", "found")
    assert sort(r, "l", "BY", "w_*", "GET", "o_*_tail", "GET", "#") == ["found", big, None, "a"]
    # no weight exists: ALPHA puts them all first, in the list's order
    assert sort(r, "l", "BY", "*" + "y" * 100000, "ALPHA") == [big, "a"]
    r.rpush("n", "0." + "1" * 5000, "2", "0" * 3000 + "3")
    assert sort(r, "n", "DESC") == ["0" * 3000 + "3", "2", "0." + "1" * 5000]
    r.rpush("inf", "9" * 400)
    assert err(sort, r, "inf") == NOT_DOUBLE


def test_stats_count_pattern_lookups(r):
    r.rpush("l", 3, 1, 2)
    r.mset({"w_1": 10, "w_2": 5, "w_3": 7})
    r.config_resetstat()
    sort(r, "l", "BY", "w_*", "GET", "#", "GET", "w_*", "GET", "nosuch_*")
    stats = r.info("stats")
    assert (stats["keyspace_hits"], stats["keyspace_misses"]) == (7, 3)


# ---- differential: the same random commands in redis-server and here ----

@pytest.fixture(scope="module")
def ref(redis_ref):
    """Debian's redis-server beside the server under test (conftest)."""
    return redis_ref

def fill_random(rnd, clients):
    """Lists, sets and sorted sets of numbers, words and both, in compact and
    full sizes; per-element weights: wt_* for every element and unique, so
    that ALPHA BY has no ties (Redis leaves the order of equal ALPHA weights
    to its quicksort), wm_* for some, few values (numeric ties are ordered
    by element); hash fields and GET targets for some elements."""
    words = ["w%d" % i for i in range(60)] + ["%d" % i for i in range(-30, 60)] + \
            ["%d.%d" % (i, j) for i in range(5) for j in range(3)] + ["\xe9t\xe9", "Zed", "zed", "_x", ""]
    numeric = [w for w in words if w and w.lstrip("-").replace(".", "", 1).isdigit()]
    cmds = []
    keys = {}
    for name, pool, size in (("ln", numeric, 8), ("lN", numeric, 400), ("lw", words, 10), ("lW", words, 300),
                             ("sn", [str(i) for i in range(-40, 700)], 10), ("sN", [str(i) for i in range(-40, 700)], 600),
                             ("sw", words, 12), ("sW", words, 150), ("zn", numeric, 9), ("zw", words, 200)):
        members = [rnd.choice(pool) for _ in range(size)]
        if name[0] == "l":
            cmds.append(["RPUSH", name] + members)
        elif name[0] == "s":
            cmds.append(["SADD", name] + members)
        else:
            flat = []
            for m in members:
                flat += [rnd.choice([rnd.randint(-5, 5), rnd.random() * 10]), m]
            cmds.append(["ZADD", name] + flat)
        keys[name] = members
    universe = set(words) | {str(i) for i in range(-40, 700)}
    seen_weights = set()
    for e in sorted(universe):
        w = rnd.choice([str(rnd.randint(-1000, 1000)), "%.3f" % (rnd.random() * 100)])
        while w in seen_weights:
            w += "1"
        seen_weights.add(w)
        cmds.append(["SET", "wt_" + e, w])
        if rnd.random() < 0.8:
            cmds.append(["SET", "wm_" + e, rnd.randint(-3, 3)])
        if rnd.random() < 0.1:
            cmds.append(["SET", "bad_" + e, rnd.choice(["abc", "1x", "nan"])])
        else:
            cmds.append(["SET", "bad_" + e, rnd.randint(0, 9)])
        if rnd.random() < 0.7:
            cmds.append(["HSET", "h_" + e, "f", "%d" % rnd.randint(-50, 50) + "." + e.encode().hex(), "g",
                         rnd.choice(["x", "y", "1", "2"])])
        if rnd.random() < 0.6:
            cmds.append(["SET", "o_" + e, "obj-" + e])
    for c in clients:
        p = c.pipeline(transaction=False)
        for cmd in cmds:
            p.execute_command(*cmd)
        p.execute()
    return keys


def random_sort(rnd):
    """A random SORT, and whether its order is portable (a set left unsorted
    is in the set's own order, which only the content of is compared)."""
    src = rnd.choice(["ln", "lN", "lw", "lW", "sn", "sN", "sw", "sW", "zn", "zw", "nokey"])
    args = [src]
    alpha = rnd.random() < 0.5
    nosort = False
    opts = []
    if rnd.random() < 0.6:
        if alpha:
            by = rnd.choice(["wt_*", "nosort"])
        else:
            by = rnd.choice(["wt_*", "wm_*", "bad_*", "h_*->f", "h_*->g", "nosort", "nokey_*"])
        nosort = "*" not in by
        opts.append(["BY", by])
    if rnd.random() < 0.5:
        opts.append(["LIMIT", rnd.choice([0, 1, 3, -2, 50, 10**6, LLONG_MAX, LLONG_MIN]),
                     rnd.choice([0, 1, 5, -1, 100, LLONG_MAX, LLONG_MIN])])
    for _ in range(rnd.choice([0, 0, 1, 2, 3])):
        opts.append(["GET", rnd.choice(["#", "o_*", "wt_*", "h_*->f", "h_*->g", "o_*->f", "nope", "bad_*"])])
    if rnd.random() < 0.4:
        opts.append([rnd.choice(["ASC", "DESC"])])
    if alpha:
        opts.append(["ALPHA"])
    store = rnd.random() < 0.25
    if store:
        opts.append(["STORE", "dst"])
    rnd.shuffle(opts)
    for o in opts:
        args += o
    portable = not (nosort and src[0] == "s" and not store)
    return args, store, portable


def run(c, args):
    try:
        return c.execute_command("SORT", *args)
    except redis.ResponseError as e:
        return "error: %s" % e


@pytest.mark.skipif(not os.access(REDIS_BIN, os.X_OK), reason="needs Debian's redis-server")
def test_differential_against_redis(r, ref):
    ref.flushall()
    rnd = random.Random(20261203)
    fill_random(rnd, [r, ref])
    for i in range(600):
        args, store, portable = random_sort(rnd)
        want, got = run(ref, args), run(r, args)
        if store:
            assert got == want, args
            want, got = ref.lrange("dst", 0, -1), r.lrange("dst", 0, -1)
            assert (r.exists("dst"), got) == (ref.exists("dst"), want), args
            ro_args = None
        elif portable or isinstance(want, str):
            assert got == want, (args, want, got)
            ro_args = args
        else:
            # a set left unsorted: its own order, so LIMIT picks members
            # that differ; only the number of them, or (without LIMIT) the
            # values, can be compared
            assert isinstance(got, list) and len(got) == len(want), args
            if "LIMIT" not in args:
                key = lambda v: (v is None, v or b"")  # noqa: E731
                assert sorted(got, key=key) == sorted(want, key=key), args
            ro_args = None
        if ro_args is not None and i % 5 == 0:
            assert r.execute_command("SORT_RO", *ro_args) == want if not isinstance(want, str) else True
