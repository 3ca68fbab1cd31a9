# Shared by the measuring scripts: reading a process's CPU and memory from /proc, and
# waiting for text on a tmux screen. Expects `T` (the tmux command with its socket).

pid_of() { $T list-panes -t "$1" -F '#{pane_pid}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
ms_now() { date +%s%3N; }
wait_screen() { # session, text, limit ms -> elapsed ms
  local start; start=$(ms_now)
  while ! $T capture-pane -p -t "$1" | grep -q -- "$2"; do
    (( $(ms_now) - start > $3 )) && { echo "timeout"; return; }
    sleep 0.002
  done
  echo $(( $(ms_now) - start ))
}
