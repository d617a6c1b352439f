#!/usr/bin/env bash
# kestrel secrets against kingfisher on ~1 GiB of this machine's text files with 700 planted secrets, in one
# run (~3 min):
#   MIB=1024 bench/secrets.sh
# kingfisher comes from PyPI (kingfisher-bin) into a private venv (~/.cache/kestrel/peers/venv) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${MIB:-1024}
OUT=${OUT:-bench/out/secrets}
VENV=${KESTREL_PEERS_VENV:-$HOME/.cache/kestrel/peers/venv}
if [ ! -x "$VENV/bin/kingfisher" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check kingfisher-bin
fi
cargo build --release -p kestrel --quiet
rm -rf "$OUT"; mkdir -p "$OUT"
python3 bench/secrets_corpus.py "$OUT/corpus" "$MIB"
"$VENV/bin/kingfisher" --version
python3 bench/secrets_compare.py target/release/kestrel "$VENV/bin/kingfisher" "$OUT/corpus" | tee "$OUT/report.md"
