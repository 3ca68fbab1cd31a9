#!/usr/bin/env bash
# Installs Debian's `victoria-metrics` package (the single-node server) for the metrics
# integration test that proves the Prometheus source works against any server speaking
# the Prometheus query API. Idempotent: does nothing when the binary is there. The
# packaged system service is never left running: the test starts its own server on a
# free loopback port and must not meet a second one on :8428.
set -euo pipefail

if command -v victoria-metrics >/dev/null 2>&1; then
    echo "victoria-metrics: already installed ($(command -v victoria-metrics))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "victoria-metrics: run this as root (it uses apt-get)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Refresh the package lists only when apt does not know the package yet.
if ! apt-cache show victoria-metrics >/dev/null 2>&1; then
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

apt-get install -y -q --no-install-recommends victoria-metrics

# Where systemd runs, the unit may still have been enabled: stop and disable it.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now victoria-metrics.service >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/victoria-metrics ]; then
    /etc/init.d/victoria-metrics stop >/dev/null 2>&1 || true
fi

echo "victoria-metrics: installed ($(command -v victoria-metrics))"
