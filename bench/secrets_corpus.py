#!/usr/bin/env python3
"""A corpus of mixed text for the secrets benchmark, with planted secrets and their truth.

    bench/secrets_corpus.py OUT_DIR [MEGABYTES] [SEED]

Copies text files (UTF-8, no NUL byte, under 4 MiB) from this machine's documentation, headers, Python and
Rust sources until MEGABYTES (default 1024) are reached, then plants secrets of known kinds into some of them
(assembled at random, so none is real) and writes OUT_DIR.truth.json: file, line, kind.
"""
import json
import os
import random
import shutil
import string
import sys

SOURCES = ["/usr/share", "/usr/include", "/usr/lib", os.path.expanduser("~/.cargo/registry/src"),
           os.path.expanduser("~/.pyenv"), os.path.expanduser("~/.rustup/toolchains")]


def text_files():
    seen = set()
    for root in SOURCES:
        for dirpath, _, names in os.walk(root):
            for n in sorted(names):
                p = os.path.join(dirpath, n)
                try:
                    if os.path.islink(p) or not os.path.isfile(p) or p in seen:
                        continue
                    seen.add(p)
                    size = os.path.getsize(p)
                    if size == 0 or size > 4 << 20:
                        continue
                    with open(p, "rb") as f:
                        head = f.read(8192)
                    if b"\0" in head:
                        continue
                    head.decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                yield p, size


def rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def secret(rng, kind):
    an = string.ascii_letters + string.digits
    if kind == "aws":
        return f"aws_access_key_id = AKIA{rand(rng, string.ascii_uppercase + string.digits, 16)}"
    if kind == "github":
        return f"GITHUB_TOKEN=ghp_{rand(rng, an, 36)}"
    if kind == "stripe":
        return f'stripe_key = "sk_live_{rand(rng, an, 28)}"'
    if kind == "slack":
        return f"SLACK_BOT_TOKEN=xoxb-{rand(rng, string.digits, 12)}-{rand(rng, string.digits, 13)}-{rand(rng, an, 24)}"
    if kind == "password":
        return f'db_password = "{rand(rng, an + "!#%&", 16)}"'
    if kind == "url":
        return f"DATABASE_URL=postgres://app:{rand(rng, an, 14)}@db.internal:5432/app"
    if kind == "key":
        body = rand(rng, an + "+/", 64)
        return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n{rand(rng, an + '+/', 64)}\n-----END RSA PRIVATE KEY-----"
    raise ValueError(kind)


def main():
    out = sys.argv[1].rstrip("/")
    budget = int(sys.argv[2]) << 20 if len(sys.argv) > 2 else 1 << 30
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    os.makedirs(out, exist_ok=True)
    total, copied = 0, []
    for i, (p, size) in enumerate(text_files()):
        if total >= budget:
            break
        dest = os.path.join(out, f"{i // 1000:03d}", f"{i:06d}-{os.path.basename(p)}")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(p, dest)
        total += size
        copied.append(dest)
    truth = []
    kinds = ["aws", "github", "stripe", "slack", "password", "url", "key"]
    for dest in rng.sample(copied, min(700, len(copied))):
        kind = rng.choice(kinds)
        with open(dest, "r", encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().split("\n")
        at = rng.randint(0, len(lines))
        lines.insert(at, secret(rng, kind))
        with open(dest, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("\n".join(lines))
        truth.append({"file": os.path.relpath(dest, out), "line": at + 1, "kind": kind})
    with open(out + ".truth.json", "w") as f:
        json.dump({"bytes": total, "files": len(copied), "planted": truth}, f)
    print(f"{len(copied)} files, {total / 2**20:.0f} MiB, {len(truth)} secrets planted")


if __name__ == "__main__":
    main()
