#!/usr/bin/env bash
# What the sensor's datagram-send probes (sendto/sendmsg/sendmmsg with a destination) cost a watched process:
# ns per 1-byte UDP datagram to a local socket that never reads, in a watched cgroup — by send() on a connected socket
# (no address: the probe returns after one comparison) and by sendto() with the address each time (the probe
# reads the address and the socket and looks the peer up in its per-process map: reported once per 10 s).
# Modes interleaved: no sensor; `kestrel monitor` without the send probes (KESTREL_SENSOR_SKIP); with them.
#   RUNS=7 N=1000000 bench/sends.sh
set -euo pipefail
cd "$(dirname "$0")/.."
K=${K:-target/release/kestrel}
N=${N:-1000000}
RUNS=${RUNS:-7}
OUT=bench/out/sends
mkdir -p "$OUT"
gcc -O2 -o "$OUT/sendloop" bench/sendloop.c
CGROOT=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
CG=$CGROOT/kestrel-bench-sends
mkdir -p "$CG"
AGENT=
stop_agent() { if [ -n "$AGENT" ]; then kill "$AGENT" 2>/dev/null || true; wait "$AGENT" 2>/dev/null || true; AGENT=; fi; }
trap 'stop_agent; rmdir "$CG" 2>/dev/null || true' EXIT
start_agent() {
  case $1 in
    none) ;;
    no-send) KESTREL_SENSOR_SKIP=on_sendto,on_sendmsg,on_sendmmsg "$K" monitor -q --cgroup "$CG" -f json > "$OUT/events.$1" 2> "$OUT/agent.err" & AGENT=$! ;;
    kestrel) "$K" monitor -q --cgroup "$CG" -f json > "$OUT/events.$1" 2> "$OUT/agent.err" & AGENT=$! ;;
  esac
  [ "$1" = none ] || sleep 2
}
loop() { sh -c "echo \$\$ > $CG/cgroup.procs && exec $OUT/sendloop $N $1"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A res
for _ in $(seq "$RUNS"); do
  for mode in none no-send kestrel; do
    start_agent $mode
    res[$mode,send]+="$(loop send) "
    res[$mode,sendto]+="$(loop sendto) "
    stop_agent
  done
done
printf '%-10s %22s %26s\n' sensor "send (no address)" "sendto (same peer)"
for mode in none no-send kestrel; do
  p=$(tr ' ' '\n' <<< "${res[$mode,send]}" | grep . | median)
  q=$(tr ' ' '\n' <<< "${res[$mode,sendto]}" | grep . | median)
  printf '%-10s %19s ns %23s ns\n' $mode "$p" "$q"
done
echo "(ns per datagram, median of $RUNS runs of $N; send events in the last kestrel run: $(grep -c '"kind":"send"' "$OUT/events.kestrel" || true))"
