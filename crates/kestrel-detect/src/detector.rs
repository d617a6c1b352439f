//! The detector: rules and behaviour profiles over one stream of events, the same for the live sensor and
//! for recordings.
//!
//! Each event goes through the rule engine (which keeps the process table), then to its workload's
//! [`Profile`]: learned from in learn mode, scored in monitor and protect mode. Alerts carry the workload
//! and, in protect mode, the tag `mode:protect` — the only alerts the response engine acts on.

use crate::profile::{self, FeatureMemo, Mode, Policy, Profile, Scorer, SyscallContext};
use crate::rules::{CompiledRules, Engine, RuleSet};
use kestrel_core::{Alert, Event, EventKind};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// How events are grouped into workloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadBy {
    /// The container's image (or its Kubernetes namespace and pod name without the replica suffix, or its id
    /// when neither is known).
    Image,
    /// Every container is its own workload.
    Container,
    /// Every container belongs to this one workload (a recording's label, for instance).
    Fixed(String),
}

/// The workload key of an event's container.
pub fn workload_of<'a>(e: &'a Event, by: &'a WorkloadBy) -> Option<Cow<'a, str>> {
    let c = e.container.as_ref()?;
    Some(match by {
        WorkloadBy::Fixed(w) => Cow::Borrowed(w.as_str()),
        WorkloadBy::Container => Cow::Borrowed(c.name.as_deref().unwrap_or(&c.id)),
        WorkloadBy::Image => {
            if let Some(img) = &c.image {
                Cow::Borrowed(img.as_str())
            } else if let (Some(ns), Some(pod)) = (&c.namespace, &c.pod) {
                // Deployment pods are `name-<hash>-<id>`, StatefulSet pods `name-<n>`: drop the replica parts.
                let base = pod.rsplitn(3, '-').last().unwrap_or(pod);
                Cow::Owned(format!("{ns}/{base}"))
            } else {
                Cow::Borrowed(c.id.as_str())
            }
        }
    })
}

/// The parent of an exec as the process view names it: its command name when it is a process of the same
/// container, `(container runtime)` otherwise — a process whose parent is outside its container was started
/// by the runtime (the container's init, `runc exec`, `kubectl exec`), whether the runtime's process is
/// still there or the process was handed to the host's init.
fn parent_label(engine: &Engine, ppid: u32, container: &str) -> String {
    let ours = crate::rules::fields::container_hash(container);
    match engine.state().process(ppid).filter(|p| p.container == ours) {
        Some(p) => p.comm.clone(),
        None => "(container runtime)".into(),
    }
}

/// Whether an open's process is past its start-up: it listened since its exec (a server, or a fork of one, that
/// serves), or exec'd more than [`profile::STARTUP_NS`] ago; a process not seen exec'ing is taken for started.
/// Every other event: false. (A sensitive read's features do not depend on it.)
fn past_startup(st: &crate::rules::fields::State, e: &Event) -> bool {
    matches!(e.kind, EventKind::Open { .. })
        && st.process(e.pid).is_none_or(|p| {
            p.start_ns == 0
                || (p.listen_ns != 0 && e.time_ns >= p.listen_ns)
                || e.time_ns.saturating_sub(p.start_ns) > profile::STARTUP_NS
        })
}

/// Whether a listen's process listened before this one, on another socket (the state has taken the event in: a
/// first listen's socket is the one it keeps; `listen()` called again on that socket — nginx sets its backlog so —
/// is not a new listener). Every other event: false.
fn listened_before(st: &crate::rules::fields::State, e: &Event) -> bool {
    let EventKind::Listen { fd, .. } = e.kind else { return false };
    st.process(e.pid).is_some_and(|p| p.listen_ns != 0 && p.listen_fd != fd)
}

/// runc's or crun's `init`, run from the runtime's own binary (a descriptor, `/proc/self/exe` or a memfd).
fn is_runtime_init(e: &Event) -> bool {
    let EventKind::Exec { exe, argv, exe_from_memfd, .. } = &e.kind else { return false };
    profile::runtime_init_exec(exe, argv, *exe_from_memfd)
}

/// x86_64 `execve` and `execveat`.
fn ends_in_exec(ids: &[u16]) -> bool {
    matches!(ids.last(), Some(59 | 322))
}

/// What the detector should do with profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Learn from every event, whatever the profile's mode (`kestrel learn`).
    Learn,
    /// Follow each profile's mode: learn in learn mode, score in monitor and protect (`kestrel detect`).
    Detect,
}

/// Counts of what the detector did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Counters {
    /// Events taken.
    pub events: u64,
    /// Rule alerts.
    pub rule_alerts: u64,
    /// Model alerts.
    pub model_alerts: u64,
    /// Events learned from.
    pub learned: u64,
    /// Mode changes (promotions and relearns).
    pub mode_changes: u64,
    /// Events of workloads left without a profile because the detector held as many as it may (rules still ran).
    pub unprofiled: u64,
}

/// How many workloads' profiles a detector holds at most (images, or containers with `--workload-by container`;
/// each profile is bounded on its own). A new workload beyond them is not profiled: its events go through the
/// rules only, counted in [`Counters::unprofiled`], with a warning.
pub const MAX_PROFILES: usize = 4096;

/// Rules and profiles over a stream of events.
pub struct Detector {
    engine: Engine,
    /// Each workload's profile, with the scorer that keeps its alert suppression and rates.
    profiles: BTreeMap<String, (Profile, Scorer)>,
    syscalls: SyscallContext,
    grams: Vec<u64>,
    features: FeatureMemo,
    max_profiles: usize,
    policy: Policy,
    by: WorkloadBy,
    stage: Stage,
    seq: u64,
    /// The kinds a node may do without that the source reports (bits; `None`: it does not say).
    reports: Option<u16>,
    /// What happened so far.
    pub counters: Counters,
}

impl Detector {
    /// A detector with compiled rules (use [`RuleSet::default`] compiled for none), the profiles loaded, and
    /// the policy for new profiles.
    pub fn new(rules: CompiledRules, profiles: Vec<Profile>, policy: Policy, by: WorkloadBy, stage: Stage) -> Detector {
        Detector {
            engine: Engine::new(rules),
            profiles: profiles.into_iter().map(|p| (p.workload.clone(), (p, Scorer::default()))).collect(),
            syscalls: SyscallContext::default(),
            grams: Vec::new(),
            features: FeatureMemo::default(),
            max_profiles: MAX_PROFILES,
            policy,
            by,
            stage,
            seq: 0,
            reports: None,
            counters: Counters::default(),
        }
    }

    /// A detector with kestrel's built-in rules only.
    pub fn with_builtin_rules(profiles: Vec<Profile>, policy: Policy, by: WorkloadBy, stage: Stage) -> Detector {
        Detector::new(RuleSet::builtin().compile(), profiles, policy, by, stage)
    }

    /// Changes how many profiles the detector holds at most ([`MAX_PROFILES`] unless changed).
    pub fn set_max_profiles(&mut self, n: usize) {
        self.max_profiles = n;
    }

    /// Changes how events are grouped into workloads (per recording, for instance).
    pub fn set_workload_by(&mut self, by: WorkloadBy) {
        self.by = by;
    }

    /// Says which of the kinds a node may do without (the sensor's `LEAVABLE`) the source reports — a
    /// recording's header, a live sensor's loaded probes; `None`: it does not say (an older recording). A profile
    /// judges an event of such a kind only when a source it learned from reported the kind, and learns that a
    /// workload never does something rare (memory made executable) only from a source that would have shown it.
    pub fn set_reports<S: AsRef<str>>(&mut self, kinds: Option<&[S]>) {
        self.reports = kinds.map(kestrel_core::leavable_bits);
    }

    /// Starts another stream of events — the next recording of several, each a capture of its own: the process
    /// table and the threads' last system calls are forgotten (a pid of one capture is another process in the
    /// next; a process alive when a capture ended never exited in it), the profiles and what they learned stay.
    /// Without this, learning a busybox recording before the app's changed the app's threshold from 23 unseen
    /// n-grams a batch to 14: stale table entries under reused pids made the app's fork-and-exec batches look
    /// like the runtime's, and they were left out of the calibration.
    pub fn new_stream(&mut self) {
        self.engine.new_stream();
        self.syscalls = SyscallContext::default();
    }

    /// The rule engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The profiles.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values().map(|(p, _)| p)
    }

    /// The profiles, to save (calibrated first when they were learned in this run).
    pub fn into_profiles(mut self) -> Vec<Profile> {
        if self.stage == Stage::Learn {
            for (p, _) in self.profiles.values_mut() {
                p.calibrate();
            }
        }
        self.profiles.into_values().map(|(p, _)| p).collect()
    }

    /// Whether the event's process has a parent that exec'd in the same container.
    fn parent_in_container(&self, e: &Event) -> bool {
        let Some(c) = &e.container else { return false };
        let st = self.engine.state();
        let ppid = st.process(e.pid).map(|p| p.ppid).or_else(|| e.process.as_ref().and_then(|p| p.ppid));
        let ours = crate::rules::fields::container_hash(&c.id);
        ppid.and_then(|pp| st.process(pp)).is_some_and(|p| p.container == ours)
    }

    /// Takes one event through the rules only (no profiles).
    pub fn process_rules_only(&mut self, e: &Event) -> Vec<Alert> {
        self.counters.events += 1;
        let alerts = self.engine.process(e);
        self.counters.rule_alerts += alerts.len() as u64;
        alerts
    }

    /// Takes one event; returns its alerts (rules first).
    pub fn process(&mut self, e: &Event) -> Vec<Alert> {
        self.counters.events += 1;
        let mut alerts = self.engine.process(e);
        self.counters.rule_alerts += alerts.len() as u64;
        let mut grams = std::mem::take(&mut self.grams);
        grams.clear();
        match &e.kind {
            // The container runtime's own threads (runc's or crun's init, before it executes the container's
            // program) run the runtime's code, not the workload's: their calls are not part of its profile.
            // (A thread of the workload that takes the runtime's name is not one of them: it ran the workload's
            // program, or descends from one that did.)
            EventKind::Syscalls { .. } if self.engine.state().runtime_setup(e) => {}
            // The batch flushed at an exec carries the new program's name but the old program's calls: when
            // the thread's parent is outside the container, that was the runtime (`runc exec`) getting ready.
            EventKind::Syscalls { ids } if ends_in_exec(ids) && !self.parent_in_container(e) => {
                self.syscalls.forget(e.tid)
            }
            EventKind::Syscalls { ids } => self.syscalls.grams_into(e.tid, ids, &mut grams),
            EventKind::Exit { .. } => self.syscalls.forget(e.tid),
            _ => {}
        }
        // The runtime's init makes the container's /dev (and crun its /sys/fs/cgroup) directories, removes
        // its dev/ptmx for a link and makes the links (/dev/fd, /dev/stdin…), below the bundle's host path,
        // which names the container; and `crun exec` joins the container's namespaces from inside its cgroup
        // (runc does it before it joins the cgroup, so the sensor does not see it there); runc's init, before it
        // names itself, may make a file below the container's state directory and bind-mount its own binary on it
        // (runc 1.1's try_bindfd): the runtime's setup,
        // not the workload. (Only these: a process that renames itself `runc:…` or `crun` is not taken for the
        // runtime: see `State::runtime_setup`. The mounts the init makes for the container — its volumes, its
        // /proc — stay: they are the workload's configuration, and a replica started with a new host path
        // bound in is a deviation.) What the init reads (with `--reads`: its own /proc files, the container's
        // account list, the bundle's paths on the host) is the runtime's code reading too, and so are the libraries
        // the loader maps for it (runc's `runc init`, exec'd from a copy of itself, maps libseccomp and libc: seen
        // when that exec wins the race into the container's cgroup, once in 18 starts of the lab's app).
        let runtime_setup = match e.kind {
            EventKind::Mkdir { .. }
            | EventKind::Unlink { .. }
            | EventKind::Setns { .. }
            | EventKind::Link { .. }
            | EventKind::Mmap { .. } => true,
            EventKind::Open { flags, .. } if !profile::open_writes(flags) => true,
            EventKind::Mount { .. } | EventKind::Open { .. } => crate::rules::fields::runtime_reexec(e),
            _ => false,
        } && self.engine.state().runtime_setup(e);
        let Some(workload) = workload_of(e, &self.by).filter(|_| !runtime_setup) else {
            self.grams = grams;
            return alerts;
        };
        let container = e.container.as_ref().map(|c| c.id.as_str()).unwrap_or_default();
        let parent = match &e.kind {
            EventKind::Exec { ppid, .. } => Some(parent_label(&self.engine, *ppid, container)),
            _ => None,
        };
        let parent = parent.as_deref();
        if parent == Some("(container runtime)") && is_runtime_init(e) {
            // The runtime's own init entering the container (`runc exec`, a container's start): when the
            // sensor sees it depends on when runc joins the cgroup, and it is the runtime's code.
            self.grams = grams;
            return alerts;
        }
        // One lookup for a known workload (every event but a workload's first).
        let (p, scorer) = match self.profiles.get_mut(&*workload) {
            Some(known) => known,
            None => {
                if self.profiles.len() >= self.max_profiles {
                    if self.counters.unprofiled == 0 {
                        tracing::warn!(
                            workload = %workload,
                            "the detector holds {} profiles, as many as it may: workloads beyond them are not profiled (their events go through the rules only)",
                            self.profiles.len()
                        );
                    }
                    self.counters.unprofiled += 1;
                    self.grams = grams;
                    return alerts;
                }
                let p = Profile::new(&workload, self.policy.clone());
                self.profiles.entry(workload.to_string()).or_insert((p, Scorer::default()))
            }
        };
        let learning = self.stage == Stage::Learn || p.mode == Mode::Learn;
        // A read past start-up is judged as such only by a profile that learned them (`--reads` while learning);
        // where a program reads at all, only by one that learned that (and, for a late read, late ones too).
        let late_open = past_startup(self.engine.state(), e);
        let writes = matches!(&e.kind, EventKind::Open { flags, .. } if profile::open_writes(*flags));
        let late = late_open && !writes;
        // A write past start-up, only by a profile that learned such writes in words.
        let write_past_startup = (learning || p.late_writes) && late_open && writes;
        let listened = listened_before(self.engine.state(), e);
        let past_startup = (learning || p.late_reads) && late;
        let read_dirs = (learning || p.read_dirs) && (!late || past_startup);
        // Judging (learning counts every sign): a library — the program's own code, the system's reference data —
        // read where the program never read before.
        let library = !learning
            && (read_dirs || past_startup)
            && match &e.kind {
                EventKind::Open { path, flags } if !profile::open_writes(*flags) => {
                    // Resolved once: each check below resolves what it is given, at once when it is clean.
                    let path = kestrel_core::normalize_path(path);
                    (p.reads_code_below(&e.comm, &path, *flags) || profile::is_reference_data(&path))
                        && !self.engine.state().was_written(e, &path)
                }
                _ => false,
            };
        let cx = profile::Cx {
            parent,
            past_startup,
            read_dirs,
            wide: None,
            library,
            listened,
            reports: self.reports,
            write_past_startup,
        };
        if learning {
            p.learn(e, cx, &grams, container);
            self.counters.learned += 1;
            if self.stage == Stage::Detect && p.promote(e.time_ns).is_some() {
                self.counters.mode_changes += 1;
            }
        } else {
            let v = scorer.score(p, e, cx, &grams, container, &mut self.features);
            if v.drift && p.policy.drift == profile::DriftPolicy::Relearn {
                p.relearn(e.time_ns);
                self.counters.mode_changes += 1;
            } else if v.drift {
                p.drift_pending = true;
            }
            self.seq += 1;
            if let Some(a) = profile::alert(p, &v, e, self.seq) {
                p.last_alert_ns = e.time_ns;
                self.counters.model_alerts += 1;
                alerts.push(a);
            }
            if p.promote(e.time_ns).is_some() {
                self.counters.mode_changes += 1;
            }
        }
        self.grams = grams;
        let mode = p.mode;
        for a in &mut alerts {
            a.workload.get_or_insert_with(|| workload.to_string());
            if mode == Mode::Protect {
                a.tags.push("mode:protect".into());
            }
        }
        alerts
    }
}
