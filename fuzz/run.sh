#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 300), JOBS at a time (default 2), with seeds built from the
# test fixtures. cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
# Results: fuzz/out/<target>.log; crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${SECONDS_EACH:-300}
JOBS=${JOBS:-2}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
# -a: debug assertions and overflow checks on, so arithmetic on a file's numbers that would wrap is found too.
cargo fuzz build -O -a
mkdir -p out corpus
F=../crates/kestrel-catalog/tests/fixtures
seed() { mkdir -p "corpus/$1"; cp "$2" "corpus/$1/" 2>/dev/null || true; }
seed dpkg_status $F/dpkg-status
seed python_metadata $F/PyYAML-METADATA
seed python_metadata $F/PyJWT-PKG-INFO
seed npm_package_json $F/arborist-package.json
seed rpm_bdb $F/rpm-Packages.bdb
python3 - <<'PY'
import io, tarfile, gzip, zipfile, os
def tar(files):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        for name, data in files:
            i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
    return b.getvalue()
layer = tar([("etc/os-release", b"ID=debian\nVERSION_ID=12\n"), ("var/lib/dpkg/status", b"Package: a\nVersion: 1\nStatus: install ok installed\n\n")])
os.makedirs("corpus/layer", exist_ok=True)
open("corpus/layer/plain.tar", "wb").write(layer)
open("corpus/layer/gz.tar.gz", "wb").write(gzip.compress(layer))
os.makedirs("corpus/java_archive", exist_ok=True)
z = io.BytesIO()
with zipfile.ZipFile(z, "w") as j:
    j.writestr("META-INF/maven/g/a/pom.properties", "groupId=g\nartifactId=a\nversion=1\n")
    j.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nImplementation-Version: 2\n")
open("corpus/java_archive/a.jar", "wb").write(z.getvalue())
import json, hashlib
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
man = json.dumps([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["l/layer.tar"]}]).encode()
os.makedirs("corpus/archive", exist_ok=True)
open("corpus/archive/docker.tar", "wb").write(tar([("manifest.json", man), ("c.json", cfg), ("l/layer.tar", layer)]))
# As an engine sends it (layers first, manifest last), and two layers arriving in the reverse of their order.
os.makedirs("corpus/archive_stream", exist_ok=True)
open("corpus/archive_stream/docker.tar", "wb").write(tar([("l/layer.tar", layer), ("c.json", cfg), ("manifest.json", man)]))
layer2 = tar([("etc/os-release", b"ID=alpine\n"), (".wh.var", b"")])
cfg2 = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in (layer, layer2)]}}).encode()
man2 = json.dumps([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["a/layer.tar", "b/layer.tar"]}]).encode()
open("corpus/archive_stream/reversed.tar", "wb").write(tar([("b/layer.tar", layer2), ("a/layer.tar", layer), ("c.json", cfg2), ("manifest.json", man2)]))
# A member given twice (a reader keeps the last copy) before the layers that follow it.
open("corpus/archive_stream/twice.tar", "wb").write(tar([("a/layer.tar", layer2), ("a/layer.tar", layer), ("b/layer.tar", layer2), ("c.json", cfg2), ("manifest.json", man2)]))
# One blob for two layers (identical layers share one).
cfg3 = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in (layer, layer2, layer)]}}).encode()
man3 = json.dumps([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["a/layer.tar", "b/layer.tar", "a/layer.tar"]}]).encode()
open("corpus/archive_stream/shared.tar", "wb").write(tar([("b/layer.tar", layer2), ("a/layer.tar", layer), ("c.json", cfg3), ("manifest.json", man3)]))
os.makedirs("corpus/yarn_lock", exist_ok=True)
open("corpus/yarn_lock/yarn.lock", "w").write('"@a/b@^1.0.0", "@a/b@^1.1.0":\n  version "1.2.0"\n\nleft-pad@npm:^1.3.0:\n  version: 1.3.0\n')
os.makedirs("corpus/apk_installed", exist_ok=True)
open("corpus/apk_installed/installed", "w").write("P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\nF:lib\nR:ld-musl.so.1\n\n")
# RPM header blobs (the fixture generator's) as header and SQLite rpmdb seeds.
import sqlite3
ns = {}
exec(open("../scripts/fixtures/make-rpm-bdb.py").read().split("out = sys.argv")[0], ns)
os.makedirs("corpus/rpm_header", exist_ok=True)
os.makedirs("corpus/rpm_sqlite", exist_ok=True)
for i, p in enumerate(ns["pkgs"]):
    open(f"corpus/rpm_header/h{i}", "wb").write(p)
if not os.path.exists("corpus/rpm_sqlite/rpmdb.sqlite"):
    c = sqlite3.connect("corpus/rpm_sqlite/rpmdb.sqlite")
    c.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
    for p in ns["pkgs"][:2]:
        c.execute("INSERT INTO Packages (blob) VALUES (?)", (p,))
    c.commit()
    c.close()
os.makedirs("corpus/cargo_lock", exist_ok=True)
open("corpus/cargo_lock/Cargo.lock", "w").write('version = 3\n[[package]]\nname = "a"\nversion = "1.0.0"\nsource = "registry+x"\n')
PY
# Vulnerability data: fixture records, lists and version pairs (first byte picks the version scheme).
V=../crates/kestrel-vulndb/tests/fixtures
seed debian_tracker $V/db/DSA.list
seed alpine_secdb $V/db/alpine-v3.18-main.json
seed osv_record $V/db/osv-log4j.json
seed osv_record $V/db/osv-nuget.json
seed osv_zip $V/db/osv-PyPI.zip
seed sbom_read ../crates/kestrel-report/tests/snapshots/writers__golden_cyclonedx.snap
python3 - <<'PY'
import os
os.makedirs("corpus/version_order", exist_ok=True)
files = ["deb", "rpm", "", "pep440", "semver", "semver", "go", "maven", "gem", "", ""]
for i, f in enumerate(files):
    if not f:
        continue
    vs = [l.strip() for l in open(f"../crates/kestrel-vulndb/tests/fixtures/versions/{f}.txt") if l.strip() and not l.startswith("#")]
    for k in range(0, min(len(vs), 30), 3):
        open(f"corpus/version_order/{f}-{i}-{k}", "wb").write(bytes([i]) + "\n".join(vs[k:k + 3]).encode())
PY
# Detection: recorded events (a reverse shell, a link into PATH, a shadow read) in pieces, a profile learned from
# them, kestrel's built-in rules, and Falco's public rule files cut into entries of ≈ 16 KB when the shared
# data is there.
mkdir -p corpus/events corpus/profile corpus/falco_rules
split -l 12 seeds/events.jsonl corpus/events/seed-
cp seeds/profile.json corpus/profile/
mkdir -p corpus/tar_split && cp seeds/tar-split.jsonl corpus/tar_split/
# A vulnerability database as a server sends it (`kestrel db import` of the log4j, NuGet, KEV and secdb fixtures,
# vacuumed to 512-byte pages).
mkdir -p corpus/vulndb_file && cp seeds/vulndb.sqlite corpus/vulndb_file/
cp ../crates/kestrel-detect/src/rules/builtin.yaml corpus/falco_rules/
FALCO_RULES=${FALCO_RULES:-../../shared/data/falco-rules} python3 - <<'PY'
import glob, os, re
for f in glob.glob(os.path.join(os.environ["FALCO_RULES"], "*.yaml")):
    chunk, n = "", 0
    for entry in re.split(r"(?m)^(?=- )", open(f).read()):
        if chunk and len(chunk) + len(entry) > 16000:
            open(f"corpus/falco_rules/{os.path.basename(f)}.{n}", "w").write(chunk)
            chunk, n = "", n + 1
        chunk += entry
    if chunk:
        open(f"corpus/falco_rules/{os.path.basename(f)}.{n}", "w").write(chunk)
PY
# Configuration and secrets: the Dockerfiles of the config tests, kestrel's own manifests (and the Pod Security
# fixtures when the shared data is there), a settings file full of example credentials.
mkdir -p corpus/k8s_manifest corpus/dockerfile corpus/secrets
cp seeds/Dockerfile.* corpus/dockerfile/
cp ../deploy/*.yaml ../deploy/helm/kestrel/values.yaml corpus/k8s_manifest/
find "${PSS_FIXTURES:-../../shared/data/pod-security-admission}" -name '*.yaml' 2>/dev/null | head -200 |
  while read -r f; do cp "$f" "corpus/k8s_manifest/$(echo "$f" | tr / _)"; done
cp seeds/secrets.env seeds/Dockerfile.bad corpus/secrets/
# DNS questions as resolvers send them: A for a short name, TXT for a tunnel's hex label, AAAA with an EDNS record.
mkdir -p corpus/dns_question
python3 - <<'PY'
import struct
def q(name, t, extra=b"", ar=0):
    d = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, ar)
    for l in name.split("."):
        d += bytes([len(l)]) + l.encode()
    return d + b"\0" + struct.pack(">HH", t, 1) + extra
seeds = {
    "a": q("db.default.svc.cluster.local", 1),
    "txt": q("4b6f6e74656e3a2061646d696e2070617373776f72643a2068756e74657232.0.x.example.net", 16),
    "edns": q("www.example.co.uk", 28, b"\0\0\x29\x04\xd0\0\0\0\0\0\0", 1),
}
for name, d in seeds.items():
    open(f"corpus/dns_question/{name}", "wb").write(d)
PY
# falco_rules runs without leak detection: a rule naming hosts (fd.sip.name…) has them resolved on a thread
# of its own, and glibc's resolver keeps 28 bytes per thread that LeakSanitizer reports as lost.
targets=${TARGETS:-$(cargo fuzz list)}
for t in $targets; do mkdir -p "corpus/$t"; done
echo "$targets" | xargs -P "$JOBS" -I{} sh -c \
  "extra=; [ {} = falco_rules ] && extra=-detect_leaks=0; cargo fuzz run -O -a {} corpus/{} -- -max_total_time=$SECONDS_EACH -rss_limit_mb=2048 -timeout=10 -max_len=65536 \$extra > out/{}.log 2>&1; echo \"{}: exit \$?\""
for t in $targets; do
  line=$(grep -E "^#[0-9]+.*(DONE|pulse)" "out/$t.log" | tail -1 || true)
  crashes=$(ls "artifacts/$t" 2>/dev/null | wc -l)
  echo "$t | $line | crash files: $crashes"
done
