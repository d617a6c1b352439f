//! Loading, attaching and reading the BPF program.

use crate::cgroup::{cgroup2_root, Resolver};
use crate::decode::{decode, Record};
use crate::preflight::{preflight, SensorError};
use crate::users::{Db, UserNames};
use kestrel_core::{Event, EventKind, ProcessRef, EVENT_SCHEMA};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::MapCore;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

#[allow(missing_docs, clippy::all, clippy::pedantic, unsafe_op_in_unsafe_fn, dead_code, non_camel_case_types)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/sensor.skel.rs"));
}
use skel::{SensorSkel, SensorSkelBuilder};

/// Cgroups created since the consumer last looked, oldest first.
type CgroupNews = Arc<std::sync::Mutex<std::collections::VecDeque<(u64, String)>>>;
/// Most cgroup creations kept between two events.
const MAX_CGROUP_NEWS: usize = 65_536;

/// The longest an event waits in the ring buffer before the reader takes it: the reader's wait after a
/// read (an event within a millisecond of the wake-up before it does not wake the reader again).
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// The reader's wait while nothing happens (events wake it: only the stop flag and the drop counters are
/// looked at this often).
const IDLE_POLL: Duration = Duration::from_millis(100);
/// Records in one read that make the reader nap before the next (a flood), and the nap.
const BUSY_READ: u64 = 256;
const BUSY_NAP: Duration = Duration::from_millis(3);

/// What to watch.
#[derive(Debug, Clone)]
pub struct Config {
    /// Every process on the host (the agent itself excepted).
    pub watch_all: bool,
    /// cgroup v2 directories whose processes, and their descendants', are watched (containers are usually
    /// watched through their parents: `/sys/fs/cgroup/system.slice`, `kubepods.slice`, a runc parent…).
    pub watch_cgroups: Vec<PathBuf>,
    /// cgroup v2 directories not made yet (a container engine's parent before its first container: Docker's
    /// `/docker`, the kubelet's `kubepods`): watched, with their descendants, from the moment they are made.
    pub watch_when_made: Vec<PathBuf>,
    /// The cgroups of `watch_when_made` stream their system-call ids too once made, as `stream_cgroups` do.
    pub stream_when_made: bool,
    /// cgroup paths (relative to the cgroup2 root) under which runc containers are named by their directory.
    pub runc_parents: Vec<String>,
    /// Records queued between the reader and the consumer, however they are batched; more are dropped and
    /// counted.
    pub queue_len: usize,
    /// cgroup v2 directories whose threads (and their descendants') stream their system-call ids. Empty: the
    /// stream's program is not even loaded (it would run on every system call of the host).
    pub stream_cgroups: Vec<PathBuf>,
    /// The node's kubelet, asked for pod names, namespaces and labels (optional).
    pub kubelet: Option<crate::kubelet::KubeletConfig>,
    /// Also look at opens when they return (the open calls' `sys_exit` tracepoints), and judge a read by the
    /// opened file's own name: a sensitive file read through a symbolic link is seen too. Costs every system
    /// call of the host ≈ 18 ns (any `sys_exit` tracepoint does). Off (the default), opens are judged when
    /// made: by the path as given, and one that does not say where its file is (relative, `..`, `//`, a
    /// directory descriptor) is resolved against its directory when it writes or ends in a sensitive name.
    pub open_returns: bool,
    /// Report every open for reading by a watched process, not only reads of sensitive files: the profiles then
    /// learn which files each program reads (a service reading its own source, `/etc/passwd` or another
    /// tenant's data in-process is seen). Costs an event per read-only open (docs/BENCHMARKS.md); with
    /// `open_returns` a read is reported when it succeeds, with the opened file's path.
    pub all_reads: bool,
    /// Event kinds to do without (from [`LEAVABLE`]): their system-call probes are not loaded, so the calls
    /// cost nothing more, and the same requests through io_uring are dropped in userspace.
    pub leave_out: Vec<String>,
    /// Where the runtimes keep their containers' state (runc roots, Docker's data root), read for each
    /// container's image, pod and labels.
    pub state: crate::runtime::StateDirs,
}

/// The event kinds a node can do without, and their system-call probes. Frequent calls whose probes cost
/// something even when they report nothing (see docs/BENCHMARKS.md: bench/calls.sh).
pub const LEAVABLE: &[(&str, &[&str])] = &[
    ("send", &["on_sendto", "on_sendmsg", "on_sendmmsg"]),
    ("dup", &["on_dup", "on_dup2", "on_dup3", "on_fcntl"]),
    ("mkdir", &["on_mkdir", "on_mkdirat"]),
    ("unlink", &["on_unlink", "on_unlinkat", "on_rmdir"]),
    ("truncate", &["on_ftruncate", "on_truncate"]),
    ("rename", &["on_rename", "on_renameat", "on_renameat2"]),
    ("link", &["on_symlink", "on_symlinkat", "on_link", "on_linkat"]),
    ("socket", &["on_socket"]),
    ("mmap", &["on_mmap"]),
    ("exec-memory", MPROTECT_PROGS),
    ("dns", &["on_dns_sendto", "on_dns_sendmsg", "on_dns_sendmmsg", "on_dns_write", "on_dns_writev"]),
];

/// The kinds of [`LEAVABLE`] a sensor started with `leave_out` reports here: those not left out, by the caller,
/// by `KESTREL_SENSOR_SKIP` (every one of the kind's probes named there), or by the kernel (`exec-memory` without
/// `bpf_find_vma`). Kept with what it saw (a recording's header), it tells a profile learned from those events
/// whether a rare kind's absence means the workload never did it, or that no one looked.
pub fn reported_kinds(leave_out: &[String]) -> Vec<&'static str> {
    let skip = skipped_programs();
    LEAVABLE
        .iter()
        .filter(|(kind, progs)| {
            !leave_out.iter().any(|l| l == kind)
                && !progs.iter().all(|p| skip.iter().any(|s| s == p))
                && (*kind != "exec-memory" || has_find_vma())
        })
        .map(|(kind, _)| *kind)
        .collect()
}

/// Diagnostics: `KESTREL_SENSOR_SKIP=on_openat,on_sock_state…` leaves those programs (or sections) out, to measure
/// what each costs a workload; what they would report is then not seen.
fn skipped_programs() -> Vec<String> {
    let skip = std::env::var("KESTREL_SENSOR_SKIP").unwrap_or_default();
    skip.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// The mprotect probes: they need `bpf_find_vma` (Linux 5.17), and are left out, and said so, on a kernel without
/// it.
const MPROTECT_PROGS: &[&str] = &["on_mprotect", "on_pkey_mprotect"];

impl Default for Config {
    fn default() -> Self {
        Config {
            watch_all: false,
            watch_cgroups: Vec::new(),
            watch_when_made: Vec::new(),
            stream_when_made: false,
            runc_parents: Vec::new(),
            queue_len: 65_536,
            stream_cgroups: Vec::new(),
            kubelet: None,
            open_returns: false,
            all_reads: false,
            leave_out: Vec::new(),
            state: crate::runtime::StateDirs::default(),
        }
    }
}

/// Counters, shared with the reader thread.
#[derive(Debug, Default)]
pub struct Stats {
    /// Records read from the ring buffer.
    pub received: AtomicU64,
    /// Records the kernel could not write: the ring buffer was full.
    pub dropped_ring_full: AtomicU64,
    /// Records written without a part the kernel could not read (argv of an exec).
    pub partial_reads: AtomicU64,
    /// Records dropped because the queue to the consumer was full.
    pub dropped_queue_full: AtomicU64,
    /// Records that did not decode.
    pub undecodable: AtomicU64,
    /// Events of kinds left out (`Config::leave_out`) that still came, from io_uring requests, and were dropped.
    pub left_out: AtomicU64,
    /// Records waiting for the consumer now (a level, not a count: at most `Config::queue_len`).
    pub queued: AtomicU64,
}

impl Stats {
    /// A plain copy, as JSON-ready pairs.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("received", self.received.load(Ordering::Relaxed)),
            ("dropped_ring_full", self.dropped_ring_full.load(Ordering::Relaxed)),
            ("dropped_queue_full", self.dropped_queue_full.load(Ordering::Relaxed)),
            ("partial_reads", self.partial_reads.load(Ordering::Relaxed)),
            ("undecodable", self.undecodable.load(Ordering::Relaxed)),
            ("left_out", self.left_out.load(Ordering::Relaxed)),
            // A level: how far the consumer is behind.
            ("queued", self.queued.load(Ordering::Relaxed)),
        ]
    }
}

/// A running sensor.
pub struct Sensor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), SensorError>>>,
    rx: Receiver<Vec<Record>>,
    /// The batch being handed out.
    batch: std::vec::IntoIter<Record>,
    stats: Arc<Stats>,
    news: CgroupNews,
    resolver: Resolver,
    procs: crate::procs::ProcessTable,
    opens: crate::opens::SensitiveOpens,
    users: UserNames,
    /// Wall-clock nanoseconds minus boot-clock nanoseconds.
    boot_to_wall_ns: i128,
    /// Kinds left out (`Config::leave_out`).
    leave_out: Vec<&'static str>,
}

/// Wall-clock minus boot-clock nanoseconds: the BPF program stamps events with the boot clock
/// (`bpf_ktime_get_boot_ns`, which keeps counting through suspend), people read wall-clock times.
fn boot_to_wall() -> i128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    let boot = if rc == 0 { ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128 } else { 0 };
    let wall =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as i128;
    wall - boot
}

impl Sensor {
    /// Checks the machine, loads and attaches the program, and starts the reader. Returns once attached:
    /// what watched processes do from then on is seen.
    pub fn start(cfg: Config) -> Result<Sensor, SensorError> {
        preflight()?;
        let mut leave_out = Vec::new();
        let mut skip_progs = Vec::new();
        for kind in &cfg.leave_out {
            let Some((name, progs)) = LEAVABLE.iter().find(|(k, _)| k == kind) else {
                let known: Vec<&str> = LEAVABLE.iter().map(|(k, _)| *k).collect();
                return Err(SensorError::Unsupported(format!(
                    "{kind}: not an event kind that can be left out ({})",
                    known.join(", ")
                )));
            };
            leave_out.push(*name);
            skip_progs.extend_from_slice(progs);
        }
        let root = cgroup2_root().ok_or_else(|| {
            SensorError::Unsupported("no cgroup v2 hierarchy is mounted (see /proc/self/mountinfo)".into())
        })?;
        let ids = cgroup_ids(&cfg.watch_cgroups)?;
        let stream_ids = cgroup_ids(&cfg.stream_cgroups)?;
        let pods = cfg.kubelet.clone().map(crate::kubelet::Pods::start).transpose().map_err(SensorError::Kubelet)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Stats::default());
        // Records travel in batches (one wake-up of the consumer per batch, not per event); the queue holds
        // at most `queue_len` records, however small the batches (a batch holds one at least, so the channel's
        // slots never run out first).
        let batching = Batching { len: cfg.queue_len.clamp(1, MAX_BATCH), cap: cfg.queue_len.max(1) };
        let (tx, rx) = batching.channel();
        let (ready_tx, ready_rx) = sync_channel::<Result<(), SensorError>>(1);
        let news: CgroupNews = Arc::default();
        let (t_stop, t_stats, t_news) = (stop.clone(), stats.clone(), news.clone());
        // Paths as the kernel names cgroups to `cgroup_mkdir`: below the hierarchy's root, from `/`.
        let watch_when_made = cfg
            .watch_when_made
            .iter()
            .map(|p| {
                let rel = p.strip_prefix(&root).ok().and_then(|r| r.to_str()).filter(|r| !r.is_empty());
                let rel = rel.ok_or_else(|| SensorError::Cgroup {
                    path: p.display().to_string(),
                    reason: format!("not below the cgroup v2 hierarchy at {}", root.display()),
                })?;
                Ok((format!("/{}", rel.trim_end_matches('/')), p.clone()))
            })
            .collect::<Result<Vec<(String, PathBuf)>, SensorError>>()?;
        let load = Load {
            watch_all: cfg.watch_all,
            watch_ids: ids,
            stream_when_made: cfg.stream_when_made && !watch_when_made.is_empty(),
            watch_when_made,
            stream_ids,
            open_returns: cfg.open_returns,
            all_reads: cfg.all_reads,
            skip_progs,
        };
        let thread = std::thread::Builder::new()
            .name("kestrel-sensor".into())
            .spawn(move || reader(load, batching, tx, ready_tx, t_stop, t_stats, t_news))
            .map_err(|e| SensorError::Bpf(format!("cannot start the reader thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => return Err(SensorError::Bpf("the reader thread ended before attaching".into())),
        }
        let mut resolver = Resolver::new(root, cfg.runc_parents.clone()).with_state(cfg.state.clone());
        if let Some(p) = pods {
            resolver = resolver.with_pods(p);
        }
        resolver.rescan();
        let procs = crate::procs::ProcessTable::new(65_536);
        Ok(Sensor {
            stop,
            thread: Some(thread),
            rx,
            batch: Vec::new().into_iter(),
            stats,
            news,
            resolver,
            procs,
            users: UserNames::new(),
            opens: crate::opens::SensitiveOpens::new(cfg.all_reads),
            boot_to_wall_ns: boot_to_wall(),
            leave_out,
        })
    }

    /// The next event, waiting at most `timeout`; `None` when none came.
    pub fn next(&mut self, timeout: Duration) -> Option<Event> {
        // The clock is read only when the queue has to be waited on (not per event: at 500 k events a second
        // it showed in the profile).
        let mut deadline = None;
        loop {
            match self.batch.next() {
                // A kind left out can still come from an io_uring request (one program serves them all), or from a
                // probe it shares with a kind kept (anonymous memory made executable by mmap: the mmap probe's).
                Some(Record::Event(raw)) if !self.leave_out.is_empty() && self.leave_out.contains(&raw.kind.name()) => {
                    self.stats.left_out.fetch_add(1, Ordering::Relaxed);
                }
                Some(Record::Event(raw)) => {
                    self.opens.entered(&raw);
                    return Some(self.enrich(raw));
                }
                Some(Record::ResolvedOpen { raw, at_entry }) => {
                    if self.opens.is_news(&raw, at_entry) {
                        return Some(self.enrich(raw));
                    }
                }
                Some(Record::Cgroup { id, path }) => self.resolver.learn(id, path),
                Some(Record::Fork { pid, ppid }) => self.procs.forked(pid, ppid),
                None => {
                    let now = std::time::Instant::now();
                    let left = deadline.get_or_insert(now + timeout).saturating_duration_since(now);
                    match self.rx.recv_timeout(left) {
                        Ok(batch) => {
                            self.stats.queued.fetch_sub(batch.len() as u64, Ordering::Relaxed);
                            // Cgroups created before the batch's events were read name their containers.
                            let learned: Vec<(u64, String)> =
                                self.news.lock().map(|mut n| n.drain(..).collect()).unwrap_or_default();
                            for (id, path) in learned {
                                self.resolver.learn(id, path);
                            }
                            self.batch = batch.into_iter();
                        }
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
                    }
                }
            }
        }
    }

    fn enrich(&mut self, mut raw: crate::decode::Raw) -> Event {
        let h = raw.header;
        let container = self.resolver.container(h.cgroup_id, matches!(raw.kind, EventKind::Exec { .. }));
        self.name_ids(h.pid, h.cgroup_id, &mut raw.kind);
        Event {
            schema: EVENT_SCHEMA.into(),
            time_ns: (h.boot_ns as i128 + self.boot_to_wall_ns).max(0) as u64,
            pid: h.pid,
            tid: h.tid,
            comm: h.comm,
            cgroup_id: h.cgroup_id,
            container,
            process: Some(ProcessRef { euid: Some(h.euid), ..self.procs.observe(h.pid, &raw.kind) }),
            kind: raw.kind,
        }
    }

    /// Names an exec's user and the ids a set*id call asks for, from the process's own user and group
    /// databases (a container's `/etc/passwd` and `/etc/group`).
    fn name_ids(&mut self, pid: u32, cgroup: u64, kind: &mut EventKind) {
        if !matches!(kind, EventKind::Exec { .. } | EventKind::SetIds { .. }) {
            return;
        }
        // The process's root, found once for all the ids the event names.
        let resolver = &self.resolver;
        let Some(root) = self.users.root(cgroup, pid, || resolver.pids(cgroup, 8)) else { return };
        match kind {
            EventKind::Exec { euid, user, gid, egid, group, loginuid, login_user, .. } => {
                *user = self.users.name_in(root, Db::Users, *euid);
                *group = self.users.name_in(root, Db::Groups, egid.unwrap_or(*gid));
                if *loginuid != u32::MAX {
                    *login_user = self.users.name_in(root, Db::Users, *loginuid).map(Into::into);
                }
            }
            EventKind::SetIds { call, ids, names } => {
                let db = if call.contains("uid") { Db::Users } else { Db::Groups };
                *names = ids
                    .iter()
                    .map(|&id| u32::try_from(id).ok().and_then(|id| self.users.name_in(root, db, id)))
                    .collect();
            }
            _ => {}
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Detaches the program and stops the reader.
    pub fn stop(mut self) -> Result<(), SensorError> {
        self.halt()
    }

    fn halt(&mut self) -> Result<(), SensorError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| Err(SensorError::Bpf("the reader thread panicked".into()))),
            None => Ok(()),
        }
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// The ids of cgroup directories; one that cannot be read is an error naming it.
fn cgroup_ids(dirs: &[PathBuf]) -> Result<Vec<u64>, SensorError> {
    dirs.iter()
        .map(|p| {
            let err = |reason: String| SensorError::Cgroup { path: p.display().to_string(), reason };
            let id = Resolver::id_of(p).ok_or_else(|| err("not a readable cgroup directory".into()))?;
            // A directory elsewhere (a hybrid host's /sys/fs/cgroup is a tmpfs, cgroup v2 under .../unified)
            // has an inode number too, which no process's cgroup id will ever match: nothing would be seen.
            if !on_cgroup2(p) {
                let root = crate::cgroup::cgroup2_root().map_or("no cgroup v2 hierarchy is mounted".to_string(), |r| {
                    format!("it is mounted at {}", r.display())
                });
                return Err(err(format!("not a directory of the cgroup v2 hierarchy ({root})")));
            }
            Ok(id)
        })
        .collect()
}

/// Whether a path is on a cgroup v2 file system.
#[allow(clippy::unnecessary_cast)] // f_type is i64 on x86_64, another width elsewhere
fn on_cgroup2(p: &Path) -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) else { return false };
    let mut st = MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: a NUL-terminated path and a statfs buffer the call fills when it returns 0.
    (unsafe { libc::statfs(c.as_ptr(), st.as_mut_ptr()) } == 0)
        && unsafe { st.assume_init() }.f_type as i64 == CGROUP2_SUPER_MAGIC
}

/// Puts cgroup ids into one of the program's cgroup sets.
fn fill_set(map: &libbpf_rs::MapMut<'_>, ids: &[u64], what: &str) -> Result<(), SensorError> {
    for id in ids {
        map.update(&id.to_ne_bytes(), &[1u8], libbpf_rs::MapFlags::ANY).map_err(bpf_err(what))?;
    }
    Ok(())
}

/// Whether the kernel has a tracepoint (`category/name`), by its directory in tracefs.
fn tracepoint_exists(tp: &str) -> bool {
    ["/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events"]
        .iter()
        .any(|d| std::path::Path::new(d).join(tp).is_dir())
}

/// Whether tracepoint programs may call `bpf_find_vma` here (asked of the kernel once).
fn has_find_vma() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        libbpf_rs::ProgramType::Tracepoint
            .is_helper_supported(libbpf_rs::libbpf_sys::BPF_FUNC_find_vma)
            .unwrap_or(false)
    })
}

/// The count libbpf's ring-buffer calls return, or the error its negative value stands for.
fn records(ret: i32) -> Result<u64, libbpf_rs::Error> {
    u64::try_from(ret).map_err(|_| libbpf_rs::Error::from(std::io::Error::from_raw_os_error(-ret)))
}

fn bpf_err(what: &str) -> impl Fn(libbpf_rs::Error) -> SensorError + '_ {
    move |e| SensorError::Bpf(format!("{what}: {e}"))
}

/// What the BPF program is loaded with.
struct Load {
    watch_all: bool,
    watch_ids: Vec<u64>,
    /// Cgroups to watch once made, by their path below the hierarchy's root (`/docker`) and in the file system.
    watch_when_made: Vec<(String, PathBuf)>,
    /// They stream their system calls too.
    stream_when_made: bool,
    stream_ids: Vec<u64>,
    open_returns: bool,
    all_reads: bool,
    /// Programs of the kinds left out.
    skip_progs: Vec<&'static str>,
}

/// A cgroup made after the start that matters to the watched set.
enum Made {
    /// One of `Config::watch_when_made`: from now on in the set.
    Watched(u64, String),
    /// Below one of them: a verdict on it taken before its parent joined the set must go.
    Below(u64),
}

impl Made {
    fn of(late: &[String], id: u64, path: &str) -> Option<Made> {
        let below = |p: &String| path.strip_prefix(p.as_str()).is_some_and(|rest| rest.starts_with('/'));
        if late.iter().any(|p| p == path) {
            Some(Made::Watched(id, path.to_string()))
        } else if late.iter().any(below) {
            Some(Made::Below(id))
        } else {
            None
        }
    }
}

/// Adds the cgroups made since the last call to the watched set (and the streaming one, with `stream`), and forgets
/// the verdicts that could have been taken on their descendants before (each CPU's last one too): a process there is
/// watched from now on. What fails is said, and the sensor goes on with what it watches already.
fn watch_made(skel: &SensorSkel<'_>, made: &[Made], stream: bool) {
    if let Err(e) = add_made(skel, made, stream) {
        tracing::warn!("{e}");
    }
}

fn add_made(skel: &SensorSkel<'_>, made: &[Made], stream: bool) -> Result<(), SensorError> {
    use libbpf_rs::MapCore;
    let sets = [
        (&skel.maps.watched, &skel.maps.watched_verdicts, true),
        (&skel.maps.stream_cgroups, &skel.maps.stream_verdicts, stream),
    ];
    for m in made {
        for (set, verdicts, _) in sets.iter().filter(|(_, _, on)| *on) {
            match m {
                Made::Watched(id, _) => {
                    set.update(&id.to_ne_bytes(), &[1u8], libbpf_rs::MapFlags::ANY)
                        .map_err(bpf_err("adding a cgroup made after the start"))?;
                }
                Made::Below(id) => {
                    let _ = verdicts.delete(&id.to_ne_bytes());
                }
            }
        }
        if let Made::Watched(_, path) = m {
            tracing::info!("{path}: made, and watched from now on");
        }
    }
    let cpus = libbpf_rs::num_possible_cpus().map_err(bpf_err("counting the CPUs"))?;
    let nothing = vec![vec![0u8; std::mem::size_of::<[u64; 2]>()]; cpus];
    for slot in 0u32..2 {
        skel.maps
            .last_verdicts
            .update_percpu(&slot.to_ne_bytes(), &nothing, libbpf_rs::MapFlags::ANY)
            .map_err(bpf_err("clearing the last verdicts"))?;
    }
    Ok(())
}

/// The open calls' return-side programs (left out when `Config::open_returns` is off).
const OPEN_RETURN_PROGS: [&str; 4] = ["on_openat_exit", "on_open_exit", "on_openat2_exit", "on_creat_exit"];

/// The reader thread: owns the BPF objects for their whole life.
fn reader(
    load: Load,
    batching: Batching,
    tx: std::sync::mpsc::SyncSender<Vec<Record>>,
    ready: std::sync::mpsc::SyncSender<Result<(), SensorError>>,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
    cgroup_news: CgroupNews,
) -> Result<(), SensorError> {
    let run = || -> Result<(), SensorError> {
        let mut storage = MaybeUninit::uninit();
        let mut open = SensorSkelBuilder::default().open(&mut storage).map_err(bpf_err("opening"))?;
        // A system call the kernel does not have (module loading without CONFIG_MODULES…) has no tracepoint:
        // its program is left out, and said so, instead of failing the whole attach.
        let skip = skipped_programs();
        for mut prog in open.open_object_mut().progs_mut() {
            let section = prog.section().to_string_lossy().into_owned();
            if section == "tp_btf/sys_enter" && load.stream_ids.is_empty() && !load.stream_when_made {
                prog.set_autoload(false);
            }
            let name = prog.name().to_string_lossy().into_owned();
            if !load.open_returns && OPEN_RETURN_PROGS.contains(&name.as_str()) {
                prog.set_autoload(false);
            }
            if load.skip_progs.contains(&name.as_str()) {
                prog.set_autoload(false);
            }
            if skip.iter().any(|s| *s == name || *s == section) {
                tracing::warn!("{name} ({section}) left out (KESTREL_SENSOR_SKIP): its events will not be seen");
                prog.set_autoload(false);
            }
            if MPROTECT_PROGS.contains(&name.as_str()) && !has_find_vma() {
                tracing::info!("{name}: this kernel has no bpf_find_vma (Linux 5.17), memory made executable by mprotect is not seen");
                prog.set_autoload(false);
            }
            if let Some(tp) = section.strip_prefix("tracepoint/") {
                if !tracepoint_exists(tp) {
                    tracing::info!("{tp}: no such tracepoint in this kernel, not traced");
                    prog.set_autoload(false);
                }
            }
        }
        let ro =
            open.maps.rodata_data.as_deref_mut().ok_or_else(|| SensorError::Bpf("no read-only data section".into()))?;
        ro.watch_all = load.watch_all;
        ro.open_returns = load.open_returns;
        ro.all_reads = load.all_reads;
        ro.self_tgid = std::process::id();
        let mut skel = open.load().map_err(bpf_err("loading (the verifier's log is above with -vv)"))?;
        fill_set(&skel.maps.watched, &load.watch_ids, "adding a watched cgroup")?;
        fill_set(&skel.maps.stream_cgroups, &load.stream_ids, "adding a streaming cgroup")?;
        skel.attach().map_err(bpf_err("attaching"))?;
        // One made before the programs were attached sends no news of its making: watched as it is.
        for (rel, dir) in &load.watch_when_made {
            if let Some(id) = Resolver::id_of(dir).filter(|_| on_cgroup2(dir)) {
                watch_made(&skel, &[Made::Watched(id, rel.clone())], load.stream_when_made);
            }
        }
        let cb_stats = stats.clone();
        let news = cgroup_news.clone();
        // Cgroups made since the start that are to be watched, or lie below one: added to the set by the loop.
        let made = std::rc::Rc::new(std::cell::RefCell::new(Vec::<Made>::new()));
        let cb_made = made.clone();
        let late: Vec<String> = load.watch_when_made.iter().map(|(rel, _)| rel.clone()).collect();
        // The batch being filled: handed to the consumer when full and after each read of the buffer.
        let pending = std::rc::Rc::new(std::cell::RefCell::new(Vec::with_capacity(batching.len)));
        let cb_pending = pending.clone();
        let cb_tx = tx.clone();
        let mut rb = libbpf_rs::RingBufferBuilder::new();
        rb.add(&skel.maps.events, move |data: &[u8]| {
            let record = decode(data);
            // `received` counts event records (cgroup and fork news are the sensor's own business).
            if !matches!(record, Ok(Record::Cgroup { .. } | Record::Fork { .. })) {
                cb_stats.received.fetch_add(1, Ordering::Relaxed);
            }
            match record {
                Ok(Record::Cgroup { id, path }) => {
                    if let Some(m) = Made::of(&late, id, &path) {
                        cb_made.borrow_mut().push(m);
                    }
                    // Cgroup news must not be lost to a full queue (it names every later event's container),
                    // nor block the reader: it goes to a list of its own, read before each event.
                    if let Ok(mut n) = news.lock() {
                        if n.len() >= MAX_CGROUP_NEWS {
                            n.pop_front();
                        }
                        n.push_back((id, path));
                    }
                }
                Ok(rec) => {
                    let mut p = cb_pending.borrow_mut();
                    p.push(rec);
                    if p.len() >= batching.len {
                        hand_over(&cb_tx, &mut p, batching, &cb_stats);
                    }
                }
                Err(_) => {
                    cb_stats.undecodable.fetch_add(1, Ordering::Relaxed);
                }
            }
            0
        })
        .map_err(bpf_err("reading the ring buffer"))?;
        let rb = rb.build().map_err(bpf_err("reading the ring buffer"))?;
        let _ = ready.send(Ok(()));
        let mut last_counters = std::time::Instant::now();
        let mut last_read_empty = true;
        while !stop.load(Ordering::Relaxed) {
            // The programs wake this thread for a lone event, and at most once a millisecond per CPU (see
            // `submit` in sensor.bpf.c); after a read, a short wait takes what came within that
            // millisecond (event-to-alert latency ≤ POLL_INTERVAL), after an empty one a long wait: no
            // timer fires on the workload's CPUs while nothing happens.
            // libbpf says how many records each call handed to the callback.
            let polled = rb.poll_raw(if last_read_empty { IDLE_POLL } else { POLL_INTERVAL });
            let polled = records(polled).map_err(bpf_err("polling the ring buffer"))?;
            let got = polled + records(rb.consume_raw()).map_err(bpf_err("reading the ring buffer"))?;
            last_read_empty = got == 0;
            if got >= BUSY_READ {
                // A flood: let a batch pile up instead of being woken a thousand times a second.
                std::thread::sleep(BUSY_NAP);
            }
            hand_over(&tx, &mut pending.borrow_mut(), batching, &stats);
            if !made.borrow().is_empty() {
                watch_made(&skel, &made.borrow_mut().split_off(0), load.stream_when_made);
            }
            if last_counters.elapsed() >= Duration::from_millis(250) {
                read_drops(&skel.maps.drops, &stats);
                last_counters = std::time::Instant::now();
            }
        }
        // Whatever is still in the ring buffer is delivered before the program goes.
        let _ = rb.consume();
        hand_over(&tx, &mut pending.borrow_mut(), batching, &stats);
        read_drops(&skel.maps.drops, &stats);
        Ok(())
    };
    let result = run();
    if let Err(e) = &result {
        let _ = ready.send(Err(SensorError::Bpf(e.to_string())));
    }
    result
}

/// Most records in one batch to the consumer (small enough that a batch stays below the allocator's mmap
/// threshold: 1024 records of a few hundred bytes made every batch an mmap, munmap and page faults).
const MAX_BATCH: usize = 128;

/// How records go to the consumer: batches of at most `len`, at most `cap` records waiting.
#[derive(Clone, Copy)]
struct Batching {
    len: usize,
    cap: usize,
}

impl Batching {
    /// The queue: a slot per record it may hold (a batch holds one at least), so records, not slots, run out.
    fn channel(self) -> (std::sync::mpsc::SyncSender<Vec<Record>>, Receiver<Vec<Record>>) {
        sync_channel(self.cap)
    }
}

/// Sends the pending batch to the consumer, or drops it, counted, when the queue is full (the reader
/// never waits: a blocked reader would make the kernel drop instead, without saying what).
fn hand_over(
    tx: &std::sync::mpsc::SyncSender<Vec<Record>>,
    pending: &mut Vec<Record>,
    batching: Batching,
    stats: &Stats,
) {
    if pending.is_empty() {
        return;
    }
    let batch = std::mem::replace(pending, Vec::with_capacity(batching.len));
    let n = batch.len() as u64;
    let dropped = if stats.queued.load(Ordering::Relaxed) + n > batching.cap as u64 {
        Some(batch)
    } else {
        stats.queued.fetch_add(n, Ordering::Relaxed);
        match tx.try_send(batch) {
            Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) => {
                stats.queued.fetch_sub(n, Ordering::Relaxed);
                Some(b)
            }
            Ok(()) => None,
        }
    };
    if let Some(b) = dropped {
        // Counted like `received`: events (a lost fork only leaves a child unnamed).
        let events = b.iter().filter(|r| matches!(r, Record::Event(_))).count();
        stats.dropped_queue_full.fetch_add(events as u64, Ordering::Relaxed);
    }
}

/// Sums the per-CPU drop counters into the stats.
fn read_drops(map: &libbpf_rs::MapMut<'_>, stats: &Stats) {
    for (cause, slot) in [(0u32, &stats.dropped_ring_full), (1u32, &stats.partial_reads)] {
        if let Ok(Some(per_cpu)) = map.lookup_percpu(&cause.to_ne_bytes(), libbpf_rs::MapFlags::ANY) {
            let total: u64 = per_cpu
                .iter()
                .filter_map(|v| v.get(..8).map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes"))))
                .sum();
            slot.store(total, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kinds_a_node_may_do_without_are_the_ones_profiles_know() {
        let names: Vec<&str> = LEAVABLE.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, kestrel_core::LEAVABLE_KINDS);
        // Each kind's probes are programs of the BPF object (a name that is not one leaves nothing out).
        let src = include_str!("bpf/sensor.bpf.c");
        for (kind, progs) in LEAVABLE {
            for p in progs.iter() {
                assert!(src.contains(&format!("int {p}(")) || src.contains(&format!("BPF_PROG({p},")), "{kind}: {p}");
            }
        }
        // What a sensor started with some left out reports: the rest (memory made executable where the kernel can).
        if std::env::var_os("KESTREL_SENSOR_SKIP").is_none() {
            let reported = reported_kinds(&["send".into(), "link".into()]);
            let mut expected: Vec<&str> = names.into_iter().filter(|k| !["send", "link"].contains(k)).collect();
            if !has_find_vma() {
                expected.retain(|k| *k != "exec-memory");
            }
            assert_eq!(reported, expected);
        }
    }

    #[test]
    fn the_queue_holds_queue_len_records_however_small_the_batches() {
        // A consumer that has fallen behind while records come one at a time: the queue takes `cap` of them
        // (it used to take cap / len batches — 8 here — whatever their size), then drops and counts.
        let q = Batching { len: 128, cap: 1000 };
        let (tx, rx) = q.channel();
        let stats = Stats::default();
        let event = || {
            let header = crate::decode::Header { pid: 7, tid: 7, euid: 0, boot_ns: 1, cgroup_id: 1, comm: "x".into() };
            Record::Event(crate::decode::Raw { header, kind: EventKind::Userfaultfd { flags: 0 } })
        };
        for _ in 0..1000 {
            hand_over(&tx, &mut vec![event()], q, &stats);
        }
        assert_eq!((stats.queued.load(Ordering::Relaxed), stats.dropped_queue_full.load(Ordering::Relaxed)), (1000, 0));
        hand_over(&tx, &mut vec![event(), event()], q, &stats);
        assert_eq!((stats.queued.load(Ordering::Relaxed), stats.dropped_queue_full.load(Ordering::Relaxed)), (1000, 2));
        assert_eq!(rx.try_iter().map(|b| b.len()).sum::<usize>(), 1000);
    }
}
