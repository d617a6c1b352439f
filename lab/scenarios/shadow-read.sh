# Read of /etc/shadow by a process of the container.
normal() { inside "$1" /bin/cat /etc/passwd >/dev/null; }
attack() { inside "$1" /bin/cat /etc/shadow >/dev/null; }
