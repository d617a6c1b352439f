#!/usr/bin/env bash
# What the sensor's open probes cost a watched process: ns per open+close of a read-only file, in a watched
# cgroup, with no sensor, with `kestrel monitor` (opens judged when made), and with
# `kestrel monitor --open-returns` (also when they return: the sys_exit tracepoints). Two files: an ordinary one
# (/etc/hostname) and one merely named like a sensitive file (…/shadow outside /etc: its directory, or with
# --open-returns its own path, is rebuilt in the kernel and userspace drops it). A third column: a null system call
# (getppid) of an unwatched host process — what the syscall tracepoints cost every process of the node. A fourth mode,
# `kestrel monitor --reads`, reports every read (an event per open: the loop is a flood, what a service that opens
# a file per request pays per request). Modes are interleaved, RUNS rounds; medians printed.
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
BENCH=opens
source bench/agent.sh
start_agent() {
  case $1 in
    none) ;;
    kestrel) agent_start /dev/null ;;
    returns) agent_start /dev/null --open-returns ;;
    reads) agent_start /dev/null --reads ;;
  esac
}
loop() { in_cgroup "$OUT/openloop" "$N" "$1"; }
declare -A res
for _ in $(seq "$RUNS"); do
  for mode in none kestrel returns reads; do
    start_agent $mode
    res[$mode,plain]+="$(loop /etc/hostname) "
    res[$mode,named]+="$(loop "$OUT/shadow") "
    res[$mode,null]+="$("$OUT/nullsys" $((N * 5))) "
    agent_stop
  done
done
printf '%-10s %16s %22s %24s\n' sensor "ordinary file" "named like shadow" "host's null syscall"
for mode in none kestrel returns reads; do
  p=$(tr ' ' '\n' <<< "${res[$mode,plain]}" | grep . | median)
  q=$(tr ' ' '\n' <<< "${res[$mode,named]}" | grep . | median)
  z=$(tr ' ' '\n' <<< "${res[$mode,null]}" | grep . | median)
  printf '%-10s %13s ns %19s ns %21s ns\n' $mode "$p" "$q" "$z"
done
echo "(ns per open+close, median of $RUNS runs of $N; 'returns': kestrel --open-returns; 'reads': kestrel --reads)"
