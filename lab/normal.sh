#!/usr/bin/env bash
# Records the lab's normal load, for learning profiles and for counting false alarms:
#   lab/normal.sh IMAGE REPLICAS SECONDS [OUT.jsonl.zst]
# Starts REPLICAS containers of IMAGE (busybox, web, app or db) and, in each, repeats the normal phase of every
# scenario of that image (scenarios/*.sh: their `normal` function, in a random order) for SECONDS, while
# `kestrel record` captures them with the system-call stream. The recording's header carries
# scenario=normal, image=IMAGE, replicas=REPLICAS. No attack happens in it.
set -euo pipefail
cd "$(dirname "$0")"
LAB=$PWD
source "$LAB/lib.sh"
IMAGE_WANTED=${1:?usage: lab/normal.sh IMAGE REPLICAS SECONDS [OUT]}
REPLICAS=${2:?replicas}
SECONDS_WANTED=${3:?seconds}
OUT=${4:-$LAB_DIR/normal-$IMAGE_WANTED.jsonl.zst}
KESTREL=${KESTREL:-$LAB/../target/debug/kestrel}
mkdir -p "$LAB_DIR"

# The scenarios of this image.
SCENARIOS=()
for f in "$LAB"/scenarios/*.sh; do
  [ "$(scenario_image "$f")" = "$IMAGE_WANTED" ] && SCENARIOS+=("$(basename "$f" .sh)")
done
[ ${#SCENARIOS[@]} -gt 0 ] || { lab_log "no scenario uses image $IMAGE_WANTED"; exit 1; }

NAMES=(); PORTS=()
for i in $(seq "$REPLICAS"); do
  NAMES+=("lab-normal-$$-$IMAGE_WANTED-$i"); PORTS+=("$(free_port)")
done
# Only these containers: other lab runs (tests in parallel) may share the parent cgroup.
"$KESTREL" record --runc-parent "$LAB_PARENT" --container "lab-normal-$$-" --syscalls ${RECORD_ARGS:-} --out "$OUT" --label scenario=normal \
  --label "image=$IMAGE_WANTED" --label "replicas=$REPLICAS" 2> "$LAB_DIR/normal-$$.record.log" &
REC=$!
cleanup() {
  local n; for n in "${NAMES[@]}"; do stop "$n"; rm -rf "${LAB_DIR:?}/$n"; done
  kill -INT $REC 2>/dev/null || true
}
trap cleanup EXIT
until grep -q watching "$LAB_DIR/normal-$$.record.log" 2>/dev/null; do
  kill -0 $REC 2>/dev/null || { cat "$LAB_DIR/normal-$$.record.log" >&2; exit 1; }
  sleep 0.1
done
for i in "${!NAMES[@]}"; do
  make_bundle "${NAMES[$i]}" "$IMAGE_WANTED" "${PORTS[$i]}"
  start "${NAMES[$i]}"
  wait_ready "$IMAGE_WANTED" "${PORTS[$i]}"
done

# One worker per replica: the scenarios' normal phases, shuffled, until the time is up.
END=$(( $(date +%s) + SECONDS_WANTED ))
for i in "${!NAMES[@]}"; do
  (
    WEB_PORT=${PORTS[$i]}
    while [ "$(date +%s)" -lt "$END" ]; do
      for s in $(printf '%s\n' "${SCENARIOS[@]}" | shuf); do
        ( source "$LAB/scenarios/$s.sh"; normal "${NAMES[$i]}" ) || true
        [ "$(date +%s)" -lt "$END" ] || break
      done
    done
  ) &
done
wait $(jobs -p | grep -v "^$REC$") 2>/dev/null || true
sleep 0.5
cleanup
wait $REC || true
trap - EXIT
echo "$OUT"
