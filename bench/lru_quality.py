#!/usr/bin/python3
"""Eviction quality: Keel against Debian's redis-server under redis-cli --lru-test.

`redis-cli --lru-test N` (Debian's redis-tools 7.0) simulates a cache: in
cycles it pipelines 250 SETs, then 250 GETs, of keys lru:<k> with k drawn
from a power law over 1..N, and prints one line per second:
"<n> Gets/sec | Hits: <h> (<p>%) | Misses: <m> (<p>%)". A GET hits when the
key is still there, i.e. when eviction kept it.

For each maxmemory size and policy, each server runs alone: a fresh server
(no persistence) pinned to core 1 with --maxmemory <size>
--maxmemory-policy <policy> (maxmemory-samples left at its default, 5),
and redis-cli --lru-test pinned to core 0. The first WARMUP_GETS GETs of
output are dropped (the cache fills and the LRU/LFU state settles); the
lines of the next GETS GETs are summed into the hit rate (whole lines, so a
little more). The windows count requests, not seconds, so both servers
(and one server on a busy or an idle machine) are compared after the same
history: an LFU counter knows more about a key after more requests, and a
faster server would otherwise be measured later in its life. DBSIZE is
read once a second over the measured window and averaged: that is how many
keys the server's maxmemory holds at steady state, K below.

The ideal. A static cache holding the K most requested keys is the best
any cache of K keys can do when keys are drawn independently from a fixed
distribution (which is what --lru-test does): its GET hit rate is the
probability that a request names one of those K keys. redis-cli draws k as

    r  = rand() / RAND_MAX                      (uniform on [0, 1])
    pl = ((M^(a+1) - 1) * r + 1) ^ (1 / (a+1))  with M = N + 1, a = 6.2
    k  = M - floor(pl)

(its powerLawRand(1, N, 6.2)). pl piles up near M, so small k are the
popular ones and the probability of k falls as k grows: the K hottest keys
are lru:1 .. lru:K. We simulate the generator: SIM_DRAWS draws with the
same formula (Python's random in place of rand(), same resolution as
glibc's 31-bit rand()), sorted, and ideal(K) is the fraction of draws <= K.
As a check on the simulation the script compares it with the closed form
P(k <= K) = 1 - ((M-K)^(a+1) - 1) / (M^(a+1) - 1) and stops if they differ
by more than 5 standard errors.

The LRU bound. Exact LRU is not the ideal: under independent requests it
keeps keys by recency, not popularity, so even a perfect LRU misses more
than the static cache. For the allkeys-lru rows the table also shows
exact-LRU / ideal for the same K, from Che's approximation (the
characteristic time T with sum_k (1 - exp(-p_k T)) = K; hit rate
sum_k p_k (1 - exp(-p_k T))), computed over the closed-form p_k in groups
of GROUP keys. A sampled LRU cannot beat exact LRU, so that ratio is the
ceiling for the LRU rows; LFU's ceiling is 1.

Usage: bench/lru_quality.py [--sizes 10mb,25mb] [--policies allkeys-lru,allkeys-lfu]
                            [--warmup-gets G] [--gets G] [--keys N] [--servers keel,redis]
                            [--samples N]   (maxmemory-samples for both servers)
(make bench-evict runs it with the defaults: 10mb and 25mb, both policies,
2,000,000 GETs of warm-up, 2,500,000 measured, N = 1,000,000; at 100,000
GETs/s that is 20 s + 25 s per server and configuration.)
"""
import argparse
import bisect
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: servers, pinning, RESP connection)

ALPHA = 6.2  # redis-cli's power-law exponent for --lru-test
RAND_MAX = 2**31 - 1  # glibc
SIM_DRAWS = 2_000_000
GROUP = 250


# ---- the ideal and the LRU bound ----


class Distribution:
    def __init__(self, n, draws=SIM_DRAWS, seed=15):
        self.n = n
        self.m = n + 1
        rng = random.Random(seed)
        m, e = self.m, ALPHA + 1
        span, inv = float(m) ** e - 1.0, 1.0 / e
        out = []
        for _ in range(draws):
            r = rng.randint(0, RAND_MAX) / RAND_MAX
            pl = (span * r + 1.0) ** inv
            out.append(m - 1 - int(pl) + 1)
        out.sort()
        self.draws = out

    def closed_form(self, k):
        e = ALPHA + 1
        return 1.0 - ((self.m - k) ** e - 1.0) / (float(self.m) ** e - 1.0)

    def ideal(self, k):
        """Simulated share of requests naming one of the k hottest keys."""
        sim = bisect.bisect_right(self.draws, k) / len(self.draws)
        exact = self.closed_form(k)
        se = math.sqrt(max(exact * (1 - exact), 1e-12) / len(self.draws))
        if abs(sim - exact) > 5 * se:
            raise SystemExit("lru_quality: simulated ideal %.5f disagrees with the closed form %.5f at K=%d" %
                             (sim, exact, k))
        return sim

    def lru_bound(self, k):
        """Exact LRU's hit rate for a cache of k keys (Che's approximation)."""
        groups = []
        for lo in range(0, self.n, GROUP):
            hi = min(lo + GROUP, self.n)
            mass = self.closed_form(hi) - self.closed_form(lo)
            groups.append((hi - lo, mass / (hi - lo)))

        def occupancy(t):
            return sum(c * -math.expm1(-p * t) for c, p in groups)

        lo, hi = 1.0, 1e15
        for _ in range(100):
            t = math.sqrt(lo * hi)
            if occupancy(t) > k:
                hi = t
            else:
                lo = t
        return sum(c * p * -math.expm1(-p * lo) for c, p in groups)


# ---- one measurement ----


def parse_line(line):
    """(hits, misses) from a --lru-test report line, or None."""
    parts = line.split("|")
    if len(parts) != 3 or "Hits:" not in parts[1]:
        return None
    return int(parts[1].split()[1]), int(parts[2].split()[1])


def measure(name, binary, tmp, size, policy, keys, warmup_gets, gets, samples=None):
    extra = ["--maxmemory-samples", str(samples)] if samples else []
    srv = run.Server(name, binary, tmp,
                     run.NO_PERSISTENCE + ["--maxmemory", size, "--maxmemory-policy", policy] + extra)
    cli = None
    try:
        srv.start()
        # stdbuf: redis-cli's stdout is a pipe here, so without it the
        # per-second lines would arrive in 4 KB lumps.
        cli = subprocess.Popen(run.CLIENT_PIN + ["stdbuf", "-oL", run.CLI_BIN, "-p", str(srv.port), "--lru-test",
                                                 str(keys)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
        run.PROCS.append(cli)
        sizes, stop = [], threading.Event()

        def sample_dbsize():
            conn = run.Conn(srv.port)
            try:
                while not stop.wait(1.0):
                    sizes.append(conn.call("DBSIZE"))
            finally:
                conn.close()

        seen = hits = misses = 0
        sampler = None
        t_start = None
        for line in cli.stdout:
            hm = parse_line(line)
            if hm is None:
                raise run.BenchError("%s: unexpected redis-cli output: %r" % (name, line))
            if sampler is None:
                seen += hm[0] + hm[1]
                if seen >= warmup_gets:
                    sampler = threading.Thread(target=sample_dbsize, daemon=True)
                    sampler.start()
                    t_start = time.time()
                continue
            hits += hm[0]
            misses += hm[1]
            if hits + misses >= gets:
                break
        if sampler is None or hits + misses < gets:
            raise run.BenchError("%s: redis-cli stopped early" % name)
        elapsed = time.time() - t_start
        stop.set()
        sampler.join()
        info = srv.info("stats")
        mem = srv.info("memory")
        return {
            "hit": hits / (hits + misses),
            "gets": (hits + misses) / max(elapsed, 1e-9),
            "dbsize": round(sum(sizes) / max(1, len(sizes))),
            "evicted": int(info.get("evicted_keys", 0)),
            "used": int(mem["used_memory"]),
        }
    finally:
        if cli is not None:
            run.stop_proc(cli)
        srv.stop()
        shutil.rmtree(srv.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="eviction quality under redis-cli --lru-test")
    ap.add_argument("--sizes", default="10mb,25mb")
    ap.add_argument("--policies", default="allkeys-lru,allkeys-lfu")
    ap.add_argument("--warmup-gets", type=int, default=2_000_000)
    ap.add_argument("--gets", type=int, default=2_500_000)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--servers", default="keel,redis")
    ap.add_argument("--samples", type=int, default=None, help="maxmemory-samples for both (default: theirs, 5)")
    args = ap.parse_args()
    binaries = {"keel": run.KEEL_BIN, "redis": run.REDIS_BIN}
    names = [s for s in args.servers.split(",") if s]
    for n in names:
        if n not in binaries:
            ap.error("unknown server %r" % n)
    tmp = tempfile.mkdtemp(prefix="keel-evict-")
    t0 = time.time()
    print("simulating the --lru-test key distribution (%d draws)..." % SIM_DRAWS, flush=True)
    dist = Distribution(args.keys)
    rows = []
    try:
        for size in args.sizes.split(","):
            for policy in args.policies.split(","):
                res = {}
                for n in names:
                    r = measure(n, binaries[n], tmp, size, policy, args.keys, args.warmup_gets, args.gets, args.samples)
                    r["ideal"] = dist.ideal(r["dbsize"])
                    r["ratio"] = r["hit"] / r["ideal"]
                    if policy.endswith("-lru"):
                        r["bound"] = dist.lru_bound(r["dbsize"]) / r["ideal"]
                    res[n] = r
                    print("%-5s %-5s %-12s hit %5.1f%%  dbsize %7d  ideal %5.1f%%  hit/ideal %.3f%s  "
                          "(%d gets/s, %d evicted, used_memory %d)" %
                          (n, size, policy, 100 * r["hit"], r["dbsize"], 100 * r["ideal"], r["ratio"],
                           "  exact-LRU/ideal %.3f" % r["bound"] if "bound" in r else "", r["gets"], r["evicted"],
                           r["used"]), flush=True)
                rows.append((size, policy, res))
    except run.BenchError as e:
        print("lru_quality: error: %s" % e, file=sys.stderr)
        return 1
    finally:
        run.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("redis-cli --lru-test %d, %d GETs of warm-up, %d measured, maxmemory-samples %s; %s; %.0f s in all" %
          (args.keys, args.warmup_gets, args.gets, args.samples or "5 (default)", run.machine_info(),
           time.time() - t0))
    print()
    hdr = "| maxmemory | policy |"
    sep = "|---|---|"
    for n in names:
        hdr += " %s hit | %s DBSIZE | %s ideal | %s hit/ideal |" % (n, n, n, n)
        sep += "---:|---:|---:|---:|"
    if len(names) == 2:
        hdr += " hit/ideal %s/%s | exact-LRU/ideal (%s, %s) |" % (names[0], names[1], names[0], names[1])
        sep += "---:|---:|"
    print(hdr)
    print(sep)
    for size, policy, res in rows:
        line = "| %s | %s |" % (size, policy)
        for n in names:
            r = res[n]
            line += " %.1f%% | %d | %.1f%% | %.3f |" % (100 * r["hit"], r["dbsize"], 100 * r["ideal"], r["ratio"])
        if len(names) == 2:
            a, b = res[names[0]], res[names[1]]
            bound = "%.3f, %.3f" % (a["bound"], b["bound"]) if "bound" in a else "-"
            line += " %.2f | %s |" % (a["ratio"] / b["ratio"], bound)
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
