#!/usr/bin/env python3
"""kestrel config and hadolint on the same generated Dockerfiles, in one run: speed, and per planted problem
who finds it and who flags it where it was not planted.

    bench/dockerfile_compare.py KESTREL HADOLINT OUT_DIR [N] [SEED]

Writes N Dockerfiles (default 2000) into OUT_DIR/corpus/NNNN/Dockerfile, each with a random set of planted
problems and the rest done right, then runs both tools. Prints a Markdown report.
"""
import collections
import json
import os
import random

import sys

from peers import timed

CONCEPTS = ["userRoot", "baseLatest", "aptRecommends", "updateAlone", "curlPipe", "unverified", "sudo",
            "addLocal", "addUrl", "secretEnv", "worldWritable", "setuid", "ssh", "noHealthcheck"]

KESTREL = {
    "userRoot": ["dockerfile:user-root"], "baseLatest": ["dockerfile:base-moving-tag"],
    "aptRecommends": ["dockerfile:apt-recommends"], "updateAlone": ["dockerfile:update-alone"],
    "curlPipe": ["dockerfile:curl-pipe-shell"], "unverified": ["dockerfile:unverified-packages"],
    "sudo": ["dockerfile:sudo"], "addLocal": ["dockerfile:add-instead-of-copy"], "addUrl": ["dockerfile:add-url"],
    "secretEnv": ["dockerfile:secret-in-env", "dockerfile:secret-build-arg"], "worldWritable": ["dockerfile:world-writable"],
    "setuid": ["dockerfile:setuid"], "ssh": ["dockerfile:ssh"], "noHealthcheck": ["dockerfile:no-healthcheck"],
}
HADOLINT = {
    "userRoot": ["DL3002"], "baseLatest": ["DL3006", "DL3007"], "aptRecommends": ["DL3015"], "updateAlone": [],
    # DL4006 asks for `set -o pipefail` before any pipe: it marks the `curl … | sh` line, for another reason.
    "curlPipe": ["DL4006"], "unverified": [], "sudo": ["DL3004"], "addLocal": ["DL3020"], "addUrl": [],
    "secretEnv": ["DL3064"],
    "worldWritable": [], "setuid": [], "ssh": [], "noHealthcheck": ["DL3057"],
}


def dockerfile(rng, bad):
    lines = ["# syntax=docker/dockerfile:1"]
    base = rng.choice(["debian", "ubuntu"])
    if "baseLatest" in bad:
        lines.append(f"FROM {base}{rng.choice(['', ':latest'])} AS build")
    else:
        lines.append(f"FROM {base}:{rng.choice(['12.8', '24.04'])}@sha256:{rng.getrandbits(256):064x} AS build")
    if "updateAlone" in bad:
        lines.append("RUN apt-get update")
    flags = " --no-install-recommends" if "aptRecommends" not in bad else ""
    unverified = " --allow-unauthenticated" if "unverified" in bad else ""
    pkgs = "ca-certificates=20230311 curl=7.88.1-10" + (" openssh-server=1:9.2p1-2" if "ssh" in bad else "")
    lines.append(f"RUN apt-get update && apt-get install -y{flags}{unverified} {pkgs} && rm -rf /var/lib/apt/lists/*")
    if "secretEnv" in bad:
        lines.append(f"ENV {rng.choice(['DB_PASSWORD', 'API_TOKEN', 'AWS_SECRET_ACCESS_KEY'])}=s3cr3t")
    lines.append("ENV APP_HOME=/app")
    if "curlPipe" in bad:
        lines.append("RUN curl -fsSL https://get.example.com/install.sh | sh")
    if "sudo" in bad:
        lines.append("RUN sudo mkdir -p /app")
    if "addLocal" in bad:
        lines.append("ADD app.py /app/app.py")
    else:
        lines.append("COPY app.py /app/app.py")
    if "addUrl" in bad:
        lines.append("ADD https://example.com/tool.tar.gz /opt/tool.tar.gz")
    if "worldWritable" in bad:
        lines.append("RUN chmod 777 /app")
    if "setuid" in bad:
        lines.append("RUN chmod u+s /app/app.py")
    lines.append(f"FROM gcr.io/distroless/python3-debian12:nonroot@sha256:{rng.getrandbits(256):064x}")
    lines.append("COPY --from=build /app /app")
    if "ssh" in bad:
        lines.append("EXPOSE 22")
    lines.append("EXPOSE 8080")
    if "userRoot" in bad:
        lines.append(rng.choice(["USER root", "USER 0"]))
    else:
        lines.append("USER 65532:65532")
    if "noHealthcheck" not in bad:
        lines.append('HEALTHCHECK CMD ["/app/health"]')
    lines.append('ENTRYPOINT ["python3", "/app/app.py"]')
    return "\n".join(lines) + "\n"


def main():
    kestrel, hadolint, out = sys.argv[1], sys.argv[2], sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 1206)
    corpus = os.path.join(out, "corpus")
    truth, paths = {}, []
    for i in range(n):
        bad = set(c for c in CONCEPTS if rng.random() < 0.15)
        d = os.path.join(corpus, f"{i:04d}")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "Dockerfile")
        with open(path, "w") as f:
            f.write(dockerfile(rng, bad))
        truth[path] = bad
        paths.append(path)

    k_runs = [timed([kestrel, "config", corpus, "-f", "json"]) for _ in range(3)]
    kreport = json.loads(k_runs[-1][0].stdout)
    k_wall = min(r[1] for r in k_runs)
    p, h_wall, h_cpu, h_rss = timed([hadolint, "--no-fail", "-f", "json"] + paths)
    hreport = json.loads(p.stdout or b"[]")

    kfound, hfound = collections.defaultdict(set), collections.defaultdict(set)
    for f in kreport["findings"]:
        for c, ids in KESTREL.items():
            if f["id"] in ids:
                kfound[f["file"]].add(c)
    hcodes = collections.Counter()
    for f in hreport:
        hcodes[f["code"]] += 1
        for c, ids in HADOLINT.items():
            if f["code"] in ids:
                hfound[f["file"]].add(c)

    print(f"## {n} Dockerfiles\n")
    print("| tool | wall (s) | CPU (s) | max RSS (MiB) |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| kestrel config (best of 3) | {k_wall:.3f} | {min(r[2] for r in k_runs):.3f} | {k_runs[-1][3]:.0f} |")
    print(f"| hadolint | {h_wall:.2f} | {h_cpu:.2f} | {h_rss:.0f} |")
    print(f"\nkestrel is **{h_wall / k_wall:.0f}×** faster (wall).\n")
    print("| problem | planted | kestrel found | kestrel false alarms | hadolint found | hadolint false alarms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for c in CONCEPTS:
        planted = [p for p in paths if c in truth[p]]
        clean = [p for p in paths if c not in truth[p]]
        kt, kf = sum(c in kfound[p] for p in planted), sum(c in kfound[p] for p in clean)
        if HADOLINT[c]:
            hs = f"{sum(c in hfound[p] for p in planted)} | {sum(c in hfound[p] for p in clean)}"
        else:
            hs = "no rule | —"
        print(f"| {c} | {len(planted)} | {kt} | {kf} | {hs} |")
    print("\nhadolint's findings by rule:")
    for code, k in hcodes.most_common():
        mapped = any(code in ids for ids in HADOLINT.values())
        print(f"- {code} ({k}){'' if mapped else ' [not mapped]'}")


if __name__ == "__main__":
    main()
