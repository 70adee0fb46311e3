# Sourced through dev/tools/all.sh. What every tool build shares: the per-machine cache outside the clone
# (SFE_TOOLS_DIR, keyed by version), errors that say what to install, progress lines with wall and CPU time
# (`==> <step> (12 s)`), a heartbeat for long silent commands, and a lock per tool so that two clones (CI and a
# developer) never build the same tool at once.

SFE_TOOLS_DIR="${SFE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sygedagpenge-engine/tools}"
SFE_TOOLS_DIR="${SFE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sygedagpenge-engine/tools}"

tools_die() {
  printf '\nerror: %s\n\n' "$*" >&2
  exit 1
}

tools_require() {
  # tools_require <command> <what it is for> <how to install>
  command -v "$1" >/dev/null 2>&1 || tools_die "'$1' is needed $2, and it is not on PATH. Install it: $3"
}

# Progress. step_begin prints what a step is about to do; step_end prints how long it took. A step that
# finds its result already there prints one line (step_cached).
tools_now_ms() { date +%s%3N; }

tools_duration() {
  # tools_duration <milliseconds>: "0.4 s", "12 s", "6 min 31 s"
  local ms="$1" s
  if [ "$ms" -lt 10000 ]; then
    printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100))
  elif [ "$ms" -lt 60000 ]; then
    printf '%d s' $(((ms + 500) / 1000))
  else
    s=$(((ms + 500) / 1000))
    printf '%d min %d s' $((s / 60)) $((s % 60))
  fi
}

# TOOLS_CPU_MS: CPU time (ms) of the processes this shell has waited for (not callable in $(...), a subshell
# of its own). With the wall time it says how much of a slow step was the machine busy with other work.
tools_read_cpu() {
  local f pid="$BASHPID"
  TOOLS_CPU_MS=0
  read -r -a f < <(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || return 0
  TOOLS_CPU_MS=$(((${f[13]:-0} + ${f[14]:-0}) * 1000 / $(getconf CLK_TCK)))
}

# "<wall>" or "<wall>, <cpu> CPU" since <started ms>, with <cpu ms used meanwhile>.
tools_took() {
  local wall=$(($(tools_now_ms) - $1)) cpu="$2"
  if [ "$cpu" -ge 1000 ]; then printf '%s, %s CPU' "$(tools_duration "$wall")" "$(tools_duration "$cpu")"; else tools_duration "$wall"; fi
}

step_begin() {
  TOOLS_STEP="$1"
  TOOLS_STEP_STARTED="$(tools_now_ms)"
  tools_read_cpu
  TOOLS_STEP_CPU="$TOOLS_CPU_MS"
  echo "==> $1 ..." >&2
}

step_end() {
  # step_end [outcome]: "==> <step>: <outcome> (<wall time>, <CPU time>)"
  tools_read_cpu
  echo "==> $TOOLS_STEP: ${1:-done} ($(tools_took "$TOOLS_STEP_STARTED" $((TOOLS_CPU_MS - TOOLS_STEP_CPU))))" >&2
}

step_cached() {
  echo "==> $1" >&2
}

# Runs a command that prints nothing for minutes (go install), saying every 30 s that it still runs. The
# ticker ends with the command, or within a second of this script ending (Ctrl-C).
with_heartbeat() {
  local label="$1"; shift
  (
    started=$SECONDS next=30
    while sleep 1 && kill -0 "$$" 2>/dev/null; do
      if [ $((SECONDS - started)) -ge "$next" ]; then echo "    ... $label: $next s so far" >&2; next=$((next + 30)); fi
    done
  ) &
  local beat=$! status=0
  "$@" || status=$?
  kill "$beat" 2>/dev/null || true
  wait "$beat" 2>/dev/null || true
  return "$status"
}

# to_log <file> <command...>: runs the command with its output appended to the file.
to_log() {
  local log="$1"; shift
  "$@" >>"$log" 2>&1
}

version_at_least() {
  # version_at_least <have> <need>: true when have >= need (dotted numbers)
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# Serialises concurrent builds of the same tool (two clones, CI and a developer) on one machine.
with_tool_lock() {
  local name="$1"; shift
  mkdir -p "$SFE_TOOLS_DIR"
  (
    if ! flock -n 9; then
      echo "    waiting for another build of $name to finish (lock $SFE_TOOLS_DIR/.$name.lock)" >&2
      tool_lock_waiting "$name"
      flock -w 3600 9 || tools_die "timed out waiting for another build of $name ($SFE_TOOLS_DIR/.$name.lock)"
    fi
    "$@"
  ) 9>"$SFE_TOOLS_DIR/.$name.lock"
}

# Someone now waits for a build that `npm run dev` started in the background at the lowest priority: it gets
# the normal priority back where this user may give it (root may; others keep waiting at nice 19).
tool_lock_waiting() {
  local pidfile="$SFE_TOOLS_DIR/.$1.background" group
  [ -f "$pidfile" ] || return 0
  group="$(cat "$pidfile" 2>/dev/null)" || return 0
  [ -n "$group" ] && kill -0 "$group" 2>/dev/null || return 0
  if renice -n 0 -g "$group" >/dev/null 2>&1; then
    local p
    if command -v chrt >/dev/null 2>&1; then
      for p in $(pgrep -g "$group"); do chrt --other -a -p 0 "$p" >/dev/null 2>&1 || true; done
    fi
    if command -v ionice >/dev/null 2>&1; then ionice -c 2 -n 4 -P "$group" >/dev/null 2>&1 || true; fi
    echo "    (that is the background build of npm run dev, process group $group: now at normal priority)" >&2
  else
    echo "    (that is the background build of npm run dev, process group $group, at nice 19)" >&2
  fi
}
