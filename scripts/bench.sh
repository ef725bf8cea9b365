#!/usr/bin/env bash
# `make bench`: installs wrk (Debian) when missing, then runs the harnesses: bench/run.mjs
# (wrangler dev), bench/prodlike.mjs (workerd through Miniflare's API, CPU per request) and
# bench/stateful.mjs (tasks and held sessions, the same way, beside a stateless call).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk from Debian"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
rm -rf .bench
node bench/run.mjs
node bench/prodlike.mjs
exec node bench/stateful.mjs
