//! `kestrel learn`, `kestrel detect`, `kestrel rules` and `kestrel profile`: the detection crate's
//! rules and profiles over the live sensor or recordings.

use crate::cli::{
    DetectArgs, DriftArg, EvalFormat, EventFilter, GlobalArgs, LearnArgs, ModeArg, MonitorFormat, ProfileCommand,
    RulesArgs, SourceArgs, WorkloadByArg,
};
use crate::monitor::{pump, Recording, TraceHeader};
use anyhow::{bail, Context as _, Result};
use kestrel_core::{counted, Alert, AlertSource, Event};
use kestrel_detect::detector::{Detector, Stage, WorkloadBy};
use kestrel_detect::fold::Folder;
use kestrel_detect::profile::{self, DriftPolicy, Mode, Policy, Profile};
use kestrel_detect::rules::{CompiledRules, LoadReport, RuleSet};
use kestrel_detect::store::ProfileStore;
use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn mode_of(m: ModeArg) -> Mode {
    match m {
        ModeArg::Learn => Mode::Learn,
        ModeArg::Monitor => Mode::Monitor,
        ModeArg::Protect => Mode::Protect,
    }
}

/// The workload grouping for one recording.
fn workload_by(arg: WorkloadByArg, header: Option<&TraceHeader>) -> WorkloadBy {
    match arg {
        WorkloadByArg::Image => WorkloadBy::Image,
        WorkloadByArg::Container => WorkloadBy::Container,
        WorkloadByArg::Label => match header.and_then(|h| h.labels.get("workload").or_else(|| h.labels.get("image"))) {
            Some(w) => WorkloadBy::Fixed(w.clone()),
            None => WorkloadBy::Image,
        },
    }
}

/// Feeds every event of the source to `each`; with `spinner`, recordings are read under a spinner that counts
/// their events (for commands that print nothing while reading). Returns the recordings whose header does not say
/// which kinds their sensor reported (made by an older kestrel).
fn run_source<'s>(
    s: &'s SourceArgs,
    g: &GlobalArgs,
    spinner: bool,
    det: &mut Detector,
    mut each: impl FnMut(&mut Detector, &Event) -> Result<bool>,
    tick: impl FnMut() -> Result<bool>,
) -> Result<Vec<&'s std::path::Path>> {
    if s.live != s.traces.is_empty() {
        bail!("give recordings to read, or --live for the sensor (not both)");
    }
    if let Some(w) = &s.workload {
        det.set_workload_by(WorkloadBy::Fixed(w.clone()));
    }
    if s.live {
        det.set_reports(Some(&kestrel_sensor::reported_kinds(&s.watch.leave_out)));
        let filter = EventFilter { kind: vec![], container: None };
        let det = std::cell::RefCell::new(det);
        pump(&s.watch, &filter, s.duration, false, g, |e| each(&mut det.borrow_mut(), e), tick)?;
        return Ok(Vec::new());
    }
    let spin = if spinner { crate::progress::spinner(g.quiet) } else { None };
    let mut events = 0u64;
    let mut unsaid = Vec::new();
    for t in &s.traces {
        let recording = Recording::open(t)?;
        let header = &recording.header;
        if header.reports.is_none() {
            unsaid.push(t.as_path());
        }
        // Each recording is a capture of its own: its pids are not the last one's processes.
        det.new_stream();
        det.set_reports(header.reports.as_deref());
        if s.workload.is_none() {
            det.set_workload_by(workload_by(s.workload_by, Some(header)));
        }
        if let Some(spin) = &spin {
            spin.set_message(format!("{}: {events} events", t.display()));
        }
        recording.events(|e| {
            events += 1;
            if let (Some(spin), 0) = (&spin, events % 65_536) {
                spin.set_message(format!("{}: {events} events", t.display()));
            }
            each(det, &e)
        })?;
    }
    if let Some(spin) = spin {
        spin.finish_and_clear();
    }
    Ok(unsaid)
}

pub fn learn(a: LearnArgs, g: &GlobalArgs) -> Result<ExitCode> {
    let store = ProfileStore::new(&a.source.profiles);
    let profiles = store.load_all()?;
    let policy = Policy {
        k: a.k.max(1),
        t: a.t.max(1),
        window_ns: a.window.max(1) * 1_000_000_000,
        drift: match a.drift {
            DriftArg::Relearn => DriftPolicy::Relearn,
            DriftArg::Approve => DriftPolicy::Approve,
        },
        ..Policy::default()
    };
    let by = workload_by(a.source.workload_by, None);
    let mut det = Detector::new(RuleSet::default().compile(), profiles, policy, by, Stage::Learn);
    let started = Instant::now();
    let unsaid = run_source(
        &a.source,
        g,
        true,
        &mut det,
        |d, e| {
            d.process(e);
            Ok(true)
        },
        || Ok(true),
    )?;
    if !g.quiet && !unsaid.is_empty() {
        // A recording that does not say what its sensor reported: a rare kind it shows none of stays unknown.
        let names: Vec<String> = unsaid.iter().map(|t| t.display().to_string()).collect();
        note!(
            "kestrel: {} made by a kestrel that did not say which kinds its sensor reported ({}): \
             memory made executable is learned only where it was seen, and every other kind is judged",
            counted(names.len(), "recording"),
            names.join(", ")
        );
    }
    let (learned, unprofiled) = (det.counters.learned, det.counters.unprofiled);
    let now = now_ns();
    let mut untrusting = Vec::new();
    for mut p in det.into_profiles() {
        if let Some(m) = a.mode {
            p.set_mode(mode_of(m), now);
        }
        let path = store.save(&p)?;
        if !g.quiet {
            note!("kestrel: {} → {}", p.baseline(), path.display());
        }
        if p.trusted_counts() == (0, 0) && p.events > 0 {
            untrusting.push(p.workload.clone());
        }
    }
    if !g.quiet && !untrusting.is_empty() {
        // Not an error — learning goes on in later runs and on the live sensor — but a profile put to work now would
        // call everything new.
        note!(
            "kestrel: {} trust nothing yet ({}): a behaviour counts once seen in {} containers of a workload (-k), or \
             in {} time windows of {} s (-t, --window) where it never had that many; learn longer, or group containers \
             into workloads (--workload-by, --workload)",
            counted(untrusting.len(), "profile"),
            match untrusting.len() {
                0..=5 => untrusting.join(", "),
                n => format!("{}, and {} more", untrusting[..4].join(", "), n - 4),
            },
            a.k.max(1),
            a.t.max(1),
            a.window.max(1)
        );
    }
    if !g.quiet {
        note!("kestrel: learned from {learned} events in {:.1} s", started.elapsed().as_secs_f64());
    }
    // Said even with --quiet: workloads were left without a profile.
    if unprofiled > 0 {
        note!(
            "kestrel: warning: {unprofiled} events of workloads beyond the {} profiles kestrel holds were not learned from",
            kestrel_detect::detector::MAX_PROFILES
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Carries out the verdicts people gave on the dashboard (approve: act now; deny: record it), and ships each
/// decision's new state, which tells the server the verdict was acted on.
fn apply_verdicts(r: &mut kestrel_respond::Responder, s: &kestrel_server::ship::Shipper) {
    for v in s.verdicts() {
        let done = match v.verdict.as_str() {
            "approve" => r.approve(&v.id),
            "deny" => r.deny(&v.id, &v.by, &v.reason),
            other => Err(format!("unknown verdict {other:?}")),
        };
        match done {
            Ok(d) => {
                note!("kestrel: response {} {} by {}: {} {}", d.id, v.verdict, v.by, d.outcome.as_str(), d.detail);
                if let Ok(line) = serde_json::to_value(&d) {
                    s.decision(line);
                }
            }
            // Already decided here (by `kestrel respond approve`, say): its state went to the server then.
            Err(e) => note!("kestrel: verdict of {} on {} not applied: {e}", v.by, v.id),
        }
    }
}

/// A rule file larger than this is refused (Falco's own files are ~200 KB).
const MAX_RULE_FILE: u64 = 16 << 20;

/// A response or admission policy larger than this is refused (they are a page or two).
pub(crate) const MAX_POLICY_FILE: u64 = 1 << 20;

/// The rule files `paths` name: a file as it is, a directory as its `*.yaml` and `*.yml` files in name order
/// (Falco's `rules.d` habit; not recursive).
pub fn rule_files(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("{}: cannot read the directory", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        if found.is_empty() {
            tracing::warn!("{}: no rule files (*.yaml, *.yml) in this directory", p.display());
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Loads the rule files (or directories of them) after the built-in ones (unless left out).
pub fn load_rules(paths: &[std::path::PathBuf], builtin: bool) -> Result<CompiledRules> {
    let mut set = if builtin { RuleSet::builtin() } else { RuleSet::default() };
    for f in rule_files(paths)? {
        let text = crate::read_input_text(&f, MAX_RULE_FILE, "a rule file")?;
        set.add_file(&f.display().to_string(), &text)?;
    }
    Ok(set.compile())
}

fn print_alert(out: &mut impl Write, a: &Alert, json: bool) -> Result<bool> {
    let r = if json {
        writeln!(out, "{}", serde_json::to_string(a)?)
    } else {
        let what = match &a.source {
            AlertSource::Rule { name, .. } => format!("rule: {name}"),
            AlertSource::Model { name, profile } => format!("model: {name} ({profile})"),
        };
        let who = a.container.as_ref().map(|c| c.short()).unwrap_or_else(|| "host".into());
        let mut text = format!(
            "{} {:<8} {:.2} {who} [{what}] {}\n",
            crate::clock(a.time_ns),
            a.severity.as_str().to_uppercase(),
            a.score,
            a.title
        );
        for line in &a.explanation {
            text.push_str(&format!("    {line}\n"));
        }
        if !a.mitre.is_empty() {
            text.push_str(&format!("    MITRE ATT&CK: {}\n", a.mitre.join(", ")));
        }
        write!(out, "{}", crate::terminal_safe(&text))
    };
    Ok(r.is_ok())
}

pub fn detect(a: DetectArgs, g: &GlobalArgs) -> Result<ExitCode> {
    let rules = load_rules(&a.rules, !a.no_builtin_rules)?;
    if !g.quiet && !rules.report.skipped.is_empty() {
        note!(
            "kestrel: {} of {} rules skipped (unsupported fields or operators); `kestrel rules FILE` lists them",
            rules.report.skipped.len(),
            rules.report.rules
        );
    }
    let store = ProfileStore::new(&a.source.profiles);
    let profiles = if a.no_profiles { vec![] } else { store.load_all()? };
    let with_profiles = !a.no_profiles;
    if with_profiles && profiles.is_empty() && !g.quiet {
        // A mistyped --profiles (or no learning yet) would otherwise run with the rules alone, unsaid.
        let dir = a.source.profiles.display();
        let there = if a.source.profiles.is_dir() { "" } else { " (no such directory)" };
        if a.source.live {
            note!(
                "kestrel: no learned profiles in {dir}{there}: every workload starts learning now, without model \
                 alerts until its profile is promoted; they are saved there when this stops"
            );
        } else {
            note!(
                "kestrel: no learned profiles in {dir}{there}: the rules alone judge (each workload only starts \
                 learning); `kestrel learn --profiles {dir} RECORDINGS` learns them first, --no-profiles says the \
                 rules alone are meant"
            );
        }
    }
    if a.source.live && a.source.watch.reads && !g.quiet {
        let blind: Vec<&str> =
            profiles.iter().filter(|p| p.mode != Mode::Learn && !p.read_dirs).map(|p| p.workload.as_str()).collect();
        if !blind.is_empty() {
            note!(
                "kestrel: --reads: {} learned without every read, or by an older kestrel ({}): where their \
                 programs read is not judged until they learn it again (`kestrel profile relearn WORKLOAD`)",
                counted(blind.len(), "profile"),
                blind.join(", ")
            );
        }
    }
    if a.source.live && !g.quiet {
        // Kinds this sensor reports that a profile's learning sources did not: its events of them are not judged.
        let live = kestrel_core::leavable_bits(&kestrel_sensor::reported_kinds(&a.source.watch.leave_out));
        let blind: Vec<String> = profiles
            .iter()
            .filter(|p| p.mode != Mode::Learn)
            .filter_map(|p| {
                let kinds = kestrel_core::leavable_names(live & !p.reported?);
                (!kinds.is_empty()).then(|| format!("{} ({})", p.workload, kinds.join(", ")))
            })
            .collect();
        if !blind.is_empty() {
            note!(
                "kestrel: {} learned from a sensor that did not report every kind this one does: {}; those \
                 kinds are not judged for them until they learn again (`kestrel profile relearn WORKLOAD`)",
                counted(blind.len(), "profile"),
                blind.join("; ")
            );
        }
    }
    let by = workload_by(a.source.workload_by, None);
    let mut det = Detector::new(rules, profiles, Policy::default(), by, Stage::Detect);
    let json = match a.format {
        Some(MonitorFormat::Json) => true,
        Some(MonitorFormat::Table) => false,
        None => !std::io::stdout().is_terminal(),
    };
    let responder = match &a.respond {
        Some(path) => {
            let text = crate::read_input_text(path, MAX_POLICY_FILE, "a response policy")?;
            let policy = kestrel_respond::Policy::parse(&path.display().to_string(), &text)?;
            let root = kestrel_sensor::cgroup::cgroup2_root().context("no cgroup v2 hierarchy is mounted")?;
            let mut r =
                kestrel_respond::Responder::new(policy, kestrel_respond::AuditLog::new(&a.audit), root, "/sys/fs/bpf");
            r.prepare().map_err(anyhow::Error::msg)?;
            // Actions a crash interrupted are settled before anything new is done.
            for d in r.recover() {
                note!("kestrel: response {} {}: {}", d.id, d.outcome.as_str(), d.detail);
            }
            Some(r)
        }
        None => None,
    };
    let shipper = crate::server::shipper(&a.ship, responder.is_some() && a.source.live)?;
    let notifier = match a.notify.start(None, false, None)? {
        Some(n) => Some((n, crate::server::node_name(&a.ship)?)),
        None => None,
    };
    if let Some(addr) = &a.metrics {
        let bound = kestrel_server::metrics_text::serve_metrics(addr).with_context(|| format!("--metrics {addr}"))?;
        if !g.quiet {
            note!("kestrel: metrics at http://{bound}/metrics");
        }
    }
    // Latencies as histograms, not lists: an agent scoring 10,000 events a second for a week would keep 48 GB of
    // them (a list grew by 8 bytes an event: bench/soak.sh, docs/BENCHMARKS.md).
    let mut latencies = Latencies::default();
    let mut alert_lag = Latencies::default();
    let started = Instant::now();
    let live = a.source.live;
    let mut images_noted: HashMap<String, HashSet<String>> = HashMap::new();
    let mut noted = 0;
    let agent = std::cell::RefCell::new(Agent {
        responder,
        shipper: shipper.as_ref(),
        notifier: notifier.as_ref(),
        json,
        live,
        out: std::io::BufWriter::new(std::io::stdout().lock()),
        folder: Folder::new(a.fold_after, a.fold_window.saturating_mul(1_000_000_000)),
        summaries: Vec::new(),
        last_sweep: Instant::now(),
        last_gauges: Instant::now(),
        action_lag: Latencies::default(),
    });
    let each = |d: &mut Detector, e: &Event| -> Result<bool> {
        let mut agent = agent.borrow_mut();
        let ag = &mut *agent;
        // Live, the pump's tick does the chores, events or not; a recording has no tick.
        if !live {
            ag.housekeep();
        }
        if let Some(s) = ag.shipper {
            // The images this node runs, for the server (a running image that becomes vulnerable).
            // The name as the runtime gave it (else its digest), and the image's id where the runtime recorded
            // one, else the digest the kubelet says it was pulled by ("" for none).
            if let Some(c) = e.container.as_ref() {
                let digest = c.image_id.as_deref().or(c.image_digest.as_deref());
                if let Some(image) = c.image.as_deref().or(digest) {
                    let seen = images_noted.get(image).is_some_and(|d| d.contains(digest.unwrap_or("")));
                    if !seen && noted < kestrel_server::ship::MAX_IMAGES {
                        noted += 1;
                        images_noted.entry(image.to_string()).or_default().insert(digest.unwrap_or("").to_string());
                        s.note_image(image, digest);
                    }
                }
            }
        }
        let t0 = Instant::now();
        let alerts = if with_profiles { d.process(e) } else { d.process_rules_only(e) };
        latencies.record(t0.elapsed().as_nanos() as u64);
        metrics::counter!("kestrel_agent_events_total").increment(1);
        for al in &alerts {
            metrics::counter!("kestrel_agent_alerts_total", "severity" => al.severity.as_str()).increment(1);
        }
        // A storm of alike alerts that stopped is summarised as time passes (live: sent now, not with the next alert).
        ag.folder.due(e.time_ns, &mut ag.summaries);
        let due = !ag.summaries.is_empty();
        for al in &alerts {
            if live {
                alert_lag.record(now_ns().saturating_sub(e.time_ns));
            }
            let mut decided = false;
            if let Some(r) = ag.responder.as_mut() {
                for d in r.handle(al) {
                    // Done, tried, or waiting for a person: its alert goes out whatever the storm. (Not a decision
                    // that the workload is not protected, allowlisted or over a limit: each of those names its alert's
                    // title, workload and container itself.)
                    use kestrel_respond::Outcome as O;
                    decided |= matches!(d.outcome, O::Acted | O::Failed | O::DryRun | O::PendingApproval);
                    if d.outcome == O::Acted {
                        let lag = now_ns().saturating_sub(e.time_ns);
                        ag.action_lag.record(lag);
                        metrics::histogram!("kestrel_agent_action_seconds").record(lag as f64 / 1e9);
                    }
                    note!("kestrel: response {}: {} {} {}", d.id, d.action.as_str(), d.outcome.as_str(), d.detail);
                    if let (Some(s), Ok(line)) = (ag.shipper, serde_json::to_value(&d)) {
                        s.decision(line);
                    }
                }
            }
            let pass = ag.folder.admit(al, decided, &mut ag.summaries);
            if !pass {
                metrics::counter!("kestrel_agent_alerts_folded_total").increment(1);
            }
            if !ag.send_summaries()? || (pass && !ag.send(al)?) {
                return Ok(false);
            }
        }
        if !ag.send_summaries()? {
            return Ok(false);
        }
        if live && (due || !alerts.is_empty()) {
            ag.out.flush().ok();
        }
        Ok(true)
    };
    // Live, time passes between events too: a quiet node still applies the verdicts the server sends, sweeps, and
    // sends a storm's summary when its window closes.
    let tick = || agent.borrow_mut().tick(now_ns());
    run_source(&a.source, g, false, &mut det, each, tick)?;
    let mut agent = agent.into_inner();
    agent.folder.flush(&mut agent.summaries);
    agent.send_summaries()?;
    agent.out.flush().ok();
    let Agent { responder, folder, action_lag, out, .. } = agent;
    drop(out);
    if let Some(r) = &responder {
        r.audit().sync();
    }
    if let Some((n, _)) = notifier {
        n.finish(std::time::Duration::from_secs(15));
    }
    if a.save || (a.source.live && with_profiles) {
        for p in det.profiles() {
            store.save(p)?;
            // Learned profiles go to the server too, for federated merging (never raw events).
            if let (Some(s), Ok(body)) = (&shipper, serde_json::to_value(p)) {
                s.profile(&p.workload, i64::from(p.version), body);
            }
        }
    }
    if let Some(s) = shipper {
        let st = s.close();
        note!(
            "kestrel: server: {} delivered ({} from the spool), {} in the spool ({} bytes), {} dropped (spool full), {} dropped (queue full), {} refused",
            st.delivered, st.replayed, st.spooled - st.replayed, st.spool_bytes, st.dropped_spool_full, st.dropped_queue_full, st.rejected
        );
    }
    if a.stats || !g.quiet {
        let c = &det.counters;
        note!(
            "kestrel: {}, {}, {} in {:.2} s; per event p50 {} ns, p99 {} ns",
            counted(c.events as usize, "event"),
            counted(c.rule_alerts as usize, "rule alert"),
            counted(c.model_alerts as usize, "model alert"),
            started.elapsed().as_secs_f64(),
            latencies.quantile(0.5),
            latencies.quantile(0.99)
        );
        if folder.folded > 0 {
            note!(
                "kestrel: {} folded into {} {} (more than {} alike from one container in {} s; --fold-after 0 sends \
                 each)",
                counted(folder.folded as usize, "alert"),
                folder.summaries,
                if folder.summaries == 1 { "summary" } else { "summaries" },
                a.fold_after,
                a.fold_window
            );
        }
        if c.unprofiled > 0 {
            note!(
                "kestrel: {} events of workloads beyond the {} profiles a detector holds went through the rules only",
                c.unprofiled,
                kestrel_detect::detector::MAX_PROFILES
            );
        }
        if !action_lag.is_empty() {
            note!(
                "kestrel: event-to-action latency (verified) p50 {:.2} ms, p99 {:.2} ms ({})",
                action_lag.quantile(0.5) as f64 / 1e6,
                action_lag.quantile(0.99) as f64 / 1e6,
                counted(action_lag.len(), "action")
            );
        }
        if !alert_lag.is_empty() {
            note!(
                "kestrel: event-to-alert latency p50 {:.2} ms, p99 {:.2} ms ({})",
                alert_lag.quantile(0.5) as f64 / 1e6,
                alert_lag.quantile(0.99) as f64 / 1e6,
                counted(alert_lag.len(), "alert")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `kestrel detect` keeps between events: the response engine, the storms being folded, the output and the
/// clocks of its chores.
struct Agent<'a> {
    responder: Option<kestrel_respond::Responder>,
    shipper: Option<&'a kestrel_server::ship::Shipper>,
    notifier: Option<&'a (kestrel_server::notify::Notifier, String)>,
    json: bool,
    live: bool,
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
    folder: Folder,
    summaries: Vec<Alert>,
    last_sweep: Instant,
    last_gauges: Instant,
    action_lag: Latencies,
}

impl Agent<'_> {
    /// Sends an alert that was not folded: to the server, the webhooks, the output. `false`: the output is gone.
    fn send(&mut self, al: &Alert) -> Result<bool> {
        if let Some(s) = self.shipper {
            s.alert(al);
        }
        if let Some((n, node)) = self.notifier {
            n.alerts([(node.as_str(), al)]);
        }
        print_alert(&mut self.out, al, self.json)
    }

    /// Sends the summaries the folder gave.
    fn send_summaries(&mut self) -> Result<bool> {
        let summaries = std::mem::take(&mut self.summaries);
        for s in &summaries {
            if !self.send(s)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The chores that go by the clock, not by events: live, the response engine's sweep of gone containers
    /// (every [`kestrel_respond::SWEEP_EVERY`]); once a second, the verdicts fetched from the server (a lock) and
    /// the shipping gauges.
    fn housekeep(&mut self) {
        if let Some(r) =
            self.responder.as_mut().filter(|_| self.live && self.last_sweep.elapsed() >= kestrel_respond::SWEEP_EVERY)
        {
            self.last_sweep = Instant::now();
            for id in r.sweep() {
                note!("kestrel: container with cgroup {id} is gone: its isolation and blocks released");
            }
        }
        if self.last_gauges.elapsed() < std::time::Duration::from_secs(1) {
            return;
        }
        self.last_gauges = Instant::now();
        let Some(s) = self.shipper else { return };
        if let Some(r) = self.responder.as_mut() {
            apply_verdicts(r, s);
        }
        let st = s.stats();
        for (k, v) in [
            ("delivered", st.delivered),
            ("spooled", st.spooled),
            ("spool_bytes", st.spool_bytes),
            ("dropped_spool_full", st.dropped_spool_full),
            ("dropped_queue_full", st.dropped_queue_full),
            ("rejected", st.rejected),
        ] {
            metrics::gauge!("kestrel_agent_ship", "counter" => k).set(v as f64);
        }
    }

    /// Live, as time passes with or without events: the chores, and the summaries of storms whose window has
    /// closed by `now_ns`, sent at once.
    fn tick(&mut self, now_ns: u64) -> Result<bool> {
        self.housekeep();
        self.folder.due(now_ns, &mut self.summaries);
        if self.summaries.is_empty() {
            return Ok(true);
        }
        let go_on = self.send_summaries()?;
        self.out.flush().ok();
        Ok(go_on)
    }
}

/// Durations in nanoseconds, counted in a histogram of fixed size (1 ns to an hour, three significant digits:
/// about 300 kB), however many are recorded; longer ones count as an hour.
struct Latencies(hdrhistogram::Histogram<u64>);

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies(hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds"))
    }
}

impl Latencies {
    fn record(&mut self, ns: u64) {
        self.0.saturating_record(ns.max(1));
    }

    fn len(&self) -> usize {
        self.0.len() as usize
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The duration at quantile `q` (0 to 1), to three significant digits; 0 with none recorded.
    fn quantile(&self, q: f64) -> u64 {
        if self.is_empty() {
            0
        } else {
            self.0.value_at_quantile(q)
        }
    }
}

/// `builtin`: how many of the rules are kestrel's own, when they were loaded beside the files given.
fn print_report(r: &LoadReport, builtin: Option<usize>, format: EvalFormat) -> Result<()> {
    if format == EvalFormat::Json {
        say!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    let never = r.never_match.len();
    let of = match builtin {
        Some(b) => format!(" (kestrel's {b} built-in ones among them; --no-builtin leaves those out)"),
        None => String::new(),
    };
    say!(
        "{}{of}: {} loaded and enabled ({} of them need event types kestrel does not produce), {} disabled by their files, {} skipped",
        counted(r.rules, "rule"), r.loaded, never, r.disabled, r.skipped.len()
    );
    if !r.missing_fields.is_empty() {
        say!("\nfields not supported (rules each one stops):");
        let mut v: Vec<_> = r.missing_fields.iter().collect();
        v.sort_by_key(|(k, rules)| (std::cmp::Reverse(rules.len()), *k));
        for (f, rules) in v {
            let near = r.did_you_mean.get(f).map(|n| format!("  (did you mean {n}?)")).unwrap_or_default();
            say!("  {f:<28} {}{near}", rules.len());
        }
    }
    if !r.missing_operators.is_empty() {
        say!("\noperators not supported:");
        for (o, rules) in &r.missing_operators {
            say!("  {o:<28} {}", rules.len());
        }
    }
    if !r.skipped.is_empty() {
        say!("\nskipped:");
        for (rule, why) in &r.skipped {
            say!("  {rule}: {why}");
        }
    }
    if never > 0 {
        say!("\nloaded, but needing event types kestrel does not produce:");
        for (rule, types) in &r.never_match {
            say!("  {rule}: {}", types.join(", "));
        }
    }
    if !r.missing_output_fields.is_empty() {
        say!(
            "\noutput fields printed as <NA>: {}",
            r.missing_output_fields.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    for p in &r.problems {
        say!("problem: {p}");
    }
    Ok(())
}

pub fn rules(a: RulesArgs) -> Result<ExitCode> {
    let c = load_rules(&a.files, !a.no_builtin)?;
    // The files' rules may use the built-in macros, so both load together; the count says which is which.
    let builtin =
        (!a.no_builtin && !a.files.is_empty()).then(|| load_rules(&[], true).map(|b| b.report.rules)).transpose()?;
    print_report(&c.report, builtin, a.format)?;
    Ok(ExitCode::SUCCESS)
}

fn find(store: &ProfileStore, workload: &str) -> Result<Profile> {
    store
        .load_all()?
        .into_iter()
        .find(|p| p.workload == workload)
        .with_context(|| format!("no profile for workload {workload:?}"))
}

pub fn profile(cmd: ProfileCommand) -> Result<ExitCode> {
    match cmd {
        ProfileCommand::List(d) => {
            let store = ProfileStore::new(&d.profiles);
            let all = store.load_all()?;
            if all.is_empty() {
                let why = if d.profiles.is_dir() { "holds no profiles" } else { "does not exist" };
                note!("kestrel: {}: {why} (`kestrel learn --profiles DIR` makes them)", d.profiles.display());
            }
            if d.format == EvalFormat::Json {
                let v: Vec<_> = all
                    .iter()
                    .map(|p| {
                        let (b, gr) = p.trusted_counts();
                        serde_json::json!({"workload": p.workload, "version": p.version, "mode": p.mode,
                            "events": p.events, "containers": p.containers.len(), "windows": p.windows,
                            "behaviours": p.behaviours.len(), "trusted_behaviours": b, "grams": p.grams.len(),
                            "trusted_grams": gr, "syscall_threshold": p.syscall_threshold, "drift_pending": p.drift_pending,
                            "reported": p.reported.map(kestrel_core::leavable_names),
                            "versions": store.versions(&p.workload).unwrap_or_default()})
                    })
                    .collect();
                say!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                say!(
                    "{:<32} {:>4} {:<8} {:>9} {:>5} {:>11} {:>12}",
                    "WORKLOAD",
                    "VER",
                    "MODE",
                    "EVENTS",
                    "CONT",
                    "BEHAVIOURS",
                    "GRAMS"
                );
                for p in &all {
                    let (b, gr) = p.trusted_counts();
                    say!(
                        "{:<32} {:>4} {:<8} {:>9} {:>5} {:>5}/{:<5} {:>6}/{:<6}{}",
                        p.workload,
                        p.version,
                        p.mode.as_str(),
                        p.events,
                        p.containers.len(),
                        b,
                        p.behaviours.len(),
                        gr,
                        p.grams.len(),
                        if p.drift_pending { "  drift: waiting for approval" } else { "" }
                    );
                }
            }
        }
        ProfileCommand::Show(w) => {
            let p = find(&ProfileStore::new(&w.dir.profiles), &w.workload)?;
            if w.dir.format == EvalFormat::Json {
                say!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                say!("{}", p.baseline());
                let mut bs: Vec<_> = p.behaviours.iter().collect();
                bs.sort_by(|a, b| (a.view, &a.key).cmp(&(b.view, &b.key)));
                for b in bs {
                    let trusted = p.knows(b.view, &b.key);
                    say!(
                        "  {:<9} {:<7} {:>7}× {}, {}  {}",
                        b.view.name(),
                        if trusted { "trusted" } else { "pending" },
                        b.count,
                        counted(b.contributors.len(), "container"),
                        counted(b.windows.len(), "window"),
                        b.key
                    );
                }
                for (who, dir) in &p.wide.dirs {
                    say!("  data      {who}: names below {dir} are its data (written *)");
                }
            }
        }
        ProfileCommand::Pull(pull) => {
            let path = format!(
                "/api/v1/profiles/{}/merged?k={}",
                percent_encoding::utf8_percent_encode(&pull.workload, percent_encoding::NON_ALPHANUMERIC),
                pull.k
            );
            let v =
                crate::server::get_json(&pull.server, &pull.server_token, pull.server_ca.as_deref(), &path, 256 << 20)?;
            let mut merged: Profile =
                serde_json::from_value(v["profile"].clone()).with_context(|| format!("{path}: not a profile"))?;
            merged.reindex();
            let path = ProfileStore::new(&pull.profiles).save(&merged)?;
            note!(
                "kestrel: {} merged from {} nodes (k = {}) → {}",
                merged.baseline(),
                v["nodes"].as_array().map_or(0, |n| n.len()),
                v["k"],
                path.display()
            );
        }
        ProfileCommand::Mode(m) => {
            let store = ProfileStore::new(&m.dir.profiles);
            let mut p = find(&store, &m.workload)?;
            p.set_mode(mode_of(m.mode), now_ns());
            store.save(&p)?;
            note!("kestrel: {} is now in {} mode", p.workload, p.mode.as_str());
        }
        ProfileCommand::Relearn(w) => {
            let store = ProfileStore::new(&w.dir.profiles);
            let mut p = find(&store, &w.workload)?;
            p.relearn(now_ns());
            store.save(&p)?;
            note!("kestrel: {} v{} is learning again", p.workload, p.version);
        }
        ProfileCommand::Rollback(r) => {
            let store = ProfileStore::new(&r.dir.profiles);
            let p = store.rollback(&r.workload, r.to_version)?;
            note!("kestrel: {} is back at v{} ({})", p.workload, p.version, p.mode.as_str());
        }
        ProfileCommand::Merge(m) => {
            let mut nodes = Vec::new();
            for input in &m.inputs {
                let (node, path) = match input.split_once('=') {
                    Some((n, p)) => (n.to_string(), std::path::PathBuf::from(p)),
                    None => (input.clone(), std::path::PathBuf::from(input)),
                };
                nodes.push((node, ProfileStore::read(&path)?));
            }
            let workload = nodes[0].1.workload.clone();
            if let Some((n, p)) = nodes.iter().find(|(_, p)| p.workload != workload) {
                bail!("{n}: profile of {:?}, not {workload:?}", p.workload);
            }
            let refs: Vec<(&str, &Profile)> = nodes.iter().map(|(n, p)| (n.as_str(), p)).collect();
            let merged = profile::merge(&workload, &refs, m.k);
            let path = ProfileStore::new(&m.profiles).save(&merged)?;
            let n = nodes.len();
            let nodes = counted(n, "node");
            note!("kestrel: merged {nodes}: {} → {}", merged.baseline(), path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What one detector variant did on one recording.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct LabRun {
    /// Alarm episodes before the attack (or in a normal recording).
    false_alarms: usize,
    /// Whether an alarm came after the attack's start.
    detected: bool,
    /// Time from the attack's start to the first alarm (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    detection_ms: Option<f64>,
    /// What raised the first alarm after the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    first: Option<String>,
    /// Alerts after the start.
    alerts_after: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
enum Variant {
    Rules,
    Profiles,
    Both,
}

const VARIANTS: [Variant; 3] = [Variant::Rules, Variant::Profiles, Variant::Both];

/// Alarms of one container closer than this count once.
const EPISODE_NS: u64 = 10_000_000_000;

fn is_marker(e: &Event) -> bool {
    matches!(&e.kind, kestrel_core::EventKind::Exec { argv, .. } if argv.get(1).map(String::as_str) == Some("kestrel-attack-start"))
}

/// Runs each variant's fresh detector over one recording, read once; returns each variant's run, in
/// [`VARIANTS`]' order, and the container-time covered (ns).
fn lab_run(fresh: impl Fn(Variant) -> Detector, recording: Recording) -> Result<([LabRun; 3], u64)> {
    let mut dets = VARIANTS.map(|v| {
        let mut det = fresh(v);
        det.set_workload_by(workload_by(WorkloadByArg::Label, Some(&recording.header)));
        det.set_reports(recording.header.reports.as_deref());
        (v, det)
    });
    let mut runs: [LabRun; 3] = Default::default();
    let mut last_alarm: [std::collections::HashMap<String, u64>; 3] = Default::default();
    let mut marker: Option<(u64, u32)> = None;
    let mut span: std::collections::HashMap<String, (u64, u64)> = Default::default();
    recording.events(|e| {
        if let Some(c) = &e.container {
            let s = span.entry(c.id.clone()).or_insert((e.time_ns, e.time_ns));
            s.0 = s.0.min(e.time_ns);
            s.1 = s.1.max(e.time_ns);
        }
        if marker.is_none() && is_marker(&e) {
            marker = Some((e.time_ns, e.pid));
        }
        // The marker's own process (the runtime's exec of `true`) is not part of the attack.
        if marker.is_some_and(|(_, pid)| pid == e.pid) {
            return Ok(true);
        }
        for (((variant, det), run), last_alarm) in dets.iter_mut().zip(&mut runs).zip(&mut last_alarm) {
            let alerts = match variant {
                Variant::Rules => det.process_rules_only(&e),
                _ => det.process(&e),
            };
            let alerts: Vec<_> = alerts
                .into_iter()
                .filter(|a| *variant != Variant::Profiles || matches!(a.source, AlertSource::Model { .. }))
                .collect();
            if alerts.is_empty() {
                continue;
            }
            match marker {
                Some((t0, _)) => {
                    run.alerts_after += alerts.len();
                    if !run.detected {
                        run.detected = true;
                        run.detection_ms = Some(e.time_ns.saturating_sub(t0) as f64 / 1e6);
                        run.first = Some(match &alerts[0].source {
                            AlertSource::Rule { name, .. } => format!("rule: {name}"),
                            AlertSource::Model { name, .. } => format!("model {name}: {}", alerts[0].title),
                        });
                    }
                }
                None => {
                    let who = e.container.as_ref().map(|c| c.id.clone()).unwrap_or_default();
                    let prev = last_alarm.insert(who, e.time_ns);
                    if prev.is_none_or(|p| e.time_ns.saturating_sub(p) > EPISODE_NS) {
                        run.false_alarms += 1;
                        for a in &alerts {
                            tracing::info!("false alarm ({variant:?}): {}", a.title);
                        }
                    }
                }
            }
        }
        Ok(true)
    })?;
    let covered = span.values().map(|(a, b)| b - a).sum();
    Ok((runs, covered))
}

/// Profiles learned from normal-load recordings (workloads by their `image` label) and put in monitor mode,
/// with the number of events learned from: what `eval lab` and `eval speed` start from.
fn learn_for_eval(paths: &[std::path::PathBuf], policy: &Policy) -> Result<(Vec<Profile>, u64)> {
    let mut learner =
        Detector::new(RuleSet::default().compile(), vec![], policy.clone(), WorkloadBy::Image, Stage::Learn);
    for path in paths {
        let recording = Recording::open(path)?;
        learner.set_workload_by(workload_by(WorkloadByArg::Label, Some(&recording.header)));
        learner.set_reports(recording.header.reports.as_deref());
        learner.new_stream();
        recording.events(|e| {
            learner.process(&e);
            Ok(true)
        })?;
    }
    let learned = learner.counters.learned;
    let mut profiles = learner.into_profiles();
    for p in &mut profiles {
        p.set_mode(Mode::Monitor, 0);
    }
    Ok((profiles, learned))
}

/// A detector for one variant: `rules` (as loaded: built-in, from files, or both), the profiles, or both.
fn variant_detector(v: Variant, rules: &CompiledRules, profiles: &[Profile], policy: &Policy) -> Detector {
    let rules = match v {
        Variant::Profiles => RuleSet::default().compile(),
        _ => rules.clone(),
    };
    let ps = if v == Variant::Rules { vec![] } else { profiles.to_vec() };
    Detector::new(rules, ps, policy.clone(), WorkloadBy::Image, Stage::Detect)
}

/// One line on the rule files an evaluation was given.
fn say_rules_loaded(rules: &CompiledRules) {
    let r = &rules.report;
    say!(
        "rules: {} of {} loaded ({} disabled by their files, {} skipped)",
        r.loaded,
        r.rules,
        r.disabled,
        r.skipped.len()
    );
}

pub fn eval_lab(a: crate::cli::EvalLabArgs) -> Result<ExitCode> {
    let started = Instant::now();
    // Learn.
    let policy = Policy { k: a.k.max(1), ..Policy::default() };
    let (profiles, learned_events) = learn_for_eval(&a.learn, &policy)?;
    let rules = load_rules(&a.rules, !a.no_builtin_rules)?;
    if !a.rules.is_empty() && a.format != EvalFormat::Json {
        say_rules_loaded(&rules);
    }
    let fresh = |v: Variant| variant_detector(v, &rules, &profiles, &policy);
    let mut report = serde_json::Map::new();
    report.insert("schema".into(), "kestrel.eval.lab/v1".into());
    report.insert(
        "profiles".into(),
        profiles.iter().map(|p| serde_json::Value::String(p.baseline())).collect::<Vec<_>>().into(),
    );
    report.insert("learned_events".into(), learned_events.into());
    report.insert("rules_loaded".into(), rules.report.loaded.into());
    // Held-out normal load.
    let mut normal = serde_json::Map::new();
    let mut hours = 0.0;
    let mut normal_false = [0usize; 3];
    for path in &a.normal {
        let mut per = serde_json::Map::new();
        let (runs, covered) = lab_run(fresh, Recording::open(path)?)?;
        hours += covered as f64 / 3.6e12;
        per.insert("container_hours".into(), (covered as f64 / 3.6e12).into());
        for (i, (v, run)) in VARIANTS.iter().zip(runs).enumerate() {
            normal_false[i] += run.false_alarms;
            per.insert(format!("{v:?}").to_lowercase(), run.false_alarms.into());
        }
        normal.insert(path.display().to_string(), per.into());
    }
    report.insert("normal".into(), normal.into());
    report.insert("normal_container_hours".into(), hours.into());
    for (i, v) in VARIANTS.iter().enumerate() {
        let rate = if hours > 0.0 { normal_false[i] as f64 / hours } else { 0.0 };
        report.insert(format!("false_alarms_per_container_hour_{v:?}").to_lowercase(), rate.into());
    }
    // Scenarios.
    let mut scenarios = Vec::new();
    for path in &a.scenarios {
        let recording = Recording::open(path)?;
        let name = recording.header.labels.get("scenario").cloned().unwrap_or_else(|| path.display().to_string());
        let mut row = serde_json::Map::new();
        row.insert("scenario".into(), name.into());
        let (runs, _) = lab_run(fresh, recording)?;
        for (v, run) in VARIANTS.iter().zip(runs) {
            row.insert(format!("{v:?}").to_lowercase(), serde_json::to_value(&run)?);
        }
        scenarios.push(serde_json::Value::Object(row));
    }
    let detected = |v: &str| scenarios.iter().filter(|s| s[v]["detected"] == true).count();
    for v in ["rules", "profiles", "both"] {
        report.insert(format!("detected_{v}"), detected(v).into());
    }
    report.insert("scenario_count".into(), scenarios.len().into());
    report.insert("scenarios".into(), scenarios.clone().into());
    report.insert("seconds".into(), started.elapsed().as_secs_f64().into());
    if a.format == EvalFormat::Json {
        say!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    for p in &profiles {
        say!("{}", p.baseline());
    }
    say!(
        "\nheld-out normal load: {hours:.3} container-hours; false alarms rules {}, profiles {}, both {} ({:.1}, {:.1}, {:.1} per container-hour)",
        normal_false[0],
        normal_false[1],
        normal_false[2],
        normal_false[0] as f64 / hours.max(f64::EPSILON),
        normal_false[1] as f64 / hours.max(f64::EPSILON),
        normal_false[2] as f64 / hours.max(f64::EPSILON)
    );
    let width = scenarios.iter().filter_map(|s| s["scenario"].as_str()).map(|n| n.chars().count()).max().unwrap_or(0);
    let width = width.max("scenario".len());
    say!("\n{:<width$} {:>14} {:>14} {:>14}  first alarm (both)", "scenario", "rules", "profiles", "both");
    let cell = |r: &serde_json::Value| {
        let d = if r["detected"] == true {
            format!("yes {:.0} ms", r["detection_ms"].as_f64().unwrap_or(0.0))
        } else {
            "no".into()
        };
        format!("{d} /{}", r["false_alarms"])
    };
    for s in &scenarios {
        say!(
            "{:<width$} {:>14} {:>14} {:>14}  {}",
            s["scenario"].as_str().unwrap_or(""),
            cell(&s["rules"]),
            cell(&s["profiles"]),
            cell(&s["both"]),
            s["both"]["first"].as_str().unwrap_or("-")
        );
    }
    say!(
        "\ndetected: rules {}/{n}, profiles {}/{n}, both {}/{n} (cell: detected, time from the attack's start / false alarms before it)",
        detected("rules"),
        detected("profiles"),
        detected("both"),
        n = scenarios.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn eval_speed(a: crate::cli::EvalSpeedArgs) -> Result<ExitCode> {
    let policy = Policy::default();
    let (profiles, _) = learn_for_eval(&a.learn, &policy)?;
    let rules = load_rules(&a.rules, !a.no_builtin_rules)?;
    if !a.rules.is_empty() {
        say_rules_loaded(&rules);
    }
    // Every event in memory, with the workload grouping of its recording.
    let mut traces: Vec<(WorkloadBy, Vec<Event>)> = Vec::new();
    for path in &a.traces {
        let recording = Recording::open(path)?;
        let by = workload_by(WorkloadByArg::Label, Some(&recording.header));
        let mut events = Vec::new();
        recording.events(|e| {
            events.push(e);
            Ok(true)
        })?;
        // Made again here, one after the other on the scoring thread, as a stream makes them: the reader parses its
        // batches on every core, so each event's strings and vectors lie in the allocator's arenas of the pool's
        // threads, interleaved, and the timed loop below would measure how scattered they are.
        let events: Vec<Event> = events.to_vec();
        traces.push((by, events));
    }
    let per_pass: u64 = traces.iter().map(|(_, v)| v.len() as u64).sum();
    if per_pass == 0 {
        bail!("the recordings hold no events");
    }
    let passes = a.min_events.div_ceil(per_pass).max(1);
    let syscalls: u64 = traces
        .iter()
        .flat_map(|(_, v)| v.iter())
        .map(|e| match &e.kind {
            kestrel_core::EventKind::Syscalls { ids } => ids.len() as u64,
            _ => 0,
        })
        .sum();
    say!("{} events a pass ({} system calls in `syscalls` batches), {passes} passes, one thread", per_pass, syscalls);
    say!("{:<10} {:>12} {:>14} {:>10} {:>8}", "detector", "events/s", "syscalls/s", "ns/event", "alerts");
    for v in VARIANTS {
        let mut det = variant_detector(v, &rules, &profiles, &policy);
        let mut alerts = 0usize;
        let t0 = Instant::now();
        for _ in 0..passes {
            for (by, events) in &traces {
                det.set_workload_by(by.clone());
                det.new_stream();
                for e in events {
                    alerts += match v {
                        Variant::Rules => det.process_rules_only(e).len(),
                        _ => det.process(e).len(),
                    };
                }
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let n = (per_pass * passes) as f64;
        say!(
            "{:<10} {:>12.0} {:>14.0} {:>10.0} {:>8}",
            format!("{v:?}").to_lowercase(),
            n / secs,
            (syscalls * passes) as f64 / secs,
            secs * 1e9 / n,
            alerts
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn respond(cmd: crate::cli::RespondCommand) -> Result<ExitCode> {
    use crate::cli::RespondCommand;
    use kestrel_respond::{AuditLog, Responder};
    match cmd {
        RespondCommand::List(a) => {
            let log = AuditLog::new(&a.audit);
            let all = log.decisions();
            if all.is_empty() {
                let why = if a.audit.exists() { "holds no decision yet" } else { "does not exist" };
                note!("kestrel: {}: {why} (`kestrel detect --respond POLICY` writes it)", a.audit.display());
            }
            if a.format == EvalFormat::Json {
                say!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                say!("{:<40} {:<18} {:<13} {:<20} {:>9}  {}", "ID", "OUTCOME", "ACTION", "WORKLOAD", "TOOK", "DETAIL");
                for d in &all {
                    let outcome = match d.outcome {
                        kestrel_respond::Outcome::Intent => "in-progress?",
                        o => o.as_str(),
                    };
                    say!(
                        "{:<40} {:<18} {:<13} {:<20} {:>7}µs  {}",
                        d.id,
                        outcome,
                        d.action.as_str(),
                        d.workload,
                        d.took_us,
                        d.detail
                    );
                }
            }
        }
        RespondCommand::Approve(a) => {
            let policy = match &a.policy {
                Some(p) => kestrel_respond::Policy::parse(
                    &p.display().to_string(),
                    &crate::read_input_text(p, MAX_POLICY_FILE, "a response policy")?,
                )?,
                None => kestrel_respond::Policy::parse("(none)", "dry_run: false")?,
            };
            let root = kestrel_sensor::cgroup::cgroup2_root().context("no cgroup v2 hierarchy is mounted")?;
            let mut r = Responder::new(policy, AuditLog::new(&a.audit), root, "/sys/fs/bpf");
            let d = r.approve(&a.id).map_err(anyhow::Error::msg)?;
            note!("kestrel: {} {}: {}", d.id, d.outcome.as_str(), d.detail);
            if d.outcome != kestrel_respond::Outcome::Acted {
                return Ok(ExitCode::from(1));
            }
        }
        RespondCommand::Recover(a) => {
            let policy = kestrel_respond::Policy::parse("(none)", "dry_run: false")?;
            let root = kestrel_sensor::cgroup::cgroup2_root().context("no cgroup v2 hierarchy is mounted")?;
            let mut r = Responder::new(policy, AuditLog::new(&a.audit), root, "/sys/fs/bpf");
            let settled = r.recover();
            if settled.is_empty() {
                note!("kestrel: no action was left between intent and outcome");
            }
            for d in settled {
                note!("kestrel: {} {}: {}", d.id, d.outcome.as_str(), d.detail);
            }
        }
        RespondCommand::Undo(a) => {
            let root = kestrel_sensor::cgroup::cgroup2_root().context("no cgroup v2 hierarchy is mounted")?;
            let mut finder = kestrel_respond::CgroupFinder::new(root);
            let d = kestrel_respond::undo(
                &AuditLog::new(&a.audit),
                &mut finder,
                std::path::Path::new("/sys/fs/bpf"),
                &a.id,
            )
            .map_err(anyhow::Error::msg)?;
            note!("kestrel: {} undone: {}", d.id, d.detail);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::Latencies;

    /// A million durations: the histogram's quantiles are a sort's to its three digits, in the room it had empty.
    #[test]
    fn latencies_are_quantiles_of_a_histogram_of_fixed_size() {
        let mut l = Latencies::default();
        assert_eq!((l.quantile(0.99), l.is_empty()), (0, true));
        let room = l.0.distinct_values();
        let mut all = Vec::new();
        let mut x = 7u64;
        for _ in 0..1_000_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            // Mostly a few microseconds, a tail to tens of milliseconds.
            let v = if (x >> 20).is_multiple_of(100) {
                1_000_000 + (x >> 33) % 50_000_000
            } else {
                300 + (x >> 33) % 5_000
            };
            l.record(v);
            all.push(v);
        }
        all.sort_unstable();
        for q in [0.5, 0.9, 0.99, 0.999] {
            let want = all[((all.len() - 1) as f64 * q) as usize] as f64;
            let got = l.quantile(q) as f64;
            assert!((got - want).abs() <= want * 0.001 + 1.0, "quantile {q}: {got} against {want}");
        }
        assert_eq!((l.len(), l.0.distinct_values()), (1_000_000, room));
        // Past an hour: counted as an hour, not lost.
        l.record(u64::MAX);
        assert_eq!(l.len(), 1_000_001);
    }
}
