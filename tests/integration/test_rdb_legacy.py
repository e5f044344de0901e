"""dump.rdb files of Redis 6.2 and older (RDB version 9): small lists,
hashes and sorted sets as ziplists, lists as quicklists of ziplists, Redis
2.x hashes as zipmaps. The files are written here, from the format's
description (persist/rdb_legacy.h), with seeded random contents that reach
every ziplist encoding (the 13 immediate integers, int8/16/24/32/64, strings
of 6-, 14- and 32-bit lengths, entries after one of 254 bytes or more, whose
prevlen takes 5 bytes); Keel and Debian's Redis 7.0 both load each file, and
every value must read the same and DEBUG DIGEST must agree. Damaged copies
must be refused with an error, never crash the server or load in part."""
import os
import random
import struct

import pytest
import redis
from conftest import REDIS_BIN, SERVER, Server
from test_rdb import crc64

IS_REDIS = os.path.basename(SERVER).startswith("redis")


def rdb_len(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | n >> 8, n & 0xFF])
    return b"\x80" + struct.pack(">I", n)


def rdb_str(b):
    return rdb_len(len(b)) + b


def zl_entry(value, prev):
    out = bytes([prev]) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
    if isinstance(value, int):
        if 0 <= value <= 12:
            return out + bytes([0xF1 + value])
        for enc, size in ((0xFE, 1), (0xC0, 2), (0xF0, 3), (0xD0, 4), (0xE0, 8)):
            if -(1 << (8 * size - 1)) <= value < 1 << (8 * size - 1):
                return out + bytes([enc]) + value.to_bytes(size, "little", signed=True)
        raise ValueError(value)
    n = len(value)
    if n < 64:
        return out + bytes([n]) + value
    if n < 16384:
        return out + bytes([0x40 | n >> 8, n & 0xFF]) + value
    return out + b"\x80" + struct.pack(">I", n) + value


def ziplist(values):
    body, prev, tail = b"", 0, 10
    for v in values:
        tail = 10 + len(body)
        e = zl_entry(v, prev)
        prev = len(e)
        body += e
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, tail, min(len(values), 65535)) + body + b"\xff"


def zm_len(n):
    return bytes([n]) if n < 254 else b"\xfe" + struct.pack("<I", n)


def zipmap(pairs, rnd):
    out = bytes([min(len(pairs), 254)])
    for f, v in pairs:
        free = rnd.randrange(4)
        out += zm_len(len(f)) + f + zm_len(len(v)) + bytes([free]) + v + b"\x00" * free
    return out + b"\xff"


def element(rnd):
    kind = rnd.randrange(8)
    if kind == 0:
        return rnd.randrange(13)
    if kind == 1:
        size = rnd.choice((1, 2, 3, 4, 8))
        return rnd.randrange(-(1 << (8 * size - 1)), 1 << (8 * size - 1))
    if kind == 2:
        return os.urandom(rnd.choice((100, 300, 20000)))
    return ("e%d" % rnd.randrange(10**6)).encode() * rnd.randrange(1, 4)


def as_bytes(v):
    return str(v).encode() if isinstance(v, int) else v


def legacy_rdb(seed):
    """(file bytes, {key: (type, expected contents)})."""
    rnd = random.Random(seed)
    keys, out = {}, b"REDIS0009" + b"\xfe\x00"
    for i in range(40):
        kind = rnd.choice(("list", "quicklist", "zset", "hash", "zipmap"))
        key = ("%s:%d" % (kind, i)).encode()
        n = rnd.randrange(1, 40)
        if kind in ("list", "quicklist"):
            nodes = [[element(rnd) for _ in range(n)] for _ in range(1 if kind == "list" else rnd.randrange(1, 5))]
            if kind == "list":
                out += b"\x0a" + rdb_str(key) + rdb_str(ziplist(nodes[0]))
            else:
                out += b"\x0e" + rdb_str(key) + rdb_len(len(nodes))
                for node in nodes:
                    out += rdb_str(ziplist(node))
            keys[key] = ("list", [as_bytes(v) for node in nodes for v in node])
        elif kind == "zset":
            members = {("m%d" % rnd.randrange(10**6)).encode(): rnd.choice(
                (rnd.randrange(-1000, 1000), "%.17g" % rnd.uniform(-1e6, 1e6))) for _ in range(n)}
            flat = []
            for m, s in members.items():
                flat += [m, s if isinstance(s, int) else s.encode()]
            out += b"\x0c" + rdb_str(key) + rdb_str(ziplist(flat))
            keys[key] = ("zset", {m: float(s) for m, s in members.items()})
        else:
            fields = {("f%d" % rnd.randrange(10**6)).encode(): as_bytes(element(rnd)) for _ in range(n)}
            if kind == "hash":
                flat = [v for pair in fields.items() for v in pair]
                out += b"\x0d" + rdb_str(key) + rdb_str(ziplist(flat))
            else:
                out += b"\x09" + rdb_str(key) + rdb_str(zipmap(list(fields.items()), rnd))
            keys[key] = ("hash", fields)
    out += b"\xff"
    return out + struct.pack("<Q", crc64(out)), keys


def load(binary, data, tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    (d / "dump.rdb").write_bytes(data)
    args = ["--save", "", "--appendonly", "no", "--dir", str(d)]
    if binary == REDIS_BIN:
        args += ["--enable-debug-command", "yes"]
    return Server(*args, binary=binary)


def load_both(data, tmp_path):
    """Keel and Redis 7.0, each started on its own copy of data; the first
    is stopped again if the second does not start."""
    keel = load(SERVER, data, tmp_path, "keel")
    try:
        return [keel, load(REDIS_BIN, data, tmp_path, "redis")]
    except BaseException:
        keel.stop()
        raise


def read_back(c, keys):
    got = {}
    for k, (kind, _) in keys.items():
        if kind == "list":
            got[k] = c.lrange(k, 0, -1)
        elif kind == "zset":
            got[k] = dict(c.zrange(k, 0, -1, withscores=True))
        else:
            got[k] = c.hgetall(k)
    return got


@pytest.mark.skipif(IS_REDIS, reason="compares Keel with Redis")
@pytest.mark.parametrize("seed", range(4))
def test_redis6_files_load_as_in_redis(seed, tmp_path):
    if not os.access(REDIS_BIN, os.X_OK):
        pytest.skip("needs Debian's redis-server")
    data, keys = legacy_rdb(seed)
    servers = load_both(data, tmp_path)
    try:
        kc, rc = [s.client() for s in servers]
        assert kc.dbsize() == len(keys)
        got = read_back(kc, keys)
        assert got == {k: v for k, (_, v) in keys.items()}
        assert got == read_back(rc, keys)
        assert kc.execute_command("DEBUG", "DIGEST") == rc.execute_command("DEBUG", "DIGEST")
        for k in keys:
            assert kc.execute_command("DEBUG", "DIGEST-VALUE", k) == rc.execute_command("DEBUG", "DIGEST-VALUE", k)
        # What Keel saves back is a 7.0 file Redis reads the same.
        assert kc.save() is True
    finally:
        for s in servers:
            s.stop()


@pytest.mark.parametrize("seed", range(3))
def test_damaged_legacy_blobs_are_refused(seed, tmp_path):
    """Every byte of one key's ziplist or zipmap changed in turn (checksum
    off, so only the blob's own checks stand guard): the server either
    refuses the file with an error, or loads values that read back (a
    change that leaves a well-formed blob), and never crashes."""
    rnd = random.Random(seed)
    kind = rnd.choice((0x0a, 0x0c, 0x0d, 0x09))
    def short(i):  # small entries: most bytes are structure, not data
        return rnd.choice((rnd.randrange(13), rnd.randrange(-30000, 30000), b"s%d" % i))

    if kind == 0x09:
        blob = zipmap([(b"f%d" % i, as_bytes(short(i))) for i in range(5)], rnd)
    else:
        blob = ziplist([short(i) if kind == 0x0a else b"x%d" % i if i % 2 == 0 else i for i in range(6)])
    refused = loaded = 0
    for at in rnd.sample(range(len(blob)), min(len(blob), 40)):
        bad = bytearray(blob)
        bad[at] ^= 1 << rnd.randrange(8)
        data = b"REDIS0009\xfe\x00" + bytes([kind]) + rdb_str(b"k") + rdb_str(bytes(bad)) + b"\xff" + b"\x00" * 8
        d = tmp_path / ("d%d" % at)
        d.mkdir()
        (d / "dump.rdb").write_bytes(data)
        try:
            s = Server("--save", "", "--appendonly", "no", "--dir", str(d))
        except RuntimeError as e:
            assert "Corrupt RDB" in str(e) or "integrity" in str(e) or "Fatal error" in str(e), str(e)[-500:]
            refused += 1
            continue
        c = s.client()
        assert c.type("k") in (b"list", b"zset", b"hash", b"none")
        c.execute_command("DEBUG", "DIGEST-VALUE", "k")
        s.stop()
        loaded += 1
    assert refused > 0


@pytest.mark.skipif(IS_REDIS, reason="compares Keel with Redis")
def test_empty_collections_are_skipped_as_in_redis(tmp_path):
    """Old files may hold empty collections, which cannot exist in the
    keyspace: they are skipped, as Redis 7.0 skips them, and the rest loads."""
    if not os.access(REDIS_BIN, os.X_OK):
        pytest.skip("needs Debian's redis-server")
    body = b"REDIS0009\xfe\x00"
    body += b"\x02" + rdb_str(b"set") + rdb_len(0)
    body += b"\x0a" + rdb_str(b"list_ziplist") + rdb_str(ziplist([]))
    body += b"\x0e" + rdb_str(b"quicklist") + rdb_len(0)
    body += b"\x0e" + rdb_str(b"quicklist_empty_node") + rdb_len(1) + rdb_str(ziplist([]))
    body += b"\x0c" + rdb_str(b"zset_ziplist") + rdb_str(ziplist([]))
    body += b"\x0d" + rdb_str(b"hash_ziplist") + rdb_str(ziplist([]))
    body += b"\x00" + rdb_str(b"real") + rdb_str(b"value") + b"\xff"
    data = body + struct.pack("<Q", crc64(body))
    servers = load_both(data, tmp_path)
    try:
        for s in servers:
            c = s.client()
            assert c.keys("*") == [b"real"] and c.get("real") == b"value"
            # In the log, in Redis's words.
            log = s.log_text()
            for key in ("set", "list_ziplist", "quicklist", "quicklist_empty_node", "zset_ziplist", "hash_ziplist"):
                assert "rdbLoadObject skipping empty key: %s\n" % key in log
            assert "Done loading RDB, keys loaded: 1, keys expired: 0, empty keys skipped: 6." in log
    finally:
        for s in servers:
            s.stop()


def broken_ziplist():
    blob = bytearray(ziplist([b"a", b"b", b"c", b"d"]))
    blob[0] ^= 0x40  # zlbytes no longer the blob's length
    return bytes(blob)


@pytest.mark.skipif(IS_REDIS, reason="compares Keel with Redis")
@pytest.mark.parametrize("kind,blob,why", [
    (0x0d, broken_ziplist(), "Hash ziplist integrity check failed"),
    (0x09, b"\x00\xff", "Zipmap integrity check failed"),  # an empty zipmap
    (0x0d, ziplist([b"a", b"1", b"a", b"2"]), "Hash ziplist integrity check failed"),  # a duplicate field
], ids=["broken-ziplist", "empty-zipmap", "ziplist-dup"])
def test_a_corrupt_file_stops_the_start_in_redis_words(tmp_path, kind, blob, why):
    """A value that fails its checks stops the start-up, and the log says
    why as Redis's does (tools and tests look for these lines)."""
    if not os.access(REDIS_BIN, os.X_OK):
        pytest.skip("needs Debian's redis-server")
    body = b"REDIS0009\xfe\x00" + bytes([kind]) + rdb_str(b"h") + rdb_str(blob) + b"\xff"
    data = body + struct.pack("<Q", crc64(body))
    for binary in (SERVER, REDIS_BIN):
        d = tmp_path / os.path.basename(binary)
        d.mkdir()
        (d / "dump.rdb").write_bytes(data)
        with pytest.raises(RuntimeError) as e:
            Server("--save", "", "--appendonly", "no", "--dir", str(d), binary=binary).stop()
        log = str(e.value)
        assert why in log, log[-800:]
        assert "Terminating server after rdb file reading failure." in log, log[-800:]
