//! Runtime events: what a process in a container did, as the sensor saw it. The JSON form (one object per
//! line, `schema` [`EVENT_SCHEMA`]) is stable: additive changes keep `v1`.

use serde::{Deserialize, Serialize};

/// The JSON schema name of an [`Event`].
pub const EVENT_SCHEMA: &str = "kestrel.event/v1";

/// The most system calls one `syscalls` event of kestrel's sensor holds (a thread's batch, flushed when full).
pub const SYSCALL_BATCH: usize = 64;

/// Environment variables whose values an exec event keeps: those that change how a program loads, finds
/// programs or reaches the network. Every other variable is reported by name only.
pub const ENV_VALUES_KEPT: &[&str] = &[
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "GLIBC_TUNABLES",
    "PATH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// One `NAME=value` environment entry as an exec event keeps it: whole when its name is in
/// [`ENV_VALUES_KEPT`], else the name alone.
pub fn redact_env_entry(entry: &str) -> &str {
    match entry.split_once('=') {
        Some((name, _)) if ENV_VALUES_KEPT.contains(&name) => entry,
        Some((name, _)) => name,
        None => entry,
    }
}

/// The container a process ran in, as far as the cgroup and the runtime tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContainerRef {
    /// Container id (64 hex digits for runc, containerd, CRI-O, Docker, Podman; the runc name otherwise).
    pub id: String,
    /// `runc`, `containerd`, `cri-o`, `docker`, `podman`.
    pub runtime: String,
    /// Image name or digest, when the runtime's state tells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The image's digest as the runtime records it (`sha256:…`): Docker's image id (the configuration's digest),
    /// CRI-O's `ImageRef` annotation (containerd's annotations name the image only). Names move; this does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// The digest the image was pulled by, as the kubelet reports it (`imageID`: a manifest's, or a multi-platform
    /// index's), when no image id is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// Kubernetes pod uid, from the cgroup path (`kubepods…pod<uid>`) or the CRI runtime's annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// Kubernetes pod name (CRI annotations in the container's bundle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Kubernetes namespace of the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The container's name in its pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Labels: the OCI annotations of the container's bundle (runc, containerd, CRI-O) or Docker's labels,
    /// at most [`MAX_LABELS`], as the response policy's `labels` selector sees them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Whether the container runs privileged (Docker's `Privileged`; for runc, containerd and CRI-O: every
    /// capability including `CAP_SYS_ADMIN` with no masked or read-only `/proc` and `/sys` paths, which is
    /// what their privileged mode sets up); absent when the runtime's state was not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// When the runtime created the container, nanoseconds since the Unix epoch (Falco's
    /// `container.start_ts`): runc's and crun's `created`, Docker's `Created`; absent when not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_ns: Option<u64>,
}

impl ContainerRef {
    /// The container as a line of a table names it: an id of 64 hex digits cut to Docker's 12, a name (a runc
    /// container's) whole up to 32 characters — cut to 12, `lab-web-1` and `lab-web-2` read alike.
    pub fn short(&self) -> String {
        let id = &self.id;
        if id.len() == 64 && crate::is_lower_hex(id) {
            return id[..12].to_string();
        }
        match id.char_indices().nth(32) {
            Some((cut, _)) => format!("{}…", &id[..cut]),
            None => id.clone(),
        }
    }
}

/// The most labels kept per container (keys and values are cut at 253 bytes).
pub const MAX_LABELS: usize = 64;

/// What the sensor knows of a process: its program and its parent's, and who it acts as.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRef {
    /// The program it runs (the path given to its last exec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// Parent process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    /// The program the parent runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_exe: Option<String>,
    /// The thread's effective uid when the event happened, read by the probe (Falco's `user.uid`: it
    /// follows set*id calls, which an exec's uid does not). Absent from recordings made before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub euid: Option<u32>,
}

/// A socket address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SockAddr {
    /// `inet`, `inet6` or `unix`.
    pub family: String,
    /// The address (`10.0.0.1`, `::1`, a socket path).
    pub addr: String,
    /// The port (0 for unix sockets).
    pub port: u16,
    /// The socket's transport protocol, when the kernel told it (inet sockets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<L4Proto>,
}

/// A socket's transport protocol (Falco's `fd.l4proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum L4Proto {
    /// TCP (stream sockets).
    Tcp,
    /// UDP (datagram sockets).
    Udp,
    /// ICMP or ICMPv6 (ping and raw ICMP sockets).
    Icmp,
    /// Other raw sockets.
    Raw,
}

impl L4Proto {
    /// From a socket's type (`SOCK_STREAM` 1, `SOCK_DGRAM` 2, `SOCK_RAW` 3) and protocol number
    /// (`IPPROTO_*`, 0 when not known); `None` for kinds Falco gives no protocol (e.g. `SOCK_SEQPACKET`).
    pub fn from_socket(sock_type: u8, protocol: u8) -> Option<L4Proto> {
        match (sock_type, protocol) {
            (_, 1 | 58) => Some(L4Proto::Icmp),
            (_, 6) | (1, 0) => Some(L4Proto::Tcp),
            (_, 17) | (2, 0) => Some(L4Proto::Udp),
            (3, _) => Some(L4Proto::Raw),
            _ => None,
        }
    }

    /// Falco's name: `tcp`, `udp`, `icmp`, `raw`.
    pub fn as_str(self) -> &'static str {
        match self {
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
            L4Proto::Icmp => "icmp",
            L4Proto::Raw => "raw",
        }
    }
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn yes() -> bool {
    true
}

fn is_true(v: &bool) -> bool {
    *v
}

fn unset_loginuid() -> u32 {
    u32::MAX
}

fn is_unset_loginuid(v: &u32) -> bool {
    *v == u32::MAX
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventKind {
    /// A program was executed (after a successful `execve`).
    Exec {
        /// Parent process id.
        ppid: u32,
        /// The parent's command name at the time of the exec.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        parent_comm: String,
        /// Real user id.
        uid: u32,
        /// Real group id.
        gid: u32,
        /// Effective user id.
        euid: u32,
        /// The executable path as passed to `execve`.
        exe: String,
        /// Arguments (argv\[0\] first), cut at the sensor's limits.
        argv: Vec<String>,
        /// True when argv was cut.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        argv_truncated: bool,
        /// Effective capabilities (bit mask).
        cap_effective: u64,
        /// Permitted capabilities (bit mask; absent: none, or a recording from before kestrel reported them).
        #[serde(default, skip_serializing_if = "is_zero_u64")]
        cap_permitted: u64,
        /// The controlling terminal, as `tty_nr` in `/proc/<pid>/stat` (absent: none).
        #[serde(default, skip_serializing_if = "is_zero_u32")]
        tty: u32,
        /// The audit login uid (`/proc/<pid>/loginuid`; absent: not set, `u32::MAX`).
        #[serde(default = "unset_loginuid", skip_serializing_if = "is_unset_loginuid")]
        loginuid: u32,
        /// The executable is a memfd (`memfd_create`, then `execveat`/`fexecve`): nothing on disk.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        exe_from_memfd: bool,
        /// The process leads its process group: a shell with job control runs each command it is given at a
        /// terminal in a group of its own; a script's commands stay in the script's group.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pgrp_leader: bool,
        /// The process's pid in its own pid namespace: 1 for the first process of a container, the host pid
        /// for a process of the host (absent: not known — recordings made before kestrel reported it).
        #[serde(default, skip_serializing_if = "is_zero_u32")]
        vpid: u32,
        /// The working directory, as the process sees it (empty: not known).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        cwd: String,
        /// The environment's variables, in order: `NAME=value` for those in [`ENV_VALUES_KEPT`], the name
        /// alone for the others (their values often hold secrets and are never kept).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        env: Vec<String>,
        /// The name of `euid` (Falco's `user.name`) in the process's own user database (`/etc/passwd` in its
        /// root file system, a container's own; absent: no such entry, or the file could not be read).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        /// The name of the effective gid (`egid`, else `gid`; Falco's `group.name`) in the process's own group
        /// database (`/etc/group` in its root file system; absent: no such entry, or the file could not be
        /// read).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        /// Effective group id (absent: a recording from before kestrel reported it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        egid: Option<u32>,
        /// The name of `loginuid` in the process's own user database (absent: not set, or no such entry).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        login_user: Option<Box<str>>,
        /// Its session leader's pid, as the host numbers it (absent: none, or not known).
        #[serde(default, skip_serializing_if = "is_zero_u32")]
        sid: u32,
        /// The program file: its inode number, the inode's last status change and last modification
        /// (nanoseconds since the Unix epoch; absent: not known).
        /// (Boxed, as `login_user` is: an exec is the largest event, and every event is as large.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exe_file: Option<Box<ExeFile>>,
    },
    /// A link was made (`symlink`, `symlinkat`, `link`, `linkat`); reported when attempted. Recordings made
    /// before kestrel reported every link hold only links to sensitive files (`sensitive` missing: true).
    Link {
        /// The call.
        call: String,
        /// The file linked to, as given (a symbolic link's target; a hard link's existing path).
        target: String,
        /// The new name: as given, or joined to the directory it is relative to when the sensor rebuilt it.
        path: String,
        /// The new name was given relative to a directory descriptor, not the working directory.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        dirfd: bool,
        /// The target, as given, starts with a sensitive prefix or ends in a sensitive file's name.
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        sensitive: bool,
    },
    /// A process exited.
    Exit {
        /// Exit status as `wait` reports it (code << 8 | signal).
        status: i32,
    },
    /// A file was opened (`openat`/`openat2`): writes and sensitive paths.
    Open {
        /// The path as given (may be relative to the working directory).
        path: String,
        /// `open` flags.
        flags: u32,
    },
    /// An outgoing connection was attempted.
    Connect {
        /// The destination.
        to: SockAddr,
    },
    /// A datagram was sent to an address without a connection (`sendto`, `sendmsg`, `sendmmsg` on a UDP or raw
    /// socket): a UDP peer that `connect` never names. Reported once per process and peer every 10 seconds.
    Send {
        /// The system call (`sendto`, `sendmsg` or `sendmmsg`).
        call: String,
        /// The destination (of the first message, for `sendmmsg`).
        to: SockAddr,
    },
    /// A DNS question was sent: a UDP datagram to port 53, by whichever call (`sendto`, `send` on a connected
    /// socket, `sendmsg`, `sendmmsg`, `write`, io_uring). Every one is reported — a resolver's A and AAAA
    /// questions are two — since the names are what a DNS tunnel carries its data in.
    Dns {
        /// The server asked.
        to: SockAddr,
        /// The name asked about, as sent (letters keep their case; a byte other than a letter, digit, `-` or `_`
        /// is written `\DDD`, a dot inside a label `\.`; the root is `.`). Empty when the datagram holds no DNS
        /// question ([`dns_question`](crate::dns_question)) — something else sent through the DNS port.
        name: String,
        /// The question's type: `A`, `AAAA`, `TXT`, `ANY`… or its number; empty with the name.
        qtype: String,
    },
    /// A packet socket (`AF_PACKET`: every frame of an interface — sniffing, ARP spoofing) or a raw IP socket
    /// (forged packets) was created. Other sockets are not reported.
    Socket {
        /// `packet`, `inet` or `inet6`.
        family: String,
        /// `raw`, `dgram` (packet sockets without link-level headers) or the type's number.
        sock_type: String,
        /// The protocol: an Ethernet protocol for packet sockets (3: all frames, 0x0800: IPv4, 0x0806: ARP), an
        /// IP protocol for raw ones (1: ICMP, 6: TCP, 17: UDP, 255: raw).
        protocol: u32,
    },
    /// A network connection is made a standard stream: `dup2`/`dup3` of a TCP or UDP socket onto descriptor 0,
    /// 1 or 2 — a reverse shell's redirection (`dup2(s, 0); dup2(s, 1); dup2(s, 2)`) — or `dup` and
    /// `fcntl(s, F_DUPFD, n)` when the lowest free descriptor (from n on) is one of them (`close(0); dup(s)`,
    /// Python's `os.dup`). Reported when attempted (system-call entry), like the other calls.
    Dup {
        /// The system call (`dup`, `dup2`, `dup3` or `fcntl`).
        call: String,
        /// The standard stream the connection became: 0 (input), 1 (output) or 2 (errors).
        fd: u32,
        /// The socket's peer (the unspecified address and port 0 when it has none, e.g. a listening socket).
        peer: SockAddr,
        /// The socket's local port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        local_port: Option<u16>,
    },
    /// A file was mapped executable (`mmap` with `PROT_EXEC`): a library the dynamic loader maps at a program's
    /// start or `dlopen` loads later, a plug-in, a database's C function. Reported the first time each program
    /// file maps each file in a cgroup (as the file's inode was: one rewritten is reported again) in each period
    /// of about 9 minutes; the program file and its interpreter, which the kernel maps at exec, are the exec
    /// event's. A mapping made executable later by `mprotect` is [`EventKind::ExecMemory`].
    Mmap {
        /// The file, rebuilt from its directory entries as the process sees it (`/memfd:NAME` for a memfd).
        path: String,
        /// The protection asked for (`PROT_READ` 1, `PROT_WRITE` 2, `PROT_EXEC` 4).
        prot: u32,
        /// The file is a memfd (`memfd_create`): nothing on disk.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        memfd: bool,
        /// The file had no name left when mapped (removed after it was opened; a memfd, which never had one, is
        /// `memfd`). Recordings made with the first sensor that reported mmap say it of a memfd too.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        deleted: bool,
        /// The file's inode: its number and last status change (`mtime_ns` is not read: 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<Box<ExeFile>>,
    },
    /// Memory was made executable that no file mapping brought: an anonymous `mmap` with `PROT_EXEC`, or
    /// `mprotect` (`pkey_mprotect`) adding `PROT_EXEC` to memory that was not executable. A JIT compiler's code
    /// (V8, a JVM, LLVM) — and shellcode or a reflectively loaded library, which leave no file to map. Reported
    /// the first time each program file does it to each kind of memory (and file) in a cgroup in each period of
    /// about 9 minutes. `mprotect` is seen on Linux 5.17 and later (`bpf_find_vma`).
    ExecMemory {
        /// The system call: `mmap`, `mprotect` or `pkey_mprotect`.
        call: String,
        /// The protection asked for (`PROT_READ` 1, `PROT_WRITE` 2, `PROT_EXEC` 4).
        prot: u32,
        /// What memory: `anonymous`, `heap` (brk), `stack` (the main thread's), `file` (a file's mapping, made
        /// executable after it was mapped; `path` names it) or `unknown` (not found when looked up).
        region: String,
        /// The length asked for, rounded up to 4 KiB pages.
        length: u64,
        /// The file behind the memory, rebuilt from its directory entries (`region` `file` only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// The file's inode: its number and last status change (`mtime_ns` is not read: 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<Box<ExeFile>>,
    },
    /// A file was renamed (`rename`, `renameat`, `renameat2`, or through io_uring): every rename of a watched
    /// process. The destination counts as written (a file written in /tmp and moved into /usr/bin never opens
    /// there for writing).
    Rename {
        /// The system call.
        call: String,
        /// The old name, as given (relative to the working directory or a directory descriptor when relative).
        from: String,
        /// The new name, as given.
        to: String,
        /// The new name is relative to a directory descriptor (renameat's `newdirfd`), not the working directory.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        to_dirfd: bool,
    },
    /// A directory was made (`mkdir`, `mkdirat`, or through io_uring): every one of a watched process.
    Mkdir {
        /// The system call.
        call: String,
        /// The path, as given (relative to the working directory or a directory descriptor when relative).
        path: String,
        /// The path is relative to a directory descriptor (mkdirat's `dirfd`), not the working directory.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        dirfd: bool,
        /// The mode asked for.
        mode: u32,
    },
    /// A file or directory was removed (`unlink`, `unlinkat`, `rmdir`, or through io_uring): every one of a
    /// watched process — shell history deleted, logs cleared, a program removed from a binary directory.
    Unlink {
        /// The system call.
        call: String,
        /// The path, as given (relative to the working directory or a directory descriptor when relative).
        path: String,
        /// The path is relative to a directory descriptor (unlinkat's `dirfd`), not the working directory.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        dirfd: bool,
        /// A directory is removed (`rmdir`, or unlinkat's `AT_REMOVEDIR`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        dir: bool,
    },
    /// A file's content was cut by `truncate`, `ftruncate` or io_uring's ftruncate — a log or shell history
    /// emptied in place, evidence destroyed. An ftruncate that does not make the file shorter is not reported.
    /// (An open with `O_TRUNC` is an `open` event with that flag.)
    Truncate {
        /// The system call: `truncate` or `ftruncate`.
        call: String,
        /// The file: for `ftruncate` its own path, rebuilt from its directory entries as the container sees
        /// it; for `truncate` as given (relative to the working directory when relative).
        path: String,
        /// The file's size before, in bytes (what there was to lose); known for `ftruncate` only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size_before: Option<u64>,
        /// The length asked for (0: emptied).
        length: u64,
    },
    /// `userfaultfd` was called: page faults handled by a process — a kernel exploit's way to hold the kernel
    /// mid-copy. Container runtimes' default seccomp profiles refuse it.
    Userfaultfd {
        /// Its flags (`O_CLOEXEC`, `O_NONBLOCK`, `UFFD_USER_MODE_ONLY` 1).
        flags: u32,
    },
    /// A socket was bound to an address (a server, or a reverse shell's listener).
    Bind {
        /// The address.
        addr: SockAddr,
    },
    /// A socket started listening.
    Listen {
        /// The socket's file descriptor.
        fd: u32,
        /// The backlog asked for.
        backlog: u32,
    },
    /// A connection was accepted.
    Accept {
        /// The peer.
        from: SockAddr,
        /// The local port the connection came in on, where the kernel tells it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
    },
    /// A thread's system calls, in order (a batch of at most [`SYSCALL_BATCH`]; the stream is on only for the
    /// cgroups that asked for it).
    Syscalls {
        /// System-call numbers of the machine's architecture (x86_64).
        ids: Vec<u16>,
    },
    /// `setuid`, `setgid`, `setreuid`, `setregid`, `setresuid` or `setresgid` was called.
    SetIds {
        /// The system call.
        call: String,
        /// Its id arguments (-1: left unchanged).
        ids: Vec<i64>,
        /// The names of `ids` in the process's own user or group database, in the same order (`None`: not
        /// found; empty: not looked up).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        names: Vec<Option<String>>,
    },
    /// `capset` was called.
    Capset {
        /// The effective set asked for.
        effective: u64,
        /// The permitted set asked for.
        permitted: u64,
    },
    /// New namespaces: `unshare`, or a `clone` that creates namespaces.
    Namespaces {
        /// `unshare` or `clone`.
        call: String,
        /// The namespaces (`mnt`, `pid`, `net`, `user`, `uts`, `ipc`, `cgroup`, `time`).
        namespaces: Vec<String>,
        /// The raw flags.
        flags: u64,
        /// The caller's permitted capabilities (bit mask; absent: none, or a recording from before kestrel
        /// reported them).
        #[serde(default, skip_serializing_if = "is_zero_u64")]
        cap_permitted: u64,
    },
    /// `setns`: joining another namespace.
    Setns {
        /// The namespace type asked for (0: any).
        nstype: u64,
    },
    /// `mount` was called.
    Mount {
        /// Source (a device, a directory, a name).
        source: String,
        /// Mount point.
        target: String,
        /// File system type.
        fstype: String,
        /// Mount flags.
        flags: u64,
    },
    /// `ptrace` was called.
    Ptrace {
        /// The request (`PTRACE_ATTACH` is 16, `PTRACE_SEIZE` 0x4206).
        request: u64,
        /// The traced process.
        target_pid: u32,
    },
    /// `bpf` was called.
    Bpf {
        /// The command.
        cmd: u32,
    },
    /// A kernel module load was attempted (`init_module`, `finit_module`).
    ModuleLoad {
        /// The system call.
        call: String,
    },
    /// A mode with setuid or setgid bits was set (`chmod`, `fchmod`, `fchmodat`).
    SetuidChmod {
        /// The file, when given by path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// The mode.
        mode: u32,
    },
}

/// The program file an exec ran, as its inode was when the program started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExeFile {
    /// Inode number.
    pub ino: u64,
    /// Last status change (`ctime`), nanoseconds since the Unix epoch.
    pub ctime_ns: u64,
    /// Last modification (`mtime`), nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
}

impl ExeFile {
    /// Nothing is known of it.
    pub fn is_unknown(&self) -> bool {
        *self == ExeFile::default()
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Always [`EVENT_SCHEMA`] (a name shared by every event, not a copy each).
    #[serde(deserialize_with = "schema_name")]
    pub schema: std::borrow::Cow<'static, str>,
    /// Nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// Process id (thread group id).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// The thread's command name (`comm`, at most 15 bytes).
    pub comm: String,
    /// The cgroup (v2) id of the process.
    pub cgroup_id: u64,
    /// The container, when the cgroup belongs to one (shared: every event of a container points at one copy,
    /// which keeps an event small and its copy cheap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<std::sync::Arc<ContainerRef>>,
    /// The process and its parent, from the sensor's process table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessRef>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// An event's schema name: [`EVENT_SCHEMA`] itself when it is that (read without a copy per event), a copy
/// otherwise (for the reader to refuse by name).
fn schema_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::borrow::Cow<'static, str>, D::Error> {
    struct Name;
    impl serde::de::Visitor<'_> for Name {
        type Value = std::borrow::Cow<'static, str>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a schema name")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(if v == EVENT_SCHEMA { EVENT_SCHEMA.into() } else { v.to_string().into() })
        }
    }
    d.deserialize_str(Name)
}

/// The kinds of event a node may do without (`--leave-out`: frequent calls whose probes cost something even when
/// they report nothing), in the order of their bits ([`EventKind::leavable_bit`]). Append only: a profile names by
/// them which kinds the sources it learned from reported.
pub const LEAVABLE_KINDS: [&str; 11] =
    ["send", "dup", "mkdir", "unlink", "truncate", "rename", "link", "socket", "mmap", "exec-memory", "dns"];

/// The bits ([`EventKind::leavable_bit`]) of the named kinds; names not in [`LEAVABLE_KINDS`] are ignored.
pub fn leavable_bits<S: AsRef<str>>(kinds: &[S]) -> u16 {
    kinds.iter().filter_map(|k| LEAVABLE_KINDS.iter().position(|l| *l == k.as_ref())).fold(0, |bits, i| bits | 1 << i)
}

/// The names of the kinds whose bits are set, in [`LEAVABLE_KINDS`]' order.
pub fn leavable_names(bits: u16) -> Vec<&'static str> {
    LEAVABLE_KINDS.iter().enumerate().filter(|(i, _)| bits & 1 << i != 0).map(|(_, k)| *k).collect()
}

/// Every event kind's name, as in the JSON `kind` field ([`EventKind::name`]).
pub const EVENT_KINDS: &[&str] = &[
    "exec",
    "exit",
    "open",
    "connect",
    "send",
    "socket",
    "rename",
    "dup",
    "mkdir",
    "unlink",
    "truncate",
    "userfaultfd",
    "bind",
    "listen",
    "accept",
    "syscalls",
    "set-ids",
    "capset",
    "namespaces",
    "setns",
    "mount",
    "ptrace",
    "bpf",
    "module-load",
    "setuid-chmod",
    "link",
    "mmap",
    "exec-memory",
    "dns",
];

impl Event {
    /// The kind's name, as in the JSON `kind` field (one of [`EVENT_KINDS`]).
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }
}

impl EventKind {
    /// A successful exec of `argv[0]` with the arguments `argv` by root, a child of `ppid` (running `parent_comm`),
    /// with nothing else known: no capabilities, terminal, login, environment or program file. What a test or a
    /// made-up event starts from.
    pub fn exec_of(ppid: u32, parent_comm: &str, argv: &[&str]) -> EventKind {
        EventKind::Exec {
            ppid,
            parent_comm: parent_comm.into(),
            uid: 0,
            gid: 0,
            euid: 0,
            exe: argv.first().copied().unwrap_or_default().into(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
            argv_truncated: false,
            cap_effective: 0,
            cap_permitted: 0,
            tty: 0,
            loginuid: u32::MAX,
            exe_from_memfd: false,
            pgrp_leader: false,
            vpid: 0,
            cwd: String::new(),
            env: Vec::new(),
            user: None,
            group: None,
            egid: None,
            login_user: None,
            sid: 0,
            exe_file: Default::default(),
        }
    }

    /// Its bit among [`LEAVABLE_KINDS`] (`1 << index`); 0 for a kind every sensor reports.
    pub fn leavable_bit(&self) -> u16 {
        match self {
            EventKind::Send { .. } => 1 << 0,
            EventKind::Dup { .. } => 1 << 1,
            EventKind::Mkdir { .. } => 1 << 2,
            EventKind::Unlink { .. } => 1 << 3,
            EventKind::Truncate { .. } => 1 << 4,
            EventKind::Rename { .. } => 1 << 5,
            EventKind::Link { .. } => 1 << 6,
            EventKind::Socket { .. } => 1 << 7,
            EventKind::Mmap { .. } => 1 << 8,
            EventKind::ExecMemory { .. } => 1 << 9,
            EventKind::Dns { .. } => 1 << 10,
            _ => 0,
        }
    }

    /// Its name, as in the JSON `kind` field (one of [`EVENT_KINDS`]).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Exec { .. } => "exec",
            EventKind::Exit { .. } => "exit",
            EventKind::Open { .. } => "open",
            EventKind::Connect { .. } => "connect",
            EventKind::Send { .. } => "send",
            EventKind::Socket { .. } => "socket",
            EventKind::Rename { .. } => "rename",
            EventKind::Dup { .. } => "dup",
            EventKind::Mkdir { .. } => "mkdir",
            EventKind::Unlink { .. } => "unlink",
            EventKind::Truncate { .. } => "truncate",
            EventKind::Userfaultfd { .. } => "userfaultfd",
            EventKind::Bind { .. } => "bind",
            EventKind::Listen { .. } => "listen",
            EventKind::Accept { .. } => "accept",
            EventKind::Syscalls { .. } => "syscalls",
            EventKind::SetIds { .. } => "set-ids",
            EventKind::Capset { .. } => "capset",
            EventKind::Namespaces { .. } => "namespaces",
            EventKind::Setns { .. } => "setns",
            EventKind::Mount { .. } => "mount",
            EventKind::Ptrace { .. } => "ptrace",
            EventKind::Bpf { .. } => "bpf",
            EventKind::ModuleLoad { .. } => "module-load",
            EventKind::SetuidChmod { .. } => "setuid-chmod",
            EventKind::Link { .. } => "link",
            EventKind::Mmap { .. } => "mmap",
            EventKind::ExecMemory { .. } => "exec-memory",
            EventKind::Dns { .. } => "dns",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_is_named_short_by_its_id_and_whole_by_its_name() {
        let c = |id: &str| ContainerRef { id: id.into(), ..Default::default() }.short();
        assert_eq!(c(&"3f2a".repeat(16)), "3f2a3f2a3f2a");
        assert_eq!(c("lab-reverse-shell-1"), "lab-reverse-shell-1");
        assert_eq!(c(&"é".repeat(40)), format!("{}…", "é".repeat(32)));
        // Hex but no 64-digit id: a name.
        assert_eq!(c("deadbeefcafe42"), "deadbeefcafe42");
    }

    #[test]
    fn every_kind_name_is_listed() {
        // name()'s match is exhaustive; EVENT_KINDS must name each of its answers, and nothing else.
        let src = include_str!("event.rs");
        let body = &src[src.find("pub fn name(&self)").unwrap()..];
        let body = &body[..body.find("\n    }\n").unwrap()];
        let names: Vec<&str> = body.split("=> \"").skip(1).map(|r| &r[..r.find('"').unwrap()]).collect();
        assert_eq!(names, EVENT_KINDS);
    }

    #[test]
    fn each_leavable_kind_has_its_own_bit() {
        // leavable_bit()'s arms against name()'s: the kind at bit i is LEAVABLE_KINDS[i].
        let src = include_str!("event.rs");
        let arms = |f: &str, sep: &str| -> Vec<(String, String)> {
            let body = &src[src.find(f).unwrap()..];
            let body = &body[..body.find("\n    }\n").unwrap()];
            body.lines()
                .filter_map(|l| l.trim().strip_prefix("EventKind::"))
                .filter_map(|l| {
                    l.split_once(" { .. } => ").map(|(v, r)| {
                        (v.to_string(), r.trim_start_matches(sep).trim_end_matches(',').trim_matches('"').to_string())
                    })
                })
                .collect()
        };
        let names: std::collections::HashMap<String, String> = arms("pub fn name(&self)", "").into_iter().collect();
        let bits = arms("pub fn leavable_bit(&self)", "1 << ");
        assert_eq!(bits.len(), LEAVABLE_KINDS.len());
        for (variant, bit) in bits {
            let i: usize = bit.parse().unwrap();
            assert_eq!(names[&variant], LEAVABLE_KINDS[i], "{variant}");
        }
        assert_eq!(leavable_bits(&["mmap", "send", "nothing"]), 1 | 1 << 8);
        assert_eq!(leavable_names(1 | 1 << 8), ["send", "mmap"]);
    }

    #[test]
    fn an_event_stays_small() {
        // Replays and the detector's harness hold events by the hundred thousand, and every event is moved
        // through channels: the container is shared, not copied in. (608 bytes before it was; 544 before
        // exec records grew.)
        let size = std::mem::size_of::<Event>();
        eprintln!("Event: {size} bytes, EventKind: {}", std::mem::size_of::<EventKind>());
        assert!(size <= 400, "Event is {size} bytes");
    }

    #[test]
    fn json_form() {
        let e = Event {
            schema: EVENT_SCHEMA.into(),
            time_ns: 1,
            pid: 10,
            tid: 10,
            comm: "sh".into(),
            cgroup_id: 77,
            container: Some(ContainerRef { id: "abc".into(), runtime: "runc".into(), ..Default::default() }.into()),
            process: None,
            kind: EventKind::Connect {
                to: SockAddr { family: "inet".into(), addr: "10.0.0.1".into(), port: 3333, proto: None },
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], "connect");
        assert_eq!(v["to"]["port"], 3333);
        assert_eq!(v["container"]["runtime"], "runc");
        assert_eq!(serde_json::from_value::<Event>(v.clone()).unwrap(), e);
        // The schema name is the shared one, not a copy per event; another name is kept as written.
        let read: Event = serde_json::from_str(&v.to_string()).unwrap();
        assert!(matches!(read.schema, std::borrow::Cow::Borrowed(EVENT_SCHEMA)));
        let mut other = v.clone();
        other["schema"] = "kestrel.event/v9".into();
        assert_eq!(serde_json::from_str::<Event>(&other.to_string()).unwrap().schema, "kestrel.event/v9");
        other["schema"] = 9.into();
        assert!(serde_json::from_str::<Event>(&other.to_string()).is_err());
        assert_eq!(e.kind_name(), "connect");
        let m = Event { kind: EventKind::ModuleLoad { call: "finit_module".into() }, ..e };
        assert_eq!(serde_json::to_value(&m).unwrap()["kind"], m.kind_name());
    }
}
