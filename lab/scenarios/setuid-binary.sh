# Creation and execution of a setuid binary (a copy of busybox named after its `id` applet).
normal() { inside "$1" /bin/touch /tmp/data; }
attack() { inside "$1" /bin/sh -c 'cp /bin/busybox /tmp/id && chmod 4755 /tmp/id && /tmp/id' >/dev/null; }
