#!/usr/bin/env bash
# What the rule for DNS names carrying encoded data says of real tunnels and of real host names (root; ~1 minute):
#   bench/dns-tunnels.sh [OUT_DIR]
# 1. dns2tcp 0.5.2 (Debian's): the lab scenario dns-tunnel-tool, /etc/passwd carried through the tunnel.
# 2. iodine 0.7.0 (Debian's package, installed by this script): its server on the host, its client in a network
#    namespace of its own (reached over a veth pair, so that the data crosses the tunnel) and in the cgroup
#    kestrel-lab/iodine-bench, which `kestrel record` takes for a container; /etc/services sent through the tunnel.
# 3. Host names people chose: every distinct host name of an http(s) URL in the advisories of ../shared/data/osv, the
#    crates of cargo's registry, Debian's copyright files and the Python, Perl, Ruby and Node.js libraries on this
#    machine (example.* left out).
# Each through `kestrel eval dns`; the outputs and the host-name list go to OUT_DIR (bench/out/dns-tunnels).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-$ROOT/bench/out/dns-tunnels}
mkdir -p "$OUT"
if [ -z "${KESTREL:-}" ]; then
  cargo build --release -p kestrel --quiet
  KESTREL=$ROOT/target/release/kestrel
fi
export KESTREL
source lab/lib.sh
command -v iodined >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iodine >/dev/null

# 1. dns2tcp.
lab/run.sh dns-tunnel-tool "$OUT/dns2tcp.jsonl.zst" >/dev/null
"$KESTREL" eval dns "$OUT/dns2tcp.jsonl.zst" > "$OUT/dns2tcp.txt"

# 2. iodine.
NS=kestrel-iodine-$$
CG=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)/$LAB_PARENT/iodine-bench
cleanup() {
  [ -z "${REC:-}" ] || kill -INT "$REC" 2>/dev/null || true
  pkill -f "iodined -f -c -P kestrel-bench" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  ip link del kio0 2>/dev/null || true
  sleep 0.5; rmdir "$CG" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$CG"
ip netns add "$NS"
ip link add kio0 type veth peer name kio1
ip link set kio1 netns "$NS"
ip addr add 10.78.0.1/24 dev kio0 && ip link set kio0 up
ip netns exec "$NS" ip addr add 10.78.0.2/24 dev kio1
ip netns exec "$NS" ip link set kio1 up
ip netns exec "$NS" ip link set lo up
"$KESTREL" record --runc-parent "$LAB_PARENT" --container iodine-bench --out "$OUT/iodine.jsonl.zst" \
  2> "$OUT/iodine.record.log" &
REC=$!
until grep -q watching "$OUT/iodine.record.log"; do kill -0 $REC || exit 1; sleep 0.2; done
timeout 90 iodined -f -c -P kestrel-bench -l 10.78.0.1 -p 53 10.77.0.1/24 i.example.net > "$OUT/iodined.log" 2>&1 &
sleep 1
in_cgroup() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@"; }   # as bench/agent.sh's
in_cgroup ip netns exec "$NS" timeout 60 iodine -f -r -P kestrel-bench 10.78.0.1 i.example.net > "$OUT/iodine.log" 2>&1 &
for _ in $(seq 100); do grep -q "Connection setup complete" "$OUT/iodine.log" && break; sleep 0.2; done
python3 - > "$OUT/iodine.sink" <<'PY' &
import socket
s = socket.create_server(("10.77.0.1", 47002)); s.settimeout(30)
c, _ = s.accept(); c.settimeout(10); n = 0
try:
    while (d := c.recv(65536)):
        n += len(d)
except socket.timeout:
    pass
print("bytes", n)
PY
SINK=$!
sleep 0.5
in_cgroup ip netns exec "$NS" python3 -c 'import socket; s = socket.create_connection(("10.77.0.1", 47002), timeout=20)
s.sendall(open("/etc/services", "rb").read()); s.close()'
wait $SINK
kill -INT $REC; wait $REC || true; REC=
echo "iodine carried $(cut -d' ' -f2 "$OUT/iodine.sink") of $(wc -c < /etc/services) bytes" > "$OUT/iodine.txt"
"$KESTREL" eval dns "$OUT/iodine.jsonl.zst" >> "$OUT/iodine.txt"

# 3. Host names.
{
  for z in ../shared/data/osv/*/all.zip; do [ -f "$z" ] && unzip -p "$z"; done
  grep -rhoE "https?://[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9]" "${CARGO_HOME:-$HOME/.cargo}/registry/src/" /usr/lib/python3* \
    /usr/share/doc /usr/lib/node_modules /usr/share/perl* /usr/share/ruby* /usr/lib/ruby /usr/share/javascript \
    2>/dev/null || true
} | grep -oE "https?://[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9]" | sed -E 's#https?://##' | tr 'A-Z' 'a-z' \
  | grep -E "\.[a-z]{2,}$" | grep -vE "^[0-9.]+$|\.\.|^localhost|example\.(com|org|net)$" | sort -u > "$OUT/hosts.txt"
"$KESTREL" eval dns "$OUT/hosts.txt" > "$OUT/hosts.out"
head -3 "$OUT/dns2tcp.txt" "$OUT/iodine.txt" "$OUT/hosts.out"
