"""Plain list nodes (Redis 7's large-element quicklist nodes): an element
of at least the packed threshold (1 GB unless DEBUG QUICKLIST-PACKED-
THRESHOLD lowers it) lives alone in a plain node. Every test runs the same
commands on the server under test and on Debian's redis-server 7.0 with the
threshold lowered to 100 bytes, and compares the replies, the contents and
DEBUG OBJECT's ql_nodes (and, for lists of plain nodes only, ql_uncompressed_size).
Snapshots holding plain nodes are in test_rdb.py."""
import os
import random

import pytest
import redis

from conftest import REDIS_BIN, SERVER, Server

SMALL_LIMIT = 100


def start(binary, *args):
    s = Server("--enable-debug-command", "yes", "--save", "", "--appendonly", "no", *args, binary=binary,
               env=dict(os.environ, LC_ALL="C"))
    return s, s.client()


@pytest.fixture(scope="module", params=[0, 1], ids=["plain", "compress1"])
def pair(request):
    if not os.access(REDIS_BIN, os.X_OK):
        pytest.skip("needs Debian's redis-server")
    depth = str(request.param)
    mine, mc = start(SERVER, "--list-compress-depth", depth)
    ref, rc = start(REDIS_BIN, "--list-compress-depth", depth)
    yield mc, rc
    mc.close()
    rc.close()
    mine.stop()
    ref.stop()


@pytest.fixture
def both(pair):
    for c in pair:
        c.flushall()
        assert c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", SMALL_LIMIT) == b"OK"
    yield pair
    for c in pair:
        c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", 0)


def debug_fields(c, key):
    text = c.execute_command("DEBUG", "OBJECT", key).decode()
    return dict(f.split(":", 1) for f in text.split() if ":" in f)


def run(c, *args):
    try:
        return ("ok", c.execute_command(*args))
    except redis.ResponseError as e:
        return ("err", str(e))


def same(both, *args):
    """Runs args on both servers; the replies must be equal."""
    mine, ref = (run(c, *args) for c in both)
    assert mine == ref, args
    return mine


def assert_same_list(both, key, nodes=True):
    """Same contents; with nodes, also as many quicklist nodes. After
    removals (LREM, LTRIM, pops) Keel merges neighbouring nodes that fit
    together where Redis leaves them, so only the contents compare there."""
    mine, ref = (c.lrange(key, 0, -1) for c in both)
    assert mine == ref
    if mine and nodes:
        m, r = debug_fields(both[0], key), debug_fields(both[1], key)
        if any(len(e) >= SMALL_LIMIT for e in mine):
            # A list holding a plain node is a quicklist on both, with as many nodes.
            assert m["encoding"] == r["encoding"] == "quicklist"
            assert m["ql_nodes"] == r["ql_nodes"], (key, m, r)


def big(ch, n=150):
    return ch * n


def test_debug_packed_threshold_parsing(pair):
    mine, ref = pair
    for arg in ["0", "", "1", "1b", "100", "1k", "1KB", "1Gb", "4095mb", "4293918720", "4293918721", "4096mb",
                "4gb", "5gb", "-1", "abc", "1.5", " 1", "+5", "0x10", "1e3"]:
        a, b = run(mine, "DEBUG", "QUICKLIST-PACKED-THRESHOLD", arg), run(ref, "DEBUG", "QUICKLIST-PACKED-THRESHOLD", arg)
        assert a == b, arg
    assert run(mine, "DEBUG", "QUICKLIST-PACKED-THRESHOLD", "x") == (
        "err", "argument must be a memory value bigger than 1 and smaller than 4gb")
    for extra in [[], ["1", "2"]]:
        a = run(mine, "DEBUG", "QUICKLIST-PACKED-THRESHOLD", *extra)
        assert a == run(ref, "DEBUG", "QUICKLIST-PACKED-THRESHOLD", *extra)
        assert a[0] == "err" and "unknown subcommand or wrong number of arguments for 'QUICKLIST-PACKED-THRESHOLD'" in a[1]
    for c in pair:
        c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", 0)


def test_debug_help_names_the_threshold(pair):
    for c in pair:
        lines = [x.decode() for x in c.execute_command("DEBUG", "HELP")]
        assert lines[0].startswith("DEBUG <subcommand>")
        assert lines[-2:] in (["HELP", "    Prints this help."], ["HELP", "    Print this help."])
        assert "QUICKLIST-PACKED-THRESHOLD <size>" in lines and "OBJECT <key>" in lines


def test_threshold_is_inclusive(both):
    same(both, "RPUSH", "under", big("u", SMALL_LIMIT - 1))
    same(both, "RPUSH", "at", big("a", SMALL_LIMIT))
    assert_same_list(both, "at")
    for c in both:
        f = debug_fields(c, "at")
        assert f["encoding"] == "quicklist" and f["ql_nodes"] == "1"
        assert f["ql_uncompressed_size"] == str(SMALL_LIMIT)  # a plain node counts its element alone
    assert debug_fields(both[1], "under")["ql_uncompressed_size"] != str(SMALL_LIMIT - 1)


def test_pushes_put_each_large_element_alone(both):
    same(both, "RPUSH", "l", "a", "b", "c")
    same(both, "RPUSH", "l", big("x"))
    same(both, "RPUSH", "l", "d", "e")
    same(both, "LPUSH", "l", big("y"))
    same(both, "RPUSH", "l", big("z"), big("w"), "f")
    assert_same_list(both, "l")
    assert debug_fields(both[0], "l")["ql_nodes"] == "7"
    only_plain = [big(ch) for ch in "pqrs"]
    same(both, "RPUSH", "p", *only_plain)
    assert_same_list(both, "p")
    assert debug_fields(both[0], "p")["ql_uncompressed_size"] == debug_fields(both[1], "p")["ql_uncompressed_size"] \
        == str(4 * 150)


def test_middle_writes_across_plain_nodes(both):
    same(both, "RPUSH", "l", "a", "b", "c", big("x"), "d", "e")
    same(both, "LPUSH", "l", big("y"))
    assert_same_list(both, "l")
    same(both, "LINSERT", "l", "BEFORE", "d", big("i"))
    assert_same_list(both, "l")
    same(both, "LSET", "l", 0, "small")  # a plain node's element replaced by a small one
    assert_same_list(both, "l")
    same(both, "LSET", "l", 1, big("s"))  # a small element inside a packed node replaced by a large one
    assert_same_list(both, "l")
    same(both, "LSET", "l", 1, big("t"))  # large by large: stays plain
    assert_same_list(both, "l")
    same(both, "LINSERT", "l", "AFTER", big("t"), "after-plain")
    same(both, "LINSERT", "l", "BEFORE", big("t"), "before-plain")
    assert_same_list(both, "l")
    for args in [("LINDEX", "l", 2), ("LINDEX", "l", -3), ("LPOS", "l", big("x")), ("LPOS", "l", "d", "RANK", -1),
                 ("LPOS", "l", big("i"), "COUNT", 0), ("LRANGE", "l", 1, 4), ("LRANGE", "l", -4, -2),
                 ("LLEN", "l")]:
        same(both, *args)
    same(both, "RPUSH", "l", big("x"), "x2", big("x"))
    same(both, "LREM", "l", -2, big("x"))
    assert_same_list(both, "l", nodes=False)
    same(both, "LREM", "l", 0, "after-plain")
    assert_same_list(both, "l", nodes=False)
    same(both, "LTRIM", "l", 1, -2)
    assert_same_list(both, "l", nodes=False)
    same(both, "LMOVE", "l", "m", "LEFT", "RIGHT")
    same(both, "LMOVE", "l", "m", "RIGHT", "LEFT")
    assert_same_list(both, "l", nodes=False)
    assert_same_list(both, "m")
    while same(both, "RPOP", "l")[1] is not None:
        pass
    assert same(both, "EXISTS", "l") == ("ok", 0)


def test_lset_plain_on_a_single_element_list(both):
    same(both, "RPUSH", "one", "a")
    same(both, "LSET", "one", 0, big("b"))
    assert_same_list(both, "one")
    same(both, "LSET", "one", 0, "c")
    same(both, "RPUSH", "one", "d")
    same(both, "LRANGE", "one", 0, -1)
    same(both, "RPUSH", "two", big("e"))
    same(both, "RPUSH", "two", "f")
    same(both, "LPOP", "two")
    same(both, "LRANGE", "two", 0, -1)


def test_plain_nodes_stay_plain_when_the_threshold_rises(both):
    """A node made plain keeps its element alone after the threshold went
    back to 1 GB: inserts beside it and pushes next to it open other nodes."""
    same(both, "RPUSH", "l", "a", big("x"), big("y"), "b")
    for c in both:
        c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", 0)
    same(both, "LINSERT", "l", "AFTER", big("x"), "between")
    same(both, "LINSERT", "l", "BEFORE", big("y"), "between2")
    assert_same_list(both, "l")
    assert debug_fields(both[0], "l")["ql_nodes"] == "5"  # [a] [x..] [between between2] [y..] [b]


def test_random_operations_match_redis(both):
    """Random pushes, pops, inserts, sets, removals, trims and reads of a
    mix of small and large elements: every reply as Redis's."""
    rnd = random.Random(1600)
    values = [b"s%d" % i for i in range(6)] + [bytes([65 + i]) * (SMALL_LIMIT + 20 * i) for i in range(4)]
    for step in range(600):
        op = rnd.randrange(12)
        v = rnd.choice(values)
        if op <= 2:
            args = (rnd.choice(["LPUSH", "RPUSH"]), "r", v, rnd.choice(values))
        elif op == 3:
            args = ("LINSERT", "r", rnd.choice(["BEFORE", "AFTER"]), rnd.choice(values), v)
        elif op == 4:
            args = ("LSET", "r", rnd.randrange(-12, 12), v)
        elif op == 5:
            args = ("LREM", "r", rnd.randrange(-2, 3), v)
        elif op == 6:
            args = (rnd.choice(["LPOP", "RPOP"]), "r")
        elif op == 7:
            args = ("LTRIM", "r", rnd.randrange(0, 2), rnd.randrange(-2, 40))
        elif op == 8:
            args = ("LPOS", "r", v, "RANK", rnd.choice([1, -1, 2]), "COUNT", rnd.randrange(0, 3))
        elif op == 9:
            args = ("LINDEX", "r", rnd.randrange(-15, 15))
        elif op == 10:
            args = ("LRANGE", "r", rnd.randrange(-10, 10), rnd.randrange(-10, 10))
        else:
            args = ("LMOVE", "r", "r", rnd.choice(["LEFT", "RIGHT"]), rnd.choice(["LEFT", "RIGHT"]))
        same(both, *args)
        if step % 25 == 0:
            same(both, "LRANGE", "r", 0, -1)
    same(both, "LRANGE", "r", 0, -1)


def test_default_threshold_keeps_small_elements_packed(pair):
    """At the 1 GB default nothing in an ordinary list is plain."""
    mine, ref = pair
    for c in pair:
        c.flushall()
        c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", 0)
        c.rpush("l", *[b"v" * 5000 for _ in range(4)])
    assert debug_fields(mine, "l")["ql_nodes"] == debug_fields(ref, "l")["ql_nodes"]
    assert mine.lrange("l", 0, -1) == ref.lrange("l", 0, -1)
