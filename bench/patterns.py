#!/usr/bin/python3
"""Pattern benchmark for docs/PATTERNS.md: rate limiters and lock cycles on
keel-server and Debian's redis-server, side by side.

Starts both servers (no persistence) on free ports, loads the seed
article's scripts (tests/seed/rate_limiter.lua, lock_release.lua) into
both with SCRIPT LOAD, then runs ROUNDS rounds (env BENCH_ROUNDS, default
5), servers pinned to core 1 and load generators to core 0; within a
round the order of the servers alternates (keel first in odd
rounds), so drift in the load of this shared machine falls on both. It
prints the median of each row and the median of the per-round ratios.

Limiter rows (redis-benchmark -c 50 -r 10000, -n 100000 at pipeline 1 and
400000 at pipeline 16, keys rl:<12-digit random> so 10,000 subjects):
  EVALSHA limiter   EVALSHA <rate_limiter.lua> 1 rl:__rand_int__
                    1700000000 1699999940 1000000 60: the seed's sliding
                    window with a fixed now, every call allowed (the limit
                    is never reached), so each runs ZREMRANGEBYSCORE, ZCARD,
                    ZADD and EXPIRE; on both servers.
  CL.THROTTLE       CL.THROTTLE rl:__rand_int__ 1000000 1000000 60: every
                    call allowed and stored; Keel only (redis-server has
                    no CL.THROTTLE without the redis-cell module).
  SET (reference)   SET rl:__rand_int__ 1: the floor a one-key write costs
                    on each server at that pipeline depth (at pipeline 1
                    mostly the read/write system calls per request).
Limiter rows again with bench/loadgen.c instead of redis-benchmark (same
commands, keys, -c 50, -r 10000 and request counts, in the same turn of
each server within a round): at pipeline 1 on this 2-core machine
redis-benchmark is itself the bottleneck (pinned to one core it runs at 99%
CPU, mostly in its own epoll_ctl add/remove of the write event around every
request and in send/recv), so its P1 rows measure the client: a plain SET
comes out at only 1.1-1.3x the Lua script. loadgen keeps every connection's
PIPELINE requests outstanding and writes new ones straight after the
replies arrive (one send and a share of one recv per request, no epoll_ctl),
so the server becomes the bottleneck. Each loadgen row also shows loadgen's
own CPU, (user + sys) / wall time (median): well below 1.00 means the
client was not saturated.
Lock rows (bench/lockcycle.c: 4 processes, one connection each, cycles of
SET lock:<p>:<i> <32-hex token> NX PX 30000 + release, 20,000 cycles per
process at pipeline 1 and 100,000 at 16; every reply checked):
  SET NX PX + DELIFEQ   Keel only (Redis 7.0 has no DELIFEQ)
  SET NX PX + EVALSHA   the seed's release script; on both.

Usage: bench/patterns.py KEEL_BINARY LOCKCYCLE_BINARY LOADGEN_BINARY"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench_servers import CLIENT_PIN, SERVER_PIN, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS = "/usr/bin/redis-server"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))



def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True, text=True,
                          check=True).stdout.strip()


def start(binary):
    port = free_port()
    d = tempfile.mkdtemp(prefix="keel-bench-patterns-")
    proc = subprocess.Popen(SERVER_PIN + [binary, "--port", str(port), "--dir", d, "--save", "", "--appendonly",
                                          "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            if cli(port, "PING") == "PONG":
                return proc, port, d
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.05)
    raise SystemExit("%s did not start" % binary)


def seed(name):
    with open(os.path.join(ROOT, "tests", "seed", name)) as f:
        return f.read()


def benchmark(port, pipeline, *command):
    n = 100000 if pipeline == 1 else 400000
    args = ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(n), "-P", str(pipeline), "-r", "10000", "--csv"]
    out = subprocess.run(CLIENT_PIN + args + list(command), capture_output=True, text=True, check=True).stdout
    line = [ln for ln in out.splitlines() if ln and not ln.startswith('"test"')][-1]
    return float(line.split(",")[1].strip('"'))


def loadgen(binary, port, pipeline, *command):
    """(requests per second, loadgen's CPU share) of one loadgen run."""
    n = 100000 if pipeline == 1 else 400000
    args = [binary, "-p", str(port), "-c", "50", "-n", str(n), "-P", str(pipeline), "-r", "10000"]
    res = subprocess.run(CLIENT_PIN + args + list(command), capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit("loadgen %s failed: %s" % (" ".join(command), res.stderr.strip()))
    fields = dict(kv.split("=", 1) for kv in res.stdout.split())
    return float(fields["rps"]), float(fields["cpu"])


def lock_cycles(lockcycle, port, pipeline, mode, sha=""):
    cycles = 20000 if pipeline == 1 else 100000
    out = subprocess.run(CLIENT_PIN + [lockcycle, str(port), mode, "4", str(cycles), str(pipeline), sha],
                         capture_output=True,
                         text=True, check=True).stdout
    return float(out.split("rate=")[1])


def main():
    keel_bin, lockcycle, loadgen_bin = sys.argv[1], sys.argv[2], sys.argv[3]
    servers = {}
    for name, binary in (("keel", keel_bin), ("redis", REDIS)):
        servers[name] = start(binary)
    try:
        sha = {}
        for name, (_, port, _) in servers.items():
            sha[name] = (cli(port, "SCRIPT", "LOAD", seed("rate_limiter.lua")),
                         cli(port, "SCRIPT", "LOAD", seed("lock_release.lua")))
        rows = {}
        cpu = {}  # loadgen rows: loadgen's own CPU share per run

        def add(row, value):
            rows.setdefault(row, []).append(value)

        def add_loadgen(label, name, pipeline, *command):
            port = servers[name][1]
            cli(port, "FLUSHALL")
            rate, share = loadgen(loadgen_bin, port, pipeline, *command)
            add(("limiter-loadgen", label, name, pipeline), rate)
            cpu.setdefault(("limiter-loadgen", label, name, pipeline), []).append(share)

        for rnd in range(ROUNDS):
            order = ["keel", "redis"] if rnd % 2 == 0 else ["redis", "keel"]
            for pipeline in (1, 16):
                for name in order:
                    port = servers[name][1]
                    cli(port, "FLUSHALL")
                    add(("limiter", "EVALSHA limiter", name, pipeline),
                        benchmark(port, pipeline, "EVALSHA", sha[name][0], "1", "rl:__rand_int__", "1700000000",
                                  "1699999940", "1000000", "60"))
                    cli(port, "FLUSHALL")
                    add(("limiter", "SET", name, pipeline), benchmark(port, pipeline, "SET", "rl:__rand_int__", "1"))
                    if name == "keel":
                        cli(port, "FLUSHALL")
                        add(("limiter", "CL.THROTTLE", name, pipeline),
                            benchmark(port, pipeline, "CL.THROTTLE", "rl:__rand_int__", "1000000", "1000000", "60"))
                    add_loadgen("EVALSHA limiter", name, pipeline, "EVALSHA", sha[name][0], "1", "rl:__rand_int__",
                                "1700000000", "1699999940", "1000000", "60")
                    add_loadgen("SET", name, pipeline, "SET", "rl:__rand_int__", "1")
                    if name == "keel":
                        add_loadgen("CL.THROTTLE", name, pipeline, "CL.THROTTLE", "rl:__rand_int__", "1000000",
                                    "1000000", "60")
                    cli(port, "FLUSHALL")
                    add(("lock", "SET NX PX + EVALSHA release", name, pipeline),
                        lock_cycles(lockcycle, port, pipeline, "evalsha", sha[name][1]))
                    if name == "keel":
                        cli(port, "FLUSHALL")
                        add(("lock", "SET NX PX + DELIFEQ", name, pipeline),
                            lock_cycles(lockcycle, port, pipeline, "delifeq"))
            print("round %d of %d done" % (rnd + 1, ROUNDS), file=sys.stderr)

        med = {k: statistics.median(v) for k, v in rows.items()}

        def ratio(a, b):
            return statistics.median(x / y for x, y in zip(rows[a], rows[b]))

        print("Limiter rows driven by redis-benchmark, lock rows by bench/lockcycle:")
        print()
        print("| Benchmark | Server | P1 ops/s | P16 ops/s | P1 min-max | P16 min-max |")
        print("|---|---|---:|---:|---:|---:|")
        for kind, label, name in (("limiter", "SET (reference)", "redis"), ("limiter", "SET (reference)", "keel"),
                                  ("limiter", "EVALSHA limiter (seed)", "redis"),
                                  ("limiter", "EVALSHA limiter (seed)", "keel"), ("limiter", "CL.THROTTLE", "keel"),
                                  ("lock", "SET NX PX + EVALSHA release", "redis"),
                                  ("lock", "SET NX PX + EVALSHA release", "keel"),
                                  ("lock", "SET NX PX + DELIFEQ", "keel")):
            key = label.replace(" (seed)", "").replace(" (reference)", "")
            lo1, hi1 = min(rows[(kind, key, name, 1)]), max(rows[(kind, key, name, 1)])
            lo16, hi16 = min(rows[(kind, key, name, 16)]), max(rows[(kind, key, name, 16)])
            print("| %s | %s | %.0f | %.0f | %.0f-%.0f | %.0f-%.0f |" % (label, name, med[(kind, key, name, 1)],
                                                                         med[(kind, key, name, 16)], lo1, hi1, lo16,
                                                                         hi16))
        print()
        print("Limiter rows driven by bench/loadgen (client CPU: loadgen's (user + sys) / wall, median):")
        print()
        print("| Benchmark | Server | P1 ops/s | P16 ops/s | P1 min-max | P16 min-max | P1 client CPU "
              "| P16 client CPU |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for label, name in (("SET (reference)", "redis"), ("SET (reference)", "keel"),
                            ("EVALSHA limiter (seed)", "redis"), ("EVALSHA limiter (seed)", "keel"),
                            ("CL.THROTTLE", "keel")):
            key = label.replace(" (seed)", "").replace(" (reference)", "")
            r1, r16 = rows[("limiter-loadgen", key, name, 1)], rows[("limiter-loadgen", key, name, 16)]
            c1, c16 = cpu[("limiter-loadgen", key, name, 1)], cpu[("limiter-loadgen", key, name, 16)]
            print("| %s | %s | %.0f | %.0f | %.0f-%.0f | %.0f-%.0f | %.2f | %.2f |" %
                  (label, name, statistics.median(r1), statistics.median(r16), min(r1), max(r1), min(r16), max(r16),
                   statistics.median(c1), statistics.median(c16)))
        print()
        print("Median of per-round ratios (%d rounds):" % ROUNDS)
        for p in (1, 16):
            lim_r = ("limiter", "EVALSHA limiter", "redis", p)
            lim_k = ("limiter", "EVALSHA limiter", "keel", p)
            thr = ("limiter", "CL.THROTTLE", "keel", p)
            lk_r = ("lock", "SET NX PX + EVALSHA release", "redis", p)
            lk_k = ("lock", "SET NX PX + EVALSHA release", "keel", p)
            lk_d = ("lock", "SET NX PX + DELIFEQ", "keel", p)
            print("- P%d, limiters by redis-benchmark: CL.THROTTLE (keel) / EVALSHA limiter (redis) = %.2f; "
                  "/ EVALSHA limiter (keel) = %.2f; locks by lockcycle: DELIFEQ (keel) / EVALSHA (redis) = %.2f; "
                  "/ EVALSHA (keel) = %.2f" % (p, ratio(thr, lim_r), ratio(thr, lim_k), ratio(lk_d, lk_r),
                                               ratio(lk_d, lk_k)))
            lg_r = ("limiter-loadgen", "EVALSHA limiter", "redis", p)
            lg_k = ("limiter-loadgen", "EVALSHA limiter", "keel", p)
            lg_t = ("limiter-loadgen", "CL.THROTTLE", "keel", p)
            print("- P%d, limiters by loadgen: CL.THROTTLE (keel) / EVALSHA limiter (redis) = %.2f; "
                  "/ EVALSHA limiter (keel) = %.2f" % (p, ratio(lg_t, lg_r), ratio(lg_t, lg_k)))
    finally:
        for proc, _, d in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
