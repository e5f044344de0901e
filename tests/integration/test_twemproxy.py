"""Sharding behind Debian's nutcracker (twemproxy 0.5.0): three KEEL_SERVER
backends in one pool (ketama over fnv1a_64, redis protocol, no host
ejection), clients talking to the proxy only. Validated first with
KEEL_SERVER=/usr/bin/redis-server, then with Keel.

The tests: keys written through the proxy spread over the three backends
(DBSIZE on each); the everyday commands (strings, MGET/MSET split across
shards, TTLs, hashes, lists, sorted sets, EVAL with one key) answer through
the proxy as they do directly; the seed article's cache-aside pattern
(read-through on a miss, SET with EX, a hit, invalidation by DEL) runs
through it; a command twemproxy does not forward (KEYS, MULTI) gets the
proxy's error (it closes the connection) and never reaches a backend.

The backends and the proxy are started once for the module, on free ports,
and stopped at its end (also on failure); each test starts from empty
backends (FLUSHALL on each: the proxy does not forward FLUSHALL)."""
import json
import os
import random
import shutil
import socket
import subprocess
import time

import pytest
import redis
from conftest import Server, free_port
from persist_util import TempDirs, removal_fixture

NUTCRACKER = "/usr/sbin/nutcracker"
pytestmark = pytest.mark.skipif(not os.access(NUTCRACKER, os.X_OK),
                                reason="needs Debian's nutcracker (twemproxy) at %s (apt-get install nutcracker)"
                                % NUTCRACKER)

HOST = "127.0.0.1"
NBACKENDS = 3
DEADLINE = 20

mkdir = TempDirs("keel-twemproxy-")
_remove_tmpdirs = removal_fixture(mkdir)

# The pool as docs/SCALING.md shows it. Servers are named, so ketama places
# keys by name ("keel1".."keel3"), not by the ports the test happens to get.
POOL_YAML = """\
keel:
  listen: 127.0.0.1:{listen}
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  timeout: 5000
  server_connections: 1
  servers:
{servers}
"""


class Proxy:
    """A nutcracker process on a free port (and a free stats port), its
    log in its own directory."""

    def __init__(self, backends):
        self.dir = mkdir()
        self.port, self.stats_port = free_port(), free_port()
        self.conf = os.path.join(self.dir, "nutcracker.yml")
        self.log = os.path.join(self.dir, "nutcracker.log")
        servers = "\n".join("   - 127.0.0.1:%d:1 keel%d" % (b.port, i + 1) for i, b in enumerate(backends))
        with open(self.conf, "w") as f:
            f.write(POOL_YAML.format(listen=self.port, servers=servers))
        argv = [NUTCRACKER, "-c", self.conf, "-s", str(self.stats_port), "-a", HOST,
                "-p", os.path.join(self.dir, "nutcracker.pid"), "-o", self.log]
        self.out = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.time() + DEADLINE
        while not self.answers_ping():
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("nutcracker did not start:\n" + self.log_text())
            time.sleep(0.02)

    def answers_ping(self):
        """twemproxy answers PING itself, but only sent as a RESP array (it
        does not parse inline commands)."""
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as sock:
                sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def log_text(self):
        text = ""
        for path in (self.log, self.out.name):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    text += f.read()
        return text[-4000:]

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        kw.setdefault("decode_responses", True)
        return redis.Redis(host=HOST, port=self.port, **kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


@pytest.fixture(scope="module")
def pool():
    """(proxy, [backend Server, ...]): three backends behind one proxy."""
    backends, proxy = [], None
    try:
        for _ in range(NBACKENDS):
            backends.append(Server())
        proxy = Proxy(backends)
        yield proxy, backends
    finally:
        problems = []
        if proxy is not None:
            proxy.stop()
        for b in backends:
            try:
                b.stop()
            except AssertionError as e:  # a crash or sanitizer report: after all are stopped
                problems.append(str(e))
            shutil.rmtree(b.dir, ignore_errors=True)
        if problems:
            raise AssertionError("\n".join(problems))


@pytest.fixture
def direct(pool):
    """str clients of the backends, each flushed."""
    _, backends = pool
    clients = [b.client(decode_responses=True) for b in backends]
    for c in clients:
        c.flushall()
    yield clients
    for c in clients:
        c.close()


@pytest.fixture
def px(pool, direct):
    """A str client of the proxy, on empty backends."""
    c = pool[0].client()
    yield c
    c.close()


def owner(direct, key):
    """The index of the one backend that holds `key` (fails if none or
    several do)."""
    holders = [i for i, c in enumerate(direct) if c.exists(key)]
    assert len(holders) == 1, "%r is on backends %r" % (key, holders)
    return holders[0]


# ---------------------------------------------------------------- tests

def test_keys_spread_over_every_backend(px, direct):
    n = 3000
    p = px.pipeline(transaction=False)
    for i in range(n):
        p.set("key:%d" % i, i)
    assert p.execute() == [True] * n
    sizes = [c.dbsize() for c in direct]
    # Each key lives on one backend, and each backend has a fair share
    # (ketama with 160 points per server: within ±40% of a third here).
    assert sum(sizes) == n, sizes
    for s in sizes:
        assert 0.6 * n / NBACKENDS <= s <= 1.4 * n / NBACKENDS, sizes
    # Everything reads back through the proxy, in batches MGET splits
    # across the shards and puts back in order.
    for start in range(0, n, 500):
        keys = ["key:%d" % i for i in range(start, start + 500)]
        assert px.mget(keys) == [str(i) for i in range(start, start + 500)]
    # The proxy always sends a key to the same backend: rewrite them all
    # and the sizes stay as they were.
    p = px.pipeline(transaction=False)
    for i in range(n):
        p.incr("key:%d" % i)
    assert p.execute() == list(range(1, n + 1))
    assert [c.dbsize() for c in direct] == sizes


def test_commands_through_the_proxy(px, direct):
    # Strings.
    assert px.set("s:a", "alpha") is True
    assert px.get("s:a") == "alpha"
    assert px.get("s:missing") is None
    assert px.set("s:a", "x", nx=True) is None
    # MSET and MGET over keys on every shard: the proxy splits them and
    # puts the replies back together in order. (The keys vary in the middle:
    # twemproxy's 32-bit fnv1a_64 sends keys that differ only in their last
    # characters, such as m:0..m:19, to the same shard.)
    mkeys = ["mset:%d:key" % i for i in range(20)]
    assert px.mset({k: "v%d" % i for i, k in enumerate(mkeys)}) is True
    assert px.mget(mkeys + ["mset:none"]) == ["v%d" % i for i in range(20)] + [None]
    assert sorted({owner(direct, k) for k in mkeys}) == list(range(NBACKENDS))
    assert px.incr("n") == 1
    assert px.incr("n", 41) == 42
    assert px.decr("n") == 41
    assert px.append("s:a", "-beta") == len("alpha-beta")
    assert px.strlen("s:a") == 10
    # TTLs.
    assert px.ttl("s:a") == -1
    assert px.expire("s:a", 100) is True
    assert 98 <= px.ttl("s:a") <= 100
    assert 98_000 <= px.pttl("s:a") <= 100_000
    assert direct[owner(direct, "s:a")].ttl("s:a") > 0
    assert px.ttl("s:missing") == -2
    assert px.persist("s:a") is True
    assert px.ttl("s:a") == -1
    # DEL of several keys: the proxy splits it by shard and sums the counts.
    assert px.delete(*mkeys[:4], "mset:none", "s:a") == 5
    assert px.exists(mkeys[0]) == 0 and px.exists(mkeys[4]) == 1
    # Hashes.
    assert px.hset("h", mapping={"f1": "1", "f2": "two", "f3": ""}) == 3
    assert px.hgetall("h") == {"f1": "1", "f2": "two", "f3": ""}
    assert px.hincrby("h", "f1", 9) == 10
    assert px.hget("h", "f1") == "10"
    assert px.hdel("h", "f3") == 1
    assert px.hlen("h") == 2
    # Lists.
    assert px.lpush("l", "a", "b", "c") == 3
    assert px.rpush("l", "z") == 4
    assert px.lrange("l", 0, -1) == ["c", "b", "a", "z"]
    assert px.lpop("l") == "c"
    assert px.llen("l") == 3
    # Sorted sets.
    assert px.zadd("z", {"a": 3, "b": 1, "c": 2}) == 3
    assert px.zrange("z", 0, -1) == ["b", "c", "a"]
    assert px.zrange("z", 0, -1, withscores=True) == [("b", 1.0), ("c", 2.0), ("a", 3.0)]
    assert px.zincrby("z", 5, "b") == 6.0
    assert px.zrevrange("z", 0, 0) == ["b"]
    assert px.zscore("z", "c") == 2.0
    # Types and errors from the backend come through unchanged.
    assert px.type("h") == "hash" and px.type("z") == "zset"
    with pytest.raises(redis.ResponseError) as e:
        px.incr("h")
    assert str(e.value).startswith("WRONGTYPE")
    # EVAL with one key runs on the backend that owns the key.
    script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], 5)"
    assert px.eval(script, 1, "e:key", 10) == 15
    assert px.get("e:key") == "15"
    assert direct[owner(direct, "e:key")].get("e:key") == "15"
    assert px.eval("return redis.call('GET', KEYS[1])", 1, mkeys[5]) == "v5"
    assert px.eval("return {KEYS[1], ARGV[1], ARGV[2]}", 1, "k", "a1", "a2") == ["k", "a1", "a2"]
    # Pipelined commands come back in order, whichever shard answers.
    p = px.pipeline(transaction=False)
    for i in range(50):
        p.set("p:%d" % i, i).get("p:%d" % i)
    assert p.execute() == [x for i in range(50) for x in (True, str(i))]


# The seed article's cache-aside read: check the cache, on a miss read the
# database and populate the cache with a TTL; writes invalidate by DEL.
class Database:
    """The "database" behind the cache: a dict, counting its reads."""

    def __init__(self):
        # 30 users with scattered IDs (user:1..user:30 would sit on two
        # shards: see test_commands_through_the_proxy on fnv1a_64).
        ids = random.Random(7).sample(range(1000, 1_000_000), 30)
        self.rows = {i: {"id": i, "name": "user %d" % i, "plan": "free"} for i in ids}
        self.reads = 0

    def query(self, user_id):
        self.reads += 1
        return dict(self.rows[user_id])


def get_user_cache_aside(cache, db, user_id):
    cached = cache.get("user:%d" % user_id)
    if cached:
        return json.loads(cached)
    user = db.query(user_id)
    cache.set("user:%d" % user_id, json.dumps(user), ex=3600)
    return user


def update_user(cache, db, user_id, **changes):
    db.rows[user_id].update(changes)
    cache.delete("user:%d" % user_id)


def test_cache_aside_through_the_proxy(px, direct):
    db = Database()
    ids = list(db.rows)
    # Cold cache: every read falls through to the database and fills the
    # cache with a TTL.
    for i in ids:
        assert get_user_cache_aside(px, db, i) == db.rows[i]
    assert db.reads == len(ids)
    for i in ids:
        assert 3590 <= px.ttl("user:%d" % i) <= 3600
    # The entries are spread over the shards, one copy each.
    assert sorted({owner(direct, "user:%d" % i) for i in ids}) == list(range(NBACKENDS))
    assert sum(c.dbsize() for c in direct) == len(ids)
    # Warm cache: hits, no database read.
    for i in ids:
        assert get_user_cache_aside(px, db, i) == db.rows[i]
    assert db.reads == len(ids)
    # A write invalidates: the next read misses, reads the database once
    # and caches the new row; the other entries stay cached.
    a, b, c = ids[:3]
    update_user(px, db, a, plan="pro")
    assert px.exists("user:%d" % a) == 0
    assert get_user_cache_aside(px, db, a)["plan"] == "pro"
    assert db.reads == len(ids) + 1
    assert json.loads(px.get("user:%d" % a))["plan"] == "pro"
    assert get_user_cache_aside(px, db, a)["plan"] == "pro"
    assert get_user_cache_aside(px, db, b)["plan"] == "free"
    assert db.reads == len(ids) + 1
    # An entry whose TTL ran out is a miss again.
    px.set("user:%d" % c, json.dumps(db.rows[c]), px=100)
    deadline = time.time() + DEADLINE
    while px.exists("user:%d" % c) and time.time() < deadline:
        time.sleep(0.02)
    assert get_user_cache_aside(px, db, c) == db.rows[c]
    assert db.reads == len(ids) + 2
    assert px.ttl("user:%d" % c) > 3500


@pytest.mark.parametrize("command", [("KEYS", "*"), ("MULTI",)], ids=["KEYS", "MULTI"])
def test_command_the_proxy_does_not_forward_gets_its_error(pool, px, direct, command):
    px.set("present", "1")
    calls_before = [c.info("commandstats").get("cmdstat_" + command[0].lower(), {}).get("calls", 0) for c in direct]
    # twemproxy's answer to a command it does not support is to close the
    # connection (its log says "parsed unsupported command").
    with pytest.raises((redis.ResponseError, redis.ConnectionError)):
        px.execute_command(*command)
    calls_after = [c.info("commandstats").get("cmdstat_" + command[0].lower(), {}).get("calls", 0) for c in direct]
    assert calls_after == calls_before, "a backend ran %s" % command[0]
    assert "unsupported command '%s'" % command[0].lower() in pool[0].log_text().lower()
    # The proxy and the other connections carry on.
    c = pool[0].client()
    try:
        assert c.get("present") == "1"
        assert px.get("present") == "1"  # redis-py reconnects
    finally:
        c.close()
