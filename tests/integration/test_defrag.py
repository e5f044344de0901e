"""Active defragmentation (activedefrag): Redis 7's configs and INFO fields,
the data kept exactly through every move, and fragmentation really falling.

DEBUG DEFRAG FORCE moves every block of every value, in every build (the
sanitizer build too, where a pointer left behind is a use-after-free), and
DEBUG DEFRAG ... STEPS n runs the pass a few steps at a time so writes can
land between steps, as they do between the cron cycle's slices. The
fragmentation tests need jemalloc (the release build): there the cycle runs
by itself from cron, as in Redis; elsewhere activedefrag is refused with
Redis's own words, as Debian's Redis refuses it."""
import random
import time

import pytest
import redis

from conftest import err
from repl_util import wait_until

REFUSED = ("CONFIG SET failed (possibly related to argument 'activedefrag') - Active defragmentation cannot be "
           "enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default "
           "with the Redis source distribution")


def jemalloc(c):
    return c.info("memory")["mem_allocator"].startswith("jemalloc")


def fill_every_type(c, n=400):
    """Values of every type in every encoding, small and past the step
    budget (max-scan-fields), with TTLs, field TTLs, groups and PELs."""
    p = c.pipeline(transaction=False)
    p.set("s:int", 12345)
    p.set("s:emb", "short string")
    p.set("s:raw", "r" * 300)
    p.set("s:ttl", "x" * 100, ex=1000)
    p.pfadd("hll", *["e%d" % i for i in range(200)])
    p.hset("h:lp", mapping={"a": 1, "b": 2})
    p.hset("h:lpex", mapping={"a": 1, "b": 2, "c": 3})
    p.execute_command("HEXPIRE", "h:lpex", 1000, "FIELDS", 1, "b")
    p.hset("h:ht", mapping={"f%d" % i: "v%d" % i for i in range(n)})
    p.execute_command("HEXPIRE", "h:ht", 1000, "FIELDS", 2, "f1", "f2")
    p.sadd("set:int", *range(50))
    p.sadd("set:lp", "a", "b", "c")
    p.sadd("set:ht", *["m%d" % i for i in range(n)])
    p.zadd("z:lp", {"a": 1, "b": 2.5})
    p.zadd("z:sl", {"m%d" % i: i * 1.5 for i in range(n)})
    p.rpush("l:lp", *range(20))
    p.rpush("l:ql", *["e%d" % i for i in range(n * 5)])
    p.rpush("l:big", "x" * 10000, "y" * 10000, "z")
    for i in range(n):
        p.xadd("x:s", {"f": i, "g": "v%d" % (i % 7)}, id="%d-1" % (i + 1))
    p.xgroup_create("x:s", "g1", id="0")
    p.xgroup_create("x:s", "g2", id="0")
    p.execute_command("XADD", "x:idmp", "IDMP", "p1", "i1", "*", "a", "1")
    p.execute_command("XADD", "x:idmp", "IDMP", "p2", "i9", "*", "b", "2")
    p.execute_command("VADD", "v:set", "VALUES", 3, 1, 2, 3, "e1")
    p.execute_command("VADD", "v:set", "VALUES", 3, 3, 1, 0, "e2", "SETATTR", '{"k": 1}')
    p.execute_command("SELECT", 3)
    p.set("db3:key", "in db 3")
    p.zadd("db3:z", {"m%d" % i: i for i in range(n)})
    p.execute_command("SELECT", 0)
    p.execute()
    c.xreadgroup("g1", "alice", {"x:s": ">"}, count=n // 2)
    c.xreadgroup("g1", "bob", {"x:s": ">"}, count=10)
    c.xreadgroup("g2", "carol", {"x:s": ">"}, count=n)
    c.xack("x:s", "g1", *["%d-1" % i for i in range(1, 30)])
    c.xdel("x:s", *["%d-1" % i for i in range(100, 140)])
    c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", 0)


def state(c):
    """What the keys hold, read back through the commands: the dataset's
    digest, each value's digest, and the parts a digest may not cover
    (order statistics, TTLs, PELs, consumers)."""
    keys = sorted(c.keys("*"))
    # PFCOUNT stores the count it computes in the value: read it first.
    pfcount = c.pfcount("hll")
    out = {
        "digest": c.execute_command("DEBUG", "DIGEST"),
        "values": dict(zip(keys, c.execute_command("DEBUG", "DIGEST-VALUE", *keys))),
        "ttl": c.ttl("s:ttl") > 0,
        "httl": c.execute_command("HTTL", "h:ht", "FIELDS", 3, "f1", "f2", "f3"),
        "ranks": [c.zrank("z:sl", "m%d" % i) for i in (0, 7, 399)],
        "zrange": c.zrange("z:sl", 100, 110, withscores=True),
        "lindex": [c.lindex("l:ql", i) for i in (0, 777, -1)],
        "big": c.lrange("l:big", 0, -1),
        "smembers": sorted(c.smembers("set:ht")),
        "hgetall": c.hgetall("h:ht"),
        "xrange": c.xrange("x:s", "-", "+"),
        "pending": [[(p["message_id"], p["consumer"], p["times_delivered"])
                     for p in c.xpending_range("x:s", g, "-", "+", 1000)] for g in ("g1", "g2")],
        "consumers": [[(x["name"], x["pending"]) for x in c.xinfo_consumers("x:s", g)] for g in ("g1", "g2")],
        "idmp": c.execute_command("XADD", "x:idmp", "IDMP", "p1", "i1", "*", "a", "1"),
        "vsim": c.execute_command("VSIM", "v:set", "VALUES", 3, 1, 2, 3, "WITHSCORES"),
        "vattr": c.execute_command("VGETATTR", "v:set", "e2"),
        "pfcount": pfcount,
    }
    c.execute_command("SELECT", 3)
    out["db3"] = (c.get("db3:key"), c.zrange("db3:z", 0, -1, withscores=True))
    c.execute_command("SELECT", 0)
    return out


def test_forced_pass_moves_every_value_and_keeps_it(server):
    c = server.client()
    c.flushall()
    fill_every_type(c)
    before = state(c)
    moved = c.execute_command("DEBUG", "DEFRAG", "FORCE")
    # Every key's entry at least, and the blocks of its value.
    assert moved > c.dbsize() + 1
    assert state(c) == before
    # And the values go on working after the moves: writes touch the moved
    # structures (chains, trees, PELs), then read back as they should.
    c.hset("h:ht", "new", "1")
    c.hdel("h:ht", "f3")
    c.zadd("z:sl", {"m5": 1000})
    c.zrem("z:sl", "m6")
    c.lpush("l:ql", "head")
    c.lset("l:ql", 1000, "mid")
    c.xadd("x:s", {"f": "new"}, id="9999-1")
    c.xack("x:s", "g2", "1-1", "2-1")
    c.xclaim("x:s", "g1", "bob", 0, ["40-1"])
    c.sadd("set:ht", "new")
    assert c.hget("h:ht", "new") == b"1" and c.hget("h:ht", "f3") is None
    assert c.zrank("z:sl", "m5") == 398 and c.zscore("z:sl", "m6") is None
    assert c.lindex("l:ql", 0) == b"head" and c.lindex("l:ql", 1000) == b"mid"
    assert c.xrevrange("x:s", count=1)[0][0] == b"9999-1"
    assert c.xpending("x:s", "g2")["pending"] == 398
    assert [x["pending"] for x in c.xinfo_consumers("x:s", "g1") if x["name"] == b"bob"] == [11]
    assert c.sismember("set:ht", "new")
    c.close()


def test_forced_pass_moves_cached_scripts_and_they_still_run(server):
    """The EVAL script cache is moved too (its bodies and entries, as Redis
    moves its scripts dict): every script still runs by its SHA, SCRIPT
    EXISTS finds it, and a flush after the moves frees what was moved."""
    c = server.client()
    c.flushall()
    c.script_flush()
    shas = [c.script_load("return 'r%d' .. (ARGV[1] or '')" % i) for i in range(300)]
    moved = c.execute_command("DEBUG", "DEFRAG", "FORCE")
    assert moved >= 3 * len(shas)  # entry, script and body of each at least
    assert [c.evalsha(sha, 0, "!") for sha in shas[::37]] == [b"r%d!" % i for i in range(0, 300, 37)]
    assert all(c.script_exists(*shas))
    assert c.execute_command("DEBUG", "DEFRAG", "FORCE") >= 3 * len(shas)
    assert c.evalsha(shas[-1], 0) == b"r299"
    c.script_flush()
    assert not any(c.script_exists(*shas[:10]))
    c.close()


def test_cycle_moves_script_bodies_out_of_sparse_slabs(keel):
    """Redis's scenario: script bodies and values of one size class,
    interleaved; deleting the values leaves every slab half full of
    bodies, which only moving the script cache can pack again."""
    s = keel("--save", "", "--hz", "100")
    c = s.client()
    if not jemalloc(c):
        pytest.skip("needs jemalloc (the release build)")
    dummy = "--" + "x" * 400 + "\nreturn "
    for first in range(0, 50000, 5000):
        p = c.pipeline(transaction=False)
        for j in range(first, first + 5000):
            body = dummy + "%06d" % j
            p.script_load(body)
            p.set("k%d" % j, body)
        p.execute()
    for first in range(0, 50000, 10000):
        c.delete(*["k%d" % j for j in range(first, first + 10000)])
    time.sleep(0.12)
    assert c.info("memory")["allocator_frag_ratio"] > 1.4
    for name, value in (("active-defrag-threshold-lower", 5), ("active-defrag-cycle-min", 65),
                        ("active-defrag-cycle-max", 75), ("active-defrag-ignore-bytes", "1500kb")):
        c.config_set(name, value)
    c.config_set("activedefrag", "yes")
    wait_until(lambda: c.info("memory")["active_defrag_running"] > 0, "the cycle to start", 10)
    wait_until(lambda: c.info("memory")["active_defrag_running"] == 0, "the cycle to end", 60)
    time.sleep(0.12)
    assert c.info("memory")["allocator_frag_ratio"] <= 1.05
    assert c.eval(dummy + "000123", 0) == 123  # (a cached body, found by its SHA)
    c.close()


def test_forced_steps_with_writes_between_them(server):
    """The pass a few steps at a time over values past the step budget,
    while a writer changes them between steps; then every value reads the
    same before and after further whole passes, and so does its copy."""
    c = server.client()
    c.flushall()
    c.config_set("active-defrag-max-scan-fields", 16)
    try:
        rnd = random.Random(7)
        fill_every_type(c, n=300)
        moved = 0
        for step in range(400):
            moved += c.execute_command("DEBUG", "DEFRAG", "FORCE", "STEPS", 1)
            i = rnd.randrange(1000)
            op = step % 6
            if op == 0:
                c.hset("h:ht", "w%d" % i, i)
                c.hdel("h:ht", "f%d" % rnd.randrange(300))
            elif op == 1:
                c.zadd("z:sl", {"w%d" % i: i / 3})
                c.zrem("z:sl", "m%d" % rnd.randrange(300))
            elif op == 2:
                c.rpush("l:ql", "w%d" % i)
                c.lrem("l:ql", 1, "e%d" % rnd.randrange(1500))
            elif op == 3:
                c.xadd("x:s", {"w": i})
                c.xdel("x:s", "%d-1" % rnd.randrange(300))
            elif op == 4:
                c.sadd("set:ht", "w%d" % i)
                c.srem("set:ht", "m%d" % rnd.randrange(300))
            else:
                c.xreadgroup("g2", "dave", {"x:s": ">"}, count=2)
                c.xack("x:s", "g1", "%d-1" % rnd.randrange(300))
        assert moved > 0
        # Finish the pass, then a whole forced pass more, then compare the
        # values, key by key, with a copy made before those passes.
        c.execute_command("DEBUG", "DEFRAG", "FORCE")
        keys = sorted(c.keys("*"))
        snap = dict(zip(keys, c.execute_command("DEBUG", "DIGEST-VALUE", *keys)))
        for k in keys:
            c.copy(k, k, destination_db=5)
        c.execute_command("DEBUG", "DEFRAG", "FORCE")
        assert dict(zip(keys, c.execute_command("DEBUG", "DIGEST-VALUE", *keys))) == snap
        c.execute_command("SELECT", 5)
        assert dict(zip(keys, c.execute_command("DEBUG", "DIGEST-VALUE", *keys))) == snap
        c.execute_command("SELECT", 0)
        assert c.zcard("z:sl") == len(c.zrange("z:sl", 0, -1))
        assert c.llen("l:ql") == len(c.lrange("l:ql", 0, -1))
        assert c.xlen("x:s") == len(c.xrange("x:s"))
    finally:
        c.config_set("active-defrag-max-scan-fields", 1000)
        c.close()


def test_pass_with_deletes_of_big_values_between_steps(server):
    """A big value the pass has queued is deleted, or replaced by another
    type, before the pass comes back to it."""
    c = server.client()
    c.flushall()
    c.config_set("active-defrag-max-scan-fields", 8)
    try:
        for i in range(40):
            c.hset("h%d" % i, mapping={"f%d" % j: j for j in range(100)})
        for step in range(60):
            c.execute_command("DEBUG", "DEFRAG", "FORCE", "STEPS", 1)
            k = "h%d" % (step % 40)
            if step % 3 == 0:
                c.delete(k)
            elif step % 3 == 1:
                c.delete(k)
                c.rpush(k, *range(50))
        c.execute_command("DEBUG", "DEFRAG", "FORCE")
        for i in range(40):
            k = "h%d" % i
            t = c.type(k)
            assert t in (b"none", b"hash", b"list")
            if t == b"hash":
                assert c.hlen(k) == 100 and c.hget(k, "f99") == b"99"
            elif t == b"list":
                assert c.lrange(k, 0, -1) == [str(j).encode() for j in range(50)]
    finally:
        c.config_set("active-defrag-max-scan-fields", 1000)
        c.close()


def test_debug_defrag_arguments(r):
    assert err(r.execute_command, "DEBUG", "DEFRAG", "STEPS", 0) == "STEPS must be positive"
    assert err(r.execute_command, "DEBUG", "DEFRAG", "NOW") == "syntax error"
    assert err(r.execute_command, "DEBUG", "DEFRAG", "STEPS", "x") == "value is not an integer or out of range"
    assert r.execute_command("DEBUG", "DEFRAG") >= 0


def test_configs_and_info_fields(r, redis_ref):
    for name in ("active-defrag-ignore-bytes", "active-defrag-threshold-lower", "active-defrag-threshold-upper",
                 "active-defrag-cycle-min", "active-defrag-cycle-max", "active-defrag-max-scan-fields"):
        assert r.config_get(name) == redis_ref.config_get(name)
    assert err(r.config_set, "active-defrag-cycle-max", 100) == err(redis_ref.config_set,
                                                                      "active-defrag-cycle-max", 100)
    fields = ("active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits", "active_defrag_key_misses",
              "total_active_defrag_time", "current_active_defrag_time")
    stats = r.info("stats")
    assert all(isinstance(stats[f], int) for f in fields)
    assert set(fields) <= set(redis_ref.info("stats"))
    assert r.info("memory")["active_defrag_running"] == 0
    if not jemalloc(r):
        # As Debian's Redis, which also runs on an unpatched allocator.
        assert err(r.config_set, "activedefrag", "yes") == REFUSED == err(redis_ref.config_set, "activedefrag",
                                                                          "yes")
    else:
        assert r.config_set("activedefrag", "yes") is True
        assert r.config_get("activedefrag") == {"activedefrag": "yes"}
        r.config_set("activedefrag", "no")


def fragment(c, n):
    """n keys, then two of every three deleted in key order: the allocator's
    slabs are left a third full."""
    c.execute_command("DEBUG", "POPULATE", n, "k", 100)
    c.eval("for i=0,%d do if i %% 3 ~= 0 then redis.call('del','k:'..i) end end return 1" % (n - 1), 0)


def test_cycle_lowers_fragmentation_and_keeps_data(keel):
    s = keel("--save", "", "--loglevel", "verbose")
    c = s.client()
    if not jemalloc(c):
        pytest.skip("needs jemalloc (the release build)")
    fragment(c, 300000)
    c.hset("h", mapping={"f%d" % i: "v" * 50 for i in range(5000)})
    mem = c.info("memory")
    assert mem["allocator_frag_ratio"] > 1.8, mem
    before = c.execute_command("DEBUG", "DIGEST")
    stats = c.info("stats")
    assert stats["active_defrag_hits"] == 0 and stats["total_active_defrag_time"] == 0
    c.config_set("active-defrag-ignore-bytes", "1mb")
    c.config_set("active-defrag-threshold-lower", 5)
    c.config_set("activedefrag", "yes")
    deadline = time.time() + 60
    running_seen = False
    while time.time() < deadline:
        mem = c.info("memory")
        running_seen |= mem["active_defrag_running"] > 0
        if mem["allocator_frag_ratio"] < 1.1 and mem["active_defrag_running"] == 0:
            break
        time.sleep(0.1)
    assert mem["allocator_frag_ratio"] < 1.1, mem
    assert running_seen
    assert c.execute_command("DEBUG", "DIGEST") == before
    stats = c.info("stats")
    assert stats["active_defrag_hits"] > 10000 and stats["active_defrag_key_hits"] > 10000
    assert stats["active_defrag_misses"] > 0 and stats["total_active_defrag_time"] > 0
    assert stats["current_active_defrag_time"] == 0
    assert "Active defrag started" in s.log_text()
    # Nothing left to do: no cycle starts again.
    hits = stats["active_defrag_hits"]
    time.sleep(0.5)
    assert c.info("stats")["active_defrag_hits"] == hits
    c.close()


def test_cycle_runs_while_loading(keel):
    """A load blocks the event loop, so cron does not run; as Redis 7.0
    (its whileBlockedCron), the load gives the cycle the ticks it missed, so
    an AOF that fragments memory as it replays is defragmented as it loads
    (Redis's memefficiency test). CONFIG RESETSTAT zeroes the counts."""
    s = keel("--save", "", "--appendonly", "yes", "--auto-aof-rewrite-percentage", "0", "--hz", "100",
             "--loglevel", "verbose")
    c = s.client(socket_timeout=120)
    if not jemalloc(c):
        pytest.skip("needs jemalloc (the release build)")
    # Small values, then in turns two of every three of them deleted and
    # bigger ones written, which cannot fill the holes: the AOF's replay
    # fragments memory all along (a script's DELs replay as one MULTI
    # block, hence many small scripts).
    n, batch = 150000, 3000
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set("k:%d" % i, "v" * 100)
    p.execute()
    for b in range(n // batch):
        c.eval("for i=%d,%d do if i %% 3 ~= 0 then redis.call('del','k:'..i) end end return 1" %
               (b * batch, (b + 1) * batch - 1), 0)
        p = c.pipeline(transaction=False)
        for i in range(b * batch // 3, (b + 1) * batch // 3):
            p.set("big:%d" % i, "w" * 300)
        p.execute()
    digest = c.execute_command("DEBUG", "DIGEST")
    for name, value in (("active-defrag-ignore-bytes", "1mb"), ("active-defrag-threshold-lower", 5),
                        ("active-defrag-cycle-min", 65), ("active-defrag-cycle-max", 75)):
        c.config_set(name, value)
    # The live dataset is defragmented first, so no cycle over it starts
    # from cron before the load: every hit below is the load's.
    assert c.execute_command("DEBUG", "DEFRAG") > 0
    assert c.info("stats")["active_defrag_hits"] > 0
    c.config_set("activedefrag", "yes")
    c.config_resetstat()  # as Redis, the defrag counts too
    stats = c.info("stats")
    assert [stats[k] for k in ("active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits",
                               "active_defrag_key_misses", "total_active_defrag_time")] == [0, 0, 0, 0, 0]
    # As Redis's test: a spin of 1 us every 50 commands loaded.
    c.config_set("key-load-delay", -50)
    # One write: no cron tick runs between the load and the switch off.
    p = c.pipeline(transaction=False)
    p.execute_command("DEBUG", "LOADAOF")
    p.config_set("activedefrag", "no")
    assert p.execute() == [b"OK", True]
    # The cycle's own account of the load, for a failure to explain itself.
    cycles = "\n".join(line for line in s.log_text().splitlines() if "defrag" in line or "loaded" in line)
    assert c.info("stats")["active_defrag_hits"] > 10000, cycles
    assert c.info("memory")["allocator_frag_ratio"] < 1.4, cycles  # 1.5 without the cycle
    assert c.execute_command("DEBUG", "DIGEST") == digest
    c.close()


def test_cycle_runs_until_the_fragmentation_is_down(keel):
    """A cycle reports running until the waste is below its threshold: a
    pass that leaves it above begins another at once (as Redis's), so a
    client that waits for active_defrag_running to fall (Redis's own test
    does) sees the fragmentation down. Redis's scenario: eviction under
    maxmemory leaves the slabs part empty."""
    s = keel("--save", "", "--loglevel", "verbose", "--hz", "100")
    c = s.client()
    if not jemalloc(c):
        pytest.skip("needs jemalloc (the release build)")
    c.config_set("maxmemory", "40mb")
    c.config_set("maxmemory-policy", "allkeys-lru")
    for prefix, n, size in (("asdf1", 280000, 150), ("asdf2", 70000, 300)):
        for first in range(0, n, 5000):
            p = c.pipeline(transaction=False)
            for i in range(first, min(n, first + 5000)):
                p.set("%s%d" % (prefix, i), "A" * size)
            p.execute()
    time.sleep(0.12)
    assert c.info("memory")["allocator_frag_ratio"] >= 1.4
    c.config_set("maxmemory", "50mb")
    for name, value in (("active-defrag-threshold-lower", 5), ("active-defrag-cycle-min", 65),
                        ("active-defrag-cycle-max", 75), ("active-defrag-ignore-bytes", "2mb")):
        c.config_set(name, value)
    before = c.execute_command("DEBUG", "DIGEST")
    c.config_set("activedefrag", "yes")
    wait_until(lambda: c.info("memory")["active_defrag_running"] > 0, "the cycle to start", 10)
    wait_until(lambda: c.info("memory")["active_defrag_running"] == 0, "the cycle to end", 120)
    time.sleep(0.12)
    mem = c.info("memory")
    assert mem["allocator_frag_ratio"] < 1.1, mem
    assert c.execute_command("DEBUG", "DIGEST") == before
    c.close()


def test_cycle_waits_for_its_thresholds(keel):
    s = keel("--save", "")
    c = s.client()
    if not jemalloc(c):
        pytest.skip("needs jemalloc (the release build)")
    fragment(c, 100000)
    # Some 10 MB wasted: under the 100mb default of ignore-bytes.
    c.config_set("activedefrag", "yes")
    time.sleep(0.5)
    assert c.info("stats")["active_defrag_hits"] == 0
    # Over it, but the waste is under threshold-lower.
    c.execute_command("CONFIG", "SET", "active-defrag-ignore-bytes", "1mb", "active-defrag-threshold-lower", 1000)
    time.sleep(0.5)
    assert c.info("stats")["active_defrag_hits"] == 0
    c.config_set("active-defrag-threshold-lower", 10)
    deadline = time.time() + 30
    while c.info("stats")["active_defrag_hits"] == 0 and time.time() < deadline:
        time.sleep(0.1)
    assert c.info("stats")["active_defrag_hits"] > 0
    c.close()


def test_cycle_under_writes_matches_a_twin(keel):
    """The cron cycle in small slices (cycle-max 1%, 32 elements a value
    step) while a client writes to the big values it is walking: the result
    matches a second server that took the same writes with no cycle."""
    a = keel("--save", "")
    b = keel("--save", "")
    ca, cb = a.client(), b.client()
    if not jemalloc(ca):
        pytest.skip("needs jemalloc (the release build)")
    for c in (ca, cb):
        # Big values made among short-lived keys, so their blocks sit in
        # slabs that the deletes leave mostly empty.
        p = c.pipeline(transaction=False)
        for i in range(3000):
            p.hset("h", "f%d" % i, "v%d" % i)
            p.zadd("z", {"m%d" % i: i})
            p.sadd("s", "m%d" % i)
            p.rpush("l", "e%d" % i)
            p.xadd("x", {"f": i}, id="%d-1" % (i + 1))
            p.set("tmp:%d" % i, "t" * 60)
            p.set("tmp2:%d" % i, "t" * 60)
        p.execute()
        c.execute_command("DEBUG", "POPULATE", 200000, "k", 100)
        c.eval("for i=0,199999 do if i % 3 ~= 0 then redis.call('del','k:'..i) end end return 1", 0)
        c.delete(*["tmp:%d" % i for i in range(3000)])
    ca.config_set("active-defrag-ignore-bytes", "1mb")
    ca.config_set("active-defrag-threshold-lower", 5)
    ca.config_set("active-defrag-cycle-min", 1)
    ca.config_set("active-defrag-cycle-max", 1)
    ca.config_set("active-defrag-max-scan-fields", 32)
    ca.config_set("activedefrag", "yes")
    rnd = random.Random(3)
    t_end = time.time() + 8
    n = 0
    while time.time() < t_end:
        i = rnd.randrange(6000)
        cmds = [("HSET", "h", "w%d" % i, i), ("HDEL", "h", "f%d" % rnd.randrange(3000)),
                ("ZADD", "z", i / 7, "w%d" % i), ("ZREM", "z", "m%d" % rnd.randrange(3000)),
                ("SADD", "s", "w%d" % i), ("SREM", "s", "m%d" % rnd.randrange(3000)),
                ("RPUSH", "l", "w%d" % i), ("LREM", "l", 1, "e%d" % rnd.randrange(3000)),
                ("XADD", "x", "%d-1" % (10000 + n), "w", i), ("XDEL", "x", "%d-1" % rnd.randrange(3000))]
        for c in (ca, cb):
            p = c.pipeline(transaction=False)
            for cmd in cmds:
                p.execute_command(*cmd)
            p.execute()
        n += 1
    assert ca.info("stats")["active_defrag_hits"] > 0
    keys = ["h", "z", "s", "l", "x"]
    assert ca.execute_command("DEBUG", "DIGEST-VALUE", *keys) == cb.execute_command("DEBUG", "DIGEST-VALUE", *keys)
    assert ca.execute_command("DEBUG", "DIGEST") == cb.execute_command("DEBUG", "DIGEST")
    ca.close()
    cb.close()


def test_activedefrag_in_the_config_file(keel, tmp_path):
    """A redis.conf with `activedefrag yes` starts Keel (jemalloc) with the
    cycle on, or (another allocator) stops it with Redis's words, as
    Debian's Redis stops."""
    from conftest import SERVER
    from persist_util import start_expect_failure

    probe = keel("--save", "")
    on_jemalloc = jemalloc(probe.client())
    if on_jemalloc:
        s = keel("--save", "", "--activedefrag", "yes", "--active-defrag-cycle-max", "50")
        c = s.client()
        assert c.config_get("activedefrag") == {"activedefrag": "yes"}
        assert c.config_get("active-defrag-cycle-max") == {"active-defrag-cycle-max": "50"}
        c.close()
    else:
        rc, log = start_expect_failure(SERVER, str(tmp_path), "--activedefrag", "yes")
        assert rc != 0
        assert "Active defragmentation cannot be enabled" in log


def test_blocks_freed_off_the_main_thread_go_back_to_their_pages(keel):
    """The lazy-free thread gives back the blocks its cache keeps once it
    has nothing left to free: an idle thread's cache is never trimmed, and
    would keep one block in many a page of what it freed, pages no
    defragmentation can empty (Redis 7.0 keeps them: 4.5 MB wasted here;
    Keel before, 3.4 MB). What Redis's memefficiency unit tripped over
    after its first test's flush."""
    s = keel("--save", "")
    c = s.client()
    if not jemalloc(c):
        pytest.skip("needs jemalloc (the release build)")
    c.execute_command("DEBUG", "POPULATE", "300000", "a", "150")
    c.execute_command("DEBUG", "POPULATE", "100000", "b", "300")
    c.flushall(asynchronous=True)
    wait_until(lambda: c.info("memory")["lazyfree_pending_objects"] == 0, "the flush to end")
    wait_until(lambda: c.info("memory")["allocator_frag_bytes"] < 1500000, "the pages freed", 3)
    c.close()
