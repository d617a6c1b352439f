#!/usr/bin/env bash
# The dashboard's first render with a million alerts stored: the server in-process on SQLite (add --postgres
# for PostgreSQL), Debian's headless Chromium over chromedriver, 20 fresh page loads per view (~2 min after
# the build):
#   bench/dashboard.sh [ALERTS] [--postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
cargo run --release --quiet -p kestrel-server --example dashboard_bench -- "${@:-1000000}" | tee bench/out/dashboard.txt
