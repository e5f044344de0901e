"""Redis 8.0's hash commands HGETDEL, HGETEX and HSETEX: values, field
TTLs and their all-or-nothing conditions, Redis 8's error texts, keyspace
events, and the deterministic forms they propagate in (HDEL, HPEXPIREAT,
HPERSIST, HSET, HSETEX with an absolute PXAT), on both encodings. A
replica and an AOF restart see the same absolute TTLs. Debian's Redis 7.0
lacks these commands, so the texts come from Redis 8's documentation and
test suite."""
import time

import pytest
from conftest import WRONGTYPE, err
from test_hashes import enc  # noqa: F401 - both encodings, as there

NUMFIELDS = "Number of fields must be a positive integer"
MISSING_FIELDS = "Mandatory argument FIELDS is missing or not at the right position"
MISMATCH = "The `numfields` parameter must match the number of arguments"
ONE_TTL = "Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified"


def x(r, *args):
    return r.execute_command(*args)


def error(r, *args):
    return err(r.execute_command, *args)


def now_ms():
    return int(time.time() * 1000)


# ---------------------------------------------------------------- HGETDEL

def test_hgetdel(r, enc, plog, events):
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    plog()
    events()
    assert x(r, "HGETDEL", "h", "FIELDS", 3, "a", "zz", "a") == [b"1", None, None]
    assert r.hgetall("h") == {b"b": b"2", b"c": b"3"}
    assert plog() == [["0", "HDEL", "h", "a"]]
    assert events() == [("__keyspace@0__:h", "hdel"), ("__keyevent@0__:hdel", "h")]
    # The last fields go, and the key with them.
    assert x(r, "HGETDEL", "h", "FIELDS", 2, "c", "b") == [b"3", b"2"]
    assert r.exists("h") == 0
    assert plog() == [["0", "HDEL", "h", "c", "b"]]
    assert ("__keyevent@0__:del", "h") in events()
    # Nothing there: nils, nothing propagated.
    assert x(r, "HGETDEL", "h", "FIELDS", 1, "a") == [None]
    assert plog() == []


def test_hgetdel_errors(r):
    r.set("s", "x")
    assert error(r, "HGETDEL", "s", "FIELDS", 1, "a") == WRONGTYPE
    assert error(r, "HGETDEL", "h", "FIELDS", 1) == "wrong number of arguments for 'hgetdel' command"
    assert error(r, "HGETDEL", "h", "FIELD", 1, "a") == MISSING_FIELDS
    for n in ("0", "-1", "x", "9223372036854775808"):
        assert error(r, "HGETDEL", "h", "FIELDS", n, "a") == NUMFIELDS
    assert error(r, "HGETDEL", "h", "FIELDS", 2, "a") == MISMATCH
    assert error(r, "HGETDEL", "h", "FIELDS", 1, "a", "b") == MISMATCH


def test_hgetdel_skips_expired_fields(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.hset("h", mapping={"a": "1", "b": "2"})
        x(r, "HPEXPIRE", "h", 10, "FIELDS", 1, "a")
        time.sleep(0.05)
        assert x(r, "HGETDEL", "h", "FIELDS", 2, "a", "b") == [None, b"2"]
        assert r.exists("h") == 0
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


# ---------------------------------------------------------------- HGETEX

def test_hgetex_without_option_is_a_read(r, enc, plog):
    r.hset("h", mapping={"a": "1", "b": "2"})
    plog()
    assert x(r, "HGETEX", "h", "FIELDS", 3, "a", "b", "zz") == [b"1", b"2", None]
    assert x(r, "HTTL", "h", "FIELDS", 2, "a", "b") == [-1, -1]
    assert plog() == []
    assert x(r, "HGETEX", "nokey", "FIELDS", 2, "a", "b") == [None, None]


@pytest.mark.parametrize("opt,value,lo,hi", [
    ("EX", 1000, 999_000, 1_000_000),
    ("PX", 50_000, 49_000, 50_000),
    ("EXAT", "+200", 198_000, 200_000),
    ("PXAT", "+300000", 298_000, 300_000),
])
def test_hgetex_sets_ttls(r, enc, plog, opt, value, lo, hi):
    if value == "+200":
        value = int(time.time()) + 200
    elif value == "+300000":
        value = now_ms() + 300_000
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    plog()
    before = now_ms()
    assert x(r, "HGETEX", "h", opt, value, "FIELDS", 3, "a", "zz", "b") == [b"1", None, b"2"]
    ttls = x(r, "HPTTL", "h", "FIELDS", 3, "a", "b", "c")
    assert lo <= ttls[0] <= hi and ttls[0] == ttls[1] and ttls[2] == -1
    (entry,) = plog()
    assert entry[1:3] == ["HPEXPIREAT", "h"] and entry[4:] == ["FIELDS", "2", "a", "b"]
    at = int(entry[3])
    assert before + lo - 1000 <= at <= now_ms() + hi
    assert x(r, "HPEXPIRETIME", "h", "FIELDS", 1, "a") == [at]


def test_hgetex_persist_and_past_times(r, enc, plog, events):
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    x(r, "HPEXPIRE", "h", 100_000, "FIELDS", 2, "a", "b")
    plog()
    events()
    # PERSIST: only fields that had a TTL are propagated.
    assert x(r, "HGETEX", "h", "PERSIST", "FIELDS", 3, "a", "c", "zz") == [b"1", b"3", None]
    assert x(r, "HTTL", "h", "FIELDS", 3, "a", "b", "c") == [-1, x(r, "HTTL", "h", "FIELDS", 1, "b")[0], -1]
    assert plog() == [["0", "HPERSIST", "h", "FIELDS", "1", "a"]]
    assert events() == [("__keyspace@0__:h", "hpersist"), ("__keyevent@0__:hpersist", "h")]
    assert x(r, "HGETEX", "h", "PERSIST", "FIELDS", 1, "c") == [b"3"]
    assert plog() == []
    # A time already past: the values, then the fields are gone.
    assert x(r, "HGETEX", "h", "PXAT", 1, "FIELDS", 2, "a", "b") == [b"1", b"2"]
    assert r.hgetall("h") == {b"c": b"3"}
    assert plog() == [["0", "HDEL", "h", "a", "b"]]
    assert x(r, "HGETEX", "h", "EXAT", 1, "FIELDS", 1, "c") == [b"3"]
    assert r.exists("h") == 0
    assert ("__keyevent@0__:del", "h") in events()


def test_hgetex_errors(r):
    r.set("s", "x")
    assert error(r, "HGETEX", "s", "FIELDS", 1, "a") == WRONGTYPE
    assert error(r, "HGETEX", "h", "FIELDS", 1) == "wrong number of arguments for 'hgetex' command"
    assert error(r, "HGETEX", "h", "XFIELDX", 1, "a") == MISSING_FIELDS
    assert error(r, "HGETEX", "h", "PXAT", 1, 1) == MISSING_FIELDS
    assert error(r, "HGETEX", "h", "PERSIST", 1, "FIELDS", 1, "a") == MISSING_FIELDS
    assert error(r, "HGETEX", "h", "EX", 100, "PERSIST", "FIELDS", 1, "a") == MISSING_FIELDS
    assert error(r, "HGETEX", "h", "KEEPTTL", "FIELDS", 1, "a") == MISSING_FIELDS
    assert error(r, "HGETEX", "h", "FIELDS", 2, "a") == MISMATCH
    for n in ("0", "-1", "9223372036854775808"):
        assert error(r, "HGETEX", "h", "FIELDS", n, "a") == NUMFIELDS
    assert error(r, "HGETEX", "h", "EX", "bla", "FIELDS", 1, "a") == "value is not an integer or out of range"
    assert error(r, "HGETEX", "h", "EX", "9223372036854775808", "FIELDS", 1, "a") == \
        "value is not an integer or out of range"
    assert error(r, "HGETEX", "h", "PX", -1, "FIELDS", 1, "a") == "invalid expire time, must be >= 0"
    assert error(r, "HGETEX", "h", "PXAT", -1, "FIELDS", 1, "a") == "invalid expire time, must be >= 0"
    assert error(r, "HGETEX", "h", "EX", 1 << 48, "FIELDS", 1, "a") == "invalid expire time in 'hgetex' command"
    assert error(r, "HGETEX", "h", "PXAT", (1 << 46) + 100, "FIELDS", 1, "a") == \
        "invalid expire time in 'hgetex' command"


# ---------------------------------------------------------------- HSETEX

def test_hsetex_sets_values_and_ttls(r, enc, plog, events):
    plog()
    events()
    assert x(r, "HSETEX", "h", "FIELDS", 2, "a", "1", "b", "2") == 1
    assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert plog() == [["0", "HSET", "h", "a", "1", "b", "2"]]
    assert events() == [("__keyspace@0__:h", "hset"), ("__keyevent@0__:hset", "h")]
    before = now_ms()
    assert x(r, "HSETEX", "h", "PX", 100_000, "FIELDS", 1, "b", "20") == 1
    (entry,) = plog()
    at = int(entry[4])
    assert entry[1:4] == ["HSETEX", "h", "PXAT"] and entry[5:] == ["FIELDS", "1", "b", "20"]
    assert before + 100_000 <= at <= now_ms() + 100_000
    assert x(r, "HPEXPIRETIME", "h", "FIELDS", 2, "a", "b") == [-1, at]
    assert [e[1] for e in events()] == ["hset", "h", "hexpire", "h"]
    # KEEPTTL keeps b's TTL; without it the TTL goes, as with HSET.
    assert x(r, "HSETEX", "h", "KEEPTTL", "FIELDS", 2, "a", "10", "b", "200") == 1
    assert plog() == [["0", "HSETEX", "h", "KEEPTTL", "FIELDS", "2", "a", "10", "b", "200"]]
    assert x(r, "HPEXPIRETIME", "h", "FIELDS", 2, "a", "b") == [-1, at]
    assert x(r, "HSETEX", "h", "FIELDS", 1, "b", "2000") == 1
    assert x(r, "HPEXPIRETIME", "h", "FIELDS", 1, "b") == [-1]
    assert r.hgetall("h") == {b"a": b"10", b"b": b"2000"}
    # EX and EXAT too; options may come in any order.
    assert x(r, "HSETEX", "h", "EX", 50, "FXX", "FIELDS", 1, "a", "x") == 1
    assert 49 <= x(r, "HTTL", "h", "FIELDS", 1, "a")[0] <= 50
    exat = int(time.time()) + 500
    assert x(r, "HSETEX", "h", "FNX", "EXAT", exat, "FIELDS", 1, "c", "y") == 1
    assert x(r, "HEXPIRETIME", "h", "FIELDS", 1, "c") == [exat]


def test_hsetex_conditions_are_all_or_nothing(r, enc, plog):
    # FXX on a missing key: nothing, and no empty key left behind.
    assert x(r, "HSETEX", "h", "FXX", "FIELDS", 1, "a", "1") == 0
    assert r.exists("h") == 0
    assert x(r, "HSETEX", "h", "FNX", "FIELDS", 1, "a", "1") == 1
    plog()
    assert x(r, "HSETEX", "h", "FNX", "FIELDS", 2, "b", "2", "a", "9") == 0
    assert x(r, "HSETEX", "h", "FXX", "FIELDS", 2, "a", "9", "b", "2") == 0
    assert plog() == []
    assert r.hgetall("h") == {b"a": b"1"}
    assert x(r, "HSETEX", "h", "FNX", "FIELDS", 2, "b", "2", "c", "3") == 1
    assert x(r, "HSETEX", "h", "FXX", "FIELDS", 3, "a", "x", "b", "y", "c", "z") == 1
    assert r.hgetall("h") == {b"a": b"x", b"b": b"y", b"c": b"z"}


def test_hsetex_time_in_the_past(r, enc, plog):
    # On a missing key: nothing is created, nothing propagated.
    assert x(r, "HSETEX", "h", "PXAT", 1, "FIELDS", 2, "a", "1", "b", "2") == 1
    assert r.exists("h") == 0
    assert plog() == []
    r.hset("h", mapping={"a": "1", "keep": "k"})
    plog()
    assert x(r, "HSETEX", "h", "EXAT", int(time.time()) - 1, "FIELDS", 2, "a", "1", "b", "2") == 1
    assert r.hgetall("h") == {b"keep": b"k"}
    assert plog() == [["0", "HDEL", "h", "a"]]
    assert x(r, "HSETEX", "h", "PX", 0, "FIELDS", 1, "keep", "v") == 1
    assert r.exists("h") == 0


def test_hsetex_errors(r):
    r.set("s", "x")
    assert error(r, "HSETEX", "s", "FIELDS", 1, "a", "b") == WRONGTYPE
    arity = "wrong number of arguments for 'hsetex' command"
    assert error(r, "HSETEX", "h", "FIELDS", 1) == arity
    for args in ([2, "a", "b"], [2, "a", "b", "c"], [3, "a", "b", "c", "d"], [1, "a", "b", "unknown"]):
        assert error(r, "HSETEX", "h", "FIELDS", *args) == arity
    assert error(r, "HSETEX", "h", "nx", "FIELDS", 1, "a", "b") == "unknown argument: nx"
    assert error(r, "HSETEX", "h", 1, "FIELDS", 1, "a", "b") == "unknown argument: 1"
    for opts in (["FXX", "FXX"], ["FXX", "FNX"], ["FNX", "FXX"]):
        assert error(r, "HSETEX", "h", *opts, "EX", 100, "FIELDS", 1, "a", "b") == \
            "Only one of FXX or FNX arguments can be specified"
    for opts in (["EX", 1, "PX", 1], ["EXAT", 1, "EX", 1], ["PXAT", 1, "KEEPTTL"], ["KEEPTTL", "EX", 1],
                 ["KEEPTTL", "KEEPTTL"]):
        assert error(r, "HSETEX", "h", *opts, "FIELDS", 1, "a", "b") == ONE_TTL
    for opt in ("EX", "PX", "EXAT", "PXAT"):
        assert error(r, "HSETEX", "h", opt, "FIELDS", 1, "a", "b") == "value is not an integer or out of range"
    assert error(r, "HSETEX", "h", "EXAT", 1 << 48, 1, "a", "b") == "invalid expire time in 'hsetex' command"
    assert error(r, "HSETEX", "h", "EXAT", -1, 1, "a", "b") == "invalid expire time, must be >= 0"
    assert error(r, "HSETEX", "h", "EXAT", "x", 1, "a", "b") == "value is not an integer or out of range"
    for n in ("x", "9223372036854775808", "0", "-1"):
        assert error(r, "HSETEX", "h", "FIELDS", n, "a", "b") == "invalid number of fields"
    assert r.exists("h") == 0


def test_hsetex_sessions_expire(r):
    """The seed's session pattern with per-field TTLs: a session hash whose
    short-lived fields (a CSRF token) vanish on their own."""
    assert x(r, "HSETEX", "session:1", "FIELDS", 2, "user", "ada", "role", "admin") == 1
    assert x(r, "HSETEX", "session:1", "PX", 100, "FIELDS", 1, "csrf", "t0k3n") == 1
    assert r.hget("session:1", "csrf") == b"t0k3n"
    deadline = time.time() + 5
    while r.hexists("session:1", "csrf") and time.time() < deadline:
        time.sleep(0.02)
    assert r.hgetall("session:1") == {b"user": b"ada", b"role": b"admin"}
    assert x(r, "HGETEX", "session:1", "PX", 100, "FIELDS", 2, "user", "role") == [b"ada", b"admin"]
    while r.exists("session:1") and time.time() < deadline:
        time.sleep(0.02)
    assert r.exists("session:1") == 0


def test_replica_and_aof_keep_the_absolute_ttls(keel):
    primary = keel("--appendonly", "yes", "--appendfsync", "always", "--repl-diskless-sync-delay", "0")
    replica = keel()
    p, q = primary.client(), replica.client()
    q.execute_command("REPLICAOF", "127.0.0.1", primary.port)
    deadline = time.time() + 20
    while p.info("replication")["connected_slaves"] < 1 or "online" not in str(p.info("replication")["slave0"]):
        assert time.time() < deadline
        time.sleep(0.05)
    x(p, "HSETEX", "h", "EX", 1000, "FIELDS", 2, "a", "1", "b", "2")
    x(p, "HSETEX", "h", "KEEPTTL", "FIELDS", 1, "a", "10")
    x(p, "HSETEX", "h", "FIELDS", 1, "c", "3")
    x(p, "HGETEX", "h", "PX", 500_000, "FIELDS", 1, "c")
    x(p, "HGETEX", "h", "PERSIST", "FIELDS", 1, "b")
    x(p, "HGETDEL", "h", "FIELDS", 1, "zz")
    x(p, "HSETEX", "g", "FIELDS", 2, "x", "1", "y", "2")
    x(p, "HGETDEL", "g", "FIELDS", 1, "x")
    x(p, "HGETEX", "g", "PXAT", 1, "FIELDS", 1, "y")
    assert p.execute_command("WAIT", 1, 5000) == 1
    times = x(p, "HPEXPIRETIME", "h", "FIELDS", 3, "a", "b", "c")
    assert times[0] > 0 and times[1] == -1 and times[2] > 0
    assert q.hgetall("h") == p.hgetall("h") == {b"a": b"10", b"b": b"2", b"c": b"3"}
    assert x(q, "HPEXPIRETIME", "h", "FIELDS", 3, "a", "b", "c") == times
    assert q.exists("g") == p.exists("g") == 0
    # The log replays to the same data and absolute TTLs.
    x(p, "DEBUG", "LOADAOF")
    assert p.hgetall("h") == {b"a": b"10", b"b": b"2", b"c": b"3"}
    assert x(p, "HPEXPIRETIME", "h", "FIELDS", 3, "a", "b", "c") == times
