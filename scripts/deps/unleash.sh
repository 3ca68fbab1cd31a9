#!/usr/bin/env bash
# Installs the npm `unleash-server` package, pinned, into target/unleash-server/ for the
# Unleash integration tests (tests/it/support/unleash.rs starts it from there). Idempotent:
# does nothing when the pinned version is already there. 7.5.1 is the newest release
# whose engines field still accepts Node 20 (7.6 and 8.x want Node 22).
set -euo pipefail
cd "$(dirname "$0")/../.."

version=7.5.1
dir=target/unleash-server
installed="$dir/node_modules/unleash-server/package.json"

if [ -f "$installed" ] && grep -q "\"version\": \"$version\"" "$installed"; then
    echo "unleash-server: already installed ($version in $dir)"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "unleash-server: npm (Node 20 or newer) is needed to install it" >&2
    exit 1
fi

mkdir -p "$dir"
if [ ! -f "$dir/package.json" ]; then
    printf '{"name": "shipdeck-unleash-harness", "private": true, "type": "module"}\n' >"$dir/package.json"
fi
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --omit=dev \
    "unleash-server@$version"
echo "unleash-server: installed $version in $dir"
