#!/usr/bin/env bash
# The war room's latencies on a real PostgreSQL (started by the tests' harness), one test
# at a time so they do not load each other: follower latency (holder change -> follower
# snapshot), command latency (follower command -> holder journal), takeover after kill -9,
# and a follower's CPU with a 100,000-entry journal. The numbers go in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps/postgresql.sh >/dev/null
CI=1 cargo test --test it -- war_room::followers war_room::failover::a_standby \
    --nocapture --test-threads=1 2>&1 |
    grep -oE '(follower latency|takeover after|follower with).*'
