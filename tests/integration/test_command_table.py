"""The command table as COMMAND shows it, compared with Debian's
redis-server 7.0 (the redis_ref fixture): every command and subcommand of
Redis 7.0 is there with its arity, flags (in Redis's order; a container
that needs a subcommand shows none, and may_replicate is hidden, as in
Redis), ACL categories and command tips. Run against redis-server itself
the comparisons hold trivially."""
from redis.connection import Connection

from conftest import err

# Redis 7.0 commands Keel does not have yet, with the reason. Keep it short.
NOT_YET = {}
# Arities that differ because Keel takes a newer Redis's arguments.
NEWER_ARITY = {"zrank": "Redis 7.2's WITHSCORE", "zrevrank": "Redis 7.2's WITHSCORE"}


def command_entries(client):
    """{name: (arity, tips, flags, ACL categories)} for every command and
    subcommand, from a raw RESP2 COMMAND reply (redis-py's parser drops the
    tips)."""
    kw = client.connection_pool.connection_kwargs
    conn = Connection(host=kw["host"], port=kw["port"], decode_responses=True)
    try:
        conn.send_command("COMMAND")
        infos = conn.read_response()
    finally:
        conn.disconnect()
    out = {}

    def walk(info):
        out[info[0]] = (info[1], info[7], info[2], info[6])
        for sub in info[9]:
            walk(sub)

    for info in infos:
        walk(info)
    return out


def test_every_redis_command_is_here_with_its_arity_and_tips(r, redis_ref):
    mine, ref = command_entries(r), command_entries(redis_ref)
    missing = sorted(set(ref) - set(mine) - set(NOT_YET))
    assert not missing
    differ = ["%s: keel %s redis %s" % (n, mine[n], ref[n]) for n in sorted(set(ref) & set(mine))
              if mine[n] != ref[n] and not (n in NEWER_ARITY and mine[n][1:] == ref[n][1:])]
    assert not differ, "\n".join(differ)
    # spot checks, so a table that lost its tips cannot pass by both sides being empty
    assert ref["keys"][1] == ["request_policy:all_shards", "nondeterministic_output_order"]
    assert mine["dbsize"][1] == ["request_policy:all_shards", "response_policy:agg_sum"]
    assert mine["restore-asking"][0] == -4
    assert mine["blpop"][2] == ["write", "noscript", "blocking"]
    assert mine["client"][2] == [] and "loading" in mine["client|list"][2]


def test_tips_are_bulk_strings(server):
    with server.raw() as sock:
        sock.sendall(b"COMMAND INFO dbsize\r\n")
        data = b""
        while not data.endswith(b"*0\r\n*0\r\n"):
            data += sock.recv(4096)
    assert b"*2\r\n$25\r\nrequest_policy:all_shards\r\n$23\r\nresponse_policy:agg_sum\r\n" in data


def test_cluster_subcommands_answer_like_redis(r, redis_ref):
    for c in (r, redis_ref):
        assert err(c.execute_command, "CLUSTER", "KEYSLOT", "k") == "This instance has cluster support disabled"
        assert err(c.execute_command, "CLUSTER", "NOSUCH") == "unknown subcommand 'NOSUCH'. Try CLUSTER HELP."
        assert err(c.execute_command, "CLUSTER", "INFO", "x") == "wrong number of arguments for 'cluster|info' command"


def test_restore_asking_restores_like_restore(r, redis_ref):
    redis_ref.set("k", "v", px=100000)
    payload = redis_ref.dump("k")
    assert r.execute_command("RESTORE-ASKING", "k", 0, payload) == b"OK"
    assert r.get("k") == b"v"
    assert err(r.execute_command, "RESTORE-ASKING", "k", 0, payload) == "BUSYKEY Target key name already exists."
    assert r.command_getkeys("RESTORE-ASKING", "k", 0, payload) == ["k"]
