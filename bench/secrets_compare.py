#!/usr/bin/env python3
"""kestrel secrets and kingfisher on the same corpus (bench/secrets_corpus.py), in one run: throughput, and
which planted secrets each finds.

    bench/secrets_compare.py KESTREL KINGFISHER CORPUS_DIR [RUNS]

With DETECT_SECRETS=path/to/detect-secrets in the environment, detect-secrets (`scan --all-files`) runs too
(once: it is slow) — use a smaller corpus for that.

Both run with their default parallelism on the machine's cores, on a warm page cache (one untimed run of each
first). kingfisher runs with --no-validate (no network here). Prints a Markdown report.
"""
import collections
import json
import os
import subprocess

import sys

from peers import timed


def main():
    kestrel, kingfisher, corpus = sys.argv[1], sys.argv[2], sys.argv[3].rstrip("/")
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    truth = json.load(open(corpus + ".truth.json"))
    mib = truth["bytes"] / 2**20
    kcmd = [kestrel, "secrets", corpus, "-f", "json"]
    fcmd = [kingfisher, "scan", corpus, "--no-validate", "-f", "json", "--no-extract-archives"]
    subprocess.run(kcmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(fcmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    for name, cmd in (("kestrel secrets", kcmd), ("kingfisher scan --no-validate", fcmd)):
        best = None
        for _ in range(runs):
            p, wall, cpu, rss = timed(cmd)
            if best is None or wall < best[1]:
                best = (p, wall, cpu, rss)
        rows.append((name, best))
    ds = os.environ.get("DETECT_SECRETS")
    if ds:
        # detect-secrets scans paths relative to the working directory (an absolute path gives nothing).
        here = os.getcwd()
        os.chdir(corpus)
        p, wall, cpu, rss = timed([ds, "scan", "--all-files", "."])
        os.chdir(here)
        rows.append(("detect-secrets scan --all-files (once)", (p, wall, cpu, rss)))
    kout = json.loads(rows[0][1][0].stdout)
    fout = json.loads(rows[1][1][0].stdout.split(b"\n", 1)[0] or b"{}")

    def rel(p):
        return os.path.relpath(p, corpus) if os.path.isabs(p) else os.path.relpath(p, corpus)

    found = {"kestrel": collections.defaultdict(set), "kingfisher": collections.defaultdict(set),
             "detect-secrets": collections.defaultdict(set)}
    dcount = 0
    if ds:
        dout = json.loads(rows[2][1][0].stdout or b"{}")
        for file, items in dout.get("results", {}).items():
            for it in items:
                found["detect-secrets"][os.path.normpath(file)].add(it["line_number"])
                dcount += 1
    for f in kout["findings"]:
        found["kestrel"][rel(f["file"])].add(f["line"])
    for f in fout.get("findings", []):
        found["kingfisher"][rel(f["finding"]["path"])].add(f["finding"]["line"])

    print(f"## {truth['files']} text files, {mib:.0f} MiB, {len(truth['planted'])} planted secrets\n")
    print("| tool | wall (s) | CPU (s) | MiB/s | max RSS (MiB) | findings |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for (name, (p, wall, cpu, rss)), n in zip(rows, (len(kout["findings"]), len(fout.get("findings", [])), dcount)):
        print(f"| {name} (best of {runs}) | {wall:.2f} | {cpu:.2f} | {mib / wall:.0f} | {rss:.0f} | {n} |")
    kw = rows[0][1][1]
    fw = rows[1][1][1]
    print(f"\nkestrel is **{fw / kw:.1f}×** faster than kingfisher (wall), {mib / kw / 1024:.2f} GiB/s.\n")
    tools = ["kestrel", "kingfisher"] + (["detect-secrets"] if ds else [])
    print("| planted kind | planted | " + " | ".join(f"{t} found" for t in tools) + " |")
    print("| --- | ---: |" + " ---: |" * len(tools))
    by_kind = collections.defaultdict(list)
    for t in truth["planted"]:
        by_kind[t["kind"]].append(t)
    tot = collections.Counter()
    for kind, items in sorted(by_kind.items()):
        hits = [sum(any(abs(l - t["line"]) <= 1 for l in found[tool][t["file"]]) for t in items) for tool in tools]
        tot.update({"n": len(items)})
        tot.update({tool: h for tool, h in zip(tools, hits)})
        print(f"| {kind} | {len(items)} | " + " | ".join(str(h) for h in hits) + " |")
    print(f"| **all** | {tot['n']} | " + " | ".join(str(tot[t]) for t in tools) + " |")
    planted = {(t["file"], t["line"]) for t in truth["planted"]}
    for tool in tools:
        other = sum(1 for file, lines in found[tool].items() for l in lines
                    if not any((file, l + d) in planted for d in (-1, 0, 1)))
        print(f"\n{tool}: {other} findings away from the planted lines (secret-shaped text already in the files:"
              " documentation examples, test keys — unlabelled, neither counted right nor wrong here)")


if __name__ == "__main__":
    main()
