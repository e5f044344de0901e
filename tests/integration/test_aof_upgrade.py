"""Upgrading from Redis 6's append-only file: one file, <appendfilename>
in `dir`, RESP commands, optionally after an RDB preamble. With
`appendonly yes` and no manifest, Keel (as Redis 7) writes a manifest
naming that file as the base and moves it into the AOF directory, keeps its
name until the first rewrite replaces it, and finishes a move that a crash
interrupted after the manifest was written. A manifest that already names
its base in the AOF directory wins over an old file in `dir`; a manifest
naming a base that is nowhere refuses to start.

Every test passes against redis-server 7.0.15 too
(KEEL_SERVER=/usr/bin/redis-server). The RDB preamble comes from Debian's
Redis (a SAVE), followed by commands, as Redis 6 wrote it."""
import os
import re
import time

import pytest
from conftest import SERVER
from persist_util import REDIS, TempDirs, read_file, removal_fixture, spawn_fixture, start_expect_failure

mkdir = TempDirs("keel-aofup-")
_remove_tmpdirs = removal_fixture(mkdir)
spawn = spawn_fixture(mkdir)

OLD = "appendonly.aof"
AOF_DIR = "appendonlydir"


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def commands_tail():
    far = int(time.time() * 1000) + 3_600_000
    return (resp("SELECT", 0) + resp("SET", "k1", "v1") + resp("RPUSH", "l", "a", "b") +
            resp("SET", "ttl", "t") + resp("PEXPIREAT", "ttl", far) + resp("SELECT", 2) + resp("SET", "in2", "x"))


def rdb_preamble(spawn):
    """A dump.rdb of Redis 7.0 holding pre1 and a hash, as the bytes Redis 6
    put before the commands of its AOF."""
    r = spawn(REDIS, None)
    c = r.client()
    c.set("pre1", "p")
    c.hset("h", mapping={"f": "1", "g": "2"})
    c.save()
    data = read_file(r.path("dump.rdb"))
    r.stop()
    return data


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def manifest_text(dir):
    return read_file(os.path.join(dir, AOF_DIR, OLD + ".manifest")).decode()


def check_old_data(node, preamble):
    c = node.client()
    assert c.get("k1") == b"v1"
    assert c.lrange("l", 0, -1) == [b"a", b"b"]
    assert 3_500_000 < c.pttl("ttl") <= 3_600_000
    assert node.client(2).get("in2") == b"x"
    if preamble:
        assert c.get("pre1") == b"p"
        assert c.hgetall("h") == {b"f": b"1", b"g": b"2"}


def wait_manifest(dir, want, timeout=20):
    deadline = time.time() + timeout
    while manifest_text(dir) != want:
        assert time.time() < deadline, manifest_text(dir)
        time.sleep(0.05)


@pytest.mark.parametrize("form", ["commands", "rdb-preamble"])
def test_old_single_file_becomes_the_base(spawn, form):
    preamble = rdb_preamble(spawn) if form == "rdb-preamble" else b""
    data = preamble + commands_tail()
    d = mkdir()
    write(os.path.join(d, OLD), data)
    a = spawn(SERVER, d, "--appendonly", "yes")
    check_old_data(a, preamble)
    # moved, unchanged, under its own name; appends go to incr file 1
    assert not os.path.exists(os.path.join(d, OLD))
    assert read_file(os.path.join(d, AOF_DIR, OLD)) == data
    assert manifest_text(d) == "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    a.client().set("k4", "v4")
    b = spawn.restart(a)
    check_old_data(b, preamble)
    assert b.client().get("k4") == b"v4"
    # the first rewrite replaces the old file like any base
    b.client().execute_command("BGREWRITEAOF")
    wait_manifest(d, "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n")
    deadline = time.time() + 10
    while os.path.exists(os.path.join(d, AOF_DIR, OLD)):
        assert time.time() < deadline, "the old base was not removed"
        time.sleep(0.05)
    b.client().set("k5", "v5")
    c = spawn.restart(b)
    check_old_data(c, preamble)
    assert c.client().get("k4") == b"v4" and c.client().get("k5") == b"v5"


def test_interrupted_upgrade_is_finished(spawn):
    """A manifest naming the old file as the base, the file still in dir:
    the move is done now."""
    d = mkdir()
    write(os.path.join(d, OLD), commands_tail())
    write(os.path.join(d, AOF_DIR, OLD + ".manifest"), b"file appendonly.aof seq 1 type b\n")
    a = spawn(SERVER, d, "--appendonly", "yes")
    check_old_data(a, b"")
    assert not os.path.exists(os.path.join(d, OLD))
    assert os.path.exists(os.path.join(d, AOF_DIR, OLD))
    assert manifest_text(d) == "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"


def test_base_in_the_aof_dir_wins_over_an_old_file(spawn):
    d = mkdir()
    write(os.path.join(d, OLD), resp("SET", "stale", "1"))
    write(os.path.join(d, AOF_DIR, OLD + ".manifest"), b"file appendonly.aof seq 1 type b\n")
    write(os.path.join(d, AOF_DIR, OLD), resp("SET", "fresh", "1"))
    a = spawn(SERVER, d, "--appendonly", "yes")
    c = a.client()
    assert c.exists("stale") == 0
    assert c.get("fresh") == b"1"
    assert read_file(os.path.join(d, OLD)) == resp("SET", "stale", "1")  # left alone


def test_manifest_naming_a_missing_old_file_refuses_to_start():
    d = mkdir()
    write(os.path.join(d, AOF_DIR, OLD + ".manifest"), b"file appendonly.aof seq 1 type b\n")
    rc, log = start_expect_failure(SERVER, d, "--appendonly", "yes")
    assert rc != 0
    assert re.search(r"appendonly\.aof .*No such file or directory", log), log[-2000:]


@pytest.mark.parametrize("truncated", ["yes", "no"])
def test_old_file_with_a_torn_command(spawn, truncated):
    """The old file is the last file until an incremental one follows: a
    command cut short at its end is cut off with aof-load-truncated yes
    (and the file with it), refused with no."""
    d = mkdir()
    whole = commands_tail()
    write(os.path.join(d, OLD), whole + resp("SET", "cut", "x")[:-4])
    args = ("--appendonly", "yes", "--aof-load-truncated", truncated)
    if truncated == "no":
        rc, log = start_expect_failure(SERVER, d, *args)
        assert rc != 0
        assert "Unexpected end of file reading the append only file" in log, log[-2000:]
        return
    a = spawn(SERVER, d, *args)
    check_old_data(a, b"")
    assert a.client().exists("cut") == 0
    assert read_file(os.path.join(d, AOF_DIR, OLD)) == whole
    assert re.search(r"Truncating the AOF \S*appendonly\.aof at offset %d" % len(whole), a.log_text())
