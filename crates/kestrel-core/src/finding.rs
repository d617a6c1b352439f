//! Findings: what a scan reports about an artifact beyond its inventory (vulnerable and malicious packages,
//! end-of-life operating systems), and the report that carries them.

use crate::{Ecosystem, Location, Sbom};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The JSON schema name of a [`Report`].
pub const REPORT_SCHEMA: &str = "kestrel.report/v1";

/// How bad a finding is, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No score and no word from any source.
    #[default]
    Unknown,
    /// CVSS 0.1–3.9, or the source says low.
    Low,
    /// CVSS 4.0–6.9, or the source says medium / moderate.
    Medium,
    /// CVSS 7.0–8.9, or the source says high / important.
    High,
    /// CVSS 9.0–10.0, or the source says critical; every malicious package.
    Critical,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Unknown];

    /// The CVSS qualitative rating of a base score.
    pub fn of_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Unknown,
        }
    }

    /// A source's own severity word (`HIGH`, `Important`, `moderate`, `negligible`…), if it names one.
    pub fn of_word(word: &str) -> Option<Severity> {
        Some(match word.trim().to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" | "important" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" | "negligible" | "unimportant" => Severity::Low,
            _ => return None,
        })
    }

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "unknown" => Ok(Severity::Unknown),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!("{s:?} is not a severity (unknown, low, medium, high, critical)")),
        }
    }
}

/// Whether a fix exists for a vulnerable package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixState {
    /// A fixed version exists: upgrade to `fixed_version`.
    Fixed,
    /// Affected and no fix published yet.
    Affected,
    /// The distribution decided not to fix it in this release (`<no-dsa>`, `<ignored>`, "will not fix").
    WillNotFix,
    /// The release is out of support: no fix will come.
    EndOfLife,
}

impl FixState {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FixState::Fixed => "fixed",
            FixState::Affected => "affected",
            FixState::WillNotFix => "will-not-fix",
            FixState::EndOfLife => "end-of-life",
        }
    }
}

/// A score for ordering work, with the reasons that made it, in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Risk {
    /// 0–100; higher first.
    pub score: u8,
    /// Each contribution, readable (`CVSS 9.8 critical`, `known exploited (CISA KEV, 2024-05-01)`…).
    pub reasons: Vec<String>,
}

/// A CVSS vector with its computed base score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvssScore {
    /// `3.1`, `4.0`…
    pub version: String,
    /// The vector string.
    pub vector: String,
    /// The computed base score.
    pub score: f64,
}

/// A package affected by a known vulnerability (or a malicious package).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnerabilityFinding {
    /// The vulnerability: a CVE id when there is one, else the advisory's own id (`GHSA-…`, `GO-…`, `MAL-…`).
    pub id: String,
    /// Every other id of the same vulnerability, and the distribution advisories (`DSA-…`, `ALSA-…`) that
    /// cover it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Package name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// The package's ecosystem.
    pub ecosystem: Ecosystem,
    /// The package's purl.
    pub purl: String,
    /// What was matched: the OSV ecosystem, the name and the version compared (`Debian:12 openssl
    /// 3.0.11-1~deb12u2` for a binary package matched by its source package).
    pub matched: String,
    /// Fix state.
    pub state: FixState,
    /// The version to upgrade to, when one fixes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// Severity.
    pub severity: Severity,
    /// Where the severity came from (`CVSS 3.1`, `osv:PyPI severity word`…).
    pub severity_source: String,
    /// The CVSS vector that set the severity, with its base score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<CvssScore>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// Publication time of the earliest advisory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Databases that reported it (`osv:Debian`, `debian-tracker:DSA`).
    pub sources: Vec<String>,
    /// A few reference URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Listed in a known-exploited catalogue (CISA KEV).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub known_exploited: bool,
    /// Where the package is.
    pub locations: Vec<Location>,
    /// The layer that introduced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Priority.
    pub risk: Risk,
}

/// The operating system release is past its end of life: nothing in it gets security fixes any more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndOfLifeFinding {
    /// `debian-10`, `alpine-3.16`.
    pub release: String,
    /// Readable name.
    pub name: String,
    /// The day support ended.
    pub eol_date: String,
    /// What the date stands for (`end of LTS`, `end of standard support`).
    pub support: String,
    /// Severity (high: known vulnerabilities in it will stay unfixed).
    pub severity: Severity,
    /// Priority.
    pub risk: Risk,
}

/// Something a scan found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    /// A package with a known vulnerability.
    Vulnerability(VulnerabilityFinding),
    /// A package published with malicious intent (OSV `MAL-` records).
    MaliciousPackage(VulnerabilityFinding),
    /// An operating system release past its end of life.
    EndOfLife(EndOfLifeFinding),
}

impl Finding {
    /// The finding's severity.
    pub fn severity(&self) -> Severity {
        match self {
            Finding::Vulnerability(v) | Finding::MaliciousPackage(v) => v.severity,
            Finding::EndOfLife(e) => e.severity,
        }
    }

    /// The finding's risk.
    pub fn risk(&self) -> &Risk {
        match self {
            Finding::Vulnerability(v) | Finding::MaliciousPackage(v) => &v.risk,
            Finding::EndOfLife(e) => &e.risk,
        }
    }

    /// The id a person searches for (`CVE-…`, `MAL-…`, `eol:debian-10`).
    pub fn id(&self) -> String {
        match self {
            Finding::Vulnerability(v) | Finding::MaliciousPackage(v) => v.id.clone(),
            Finding::EndOfLife(e) => format!("eol:{}", e.release),
        }
    }

    /// The vulnerability part, for package findings.
    pub fn as_vulnerability(&self) -> Option<&VulnerabilityFinding> {
        match self {
            Finding::Vulnerability(v) | Finding::MaliciousPackage(v) => Some(v),
            Finding::EndOfLife(_) => None,
        }
    }
}

/// The database a report's findings came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseRef {
    /// Where it is.
    pub path: String,
    /// When it was last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_at: Option<String>,
    /// Source names (`osv:PyPI`…).
    pub sources: Vec<String>,
}

/// A finding left out on purpose, and why (an ignore-file entry or a VEX statement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppressed {
    /// Finding id.
    pub id: String,
    /// The package's purl, when it was a package finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Who said so and why (`.kestrelignore: accepted risk until 2027-01-01`, `VEX not_affected: …`).
    pub reason: String,
}

/// An inventory with findings: the JSON form is the SBOM's with three more fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The inventory; its `schema` is [`REPORT_SCHEMA`].
    #[serde(flatten)]
    pub sbom: Sbom,
    /// Findings, highest risk first.
    pub findings: Vec<Finding>,
    /// Findings left out, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppressed>,
    /// The vulnerability database used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseRef>,
    /// Hardcoded credentials in the image's layers (files a later layer deletes too), when the secret scanner
    /// ran; redacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<crate::SecretFinding>,
}

impl Report {
    /// Sorts findings: highest risk first, then severity, id, package.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            b.risk()
                .score
                .cmp(&a.risk().score)
                .then_with(|| b.severity().cmp(&a.severity()))
                .then_with(|| a.id().cmp(&b.id()))
                .then_with(|| {
                    let pa = a.as_vulnerability().map(|v| (&v.package, &v.version));
                    let pb = b.as_vulnerability().map(|v| (&v.package, &v.version));
                    pa.cmp(&pb)
                })
        });
    }

    /// Number of findings per severity.
    pub fn severity_counts(&self) -> std::collections::BTreeMap<Severity, usize> {
        let mut m = std::collections::BTreeMap::new();
        for f in &self.findings {
            *m.entry(f.severity()).or_insert(0) += 1;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_words_and_scores() {
        assert_eq!(Severity::of_score(9.8), Severity::Critical);
        assert_eq!(Severity::of_score(7.0), Severity::High);
        assert_eq!(Severity::of_score(6.9), Severity::Medium);
        assert_eq!(Severity::of_score(0.0), Severity::Unknown);
        assert_eq!(Severity::of_word("Important"), Some(Severity::High));
        assert_eq!(Severity::of_word("MODERATE"), Some(Severity::Medium));
        assert_eq!(Severity::of_word("whatever"), None);
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Unknown);
        assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
    }

    #[test]
    fn findings_are_tagged_by_kind() {
        let f = Finding::EndOfLife(EndOfLifeFinding {
            release: "debian-10".into(),
            name: "Debian 10 (buster)".into(),
            eol_date: "2024-06-30".into(),
            support: "end of LTS".into(),
            severity: Severity::High,
            risk: Risk::default(),
        });
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["kind"], "end-of-life");
        assert_eq!(v["release"], "debian-10");
        assert_eq!(serde_json::from_value::<Finding>(v).unwrap(), f);
    }
}
