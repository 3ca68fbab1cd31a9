#!/usr/bin/env bash
# tmux drives the real binary in the end-to-end screen tests.
set -euo pipefail
command -v tmux >/dev/null 2>&1 && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq tmux >/dev/null
