//! Writers over a [`Report`] (an inventory with findings): a findings table, kestrel's JSON, CycloneDX 1.5 with
//! its `vulnerabilities` section, SARIF 2.1.0 for code-scanning dashboards, and SPDX (the inventory alone: SPDX
//! 2.3 has no place for vulnerabilities).

use crate::cyclonedx::document;
use crate::{Format, SbomWriter, SpdxWriter};
use comfy_table::Cell;
use kestrel_core::{Finding, Report, Severity, VulnerabilityFinding};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Writes `report` in `format`; `width` wraps the table (None: unwrapped).
pub fn write_report(report: &Report, format: Format, width: Option<u16>, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table(report, width, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            out.write_all(b"\n")
        }
        Format::CycloneDx => {
            serde_json::to_writer_pretty(&mut *out, &cyclonedx(report))?;
            out.write_all(b"\n")
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &sarif(report))?;
            out.write_all(b"\n")
        }
        Format::Spdx => SpdxWriter.write(&report.sbom, out),
    }
}

fn counts_line(report: &Report) -> String {
    let counts = report.severity_counts();
    let parts: Vec<String> = Severity::ALL.iter().filter_map(|s| counts.get(s).map(|n| format!("{s} {n}"))).collect();
    if parts.is_empty() {
        "0".into()
    } else {
        format!("{} ({})", report.findings.len(), parts.join(", "))
    }
}

fn table(report: &Report, width: Option<u16>, out: &mut dyn Write) -> io::Result<()> {
    let sbom = &report.sbom;
    writeln!(out, "Target:   {}", sbom.target.name)?;
    match &sbom.distro {
        Some(d) => writeln!(out, "OS:       {}", d.pretty_name.clone().unwrap_or_else(|| d.release_tag()))?,
        None => writeln!(out, "OS:       none detected")?,
    }
    writeln!(out, "Packages: {}", sbom.packages.len())?;
    if let Some(db) = &report.database {
        writeln!(
            out,
            "Database: {} (built {}; {})",
            db.path,
            db.built_at.as_deref().map_or("?".into(), kestrel_core::to_the_second),
            if db.sources.is_empty() { "no sources".into() } else { db.sources.join(", ") }
        )?;
    }
    writeln!(out, "Findings: {}", counts_line(report))?;
    if !report.suppressed.is_empty() {
        writeln!(out, "Suppressed: {} (listed in the JSON report with their reasons)", report.suppressed.len())?;
    }
    for f in &report.findings {
        if let Finding::EndOfLife(e) = f {
            writeln!(out, "\n!! {} is past its end of life: {} on {}.", e.name, e.support, e.eol_date)?;
        }
    }
    let vulns: Vec<(&Finding, &VulnerabilityFinding)> =
        report.findings.iter().filter_map(|f| f.as_vulnerability().map(|v| (f, v))).collect();
    if vulns.is_empty() {
        writeln!(out, "\nNo vulnerable packages found.")?;
    } else {
        writeln!(out)?;
        let mut t = crate::table::plain_table(width);
        t.set_header(vec!["RISK", "SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED IN", "SUMMARY"]);
        for (f, v) in vulns {
            let id = match f {
                Finding::MaliciousPackage(_) => format!("{} (MALICIOUS)", v.id),
                _ if v.known_exploited => format!("{} (KEV)", v.id),
                _ => v.id.clone(),
            };
            let fixed = match &v.fixed_version {
                Some(x) => x.clone(),
                None => format!("({})", v.state.as_str()),
            };
            let mut summary: String = v.summary.chars().take(80).collect();
            if v.summary.chars().count() > 80 {
                summary.push('…');
            }
            t.add_row(vec![
                Cell::new(v.risk.score),
                Cell::new(v.severity),
                Cell::new(id),
                Cell::new(&v.package),
                Cell::new(&v.version),
                Cell::new(fixed),
                Cell::new(summary),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    if !report.secrets.is_empty() {
        writeln!(out, "\nSecrets: {} (hardcoded credentials, redacted)", report.secrets.len())?;
        let mut t = crate::table::plain_table(width);
        t.set_header(vec!["SEVERITY", "RULE", "FILE", "LAYER", "SECRET"]);
        for f in &report.secrets {
            t.add_row(vec![
                Cell::new(f.severity),
                Cell::new(&f.rule),
                Cell::new(format!("{}:{}", f.file, f.line)),
                Cell::new(f.layer.as_deref().unwrap_or("")),
                Cell::new(&f.redacted),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    if !sbom.warnings.is_empty() {
        writeln!(out, "\n{}:", kestrel_core::counted(sbom.warnings.len(), "warning"))?;
        for w in sbom.warnings.iter().take(20) {
            writeln!(out, "  {}: {}", w.path, w.message)?;
        }
        if sbom.warnings.len() > 20 {
            writeln!(out, "  … {} more in the JSON report", sbom.warnings.len() - 20)?;
        }
    }
    Ok(())
}

fn cdx_severity(s: Severity) -> &'static str {
    match s {
        Severity::Unknown => "unknown",
        s => s.as_str(),
    }
}

fn cdx_method(version: &str) -> &'static str {
    match version {
        "3.1" => "CVSSv31",
        "3.0" => "CVSSv3",
        "4.0" => "CVSSv4",
        "2.0" => "CVSSv2",
        _ => "other",
    }
}

/// CycloneDX 1.5 with a `vulnerabilities` entry per finding id, each listing the components it affects.
pub fn cyclonedx(report: &Report) -> Value {
    let (mut doc, refs) = document(&report.sbom);
    // One entry per vulnerability id; the packages it affects are listed in `affects`.
    let mut by_id: BTreeMap<String, (Value, Vec<Value>)> = BTreeMap::new();
    for f in &report.findings {
        let Some(v) = f.as_vulnerability() else { continue };
        let target = refs.get(&v.purl).cloned().unwrap_or_else(|| v.purl.clone());
        let entry = by_id.entry(v.id.clone()).or_insert_with(|| {
            let mut rating = json!({"severity": cdx_severity(v.severity), "source": {"name": v.severity_source}});
            if let Some(c) = &v.cvss {
                rating["score"] = json!(c.score);
                rating["method"] = json!(cdx_method(&c.version));
                rating["vector"] = json!(c.vector);
            }
            let mut vuln = json!({
                "bom-ref": format!("vuln:{}", v.id),
                "id": v.id,
                "source": {"name": v.sources.first().cloned().unwrap_or_default()},
                "ratings": [rating],
                "properties": [
                    {"name": "kestrel:risk", "value": v.risk.score.to_string()},
                    {"name": "kestrel:risk-reasons", "value": v.risk.reasons.join("; ")},
                ],
            });
            if !v.aliases.is_empty() {
                vuln["references"] = Value::Array(
                    v.aliases.iter().map(|a| json!({"id": a, "source": {"name": id_source(a)}})).collect(),
                );
            }
            if !v.summary.is_empty() {
                vuln["description"] = json!(v.summary);
            }
            if let Some(p) = &v.published {
                vuln["published"] = json!(p);
            }
            if !v.references.is_empty() {
                vuln["advisories"] = Value::Array(v.references.iter().map(|u| json!({"url": u})).collect());
            }
            if let Some(fx) = &v.fixed_version {
                vuln["recommendation"] = json!(format!("Upgrade {} to {fx}", v.package));
            }
            if matches!(f, Finding::MaliciousPackage(_)) {
                vuln["recommendation"] = json!(format!("Remove {}: it is a malicious package", v.package));
            }
            (vuln, Vec::new())
        });
        let mut affect = json!({"ref": target, "versions": [{"version": v.version, "status": "affected"}]});
        if affect["ref"].as_str().is_none_or(str::is_empty) {
            affect["ref"] = json!(v.purl);
        }
        if !entry.1.iter().any(|a| a == &affect) {
            entry.1.push(affect);
        }
    }
    let vulns: Vec<Value> = by_id
        .into_values()
        .map(|(mut v, affects)| {
            v["affects"] = Value::Array(affects);
            v
        })
        .collect();
    if !vulns.is_empty() {
        doc["vulnerabilities"] = Value::Array(vulns);
    }
    doc
}

fn id_source(id: &str) -> &'static str {
    match id.split('-').next().unwrap_or("") {
        "CVE" => "NVD",
        "GHSA" => "GitHub Advisory Database",
        "PYSEC" => "PyPI Advisory Database",
        "GO" => "Go Vulnerability Database",
        "RUSTSEC" => "RustSec",
        "DSA" | "DLA" | "DEBIAN" => "Debian Security Tracker",
        "ALSA" => "AlmaLinux",
        "RLSA" => "Rocky Linux",
        "USN" => "Ubuntu",
        "MAL" => "OpenSSF Malicious Packages",
        _ => "OSV",
    }
}

/// `security-severity` for code-scanning dashboards: the CVSS score, or the middle of the severity's band.
fn security_severity(v: &VulnerabilityFinding) -> String {
    match &v.cvss {
        Some(c) => format!("{:.1}", c.score),
        None => severity_band(v.severity).to_string(),
    }
}

/// The middle of a severity's CVSS band, as SARIF's `security-severity`.
pub(crate) fn severity_band(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Unknown => "0.0",
    }
}

/// SARIF's `level` of a severity.
pub(crate) fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown => "note",
    }
}

/// Paths inside an image as relative URIs (SARIF consumers resolve them against the scanned root).
fn uri(path: &str) -> String {
    let p = path.trim_start_matches('/');
    if p.is_empty() {
        ".".into()
    } else {
        p.to_string()
    }
}

/// SARIF 2.1.0: one rule per vulnerability id, one result per affected package.
pub fn sarif(report: &Report) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut results = Vec::new();
    for f in &report.findings {
        match f {
            Finding::Vulnerability(v) | Finding::MaliciousPackage(v) => {
                let idx = *rule_index.entry(v.id.clone()).or_insert_with(|| {
                    let short = if v.summary.is_empty() { v.id.clone() } else { v.summary.clone() };
                    let mut help = format!("{}\n\nSeverity: {} ({})", short, v.severity, v.severity_source);
                    if !v.aliases.is_empty() {
                        help.push_str(&format!("\nAliases: {}", v.aliases.join(", ")));
                    }
                    for r in &v.references {
                        help.push_str(&format!("\n{r}"));
                    }
                    let mut rule = json!({
                        "id": v.id,
                        "name": v.id.replace(['-', ':'], ""),
                        "shortDescription": {"text": short},
                        "fullDescription": {"text": short},
                        "help": {"text": help},
                        "defaultConfiguration": {"level": level(v.severity)},
                        "properties": {
                            "security-severity": security_severity(v),
                            "tags": ["security", "vulnerability", v.severity.as_str()],
                        },
                    });
                    if let Some(u) = v.references.first() {
                        rule["helpUri"] = json!(u);
                    }
                    rules.push(rule);
                    rules.len() - 1
                });
                let fix = match (&v.fixed_version, f) {
                    (_, Finding::MaliciousPackage(_)) => "it is a malicious package: remove it".to_string(),
                    (Some(x), _) => format!("fixed in {x}"),
                    (None, _) => format!("no fix ({})", v.state.as_str()),
                };
                let locations: Vec<Value> = v
                    .locations
                    .iter()
                    .take(10)
                    .map(|l| json!({"physicalLocation": {"artifactLocation": {"uri": uri(&l.path)}}}))
                    .collect();
                let mut result = json!({
                    "ruleId": v.id,
                    "ruleIndex": idx,
                    "level": level(v.severity),
                    "message": {"text": format!("{} {} ({}) is affected by {}: {}. Risk {}/100: {}.",
                        v.package, v.version, v.ecosystem, v.id, fix, v.risk.score, v.risk.reasons.join("; "))},
                    "partialFingerprints": {"kestrel/v1": format!("{}|{}", v.id, v.purl)},
                    "properties": {"purl": v.purl, "risk": v.risk.score, "state": v.state.as_str()},
                });
                if !locations.is_empty() {
                    result["locations"] = Value::Array(locations);
                }
                results.push(result);
            }
            Finding::EndOfLife(e) => {
                let id = f.id();
                let idx = *rule_index.entry(id.clone()).or_insert_with(|| {
                    rules.push(json!({
                        "id": id,
                        "name": "EndOfLifeOperatingSystem",
                        "shortDescription": {"text": format!("{} is past its end of life", e.name)},
                        "defaultConfiguration": {"level": "error"},
                        "properties": {"security-severity": "8.0", "tags": ["security", "end-of-life"]},
                    }));
                    rules.len() - 1
                });
                let file = report.sbom.distro.as_ref().map(|d| d.source_file.clone()).unwrap_or_default();
                results.push(json!({
                    "ruleId": id,
                    "ruleIndex": idx,
                    "level": "error",
                    "message": {"text": format!("{}: {} on {}; its packages get no more security fixes.", e.name, e.support, e.eol_date)},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(&file)}}}],
                }));
            }
        }
    }
    for f in &report.secrets {
        let id = format!("secret:{}", f.rule);
        let idx = *rule_index.entry(id.clone()).or_insert_with(|| {
            rules.push(json!({
                "id": id,
                "name": f.rule.replace(['-', ':'], ""),
                "shortDescription": {"text": f.title},
                "help": {"text": kestrel_core::SECRET_FIX},
                "defaultConfiguration": {"level": level(f.severity)},
                "properties": {"security-severity": severity_band(f.severity), "tags": ["security", "secret"]},
            }));
            rules.len() - 1
        });
        let layer = f.layer.as_deref().map(|l| format!(" (layer {l})")).unwrap_or_default();
        results.push(json!({
            "ruleId": id,
            "ruleIndex": idx,
            "level": level(f.severity),
            "message": {"text": format!("{} {} in {}{layer}", f.title, f.redacted, f.file)},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": uri(&f.file)},
                "region": {"startLine": f.line},
            }}],
            "partialFingerprints": {"kestrel/v1": format!("{}|{}|{}", id, f.file, f.fingerprint)},
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": report.sbom.tool.name,
                "version": report.sbom.tool.version,
                "semanticVersion": report.sbom.tool.version,
                "rules": rules,
            }},
            "automationDetails": {"id": format!("kestrel/{}", report.sbom.target.name)},
            "results": results,
        }],
    })
}
