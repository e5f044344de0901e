"""Keyspace notifications: __keyspace@N__:key and __keyevent@N__:event
messages for the implemented commands, class filtering by
notify-keyspace-events, and expired (lazy and active), evicted and keymiss
events."""
import time

import pytest
import redis

from resp_client import RespConn


def events(conn, timeout=0.3):
    """All (channel, payload) pairs that arrive until a quiet pause."""
    out = []
    while True:
        m = conn.try_read(timeout)
        if m is None:
            return out
        assert m[0] == b"pmessage"
        out.append((m[2], m[3]))


@pytest.fixture
def watcher(server, r):
    r.config_set("notify-keyspace-events", "KEA")
    c = RespConn(server)
    assert c.call("PSUBSCRIBE", "__key*@*__:*") == [b"psubscribe", b"__key*@*__:*", 1]
    yield c
    c.close()
    r.config_set("notify-keyspace-events", "")


def ks(key, db=0):
    return b"__keyspace@%d__:%s" % (db, key)


def ke(event, db=0):
    return b"__keyevent@%d__:%s" % (db, event)


def both(key, event, db=0):
    return [(ks(key, db), event), (ke(event, db), key)]


def test_off_by_default(server, r):
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": ""}
    c = RespConn(server)
    c.call("PSUBSCRIBE", "*")
    r.set("k", "v")
    r.delete("k")
    assert events(c) == []
    c.close()


def test_string_and_generic_events(r, watcher):
    r.set("k", "v")
    assert events(watcher) == both(b"k", b"set")
    r.append("k", "w")
    assert events(watcher) == both(b"k", b"append")
    r.setrange("k", 0, "x")
    assert events(watcher) == both(b"k", b"setrange")
    r.set("n", "1")
    events(watcher)
    r.incr("n")
    assert events(watcher) == both(b"n", b"incrby")
    r.incrbyfloat("n", 1.5)
    assert events(watcher) == both(b"n", b"incrbyfloat")
    r.mset({"a": "1", "b": "2"})
    assert events(watcher) == both(b"a", b"set") + both(b"b", b"set")
    r.delete("a", "b", "missing")
    assert events(watcher) == both(b"a", b"del") + both(b"b", b"del")
    # A no-op writes nothing and says nothing.
    r.delete("missing")
    assert r.set("n", "x", nx=True) is None
    assert events(watcher) == []


def test_expire_events(r, watcher):
    r.set("k", "v", ex=100)
    assert events(watcher) == both(b"k", b"set") + both(b"k", b"expire")
    r.expire("k", 200)
    assert events(watcher) == both(b"k", b"expire")
    r.persist("k")
    assert events(watcher) == both(b"k", b"persist")
    # An expire time in the past deletes the key: a del event.
    r.pexpireat("k", 1)
    assert events(watcher) == both(b"k", b"del")


def test_expired_event_lazy(r, watcher):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("lazy", "v", px=30)
        assert events(watcher) == both(b"lazy", b"set") + both(b"lazy", b"expire")
        time.sleep(0.1)
        # Nothing happens until the key is touched.
        assert events(watcher) == []
        assert r.get("lazy") is None
        assert events(watcher) == both(b"lazy", b"expired")
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_expired_event_active(r, watcher):
    r.set("active", "v", px=30)
    events(watcher, timeout=0.01)
    deadline = time.time() + 5
    got = []
    while time.time() < deadline and not got:
        got = [e for e in events(watcher, 0.2) if b"expired" in e[0] or e[1] == b"expired"]
    assert sorted(got) == sorted(both(b"active", b"expired"))
    assert r.exists("active") == 0


def test_class_filters(server, r):
    c = RespConn(server)
    c.call("PSUBSCRIBE", "__key*@*__:*")
    # Generic keyevents only: SET is a string event, so silent.
    r.config_set("notify-keyspace-events", "Eg")
    r.set("k", "v")
    r.expire("k", 100)
    r.delete("k")
    assert events(c) == [(ke(b"expire"), b"k"), (ke(b"del"), b"k")]
    # Keyspace string events only.
    r.config_set("notify-keyspace-events", "K$")
    r.set("k", "v")
    r.delete("k")
    assert events(c) == [(ks(b"k"), b"set")]
    # Expired only.
    r.config_set("notify-keyspace-events", "Ex")
    r.set("k", "v", px=10)
    r.set("j", "v")
    time.sleep(0.05)
    assert r.get("k") is None
    assert events(c) == [(ke(b"expired"), b"k")]
    # A class without K or E publishes nothing.
    r.config_set("notify-keyspace-events", "A")
    r.set("k", "v")
    assert events(c) == []
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "A"}
    r.config_set("notify-keyspace-events", "")
    c.close()


def test_keymiss_event(server, r):
    c = RespConn(server)
    c.call("SUBSCRIBE", "__keyevent@0__:keymiss")
    r.config_set("notify-keyspace-events", "Em")
    try:
        assert r.get("nothere") is None
        assert c.read(2) == [b"message", b"__keyevent@0__:keymiss", b"nothere"]
        r.set("here", "1")
        r.get("here")
        assert c.try_read() is None
    finally:
        r.config_set("notify-keyspace-events", "")
    c.close()


def test_event_channel_names_carry_the_db(server, r, watcher):
    r.execute_command("SELECT", "0")
    other = server.client(db=3)
    other.set("k3", "v")
    assert events(watcher) == both(b"k3", b"set", db=3)
    other.flushdb()
    other.close()


def test_subscriber_to_one_key(server, r):
    r.config_set("notify-keyspace-events", "K$g")
    c = RespConn(server)
    c.call("SUBSCRIBE", "__keyspace@0__:user:1")
    r.set("user:2", "x")
    r.set("user:1", "x")
    r.delete("user:1")
    assert c.read() == [b"message", b"__keyspace@0__:user:1", b"set"]
    assert c.read() == [b"message", b"__keyspace@0__:user:1", b"del"]
    assert c.try_read() is None
    r.config_set("notify-keyspace-events", "")
    c.close()


def test_invalid_config(r):
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("notify-keyspace-events", "KEQ")
    assert str(e.value) == (
        "CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    )


def test_evicted_event(keel):
    s = keel("--maxmemory-policy", "allkeys-random")
    r = s.client()
    r.config_set("notify-keyspace-events", "Ee")
    c = RespConn(s)
    c.call("SUBSCRIBE", "__keyevent@0__:evicted")
    used = r.info("memory")["used_memory"]
    r.config_set("maxmemory", used + 2 * 1024 * 1024)
    for i in range(200):
        r.set("big:%d" % i, "x" * 50000)
        if r.info("stats")["evicted_keys"]:
            break
    assert r.info("stats")["evicted_keys"] > 0
    m = c.read()
    assert m[:2] == [b"message", b"__keyevent@0__:evicted"]
    assert m[2].startswith(b"big:")
    r.config_set("maxmemory", 0)
    c.close()
    r.close()


def test_new_key_event(server, r):
    """Class "n" (not part of "A"): "new" when a key is created, before the
    command's own event; not when a key is overwritten."""
    r.config_set("notify-keyspace-events", "KEA")
    c = RespConn(server)
    c.call("PSUBSCRIBE", "__key*@*__:*")
    try:
        r.set("fresh", "1")
        assert events(c) == both(b"fresh", b"set")  # "A" leaves "new" out
        r.config_set("notify-keyspace-events", "KEAn")
        r.set("fresh2", "1")
        assert events(c) == both(b"fresh2", b"new") + both(b"fresh2", b"set")
        r.set("fresh2", "2")
        assert events(c) == both(b"fresh2", b"set")
        r.lpush("newlist", "a")
        assert events(c) == both(b"newlist", b"new") + both(b"newlist", b"lpush")
        r.config_set("notify-keyspace-events", "Kn")
        r.hset("newhash", "f", "v")
        assert events(c) == [(ks(b"newhash"), b"new")]
    finally:
        r.config_set("notify-keyspace-events", "")
        c.close()


def test_new_key_event_when_a_target_is_replaced(server, r):
    """RENAME, COPY REPLACE and RESTORE REPLACE delete the target and add a
    new key, so "new" comes even when the target existed."""
    r.mset({"a": "1", "b": "2", "c": "3"})
    payload = r.dump("c")
    r.config_set("notify-keyspace-events", "KEAn")
    c = RespConn(server)
    c.call("PSUBSCRIBE", "__keyevent@*__:*")
    try:
        r.rename("a", "b")
        assert [e for e, _ in events(c)] == [ke(b"new"), ke(b"rename_from"), ke(b"rename_to")]
        r.copy("b", "c", replace=True)
        assert [e for e, _ in events(c)] == [ke(b"new"), ke(b"copy_to")]
        r.restore("c", 0, payload, replace=True)
        assert [e for e, _ in events(c)] == [ke(b"new"), ke(b"restore")]
    finally:
        r.config_set("notify-keyspace-events", "")
        c.close()


def test_a_snapshot_load_sends_no_new_events(keel):
    """Keys a load brings in (DEBUG RELOAD here; a replica's full sync too)
    are not created by a command: no "new" event, as in Redis."""
    server = keel("--enable-debug-command", "yes")
    r = server.client()
    r.set("loaded:a", "1")
    r.rpush("loaded:b", "x")
    r.config_set("notify-keyspace-events", "KEAn")
    c = RespConn(server)
    c.call("PSUBSCRIBE", "__key*@*__:*")
    try:
        assert r.execute_command("DEBUG", "RELOAD") == b"OK"
        assert r.get("loaded:a") == b"1"
        assert [m for m in events(c) if m[1] == b"new" or m[0].endswith(b":new")] == []
        r.set("loaded:c", "1")
        assert events(c) == both(b"loaded:c", b"new") + both(b"loaded:c", b"set")
    finally:
        r.config_set("notify-keyspace-events", "")
        c.close()


def test_keymiss_from_commands_that_read_before_writing(server, r):
    """GETDEL, GETEX, GETSET, SET ... GET and the stream group commands look
    their key up as a read (keymiss, keyspace_misses); XREAD looks every
    stream up twice, once to resolve its ID and once to serve it."""
    c = RespConn(server)
    c.call("SUBSCRIBE", "__keyevent@0__:keymiss")
    r.config_set("notify-keyspace-events", "Em")
    cases = [(("GETDEL", "x"), [b"x"]), (("GETEX", "x"), [b"x"]), (("GETSET", "x", "1"), [b"x"]),
             (("SET", "y", "1", "GET"), [b"y"]), (("XACK", "s", "g", "1-1"), [b"s"]),
             (("XCLAIM", "s", "g", "c", "0", "1-1"), [b"s"]), (("XAUTOCLAIM", "s", "g", "c", "0", "0"), [b"s"]),
             (("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0"), [b"s"]),
             (("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"), [b"s"]),
             (("XREAD", "STREAMS", "s", "t", "0", "0"), [b"s", b"t", b"s", b"t"]),
             (("SETRANGE", "z", "0", "a"), []), (("INCR", "n"), [])]
    try:
        for cmd, keys in cases:
            before = r.info("stats")["keyspace_misses"]
            try:
                r.execute_command(*cmd)
            except redis.ResponseError:
                pass
            got = []
            while True:
                m = c.try_read(0.1)
                if m is None:
                    break
                got.append(m[2])
            assert got == keys, cmd
            assert r.info("stats")["keyspace_misses"] - before == len(keys), cmd
            r.delete("x", "y", "z", "n")
    finally:
        r.config_set("notify-keyspace-events", "")
        c.close()


def test_set_keepttl_is_no_expire_event(r, watcher):
    r.set("t", "1", ex=100)
    assert events(watcher) == both(b"t", b"set") + both(b"t", b"expire")
    r.set("t", "2", keepttl=True)
    assert events(watcher) == both(b"t", b"set")
    assert r.ttl("t") > 0
