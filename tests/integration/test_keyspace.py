"""Generic keyspace commands: DEL/UNLINK/EXISTS/TYPE/DBSIZE/FLUSH*, SWAPDB,
MOVE, COPY, RENAME/RENAMENX, KEYS, RANDOMKEY, TOUCH, SCAN, OBJECT."""
import time

import pytest
import redis

from conftest import resp_exchange


def err(r, *cmd):
    """The error text a command replies."""
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*cmd)
    return str(e.value)


def expired_key(r, key, value="v"):
    """A key that has passed its TTL but is still in the table (active
    expiry must be off for the caller)."""
    r.set(key, value)
    r.pexpire(key, 1)
    time.sleep(0.01)


@pytest.fixture
def no_active_expire(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    yield
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def stats(r):
    s = r.info("stats")
    return s["keyspace_hits"], s["keyspace_misses"]


# ---- arity ----

@pytest.mark.parametrize(
    "cmd",
    [
        ("DEL",), ("UNLINK",), ("EXISTS",), ("TYPE",), ("TYPE", "a", "b"), ("DBSIZE", "x"),
        ("SWAPDB", "0"), ("SWAPDB", "0", "1", "2"), ("MOVE", "k"), ("MOVE", "k", "1", "2"),
        ("COPY", "a"), ("RENAME", "a"), ("RENAME", "a", "b", "c"), ("RENAMENX", "a"),
        ("KEYS",), ("KEYS", "a", "b"), ("RANDOMKEY", "x"), ("TOUCH",), ("SCAN",), ("OBJECT",),
    ],
)
def test_wrong_arity(r, cmd):
    assert err(r, *cmd) == "wrong number of arguments for '%s' command" % cmd[0].lower()


# ---- DEL / UNLINK / EXISTS / TYPE / DBSIZE ----

def test_del_unlink_exists(r):
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert r.exists("a", "a", "b", "zz") == 3
    assert r.delete("a", "zz", "a") == 1
    assert r.unlink("b", "c", "zz") == 2
    assert r.exists("a", "b", "c") == 0
    assert r.dbsize() == 0


def test_type_and_dbsize(r):
    assert r.type("none") == b"none"
    r.set("s", "v")
    assert r.type("s") == b"string"
    assert r.dbsize() == 1
    r.set("t", "v")
    assert r.dbsize() == 2


def test_exists_type_count_keyspace_stats(r):
    r.set("a", "1")
    r.config_resetstat()
    r.exists("a")
    r.exists("zz")
    r.type("zz")
    assert stats(r) == (1, 2)


def test_flushdb_flushall_options(r):
    r.set("a", "1")
    r.execute_command("SELECT", "1")
    r.set("b", "1")
    assert r.execute_command("FLUSHDB", "ASYNC") is True
    assert r.dbsize() == 0
    r.execute_command("SELECT", "0")
    assert r.dbsize() == 1
    assert r.execute_command("FLUSHALL", "SYNC") is True
    assert r.dbsize() == 0
    assert err(r, "FLUSHDB", "LATER") == "syntax error"
    assert err(r, "FLUSHALL", "ASYNC", "SYNC") == "syntax error"



def fill(r, n, prefix="big:"):
    # Small MSETs: the connection's buffers stay small beside the keys.
    p = r.pipeline(transaction=False)
    for start in range(0, n, 200):
        p.mset({"%s%d" % (prefix, i): "value-%d" % i for i in range(start, min(n, start + 200))})
    p.execute()


@pytest.mark.parametrize("cmd", [("FLUSHALL",), ("FLUSHALL", "SYNC"), ("FLUSHDB",), ("FLUSHDB", "SYNC")])
def test_sync_flush_replies_once_memory_is_freed(r, cmd):
    # A big keyspace is freed off the main thread (Keel, as Redis 7.4), but
    # a synchronous flush answers only once it is freed: the memory is back
    # when the reply arrives, and the commands pipelined after it see the
    # empty keyspace.
    r.flushall()
    before = r.info("memory")["used_memory"]
    fill(r, 60000)
    full = r.info("memory")["used_memory"]
    assert full - before > 2_000_000
    p = r.pipeline(transaction=False)
    p.execute_command(*cmd)
    p.dbsize()
    p.set("after", "1")
    p.info("memory")
    replies = p.execute()
    assert replies[:3] == [True, 0, True]
    assert replies[3]["used_memory"] - before < (full - before) / 10


def test_flush_in_multi_and_async(r):
    fill(r, 30000)
    p = r.pipeline(transaction=True)
    p.flushall()
    p.dbsize()
    assert p.execute() == [True, 0]
    fill(r, 30000)
    assert r.execute_command("FLUSHALL", "ASYNC") is True
    assert r.dbsize() == 0


# ---- SWAPDB ----

def test_swapdb(server, r):
    r.set("k0", "zero")
    other = server.client(db=1)
    other.set("k1", "one")
    other.pexpire("k1", 100000)
    assert r.swapdb(0, 1) is True
    assert r.get("k0") is None and r.get("k1") == b"one"
    assert 0 < r.pttl("k1") <= 100000
    assert other.get("k0") == b"zero" and other.get("k1") is None
    assert r.info("keyspace")["db0"]["expires"] == 1
    # same index: OK, nothing changes
    assert r.swapdb(0, 0) is True
    assert r.get("k1") == b"one"
    other.close()


def test_swapdb_errors(r):
    assert err(r, "SWAPDB", "x", "1") == "invalid first DB index"
    assert err(r, "SWAPDB", "0", "x") == "invalid second DB index"
    assert err(r, "SWAPDB", "0", "1.5") == "invalid second DB index"
    assert err(r, "SWAPDB", "99999999999", "0") == "invalid first DB index"
    assert err(r, "SWAPDB", "0", "16") == "DB index is out of range"
    assert err(r, "SWAPDB", "-1", "0") == "DB index is out of range"


def test_swapdb_invalidates_watch(server, r):
    r.set("w", "1")
    w = server.client(db=1)  # watches a key of db 1 that does not exist there
    p = w.pipeline(transaction=True)
    p.watch("w")
    r.swapdb(0, 1)
    p.multi()
    p.set("x", "1")
    with pytest.raises(redis.WatchError):
        p.execute()
    p.reset()
    w.close()


# ---- MOVE ----

def test_move(server, r):
    r.set("k", "v")
    r.pexpire("k", 100000)
    assert r.move("k", 1) is True
    assert r.exists("k") == 0
    other = server.client(db=1)
    assert other.get("k") == b"v"
    assert 0 < other.pttl("k") <= 100000  # keeps its TTL
    assert r.move("k", 1) is False  # absent in the source
    r.set("k", "again")
    assert r.move("k", 1) is False  # present in the target
    assert r.get("k") == b"again" and other.get("k") == b"v"
    other.close()


def test_move_errors(r):
    r.set("k", "v")
    assert err(r, "MOVE", "k", "x") == "value is not an integer or out of range"
    assert err(r, "MOVE", "k", "16") == "DB index is out of range"
    assert err(r, "MOVE", "k", "-1") == "DB index is out of range"
    # past int, Redis's own range text (found by the random-command test)
    big = "value is out of range, value must between -2147483648 and 2147483647"
    assert err(r, "MOVE", "k", str(2**63 - 1)) == big
    assert err(r, "SELECT", "2147483648") == big
    assert err(r, "COPY", "k", "b", "DB", "-2147483649") == big
    assert err(r, "SWAPDB", "0", "2147483648") == "invalid second DB index"
    assert err(r, "MOVE", "k", "0") == "source and destination objects are the same"


def test_move_over_expired_target(server, r, no_active_expire):
    other = server.client(db=1)
    expired_key(other, "k", "old")
    r.set("k", "new")
    assert r.move("k", 1) is True
    assert other.get("k") == b"new"
    assert other.ttl("k") == -1
    other.close()


# ---- COPY ----

def test_copy_basic(r):
    r.set("a", "hello")
    r.pexpire("a", 100000)
    assert r.copy("a", "b") is True
    assert r.get("b") == b"hello"
    assert 0 < r.pttl("b") <= 100000
    assert r.copy("a", "b") is False  # exists, no REPLACE
    r.set("a", "other")
    assert r.copy("a", "b", replace=True) is True
    assert r.get("b") == b"other" and r.ttl("b") == -1
    assert r.copy("missing", "c") is False
    assert r.exists("c") == 0


def test_copy_is_deep(r):
    # raw (long) string: the copy must not share the buffer
    r.set("a", "x" * 100)
    r.copy("a", "b")
    r.append("a", "yy")
    assert r.get("b") == b"x" * 100
    r.set("n", "10")
    r.copy("n", "m")
    r.incr("n")
    assert r.get("m") == b"10"


def test_copy_db(server, r):
    r.set("a", "v")
    assert r.copy("a", "a", destination_db=1) is True
    other = server.client(db=1)
    assert other.get("a") == b"v"
    assert r.copy("a", "a", destination_db=1) is False
    r.set("a", "v2")
    assert r.execute_command("COPY", "a", "a", "db", "1", "replace") == 1
    assert other.get("a") == b"v2"
    other.close()


def test_copy_errors(r):
    r.set("a", "v")
    assert err(r, "COPY", "a", "a") == "source and destination objects are the same"
    assert err(r, "COPY", "a", "a", "DB", "0") == "source and destination objects are the same"
    assert err(r, "COPY", "a", "b", "DB") == "syntax error"
    assert err(r, "COPY", "a", "b", "FOO") == "syntax error"
    assert err(r, "COPY", "a", "b", "DB", "x") == "value is not an integer or out of range"
    assert err(r, "COPY", "a", "b", "DB", "16") == "DB index is out of range"
    assert r.exists("b") == 0


# ---- RENAME / RENAMENX ----

def test_rename(r):
    r.set("a", "1")
    r.pexpire("a", 100000)
    assert r.rename("a", "b") is True
    assert r.exists("a") == 0 and r.get("b") == b"1"
    assert 0 < r.pttl("b") <= 100000  # keeps its TTL
    r.set("c", "3")
    r.pexpire("c", 50000)
    assert r.rename("c", "b") is True  # overwrites, takes c's TTL
    assert r.get("b") == b"3" and 0 < r.pttl("b") <= 50000
    r.set("p", "persistent")
    r.rename("p", "b")
    assert r.ttl("b") == -1
    assert r.dbsize() == 1
    assert r.info("keyspace")["db0"]["expires"] == 0


def test_rename_same_key_and_missing(r):
    assert err(r, "RENAME", "nope", "x") == "no such key"
    assert err(r, "RENAMENX", "nope", "x") == "no such key"
    assert err(r, "RENAME", "nope", "nope") == "no such key"
    r.set("a", "1")
    assert r.execute_command("RENAME", "a", "a") is True
    assert r.execute_command("RENAMENX", "a", "a") == 0
    assert r.get("a") == b"1"


def test_renamenx(r):
    r.set("a", "1")
    r.set("b", "2")
    assert r.renamenx("a", "b") is False
    assert r.get("a") == b"1" and r.get("b") == b"2"
    assert r.renamenx("a", "c") is True
    assert r.exists("a") == 0 and r.get("c") == b"1"


def test_rename_expired_source_and_target(r, no_active_expire):
    expired_key(r, "gone")
    assert err(r, "RENAME", "gone", "x") == "no such key"
    expired_key(r, "t")
    r.set("s", "v")
    assert r.renamenx("s", "t") is True  # the expired target counts as absent
    assert r.get("t") == b"v"


def test_rename_binary_and_long_keys(r):
    long = b"k" * 300
    r.set(b"a\x00b", "v")
    r.rename(b"a\x00b", long)
    assert r.get(long) == b"v"
    r.rename(long, b"\x00")
    assert r.keys() == [b"\x00"]


def test_rename_invalidates_watch_on_both(server, r):
    r.set("a", "1")
    for watched in ("a", "b"):
        c = server.client()
        p = c.pipeline(transaction=True)
        p.watch(watched)
        r.rename("a" if r.exists("a") else "b", "b" if r.exists("a") else "a")
        p.multi()
        p.set("x", "1")
        with pytest.raises(redis.WatchError):
            p.execute()
        p.reset()
        c.close()


# ---- KEYS ----

def test_keys_patterns(r):
    r.mset({"foo": 1, "foobar": 2, "bar": 3, "f*o": 4, "fXo": 5})
    assert sorted(r.keys()) == [b"bar", b"f*o", b"fXo", b"foo", b"foobar"]
    assert sorted(r.keys("foo*")) == [b"foo", b"foobar"]
    assert sorted(r.keys("f?o")) == [b"f*o", b"fXo", b"foo"]
    assert sorted(r.keys("f[oX]o")) == [b"fXo", b"foo"]
    assert r.keys("f\\*o") == [b"f*o"]
    assert r.keys("nomatch*") == []
    # Redis's class rules: "x-]" is the range x..']'; an empty key matches
    # only "*" (and the empty pattern).
    r.mset({"k0": 1, "k5": 1, "": 1})
    assert sorted(r.keys("k[0-]")) == [b"k0", b"k5"]
    assert b"" in r.keys("*") and b"" not in r.keys("**")


def test_keys_skips_expired(r, no_active_expire):
    r.set("live", "1")
    expired_key(r, "dead")
    assert r.keys() == [b"live"]
    assert r.keys("d*") == []


# ---- RANDOMKEY ----

def test_randomkey(r):
    assert r.randomkey() is None
    r.set("only", "1")
    assert r.randomkey() == b"only"
    r.mset({"a": 1, "b": 2, "c": 3})
    seen = {r.randomkey() for _ in range(200)}
    assert seen == {b"only", b"a", b"b", b"c"}


def test_randomkey_never_returns_expired(r, no_active_expire):
    for i in range(3):
        expired_key(r, "dead%d" % i)
    r.execute_command("DEBUG", "POPULATE", "100", "gone")
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.pexpire("gone:%d" % i, 1)
    p.execute()
    time.sleep(0.01)
    assert r.dbsize() == 103
    assert r.randomkey() is None  # all expired: deleted on the way
    assert r.dbsize() == 0
    r.set("live", "1")
    expired_key(r, "dead")
    for _ in range(20):
        assert r.randomkey() == b"live"


# ---- TOUCH ----

def test_touch(r):
    r.mset({"a": 1, "b": 2})
    assert r.touch("a", "b", "zz", "a") == 3
    assert r.touch("zz") == 0


def test_touch_resets_idle_time(r):
    r.set("a", "1")
    r.execute_command("DEBUG", "SLEEP", "0")
    # idle time is in seconds: wait until it ticks
    deadline = time.time() + 5
    while r.object("idletime", "a") < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert r.object("idletime", "a") >= 2
    r.touch("a")
    assert r.object("idletime", "a") <= 1


# ---- SCAN ----

def full_scan(r, **kw):
    keys, cursor, calls = [], 0, 0
    while True:
        cursor, batch = r.scan(cursor, **kw)
        keys += batch
        calls += 1
        if cursor == 0:
            return keys, calls


def test_scan_basic(r):
    assert r.scan(0) == (0, [])
    r.execute_command("DEBUG", "POPULATE", "1000", "k")
    keys, calls = full_scan(r)
    assert len(set(keys)) == 1000
    assert calls > 1  # default COUNT 10 returns in pieces
    keys, calls = full_scan(r, count=10000)
    assert calls == 1 and len(keys) == 1000


def test_scan_reply_shape(server, r):
    r.set("a", "1")
    s = server.raw()
    # the cursor is a bulk string, then an array of keys
    assert resp_exchange(s, b"SCAN 0 COUNT 100\r\n") == b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n"
    r.delete("a")
    assert resp_exchange(s, b"SCAN 0\r\n") == b"*2\r\n$1\r\n0\r\n*0\r\n"
    s.close()


def test_scan_match_and_type(r):
    r.execute_command("DEBUG", "POPULATE", "300", "user")
    r.execute_command("DEBUG", "POPULATE", "300", "item")
    keys, _ = full_scan(r, match="user:1*")
    assert sorted(keys) == sorted(b"user:%d" % i for i in range(300) if str(i).startswith("1"))
    keys, _ = full_scan(r, match="*")
    assert len(set(keys)) == 600
    keys, _ = full_scan(r, _type="string", count=50)
    assert len(set(keys)) == 600
    keys, _ = full_scan(r, _type="STRING", count=50)
    assert len(set(keys)) == 600
    keys, _ = full_scan(r, _type="list", count=50)
    assert keys == []
    keys, _ = full_scan(r, _type="nosuchtype", count=50)
    assert keys == []
    keys, _ = full_scan(r, match="item:29*", _type="string", count=7)
    assert sorted(keys) == sorted([b"item:29"] + [b"item:29%d" % i for i in range(10)])


def test_scan_cursor_parsing(r):
    r.set("a", "1")
    for bad in ("x", "1x", " 1", "1 ", "18446744073709551616", "-", "0x10", "1.5"):
        assert err(r, "SCAN", bad) == "invalid cursor", bad
    # strtoul semantics, as Redis: "", "+0", "-1" and the largest value are accepted
    for ok in ("", "+0", "18446744073709551615", "-1"):
        cursor, _ = r.execute_command("SCAN", ok)
        assert int(cursor) >= 0
    # the cursor is checked before the options
    assert err(r, "SCAN", "x", "COUNT", "0") == "invalid cursor"


def test_scan_option_errors(r):
    assert err(r, "SCAN", "0", "COUNT", "0") == "syntax error"
    assert err(r, "SCAN", "0", "COUNT", "-1") == "syntax error"
    assert err(r, "SCAN", "0", "COUNT", "x") == "value is not an integer or out of range"
    assert err(r, "SCAN", "0", "COUNT") == "syntax error"
    assert err(r, "SCAN", "0", "MATCH") == "syntax error"
    assert err(r, "SCAN", "0", "TYPE") == "syntax error"
    assert err(r, "SCAN", "0", "FOO", "bar") == "syntax error"


def test_scan_cursor_is_unsigned_64bit(r):
    # any unsigned 64-bit cursor is accepted, also with the top bit set
    r.execute_command("DEBUG", "POPULATE", "5000", "k")
    for c in (2**63 + 5, 2**64 - 1, 2**32 + 1):
        cursor, keys = r.scan(c, count=5)
        assert 0 <= cursor < 2**64
    keys, _ = full_scan(r, count=100)
    assert len(set(keys)) == 5000


def test_scan_skips_and_deletes_expired(r, no_active_expire):
    r.execute_command("DEBUG", "POPULATE", "100", "live")
    for i in range(5):
        expired_key(r, "dead%d" % i)
    p = r.pipeline(transaction=False)
    for i in range(50):
        p.set("gone%d" % i, "v", px=1)
    p.execute()
    time.sleep(0.01)
    assert r.dbsize() == 155
    keys, _ = full_scan(r)
    assert sorted(set(keys)) == sorted(b"live:%d" % i for i in range(100))
    assert r.dbsize() == 100  # expired keys met by SCAN were deleted


def test_scan_guarantee_while_table_grows(r):
    """A key present for the whole scan is returned at least once, even when
    many keys are added during the scan so the table rehashes to larger
    sizes several times."""
    r.execute_command("DEBUG", "POPULATE", "2000", "stable")
    stable = {b"stable:%d" % i for i in range(2000)}
    seen = set()
    cursor, added, calls = 0, 0, 0
    while True:
        cursor, batch = r.scan(cursor, count=20)
        assert cursor < 2**53  # exact as a JavaScript number (node-redis 4)
        seen.update(batch)
        calls += 1
        if added < 60000:
            p = r.pipeline(transaction=False)
            for i in range(added, added + 1000):
                p.set("new:%d" % i, "v")
            p.execute()
            added += 1000
        if cursor == 0:
            break
    assert r.dbsize() == 2000 + added
    assert added >= 30000  # the table grew (2048 -> 32768+ buckets) mid-scan
    assert stable - seen == set()


def test_scan_guarantee_while_table_shrinks(r):
    r.execute_command("DEBUG", "POPULATE", "500", "stable")
    r.execute_command("DEBUG", "POPULATE", "30000", "temp")
    stable = {b"stable:%d" % i for i in range(500)}
    seen = set()
    cursor, deleted = 0, 0
    while True:
        cursor, batch = r.scan(cursor, count=10)
        seen.update(batch)
        if deleted < 30000:
            r.delete(*["temp:%d" % i for i in range(deleted, deleted + 3000)])
            deleted += 3000
            time.sleep(0.02)  # let cron shrink and rehash the table
        if cursor == 0:
            break
    assert stable - seen == set()
    assert r.dbsize() == 500


def test_key_and_value_lengths_at_the_entry_format_edges(r):
    """Keys of 254/255/256 bytes straddle the one-byte key length, values of
    44/45 bytes the inline string; with and without a TTL, through RENAME,
    APPEND, EXPIRE/PERSIST and DEBUG RELOAD."""
    cases = {}
    for klen in (0, 1, 254, 255, 256, 70000):
        for vlen in (0, 44, 45):
            key = ("k%d-%d-" % (klen, vlen)).ljust(klen, "x") if klen else ""
            cases[key] = "v" * vlen
    for i, (k, v) in enumerate(cases.items()):
        r.set(k, v, ex=1000 if i % 2 else None)
    for i, (k, v) in enumerate(cases.items()):
        assert r.get(k) == v.encode()
        assert (r.ttl(k) > 0) == bool(i % 2)
    r.execute_command("DEBUG", "RELOAD")
    for i, (k, v) in enumerate(cases.items()):
        assert r.get(k) == v.encode(), len(k)
        assert (r.ttl(k) > 0) == bool(i % 2)
        r.persist(k) if i % 2 else r.expire(k, 1000)
        assert (r.ttl(k) > 0) != bool(i % 2)
        r.append(k, "z")
        assert r.get(k) == (v + "z").encode()
    for k in list(cases)[:6]:
        r.rename(k, k + "-renamed")
        assert r.exists(k) == 0 and r.strlen(k + "-renamed") == len(cases[k]) + 1
    assert r.dbsize() == len(cases)


# ---- OBJECT ----

def test_object_encoding_refcount(r):
    r.set("i", "12345")
    r.set("e", "short")
    r.set("w", "x" * 100)
    assert r.object("encoding", "i") == b"int"
    assert r.object("encoding", "e") == b"embstr"
    assert r.object("encoding", "w") == b"raw"
    assert r.object("refcount", "e") == 1
    assert r.object("encoding", "missing") is None
    assert r.object("refcount", "missing") is None
    assert r.execute_command("OBJECT", "ENCODING", "missing", infotype="encoding") is None
    assert r.execute_command("object", "Encoding", "i", infotype="encoding") == b"int"


def test_object_idletime_and_freq_policies(r):
    r.set("k", "v")
    assert r.object("idletime", "k") >= 0
    assert r.object("idletime", "missing") is None
    assert err(r, "OBJECT", "FREQ", "k") == (
        "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when "
        "switching between policies at runtime LRU and LFU data will take some time to adjust."
    )
    r.config_set("maxmemory-policy", "allkeys-lfu")
    try:
        assert err(r, "OBJECT", "IDLETIME", "k") == (
            "An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
            "switching between policies at runtime LRU and LFU data will take some time to adjust."
        )
        r.set("f", "v")
        assert r.object("freq", "f") >= 0
        for _ in range(200):
            r.get("f")
        assert r.object("freq", "f") > 5  # accesses raise the logarithmic counter
        assert r.object("freq", "missing") is None
        assert r.object("idletime", "missing") is None
    finally:
        r.config_set("maxmemory-policy", "noeviction")


def test_object_does_not_touch(r):
    r.set("k", "v")
    deadline = time.time() + 5
    while r.object("idletime", "k") < 2 and time.time() < deadline:
        time.sleep(0.2)
    # OBJECT, TYPE, EXISTS and TTL read without resetting the idle time
    r.type("k")
    r.exists("k")
    r.ttl("k")
    assert r.object("idletime", "k") >= 2
    r.get("k")
    assert r.object("idletime", "k") <= 1


def test_object_help_and_errors(r):
    help = r.execute_command("OBJECT", "HELP", infotype="help")
    assert help[0] == b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"ENCODING <key>" in help and b"FREQ <key>" in help and b"HELP" in help
    assert r.execute_command("object", "help", infotype="help") == help
    assert err(r, "OBJECT", "FOO") == "unknown subcommand 'FOO'. Try OBJECT HELP."
    assert err(r, "OBJECT", "foo", "k") == "unknown subcommand 'foo'. Try OBJECT HELP."
    assert err(r, "OBJECT", "ENCODING") == "wrong number of arguments for 'object|encoding' command"
    assert err(r, "OBJECT", "encoding", "a", "b") == "wrong number of arguments for 'object|encoding' command"
    assert err(r, "OBJECT", "REFCOUNT") == "wrong number of arguments for 'object|refcount' command"
    assert err(r, "OBJECT", "IDLETIME") == "wrong number of arguments for 'object|idletime' command"
    assert err(r, "OBJECT", "FREQ") == "wrong number of arguments for 'object|freq' command"
    assert err(r, "OBJECT", "HELP", "x") == "wrong number of arguments for 'object|help' command"


# ---- propagation ----

def test_propagation_of_keyspace_writes(r, plog):
    r.set("a", "1")
    r.rename("a", "b")
    r.renamenx("b", "c")
    r.copy("c", "d")
    r.copy("c", "d")  # not performed
    r.move("d", 2)
    r.swapdb(1, 2)
    r.touch("c")
    r.keys()
    r.scan(0)
    log = plog()
    assert log == [
        ["0", "SET", "a", "1"],
        ["0", "RENAME", "a", "b"],
        ["0", "RENAMENX", "b", "c"],
        ["0", "COPY", "c", "d"],
        ["0", "MOVE", "d", "2"],
        ["0", "SWAPDB", "1", "2"],
    ]


def test_move_and_copy_invalidate_watch_in_target_db(server, r):
    for cmd in (("MOVE", "k", "1"), ("COPY", "k", "k", "DB", "1")):
        r.flushall()
        r.set("k", "v")
        w = server.client(db=1)
        p = w.pipeline(transaction=True)
        p.watch("k")
        assert r.execute_command(*cmd) == 1
        p.multi()
        p.set("x", "1")
        with pytest.raises(redis.WatchError):
            p.execute()
        p.reset()
        w.close()


# ---- collections (hash, set) ----

def test_collections_type_copy_rename_move(server, r):
    r.hset("h", mapping={"a": "1", "b": "2"})
    r.sadd("s", "x", "y")
    assert r.type("h") == b"hash" and r.type("s") == b"set"
    # COPY is deep: changing the copy leaves the original alone
    assert r.copy("h", "h2") is True
    r.hset("h2", "c", "3")
    assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert r.hlen("h2") == 3
    assert r.copy("s", "s2") is True
    r.srem("s2", "x")
    assert r.smembers("s") == {b"x", b"y"} and r.smembers("s2") == {b"y"}
    # RENAME and MOVE carry the value and its TTL
    r.expire("h", 1000)
    r.rename("h", "hr")
    assert r.hgetall("hr") == {b"a": b"1", b"b": b"2"} and 0 < r.ttl("hr") <= 1000
    assert r.move("s", 3) is True
    other = server.client(db=3)
    assert other.smembers("s") == {b"x", b"y"}
    other.close()
    # COPY REPLACE over a value of another type
    r.set("str", "v")
    assert r.copy("hr", "str", replace=True) is True
    assert r.type("str") == b"hash"
    assert r.object("encoding", "str") == r.object("encoding", "hr")


def test_scan_type_filter_with_collections(r):
    r.mset({"s1": "1", "s2": "2"})
    r.hset("h1", "f", "v")
    r.sadd("set1", "m")
    assert sorted(full_scan(r, _type="hash")[0]) == [b"h1"]
    assert sorted(full_scan(r, _type="set")[0]) == [b"set1"]
    assert sorted(full_scan(r, _type="string")[0]) == [b"s1", b"s2"]
    assert sorted(full_scan(r, _type="string", match="*1")[0]) == [b"s1"]


def test_object_encoding_collections(r):
    r.hset("h", "a", "1")
    assert r.object("encoding", "h") == b"listpack"
    r.sadd("i", "1", "2")
    assert r.object("encoding", "i") == b"intset"
    r.hset("big", mapping={"f%d" % i: "v" for i in range(1000)})
    assert r.object("encoding", "big") == b"hashtable"


# ---- keyspace events ----

def test_keyspace_events(r, events):
    r.set("a", "1")
    events()
    r.rename("a", "b")
    assert events() == [
        ("__keyspace@0__:a", "rename_from"), ("__keyevent@0__:rename_from", "a"),
        ("__keyspace@0__:b", "rename_to"), ("__keyevent@0__:rename_to", "b"),
    ]
    r.copy("b", "c", destination_db=2)
    assert events() == [("__keyspace@2__:c", "copy_to"), ("__keyevent@2__:copy_to", "c")]
    r.move("b", 5)
    assert events() == [
        ("__keyspace@0__:b", "move_from"), ("__keyevent@0__:move_from", "b"),
        ("__keyspace@5__:b", "move_to"), ("__keyevent@5__:move_to", "b"),
    ]
    r.set("d", "1")
    r.delete("d")
    assert events()[-2:] == [("__keyspace@0__:d", "del"), ("__keyevent@0__:del", "d")]
    # reads and failed writes publish nothing
    r.set("e", "1")
    events()
    r.renamenx("e", "e")
    r.touch("e")
    r.keys()
    r.scan(0)
    r.object("encoding", "e")
    assert events() == []


def test_swapdb_wakes_blocked_client(server, r):
    import threading

    other = server.client(db=1)
    other.rpush("l", "from-db1")
    got = []
    blocker = server.client()
    t = threading.Thread(target=lambda: got.append(blocker.blpop("l", timeout=5)))
    t.start()
    deadline = time.time() + 5
    while r.info("clients")["blocked_clients"] == 0 and time.time() < deadline:
        time.sleep(0.01)
    r.swapdb(0, 1)
    t.join(6)
    assert got == [(b"l", b"from-db1")]
    other.close()
    blocker.close()


def test_copy_list_is_deep(r):
    r.rpush("l", "a", "b")
    r.copy("l", "l2")
    r.rpush("l2", "c")
    assert r.lrange("l", 0, -1) == [b"a", b"b"]
    assert r.lrange("l2", 0, -1) == [b"a", b"b", b"c"]


def test_collection_scans_take_the_largest_count(r):
    # COUNT near LLONG_MAX once overflowed the per-call work budget (UBSan)
    r.hset("h", mapping={"f%d" % i: i for i in range(300)})
    r.sadd("s", *["m%d" % i for i in range(300)])
    r.zadd("z", {"m%d" % i: i for i in range(300)})
    big = str(2**63 - 1)
    for cmd, key, n in (("HSCAN", "h", 300), ("SSCAN", "s", 300), ("ZSCAN", "z", 300)):
        cursor, items = r.execute_command(cmd, key, "0", "COUNT", big)
        assert (cursor, len(items)) == (0, n)
    assert r.execute_command("SCAN", "0", "COUNT", big)[0] == 0


def test_dbsize_after_moving_the_only_live_key(keel):
    """DBSIZE counts an expired key until it is reclaimed, as Redis does:
    after MOVE of the only live key its database still counts the expired
    one, until a lookup (or active expiry) reclaims it."""
    s = keel("--enable-debug-command", "yes")
    c1 = s.client(db=1)
    c1.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    c1.set("live", "1")
    c1.set("dying", "1", px=1)
    time.sleep(0.05)
    assert c1.move("live", 2) is True
    assert c1.dbsize() == 1
    assert c1.get("dying") is None
    assert c1.dbsize() == 0
    assert s.client(db=2).dbsize() == 1
