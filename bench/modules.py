#!/usr/bin/env python3
"""Module commands, Keel and Redis side by side (make bench-modules).

Both servers load the same modules: Debian's RediSearch (SAFEMODE, so a
query runs on the main thread in both) and Keel's test module
(tests/modules/testmod.c, built here). redis-benchmark drives each command
with -c 50 at pipeline 1 and 16 from one core while the server runs on the
other, in BENCH_ROUNDS alternating rounds (default 3); the table gives the
median rate of each server and keel/redis, the median of the per-round
ratios, with their spread.

- tm.kset: a module command writing a string through the key API (its
  cost over plain SET is the module layer's: the context, argv as module
  strings, the key handle);
- tm.call GET: a module command that runs GET through RedisModule_Call;
- FT.ADD / FT.SEARCH: RediSearch indexing a document and searching an index
  of BENCH_DOCS (default 20000) documents for one term.

Benchmarks never fail because of slowness; the exit status is non-zero only
when a server does not start or a module does not load."""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench_servers import CLIENT_PIN, SERVER_PIN, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.environ.get("KEEL_SERVER", os.path.join(ROOT, "keel-server"))
REDIS = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
REDISEARCH = "/usr/lib/redis/modules/redisearch.so"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DOCS = int(os.environ.get("BENCH_DOCS", "20000"))
N1 = int(os.environ.get("BENCH_N", "50000"))
N16 = int(os.environ.get("BENCH_NP", "300000"))



def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args], capture_output=True, text=True)
    return out.stdout.strip()


def start(binary, tmp, name, testmod):
    port = free_port()
    d = os.path.join(tmp, name)
    os.makedirs(d)
    argv = SERVER_PIN + [binary, "--port", str(port), "--dir", d, "--save", "", "--appendonly", "no",
                         "--loadmodule", REDISEARCH, "SAFEMODE", "--loadmodule", testmod, "notype"]
    if binary == KEEL:
        argv += ["--busy-poll-us", "0"]  # an idle spin would count as work
    p = subprocess.Popen(argv, stdout=open(os.path.join(d, "log"), "w"), stderr=subprocess.STDOUT)
    for _ in range(500):
        if cli(port, "PING") == "PONG":
            return p, port
        if p.poll() is not None:
            break
        time.sleep(0.02)
    sys.exit("%s did not start: %s" % (name, open(os.path.join(d, "log")).read()[-2000:]))


def fill(port):
    cli(port, "FT.CREATE", "idx", "SCHEMA", "body", "TEXT", "n", "NUMERIC")
    lines = []
    for i in range(DOCS):
        words = "common w%d x%d" % (i % 100, i % 7)
        lines.append('FT.ADD idx doc%d 1.0 FIELDS body "%s" n %d\n' % (i, words, i))
    subprocess.run(["redis-cli", "-p", str(port)], input="".join(lines), capture_output=True, text=True)
    cli(port, "SET", "k", "v")


def bench(port, args, pipeline, n):
    cmd = CLIENT_PIN + ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(n), "-P", str(pipeline), "-r",
                        "100000", "-q", "--csv"] + args
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) > 1 and re.match(r"^[0-9.]+$", cells[1]):
            return float(cells[1])
    return None


TESTS = [
    ("SET (native, for reference)", ["SET", "key:__rand_int__", "v"]),
    ("tm.kset (key API)", ["tm.kset", "key:__rand_int__", "v"]),
    ("tm.call GET (RedisModule_Call)", ["tm.call", "GET", "k"]),
    ("FT.ADD", ["FT.ADD", "idx", "new:__rand_int__", "1.0", "REPLACE", "FIELDS", "body", "fresh words here"]),
    ("FT.SEARCH one term", ["FT.SEARCH", "idx", "w42", "NOCONTENT", "LIMIT", "0", "10"]),
]


def main():
    if not os.path.exists(REDISEARCH):
        sys.exit("needs Debian's redis-redisearch (%s)" % REDISEARCH)
    tmp = tempfile.mkdtemp(prefix="keel-bench-modules-")
    testmod = os.path.join(tmp, "testmod.so")
    subprocess.run(["cc", "-O2", "-fPIC", "-shared", "-std=c11", "-I", os.path.join(ROOT, "src"), "-o", testmod,
                    os.path.join(ROOT, "tests", "modules", "testmod.c"), "-lpthread"], check=True)
    procs = {}
    try:
        for name, binary in (("keel", KEEL), ("redis", REDIS)):
            procs[name] = start(binary, tmp, name, testmod)
            fill(procs[name][1])
        rates = {}
        for rnd in range(ROUNDS):
            order = ["keel", "redis"] if rnd % 2 == 0 else ["redis", "keel"]
            for label, args in TESTS:
                for p, n in ((1, N1), (16, N16)):
                    for name in order:
                        r = bench(procs[name][1], args, p, n // 10 if label.startswith("FT.SEARCH") else n)
                        rates.setdefault((label, p), {}).setdefault(name, []).append(r)
                        print("round %d %-32s P%-2d %-5s %10.0f/s" % (rnd + 1, label, p, name, r or 0), flush=True)
        print()
        print("| command | pipeline | keel ops/s | redis ops/s | keel/redis | per-round ratios |")
        print("| --- | --- | --- | --- | --- | --- |")
        for (label, p), by in rates.items():
            k, r = by["keel"], by["redis"]
            ratios = [a / b for a, b in zip(k, r) if a and b]
            print("| %s | %d | %.0f | %.0f | %.2f | %s |" % (label, p, statistics.median(k), statistics.median(r),
                                                           statistics.median(ratios),
                                                           " ".join("%.2f" % x for x in ratios)))
    finally:
        for p, _ in procs.values():
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
