#!/usr/bin/env bash
# Fleet figures: storage writes (SQLite, PostgreSQL), JetStream publication, JetStream → server → SQLite,
# and API latency with a million alerts stored (real nats-server and PostgreSQL started on loopback by the
# test kit; ~3 min after the build):
#   bench/fleet.sh [ALERTS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -p kestrel-server --example fleet_bench -- "${1:-200000}" | tee bench/out/fleet.txt
