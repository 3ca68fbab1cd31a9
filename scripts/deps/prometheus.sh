#!/usr/bin/env bash
# Installs Debian's `prometheus` package (the `prometheus` and `promtool` binaries) for
# the metrics integration tests. Idempotent: does nothing when both binaries are there.
# The packaged system service is never left running: the tests start their own
# Prometheus on free loopback ports and must not meet a second one on :9090.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    echo "prometheus: already installed ($(prometheus --version 2>&1 | head -n 1))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "prometheus: run this as root (it uses apt-get)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Refresh the package lists only when apt does not know the package yet.
if ! apt-cache show prometheus >/dev/null 2>&1; then
    apt-get update -q
fi

# Keep maintainer scripts from starting the service: policy-rc.d exit 101 means
# "action not allowed". Only add (and later remove) our own if none exists.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    own_policy=1
fi
cleanup() {
    if [ "$own_policy" -eq 1 ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT

apt-get install -y -q --no-install-recommends prometheus

# Where systemd runs, the unit may still have been enabled: stop and disable it.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/prometheus ]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
fi

prometheus --version 2>&1 | head -n 1
promtool --version 2>&1 | head -n 1
