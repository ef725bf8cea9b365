#!/usr/bin/env bash
# `make dev`: runs mKit locally in workerd (wrangler dev) with a local D1, on 127.0.0.1.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-8787}"

# Local vars live in .dev.vars (git-ignored). Create it once with working local values.
if [ ! -f .dev.vars ]; then
  secret="whsec_local_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  cat > .dev.vars <<VARS
# Local development values for \`make dev\` (git-ignored). See docs/configuration.md.
OAUTH_ISSUER=http://127.0.0.1:9400/
MCP_RESOURCE=http://127.0.0.1:${port}/mcp
MCP_ALLOWED_ORIGINS=http://localhost:6274
STRIPE_WEBHOOK_SECRET=${secret}
VARS
  echo "dev: wrote .dev.vars with local values"
fi
# The deployment secret (MKIT_SECRET): 32 random bytes, added to an older .dev.vars too.
if ! grep -q '^MKIT_SECRET=' .dev.vars; then
  echo "MKIT_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" >> .dev.vars
  echo "dev: added a generated MKIT_SECRET to .dev.vars"
fi

wrangler d1 migrations apply DB --local >/dev/null

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

MCP_RESOURCE="http://127.0.0.1:${port}/mcp" node scripts/dev-issuer.mjs &
pids+=($!)
# AUTH_SERVER=on: mKit is the authorization server MCP clients register with, and signs people
# in at the dev issuer through its registered client (docs/configuration.md).
as_vars=()
if [ "${AUTH_SERVER:-}" = on ]; then
  as_vars=(--var MKIT_AUTH_SERVER:on --var MKIT_WEB_CLIENT_ID:mkit-test --var MKIT_WEB_CLIENT_SECRET:mkit-test-secret)
fi
wrangler dev --ip 127.0.0.1 --port "$port" --show-interactive-dev-session=false "${as_vars[@]}" &
pids+=($!)

url="http://127.0.0.1:${port}"
for _ in $(seq 1 240); do
  if curl -s -o /dev/null "$url/healthz"; then break; fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then echo "dev: wrangler exited" >&2; exit 1; fi
  sleep 0.5
done

cat <<MSG

  mKit is running (Ctrl-C stops it):
    health     $url/healthz
    MCP        $url/mcp            (OAuth: bearer token required)
    metadata   $url/.well-known/oauth-protected-resource/mcp
    webhook    $url/stripe/webhook
    issuer     http://127.0.0.1:9400/   (dev logins: any user name and password)
    auth mode  ${AUTH_SERVER:-off}   (make dev AUTH_SERVER=on: mKit issues the tokens; point the Inspector at $url/mcp)
  Local D1 state: .wrangler/state   Vars: .dev.vars

  A token for curl:   TOKEN=\$(make -s token)
    curl -s $url/mcp -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
      -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}'
  MCP Inspector:      npx @modelcontextprotocol/inspector  → URL $url/mcp, transport Streamable HTTP

  Grant the paid tool's \`pro\` to make token's user (a signed Stripe test event), or revoke it:
    npm run stripe:event -- customer.subscription.created --user mkit-test --lookup-key pro --url $url
    npm run stripe:event -- customer.subscription.deleted --user mkit-test --url $url

MSG
wait "${pids[1]}"
