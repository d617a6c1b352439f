# A payload written in /tmp and moved into /usr/bin under a system-looking name, then run: it never opens
# below /usr/bin for writing, so only the rename shows where it went.
normal() { inside "$1" /bin/touch /tmp/cache; }
attack() {
  inside "$1" /bin/sh -c 'echo "#!/bin/sh" > /tmp/.u && chmod 755 /tmp/.u && mv /tmp/.u /usr/bin/updater && /usr/bin/updater'
}
