#!/usr/bin/env bash
# tmux drives the real binary in the end-to-end screen tests.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"

command -v tmux >/dev/null 2>&1 && exit 0
apt_install_quiet tmux tmux
