//! The agent's side: alerts and response decisions shipped to the server in batches, through a bounded disk
//! spool when the server cannot be reached — nothing is lost while the spool has room, and what a full spool
//! turns away is counted and logged, never silent.
//!
//! The caller never waits on the network: [`Shipper::alert`] and [`Shipper::decision`] put the item on a
//! bounded queue read by the shipper's thread, which sends a batch every [`ShipConfig::flush_every`] or
//! [`ShipConfig::batch`] items. A batch the server does not take (unreachable, 5xx) becomes a spool segment: one
//! file of JSON lines, written whole and renamed into place. While the server answers, the oldest segments are
//! sent again and deleted once accepted. Delivery is at least once — a segment sent but not yet deleted when the
//! agent stops is sent again — and the server's idempotent writes make it exactly once in storage.
//!
//! What can be lost, and is counted: items the queue or a full spool turned away (`dropped_*`), and on a crash
//! the items of the batch being gathered (at most one `flush_every`).
//!
//! Over HTTP the shipper also fetches, every [`ShipConfig::verdicts_every`], the verdicts people gave on the
//! dashboard to this node's decisions that wait for approval; [`Shipper::verdicts`] hands each over once, and
//! the decision's new state, shipped like any other, tells the server it was acted on.

use kestrel_core::Alert;
pub use kestrel_store::Verdict;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to ship.
#[derive(Debug, Clone)]
pub struct ShipConfig {
    /// The server (`http://host:8470`).
    pub server: String,
    /// The agent's bearer token (role agent, named for this node).
    pub token: String,
    /// This node's name.
    pub node: String,
    /// The spool directory.
    pub spool_dir: PathBuf,
    /// The spool's size bound, bytes.
    pub spool_max_bytes: u64,
    /// Most items per request.
    pub batch: usize,
    /// Longest an item waits before its batch is sent.
    pub flush_every: Duration,
    /// How often the node's status is sent (and an unreachable server tried again).
    pub heartbeat_every: Duration,
    /// Publish to NATS JetStream at these URLs (comma-separated) instead of sending to the server over HTTP.
    pub nats: Option<String>,
    /// How often to fetch verdicts on this node's pending decisions (HTTP only); none: never.
    pub verdicts_every: Option<Duration>,
    /// HTTPS: a CA to trust instead of the Web PKI roots (PEM).
    pub server_ca: Option<PathBuf>,
    /// Mutual TLS: this node's certificate and key (PEM).
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl ShipConfig {
    /// Defaults: 256 MiB spool, batches of 1,000 or 200 ms, a heartbeat every 30 s.
    pub fn new(server: &str, token: &str, node: &str, spool_dir: &Path) -> ShipConfig {
        ShipConfig {
            server: server.trim_end_matches('/').to_string(),
            token: token.to_string(),
            node: node.to_string(),
            spool_dir: spool_dir.to_path_buf(),
            spool_max_bytes: 256 << 20,
            batch: 1000,
            flush_every: Duration::from_millis(200),
            heartbeat_every: Duration::from_secs(30),
            nats: None,
            verdicts_every: None,
            server_ca: None,
            client_cert: None,
        }
    }
}

/// What the shipper did, so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ShipStats {
    /// Items the server accepted (new or already stored), first try or from the spool.
    pub delivered: u64,
    /// Of those, what the server already had (a redelivery).
    pub duplicates: u64,
    /// Items written to the spool.
    pub spooled: u64,
    /// Items sent again from the spool and accepted.
    pub replayed: u64,
    /// Items turned away because the spool was full.
    pub dropped_spool_full: u64,
    /// Items turned away because the queue to the shipper's thread was full.
    pub dropped_queue_full: u64,
    /// Requests that failed (network or server error).
    pub send_errors: u64,
    /// Items the server refused as malformed (4xx): logged, not retried.
    pub rejected: u64,
    /// Bytes in the spool now.
    pub spool_bytes: u64,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    duplicates: AtomicU64,
    spooled: AtomicU64,
    replayed: AtomicU64,
    dropped_spool_full: AtomicU64,
    dropped_queue_full: AtomicU64,
    send_errors: AtomicU64,
    rejected: AtomicU64,
    spool_bytes: AtomicU64,
}

enum Item {
    Alert(Box<Alert>),
    Decision(Value),
    Profile(Value),
    Stop,
}

/// The shipper: a thread, its queue and its counters.
pub struct Shipper {
    tx: SyncSender<Item>,
    counters: Arc<Counters>,
    thread: Option<std::thread::JoinHandle<()>>,
    verdicts: std::sync::Mutex<Receiver<Verdict>>,
    images: Images,
}

/// Images of the containers seen running since the agent started, each as the runtime named it and with its digest
/// where one is known (sent with each heartbeat, so that the server can tell which nodes run an image that became
/// vulnerable); at most [`MAX_IMAGES`].
type Images = Arc<std::sync::Mutex<std::collections::BTreeSet<(String, Option<String>)>>>;

/// Most images a heartbeat lists.
pub const MAX_IMAGES: usize = 1000;

/// Items the queue holds before it turns new ones away.
const QUEUE: usize = 100_000;

impl Shipper {
    /// Starts shipping; the spool directory is created when missing, and what it holds from an earlier run is
    /// sent first. Certificate files that cannot be read are an error now, not a silent spool later.
    pub fn start(cfg: ShipConfig) -> std::io::Result<Shipper> {
        std::fs::create_dir_all(&cfg.spool_dir)?;
        let tls = tls_config(&cfg)?;
        let counters = Arc::new(Counters::default());
        let spool = Spool { dir: cfg.spool_dir.clone(), max: cfg.spool_max_bytes };
        counters.spool_bytes.store(spool.bytes(), Ordering::Relaxed);
        let (tx, rx) = sync_channel(QUEUE);
        let (vtx, verdicts) = sync_channel(1024);
        let c = counters.clone();
        let images = Images::default();
        let i = images.clone();
        let thread = std::thread::Builder::new()
            .name("kestrel-ship".into())
            .spawn(move || run(cfg, tls, spool, rx, c, vtx, i))?;
        Ok(Shipper { tx, counters, thread: Some(thread), verdicts: std::sync::Mutex::new(verdicts), images })
    }

    /// Notes that a container of `image` runs on this node, with `digest`: the image id its runtime recorded, else the
    /// digest the kubelet says it was pulled by (call once per image: it takes a lock).
    pub fn note_image(&self, image: &str, digest: Option<&str>) {
        let mut set = self.images.lock().unwrap_or_else(|e| e.into_inner());
        if set.len() < MAX_IMAGES {
            set.insert((image.to_string(), digest.map(str::to_string)));
        }
    }

    /// Verdicts fetched since the last call, each once (never blocks).
    pub fn verdicts(&self) -> Vec<Verdict> {
        self.verdicts.lock().map(|r| r.try_iter().collect()).unwrap_or_default()
    }

    fn put(&self, item: Item) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(item) {
            self.counters.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Ships an alert (never blocks).
    pub fn alert(&self, a: &Alert) {
        self.put(Item::Alert(Box::new(a.clone())));
    }

    /// Ships a response decision (`kestrel.response/v1` line; never blocks).
    pub fn decision(&self, line: Value) {
        self.put(Item::Decision(line));
    }

    /// Ships a learned profile for federated merging (over HTTP; never blocks).
    pub fn profile(&self, workload: &str, version: i64, profile: Value) {
        self.put(Item::Profile(json!({ "workload": workload, "version": version, "profile": profile })));
    }

    /// The counters now.
    pub fn stats(&self) -> ShipStats {
        stats(&self.counters)
    }

    /// Sends what is queued (or spools it) and stops the thread.
    pub fn close(mut self) -> ShipStats {
        let _ = self.tx.send(Item::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stats()
    }
}

fn stats(c: &Counters) -> ShipStats {
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    ShipStats {
        delivered: g(&c.delivered),
        duplicates: g(&c.duplicates),
        spooled: g(&c.spooled),
        replayed: g(&c.replayed),
        dropped_spool_full: g(&c.dropped_spool_full),
        dropped_queue_full: g(&c.dropped_queue_full),
        send_errors: g(&c.send_errors),
        rejected: g(&c.rejected),
        spool_bytes: g(&c.spool_bytes),
    }
}

/// What became of a request.
enum Sent {
    /// Accepted: how many were new.
    Ok(u64),
    /// Refused as malformed: do not retry.
    Rejected(String),
    /// Not delivered: try again later.
    Failed(String),
}

struct Client {
    agent: ureq::Agent,
    cfg: ShipConfig,
    bus: Option<Bus>,
}

/// The NATS side of a shipper: a small runtime of its own (the shipper is a plain thread).
struct Bus {
    rt: tokio::runtime::Runtime,
    client: async_nats::Client,
    publisher: crate::bus::Publisher,
}

impl Bus {
    fn connect(urls: &str, node: &str) -> Result<Bus, String> {
        // One worker of its own: the client's connection task must run between publications too (a
        // current-thread runtime would only drive it inside block_on, and the connection would stall).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kestrel-ship-nats")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = rt.block_on(crate::bus::connect(urls))?;
        let publisher = crate::bus::Publisher::new(client.clone(), node);
        Ok(Bus { rt, client, publisher })
    }
}

impl Client {
    /// Whether the other side answers now (over HTTP: a heartbeat).
    fn probe(&self, c: &Counters, images: &Images) -> bool {
        match &self.bus {
            Some(b) => b.client.connection_state() == async_nats::connection::State::Connected,
            None => matches!(self.heartbeat(c, images), Sent::Ok(_)),
        }
    }

    /// The node's status: the counters and the images it runs (`images`: their names; `image_refs`: each name with
    /// its digest where one is known, which the server matches first).
    fn heartbeat(&self, c: &Counters, images: &Images) -> Sent {
        let mut status = serde_json::to_value(stats(c)).unwrap_or(Value::Null);
        let set = images.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut names: Vec<&str> = set.iter().map(|(name, _)| name.as_str()).collect();
        names.dedup();
        status["images"] = json!(names);
        status["image_refs"] = set.iter().map(|(name, digest)| json!({ "image": name, "digest": digest })).collect();
        let body = json!({ "node": self.cfg.node, "version": env!("CARGO_PKG_VERSION"), "status": status });
        if let Some(b) = &self.bus {
            return match b.rt.block_on(b.publisher.status(&body)) {
                Ok(()) => Sent::Ok(0),
                Err(e) => Sent::Failed(e),
            };
        }
        self.post("/api/v1/nodes/heartbeat", &body)
    }

    fn post(&self, path: &str, body: &Value) -> Sent {
        let url = format!("{}{path}", self.cfg.server);
        let resp = self.agent.post(&url).header("Authorization", format!("Bearer {}", self.cfg.token)).send_json(body);
        match resp {
            Err(e) => Sent::Failed(format!("{url}: {e}")),
            Ok(mut r) => {
                let status = r.status().as_u16();
                let text = r.body_mut().read_to_string().unwrap_or_default();
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match status {
                    200..=299 => Sent::Ok(v["new"].as_u64().unwrap_or(0)),
                    // Authentication and permission may be fixed by an operator: keep the items.
                    401 | 403 | 408 | 429 => Sent::Failed(format!("{url}: {status}: {text}")),
                    400..=499 => Sent::Rejected(format!("{url}: {status}: {text}")),
                    _ => Sent::Failed(format!("{url}: {status}: {text}")),
                }
            }
        }
    }

    /// The verdicts the server holds for this node's pending decisions.
    fn fetch_verdicts(&self) -> Result<Vec<Verdict>, String> {
        let url = format!("{}/api/v1/verdicts", self.cfg.server);
        let mut r = self
            .agent
            .get(&url)
            .query("node", &self.cfg.node)
            .header("Authorization", format!("Bearer {}", self.cfg.token))
            .call()
            .map_err(|e| format!("{url}: {e}"))?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().map_err(|e| format!("{url}: {e}"))?;
        if status != 200 {
            return Err(format!("{url}: {status}: {text}"));
        }
        #[derive(serde::Deserialize)]
        struct Items {
            items: Vec<Verdict>,
        }
        serde_json::from_str::<Items>(&text).map(|i| i.items).map_err(|e| format!("{url}: {e}"))
    }

    /// Sends alerts and decisions (two requests at most, or one publication each on NATS).
    fn send(&self, alerts: &[Value], decisions: &[Value]) -> Sent {
        if let Some(b) = &self.bus {
            return match b.rt.block_on(b.publisher.publish(alerts, decisions)) {
                Ok(new) => Sent::Ok(new),
                Err(e) => Sent::Failed(e),
            };
        }
        let mut new = 0;
        for (path, key, items) in [("/api/v1/alerts", "alerts", alerts), ("/api/v1/decisions", "decisions", decisions)]
        {
            if items.is_empty() {
                continue;
            }
            match self.post(path, &json!({ "node": self.cfg.node, key: items })) {
                Sent::Ok(n) => new += n,
                other => return other,
            }
        }
        Sent::Ok(new)
    }
}

/// The TLS settings of the HTTP agent: the CA to trust and the client certificate, if given.
fn tls_config(cfg: &ShipConfig) -> std::io::Result<ureq::tls::TlsConfig> {
    tls(cfg.server_ca.as_deref(), cfg.client_cert.as_ref().map(|(c, k)| (c.as_path(), k.as_path())))
}

/// TLS settings for a client of the server: trust `server_ca` (PEM) instead of the Web PKI roots, and present
/// `client_cert` (certificate and key, PEM) when given.
pub fn tls(server_ca: Option<&Path>, client_cert: Option<(&Path, &Path)>) -> std::io::Result<ureq::tls::TlsConfig> {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
    let bad =
        |p: &Path, e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", p.display()));
    let mut b = TlsConfig::builder();
    if let Some(ca) = server_ca {
        let pem = std::fs::read(ca).map_err(|e| bad(ca, e.to_string()))?;
        let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|i| match i {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(bad(ca, "no certificate in it".into()));
        }
        b = b.root_certs(RootCerts::new_with_certs(&certs));
    }
    if let Some((cert, key)) = client_cert {
        let chain = Certificate::from_pem(&std::fs::read(cert).map_err(|e| bad(cert, e.to_string()))?)
            .map_err(|e| bad(cert, e.to_string()))?;
        let k = PrivateKey::from_pem(&std::fs::read(key).map_err(|e| bad(key, e.to_string()))?)
            .map_err(|e| bad(key, e.to_string()))?;
        b = b.client_cert(Some(ClientCert::new_with_certs(&[chain], k)));
    }
    Ok(b.build())
}

fn run(
    cfg: ShipConfig,
    tls: ureq::tls::TlsConfig,
    spool: Spool,
    rx: Receiver<Item>,
    c: Arc<Counters>,
    verdicts: SyncSender<Verdict>,
    images: Images,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .tls_config(tls)
        .build()
        .into();
    let bus = match &cfg.nats {
        Some(urls) => match Bus::connect(urls, &cfg.node) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::error!("NATS: {e}; nothing can be shipped");
                return;
            }
        },
        None => None,
    };
    let client = Client { agent, cfg: cfg.clone(), bus };
    let mut alerts: Vec<Value> = Vec::new();
    let mut decisions: Vec<Value> = Vec::new();
    let mut profiles: Vec<Value> = Vec::new();
    let mut first = Instant::now();
    let mut online = true;
    let mut last_try = Instant::now() - cfg.heartbeat_every;
    let mut stopping = false;
    let mut last_verdicts = Instant::now();
    let mut last_beat = Instant::now() - cfg.heartbeat_every;
    let mut handed = std::collections::HashSet::new();
    loop {
        let wait = if alerts.is_empty() && decisions.is_empty() {
            cfg.flush_every
        } else {
            cfg.flush_every.saturating_sub(first.elapsed())
        };
        match rx.recv_timeout(wait) {
            Ok(item) => {
                if alerts.is_empty() && decisions.is_empty() {
                    first = Instant::now();
                }
                match item {
                    Item::Alert(a) => alerts.push(serde_json::to_value(&*a).unwrap_or(Value::Null)),
                    Item::Decision(d) => decisions.push(d),
                    Item::Profile(p) => profiles.push(p),
                    Item::Stop => stopping = true,
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => stopping = true,
        }
        let full = alerts.len() + decisions.len() >= cfg.batch;
        let due = !alerts.is_empty() || !decisions.is_empty();
        if (full || first.elapsed() >= cfg.flush_every || stopping) && due {
            let n = (alerts.len() + decisions.len()) as u64;
            let sent = if online { client.send(&alerts, &decisions) } else { Sent::Failed("offline".into()) };
            match sent {
                Sent::Ok(new) => {
                    c.delivered.fetch_add(n, Ordering::Relaxed);
                    c.duplicates.fetch_add(n.saturating_sub(new), Ordering::Relaxed);
                }
                Sent::Rejected(why) => {
                    tracing::error!("the server refused {n} items: {why}");
                    c.rejected.fetch_add(n, Ordering::Relaxed);
                }
                Sent::Failed(why) => {
                    if online {
                        tracing::warn!("server unreachable, spooling: {why}");
                        c.send_errors.fetch_add(1, Ordering::Relaxed);
                        // The next try is a heartbeat period after this one (batches spooled while offline
                        // do not put it off).
                        last_try = Instant::now();
                    }
                    online = false;
                    spool_batch(&spool, &alerts, &decisions, &c);
                }
            }
            alerts.clear();
            decisions.clear();
        }
        // Profiles: one request each, as they come; kept (in memory, the latest few) while the server is away.
        if online && !profiles.is_empty() {
            if client.bus.is_some() {
                tracing::warn!(
                    "{} learned profiles not sent: profiles go to a server over HTTP (--server)",
                    profiles.len()
                );
                profiles.clear();
            }
            while let Some(p) = profiles.first() {
                let mut body = p.clone();
                body["node"] = json!(client.cfg.node);
                match client.post("/api/v1/profiles", &body) {
                    Sent::Ok(_) => {
                        profiles.remove(0);
                    }
                    Sent::Rejected(why) => {
                        tracing::error!("the server refused a profile: {why}");
                        profiles.remove(0);
                    }
                    Sent::Failed(why) => {
                        tracing::warn!("profile not sent yet: {why}");
                        break;
                    }
                }
            }
        }
        profiles.truncate(64);
        // Offline: try again every heartbeat period; online: send the spool, oldest first.
        if !online && (last_try.elapsed() >= cfg.heartbeat_every || stopping) {
            last_try = Instant::now();
            online = client.probe(&c, &images);
        }
        // Online: a heartbeat every period (status, images run), over HTTP or the bus.
        if online && !stopping && last_beat.elapsed() >= cfg.heartbeat_every {
            last_beat = Instant::now();
            if let Sent::Failed(why) = client.heartbeat(&c, &images) {
                tracing::warn!("heartbeat: {why}");
            }
        }
        if online && c.spool_bytes.load(Ordering::Relaxed) > 0 {
            online = replay(&spool, &client, &c, if stopping { usize::MAX } else { 4 });
        }
        if let Some(every) = cfg.verdicts_every.filter(|_| online && client.bus.is_none() && !stopping) {
            if last_verdicts.elapsed() >= every {
                last_verdicts = Instant::now();
                match client.fetch_verdicts() {
                    Ok(list) => {
                        for v in list {
                            // Each verdict once: the server offers it until the decision's new state arrives.
                            let key = (v.id.clone(), v.verdict.clone());
                            if handed.contains(&key) {
                                continue;
                            }
                            match verdicts.try_send(v) {
                                Ok(()) => {
                                    handed.insert(key);
                                }
                                Err(_) => tracing::warn!("verdicts are not being taken; left for the next fetch"),
                            }
                        }
                    }
                    Err(e) => tracing::warn!("fetching verdicts: {e}"),
                }
            }
        }
        if stopping {
            // A last status, so that a short run (a recording replayed) tells what it saw run.
            if online {
                let _ = client.heartbeat(&c, &images);
            }
            return;
        }
    }
}

/// Sends up to `segments` spool segments; false when the server stopped answering.
fn replay(spool: &Spool, client: &Client, c: &Counters, segments: usize) -> bool {
    for path in spool.segments().into_iter().take(segments) {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let (mut alerts, mut decisions) = (Vec::new(), Vec::new());
        for line in text.lines() {
            match serde_json::from_str::<Value>(line) {
                Ok(v) if v["kind"] == "alert" => alerts.push(v["item"].clone()),
                Ok(v) if v["kind"] == "decision" => decisions.push(v["item"].clone()),
                _ => tracing::warn!("{}: an unreadable spool line skipped", path.display()),
            }
        }
        let n = (alerts.len() + decisions.len()) as u64;
        match client.send(&alerts, &decisions) {
            Sent::Ok(new) => {
                c.delivered.fetch_add(n, Ordering::Relaxed);
                c.replayed.fetch_add(n, Ordering::Relaxed);
                c.duplicates.fetch_add(n.saturating_sub(new), Ordering::Relaxed);
            }
            Sent::Rejected(why) => {
                tracing::error!("{}: the server refused it, removed: {why}", path.display());
                c.rejected.fetch_add(n, Ordering::Relaxed);
            }
            Sent::Failed(why) => {
                tracing::warn!("server unreachable again: {why}");
                c.send_errors.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        }
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        if std::fs::remove_file(&path).is_ok() {
            c.spool_bytes.fetch_sub(size.min(c.spool_bytes.load(Ordering::Relaxed)), Ordering::Relaxed);
        }
    }
    true
}

fn spool_batch(spool: &Spool, alerts: &[Value], decisions: &[Value], c: &Counters) {
    let mut text = String::new();
    for (kind, items) in [("alert", alerts), ("decision", decisions)] {
        for it in items {
            text.push_str(&json!({ "kind": kind, "item": it }).to_string());
            text.push('\n');
        }
    }
    let n = (alerts.len() + decisions.len()) as u64;
    let have = c.spool_bytes.load(Ordering::Relaxed);
    if have + text.len() as u64 > spool.max {
        tracing::error!(
            "the spool is full ({have} of {} bytes): {n} items dropped (counted as dropped_spool_full)",
            spool.max
        );
        c.dropped_spool_full.fetch_add(n, Ordering::Relaxed);
        return;
    }
    match spool.write(&text) {
        Ok(()) => {
            c.spooled.fetch_add(n, Ordering::Relaxed);
            c.spool_bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
        }
        Err(e) => {
            tracing::error!("{}: cannot write the spool: {e}; {n} items dropped", spool.dir.display());
            c.dropped_spool_full.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Segment files of JSON lines, named by time so that they sort oldest first.
struct Spool {
    dir: PathBuf,
    max: u64,
}

impl Spool {
    fn segments(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Bytes in the segments.
    fn bytes(&self) -> u64 {
        self.segments().iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
    }

    /// Writes a segment whole (a temporary file renamed into place: a reader never sees half of one).
    fn write(&self, text: &str) -> std::io::Result<()> {
        use std::io::Write;
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!("{ns:020}-{:06}", SEQ.fetch_add(1, Ordering::Relaxed));
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        std::fs::rename(&tmp, self.dir.join(format!("{name}.jsonl")))
    }
}
