//! A compliance report as one self-contained HTML page (readable on screen, printable: no script, no external
//! resource), as JSON, or as a table.

use kestrel_core::{ComplianceReport, ControlStatus};
use std::fmt::Write as _;
use std::io::{self, Write};

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn word(s: ControlStatus) -> &'static str {
    match s {
        ControlStatus::Pass => "pass",
        ControlStatus::Fail => "fail",
        ControlStatus::Manual => "manual",
        ControlStatus::NotEvaluated => "not evaluated",
    }
}

const STYLE: &str = r#"
body { font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; color: #1b1f24; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
.meta { color: #57606a; margin-bottom: 1.2rem; }
.cards { display: flex; gap: .8rem; margin: 1rem 0 1.5rem; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem 1rem; min-width: 8rem; }
.card b { display: block; font-size: 1.6rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .45rem .6rem; border-bottom: 1px solid #d0d7de; }
th { background: #f6f8fa; }
.st { font-weight: bold; border-radius: 1em; padding: .05rem .6rem; white-space: nowrap; }
.st.pass { background: #dafbe1; color: #116329; }
.st.fail { background: #ffebe9; color: #a40e26; }
.st.manual { background: #fff8c5; color: #7d4e00; }
.st.not-evaluated { background: #eaeef2; color: #424a53; }
tr.fail td:first-child { border-left: 4px solid #cf222e; }
td.id { white-space: nowrap; font-family: "DejaVu Sans Mono", monospace; }
details summary { cursor: pointer; color: #0969da; }
ul.findings { margin: .3rem 0 0; padding-left: 1.2rem; }
ul.findings code { font-size: 12px; }
.checks { color: #57606a; font-size: 12px; }
@media print { body { margin: 0; max-width: none; } details { display: block; } details > summary { display: none; } th { background: none; } tr { break-inside: avoid; } }
"#;

/// The report as one HTML page.
pub fn compliance_html(r: &ComplianceReport) -> String {
    let mut h = String::new();
    let s = &r.summary;
    let total = s.pass + s.fail + s.manual + s.not_evaluated;
    let _ = writeln!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — compliance</title><style>{STYLE}</style></head><body>",
        esc(&r.title)
    );
    let _ = writeln!(
        h,
        "<h1>{}</h1>\n<div class=\"meta\">Spec <code>{}</code> · generated {} by kestrel · scope: {}</div>",
        esc(&r.title),
        esc(&r.spec),
        esc(&kestrel_core::to_the_second(&r.generated)),
        esc(&r.scope)
    );
    let _ = writeln!(
        h,
        "<div class=\"cards\"><div class=\"card\"><b id=\"n-pass\">{}</b>pass</div><div class=\"card\"><b id=\"n-fail\">{}</b>fail</div><div class=\"card\"><b id=\"n-manual\">{}</b>manual</div><div class=\"card\"><b id=\"n-not-evaluated\">{}</b>not evaluated</div><div class=\"card\"><b>{total}</b>controls</div></div>",
        s.pass, s.fail, s.manual, s.not_evaluated
    );
    h.push_str(
        "<table><thead><tr><th>Control</th><th>Title</th><th>Status</th><th>Evidence</th></tr></thead><tbody>\n",
    );
    for c in &r.controls {
        let class = word(c.status).replace(' ', "-");
        let _ = write!(
            h,
            "<tr class=\"control {class}\" id=\"c-{}\"><td class=\"id\">{}</td><td>{}</td><td><span class=\"st {class}\">{}</span></td><td>",
            esc(&c.id.replace(|ch: char| !ch.is_ascii_alphanumeric(), "-")),
            esc(&c.id),
            esc(&c.title),
            word(c.status)
        );
        if c.findings.is_empty() {
            let _ = write!(h, "{}", esc(&c.evidence));
        } else {
            let _ = write!(
                h,
                "<details><summary>{}</summary><ul class=\"findings\">",
                kestrel_core::counted(c.findings.len(), "finding")
            );
            for f in c.findings.iter().take(200) {
                let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
                let _ = write!(
                    h,
                    "<li><code>{}</code> {} — <code>{}{}</code> {}: {}<br><i>fix:</i> {}</li>",
                    esc(&f.id),
                    esc(f.severity.as_str()),
                    esc(&f.file),
                    line,
                    esc(&f.resource),
                    esc(&f.message),
                    esc(&f.fix)
                );
            }
            if c.findings.len() > 200 {
                let _ = write!(h, "<li>and {} more (see the JSON report)</li>", c.findings.len() - 200);
            }
            h.push_str("</ul></details>");
        }
        if !c.checks.is_empty() {
            let _ = write!(h, "<div class=\"checks\">checks: {}</div>", esc(&c.checks.join(", ")));
        }
        h.push_str("</td></tr>\n");
    }
    h.push_str("</tbody></table>\n</body></html>\n");
    h
}

/// Findings a failed control lists in the table (the JSON and HTML reports hold every one).
const TABLE_FINDINGS: usize = 5;

/// The report as a table for a terminal: a control a line, the id column as wide as the spec's longest id (CIS's
/// `5.2.10`, Pod Security's `baseline:hostProbesAndHostLifecycle`); under a failed control's id its findings, a
/// line each; under a manual or unevaluated one's what to do.
pub fn write_compliance_table(r: &ComplianceReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{} ({})", r.title, r.spec)?;
    let id_width = r.controls.iter().map(|c| c.id.chars().count()).max().unwrap_or(0).clamp(6, 40);
    // What a control says below it starts under its id: a long id column would push the findings off the screen.
    let under = " ".repeat(2 + 14 + 1);
    for c in &r.controls {
        writeln!(out, "  {:<14} {:<id_width$} {}", word(c.status).to_uppercase(), c.id, c.title)?;
        match c.status {
            ControlStatus::Pass => {}
            ControlStatus::Fail if !c.findings.is_empty() => {
                writeln!(out, "{under}{}:", kestrel_core::counted(c.findings.len(), "finding"))?;
                for f in c.findings.iter().take(TABLE_FINDINGS) {
                    let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
                    writeln!(out, "{under}  {} {}{line}: {}", f.id, f.file, f.message)?;
                }
                if c.findings.len() > TABLE_FINDINGS {
                    writeln!(
                        out,
                        "{under}  and {} more (every one in -f json and -f html)",
                        c.findings.len() - TABLE_FINDINGS
                    )?;
                }
            }
            _ => writeln!(out, "{under}{}", c.evidence)?,
        }
    }
    let s = &r.summary;
    writeln!(out, "{} pass, {} fail, {} manual, {} not evaluated", s.pass, s.fail, s.manual, s.not_evaluated)
}
