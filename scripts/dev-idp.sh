#!/usr/bin/env bash
# The development IdP alone (oidc-provider; any username and password sign in), for pointing an
# auth-proxy you run yourself at it. Options as tests/idp/dev-idp.mjs, e.g.
#   scripts/dev-idp.sh --port 9400 --client-id auth-proxy --client-secret S \
#       --redirect-uri http://127.0.0.1:8080/callback
# or via DEV_IDP_PORT, DEV_IDP_CLIENT_ID, DEV_IDP_CLIENT_SECRET, DEV_IDP_REDIRECT_URIS.
# Listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh --node-only
exec node tests/idp/dev-idp.mjs "$@"
