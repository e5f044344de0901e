"""MIGRATE between Keel and Debian's redis-server (both ways) and between
two Keels, and the cluster commands of a standalone server."""
import socket
import threading
import time

import pytest
import redis

from conftest import err, free_port


def port_of(client):
    return client.connection_pool.connection_kwargs["port"]


def fill_every_type(c):
    c.set("s", "hello")
    c.set("n", 12345)
    c.rpush("l", *[b"item%d" % i for i in range(300)])
    c.hset("h", mapping={"f%d" % i: "v%d" % i for i in range(50)})
    c.sadd("set", *range(100))
    c.zadd("z", {"m%d" % i: i / 3 for i in range(200)})
    c.xadd("x", {"a": "1"}, id="1-1")
    c.xadd("x", {"b": "2"}, id="2-1")
    c.set("ttl", "v", px=60000)


def snapshot(c, names):
    """Each key's value in a server-neutral form."""
    out = {}
    for k in names:
        t = c.type(k)
        if t == b"string":
            out[k] = c.get(k)
        elif t == b"list":
            out[k] = c.lrange(k, 0, -1)
        elif t == b"hash":
            out[k] = c.hgetall(k)
        elif t == b"set":
            out[k] = sorted(c.smembers(k))
        elif t == b"zset":
            out[k] = c.zrange(k, 0, -1, withscores=True)
        elif t == b"stream":
            out[k] = c.xrange(k)
        else:
            out[k] = None
    return out


NAMES = ["s", "n", "l", "h", "set", "z", "x", "ttl"]


def test_keel_to_redis_every_type(r, redis_ref):
    redis_ref.flushall()
    fill_every_type(r)
    want = snapshot(r, NAMES)
    port = port_of(redis_ref)
    assert r.execute_command("MIGRATE", "127.0.0.1", port, "s", 0, 5000) == b"OK"
    assert r.execute_command("MIGRATE", "127.0.0.1", port, "", 3, 5000, "KEYS", *NAMES[1:], "missing") == b"OK"
    assert r.dbsize() == 0
    assert redis_ref.get("s") == b"hello"
    ref3 = redis.Redis(port=port, db=3)
    got = snapshot(ref3, NAMES[1:])
    got["s"] = redis_ref.get("s")
    assert got == want
    assert 0 < ref3.pttl("ttl") <= 60000
    assert ref3.pttl("l") == -1


def test_redis_to_keel_every_type(r, redis_ref):
    redis_ref.flushall()
    fill_every_type(redis_ref)
    want = snapshot(redis_ref, NAMES)
    port = port_of(r)
    # Redis's MIGRATE talks to Keel: AUTH-less, SELECT, RESTORE.
    assert redis_ref.execute_command("MIGRATE", "127.0.0.1", port, "", 2, 5000, "COPY", "KEYS", *NAMES) == b"OK"
    assert redis_ref.dbsize() == len(NAMES)
    k2 = redis.Redis(port=port, db=2)
    assert snapshot(k2, NAMES) == want
    assert 0 < k2.pttl("ttl") <= 60000
    # Again without COPY and REPLACE: the keys exist there now.
    assert err(redis_ref.execute_command, "MIGRATE", "127.0.0.1", port, "s", 2, 5000) == \
        "Target instance replied with error: BUSYKEY Target key name already exists."
    assert redis_ref.execute_command("MIGRATE", "127.0.0.1", port, "s", 2, 5000, "REPLACE") == b"OK"
    assert redis_ref.exists("s") == 0


@pytest.fixture
def pair(keel):
    src, dst = keel(), keel()
    a, b = src.client(), dst.client()
    yield src, dst, a, b
    a.close()
    b.close()


def test_copy_replace_and_busykey(pair):
    src, dst, a, b = pair
    a.set("k", "one")
    assert a.execute_command("MIGRATE", "127.0.0.1", dst.port, "k", 0, 1000, "COPY") == b"OK"
    assert a.get("k") == b"one" and b.get("k") == b"one"
    a.set("k", "two")
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "k", 0, 1000) == \
        "Target instance replied with error: BUSYKEY Target key name already exists."
    assert a.get("k") == b"two" and b.get("k") == b"one"
    assert a.execute_command("MIGRATE", "127.0.0.1", dst.port, "k", 0, 1000, "REPLACE") == b"OK"
    assert a.exists("k") == 0 and b.get("k") == b"two"


def test_one_failed_restore_keeps_only_that_key(pair):
    src, dst, a, b = pair
    a.mset({"k1": "a", "k2": "b", "k3": "c"})
    b.set("k2", "taken")
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "", 0, 1000, "KEYS", "k1", "k2", "k3") == \
        "Target instance replied with error: BUSYKEY Target key name already exists."
    # As in Redis: the keys the target took are deleted here, the other stays.
    assert a.keys("*") == [b"k2"]
    assert b.mget("k1", "k2", "k3") == [b"a", b"taken", b"c"]


def test_nokey_and_argument_errors(pair):
    src, dst, a, b = pair
    assert a.execute_command("MIGRATE", "127.0.0.1", dst.port, "nope", 0, 1000) == b"NOKEY"
    assert a.execute_command("MIGRATE", "127.0.0.1", dst.port, "", 0, 1000, "KEYS", "x", "y") == b"NOKEY"
    a.set("k", "v")
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "k", 0, 1000, "KEYS", "k") == \
        "When using MIGRATE KEYS option, the key argument must be set to the empty string"
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "k", "db", 1000) == \
        "value is not an integer or out of range"
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "k", 0, "soon") == \
        "value is not an integer or out of range"
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "k", 0, 1000, "FAST") == "syntax error"
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "k", 0, 1000, "AUTH") == "syntax error"
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "k", 0) == \
        "wrong number of arguments for 'migrate' command"
    # Out of range database: the target's SELECT refuses it, the key stays.
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "k", 99, 1000) == \
        "Target instance replied with error: ERR DB index is out of range"
    assert a.get("k") == b"v"
    # A refused connection shows as a failed write, as in Redis; a host that
    # cannot be resolved fails the connection itself.
    closed = free_port()
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", closed, "k", 0, 1000) == \
        "IOERR error or timeout writing to target instance"
    assert err(a.execute_command, "MIGRATE", "no-such-host.invalid", 6379, "k", 0, 1000) == \
        "IOERR error or timeout connecting to the client"
    assert a.get("k") == b"v"


def test_auth_and_auth2(keel):
    src = keel()
    dst = keel("--requirepass", "sekret")
    a = src.client()
    b = dst.client(password="sekret")
    b.execute_command("ACL", "SETUSER", "mover", "on", ">pw", "~*", "+@all")
    a.mset({"k1": "1", "k2": "2", "k3": "3"})
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "k1", 0, 1000) == \
        "Target instance replied with error: NOAUTH Authentication required."
    assert err(a.execute_command, "MIGRATE", "127.0.0.1", dst.port, "k1", 0, 1000, "AUTH", "wrong") == \
        "Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled."
    assert a.exists("k1") == 1
    assert a.execute_command("MIGRATE", "127.0.0.1", dst.port, "k1", 0, 1000, "AUTH", "sekret") == b"OK"
    assert a.execute_command("MIGRATE", "127.0.0.1", dst.port, "", 0, 1000, "AUTH2", "mover", "pw",
                             "KEYS", "k2", "k3") == b"OK"
    assert a.dbsize() == 0 and b.mget("k1", "k2", "k3") == [b"1", b"2", b"3"]


def test_connection_is_cached_and_reopened(pair):
    src, dst, a, b = pair
    for i in range(5):
        a.set("k%d" % i, i)
    assert a.info("stats")["migrate_cached_sockets"] == 0
    assert a.execute_command("MIGRATE", "127.0.0.1", dst.port, "k0", 0, 1000) == b"OK"
    assert a.execute_command("MIGRATE", "127.0.0.1", dst.port, "k1", 0, 1000) == b"OK"
    assert a.info("stats")["migrate_cached_sockets"] == 1
    # One connection from the source did both (plus this client's own).
    clients = b.client_list()
    assert len(clients) == 2
    mover = [c for c in clients if c["cmd"] == "restore"]
    assert len(mover) == 1
    # Its database is remembered: a move to db 0 again sends no SELECT,
    # a move to db 1 does.
    assert b.info("commandstats").get("cmdstat_select", {}).get("calls", 0) == 1
    assert a.execute_command("MIGRATE", "127.0.0.1", dst.port, "k2", 1, 1000) == b"OK"
    assert b.info("commandstats")["cmdstat_select"]["calls"] == 2
    # The target drops the connection: the next MIGRATE opens a new one.
    b.client_kill_filter(_id=mover[0]["id"])
    assert a.execute_command("MIGRATE", "127.0.0.1", dst.port, "k3", 0, 1000) == b"OK"
    assert b.get("k3") == b"3" and a.exists("k3") == 0
    assert redis.Redis(port=dst.port, db=1).get("k2") == b"2"


def test_silent_target_times_out_and_keeps_the_key(r):
    """A target that accepts but never answers: IOERR after the timeout,
    and the key is still here."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    port = lsock.getsockname()[1]
    accepted = []
    t = threading.Thread(target=lambda: accepted.append(lsock.accept()), daemon=True)
    t.start()
    try:
        r.set("k", "v")
        t0 = time.time()
        assert err(r.execute_command, "MIGRATE", "127.0.0.1", port, "k", 0, 200) == \
            "IOERR error or timeout reading to target instance"
        assert time.time() - t0 < 5
        assert r.get("k") == b"v"
    finally:
        for conn, _ in accepted:
            conn.close()
        lsock.close()


def test_propagates_del_of_the_moved_keys(server, r, plog, keel):
    dst = keel()
    r.mset({"k1": "1", "k2": "2"})
    plog()
    assert r.execute_command("MIGRATE", "127.0.0.1", dst.port, "", 0, 1000, "COPY", "KEYS", "k1", "k2") == b"OK"
    assert plog() == []
    assert r.execute_command("MIGRATE", "127.0.0.1", dst.port, "", 0, 1000, "REPLACE", "KEYS", "k1", "k2") == b"OK"
    log = plog()
    assert ["0", "DEL", "k1"] in log and ["0", "DEL", "k2"] in log
    assert not any("MIGRATE" in e for e in log)


def test_acl_checks_every_key(pair):
    src, dst, a, b = pair
    a.execute_command("ACL", "SETUSER", "u", "on", ">p", "~ok:*", "+migrate", "+set")
    u = src.client(username="u", password="p")
    u.set("ok:1", "x")
    a.set("secret", "y")
    noperm = "this user has no permissions to access one of the keys used as arguments"
    for args in (["secret", 0, 1000], ["", 0, 1000, "KEYS", "ok:1", "secret"]):
        with pytest.raises(redis.exceptions.NoPermissionError) as e:
            u.execute_command("MIGRATE", "127.0.0.1", dst.port, *args)
        assert str(e.value) == noperm
    assert u.execute_command("MIGRATE", "127.0.0.1", dst.port, "", 0, 1000, "KEYS", "ok:1") == b"OK"
    assert a.exists("secret") == 1 and b.get("ok:1") == b"x"
    assert a.command_getkeys("MIGRATE", "h", "1", "", "0", "10", "AUTH2", "keys", "p", "KEYS", "a", "b") == \
        ["a", "b"]


@pytest.mark.parametrize("cmd", [["CLUSTER", "INFO"], ["CLUSTER", "SLOTS"], ["CLUSTER", "HELP"], ["READONLY"],
                                 ["READWRITE"], ["ASKING"]])
def test_cluster_commands_say_cluster_is_disabled(r, redis_ref, cmd):
    want = "This instance has cluster support disabled"
    assert err(redis_ref.execute_command, *cmd) == want
    assert err(r.execute_command, *cmd) == want


def test_info_has_cluster_and_modules_sections(r, redis_ref):
    assert r.info("cluster") == redis_ref.info("cluster") == {"cluster_enabled": 0}
    for c in (r, redis_ref):
        with socket.create_connection(("127.0.0.1", port_of(c)), timeout=5) as sock:
            sock.sendall(b"INFO\r\n")
            f = sock.makefile("rb")
            n = int(f.readline()[1:])
            text = f.read(n).decode()
        assert "# Modules\r\n" in text and "# Cluster\r\ncluster_enabled:0\r\n" in text
        assert text.index("# Cluster") < text.index("# Keyspace")
