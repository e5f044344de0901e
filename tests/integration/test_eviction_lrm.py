"""Redis 8.6's LRM policies (allkeys-lrm, volatile-lrm: evict the least
recently modified keys): the policy names in CONFIG and INFO, OBJECT
IDLETIME counting from the last change (reads leave it alone, unlike LRU),
victim choice that evicts keys only read before keys recently written (the
opposite of allkeys-lru on the same workload), volatile-lrm sparing keys
without a TTL. Keel only: Debian's Redis 7.0 has no LRM."""
import time

import pytest
import redis

from test_eviction import alive, limit_for, read, srv, used, write  # noqa: F401 (srv: a fixture)

POLICY_NOTE = ("Please note that when switching between policies at runtime LRU and LFU data will take some time "
               "to adjust.")


def test_policy_names(srv):
    for policy in ("allkeys-lrm", "volatile-lrm"):
        assert srv.config_set("maxmemory-policy", policy) is True
        assert srv.config_get("maxmemory-policy") == {"maxmemory-policy": policy}
        assert srv.info("memory")["maxmemory_policy"] == policy
    with pytest.raises(redis.ResponseError, match="argument\\(s\\) must be one of the following"):
        srv.config_set("maxmemory-policy", "allkeys-lrx")


def test_idletime_counts_from_the_last_change(srv):
    srv.config_set("maxmemory-policy", "allkeys-lrm")
    srv.set("k", "v")
    srv.set("other", "v")
    time.sleep(2.2)
    for _ in range(5):
        assert srv.get("k") == b"v"
        assert srv.strlen("k") == 1
    assert srv.object("idletime", "k") >= 2  # reads did not move it
    srv.append("k", "w")
    assert srv.object("idletime", "k") == 0  # a change did
    srv.expire("other", 100)
    assert srv.object("idletime", "other") == 0  # so does a new TTL
    # OBJECT FREQ is LFU's alone.
    with pytest.raises(redis.ResponseError) as e:
        srv.object("freq", "k")
    assert str(e.value) == "An LFU maxmemory policy is not selected, access frequency not tracked. " + POLICY_NOTE
    # Under LRU the same reads do move it.
    srv.config_set("maxmemory-policy", "allkeys-lru")
    time.sleep(1.1)
    srv.get("k")
    assert srv.object("idletime", "k") == 0


def workload(c, policy):
    """Keys written long ago but read just now ("old"), and keys written a
    little later and not read ("new"); then, at the memory limit, fillers
    that force fewer evictions than there are old keys. (Few enough keys
    that the keyspace table does not grow meanwhile.) Returns the number
    evicted and how many old and new keys are left."""
    c.flushall()
    c.config_resetstat()
    c.config_set("maxmemory", 0)
    c.config_set("maxmemory-policy", policy)
    write(c, "old", 500)
    time.sleep(2.1)
    write(c, "new", 500)
    time.sleep(1.1)
    read(c, ["old:%d" % i for i in range(500)], 2)
    c.config_set("maxmemory", used(c))
    for i in range(300):  # one at a time: a pipeline's buffers would count too
        c.set("fill:%d" % i, "v" * 16)
    evicted = c.info("stats")["evicted_keys"]
    assert 200 <= evicted <= 500, evicted
    # Every command evicts while over the limit (as in Redis): the counting
    # pipelines below must not.
    c.config_set("maxmemory", 0)
    return (evicted, alive(c, ["old:%d" % i for i in range(500)]), alive(c, ["new:%d" % i for i in range(500)]))


def test_allkeys_lrm_evicts_keys_only_read_first(srv):
    evicted, old, new = workload(srv, "allkeys-lrm")
    # The sampling approximates: as the old keys thin out, a sample may
    # hold none, and a new one goes. At least four victims in five are old;
    # the opposite choice would take nearly all from the new ones.
    assert (500 - new) * 4 <= 500 - old, (evicted, old, new)
    # allkeys-lru on the same workload: the reads protect the old keys.
    evicted, old, new = workload(srv, "allkeys-lru")
    assert (500 - old) * 4 <= 500 - new, (evicted, old, new)


def test_volatile_lrm_evicts_only_keys_with_a_ttl(srv):
    srv.config_set("maxmemory-policy", "volatile-lrm")
    write(srv, "keep", 2000)
    write(srv, "vol", 10000, ttl=1000)
    limit_for(srv, 2000)
    write(srv, "more", 6000)
    assert alive(srv, ["keep:%d" % i for i in range(2000)]) == 2000
    assert alive(srv, ["more:%d" % i for i in range(6000)]) == 6000
    assert srv.info("stats")["evicted_keys"] > 0
    assert srv.dbsize() < 18000
