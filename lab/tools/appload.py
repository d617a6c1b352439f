#!/usr/bin/env python3
"""Ordinary load for the lab's app image (tools/app.py), from the host:

    appload.py PORT REQUESTS

REQUESTS requests drawn at random from a mix a notes service sees — mostly reads, some writes, searches,
static files (some missing), uploads of random sizes, users' own files (stored, fetched, listed; the users
named at random from a few thousand names, a directory each), now and then an export (of the uploads, or of one
user's files), a disk-usage report of one of
the app's directories, or a backup of the notes of which a few are restored — with random pauses (mostly short, sometimes a second). Failures are counted, not
fatal: the app is the workload, this is its traffic.

The environment's APPLOAD_STATS (default 0) is the weight of the app's seldom-used statistics page (`/stats`, whose
code the app imports on first use) among the mix's 116: 0 leaves it out, as the lab's ordinary load does. APPLOAD_TZ
(default 0) is the weight of reading a note in a reader's time zone (one of 22, across ten regions).
"""
import json
import os
import pickle
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

WORDS = "alpha beta gamma delta notes lab kestrel coffee river stone cloud report draft budget".split()


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    base = f"http://127.0.0.1:{port}"
    rng = random.Random()
    known = []

    def call(method, path, data=None):
        req = urllib.request.Request(base + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return None, b""

    def note():
        words = rng.choices(WORDS, k=rng.randint(3, 400))
        status, body = call("POST", "/notes", " ".join(words).encode())
        if status == 201:
            known.append(json.loads(body)["id"])

    def read():
        if known and rng.random() < 0.85:
            call("GET", f"/notes/{rng.choice(known)}")
        else:
            call("GET", f"/notes/{rng.randint(1, 100000)}")

    def delete():
        if known:
            call("DELETE", f"/notes/{known.pop(rng.randrange(len(known)))}")

    def upload():
        name = f"{rng.choice(WORDS)}-{rng.randint(1, 999)}.{rng.choice(['txt', 'csv', 'bin'])}"
        size = int(rng.lognormvariate(8, 1.5))
        call("POST", "/upload?" + urllib.parse.urlencode({"name": name}), rng.randbytes(min(size, 1 << 20)))

    files = []

    def user():
        return f"{rng.choice(WORDS)}{rng.choice(WORDS)}-{rng.choice(WORDS)}"

    def put_file():
        path = f"/files/{user()}/{rng.choice(WORDS)}-{rng.randint(1, 99)}.{rng.choice(['txt', 'md', 'png'])}"
        if call("PUT", path, rng.randbytes(int(rng.lognormvariate(7, 1.2)) % (1 << 20)))[0] == 201:
            files.append(path)

    def get_file():
        call("GET", rng.choice(files) if files and rng.random() < 0.9 else f"/files/{user()}/missing.txt")

    def list_files():
        call("GET", rng.choice(files).rsplit("/", 1)[0] if files else f"/files/{user()}")

    def export_user():
        who = rng.choice(files).split("/")[2] if files and rng.random() < 0.9 else user()
        call("GET", "/export?" + urllib.parse.urlencode({"user": who}))

    zones = [
        "Europe/Berlin", "Europe/Paris", "Europe/Lisbon", "Europe/Kyiv", "Europe/Oslo", "America/New_York",
        "America/Chicago", "America/Sao_Paulo", "America/Mexico_City", "America/Argentina/Buenos_Aires",
        "Asia/Tokyo", "Asia/Kolkata", "Asia/Singapore", "Asia/Dubai", "Africa/Lagos", "Africa/Nairobi",
        "Australia/Sydney", "Pacific/Auckland", "Atlantic/Reykjavik", "Indian/Maldives", "UTC", "Etc/GMT+5",
    ]

    def read_in_zone():
        if known:
            call("GET", f"/notes/{rng.choice(known)}?" + urllib.parse.urlencode({"tz": rng.choice(zones)}))

    def restore():
        status, body = call("GET", "/backup")
        if status == 200:
            rows = pickle.loads(body)
            call("POST", "/import", pickle.dumps(rng.sample(rows, min(len(rows), rng.randint(1, 5)))))

    mix = [
        (30, lambda: call("GET", "/")),
        (25, read),
        (12, note),
        (10, lambda: call("GET", "/search?" + urllib.parse.urlencode({"q": rng.choice(WORDS)}))),
        (8, lambda: call("GET", "/static/" + rng.choice(["app.css", "app.js", "logo.svg", "help.html", "old.css"]))),
        (6, lambda: call("GET", "/health")),
        (4, upload),
        (5, put_file),
        (6, get_file),
        (2, list_files),
        (3, delete),
        (1, lambda: call("GET", "/export")),
        (1, export_user),
        (1, lambda: call("GET", "/report?dir=" + rng.choice(["uploads", "data", "static"]))),
        (1, restore),
        (int(os.environ.get("APPLOAD_STATS", "0")), lambda: call("GET", "/stats?format=" + rng.choice(["csv", "xml"]))),
        (int(os.environ.get("APPLOAD_TZ", "0")), read_in_zone),
    ]
    weights = [w for w, _ in mix]
    failed = 0
    for _ in range(count):
        _, op = rng.choices(mix, weights)[0]
        try:
            op()
        except Exception:  # noqa: BLE001 — traffic, not a test: keep going
            failed += 1
        time.sleep(rng.choice([0, 0, 0.01, 0.02, 0.05, 0.2]) if rng.random() > 0.02 else rng.uniform(0.5, 1.5))
    if failed:
        print(f"appload: {failed} of {count} requests failed", file=sys.stderr)


if __name__ == "__main__":
    main()
