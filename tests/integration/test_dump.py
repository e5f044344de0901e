"""DUMP and RESTORE: payloads in Redis's format (RDB value, version, CRC64),
round trips of every type and encoding, payloads moving between Keel and
Debian's redis-server both ways, the options and error texts, and hostile
payloads (bad checksums, truncations, lengths past the end) refused without
touching the keyspace."""
import os
import random
import struct
import time

import pytest
import redis
from conftest import err

REDIS_BIN = "/usr/bin/redis-server"
KEEL_IS_REDIS = os.environ.get("KEEL_SERVER", "").endswith("redis-server")
# Redis 7.0 without sanitize-dump-payload crashes on some corrupt payloads
# (it trusts the encodings inside a payload whose checksum is right); Keel
# validates every one, so those tests run against Keel only.
keel_only = pytest.mark.skipif(KEEL_IS_REDIS, reason="Keel validates payloads; Redis 7.0 may crash on them")

CRC_TABLE = []


def crc64(data):
    """CRC-64/Jones as Redis computes it (reflected, poly 0xad93d23594c935a9)."""
    if not CRC_TABLE:
        poly = 0x95AC9329AC4BC9B5  # the reflected polynomial
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ poly if c & 1 else c >> 1
            CRC_TABLE.append(c)
    crc = 0
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def with_crc(body):
    """A payload from a value body and a version: add the CRC trailer."""
    return body + struct.pack("<Q", crc64(body))



def fill(r):
    """Every type, in compact and full encodings."""
    r.set("str", "hello")
    r.set("int", "-123456789")
    r.set("long", "x" * 1000)
    r.set("bin", b"\x00\xff\r\n" * 20)
    r.rpush("lsmall", "a", "1", "-5", "x" * 70)
    r.rpush("lbig", *["e%d" % i for i in range(1000)])
    r.sadd("sint", 1, 2, 3, -7)
    r.sadd("slp", "a", "b", "c")
    r.sadd("sbig", *["m%d" % i for i in range(600)])
    r.zadd("zsmall", {"a": 1.5, "b": -2, "c": float("inf")})
    r.zadd("zbig", {"m%d" % i: i / 3 for i in range(300)})
    r.hset("hsmall", mapping={"f": "v", "n": 42})
    r.hset("hbig", mapping={"f%d" % i: "v" * (i % 70) for i in range(300)})
    r.xadd("x", {"a": "1", "b": "two"}, id="1-1")
    r.xadd("x", {"a": "3", "b": "four"}, id="2-0")
    r.xadd("x", {"other": "shape"}, id="3-5")
    r.xgroup_create("x", "g", id="0")
    r.xreadgroup("g", "alice", {"x": ">"}, count=2)
    return ["str", "int", "long", "bin", "lsmall", "lbig", "sint", "slp", "sbig", "zsmall", "zbig", "hsmall",
            "hbig", "x"]


def content(r, key):
    t = r.type(key).decode()
    if t == "string":
        return r.get(key)
    if t == "list":
        return r.lrange(key, 0, -1)
    if t == "set":
        return sorted(r.smembers(key))
    if t == "zset":
        return r.zrange(key, 0, -1, withscores=True)
    if t == "hash":
        return r.hgetall(key)
    if t == "stream":
        groups = r.execute_command("XINFO", "GROUPS", key)
        pending = r.xpending_range(key, "g", "-", "+", 10)
        return (r.execute_command("XRANGE", key, "-", "+"), groups, [(p["message_id"], p["consumer"], p["times_delivered"]) for p in pending])
    raise AssertionError(t)


def test_round_trip_every_type(r):
    for key in fill(r):
        before = content(r, key)
        payload = r.dump(key)
        assert payload[-10:-8] == b"\x0a\x00"  # RDB version 10
        assert struct.unpack("<Q", payload[-8:])[0] == crc64(payload[:-8])
        r.delete(key)
        assert r.restore(key, 0, payload) == b"OK"
        assert content(r, key) == before, key


def test_payloads_move_both_ways(r, redis_ref):
    keys = fill(redis_ref)
    for key in keys:
        payload = redis_ref.dump(key)
        assert r.restore(key, 0, payload, replace=True) == b"OK"
        assert content(r, key) == content(redis_ref, key), key
        back = r.dump(key)
        redis_ref.delete(key)
        assert redis_ref.restore(key, 0, back) == b"OK"
        assert content(redis_ref, key) == content(r, key), key


def test_dump_missing_key_is_nil(r):
    assert r.dump("nope") is None


def test_restore_options_and_ttl(r):
    r.set("k", "v")
    p = r.dump("k")
    assert err(r.restore, "k", 0, p) == "BUSYKEY Target key name already exists."
    assert r.restore("k", 5000, p, replace=True) == b"OK"
    assert 4000 < r.pttl("k") <= 5000
    at = int(time.time() * 1000) + 60000
    assert r.restore("k", at, p, replace=True, absttl=True) == b"OK"
    assert 50000 < r.pttl("k") <= 60000
    # a time in the past: the key is gone, the reply still OK
    assert r.restore("k", 1, p, replace=True, absttl=True) == b"OK"
    assert r.exists("k") == 0
    assert err(r.restore, "k", -1, p) == "Invalid TTL value, must be >= 0"
    assert err(r.execute_command, "RESTORE", "k", 0, p, "IDLETIME", -1) == "Invalid IDLETIME value, must be >= 0"
    assert err(r.execute_command, "RESTORE", "k", 0, p, "FREQ", 256) == \
        "Invalid FREQ value, must be >= 0 and <= 255"
    assert err(r.execute_command, "RESTORE", "k", 0, p, "BOGUS") == "syntax error"
    assert r.execute_command("RESTORE", "k", 0, p, "IDLETIME", 100) == b"OK"
    assert r.object("idletime", "k") >= 99
    # A relative TTL past the clock's range: restored as already expired,
    # and REPLACE has removed the old key (as in Redis).
    assert r.restore("k", 9223372036854775807, p, replace=True) == b"OK"
    assert r.exists("k") == 0


def test_restore_checks_every_crc(r):
    # An RDB file's CRC of 0 means "not computed"; a DUMP payload's is
    # always checked, as in Redis.
    body = b"\x00\x05hello\x0a\x00"
    assert err(r.restore, "z", 0, body + b"\x00" * 8) == "DUMP payload version or checksum are wrong"
    assert r.restore("z", 0, with_crc(body)) == b"OK"
    assert r.get("z") == b"hello"


def debug_server(keel, *args):
    return keel("--enable-debug-command", "yes", *args).client()


def test_debug_skip_checksum_validation(keel):
    """DEBUG SET-SKIP-CHECKSUM-VALIDATION 1 (Redis's test hook) takes a
    payload whatever its CRC; the version is still checked."""
    r = debug_server(keel)
    body = b"\x00\x05hello\x0a\x00"
    assert r.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", 1) == b"OK"
    assert r.restore("z", 0, body + b"\x00" * 8) == b"OK"
    assert r.get("z") == b"hello"
    assert err(r.restore, "z2", 0, b"\x00\x05hello\x63\x00" + b"\x00" * 8) == (
        "DUMP payload version or checksum are wrong")
    assert r.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", 0) == b"OK"
    assert err(r.restore, "z3", 0, body + b"\x00" * 8) == "DUMP payload version or checksum are wrong"


def test_corrupt_payload_is_logged_at_verbose(keel):
    """A payload refused for its content says why in the log, at verbose,
    in Redis's words ("Hash listpack integrity check failed")."""
    s = keel("--loglevel", "verbose", "--enable-debug-command", "yes", "--sanitize-dump-payload", "yes")
    c = s.client()
    entries = b"\x81a\x02" + b"\x811\x02"  # "a" and "1", each with its back-length
    lp = struct.pack("<IH", 6 + len(entries) + 1, 2) + entries + b"\xff"
    payload = b"\x10" + bytes([len(lp)]) + lp + b"\x0a\x00"
    assert c.restore("h", 0, with_crc(payload)) == b"OK"
    assert c.hgetall("h") == {b"a": b"1"}
    bad = payload[:2] + b"\x7f" + payload[3:]  # the listpack's total-bytes no longer its length
    assert err(c.restore, "h2", 0, with_crc(bad)) == "Bad data format"
    log = s.log_text()
    assert "Hash listpack integrity check failed" in log, log[-500:]


@keel_only
def test_hostile_payloads_change_nothing(r):
    r.rpush("l", *["v%d" % i for i in range(50)])
    good = r.dump("l")
    r.set("victim", "unchanged")
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    assert err(r.restore, "victim", 0, bytes(bad), True) == "DUMP payload version or checksum are wrong"
    for cut in (0, 1, 5, 9, len(good) // 2, len(good) - 1):
        assert err(r.restore, "victim", 0, good[:cut], True) == "DUMP payload version or checksum are wrong"
    # a future RDB version
    body = good[:-10] + b"\x63\x00"
    assert err(r.restore, "victim", 0, with_crc(body), True) == "DUMP payload version or checksum are wrong"
    # valid checksums around broken values
    hostile = [
        b"\x00\x81" + b"\xff" * 8 + b"abc",          # a string claiming 2^64 bytes
        b"\x00\x80\x00\x00\x10\x00" + b"x" * 10,      # a string claiming 1 MB, 10 bytes given
        b"\x02\x80\x7f\xff\xff\xff" + b"\x01a",       # a set claiming 2^31 members
        b"\x12\x01\x02\x07" + b"\x07\x00\x00\x00\x01\x00\x81\x01\xff",  # a listpack with a bad size
        b"\x0b\x0c" + b"\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00",  # an unsorted intset
        b"\x04\x02\x01a\x011\x01a\x012",              # a hash with a duplicate field
        b"\x03\x01\x01a\xfd",                          # a NaN score
        b"\x63\x01a",                                  # an unknown type
        b"\x00\xc3\x05\x7f\xff\xff\xff\x01\x02\x03\x04\x05",  # LZF claiming 2 GB from 5 bytes
    ]
    for value in hostile:
        payload = with_crc(value + b"\x0a\x00")
        assert err(r.restore, "victim", 0, payload, True) in (
            "Bad data format", "DUMP payload version or checksum are wrong"), value
    assert r.get("victim") == b"unchanged"
    assert r.ping()


def rdb_len(n):
    """An RDB length: 6-bit, 14-bit, 32-bit or 64-bit form."""
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | n >> 8, n & 0xFF])
    if n < 1 << 32:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def rdb_str(s):
    return rdb_len(len(s)) + s


def stream_payload(entries_added=1, entries_read=1, delivery=1700000000000, seen=1700000000000):
    """A stream as Redis 7.0 writes it (STREAM_LISTPACKS_2): entry 1-1 f=v,
    and group g whose consumer c has it pending, with the counters and
    times given."""
    sid = struct.pack(">QQ", 1, 1)
    entries = b"\x01\x01\x00\x01\x01\x01\x81f\x02\x00\x01"  # master: count, deleted, fields, f, end
    entries += b"\x02\x01\x00\x01\x00\x01\x81v\x02\x04\x01"  # same fields, 1-1: v, lp-count
    node = struct.pack("<IH", 6 + len(entries) + 1, 10) + entries + b"\xff"
    body = b"\x13" + rdb_len(1) + rdb_str(sid) + rdb_str(node)
    body += rdb_len(1) + rdb_len(1) + rdb_len(1)  # length, last ID
    body += rdb_len(1) + rdb_len(1) + rdb_len(0) + rdb_len(0) + rdb_len(entries_added)  # first, max deleted
    body += rdb_len(1) + rdb_str(b"g") + rdb_len(1) + rdb_len(1) + rdb_len(entries_read)
    body += rdb_len(1) + sid + struct.pack("<Q", delivery) + rdb_len(1)  # the group's PEL
    body += rdb_len(1) + rdb_str(b"c") + struct.pack("<Q", seen) + rdb_len(1) + sid  # consumer c
    return with_crc(body + b"\x0a\x00")


@keel_only
def test_stream_counters_and_times_out_of_range(r):
    """Group and stream counters and times no command can set (past
    INT64_MAX, negative once signed) are refused: XINFO's lag and XPENDING's
    idle time overflowed on them (found by tests/fuzz/fuzz_rdb_load)."""
    for ok in (stream_payload(), stream_payload(entries_read=2 ** 64 - 1)):  # -1: entries read unknown
        assert r.restore("sgood", 0, ok, replace=True) == b"OK"
        assert r.xinfo_stream("sgood", full=True)["groups"][0]["name"] == b"g"
        assert r.xpending("sgood", "g")["pending"] == 1
    r.set("victim", "unchanged")
    for bad in (stream_payload(entries_read=2 ** 63), stream_payload(entries_read=2 ** 64 - 2),
                stream_payload(entries_added=2 ** 63 + 5), stream_payload(delivery=2 ** 63),
                stream_payload(seen=2 ** 64 - 2)):
        assert err(r.restore, "victim", 0, bad, True) == "Bad data format"
    assert r.get("victim") == b"unchanged"
    assert r.ping()


@keel_only
def test_random_byte_flips_never_crash(r):
    fill(r)
    rng = random.Random(7)
    payloads = [r.dump(k) for k in ("lbig", "sint", "zsmall", "hbig", "x", "long")]
    for _ in range(300):
        p = bytearray(rng.choice(payloads))
        for _ in range(rng.randrange(1, 4)):
            p[rng.randrange(len(p) - 10)] = rng.randrange(256)
        try:
            r.restore("fuzz", 0, with_crc(bytes(p[:-8])), replace=True)
        except redis.ResponseError as e:
            assert str(e) in ("Bad data format", "DUMP payload version or checksum are wrong")
    assert r.ping()


@keel_only
def test_restore_propagates_absolute_ttl(r):
    r.set("k", "v")
    p = r.dump("k")
    r.execute_command("DEBUG", "PROPAGATION-LOG", "ON")
    try:
        r.restore("k2", 10000, p)
        log = r.execute_command("DEBUG", "PROPAGATION-LOG", "GET")
    finally:
        r.execute_command("DEBUG", "PROPAGATION-LOG", "OFF")
    e = log[-1]
    assert e[:3] == [b"0", b"RESTORE", b"k2"] and e[4] == p
    assert e[-1] == b"ABSTTL" and int(e[3]) > time.time() * 1000


LIB = "#!lua name=dumplib\nredis.register_function('dumpfn', function(keys, args) return 'ok:' .. args[1] end)"


def test_function_payloads_move_both_ways(r, redis_ref):
    redis_ref.execute_command("FUNCTION", "FLUSH")
    redis_ref.execute_command("FUNCTION", "LOAD", LIB)
    payload = redis_ref.execute_command("FUNCTION", "DUMP")
    assert payload[-10:-8] == b"\x0a\x00" and struct.unpack("<Q", payload[-8:])[0] == crc64(payload[:-8])
    r.execute_command("FUNCTION", "FLUSH")
    assert r.execute_command("FUNCTION", "RESTORE", payload) == b"OK"
    assert r.execute_command("FCALL", "dumpfn", 0, "x") == b"ok:x"
    back = r.execute_command("FUNCTION", "DUMP")
    assert back == payload  # the same bytes Redis writes
    redis_ref.execute_command("FUNCTION", "FLUSH")
    assert redis_ref.execute_command("FUNCTION", "RESTORE", back) == b"OK"
    assert redis_ref.execute_command("FCALL", "dumpfn", 0, "y") == b"ok:y"
    # a key's payload is not a function payload
    r.set("k", "v")
    assert err(r.execute_command, "FUNCTION", "RESTORE", r.dump("k")) == "given type is not a function"


def legacy_stream_payload():
    """A stream as Redis 6.2 and older write it (STREAM_LISTPACKS, RDB 9):
    entries 5-0 and 6-0, group g1 read up to 5-0 and g2 not at all; no
    entries-added or entries-read counters in the format."""
    sid = struct.pack(">QQ", 5, 0)
    entries = b"\x02\x01\x00\x01\x01\x01\x81f\x02\x00\x01"  # master: count 2, deleted 0, 1 field f, end
    entries += b"\x02\x01\x00\x01\x00\x01\x81v\x02\x04\x01"  # same fields, 5-0: v, lp-count
    entries += b"\x02\x01\x01\x01\x00\x01\x81w\x02\x04\x01"  # same fields, 6-0: w, lp-count
    node = struct.pack("<IH", 6 + len(entries) + 1, 15) + entries + b"\xff"
    body = b"\x0f" + rdb_len(1) + rdb_str(sid) + rdb_str(node)
    body += rdb_len(2) + rdb_len(6) + rdb_len(0)  # length, last ID
    body += rdb_len(2)
    body += rdb_str(b"g1") + rdb_len(5) + rdb_len(0) + rdb_len(0) + rdb_len(0)  # last ID, no PEL, no consumers
    body += rdb_str(b"g2") + rdb_len(0) + rdb_len(0) + rdb_len(0) + rdb_len(0)
    return with_crc(body + b"\x09\x00")


def test_legacy_stream_groups_get_estimated_reads(r):
    """A stream from Redis 6.2 or older has no read counters: as Redis 7
    does, entries-added is its length and each group's entries-read is
    estimated from its last ID, so XINFO's lag is known."""
    assert r.restore("legacy", 0, legacy_stream_payload(), replace=True) == b"OK"
    info = r.xinfo_stream("legacy", full=True)
    assert info["entries-added"] == 2
    assert info["max-deleted-entry-id"] == b"0-0"
    g1, g2 = info["groups"]
    assert (g1["name"], g1["entries-read"], g1["lag"]) == (b"g1", 1, 1)
    assert (g2["name"], g2["entries-read"], g2["lag"]) == (b"g2", 0, 2)
    assert r.xrange("legacy") == [(b"5-0", {b"f": b"v"}), (b"6-0", {b"f": b"w"})]
