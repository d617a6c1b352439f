//! Alerts: what the detectors concluded about a workload's behaviour, with the evidence and an
//! explanation a person can act on. The JSON form (`schema` [`ALERT_SCHEMA`]) is stable: additive changes
//! keep `v1`.

use crate::{ContainerRef, Event, Severity};
use serde::{Deserialize, Serialize};

/// The JSON schema name of an [`Alert`].
pub const ALERT_SCHEMA: &str = "kestrel.alert/v1";

/// What raised an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum AlertSource {
    /// A rule for known-bad behaviour matched.
    Rule {
        /// The rule's name.
        name: String,
        /// The rule's priority as written (`CRITICAL`, `WARNING`, …).
        priority: String,
        /// Where the rule came from (`builtin`, or the rule file).
        origin: String,
    },
    /// Behaviour deviated from the workload's learned profile.
    Model {
        /// The view or model (`process`, `file`, `network`, `privilege`, `syscalls`).
        name: String,
        /// The profile compared against (workload key and version).
        profile: String,
    },
}

/// One behaviour that made up the alert, with its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// The feature, in words (`exec /bin/sh with parent nginx`).
    pub feature: String,
    /// Its share of the score, 0–1.
    pub weight: f64,
}

/// An alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Always [`ALERT_SCHEMA`].
    pub schema: String,
    /// Unique within a run: the triggering event's time and a sequence number.
    pub id: String,
    /// When the triggering event happened (nanoseconds since the Unix epoch).
    pub time_ns: u64,
    /// How bad.
    pub severity: Severity,
    /// The score, 0–1 (1 for a rule; a calibrated novelty for a model).
    pub score: f64,
    /// What raised it.
    pub source: AlertSource,
    /// One line: what happened.
    pub title: String,
    /// The explanation: what was never seen while learning, what the rule matched, the baseline.
    pub explanation: Vec<String>,
    /// The top contributing features, largest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributions: Vec<Contribution>,
    /// MITRE ATT&CK technique ids (`T1059.004`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mitre: Vec<String>,
    /// Tags of the rule, or of the model's view.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The workload: the container of the triggering event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerRef>,
    /// The workload's profile key, when the alert came from a profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// The events that make up the evidence, the triggering one last.
    pub evidence: Vec<Event>,
    /// Set on a summary of alike alerts that were not sent one by one (`kestrel detect --fold-after`): how many,
    /// over which span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folded: Option<Folded>,
}

/// What a summary alert stands for: alerts alike (one container, one rule or one profile's view) that came
/// faster than the agent sends them one by one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folded {
    /// How many alerts the summary stands for.
    pub count: u64,
    /// The first one's time (nanoseconds since the Unix epoch).
    pub first_ns: u64,
    /// The last one's time.
    pub last_ns: u64,
}
