#!/usr/bin/env python3
"""kestrel config beside checkov (manifests) and hadolint (Dockerfiles) on public files (bench/public_corpus.sh),
in one run: speed, and per problem where the tools agree and disagree, with examples of each disagreement to
judge by reading the file. There is no truth here: the generated corpora (bench/config.sh,
bench/dockerfile.sh) count right and wrong; this run shows how the tools behave on files people wrote.

    bench/config_public.py KESTREL CHECKOV HADOLINT DIR [EXAMPLES]
"""
import collections
import json
import os
import sys

from config_compare import CHECKOV as CK_CHECKOV, KESTREL as CK_KESTREL
from dockerfile_compare import HADOLINT as DF_HADOLINT, KESTREL as DF_KESTREL
from peers import timed


# An object is (file, name): kinds are left out because checkov's graph checks (CKV2_*) name the pod of a
# workload ("Pod.NAMESPACE.NAME.LABELS") rather than the workload.
def kestrel_resource(r):
    # "Deployment kube-system/coredns" or "Deployment coredns"
    return (r.partition(" ")[2].rsplit("/", 1)[-1],)


def checkov_resource(r, graph):
    # "Deployment.kube-system.coredns" (namespace "default" when none); graph checks add the labels.
    parts = r.split(".")
    return (parts[2] if graph else ".".join(parts[2:]),)


def pair(k, p):
    """The same object under two names: checkov names a pod without metadata.name from its labels and cuts a
    graph check's name at the first dot; kestrel uses generateName and the whole name. Within one file, an
    object only one tool flagged is paired with one only the other flagged when one name starts with the
    other, or when each tool has just one such object in the file. Returns k and p with paired objects under
    kestrel's key in both."""
    p = set(p)
    for f in {o[0] for o in k - p}:
        ko = sorted(o for o in k - p if o[0] == f)
        po = sorted(o for o in p - k if o[0] == f)
        for a in ko:
            match = [b for b in po if a[1].startswith(b[1]) or b[1].startswith(a[1])]
            if not match and len(ko) == 1 and len(po) == 1:
                match = po
            if match:
                b = match[0]
                po.remove(b)
                p.discard(b)
                p.add(a)
    return k, p


def table(title, keys, kfound, pfound, peer, examples, show, seen=None):
    """`seen`: the objects the peer read at all (passed or failed anything); kestrel-only findings on objects it
    never read are counted apart — the peer skipped the file, it did not judge the object clean."""
    print(f"\n{title}\n")
    unread = f" (on objects {peer} did not read)" if seen is not None else ""
    print(f"| problem | both | kestrel only{unread} | {peer} only |")
    print("| --- | ---: | ---: | ---: |")
    diffs = {}
    for c in keys:
        k, p = kfound.get(c, set()), pfound.get(c, set())
        if not k and not p:
            continue
        k, p = pair(k, p)
        konly = k - p
        skipped = f" ({sum(o not in seen for o in konly)})" if seen is not None else ""
        print(f"| {c} | {len(k & p)} | {len(konly)}{skipped} | {len(p - k) if p or keys[c] else 'no check'} |")
        if seen is not None:
            konly = {o for o in konly if o in seen}
        diffs[c] = (sorted(konly), sorted(p - k))
    for c, (konly, ponly) in diffs.items():
        for who, items in (("kestrel only", konly), (f"{peer} only", ponly)):
            for it in items[:examples]:
                show(c, who, it)


def manifests(kestrel, checkov, root, examples):
    p, kwall, kcpu, krss = timed([kestrel, "config", root, "-f", "json"])
    kreport = json.loads(p.stdout)
    p, cwall, ccpu, crss = timed([checkov, "-d", root, "--framework", "kubernetes", "-o", "json", "--quiet",
                                  "--skip-download"])
    creport = json.loads(p.stdout or b"{}")
    if isinstance(creport, list):
        creport = next((r for r in creport if r.get("check_type") == "kubernetes"), {})
    failed = creport.get("results", {}).get("failed_checks", [])
    passed = creport.get("results", {}).get("passed_checks", [])
    print(f"## Kubernetes manifests: {kreport['files']} files, {kreport['objects']} objects\n")
    print("| tool | wall (s) | CPU (s) | max RSS (MiB) | findings | files it could not read |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| kestrel config | {kwall:.2f} | {kcpu:.2f} | {krss:.0f} | {len(kreport['findings'])} | "
          f"{len(kreport['errors'])} |")
    cerr = creport.get("summary", {}).get("parsing_errors", "?")
    print(f"| checkov --framework kubernetes | {cwall:.1f} | {ccpu:.1f} | {crss:.0f} | {len(failed)} | {cerr} |")
    print(f"\nkestrel is **{cwall / kwall:.0f}×** faster (wall).")
    kfound, cfound = collections.defaultdict(set), collections.defaultdict(set)
    where = {}
    for f in kreport["findings"]:
        rel = os.path.relpath(f["file"], root)
        for c, keys in CK_KESTREL.items():
            if any(f["id"] == i and (sub is None or sub in f["field"]) for i, sub in keys):
                key = (rel, *kestrel_resource(f["resource"]))
                kfound[c].add(key)
                where.setdefault((c, key), f"{f['id']} line {f['line']}: {f['message']}")
    seen = set()
    for f in failed + passed:
        path = f.get("file_abs_path") or f["file_path"]
        if not os.path.exists(path):  # checkov writes paths relative to the working directory with a leading /
            path = os.path.abspath(path.lstrip("/"))
        rel = f["rel"] = os.path.relpath(path, root)
        seen.add((rel, *checkov_resource(f["resource"], f["check_id"].startswith("CKV2_"))))
    for f in failed:
        rel = f["rel"]
        for c, ids in CK_CHECKOV.items():
            if f["check_id"] in ids:
                key = (rel, *checkov_resource(f["resource"], f["check_id"].startswith("CKV2_")))
                cfound[c].add(key)
                where.setdefault((c, ("checkov",) + key), f"{f['check_id']} lines {f['file_line_range']}: {f['check_name']}")

    def show(c, who, key):
        note = where.get((c, key)) or where.get((c, ("checkov",) + key), "")
        print(f"- {c}, {who}: `{key[0]}` {key[1]} — {note}")

    table("Per problem, per object (file and name):", CK_CHECKOV, kfound, cfound, "checkov", examples, show, seen)
    mapped = {i for ids in CK_CHECKOV.values() for i in ids}
    counts = collections.Counter(f["check_id"] for f in failed if f["check_id"] not in mapped)
    names = {f["check_id"]: f["check_name"] for f in failed}
    print("\ncheckov's other failed checks (no kestrel counterpart in the mapping):",
          ", ".join(f"{c} {names[c]} ({n})" for c, n in counts.most_common()))
    kmapped = {i for keys in CK_KESTREL.values() for i, _ in keys}
    kc = collections.Counter(f["id"] for f in kreport["findings"] if f["id"] not in kmapped)
    print("\nkestrel's other findings (no checkov counterpart in the mapping):",
          ", ".join(f"{c} ({n})" for c, n in kc.most_common()))


def dockerfiles(kestrel, hadolint, root, examples):
    files = sorted(os.path.join(d, "Dockerfile") for d, _, fs in os.walk(root) if "Dockerfile" in fs)
    p, kwall, kcpu, krss = timed([kestrel, "config", root, "-f", "json"])
    kreport = json.loads(p.stdout)
    p, hwall, hcpu, hrss = timed([hadolint, "--no-fail", "-f", "json", *files])
    hreport = json.loads(p.stdout or b"[]")
    print(f"\n## Dockerfiles: {len(files)} files\n")
    print("| tool | wall (s) | CPU (s) | max RSS (MiB) | findings | files it could not read |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| kestrel config | {kwall:.3f} | {kcpu:.3f} | {krss:.0f} | {len(kreport['findings'])} | "
          f"{len(kreport['errors'])} |")
    herr = sum(1 for h in hreport if h["code"] == "DL1000")
    print(f"| hadolint | {hwall:.2f} | {hcpu:.2f} | {hrss:.0f} | {len(hreport)} | {herr} |")
    print(f"\nkestrel is **{hwall / kwall:.0f}×** faster (wall).")
    kfound, hfound, where = collections.defaultdict(set), collections.defaultdict(set), {}
    for f in kreport["findings"]:
        rel = os.path.relpath(f["file"], root)
        for c, ids in DF_KESTREL.items():
            if f["id"] in ids:
                kfound[c].add((rel, ""))
                where.setdefault((c, rel), f"{f['id']} line {f['line']}: {f['message']}")
    for h in hreport:
        rel = os.path.relpath(h["file"], root)
        for c, ids in DF_HADOLINT.items():
            if h["code"] in ids:
                hfound[c].add((rel, ""))
                where.setdefault((c, rel), f"{h['code']} line {h['line']}: {h['message']}")

    def show(c, who, key):
        src = source(root, key[0])
        print(f"- {c}, {who}: `{key[0]}` ({src}) — {where.get((c, key[0]), '')}")

    table("Per problem, per Dockerfile:", DF_HADOLINT, kfound, hfound, "hadolint", examples, show)
    mapped = {i for ids in DF_HADOLINT.values() for i in ids}
    counts = collections.Counter(h["code"] for h in hreport if h["code"] not in mapped)
    print("\nhadolint's other rules (no kestrel counterpart in the mapping):",
          ", ".join(f"{c} ({n})" for c, n in counts.most_common()))
    kmapped = {i for ids in DF_KESTREL.values() for i in ids}
    kc = collections.Counter(f["id"] for f in kreport["findings"] if f["id"] not in kmapped)
    print("\nkestrel's other findings:", ", ".join(f"{c} ({n})" for c, n in kc.most_common()))


def source(root, rel):
    """Where a copied Dockerfile came from (the SOURCES list bench/public_corpus.sh writes)."""
    top, num = rel.split("/")[:2]
    try:
        for line in open(os.path.join(root, top, "SOURCES")):
            n, path = line.split(" ", 1)
            if n == num:
                return path.strip()
    except OSError:
        pass
    return "?"


def main():
    kestrel, checkov, hadolint = sys.argv[1:4]
    root = os.path.abspath(sys.argv[4])
    examples = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    manifests(kestrel, checkov, os.path.join(root, "manifests"), examples)
    dockerfiles(kestrel, hadolint, os.path.join(root, "dockerfiles"), examples)


if __name__ == "__main__":
    main()
