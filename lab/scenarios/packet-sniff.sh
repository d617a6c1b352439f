# A sniffer: a packet socket on every interface (AF_PACKET, ETH_P_ALL — what tcpdump or an ARP spoofer
# opens; the container has Docker's default CAP_NET_RAW and the host's network), frames read for a second.
normal() { inside "$1" /bin/cat /proc/net/dev >/dev/null; }
attack() { inside "$1" /bin/labhelper sniff >/dev/null 2>&1 || true; }
