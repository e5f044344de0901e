"""XREADGROUP ... CLAIM min-idle-time (Redis 8.4): a consumer reading new
entries with ">" first takes over the group's pending entries that have
been idle at least min-idle-time ms (oldest delivery first), then reads
new ones, COUNT capping both. With CLAIM every entry carries two more
fields: the idle time and the delivery count before this read (0 and 0 for
a new entry). Claimed entries stay pending under their new owner (NOACK
applies to new entries only); a history read (an ID instead of ">")
ignores CLAIM. Behaviour and error texts follow Redis 8.4's test suite;
Debian's Redis 7.0 has no CLAIM."""
import time

from conftest import err, unparsed


def x(r, *args):
    return unparsed(r, "XREADGROUP", "XPENDING", "XREAD").execute_command(*args)


def error(r, *args):
    return err(r.execute_command, *args)


def prepare(r, n=2, read=None):
    for i in range(1, n + 1):
        r.xadd("s", {"f": "v%d" % i}, id="%d-0" % i)
    r.xgroup_create("s", "g", id="0")
    if read is not None:
        args = ["XREADGROUP", "GROUP", "g", "c1"] + (["COUNT", read] if read else []) + ["STREAMS", "s", ">"]
        x(r, *args)


def entries(reply):
    """The entries of a one-stream XREADGROUP reply."""
    assert len(reply) == 1 and reply[0][0] == b"s"
    return reply[0][1]


def test_claims_idle_entries_then_reads_new_ones(r):
    prepare(r, 3, read=1)
    time.sleep(0.1)
    got = entries(x(r, "XREADGROUP", "GROUP", "g", "c2", "CLAIM", 50, "STREAMS", "s", ">"))
    assert [e[0] for e in got] == [b"1-0", b"2-0", b"3-0"]
    assert got[0][1] == [b"f", b"v1"] and got[0][2] >= 50 and got[0][3] == 1
    assert [e[2:] for e in got[1:]] == [[0, 0], [0, 0]]
    pending = x(r, "XPENDING", "s", "g", "-", "+", 10)
    assert [(p[0], p[1], p[3]) for p in pending] == [(b"1-0", b"c2", 2), (b"2-0", b"c2", 1), (b"3-0", b"c2", 1)]
    # The counts go on with every claim, whoever claims.
    r.xack("s", "g", "2-0", "3-0")
    for want in (2, 3, 4):
        time.sleep(0.06)
        got = entries(x(r, "XREADGROUP", "GROUP", "g", "c3", "COUNT", 1, "CLAIM", 50, "STREAMS", "s", ">"))
        assert got[0][0] == b"1-0" and got[0][3] == want and got[0][2] >= 50
    assert x(r, "XPENDING", "s", "g", "-", "+", 1)[0][1:4:2] == [b"c3", 5]


def test_min_idle_time_and_count(r):
    prepare(r, 3, read=0)
    # Nothing idle long enough and nothing new: a nil reply.
    assert x(r, "XREADGROUP", "GROUP", "g", "c2", "CLAIM", 100_000, "STREAMS", "s", ">") is None
    time.sleep(0.1)
    got = entries(x(r, "XREADGROUP", "GROUP", "g", "c2", "COUNT", 2, "CLAIM", 50, "STREAMS", "s", ">"))
    assert [e[0] for e in got] == [b"1-0", b"2-0"] and all(e[3] == 1 for e in got)
    # CLAIM 0 takes even what was just delivered; the oldest delivery first.
    got = entries(x(r, "XREADGROUP", "GROUP", "g", "c1", "CLAIM", 0, "STREAMS", "s", ">"))
    assert [e[0] for e in got] == [b"3-0", b"1-0", b"2-0"]
    # A huge min-idle-time claims nothing; new entries still come.
    r.xadd("s", {"f": "v4"}, id="4-0")
    got = entries(x(r, "XREADGROUP", "GROUP", "g", "c1", "CLAIM", 9223372036854775807, "STREAMS", "s", ">"))
    assert [(e[0], e[2], e[3]) for e in got] == [(b"4-0", 0, 0)]


def test_noack_history_and_deleted_entries(r):
    prepare(r, 2, read=1)
    time.sleep(0.1)
    # NOACK: the claimed entry stays pending (new owner), the new one is not added.
    got = entries(x(r, "XREADGROUP", "GROUP", "g", "c2", "NOACK", "CLAIM", 50, "STREAMS", "s", ">"))
    assert [e[0] for e in got] == [b"1-0", b"2-0"]
    assert x(r, "XPENDING", "s", "g")[0] == 1
    # A history read ignores CLAIM: the usual two-field entries.
    got = entries(x(r, "XREADGROUP", "GROUP", "g", "c2", "CLAIM", 0, "STREAMS", "s", "0"))
    assert got == [[b"1-0", [b"f", b"v1"]]]
    # An entry deleted from the stream is not served (it stays pending).
    r.xdel("s", "1-0")
    time.sleep(0.06)
    assert x(r, "XREADGROUP", "GROUP", "g", "c3", "CLAIM", 50, "STREAMS", "s", ">") is None
    assert x(r, "XPENDING", "s", "g")[0] == 1


def test_several_streams(r):
    for k in ("a", "b"):
        for i in (1, 2):
            r.xadd(k, {"f": i}, id="%d-0" % i)
        r.xgroup_create(k, "g", id="0")
    x(r, "XREADGROUP", "GROUP", "g", "c1", "COUNT", 1, "STREAMS", "a", "b", ">", ">")
    time.sleep(0.06)
    reply = x(r, "XREADGROUP", "GROUP", "g", "c1", "CLAIM", 50, "STREAMS", "a", "b", ">", ">")
    assert [s[0] for s in reply] == [b"a", b"b"]
    for _, got in reply:
        assert [(e[0], e[3]) for e in got] == [(b"1-0", 1), (b"2-0", 0)]


def test_blocking_read_returns_claimable_entries_at_once(r):
    prepare(r, 1, read=0)
    time.sleep(0.06)
    t = time.time()
    got = entries(x(r, "XREADGROUP", "GROUP", "g", "c2", "BLOCK", 5000, "CLAIM", 50, "STREAMS", "s", ">"))
    assert got[0][0] == b"1-0" and time.time() - t < 2


def test_errors(r):
    prepare(r, 2, read=1)
    for bad in ("test", "5.5", "+10", "10e", "-0", "10/2"):
        assert error(r, "XREADGROUP", "GROUP", "g", "c1", "CLAIM", bad, "STREAMS", "s", ">") == \
            "min-idle-time is not an integer"
    for bad in ("-10", "-42"):
        assert error(r, "XREADGROUP", "GROUP", "g", "c1", "CLAIM", bad, "STREAMS", "s", ">") == \
            "min-idle-time must be a positive integer"
    assert error(r, "XREADGROUP", "GROUP", "g", "c1", "CLAIM", 10, "CLAIM", "COUNT", 1, "STREAMS", "s", ">") == \
        "min-idle-time is not an integer"
    assert error(r, "XREADGROUP", "CLAIM", "GROUP", "g", "c1", "STREAMS", "s", ">") == \
        "min-idle-time is not an integer"
    assert error(r, "XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "CLAIM", 50, ">").startswith("NOGROUP No such key 'CLAIM'")
    assert error(r, "XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "CLAIM", ">").startswith("Unbalanced")
    assert error(r, "XREAD", "CLAIM", 5, "STREAMS", "s", "0") == \
        "The CLAIM option is only supported by XREADGROUP. You called XREAD instead."
    # The option may come before GROUP, and the last CLAIM wins.
    time.sleep(0.06)
    got = entries(x(r, "XREADGROUP", "CLAIM", 50, "GROUP", "g", "c1", "COUNT", 1, "STREAMS", "s", ">"))
    assert got[0][0] == b"1-0" and got[0][3] == 1


def test_replica_sees_the_same_pending_entries(keel):
    primary = keel("--repl-diskless-sync-delay", "0")
    replica = keel()
    p, q = primary.client(), replica.client()
    q.replicaof("127.0.0.1", primary.port)
    deadline = time.time() + 20
    while "online" not in str(p.info("replication").get("slave0", "")):
        assert time.time() < deadline
        time.sleep(0.05)
    prepare(p, 3, read=1)
    time.sleep(0.06)
    x(p, "XREADGROUP", "GROUP", "g", "c2", "CLAIM", 50, "STREAMS", "s", ">")
    time.sleep(0.06)
    x(p, "XREADGROUP", "GROUP", "g", "c3", "COUNT", 1, "CLAIM", 50, "STREAMS", "s", ">")
    assert p.execute_command("WAIT", 1, 5000) == 1
    want = [(e[0], e[1], e[3]) for e in x(p, "XPENDING", "s", "g", "-", "+", 10)]
    assert want == [(b"1-0", b"c3", 3), (b"2-0", b"c2", 1), (b"3-0", b"c2", 1)]
    assert [(e[0], e[1], e[3]) for e in x(q, "XPENDING", "s", "g", "-", "+", 10)] == want


def test_count_takes_the_oldest_deliveries_and_skips_deleted_entries(r):
    prepare(r, 6, read=0)
    for eid in ("1-0", "2-0"):  # re-delivered later: now the newest deliveries
        time.sleep(0.005)
        r.execute_command("XCLAIM", "s", "g", "c1", 0, eid)
    r.xdel("s", "4-0")
    got = entries(x(r, "XREADGROUP", "GROUP", "g", "c2", "COUNT", 3, "CLAIM", 0, "STREAMS", "s", ">"))
    assert [e[0] for e in got] == [b"3-0", b"5-0", b"6-0"]
    got = entries(x(r, "XREADGROUP", "GROUP", "g", "c2", "COUNT", 3, "CLAIM", 0, "STREAMS", "s", ">"))
    assert [e[0] for e in got] == [b"1-0", b"2-0", b"3-0"]
