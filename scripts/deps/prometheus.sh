#!/usr/bin/env bash
# Installs Debian's `prometheus` package (the `prometheus` and `promtool` binaries) for
# the metrics integration tests. Idempotent: does nothing when both binaries are there.
# The packaged service is never left running: the tests start their own Prometheus on
# free loopback ports and must not meet a second one on :9090.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    echo "prometheus: already installed ($(prometheus --version 2>&1 | head -n 1))"
    exit 0
fi
apt_install_quiet prometheus prometheus
prometheus --version 2>&1 | head -n 1
promtool --version 2>&1 | head -n 1
