#!/usr/bin/env bash
# The vulnerability database through the server: how long the server takes to make its compressed copy, how
# many bytes go over the wire, how long a node's `kestrel db update --server` takes (first fetch, then the
# 304 of an unchanged database) and its peak memory, and how long `kestrel db push` takes. Two databases: the
# shared data's (AlmaLinux, Go and PyPI OSV snapshots, Debian's tracker lists) and one SCALE times larger (the
# same files imported again under other source names: its compression ratio flatters, say so when quoting it).
#   bench/vulndb_serve.sh [SCALE]      (default 20; needs ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-20}
DATA=${DATA:-../shared/data}
OUT=bench/out
mkdir -p "$OUT"
cargo build --release -q -p kestrel
K=$PWD/target/release/kestrel
W=$(mktemp -d /tmp/kestrel-bench-vulndb.XXXXXX)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$W"' EXIT
SERVER=

build() { # DIR COPIES
  local dir=$1 copies=$2
  $K db import -q --db-dir "$dir" "$DATA"/osv/*/all.zip "$DATA"/debian-security-tracker/DSA.list \
    "$DATA"/debian-security-tracker/DLA.list
  for i in $(seq 2 "$copies"); do
    for e in AlmaLinux Go PyPI; do
      $K db import -q --db-dir "$dir" --source "osv:$e-copy$i" "$DATA/osv/$e/all.zip"
    done
  done
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
for copies in 1 "$SCALE"; do
  rm -rf "$W/admin" "$W/node" "$W/data"
  build "$W/admin" "$copies"
  size=$(stat -c %s "$W/admin/vulndb.sqlite")
  echo "== database of $copies cop$([ "$copies" = 1 ] && echo y || echo ies) of the shared data: $((size / 1000000)) MB"
  KESTREL_SERVER_TOKEN=bench-admin $K server --listen "127.0.0.1:$port" --data-dir "$W/data" \
    --db-dir "$W/data/db" 2>"$W/server.log" &
  SERVER=$!
  until curl -sf "$base/healthz" >/dev/null; do sleep 0.05; done
  t0=$(date +%s.%N)
  $K db push -q --server "$base" --server-token bench-admin --db-dir "$W/admin"
  t1=$(date +%s.%N)
  echo "push (compress, send, decompress, check, swap): $(echo "$t1 - $t0" | bc) s"
  awk '/VmHWM/ {printf "server peak RSS after the push: %.0f MiB\n", $2/1024}' "/proc/$SERVER/status"
  # The server's copy made from the file (as after a `kestrel db update --db-dir` where it runs): restart it.
  kill $SERVER; wait $SERVER 2>/dev/null || true
  rm -rf "$W/data/vulndb-served"
  KESTREL_SERVER_TOKEN=bench-admin $K server --listen "127.0.0.1:$port" --data-dir "$W/data" \
    --db-dir "$W/data/db" 2>"$W/server.log" &
  SERVER=$!
  until curl -sf "$base/healthz" >/dev/null; do sleep 0.05; done
  t0=$(date +%s.%N)
  until curl -sf -o /dev/null -H "Authorization: Bearer bench-admin" -I "$base/api/v1/vulndb"; do sleep 0.02; done
  t1=$(date +%s.%N)
  echo "served copy made (check, digest, compress) within: $(echo "$t1 - $t0" | bc) s"
  wire=$(stat -c %s "$W"/data/vulndb-served/vulndb-*.sqlite.zst)
  echo "on the wire: $((wire / 1000000)) MB of $((size / 1000000)) MB ($(echo "scale=2; $size / $wire" | bc)x)"
  { /usr/bin/time -v $K db update -q --server "$base" --server-token bench-admin --db-dir "$W/node"; } 2>"$W/time"
  awk '/Elapsed/ {print "first fetch (download, decompress, digest, check, swap): " $NF}
       /Maximum resident/ {printf "first fetch peak RSS: %.0f MiB\n", $6/1024}' "$W/time"
  cmp "$W/admin/vulndb.sqlite" "$W/node/vulndb.sqlite" && echo "fetched file identical to the pushed one"
  hyperfine -N --warmup 2 --runs 20 -n "db update --server, unchanged (304)" \
    "$K db update -q --server $base --server-token bench-admin --db-dir $W/node" | grep -E "Time" | head -1 |
    sed 's/^ */unchanged (304): /'
  awk '/VmHWM/ {printf "server peak RSS (its copy made, a fetch, 22 304s): %.0f MiB\n", $2/1024}' "/proc/$SERVER/status"
  kill $SERVER; wait $SERVER 2>/dev/null || true
  SERVER=
done 2>&1 | tee -a "$OUT/vulndb_serve.txt"
