"""XADD and XTRIM with Redis 8.2's KEEPREF | DELREF | ACKED: what trimming
does with consumer groups' references. KEEPREF (the default) leaves the
trimmed entries in the groups' PELs, DELREF drops them there too, ACKED
trims only entries every group has been served and has acknowledged,
stepping over the others (so a stream can stay longer than MAXLEN). With
no groups the three are alike. The approximate form with LIMIT propagates
an exact trim that a replica replays to the same entries. Redis 7.0 has
none of this, so these tests run against Keel only."""
import pytest

from conftest import SERVER
from persist_util import TempDirs, removal_fixture
from repl_util import assert_same_data, cluster_fixture, replicate, wait_in_sync

pytestmark = pytest.mark.skipif(SERVER.endswith("redis-server"), reason="Redis 8.2's options; Redis 7.0 lacks them")

mkdir = TempDirs("keel-xtrim-refs-")
_remove_tmpdirs = removal_fixture(mkdir)
cluster = cluster_fixture(mkdir)


def ids(r, key):
    return [e[0].decode() for e in r.xrange(key)]


def pending(r, key, group):
    return r.xpending(key, group)["pending"]


def fill(r, key, n):
    for i in range(1, n + 1):
        r.execute_command("XADD", key, "%d-0" % i, "f", "v")


def read(r, key, group, count=None):
    got = r.xreadgroup(group, "c1", {key: ">"}, count=count)
    return [e[0].decode() for e in got[0][1]] if got else []


def test_acked_keeps_what_a_group_still_needs(r):
    fill(r, "s", 5)
    r.xgroup_create("s", "g", "0")
    # Nothing served yet: nothing may go.
    r.execute_command("XADD", "s", "MAXLEN", "=", "1", "ACKED", "6-0", "f", "v")
    assert r.xlen("s") == 6
    # 1-0 served and acknowledged: only it goes.
    assert read(r, "s", "g", count=1) == ["1-0"]
    assert r.xack("s", "g", "1-0") == 1
    r.execute_command("XADD", "s", "MAXLEN", "=", "1", "ACKED", "7-0", "f", "v")
    assert ids(r, "s") == ["2-0", "3-0", "4-0", "5-0", "6-0", "7-0"]
    # Everything served and acknowledged: down to MAXLEN.
    served = read(r, "s", "g")
    assert r.xack("s", "g", *served) == 6
    r.execute_command("XADD", "s", "MAXLEN", "=", "1", "ACKED", "8-0", "f", "v")
    assert ids(r, "s") == ["8-0"]


def test_acked_steps_over_pending_entries(r):
    fill(r, "s", 6)
    r.xgroup_create("s", "g", "0")
    read(r, "s", "g")
    r.xack("s", "g", "1-0", "3-0", "4-0")
    assert r.execute_command("XTRIM", "s", "MAXLEN", "0", "ACKED") == 3
    assert ids(r, "s") == ["2-0", "5-0", "6-0"]
    assert pending(r, "s", "g") == 3
    # MINID likewise: 5-0 is acknowledged now, 2-0 and 6-0 are not.
    r.xack("s", "g", "5-0")
    assert r.execute_command("XTRIM", "s", "MINID", "6-0", "ACKED") == 1
    assert ids(r, "s") == ["2-0", "6-0"]


def test_acked_waits_for_every_group(r):
    fill(r, "s", 3)
    r.xgroup_create("s", "fast", "0")
    r.xgroup_create("s", "slow", "0")
    read(r, "s", "fast")
    r.xack("s", "fast", "1-0", "2-0", "3-0")
    assert r.execute_command("XTRIM", "s", "MAXLEN", "0", "ACKED") == 0  # slow has read nothing
    r.xreadgroup("slow", "c1", {"s": ">"}, count=2)
    r.xack("s", "slow", "1-0")
    assert r.execute_command("XTRIM", "s", "MAXLEN", "0", "ACKED") == 1  # 2-0 pending, 3-0 unread
    assert ids(r, "s") == ["2-0", "3-0"]


def test_delref_drops_pel_entries_keepref_leaves_them(r):
    fill(r, "a", 5)
    fill(r, "b", 5)
    for key in ("a", "b"):
        r.xgroup_create(key, "g", "0")
        read(r, key, "g", count=3)
    r.execute_command("XADD", "a", "MAXLEN", "1", "DELREF", "*", "f", "v")
    r.execute_command("XADD", "b", "MAXLEN", "1", "KEEPREF", "*", "f", "v")
    assert r.xlen("a") == 1 and r.xlen("b") == 1
    assert pending(r, "a", "g") == 0
    assert pending(r, "b", "g") == 3
    # The default is KEEPREF.
    fill(r, "c", 3)
    r.xgroup_create("c", "g", "0")
    read(r, "c", "g")
    assert r.execute_command("XTRIM", "c", "MAXLEN", "0") == 3
    assert pending(r, "c", "g") == 3


def test_without_groups_the_policies_are_alike(r):
    for policy in ("KEEPREF", "DELREF", "ACKED"):
        key = "s" + policy
        fill(r, key, 4)
        assert r.execute_command("XTRIM", key, "MAXLEN", "1", policy) == 3
        assert ids(r, key) == ["4-0"]


def test_syntax(r):
    fill(r, "s", 2)
    assert r.execute_command("XTRIM", "s", "ACKED", "MAXLEN", "5") == 0  # any order
    with pytest.raises(Exception, match="LIMIT cannot be used without the special ~ option"):
        r.execute_command("XTRIM", "s", "MAXLEN", "5", "LIMIT", "10", "DELREF")
    with pytest.raises(Exception, match="syntax error"):
        r.execute_command("XTRIM", "s", "MAXLEN", "5", "NOSUCHREF")
    with pytest.raises(Exception, match="XTRIM must be called with a trimming strategy"):
        r.execute_command("XTRIM", "s", "ACKED", "DELREF")
    assert r.execute_command("XADD", "s", "NOMKSTREAM", "DELREF", "3-0", "f", "v") == b"3-0"


def test_approximate_trim_replays_exactly_on_a_replica(cluster):
    primary = cluster.start("keel")
    replica = cluster.start("keel")
    replicate(primary, replica)
    p = primary.c
    for key in ("mx", "mn"):
        for i in range(1, 301):
            p.execute_command("XADD", key, "%d-0" % i, "f", "v")
        p.xgroup_create(key, "g", "0")
        p.xreadgroup("g", "c", {key: ">"}, count=200)
        # Acknowledge every third one served: the rest stay pending.
        p.xack(key, "g", *["%d-0" % i for i in range(1, 201) if i % 3 == 0])
    # Examining at most 50 entries per call, ACKED.
    n1 = p.execute_command("XTRIM", "mx", "MAXLEN", "~", "10", "LIMIT", "50", "ACKED")
    n2 = p.execute_command("XADD", "mn", "MINID", "~", "290", "LIMIT", "50", "ACKED", "*", "f", "v")
    assert n1 == 16  # 3-0 .. 48-0 among 1-0 .. 50-0
    assert n2 and p.xlen("mn") == 301 - 16
    assert p.execute_command("XTRIM", "mx", "MAXLEN", "~", "10", "LIMIT", "50", "DELREF") == 50
    wait_in_sync(primary, replica)
    assert_same_data(primary, replica, (0,))
    assert replica.c.xlen("mx") == primary.c.xlen("mx") == 300 - 16 - 50
