#!/bin/sh
# Runs Redis's own test suite (the Tcl tests of Debian's redis source
# package, 7.0.15 on Debian 12) against ./keel-server, a unit at a time:
#   scripts/redis-test-suite.sh [unit/type/string integration/replication ...]
# With no argument every unit of the suite runs (about an hour); the unit
# name `sentinel` runs Redis's Sentinel suite instead (Debian's
# redis-sentinel watching keel-server instances, about five minutes). Results go
# to build/redis-suite/<unit>.log and a summary to build/redis-suite/summary.
# The unit name `moduleapi` builds Redis's test modules (tests/modules, a
# test peer compiled from the same source package, never part of Keel) and
# runs each unit/moduleapi/* test that Redis's runtest-moduleapi runs.
# A developer's tool, not part of `make test`: where Keel answers as Redis
# 7.2+ on purpose (listpack encodings, shortest doubles, XINFO's IDMP
# fields) Redis 7.0's tests disagree: those tests are listed, with the
# reasons, in scripts/redis-test-suite.skip and skipped. Needs root
# (apt-get) on first use. REDIS_SUITE_PORT moves the ports it uses
# (default 21111); REDIS_SUITE_SERVER names the binary under test
# (default ./keel-server; a copy lets you rebuild meanwhile).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/redis-suite"
src="$out/src"
mkdir -p "$out"
if [ ! -d "$src/tests" ]; then
    command -v tclsh >/dev/null || apt-get install -y tcl >/dev/null
    lists="$out/apt"
    mkdir -p "$lists"
    # Debian's sources list with deb-src added, used for this one download.
    sed 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources > "$lists/debian-src.sources"
    apt-get -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$lists" update >/dev/null
    (cd "$out" && apt-get -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$lists" source --download-only redis >/dev/null)
    mkdir -p "$src"
    tar xzf "$out"/redis_*.orig.tar.gz -C "$src" --strip-components=1
fi
mkdir -p "$src/src"
ln -sf "${REDIS_SUITE_SERVER:-$root/keel-server}" "$src/src/redis-server"
for tool in redis-cli redis-benchmark redis-check-aof redis-check-rdb redis-sentinel; do
    ln -sf "/usr/bin/$tool" "$src/src/$tool"
done
units=""
for unit in "$@"; do
    if [ "$unit" = moduleapi ]; then
        make -C "$src/tests/modules" >/dev/null
        units="$units $(grep -o -- '--single unit/moduleapi/[a-z_0-9]*' "$src/runtest-moduleapi" | cut -d' ' -f2)"
    else
        units="$units $unit"
    fi
done
set -- $units
if [ $# -eq 0 ]; then
    # (Not the cluster units: their servers need cluster-enabled yes,
    # which Keel refuses, so each would wait out its timeout.)
    set -- $(sed -n '/^set ::all_tests {/,/^}/p' "$src/tests/test_helper.tcl" | grep -v '[{}]' | grep -v cluster)
fi
: > "$out/summary"
for unit in "$@"; do
    log="$out/$(echo "$unit" | tr / _).log"
    if [ "$unit" = sentinel ]; then
        (cd "$src" && timeout 1800 ./runtest-sentinel > "$log" 2>&1) && rc=0 || rc=$?
        ok=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -c ': OK$' || true)
        err=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -c ': FAILED' || true)
    else
        (cd "$src" && timeout 900 ./runtest --single "$unit" --clients 1 --ignore-encoding --skipfile "$root/scripts/redis-test-suite.skip" --baseport "${REDIS_SUITE_PORT:-21111}" > "$log" 2>&1) && rc=0 || rc=$?
        ok=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -c '^\[ok\]' || true)
        err=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -cE '^\[(err|exception)\]' || true)
    fi
    echo "$unit rc=$rc ok=$ok err=$err" | tee -a "$out/summary"
done
