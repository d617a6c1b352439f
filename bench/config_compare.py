#!/usr/bin/env python3
"""kestrel config and checkov on the same generated corpus, in one run: speed, and per planted concept who
finds it (true positives), who misses it and who flags it where it was not planted.

    bench/config_compare.py KESTREL CHECKOV CORPUS_DIR [RUNS]

The truth is CORPUS_DIR.truth.json (bench/config_corpus.py). Prints a Markdown report.
"""
import collections
import json
import os

import sys

from peers import timed

# kestrel's findings per concept: (id, optional substring of the field).
KESTREL = {
    "privileged": [("pss:baseline:privileged", None)],
    "hostPID": [("pss:baseline:hostNamespaces", "hostPID")],
    "hostIPC": [("pss:baseline:hostNamespaces", "hostIPC")],
    "hostNetwork": [("pss:baseline:hostNamespaces", "hostNetwork")],
    "allowPrivilegeEscalation": [("pss:restricted:allowPrivilegeEscalation", None)],
    "runAsNonRoot": [("pss:restricted:runAsNonRoot", None)],
    "runAsUser0": [("pss:restricted:runAsUser", None)],
    "readOnlyRootFilesystem": [("k8s:read-only-root-fs", None)],
    "addedCapability": [("pss:baseline:capabilities_baseline", None)],
    "dropAll": [("pss:restricted:capabilities_restricted", "drop")],
    "hostPort": [("pss:baseline:hostPorts", None)],
    "hostPath": [("pss:baseline:hostPathVolumes", None)],
    "dockerSocket": [("k8s:runtime-socket", None)],
    "seccomp": [("pss:restricted:seccompProfile_restricted", None)],
    "latestTag": [("k8s:image-moving-tag", None)],
    "limits": [("k8s:resource-limits", None)],
    "saToken": [("k8s:sa-token-automount", None)],
    "defaultNamespace": [("k8s:default-namespace", None)],
    "secretEnv": [("k8s:secret-in-env", None)],
    "secretEnvRef": [("k8s:secret-env-ref", None)],
    "requests": [("k8s:resource-requests", None)],
    "digest": [("k8s:image-moving-tag", None), ("k8s:image-not-pinned", None)],
    "networkPolicy": [("k8s:no-network-policy", None)],
}

# Concepts that follow from the planted ones: clean manifests pass the password by secretKeyRef (a secret as
# an environment variable, what CIS 5.4.1 asks to avoid); a manifest without limits has no requests either;
# every image is pinned by digest unless it is :latest; the corpus has no NetworkPolicy at all.
DERIVED = {
    "secretEnvRef": lambda t: "secretEnv" not in t,
    "requests": lambda t: "limits" in t,
    "digest": lambda t: "latestTag" in t,
    "networkPolicy": lambda t: True,
}

# checkov's checks per concept (ids of checkov's Kubernetes framework).
CHECKOV = {
    "privileged": ["CKV_K8S_16"],
    "hostPID": ["CKV_K8S_17"],
    "hostIPC": ["CKV_K8S_18"],
    "hostNetwork": ["CKV_K8S_19"],
    "allowPrivilegeEscalation": ["CKV_K8S_20"],
    "runAsNonRoot": ["CKV_K8S_23"],
    "runAsUser0": [],
    "readOnlyRootFilesystem": ["CKV_K8S_22"],
    "addedCapability": ["CKV_K8S_25", "CKV_K8S_39"],
    "dropAll": ["CKV_K8S_37", "CKV_K8S_28"],
    "hostPort": ["CKV_K8S_26"],
    "hostPath": [],
    "dockerSocket": ["CKV_K8S_27"],
    "seccomp": ["CKV_K8S_31"],
    "latestTag": ["CKV_K8S_14"],
    "limits": ["CKV_K8S_11", "CKV_K8S_13"],
    "saToken": ["CKV_K8S_38"],
    "defaultNamespace": ["CKV_K8S_21"],
    "secretEnv": [],
    "secretEnvRef": ["CKV_K8S_35"],
    "requests": ["CKV_K8S_10", "CKV_K8S_12"],
    "digest": ["CKV_K8S_43"],
    "networkPolicy": ["CKV2_K8S_6"],
}


def main():
    kestrel, checkov, corpus = sys.argv[1], sys.argv[2], sys.argv[3].rstrip("/")
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    truth = json.load(open(corpus + ".truth.json"))
    for f, t in truth.items():
        truth[f] = t + [c for c, rule in DERIVED.items() if rule(t)]
    files = sorted(truth)

    k_times = []
    for _ in range(runs):
        p, wall, cpu, rss = timed([kestrel, "config", corpus, "-f", "json"])
        k_times.append((wall, cpu))
    kreport = json.loads(p.stdout)
    k_rss = rss
    p, c_wall, c_cpu, c_rss = timed([checkov, "-d", corpus, "--framework", "kubernetes", "-o", "json", "--quiet",
                                     "--skip-download"])
    creport = json.loads(p.stdout or b"{}")
    if isinstance(creport, list):
        creport = next((r for r in creport if r.get("check_type") == "kubernetes"), {})
    failed = creport.get("results", {}).get("failed_checks", [])

    kfound = collections.defaultdict(set)
    for f in kreport["findings"]:
        name = os.path.basename(f["file"])
        for concept, keys in KESTREL.items():
            if any(f["id"] == i and (sub is None or sub in f["field"]) for i, sub in keys):
                kfound[name].add(concept)
    cfound = collections.defaultdict(set)
    cnames = {}
    for f in failed:
        name = os.path.basename(f["file_path"])
        cnames[f["check_id"]] = f.get("check_name", "")
        for concept, ids in CHECKOV.items():
            if f["check_id"] in ids:
                cfound[name].add(concept)

    k_wall = min(w for w, _ in k_times)
    print(f"## {len(files)} manifests\n")
    print("| tool | wall (s) | CPU (s) | max RSS (MiB) |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| kestrel config (best of {runs}) | {k_wall:.3f} | {min(c for _, c in k_times):.3f} | {k_rss:.0f} |")
    print(f"| checkov --framework kubernetes | {c_wall:.1f} | {c_cpu:.1f} | {c_rss:.0f} |")
    print(f"\nkestrel is **{c_wall / k_wall:.0f}×** faster (wall).\n")
    print("| concept | planted | kestrel found | kestrel false alarms | checkov found | checkov false alarms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    totals = collections.Counter()
    for concept in KESTREL:
        planted = [f for f in files if concept in truth[f]]
        clean = [f for f in files if concept not in truth[f]]
        kt = sum(concept in kfound[f] for f in planted)
        kf = sum(concept in kfound[f] for f in clean)
        if CHECKOV[concept]:
            ct = sum(concept in cfound[f] for f in planted)
            cf = sum(concept in cfound[f] for f in clean)
            cs, cfs = str(ct), str(cf)
            totals.update({"ct": ct, "cf": cf, "cplanted": len(planted)})
        else:
            cs, cfs = "no check", "—"
        totals.update({"kt": kt, "kf": kf, "planted": len(planted)})
        print(f"| {concept} | {len(planted)} | {kt} | {kf} | {cs} | {cfs} |")
    print(f"| **all** | {totals['planted']} | {totals['kt']} | {totals['kf']} | {totals['ct']} of {totals['cplanted']} | {totals['cf']} |")
    print(f"\ncheckov failed {len(failed)} checks in all, of {len(cnames)} kinds:")
    counts = collections.Counter(f["check_id"] for f in failed)
    for cid, n in counts.most_common():
        mapped = any(cid in ids for ids in CHECKOV.values())
        print(f"- {cid} ({n}){'' if mapped else ' [not mapped]'}: {cnames[cid]}")


if __name__ == "__main__":
    main()
