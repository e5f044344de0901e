"""RDB persistence, version 10 (what Redis 7.0 writes): SAVE and loading
dir/dbfilename at start-up for every type and encoding (strings with the int
and LZF paths, lists, intset/listpack/hashtable sets, listpack/skiplist
sorted sets, listpack/hashtable hashes, streams with consumer groups and
pending entries, TTLs, several databases, FUNCTION libraries), DEBUG RELOAD,
LASTSAVE, INFO persistence, CONFIG dir/dbfilename/rdbcompression/rdbchecksum,
SHUTDOWN [SAVE|NOSAVE], files exchanged with Debian's redis-server 7.0.15 in
both directions (Keel's file must also pass redis-check-rdb and Redis's deep
sanitization), and bad files (truncated, flipped byte, wrong magic, future
version, absurd lengths) that must make the server refuse to start cleanly.

Every test passes against redis-server 7.0.15 (KEEL_SERVER=/usr/bin/redis-server)
except the two marked keel_only (DEBUG DIGEST-VALUE per key across a restart
and across DEBUG RELOAD); the bad-file tests look for "RDB" or the file name
in the log only on Keel. Interop tests always use /usr/bin/redis-server as
the other side (against itself when KEEL_SERVER is redis-server).

Every server here is started by `spawn` with its own --dir, `--save ""`,
`--appendonly no` and `--enable-debug-command local` (Redis 7.0 refuses
DEBUG by default) and `--enable-protected-configs local` (both refuse
CONFIG SET dir/dbfilename without it). Nothing relies on the
save-on-SIGTERM Redis does when save rules are set. The helpers shared with
test_aof.py live in persist_util.py."""
import os
import random
import struct
import subprocess
import time

import pytest
import redis
from conftest import SERVER
from persist_util import (IS_REDIS, REDIS, Node, TempDirs, add_big_stream, add_drained_and_empty_streams,
                          assert_refused, assert_same, functions, read_file, removal_fixture, restart_after_expiry,
                          server_argv, snapshot, spawn_fixture, start_expect_failure)

CHECK_RDB = "/usr/bin/redis-check-rdb"
keel_only = pytest.mark.skipif(IS_REDIS, reason="Keel-only: DEBUG DIGEST-VALUE, Keel's log text")

LLONG_MAX = 2**63 - 1
LLONG_MIN = -2**63
GIB = 1 << 30
DBS = range(4)


# ---------------------------------------------------------------- servers

mkdir = TempDirs("keel-rdb-")
_remove_tmpdirs = removal_fixture(mkdir)


def base_args(binary):
    return ["--appendonly", "no", "--enable-debug-command", "local", "--enable-protected-configs", "local"]


spawn = spawn_fixture(mkdir, base_args)


def dir_with(data, name="dump.rdb"):
    """A fresh directory holding `data` as its dump file."""
    d = mkdir()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    return d


def save(node):
    assert node.raw().execute_command("SAVE") == b"OK"
    return read_file(node.rdb)


def memory_cap(binary):
    """The command prefix capping a server's address space at 1 GiB (none
    for sanitizer builds, whose shadow memory needs terabytes of it)."""
    return [] if binary.endswith("-san") else ["prlimit", "--as=%d" % GIB, "--"]


def capped_argv(binary, port, dir, args):
    return memory_cap(binary) + server_argv(binary, port, dir, base_args(binary) + list(args))


def assert_refuses(dir, *args, name="dump.rdb"):
    """SERVER refuses to start on the file in `dir` (start_expect_failure
    and assert_refused), and on Keel its log says "RDB" or the file's name.
    The address space is capped at 1 GiB (not for sanitizer builds, whose
    shadow memory needs terabytes of it), so an allocation sized from a
    bogus length field fails instead of succeeding lazily."""
    rc, log = start_expect_failure(SERVER, dir, *args, argv=capped_argv)
    assert_refused(rc, log)
    if not IS_REDIS:
        assert "RDB" in log or name in log, log[-3000:]


# ---------------------------------------------------------------- CRC-64 (Jones, reflected, as Redis)

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x95AC9329AC4BC9B5 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc64(data):
    crc = 0
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def test_crc64_helper():
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA


# ---------------------------------------------------------------- the dataset

LIB = ("#!lua name=rdblib\n"
       "redis.register_function('rdb_echo', function(keys, args) return args[1] end)\n"
       "redis.register_function{function_name='rdb_get', description='reads a key',\n"
       "  callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={'no-writes'}}\n")
LIB2 = "#!lua name=otherlib\nredis.register_function('rdb_one', function() return 1 end)"

INT_STRINGS = ["0", "1", "-1", "12", "127", "-128", "255", "9999", "10000", "32767", "-32768",
               "2147483647", "-2147483648", "2147483648", "4294967296", "-12345678901234",
               str(LLONG_MAX), str(LLONG_MIN)]
# Look numeric but are not canonical integers: must come back byte for byte.
NOT_INT_STRINGS = ["007", "+5", "-0", "1.5", " 1", "1 ", "9223372036854775808",
                   "-9223372036854775809", "1e3", "0x10", "00"]
# Every listpack integer width (7, 13, 16, 24, 32, 64 bit) and near misses.
LP_VALUES = ["0", "127", "128", "-1", "-4096", "4095", "4096", "-32768", "32767", "8388607",
             "-8388608", "8388608", "2147483647", "-2147483648", "2147483648",
             str(LLONG_MAX), str(LLONG_MIN), "007", "-0", ""]
SPECIAL_SCORES = [float("inf"), float("-inf"), -3.5, 0.1, 1e-300, -1e-300, 0.0, 1.0, 2.0**53,
                  1.7976931348623157e308, -2.5e-10, 3.0, 5e-324]

# The encoding each key must have on the writing server; Redis 7.0 lists are
# always quicklists and its small string sets hashtables (Keel, like 7.2,
# has listpack for both).
EXPECTED_ENCODINGS = {
    b"s:short": {"embstr"}, b"s:44": {"embstr"}, b"s:45": {"raw"}, b"s:100k": {"raw"},
    b"s:lzf": {"raw"}, b"s:int:127": {"int"}, b"s:int:" + str(LLONG_MIN).encode(): {"int"},
    b"s:nint:007": {"embstr"},
    b"l:small": {"listpack", "quicklist"}, b"l:big": {"quicklist"},
    b"set:int16": {"intset"}, b"set:int32": {"intset"}, b"set:int64": {"intset"},
    b"set:small": {"listpack", "hashtable"}, b"set:big": {"hashtable"},
    b"set:bigint": {"hashtable"}, b"set:longmember": {"hashtable"},
    b"z:small": {"listpack"}, b"z:big": {"skiplist"}, b"z:longmember": {"skiplist"},
    b"h:small": {"listpack"}, b"h:big": {"hashtable"}, b"h:longval": {"hashtable"},
    b"x:s": {"stream"}, b"x:big": {"stream"},
}


def populate_streams(c):
    x = c.execute_command
    # x:s — entries with the master entry's fields and with other fields, a
    # deletion, three groups (one created with ENTRIESREAD), consumers with and
    # without pending entries, redelivered and claimed entries (delivery
    # counts 1..3), a NOACK reader.
    for i in range(1, 11):
        if i % 3 == 0:
            x("XADD", "x:s", "%d-%d" % (1000 + i, i), "other", "field-%d" % i, "n", i * 1000)
        else:
            x("XADD", "x:s", "%d-%d" % (1000 + i, i), "f", "v%d" % i, "n", i, "bin", b"\x00\xff" * i)
    x("XDEL", "x:s", "1005-5")
    x("XGROUP", "CREATE", "x:s", "g1", "0")
    x("XGROUP", "CREATE", "x:s", "g2", "$")
    x("XGROUP", "CREATE", "x:s", "g3", "1003-3", "ENTRIESREAD", "3")
    x("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "x:s", ">")
    x("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "x:s", ">")
    x("XREADGROUP", "GROUP", "g1", "alice", "STREAMS", "x:s", "0")  # redelivery: count 2
    x("XACK", "x:s", "g1", "1002-2")
    x("XCLAIM", "x:s", "g1", "bob", "0", "1001-1")  # count 3, now bob's
    x("XGROUP", "CREATECONSUMER", "x:s", "g1", "carol")
    x("XREADGROUP", "GROUP", "g3", "dave", "NOACK", "COUNT", "2", "STREAMS", "x:s", ">")
    x("XADD", "x:s", "2000-0", "f", "late")
    x("XREADGROUP", "GROUP", "g2", "erin", "STREAMS", "x:s", ">")
    add_drained_and_empty_streams(c)
    # x:big — several listpack nodes and master entries, trimmed at the
    # front, a group part-way through, XSETID's counters.
    add_big_stream(c)
    x("XTRIM", "x:big", "MAXLEN", "650")
    x("XGROUP", "CREATE", "x:big", "gb", "0")
    x("XREADGROUP", "GROUP", "gb", "w1", "COUNT", "300", "STREAMS", "x:big", ">")
    x("XREADGROUP", "GROUP", "gb", "w2", "COUNT", "20", "STREAMS", "x:big", ">")
    ids = [e[0] for e in x("XRANGE", "x:big", "-", "+", "COUNT", "100")]
    x("XACK", "x:big", "gb", *ids)
    x("XSETID", "x:big", "%d-0" % (10**12 + 5000), "ENTRIESADDED", "9000",
      "MAXDELETEDID", "%d-0" % (10**12 + 4000))


def populate(node):
    """Every type and encoding in db 0, more keys (some with db 0's names) in
    dbs 1..3, TTLs, two function libraries."""
    rng = random.Random(20240610)
    c = node.raw(0)
    now_ms = int(time.time() * 1000)
    p = c.pipeline(transaction=False)
    # strings
    p.set(b"s:short", b"hello")
    p.set(b"s:empty", b"")
    p.set(b"s:44", b"e" * 44)
    p.set(b"s:45", b"r" * 45)
    p.set(b"s:100k", rng.randbytes(100_000))
    p.set(b"s:lzf", b"a" * 10_000)
    p.set(b"s:lzf2", b"abc" * 4000 + b"tail")
    p.set(b"s:bin", b"\x00\xff\x00\r\n\xfe binary \xff\x00")
    p.set(b"k\x00\xff:binkey", b"binary key name")
    for v in INT_STRINGS:
        p.set(b"s:int:" + v.encode(), v)
    for v in NOT_INT_STRINGS:
        p.set(b"s:nint:" + v.encode(), v)
    # lists
    p.rpush(b"l:small", *LP_VALUES, b"x" * 63, b"y" * 64, b"z" * 65, b"w" * 5000, b"\x00\xff")
    big = []
    for i in range(3000):
        kind = i % 4
        if kind == 0:
            big.append(str(rng.randint(-10**12, 10**12)).encode())
        elif kind == 1:
            big.append(b"x" * rng.randint(0, 40))
        elif kind == 2:
            big.append(rng.randbytes(rng.randint(1, 300)))
        else:
            big.append(b"element-%d" % i)
        if i % 700 == 0:
            big.append(b"L" * 20000)  # bigger than a node
    for i in range(0, len(big), 500):
        p.rpush(b"l:big", *big[i:i + 500])
    # sets
    p.sadd(b"set:int16", 1, 2, 3, -5, 100)
    p.sadd(b"set:int32", 2**31 - 1, -2**31, 7)
    p.sadd(b"set:int64", LLONG_MIN, LLONG_MAX, 0, -1, 2**40)
    p.sadd(b"set:small", b"a", b"b", b"", b"\x00\xff", b"123x", b"42")
    p.sadd(b"set:big", *[b"member-%d" % i for i in range(1000)])
    p.sadd(b"set:bigint", *range(-300, 300))
    p.sadd(b"set:longmember", b"q" * 100, b"b")
    # sorted sets
    small = {b"m%d" % i: s for i, s in enumerate(SPECIAL_SCORES)}
    small.update({b"123": 7.0, b"": -7.0, b"\x00bin": 7.0, b"tie-a": 1.0, b"tie-b": 1.0})
    p.zadd(b"z:small", small)
    bigz = {b"zm-%d" % i: rng.uniform(-1e6, 1e6) for i in range(300)}
    bigz.update({b"zs-%d" % i: s for i, s in enumerate(SPECIAL_SCORES)})
    bigz.update({b"tie-%d" % i: 42.0 for i in range(10)})
    p.zadd(b"z:big", bigz)
    p.zadd(b"z:longmember", {b"m" * 100: 1.5, b"a": 2.0})
    # hashes
    h = {b"f%d" % i: v.encode() for i, v in enumerate(LP_VALUES)}
    h.update({b"": b"empty field", b"\x00bin": b"\xff\x00", b"v60": b"x" * 60, b"123": b"int field"})
    p.hset(b"h:small", mapping=h)
    bigh = {b"field-%d" % i: (str(i * 7919) if i % 2 else "value-%d-%s" % (i, "c" * (i % 90))).encode()
            for i in range(400)}
    p.hset(b"h:big", mapping=bigh)
    p.hset(b"h:longval", mapping={b"a": b"v" * 200, b"b": b"1"})
    # TTLs (relative and absolute, on several types)
    p.set(b"ttl:str", b"expiring", px=200_000)
    p.hset(b"ttl:hash", mapping={b"a": b"1"})
    p.expire(b"ttl:hash", 3600)
    p.sadd(b"ttl:set", *[b"e%d" % i for i in range(600)])
    p.pexpireat(b"ttl:set", now_ms + 86_400_000)
    p.execute()
    populate_streams(c)
    c.execute_command("FUNCTION", "LOAD", LIB)
    c.execute_command("FUNCTION", "LOAD", LIB2)
    c.close()
    # other databases
    c1 = node.raw(1)
    c1.set(b"s:short", b"db1's value")
    c1.rpush(b"l:db1", *[str(i) for i in range(200)])
    c1.set(b"ttl:db1", b"x", ex=7200)
    c1.close()
    c2 = node.raw(2)
    c2.hset(b"h:small", mapping={b"db": b"2"})
    c2.sadd(b"set:db2", b"x", b"y")
    c2.close()
    c3 = node.raw(3)
    c3.zadd(b"z:db3", {b"a": 1, b"b": float("inf")})
    c3.pexpire(b"z:db3", 500_000)
    c3.execute_command("XADD", "x:db3", "1-1", "k", "v")
    c3.close()


# ---------------------------------------------------------------- reading it back

def encoding(c, key):
    """OBJECT ENCODING, or DEBUG OBJECT's encoding where OBJECT is absent."""
    try:
        return c.object("encoding", key).decode()
    except redis.ResponseError:
        line = c.execute_command("DEBUG", "OBJECT", key)
        line = line.decode() if isinstance(line, bytes) else str(line)
        return line.split("encoding:")[1].split()[0]


def encodings(node, dbs=DBS):
    out = {}
    for db in dbs:
        c = node.raw(db)
        for k in c.scan_iter(count=1000):
            out[(db, k)] = encoding(c, k)
        c.close()
    return out


def check_encodings(enc):
    wrong = {k: (enc[(0, k)], want) for k, want in EXPECTED_ENCODINGS.items() if enc[(0, k)] not in want}
    assert not wrong, wrong


def digests(node, dbs=DBS):
    out = {}
    for db in dbs:
        c = node.raw(db)
        for k in c.scan_iter(count=1000):
            out[(db, k)] = c.execute_command("DEBUG", "DIGEST-VALUE", k)
        c.close()
    return out


@pytest.fixture(scope="module")
def reference():
    """The dataset written by Redis 7.0 itself: its snapshot, encodings and
    dump.rdb bytes."""
    n = Node(REDIS, mkdir(), base_args=base_args)
    try:
        populate(n)
        ref = {"snapshot": snapshot(n, DBS), "encodings": encodings(n), "rdb": save(n)}
    finally:
        n.stop()
    return ref


# ---------------------------------------------------------------- SAVE + restart

@pytest.mark.parametrize("compression", ["yes", "no"])
def test_save_restart_round_trip(spawn, compression):
    a = spawn(SERVER, None, "--rdbcompression", compression)
    populate(a)
    enc = encodings(a)
    check_encodings(enc)
    before = snapshot(a, DBS)
    data = save(a)
    assert data.startswith(b"REDIS0010")
    assert data[-9] == 0xFF  # EOF opcode, then the CRC-64 of everything before it
    assert struct.unpack("<Q", data[-8:])[0] == crc64(data[:-8])
    if compression == "yes":
        assert b"a" * 10_000 not in data and b"abc" * 4000 not in data  # LZF
    else:
        assert b"a" * 10_000 in data and b"abc" * 4000 in data
    b = spawn.restart(a)
    assert_same(before, snapshot(b, DBS))
    assert encodings(b) == enc
    c = b.client()
    assert c.execute_command("FCALL", "rdb_echo", 0, "hi") == b"hi"
    assert c.execute_command("FCALL_RO", "rdb_get", 1, "s:short") == b"hello"
    assert c.info("persistence")["rdb_changes_since_last_save"] == 0


@keel_only
def test_save_restart_keeps_digests(spawn):
    a = spawn()
    populate(a)
    before = digests(a)
    save(a)
    b = spawn.restart(a)
    assert digests(b) == before


def test_ttl_expired_while_down_is_not_resurrected(spawn):
    def save_and_stop(node):
        save(node)
        node.stop()

    c = restart_after_expiry(spawn, spawn(), save_and_stop)
    assert 55_000 < c.pttl("later") <= 60_000
    # A master skips an already expired key while loading: it is not even counted.
    assert c.dbsize() == 2


def test_empty_dataset_round_trip(spawn):
    a = spawn()
    data = save(a)
    assert data.startswith(b"REDIS0010")
    b = spawn.restart(a)
    for db in range(16):
        assert b.client(db).dbsize() == 0
    c = b.client()
    assert c.execute_command("FUNCTION", "LIST") == []
    c.set("k", "v")
    assert c.get("k") == b"v"


def test_flushall_then_save_leaves_nothing(spawn):
    a = spawn()
    populate(a)
    save(a)
    c = a.client()
    c.flushall()
    c.execute_command("FUNCTION", "FLUSH")
    save(a)
    b = spawn.restart(a)
    for db in DBS:
        assert b.client(db).dbsize() == 0
    assert b.client().execute_command("FUNCTION", "LIST") == []


def test_flushall_with_save_points_saves_at_once(spawn):
    """With save points set, FLUSHALL saves the emptied dataset then and
    there (as Redis 7.0 does): a kill -9 right after it cannot bring the
    flushed keys back from the last snapshot, and the change count is 0.
    A background save of the old data running meanwhile is stopped first."""
    a = spawn(save="3600 1")
    c = a.client()
    c.set("old", "v")
    save(a)
    for i in range(2000):
        c.set("k%d" % i, "x" * 100)
    c.execute_command("DEBUG", "SLEEP", "0")
    saves = c.info("persistence")["rdb_saves"]
    c.config_set("rdb-key-save-delay", 1000)  # 2 s of saving: still running at FLUSHALL on a loaded machine
    c.bgsave()
    assert c.info("persistence")["rdb_bgsave_in_progress"] == 1
    assert c.flushall() is True
    c.config_set("rdb-key-save-delay", 0)
    info = c.info("persistence")
    assert info["rdb_changes_since_last_save"] == 0
    assert info["rdb_saves"] == saves + 1
    assert info["rdb_last_bgsave_status"] == "ok"
    assert info["rdb_bgsave_in_progress"] == 0
    a.kill9()
    b = spawn.restart(a)
    assert b.client().dbsize() == 0
    # Without save points nothing is written: the snapshot keeps what it had.
    b.client().config_set("save", "")
    b.client().set("k", "v")
    assert b.raw().execute_command("SAVE") == b"OK"
    assert b.client().flushall() is True
    assert b.client().info("persistence")["rdb_changes_since_last_save"] == 1  # the key removed
    b.kill9()
    assert spawn.restart(b).client().get("k") == b"v"


def test_function_library_round_trip(spawn):
    a = spawn()
    c = a.raw()
    assert c.execute_command("FUNCTION", "LOAD", LIB) == b"rdblib"
    c.set("k", "from-key")
    before = functions(c)
    save(a)
    b = spawn.restart(a)
    c = b.raw()
    after = functions(c)
    assert after == before
    assert list(after) == [b"rdblib"]
    assert after[b"rdblib"][0] == b"LUA"
    assert after[b"rdblib"][1] == {b"rdb_echo": (None, []), b"rdb_get": (b"reads a key", [b"no-writes"])}
    assert after[b"rdblib"][2] == LIB.encode()
    assert c.execute_command("FCALL", "rdb_echo", 0, "again") == b"again"
    assert c.execute_command("FCALL", "rdb_get", 1, "k") == b"from-key"
    # Loaded, not just listed: loading the same library again is refused without REPLACE.
    with pytest.raises(redis.ResponseError):
        c.execute_command("FUNCTION", "LOAD", LIB)


def test_several_databases_keep_their_own_keys(spawn):
    a = spawn()
    for db in DBS:
        c = a.client(db)
        c.set("same", "db%d" % db)
        c.rpush("only%d" % db, db)
    save(a)
    b = spawn.restart(a)
    for db in DBS:
        c = b.client(db)
        assert c.get("same") == b"db%d" % db
        assert sorted(c.keys()) == sorted([b"same", b"only%d" % db])
        assert c.lrange("only%d" % db, 0, -1) == [b"%d" % db]
    assert b.client(4).dbsize() == 0


# ---------------------------------------------------------------- DEBUG RELOAD, LASTSAVE, INFO, CONFIG

def test_debug_reload_keeps_everything(spawn):
    a = spawn()
    populate(a)
    enc = encodings(a)
    before = snapshot(a, DBS)
    assert a.client().execute_command("DEBUG", "RELOAD") == b"OK"
    assert_same(before, snapshot(a, DBS))
    assert encodings(a) == enc
    assert os.path.exists(a.rdb)  # RELOAD saves, then loads that file
    assert a.client().execute_command("FCALL", "rdb_echo", 0, "x") == b"x"


@keel_only
def test_debug_reload_keeps_digests(spawn):
    a = spawn()
    populate(a)
    before = digests(a)
    assert a.client().execute_command("DEBUG", "RELOAD") == b"OK"
    assert digests(a) == before


def test_lastsave_and_info_persistence(spawn):
    a = spawn()
    c = a.raw()
    info = c.info("persistence")
    for field in ("rdb_changes_since_last_save", "rdb_last_save_time", "rdb_last_bgsave_status"):
        assert field in info
    assert info["rdb_changes_since_last_save"] == 0
    assert info["rdb_last_bgsave_status"] == "ok"
    first = c.lastsave()
    assert info["rdb_last_save_time"] == int(first.timestamp())
    assert abs(first.timestamp() - time.time()) < 10  # start-up time when nothing was saved yet
    c.set("a", 1)
    c.set("b", 2)
    c.set("c", 3)
    assert c.info("persistence")["rdb_changes_since_last_save"] == 3
    # LASTSAVE has one-second resolution: let the clock tick past it.
    time.sleep(int(time.time()) + 1.05 - time.time())
    assert c.execute_command("SAVE") == b"OK"
    info = c.info("persistence")
    assert info["rdb_changes_since_last_save"] == 0
    assert info["rdb_last_bgsave_status"] == "ok"
    second = c.lastsave()
    assert second > first
    assert info["rdb_last_save_time"] == int(second.timestamp())
    c.set("d", 4)
    assert c.info("persistence")["rdb_changes_since_last_save"] == 1


def test_config_dir_and_dbfilename(spawn):
    a = spawn()
    c = a.client(decode_responses=True)
    assert c.config_get("dbfilename") == {"dbfilename": "dump.rdb"}
    assert os.path.realpath(c.config_get("dir")["dir"]) == os.path.realpath(a.dir)
    assert c.config_get("rdbcompression") == {"rdbcompression": "yes"}
    assert c.config_get("rdbchecksum") == {"rdbchecksum": "yes"}
    new = mkdir()
    assert c.config_set("dir", new)
    assert c.config_set("dbfilename", "other.rdb")
    assert os.path.realpath(c.config_get("dir")["dir"]) == os.path.realpath(new)
    assert c.config_get("dbfilename") == {"dbfilename": "other.rdb"}
    c.set("k", "v")
    assert a.raw().execute_command("SAVE") == b"OK"
    assert os.path.exists(os.path.join(new, "other.rdb"))
    assert not os.path.exists(os.path.join(new, "dump.rdb"))
    assert not os.path.exists(a.rdb)
    b = spawn(SERVER, new, "--dbfilename", "other.rdb")
    assert b.client().get("k") == b"v"
    # A missing directory and a path as dbfilename are refused and change nothing.
    with pytest.raises(redis.ResponseError):
        c.config_set("dir", os.path.join(new, "no", "such", "dir"))
    with pytest.raises(redis.ResponseError):
        c.config_set("dbfilename", "sub/dump.rdb")
    assert os.path.realpath(c.config_get("dir")["dir"]) == os.path.realpath(new)
    assert c.config_get("dbfilename") == {"dbfilename": "other.rdb"}


def test_rdbcompression_config_set(spawn):
    a = spawn()
    c = a.client()
    c.set("lzf", b"a" * 10_000)
    compressed = save(a)
    assert b"a" * 10_000 not in compressed
    assert c.config_set("rdbcompression", "no")
    assert c.config_get("rdbcompression") == {"rdbcompression": "no"}
    plain = save(a)
    assert b"a" * 10_000 in plain
    assert len(plain) > len(compressed) + 9000
    b = spawn.restart(a)
    assert b.client().get("lzf") == b"a" * 10_000


def test_rdbchecksum_no_writes_zero_checksum(spawn):
    # rdbchecksum is immutable at run time in Redis 7.0: only a start-up option.
    a = spawn(SERVER, None, "--rdbchecksum", "no")
    c = a.client()
    assert c.config_get("rdbchecksum") == {"rdbchecksum": "no"}
    c.set("k", "v")
    data = save(a)
    assert data[-9] == 0xFF and data[-8:] == b"\0" * 8
    # A zero checksum means "not computed": a server that checks loads it.
    a.stop()
    b = spawn(SERVER, a.dir)
    assert b.client().get("k") == b"v"


def test_rdbchecksum_no_skips_verification(spawn):
    a = spawn()
    payload = random.Random(5).randbytes(2000)
    a.client().set("k", payload)
    data = bytearray(save(a))
    at = data.find(payload)
    assert at > 0
    data[at + 1000] ^= 0xFF
    b = spawn(SERVER, dir_with(bytes(data)), "--rdbchecksum", "no")
    got = b.client().get("k")
    assert got != payload and len(got) == len(payload)


# ---------------------------------------------------------------- SHUTDOWN

def test_shutdown_nosave_does_not_write(spawn):
    a = spawn(SERVER, None, save="3600 1")
    a.client().set("k", "v")
    a.shutdown("NOSAVE")
    assert not os.path.exists(a.rdb)


def test_shutdown_save_writes_without_save_rules(spawn):
    a = spawn()
    a.client().set("k", "v")
    a.shutdown("SAVE")
    assert read_file(a.rdb).startswith(b"REDIS0010")
    b = spawn.restart(a)
    assert b.client().get("k") == b"v"


def test_plain_shutdown_saves_only_with_save_rules(spawn):
    a = spawn(SERVER, None, save="3600 1")
    a.client().set("k", "v")
    a.shutdown()
    assert os.path.exists(a.rdb)
    b = spawn.restart(a)
    assert b.client().get("k") == b"v"
    c = spawn()
    c.client().set("k", "v")
    c.shutdown()
    assert not os.path.exists(c.rdb)


# ---------------------------------------------------------------- interop with Redis 7.0

def test_reference_covers_every_encoding(reference):
    """The file Redis wrote really holds intset, hashtable, listpack,
    skiplist and quicklist values."""
    check_encodings(reference["encodings"])
    assert reference["rdb"].startswith(b"REDIS0010")


def test_server_loads_redis_rdb(spawn, reference):
    k = spawn(SERVER, dir_with(reference["rdb"]))
    after = snapshot(k, DBS)
    assert_same(reference["snapshot"], after)
    c = k.client()
    assert c.execute_command("FCALL", "rdb_echo", 0, "hi") == b"hi"
    # The loaded stream groups keep working.
    new = c.execute_command("XREADGROUP", "GROUP", "g1", "carol", "STREAMS", "x:s", ">")
    assert [e[0] for e in new[0][1]] == [b"1007-7", b"1008-8", b"1009-9", b"1010-10", b"2000-0"]


def test_redis_loads_server_rdb(spawn):
    k = spawn()
    populate(k)
    before = snapshot(k, DBS)
    data = save(k)
    out = subprocess.run([CHECK_RDB, k.rdb], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    text = out.stdout.decode(errors="replace")
    assert out.returncode == 0, text
    assert "RDB looks OK" in text and "Checksum OK" in text, text
    # Deep sanitization checks every listpack, intset and stream node on load.
    r = spawn(REDIS, dir_with(data), "--sanitize-dump-payload", "yes")
    assert_same(before, snapshot(r, DBS))
    assert r.client().execute_command("FCALL", "rdb_echo", 0, "hi") == b"hi"


# ------------------------------------------------- plain list nodes

PLAIN_MIN = 100
PLAIN_LIST = [b"a", b"x" * 150, b"b", b"c", b"y" * 100, b"z" * 300, b"d"]


def ql_nodes(c, key):
    text = c.execute_command("DEBUG", "OBJECT", key).decode()
    fields = dict(f.split(":", 1) for f in text.split() if ":" in f)
    assert fields["encoding"] == "quicklist", text
    return int(fields["ql_nodes"])


def plain_list_on(node):
    """Writes PLAIN_LIST with the packed threshold at PLAIN_MIN bytes (each
    long element in a plain node of its own), then puts the 1 GB default
    back: what a file holds must not depend on the loader's threshold."""
    c = node.client()
    c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", PLAIN_MIN)
    c.rpush("pl", *PLAIN_LIST)
    c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", 0)
    c.rpush("ordinary", *PLAIN_LIST)
    return c


def test_plain_list_nodes_from_redis(spawn):
    """Redis's QUICKLIST_2 file with PLAIN nodes loads as plain nodes: the
    same elements and as many nodes, though the loader's threshold is 1 GB;
    saved again, Redis reads the same plain nodes back."""
    ref = spawn(REDIS)
    plain_list_on(ref)
    want = ql_nodes(ref.client(), "pl")
    assert want == 6  # [a] [x..] [b c] [y..] [z..] [d]
    assert ql_nodes(ref.client(), "ordinary") == 1
    k = spawn(SERVER, dir_with(save(ref)))
    kc = k.client()
    assert kc.lrange("pl", 0, -1) == PLAIN_LIST
    assert ql_nodes(kc, "pl") == want
    assert kc.lrange("ordinary", 0, -1) == PLAIN_LIST
    # Between two plain nodes: a node of its own (the 1 GB threshold now
    # would not make y.. large, but its node stays plain and takes no more).
    kc.linsert("pl", "AFTER", b"y" * 100, "e")
    assert ql_nodes(kc, "pl") == want + 1
    after = PLAIN_LIST[:5] + [b"e"] + PLAIN_LIST[5:]
    assert kc.lrange("pl", 0, -1) == after
    back = spawn(REDIS, dir_with(save(k)), "--sanitize-dump-payload", "yes")
    assert back.client().lrange("pl", 0, -1) == after
    assert ql_nodes(back.client(), "pl") == want + 1


def test_plain_list_nodes_to_redis(spawn):
    """The server's file has a PLAIN node per plain element: redis-check-rdb
    passes it and Redis rebuilds the same nodes it made itself."""
    k = spawn()
    plain_list_on(k)
    data = save(k)
    out = subprocess.run([CHECK_RDB, k.rdb], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert out.returncode == 0, out.stdout.decode(errors="replace")
    r = spawn(REDIS, dir_with(data), "--sanitize-dump-payload", "yes")
    rc = r.client()
    assert rc.lrange("pl", 0, -1) == PLAIN_LIST
    assert ql_nodes(rc, "pl") == 6
    assert ql_nodes(rc, "ordinary") == 1
    # The same value through DUMP/RESTORE, both ways.
    kc = k.client()
    rc.restore("from-server", 0, kc.dump("pl"))
    assert rc.lrange("from-server", 0, -1) == PLAIN_LIST and ql_nodes(rc, "from-server") == 6
    kc.restore("from-redis", 0, rc.dump("pl"))
    assert kc.lrange("from-redis", 0, -1) == PLAIN_LIST and ql_nodes(kc, "from-redis") == 6


def stream_nodes(c, key):
    return dict(zip(*[iter(c.execute_command("XINFO", "STREAM", key))] * 2))[b"radix-tree-keys"]


@pytest.mark.parametrize("limits, entries, value", [
    (("--stream-node-max-entries", "10"), 95, 10),
    (("--stream-node-max-bytes", "4096"), 60, 1000),
    (("--stream-node-max-bytes", "700", "--stream-node-max-entries", "200"), 300, 30),
    (("--stream-node-max-bytes", "0", "--stream-node-max-entries", "0"), 300, 100),
])
def test_stream_nodes_follow_node_limits(spawn, limits, entries, value):
    """The file's stream nodes are the ones Redis builds with the same
    stream-node-max-entries / -bytes (unlimited, a node stops at 1 GB: a
    listpack's lengths are 32 bits), so a stream moves to Redis as it would
    have grown there: Redis loading the file has as many nodes as Redis
    that took the same XADDs, and the same entries."""
    def fill(node):
        c = node.raw()
        for i in range(entries):
            # Strings and integers (a listpack stores those as integers),
            # and every seventh entry with fields of its own.
            fields = {"f": "%d" % i, "v": b"x" * value if i % 2 else i * 1000}
            if i % 7 == 0:
                fields["extra"] = "e%d" % i
            c.xadd("s", fields, id="%d-%d" % (i // 3 + 1, i % 3))
        return c
    r = spawn(REDIS, None, *limits)
    want = stream_nodes(fill(r), "s")
    assert want == 1 if "0" in limits else want > 5
    k = spawn(SERVER, None, *limits)
    fill(k)
    before = snapshot(k, [0])
    data = save(k)
    out = subprocess.run([CHECK_RDB, k.rdb], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert out.returncode == 0, out.stdout.decode(errors="replace")
    back = spawn(REDIS, dir_with(data), "--sanitize-dump-payload", "yes")
    assert stream_nodes(back.raw(), "s") == want
    assert_same(before, snapshot(back, [0]))
    # And Keel reads its own file back.
    assert_same(before, snapshot(spawn(SERVER, dir_with(data)), [0]))


# ---------------------------------------------------------------- bad files

def rdb_len(n):
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n < 1 << 32:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def rdb_str(s, claim=None):
    return rdb_len(len(s) if claim is None else claim) + s


def handmade(huge=None):
    """A minimal RDB file written by hand (no aux fields but one): a string,
    a set, a hash, an expiring key and an expired one, with a correct CRC.
    `huge` names one length field to replace with 2^40."""
    H = 1 << 40

    def claim(name):
        return H if huge == name else None

    body = b"REDIS0010"
    body += b"\xfa" + rdb_str(b"redis-ver") + rdb_str(b"7.0.15", claim("aux"))
    body += b"\xfe\x00" + b"\xfb" + rdb_len(5) + rdb_len(2)
    body += b"\x00" + rdb_str(b"k", claim("key")) + rdb_str(b"value", claim("string"))
    body += b"\x02" + rdb_str(b"s") + rdb_len(H if huge == "set" else 2) + rdb_str(b"m1") + rdb_str(b"m2")
    body += b"\x04" + rdb_str(b"h") + rdb_len(H if huge == "hash" else 1) + rdb_str(b"f") + rdb_str(b"v")
    future = int(time.time() * 1000) + 3_600_000
    body += b"\xfc" + struct.pack("<Q", future) + b"\x00" + rdb_str(b"ttl") + rdb_str(b"t")
    body += b"\xfc" + struct.pack("<Q", 1000) + b"\x00" + rdb_str(b"old") + rdb_str(b"o")
    body += b"\xff"
    return body + struct.pack("<Q", crc64(body))


def test_handmade_rdb_loads(spawn):
    """The control for the bad files below: the same file with sane lengths."""
    n = spawn(SERVER, dir_with(handmade()))
    c = n.client()
    assert c.get("k") == b"value"
    assert c.smembers("s") == {b"m1", b"m2"}
    assert c.hgetall("h") == {b"f": b"v"}
    assert 3_500_000 < c.pttl("ttl") <= 3_600_000
    assert c.exists("old") == 0
    assert c.dbsize() == 4


def test_good_file_loads_under_memory_cap(good_rdb):
    """The control for the bad files: the capped server starts on the
    untouched file (so a refusal below is the file's doing)."""
    node = Node(SERVER, dir_with(good_rdb), base_args=base_args, prefix=memory_cap(SERVER))
    try:
        c = node.client()
        assert c.get("s:short") == b"hello"
        assert c.dbsize() > 50
    finally:
        node.stop()


@pytest.fixture(scope="module")
def good_rdb(reference):
    return reference["rdb"]


@pytest.mark.parametrize("cut", [9, 30, "1/4", "1/2", "3/4", -9, -8, -1])
def test_truncated_file_refused(good_rdb, cut):
    n = len(good_rdb)
    if isinstance(cut, str):
        a, b = map(int, cut.split("/"))
        at = n * a // b
    else:
        at = cut if cut > 0 else n + cut
    assert_refuses(dir_with(good_rdb[:at]))


@pytest.mark.parametrize("where", ["payload", "middle"])
def test_flipped_byte_refused(good_rdb, reference, where):
    data = bytearray(good_rdb)
    if where == "payload":
        # Inside s:100k's random bytes (stored as they are, LZF cannot shrink
        # them): the file still parses, only the checksum can notice.
        payload = reference["snapshot"]["data"][(0, b"s:100k")][1]
        at = good_rdb.find(payload)
        assert at > 0
        data[at + len(payload) // 2] ^= 0x01
    else:
        data[len(data) // 2] ^= 0x01
    assert_refuses(dir_with(bytes(data)))
    if where == "payload":  # the checksum's refusal, in Redis's words (they grep "CRC error")
        rc, log = start_expect_failure(SERVER, dir_with(bytes(data)), argv=capped_argv)
        assert "Wrong RDB checksum expected: (" in log and "RDB CRC error" in log, log[-3000:]


@pytest.mark.parametrize("header", [b"REDIX0010", b"REDIS0099"], ids=["magic", "future-version"])
def test_bad_header_refused(good_rdb, header):
    assert_refuses(dir_with(header + good_rdb[9:]))


@pytest.mark.parametrize("field", ["aux", "key", "string", "set", "hash"])
def test_huge_length_refused(field):
    assert_refuses(dir_with(handmade(huge=field)))


def test_bad_file_with_other_dbfilename_refused(good_rdb):
    assert_refuses(dir_with(good_rdb[:100], "mine.rdb"), "--dbfilename", "mine.rdb", name="mine.rdb")


def test_clients_get_loading_while_the_snapshot_loads(keel):
    """While a snapshot loads, the port is open and commands get -LOADING
    (INFO still answers, with loading:1 and progress), as in Redis. The
    load is stretched by Redis's test knobs: key-load-delay (microseconds
    per key) and loading-process-events-interval-bytes (how often the
    loader serves clients), both hidden from CONFIG GET patterns."""
    import socket as _socket
    src = keel("--save", "", "--enable-debug-command", "yes")
    c = src.client(socket_timeout=120)
    for name, default in (("key-load-delay", "0"), ("loading-process-events-interval-bytes", "2097152")):
        assert c.config_get(name) == {name: default}
        assert name not in c.config_get("*")
    with pytest.raises(redis.ResponseError, match="argument must be between 1024 and 2147483647 inclusive"):
        c.config_set("loading-process-events-interval-bytes", 1023)
    c.execute_command("DEBUG", "POPULATE", "3000", "k", "40")
    c.save()
    try:
        c.shutdown(nosave=True)
    except redis.ConnectionError:
        pass
    src.proc.wait(10)
    argv = [SERVER, "--port", str(src.port), "--dir", src.dir, "--save", "", "--key-load-delay", "1000",
            "--loading-process-events-interval-bytes", "1024",  # 3 s of loading
            "--enable-protected-configs", "yes"]  # (dir is protected too)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen_loading = seen_info = False
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with _socket.create_connection(("127.0.0.1", src.port), timeout=5) as s:
                    s.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nk:1\r\n")
                    reply = s.recv(256)
                    if reply.startswith(b"-LOADING"):
                        assert reply == b"-LOADING Redis is loading the dataset in memory\r\n"
                        seen_loading = True
                        s.sendall(b"*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n")
                        info = b""
                        while b"aof_enabled" not in info:
                            info += s.recv(4096)
                        if b"loading:1" in info and not seen_info:
                            assert b"loading_loaded_perc:" in info and b"loading_total_bytes:" in info
                            seen_info = True
                            # CONFIG SET works, but not for appendonly and
                            # dir (Redis's deny-loading configs). Once, early
                            # in the load: later the load may end meanwhile.
                            s.sendall(b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$8\r\nloglevel\r\n$7\r\nverbose\r\n")
                            assert s.recv(256) == b"+OK\r\n"
                            for name in (b"dir", b"appendonly"):
                                s.sendall(b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$2\r\nno\r\n"
                                          % (len(name), name))
                                assert s.recv(256) == b"-LOADING Redis is loading the dataset in memory\r\n"
                        continue
                    if reply.startswith(b"$"):
                        break
            except OSError:
                time.sleep(0.01)
        assert seen_loading and seen_info
        r = redis.Redis(port=src.port)
        assert r.dbsize() == 3000 and r.info("persistence")["loading"] == 0
        r.close()
    finally:
        proc.terminate()
        proc.wait(20)
