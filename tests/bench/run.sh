#!/usr/bin/env bash
# `make bench`: installs what the benchmark needs when it is missing (wrk from Debian; the
# original Python server from PyPI into tests/bench/.venv, pinned by requirements.txt and
# constraints.txt), then runs bench.mjs, which prints the table. Expects the release builds
# (`cargo build --release --locked -p auth-proxy -p mcp-server --bin auth-proxy --bin mcp-server
# --example http_floor`; the Makefile does it first).
# BENCH_SMOKE=1: 1 s runs, no original, no venv: proves the script works, measures nothing.
# Extra arguments go to bench.mjs (e.g. --out FILE, --duration 10, --no-original).
set -euo pipefail
cd "$(dirname "$0")/../.."

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
if ! command -v wrk >/dev/null 2>&1; then
  echo "bench: installing wrk from apt"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

venv=tests/bench/.venv
installed=$("$venv/bin/pip" show nextcloud-mcp-server 2>/dev/null || true)
if [ "${BENCH_SMOKE:-0}" != 1 ] && ! grep -qx 'Version: 0.202.1' <<<"$installed"; then
  echo "bench: installing nextcloud-mcp-server 0.202.1 from PyPI into $venv (about a minute)"
  python3 -m venv "$venv" 2>/dev/null || {
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/bench/requirements.txt -c tests/bench/constraints.txt
fi

echo "bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
cd tests
node bench/bench.mjs "$@"
