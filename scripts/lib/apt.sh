# Sourced by the installers under scripts/deps/. Installs Debian packages whose system
# service, if any, is never left running: the tests start their own servers on free
# loopback ports and must not meet the packaged ones on the default ports.

# apt_install_quiet NAME PACKAGE... — NAME is the installer's name in messages and the
# system service to keep stopped.
apt_install_quiet() {
    local name=$1
    shift
    if [ "$(id -u)" -ne 0 ]; then
        echo "$name: run this as root (it uses apt-get)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only when apt does not know a package yet.
    if ! apt-cache show "$@" >/dev/null 2>&1; then
        apt-get update -q
    fi
    (
        # Keep maintainer scripts from starting the service: policy-rc.d exit 101 means
        # "action not allowed". Only add (and then remove) our own if none exists.
        policy=/usr/sbin/policy-rc.d
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy"
            chmod 0755 "$policy"
            trap 'rm -f "$policy"' EXIT
        fi
        apt-get install -y -q --no-install-recommends "$@"
    )
    # Where systemd runs, the unit may still have been enabled: stop and disable it.
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now "$name.service" >/dev/null 2>&1 || true
    fi
    if [ -x "/etc/init.d/$name" ]; then
        "/etc/init.d/$name" stop >/dev/null 2>&1 || true
    fi
}
