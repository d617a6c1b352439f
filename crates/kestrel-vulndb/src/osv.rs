//! OSV records (<https://ossf.github.io/osv-schema/>): the raw JSON or YAML form, checked and turned into
//! [`Advisory`] values. Bad parts are dropped with a reason, never guessed at.

use crate::advisory::{
    normalize_ecosystem, normalize_name, Advisory, Affected, CvssVector, Event, Range, DETAILS_MAX, REFERENCES_MAX,
};
use crate::version::Scheme;
use serde::Deserialize;

#[derive(Deserialize)]
struct RawRecord {
    id: String,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    upstream: Option<Vec<String>>,
    #[serde(default)]
    related: Option<Vec<String>>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Option<Vec<RawSeverity>>,
    #[serde(default)]
    affected: Option<Vec<RawAffected>>,
    #[serde(default)]
    references: Option<Vec<RawReference>>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawReference {
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct RawPackage {
    #[serde(default)]
    ecosystem: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawAffected {
    #[serde(default)]
    package: Option<RawPackage>,
    #[serde(default)]
    severity: Option<Vec<RawSeverity>>,
    #[serde(default)]
    ranges: Option<Vec<RawRange>>,
    #[serde(default)]
    versions: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// What became of one record.
#[derive(Debug)]
pub enum Parsed {
    /// A usable advisory; `notes` name the parts that were dropped (a range that did not parse…).
    Advisory {
        /// The advisory.
        advisory: Box<Advisory>,
        /// What was dropped, and why.
        notes: Vec<String>,
    },
    /// The record is withdrawn: it must not match anything.
    Withdrawn(String),
    /// Nothing in it concerns an ecosystem kestrel matches (only `GIT` ranges, unknown ecosystems).
    Irrelevant(String),
}

/// Most events in one range, affected entries in one record, and versions listed for one package.
const MAX_EVENTS: usize = 1024;
const MAX_AFFECTED: usize = 20_000;
const MAX_VERSIONS: usize = 50_000;

/// Parses one OSV record (JSON, or YAML when `yaml`), labelling it with `source`.
pub fn parse_record(bytes: &[u8], yaml: bool, source: &str) -> Result<Parsed, String> {
    let raw: RawRecord = if yaml {
        serde_yaml::from_slice(bytes).map_err(|e| format!("not an OSV record: {e}"))?
    } else {
        serde_json::from_slice(bytes).map_err(|e| format!("not an OSV record: {e}"))?
    };
    convert(raw, source)
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn cvss_of(raw: Option<Vec<RawSeverity>>) -> Vec<CvssVector> {
    raw.unwrap_or_default()
        .into_iter()
        .filter(|s| s.kind.starts_with("CVSS_") && s.score.starts_with("CVSS:") || s.kind == "CVSS_V2")
        .map(|s| CvssVector { kind: s.kind, vector: s.score })
        .collect()
}

/// The severity word a source puts in `database_specific.severity` (GitHub: `HIGH`, `MODERATE`…) or, for
/// Red Hat-family advisories, at the head of the summary (`Important: openssl security update`).
fn source_severity(db: Option<&serde_json::Value>, summary: &str) -> Option<String> {
    if let Some(s) = db.and_then(|d| d.get("severity")).and_then(|s| s.as_str()) {
        return Some(s.to_string());
    }
    let head = summary.split(':').next()?.trim();
    matches!(head, "Critical" | "Important" | "Moderate" | "Low").then(|| head.to_string())
}

fn convert(raw: RawRecord, source: &str) -> Result<Parsed, String> {
    let id = raw.id.trim().to_string();
    if id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("invalid id {:?}", clip(&id, 40)));
    }
    if raw.withdrawn.as_deref().is_some_and(|w| !w.is_empty()) {
        return Ok(Parsed::Withdrawn(id));
    }
    let mut notes = Vec::new();
    let mut affected = Vec::new();
    let raw_affected = raw.affected.unwrap_or_default();
    if raw_affected.len() > MAX_AFFECTED {
        return Err(format!("{id}: {} affected entries (more than {MAX_AFFECTED})", raw_affected.len()));
    }
    for a in raw_affected {
        let Some(pkg) = a.package else { continue };
        let (Some(eco), Some(name)) = (pkg.ecosystem, pkg.name) else {
            notes.push(format!("{id}: affected entry without ecosystem or name"));
            continue;
        };
        let ecosystem = normalize_ecosystem(&eco);
        let Some(scheme) = Scheme::of_osv_ecosystem(&ecosystem) else { continue };
        let mut ranges = Vec::new();
        for r in a.ranges.unwrap_or_default() {
            match r.kind.as_str() {
                "SEMVER" | "ECOSYSTEM" => {}
                // Commit ranges name git commits, not versions: nothing in an image or lock file has them.
                "GIT" => continue,
                other => {
                    notes.push(format!("{id}: {name}: unknown range type {other:?} skipped"));
                    continue;
                }
            }
            if r.events.len() > MAX_EVENTS {
                notes.push(format!("{id}: {name}: range with {} events skipped", r.events.len()));
                continue;
            }
            let mut events = Vec::new();
            for e in &r.events {
                let get = |k: &str| e.get(k).and_then(|v| v.as_str()).map(str::to_string);
                let ev = if let Some(v) = get("introduced") {
                    Event::Introduced(v)
                } else if let Some(v) = get("fixed") {
                    Event::Fixed(v)
                } else if let Some(v) = get("last_affected") {
                    Event::LastAffected(v)
                } else if let Some(v) = get("limit") {
                    if v == "*" {
                        continue;
                    }
                    Event::Limit(v)
                } else {
                    notes.push(format!("{id}: {name}: event without a version skipped"));
                    continue;
                };
                events.push(ev);
            }
            if !events.iter().any(|e| matches!(e, Event::Introduced(_))) {
                notes.push(format!("{id}: {name}: range without an introduced event skipped"));
                continue;
            }
            // SEMVER ranges in Go records name versions without the `v`.
            match Range::validated(scheme, events) {
                Ok(r) => ranges.push(r),
                Err(e) => notes.push(format!("{id}: {name}: range skipped: {e}")),
            }
        }
        let mut versions = a.versions.unwrap_or_default();
        if versions.len() > MAX_VERSIONS {
            notes.push(format!("{id}: {name}: {} listed versions, only ranges kept", versions.len()));
            versions.clear();
        }
        if ranges.is_empty() && versions.is_empty() {
            continue;
        }
        affected.push(Affected {
            name: normalize_name(&ecosystem, &name),
            ecosystem,
            ranges,
            versions,
            cvss: cvss_of(a.severity),
            no_fix_reason: None,
        });
    }
    if affected.is_empty() {
        // Nothing usable left: when that is because parts were dropped, the record counts as skipped.
        if !notes.is_empty() {
            return Err(notes.join("; "));
        }
        return Ok(Parsed::Irrelevant(id));
    }
    let mut aliases: Vec<String> = raw
        .aliases
        .unwrap_or_default()
        .into_iter()
        .chain(raw.upstream.unwrap_or_default())
        .filter(|a| *a != id)
        .collect();
    aliases.sort();
    aliases.dedup();
    // Records without a summary (PyPA's) get the first line of their details.
    let summary = match raw.summary.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => clip(s, 400),
        None => clip(raw.details.as_deref().unwrap_or("").trim().lines().next().unwrap_or("").trim(), 160),
    };
    let advisory = Advisory {
        source_severity: source_severity(raw.database_specific.as_ref(), &summary),
        related: raw
            .related
            .unwrap_or_default()
            .into_iter()
            .filter(|r| *r != id && r.len() <= 128)
            .take(4096)
            .collect(),
        id,
        aliases,
        details: clip(raw.details.as_deref().unwrap_or("").trim(), DETAILS_MAX),
        summary,
        published: raw.published,
        modified: raw.modified,
        cvss: cvss_of(raw.severity),
        references: raw.references.unwrap_or_default().into_iter().filter_map(|r| r.url).take(REFERENCES_MAX).collect(),
        source: source.to_string(),
        affected,
    };
    Ok(Parsed::Advisory { advisory: Box::new(advisory), notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_pypi_record() {
        let json = br#"{"id":"PYSEC-2023-1","aliases":["CVE-2023-1","GHSA-aaaa-bbbb-cccc"],"summary":"x",
            "affected":[{"package":{"ecosystem":"PyPI","name":"Django_X"},
              "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2"}]},
                        {"type":"GIT","repo":"r","events":[{"introduced":"abc"}]}],
              "versions":["1.0","1.1"]}],
            "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}"#;
        let Parsed::Advisory { advisory, notes } = parse_record(json, false, "osv:PyPI").unwrap() else { panic!() };
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(advisory.affected[0].name, "django-x");
        assert_eq!(advisory.affected[0].ranges.len(), 1);
        assert_eq!(advisory.aliases, ["CVE-2023-1", "GHSA-aaaa-bbbb-cccc"]);
        assert_eq!(advisory.cvss.len(), 1);
    }

    #[test]
    fn bad_parts_are_dropped_with_a_note() {
        let json = br#"{"id":"X-1","affected":[
            {"package":{"ecosystem":"Debian:12","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"%%%"}]}]},
            {"package":{"ecosystem":"Debian:12","name":"b"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0-1"}]}]}]}"#;
        let Parsed::Advisory { advisory, notes } = parse_record(json, false, "t").unwrap() else { panic!() };
        assert_eq!(advisory.affected.len(), 1);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("X-1: a: range skipped"), "{notes:?}");
    }

    #[test]
    fn withdrawn_and_garbage() {
        let w = br#"{"id":"X-2","withdrawn":"2024-01-01T00:00:00Z","affected":[]}"#;
        assert!(matches!(parse_record(w, false, "t").unwrap(), Parsed::Withdrawn(_)));
        assert!(parse_record(b"{", false, "t").is_err());
        assert!(parse_record(b"[]", false, "t").is_err());
        assert!(parse_record(br#"{"id":""}"#, false, "t").is_err());
        let yaml = b"id: PYSEC-1\naffected:\n- package: {ecosystem: PyPI, name: a}\n  versions: ['1.0']\n";
        assert!(matches!(parse_record(yaml, true, "t").unwrap(), Parsed::Advisory { .. }));
    }
}
