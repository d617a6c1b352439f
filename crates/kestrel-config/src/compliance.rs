//! Compliance: the findings of a scan held against a standard's controls — each control passes (its checks ran
//! on what was scanned and found nothing), fails (with the findings as evidence), needs a person (no automated
//! check: manual) or was not evaluated (its checks apply to inputs the scan did not have).
//!
//! Specs are data (`crates/kestrel-config/specs/*.yaml`, built in): a control's checks are the catalogue's
//! checks that name it (every check lists the controls it maps to), plus any check globs the spec adds.

use crate::checks::Check;
use crate::yaml;
use kestrel_core::ConfigFinding;
pub use kestrel_core::{ComplianceReport, ComplianceSummary, ControlResult, ControlStatus, COMPLIANCE_SCHEMA};
use serde::{Deserialize, Serialize};

/// A control of a spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Control {
    /// Its id in the standard (`5.2.2`, `restricted:runAsNonRoot`, `164.312(a)(1)`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Check ids (globs) beyond those the catalogue maps to it.
    #[serde(default)]
    pub checks: Vec<String>,
    /// What a person must check, when no check can.
    #[serde(default)]
    pub manual: Option<String>,
}

/// A compliance spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Spec {
    /// `cis-k8s-1.9`.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The standard the catalogue's control references use.
    pub standard: String,
    /// Its controls.
    pub controls: Vec<Control>,
}

const BUILT_IN: &[(&str, &str)] = &[
    ("cis-docker-1.6", include_str!("../specs/cis-docker-1.6.yaml")),
    ("cis-k8s-1.9", include_str!("../specs/cis-k8s-1.9.yaml")),
    ("pss-restricted", include_str!("../specs/pss-restricted.yaml")),
    ("nsa-cisa-1.0", include_str!("../specs/nsa-cisa-1.0.yaml")),
    ("nist-800-190", include_str!("../specs/nist-800-190.yaml")),
    ("pci-dss-4.0", include_str!("../specs/pci-dss-4.0.yaml")),
    ("hipaa", include_str!("../specs/hipaa.yaml")),
];

/// The built-in specs' ids.
pub fn spec_ids() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(id, _)| *id).collect()
}

/// Reads a spec (YAML or JSON).
pub fn parse_spec(name: &str, text: &str) -> Result<Spec, String> {
    let docs = yaml::parse(text, yaml::Limits::default()).map_err(|e| format!("{name}: {e}"))?;
    let v = docs.into_iter().next().map(|d| d.value).ok_or_else(|| format!("{name}: empty"))?;
    serde_json::from_value(v).map_err(|e| format!("{name}: {e}"))
}

/// A built-in spec by id, or a spec file.
pub fn spec(name: &str) -> Result<Spec, String> {
    if let Some((_, text)) = BUILT_IN.iter().find(|(id, _)| *id == name) {
        return parse_spec(name, text);
    }
    let bytes = crate::read_at_most(std::path::Path::new(name), MAX_SPEC_BYTES)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{name}: not a built-in spec ({}) nor a file", spec_ids().join(", "))
            }
            _ => format!("{name}: {e}"),
        })?
        .ok_or_else(|| format!("{name}: larger than {} MiB, more than a spec", MAX_SPEC_BYTES >> 20))?;
    let text =
        String::from_utf8(bytes).map_err(|e| format!("{name}: not UTF-8 (byte {})", e.utf8_error().valid_up_to()))?;
    parse_spec(name, &text)
}

/// The largest spec file read (the built-in ones are 10–40 kB).
const MAX_SPEC_BYTES: u64 = 4 << 20;

/// The family of a check id (`pss`, `k8s`, `dockerfile`, `image`, `docker-daemon`, `vuln`): which input kind
/// it applies to.
pub fn family(check: &str) -> &str {
    check.split(':').next().unwrap_or(check)
}

/// The input kinds each family needs: Kubernetes objects for `pss` and `k8s`, and so on.
fn kind_of(family: &str) -> &str {
    match family {
        "pss" | "k8s" => "kubernetes",
        other => other,
    }
}

/// Holds findings against a spec. `catalogue` is every check that could have run; `kinds` the input kinds the
/// scan had (`kubernetes`, `dockerfile`, `image`, `docker-daemon`, `vuln`); `scope` describes them.
pub fn evaluate(
    spec: &Spec,
    catalogue: &[Check],
    findings: &[ConfigFinding],
    kinds: &[String],
    scope: &str,
    generated: &str,
) -> ComplianceReport {
    let mut controls = Vec::new();
    let mut summary = ComplianceSummary::default();
    for c in &spec.controls {
        let mut checks: Vec<String> = catalogue
            .iter()
            .filter(|k| k.controls.iter().any(|r| r.standard == spec.standard && r.control == c.id))
            .map(|k| k.id.clone())
            .collect();
        for g in &c.checks {
            let matched: Vec<String> =
                catalogue.iter().filter(|k| kestrel_core::glob(g, &k.id)).map(|k| k.id.clone()).collect();
            if matched.is_empty() {
                checks.push(g.clone());
            }
            checks.extend(matched);
        }
        checks.sort();
        checks.dedup();
        // A finding fails the controls it names (one check can name several: hostPID and hostIPC are one
        // Pod Security check but two CIS items, and each finding names only its own), and those whose spec
        // lists its check.
        let hits: Vec<ConfigFinding> = findings
            .iter()
            .filter(|f| {
                f.controls.iter().any(|r| r.standard == spec.standard && r.control == c.id)
                    || c.checks.iter().any(|g| kestrel_core::glob(g, &f.id))
            })
            .cloned()
            .collect();
        let evaluated: Vec<&String> =
            checks.iter().filter(|k| kinds.iter().any(|kind| kind == kind_of(family(k)))).collect();
        let (status, evidence) = if !hits.is_empty() {
            let mut where_: Vec<String> = hits
                .iter()
                .take(5)
                .map(|f| {
                    format!("{} {}{}: {}", f.id, f.file, f.line.map(|l| format!(":{l}")).unwrap_or_default(), f.message)
                })
                .collect();
            if hits.len() > 5 {
                where_.push(format!("and {} more", hits.len() - 5));
            }
            (ControlStatus::Fail, format!("{}: {}", kestrel_core::counted(hits.len(), "finding"), where_.join("; ")))
        } else if checks.is_empty() {
            (ControlStatus::Manual, c.manual.clone().unwrap_or_else(|| "no automated check: review by hand".into()))
        } else if evaluated.is_empty() {
            let needs: Vec<&str> = {
                let mut v: Vec<&str> = checks.iter().map(|k| kind_of(family(k))).collect();
                v.sort();
                v.dedup();
                v
            };
            (
                ControlStatus::NotEvaluated,
                format!("its checks need {} input, and the scan had none", needs.join(" or ")),
            )
        } else {
            (
                ControlStatus::Pass,
                format!("{} ran over {scope}: no finding", kestrel_core::counted(evaluated.len(), "check")),
            )
        };
        match status {
            ControlStatus::Pass => summary.pass += 1,
            ControlStatus::Fail => summary.fail += 1,
            ControlStatus::Manual => summary.manual += 1,
            ControlStatus::NotEvaluated => summary.not_evaluated += 1,
        }
        controls.push(ControlResult {
            id: c.id.clone(),
            title: c.title.clone(),
            status,
            checks,
            evidence,
            findings: hits,
        });
    }
    ComplianceReport {
        schema: COMPLIANCE_SCHEMA.into(),
        spec: spec.id.clone(),
        title: spec.title.clone(),
        generated: generated.into(),
        scope: scope.into(),
        summary,
        controls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_file_is_read_bounded_and_its_error_says_why() {
        let e = spec("/nonexistent/spec.yaml").unwrap_err();
        assert!(
            e.starts_with("/nonexistent/spec.yaml: not a built-in spec (cis-docker-1.6,") && e.ends_with("nor a file")
        );
        // An endless input (a device, a pipe) is cut at the limit instead of filling memory.
        assert_eq!(spec("/dev/zero").unwrap_err(), "/dev/zero: larger than 4 MiB, more than a spec");
        let e = spec("/").unwrap_err();
        assert!(e.starts_with("/: ") && e.contains("directory"), "{e}");
    }

    #[test]
    fn every_built_in_spec_parses_and_every_automated_control_has_a_check() {
        let catalogue = crate::checks::everything();
        for id in spec_ids() {
            let s = spec(id).unwrap();
            assert!(!s.controls.is_empty(), "{id}");
            let r = evaluate(
                &s,
                &catalogue,
                &[],
                &["kubernetes".into(), "dockerfile".into(), "image".into(), "docker-daemon".into(), "vuln".into()],
                "everything",
                "now",
            );
            for c in &r.controls {
                // With every input kind present and no finding, a control is either passed or manual: a
                // control that names no check and no manual step is a mistake in the spec.
                assert!(
                    matches!(c.status, ControlStatus::Pass | ControlStatus::Manual),
                    "{id} {}: {:?} {:?}",
                    c.id,
                    c.status,
                    c.checks
                );
                if c.status == ControlStatus::Manual {
                    let spec_c = s.controls.iter().find(|x| x.id == c.id).unwrap();
                    assert!(
                        spec_c.manual.is_some(),
                        "{id} {}: no check maps to it and it says nothing to check by hand",
                        c.id
                    );
                }
            }
        }
    }
}
