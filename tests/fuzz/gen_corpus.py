#!/usr/bin/python3
"""Makes the seed inputs of the loader fuzz targets (tests/fuzz/corpus_rdb
and tests/fuzz/corpus_aof) from Debian's redis-server 7.0, plus a few
values in older or newer encodings built here byte by byte. The seeds are
committed; run this only to change them:

    /usr/bin/python3 tests/fuzz/gen_corpus.py

Input formats: see the comments at the top of fuzz_rdb_load.c and
fuzz_aof_load.c."""
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
RDB_DIR = os.path.join(HERE, "corpus_rdb")
AOF_DIR = os.path.join(HERE, "corpus_aof")
SEP = b"\n---\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A throwaway redis-server in its own directory."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="keel-corpus-")
        self.port = free_port()
        self.proc = subprocess.Popen(["/usr/bin/redis-server", "--port", str(self.port), "--dir", self.dir,
                                      "--save", "", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.c = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                self.c.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.c.close()
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir)


# ---- RDB encoding, for the values Redis 7.0 does not write ----

def rdb_len(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | n >> 8, n & 0xFF])
    if n < 1 << 32:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def rdb_str(s):
    s = s if isinstance(s, bytes) else str(s).encode()
    return rdb_len(len(s)) + s


def lp_entry(v):
    """One listpack entry: small integers and short strings only."""
    if isinstance(v, int) and 0 <= v < 128:
        return bytes([v, 1])
    if isinstance(v, int) and -4096 <= v < 4096:
        u = v & 0x1FFF
        return bytes([0xC0 | u >> 8, u & 0xFF, 2])
    s = v if isinstance(v, bytes) else str(v).encode()
    assert len(s) < 64
    return bytes([0x80 | len(s)]) + s + bytes([len(s) + 1])


def listpack(values):
    body = b"".join(lp_entry(v) for v in values)
    return struct.pack("<IH", 6 + len(body) + 1, len(values)) + body + b"\xff"


def stream_v3():
    """A stream in Redis 7.2's STREAM_LISTPACKS_3 form: one node (two
    entries, the second with its own fields, a third deleted), a group
    whose consumer owns one pending entry."""
    ms = 1700000000000
    node = listpack([2, 1, 1, "f", 0,                  # master: count, deleted, fields, terminator
                     2, 0, 0, "v1", 4,                  # same fields
                     0, 1, 0, 2, "a", "x", "b", "y", 8,  # own fields
                     3, 2, 0, "v3", 4])                 # deleted
    key = struct.pack(">QQ", ms, 0)
    out = bytes([21]) + rdb_len(1) + rdb_str(key) + rdb_str(node)
    out += rdb_len(2) + rdb_len(ms + 2) + rdb_len(0)    # length, last id
    out += rdb_len(ms) + rdb_len(0) + rdb_len(ms + 2) + rdb_len(0) + rdb_len(3)  # first, max deleted, added
    out += rdb_len(1) + rdb_str("g") + rdb_len(ms) + rdb_len(0) + rdb_len(1)    # group, last id, read
    out += rdb_len(1) + struct.pack(">QQ", ms, 0) + struct.pack("<Q", ms + 5) + rdb_len(1)  # PEL
    out += rdb_len(1) + rdb_str("c") + struct.pack("<QQ", ms + 5, ms + 6)  # consumer, seen, active
    out += rdb_len(1) + struct.pack(">QQ", ms, 0)
    return out


def handmade_values():
    return {
        "list-v1": bytes([1]) + rdb_len(3) + rdb_str("a") + rdb_str("b") + b"\xc0\x07",
        "zset-v1": bytes([3]) + rdb_len(2) + rdb_str("a") + b"\x031.5" + rdb_str("b") + b"\xfe",
        "set-listpack": bytes([20]) + rdb_str(listpack(["a", 5, "b", -300])),
        "hash-metadata": bytes([24]) + struct.pack("<Q", 1 << 45) + rdb_len(2)
        + rdb_len(0) + rdb_str("f") + rdb_str("v") + rdb_len(7) + rdb_str("g") + rdb_str("w"),
        "stream-v3": stream_v3(),
    }


def fill(c):
    c.set("s", "hello")
    c.set("i", "12345")
    c.set("lzf", "abcabcabc" * 8)
    c.rpush("l", "a", "1", "-5", "x" * 30)
    c.sadd("si", 1, 2, 3, -7)
    c.sadd("ss", "a", "b")
    c.zadd("z", {"a": 1.5, "b": -2, "c": float("inf")})
    c.hset("h", mapping={"f": "v", "n": 42})
    c.xadd("x", {"f": "v1"}, id="1-1")
    c.xadd("x", {"f": "v2"}, id="1-2")
    c.xadd("x", {"g": "w", "h": 7}, id="2-0")
    c.xdel("x", "1-2")
    c.xgroup_create("x", "g", id="0")
    c.xreadgroup("g", "c", {"x": ">"}, count=1)


def write(dirname, name, data):
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(data)


def rdb_corpus():
    r = Redis()
    c = r.c
    fill(c)
    for k in c.keys():
        body = c.dump(k)[:-10]
        write(RDB_DIR, "value-%s" % k.decode(), b"\x00" + body)
    write(RDB_DIR, "payload-stream", b"\x01" + c.dump("x"))
    # Full encodings from small data.
    c.config_set("zset-max-listpack-entries", 0)
    c.config_set("hash-max-listpack-entries", 0)
    c.config_set("set-max-intset-entries", 0)
    c.config_set("list-max-listpack-size", 1)
    c.zadd("z2", {"a": 1, "b": 2.5})
    c.hset("h2", mapping={"f": "v", "g": "w"})
    c.sadd("s2", 1, 2)
    c.rpush("l2", "a", "b", "c")
    for k in ("z2", "h2", "s2", "l2"):
        write(RDB_DIR, "value-%s" % k, b"\x00" + c.dump(k)[:-10])
    for name, body in handmade_values().items():
        write(RDB_DIR, "value-%s" % name, b"\x00" + body)
    # A function library, as FUNCTION DUMP and inside a file.
    c.function_load("#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    write(RDB_DIR, "functions", b"\x03" + c.function_dump()[:-10])
    # Every type in a file (loaded with rdbchecksum off: mode byte bit 2).
    c.save()
    with open(os.path.join(r.dir, "dump.rdb"), "rb") as f:
        write(RDB_DIR, "file-types", b"\x06" + f.read())
    c.flushall()
    c.set("s", "v")
    c.set("t", "w", px=10 ** 9)
    c.rpush("l", "a", "b")
    c.zadd("z", {"m": 1})
    c.hset("h", "f", "v")
    c.execute_command("SELECT", 3)
    c2 = redis.Redis(port=r.port, db=3)
    c2.sadd("s", "x", "y")
    c2.close()
    c.save()
    with open(os.path.join(r.dir, "dump.rdb"), "rb") as f:
        write(RDB_DIR, "file-mixed", b"\x02" + f.read())
    r.stop()


def aof_files(r):
    d = os.path.join(r.dir, "appendonlydir")
    out = {}
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


def aof_corpus():
    r = Redis("--appendonly", "yes", "--appendfsync", "always")
    c = r.c
    c.set("s", "v")
    c.set("t", "w", ex=1000)
    c.rpush("l", "a", "b", "c")
    c.lpop("l")
    c.sadd("set", "x", 1)
    c.zadd("z", {"a": 1, "b": 2})
    c.hset("h", mapping={"f": "v", "n": 1})
    c.hincrby("h", "n", 5)
    c.xadd("x", {"f": "v"}, id="5-1")
    c.xgroup_create("x", "g", id="0")
    c.xreadgroup("g", "c", {"x": ">"})
    p = c.pipeline(transaction=True)
    p.incr("n")
    p.append("s", "more")
    p.execute()
    c.restore("r", 0, c.dump("z"))
    c.execute_command("SELECT", 2)
    c.execute_command("SET", "in2", "v")
    c.execute_command("SELECT", 0)
    c.expire("s", 500)
    c.delete("t")
    files = aof_files(r)
    r.stop()
    base = files["appendonly.aof.1.base.rdb"]
    incr = files["appendonly.aof.1.incr.aof"]
    manifest = files["appendonly.aof.manifest"]
    write(AOF_DIR, "generated", b"\x00" + SEP.join([b"", base, incr]))
    write(AOF_DIR, "raw-manifest", b"\x01" + SEP.join([manifest, base, incr]))
    # Cut inside the last command, loaded with aof-load-truncated, checked
    # and fixed first.
    write(AOF_DIR, "truncated", b"\x0e" + SEP.join([b"", base, incr[:-7]]))
    # Split over two incremental files, no base, checked.
    cut = incr.rindex(b"*", 0, incr.index(b"\r\nXADD\r\n"))
    write(AOF_DIR, "two-incr", b"\x04" + SEP.join([b"", b"", incr[:cut], incr[cut:]]))
    # A base in command form (aof-use-rdb-preamble no).
    r = Redis("--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    r.c.set("a", "1")
    r.c.rpush("q", "x")
    r.c.bgrewriteaof()
    for _ in range(200):
        if b"appendonly.aof.2.base.aof" in aof_files(r)["appendonly.aof.manifest"]:
            break
        time.sleep(0.05)
    r.c.sadd("after", "m")
    files = aof_files(r)
    r.stop()
    base = files["appendonly.aof.2.base.aof"]
    incr = files["appendonly.aof.2.incr.aof"]
    write(AOF_DIR, "command-base", b"\x00" + SEP.join([b"", base, incr]))


def main():
    for d in (RDB_DIR, AOF_DIR):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    rdb_corpus()
    aof_corpus()


if __name__ == "__main__":
    main()
