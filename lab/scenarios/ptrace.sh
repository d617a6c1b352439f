# ptrace of another process: attach to the container's init (pid 1 in its pid namespace), read its
# memory, detach (what credential dumpers and injectors do).
normal() { inside "$1" /bin/ps >/dev/null; }
attack() { inside "$1" /bin/labhelper ptrace 1 >/dev/null; }
