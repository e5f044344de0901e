"""Snapshots are point-in-time, forkless or forked: a BGSAVE taken while a
random mix of writes (overwrites, deletes, appends to every type, expiry
changes, RENAME, MOVE, SWAPDB, FLUSHDB, new keys) runs must hold exactly
the keys and values of the moment BGSAVE answered. The file is loaded into
a second server and compared key by key with DEBUG DIGEST-VALUE digests
recorded before the BGSAVE."""
import os
import random
import shutil
import tempfile
import time

import pytest
import redis


def populate(r, rng):
    p = r.pipeline(transaction=False)
    for db in (0, 1):
        p.execute_command("SELECT", db)
        for i in range(30000):
            p.set("s:%d" % i, "v%d" % rng.randrange(10**9))
        for i in range(300):
            p.rpush("l:%d" % i, *["e%d" % j for j in range(rng.randrange(1, 200))])
            p.hset("h:%d" % i, mapping={"f%d" % j: j for j in range(rng.randrange(1, 150))})
            p.sadd("set:%d" % i, *range(rng.randrange(1, 300)))
            p.zadd("z:%d" % i, {"m%d" % j: j * 1.5 for j in range(rng.randrange(1, 200))})
            for j in range(rng.randrange(1, 30)):
                p.xadd("x:%d" % i, {"a": j, "b": "x" * (j % 7)})
        for i in range(0, 30000, 7):
            p.expire("s:%d" % i, 100000)
    p.execute_command("SELECT", 0)
    p.execute()


def digests(r):
    out = {}
    for db in (0, 1):
        r.execute_command("SELECT", db)
        keys = list(r.scan_iter(count=1000))
        p = r.pipeline(transaction=False)
        for k in keys:
            p.execute_command("DEBUG", "DIGEST-VALUE", k)
        for k, d in zip(keys, p.execute()):
            out[(db, k)] = d[0] if isinstance(d, list) else d
    r.execute_command("SELECT", 0)
    return out


def mutate(r, rng, limit=400):
    """Batches of random writes (pipelined, so many land in each slice of
    the snapshot's work) until the snapshot is done; returns how many
    batches ran while it was in progress."""
    during = 0
    n = 0
    for _ in range(limit):
        p = r.pipeline(transaction=False)
        for _ in range(100):
            n += 1
            db = rng.randrange(2)
            p.execute_command("SELECT", db)
            i = rng.randrange(30000)
            j = rng.randrange(300)
            op = rng.randrange(16)
            if op == 0:
                p.set("s:%d" % i, "changed")
            elif op == 1:
                p.delete("s:%d" % i)
            elif op == 2:
                p.rpush("l:%d" % j, "new")
            elif op == 3:
                p.hset("h:%d" % j, "fnew", "1")
            elif op == 4:
                p.sadd("set:%d" % j, "newmember")
            elif op == 5:
                p.zadd("z:%d" % j, {"m0": 99})
            elif op == 6:
                p.xadd("x:%d" % j, {"new": 1})
            elif op == 7:
                p.expire("s:%d" % i, 5000)
            elif op == 8:
                p.persist("s:%d" % i)
            elif op == 9:
                p.rename("l:%d" % j, "renamed:%d" % n)
            elif op == 10:
                p.move("h:%d" % j, 1 - db)
            elif op == 11:
                p.set("fresh:%d" % n, "x")
            elif op == 12:
                p.append("s:%d" % i, "tail")
            elif op == 13:
                p.incr("counter:%d" % (n % 50))
            elif op == 14:
                p.delete("z:%d" % j, "set:%d" % j)
            elif rng.random() < 0.02:
                if rng.random() < 0.5:
                    p.swapdb(0, 1)
                else:
                    p.flushdb()
        p.execute_command("SELECT", 0)
        p.execute(raise_on_error=False)
        if not r.info("persistence")["rdb_bgsave_in_progress"]:
            break
        during += 1
    return during


@pytest.mark.parametrize("forkless", ["yes", "no"])
def test_snapshot_under_random_writes_is_point_in_time(keel, forkless):
    rng = random.Random(42)
    # rdb-key-save-delay stretches the save, so the writes overlap it on
    # any machine, however fast.
    s = keel("--save", "", "--bgsave-forkless", forkless, "--rdb-key-save-delay", "20")
    r = s.client()
    populate(r, rng)
    before = digests(r)
    assert r.bgsave() is True
    during = mutate(r, rng)
    deadline = time.time() + 60
    while r.info("persistence")["rdb_bgsave_in_progress"]:
        assert time.time() < deadline
        time.sleep(0.01)
    assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
    if forkless == "yes":
        assert during >= 3, ("the writes must overlap the snapshot", during)
    copy = tempfile.mkdtemp(prefix="keel-snap-")
    try:
        shutil.copy(os.path.join(s.dir, "dump.rdb"), copy)
        s2 = keel("--dir", copy, "--save", "")
        after = digests(s2.client())
        missing = set(before) - set(after)
        extra = set(after) - set(before)
        changed = [k for k in before if k in after and before[k] != after[k]]
        assert not missing and not extra and not changed, (len(missing), len(extra), changed[:5])
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def test_forkless_snapshot_uses_little_extra_memory(keel):
    """A forkless snapshot under writes holds no copy of the data: the
    server's memory grows by far less than the dataset while it runs."""
    s = keel("--save", "", "--bgsave-forkless", "yes")
    r = s.client()
    r.execute_command("DEBUG", "POPULATE", "400000", "k", "200")
    base = r.info("memory")["used_memory"]
    assert r.bgsave() is True
    peak = base
    rng = random.Random(1)
    while r.info("persistence")["rdb_bgsave_in_progress"]:
        p = r.pipeline(transaction=False)
        for _ in range(200):
            p.set("k:%d" % rng.randrange(400000), "y" * 200)
        p.execute()
        peak = max(peak, r.info("memory")["used_memory"])
    assert peak - base < base * 0.10
