"""Set commands: the three encodings and their conversions, every command
and option with Redis's error texts, deterministic propagation of random
pops, and the algebra commands with their STORE forms."""
import time

import pytest
import redis
from conftest import WRONGTYPE, resp_exchange



def encoding(r, key):
    """OBJECT ENCODING, or DEBUG OBJECT's encoding where OBJECT is absent."""
    try:
        return r.object("encoding", key).decode()
    except redis.ResponseError:
        line = r.execute_command("DEBUG", "OBJECT", key)
        line = line.decode() if isinstance(line, bytes) else str(line)
        return line.split("encoding:")[1].split()[0]


# Members that produce each encoding with the default thresholds.
ENCODINGS = {
    "intset": [str(i) for i in range(-5, 15)],
    "listpack": ["m%d" % i for i in range(20)],
    "hashtable": ["member-%d-%s" % (i, "x" * 70) for i in range(20)],
}


@pytest.fixture(params=sorted(ENCODINGS))
def members(request):
    return request.param, ENCODINGS[request.param]


def test_sadd_srem_card_members(r, members):
    enc, ms = members
    assert r.sadd("s", *ms) == len(ms)
    assert r.sadd("s", ms[0], ms[1]) == 0
    assert encoding(r, "s") == enc
    assert r.scard("s") == len(ms)
    assert r.smembers("s") == {m.encode() for m in ms}
    assert r.type("s") == b"set"
    assert r.srem("s", ms[0], "nope") == 1
    assert r.srem("s", ms[0]) == 0
    assert r.scard("s") == len(ms) - 1
    assert r.srem("missing", "a") == 0
    assert r.scard("missing") == 0
    assert r.smembers("missing") == set()
    assert r.srem("s", *ms) == len(ms) - 1
    assert r.exists("s") == 0


def test_sismember_smismember(r, members):
    enc, ms = members
    r.sadd("s", *ms)
    assert r.sismember("s", ms[3]) is True or r.sismember("s", ms[3]) == 1
    assert not r.sismember("s", "absent")
    assert not r.sismember("missing", "a")
    assert r.smismember("s", [ms[0], "absent", ms[1]]) == [1, 0, 1]
    assert r.smismember("missing", ["a", "b"]) == [0, 0]
    # An intset answers non-integers (and integers out of its range) with 0.
    assert not r.sismember("s", "99999999999999999999999")


def test_wrongtype(r):
    r.set("str", "x")
    r.sadd("s", "a")
    for cmd in (["SADD", "str", "a"], ["SREM", "str", "a"], ["SMEMBERS", "str"], ["SISMEMBER", "str", "a"],
                ["SMISMEMBER", "str", "a"], ["SCARD", "str"], ["SPOP", "str"], ["SRANDMEMBER", "str"],
                ["SINTER", "s", "str"], ["SUNION", "str", "s"], ["SDIFF", "s", "str"],
                ["SINTERSTORE", "d", "s", "str"], ["SUNIONSTORE", "d", "str"], ["SDIFFSTORE", "d", "str"],
                ["SINTERCARD", "2", "s", "str"], ["SSCAN", "str", "0"], ["SMOVE", "str", "s", "a"],
                ["SMOVE", "s", "str", "a"]):
        with pytest.raises(redis.ResponseError, match=WRONGTYPE):
            r.execute_command(*cmd)
    # A missing source does not look at the destination's type.
    assert r.smove("missing", "str", "a") == 0


def test_intset_conversions(r):
    r.sadd("s", 1, 2, 3)
    assert encoding(r, "s") == "intset"
    r.sadd("s", 2**40, -(2**50))
    assert encoding(r, "s") == "intset"
    assert r.smembers("s") == {b"1", b"2", b"3", str(2**40).encode(), str(-(2**50)).encode()}
    r.sadd("s", "abc")
    assert encoding(r, "s") == "listpack"
    assert r.sismember("s", 2**40)
    # Too many integers: straight to a hashtable.
    r.config_set("set-max-intset-entries", 4)
    try:
        r.sadd("i", 1, 2, 3, 4)
        assert encoding(r, "i") == "intset"
        r.sadd("i", 5)
        assert encoding(r, "i") == "hashtable"
        # An SADD with more members than the intset limit picks listpack.
        r.sadd("j", 1, 2, 3, 4, 5)
        assert encoding(r, "j") == "listpack"
    finally:
        r.config_set("set-max-intset-entries", 512)
    # Non-canonical integers are strings.
    r.sadd("k", "01")
    assert encoding(r, "k") == "listpack"
    r.sadd("k2", "1")
    r.sadd("k2", "+1")
    assert encoding(r, "k2") == "listpack"
    assert r.scard("k2") == 2


def test_intset_to_hashtable_when_listpack_cannot_hold(r):
    r.config_set("set-max-listpack-entries", 3)
    try:
        r.sadd("s", 1, 2, 3)
        r.sadd("s", "x")
        assert encoding(r, "s") == "hashtable"
        assert r.smembers("s") == {b"1", b"2", b"3", b"x"}
    finally:
        r.config_set("set-max-listpack-entries", 128)


def test_listpack_conversions(r):
    r.config_set("set-max-listpack-entries", 4)
    r.config_set("set-max-listpack-value", 8)
    try:
        r.sadd("s", "a", "b", "c", "d")
        assert encoding(r, "s") == "listpack"
        r.sadd("s", "e")
        assert encoding(r, "s") == "hashtable"
        r.sadd("t", "abcdefgh")
        assert encoding(r, "t") == "listpack"
        r.sadd("t", "abcdefghi")
        assert encoding(r, "t") == "hashtable"
        assert r.smembers("t") == {b"abcdefgh", b"abcdefghi"}
        # An intset whose members print longer than the limit skips listpack.
        r.sadd("w", 123456789)
        r.sadd("w", "x")
        assert encoding(r, "w") == "hashtable"
        # Never back.
        r.srem("s", "a", "b", "c", "d")
        assert encoding(r, "s") == "hashtable"
        r.sadd("u", "a", "b", "c", "d", "e")
        assert encoding(r, "u") == "hashtable"
    finally:
        r.config_set("set-max-listpack-entries", 128)
        r.config_set("set-max-listpack-value", 64)


def test_default_thresholds(r):
    r.sadd("i", *range(512))
    assert encoding(r, "i") == "intset"
    r.sadd("i", 512)
    assert encoding(r, "i") == "hashtable"
    r.sadd("l", *["m%d" % i for i in range(128)])
    assert encoding(r, "l") == "listpack"
    r.sadd("l", "m128")
    assert encoding(r, "l") == "hashtable"
    assert r.scard("l") == 129


def test_large_set(r):
    ms = ["member:%d" % i for i in range(5000)]
    for i in range(0, 5000, 500):
        r.sadd("s", *ms[i:i + 500])
    assert r.scard("s") == 5000
    r.srem("s", *ms[:4990])
    assert r.smembers("s") == {m.encode() for m in ms[4990:]}


def test_spop(r, members, plog):
    enc, ms = members
    assert r.spop("missing") is None
    assert r.spop("missing", 3) == []
    r.sadd("s", *ms)
    m = r.spop("s")
    assert m.decode() in ms and not r.sismember("s", m)
    assert r.spop("s", 0) == []
    got = r.spop("s", 5)
    assert len(got) == 5 and len(set(got)) == 5
    assert r.scard("s") == len(ms) - 6
    rest = r.spop("s", 100)
    assert len(rest) == len(ms) - 6
    assert r.exists("s") == 0
    popped = {m} | set(got) | set(rest)
    assert popped == {x.encode() for x in ms}
    # Propagated as SREM of exactly the members popped.
    log = plog()
    assert not any(e[1] == "SPOP" for e in log)
    srem = set()
    for e in log:
        if e[1] == "SREM":
            srem |= {x.encode() for x in e[3:]}
    assert srem == popped
    with pytest.raises(redis.ResponseError, match="^value is out of range, must be positive$"):
        r.execute_command("SPOP", "s", "-1")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SPOP", "s", "1", "2")


def test_spop_resp3_set(server):
    raw = server.raw()
    try:
        resp_exchange(raw, b"HELLO 3\r\n")
        resp_exchange(raw, b"FLUSHALL\r\n")
        resp_exchange(raw, b"SADD s a\r\n")
        assert resp_exchange(raw, b"SMEMBERS s\r\n") == b"~1\r\n$1\r\na\r\n"
        assert resp_exchange(raw, b"SRANDMEMBER s 1\r\n") == b"*1\r\n$1\r\na\r\n"
        assert resp_exchange(raw, b"SPOP s 1\r\n") == b"~1\r\n$1\r\na\r\n"
        assert resp_exchange(raw, b"SPOP s 1\r\n") == b"~0\r\n"
        assert resp_exchange(raw, b"SPOP s\r\n") == b"_\r\n"
    finally:
        raw.close()


def test_srandmember(r, members):
    enc, ms = members
    assert r.srandmember("missing") is None
    assert r.srandmember("missing", 3) == []
    r.sadd("s", *ms)
    assert r.srandmember("s").decode() in ms
    assert r.srandmember("s", 0) == []
    got = r.srandmember("s", 7)
    assert len(got) == 7 and len(set(got)) == 7
    assert sorted(r.srandmember("s", 1000)) == sorted(m.encode() for m in ms)
    rep = r.srandmember("s", -50)
    assert len(rep) == 50 and {x.decode() for x in rep} <= set(ms)
    assert r.scard("s") == len(ms)
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.execute_command("SRANDMEMBER", "s", "x")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SRANDMEMBER", "s", "1", "2")
    with pytest.raises(redis.ResponseError, match="value is out of range, value must between"):
        r.execute_command("SRANDMEMBER", "s", str(-(2**63)))


def test_srandmember_distribution_big_set(r):
    r.sadd("s", *["m%d" % i for i in range(1000)])
    seen = set()
    for _ in range(50):
        seen |= set(r.srandmember("s", 10))
    assert len(seen) > 300


def test_smove(r, plog):
    r.sadd("a", "x", "y")
    r.sadd("b", "z")
    assert r.smove("a", "b", "x") == 1
    assert r.smembers("a") == {b"y"} and r.smembers("b") == {b"x", b"z"}
    assert r.smove("a", "b", "nope") == 0
    assert r.smove("missing", "b", "x") == 0
    assert r.smove("a", "c", "y") == 1
    assert r.exists("a") == 0 and r.smembers("c") == {b"y"}
    assert r.smove("c", "c", "y") == 1
    assert r.smove("c", "c", "q") == 0
    assert r.smembers("c") == {b"y"}
    r.sadd("i", 1, 2)
    assert r.smove("c", "i", "y") == 1
    assert encoding(r, "i") == "listpack"
    assert ["0", "SMOVE", "a", "b", "x"] in plog()


def test_algebra(r, members):
    enc, ms = members
    r.sadd("a", *ms[:12])
    r.sadd("b", *ms[6:18])
    r.sadd("c", *ms[8:10])
    A, B, C = set(ms[:12]), set(ms[6:18]), set(ms[8:10])
    enc_set = lambda s: {x.encode() for x in s}
    assert r.sinter("a", "b") == enc_set(A & B)
    assert r.sinter("a", "b", "c") == enc_set(A & B & C)
    assert r.sinter("a", "missing") == set()
    assert r.sinter("a") == enc_set(A)
    assert r.sunion("a", "b", "missing") == enc_set(A | B)
    assert r.sdiff("a", "b") == enc_set(A - B)
    assert r.sdiff("a", "b", "c") == enc_set(A - B - C)
    assert r.sdiff("a", "a") == set()
    assert r.sdiff("missing", "a") == set()
    assert r.sdiff("a", "missing") == enc_set(A)
    assert r.sintercard(2, ["a", "b"]) == len(A & B)
    assert r.sintercard(2, ["a", "b"], limit=2) == 2
    assert r.sintercard(2, ["a", "b"], limit=0) == len(A & B)
    assert r.sintercard(2, ["a", "missing"]) == 0


def test_algebra_store(r, plog):
    r.sadd("a", 1, 2, 3, 4)
    r.sadd("b", 3, 4, 5)
    assert r.sinterstore("d", "a", "b") == 2
    assert r.smembers("d") == {b"3", b"4"}
    assert encoding(r, "d") == "intset"
    assert r.sunionstore("d", "a", "b") == 5
    assert r.sdiffstore("d", "a", "b") == 2
    assert r.smembers("d") == {b"1", b"2"}
    # The destination may be a source, and any type is overwritten.
    assert r.sunionstore("a", "a", "b") == 5
    r.set("str", "x")
    assert r.sinterstore("str", "a", "b") == 3
    assert r.type("str") == b"set"
    # Overwriting drops a TTL.
    r.expire("d", 100)
    r.sunionstore("d", "b")
    assert r.ttl("d") == -1
    # An empty result deletes the destination.
    assert r.sinterstore("d", "a", "missing") == 0
    assert r.exists("d") == 0
    assert r.sdiffstore("d", "missing") == 0
    r.sadd("s1", "x")
    r.sadd("s2", "y")
    assert r.sunionstore("u", "s1", "s2") == 2
    assert encoding(r, "u") == "listpack"
    events = [e[1] for e in plog()]
    assert "SINTERSTORE" in events and "SUNIONSTORE" in events


def test_sintercard_errors(r):
    r.sadd("s", 1)
    with pytest.raises(redis.ResponseError, match="^numkeys should be greater than 0$"):
        r.execute_command("SINTERCARD", "0", "s")
    with pytest.raises(redis.ResponseError, match="^numkeys should be greater than 0$"):
        r.execute_command("SINTERCARD", "x", "s")
    with pytest.raises(redis.ResponseError, match="^Number of keys can't be greater than number of args$"):
        r.execute_command("SINTERCARD", "3", "s")
    with pytest.raises(redis.ResponseError, match="^LIMIT can't be negative$"):
        r.execute_command("SINTERCARD", "1", "s", "LIMIT", "-1")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SINTERCARD", "1", "s", "LIMIT")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SINTERCARD", "1", "s", "FOO", "1")


def test_sscan(r, members):
    enc, ms = members
    assert r.sscan("missing", 0) == (0, [])
    r.sadd("s", *ms)
    seen = set()
    cursor = 0
    while True:
        cursor, part = r.sscan("s", cursor, count=3)
        seen |= set(part)
        if cursor == 0:
            break
    assert seen == {m.encode() for m in ms}
    _, part = r.sscan("s", 0, match="*1*", count=1000)
    assert set(part) == {m.encode() for m in ms if "1" in m}
    with pytest.raises(redis.ResponseError, match="^invalid cursor$"):
        r.execute_command("SSCAN", "s", "abc")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SSCAN", "s", "0", "COUNT", "0")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("SSCAN", "s", "0", "NOVALUES")


def test_sscan_big_hashtable(r):
    ms = ["m%d" % i for i in range(3000)]
    r.sadd("s", *ms)
    seen, cursor, calls = set(), 0, 0
    while True:
        cursor, part = r.sscan("s", cursor, count=100)
        calls += 1
        seen |= set(part)
        if cursor == 0:
            break
    assert seen == {m.encode() for m in ms}
    assert calls > 5


def test_digest_independent_of_encoding(r):
    r.sadd("a", 1, 2, 3)
    r.sadd("b", 3, 2, 1)
    r.sadd("b", "x")
    r.srem("b", "x")
    assert encoding(r, "a") == "intset" and encoding(r, "b") == "listpack"
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "a") == r.execute_command("DEBUG", "DIGEST-VALUE", "b")
    r.sadd("b", 4)
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "a") != r.execute_command("DEBUG", "DIGEST-VALUE", "b")


def test_memory_usage(r, members):
    enc, ms = members
    r.sadd("s", *ms)
    assert r.memory_usage("s") > 0


def test_sadd_propagates_only_changes(r, plog):
    r.sadd("s", "a")
    r.sadd("s", "a")
    r.srem("s", "zz")
    assert plog() == [["0", "SADD", "s", "a"]]


def test_srandmember_count_llong_min(r):
    r.sadd("s", "a")
    for key in ("s", "missing"):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("SRANDMEMBER", key, "-9223372036854775808")
        assert str(e.value) == "value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SRANDMEMBER", "s", "1.5")
    assert str(e.value) == "value is not an integer or out of range"
