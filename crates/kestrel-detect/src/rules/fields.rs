//! Falco's event fields, read from kestrel's [`Event`] and a small process table.
//!
//! Where kestrel's events differ from Falco's, the difference is stated here once:
//! - kestrel reports opens, connects and privileged calls when they are *attempted* (system-call entry);
//!   `evt.res`, `evt.rawres` and `fd.num` read as success (`SUCCESS`, 0, 0) for them. Execs are reported
//!   only when they succeed.
//! - `proc.is_exe_upper_layer` is true when the executable was opened for writing inside the same
//!   container while kestrel watched (the overlay's upper layer holds exactly the files written at run time,
//!   but kestrel cannot see writes made before it started).
//! - `user.uid` is the effective uid, as Falco's: each event carries the thread's, read by the probe, so it
//!   follows set*id calls (an `accept` carries its listener's, as at `listen()`); a set*id call's own event is
//!   read at entry, before the change (Falco's exit event reads it after). `user.name` names it from the
//!   process's own `/etc/passwd` (a container's, read by the sensor): at exec, or for a switched-to user the
//!   name the sensor read for the set*id call; `root` for 0 and `<NA>` for an unnamed id, as Falco.
//!   `group.gid`/`group.name` are the effective gid at exec: they do not follow set*gid calls.
//! - `proc.name` (and `proc.aname[0]`) is the name the process had at its exec, or its parent's for a fork not
//!   seen exec'ing, as Falco's thread table keeps it: a later `prctl(PR_SET_NAME)` does not rename it. A process
//!   never seen exec'ing (the runtime's init, one older than the sensor) is named as its event names it.
//!   `kestrel.runtime_setup` is true on a thread with a runtime's name (`runc:[…]`, `crun`, …) — or runc's init
//!   re-executed as `exe`, its parent the runc or crun binary — never seen executing a program of its container
//!   nor forked from one that did.
//! - `proc.sname` is the comm of the process whose pid is the session id (or of a parent known only by the
//!   name its child's exec gave), else of the eldest ancestor in the same session; `proc.exe_ino.*` is the
//!   program file's inode as it was at exec.
//! - `proc.cwd` is the working directory at the process's exec (a later `chdir` is not seen); a rename's
//!   relative new name is joined to it for `fd.name` and for the files written.
//! - `fd.connected` is true for connects (attempted, as above) and accepts, false for binds;
//!   `fd.name_changed` is true only for a `sendto`/`sendmsg`/`sendmmsg` event, which the sensor reports
//!   when the process sends to a peer it has not sent to in the last 10 s (Falco: when the socket's peer
//!   changed), so the UDP branch of Falco's `outbound` macro matches a datagram to a new peer.
//! - a `dup`/`dup2`/`dup3` event is reported only when the call makes descriptor 0, 1 or 2 a TCP or UDP socket
//!   (judged at entry: dup2/dup3's new descriptor, dup's lowest free one); `evt.rawres` is that descriptor and
//!   the fd.* fields are the socket's (its peer: `fd.rip`/`fd.rport`, its local port: `fd.lport`). An `fcntl`
//!   event is only an `F_DUPFD` doing the same; no other fcntl is reported.
//! - `fd.name` of a `mkdir`/`mkdirat` event is the directory made (Falco has no fd there), its relative path
//!   joined like a rename's; so is `evt.arg.path`.
//! - `fd.name` of a link event (`symlink`, `symlinkat`, `link`, `linkat`) is the new name (Falco has no fd there),
//!   joined to its directory as the sensor rebuilt it or to the working directory; `evt.arg.linkpath`/`newpath`
//!   is the same name as the event carries it; `evt.arg.sensitive` (kestrel's own) says whether the sensor
//!   found the target sensitive.
//! - `container.id` is the first 12 characters of the id, `host` outside containers, as in Falco.
//! - `fd.sip.name`/`fd.rip.name`/`fd.cip.name` are, as in Falco, the names the rules compare them with
//!   that resolve to the address (resolved at start and every minute, see [`crate::rules::names`]); any
//!   other address reads as missing.
//! - `proc.env` is the environment at exec, its variables joined by spaces as in Falco, but with values only
//!   for those in [`kestrel_core::ENV_VALUES_KEPT`] (`LD_PRELOAD`, `GLIBC_TUNABLES`, `PATH`, the proxies…):
//!   the sensor keeps no other value. On an exec event every name is there; on a later event of the
//!   process, only the variables with kept values (the process table holds no more).
//! - `container.mount.dest[X]` and `container.mounts` come from the bind mounts the container runtime's init
//!   (`runc:[2:INIT]`, `crun`) makes while it starts the container, as the sensor reports them: `X` is a
//!   numeric index or a glob on the mount's source, as in Falco. runc names each destination through a
//!   descriptor (`/proc/self/fd/N`), so the destination reads `(not known)` then; a container whose start kestrel
//!   did not see has no mounts (`N/A`, Falco's value for no such mount).

use kestrel_core::{normalize_path, Event, EventKind, SockAddr};
use rustc_hash::{FxHashMap, FxHashSet};
use std::borrow::Cow;
use std::collections::VecDeque;

/// A field's value for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// The field does not apply to this event, or kestrel does not know it.
    Missing,
    /// A string.
    Str(Cow<'a, str>),
    /// A number.
    Num(i64),
    /// A boolean.
    Bool(bool),
    /// Several strings (`proc.aname` without an index; capability sets).
    Strs(Vec<Cow<'a, str>>),
}

/// What kind of value a field holds, for checking the right-hand side at load time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Strings.
    Str,
    /// Numbers.
    Num,
    /// Booleans.
    Bool,
    /// Several strings.
    Strs,
    /// An IP address compared with networks (`fd.net = 127.0.0.0/8`).
    Net,
}

/// A bound field: which one, and its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `evt.type`.
    EvtType,
    /// `evt.num`.
    EvtNum,
    /// `evt.dir`.
    EvtDir,
    /// `evt.time` or `evt.rawtime`.
    EvtTime,
    /// `evt.res`.
    EvtRes,
    /// `evt.rawres`.
    EvtRawres,
    /// `evt.is_open_read`.
    EvtIsOpenRead,
    /// `evt.is_open_write`.
    EvtIsOpenWrite,
    /// `evt.is_open_exec`.
    EvtIsOpenExec,
    /// `evt.arg.NAME` or `evt.arg[NAME]`: one argument of the call.
    EvtArg(String),
    /// `evt.args`.
    EvtArgs,
    /// `proc.name`.
    ProcName,
    /// `proc.exe`.
    ProcExe,
    /// `proc.exepath`.
    ProcExepath,
    /// `proc.cmdline`.
    ProcCmdline,
    /// `proc.args`.
    ProcArgs,
    /// `proc.cmdnargs`.
    ProcCmdnargs,
    /// `proc.pid`.
    ProcPid,
    /// `proc.vpid`: the pid in the process's own pid namespace.
    ProcVpid,
    /// `proc.ppid`.
    ProcPpid,
    /// `proc.pname`.
    ProcPname,
    /// `proc.pexe`.
    ProcPexe,
    /// `proc.pexepath`.
    ProcPexepath,
    /// `proc.pcmdline`.
    ProcPcmdline,
    /// `proc.aname[N]` (N ≥ 1; 0 is the process itself); `None`: any ancestor.
    ProcAname(Option<usize>),
    /// `proc.aexe[N]` (argv\[0\] of the ancestor) and `proc.aexepath[N]` (its executable path); `None`: any.
    ProcAexe(Option<usize>, bool),
    /// `proc.apid[N]`: the pid of the N-th ancestor; `None`: any.
    ProcApid(Option<usize>),
    /// `proc.is_exe_upper_layer`.
    ProcIsExeUpperLayer,
    /// `thread.tid` or `thread.vtid`.
    ThreadTid,
    /// `thread.cap_effective`.
    ThreadCapEffective,
    /// `thread.cap_permitted`.
    ThreadCapPermitted,
    /// `proc.tty`.
    ProcTty,
    /// `proc.is_exe_from_memfd`.
    ProcIsExeFromMemfd,
    /// `proc.is_vpgid_leader` or `proc.is_pgid_leader`.
    ProcIsPgrpLeader,
    /// `proc.duration`.
    ProcDuration,
    /// `proc.cwd`.
    ProcCwd,
    /// `fd.sip.name`, `fd.rip.name`, `fd.cip.name`: the rules' names that resolve to that address.
    FdNameOf(Box<Field>),
    /// `proc.env`, or `proc.env[NAME]`: one variable's value.
    ProcEnv(Option<String>),
    /// `user.loginuid`.
    UserLoginuid,
    /// `fd.nameraw`.
    FdNameraw,
    /// `user.uid`.
    UserUid,
    /// `user.name`.
    UserName,
    /// `group.gid`.
    GroupGid,
    /// `group.name`.
    GroupName,
    /// `user.loginname`: the name of `user.loginuid`.
    UserLoginname,
    /// `proc.sid`: the session leader's pid.
    ProcSid,
    /// `proc.sname`: the session leader's name.
    ProcSname,
    /// `proc.exe_ino`: the program file's inode number.
    ProcExeIno,
    /// `proc.exe_ino.ctime`: its inode's last status change (ns since the epoch).
    ProcExeInoCtime,
    /// `proc.exe_ino.mtime`: its last modification (ns since the epoch).
    ProcExeInoMtime,
    /// `proc.exe_ino.ctime_duration_proc_start`: from that change to the process's start (ns).
    ProcExeInoCtimeDurationProcStart,
    /// `container.start_ts`: when the runtime created the container (ns since the epoch).
    ContainerStartTs,
    /// `container.duration`: from then to the event (ns).
    ContainerDuration,
    /// `fd.name`.
    FdName,
    /// `fd.directory`.
    FdDirectory,
    /// `fd.filename`.
    FdFilename,
    /// `fd.typechar`.
    FdTypechar,
    /// `fd.type`.
    FdType,
    /// `fd.num`.
    FdNum,
    /// `fd.sockfamily`.
    FdSockfamily,
    /// `fd.rip`: the remote end's address (a connect's destination, an accept's client).
    FdRip,
    /// `fd.sip`: the server's address (a connect's destination; an accept's is the local one, not reported).
    FdSip,
    /// `fd.rport`: the remote end's port (a connect's destination port, an accept's client port).
    FdRport,
    /// `fd.sport`: the server's port (a connect's destination port, the port an accept came in on).
    FdSport,
    /// `fd.lport`.
    FdLport,
    /// `fd.cip`.
    FdCip,
    /// `fd.ip`.
    FdIp,
    /// `fd.port`.
    FdPort,
    /// `fd.l4proto`.
    FdL4proto,
    /// `fd.connected`.
    FdConnected,
    /// `fd.name_changed`.
    FdNameChanged,
    /// `fd.net` (any end), `fd.snet`/`fd.rnet` (the server or remote end), `fd.cnet` (the client end).
    FdNet(NetEnd),
    /// `container.id`.
    ContainerId,
    /// `container.name`.
    ContainerName,
    /// `container.image`.
    ContainerImage,
    /// `container.image.repository`.
    ContainerImageRepository,
    /// `container.image.tag`.
    ContainerImageTag,
    /// `container.privileged`.
    ContainerPrivileged,
    /// `container.mount.dest[X]`: the destination of the mount whose source matches X (or the X-th mount).
    ContainerMountDest(String),
    /// `container.mounts`: `source:destination` of each mount, comma-separated.
    ContainerMounts,
    /// `k8s.ns.name`.
    K8sNsName,
    /// `k8s.pod.name`.
    K8sPodName,
    /// kestrel's own: the process made an outgoing connection (before or after its last exec), or its parent made
    /// one just before (within [`PARENT_PEER_NS`]); a resolver's query (UDP to port 53) is not a connection.
    KestrelConnected,
    /// kestrel's own: where that connection went (`addr:port`).
    KestrelPeer,
    /// kestrel's own: the thread is the container runtime getting its container ready (`State::runtime_setup`).
    KestrelRuntimeSetup,
    /// kestrel's own: the file `fd.name` names (an open's, a rename's destination, a library mapped…) was written
    /// in the same container while kestrel watched — opened for writing, renamed or linked into place — as
    /// `proc.is_exe_upper_layer` says of a program.
    KestrelFdWritten,
    /// kestrel's own: a DNS question's name (`dns` events), as sent.
    KestrelDnsName,
    /// kestrel's own: its record type (`A`, `AAAA`, `TXT`…).
    KestrelDnsType,
    /// kestrel's own: the zone the name lies in, in lower case (its registrable domain by the public-suffix list's
    /// ICANN rules: [`kestrel_core::dns_zone`]).
    KestrelDnsZone,
    /// kestrel's own: a label of the name holds data in an encoding — hex, base32, base64, raw bytes
    /// ([`kestrel_core::encoded_label`]): what a DNS tunnel's names look like.
    KestrelDnsEncoded,
    /// Whether an open's flags in Falco's spelling (`evt.arg.flags`) hold one of these names: the access modes
    /// by bit (`O_RDONLY`, `O_WRONLY`, `O_RDWR`) and the flags by mask. Not a field of the rule language: what
    /// `evt.arg.flags contains O_TRUNC` becomes for opens (see `plan`), without the names written out.
    OpenFlagsNamed {
        /// Bit `i` set: the access mode `ACCESS_MODES[i]` is one.
        modes: u8,
        /// The flags among them.
        bits: u32,
    },
}

/// Which end of a connection a network field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetEnd {
    /// Either end kestrel knows.
    Any,
    /// The server (for a connect, the destination).
    Server,
    /// The client (for an accept, the peer).
    Client,
    /// The remote end (for a connect, the destination; for an accept, the client).
    Remote,
}

/// Why a field cannot be bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// A field kestrel supports one edit away from `name` (a character left out, added or changed, or two swapped):
/// what a rule's typo most likely meant (`fd.nme` → `fd.name`). Tried by binding each neighbour, so it knows
/// every field `bind` does.
pub fn near(name: &str) -> Option<String> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz._0123456789";
    let b = name.as_bytes();
    if !name.is_ascii() || b.is_empty() || b.len() > 64 || name.contains('[') {
        return None;
    }
    let mut tried: Vec<Vec<u8>> = Vec::new();
    for i in 0..=b.len() {
        if i < b.len() {
            tried.push([&b[..i], &b[i + 1..]].concat());
        }
        if i + 1 < b.len() {
            let mut t = b.to_vec();
            t.swap(i, i + 1);
            tried.push(t);
        }
        for &c in CHARS {
            if i < b.len() && b[i] != c {
                let mut t = b.to_vec();
                t[i] = c;
                tried.push(t);
            }
            tried.push([&b[..i], &[c][..], &b[i..]].concat());
        }
    }
    tried
        .into_iter()
        .filter_map(|t| String::from_utf8(t).ok())
        .find(|t| t != name && !t.starts_with("evt.arg.") && Field::bind(t, None).is_ok())
}

impl Field {
    /// Binds a field name and argument.
    pub fn bind(name: &str, arg: Option<&str>) -> Result<Field, Unsupported> {
        use Field::*;
        let no_arg = |f: Field| if arg.is_none() { Ok(f) } else { Err(Unsupported(format!("{name}[…]"))) };
        let index = |a: Option<&str>| -> Result<Option<usize>, Unsupported> {
            a.map(|a| a.trim().parse::<usize>().map_err(|_| Unsupported(format!("{name}[{a}]")))).transpose()
        };
        if let Some(a) = name.strip_prefix("evt.arg.") {
            return Ok(EvtArg(a.to_string()));
        }
        match name {
            "evt.arg" => return arg.map(|a| EvtArg(a.to_string())).ok_or_else(|| Unsupported(name.into())),
            "proc.aname" => return Ok(ProcAname(index(arg)?)),
            "proc.aexe" => return Ok(ProcAexe(index(arg)?, false)),
            "proc.aexepath" => return Ok(ProcAexe(index(arg)?, true)),
            "proc.apid" => return Ok(ProcApid(index(arg)?)),
            "proc.env" => return Ok(ProcEnv(arg.map(|a| a.trim().to_string()))),
            "container.mount.dest" => {
                return arg
                    .map(|a| ContainerMountDest(a.trim().to_string()))
                    .ok_or_else(|| Unsupported("container.mount.dest without an index".into()))
            }
            _ => {}
        }
        no_arg(match name {
            "evt.type" => EvtType,
            "evt.num" => EvtNum,
            "evt.dir" => EvtDir,
            "evt.time" | "evt.rawtime" => EvtTime,
            "evt.res" => EvtRes,
            "evt.rawres" => EvtRawres,
            "evt.is_open_read" => EvtIsOpenRead,
            "evt.is_open_write" => EvtIsOpenWrite,
            "evt.is_open_exec" => EvtIsOpenExec,
            "evt.args" => EvtArgs,
            "proc.name" => ProcName,
            "proc.exe" => ProcExe,
            "proc.exepath" => ProcExepath,
            "proc.cmdline" => ProcCmdline,
            "proc.args" => ProcArgs,
            "proc.cmdnargs" => ProcCmdnargs,
            "proc.pid" => ProcPid,
            "proc.vpid" => ProcVpid,
            "proc.ppid" => ProcPpid,
            "proc.pname" => ProcPname,
            "proc.pexe" => ProcPexe,
            "proc.pexepath" => ProcPexepath,
            "proc.pcmdline" => ProcPcmdline,
            "proc.is_exe_upper_layer" => ProcIsExeUpperLayer,
            "thread.tid" | "thread.vtid" => ThreadTid,
            "thread.cap_effective" => ThreadCapEffective,
            "thread.cap_permitted" => ThreadCapPermitted,
            "proc.tty" => ProcTty,
            "proc.is_exe_from_memfd" => ProcIsExeFromMemfd,
            // Leading a process group is the same in every pid namespace (the group is named by its leader).
            "proc.is_vpgid_leader" | "proc.is_pgid_leader" => ProcIsPgrpLeader,
            "proc.duration" => ProcDuration,
            "proc.cwd" => ProcCwd,
            "user.loginuid" => UserLoginuid,
            "fd.nameraw" => FdNameraw,
            "user.uid" => UserUid,
            "user.name" => UserName,
            "group.gid" => GroupGid,
            "group.name" => GroupName,
            "user.loginname" => UserLoginname,
            "proc.sid" => ProcSid,
            "proc.sname" => ProcSname,
            "proc.exe_ino" => ProcExeIno,
            "proc.exe_ino.ctime" => ProcExeInoCtime,
            "proc.exe_ino.mtime" => ProcExeInoMtime,
            "proc.exe_ino.ctime_duration_proc_start" => ProcExeInoCtimeDurationProcStart,
            "fd.name" => FdName,
            "fd.directory" => FdDirectory,
            "fd.filename" => FdFilename,
            "fd.typechar" => FdTypechar,
            "fd.type" => FdType,
            "fd.num" => FdNum,
            "fd.sockfamily" => FdSockfamily,
            "fd.rip" => FdRip,
            "fd.sip" => FdSip,
            "fd.rport" => FdRport,
            "fd.sport" => FdSport,
            "fd.lport" => FdLport,
            "fd.cip" => FdCip,
            "fd.sip.name" => FdNameOf(Box::new(FdSip)),
            "fd.rip.name" => FdNameOf(Box::new(FdRip)),
            "fd.cip.name" => FdNameOf(Box::new(FdCip)),
            "fd.ip" => FdIp,
            "fd.port" => FdPort,
            "fd.l4proto" => FdL4proto,
            "fd.connected" => FdConnected,
            "fd.name_changed" => FdNameChanged,
            "fd.net" => FdNet(NetEnd::Any),
            "fd.snet" => FdNet(NetEnd::Server),
            "fd.rnet" => FdNet(NetEnd::Remote),
            "fd.cnet" => FdNet(NetEnd::Client),
            "container.id" => ContainerId,
            "container.name" => ContainerName,
            "container.image" => ContainerImage,
            "container.image.repository" => ContainerImageRepository,
            "container.image.tag" => ContainerImageTag,
            "container.privileged" => ContainerPrivileged,
            "container.start_ts" => ContainerStartTs,
            "container.duration" => ContainerDuration,
            "container.mounts" => ContainerMounts,
            "k8s.ns.name" => K8sNsName,
            "k8s.pod.name" => K8sPodName,
            "kestrel.connected" => KestrelConnected,
            "kestrel.peer" => KestrelPeer,
            "kestrel.runtime_setup" => KestrelRuntimeSetup,
            "kestrel.fd_written" => KestrelFdWritten,
            "kestrel.dns.name" => KestrelDnsName,
            "kestrel.dns.type" => KestrelDnsType,
            "kestrel.dns.zone" => KestrelDnsZone,
            "kestrel.dns.encoded" => KestrelDnsEncoded,
            _ => return Err(Unsupported(name.into())),
        })
    }

    /// The kind of value it holds.
    pub fn kind(&self) -> Kind {
        use Field::*;
        match self {
            FdNet(_) => Kind::Net,
            EvtNum
            | EvtTime
            | EvtRawres
            | ProcCmdnargs
            | ProcPid
            | ProcVpid
            | ProcPpid
            | ThreadTid
            | UserUid
            | GroupGid
            | FdNum
            | FdRport
            | FdSport
            | FdLport
            | FdPort
            | ProcTty
            | ProcDuration
            | UserLoginuid
            | ProcSid
            | ProcExeIno
            | ProcExeInoCtime
            | ProcExeInoMtime
            | ProcExeInoCtimeDurationProcStart
            | ContainerStartTs
            | ContainerDuration => Kind::Num,
            ProcApid(Some(_)) => Kind::Num,
            EvtIsOpenRead
            | EvtIsOpenWrite
            | EvtIsOpenExec
            | ProcIsExeUpperLayer
            | KestrelConnected
            | FdConnected
            | FdNameChanged
            | ContainerPrivileged
            | ProcIsExeFromMemfd
            | ProcIsPgrpLeader
            | KestrelRuntimeSetup
            | KestrelFdWritten
            | KestrelDnsEncoded
            | OpenFlagsNamed { .. } => Kind::Bool,
            ProcAname(None)
            | ProcApid(None)
            | ProcAexe(None, _)
            | ThreadCapEffective
            | ThreadCapPermitted
            | FdNameOf(_) => Kind::Strs,
            EvtArg(a) if matches!(a.as_str(), "gid" | "pid" | "fd") => Kind::Num,
            _ => Kind::Str,
        }
    }

    /// The value for an event.
    pub fn get<'a>(&self, e: &'a Event, st: &'a State) -> Val<'a> {
        self.get_in(e, st, &Memo::default())
    }

    /// The value the field has for every event kestrel makes, if it has one (`evt.dir`, `evt.res`): read by
    /// [`Field::get_in`] and decided once when rules are specialised.
    pub fn constant(&self) -> Option<&'static str> {
        match self {
            Field::EvtDir => Some("<"),
            Field::EvtRes => Some("SUCCESS"),
            _ => None,
        }
    }

    /// The field's value when it is one string kept by the event, the process table or the memo — the fields a
    /// rule's checks read on nearly every event: the process's and its parent's names and paths, the file's name and
    /// its parts, the container's — without making a [`Val`] or copying a path the memo made. `Some(None)` when
    /// the field does not apply to the event (a [`Val::Missing`]); `None` for other fields (ask
    /// [`Field::get_in`], which gives the same value).
    pub fn str_in<'m, 'a: 'm>(&self, e: &'a Event, st: &'a State, memo: &'m Memo<'a>) -> Option<Option<&'m str>> {
        match self {
            Field::FdName | Field::FdDirectory | Field::FdFilename if is_file_event(e) => {
                let path = memo.path(e, st).map(|p| p.as_ref()).unwrap_or_default();
                Some(Some(if matches!(self, Field::FdName) { path } else { self.path_part(path) }))
            }
            _ => self.borrowed_in(e, st, memo),
        }
    }

    /// `fd.directory`'s or `fd.filename`'s part of a path.
    fn path_part<'p>(&self, path: &'p str) -> &'p str {
        if matches!(self, Field::FdDirectory) {
            dirname(path)
        } else {
            basename(path)
        }
    }

    /// The value of a field that is a string borrowed from the event or the process table, as
    /// [`Field::str_in`]; `None` for other fields.
    fn borrowed_in<'a>(&self, e: &'a Event, st: &'a State, memo: &Memo<'a>) -> Option<Option<&'a str>> {
        use Field::*;
        let p = || memo.proc(e, st);
        let parent = || memo.parent(e, st);
        Some(match self {
            EvtType => evt_type(e),
            // The name as at its exec (or its parent's, for a fork), as Falco's thread table keeps it: a name
            // taken later with prctl(PR_SET_NAME) does not rename it (it would pass the rules' exceptions for
            // package managers, log rotators, password programs…). The thread's own name when nothing is known.
            ProcName => Some(name_of(e, p())),
            ProcExe => match (&e.kind, p()) {
                (EventKind::Exec { argv, exe, .. }, _) => Some(argv.first().unwrap_or(exe).as_str()),
                (_, Some(p)) => Some(p.argv.first().unwrap_or(&p.exe).as_str()),
                _ => None,
            },
            ProcExepath => match (&e.kind, p(), &e.process) {
                (EventKind::Exec { exe, .. }, _, _) => Some(exe.as_str()),
                (_, Some(p), _) => Some(p.exe.as_str()),
                (_, None, Some(pr)) => pr.exe.as_deref(),
                _ => None,
            },
            ProcPname => match (&e.kind, parent()) {
                (_, Some(pp)) => Some(pp.comm.as_str()),
                (EventKind::Exec { parent_comm, .. }, _) if !parent_comm.is_empty() => Some(parent_comm.as_str()),
                _ => e.process.as_ref().and_then(|x| x.parent_exe.as_deref()).map(basename),
            },
            ProcPexe => parent().map(|pp| pp.argv.first().unwrap_or(&pp.exe).as_str()),
            ProcPexepath => match parent() {
                Some(pp) => Some(pp.exe.as_str()),
                None => e.process.as_ref().and_then(|x| x.parent_exe.as_deref()),
            },
            FdNameraw => match &e.kind {
                EventKind::Open { path, .. } => Some(path.as_str()),
                _ => None,
            },
            // Falco's short id: the first 12 digits of a 64-digit hex id (Docker's, containerd's, CRI-O's); an id
            // that is a name (`runc run web-1`, crun) whole — its first 12 characters told `lab-reverse-shell-1`
            // from `lab-reverse-shell-2` no better than nothing.
            ContainerId => Some(match &e.container {
                Some(c) if c.id.len() == 64 && kestrel_core::is_lower_hex(&c.id) => &c.id[..12],
                Some(c) => c.id.as_str(),
                None => "host",
            }),
            ContainerName => Some(match &e.container {
                Some(c) => c.name.as_deref().unwrap_or(&c.id),
                None => "host",
            }),
            ContainerImage => e.container.as_ref().and_then(|c| c.image.as_deref()),
            _ => return None,
        })
    }

    /// The value for an event, with what other fields of the same event looked up kept in `memo` (one memo per
    /// event and process table).
    pub fn get_in<'a>(&self, e: &'a Event, st: &'a State, memo: &Memo<'a>) -> Val<'a> {
        use Field::*;
        // The process, its parent and the file, looked up only by the fields that need them, once an event.
        let p = || memo.proc(e, st);
        let parent = || memo.parent(e, st);
        let file_path = || memo.path(e, st).cloned();
        let s = |x: &'a str| Val::Str(Cow::Borrowed(x));
        let own = |x: String| Val::Str(Cow::Owned(x));
        match self {
            EvtNum => Val::Num(st.count as i64),
            EvtDir | EvtRes => self.constant().map_or(Val::Missing, s),
            EvtTime => Val::Num(e.time_ns as i64),
            EvtRawres | FdNum => match &e.kind {
                EventKind::Listen { fd, .. } if *self == FdNum => Val::Num(*fd as i64),
                // The descriptor the call makes (the new standard stream), as Falco's return value.
                EventKind::Dup { fd, .. } => Val::Num(*fd as i64),
                _ => Val::Num(0),
            },
            EvtIsOpenRead => open_flags(e).map_or(Val::Missing, |f| Val::Bool(f & 3 != 1)),
            EvtIsOpenWrite => open_flags(e).map_or(Val::Missing, |f| Val::Bool(f & 3 != 0)),
            EvtIsOpenExec => Val::Missing,
            // Falco resolves these file-system path arguments against the working directory.
            EvtArg(a)
                if (a == "path" && matches!(e.kind, EventKind::Mkdir { .. }))
                    || (matches!(a.as_str(), "path" | "name")
                        && matches!(e.kind, EventKind::Unlink { .. } | EventKind::Truncate { .. })) =>
            {
                file_path().map_or(Val::Missing, Val::Str)
            }
            EvtArg(a) => evt_arg(e, a),
            EvtArgs => own(crate::rules::describe(e)),
            EvtType | ProcName | ProcExe | ProcExepath | ProcPname | ProcPexe | ProcPexepath | FdNameraw
            | ContainerId | ContainerName | ContainerImage => {
                self.borrowed_in(e, st, memo).flatten().map_or(Val::Missing, s)
            }
            ProcCmdline => match (&e.kind, p()) {
                (EventKind::Exec { argv, .. }, _) => own(cmdline(&e.comm, argv)),
                (_, Some(p)) => own(cmdline(&p.comm, &p.argv)),
                _ => Val::Missing,
            },
            ProcArgs => match (&e.kind, p()) {
                (EventKind::Exec { argv, .. }, _) => own(argv.iter().skip(1).cloned().collect::<Vec<_>>().join(" ")),
                (_, Some(p)) => own(p.argv.iter().skip(1).cloned().collect::<Vec<_>>().join(" ")),
                _ => Val::Missing,
            },
            ProcCmdnargs => match (&e.kind, p()) {
                (EventKind::Exec { argv, .. }, _) => Val::Num(argv.len().saturating_sub(1) as i64),
                (_, Some(p)) => Val::Num(p.argv.len().saturating_sub(1) as i64),
                _ => Val::Missing,
            },
            ProcPid => Val::Num(e.pid as i64),
            // The pid inside the process's pid namespace, as the sensor read it at exec; not known for a
            // process not seen exec'ing or from a recording made before the sensor reported it.
            ProcVpid => match (&e.kind, p()) {
                (EventKind::Exec { vpid, .. }, _) if *vpid != 0 => Val::Num(*vpid as i64),
                (EventKind::Exec { .. }, _) => Val::Missing,
                (_, Some(p)) if p.vpid != 0 => Val::Num(p.vpid as i64),
                _ => Val::Missing,
            },
            ThreadTid => Val::Num(e.tid as i64),
            ProcPpid => match (&e.kind, p()) {
                (EventKind::Exec { ppid, .. }, _) => Val::Num(*ppid as i64),
                (_, Some(p)) => Val::Num(p.ppid as i64),
                _ => e.process.as_ref().and_then(|x| x.ppid).map_or(Val::Missing, |x| Val::Num(x as i64)),
            },
            ProcPcmdline => parent().map_or(Val::Missing, |pp| own(cmdline(&pp.comm, &pp.argv))),
            ProcAname(n) => {
                let chain = st.ancestors(e.pid);
                match n {
                    Some(0) => s(name_of(e, p())),
                    Some(n) => chain.get(n - 1).map_or(Val::Missing, |a| s(&a.comm)),
                    None => Val::Strs(chain.iter().map(|a| Cow::Borrowed(a.comm.as_str())).collect()),
                }
            }
            ProcAexe(n, path) => {
                let chain = st.ancestors(e.pid);
                let of = |p: &'a Proc| -> &'a str {
                    if *path {
                        &p.exe
                    } else {
                        p.argv.first().map(String::as_str).unwrap_or(&p.exe)
                    }
                };
                match n {
                    Some(0) => match (&e.kind, p()) {
                        (EventKind::Exec { exe, argv, .. }, _) => {
                            s(if *path { exe } else { argv.first().unwrap_or(exe) })
                        }
                        (_, Some(me)) => s(of(me)),
                        _ => Val::Missing,
                    },
                    Some(n) => chain.get(n - 1).map_or(Val::Missing, |a| s(of(a))),
                    None => Val::Strs(chain.iter().map(|a| Cow::Borrowed(of(a))).collect()),
                }
            }
            ProcApid(n) => {
                let chain = st.ancestors(e.pid);
                match n {
                    Some(0) => Val::Num(e.pid as i64),
                    Some(n) => chain.get(n - 1).map_or(Val::Missing, |a| Val::Num(a.pid as i64)),
                    None => Val::Strs(chain.iter().map(|a| Cow::Owned(a.pid.to_string())).collect()),
                }
            }
            ProcIsExeUpperLayer => {
                let exe = match (&e.kind, p()) {
                    (EventKind::Exec { exe, .. }, _) => exe.as_str(),
                    (_, Some(p)) => p.exe.as_str(),
                    _ => return Val::Missing,
                };
                Val::Bool(st.was_written(e, exe))
            }
            ThreadCapEffective | ThreadCapPermitted => {
                let caps = match (&e.kind, p()) {
                    (EventKind::Exec { cap_effective, .. }, _) if *self == ThreadCapEffective => *cap_effective,
                    (EventKind::Exec { cap_permitted, .. }, _) => *cap_permitted,
                    // Read by the probe from the caller (it may be a runtime's helper never seen exec'ing).
                    (EventKind::Namespaces { cap_permitted, .. }, _)
                        if *self == ThreadCapPermitted && *cap_permitted != 0 =>
                    {
                        *cap_permitted
                    }
                    (_, Some(p)) if *self == ThreadCapEffective => p.caps,
                    (_, Some(p)) => p.caps_permitted,
                    _ => return Val::Missing,
                };
                Val::Strs(cap_names(caps).into_iter().map(Cow::Borrowed).collect())
            }
            ProcIsExeFromMemfd => match (&e.kind, p()) {
                (EventKind::Exec { exe_from_memfd, .. }, _) => Val::Bool(*exe_from_memfd),
                (_, Some(p)) if p.start_ns != 0 => Val::Bool(p.memfd),
                _ => Val::Missing,
            },
            ProcIsPgrpLeader => match (&e.kind, p()) {
                (EventKind::Exec { pgrp_leader, .. }, _) => Val::Bool(*pgrp_leader),
                (_, Some(p)) if p.start_ns != 0 => Val::Bool(p.pgrp_leader),
                _ => Val::Missing,
            },
            UserLoginuid => match (&e.kind, p()) {
                (EventKind::Exec { loginuid, .. }, _) => Val::Num(loginuid_num(*loginuid)),
                (_, Some(p)) if p.start_ns != 0 => Val::Num(loginuid_num(p.loginuid)),
                _ => Val::Missing,
            },
            ProcCwd => {
                let cwd = match (&e.kind, p()) {
                    (EventKind::Exec { cwd, .. }, _) => cwd.as_str(),
                    (_, Some(p)) => p.cwd.as_str(),
                    _ => return Val::Missing,
                };
                match cwd {
                    "" => Val::Missing,
                    "/" => s("/"),
                    // Falco ends the directory with a slash.
                    dir => own(format!("{dir}/")),
                }
            }
            ProcEnv(name) => {
                let env: &[String] = match (&e.kind, p()) {
                    (EventKind::Exec { env, .. }, _) => env,
                    (_, Some(p)) if p.start_ns != 0 => &p.env,
                    _ => return Val::Missing,
                };
                match name {
                    None => own(env.join(" ")),
                    Some(n) => env
                        .iter()
                        .find_map(|v| v.strip_prefix(n.as_str()).and_then(|r| r.strip_prefix('=')))
                        .map_or(Val::Missing, s),
                }
            }
            ProcDuration => match (&e.kind, p()) {
                (EventKind::Exec { .. }, _) => Val::Num(0),
                (_, Some(p)) if p.start_ns != 0 => Val::Num(e.time_ns.saturating_sub(p.start_ns) as i64),
                _ => Val::Missing,
            },
            ProcTty => match (&e.kind, p()) {
                (EventKind::Exec { tty, .. }, _) => Val::Num(*tty as i64),
                // Known only for a process seen starting; another one's terminal is not "none".
                (_, Some(p)) if p.start_ns != 0 => Val::Num(p.tty as i64),
                _ => Val::Missing,
            },
            // The effective uid, as Falco's: the probe's reading when the event carries one (it follows set*id
            // calls), else the exec's.
            UserUid => match (e.process.as_ref().and_then(|p| p.euid), &e.kind, p()) {
                (Some(euid), ..) => Val::Num(euid as i64),
                (None, EventKind::Exec { euid, .. }, _) => Val::Num(*euid as i64),
                (None, _, Some(p)) => Val::Num(p.euid as i64),
                _ => Val::Missing,
            },
            // The name in the process's own user database (the sensor reads the container's /etc/passwd);
            // without one, as Falco: root for 0, `<NA>` for an id with no name.
            UserName => {
                let uid = Field::UserUid.get_in(e, st, memo);
                let named = match (&e.kind, p(), &uid) {
                    (EventKind::Exec { user, .. }, ..) => user.as_deref(),
                    (_, Some(p), Val::Num(uid)) if p.euid as i64 == *uid => p.user.as_deref(),
                    (_, _, Val::Num(uid)) => u32::try_from(*uid).ok().and_then(|uid| st.user_name(e, uid)),
                    _ => None,
                };
                id_name(named, uid)
            }
            // The effective gid, as Falco's (a recording from before kestrel reported it: the real one).
            GroupGid => match (&e.kind, p()) {
                (EventKind::Exec { gid, egid, .. }, _) => Val::Num(egid.unwrap_or(*gid) as i64),
                (_, Some(p)) => Val::Num(p.gid as i64),
                _ => Val::Missing,
            },
            UserLoginname => match p() {
                Some(p) if p.start_ns != 0 && p.loginuid != u32::MAX => {
                    id_name(p.shown.as_ref().and_then(|s| s.login_user.as_deref()), Val::Num(p.loginuid as i64))
                }
                _ => Val::Missing,
            },
            ProcSid => match p().map(Proc::sid) {
                Some(sid) if sid != 0 => Val::Num(sid as i64),
                _ => Val::Missing,
            },
            // As Falco: the process whose pid is the session id, else the eldest ancestor in the same session.
            ProcSname => {
                let Some(me) = p().filter(|p| p.sid() != 0) else { return Val::Missing };
                match st.process(me.sid()) {
                    Some(leader) => s(&leader.comm),
                    None => {
                        let eldest = st.ancestors(me.pid).into_iter().take_while(|a| a.sid() == me.sid()).last();
                        eldest.map_or(Val::Missing, |a| s(&a.comm))
                    }
                }
            }
            ProcExeIno | ProcExeInoCtime | ProcExeInoMtime | ProcExeInoCtimeDurationProcStart => {
                let known = p().and_then(|p| Some((p, p.shown.as_ref()?.exe_file)));
                let Some((p, f)) = known.filter(|(_, f)| !f.is_unknown()) else { return Val::Missing };
                Val::Num(match self {
                    ProcExeIno => f.ino,
                    ProcExeInoCtime => f.ctime_ns,
                    ProcExeInoMtime => f.mtime_ns,
                    _ => p.start_ns.saturating_sub(f.ctime_ns),
                } as i64)
            }
            GroupName => {
                let named = match (&e.kind, p()) {
                    (EventKind::Exec { group, .. }, _) => group.as_deref(),
                    (_, Some(p)) => p.group.as_deref(),
                    _ => None,
                };
                id_name(named, Field::GroupGid.get_in(e, st, memo))
            }
            FdName => match &e.kind {
                _ if is_file_event(e) => file_path().map_or(Val::Missing, Val::Str),
                EventKind::Connect { to }
                | EventKind::Send { to, .. }
                | EventKind::Dns { to, .. }
                | EventKind::Dup { peer: to, .. } => own(format!("->{}", addr_port(to))),
                EventKind::Accept { from, port } => {
                    own(format!("{}->:{}", addr_port(from), port.map(|p| p.to_string()).unwrap_or_default()))
                }
                EventKind::Bind { addr } => own(addr_port(addr)),
                _ => Val::Missing,
            },
            FdDirectory | FdFilename if is_file_event(e) => match file_path().unwrap_or_default() {
                Cow::Borrowed(p) => s(self.path_part(p)),
                Cow::Owned(p) => own(self.path_part(&p).to_string()),
            },
            FdDirectory | FdFilename => Val::Missing,
            FdTypechar | FdType => {
                let (c, t) = match sock_of(e) {
                    Some(a) if a.family == "inet" => ("4", "ipv4"),
                    Some(a) if a.family == "inet6" => ("6", "ipv6"),
                    Some(_) => ("u", "unix"),
                    None if matches!(e.kind, EventKind::Open { .. }) || mapped_path(e).is_some() => ("f", "file"),
                    None => return Val::Missing,
                };
                s(if *self == FdTypechar { c } else { t })
            }
            FdSockfamily => match sock_of(e) {
                Some(a) if a.family == "unix" => s("unix"),
                Some(_) => s("ip"),
                None => Val::Missing,
            },
            FdRip | FdSip | FdIp => match &e.kind {
                EventKind::Connect { to }
                | EventKind::Send { to, .. }
                | EventKind::Dns { to, .. }
                | EventKind::Dup { peer: to, .. }
                    if to.family != "unix" =>
                {
                    s(&to.addr)
                }
                EventKind::Accept { from, .. } if *self != FdSip && from.family != "unix" => s(&from.addr),
                EventKind::Bind { addr } if *self == FdIp && addr.family != "unix" => s(&addr.addr),
                _ => Val::Missing,
            },
            FdNameOf(addr) => match addr.get_in(e, st, memo) {
                Val::Str(ip) => match st.names.of(&ip) {
                    names if names.is_empty() => Val::Missing,
                    names => Val::Strs(names.into_iter().map(Cow::Owned).collect()),
                },
                _ => Val::Missing,
            },
            FdCip => match &e.kind {
                EventKind::Accept { from, .. } if from.family != "unix" => s(&from.addr),
                _ => Val::Missing,
            },
            FdRport | FdSport => match &e.kind {
                EventKind::Connect { to }
                | EventKind::Send { to, .. }
                | EventKind::Dns { to, .. }
                | EventKind::Dup { peer: to, .. }
                    if to.family != "unix" =>
                {
                    Val::Num(to.port as i64)
                }
                EventKind::Accept { from, .. } if *self == FdRport && from.family != "unix" => {
                    Val::Num(from.port as i64)
                }
                EventKind::Accept { port: Some(p), .. } if *self == FdSport => Val::Num(*p as i64),
                _ => Val::Missing,
            },
            FdLport => match &e.kind {
                EventKind::Accept { port: Some(p), .. } | EventKind::Dup { local_port: Some(p), .. } => {
                    Val::Num(*p as i64)
                }
                EventKind::Bind { addr } if addr.family != "unix" => Val::Num(addr.port as i64),
                _ => Val::Missing,
            },
            FdPort => match &e.kind {
                EventKind::Connect { to }
                | EventKind::Send { to, .. }
                | EventKind::Dns { to, .. }
                | EventKind::Dup { peer: to, .. }
                    if to.family != "unix" =>
                {
                    Val::Num(to.port as i64)
                }
                EventKind::Accept { port: Some(p), .. } => Val::Num(*p as i64),
                EventKind::Bind { addr } if addr.family != "unix" => Val::Num(addr.port as i64),
                _ => Val::Missing,
            },
            FdL4proto => sock_of(e).and_then(|a| a.proto).map_or(Val::Missing, |p| s(p.as_str())),
            FdConnected => match &e.kind {
                EventKind::Connect { .. } | EventKind::Accept { .. } => Val::Bool(true),
                EventKind::Bind { .. } | EventKind::Send { .. } | EventKind::Dns { .. } => Val::Bool(false),
                EventKind::Dup { peer, .. } => Val::Bool(peer.port != 0),
                _ => Val::Missing,
            },
            // A send is reported when its peer is new to the process (Falco's outbound macro asks for this).
            FdNameChanged => match sock_of(e) {
                Some(_) => Val::Bool(matches!(e.kind, EventKind::Send { .. })),
                None => Val::Missing,
            },
            FdNet(end) => match (&e.kind, end) {
                (
                    EventKind::Connect { to }
                    | EventKind::Send { to, .. }
                    | EventKind::Dns { to, .. }
                    | EventKind::Dup { peer: to, .. },
                    NetEnd::Any | NetEnd::Server | NetEnd::Remote,
                ) if to.family != "unix" => s(&to.addr),
                (EventKind::Accept { from, .. }, NetEnd::Any | NetEnd::Client | NetEnd::Remote)
                    if from.family != "unix" =>
                {
                    s(&from.addr)
                }
                (EventKind::Bind { addr }, NetEnd::Any | NetEnd::Server) if addr.family != "unix" => s(&addr.addr),
                _ => Val::Missing,
            },
            ContainerPrivileged => e.container.as_ref().and_then(|c| c.privileged).map_or(Val::Missing, Val::Bool),
            ContainerStartTs => {
                e.container.as_ref().and_then(|c| c.created_ns).map_or(Val::Missing, |t| Val::Num(t as i64))
            }
            ContainerDuration => e
                .container
                .as_ref()
                .and_then(|c| c.created_ns)
                .map_or(Val::Missing, |t| Val::Num(e.time_ns.saturating_sub(t) as i64)),
            ContainerMountDest(index) => {
                let Some(mounts) = st.mounts_of(e) else { return Val::Missing };
                let found = match index.parse::<usize>() {
                    Ok(n) => mounts.get(n),
                    Err(_) => mounts.iter().find(|m| crate::rules::glob(index, &m.source)),
                };
                match found {
                    Some(m) => m.dest.as_deref().map_or(s("(not known)"), s),
                    None => s("N/A"),
                }
            }
            ContainerMounts => {
                let Some(mounts) = st.mounts_of(e) else { return Val::Missing };
                let all: Vec<String> = mounts
                    .iter()
                    .map(|m| format!("{}:{}", m.source, m.dest.as_deref().unwrap_or("(not known)")))
                    .collect();
                own(all.join(","))
            }
            ContainerImageRepository | ContainerImageTag => {
                let Some(img) = e.container.as_ref().and_then(|c| c.image.as_deref()) else { return Val::Missing };
                let (repo, tag) = split_image(img);
                if *self == ContainerImageTag {
                    tag.map_or(Val::Missing, s)
                } else {
                    s(repo)
                }
            }
            K8sNsName => e.container.as_ref().and_then(|c| c.namespace.as_deref()).map_or(Val::Missing, s),
            K8sPodName => e.container.as_ref().and_then(|c| c.pod.as_deref()).map_or(Val::Missing, s),
            KestrelConnected => Val::Bool(st.peer(e.pid, e.time_ns).is_some()),
            KestrelPeer => st.peer(e.pid, e.time_ns).map_or(Val::Missing, |a| own(addr_port(a))),
            KestrelRuntimeSetup => Val::Bool(st.runtime_setup(e)),
            KestrelFdWritten if is_file_event(e) => match file_path() {
                Some(path) => Val::Bool(st.was_written(e, &path)),
                None => Val::Missing,
            },
            KestrelFdWritten => Val::Missing,
            KestrelDnsName | KestrelDnsType | KestrelDnsZone | KestrelDnsEncoded => {
                let EventKind::Dns { name, qtype, .. } = &e.kind else { return Val::Missing };
                match self {
                    KestrelDnsName => s(name),
                    KestrelDnsType => s(qtype),
                    // Case-blind, as DNS is (resolvers randomise letters' case: DNS 0x20), for lists to match.
                    KestrelDnsZone => own(kestrel_core::dns_zone(name).to_ascii_lowercase()),
                    _ => Val::Bool(kestrel_core::encoded_label(name)),
                }
            }
            OpenFlagsNamed { modes, bits } => match open_flags(e) {
                Some(f) => Val::Bool(modes >> access_mode(f) & 1 == 1 || f & bits != 0),
                None => Val::Missing,
            },
        }
    }
}

/// `proc.name`: the exec's own name on an exec, else the name the process had at its exec (a fork: its parent's),
/// else the thread's name as the event carries it.
fn name_of<'a>(e: &'a Event, p: Option<&'a Proc>) -> &'a str {
    match (&e.kind, p) {
        (EventKind::Exec { .. }, _) => &e.comm,
        (_, Some(p)) if p.start_ns != 0 => &p.comm,
        _ => &e.comm,
    }
}

fn cmdline(comm: &str, argv: &[String]) -> String {
    let mut out = comm.to_string();
    for a in argv.iter().skip(1) {
        out.push(' ');
        out.push_str(a);
    }
    out
}

/// Falco shows an unset login uid as -1.
fn loginuid_num(uid: u32) -> i64 {
    if uid == u32::MAX {
        -1
    } else {
        uid as i64
    }
}

/// Where a path's last `/` is (a byte scan from the end: a file's name is short, and the searcher `rfind('/')` and
/// `rsplit('/')` use cost more than the scan on the every write-open the rules' file checks see).
fn last_slash(p: &str) -> Option<usize> {
    p.as_bytes().iter().rposition(|&b| b == b'/')
}

fn basename(p: &str) -> &str {
    match last_slash(p) {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

fn dirname(p: &str) -> &str {
    match last_slash(p) {
        Some(0) => "/",
        Some(i) => &p[..i],
        None => ".",
    }
}

fn split_image(img: &str) -> (&str, Option<&str>) {
    let img = img.split('@').next().unwrap_or(img);
    match img.rfind(':') {
        Some(i) if !img[i..].contains('/') => (&img[..i], Some(&img[i + 1..])),
        _ => (img, None),
    }
}

fn addr_port(a: &SockAddr) -> String {
    match a.family.as_str() {
        "unix" => a.addr.clone(),
        "inet6" => format!("[{}]:{}", a.addr, a.port),
        _ => format!("{}:{}", a.addr, a.port),
    }
}

/// The file a path names (a rename's destination, a directory made): joined to the process's working directory
/// (the one at its exec, as `proc.cwd`) when relative to it; as given when relative to a directory descriptor or
/// the directory is not known.
fn joined_to_cwd<'a>(to: &'a str, to_dirfd: bool, cwd: Option<&str>) -> Cow<'a, str> {
    match cwd {
        _ if to.starts_with('/') => normalize_path(to),
        Some(dir) if !to_dirfd && dir.starts_with('/') => {
            Cow::Owned(normalize_path(&format!("{dir}/{to}")).into_owned())
        }
        _ => Cow::Borrowed(to),
    }
}

/// Whether the event names a file (see [`file_path`]).
fn is_file_event(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::Open { .. }
            | EventKind::Rename { .. }
            | EventKind::Link { .. }
            | EventKind::Mkdir { .. }
            | EventKind::Unlink { .. }
            | EventKind::Truncate { .. }
    ) || mapped_path(e).is_some()
}

/// The file whose code an event maps: an executable mapping's, or a file's mapping made executable.
fn mapped_path(e: &Event) -> Option<&str> {
    match &e.kind {
        EventKind::Mmap { path, .. } | EventKind::ExecMemory { path: Some(path), .. } => Some(path),
        _ => None,
    }
}

/// The file an open, a rename, a mkdir, an unlink, a truncation or an executable mapping names: the open's path,
/// the rename's destination, the directory made, the file removed, cut or mapped, the file whose mapping was made
/// executable (relative names joined to the working directory by [`joined_to_cwd`]; a mapping's path is rebuilt
/// by the sensor, whole).
fn file_path<'a>(e: &'a Event, p: Option<&Proc>) -> Option<Cow<'a, str>> {
    if let Some(path) = mapped_path(e) {
        return Some(Cow::Borrowed(path));
    }
    match &e.kind {
        EventKind::Open { path, .. } => Some(normalize_path(path)),
        EventKind::Truncate { path, .. } => Some(joined_to_cwd(path, false, p.map(|p| &*p.cwd))),
        EventKind::Rename { to, to_dirfd, .. } => Some(joined_to_cwd(to, *to_dirfd, p.map(|p| &*p.cwd))),
        EventKind::Mkdir { path, dirfd, .. }
        | EventKind::Unlink { path, dirfd, .. }
        | EventKind::Link { path, dirfd, .. } => Some(joined_to_cwd(path, *dirfd, p.map(|p| &*p.cwd))),
        _ => None,
    }
}

fn sock_of(e: &Event) -> Option<&SockAddr> {
    match &e.kind {
        EventKind::Connect { to }
        | EventKind::Send { to, .. }
        | EventKind::Dns { to, .. }
        | EventKind::Dup { peer: to, .. } => Some(to),
        EventKind::Accept { from, .. } => Some(from),
        EventKind::Bind { addr } => Some(addr),
        _ => None,
    }
}

fn open_flags(e: &Event) -> Option<u32> {
    match &e.kind {
        EventKind::Open { flags, .. } => Some(*flags),
        _ => None,
    }
}

/// Falco's name for the system call an event stands for.
pub fn evt_type(e: &Event) -> Option<&str> {
    Some(match &e.kind {
        EventKind::Exec { .. } => "execve",
        EventKind::Exit { .. } => "procexit",
        EventKind::Open { .. } => "openat",
        EventKind::Connect { .. } => "connect",
        EventKind::Send { call, .. } => call,
        EventKind::Socket { .. } => "socket",
        EventKind::Rename { call, .. } => call,
        EventKind::Dup { call, .. } => call,
        EventKind::Mkdir { call, .. } => call,
        EventKind::Unlink { call, .. } => call,
        EventKind::Truncate { call, .. } => call,
        EventKind::Userfaultfd { .. } => "userfaultfd",
        EventKind::Bind { .. } => "bind",
        EventKind::Listen { .. } => "listen",
        EventKind::Accept { .. } => "accept",
        EventKind::Syscalls { .. } => return None,
        EventKind::SetIds { call, .. } => call,
        EventKind::Capset { .. } => "capset",
        EventKind::Namespaces { call, .. } => call,
        EventKind::Setns { .. } => "setns",
        EventKind::Mount { .. } => "mount",
        EventKind::Ptrace { .. } => "ptrace",
        EventKind::Bpf { .. } => "bpf",
        EventKind::ModuleLoad { call } => call,
        EventKind::SetuidChmod { path: Some(_), .. } => "fchmodat",
        EventKind::SetuidChmod { path: None, .. } => "fchmod",
        EventKind::Link { call, .. } => call,
        EventKind::Mmap { .. } => "mmap",
        EventKind::ExecMemory { call, .. } => call,
        EventKind::Dns { .. } => "dns",
    })
}

/// The index in [`EVT_TYPES`] of an event's type, without comparing names.
pub fn evt_type_index(e: &Event) -> Option<usize> {
    Some(match &e.kind {
        EventKind::Exec { .. } => 0,
        EventKind::Exit { .. } => 1,
        EventKind::Open { .. } => 2,
        EventKind::Connect { .. } => 3,
        EventKind::Bind { .. } => 4,
        EventKind::Listen { .. } => 5,
        EventKind::Accept { .. } => 6,
        EventKind::Syscalls { .. } => return None,
        EventKind::Capset { .. } => 13,
        EventKind::Setns { .. } => 16,
        EventKind::Mount { .. } => 17,
        EventKind::Ptrace { .. } => 18,
        EventKind::Bpf { .. } => 19,
        EventKind::SetuidChmod { path: Some(_), .. } => 22,
        EventKind::SetuidChmod { path: None, .. } => 23,
        _ => return evt_type(e).and_then(|t| EVT_TYPES.iter().position(|x| *x == t)),
    })
}

/// Every event type name kestrel produces (for rule prefiltering and for checking `evt.type` lists).
pub const EVT_TYPES: &[&str] = &[
    "execve",
    "procexit",
    "openat",
    "connect",
    "bind",
    "listen",
    "accept",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "capset",
    "unshare",
    "clone",
    "setns",
    "mount",
    "ptrace",
    "bpf",
    "init_module",
    "finit_module",
    "fchmodat",
    "fchmod",
    "symlink",
    "symlinkat",
    "link",
    "linkat",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "socket",
    "rename",
    "renameat",
    "renameat2",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "mkdir",
    "mkdirat",
    "unlink",
    "unlinkat",
    "rmdir",
    "truncate",
    "ftruncate",
    "userfaultfd",
    "mmap",
    "mprotect",
    "pkey_mprotect",
    "dns",
];

fn evt_arg<'a>(e: &'a Event, a: &str) -> Val<'a> {
    let s = |x: &'a str| Val::Str(Cow::Borrowed(x));
    match (&e.kind, a) {
        (EventKind::Open { flags, .. }, "flags") => Val::Str(Cow::Owned(open_flag_names(*flags))),
        (EventKind::Rename { from, .. }, "oldpath") => s(from),
        (EventKind::Rename { to, .. }, "newpath") => s(to),
        (EventKind::Mkdir { mode, .. }, "mode") => Val::Str(Cow::Owned(mode_names(*mode))),
        (EventKind::Unlink { call, dir, .. }, "flags") if call == "unlinkat" => {
            Val::Str(Cow::Borrowed(if *dir { "AT_REMOVEDIR" } else { "0" }))
        }
        (EventKind::Truncate { size_before: Some(size), .. }, "size") => Val::Num(*size as i64),
        (EventKind::Truncate { length, .. }, "length") => Val::Num(*length as i64),
        (EventKind::Userfaultfd { flags }, "flags") => {
            let names = [(1, "UFFD_USER_MODE_ONLY"), (0o4000, "O_NONBLOCK"), (0o2000000, "O_CLOEXEC")];
            Val::Str(Cow::Owned(bit_names(u64::from(*flags), &names, "0")))
        }
        (EventKind::Mmap { prot, .. }, "prot") => Val::Str(Cow::Owned(prot_names(*prot))),
        (EventKind::Mmap { memfd, .. }, "memfd") => s(if *memfd { "true" } else { "false" }),
        (EventKind::Mmap { deleted, .. }, "deleted") => s(if *deleted { "true" } else { "false" }),
        (EventKind::ExecMemory { prot, .. }, "prot") => Val::Str(Cow::Owned(prot_names(*prot))),
        (EventKind::ExecMemory { length, .. }, "length" | "len") => Val::Num(*length as i64),
        (EventKind::ExecMemory { region, .. }, "region") => s(region),
        // A file's mapping made executable: a memfd's by the name the kernel gives it (whether its file was
        // removed is not read).
        (EventKind::ExecMemory { path: Some(p), .. }, "memfd") => {
            s(if p.starts_with("/memfd:") { "true" } else { "false" })
        }
        (EventKind::Socket { family, .. }, "domain") => Val::Str(Cow::Owned(format!("AF_{}", family.to_uppercase()))),
        (EventKind::Socket { sock_type, .. }, "type") => {
            Val::Str(Cow::Owned(format!("SOCK_{}", sock_type.to_uppercase())))
        }
        (EventKind::Socket { protocol, .. }, "proto") => Val::Num(i64::from(*protocol)),
        (EventKind::Open { path, .. }, "name" | "path" | "filename" | "pathname" | "1") => s(path),
        (EventKind::Exec { exe, .. }, "filename" | "exe" | "pathname") => s(exe),
        (EventKind::Exec { argv, .. }, "args") => Val::Str(Cow::Owned(argv.join(" "))),
        (EventKind::Mount { source, .. }, "dev" | "source" | "special") => s(source),
        (EventKind::Mount { target, .. }, "dir" | "target") => s(target),
        (EventKind::Mount { fstype, .. }, "type" | "fstype") => s(fstype),
        (EventKind::SetuidChmod { path: Some(p), .. }, "filename" | "path" | "name") => s(p),
        // Falco: symlink(at) has `target` and `linkpath`, link(at) `oldpath` and `newpath`.
        (EventKind::Link { target, .. }, "target" | "oldpath") => s(target),
        (EventKind::Link { path, .. }, "linkpath" | "newpath") => s(path),
        // kestrel's own: the sensor found the target sensitive (reading it through the link would hide the read).
        (EventKind::Link { sensitive, .. }, "sensitive") => s(if *sensitive { "true" } else { "false" }),
        (EventKind::SetuidChmod { mode, .. }, "mode") => Val::Str(Cow::Owned(mode_names(*mode))),
        (EventKind::SetIds { call, ids, names }, "uid" | "ruid") if call.contains("uid") => user(ids, names, 0),
        (EventKind::SetIds { call, ids, names }, "euid") if call.contains("uid") => user(ids, names, 1),
        (EventKind::SetIds { call, ids, .. }, "gid" | "rgid") if call.contains("gid") => {
            ids.first().map_or(Val::Missing, |x| Val::Num(*x))
        }
        (EventKind::Ptrace { request, .. }, "request") => Val::Str(Cow::Owned(ptrace_name(*request))),
        (EventKind::Ptrace { target_pid, .. }, "pid") => Val::Num(*target_pid as i64),
        (EventKind::Bpf { cmd }, "cmd") => Val::Str(bpf_cmd(*cmd)),
        (EventKind::Listen { fd, .. }, "fd") => Val::Num(*fd as i64),
        (EventKind::Namespaces { flags, .. }, "flags") => Val::Str(Cow::Owned(clone_flag_names(*flags))),
        (
            EventKind::Connect { to } | EventKind::Send { to, .. } | EventKind::Dns { to, .. },
            "addr" | "tuple" | "dest",
        ) => Val::Str(Cow::Owned(format!("->{}", addr_port(to)))),
        _ => Val::Missing,
    }
}

/// A user or group as Falco names it: its name in the process's own database, else `root` for id 0 and
/// `<NA>` for another id (`id` missing: missing).
fn id_name<'a>(named: Option<&'a str>, id: Val<'a>) -> Val<'a> {
    match (named, id) {
        (Some(n), _) => Val::Str(Cow::Borrowed(n)),
        (None, Val::Num(0)) => Val::Str(Cow::Borrowed("root")),
        (None, Val::Num(_)) => Val::Str(Cow::Borrowed("<NA>")),
        _ => Val::Missing,
    }
}

/// The `i`-th uid argument as Falco prints it: its name in the process's own user database, else `root`
/// for 0 and the number otherwise.
fn user<'a>(ids: &[i64], names: &'a [Option<String>], i: usize) -> Val<'a> {
    match (ids.get(i), names.get(i)) {
        (Some(_), Some(Some(name))) => Val::Str(Cow::Borrowed(name)),
        (Some(0), _) => Val::Str(Cow::Borrowed("root")),
        (Some(id), _) => Val::Str(Cow::Owned(id.to_string())),
        (None, _) => Val::Missing,
    }
}

pub(crate) fn bpf_cmd(cmd: u32) -> Cow<'static, str> {
    const NAMES: [&str; 13] = [
        "BPF_MAP_CREATE",
        "BPF_MAP_LOOKUP_ELEM",
        "BPF_MAP_UPDATE_ELEM",
        "BPF_MAP_DELETE_ELEM",
        "BPF_MAP_GET_NEXT_KEY",
        "BPF_PROG_LOAD",
        "BPF_OBJ_PIN",
        "BPF_OBJ_GET",
        "BPF_PROG_ATTACH",
        "BPF_PROG_DETACH",
        "BPF_PROG_TEST_RUN",
        "BPF_PROG_GET_NEXT_ID",
        "BPF_MAP_GET_NEXT_ID",
    ];
    NAMES.get(cmd as usize).map_or_else(|| Cow::Owned(cmd.to_string()), |n| Cow::Borrowed(*n))
}

/// A file mode as Falco prints it: `04755(S_ISUID|S_IRUSR|…)`.
pub fn mode_names(mode: u32) -> String {
    let names: Vec<&str> = [
        (0o4000, "S_ISUID"),
        (0o2000, "S_ISGID"),
        (0o1000, "S_ISVTX"),
        (0o400, "S_IRUSR"),
        (0o200, "S_IWUSR"),
        (0o100, "S_IXUSR"),
        (0o40, "S_IRGRP"),
        (0o20, "S_IWGRP"),
        (0o10, "S_IXGRP"),
        (0o4, "S_IROTH"),
        (0o2, "S_IWOTH"),
        (0o1, "S_IXOTH"),
    ]
    .iter()
    .filter(|(bit, _)| mode & bit != 0)
    .map(|(_, n)| *n)
    .collect();
    format!("0{:o}({})", mode & 0o7777, names.join("|"))
}

/// The names of an open's access modes, by [`access_mode`].
pub const ACCESS_MODES: [&str; 3] = ["O_RDONLY", "O_WRONLY", "O_RDWR"];

/// The open flags kestrel names, each one bit.
pub const OPEN_FLAGS: [(u32, &str); 10] = [
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o2000000, "O_CLOEXEC"),
    (0o20000000, "O_TMPFILE"),
];

/// The index in [`ACCESS_MODES`] of an open's access mode (the invalid mode 3 is named as read-write).
pub fn access_mode(f: u32) -> usize {
    (f & 3).min(2) as usize
}

/// `open` flags in Falco's spelling (`O_WRONLY|O_CREAT|O_TRUNC`).
pub fn open_flag_names(f: u32) -> String {
    let mut out = vec![ACCESS_MODES[access_mode(f)]];
    out.extend(OPEN_FLAGS.iter().filter(|(bit, _)| f & bit == *bit).map(|(_, name)| *name));
    out.join("|")
}

/// The names of the bits set in `bits`, in `names`' order, joined by `|` (Falco's spelling of a flag argument);
/// `none` when none is set.
fn bit_names(bits: u64, names: &[(u64, &str)], none: &str) -> String {
    let set: Vec<&str> = names.iter().filter(|(bit, _)| bits & bit != 0).map(|(_, name)| *name).collect();
    if set.is_empty() {
        none.into()
    } else {
        set.join("|")
    }
}

/// A mapping's protection in Falco's spelling (`PROT_READ|PROT_EXEC`; `PROT_NONE` for none).
pub(crate) fn prot_names(prot: u32) -> String {
    bit_names(u64::from(prot), &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")], "PROT_NONE")
}

/// mount(2)'s flags (`MS_BIND|MS_REC`; empty for none).
pub(crate) fn mount_flag_names(f: u64) -> String {
    let names = [
        (1, "MS_RDONLY"),
        (2, "MS_NOSUID"),
        (4, "MS_NODEV"),
        (8, "MS_NOEXEC"),
        (16, "MS_SYNCHRONOUS"),
        (MS_REMOUNT, "MS_REMOUNT"),
        (64, "MS_MANDLOCK"),
        (128, "MS_DIRSYNC"),
        (256, "MS_NOSYMFOLLOW"),
        (1024, "MS_NOATIME"),
        (2048, "MS_NODIRATIME"),
        (MS_BIND, "MS_BIND"),
        (8192, "MS_MOVE"),
        (16384, "MS_REC"),
        (32768, "MS_SILENT"),
        (1 << 16, "MS_POSIXACL"),
        (1 << 17, "MS_UNBINDABLE"),
        (1 << 18, "MS_PRIVATE"),
        (1 << 19, "MS_SLAVE"),
        (1 << 20, "MS_SHARED"),
        (1 << 21, "MS_RELATIME"),
        (1 << 24, "MS_STRICTATIME"),
        (1 << 25, "MS_LAZYTIME"),
    ];
    bit_names(f, &names, "")
}

pub(crate) fn clone_flag_names(f: u64) -> String {
    let names = [
        (0x20000, "CLONE_NEWNS"),
        (0x2000000, "CLONE_NEWCGROUP"),
        (0x4000000, "CLONE_NEWUTS"),
        (0x8000000, "CLONE_NEWIPC"),
        (0x10000000, "CLONE_NEWUSER"),
        (0x20000000, "CLONE_NEWPID"),
        (0x40000000, "CLONE_NEWNET"),
        (0x80, "CLONE_NEWTIME"),
    ];
    bit_names(f, &names, "")
}

pub(crate) fn ptrace_name(r: u64) -> String {
    match r {
        0 => "PTRACE_TRACEME".into(),
        1 => "PTRACE_PEEKTEXT".into(),
        2 => "PTRACE_PEEKDATA".into(),
        4 => "PTRACE_POKETEXT".into(),
        5 => "PTRACE_POKEDATA".into(),
        16 => "PTRACE_ATTACH".into(),
        17 => "PTRACE_DETACH".into(),
        0x4206 => "PTRACE_SEIZE".into(),
        r => format!("{r}"),
    }
}

const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Capability names of a mask.
pub fn cap_names(mask: u64) -> Vec<&'static str> {
    CAPS.iter().enumerate().filter(|(i, _)| mask >> i & 1 == 1).map(|(_, n)| *n).collect()
}

/// What the fields of one event look up, looked up once: several rules ask for the same process or file.
#[derive(Default)]
pub struct Memo<'a> {
    proc: std::cell::OnceCell<Option<&'a Proc>>,
    parent: std::cell::OnceCell<Option<&'a Proc>>,
    path: std::cell::OnceCell<Option<Cow<'a, str>>>,
    /// The shared checks' results, each `event << 1 | result` (kept by the engine across events, so that none
    /// is cleared per event: a slot holds this event's result only when its number is this event's).
    shared: &'a [std::cell::Cell<u64>],
    /// The event's number, from 1.
    event: u64,
}

impl<'a> Memo<'a> {
    /// A memo for event number `event` (from 1) that keeps the shared checks' results in `shared`.
    pub fn for_event(shared: &'a [std::cell::Cell<u64>], event: u64) -> Memo<'a> {
        Memo { shared, event, ..Memo::default() }
    }

    /// The event's process in the table, looked up the first time it is asked.
    fn proc(&self, e: &Event, st: &'a State) -> Option<&'a Proc> {
        *self.proc.get_or_init(|| st.procs.get(&e.pid))
    }

    /// The parent of the event's process in the table, looked up the first time it is asked.
    fn parent(&self, e: &Event, st: &'a State) -> Option<&'a Proc> {
        *self.parent.get_or_init(|| self.proc(e, st).and_then(|p| st.procs.get(&p.ppid)))
    }

    /// The file the event names ([`file_path`]), made the first time it is asked.
    fn path(&self, e: &'a Event, st: &'a State) -> Option<&Cow<'a, str>> {
        self.path.get_or_init(|| file_path(e, self.proc(e, st))).as_ref()
    }

    /// The result of shared check `slot` for this event, evaluated the first time it is asked.
    pub fn shared(&self, slot: usize, eval: impl FnOnce() -> bool) -> bool {
        let Some(kept) = self.shared.get(slot).filter(|_| self.event != 0) else { return eval() };
        let v = kept.get();
        if v >> 1 == self.event {
            return v & 1 == 1;
        }
        let result = eval();
        kept.set(self.event << 1 | u64::from(result));
        result
    }
}

/// The key of a written file: a hash of its container and path (a collision can only make a file look
/// written, never hide a write).
fn written_key(e: &Event, path: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    e.container.as_ref().map(|c| c.id.as_str()).unwrap_or_default().hash(&mut h);
    // `/tmp//x` written and `/tmp/x` run are the same file.
    normalize_path(path).hash(&mut h);
    h.finish()
}

/// The hash kept in [`Proc::container`].
pub fn container_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    id.hash(&mut h);
    h.finish() | 1
}

/// What the process table remembers of a process.
#[derive(Debug, Clone, Default)]
pub struct Proc {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Command name.
    pub comm: String,
    /// Executable path.
    pub exe: String,
    /// Arguments.
    pub argv: Vec<String>,
    /// Effective uid at exec (an event's own, which follows set*id calls, comes with the event).
    pub euid: u32,
    /// The name of `euid` in its own user database (not known: `None`).
    pub user: Option<String>,
    /// The name of `gid` in its own group database, as at exec.
    pub group: Option<String>,
    /// Effective gid at exec (recordings from before kestrel reported it: the real one).
    pub gid: u32,
    /// What only outputs print, kept out of line: every event looks its process up, and a smaller entry
    /// keeps that lookup in the cache (`None`: nothing known).
    pub shown: Option<Box<Shown>>,
    /// Effective capabilities at exec.
    pub caps: u64,
    /// Permitted capabilities at exec.
    pub caps_permitted: u64,
    /// Controlling terminal at exec (0: none).
    pub tty: u32,
    /// Audit login uid at exec.
    pub loginuid: u32,
    /// The executable was a memfd.
    pub memfd: bool,
    /// It led its process group at exec.
    pub pgrp_leader: bool,
    /// Its pid in its own pid namespace (0: not known).
    pub vpid: u32,
    /// When it exec'd (0: not seen exec'ing; what it says of itself is then not known).
    pub start_ns: u64,
    /// When it, or the parent it was forked from, first listened since its exec (0: not seen listening): a
    /// server's start-up is over then.
    pub listen_ns: u64,
    /// The socket of that first listen (a server that calls `listen()` on it again — nginx sets its backlog so — is
    /// not listening anew).
    pub listen_fd: u32,
    /// Its working directory at exec (empty: not known).
    pub cwd: String,
    /// The environment variables whose values the sensor keeps (`NAME=value`), as at exec.
    pub env: Vec<String>,
    /// The last outgoing connection it made (an exec keeps its sockets, so this too), not a resolver's query.
    pub peer: Option<SockAddr>,
    /// When it made that connection.
    pub peer_ns: u64,
    /// A hash of the container id it exec'd in (0: not seen exec'ing).
    pub container: u64,
    /// It is the runtime's own init (`runc init` from the runtime's binary) started from outside the container, or
    /// a fork of it that has not exec'd since (runc's `[1:CHILD]`, `[2:INIT]`).
    pub runtime_init: bool,
    gen: u64,
}

/// Facts of a process that only rule outputs print.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    /// The name of `loginuid` in its own user database.
    pub login_user: Option<String>,
    /// Its session leader's pid (0: not known).
    pub sid: u32,
    /// The program file as it was at exec.
    pub exe_file: kestrel_core::ExeFile,
}

impl Proc {
    /// Its session leader's pid (0: not known).
    pub fn sid(&self) -> u32 {
        self.shown.as_ref().map_or(0, |s| s.sid)
    }
}

/// State the fields need beyond the event: processes seen (by exec, bounded) and files written per container
/// (bounded).
#[derive(Debug, Default)]
pub struct State {
    procs: FxHashMap<u32, Proc>,
    order: VecDeque<(u32, u64)>,
    next_gen: u64,
    /// Hashes of (container, path) opened for writing.
    written: FxHashSet<u64>,
    written_order: VecDeque<u64>,
    count: u64,
    /// Addresses of the names the rules compare `fd.*.name` with.
    names: crate::rules::names::Names,
    /// Each container's bind mounts, as its runtime's init made them (with that init's pid: a container
    /// started again under the same id starts a new list).
    mounts: FxHashMap<u64, (u32, Vec<Mount>)>,
    /// User names the sensor read from each container's own database (cgroup id, uid):
    /// a process that switched users is named from them (the table is not touched per event for that).
    user_names: FxHashMap<(u64, u32), String>,
}

/// A bind mount a container was started with.
#[derive(Debug, Clone)]
pub struct Mount {
    /// The host path mounted.
    pub source: String,
    /// Where in the container (not known when the runtime named it through a descriptor).
    pub dest: Option<String>,
}

/// Bounds of the state.
const MAX_PROCS: usize = 65_536;
const MAX_WRITTEN: usize = 65_536;
const MAX_ANCESTORS: usize = 16;
const MAX_CONTAINERS: usize = 4096;
const MAX_MOUNTS: usize = 64;
const MAX_USER_NAMES: usize = 16_384;
/// mount(2) flags: a bind mount, and a remount (of a bind mount's options: no new mount).
const MS_BIND: u64 = 4096;
const MS_REMOUNT: u64 = 32;

impl State {
    /// An empty state whose `fd.*.name` fields read from `names`.
    pub fn with_names(names: crate::rules::names::Names) -> State {
        State { names, ..State::default() }
    }

    /// Forgets what one stream of events told of its processes, files and containers (the names resolved for
    /// `fd.*.name` stay): the next events are of another capture, whose pids name other processes.
    pub fn new_stream(&mut self) {
        let names = std::mem::take(&mut self.names);
        *self = State::with_names(names);
    }

    /// A process never seen exec'ing whose parent was: forked from it, it has what fork copies — user,
    /// capabilities, terminal, working directory, environment, container (as Falco's thread table, which
    /// copies the parent's thread at clone). Its start is taken to be its first event.
    fn inherit(&mut self, e: &Event) {
        let Some(ppid) = e.process.as_ref().and_then(|p| p.ppid) else { return };
        let Some(parent) = self.procs.get(&ppid).filter(|p| p.start_ns != 0) else { return };
        // A fork has its parent's name (a name it took since with prctl does not count: see `proc.name`).
        let child = Proc {
            pid: e.pid,
            ppid,
            peer: None,
            pgrp_leader: false,
            vpid: 0,
            start_ns: e.time_ns.max(1),
            gen: 0,
            ..parent.clone()
        };
        self.insert(child);
    }

    /// Takes an event into account (call before evaluating rules on it).
    pub fn update(&mut self, e: &Event) {
        self.count += 1;
        if !matches!(e.kind, EventKind::Exec { .. }) && !self.procs.contains_key(&e.pid) {
            self.inherit(e);
        }
        match &e.kind {
            EventKind::Exec {
                ppid,
                euid,
                gid,
                exe,
                argv,
                cap_effective,
                cap_permitted,
                tty,
                loginuid,
                exe_from_memfd,
                pgrp_leader,
                vpid,
                parent_comm,
                cwd,
                env,
                user,
                group,
                egid,
                login_user,
                sid,
                exe_file,
                ..
            } => {
                // A parent we never saw exec: remember what the event says of it.
                if !parent_comm.is_empty() && !self.procs.contains_key(ppid) {
                    let parent = Proc {
                        pid: *ppid,
                        comm: parent_comm.clone(),
                        exe: e.process.as_ref().and_then(|p| p.parent_exe.clone()).unwrap_or_default(),
                        ..Proc::default()
                    };
                    self.insert(parent);
                }
                if let Some(name) = user {
                    self.learn_user(e, *euid, name);
                }
                let container = e.container.as_ref().map_or(0, |c| container_hash(&c.id));
                let runtime_init = crate::profile::runtime_init_exec(exe, argv, *exe_from_memfd)
                    && self.procs.get(ppid).is_none_or(|parent| parent.container != container);
                let p = Proc {
                    pid: e.pid,
                    ppid: *ppid,
                    comm: e.comm.clone(),
                    exe: exe.clone(),
                    argv: argv.clone(),
                    euid: *euid,
                    user: user.clone(),
                    group: group.clone(),
                    gid: egid.unwrap_or(*gid),
                    shown: (login_user.is_some() || *sid != 0 || exe_file.is_some()).then(|| {
                        Box::new(Shown {
                            login_user: login_user.as_deref().map(String::from),
                            sid: *sid,
                            exe_file: exe_file.as_deref().copied().unwrap_or_default(),
                        })
                    }),
                    caps: *cap_effective,
                    caps_permitted: *cap_permitted,
                    tty: *tty,
                    loginuid: *loginuid,
                    memfd: *exe_from_memfd,
                    pgrp_leader: *pgrp_leader,
                    vpid: *vpid,
                    start_ns: e.time_ns.max(1),
                    listen_ns: 0,
                    listen_fd: 0,
                    cwd: cwd.clone(),
                    env: env.iter().filter(|v| v.contains('=')).cloned().collect(),
                    peer: None,
                    peer_ns: 0,
                    container,
                    runtime_init,
                    gen: 0,
                };
                match self.procs.get_mut(&e.pid) {
                    // An exec keeps the process's sockets, so it keeps its outgoing connection too.
                    Some(old) => *old = Proc { gen: old.gen, peer: old.peer.take(), peer_ns: old.peer_ns, ..p },
                    None => self.insert(p),
                }
            }
            EventKind::Exit { .. } if e.pid == e.tid => {
                self.procs.remove(&e.pid);
            }
            EventKind::Listen { fd, .. } => {
                if let Some(p) = self.procs.get_mut(&e.pid).filter(|p| p.listen_ns == 0) {
                    p.listen_ns = e.time_ns.max(1);
                    p.listen_fd = *fd;
                }
            }
            // (A quarter of a busybox workload's events are set*id calls and execs: this stays cheap.)
            EventKind::SetIds { call, ids, names } if call.contains("uid") => {
                let mut last = None;
                for (id, name) in ids.iter().zip(names) {
                    if let (Ok(id), Some(name)) = (u32::try_from(*id), name) {
                        if last != Some(id) {
                            self.learn_user(e, id, name);
                            last = Some(id);
                        }
                    }
                }
            }
            EventKind::Connect { to } if to.family != "unix" && !resolver_query(to) => {
                if let Some(p) = self.procs.get_mut(&e.pid) {
                    p.peer = Some(to.clone());
                    p.peer_ns = e.time_ns;
                } else {
                    let ppid = e.process.as_ref().and_then(|p| p.ppid).unwrap_or(0);
                    let exe = e.process.as_ref().and_then(|p| p.exe.clone()).unwrap_or_default();
                    self.insert(Proc {
                        pid: e.pid,
                        ppid,
                        comm: e.comm.clone(),
                        exe,
                        peer: Some(to.clone()),
                        peer_ns: e.time_ns,
                        ..Proc::default()
                    });
                }
            }
            EventKind::Open { path, flags } if crate::profile::open_writes(*flags) => self.wrote(e, path),
            // The container runtime's init binding host paths into the container it is starting.
            EventKind::Mount { source, target, flags, .. }
                if flags & MS_BIND != 0 && flags & MS_REMOUNT == 0 && source != target && self.runtime_setup(e) =>
            {
                let Some(c) = &e.container else { return };
                let key = container_hash(&c.id);
                if self.mounts.len() >= MAX_CONTAINERS && !self.mounts.contains_key(&key) {
                    self.mounts.clear();
                }
                let (pid, list) = self.mounts.entry(key).or_insert_with(|| (e.pid, Vec::new()));
                if *pid != e.pid {
                    (*pid, *list) = (e.pid, Vec::new());
                }
                if list.len() < MAX_MOUNTS {
                    let dest = (!target.starts_with("/proc/self/fd/")).then(|| target.clone());
                    list.push(Mount { source: source.clone(), dest });
                }
            }
            // A file moved into place was put there at run time (overlayfs copies a lower file up to rename it).
            EventKind::Rename { to, to_dirfd, .. } => {
                let target = joined_to_cwd(to, *to_dirfd, self.procs.get(&e.pid).map(|p| &*p.cwd)).into_owned();
                self.wrote(e, &target);
            }
            _ => {}
        }
    }

    /// Remembers the name the sensor read for `uid` in the event's cgroup (a container's; bounded).
    fn learn_user(&mut self, e: &Event, uid: u32, name: &str) {
        let key = (e.cgroup_id, uid);
        if self.user_names.get(&key).is_some_and(|n| n == name) {
            return;
        }
        if self.user_names.len() >= MAX_USER_NAMES {
            self.user_names.clear();
        }
        self.user_names.insert(key, name.to_owned());
    }

    /// The name `uid` has in the event's container's user database, as the sensor read it for an earlier event
    /// of its cgroup.
    fn user_name(&self, e: &Event, uid: u32) -> Option<&str> {
        let key = (e.cgroup_id, uid);
        self.user_names.get(&key).map(String::as_str)
    }

    /// The bind mounts the event's container was started with (none seen: empty); `None` outside containers.
    fn mounts_of(&self, e: &Event) -> Option<&[Mount]> {
        let c = e.container.as_ref()?;
        Some(self.mounts.get(&container_hash(&c.id)).map_or(&[][..], |(_, m)| m.as_slice()))
    }

    /// Remembers a file written in the event's container (bounded: the oldest are forgotten first).
    fn wrote(&mut self, e: &Event, path: &str) {
        let key = written_key(e, path);
        if self.written.insert(key) {
            self.written_order.push_back(key);
            while self.written_order.len() > MAX_WRITTEN {
                if let Some(old) = self.written_order.pop_front() {
                    self.written.remove(&old);
                }
            }
        }
    }

    fn insert(&mut self, mut p: Proc) {
        self.next_gen += 1;
        p.gen = self.next_gen;
        self.order.push_back((p.pid, p.gen));
        self.procs.insert(p.pid, p);
        while self.procs.len() > MAX_PROCS {
            let Some((old, gen)) = self.order.pop_front() else { break };
            if self.procs.get(&old).is_some_and(|p| p.gen == gen) {
                self.procs.remove(&old);
            }
        }
        // Entries of processes that exited pile up in `order`: drop them once it is twice the table.
        if self.order.len() > 2 * MAX_PROCS {
            let procs = &self.procs;
            self.order.retain(|(pid, gen)| procs.get(pid).is_some_and(|p| p.gen == *gen));
        }
    }

    /// The process's ancestors, parent first (at most 16).
    pub fn ancestors(&self, pid: u32) -> Vec<&Proc> {
        let mut out = Vec::new();
        let mut cur = self.procs.get(&pid).map(|p| p.ppid);
        while let Some(ppid) = cur {
            if ppid == 0 || out.len() >= MAX_ANCESTORS {
                break;
            }
            match self.procs.get(&ppid) {
                Some(p) => {
                    out.push(p);
                    cur = Some(p.ppid);
                }
                None => break,
            }
        }
        out
    }

    /// Whether the event's thread is the container runtime's own getting its container ready (runc's or crun's
    /// init before it executes the container's program): it goes by a runtime's name, and neither it nor an
    /// ancestor it forked from was seen executing a program in the container — other than the runtime's own init
    /// (`runc init` from the runtime's binary) started from outside the container. A process of the workload can
    /// take the name (`prctl(PR_SET_NAME)`) but not undo its exec, so renaming itself `runc:[2:INIT]` hides
    /// nothing, and running its own binary as `runc init` does not help it either: its parent is in the container.
    /// (A process that ran before the sensor started, never seen exec'ing, is judged by name alone.)
    pub fn runtime_setup(&self, e: &Event) -> bool {
        // The process table first: it is at hand (the event just updated it), the event's command name may not be
        // (asked on every batch of calls, it was a tenth of their scoring time, read from memory).
        // The runtime's own init, started from outside the container, whose exec the sensor saw in the container
        // (it races runc moving it into the container's cgroup), is still the runtime, and so are its forks.
        if let Some(c) = &e.container {
            let ours = container_hash(&c.id);
            if self.procs.get(&e.pid).is_some_and(|p| p.start_ns != 0 && p.container == ours && !p.runtime_init) {
                return false;
            }
        }
        crate::profile::has_runtime_name(&e.comm) || runtime_reexec(e)
    }

    /// A process in the table.
    pub fn process(&self, pid: u32) -> Option<&Proc> {
        self.procs.get(&pid)
    }

    /// The outgoing connection of the process or, failing that, one its parent made just before `now_ns` (within
    /// [`PARENT_PEER_NS`]): a program that connects out and hands the connection to a shell it starts (PHP's
    /// `fsockopen` then `exec("/bin/sh -i <&3 >&3")`). A parent's older connection is a service's own — the
    /// database a web application keeps open, an API it called a minute ago — and the shell it later runs for a
    /// report is not on it.
    pub fn peer(&self, pid: u32, now_ns: u64) -> Option<&SockAddr> {
        let p = self.procs.get(&pid)?;
        p.peer.as_ref().or_else(|| {
            let pp = self.procs.get(&p.ppid)?;
            pp.peer.as_ref().filter(|_| now_ns.saturating_sub(pp.peer_ns) <= PARENT_PEER_NS)
        })
    }

    /// Whether the event's container wrote the file while watched (bounded: the oldest writes are forgotten first).
    pub fn was_written(&self, e: &Event, path: &str) -> bool {
        self.written.contains(&written_key(e, path))
    }
}

/// How recent a parent's outgoing connection must be for a shell it starts to count as connected (`kestrel.connected`).
pub const PARENT_PEER_NS: u64 = 5_000_000_000;

/// A resolver's query: a UDP "connection" to port 53, which glibc's resolver makes for every name it looks up (a
/// web server resolving its own host name at start). It is no session anyone could drive a shell through; a TCP
/// connection to port 53 (a reverse shell slipping out through a firewall's DNS hole) still counts.
fn resolver_query(to: &SockAddr) -> bool {
    to.port == 53 && to.proto == Some(kestrel_core::L4Proto::Udp)
}

/// runc's init before it names itself: runc runs `runc init` by re-executing its own binary through
/// `/proc/self/exe`, so the child's command name is `exe` until it becomes `runc:[0:PARENT]`; its first steps
/// (runc 1.1's cloned binary: a bind mount of `/proc/self/exe` on a file in the container's state directory,
/// a read-only remount, the file's removal, the dynamic loader's calls) race runc moving it into the
/// container's cgroup and are sometimes seen there. Its parent is the runtime's binary, outside the container.
pub(crate) fn runtime_reexec(e: &Event) -> bool {
    e.comm == "exe"
        && (e.process.as_ref().and_then(|p| p.parent_exe.as_deref()).is_some_and(|x| {
            matches!(x.rsplit('/').next(), Some("runc" | "crun")) && !x.starts_with("/proc/") && x.starts_with('/')
        }) || runc_clone_file(e))
}

/// Whether the event makes, mounts on or removes runc's clone of its own binary: a `runc.XXXXXX` file (mkstemp's
/// name) in the state directory named by the event's own container (`/run/runc/ID/`, Docker's
/// `/run/docker/runtime-runc/moby/ID/`), which runc's init bind-mounts its binary on and removes before it runs
/// the container's program (runc 1.1's try_bindfd). Only the runtime, in the host's mount namespace, sees that
/// directory; its init may have exec'd before the sensor read its process (no parent known), so the file alone
/// names it.
fn runc_clone_file(e: &Event) -> bool {
    let Some(c) = &e.container else { return false };
    let path = match &e.kind {
        EventKind::Open { path, .. } | EventKind::Unlink { path, .. } => path,
        EventKind::Mount { target, .. } => target,
        _ => return false,
    };
    let Some((dir, name)) = path.rsplit_once('/') else { return false };
    name.strip_prefix("runc.").is_some_and(|r| r.len() == 6 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
        && !c.id.is_empty()
        && dir.rsplit_once('/').is_some_and(|(_, id)| id == c.id)
}
