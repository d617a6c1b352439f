/* The records the BPF program writes into the ring buffer. The Rust side (src/decode.rs) reads them by
 * these offsets: change both together. Every record starts with struct header. */
#ifndef KESTREL_EVENTS_H
#define KESTREL_EVENTS_H

#define KIND_EXEC 1
#define KIND_EXIT 2
#define KIND_OPEN 3
#define KIND_CONNECT 4
#define KIND_CGROUP 5
#define KIND_PRIV 6
#define KIND_BIND 7
#define KIND_LISTEN 8
#define KIND_ACCEPT 9
#define KIND_SYSCALLS 10
#define KIND_FORK 11
#define KIND_SEND 12
#define KIND_SOCKET 13
#define KIND_DUP 14
#define KIND_DNS 15

#define SYSCALL_BATCH 64

/* The operations of a KIND_PRIV record. */
#define OP_SETUID 1
#define OP_SETGID 2
#define OP_SETREUID 3
#define OP_SETREGID 4
#define OP_SETRESUID 5
#define OP_SETRESGID 6
#define OP_CAPSET 7
#define OP_UNSHARE 8
#define OP_SETNS 9
#define OP_MOUNT 10
#define OP_PTRACE 11
#define OP_BPF 12
#define OP_INIT_MODULE 13
#define OP_FINIT_MODULE 14
#define OP_CHMOD 15
#define OP_CLONE 16
#define OP_SYMLINK 17   /* symlink, symlinkat: str1 the target, str2 the link; args[0] 1 for symlinkat; args[1]
                           PATH_* bits of the link's name, its directory (when rebuilt) in str2 from
                           RENAME_DIR_AT on, as OP_RENAME's new name; args[2] 1 when the target is sensitive */
#define OP_LINK 18      /* link, linkat: str1 the existing file, str2 the new name; args[0] 1 for linkat; args[1]
                           and args[2] as OP_SYMLINK's */
#define OP_RENAME 19    /* rename, renameat(2): str1 the old name, str2 the new; args[0] 0 rename, 1 renameat,
                           2 renameat2; args[1] PATH_* bits of the new name, its directory (when rebuilt) in
                           str2 from RENAME_DIR_AT on */
#define OP_MKDIR 20     /* mkdir, mkdirat: str1 the path; args[0] 0 mkdir, 1 mkdirat; args[1] PATH_* bits; args[2]
                           the mode */
#define OP_USERFAULTFD 21 /* userfaultfd: args[0] its flags */
#define OP_UNLINK 22     /* unlink, unlinkat, rmdir: str1 the path; args[0] 0 unlink, 1 unlinkat, 2 rmdir; args[1]
                           PATH_* bits; args[2] unlinkat's flags (AT_REMOVEDIR) */
#define OP_TRUNCATE 23   /* a file's content cut: args[0] the call (TRUNC_*) in bits 0-15; args[2] the length asked
                           for. ftruncate (and io_uring's): str1 the file's path rebuilt from its dentries, last
                           component first, its length in args[0] bits 16-31; args[1] its size before. truncate:
                           str1 the path as given, args[1] PATH_* bits (as OP_UNLINK; the size is not known) */
#define OP_MMAP_EXEC 24   /* a file mapped executable by mmap (a library the loader or dlopen maps, a plug-in):
                           str1 the file's path rebuilt from its dentries, last component first; args[0] the
                           protection asked for in bits 0-7, MMAP_* bits in 8-15, the path's length in 16-31;
                           args[1] the file's inode number; args[2] its inode's last status change (ns since the
                           epoch). Once per cgroup, program file and mapped file (as its inode was) in
                           each 9-minute period */
#define OP_EXEC_MEMORY 25 /* memory made executable: an anonymous mmap with PROT_EXEC, or mprotect adding PROT_EXEC
                           to memory that was not executable. args[0]: the protection asked for in bits 0-7, the
                           call (EXEC_MEM_MMAP…) in bits 8-11, the memory (EXEC_MEM_ANON…) in 12-15, the length of
                           str1 in 16-31, the length asked for in 4 KiB pages in 32-63. A file's memory: str1 its
                           path rebuilt from its dentries, last component first; args[1] its inode number, args[2]
                           its inode's last status change. Once per cgroup, program file, kind of memory (and file)
                           in each 9-minute period */
#define EXEC_MEM_MMAP 1
#define EXEC_MEM_MPROTECT 2
#define EXEC_MEM_PKEY_MPROTECT 3
#define EXEC_MEM_UNKNOWN 0 /* the mapping was not found (the range unmapped, or its lock busy) */
#define EXEC_MEM_ANON 1    /* anonymous memory */
#define EXEC_MEM_HEAP 2    /* the heap (brk) */
#define EXEC_MEM_STACK 3   /* the main thread's stack */
#define EXEC_MEM_FILE 4    /* a file's mapping */
#define MMAP_MEMFD 1      /* the file is a memfd (memfd_create): a library that never touched a disk */
#define MMAP_DELETED 2    /* the file has no name left (unlinked after it was opened; never for a memfd) */
#define TRUNC_FTRUNCATE 1
#define TRUNC_TRUNCATE 2
/* args[1] of OP_MKDIR, OP_UNLINK and truncate's OP_TRUNCATE: how the path was given, and the directory a
 * relative one names. */
#define PATH_DIRFD 1          /* relative to a directory descriptor (not the working directory) */
#define PATH_DIR_REBUILT 2    /* str2 holds that directory as rebuild() writes it, its length in bits 16-31 */
#define PATH_FROM_SAME_DIR 4  /* OP_RENAME: the old name is relative to that same directory */
#define RENAME_DIR_AT 64      /* OP_RENAME, OP_SYMLINK, OP_LINK: where in str2 the new name's directory starts */

#define COMM_LEN 16
#define PATH_LEN 256
#define ARGS_LEN 1024
#define ENV_LEN 4096

/* Drop counters (index into the per-CPU `drops` array). */
#define DROP_RINGBUF_FULL 0
#define DROP_READ_FAILED 1
#define DROP_COUNTERS 2

struct header {            /* 48 bytes */
    __u32 kind;
    __u32 pid;              /* thread group id */
    __u32 tid;
    __u32 euid;             /* the thread's effective uid when the event happened (Falco's user.uid) */
    __u64 time_ns;          /* bpf_ktime_get_boot_ns */
    __u64 cgroup_id;        /* cgroup v2 id */
    char comm[COMM_LEN];
};

#define EXEC_ARGS_TRUNCATED 1 /* argv was cut at ARGS_LEN */
#define EXEC_FROM_MEMFD 2     /* the executable is a memfd (fileless execution) */
#define EXEC_EXE_REBUILT 4    /* exe holds the file's path rebuilt from its dentries, last component first */
#define EXEC_CWD_KNOWN 8      /* cwd was rebuilt (an empty one is the process's root) */
#define EXEC_ENV_TRUNCATED 16 /* the environment was cut at ENV_LEN */
#define EXEC_PGRP_LEADER 32   /* the process leads its process group (a job-control shell put it there) */

struct exec_event {
    struct header h;
    __u32 ppid, uid, gid, euid;
    __u64 cap_effective;
    __u32 exe_len;          /* bytes in exe, with the NUL */
    __u32 args_len;         /* bytes in args: NUL-separated argv */
    __u32 flags;            /* EXEC_ARGS_TRUNCATED, EXEC_FROM_MEMFD */
    __u32 tty;              /* controlling terminal as /proc/<pid>/stat's tty_nr (0: none) */
    __u64 cap_permitted;
    __u32 loginuid;         /* audit login uid (-1: not set) */
    __u32 cwd_len;          /* bytes in cwd */
    char exe[PATH_LEN];
    char args[ARGS_LEN];
    char parent_comm[COMM_LEN];
    char cwd[PATH_LEN];     /* the working directory rebuilt from its dentries, last component first */
    __u32 env_len;          /* bytes in env */
    __u32 vpid;             /* the process's pid in its own pid namespace (1: a container's first process) */
    char env[ENV_LEN];      /* NUL-separated NAME=value (userspace keeps only some values) */
    __u32 egid;             /* effective gid (Falco's group.gid) */
    __u32 sid;              /* its session leader's pid, as the host numbers it (0: none) */
    __u64 exe_ino;          /* the program file's inode number (0: not read) */
    __u64 exe_ctime_ns;     /* its inode's last status change, ns since the epoch (0: not read) */
    __u64 exe_mtime_ns;     /* its last modification, ns since the epoch */
};

struct exit_event {
    struct header h;
    __s32 status;
    __u32 _pad;
};

struct open_event {
    struct header h;
    __u32 flags;
    __u32 path_len;
    char path[PATH_LEN];
};

/* An open judged at entry whose path, as given, does not say where the file is (a relative path, or one with
 * `.`, `..` or `//` in it): flagged OPEN_RESOLVED | OPEN_AT_ENTRY, the path as given followed by the
 * directory it is relative to (the working directory or the directory descriptor's), rebuilt from its
 * dentries last component first; base_len 0 for an absolute path. */
struct open_rel_event {
    struct header h;
    __u32 flags;
    __u32 path_len;
    char path[PATH_LEN];
    __u32 base_len;
    __u32 _pad;
    char base[PATH_LEN];
};

/* connect, bind, accept and send share this layout (KIND_CONNECT, KIND_BIND, KIND_ACCEPT, KIND_SEND); listen
 * puts the socket's fd in port-less `addr` bytes 0–3 and its backlog in 4–7; socket (KIND_SOCKET) its domain
 * in `family`, its type in `sock_type` and its protocol in `addr` bytes 0–3; dup (KIND_DUP) the socket's peer
 * and local port, the call (1 dup, 2 dup2, 3 dup3, 4 fcntl F_DUPFD) in `path[0]` and the standard stream it became in `path[1]`. */
struct connect_event {
    struct header h;
    __u16 family;
    __u16 port;             /* host order */
    __u16 local_port;       /* accept: the port the connection came in on (0: not known); send: the call
                               (1 sendto, 2 sendmsg, 3 sendmmsg) */
    __u8 sock_type;         /* the socket's type (SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3); 0: not known */
    __u8 sock_proto;        /* its protocol (IPPROTO_TCP 6, IPPROTO_UDP 17, ICMP 1, ICMPv6 58); 0: not known */
    __u8 addr[16];          /* inet: 4 bytes, inet6: 16 */
    char path[108];         /* unix */
};

/* A DNS question sent (KIND_DNS): a UDP datagram to port 53, or a write to a TCP connection to it — the server in
 * the connect layout (`sock_type` SOCK_DGRAM and `sock_proto` IPPROTO_UDP, or SOCK_STREAM and IPPROTO_TCP;
 * `local_port` 0), then the first bytes as sent (over TCP, a 2-byte length first); userspace reads the question from
 * them. */
#define DNS_LEN 320
struct dns_event {
    struct connect_event c; /* 184 bytes: 180 padded to its header's alignment */
    __u16 len;              /* bytes in data */
    __u8 data[DNS_LEN];
};

/* A cgroup v2 directory was created: its id and path, so that userspace names containers that live and die
 * between two walks of the hierarchy. */
struct cgroup_event {
    struct header h;
    __u64 id;
    char path[PATH_LEN];
};

/* A watched process forked a new process (not a thread): the child inherits its parent's program in
 * userspace's process table, so that a child that never execs is still named (busybox applets, runc exec). */
struct fork_event {
    struct header h;
    __u32 child_pid;
    __u32 parent_pid;
};

/* A privilege-related system call (attempt): op, up to three numeric arguments, and strings (mount source,
 * target and type; chmod path). */
struct priv_event {
    struct header h;
    __u32 op;
    __u32 _pad;
    __u64 args[3];
    char str1[PATH_LEN];
    char str2[PATH_LEN];
    char fstype[32];
};

/* A thread's system-call ids, in order, batched (at most SYSCALL_BATCH; flushed when full and at exit). */
struct syscalls_event {
    struct header h;
    __u32 n;
    __u16 ids[SYSCALL_BATCH];
};

#endif
