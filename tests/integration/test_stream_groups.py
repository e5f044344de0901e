"""Stream consumer groups, with Redis 7.0 reply shapes and error texts:
XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER, HELP),
XREADGROUP (new entries, history, NOACK, several streams, blocking with
several connections, wake-ups from MULTI and scripts, the stream or group
vanishing under a blocked reader), XACK, XPENDING, XCLAIM, XAUTOCLAIM and
XINFO (GROUPS with entries-read/lag, CONSUMERS, STREAM [FULL]); the seed
article's consumer/lag monitor and a crash-recovery scenario; wrong types and
bad input that must leave the state alone.

Every test passes against Debian's redis-server 7.0.15 except those marked
keel_only: Keel extensions and newer-Redis behaviour (XACKDEL and XDELEX of
Redis 8.2, the "inactive" consumer field of Redis 7.2).

Replies are checked raw: the `x` fixture strips redis-py's X* reply
callbacks, so a reply is exactly what came off the wire (str, int, None,
nested lists)."""
import os
import threading
import time

import pytest
import redis
from conftest import WRONGTYPE, err

# Redis 7.0 (the reference run) or Keel, which follows 7.2 where 7.2 adds
# fields (consumer activity: "inactive", "active-time").
REDIS70 = os.environ.get("KEEL_SERVER", "").endswith("redis-server")
keel_only = pytest.mark.skipif(os.environ.get("KEEL_SERVER", "").endswith("redis-server"),
                               reason="Keel extension / newer Redis")

NOT_INT = "value is not an integer or out of range"
SYNTAX = "syntax error"
BAD_ID = "Invalid stream ID specified as stream command argument"
NEED_KEY = ("The XGROUP subcommand requires the key to exist. Note that for CREATE you may want "
            "to use the MKSTREAM option to create an empty stream automatically.")
BUSYGROUP = "BUSYGROUP Consumer Group name already exists"
UNBALANCED = "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified."
DOLLAR = ("The $ ID is meaningless in the context of XREADGROUP: you want to read the history of "
          "this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID "
          "would just return an empty result set.")
COUNT_POSITIVE = "COUNT must be > 0"
KEY_GONE = "UNBLOCKED the stream key no longer exists"
GROUP_GONE = "NOGROUP the consumer group this client was blocked on no longer exists"


def nogroup_read(key, group):
    return "NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with GROUP option" % (key, group)


def nogroup(key, group):
    """XPENDING / XCLAIM / XAUTOCLAIM flavour."""
    return "NOGROUP No such key '%s' or consumer group '%s'" % (key, group)


def nogroup_named(key, group):
    """XGROUP SETID / CREATECONSUMER / DELCONSUMER and XINFO CONSUMERS flavour."""
    return "NOGROUP No such consumer group '%s' for key name '%s'" % (group, key)


class Cmd:
    """Calls a command on a client whose X* reply callbacks are removed."""

    def __init__(self, client):
        for name in [k for k in client.response_callbacks if k.upper().startswith("X")]:
            del client.response_callbacks[name]
        self.client = client

    def __call__(self, *args):
        return self.client.execute_command(*args)

    def pipeline(self):
        return self.client.pipeline(transaction=True)


@pytest.fixture
def x(server):
    c = Cmd(server.client(decode_responses=True))
    c.client.flushall()
    yield c
    c.client.close()


# ---------------- helpers ----------------

def entry(i):
    """The reply element for the entry <i>-0 written by mkstream."""
    return ["%d-0" % i, ["f", "v%d" % i]]


def mkstream(x, key, n, start=1):
    for i in range(start, start + n):
        assert x("XADD", key, "%d-0" % i, "f", "v%d" % i) == "%d-0" % i


def fields(flat):
    """A flat [name, value, name, value...] reply as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


def group_info(x, key, name):
    for g in x("XINFO", "GROUPS", key):
        d = fields(g)
        if d["name"] == name:
            return d
    raise AssertionError("no group %s" % name)


def pel(x, key, group, *consumer):
    """The group's PEL as (id, consumer, delivery-count), idle times dropped."""
    rows = x("XPENDING", key, group, "-", "+", 1000, *consumer)
    for row in rows:
        assert isinstance(row[2], int) and row[2] >= 0
    return [(row[0], row[1], row[3]) for row in rows]


def consumers(x, key, group):
    """XINFO CONSUMERS as {name: pending}."""
    return {fields(c)["name"]: fields(c)["pending"] for c in x("XINFO", "CONSUMERS", key, group)}


def blocked_count(x):
    return x.client.info("clients")["blocked_clients"]


def wait_blocked(x, n, timeout=3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if blocked_count(x) == n:
            return
        time.sleep(0.01)
    raise AssertionError("expected %d blocked clients, have %d" % (n, blocked_count(x)))


class Blocked:
    """A command running on its own connection in a thread."""

    def __init__(self, server, *args):
        self.cmd = Cmd(server.client(decode_responses=True))
        self.id = self.cmd.client.client_id()
        self.box = {}
        self.thread = threading.Thread(target=self._run, args=args, daemon=True)
        self.thread.start()

    def _run(self, *args):
        try:
            self.box["value"] = self.cmd(*args)
        except redis.ResponseError as e:
            self.box["error"] = str(e)

    def done(self):
        return not self.thread.is_alive()

    def result(self, timeout=3):
        """{"value": reply} or {"error": text}; fails if still blocked."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "client still blocked"
        return self.box


@pytest.fixture
def block(server, x):
    """block(*cmd) starts cmd on its own connection in a thread; at teardown any
    client still blocked is unblocked so later tests see no leftovers."""
    started = []

    def start(*args):
        b = Blocked(server, *args)
        started.append(b)
        return b

    yield start
    for b in started:
        if b.thread.is_alive():
            x("CLIENT", "UNBLOCK", b.id, "ERROR")
            b.thread.join(3)
        b.cmd.client.close()


# ---------------- XGROUP CREATE ----------------

def test_xgroup_create_dollar_and_zero(x):
    mkstream(x, "s", 3)
    assert x("XGROUP", "CREATE", "s", "tail", "$") == "OK"
    assert x("XGROUP", "CREATE", "s", "head", "0") == "OK"
    # groups are listed in name order
    assert x("XINFO", "GROUPS", "s") == [
        ["name", "head", "consumers", 0, "pending", 0, "last-delivered-id", "0-0",
         "entries-read", None, "lag", 3],
        ["name", "tail", "consumers", 0, "pending", 0, "last-delivered-id", "3-0",
         "entries-read", None, "lag", 0]]
    assert x("XREADGROUP", "GROUP", "tail", "c", "STREAMS", "s", ">") is None
    assert x("XREADGROUP", "GROUP", "head", "c", "STREAMS", "s", ">") == [["s", [entry(1), entry(2), entry(3)]]]
    mkstream(x, "s", 1, start=4)
    assert x("XREADGROUP", "GROUP", "tail", "c", "STREAMS", "s", ">") == [["s", [entry(4)]]]


def test_xgroup_create_explicit_id(x):
    mkstream(x, "s", 4)
    assert x("XGROUP", "CREATE", "s", "g", "2-0") == "OK"
    assert x("XGROUP", "CREATE", "s", "ms", "3") == "OK"  # a bare ms part means <ms>-0
    assert group_info(x, "s", "ms")["last-delivered-id"] == "3-0"
    assert x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") == [["s", [entry(3), entry(4)]]]
    assert x("XREADGROUP", "GROUP", "ms", "c", "STREAMS", "s", ">") == [["s", [entry(4)]]]
    # an ID past the end is accepted; the group sees only later entries
    assert x("XGROUP", "CREATE", "s", "future", "9-0") == "OK"
    mkstream(x, "s", 1, start=5)
    assert x("XREADGROUP", "GROUP", "future", "c", "STREAMS", "s", ">") is None
    for bad in ("bad", "1-x", "-", "+", ">", "1-"):
        assert err(x, "XGROUP", "CREATE", "s", "g2", bad) == BAD_ID
    assert fields(x("XINFO", "STREAM", "s"))["groups"] == 3


def test_xgroup_create_missing_key_and_mkstream(x):
    assert err(x, "XGROUP", "CREATE", "s", "g", "$") == NEED_KEY
    assert x("EXISTS", "s") == 0
    assert x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM") == "OK"
    assert x("TYPE", "s") == "stream"
    assert x("XLEN", "s") == 0
    info = fields(x("XINFO", "STREAM", "s"))
    assert info["length"] == 0 and info["groups"] == 1 and info["entries-added"] == 0
    assert info["last-generated-id"] == "0-0"
    assert x("XINFO", "GROUPS", "s") == [["name", "g", "consumers", 0, "pending", 0, "last-delivered-id", "0-0",
                                          "entries-read", None, "lag", 0]]
    # MKSTREAM on an existing stream is harmless, options in any order
    assert x("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "0", "MKSTREAM") == "OK"
    assert x("XGROUP", "CREATE", "s", "g3", "0", "MKSTREAM", "MKSTREAM") == "OK"
    # the empty stream outlives its last group
    for g in ("g", "g2", "g3"):
        assert x("XGROUP", "DESTROY", "s", g) == 1
    assert x("EXISTS", "s") == 1 and x("XLEN", "s") == 0


def test_xgroup_create_entriesread(x):
    mkstream(x, "s", 5)
    assert x("XGROUP", "CREATE", "s", "g", "2-0", "ENTRIESREAD", "2") == "OK"
    assert group_info(x, "s", "g") == {"name": "g", "consumers": 0, "pending": 0, "last-delivered-id": "2-0",
                                       "entries-read": 2, "lag": 3}
    assert x("XGROUP", "CREATE", "s", "z", "0", "ENTRIESREAD", "0") == "OK"
    assert group_info(x, "s", "z")["entries-read"] == 0
    assert group_info(x, "s", "z")["lag"] == 5
    assert x("XGROUP", "CREATE", "s", "unknown", "0", "ENTRIESREAD", "-1") == "OK"
    assert group_info(x, "s", "unknown")["entries-read"] is None
    assert err(x, "XGROUP", "CREATE", "s", "e", "0", "ENTRIESREAD", "-2") == "value for ENTRIESREAD must be positive or -1"
    assert err(x, "XGROUP", "CREATE", "s", "e", "0", "ENTRIESREAD", "x") == NOT_INT
    assert err(x, "XGROUP", "CREATE", "s", "e", "0", "ENTRIESREAD", "9999999999999999999") == NOT_INT
    assert (err(x, "XGROUP", "CREATE", "s", "e", "0", "ENTRIESREAD")
            == "unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.")
    assert (err(x, "XGROUP", "CREATE", "s", "e", "0", "FOO")
            == "unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.")
    assert [fields(g)["name"] for g in x("XINFO", "GROUPS", "s")] == ["g", "unknown", "z"]


def test_xgroup_create_busygroup(x):
    mkstream(x, "s", 2)
    assert x("XGROUP", "CREATE", "s", "g", "1-0") == "OK"
    assert err(x, "XGROUP", "CREATE", "s", "g", "$") == BUSYGROUP
    assert err(x, "XGROUP", "CREATE", "s", "g", "0", "MKSTREAM") == BUSYGROUP
    assert group_info(x, "s", "g")["last-delivered-id"] == "1-0"  # untouched
    # the same name on another key is another group
    assert x("XGROUP", "CREATE", "t", "g", "$", "MKSTREAM") == "OK"


# ---------------- XGROUP SETID / DESTROY / consumers ----------------

def test_xgroup_setid(x):
    mkstream(x, "s", 3)
    x("XGROUP", "CREATE", "s", "g", "0")
    assert len(x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">")[0][1]) == 3
    assert group_info(x, "s", "g")["entries-read"] == 3
    assert x("XGROUP", "SETID", "s", "g", "1-0", "ENTRIESREAD", "1") == "OK"
    g = group_info(x, "s", "g")
    assert (g["last-delivered-id"], g["entries-read"], g["lag"], g["pending"]) == ("1-0", 1, 2, 3)
    assert x("XGROUP", "SETID", "s", "g", "$") == "OK"
    g = group_info(x, "s", "g")
    # without ENTRIESREAD the counter is forgotten; at the last ID the lag is known anyway
    assert (g["last-delivered-id"], g["entries-read"], g["lag"]) == ("3-0", None, 0)
    assert x("XGROUP", "SETID", "s", "g", "2-0", "ENTRIESREAD", "-1") == "OK"
    g = group_info(x, "s", "g")
    assert (g["last-delivered-id"], g["entries-read"], g["lag"]) == ("2-0", None, None)
    assert x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">") == [["s", [entry(3)]]]
    assert err(x, "XGROUP", "SETID", "s", "nog", "0") == nogroup_named("s", "nog")
    assert err(x, "XGROUP", "SETID", "nokey", "g", "0") == NEED_KEY
    assert err(x, "XGROUP", "SETID", "s", "g", "bad") == BAD_ID
    assert err(x, "XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "-2") == "value for ENTRIESREAD must be positive or -1"
    assert (err(x, "XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD")
            == "unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.")
    assert err(x, "XGROUP", "SETID", "s", "g") == "wrong number of arguments for 'xgroup|setid' command"
    assert group_info(x, "s", "g")["last-delivered-id"] == "3-0"
    # SETID reads "-" and "+" as the smallest and largest IDs (CREATE does not).
    assert x("XGROUP", "SETID", "s", "g", "-") == "OK"
    assert group_info(x, "s", "g")["last-delivered-id"] == "0-0"
    assert x("XGROUP", "SETID", "s", "g", "+") == "OK"
    assert group_info(x, "s", "g")["last-delivered-id"] == "18446744073709551615-18446744073709551615"
    assert err(x, "XGROUP", "CREATE", "s", "g2", "-") == BAD_ID


def test_xgroup_setid_back_redelivers_and_moves_ownership(x):
    mkstream(x, "s", 2)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">")
    x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", "0")  # delivery counts become 2
    assert pel(x, "s", "g") == [("1-0", "a", 2), ("2-0", "a", 2)]
    assert x("XGROUP", "SETID", "s", "g", "0") == "OK"
    # re-delivering an entry already pending moves it to the reader and resets its count
    assert x("XREADGROUP", "GROUP", "g", "b", "COUNT", "1", "STREAMS", "s", ">") == [["s", [entry(1)]]]
    assert pel(x, "s", "g") == [("1-0", "b", 1), ("2-0", "a", 2)]
    assert consumers(x, "s", "g") == {"a": 1, "b": 1}
    # NOACK re-delivery leaves the PEL alone
    x("XGROUP", "SETID", "s", "g", "0")
    assert x("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">") == [["s", [entry(1), entry(2)]]]
    assert pel(x, "s", "g") == [("1-0", "b", 1), ("2-0", "a", 2)]


def test_xgroup_destroy(x):
    mkstream(x, "s", 2)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XGROUP", "CREATE", "s", "h", "0")
    x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">")
    assert x("XGROUP", "DESTROY", "s", "g") == 1
    assert x("XGROUP", "DESTROY", "s", "g") == 0
    assert err(x, "XGROUP", "DESTROY", "nokey", "g") == NEED_KEY
    assert err(x, "XGROUP", "DESTROY", "s") == "wrong number of arguments for 'xgroup|destroy' command"
    assert [fields(g)["name"] for g in x("XINFO", "GROUPS", "s")] == ["h"]
    assert fields(x("XINFO", "STREAM", "s"))["groups"] == 1
    assert err(x, "XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", "0") == nogroup_read("s", "g")
    assert err(x, "XPENDING", "s", "g") == nogroup("s", "g")
    # a new group of the same name starts from scratch
    assert x("XGROUP", "CREATE", "s", "g", "0") == "OK"
    assert x("XPENDING", "s", "g") == [0, None, None, None]
    assert x("XLEN", "s") == 2


def test_xgroup_createconsumer(x):
    mkstream(x, "s", 1)
    x("XGROUP", "CREATE", "s", "g", "0")
    assert x("XGROUP", "CREATECONSUMER", "s", "g", "bob") == 1
    assert x("XGROUP", "CREATECONSUMER", "s", "g", "bob") == 0
    assert x("XGROUP", "CREATECONSUMER", "s", "g", "alice") == 1
    rows = x("XINFO", "CONSUMERS", "s", "g")
    assert [fields(c)["name"] for c in rows] == ["alice", "bob"]
    assert all(fields(c)["pending"] == 0 for c in rows)
    assert group_info(x, "s", "g")["consumers"] == 2
    assert err(x, "XGROUP", "CREATECONSUMER", "s", "nog", "c") == nogroup_named("s", "nog")
    assert err(x, "XGROUP", "CREATECONSUMER", "nokey", "g", "c") == NEED_KEY
    assert (err(x, "XGROUP", "CREATECONSUMER", "s", "g")
            == "wrong number of arguments for 'xgroup|createconsumer' command")


def test_xgroup_delconsumer(x):
    mkstream(x, "s", 3)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "a", "COUNT", "1", "STREAMS", "s", ">")
    x("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">")
    x("XGROUP", "CREATECONSUMER", "s", "g", "idle")
    assert x("XGROUP", "DELCONSUMER", "s", "g", "b") == 2  # b's pending count
    assert x("XPENDING", "s", "g") == [1, "1-0", "1-0", [["a", "1"]]]
    assert consumers(x, "s", "g") == {"a": 1, "idle": 0}
    assert x("XGROUP", "DELCONSUMER", "s", "g", "idle") == 0
    assert x("XGROUP", "DELCONSUMER", "s", "g", "nobody") == 0
    assert x("XGROUP", "DELCONSUMER", "s", "g", "a") == 1
    assert x("XGROUP", "DELCONSUMER", "s", "g", "a") == 0
    assert x("XPENDING", "s", "g") == [0, None, None, None]
    g = group_info(x, "s", "g")
    # the group's position is unaffected: the entries are not re-delivered
    assert (g["consumers"], g["pending"], g["last-delivered-id"], g["entries-read"], g["lag"]) == (0, 0, "3-0", 3, 0)
    assert x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">") is None
    assert err(x, "XGROUP", "DELCONSUMER", "s", "nog", "c") == nogroup_named("s", "nog")
    assert err(x, "XGROUP", "DELCONSUMER", "nokey", "g", "c") == NEED_KEY
    assert err(x, "XGROUP", "DELCONSUMER", "s", "g") == "wrong number of arguments for 'xgroup|delconsumer' command"


def test_xgroup_help(x):
    for sub in ("HELP", "help"):
        lines = x("XGROUP", sub)
        assert isinstance(lines, list) and len(lines) > 5
        assert all(isinstance(line, str) for line in lines)
        assert lines[0].startswith("XGROUP <subcommand>")
    assert err(x, "XGROUP", "HELP", "x") == "wrong number of arguments for 'xgroup|help' command"


def test_xgroup_unknown_subcommand_and_arity(x):
    assert err(x, "XGROUP", "FOO") == "unknown subcommand 'FOO'. Try XGROUP HELP."
    assert err(x, "XGROUP", "foo", "s") == "unknown subcommand 'foo'. Try XGROUP HELP."
    assert err(x, "XGROUP") == "wrong number of arguments for 'xgroup' command"
    assert err(x, "XGROUP", "CREATE", "s") == "wrong number of arguments for 'xgroup|create' command"
    assert err(x, "XGROUP", "CREATE", "s", "g") == "wrong number of arguments for 'xgroup|create' command"


# ---------------- XREADGROUP ----------------

def test_xreadgroup_new_entries_go_to_pel(x):
    mkstream(x, "s", 3)
    x("XGROUP", "CREATE", "s", "g", "0")
    assert x("XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "s", ">") == [["s", [entry(1), entry(2)]]]
    assert x("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "s", ">") == [["s", [entry(3)]]]
    assert x("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">") is None  # nothing new: a nil reply
    assert x("XPENDING", "s", "g") == [3, "1-0", "3-0", [["c1", "2"], ["c2", "1"]]]
    assert pel(x, "s", "g") == [("1-0", "c1", 1), ("2-0", "c1", 1), ("3-0", "c2", 1)]
    g = group_info(x, "s", "g")
    assert (g["consumers"], g["pending"], g["last-delivered-id"], g["entries-read"], g["lag"]) == (2, 3, "3-0", 3, 0)
    # lower-case command and options
    mkstream(x, "s", 1, start=4)
    assert x("xreadgroup", "group", "g", "c1", "count", "5", "streams", "s", ">") == [["s", [entry(4)]]]


def test_xreadgroup_consumer_created_only_when_served(x):
    # Redis 7.0: ">" with nothing to deliver neither blocks nor creates the consumer;
    # a history read (served synchronously) does create it.
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    assert x("XREADGROUP", "GROUP", "g", "ghost", "STREAMS", "s", ">") is None
    assert x("XINFO", "CONSUMERS", "s", "g") == []
    assert x("XREADGROUP", "GROUP", "g", "hist", "STREAMS", "s", "0") == [["s", []]]
    assert consumers(x, "s", "g") == {"hist": 0}
    mkstream(x, "s", 1)
    assert x("XREADGROUP", "GROUP", "g", "reader", "STREAMS", "s", ">") == [["s", [entry(1)]]]
    assert consumers(x, "s", "g") == {"hist": 0, "reader": 1}


def test_xreadgroup_history(x):
    mkstream(x, "s", 4)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "a", "COUNT", "3", "STREAMS", "s", ">")
    x("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">")
    assert x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", "0") == [["s", [entry(1), entry(2), entry(3)]]]
    assert x("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", "0") == [["s", [entry(4)]]]
    assert x("XREADGROUP", "GROUP", "g", "a", "COUNT", "1", "STREAMS", "s", "0") == [["s", [entry(1)]]]
    # the ID is exclusive
    assert x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", "1-0") == [["s", [entry(2), entry(3)]]]
    assert x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", "3") == [["s", []]]
    assert x("XREADGROUP", "GROUP", "g", "nobody", "STREAMS", "s", "0") == [["s", []]]
    # every history delivery counts; history never advances the group
    assert pel(x, "s", "g") == [("1-0", "a", 3), ("2-0", "a", 3), ("3-0", "a", 3), ("4-0", "b", 2)]
    assert group_info(x, "s", "g")["last-delivered-id"] == "4-0"
    assert x("XACK", "s", "g", "2-0") == 1
    assert x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", "0") == [["s", [entry(1), entry(3)]]]


def test_xreadgroup_history_deleted_entry_is_id_and_nil(x):
    mkstream(x, "s", 3)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    assert x("XDEL", "s", "2-0") == 1
    # Redis 7.0: a pending entry deleted from the stream comes back as [id, nil]
    assert x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0") == [["s", [entry(1), ["2-0", None], entry(3)]]]
    # ... and its delivery count is not incremented
    assert pel(x, "s", "g") == [("1-0", "c", 2), ("2-0", "c", 1), ("3-0", "c", 2)]
    assert x("XTRIM", "s", "MAXLEN", "0") == 2
    assert x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0") == [
        ["s", [["1-0", None], ["2-0", None], ["3-0", None]]]]
    assert x("XACK", "s", "g", "1-0", "2-0", "3-0") == 3
    assert x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0") == [["s", []]]


def test_xreadgroup_noack(x):
    mkstream(x, "s", 2)
    x("XGROUP", "CREATE", "s", "g", "0")
    assert x("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">") == [["s", [entry(1), entry(2)]]]
    assert x("XPENDING", "s", "g") == [0, None, None, None]
    assert consumers(x, "s", "g") == {"c": 0}
    g = group_info(x, "s", "g")
    assert (g["pending"], g["last-delivered-id"], g["entries-read"], g["lag"]) == (0, "2-0", 2, 0)
    assert x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0") == [["s", []]]
    # options in any order before STREAMS
    mkstream(x, "s", 1, start=3)
    assert x("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "NOACK", "BLOCK", "0", "STREAMS", "s", ">") == [
        ["s", [entry(3)]]]
    assert x("XPENDING", "s", "g") == [0, None, None, None]


def test_xreadgroup_multiple_streams(x):
    mkstream(x, "a", 1)
    mkstream(x, "b", 2)
    x("XGROUP", "CREATE", "a", "g", "0")
    x("XGROUP", "CREATE", "b", "g", "0")
    assert x("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "a", "b", ">", ">") == [
        ["a", [entry(1)]], ["b", [entry(1)]]]
    # streams with nothing new are left out of the reply
    assert x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b", ">", ">") == [["b", [entry(2)]]]
    assert x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b", ">", ">") is None
    # history replies include every stream, even empty ones
    assert x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b", "0", "0") == [
        ["a", [entry(1)]], ["b", [entry(1), entry(2)]]]
    assert x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b", "0", ">") == [["a", [entry(1)]]]
    mkstream(x, "b", 1, start=3)
    assert x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b", "0", ">") == [["a", [entry(1)]], ["b", [entry(3)]]]
    assert x("XPENDING", "a", "g")[0] == 1
    assert x("XPENDING", "b", "g")[0] == 3


def test_xreadgroup_errors(x):
    mkstream(x, "s", 2)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("SET", "str", "x")
    assert err(x, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "t", ">") == UNBALANCED
    assert err(x, "XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">", ">") == UNBALANCED
    assert err(x, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$") == DOLLAR
    assert err(x, "XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">") == nogroup_read("s", "nog")
    assert err(x, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">") == nogroup_read("nokey", "g")
    assert err(x, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "nokey", ">", ">") == nogroup_read("nokey", "g")
    assert err(x, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">") == WRONGTYPE
    assert err(x, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "bad") == BAD_ID
    assert err(x, "XREADGROUP", "GROUP", "g", "c", "FOO", "STREAMS", "s", ">") == SYNTAX
    assert err(x, "XREADGROUP", "GROUP", "g", "c", "COUNT", "x", "STREAMS", "s", ">") == NOT_INT
    assert err(x, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "-1", "STREAMS", "s", ">") == "timeout is negative"
    assert (err(x, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "x", "STREAMS", "s", ">")
            == "timeout is not an integer or out of range")
    assert err(x, "XREADGROUP", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">") == "Missing GROUP option for XREADGROUP"
    for args in (("GROUP", "g", "c", "STREAMS", "s"), ("GROUP", "g", "STREAMS", "s", ">"), ("GROUP", "g"),
                 ("STREAMS", "s", ">")):
        assert err(x, "XREADGROUP", *args) == "wrong number of arguments for 'xreadgroup' command"
    # XREAD refuses the group-only options
    assert err(x, "XREAD", "GROUP", "g", "c", "STREAMS", "s", "0") == \
        "The GROUP option is only supported by XREADGROUP. You called XREAD instead."
    assert err(x, "XREAD", "NOACK", "STREAMS", "s", "0") == \
        "The NOACK option is only supported by XREADGROUP. You called XREAD instead."
    # nothing was delivered by any of the failed calls
    assert x("XPENDING", "s", "g") == [0, None, None, None]
    assert group_info(x, "s", "g")["last-delivered-id"] == "0-0"
    assert x("XINFO", "CONSUMERS", "s", "g") == []


def test_xreadgroup_count_zero_and_huge(x):
    mkstream(x, "s", 3)
    x("XGROUP", "CREATE", "s", "g", "0")
    # COUNT 0 means no limit
    assert x("XREADGROUP", "GROUP", "g", "c", "COUNT", "0", "STREAMS", "s", ">") == [["s", [entry(1), entry(2), entry(3)]]]
    assert x("XREADGROUP", "GROUP", "g", "c", "COUNT", "0", "STREAMS", "s", "0") == [["s", [entry(1), entry(2), entry(3)]]]
    x("XGROUP", "SETID", "s", "g", "0")
    assert x("XREADGROUP", "GROUP", "g", "d", "COUNT", "9223372036854775807", "STREAMS", "s", ">") == [
        ["s", [entry(1), entry(2), entry(3)]]]
    x("XGROUP", "SETID", "s", "g", "0")
    before = pel(x, "s", "g")
    assert err(x, "XREADGROUP", "GROUP", "g", "e", "COUNT", "9223372036854775808", "STREAMS", "s", ">") == NOT_INT
    assert pel(x, "s", "g") == before
    assert group_info(x, "s", "g")["last-delivered-id"] == "0-0"


# ---------------- blocking XREADGROUP ----------------

def test_block_woken_by_xadd(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    assert x("XADD", "s", "1-0", "f", "v1") == "1-0"
    assert b.result() == {"value": [["s", [entry(1)]]]}
    assert blocked_count(x) == 0
    # the served entry is pending for the blocked consumer
    assert pel(x, "s", "g") == [("1-0", "c", 1)]
    g = group_info(x, "s", "g")
    assert (g["last-delivered-id"], g["entries-read"], g["lag"]) == ("1-0", 1, 0)


def test_block_timeout_returns_nil(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    t0 = time.time()
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "100", "STREAMS", "s", ">")
    assert b.result() == {"value": None}
    assert time.time() - t0 >= 0.09
    assert blocked_count(x) == 0
    assert x("XPENDING", "s", "g") == [0, None, None, None]


def test_block_with_history_id_does_not_block(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", "0")
    assert b.result() == {"value": [["s", []]]}


def test_block_two_consumers_fifo(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b1 = block("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    b2 = block("XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 2)
    x("XADD", "s", "1-0", "f", "v1")
    assert b1.result() == {"value": [["s", [entry(1)]]]}
    wait_blocked(x, 1)
    assert not b2.done()
    x("XADD", "s", "2-0", "f", "v2")
    assert b2.result() == {"value": [["s", [entry(2)]]]}
    assert pel(x, "s", "g") == [("1-0", "c1", 1), ("2-0", "c2", 1)]


def test_block_woken_by_multi(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    p = x.pipeline()
    p.execute_command("XADD", "s", "1-0", "f", "v1")
    p.execute_command("XADD", "s", "2-0", "f", "v2")
    assert p.execute() == ["1-0", "2-0"]
    # served after EXEC, with everything the transaction added
    assert b.result() == {"value": [["s", [entry(1), entry(2)]]]}
    assert blocked_count(x) == 0


def test_block_count_limits_what_a_wakeup_takes(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    p = x.pipeline()
    p.execute_command("XADD", "s", "1-0", "f", "v1")
    p.execute_command("XADD", "s", "2-0", "f", "v2")
    p.execute()
    assert b.result() == {"value": [["s", [entry(1)]]]}
    g = group_info(x, "s", "g")
    assert (g["pending"], g["last-delivered-id"], g["entries-read"], g["lag"]) == (1, "1-0", 1, 1)


def test_block_woken_by_eval(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    script = "redis.call('XADD', KEYS[1], '1-0', 'f', 'v1'); redis.call('XADD', KEYS[1], '2-0', 'f', 'v2'); return 7"
    assert x("EVAL", script, 1, "s") == 7
    assert b.result() == {"value": [["s", [entry(1), entry(2)]]]}


def test_block_noack(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "NOACK", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    x("XADD", "s", "1-0", "f", "v1")
    assert b.result() == {"value": [["s", [entry(1)]]]}
    assert x("XPENDING", "s", "g") == [0, None, None, None]
    assert consumers(x, "s", "g") == {"c": 0}


def test_block_on_two_streams(block, x):
    x("XGROUP", "CREATE", "a", "g", "$", "MKSTREAM")
    x("XGROUP", "CREATE", "b", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "a", "b", ">", ">")
    wait_blocked(x, 1)
    x("XADD", "b", "1-0", "f", "v1")
    assert b.result() == {"value": [["b", [entry(1)]]]}
    assert x("XPENDING", "a", "g") == [0, None, None, None]
    assert x("XPENDING", "b", "g") == [1, "1-0", "1-0", [["c", "1"]]]


def test_block_xread_and_xreadgroup_both_served(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b1 = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    b2 = block("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(x, 2)
    x("XADD", "s", "1-0", "f", "v1")
    assert b1.result() == {"value": [["s", [entry(1)]]]}
    assert b2.result() == {"value": [["s", [entry(1)]]]}


@pytest.mark.parametrize("how", ["DEL", "SET", "RENAME", "FLUSHALL"])
def test_block_stream_deleted_while_blocked(block, x, how):
    # Redis 7.0 unblocks XREADGROUP readers with an error when the key goes away
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    if how == "DEL":
        assert x("DEL", "s") == 1
    elif how == "SET":
        assert x("SET", "s", "string") is True
    elif how == "RENAME":
        assert x("RENAME", "s", "s2") is True
    else:
        assert x("FLUSHALL") is True
    assert b.result() == {"error": KEY_GONE}
    assert blocked_count(x) == 0


def test_block_stream_deleted_inside_multi(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    p = x.pipeline()
    p.execute_command("XADD", "s", "1-0", "f", "v1")
    p.execute_command("DEL", "s")
    p.execute()
    assert b.result() == {"error": KEY_GONE}


def test_block_stream_recreated_inside_multi_keeps_waiting(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    p = x.pipeline()
    p.execute_command("DEL", "s")
    p.execute_command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    p.execute()
    time.sleep(0.1)
    assert not b.done() and blocked_count(x) == 1
    x("XADD", "s", "1-0", "f", "v1")
    assert b.result() == {"value": [["s", [entry(1)]]]}


def test_block_group_destroyed_while_blocked(block, x):
    # Redis 7.0's text. Not checked here: 7.2 re-runs a woken command, so it probably
    # answers with the ordinary XREADGROUP NOGROUP text instead.
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    assert x("XGROUP", "DESTROY", "s", "g") == 1
    assert b.result() == {"error": GROUP_GONE}
    assert blocked_count(x) == 0


def test_block_other_group_destroyed_keeps_waiting(block, x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    x("XGROUP", "CREATE", "s", "other", "$")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    assert x("XGROUP", "DESTROY", "s", "other") == 1
    time.sleep(0.1)
    assert not b.done() and blocked_count(x) == 1
    x("XADD", "s", "1-0", "f", "v1")
    assert b.result() == {"value": [["s", [entry(1)]]]}


def test_block_group_setid_while_blocked(block, x):
    mkstream(x, "s", 1)
    x("XGROUP", "CREATE", "s", "g", "$")
    b = block("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(x, 1)
    # moving the group back does not by itself serve the reader ...
    assert x("XGROUP", "SETID", "s", "g", "0") == "OK"
    time.sleep(0.1)
    assert not b.done()
    # ... but the next XADD does, from the group's new position
    x("XADD", "s", "2-0", "f", "v2")
    assert b.result() == {"value": [["s", [entry(1), entry(2)]]]}


def test_block_inside_multi_and_script_does_not_block(x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    p = x.pipeline()
    p.execute_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    p.execute_command("PING")
    assert p.execute() == [None, True]
    assert (err(x, "EVAL", "return redis.pcall('XREADGROUP','GROUP','g','c','BLOCK',0,'STREAMS',KEYS[1],'>')", 1, "s")
            == "XREADGROUP command is not allowed with BLOCK option from scripts")
    # without BLOCK a script may read from a group
    mkstream(x, "s", 1)
    assert x("EVAL", "return redis.call('XREADGROUP','GROUP','g','c','STREAMS',KEYS[1],'>')", 1, "s") == [
        ["s", [entry(1)]]]
    assert x("XPENDING", "s", "g") == [1, "1-0", "1-0", [["c", "1"]]]


# ---------------- XACK ----------------

def test_xack(x):
    mkstream(x, "s", 4)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    assert x("XACK", "s", "g", "1-0", "2-0", "9-0") == 2
    assert x("XACK", "s", "g", "1-0", "2-0") == 0
    assert x("XACK", "s", "g", "3-0", "3-0") == 1  # the same ID twice counts once
    assert x("XACK", "s", "g", "4") == 1  # a bare ms part
    assert x("XPENDING", "s", "g") == [0, None, None, None]
    assert consumers(x, "s", "g") == {"c": 0}
    # no such group or key: 0, not an error
    assert x("XACK", "s", "nog", "1-0") == 0
    assert x("XACK", "nokey", "g", "1-0") == 0
    assert err(x, "XACK", "s", "g") == "wrong number of arguments for 'xack' command"


def test_xack_invalid_id_acks_nothing(x):
    mkstream(x, "s", 2)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    assert err(x, "XACK", "s", "g", "bad") == BAD_ID
    assert err(x, "XACK", "s", "g", "1-0", "bad", "2-0") == BAD_ID
    assert pel(x, "s", "g") == [("1-0", "c", 1), ("2-0", "c", 1)]


# ---------------- XPENDING ----------------

def test_xpending_summary(x):
    mkstream(x, "s", 5)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XGROUP", "CREATE", "s", "empty", "0")
    x("XREADGROUP", "GROUP", "g", "zed", "COUNT", "1", "STREAMS", "s", ">")
    x("XREADGROUP", "GROUP", "g", "amy", "COUNT", "3", "STREAMS", "s", ">")
    x("XGROUP", "CREATECONSUMER", "s", "g", "idle")
    # [count, smallest id, greatest id, [[consumer, count as a bulk string]...]] by consumer name;
    # consumers without pending entries are not listed
    assert x("XPENDING", "s", "g") == [4, "1-0", "4-0", [["amy", "3"], ["zed", "1"]]]
    assert x("XPENDING", "s", "empty") == [0, None, None, None]
    x("XACK", "s", "g", "1-0", "4-0")
    assert x("XPENDING", "s", "g") == [2, "2-0", "3-0", [["amy", "2"]]]


def test_xpending_extended(x):
    mkstream(x, "s", 4)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">")
    x("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">")
    x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", "0")
    rows = x("XPENDING", "s", "g", "-", "+", "10")
    assert [(r[0], r[1], r[3]) for r in rows] == [("1-0", "a", 2), ("2-0", "a", 2), ("3-0", "b", 1), ("4-0", "b", 1)]
    for r in rows:
        assert len(r) == 4 and isinstance(r[2], int) and 0 <= r[2] < 5000
    assert pel(x, "s", "g", "b") == [("3-0", "b", 1), ("4-0", "b", 1)]
    assert pel(x, "s", "g", "nobody") == []
    assert [r[0] for r in x("XPENDING", "s", "g", "-", "+", "2")] == ["1-0", "2-0"]
    assert [r[0] for r in x("XPENDING", "s", "g", "2", "3-0", "10")] == ["2-0", "3-0"]
    assert [r[0] for r in x("XPENDING", "s", "g", "(1-0", "(4-0", "10")] == ["2-0", "3-0"]
    assert [r[0] for r in x("XPENDING", "s", "g", "-", "+", "1", "b")] == ["3-0"]
    assert x("XPENDING", "s", "g", "-", "+", "0") == []
    assert x("XPENDING", "s", "g", "5-0", "+", "10") == []
    assert [r[0] for r in x("XPENDING", "s", "g", "IDLE", "0", "-", "+", "10", "a")] == ["1-0", "2-0"]


def test_xpending_idle_filter(x):
    mkstream(x, "s", 3)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">")
    time.sleep(0.12)
    x("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">")
    old = x("XPENDING", "s", "g", "IDLE", "100", "-", "+", "10")
    assert [(r[0], r[1], r[3]) for r in old] == [("1-0", "a", 1), ("2-0", "a", 1)]
    assert all(r[2] >= 100 for r in old)
    assert x("XPENDING", "s", "g", "IDLE", "100", "-", "+", "10", "b") == []
    assert x("XPENDING", "s", "g", "IDLE", "100000", "-", "+", "10") == []
    # a history read is a new delivery: it resets the idle time
    x("XREADGROUP", "GROUP", "g", "a", "COUNT", "1", "STREAMS", "s", "0")
    assert [r[0] for r in x("XPENDING", "s", "g", "IDLE", "100", "-", "+", "10")] == ["2-0"]


def test_xpending_errors(x):
    mkstream(x, "s", 1)
    x("XGROUP", "CREATE", "s", "g", "0")
    assert err(x, "XPENDING", "s", "nog") == nogroup("s", "nog")
    assert err(x, "XPENDING", "s", "nog", "-", "+", "10") == nogroup("s", "nog")
    assert err(x, "XPENDING", "nokey", "g") == nogroup("nokey", "g")
    assert err(x, "XPENDING", "s", "g", "-", "+") == SYNTAX
    assert err(x, "XPENDING", "s", "g", "-") == SYNTAX
    assert err(x, "XPENDING", "s", "g", "-", "+", "x") == NOT_INT
    assert err(x, "XPENDING", "s", "g", "x", "+", "10") == BAD_ID
    assert err(x, "XPENDING", "s", "g", "IDLE", "x", "-", "+", "10") == NOT_INT
    assert err(x, "XPENDING", "s") == "wrong number of arguments for 'xpending' command"


# ---------------- XCLAIM ----------------

def pending_setup(x, n=4):
    mkstream(x, "s", n)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">")


def test_xclaim_moves_ownership(x):
    pending_setup(x)
    assert x("XCLAIM", "s", "g", "b", "0", "1-0", "3-0") == [entry(1), entry(3)]
    assert pel(x, "s", "g") == [("1-0", "b", 2), ("2-0", "a", 1), ("3-0", "b", 2), ("4-0", "a", 1)]
    assert consumers(x, "s", "g") == {"a": 2, "b": 2}
    # claiming what one already owns is allowed and counts as a delivery
    assert x("XCLAIM", "s", "g", "b", "0", "1-0") == [entry(1)]
    assert pel(x, "s", "g", "b") == [("1-0", "b", 3), ("3-0", "b", 2)]
    # the same ID twice is claimed (and returned) twice
    assert x("XCLAIM", "s", "g", "b", "0", "2-0", "2-0") == [entry(2), entry(2)]
    assert pel(x, "s", "g", "b")[1] == ("2-0", "b", 3)
    # an ID that is not pending is skipped
    assert x("XCLAIM", "s", "g", "b", "0", "9-0") == []


def test_xclaim_min_idle_time(x):
    pending_setup(x)
    assert x("XCLAIM", "s", "g", "b", "3600000", "1-0", "2-0") == []
    assert pel(x, "s", "g")[:2] == [("1-0", "a", 1), ("2-0", "a", 1)]
    time.sleep(0.06)
    assert x("XCLAIM", "s", "g", "b", "50", "1-0") == [entry(1)]
    assert pel(x, "s", "g")[0] == ("1-0", "b", 2)


def test_xclaim_justid_does_not_count_a_delivery(x):
    pending_setup(x)
    assert x("XCLAIM", "s", "g", "b", "0", "1-0", "2-0", "JUSTID") == ["1-0", "2-0"]
    assert pel(x, "s", "g")[:2] == [("1-0", "b", 1), ("2-0", "b", 1)]
    assert consumers(x, "s", "g") == {"a": 2, "b": 2}


def test_xclaim_idle_time_retrycount(x):
    pending_setup(x)
    assert x("XCLAIM", "s", "g", "b", "0", "1-0", "IDLE", "5000", "RETRYCOUNT", "7") == [entry(1)]
    row = x("XPENDING", "s", "g", "-", "+", "1")[0]
    assert (row[0], row[1], row[3]) == ("1-0", "b", 7)
    assert 5000 <= row[2] < 10000
    assert x("XCLAIM", "s", "g", "b", "0", "2-0", "TIME", "1000", "JUSTID") == ["2-0"]
    row = x("XPENDING", "s", "g", "2-0", "2-0", "1")[0]
    now_ms = int(time.time() * 1000)
    assert now_ms - 1000 - 10000 <= row[2] <= now_ms  # idle counted from the epoch + 1 s
    assert row[3] == 1
    # the idle time also feeds the min-idle-time test of the next claim
    assert x("XCLAIM", "s", "g", "c", "4000", "1-0", "JUSTID") == ["1-0"]


def test_xclaim_force(x):
    mkstream(x, "s", 3)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "a", "COUNT", "1", "STREAMS", "s", ">")
    # 2-0 exists but was never delivered
    assert x("XCLAIM", "s", "g", "b", "0", "2-0") == []
    assert x("XCLAIM", "s", "g", "b", "0", "2-0", "FORCE") == [entry(2)]
    assert x("XCLAIM", "s", "g", "b", "0", "3-0", "FORCE", "JUSTID") == ["3-0"]
    # FORCE creates the PEL entry with one delivery, claiming (not JUSTID) adds one more
    assert pel(x, "s", "g") == [("1-0", "a", 1), ("2-0", "b", 2), ("3-0", "b", 1)]
    # FORCE does not invent entries that are not in the stream
    assert x("XCLAIM", "s", "g", "b", "0", "9-0", "FORCE") == []
    assert len(pel(x, "s", "g")) == 3
    # nor does it move the group
    assert group_info(x, "s", "g")["last-delivered-id"] == "1-0"


def test_xclaim_lastid(x):
    pending_setup(x, 3)
    x("XGROUP", "SETID", "s", "g", "1-0", "ENTRIESREAD", "1")
    assert x("XCLAIM", "s", "g", "b", "0", "1-0", "JUSTID", "LASTID", "3-0") == ["1-0"]
    g = group_info(x, "s", "g")
    # the last-delivered ID moves forward; the entries-read counter is left as it was
    assert (g["last-delivered-id"], g["entries-read"]) == ("3-0", 1)
    assert x("XCLAIM", "s", "g", "b", "0", "1-0", "JUSTID", "LASTID", "2-0") == ["1-0"]
    assert group_info(x, "s", "g")["last-delivered-id"] == "3-0"  # never backwards
    assert x("XCLAIM", "s", "g", "b", "0", "1-0", "JUSTID", "LASTID", "8-0") == ["1-0"]
    assert group_info(x, "s", "g")["last-delivered-id"] == "8-0"


def test_xclaim_deleted_entry_leaves_pel(x):
    pending_setup(x, 3)
    assert x("XDEL", "s", "2-0") == 1
    # Redis 7: a claimed entry that no longer exists is dropped from the PEL and not returned
    assert x("XCLAIM", "s", "g", "b", "0", "1-0", "2-0", "3-0") == [entry(1), entry(3)]
    assert pel(x, "s", "g") == [("1-0", "b", 2), ("3-0", "b", 2)]
    assert x("XDEL", "s", "3-0") == 1
    assert x("XCLAIM", "s", "g", "b", "0", "3-0", "JUSTID") == []
    assert x("XPENDING", "s", "g") == [1, "1-0", "1-0", [["b", "1"]]]


def test_xclaim_errors(x):
    pending_setup(x, 1)
    x("SET", "str", "x")
    assert err(x, "XCLAIM", "s", "g", "b", "x", "1-0") == "Invalid min-idle-time argument for XCLAIM"
    assert err(x, "XCLAIM", "s", "g", "b", "0", "1-0", "IDLE", "x") == "Invalid IDLE option argument for XCLAIM"
    assert err(x, "XCLAIM", "s", "g", "b", "0", "1-0", "TIME", "x") == "Invalid TIME option argument for XCLAIM"
    assert (err(x, "XCLAIM", "s", "g", "b", "0", "1-0", "RETRYCOUNT", "x")
            == "Invalid RETRYCOUNT option argument for XCLAIM")
    assert err(x, "XCLAIM", "s", "g", "b", "0", "1-0", "LASTID", "bad") == BAD_ID
    assert err(x, "XCLAIM", "s", "g", "b", "0", "1-0", "FOO") == "Unrecognized XCLAIM option 'FOO'"
    # an option missing its value, and anything that is not an ID, read as unknown options
    assert err(x, "XCLAIM", "s", "g", "b", "0", "1-0", "IDLE") == "Unrecognized XCLAIM option 'IDLE'"
    assert err(x, "XCLAIM", "s", "g", "b", "0", "bad") == "Unrecognized XCLAIM option 'bad'"
    assert err(x, "XCLAIM", "s", "g", "b", "0") == "wrong number of arguments for 'xclaim' command"
    assert err(x, "XCLAIM", "s", "nog", "b", "0", "1-0") == nogroup("s", "nog")
    assert err(x, "XCLAIM", "nokey", "g", "b", "0", "1-0") == nogroup("nokey", "g")
    assert err(x, "XCLAIM", "str", "g", "b", "0", "1-0") == WRONGTYPE
    assert pel(x, "s", "g") == [("1-0", "a", 1)]


# ---------------- XAUTOCLAIM ----------------

def test_xautoclaim_reply_shape(x):
    pending_setup(x, 3)
    assert x("XAUTOCLAIM", "s", "g", "b", "0", "0") == ["0-0", [entry(1), entry(2), entry(3)], []]
    assert pel(x, "s", "g") == [("1-0", "b", 2), ("2-0", "b", 2), ("3-0", "b", 2)]
    assert consumers(x, "s", "g") == {"a": 0, "b": 3}
    assert x("XAUTOCLAIM", "s", "g", "c", "3600000", "0") == ["0-0", [], []]
    assert pel(x, "s", "g", "c") == []


def test_xautoclaim_count_cursor_and_deleted(x):
    pending_setup(x, 5)
    assert x("XDEL", "s", "2-0", "4-0") == 2
    # COUNT bounds the PEL entries scanned, deleted ones included
    assert x("XAUTOCLAIM", "s", "g", "b", "0", "0-0", "COUNT", "2") == ["3-0", [entry(1)], ["2-0"]]
    assert x("XAUTOCLAIM", "s", "g", "b", "0", "3-0", "COUNT", "2") == ["5-0", [entry(3)], ["4-0"]]
    assert x("XAUTOCLAIM", "s", "g", "b", "0", "5-0", "COUNT", "2") == ["0-0", [entry(5)], []]
    # the deleted entries have left the PEL
    assert pel(x, "s", "g") == [("1-0", "b", 2), ("3-0", "b", 2), ("5-0", "b", 2)]
    assert consumers(x, "s", "g") == {"a": 0, "b": 3}


def test_xautoclaim_justid_and_start(x):
    pending_setup(x, 3)
    assert x("XAUTOCLAIM", "s", "g", "b", "0", "0", "JUSTID") == ["0-0", ["1-0", "2-0", "3-0"], []]
    assert pel(x, "s", "g") == [("1-0", "b", 1), ("2-0", "b", 1), ("3-0", "b", 1)]
    assert x("XAUTOCLAIM", "s", "g", "c", "0", "(1-0", "JUSTID") == ["0-0", ["2-0", "3-0"], []]
    assert x("XAUTOCLAIM", "s", "g", "c", "0", "-", "COUNT", "1", "JUSTID") == ["2-0", ["1-0"], []]
    assert x("XAUTOCLAIM", "s", "g", "c", "0", "2-0", "JUSTID") == ["0-0", ["2-0", "3-0"], []]
    assert x("XAUTOCLAIM", "s", "g", "c", "0", "4-0") == ["0-0", [], []]
    assert consumers(x, "s", "g") == {"a": 0, "b": 0, "c": 3}


def test_xautoclaim_errors(x):
    pending_setup(x, 2)
    x("SET", "str", "x")
    for count in ("0", "-1", "x", "576460752303423488", "9223372036854775808"):
        assert err(x, "XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", count) == COUNT_POSITIVE
    # big but allowed
    assert x("XAUTOCLAIM", "s", "g", "b", "3600000", "0", "COUNT", "1000000") == ["0-0", [], []]
    assert err(x, "XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT") == SYNTAX
    assert err(x, "XAUTOCLAIM", "s", "g", "b", "0", "0", "FOO") == SYNTAX
    assert err(x, "XAUTOCLAIM", "s", "g", "b", "x", "0") == "Invalid min-idle-time argument for XAUTOCLAIM"
    assert err(x, "XAUTOCLAIM", "s", "g", "b", "0", "bad") == BAD_ID
    assert err(x, "XAUTOCLAIM", "s", "g", "b", "0") == "wrong number of arguments for 'xautoclaim' command"
    assert err(x, "XAUTOCLAIM", "s", "nog", "b", "0", "0") == nogroup("s", "nog")
    assert err(x, "XAUTOCLAIM", "nokey", "g", "b", "0", "0") == nogroup("nokey", "g")
    assert err(x, "XAUTOCLAIM", "str", "g", "b", "0", "0") == WRONGTYPE
    assert pel(x, "s", "g") == [("1-0", "a", 1), ("2-0", "a", 1)]


# ---------------- XINFO ----------------

def test_xinfo_groups_lag_after_xadd_and_xdel(x):
    mkstream(x, "s", 5)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
    assert x("XINFO", "GROUPS", "s") == [["name", "g", "consumers", 1, "pending", 2, "last-delivered-id", "2-0",
                                          "entries-read", 2, "lag", 3]]
    x("XADD", "s", "6-0", "f", "v6")
    assert group_info(x, "s", "g")["lag"] == 4
    # deleting an entry the group already read keeps the lag known
    x("XDEL", "s", "1-0")
    assert (group_info(x, "s", "g")["entries-read"], group_info(x, "s", "g")["lag"]) == (2, 4)
    # a hole ahead of the group makes it unknown
    x("XDEL", "s", "4-0")
    assert (group_info(x, "s", "g")["entries-read"], group_info(x, "s", "g")["lag"]) == (2, None)
    # reading into the fragmented range loses the counter too
    x("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">")
    g = group_info(x, "s", "g")
    assert (g["last-delivered-id"], g["entries-read"], g["lag"]) == ("3-0", None, None)
    # reaching the last entry makes both exact again
    x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    g = group_info(x, "s", "g")
    assert (g["last-delivered-id"], g["entries-read"], g["lag"]) == ("6-0", 6, 0)
    x("XADD", "s", "7-0", "f", "v7")
    assert (group_info(x, "s", "g")["entries-read"], group_info(x, "s", "g")["lag"]) == (6, 1)


def test_xinfo_groups_lag_after_xtrim(x):
    mkstream(x, "s", 5)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XGROUP", "CREATE", "s", "h", "0")
    x("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">")
    assert x("XTRIM", "s", "MAXLEN", "2") == 3
    # trimming leaves no holes: g's counter stays valid (lag counts the trimmed entries too),
    # h's is estimated from what is left
    g, h = group_info(x, "s", "g"), group_info(x, "s", "h")
    assert (g["entries-read"], g["lag"]) == (2, 3)
    assert (h["entries-read"], h["lag"]) == (None, 2)
    x("XREADGROUP", "GROUP", "h", "c", "STREAMS", "s", ">")
    h = group_info(x, "s", "h")
    assert (h["last-delivered-id"], h["entries-read"], h["lag"]) == ("5-0", 5, 0)


def test_xinfo_groups_lag_estimates(x):
    mkstream(x, "s", 5)
    x("XTRIM", "s", "MAXLEN", "2")  # 4-0 and 5-0 left, 5 ever added
    x("XGROUP", "CREATE", "s", "before", "3-0")
    x("XGROUP", "CREATE", "s", "first", "4-0")
    x("XGROUP", "CREATE", "s", "last", "5-0")
    x("XGROUP", "CREATE", "s", "future", "9-0")
    x("XGROUP", "CREATE", "s", "told", "4-0", "ENTRIESREAD", "1")
    lags = {fields(g)["name"]: (fields(g)["entries-read"], fields(g)["lag"]) for g in x("XINFO", "GROUPS", "s")}
    assert lags == {"before": (None, 2), "first": (None, 1), "last": (None, 0), "future": (None, None),
                    "told": (1, 4)}


def test_xinfo_groups_lag_on_emptied_stream(x):
    mkstream(x, "s", 4)
    x("XDEL", "s", "1-0", "2-0", "3-0", "4-0")
    x("XGROUP", "CREATE", "s", "g", "0")
    assert group_info(x, "s", "g")["lag"] == 0
    x("XADD", "s", "5-0", "f", "v5")
    assert group_info(x, "s", "g")["lag"] == 1
    x("XGROUP", "CREATE", "s", "h", "$")
    x("XADD", "s", "6-0", "f", "v6")
    assert (group_info(x, "s", "g")["lag"], group_info(x, "s", "h")["lag"]) == (2, 1)


def test_xinfo_consumers(x):
    mkstream(x, "s", 3)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XGROUP", "CREATE", "s", "empty", "0")
    x("XREADGROUP", "GROUP", "g", "bob", "COUNT", "1", "STREAMS", "s", ">")
    x("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    time.sleep(0.12)
    rows = x("XINFO", "CONSUMERS", "s", "g")
    # Redis 7.0: name, pending, idle (7.2 adds "inactive", see the keel_only test)
    assert [[r[0], r[1], r[2], r[3], r[4]] for r in rows] == [["name", "alice", "pending", 2, "idle"],
                                                             ["name", "bob", "pending", 1, "idle"]]
    assert len(rows[0]) == (6 if REDIS70 else 8)
    assert all(isinstance(r[5], int) and r[5] >= 100 for r in rows)
    x("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0")
    assert fields(x("XINFO", "CONSUMERS", "s", "g")[1])["idle"] < 100
    assert x("XINFO", "CONSUMERS", "s", "empty") == []
    assert err(x, "XINFO", "CONSUMERS", "s", "nog") == nogroup_named("s", "nog")
    assert err(x, "XINFO", "CONSUMERS", "nokey", "g") == "no such key"
    assert err(x, "XINFO", "CONSUMERS", "s") == "wrong number of arguments for 'xinfo|consumers' command"


@keel_only
def test_xinfo_consumers_inactive(x):
    # Redis 7.2: name, pending, idle (since the last attempted interaction), inactive (since
    # the last successful one; -1 for a consumer that never read anything)
    mkstream(x, "s", 1)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XGROUP", "CREATECONSUMER", "s", "g", "new")
    x("XREADGROUP", "GROUP", "g", "reader", "STREAMS", "s", ">")
    rows = [fields(r) for r in x("XINFO", "CONSUMERS", "s", "g")]
    assert [list(r) for r in rows] == [["name", "pending", "idle", "inactive"]] * 2
    assert (rows[0]["name"], rows[0]["inactive"]) == ("new", -1)
    assert rows[1]["name"] == "reader" and 0 <= rows[1]["inactive"] < 5000


# Redis 8.6's idempotent-production fields (test_stream_idmp.py checks them).
IDMP_KEYS = ["idmp-duration", "idmp-maxsize", "pids-tracked", "iids-tracked", "iids-added", "iids-duplicates"]


def without_idmp(d):
    assert [d.pop(k) for k in IDMP_KEYS] == [100, 100, 0, 0, 0, 0]
    return d


def test_xinfo_stream(x):
    x("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    info = x("XINFO", "STREAM", "s")
    assert info[0::2] == ["length", "radix-tree-keys", "radix-tree-nodes", "last-generated-id",
                          "max-deleted-entry-id", "entries-added", "recorded-first-entry-id"] + IDMP_KEYS + \
        ["groups", "first-entry", "last-entry"]
    d = without_idmp(fields(info))
    assert isinstance(d.pop("radix-tree-keys"), int) and isinstance(d.pop("radix-tree-nodes"), int)
    assert d == {"length": 0, "last-generated-id": "0-0", "max-deleted-entry-id": "0-0", "entries-added": 0,
                 "recorded-first-entry-id": "0-0", "groups": 1, "first-entry": None, "last-entry": None}
    x("XADD", "s", "1-0", "a", "1")
    x("XADD", "s", "2-0", "b", "2", "c", "3")
    x("XGROUP", "CREATE", "s", "h", "0")
    d = without_idmp(fields(x("XINFO", "STREAM", "s")))
    assert isinstance(d.pop("radix-tree-keys"), int) and isinstance(d.pop("radix-tree-nodes"), int)
    assert d == {"length": 2, "last-generated-id": "2-0", "max-deleted-entry-id": "0-0", "entries-added": 2,
                 "recorded-first-entry-id": "1-0", "groups": 2, "first-entry": ["1-0", ["a", "1"]],
                 "last-entry": ["2-0", ["b", "2", "c", "3"]]}


def test_xinfo_stream_after_xdel_and_xtrim(x):
    mkstream(x, "s", 4)
    x("XDEL", "s", "1-0")
    d = fields(x("XINFO", "STREAM", "s"))
    assert (d["length"], d["max-deleted-entry-id"], d["entries-added"], d["recorded-first-entry-id"]) == \
        (3, "1-0", 4, "2-0")
    x("XDEL", "s", "3-0")
    d = fields(x("XINFO", "STREAM", "s"))
    assert (d["length"], d["max-deleted-entry-id"], d["recorded-first-entry-id"]) == (2, "3-0", "2-0")
    x("XTRIM", "s", "MAXLEN", "1")
    d = fields(x("XINFO", "STREAM", "s"))
    # trimming does not count as a deletion
    assert (d["length"], d["max-deleted-entry-id"], d["recorded-first-entry-id"]) == (1, "3-0", "4-0")
    assert d["first-entry"] == d["last-entry"] == entry(4)
    x("XDEL", "s", "4-0")
    d = fields(x("XINFO", "STREAM", "s"))
    assert (d["length"], d["last-generated-id"], d["max-deleted-entry-id"], d["entries-added"],
            d["recorded-first-entry-id"], d["first-entry"], d["last-entry"]) == (0, "4-0", "4-0", 4, "0-0", None, None)


def test_xinfo_stream_full(x):
    mkstream(x, "s", 3)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XGROUP", "CREATE", "s", "idle", "$")
    x("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">")
    x("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">")
    now = int(time.time() * 1000)
    info = x("XINFO", "STREAM", "s", "FULL")
    assert info[0::2] == ["length", "radix-tree-keys", "radix-tree-nodes", "last-generated-id",
                          "max-deleted-entry-id", "entries-added", "recorded-first-entry-id"] + IDMP_KEYS + \
        ["entries", "groups"]
    d = fields(info)
    assert isinstance(d["radix-tree-keys"], int) and isinstance(d["radix-tree-nodes"], int)
    assert (d["length"], d["last-generated-id"], d["entries-added"]) == (3, "3-0", 3)
    assert d["entries"] == [entry(1), entry(2), entry(3)]
    g, idle = d["groups"]
    assert idle == ["name", "idle", "last-delivered-id", "3-0", "entries-read", None, "lag", 0,
                    "pel-count", 0, "pending", [], "consumers", []]
    assert g[0::2] == ["name", "last-delivered-id", "entries-read", "lag", "pel-count", "pending", "consumers"]
    g = fields(g)
    assert (g["name"], g["last-delivered-id"], g["entries-read"], g["lag"], g["pel-count"]) == ("g", "3-0", 3, 0, 3)
    # group PEL: [id, consumer, delivery time (unix ms), delivery count]
    assert [(p[0], p[1], p[3]) for p in g["pending"]] == [("1-0", "alice", 1), ("2-0", "alice", 1), ("3-0", "bob", 1)]
    assert all(abs(p[2] - now) < 5000 for p in g["pending"])
    alice, bob = g["consumers"]
    # Redis 7.0 consumers: name, seen-time, pel-count, pending [id, delivery time, count]
    if not REDIS70:
        # 7.2: "active-time" (last successful read) after "seen-time"
        assert alice[4] == "active-time" and abs(alice[5] - now) < 5000
        alice, bob = alice[:4] + alice[6:], bob[:4] + bob[6:]
    assert alice[0::2] == ["name", "seen-time", "pel-count", "pending"]
    assert (alice[1], alice[5], [(p[0], p[2]) for p in alice[7]]) == ("alice", 2, [("1-0", 1), ("2-0", 1)])
    assert (bob[1], bob[5], [(p[0], p[2]) for p in bob[7]]) == ("bob", 1, [("3-0", 1)])
    assert abs(alice[3] - now) < 5000 and abs(alice[7][0][1] - now) < 5000


def test_xinfo_stream_full_count(x):
    mkstream(x, "s", 12)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")

    def full(*count):
        d = fields(x("XINFO", "STREAM", "s", "FULL", *count))
        g = fields(d["groups"][0])
        c = fields(g["consumers"][0])
        return len(d["entries"]), g["pel-count"], len(g["pending"]), c["pel-count"], len(c["pending"])

    assert full() == (10, 12, 10, 12, 10)  # the default COUNT is 10
    assert full("COUNT", "1") == (1, 12, 1, 12, 1)
    assert full("COUNT", "0") == (12, 12, 12, 12, 12)  # 0: everything
    assert full("COUNT", "20") == (12, 12, 12, 12, 12)
    assert fields(x("XINFO", "STREAM", "s", "FULL", "COUNT", "2"))["entries"] == [entry(1), entry(2)]


def test_xinfo_errors_and_help(x):
    mkstream(x, "s", 1)
    x("XGROUP", "CREATE", "s", "g", "0")
    lines = x("XINFO", "HELP")
    assert isinstance(lines, list) and len(lines) > 4
    assert all(isinstance(line, str) for line in lines)
    assert lines[0].startswith("XINFO <subcommand>")
    assert err(x, "XINFO", "FOO") == "unknown subcommand 'FOO'. Try XINFO HELP."
    assert err(x, "XINFO") == "wrong number of arguments for 'xinfo' command"
    assert err(x, "XINFO", "STREAM") == "wrong number of arguments for 'xinfo|stream' command"
    assert err(x, "XINFO", "GROUPS") == "wrong number of arguments for 'xinfo|groups' command"
    assert err(x, "XINFO", "GROUPS", "s", "x") == "wrong number of arguments for 'xinfo|groups' command"
    for extra in (("FOO",), ("FULL", "FOO"), ("FULL", "COUNT")):
        assert (err(x, "XINFO", "STREAM", "s", *extra)
                == "unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
    assert err(x, "XINFO", "STREAM", "s", "FULL", "COUNT", "x") == NOT_INT
    for sub in (("STREAM", "nokey"), ("GROUPS", "nokey"), ("CONSUMERS", "nokey", "g")):
        assert err(x, "XINFO", *sub) == "no such key"


# ---------------- scenarios ----------------

def test_seed_lag_monitor(x):
    """The seed article's producer / consumer group / lag monitor."""
    key, group = "stream:order-events", "order-processor"

    def setup_group():
        try:
            x("XGROUP", "CREATE", key, group, "0", "MKSTREAM")
        except redis.ResponseError as e:
            assert "BUSYGROUP" in str(e)

    setup_group()
    ids = [x("XADD", key, "*", "event_type", "order.created", "user_id", str(i), "data", '{"n": %d}' % i)
           for i in range(10)]
    assert len(set(ids)) == 10 and ids == sorted(ids, key=lambda s: tuple(map(int, s.split("-"))))
    setup_group()  # second start-up: BUSYGROUP, swallowed
    for i in range(4):
        reply = x("XREADGROUP", "GROUP", group, "worker-1", "COUNT", "1", "BLOCK", "1000", "STREAMS", key, ">")
        [[stream, [[eid, body]]]] = reply
        assert (stream, eid) == (key, ids[i])
        assert fields(body) == {"event_type": "order.created", "user_id": str(i), "data": '{"n": %d}' % i}
        assert x("XACK", key, group, eid) == 1
    assert x("XINFO", "GROUPS", key) == [["name", group, "consumers", 1, "pending", 0, "last-delivered-id", ids[3],
                                          "entries-read", 4, "lag", 6]]
    assert consumers(x, key, group) == {"worker-1": 0}


def test_crash_recovery_with_xautoclaim(x):
    mkstream(x, "jobs", 5)
    x("XGROUP", "CREATE", "jobs", "workers", "0")
    # consumer A takes three jobs and dies without acknowledging them
    assert x("XREADGROUP", "GROUP", "workers", "A", "COUNT", "3", "STREAMS", "jobs", ">") == [
        ["jobs", [entry(1), entry(2), entry(3)]]]
    # while A might still be working, B claims nothing
    assert x("XAUTOCLAIM", "jobs", "workers", "B", "60000", "0-0") == ["0-0", [], []]
    time.sleep(0.1)
    assert x("XAUTOCLAIM", "jobs", "workers", "B", "50", "0-0") == ["0-0", [entry(1), entry(2), entry(3)], []]
    assert pel(x, "jobs", "workers") == [("1-0", "B", 2), ("2-0", "B", 2), ("3-0", "B", 2)]
    assert pel(x, "jobs", "workers", "A") == []
    assert consumers(x, "jobs", "workers") == {"A": 0, "B": 3}
    assert x("XACK", "jobs", "workers", "1-0", "2-0", "3-0") == 3
    assert x("XREADGROUP", "GROUP", "workers", "B", "STREAMS", "jobs", ">") == [["jobs", [entry(4), entry(5)]]]
    g = group_info(x, "jobs", "workers")
    assert (g["pending"], g["lag"]) == (2, 0)


# ---------------- wrong types and bad input ----------------

@pytest.mark.parametrize("cmd", [
    ("XGROUP", "CREATE", "str", "g", "$"),
    ("XGROUP", "CREATE", "str", "g", "$", "MKSTREAM"),
    ("XGROUP", "SETID", "str", "g", "$"),
    ("XGROUP", "DESTROY", "str", "g"),
    ("XGROUP", "CREATECONSUMER", "str", "g", "c"),
    ("XGROUP", "DELCONSUMER", "str", "g", "c"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "str", ">", ">"),
    ("XACK", "str", "g", "1-0"),
    ("XPENDING", "str", "g"),
    ("XPENDING", "str", "g", "-", "+", "10"),
    ("XCLAIM", "str", "g", "c", "0", "1-0"),
    ("XAUTOCLAIM", "str", "g", "c", "0", "0"),
    ("XINFO", "STREAM", "str"),
    ("XINFO", "GROUPS", "str"),
    ("XINFO", "CONSUMERS", "str", "g"),
], ids=lambda c: " ".join(c[:2]) if c[0] in ("XGROUP", "XINFO") else c[0])
def test_wrongtype(x, cmd):
    x("SET", "str", "x")
    x("XGROUP", "CREATE", "s", "g", "0", "MKSTREAM")
    assert err(x, *cmd) == WRONGTYPE
    assert x("GET", "str") == "x"


def test_bad_input_leaves_state_unchanged(x):
    mkstream(x, "s", 4)
    x("XGROUP", "CREATE", "s", "g", "0")
    x("XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">")

    def state():
        d = fields(x("XINFO", "STREAM", "s", "FULL"))
        g = fields(d["groups"][0])
        return (d["length"], d["entries"], d["last-generated-id"], g["last-delivered-id"], g["entries-read"],
                g["pel-count"], [(p[0], p[1], p[3]) for p in g["pending"]],
                [(fields(c)["name"], fields(c)["pel-count"]) for c in g["consumers"]])

    before = state()
    bad = [
        ("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "b", "COUNT", "9223372036854775808", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", "$"),
        ("XREADGROUP", "GROUP", "g", "b", "BLOCK", "-1", "STREAMS", "s", ">"),
        ("XACK", "s", "g", "1-0", "nope"),
        ("XCLAIM", "s", "g", "b", "0", "1-0", "IDLE", "x"),
        ("XCLAIM", "s", "g", "b", "0", "1-0", "LASTID", "bad"),
        ("XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "0"),
        ("XAUTOCLAIM", "s", "g", "b", "0", "0", "COUNT", "99999999999999999999"),
        ("XGROUP", "CREATE", "s", "g", "0"),
        ("XGROUP", "CREATE", "s", "h", "0", "ENTRIESREAD", "-2"),
        ("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "x"),
        ("XPENDING", "s", "g", "-", "+", "x"),
    ]
    for cmd in bad:
        with pytest.raises(redis.ResponseError):
            x(*cmd)
    assert state() == before
    assert [fields(g)["name"] for g in x("XINFO", "GROUPS", "s")] == ["g"]
    assert x("PING") is True


# ---------------- Keel / Redis 8.2: XACKDEL, XDELEX ----------------
#
# Assumed semantics (Redis 8.2 docs):
#   XDELEX key [KEEPREF|DELREF|ACKED] IDS numids id...
#   XACKDEL key group [KEEPREF|DELREF|ACKED] IDS numids id...
# reply one code per ID, in order: -1 no such entry, 1 deleted (XACKDEL: acked and deleted),
# 2 not deleted because a consumer group still references it (ACKED only; XACKDEL still acks
# it in <group>). KEEPREF (the default) deletes the entry and leaves other PELs alone (like
# XDEL); DELREF also removes it from every group's PEL; ACKED deletes only entries no group
# still has pending. The ACKED tests only use entries every group has already read, so they
# do not depend on how "not yet delivered to some group" is treated.

def two_groups(x, n=3):
    mkstream(x, "s", n)
    for g in ("g1", "g2"):
        x("XGROUP", "CREATE", "s", g, "0")
        x("XREADGROUP", "GROUP", g, "c", "STREAMS", "s", ">")


@keel_only
def test_xdelex_keepref_default(x):
    two_groups(x)
    assert x("XDELEX", "s", "IDS", "3", "1-0", "2-0", "9-0") == [1, 1, -1]
    assert x("XLEN", "s") == 1
    # references stay: still pending in both groups, read back as [id, nil]
    assert x("XPENDING", "s", "g1")[0] == 3 and x("XPENDING", "s", "g2")[0] == 3
    assert x("XREADGROUP", "GROUP", "g1", "c", "STREAMS", "s", "0") == [["s", [["1-0", None], ["2-0", None], entry(3)]]]
    assert x("XDELEX", "s", "KEEPREF", "IDS", "1", "3-0") == [1]
    assert x("XDELEX", "s", "IDS", "1", "3-0") == [-1]
    assert x("XDELEX", "nokey", "IDS", "2", "1-0", "2-0") == [-1, -1]


@keel_only
def test_xdelex_delref(x):
    two_groups(x)
    assert x("XDELEX", "s", "DELREF", "IDS", "2", "1-0", "2-0") == [1, 1]
    assert x("XLEN", "s") == 1
    assert pel(x, "s", "g1") == [("3-0", "c", 1)]
    assert pel(x, "s", "g2") == [("3-0", "c", 1)]
    assert consumers(x, "s", "g1") == {"c": 1}


@keel_only
def test_xdelex_acked(x):
    two_groups(x, 2)
    x("XACK", "s", "g1", "1-0", "2-0")
    x("XACK", "s", "g2", "2-0")
    # 1-0 is still pending in g2
    assert x("XDELEX", "s", "ACKED", "IDS", "2", "1-0", "2-0") == [2, 1]
    assert x("XLEN", "s") == 1
    assert pel(x, "s", "g2") == [("1-0", "c", 1)]
    x("XACK", "s", "g2", "1-0")
    assert x("XDELEX", "s", "ACKED", "IDS", "1", "1-0") == [1]
    assert x("XLEN", "s") == 0
    # a stream without groups: nothing references anything
    mkstream(x, "t", 1)
    assert x("XDELEX", "t", "ACKED", "IDS", "1", "1-0") == [1]


@keel_only
def test_xackdel_keepref_default(x):
    two_groups(x)
    assert x("XACKDEL", "s", "g1", "IDS", "2", "1-0", "9-0") == [1, -1]
    assert x("XLEN", "s") == 2
    assert [p[0] for p in pel(x, "s", "g1")] == ["2-0", "3-0"]
    assert [p[0] for p in pel(x, "s", "g2")] == ["1-0", "2-0", "3-0"]  # reference kept
    assert x("XACKDEL", "s", "g1", "KEEPREF", "IDS", "1", "2-0") == [1]
    assert [p[0] for p in pel(x, "s", "g1")] == ["3-0"]


@keel_only
def test_xackdel_delref(x):
    two_groups(x)
    assert x("XACKDEL", "s", "g1", "DELREF", "IDS", "2", "1-0", "2-0") == [1, 1]
    assert x("XLEN", "s") == 1
    assert [p[0] for p in pel(x, "s", "g1")] == ["3-0"]
    assert [p[0] for p in pel(x, "s", "g2")] == ["3-0"]


@keel_only
def test_xackdel_acked(x):
    two_groups(x, 2)
    # acked in g1, but g2 still has it pending: not deleted
    assert x("XACKDEL", "s", "g1", "ACKED", "IDS", "1", "1-0") == [2]
    assert x("XLEN", "s") == 2
    assert [p[0] for p in pel(x, "s", "g1")] == ["2-0"]
    assert [p[0] for p in pel(x, "s", "g2")] == ["1-0", "2-0"]
    # the last reference goes: deleted
    assert x("XACKDEL", "s", "g2", "ACKED", "IDS", "1", "1-0") == [1]
    assert x("XLEN", "s") == 1
    assert [p[0] for p in pel(x, "s", "g2")] == ["2-0"]


@keel_only
def test_xackdel_xdelex_errors(x):
    two_groups(x, 1)
    x("SET", "str", "x")
    assert err(x, "XDELEX", "str", "IDS", "1", "1-0") == WRONGTYPE
    assert err(x, "XACKDEL", "str", "g", "IDS", "1", "1-0") == WRONGTYPE
    for cmd in (("XDELEX", "s", "IDS", "2", "1-0"), ("XDELEX", "s", "1-0"), ("XDELEX", "s", "IDS", "1", "bad"),
                ("XACKDEL", "s", "g1", "IDS", "2", "1-0"), ("XACKDEL", "s", "g1", "FOO", "IDS", "1", "1-0")):
        with pytest.raises(redis.ResponseError):
            x(*cmd)
    assert x("XLEN", "s") == 1
    assert pel(x, "s", "g1") == [("1-0", "c", 1)]


def test_xreadgroup_same_stream_named_twice(server):
    """The second name finds nothing new once the first took it: the reply
    holds one stream (and valid RESP: the array length matches)."""
    c = server.client()
    c.xadd("dup", {"f": "v"}, id="1-1")
    c.xgroup_create("dup", "g", id="0")
    s = server.raw()
    s.sendall(b"XREADGROUP GROUP g c STREAMS dup dup > >\r\nPING\r\n")
    data = b""
    deadline = time.time() + 5
    while not data.endswith(b"+PONG\r\n") and time.time() < deadline:
        data += s.recv(4096)
    assert data == (b"*1\r\n*2\r\n$3\r\ndup\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
                    b"+PONG\r\n")
    s.close()
    c.close()


def test_counters_at_the_top_of_their_range_do_not_overflow(x):
    """Found by fuzzing the loaders: counters set to the largest value a
    command accepts must not overflow when entries are read, added or
    claimed (the server keeps answering; a lag it cannot represent is nil)."""
    top = str(2**63 - 1)
    x("XADD", "s", "1-1", "f", "v")
    assert x("XGROUP", "CREATE", "s", "g", "0", "ENTRIESREAD", top) == "OK"
    reply = x("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    assert reply[0][1][0][0] == "1-1"
    x("XINFO", "GROUPS", "s")
    x("XADD", "s2", "1-1", "f", "v")
    assert x("XSETID", "s2", "1-1", "ENTRIESADDED", top) == "OK"
    assert x("XGROUP", "CREATE", "s2", "g", "0") == "OK"
    x("XADD", "s2", "*", "f", "v")
    assert x("XINFO", "GROUPS", "s2")  # the lag cannot be represented
    claimed = x("XCLAIM", "s", "g", "bob", "0", "1-1", "IDLE", str(-2**63))
    assert claimed[0][0] == "1-1"
    assert x("XPENDING", "s", "g", "-", "+", "10")[0][1] == "bob"
    assert x("PING") in (True, "PONG")
