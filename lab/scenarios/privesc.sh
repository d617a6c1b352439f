# Privilege-escalation attempts by an unprivileged user (www, uid 33) of the container: asking for root
# with setuid/setresuid/setgid and a capset raising every capability, then a new user namespace.
normal() { inside_as 33:33 "$1" /bin/ls /tmp >/dev/null; }
attack() {
  inside_as 33:33 "$1" /bin/labhelper setuid0 >/dev/null
  inside_as 33:33 "$1" /bin/labhelper userns >/dev/null
}
