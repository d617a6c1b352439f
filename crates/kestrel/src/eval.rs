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
