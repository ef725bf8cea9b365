#!/usr/bin/env bash
# `make bench`: installs wrk (Debian) when missing, then runs bench/run.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk from Debian"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
rm -rf .bench
exec node bench/run.mjs
