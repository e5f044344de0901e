"""CL.THROTTLE key max_burst count_per_period period [quantity]: GCRA rate
limiting in one command, replying as redis-cell does ([limited, limit,
remaining, retry_after, reset_after]); the state is a string key holding the
TAT in ns with an expiry at it, propagated as SET ... PXAT (never as the
command, whose outcome depends on the clock). Keel-only: Redis has no such
command without the redis-cell module."""
import time

import pytest
import redis
from conftest import SERVER, WRONGTYPE, err, raw_cmd, resp_exchange

pytestmark = pytest.mark.skipif(SERVER.endswith("redis-server"), reason="Keel-only: redis-server has no CL.THROTTLE")

NOT_INT = "value is not an integer or out of range"


def th(r, key, *args):
    return r.execute_command("CL.THROTTLE", key, *args)


def test_reply_shape_and_first_requests(r):
    # limit 5 (burst 4), 1 per second: the burst drains one by one.
    assert th(r, "u", 4, 1, 1) == [0, 5, 4, -1, 1]
    assert th(r, "u", 4, 1, 1) == [0, 5, 3, -1, 2]
    assert th(r, "u", 4, 1, 1, 3) == [0, 5, 0, -1, 5]
    limited = th(r, "u", 4, 1, 1)
    assert limited[:3] == [1, 5, 0] and limited[3] == 1 and limited[4] == 5
    assert all(isinstance(v, int) for v in limited)


def test_dragonfly_example(r):
    # The example of Dragonfly's documentation: 1 per 10 s, no burst.
    assert th(r, "user123", 0, 1, 10, 1) == [0, 1, 0, -1, 10]
    assert th(r, "user123", 0, 1, 10, 1) == [1, 1, 0, 10, 10]


def test_pipelined_thousand_admits_exactly_the_burst(r):
    # 1 per hour: during the pipeline nothing refills, so exactly burst + 1.
    p = r.pipeline(transaction=False)
    for _ in range(1000):
        p.execute_command("CL.THROTTLE", "p", 9, 1, 3600)
    replies = p.execute()
    assert sum(1 for x in replies if x[0] == 0) == 10
    assert [x[2] for x in replies[:10]] == list(range(9, -1, -1))
    assert all(x[0] == 1 and x[2] == 0 for x in replies[10:])


def test_thousand_in_one_millisecond(r):
    # A transaction runs at one instant: 1000 per second would refill one
    # per ms, but inside it nothing can refill. The naive sliding window
    # (examples/) admits all of them.
    p = r.pipeline(transaction=True)
    for _ in range(1000):
        p.execute_command("CL.THROTTLE", "m", 9, 1000, 1)
    replies = p.execute()
    assert sum(1 for x in replies if x[0] == 0) == 10
    assert [x[0] for x in replies[:10]] == [0] * 10
    # A retry after is never shorter than the time to the next ms rounded up.
    assert all(x[3] == 1 and x[4] == 1 for x in replies[10:])


def test_retry_and_reset_after(r):
    # 1 per 60 s, burst 2 (limit 3).
    assert th(r, "k", 2, 1, 60) == [0, 3, 2, -1, 60]
    assert th(r, "k", 2, 1, 60) == [0, 3, 1, -1, 120]
    assert th(r, "k", 2, 1, 60) == [0, 3, 0, -1, 180]
    assert th(r, "k", 2, 1, 60) == [1, 3, 0, 60, 180]
    # Asking for 2 at once must wait for two cells.
    assert th(r, "k", 2, 1, 60, 2) == [1, 3, 0, 120, 180]


def test_quantity_bigger_than_limit_is_limited_without_retry(r):
    # redis-cell: never allowed, so no retry time (-1); nothing stored.
    assert th(r, "big", 4, 1, 1, 6) == [1, 5, 5, -1, 0]
    assert r.exists("big") == 0
    th(r, "big", 4, 1, 1, 2)
    assert th(r, "big", 4, 1, 1, 6) == [1, 5, 3, -1, 2]


def test_quantity_zero_peeks(r):
    assert th(r, "q", 4, 1, 1, 0) == [0, 5, 5, -1, 0]
    assert r.exists("q") == 0
    th(r, "q", 4, 1, 1, 2)
    before = r.get("q")
    assert th(r, "q", 4, 1, 1, 0) == [0, 5, 3, -1, 2]
    assert r.get("q") == before


def test_state_is_a_string_with_ttl_at_tat(r):
    t0 = time.time_ns()
    th(r, "s", 4, 1, 10)  # T = 10 s
    t1 = time.time_ns()
    assert r.type("s") == b"string"
    tat = int(r.get("s"))
    assert t0 // 10**6 * 10**6 + 10 * 10**9 <= tat <= t1 + 10 * 10**9
    assert r.object("encoding", "s") == b"int"
    assert 9000 <= r.pttl("s") <= 10000
    expire_at = r.execute_command("PEXPIRETIME", "s")
    assert expire_at == -(-tat // 10**6)
    th(r, "s", 4, 1, 10)
    assert 19000 <= r.pttl("s") <= 20000


def test_idle_subject_vanishes(r):
    th(r, "idle", 0, 1000, 1)  # T = 1 ms
    time.sleep(0.02)
    assert r.exists("idle") == 0
    assert th(r, "idle", 0, 1000, 1) == [0, 1, 0, -1, 1]


def test_rates_above_a_thousand_per_second(r):
    # T = 200 us: 5 cells fit in one ms; rounding T to a whole ms would
    # either refuse the rate or limit it to 1000/s.
    p = r.pipeline(transaction=True)
    for _ in range(20):
        p.execute_command("CL.THROTTLE", "fast", 9, 5000, 1)
    replies = p.execute()
    assert sum(1 for x in replies if x[0] == 0) == 10


def test_propagates_as_set_pxat(r, plog):
    th(r, "pk", 1, 1, 60)
    log = plog()
    assert len(log) == 1
    db, cmd, key, tat, px, at = log[0]
    assert (db, cmd, key, px) == ("0", "SET", "pk", "PXAT")
    assert tat == r.get("pk").decode()
    assert int(at) == -(-int(tat) // 10**6)
    th(r, "pk", 1, 1, 60)
    assert plog()[0][1:3] == ["SET", "pk"]
    # Limited, a peek, and errors change nothing and propagate nothing.
    assert th(r, "pk", 1, 1, 60)[0] == 1
    th(r, "pk", 1, 1, 60, 0)
    with pytest.raises(redis.ResponseError):
        th(r, "pk", -1, 1, 60)
    assert plog() == []


def test_inside_multi_propagates_effects(r, plog):
    p = r.pipeline(transaction=True)
    for _ in range(3):
        p.execute_command("CL.THROTTLE", "mx", 0, 1, 60)
    p.execute()
    log = plog()
    cmds = [e[1] for e in log]
    assert "CL.THROTTLE" not in cmds
    assert cmds.count("SET") == 1


def test_keyspace_events(r, events):
    events()
    th(r, "ev", 0, 1, 60)
    got = events()
    assert ("__keyspace@0__:ev", "set") in got and ("__keyspace@0__:ev", "expire") in got
    th(r, "ev", 0, 1, 60)  # limited: no event
    assert events() == []


def test_bad_arguments(r):
    assert err(th, r, "b", "x", 1, 1) == NOT_INT
    assert err(th, r, "b", 1, "1.5", 1) == NOT_INT
    assert err(th, r, "b", 1, 1, "") == NOT_INT
    assert err(th, r, "b", 1, 1, 1, "two") == NOT_INT
    assert err(th, r, "b", 1, 1, "99999999999999999999") == NOT_INT
    assert err(th, r, "b", -1, 1, 1) == "max_burst can't be negative"
    assert err(th, r, "b", 0, 0, 1) == "count_per_period must be positive"
    assert err(th, r, "b", 0, -3, 1) == "count_per_period must be positive"
    assert err(th, r, "b", 0, 1, 0) == "period must be positive"
    assert err(th, r, "b", 0, 1, -60) == "period must be positive"
    assert err(th, r, "b", 0, 1, 1, -1) == "quantity can't be negative"
    assert err(th, r, "b", 0, 2000000000, 1) == "zero rates are not supported"
    assert err(th, r, "b", 0, 1, 9223372036854775807) == NOT_INT
    assert err(th, r, "b", 9223372036854775807, 1, 1) == NOT_INT
    assert err(th, r, "b", 1, 1, 1, 1, "extra") == "syntax error"
    assert err(r.execute_command, "CL.THROTTLE", "b", 1, 1) == \
        "wrong number of arguments for 'cl.throttle' command"
    assert r.exists("b") == 0


def test_wrong_type_and_bad_state(r):
    r.rpush("l", "a")
    assert err(th, r, "l", 1, 1, 1) == WRONGTYPE
    r.set("notnum", "abc")
    assert err(th, r, "notnum", 1, 1, 1) == NOT_INT
    assert r.get("notnum") == b"abc"
    # A TAT so far ahead that the next one would overflow.
    r.set("huge", "9223372036854775000")
    assert err(th, r, "huge", 1, 1, 1) == NOT_INT
    assert r.get("huge") == b"9223372036854775000"
    # A TAT in the past (or negative) is an idle subject.
    r.set("old", "-5")
    assert th(r, "old", 1, 1, 1) == [0, 2, 1, -1, 1]
    assert r.pttl("old") > 0


def test_command_info(r, server):
    info = r.execute_command("COMMAND", "INFO", "cl.throttle")["cl.throttle"]
    assert info["arity"] == -5
    assert set(info["flags"]) == {"write", "denyoom", "fast"}
    assert (info["first_key_pos"], info["last_key_pos"], info["step_count"]) == (1, 1, 1)
    # redis-py drops the ACL categories: read them off the wire.
    with server.raw() as sock:
        data = resp_exchange(sock, raw_cmd("COMMAND", "INFO", "cl.throttle"))
    assert b"@write" in data and b"@string" in data and b"@fast" in data


def test_refused_over_maxmemory(keel):
    s = keel("--maxmemory", "1", "--maxmemory-policy", "noeviction")
    c = s.client()
    assert err(th, c, "oom", 1, 1, 1).startswith("OOM command not allowed")
    c.close()


def test_aof_replay_gives_same_state(keel, tmp_path):
    args = ("--dir", str(tmp_path), "--appendonly", "yes", "--appendfsync", "always")
    s = keel(*args)
    c = s.client()
    for _ in range(3):
        th(c, "a", 4, 1, 60)
    th(c, "a", 4, 1, 60, 9)  # limited: not logged
    tat, at = c.get("a"), c.execute_command("PEXPIRETIME", "a")
    c.close()
    s.stop()
    s2 = keel(*args)
    c2 = s2.client()
    assert c2.get("a") == tat
    assert c2.execute_command("PEXPIRETIME", "a") == at
    # The state goes on from where it was: 2 of 5 left.
    assert th(c2, "a", 4, 1, 60)[:3] == [0, 5, 1]
    c2.close()


def test_replica_gets_same_state(keel):
    primary = keel()
    replica = keel()
    p, rc = primary.client(), replica.client()
    rc.execute_command("REPLICAOF", "127.0.0.1", primary.port)
    deadline = time.time() + 10
    while rc.info("replication")["master_link_status"] != "up":
        assert time.time() < deadline, "replica did not link"
        time.sleep(0.05)
    for _ in range(4):
        th(p, "rk", 2, 1, 60)
    p.set("marker", "1")
    while rc.get("marker") != b"1":
        assert time.time() < deadline, "replica did not catch up"
        time.sleep(0.05)
    assert rc.get("rk") == p.get("rk")
    assert rc.execute_command("PEXPIRETIME", "rk") == p.execute_command("PEXPIRETIME", "rk")
    # A replica refuses the write, as any write.
    with pytest.raises(redis.ResponseError):
        th(rc, "rk", 2, 1, 60)
    p.close()
    rc.close()


def test_inside_a_script_propagates_effects(r, plog):
    script = "return redis.call('CL.THROTTLE', KEYS[1], 0, 1, 60)"
    assert r.eval(script, 1, "sk") == [0, 1, 0, -1, 60]
    assert r.eval(script, 1, "sk")[0] == 1
    log = plog()
    assert [e[1] for e in log if e[1] not in ("MULTI", "EXEC")] == ["SET"]
    assert log[[e[1] for e in log].index("SET")][2:] == ["sk", r.get("sk").decode(), "PXAT",
                                                        str(r.execute_command("PEXPIRETIME", "sk"))]


def test_debug_reload_keeps_state(r):
    th(r, "rl", 3, 1, 60)
    tat, at = r.get("rl"), r.execute_command("PEXPIRETIME", "rl")
    assert r.execute_command("DEBUG", "RELOAD") in (b"OK", "OK", True)
    assert r.get("rl") == tat and r.execute_command("PEXPIRETIME", "rl") == at
    assert th(r, "rl", 3, 1, 60)[:3] == [0, 4, 2]


def test_refills_over_time(r):
    # 20 per second, no burst: T = 50 ms.
    assert th(r, "t", 0, 20, 1)[0] == 0
    denied = th(r, "t", 0, 20, 1)
    assert denied[0] == 1 and denied[3] == 1  # 50 ms or less, rounded up
    time.sleep(0.08)
    assert th(r, "t", 0, 20, 1)[0] == 0
