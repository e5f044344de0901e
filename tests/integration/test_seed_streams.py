"""The seed article's "Streams for Durable Messaging" pattern through redis-py.

The article's producer (XADD with '*' and event_type / user_id / data),
consumer group (XGROUP CREATE at '0', which needs MKSTREAM on a fresh
server), consumer loop (XREADGROUP COUNT 1 BLOCK 1000, XACK after
processing) and lag monitor (XINFO GROUPS), with redis-py's xadd,
xgroup_create(mkstream=True), xreadgroup(block=...), xack, xinfo_groups,
xpending and xautoclaim. The node-redis, ioredis and hiredis versions are
the streams sections of tests/clients/* (run by test_clients.py). Each test
uses key names of its own.
"""
import json
import threading
import time

import pytest
import redis
from conftest import wait_blocked

NO_KEY = ("The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use "
          "the MKSTREAM option to create an empty stream automatically.")


def sid(s):
    """A stream ID as a comparable (ms, seq) pair."""
    ms, seq = s.split("-")
    return int(ms), int(seq)


def group_status(r, key, name):
    """The article's getConsumerGroupStatus: one group of XINFO GROUPS."""
    groups = {g["name"]: g for g in r.xinfo_groups(key)}
    g = groups[name]
    assert list(g) == ["name", "consumers", "pending", "last-delivered-id", "entries-read", "lag"]
    return {k: g[k] for k in ("consumers", "pending", "last-delivered-id", "entries-read", "lag")}


def status(consumers, pending, last, entries_read, lag):
    return {"consumers": consumers, "pending": pending, "last-delivered-id": last,
            "entries-read": entries_read, "lag": lag}


def publish_event(r, key, event):
    """The article's publishEvent: XADD key * event_type .. user_id .. data .."""
    return r.xadd(key, {"event_type": event["type"], "user_id": event["userId"],
                        "data": json.dumps(event["data"])}, id="*")


def setup_consumer_group(r, key, group, mkstream=False):
    """The article's setupConsumerGroup: create at '0', swallow BUSYGROUP."""
    try:
        r.xgroup_create(key, group, id="0", mkstream=mkstream)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


def test_group_setup_as_written_needs_mkstream(rs):
    key, group = "stream:order-events", "order-processor"
    # startEventProcessor() sets the group up before anything is published;
    # without MKSTREAM that fails, and not with BUSYGROUP, so it is rethrown.
    with pytest.raises(redis.ResponseError) as e:
        setup_consumer_group(rs, key, group)
    assert str(e.value) == NO_KEY
    assert rs.exists(key) == 0
    setup_consumer_group(rs, key, group, mkstream=True)
    assert rs.type(key) == "stream"
    assert rs.xlen(key) == 0
    setup_consumer_group(rs, key, group, mkstream=True)  # BUSYGROUP, swallowed
    with pytest.raises(redis.ResponseError, match="^BUSYGROUP Consumer Group name already exists$"):
        rs.xgroup_create(key, group, id="0", mkstream=True)
    # A fresh group on an empty stream: nothing read (nil), no lag.
    assert group_status(rs, key, group) == status(0, 0, "0-0", None, 0)
    # The monitor on a missing key or a key of another type.
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        rs.xinfo_groups("stream:nosuch")
    rs.set("stream:str", "x")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        rs.xinfo_groups("stream:str")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        rs.xgroup_create("stream:str", group, id="0", mkstream=True)


def test_producer_consumer_ack_and_lag(rs):
    key, group = "stream:orders-py", "order-processor"
    setup_consumer_group(rs, key, group, mkstream=True)
    events = [
        {"type": "ORDER_CREATED", "userId": "u-1", "data": {"orderId": "o-1", "total": 42.5}},
        {"type": "ORDER_PAID", "userId": "u-1", "data": {"orderId": "o-1"}},
        {"type": "ORDER_FAILED_TO_PROCESS", "userId": "u-2", "data": {"orderId": "o-2", "poison": True}},
        {"type": "ORDER_SHIPPED", "userId": "u-1", "data": {"orderId": "o-1", "carrier": "ups"}},
    ]
    ids = [publish_event(rs, key, e) for e in events]
    assert all(isinstance(i, str) and sid(i) for i in ids)
    assert [sid(i) for i in ids] == sorted(sid(i) for i in ids) and len(set(ids)) == 4
    fields = [{"event_type": e["type"], "user_id": e["userId"], "data": json.dumps(e["data"])} for e in events]
    assert rs.xrange(key) == list(zip(ids, fields))
    # Created at '0' before the events: the whole stream is lag.
    assert group_status(rs, key, group) == status(0, 0, "0-0", None, 4)

    # consumeEvents, bounded: COUNT 1 BLOCK 1000; processing fails on the
    # poison event, which is not acked.
    seen, empty = [], 0
    t0 = time.monotonic()
    for _ in range(5):
        messages = rs.xreadgroup(group, "worker-1", {key: ">"}, count=1, block=1000)
        if not messages:  # redis-py turns the nil reply into []
            assert messages == []
            empty += 1
            continue
        for stream, stream_messages in messages:
            assert stream == key and len(stream_messages) == 1
            for msg_id, message in stream_messages:
                seen.append((msg_id, message, group_status(rs, key, group)))
                if json.loads(message["data"]).get("poison"):
                    continue  # don't acknowledge
                assert rs.xack(key, group, msg_id) == 1
    assert time.monotonic() - t0 >= 0.9
    assert empty == 1
    assert [(i, m) for i, m, _ in seen] == list(zip(ids, fields))
    assert json.loads(seen[0][1]["data"]) == {"orderId": "o-1", "total": 42.5}
    # At processing time (delivered, not yet acked).
    assert [s for _, _, s in seen] == [
        status(1, 1, ids[0], 1, 3),
        status(1, 1, ids[1], 2, 2),
        status(1, 1, ids[2], 3, 1),
        status(1, 2, ids[3], 4, 0),
    ]
    assert rs.xpending(key, group) == {"pending": 1, "min": ids[2], "max": ids[2],
                                       "consumers": [{"name": "worker-1", "pending": 1}]}
    # '>' does not hand the unacked entry out again; the consumer's own
    # history ('0') does.
    assert rs.xreadgroup(group, "worker-1", {key: ">"}, count=1, block=100) == []
    assert rs.xreadgroup(group, "worker-1", {key: "0"}) == [[key, [(ids[2], fields[2])]]]
    assert rs.xack(key, group, ids[2]) == 1
    assert rs.xack(key, group, *ids) == 0
    assert rs.xpending(key, group) == {"pending": 0, "min": None, "max": None, "consumers": []}
    assert rs.xreadgroup(group, "worker-1", {key: "0"}) == [[key, []]]
    assert group_status(rs, key, group) == status(1, 0, ids[3], 4, 0)

    # Errors keep Redis's texts.
    with pytest.raises(redis.ResponseError,
                       match="^NOGROUP No such key 'stream:orders-py' or consumer group 'nogroup'"):
        rs.xreadgroup("nogroup", "w", {key: ">"})
    with pytest.raises(redis.ResponseError, match="^Invalid stream ID specified as stream command argument$"):
        rs.xack(key, group, "notanid")


def test_blocking_read_woken_by_xadd_from_second_connection(server, rs):
    key, group = "stream:wakeup", "order-processor"
    setup_consumer_group(rs, key, group, mkstream=True)
    worker = server.client(decode_responses=True)
    box = {}

    def consume():
        t0 = time.monotonic()
        box["reply"] = worker.xreadgroup(group, "worker-2", {key: ">"}, count=1, block=5000)
        box["elapsed"] = time.monotonic() - t0

    t = threading.Thread(target=consume)
    t.start()
    wait_blocked(rs)
    late = publish_event(rs, key, {"type": "ORDER_DELIVERED", "userId": "u-1", "data": {"orderId": "o-1"}})
    t.join(10)
    assert not t.is_alive()
    assert box["elapsed"] < 4
    assert box["reply"] == [[key, [(late, {"event_type": "ORDER_DELIVERED", "user_id": "u-1",
                                           "data": '{"orderId": "o-1"}'})]]]
    assert group_status(rs, key, group) == status(1, 1, late, 1, 0)
    assert worker.xack(key, group, late) == 1
    assert group_status(rs, key, group) == status(1, 0, late, 1, 0)
    assert rs.info("clients")["blocked_clients"] == 0
    worker.close()


def test_xautoclaim_crash_recovery(rs):
    key, group = "stream:claims-py", "claimers"
    assert rs.xgroup_create(key, group, id="$", mkstream=True) is True
    ids = [rs.xadd(key, {"job": str(i)}) for i in range(4)]
    # Consumer A reads everything and dies before acking.
    taken = rs.xreadgroup(group, "consumer-a", {key: ">"}, count=10)
    assert taken == [[key, [(i, {"job": str(n)}) for n, i in enumerate(ids)]]]
    pel = rs.xpending_range(key, group, "-", "+", 10)
    assert [(p["message_id"], p["consumer"], p["times_delivered"]) for p in pel] == \
        [(i, "consumer-a", 1) for i in ids]
    # An entry deleted while pending: Redis 7's XAUTOCLAIM drops it from the
    # PEL and lists it in a third element, even though nothing is idle long
    # enough to be claimed.
    assert rs.xdel(key, ids[1]) == 1
    assert rs.xautoclaim(key, group, "consumer-b", 60000, "0-0") == ["0-0", [], [ids[1]]]
    time.sleep(0.2)
    # Consumer B claims what has been idle 100 ms: COUNT 1 pages with a
    # cursor; the last page returns 0-0.
    assert rs.xautoclaim(key, group, "consumer-b", 100, "0-0", count=1) == [ids[2], [(ids[0], {"job": "0"})], []]
    assert rs.xautoclaim(key, group, "consumer-b", 100, ids[2]) == \
        ["0-0", [(ids[2], {"job": "2"}), (ids[3], {"job": "3"})], []]
    # JUSTID (min-idle 0 takes them all again, to the same owner): just the IDs.
    assert rs.xautoclaim(key, group, "consumer-b", 0, "0-0", justid=True) == [ids[0], ids[2], ids[3]]
    # Just claimed, so nothing has been idle 100 ms.
    assert rs.xautoclaim(key, group, "consumer-c", 100, "0-0") == ["0-0", [], []]
    pel = rs.xpending_range(key, group, "-", "+", 10)
    # XAUTOCLAIM counts a delivery (JUSTID does not).
    assert [(p["message_id"], p["consumer"], p["times_delivered"]) for p in pel] == \
        [(i, "consumer-b", 2) for i in (ids[0], ids[2], ids[3])]
    # A claim that claims nothing does not create its consumer.
    assert [(c["name"], c["pending"]) for c in rs.xinfo_consumers(key, group)] == \
        [("consumer-a", 0), ("consumer-b", 3)]
    assert rs.xack(key, group, ids[0], ids[2], ids[3]) == 3
    assert rs.xpending(key, group)["pending"] == 0
    assert group_status(rs, key, group) == status(2, 0, ids[3], 4, 0)
    with pytest.raises(redis.ResponseError,
                       match="^NOGROUP No such key 'stream:claims-py' or consumer group 'nogroup'"):
        rs.xautoclaim(key, "nogroup", "c", 0, "0-0")


def test_lag_is_nil_when_redis_cannot_count_it(rs):
    """The lag monitor must cope with a nil lag (redis-py: None). Redis 7.0
    reports it when the group's position is not one it can count from: a
    group created at '$' on a non-empty stream once the stream grows, and
    any group whose unread part has a deleted entry in it."""
    key = "stream:lag-py"
    for i in range(1, 4):
        rs.xadd(key, {"f": str(i)}, id="%d-0" % i)
    assert rs.xgroup_create(key, "from-start", id="0") is True
    assert rs.xgroup_create(key, "from-now", id="$") is True
    assert group_status(rs, key, "from-start") == status(0, 0, "0-0", None, 3)
    assert group_status(rs, key, "from-now") == status(0, 0, "3-0", None, 0)
    rs.xadd(key, {"f": "4"}, id="4-0")
    assert group_status(rs, key, "from-start") == status(0, 0, "0-0", None, 4)
    assert group_status(rs, key, "from-now") == status(0, 0, "3-0", None, None)
    # Reading gives the group an exact count again.
    assert rs.xreadgroup("from-now", "c", {key: ">"}) == [[key, [("4-0", {"f": "4"})]]]
    assert group_status(rs, key, "from-now") == status(1, 1, "4-0", 4, 0)
    # A deletion in the part a group has not read makes its lag unknown.
    assert rs.xdel(key, "2-0") == 1
    assert group_status(rs, key, "from-start") == status(0, 0, "0-0", None, None)
    assert group_status(rs, key, "from-now") == status(1, 1, "4-0", 4, 0)
    rs.xadd(key, {"f": "5"}, id="5-0")
    assert group_status(rs, key, "from-now") == status(1, 1, "4-0", 4, 1)
    # Reading past the deleted entry: entries-read counts what was added.
    assert [i for i, _ in rs.xreadgroup("from-start", "c", {key: ">"})[0][1]] == ["1-0", "3-0", "4-0", "5-0"]
    assert group_status(rs, key, "from-start") == status(1, 4, "5-0", 5, 0)
