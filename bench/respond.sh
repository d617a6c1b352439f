#!/usr/bin/env bash
# Time from the triggering event to the response taking effect, and the gates holding (root; runc; ~2 min):
#   RUNS=20 bench/respond.sh
# A busybox workload is learned and put in protect mode; `kestrel detect --live --respond` runs with a
# policy that isolates reverse shells and freezes containers that try to escape; then, RUNS times, a fresh
# container starts a reverse shell (`nc -e /bin/sh` to a listener on the host) and another tries nsenter.
# kestrel prints the event-to-action latency (kernel event time → action done and verified) at the end.
# Then (GATES=0 to skip) the same attacks, GATE_RUNS each, under four policies — dry run, the workload
# allowlisted, approval required, a node rate limit of 3 — and the decisions of each are counted.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-20}
GATE_RUNS=${GATE_RUNS:-5}
OUT=${OUT:-$ROOT/bench/out/respond}
cargo build --release -p kestrel --quiet
K=$ROOT/target/release/kestrel
export KESTREL=$K LAB_DIR=$OUT/lab
source lab/lib.sh
rm -rf "$OUT"; mkdir -p "$OUT"
lab/normal.sh busybox 2 10 "$OUT/learn.jsonl.zst" >/dev/null
"$K" learn -q --workload busybox --mode protect --profiles "$OUT/profiles" "$OUT/learn.jsonl.zst"
RULES='rules:
  - name: cut reverse shells
    when: {rules: ["Reverse shell", "Network tool running a program"]}
    actions: [isolate]
  - name: freeze escapes
    when: {rules: ["Namespace entered from a container"]}
    actions: [pause]'
RULES_APPROVAL=$(sed 's/^\(    actions: .*\)$/\1\n    approval: true/' <<<"$RULES")
PORT=$(free_port)
python3 -c '
import socket, sys
s = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    c, _ = s.accept()
    c.sendall(b"id\n")
' "$PORT" & LISTENER=$!
trap 'kill $LISTENER 2>/dev/null || true' EXIT

# phase NAME RUNS POLICY-HEAD [RULES]: detect with that policy (head + the rules), RUNS attacks, every
# action undone.
phase() {
  local name=$1 runs=$2 head=$3 rules=${4:-$RULES} dir="$OUT/$1"
  mkdir -p "$dir"
  printf '%s\n%s\n' "$head" "$rules" > "$dir/policy.yaml"
  "$K" detect --live --runc-parent kestrel-lab ${DETECT_FLAGS:-} --workload busybox --profiles "$OUT/profiles" \
    --respond "$dir/policy.yaml" --audit "$dir/audit.jsonl" -f json > "$dir/alerts.jsonl" 2> "$dir/detect.log" &
  local det=$!
  until grep -q watching "$dir/detect.log"; do sleep 0.1; done
  for i in $(seq "$runs"); do
    local n="bench-respond-$name-$i-$$"
    make_bundle "$n" busybox; start "$n"
    sleep "${SETTLE:-0}"
    runc exec -d "$n" /bin/nc 127.0.0.1 "$PORT" -e /bin/sh </dev/null >/dev/null 2>&1
    # (Bounded: a freeze can land before nsenter is done, and runc exec then waits on a frozen process until the
    # undo below thaws it.)
    timeout 10 runc exec "$n" /bin/nsenter -t 1 -m -u -i -n -p /bin/true </dev/null >/dev/null 2>&1 || true
    sleep 0.5
    for d in $(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["outcome"] == "acted" and d["action"] in ("isolate", "pause") and sys.argv[2] in d["container"]: print(d["id"])' \
        "$dir/audit.jsonl" "$n" 2>/dev/null | sort -u); do
      "$K" respond undo "$d" --audit "$dir/audit.jsonl" 2>/dev/null || true
    done
    stop "$n"; rm -rf "${LAB_DIR:?}/$n"
  done
  kill -INT $det; wait $det || true
}

# decisions NAME: the latest state of each decision, counted by outcome.
decisions() {
  python3 - "$OUT/$1/audit.jsonl" "$1" <<'PY'
import json, sys, collections, os
last, took = {}, []
path = sys.argv[1]
for l in (open(path) if os.path.exists(path) else []):
    d = json.loads(l); last[d["id"]] = d
    if d["outcome"] == "acted":
        took.append(d["took_us"])
c = collections.Counter(d["outcome"] for d in last.values())
print(f"{sys.argv[2]:<10} decisions {len(last):>3}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
took.sort()
if took and sys.argv[2] == "act":
    print(f"the action alone (evidence, act, verify), µs: p50 {took[len(took)//2]}, max {took[-1]} ({len(took)})")
PY
}

phase act "$RUNS" $'dry_run: false\nrate_limit: {actions: 1000, seconds: 60}\nbudget: {actions: 1000, seconds: 3600}'
{ grep -E "latency|events" "$OUT/act/detect.log"; decisions act; } | tee "$OUT/respond.txt"
[ "${GATES:-1}" = 1 ] || exit 0
phase dry-run "$GATE_RUNS" $'budget: {actions: 1000, seconds: 3600}'
phase allowlist "$GATE_RUNS" $'dry_run: false\nallowlist: ["busy*"]\nbudget: {actions: 1000, seconds: 3600}'
phase approval "$GATE_RUNS" $'dry_run: false\nbudget: {actions: 1000, seconds: 3600}' "$RULES_APPROVAL"
phase rate-limit "$GATE_RUNS" $'dry_run: false\nrate_limit: {actions: 3, seconds: 60}\nbudget: {actions: 1000, seconds: 3600}'
for g in dry-run allowlist approval rate-limit; do decisions "$g"; done | tee -a "$OUT/respond.txt"
