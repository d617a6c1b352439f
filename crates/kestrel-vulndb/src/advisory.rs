//! Advisories in kestrel's validated form: OSV records (and the other sources) are checked once, at import,
//! and turned into [`Advisory`] values whose ranges are known to parse in their ecosystem's version scheme.

use crate::version::{Scheme, Version, VersionError};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One advisory, with the packages it affects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// `CVE-…`, `GHSA-…`, `PYSEC-…`, `GO-…`, `ALSA-…`, `DSA-…`, `MAL-…`.
    pub id: String,
    /// Other identifiers of the same vulnerability (OSV `aliases`, and `upstream` for distribution records).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Related ids (OSV `related`). Distribution advisories (`ALSA-…`) list the CVEs they fix here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// One-line summary.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// Longer description (cut at [`DETAILS_MAX`] characters).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
    /// RFC 3339 publication time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// RFC 3339 modification time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// CVSS vectors (`CVSS_V3`, `CVSS_V4`…) as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cvss: Vec<CvssVector>,
    /// The source's own severity word (`HIGH`, `Important`, `moderate`…), when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_severity: Option<String>,
    /// Reference URLs (at most [`REFERENCES_MAX`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// The database the record came from (`osv:PyPI`, `debian-tracker:DSA`…).
    pub source: String,
    /// Affected packages.
    pub affected: Vec<Affected>,
}

/// Longest kept `details`.
pub const DETAILS_MAX: usize = 4000;
/// Most kept references.
pub const REFERENCES_MAX: usize = 16;

/// A CVSS vector as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CvssVector {
    /// OSV severity type: `CVSS_V2`, `CVSS_V3`, `CVSS_V4`.
    pub kind: String,
    /// The vector string.
    pub vector: String,
}

/// What an advisory says about one package of one ecosystem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// OSV ecosystem, with its release for OS packages (`Debian:12`, `AlmaLinux:9`, `PyPI`).
    pub ecosystem: String,
    /// Package name, normalised for lookup (see [`normalize_name`]).
    pub name: String,
    /// Version ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Per-package severity, when the record gives one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cvss: Vec<CvssVector>,
    /// Why no fix is listed, when the source says (`end-of-life`, `unfixed`, `no-dsa`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_fix_reason: Option<String>,
}

/// A version range: events in the order OSV evaluates them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// Events, sorted by version (an `introduced: "0"` first).
    pub events: Vec<Event>,
}

/// One OSV range event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Vulnerable from this version on (`0`: from the beginning).
    Introduced(String),
    /// Not vulnerable from this version on.
    Fixed(String),
    /// Vulnerable up to and including this version.
    LastAffected(String),
    /// Versions at or above are outside the range.
    Limit(String),
}

impl Event {
    /// The event's version.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// The result of checking one installed version against one [`Affected`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not affected.
    NotAffected,
    /// Affected; the version to upgrade to, when a range gives one.
    Affected {
        /// The lowest `fixed` version above the installed one in the range that matched.
        fixed: Option<String>,
    },
}

/// Parses an event version; `introduced: "0"` is the lowest version of every scheme.
fn parse_event(scheme: Scheme, v: &str) -> Result<Option<Version>, VersionError> {
    if v == "0" {
        return Ok(None);
    }
    scheme.parse(v).map(Some)
}

fn cmp_opt(a: &Option<Version>, b: &Option<Version>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
    }
}

impl Range {
    /// Checks every event version against `scheme` and sorts the events the way OSV evaluates them
    /// (by version; at equal versions `introduced` before the others). Fails on the first version the
    /// scheme cannot read.
    pub fn validated(scheme: Scheme, mut events: Vec<Event>) -> Result<Range, VersionError> {
        let mut keyed = Vec::with_capacity(events.len());
        for e in events.drain(..) {
            let v = parse_event(scheme, e.version())?;
            keyed.push((v, e));
        }
        let rank = |e: &Event| match e {
            Event::Introduced(_) => 0,
            Event::LastAffected(_) => 1,
            Event::Fixed(_) => 2,
            Event::Limit(_) => 3,
        };
        keyed.sort_by(|a, b| cmp_opt(&a.0, &b.0).then_with(|| rank(&a.1).cmp(&rank(&b.1))));
        Ok(Range { events: keyed.into_iter().map(|(_, e)| e).collect() })
    }

    /// OSV's evaluation: walk the sorted events; `introduced` at or below the version opens, `fixed` at or
    /// below closes, `last_affected` below closes; `limit`s bound the whole range from above.
    pub fn evaluate(&self, scheme: Scheme, v: &Version) -> Verdict {
        let mut vulnerable = false;
        let mut fixed_after = None;
        let mut limits = Vec::new();
        for e in &self.events {
            let Ok(ev) = parse_event(scheme, e.version()) else { continue };
            let at_or_below = |x: &Option<Version>| match x {
                None => true,
                Some(x) => x.partial_cmp(v).is_some_and(|o| o != Ordering::Greater),
            };
            match e {
                Event::Introduced(_) => {
                    if at_or_below(&ev) {
                        vulnerable = true;
                        fixed_after = None;
                    }
                }
                Event::Fixed(f) => {
                    if at_or_below(&ev) {
                        vulnerable = false;
                    } else if vulnerable && fixed_after.is_none() {
                        fixed_after = Some(f.clone());
                    }
                }
                Event::LastAffected(_) => {
                    let below = matches!(&ev, Some(x) if x.partial_cmp(v) == Some(Ordering::Less));
                    if below {
                        vulnerable = false;
                    }
                }
                Event::Limit(_) => limits.push(ev),
            }
        }
        if vulnerable && !limits.is_empty() {
            let under_a_limit = limits.iter().any(|l| match l {
                None => false,
                Some(l) => v.partial_cmp(l) == Some(Ordering::Less),
            });
            if !under_a_limit {
                vulnerable = false;
            }
        }
        if vulnerable {
            Verdict::Affected { fixed: fixed_after }
        } else {
            Verdict::NotAffected
        }
    }
}

impl Affected {
    /// Checks an installed version: affected when any range says so or the version is listed.
    pub fn check(&self, scheme: Scheme, installed: &Version, installed_text: &str) -> Verdict {
        let mut best: Option<Verdict> = None;
        for r in &self.ranges {
            if let v @ Verdict::Affected { .. } = r.evaluate(scheme, installed) {
                // Prefer a verdict that names a fix.
                let has_fix = matches!(v, Verdict::Affected { fixed: Some(_) });
                if best.is_none() || has_fix {
                    best = Some(v);
                }
            }
        }
        if let Some(v) = best {
            return v;
        }
        let listed = self.versions.iter().any(|x| {
            x == installed_text || scheme.parse(x).ok().and_then(|p| p.partial_cmp(installed)) == Some(Ordering::Equal)
        });
        if listed {
            Verdict::Affected { fixed: None }
        } else {
            Verdict::NotAffected
        }
    }
}

/// The lookup form of a package name in an OSV ecosystem: PyPI names per PEP 503 (lowercase, runs of
/// `-_.` as one `-`), NuGet and Packagist names lowercased, others as they are.
pub fn normalize_name(ecosystem: &str, name: &str) -> String {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem);
    match base {
        "PyPI" => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.trim().chars() {
                if matches!(c, '-' | '_' | '.') {
                    sep = true;
                } else {
                    if sep && !out.is_empty() {
                        out.push('-');
                    }
                    sep = false;
                    out.extend(c.to_lowercase());
                }
            }
            out
        }
        "NuGet" | "Packagist" => name.trim().to_lowercase(),
        _ => name.trim().to_string(),
    }
}

/// The ecosystem name kestrel stores: OSV's, with Ubuntu's `:LTS` decoration removed so that a release is
/// one key (`Ubuntu:22.04`); Ubuntu Pro (ESM) stays apart (`Ubuntu:Pro:18.04`).
pub fn normalize_ecosystem(ecosystem: &str) -> String {
    let e = ecosystem.trim();
    if let Some(rest) = e.strip_prefix("Ubuntu:") {
        let release = rest.split(':').find(|p| p.chars().next().is_some_and(|c| c.is_ascii_digit()));
        let pro = rest.split(':').any(|p| p == "Pro");
        return match release {
            Some(r) if pro => format!("Ubuntu:Pro:{r}"),
            Some(r) => format!("Ubuntu:{r}"),
            None => e.to_string(),
        };
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(scheme: Scheme, ev: &[(&str, &str)]) -> Range {
        let events = ev
            .iter()
            .map(|(k, v)| match *k {
                "introduced" => Event::Introduced(v.to_string()),
                "fixed" => Event::Fixed(v.to_string()),
                "last_affected" => Event::LastAffected(v.to_string()),
                _ => Event::Limit(v.to_string()),
            })
            .collect();
        Range::validated(scheme, events).unwrap()
    }

    fn affected(r: &Range, scheme: Scheme, v: &str) -> Option<Option<String>> {
        match r.evaluate(scheme, &scheme.parse(v).unwrap()) {
            Verdict::Affected { fixed } => Some(fixed),
            Verdict::NotAffected => None,
        }
    }

    #[test]
    fn osv_range_semantics() {
        let s = Scheme::Pep440;
        let r = range(s, &[("introduced", "0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3.1")]);
        assert_eq!(affected(&r, s, "1.0"), Some(Some("1.2".into())));
        assert_eq!(affected(&r, s, "1.2"), None);
        assert_eq!(affected(&r, s, "1.9"), None);
        assert_eq!(affected(&r, s, "2.0"), Some(Some("2.3.1".into())));
        assert_eq!(affected(&r, s, "2.3.1"), None);
        // Events given out of order are sorted first.
        let r2 = range(s, &[("fixed", "2.3.1"), ("introduced", "2.0"), ("fixed", "1.2"), ("introduced", "0")]);
        assert_eq!(r, r2);
        // last_affected includes its version.
        let r = range(s, &[("introduced", "1.0"), ("last_affected", "1.4")]);
        assert_eq!(affected(&r, s, "1.4"), Some(None));
        assert_eq!(affected(&r, s, "1.4.1"), None);
        assert_eq!(affected(&r, s, "0.9"), None);
        // limit bounds from above.
        let r = range(s, &[("introduced", "0"), ("limit", "3.0")]);
        assert_eq!(affected(&r, s, "2.9"), Some(None));
        assert_eq!(affected(&r, s, "3.0"), None);
    }

    #[test]
    fn bad_event_versions_are_refused() {
        let err =
            Range::validated(Scheme::Deb, vec![Event::Introduced("0".into()), Event::Fixed("not a version".into())]);
        assert!(err.is_err());
    }

    #[test]
    fn names_and_ecosystems() {
        assert_eq!(normalize_name("PyPI", "Django_REST.framework"), "django-rest-framework");
        assert_eq!(normalize_name("npm", "@Babel/core"), "@Babel/core");
        assert_eq!(normalize_ecosystem("Ubuntu:22.04:LTS"), "Ubuntu:22.04");
        assert_eq!(normalize_ecosystem("Ubuntu:Pro:18.04:LTS"), "Ubuntu:Pro:18.04");
        assert_eq!(normalize_ecosystem("Debian:12"), "Debian:12");
    }
}
