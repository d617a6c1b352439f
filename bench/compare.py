#!/usr/bin/env python3
"""Compares a kestrel JSON SBOM with a syft JSON SBOM by (ecosystem, name, version).

Names are compared the way each ecosystem compares them: Python names normalised per PEP 503, Maven by
artifact id (syft names a jar by its artifact id, kestrel by group:artifact). Prints agreement per class
(OS packages, language packages) and every difference.
"""
import json
import re
import sys
from collections import defaultdict

SYFT_TYPES = {
    "deb": "deb", "apk": "apk", "rpm": "rpm", "python": "pypi", "npm": "npm", "go-module": "golang",
    "rust-crate": "cargo", "java-archive": "maven", "jenkins-plugin": "maven", "gem": "gem",
    "php-composer": "composer",
}
OS = {"deb", "apk", "rpm"}


def norm(eco, name):
    if eco == "pypi":
        return re.sub(r"[-_.]+", "-", name).lower()
    if eco == "maven":
        return name.split(":")[-1]
    return name


def load_kestrel(path):
    out = defaultdict(set)
    for p in json.load(open(path))["packages"]:
        out[(p["ecosystem"], norm(p["ecosystem"], p["name"]), p["version"])].update(l["path"] for l in p["locations"])
    return out


def load_syft(path):
    out = defaultdict(set)
    skipped = defaultdict(int)
    for a in json.load(open(path))["artifacts"]:
        eco = SYFT_TYPES.get(a["type"])
        if eco is None:
            skipped[a["type"]] += 1
            continue
        out[(eco, norm(eco, a["name"]), a["version"])].update(l.get("path", "") for l in a.get("locations", []))
    return out, skipped


def main():
    k = load_kestrel(sys.argv[1])
    s, skipped = load_syft(sys.argv[2])
    for cls, ecos in (("OS", OS), ("language", None)):
        ks = {x for x in k if (x[0] in OS) == (cls == "OS")}
        ss = {x for x in s if (x[0] in OS) == (cls == "OS")}
        both = ks & ss
        union = ks | ss
        agree = 100.0 * len(both) / len(union) if union else 100.0
        print(f"{cls} packages: kestrel {len(ks)}, syft {len(ss)}, both {len(both)}, agreement {agree:.2f}% (|both|/|union|)")
    per = defaultdict(lambda: [0, 0, 0])
    for x in set(k) | set(s):
        per[x[0]][0] += x in k
        per[x[0]][1] += x in s
        per[x[0]][2] += (x in k and x in s)
    for eco, (a, b, c) in sorted(per.items()):
        print(f"  {eco:9} kestrel {a:5}  syft {b:5}  both {c:5}")
    if skipped:
        print("  syft types not compared (no ecosystem kestrel lists):", dict(skipped))
    print("\nOnly kestrel:")
    for x in sorted(set(k) - set(s)):
        print("  ", x, sorted(k[x])[:2])
    print("\nOnly syft:")
    for x in sorted(set(s) - set(k)):
        print("  ", x, sorted(s[x])[:2])


if __name__ == "__main__":
    main()
