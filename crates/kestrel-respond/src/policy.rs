//! The response policy: which alerts lead to which actions.
//!
//! ```yaml
//! dry_run: false              # a new policy acts only when told to (default: true)
//! rate_limit: {actions: 20, seconds: 60}    # for the whole node
//! budget: {actions: 3, seconds: 3600}       # per workload
//! allowlist: ["kube-system/*", "db"]        # workloads never acted on (globs)
//! evidence_dir: /var/lib/kestrel/evidence    # copies of the files the alert's events wrote or ran
//! rules:
//!   - name: escapes
//!     when: {severity: critical, rules: ["Namespace entered*", "Host device*"], workloads: ["*"]}
//!     actions: [kill-process, pause]
//!   - name: reverse shells
//!     when: {rules: ["Reverse shell", "Network tool running a program"], models: [network]}
//!     actions: [isolate]
//!     approval: true            # wait for `kestrel respond approve ID`
//!   - name: pods in a cluster
//!     when: {severity: critical, namespaces: ["shop"], images: ["registry.example/shop/*"],
//!            labels: {tier: frontend}}
//!     actions: [quarantine-pod, revoke-permissions]
//!     # also: evict-pod, scale-to-zero, cordon-node, kill-process, pause, stop, block-destination
//! ```

use kestrel_core::{Alert, AlertSource, Severity};
use serde::{Deserialize, Serialize};

/// An action on a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Kill the process the alert names.
    KillProcess,
    /// Freeze the container (undo: thaw).
    Pause,
    /// Kill every process of the container.
    Stop,
    /// Drop all its network traffic (undo: restore).
    Isolate,
    /// Block the destination the alert's connection or datagram went to, for this container (IPv4 or IPv6;
    /// connects and unconnected sends; undo: unblock).
    BlockDestination,
    /// Kubernetes: a deny-all NetworkPolicy selecting the pod by a label kestrel sets (undo: release).
    QuarantinePod,
    /// Kubernetes: evict the pod (respects PodDisruptionBudgets).
    EvictPod,
    /// Kubernetes: delete the pod at once (no grace period; its controller makes a fresh one).
    DeletePod,
    /// Kubernetes: scale the pod's Deployment, StatefulSet or ReplicaSet to zero (undo: the recorded count).
    ScaleToZero,
    /// Kubernetes: cordon the pod's node so nothing new is scheduled there (undo: uncordon).
    CordonNode,
    /// Kubernetes: take the pod's service account out of every RoleBinding and ClusterRoleBinding that names
    /// it (undo: put it back in each).
    RevokePermissions,
}

impl Action {
    /// Its name, as the policy file and the JSON write it (`kill-process`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::KillProcess => "kill-process",
            Action::Pause => "pause",
            Action::Stop => "stop",
            Action::Isolate => "isolate",
            Action::BlockDestination => "block-destination",
            Action::QuarantinePod => "quarantine-pod",
            Action::EvictPod => "evict-pod",
            Action::DeletePod => "delete-pod",
            Action::ScaleToZero => "scale-to-zero",
            Action::CordonNode => "cordon-node",
            Action::RevokePermissions => "revoke-permissions",
        }
    }

    /// Whether it goes through the Kubernetes API (and needs the alert's pod).
    pub fn is_kubernetes(self) -> bool {
        matches!(
            self,
            Action::QuarantinePod
                | Action::EvictPod
                | Action::DeletePod
                | Action::ScaleToZero
                | Action::CordonNode
                | Action::RevokePermissions
        )
    }
}

/// A limit: at most `actions` in `seconds`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Limit {
    /// Actions allowed.
    pub actions: usize,
    /// In this many seconds.
    pub seconds: u64,
}

/// What an alert must be for a rule to apply (every given field must match; empty lists match all).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// Least severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Rule names (globs); an alert from a model matches only when `models` names its view.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Model views (`process`, `network`, `privilege`, `file`, `syscalls`).
    #[serde(default)]
    pub models: Vec<String>,
    /// Workloads (globs).
    #[serde(default)]
    pub workloads: Vec<String>,
    /// Container images (globs on the image name or digest the runtime tells).
    #[serde(default)]
    pub images: Vec<String>,
    /// Kubernetes namespaces (globs); a container outside Kubernetes has none and does not match.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Labels the container must carry (value globs): its OCI annotations or Docker labels.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Least score (0–1).
    #[serde(default)]
    pub min_score: Option<f64>,
}

/// One rule of the policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// Name, in the audit log.
    pub name: String,
    /// Which alerts.
    #[serde(default)]
    pub when: When,
    /// What to do, in order.
    pub actions: Vec<Action>,
    /// Wait for a person's approval.
    #[serde(default)]
    pub approval: bool,
}

fn default_true() -> bool {
    true
}

fn default_rate() -> Limit {
    Limit { actions: 20, seconds: 60 }
}

fn default_budget() -> Limit {
    Limit { actions: 3, seconds: 3600 }
}

/// A response policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Record what would be done, do nothing (the default).
    #[serde(default = "default_true")]
    pub dry_run: bool,
    /// For the whole node.
    #[serde(default = "default_rate")]
    pub rate_limit: Limit,
    /// Per workload.
    #[serde(default = "default_budget")]
    pub budget: Limit,
    /// Workloads never acted on (globs).
    #[serde(default)]
    pub allowlist: Vec<String>,
    /// Copy the files an alert's events wrote, made setuid or executed into `DIR/ALERT-ID/` before acting
    /// (at most 16 files of 8 MiB each; their SHA-256 is in the audit log).
    #[serde(default)]
    pub evidence_dir: Option<std::path::PathBuf>,
    /// The rules, all applied.
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
}

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct PolicyError {
    /// The file.
    pub file: String,
    /// Why.
    pub reason: String,
}

pub use kestrel_core::glob;

impl Policy {
    /// Reads a policy (YAML or JSON), checking it.
    pub fn parse(file: &str, text: &str) -> Result<Policy, PolicyError> {
        let err = |reason: String| PolicyError { file: file.into(), reason };
        if text.len() > 1 << 20 {
            return Err(err("larger than 1 MiB".into()));
        }
        let p: Policy = serde_yaml::from_str(text).map_err(|e| err(e.to_string()))?;
        for r in &p.rules {
            if r.actions.is_empty() {
                return Err(err(format!("rule {:?} has no actions", r.name)));
            }
        }
        if p.rate_limit.actions == 0 || p.budget.actions == 0 {
            return Err(err("a rate limit or budget of 0 actions would never act; use dry_run".into()));
        }
        Ok(p)
    }

    /// Whether a workload is on the allowlist.
    pub fn allowlisted(&self, workload: &str) -> bool {
        self.allowlist.iter().any(|g| glob(g, workload))
    }

    /// The rules an alert matches.
    pub fn matching(&self, a: &Alert) -> Vec<PolicyRule> {
        self.rules.iter().filter(|r| matches(&r.when, a)).cloned().collect()
    }
}

fn matches(w: &When, a: &Alert) -> bool {
    if w.severity.is_some_and(|s| a.severity < s) || w.min_score.is_some_and(|s| a.score < s) {
        return false;
    }
    let workload = a.workload.as_deref().unwrap_or_default();
    if !w.workloads.is_empty() && !w.workloads.iter().any(|g| glob(g, workload)) {
        return false;
    }
    let c = a.container.as_ref();
    let any = |globs: &[String], value: Option<&String>| {
        globs.is_empty() || value.is_some_and(|v| globs.iter().any(|g| glob(g, v)))
    };
    if !any(&w.images, c.and_then(|c| c.image.as_ref())) || !any(&w.namespaces, c.and_then(|c| c.namespace.as_ref())) {
        return false;
    }
    if !w.labels.iter().all(|(k, g)| c.and_then(|c| c.labels.get(k)).is_some_and(|v| glob(g, v))) {
        return false;
    }
    match &a.source {
        AlertSource::Rule { name, .. } => {
            (w.rules.is_empty() && w.models.is_empty()) || w.rules.iter().any(|g| glob(g, name))
        }
        AlertSource::Model { name, .. } => {
            (w.rules.is_empty() && w.models.is_empty()) || w.models.iter().any(|m| m == name)
        }
    }
}
