# PATH hijack: a payload written in /tmp and linked (`ln -s`) into /usr/bin, which comes before /bin in PATH,
# under the name of a system program; the next `ps` run in the container (here by the runtime, as an
# operator's `kubectl exec … ps` would) runs the payload. Nothing is written or renamed below /usr/bin: only the
# link shows where it went.
normal() { inside "$1" /bin/touch /tmp/cache; }
attack() {
  inside "$1" /bin/sh -c 'printf "#!/bin/sh\nexec /bin/ps \"\$@\"\n" > /tmp/.ps && chmod 755 /tmp/.ps && ln -s /tmp/.ps /usr/bin/ps'
  inside "$1" ps >/dev/null
}
