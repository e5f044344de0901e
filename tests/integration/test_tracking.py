"""Client-side caching: CLIENT TRACKING in default, BCAST, OPTIN/OPTOUT and
NOLOOP modes, RESP3 invalidation pushes and RESP2 redirection to
__redis__:invalidate, CLIENT CACHING / GETREDIR / TRACKINGINFO, and the
error texts."""
import time

import pytest
import redis

from resp_client import Push, RespConn, RespError


def invalidation(conn, timeout=2):
    m = conn.read(timeout)
    assert isinstance(m, Push), m
    assert m[0] == b"invalidate"
    return m[1]


@pytest.fixture
def t3(server, r):
    """A RESP3 connection with tracking on (default mode)."""
    c = RespConn(server, resp3=True)
    assert c.call("CLIENT", "TRACKING", "ON") == "OK"
    yield c
    c.close()


# ---- default mode ----


def test_default_mode_invalidates_read_keys_once(r, t3):
    r.set("k", "1")
    assert t3.call("GET", "k") == b"1"
    r.set("k", "2")
    assert invalidation(t3) == [b"k"]
    # The key is forgotten after one invalidation until it is read again.
    r.set("k", "3")
    assert t3.try_read() is None
    assert t3.call("GET", "k") == b"3"
    r.delete("k")
    assert invalidation(t3) == [b"k"]


def test_unread_keys_are_not_tracked(r, t3):
    r.set("k", "1")
    # A write does not track; neither does a key never read.
    assert t3.call("SET", "w", "x") == "OK"
    r.set("w", "y")
    r.set("k", "2")
    assert t3.try_read() is None


def test_multi_key_reads_and_missing_keys(r, t3):
    r.mset({"a": "1", "b": "2"})
    assert t3.call("MGET", "a", "b", "c") == [b"1", b"2", None]
    r.mset({"a": "x", "c": "y"})
    got = [invalidation(t3), invalidation(t3)]
    assert sorted(got) == [[b"a"], [b"c"]]
    r.set("b", "z")
    assert invalidation(t3) == [b"b"]
    assert t3.call("EXISTS", "e") == 0
    r.set("e", "1")
    assert invalidation(t3) == [b"e"]


def test_movable_key_reads_are_tracked(r, t3):
    """Keys found by key specs (after a count, after STREAMS) are tracked
    like any other read, as Redis finds them."""
    assert t3.call("ZUNION", "2", "z1", "z2") == []
    assert t3.call("SINTERCARD", "1", "s1") == 0
    assert t3.call("XREAD", "STREAMS", "x1", "0") is None
    assert t3.call("LCS", "l1", "l2") == b""
    for k in ("z2", "s1", "x1", "l2", "z1"):
        r.set(k, "v")
        assert invalidation(t3) == [k.encode()], k
    many = ["m%d" % i for i in range(40)]
    assert t3.call("MGET", *many) == [None] * 40
    r.set("m39", "v")
    assert invalidation(t3) == [b"m39"]


def test_own_write_invalidation_follows_reply(r, t3):
    t3.call("GET", "k")
    # The reply to SET comes first, then the push.
    assert t3.call("SET", "k", "v") == "OK"
    assert invalidation(t3) == [b"k"]


def test_invalidation_inside_exec_comes_after_its_reply(r, t3):
    t3.call("GET", "k")
    assert t3.call("MULTI") == "OK"
    assert t3.call("SET", "k", "1") == "QUEUED"
    assert t3.call("GET", "k") == "QUEUED"
    assert t3.call("EXEC") == ["OK", b"1"]
    assert invalidation(t3) == [b"k"]
    # GET inside EXEC tracked the key again.
    r.set("k", "2")
    assert invalidation(t3) == [b"k"]


def test_expiry_invalidates(r, t3):
    r.set("e", "v", px=50)
    assert t3.call("GET", "e") == b"v"
    time.sleep(0.1)
    # Active expiry or the next lookup removes it; either way an invalidation.
    r.get("e")
    assert invalidation(t3) == [b"e"]


def test_flush_sends_null(r, t3):
    r.set("k", "1")
    t3.call("GET", "k")
    r.flushall()
    assert invalidation(t3) is None
    assert t3.try_read() is None
    # The table was dropped: the old key gives nothing more.
    r.set("k", "2")
    assert t3.try_read() is None


def test_tracking_off_stops_invalidations(r, t3):
    t3.call("GET", "k")
    assert t3.call("CLIENT", "TRACKING", "OFF") == "OK"
    r.set("k", "1")
    assert t3.try_read() is None
    assert t3.call("CLIENT", "GETREDIR") == -1


def test_reset_turns_tracking_off(r, server):
    c = RespConn(server, resp3=True)
    c.call("CLIENT", "TRACKING", "ON")
    c.call("GET", "k")
    assert c.call("RESET") == "RESET"
    assert c.call("CLIENT", "TRACKINGINFO") == [b"flags", [b"off"], b"redirect", -1, b"prefixes", []]
    r.set("k", "1")
    assert c.try_read() is None
    c.close()


def test_noloop(r, server):
    c = RespConn(server, resp3=True)
    assert c.call("CLIENT", "TRACKING", "ON", "NOLOOP") == "OK"
    c.call("GET", "k")
    c.call("SET", "k", "mine")
    assert c.try_read() is None
    c.call("GET", "k")
    r.set("k", "theirs")
    assert invalidation(c) == [b"k"]
    c.close()


# ---- OPTIN / OPTOUT ----


def test_optin(r, server):
    c = RespConn(server, resp3=True)
    assert c.call("CLIENT", "TRACKING", "ON", "OPTIN") == "OK"
    c.call("GET", "a")
    assert c.call("CLIENT", "CACHING", "YES") == "OK"
    c.call("GET", "b")
    # CACHING applies to one command only.
    c.call("GET", "c")
    r.mset({"a": "1", "b": "1", "c": "1"})
    assert invalidation(c) == [b"b"]
    assert c.try_read() is None
    c.close()


def test_optout(r, server):
    c = RespConn(server, resp3=True)
    assert c.call("CLIENT", "TRACKING", "ON", "OPTOUT") == "OK"
    c.call("GET", "a")
    assert c.call("CLIENT", "CACHING", "NO") == "OK"
    c.call("GET", "b")
    c.call("GET", "c")
    r.mset({"a": "1", "b": "1", "c": "1"})
    got = sorted([invalidation(c), invalidation(c)])
    assert got == [[b"a"], [b"c"]]
    assert c.try_read() is None
    c.close()


# ---- BCAST ----


def test_bcast_prefixes(r, server):
    c = RespConn(server, resp3=True)
    assert c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "session:") == "OK"
    # No read needed, and every change is reported (not only the first).
    r.set("user:1", "a")
    assert invalidation(c) == [b"user:1"]
    r.set("user:1", "b")
    assert invalidation(c) == [b"user:1"]
    r.set("session:9", "x")
    assert invalidation(c) == [b"session:9"]
    r.set("other", "x")
    r.set("use", "x")
    assert c.try_read() is None
    info = c.call("CLIENT", "TRACKINGINFO")
    assert info[b"flags"] == [b"on", b"bcast"]
    assert sorted(info[b"prefixes"]) == [b"session:", b"user:"]
    assert r.info("stats")["tracking_total_prefixes"] == 2
    c.close()


def test_bcast_all_keys_and_noloop(r, server):
    c = RespConn(server, resp3=True)
    assert c.call("CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP") == "OK"
    r.set("anything", "1")
    assert invalidation(c) == [b"anything"]
    c.call("SET", "mine", "1")
    assert c.try_read() is None
    assert c.call("CLIENT", "TRACKINGINFO")[b"prefixes"] == [b""]
    c.close()


def test_bcast_batches_per_prefix_and_loop_iteration(r, server):
    """The keys changed in one event-loop iteration reach a prefix's clients
    as one invalidation, each key once, sorted; a key under two prefixes
    goes out under each, and a NOLOOP client's own last changes are left
    out (as Redis does)."""
    c = RespConn(server, resp3=True)
    assert c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "b", "NOLOOP") == "OK"
    d = RespConn(server, resp3=True)
    assert d.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab") == "OK"
    with r.pipeline(transaction=True) as p:
        p.set("abc", 1).set("ax", 1).set("abc", 2).set("b", 1).set("zz", 1)
        p.execute()
    assert invalidation(c) == [b"abc", b"ax"]
    assert invalidation(c) == [b"b"]
    assert c.try_read() is None
    assert invalidation(d) == [b"abc"]
    # c's own MSET is skipped for c but not for d; r's write in between is not.
    c.send("MSET", "abd", "2", "ab", "1")
    assert c.read() == "OK"
    r.set("aa", 1)
    assert invalidation(c) == [b"aa"]
    assert invalidation(d) == [b"ab", b"abd"]
    assert c.try_read() is None and d.try_read() is None
    c.close()
    d.close()


# ---- RESP2 redirection ----


def test_resp2_redirect_to_subscriber(server, r):
    listener = server.client()
    p = listener.pubsub()
    p.subscribe("__redis__:invalidate")
    assert p.get_message(timeout=2)["type"] == "subscribe"
    # The pubsub connection's id: the client whose flags say P.
    lid = [int(x["id"]) for x in r.client_list() if x["flags"] == "P"][0]
    cache = server.client()
    assert cache.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", lid) == b"OK"
    assert cache.execute_command("CLIENT", "GETREDIR") == lid
    cache.get("k")
    r.set("k", "v")
    m = p.get_message(timeout=2)
    assert m["type"] == "message"
    assert m["channel"] == b"__redis__:invalidate"
    assert m["data"] == [b"k"]
    r.flushall()
    m = p.get_message(timeout=2)
    assert m["channel"] == b"__redis__:invalidate"
    assert m["data"] is None
    p.close()
    listener.close()
    cache.close()


def test_resp3_redirect_and_broken_redirect(server, r):
    target = RespConn(server, resp3=True)
    tid = target.call("CLIENT", "ID")
    c = RespConn(server, resp3=True)
    assert c.call("CLIENT", "TRACKING", "ON", "REDIRECT", tid) == "OK"
    c.call("GET", "k")
    r.set("k", "1")
    assert invalidation(target) == [b"k"]
    assert c.try_read() is None
    target.close()
    deadline = time.time() + 5
    while any(int(x["id"]) == tid for x in r.client_list()) and time.time() < deadline:
        time.sleep(0.02)
    c.call("GET", "k")
    r.set("k", "2")
    m = c.read()
    assert isinstance(m, Push) and m == [b"tracking-redir-broken", tid]
    info = c.call("CLIENT", "TRACKINGINFO")
    assert info[b"flags"] == [b"on", b"broken_redirect"]
    assert info[b"redirect"] == tid
    c.close()


# ---- introspection and errors ----


def test_trackinginfo_and_getredir(r):
    assert r.execute_command("CLIENT", "TRACKINGINFO") == [b"flags", [b"off"], b"redirect", -1, b"prefixes", []]
    assert r.execute_command("CLIENT", "GETREDIR") == -1
    r.execute_command("CLIENT", "TRACKING", "ON", "OPTIN", "NOLOOP")
    r.execute_command("CLIENT", "CACHING", "YES")
    assert r.execute_command("CLIENT", "TRACKINGINFO") == [
        b"flags",
        [b"on", b"optin", b"caching-yes", b"noloop"],
        b"redirect",
        0,
        b"prefixes",
        [],
    ]
    assert r.execute_command("CLIENT", "TRACKINGINFO")[1] == [b"on", b"optin", b"noloop"]
    assert r.execute_command("CLIENT", "GETREDIR") == 0
    assert "t" in r.client_info()["flags"]
    assert r.info("clients")["tracking_clients"] >= 1
    r.execute_command("CLIENT", "TRACKING", "OFF")
    r.execute_command("CLIENT", "TRACKING", "ON", "OPTOUT")
    r.execute_command("CLIENT", "CACHING", "NO")
    assert r.execute_command("CLIENT", "TRACKINGINFO")[1] == [b"on", b"optout", b"caching-no"]
    r.execute_command("CLIENT", "TRACKING", "OFF")


def test_info_tracking_counters(server, r):
    a = RespConn(server, resp3=True)
    b = RespConn(server, resp3=True)
    a.call("CLIENT", "TRACKING", "ON")
    b.call("CLIENT", "TRACKING", "ON")
    a.call("MGET", "x", "y")
    b.call("GET", "x")
    stats = r.info("stats")
    assert stats["tracking_total_keys"] == 2
    assert stats["tracking_total_items"] == 3
    assert r.info("clients")["tracking_clients"] == 2
    r.set("x", "1")
    assert invalidation(a) == [b"x"]
    assert invalidation(b) == [b"x"]
    assert r.info("stats")["tracking_total_keys"] == 1
    a.close()
    b.close()
    deadline = time.time() + 5
    while r.info("clients")["tracking_clients"] and time.time() < deadline:
        time.sleep(0.02)
    # With no tracking client left the table is released.
    assert r.info("stats")["tracking_total_keys"] == 0


ERRORS = [
    (["TRACKING"], "wrong number of arguments for 'client|tracking' command"),
    (["TRACKING", "MAYBE"], "syntax error"),
    (["TRACKING", "ON", "FOO"], "syntax error"),
    (["TRACKING", "ON", "REDIRECT"], "syntax error"),
    (["TRACKING", "ON", "REDIRECT", "abc"], "value is not an integer or out of range"),
    (["TRACKING", "ON", "REDIRECT", "999999"], "The client ID you want redirect to does not exist"),
    (["TRACKING", "ON", "PREFIX", "a"], "PREFIX option requires BCAST mode to be enabled"),
    (["TRACKING", "ON", "BCAST", "OPTIN"], "OPTIN and OPTOUT are not compatible with BCAST"),
    (["TRACKING", "ON", "OPTIN", "OPTOUT"], "You can't specify both OPTIN mode and OPTOUT mode"),
    (
        ["TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab"],
        "Prefix 'a' overlaps with another provided prefix 'ab'. Prefixes for a single client must not overlap.",
    ),
    (
        ["CACHING", "YES"],
        "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
    ),
    (["CACHING"], "wrong number of arguments for 'client|caching' command"),
    (["GETREDIR", "x"], "wrong number of arguments for 'client|getredir' command"),
    (["TRACKINGINFO", "x"], "wrong number of arguments for 'client|trackinginfo' command"),
]


@pytest.mark.parametrize("args,msg", ERRORS)
def test_errors(r, args, msg):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CLIENT", *args)
    assert str(e.value) == msg
    assert r.execute_command("CLIENT", "TRACKINGINFO")[1] == [b"off"]


def test_mode_switch_errors(server, r):
    c = RespConn(server)
    me = c.call("CLIENT", "ID")
    err = c.call("CLIENT", "TRACKING", "ON", "REDIRECT", me, "REDIRECT", me)
    assert str(err) == "ERR A client can only redirect to a single other client"
    assert c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab") == "OK"
    err = c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a")
    assert str(err) == (
        "ERR Prefix 'a' overlaps with an existing prefix 'ab'. Prefixes for a single client must not overlap."
    )
    err = c.call("CLIENT", "TRACKING", "ON")
    assert isinstance(err, RespError)
    assert str(err) == (
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
        "and then re-enabling it with a different mode."
    )
    # More prefixes can be added while on.
    assert c.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x") == "OK"
    assert sorted(c.call("CLIENT", "TRACKINGINFO")[5]) == [b"ab", b"x"]
    assert c.call("CLIENT", "TRACKING", "OFF") == "OK"
    assert c.call("CLIENT", "TRACKING", "ON", "OPTIN") == "OK"
    err = c.call("CLIENT", "TRACKING", "ON", "OPTOUT")
    assert str(err) == (
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
        "and then re-enabling it with a different mode."
    )
    assert str(c.call("CLIENT", "CACHING", "NO")) == (
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
    )
    assert str(c.call("CLIENT", "CACHING", "MAYBE")) == "ERR syntax error"
    c.call("CLIENT", "TRACKING", "OFF")
    c.call("CLIENT", "TRACKING", "ON", "OPTOUT")
    assert str(c.call("CLIENT", "CACHING", "YES")) == (
        "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
    )
    c.close()


def test_resp2_without_redirect_gets_nothing(r, server):
    # A RESP2 connection cannot take pushes: nothing is written to it.
    c = RespConn(server)
    assert c.call("CLIENT", "TRACKING", "ON") == "OK"
    c.call("GET", "k")
    r.set("k", "1")
    assert c.try_read() is None
    assert c.call("PING") == "PONG"
    c.close()


# ---- table bound and CLIENT LIST ----


def test_tracking_table_max_keys_invalidates_early(server, r, t3):
    r.config_set("tracking-table-max-keys", 10)
    try:
        early = []
        for i in range(30):
            r.set("tk:%d" % i, i)
            t3.sock.sendall(b"GET tk:%d\r\n" % i)
            while True:  # the reply, with any pushes around it
                m = t3.read()
                if isinstance(m, Push):
                    early += m[1]
                else:
                    assert m == b"%d" % i
                    break
        while True:
            m = t3.try_read()
            if m is None:
                break
            early += m[1]
        # The table holds at most 10 keys: the rest were invalidated early,
        # without any write to them.
        assert len(early) >= 20
        assert r.config_get("tracking-table-max-keys") == {"tracking-table-max-keys": "10"}
    finally:
        r.config_set("tracking-table-max-keys", 1000000)


def test_lowered_max_keys_applies_before_the_next_command(server, r, t3):
    """As Redis (its #11715): the table is brought within the limit before
    each command, queued ones too, not only by the cron (paused here), so
    the invalidation comes before QUEUED."""
    assert t3.call("MGET", "a", "b") == [None, None]
    assert t3.call("MULTI") == "OK"
    r.execute_command("DEBUG", "PAUSE-CRON", "1")
    try:
        r.config_set("tracking-table-max-keys", 1)
        t3.sock.sendall(b"PING\r\n")
        m = t3.read()
        assert isinstance(m, Push) and m[0] == b"invalidate" and m[1] in ([b"a"], [b"b"]), m
        assert t3.read() == "QUEUED"
        assert t3.call("EXEC") == ["PONG"]
    finally:
        r.config_set("tracking-table-max-keys", 1000000)
        r.execute_command("DEBUG", "PAUSE-CRON", "0")


def test_client_list_shows_redirect(server, r):
    target = server.client()
    tid = target.client_id()
    c = server.client()
    c.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", tid)
    line = c.execute_command("CLIENT", "INFO").decode()
    assert " redir=%d " % tid in line
    c.execute_command("CLIENT", "TRACKING", "OFF")
    assert " redir=-1 " in c.execute_command("CLIENT", "INFO").decode()
