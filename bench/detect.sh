#!/usr/bin/env bash
# Detection figures on the runtime lab (root; runc; about 20 minutes):
#   bench/detect.sh [OUT_DIR]
# Records the lab's normal load to learn from (3 replicas × LEARN_SECONDS per image) and held-out normal
# load (6 replicas × HELDOUT_SECONDS per image), every attack scenario, then runs
#   kestrel eval lab    detection per scenario, false alarms per container-hour
#   kestrel eval speed  scoring speed on one core
#   kestrel rules       the public Falco rule files (when ../shared/data/falco-rules is there)
# and writes them to OUT_DIR (bench/out/detect by default).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-$ROOT/bench/out/detect}
REC=$OUT/recordings
LEARN_SECONDS=${LEARN_SECONDS:-120}
HELDOUT_SECONDS=${HELDOUT_SECONDS:-300}
cargo build --release -p kestrel --quiet
export KESTREL=$ROOT/target/release/kestrel
mkdir -p "$REC"
for image in busybox web; do
  [ -s "$REC/learn-$image.jsonl.zst" ] || lab/normal.sh "$image" 3 "$LEARN_SECONDS" "$REC/learn-$image.jsonl.zst"
  [ -s "$REC/heldout-$image.jsonl.zst" ] || lab/normal.sh "$image" 6 "$HELDOUT_SECONDS" "$REC/heldout-$image.jsonl.zst"
done
SCENARIOS=()
for s in lab/scenarios/*.sh; do
  name=$(basename "$s" .sh)
  [ -s "$REC/scenario-$name.jsonl.zst" ] || lab/run.sh "$name" "$REC/scenario-$name.jsonl.zst" >/dev/null
  SCENARIOS+=("$REC/scenario-$name.jsonl.zst")
done
{
  echo "# kestrel eval lab ($(date -u +%FT%TZ))"
  "$KESTREL" eval lab --learn "$REC/learn-busybox.jsonl.zst" --learn "$REC/learn-web.jsonl.zst" \
    --normal "$REC/heldout-busybox.jsonl.zst" --normal "$REC/heldout-web.jsonl.zst" "${SCENARIOS[@]}"
  echo
  echo "# kestrel eval speed"
  "$KESTREL" eval speed --learn "$REC/learn-busybox.jsonl.zst" --learn "$REC/learn-web.jsonl.zst" \
    "$REC/heldout-busybox.jsonl.zst" "$REC/heldout-web.jsonl.zst" --min-events 2000000
  RULES=$ROOT/../shared/data/falco-rules
  if [ -d "$RULES" ]; then
    echo
    echo "# kestrel rules (Falco's public rule files)"
    "$KESTREL" rules --no-builtin "$RULES/falco_rules.yaml" "$RULES/falco-incubating_rules.yaml" \
      "$RULES/falco-sandbox_rules.yaml"
  fi
} | tee "$OUT/detect.txt"
"$KESTREL" eval lab -f json --learn "$REC/learn-busybox.jsonl.zst" --learn "$REC/learn-web.jsonl.zst" \
  --normal "$REC/heldout-busybox.jsonl.zst" --normal "$REC/heldout-web.jsonl.zst" "${SCENARIOS[@]}" > "$OUT/lab.json"
