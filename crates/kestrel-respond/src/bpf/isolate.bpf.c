// SPDX-License-Identifier: GPL-2.0
// Network isolation of one container: cgroup_skb programs attached to the container's cgroup (v2) that
// drop every packet it sends or receives. `keep_loopback` (set before loading) lets packets on the
// loopback device through, for containers with a network namespace of their own; a container sharing the
// host's network has the host's loopback, which is cut too.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int keep_loopback = 0;

// Packets dropped, for verification (index 0: egress, 1: ingress).
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} dropped SEC(".maps");

static __always_inline int verdict(struct __sk_buff *skb, __u32 dir)
{
    if (keep_loopback && skb->ifindex == 1)
        return 1;
    __u64 *n = bpf_map_lookup_elem(&dropped, &dir);
    if (n)
        __sync_fetch_and_add(n, 1);
    return 0;
}

SEC("cgroup_skb/egress")
int isolate_egress(struct __sk_buff *skb)
{
    return verdict(skb, 0);
}

SEC("cgroup_skb/ingress")
int isolate_ingress(struct __sk_buff *skb)
{
    return verdict(skb, 1);
}

char LICENSE[] SEC("license") = "GPL";
