#!/usr/bin/env bash
# In-kernel cost of the sensor's probes: the kernel's own BPF run-time counters (kernel.bpf_stats_enabled)
# around each loop of bench/callloop.c run in a watched cgroup under `kestrel monitor` — ns per probe run, the
# probe alone (bench/calls.sh measures what the watched process pays, the monitor's share of the CPUs included).
#   PROGS=on_unlink,on_unlinkat,on_rmdir LOOPS="unlink unlink-rel" N=100000 bench/probecost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
K=${K:-target/release/kestrel}
N=${N:-100000}
PROGS=${PROGS:-on_unlink,on_unlinkat,on_rmdir}
LOOPS=${LOOPS:-unlink unlink-rel unlink unlink-rel}
OUT=bench/out/probecost
mkdir -p "$OUT"
gcc -O2 -o "$OUT/callloop" bench/callloop.c
BENCH=probecost
source bench/agent.sh
was=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
trap 'sysctl -qw kernel.bpf_stats_enabled=$was; agent_stop; rmdir "$CG" 2>/dev/null || true' EXIT
counters() {
  bpftool prog show -j | python3 -c 'import json, sys
want = sys.argv[1].split(",")
print(json.dumps({p["name"]: [p.get("run_time_ns", 0), p.get("run_cnt", 0)] for p in json.load(sys.stdin) if p.get("name") in want}))' "$PROGS"
}
agent_start "$OUT/events"
printf '%-12s %10s %12s\n' loop runs "ns per run"
for l in $LOOPS; do
  a=$(counters); in_cgroup "$OUT/callloop" "$N" "$l" > /dev/null; b=$(counters)
  python3 -c 'import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
t = sum(b[k][0] - a.get(k, [0, 0])[0] for k in b); n = sum(b[k][1] - a.get(k, [0, 0])[1] for k in b)
print("%-12s %10d %12.0f" % (sys.argv[3], n, t / max(n, 1)))' "$a" "$b" "$l"
done
