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

/// The JSON schema name of a compliance report.
pub const COMPLIANCE_SCHEMA: &str = "kestrel.compliance/v1";

/// What became of a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControlStatus {
    /// Its checks ran and found nothing.
    Pass,
    /// A check found something.
    Fail,
    /// No check can decide it: a person must.
    Manual,
    /// Its checks apply to inputs this scan did not have.
    NotEvaluated,
}

/// One control's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlResult {
    /// The control.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its status.
    pub status: ControlStatus,
    /// The checks that decide it.
    pub checks: Vec<String>,
    /// Why: for a failure, the findings; for a pass, what was checked; for manual, what to check.
    pub evidence: String,
    /// The findings behind a failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<ConfigFinding>,
}

/// Counts by status.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ComplianceSummary {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Manual.
    pub manual: usize,
    /// Not evaluated.
    pub not_evaluated: usize,
}

/// A compliance report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComplianceReport {
    /// Always [`COMPLIANCE_SCHEMA`].
    pub schema: String,
    /// The spec's id.
    pub spec: String,
    /// The spec's title.
    pub title: String,
    /// When (RFC 3339).
    pub generated: String,
    /// What was scanned (files, objects, input kinds).
    pub scope: String,
    /// Counts.
    pub summary: ComplianceSummary,
    /// Every control, in the spec's order.
    pub controls: Vec<ControlResult>,
}
