#!/usr/bin/env bash
# A tunnel through port 53 that is no DNS (a VPN or WireGuard on the DNS port to get through a firewall): what the
# sensor reports of it and what it costs the tunnel. N datagrams of 120 bytes on a UDP socket connected to
# 127.53.0.9:53, then N writes on a TCP connection there, from a watched cgroup; each kestrel build in turn (and no
# sensor): the dns events it wrote, ns per packet (the sender's own clock, median of RUNS).
#   KS="/tmp/k-old /tmp/k-new" N=100000 RUNS=3 bench/port53.sh        (root)
set -euo pipefail
cd "$(dirname "$0")/.."
KS=${KS:-target/release/kestrel}
N=${N:-100000}
RUNS=${RUNS:-3}
OUT=bench/out/port53
mkdir -p "$OUT"
BENCH=port53
source bench/agent.sh
cat > "$OUT/tunnel.py" <<'PY'
import socket, sys, threading, time
n = int(sys.argv[1])
packet = b"\x45\x00" + bytes(range(2, 120))
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(("127.53.0.9", 53))
lst = socket.socket(); lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); lst.bind(("127.53.0.9", 53)); lst.listen()
def drain():
    c, _ = lst.accept()
    while c.recv(1 << 16): pass
threading.Thread(target=drain, daemon=True).start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(("127.53.0.9", 53))
t = socket.create_connection(("127.53.0.9", 53))
out = []
for s in (u, t):
    start = time.perf_counter_ns()
    for _ in range(n): s.send(packet)
    out.append((time.perf_counter_ns() - start) / n)
print(" ".join(f"{x:.0f}" for x in out))
PY
run() { in_cgroup /usr/bin/python3 "$OUT/tunnel.py" "$N"; }
printf '%-28s %12s %12s %12s\n' build "udp ns/pkt" "tcp ns/pkt" "dns events"
for K in none $KS; do
  udp=() tcp=() events=()
  for _ in $(seq "$RUNS"); do
    if [ "$K" != none ]; then agent_start "$OUT/events.json"; fi
    read -r a b < <(run)
    udp+=("$a"); tcp+=("$b")
    if [ "$K" != none ]; then sleep 1; agent_stop; events+=("$(grep -c '"kind":"dns"' "$OUT/events.json" || true)"); fi
  done
  med() { printf '%s\n' "$@" | median; }
  printf '%-28s %12s %12s %12s\n' "$K" "$(med "${udp[@]}")" "$(med "${tcp[@]}")" "$( [ "$K" = none ] && echo - || med "${events[@]}")"
done
