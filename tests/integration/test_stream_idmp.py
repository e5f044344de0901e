"""Idempotent stream production (Redis 8.6): XADD IDMP / IDMPAUTO (a
retried (pid, iid) returns the first entry's ID and adds nothing; producers
are namespaces; IDMPAUTO hashes the pairs in any order; binary-safe IDs),
option placement, exact errors, NOMKSTREAM, MULTI/EXEC, consumer groups;
XCFGSET (values, errors, history cleared on a change), IDMP-DURATION expiry,
per-producer IDMP-MAXSIZE; XINFO STREAM's idmp fields, the stream-idmp-*
configs; XIDMPRECORD; the dedup state across DEBUG RELOAD, RDB restart, AOF
rewrite without preamble, DUMP/RESTORE, COPY, replication and promotion;
and the pattern itself: producers killed with SIGKILL under appendfsync
always, then resending everything, leave each message exactly once."""
import os
import threading
import time

import pytest
import redis
from conftest import WRONGTYPE, Server, err, unparsed
from test_aof_rewrite import restart

BAD_ID = "Invalid stream ID specified as stream command argument"
AUTO_ONLY = "IDMP/IDMPAUTO can be used only with auto-generated IDs"
TWICE = "IDMP/IDMPAUTO specified multiple times"
NO_PID = "IDMP requires a non-empty producer ID"
NO_IID = "IDMP requires a non-empty idempotent ID"
AUTO_NO_PID = "IDMPAUTO requires a non-empty producer ID"
NO_PARAMS = "At least one parameter must be specified"
SYNTAX = "syntax error"
NOT_INT = "value is not an integer or out of range"
DURATION_RANGE = "IDMP-DURATION must be between 1 and 86400"
MAXSIZE_RANGE = "IDMP-MAXSIZE must be between 1 and 10000"
NO_KEY = "no such key"
IDMP_FIELDS = ("idmp-duration", "idmp-maxsize", "pids-tracked", "iids-tracked", "iids-added", "iids-duplicates")
RAW = ("XRANGE", "XREADGROUP", "COPY")  # replies left as sent


@pytest.fixture
def c(r):
    """A bytes client on the flushed module server, stream replies raw."""
    return unparsed(r, *RAW)


def raw(s):
    return unparsed(s.client(), *RAW)


def add(c, key, pid, iid, *fv):
    return c.execute_command("XADD", key, "IDMP", pid, iid, "*", *(fv or ("f", "v")))


def auto(c, key, pid, *fv):
    return c.execute_command("XADD", key, "IDMPAUTO", pid, "*", *fv)


def add_many(c, key, pid, iids, transaction=False):
    """XADD IDMP pid iid * iid <iid> for each iid, in one pipeline."""
    p = c.pipeline(transaction=transaction)
    for iid in iids:
        p.execute_command("XADD", key, "IDMP", pid, iid, "*", "iid", iid)
    return p.execute()


def cfg(c, key, *args):
    return c.execute_command("XCFGSET", key, *args)


def info(c, key, *extra):
    flat = c.execute_command("XINFO", "STREAM", key, *extra)
    return {k.decode(): v for k, v in zip(flat[::2], flat[1::2])}


def idmp(c, key, *extra):
    """XINFO STREAM's six idmp fields (a KeyError if one is missing)."""
    d = info(c, key, *extra)
    return {f: d[f] for f in IDMP_FIELDS}


def counters(c, key):
    """(pids-tracked, iids-tracked, iids-added, iids-duplicates)."""
    return tuple(idmp(c, key).values())[2:]


def settings(c, key):
    """(idmp-duration, idmp-maxsize)."""
    return tuple(idmp(c, key).values())[:2]


def wait_for(cond, what, timeout=20):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


# ---------------------------------------------------------------- XADD IDMP / IDMPAUTO

def test_retry_returns_the_first_id_and_adds_nothing(c):
    first = add(c, "s", "p1", "req-1", "f", "v1")
    assert add(c, "s", "p1", "req-1", "f", "v2", "g", "w") == first and c.xlen("s") == 1
    assert c.execute_command("XRANGE", "s", "-", "+") == [[first, [b"f", b"v1"]]]
    other = add(c, "s", "p1", "req-2", "f", "v1")
    assert other != first and c.xlen("s") == 2
    assert (add(c, "s", "p1", "req-2"), add(c, "s", "p1", "req-1"), c.xlen("s")) == (other, first, 2)


def test_producers_are_separate_namespaces(c):
    a = add(c, "s", "p1", "same", "who", "p1")
    b = add(c, "s", "p2", "same", "who", "p2")
    assert a != b and c.xlen("s") == 2
    assert (add(c, "s", "p2", "same"), add(c, "s", "p1", "same"), c.xlen("s")) == (b, a, 2)
    # IDMPAUTO too: the same fields under two producers are two entries.
    x1, x2 = auto(c, "s", "p1", "k", "v"), auto(c, "s", "p2", "k", "v")
    assert x1 != x2 and c.xlen("s") == 4


def test_idmp_anywhere_among_the_options(c):
    forms = [("IDMP", "p1", "a", "MAXLEN", "~", "100"),
             ("MAXLEN", "100", "IDMP", "p1", "b"),
             ("KEEPREF", "IDMP", "p1", "c", "MINID", "0"),
             ("IDMP", "p1", "d", "DELREF"),
             ("MAXLEN", "~", "100", "LIMIT", "10", "IDMPAUTO", "p2"),
             ("NOMKSTREAM", "IDMPAUTO", "p3"),
             ("IDMP", "p1", "e", "NOMKSTREAM", "ACKED")]
    c.execute_command("XADD", "s", "*", "init", "1")
    ids = [c.execute_command("XADD", "s", *f, "*", "f", "v%d" % i) for i, f in enumerate(forms)]
    assert len(set(ids)) == len(forms) and c.xlen("s") == 1 + len(forms)
    assert [c.execute_command("XADD", "s", *f, "*", "f", "v%d" % i) for i, f in enumerate(forms)] == ids
    assert c.xlen("s") == 1 + len(forms)


def test_idmpauto_hashes_the_pairs_in_any_order(c):
    a = auto(c, "s", "p1", "f1", "a", "f2", "b")
    assert auto(c, "s", "p1", "f2", "b", "f1", "a") == a
    assert auto(c, "s", "p1", "f1", "a", "f2", "b") == a and c.xlen("s") == 1
    named = auto(c, "s", "p1", "g1", "a", "f2", "b")  # another field name
    valued = auto(c, "s", "p1", "f1", "a", "f2", "c")  # another value
    swapped = auto(c, "s", "p1", "f1", "b", "f2", "a")  # values paired differently
    assert len({a, named, valued, swapped}) == 4 and c.xlen("s") == 4
    assert auto(c, "s", "p1", "f2", "a", "f1", "b") == swapped
    assert c.execute_command("XRANGE", "s", a, a) == [[a, [b"f1", b"a", b"f2", b"b"]]] and c.xlen("s") == 4


def test_ids_are_binary_safe(c):
    binary = b"\x00\x01\x02\xff"
    cases = [(binary, binary), ("生産者", "ключ-1"), ("p", b"a\x00b"), ("p", b"a\x00c"),
             ("p", "x" * 65536), ("p", "x" * 65535 + "y"), (b"p\x00", b"a\x00b")]
    ids = [add(c, "s", pid, iid, "n", str(i)) for i, (pid, iid) in enumerate(cases)]
    assert len(set(ids)) == len(cases) and c.xlen("s") == len(cases)
    assert [add(c, "s", pid, iid, "n", "retry") for pid, iid in cases] == ids
    assert auto(c, "s", binary, b"\xff\x00", b"\x00") == auto(c, "s", binary, b"\xff\x00", b"\x00")
    assert c.xlen("s") == len(cases) + 1


def test_errors_have_exact_texts_and_add_nothing(c):
    cases = [(BAD_ID, ("IDMP", "p1", "*", "f", "v")),  # IDMP took p1 and *, f is the ID
             (AUTO_ONLY, ("IDMP", "p1", "iid1", "1-1", "f", "v")),
             (AUTO_ONLY, ("IDMPAUTO", "p1", "1-1", "f", "v")),
             (TWICE, ("IDMP", "p1", "a", "IDMP", "p1", "b", "*", "f", "v")),
             (TWICE, ("IDMP", "p1", "a", "IDMPAUTO", "p2", "*", "f", "v")),
             (TWICE, ("IDMPAUTO", "p1", "IDMP", "p2", "b", "*", "f", "v")),
             (TWICE, ("IDMPAUTO", "p1", "IDMPAUTO", "p1", "*", "f", "v")),
             (TWICE, ("IDMP", "p1", "a", "MAXLEN", "5", "IDMP", "p1", "a", "*", "f", "v")),
             (NO_PID, ("IDMP", "", "iid1", "*", "f", "v")),
             (NO_IID, ("IDMP", "p1", "", "*", "f", "v")),
             (AUTO_NO_PID, ("IDMPAUTO", "", "*", "f", "v"))]
    c.execute_command("XADD", "t", "1-0", "f", "v")
    for key in ("s", "t"):
        for text, args in cases:
            assert err(c.execute_command, "XADD", key, *args) == text, (key, args)
    assert c.exists("s") == 0 and c.xlen("t") == 1 and counters(c, "t") == (0, 0, 0, 0)
    # No failed command remembered its iid.
    assert add(c, "t", "p1", "a") != add(c, "t", "p1", "iid1") and c.xlen("t") == 3


def test_nomkstream_on_a_missing_key(c):
    assert c.execute_command("XADD", "s", "NOMKSTREAM", "IDMP", "p1", "a", "*", "f", "v") is None
    assert c.execute_command("XADD", "s", "IDMPAUTO", "p1", "NOMKSTREAM", "*", "f", "v") is None
    assert c.exists("s") == 0
    c.execute_command("XADD", "s", "*", "init", "1")
    add(c, "s", "p1", "a")
    auto(c, "s", "p1", "f", "v")
    assert c.xlen("s") == 3 and counters(c, "s") == (1, 2, 2, 0)


def test_multi_exec(c):
    id1, id2, dup, id3 = add_many(c, "s", "p1", ["req-1", "req-2", "req-1", "req-3"], transaction=True)
    assert dup == id1 and len({id1, id2, id3}) == 3 and c.xlen("s") == 3
    assert [e[1] for e in c.execute_command("XRANGE", "s", "-", "+")] == \
        [[b"iid", b"req-1"], [b"iid", b"req-2"], [b"iid", b"req-3"]]


def test_consumer_group_sees_each_entry_once(c):
    c.execute_command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    a = add(c, "s", "p1", "a", "f", "1")
    b = auto(c, "s", "p1", "f", "2")
    assert add(c, "s", "p1", "a", "f", "9") == a
    assert c.execute_command("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">") == \
        [[b"s", [[a, [b"f", b"1"]], [b, [b"f", b"2"]]]]]
    assert add(c, "s", "p1", "a") == a and auto(c, "s", "p1", "f", "2") == b
    assert c.execute_command("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">") is None
    assert c.xpending("s", "g")["pending"] == 2


# ---------------------------------------------------------------- XCFGSET

def test_xcfgset_sets_each_parameter(c):
    c.execute_command("XADD", "s", "*", "f", "v")
    c.execute_command("XADD", "t", "*", "f", "v")
    for args, now in ((("IDMP-DURATION", 30), (30, 100)), (("IDMP-MAXSIZE", 7), (30, 7)),
                      (("IDMP-MAXSIZE", 9, "IDMP-DURATION", 40), (40, 9)),
                      (("IDMP-DURATION", 1, "IDMP-MAXSIZE", 1), (1, 1)),
                      (("IDMP-DURATION", 86400, "IDMP-MAXSIZE", 10000), (86400, 10000))):
        assert cfg(c, "s", *args) == b"OK"
        assert settings(c, "s") == now, args
    assert settings(c, "t") == (100, 100)


def test_xcfgset_errors_change_nothing(c):
    c.execute_command("XADD", "s", "*", "f", "v")
    cfg(c, "s", "IDMP-DURATION", 50, "IDMP-MAXSIZE", 500)
    first = add(c, "s", "p1", "a")
    bad = [(NO_PARAMS, ()), (SYNTAX, ("IDMP-DURATION",)), (SYNTAX, ("IDMP-MAXSIZE",)),
           (SYNTAX, ("INVALID",)), (SYNTAX, ("IDMP-DURATION", 60, "INVALID")),
           (NOT_INT, ("IDMP-DURATION", "INVALID", "IDMP-MAXSIZE")),
           (MAXSIZE_RANGE, ("IDMP-DURATION", 60, "IDMP-MAXSIZE", 0)),
           (DURATION_RANGE, ("IDMP-MAXSIZE", 60, "IDMP-DURATION", 0))]
    for v in ("A", "3.14", "120-5", "*", "-", "+"):
        bad += [(NOT_INT, ("IDMP-DURATION", v)), (NOT_INT, ("IDMP-MAXSIZE", v))]
    bad += [(DURATION_RANGE, ("IDMP-DURATION", v)) for v in (0, -100, 86401)]
    bad += [(MAXSIZE_RANGE, ("IDMP-MAXSIZE", v)) for v in (0, -100, 10001)]
    for text, args in bad:
        assert err(cfg, c, "s", *args) == text, args
    assert settings(c, "s") == (50, 500)
    assert add(c, "s", "p1", "a") == first and c.xlen("s") == 2  # the history was not cleared
    assert err(cfg, c, "missing", "IDMP-DURATION", 10) == NO_KEY and c.exists("missing") == 0
    c.set("str", "x")
    assert err(cfg, c, "str", "IDMP-DURATION", 10) == WRONGTYPE


def test_xcfgset_change_clears_history_keeps_lifetime_counters(c):
    a = add(c, "s", "p1", "a")
    add(c, "s", "p1", "b")
    add(c, "s", "p2", "c")
    assert add(c, "s", "p1", "a") == a
    assert counters(c, "s") == (2, 3, 3, 1)
    # The same values again clear nothing.
    assert cfg(c, "s", "IDMP-DURATION", 100, "IDMP-MAXSIZE", 100) == b"OK" and counters(c, "s") == (2, 3, 3, 1)
    assert add(c, "s", "p1", "a") == a and counters(c, "s") == (2, 3, 3, 2)
    # A new duration forgets every producer's iids.
    assert cfg(c, "s", "IDMP-DURATION", 200) == b"OK" and counters(c, "s") == (0, 0, 3, 2)
    a2 = add(c, "s", "p1", "a")
    assert a2 != a and c.xlen("s") == 4 and counters(c, "s") == (1, 1, 4, 2)
    assert cfg(c, "s", "IDMP-DURATION", 200) == b"OK"
    assert add(c, "s", "p1", "a") == a2
    # So does a new maxsize.
    assert cfg(c, "s", "IDMP-MAXSIZE", 50) == b"OK" and counters(c, "s") == (0, 0, 4, 3)
    assert add(c, "s", "p1", "a") not in (a, a2) and c.xlen("s") == 5


def test_duration_expires_iids(c):
    c.execute_command("XADD", "s", "*", "init", "1")
    assert cfg(c, "s", "IDMP-DURATION", 1) == b"OK"
    first = add(c, "s", "p1", "a")
    assert add(c, "s", "p1", "a") == first and c.xlen("s") == 2
    time.sleep(2.5)
    later = add(c, "s", "p1", "a")
    assert later != first and c.xlen("s") == 3
    assert add(c, "s", "p1", "a") == later and c.xlen("s") == 3


def test_maxsize_is_per_producer(c):
    c.execute_command("XADD", "s", "*", "init", "1")
    cfg(c, "s", "IDMP-DURATION", 60, "IDMP-MAXSIZE", 3)
    ids = {i: add(c, "s", "p1", "req-%d" % i) for i in range(1, 5)}
    assert add(c, "s", "p1", "req-3") == ids[3] and c.xlen("s") == 5
    again = add(c, "s", "p1", "req-1")  # evicted by req-4: added anew
    assert again != ids[1] and c.xlen("s") == 6
    # p2 keeps its own three, and does not push out p1's.
    p2 = [add(c, "s", "p2", "x%d" % i) for i in range(3)]
    assert [add(c, "s", "p2", "x%d" % i) for i in range(3)] == p2
    assert (add(c, "s", "p1", "req-4"), add(c, "s", "p1", "req-1")) == (ids[4], again)
    assert c.xlen("s") == 9 and counters(c, "s")[:2] == (2, 6)


def test_maxsize_keeps_the_latest(c):
    c.execute_command("XADD", "s", "*", "init", "1")
    cfg(c, "s", "IDMP-MAXSIZE", 8)
    iids = ["i%d" % i for i in range(100)]
    ids = add_many(c, "s", "p1", iids)
    assert len(set(ids)) == 100
    assert add_many(c, "s", "p1", iids[92:]) == ids[92:]
    assert not set(add_many(c, "s", "p1", iids[:92])) & set(ids)
    assert c.xlen("s") == 1 + 100 + 92 and counters(c, "s") == (1, 8, 192, 8)


# ---------------------------------------------------------------- XINFO STREAM, configs

def test_xinfo_defaults_and_counters(c):
    c.execute_command("XADD", "s", "*", "f", "v")
    defaults = dict(zip(IDMP_FIELDS, (100, 100, 0, 0, 0, 0)))
    assert idmp(c, "s") == defaults and idmp(c, "s", "FULL") == defaults
    assert c.config_get("stream-idmp-duration") == {"stream-idmp-duration": "100"}
    assert c.config_get("stream-idmp-maxsize") == {"stream-idmp-maxsize": "100"}
    for _ in range(2):  # three new iids of three producers, then their three duplicates
        add(c, "s", "p1", "a")
        add(c, "s", "p2", "a")
        auto(c, "s", "p3", "f", "x")
    add(c, "s", "p1", "b")
    assert counters(c, "s") == (3, 4, 4, 3)
    assert idmp(c, "s", "FULL") == idmp(c, "s")
    # iids-added keeps counting when old iids are evicted.
    cfg(c, "s", "IDMP-MAXSIZE", 2)
    for i in range(5):
        add(c, "s", "p1", "i%d" % i)
    assert counters(c, "s") == (1, 2, 9, 3)
    # A stream made by XADD IDMP starts from the defaults too.
    add(c, "n", "p1", "a")
    assert idmp(c, "n") == dict(defaults, **{"pids-tracked": 1, "iids-tracked": 1, "iids-added": 1})


def test_stream_idmp_configs(c):
    try:
        for name, top in (("stream-idmp-duration", 86400), ("stream-idmp-maxsize", 10000)):
            for v in (1, top):
                assert c.config_set(name, v) is True
                assert c.config_get(name) == {name: str(v)}
            for v in (0, -1, top + 1):
                assert "must be between" in err(c.config_set, name, v), (name, v)
            assert c.config_get(name) == {name: str(top)}
        c.config_set("stream-idmp-duration", 70)
        c.config_set("stream-idmp-maxsize", 5)
        ids = [add(c, "s", "p1", "i%d" % i) for i in range(6)]
        assert settings(c, "s") == (70, 5)
        assert add(c, "s", "p1", "i5") == ids[5] and add(c, "s", "p1", "i1") == ids[1]
        assert add(c, "s", "p1", "i0") != ids[0] and c.xlen("s") == 7
    finally:
        c.config_set("stream-idmp-duration", 100)
        c.config_set("stream-idmp-maxsize", 100)


# ---------------------------------------------------------------- XIDMPRECORD

def test_xidmprecord(c):
    """An iid's age is its entry ID's time: the record names a recent entry."""
    eid = c.execute_command("XADD", "s", "*", "f", "v")
    assert c.execute_command("XIDMPRECORD", "s", "p1", "i1", eid) == b"OK"
    assert add(c, "s", "p1", "i1", "f", "w") == eid and c.xlen("s") == 1
    assert c.execute_command("XRANGE", "s", "-", "+") == [[eid, [b"f", b"v"]]]
    assert add(c, "s", "p1", "i2") != eid and c.xlen("s") == 2
    # An entry older than IDMP-DURATION is forgotten as soon as it is looked up.
    c.execute_command("XADD", "old", "5-0", "f", "v")
    assert c.execute_command("XIDMPRECORD", "old", "p1", "i1", "5-0") == b"OK"
    assert add(c, "old", "p1", "i1", "f", "w") != b"5-0" and c.xlen("old") == 2
    assert err(c.execute_command, "XIDMPRECORD", "missing", "p1", "i1", "5-0") == NO_KEY and c.exists("missing") == 0
    assert err(c.execute_command, "XIDMPRECORD", "s", "p1", "i9", "99999999999999-0") == \
        "The ID specified in XIDMPRECORD is greater than the stream's last ID"
    assert err(c.execute_command, "XIDMPRECORD", "s", "", "i9", eid) == \
        "XIDMPRECORD requires a non-empty producer ID and idempotent ID"


# ---------------------------------------------------------------- persistence

def seed(c, key="s", duration=300, maxsize=50):
    """A stream with its own XCFGSET values, four remembered iids over
    three producers and one duplicate; returns the first IDs by name."""
    c.execute_command("XADD", key, "*", "seed", "0")
    cfg(c, key, "IDMP-DURATION", duration, "IDMP-MAXSIZE", maxsize)
    ids = {"a": add(c, key, "p1", "a", "f", "1"), "b": add(c, key, "p1", "b", "f", "2"),
           "c": add(c, key, "p2", "a", "f", "3"), "auto": auto(c, key, "p3", "f", "4", "g", "5")}
    assert add(c, key, "p1", "a", "f", "dup") == ids["a"]
    assert idmp(c, key) == dict(zip(IDMP_FIELDS, (duration, maxsize, 3, 4, 4, 1)))
    return ids


def retries(c, key="s"):
    return {"a": add(c, key, "p1", "a", "f", "x"), "b": add(c, key, "p1", "b"),
            "c": add(c, key, "p2", "a"), "auto": auto(c, key, "p3", "g", "5", "f", "4")}


def test_debug_reload_keeps_state(keel):
    c = raw(keel("--save", ""))
    ids = seed(c)
    before, entries = idmp(c, "s"), c.execute_command("XRANGE", "s", "-", "+")
    assert c.execute_command("DEBUG", "RELOAD") == b"OK"
    assert idmp(c, "s") == before
    assert c.execute_command("XRANGE", "s", "-", "+") == entries
    assert retries(c) == ids and c.xlen("s") == 5 and counters(c, "s") == (3, 4, 4, 5)


def test_rdb_restart_keeps_state(keel):
    s = keel("--save", "")
    c = raw(s)
    ids = seed(c)
    before, entries = idmp(c, "s"), c.execute_command("XRANGE", "s", "-", "+")
    assert c.save() is True
    c = raw(restart(keel, s))
    assert idmp(c, "s") == before
    assert c.execute_command("XRANGE", "s", "-", "+") == entries
    assert retries(c) == ids and c.xlen("s") == 5


def test_aof_rewrite_without_preamble_keeps_state(keel):
    args = ("--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    s = keel("--save", "", *args)
    c = raw(s)
    # XCFGSET first: a change after the adds would clear their history.
    ids = seed(c, duration=45, maxsize=4500)
    c.bgrewriteaof()
    wait_for(lambda: not any(c.info("persistence")[f] for f in ("aof_rewrite_in_progress", "aof_rewrite_scheduled")),
             "the AOF rewrite to end")
    aofdir = os.path.join(s.dir, "appendonlydir")
    with open(os.path.join(aofdir, "appendonly.aof.manifest")) as f:
        base = [line.split()[1] for line in f if line.split()[-1:] == ["b"]]
    assert len(base) == 1 and base[0].endswith(".base.aof"), base
    with open(os.path.join(aofdir, base[0]), "rb") as f:
        assert not f.read(5).startswith(b"REDIS")  # commands, not an RDB preamble
    late = add(c, "s", "p4", "late")  # only in the incremental file
    entries = c.execute_command("XRANGE", "s", "-", "+")
    c = raw(restart(keel, s, *args))
    assert c.execute_command("XRANGE", "s", "-", "+") == entries
    assert settings(c, "s") == (45, 4500)
    assert retries(c) == ids and add(c, "s", "p4", "late") == late and c.xlen("s") == 6


def test_dump_restore_and_copy_keep_state(c):
    ids = seed(c)
    before = idmp(c, "s")
    c.restore("r", 0, c.dump("s"))
    assert c.execute_command("COPY", "s", "cp") == 1
    for key in ("r", "cp"):
        assert idmp(c, key) == before, key
        assert retries(c, key) == ids and c.xlen(key) == 5, key
    # The copy's history is its own: an iid new to the original adds there.
    assert add(c, "cp", "p9", "z") == add(c, "cp", "p9", "z")
    add(c, "s", "p9", "z")
    assert c.xlen("s") == 6 and c.xlen("cp") == 6


# ---------------------------------------------------------------- replication

def in_sync(primary, replica):
    rep = replica.info("replication")
    return rep.get("master_link_status") == "up" and \
        rep.get("slave_repl_offset") == primary.info("replication")["master_repl_offset"]


def test_replica_follows_and_keeps_dedup_when_promoted(keel):
    primary, replica = keel("--save", ""), keel("--save", "")
    pc, rc = raw(primary), raw(replica)
    early = add(pc, "s", "p1", "early")  # goes over in the full sync
    assert rc.execute_command("REPLICAOF", "127.0.0.1", primary.port) == b"OK"
    wait_for(lambda: rc.info("replication").get("master_link_status") == "up", "master_link_status:up")
    a = add(pc, "s", "p1", "a", "f", "1")
    b = auto(pc, "s", "p2", "f", "2", "g", "3")
    assert add(pc, "s", "p1", "a", "f", "dup") == a
    assert auto(pc, "s", "p2", "g", "3", "f", "2") == b
    wait_for(lambda: in_sync(pc, rc), "equal replication offsets")
    entries = pc.execute_command("XRANGE", "s", "-", "+")
    assert len(entries) == 3 and rc.execute_command("XRANGE", "s", "-", "+") == entries
    assert counters(rc, "s")[:3] == counters(pc, "s")[:3] == (2, 3, 3)
    assert rc.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert add(rc, "s", "p1", "a", "f", "again") == a
    assert add(rc, "s", "p1", "early") == early
    assert auto(rc, "s", "p2", "f", "2", "g", "3") == b and rc.xlen("s") == 3


# ---------------------------------------------------------------- kill -9, then retry

def produce(c, pid, i):
    return c.execute_command("XADD", "s", "IDMP", pid, "m%d" % i, "*", "p", pid, "n", i)


class Producer(threading.Thread):
    """produce() i = 0, 1, ... until the server dies (or `limit`); `acked`
    maps i to the ID the server answered, `sent` is the last i sent
    (answered or not)."""

    def __init__(self, port, pid, limit):
        super().__init__(daemon=True)
        self.port, self.pid, self.limit = port, pid, limit
        self.acked, self.sent, self.error = {}, -1, None

    def run(self):
        c = redis.Redis(port=self.port, socket_timeout=10)
        try:
            for i in range(self.limit):
                self.sent = i
                self.acked[i] = produce(c, self.pid, i)
        except redis.ConnectionError:
            pass  # killed
        except BaseException as e:  # noqa: B902 — reported by the test
            self.error = e


def test_kill9_then_retrying_everything_adds_each_message_once(keel):
    """The pattern IDMP exists for: producers writing under appendfsync
    always are killed with SIGKILL mid-stream; after the restart each one
    resends every message it ever sent, answered or not. Each message is
    then in the stream exactly once, in order, and the answered ones keep
    the IDs they were first given."""
    args = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")
    s = Server(*args)  # not the fixture's: it would report the kill as a failure
    c = s.client()
    c.execute_command("XADD", "s", "*", "init", "1")
    assert cfg(c, "s", "IDMP-MAXSIZE", 10000, "IDMP-DURATION", 3600) == b"OK"
    producers = [Producer(s.port, "p%d" % k, 3000) for k in range(3)]
    for p in producers:
        p.start()
    wait_for(lambda: all(len(p.acked) >= 20 for p in producers), "every producer to get answers")
    time.sleep(0.2)
    s.proc.kill()  # SIGKILL, under load
    s.proc.wait(10)
    s.logf.close()
    for p in producers:
        p.join(15)
        assert not p.is_alive() and p.error is None, p.error
    c = raw(keel("--dir", s.dir, *args))
    for p in producers:
        for i in range(p.sent + 1):
            again = produce(c, p.pid, i)
            if i in p.acked:
                assert again == p.acked[i], (p.pid, i)
    fields = [dict(zip(f[::2], f[1::2])) for _, f in c.execute_command("XRANGE", "s", "-", "+")[1:]]
    for p in producers:
        ns = [int(f[b"n"]) for f in fields if f[b"p"] == p.pid.encode()]
        assert ns == list(range(p.sent + 1)), (p.pid, p.sent, len(ns))
    assert len(fields) == sum(p.sent + 1 for p in producers)


def test_restore_refuses_idmp_settings_out_of_range(c):
    """A STREAM_LISTPACKS_4 payload whose IDMP settings are out of range
    (a crafted or corrupt file) is refused, not loaded."""
    from test_dump import crc64, with_crc
    c.execute_command("XADD", "s", "1-1", "f", "v")
    assert cfg(c, "s", "IDMP-DURATION", 77, "IDMP-MAXSIZE", 7) == b"OK"
    payload = c.dump("s")
    assert payload[0] == 26 and crc64(payload[:-8]) == int.from_bytes(payload[-8:], "little")
    body = payload[:-8]
    # The tail: duration 77, maxsize 7, no producers, 0 added, 0 duplicates,
    # then the 2-byte RDB version.
    assert body[-7:-2] == bytes([77, 7, 0, 0, 0])
    assert c.restore("copy", 0, with_crc(body)) == b"OK" and settings(c, "copy") == (77, 7)
    for at, bad in ((-7, 0), (-6, 0)):
        forged = bytearray(body)
        forged[at] = bad
        assert err(c.restore, "bad", 0, with_crc(bytes(forged))) == "Bad data format"
    assert c.exists("bad") == 0
