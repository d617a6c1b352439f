#!/usr/bin/env bash
# Webhook notifications: how fast the server's notifier posts new alerts to a loopback webhook, as JSON (one
# post per alert) and as chat messages (the alerts waiting gathered), with the webhook answering at once and
# after 100 ms:
#   bench/notify.sh [ALERTS]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
for delay in 0 100; do
  # A slow webhook gets fewer alerts (one JSON post each: ALERTS / 10 of them would take ALERTS / 100 s).
  n=$(( delay == 0 ? ${1:-5000} : ${1:-5000} / 10 ))
  cargo run --release --quiet -p kestrel-server --example notify_bench -- "$n" "$delay" | tee -a bench/out/notify.txt
done
