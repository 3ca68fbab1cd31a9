#!/usr/bin/env bash
# Installs Debian's `postgresql` package for the Unleash integration tests, which start
# their own throwaway cluster (initdb + postgres from /usr/lib/postgresql/*/bin) on a free
# loopback port. Idempotent: does nothing when initdb and postgres are there. The packaged
# service is never left running: the tests need no cluster of the system's.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"

for bin in /usr/lib/postgresql/*/bin; do
    if [ -x "$bin/initdb" ] && [ -x "$bin/postgres" ]; then
        echo "postgresql: already installed ($bin)"
        exit 0
    fi
done
apt_install_quiet postgresql postgresql
ls -d /usr/lib/postgresql/*/bin
