#!/usr/bin/env bash
# `make bench`: installs wrk (Debian) when missing, then runs the harnesses: bench/run.mjs
# (wrangler dev), bench/prodlike.mjs (workerd through Miniflare's API, CPU per request) and
# bench/stateful.mjs (tasks and held sessions, the same way, beside a stateless call); last, the
# round trips each kind of request waits on, measured by tests/e2e/round-trips.test.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk from Debian"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
rm -rf .bench
node bench/run.mjs
node bench/prodlike.mjs
node bench/stateful.mjs
mkdir -p .bench
held=0
MKIT_ROUND_TRIPS_OUT=.bench/round-trips.md node --test tests/e2e/round-trips.test.mjs >.bench/round-trips.log 2>&1 || held=$?
echo
echo "Round trips per request (tests/e2e/round-trips.test.mjs; docs/architecture.md, \"Round trips per request\"):"
echo
cat .bench/round-trips.md
if [ "$held" -ne 0 ]; then
  echo "bench: the measured round trips differ from docs/architecture.md's table: see .bench/round-trips.log" >&2
  exit "$held"
fi
