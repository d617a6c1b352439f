#!/usr/bin/env bash
# What the secret scanner costs an image scan: `kestrel image` on the Debian benchmark image of bench/sbom.sh
# (this machine's dpkg world, 3 layers) with the inventory alone, with secrets, and `kestrel secrets --image`
# alone; no cache, best of RUNS after a warm-up (page cache warm), with peak RSS.
#   RUNS=5 bench/image_secrets.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
RUNS=${RUNS:-5}
mkdir -p "$OUT"
cargo build --release -q -p kestrel -p kestrel-testkit
K=target/release/kestrel
MK=target/release/kestrel-mkimage
BINARIES=0 source bench/images.sh
ls -la "$OUT/debian.tar"
best() { # label command...
  local label=$1; shift
  "$@" >/dev/null 2>&1
  local b=999999 rss=0
  for _ in $(seq "$RUNS"); do
    local t0 t1 ms
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 )); (( ms < b )) && b=$ms
  done
  rss=$( { /usr/bin/time -v "$@" >/dev/null; } 2>&1 | awk '/Maximum resident/ {print int($6/1024)}')
  printf '| %s | %d | %s |\n' "$label" "$b" "$rss"
}
echo "| command | best wall (ms) | max RSS (MiB) |"
echo "| --- | ---: | ---: |"
best "kestrel image --scanners none (inventory)" $K image --input "$OUT/debian.tar" -q --scanners none --no-cache -f json
best "kestrel image --scanners secret (inventory + secrets, one read)" $K image --input "$OUT/debian.tar" -q --scanners secret --no-cache -f json
best "kestrel secrets --image (secrets alone)" $K secrets --image "$OUT/debian.tar" -f json
$K image --input "$OUT/debian.tar" -q --scanners secret --no-cache -f json -o "$OUT/debian.secrets.json"
python3 - "$OUT/debian.secrets.json" <<'PY'
import json, sys, collections
r = json.load(open(sys.argv[1]))
s = r.get("secrets", [])
print(f"\n{len(r['packages'])} packages, {len(s)} secrets:", dict(collections.Counter(x['rule'] for x in s)))
PY
