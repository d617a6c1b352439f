//! Ring-buffer records (`bpf/events.h`) into [`kestrel_core::EventKind`] values. Records come from the
//! kernel, but are still checked: a short or unknown record is an error, never a panic.

use kestrel_core::{normalize_path, redact_env_entry, EventKind, ExeFile, L4Proto, SockAddr};

/// Record kinds (`KIND_*` in events.h).
const KIND_EXEC: u32 = 1;
/// An open record's flag: reported when the open returned, its path rebuilt from the opened file.
const OPEN_RESOLVED: u32 = 0x8000_0000;
/// With OPEN_RESOLVED: judged at entry; the path as given, then the directory it is relative to.
const OPEN_AT_ENTRY: u32 = 0x4000_0000;
/// Offset of `exe` in an exec record, after the header.
const EXEC_EXE: usize = 56;
const EXEC_ARGS_TRUNCATED: u32 = 1;
const EXEC_FROM_MEMFD: u32 = 2;
const EXEC_EXE_REBUILT: u32 = 4;
const EXEC_CWD_KNOWN: u32 = 8;
const EXEC_ENV_TRUNCATED: u32 = 16;
const EXEC_PGRP_LEADER: u32 = 32;
/// Where an exec record's fields after its environment start.
const EXEC_TAIL: usize = EXEC_EXE + PATH + ARGS + COMM + PATH + 8 + ENV;
const KIND_EXIT: u32 = 2;
/// How a mkdir's or an unlink's path was given (events.h: PATH_DIRFD, PATH_DIR_REBUILT).
const PATH_DIRFD: u64 = 1;
const PATH_DIR_REBUILT: u64 = 2;
const PATH_FROM_SAME_DIR: u64 = 4;
/// Where in a rename record's second string the new name's directory starts (events.h: RENAME_DIR_AT).
const RENAME_DIR_AT: usize = 64;
/// unlinkat(2)'s flag: a directory is removed.
const AT_REMOVEDIR: u64 = 0x200;
/// What else an executable mapping's record says of its file (events.h: MMAP_MEMFD, MMAP_DELETED).
const MMAP_MEMFD: u64 = 1;
const MMAP_DELETED: u64 = 2;
const KIND_OPEN: u32 = 3;
const KIND_CONNECT: u32 = 4;
const KIND_CGROUP: u32 = 5;
const KIND_PRIV: u32 = 6;
const KIND_BIND: u32 = 7;
const KIND_LISTEN: u32 = 8;
const KIND_ACCEPT: u32 = 9;
const KIND_SYSCALLS: u32 = 10;
const KIND_FORK: u32 = 11;
const KIND_SEND: u32 = 12;
const KIND_SOCKET: u32 = 13;
const KIND_DUP: u32 = 14;
const KIND_DNS: u32 = 15;
/// A DNS record's datagram length: after the connect layout (180 bytes, padded to 184 by its header's u64s).
const DNS_LEN_AT: usize = 184;
const DNS_DATA: usize = DNS_LEN_AT + 2;
const DNS_LEN: usize = 320;

const HEADER: usize = 48;
const COMM: usize = 16;
const PATH: usize = 256;
const ARGS: usize = 1024;
const ENV: usize = 4096;

/// The common part of every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Thread group id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// The thread's effective uid when the event happened.
    pub euid: u32,
    /// Boot-time clock, nanoseconds.
    pub boot_ns: u64,
    /// cgroup v2 id.
    pub cgroup_id: u64,
    /// `comm`.
    pub comm: String,
}

/// A decoded event record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    /// The header.
    pub header: Header,
    /// The event.
    pub kind: EventKind,
}

/// What a record is: an event, or news of the sensor's own (a cgroup was created).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An event of a watched process.
    Event(Raw),
    /// A cgroup v2 directory was created.
    Cgroup {
        /// Its id.
        id: u64,
        /// Its path relative to the hierarchy's root.
        path: String,
    },
    /// A file named like a sensitive one was opened for reading, or a file written by a relative path: its
    /// path rebuilt from the opened file, or joined to its directory when judged at entry (not yet known to be
    /// sensitive: the consumer decides, see [`crate::opens`]).
    ResolvedOpen {
        /// The open.
        raw: Raw,
        /// Judged when the open was made (a relative path joined to its directory, an io_uring submission),
        /// not when it returned: no entry record repeats it.
        at_entry: bool,
    },
    /// A watched process forked a new process (the process table's business, not an event).
    Fork {
        /// The new process.
        pid: u32,
        /// The process that forked it.
        ppid: u32,
    },
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2).map(|s| u16::from_ne_bytes([s[0], s[1]])).ok_or_else(|| format!("record too short at {at}"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("record too short at {at}"))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, String> {
    b.get(at..at + 8)
        .map(|s| u64::from_ne_bytes(s.try_into().expect("8 bytes")))
        .ok_or_else(|| format!("record too short at {at}"))
}

/// A NUL-terminated string in a fixed field.
fn cstr(b: &[u8], at: usize, len: usize) -> Result<String, String> {
    let f = b.get(at..at + len).ok_or_else(|| format!("record too short at {at}"))?;
    let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
    Ok(String::from_utf8_lossy(&f[..end]).into_owned())
}

/// A path the BPF program rebuilt from a file's dentries: components last first, NUL-terminated
/// (`shadow\0etc\0` is `/etc/shadow`).
fn rebuilt_path(raw: &[u8]) -> String {
    let mut parts: Vec<String> =
        raw.split(|&c| c == 0).filter(|p| !p.is_empty()).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
    parts.reverse();
    format!("/{}", parts.join("/"))
}

/// A relative path joined to the directory the BPF program rebuilt for it, normalized.
fn joined_to_rebuilt(dir: &[u8], given: &str) -> String {
    normalize_path(&format!("{}/{given}", rebuilt_path(dir).trim_end_matches('/'))).into_owned()
}

/// Decodes one record.
pub fn decode(b: &[u8]) -> Result<Record, String> {
    let kind = u32_at(b, 0)?;
    if kind == KIND_CGROUP {
        return Ok(Record::Cgroup { id: u64_at(b, HEADER)?, path: cstr(b, HEADER + 8, PATH)? });
    }
    if kind == KIND_FORK {
        return Ok(Record::Fork { pid: u32_at(b, HEADER)?, ppid: u32_at(b, HEADER + 4)? });
    }
    let header = Header {
        pid: u32_at(b, 4)?,
        tid: u32_at(b, 8)?,
        euid: u32_at(b, 12)?,
        boot_ns: u64_at(b, 16)?,
        cgroup_id: u64_at(b, 24)?,
        comm: cstr(b, 32, COMM)?,
    };
    let h = HEADER;
    let kind = match kind {
        KIND_EXEC => {
            let flags = u32_at(b, h + 32)?;
            let args_len = (u32_at(b, h + 28)? as usize).min(ARGS);
            let args_at = h + EXEC_EXE + PATH;
            let raw = b.get(args_at..args_at + args_len).ok_or("exec record shorter than its arguments")?;
            let argv = raw
                .split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            EventKind::Exec {
                ppid: u32_at(b, h)?,
                parent_comm: cstr(b, h + EXEC_EXE + PATH + ARGS, COMM).unwrap_or_default(),
                cwd: if flags & EXEC_CWD_KNOWN != 0 {
                    let len = (u32_at(b, h + 52)? as usize).min(PATH);
                    let at = h + EXEC_EXE + PATH + ARGS + COMM;
                    rebuilt_path(b.get(at..at + len).ok_or("exec record shorter than its cwd")?)
                } else {
                    String::new()
                },
                uid: u32_at(b, h + 4)?,
                gid: u32_at(b, h + 8)?,
                euid: u32_at(b, h + 12)?,
                cap_effective: u64_at(b, h + 16)?,
                cap_permitted: u64_at(b, h + 40)?,
                tty: u32_at(b, h + 36)?,
                loginuid: u32_at(b, h + 48)?,
                exe_from_memfd: flags & EXEC_FROM_MEMFD != 0,
                pgrp_leader: flags & EXEC_PGRP_LEADER != 0,
                vpid: u32_at(b, h + EXEC_EXE + PATH + ARGS + COMM + PATH + 4)?,
                exe: if flags & EXEC_EXE_REBUILT != 0 {
                    let len = (u32_at(b, h + 24)? as usize).min(PATH);
                    rebuilt_path(b.get(h + EXEC_EXE..h + EXEC_EXE + len).ok_or("exec record too short")?)
                } else {
                    cstr(b, h + EXEC_EXE, PATH)?
                },
                argv,
                argv_truncated: flags & EXEC_ARGS_TRUNCATED != 0,
                user: None, // named by the sensor from the process's own user and group databases
                group: None,
                login_user: None,
                egid: Some(u32_at(b, h + EXEC_TAIL)?),
                sid: u32_at(b, h + EXEC_TAIL + 4)?,
                exe_file: Some(Box::new(ExeFile {
                    ino: u64_at(b, h + EXEC_TAIL + 8)?,
                    ctime_ns: u64_at(b, h + EXEC_TAIL + 16)?,
                    mtime_ns: u64_at(b, h + EXEC_TAIL + 24)?,
                }))
                .filter(|f| !f.is_unknown()),
                env: {
                    let at = h + EXEC_EXE + PATH + ARGS + COMM + PATH;
                    let len = (u32_at(b, at)? as usize).min(ENV);
                    let raw = b.get(at + 8..at + 8 + len).ok_or("exec record shorter than its environment")?;
                    let mut env: Vec<String> = raw
                        .split(|&c| c == 0)
                        .filter(|v| !v.is_empty())
                        .map(|v| redact_env_entry(&String::from_utf8_lossy(v)).to_owned())
                        .collect();
                    // The last entry of a cut environment is cut too: its value is not kept.
                    if flags & EXEC_ENV_TRUNCATED != 0 {
                        if let Some(last) = env.last_mut() {
                            last.truncate(last.find('=').unwrap_or(last.len()));
                        }
                    }
                    env
                },
            }
        }
        KIND_EXIT => EventKind::Exit { status: u32_at(b, h)? as i32 },
        KIND_OPEN if u32_at(b, h)? & OPEN_RESOLVED != 0 => {
            let flags = u32_at(b, h)?;
            let at_entry = flags & OPEN_AT_ENTRY != 0;
            let path = if at_entry {
                let given = cstr(b, h + 8, PATH)?;
                let base_len = (u32_at(b, h + 8 + PATH)? as usize).min(PATH);
                let at = h + 16 + PATH;
                let base = b.get(at..at + base_len).ok_or("open record shorter than its directory")?;
                if given.starts_with('/') {
                    normalize_path(&given).into_owned()
                } else {
                    joined_to_rebuilt(base, &given)
                }
            } else {
                let len = (u32_at(b, h + 4)? as usize).min(PATH);
                rebuilt_path(b.get(h + 8..h + 8 + len).ok_or("open record shorter than its path")?)
            };
            let kind = EventKind::Open { flags: flags & !(OPEN_RESOLVED | OPEN_AT_ENTRY), path };
            return Ok(Record::ResolvedOpen { raw: Raw { header, kind }, at_entry });
        }
        KIND_OPEN => EventKind::Open { flags: u32_at(b, h)?, path: cstr(b, h + 8, PATH)? },
        KIND_CONNECT => EventKind::Connect { to: sockaddr(b)? },
        KIND_BIND => EventKind::Bind { addr: sockaddr(b)? },
        KIND_SOCKET => {
            let family = u16_at(b, h)?;
            let kind = *b.get(h + 6).ok_or("socket record too short")?;
            let protocol = u32_at(b, h + 8)?;
            EventKind::Socket {
                family: match family {
                    17 => "packet".into(),
                    2 => "inet".into(),
                    10 => "inet6".into(),
                    f => f.to_string(),
                },
                sock_type: match kind {
                    1 => "stream".into(),
                    2 => "dgram".into(),
                    3 => "raw".into(),
                    k => k.to_string(),
                },
                // A packet socket's protocol is an Ethernet type in network order.
                protocol: if family == 17 { u32::from(u16::from_be(protocol as u16)) } else { protocol },
            }
        }
        KIND_SEND => EventKind::Send {
            call: match u16_at(b, h + 4)? {
                2 => "sendmsg",
                3 => "sendmmsg",
                _ => "sendto",
            }
            .into(),
            to: sockaddr(b)?,
        },
        KIND_DNS => {
            let len = usize::from(u16_at(b, DNS_LEN_AT)?).min(DNS_LEN);
            let message = b.get(DNS_DATA..DNS_DATA + len).ok_or("dns record too short")?;
            let to = sockaddr(b)?;
            let q = match to.proto {
                Some(L4Proto::Tcp) => tcp_dns_question(message),
                _ => kestrel_core::dns_question(message),
            };
            let (name, qtype) = q.map(|q| (q.name, q.qtype)).unwrap_or_default();
            EventKind::Dns { to, name, qtype }
        }
        KIND_DUP => {
            let call = *b.get(h + 24).ok_or("dup record too short")?;
            EventKind::Dup {
                call: match call {
                    1 => "dup",
                    3 => "dup3",
                    4 => "fcntl",
                    _ => "dup2",
                }
                .into(),
                fd: u32::from(*b.get(h + 25).ok_or("dup record too short")?),
                peer: sockaddr(b)?,
                local_port: Some(u16_at(b, h + 4)?).filter(|&p| p != 0),
            }
        }
        KIND_ACCEPT => EventKind::Accept { from: sockaddr(b)?, port: Some(u16_at(b, h + 4)?).filter(|&p| p != 0) },
        KIND_LISTEN => EventKind::Listen { fd: u32_at(b, h + 8)?, backlog: u32_at(b, h + 12)? },
        KIND_PRIV => privileged(b)?,
        KIND_SYSCALLS => {
            let n = (u32_at(b, h)? as usize).min(kestrel_core::SYSCALL_BATCH);
            EventKind::Syscalls { ids: (0..n).map(|i| u16_at(b, h + 4 + 2 * i)).collect::<Result<_, _>>()? }
        }
        other => return Err(format!("unknown record kind {other}")),
    };
    Ok(Record::Event(Raw { header, kind }))
}

/// The question of a write to a TCP connection to port 53: the message after its 2-byte length (RFC 1035, 4.2.2) —
/// or, when those two bytes are not the length of what follows, the write itself, a message whose length the client
/// wrote alone before it (the sensor reports no such write).
fn tcp_dns_question(message: &[u8]) -> Option<kestrel_core::DnsQuestion> {
    kestrel_core::dns_question(message.get(2..).unwrap_or_default()).or_else(|| {
        let unframed =
            message.len() > 2 && usize::from(u16::from_be_bytes([message[0], message[1]])) != message.len() - 2;
        unframed.then(|| kestrel_core::dns_question(message)).flatten()
    })
}

/// The address part of a connect, bind or accept record.
fn sockaddr(b: &[u8]) -> Result<SockAddr, String> {
    let h = HEADER;
    let family = u16_at(b, h)?;
    let port = u16_at(b, h + 2)?;
    let kind = b.get(h + 6..h + 8).ok_or("socket record too short")?;
    let proto = L4Proto::from_socket(kind[0], kind[1]);
    let addr = b.get(h + 8..h + 24).ok_or("socket record too short")?;
    Ok(match family {
        2 => SockAddr {
            family: "inet".into(),
            addr: std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
            port,
            proto,
        },
        10 => SockAddr {
            family: "inet6".into(),
            addr: std::net::Ipv6Addr::from(<[u8; 16]>::try_from(addr).expect("16 bytes")).to_string(),
            port,
            proto,
        },
        1 => SockAddr { family: "unix".into(), addr: cstr(b, h + 24, 108)?, port: 0, proto: None },
        other => return Err(format!("socket record with family {other}")),
    })
}

/// Namespace names of `CLONE_NEW*` flags.
pub fn namespaces(flags: u64) -> Vec<String> {
    [
        (0x0002_0000, "mnt"),
        (0x0200_0000, "cgroup"),
        (0x0400_0000, "uts"),
        (0x0800_0000, "ipc"),
        (0x1000_0000, "user"),
        (0x2000_0000, "pid"),
        (0x4000_0000, "net"),
        (0x0000_0080, "time"),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, n)| n.to_string())
    .collect()
}

/// A KIND_PRIV record: `op`, three numeric arguments and the strings.
fn privileged(b: &[u8]) -> Result<EventKind, String> {
    let h = HEADER;
    let op = u32_at(b, h)?;
    let arg = |i: usize| u64_at(b, h + 8 + 8 * i);
    let (s1, s2, fstype) = (h + 32, h + 32 + PATH, h + 32 + 2 * PATH);
    let id = |v: u64| if v as u32 == u32::MAX { -1 } else { i64::from(v as u32) };
    // The directory the kernel rebuilt for a relative path (args[1]: PATH_DIR_REBUILT, its length in bits
    // 16–31), written at `at` in at most `room` bytes; a relative `given` joined to it.
    let resolved = |given: String, at: usize, room: usize| -> Result<String, String> {
        let how = arg(1)?;
        if how & PATH_DIR_REBUILT == 0 || given.starts_with('/') {
            return Ok(given);
        }
        let len = ((how >> 16) as usize).min(room);
        Ok(joined_to_rebuilt(b.get(at..at + len).ok_or("record shorter than its directory")?, &given))
    };
    // A mkdir's or an unlink's path (str1, its directory in str2) and whether it was given relative to a
    // directory descriptor.
    let given_path = || -> Result<(String, bool), String> {
        Ok((resolved(cstr(b, s1, PATH)?, s2, PATH)?, arg(1)? & PATH_DIRFD != 0))
    };
    // A path the kernel rebuilt from a file's dentries into str1, its length in args[0] bits 16–31.
    let rebuilt_str1 = || -> Result<String, String> {
        let len = ((arg(0)? >> 16) as usize & 0xffff).min(PATH);
        Ok(rebuilt_path(b.get(s1..s1 + len).ok_or("record shorter than its path")?))
    };
    // A mapped file's inode: its number in args[1] (0: none) and last status change in args[2].
    let mapped_inode = || -> Result<Option<Box<ExeFile>>, String> {
        let (ino, ctime_ns) = (arg(1)?, arg(2)?);
        Ok((ino != 0).then(|| Box::new(ExeFile { ino, ctime_ns, mtime_ns: 0 })))
    };
    let set_ids = |call: &str, n: usize| -> Result<EventKind, String> {
        Ok(EventKind::SetIds {
            call: call.into(),
            ids: (0..n).map(|i| arg(i).map(id)).collect::<Result<_, _>>()?,
            names: Vec::new(),
        })
    };
    Ok(match op {
        1 => set_ids("setuid", 1)?,
        2 => set_ids("setgid", 1)?,
        3 => set_ids("setreuid", 2)?,
        4 => set_ids("setregid", 2)?,
        5 => set_ids("setresuid", 3)?,
        6 => set_ids("setresgid", 3)?,
        7 => EventKind::Capset { effective: arg(0)?, permitted: arg(1)? },
        8 => EventKind::Namespaces {
            call: "unshare".into(),
            namespaces: namespaces(arg(0)?),
            flags: arg(0)?,
            cap_permitted: arg(1)?,
        },
        9 => EventKind::Setns { nstype: arg(1)? },
        10 => EventKind::Mount {
            source: cstr(b, s1, PATH)?,
            target: cstr(b, s2, PATH)?,
            fstype: cstr(b, fstype, 32)?,
            flags: arg(0)?,
        },
        11 => EventKind::Ptrace { request: arg(0)?, target_pid: arg(1)? as u32 },
        12 => EventKind::Bpf { cmd: arg(0)? as u32 },
        13 => EventKind::ModuleLoad { call: "init_module".into() },
        14 => EventKind::ModuleLoad { call: "finit_module".into() },
        15 => {
            let path = cstr(b, s1, PATH)?;
            EventKind::SetuidChmod { path: (!path.is_empty()).then_some(path), mode: arg(0)? as u32 }
        }
        16 => EventKind::Namespaces {
            call: "clone".into(),
            namespaces: namespaces(arg(0)?),
            flags: arg(0)?,
            cap_permitted: arg(1)?,
        },
        17 | 18 => {
            let at = if arg(0)? == 1 { "at" } else { "" };
            // A relative new name comes with its directory, as a rename's (str2 from RENAME_DIR_AT on).
            let how = arg(1)?;
            let path = resolved(cstr(b, s2, PATH)?, s2 + RENAME_DIR_AT, PATH - RENAME_DIR_AT)?;
            EventKind::Link {
                call: format!("{}{at}", if op == 17 { "symlink" } else { "link" }),
                target: cstr(b, s1, PATH)?,
                dirfd: how & PATH_DIRFD != 0,
                path,
                sensitive: arg(2)? != 0,
            }
        }
        19 => {
            // A relative new name comes with its directory (rebuilt in str2 from RENAME_DIR_AT on), which is the
            // old name's too when both were given relative to the same one.
            let (from, to, how) = (cstr(b, s1, PATH)?, cstr(b, s2, PATH)?, arg(1)?);
            let (at, room) = (s2 + RENAME_DIR_AT, PATH - RENAME_DIR_AT);
            let from = if how & PATH_FROM_SAME_DIR != 0 { resolved(from, at, room)? } else { from };
            let to = resolved(to, at, room)?;
            EventKind::Rename {
                call: match arg(0)? {
                    0 => "rename",
                    1 => "renameat",
                    _ => "renameat2",
                }
                .into(),
                from,
                to,
                to_dirfd: how & PATH_DIRFD != 0,
            }
        }
        20 => {
            let (path, dirfd) = given_path()?;
            EventKind::Mkdir {
                call: if arg(0)? == 1 { "mkdirat" } else { "mkdir" }.into(),
                path,
                dirfd,
                mode: arg(2)? as u32,
            }
        }
        21 => EventKind::Userfaultfd { flags: arg(0)? as u32 },
        22 => {
            let (call, flags) = (arg(0)?, arg(2)?);
            let (path, dirfd) = given_path()?;
            EventKind::Unlink {
                call: match call {
                    0 => "unlink",
                    1 => "unlinkat",
                    2 => "rmdir",
                    other => return Err(format!("unknown unlink call {other}")),
                }
                .into(),
                path,
                dirfd,
                dir: call == 2 || flags & AT_REMOVEDIR != 0,
            }
        }
        23 => match arg(0)? & 0xffff {
            // ftruncate: the file's own path, rebuilt, and its size before.
            1 => EventKind::Truncate {
                call: "ftruncate".into(),
                path: rebuilt_str1()?,
                size_before: Some(arg(1)?),
                length: arg(2)?,
            },
            // truncate: the path as given, as an unlink's.
            2 => {
                let (path, _) = given_path()?;
                EventKind::Truncate { call: "truncate".into(), path, size_before: None, length: arg(2)? }
            }
            other => return Err(format!("unknown truncate call {other}")),
        },
        24 => {
            let a0 = arg(0)?;
            let bits = (a0 >> 8) & 0xff;
            EventKind::Mmap {
                path: rebuilt_str1()?,
                prot: (a0 & 0xff) as u32,
                memfd: bits & MMAP_MEMFD != 0,
                deleted: bits & MMAP_DELETED != 0,
                file: mapped_inode()?,
            }
        }
        25 => {
            let a0 = arg(0)?;
            let call = match (a0 >> 8) & 0xf {
                1 => "mmap",
                2 => "mprotect",
                3 => "pkey_mprotect",
                other => return Err(format!("unknown call {other} making memory executable")),
            };
            let region = match (a0 >> 12) & 0xf {
                0 => "unknown",
                1 => "anonymous",
                2 => "heap",
                3 => "stack",
                4 => "file",
                other => return Err(format!("unknown kind of memory {other}")),
            };
            let path = (region == "file").then(rebuilt_str1).transpose()?;
            EventKind::ExecMemory {
                call: call.into(),
                prot: (a0 & 0xff) as u32,
                region: region.into(),
                length: (a0 >> 32) << 12,
                path,
                file: mapped_inode()?,
            }
        }
        other => return Err(format!("unknown privileged operation {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u32) -> Vec<u8> {
        let mut b = vec![0u8; HEADER];
        b[0..4].copy_from_slice(&kind.to_ne_bytes());
        b[4..8].copy_from_slice(&42u32.to_ne_bytes());
        b[8..12].copy_from_slice(&43u32.to_ne_bytes());
        b[12..16].copy_from_slice(&33u32.to_ne_bytes());
        b[16..24].copy_from_slice(&7u64.to_ne_bytes());
        b[24..32].copy_from_slice(&99u64.to_ne_bytes());
        b[32..34].copy_from_slice(b"sh");
        b
    }

    /// An open judged at entry: the path as given, then its directory (components last first).
    fn open_at_entry(given: &str, base: &[u8], truncated: bool) -> Vec<u8> {
        let mut b = header(KIND_OPEN);
        b.extend_from_slice(&(OPEN_RESOLVED | OPEN_AT_ENTRY).to_ne_bytes());
        b.extend_from_slice(&(given.len() as u32 + 1).to_ne_bytes());
        let mut path = given.as_bytes().to_vec();
        path.resize(PATH, 0);
        b.extend_from_slice(&path);
        b.extend_from_slice(&(base.len() as u32).to_ne_bytes());
        b.extend_from_slice(&[0; 4]);
        let mut dir = base.to_vec();
        dir.resize(if truncated { base.len() / 2 } else { PATH }, 0);
        b.extend_from_slice(&dir);
        b
    }

    #[test]
    fn opens_judged_at_entry_are_resolved_against_their_directory() {
        let path = |b: &[u8]| match decode(b) {
            Ok(Record::ResolvedOpen { raw: Raw { kind: EventKind::Open { path, flags }, .. }, at_entry }) => {
                assert_eq!(flags, 0);
                assert!(at_entry);
                Ok(path)
            }
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(path(&open_at_entry("shadow", b"etc\0", false)).unwrap(), "/etc/shadow");
        assert_eq!(path(&open_at_entry("../../../etc/shadow", b"html\0www\0var\0", false)).unwrap(), "/etc/shadow");
        assert_eq!(path(&open_at_entry("x/./shadow", b"", false)).unwrap(), "/x/shadow");
        assert_eq!(path(&open_at_entry("/tmp/..//etc/shadow", b"", false)).unwrap(), "/etc/shadow");
        assert!(path(&open_at_entry("shadow", b"etc\0", true)).unwrap_err().contains("shorter than its directory"));
    }

    #[test]
    fn records() {
        let mut b = header(KIND_CONNECT);
        b.extend_from_slice(&2u16.to_ne_bytes());
        b.extend_from_slice(&3333u16.to_ne_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&[10, 0, 0, 1]);
        b.extend_from_slice(&[0; 12 + 108]);
        let Record::Event(r) = decode(&b).unwrap() else { panic!() };
        assert_eq!(
            (r.header.pid, r.header.tid, r.header.euid, r.header.cgroup_id, r.header.comm.as_str()),
            (42, 43, 33, 99, "sh")
        );
        assert_eq!(
            r.kind,
            EventKind::Connect {
                to: SockAddr { family: "inet".into(), addr: "10.0.0.1".into(), port: 3333, proto: None }
            }
        );

        // A packet socket for every frame: htons(ETH_P_ALL) as socket(2) takes it.
        let mut b = header(KIND_SOCKET);
        b.extend_from_slice(&17u16.to_ne_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&[3, 0]);
        b.extend_from_slice(&(3u16.to_be() as u32).to_ne_bytes());
        b.extend_from_slice(&[0; 12 + 108]);
        let Record::Event(r) = decode(&b).unwrap() else { panic!() };
        assert_eq!(r.kind, EventKind::Socket { family: "packet".into(), sock_type: "raw".into(), protocol: 3 });

        // A datagram sent with sendmsg (the call in local_port's place) on a UDP socket (type 2, protocol 17).
        let mut b = header(KIND_SEND);
        b.extend_from_slice(&2u16.to_ne_bytes());
        b.extend_from_slice(&53u16.to_ne_bytes());
        b.extend_from_slice(&2u16.to_ne_bytes());
        b.extend_from_slice(&[2, 17]);
        b.extend_from_slice(&[9, 9, 9, 9]);
        b.extend_from_slice(&[0; 12 + 108]);
        let Record::Event(r) = decode(&b).unwrap() else { panic!() };
        assert_eq!(
            r.kind,
            EventKind::Send {
                call: "sendmsg".into(),
                to: SockAddr { family: "inet".into(), addr: "9.9.9.9".into(), port: 53, proto: Some(L4Proto::Udp) }
            }
        );

        // A DNS question to 10.0.0.53: the datagram after the connect layout; one cut short says nothing of its name.
        let dns_on = |kind: [u8; 2], datagram: &[u8], len: u16| {
            let mut b = header(KIND_DNS);
            b.extend_from_slice(&2u16.to_ne_bytes());
            b.extend_from_slice(&53u16.to_ne_bytes());
            b.extend_from_slice(&[0, 0, kind[0], kind[1]]);
            b.extend_from_slice(&[10, 0, 0, 53]);
            b.extend_from_slice(&[0; 12 + 108 + 4]);
            b.extend_from_slice(&len.to_ne_bytes());
            let mut data = datagram.to_vec();
            data.resize(DNS_LEN, 0);
            b.extend_from_slice(&data);
            decode(&b)
        };
        let dns = |datagram: &[u8], len: u16| dns_on([2, 17], datagram, len);
        let q =
            [&[0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'x', 7][..], b"example", &[3], b"net", &[0, 0, 16, 0, 1]]
                .concat();
        let Record::Event(r) = dns(&q, q.len() as u16).unwrap() else { panic!() };
        let server = SockAddr { family: "inet".into(), addr: "10.0.0.53".into(), port: 53, proto: Some(L4Proto::Udp) };
        assert_eq!(r.kind, EventKind::Dns { to: server.clone(), name: "x.example.net".into(), qtype: "TXT".into() });
        let Record::Event(r) = dns(&q, 20).unwrap() else { panic!() };
        assert_eq!(r.kind, EventKind::Dns { to: server.clone(), name: String::new(), qtype: String::new() });
        // A length past the record is held to it.
        let Record::Event(r) = dns(&q, u16::MAX).unwrap() else { panic!() };
        assert_eq!(r.kind, EventKind::Dns { to: server.clone(), name: "x.example.net".into(), qtype: "TXT".into() });
        // Over TCP (a stream socket, protocol 6) the message follows its 2-byte length; a write of the length alone
        // says nothing.
        let tcp = SockAddr { proto: Some(L4Proto::Tcp), ..server };
        let framed = [&(q.len() as u16).to_be_bytes()[..], &q].concat();
        let Record::Event(r) = dns_on([1, 6], &framed, framed.len() as u16).unwrap() else { panic!() };
        assert_eq!(r.kind, EventKind::Dns { to: tcp.clone(), name: "x.example.net".into(), qtype: "TXT".into() });
        let Record::Event(r) = dns_on([1, 6], &framed, 2).unwrap() else { panic!() };
        assert_eq!(r.kind, EventKind::Dns { to: tcp.clone(), name: String::new(), qtype: String::new() });
        // The message written after its length, in a write of its own.
        let Record::Event(r) = dns_on([1, 6], &q, q.len() as u16).unwrap() else { panic!() };
        assert_eq!(r.kind, EventKind::Dns { to: tcp, name: "x.example.net".into(), qtype: "TXT".into() });

        // dup2 made a TCP connection to 10.0.0.9:4444 (from local port 40000) the standard output.
        let mut b = header(KIND_DUP);
        b.extend_from_slice(&2u16.to_ne_bytes());
        b.extend_from_slice(&4444u16.to_ne_bytes());
        b.extend_from_slice(&40000u16.to_ne_bytes());
        b.extend_from_slice(&[1, 6]);
        b.extend_from_slice(&[10, 0, 0, 9]);
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&[2, 1]);
        b.extend_from_slice(&[0; 106]);
        let Record::Event(r) = decode(&b).unwrap() else { panic!() };
        assert_eq!(
            r.kind,
            EventKind::Dup {
                call: "dup2".into(),
                fd: 1,
                peer: SockAddr {
                    family: "inet".into(),
                    addr: "10.0.0.9".into(),
                    port: 4444,
                    proto: Some(L4Proto::Tcp)
                },
                local_port: Some(40000),
            }
        );

        let mut b = header(KIND_EXEC);
        b.extend_from_slice(&[0; EXEC_TAIL + 32]);
        b[HEADER..HEADER + 4].copy_from_slice(&1u32.to_ne_bytes());
        b[HEADER + 28..HEADER + 32].copy_from_slice(&11u32.to_ne_bytes());
        b[HEADER + 36..HEADER + 40].copy_from_slice(&0x8802u32.to_ne_bytes());
        b[HEADER + 40..HEADER + 48].copy_from_slice(&0x20_0000u64.to_ne_bytes());
        b[HEADER + 32..HEADER + 36].copy_from_slice(
            &(EXEC_FROM_MEMFD | EXEC_ARGS_TRUNCATED | EXEC_CWD_KNOWN | EXEC_ENV_TRUNCATED).to_ne_bytes(),
        );
        // A cut environment: its last entry's value (cut too) is not kept, nor is a value not in the list.
        let env_at = HEADER + EXEC_EXE + PATH + ARGS + COMM + PATH;
        let env = b"A=secret\0LD_PRELOAD=/tmp/x.so\0\0PATH=/usr/b";
        b[env_at..env_at + 4].copy_from_slice(&(env.len() as u32).to_ne_bytes());
        b[env_at + 8..env_at + 8 + env.len()].copy_from_slice(env);
        b[env_at + 4..env_at + 8].copy_from_slice(&7u32.to_ne_bytes());
        b[HEADER + 52..HEADER + 56].copy_from_slice(&9u32.to_ne_bytes());
        let cwd_at = HEADER + EXEC_EXE + PATH + ARGS + COMM;
        b[cwd_at..cwd_at + 9].copy_from_slice(b"shm\0dev\0\0");
        b[HEADER + 48..HEADER + 52].copy_from_slice(&1000u32.to_ne_bytes());
        b[HEADER + EXEC_EXE..HEADER + EXEC_EXE + 8].copy_from_slice(b"/bin/ls\0");
        let args_at = HEADER + EXEC_EXE + PATH;
        b[args_at..args_at + 11].copy_from_slice(b"ls\0-l\0/tmp\0");
        let tail = HEADER + EXEC_TAIL;
        b[tail..tail + 4].copy_from_slice(&5u32.to_ne_bytes());
        b[tail + 4..tail + 8].copy_from_slice(&77u32.to_ne_bytes());
        b[tail + 8..tail + 16].copy_from_slice(&12345u64.to_ne_bytes());
        b[tail + 16..tail + 24].copy_from_slice(&1_700_000_000_000_000_001u64.to_ne_bytes());
        b[tail + 24..tail + 32].copy_from_slice(&1_600_000_000_000_000_002u64.to_ne_bytes());
        let Record::Event(r) = decode(&b).unwrap() else { panic!() };
        let EventKind::Exec { egid, sid, exe_file, .. } = &r.kind else { panic!() };
        let file = ExeFile { ino: 12345, ctime_ns: 1_700_000_000_000_000_001, mtime_ns: 1_600_000_000_000_000_002 };
        assert_eq!((*egid, *sid, exe_file.as_deref()), (Some(5), 77, Some(&file)));
        let EventKind::Exec {
            exe,
            argv,
            ppid,
            tty,
            cap_permitted,
            loginuid,
            exe_from_memfd,
            argv_truncated,
            cwd,
            env,
            vpid,
            ..
        } = r.kind
        else {
            panic!()
        };
        assert_eq!(env, ["A", "LD_PRELOAD=/tmp/x.so", "PATH"]);
        assert_eq!(cwd, "/dev/shm");
        assert_eq!(vpid, 7);
        assert_eq!((exe.as_str(), ppid, tty, cap_permitted, loginuid), ("/bin/ls", 1, 0x8802, 0x20_0000, 1000));
        assert!(exe_from_memfd && argv_truncated);
        assert_eq!(argv, ["ls", "-l", "/tmp"]);
    }

    #[test]
    fn privileged_records() {
        let rec = |op: u32, args: [u64; 3], s1: &[u8]| {
            let mut b = header(KIND_PRIV);
            b.extend_from_slice(&op.to_ne_bytes());
            b.extend_from_slice(&[0; 4]);
            for a in args {
                b.extend_from_slice(&a.to_ne_bytes());
            }
            let mut s = s1.to_vec();
            s.resize(PATH, 0);
            b.extend_from_slice(&s);
            b.extend_from_slice(&[0; PATH + 32]);
            b
        };
        let Record::Event(r) = decode(&rec(5, [0, u32::MAX as u64, 0], b"")).unwrap() else { panic!() };
        assert_eq!(r.kind, EventKind::SetIds { call: "setresuid".into(), ids: vec![0, -1, 0], names: Vec::new() });
        let Record::Event(r) = decode(&rec(8, [0x1000_0000 | 0x0002_0000, 0x20_0000, 0], b"")).unwrap() else {
            panic!()
        };
        assert_eq!(
            r.kind,
            EventKind::Namespaces {
                call: "unshare".into(),
                namespaces: vec!["mnt".into(), "user".into()],
                flags: 0x1002_0000,
                cap_permitted: 0x20_0000,
            }
        );
        let Record::Event(r) = decode(&rec(15, [0o4755, 0, 0], b"/tmp/x")).unwrap() else { panic!() };
        assert_eq!(r.kind, EventKind::SetuidChmod { path: Some("/tmp/x".into()), mode: 0o4755 });
        assert!(decode(&rec(99, [0; 3], b"")).is_err());
        // A link: the target in the first string, the new name in the second; args[2] says the target is
        // sensitive, args[1] how the name was given and the length of its directory, rebuilt after RENAME_DIR_AT.
        let mut b = rec(17, [1, 1, 1], b"/etc/shadow");
        let at = HEADER + 32 + PATH;
        b[at..at + 6].copy_from_slice(b"notes\0");
        let Record::Event(r) = decode(&b).unwrap() else { panic!() };
        let link = |call: &str, target: &str, path: &str, dirfd, sensitive| EventKind::Link {
            call: call.into(),
            target: target.into(),
            path: path.into(),
            dirfd,
            sensitive,
        };
        assert_eq!(r.kind, link("symlinkat", "/etc/shadow", "notes", true, true));
        let Record::Event(r) = decode(&rec(18, [0, 0, 1], b"/etc/sudoers")).unwrap() else { panic!() };
        assert_eq!(r.kind, link("link", "/etc/sudoers", "", false, true));
        let mut b = rec(17, [1, 2 | (14 << 16), 0], b"/tmp/x");
        b[at..at + 3].copy_from_slice(b"ls\0");
        b[at + RENAME_DIR_AT..at + RENAME_DIR_AT + 14].copy_from_slice(b"bin\0local\0usr\0");
        let Record::Event(r) = decode(&b).unwrap() else { panic!() };
        assert_eq!(r.kind, link("symlinkat", "/tmp/x", "/usr/local/bin/ls", false, false));
        let Record::Event(r) = decode(&rec(20, [1, 1, 0o700], b"kit")).unwrap() else { panic!() };
        assert_eq!(r.kind, EventKind::Mkdir { call: "mkdirat".into(), path: "kit".into(), dirfd: true, mode: 0o700 });
        // A relative path with the directory the kernel rebuilt for it (last component first): joined.
        let mut b = rec(20, [1, 1 | 2 | (8 << 16), 0o700], b"../kit");
        let at = HEADER + 32 + PATH;
        b[at..at + 8].copy_from_slice(b"bin\0usr\0");
        let Record::Event(r) = decode(&b).unwrap() else { panic!() };
        assert_eq!(
            r.kind,
            EventKind::Mkdir { call: "mkdirat".into(), path: "/usr/kit".into(), dirfd: true, mode: 0o700 }
        );
        let mut b = rec(22, [1, 1 | 2 | (8 << 16), 0], b"ls");
        b[at..at + 8].copy_from_slice(b"bin\0usr\0");
        let Record::Event(r) = decode(&b).unwrap() else { panic!() };
        assert!(matches!(&r.kind, EventKind::Unlink { path, dirfd: true, .. } if path == "/usr/bin/ls"), "{r:?}");
        // A rename: the new name's directory after it in the second string; the old name joined to it only when
        // given relative to the same directory.
        for (how, from) in [(2 | 4, "/usr/bin/x.tmp"), (2, "x.tmp")] {
            let mut b = rec(19, [2, how | (8 << 16), 0], b"x.tmp");
            let at = HEADER + 32 + PATH;
            b[at..at + 2].copy_from_slice(b"x\0");
            b[at + 64..at + 72].copy_from_slice(b"bin\0usr\0");
            let Record::Event(r) = decode(&b).unwrap() else { panic!() };
            let want = EventKind::Rename {
                call: "renameat2".into(),
                from: from.into(),
                to: "/usr/bin/x".into(),
                to_dirfd: false,
            };
            assert_eq!(r.kind, want);
        }
        let Record::Event(r) = decode(&rec(21, [1, 0, 0], b"")).unwrap() else { panic!() };
        assert_eq!(r.kind, EventKind::Userfaultfd { flags: 1 });
        // Removals: unlinkat's AT_REMOVEDIR and rmdir remove directories; an unknown call is an error.
        let unlink =
            |call: &str, path: &str, dirfd, dir| EventKind::Unlink { call: call.into(), path: path.into(), dirfd, dir };
        let Record::Event(r) = decode(&rec(22, [0, 0, 0], b"/root/.bash_history")).unwrap() else { panic!() };
        assert_eq!(r.kind, unlink("unlink", "/root/.bash_history", false, false));
        let Record::Event(r) = decode(&rec(22, [1, 1, 0x200], b"cache")).unwrap() else { panic!() };
        assert_eq!(r.kind, unlink("unlinkat", "cache", true, true));
        let Record::Event(r) = decode(&rec(22, [2, 0, 0], b"/var/log/app")).unwrap() else { panic!() };
        assert_eq!(r.kind, unlink("rmdir", "/var/log/app", false, true));
        assert!(decode(&rec(22, [3, 0, 0], b"x")).unwrap_err().contains("unknown unlink call 3"));
        // Truncations: ftruncate's path rebuilt (its length in args[0] bits 16–31) with the size before;
        // truncate's as given, a relative one joined to its directory; an unknown call is an error.
        let Record::Event(r) = decode(&rec(23, [1 | (21 << 16), 4096, 0], b"auth.log\0log\0var\0")).unwrap() else {
            panic!()
        };
        let want = |call: &str, path: &str, size_before, length| EventKind::Truncate {
            call: call.into(),
            path: path.into(),
            size_before,
            length,
        };
        assert_eq!(r.kind, want("ftruncate", "/var/log/auth.log", Some(4096), 0));
        let mut b = rec(23, [2, 2 | (5 << 16), 7], b".bash_history");
        b[at..at + 5].copy_from_slice(b"root\0");
        let Record::Event(r) = decode(&b).unwrap() else { panic!() };
        assert_eq!(r.kind, want("truncate", "/root/.bash_history", None, 7));
        assert!(decode(&rec(23, [9, 0, 0], b"x")).unwrap_err().contains("unknown truncate call 9"));
        // Executable mappings: the path rebuilt (its length in args[0] bits 16–31), the protection in bits 0–7,
        // memfd and deleted in bits 8–15, the inode's number and ctime; a path longer than the field is cut.
        let path = b"libc.so.6\0x86_64-linux-gnu\0lib\0usr\0";
        let a0 = 5 | ((path.len() as u64) << 16);
        let Record::Event(r) = decode(&rec(24, [a0, 77, 1_700_000_000_000_000_001], path)).unwrap() else { panic!() };
        let file = Some(Box::new(ExeFile { ino: 77, ctime_ns: 1_700_000_000_000_000_001, mtime_ns: 0 }));
        let mmap =
            |path: &str, memfd, deleted, file| EventKind::Mmap { path: path.into(), prot: 5, memfd, deleted, file };
        assert_eq!(r.kind, mmap("/usr/lib/x86_64-linux-gnu/libc.so.6", false, false, file));
        let a0 = 5 | (3 << 8) | (9 << 16);
        let Record::Event(r) = decode(&rec(24, [a0, 0, 0], b"memfd:x\0")).unwrap() else { panic!() };
        assert_eq!(r.kind, mmap("/memfd:x", true, true, None));
        let Record::Event(r) = decode(&rec(24, [4 | (0xffff << 16), 1, 2], b"x.so\0tmp\0")).unwrap() else { panic!() };
        assert!(matches!(&r.kind, EventKind::Mmap { path, prot: 4, .. } if path == "/tmp/x.so"), "{r:?}");
        // Memory made executable: the call in args[0] bits 8–11, the memory in 12–15, the pages in 32–63; a
        // file's path only for a file's memory.
        let Record::Event(r) = decode(&rec(25, [7 | (1 << 8) | (1 << 12) | (2 << 32), 0, 0], b"")).unwrap() else {
            panic!()
        };
        let mem = |call: &str, prot, region: &str, length, path: Option<&str>, file| EventKind::ExecMemory {
            call: call.into(),
            prot,
            region: region.into(),
            length,
            path: path.map(Into::into),
            file,
        };
        assert_eq!(r.kind, mem("mmap", 7, "anonymous", 8192, None, None));
        let a0 = 5 | (2 << 8) | (2 << 12) | (1 << 32);
        let Record::Event(r) = decode(&rec(25, [a0, 0, 0], b"")).unwrap() else { panic!() };
        assert_eq!(r.kind, mem("mprotect", 5, "heap", 4096, None, None));
        let a0 = 5 | (3 << 8) | (4 << 12) | ((path.len() as u64) << 16) | (3 << 32);
        let Record::Event(r) = decode(&rec(25, [a0, 77, 9], path)).unwrap() else { panic!() };
        let file = Some(Box::new(ExeFile { ino: 77, ctime_ns: 9, mtime_ns: 0 }));
        let want = mem("pkey_mprotect", 5, "file", 12288, Some("/usr/lib/x86_64-linux-gnu/libc.so.6"), file);
        assert_eq!(r.kind, want);
        assert!(decode(&rec(25, [4 | (9 << 8) | (1 << 12), 0, 0], b"")).unwrap_err().contains("unknown call 9"));
        assert!(decode(&rec(25, [4 | (1 << 8) | (7 << 12), 0, 0], b"")).unwrap_err().contains("kind of memory 7"));
        // A record cut inside its path is an error, not a shorter path.
        let cut = rec(24, [5 | (40 << 16), 1, 2], b"x.so\0tmp\0");
        assert!(decode(&cut[..HEADER + 32 + 20]).unwrap_err().contains("shorter than its path"));
    }

    #[test]
    fn cgroup_records() {
        let mut b = header(KIND_CGROUP);
        b.extend_from_slice(&1234u64.to_ne_bytes());
        let mut path = b"/kestrel-lab/web".to_vec();
        path.resize(PATH, 0);
        b.extend_from_slice(&path);
        assert_eq!(decode(&b).unwrap(), Record::Cgroup { id: 1234, path: "/kestrel-lab/web".into() });
    }

    #[test]
    fn fork_records() {
        let mut b = header(KIND_FORK);
        b.extend_from_slice(&4321u32.to_ne_bytes());
        b.extend_from_slice(&1234u32.to_ne_bytes());
        assert_eq!(decode(&b).unwrap(), Record::Fork { pid: 4321, ppid: 1234 });
        assert!(decode(&b[..b.len() - 2]).is_err());
    }

    #[test]
    fn bad_records_are_errors() {
        assert!(decode(&[1, 2, 3]).is_err());
        assert!(decode(&header(99)).unwrap_err().contains("unknown record kind"));
        assert!(decode(&header(KIND_EXEC)).is_err());
    }
}
