#!/usr/bin/env bash
# Runs one lab scenario in a fresh runc container while `kestrel record` captures it:
#   lab/run.sh SCENARIO [OUT.jsonl.zst]
# The recording's header carries scenario=NAME; the attack starts at the exec of `true kestrel-attack-start`.
set -euo pipefail
cd "$(dirname "$0")"
LAB=$PWD
source "$LAB/lib.sh"
SCENARIO=$1
OUT=${2:-$LAB_DIR/$SCENARIO.jsonl.zst}
KESTREL=${KESTREL:-$LAB/../target/debug/kestrel}
source "$LAB/scenarios/$SCENARIO.sh"
NAME="lab-$SCENARIO-$$"
mkdir -p "$LAB_DIR"
make_bundle "$NAME"
"$KESTREL" record --runc-parent "$LAB_PARENT" --container "$NAME" --out "$OUT" --label "scenario=$SCENARIO" \
  2> "$LAB_DIR/$NAME.record.log" &
REC=$!
trap 'stop "$NAME"; kill -INT $REC 2>/dev/null || true' EXIT
until grep -q watching "$LAB_DIR/$NAME.record.log" 2>/dev/null; do sleep 0.1; done
start "$NAME"
normal "$NAME"
attack_starts "$NAME"
attack "$NAME"
sleep 0.5
stop "$NAME"
kill -INT $REC; wait $REC || true
trap - EXIT
echo "$OUT"
