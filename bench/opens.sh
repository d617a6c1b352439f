#!/usr/bin/env bash
# What the sensor's open probes cost a watched process: ns per open+close of a read-only file, in a watched
# cgroup, with no sensor, with `kestrel monitor` (opens judged when made), and with
# `kestrel monitor --open-returns` (also when they return: the sys_exit tracepoints). Two files: an ordinary one
# (/etc/hostname) and one merely named like a sensitive file (…/shadow outside /etc: its directory, or with
# --open-returns its own path, is rebuilt in the kernel and userspace drops it). A third column: a null system call
# (getppid) of an unwatched host process — what the syscall tracepoints cost every process of the node. Modes are interleaved, RUNS rounds; medians printed.
#   RUNS=7 N=1000000 bench/opens.sh
set -euo pipefail
cd "$(dirname "$0")/.."
K=${K:-target/release/kestrel}
N=${N:-1000000}
RUNS=${RUNS:-7}
OUT=bench/out/opens
mkdir -p "$OUT"
gcc -O2 -o "$OUT/openloop" bench/openloop.c
gcc -O2 -o "$OUT/nullsys" bench/nullsys.c
echo "not a password file" > "$OUT/shadow"
CGROOT=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
CG=$CGROOT/kestrel-bench-opens
mkdir -p "$CG"
AGENT=
stop_agent() { if [ -n "$AGENT" ]; then kill "$AGENT" 2>/dev/null || true; wait "$AGENT" 2>/dev/null || true; AGENT=; fi; }
trap 'stop_agent; rmdir "$CG" 2>/dev/null || true' EXIT
start_agent() {
  case $1 in
    none) ;;
    kestrel) "$K" monitor -q --cgroup "$CG" -f json > /dev/null 2> "$OUT/agent.err" & AGENT=$! ;;
    returns) "$K" monitor -q --cgroup "$CG" --open-returns -f json > /dev/null 2> "$OUT/agent.err" & AGENT=$! ;;
  esac
  [ "$1" = none ] || sleep 2
}
loop() { sh -c "echo \$\$ > $CG/cgroup.procs && exec $OUT/openloop $N $1"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A res
for _ in $(seq "$RUNS"); do
  for mode in none kestrel returns; do
    start_agent $mode
    res[$mode,plain]+="$(loop /etc/hostname) "
    res[$mode,named]+="$(loop "$OUT/shadow") "
    res[$mode,null]+="$("$OUT/nullsys" $((N * 5))) "
    stop_agent
  done
done
printf '%-10s %16s %22s %24s\n' sensor "ordinary file" "named like shadow" "host's null syscall"
for mode in none kestrel returns; do
  p=$(tr ' ' '\n' <<< "${res[$mode,plain]}" | grep . | median)
  q=$(tr ' ' '\n' <<< "${res[$mode,named]}" | grep . | median)
  z=$(tr ' ' '\n' <<< "${res[$mode,null]}" | grep . | median)
  printf '%-10s %13s ns %19s ns %21s ns\n' $mode "$p" "$q" "$z"
done
echo "(ns per open+close, median of $RUNS runs of $N; 'returns': kestrel --open-returns)"
