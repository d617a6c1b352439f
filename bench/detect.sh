#!/usr/bin/env bash
# Detection figures on the runtime lab (root; runc; about 55 minutes):
#   bench/detect.sh [OUT_DIR]
# Records the lab's normal load to learn from (3 replicas × LEARN_SECONDS per image, the app and the db 600 s) and
# held-out normal load (6 replicas × HELDOUT_SECONDS per image) of every image (IMAGES, default "busybox web app
# db"), every attack scenario of those images, then runs
#   kestrel eval lab    detection per scenario, false alarms per container-hour
#   kestrel eval speed  scoring speed on one core
#   kestrel rules       the public Falco rule files (when ../shared/data/falco-rules is there)
# and writes them to OUT_DIR (bench/out/detect by default). RECORD_ARGS adds options to every `kestrel record`
# (RECORD_ARGS=--reads: every file read reported, for the profiles' read view).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-$ROOT/bench/out/detect}
REC=$OUT/recordings
LEARN_SECONDS=${LEARN_SECONDS:-120}
HELDOUT_SECONDS=${HELDOUT_SECONDS:-300}
LEARN_SECONDS_app=${LEARN_SECONDS_app:-600}
LEARN_SECONDS_db=${LEARN_SECONDS_db:-600}
source lab/lib.sh
# KESTREL: a build to record and evaluate with (a copy, so that building meanwhile does not swap it mid-run).
if [ -z "${KESTREL:-}" ]; then
  cargo build --release -p kestrel --quiet
  export KESTREL=$ROOT/target/release/kestrel
fi
export KESTREL
mkdir -p "$REC"
IMAGES=(${IMAGES:-busybox web app db})
LEARN=(); NORMAL=(); HELDOUT=()
for image in "${IMAGES[@]}"; do
  # The app's and the db's traffic is random and their rarer work (exports, reports, log rotation; VACUUM, the JIT)
  # needs longer to be seen in two replicas: they learn for 600 s (kestrel's own default learns for an hour at least).
  learn_var=LEARN_SECONDS_$image; learn_seconds=${!learn_var:-$LEARN_SECONDS}
  [ -s "$REC/learn-$image.jsonl.zst" ] || lab/normal.sh "$image" 3 "$learn_seconds" "$REC/learn-$image.jsonl.zst"
  [ -s "$REC/heldout-$image.jsonl.zst" ] || lab/normal.sh "$image" 6 "$HELDOUT_SECONDS" "$REC/heldout-$image.jsonl.zst"
  LEARN+=(--learn "$REC/learn-$image.jsonl.zst"); NORMAL+=(--normal "$REC/heldout-$image.jsonl.zst")
  HELDOUT+=("$REC/heldout-$image.jsonl.zst")
done
SCENARIOS=()
for s in lab/scenarios/*.sh; do
  name=$(basename "$s" .sh)
  [[ " ${IMAGES[*]} " == *" $(scenario_image "$s") "* ]] || continue
  [ -s "$REC/scenario-$name.jsonl.zst" ] || lab/run.sh "$name" "$REC/scenario-$name.jsonl.zst" >/dev/null
  SCENARIOS+=("$REC/scenario-$name.jsonl.zst")
done
{
  echo "# kestrel eval lab ($(date -u +%FT%TZ))"
  "$KESTREL" eval lab "${LEARN[@]}" "${NORMAL[@]}" "${SCENARIOS[@]}"
  echo
  echo "# kestrel eval speed"
  "$KESTREL" eval speed "${LEARN[@]}" "${HELDOUT[@]}" --min-events 2000000
  RULES=$ROOT/../shared/data/falco-rules
  if [ -d "$RULES" ]; then
    echo
    echo "# kestrel rules (Falco's public rule files)"
    "$KESTREL" rules --no-builtin "$RULES/falco_rules.yaml" "$RULES/falco-incubating_rules.yaml" \
      "$RULES/falco-sandbox_rules.yaml"
  fi
} | tee "$OUT/detect.txt"
"$KESTREL" eval lab -f json "${LEARN[@]}" "${NORMAL[@]}" "${SCENARIOS[@]}" > "$OUT/lab.json"
