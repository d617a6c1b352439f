#!/usr/bin/env bash
# Every held-out set of normal load recorded so far, judged by each build given: false alarms per set (profiles +
# rules, with the set's container-hours) and attacks detected, per group of recordings learned together.
#   bench/heldout-all.sh /tmp/k-old /tmp/k-new
# The groups are the recordings of docs/BENCHMARKS.md (bench/out/detect-*: made by bench/detect.sh, lab/normal.sh);
# a group whose recordings are not on this machine is skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
B=$PWD/bench/out
run() { # NAME LEARN-SET... -- eval lab arguments
  local name=$1; shift
  [ -s "$1" ] || { echo "$name: not recorded here, skipped"; return; }
  shift
  for k in "${BUILDS[@]}"; do
    "$k" eval lab -f json "$@" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
def name(p):
    parts = p.split("/")
    return (parts[-3] if parts[-2] == "recordings" else parts[-2]) + "/" + parts[-1].replace(".jsonl.zst", "")
def one(k, v):
    return "%s=%d+%d(%.3f)" % (name(k), v["profiles"], v["rules"], v["container_hours"])
sets = " ".join(one(k, v) for k, v in d["normal"].items())
print("%s %s: detected %d/%d (profiles %d) | %s" % (sys.argv[1], sys.argv[2], d["detected_both"], d["scenario_count"], d["detected_profiles"], sets))
' "$name" "$(basename "$k")"
  done
}
BUILDS=("$@")
[ ${#BUILDS[@]} -gt 0 ] || { echo "usage: bench/heldout-all.sh BUILD..." >&2; exit 2; }
normals() { for f in "$@"; do [ -s "$f" ] && echo --normal "$f"; done; }
R=$B/detect-1208/recordings
run 1208 "$R/learn-app.jsonl.zst" --learn "$R/learn-busybox.jsonl.zst" --learn "$R/learn-web.jsonl.zst" \
  --learn "$R/learn-app.jsonl.zst" $(normals "$R"/heldout-{busybox,web,app}.jsonl.zst) "$R"/scenario-*.jsonl.zst
R=$B/detect-1209/recordings
run 1209+1210 "$R/learn-app.jsonl.zst" --learn "$R/learn-app.jsonl.zst" \
  $(normals "$R"/heldout-app*.jsonl.zst "$B"/detect-1210/heldout-*.jsonl.zst) "$R"/scenario-*.jsonl.zst
R=$B/detect-1212/recordings
run 1212 "$R/learn-db.jsonl.zst" --learn "$R/learn-db.jsonl.zst" $(normals "$R"/heldout-*.jsonl.zst) \
  "$R"/scenario-*.jsonl.zst
for g in 1213 1214 1215; do
  R=$B/detect-$g/recordings
  run $g "$R/learn-app.jsonl.zst" $(for i in busybox web app db; do echo --learn "$R/learn-$i.jsonl.zst"; done) \
    $(normals "$R"/heldout-*.jsonl.zst) "$R"/scenario-*.jsonl.zst
done
