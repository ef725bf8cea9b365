#!/usr/bin/env bash
# `make fuzz-smoke`: runs every fuzz target named on the command line from its seeds
# (fuzz/seeds/<target>) for SECONDS each, JOBS at a time, on the --dev build that the Makefile
# has just made. Any crash, failed assertion, hang (an input over 10 s) or input that needs over
# 2 GB fails it; the input is saved in fuzz/artifacts/<target>/.
#
# usage: scripts/fuzz-smoke.sh SECONDS JOBS TARGET...
set -euo pipefail

seconds=$1
jobs=$2
shift 2
bin="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/debug"

one() {
  local t=$1 dir=fuzz/target/smoke/$1
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "fuzz/artifacts/$t"
  if "$bin/$t" -artifact_prefix="fuzz/artifacts/$t/" -max_total_time="$seconds" -timeout=10 \
    "$dir/corpus" "fuzz/seeds/$t" >"$dir/log" 2>&1; then
    echo ok >"$dir/status"
    local stats
    stats=$(sed -En 's/^#([0-9]+).*DONE.*cov: ([0-9]+).*exec\/s: ([0-9]+).*/\1 runs, \3 exec\/s, cov \2/p' "$dir/log")
    printf 'fuzz-smoke: %s ok (%s)\n' "$t" "$stats"
  else
    echo failed >"$dir/status"
    printf '%s\nfuzz-smoke: %s FAILED (log: %s/log, input: fuzz/artifacts/%s/)\n' \
      "$(tail -n 40 "$dir/log")" "$t" "$dir" "$t"
  fi
}

for t in "$@"; do
  # A poll, not `wait -n`: macOS's stock bash 3.2 has no `wait -n`.
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.2; done
  one "$t" &
done
wait

passed=0
failed=0
for t in "$@"; do
  if [ "$(cat "fuzz/target/smoke/$t/status" 2>/dev/null)" = ok ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "fuzz-smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
