# Preload hijack: a library dropped in /tmp and named in /etc/ld.so.preload, which makes the dynamic loader load
# it into every program started afterwards (T1574.006, the rootkits' favourite). The library here is only bytes:
# busybox is static, and what is watched is the write.
normal() { inside "$1" /bin/touch /tmp/cache; }
attack() {
  inside "$1" /bin/sh -c 'head -c 4096 /dev/urandom > /tmp/.libc.so.6 && echo /tmp/.libc.so.6 > /etc/ld.so.preload'
}
