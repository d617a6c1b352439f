#!/usr/bin/env bash
# What the sensor's probes on frequent calls cost a watched process (bench/callloop.c says what each loop does):
# ns per call in a watched cgroup, modes interleaved — no sensor; `kestrel monitor` without the probes being
# measured (KESTREL_SENSOR_SKIP); with them.
#   RUNS=7 N=1000000 bench/calls.sh                 # every loop
#   LOOPS="send sendto" bench/calls.sh              # some
set -euo pipefail
cd "$(dirname "$0")/.."
K=${K:-target/release/kestrel}
N=${N:-1000000}
RUNS=${RUNS:-7}
LOOPS=${LOOPS:-send sendto write writev dns dup2-std dup2-hi fcntl mkdir unlink unlink-rel ftruncate ftruncate-noop mmap-anon mmap-exec mprotect mprotect-jit}
PROBES=on_sendto,on_sendmsg,on_sendmmsg,on_dns_sendto,on_dns_sendmsg,on_dns_sendmmsg,on_dns_write,on_dns_writev,on_dup,on_dup2,on_dup3,on_fcntl,on_mkdir,on_mkdirat,on_unlink,on_unlinkat,on_rmdir,on_ftruncate,on_truncate,on_mmap,on_mprotect,on_pkey_mprotect
OUT=bench/out/calls
mkdir -p "$OUT"
gcc -O2 -o "$OUT/callloop" bench/callloop.c
BENCH=calls
source bench/agent.sh
start_agent() {
  case $1 in
    none) ;;
    no-probes) KESTREL_SENSOR_SKIP=$PROBES agent_start "$OUT/events.$1" ;;
    kestrel) agent_start "$OUT/events.$1" ;;
  esac
}
loop() { in_cgroup "$OUT/callloop" "$N" "$1"; }
declare -A res m
for _ in $(seq "$RUNS"); do
  for mode in none no-probes kestrel; do
    start_agent $mode
    for l in $LOOPS; do res[$mode,$l]+="$(loop "$l") "; done
    agent_stop
  done
done
printf '%-10s' loop; for mode in none no-probes kestrel; do printf '%12s' "$mode"; done; printf '%14s\n' "probes cost"
for l in $LOOPS; do
  printf '%-10s' "$l"
  for mode in none no-probes kestrel; do
    m[$mode]=$(tr ' ' '\n' <<< "${res[$mode,$l]}" | grep . | median)
    printf '%9s ns' "${m[$mode]}"
  done
  awk -v a="${m[kestrel]}" -v b="${m[no-probes]}" 'BEGIN {printf "%+11.0f ns\n", a - b}'
done
ev() { grep -c "\"kind\":\"$1\"" "$OUT/events.kestrel" || true; }
echo "(ns per call, median of $RUNS runs of $N; in the last kestrel run: $(ev send) send, $(ev dns) dns, $(ev dup) dup, $(ev mkdir) mkdir, $(ev unlink) unlink, $(ev truncate) truncate, $(ev mmap) mmap, $(ev exec-memory) exec-memory events)"
