//! `kestrel eval`: the detection models measured on benchmarks.

use crate::cli::{EvalAdfaArgs, EvalFormat};
use anyhow::{Context, Result};
use kestrel_detect::eval::{evaluate_with, AdfaConfig, AdfaReport};
use kestrel_detect::neural::NeuralConfig;
use std::fmt::Write as _;
use std::process::ExitCode;

pub fn adfa(args: EvalAdfaArgs, g: &crate::cli::GlobalArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let data = kestrel_detect::adfa::load(&args.dir).context("reading the data set")?;
    if data.training.is_empty() || data.validation.is_empty() || data.attacks.is_empty() {
        anyhow::bail!(
            "{}: needs training, validation and attack traces (found {}, {}, {})",
            args.dir.display(),
            data.training.len(),
            data.validation.len(),
            data.attacks.len()
        );
    }
    let mut cfg = AdfaConfig::default();
    cfg.neural = match args.no_neural {
        true => None,
        false => cfg.neural.map(|n| NeuralConfig { epochs: args.epochs, ..n }),
    };
    let spinner = crate::progress::spinner(g.quiet);
    let report = evaluate_with(&data, &cfg, &mut |what| match &spinner {
        Some(s) => s.set_message(what.to_string()),
        None => tracing::info!("{what}"),
    })?;
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    tracing::info!("evaluated in {:.2} s", started.elapsed().as_secs_f64());
    let text = match args.format {
        EvalFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        EvalFormat::Table => table(&report),
    };
    match &args.output {
        Some(path) => crate::scan::write_atomically(path, text.as_bytes())?,
        None => say_part!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn table(r: &AdfaReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ADFA-LD: {} training, {} validation, {} attack traces; thresholds from the validation normals\n",
        r.traces["training"], r.traces["validation"], r.traces["attack"]
    );
    // Each figure with its 95 % bootstrap interval.
    let with = |v: f64, i: Option<kestrel_detect::metrics::Interval>| match i {
        Some(i) => format!("{v:.3} [{:.3}, {:.3}]", i.low, i.high),
        None => format!("{v:.3}"),
    };
    let _ = writeln!(out, "{:<10} {:>21} {:>21} {:>21} {:>9}", "model", "AUC", "DR@1%FAR", "DR@5%FAR", "seconds");
    for m in &r.models {
        let _ = writeln!(
            out,
            "{:<10} {:>21} {:>21} {:>21} {:>9.2}",
            m.model,
            with(m.auc, m.ci95.auc),
            with(m.dr_at_1pct_far, m.ci95.dr_at_1pct_far),
            with(m.dr_at_5pct_far, m.ci95.dr_at_5pct_far),
            m.seconds
        );
    }
    let _ = writeln!(
        out,
        "[95 % bootstrap intervals, {} resamples: validation normals one by one, attacks a run at a time]",
        kestrel_detect::eval::BOOTSTRAP_RESAMPLES
    );
    let _ = writeln!(
        out,
        "\nby attack family ({}): traces detected at 5 % false alarms; attack runs with an alarm at 1 % and 5 %",
        r.detector
    );
    for (family, f) in &r.models[0].families {
        let _ = writeln!(
            out,
            "  {family:<14} {:>4} / {:<4}   runs {:>3} / {:<3} {:>3} / {:<3}",
            f.detected_at_5pct_far, f.traces, f.runs_alarmed_at_1pct_far, f.runs, f.runs_alarmed_at_5pct_far, f.runs
        );
    }
    let _ = writeln!(out);
    for m in &r.models {
        let _ = writeln!(out, "{}: {}", m.model, m.description);
    }
    out
}

/// The longest line of a list of names: a name is at most 255 bytes, 1,020 characters written with `\DDD`.
const MAX_NAME_LINE: u64 = 4096;

/// What the rules said of one distinct name.
#[derive(Default)]
struct NameSeen {
    encoded: bool,
    rules: std::collections::BTreeSet<String>,
}

#[derive(serde::Serialize)]
struct DnsReport {
    files: usize,
    questions: u64,
    names: usize,
    zones: usize,
    /// Distinct names with a label of encoded data (kestrel_core::encoded_label).
    encoded: usize,
    /// Distinct names some rule alerted on, and their share of the names.
    alerted: usize,
    alerted_share: f64,
    /// Distinct names each rule alerted on.
    by_rule: std::collections::BTreeMap<String, usize>,
    /// The zones with the most names alerted on: (zone, names).
    alerted_zones: Vec<(String, usize)>,
    /// Names alerted on (the first --show, in the order met).
    examples: Vec<String>,
    /// Names with a label of encoded data that no rule alerted on (their zone listed), the first --show.
    encoded_not_alerted: Vec<String>,
}

/// `kestrel eval dns`: names (lists or recordings' questions) through the rules.
pub fn dns(a: crate::cli::EvalDnsArgs) -> Result<ExitCode> {
    use kestrel_core::{ContainerRef, Event, EventKind, SockAddr, EVENT_SCHEMA};
    let rules = crate::detect::load_rules(&a.rules, !a.no_builtin_rules)?;
    let mut engine = kestrel_detect::rules::Engine::new(rules);
    let mut seen: std::collections::HashMap<String, NameSeen> = std::collections::HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut questions = 0u64;
    let mut note = |name: &str, alerts: &[kestrel_core::Alert]| {
        questions += 1;
        let s = seen.entry(name.to_string()).or_insert_with(|| {
            order.push(name.to_string());
            NameSeen { encoded: kestrel_core::encoded_label(name), ..NameSeen::default() }
        });
        for alert in alerts {
            if let kestrel_core::AlertSource::Rule { name, .. } = &alert.source {
                s.rules.insert(name.clone());
            }
        }
    };
    // A list's names are asked by one process of one container.
    let container: std::sync::Arc<ContainerRef> =
        ContainerRef { id: "e".repeat(64), runtime: "runc".into(), ..Default::default() }.into();
    let event = |kind: EventKind| Event {
        schema: EVENT_SCHEMA.into(),
        time_ns: 1,
        pid: 2,
        tid: 2,
        comm: "resolver".into(),
        cgroup_id: 2,
        container: Some(container.clone()),
        process: None,
        kind,
    };
    engine.process(&event(EventKind::exec_of(1, "runc:[2:INIT]", &["/usr/bin/resolver"])));
    for path in &a.files {
        let name_of = path.display().to_string();
        if path != std::path::Path::new("-") && crate::monitor::is_recording(path)? {
            crate::monitor::Recording::open(path)?.events(|e| {
                let alerts = engine.process(&e);
                if let EventKind::Dns { name, .. } = &e.kind {
                    note(name, &alerts);
                }
                Ok(true)
            })?;
            continue;
        }
        let input: Box<dyn std::io::Read> = if path == std::path::Path::new("-") {
            Box::new(std::io::stdin())
        } else {
            Box::new(std::fs::File::open(path).with_context(|| format!("{name_of}: cannot open"))?)
        };
        let mut input = std::io::BufReader::new(input);
        let mut line = Vec::new();
        for line_no in 1.. {
            line.clear();
            use std::io::{BufRead as _, Read as _};
            let n = (&mut input)
                .take(MAX_NAME_LINE + 1)
                .read_until(b'\n', &mut line)
                .with_context(|| format!("{name_of}: cannot read line {line_no}"))?;
            if n == 0 {
                break;
            }
            if line.len() as u64 > MAX_NAME_LINE {
                anyhow::bail!("{name_of}: line {line_no} is longer than {MAX_NAME_LINE} bytes: no DNS name");
            }
            let text = std::str::from_utf8(&line)
                .map_err(|_| anyhow::anyhow!("{name_of}: line {line_no} is not UTF-8 (write other bytes as \\DDD)"))?
                .trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let kind = EventKind::Dns {
                to: SockAddr {
                    family: "inet".into(),
                    addr: "10.96.0.10".into(),
                    port: 53,
                    proto: Some(kestrel_core::L4Proto::Udp),
                },
                name: text.to_string(),
                qtype: "A".into(),
            };
            let alerts = engine.process(&event(kind));
            note(text, &alerts);
        }
    }
    let mut by_rule = std::collections::BTreeMap::new();
    let mut zones = std::collections::HashSet::new();
    let mut alerted_zones: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let (mut encoded, mut alerted, mut examples, mut encoded_not_alerted) = (0, 0, vec![], vec![]);
    for name in &order {
        let s = &seen[name];
        let zone = kestrel_core::dns_zone(name).to_ascii_lowercase();
        encoded += usize::from(s.encoded);
        for r in &s.rules {
            *by_rule.entry(r.clone()).or_insert(0) += 1;
        }
        if !s.rules.is_empty() {
            alerted += 1;
            *alerted_zones.entry(zone.clone()).or_insert(0) += 1;
            if examples.len() < a.show {
                examples.push(name.clone());
            }
        } else if s.encoded && encoded_not_alerted.len() < a.show {
            encoded_not_alerted.push(name.clone());
        }
        zones.insert(zone);
    }
    let mut alerted_zones: Vec<(String, usize)> = alerted_zones.into_iter().collect();
    alerted_zones.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    alerted_zones.truncate(10);
    let report = DnsReport {
        files: a.files.len(),
        questions,
        names: order.len(),
        zones: zones.len(),
        encoded,
        alerted,
        alerted_share: if order.is_empty() { 0.0 } else { alerted as f64 / order.len() as f64 },
        by_rule,
        alerted_zones,
        examples,
        encoded_not_alerted,
    };
    let text = match a.format {
        EvalFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        EvalFormat::Table => dns_table(&report),
    };
    say_part!("{}", crate::terminal_safe(&text));
    Ok(ExitCode::SUCCESS)
}

fn dns_table(r: &DnsReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} questions, {} distinct names in {} zones ({} file{})",
        r.questions,
        r.names,
        r.zones,
        r.files,
        if r.files == 1 { "" } else { "s" }
    );
    let _ = writeln!(out, "names with a label of encoded data: {}", r.encoded);
    let _ = writeln!(out, "names the rules alert on: {} ({:.3} %)", r.alerted, 100.0 * r.alerted_share);
    for (rule, n) in &r.by_rule {
        let _ = writeln!(out, "  {n:>8}  {rule}");
    }
    if !r.alerted_zones.is_empty() {
        let _ = writeln!(out, "zones alerted on most:");
        for (zone, n) in &r.alerted_zones {
            let _ = writeln!(out, "  {n:>8}  {zone}");
        }
    }
    if !r.examples.is_empty() {
        let _ = writeln!(out, "names alerted on (the first {}):", r.examples.len());
        for name in &r.examples {
            let _ = writeln!(out, "  {name}");
        }
    }
    if !r.encoded_not_alerted.is_empty() {
        let _ = writeln!(
            out,
            "names with encoded data not alerted on, their zone listed (the first {}):",
            r.encoded_not_alerted.len()
        );
        for name in &r.encoded_not_alerted {
            let _ = writeln!(out, "  {name}");
        }
    }
    out
}
