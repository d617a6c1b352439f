//! Notifications: every new alert at or above a severity (the notifier's, or a target's own) is posted to
//! webhooks — kestrel's own JSON (`kestrel.notification/v1`, with a link to the alert's dashboard page when
//! the dashboard's address is known) or a chat message (`{"text": …}`, which Slack, Mattermost and
//! Rocket.Chat incoming webhooks take).
//!
//! Ingest never waits on a webhook: alerts go into a bounded queue that one thread empties, posting to every
//! target with a timeout and a few retries (a `429`'s `Retry-After` is honoured, up to 30 s). A JSON target
//! gets one post per alert, up to [`PARALLEL`] at a time (a slow endpoint still takes dozens a second); a chat
//! target gets the alerts waiting together in one message (at most [`CHAT_BATCH`]), so a burst does not run
//! into a chat's rate limit, and hears of alerts alike (same rule or model, workload, node) once per
//! [`Options::chat_quiet`], the next message saying how many it was spared. A full queue drops the notification (the
//! alert itself is stored) and counts it. A post that fails every attempt waits for its target to come back
//! ([`Options::retry_for`]): the target is tried again after 5 s, then after pauses doubling up to 5 minutes, and what
//! came for it meanwhile waits behind in order; what waits longer than `retry_for`, or finds [`WAITING`] ahead of it,
//! is given up and counted as failed. The server notifies only alerts stored for the first time, so an
//! agent re-sending a batch, or NATS redelivering it, notifies once; `kestrel detect --notify` uses the same
//! notifier on a node without a server, and [`Notifier::finish`] lets what is queued go out before it ends.

use kestrel_core::{Alert, Severity};
use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Notifications waiting to be posted, at most.
pub const QUEUE: usize = 1024;

/// Attempts per notification and target.
const ATTEMPTS: u32 = 3;

/// Alerts in one chat message, at most.
pub const CHAT_BATCH: usize = 20;

/// Alerts the posting thread takes from the queue at once, at most.
pub const TAKEN: usize = 64;

/// JSON posts in flight to one target, at most.
pub const PARALLEL: usize = 8;

/// Posts waiting for one target to come back, at most (a chat message counts once, whatever it carries).
pub const WAITING: usize = 1024;

/// The first pause before a target whose posts failed is tried again; doubled while it stays down, up to
/// [`RETRY_PAUSE_MAX`].
pub const RETRY_PAUSE: Duration = Duration::from_secs(5);

/// The longest pause between tries of a target that stays down.
pub const RETRY_PAUSE_MAX: Duration = Duration::from_secs(300);

/// What a webhook is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"schema": "kestrel.notification/v1", "node": …, "alert": {…}}`.
    Json,
    /// `{"text": "…"}`: a readable message for a chat's incoming webhook.
    Chat,
}

/// One webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http://` or `https://` URL.
    pub url: String,
    /// The body's shape.
    pub format: Format,
    /// The least severity this target is sent (none: the notifier's).
    pub min: Option<Severity>,
}

impl Target {
    /// `URL` (kestrel's JSON), `json:URL` or `chat:URL` (also `slack:URL`); the format may carry its own
    /// least severity: `chat@critical:URL`, `json@low:URL`.
    pub fn parse(spec: &str) -> Result<Target, String> {
        let bad = || {
            format!(
                "{spec:?}: a webhook is an http:// or https:// URL, optionally after json: or chat: (slack:), \
                 which may name a least severity (chat@critical:URL)"
            )
        };
        let (head, url) = match spec.split_once(':') {
            Some((head, rest)) if !rest.starts_with("//") => (Some(head), rest),
            _ => (None, spec),
        };
        let (format, min) = match head.map(|h| h.split_once('@').unwrap_or((h, ""))) {
            None => (Format::Json, None),
            Some((f, sev)) => {
                let format = match f {
                    "json" => Format::Json,
                    "chat" | "slack" => Format::Chat,
                    _ => return Err(bad()),
                };
                let min = match sev {
                    "" => None,
                    s => Some(s.parse::<Severity>().map_err(|e| format!("{spec:?}: {e}"))?),
                };
                (format, min)
            }
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            return Err(bad());
        }
        Ok(Target { url: url.to_string(), format, min })
    }

    /// Where it goes, without its path (webhook paths often carry a secret): for logs.
    pub fn host(&self) -> &str {
        let rest = self.url.split_once("://").map_or(self.url.as_str(), |(_, r)| r);
        rest.split(['/', '?']).next().unwrap_or(rest)
    }
}

struct Job {
    node: String,
    alert: Alert,
}

/// Posts new alerts to webhooks from a thread of its own.
pub struct Notifier {
    tx: SyncSender<Job>,
    min: Severity,
    thread: std::thread::JoinHandle<()>,
    status: Arc<Mutex<Status>>,
}

/// What the notifier has done since it started: per webhook and in all (`GET /api/v1/notifications`, the
/// dashboard's overview).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Status {
    /// One per webhook, in the order they were given.
    pub targets: Vec<TargetStatus>,
    /// Notifications dropped because the queue was full.
    pub dropped: u64,
}

/// What one webhook has been sent. Its URL's path is left out: webhook paths often carry a secret.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TargetStatus {
    /// Where it goes: the URL's scheme, host and port.
    pub endpoint: String,
    /// `json` or `chat`.
    pub format: &'static str,
    /// The least severity it is sent.
    pub min_severity: Severity,
    /// Alerts it was told of.
    pub sent: u64,
    /// Alerts given up: their post failed every attempt and then kept failing for [`Options::retry_for`] (or
    /// [`WAITING`] posts were ahead of it).
    pub failed: u64,
    /// Alerts waiting for the webhook to come back (their post failed every attempt; tried again with growing
    /// pauses).
    pub waiting: u64,
    /// Alerts a chat was spared (alike within the quiet window).
    pub quieted: u64,
    /// When a post last succeeded (ns since the epoch).
    pub last_sent_ns: Option<i64>,
    /// Why the last failed post failed, and when.
    pub last_error: Option<String>,
    /// When that was (ns since the epoch).
    pub last_error_ns: Option<i64>,
}

impl Notifier {
    /// Starts the posting thread for `targets`; alerts below `min` (or below a target's own least
    /// severity) are not notified.
    /// A post that fails every attempt is given up at once (no [`Options::retry_for`]).
    pub fn start(targets: Vec<Target>, min: Severity, timeout: Duration) -> std::io::Result<Notifier> {
        let o = Options {
            min,
            timeout,
            dashboard: None,
            chat_quiet: Duration::ZERO,
            retry_for: Duration::ZERO,
            keep: None,
        };
        Self::start_with(targets, o)
    }

    /// [`Notifier::start`] with every option.
    pub fn start_with(targets: Vec<Target>, o: Options) -> std::io::Result<Notifier> {
        let Options { min, timeout, dashboard, chat_quiet, retry_for, keep } = o;
        let dashboard = dashboard.map(|d| d.trim_end_matches('/').to_string());
        let mut quiet = Quiet::new(chat_quiet);
        let targets: Vec<Target> =
            targets.into_iter().map(|t| Target { min: Some(t.min.unwrap_or(min)), ..t }).collect();
        // Queued when some target wants it.
        let min = targets.iter().filter_map(|t| t.min).min().unwrap_or(min);
        let status = Arc::new(Mutex::new(Status {
            targets: targets
                .iter()
                .map(|t| TargetStatus {
                    endpoint: format!("{}://{}", t.url.split_once("://").map_or("http", |(s, _)| s), t.host()),
                    format: match t.format {
                        Format::Json => "json",
                        Format::Chat => "chat",
                    },
                    min_severity: t.min.unwrap_or(min),
                    ..Default::default()
                })
                .collect(),
            dropped: 0,
        }));
        // What waited when the last run ended, said as waiting from the start.
        let mut waiting = Kept::load(keep.as_deref(), &targets);
        for (i, w) in waiting.iter().enumerate() {
            w.count((&status, i));
        }
        let shared = status.clone();
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let thread = std::thread::Builder::new().name("kestrel-notify".into()).spawn(move || {
            let agent: ureq::Agent =
                ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
            let status = &*shared;
            let mut saved = (Kept::fingerprint(&waiting), Instant::now());
            let mut save_due = None;
            loop {
                let next_try = waiting.iter().filter_map(|w| w.due).chain(save_due).min();
                let first = match next_try {
                    None => rx.recv().ok(),
                    Some(due) => match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                        Ok(job) => Some(job),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    },
                };
                if next_try.is_none() && first.is_none() {
                    break;
                }
                // What else is waiting goes with it (a chat message carries several).
                let mut jobs: Vec<Job> = first.into_iter().collect();
                while !jobs.is_empty() && jobs.len() < TAKEN {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                for (i, t) in targets.iter().enumerate() {
                    let wanted: Vec<&Job> = jobs.iter().filter(|j| Some(j.alert.severity) >= t.min).collect();
                    let posts: Vec<Held> = match t.format {
                        Format::Json => wanted
                            .iter()
                            .map(|job| {
                                let mut body = serde_json::json!({
                                    "schema": "kestrel.notification/v1",
                                    "node": job.node,
                                    "alert": job.alert,
                                });
                                if let Some(d) = &dashboard {
                                    body["link"] = link(d, job).into();
                                }
                                Held::new(body, 1, &job.alert.id)
                            })
                            .collect(),
                        Format::Chat => {
                            let heard: Vec<(&Job, u64)> =
                                wanted.iter().filter_map(|j| quiet.admit(&t.url, j).map(|n| (*j, n))).collect();
                            if let Ok(mut s) = status.lock() {
                                s.targets[i].quieted += (wanted.len() - heard.len()) as u64;
                            }
                            heard
                                .chunks(CHAT_BATCH)
                                .map(|message| {
                                    let body =
                                        serde_json::json!({ "text": chat_message(message, dashboard.as_deref()) });
                                    Held::new(body, message.len() as u64, &message[0].0.alert.id)
                                })
                                .collect()
                        }
                    };
                    let w = &mut waiting[i];
                    // A target that is down gets nothing new until it takes what waits for it, in order.
                    let failed = match w.due {
                        Some(_) => posts.into_iter().map(|h| (h, String::new())).collect(),
                        None => send(&agent, t, posts, retry_for, (status, i)),
                    };
                    w.hold(failed, retry_for, t, (status, i));
                    if w.due.is_some_and(|due| due <= Instant::now()) {
                        w.try_again(&agent, t, retry_for, (status, i));
                    }
                }
                // What waits is kept on disk when it changed, at most once a second.
                if let Some(file) = &keep {
                    let now = Kept::fingerprint(&waiting);
                    save_due = None;
                    if now != saved.0 {
                        if saved.1.elapsed() >= KEEP_EVERY {
                            Kept::save(file, &targets, &waiting);
                            saved = (now, Instant::now());
                        } else {
                            save_due = Some(saved.1 + KEEP_EVERY);
                        }
                    }
                }
            }
            match &keep {
                // Ending with a file to keep what waits: kept for the next start.
                Some(file) => Kept::save(file, &targets, &waiting),
                // Else each target that is down is tried once more; what it does not take is given up.
                None => {
                    for (i, (w, t)) in waiting.iter_mut().zip(&targets).enumerate() {
                        if w.due.is_some() {
                            w.try_again(&agent, t, Duration::ZERO, (status, i));
                            w.give_up_all(t, "the notifier ended before the webhook came back", (status, i));
                        }
                    }
                }
            }
        })?;
        Ok(Notifier { tx, min, thread, status })
    }

    /// What it has done so far.
    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Takes no more alerts and waits, at most `within`, for those queued to be posted (a command that ends
    /// after its last alert). Whether they were.
    pub fn finish(self, within: Duration) -> bool {
        drop(self.tx);
        let until = std::time::Instant::now() + within;
        while !self.thread.is_finished() {
            if std::time::Instant::now() >= until {
                tracing::warn!("notifications still being posted after {within:?}: left");
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Queues a notification for each alert at or above the severity; never blocks.
    pub fn alerts<'a>(&self, items: impl IntoIterator<Item = (&'a str, &'a Alert)>) {
        for (node, alert) in items {
            if alert.severity < self.min {
                continue;
            }
            match self.tx.try_send(Job { node: node.to_string(), alert: alert.clone() }) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    metrics::counter!("kestrel_server_notifications_total", "result" => "dropped").increment(1);
                    if let Ok(mut s) = self.status.lock() {
                        s.dropped += 1;
                    }
                    tracing::warn!("notification of alert {} dropped: {QUEUE} are waiting already", alert.id);
                }
            }
        }
    }
}

/// A post (kestrel's JSON for one alert, or a chat message for several) and, once it has failed every attempt,
/// since when it waits.
struct Held {
    body: serde_json::Value,
    /// Alerts it tells of.
    alerts: u64,
    /// The first one's id, for logs.
    first: String,
    since: Instant,
}

impl Held {
    fn new(body: serde_json::Value, alerts: u64, first: &str) -> Held {
        Held { body, alerts, first: first.to_string(), since: Instant::now() }
    }

    /// "alert ID", or "N alerts from ID".
    fn what(&self) -> String {
        match self.alerts {
            1 => format!("alert {}", self.first),
            n => format!("{n} alerts from {}", self.first),
        }
    }
}

/// Posts `posts` to `t` (kestrel's JSON [`PARALLEL`] at a time, chat messages in turn), each with [`ATTEMPTS`]
/// tries; those that failed every one, each with its last error — or, with no `retry_for`, none: each is given up
/// the moment it failed.
fn send(
    agent: &ureq::Agent,
    t: &Target,
    posts: Vec<Held>,
    retry_for: Duration,
    status: (&Mutex<Status>, usize),
) -> Vec<(Held, String)> {
    if posts.is_empty() {
        return Vec::new();
    }
    let failed = Mutex::new(Vec::new());
    let per_thread = match t.format {
        Format::Json => posts.len().div_ceil(PARALLEL),
        Format::Chat => posts.len(),
    };
    let mut posts = posts;
    std::thread::scope(|s| {
        while !posts.is_empty() {
            let share: Vec<Held> = posts.drain(..per_thread.min(posts.len())).collect();
            let failed = &failed;
            s.spawn(move || {
                for held in share {
                    match post(agent, t, &held, ATTEMPTS, status) {
                        Ok(()) => {}
                        Err(e) if retry_for.is_zero() => give_up(t, &held, &e, status),
                        Err(e) => failed.lock().unwrap_or_else(|e| e.into_inner()).push((held, e)),
                    }
                }
            });
        }
    });
    failed.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Posts one body, up to `attempts` times; a success is counted, in the metrics and in the target's status
/// (`(status, index)`). The error says why the last attempt failed, without the URL's path.
fn post(
    agent: &ureq::Agent,
    t: &Target,
    held: &Held,
    attempts: u32,
    (status, i): (&Mutex<Status>, usize),
) -> Result<(), String> {
    let mut last = String::new();
    let mut wait = Duration::ZERO;
    for attempt in 0..attempts {
        if attempt > 0 {
            std::thread::sleep(wait.max(Duration::from_millis(250 << (2 * (attempt - 1)))));
        }
        match agent.post(&t.url).header("User-Agent", "kestrel-server").send_json(&held.body) {
            Ok(r) if r.status().is_success() => {
                metrics::counter!("kestrel_server_notifications_total", "result" => "sent").increment(held.alerts);
                if let Ok(mut s) = status.lock() {
                    s.targets[i].sent += held.alerts;
                    s.targets[i].last_sent_ns = Some(crate::now_ns());
                }
                return Ok(());
            }
            Ok(r) if r.status().as_u16() == 429 => {
                last = "HTTP 429".into();
                let after = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
                wait = Duration::from_secs(after.unwrap_or(1).min(30));
            }
            // A client error will not mend by itself: no more attempts now.
            Ok(r) if r.status().is_client_error() => {
                last = format!("HTTP {}", r.status().as_u16());
                break;
            }
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            Err(e) => last = e.to_string(),
        }
    }
    // The URL's path may carry a secret; the error text may quote the URL.
    let last = last.replace(&t.url, &format!("{}/…", t.host()));
    if let Ok(mut s) = status.lock() {
        s.targets[i].last_error = Some(last.clone());
        s.targets[i].last_error_ns = Some(crate::now_ns());
    }
    Err(last)
}

/// One target's posts that failed every attempt, waiting for it to come back.
#[derive(Default)]
struct Waiting {
    held: VecDeque<Held>,
    /// When it is tried again (none: it is not down).
    due: Option<Instant>,
    /// The pause before that try.
    pause: Duration,
    /// Why its last post failed.
    last: String,
}

impl Waiting {
    /// Keeps posts that failed (or came while the target is down) to be tried again; with no `retry_for`, or
    /// beyond [`WAITING`], the oldest are given up.
    fn hold(&mut self, posts: Vec<(Held, String)>, retry_for: Duration, t: &Target, status: (&Mutex<Status>, usize)) {
        if posts.is_empty() {
            return;
        }
        for (held, why) in posts {
            if !why.is_empty() {
                self.last = why;
            }
            self.held.push_back(held);
        }
        if retry_for.is_zero() {
            let why = self.last.clone();
            self.give_up_all(t, &why, status);
            return;
        }
        while self.held.len() > WAITING {
            let oldest = self.held.pop_front().expect("more than WAITING held");
            give_up(t, &oldest, &format!("{WAITING} posts were waiting already ({})", self.last), status);
        }
        if self.due.is_none() {
            self.pause = RETRY_PAUSE;
            self.due = Some(Instant::now() + self.pause);
            tracing::warn!(
                "notifying {} failed ({}): trying again in {:?}, for up to {:?}",
                t.host(),
                self.last,
                self.pause,
                retry_for
            );
        }
        self.count(status);
    }

    /// Gives up what has waited longer than `retry_for`, then posts what waits, oldest first, once each, until
    /// one fails: then the pause doubles (up to [`RETRY_PAUSE_MAX`]).
    fn try_again(&mut self, agent: &ureq::Agent, t: &Target, retry_for: Duration, status: (&Mutex<Status>, usize)) {
        let now = Instant::now();
        while self.held.front().is_some_and(|h| !retry_for.is_zero() && now.duration_since(h.since) > retry_for) {
            let expired = self.held.pop_front().expect("front exists");
            let why = format!("{} (still failing after {retry_for:?})", self.last);
            give_up(t, &expired, &why, status);
        }
        let mut sent = 0;
        while let Some(held) = self.held.front() {
            match post(agent, t, held, 1, status) {
                Ok(()) => {
                    sent += held.alerts;
                    self.held.pop_front();
                }
                Err(e) => {
                    self.last = e;
                    self.pause = (self.pause * 2).min(RETRY_PAUSE_MAX);
                    self.due = Some(Instant::now() + self.pause);
                    break;
                }
            }
        }
        if self.held.is_empty() {
            if self.due.take().is_some() && sent > 0 {
                tracing::info!("{} takes notifications again: {sent} alerts sent late", t.host());
            }
            self.pause = Duration::ZERO;
        }
        self.count(status);
    }

    /// Gives up every post waiting.
    fn give_up_all(&mut self, t: &Target, why: &str, status: (&Mutex<Status>, usize)) {
        for held in self.held.drain(..) {
            give_up(t, &held, why, status);
        }
        self.due = None;
        self.count(status);
    }

    /// The target's status says how many alerts wait.
    fn count(&self, (status, i): (&Mutex<Status>, usize)) {
        if let Ok(mut s) = status.lock() {
            s.targets[i].waiting = self.held.iter().map(|h| h.alerts).sum();
        }
    }
}

/// Counts a post given up as failed (metrics, the target's status) and logs why.
fn give_up(t: &Target, held: &Held, why: &str, (status, i): (&Mutex<Status>, usize)) {
    metrics::counter!("kestrel_server_notifications_total", "result" => "failed").increment(held.alerts);
    if let Ok(mut s) = status.lock() {
        s.targets[i].failed += held.alerts;
    }
    tracing::error!("notifying {} of {}: {why}", t.host(), held.what());
}

/// How a notifier is set up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The least severity notified (a target may ask for another).
    pub min: Severity,
    /// Per post.
    pub timeout: Duration,
    /// The dashboard's address as people reach it (`https://kestrel.example`): each notification links to
    /// the alert's page there.
    pub dashboard: Option<String>,
    /// A chat hears of alerts alike — the same rule or model, workload and node — at most once in this
    /// long; the next message says how many it was spared. Zero: every one. JSON targets always get all.
    pub chat_quiet: Duration,
    /// How long a post that failed every attempt is tried again while its target stays down (zero: given up at
    /// once).
    pub retry_for: Duration,
    /// A file that keeps what waits for a webhook across restarts (written when it changes, at most once a second,
    /// and when the notifier ends; read when it starts, each post tried again at once). None: what waits when the
    /// notifier ends is tried once more, then given up.
    pub keep: Option<std::path::PathBuf>,
}

/// How often, at most, [`Options::keep`] is written.
const KEEP_EVERY: Duration = Duration::from_secs(1);

/// [`Options::keep`]'s file: per target (by the SHA-256 of its URL, which stays out of the file), its waiting posts.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    schema: String,
    targets: std::collections::BTreeMap<String, Vec<KeptPost>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct KeptPost {
    body: serde_json::Value,
    alerts: u64,
    first: String,
    /// When it was first posted (ns since the epoch).
    since_ns: i64,
}

/// The largest file of kept posts read at start.
const KEEP_MAX_BYTES: u64 = 256 << 20;

impl Kept {
    const SCHEMA: &'static str = "kestrel.notify-waiting/v1";

    fn key(t: &Target) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(t.url.as_bytes()))
    }

    /// What says whether what waits changed: each target's count and oldest post.
    fn fingerprint(waiting: &[Waiting]) -> Vec<(usize, Option<Instant>)> {
        waiting.iter().map(|w| (w.held.len(), w.held.front().map(|h| h.since))).collect()
    }

    /// Each target's posts kept by the last run, due at once; nothing when there is no file to keep them (or it
    /// cannot be read, which is logged: the alerts themselves are in the store).
    fn load(file: Option<&std::path::Path>, targets: &[Target]) -> Vec<Waiting> {
        let mut waiting: Vec<Waiting> = targets.iter().map(|_| Waiting::default()).collect();
        let Some(file) = file else { return waiting };
        let read = std::fs::File::open(file).and_then(|f| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(f, KEEP_MAX_BYTES), &mut bytes).map(|_| bytes)
        });
        let kept: Kept = match read {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return waiting,
            Err(e) => {
                tracing::warn!("{}: unreadable ({e}): notifications that waited are not posted", file.display());
                return waiting;
            }
            Ok(bytes) => match serde_json::from_slice::<Kept>(&bytes) {
                Ok(k) if k.schema == Kept::SCHEMA => k,
                Ok(k) => {
                    tracing::warn!("{}: schema {:?} is not {}: not read", file.display(), k.schema, Kept::SCHEMA);
                    return waiting;
                }
                Err(e) => {
                    tracing::warn!("{}: not a file of waiting notifications ({e}): not read", file.display());
                    return waiting;
                }
            },
        };
        let (now, now_ns) = (Instant::now(), crate::now_ns());
        let mut kept = kept.targets;
        for (t, w) in targets.iter().zip(&mut waiting) {
            let Some(posts) = kept.remove(&Kept::key(t)) else { continue };
            for p in posts.into_iter().take(WAITING) {
                let age = Duration::from_nanos(u64::try_from(now_ns.saturating_sub(p.since_ns)).unwrap_or(0));
                let since = now.checked_sub(age).unwrap_or(now);
                w.held.push_back(Held { body: p.body, alerts: p.alerts, first: p.first, since });
            }
            if !w.held.is_empty() {
                w.due = Some(now);
                w.pause = RETRY_PAUSE;
                w.last = "waiting since the notifier last ran".into();
                tracing::info!("{}: {} notifications waited since the last run: posting them", t.host(), w.held.len());
            }
        }
        waiting
    }

    /// Writes what waits (a temporary file renamed over the old one); a failure is logged.
    fn save(file: &std::path::Path, targets: &[Target], waiting: &[Waiting]) {
        let now_ns = crate::now_ns();
        let kept = Kept {
            schema: Kept::SCHEMA.into(),
            targets: targets
                .iter()
                .zip(waiting)
                .filter(|(_, w)| !w.held.is_empty())
                .map(|(t, w)| {
                    let posts = w
                        .held
                        .iter()
                        .map(|h| KeptPost {
                            body: h.body.clone(),
                            alerts: h.alerts,
                            first: h.first.clone(),
                            since_ns: now_ns.saturating_sub(i64::try_from(h.since.elapsed().as_nanos()).unwrap_or(0)),
                        })
                        .collect();
                    (Kept::key(t), posts)
                })
                .collect(),
        };
        let tmp = file.with_extension("tmp");
        let written = serde_json::to_vec(&kept)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, file));
        if let Err(e) = written {
            tracing::warn!("keeping waiting notifications in {}: {e}", file.display());
        }
    }
}

/// The chat side of [`Options::chat_quiet`]: when each chat last heard of a kind of alert, and how many of
/// that kind it has been spared since (bounded: the oldest kinds are forgotten first).
struct Quiet {
    window: Duration,
    seen: std::collections::HashMap<(String, String, String, String), (std::time::Instant, u64)>,
}

/// Kinds of alert remembered per notifier, at most.
const QUIET_KINDS: usize = 10_000;

impl Quiet {
    fn new(window: Duration) -> Quiet {
        Quiet { window, seen: Default::default() }
    }

    /// `Some(spared)` when `target` should hear of `job` now, with how many alike it was spared; `None` when
    /// it heard of one alike within the window.
    fn admit(&mut self, target: &str, job: &Job) -> Option<u64> {
        if self.window.is_zero() {
            return Some(0);
        }
        let source = match &job.alert.source {
            kestrel_core::AlertSource::Rule { name, .. } => format!("rule:{name}"),
            kestrel_core::AlertSource::Model { name, .. } => format!("model:{name}"),
        };
        let workload = job.alert.workload.clone().unwrap_or_default();
        let key = (target.to_string(), job.node.clone(), source, workload);
        let now = std::time::Instant::now();
        if let Some((last, spared)) = self.seen.get_mut(&key) {
            if now.duration_since(*last) < self.window {
                *spared += 1;
                metrics::counter!("kestrel_server_notifications_total", "result" => "quieted").increment(1);
                return None;
            }
            let n = *spared;
            *last = now;
            *spared = 0;
            return Some(n);
        }
        if self.seen.len() >= QUIET_KINDS {
            let window = self.window;
            self.seen.retain(|_, (last, _)| now.duration_since(*last) < window);
            if self.seen.len() >= QUIET_KINDS {
                // Every kind is recent: a flood of distinct alerts. Forget them all rather than grow.
                self.seen.clear();
            }
        }
        self.seen.insert(key, (now, 0));
        Some(0)
    }
}

/// The alert's page on the dashboard (`#/alert/NODE/ID`).
fn link(dashboard: &str, job: &Job) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    format!(
        "{dashboard}/#/alert/{}/{}",
        utf8_percent_encode(&job.node, NON_ALPHANUMERIC),
        utf8_percent_encode(&job.alert.id, NON_ALPHANUMERIC)
    )
}

/// One chat message for the alerts: each one's text (and link); a header when there are several.
/// Each alert comes with the number of alerts like it a chat was spared since it last heard of one.
fn chat_message(jobs: &[(&Job, u64)], dashboard: Option<&str>) -> String {
    let one = |j: &Job, spared: u64| {
        let mut text = chat_text(&j.node, &j.alert);
        if spared > 0 {
            text += &format!("\n(and {spared} more like it since the last message about it)");
        }
        if let Some(d) = dashboard {
            text += &format!("\n{}", link(d, j));
        }
        text
    };
    match jobs {
        [(only, spared)] => one(only, *spared),
        _ => {
            let parts: Vec<String> = jobs.iter().map(|(j, spared)| one(j, *spared)).collect();
            format!("*{} new alerts*\n\n{}", jobs.len(), parts.join("\n\n"))
        }
    }
}

/// The chat message: severity, title, where, and the explanation's first lines.
pub fn chat_text(node: &str, a: &Alert) -> String {
    let mut text = format!("*{}* {}", a.severity.as_str().to_uppercase(), a.title);
    let mut at = vec![format!("node {node}")];
    if let Some(w) = &a.workload {
        at.push(format!("workload {w}"));
    }
    if let Some(c) = &a.container {
        at.push(format!("container {}", &c.id[..c.id.len().min(12)]));
    }
    text += &format!("\n{}", at.join(", "));
    if !a.mitre.is_empty() {
        text += &format!(" · MITRE {}", a.mitre.join(", "));
    }
    for line in a.explanation.iter().take(5) {
        text += &format!("\n• {line}");
    }
    if a.explanation.len() > 5 {
        text += &format!("\n… and {} more", a.explanation.len() - 5);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_urls_with_an_optional_format() {
        assert_eq!(Target::parse("https://hooks.example/x").unwrap().format, Format::Json);
        assert_eq!(Target::parse("json:http://127.0.0.1:9/x").unwrap().url, "http://127.0.0.1:9/x");
        let slack = Target::parse("slack:https://hooks.slack.com/services/T/B/secret").unwrap();
        assert_eq!((slack.format, slack.host()), (Format::Chat, "hooks.slack.com"));
        assert_eq!(Target::parse("chat:http://h:1/p?k=v").unwrap().host(), "h:1");
        assert_eq!(Target::parse("https://hooks.example/x").unwrap().min, None);
        let pager = Target::parse("chat@critical:https://hooks.example/x").unwrap();
        assert_eq!((pager.format, pager.min), (Format::Chat, Some(Severity::Critical)));
        assert_eq!(Target::parse("json@low:http://siem.example/in").unwrap().min, Some(Severity::Low));
        assert!(Target::parse("chat@severe:https://hooks.example/x").unwrap_err().contains("not a severity"));
        for bad in [
            "",
            "hooks.example/x",
            "ftp://x/y",
            "chat:",
            "slack:hooks.slack.com",
            "json:file:///etc/passwd",
            "xml:https://hooks.example/x",
            "@high:https://hooks.example/x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
    }
}
