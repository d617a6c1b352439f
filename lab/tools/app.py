#!/usr/bin/env python3
"""The lab's app image: a small notes service, the least regular workload of the lab.

    python3 /srv/app/app.py PORT

Standard library only (Debian's python3). What it does, so that its behaviour varies as a real service's does:
- HTTP on 127.0.0.1:PORT, a thread per request: notes in SQLite (/srv/app/data/notes.db: index, read, create,
  delete, search), static files, uploads written to /srv/app/uploads, an export of the uploads as a gzipped
  tar (runs `tar`, which runs `gzip`), and a disk-usage report that runs a shell command
  (`du -sk /srv/app/DIR`) — with the directory taken from the query unchecked: the command injection the
  app-* attack scenarios use;
- each user's own files, in a directory per user named as the user chose (`PUT /files/USER/NAME`, `GET
  /files/USER/NAME`, `GET /files/USER` lists them): /srv/app/files/USER/NAME — names that are the users' data,
  not the service's behaviour; a user's files exported as a gzipped tar (`GET /export?user=USER`, runs `tar`) —
  with the name joined to the path unchecked: the path traversal the app-export-traversal scenario uses;
- a backup of the notes (`GET /backup`, a pickle) and its restore (`POST /import`), which unpickles what it is
  sent as it came: the insecure deserialisation the app-deserialize-* scenarios use (code run inside the app's
  own process — no shell, no program started);
- statistics of the notes (`GET /stats?format=csv|xml`), a feature seldom used: its modules (statistics, csv,
  xml.etree) are imported on its first use, as many services import a rarely used feature's code — the lab's
  ordinary load leaves it out (appload.py's APPLOAD_STATS weight: 0), so a profile learned from that load never
  saw it; likewise a note's time in the reader's time zone (`GET /notes/ID?tz=ZONE`: the zone's data read from
  /usr/share/zoneinfo on first use; appload.py's APPLOAD_TZ weight: 0);
- a request log in /var/log/app/app.log, rotated by the maintenance thread past 64 KiB (renamed, then
  compressed by `gzip`);
- a maintenance thread waking every 5 to 20 s (at random): old notes deleted, now and then a VACUUM, old
  uploads removed, the log rotated.
"""
import json
import os
import pickle
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = "/srv/app"
DATA = f"{ROOT}/data"
UPLOADS = f"{ROOT}/uploads"
FILES = f"{ROOT}/files"
STATIC = f"{ROOT}/static"
LOG_DIR = "/var/log/app"
LOG = f"{LOG_DIR}/app.log"
LOG_LOCK = threading.Lock()


def db():
    c = sqlite3.connect(f"{DATA}/notes.db", timeout=10)
    c.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT, at REAL)")
    return c


def log(line):
    with LOG_LOCK, open(LOG, "a") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")


def maintenance():
    rng = random.Random()
    while True:
        time.sleep(rng.uniform(5, 20))
        try:
            with db() as c:
                (top,) = c.execute("SELECT COALESCE(MAX(id), 0) FROM notes").fetchone()
                c.execute("DELETE FROM notes WHERE id < ?", (top - 300,))
            if rng.random() < 0.2:
                c = db()
                c.execute("VACUUM")
                c.close()
            now = time.time()
            for name in os.listdir(UPLOADS):
                path = os.path.join(UPLOADS, name)
                if now - os.stat(path).st_mtime > 60:
                    os.unlink(path)
            with LOG_LOCK:
                big = os.path.exists(LOG) and os.stat(LOG).st_size > 64 * 1024
                if big:
                    os.replace(LOG, f"{LOG}.1")
            if big:
                subprocess.run(["gzip", "-f", f"{LOG}.1"], check=False)
        except (OSError, sqlite3.Error) as e:
            log(f"maintenance: {e}")


def user_path(user, name=None):
    """A user's directory, or a file in it; None for a name that is not a plain one."""
    plain = lambda s: s and len(s) <= 64 and all(ch.isalnum() or ch in "-_." for ch in s) and not s.startswith(".")
    if not plain(user) or (name is not None and not plain(name)):
        return None
    return os.path.join(FILES, user) if name is None else os.path.join(FILES, user, name)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log(f"{self.address_string()} {fmt % args}")

    def reply(self, status, body, kind="application/json"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(n, 1 << 20))

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        if not parts:
            with db() as c:
                rows = c.execute("SELECT id, title FROM notes ORDER BY id DESC LIMIT 20").fetchall()
            items = "".join(f"<li><a href='/notes/{i}'>{t}</a></li>" for i, t in rows)
            return self.reply(200, f"<html><body><ul>{items}</ul></body></html>", "text/html")
        if parts == ["health"]:
            return self.reply(200, "ok", "text/plain")
        if parts[0] == "notes" and len(parts) == 2 and parts[1].isdigit():
            zone = None
            if "tz" in q:
                # The note's time in the reader's time zone (`?tz=Europe/Berlin`), a seldom-used option: the zone's
                # data is read from the image's /usr/share/zoneinfo the first time a reader asks for it.
                import zoneinfo

                try:
                    zone = zoneinfo.ZoneInfo(q["tz"][0])
                except (ValueError, zoneinfo.ZoneInfoNotFoundError):
                    return self.reply(400, '{"error": "no such time zone"}')
            with db() as c:
                row = c.execute("SELECT id, title, body, at FROM notes WHERE id = ?", (int(parts[1]),)).fetchone()
            if row is None:
                return self.reply(404, '{"error": "no such note"}')
            note = dict(zip(("id", "title", "body", "at"), row))
            if zone is not None:
                import datetime

                note["local"] = datetime.datetime.fromtimestamp(note["at"] or 0, zone).isoformat()
            return self.reply(200, json.dumps(note))
        if parts == ["search"]:
            term = q.get("q", [""])[0]
            with db() as c:
                rows = c.execute("SELECT id, title FROM notes WHERE body LIKE ? LIMIT 50", (f"%{term}%",)).fetchall()
            return self.reply(200, json.dumps(rows))
        if parts[0] == "static" and len(parts) == 2:
            path = os.path.join(STATIC, os.path.basename(parts[1]))
            try:
                with open(path, "rb") as f:
                    return self.reply(200, f.read(), "application/octet-stream")
            except OSError:
                return self.reply(404, '{"error": "no such file"}')
        if parts[0] == "files" and len(parts) in (2, 3):
            path = user_path(*parts[1:])
            if path is None:
                return self.reply(400, '{"error": "bad name"}')
            try:
                if len(parts) == 2:
                    return self.reply(200, json.dumps(sorted(os.listdir(path))))
                with open(path, "rb") as f:
                    return self.reply(200, f.read(), "application/octet-stream")
            except OSError:
                return self.reply(404, '{"error": "no such file"}')
        if parts == ["backup"]:
            with db() as c:
                rows = c.execute("SELECT title, body, at FROM notes ORDER BY id").fetchall()
            return self.reply(200, pickle.dumps(rows), "application/octet-stream")
        if parts == ["export"] and "user" in q:
            # One user's files as a gzipped tar (`tar czf - -C /srv/app/files/USER .`). The flaw: the name is
            # joined to the users' directory as it came, not through user_path — `../data` archives the notes
            # of every user (CWE-22): the path traversal the app-export-traversal scenario uses.
            where = os.path.join(FILES, q["user"][0])
            out = subprocess.run(["tar", "czf", "-", "-C", where, "."], capture_output=True, check=False)
            if out.returncode != 0:
                return self.reply(404, '{"error": "no such user"}')
            return self.reply(200, out.stdout, "application/gzip")
        if parts == ["export"]:
            fd, tmp = tempfile.mkstemp(prefix="export-", suffix=".tgz")
            os.close(fd)
            try:
                subprocess.run(["tar", "czf", tmp, "-C", ROOT, "uploads"], check=False)
                with open(tmp, "rb") as f:
                    return self.reply(200, f.read(), "application/gzip")
            finally:
                os.unlink(tmp)
        if parts == ["stats"]:
            import csv
            import io
            import statistics
            import xml.etree.ElementTree as ET

            with db() as c:
                sizes = [n for (n,) in c.execute("SELECT length(body) FROM notes").fetchall()] or [0]
            stats = {"notes": len(sizes), "mean": statistics.fmean(sizes), "median": statistics.median(sizes)}
            if q.get("format", ["csv"])[0] == "xml":
                root = ET.Element("stats", {k: str(v) for k, v in stats.items()})
                return self.reply(200, ET.tostring(root), "application/xml")
            out = io.StringIO()
            csv.writer(out).writerows(stats.items())
            return self.reply(200, out.getvalue(), "text/csv")
        if parts == ["report"]:
            # The flaw: the directory goes into a shell command as it came.
            where = q.get("dir", ["uploads"])[0]
            out = subprocess.run(f"du -sk {ROOT}/{where}", shell=True, capture_output=True, text=True)
            return self.reply(200, json.dumps({"report": out.stdout, "errors": out.stderr}))
        return self.reply(404, '{"error": "not found"}')

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path == "/notes":
            data = self.body().decode(errors="replace")
            with db() as c:
                cur = c.execute(
                    "INSERT INTO notes (title, body, at) VALUES (?, ?, ?)", (data[:40], data, time.time())
                )
            return self.reply(201, json.dumps({"id": cur.lastrowid}))
        if url.path == "/upload":
            name = os.path.basename(q.get("name", ["upload.bin"])[0]) or "upload.bin"
            data = self.body()
            with open(os.path.join(UPLOADS, name), "wb") as f:
                f.write(data)
            return self.reply(201, json.dumps({"name": name, "bytes": len(data)}))
        if url.path == "/import":
            # The flaw: a backup is unpickled as it came, and a pickle may name any callable to rebuild its
            # objects with (CWE-502).
            try:
                rows = [(str(t)[:40], str(b), float(a)) for t, b, a in pickle.loads(self.body())][:1000]
            except Exception as e:  # noqa: BLE001 — whatever the pickle did, the request failed
                return self.reply(400, json.dumps({"error": f"not a backup: {type(e).__name__}"}))
            with db() as c:
                c.executemany("INSERT INTO notes (title, body, at) VALUES (?, ?, ?)", rows)
            return self.reply(201, json.dumps({"imported": len(rows)}))
        return self.reply(404, '{"error": "not found"}')

    def do_PUT(self):
        parts = [p for p in urllib.parse.urlsplit(self.path).path.split("/") if p]
        path = user_path(*parts[1:]) if parts[:1] == ["files"] and len(parts) == 3 else None
        if path is None:
            return self.reply(404, '{"error": "not found"}')
        data = self.body()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return self.reply(201, json.dumps({"bytes": len(data)}))

    def do_DELETE(self):
        parts = [p for p in urllib.parse.urlsplit(self.path).path.split("/") if p]
        if parts[:1] == ["notes"] and len(parts) == 2 and parts[1].isdigit():
            with db() as c:
                c.execute("DELETE FROM notes WHERE id = ?", (int(parts[1]),))
            return self.reply(204, b"")
        return self.reply(404, '{"error": "not found"}')


def main():
    port = int(sys.argv[1])
    for d in (DATA, UPLOADS, FILES, STATIC, LOG_DIR):
        os.makedirs(d, exist_ok=True)
    db().close()
    threading.Thread(target=maintenance, daemon=True).start()
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
