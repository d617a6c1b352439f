#!/usr/bin/env bash
# kestrel secrets against kingfisher on ~1 GiB of this machine's text files with 700 planted secrets, in one
# run (~3 min):
#   MIB=1024 bench/secrets.sh
# Then the keyword searches side by side on the same corpus (Teddy, automaton, Vectorscan: the secrets crate's
# `vectorscan` feature, libvectorscan-dev from scripts/setup), findings compared.
# kingfisher comes from PyPI (kingfisher-bin) into a private venv (~/.cache/kestrel/peers/venv) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${MIB:-1024}
OUT=${OUT:-bench/out/secrets}
source bench/peers.sh
KINGFISHER=$(peer kingfisher kingfisher-bin)
cargo build --release -p kestrel --quiet
rm -rf "$OUT"; mkdir -p "$OUT"
python3 bench/secrets_corpus.py "$OUT/corpus" "$MIB"
"$KINGFISHER" --version
python3 bench/secrets_compare.py target/release/kestrel "$KINGFISHER" "$OUT/corpus" | tee "$OUT/report.md"
cargo build --release -p kestrel-secrets --features vectorscan --example search --quiet
target/release/examples/search "$OUT/corpus" | tee -a "$OUT/report.md"
