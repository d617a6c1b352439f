# Sourced by the benches that time a loop in a watched cgroup (bench/opens.sh, bench/calls.sh), after they set
# K (kestrel), OUT (their output directory) and BENCH (their name): the cgroup, `kestrel monitor` started and
# stopped around each mode, the loop run inside the cgroup, medians.
CGROOT=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
CG=$CGROOT/kestrel-bench-$BENCH
mkdir -p "$CG"
AGENT=
agent_stop() { if [ -n "$AGENT" ]; then kill "$AGENT" 2>/dev/null || true; wait "$AGENT" 2>/dev/null || true; AGENT=; fi; }
trap 'agent_stop; rmdir "$CG" 2>/dev/null || true' EXIT
# agent_start EVENTS [OPTION…]: kestrel monitor on the cgroup, its events to EVENTS; returns once it says it is
# watching (its programs attached), and a second more.
agent_start() {
  local events=$1; shift
  # Emptied here, not by the redirection below: that one runs in the child, and the loop could read the
  # previous monitor's "watching" first (the next loop then started before the probes were attached).
  : > "$OUT/agent.err"
  "$K" monitor --cgroup "$CG" -f json "$@" > "$events" 2> "$OUT/agent.err" & AGENT=$!
  local waited=0
  until grep -q watching "$OUT/agent.err" 2>/dev/null; do
    kill -0 "$AGENT" 2>/dev/null || { cat "$OUT/agent.err" >&2; exit 1; }
    [ $((waited += 1)) -lt 300 ] || { echo "kestrel monitor did not start in 30 s" >&2; exit 1; }
    sleep 0.1
  done
  sleep 1
}
# in_cgroup PROGRAM [ARG…]: runs it inside the watched cgroup, its output on ours.
in_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
