#!/usr/bin/env bash
# Vulnerability database and matching figures (issue 3), written to bench/out/ and printed for
# docs/BENCHMARKS.md:
#   1. `kestrel db import` of the three shared OSV all.zip files (AlmaLinux, Go, PyPI): time and index size;
#      the Debian tracker lists added on top.
#   2. Matching 1,000 packages in process (crates/kestrel-vulndb/benches/matching.rs).
#   3. Whole `kestrel image` with matching on the Debian image of bench/sbom.sh: warm (inventory cached),
#      cold (--no-cache), peak memory.
# Needs: hyperfine and GNU time (apt-get install hyperfine time); ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$PWD/bench/out
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-10}
mkdir -p "$OUT"
cargo build --release -q -p kestrel -p kestrel-testkit
K=$PWD/target/release/kestrel
MK=$PWD/target/release/kestrel-mkimage
BINARIES=0 source bench/images.sh
echo "kestrel $($K --version), $(nproc) cores"

ZIPS="$DATA/osv/AlmaLinux/all.zip $DATA/osv/Go/all.zip $DATA/osv/PyPI/all.zip"
DB="$OUT/vulndb-osv"
echo "== 1. import of the three all.zip files"
hyperfine --warmup 1 --runs "$RUNS" --prepare "rm -rf $DB" --export-json "$OUT/import.hyperfine.json" \
  -n import "$K db import -q --db-dir $DB $ZIPS"
$K db import -q --db-dir "$DB" $ZIPS
echo "index size: $(du -b "$DB/vulndb.sqlite" | cut -f1) bytes ($(du -h "$DB/vulndb.sqlite" | cut -f1))"
{ /usr/bin/time -f "peak RSS %M KB" $K db import -q --db-dir "$OUT/vulndb-rss" $ZIPS; } 2>&1 | tail -1; rm -rf "$OUT/vulndb-rss"
DBALL="$OUT/vulndb-all"; rm -rf "$DBALL"
/usr/bin/time -f "with DSA.list and DLA.list too: %e s, peak RSS %M KB" \
  $K db import -q --db-dir "$DBALL" $ZIPS "$DATA/debian-security-tracker/DSA.list" "$DATA/debian-security-tracker/DLA.list"
echo "index size with the tracker lists: $(du -h "$DBALL/vulndb.sqlite" | cut -f1)"

echo "== 2. matching 1,000 packages (in process)"
$K image --input "$OUT/debian.tar" -q --scanners none --no-cache -f json -o "$OUT/debian.sbom.json"
echo "the image holds $(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['packages']))" "$OUT/debian.sbom.json") packages"
KESTREL_BENCH_DB="$DBALL" KESTREL_BENCH_SBOM="$OUT/debian.sbom.json" \
  cargo bench -q -p kestrel-vulndb --bench matching 2>/dev/null | tee "$OUT/matching.txt"

echo "== 3. whole kestrel image with matching"
CACHE="$OUT/sbom-cache"; rm -rf "$CACHE"
SCAN="$K image --input $OUT/debian.tar -q --db-dir $DBALL --cache-dir $CACHE -f json -o /dev/null"
hyperfine --warmup 2 --runs "$RUNS" --export-json "$OUT/image.hyperfine.json" \
  -n warm "$SCAN" -n cold "$SCAN --no-cache"
{ /usr/bin/time -f "warm: %e s, peak RSS %M KB" $SCAN; } 2>&1 | tail -1
{ /usr/bin/time -f "cold: %e s, peak RSS %M KB" $SCAN --no-cache; } 2>&1 | tail -1
$K image --input "$OUT/debian.tar" -q --db-dir "$DBALL" --cache-dir "$CACHE" -f json -o "$OUT/debian.report.json"
python3 - "$OUT/debian.report.json" <<'PY'
import json, sys, collections
r = json.load(open(sys.argv[1]))
kinds = collections.Counter(f["kind"] for f in r["findings"])
print(f"report: {len(r['packages'])} packages, findings {dict(kinds)}, warnings {len(r.get('warnings', []))}")
PY
