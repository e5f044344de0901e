#!/usr/bin/env python3
"""What observability costs (issue 13): GET and SET at pipeline 1 and 16 on
a Keel with the slow log, latency tracking, the latency monitor and a
scraper reading /metrics every 100 ms, against a Keel with all of them
off. `make bench` runs it after bench/run.py; it prints a table of
requests per second and the on/off ratio (>= 0.97 is the goal).

Both servers are pinned to one core and redis-benchmark to the other, as
bench/run.py does; the two are measured alternately, round after round,
so a drift of the machine hits both. Medians over the rounds.

Environment: BENCH_OBS_ROUNDS [2], BENCH_OBS_N (requests at pipeline 1)
[100000; pipeline 16 runs 5x as many], KEEL_SERVER [./keel-server].

Never fails because of slowness: the exit status is non-zero only when a
server cannot start."""
import os
import shutil
import statistics
import sys
import tempfile
import threading
import urllib.request

from bench_servers import free_port, rps, start, stop_all

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.environ.get("KEEL_SERVER", os.path.join(ROOT, "keel-server"))
CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
ROUNDS = int(os.environ.get("BENCH_OBS_ROUNDS") or 2)
N1 = int(os.environ.get("BENCH_OBS_N") or 100000)

OFF = ["--slowlog-log-slower-than", "-1", "--latency-tracking", "no", "--latency-monitor-threshold", "0"]
ON = ["--slowlog-log-slower-than", "10000", "--latency-tracking", "yes", "--latency-monitor-threshold", "1"]


def scraper(url, stop, counts):
    """GET /metrics every 100 ms until stopped."""
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read()
            counts[0] += 1
        except OSError:
            counts[1] += 1
        stop.wait(0.1)


def main():
    tmp = tempfile.mkdtemp(prefix="keel-obs-")
    procs = []
    try:
        mport = free_port()
        on, on_port = start(KEEL, tmp, "on", ON + ["--metrics-port", str(mport)], "observability")
        off, off_port = start(KEEL, tmp, "off", OFF, "observability")
        procs = [on, off]
        stop, counts = threading.Event(), [0, 0]
        t = threading.Thread(target=scraper, args=("http://127.0.0.1:%d/metrics" % mport, stop, counts), daemon=True)
        t.start()
        tests = [(name, p) for p in (1, 16) for name in ("set", "get")]
        results = {(name, p, which): [] for name, p in tests for which in ("on", "off")}
        for rnd in range(ROUNDS):
            for name, p in tests:
                n = N1 * (5 if p == 16 else 1)
                order = (("on", on_port), ("off", off_port)) if rnd % 2 == 0 else (("off", off_port), ("on", on_port))
                for which, port in order:
                    results[(name, p, which)].append(rps(port, p, n, ["-t", name], row=name))
        stop.set()
        t.join()
        print("Observability cost: Keel with slow log, latency tracking, latency monitor and a /metrics "
              "scrape every 100 ms vs all off (%d rounds, medians; %d scrapes, %d failed)" % (ROUNDS, counts[0],
                                                                                            counts[1]))
        print()
        print("| test | on (req/s) | off (req/s) | on/off |")
        print("|---|---:|---:|---:|")
        for name, p in tests:
            a = statistics.median(results[(name, p, "on")])
            b = statistics.median(results[(name, p, "off")])
            print("| %s P%d | %.0f | %.0f | %.3f |" % (name.upper(), p, a, b, a / b if b else float("nan")))
        return 0
    finally:
        stop_all(procs, tmp)


if __name__ == "__main__":
    sys.exit(main())
