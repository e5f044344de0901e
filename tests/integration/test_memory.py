"""maxmemory and the eight eviction policies, OOM errors, MEMORY USAGE /
STATS / DOCTOR: the seed's memory-management section."""
import os
import time

import pytest
import redis
from conftest import SERVER


def used(c):
    return c.info("memory")["used_memory"]


def settled(c):
    """used_memory once it stops moving: a keyspace table that grew holds
    its old array too until the incremental move ends (an idle server
    finishes it within milliseconds)."""
    last = used(c)
    for _ in range(60):
        time.sleep(0.05)
        now = used(c)
        if now == last:
            return now
        last = now
    return last


def fill(c, prefix, n, size=100, ttl=None):
    # Small batches: a huge pipeline's query buffer would itself count
    # against maxmemory, as in Redis.
    for start in range(0, n, 200):
        p = c.pipeline(transaction=False)
        for i in range(start, min(n, start + 200)):
            p.set("%s:%d" % (prefix, i), "x" * size, ex=ttl)
        p.execute()


@pytest.fixture
def small(keel):
    s = keel("--maxmemory-samples", "10")
    c = s.client()
    yield c
    c.close()


def limit_at(c, extra):
    c.config_set("maxmemory", used(c) + extra)


def test_noeviction_gives_oom(small):
    small.config_set("maxmemory-policy", "noeviction")
    limit_at(small, 1024 * 1024)
    with pytest.raises(redis.ResponseError, match="caused error: OOM command not allowed when used memory > 'maxmemory'.$"):
        fill(small, "k", 20000)
    # A drained client holds no buffers, so the failed batch's own buffers
    # no longer keep the server over the limit: the write that is refused
    # brings its 100 KB argument (counted, as in Redis) on top of the keys.
    with pytest.raises(redis.ResponseError, match="^OOM command not allowed when used memory > 'maxmemory'.$"):
        small.set("one-more", "v" * 100000)
    # reads and deletes still work over the limit
    assert small.get("k:0") is not None
    assert small.delete("k:0") == 1
    assert small.info("stats")["evicted_keys"] == 0


def test_allkeys_lru_keeps_hot_keys(small):
    small.config_set("maxmemory-policy", "allkeys-lru")
    fill(small, "hot", 100)
    limit_at(small, 2 * 1024 * 1024)
    # The LRU clock ticks in seconds (as Redis's): spread the rounds out.
    for round_ in range(8):
        for i in range(100):
            small.get("hot:%d" % i)
        fill(small, "cold%d" % round_, 2000)
        time.sleep(0.4)
    assert used(small) <= int(small.config_get("maxmemory")["maxmemory"]) * 1.05
    assert small.info("stats")["evicted_keys"] > 0
    alive = sum(small.exists("hot:%d" % i) for i in range(100))
    assert alive >= 90


def test_allkeys_random_and_lfu_bound_memory(small):
    for policy in ("allkeys-random", "allkeys-lfu"):
        small.flushall()
        small.config_set("maxmemory", 0)
        small.config_set("maxmemory-policy", policy)
        limit_at(small, 1024 * 1024)
        fill(small, policy, 30000)
        assert used(small) <= int(small.config_get("maxmemory")["maxmemory"]) * 1.05
        assert small.dbsize() < 30000


def test_volatile_policies_only_evict_keys_with_ttl(small):
    for policy in ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"):
        small.flushall()
        small.config_set("maxmemory", 0)
        small.config_set("maxmemory-policy", policy)
        fill(small, "keep", 200)
        fill(small, "vol", 3000, ttl=1000)
        limit_at(small, 256 * 1024)
        fill(small, "vol2", 3000, ttl=1000)
        assert all(small.exists("keep:%d" % i) for i in range(200)), policy
        assert small.dbsize() < 6200
        # once only persistent keys remain, writes get OOM
        with pytest.raises(redis.ResponseError, match="OOM command not allowed"):
            fill(small, "keep2", 20000)
        assert all(small.exists("keep:%d" % i) for i in range(200)), policy


def test_volatile_ttl_evicts_shortest_ttl_first(small):
    small.config_set("maxmemory-policy", "volatile-ttl")
    fill(small, "short", 500, ttl=100)
    fill(small, "long", 500, ttl=100000)
    limit_at(small, 10 * 1024)
    fill(small, "new", 300, ttl=50000)
    short_left = sum(small.exists("short:%d" % i) for i in range(500))
    long_left = sum(small.exists("long:%d" % i) for i in range(500))
    assert short_left < long_left


def test_evicted_keyspace_event(small):
    small.config_set("notify-keyspace-events", "Ee")
    small.config_set("maxmemory-policy", "allkeys-random")
    fill(small, "a", 1000)
    limit_at(small, 64 * 1024)
    fill(small, "b", 2000)
    assert small.info("stats")["evicted_keys"] > 0


def test_lfu_counter_and_idletime(small):
    small.set("k", "v")
    with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is not selected"):
        small.object("freq", "k")
    small.config_set("maxmemory-policy", "allkeys-lfu")
    small.set("f", "v")
    for _ in range(200):
        small.get("f")
    assert small.object("freq", "f") > 5
    with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is selected"):
        small.object("idletime", "f")


def table_moved(c):
    """used_memory once the keyspace table is one array again: while it
    moves to a bigger one it holds both. The move advances with the
    server's cron, so an idle moment alone is not the end of it; DEBUG
    HTSTATS names the table it moves to until it is done."""
    for _ in range(200):
        now = settled(c)
        if b"rehashing target" not in c.execute_command("DEBUG", "HTSTATS", 0):
            return now
        time.sleep(0.05)
    raise AssertionError("the keyspace table did not finish moving")


def test_memory_usage_is_honest(r):
    before = table_moved(r)
    n = 20000
    fill(r, "m", n, size=30)
    after = table_moved(r)
    sample = sum(r.memory_usage("m:%d" % i) for i in range(0, n, 100)) * 100
    assert abs(sample - (after - before)) <= 0.10 * (after - before), (sample, after - before)
    assert r.memory_usage("missing") is None
    big = "y" * 10000
    r.set("big", big)
    assert 10000 <= r.memory_usage("big") <= 10000 * 1.1 + 100
    with pytest.raises(redis.ResponseError, match="syntax error"):
        r.execute_command("MEMORY", "USAGE", "big", "SAMPLE", "5")


def test_memory_stats_doctor_malloc(r):
    fill(r, "s", 100)
    stats = r.memory_stats()
    for field in ("peak.allocated", "total.allocated", "keys.count", "dataset.bytes", "fragmentation",
                  "overhead.total", "allocator.allocated"):
        assert field in stats
    assert stats["keys.count"] == 100
    assert "db.0" in stats
    doctor = r.execute_command("MEMORY", "DOCTOR")
    assert doctor.startswith(b"Memory doctor:")
    # every field Redis 7.0 lists, in its order, before Keel's own
    names = [k for k in stats if not k.startswith("keel.") and (k == "db.0" or not k.startswith("db."))]
    assert names == ["peak.allocated", "total.allocated", "startup.allocated", "replication.backlog",
                     "clients.slaves", "clients.normal", "cluster.links", "aof.buffer", "lua.caches",
                     "functions.caches", "db.0", "overhead.total", "keys.count", "keys.bytes-per-key",
                     "dataset.bytes", "dataset.percentage", "peak.percentage", "allocator.allocated",
                     "allocator.active", "allocator.resident", "allocator-fragmentation.ratio",
                     "allocator-fragmentation.bytes", "allocator-rss.ratio", "allocator-rss.bytes",
                     "rss-overhead.ratio", "rss-overhead.bytes", "fragmentation", "fragmentation.bytes"]
    assert len(r.execute_command("MEMORY", "MALLOC-STATS")) > 10
    assert r.execute_command("MEMORY", "PURGE") in (True, b"OK")
    with pytest.raises(redis.ResponseError, match="unknown subcommand"):
        r.execute_command("MEMORY", "NOPE")


def test_memory_stats_breakdown_is_info_memorys(r):
    """MEMORY STATS names where the memory that is not the dataset goes, as
    INFO memory does (one computation serves both): cached scripts count
    as lua.caches, function libraries as functions.caches, and
    overhead.total is used_memory_overhead."""
    before = r.memory_stats()
    body = "return '%s'" % ("x" * 10000)
    r.script_load(body)
    r.execute_command("FUNCTION", "LOAD", "#!lua name=memlib\nredis.register_function('memf', "
                      "function() return 1 end)")
    stats = r.memory_stats()
    info = r.info("memory")
    assert stats["lua.caches"] >= before["lua.caches"] + 10000
    assert stats["functions.caches"] > before["functions.caches"]
    assert stats["replication.backlog"] == info["mem_replication_backlog"] == 0  # no replica ever asked
    assert stats["clients.slaves"] == info["mem_clients_slaves"] == 0
    assert stats["aof.buffer"] == info["mem_aof_buffer"]
    parts = ("replication.backlog", "clients.slaves", "clients.normal", "aof.buffer", "lua.caches",
             "functions.caches")
    assert stats["overhead.total"] >= sum(stats[p] for p in parts)
    # (The two replies differ by what the calling client's buffers held.)
    assert abs(stats["overhead.total"] - info["used_memory_overhead"]) < 64 * 1024
    r.execute_command("FUNCTION", "DELETE", "memlib")


@pytest.mark.skipif(SERVER.endswith("redis-server"), reason="Keel's bytes per type")
def test_bytes_per_type_follow_a_bulk_load_nobody_reads(keel):
    """The bytes-per-type pass slows down (25 us a tick instead of 250)
    while nobody reads its figures, but not when the keyspace changed under
    them: 5000 keys loaded after start show in the first MEMORY STATS 10 s
    later (at full pace the pass needs about 1.5 s, 6 s in a sanitizer
    build; slowed, about 15 s; a read itself would speed it up, so there is
    only the one; a sanitizer build gets 20 s)."""
    s = keel("--save", "")
    c = s.client()
    time.sleep(0.3)  # the first pass, of the empty keyspace, is done
    c.execute_command("DEBUG", "POPULATE", 5000, "k", 10)
    # A sanitizer build's pass is about four times slower and a busy CI
    # host slows it further (it once missed 10 s there): twice the wait,
    # still far below the slowed pass's (about 60 s in that build).
    time.sleep(20 if "-san" in os.path.basename(SERVER) else 10)
    stats = c.memory_stats()
    assert stats["keel.dataset.bytes.string"] >= 5000 * 10, stats


def test_info_memory_fields(r):
    info = r.info("memory")
    for f in ("used_memory", "used_memory_human", "used_memory_rss", "used_memory_peak",
              "mem_fragmentation_ratio", "maxmemory", "maxmemory_policy", "mem_allocator"):
        assert f in info
    assert info["used_memory_peak"] >= info["used_memory"]
    assert info["used_memory"] > 0 and info["used_memory_rss"] > 0


def test_memory_subcommand_errors_and_help(server):
    """Found by the random-command test: MEMORY's subcommands have Redis's
    arity errors, an unknown one gets the usual text, and HELP exists."""
    r = server.client()

    def err(*args):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("MEMORY", *args)
        return str(e.value)

    assert err("USAGE") == "wrong number of arguments for 'memory|usage' command"
    assert err("STATS", "x") == "wrong number of arguments for 'memory|stats' command"
    assert err("doctor", "x") == "wrong number of arguments for 'memory|doctor' command"
    assert err("PURGE", "x") == "wrong number of arguments for 'memory|purge' command"
    assert err("HELP", "x") == "wrong number of arguments for 'memory|help' command"
    assert err("bogus") == "unknown subcommand 'bogus'. Try MEMORY HELP."
    help = r.execute_command("MEMORY", "HELP")
    assert help[0].startswith(b"MEMORY <subcommand>") and b"USAGE <key> [SAMPLES <count>]" in help


@pytest.mark.parametrize("policy", ["allkeys-random", "allkeys-lru", "allkeys-lfu", "volatile-lru",
                                    "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_used_memory_stays_within_the_limit(small, policy):
    """Redis's own check: fill to 4 KB below the limit, write as many keys
    again, and INFO's used_memory stays under the limit + 4 KB (INFO's own
    text is not counted: it once made Keel look 5 KB over)."""
    c = small
    c.flushall()
    limit = used(c) + 100 * 1024
    c.config_set("maxmemory", limit)
    c.config_set("maxmemory-policy", policy)
    n = 0
    while c.info()["used_memory"] + 4096 <= limit:
        c.setex("fill:%d" % n, 10000, "x")
        n += 1
    assert n > 10
    for i in range(n):
        c.setex("more:%d" % i, 10000, "x")
    assert c.info()["used_memory"] < limit + 4096
    assert c.info("stats")["evicted_keys"] > 0
    c.config_set("maxmemory", 0)


def test_config_set_maxmemory_below_use_evicts_at_once(keel):
    """A limit below what is in use evicts before CONFIG SET answers, as in
    Redis, not at the next write, and says so in the log."""
    s = keel("--maxmemory-policy", "allkeys-lru")
    c = s.client()
    fill(c, "k", 3000)
    c.config_resetstat()
    c.config_set("maxmemory", used(c) - 100_000)
    assert c.info("stats")["evicted_keys"] > 0
    # one pass stops at its time budget (tenacity); the cron or the next
    # write (while this client's buffers are counted too) finishes
    limit = int(c.config_get("maxmemory")["maxmemory"])
    deadline = time.time() + 5
    while c.info("memory")["used_memory"] > limit + 4096 and time.time() < deadline:
        c.set("poke", "1")
    assert c.info("memory")["used_memory"] <= limit + 4096
    assert "is smaller than the current memory usage" in s.log_text()
    c.config_set("maxmemory", 0)


def test_setrange_creates_a_key_at_its_size(r):
    """SETRANGE on a new key allocates the string's size, not twice it
    (Redis's size too): 50 keys of 100 KB fit in 11 MB."""
    r.delete("sr")
    assert r.setrange("sr", 100_000, "x") == 100_001
    assert r.memory_usage("sr") < 120_000
    assert r.getrange("sr", 99_999, 100_000) == b"\x00x"
    assert r.setrange("sr", 5, "ab") == 100_001
    assert r.getrange("sr", 4, 7) == b"\x00ab\x00"
    r.delete("sr")


def test_eviction_news_does_not_drain_the_database(keel):
    """Evicting a key sends invalidations to the clients tracking it, which
    takes memory; a pass frees what was over when it began, counting only
    what the deletions gave back (as Redis), so the news of evicting does
    not evict more and more (Redis's own feedback-loop test)."""
    from resp_client import RespConn
    s = keel("--maxmemory-policy", "allkeys-lru", "--maxmemory-eviction-tenacity", "100")
    r = s.client()
    trackers = [RespConn(s, resp3=True) for _ in range(10)]
    for t in trackers:
        assert t.call("CLIENT", "TRACKING", "ON") == "OK"
    for j in range(300):
        key = "%d%s" % (j, "x" * 1000)
        r.set(key, "x")
        for t in trackers:
            t.call("GET", key)
    time.sleep(1.1)
    r.config_set("maxmemory", used(r) - 40000)
    time.sleep(0.2)
    evicted = r.info("stats")["evicted_keys"]
    assert 10 <= evicted <= 150, evicted  # Redis 7.0: 60 to 90 here
    assert r.dbsize() == 300 - evicted >= 150
    for t in trackers:
        assert t.read()[0] == b"invalidate"
        t.close()
    r.config_set("maxmemory", 0)


def test_config_set_maxmemory_in_multi_evicts_after_it(keel):
    """The eviction a lower limit calls for runs after the command, not
    inside it: a transaction that lowers maxmemory completes as it was
    queued (Redis answers 1 OK 2), then the key goes."""
    s = keel("--maxmemory-policy", "allkeys-lru")
    c = s.client()
    p = c.pipeline(transaction=True)
    p.incr("x").config_set("maxmemory", 1).incr("x")
    assert p.execute() == [1, True, 2]
    deadline = time.time() + 5
    while c.dbsize() and time.time() < deadline:
        time.sleep(0.01)
    assert c.dbsize() == 0
    c.config_set("maxmemory", 0)
