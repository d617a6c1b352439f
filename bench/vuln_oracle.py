#!/usr/bin/env python3
"""Differential check of kestrel's vulnerability matching on a real inventory against whole OSV archives.

kestrel's JSON report of a scan (its packages and findings) is held against an independent evaluation of every
record of the given OSV `all.zip` files: the range rules of scripts/fixtures/expected-matches.py (python
`packaging` for PyPI, SemVer for Go, rpm's own vercmp for RPM distributions), written apart from kestrel's
Rust. For every package of those ecosystems (not the ones a distribution owns, which kestrel leaves to the
distribution's advisories) it prints
  missed: records the oracle says affect the package and no finding of kestrel names (as id or alias);
  extra:  kestrel findings whose id is neither a record the oracle says affects the package nor one of that
          record's aliases (a language record's `related` ids are other vulnerabilities; a distribution's
          advisory names the CVEs it fixes there).
Usage (the project's venv has `packaging`):
  kestrel db import ../shared/data/osv --db-dir DB
  KESTREL_DB_DIR=DB kestrel rootfs / --offline --scanners vuln -f json -o scan.json
  ~/.cache/kestrel/venv/bin/python3 bench/vuln_oracle.py scan.json ../shared/data/osv/Go/all.zip ../shared/data/osv/PyPI/all.zip
Distributions (RPM ordering by rpm's own `rpm.vercmp`, Debian's by `dpkg --compare-versions`): an inventory
made of the data's own fixed versions, as a CycloneDX SBOM, then the same check — and every CVE an advisory
fixing several names must be a finding of its own:
  bench/vuln_oracle.py synth ../shared/data/osv/AlmaLinux/all.zip AlmaLinux:8 400 inventory.cdx.json
  bench/vuln_oracle.py synth DSA.list,DLA.list Debian:10 400 inventory.cdx.json
  KESTREL_DB_DIR=DB kestrel sbom inventory.cdx.json --offline -f json -o scan.json
  bench/vuln_oracle.py scan.json ../shared/data/osv/AlmaLinux/all.zip      (or: DSA.list DLA.list)
Exit status 1 when anything is missed or extra.
"""
import collections, functools, importlib.util, json, os, re, sys, zipfile

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("oracle", os.path.join(here, "../scripts/fixtures/expected-matches.py"))
oracle = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oracle)

# kestrel's ecosystem names in a report, and OSV's.
OSV_OF = {"golang": "Go", "pypi": "PyPI"}
# RPM distributions whose OSV ecosystem carries the release (`AlmaLinux:8`); the report's distro says which.
RPM_DISTROS = {"AlmaLinux": "almalinux", "Rocky Linux": "rocky"}


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def key_of(eco, name):
    return (eco, pep503(name) if eco == "PyPI" else name)


def load(zips):
    """Every record's affected entries, by (ecosystem, name); withdrawn records left out, as kestrel does."""
    index = collections.defaultdict(list)
    names = {}
    lists = [p for p in zips if p.endswith(".list")]
    for rid, cves, release, src, fixed in tracker_entries(lists):
        if fixed == "<not-affected>":
            continue
        names.setdefault(rid, {rid}).update(cves)
        # Fixed below this version; `<unfixed>`, `<end-of-life>`: every version.
        events = [{"introduced": "0"}] + ([] if fixed.startswith("<") else [{"fixed": fixed}])
        index[(f"Debian:{release}", src)].append((rid, {"ranges": [{"type": "ECOSYSTEM", "events": events}]}))
    for path in (p for p in zips if not p.endswith(".list")):
        with zipfile.ZipFile(path) as z:
            for n in z.namelist():
                if not n.endswith(".json"):
                    continue
                r = json.loads(z.read(n))
                if r.get("withdrawn"):
                    continue
                for a in r.get("affected", []):
                    p = a.get("package") or {}
                    eco = p.get("ecosystem", "")
                    eco = eco if eco.split(":")[0] in RPM_DISTROS else eco.split(":")[0]
                    # A distribution's advisory (ALSA) names the CVEs it fixes as related: it stands for them.
                    os_record = eco.split(":")[0] in RPM_DISTROS
                    names[r["id"]] = {r["id"], *r.get("aliases", []), *(r.get("related", []) if os_record else [])}
                    index[key_of(eco, p.get("name", ""))].append((r["id"], a))
    return index, names


@functools.lru_cache(maxsize=None)
def rpm_cmp(a, b):
    return oracle.rpm_cmp(a, b)


def write_inventory(fixes, cmp, purl, os_name, release, count, out):
    """A CycloneDX SBOM of `count` of the packages in `fixes` (name → the versions the data names as fixes: real
    builds), every second one at a middle fix of its own rather than its newest; `purl(name, version)`."""
    names = sorted(fixes)
    step = max(1, len(names) // count)
    components = []
    for i, name in enumerate(names[::step][:count]):
        ordered = sorted(fixes[name], key=functools.cmp_to_key(cmp))
        version = ordered[len(ordered) // 2] if i % 2 else ordered[-1]
        components.append({"type": "library", "name": name, "version": version, "purl": purl(name, version)})
    components.append({"type": "operating-system", "name": os_name, "version": release})
    json.dump({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": components}, open(out, "w"), indent=1)
    print(f"{out}: {len(components) - 1} {os_name} {release} packages")


def synth(archive, ecosystem, count, out):
    """The inventory of an RPM distribution's OSV archive (`AlmaLinux:8`)."""
    fixes = collections.defaultdict(set)
    with zipfile.ZipFile(archive) as z:
        for n in z.namelist():
            r = json.loads(z.read(n))
            for a in r.get("affected", []):
                if a.get("package", {}).get("ecosystem") != ecosystem:
                    continue
                for rg in a.get("ranges", []):
                    for e in rg.get("events", []):
                        if "fixed" in e:
                            fixes[a["package"]["name"]].add(e["fixed"])
    distro, release = ecosystem.lower().split(":")

    def purl(name, version):
        epoch, _, plain = version.rpartition(":")
        return f"pkg:rpm/{distro}/{name}@{plain}?distro={distro}-{release}" + (f"&epoch={epoch}" if epoch else "")

    write_inventory(fixes, rpm_cmp, purl, distro, release, count, out)


@functools.lru_cache(maxsize=None)
def dpkg_cmp(a, b):
    return oracle.dpkg_cmp(a, b)


DEBIAN = {name: number for name, number in [("buster", "10"), ("bullseye", "11"), ("bookworm", "12")]}


def tracker_entries(lists):
    """Debian tracker lists: (advisory id, its CVEs, release number, source package, fixed version or <state>)."""
    for path in lists:
        for ident, cves, release, src, fixed in oracle.tracker_entries(open(path, encoding="utf-8", errors="replace").read()):
            if release in DEBIAN:
                yield ident, cves, DEBIAN[release], src, fixed


def synth_debian(lists, release, count, out):
    """The inventory of Debian `release` (`11`) from the tracker lists."""
    fixes = collections.defaultdict(set)
    for _, _, rel, src, fixed in tracker_entries(lists):
        if rel == release and not fixed.startswith("<"):
            fixes[src].add(fixed)
    def purl(name, version):
        return f"pkg:deb/debian/{name}@{version}?distro=debian-{release}"

    write_inventory(fixes, dpkg_cmp, purl, "debian", release, count, out)


def comparable(eco, version):
    if eco == "Go":
        return version[2:] if version.startswith("go") else version.lstrip("v")
    return version


def expected(index, eco, name, version):
    cmp = {"Go": oracle.semver_cmp, "PyPI": oracle.pep_cmp}.get(eco, dpkg_cmp if eco.startswith("Debian:") else rpm_cmp)
    v = comparable(eco, version)
    hits = set()
    for rid, a in index.get(key_of(eco, name), []):
        if v in a.get("versions", []):
            hits.add(rid)
            continue
        for rg in a.get("ranges", []):
            if rg.get("type") == "GIT":
                continue
            events = [{k: (x.lstrip("v") if eco == "Go" else x)} for e in rg["events"] for k, x in e.items()]
            try:
                if oracle.affected(events, [], v, cmp):
                    hits.add(rid)
                    break
            except Exception:
                # A version the oracle's rules cannot order (kestrel skips such a range with a warning too).
                continue
    return hits


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "synth":
        if sys.argv[3].startswith("Debian:"):
            return synth_debian(sys.argv[2].split(","), sys.argv[3].split(":")[1], int(sys.argv[4]), sys.argv[5])
        return synth(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    report = json.load(open(sys.argv[1]))
    index, names = load(sys.argv[2:])
    ecosystems = {e for e, _ in index}
    # The report's distribution names its RPM packages' ecosystem (`almalinux` 8 → `AlmaLinux:8`).
    d = report.get("distro") or {}
    rpm_eco = next((f"{k}:{(d.get('version_id') or '').split('.')[0]}" for k, v in RPM_DISTROS.items() if v == d.get("id")), None)
    deb_eco = f"Debian:{(d.get('version_id') or '').split('.')[0]}" if d.get("id") == "debian" else None
    of = dict(OSV_OF, rpm=rpm_eco, deb=deb_eco)
    found = collections.defaultdict(list)
    for f in report.get("findings", []):
        if f.get("kind") in ("vulnerability", "malicious-package") and of.get(f.get("ecosystem")):
            found[(of[f["ecosystem"]], f["package"], f["version"])].append((f["id"], {f["id"], *f.get("aliases", [])}))
    packages = set()
    for p in report["packages"]:
        eco = of.get(p["ecosystem"])
        if eco in ecosystems and "os.owner" not in p.get("properties", {}):
            packages.add((eco, p["name"], p["version"]))
    # What kestrel said it could not match (a version its ordering refuses, a Go program built from a source tree
    # as `(devel)`), with a warning: counted apart, not as missed.
    warned = {w["message"].split(": not matched")[0] for w in report.get("warnings", []) if ": not matched" in w["message"]}
    missed, extra, checked, unorderable, not_matched = [], [], 0, 0, 0
    for eco, name, version in sorted(packages):
        if f"{name} {version}" in warned or version == "(devel)":
            not_matched += 1
            continue
        try:
            want = expected(index, eco, name, version)
        except Exception:
            unorderable += 1
            continue
        checked += 1
        got = found.get((eco, name, version), [])
        named = set().union(*(ids for _, ids in got)) if got else set()
        for rid in sorted(want - named):
            missed.append(f"{eco} {name} {version}: {rid}")
        # A distribution's advisory fixing several CVEs: each CVE is a finding of its own, every one must be there.
        if eco.split(":")[0] in RPM_DISTROS or eco.startswith("Debian:"):
            for rid in sorted(want):
                for cve in sorted(c for c in names[rid] - named if c.startswith("CVE-")):
                    missed.append(f"{eco} {name} {version}: {cve} (of {rid})")
        stands_for = set().union(*(names[r] for r in want)) if want else set()
        for fid, ids in got:
            if fid not in stands_for:
                extra.append(f"{eco} {name} {version}: {fid} (also {sorted(ids - {fid})})")
    print(f"packages checked: {checked} (versions the oracle cannot order: {unorderable}; "
          f"not matched by kestrel, with a warning: {not_matched})")
    print(f"kestrel findings: {sum(len(v) for v in found.values())}")
    print(f"missed: {len(missed)}")
    for m in missed:
        print("  " + m)
    print(f"extra: {len(extra)}")
    for e in extra:
        print("  " + e)
    sys.exit(1 if missed or extra else 0)


if __name__ == "__main__":
    main()
