#!/usr/bin/env bash
# kestrel config against checkov on a generated corpus of Kubernetes manifests with planted problems, in one
# run: speed, and per problem who finds it and who raises false alarms (~3 min, most of it checkov's).
#   N=2000 bench/config.sh
# checkov comes from PyPI into a private venv (~/.cache/kestrel/peers/venv) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
OUT=${OUT:-bench/out/config}
source bench/peers.sh
CHECKOV=$(peer checkov checkov)
cargo build --release -p kestrel --quiet
rm -rf "$OUT"; mkdir -p "$OUT"
python3 bench/config_corpus.py "$OUT/corpus" "$N"
"$CHECKOV" --version | sed 's/^/checkov /'
python3 bench/config_compare.py target/release/kestrel "$CHECKOV" "$OUT/corpus" | tee "$OUT/report.md"
