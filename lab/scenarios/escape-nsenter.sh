# Container escape by entering other namespaces: nsenter into the namespaces of pid 1 (the host's, in a
# container that shares the host's pid namespace; here the attempt is made and refused).
normal() { inside "$1" /bin/ps >/dev/null; }
attack() { inside "$1" /bin/nsenter -t 1 -m -u -i -n -p /bin/sh -c id >/dev/null 2>&1 || true; }
