//! The audit log: one JSON line per decision state, appended and synced before the next step. An action
//! writes its intent before acting and its outcome after, so a crash mid-action leaves an intent without an
//! outcome — shown as interrupted, and still undoable.

use crate::node::Evidence;
use crate::policy::Action;
use kestrel_core::{Alert, Severity};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The JSON schema name of an audit line.
pub const AUDIT_SCHEMA: &str = "kestrel.response/v1";

/// What became of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// About to act (written before acting).
    Intent,
    /// Done and verified.
    Acted,
    /// Tried, and it failed or could not be verified.
    Failed,
    /// The policy is in dry run: nothing done.
    DryRun,
    /// Waiting for a person's approval.
    PendingApproval,
    /// A person denied it: nothing done.
    Denied,
    /// The node's rate limit was reached.
    RateLimited,
    /// The workload's budget was spent.
    OverBudget,
    /// The workload is allowlisted.
    Allowlisted,
    /// The workload is not in protect mode.
    NotProtected,
    /// Reversed.
    Undone,
    /// The agent stopped between intent and outcome, and found on restart that the action had not taken
    /// effect: the workload was left untouched (a half-done isolation is removed). The detail says what was
    /// found.
    Interrupted,
}

impl Outcome {
    /// Its name, as the JSON writes it (`dry-run`, `pending-approval`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Intent => "intent",
            Outcome::Acted => "acted",
            Outcome::Failed => "failed",
            Outcome::DryRun => "dry-run",
            Outcome::PendingApproval => "pending-approval",
            Outcome::Denied => "denied",
            Outcome::RateLimited => "rate-limited",
            Outcome::OverBudget => "over-budget",
            Outcome::Allowlisted => "allowlisted",
            Outcome::NotProtected => "not-protected",
            Outcome::Undone => "undone",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// One decision about one alert and one action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    /// Always [`AUDIT_SCHEMA`].
    pub schema: String,
    /// Unique: the alert's id and the action.
    pub id: String,
    /// When the alert's event happened (ns).
    pub alert_time_ns: u64,
    /// When this line was written (ns).
    pub written_ns: u64,
    /// The alert.
    pub alert_id: String,
    /// Its title.
    pub alert_title: String,
    /// Its severity.
    pub severity: Severity,
    /// The workload.
    pub workload: String,
    /// The container id.
    pub container: String,
    /// The destination of the alert's connection (`10.0.0.1:3333`, `[2001:db8::1]:443`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The Kubernetes namespace, when the container is a pod's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The pod's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The container's cgroup id (from the alert's event).
    pub cgroup_id: Option<u64>,
    /// The container's cgroup directory, once found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// The process the alert names.
    pub pid: Option<u32>,
    /// Whether the container has a network namespace of its own (isolation keeps its loopback).
    #[serde(default)]
    pub own_netns: bool,
    /// The policy rule.
    pub rule: String,
    /// The action.
    pub action: Action,
    /// What became of it.
    pub outcome: Outcome,
    /// What was done or why not.
    #[serde(default)]
    pub detail: String,
    /// How long acting (and verifying) took, µs.
    #[serde(default)]
    pub took_us: u64,
    /// What the container held before the action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// The alert's evidence events (at most 16, the latest): what the container just did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<kestrel_core::Event>,
    /// What a Kubernetes action changed (recorded before acting, so that undo can put it back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<crate::k8s::Change>,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn same_netns(pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(format!("/proc/{pid}/ns/net")), std::fs::metadata("/proc/self/ns/net")) {
        (Ok(a), Ok(b)) => a.ino() == b.ino(),
        _ => true,
    }
}

impl Decision {
    /// The files its events point at: written, made setuid, or executed (in order, each once).
    pub fn files_of_interest(&self) -> Vec<String> {
        use kestrel_core::EventKind;
        let mut v: Vec<String> = Vec::new();
        for e in &self.events {
            let p = match &e.kind {
                EventKind::Open { path, flags }
                    if flags & (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u32 != 0 =>
                {
                    Some(path.clone())
                }
                EventKind::SetuidChmod { path: Some(path), .. } => Some(path.clone()),
                EventKind::Exec { exe, .. } => Some(exe.clone()),
                _ => None,
            };
            if let Some(p) = p.filter(|p| !p.is_empty() && !v.contains(p)) {
                v.push(p);
            }
        }
        v
    }

    /// A decision for one action on an alert (outcome to be set).
    pub fn new(a: &Alert, rule: &str, action: Action) -> Decision {
        let ev = a.evidence.last();
        let pid = ev.map(|e| e.pid);
        Decision {
            schema: AUDIT_SCHEMA.into(),
            id: format!(
                "{}-{}",
                a.id,
                serde_json::to_value(action).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
            ),
            alert_time_ns: a.time_ns,
            written_ns: 0,
            alert_id: a.id.clone(),
            alert_title: a.title.clone(),
            severity: a.severity,
            workload: a.workload.clone().unwrap_or_default(),
            container: a.container.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
            // Where the process sends: a connect's or a datagram's destination, or the peer of a connection it
            // made a standard stream (a reverse shell's listener).
            destination: ev.and_then(|e| match &e.kind {
                kestrel_core::EventKind::Connect { to }
                | kestrel_core::EventKind::Send { to, .. }
                | kestrel_core::EventKind::Dup { peer: to, .. }
                    if to.port != 0 =>
                {
                    match to.family.as_str() {
                        "inet" => Some(format!("{}:{}", to.addr, to.port)),
                        "inet6" => Some(format!("[{}]:{}", to.addr, to.port)),
                        _ => None,
                    }
                }
                _ => None,
            }),
            namespace: a.container.as_ref().and_then(|c| c.namespace.clone()),
            pod: a.container.as_ref().and_then(|c| c.pod.clone()),
            cgroup_id: ev.map(|e| e.cgroup_id),
            cgroup: None,
            pid,
            own_netns: pid.is_some_and(|p| !same_netns(p)),
            rule: rule.into(),
            action,
            outcome: Outcome::DryRun,
            detail: String::new(),
            took_us: 0,
            evidence: None,
            events: a.evidence.iter().rev().take(16).rev().cloned().collect(),
            change: None,
        }
    }
}

/// The append-only log. Each line is written with one `write(2)` on a file opened for appending before the
/// call returns — so it is on record if the agent dies right after — and flushed to the disk by a
/// background thread within 100 ms (an `fsync` on the action's path would cost milliseconds per decision).
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    file: std::sync::Arc<std::sync::Mutex<Option<std::fs::File>>>,
    dirty: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl AuditLog {
    /// The log at `path` (created on first write).
    pub fn new(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog { path: path.into(), file: Default::default(), dirty: Default::default() }
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a decision's current state. A log that cannot be written is reported on stderr (the action
    /// itself is not held back by it).
    pub fn record(&self, d: &Decision) {
        use std::sync::atomic::Ordering;
        let mut d = d.clone();
        d.written_ns = now_ns();
        let line = match serde_json::to_string(&d) {
            Ok(l) => l + "\n",
            Err(e) => {
                eprintln!("kestrel: audit: {e}");
                return;
            }
        };
        let Ok(mut guard) = self.file.lock() else { return };
        if guard.is_none() {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            match std::fs::OpenOptions::new().create(true).append(true).open(&self.path) {
                Ok(f) => {
                    let synced = f.try_clone().ok();
                    *guard = Some(f);
                    // The flusher holds its own handle and stops when the log is dropped everywhere.
                    let dirty = std::sync::Arc::downgrade(&self.dirty);
                    if let Some(f) = synced {
                        std::thread::spawn(move || loop {
                            std::thread::sleep(std::time::Duration::from_millis(100));
                            let Some(flag) = dirty.upgrade() else {
                                let _ = f.sync_data();
                                break;
                            };
                            if flag.swap(false, Ordering::AcqRel) {
                                let _ = f.sync_data();
                            }
                        });
                    }
                }
                Err(e) => {
                    eprintln!("kestrel: audit log {}: {e}", self.path.display());
                    return;
                }
            }
        }
        if let Some(f) = guard.as_mut() {
            // One write(2) of the whole line: appends from several writers never interleave inside a line.
            if let Err(e) = f.write_all(line.as_bytes()) {
                eprintln!("kestrel: audit log {}: {e}", self.path.display());
            }
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// Flushes the log to the disk now.
    pub fn sync(&self) {
        if let Ok(guard) = self.file.lock() {
            if let Some(f) = guard.as_ref() {
                let _ = f.sync_data();
            }
        }
    }

    /// Every line, oldest first (lines that do not parse are skipped and counted).
    pub fn lines(&self) -> (Vec<Decision>, usize) {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut bad = 0;
        let v = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str::<Decision>(l).map_err(|_| bad += 1).ok())
            .collect();
        (v, bad)
    }

    /// Each decision's latest state, in order of first appearance.
    pub fn decisions(&self) -> Vec<Decision> {
        let (lines, _) = self.lines();
        let mut order: Vec<String> = Vec::new();
        let mut last: std::collections::HashMap<String, Decision> = Default::default();
        for d in lines {
            if !last.contains_key(&d.id) {
                order.push(d.id.clone());
            }
            last.insert(d.id.clone(), d);
        }
        order.into_iter().filter_map(|id| last.remove(&id)).collect()
    }

    /// A decision's latest state.
    pub fn find(&self, id: &str) -> Option<Decision> {
        self.decisions().into_iter().find(|d| d.id == id)
    }
}
