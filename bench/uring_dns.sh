#!/usr/bin/env bash
# DNS questions sent through io_uring: what the sensor's ring path costs each request. N DNS questions (an A query
# of 40 bytes) sent by IORING_OP_SEND to 127.53.0.9:53 (the destination in the request), N by IORING_OP_WRITE on a
# UDP socket connected to it, and N of the same datagrams by IORING_OP_SEND to port 5353 (no DNS: what any ring send
# pays), one request submitted and waited for at a time, two seconds apart, from a watched cgroup; each kestrel build in turn (and no
# sensor): ns per request (the sender's own clock, median of RUNS) and the dns events it wrote.
#   KS="/tmp/k-old /tmp/k-new" N=50000 RUNS=3 bench/uring_dns.sh        (root)
set -euo pipefail
cd "$(dirname "$0")/.."
KS=${KS:-target/release/kestrel}
N=${N:-50000}
RUNS=${RUNS:-3}
OUT=bench/out/uring_dns
mkdir -p "$OUT"
BENCH=uring_dns
source bench/agent.sh
cat > "$OUT/ring.py" <<'PY'
import ctypes, mmap, socket, struct, sys, time
n = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
u32, u64 = ctypes.c_uint32, ctypes.c_uint64
class SqOff(ctypes.Structure):
    _fields_ = [(x, u32) for x in ("head", "tail", "ring_mask", "ring_entries", "flags", "dropped", "array", "resv1")] + [("user_addr", u64)]
class CqOff(ctypes.Structure):
    _fields_ = [(x, u32) for x in ("head", "tail", "ring_mask", "ring_entries", "overflow", "cqes", "flags", "resv1")] + [("user_addr", u64)]
class Params(ctypes.Structure):
    _fields_ = [(x, u32) for x in ("sq_entries", "cq_entries", "flags", "sq_thread_cpu", "sq_thread_idle", "features", "wq_fd")] + [
        ("resv", u32 * 3), ("sq_off", SqOff), ("cq_off", CqOff)]
p = Params()
ring = libc.syscall(425, 4, ctypes.byref(p))
assert ring >= 0, "io_uring_setup"
sq = mmap.mmap(ring, p.sq_off.array + p.sq_entries * 4, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
cq = mmap.mmap(ring, p.cq_off.cqes + p.cq_entries * 16, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0x8000000)
sqes = mmap.mmap(ring, p.sq_entries * 64, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0x10000000)
r32 = lambda m, off: struct.unpack_from("<I", m, off)[0]
def submit(opcode, fd, off, addr, length, addr_len):
    tail = r32(sq, p.sq_off.tail)
    slot = tail & r32(sq, p.sq_off.ring_mask)
    sqes[slot * 64:(slot + 1) * 64] = struct.pack("<BBHiQQIIQHHHH", opcode, 0, 0, fd, off, addr, length, 0, 7, 0, 0, addr_len, 0).ljust(64, b"\0")
    struct.pack_into("<I", sq, p.sq_off.array + slot * 4, slot)
    struct.pack_into("<I", sq, p.sq_off.tail, tail + 1)
    assert libc.syscall(426, ring, 1, 1, 1, None, 0) >= 0, "io_uring_enter"
    head = r32(cq, p.cq_off.head)
    res = struct.unpack_from("<i", cq, p.cq_off.cqes + (head & r32(cq, p.cq_off.ring_mask)) * 16 + 8)[0]
    struct.pack_into("<I", cq, p.cq_off.head, head + 1)
    assert res >= 0, res
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x05bench\x07example\x03com\x00" + struct.pack(">HH", 1, 1)
data = ctypes.create_string_buffer(q, len(q))
def inet(port):
    return ctypes.create_string_buffer(struct.pack("<H", socket.AF_INET) + struct.pack(">H", port) + socket.inet_aton("127.53.0.9") + b"\0" * 8)
sinks = []
for port in (53, 5353):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.53.0.9", port)); s.setblocking(False); sinks.append(s)
def drain():
    for s in sinks:
        try:
            while s.recv(512): pass
        except BlockingIOError: pass
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.connect(("127.53.0.9", 53))
dns, other = inet(53), inet(5353)
cases = [
    (26, u.fileno(), ctypes.addressof(dns), 16),    # IORING_OP_SEND to port 53
    (23, c.fileno(), 2**64 - 1, 0),                 # IORING_OP_WRITE on the connected socket
    (26, u.fileno(), ctypes.addressof(other), 16),  # IORING_OP_SEND to port 5353
]
out = []
for op, fd, off, alen in cases:
    # The sensor's agent done with the previous case's events before this one is timed.
    time.sleep(2)
    start = time.perf_counter_ns()
    for i in range(n):
        submit(op, fd, off, ctypes.addressof(data), len(q), alen)
        if i % 64 == 63: drain()
    out.append((time.perf_counter_ns() - start) / n)
    drain()
print(" ".join(f"{x:.0f}" for x in out))
PY
run() { in_cgroup /usr/bin/python3 "$OUT/ring.py" "$N"; }
printf '%-28s %14s %14s %14s %12s\n' build "send:53 ns" "write:53 ns" "send:5353 ns" "dns events"
for K in none $KS; do
  a=() b=() c=() events=()
  for _ in $(seq "$RUNS"); do
    if [ "$K" != none ]; then agent_start "$OUT/events.json"; fi
    read -r x y z < <(run)
    a+=("$x"); b+=("$y"); c+=("$z")
    if [ "$K" != none ]; then sleep 1; agent_stop; events+=("$(grep -c '"kind":"dns"' "$OUT/events.json" || true)"); fi
  done
  med() { printf '%s\n' "$@" | median; }
  printf '%-28s %14s %14s %14s %12s\n' "$K" "$(med "${a[@]}")" "$(med "${b[@]}")" "$(med "${c[@]}")" \
    "$( [ "$K" = none ] && echo - || med "${events[@]}")"
done
