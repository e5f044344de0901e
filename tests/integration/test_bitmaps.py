"""Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
BITFIELD_RO. The examples of the Redis docs, range clamping, BYTE/BIT
units, the BITPOS rules for clear bits, BITFIELD's overflow policies and
"#N" offsets, error texts and their order, keyspace events and what counts
as a write, RESP3, hostile input (offset 2^32, 100,000 operations in one
call), a random differential run against Debian's redis-server, and bitmaps
written there moved into Keel with DUMP/RESTORE.

Every test passes against redis-server 7.0.15 (KEEL_SERVER=/usr/bin/redis-
server) except those marked keel_only: BITOP's DIFF, DIFF1, ANDOR and ONE
(Redis 8.2) and the propagation log (a Keel DEBUG subcommand)."""
import random
import time

import pytest
import redis
from conftest import SERVER, WRONGTYPE, err, raw_cmd, resp_exchange
from resp_client import RespConn

REDIS_BIN = "/usr/bin/redis-server"
IS_REDIS = SERVER.endswith("redis-server")
keel_only = pytest.mark.skipif(IS_REDIS, reason="Keel extension (Redis 8.2 BITOP ops, propagation log)")

ERR_OFFSET = "bit offset is not an integer or out of range"
ERR_TYPE = "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."


def bf(r, key, *args):
    return r.execute_command("BITFIELD", key, *args)


# ---------------------------------------------------------------- SETBIT / GETBIT

def test_setbit_getbit_docs(r):
    assert r.setbit("mykey", 7, 1) == 0
    assert r.setbit("mykey", 7, 0) == 1
    assert r.get("mykey") == b"\x00"
    assert r.setbit("mykey", 7, 1) == 0
    assert r.getbit("mykey", 0) == 0
    assert r.getbit("mykey", 7) == 1
    assert r.getbit("mykey", 100) == 0
    assert r.getbit("missing", 5) == 0


def test_setbit_grows_with_zeros(r):
    r.set("k", "a")  # 0x61
    assert r.setbit("k", 8 * 9 + 1, 1) == 0
    assert r.get("k") == b"a" + b"\x00" * 8 + b"\x40"
    assert r.strlen("k") == 10
    # MSB-first numbering inside each byte
    r.delete("k")
    for bit in (0, 3, 9, 15):
        r.setbit("k", bit, 1)
    assert r.get("k") == bytes([0b10010000, 0b01000001])


def test_bit_writes_make_strings_raw(r):
    r.set("k", "a")  # 0x61: bit 1 is set already
    assert r.object("encoding", "k") == b"embstr"
    assert r.setbit("k", 1, 1) == 1
    assert r.object("encoding", "k") == b"raw"
    assert r.get("k") == b"a"
    r.set("n", 7)
    assert bf(r, "n", "GET", "u8", 0) == [ord("7")]
    assert r.object("encoding", "n") == b"int"
    assert bf(r, "n", "SET", "u8", 0, ord("7")) == [ord("7")]
    assert r.object("encoding", "n") == b"raw"
    assert r.get("n") == b"7"


def test_setbit_errors(r):
    assert err(r.setbit, "k", -1, 1) == ERR_OFFSET
    assert err(r.setbit, "k", 2 ** 32, 1) == ERR_OFFSET
    assert err(r.setbit, "k", "abc", 1) == ERR_OFFSET
    for bad in ("2", "-1", "x", "1.0", ""):
        assert err(r.execute_command, "SETBIT", "k", 0, bad) == "bit is not an integer or out of range"
    assert r.exists("k") == 0
    r.lpush("l", "a")
    assert err(r.setbit, "l", 0, 1) == WRONGTYPE
    # the offset and the value are checked before the key
    assert err(r.setbit, "l", 2 ** 32, 1) == ERR_OFFSET
    assert err(r.getbit, "l", 0) == WRONGTYPE
    assert err(r.getbit, "missing", 2 ** 32) == ERR_OFFSET
    assert err(r.getbit, "l", -1) == ERR_OFFSET
    assert err(r.execute_command, "SETBIT", "k", 1) == "wrong number of arguments for 'setbit' command"


def test_offsets_follow_proto_max_bulk_len(r):
    r.config_set("proto-max-bulk-len", str(1024 * 1024))
    try:
        assert err(r.setbit, "k", 8 * 1024 * 1024, 1) == ERR_OFFSET
        assert err(r.getbit, "k", 8 * 1024 * 1024) == ERR_OFFSET
        assert r.setbit("k", 8 * 1024 * 1024 - 1, 1) == 0
        assert r.strlen("k") == 1024 * 1024
        assert r.bitcount("k") == 1
        assert err(bf, r, "k", "SET", "u8", 8 * 1024 * 1024, 1) == ERR_OFFSET
    finally:
        r.config_set("proto-max-bulk-len", str(512 * 1024 * 1024))


def test_bits_of_integer_strings(r):
    r.set("i", 255)  # the bytes "255"
    assert r.getbit("i", 2) == 1
    assert r.bitcount("i") == 11
    assert r.bitpos("i", 0) == 0
    assert bf(r, "i", "GET", "u8", 0) == [ord("2")]
    assert r.setbit("i", 0, 0) == 0
    assert r.get("i") == b"255"
    assert r.setbit("i", 6, 0) == 1
    assert r.get("i") == b"055"


# ---------------------------------------------------------------- BITCOUNT

def test_bitcount_docs(r):
    r.set("mykey", "foobar")
    assert r.bitcount("mykey") == 26
    assert r.bitcount("mykey", 0, 0) == 4
    assert r.bitcount("mykey", 1, 1) == 6
    assert r.execute_command("BITCOUNT", "mykey", 1, 1, "BYTE") == 6
    assert r.execute_command("BITCOUNT", "mykey", 5, 30, "BIT") == 17


def test_bitcount_ranges(r):
    r.set("k", "foobar")
    assert r.bitcount("k", -1, -1) == 4  # "r"
    assert r.bitcount("k", -100, 100) == 26
    assert r.bitcount("k", 5, 1) == 0
    assert r.bitcount("k", -1, -2) == 0
    assert r.execute_command("BITCOUNT", "k", -8, -1, "bit") == 4
    assert r.execute_command("BITCOUNT", "k", 0, 0, "BIT") == 0  # 'f' = 01100110
    assert r.execute_command("BITCOUNT", "k", 1, 2, "BIT") == 2
    assert r.execute_command("BITCOUNT", "k", 47, 1000, "BIT") == 0
    assert r.execute_command("BITCOUNT", "k", 46, 46, "BIT") == 1
    r.set("e", "")
    assert r.bitcount("e") == 0
    assert r.bitcount("e", 0, -1) == 0
    assert r.bitcount("missing") == 0


def test_extreme_ranges_and_offsets(r):
    r.set("z", "foobar")
    lo, hi = -2 ** 63, 2 ** 63 - 1
    assert r.execute_command("BITCOUNT", "z", lo, hi, "BIT") == 26
    assert r.execute_command("BITCOUNT", "z", hi, lo) == 0
    assert r.execute_command("BITCOUNT", "z", -1, -2, "foo") == 0  # an empty range is seen first
    assert r.execute_command("BITPOS", "z", 0, lo, hi, "BIT") == 0
    assert r.execute_command("BITPOS", "z", 1, hi) == -1
    assert r.execute_command("BITPOS", "z", 0, lo) == 0
    assert err(r.getbit, "z", hi) == ERR_OFFSET
    assert err(bf, r, "z", "GET", "i8", "#%d" % hi) == ERR_OFFSET
    for bad in ("+1", " 1", "01", "1 "):
        assert err(r.execute_command, "SETBIT", "z", bad, 1) == ERR_OFFSET
    assert err(bf, r, "z", "GET", "i08", 0) == ERR_TYPE
    assert err(bf, r, "z", "GET", "i+8", 0) == ERR_TYPE


def test_bitcount_errors(r):
    r.set("k", "foobar")
    assert err(r.execute_command, "BITCOUNT", "k", 1) == "syntax error"
    assert err(r.execute_command, "BITCOUNT", "k", "a", "b") == "value is not an integer or out of range"
    assert err(r.execute_command, "BITCOUNT", "k", 0, -1, "bits") == "syntax error"
    assert err(r.execute_command, "BITCOUNT", "k", 0, -1, "BIT", "x") == "syntax error"
    # Redis 7.0 looks the key up first: a missing key answers 0 to anything
    assert r.execute_command("BITCOUNT", "missing", "a", "b") == 0
    assert r.execute_command("BITCOUNT", "missing", 1) == 0
    r.lpush("l", "a")
    assert err(r.bitcount, "l") == WRONGTYPE


def test_bitcount_big_string(r):
    data = bytes(random.Random(1).getrandbits(8) for _ in range(100000))
    r.set("k", data)
    want = sum(bin(b).count("1") for b in data)
    assert r.bitcount("k") == want
    assert r.bitcount("k", 3, 99990) == sum(bin(b).count("1") for b in data[3:99991])
    bits = "".join(format(b, "08b") for b in data)
    assert r.execute_command("BITCOUNT", "k", 13, 700001, "BIT") == bits[13:700002].count("1")


# ---------------------------------------------------------------- BITPOS

def test_bitpos_docs(r):
    r.set("mykey", b"\xff\xf0\x00")
    assert r.bitpos("mykey", 0) == 12
    r.set("mykey", b"\x00\xff\xf0")
    assert r.bitpos("mykey", 1, 0) == 8
    assert r.bitpos("mykey", 1, 2) == 16
    assert r.execute_command("BITPOS", "mykey", 1, 2, -1, "BYTE") == 16
    assert r.execute_command("BITPOS", "mykey", 1, 7, 15, "BIT") == 8
    r.set("mykey", b"\x00\x00\x00")
    assert r.bitpos("mykey", 1) == -1
    assert r.execute_command("BITPOS", "mykey", 1, 7, -3, "BIT") == -1


def test_bitpos_clear_bit_rules(r):
    r.set("ff", b"\xff\xff")
    # no end given: the string reads as followed by zeros
    assert r.bitpos("ff", 0) == 16
    assert r.bitpos("ff", 0, 0) == 16
    assert r.bitpos("ff", 0, 1) == 16
    assert r.execute_command("BITPOS", "ff", 0, 3, -1, "BIT") == -1
    # an explicit end means the range alone
    assert r.bitpos("ff", 0, 0, -1) == -1
    assert r.execute_command("BITPOS", "ff", 0, 3, 10, "BIT") == -1
    # an empty range has neither bit
    assert r.bitpos("ff", 0, 5) == -1
    assert r.bitpos("ff", 0, 5, 1) == -1
    # a missing key is endless zeros; an empty string has no bits
    assert r.bitpos("missing", 0) == 0
    assert r.bitpos("missing", 1) == -1
    r.set("e", "")
    assert r.bitpos("e", 0) == -1
    assert r.bitpos("e", 1) == -1
    r.set("k", b"\xff\x7f\xff")
    assert r.bitpos("k", 0) == 8
    assert r.execute_command("BITPOS", "k", 0, 9, -1, "BIT") == -1
    assert r.execute_command("BITPOS", "k", 0, 8, 8, "BIT") == 8
    assert r.execute_command("BITPOS", "k", 1, 8, 8, "BIT") == -1
    assert r.execute_command("BITPOS", "k", 1, 8, 9, "BIT") == 9
    assert r.bitpos("k", 1, -1) == 16


def test_bitpos_errors(r):
    r.set("s", "foobar")
    assert err(r.execute_command, "BITPOS", "s", 2) == "The bit argument must be 1 or 0."
    assert err(r.execute_command, "BITPOS", "missing", 2) == "The bit argument must be 1 or 0."
    assert err(r.execute_command, "BITPOS", "s", "x") == "value is not an integer or out of range"
    assert err(r.execute_command, "BITPOS", "s", 0, "a") == "value is not an integer or out of range"
    assert err(r.execute_command, "BITPOS", "s", 1, 2, "bit") == "value is not an integer or out of range"
    assert err(r.execute_command, "BITPOS", "s", 0, 0, -1, "foo") == "syntax error"
    assert err(r.execute_command, "BITPOS", "s", 0, 0, -1, "bit", "x") == "syntax error"
    assert r.execute_command("BITPOS", "missing", 1, "a", "b") == -1
    r.lpush("l", "a")
    assert err(r.bitpos, "l", 1) == WRONGTYPE


def test_bitpos_long_runs(r):
    r.setbit("k", 800001, 1)
    assert r.bitpos("k", 1) == 800001
    assert r.execute_command("BITPOS", "k", 1, 800002, -1, "BIT") == -1
    assert r.execute_command("BITPOS", "k", 1, 13, 800001, "BIT") == 800001
    r.set("ones", b"\xff" * 100000 + b"\xfe")
    assert r.bitpos("ones", 0) == 800007
    assert r.bitpos("ones", 0, 0, 99999) == -1


# ---------------------------------------------------------------- BITOP

def test_bitop_docs(r):
    r.set("key1", "foobar")
    r.set("key2", "abcdef")
    assert r.bitop("AND", "dest", "key1", "key2") == 6
    assert r.get("dest") == b"`bc`ab"


def test_bitop_or_xor_not_and_lengths(r):
    r.set("a", b"\x0f\xf0\xaa")
    r.set("b", b"\xff")
    assert r.bitop("OR", "d", "a", "b", "missing") == 3
    assert r.get("d") == b"\xff\xf0\xaa"
    assert r.bitop("xor", "d", "a", "b") == 3
    assert r.get("d") == b"\xf0\xf0\xaa"
    assert r.bitop("AND", "d", "a", "b") == 3  # shorter sources read as zeros
    assert r.get("d") == b"\x0f\x00\x00"
    assert r.bitop("AND", "d", "a", "missing") == 3
    assert r.get("d") == b"\x00\x00\x00"
    assert r.bitop("NOT", "d", "a") == 3
    assert r.get("d") == b"\xf0\x0f\x55"
    r.set("i", 12)  # integers are their decimal bytes
    assert r.bitop("NOT", "d", "i") == 2
    assert r.get("d") == bytes([~ord("1") & 255, ~ord("2") & 255])
    # the destination may be a source
    assert r.bitop("NOT", "a", "a") == 3
    assert r.get("a") == b"\xf0\x0f\x55"
    big = bytes(random.Random(2).getrandbits(8) for _ in range(10007))
    r.set("big", big)
    assert r.bitop("XOR", "d", "big", "b") == 10007
    assert r.get("d") == bytes([big[0] ^ 0xff]) + big[1:]


def test_bitop_result_replaces_dest(r):
    r.set("src", "x")
    r.set("d", "old", ex=100)
    assert r.bitop("OR", "d", "src") == 1
    assert r.ttl("d") == -1
    r.lpush("l", "a")
    assert r.bitop("OR", "l", "src") == 1
    assert r.type("l") == b"string"
    assert r.object("encoding", "l") == b"raw"


def test_bitop_empty_result_deletes_dest(r):
    r.set("d", "x")
    assert r.bitop("OR", "d", "nx1", "nx2") == 0
    assert r.exists("d") == 0
    r.set("d", "x")
    r.set("e", "")
    assert r.bitop("AND", "d", "e") == 0
    assert r.exists("d") == 0


def test_bitop_errors(r):
    r.set("a", "x")
    assert err(r.bitop, "NOT", "d", "a", "a") == "BITOP NOT must be called with a single source key."
    assert err(r.bitop, "FOO", "d", "a") == "syntax error"
    assert err(r.execute_command, "BITOP", "AND", "d") == "wrong number of arguments for 'bitop' command"
    r.lpush("l", "a")
    assert err(r.bitop, "AND", "d", "a", "l") == WRONGTYPE
    assert r.exists("d") == 0


def tutorial_bitmaps(r):
    """A, B and C of the bitmaps tutorial on redis.io."""
    for key, bits in (("A", (0, 1, 3, 4)), ("B", (3, 4, 7)), ("C", (1, 2, 4, 5))):
        for b in bits:
            r.setbit(key, b, 1)
    assert [r.get(k) for k in "ABC"] == [bytes([0b11011000]), bytes([0b00011001]), bytes([0b01101100])]


def test_bitop_tutorial(r):
    tutorial_bitmaps(r)
    for op, keys, want in (("AND", "ABC", 0b00001000), ("OR", "ABC", 0b11111101), ("XOR", "AB", 0b11000001),
                           ("NOT", "A", 0b00100111)):
        assert r.bitop(op, "R", *keys) == 1
        assert r.get("R") == bytes([want]), op


@keel_only
def test_bitop_tutorial_redis82_ops(r):
    tutorial_bitmaps(r)
    for op, want in (("DIFF", 0b10000000), ("DIFF1", 0b00100101), ("ANDOR", 0b01011000), ("ONE", 0b10100101)):
        assert r.bitop(op, "R", "A", "B", "C") == 1
        assert r.get("R") == bytes([want]), op


@keel_only
def test_bitop_redis82_ops(r):
    r.set("x", b"\xf0\x0f")
    r.set("y1", b"\xc0")
    r.set("y2", b"\x00\x03\xff")
    assert r.bitop("DIFF", "d", "x", "y1", "y2") == 3
    assert r.get("d") == b"\x30\x0c\x00"
    assert r.bitop("DIFF1", "d", "x", "y1", "y2") == 3
    assert r.get("d") == b"\x00\x00\xff"
    assert r.bitop("ANDOR", "d", "x", "y1", "y2") == 3
    assert r.get("d") == b"\xc0\x03\x00"
    r.set("z", b"\xc3")
    assert r.bitop("ONE", "d", "x", "y1", "z") == 2
    assert r.get("d") == b"\x33\x0f"
    assert r.bitop("ONE", "d", "x") == 2
    assert r.get("d") == b"\xf0\x0f"
    assert r.bitop("diff", "d", "missing", "y1") == 1
    assert r.get("d") == b"\x00"
    for op in ("DIFF", "DIFF1", "ANDOR"):
        assert err(r.bitop, op, "d", "x") == "BITOP %s must be called with at least two source keys." % op


@keel_only
def test_bitop_redis82_ops_random(r):
    rnd = random.Random(3)
    for _ in range(30):
        srcs = [bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 40))) for _ in range(rnd.randrange(2, 5))]
        for i, s in enumerate(srcs):
            r.set("s%d" % i, s)
        n = max(len(s) for s in srcs)
        pad = [s + b"\x00" * (n - len(s)) for s in srcs]
        keys = ["s%d" % i for i in range(len(srcs))]
        for op in ("DIFF", "DIFF1", "ANDOR", "ONE"):
            want = bytearray()
            for i in range(n):
                x = pad[0][i]
                rest = 0
                for p in pad[1:]:
                    rest |= p[i]
                if op == "DIFF":
                    want.append(x & ~rest & 255)
                elif op == "DIFF1":
                    want.append(~x & rest & 255)
                elif op == "ANDOR":
                    want.append(x & rest)
                else:
                    once = twice = 0
                    for p in pad:
                        twice |= once & p[i]
                        once |= p[i]
                    want.append(once & ~twice & 255)
            assert r.bitop(op, "d", *keys) == n
            if n:
                assert r.get("d") == bytes(want), op


# ---------------------------------------------------------------- BITFIELD

def test_bitfield_docs(r):
    assert bf(r, "mykey", "INCRBY", "i5", 100, 1, "GET", "u4", 0) == [1, 0]
    r.delete("mykey")
    want = [[1, 1], [2, 2], [3, 3], [0, 3]]
    for w in want:
        assert bf(r, "mykey", "incrby", "u2", 100, 1, "OVERFLOW", "SAT", "incrby", "u2", 102, 1) == w
    assert bf(r, "mykey", "OVERFLOW", "FAIL", "incrby", "u2", 102, 1) == [None]
    r.set("hello", "Hello World")
    assert r.execute_command("BITFIELD_RO", "hello", "GET", "i8", 16) == [108]


def test_bitfield_hash_offsets_and_several_ops(r):
    assert bf(r, "k", "SET", "i8", "#0", 100, "SET", "i8", "#1", 200, "GET", "i8", 8, "GET", "u16", 0) == [
        0, 0, -56, (100 << 8) | 200]
    assert r.get("k") == bytes([100, 200])
    assert bf(r, "k", "SET", "u4", "#3", 15, "GET", "u4", 12, "GET", "i4", "#3") == [8, 15, -1]
    # offsets not on byte boundaries, widths up to 64
    r.delete("k")
    assert bf(r, "k", "SET", "i64", 3, -2, "GET", "i64", 3, "GET", "u63", 4, "GET", "u1", 2, "GET", "u1", 3) == [
        0, -2, 2 ** 63 - 2, 0, 1]
    assert r.strlen("k") == 9
    # bits 1..63 were two zeros and 61 ones
    assert bf(r, "k", "SET", "u63", 1, 2 ** 63 - 1, "GET", "u63", 1, "GET", "i64", 0) == [
        2 ** 61 - 1, 2 ** 63 - 1, 2 ** 63 - 1]


def test_bitfield_gets_read_past_the_end_as_zeros(r):
    r.set("k", b"\xff")
    assert bf(r, "k", "GET", "u16", 0, "GET", "i8", 4, "GET", "u8", 1000) == [0xff00, -16, 0]
    assert bf(r, "missing", "GET", "i64", 0) == [0]
    assert r.exists("missing") == 0


def test_bitfield_overflow_policies(r):
    assert bf(r, "k", "SET", "i8", 0, 127, "INCRBY", "i8", 0, 1) == [0, -128]
    assert bf(r, "k", "OVERFLOW", "SAT", "INCRBY", "i8", 0, -1000, "INCRBY", "i8", 0, 1000) == [-128, 127]
    assert bf(r, "k", "OVERFLOW", "FAIL", "INCRBY", "i8", 0, 1, "GET", "i8", 0) == [None, 127]
    assert bf(r, "k", "OVERFLOW", "sat", "SET", "u8", 0, -1, "GET", "u8", 0) == [127, 255]
    assert bf(r, "k", "OVERFLOW", "wrap", "SET", "u8", 0, -3, "GET", "u8", 0) == [255, 253]
    assert bf(r, "k", "SET", "i8", 0, 300, "GET", "i8", 0) == [-3, 44]
    assert bf(r, "k", "OVERFLOW", "FAIL", "SET", "i8", 0, 128, "SET", "u8", 0, 256, "SET", "u8", 0, 255) == [
        None, None, 44]
    # OVERFLOW applies to the operations after it only
    assert bf(r, "k", "INCRBY", "u8", 0, 1, "OVERFLOW", "SAT", "INCRBY", "u8", 0, 1000, "OVERFLOW", "WRAP",
              "INCRBY", "u8", 0, 1) == [0, 255, 0]
    # 64-bit signed limits
    assert bf(r, "w", "SET", "i64", 0, 2 ** 63 - 1, "INCRBY", "i64", 0, 1) == [0, -2 ** 63]
    assert bf(r, "w", "OVERFLOW", "SAT", "INCRBY", "i64", 0, -1, "INCRBY", "i64", 0, -2 ** 63) == [-2 ** 63, -2 ** 63]
    assert bf(r, "w", "OVERFLOW", "SAT", "INCRBY", "i64", 0, 2 ** 63 - 1, "INCRBY", "i64", 0, 2 ** 63 - 1) == [
        -1, 2 ** 63 - 2]
    assert bf(r, "w", "OVERFLOW", "SAT", "INCRBY", "i64", 0, 2 ** 63 - 1) == [2 ** 63 - 1]
    # Redis 7.0 saturates a SET far below a signed field's range to its maximum
    assert bf(r, "q", "OVERFLOW", "SAT", "SET", "i63", 0, -2 ** 63, "GET", "i63", 0) == [0, 2 ** 62 - 1]
    assert bf(r, "q", "OVERFLOW", "SAT", "SET", "i62", 0, -3 * 2 ** 61, "GET", "i62", 0) == [
        2 ** 61 - 1, -2 ** 61]
    assert bf(r, "q", "OVERFLOW", "SAT", "SET", "i62", 0, -3 * 2 ** 61 - 1, "GET", "i62", 0) == [
        -2 ** 61, 2 ** 61 - 1]


def test_bitfield_errors(r):
    r.set("k", "x")
    for t in ("I8", "i65", "u64", "u0", "i", "8", "x8", "i-1", "u8x"):
        assert err(bf, r, "k", "GET", t, 0) == ERR_TYPE, t
    assert err(bf, r, "k", "GET", "i8", "#-1") == ERR_OFFSET
    assert err(bf, r, "k", "GET", "i8", "#") == ERR_OFFSET
    assert err(bf, r, "k", "GET", "i8", "#1x") == ERR_OFFSET
    assert err(bf, r, "k", "GET", "i8", -1) == ERR_OFFSET
    assert err(bf, r, "k", "GET", "i8", 2 ** 32) == ERR_OFFSET
    assert err(bf, r, "k", "GET", "i8", "#%d" % (2 ** 29)) == ERR_OFFSET
    assert err(bf, r, "k", "OVERFLOW", "foo", "GET", "i8", 0) == "Invalid OVERFLOW type specified"
    assert err(bf, r, "k", "foo") == "syntax error"
    assert err(bf, r, "k", "GET", "i8") == "syntax error"
    assert err(bf, r, "k", "GET", "i8", 0, "SET", "i8", 1) == "syntax error"
    assert err(bf, r, "k", "GET", "i8", 0, "OVERFLOW") == "syntax error"
    assert err(bf, r, "k", "INCRBY", "i8", 0, "foo") == "value is not an integer or out of range"
    # nothing runs when one operation is bad
    assert err(bf, r, "k", "SET", "u8", 0, 65, "GET", "u64", 0) == ERR_TYPE
    assert r.get("k") == b"x"
    r.lpush("l", "a")
    assert err(bf, r, "l", "GET", "i8", 0) == WRONGTYPE
    assert err(bf, r, "l", "SET", "i8", 0, 1) == WRONGTYPE
    assert err(bf, r, "l") == WRONGTYPE
    assert bf(r, "missing") == []


def test_bitfield_ro(r):
    r.set("k", b"\x01\x02")
    assert r.execute_command("BITFIELD_RO", "k", "GET", "u8", 0, "GET", "u8", "#1") == [1, 2]
    assert r.execute_command("BITFIELD_RO", "k") == []
    msg = "BITFIELD_RO only supports the GET subcommand"
    assert err(r.execute_command, "BITFIELD_RO", "k", "SET", "i8", 0, 1) == msg
    assert err(r.execute_command, "BITFIELD_RO", "k", "GET", "i8", 0, "INCRBY", "i8", 0, 1) == msg
    r.lpush("l", "a")
    # the write is refused before the key's type is looked at
    assert err(r.execute_command, "BITFIELD_RO", "l", "SET", "i8", 0, 1) == msg
    assert err(r.execute_command, "BITFIELD_RO", "l", "GET", "i8", 0) == WRONGTYPE
    assert err(r.execute_command, "BITFIELD_RO", "k", "SET", "i8", 0) == "syntax error"
    assert r.get("k") == b"\x01\x02"


def test_bitfield_fail_only_still_makes_the_key(r):
    assert bf(r, "k", "OVERFLOW", "FAIL", "SET", "u2", 0, 5) == [None]
    assert r.get("k") == b"\x00"


def test_bitfield_100k_operations(r):
    n = 100000
    args = []
    for i in range(n):
        args += ["INCRBY", "u8", "#%d" % (i % 1000), 1]
    t = time.time()
    res = bf(r, "k", *args)
    assert time.time() - t < 10
    assert len(res) == n
    assert res[:3] == [1, 1, 1] and res[-1] == 100
    assert r.strlen("k") == 1000
    assert r.get("k") == bytes([100]) * 1000
    args = []
    for i in range(n):
        args += ["GET", "i16", "#%d" % i]
    res = r.execute_command("BITFIELD_RO", "k", *args)
    assert len(res) == n and res[0] == 100 * 257 and res[600] == 0


def test_command_info(server):
    c = RespConn(server)
    try:
        info = c.call("COMMAND", "INFO", "setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro")
    finally:
        c.close()
    shapes = [(x[0], x[1], sorted(x[2]), x[3], x[4], x[5], sorted(x[6])) for x in info]
    assert shapes == [
        (b"setbit", 4, ["denyoom", "write"], 1, 1, 1, ["@bitmap", "@slow", "@write"]),
        (b"getbit", 3, ["fast", "readonly"], 1, 1, 1, ["@bitmap", "@fast", "@read"]),
        (b"bitcount", -2, ["readonly"], 1, 1, 1, ["@bitmap", "@read", "@slow"]),
        (b"bitpos", -3, ["readonly"], 1, 1, 1, ["@bitmap", "@read", "@slow"]),
        (b"bitop", -4, ["denyoom", "write"], 2, -1, 1, ["@bitmap", "@slow", "@write"]),
        (b"bitfield", -2, ["denyoom", "write"], 1, 1, 1, ["@bitmap", "@slow", "@write"]),
        (b"bitfield_ro", -2, ["fast", "readonly"], 1, 1, 1, ["@bitmap", "@fast", "@read"]),
    ]


# ---------------------------------------------------------------- RESP3

def test_resp3_shapes(server):
    c = RespConn(server, resp3=True)
    try:
        c.call("FLUSHALL")
        assert c.call("BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u2", 0, 5, "SET", "u2", 0, 1) == [None, 0]
        assert c.call("SETBIT", "k", 0, 1) == 0
        assert c.call("BITCOUNT", "k") == 2
        assert c.call("BITPOS", "k", 1) == 0
        assert c.call("BITOP", "NOT", "d", "k") == 1
    finally:
        c.close()
    with server.raw() as s:
        resp_exchange(s, raw_cmd("FLUSHALL"))
        out = resp_exchange(s, raw_cmd("BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u2", 0, 5))
        assert out == b"*1\r\n$-1\r\n"
        resp_exchange(s, b"HELLO 3\r\n")
        out = resp_exchange(s, raw_cmd("BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u2", 0, 5))
        assert out == b"*1\r\n_\r\n"


# ---------------------------------------------------------------- events and writes

def test_keyspace_events(r, events):
    events()
    r.setbit("k", 3, 1)
    r.setbit("k", 3, 1)  # no change: no event
    r.setbit("k", 100, 0)  # grows: an event
    assert events() == [("__keyspace@0__:k", "setbit"), ("__keyevent@0__:setbit", "k")] * 2
    bf(r, "k", "SET", "u8", 0, 5)
    bf(r, "k", "SET", "u8", 0, 5)  # same value: no event
    bf(r, "k", "GET", "u8", 0)
    assert events() == [("__keyspace@0__:k", "setbit"), ("__keyevent@0__:setbit", "k")]
    r.bitop("OR", "d", "k")
    r.bitop("OR", "d", "nx")
    r.bitop("OR", "d", "nx")  # nothing to delete: nothing happens
    assert events() == [("__keyspace@0__:d", "set"), ("__keyevent@0__:set", "d"),
                        ("__keyspace@0__:d", "del"), ("__keyevent@0__:del", "d")]


def test_watch_sees_bit_writes(server, r):
    r.set("k", "a")
    other = server.client()
    p = other.pipeline()
    p.watch("k")
    r.setbit("k", 0, 1)
    p.multi()
    p.get("k")
    with pytest.raises(redis.WatchError):
        p.execute()
    other.close()


@keel_only
def test_propagation(r, plog):
    plog()
    r.setbit("k", 1, 1)
    r.setbit("k", 1, 1)
    bf(r, "k", "INCRBY", "u8", 0, 1, "GET", "u8", 0)
    bf(r, "k", "GET", "u8", 0)
    r.execute_command("BITFIELD_RO", "k", "GET", "u8", 0)
    r.bitop("NOT", "d", "k")
    r.bitop("AND", "d", "nx")
    r.bitop("AND", "d", "nx")
    bf(r, "f", "OVERFLOW", "FAIL", "SET", "u2", 0, 5)
    assert plog() == [
        ["0", "SETBIT", "k", "1", "1"],
        ["0", "BITFIELD", "k", "INCRBY", "u8", "0", "1", "GET", "u8", "0"],
        ["0", "BITOP", "NOT", "d", "k"],
        ["0", "BITOP", "AND", "d", "nx"],
        ["0", "BITFIELD", "f", "OVERFLOW", "FAIL", "SET", "u2", "0", "5"],
    ]


# ---------------------------------------------------------------- against redis-server


def call(r, *args):
    try:
        return r.execute_command(*args)
    except redis.ResponseError as e:
        return "ERR:" + str(e)


def random_command(rnd):
    key = rnd.choice(["a", "b", "c"])
    kind = rnd.randrange(7)
    pos = lambda: rnd.choice([rnd.randrange(-20, 20), rnd.randrange(-300, 300), rnd.randrange(0, 2000)])
    if kind == 0:
        return ["SETBIT", key, rnd.randrange(0, 1200), rnd.randrange(2)]
    if kind == 1:
        return ["GETBIT", key, rnd.randrange(0, 1300)]
    if kind == 2:
        args = ["BITCOUNT", key]
        if rnd.randrange(4):
            args += [pos(), pos()]
            if rnd.randrange(2):
                args.append(rnd.choice(["BIT", "BYTE"]))
        return args
    if kind == 3:
        args = ["BITPOS", key, rnd.randrange(2)]
        n = rnd.randrange(4)
        if n >= 1:
            args.append(pos())
        if n >= 2:
            args.append(pos())
        if n == 3:
            args.append(rnd.choice(["BIT", "BYTE"]))
        return args
    if kind == 4:
        return ["BITOP", rnd.choice(["AND", "OR", "XOR"]), rnd.choice(["a", "b", "c", "d"]),
                *rnd.sample(["a", "b", "c", "nx"], rnd.randrange(1, 4))]
    if kind == 5:
        return ["BITOP", "NOT", rnd.choice(["a", "b", "c", "d"]), key]
    args = ["BITFIELD", key]
    for _ in range(rnd.randrange(1, 6)):
        sign = rnd.choice("iu")
        bits = rnd.randrange(1, 65 if sign == "i" else 64)
        t = "%s%d" % (sign, bits)
        off = rnd.choice([str(rnd.randrange(0, 900)), "#%d" % rnd.randrange(0, 20)])
        val = rnd.choice([rnd.randrange(-5, 5), rnd.randrange(-2 ** 63, 2 ** 63), rnd.randrange(-300, 300),
                          2 ** (bits - 1), -2 ** (bits - 1) - 1])
        op = rnd.randrange(4)
        if op == 0:
            args += ["GET", t, off]
        elif op == 1:
            args += ["SET", t, off, val]
        elif op == 2:
            args += ["INCRBY", t, off, val]
        else:
            args += ["OVERFLOW", rnd.choice(["WRAP", "SAT", "FAIL"])]
    return args


def test_random_against_redis(r, redis_ref):
    rnd = random.Random(7)
    redis_ref.flushall()
    for i in range(3000):
        cmd = random_command(rnd)
        want, got = call(redis_ref, *cmd), call(r, *cmd)
        assert got == want, (i, cmd)
        if i % 100 == 0:
            for k in ("a", "b", "c", "d"):
                assert r.get(k) == redis_ref.get(k), (i, k)


def test_bitmaps_from_redis_via_dump_restore(r, redis_ref):
    """Bitmaps written by redis-server, moved with DUMP/RESTORE, answer
    the same in Keel."""
    rnd = random.Random(11)
    redis_ref.flushall()
    for i in range(300):
        redis_ref.setbit("bm", rnd.randrange(0, 50000), 1)
    redis_ref.setbit("sparse", 4000000, 1)
    bf(redis_ref, "fields", "SET", "i13", 7, -1000, "SET", "u63", "#3", 2 ** 62 + 5, "INCRBY", "i64", 300, -7)
    redis_ref.set("small", "ab")
    redis_ref.setbit("small", 3, 1)  # an embstr made raw in redis
    queries = []
    for key in ("bm", "sparse", "fields", "small"):
        queries.append(["BITCOUNT", key])
        queries.append(["BITPOS", key, 1])
        queries.append(["BITPOS", key, 0])
        for _ in range(30):
            queries.append(["GETBIT", key, rnd.randrange(0, 60000)])
            queries.append(["BITCOUNT", key, rnd.randrange(-100, 7000), rnd.randrange(-100, 7000),
                            rnd.choice(["BIT", "BYTE"])])
            queries.append(["BITPOS", key, rnd.randrange(2), rnd.randrange(-100, 7000), rnd.randrange(-10, 70000),
                            rnd.choice(["BIT", "BYTE"])])
            queries.append(["BITFIELD_RO", key, "GET", "i%d" % rnd.randrange(1, 65), rnd.randrange(0, 60000),
                            "GET", "u%d" % rnd.randrange(1, 64), "#%d" % rnd.randrange(0, 1000)])
    for key in ("bm", "sparse", "fields", "small"):
        payload = redis_ref.dump(key)
        r.delete(key)
        assert r.restore(key, 0, payload) == b"OK"
        assert r.get(key) == redis_ref.get(key)
    for q in queries:
        assert call(r, *q) == call(redis_ref, *q), q
