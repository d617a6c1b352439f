//! Behaviour profiles: what one workload normally does, learned from its events, and how far what it does
//! now is from that.
//!
//! A [`Profile`] holds several views learned together, each a table of categorical behaviours:
//! - **process**: programs executed, with their parent, their user class (root or not) and the shape of their
//!   arguments;
//! - **file**: directories written, sensitive files read, by program;
//! - **network**: outgoing destinations (loopback, private or public, and port), listening and accepting
//!   ports, by program;
//! - **privilege**: set-id calls, capset, new namespaces, setns, mounts, ptrace, bpf, module loads, setuid
//!   modes, by program;
//! - **syscalls**: the 6-grams of each thread's system-call stream (STIDE on live streams), with a threshold
//!   calibrated on held-out normal batches;
//! - **frequency**: for every behaviour, its rate per container and time window, so that a known behaviour
//!   at a hundred times its rate (a scan, a brute force) is flagged.
//!
//! **Poisoning.** A behaviour seen while learning counts as normal only when it was seen in at least `k`
//! different containers (replicas, or nodes after a federated merge) — or, for a workload that never had `k`
//! containers while learning, in at least `t` different time windows. One compromised replica cannot teach the
//! profile anything; the threat model is in `docs/ARCHITECTURE.md`.
//!
//! **Modes.** learn → monitor → protect. A profile in `learn` learns and raises no model alerts; it is
//! promoted to `monitor` once it has learned for `min_learn` and seen nothing new for `stable`; to `protect`
//! (the only mode that lets the response engine act) after `protect_after` in monitor without an alert,
//! when that is set.
//!
//! **Drift.** In monitor and protect, the number of new behaviours per window is tracked; `drift_windows`
//! windows in a row with more than `drift_novel` new behaviours is drift: with [`DriftPolicy::Relearn`] the
//! profile starts a new version in learn mode (keeping what it knew), with [`DriftPolicy::Approve`] it
//! waits for a person ([`Profile::relearn`]). Versions are kept by [`crate::store`] for rollback.

use kestrel_core::{Alert, AlertSource, Contribution, Event, EventKind, Severity, SockAddr, ALERT_SCHEMA};
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::hash::{Hash, Hasher};

/// The JSON schema name of a saved [`Profile`].
pub const PROFILE_SCHEMA: &str = "kestrel.profile/v1";

/// Length of the system-call n-grams.
pub const GRAM: usize = 6;

/// How system-call n-grams are formed, saved with each profile: 1 — a call repeated more than twice in a row is
/// folded to two; 2 — and `futex` is left out; 3 — and the memory manager's calls (`MEMORY_CALLS`) too (see
/// [`SyscallContext`]). A profile whose n-grams were formed
/// otherwise (by an older kestrel: none saved, 0) loses them when loaded — they would not match what is scored
/// now — and learns them again.
pub const GRAM_FORM: u32 = 3;

/// How behaviours are put in words, saved with each profile: 1 — a program run with no arguments is
/// `exec PROGRAM with no arguments` (before, 0: `exec PROGRAM ` with a trailing space, which an explanation showed
/// as a second `exec PROGRAM`); 2 — a process that listens once more after its first listen (a server opening
/// another listener while it serves) is `PROGRAM listens again` besides `PROGRAM listens`; 3 — the digits inside an
/// argument are `N` as a number alone is (`pg_dump -f dump-N.sql`, not a new behaviour each day for
/// `dump-20261207.sql`; see [`argv_shape`]). A profile saved in older words has them rewritten when loaded
/// ([`Profile::reindex`]), so what it learned stays learned.
pub const WORD_FORM: u32 = 3;

/// x86_64's `futex`, left out of the n-grams: where a thread waits for a lock or wakes another (a mutex, a
/// condition variable, a language runtime's global lock) depends on which thread ran first, so the same program
/// puts futex calls at other places between its calls on a busier node: the lab's Python service, learned while
/// the host was busy, raised 14 false alarms in 2 container-hours of held-out load with them and none without
/// (docs/BENCHMARKS.md, stop 40). What a futex-only exploit's calls look like is therefore not seen here; what
/// it leads to (a root shell, a new program) is, by the other views.
const FUTEX: u16 = 202;
/// x86_64's memory-management calls, left out of the n-grams as futex is: `mmap` 9, `mprotect` 10, `munmap` 11,
/// `brk` 12, `mremap` 25, `madvise` 28. When an allocator grows or trims its heaps (a new thread's arena, a large
/// buffer, memory given back) depends on what every thread allocated before, not on what the program does, so the
/// same request puts them at other places between its calls: the lab's Python service raised 5 false alarms in
/// 0.5 container-hours of held-out load, each on a thread's `mmap` and `mprotect` between its `recvfrom`s, and
/// none without them; over the 23 held-out sets recorded so far, 8 false alarms became 3 and every attack stayed
/// detected (docs/BENCHMARKS.md, stop 48). Code mapped from files and memory made executable are events of
/// their own (`mmap`, `exec-memory`), judged by the profiles' other views.
const MEMORY_CALLS: [u16; 6] = [9, 10, 11, 12, 25, 28];

/// Whether a call is left out of the n-grams: futex and the memory manager's calls (a bit test: it runs for every
/// system call scored).
#[inline]
fn left_out_of_grams(c: u16) -> bool {
    const MEMORY: u64 = {
        let (mut m, mut i) = (0u64, 0);
        while i < MEMORY_CALLS.len() {
            m |= 1 << MEMORY_CALLS[i];
            i += 1;
        }
        m
    };
    c == FUTEX || (c < 64 && (MEMORY >> c) & 1 == 1)
}
/// How long after its exec a process is starting up, unless it listens sooner (a server's start-up ends at its
/// first listen; a fork of it serves at once): what a service reads then (its code, its libraries, its
/// configuration) it reads at every start; what it reads later is what its work needs. A read below a directory
/// the program never read from past its start-up is a behaviour of its own (a service's code, hijacked, reading
/// the account list or another tenant's data: see [`each_feature`]). Generous for runtimes that start slowly
/// (a JVM loading its classes); a process not seen exec'ing (older than the sensor) counts as started.
pub const STARTUP_NS: u64 = 30_000_000_000;

/// `exec-memory`'s bit among [`kestrel_core::LEAVABLE_KINDS`].
const EXEC_MEMORY_BIT: u16 = 1 << 9;

/// `dns`'s bit among [`kestrel_core::LEAVABLE_KINDS`].
const DNS_BIT: u16 = 1 << 10;

/// [`Profile::reported`] as the kinds' names.
mod reported_names {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(bits: &Option<u16>, s: S) -> Result<S::Ok, S::Error> {
        bits.map(kestrel_core::leavable_names).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        Ok(Option::<Vec<String>>::deserialize(d)?.map(|kinds| kestrel_core::leavable_bits(&kinds)))
    }
}

/// What an event's features depend on besides the event itself: facts of its process the detector keeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cx<'a> {
    /// An exec's parent (its name, or `(container runtime)`).
    pub parent: Option<&'a str>,
    /// A read's process is past its start-up: it listened since its exec, or exec'd more than [`STARTUP_NS`] ago.
    pub past_startup: bool,
    /// A read's directory is judged (or learned) as one the program reads in at all, at any time of its life:
    /// the profile learned where its programs read (see [`Profile::read_dirs`]).
    pub read_dirs: bool,
    /// The profile's directories whose names are data (set by the profile itself when it learns or scores).
    pub wide: Option<&'a WideDirs>,
    /// A read of a library, not written by its container while watched: the program's own code — a code file
    /// ([`is_code`]) below a directory the profile knows the program reads in ([`Profile::reads_code_below`]) — or
    /// the system's reference data ([`is_reference_data`]: time zones, locales, CA certificates…). Its directory
    /// says nothing then — an import first made long after start-up, in a package never used before; a reader's
    /// time zone in a region never asked for — and only the file's novelty is judged.
    pub library: bool,
    /// A listen's process listened before (see [`WORD_FORM`] 2): its servers' listeners are open, and this is one
    /// more — a backdoor started inside a hijacked service, where nothing new runs. Every other event: false.
    pub listened: bool,
    /// The kinds a node may do without ([`kestrel_core::LEAVABLE_KINDS`], as bits) the events' source reports;
    /// `None`: it does not say (an older recording). Learning: see [`Profile::reported`], [`Profile::exec_memory`].
    pub reports: Option<u16>,
    /// A write's process is past its start-up (as for [`Cx::past_startup`]), judged by a profile that put writes
    /// past start-up in words while it learned ([`Profile::late_writes`]).
    pub write_past_startup: bool,
}

/// Distinct names a program must touch in one directory, from [`Policy::k`] containers (or `t` windows), before the
/// names there are taken for its data rather than its behaviour (see [`WideDirs`]).
pub const WIDE_AT: usize = 32;
/// Most directories a profile takes for data.
const MAX_WIDE: usize = 4096;
/// Most directories a learning pass counts names in.
const MAX_WIDE_CANDIDATES: usize = 4096;

/// Directories whose names are a program's data, not its behaviour: an upload directory, a web root, one
/// directory per user or per day. A program that touched [`WIDE_AT`] distinct names in one, in as many containers
/// (or windows) as a behaviour needs to be trusted, has the names there written `*` in its file view from then
/// on — `tar reads /srv/app/uploads/*`, `python3 reads in /srv/app/uploads/* after its start-up` — so that its
/// profile does not hold a behaviour per file (which fills it: it stops learning at its size limit) and a new
/// user's directory is not a new place. Per program: a web server's many pages do not make the directory data
/// for a shell reading there. Sensitive files and process environments keep their own names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WideDirs {
    /// (program, directory's path class), sorted.
    pub dirs: Vec<(String, String)>,
    #[serde(skip)]
    set: FxHashSet<u64>,
    /// Tells one set from another (the feature memo keys on it); 0 when empty.
    #[serde(skip)]
    id: u64,
}

impl WideDirs {
    fn contains(&self, who: &str, dir: &str) -> bool {
        !self.set.is_empty() && self.set.contains(&hash_of((who, dir)))
    }

    /// Rebuilds the lookup set (after loading, or a change).
    fn rebuild(&mut self) {
        self.dirs.sort();
        self.dirs.dedup();
        self.set = self.dirs.iter().map(|(who, dir)| hash_of((who.as_str(), dir.as_str()))).collect();
        self.id = if self.dirs.is_empty() { 0 } else { hash_of(&self.dirs) | 1 };
    }

    fn add(&mut self, who: &str, dir: &str) {
        if self.dirs.len() < MAX_WIDE && !self.contains(who, dir) {
            self.dirs.push((who.to_string(), dir.to_string()));
            self.rebuild();
        }
    }
}

/// What a learning pass saw of one directory a program touches: the distinct names in it (up to [`WIDE_AT`]),
/// and the containers and windows it touched them in.
#[derive(Debug, Default, Clone)]
struct WideCount {
    names: Vec<u64>,
    contributors: Vec<u64>,
    windows: Vec<u64>,
}

const MAX_CONTRIBUTORS: usize = 8;
const MAX_WINDOWS: usize = 8;
const MAX_BEHAVIOURS: usize = 200_000;
const MAX_GRAMS: usize = 1_000_000;
/// The share of either table one container may fill with what it brought first: a replica that makes up a new
/// behaviour with every event (an attacker's, or a program naming temporary files at random) fills at most a
/// quarter, and the other replicas' behaviours are still learned after it.
const MAX_SHARE_OF_ONE: usize = 4;
/// Most windows a learning pass remembers having counted.
const MAX_WINDOW_IDS: usize = 1024;
const CALIBRATION_SAMPLES: usize = 4096;
/// Containers whose time span of system-call batches a learning pass keeps (for the batch rate the threshold is
/// set for); past them a container's threshold is its held-out maximum alone.
const MAX_SPANS: usize = 4096;
/// False alarms per container-hour the system-call threshold is set for when `syscall_far` is 0: a tenth of the one
/// per container-hour the lab's target allows all of a node's views together.
pub const SYSCALL_ALARMS_PER_HOUR: f64 = 0.1;

/// A view of behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum View {
    /// Programs executed.
    Process,
    /// Files written or read.
    File,
    /// Connections and listening ports.
    Network,
    /// Privileged operations.
    Privilege,
    /// System-call sequences.
    Syscalls,
    /// Rates of known behaviours.
    Frequency,
}

impl View {
    /// The view's name.
    pub fn name(self) -> &'static str {
        match self {
            View::Process => "process",
            View::File => "file",
            View::Network => "network",
            View::Privilege => "privilege",
            View::Syscalls => "syscalls",
            View::Frequency => "frequency",
        }
    }
}

/// Learning mode of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Learning: no model alerts.
    #[default]
    Learn,
    /// Alerts, no automated response.
    Monitor,
    /// Alerts, and the response engine may act.
    Protect,
}

impl Mode {
    /// Its name, as profiles and the command line write it (`learn`, `monitor`, `protect`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Learn => "learn",
            Mode::Monitor => "monitor",
            Mode::Protect => "protect",
        }
    }
}

/// What to do when behaviour drifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DriftPolicy {
    /// Start a new version in learn mode at once.
    Relearn,
    /// Raise a drift alert and wait for a person.
    #[default]
    Approve,
}

/// How a profile learns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    /// Containers (replicas or nodes) a behaviour must be seen in to count.
    pub k: usize,
    /// Time windows a behaviour must be seen in to count, for workloads that had fewer than `k` containers.
    pub t: usize,
    /// Length of a time window (ns).
    pub window_ns: u64,
    /// Least learning time before promotion to monitor (ns).
    pub min_learn_ns: u64,
    /// Time without a new behaviour before promotion to monitor (ns).
    pub stable_ns: u64,
    /// Time in monitor without an alert before promotion to protect (ns); `None`: never automatically.
    pub protect_after_ns: Option<u64>,
    /// Target false-alarm rate for the system-call threshold (share of normal batches; 0: an alarm budget of
    /// [`SYSCALL_ALARMS_PER_HOUR`] per container-hour, at least above the most unusual held-out batch).
    pub syscall_far: f64,
    /// New behaviours in a window that count towards drift.
    pub drift_novel: usize,
    /// Windows in a row over `drift_novel` that make drift.
    pub drift_windows: usize,
    /// What drift does.
    pub drift: DriftPolicy,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            k: 2,
            t: 3,
            window_ns: 600 * 1_000_000_000,
            min_learn_ns: 3600 * 1_000_000_000,
            stable_ns: 1800 * 1_000_000_000,
            protect_after_ns: None,
            syscall_far: 0.0,
            drift_novel: 20,
            drift_windows: 3,
            drift: DriftPolicy::Approve,
        }
    }
}

/// One learned behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Behaviour {
    /// The view.
    pub view: View,
    /// The behaviour in words (`exec /bin/sh parent nginx`).
    pub key: String,
    /// Times seen.
    pub count: u64,
    /// Containers (or nodes) it was seen in: hashes of their ids, at most 8.
    pub contributors: Vec<u64>,
    /// Time windows it was seen in, at most 8.
    pub windows: Vec<u64>,
    /// First seen (ns).
    pub first_ns: u64,
    /// Last seen (ns).
    pub last_ns: u64,
}

/// One learned system-call n-gram.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gram {
    /// The packed n-gram (9 bits a call).
    pub g: u64,
    /// Times seen.
    pub n: u64,
    /// Contributors (hashes), at most 8.
    pub c: Vec<u64>,
    /// Windows, at most 8.
    pub w: Vec<u64>,
}

/// A workload's learned behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    /// Always [`PROFILE_SCHEMA`].
    pub schema: String,
    /// The workload (image, Kubernetes workload, or a label).
    pub workload: String,
    /// Version, from 1; a relearn or merge makes the next.
    pub version: u32,
    /// Mode.
    pub mode: Mode,
    /// The learning policy.
    pub policy: Policy,
    /// When learning started (ns, event time).
    pub learn_started_ns: u64,
    /// When the mode last changed.
    pub mode_since_ns: u64,
    /// When a behaviour was last new while learning.
    pub last_new_ns: u64,
    /// Latest event time seen.
    pub last_event_ns: u64,
    /// When the last model alert was raised (monitor/protect).
    pub last_alert_ns: u64,
    /// Events learned from.
    pub events: u64,
    /// Containers learned from (hashes, at most 64).
    pub containers: Vec<u64>,
    /// Time windows learned in.
    pub windows: u64,
    /// The behaviours.
    pub behaviours: Vec<Behaviour>,
    /// The system-call n-grams.
    pub grams: Vec<Gram>,
    /// Unseen n-grams in a batch above which the batch is anomalous (calibrated on held-out batches).
    pub syscall_threshold: Option<f64>,
    /// How its n-grams were formed ([`GRAM_FORM`]; 0 in profiles saved before kestrel recorded it).
    #[serde(default)]
    pub gram_form: u32,
    /// How its behaviours are put in words ([`WORD_FORM`]; 0 in profiles saved before kestrel recorded it).
    #[serde(default)]
    pub word_form: u32,
    /// It learned reads made past their process's start-up (from a sensor reporting every read, `--reads`): only
    /// then is such a read below a directory it never saw one in a deviation — a profile learned without them
    /// would take every one for new (see [`STARTUP_NS`]).
    #[serde(default)]
    pub late_reads: bool,
    /// It learned where its programs read, at any time (from a sensor reporting every read, by a kestrel that
    /// puts `PROGRAM reads in DIRECTORY` in words): only then is a read below a directory the program never read
    /// in a deviation, in its start-up too. A profile learned by an older kestrel has `late_reads` without it.
    #[serde(default)]
    pub read_dirs: bool,
    /// It was learned by a kestrel that puts a write past its process's start-up in words (`PROGRAM writes in
    /// DIRECTORY after its start-up`): only then is such a write a deviation — a profile of an older kestrel never
    /// learned the words. Every write is reported, so a fresh profile has it from its start.
    #[serde(default)]
    pub late_writes: bool,
    /// It learned code mapped from files (`mmap` events, from a sensor that reports them): only then is a mapping a
    /// deviation — a profile learned without them (by an older kestrel, or with `--leave-out mmap`) would take
    /// every library of every program for new.
    #[serde(default)]
    pub maps: bool,
    /// It learned memory made executable (`exec-memory` events: a JIT's code, an anonymous or heap region made
    /// executable) — learned from a source that says it reports them (see
    /// [`Detector::set_reports`](crate::detector::Detector::set_reports); one that does not say counts once such an
    /// event came): only then is such memory a deviation. A profile learned by an older
    /// kestrel, or from a sensor without the probes, would take every JIT's code for new.
    #[serde(default)]
    pub exec_memory: bool,
    /// The kinds a node may do without ([`kestrel_core::LEAVABLE_KINDS`], as bits) that a source it learned from
    /// reported: an event of another of them is not judged — a profile learned with `--leave-out unlink` would take
    /// every file a program removes for new once a sensor reports them (53 alerts on a held-out half-hour of the
    /// lab's app; none once its recording said what was left out). `None`: learned, in part at least, from a source
    /// that did not say (an older recording, a profile of an older kestrel): every kind is judged.
    #[serde(default, with = "reported_names", skip_serializing_if = "Option::is_none")]
    pub reported: Option<u16>,
    /// Directories whose names are a program's data (see [`WideDirs`]).
    #[serde(default)]
    pub wide: WideDirs,
    /// Behaviours that were new in each recent window (monitor/protect), for drift.
    pub novelty: Vec<(u64, usize)>,
    /// Drift detected and waiting for approval.
    pub drift_pending: bool,
    /// Behaviours or grams not learned because the profile was full.
    pub overflow: u64,
    #[serde(skip)]
    index: FxHashMap<u64, usize>,
    #[serde(skip)]
    gram_index: FxHashMap<u64, usize>,
    /// How many behaviours and n-grams each container brought first (rebuilt from the tables on load).
    #[serde(skip)]
    introduced: FxHashMap<u64, [usize; 2]>,
    /// Batches kept for calibrating the system-call threshold: (contributor, grams).
    #[serde(skip)]
    samples: Vec<(u64, Vec<u64>)>,
    #[serde(skip)]
    sample_seen: u64,
    /// Each container's first and last system-call batch this learning pass (ns): with the batches kept of it, its
    /// batch rate.
    #[serde(skip)]
    sample_spans: FxHashMap<u64, (u64, u64)>,
    /// The trusted n-grams, built on first use after learning (one lookup per call while scoring).
    #[serde(skip)]
    trusted_grams: Option<TrustedGrams>,
    /// Room for building behaviour keys while learning.
    #[serde(skip)]
    room: KeyRoom,
    /// The names each program touched in each directory, this learning pass (see [`WideDirs`]).
    #[serde(skip)]
    wide_seen: FxHashMap<u64, WideCount>,
    /// The latest windows learned in (up to [`MAX_WINDOW_IDS`], sorted), this learning pass: what `windows` counts.
    #[serde(skip)]
    window_ids: Vec<u64>,
}

fn hash_of(x: impl Hash) -> u64 {
    let mut h = FxHasher::default();
    x.hash(&mut h);
    h.finish()
}

fn add_bounded(v: &mut Vec<u64>, x: u64, max: usize) -> bool {
    if v.contains(&x) || v.len() >= max {
        return false;
    }
    v.push(x);
    true
}

/// A feature of an event: the view, its weight when never seen, and the behaviour in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// The view.
    pub view: View,
    /// Weight (0–1) when novel.
    pub weight: f64,
    /// The behaviour in words; also its identity.
    pub key: String,
}

/// Whether an address is loopback, private or public (the peer class of network features).
pub fn peer_class(a: &SockAddr) -> &'static str {
    use std::net::IpAddr;
    if a.family == "unix" {
        return "unix";
    }
    match a.addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(v)) if v.is_loopback() => "loopback",
        Ok(IpAddr::V4(v)) if v.is_private() || v.is_link_local() => "private",
        Ok(IpAddr::V6(v)) if v.is_loopback() => "loopback",
        Ok(IpAddr::V6(v)) if (v.segments()[0] & 0xfe00) == 0xfc00 || (v.segments()[0] & 0xffc0) == 0xfe80 => "private",
        Ok(_) => "public",
        Err(_) => "unknown",
    }
}

/// A port as the network view names it: the number below 32768, `ephemeral` from there (the range Linux
/// hands out for outgoing connections and `bind(0)`: numbers there change from run to run and replica to
/// replica).
struct PortClass(u16);

impl fmt::Display for PortClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 32768 {
            f.write_str("ephemeral")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The argument shape of a program run with no arguments (after `exec PROGRAM`).
const NO_ARGUMENTS: &str = " with no arguments";

/// The shape of an argument list: numbers, hex, paths and long words generalised, and every run of digits left
/// inside an argument `N` — a date, a sequence number, a host's or a job's number (`dump-N.sql`, `worker-N`,
/// `db:N`, `/backups/N/N/…`) says nothing of what the program was asked to do, and one a day would be a new
/// behaviour a day.
pub fn argv_shape(argv: &[String]) -> String {
    let mut out = String::new();
    push_argv_shape(argv, &mut out);
    out
}

/// [`argv_shape`], appended to `out`.
fn push_argv_shape(argv: &[String], out: &mut String) {
    for (i, a) in argv.iter().skip(1).take(8).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let start = out.len();
        if a.is_empty() {
            out.push_str("''");
        } else if a.bytes().all(|b| b.is_ascii_digit()) {
            out.push('N');
        } else if a.len() >= 8 && a.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push('H');
        } else if a.parse::<std::net::IpAddr>().is_ok() {
            out.push_str("IP");
        } else if a.starts_with('-') {
            out.extend(a.chars().take(24));
        } else if a.contains("://") {
            out.push_str(a.split("://").next().unwrap_or(""));
            out.push_str("://…");
        } else if a.starts_with('/') {
            out.push_str(a.rsplit_once('/').map(|(d, _)| d).unwrap_or(""));
            out.push_str("/…");
        } else if a.len() > 24 || a.contains(' ') {
            out.push('S');
        } else {
            out.push_str(a);
        }
        if out[start..].bytes().any(|b| b.is_ascii_digit()) {
            let arg = out.split_off(start);
            push_digits_as_n(&arg, out);
        }
    }
    if argv.len() > 9 {
        out.push_str(" …");
    }
}

/// `s` with each run of ASCII digits written as `N`, appended to `out`.
fn push_digits_as_n(s: &str, out: &mut String) {
    let mut digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !digits {
                out.push('N');
            }
            digits = true;
        } else {
            out.push(c);
            digits = false;
        }
    }
}

/// Paths generalised for the file view: numbers in components become `N`, and files in temporary
/// directories become their directory.
#[cfg(test)]
fn path_class(path: &str) -> String {
    let mut out = String::new();
    push_path_class(path, &mut out, None);
    out
}

/// The path class of `path` (see `path_class`), into `out` (cleared first); below a directory `wide` names for
/// the program (`(directories, program)`), names are `*`.
fn push_path_class(path: &str, out: &mut String, wide: Option<(&WideDirs, &str)>) {
    walk_path_class(path, out, wide, |_, _| {})
}

/// [`push_path_class`], calling `level(directory, name)` for each directory below the root the path goes
/// through and the name it goes on with there (as classed), unless that name is `*` already.
fn walk_path_class(path: &str, out: &mut String, wide: Option<(&WideDirs, &str)>, mut level: impl FnMut(&str, &str)) {
    out.clear();
    let path = if path.starts_with('/') { path } else { "(relative)" };
    let dir_only = ["/tmp/", "/var/tmp/", "/dev/shm/", "/run/", "/var/cache/", "/var/log/", "/var/lib/"]
        .iter()
        .any(|d| path.starts_with(d));
    fn name(c: &str) -> &str {
        if !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) {
            "N"
        } else {
            c
        }
    }
    let wide = wide.filter(|(w, _)| !w.dirs.is_empty());
    let Some((dir, last)) = path.rsplit_once('/') else {
        out.push_str(name(path));
        return;
    };
    // Whether the name that comes next is data: the directory written so far is wide for the program.
    let mut data = false;
    for (i, c) in dir.split('/').enumerate() {
        if i > 0 {
            if !data && !out.is_empty() {
                level(out, name(c));
            }
            out.push('/');
        }
        out.push_str(if data { "*" } else { name(c) });
        data = i > 0 && wide.is_some_and(|(w, who)| w.contains(who, out));
    }
    // The file's own name goes in the directories named above when it is below one of them (not the directory itself).
    let star = data || (dir_only && dir.contains('/'));
    if !star && !out.is_empty() {
        level(out, name(last));
    }
    out.push('/');
    out.push_str(if star { "*" } else { name(last) });
}

/// Whether a thread goes by a container runtime's name: runc's init names itself `runc:[0:PARENT]`,
/// `runc:[1:CHILD]`, `runc:[2:INIT]`; crun's keeps the name `crun` until it executes the container's program;
/// `runc`, `containerd-shim` and `conmon` are the runtime's other processes. A name anyone can take with
/// `prctl(PR_SET_NAME)`: [`crate::rules::fields::State::runtime_setup`] also asks that the thread never ran a
/// program of the container.
pub(crate) fn has_runtime_name(comm: &str) -> bool {
    comm.starts_with("runc:") || matches!(comm, "crun" | "runc" | "containerd-shim" | "conmon")
}

/// Whether an exec is runc's or crun's `init`, run from the runtime's own binary (a descriptor, `/proc/self/exe` or a
/// memfd). Anyone can run their own binary so named: callers also ask that the parent be outside the container.
pub(crate) fn runtime_init_exec(exe: &str, argv: &[String], from_memfd: bool) -> bool {
    let own_binary = from_memfd || exe == "/proc/self/exe" || runs_from_descriptor(exe);
    own_binary && matches!(argv, [a0, init] if (a0 == "runc" || a0 == "crun") && init == "init")
}

/// Whether an executable path is a descriptor (`/dev/fd/N`, `/proc/self/fd/N`): runc's `runc init`, fexecve.
pub(crate) fn runs_from_descriptor(exe: &str) -> bool {
    ["/dev/fd/", "/proc/self/fd/"]
        .iter()
        .any(|d| exe.strip_prefix(d).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

/// The categorical features of an event (the system-call stream is handled apart), with its process's facts.
pub fn features(e: &Event, cx: Cx<'_>) -> Vec<Feature> {
    let mut out = Vec::new();
    each_feature(e, cx, &mut KeyRoom::default(), |view, weight, key| {
        out.push(Feature { view, weight, key: key.into() })
    });
    out
}

/// Room for building feature keys, kept between events so that scoring one allocates nothing once warm.
#[derive(Debug, Default, Clone)]
pub struct KeyRoom {
    key: String,
    class: String,
    exe: String,
}

/// Hands each categorical feature of an event to `emit` — its view, its weight when novel and the
/// behaviour in words, built in `room` — in the order [`features`] lists them; `cx`: its process's facts.
pub fn each_feature(e: &Event, cx: Cx<'_>, room: &mut KeyRoom, mut emit: impl FnMut(View, f64, &str)) {
    use std::fmt::Write as _;
    let Cx { parent, past_startup, read_dirs, wide, library, listened, write_past_startup, .. } = cx;
    let KeyRoom { key, class, exe: exe_room } = room;
    // Writing into a String cannot fail.
    macro_rules! emit {
        ($view:expr, $weight:expr, $($words:tt)+) => {{
            key.clear();
            let _ = write!(key, $($words)+);
            emit($view, $weight, key);
        }};
    }
    let who = e.comm.as_str();
    // The program's directories whose names are data, for classing the paths of its file view.
    let data = wide.map(|w| (w, who));
    match &e.kind {
        EventKind::Exec { exe, argv, uid, parent_comm, env, .. } => {
            // A program re-executing itself (busybox applets through /proc/self/exe) is named by argv[0]; so is
            // one run through a descriptor (runc's `runc init` from /dev/fd/N, fexecve through
            // /proc/self/fd/N), whose number says nothing.
            let via = match argv.first() {
                Some(a0) if exe == "/proc/self/exe" => Some((a0, "/proc/self/exe")),
                Some(a0) if runs_from_descriptor(exe) => Some((a0, "a file descriptor")),
                _ => None,
            };
            let exe = match via {
                Some((a0, how)) => {
                    exe_room.clear();
                    let _ = write!(exe_room, "{a0} (via {how})");
                    exe_room.as_str()
                }
                None => exe.as_str(),
            };
            let parent = parent.unwrap_or(if parent_comm.is_empty() { "?" } else { parent_comm });
            let user = if *uid == 0 { "root" } else { "non-root" };
            emit!(View::Process, 0.8, "exec {exe}");
            emit!(View::Process, 0.6, "exec {exe} with parent {parent}");
            emit!(View::Process, 0.4, "exec {exe} as {user}");
            key.clear();
            if argv.len() > 1 {
                let _ = write!(key, "exec {exe} ");
                push_argv_shape(argv, key);
            } else {
                let _ = write!(key, "exec {exe}{NO_ARGUMENTS}");
            }
            emit(View::Process, 0.25, key);
            // A loader told what to load by the environment: which library or tunables, as a behaviour.
            for v in env {
                if let Some((name @ ("LD_PRELOAD" | "LD_AUDIT" | "LD_LIBRARY_PATH" | "GLIBC_TUNABLES"), value)) =
                    v.split_once('=')
                {
                    key.clear();
                    let _ = write!(key, "exec with {name}=");
                    key.extend(value.chars().take(64));
                    emit(View::Process, 0.7, key);
                }
            }
        }
        EventKind::Open { path, flags } => {
            let path = &*kestrel_core::normalize_path(path);
            if open_writes(*flags) {
                // A sensitive file written keeps its name, wherever it is.
                push_path_class(path, class, data.filter(|_| !kestrel_core::is_sensitive_read(path)));
                emit!(View::File, 0.6, "write in {}", dir_of(class));
                emit!(View::File, 0.3, "{who} writes {class}");
                // A server writing, once started, where it wrote only while it started (its configuration, made
                // from a template at start): weak alone (a reload rewrites it), with a file it never wrote it alerts
                // (1 − 0.7 × 0.65 ≥ ALERT_SCORE) — a hijacked service changing what it reads at its next start.
                if write_past_startup {
                    emit!(View::File, 0.35, "{who} writes in {} after its start-up", dir_of(class));
                }
            } else if kestrel_core::is_process_environment(path) {
                // Whose environment (`/proc/N/environ`: the pid is not behaviour; `self` is).
                push_path_class(path, class, None);
                emit!(View::File, 0.8, "read {class}");
                emit!(View::File, 0.3, "{who} reads {class}");
            } else if kestrel_core::is_sensitive_read(path) {
                emit!(View::File, 0.8, "read {path}");
                emit!(View::File, 0.3, "{who} reads {path}");
            } else {
                // An ordinary read (reported with `--reads`, or a file named like a sensitive one elsewhere). Each
                // of two signs is weak alone: a file never read (services read files whose names their users
                // choose), a directory never read from once started (libraries read some files lazily: glibc's
                // malloc reads /proc/sys/vm/overcommit_memory when a thread's heap first shrinks, whenever that
                // is). Together — a file the program never read, where its work never reads — they alert
                // (1 − 0.7 × 0.65 ≥ ALERT_SCORE): its code doing what its work never does. So do a file never read
                // and a directory the program never read in at all, at whatever time: a program that never listens
                // (a batch job, a worker) is in its start-up for STARTUP_NS, where the sign above says nothing.
                // A library read where the program never read before (see `Cx::library`): the file alone. So is the
                // dynamic loader's cache, learned and judged alike: the loader reads it at every exec and at a
                // dlopen whenever that is (a server loading an extension), and /etc is no place the work reads then.
                push_path_class(path, class, data);
                emit!(View::File, 0.3, "{who} reads {class}");
                let dir_says = !library && path != LOADER_CACHE;
                if read_dirs && dir_says {
                    emit!(View::File, 0.35, "{who} reads in {}", dir_of(class));
                }
                if past_startup && dir_says {
                    emit!(View::File, 0.35, "{who} reads in {} after its start-up", dir_of(class));
                }
            }
        }
        EventKind::Connect { to } => {
            let (peer, port) = (peer_class(to), PortClass(to.port));
            emit!(View::Network, 0.7, "connect to {peer} port {port}");
            emit!(View::Network, 0.4, "{who} connects to {peer} port {port}");
        }
        // A datagram peer is a peer like a connection's (a UDP beacon, a DNS server nobody else uses).
        EventKind::Send { to, .. } => {
            let (peer, port) = (peer_class(to), PortClass(to.port));
            emit!(View::Network, 0.7, "send to {peer} port {port}");
            emit!(View::Network, 0.4, "{who} sends to {peer} port {port}");
        }
        // A DNS question: the zone asked about, by whom — a tunnel's or a beacon's names lie in the zone whose
        // server its operator runs, one the workload never asked about — and the name's shape: data encoded in a
        // label, which names people choose for hosts do not hold. A new zone alone is a weak sign (a service
        // called for the first time); with encoded names, or a record type the program never asked for (TXT: a
        // command's answer), it alerts. Names are case-blind (DNS 0x20 randomises the case of each letter).
        // Something else through the DNS port (a shell slipping out through a firewall's DNS hole) is its own.
        EventKind::Dns { name, qtype, .. } => {
            if name.is_empty() {
                emit!(View::Network, 0.7, "{who} sends what is no DNS question to port 53");
            } else {
                class.clear();
                class.extend(kestrel_core::dns_zone(name).chars().map(|c| c.to_ascii_lowercase()));
                emit!(View::Network, 0.45, "{who} looks up names in {class}");
                if kestrel_core::encoded_label(name) {
                    emit!(View::Network, 0.5, "{who} looks up names with encoded data in {class}");
                }
                emit!(View::Network, 0.25, "{who} asks for {qtype} records");
            }
        }
        // A rename puts a file in place: a write in its destination's directory.
        EventKind::Rename { to, .. } => {
            push_path_class(to, class, data);
            let dir = dir_of(class);
            emit!(View::File, 0.6, "write in {dir}");
            emit!(View::File, 0.3, "{who} renames into {dir}");
        }
        // A connection as a standard stream is how a shell is handed to someone across the network.
        EventKind::Dup { fd, peer, .. } => {
            let stream = ["stdin", "stdout", "stderr"].get(*fd as usize).unwrap_or(&"a standard stream");
            emit!(View::Network, 0.9, "make a network connection {stream}");
            emit!(View::Network, 0.5, "{who} makes a connection with {} {stream}", peer_class(peer));
        }
        EventKind::Mkdir { path, .. } => {
            push_path_class(path, class, data);
            emit!(View::File, 0.5, "make a directory in {}", dir_of(class));
        }
        // Removing files is how evidence goes (history, logs) and programs are swapped out.
        EventKind::Unlink { path, .. } => {
            push_path_class(path, class, data);
            emit!(View::File, 0.5, "remove in {}", dir_of(class));
        }
        // So is cutting a file's content (a log or history emptied in place).
        EventKind::Truncate { path, .. } => {
            push_path_class(path, class, data);
            emit!(View::File, 0.5, "truncate in {}", dir_of(class));
        }
        EventKind::Userfaultfd { .. } => emit!(View::Privilege, 0.95, "{who} calls userfaultfd"),
        EventKind::Socket { family, sock_type, .. } => {
            emit!(View::Network, 0.9, "open a {sock_type} {family} socket");
            emit!(View::Network, 0.4, "{who} opens a {sock_type} {family} socket");
        }
        EventKind::Bind { addr } => {
            emit!(View::Network, 0.5, "{who} binds {} port {}", peer_class(addr), PortClass(addr.port))
        }
        EventKind::Listen { .. } => {
            emit!(View::Network, 0.6, "{who} listens");
            // A service opens its listeners as it starts (nginx one per port, PostgreSQL its socket and its port,
            // each start alike: learned); one more once it serves is what no start did.
            if listened {
                emit!(View::Network, 0.6, "{who} listens again");
            }
        }
        EventKind::Accept { from, port } => match port {
            Some(port) => emit!(View::Network, 0.5, "accept from {} on port {}", peer_class(from), PortClass(*port)),
            None => emit!(View::Network, 0.5, "accept from {} on port ?", peer_class(from)),
        },
        EventKind::SetIds { call, ids, .. } => {
            let to_root = if ids.contains(&0) { " to root" } else { "" };
            emit!(View::Privilege, 0.95, "{who} calls {call}{to_root}")
        }
        EventKind::Capset { .. } => emit!(View::Privilege, 0.9, "{who} calls capset"),
        EventKind::Namespaces { call, namespaces, .. } => {
            key.clear();
            let _ = write!(key, "{who} {call} new ");
            for (i, ns) in namespaces.iter().enumerate() {
                if i > 0 {
                    key.push('+');
                }
                key.push_str(ns);
            }
            key.push_str(" namespace");
            emit(View::Privilege, 0.95, key);
        }
        EventKind::Setns { .. } => emit!(View::Privilege, 0.95, "{who} calls setns"),
        EventKind::Mount { fstype, .. } => emit!(View::Privilege, 0.95, "{who} mounts {fstype}"),
        EventKind::Ptrace { .. } => emit!(View::Privilege, 0.95, "{who} calls ptrace"),
        EventKind::Bpf { .. } => emit!(View::Privilege, 0.9, "{who} calls bpf"),
        EventKind::ModuleLoad { call } => emit!(View::Privilege, 0.95, "{who} calls {call}"),
        EventKind::SetuidChmod { .. } => emit!(View::Privilege, 0.9, "{who} sets a setuid/setgid mode"),
        EventKind::Link { target, sensitive: true, .. } => {
            let target = &*kestrel_core::normalize_path(target);
            emit!(View::File, 0.8, "link to {target}");
            emit!(View::File, 0.3, "{who} links to {target}");
        }
        // Any other link puts a name in a directory, as a write does.
        EventKind::Link { path, .. } => {
            push_path_class(&kestrel_core::normalize_path(path), class, data);
            emit!(View::File, 0.6, "link in {}", dir_of(class));
            emit!(View::File, 0.3, "{who} links {class}");
        }
        // Code mapped from a file: a library the loader maps at start or dlopen loads later, a plug-in. A library
        // never mapped by the program is a weak sign alone (an import first made long after start-up); mapped
        // from a directory the program never mapped code from, it alerts (1 − 0.7 × 0.6 ≥ ALERT_SCORE): a
        // library of an attacker's own, in /tmp or written by a database. Code mapped from a memfd never touched
        // a disk.
        EventKind::Mmap { memfd: true, .. } => emit!(View::File, 0.8, "{who} maps a memfd's code"),
        // Memory made executable that no file mapping brought: a JIT compiler's code — or shellcode, a library
        // loaded by hand. A program that never did it while learning alerts (a 0.8 alone). A file's mapping made
        // executable later (text relocations) is the file's code, as a mapping is.
        EventKind::ExecMemory { path: None, region, .. } => {
            emit!(View::Process, 0.8, "{who} makes {region} memory executable")
        }
        EventKind::Mmap { path, .. } | EventKind::ExecMemory { path: Some(path), .. } => {
            push_path_class(path, class, None);
            emit!(View::File, 0.3, "{who} maps code of {class}");
            emit!(View::File, 0.4, "{who} maps code in {}", dir_of(class));
        }
        EventKind::Exit { .. } | EventKind::Syscalls { .. } => {}
    }
}

/// The path of an event whose file view classes it with the program's data directories ([`WideDirs`]): what it
/// opens (not a sensitive file, nor a process's environment), renames into, makes, removes, cuts or links.
fn data_path(e: &Event) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    match &e.kind {
        EventKind::Open { path, .. } => {
            let path = kestrel_core::normalize_path(path);
            (!kestrel_core::is_process_environment(&path) && !kestrel_core::is_sensitive_read(&path)).then_some(path)
        }
        EventKind::Link { path, sensitive: false, .. } => Some(kestrel_core::normalize_path(path)),
        EventKind::Rename { to: path, .. }
        | EventKind::Mkdir { path, .. }
        | EventKind::Unlink { path, .. }
        | EventKind::Truncate { path, .. } => Some(Cow::Borrowed(path.as_str())),
        _ => None,
    }
}

/// Whether an open reads code a program loads: a module or compiled module of an interpreter (Python, Node.js,
/// Ruby, Perl), a Java archive or class, a shared library (`.so`, `.so.N`) — or lists a directory of an
/// interpreter's library tree (`O_DIRECTORY` below `python3.11`, `site-packages`, `node_modules`…), as an import
/// system does with a package's directory before it reads the package.
pub fn is_code(path: &str, flags: u32) -> bool {
    const O_DIRECTORY: u32 = 0o200000;
    // Asked of every read a profile judges: bytes, no searcher.
    let b = path.as_bytes();
    let name = &b[b.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1)..];
    let ext = name.iter().rposition(|&c| c == b'.').map_or(&[][..], |i| &name[i + 1..]);
    matches!(ext, b"py" | b"pyc" | b"so" | b"jar" | b"class" | b"js" | b"mjs" | b"cjs" | b"node" | b"rb" | b"pm")
        || name.windows(4).any(|w| w == b".so.")
        || (flags & O_DIRECTORY != 0
            && path.split('/').any(|c| {
                c.starts_with("python")
                    || matches!(c, "site-packages" | "dist-packages" | "lib-dynload" | "node_modules" | "gems")
                    || matches!(c, "ruby" | "perl" | "perl5" | "jvm")
            }))
}

/// Whether a path (as it resolves) is below the system's reference data: public, read-only files any program may
/// consult, on a reader's request as often as at its start — time zones, locales and translations, character
/// sets, CA certificates, MIME types, terminal descriptions.
pub fn is_reference_data(path: &str) -> bool {
    const TREES: [&str; 11] = [
        "/usr/share/zoneinfo",
        "/usr/share/locale",
        "/usr/lib/locale",
        "/usr/share/i18n",
        "/etc/ssl/certs",
        "/usr/share/ca-certificates",
        "/etc/pki/ca-trust",
        "/usr/share/mime",
        "/usr/share/terminfo",
        "/lib/terminfo",
        "/etc/terminfo",
    ];
    // Asked of every read a profile judges: most paths are ruled out by their first name.
    if !["/usr/", "/etc/", "/lib/"].iter().any(|p| path.starts_with(p)) {
        return false;
    }
    let path = kestrel_core::normalize_path(path);
    // Character sets below the architecture's library directory (`/usr/lib/x86_64-linux-gnu/gconv`).
    TREES.iter().any(|t| in_tree(&path, t))
        || (path.starts_with("/usr/lib/") && path.split('/').nth(4) == Some("gconv"))
}

/// Whether `path` is the directory `tree` or below it (`/usr/share/zoneinfo-x` is not below `/usr/share/zoneinfo`).
fn in_tree(path: &str, tree: &str) -> bool {
    path.strip_prefix(tree).is_some_and(|r| r.is_empty() || r.starts_with('/'))
}

/// The dynamic loader's cache of where libraries are (glibc's `ld.so`, read at each exec and dlopen).
const LOADER_CACHE: &str = "/etc/ld.so.cache";

/// Directories anyone in a container may write in, and the kernel's: code there is not a program's own.
const NOT_CODE_HOMES: [&str; 7] = ["/tmp", "/var/tmp", "/dev", "/run", "/proc", "/sys", "/var/lib/php/sessions"];

/// The directory part of a path class (`/` for a top-level file, `.` for a bare name).
fn dir_of(class: &str) -> &str {
    class.rsplit_once('/').map(|(d, _)| if d.is_empty() { "/" } else { d }).unwrap_or(".")
}

/// A system call's name (x86_64).
pub fn syscall_name(id: u16) -> String {
    syscall_numbers::x86_64::sys_call_name(id.into()).map_or_else(|| format!("#{id}"), str::to_string)
}

fn unpack(g: u64) -> Vec<u16> {
    let mut out = Vec::new();
    let mut g = g;
    while g != 0 {
        out.push(((g & 511) - 1) as u16);
        g >>= 9;
    }
    out.reverse();
    out
}

/// The n-gram in words: `execve→dup2→dup2`.
pub fn gram_words(g: u64) -> String {
    unpack(g).into_iter().map(syscall_name).collect::<Vec<_>>().join("→")
}

#[cfg(test)]
fn pack(calls: &[u16]) -> u64 {
    calls.iter().fold(0, |k, &c| (k << 9) | (u64::from(c.min(509)) + 1))
}

impl Profile {
    /// An empty profile in learn mode.
    pub fn new(workload: &str, policy: Policy) -> Profile {
        Profile {
            schema: PROFILE_SCHEMA.into(),
            workload: workload.into(),
            version: 1,
            mode: Mode::Learn,
            policy,
            learn_started_ns: 0,
            mode_since_ns: 0,
            last_new_ns: 0,
            last_event_ns: 0,
            last_alert_ns: 0,
            events: 0,
            containers: vec![],
            windows: 0,
            behaviours: vec![],
            grams: vec![],
            syscall_threshold: None,
            gram_form: GRAM_FORM,
            word_form: WORD_FORM,
            late_reads: false,
            late_writes: true,
            read_dirs: false,
            maps: false,
            exec_memory: false,
            reported: Some(0),
            wide: WideDirs::default(),
            novelty: vec![],
            drift_pending: false,
            overflow: 0,
            index: FxHashMap::default(),
            gram_index: FxHashMap::default(),
            introduced: FxHashMap::default(),
            samples: vec![],
            sample_seen: 0,
            sample_spans: FxHashMap::default(),
            trusted_grams: None,
            room: KeyRoom::default(),
            wide_seen: FxHashMap::default(),
            window_ids: Vec::new(),
        }
    }

    /// Rebuilds the lookup tables (after loading from JSON). N-grams formed otherwise than [`GRAM_FORM`] are dropped
    /// (with a warning), and with them the system-call threshold: the profile must learn them again.
    pub fn reindex(&mut self) {
        if self.gram_form != GRAM_FORM {
            if !self.grams.is_empty() {
                tracing::warn!(
                    workload = %self.workload,
                    "profile {} v{}: its system-call sequences were learned by another kestrel (n-gram form {}, \
                     now {GRAM_FORM}) and are left out; learn again (kestrel learn, or set it to learn mode) to score \
                     them",
                    self.workload,
                    self.version,
                    self.gram_form
                );
            }
            self.grams.clear();
            self.syscall_threshold = None;
            self.gram_form = GRAM_FORM;
        }
        if self.word_form < 1 {
            // `exec PROGRAM ` (an empty argument shape after the space) is `exec PROGRAM with no arguments` now.
            for b in &mut self.behaviours {
                if b.view == View::Process && b.key.starts_with("exec ") && b.key.ends_with(' ') {
                    b.key.pop();
                    b.key.push_str(NO_ARGUMENTS);
                }
            }
        }
        if self.word_form < 2 {
            // An older kestrel did not tell a second listen from the first: a program it saw listen may have
            // listened again too, so it is taken to have — the profile judges no listen it did not judge before.
            let again: Vec<Behaviour> = self
                .behaviours
                .iter()
                .filter(|b| b.view == View::Network && b.key.ends_with(" listens"))
                .map(|b| Behaviour { key: format!("{} again", b.key), ..b.clone() })
                .filter(|b| !self.behaviours.iter().any(|o| o.view == View::Network && o.key == b.key))
                .collect();
            self.behaviours.extend(again);
        }
        if self.word_form < 3 {
            self.argv_digits_as_n();
        }
        self.word_form = WORD_FORM;
        self.wide.rebuild();
        self.index = self.behaviours.iter().enumerate().map(|(i, b)| (hash_of((b.view, &b.key)), i)).collect();
        self.gram_index = self.grams.iter().enumerate().map(|(i, g)| (g.g, i)).collect();
        self.introduced.clear();
        for who in self.behaviours.iter().filter_map(|b| b.contributors.first()) {
            self.introduced.entry(*who).or_default()[0] += 1;
        }
        for who in self.grams.iter().filter_map(|g| g.c.first()) {
            self.introduced.entry(*who).or_default()[1] += 1;
        }
        self.trusted_grams = None;
    }

    /// Word form 3: the argument shapes of `exec PROGRAM SHAPE` rewritten with their digits as `N` ([`argv_shape`]);
    /// the behaviours that become one are merged. A program is known by its `exec PROGRAM with parent P` (every
    /// exec learns one), so a program whose name has spaces (`sh (via /proc/self/exe)`) is told from its arguments.
    fn argv_digits_as_n(&mut self) {
        let programs: FxHashSet<String> = self
            .behaviours
            .iter()
            .filter(|b| b.view == View::Process)
            .filter_map(|b| Some(b.key.strip_prefix("exec ")?.rsplit_once(" with parent ")?.0.to_string()))
            .collect();
        let mut changed = false;
        for b in self.behaviours.iter_mut().filter(|b| b.view == View::Process) {
            let Some(rest) = b.key.strip_prefix("exec ") else { continue };
            let Some(program) = programs
                .iter()
                .filter(|p| {
                    rest.len() > p.len() + 1 && rest.starts_with(p.as_str()) && rest.as_bytes()[p.len()] == b' '
                })
                .max_by_key(|p| p.len())
            else {
                continue;
            };
            let shape = &rest[program.len() + 1..];
            if shape.starts_with("with parent ") || !shape.bytes().any(|c| c.is_ascii_digit()) {
                continue;
            }
            let mut key = format!("exec {program} ");
            push_digits_as_n(shape, &mut key);
            b.key = key;
            changed = true;
        }
        if !changed {
            return;
        }
        // Shapes that are one now: one behaviour, seen where and when either was (keyed as `index` keys them).
        let mut at: FxHashMap<u64, usize> = FxHashMap::default();
        let mut kept: Vec<Behaviour> = Vec::with_capacity(self.behaviours.len());
        for b in std::mem::take(&mut self.behaviours) {
            let h = hash_of((b.view, &b.key));
            match at.get(&h) {
                Some(&i) => {
                    let k = &mut kept[i];
                    // Counts come from a file: two near the limit must not overflow.
                    k.count = k.count.saturating_add(b.count);
                    k.first_ns = k.first_ns.min(b.first_ns);
                    k.last_ns = k.last_ns.max(b.last_ns);
                    b.contributors.iter().for_each(|&c| {
                        add_bounded(&mut k.contributors, c, MAX_CONTRIBUTORS);
                    });
                    b.windows.iter().for_each(|&w| {
                        add_bounded(&mut k.windows, w, MAX_WINDOWS);
                    });
                }
                None => {
                    at.insert(h, kept.len());
                    kept.push(b);
                }
            }
        }
        self.behaviours = kept;
    }

    /// Whether `who` may add a new entry to table `table` (0: behaviours, 1: n-grams) of `len` entries out of
    /// `max`; counts it when it may, and the overflow when not.
    fn room_for(&mut self, who: u64, table: usize, len: usize, max: usize) -> bool {
        let mine = &mut self.introduced.entry(who).or_default()[table];
        if len >= max || *mine >= max / MAX_SHARE_OF_ONE {
            self.overflow += 1;
            return false;
        }
        *mine += 1;
        true
    }

    /// The trusted n-grams as a set (built once after learning).
    fn trusted_gram_set(&mut self) -> &mut TrustedGrams {
        if self.trusted_grams.is_none() {
            let set = self.grams.iter().filter(|g| self.trusted(g.c.len(), g.w.len())).map(|g| g.g).collect();
            self.trusted_grams = Some(TrustedGrams::new(set));
        }
        self.trusted_grams.get_or_insert_with(|| TrustedGrams::new(FxHashSet::default()))
    }

    fn window(&self, t: u64) -> u64 {
        t / self.policy.window_ns.max(1)
    }

    /// Whether a behaviour counts as normal: seen in `k` containers, or in `t` windows when the workload
    /// never had `k` containers.
    fn trusted(&self, contributors: usize, windows: usize) -> bool {
        contributors >= self.policy.k || (self.containers.len() < self.policy.k && windows >= self.policy.t)
    }

    /// Learns one feature; true if it was new.
    fn learn_feature(&mut self, view: View, key: &str, who: u64, t: u64) -> bool {
        let h = hash_of((view, key));
        let w = self.window(t);
        match self.index.get(&h).copied() {
            Some(i) => {
                let b = &mut self.behaviours[i];
                b.count += 1;
                b.last_ns = b.last_ns.max(t);
                let grew = add_bounded(&mut b.contributors, who, MAX_CONTRIBUTORS);
                add_bounded(&mut b.windows, w, MAX_WINDOWS);
                grew
            }
            None if !self.room_for(who, 0, self.behaviours.len(), MAX_BEHAVIOURS) => false,
            None => {
                self.index.insert(h, self.behaviours.len());
                self.behaviours.push(Behaviour {
                    view,
                    key: key.to_string(),
                    count: 1,
                    contributors: vec![who],
                    windows: vec![w],
                    first_ns: t,
                    last_ns: t,
                });
                true
            }
        }
    }

    fn learn_grams(&mut self, grams: &[u64], who: u64, t: u64) -> bool {
        if !grams.is_empty() {
            self.trusted_grams = None;
        }
        let w = self.window(t);
        let mut new = false;
        for &g in grams {
            match self.gram_index.get(&g).copied() {
                Some(i) => {
                    let e = &mut self.grams[i];
                    e.n += 1;
                    new |= add_bounded(&mut e.c, who, MAX_CONTRIBUTORS);
                    add_bounded(&mut e.w, w, MAX_WINDOWS);
                }
                None if !self.room_for(who, 1, self.grams.len(), MAX_GRAMS) => {}
                None => {
                    self.gram_index.insert(g, self.grams.len());
                    self.grams.push(Gram { g, n: 1, c: vec![who], w: vec![w] });
                    new = true;
                }
            }
        }
        // A reservoir of batches, with their container, for calibrating the threshold.
        if !grams.is_empty() {
            self.sample_seen += 1;
            if self.sample_spans.len() < MAX_SPANS || self.sample_spans.contains_key(&who) {
                let span = self.sample_spans.entry(who).or_insert((t, t));
                *span = (span.0.min(t), span.1.max(t));
            }
            if self.samples.len() < CALIBRATION_SAMPLES {
                self.samples.push((who, grams.to_vec()));
            } else {
                let j = (hash_of((self.sample_seen, t)) % self.sample_seen) as usize;
                if j < CALIBRATION_SAMPLES {
                    self.samples[j] = (who, grams.to_vec());
                }
            }
        }
        new
    }

    /// Learns one event of container `container` (with the system-call n-grams it completes, if any).
    pub fn learn(&mut self, e: &Event, cx: Cx<'_>, grams: &[u64], container: &str) {
        let who = hash_of(container);
        let t = e.time_ns;
        if self.learn_started_ns == 0 {
            self.learn_started_ns = t;
            self.mode_since_ns = t;
        }
        if add_bounded(&mut self.containers, who, 64) {
            self.last_new_ns = t;
        }
        // A window counts once, however the events come: a recording older than one learned before it, or events
        // a little out of order across a window's edge (each CPU's sensor buffer is in order, not all of them).
        let w = self.window(t);
        // (A window older than every one remembered, with the memory full, is taken as counted.)
        if self.window_ids.last() != Some(&w) {
            match self.window_ids.binary_search(&w) {
                Err(0) if self.window_ids.len() >= MAX_WINDOW_IDS => {}
                Err(at) => {
                    self.windows += 1;
                    self.window_ids.insert(at, w);
                    if self.window_ids.len() > MAX_WINDOW_IDS {
                        self.window_ids.remove(0);
                    }
                }
                Ok(_) => {}
            }
        }
        self.last_event_ns = self.last_event_ns.max(t);
        self.events += 1;
        self.maps |= matches!(e.kind, EventKind::Mmap { .. });
        // Memory made executable is rare (a JIT's, once per program and period): its absence says the workload
        // never did it only when the source would have shown it. A recording of a sensor without the probes (an
        // older kestrel's, `--leave-out exec-memory`, a kernel without bpf_find_vma) learned as if it had would
        // take every JIT for new once a sensor with them watches.
        self.exec_memory |= match cx.reports {
            Some(bits) => bits & EXEC_MEMORY_BIT != 0,
            None => matches!(e.kind, EventKind::ExecMemory { .. }),
        };
        self.reported = self.reported.zip(cx.reports).map(|(had, now)| had | now);
        if let Some(path) = data_path(e) {
            // An ordinary read (an open data_path keeps, not for writing): the sensor reports every read (a
            // sensitive one it always does) — at the process's start-up or past it.
            let ordinary_read = matches!(&e.kind, EventKind::Open { flags, .. } if !open_writes(*flags));
            self.late_reads |= cx.past_startup && ordinary_read;
            self.read_dirs |= cx.read_dirs && ordinary_read;
            self.count_names(&path, &e.comm, who, t);
        }
        let mut new = false;
        let mut room = std::mem::take(&mut self.room);
        let wide = std::mem::take(&mut self.wide);
        each_feature(e, Cx { wide: Some(&wide), ..cx }, &mut room, |view, _, key| {
            new |= self.learn_feature(view, key, who, t)
        });
        self.wide = wide;
        self.room = room;
        new |= self.learn_grams(grams, who, t);
        if new {
            self.last_new_ns = t;
        }
    }

    /// Counts the names program `who` touches in each directory of `path`, from `container` at `t`; a directory
    /// where it touched [`WIDE_AT`] of them, from enough containers (or windows) to trust, becomes data.
    fn count_names(&mut self, path: &str, who: &str, container: u64, t: u64) {
        let w = self.window(t);
        let mut full: Vec<(u64, String)> = Vec::new();
        let seen = &mut self.wide_seen;
        let mut class = std::mem::take(&mut self.room.class);
        walk_path_class(path, &mut class, Some((&self.wide, who)), |dir, name| {
            let h = hash_of((who, dir));
            if seen.len() >= MAX_WIDE_CANDIDATES && !seen.contains_key(&h) {
                return;
            }
            let c = seen.entry(h).or_default();
            if c.names.len() < WIDE_AT {
                add_bounded(&mut c.names, hash_of(name), WIDE_AT);
            }
            add_bounded(&mut c.contributors, container, MAX_CONTRIBUTORS);
            add_bounded(&mut c.windows, w, MAX_WINDOWS);
            if c.names.len() >= WIDE_AT {
                full.push((h, dir.to_string()));
            }
        });
        self.room.class = class;
        for (h, dir) in full {
            let c = &self.wide_seen[&h];
            if self.trusted(c.contributors.len(), c.windows.len()) {
                self.wide.add(who, &dir);
                self.wide_seen.remove(&h);
            }
        }
    }

    /// Ends a learning pass: calibrates the system-call threshold on held-out batches. Each kept batch is
    /// scored by its n-grams that fewer than k *other* containers showed (leave-one-container-out, as a profile
    /// learned without its container would trust them — all the others when there are k or fewer; with a single
    /// container, the other half of the batches); each container's quantile at the target false-alarm rate is
    /// taken, and the threshold is their median — so one container (a poisoned replica whose batches are all
    /// strange) cannot raise it.
    ///
    /// With `syscall_far` 0 a container's quantile is the level its batches should pass
    /// [`SYSCALL_ALARMS_PER_HOUR`] times per hour at the rate it sent them: the tail of its held-out counts fitted
    /// by an exponential above their 90th percentile (peaks over a threshold) and followed out to that rarity — at
    /// least its most unusual batch. The largest of a few thousand batches is not the level an hour of them passes:
    /// a profile learned on a starved CPU (fewer, quieter batches) met postgres's write bursts 6 unseen n-grams
    /// above its largest held-out one (docs/BENCHMARKS.md, stop 58).
    pub fn calibrate(&mut self) {
        // The names counted for data directories were this pass's (at most about 2 MB: MAX_WIDE_CANDIDATES).
        self.wide_seen = FxHashMap::default();
        if self.samples.is_empty() {
            return;
        }
        let single = self.samples.iter().all(|s| s.0 == self.samples[0].0);
        let group = |i: usize, s: &(u64, Vec<u64>)| if single { (i & 1) as u64 } else { s.0 };
        // A held-out group's gram counts as seen when as many *other* groups showed it as a profile learned
        // without the group would ask (k, or all the others when there are fewer): what a new container faces
        // is a trusted set learned under the same rule, not everything any other container did.
        let mut groups: Vec<u64> = self.samples.iter().enumerate().map(|(i, s)| group(i, s)).collect();
        groups.sort_unstable();
        groups.dedup();
        let need = self.policy.k.min(groups.len().saturating_sub(1)).max(1);
        // For every gram of the samples: the first `need + 1` groups that showed it (enough to tell).
        let mut shown: FxHashMap<u64, Vec<u64>> = FxHashMap::default();
        for (i, s) in self.samples.iter().enumerate() {
            let gid = group(i, s);
            for &g in &s.1 {
                let e = shown.entry(g).or_default();
                if e.len() <= need && !e.contains(&gid) {
                    e.push(gid);
                }
            }
        }
        let mut per_group: FxHashMap<u64, Vec<f64>> = FxHashMap::default();
        for (i, s) in self.samples.iter().enumerate() {
            let gid = group(i, s);
            let others = |g: &u64| shown.get(g).map_or(0, |e| e.iter().filter(|&&x| x != gid).count());
            let unseen = s.1.iter().filter(|g| others(g) < need).count() as f64;
            per_group.entry(gid).or_default().push(unseen);
        }
        let far = self.policy.syscall_far;
        // Batches per hour each container sent: those kept of it, over the share of all batches kept, in its span.
        let mut kept: FxHashMap<u64, usize> = FxHashMap::default();
        self.samples.iter().for_each(|s| *kept.entry(s.0).or_default() += 1);
        let share_kept = self.samples.len() as f64 / self.sample_seen.max(1) as f64;
        let per_hour = |who: u64| {
            let (first, last) = self.sample_spans.get(&who)?;
            let hours = (last - first) as f64 / 3.6e12;
            let n = *kept.get(&who)? as f64;
            (hours > 0.0).then(|| n / share_kept / hours)
        };
        let single_who = self.samples[0].0;
        let mut quantiles: Vec<f64> = per_group
            .into_iter()
            .map(|(gid, mut v)| {
                v.sort_by(f64::total_cmp);
                let q = ((1.0 - far) * v.len() as f64).ceil() as usize;
                let level = v[q.clamp(1, v.len()) - 1];
                match per_hour(if single { single_who } else { gid }) {
                    Some(rate) if far == 0.0 => level.max(tail_level(&v, SYSCALL_ALARMS_PER_HOUR / rate)),
                    _ => level,
                }
            })
            .collect();
        quantiles.sort_by(f64::total_cmp);
        let median = quantiles[(quantiles.len() - 1) / 2];
        // One unusual call in a known sequence makes at most GRAM unseen n-grams: the threshold asks for more.
        self.syscall_threshold = Some(median.max(GRAM as f64));
    }

    /// The learned behaviour for a feature, if any.
    pub fn behaviour(&self, view: View, key: &str) -> Option<&Behaviour> {
        self.index.get(&hash_of((view, key))).map(|&i| &self.behaviours[i])
    }

    /// Whether a feature is normal.
    pub fn knows(&self, view: View, key: &str) -> bool {
        self.behaviour(view, key).is_some_and(|b| self.trusted(b.contributors.len(), b.windows.len()))
    }

    /// Whether an open of `path` with `flags` reads code ([`is_code`]) below a directory this profile knows `who`
    /// reads in, at least two names deep (`/usr/lib`, `/srv/app`; not `/`, `/usr`) and not one anyone may write in
    /// (`/tmp`, `/dev/shm`…): where the program's own code is — `/usr/lib/python3.11` for an import of
    /// `/usr/lib/python3.11/xml/etree/ElementTree.py`. Only for a profile that learned where its programs read.
    pub fn reads_code_below(&self, who: &str, path: &str, flags: u32) -> bool {
        if !self.read_dirs || !path.starts_with('/') || !is_code(path, flags) {
            return false;
        }
        let path = kestrel_core::normalize_path(path);
        if NOT_CODE_HOMES.iter().any(|h| in_tree(&path, h)) {
            return false;
        }
        // `WHO reads in DIR` for the file's directory, then cut back to each ancestor's (its words end with it).
        let dir = dir_of(&path);
        let mut key = format!("{who} reads in {dir}");
        let base = key.len() - dir.len();
        // `/a/b` has two names: two slashes.
        while key[base..].bytes().filter(|&c| c == b'/').count() >= 2 {
            if self.knows(View::File, &key) {
                return true;
            }
            let cut = key[base..].rfind('/').map_or(0, |i| base + i);
            key.truncate(cut);
        }
        false
    }

    /// Trusted behaviours and n-grams.
    pub fn trusted_counts(&self) -> (usize, usize) {
        let b = self.behaviours.iter().filter(|b| self.trusted(b.contributors.len(), b.windows.len())).count();
        let g = self.grams.iter().filter(|g| self.trusted(g.c.len(), g.w.len())).count();
        (b, g)
    }

    /// Promotes the mode when the policy says so; returns the new mode when it changed.
    pub fn promote(&mut self, now: u64) -> Option<Mode> {
        let p = &self.policy;
        let next = match self.mode {
            Mode::Learn
                if now.saturating_sub(self.learn_started_ns) >= p.min_learn_ns
                    && now.saturating_sub(self.last_new_ns) >= p.stable_ns =>
            {
                self.calibrate();
                Mode::Monitor
            }
            Mode::Monitor => match p.protect_after_ns {
                Some(after)
                    if now.saturating_sub(self.mode_since_ns) >= after
                        && now.saturating_sub(self.last_alert_ns.max(self.mode_since_ns)) >= after =>
                {
                    Mode::Protect
                }
                _ => return None,
            },
            _ => return None,
        };
        self.mode = next;
        self.mode_since_ns = now;
        Some(next)
    }

    /// Sets the mode by hand (`kestrel profile mode`).
    pub fn set_mode(&mut self, mode: Mode, now: u64) {
        if mode != Mode::Learn && self.mode == Mode::Learn {
            self.calibrate();
        }
        self.mode = mode;
        self.mode_since_ns = now;
    }

    /// Starts the next version in learn mode, keeping what was learned (after drift, or by a person's
    /// approval).
    pub fn relearn(&mut self, now: u64) {
        self.version += 1;
        self.mode = Mode::Learn;
        self.mode_since_ns = now;
        self.learn_started_ns = now;
        self.last_new_ns = now;
        self.drift_pending = false;
        self.novelty.clear();
    }

    /// Records a new behaviour seen in monitor/protect; true when that makes drift.
    fn note_novelty(&mut self, t: u64) -> bool {
        let w = self.window(t);
        match self.novelty.last_mut() {
            Some((lw, n)) if *lw == w => *n += 1,
            _ => {
                self.novelty.push((w, 1));
                if self.novelty.len() > 64 {
                    self.novelty.remove(0);
                }
            }
        }
        let p = &self.policy;
        let recent: Vec<_> = self.novelty.iter().rev().take(p.drift_windows).collect();
        recent.len() >= p.drift_windows
            && recent.windows(2).all(|x| x[0].0 == x[1].0 + 1)
            && recent.iter().all(|(_, n)| *n > p.drift_novel)
    }

    /// A summary of what the profile learned, for explanations.
    pub fn baseline(&self) -> String {
        let (b, g) = self.trusted_counts();
        let reads = match (self.read_dirs, self.late_reads) {
            (true, true) => "; reads learned, past start-up too",
            (true, false) => "; reads at start-up learned",
            (false, true) => "; reads past start-up learned",
            (false, false) => "",
        };
        let maps = match (self.maps, self.exec_memory) {
            (true, true) => "; code mappings and executable memory learned",
            (true, false) => "; code mappings learned",
            _ => "",
        };
        let all = (1u16 << kestrel_core::LEAVABLE_KINDS.len()) - 1;
        let unreported = match self.reported.map(|r| kestrel_core::leavable_names(all & !r)) {
            Some(kinds) if !kinds.is_empty() => {
                format!("; not reported while learning, not judged: {}", kinds.join(", "))
            }
            _ => String::new(),
        };
        // A threshold at or above what one batch can hold: its held-out batches did not allow the false-alarm budget.
        let quiet = match self.syscall_threshold {
            Some(th) if g > 0 && th >= kestrel_core::SYSCALL_BATCH as f64 => format!(
                "; system-call sequences quiet (threshold {th:.0} unseen per batch of at most {}: its held-out batches \
                 do not allow {SYSCALL_ALARMS_PER_HOUR} false alarms per container-hour)",
                kestrel_core::SYSCALL_BATCH
            ),
            _ => String::new(),
        };
        let full = match self.overflow {
            0 => String::new(),
            n => format!(
                "; {n} new behaviours or sequences not learned (the profile, or one container's share, was full)"
            ),
        };
        format!(
            "profile {} v{} ({}): {} from {} over {}; {}, {}{quiet}{reads}{maps}{unreported}{full}",
            self.workload,
            self.version,
            self.mode.as_str(),
            kestrel_core::counted(self.events as usize, "event"),
            kestrel_core::counted(self.containers.len(), "container"),
            kestrel_core::counted(self.windows as usize, "window"),
            kestrel_core::counted(b, "trusted behaviour"),
            kestrel_core::counted(g, &format!("trusted system-call {GRAM}-gram"))
        )
    }
}

/// Per-thread system-call context: the last calls, to form n-grams across batches.
#[derive(Debug, Default)]
pub struct SyscallContext {
    /// Each thread's last calls, packed as a gram is (up to GRAM-1 symbols), and how many there are: held in the
    /// map itself, no allocation per thread (looked up on every batch, a pointer more to follow was a cache miss).
    tails: FxHashMap<u32, (u64, u8)>,
}

const MAX_THREADS: usize = 65_536;

impl SyscallContext {
    /// The n-grams a batch completes for its thread.
    pub fn grams(&mut self, tid: u32, ids: &[u16]) -> Vec<u64> {
        let mut out = Vec::new();
        self.grams_into(tid, ids, &mut out);
        out
    }

    /// The same, into `out` (cleared first), without allocating once warm.
    pub fn grams_into(&mut self, tid: u32, ids: &[u16], out: &mut Vec<u64>) {
        out.clear();
        if self.tails.len() >= MAX_THREADS && !self.tails.contains_key(&tid) {
            self.tails.clear();
        }
        let tail = self.tails.entry(tid).or_default();
        // The last GRAM-1 calls of the thread, then the batch: a gram is packed incrementally. A call repeated
        // more than twice in a row adds nothing: a loop over data (a close per descriptor, a write per block, a
        // stat per file) runs as many times as the data asks, and how many is not behaviour. Nor does a futex
        // (see [`FUTEX`]): where the locks fall is the scheduler's doing; nor the memory manager's calls (see
        // [`MEMORY_CALLS`]): where a heap grows is the allocator's.
        const SYM: u64 = 0x1ff;
        let (mut g, mut have) = (tail.0, usize::from(tail.1));
        out.reserve(ids.len());
        for &c in ids {
            if left_out_of_grams(c) {
                continue;
            }
            let sym = u64::from(c.min(509)) + 1;
            // The last two calls were this one (no symbol is 0 and `g` holds nothing above its calls, so fewer than
            // two calls never match).
            if g & SYM == sym && (g >> 9) & SYM == sym {
                continue;
            }
            g = ((g << 9) | sym) & ((1u64 << (9 * GRAM)) - 1);
            have += 1;
            if have >= GRAM {
                out.push(g);
            }
        }
        // The tail is what the last grams ended with, repeats folded as above.
        let keep = have.min(GRAM - 1);
        *tail = (g & ((1u64 << (9 * keep)) - 1), keep as u8);
    }

    /// Forgets a thread (at its exit).
    pub fn forget(&mut self, tid: u32) {
        self.tails.remove(&tid);
    }
}

/// How many trusted n-grams the table in front of the set holds (a power of two; 32 KiB).
const RECENT_GRAMS: usize = 4096;

/// The trusted n-grams, with those met lately in a small table in front of the set: a workload's batches
/// repeat a few hundred grams, while the set of every trusted one is larger than the processor's nearest caches.
/// The table holds only grams found in the set, so an answer from it is the set's.
#[derive(Clone)]
struct TrustedGrams {
    set: FxHashSet<u64>,
    /// Slot by the gram's hash: the last trusted gram met there (0, which no gram is, when none).
    recent: Box<[u64]>,
}

impl TrustedGrams {
    fn new(set: FxHashSet<u64>) -> TrustedGrams {
        TrustedGrams { set, recent: vec![0; RECENT_GRAMS].into_boxed_slice() }
    }

    fn contains(&mut self, g: u64) -> bool {
        let slot = (g.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - RECENT_GRAMS.trailing_zeros())) as usize;
        if self.recent[slot] == g && g != 0 {
            return true;
        }
        let trusted = self.set.contains(&g);
        if trusted {
            self.recent[slot] = g;
        }
        trusted
    }
}

impl fmt::Debug for TrustedGrams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedGrams({} grams)", self.set.len())
    }
}

/// What scoring one event against a profile found.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Features never trusted while learning, with their weights, largest first.
    pub novel: Vec<(View, String, f64, &'static str)>,
    /// Unseen n-grams in the event's system-call batch, and the threshold.
    pub unseen_grams: Option<(usize, f64, Vec<u64>)>,
    /// Rate alarms: (behaviour, count in this window, learned rate per container-window).
    pub rates: Vec<(String, u64, f64)>,
    /// Drift was detected by this event.
    pub drift: bool,
    /// The combined score, 0–1.
    pub score: f64,
}

/// Scores events of one workload against its profile, with alert suppression (each new behaviour alerts
/// once per container) and per-window rate counting.
#[derive(Debug, Default)]
pub struct Scorer {
    /// Per-container keys of new behaviours an alert has named: they alert no more.
    alerted: FxHashSet<u64>,
    /// Per-container keys of new behaviours met (counted once each for drift). One too weak to alert alone is not
    /// spent by being met: it still counts toward an alert with another (a read of a file never read where the
    /// program never reads once started, after a lazy read of a known file there).
    noted: FxHashSet<u64>,
    rates: FxHashMap<u64, (u64, u64)>,
    room: KeyRoom,
    /// This event's new behaviours' keys (spent if it alerts).
    keys: Vec<u64>,
}

/// The features of recent events that name the same things — an open of one file by one command, an accept
/// from one address, a connection to one peer — which a service repeats all day: looked up by what they name
/// (compared in full, so an answer from here is the one [`each_feature`] gives) instead of writing the features
/// out and hashing them again for every event. What an event's features are does not depend on the workload's
/// profile: the detector keeps one memo for every workload (a memo each would cost tens of kilobytes a workload).
#[derive(Debug)]
pub struct FeatureMemo {
    /// A power of two of slots, made on first use.
    slots: Vec<Option<Memoed>>,
    size: usize,
}

impl Default for FeatureMemo {
    fn default() -> FeatureMemo {
        FeatureMemo::with_slots(MEMO_SLOTS)
    }
}

/// How many events' features the memo holds (a power of two).
const MEMO_SLOTS: usize = 512;

/// The longest name (path, address, command) an event the memo keeps may carry, in bytes.
const MEMO_MAX_NAME: usize = 256;

/// What an event's features depend on, for the kinds the memo keeps (see [`each_feature`]).
#[derive(Debug)]
enum MemoKey {
    Open { comm: String, path: String, write: bool, reads: u8, wide: u64 },
    Accept { family: String, addr: String, port: Option<u16> },
    Connect { comm: String, family: String, addr: String, port: u16 },
    Send { comm: String, family: String, addr: String, port: u16 },
}

#[derive(Debug)]
struct Memoed {
    key: MemoKey,
    /// Each feature: view, weight, hash of view and words, words.
    features: Vec<(View, f64, u64, Box<str>)>,
}

/// Whether an open can change the file: opened for writing, or made if missing (`O_CREAT`). The profiles' file
/// view and the rules' written files ([`crate::rules::fields::State`]) both go by it. (Falco's `evt.is_open_write`
/// is the access mode alone.)
pub(crate) fn open_writes(flags: u32) -> bool {
    flags & 3 != 0 || flags & 0o100 != 0
}

impl MemoKey {
    /// Whether `e` is what this key names, without copying anything.
    fn names(&self, e: &Event, phase: u8, data: u64) -> bool {
        match (self, &e.kind) {
            (MemoKey::Open { comm, path, write, reads, wide }, EventKind::Open { path: p, flags }) => {
                path == p && comm == &e.comm && *write == open_writes(*flags) && *reads == phase && *wide == data
            }
            (MemoKey::Accept { family, addr, port }, EventKind::Accept { from, port: p }) => {
                addr == &from.addr && port == p && family == &from.family
            }
            (MemoKey::Connect { comm, family, addr, port }, EventKind::Connect { to })
            | (MemoKey::Send { comm, family, addr, port }, EventKind::Send { to, .. }) => {
                addr == &to.addr && *port == to.port && family == &to.family && comm == &e.comm
            }
            _ => false,
        }
    }

    fn of(e: &Event, reads: u8, wide: u64) -> Option<MemoKey> {
        Some(match &e.kind {
            EventKind::Open { path, flags } => {
                MemoKey::Open { comm: e.comm.clone(), path: path.clone(), write: open_writes(*flags), reads, wide }
            }
            EventKind::Accept { from, port } => {
                MemoKey::Accept { family: from.family.clone(), addr: from.addr.clone(), port: *port }
            }
            EventKind::Connect { to } => MemoKey::Connect {
                comm: e.comm.clone(),
                family: to.family.clone(),
                addr: to.addr.clone(),
                port: to.port,
            },
            EventKind::Send { to, .. } => {
                MemoKey::Send { comm: e.comm.clone(), family: to.family.clone(), addr: to.addr.clone(), port: to.port }
            }
            _ => return None,
        })
    }
}

/// The hash of what the memo's key of an event compares, for an event of a kind it keeps.
fn memo_hash(e: &Event, reads: u8, wide: u64) -> Option<u64> {
    // What the memo keeps is bounded (a workload's events choose the names: a path of a few kilobytes in every
    // slot of every workload's memo would add up), and a long name is rarely met twice.
    let long = |s: &str| s.len() > MEMO_MAX_NAME;
    let h = match &e.kind {
        _ if long(&e.comm) => return None,
        EventKind::Open { path, .. } | EventKind::Accept { from: SockAddr { addr: path, .. }, .. } if long(path) => {
            return None
        }
        EventKind::Connect { to } | EventKind::Send { to, .. } if long(&to.addr) || long(&to.family) => return None,
        EventKind::Accept { from, .. } if long(&from.family) => return None,
        EventKind::Open { path, flags } => hash_of((0u8, path, &e.comm, open_writes(*flags), reads, wide)),
        EventKind::Accept { from, port } => hash_of((1u8, &from.addr, port, &from.family)),
        EventKind::Connect { to } => hash_of((2u8, &to.addr, to.port, &to.family, &e.comm)),
        EventKind::Send { to, .. } => hash_of((3u8, &to.addr, to.port, &to.family, &e.comm)),
        _ => return None,
    };
    Some(h.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

impl FeatureMemo {
    /// A memo of `size` slots (a power of two).
    fn with_slots(size: usize) -> FeatureMemo {
        assert!(size.is_power_of_two());
        FeatureMemo { slots: Vec::new(), size }
    }

    /// Hands `e`'s features to `emit` as [`each_feature`] does, with each one's hash: from the memo when an
    /// earlier event named the same things, written out (and kept) otherwise.
    fn each(&mut self, e: &Event, cx: Cx<'_>, room: &mut KeyRoom, mut emit: impl FnMut(View, f64, u64, &str)) {
        match self.kept(e, cx, room) {
            Some(m) => {
                for (view, weight, h, words) in &m.features {
                    emit(*view, *weight, *h, words);
                }
            }
            None => each_feature(e, cx, room, |view, weight, words| emit(view, weight, hash_of((view, words)), words)),
        }
    }

    /// `e`'s features as the memo holds them (written out and kept first when it held none), or `None` for an
    /// event it does not keep.
    fn kept(&mut self, e: &Event, cx: Cx<'_>, room: &mut KeyRoom) -> Option<&Memoed> {
        // What the memo keeps (opens, accepts, connections, sends) depends on how a read is judged (the process's
        // start-up, the profile's reads learned, a library read) and an open's on the profile's data
        // directories (one memo serves every profile), not on a parent (an exec's).
        let reads = u8::from(cx.past_startup)
            | u8::from(cx.read_dirs) << 1
            | u8::from(cx.library) << 2
            | u8::from(cx.write_past_startup) << 3;
        let wide = cx.wide.map_or(0, |w| w.id);
        let slot = (memo_hash(e, reads, wide)? >> 32) as usize & (self.size - 1);
        if self.slots.is_empty() {
            self.slots.resize_with(self.size, || None);
        }
        if !self.slots[slot].as_ref().is_some_and(|m| m.key.names(e, reads, wide)) {
            let key = MemoKey::of(e, reads, wide)?;
            let mut features = Vec::new();
            each_feature(e, cx, room, |view, weight, words| {
                features.push((view, weight, hash_of((view, words)), Box::from(words)));
            });
            self.slots[slot] = Some(Memoed { key, features });
        }
        self.slots[slot].as_ref()
    }
}

const MAX_SUPPRESSED: usize = 100_000;

impl Scorer {
    /// Scores an event. `grams` are the n-grams its system-call batch completes; `memo` answers what the
    /// event's features are (any workload's memo).
    pub fn score(
        &mut self,
        p: &mut Profile,
        e: &Event,
        cx: Cx<'_>,
        grams: &[u64],
        container: &str,
        memo: &mut FeatureMemo,
    ) -> Verdict {
        let mut v = Verdict::default();
        // A profile judges a kind a node may do without only when it learned it: a mapping once it saw one, memory
        // made executable once its sources said they report it (or one came), any other such kind once a source
        // it learned from reported it.
        let judged = match e.kind {
            EventKind::Mmap { .. } => p.maps,
            EventKind::ExecMemory { .. } => p.exec_memory,
            // A kind newer than the `reported` field: a profile that does not say learned from no DNS question.
            EventKind::Dns { .. } => p.reported.is_some_and(|r| r & DNS_BIT != 0),
            ref kind => p.reported.is_none_or(|r| {
                let bit = kind.leavable_bit();
                bit == 0 || r & bit != 0
            }),
        };
        if !judged {
            return v;
        }
        let who = hash_of(container);
        let w = p.window(e.time_ns);
        let Scorer { alerted, noted, rates, room, keys } = self;
        keys.clear();
        let wide = std::mem::take(&mut p.wide);
        memo.each(e, Cx { wide: Some(&wide), ..cx }, room, |view, weight, h, words| {
            // The per-container key of this behaviour (suppression and rates).
            let key = h ^ who.rotate_left(17);
            match p.index.get(&h).map(|&i| &p.behaviours[i]) {
                Some(b) if p.trusted(b.contributors.len(), b.windows.len()) => {
                    // Frequency: a trusted behaviour far above its learned rate.
                    let rate = b.count as f64 / (p.containers.len().max(1) as f64 * p.windows.max(1) as f64);
                    let slot = rates.entry(key).or_insert((w, 0));
                    if slot.0 != w {
                        *slot = (w, 0);
                    }
                    slot.1 += 1;
                    let limit = 100.0 * rate + 50.0;
                    if slot.1 as f64 > limit && slot.1 as f64 <= limit + 1.0 {
                        v.rates.push((words.to_string(), slot.1, rate));
                    }
                }
                seen => {
                    let why = if seen.is_some() {
                        "seen while learning in too few containers or windows to be trusted"
                    } else {
                        "never seen while learning"
                    };
                    if !alerted.contains(&key) {
                        if noted.len() >= MAX_SUPPRESSED {
                            noted.clear();
                        }
                        if noted.insert(key) {
                            v.drift |= p.note_novelty(e.time_ns);
                        }
                        keys.push(key);
                        v.novel.push((view, words.to_string(), weight, why));
                    }
                }
            }
        });
        p.wide = wide;
        if self.rates.len() > MAX_SUPPRESSED {
            self.rates.clear();
        }
        if let (Some(th), false) = (p.syscall_threshold, grams.is_empty()) {
            let trusted = p.trusted_gram_set();
            let mut count = 0;
            for &g in grams {
                count += usize::from(!trusted.contains(g));
            }
            if count as f64 > th {
                let unseen: Vec<u64> = grams.iter().copied().filter(|&g| !trusted.contains(g)).collect();
                let key = hash_of((who, "grams", unseen[0]));
                if self.alerted.insert(key) {
                    v.unseen_grams = Some((unseen.len(), th, unseen));
                }
            }
        }
        v.novel.sort_by(|a, b| b.2.total_cmp(&a.2));
        let mut keep = 1.0;
        for (_, _, w, _) in &v.novel {
            keep *= 1.0 - w;
        }
        if let Some((n, th, _)) = &v.unseen_grams {
            keep *= 1.0 - (0.5 + 0.5 * ((*n as f64 - th) / th.max(1.0)).min(1.0));
        }
        if !v.rates.is_empty() {
            keep *= 0.5;
        }
        v.score = 1.0 - keep;
        if v.score >= ALERT_SCORE || v.drift {
            // An alert names them: spent for this container.
            if self.alerted.len() + self.keys.len() > MAX_SUPPRESSED {
                self.alerted.clear();
            }
            self.alerted.extend(self.keys.drain(..));
        }
        v
    }
}

/// The severity of a model score.
pub fn severity_of_score(s: f64) -> Severity {
    if s >= 0.9 {
        Severity::High
    } else if s >= 0.7 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// Scores at or above this raise an alert.
pub const ALERT_SCORE: f64 = 0.5;

/// Makes the alert of a verdict, if it deserves one.
pub fn alert(p: &Profile, v: &Verdict, e: &Event, seq: u64) -> Option<Alert> {
    if v.score < ALERT_SCORE && !v.drift {
        return None;
    }
    let mut explanation = Vec::new();
    let mut contributions = Vec::new();
    let total: f64 = v.novel.iter().map(|n| n.2).sum::<f64>()
        + v.unseen_grams.as_ref().map_or(0.0, |_| 0.5)
        + if v.rates.is_empty() { 0.0 } else { 0.5 };
    let mut view = v.novel.first().map(|n| n.0);
    for (vw, key, w, why) in &v.novel {
        explanation.push(format!("{}: `{key}` {why}", vw.name()));
        contributions
            .push(Contribution { feature: format!("{}: {key}", vw.name()), weight: w / total.max(f64::EPSILON) });
    }
    if let Some((n, th, unseen)) = &v.unseen_grams {
        let shown: Vec<String> = unseen.iter().take(3).map(|g| gram_words(*g)).collect();
        explanation.push(format!(
            "syscalls: {n} system-call sequences of {GRAM} never seen while learning in one batch (threshold {th:.0}, {}), e.g. {}",
            if p.policy.syscall_far > 0.0 {
                format!("calibrated for {:.2} % false alarms on held-out normal batches", p.policy.syscall_far * 100.0)
            } else {
                format!(
                    "set for {SYSCALL_ALARMS_PER_HOUR} false alarms per container-hour from the held-out normal batches' tail"
                )
            },
            shown.join("; ")
        ));
        contributions.push(Contribution {
            feature: format!("syscalls: {}", shown.first().cloned().unwrap_or_default()),
            weight: 0.5 / total.max(f64::EPSILON),
        });
        view = view.or(Some(View::Syscalls));
    }
    for (key, n, rate) in &v.rates {
        explanation.push(format!(
            "frequency: `{key}` {n} times in this window, learned rate {rate:.1} per container and window"
        ));
        contributions
            .push(Contribution { feature: format!("frequency: {key}"), weight: 0.5 / total.max(f64::EPSILON) });
        view = view.or(Some(View::Frequency));
    }
    if v.drift {
        explanation.push(format!(
            "drift: more than {} new behaviours in each of the last {} windows{}",
            p.policy.drift_novel,
            p.policy.drift_windows,
            if p.policy.drift == DriftPolicy::Relearn { "; relearning" } else { "; waiting for approval to relearn" }
        ));
    }
    explanation.push(format!("baseline: {}", p.baseline()));
    let view = view.unwrap_or(View::Process);
    let title = match v.novel.first() {
        Some((vw, key, _, _)) => format!("unusual {} behaviour in {}: {key}", vw.name(), p.workload),
        None if v.unseen_grams.is_some() => format!("unusual system-call sequences in {} ({})", p.workload, e.comm),
        None if !v.rates.is_empty() => format!("unusual rate in {}: {}", p.workload, v.rates[0].0),
        None => format!("behaviour of {} drifted", p.workload),
    };
    Some(Alert {
        schema: ALERT_SCHEMA.into(),
        id: format!("{:x}-m{seq}", e.time_ns),
        time_ns: e.time_ns,
        severity: severity_of_score(v.score),
        score: (v.score * 1000.0).round() / 1000.0,
        source: AlertSource::Model { name: view.name().into(), profile: format!("{} v{}", p.workload, p.version) },
        title,
        explanation,
        contributions,
        mitre: vec![],
        tags: vec!["anomaly".into(), view.name().into()],
        container: e.container.as_deref().cloned(),
        workload: Some(p.workload.clone()),
        evidence: vec![e.clone()],
        folded: None,
    })
}

/// Merges profiles learned on several nodes (federated): each node contributes only what it trusts, as
/// one contributor; the merged profile trusts a behaviour seen on at least `k` nodes, so one poisoned node
/// cannot add behaviour. Counts are the median node's times the number of nodes, so that no node's volume
/// dominates the rates. No raw events are involved.
pub fn merge(workload: &str, nodes: &[(&str, &Profile)], k: usize) -> Profile {
    let mut policy = nodes.first().map(|(_, p)| p.policy.clone()).unwrap_or_default();
    policy.k = k.max(1);
    let mut out = Profile::new(workload, policy);
    out.version = nodes.iter().map(|(_, p)| p.version).max().unwrap_or(0) + 1;
    out.mode = Mode::Monitor;
    // What k nodes learned is trusted: so is their having learned late reads.
    out.late_reads = nodes.iter().filter(|(_, p)| p.late_reads).count() >= out.policy.k;
    out.late_writes = nodes.iter().all(|(_, p)| p.late_writes);
    out.read_dirs = nodes.iter().filter(|(_, p)| p.read_dirs).count() >= out.policy.k;
    out.maps = nodes.iter().filter(|(_, p)| p.maps).count() >= out.policy.k;
    out.exec_memory = nodes.iter().filter(|(_, p)| p.exec_memory).count() >= out.policy.k;
    // A kind is judged when k nodes' sources reported it (a profile that does not say counts as reporting all, but
    // DNS questions, which are newer than saying).
    out.reported = nodes.iter().any(|(_, p)| p.reported.is_some()).then(|| {
        (0..kestrel_core::LEAVABLE_KINDS.len())
            .map(|i| 1u16 << i)
            .filter(|&bit| {
                let says = |r: &Option<u16>| r.map_or(bit != DNS_BIT, |r| r & bit != 0);
                nodes.iter().filter(|(_, p)| says(&p.reported)).count() >= out.policy.k
            })
            .fold(0, |bits, bit| bits | bit)
    });
    // So is a directory they all took for data (their behaviours there are written with `*`).
    let mut wide: FxHashMap<&(String, String), usize> = FxHashMap::default();
    for (_, p) in nodes {
        for d in &p.wide.dirs {
            *wide.entry(d).or_default() += 1;
        }
    }
    out.wide.dirs = wide.into_iter().filter(|&(_, n)| n >= out.policy.k).map(|(d, _)| d.clone()).collect();
    let mut counts: FxHashMap<u64, Vec<u64>> = FxHashMap::default();
    let mut gram_counts: FxHashMap<u64, Vec<u64>> = FxHashMap::default();
    for (node, p) in nodes {
        let who = hash_of(("node", node));
        add_bounded(&mut out.containers, who, 64);
        out.events = out.events.saturating_add(p.events);
        out.windows = out.windows.max(p.windows);
        out.learn_started_ns =
            if out.learn_started_ns == 0 { p.learn_started_ns } else { out.learn_started_ns.min(p.learn_started_ns) };
        out.last_event_ns = out.last_event_ns.max(p.last_event_ns);
        for b in p.behaviours.iter().filter(|b| p.trusted(b.contributors.len(), b.windows.len())) {
            out.learn_feature(b.view, &b.key, who, b.first_ns);
            counts.entry(hash_of((b.view, &b.key))).or_default().push(b.count);
        }
        for g in p.grams.iter().filter(|g| p.trusted(g.c.len(), g.w.len())) {
            out.learn_grams(std::slice::from_ref(&g.g), who, 0);
            gram_counts.entry(g.g).or_default().push(g.n);
        }
    }
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2].saturating_mul(v.len() as u64)
    };
    for b in &mut out.behaviours {
        if let Some(c) = counts.get_mut(&hash_of((b.view, &b.key))) {
            b.count = median(c);
        }
    }
    for g in &mut out.grams {
        if let Some(c) = gram_counts.get_mut(&g.g) {
            g.n = median(c);
        }
    }
    out.samples.clear();
    out.sample_spans.clear();
    // What fewer than k nodes trust is dropped: the merged profile carries only what it trusts.
    let policy_k = out.policy.k;
    out.behaviours.retain(|b| b.contributors.len() >= policy_k);
    out.grams.retain(|g| g.c.len() >= policy_k);
    out.reindex();
    // The threshold: the median node's, so that one node cannot raise it.
    let mut th: Vec<f64> = nodes.iter().filter_map(|(_, p)| p.syscall_threshold).collect();
    th.sort_by(f64::total_cmp);
    out.syscall_threshold = th.get(th.len().saturating_sub(1) / 2).copied();
    out.mode_since_ns = out.last_event_ns;
    out
}

/// The level that values drawn like `sorted` (ascending) pass with probability `p`: an exponential fitted to their
/// excesses over the 90th percentile (its mean excess is the maximum-likelihood scale) and followed out to `p`. Its
/// largest value where there are too few to fit (under 20, or nothing above the percentile) or where `p` is not
/// rarer than the share above it.
fn tail_level(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let Some(&max) = sorted.last() else { return 0.0 };
    if n < 20 || p <= 0.0 {
        return max;
    }
    let u = sorted[n - n.div_ceil(10)];
    // Sorted: the values above the percentile are its last ones.
    let over = &sorted[sorted.partition_point(|&x| x <= u)..];
    let share = over.len() as f64 / n as f64;
    if over.is_empty() || p >= share {
        return max;
    }
    let scale = over.iter().sum::<f64>() / over.len() as f64 - u;
    u + scale * (share / p).ln()
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
