#!/usr/bin/env python3
"""Generates a corpus of Kubernetes manifests with known misconfigurations, for bench/config.sh.

    bench/config_corpus.py OUT_DIR [N] [SEED]

Writes N manifests (default 2000) of every workload kind into OUT_DIR, one object per file, each with a
random set of planted problems (and the rest done right), and OUT_DIR.truth.json: for every file, the
concepts it breaks (a Docker socket mount is a hostPath volume too). The concepts are the ones both kestrel and checkov claim to check, so the comparison can
say who is right.
"""
import json
import os
import random
import sys

CONCEPTS = [
    "privileged", "hostPID", "hostIPC", "hostNetwork", "allowPrivilegeEscalation", "runAsNonRoot",
    "runAsUser0", "readOnlyRootFilesystem", "addedCapability", "dropAll", "hostPort", "hostPath",
    "dockerSocket", "seccomp", "latestTag", "limits", "saToken", "defaultNamespace", "secretEnv",
]

KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet"]


def container(rng, bad, i):
    sc = {
        "allowPrivilegeEscalation": "allowPrivilegeEscalation" in bad and rng.random() < 0.5,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    if "allowPrivilegeEscalation" in bad and not sc["allowPrivilegeEscalation"]:
        del sc["allowPrivilegeEscalation"]  # unset: allowed by default, also a finding
    if "privileged" in bad:
        sc["privileged"] = True
    if "readOnlyRootFilesystem" in bad:
        if rng.random() < 0.5:
            del sc["readOnlyRootFilesystem"]
        else:
            sc["readOnlyRootFilesystem"] = False
    if "addedCapability" in bad:
        sc["capabilities"]["add"] = [rng.choice(["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE"])]
    if "dropAll" in bad:
        sc["capabilities"]["drop"] = rng.choice([[], ["NET_RAW"], ["MKNOD", "NET_RAW"]])
    if "runAsUser0" in bad:
        sc["runAsUser"] = 0
    c = {
        "name": f"c{i}",
        "image": "registry.example/app:latest" if "latestTag" in bad else
        f"registry.example/app:1.{rng.randint(0, 30)}@sha256:{rng.getrandbits(256):064x}",
        "securityContext": sc,
        "ports": [{"containerPort": 8080}],
    }
    if "hostPort" in bad:
        c["ports"][0]["hostPort"] = 8080
    if "limits" not in bad:
        c["resources"] = {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}
    env = [{"name": "LOG_LEVEL", "value": "info"}]
    if "secretEnv" in bad:
        env.append({"name": rng.choice(["DB_PASSWORD", "API_TOKEN", "AWS_SECRET_ACCESS_KEY"]), "value": "s3cr3t-value"})
    else:
        env.append({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}})
    c["env"] = env
    return c


def pod_spec(rng, bad):
    spec = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "automountServiceAccountToken": False,
        "containers": [container(rng, bad, i) for i in range(rng.choice([1, 1, 2]))],
    }
    if "runAsNonRoot" in bad:
        if rng.random() < 0.5:
            del spec["securityContext"]["runAsNonRoot"]
        else:
            spec["securityContext"]["runAsNonRoot"] = False
    if "runAsUser0" in bad:
        del spec["securityContext"]["runAsUser"]
    if "seccomp" in bad:
        if rng.random() < 0.5:
            del spec["securityContext"]["seccompProfile"]
        else:
            spec["securityContext"]["seccompProfile"]["type"] = "Unconfined"
    for ns in ("hostPID", "hostIPC", "hostNetwork"):
        if ns in bad:
            spec[ns] = True
    if "saToken" in bad:
        del spec["automountServiceAccountToken"]
    vols = [{"name": "tmp", "emptyDir": {}}]
    if "hostPath" in bad:
        vols.append({"name": "host", "hostPath": {"path": rng.choice(["/etc", "/var/log", "/opt/data"])}})
    if "dockerSocket" in bad:
        vols.append({"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}})
    spec["volumes"] = vols
    return spec


def manifest(rng, kind, name, bad):
    ns = "default" if "defaultNamespace" in bad else rng.choice(["shop", "payments", "search", "batch"])
    meta = {"name": name, "namespace": ns, "labels": {"app": name}}
    spec = pod_spec(rng, bad)
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    if kind == "Job":
        spec["restartPolicy"] = "Never"
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {"template": template}}
    if kind == "CronJob":
        spec["restartPolicy"] = "OnFailure"
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}}
    body = {"selector": {"matchLabels": {"app": name}}, "template": template}
    if kind != "DaemonSet":
        body["replicas"] = rng.randint(1, 5)
    if kind == "StatefulSet":
        body["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": body}


def to_yaml(v, indent=0):
    """A small YAML writer (block style), so the corpus needs nothing beyond Python."""
    pad = "  " * indent
    if isinstance(v, dict):
        if not v:
            return "{}"
        lines = []
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                lines.append(f"{pad}{k}:\n{to_yaml(x, indent + 1)}")
            else:
                lines.append(f"{pad}{k}: {to_yaml(x, 0)}")
        return "\n".join(lines)
    if isinstance(v, list):
        if not v:
            return "[]"
        lines = []
        for x in v:
            if isinstance(x, dict) and x:
                inner = to_yaml(x, indent + 1).lstrip()
                lines.append(f"{pad}- {inner}")
            else:
                lines.append(f"{pad}- {to_yaml(x, 0)}")
        return "\n".join(lines)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v)


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 190)
    os.makedirs(out, exist_ok=True)
    truth = {}
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        bad = set(c for c in CONCEPTS if rng.random() < 0.15)
        name = f"{kind.lower()}-{i:04d}"
        m = manifest(rng, kind, name, bad)
        path = f"{name}.yaml"
        with open(os.path.join(out, path), "w") as f:
            f.write(to_yaml(m) + "\n")
        if "dockerSocket" in bad:
            bad.add("hostPath")
        truth[path] = sorted(bad)
    with open(out.rstrip("/") + ".truth.json", "w") as f:
        json.dump(truth, f, indent=0)


if __name__ == "__main__":
    main()
