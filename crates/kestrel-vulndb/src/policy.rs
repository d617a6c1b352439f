//! What a team decided about findings: an ignore file (each entry with a reason, optionally an expiry
//! date and a package), and OpenVEX documents (`not_affected` and `fixed` statements suppress findings).
//!
//! ```yaml
//! # .kestrelignore.yaml
//! ignore:
//!   - id: CVE-2023-4863
//!     package: pkg:deb/debian/libwebp7     # optional: a name, or a purl (prefix, without version)
//!     reason: the image never decodes WebP from users
//!     expires: 2027-01-31                  # optional: the entry stops applying after this day
//! ```

use kestrel_core::{Finding, Report, Suppressed};
use serde::Deserialize;
use std::path::Path;

/// Largest ignore file or VEX document read.
pub const MAX_POLICY_BYTES: u64 = 16 << 20;

/// One entry of an ignore file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IgnoreEntry {
    /// The finding id or any of its aliases (`CVE-…`, `GHSA-…`, `eol:debian-11`).
    pub id: String,
    /// Only for this package: its name, or a purl (compared without version and qualifiers unless given).
    #[serde(default)]
    pub package: Option<String>,
    /// Why (required: an ignore without a reason is refused).
    pub reason: String,
    /// `YYYY-MM-DD`: after this day the entry no longer applies (and a warning says so).
    #[serde(default)]
    pub expires: Option<String>,
}

/// An ignore file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IgnoreFile {
    /// Entries.
    #[serde(default)]
    pub ignore: Vec<IgnoreEntry>,
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let bytes = crate::import::read_bounded(path, MAX_POLICY_BYTES).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))
}

fn valid_date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

impl IgnoreFile {
    /// Reads and checks an ignore file: every entry needs an id and a reason, and dates are `YYYY-MM-DD`.
    pub fn load(path: &Path) -> Result<IgnoreFile, String> {
        let text = read_bounded(path)?;
        let f: IgnoreFile = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for (i, e) in f.ignore.iter().enumerate() {
            if e.id.trim().is_empty() {
                return Err(format!("{}: entry {}: empty id", path.display(), i + 1));
            }
            if e.reason.trim().is_empty() {
                return Err(format!("{}: entry {} ({}): a reason is required", path.display(), i + 1, e.id));
            }
            if let Some(d) = &e.expires {
                if !valid_date(d) {
                    return Err(format!(
                        "{}: entry {} ({}): expires {d:?} is not YYYY-MM-DD",
                        path.display(),
                        i + 1,
                        e.id
                    ));
                }
            }
        }
        Ok(f)
    }
}

/// A purl without version, qualifiers and subpath (`pkg:deb/debian/openssl`).
fn purl_base(p: &str) -> &str {
    let end = p.find(['@', '?', '#']).unwrap_or(p.len());
    &p[..end]
}

fn package_matches(want: &str, f: &Finding) -> bool {
    let Some(v) = f.as_vulnerability() else { return false };
    if want.starts_with("pkg:") {
        if want.contains('@') {
            // A versioned purl names one version: compare without qualifiers.
            let strip = |p: &str| p.split(['?', '#']).next().unwrap_or(p).to_string();
            return strip(want) == strip(&v.purl);
        }
        return purl_base(want) == purl_base(&v.purl);
    }
    want == v.package
}

fn ids_of(f: &Finding) -> Vec<String> {
    match f.as_vulnerability() {
        Some(v) => std::iter::once(v.id.clone()).chain(v.aliases.iter().cloned()).collect(),
        None => vec![f.id()],
    }
}

/// Applies an ignore file: matching findings move to `report.suppressed`. Returns warnings about expired
/// entries and entries that matched nothing.
pub fn apply_ignores(report: &mut Report, file: &IgnoreFile, source: &str, today: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut used = vec![false; file.ignore.len()];
    let findings = std::mem::take(&mut report.findings);
    for f in findings {
        let ids = ids_of(&f);
        let hit = file.ignore.iter().enumerate().find(|(_, e)| {
            ids.iter().any(|i| i.eq_ignore_ascii_case(&e.id))
                && e.package.as_deref().is_none_or(|p| package_matches(p, &f))
                && e.expires.as_deref().is_none_or(|d| today <= d)
        });
        match hit {
            Some((i, e)) => {
                used[i] = true;
                let until = e.expires.as_deref().map(|d| format!(" (until {d})")).unwrap_or_default();
                report.suppressed.push(Suppressed {
                    id: f.id(),
                    purl: f.as_vulnerability().map(|v| v.purl.clone()),
                    reason: format!("{source}: {}{until}", e.reason),
                });
            }
            None => report.findings.push(f),
        }
    }
    for (i, e) in file.ignore.iter().enumerate() {
        if let Some(d) = e.expires.as_deref().filter(|d| today > *d) {
            warnings.push(format!("{source}: ignore entry for {} expired on {d}; it no longer applies", e.id));
        } else if !used[i] {
            warnings.push(format!("{source}: ignore entry for {} matched no finding", e.id));
        }
    }
    warnings
}

#[derive(Deserialize)]
struct VexDoc {
    #[serde(default)]
    statements: Vec<VexStatement>,
}

#[derive(Deserialize)]
struct VexStatement {
    vulnerability: VexVuln,
    #[serde(default)]
    products: Vec<VexProduct>,
    status: String,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum VexVuln {
    Name(String),
    Object {
        #[serde(default)]
        name: Option<String>,
        #[serde(default, rename = "@id")]
        id: Option<String>,
        #[serde(default)]
        aliases: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum VexProduct {
    Id(String),
    Object {
        #[serde(default, rename = "@id")]
        id: Option<String>,
        #[serde(default)]
        identifiers: Option<VexIdentifiers>,
        #[serde(default)]
        subcomponents: Vec<VexProduct>,
    },
}

#[derive(Deserialize)]
struct VexIdentifiers {
    #[serde(default)]
    purl: Option<String>,
}

/// A statement that a vulnerability does not concern some products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexRule {
    /// Vulnerability ids the statement names.
    pub ids: Vec<String>,
    /// Product purls (empty: every product).
    pub purls: Vec<String>,
    /// `not_affected` or `fixed`.
    pub status: String,
    /// Justification or impact statement.
    pub why: String,
}

fn collect_purls(p: &VexProduct, out: &mut Vec<String>) {
    match p {
        VexProduct::Id(s) => {
            if s.starts_with("pkg:") {
                out.push(s.clone());
            }
        }
        VexProduct::Object { id, identifiers, subcomponents } => {
            // A product with subcomponents (an image and the packages in it): the subcomponents are what
            // the statement is about.
            if subcomponents.is_empty() {
                if let Some(p) = identifiers.as_ref().and_then(|i| i.purl.clone()) {
                    out.push(p);
                } else if let Some(s) = id.as_ref().filter(|s| s.starts_with("pkg:")) {
                    out.push(s.clone());
                }
            }
            for s in subcomponents {
                collect_purls(s, out);
            }
        }
    }
}

/// Reads an OpenVEX document: the `not_affected` and `fixed` statements.
pub fn load_vex(path: &Path) -> Result<Vec<VexRule>, String> {
    let text = read_bounded(path)?;
    let doc: VexDoc =
        serde_json::from_str(&text).map_err(|e| format!("{}: not an OpenVEX document: {e}", path.display()))?;
    let mut rules = Vec::new();
    for s in doc.statements {
        if s.status != "not_affected" && s.status != "fixed" {
            continue;
        }
        let ids = match s.vulnerability {
            VexVuln::Name(n) => vec![n],
            VexVuln::Object { name, id, aliases } => name.into_iter().chain(id).chain(aliases).collect(),
        };
        let mut purls = Vec::new();
        for p in &s.products {
            collect_purls(p, &mut purls);
        }
        let why = s.justification.or(s.impact_statement).unwrap_or_default();
        rules.push(VexRule { ids, purls, status: s.status, why });
    }
    Ok(rules)
}

/// Applies VEX rules: matching package findings move to `report.suppressed`.
pub fn apply_vex(report: &mut Report, rules: &[VexRule], source: &str) {
    let findings = std::mem::take(&mut report.findings);
    for f in findings {
        let ids = ids_of(&f);
        let hit = f.as_vulnerability().and_then(|_| {
            rules.iter().find(|r| {
                r.ids.iter().any(|i| ids.iter().any(|x| x.eq_ignore_ascii_case(i)))
                    && (r.purls.is_empty() || r.purls.iter().any(|p| package_matches(p, &f)))
            })
        });
        match hit {
            Some(r) => report.suppressed.push(Suppressed {
                id: f.id(),
                purl: f.as_vulnerability().map(|v| v.purl.clone()),
                reason: format!(
                    "{source}: VEX {}{}",
                    r.status,
                    if r.why.is_empty() { String::new() } else { format!(" ({})", r.why) }
                ),
            }),
            None => report.findings.push(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kestrel_core::*;

    fn report() -> Report {
        let v = |id: &str, aliases: &[&str], pkg: &str, purl: &str| {
            Finding::Vulnerability(VulnerabilityFinding {
                id: id.into(),
                aliases: aliases.iter().map(|s| s.to_string()).collect(),
                package: pkg.into(),
                version: "1.0".into(),
                ecosystem: Ecosystem::Deb,
                purl: purl.into(),
                matched: String::new(),
                state: FixState::Fixed,
                fixed_version: Some("1.1".into()),
                severity: Severity::High,
                severity_source: String::new(),
                cvss: None,
                summary: String::new(),
                published: None,
                sources: vec![],
                references: vec![],
                known_exploited: false,
                locations: vec![],
                layer: None,
                risk: Risk::default(),
            })
        };
        Report {
            sbom: Sbom {
                schema: REPORT_SCHEMA.into(),
                tool: Tool { name: "kestrel".into(), version: "0".into() },
                created: String::new(),
                target: ScanTarget::unlayered(TargetKind::Directory, "."),
                distro: None,
                packages: vec![],
                warnings: vec![],
            },
            findings: vec![
                v("CVE-1", &["GHSA-1"], "openssl", "pkg:deb/debian/openssl@1.0?arch=amd64"),
                v("CVE-1", &[], "libssl3", "pkg:deb/debian/libssl3@1.0?arch=amd64"),
                v("CVE-2", &[], "zlib", "pkg:deb/debian/zlib@1.0"),
            ],
            suppressed: vec![],
            database: None,
            secrets: Vec::new(),
        }
    }

    #[test]
    fn ignore_file_entries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("i.yaml");
        std::fs::write(
            &p,
            "ignore:\n  - id: ghsa-1\n    package: pkg:deb/debian/openssl\n    reason: not reachable\n    expires: 2027-01-01\n  - id: CVE-2\n    reason: old\n    expires: 2020-01-01\n  - id: CVE-9\n    reason: nothing\n",
        )
        .unwrap();
        let f = IgnoreFile::load(&p).unwrap();
        let mut r = report();
        let w = apply_ignores(&mut r, &f, "i.yaml", "2026-11-24");
        assert_eq!(r.findings.len(), 2, "only openssl's CVE-1 is ignored");
        assert_eq!(r.suppressed[0].reason, "i.yaml: not reachable (until 2027-01-01)");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("expired on 2020-01-01"));
        assert!(w[1].contains("CVE-9 matched no finding"));
        std::fs::write(&p, "ignore:\n  - id: CVE-1\n    reason: ''\n").unwrap();
        assert!(IgnoreFile::load(&p).unwrap_err().contains("a reason is required"));
        std::fs::write(&p, "ignore:\n  - id: CVE-1\n    reason: x\n    expires: soon\n").unwrap();
        assert!(IgnoreFile::load(&p).unwrap_err().contains("not YYYY-MM-DD"));
        std::fs::write(&p, "ignore:\n  - id: CVE-1\n    reason: x\n    typo: 1\n").unwrap();
        assert!(IgnoreFile::load(&p).unwrap_err().contains("typo"));
    }

    #[test]
    fn openvex_statements() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.json");
        std::fs::write(
            &p,
            r#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"a","timestamp":"2026-01-01T00:00:00Z","version":1,
            "statements":[
              {"vulnerability":{"name":"CVE-1"},"products":[{"@id":"pkg:oci/app","subcomponents":[{"@id":"pkg:deb/debian/libssl3"}]}],
               "status":"not_affected","justification":"vulnerable_code_not_in_execute_path"},
              {"vulnerability":{"name":"CVE-2"},"products":[{"@id":"pkg:deb/debian/zlib@1.0"}],"status":"affected"}
            ]}"#,
        )
        .unwrap();
        let rules = load_vex(&p).unwrap();
        assert_eq!(rules.len(), 1);
        let mut r = report();
        apply_vex(&mut r, &rules, "v.json");
        assert_eq!(r.findings.len(), 2);
        assert_eq!(r.suppressed[0].purl.as_deref(), Some("pkg:deb/debian/libssl3@1.0?arch=amd64"));
        assert!(r.suppressed[0].reason.contains("not_affected (vulnerable_code_not_in_execute_path)"));
        std::fs::write(&p, "[1,2]").unwrap();
        assert!(load_vex(&p).unwrap_err().contains("not an OpenVEX document"));
    }
}
