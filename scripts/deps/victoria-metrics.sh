#!/usr/bin/env bash
# Installs Debian's `victoria-metrics` package (the single-node server) for the metrics
# integration test that proves the Prometheus source works against any server speaking
# the Prometheus query API. Idempotent: does nothing when the binary is there. The
# packaged service is never left running: the test starts its own server on a free
# loopback port and must not meet a second one on :8428.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"

if command -v victoria-metrics >/dev/null 2>&1; then
    echo "victoria-metrics: already installed ($(command -v victoria-metrics))"
    exit 0
fi
apt_install_quiet victoria-metrics victoria-metrics
echo "victoria-metrics: installed ($(command -v victoria-metrics))"
