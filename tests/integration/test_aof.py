"""The append-only file, Redis 7's multi-part format: with `appendonly yes`
the directory `appenddirname` (default appendonlydir) inside `dir` holds the
manifest `<appendfilename>.manifest` naming a base file (an RDB) and an
incremental file (RESP commands), loaded in that order at start-up.

Covered: durability under SIGKILL with `appendfsync always` (every
acknowledged write of several concurrent writers survives, and what survives
is a per-writer prefix) and `everysec` (nothing acknowledged more than 2.5 s
before the kill is lost); a graceful restart (SHUTDOWN, SIGTERM) keeps every
type, TTLs as absolute times, several databases, the effects of random
commands, blocking pops, transactions, scripts and functions; the files
themselves (manifest lines, file names, the RESP in the incr file, custom
appenddirname/appendfilename); directories exchanged with Debian's
redis-server 7.0.15 in both directions (one with a non-empty base left by a
rewrite on the Redis side); the AOF winning over a dump.rdb; a torn last
command (cut off and logged with aof-load-truncated yes, the file usable
afterwards; refused with no); a corrupt command in the middle, a missing
file and a bad manifest (refused, naming the file).

Every test passes against redis-server 7.0.15 (KEEL_SERVER=/usr/bin/redis-server)
except the one marked keel_only: Redis 7.0 started with appendonly yes on a
dir holding a dump.rdb but no AOF directory ignores the dump.rdb and starts
empty (redis/redis#12484), where Keel loads it and builds the AOF from it.
Stream groups are compared exactly only on Keel: Redis 7.0's AOF loses a
group's entries-read (and so its lag) and the delivery counts of re-reads of
a consumer's history (see forget_what_redis70_aof_forgets in persist_util.py);
against Redis, and wherever the files were written by Redis, those are left
out. Interop tests always use /usr/bin/redis-server as the other side. Every
server is started by `spawn` with its own --dir and `--save ""`, so a
restart can only find the data in the AOF (the tests check no dump.rdb was
written). BGREWRITEAOF and CONFIG SET appendonly are not exercised on the
server under test. The helpers shared with test_rdb.py live in
persist_util.py."""
import os
import random
import re
import shutil
import signal
import subprocess
import socket
import threading
import time

import pytest
import redis
from conftest import SERVER
from persist_util import (IS_REDIS, RAW_REPLIES, REDIS, TempDirs, add_big_stream, add_drained_and_empty_streams,
                          assert_refused, assert_same, read_file, removal_fixture, restart_after_expiry, snapshot,
                          spawn_fixture, start_expect_failure)

keel_only = pytest.mark.skipif(IS_REDIS, reason="Keel-only: Redis 7.0 ignores dump.rdb when appendonly is on")

AOF_DIR = "appendonlydir"
MANIFEST = "appendonly.aof.manifest"
ALWAYS = ("--appendonly", "yes", "--appendfsync", "always")
DBS = range(7)


# ---------------------------------------------------------------- servers

mkdir = TempDirs("keel-aof-")
_remove_tmpdirs = removal_fixture(mkdir)
spawn = spawn_fixture(mkdir)


# ---------------------------------------------------------------- the files

MANIFEST_LINE = re.compile(r"^file (\S+) seq (\d+) type ([bhi])$")


def manifest(dir, dirname=AOF_DIR, filename="appendonly.aof"):
    """The manifest's lines as [(name, seq, type)]."""
    text = read_file(os.path.join(dir, dirname, filename + ".manifest")).decode()
    assert text.endswith("\n"), repr(text)
    out = []
    for line in text.splitlines():
        m = MANIFEST_LINE.match(line)
        assert m, "bad manifest line %r in %r" % (line, text)
        out.append((m.group(1), int(m.group(2)), m.group(3)))
    return out


def current_files(dir, dirname=AOF_DIR, filename="appendonly.aof"):
    """(base, [incr...]) named by the manifest, as paths."""
    entries = manifest(dir, dirname, filename)
    base = [n for n, _, t in entries if t == "b"]
    incr = [n for n, _, t in entries if t == "i"]
    assert len(base) == 1 and incr, entries
    return os.path.join(dir, dirname, base[0]), [os.path.join(dir, dirname, n) for n in incr]


def incr_path(node):
    _, incr = current_files(node.dir)
    assert len(incr) == 1
    return incr[0]


def parse_resp_commands(data):
    """An incr file as a list of commands (lists of bytes); the file must
    hold nothing but complete RESP arrays of bulk strings."""
    out, i = [], 0
    while i < len(data):
        assert data[i:i + 1] == b"*", "not an array at offset %d: %r" % (i, data[i:i + 40])
        j = data.index(b"\r\n", i)
        argc = int(data[i + 1:j])
        i = j + 2
        cmd = []
        for _ in range(argc):
            assert data[i:i + 1] == b"$", "not a bulk string at offset %d: %r" % (i, data[i:i + 40])
            j = data.index(b"\r\n", i)
            n = int(data[i + 1:j])
            cmd.append(data[j + 2:j + 2 + n])
            assert data[j + 2 + n:j + 4 + n] == b"\r\n"
            i = j + 4 + n
        out.append(cmd)
    return out


def normalized(cmds):
    """Commands with the name upper-cased."""
    return [[c[0].upper()] + c[1:] for c in cmds]


# ---------------------------------------------------------------- the dataset

LIB = ("#!lua name=aoflib\n"
       "redis.register_function('aof_set', function(keys, args) return redis.call('SET', keys[1], args[1]) end)\n"
       "redis.register_function{function_name='aof_get', description='reads a key',\n"
       "  callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={'no-writes'}}\n")
SCORES = [float("inf"), float("-inf"), -3.5, 0.1, 1e-300, 0.0, 2.0**53, 1.7976931348623157e308, 5e-324]


def populate_streams(c, first):
    """Streams with groups, consumers, pending entries (redelivered and
    claimed: delivery counts 1..3), deletions, trimming, XSETID."""
    x = c.execute_command
    if first:
        for i in range(1, 11):
            if i % 3 == 0:
                x("XADD", "x:s", "*", "other", "field-%d" % i)
            else:
                x("XADD", "x:s", "*", "f", "v%d" % i, "bin", b"\x00\xff\r\n" * i)
        ids = [e[0] for e in x("XRANGE", "x:s", "-", "+")]
        x("XDEL", "x:s", ids[4])
        x("XGROUP", "CREATE", "x:s", "g1", "0")
        x("XGROUP", "CREATE", "x:s", "g2", "$")
        x("XGROUP", "CREATE", "x:s", "g3", ids[2], "ENTRIESREAD", "3")
        x("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "x:s", ">")
        add_big_stream(c)
        x("XGROUP", "CREATE", "x:big", "gb", "0")
        x("XREADGROUP", "GROUP", "gb", "w1", "COUNT", "300", "STREAMS", "x:big", ">")
        return
    ids = [e[0] for e in x("XRANGE", "x:s", "-", "+")]
    x("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "x:s", ">")
    x("XREADGROUP", "GROUP", "g1", "alice", "STREAMS", "x:s", "0")  # redelivery: count 2
    x("XACK", "x:s", "g1", ids[1])
    x("XCLAIM", "x:s", "g1", "bob", "0", ids[0])  # count 3, now bob's
    x("XGROUP", "CREATECONSUMER", "x:s", "g1", "carol")
    x("XGROUP", "CREATECONSUMER", "x:s", "g1", "gone")
    x("XGROUP", "DELCONSUMER", "x:s", "g1", "gone")
    x("XREADGROUP", "GROUP", "g3", "dave", "NOACK", "COUNT", "2", "STREAMS", "x:s", ">")
    x("XADD", "x:s", "*", "f", "late")
    x("XREADGROUP", "GROUP", "g2", "erin", "STREAMS", "x:s", ">")
    x("XTRIM", "x:big", "MAXLEN", "~", "400")
    # logged as "MAXLEN = <length reached> LIMIT 50", which replay obeys
    x("XTRIM", "x:big", "MAXLEN", "~", "380", "LIMIT", "50")
    x("XADD", "x:big", "MAXLEN", "~", "370", "LIMIT", "40", "%d-0" % (10**12 + 800), "f", "limited")
    x("XTRIM", "x:big", "MINID", "%d-0" % (10**12 + 350))
    x("XREADGROUP", "GROUP", "gb", "w2", "COUNT", "20", "STREAMS", "x:big", ">")
    pend = x("XPENDING", "x:big", "gb", "-", "+", 100)
    x("XACK", "x:big", "gb", *[e[0] for e in pend[:60]])
    x("XAUTOCLAIM", "x:big", "gb", "w3", "0", "0", "COUNT", "5")
    x("XGROUP", "CREATE", "x:s", "g4", "0")
    x("XGROUP", "SETID", "x:s", "g4", ids[6], "ENTRIESREAD", "6")
    x("XSETID", "x:big", "%d-0" % (10**12 + 5000), "ENTRIESADDED", "9000",
      "MAXDELETEDID", "%d-0" % (10**12 + 4000))
    add_drained_and_empty_streams(c)


def populate_first(node):
    """Every type in db 0, other databases, TTLs (what a base file holds
    when the Redis side rewrites in between)."""
    rng = random.Random(20240611)
    c = node.raw(0)
    x = c.execute_command
    x("SET", "s:plain", "hello")
    x("SET", "s:empty", "")
    x("SET", "s:resp", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\ny\r\n")  # RESP inside a value
    x("SET", "s:bin", bytes(range(256)))
    x("SET", "s:big", rng.randbytes(20_000))
    x("SET", "k\x00\xff \r\n:binkey", "binary key name")
    x("SET", "s:int", "12345")
    x("SET", "s:ex", "e", "EX", 1000)
    x("SET", "s:keepttl", "k1", "PX", 500_000)
    x("SET", "s:persist", "p", "EX", 100)
    x("SET", "s:todelete", "d")
    x("SET", "s:rename-src", "r")
    x("SET", "s:move", "m")
    x("RPUSH", "l:a", *["e%d" % i for i in range(50)])
    x("RPUSH", "l:big", *[rng.randbytes(rng.randint(0, 200)) for _ in range(2000)])
    x("SADD", "set:int", 1, 2, 3, -5, 2**40)
    x("SADD", "set:str", *["m%d" % i for i in range(300)])
    x("SADD", "set:pop", *["p%d" % i for i in range(40)])
    x("SADD", "set:other", "m1", "m2", "zz")
    x("ZADD", "z:a", *[v for i, s in enumerate(SCORES) for v in (repr(s), "m%d" % i)])
    x("ZADD", "z:big", *[v for i in range(300) for v in (rng.uniform(-1e6, 1e6), "zm-%d" % i)])
    x("HSET", "h:a", *[v for i in range(30) for v in ("f%d" % i, "v%d" % i)])
    x("HSET", "h:big", *[v for i in range(400) for v in ("field-%d" % i, "value-%d" % (i * 7919))])
    populate_streams(c, first=True)
    c.close()
    for db in (1, 2, 3):
        c = node.raw(db)
        c.execute_command("SET", "s:plain", "db%d's value" % db)
        c.execute_command("RPUSH", "l:db%d" % db, *[str(i) for i in range(20 * db)])
        c.close()
    c = node.raw(4)
    c.execute_command("SET", "swap:a", "was in 4")
    c.close()
    c = node.raw(5)
    c.execute_command("HSET", "swap:b", "was", "5")
    c.close()


def blocked_pop(node, key):
    """A BLPOP that blocks, served by an RPUSH from another client (Redis
    propagates the push and then the pop)."""
    s = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    try:
        s.sendall(b"*3\r\n$5\r\nBLPOP\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(key), key.encode()))
        c = node.client()
        deadline = time.time() + 5
        while c.info("clients")["blocked_clients"] < 1:
            assert time.time() < deadline
            time.sleep(0.01)
        assert c.rpush(key, "first", "second") == 2
        want = b"*2\r\n$%d\r\n%s\r\n$5\r\nfirst\r\n" % (len(key), key.encode())
        got = b""
        while len(got) < len(want):
            chunk = s.recv(4096)
            assert chunk
            got += chunk
        assert got == want
        c.close()
    finally:
        s.close()


def populate_second(node):
    """Writes on top of populate_first (what an incr file holds after the
    base): commands Redis propagates as something else (relative TTLs,
    random pops, float increments, blocking pops, scripts, XREADGROUP...)."""
    c = node.raw(0)
    x = c.execute_command
    now = int(time.time())
    x("APPEND", "s:plain", " world")
    x("SETRANGE", "s:empty", 3, "abc")
    x("INCRBY", "s:int", 10)
    x("INCRBYFLOAT", "s:float", "1.5")
    x("INCRBYFLOAT", "s:float", "0.1")
    x("SET", "s:keepttl", "k2", "KEEPTTL")
    x("PERSIST", "s:persist")
    x("SET", "s:expire", "x")
    x("EXPIRE", "s:expire", 5000)
    x("SET", "s:getex", "g")
    x("GETEX", "s:getex", "EX", 900)
    x("SET", "s:exat", "t", "EXAT", now + 3600)
    x("SET", "s:pexpireat", "t")
    x("PEXPIREAT", "s:pexpireat", (now + 7200) * 1000)
    x("SET", "s:expired-now", "v")
    x("PEXPIREAT", "s:expired-now", 1000)  # in the past: deleted
    x("SETEX", "s:setex", 600, "v")
    x("GETDEL", "s:todelete")
    x("RENAME", "s:rename-src", "s:rename-dst")
    x("COPY", "s:plain", "s:copied", "DB", 2)
    x("MOVE", "s:move", 3)
    x("MSET", "s:m1", "1", "s:m2", "2")
    # lists
    x("LPUSH", "l:a", "head")
    x("LSET", "l:a", 3, "changed")
    x("LINSERT", "l:a", "BEFORE", "e10", "inserted")
    x("LREM", "l:a", 1, "e20")
    x("LTRIM", "l:a", 0, 40)
    x("LMOVE", "l:a", "l:b", "LEFT", "RIGHT")
    x("LPOP", "l:a", 2)
    x("RPOPLPUSH", "l:big", "l:b")
    blocked_pop(node, "l:blk")
    # sets
    x("SREM", "set:str", "m1", "m2", "m3")
    x("SMOVE", "set:str", "set:other", "m100")
    x("SPOP", "set:pop", 3)
    x("SPOP", "set:pop")
    x("SINTERSTORE", "set:inter", "set:str", "set:other")
    x("SDIFFSTORE", "set:diff", "set:other", "set:str")
    # sorted sets
    x("ZINCRBY", "z:a", 2.5, "m2")
    x("ZREM", "z:a", "m3")
    x("ZPOPMIN", "z:big", 2)
    x("ZADD", "z:a", "GT", "CH", 100, "m5", -100, "m6")
    x("ZREMRANGEBYSCORE", "z:big", 0, 1000)
    x("ZRANGESTORE", "z:store", "z:big", 0, 9)
    # hashes
    x("HINCRBY", "h:a", "cnt", 5)
    x("HINCRBY", "h:a", "cnt", -2)
    x("HINCRBYFLOAT", "h:a", "fl", "2.25")
    x("HDEL", "h:a", "f2", "f3")
    x("HSETNX", "h:a", "f4", "no")
    x("HSETNX", "h:a", "new", "yes")
    populate_streams(c, first=False)
    # a transaction, scripts (their effects), a function
    p = c.pipeline(transaction=True)
    p.execute_command("INCR", "tx:n")
    p.execute_command("RPUSH", "tx:l", "a", "b")
    p.execute_command("SET", "tx:s", "v", "PX", 400_000)
    p.execute()
    x("EVAL", "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('RPUSH', KEYS[2], ARGV[1])",
      2, "lua:s", "lua:l", "from lua")
    x("EVAL", "return redis.call('SPOP', KEYS[1])", 1, "set:pop")
    x("EVAL", "return redis.call('SET', KEYS[1], redis.call('TIME')[1] .. ':' .. redis.call('TIME')[2])",
      1, "lua:time")
    x("FUNCTION", "LOAD", LIB)
    x("FCALL", "aof_set", 1, "fn:key", "set by a function")
    c.close()
    # other databases
    c = node.raw(1)
    c.execute_command("SET", "ttl:db1", "x", "EX", 7200)
    c.execute_command("ZADD", "z:db1", 1, "a", "inf", "b")
    c.close()
    c = node.raw(3)
    c.execute_command("XADD", "x:db3", "1-1", "k", "v")
    c.execute_command("PEXPIRE", "x:db3", 500_000)
    c.close()
    c = node.raw(0)
    c.execute_command("SWAPDB", 4, 5)
    c.close()
    c = node.raw(6)
    c.execute_command("SET", "flushed", "x")
    c.execute_command("FLUSHDB")
    c.execute_command("SET", "after-flush", "y")
    c.close()


def populate(node):
    populate_first(node)
    populate_second(node)


# ---------------------------------------------------------------- reading it back

def check_dataset(snap):
    """A few values of the dataset spelled out, so that a dataset both
    servers get wrong the same way still fails."""
    d = snap["data"]
    assert d[(0, b"s:plain")] == ("string", b"hello world")
    assert d[(0, b"s:empty")] == ("string", b"\x00\x00\x00abc")
    assert d[(0, b"s:int")] == ("string", b"12355")
    assert d[(0, b"s:float")] == ("string", b"1.6")
    assert d[(0, b"s:keepttl")] == ("string", b"k2")
    assert d[(0, b"s:rename-dst")] == ("string", b"r")
    assert d[(2, b"s:copied")] == ("string", b"hello world")
    assert d[(3, b"s:move")] == ("string", b"m")
    assert d[(0, b"lua:s")] == ("string", b"from lua")
    assert d[(0, b"fn:key")] == ("string", b"set by a function")
    assert d[(0, b"l:blk")] == ("list", [b"second"])
    assert d[(0, b"tx:l")] == ("list", [b"a", b"b"])
    assert d[(5, b"swap:a")] == ("string", b"was in 4")
    assert d[(4, b"swap:b")] == ("hash", [(b"was", b"5")])
    assert d[(6, b"after-flush")] == ("string", b"y")
    t, pop = d[(0, b"set:pop")]
    assert t == "set" and len(pop) == 35
    assert dict(d[(0, b"h:a")][1])[b"fl"] == b"2.25"
    for k in (b"s:todelete", b"s:rename-src", b"s:move", b"s:expired-now"):
        assert (0, k) not in d
    assert (6, b"flushed") not in d
    ttls = snap["ttls"]
    assert ttls[(0, b"s:persist")] == -1
    assert 0 < ttls[(0, b"s:keepttl")] <= 500_000
    assert 0 < ttls[(0, b"s:exat")] <= 3_600_000
    x = dict(d[(0, b"x:s")][1])
    assert x["length"] == 10
    g1 = [g for g in x["group-list"] if g["name"] == b"g1"][0]
    assert [(c, n) for _, c, n in g1["pel"]] == [(b"bob", 3), (b"alice", 2), (b"bob", 1), (b"bob", 1)]
    assert g1["consumer-list"] == [(b"alice", 1), (b"bob", 3), (b"carol", 0)]
    assert snap["functions"][b"aoflib"][2] == LIB.encode()


# ---------------------------------------------------------------- 1, 2: durability under SIGKILL

class Writer(threading.Thread):
    """One connection writing in a loop until the server goes away: SET of
    its own keys, INCR of a shared counter, RPUSH to a shared list, XADD to
    a shared stream. `sent` lists what it sent, in order; `acked` how many
    of them were answered (the answered ones are a prefix of `sent`), with
    the time of each answer."""

    def __init__(self, port, tag, pause=0.0):
        super().__init__(daemon=True)
        self.port, self.tag, self.pause = port, tag, pause
        self.sets, self.set_acks = [], []      # (key, value); ack times
        self.pushes, self.push_acks = [], []   # element; ack times
        self.xadds, self.xadd_acks = [], []    # element; (id, ack time)
        self.incrs, self.incr_acks = 0, []     # count sent; (result, ack time)
        self.error = None

    def run(self):
        c = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)
        for name in RAW_REPLIES:
            c.response_callbacks.pop(name, None)
        i = 0
        try:
            while True:
                i += 1
                key = b"k:%s:%d" % (self.tag, i)
                value = b"v:%s:%d:%s" % (self.tag, i, b"x" * (i % 40))
                self.sets.append((key, value))
                assert c.execute_command("SET", key, value) is True
                self.set_acks.append(time.monotonic())
                if i % 3 == 0:
                    self.incrs += 1
                    n = c.execute_command("INCR", "counter")
                    self.incr_acks.append((n, time.monotonic()))
                if i % 4 == 1:
                    e = b"%s:%d" % (self.tag, i)
                    self.pushes.append(e)
                    c.execute_command("RPUSH", "list", e)
                    self.push_acks.append(time.monotonic())
                if i % 5 == 2:
                    e = b"%s:%d" % (self.tag, i)
                    self.xadds.append(e)
                    xid = c.execute_command("XADD", "stream", "*", "src", e)
                    self.xadd_acks.append((xid, time.monotonic()))
                if self.pause:
                    time.sleep(self.pause)
        except redis.ConnectionError:
            pass  # the server was killed
        except BaseException as e:  # noqa: B902 — reported by the test
            self.error = e
        finally:
            try:
                c.close()
            except Exception:
                pass


def surviving_prefix(name, present, sent, must):
    """`present` (bools for `sent`, in order) must be a prefix of at least
    `must` items: what survives of one writer's sequence is a prefix."""
    m = present.index(False) if False in present else len(present)
    assert not any(present[m:]), "%s: item %d is missing but a later one is present" % (name, m)
    assert m >= must, "%s: only %d of %d items present, %d were acknowledged/required" % (
        name, m, len(sent), must)
    return m


class Model:
    """Every writer of every cycle, and what the first restart after each
    cycle found of it (which must then never change)."""

    def __init__(self):
        self.writers = []       # (writer, kill time)
        self.found = {}         # id(writer) -> (sets, pushes, xadds) present after its cycle

    def verify(self, node, grace=None):
        """grace=None: every acknowledged write must be there; grace=s:
        only those acknowledged more than s seconds before the kill."""
        c = node.raw()
        for name in RAW_REPLIES:
            c.response_callbacks.pop(name, None)
        lst = c.lrange("list", 0, -1)
        assert len(set(lst)) == len(lst), "duplicate list elements"
        entries = c.execute_command("XRANGE", "stream", "-", "+")
        by_src = {}
        for xid, fields in entries:
            assert len(fields) == 2 and fields[0] == b"src", fields
            assert fields[1] not in by_src, "duplicate stream entry %r" % fields[1]
            by_src[fields[1]] = xid
        in_list = set(lst)
        ids = [e[0] for e in entries]
        assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split(b"-"))))
        counter = int(c.get("counter") or 0)
        sent_incrs = sum(w.incrs for w, _ in self.writers)
        acked_incr = max([n for w, killed_at in self.writers for n, t in w.incr_acks
                          if grace is None or t < killed_at - grace] or [0])
        assert acked_incr <= counter <= sent_incrs, (acked_incr, counter, sent_incrs)
        known_list, known_stream, known_keys = set(), set(), 0
        for w, killed_at in self.writers:
            def must(acks, when=lambda a: a):
                if grace is None:
                    return len(acks)
                return sum(1 for a in acks if when(a) < killed_at - grace)
            # SET keys: present ones hold their value, and form a prefix.
            values = []
            for i in range(0, len(w.sets), 2000):
                values += c.mget([k for k, _ in w.sets[i:i + 2000]])
            present = []
            for (k, v), got in zip(w.sets, values):
                assert got is None or got == v, "%r holds %r, not %r" % (k, got, v)
                present.append(got is not None)
            n_sets = surviving_prefix("SET of writer %s" % w.tag.decode(), present, w.sets, must(w.set_acks))
            known_keys += n_sets
            # list elements: this writer's, in its order, a prefix of what it pushed.
            mine = [e for e in lst if e.startswith(w.tag + b":")]
            assert mine == w.pushes[:len(mine)], "list order of writer %s" % w.tag.decode()
            n_pushes = surviving_prefix("RPUSH of writer %s" % w.tag.decode(),
                                        [e in in_list for e in w.pushes], w.pushes, must(w.push_acks))
            known_list.update(mine)
            # stream entries: a prefix, with the IDs XADD answered.
            n_xadds = surviving_prefix("XADD of writer %s" % w.tag.decode(),
                                       [e in by_src for e in w.xadds], w.xadds,
                                       must(w.xadd_acks, lambda a: a[1]))
            for e, (xid, _) in zip(w.xadds, w.xadd_acks):
                assert by_src.get(e, xid) == xid, (e, by_src[e], xid)
            known_stream.update(w.xadds[:n_xadds])
            # Once found after a restart, never lost (nor gained) later.
            now = (n_sets, n_pushes, n_xadds)
            assert self.found.setdefault(id(w), now) == now, (w.tag, self.found[id(w)], now)
        assert in_list == known_list, "list elements no writer sent"
        assert set(by_src) == known_stream, "stream entries no writer sent"
        assert c.dbsize() == known_keys + (1 if counter else 0) + (1 if lst else 0) + (1 if entries else 0)
        c.close()


def kill_cycles(spawn, args, cycles, duration, grace=None, pause=0.0, threads=4):
    """Start on one dir, verify, write from `threads` connections for a
    random `duration` (lo, hi) seconds, SIGKILL; `cycles` times, then a last
    restart and verification."""
    rng = random.Random()
    d = mkdir()
    model = Model()
    total = 0
    for cycle in range(cycles):
        node = spawn(SERVER, d, *args)
        model.verify(node, grace)
        writers = [Writer(node.port, b"c%dt%d" % (cycle, t), pause) for t in range(threads)]
        for w in writers:
            w.start()
        time.sleep(rng.uniform(*duration))
        # Kill under load, once something was acknowledged: on a busy CI
        # disk the first fsyncs can take longer than the shortest window.
        deadline = time.monotonic() + 10
        while not any(w.set_acks for w in writers) and time.monotonic() < deadline:
            time.sleep(0.01)
        killed_at = time.monotonic()
        node.kill9()
        for w in writers:
            w.join(timeout=15)
            assert not w.is_alive(), "writer still running after the kill"
            assert w.error is None, "writer %s failed: %r" % (w.tag.decode(), w.error)
            model.writers.append((w, killed_at))
        acked = sum(len(w.set_acks) for w in writers)
        assert acked > 0, "no write was acknowledged in cycle %d:\n%s" % (cycle, node.log_text()[-2000:])
        if grace is not None:
            old = sum(1 for w in writers for a in w.set_acks if a < killed_at - grace)
            assert old > 0, "cycle %d too short to check anything" % cycle
        total += acked
    node = spawn(SERVER, d, *args)
    model.verify(node, grace)
    assert not os.path.exists(node.path("dump.rdb"))
    node.stop()
    return total


def test_kill9_appendfsync_always_keeps_every_acknowledged_write(spawn):
    total = kill_cycles(spawn, ALWAYS, cycles=20, duration=(0.05, 0.3))
    assert total > 200


def test_kill9_appendfsync_everysec_loses_at_most_two_seconds(spawn):
    kill_cycles(spawn, ("--appendonly", "yes", "--appendfsync", "everysec"), cycles=3,
                duration=(2.8, 3.3), grace=2.5, pause=0.0005)


# ---------------------------------------------------------------- 3: graceful restart

@pytest.mark.parametrize("how", ["shutdown", "sigterm"])
def test_restart_keeps_every_type(spawn, how):
    a = spawn(SERVER, None, "--appendonly", "yes")
    populate(a)
    time.sleep(1.0)  # a TTL replayed as relative would come back longer than it was
    before = snapshot(a, DBS)
    check_dataset(before)
    if how == "shutdown":
        a.shutdown()
    else:
        a.proc.send_signal(signal.SIGTERM)
        assert a.wait_exit() == 0
    assert not os.path.exists(a.path("dump.rdb"))
    b = spawn.restart(a)
    after = snapshot(b, DBS)
    assert_same(before, after, exact=not IS_REDIS)
    c = b.raw()
    assert c.execute_command("FCALL_RO", "aof_get", 1, "s:plain") == b"hello world"
    # Loaded groups keep working: carol gets what nobody in g1 was given.
    new = c.execute_command("XREADGROUP", "GROUP", "g1", "carol", "STREAMS", "x:s", ">")
    assert len(new[0][1]) == 5
    # And a second restart (now on top of what the first one appended) too.
    c.set("after", "restart")
    before = snapshot(b, DBS)
    b2 = spawn.restart(b)
    assert_same(before, snapshot(b2, DBS), exact=not IS_REDIS)


def test_expired_while_down_stays_expired(spawn):
    c = restart_after_expiry(spawn, spawn(SERVER, None, *ALWAYS), lambda node: node.kill9())
    assert 55_000 < c.pttl("later") <= 60_000 - 500


# ---------------------------------------------------------------- 4: the files

@pytest.mark.parametrize("names", [None, ("aofs", "my.aof")], ids=["default", "custom"])
def test_files_on_disk(spawn, names):
    dirname, filename = names or (AOF_DIR, "appendonly.aof")
    args = list(ALWAYS)
    if names:
        args += ["--appenddirname", dirname, "--appendfilename", filename]
    a = spawn(SERVER, None, *args)
    c = a.client()
    assert c.info("persistence")["aof_enabled"] == 1
    assert c.config_get("appendonly") == {"appendonly": "yes"}
    assert c.config_get("appendfsync") == {"appendfsync": "always"}
    assert c.config_get("appenddirname") == {"appenddirname": dirname}
    assert c.config_get("appendfilename") == {"appendfilename": filename}
    # Before any write: the manifest, an RDB base and an empty incr file.
    assert manifest(a.dir, dirname, filename) == [(filename + ".1.base.rdb", 1, "b"),
                                                  (filename + ".1.incr.aof", 1, "i")]
    base, (incr,) = current_files(a.dir, dirname, filename)
    assert read_file(base).startswith(b"REDIS0")
    assert read_file(incr) == b""
    assert sorted(os.listdir(a.path(dirname))) == sorted([filename + ".manifest", filename + ".1.base.rdb",
                                                          filename + ".1.incr.aof"])
    assert not os.path.exists(a.path(AOF_DIR if names else "aofs"))
    # Each write, once answered, is in the incr file as RESP.
    c.set("key1", "value1")
    assert c.rpush("list", "a", "b") == 2
    assert c.execute_command("INCR", "n") == 1
    want = [[b"SELECT", b"0"], [b"SET", b"key1", b"value1"], [b"RPUSH", b"list", b"a", b"b"], [b"INCR", b"n"]]
    data = read_file(incr)
    assert b"SET" in data.upper() and b"key1" in data
    assert normalized(parse_resp_commands(data)) == want
    # Another database: a SELECT first; reads and failed writes add nothing.
    c1 = a.client(3)
    c1.set("in3", "x")
    assert c1.get("in3") == b"x"
    with pytest.raises(redis.ResponseError):
        c1.incr("in3")
    c.set("back", "0")
    want += [[b"SELECT", b"3"], [b"SET", b"in3", b"x"], [b"SELECT", b"0"], [b"SET", b"back", b"0"]]
    assert normalized(parse_resp_commands(read_file(incr))) == want
    assert c.info("persistence")["aof_enabled"] == 1
    # The restarted server loads them and keeps appending to the same files.
    b = spawn.restart(a)
    assert b.client().get("key1") == b"value1"
    assert b.client(3).get("in3") == b"x"
    assert manifest(b.dir, dirname, filename) == [(filename + ".1.base.rdb", 1, "b"),
                                                  (filename + ".1.incr.aof", 1, "i")]
    b.client().set("key2", "value2")
    cmds = normalized(parse_resp_commands(read_file(incr)))
    assert cmds[:len(want)] == want
    assert cmds[-1] == [b"SET", b"key2", b"value2"]
    assert not os.path.exists(b.path("dump.rdb"))


def test_appendonly_no_writes_no_aof(spawn):
    a = spawn(SERVER, None, "--appendonly", "no")
    c = a.client()
    c.set("k", "v")
    assert c.info("persistence")["aof_enabled"] == 0
    assert not os.path.exists(a.path(AOF_DIR))


# ---------------------------------------------------------------- 5: interop with Redis 7.0

def test_server_loads_redis_aof(spawn):
    """Redis writes the dataset's first half, rewrites (so the base is an
    RDB holding it), writes the second half to the new incr file."""
    r = spawn(REDIS, None, "--appendonly", "yes")
    populate_first(r)
    c = r.client()
    c.execute_command("BGREWRITEAOF")
    deadline = time.time() + 20
    while True:
        info = c.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"] \
                and manifest(r.dir)[0][1] >= 2:
            break
        assert time.time() < deadline
        time.sleep(0.05)
    populate_second(r)
    before = snapshot(r, DBS)
    check_dataset(before)
    r.shutdown()
    base, incr = current_files(r.dir)
    assert os.path.basename(base) == "appendonly.aof.2.base.rdb"
    assert len(read_file(base)) > 50_000  # the first half is in the base
    assert b"XCLAIM" in b"".join(read_file(p) for p in incr).upper()
    assert not os.path.exists(r.path("dump.rdb"))
    # What Redis itself rebuilds from these files, on a copy.
    copy = mkdir()
    shutil.copytree(r.path(AOF_DIR), os.path.join(copy, AOF_DIR))
    ref = spawn(REDIS, copy, "--appendonly", "yes")
    rebuilt = snapshot(ref, DBS)
    ref.stop()
    assert_same(before, rebuilt, exact=False)
    k = spawn.restart(r, SERVER)
    loaded = snapshot(k, DBS)
    assert_same(rebuilt, loaded)
    assert_same(before, loaded, exact=False)
    c = k.raw()
    assert c.execute_command("FCALL", "aof_set", 1, "fn:key", "again") == b"OK"
    new = c.execute_command("XREADGROUP", "GROUP", "g1", "carol", "STREAMS", "x:s", ">")
    assert len(new[0][1]) == 5
    # The loaded server appends to Redis's incr file; Redis loads the result.
    c.set("from-server", "yes")
    before = snapshot(k, DBS)
    r2 = spawn.restart(k, REDIS)
    assert_same(before, snapshot(r2, DBS), exact=not IS_REDIS)


def test_redis_loads_server_aof(spawn):
    k = spawn(SERVER, None, "--appendonly", "yes")
    populate(k)
    before = snapshot(k, DBS)
    check_dataset(before)
    k.stop()
    assert not os.path.exists(k.path("dump.rdb"))
    r = spawn.restart(k, REDIS)
    assert_same(before, snapshot(r, DBS), exact=not IS_REDIS)
    assert r.raw().execute_command("FCALL", "aof_set", 1, "fn:key", "again") == b"OK"


# ---------------------------------------------------------------- 6: dump.rdb without an AOF

@keel_only
def test_dump_rdb_without_aof_is_loaded_and_becomes_the_aof(spawn):
    a = spawn(SERVER, None, "--appendonly", "no")
    c = a.client()
    c.set("from-rdb", "1")
    c.rpush("list", "a", "b", "c")
    c.set("ttl", "t", ex=3600)
    assert a.raw().execute_command("SAVE") in (b"OK", True)
    a.stop()
    assert os.path.exists(a.path("dump.rdb"))
    assert not os.path.exists(a.path(AOF_DIR))
    b = spawn(SERVER, a.dir, "--appendonly", "yes")
    c = b.client()
    assert c.get("from-rdb") == b"1"
    assert c.lrange("list", 0, -1) == [b"a", b"b", b"c"]
    assert 3_500_000 < c.pttl("ttl") <= 3_600_000
    assert c.dbsize() == 3
    assert os.path.isdir(b.path(AOF_DIR))
    assert [t for _, _, t in manifest(b.dir)] == ["b", "i"]
    c.set("after", "2")
    b.stop()
    # The AOF alone holds it all now.
    os.unlink(b.path("dump.rdb"))
    n = spawn(SERVER, a.dir, "--appendonly", "yes")
    c = n.client()
    assert c.get("from-rdb") == b"1"
    assert c.lrange("list", 0, -1) == [b"a", b"b", b"c"]
    assert c.get("after") == b"2"
    assert c.dbsize() == 4


def test_aof_wins_over_dump_rdb(spawn):
    """Both a dump.rdb and an AOF directory: only the AOF is loaded."""
    a = spawn(SERVER, None, "--appendonly", "no")
    a.client().set("only-in-rdb", "r")
    a.client().set("both", "rdb")
    assert a.client().execute_command("SAVE")
    a.stop()
    rdb = read_file(a.path("dump.rdb"))
    b = spawn(SERVER, None, *ALWAYS)
    b.client().set("both", "aof")
    b.client().set("only-in-aof", "a")
    b.stop()
    with open(b.path("dump.rdb"), "wb") as f:
        f.write(rdb)
    n = spawn.restart(b)
    c = n.client()
    assert c.get("both") == b"aof"
    assert c.get("only-in-aof") == b"a"
    assert c.exists("only-in-rdb") == 0
    assert c.dbsize() == 2


# ---------------------------------------------------------------- 7: a torn last command

TAILS = {
    "star": b"*",
    "header": b"*3\r\n$3\r\nSE",
    "mid-value": b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nab",
    "no-crlf": b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nabcde",
    "half-crlf": b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nabcde\r",
    "missing-arg": b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n",
}


def test_replay_keeps_the_ttl_of_a_key_written_again_before_it_expired(spawn):
    """A list gets a TTL and is pushed to again before it expires; the
    server dies and restarts after the TTL has passed. The replay must not
    expire the key between the two pushes (the log would hold the DEL if it
    had expired then): the second push extends the list that has the TTL,
    so the key is gone after the restart, not reborn without a TTL."""
    a = spawn(SERVER, None, *ALWAYS)
    c = a.client()
    c.rpush("list", "foo")
    assert c.pexpire("list", 300) is True
    c.rpush("list", "bar")
    c.set("plain", "v")
    a.kill9()
    time.sleep(0.5)
    b = spawn.restart(a)
    c = b.client()
    assert c.llen("list") == 0
    assert c.ttl("list") == -2
    assert c.get("plain") == b"v"
    b = spawn.restart(b)
    assert b.client().exists("list") == 0


BAD_MANIFESTS = {
    "blank line": ("file appendonly.aof.1.base.rdb seq 1 type b\n\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
                   "Invalid AOF manifest file format"),
    "missing key": ("file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof type i\n",
                    "Invalid AOF manifest file format"),
    "odd parameter": ("file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i x\n",
                      "Invalid AOF manifest file format"),
    "unknown type": ("file appendonly.aof.1.base.rdb seq 1 type x\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
                     "Unknown AOF file type"),
    "two bases": ("file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.2.base.rdb seq 2 type b\n"
                  "file appendonly.aof.1.incr.aof seq 1 type i\n", "Found duplicate base file information"),
    "out of order": ("file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
                     "file appendonly.aof.1.incr.aof seq 1 type i\n", "Found a non-monotonic sequence number"),
    "too long": ("file appendonly.aof.1.base.rdb seq 1 type b" + " x y" * 400 + "\n", "contains too long line"),
    "empty": ("", "Found an empty AOF manifest"),
    "missing file": ("file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.9.incr.aof seq 9 type i\n",
                     "appendonly.aof.9.incr.aof for reading: No such file or directory"),
}


@pytest.mark.parametrize("case", list(BAD_MANIFESTS))
def test_a_malformed_manifest_stops_start_up(spawn, case):
    """A manifest Redis 7.0 would refuse is refused with its words rather
    than loaded in part; unknown keys in pairs are skipped (a newer
    version's), and the same files load again once it is put right."""
    a = spawn(SERVER, None, *ALWAYS)
    a.client().set("k", "v")
    a.stop()
    mpath = os.path.join(a.dir, AOF_DIR, MANIFEST)
    good = read_file(mpath)
    text, words = BAD_MANIFESTS[case]
    with open(mpath, "w") as f:
        f.write(text)
    rc, log = start_expect_failure(SERVER, a.dir, *ALWAYS)
    assert rc != 0 and words in log, log[-2000:]
    with open(mpath, "wb") as f:
        f.write(good.replace(b" type b\n", b" type b newkey newvalue\n"))
    assert spawn.restart(a).client().get("k") == b"v"


def torn(spawn, tail):
    """A dir whose incr file holds k0..k49 and then `tail`."""
    a = spawn(SERVER, None, *ALWAYS)
    c = a.client()
    for i in range(50):
        c.set("k%d" % i, "v%d" % i)
    c.rpush("list", *range(10))
    a.kill9()
    path = incr_path(a)
    with open(path, "ab") as f:
        f.write(tail)
    return a, path


def check_torn_loaded(c):
    assert c.mget(["k%d" % i for i in range(50)]) == [b"v%d" % i for i in range(50)]
    assert c.lrange("list", 0, -1) == [b"%d" % i for i in range(10)]
    assert c.exists("x") == 0
    assert c.dbsize() == 51


@pytest.mark.parametrize("tail", list(TAILS), ids=list(TAILS))
def test_torn_tail_loaded_with_aof_load_truncated_yes(spawn, tail):
    a, path = torn(spawn, TAILS[tail])
    size = os.path.getsize(path)
    b = spawn.restart(a)
    check_torn_loaded(b.client())
    assert "truncat" in b.log_text().lower(), b.log_text()[-3000:]
    assert b.client().config_get("aof-load-truncated") == {"aof-load-truncated": "yes"}
    # The torn bytes are gone: what is appended next starts a clean command.
    assert os.path.getsize(path) == size - len(TAILS[tail])
    b.client().set("y", "after")
    assert normalized(parse_resp_commands(read_file(path)))[-1] == [b"SET", b"y", b"after"]
    n = spawn.restart(b)
    c = n.client()
    assert c.get("y") == b"after"
    assert c.exists("x") == 0
    assert c.dbsize() == 52
    assert "truncat" not in n.log_text().lower()


@pytest.mark.parametrize("tail", ["star", "mid-value", "no-crlf"])
def test_torn_tail_refused_with_aof_load_truncated_no(spawn, tail):
    a, path = torn(spawn, TAILS[tail])
    data = read_file(path)
    rc, log = start_expect_failure(SERVER, a.dir, *ALWAYS, "--aof-load-truncated", "no")
    assert_refused(rc, log, os.path.basename(path))
    assert read_file(path) == data  # left as it was
    # With the default, the same files load.
    b = spawn(SERVER, a.dir, *ALWAYS)
    check_torn_loaded(b.client())


def test_appendfsync_always_replies_after_the_write(spawn):
    """Under appendfsync always a write's reply leaves only once the log
    holds it: with DEBUG AOF-FLUSH-SLEEP stretching each write of the log,
    the reply of INCR comes after the sleep, and the file has grown."""
    a = spawn(SERVER, None, *ALWAYS, "--enable-debug-command", "yes")
    c = a.client()
    c.set("x", "1")
    path = incr_path(a)
    c.execute_command("DEBUG", "AOF-FLUSH-SLEEP", 300000)
    size = os.path.getsize(path)
    start = time.monotonic()
    assert c.incr("x") == 2
    assert time.monotonic() - start >= 0.29
    assert os.path.getsize(path) > size
    c.execute_command("DEBUG", "AOF-FLUSH-SLEEP", 0)
    start = time.monotonic()
    assert c.incr("x") == 3
    assert time.monotonic() - start < 0.29


def test_a_command_that_fails_in_the_replay(spawn):
    """A command of the log that fails when replayed (INCR of a string) is
    logged as Redis logs it and skipped; with propagation-error-behavior
    panic the server stops instead of starting with data the log did not
    mean (panic-on-replicas concerns replicas only)."""
    a = spawn(SERVER, None, *ALWAYS)
    a.client().set("k", "foo")
    a.stop()
    with open(incr_path(a), "ab") as f:
        f.write(b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n")
    rc, log = start_expect_failure(SERVER, a.dir, *ALWAYS, "--propagation-error-behavior", "panic")
    assert rc != 0
    assert ("This server panicked sending an error to its AOF-loading-client after processing the command 'incr'"
            in log), log[-3000:]
    b = spawn(SERVER, a.dir, *ALWAYS, "--propagation-error-behavior", "panic-on-replicas")
    assert b.client().get("k") == b"foo"
    assert ("== CRITICAL == This server is sending an error to its AOF-loading-client: 'value is not an integer or "
            "out of range' after processing the command 'incr'") in b.log_text()


def test_aof_load_truncated_config(spawn):
    a = spawn(SERVER, None, *ALWAYS, "--aof-load-truncated", "no")
    assert a.client().config_get("aof-load-truncated") == {"aof-load-truncated": "no"}


# ---------------------------------------------------------------- 8: corrupt files

def corrupt_middle(data, how):
    """Break the command that begins at the 25th command of `data`."""
    starts = [m.start() for m in re.finditer(rb"\*3\r\n\$3\r\nSET\r\n", data)]
    assert len(starts) >= 50
    at = starts[25]
    data = bytearray(data)
    if how == "star":
        data[at] = ord("!")
    elif how == "dollar":
        data[at + 4] = ord("!")            # the $ of the command name
    elif how == "count":
        data[at + 1] = ord("x")            # *x
    elif how == "bulk-length":
        data[at + 5] = ord("9")            # $9 for "SET": swallows the next line
    return bytes(data)


@pytest.mark.parametrize("how", ["star", "dollar", "count", "bulk-length"])
def test_corrupt_command_in_middle_refused(spawn, how):
    a = spawn(SERVER, None, *ALWAYS)
    c = a.client()
    for i in range(50):
        c.set("k%d" % i, "v%d" % i)
    a.stop()
    path = incr_path(a)
    bad = corrupt_middle(read_file(path), how)
    with open(path, "wb") as f:
        f.write(bad)
    for flag in ("yes", "no"):
        rc, log = start_expect_failure(SERVER, a.dir, *ALWAYS, "--aof-load-truncated", flag)
        assert_refused(rc, log, os.path.basename(path))
        assert read_file(path) == bad  # nothing cut off


@keel_only
@pytest.mark.parametrize("cmd,why", [
    ((b"XGROUP", b"DESTROY", b"s"), b"wrong number of arguments for 'XGROUP'"),
    ((b"OBJECT", b"ENCODING"), b"wrong number of arguments for 'OBJECT'"),
    ((b"XGROUP", b"NOSUCH", b"s", b"g"), b"Unknown command 'XGROUP'"),
])
def test_bad_subcommand_in_log_refused(spawn, cmd, why):
    """A logged container command is checked like a client's: the
    subcommand must exist and have its arity (the handlers trust that)."""
    a = spawn(SERVER, None, *ALWAYS)
    a.client().set("k", "v")
    a.stop()
    path = incr_path(a)
    with open(path, "ab") as f:
        f.write(b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in cmd))
    rc, log = start_expect_failure(SERVER, a.dir, *ALWAYS)
    assert_refused(rc, log, os.path.basename(path))
    assert why.decode() in log, log[-2000:]


@pytest.mark.parametrize("which", ["base", "incr"])
def test_missing_file_refused(spawn, which):
    a = spawn(SERVER, None, *ALWAYS)
    a.client().set("k", "v")
    a.stop()
    base, (incr,) = current_files(a.dir)
    path = base if which == "base" else incr
    os.unlink(path)
    rc, log = start_expect_failure(SERVER, a.dir, *ALWAYS)
    assert_refused(rc, log, os.path.basename(path))


def test_bad_manifest_refused(spawn):
    a = spawn(SERVER, None, *ALWAYS)
    a.client().set("k", "v")
    a.stop()
    with open(os.path.join(a.dir, AOF_DIR, MANIFEST), "a") as f:
        f.write("garbage line\n")
    rc, log = start_expect_failure(SERVER, a.dir, *ALWAYS)
    assert_refused(rc, log, "manifest")


def test_corrupt_base_refused(spawn):
    """A base file (an RDB) with a flipped byte fails its checksum; the
    control: the same RDB, unharmed, as the base loads, with the incr file
    replayed on top."""
    a = spawn(SERVER, None, "--appendonly", "no")
    a.client().set("big", random.Random(3).randbytes(5000))
    assert a.client().execute_command("SAVE")
    a.stop()
    rdb = read_file(a.path("dump.rdb"))
    b = spawn(SERVER, None, *ALWAYS)
    b.client().set("k", "v")
    b.stop()
    base, _ = current_files(b.dir)
    with open(base, "wb") as f:
        f.write(rdb)
    n = spawn.restart(b)
    assert n.client().get("big") == random.Random(3).randbytes(5000)
    assert n.client().get("k") == b"v"
    n.stop()
    bad = bytearray(rdb)
    bad[len(bad) // 2] ^= 0x01
    with open(base, "wb") as f:
        f.write(bad)
    rc, log = start_expect_failure(SERVER, b.dir, *ALWAYS)
    assert_refused(rc, log)


@pytest.mark.skipif(IS_REDIS, reason="Keel's texts")
@pytest.mark.parametrize("bad,why", [
    (b"*1\r\n$3\r\nSET\r\n", "wrong number of arguments for 'SET'"),        # found by fuzz_aof_load
    (b"*9999999999999999999\r\n", "format error"),                         # a count past 18 digits
    (b"*1\r\n$9999999999999999999\r\n", "format error"),                   # a length past 18 digits
])
def test_hostile_commands_in_the_log_stop_start_up_cleanly(spawn, bad, why):
    a = spawn(SERVER, None, *ALWAYS)
    a.client().set("k", "v")
    a.stop()
    path = incr_path(a)
    with open(path, "ab") as f:
        f.write(bad + b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\ny\r\n")
    rc, log = start_expect_failure(SERVER, a.dir, *ALWAYS, "--aof-load-truncated", "no")
    assert rc == 1, log
    assert why in log or "Bad file format" in log, log


def test_debug_reload_leaves_the_log_alone(spawn):
    """DEBUG RELOAD reloads the snapshot, as Redis: the AOF is not replayed
    into itself (a list pushed once stays one element after a restart)."""
    a = spawn(SERVER, None, *ALWAYS, "--enable-debug-command", "yes")
    c = a.client()
    c.rpush("l", "x")
    size = os.path.getsize(incr_path(a))
    assert c.execute_command("DEBUG", "RELOAD") in (b"OK", "OK")
    assert c.lrange("l", 0, -1) == [b"x"]
    assert os.path.getsize(incr_path(a)) == size
    a.stop()
    b = spawn(SERVER, a.dir, *ALWAYS)
    assert b.client().lrange("l", 0, -1) == [b"x"]


def test_debug_loadaof_reloads_the_log(spawn):
    """DEBUG LOADAOF (as the Redis test suite uses it): the log is flushed
    and loaded again into emptied databases; nothing is logged twice."""
    a = spawn(SERVER, None, *ALWAYS, "--enable-debug-command", "yes")
    c = a.client()
    c.rpush("l", "x", "y")
    c.set("n", "5")
    c.incr("n")
    size = os.path.getsize(incr_path(a))
    c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    assert c.execute_command("DEBUG", "LOADAOF") in (b"OK", "OK", True)
    assert c.lrange("l", 0, -1) == [b"x", b"y"] and c.get("n") == b"6"
    assert os.path.getsize(incr_path(a)) == size
    c.set("after", "1")
    a.stop()
    b = spawn(SERVER, a.dir, *ALWAYS)
    assert b.client().lrange("l", 0, -1) == [b"x", b"y"]
    assert b.client().mget("n", "after") == [b"6", b"1"]


def test_shutdown_waits_for_the_first_base_of_a_new_log(spawn):
    """appendonly turned on at run time: until the rewrite that writes the
    log's first base ends, the files do not hold the data set, so SHUTDOWN
    is refused (Redis's "Writing initial AOF, can't exit"); SHUTDOWN FORCE
    exits anyway."""
    a = spawn(SERVER, None, "--rdb-key-save-delay", "100000")  # 0.1 s a key
    c = a.client()
    c.mset({"k%d" % i: i for i in range(100)})
    assert c.config_set("appendonly", "yes") is True
    with pytest.raises(redis.ResponseError, match="^Errors trying to SHUTDOWN. Check logs.$"):
        c.shutdown()
    log = read_file(a.log)
    assert b"Writing initial AOF, can't exit." in log
    assert b"Errors trying to shut down the server. Check the logs for more information." in log
    assert c.get("k1") == b"1"  # still serving
    try:
        c.shutdown(nosave=True, force=True)
    except redis.ConnectionError:
        pass
    assert a.proc.wait(20) == 0
    assert b"Writing initial AOF. Exit anyway." in read_file(a.log)
    a.killed = True


def test_a_slow_script_in_the_log_answers_others_loading(spawn):
    """DEBUG LOADAOF replaying a script that runs past busy-reply-threshold:
    other clients are told -LOADING (the load is what they wait for), not
    -BUSY, as in Redis; the script's writes are in once it ends."""
    a = spawn(SERVER, None, *ALWAYS, "--enable-debug-command", "yes", "--busy-reply-threshold", "10",
              "--aof-use-rdb-preamble", "no")
    c = a.client()
    c.set("before", "1")
    slow = ("redis.call('set', KEYS[1], 'y') local t = redis.call('time') local start = t[1] * 1000000 + t[2] "
            "repeat t = redis.call('time') until t[1] * 1000000 + t[2] - start > 500000 return 'ok'")
    with open(incr_path(a), "ab") as f:
        f.write(b"*2\r\n$6\r\nSELECT\r\n$1\r\n9\r\n")
        f.write(b"*4\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n1\r\n$1\r\nx\r\n" % (len(slow), slow.encode()))
    box, t = debug_loadaof_in_a_thread(a)
    assert first_error_of_ping(a).startswith("LOADING")
    t.join(20)
    assert box["reply"] in (b"OK", "OK", True)
    assert b"Slow script detected" in read_file(a.log)
    assert a.client(9).get("x") == b"y" and c.get("before") == b"1"


def debug_loadaof_in_a_thread(node):
    """DEBUG LOADAOF sent from a thread: its reply (or the ConnectionError
    ending it) lands in box["reply"]; box["id"] is its client's ID."""
    loader = node.client()
    box = {"id": loader.client_id()}

    def load():
        try:
            box["reply"] = loader.execute_command("DEBUG", "LOADAOF")
        except redis.ConnectionError as e:
            box["reply"] = e

    t = threading.Thread(target=load)
    t.start()
    return box, t


def first_error_of_ping(node, timeout=10):
    other = node.client()
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            other.ping()
        except redis.ResponseError as e:
            return str(e)
        except redis.exceptions.BusyLoadingError as e:
            return "LOADING " + str(e)
    return ""


def test_the_client_of_debug_loadaof_killed_meanwhile(spawn):
    """While DEBUG LOADAOF serves other clients (every 1024 commands; Redis's
    key-load-delay slows the replay), one of them kills the client running
    it: that client goes once the load is over, never under it."""
    a = spawn(SERVER, None, *ALWAYS, "--enable-debug-command", "yes", "--key-load-delay", "500")
    c = a.client()
    p = c.pipeline(transaction=False)
    for i in range(8000):  # 4 s of replay, clients served every 0.5 s
        p.set("k%d" % i, i)
    p.execute()
    box, t = debug_loadaof_in_a_thread(a)
    assert first_error_of_ping(a).startswith("LOADING")
    other = a.client()
    assert other.execute_command("CLIENT", "KILL", "ID", box["id"]) == 1
    t.join(30)
    assert isinstance(box["reply"], redis.ConnectionError)
    deadline = time.time() + 20
    while other.info("persistence")["loading"] and time.time() < deadline:
        time.sleep(0.05)
    assert other.dbsize() == 8000 and other.get("k7999") == b"7999"


# ---------------------------------------------------------------- 10: aof-use-rdb-preamble no, timestamps

def wait_base(node, seq, timeout=20):
    """Waits for the rewrite that makes base `seq` to finish."""
    c = node.client()
    deadline = time.time() + timeout
    while True:
        info = c.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"] \
                and manifest(node.dir)[0][1] >= seq:
            return
        assert time.time() < deadline
        time.sleep(0.05)


def forget_pending_deleted(snap, idle_consumers=True):
    """The snapshot less the pending entries whose stream entries were
    deleted, and consumers' counts: commands cannot rebuild those (XCLAIM
    drops them, in Redis as in Keel). idle_consumers=False: also less the
    consumers left without pending entries (Redis's rewrite drops them;
    Keel's keeps them)."""
    out = dict(snap)
    data = {}
    for k, (t, v) in snap["data"].items():
        if t == "stream":
            v = dict(v)
            ids = {e[0] for e in v["entries"]}
            groups = []
            for g in v["group-list"]:
                g = dict(g)
                g["pel"] = [p for p in g["pel"] if p[0] in ids]
                owners = {p[1] for p in g["pel"]}
                g["consumer-list"] = sorted(name for name, _ in g["consumer-list"]
                                            if idle_consumers or name in owners)
                for f in ("pending", "summary") + (() if idle_consumers else ("consumers",)):
                    g.pop(f, None)
                groups.append(g)
            v["group-list"] = groups
        data[k] = (t, v)
    out["data"] = data
    return out


def without_annotations(data):
    """The file less its "#..." annotation lines, and those lines."""
    kept, notes = [], []
    for line in data.split(b"\r\n")[:-1]:
        (notes if line.startswith(b"#TS:") else kept).append(line)
    return b"".join(x + b"\r\n" for x in kept), notes


@pytest.mark.parametrize("reader", ["self", "redis"])
def test_command_form_base_rebuilds_every_type(spawn, reader):
    """aof-use-rdb-preamble no: the rewrite's base is the commands that
    rebuild each key, named .base.aof; both servers load it back."""
    a = spawn(SERVER, None, "--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    populate(a)
    c = a.client()
    assert c.config_get("aof-use-rdb-preamble") == {"aof-use-rdb-preamble": "no"}
    c.execute_command("BGREWRITEAOF")
    wait_base(a, 2)
    base, _ = current_files(a.dir)
    assert os.path.basename(base) == "appendonly.aof.2.base.aof"
    data = read_file(base)
    assert not data.startswith(b"REDIS")
    names = {cmd[0].upper() for cmd in parse_resp_commands(data)}
    assert {b"SELECT", b"SET", b"RPUSH", b"SADD", b"ZADD", b"HMSET", b"XADD", b"XSETID", b"XGROUP", b"XCLAIM",
            b"FUNCTION", b"PEXPIREAT"} <= names
    c.set("after-rewrite", "1")
    before = snapshot(a, DBS)
    check_dataset(before)
    a.stop()
    b = spawn.restart(a, SERVER if reader == "self" else REDIS)
    assert_same(forget_pending_deleted(before, not IS_REDIS), forget_pending_deleted(snapshot(b, DBS), not IS_REDIS),
                exact=not IS_REDIS and reader == "self")
    # A second rewrite replaces the base and its old file goes.
    b.client().execute_command("BGREWRITEAOF")
    wait_base(b, 3)
    assert sorted(os.listdir(b.path(AOF_DIR))) == ["appendonly.aof.3.base.aof", "appendonly.aof.3.incr.aof",
                                                   MANIFEST]


def test_redis_command_form_base_loads(spawn):
    r = spawn(REDIS, None, "--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    populate(r)
    r.client().execute_command("BGREWRITEAOF")
    wait_base(r, 2)
    assert os.path.basename(current_files(r.dir)[0]) == "appendonly.aof.2.base.aof"
    before = snapshot(r, DBS)
    r.stop()
    k = spawn.restart(r, SERVER)
    assert_same(forget_pending_deleted(before, False), forget_pending_deleted(snapshot(k, DBS), False), exact=False)


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_timestamp_annotations(spawn, preamble):
    """aof-timestamp-enabled yes: a "#TS:<unix seconds>" line before the
    first write of each second (and at the top of a command-form base);
    both servers and redis-check-aof read the files."""
    a = spawn(SERVER, None, "--appendonly", "yes", "--aof-timestamp-enabled", "yes", "--aof-use-rdb-preamble",
              preamble)
    c = a.client()
    assert c.config_get("aof-timestamp-enabled") == {"aof-timestamp-enabled": "yes"}
    start = int(time.time())
    c.set("a", "1")
    c.rpush("l", "x")
    time.sleep(1.1)
    c.set("b", "2")
    cmds, notes = without_annotations(read_file(incr_path(a)))
    assert [x[0].upper() for x in parse_resp_commands(cmds)] == [b"SELECT", b"SET", b"RPUSH", b"SET"]
    stamps = [int(n[4:]) for n in notes]
    assert stamps and stamps == sorted(stamps) and start - 1 <= stamps[0] <= stamps[-1] <= int(time.time())
    c.execute_command("BGREWRITEAOF")
    wait_base(a, 2)
    base, _ = current_files(a.dir)
    if preamble == "no":
        assert read_file(base).startswith(b"#TS:")
    c.set("c", "3")
    a.stop()
    for checker in (["redis-check-aof"], [] if IS_REDIS else [SERVER, "--check-aof"]):
        if checker:
            check = subprocess.run(checker + [a.path(AOF_DIR, MANIFEST)], capture_output=True)
            assert check.returncode == 0, check.stdout
    for binary in (SERVER, REDIS):
        b = spawn.restart(a, binary)
        assert b.client().mget("a", "b", "c") == [b"1", b"2", b"3"]
        assert b.client().lrange("l", 0, -1) == [b"x"]
        b.stop()


@keel_only
def test_torn_timestamp_annotation_is_a_torn_tail(spawn):
    """Cut like a torn command (Redis 7.0 keeps the piece, and the next
    write appended after it is lost inside the "annotation")."""
    a = spawn(SERVER, None, *ALWAYS, "--aof-timestamp-enabled", "yes")
    a.client().set("k", "v")
    a.stop()
    with open(incr_path(a), "ab") as f:
        f.write(b"#TS:17")
    b = spawn.restart(a)
    assert b.client().get("k") == b"v"
    assert not read_file(incr_path(b)).endswith(b"#TS:17")
    b.client().set("k2", "v2")
    c = spawn.restart(b)
    assert c.client().mget("k", "k2") == [b"v", b"v2"]


@keel_only
@pytest.mark.parametrize("forkless", ["yes", "no"])
def test_command_form_base_keeps_field_ttls(spawn, forkless):
    a = spawn(SERVER, None, "--appendonly", "yes", "--aof-use-rdb-preamble", "no", "--bgsave-forkless", forkless)
    c = a.client()
    c.hset("h", mapping={"f1": "a", "f2": "b", "n": "7"})
    at = int(time.time() * 1000) + 3_600_000
    assert c.execute_command("HPEXPIREAT", "h", at, "FIELDS", 1, "f2") == [1]
    c.execute_command("XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM")
    c.execute_command("BGREWRITEAOF")
    wait_base(a, 2)
    names = [cmd[0].upper() for cmd in parse_resp_commands(read_file(current_files(a.dir)[0]))]
    assert b"HPEXPIREAT" in names
    a.stop()
    b = spawn.restart(a).client()
    assert b.hgetall("h") == {b"f1": b"a", b"f2": b"b", b"n": b"7"}
    assert b.execute_command("HPEXPIRETIME", "h", "FIELDS", 2, "f1", "f2") == [-1, at]
    assert b.xinfo_stream("empty")["length"] == 0
    assert b.xinfo_groups("empty")[0]["name"] == b"g"
