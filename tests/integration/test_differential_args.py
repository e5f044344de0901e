"""Seeded random arguments for every command, against Debian's
redis-server 7.0.

For each seed both servers get the same small dataset (a key of every
type, plus a missing one), then the same random calls: a command from
Redis 7.0's COMMAND (subcommands included), followed by up to six arguments
drawn from the dataset's keys, the command's own option words (from Redis's
COMMAND DOCS) and number-like words (bounds, IDs, infinities, junk). Most
calls end in an error, so this mostly checks that Keel parses and
validates arguments in Redis's order, with Redis's texts; the calls that
succeed must give the same reply (arrays compared as multisets, numbers
in bulk strings compared as numbers). The dataset is rebuilt every 50
calls.

Left out on purpose: commands whose reply depends on time, randomness,
the connection, the server's state or the encodings (SKIP), and those
flagged admin, blocking, pubsub, noscript or no_multi; the HELP
subcommands (Keel's texts are its own); ZRANK/ZREVRANK, which take Redis
7.2's WITHSCORE; LPOS RANK -9223372036854775808 (7.2's range check).

Knobs: KEEL_ARGS_SEEDS=1-100 (default 1-8) and KEEL_ARGS_CALLS=N (default
1000).
"""
import os
import random

import pytest
from resp_client import RespConn, RespError
from test_differential import _seeds, cli, ref_endpoint, short

SEEDS = _seeds(os.environ.get("KEEL_ARGS_SEEDS", "1-8"))
CALLS = int(os.environ.get("KEEL_ARGS_CALLS", "1000"))

SKIP_FLAGS = {"admin", "blocking", "pubsub", "noscript", "no_multi"}
SKIP = {
    # connection and transaction state, server-wide effects
    "multi", "exec", "discard", "watch", "unwatch", "select", "swapdb", "flushall", "flushdb", "move", "hello",
    "auth", "quit", "reset", "client", "readonly", "readwrite", "asking", "wait", "waitaof", "role",
    # scripts (random code), payloads, introspection and configuration
    "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "script", "function", "restore",
    "restore-asking", "dump", "migrate", "object", "memory", "config", "acl", "latency", "slowlog", "info",
    "command", "cluster", "module", "debug", "monitor", "pfdebug", "pfselftest", "lolwut",
    # time, randomness and cursors
    "time", "lastsave", "randomkey", "scan", "sscan", "hscan", "zscan", "srandmember", "spop", "hrandfield",
    "zrandmember", "keys", "echo", "ping",
    # relative expiry and time-based IDs, geo floating point (covered by
    # test_differential_bits and test_differential_more)
    "set", "setex", "psetex", "getex", "expire", "pexpire", "expireat", "pexpireat", "xadd", "xautoclaim",
    "xclaim", "xinfo", "xpending", "xreadgroup", "xread", "xsetid", "xgroup", "sort", "sort_ro", "geoadd",
    "geosearch", "geosearchstore", "georadius", "georadius_ro", "georadiusbymember", "georadiusbymember_ro",
    "geodist", "geopos", "geohash",
    # Redis 7.2's WITHSCORE
    "zrank", "zrevrank",
    # the replication and pub/sub protocol
    "psync", "sync", "replconf", "publish", "spublish", "subscribe", "unsubscribe", "psubscribe", "punsubscribe",
    "ssubscribe", "sunsubscribe", "failover", "replicaof", "slaveof",
}
DATA = [("SET", "s", "hello"), ("SET", "n", "10"), ("RPUSH", "l", "a", "b", "c", "1", "2"),
        ("HSET", "h", "f1", "v1", "f2", "2"), ("SADD", "st", "a", "b", "1"),
        ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("XADD", "x", "1-1", "f", "v"), ("XADD", "x", "2-1", "f", "w"),
        ("PFADD", "hll", "a", "b"), ("SET", "bits", b"\x0f\xf0")]
KEYS = ["s", "n", "l", "h", "st", "z", "x", "hll", "bits", "nokey"]
WORDS = ["0", "1", "-1", "2", "3", "10", "abc", "1.5", "-0.5", "", "9223372036854775807", "-9223372036854775808",
         "inf", "+inf", "-inf", "(1", "[a", "-", "+", "*", "$", ">", "0-1", "1-1"]


def fields(flat):
    return dict(zip(flat[::2], flat[1::2]))


def option_words(conn):
    """{command or container|sub: the option tokens its COMMAND DOCS name}"""
    out = {}

    def tokens(args, acc):
        for a in args or []:
            d = fields(a)
            if b"token" in d:
                acc.add(d[b"token"].decode())
            tokens(d.get(b"arguments"), acc)

    def walk(name, body):
        d = fields(body)
        acc = set()
        tokens(d.get(b"arguments"), acc)
        out[name] = sorted(acc)
        sub = d.get(b"subcommands") or []
        for i in range(0, len(sub), 2):
            walk(sub[i].decode(), sub[i + 1])

    docs = conn.call("COMMAND", "DOCS")
    for i in range(0, len(docs), 2):
        walk(docs[i].decode(), docs[i + 1])
    return out


def callable_names(conn):
    names = []

    def text(v):
        return v.decode() if isinstance(v, bytes) else v

    def walk(entry):
        name = text(entry[0])
        flags = {text(f) for f in entry[2]}
        if name.split("|")[0] not in SKIP and not name.endswith("|help") and not flags & SKIP_FLAGS:
            names.append(name)
        for sub in entry[9]:
            walk(sub)

    for entry in conn.call("COMMAND"):
        walk(entry)
    return sorted(names)


def same(a, b):
    """Replies equal up to array order and the text of numbers."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and sorted(map(canon, a), key=repr) == sorted(map(canon, b), key=repr)
    return canon(a) == canon(b)


def canon(v):
    if isinstance(v, list):
        return sorted(map(canon, v), key=repr)
    if isinstance(v, RespError):
        return ("err", str(v))
    if isinstance(v, bytes):
        try:
            return float(v)  # 7.2's shortest double text against 7.0's %.17g
        except ValueError:
            return v
    return v


def populate(c):
    assert c.call("FLUSHALL") == "OK"
    for cmd in DATA:
        c.call(*cmd)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_arguments(server, redis_ref, seed):
    keel, ref = RespConn(server), RespConn(ref_endpoint(redis_ref))
    try:
        words, names = option_words(ref), callable_names(ref)
        rnd = random.Random(seed)
        log = []
        for i in range(CALLS):
            if i % 50 == 0:
                populate(keel)
                populate(ref)
            name = rnd.choice(names)
            argv = name.split("|")
            for _ in range(rnd.randint(0, 6)):
                t = rnd.random()
                opts = words.get(name, [])
                argv.append(rnd.choice(KEYS) if t < 0.35 else rnd.choice(opts) if t < 0.65 and opts
                            else rnd.choice(WORDS))
            if argv[0] == "lpos" and "-9223372036854775808" in argv:
                continue  # Redis 7.2's range check for RANK
            got, want = keel.call(*argv), ref.call(*argv)
            if not same(got, want):
                pytest.fail("seed %d, call #%d differs:\n  %s\n  keel:  %s\n  redis: %s\nbefore it:\n%s"
                            % (seed, i, cli(argv), short(got, 600), short(want, 600), "\n".join(log[-10:])),
                            pytrace=False)
            log.append("  " + cli(argv))
    finally:
        keel.close()
        ref.close()
