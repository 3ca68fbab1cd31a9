#!/usr/bin/env bash
# Every test shipdeck has: installs what the tests need when it is missing (tmux, the
# Prometheus server, ...), then runs the whole suite. Snapshots never update themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

for dep in scripts/deps/*.sh; do
  [ -e "$dep" ] || continue
  bash "$dep"
done

export INSTA_UPDATE=no
cargo test --all-targets --no-fail-fast
