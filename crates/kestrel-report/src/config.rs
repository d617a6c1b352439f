//! Configuration findings as a table, kestrel's JSON (`kestrel.config/v1`) or SARIF 2.1.0.

use crate::findings::{level, severity_band as security_severity};
use kestrel_core::{counted, ConfigFinding, Severity, CONFIG_SCHEMA};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// A configuration report: what was checked and what was found.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ConfigReport {
    /// Always [`CONFIG_SCHEMA`].
    pub schema: String,
    /// The tool's version.
    pub version: String,
    /// Files read.
    pub files: usize,
    /// Objects (Kubernetes resources, Dockerfile stages, …) checked.
    pub objects: usize,
    /// Findings, by file and line.
    pub findings: Vec<ConfigFinding>,
    /// Files that could not be checked: (file, reason).
    pub errors: Vec<(String, String)>,
}

impl ConfigReport {
    /// A report of these findings.
    pub fn new(
        version: &str,
        files: usize,
        objects: usize,
        findings: Vec<ConfigFinding>,
        errors: Vec<(String, String)>,
    ) -> Self {
        ConfigReport { schema: CONFIG_SCHEMA.into(), version: version.into(), files, objects, findings, errors }
    }
}

/// Output formats of a configuration report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// For people.
    Table,
    /// `kestrel.config/v1`.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// Writes a configuration report.
pub fn write_config(r: &ConfigReport, format: ConfigFormat, out: &mut dyn Write) -> io::Result<()> {
    match format {
        ConfigFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, r)?;
            writeln!(out)
        }
        ConfigFormat::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &config_sarif(r))?;
            writeln!(out)
        }
        ConfigFormat::Table => table(r, out),
    }
}

fn table(r: &ConfigReport, out: &mut dyn Write) -> io::Result<()> {
    write_config_findings(r, out)?;
    if r.files == 0 && r.errors.is_empty() {
        return writeln!(
            out,
            "nothing to check: no Kubernetes manifest, Dockerfile, image configuration or daemon.json among the paths given"
        );
    }
    writeln!(
        out,
        "{} in {} of {}{}",
        findings_summary(r),
        counted(r.objects, "object"),
        counted(r.files, "file"),
        if r.errors.is_empty() {
            String::new()
        } else {
            format!("; {} could not be read", counted(r.errors.len(), "file"))
        }
    )
}

/// `3 findings (1 high, 2 low)`, `no findings`.
pub fn findings_summary(r: &ConfigReport) -> String {
    let mut count: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in &r.findings {
        *count.entry(f.severity).or_default() += 1;
    }
    let summary: Vec<String> = Severity::ALL.iter().filter_map(|s| count.get(s).map(|n| format!("{n} {s}"))).collect();
    if summary.is_empty() {
        return "no findings".into();
    }
    format!("{} ({})", counted(r.findings.len(), "finding"), summary.join(", "))
}

/// The table's findings, by file, and the files that could not be read: all of it but the summary line.
pub fn write_config_findings(r: &ConfigReport, out: &mut dyn Write) -> io::Result<()> {
    let mut by_file: BTreeMap<&str, Vec<&ConfigFinding>> = BTreeMap::new();
    for f in &r.findings {
        by_file.entry(&f.file).or_default().push(f);
    }
    for (file, fs) in by_file {
        writeln!(out, "{file}")?;
        for f in fs {
            let line = f.line.map(|l| format!("line {l:<5}")).unwrap_or_else(|| " ".repeat(10));
            let sev = f.severity.as_str().to_uppercase();
            let resource = if f.resource.is_empty() { String::new() } else { format!("{}: ", f.resource) };
            writeln!(out, "  {sev:<8} {line} {:<36} {resource}{}", f.id, f.title)?;
            writeln!(out, "           {}", f.message)?;
            writeln!(out, "           fix: {}", f.fix)?;
        }
    }
    for (file, reason) in &r.errors {
        writeln!(out, "error: {file}: {reason}")?;
    }
    Ok(())
}

/// SARIF 2.1.0: one rule per check, one result per finding with its file and line.
pub fn config_sarif(r: &ConfigReport) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut results = Vec::new();
    for f in &r.findings {
        let idx = *index.entry(&f.id).or_insert_with(|| {
            let controls: Vec<String> = f.controls.iter().map(|c| format!("{} {}", c.standard, c.control)).collect();
            rules.push(json!({
                "id": f.id,
                "name": f.id.replace([':', '-', '_'], ""),
                "shortDescription": {"text": f.title},
                "help": {"text": format!("{}\n\nFix: {}\nControls: {}", f.title, f.fix, controls.join(", "))},
                "defaultConfiguration": {"level": level(f.severity)},
                "properties": {"security-severity": security_severity(f.severity), "tags": ["security", "misconfiguration"], "controls": controls},
            }));
            rules.len() - 1
        });
        let mut region = json!({});
        if let Some(l) = f.line {
            region = json!({"startLine": l});
        }
        results.push(json!({
            "ruleId": f.id,
            "ruleIndex": idx,
            "level": level(f.severity),
            "message": {"text": format!("{}: {} ({})", f.resource, f.message, f.field)},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.file.trim_start_matches("./")}, "region": region}}],
            "partialFingerprints": {"kestrel/v1": format!("{}|{}|{}|{}", f.id, f.file, f.resource, f.field)},
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "kestrel", "version": r.version, "semanticVersion": r.version, "rules": rules}},
            "results": results,
            "invocations": [{"executionSuccessful": r.errors.is_empty(),
                "toolExecutionNotifications": r.errors.iter().map(|(f, e)| json!({"level": "error", "message": {"text": format!("{f}: {e}")}})).collect::<Vec<_>>()}],
        }],
    })
}
