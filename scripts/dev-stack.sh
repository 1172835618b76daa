#!/usr/bin/env bash
# Local stack for trying the system: a development IdP (oidc-provider, any username logs in),
# the auth-proxy (in-memory store, or Redis when AUTH_PROXY_REDIS_URL is set), the mcp-server,
# and the Nextcloud stand-in (with the real sabre/dav behind its /remote.php/dav/, a PHP process
# it starts itself) unless MCP_SERVER_NEXTCLOUD_URL names a real Nextcloud. Everything binds to
# 127.0.0.1. Ctrl-C stops it all.
#
# Nextcloud credentials use the default strategy, app passwords through Login Flow v2: at the
# first sign-in of a user with an MCP client, the auth-proxy shows a page that opens Nextcloud's
# "Connect to your account" page; log in there and press "Grant access". The stand-in is a stock
# Nextcloud (its Notes API refuses Bearer tokens). With the dev IdP, its login page offers "Log in
# with OpenID Connect" (user_oidc SSO through the dev IdP: you are signed in there already, as
# the same user). With your own IdP, the stand-in has no SSO: give it login passwords with
# NEXTCLOUD_STANDIN_LOGIN_USERS="alice:some-password,bob:other" (user ids = your IdP's `sub`).
#
# Point it at your own IdP instead by exporting AUTH_PROXY_UPSTREAM_ISSUER,
# AUTH_PROXY_UPSTREAM_CLIENT_ID and AUTH_PROXY_UPSTREAM_CLIENT_SECRET (register
# http://127.0.0.1:8080/callback as the redirect URI there). With your own Nextcloud
# (MCP_SERVER_NEXTCLOUD_URL), also export AUTH_PROXY_NEXTCLOUD_URL (the same URL, as the
# auth-proxy reaches it), or AUTH_PROXY_NEXTCLOUD_CREDENTIALS=bearer for a Nextcloud with
# user_oidc bearer validation and the CORS fix (docs).
#
# Ports: PROXY_PORT (8080), MCP_PORT (8000), DEV_IDP_PORT (9400), NEXTCLOUD_STANDIN_PORT (9500);
# metrics at AUTH_PROXY_METRICS_BIND (127.0.0.1:9464) and MCP_SERVER_METRICS_BIND (127.0.0.1:9001).
# Generated secrets are kept in .dev/ of the repository, or in DEV_STATE_DIR (an absolute path;
# the e2e test of this script uses a temporary folder there).
set -euo pipefail
cd "$(dirname "$0")/.."

PROXY_PORT=${PROXY_PORT:-8080}
MCP_PORT=${MCP_PORT:-8000}
IDP_PORT=${DEV_IDP_PORT:-9400}
export AUTH_PROXY_ISSUER=${AUTH_PROXY_ISSUER:-http://127.0.0.1:$PROXY_PORT}
export AUTH_PROXY_BIND=${AUTH_PROXY_BIND:-127.0.0.1:$PROXY_PORT}
export AUTH_PROXY_RESOURCES=${AUTH_PROXY_RESOURCES:-http://127.0.0.1:$MCP_PORT/mcp}

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

NC_PORT=${NEXTCLOUD_STANDIN_PORT:-9500}
STANDIN_SSO=()
DEV=${DEV_STATE_DIR:-$PWD/.dev}
mkdir -p "$DEV"
if [ -z "${AUTH_PROXY_UPSTREAM_ISSUER:-}" ] || [ -z "${MCP_SERVER_NEXTCLOUD_URL:-}" ]; then
  scripts/ensure-deps.sh --node-only
fi
if [ -z "${AUTH_PROXY_UPSTREAM_ISSUER:-}" ]; then
  [ -f "$DEV"/idp-client-secret ] || node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64url'))" > "$DEV"/idp-client-secret
  export AUTH_PROXY_UPSTREAM_ISSUER="http://127.0.0.1:$IDP_PORT"
  export AUTH_PROXY_UPSTREAM_CLIENT_ID=auth-proxy
  export AUTH_PROXY_UPSTREAM_CLIENT_SECRET_FILE="$DEV/idp-client-secret"
  # The stand-in's SSO login (user_oidc) uses the same dev IdP client, with its own redirect URI.
  if [ -z "${MCP_SERVER_NEXTCLOUD_URL:-}" ]; then
    STANDIN_SSO=(--oidc-client-id auth-proxy --oidc-client-secret-file "$DEV/idp-client-secret")
  fi
  # The secret through the environment: a command line is visible to everyone in `ps`.
  DEV_IDP_CLIENT_SECRET="$(cat "$DEV"/idp-client-secret)" node tests/idp/dev-idp.mjs --port "$IDP_PORT" \
    --client-id auth-proxy --redirect-uri "$AUTH_PROXY_ISSUER/callback" \
    --redirect-uri "http://127.0.0.1:$NC_PORT/index.php/apps/user_oidc/code" &
  pids+=($!)
fi

# With Redis, every replica (and every restart) must share keys: keep development ones in .dev/ (DEV_STATE_DIR).
if [ -n "${AUTH_PROXY_REDIS_URL:-}" ]; then
  [ -f "$DEV"/signing-keys.pem ] || node -e "
    const { generateKeyPairSync } = require('crypto');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    process.stdout.write(privateKey.export({ type: 'pkcs8', format: 'pem' }));" > "$DEV"/signing-keys.pem
  [ -f "$DEV"/encryption-key ] || node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64'))" > "$DEV"/encryption-key
  export AUTH_PROXY_SIGNING_KEYS_FILE=${AUTH_PROXY_SIGNING_KEYS_FILE:-$DEV/signing-keys.pem}
  export AUTH_PROXY_ENCRYPTION_KEYS_FILE=${AUTH_PROXY_ENCRYPTION_KEYS_FILE:-$DEV/encryption-key}
fi

# The mcp-server's confidential client at the auth-proxy (token exchange): one shared secret.
[ -f "$DEV"/exchange-secret ] || node -e "process.stdout.write(require('crypto').randomBytes(32).toString('base64url'))" > "$DEV"/exchange-secret
export AUTH_PROXY_EXCHANGE_CLIENT_SECRET_FILE="$DEV/exchange-secret"

# Nextcloud: yours (MCP_SERVER_NEXTCLOUD_URL and AUTH_PROXY_NEXTCLOUD_URL, see the top), or the
# stand-in from tests/ as a stock Nextcloud: Login Flow v2 and app passwords, Notes and OCS in
# memory, DAV (files, calendars, contacts) in the real sabre/dav it starts, with its data in a
# temporary folder that is removed when it stops.
if [ -z "${MCP_SERVER_NEXTCLOUD_URL:-}" ]; then
  node tests/nextcloud/standin.mjs --port "$NC_PORT" --idp-issuer "$AUTH_PROXY_UPSTREAM_ISSUER" \
    "${STANDIN_SSO[@]}" &
  pids+=($!)
  export MCP_SERVER_NEXTCLOUD_URL="http://127.0.0.1:$NC_PORT"
  export AUTH_PROXY_NEXTCLOUD_URL=${AUTH_PROXY_NEXTCLOUD_URL:-$MCP_SERVER_NEXTCLOUD_URL}
  if [ ${#STANDIN_SSO[@]} -gt 0 ]; then
    NC_NOTE="(stand-in + sabre/dav, data discarded on exit; log in there with \"Log in with OpenID Connect\")"
  else
    NC_NOTE="(stand-in + sabre/dav, data discarded on exit; log in with NEXTCLOUD_STANDIN_LOGIN_USERS)"
  fi
else
  NC_NOTE=""
fi

MCP_SERVER_BIND="127.0.0.1:$MCP_PORT" MCP_SERVER_RESOURCE="http://127.0.0.1:$MCP_PORT/mcp" \
  MCP_SERVER_AUTHORIZATION_SERVER="$AUTH_PROXY_ISSUER" \
  MCP_SERVER_CLIENT_SECRET_FILE="$DEV/exchange-secret" target/debug/mcp-server &
pids+=($!)
target/debug/auth-proxy &
pids+=($!)

cat <<MSG

  Local stack starting:
    MCP server URL (give this to your MCP client):  http://127.0.0.1:$MCP_PORT/mcp
    Authorization server (auth-proxy):              $AUTH_PROXY_ISSUER
    Upstream IdP:                                   $AUTH_PROXY_UPSTREAM_ISSUER
    Nextcloud:                                      $MCP_SERVER_NEXTCLOUD_URL $NC_NOTE
    Metrics:                                        http://${AUTH_PROXY_METRICS_BIND:-127.0.0.1:9464}/metrics (auth-proxy)
                                                    http://${MCP_SERVER_METRICS_BIND:-127.0.0.1:9001}/metrics (mcp-server)
  The development IdP accepts any username and password. Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
