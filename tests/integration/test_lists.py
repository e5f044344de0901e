"""List commands: every command, option and error, on both encodings
(listpack and quicklist), the encoding boundary, keyspace effects,
propagation, and the blocking commands with several connections."""
import random
import threading
import time

import pytest
import redis
from conftest import WRONGTYPE, err, resp_exchange

NOT_INT = "value is not an integer or out of range"


# Each test that takes `fill` runs three times: the default limit (small
# lists stay listpack), one entry per node and three entries per node (lists
# of more than one / three elements are quicklists with many nodes).
@pytest.fixture(params=[-2, 1, 3], ids=["listpack", "quicklist1", "quicklist3"])
def fill(request, r):
    r.config_set("list-max-listpack-size", request.param)
    yield request.param
    r.config_set("list-max-listpack-size", -2)


def enc(r, key):
    try:
        return r.object("encoding", key).decode()
    except redis.ResponseError as e:
        if "unknown command" not in str(e):
            raise
    # OBJECT comes with the keyspace commands; DEBUG OBJECT says the same
    line = r.execute_command("DEBUG", "OBJECT", key)
    line = line.decode() if isinstance(line, bytes) else line
    return line.split("encoding:")[1].split()[0]


def expect_enc(r, key, fill):
    n = r.llen(key)
    if fill == -2 or n <= max(fill, 1):
        assert enc(r, key) == "listpack"
    else:
        assert enc(r, key) == "quicklist"


def mklist(r, key, items):
    r.delete(key)
    if items:
        r.rpush(key, *items)


# ---------------- pushes ----------------

def test_push_and_range(r, fill):
    assert r.lpush("l", "a") == 1
    assert r.lpush("l", "b", "c") == 3  # c b a
    assert r.rpush("l", "d", "e") == 5
    assert r.lrange("l", 0, -1) == [b"c", b"b", b"a", b"d", b"e"]
    assert r.llen("l") == 5
    assert r.type("l") == b"list"
    expect_enc(r, "l", fill)


def test_pushx(r, fill):
    assert r.lpushx("nx", "a") == 0
    assert r.rpushx("nx", "a") == 0
    assert r.exists("nx") == 0
    r.rpush("l", "m")
    assert r.lpushx("l", "a", "b") == 3
    assert r.execute_command("RPUSHX", "l", "y", "z") == 5
    assert r.lrange("l", 0, -1) == [b"b", b"a", b"m", b"y", b"z"]
    expect_enc(r, "l", fill)


def test_push_wrongtype_and_arity(r):
    r.set("s", "x")
    for cmd in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
        assert err(r.execute_command, cmd, "s", "a") == WRONGTYPE
        assert "wrong number of arguments" in err(r.execute_command, cmd, "l")
    assert r.get("s") == b"x"


def test_binary_and_empty_elements(r, fill):
    vals = [b"", b"\x00\xff\r\n", b"x" * 255, b"y" * 383, b"z" * 20000, b"12345"]
    r.rpush("b", *vals)
    assert r.lrange("b", 0, -1) == vals
    for i, v in enumerate(vals):
        assert r.lindex("b", i) == v
    # a huge element never fits a listpack node
    assert enc(r, "b") == "quicklist"


# ---------------- pops ----------------

def test_pop_single(r, fill):
    mklist(r, "l", ["a", "b", "c"])
    assert r.lpop("l") == b"a"
    assert r.rpop("l") == b"c"
    assert r.rpop("l") == b"b"
    assert r.exists("l") == 0  # empty lists are deleted
    assert r.lpop("l") is None
    assert r.rpop("l") is None


def test_pop_count(r, fill):
    mklist(r, "l", [str(i) for i in range(10)])
    assert r.lpop("l", 3) == [b"0", b"1", b"2"]
    assert r.rpop("l", 2) == [b"9", b"8"]
    assert r.lpop("l", 0) == []
    assert r.rpop("l", 100) == [b"7", b"6", b"5", b"4", b"3"]
    assert r.exists("l") == 0


def test_pop_count_edge_cases(server, r):
    r.rpush("l", "a")
    # missing key with a count: null array (*-1), without: null bulk ($-1)
    raw = server.raw()
    assert resp_exchange(raw, b"LPOP nokey 1\r\n") == b"*-1\r\n"
    assert resp_exchange(raw, b"LPOP nokey 0\r\n") == b"*-1\r\n"
    assert resp_exchange(raw, b"RPOP nokey\r\n") == b"$-1\r\n"
    assert resp_exchange(raw, b"LPOP l 0\r\n") == b"*0\r\n"
    raw.close()
    for bad in ("-1", "abc", "1.5"):
        assert err(r.execute_command, "LPOP", "l", bad) == "value is out of range, must be positive"
        assert err(r.execute_command, "RPOP", "l", bad) == "value is out of range, must be positive"
    assert err(r.execute_command, "LPOP", "l", "1", "2") == "wrong number of arguments for 'lpop' command"
    r.set("s", "x")
    assert err(r.execute_command, "LPOP", "s") == WRONGTYPE
    assert err(r.execute_command, "RPOP", "s", "2") == WRONGTYPE
    assert r.lrange("l", 0, -1) == [b"a"]


# ---------------- reads ----------------

def test_llen(r, fill):
    assert r.llen("nokey") == 0
    mklist(r, "l", list("abcdefg"))
    assert r.llen("l") == 7
    r.set("s", "x")
    assert err(r.llen, "s") == WRONGTYPE


def test_lindex(r, fill):
    items = [str(i) for i in range(20)]
    mklist(r, "l", items)
    for i in range(-22, 22):
        want = items[i].encode() if -20 <= i < 20 else None
        assert r.lindex("l", i) == want
    assert r.lindex("nokey", 0) is None
    assert r.lindex("nokey", "abc") is None  # key checked before index, as Redis
    assert err(r.lindex, "l", "abc") == NOT_INT
    r.set("s", "x")
    assert err(r.lindex, "s", 0) == WRONGTYPE


def test_lrange(r, fill):
    items = [str(i) for i in range(12)]
    mklist(r, "l", items)
    enc_items = [x.encode() for x in items]
    cases = [(0, -1), (0, 0), (2, 5), (-3, -1), (-100, 2), (5, 100), (7, 3), (12, 20), (-1, -2), (0, -13), (-12, -12)]
    for start, end in cases:
        s = start + 12 if start < 0 else start
        e = end + 12 if end < 0 else end
        s = max(s, 0)
        want = enc_items[s:e + 1] if e >= 0 else []
        assert r.lrange("l", start, end) == want, (start, end)
    assert r.lrange("nokey", 0, -1) == []
    assert err(r.lrange, "l", "a", 1) == NOT_INT
    assert err(r.lrange, "l", 0, "b") == NOT_INT
    r.set("s", "x")
    assert err(r.lrange, "s", 0, -1) == WRONGTYPE


def test_lpos(r, fill):
    mklist(r, "l", ["a", "b", "c", "1", "2", "3", "c", "c"])
    assert r.lpos("l", "c") == 2
    assert r.lpos("l", "x") is None
    assert r.lpos("l", "c", rank=2) == 6
    assert r.lpos("l", "c", rank=-1) == 7
    assert r.lpos("l", "c", rank=-3) == 2
    assert r.lpos("l", "c", rank=4) is None
    assert r.lpos("l", "c", count=2) == [2, 6]
    assert r.lpos("l", "c", count=0) == [2, 6, 7]
    assert r.lpos("l", "c", count=0, rank=2) == [6, 7]
    assert r.lpos("l", "c", count=2, rank=-1) == [7, 6]
    assert r.lpos("l", "x", count=0) == []
    assert r.lpos("l", "c", count=0, maxlen=7) == [2, 6]
    assert r.lpos("l", "c", maxlen=2) is None
    assert r.lpos("l", "c", maxlen=3) == 2
    assert r.lpos("l", "c", rank=-1, maxlen=1) == 7
    assert r.lpos("l", "a", rank=-1, maxlen=7) is None
    assert r.lpos("l", "c", rank=1, maxlen=0) == 2
    assert r.lpos("nokey", "a") is None
    assert r.lpos("nokey", "a", count=0) == []


def test_lpos_errors(r):
    r.rpush("l", "a")
    assert err(r.execute_command, "LPOS", "l", "a", "RANK", "0") == (
        "RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
        "or use negative to start from the end of the list")
    assert err(r.execute_command, "LPOS", "l", "a", "RANK", "x") == NOT_INT
    assert err(r.execute_command, "LPOS", "l", "a", "RANK", "-9223372036854775808") == (
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    assert err(r.execute_command, "LPOS", "l", "a", "COUNT", "-1") == "COUNT can't be negative"
    assert err(r.execute_command, "LPOS", "l", "a", "COUNT", "x") == "COUNT can't be negative"
    assert err(r.execute_command, "LPOS", "l", "a", "MAXLEN", "-1") == "MAXLEN can't be negative"
    assert err(r.execute_command, "LPOS", "l", "a", "FOO") == "syntax error"
    assert err(r.execute_command, "LPOS", "l", "a", "RANK") == "syntax error"
    assert r.execute_command("LPOS", "l", "a", "RANK", "1", "RANK", "2") is None  # last one wins
    r.set("s", "x")
    assert err(r.execute_command, "LPOS", "s", "a") == WRONGTYPE


# ---------------- writes in the middle ----------------

def test_lset(r, fill):
    mklist(r, "l", ["a", "b", "c", "d", "e"])
    assert r.lset("l", 0, "A") is True
    assert r.lset("l", -1, "E") is True
    assert r.lset("l", 2, "C" * 3000) is True
    assert r.lrange("l", 0, -1) == [b"A", b"b", b"C" * 3000, b"d", b"E"]
    assert err(r.lset, "l", 5, "x") == "index out of range"
    assert err(r.lset, "l", -6, "x") == "index out of range"
    assert err(r.lset, "nokey", 0, "x") == "no such key"
    assert err(r.lset, "nokey", "abc", "x") == "no such key"
    assert err(r.lset, "l", "abc", "x") == NOT_INT
    r.set("s", "x")
    assert err(r.lset, "s", 0, "x") == WRONGTYPE


def test_lset_big_value_converts(r):
    r.rpush("l", "a", "b", "c")
    assert enc(r, "l") == "listpack"
    r.lset("l", 1, "x" * 10000)
    assert enc(r, "l") == "quicklist"
    assert r.lrange("l", 0, -1) == [b"a", b"x" * 10000, b"c"]


def test_linsert(r, fill):
    mklist(r, "l", ["a", "b", "c"])
    assert r.linsert("l", "before", "a", "0") == 4
    assert r.linsert("l", "after", "c", "d") == 5
    assert r.linsert("l", "AFTER", "b", "b2") == 6
    assert r.linsert("l", "Before", "b", "b0") == 7
    assert r.lrange("l", 0, -1) == [b"0", b"a", b"b0", b"b", b"b2", b"c", b"d"]
    assert r.linsert("l", "before", "zz", "x") == -1
    assert r.linsert("nokey", "before", "a", "x") == 0
    assert r.exists("nokey") == 0
    assert err(r.execute_command, "LINSERT", "l", "middle", "a", "x") == "syntax error"
    r.set("s", "x")
    assert err(r.linsert, "s", "before", "a", "x") == WRONGTYPE
    expect_enc(r, "l", fill)


def test_linsert_many_in_the_middle(r, fill):
    # repeated inserts in one spot split and merge nodes; order stays right
    r.rpush("l", "head", "pivot", "tail")
    model = ["head", "pivot", "tail"]
    for i in range(60):
        r.linsert("l", "before", "pivot", "v%d" % i)
        model.insert(model.index("pivot"), "v%d" % i)
    assert r.lrange("l", 0, -1) == [m.encode() for m in model]
    assert r.llen("l") == 63


def test_lrem(r, fill):
    items = ["a", "b", "a", "c", "a", "b", "a"]
    mklist(r, "l", items)
    assert r.lrem("l", 2, "a") == 2
    assert r.lrange("l", 0, -1) == [b"b", b"c", b"a", b"b", b"a"]
    assert r.lrem("l", -1, "b") == 1
    assert r.lrange("l", 0, -1) == [b"b", b"c", b"a", b"a"]
    assert r.lrem("l", 0, "a") == 2
    assert r.lrange("l", 0, -1) == [b"b", b"c"]
    assert r.lrem("l", 0, "zz") == 0
    assert r.lrem("l", -5, "c") == 1
    assert r.lrem("l", 1, "b") == 1
    assert r.exists("l") == 0
    assert r.lrem("nokey", 0, "a") == 0
    assert err(r.lrem, "l", "abc", "a") == NOT_INT
    r.set("s", "x")
    assert err(r.lrem, "s", 0, "a") == WRONGTYPE


def test_lrem_large(r, fill):
    items = ["x" if i % 3 == 0 else str(i) for i in range(300)]
    mklist(r, "l", items)
    assert r.lrem("l", -10, "x") == 10
    model = list(items)
    removed = 0
    for i in range(len(model) - 1, -1, -1):
        if model[i] == "x" and removed < 10:
            del model[i]
            removed += 1
    assert r.lrange("l", 0, -1) == [m.encode() for m in model]
    assert r.lrem("l", 0, "x") == 90
    assert r.llen("l") == 200


def test_ltrim(r, fill):
    items = [str(i) for i in range(10)]
    cases = [(0, -1), (2, 5), (-3, -1), (0, 0), (-100, 100), (5, 2), (10, 20), (-1, -1), (3, -4)]
    for start, end in cases:
        mklist(r, "l", items)
        assert r.ltrim("l", start, end) is True
        s = start + 10 if start < 0 else start
        e = end + 10 if end < 0 else end
        s = max(s, 0)
        want = [x.encode() for x in items[s:e + 1]] if e >= 0 else []
        assert r.lrange("l", 0, -1) == want, (start, end)
        assert r.exists("l") == (1 if want else 0)
    assert r.ltrim("nokey", 0, 1) is True
    assert err(r.ltrim, "l", "a", 1) == NOT_INT
    r.set("s", "x")
    assert err(r.ltrim, "s", 0, 1) == WRONGTYPE


# ---------------- moves ----------------

@pytest.mark.parametrize("src_side,dst_side", [("LEFT", "LEFT"), ("LEFT", "RIGHT"), ("RIGHT", "LEFT"), ("RIGHT", "RIGHT")])
def test_lmove(r, fill, src_side, dst_side):
    mklist(r, "src", ["a", "b", "c"])
    mklist(r, "dst", ["x", "y"])
    got = r.lmove("src", "dst", src_side, dst_side)
    moved = b"a" if src_side == "LEFT" else b"c"
    assert got == moved
    rest = [b"b", b"c"] if src_side == "LEFT" else [b"a", b"b"]
    assert r.lrange("src", 0, -1) == rest
    want = [moved, b"x", b"y"] if dst_side == "LEFT" else [b"x", b"y", moved]
    assert r.lrange("dst", 0, -1) == want


def test_lmove_same_list_and_edges(r, fill):
    mklist(r, "l", ["a", "b", "c"])
    assert r.lmove("l", "l", "RIGHT", "LEFT") == b"c"
    assert r.lrange("l", 0, -1) == [b"c", b"a", b"b"]
    assert r.lmove("l", "l", "LEFT", "LEFT") == b"c"
    assert r.lrange("l", 0, -1) == [b"c", b"a", b"b"]
    mklist(r, "one", ["z"])
    assert r.lmove("one", "one", "LEFT", "RIGHT") == b"z"
    assert r.lrange("one", 0, -1) == [b"z"]
    # moving the last element deletes the source and creates the target
    assert r.lmove("one", "new", "LEFT", "LEFT") == b"z"
    assert r.exists("one") == 0 and r.lrange("new", 0, -1) == [b"z"]
    assert r.lmove("nokey", "new", "LEFT", "LEFT") is None
    assert err(r.execute_command, "LMOVE", "l", "new", "MIDDLE", "LEFT") == "syntax error"
    assert err(r.execute_command, "LMOVE", "l", "new", "LEFT", "UP") == "syntax error"
    r.set("s", "x")
    assert err(r.lmove, "s", "new", "LEFT", "LEFT") == WRONGTYPE
    assert err(r.lmove, "l", "s", "LEFT", "LEFT") == WRONGTYPE
    assert r.lrange("l", 0, -1) == [b"c", b"a", b"b"]  # untouched on error
    assert r.lmove("nokey", "s", "LEFT", "LEFT") is None  # nothing to move: no type error


def test_rpoplpush(r, fill):
    mklist(r, "src", ["a", "b", "c"])
    assert r.rpoplpush("src", "dst") == b"c"
    assert r.rpoplpush("src", "dst") == b"b"
    assert r.lrange("dst", 0, -1) == [b"b", b"c"]
    assert r.rpoplpush("src", "src") == b"a"
    assert r.rpoplpush("src", "dst") == b"a"
    assert r.exists("src") == 0
    assert r.rpoplpush("src", "dst") is None
    r.set("s", "x")
    assert err(r.rpoplpush, "dst", "s") == WRONGTYPE
    assert err(r.rpoplpush, "s", "dst") == WRONGTYPE


# ---------------- LMPOP ----------------

def test_lmpop(r, fill):
    mklist(r, "l2", ["a", "b", "c", "d"])
    assert r.execute_command("LMPOP", 2, "l1", "l2", "LEFT") == [b"l2", [b"a"]]
    assert r.execute_command("LMPOP", 2, "l1", "l2", "RIGHT", "COUNT", 2) == [b"l2", [b"d", b"c"]]
    r.rpush("l1", "x")
    assert r.execute_command("LMPOP", 2, "l1", "l2", "left", "count", 10) == [b"l1", [b"x"]]
    assert r.exists("l1") == 0
    assert r.execute_command("LMPOP", 2, "l1", "l2", "LEFT", "COUNT", 10) == [b"l2", [b"b"]]
    assert r.execute_command("LMPOP", 2, "l1", "l2", "LEFT") is None


def test_lmpop_errors(server, r):
    r.rpush("l", "a")
    for bad in ("0", "-1", "abc"):
        assert err(r.execute_command, "LMPOP", bad, "l", "LEFT") == "numkeys should be greater than 0"
    assert err(r.execute_command, "LMPOP", 2, "l", "LEFT") == "syntax error"
    assert err(r.execute_command, "LMPOP", 5, "l", "LEFT") == "syntax error"
    assert err(r.execute_command, "LMPOP", "9223372036854775807", "l", "LEFT") == "syntax error"
    assert err(r.execute_command, "LMPOP", 1, "l", "MIDDLE") == "syntax error"
    for bad in ("0", "-1", "abc"):
        assert err(r.execute_command, "LMPOP", 1, "l", "LEFT", "COUNT", bad) == "count should be greater than 0"
    assert err(r.execute_command, "LMPOP", 1, "l", "LEFT", "COUNT", 1, "COUNT", 1) == "syntax error"
    assert err(r.execute_command, "LMPOP", 1, "l", "LEFT", "FOO") == "syntax error"
    assert err(r.execute_command, "LMPOP", 1, "l", "LEFT", "COUNT") == "syntax error"
    r.set("s", "x")
    assert err(r.execute_command, "LMPOP", 2, "s", "l", "LEFT") == WRONGTYPE
    assert r.execute_command("LMPOP", 2, "l", "s", "LEFT") == [b"l", [b"a"]]
    raw = server.raw()
    assert resp_exchange(raw, b"LMPOP 1 nokey LEFT\r\n") == b"*-1\r\n"
    raw.close()


# ---------------- encodings ----------------

def test_encoding_boundary_count(r):
    r.config_set("list-max-listpack-size", 4)
    try:
        r.rpush("l", "a", "b", "c", "d")
        assert enc(r, "l") == "listpack"
        r.rpush("l", "e")
        assert enc(r, "l") == "quicklist"
        assert r.lrange("l", 0, -1) == [b"a", b"b", b"c", b"d", b"e"]
        # shrinking to half the limit converts back (hysteresis)
        r.rpop("l")
        r.rpop("l")
        assert enc(r, "l") == "quicklist"
        r.rpop("l")
        assert enc(r, "l") == "listpack"
        assert r.lrange("l", 0, -1) == [b"a", b"b"]
        # LPUSH with many values at once
        r.delete("m")
        r.lpush("m", *range(5))
        assert enc(r, "m") == "quicklist"
        r.delete("m")
        r.lpush("m", *range(4))
        assert enc(r, "m") == "listpack"
    finally:
        r.config_set("list-max-listpack-size", -2)


def test_encoding_boundary_bytes(r):
    assert r.config_get("list-max-listpack-size") == {"list-max-listpack-size": "-2"}
    # -2 means 8 KB nodes: 100 elements of 50 bytes stay compact
    r.rpush("l", *(["x" * 50] * 100))
    assert enc(r, "l") == "listpack"
    r.rpush("l", *(["x" * 50] * 100))
    assert enc(r, "l") == "quicklist"
    r.config_set("list-max-listpack-size", -1)  # 4 KB
    try:
        r.rpush("k", *(["y" * 50] * 60))
        assert enc(r, "k") == "listpack"
        r.rpush("k", *(["y" * 50] * 30))
        assert enc(r, "k") == "quicklist"
    finally:
        r.config_set("list-max-listpack-size", -2)
    # the old alias is accepted too
    r.config_set("list-max-ziplist-size", 7)
    assert r.config_get("list-max-listpack-size") == {"list-max-listpack-size": "7"}
    r.config_set("list-max-listpack-size", -2)


def test_conversion_keeps_contents_under_mixed_ops(r, fill):
    import random
    rnd = random.Random(7)
    model = []
    for step in range(1500):
        op = rnd.randrange(8)
        v = "v%d" % step if rnd.randrange(10) else "w" * rnd.randrange(100, 400)
        if op in (0, 1) or len(model) < 3:
            r.lpush("l", v)
            model.insert(0, v)
        elif op == 2:
            r.rpush("l", v)
            model.append(v)
        elif op == 3:
            assert r.lpop("l") == model.pop(0).encode()
        elif op == 4:
            i = rnd.randrange(len(model))
            r.lset("l", i, v)
            model[i] = v
        elif op == 5:
            pivot = model[rnd.randrange(len(model))]
            r.linsert("l", "after", pivot, v)
            model.insert(model.index(pivot) + 1, v)
        elif op == 6:
            i = rnd.randrange(len(model))
            assert r.lindex("l", i) == model[i].encode()
        else:
            assert r.rpop("l") == model.pop().encode()
        if not model:
            assert r.exists("l") == 0
    assert r.lrange("l", 0, -1) == [m.encode() for m in model]


# ---------------- keyspace effects ----------------

def test_object_memory_digest(r, fill):
    r.rpush("l", *range(20))
    expect_enc(r, "l", fill)
    assert r.memory_usage("l") > 20
    r.rpush("same", *range(20))
    d1 = r.execute_command("DEBUG", "DIGEST-VALUE", "l")
    assert d1 == r.execute_command("DEBUG", "DIGEST-VALUE", "same")
    r.lset("same", 3, "x")
    assert d1 != r.execute_command("DEBUG", "DIGEST-VALUE", "same")
    assert r.type("l") == b"list"


def test_keyspace_events(server, r):
    r.config_set("notify-keyspace-events", "KEl")
    p = server.client().pubsub()
    try:
        p.psubscribe("__keyevent@0__:*")
        p.get_message(timeout=1)
    except redis.ResponseError:
        pytest.skip("pub/sub not available in this build")
    try:
        r.rpush("l", "a", "b", "c")
        r.lpush("l", "z")
        r.lpop("l")
        r.rpop("l")
        r.linsert("l", "before", "a", "x")
        r.lset("l", 0, "y")
        r.lrem("l", 0, "b")
        r.ltrim("l", 0, 0)
        r.rpush("l", "q")
        r.lmove("l", "m", "LEFT", "RIGHT")
        events = []
        deadline = time.time() + 2
        while len(events) < 11 and time.time() < deadline:
            m = p.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                events.append((m["channel"].decode().split(":", 1)[1], m["data"].decode()))
        assert events == [("rpush", "l"), ("lpush", "l"), ("lpop", "l"), ("rpop", "l"), ("linsert", "l"),
                          ("lset", "l"), ("lrem", "l"), ("ltrim", "l"), ("rpush", "l"), ("rpush", "m"),
                          ("lpop", "l")]
    finally:
        p.close()
        r.config_set("notify-keyspace-events", "")


def test_watch_invalidated_by_list_write(server, r):
    r.rpush("l", "a")
    c2 = server.client()
    p = r.pipeline()
    p.watch("l")
    c2.rpush("l", "b")
    p.multi()
    p.llen("l")
    with pytest.raises(redis.WatchError):
        p.execute()
    c2.close()


# ---------------- propagation ----------------

def test_propagation_plain(r, plog):
    r.rpush("l", "a", "b", "c", "d")
    r.lpop("l")
    r.rpop("l", 2)
    r.lpop("nokey")  # nothing changed: not propagated
    r.lmove("l", "m", "LEFT", "RIGHT")
    r.execute_command("LMPOP", 1, "m", "LEFT", "COUNT", 5)
    assert plog() == [["0", "RPUSH", "l", "a", "b", "c", "d"], ["0", "LPOP", "l"], ["0", "RPOP", "l", "2"],
                      ["0", "LMOVE", "l", "m", "LEFT", "RIGHT"], ["0", "LPOP", "m", "1"]]


def test_propagation_blocking_served_at_once(r, plog):
    r.rpush("a", "1", "2", "3")
    r.blpop(["x", "a"], 1)
    r.brpop(["a"], 1)
    r.blmove("a", "b", 1, "LEFT", "RIGHT")
    r.rpush("a", "4")
    r.brpoplpush("a", "b", 1)
    r.execute_command("BLMPOP", 1, 1, "b", "RIGHT", "COUNT", 2)
    log = plog()
    assert log[:4] == [["0", "RPUSH", "a", "1", "2", "3"], ["0", "LPOP", "a"], ["0", "RPOP", "a"],
                       ["0", "LMOVE", "a", "b", "LEFT", "RIGHT"]]
    assert log[5:] == [["0", "RPOPLPUSH", "a", "b"], ["0", "RPOP", "b", "2"]]  # as Redis 7.0 names it


def test_propagation_blocking_after_wait(server, r, plog):
    c = blocked_conn(server, "BLPOP", "q", 0)
    wait_blocked(r, 1)
    r.rpush("q", "v")
    assert c.read_response() == [b"q", b"v"]
    c.disconnect()
    c = blocked_conn(server, "BLMOVE", "q2", "d", "RIGHT", "LEFT", 0)
    wait_blocked(r, 1)
    r.rpush("q2", "w")
    assert c.read_response() == b"w"
    c.disconnect()
    c = blocked_conn(server, "BRPOPLPUSH", "q3", "d", 0)
    wait_blocked(r, 1)
    r.rpush("q3", "z")
    assert c.read_response() == b"z"
    c.disconnect()
    assert plog() == [["0", "RPUSH", "q", "v"], ["0", "LPOP", "q"], ["0", "RPUSH", "q2", "w"],
                      ["0", "LMOVE", "q2", "d", "RIGHT", "LEFT"], ["0", "RPUSH", "q3", "z"],
                      ["0", "RPOPLPUSH", "q3", "d"]]


# ---------------- blocking ----------------

def blocked_conn(server, *cmd):
    """A raw connection that has sent cmd and not read the reply yet."""
    cl = server.client()
    conn = cl.connection_pool.get_connection("_")
    conn.send_command(*cmd)
    return conn


def blocked_count(r):
    return r.info("clients")["blocked_clients"]


def wait_blocked(r, n, timeout=3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if blocked_count(r) == n:
            return
        time.sleep(0.01)
    raise AssertionError("expected %d blocked clients, have %d" % (n, blocked_count(r)))


def test_blpop_immediate(r, fill):
    r.rpush("b", "1", "2")
    assert r.blpop(["a", "b"], 1) == (b"b", b"1")
    assert r.brpop(["a", "b"], 1) == (b"b", b"2")
    assert r.exists("b") == 0
    r.rpush("a", "x")
    r.rpush("b", "y")
    assert r.blpop(["b", "a"], 0) == (b"b", b"y")  # first non-empty key in order


def test_blpop_wakes_on_push(server, r):
    c = blocked_conn(server, "BLPOP", "k1", "k2", 0)
    wait_blocked(r, 1)
    r.rpush("k2", "v1", "v2")
    assert c.read_response() == [b"k2", b"v1"]
    assert r.lrange("k2", 0, -1) == [b"v2"]
    assert blocked_count(r) == 0
    c.disconnect()


def test_brpop_wakes_on_push(server, r):
    c = blocked_conn(server, "BRPOP", "k", 0)
    wait_blocked(r, 1)
    r.lpush("k", "a", "b")
    assert c.read_response() == [b"k", b"a"]
    c.disconnect()


def test_blocking_fifo_order(server, r):
    conns = []
    for i in range(3):
        conns.append(blocked_conn(server, "BLPOP", "q", 0))
        wait_blocked(r, i + 1)
    r.rpush("q", "a", "b")
    assert conns[0].read_response() == [b"q", b"a"]
    assert conns[1].read_response() == [b"q", b"b"]
    wait_blocked(r, 1)
    r.rpush("q", "c")
    assert conns[2].read_response() == [b"q", b"c"]
    assert r.exists("q") == 0
    for c in conns:
        c.disconnect()


def test_blocking_timeout(server, r):
    t0 = time.time()
    assert r.blpop(["nokey"], 0.2) is None
    assert 0.15 <= time.time() - t0 < 2
    assert r.brpop(["nokey"], 0.1) is None
    assert r.blmove("nokey", "d", 0.1, "LEFT", "LEFT") is None
    assert r.brpoplpush("nokey", "d", 0.1) is None
    assert r.execute_command("BLMPOP", 0.1, 1, "nokey", "LEFT") is None
    assert blocked_count(r) == 0
    raw = server.raw()
    # RESP2 timeout replies are null arrays for all of them, as Redis
    assert resp_exchange(raw, b"BLPOP nokey 0.05\r\n", timeout=2) == b"*-1\r\n"
    assert resp_exchange(raw, b"BLMOVE nokey d LEFT LEFT 0.05\r\n", timeout=2) == b"*-1\r\n"
    assert resp_exchange(raw, b"BRPOPLPUSH nokey d 0.05\r\n", timeout=2) == b"*-1\r\n"
    raw.close()


def test_blocking_timeout_errors(r):
    for cmd in (["BLPOP", "k"], ["BRPOP", "k"], ["BRPOPLPUSH", "k", "d"], ["BLMOVE", "k", "d", "LEFT", "LEFT"]):
        assert err(r.execute_command, *cmd, "-1") == "timeout is negative"
        assert err(r.execute_command, *cmd, "abc") == "timeout is not a float or out of range"
    assert err(r.execute_command, "BLMPOP", "-1", 1, "k", "LEFT") == "timeout is negative"
    assert err(r.execute_command, "BLMPOP", "abc", 1, "k", "LEFT") == "timeout is not a float or out of range"
    assert err(r.execute_command, "BLMPOP", 0, 0, "k", "LEFT") == "numkeys should be greater than 0"
    assert err(r.execute_command, "BLMPOP", 0, 1, "k", "LEFT", "COUNT", 0) == "count should be greater than 0"
    assert err(r.execute_command, "BLMPOP", 0, 1, "k", "UP") == "syntax error"
    # options are checked before the timeout, as Redis does
    assert err(r.execute_command, "BLMPOP", -1, 0, "k", "LEFT") == "numkeys should be greater than 0"
    assert err(r.execute_command, "BLMPOP", "abc", 1, "k", "UP") == "syntax error"
    assert err(r.execute_command, "BLMPOP", "abc", 1, "k", "LEFT", "COUNT", 0) == "count should be greater than 0"
    assert err(r.execute_command, "BLMOVE", "k", "d", "UP", "LEFT", "abc") == "syntax error"
    assert err(r.execute_command, "BLMOVE", "k", "d", "UP", "LEFT", 0) == "syntax error"
    r.set("s", "x")
    assert err(r.blpop, ["s"], 0) == WRONGTYPE
    assert err(r.blmove, "s", "d", 0, "LEFT", "LEFT") == WRONGTYPE
    assert err(r.execute_command, "BLMPOP", 0, 1, "s", "LEFT") == WRONGTYPE
    r.rpush("l", "a")
    assert err(r.blmove, "l", "s", 0, "LEFT", "LEFT") == WRONGTYPE
    assert blocked_count(r) == 0


def test_blocked_client_disconnect_is_cleaned_up(server, r):
    c = blocked_conn(server, "BLPOP", "gone", 0)
    wait_blocked(r, 1)
    c.disconnect()
    wait_blocked(r, 0)
    r.rpush("gone", "v")
    time.sleep(0.05)
    assert r.lrange("gone", 0, -1) == [b"v"]  # nobody took it


def test_blmove_wakes(server, r):
    c = blocked_conn(server, "BLMOVE", "src", "dst", "RIGHT", "LEFT", 0)
    wait_blocked(r, 1)
    r.rpush("dst", "old")
    time.sleep(0.05)
    assert blocked_count(r) == 1  # a write to dst does not serve it
    r.rpush("src", "a", "b")
    assert c.read_response() == b"b"
    assert r.lrange("src", 0, -1) == [b"a"]
    assert r.lrange("dst", 0, -1) == [b"b", b"old"]
    c.disconnect()


def test_brpoplpush_wakes(server, r):
    c = blocked_conn(server, "BRPOPLPUSH", "src", "dst", 0)
    wait_blocked(r, 1)
    r.lpush("src", "x")
    assert c.read_response() == b"x"
    assert r.lrange("dst", 0, -1) == [b"x"]
    assert r.exists("src") == 0
    c.disconnect()


def test_brpoplpush_same_list_and_chain(server, r):
    # client 1 waits on a, client 2 on b; feeding a moves into b, which
    # in turn serves client 2
    c1 = blocked_conn(server, "BRPOPLPUSH", "a", "b", 0)
    wait_blocked(r, 1)
    c2 = blocked_conn(server, "BLPOP", "b", 0)
    wait_blocked(r, 2)
    r.rpush("a", "v")
    assert c1.read_response() == b"v"
    assert c2.read_response() == [b"b", b"v"]
    assert r.exists("a") == 0 and r.exists("b") == 0
    c1.disconnect()
    c2.disconnect()


def test_blmove_wrong_destination_type_after_wait(server, r):
    c = blocked_conn(server, "BLMOVE", "src", "dst", "LEFT", "LEFT", 0)
    wait_blocked(r, 1)
    r.set("dst", "str")
    r.rpush("src", "v")
    with pytest.raises(redis.ResponseError) as e:
        c.read_response()
    assert str(e.value) == WRONGTYPE
    assert r.lrange("src", 0, -1) == [b"v"]
    c.disconnect()


def test_blpop_key_becomes_other_type_keeps_waiting(server, r):
    c = blocked_conn(server, "BLPOP", "k", 0)
    wait_blocked(r, 1)
    r.set("k", "str")  # not a list: keep waiting, no error
    time.sleep(0.05)
    assert blocked_count(r) == 1
    r.delete("k")
    r.rpush("k", "v")
    assert c.read_response() == [b"k", b"v"]
    c.disconnect()


def test_lpush_then_del_does_not_wake(server, r):
    c = blocked_conn(server, "BLPOP", "k", 0)
    wait_blocked(r, 1)
    p = r.pipeline(transaction=True)
    p.rpush("k", "a").delete("k")
    p.execute()
    time.sleep(0.05)
    assert blocked_count(r) == 1
    r.rpush("k", "b")
    assert c.read_response() == [b"k", b"b"]
    c.disconnect()


def test_wake_from_multi_exec(server, r):
    c = blocked_conn(server, "BLPOP", "k", 0)
    wait_blocked(r, 1)
    p = r.pipeline(transaction=True)
    p.rpush("k", "a", "b").rpush("k", "c")
    assert p.execute() == [2, 3]
    assert c.read_response() == [b"k", b"a"]
    assert r.lrange("k", 0, -1) == [b"b", b"c"]
    c.disconnect()


def test_blocking_inside_multi_does_not_block(server, r):
    raw = server.raw()
    out = resp_exchange(raw, b"MULTI\r\nBLPOP nokey 0\r\nBRPOP nokey 0\r\nBLMOVE nokey d LEFT LEFT 0\r\n"
                             b"BRPOPLPUSH nokey d 0\r\nBLMPOP 0 1 nokey LEFT\r\nEXEC\r\n", timeout=2)
    assert out == (b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"
                   b"*5\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n")
    raw.close()
    r.rpush("k", "a")
    p = r.pipeline(transaction=True)
    p.blpop(["k"], 0).blpop(["k"], 0)
    assert p.execute() == [(b"k", b"a"), None]


def test_blmpop(server, r, fill):
    r.rpush("b", "1", "2", "3")
    assert r.execute_command("BLMPOP", 0, 2, "a", "b", "RIGHT", "COUNT", 2) == [b"b", [b"3", b"2"]]
    c = blocked_conn(server, "BLMPOP", 0, 2, "x", "y", "LEFT", "COUNT", 5)
    wait_blocked(r, 1)
    r.rpush("y", "p", "q")
    assert c.read_response() == [b"y", [b"p", b"q"]]
    assert r.exists("y") == 0
    c.disconnect()


def test_blocking_same_key_twice(server, r):
    c = blocked_conn(server, "BLPOP", "k", "k", "k", 0)
    wait_blocked(r, 1)
    r.rpush("k", "v")
    assert c.read_response() == [b"k", b"v"]
    c.disconnect()


def test_blocking_resp3_timeout(server):
    raw = server.raw()
    resp_exchange(raw, b"HELLO 3\r\n")
    assert resp_exchange(raw, b"BLPOP nokey 0.05\r\n", timeout=2) == b"_\r\n"
    assert resp_exchange(raw, b"BLMOVE nokey d LEFT LEFT 0.05\r\n", timeout=2) == b"_\r\n"
    raw.close()


def test_pipelined_commands_after_blocked_one(server, r):
    raw = server.raw()
    raw.sendall(b"BLPOP k 0\r\nPING\r\n")
    wait_blocked(r, 1)
    r.rpush("k", "v")
    out = resp_exchange(raw, b"", timeout=2)
    assert out == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n+PONG\r\n"
    raw.close()


def test_many_waiters_threaded(server, r):
    results = []

    def worker():
        c = server.client()
        results.append(c.blpop(["tq"], 5))
        c.close()

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    wait_blocked(r, 5)
    r.rpush("tq", *range(5))
    for t in threads:
        t.join()
    assert sorted(v for _, v in results) == [b"0", b"1", b"2", b"3", b"4"]


# ---- compression (list-compress-depth) ----

def compressible(rng):
    k = rng.randrange(4)
    if k == 0:
        return "x" * rng.randrange(1, 300)
    if k == 1:
        return "item:%d:" % rng.randrange(1000) + "abc" * rng.randrange(1, 40)
    if k == 2:
        return str(rng.randrange(10**6))
    return "".join(rng.choice("abcdef") for _ in range(rng.randrange(1, 50)))


def run_both(clients, *args):
    out = []
    for c in clients:
        try:
            out.append(c.execute_command(*args))
        except redis.ResponseError as e:
            out.append("ERR " + str(e))
    return out


@pytest.mark.parametrize("depth", [1, 2])
def test_compressed_lists_match_redis(r, redis_ref, depth):
    """Random list commands on lists whose inner nodes are compressed give
    the same replies and the same final lists as redis-server with the same
    settings; small nodes (8 entries) make many of them."""
    both = (r, redis_ref)
    redis_ref.flushall()
    for c in both:
        c.config_set("list-max-listpack-size", 8)
        c.config_set("list-compress-depth", depth)
    rng = random.Random(depth)
    keys = ["l0", "l1", "l2"]
    try:
        for _ in range(4000):
            k = rng.choice(keys)
            op = rng.randrange(14)
            n = r.llen(k)
            if op < 4:
                args = (rng.choice(["LPUSH", "RPUSH"]), k, *[compressible(rng) for _ in range(rng.randrange(1, 20))])
            elif op < 6:
                args = (rng.choice(["LPOP", "RPOP"]), k, rng.randrange(1, 6))
            elif op == 6:
                args = ("LINDEX", k, rng.randrange(-n - 2, n + 2))
            elif op == 7:
                args = ("LSET", k, rng.randrange(-n - 1, n + 1), compressible(rng))
            elif op == 8:
                pivot = r.lindex(k, rng.randrange(n)) if n else b"none"
                args = ("LINSERT", k, rng.choice(["BEFORE", "AFTER"]), pivot, compressible(rng))
            elif op == 9:
                v = r.lindex(k, rng.randrange(n)) if n else b"none"
                args = ("LREM", k, rng.randrange(-3, 4), v)
            elif op == 10:
                args = ("LTRIM", k, rng.randrange(0, 5), rng.randrange(-5, -1))
            elif op == 11:
                a = rng.randrange(-n - 2, n + 2)
                args = ("LRANGE", k, a, a + rng.randrange(0, 60))
            elif op == 12:
                v = r.lindex(k, rng.randrange(n)) if n else b"none"
                args = ("LPOS", k, v, "RANK", rng.choice([1, 2, -1]), "COUNT", 0)
            else:
                args = ("LMOVE", k, rng.choice(keys), rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"]))
            got, want = run_both(both, *args)
            assert got == want, args
        for k in keys:
            assert r.lrange(k, 0, -1) == redis_ref.lrange(k, 0, -1)
        # the inner nodes really were compressed: the biggest list holds
        # fewer bytes than its unpacked nodes
        big = max(keys, key=r.llen)
        info = dict(f.split(":", 1) for f in r.execute_command("DEBUG", "OBJECT", big).decode().split()[1:] if ":" in f)
        assert info["ql_compressed"] == "1" and int(info["ql_nodes"]) > 2 * depth
        assert r.memory_usage(big, samples=0) < int(info["ql_uncompressed_size"]) * 0.8
    finally:
        r.config_set("list-max-listpack-size", -2)
        r.config_set("list-compress-depth", 0)


def test_compression_shrinks_memory_and_survives_reload(r):
    """The same 20,000 compressible elements take under half the memory with
    inner nodes compressed; a DEBUG RELOAD and a DUMP/RESTORE keep every
    element (and the reloaded list is compressed again)."""
    vals = ["event:%d:status=ok;payload=%s" % (i, "ab" * (i % 20)) for i in range(20000)]
    p = r.pipeline(transaction=False)
    for i in range(0, len(vals), 1000):
        p.rpush("plain", *vals[i:i + 1000])
    p.execute()
    r.config_set("list-compress-depth", 1)
    try:
        for i in range(0, len(vals), 1000):
            p.rpush("packed", *vals[i:i + 1000])
        p.execute()
        plain, packed = r.memory_usage("plain", samples=0), r.memory_usage("packed", samples=0)
        assert packed < plain / 2, (packed, plain)
        assert enc(r, "packed") == "quicklist"
        # reads from the middle unpack one node at a time; the list stays small
        for i in range(0, 20000, 997):
            assert r.lindex("packed", i).decode() == vals[i]
        assert r.lrange("packed", 0, -1) == [v.encode() for v in vals]
        assert r.memory_usage("packed", samples=0) < plain / 2
        r.restore("copy", 0, r.dump("packed"))
        assert r.lrange("copy", 9990, 10010) == [v.encode() for v in vals[9990:10011]]
        r.execute_command("DEBUG", "RELOAD")
        assert r.lrange("packed", 0, -1) == [v.encode() for v in vals]
        assert r.memory_usage("packed", samples=0) < plain / 2
    finally:
        r.config_set("list-compress-depth", 0)
