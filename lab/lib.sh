# Helpers of the lab: small real containers (runc, a static busybox), driven by scenario scripts, recorded by
# `kestrel record`. Sourced by lab/run.sh. Root required (runc, cgroups, the eBPF sensor).

LAB_PARENT=kestrel-lab          # cgroup parent of every lab container (kestrel names them by directory)
LAB_DIR=${LAB_DIR:-/tmp/kestrel-lab}

# make_bundle NAME: a runc bundle with busybox, sharing the host's network (so that scenarios reach
# listeners on 127.0.0.1), its cgroup under $LAB_PARENT.
make_bundle() {
  local name=$1 b="$LAB_DIR/$1"
  rm -rf "$b"; mkdir -p "$b/rootfs/bin" "$b/rootfs/tmp" "$b/rootfs/etc" "$b/rootfs/usr/bin" "$b/rootfs/proc"
  local bb; bb=$(command -v busybox)
  cp "$bb" "$b/rootfs/bin/busybox"
  for a in sh ash cat echo ls id sleep nc wget chmod cp mkdir mount nsenter true rm touch; do
    ln -sf busybox "$b/rootfs/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n' > "$b/rootfs/etc/passwd"
  printf 'root:*:19000:0:99999:7:::\n' > "$b/rootfs/etc/shadow"
  (cd "$b" && runc spec)
  python3 - "$b/config.json" "$name" <<'PY'
import json, sys
path, name = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sleep", "3600"]
c["root"]["readonly"] = False
c["linux"]["cgroupsPath"] = f"/kestrel-lab/{name}"
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
json.dump(c, open(path, "w"), indent=1)
PY
}

# start NAME / stop NAME: the container's init sleeps; scenario steps run through `runc exec`.
start() { runc run -d --bundle "$LAB_DIR/$1" "$1" >/dev/null; }
stop() { runc kill "$1" KILL 2>/dev/null || true; sleep 0.2; runc delete -f "$1" 2>/dev/null || true; }

# inside NAME CMD...: run a command inside the container.
inside() { local n=$1; shift; runc exec "$n" "$@"; }

# attack_starts NAME: the marker that separates normal behaviour from the attack in a recording (an exec of
# `true` with this argument, inside the container).
attack_starts() { inside "$1" /bin/true kestrel-attack-start; }
