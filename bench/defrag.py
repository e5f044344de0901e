#!/usr/bin/env python3
"""What active defragmentation gives back, and what it costs: a cache that
churned. Both servers get BENCH_DEFRAG_KEYS string keys of 100 bytes
(DEBUG POPULATE), then lose two of every three (a Lua loop of DELs), which
leaves the allocator's slabs a third full. Then, side by side:

- memory while fragmented: used_memory, RSS, allocator_frag_ratio;
- Keel with `activedefrag yes` (active-defrag-ignore-bytes 10mb, the other
  thresholds at Redis's defaults), timed until the cycle stops, while
  redis-benchmark runs GET at pipeline 16 against it; the same GET run
  against Redis 7.0 (which cannot defragment on Debian's jemalloc) in the
  same seconds' order, and against Keel again once the cycle is over, so
  the cycle's cost shows as a throughput ratio;
- memory after MEMORY PURGE on both: RSS and allocator_frag_ratio.

`make bench-defrag` runs it (about a minute); it is not part of
`make bench`. Environment: BENCH_DEFRAG_KEYS [1500000], KEEL_SERVER
[./keel-server]. Never fails because of slowness."""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from bench_servers import rps, start, stop_all

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.environ.get("KEEL_SERVER", os.path.join(ROOT, "keel-server"))
REDIS = "/usr/bin/redis-server"
CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
KEYS = int(os.environ.get("BENCH_DEFRAG_KEYS") or 1500000)
GET_N = 2000000


def cli(port, *args):
    return subprocess.run([CLI, "-p", str(port)] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=600).stdout.strip()


def memory(port):
    out = {}
    for line in cli(port, "INFO", "memory").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return {"used": int(out["used_memory"]), "rss": int(out["used_memory_rss"]),
            "frag": float(out["allocator_frag_ratio"]), "running": int(out.get("active_defrag_running", 0))}


def churn(port):
    cli(port, "DEBUG", "POPULATE", KEYS, "k", 100)
    cli(port, "EVAL", "for i=0,%d do if i %% 3 ~= 0 then redis.call('del','k:'..i) end end return 1" % (KEYS - 1), 0)


def mb(n):
    return "%.1f" % (n / 1048576)


def main():
    if not os.path.exists(REDIS):
        raise SystemExit("defrag bench: needs Debian's redis-server")
    tmp = tempfile.mkdtemp(prefix="keel-defrag-")
    procs = []
    try:
        keel, kport = start(KEEL, tmp, "keel", ["--enable-debug-command", "yes"], "defrag")
        redis, rport = start(REDIS, tmp, "redis", ["--enable-debug-command", "yes"], "defrag")
        procs += [keel, redis]
        for port in (kport, rport):
            churn(port)
        time.sleep(1)
        before = {"keel": memory(kport), "redis": memory(rport)}
        # Throughput of the fragmented servers, before any defrag.
        idle_keel = rps(kport, 16, GET_N, ["-t", "get"])
        idle_redis = rps(rport, 16, GET_N, ["-t", "get"])
        cli(kport, "CONFIG", "SET", "active-defrag-ignore-bytes", "10mb")
        cli(kport, "CONFIG", "SET", "activedefrag", "yes")
        t0 = time.time()
        done = {}

        def watch():
            seen = False
            while time.time() - t0 < 300:
                m = memory(kport)
                seen |= m["running"] > 0
                if seen and m["running"] == 0:
                    done["s"] = time.time() - t0
                    return
                time.sleep(0.05)

        w = threading.Thread(target=watch)
        w.start()
        during = rps(kport, 16, GET_N, ["-t", "get"])
        during_s = time.time() - t0
        w.join()
        after_keel = rps(kport, 16, GET_N, ["-t", "get"])
        for port in (kport, rport):
            cli(port, "MEMORY", "PURGE")
        time.sleep(1)
        after = {"keel": memory(kport), "redis": memory(rport)}
        print("Active defragmentation after churn: %d keys of 100 bytes, two of three deleted; Keel with "
              "activedefrag yes, Redis 7.0 cannot defragment on Debian's jemalloc" % KEYS)
        print()
        print("| | used_memory MB | RSS MB fragmented | allocator_frag_ratio fragmented | RSS MB after | "
              "allocator_frag_ratio after |")
        print("|---|---:|---:|---:|---:|---:|")
        for who in ("redis", "keel"):
            b, a = before[who], after[who]
            print("| %s | %s | %s | %.2f | %s | %.2f |" % (who, mb(a["used"]), mb(b["rss"]), b["frag"], mb(a["rss"]),
                                                           a["frag"]))
        print()
        print("- RSS after, Keel/Redis: %.2f (fragmented: %.2f)" % (after["keel"]["rss"] / after["redis"]["rss"],
                                                                    before["keel"]["rss"] / before["redis"]["rss"]))
        print("- the cycle ran %s s (the GET run beside it took %.1f s)" % (
            "%.1f" % done["s"] if "s" in done else "more than 300", during_s))
        print("- GET P16 requests/s: Keel during the cycle %.0f, Keel before %.0f and after %.0f, Redis %.0f; "
              "during/after on Keel %.2f" % (during, idle_keel, after_keel, idle_redis, during / after_keel))
        return 0
    finally:
        stop_all(procs, tmp)


if __name__ == "__main__":
    sys.exit(main())
