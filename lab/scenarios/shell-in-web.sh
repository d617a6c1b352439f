# A shell spawned in a web container: normal requests served by a tiny loop, then an interactive shell
# runs commands an attacker would (id, reading /etc/passwd, listing /tmp).
normal() { for i in 1 2 3; do inside "$1" /bin/sh -c 'echo ok > /tmp/index.html; cat /tmp/index.html >/dev/null'; done; }
attack() { inside "$1" /bin/sh -c 'id; cat /etc/passwd; ls /tmp' >/dev/null; }
