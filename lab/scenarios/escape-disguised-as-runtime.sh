# Container-escape steps by a program that first takes the name of runc's init (prctl PR_SET_NAME
# "runc:[2:INIT]"), the name rules and profiles excuse for the runtime's own setup: joining pid 1's mount
# namespace, a new user namespace, mounting a disk device (refused without privileges: the attempt counts).
normal() { inside "$1" /bin/ls /tmp >/dev/null; }
attack() { inside "$1" /bin/labhelper disguise 'runc:[2:INIT]' >/dev/null 2>&1 || true; }
