"""Key specs: COMMAND INFO's key specs, COMMAND GETKEYS / GETKEYSANDFLAGS,
and the ACL key permissions derived from the spec flags, each compared with
Debian's redis-server 7.0 (the redis_ref fixture) where both know the
command. Run against redis-server itself the comparisons still hold (the
reference against itself); the Keel-only checks are marked."""
import os

import pytest
import redis
from redis.connection import Connection

from conftest import SERVER

IS_REDIS = os.path.basename(SERVER).startswith("redis")
keel_only = pytest.mark.skipif(IS_REDIS, reason="Keel's own commands and table")

ACCESS_KIND = {"RO", "RW", "OW", "RM"}

# Commands whose key specs may differ from Redis 7.0's, with the reason.
# Empty: every command both servers know has Redis's specs exactly.
ALLOWED_SPEC_DIFFERENCES = {}


def raw_command(client, *args):
    """A reply in RESP2 with nothing parsed away (redis-py's COMMAND parser
    drops the key specs)."""
    conn = Connection(host=client.connection_pool.connection_kwargs["host"],
                      port=client.connection_pool.connection_kwargs["port"])
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        conn.disconnect()


def as_str(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, list):
        return [as_str(x) for x in v]
    return v


def pairs(flat):
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def spec_of(entry):
    """One key spec as comparable data: (flags, begin_search, find_keys)."""
    d = pairs(entry)
    begin, find = pairs(d["begin_search"]), pairs(d["find_keys"])
    return (tuple(d["flags"]),
            (begin["type"], tuple(sorted(pairs(begin["spec"]).items()))),
            (find["type"], tuple(sorted(pairs(find["spec"]).items()))))


def all_specs(client):
    """{name: [spec, ...]} for every command and subcommand."""
    out = {}

    def walk(info):
        out[info[0]] = [spec_of(s) for s in info[8]]
        for sub in info[9]:
            walk(sub)

    for info in as_str(raw_command(client, "COMMAND")):
        walk(info)
    return out


@pytest.fixture(scope="module")
def specs(server):
    return all_specs(server.client())


def test_key_specs_match_redis(specs, redis_ref):
    """For every command (and subcommand) both servers know, the key specs
    of COMMAND INFO (flags, begin_search, find_keys) are Redis 7.0's."""
    ref = all_specs(redis_ref)
    common = sorted(set(specs) & set(ref))
    assert len(common) > 300
    differ = [n for n in common if specs[n] != ref[n] and n not in ALLOWED_SPEC_DIFFERENCES]
    assert not differ, "\n".join("%s:\n  keel  %s\n  redis %s" % (n, specs[n], ref[n]) for n in differ)
    assert specs["lmove"] == [
        (("RW", "access", "delete"), ("index", (("index", 1),)), ("range", (("keystep", 1), ("lastkey", 0), ("limit", 0)))),
        (("RW", "insert"), ("index", (("index", 2),)), ("range", (("keystep", 1), ("lastkey", 0), ("limit", 0)))),
    ]


def all_notes(client):
    """{name: [each key spec's notes, or None]} for every command and
    subcommand."""
    out = {}

    def walk(info):
        out[info[0]] = [pairs(s).get("notes") for s in info[8]]
        for sub in info[9]:
            walk(sub)

    for info in as_str(raw_command(client, "COMMAND")):
        walk(info)
    return out


def test_key_spec_notes_match_redis(server, redis_ref):
    """The notes Redis 7.0 gives some key specs (why XADD says UPDATE, why
    SORT's are unknown...), shown by COMMAND INFO for the same specs."""
    mine, ref = all_notes(server.client()), all_notes(redis_ref)
    common = sorted(set(mine) & set(ref))
    differ = [n for n in common if mine[n] != ref[n] and n not in ALLOWED_SPEC_DIFFERENCES]
    assert not differ, "\n".join("%s:\n  keel  %s\n  redis %s" % (n, mine[n], ref[n]) for n in differ)
    assert mine["xadd"] == ["UPDATE instead of INSERT because of the optional trimming feature"]
    assert mine["sort"][0] is None and len(mine["sort"]) == 3


def test_every_key_spec_has_one_access_kind(specs):
    """Exactly one of RO/RW/OW/RM per spec, except a NOT_KEY spec (a shard
    channel), which has none."""
    for name, lst in specs.items():
        for flags, _, _ in lst:
            kinds = ACCESS_KIND & set(flags)
            if "not_key" in flags:
                assert not kinds, name
            else:
                assert len(kinds) == 1, (name, flags)


@keel_only
def test_keel_only_commands_have_key_specs(server, specs):
    """Every command that takes keys has specs: the legacy first-key field
    and movablekeys both imply at least one."""
    infos = as_str(raw_command(server.client(), "COMMAND"))
    for info in infos:
        for entry in [info] + info[9]:
            if entry[3] > 0 or "movablekeys" in entry[2]:
                assert specs[entry[0]], entry[0]
    for name in ("delifeq", "delex", "hexpire", "httl", "hpersist", "xackdel", "xdelex", "cl.throttle"):
        assert len(specs[name]) == 1 and specs[name][0][1] == ("index", (("index", 1),)), name
    assert specs["httl"][0][0] == ("RO", "access")
    assert specs["delifeq"][0][0] == ("RW", "access", "delete")


# ---- COMMAND GETKEYS / GETKEYSANDFLAGS ----

LINES = [
    "get k", "set k v", "set k v get", "set k v GET ex 10", "set k v px get", "set k get",
    "mset a 1 b 2", "msetnx a 1 b 2", "del a b c", "exists a b", "lcs a b", "copy a b",
    "rename a b", "renamenx a b", "lmove a b left right", "blmove a b left right 0", "rpoplpush a b",
    "smove a b m", "blpop a b 0", "bzpopmin a b 0", "pfmerge d a b", "pfcount a b", "pfdebug getreg k",
    "bitop and d a b", "bitfield k", "bitfield k get u8 0", "bitfield k set u8 0 1",
    "bitfield k incrby u8 0 1", "bitfield k overflow sat", "bitfield k get u8 set",
    "bitfield k get set u8 0", "bitfield k get u8 set 1", "bitfield k set", "bitfield k foo",
    "bitfield k get u8 0 incrby a b", "bitfield_ro k get u8 0",
    "sort k", "sort k store d", "sort k store d store e", "sort k store", "sort k by store",
    "sort k get store store d", "sort k limit store d 1 get store", "sort_ro k by w get x",
    "georadius k 1 2 3 m", "georadius k 1 2 3 m store d", "georadius k 1 2 3 m storedist e store d",
    "georadius k 1 2 3 m store d store e", "georadius k 1 2 3 m count store store",
    "georadius k 1 2 3 STORE", "georadius k 1 2 3 m store", "georadiusbymember k m 3 km store d",
    "geosearchstore d s frommember m byradius 1 km",
    "xread streams a b 1 2", "xread count 1 streams a b 1", "xread streams a b c",
    "xread streams streams a 1", "xread count 1 streams",
    "xreadgroup group g c streams a 1", "xreadgroup group g c count streams streams a 1",
    "eval s 0", "eval s 2 a b", "eval s 2 a", "eval s x", "eval s -1", "fcall f 1 a", "fcall_ro f 1 a",
    "lmpop 2 a b left", "lmpop 5 a b left", "blmpop 0 1 a left", "blmpop 0 x a left",
    "zunionstore d 2 a b", "zunionstore d 0 a", "zunionstore d x a", "zunionstore d 5 a",
    "zinterstore d 2 a", "zdiffstore d -1 a", "zinter 2 a b", "zmpop 1 a min", "sintercard 1 a",
    "sintercard 0 a", "zrangestore d s 0 1", "object encoding k", "object freq k", "memory usage k",
    "xinfo stream s", "xgroup create s g $", "xgroup destroy s g", "getdel k", "getex k", "incr k",
    "touch a b", "watch a b", "unlink a b", "restore k 0 x", "move k 1",
    # errors
    "nosuch a", "object foo k", "object help", "config get x", "time x", "ping a",
    "spublish ch m", "ssubscribe a b", "get", "get a b", "lmove a b left", "zunionstore d 0",
    "xgroup", "command info",
]


def keys_and_flags(client, line):
    try:
        return ("ok", as_str(raw_command(client, "COMMAND", "GETKEYSANDFLAGS", *line.split())))
    except redis.ResponseError as e:
        return ("err", str(e))


def keys_only(client, line):
    try:
        return ("ok", as_str(raw_command(client, "COMMAND", "GETKEYS", *line.split())))
    except redis.ResponseError as e:
        return ("err", str(e))


@pytest.mark.parametrize("line", LINES)
def test_getkeysandflags_matches_redis(r, redis_ref, line):
    """The keys, the flags of the spec (or, for SET and BITFIELD, of the
    arguments) that found each, and the errors, as Redis 7.0 answers."""
    mine, ref = keys_and_flags(r, line), keys_and_flags(redis_ref, line)
    assert mine == ref
    mine_keys, ref_keys = keys_only(r, line), keys_only(redis_ref, line)
    assert mine_keys == ref_keys
    if mine[0] == "ok":
        assert mine_keys[1] == [k for k, _ in mine[1]]


def test_getkeysandflags_examples(r):
    assert as_str(r.execute_command("COMMAND GETKEYSANDFLAGS", "LMOVE", "a", "b", "LEFT", "RIGHT")) == [
        ["a", ["RW", "access", "delete"]], ["b", ["RW", "insert"]]]
    assert as_str(r.execute_command("COMMAND GETKEYSANDFLAGS", "SET", "k", "v")) == [["k", ["OW", "update"]]]
    assert as_str(r.execute_command("COMMAND GETKEYSANDFLAGS", "SET", "k", "v", "GET")) == [
        ["k", ["RW", "access", "update"]]]
    assert as_str(r.execute_command("COMMAND GETKEYSANDFLAGS", "EVAL", "return 1", "0")) == []
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COMMAND GETKEYSANDFLAGS", "SPUBLISH", "ch", "m")
    assert str(e.value) == "The command has no key arguments"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COMMAND GETKEYSANDFLAGS", "NOSUCH", "a")
    assert str(e.value) == "Invalid command specified"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COMMAND GETKEYSANDFLAGS", "GET", "a", "b")
    assert str(e.value) == "Invalid number of arguments specified for command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COMMAND GETKEYSANDFLAGS", "ZUNIONSTORE", "d", "3", "a")
    assert str(e.value) == "Invalid arguments specified for command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COMMAND GETKEYSANDFLAGS", "GET")
    assert str(e.value) == "wrong number of arguments for 'command|getkeysandflags' command"


def test_getkeysandflags_in_help_and_info(r):
    assert b"GETKEYSANDFLAGS <full-command>" in r.execute_command("COMMAND HELP")
    info = as_str(raw_command(r, "COMMAND", "INFO", "command|getkeysandflags"))[0]
    assert info[:2] == ["command|getkeysandflags", -4]
    assert b"command|getkeysandflags" in r.execute_command("COMMAND LIST")


# ---- ACL: read/write permission from the spec flags ----

ACL_LINES = [
    ("get", "k"), ("set", "k", "v"), ("set", "k", "v", "get"), ("getdel", "k"), ("incr", "k"),
    ("append", "k", "v"), ("exists", "k"), ("strlen", "k"), ("type", "k"), ("del", "k"),
    ("lmove", "a", "b", "left", "right"), ("copy", "a", "b"), ("rename", "a", "b"),
    ("pfcount", "k"), ("pfmerge", "d", "s"), ("bitfield", "k", "get", "u8", "0"),
    ("bitfield", "k", "set", "u8", "0", "1"), ("bitfield_ro", "k", "get", "u8", "0"),
    ("sort", "k"), ("sort", "k", "store", "d"), ("xread", "streams", "s", "0"),
    ("zunionstore", "d", "1", "s"), ("eval", "return 1", "1", "k"), ("eval_ro", "return 1", "1", "k"),
    ("lpush", "k", "v"), ("lrange", "k", "0", "1"), ("llen", "k"), ("hincrby", "h", "f", "1"),
    ("hset", "h", "f", "v"), ("smove", "a", "b", "m"), ("object", "encoding", "k"),
    ("georadius", "g", "0", "0", "1", "km", "store", "d"), ("touch", "k"), ("expire", "k", "10"),
    ("ttl", "k"), ("xadd", "s", "*", "f", "v"), ("xlen", "s"), ("restore", "k", "0", "x"),
]


def acl_verdicts(client, user_rules):
    """For each line, whether the user is refused on a key (NOPERM)."""
    client.execute_command("ACL", "SETUSER", "ks", "reset", "on", "nopass", "+@all", *user_rules)
    c = Connection(host=client.connection_pool.connection_kwargs["host"],
                   port=client.connection_pool.connection_kwargs["port"], username="ks", password="x")
    out = []
    for line in ACL_LINES:
        try:
            c.send_command(*line)
            c.read_response()
            out.append("ran")
        except redis.exceptions.NoPermissionError as e:
            out.append("noperm" if "key" in str(e) else str(e))
        except redis.ResponseError:
            out.append("ran")  # refused by the command itself, not by ACL
    c.disconnect()
    client.execute_command("ACL", "DELUSER", "ks")
    return out


@pytest.mark.parametrize("rules", [["%R~*"], ["%W~*"], ["%R~a*", "%W~b*", "~k*"], ["%RW~*"]])
def test_acl_key_permissions_match_redis(r, redis_ref, rules):
    """Which key permission each command needs follows from its key specs
    (ACCESS: read; INSERT/UPDATE/DELETE: write; neither: any), as in Redis:
    the same lines are refused for the same users on both servers."""
    r.flushall()
    redis_ref.flushall()
    mine, ref = acl_verdicts(r, rules), acl_verdicts(redis_ref, rules)
    assert list(zip(ACL_LINES, mine)) == list(zip(ACL_LINES, ref))
    if rules == ["%R~*"]:
        verdict = dict(zip(ACL_LINES, mine))
        assert verdict[("get", "k")] == "ran" and verdict[("set", "k", "v")] == "noperm"
        assert verdict[("bitfield", "k", "get", "u8", "0")] == "ran"
        assert verdict[("bitfield", "k", "set", "u8", "0", "1")] == "noperm"
