#!/usr/bin/env bash
# Installs Keel's build and test dependencies from Debian packages.
# --check: exit 0 if everything is present, 1 otherwise (prints nothing).
# Not root: prints the apt-get line to run instead.
set -euo pipefail
PKGS=(build-essential pkg-config libjemalloc-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev libssl-dev
      python3-pytest python3-pytest-xdist python3-redis redis-server redis-tools clang-format)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${1:-}" = "--check" ]; then
    [ ${#missing[@]} -eq 0 ]
    exit
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "Keel needs these Debian packages. Run:"
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
# The packaged redis-server is only a benchmark reference: keep it stopped.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
service redis-server stop >/dev/null 2>&1 || true
