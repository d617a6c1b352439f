// SPDX-License-Identifier: GPL-2.0
// Network isolation of one container: cgroup_skb programs attached to the container's cgroup (v2) that
// drop every packet it sends or receives. `keep_loopback` (set before loading) lets packets on the
// loopback device through, for containers with a network namespace of their own; a container sharing the
// host's network has the host's loopback, which is cut too.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

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

// Blocking one destination of a container: connect(2) to a blocked (address, port) from a process of the
// cgroup fails with EPERM. Keys: the cgroup, an IPv4 address (0: any) and a port in host order (0: any).
struct block_key {
    __u64 cgroup;
    __u32 addr4;
    __u32 port;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct block_key);
    __type(value, __u64);
} blocked SEC(".maps");

SEC("cgroup/connect4")
int block_connect4(struct bpf_sock_addr *ctx)
{
    struct block_key k = {};
    k.cgroup = bpf_get_current_cgroup_id();
    __u32 addr = ctx->user_ip4;
    __u32 port = bpf_ntohs((__u16)ctx->user_port);
    __u64 *hits;
    k.addr4 = addr;
    k.port = port;
    if ((hits = bpf_map_lookup_elem(&blocked, &k)))
        goto deny;
    k.port = 0;
    if ((hits = bpf_map_lookup_elem(&blocked, &k)))
        goto deny;
    k.addr4 = 0;
    k.port = port;
    if ((hits = bpf_map_lookup_elem(&blocked, &k)))
        goto deny;
    return 1;
deny:
    __sync_fetch_and_add(hits, 1);
    return 0;
}
