#!/usr/bin/env bash
# `make bench`: installs wrk (Debian) when missing, then runs both harnesses: bench/run.mjs
# (wrangler dev) and bench/prodlike.mjs (workerd through Miniflare's API, CPU per request).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk from Debian"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
rm -rf .bench
node bench/run.mjs
exec node bench/prodlike.mjs
