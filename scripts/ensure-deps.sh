#!/usr/bin/env bash
# Installs what the test suites need when it is missing: redis-server and chromium from apt, the
# Node packages of tests/ from their lockfile. Safe to run repeatedly; does nothing when all is
# present.
set -euo pipefail
cd "$(dirname "$0")/.."

# --node-only: just the Node packages (what `make run` needs for the development IdP).
node_only=false
[ "${1:-}" = "--node-only" ] && node_only=true

missing=()
$node_only || command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
$node_only || [ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-deps: installing ${missing[*]} from apt"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v node >/dev/null 2>&1 || { echo "ensure-deps: Node.js is required (apt-get install nodejs npm)" >&2; exit 1; }

# npm ci only when the lockfile changed since the last install.
stamp=tests/node_modules/.installed-lock-sha256
want=$(sha256sum tests/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "ensure-deps: npm ci in tests/"
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
