#!/usr/bin/env bash
# Scoring speed of two or more kestrel builds, interleaved on the same lab recordings (this host's speed
# swings by tens of per cent between minutes, so builds are compared round by round, never run after run):
#   bench/speed_ab.sh RECORDINGS_DIR ROUNDS KESTREL_BINARY...
# RECORDINGS_DIR is a bench/detect.sh recordings directory: every learn-*.jsonl.zst is learned, every
# heldout-*.jsonl.zst scored (a directory of links to some of them measures those alone).
# SPEED_ARGS adds options to every `kestrel eval speed` (builds from 2026-12-06 on), e.g. Falco's public rules alone:
#   SPEED_ARGS="--no-builtin-rules --rules ../shared/data/falco-rules" bench/speed_ab.sh …
# Build the binaries to compare first, e.g. `git stash; cargo build --release -p kestrel;
# cp target/release/kestrel /tmp/k-before; git stash pop; …`.
set -euo pipefail
REC=${1:?recordings directory}
ROUNDS=${2:?rounds}
shift 2
[ $# -ge 1 ] || { echo "usage: $0 RECORDINGS_DIR ROUNDS KESTREL_BINARY..." >&2; exit 2; }
LEARN=()
for f in "$REC"/learn-*.jsonl.zst; do LEARN+=(--learn "$f"); done
HELDOUT=("$REC"/heldout-*.jsonl.zst)
for round in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    printf 'round %s  %-24s ' "$round" "$bin"
    # shellcheck disable=SC2086 # SPEED_ARGS is words
    "$bin" eval speed "${LEARN[@]}" ${SPEED_ARGS:-} "${HELDOUT[@]}" --min-events 2000000 2>&1 |
      awk '/^(rules|profiles|both) /{printf "%s %.2f M  ", $1, $2/1e6} END{print ""}'
  done
done
