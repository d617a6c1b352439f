#!/usr/bin/env python3
"""Does each request given through io_uring, never through the system call: `open:PATH` (read-only,
IORING_OP_OPENAT), `connect:IPV4:PORT` (a TCP socket connected by IORING_OP_CONNECT), `symlink:TARGET:PATH`
(IORING_OP_SYMLINKAT), `sendmsg:IPV4:PORT` and `send:IPV4:PORT` (a datagram from a UDP socket by
IORING_OP_SENDMSG with msg_name, by IORING_OP_SEND with a destination address), `packet` (an AF_PACKET socket
made by IORING_OP_SOCKET, closed), `rename:OLD:NEW` (IORING_OP_RENAMEAT), `mkdir:PATH` (IORING_OP_MKDIRAT), `unlink:PATH` (IORING_OP_UNLINKAT), `ftruncate:PATH:LENGTH`
(IORING_OP_FTRUNCATE on the file opened for writing), `dns-send:IPV4:NAME` and `dns-sendmsg:IPV4:NAME` (a DNS
question for NAME to IPV4 port 53 from a UDP socket, as `send` and `sendmsg` above), `dns-connected:IPV4:NAME` (a UDP
socket connected to IPV4 port 53 by IORING_OP_CONNECT, the question for `send.NAME` sent by IORING_OP_SEND without
an address, then `write.NAME`'s by IORING_OP_WRITE), `dns-tcp:IPV4:NAME` (a TCP connection to IPV4 port 53 by
IORING_OP_CONNECT, the question written by IORING_OP_WRITEV as its 2-byte length and itself) or `listen:PORT` (a TCP
socket bound to 127.0.0.1:PORT by IORING_OP_BIND, listening by IORING_OP_LISTEN with a backlog of 7, and one
connection accepted by accept(2) — the caller connects to it). io_uring_setup, the
rings mapped, one request submitted and waited for at a time; prints each completion's result (a descriptor
or 0, or -errno). Used by the sensor's tests; Python's ctypes only, no liburing."""
import ctypes
import mmap
import os
import socket
import struct
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_IO_URING_SETUP, SYS_IO_URING_ENTER = 425, 426
IORING_OP_OPENAT, IORING_OP_CONNECT, IORING_OP_SYMLINKAT, IORING_OP_BIND, IORING_OP_LISTEN = 18, 16, 38, 56, 57
IORING_OP_SENDMSG, IORING_OP_SEND, IORING_OP_SOCKET, IORING_OP_RENAMEAT, IORING_OP_MKDIRAT = 9, 26, 45, 35, 37
IORING_OP_UNLINKAT, IORING_OP_FTRUNCATE, IORING_OP_WRITEV, IORING_OP_WRITE = 36, 55, 2, 23
AT_FDCWD, IORING_ENTER_GETEVENTS = -100, 1
IORING_OFF_SQ_RING, IORING_OFF_CQ_RING, IORING_OFF_SQES = 0, 0x8000000, 0x10000000
u32, u64 = ctypes.c_uint32, ctypes.c_uint64


class SqOff(ctypes.Structure):
    _fields_ = [(n, u32) for n in ("head", "tail", "ring_mask", "ring_entries", "flags", "dropped", "array", "resv1")] + [("user_addr", u64)]


class CqOff(ctypes.Structure):
    _fields_ = [(n, u32) for n in ("head", "tail", "ring_mask", "ring_entries", "overflow", "cqes", "flags", "resv1")] + [("user_addr", u64)]


class Params(ctypes.Structure):
    _fields_ = [(n, u32) for n in ("sq_entries", "cq_entries", "flags", "sq_thread_cpu", "sq_thread_idle", "features", "wq_fd")] + [
        ("resv", u32 * 3), ("sq_off", SqOff), ("cq_off", CqOff)]


p = Params()
fd = libc.syscall(SYS_IO_URING_SETUP, 4, ctypes.byref(p))
if fd < 0:
    sys.exit(f"io_uring_setup: {os.strerror(ctypes.get_errno())}")
sq = mmap.mmap(fd, p.sq_off.array + p.sq_entries * 4, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=IORING_OFF_SQ_RING)
cq = mmap.mmap(fd, p.cq_off.cqes + p.cq_entries * 16, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=IORING_OFF_CQ_RING)
sqes = mmap.mmap(fd, p.sq_entries * 64, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=IORING_OFF_SQES)
r32 = lambda m, off: struct.unpack_from("<I", m, off)[0]


def submit(opcode, fd, off, addr, open_flags, length=0, addr_len=0):
    """One request (opcode, fd, off, addr, len, open_flags, and addr_len at byte 44; the rest of the 64 bytes
    zero); its result."""
    tail = r32(sq, p.sq_off.tail)
    slot = tail & r32(sq, p.sq_off.ring_mask)
    sqe = struct.pack("<BBHiQQIIQHHHH", opcode, 0, 0, fd, off, addr, length, open_flags, 7, 0, 0, addr_len, 0)
    sqes[slot * 64:(slot + 1) * 64] = sqe.ljust(64, b"\0")
    struct.pack_into("<I", sq, p.sq_off.array + slot * 4, slot)
    struct.pack_into("<I", sq, p.sq_off.tail, tail + 1)
    if libc.syscall(SYS_IO_URING_ENTER, fd_ring, 1, 1, IORING_ENTER_GETEVENTS, None, 0) < 0:
        sys.exit(f"io_uring_enter: {os.strerror(ctypes.get_errno())}")
    head = r32(cq, p.cq_off.head)
    res = struct.unpack_from("<i", cq, p.cq_off.cqes + (head & r32(cq, p.cq_off.ring_mask)) * 16 + 8)[0]
    struct.pack_into("<I", cq, p.cq_off.head, head + 1)
    return res


def inet(host, port):
    """A struct sockaddr_in, kept alive by the caller."""
    return ctypes.create_string_buffer(struct.pack("<H", socket.AF_INET) + struct.pack(">H", int(port)) + socket.inet_aton(host) + b"\0" * 8)


def question(name):
    """A DNS query for NAME's A records."""
    d = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        d += bytes([len(label)]) + label.encode()
    return d + b"\0" + struct.pack(">HH", 1, 1)


fd_ring = fd
for arg in sys.argv[1:]:
    what, _, rest = arg.partition(":")
    if what == "open":
        buf = ctypes.create_string_buffer(rest.encode())
        res = submit(IORING_OP_OPENAT, AT_FDCWD, 0, ctypes.addressof(buf), os.O_RDONLY)
        if res >= 0:
            os.close(res)
    elif what == "connect":
        host, _, port = rest.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        addr = inet(host, port)
        # For a connect (and a bind) the address's length goes where an offset would (sqe->addr2).
        res = submit(IORING_OP_CONNECT, sock.fileno(), 16, ctypes.addressof(addr), 0)
        sock.close()
    elif what == "symlink":
        target, _, path = rest.partition(":")
        t, l = ctypes.create_string_buffer(target.encode()), ctypes.create_string_buffer(path.encode())
        # The link's name goes where an offset would (sqe->addr2), its directory is the request's fd.
        res = submit(IORING_OP_SYMLINKAT, AT_FDCWD, ctypes.addressof(l), ctypes.addressof(t), 0)
    elif what in ("sendmsg", "send"):
        host, _, port = rest.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        addr, data = inet(host, port), ctypes.create_string_buffer(b"x")
        if what == "sendmsg":
            iov_buf = ctypes.create_string_buffer(struct.pack("<QQ", ctypes.addressof(data), 1))
            # struct msghdr: name, namelen (padded), iov, iovlen, control, controllen, flags (padded).
            msg = ctypes.create_string_buffer(struct.pack("<QIxxxxQQQQIxxxx", ctypes.addressof(addr), 16,
                                                          ctypes.addressof(iov_buf), 1, 0, 0, 0))
            res = submit(IORING_OP_SENDMSG, sock.fileno(), 0, ctypes.addressof(msg), 0, length=1)
        else:
            # The destination goes where an offset would (sqe->addr2), its length in sqe->addr_len.
            res = submit(IORING_OP_SEND, sock.fileno(), ctypes.addressof(addr), ctypes.addressof(data), 0,
                         length=1, addr_len=16)
        sock.close()
    elif what in ("dns-send", "dns-sendmsg"):
        host, _, name = rest.partition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        q = question(name)
        addr, data = inet(host, 53), ctypes.create_string_buffer(q, len(q))
        if what == "dns-sendmsg":
            iov_buf = ctypes.create_string_buffer(struct.pack("<QQ", ctypes.addressof(data), len(q)))
            msg = ctypes.create_string_buffer(struct.pack("<QIxxxxQQQQIxxxx", ctypes.addressof(addr), 16,
                                                          ctypes.addressof(iov_buf), 1, 0, 0, 0))
            res = submit(IORING_OP_SENDMSG, sock.fileno(), 0, ctypes.addressof(msg), 0, length=1)
        else:
            res = submit(IORING_OP_SEND, sock.fileno(), ctypes.addressof(addr), ctypes.addressof(data), 0,
                         length=len(q), addr_len=16)
        sock.close()
    elif what in ("dns-connected", "dns-tcp"):
        host, _, name = rest.partition(":")
        tcp = what == "dns-tcp"
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        addr = inet(host, 53)
        res = submit(IORING_OP_CONNECT, sock.fileno(), 16, ctypes.addressof(addr), 0)
        if res == 0 and tcp:
            q = question(name)
            length, data = ctypes.create_string_buffer(struct.pack(">H", len(q)), 2), ctypes.create_string_buffer(q, len(q))
            iov = ctypes.create_string_buffer(struct.pack("<QQQQ", ctypes.addressof(length), 2, ctypes.addressof(data), len(q)))
            # The iovecs in addr, their count in len; a socket's offset is -1.
            res = submit(IORING_OP_WRITEV, sock.fileno(), 2**64 - 1, ctypes.addressof(iov), 0, length=2)
        elif res == 0:
            q = question("send." + name)
            data = ctypes.create_string_buffer(q, len(q))
            res = submit(IORING_OP_SEND, sock.fileno(), 0, ctypes.addressof(data), 0, length=len(q))
            if res >= 0:
                q = question("write." + name)
                data = ctypes.create_string_buffer(q, len(q))
                res = submit(IORING_OP_WRITE, sock.fileno(), 2**64 - 1, ctypes.addressof(data), 0, length=len(q))
        sock.close()
    elif what == "rename":
        old, _, new = rest.partition(":")
        o, n = ctypes.create_string_buffer(old.encode()), ctypes.create_string_buffer(new.encode())
        # The old name's directory is the request's fd, the new one's goes in len, the new name in addr2.
        res = submit(IORING_OP_RENAMEAT, AT_FDCWD, ctypes.addressof(n), ctypes.addressof(o), 0, length=AT_FDCWD & 0xffffffff)
    elif what == "mkdir":
        path = ctypes.create_string_buffer(rest.encode())
        # The directory's fd in fd, the path in addr, the mode in len.
        res = submit(IORING_OP_MKDIRAT, AT_FDCWD, 0, ctypes.addressof(path), 0, length=0o750)
    elif what == "unlink":
        path = ctypes.create_string_buffer(rest.encode())
        # The directory's fd in fd, the path in addr, the flags (AT_REMOVEDIR) where an open's would be.
        res = submit(IORING_OP_UNLINKAT, AT_FDCWD, 0, ctypes.addressof(path), 0)
    elif what == "ftruncate":
        path, _, length = rest.rpartition(":")
        f = os.open(path, os.O_WRONLY)
        # The file in fd, the length in off (6.9 on; older kernels answer -EINVAL).
        res = submit(IORING_OP_FTRUNCATE, f, int(length), 0, 0)
        os.close(f)
    elif what == "packet":
        # socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)): the domain goes in fd, the type in off, the protocol in len.
        res = submit(IORING_OP_SOCKET, socket.AF_PACKET, socket.SOCK_RAW, 0, 0, length=socket.htons(3))
        if res >= 0:
            os.close(res)
    elif what == "listen":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        addr = inet("127.0.0.1", rest)
        res = submit(IORING_OP_BIND, sock.fileno(), 16, ctypes.addressof(addr), 0)
        if res == 0:
            res = submit(IORING_OP_LISTEN, sock.fileno(), 0, 0, 0, length=7)
        print(arg, res, flush=True)
        if res == 0:
            sock.settimeout(10)
            sock.accept()[0].close()
        sock.close()
        continue
    else:
        sys.exit(f"{arg}: open:PATH, connect:IPV4:PORT, symlink:TARGET:PATH, sendmsg:IPV4:PORT, send:IPV4:PORT, packet, rename:OLD:NEW, "
                 "mkdir:PATH, unlink:PATH, ftruncate:PATH:LENGTH, dns-send:IPV4:NAME, dns-sendmsg:IPV4:NAME, "
                 "dns-connected:IPV4:NAME, dns-tcp:IPV4:NAME or listen:PORT")
    print(arg, res)
