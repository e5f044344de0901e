"""Pub/Sub: channels, patterns, shard channels, RESP2 subscribed mode and
RESP3 pushes, PUBSUB introspection, output-buffer limits for slow
subscribers, and hostile input."""
import time

import pytest
import redis

from resp_client import Push, RespConn, RespError


def wait_messages(p, n, timeout=5):
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if m:
            out.append(m)
    return out


def info_field(r, section, name):
    return r.info(section)[name]


# ---- the seed scenario ----


def test_notification_fanout(server, r):
    user = server.client()
    users = server.client()
    p1 = user.pubsub()
    p1.subscribe("notifications:users:123", "notifications:system")
    p2 = users.pubsub()
    p2.psubscribe("notifications:users:*")
    # Confirmations carry the running subscription count.
    confirms = [p1.get_message(timeout=2) for _ in range(2)] + [p2.get_message(timeout=2)]
    assert [(m["type"], m["channel"], m["data"]) for m in confirms] == [
        ("subscribe", b"notifications:users:123", 1),
        ("subscribe", b"notifications:system", 2),
        ("psubscribe", b"notifications:users:*", 1),
    ]

    assert r.publish("notifications:users:123", "you have mail") == 2
    assert r.publish("notifications:system", "maintenance at 2am") == 1
    assert r.publish("notifications:users:456", "not for 123") == 1
    assert r.publish("notifications:other", "nobody") == 0

    got1 = wait_messages(p1, 2)
    assert [(m["type"], m["channel"], m["data"]) for m in got1] == [
        ("message", b"notifications:users:123", b"you have mail"),
        ("message", b"notifications:system", b"maintenance at 2am"),
    ]
    got2 = wait_messages(p2, 2)
    assert [(m["type"], m["pattern"], m["channel"], m["data"]) for m in got2] == [
        ("pmessage", b"notifications:users:*", b"notifications:users:123", b"you have mail"),
        ("pmessage", b"notifications:users:*", b"notifications:users:456", b"not for 123"),
    ]
    assert p1.get_message(timeout=0.2) is None
    assert p2.get_message(timeout=0.2) is None
    p1.close()
    p2.close()
    user.close()
    users.close()


def test_channel_and_matching_pattern_count_twice(server, r):
    c = RespConn(server)
    c.call("SUBSCRIBE", "news")
    assert c.call("PSUBSCRIBE", "n*") == [b"psubscribe", b"n*", 2]
    assert r.publish("news", "hi") == 2
    assert c.read() == [b"message", b"news", b"hi"]
    assert c.read() == [b"pmessage", b"n*", b"news", b"hi"]
    c.close()


def test_empty_channel_matches_no_pattern(server, r):
    """Redis's matcher never matches an empty name with a non-empty
    pattern, "*" included: PUBLISH "" reaches only its channel's
    subscribers, and PUBSUB CHANNELS * leaves "" out."""
    c = RespConn(server)
    c.call("PSUBSCRIBE", "*")
    c.call("SUBSCRIBE", "")
    assert r.publish("", "x") == 1
    assert c.read() == [b"message", b"", b"x"]
    assert r.publish("a", "y") == 1
    assert c.read() == [b"pmessage", b"*", b"a", b"y"]
    assert r.execute_command("PUBSUB", "CHANNELS", "*") == []
    assert r.execute_command("PUBSUB", "CHANNELS") == [b""]
    c.close()


# ---- confirmations and unsubscribe paths (RESP2 wire format) ----


def test_unsubscribe_paths(server, r):
    c = RespConn(server)
    c.send("SUBSCRIBE", "a", "b")
    assert c.read() == [b"subscribe", b"a", 1]
    assert c.read() == [b"subscribe", b"b", 2]
    # Subscribing twice to one channel changes nothing.
    assert c.call("SUBSCRIBE", "a") == [b"subscribe", b"a", 2]
    assert c.call("PSUBSCRIBE", "p*") == [b"psubscribe", b"p*", 3]
    assert r.pubsub_numsub("a", "b") == [(b"a", 1), (b"b", 1)]

    assert c.call("UNSUBSCRIBE", "a") == [b"unsubscribe", b"a", 2]
    # A channel the client does not have: confirmed with the same count.
    assert c.call("UNSUBSCRIBE", "zzz") == [b"unsubscribe", b"zzz", 2]
    # No arguments: every channel, one reply each (patterns stay).
    assert c.call("UNSUBSCRIBE") == [b"unsubscribe", b"b", 1]
    assert c.call("PUNSUBSCRIBE") == [b"punsubscribe", b"p*", 0]
    # None left: one reply with a nil name and count 0.
    assert c.call("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
    assert c.call("PUNSUBSCRIBE") == [b"punsubscribe", None, 0]
    assert c.call("SUNSUBSCRIBE") == [b"sunsubscribe", None, 0]
    # Out of subscribed mode: ordinary commands work again.
    assert c.call("SET", "k", "v") == "OK"
    assert r.pubsub_numsub("a", "b") == [(b"a", 0), (b"b", 0)]
    assert r.pubsub_numpat() == 0
    c.close()


def test_unsubscribe_all_several(server, r):
    c = RespConn(server)
    names = [b"c%d" % i for i in range(5)]
    c.send("SUBSCRIBE", *names)
    for i, n in enumerate(names):
        assert c.read() == [b"subscribe", n, i + 1]
    c.send("UNSUBSCRIBE")
    replies = [c.read() for _ in names]
    assert sorted(x[1] for x in replies) == names
    assert [x[2] for x in replies] == [4, 3, 2, 1, 0]
    assert c.call("PING") == "PONG"
    c.close()


def test_subscribed_mode_restrictions(server, r):
    c = RespConn(server)
    c.call("SUBSCRIBE", "x")
    err = c.call("GET", "k")
    assert isinstance(err, RespError)
    assert str(err) == (
        "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context"
    )
    assert c.call("PING") == [b"pong", b""]
    assert c.call("PING", "hey") == [b"pong", b"hey"]
    assert c.call("PSUBSCRIBE", "y*") == [b"psubscribe", b"y*", 2]
    # RESET leaves subscribed mode and drops every subscription.
    assert c.call("RESET") == "RESET"
    assert c.call("GET", "k") is None
    assert r.pubsub_numsub("x") == [(b"x", 0)]
    assert r.pubsub_numpat() == 0
    assert r.publish("x", "m") == 0
    c.close()


def test_disconnect_drops_subscriptions(server, r):
    c = RespConn(server)
    c.call("SUBSCRIBE", "gone")
    c.call("PSUBSCRIBE", "gone*")
    c.call("SSUBSCRIBE", "sgone")
    assert r.publish("gone", "x") == 2
    c.close()
    deadline = time.time() + 5
    while r.pubsub_numsub("gone")[0][1] and time.time() < deadline:
        time.sleep(0.02)
    assert r.pubsub_numsub("gone") == [(b"gone", 0)]
    assert r.pubsub_numpat() == 0
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "sgone") == [b"sgone", 0]
    assert r.publish("gone", "x") == 0


def test_many_subscribers_one_channel(server, r):
    conns = [RespConn(server) for _ in range(40)]
    for c in conns:
        assert c.call("SUBSCRIBE", "crowd") == [b"subscribe", b"crowd", 1]
    assert r.publish("crowd", "all") == 40
    for c in conns:
        assert c.read() == [b"message", b"crowd", b"all"]
    for c in conns[:15]:
        c.call("UNSUBSCRIBE", "crowd")
    assert r.publish("crowd", "rest") == 25
    for c in conns[15:]:
        assert c.read() == [b"message", b"crowd", b"rest"]
    for c in conns:
        c.close()


# ---- shard channels ----


def test_shard_channels(server, r):
    c = RespConn(server)
    c.send("SSUBSCRIBE", "s1", "s2")
    assert c.read() == [b"ssubscribe", b"s1", 1]
    assert c.read() == [b"ssubscribe", b"s2", 2]
    # Shard subscriptions are counted apart from channels and patterns.
    assert c.call("SUBSCRIBE", "s1") == [b"subscribe", b"s1", 1]
    assert r.execute_command("SPUBLISH", "s1", "hello") == 1
    assert c.read() == [b"smessage", b"s1", b"hello"]
    # PUBLISH reaches the ordinary subscription only.
    assert r.publish("s1", "plain") == 1
    assert c.read() == [b"message", b"s1", b"plain"]
    assert r.execute_command("SPUBLISH", "nobody", "x") == 0
    assert sorted(r.execute_command("PUBSUB", "SHARDCHANNELS")) == [b"s1", b"s2"]
    assert r.execute_command("PUBSUB", "SHARDCHANNELS", "*2") == [b"s2"]
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "s1", "nope") == [b"s1", 1, b"nope", 0]
    assert r.execute_command("PUBSUB", "CHANNELS") == [b"s1"]
    assert c.call("SUNSUBSCRIBE", "s1") == [b"sunsubscribe", b"s1", 1]
    assert c.call("SUNSUBSCRIBE") == [b"sunsubscribe", b"s2", 0]
    # Still subscribed to the ordinary channel: still in subscribed mode.
    assert isinstance(c.call("GET", "k"), RespError)
    assert r.execute_command("PUBSUB", "SHARDCHANNELS") == []
    c.close()


# ---- PUBSUB introspection ----


def test_pubsub_introspection(server, r):
    c = RespConn(server)
    c.send("SUBSCRIBE", "news.tech", "news.art", "sport")
    for _ in range(3):
        c.read()
    c.call("PSUBSCRIBE", "news.*")
    d = RespConn(server)
    d.call("PSUBSCRIBE", "news.*")
    d.call("PSUBSCRIBE", "other?")
    d.call("SUBSCRIBE", "sport")
    assert sorted(r.pubsub_channels()) == [b"news.art", b"news.tech", b"sport"]
    assert sorted(r.pubsub_channels("news.*")) == [b"news.art", b"news.tech"]
    assert r.pubsub_channels("nomatch*") == []
    assert r.pubsub_numsub("sport", "news.art", "none") == [(b"sport", 2), (b"news.art", 1), (b"none", 0)]
    assert r.execute_command("PUBSUB", "NUMSUB") == []
    # NUMPAT counts distinct patterns.
    assert r.pubsub_numpat() == 2
    stats = r.info("stats")
    assert stats["pubsub_channels"] == 3
    assert stats["pubsub_patterns"] == 2
    assert stats["pubsubshard_channels"] == 0
    assert r.info("clients")["pubsub_clients"] == 2
    # CLIENT LIST shows per-client counts and the P flag.
    lines = {int(x["id"]): x for x in r.client_list()}
    ids = sorted(i for i, x in lines.items() if x["flags"] == "P")
    assert len(ids) == 2
    subs = sorted((int(lines[i]["sub"]), int(lines[i]["psub"]), int(lines[i]["ssub"])) for i in ids)
    assert subs == [(1, 2, 0), (3, 1, 0)]
    assert len(r.client_list(_type="pubsub")) == 2
    c.close()
    d.close()


def test_pubsub_errors(r):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PUBSUB", "FOO")
    assert str(e.value) == "unknown subcommand 'FOO'. Try PUBSUB HELP."
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PUBSUB", "NUMPAT", "x")
    assert str(e.value) == "wrong number of arguments for 'pubsub|numpat' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PUBSUB", "CHANNELS", "a", "b")
    assert str(e.value) == "unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PUBSUB")
    assert str(e.value) == "wrong number of arguments for 'pubsub' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PUBLISH", "ch")
    assert str(e.value) == "wrong number of arguments for 'publish' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SUBSCRIBE")
    assert str(e.value) == "wrong number of arguments for 'subscribe' command"
    help_lines = r.execute_command("PUBSUB", "HELP")
    assert help_lines[0].startswith(b"PUBSUB <subcommand>")
    assert any(x.startswith(b"NUMSUB") for x in help_lines)


# ---- RESP3 ----


def test_resp3_push_interleaved_with_commands(server, r):
    c = RespConn(server, resp3=True)
    sub = c.call("SUBSCRIBE", "live")
    assert isinstance(sub, Push) and sub == [b"subscribe", b"live", 1]
    # RESP3 clients keep running ordinary commands while subscribed.
    assert c.call("SET", "k", "v") == "OK"
    assert r.publish("live", "m1") == 1
    # The push arrives before the reply to the next command.
    c.send("GET", "k")
    first = c.read()
    assert isinstance(first, Push) and first == [b"message", b"live", b"m1"]
    assert c.read() == b"v"
    assert r.publish("live", "m2") == 1
    msg = c.read()
    assert isinstance(msg, Push) and msg == [b"message", b"live", b"m2"]
    # PING keeps its ordinary RESP3 shape.
    assert c.call("PING") == "PONG"
    # Publishing to itself: the reply comes first, then the push.
    assert c.call("PUBLISH", "live", "self") == 1
    assert c.read() == [b"message", b"live", b"self"]
    c.send("PSUBSCRIBE", "li*")
    assert c.read() == [b"psubscribe", b"li*", 2]
    assert c.call("PUBLISH", "live", "both") == 2
    pushes = [c.read(), c.read()]
    assert all(isinstance(p, Push) for p in pushes)
    assert sorted(pushes) == [[b"message", b"live", b"both"], [b"pmessage", b"li*", b"live", b"both"]]
    unsub = c.call("UNSUBSCRIBE")
    assert isinstance(unsub, Push) and unsub == [b"unsubscribe", b"live", 1]
    assert c.call("PUNSUBSCRIBE") == [b"punsubscribe", b"li*", 0]
    nil = c.call("UNSUBSCRIBE")
    assert nil == [b"unsubscribe", None, 0]
    assert c.try_read() is None
    c.close()


def test_resp3_publish_to_self_inside_multi(server):
    c = RespConn(server, resp3=True)
    c.call("SUBSCRIBE", "foo")
    assert c.call("MULTI") == "OK"
    assert c.call("PING", "abc") == "QUEUED"
    assert c.call("PUBLISH", "foo", "bar") == "QUEUED"
    assert c.call("PUBLISH", "foo", "vaz") == "QUEUED"
    assert c.call("PING", "def") == "QUEUED"
    # The pushes never land inside EXEC's array: they follow it, in order.
    assert c.call("EXEC") == [b"abc", 1, 1, b"def"]
    assert c.read() == [b"message", b"foo", b"bar"]
    assert c.read() == [b"message", b"foo", b"vaz"]
    assert c.try_read() is None
    c.close()


def test_resp2_subscribed_client_gets_messages_from_exec(server, r):
    c = RespConn(server)
    c.call("SUBSCRIBE", "tx")
    pipe = r.pipeline(transaction=True)
    pipe.publish("tx", "one")
    pipe.publish("tx", "two")
    assert pipe.execute() == [1, 1]
    assert c.read() == [b"message", b"tx", b"one"]
    assert c.read() == [b"message", b"tx", b"two"]
    c.close()


# ---- slow subscribers and output-buffer limits ----


def test_slow_subscriber_hard_limit(keel):
    s = keel("--client-output-buffer-limit", "pubsub 1mb 0 0")
    r = s.client()
    slow = RespConn(s, rcvbuf=4096)
    assert slow.call("SUBSCRIBE", "firehose") == [b"subscribe", b"firehose", 1]
    fast = RespConn(s)
    assert fast.call("SUBSCRIBE", "firehose") == [b"subscribe", b"firehose", 1]
    payload = b"x" * (128 * 1024)
    base_mem = info_field(r, "memory", "used_memory")
    sent = 0
    receivers = []
    # The slow client never reads; with 1 MB allowed it must be gone well
    # before 40 MB have been published.
    for i in range(320):
        n = r.publish("firehose", payload + b"%d" % i)
        receivers.append(n)
        sent += 1
        assert fast.read() == [b"message", b"firehose", payload + b"%d" % i]
        if n == 1:
            break
    assert receivers[-1] == 1, "slow subscriber was never dropped"
    assert sent < 100
    assert receivers[:-1] == [2] * (len(receivers) - 1)
    assert info_field(r, "stats", "client_output_buffer_limit_disconnections") == 1
    # Memory stays bounded: at most a few buffers' worth above the start.
    assert info_field(r, "memory", "used_memory") < base_mem + 8 * 1024 * 1024
    # The fast subscriber keeps receiving afterwards.
    for i in range(20):
        assert r.publish("firehose", b"after%d" % i) == 1
        assert fast.read() == [b"message", b"firehose", b"after%d" % i]
    assert r.pubsub_numsub("firehose") == [(b"firehose", 1)]
    # The dropped connection is really closed.
    slow.sock.settimeout(5)
    with pytest.raises((ConnectionError, OSError)):
        while True:
            if not slow.sock.recv(1 << 20):
                raise ConnectionError("closed")
    assert "overcoming of output buffer limits" in s.log_text()
    slow.close()
    fast.close()
    r.close()


def slow_omem(r):
    for c in r.client_list(_type="pubsub"):
        return int(c["omem"])
    return 0


def test_slow_subscriber_soft_limit(keel):
    s = keel("--client-output-buffer-limit", "pubsub 0 256kb 1")
    r = s.client()
    slow = RespConn(s, rcvbuf=4096)
    slow.call("SUBSCRIBE", "trickle")
    payload = b"y" * (64 * 1024)
    # Fill until the server holds more than the soft limit for it (the
    # kernel's socket buffers take the first part).
    for _ in range(400):
        r.publish("trickle", payload)
        if slow_omem(r) > 256 * 1024:
            break
    assert slow_omem(r) > 256 * 1024
    # Over the soft limit but with no hard limit: kept for a while...
    assert r.pubsub_numsub("trickle") == [(b"trickle", 1)]
    # ...and dropped once it has stayed over it for soft-seconds.
    deadline = time.time() + 5
    while r.pubsub_numsub("trickle")[0][1] and time.time() < deadline:
        time.sleep(0.1)
    assert r.pubsub_numsub("trickle") == [(b"trickle", 0)]
    assert info_field(r, "stats", "client_output_buffer_limit_disconnections") == 1
    slow.close()
    r.close()


def test_reading_subscriber_is_not_dropped(keel):
    s = keel("--client-output-buffer-limit", "pubsub 512kb 0 0")
    r = s.client()
    sub = RespConn(s)
    sub.call("SUBSCRIBE", "ok")
    # 8 MB through a 512 KB limit: fine as long as the subscriber keeps up.
    for i in range(128):
        assert r.publish("ok", b"z" * 65536) == 1
        assert sub.read() == [b"message", b"ok", b"z" * 65536]
    assert info_field(r, "stats", "client_output_buffer_limit_disconnections") == 0
    sub.close()
    r.close()


# ---- hostile and odd input ----


def test_thousands_of_channels(server, r):
    c = RespConn(server)
    names = [b"ch:%d" % i for i in range(5000)]
    c.send("SUBSCRIBE", *names)
    for i, n in enumerate(names):
        assert c.read() == [b"subscribe", n, i + 1]
    assert len(r.pubsub_channels("ch:*")) == 5000
    assert r.publish("ch:4999", "last") == 1
    assert c.read() == [b"message", b"ch:4999", b"last"]
    c.send("UNSUBSCRIBE")
    counts = [c.read()[2] for _ in names]
    assert counts == list(range(4999, -1, -1))
    assert r.pubsub_channels("ch:*") == []
    c.close()


def test_empty_channel_and_binary_names(server, r):
    c = RespConn(server)
    assert c.call("SUBSCRIBE", "") == [b"subscribe", b"", 1]
    assert c.call("SUBSCRIBE", b"bin\x00\r\n") == [b"subscribe", b"bin\x00\r\n", 2]
    assert r.publish("", "empty") == 1
    assert c.read() == [b"message", b"", b"empty"]
    assert r.publish(b"bin\x00\r\n", b"\x00") == 1
    assert c.read() == [b"message", b"bin\x00\r\n", b"\x00"]
    assert r.publish("", "") == 1
    assert c.read() == [b"message", b"", b""]
    c.close()


def test_patterns_with_many_stars_stay_fast(server, r):
    c = RespConn(server)
    evil = b"a*" * 2000 + b"b"
    assert c.call("PSUBSCRIBE", evil) == [b"psubscribe", evil, 1]
    assert c.call("PSUBSCRIBE", b"*" * 5000) == [b"psubscribe", b"*" * 5000, 2]
    assert c.call("PSUBSCRIBE", b"[a-") == [b"psubscribe", b"[a-", 3]
    channel = b"a" * 20000
    start = time.time()
    # Only the all-stars pattern matches; the backtracking one must fail fast.
    assert r.publish(channel, "x") == 1
    assert time.time() - start < 2
    assert c.read() == [b"pmessage", b"*" * 5000, channel, b"x"]
    assert r.publish(b"a" * 3000 + b"b", "y") == 2
    got = sorted([c.read()[1], c.read()[1]])
    assert got == sorted([evil, b"*" * 5000])
    start = time.time()
    assert len(r.pubsub_channels(evil)) == 0
    assert time.time() - start < 2
    c.close()


def test_glob_pattern_rules(server, r):
    c = RespConn(server)
    pats = [b"h?llo", b"h[ae]llo", b"h[^e]llo", b"h[a-b]llo", b"h\\*llo"]
    for i, p in enumerate(pats):
        assert c.call("PSUBSCRIBE", p) == [b"psubscribe", p, i + 1]
    cases = {
        b"hello": {b"h?llo", b"h[ae]llo"},
        b"hallo": {b"h?llo", b"h[ae]llo", b"h[^e]llo", b"h[a-b]llo"},
        b"hxllo": {b"h?llo", b"h[^e]llo"},
        b"h*llo": {b"h?llo", b"h[^e]llo", b"h\\*llo"},
        b"hllo": set(),
    }
    for ch, want in cases.items():
        assert r.publish(ch, "m") == len(want)
        got = {c.read()[1] for _ in want}
        assert got == want
    assert c.try_read() is None
    c.close()
