# Container escape by mounting the host's disk: a block device node made for the host's first disk, then
# mounted (refused without CAP_SYS_ADMIN: the attempt is what counts).
normal() { inside "$1" /bin/df >/dev/null 2>&1 || true; }
attack() {
  inside "$1" /bin/sh -c 'dev=$(cat /sys/block/*/dev 2>/dev/null | head -1); dev=${dev:-8:0};
    mknod /tmp/host-disk b ${dev%%:*} ${dev##*:}; mkdir -p /mnt/host; mount -t ext4 /tmp/host-disk /mnt/host' \
    >/dev/null 2>&1 || true
}
