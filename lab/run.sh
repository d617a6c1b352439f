#!/usr/bin/env bash
# Runs one lab scenario in a fresh runc container while `kestrel record` captures it (with the
# system-call stream):
#   lab/run.sh SCENARIO [OUT.jsonl.zst]
# SCENARIO names a script in scenarios/, or is the path of one kept elsewhere (a test's own session).
# The recording's header carries scenario=NAME and image=IMAGE; the attack starts at the exec of
# `true kestrel-attack-start` inside the container.
#
# A scenario script (scenarios/NAME.sh) sets IMAGE (busybox, web, app or db; busybox if unset) and defines
# `normal NAME` and `attack NAME`; it may define `host_setup` and `host_cleanup` (listeners and servers on
# the host's loopback that the scenario talks to). Web and app containers serve http://127.0.0.1:$WEB_PORT/, the db
# container PostgreSQL on the same port.
set -euo pipefail
case $1 in */*) SCRIPT=$(realpath "$1") ;; *) SCRIPT= ;; esac
cd "$(dirname "$0")"
LAB=$PWD
source "$LAB/lib.sh"
SCENARIO=$(basename "$1" .sh)
SCRIPT=${SCRIPT:-$LAB/scenarios/$SCENARIO.sh}
OUT=${2:-$LAB_DIR/$SCENARIO.jsonl.zst}
KESTREL=${KESTREL:-$LAB/../target/debug/kestrel}
IMAGE=busybox
host_setup() { :; }
host_cleanup() { :; }
source "$SCRIPT"
NAME="lab-$SCENARIO-$$"
WEB_PORT=$(free_port)
mkdir -p "$LAB_DIR"
make_bundle "$NAME" "$IMAGE" "$WEB_PORT"
"$KESTREL" record --runc-parent "$LAB_PARENT" --container "$NAME" --syscalls ${RECORD_ARGS:-} --out "$OUT" \
  --label "scenario=$SCENARIO" --label "image=$IMAGE" 2> "$LAB_DIR/$NAME.record.log" &
REC=$!
trap 'host_cleanup; stop "$NAME"; kill -INT $REC 2>/dev/null || true' EXIT
until grep -q watching "$LAB_DIR/$NAME.record.log" 2>/dev/null; do
  kill -0 $REC 2>/dev/null || { cat "$LAB_DIR/$NAME.record.log" >&2; exit 1; }
  sleep 0.1
done
host_setup
start "$NAME"
wait_ready "$IMAGE" "$WEB_PORT"
normal "$NAME"
attack_starts "$NAME"
attack "$NAME"
sleep 0.5
host_cleanup
stop "$NAME"
kill -INT $REC; wait $REC || true
trap - EXIT
rm -rf "${LAB_DIR:?}/$NAME"
echo "$OUT"
