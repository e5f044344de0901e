#!/usr/bin/env bash
# Installs Keel's build and test dependencies: Debian packages, plus the
# ioredis test client from npm (tests/clients/package-lock.json).
# --check: exit 0 if everything is present, 1 otherwise (prints nothing).
# Not root: prints the apt-get line to run instead (the npm step needs no
# root and runs either way).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# libssl-dev: TLS (and SHA-1); openssl: the CLI the TLS tests and the bench's
# tls section make their certificates with. redis-redisearch: a Redis module
# built for Redis, which the module tests load into Keel and Redis alike.
PKGS=(build-essential pkg-config libjemalloc-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev libssl-dev openssl
      python3-pytest python3-pytest-xdist python3-redis redis-server redis-tools clang-format
      node-redis libhiredis-dev liblzf-dev redis-sentinel nutcracker
      libmicrohttpd-dev liburing-dev libxxhash-dev python3-prometheus-client prometheus-redis-exporter chromium
      redis-redisearch)
IOREDIS_MARK="$ROOT/tests/clients/node_modules/ioredis/package.json"

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${1:-}" = "--check" ]; then
    [ ${#missing[@]} -eq 0 ] && [ -f "$IOREDIS_MARK" ]
    exit
fi

status=0
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "Keel needs these Debian packages. Run:"
        echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
        status=1
    else
        echo "Installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
        # The packaged redis-server is only a benchmark reference, and the tests
        # start redis-sentinel, nutcracker and prometheus-redis-exporter on
        # their own ports: keep all stopped.
        for svc in redis-server redis-sentinel nutcracker prometheus-redis-exporter; do
            if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
            service "$svc" stop >/dev/null 2>&1 || true
        done
    fi
fi

# ioredis is not packaged by Debian, so this one test client comes from npm,
# pinned by tests/clients/package-lock.json; it is never part of the server.
if [ ! -f "$IOREDIS_MARK" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "The ioredis test client needs npm. Run:"
            echo "  sudo apt-get update && sudo apt-get install -y npm"
            exit 1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    fi
    echo "Installing the ioredis test client (npm ci, tests/clients)"
    ok=0
    for attempt in 1 2 3; do
        if npm ci --no-audit --no-fund --prefix "$ROOT/tests/clients"; then
            ok=1
            break
        fi
        echo "npm ci failed (attempt $attempt of 3)" >&2
        if [ "$attempt" -lt 3 ]; then sleep $((attempt * 5)); fi
    done
    if [ "$ok" -ne 1 ] || [ ! -f "$IOREDIS_MARK" ]; then
        echo "Could not install ioredis into tests/clients/node_modules." >&2
        exit 1
    fi
fi
exit "$status"
