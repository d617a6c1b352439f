#!/usr/bin/env bash
# The fleet server's answers while CI sends it big scan reports (issue 8):
#   bench/report_upload.sh KESTREL_BINARY...
# Makes one image report of 6,000 packages and 30,000 vulnerability findings (about 20 MB, what a fat image's scan
# with its SBOM comes to), then for each binary, on a fresh server: three CI jobs send it at once (three subjects,
# so three new reports) while /healthz is asked every 10 ms; then the report is read back three times. Prints each
# upload's and read's time and the slowest /healthz answer.
set -euo pipefail
source "$(dirname "$0")/fleet_server.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$W" <<'PY'
import json, sys, random
random.seed(7)
sev = ["critical", "high", "medium", "low", "unknown"]
packages = [{"name": f"lib{i}", "version": f"1.{i % 50}.{i % 7}-{i % 3}", "ecosystem": "Debian",
             "purl": f"pkg:deb/debian/lib{i}@1.{i % 50}.{i % 7}-{i % 3}?distro=debian-12",
             "layer": f"sha256:{i % 9:064x}", "path": f"/var/lib/dpkg/status.d/lib{i}",
             "licenses": ["GPL-2.0-or-later"]} for i in range(6000)]
findings = [{"id": f"CVE-20{18 + i % 7}-{10000 + i}", "aliases": [f"DSA-{5000 + i % 900}-1"],
             "severity": random.choice(sev), "package": packages[i % 6000]["name"],
             "installed": packages[i % 6000]["version"], "fixed": f"1.{i % 50}.{i % 7 + 1}",
             "summary": "A crafted input can cause an out-of-bounds read in a parser of this library " * 2,
             "references": [f"https://security-tracker.debian.org/tracker/CVE-20{18 + i % 7}-{10000 + i}"]}
            for i in range(30000)]
report = {"schema": "kestrel.report/v1", "target": {"image_id": "sha256:" + "5" * 64}, "packages": packages,
          "findings": findings}
for n in (1, 2, 3):
    report["target"]["reference"] = f"registry.example/fat/app:{n}"
    json.dump({"kind": "image", "subject": f"registry.example/fat/app:{n}", "report": report},
              open(f"{sys.argv[1]}/up-{n}.json", "w"))
PY
# /healthz of the server on $port asked every 10 ms for S seconds, one connection: how many answers, the slowest.
probe() {
  python3 - "$port" "$1" <<'PY'
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
end, worst, n = time.monotonic() + float(sys.argv[2]), 0.0, 0
while time.monotonic() < end:
    t = time.monotonic(); c.request("GET", "/healthz"); c.getresponse().read()
    worst, n = max(worst, time.monotonic() - t), n + 1
    time.sleep(0.01)
print(f"{n} answers, slowest {worst * 1000:.1f} ms")
PY
}
for bin in "$@"; do
  D=$W/run
  start_server "$bin" "$D" ci-1:ci ci-2:ci ci-3:ci viewer:viewer
  echo "$bin: report upload of $(stat -c %s "$W/up-1.json") bytes"
  pids=()
  for n in 1 2 3; do
    curl -sf -o "$D/answer-$n" -w "  upload %{http_code} in %{time_total} s\n" -H "Authorization: Bearer $(cat "$D/tok-ci-$n")" \
      -H 'content-type: application/json' --data-binary @"$W/up-$n.json" http://127.0.0.1:$port/api/v1/reports &
    pids+=($!)
  done
  echo "  /healthz during the uploads: $(probe 1.5)"
  wait "${pids[@]}"
  id=$(python3 -c "import json; print(json.load(open('$D/answer-1'))['id'])")
  for i in 1 2 3; do
    curl -s -o /dev/null -w "  report %{http_code}: %{size_download} bytes in %{time_total} s\n" \
      -H "Authorization: Bearer $(cat "$D/tok-viewer")" "http://127.0.0.1:$port/api/v1/reports/$id"
  done
  kill $server; wait $server 2>/dev/null || true
done
