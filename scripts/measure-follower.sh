#!/usr/bin/env bash
# Measures a follower (a second `shipdeck open` on a release another process holds) with
# a 100,000-entry journal: its CPU over 30 s while the holder appends, its peak memory,
# and the cost of `shipdeck status` on the same store. Prints rows for the Markdown table
# of scripts/measure.sh.
#
# Usage: scripts/measure-follower.sh [BINARY]   (or SHIPDECK_BIN=BINARY)
# Without a binary it builds and measures this tree's release binary; pass another build
# to compare before and after.
set -euo pipefail
BIN="${1:-${SHIPDECK_BIN:-}}"
# The holder and the follower run from the release's directory: the binary's path must
# not be relative.
[ -z "$BIN" ] || BIN="$(realpath "$BIN")"
cd "$(dirname "$0")/.."
bash scripts/deps/tmux.sh
source scripts/lib/apt.sh
[ -x /usr/bin/time ] || apt_install_quiet time time >/dev/null
if [ -z "$BIN" ]; then
  cargo build --release -q
  BIN="$PWD/target/release/shipdeck"
fi
ENTRIES=100000
WORK="$(mktemp -d)"
T="tmux -L measure"
HOLDER=""
cleanup() {
  $T kill-server 2>/dev/null || true
  # The holder journals its stop on the way out: let it finish before the store goes.
  for _ in $(seq 50); do
    [ -n "$HOLDER" ] && kill -0 "$HOLDER" 2>/dev/null || break
    sleep 0.1
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

source scripts/lib/measure.sh
fail() { echo "measure-follower: $*" >&2; exit 1; }

# A release with a long history: entries shaped like the ones a run writes, a minute of
# engine time apart, ending before the holder starts.
cp fixtures/healthy/plan.yaml fixtures/healthy/flags.yaml "$WORK/"
mkdir -m 0700 "$WORK/.shipdeck"
python3 scripts/lib/journal.py "$WORK/.shipdeck/journal.jsonl" "$ENTRIES"

# The holder: a headless run at 60× appends an entry about every minute of real time.
$T new -d -s holder -x 160 -y 45 "cd $WORK && exec $BIN run plan.yaml --headless --speed 60"
for _ in $(seq 600); do
  [ -s "$WORK/.shipdeck/holder.json" ] && break
  sleep 0.1
done
[ -s "$WORK/.shipdeck/holder.json" ] || fail "the holder did not take the lock in 60 s"
HOLDER=$(pid_of holder)

# The follower.
$T new -d -s follower -x 160 -y 45 "cd $WORK && exec $BIN open plan.yaml"
shown=$(wait_screen follower "READ-ONLY" 60000)
[ "$shown" != timeout ] || fail "the follower did not show READ-ONLY in 60 s"
FOLLOWER=$(pid_of follower)
sleep 2
load=$(cut -d' ' -f1 /proc/loadavg)
c0=$(cpu_ticks "$FOLLOWER")
sleep 30
c1=$(cpu_ticks "$FOLLOWER")
HZ=$(getconf CLK_TCK)
follower_cpu=$(python3 -c "print(f'{($c1-$c0)/$HZ:.2f}')")
follower_peak=$(kb "$FOLLOWER" VmHWM)
$T capture-pane -p -t follower | grep -q "READ-ONLY" || fail "the follower stopped following"

# `status` on the same store, three times, while both still run.
status_ms=(); status_kb=0
for _ in 1 2 3; do
  (cd "$WORK" && /usr/bin/time -v -o "$WORK/time.txt" "$BIN" status plan.yaml >/dev/null) \
    || fail "status failed: $(cat "$WORK/time.txt")"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt")
  status_ms+=("$(python3 -c "import sys, functools; print(round(functools.reduce(lambda a, b: a * 60 + float(b), sys.argv[1].split(':'), 0.0) * 1000))" "$wall")")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  if (( rss > status_kb )); then status_kb=$rss; fi
done
echo "| follower CPU over 30 s, ${ENTRIES}-entry journal, holder at 60× | — | ${follower_cpu} s |"
echo "| follower peak RSS (VmHWM), ${ENTRIES}-entry journal | — | $((follower_peak / 1024)) MB |"
echo "| follower open to READ-ONLY screen, ${ENTRIES}-entry journal | — | ${shown} ms (includes tmux polling) |"
echo "| \`shipdeck status\` time / peak RSS, ${ENTRIES}-entry journal | — | ${status_ms[*]} ms / $((status_kb / 1024)) MB |"
entries=$(wc -l < "$WORK/.shipdeck/journal.jsonl")
# To stderr, after the rows: the table stays whole when both streams are shown.
echo "load average (1 min) at the start of the 30 s: $load; journal: $entries entries, $(( $(stat -c %s "$WORK/.shipdeck/journal.jsonl") / 1048576 )) MB" >&2

