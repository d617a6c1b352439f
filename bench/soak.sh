#!/usr/bin/env bash
# Does a live agent's memory stay bounded? A busybox container (runc) churns for MINUTES: every turn a file of a new
# name written, read and removed in /tmp, a directory of 1,000 made, a shell started, a TCP connection to one of 40,000
# ports (refused), and every tenth a DNS question for a name never asked before (a host-side responder answers
# NXDOMAIN) — each a behaviour the profile never saw, with ever new names. kestrel learns the workload for LEARN
# seconds (20-s windows, so it trusts what three of them showed), then `kestrel detect --live` (rules and the
# profile in monitor mode, system calls and every read streamed) watches it for MINUTES; its resident memory, events
# and alerts raised are sampled every 30 s; at the end, the alert lines it sent (storms folded into summaries).
#   K=target/release/kestrel MINUTES=30 bench/soak.sh        (root)
set -euo pipefail
cd "$(dirname "$0")/.."
K=$(realpath "${K:-target/release/kestrel}")
MINUTES=${MINUTES:-30}
LEARN=${LEARN:-120}
OUT=$PWD/bench/out/soak
rm -rf "$OUT"; mkdir -p "$OUT"
source lab/lib.sh
NAME=soak-$$
METRICS=127.0.0.1:$(free_port)
python3 - > "$OUT/resolver.log" 2>&1 <<'PY' &
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.53.0.9", 53))
while True:
    q, peer = s.recvfrom(512)
    if len(q) >= 12:
        s.sendto(q[:2] + b"\x81\x83" + q[4:6] + b"\0\0\0\0\0\0" + q[12:], peer)
PY
RESOLVER=$!
DETECT=
cleanup() {
  [ -z "$DETECT" ] || kill -INT "$DETECT" 2>/dev/null || true
  kill "$RESOLVER" 2>/dev/null || true
  stop "$NAME" 2>/dev/null || true
}
trap cleanup EXIT
make_bundle "$NAME" busybox
start "$NAME"
churn() {
  inside "$NAME" /bin/sh -c '
    i=$1
    while :; do
      i=$((i + 1))
      echo $i > /tmp/f$i; cat /tmp/f$i > /dev/null; rm /tmp/f$i
      mkdir -p /tmp/d$((i % 1000))
      sh -c "exit $((i % 7))"
      nc -w 1 127.0.0.1 $((20000 + i % 40000)) < /dev/null > /dev/null 2>&1
      [ $((i % 10)) != 0 ] || nslookup q$i.soak.example 127.53.0.9 > /dev/null 2>&1
    done' sh "$1" &
}
churn 0
CHURN=$!
"$K" learn --live --runc-parent "$LAB_PARENT" --workload soak --syscalls --reads --window 20 --mode monitor \
  --duration "$LEARN" --profiles "$OUT/profiles" -q 2> "$OUT/learn.log"
kill "$CHURN" 2>/dev/null || true; wait "$CHURN" 2>/dev/null || true
"$K" detect --live --runc-parent "$LAB_PARENT" --workload soak --syscalls --reads --profiles "$OUT/profiles" \
  --metrics "$METRICS" --duration $((MINUTES * 60 + 30)) -f json --stats 2> "$OUT/detect.log" > >(zstd -q -o "$OUT/alerts.json.zst") &
DETECT=$!
until curl -sf "http://$METRICS/metrics" > /dev/null; do kill -0 "$DETECT"; sleep 0.2; done
churn 10000000
CHURN=$!
metric() { curl -sf "http://$METRICS/metrics" | awk -v m="$1" '$1 ~ "^"m {s += $2} END {printf "%d", s}'; }
printf '%8s %10s %10s %12s %10s\n' seconds "RSS MiB" "peak MiB" events alerts | tee "$OUT/rss.txt"
for s in $(seq 0 30 $((MINUTES * 60))); do
  [ "$s" = 0 ] || sleep 30
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$DETECT/status"); hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$DETECT/status")
  printf '%8d %10.1f %10.1f %12s %10s\n' "$s" "$(echo "$rss / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)" \
    "$(metric kestrel_agent_events_total)" "$(metric kestrel_agent_alerts_total)" | tee -a "$OUT/rss.txt"
done
kill "$CHURN" 2>/dev/null || true
# The agent stops itself at its duration and prints its counters.
wait "$DETECT" || true; DETECT=
cat "$OUT/detect.log"
# What a person (or the server) was sent: storms of alike alerts are folded into summaries (--fold-after).
sleep 1
echo "alert lines sent: $(zstdcat "$OUT/alerts.json.zst" | wc -l), of which summaries: $(zstdcat "$OUT/alerts.json.zst" | grep -c '"folded":' || true)"
