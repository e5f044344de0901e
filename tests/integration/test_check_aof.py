"""keel-check-aof (keel-server --check-aof, or the binary under that name):
validates a manifest and its files as redis-check-aof does, and with --fix
cuts a torn last command off the last incremental file, after which the
server and Debian's redis-check-aof accept the log."""
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
    assert rc == 1 and "checksum mismatch" in out
    data = open(incr, "rb").read()
    open(incr, "wb").write(b"!" + data[1:])
    rc, out = check(incr)
    assert rc == 1 and "has a format error at offset 0" in out


def test_usage_and_binary_name(tmp_path):
    rc, out = check()
    assert rc == 1 and "Usage: keel-check-aof" in out
    link = tmp_path / "keel-check-aof"
    os.symlink(SERVER, link)
    f = tmp_path / "x.aof"
    f.write_bytes(b"*1\r\n$4\r\nPING\r\n")
    p = subprocess.run([str(link), str(f)], stdout=subprocess.PIPE)
    assert p.returncode == 0 and b"is valid" in p.stdout
