#!/usr/bin/env python3
"""Differential check of kestrel's vulnerability matching on a real inventory against whole OSV archives.

kestrel's JSON report of a scan (its packages and findings) is held against an independent evaluation of every
record of the given OSV `all.zip` files: the range rules of scripts/fixtures/expected-matches.py (python
`packaging` for PyPI, SemVer for Go, rpm's own vercmp for RPM distributions), written apart from kestrel's
Rust. For every package of those ecosystems (not the ones a distribution owns, which kestrel leaves to the
distribution's advisories) it prints
  missed: records the oracle says affect the package and no finding of kestrel names (as id or alias);
  extra:  kestrel findings whose id is neither a record the oracle says affects the package nor one of that
          record's aliases (a record's `related` ids are other vulnerabilities).
Usage (the project's venv has `packaging`):
  kestrel db import ../shared/data/osv --db-dir DB
  KESTREL_DB_DIR=DB kestrel rootfs / --offline --scanners vuln -f json -o scan.json
  ~/.cache/kestrel/venv/bin/python3 bench/vuln_oracle.py scan.json ../shared/data/osv/Go/all.zip ../shared/data/osv/PyPI/all.zip
Exit status 1 when anything is missed or extra.
"""
import collections, importlib.util, json, os, re, sys, zipfile

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("oracle", os.path.join(here, "../scripts/fixtures/expected-matches.py"))
oracle = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oracle)

# kestrel's ecosystem names in a report, and OSV's.
OSV_OF = {"golang": "Go", "pypi": "PyPI"}


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def key_of(eco, name):
    return (eco, pep503(name) if eco == "PyPI" else name)


def load(zips):
    """Every record's affected entries, by (ecosystem, name); withdrawn records left out, as kestrel does."""
    index = collections.defaultdict(list)
    names = {}
    for path in zips:
        with zipfile.ZipFile(path) as z:
            for n in z.namelist():
                if not n.endswith(".json"):
                    continue
                r = json.loads(z.read(n))
                if r.get("withdrawn"):
                    continue
                for a in r.get("affected", []):
                    p = a.get("package") or {}
                    eco = p.get("ecosystem", "").split(":")[0]
                    names[r["id"]] = {r["id"], *r.get("aliases", [])}
                    index[key_of(eco, p.get("name", ""))].append((r["id"], a))
    return index, names


def comparable(eco, version):
    if eco == "Go":
        return version[2:] if version.startswith("go") else version.lstrip("v")
    return version


def expected(index, eco, name, version):
    cmp = {"Go": oracle.semver_cmp, "PyPI": oracle.pep_cmp}[eco]
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
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    report = json.load(open(sys.argv[1]))
    index, names = load(sys.argv[2:])
    ecosystems = {e.split(":")[0] for e, _ in index}
    found = collections.defaultdict(list)
    for f in report.get("findings", []):
        if f.get("kind") in ("vulnerability", "malicious-package") and f.get("ecosystem") in OSV_OF:
            found[(OSV_OF[f["ecosystem"]], f["package"], f["version"])].append((f["id"], {f["id"], *f.get("aliases", [])}))
    packages = set()
    for p in report["packages"]:
        eco = OSV_OF.get(p["ecosystem"])
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
