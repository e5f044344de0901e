"""The seed article's patterns through the clients our users run.

redis-py drives the rest of the suite; here node-redis 4.5 (the article's
own client, tests/clients/seed_patterns.js), ioredis 5 (tests/clients/
seed_patterns_ioredis.js, installed from npm by scripts/install-deps.sh),
hiredis (tests/clients/hiredis_patterns.c) and redis-cli (--eval with a
script file, --pipe) run the cache, lock, rate-limiter, pub/sub,
leaderboard and memory patterns against a fresh server each and must
finish cleanly. The three client programs also run the streams pattern
(consumer groups, blocking reads, lag; redis-py's version is
test_seed_streams.py).
"""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, SERVER, seed_script

NODE_PATH = "/usr/share/nodejs"
IOREDIS_PATH = os.path.join(ROOT, "tests", "clients", "node_modules")
SAN = os.path.basename(SERVER).endswith("-san")
HIREDIS_BIN = os.path.join(ROOT, "build", "san" if SAN else "rel", "tests", "hiredis_patterns")


def run(argv, timeout, **kw):
    out = subprocess.run(argv, capture_output=True, timeout=timeout, **kw)
    text = out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")
    return out.returncode, text


def run_node_patterns(keel, script, node_path):
    """Runs a tests/clients script against its own server (the script
    flushes, changes maxmemory and evicts); returns the server."""
    s = keel()
    env = dict(os.environ, NODE_PATH=node_path)
    rc, text = run(["node", os.path.join(ROOT, "tests", "clients", script), str(s.port)], timeout=180, env=env)
    assert rc == 0, text
    assert text.rstrip().endswith("ALL OK"), text
    return s


@pytest.mark.skipif(not shutil.which("node") or not os.path.isdir(os.path.join(NODE_PATH, "redis")),
                    reason="nodejs or node-redis not installed")
def test_node_redis_runs_the_seed_patterns(keel):
    s = run_node_patterns(keel, "seed_patterns.js", NODE_PATH)
    # The connect-time SELECT (database: 3) reached the server.
    assert s.client().info("commandstats")["cmdstat_select"]["calls"] >= 1


@pytest.mark.skipif(not shutil.which("node") or not os.path.isdir(os.path.join(IOREDIS_PATH, "ioredis")),
                    reason="nodejs or ioredis not installed (run scripts/install-deps.sh)")
def test_ioredis_runs_the_seed_patterns(keel):
    s = run_node_patterns(keel, "seed_patterns_ioredis.js", IOREDIS_PATH)
    # ioredis's connect sequence (db: 3, connectionName, CLIENT SETINFO)
    # reached the server: SELECT, and CLIENT SETNAME + 2 SETINFO + the
    # script's GETNAME, ID, INFO and LIST (counted whether or not the stats
    # split CLIENT by subcommand).
    stats = s.client().info("commandstats")
    assert stats["cmdstat_select"]["calls"] >= 1
    assert sum(v["calls"] for k, v in stats.items() if k.split("|")[0] == "cmdstat_client") >= 7


def hiredis_bin():
    """The hiredis program for the server's build mode, built if missing."""
    if not os.path.exists(HIREDIS_BIN):
        argv = ["make", "-s", os.path.relpath(HIREDIS_BIN, ROOT)] + (["SANITIZE=1"] if SAN else [])
        out = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=120)
        assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    return HIREDIS_BIN


@pytest.mark.skipif(not os.path.exists("/usr/include/hiredis/hiredis.h"), reason="libhiredis-dev not installed")
def test_hiredis_runs_the_seed_patterns(keel):
    s = keel()
    rc, text = run([hiredis_bin(), str(s.port)], timeout=60)
    assert rc == 0, text
    assert text.rstrip().endswith("ALL OK"), text


# ---- redis-cli: the same patterns the CLI way ----

RELEASE_LUA = seed_script("lock_release.lua")

LIMITER_LUA = seed_script("rate_limiter.lua")


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


@pytest.mark.skipif(not shutil.which("redis-cli"), reason="redis-cli not installed")
def test_redis_cli_eval_and_pipe_seed_patterns(server, r, tmp_path):
    def cli(*args, stdin=None):
        rc, text = run(["redis-cli", "-p", str(server.port)] + [str(a) for a in args], timeout=30, input=stdin)
        assert rc == 0, text
        return text

    release = tmp_path / "release.lua"
    release.write_text(RELEASE_LUA)
    limiter = tmp_path / "limiter.lua"
    limiter.write_text(LIMITER_LUA)

    # Lock: SET NX PX, then the Lua release with `key , arg`.
    assert cli("set", "resource:critical", "tok-1", "NX", "PX", 30000) == "OK\n"
    assert cli("--no-raw", "set", "resource:critical", "tok-2", "NX", "PX", 30000) == "(nil)\n"
    assert cli("--eval", release, "resource:critical", ",", "tok-2") == "0\n"
    assert cli("--eval", release, "resource:critical", ",", "tok-1") == "1\n"
    assert cli("--no-raw", "--eval", release, "resource:critical", ",", "tok-1") == "(integer) 0\n"
    assert r.exists("resource:critical") == 0

    # Rate limiter: 3 per 60 s; the fourth request in the window is refused.
    now = 1700000000
    got = [cli("--eval", limiter, "user:7", ",", now + i, now + i - 60, 3, 60) for i in range(4)]
    assert got == ["1\n", "1\n", "1\n", "0\n"]
    assert r.zcard("user:7") == 3
    assert 0 < r.ttl("user:7") <= 60
    # A script error comes back as the error text (redis-cli exits 0).
    r.set("user:str", "x")
    assert cli("--eval", limiter, "user:str", ",", now, now - 60, 3, 60).startswith(
        "WRONGTYPE Operation against a key holding the wrong kind of value script: ")

    # Cache-aside and a leaderboard, bulk-loaded with --pipe.
    payload = b"".join([
        resp("SETEX", "user:42", 3600, '{"id":42}'),
        resp("SET", "lock:pipe", "t", "NX", "PX", 30000),
        resp("SET", "lock:pipe", "u", "NX", "PX", 30000),
        resp("LPUSH", "events:queue", "e1", "e2"),
        resp("INCR", "events:counter"),
    ] + [resp("ZADD", "leaderboard:global", i * 10, "player:%d" % i) for i in range(500)] + [
        resp("ZINCRBY", "leaderboard:global", 305, "player:0"),
        resp("EVAL", RELEASE_LUA, 1, "lock:pipe", "t"),
        resp("ZADD", "user:42", 1, "x"),
    ])
    # redis-cli --pipe counts the error replies and then exits 1.
    rc, out = run(["redis-cli", "-p", str(server.port), "--pipe"], timeout=30, input=payload)
    assert rc == 1 and "errors: 1, replies: 508" in out, out
    assert "WRONGTYPE Operation against a key holding the wrong kind of value" in out
    assert r.get("user:42") == b'{"id":42}'
    assert 3590 < r.ttl("user:42") <= 3600
    assert r.exists("lock:pipe") == 0
    assert r.lrange("events:queue", 0, -1) == [b"e2", b"e1"]
    assert r.zcard("leaderboard:global") == 500
    assert cli("zrevrange", "leaderboard:global", 0, 2, "withscores") == \
        "player:499\n4990\nplayer:498\n4980\nplayer:497\n4970\n"
    assert cli("zscore", "leaderboard:global", "player:0") == "305\n"
    assert cli("zrevrank", "leaderboard:global", "player:0") == "469\n"
    assert cli("--no-raw", "zrevrank", "leaderboard:global", "nobody") == "(nil)\n"

    # Memory management as the article types it.
    assert "used_memory_human:" in cli("info", "memory")
    assert int(cli("memory", "usage", "leaderboard:global")) > 500 * 8
    assert cli("config", "set", "maxmemory", "1gb") == "OK\n"
    assert cli("config", "set", "maxmemory-policy", "allkeys-lru") == "OK\n"
    assert cli("config", "get", "maxmemory") == "maxmemory\n1073741824\n"
    assert cli("config", "get", "maxmemory-policy") == "maxmemory-policy\nallkeys-lru\n"
    assert cli("memory", "doctor").strip()
    assert "keys.count" in cli("memory", "stats")
    assert cli("config", "set", "maxmemory", 0, "maxmemory-policy", "noeviction") == "OK\n"
