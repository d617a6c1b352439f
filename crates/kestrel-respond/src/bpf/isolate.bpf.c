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
// cgroup fails with EPERM, and so does a datagram sent to it without a connection (sendto/sendmsg on an
// unconnected UDP socket: the cgroup sendmsg hooks), over IPv4 and IPv6. Keys: the cgroup, an IPv6 address (IPv4 as ::ffff:a.b.c.d,
// the form an IPv6 socket connecting to an IPv4 address uses too; all zeros: any) and a port in host order
// (0: any).
struct block_key {
    __u64 cgroup;
    __u32 addr[4];
    __u32 port;
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct block_key);
    __type(value, __u64);
} blocked SEC(".maps");

static __always_inline int check(struct block_key *k, __u32 port)
{
    __u64 *hits;
    __u32 a0 = k->addr[0], a1 = k->addr[1], a2 = k->addr[2], a3 = k->addr[3];
    k->port = port;
    if ((hits = bpf_map_lookup_elem(&blocked, k)))
        goto deny;
    k->port = 0;
    if ((hits = bpf_map_lookup_elem(&blocked, k)))
        goto deny;
    k->addr[0] = 0;
    k->addr[1] = 0;
    k->addr[2] = 0;
    k->addr[3] = 0;
    k->port = port;
    if ((hits = bpf_map_lookup_elem(&blocked, k)))
        goto deny;
    k->addr[0] = a0;
    k->addr[1] = a1;
    k->addr[2] = a2;
    k->addr[3] = a3;
    return 1;
deny:
    __sync_fetch_and_add(hits, 1);
    return 0;
}

static __always_inline int check4(struct bpf_sock_addr *ctx)
{
    struct block_key k = {};
    k.cgroup = bpf_get_current_cgroup_id();
    k.addr[2] = bpf_htonl(0xffff);
    k.addr[3] = ctx->user_ip4;
    return check(&k, bpf_ntohs((__u16)ctx->user_port));
}

static __always_inline int check6(struct bpf_sock_addr *ctx)
{
    struct block_key k = {};
    k.cgroup = bpf_get_current_cgroup_id();
    k.addr[0] = ctx->user_ip6[0];
    k.addr[1] = ctx->user_ip6[1];
    k.addr[2] = ctx->user_ip6[2];
    k.addr[3] = ctx->user_ip6[3];
    return check(&k, bpf_ntohs((__u16)ctx->user_port));
}

SEC("cgroup/connect4")
int block_connect4(struct bpf_sock_addr *ctx)
{
    return check4(ctx);
}

SEC("cgroup/connect6")
int block_connect6(struct bpf_sock_addr *ctx)
{
    return check6(ctx);
}

SEC("cgroup/sendmsg4")
int block_sendmsg4(struct bpf_sock_addr *ctx)
{
    return check4(ctx);
}

SEC("cgroup/sendmsg6")
int block_sendmsg6(struct bpf_sock_addr *ctx)
{
    return check6(ctx);
}
