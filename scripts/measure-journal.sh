#!/usr/bin/env bash
# Measures the commands that read a large journal: `shipdeck status`, `shipdeck journal`
# and `shipdeck journal --markdown` on a generated journal of 100,000 entries, each run
# three times under /usr/bin/time -v. Prints rows for the Markdown table of
# scripts/measure.sh: wall times, and the largest peak RSS of the three.
#
# Usage: scripts/measure-journal.sh [BINARY]   (or SHIPDECK_BIN=BINARY)
# Without a binary it builds and measures this tree's release binary; pass another build
# to compare before and after.
set -euo pipefail
BIN="${1:-${SHIPDECK_BIN:-}}"
[ -z "$BIN" ] || BIN="$(realpath "$BIN")"
cd "$(dirname "$0")/.."
source scripts/lib/apt.sh
[ -x /usr/bin/time ] || apt_install_quiet time time >/dev/null
if [ -z "$BIN" ]; then
  cargo build --release -q
  BIN="$PWD/target/release/shipdeck"
fi
ENTRIES=100000
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "measure-journal: $*" >&2; exit 1; }

cp fixtures/healthy/plan.yaml fixtures/healthy/flags.yaml "$WORK/"
mkdir -m 0700 "$WORK/.shipdeck"
python3 scripts/lib/journal.py "$WORK/.shipdeck/journal.jsonl" "$ENTRIES"

measure() { # label, arguments...
  local label="$1"; shift
  local ms=() peak=0 wall rss
  for _ in 1 2 3; do
    (cd "$WORK" && /usr/bin/time -v -o "$WORK/time.txt" "$BIN" "$@" >/dev/null) \
      || fail "$label failed: $(cat "$WORK/time.txt")"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt")
    ms+=("$(python3 -c "import sys, functools; print(round(functools.reduce(lambda a, b: a * 60 + float(b), sys.argv[1].split(':'), 0.0) * 1000))" "$wall")")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
    if (( rss > peak )); then peak=$rss; fi
  done
  echo "| \`shipdeck $label\` time / peak RSS, ${ENTRIES}-entry journal | — | ${ms[*]} ms / $((peak / 1024)) MB |"
}
measure "status" status plan.yaml
measure "journal" journal plan.yaml
measure "journal --markdown" journal plan.yaml --markdown
echo "load average (1 min): $(cut -d' ' -f1 /proc/loadavg); journal: $(( $(stat -c %s "$WORK/.shipdeck/journal.jsonl") / 1048576 )) MB" >&2
