#!/usr/bin/env bash
# Installs Debian's `postgresql` package for the Unleash integration tests, which start
# their own throwaway cluster (initdb + postgres from /usr/lib/postgresql/*/bin) on a free
# loopback port. Idempotent: does nothing when initdb and postgres are there. The packaged
# system service is never left running: the tests need no cluster of the system's.
set -euo pipefail

for bin in /usr/lib/postgresql/*/bin; do
    if [ -x "$bin/initdb" ] && [ -x "$bin/postgres" ]; then
        echo "postgresql: already installed ($bin)"
        exit 0
    fi
done

if [ "$(id -u)" -ne 0 ]; then
    echo "postgresql: run this as root (it uses apt-get)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Refresh the package lists only when apt does not know the package yet.
if ! apt-cache show postgresql >/dev/null 2>&1; then
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

apt-get install -y -q --no-install-recommends postgresql

# Where systemd runs, the unit may still have been enabled: stop and disable it.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now postgresql.service >/dev/null 2>&1 || true
fi

ls -d /usr/lib/postgresql/*/bin
