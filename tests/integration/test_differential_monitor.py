"""Seeded random differential test of SLOWLOG and MONITOR against Debian's
redis-server 7.0: the command streams of test_differential_stats.py (plain
commands, MULTI blocks, scripts and functions calling commands, errors of
every kind, a user without write permission) run on both servers with
slowlog-log-slower-than 0 and a MONITOR connection open, and then

- every MONITOR line must match: which commands are shown (refused ones,
  those inside MULTI and scripts, in their order), their database, the
  source ("lua" for a script's calls) and the quoting of the arguments;
  timestamps are dropped and client addresses become the connection's role;
- SLOWLOG GET must hold the same entries: the arguments as logged
  (truncated past 32 arguments and 128 bytes each, as Redis does), the
  client's address (as a role) and name; ids, times and durations are
  dropped.

Knobs: KEEL_MONITOR_SEEDS=1-100 (or 1,5,9; default 1-10) and
KEEL_MONITOR_COMMANDS=N (default 200).
"""
import os
import re

import pytest
from resp_client import RespConn
from test_differential import _seeds, ref_endpoint, short
from test_differential_lua import SCRIPTS
from test_differential_stats import LIBRARY, StatsGen, run

SEEDS = _seeds(os.environ.get("KEEL_MONITOR_SEEDS", "1-10"))
COMMANDS = int(os.environ.get("KEEL_MONITOR_COMMANDS", "200"))
END = "monitor-differential-end"
LINE = re.compile(rb"^\+?\d+\.\d+ \[(\d+) ([^\]]+)\] (.*)$", re.S)


def monitor_lines(mon):
    """MONITOR lines up to the ECHO that ends the run."""
    out = []
    while True:
        line = mon.read()
        if isinstance(line, bytes):
            line = line
        else:
            line = str(line).encode()
        out.append(line)
        if END.encode() in line:
            return out


def roles(addrs):
    return {a: r for r, a in addrs.items()}


def norm_monitor(lines, who):
    out = []
    for line in lines:
        m = LINE.match(line)
        if not m:
            out.append(("unparsed", line))
            continue
        db, src, rest = m.groups()
        out.append((db, who.get(src.decode(), src.decode()), rest))
    return out


def norm_slowlog(entries, who):
    out = []
    for e in entries:
        addr = e[4].decode() if isinstance(e[4], bytes) else e[4]
        out.append((e[3], who.get(addr, addr), e[5]))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_monitor_and_slowlog_differential(server, redis_ref, seed):
    eps = {"keel": server, "redis": ref_endpoint(redis_ref)}
    conns = []
    try:
        sides = {}
        for name, ep in eps.items():
            main, limited, mon = RespConn(ep), RespConn(ep), RespConn(ep)
            conns += [main, limited, mon]
            for args in (["FLUSHALL"], ["SCRIPT", "FLUSH"], ["FUNCTION", "FLUSH"],
                         ["ACL", "SETUSER", "statsro", "reset", "on", "nopass", "~*", "+@all", "-@write"],
                         ["CONFIG", "SET", "slowlog-max-len", "100000"],
                         ["CONFIG", "SET", "slowlog-log-slower-than", "0"]):
                main.call(*args)
            assert main.call("FUNCTION", "LOAD", LIBRARY) == b"statslib"
            shas = {n: main.call("SCRIPT", "LOAD", b) for n, b in SCRIPTS.items()}
            assert limited.call("AUTH", "statsro", "x") == "OK"
            assert limited.call("CLIENT", "SETNAME", "limited") == "OK"
            assert main.call("CLIENT", "SETNAME", "main") == "OK"
            who = {}
            for role, c in (("main", main), ("limited", limited)):
                info = c.call("CLIENT", "INFO")
                info = info.decode() if isinstance(info, bytes) else info
                who[re.search(r"addr=(\S+)", info).group(1)] = role
            mon.send("MONITOR")
            assert mon.read() == "OK"
            assert main.call("SLOWLOG", "RESET") == "OK"
            sides[name] = (main, limited, mon, shas, who)
        items = StatsGen(seed + 1000).batch(COMMANDS)
        for item in items:
            for name in eps:
                main, limited, _, shas, _ = sides[name]
                run(main, shas, item, limited)
        got = {}
        for name in eps:
            main, limited, mon, shas, who = sides[name]
            run(main, shas, ["DISCARD"])
            main.call("ECHO", END)
            lines = norm_monitor(monitor_lines(mon), who)
            log = main.call("SLOWLOG", "GET", "-1")
            got[name] = (lines, norm_slowlog(log, who))
        for what, idx in (("MONITOR", 0), ("SLOWLOG", 1)):
            k, r = got["keel"][idx], got["redis"][idx]
            if k != r:
                first = next((i for i in range(min(len(k), len(r))) if k[i] != r[i]), min(len(k), len(r)))
                pytest.fail("seed %d: %s differs at entry %d of %d/%d:\n  keel:  %s\n  redis: %s\n"
                            "entries before (same on both):\n%s\n(rerun: KEEL_MONITOR_SEEDS=%d)"
                            % (seed, what, first, len(k), len(r), short(k[first:first + 3], 1500),
                               short(r[first:first + 3], 1500),
                               "\n".join("  " + short(x, 200) for x in k[max(0, first - 8):first]), seed),
                            pytrace=False)
    finally:
        for c in conns:
            c.close()
        for ep in eps.values():
            c = RespConn(ep)
            c.call("ACL", "DELUSER", "statsro")
            c.call("FUNCTION", "FLUSH")
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
            c.call("CONFIG", "SET", "slowlog-max-len", "128")
            c.call("SLOWLOG", "RESET")
            c.close()
