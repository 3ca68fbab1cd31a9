#!/usr/bin/env bash
# Measures the real binary the way people run it: idle CPU against htop at the same
# refresh, peak memory, time to first frame, keypress latency while the metrics source
# hangs, memory after a simulated day, a follower's cost with a long journal
# (scripts/measure-follower.sh), and the commands that read it (scripts/measure-journal.sh).
# Prints a Markdown table for the README.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps/tmux.sh
source scripts/lib/apt.sh
command -v htop >/dev/null 2>&1 || apt_install_quiet htop htop >/dev/null
cargo build --release -q
BIN="$PWD/target/release/shipdeck"
WORK="$(mktemp -d)"
trap 'tmux -L measure kill-server 2>/dev/null || true; kill "${HANG_PID:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
T="tmux -L measure"

source scripts/lib/measure.sh

# 1. Time to first frame.
start=$(ms_now)
$T new -d -s first -x 160 -y 45 "exec $BIN demo --scenario healthy --speed 15"
first=$(wait_screen first "Pipeline" 10000)
$T kill-session -t first

# 2. Idle cost: the demo at 1 Hz metrics (15 s interval at 15×) beside htop refreshing every second.
$T new -d -s demo -x 160 -y 45 "exec $BIN demo --scenario healthy --speed 15"
$T new -d -s htop -x 160 -y 45 "exec htop -d 10"
sleep 2
DEMO=$(pid_of demo); HTOP=$(pid_of htop)
d0=$(cpu_ticks "$DEMO"); h0=$(cpu_ticks "$HTOP")
sleep 60
d1=$(cpu_ticks "$DEMO"); h1=$(cpu_ticks "$HTOP")
HZ=$(getconf CLK_TCK)
demo_cpu=$(python3 -c "print(f'{($d1-$d0)/$HZ:.2f}')")
htop_cpu=$(python3 -c "print(f'{($h1-$h0)/$HZ:.2f}')")
ratio=$(python3 -c "print(f'{(($d1-$d0)/max($h1-$h0,1)):.2f}')")
peak=$(kb "$DEMO" VmHWM)
$T kill-session -t demo; $T kill-session -t htop

# 3. Keypress to screen while the metrics source hangs (a listener that never answers).
python3 - "$WORK/port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept(); held.append(c)
PY
HANG_PID=$!
while [ ! -s "$WORK/port" ]; do sleep 0.05; done
PORT=$(cat "$WORK/port")
cp fixtures/healthy/flags.yaml "$WORK/flags.yaml"
sed -e "s#^\( *\)source: {kind: simulated[^}]*}#\1source: {kind: prometheus, url: \"http://127.0.0.1:$PORT\", timeout: 30s}\n\1series:\n\1  error_rate: {query: up, unit: ratio}\n\1  p95: {query: up, unit: seconds}\n\1  cpu: {query: up, unit: ratio}\n\1  memory: {query: up, unit: ratio}#" \
    fixtures/healthy/plan.yaml > "$WORK/plan.yaml"
$BIN check "$WORK/plan.yaml" --no-probe >/dev/null
$T new -d -s hang -x 160 -y 45 "exec $BIN open $WORK/plan.yaml"
wait_screen hang "Pipeline" 10000 >/dev/null
sleep 3
lat=()
for _ in 1 2 3 4 5; do
  $T send-keys -t hang '?'
  lat+=("$(wait_screen hang "Keys" 2000)")
  $T send-keys -t hang Escape
  sleep 0.3
done
$T kill-session -t hang

# 4. Memory after a simulated day against after an hour (history is bounded).
$T new -d -s day -x 160 -y 45 "exec $BIN demo --scenario healthy --speed 1440"
DAY=$(pid_of day)
sleep 3
hour_rss=$(kb "$DAY" VmRSS)
sleep 57
day_rss=$(kb "$DAY" VmRSS)
$T kill-session -t day

echo "| measure | target | measured |"
echo "|---|---|---|"
echo "| CPU over 60 s, demo at 1 Hz metrics vs htop -d 10 | ratio ≤ 1 | ${demo_cpu} s vs ${htop_cpu} s: ratio ${ratio} |"
echo "| peak RSS (VmHWM) | < 30 MB | $((peak / 1024)) MB |"
echo "| time to first frame | — | ${first} ms (includes tmux polling) |"
echo "| keypress to screen while the metrics source hangs | < 50 ms | ${lat[*]} ms |"
echo "| RSS after ~1 h / 24 h simulated | equal | $((hour_rss / 1024)) MB / $((day_rss / 1024)) MB |"
bash scripts/measure-follower.sh "$BIN"
bash scripts/measure-journal.sh "$BIN"
