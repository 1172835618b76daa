#!/usr/bin/env bash
# Installs what the test suites need when it is missing: redis-server, chromium and PHP (for the
# real sabre/dav behind the Nextcloud stand-in, tests/sabredav/) from apt, cargo-deny from
# crates.io, the Node packages of tests/ from their lockfile. Safe to run repeatedly; does nothing when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

# --node-only: just what `make run` needs (Node packages for the development IdP, PHP for the
# stand-in's sabre/dav).
node_only=false
[ "${1:-}" = "--node-only" ] && node_only=true

missing=()
$node_only || command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
$node_only || [ -x /usr/bin/chromium ] || missing+=(chromium)
# PHP 8.2 with the extensions sabre/dav needs (`php -m` names: pdo_sqlite, xml, mbstring, intl).
php_ok=false
if command -v php >/dev/null 2>&1; then
  php_modules=$(php -m 2>/dev/null || true)
  php_ok=true
  for m in pdo_sqlite xml mbstring intl; do
    grep -qix "$m" <<<"$php_modules" || php_ok=false
  done
fi
$php_ok || missing+=(php-cli php-sqlite3 php-xml php-mbstring php-intl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-deps: installing ${missing[*]} from apt"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# cargo-deny for `make lint` (licences, bans, sources; see deny.toml): no registry ships a binary
# these machines may download, so it is built from crates.io once, pinned.
cargo_deny_version=0.20.2
if ! $node_only && ! cargo deny --version 2>/dev/null | grep -qF "$cargo_deny_version"; then
  echo "ensure-deps: cargo install cargo-deny $cargo_deny_version (built once; a few minutes)"
  cargo install --locked --quiet "cargo-deny@$cargo_deny_version"
fi

command -v node >/dev/null 2>&1 || { echo "ensure-deps: Node.js is required (apt-get install nodejs npm)" >&2; exit 1; }

# The sabre/dav libraries are not installed from anywhere: they come with the shared folder.
sabre_dir=${SABRE_DAV_DIR:-../shared/sabre-dav}
[ -f "$sabre_dir/autoload.php" ] || echo "ensure-deps: warning: $sabre_dir/autoload.php is missing; the DAV tests need the shared sabre-dav folder beside the repository (or SABRE_DAV_DIR)" >&2

# npm ci only when the lockfile changed since the last install.
stamp=tests/node_modules/.installed-lock-sha256
want=$(sha256sum tests/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "ensure-deps: npm ci in tests/"
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi

# The official MCP Python SDK for the e2e client test, in tests/.venv (pinned in
# tests/python/requirements.txt; reinstalled only when that file changes).
if ! $node_only; then
  venv=tests/.venv
  pystamp=$venv/.installed-requirements-sha256
  pywant=$(sha256sum tests/python/requirements.txt | cut -d' ' -f1)
  if [ ! -x "$venv/bin/python" ] || [ ! -f "$pystamp" ] || [ "$(cat "$pystamp")" != "$pywant" ]; then
    echo "ensure-deps: Python venv in $venv (mcp SDK)"
    command -v python3 >/dev/null 2>&1 || { echo "ensure-deps: python3 is required" >&2; exit 1; }
    python3 -m venv "$venv" 2>/dev/null || {
      sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
      $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      python3 -m venv "$venv"
    }
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements.txt
    echo "$pywant" > "$pystamp"
  fi
fi
