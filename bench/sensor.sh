#!/usr/bin/env bash
# Sensor overhead, first figures (issue 4): a null-system-call loop (getppid) and `dd bs=1` (a read and a
# write per byte), each run (1) without the sensor, (2) with the sensor running but the process outside the
# watched cgroups, (3) with the process inside a watched cgroup. Medians of RUNS runs. Root required.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
OUT=$PWD/bench/out; mkdir -p "$OUT"
cargo build --release -q -p kestrel
K=$PWD/target/release/kestrel
gcc -O2 -o "$OUT/nullsys" bench/nullsys.c
ROOT=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
CG="$ROOT/kestrel-bench/c1"; mkdir -p "$CG"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
nullsys() { for _ in $(seq "$RUNS"); do sh -c "$1 $OUT/nullsys 5000000"; done | median; }
ddrate() { for _ in $(seq "$RUNS"); do sh -c "$1 dd if=/dev/zero of=/dev/null bs=1 count=2000000 2>&1" | awk '/copied/ {printf "%.0f\n", 2000000 / $(NF-3) / 1000}'; done | median; }
inside="echo \$\$ > $CG/cgroup.procs;"
echo "null syscall ns/call and dd bs=1 throughput (medians of $RUNS runs)"
echo "without sensor: nullsys $(nullsys '') ns, dd $(ddrate '') kB/s"
$K monitor -q --runc-parent kestrel-bench -f json > "$OUT/sensor-bench.jsonl" 2>/dev/null &
MON=$!
sleep 2
echo "sensor on, process unwatched: nullsys $(nullsys '') ns, dd $(ddrate '') kB/s"
echo "sensor on, process watched: nullsys $(nullsys "$inside") ns, dd $(ddrate "$inside") kB/s"
ps -o rss=,pcpu= -p $MON | awk '{printf "agent RSS %.1f MiB, CPU %s%%\n", $1/1024, $2}'
kill -INT $MON; wait $MON 2>/dev/null || true
echo "events written: $(wc -l < "$OUT/sensor-bench.jsonl")"
rmdir "$CG" "$ROOT/kestrel-bench" 2>/dev/null || true
