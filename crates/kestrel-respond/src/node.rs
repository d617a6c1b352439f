//! Actions on the node, each verified: kill one process, pause (freeze) and resume a container, stop it,
//! isolate its network and restore it, and capture evidence first. A container is its cgroup (v2)
//! directory: what runc, containerd, CRI-O, Docker and Podman all give it.

use std::io::Read;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod skel {
    include!(concat!(env!("OUT_DIR"), "/isolate.skel.rs"));
}
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use skel::IsolateSkelBuilder;

/// Why an action failed, with what it acted on.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// A file of the cgroup or of /proc could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The action was done but did not take effect in time.
    #[error("{0}")]
    NotVerified(String),
    /// The process is not (or no longer) in the container: nothing was done.
    #[error("process {pid} is not in {cgroup}")]
    NotInContainer {
        /// The process.
        pid: u32,
        /// The container's cgroup.
        cgroup: String,
    },
    /// Loading or attaching the isolation programs failed.
    #[error("network isolation: {0}")]
    Bpf(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ActionError + '_ {
    move |source| ActionError::Io { path: path.to_path_buf(), source }
}

/// How long an action may take to show its effect.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(2);

fn wait_for(what: &str, mut done: impl FnMut() -> Result<bool, ActionError>) -> Result<Duration, ActionError> {
    let start = Instant::now();
    loop {
        if done()? {
            return Ok(start.elapsed());
        }
        if start.elapsed() > VERIFY_TIMEOUT {
            return Err(ActionError::NotVerified(format!("{what}: not in effect after {VERIFY_TIMEOUT:?}")));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn read(path: &Path) -> Result<String, ActionError> {
    let mut s = String::new();
    std::fs::File::open(path).and_then(|f| f.take(1 << 20).read_to_string(&mut s)).map_err(io(path))?;
    Ok(s)
}

/// The processes of a cgroup (and its descendants).
pub fn cgroup_pids(cg: &Path) -> Result<Vec<u32>, ActionError> {
    let mut out = Vec::new();
    let mut stack = vec![cg.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let procs = dir.join("cgroup.procs");
        out.extend(read(&procs)?.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            stack.extend(entries.filter_map(Result::ok).filter(|e| e.path().is_dir()).map(|e| e.path()));
        }
    }
    Ok(out)
}

/// Whether the cgroup says it is frozen.
pub fn is_frozen(cg: &Path) -> Result<bool, ActionError> {
    Ok(read(&cg.join("cgroup.events"))?.lines().any(|l| l.trim() == "frozen 1"))
}

/// Freezes (`true`) or thaws a container; returns once the kernel says it is done.
pub fn freeze(cg: &Path, frozen: bool) -> Result<Duration, ActionError> {
    let f = cg.join("cgroup.freeze");
    std::fs::write(&f, if frozen { "1" } else { "0" }).map_err(io(&f))?;
    wait_for(if frozen { "freeze" } else { "thaw" }, || Ok(is_frozen(cg)? == frozen))
}

/// Kills every process of a container (`cgroup.kill`); returns once none is left.
pub fn stop(cg: &Path) -> Result<Duration, ActionError> {
    let f = cg.join("cgroup.kill");
    std::fs::write(&f, "1").map_err(io(&f))?;
    wait_for("stop", || Ok(cgroup_pids(cg)?.is_empty()))
}

/// The cgroup (v2) path of a process, as /proc says it (`/kestrel-lab/web`).
pub fn cgroup_of(pid: u32) -> Result<String, ActionError> {
    let p = PathBuf::from(format!("/proc/{pid}/cgroup"));
    let text = read(&p)?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|s| s.trim().to_string())
        .ok_or_else(|| ActionError::NotVerified(format!("{}: no cgroup v2 line", p.display())))
}

/// Kills one process of a container with SIGKILL through a pidfd (so that a recycled pid is never hit),
/// after checking it is in the container; returns once it is gone.
pub fn kill_process(pid: u32, cgroup_rel: &str) -> Result<Duration, ActionError> {
    let here = cgroup_of(pid)?;
    if here != cgroup_rel && !here.starts_with(&format!("{cgroup_rel}/")) {
        return Err(ActionError::NotInContainer { pid, cgroup: cgroup_rel.into() });
    }
    // SAFETY: plain system calls with integer arguments; the fd is closed below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) } as libc::c_int;
    if fd < 0 {
        return Err(ActionError::Io { path: format!("/proc/{pid}").into(), source: std::io::Error::last_os_error() });
    }
    // The pid was checked before the pidfd was opened: check again that the pidfd is that process.
    let still = cgroup_of(pid).map(|c| c == here).unwrap_or(false);
    if !still {
        // SAFETY: fd is ours.
        unsafe { libc::close(fd) };
        return Err(ActionError::NotInContainer { pid, cgroup: cgroup_rel.into() });
    }
    // SAFETY: a valid pidfd, a signal number, no siginfo.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd, libc::SIGKILL, std::ptr::null::<u8>(), 0) };
    let sent = if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) };
    let result =
        sent.map_err(|source| ActionError::Io { path: format!("/proc/{pid}").into(), source }).and_then(|_| {
            wait_for("kill", || {
                // A pidfd becomes readable when the process has exited.
                let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
                // SAFETY: one valid pollfd, no wait.
                let n = unsafe { libc::poll(&mut p, 1, 0) };
                Ok(n > 0)
            })
        });
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    result
}

/// Where the isolation links of a cgroup are pinned (bpffs), so that an isolation outlives the agent:
/// a crash never leaves a container half-isolated without a record, and `restore` finds them again.
pub fn pin_dir(bpffs: &Path, cgroup_id: u64) -> PathBuf {
    bpffs.join("kestrel").join(format!("isolate-{cgroup_id}"))
}

/// The cgroup id (inode number) of a cgroup directory.
pub fn cgroup_id(cg: &Path) -> Result<u64, ActionError> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(cg).map_err(io(cg))?.ino())
}

/// Mounts bpffs at `/sys/fs/bpf` when it is not mounted.
pub fn ensure_bpffs(path: &Path) -> Result<(), ActionError> {
    let mounts = read(Path::new("/proc/self/mounts"))?;
    let target = path.to_string_lossy();
    if mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(&*target) && l.split_whitespace().nth(2) == Some("bpf"))
    {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(io(path))?;
    let c = std::ffi::CString::new(target.as_bytes()).map_err(|_| ActionError::Bpf("bpffs path has a NUL".into()))?;
    // SAFETY: mount(2) with valid NUL-terminated strings and no data.
    let rc = unsafe { libc::mount(c"bpf".as_ptr(), c.as_ptr(), c"bpf".as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(ActionError::Io { path: path.into(), source: std::io::Error::last_os_error() });
    }
    Ok(())
}

/// The isolation programs, loaded once (loading and verifying takes tens of milliseconds; attaching a
/// loaded program to one more cgroup takes microseconds).
#[derive(Default)]
pub struct Isolator {
    loaded: [Option<skel::IsolateSkel<'static>>; 2],
}

impl Isolator {
    fn programs(&mut self, keep_loopback: bool) -> Result<&skel::IsolateSkel<'static>, ActionError> {
        let slot = usize::from(keep_loopback);
        if self.loaded[slot].is_none() {
            let bpf = |what: &'static str| move |e: libbpf_rs::Error| ActionError::Bpf(format!("{what}: {e}"));
            // The object lives as long as the agent: at most two are ever loaded.
            let storage: &'static mut MaybeUninit<libbpf_rs::OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
            let mut open = IsolateSkelBuilder::default().open(storage).map_err(bpf("opening"))?;
            if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
                ro.keep_loopback = i32::from(keep_loopback);
            }
            // The blocked destinations live in one map pinned in bpffs: shared by every load, kept when the
            // agent goes.
            ensure_bpffs(Path::new(BPFFS))?;
            let dir = Path::new(BPFFS).join("kestrel");
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            open.maps.blocked.set_pin_path(dir.join(BLOCKED_MAP)).map_err(bpf("pinning the blocked map"))?;
            self.loaded[slot] = Some(open.load().map_err(bpf("loading"))?);
        }
        self.loaded[slot].as_ref().ok_or_else(|| ActionError::Bpf("not loaded".into()))
    }

    /// Loads the programs now (so that the first isolation is as fast as the others).
    pub fn preload(&mut self) -> Result<(), ActionError> {
        self.programs(false)?;
        self.programs(true).map(|_| ())
    }

    /// Cuts a container's network: every packet it sends or receives is dropped (loopback kept when
    /// `keep_loopback`, for a container with its own network namespace). The links are pinned under
    /// [`pin_dir`] so that the isolation outlives the agent; returns that directory.
    pub fn isolate(&mut self, cg: &Path, bpffs: &Path, keep_loopback: bool) -> Result<PathBuf, ActionError> {
        let bpf = |what: &'static str| move |e: libbpf_rs::Error| ActionError::Bpf(format!("{what}: {e}"));
        ensure_bpffs(bpffs)?;
        let dir = pin_dir(bpffs, cgroup_id(cg)?);
        if dir.join("egress").exists() && dir.join("ingress").exists() {
            return Ok(dir);
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let skel = self.programs(keep_loopback)?;
        let file = std::fs::File::open(cg).map_err(io(cg))?;
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // A link lives while this process holds it or once it is pinned: a crash before a pin leaves
        // nothing behind. Each direction is attached only when its pin is missing, so a second call
        // completes a half-done isolation.
        if !dir.join("egress").exists() {
            let mut eg = skel.progs.isolate_egress.attach_cgroup(fd).map_err(bpf("attaching egress"))?;
            eg.pin(dir.join("egress")).map_err(bpf("pinning egress"))?;
        }
        crate::crash_point("isolate-half");
        if !dir.join("ingress").exists() {
            let mut ing = skel.progs.isolate_ingress.attach_cgroup(fd).map_err(bpf("attaching ingress"))?;
            ing.pin(dir.join("ingress")).map_err(bpf("pinning ingress"))?;
        }
        Ok(dir)
    }
}

impl Isolator {
    /// Blocks one destination for a container: its processes' `connect` to `addr` (any address when
    /// `None`) and `port` (any port when 0), and their datagrams sent there without a connection, fail with
    /// EPERM, over IPv4 and IPv6 (an IPv4 address is blocked
    /// from IPv6 sockets too, as `::ffff:a.b.c.d`). Returns the key's description.
    pub fn block(&mut self, cg: &Path, addr: Option<std::net::IpAddr>, port: u16) -> Result<String, ActionError> {
        let bpf = |what: &'static str| move |e: libbpf_rs::Error| ActionError::Bpf(format!("{what}: {e}"));
        let id = cgroup_id(cg)?;
        let dir = pin_dir(Path::new(BPFFS), id);
        let skel = self.programs(false)?;
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let file = std::fs::File::open(cg).map_err(io(cg))?;
        use std::os::fd::AsRawFd;
        // connect(2), and datagrams sent without a connection; each hook attached once per container.
        let hooks = [
            ("connect4", &skel.progs.block_connect4),
            ("connect6", &skel.progs.block_connect6),
            ("sendmsg4", &skel.progs.block_sendmsg4),
            ("sendmsg6", &skel.progs.block_sendmsg6),
        ];
        for (name, prog) in hooks {
            if !dir.join(name).exists() {
                let mut link = prog
                    .attach_cgroup(file.as_raw_fd())
                    .map_err(|e| ActionError::Bpf(format!("attaching {name}: {e}")))?;
                link.pin(dir.join(name)).map_err(|e| ActionError::Bpf(format!("pinning {name}: {e}")))?;
            }
        }
        use libbpf_rs::MapCore;
        let key = block_key(id, addr, port);
        skel.maps
            .blocked
            .update(&key, &0u64.to_ne_bytes(), libbpf_rs::MapFlags::ANY)
            .map_err(bpf("adding the destination"))?;
        Ok(describe_block(addr, port))
    }
}

/// The BPF file system kestrel pins its links and maps in.
pub const BPFFS: &str = "/sys/fs/bpf";

/// The pinned map of blocked destinations (`/sys/fs/bpf/kestrel/blocked-v2`; v2: IPv6 keys).
const BLOCKED_MAP: &str = "blocked-v2";

fn block_key(cgroup: u64, addr: Option<std::net::IpAddr>, port: u16) -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    k.extend_from_slice(&cgroup.to_ne_bytes());
    // The address as the kernel holds it (network order in memory); IPv4 as ::ffff:a.b.c.d.
    let v6 = match addr {
        None => [0; 16],
        Some(std::net::IpAddr::V4(a)) => a.to_ipv6_mapped().octets(),
        Some(std::net::IpAddr::V6(a)) => a.octets(),
    };
    k.extend_from_slice(&v6);
    k.extend_from_slice(&u32::from(port).to_ne_bytes());
    k.extend_from_slice(&[0; 4]);
    k
}

fn describe_block(addr: Option<std::net::IpAddr>, port: u16) -> String {
    let a = addr.map_or("any address".to_string(), |a| a.to_string());
    if port == 0 {
        format!("{a}, any port")
    } else {
        format!("{a} port {port}")
    }
}

/// Lifts a block (undo), through the pinned map: works from any process, after a restart too.
pub fn unblock(cg: &Path, addr: Option<std::net::IpAddr>, port: u16) -> Result<(), ActionError> {
    use libbpf_rs::MapCore;
    let path = Path::new(BPFFS).join("kestrel").join(BLOCKED_MAP);
    let map = libbpf_rs::MapHandle::from_pinned_path(&path)
        .map_err(|e| ActionError::Bpf(format!("{}: {e}", path.display())))?;
    let key = block_key(cgroup_id(cg)?, addr, port);
    match map.delete(&key) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == libbpf_rs::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ActionError::Bpf(format!("removing the destination: {e}"))),
    }
}

/// [`Isolator::isolate`] with programs loaded for this one call.
pub fn isolate(cg: &Path, bpffs: &Path, keep_loopback: bool) -> Result<PathBuf, ActionError> {
    Isolator::default().isolate(cg, bpffs, keep_loopback)
}

/// Whether a container is isolated (its pinned links are there).
pub fn is_isolated(cg: &Path, bpffs: &Path) -> Result<bool, ActionError> {
    Ok(isolation_links(cg, bpffs)? == 2)
}

/// How many of the two isolation links (egress, ingress) are pinned for a container.
pub fn isolation_links(cg: &Path, bpffs: &Path) -> Result<usize, ActionError> {
    let dir = pin_dir(bpffs, cgroup_id(cg)?);
    Ok(["egress", "ingress"].iter().filter(|n| dir.join(n).exists()).count())
}

/// Whether a destination is blocked for a container (its entry is in the pinned map).
pub fn is_blocked(cg: &Path, addr: Option<std::net::IpAddr>, port: u16) -> Result<bool, ActionError> {
    use libbpf_rs::MapCore;
    let path = Path::new(BPFFS).join("kestrel").join(BLOCKED_MAP);
    if !path.exists() {
        return Ok(false);
    }
    let map = libbpf_rs::MapHandle::from_pinned_path(&path)
        .map_err(|e| ActionError::Bpf(format!("{}: {e}", path.display())))?;
    let key = block_key(cgroup_id(cg)?, addr, port);
    map.lookup(&key, libbpf_rs::MapFlags::ANY)
        .map(|v| v.is_some())
        .map_err(|e| ActionError::Bpf(format!("looking the destination up: {e}")))
}

/// Gives a container its network back: detaches and unpins the isolation links.
pub fn restore(cg: &Path, bpffs: &Path) -> Result<(), ActionError> {
    let dir = pin_dir(bpffs, cgroup_id(cg)?);
    for name in ["egress", "ingress"] {
        let path = dir.join(name);
        if !path.exists() {
            continue;
        }
        let mut link =
            libbpf_rs::Link::open(&path).map_err(|e| ActionError::Bpf(format!("{}: {e}", path.display())))?;
        link.detach().map_err(|e| ActionError::Bpf(format!("detaching {}: {e}", path.display())))?;
        link.unpin().map_err(|e| ActionError::Bpf(format!("unpinning {}: {e}", path.display())))?;
    }
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}

/// Detaches and unpins every link kestrel pinned for a container (isolation and blocks), for when the
/// container is gone: a pinned link would otherwise keep its cgroup alive.
pub fn release_all(cg_id: u64, bpffs: &Path) -> Result<(), ActionError> {
    let dir = pin_dir(bpffs, cg_id);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
    for e in entries.filter_map(Result::ok) {
        let path = e.path();
        let mut link =
            libbpf_rs::Link::open(&path).map_err(|e| ActionError::Bpf(format!("{}: {e}", path.display())))?;
        let _ = link.detach();
        link.unpin().map_err(|e| ActionError::Bpf(format!("unpinning {}: {e}", path.display())))?;
    }
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}

/// Releases the pins of every container that is gone (its cgroup no longer exists), so that dead cgroups
/// are not kept alive by kestrel's links; returns their cgroup ids. Cheap when nothing is pinned; otherwise
/// one bounded walk of the cgroup tree.
pub fn sweep(bpffs: &Path, cgroup_root: &Path) -> Result<Vec<u64>, ActionError> {
    use std::os::unix::fs::MetadataExt;
    let dir = bpffs.join("kestrel");
    let pinned: Vec<u64> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("isolate-")?.parse().ok())
            .collect(),
        Err(_) => return Ok(vec![]),
    };
    if pinned.is_empty() {
        return Ok(vec![]);
    }
    let mut alive = std::collections::HashSet::new();
    let mut stack = vec![(cgroup_root.to_path_buf(), 0)];
    while let Some((d, depth)) = stack.pop() {
        if alive.len() > 200_000 {
            // Too large a tree to be sure of anything: release nothing.
            return Ok(vec![]);
        }
        if let Ok(m) = std::fs::metadata(&d) {
            alive.insert(m.ino());
        }
        if depth < 16 {
            for e in std::fs::read_dir(&d).into_iter().flatten().filter_map(Result::ok) {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push((e.path(), depth + 1));
                }
            }
        }
    }
    let gone: Vec<u64> = pinned.into_iter().filter(|id| !alive.contains(id)).collect();
    for id in &gone {
        release_all(*id, bpffs)?;
    }
    Ok(gone)
}

/// What was found in a container before acting.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// The processes: pid, parent, command line, executable, open files (at most 64 each).
    pub processes: Vec<ProcessEvidence>,
    /// TCP connections of the container's own network namespace (`/proc/PID/net/tcp{,6}`), as lines; empty
    /// for a container on the host's network.
    pub connections: Vec<String>,
    /// Copies of the files the alert's events wrote, made setuid or executed (when the policy has an
    /// `evidence_dir`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileEvidence>,
}

/// One file copied as evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileEvidence {
    /// The path inside the container.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// SHA-256 of the content, hex.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// Where the copy is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub copy: String,
    /// Why it was not copied.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub skipped: String,
}

/// At most this many files are copied per alert.
pub const MAX_EVIDENCE_FILES: usize = 16;
/// A file larger than this is hashed no further and not copied.
pub const MAX_EVIDENCE_FILE_BYTES: u64 = 8 << 20;

/// Copies the files the alert's events point at (written, made setuid, executed) from inside the container
/// to `dir`, bounded in number and size, each with its SHA-256. `pids` are processes whose view of the
/// file system to use, tried in order (the alert's own process may be gone).
pub fn copy_files(paths: &[String], pids: &[u32], dir: &Path) -> Vec<FileEvidence> {
    use sha2::Digest;
    use std::io::Read;
    let mut out = Vec::new();
    for (i, path) in paths.iter().take(MAX_EVIDENCE_FILES).enumerate() {
        let mut f = FileEvidence { path: path.clone(), ..Default::default() };
        let opened = pids.iter().find_map(|&pid| kestrel_sensor::users::open_in_root(pid, path).ok());
        let Some(mut file) = opened else {
            f.skipped = "cannot be opened inside the container (gone, or not a plain path)".into();
            out.push(f);
            continue;
        };
        match file.metadata() {
            Ok(m) if !m.is_file() => f.skipped = "not a regular file".into(),
            Ok(m) if m.len() > MAX_EVIDENCE_FILE_BYTES => {
                f.size = m.len();
                f.skipped = format!("larger than {} MiB", MAX_EVIDENCE_FILE_BYTES >> 20);
            }
            Ok(_) => {
                let mut buf = Vec::new();
                match (&mut file).take(MAX_EVIDENCE_FILE_BYTES).read_to_end(&mut buf) {
                    Ok(n) => {
                        f.size = n as u64;
                        f.sha256 = format!("{:x}", sha2::Sha256::digest(&buf));
                        let name =
                            path.rsplit('/').next().unwrap_or("file").replace(|c: char| !c.is_ascii_graphic(), "_");
                        let dest = dir.join(format!("{i:02}-{name}"));
                        match std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&dest, &buf)) {
                            Ok(()) => f.copy = dest.display().to_string(),
                            Err(e) => f.skipped = format!("{}: {e}", dest.display()),
                        }
                    }
                    Err(e) => f.skipped = e.to_string(),
                }
            }
            Err(e) => f.skipped = e.to_string(),
        }
        out.push(f);
    }
    out
}

/// One process of the evidence.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ProcessEvidence {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Command line.
    pub cmdline: String,
    /// Executable.
    pub exe: String,
    /// Open files and sockets.
    pub fds: Vec<String>,
}

/// Captures the processes, their open files and — for a container with a network namespace of its own —
/// its TCP connections (bounded). A container sharing the host's network has the host's connection
/// table, which is not its evidence (and can be large enough to cost milliseconds to read): its sockets are
/// among its open files.
pub fn evidence(cg: &Path, own_netns: bool) -> Evidence {
    let mut ev = Evidence::default();
    for pid in cgroup_pids(cg).unwrap_or_default().into_iter().take(256) {
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let status = read(&proc_dir.join("status")).unwrap_or_default();
        let ppid =
            status.lines().find_map(|l| l.strip_prefix("PPid:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        let cmdline = read(&proc_dir.join("cmdline")).unwrap_or_default().replace('\0', " ").trim().to_string();
        let exe = std::fs::read_link(proc_dir.join("exe")).map(|p| p.display().to_string()).unwrap_or_default();
        let fds = std::fs::read_dir(proc_dir.join("fd"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .take(64)
                    .filter_map(|e| {
                        std::fs::read_link(e.path())
                            .ok()
                            .map(|t| format!("{}: {}", e.file_name().to_string_lossy(), t.display()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if own_netns && ev.connections.is_empty() {
            for f in ["net/tcp", "net/tcp6"] {
                ev.connections.extend(
                    read(&proc_dir.join(f)).unwrap_or_default().lines().skip(1).take(256).map(|l| l.trim().to_string()),
                );
            }
        }
        ev.processes.push(ProcessEvidence { pid, ppid, cmdline, exe, fds });
    }
    ev
}
