//! Folding alert storms: alerts alike — one container, one rule or one profile's view — that come faster than a
//! person reads them are sent as one summary instead of one by one.
//!
//! A workload that drifts (a new release), or an attacker who scans ports, makes one kind of alert by the
//! thousand: the soak bench's container, connecting to a new port each turn, raised 12,809 alerts in 25 minutes,
//! each one correct and together useless. [`Folder`] lets the first `after` alerts of a kind through in each
//! `window` (from the first of them), counts the rest, and when the window closes gives one summary alert in their
//! place: how many, over what span, their titles with counts (the ten most unusual first — highest score, then most
//! frequent), the last one's evidence.
//!
//! What an attacker could hide behind a storm is bounded:
//! - a kind is one container's one rule, or one container's one view of its profile (process, file, network…):
//!   a storm of new ports does not fold a shell, a rule's match, nor another container's alerts;
//! - an alert more severe than every one let through in its window is let through too (and raises the bar);
//! - the caller lets through whatever else it must (`kestrel detect`: any alert the response engine acted on,
//!   tried, would act on in a dry run, or waits for approval on),
//!   and the response engine sees every alert, folded or not: folding is for people, never for the response;
//! - nothing is dropped: each folded alert is counted in a summary, and the summary keeps their titles — the
//!   [`MAX_TITLES`] highest-scoring, so a behaviour more unusual than the storm's is named first, not lost among
//!   the storm's own.

use kestrel_core::{Alert, AlertSource, Folded, Severity};
use std::collections::HashMap;

/// Kinds with an open window, at most: past it every folded alert is summarised at once and the windows start
/// again (alerts from 10,000 containers at once).
pub const MAX_KINDS: usize = 10_000;

/// Distinct titles a summary counts, at most (the rest are counted together).
pub const MAX_TITLES: usize = 64;

/// Titles a summary names, the highest-scoring first.
pub const SHOWN_TITLES: usize = 10;

/// Folds storms of alike alerts into summaries. Time is the alerts' own (`time_ns`), so a recording folds as the
/// live stream it came from did.
#[derive(Debug)]
pub struct Folder {
    after: u32,
    window_ns: u64,
    kinds: HashMap<Kind, Slot>,
    /// The earliest end of a window holding folded alerts (`u64::MAX` for none).
    next_due: u64,
    /// Alerts folded so far.
    pub folded: u64,
    /// Summaries given so far (each summary's id is numbered by it).
    pub summaries: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Kind {
    container: String,
    source: String,
}

#[derive(Debug)]
struct Slot {
    start: u64,
    shown: u32,
    /// The most severe alert let through in this window.
    bar: Severity,
    fold: Option<Fold>,
}

#[derive(Debug)]
struct Fold {
    count: u64,
    first_ns: u64,
    last_ns: u64,
    severity: Severity,
    score: f64,
    /// Titles, how often each came and its highest score (at most [`MAX_TITLES`], the highest-scoring; the others
    /// counted in `other`).
    titles: Vec<Title>,
    other: u64,
    /// The last folded alert (its source, container, workload, tags and evidence are the summary's).
    last: Alert,
}

#[derive(Debug)]
struct Title {
    text: String,
    count: u64,
    score: f64,
}

impl Fold {
    /// Counts a folded alert's title. When [`MAX_TITLES`] are kept, a new title scoring higher than the lowest-scoring
    /// one kept takes its place (that one's alerts are counted in `other`), so the most unusual are named.
    fn count_title(&mut self, a: &Alert) {
        if let Some(t) = self.titles.iter_mut().find(|t| t.text == a.title) {
            t.count += 1;
            t.score = t.score.max(a.score);
            return;
        }
        let new = Title { text: a.title.clone(), count: 1, score: a.score };
        if self.titles.len() < MAX_TITLES {
            self.titles.push(new);
            return;
        }
        let low = (0..self.titles.len())
            .min_by(|&i, &j| self.titles[i].score.total_cmp(&self.titles[j].score))
            .expect("MAX_TITLES > 0");
        if a.score > self.titles[low].score {
            self.other += self.titles[low].count;
            self.titles[low] = new;
        } else {
            self.other += 1;
        }
    }
}

impl Folder {
    /// Lets `after` alerts of a kind through in each `window_ns`; `after` 0 folds nothing.
    pub fn new(after: u32, window_ns: u64) -> Folder {
        Folder {
            after,
            window_ns: window_ns.max(1),
            kinds: HashMap::new(),
            next_due: u64::MAX,
            folded: 0,
            summaries: 0,
        }
    }

    /// Whether `a` goes out now (`true`) or is folded into its kind's summary (`false`). `must` lets it through
    /// whatever the count (it still counts toward the window). Summaries of windows that have closed by `a`'s time
    /// are pushed to `summaries` first — the caller sends them before `a`.
    pub fn admit(&mut self, a: &Alert, must: bool, summaries: &mut Vec<Alert>) -> bool {
        if self.after == 0 {
            return true;
        }
        self.due(a.time_ns, summaries);
        let kind =
            Kind { container: a.container.as_ref().map_or_else(String::new, |c| c.id.clone()), source: source_key(a) };
        if !self.kinds.contains_key(&kind) && self.kinds.len() >= MAX_KINDS {
            self.flush(summaries);
        }
        let window_ns = self.window_ns;
        let slot =
            self.kinds.entry(kind).or_insert(Slot { start: a.time_ns, shown: 0, bar: Severity::Unknown, fold: None });
        if a.time_ns >= slot.start.saturating_add(window_ns) {
            // This kind's window has closed (its summary, if any, was given by `due` above).
            *slot = Slot { start: a.time_ns, shown: 0, bar: Severity::Unknown, fold: None };
        }
        if must || slot.shown < self.after || a.severity > slot.bar {
            slot.shown = slot.shown.saturating_add(1);
            slot.bar = slot.bar.max(a.severity);
            return true;
        }
        let end = slot.start.saturating_add(window_ns);
        match &mut slot.fold {
            Some(f) => {
                f.count += 1;
                f.first_ns = f.first_ns.min(a.time_ns);
                f.last_ns = f.last_ns.max(a.time_ns);
                f.severity = f.severity.max(a.severity);
                f.score = f.score.max(a.score);
                f.count_title(a);
                f.last = a.clone();
            }
            None => {
                slot.fold = Some(Fold {
                    count: 1,
                    first_ns: a.time_ns,
                    last_ns: a.time_ns,
                    severity: a.severity,
                    score: a.score,
                    titles: vec![Title { text: a.title.clone(), count: 1, score: a.score }],
                    other: 0,
                    last: a.clone(),
                });
                self.next_due = self.next_due.min(end);
            }
        }
        self.folded += 1;
        false
    }

    /// Pushes the summaries of every window that has closed by `now_ns` to `out` (call it as time passes, so a
    /// storm that stops is summarised without waiting for the next alert of its kind).
    pub fn due(&mut self, now_ns: u64, out: &mut Vec<Alert>) {
        if now_ns < self.next_due {
            return;
        }
        let window_ns = self.window_ns;
        let mut next = u64::MAX;
        let mut closed = Vec::new();
        self.kinds.retain(|_, slot| {
            let end = slot.start.saturating_add(window_ns);
            if end > now_ns {
                if slot.fold.is_some() {
                    next = next.min(end);
                }
                return true;
            }
            if let Some(f) = slot.fold.take() {
                closed.push(f);
            }
            false
        });
        self.next_due = next;
        self.summarise(closed, out);
    }

    /// Pushes the summary of every window holding folded alerts, and forgets every window (at the end of a run).
    pub fn flush(&mut self, out: &mut Vec<Alert>) {
        let closed: Vec<Fold> = self.kinds.drain().filter_map(|(_, s)| s.fold).collect();
        self.next_due = u64::MAX;
        self.summarise(closed, out);
    }

    fn summarise(&mut self, mut closed: Vec<Fold>, out: &mut Vec<Alert>) {
        closed.sort_by_key(|f| f.last_ns);
        for f in closed {
            self.summaries += 1;
            out.push(self.summary(f));
        }
    }

    fn summary(&self, mut f: Fold) -> Alert {
        f.titles.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then_with(|| b.count.cmp(&a.count)).then_with(|| a.text.cmp(&b.text))
        });
        let span_s = (f.last_ns - f.first_ns) as f64 / 1e9;
        let mut explanation = vec![format!(
            "folded: {} more alike alerts from this {} in {:.0} s (more than {} a {:.0}-s window; each one went to the \
             response engine; `--fold-after 0` sends each)",
            f.count,
            if f.last.container.is_some() { "container" } else { "host" },
            span_s.max(1.0),
            self.after,
            self.window_ns as f64 / 1e9
        )];
        // What the titles share up to a `: ` (`unusual file behaviour in web: `) is said once.
        let shared = match f.titles.iter().map(|t| t.text.as_str()).reduce(common_prefix) {
            Some(p) if f.titles.len() > 1 => p.rfind(": ").map_or(0, |i| i + 2),
            _ => 0,
        };
        if shared > 0 {
            explanation.push(format!("{}…", &f.titles[0].text[..shared]));
        }
        for t in f.titles.iter().take(SHOWN_TITLES) {
            let title = &t.text[shared..];
            explanation.push(if t.count > 1 { format!("{} × {title}", t.count) } else { title.to_string() });
        }
        let more = f.titles.len().saturating_sub(SHOWN_TITLES);
        if more > 0 || f.other > 0 {
            let alerts: u64 = f.titles.iter().skip(SHOWN_TITLES).map(|t| t.count).sum::<u64>() + f.other;
            let alerts = kestrel_core::counted(alerts as usize, "alert");
            explanation.push(if f.other > 0 {
                format!("and more than {more} others ({alerts})")
            } else {
                format!("and {more} others ({alerts})")
            });
        }
        let what = match &f.last.source {
            AlertSource::Rule { name, .. } => format!("rule {name}"),
            AlertSource::Model { name, profile } => format!("{name} behaviour of {profile}"),
        };
        let mut tags = f.last.tags.clone();
        tags.push("folded".into());
        Alert {
            schema: kestrel_core::ALERT_SCHEMA.into(),
            id: format!("{:x}-f{}", f.last_ns, self.summaries),
            time_ns: f.last_ns,
            severity: f.severity,
            score: f.score,
            source: f.last.source.clone(),
            title: format!("{} more alerts folded: {what}", f.count),
            explanation,
            contributions: vec![],
            mitre: f.last.mitre.clone(),
            tags,
            container: f.last.container.clone(),
            workload: f.last.workload.clone(),
            evidence: std::mem::take(&mut f.last.evidence),
            folded: Some(Folded { count: f.count, first_ns: f.first_ns, last_ns: f.last_ns }),
        }
    }
}

/// The longest start two texts share (whole characters).
fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let end = a.char_indices().zip(b.chars()).find(|((_, x), y)| x != y).map_or(a.len().min(b.len()), |((i, _), _)| i);
    &a[..end]
}

/// What makes alerts alike besides their container: the rule, or the profile and its view.
fn source_key(a: &Alert) -> String {
    match &a.source {
        AlertSource::Rule { name, .. } => format!("rule\0{name}"),
        AlertSource::Model { name, .. } => format!("model\0{}\0{name}", a.workload.as_deref().unwrap_or("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kestrel_core::ContainerRef;

    const S: u64 = 1_000_000_000;

    fn alert(t: u64, container: &str, view: &str, title: &str, severity: Severity) -> Alert {
        Alert {
            schema: kestrel_core::ALERT_SCHEMA.into(),
            id: format!("{t:x}"),
            time_ns: t,
            severity,
            score: 0.6,
            source: AlertSource::Model { name: view.into(), profile: "web v1".into() },
            title: title.into(),
            explanation: vec![],
            contributions: vec![],
            mitre: vec![],
            tags: vec!["anomaly".into()],
            container: Some(ContainerRef { id: container.into(), runtime: "runc".into(), ..Default::default() }),
            workload: Some("web".into()),
            evidence: vec![],
            folded: None,
        }
    }

    /// Runs alerts through a folder, ending the run: what went out, in order.
    fn run(f: &mut Folder, alerts: &[Alert]) -> Vec<Alert> {
        let mut out = Vec::new();
        for a in alerts {
            let mut s = Vec::new();
            let pass = f.admit(a, false, &mut s);
            out.extend(s);
            if pass {
                out.push(a.clone());
            }
        }
        f.flush(&mut out);
        out
    }

    #[test]
    fn a_storm_goes_out_as_its_first_alerts_and_one_summary_per_window() {
        let mut f = Folder::new(3, 60 * S);
        // 100 new ports, one a second: windows [0, 60) and [60, 100).
        let storm: Vec<Alert> = (0..100)
            .map(|i| {
                let title = format!("unusual network behaviour in web: connect 127.0.0.1:{}", 1000 + i % 7);
                alert(i * S, "c1", "network", &title, Severity::Low)
            })
            .collect();
        let out = run(&mut f, &storm);
        let summaries: Vec<&Alert> = out.iter().filter(|a| a.folded.is_some()).collect();
        assert_eq!(out.len() - summaries.len(), 6, "three alerts let through a window");
        assert_eq!(summaries.len(), 2);
        assert_eq!(summaries[0].folded, Some(Folded { count: 57, first_ns: 3 * S, last_ns: 59 * S }));
        assert_eq!(summaries[1].folded, Some(Folded { count: 37, first_ns: 63 * S, last_ns: 99 * S }));
        // Nothing lost: every alert is out or counted.
        let counted: u64 = summaries.iter().map(|s| s.folded.as_ref().unwrap().count).sum();
        assert_eq!(counted + 6, 100);
        assert_eq!((f.folded, f.summaries), (94, 2));
        // The first window's summary goes out when the second window's first alert comes, before it.
        let at = out.iter().position(|a| a.folded.is_some()).unwrap();
        assert_eq!(out[at + 1].time_ns, 60 * S);
        // Titles counted, most frequent first; the container and source are the storm's.
        let s = summaries[0];
        assert_eq!(s.explanation[1], "unusual network behaviour in web: …", "{:?}", s.explanation);
        assert_eq!(s.explanation[2], "9 × connect 127.0.0.1:1003", "{:?}", s.explanation);
        assert_eq!(s.explanation[3], "8 × connect 127.0.0.1:1000", "{:?}", s.explanation);
        assert_eq!(s.explanation.len(), 2 + 7);
        assert_eq!(s.container.as_ref().unwrap().id, "c1");
        assert!(s.title.starts_with("57 more alerts folded: network behaviour of web v1"), "{}", s.title);
        assert!(s.tags.contains(&"folded".to_string()));
    }

    #[test]
    fn other_kinds_containers_and_more_severe_alerts_are_not_folded_behind_a_storm() {
        let mut f = Folder::new(2, 60 * S);
        let mut alerts: Vec<Alert> =
            (0..50).map(|i| alert(i * S, "c1", "network", "connect 127.0.0.1:N", Severity::Low)).collect();
        // In the middle of the storm: a shell (another view), the same storm's kind from another container, and a
        // more severe alert of the storm's own kind.
        alerts.insert(20, alert(20 * S, "c1", "process", "exec /bin/sh with parent nginx", Severity::Medium));
        alerts.insert(30, alert(30 * S, "c2", "network", "connect 127.0.0.1:N", Severity::Low));
        alerts.insert(40, alert(40 * S, "c1", "network", "connect 10.0.0.1:4444", Severity::High));
        let out = run(&mut f, &alerts);
        let shown: Vec<&str> = out.iter().filter(|a| a.folded.is_none()).map(|a| a.title.as_str()).collect();
        assert!(shown.contains(&"exec /bin/sh with parent nginx"));
        assert!(shown.contains(&"connect 10.0.0.1:4444"));
        assert_eq!(out.iter().filter(|a| a.container.as_ref().unwrap().id == "c2").count(), 1);
        // The storm: two let through, and the rest (48) in one summary, of the folded alerts' own severity.
        let s: Vec<&Alert> = out.iter().filter(|a| a.folded.is_some()).collect();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].folded.as_ref().unwrap().count, 48);
        assert_eq!(s[0].severity, Severity::Low);
    }

    #[test]
    fn a_summary_names_ten_titles_and_counts_the_rest() {
        let mut f = Folder::new(1, 600 * S);
        let alerts: Vec<Alert> = (0..100)
            .map(|i| {
                alert(i * S, "c1", "file", &format!("unusual file behaviour in web: open /tmp/{i:03}"), Severity::Low)
            })
            .collect();
        let out = run(&mut f, &alerts);
        let s = out.last().unwrap();
        assert_eq!(s.folded.as_ref().unwrap().count, 99);
        assert_eq!(s.explanation.len(), 1 + 1 + SHOWN_TITLES + 1, "{:?}", s.explanation);
        assert_eq!(s.explanation[2], "open /tmp/001");
        // 64 titles kept (10 named, 54 not), 35 more counted without their titles.
        assert_eq!(s.explanation.last().unwrap(), "and more than 54 others (89 alerts)");
    }

    #[test]
    fn a_more_unusual_title_is_named_first_however_late_it_comes() {
        let mut f = Folder::new(1, 600 * S);
        let mut alerts: Vec<Alert> = (0..100)
            .map(|i| {
                alert(i * S, "c1", "network", &format!("unusual network behaviour in web: port {i}"), Severity::Low)
            })
            .collect();
        // Of the same severity (no alert of a higher one is folded), but scored higher than the storm's 0.6.
        let mut c2 =
            alert(100 * S, "c1", "network", "unusual network behaviour in web: to 203.0.113.9:4444", Severity::Low);
        c2.score = 0.65;
        alerts.push(c2);
        let out = run(&mut f, &alerts);
        let s = out.last().unwrap();
        assert_eq!(s.folded.as_ref().unwrap().count, 100);
        assert_eq!(s.explanation[2], "to 203.0.113.9:4444", "{:?}", s.explanation);
        assert_eq!(s.score, 0.65);
        // Still 64 titles kept: the one it replaced counted among the others.
        assert_eq!(s.explanation.last().unwrap(), "and more than 54 others (90 alerts)");
    }

    #[test]
    fn must_lets_an_alert_through_and_zero_folds_nothing() {
        let mut f = Folder::new(1, 60 * S);
        let mut s = Vec::new();
        let a = alert(0, "c1", "file", "write /etc/passwd", Severity::Low);
        assert!(f.admit(&a, false, &mut s));
        assert!(!f.admit(&a, false, &mut s));
        assert!(f.admit(&a, true, &mut s));
        let mut off = Folder::new(0, 60 * S);
        assert!((0..1000).all(|_| off.admit(&a, false, &mut s)));
        assert!(s.is_empty());
    }

    #[test]
    fn a_storm_that_stops_is_summarised_as_time_passes_and_kinds_stay_bounded() {
        let mut f = Folder::new(1, 10 * S);
        let mut s = Vec::new();
        for i in 0..5 {
            f.admit(&alert(i * S, "c1", "file", "open /x", Severity::Low), false, &mut s);
        }
        f.due(9 * S, &mut s);
        assert!(s.is_empty(), "the window is still open");
        f.due(10 * S, &mut s);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].folded.as_ref().unwrap().count, 4);
        // Alerts from more containers than the folder keeps windows for: each container's first alert goes out,
        // what was folded is summarised, memory stays bounded.
        let mut f = Folder::new(1, 10 * S);
        let mut s = Vec::new();
        let mut through = 0;
        for i in 0..(MAX_KINDS as u64 + 10) {
            let c = format!("c{i}");
            through += usize::from(f.admit(&alert(S, &c, "file", "open /x", Severity::Low), false, &mut s));
            through += usize::from(f.admit(&alert(S, &c, "file", "open /x", Severity::Low), false, &mut s));
            assert!(f.kinds.len() <= MAX_KINDS);
        }
        assert_eq!(through, MAX_KINDS + 10);
        assert_eq!(s.len(), MAX_KINDS, "the windows forgotten at the limit were summarised");
    }
}
