#!/usr/bin/env bash
# Installs the npm `@openfeature/flagd-core` package (flagd's own evaluator), pinned, into
# target/flagd-core/ for tests/it/flags/flagd_eval.rs, which checks that the flagd files
# shipdeck writes evaluate as intended. Idempotent: does nothing when already there.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=4.0.1
core=1.12.0
dir=target/flagd-core
installed="$dir/node_modules/@openfeature/flagd-core/package.json"

if [ -f "$installed" ] && grep -q "\"version\": \"$version\"" "$installed"; then
    echo "flagd-core: already installed ($version in $dir)"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "flagd-core: npm (Node 18 or newer) is needed to install it" >&2
    exit 1
fi

mkdir -p "$dir"
if [ ! -f "$dir/package.json" ]; then
    printf '{"name": "shipdeck-flagd-harness", "private": true, "type": "module"}\n' >"$dir/package.json"
fi
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
    "@openfeature/flagd-core@$version" "@openfeature/core@$core"
echo "flagd-core: installed $version in $dir"
