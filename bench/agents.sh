#!/usr/bin/env bash
# Many simulated node agents at once: real shippers (one thread, batches, spool, heartbeats each) sending to
# one server over HTTP, PostgreSQL behind it (add --sqlite for SQLite):
#   bench/agents.sh [AGENTS] [ALERTS_PER_AGENT] [--sqlite]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
cargo run --release --quiet -p kestrel-server --example agents_bench -- "$@" | tee -a bench/out/agents.txt
