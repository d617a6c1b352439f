//! Misconfiguration findings: a Kubernetes manifest, Dockerfile or image configuration that breaks a check,
//! with where it is, how to fix it and the controls (CIS, NIST, NSA/CISA, Pod Security Standards) it maps to.

use crate::Severity;
use serde::{Deserialize, Serialize};

/// The JSON schema name of a configuration report.
pub const CONFIG_SCHEMA: &str = "kestrel.config/v1";

/// A control of a standard a check maps to (`CIS Kubernetes 1.9` `5.2.2`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ControlRef {
    /// The standard's short id: `cis-k8s-1.9`, `cis-docker-1.6`, `nist-800-190`, `nsa-cisa-1.2`,
    /// `pss-v1.37`.
    pub standard: String,
    /// The control in it (`5.2.2`, `4.4.3`, `restricted:runAsNonRoot`).
    pub control: String,
}

/// One misconfiguration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFinding {
    /// The check (`pss:restricted:runAsNonRoot`, `k8s:read-only-root-fs`, `dockerfile:user-root`).
    pub id: String,
    /// What is wrong, in a few words.
    pub title: String,
    /// How bad.
    pub severity: Severity,
    /// The file.
    pub file: String,
    /// The resource (`Deployment shop/web`, `Dockerfile stage build`).
    pub resource: String,
    /// The line of the offending field (1-based), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The offending field (`spec.template.spec.containers[0].securityContext.privileged`).
    pub field: String,
    /// What exactly was found.
    pub message: String,
    /// How to fix it.
    pub fix: String,
    /// The controls it breaks.
    pub controls: Vec<ControlRef>,
}
