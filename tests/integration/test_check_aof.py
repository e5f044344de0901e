"""keel-check-aof (keel-server --check-aof, or the binary under that name):
validates a manifest and its files as redis-check-aof does, and with --fix
cuts a torn last command off the last incremental file, after which the
server and Debian's redis-check-aof accept the log. An RDB (a base, or the
preamble of Redis 6's single file) is read value by value."""
import os
import subprocess

import pytest
from conftest import SERVER

KEEL_IS_REDIS = SERVER.endswith("redis-server")
pytestmark = pytest.mark.skipif(KEEL_IS_REDIS, reason="Keel's checker")

TORN = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nab"


def make_aof(keel):
    s = keel("--save", "", "--appendonly", "yes")
    r = s.client()
    r.set("a", "1")
    r.rpush("l", "x", "y")
    s.stop()
    d = os.path.join(s.dir, "appendonlydir")
    return s, d, os.path.join(d, "appendonly.aof.manifest"), os.path.join(d, "appendonly.aof.1.incr.aof")


def check(*args):
    p = subprocess.run([SERVER, "--check-aof"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode()


def test_valid_log(keel):
    _, _, manifest, _ = make_aof(keel)
    rc, out = check(manifest)
    assert rc == 0 and "All AOF files and manifest are valid" in out
    assert subprocess.run(["redis-check-aof", manifest], stdout=subprocess.DEVNULL).returncode == 0


def test_torn_tail_is_reported_and_fixed(keel):
    s, _, manifest, incr = make_aof(keel)
    size = os.path.getsize(incr)
    with open(incr, "ab") as f:
        f.write(TORN)
    rc, out = check(manifest)
    assert rc == 1 and "is truncated at offset %d" % size in out
    assert os.path.getsize(incr) == size + len(TORN)  # without --fix nothing changes
    rc, out = check("--fix", manifest)
    assert rc == 0 and "Successfully truncated" in out
    assert os.path.getsize(incr) == size
    assert subprocess.run(["redis-check-aof", manifest], stdout=subprocess.DEVNULL).returncode == 0
    s2 = keel("--dir", s.dir, "--save", "", "--appendonly", "yes", "--aof-load-truncated", "no")
    r = s2.client()
    assert r.get("a") == b"1" and r.lrange("l", 0, -1) == [b"x", b"y"]


def test_corrupt_base_and_format_errors(keel):
    _, d, manifest, incr = make_aof(keel)
    base = os.path.join(d, "appendonly.aof.1.base.rdb")
    data = bytearray(open(base, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(base, "wb").write(bytes(data))
    rc, out = check(manifest)
    assert rc == 1 and "appendonly.aof.1.base.rdb is not valid" in out
    data = open(incr, "rb").read()
    open(incr, "wb").write(b"!" + data[1:])
    rc, out = check(incr)
    assert rc == 1 and "has a format error at offset 0" in out


def snapshot(keel, *args):
    """A dump.rdb holding a string, a hash, a key with a TTL and a function
    library: the values the checker walks."""
    s = keel("--save", "", *args)
    r = s.client()
    r.set("a", "1")
    r.hset("h", mapping={"f": "1", "g": "2"})
    r.set("t", "x", ex=3600)
    r.function_load("#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    r.save()
    s.stop()
    return open(os.path.join(s.dir, "dump.rdb"), "rb").read()


def test_redis6_preamble_file_is_walked_then_its_commands_checked(keel, tmp_path):
    """Redis 6's single appendonly.aof: an RDB, then commands. The checker
    finds where the RDB ends by reading it, checks the commands after it,
    and --fix cuts a torn last command; the server then loads the file."""
    rdb = snapshot(keel)
    tail = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\ny\r\n"
    f = tmp_path / "appendonly.aof"
    f.write_bytes(rdb + tail)
    rc, out = check(str(f))
    assert rc == 0, out
    assert "RDB preamble of %s is valid (%d bytes)" % (f, len(rdb)) in out
    assert "commands=1" in out and "AOF %s is valid" % f in out
    f.write_bytes(rdb + tail + TORN)
    rc, out = check(str(f))
    assert rc == 1 and "is truncated at offset %d" % (len(rdb) + len(tail)) in out
    rc, out = check("--fix", str(f))
    assert rc == 0 and f.read_bytes() == rdb + tail
    assert subprocess.run(["redis-check-aof", str(f)], stdout=subprocess.DEVNULL).returncode == 0
    s = keel("--dir", str(tmp_path), "--save", "", "--appendonly", "yes")
    r = s.client()
    assert r.get("a") == b"1" and r.get("x") == b"y" and r.fcall("f", 0) == 1


def test_rdb_without_checksum_is_still_walked(keel, tmp_path):
    """With rdbchecksum no the file has no CRC to compare: a value cut
    short is found by reading it."""
    rdb = snapshot(keel, "--rdbchecksum", "no")
    f = tmp_path / "base.rdb"
    f.write_bytes(rdb)
    rc, out = check(str(f))
    assert rc == 0 and "RDB base %s is valid" % f in out
    cut = rdb.index(b"lib") + 8  # inside the function library's code
    f.write_bytes(rdb[:cut])
    rc, out = check(str(f))
    assert rc == 1 and "RDB %s is not valid" % f in out


def test_usage_and_binary_name(tmp_path):
    rc, out = check()
    assert rc == 1 and "Usage: keel-check-aof" in out
    link = tmp_path / "keel-check-aof"
    os.symlink(SERVER, link)
    f = tmp_path / "x.aof"
    f.write_bytes(b"*1\r\n$4\r\nPING\r\n")
    p = subprocess.run([str(link), str(f)], stdout=subprocess.PIPE)
    assert p.returncode == 0 and b"is valid" in p.stdout
