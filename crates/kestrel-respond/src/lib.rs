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
                    d.outcome.clone()
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
        let started = std::time::Instant::now();
        let result = self.perform(d);
        d.took_us = started.elapsed().as_micros() as u64;
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
        if matches!(d.action, Action::QuarantinePod | Action::EvictPod) {
            let (Some(ns), Some(pod)) = (d.namespace.clone(), d.pod.clone()) else {
                return Err("the container is not a Kubernetes pod's (no namespace and pod name)".into());
            };
            let id = d.id.clone();
            let kube = self.kube()?;
            return match d.action {
                Action::QuarantinePod => kube.quarantine(&ns, &pod, &id).map(|_| {
                    format!("pod {ns}/{pod} quarantined (NetworkPolicy {})", k8s::quarantine_policy_name(&pod))
                }),
                _ => kube.evict(&ns, &pod).map(|_| format!("pod {ns}/{pod} evicted")),
            }
            .map_err(|e| e.to_string());
        }
        let cg = d.cgroup_id.and_then(|id| self.cgroups.find(id)).ok_or("the container's cgroup is gone")?;
        d.cgroup = Some(cg.display().to_string());
        if d.evidence.is_none() {
            d.evidence = Some(node::evidence(&cg, d.own_netns));
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
            Action::QuarantinePod | Action::EvictPod => unreachable!("handled above"),
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

    /// Approves a pending decision and acts on it.
    pub fn approve(&mut self, id: &str) -> Result<Decision, String> {
        let mut d = self.audit.find(id).ok_or_else(|| format!("no decision {id}"))?;
        if d.outcome != Outcome::PendingApproval {
            return Err(format!("decision {id} is {:?}, not pending approval", d.outcome));
        }
        self.act(&mut d);
        Ok(d)
    }

    /// Reverses a reversible action (pause → thaw, isolate → restore, block → unblock).
    pub fn undo(&mut self, id: &str) -> Result<Decision, String> {
        undo(&self.audit, &mut self.cgroups, &self.bpffs, id)
    }
}

/// `10.0.0.1:3333` → its address and port.
fn parse_destination(d: Option<&str>) -> Result<(std::net::Ipv4Addr, u16), String> {
    let d = d.ok_or("the alert names no IPv4 destination")?;
    let (a, p) = d.rsplit_once(':').ok_or_else(|| format!("{d}: not address:port"))?;
    Ok((a.parse().map_err(|_| format!("{d}: not an IPv4 address"))?, p.parse().map_err(|_| format!("{d}: bad port"))?))
}

/// Reverses a recorded reversible action (pause → thaw, isolate → restore), recording the undo. An
/// action interrupted by a crash (an intent without an outcome) can be undone too.
pub fn undo(audit: &AuditLog, cgroups: &mut CgroupFinder, bpffs: &Path, id: &str) -> Result<Decision, String> {
    let mut d = audit.find(id).ok_or_else(|| format!("no decision {id}"))?;
    if !matches!(d.outcome, Outcome::Acted | Outcome::Intent) {
        return Err(format!("decision {id} is {:?}: nothing to undo", d.outcome));
    }
    if d.action == Action::QuarantinePod {
        let (Some(ns), Some(pod)) = (d.namespace.clone(), d.pod.clone()) else { return Err("no pod recorded".into()) };
        let started = std::time::Instant::now();
        k8s::Kube::connect()?.release(&ns, &pod).map_err(|e| e.to_string())?;
        d.took_us = started.elapsed().as_micros() as u64;
        d.outcome = Outcome::Undone;
        d.detail = format!("pod {ns}/{pod} released");
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
            node::unblock(&cg, Some(addr), port).map(|_| format!("{addr}:{port} unblocked"))
        }
        Action::KillProcess | Action::Stop | Action::EvictPod => {
            return Err(format!("{:?} cannot be undone", d.action))
        }
        Action::QuarantinePod => unreachable!("handled above"),
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
