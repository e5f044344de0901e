#!/usr/bin/env python3
"""What idempotent production costs (Redis 8.6's XADD IDMP / IDMPAUTO):
XADD at pipeline 1 and 16, plain, with IDMP (one producer, a fresh iid per
message, so every call remembers one and forgets the oldest) and with
IDMPAUTO (the iid hashed from the fields), on Keel; and plain XADD on
Debian's redis-server 7.0 (which has no IDMP) for scale. `make bench` runs
it after bench/run.py; it prints requests per second and two ratios:
IDMP/plain on Keel (the cost) and Keel-with-IDMP/Redis-plain.

Streams are capped with MAXLEN ~ 10000 so memory stays flat. Servers are
pinned to one core and redis-benchmark to the other, measured alternately
round after round; medians over the rounds.

Environment: BENCH_IDMP_ROUNDS [2], BENCH_IDMP_N (requests at pipeline 1)
[50000; pipeline 16 runs 5x as many], KEEL_SERVER [./keel-server].

Never fails because of slowness: the exit status is non-zero only when a
server cannot start."""
import os
import statistics
import sys
import tempfile

from bench_servers import rps, start, stop_all

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEEL = os.environ.get("KEEL_SERVER", os.path.join(ROOT, "keel-server"))
REDIS = "/usr/bin/redis-server"
ROUNDS = int(os.environ.get("BENCH_IDMP_ROUNDS") or 2)
N1 = int(os.environ.get("BENCH_IDMP_N") or 50000)

CAP = ["MAXLEN", "~", "10000"]
FORMS = {
    "plain": ["XADD", "s"] + CAP + ["*", "f", "__rand_int__"],
    "IDMP": ["XADD", "s", "IDMP", "producer-1", "msg-__rand_int__"] + CAP + ["*", "f", "v"],
    "IDMPAUTO": ["XADD", "s", "IDMPAUTO", "producer-1"] + CAP + ["*", "f", "__rand_int__"],
}


def main():
    tmp = tempfile.mkdtemp(prefix="keel-idmp-")
    procs = []
    try:
        keel, kport = start(KEEL, tmp, "keel", [], "idempotency")
        procs.append(keel)
        redis = rport = None
        if os.path.exists(REDIS):
            redis, rport = start(REDIS, tmp, "redis", [], "idempotency")
            procs.append(redis)
        runs = [("keel", kport, form) for form in FORMS] + ([("redis", rport, "plain")] if rport else [])
        results = {(who, form, p): [] for who, _, form in runs for p in (1, 16)}
        for rnd in range(ROUNDS):
            for p in (1, 16):
                order = runs if rnd % 2 == 0 else list(reversed(runs))
                for who, port, form in order:
                    n = N1 * (5 if p == 16 else 1)
                    results[(who, form, p)].append(rps(port, p, n, FORMS[form], keyspace=100000000))
        med = {k: statistics.median(v) for k, v in results.items()}
        print("Idempotent production: XADD on Keel plain, with IDMP and with IDMPAUTO, and plain on Redis 7.0 "
              "(%d rounds, medians, requests/s)" % ROUNDS)
        print()
        print("| pipeline | Keel plain | Keel IDMP | Keel IDMPAUTO | Redis plain | IDMP/plain | IDMPAUTO/plain "
              "| Keel IDMP/Redis plain |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for p in (1, 16):
            kp, ki, ka = med[("keel", "plain", p)], med[("keel", "IDMP", p)], med[("keel", "IDMPAUTO", p)]
            rp = med.get(("redis", "plain", p), float("nan"))
            print("| %d | %.0f | %.0f | %.0f | %.0f | %.3f | %.3f | %.2f |" % (p, kp, ki, ka, rp, ki / kp, ka / kp,
                                                                           ki / rp))
        return 0
    finally:
        stop_all(procs, tmp)


if __name__ == "__main__":
    sys.exit(main())
