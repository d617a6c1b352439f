//! Automated response: when kestrel detects a threat in a workload in protect mode, act on the node —
//! kill the process, pause or stop the container, cut its network — safely and reversibly.
//!
//! - [`Policy`]: which alerts (severity, rule or model, workload) lead to which actions; dry run by
//!   default, approval, a rate limit, a per-workload budget and an allowlist.
//! - [`node`]: the actions on a container's cgroup (v2), each verified: kill (pidfd), freeze and thaw,
//!   `cgroup.kill`, network isolation by BPF `cgroup_skb` programs pinned in bpffs, evidence.
//! - [`audit`]: the append-only log of every decision, written before acting (intent) and after
//!   (outcome), so that a crash mid-action leaves a record.
//! - [`k8s`]: the same through the Kubernetes API — quarantine a pod with a deny-all NetworkPolicy, evict it,
//!   scale its workload to zero, remove a RoleBinding subject, cordon the node.
//! - [`Responder`]: alerts in, decisions out; `approve` and `undo`.
//!
//! Only alerts tagged `mode:protect` (the workload's profile is in protect mode) are acted on.
//!
//! A policy in dry run (the default) decides, records and does nothing — what an operator runs first:
//!
//! ```
//! use kestrel_respond::{AuditLog, Outcome, Policy, Responder};
//!
//! let policy = Policy::parse(
//!     "respond.yaml",
//!     "rules:\n  - name: reverse shells\n    when: {rules: [\"Reverse shell\"]}\n    actions: [kill-process, isolate]\n",
//! )?;
//! let dir = tempfile::tempdir()?;
//! let audit = AuditLog::new(dir.path().join("response.jsonl"));
//! let mut responder = Responder::new(policy, audit, "/sys/fs/cgroup", "/sys/fs/bpf");
//!
//! // An alert as `kestrel detect -f json` prints it (kestrel.alert/v1), from a workload in protect mode.
//! let alert: kestrel_core::Alert = serde_json::from_value(serde_json::json!({
//!     "schema": kestrel_core::ALERT_SCHEMA, "id": "1733270400000000000-1", "time_ns": 1733270400000000000u64,
//!     "severity": "critical", "score": 1.0,
//!     "source": {"type": "rule", "name": "Reverse shell", "priority": "CRITICAL", "origin": "builtin"},
//!     "title": "Reverse shell in web-1", "explanation": [], "tags": ["mode:protect"],
//!     "container": {"id": "web-1", "runtime": "runc"}, "workload": "web", "evidence": [],
//! }))?;
//! let decisions = responder.handle(&alert);
//! assert_eq!(decisions.len(), 2); // kill the process, then isolate
//! assert!(decisions.iter().all(|d| d.outcome == Outcome::DryRun));
//! assert_eq!(responder.audit().decisions().len(), 2); // on record
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod audit;
pub mod k8s;
pub mod node;
pub mod policy;

pub use audit::{AuditLog, Decision, Outcome};
pub use policy::{Action, Policy};

use kestrel_core::Alert;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

/// Where a crash can be injected to test recovery: `KESTREL_RESPOND_CRASH` names one of `after-intent`
/// (intent written, nothing done), `isolate-half` (one of the two isolation links pinned) and `after-action`
/// (done, outcome not written); the agent aborts there. For the crash tests; unset, it costs one load.
pub(crate) fn crash_point(at: &str) {
    static POINT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if POINT.get_or_init(|| std::env::var("KESTREL_RESPOND_CRASH").ok()).as_deref() == Some(at) {
        eprintln!("kestrel: KESTREL_RESPOND_CRASH={at}: aborting");
        std::process::abort();
    }
}

/// How often the agent releases the pins of containers that are gone.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Finds the cgroup directory of a cgroup id under the cgroup v2 root (bounded walk, cached).
#[derive(Debug, Default)]
pub struct CgroupFinder {
    root: PathBuf,
    cache: HashMap<u64, PathBuf>,
}

impl CgroupFinder {
    /// A finder under the cgroup v2 root.
    pub fn new(root: impl Into<PathBuf>) -> CgroupFinder {
        CgroupFinder { root: root.into(), cache: HashMap::new() }
    }

    /// The directory of cgroup `id`.
    pub fn find(&mut self, id: u64) -> Option<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        if let Some(p) = self.cache.get(&id).filter(|p| p.is_dir()) {
            return Some(p.clone());
        }
        let mut stack = vec![(self.root.clone(), 0)];
        let mut seen = 0;
        while let Some((dir, depth)) = stack.pop() {
            seen += 1;
            if seen > 100_000 {
                return None;
            }
            if std::fs::metadata(&dir).is_ok_and(|m| m.ino() == id) {
                self.cache.insert(id, dir.clone());
                return Some(dir);
            }
            if depth < 12 {
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    for e in entries.filter_map(Result::ok) {
                        if e.file_type().is_ok_and(|t| t.is_dir()) {
                            stack.push((e.path(), depth + 1));
                        }
                    }
                }
            }
        }
        None
    }

    /// A cgroup directory's path relative to the root (`/kestrel-lab/web`), as /proc shows it.
    pub fn relative(&self, dir: &Path) -> String {
        format!("/{}", dir.strip_prefix(&self.root).unwrap_or(dir).display())
    }
}

/// Acts on alerts as a policy says, and records every decision.
pub struct Responder {
    policy: Policy,
    audit: AuditLog,
    cgroups: CgroupFinder,
    bpffs: PathBuf,
    recent: VecDeque<u64>,
    per_workload: HashMap<String, VecDeque<u64>>,
    isolator: node::Isolator,
    kube: Option<k8s::Kube>,
}

impl Responder {
    /// A responder with its policy, audit log, the cgroup v2 root and the bpffs mount point.
    pub fn new(
        policy: Policy,
        audit: AuditLog,
        cgroup_root: impl Into<PathBuf>,
        bpffs: impl Into<PathBuf>,
    ) -> Responder {
        Responder {
            policy,
            audit,
            cgroups: CgroupFinder::new(cgroup_root),
            bpffs: bpffs.into(),
            recent: VecDeque::new(),
            per_workload: HashMap::new(),
            isolator: node::Isolator::default(),
            kube: None,
        }
    }

    fn kube(&mut self) -> Result<&k8s::Kube, String> {
        if self.kube.is_none() {
            self.kube = Some(k8s::Kube::connect()?);
        }
        self.kube.as_ref().ok_or_else(|| "no Kubernetes client".into())
    }

    /// Loads what the policy's actions need ahead of the first alert (the isolation programs).
    pub fn prepare(&mut self) -> Result<(), String> {
        if self.policy.rules.iter().any(|r| r.actions.contains(&Action::Isolate)) && !self.policy.dry_run {
            self.isolator.preload().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Decides on one alert and acts; returns the decisions (also in the audit log).
    pub fn handle(&mut self, alert: &Alert) -> Vec<Decision> {
        let mut out = Vec::new();
        let protect = alert.tags.iter().any(|t| t == "mode:protect");
        let workload = alert.workload.clone().unwrap_or_default();
        for rule in self.policy.matching(alert) {
            for action in &rule.actions {
                let mut d = Decision::new(alert, &rule.name, *action);
                let now = alert.time_ns;
                d.outcome = if !protect {
                    Outcome::NotProtected
                } else if self.policy.allowlisted(&workload) {
                    Outcome::Allowlisted
                } else if self.policy.dry_run {
                    Outcome::DryRun
                } else if rule.approval {
                    Outcome::PendingApproval
                } else if !self.rate_left(now) {
                    Outcome::RateLimited
                } else if !self.budget_left(&workload, now) {
                    Outcome::OverBudget
                } else {
                    // Only an action taken counts against the limits.
                    self.recent.push_back(now);
                    self.per_workload.entry(workload.clone()).or_default().push_back(now);
                    self.act(&mut d);
                    d.outcome
                };
                if !matches!(d.outcome, Outcome::Acted | Outcome::Failed) {
                    self.audit.record(&d);
                }
                out.push(d);
            }
        }
        out
    }

    fn rate_left(&mut self, now: u64) -> bool {
        let window = self.policy.rate_limit.seconds.saturating_mul(1_000_000_000);
        while self.recent.front().is_some_and(|t| now.saturating_sub(*t) > window) {
            self.recent.pop_front();
        }
        self.recent.len() < self.policy.rate_limit.actions
    }

    fn budget_left(&mut self, workload: &str, now: u64) -> bool {
        let window = self.policy.budget.seconds.saturating_mul(1_000_000_000);
        let q = self.per_workload.entry(workload.to_string()).or_default();
        while q.front().is_some_and(|t| now.saturating_sub(*t) > window) {
            q.pop_front();
        }
        q.len() < self.policy.budget.actions
    }

    /// Performs a decision's action: the intent is recorded first, then evidence, the action, its
    /// verification and the outcome.
    fn act(&mut self, d: &mut Decision) {
        d.outcome = Outcome::Intent;
        self.audit.record(d);
        crash_point("after-intent");
        let started = std::time::Instant::now();
        let result = self.perform(d);
        d.took_us = started.elapsed().as_micros() as u64;
        crash_point("after-action");
        match result {
            Ok(detail) => {
                d.outcome = Outcome::Acted;
                d.detail = detail;
            }
            Err(e) => {
                d.outcome = Outcome::Failed;
                d.detail = e;
            }
        }
        self.audit.record(d);
    }

    fn perform(&mut self, d: &mut Decision) -> Result<String, String> {
        if d.action.is_kubernetes() {
            if d.namespace.is_none() || d.pod.is_none() {
                return Err("the container is not a Kubernetes pod's (no namespace and pod name)".into());
            }
            self.kube()?;
            let kube = self.kube.as_ref().ok_or("no Kubernetes client")?;
            return perform_k8s(kube, &self.audit, d);
        }
        let cg = d.cgroup_id.and_then(|id| self.cgroups.find(id)).ok_or("the container's cgroup is gone")?;
        d.cgroup = Some(cg.display().to_string());
        if d.evidence.is_none() {
            let mut ev = node::evidence(&cg, d.own_netns);
            if let Some(dir) = &self.policy.evidence_dir {
                let paths = d.files_of_interest();
                if !paths.is_empty() {
                    let pids: Vec<u32> = d.pid.into_iter().chain(ev.processes.iter().map(|p| p.pid)).collect();
                    ev.files = node::copy_files(&paths, &pids, &dir.join(k8s::label_value(&d.alert_id)));
                }
            }
            d.evidence = Some(ev);
        }
        let r = match d.action {
            Action::KillProcess => {
                let pid = d.pid.ok_or("the alert names no process")?;
                node::kill_process(pid, &self.cgroups.relative(&cg))
                    .map(|t| format!("process {pid} killed, gone after {t:?}"))
            }
            Action::Pause => node::freeze(&cg, true).map(|t| format!("container frozen after {t:?}")),
            Action::Stop => {
                node::stop(&cg).map(|t| format!("every process of the container killed, none left after {t:?}"))
            }
            Action::QuarantinePod
            | Action::EvictPod
            | Action::DeletePod
            | Action::ScaleToZero
            | Action::CordonNode
            | Action::RevokePermissions => unreachable!("handled above"),
            Action::BlockDestination => {
                let (addr, port) = parse_destination(d.destination.as_deref())?;
                self.isolator.block(&cg, Some(addr), port).map(|what| format!("connections to {what} blocked"))
            }
            Action::Isolate => {
                let keep_lo = d.own_netns;
                self.isolator.isolate(&cg, &self.bpffs, keep_lo).map(|p| {
                    format!(
                        "network cut (BPF cgroup_skb, pinned at {}{})",
                        p.display(),
                        if keep_lo { ", loopback kept" } else { "" }
                    )
                })
            }
        };
        r.map_err(|e| e.to_string())
    }

    /// Releases what kestrel pinned for containers that are gone (see [`node::sweep`]); returns their
    /// cgroup ids. The agent calls it every [`SWEEP_EVERY`].
    pub fn sweep(&mut self) -> Vec<u64> {
        match node::sweep(&self.bpffs, &self.cgroups.root) {
            Ok(gone) => gone,
            Err(e) => {
                eprintln!("kestrel: releasing the pins of gone containers: {e}");
                vec![]
            }
        }
    }

    /// Settles the decisions a crash left between intent and outcome: each is checked against the
    /// workload — in effect: `acted`; not: `interrupted`, with a half-done isolation removed so that the
    /// workload is untouched. Nothing new is done to a workload. Run at start, before the first alert.
    pub fn recover(&mut self) -> Vec<Decision> {
        let pending: Vec<Decision> =
            self.audit.decisions().into_iter().filter(|d| d.outcome == Outcome::Intent).collect();
        let mut out = Vec::new();
        for mut d in pending {
            let (outcome, detail) = self.settle(&d);
            d.outcome = outcome;
            d.detail = format!("after a restart: {detail}");
            self.audit.record(&d);
            out.push(d);
        }
        out
    }

    fn settle(&mut self, d: &Decision) -> (Outcome, String) {
        if d.action.is_kubernetes() {
            // The cluster's state is not read back here; what the action changed was recorded before the
            // call, so undo can still put it back.
            let undo = if d.change.is_some() || d.action == Action::QuarantinePod { "undo available" } else { "" };
            return (Outcome::Interrupted, format!("the Kubernetes call may or may not have been made; {undo}"));
        }
        let Some(cg) = d.cgroup_id.and_then(|id| self.cgroups.find(id)) else {
            return (Outcome::Interrupted, "the container is gone".into());
        };
        let e = |e: node::ActionError| (Outcome::Interrupted, format!("its state cannot be read: {e}"));
        match d.action {
            Action::Isolate => match node::isolation_links(&cg, &self.bpffs) {
                Ok(2) => (Outcome::Acted, "the network isolation is in effect".into()),
                Ok(0) => (Outcome::Interrupted, "not isolated: the container was left untouched".into()),
                Ok(_) => match node::restore(&cg, &self.bpffs) {
                    Ok(()) => (Outcome::Interrupted, "half isolated: the half-done isolation was removed".into()),
                    Err(err) => e(err),
                },
                Err(err) => e(err),
            },
            Action::Pause => match node::is_frozen(&cg) {
                Ok(true) => (Outcome::Acted, "the container is frozen".into()),
                Ok(false) => (Outcome::Interrupted, "not frozen: the container was left untouched".into()),
                Err(err) => e(err),
            },
            Action::BlockDestination => {
                let Ok((addr, port)) = parse_destination(d.destination.as_deref()) else {
                    return (Outcome::Interrupted, "no destination recorded".into());
                };
                match node::is_blocked(&cg, Some(addr), port) {
                    Ok(true) => (Outcome::Acted, format!("{} is blocked", std::net::SocketAddr::new(addr, port))),
                    Ok(false) => (
                        Outcome::Interrupted,
                        format!("{} is not blocked: untouched", std::net::SocketAddr::new(addr, port)),
                    ),
                    Err(err) => e(err),
                }
            }
            Action::KillProcess => match (d.pid, node::cgroup_pids(&cg)) {
                (Some(pid), Ok(pids)) if pids.contains(&pid) => {
                    (Outcome::Interrupted, format!("process {pid} still runs: untouched"))
                }
                (Some(pid), Ok(_)) => (Outcome::Acted, format!("process {pid} is gone")),
                (None, _) => (Outcome::Interrupted, "no process recorded".into()),
                (_, Err(err)) => e(err),
            },
            Action::Stop => match node::cgroup_pids(&cg) {
                Ok(p) if p.is_empty() => (Outcome::Acted, "no process of the container is left".into()),
                Ok(p) => (Outcome::Interrupted, format!("{} processes still run: untouched", p.len())),
                Err(err) => e(err),
            },
            _ => (Outcome::Interrupted, String::new()),
        }
    }

    /// Approves a pending decision and acts on it.
    pub fn approve(&mut self, id: &str) -> Result<Decision, String> {
        let mut d = self.audit.find(id).ok_or_else(|| format!("no decision {id}"))?;
        if d.outcome != Outcome::PendingApproval {
            return Err(format!("decision {id} is {}, not pending approval", d.outcome.as_str()));
        }
        self.act(&mut d);
        Ok(d)
    }

    /// Denies a pending decision: nothing is done, and the audit log says who denied it and why.
    pub fn deny(&mut self, id: &str, by: &str, reason: &str) -> Result<Decision, String> {
        let mut d = self.audit.find(id).ok_or_else(|| format!("no decision {id}"))?;
        if d.outcome != Outcome::PendingApproval {
            return Err(format!("decision {id} is {}, not pending approval", d.outcome.as_str()));
        }
        d.outcome = Outcome::Denied;
        d.detail = if reason.is_empty() { format!("denied by {by}") } else { format!("denied by {by}: {reason}") };
        self.audit.record(&d);
        Ok(d)
    }

    /// Reverses a reversible action (pause → thaw, isolate → restore, block → unblock).
    pub fn undo(&mut self, id: &str) -> Result<Decision, String> {
        undo(&self.audit, &mut self.cgroups, &self.bpffs, id)
    }
}

/// A Kubernetes action on the alert's pod. What an action changes is read first and recorded with the intent,
/// so that undo can put it back even after a crash.
fn perform_k8s(kube: &k8s::Kube, audit: &AuditLog, d: &mut Decision) -> Result<String, String> {
    let (Some(ns), Some(pod)) = (d.namespace.clone(), d.pod.clone()) else {
        return Err("the container is not a Kubernetes pod's (no namespace and pod name)".into());
    };
    let e = |e: k8s::KubeError| e.to_string();
    match d.action {
        Action::QuarantinePod => {
            kube.quarantine(&ns, &pod, &d.id).map_err(e)?;
            Ok(format!("pod {ns}/{pod} quarantined (NetworkPolicy {})", k8s::quarantine_policy_name(&pod)))
        }
        Action::EvictPod => kube.evict(&ns, &pod).map(|_| format!("pod {ns}/{pod} evicted")).map_err(e),
        Action::DeletePod => kube.delete_pod(&ns, &pod).map(|_| format!("pod {ns}/{pod} deleted")).map_err(e),
        Action::ScaleToZero => {
            let p = kube.pod(&ns, &pod).map_err(e)?;
            let w = kube.workload_of(&ns, &p)?;
            let replicas = kube.replicas(&ns, &w).map_err(e)?;
            d.change = Some(k8s::Change::Scaled {
                kind: w.kind.clone(),
                namespace: ns.clone(),
                name: w.name.clone(),
                replicas,
            });
            audit.record(d);
            kube.scale(&ns, &w, 0).map_err(e)?;
            match kube.replicas(&ns, &w).map_err(e)? {
                0 => Ok(format!("{} {ns}/{} scaled from {replicas} to 0", w.kind, w.name)),
                n => Err(format!("{} {ns}/{} still asks for {n} replicas", w.kind, w.name)),
            }
        }
        Action::CordonNode => {
            let p = kube.pod(&ns, &pod).map_err(e)?;
            let node = p.spec.and_then(|s| s.node_name).ok_or_else(|| format!("pod {ns}/{pod} is on no node yet"))?;
            if kube.cordoned(&node).map_err(e)? {
                return Ok(format!("node {node} was already cordoned (nothing to undo)"));
            }
            d.change = Some(k8s::Change::Cordoned { node: node.clone() });
            audit.record(d);
            kube.cordon(&node, true).map_err(e)?;
            match kube.cordoned(&node).map_err(e)? {
                true => Ok(format!("node {node} cordoned")),
                false => Err(format!("node {node} is still schedulable")),
            }
        }
        Action::RevokePermissions => {
            let p = kube.pod(&ns, &pod).map_err(e)?;
            let subject = k8s::pod_subject(&p);
            let bindings = kube.bindings_of(&subject).map_err(e)?;
            if bindings.is_empty() {
                return Ok(format!("service account {ns}/{} is in no binding", subject.name));
            }
            d.change = Some(k8s::Change::Revoked { subject: subject.clone(), bindings: bindings.clone() });
            audit.record(d);
            for b in &bindings {
                kube.edit_binding(b, &subject, false).map_err(e)?;
            }
            let left = kube.bindings_of(&subject).map_err(e)?;
            if !left.is_empty() {
                return Err(format!("service account {ns}/{} is still in {left:?}", subject.name));
            }
            Ok(format!(
                "service account {ns}/{} taken out of {}",
                subject.name,
                kestrel_core::counted(bindings.len(), "binding")
            ))
        }
        _ => Err(format!("{} is not a Kubernetes action", d.action.as_str())),
    }
}

/// Reverses a Kubernetes action from what it recorded.
fn undo_k8s(d: &Decision) -> Result<String, String> {
    let e = |e: k8s::KubeError| e.to_string();
    let kube = || k8s::Kube::connect();
    match (d.action, &d.change) {
        (Action::QuarantinePod, _) => {
            let (Some(ns), Some(pod)) = (&d.namespace, &d.pod) else { return Err("no pod recorded".into()) };
            kube()?.release(ns, pod).map_err(e)?;
            Ok(format!("pod {ns}/{pod} released"))
        }
        (Action::ScaleToZero, Some(k8s::Change::Scaled { kind, namespace, name, replicas })) => {
            let w = k8s::Workload { kind: kind.clone(), name: name.clone() };
            kube()?.scale(namespace, &w, *replicas).map_err(e)?;
            Ok(format!("{kind} {namespace}/{name} scaled back to {replicas}"))
        }
        (Action::CordonNode, Some(k8s::Change::Cordoned { node })) => {
            kube()?.cordon(node, false).map_err(e)?;
            Ok(format!("node {node} uncordoned"))
        }
        (Action::RevokePermissions, Some(k8s::Change::Revoked { subject, bindings })) => {
            let k = kube()?;
            for b in bindings {
                k.edit_binding(b, subject, true).map_err(e)?;
            }
            Ok(format!(
                "service account {} put back in {}",
                subject.name,
                kestrel_core::counted(bindings.len(), "binding")
            ))
        }
        (Action::ScaleToZero | Action::CordonNode | Action::RevokePermissions, None) => {
            Err("nothing was changed (or the change was not recorded before a crash): nothing to undo".into())
        }
        (a, _) => Err(format!("{a:?} cannot be undone")),
    }
}

/// `10.0.0.1:3333` or `[2001:db8::1]:3333` → its address and port.
fn parse_destination(d: Option<&str>) -> Result<(std::net::IpAddr, u16), String> {
    let d = d.ok_or("the alert names no IP destination")?;
    let s: std::net::SocketAddr = d.parse().map_err(|_| format!("{d}: not address:port"))?;
    Ok((s.ip(), s.port()))
}

/// Reverses a recorded reversible action (pause → thaw, isolate → restore), recording the undo. An
/// action interrupted by a crash (an intent without an outcome) can be undone too.
pub fn undo(audit: &AuditLog, cgroups: &mut CgroupFinder, bpffs: &Path, id: &str) -> Result<Decision, String> {
    let mut d = audit.find(id).ok_or_else(|| format!("no decision {id}"))?;
    if !matches!(d.outcome, Outcome::Acted | Outcome::Intent | Outcome::Interrupted) {
        return Err(format!("decision {id} is {}: nothing to undo", d.outcome.as_str()));
    }
    if matches!(d.action, Action::KillProcess | Action::Stop) {
        // Said before anything is looked up: a killed process's container may be gone, and that is not why.
        return Err(format!("{} cannot be undone", d.action.as_str()));
    }
    if d.action.is_kubernetes() {
        let started = std::time::Instant::now();
        d.detail = undo_k8s(&d)?;
        d.took_us = started.elapsed().as_micros() as u64;
        d.outcome = Outcome::Undone;
        audit.record(&d);
        return Ok(d);
    }
    let cg = d.cgroup_id.and_then(|c| cgroups.find(c)).ok_or("the container's cgroup is gone")?;
    let started = std::time::Instant::now();
    let r = match d.action {
        Action::Pause => node::freeze(&cg, false).map(|t| format!("container thawed after {t:?}")),
        Action::Isolate => node::restore(&cg, bpffs).map(|_| "network restored".to_string()),
        Action::BlockDestination => {
            let (addr, port) = parse_destination(d.destination.as_deref())?;
            node::unblock(&cg, Some(addr), port).map(|_| format!("{} unblocked", std::net::SocketAddr::new(addr, port)))
        }
        _ => unreachable!("irreversible and Kubernetes actions are handled above"),
    };
    d.took_us = started.elapsed().as_micros() as u64;
    match r {
        Ok(detail) => {
            d.outcome = Outcome::Undone;
            d.detail = detail;
            audit.record(&d);
            Ok(d)
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
