//! NATS JetStream between agents and servers, for when one server is not enough.
//!
//! Agents publish alerts and decisions to stream `KESTREL` (subjects `kestrel.alerts.NODE`,
//! `kestrel.decisions.NODE`) in messages of up to [`ITEMS_PER_MESSAGE`] items (a JSON array; a single item is
//! read too), each with a `Nats-Msg-Id` made of the node and its items' own keys, so JetStream drops a
//! re-publication of the same batch inside its duplicate window — and the store's keys drop any item stored
//! before, whatever batch it came in; a publication counts only once JetStream acknowledged it (stored,
//! replicated). The stream is a work queue bounded in bytes that refuses new messages when full: an agent
//! that cannot publish spools to disk (see [`crate::ship`]) — back-pressure, not loss.
//!
//! Servers — any number of replicas — pull from one durable consumer (`kestrel-server`), which hands each
//! message to one replica at a time; a replica stores a batch (idempotent writes) and only then acknowledges
//! it. A replica that dies before acknowledging leaves its messages to be redelivered to another after the
//! ack wait; a NATS node that dies leaves the stream to its replicas. Delivery is at least once; storage is
//! exactly once, by the store's keys.
//!
//! A node's status (its heartbeat: version, counters, the images it runs) goes on core NATS, not the stream
//! (`kestrel.status.NODE`, [`Publisher::status`]): servers take it in queue group `kestrel-server`, so one replica
//! stores each; only the latest matters, and a lost one is replaced a heartbeat later.

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use kestrel_core::Alert;
use kestrel_store::Store;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// The stream.
pub const STREAM: &str = "KESTREL";
/// The servers' durable consumer.
pub const CONSUMER: &str = "kestrel-server";
/// The header naming the node (subjects carry a sanitised form of it).
pub const NODE_HEADER: &str = "Kestrel-Node";

/// Where nodes publish their statuses: `kestrel.status.NODE`.
pub const STATUS_PREFIX: &str = "kestrel.status.";

/// The largest status a server takes from the bus (an agent lists at most [`crate::ship::MAX_IMAGES`] images).
const MAX_STATUS_BYTES: usize = 1 << 20;

/// Items (alerts or decisions) in one message: fewer messages, fewer acknowledgements (~35 KB of alerts).
pub const ITEMS_PER_MESSAGE: usize = 64;

/// A bus error, in words.
pub type BusError = String;

/// A node name as one subject token: `.`, `*`, `>` and white space become `_`.
pub fn subject_token(node: &str) -> String {
    node.chars().map(|c| if c == '.' || c == '*' || c == '>' || c.is_whitespace() { '_' } else { c }).collect()
}

/// Connects to `urls` (comma-separated: every node of a cluster, for fail-over); keeps trying in the background
/// when none answers yet.
pub async fn connect(urls: &str) -> Result<async_nats::Client, BusError> {
    let addrs: Vec<&str> = urls.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let client = async_nats::ConnectOptions::new()
        .name("kestrel")
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .request_timeout(Some(Duration::from_secs(5)))
        .connect(addrs.as_slice())
        .await
        .map_err(|e| format!("{urls}: {e}"))?;
    // Give the first connection a moment: what is published before it is up gets no reply.
    let t = std::time::Instant::now();
    while client.connection_state() != async_nats::connection::State::Connected && t.elapsed() < Duration::from_secs(3)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(client)
}

/// Creates the stream when missing (`replicas`: 1, or 3 on a cluster; `max_bytes`: its bound).
pub async fn ensure_stream(
    js: &jetstream::Context,
    replicas: usize,
    max_bytes: i64,
) -> Result<stream::Stream, BusError> {
    js.get_or_create_stream(stream::Config {
        name: STREAM.into(),
        subjects: vec!["kestrel.alerts.>".into(), "kestrel.decisions.>".into()],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        duplicate_window: Duration::from_secs(120),
        max_bytes,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("stream {STREAM}: {e}"))
}

/// An agent's publisher.
pub struct Publisher {
    client: async_nats::Client,
    js: jetstream::Context,
    node: String,
    token: String,
}

impl Publisher {
    /// Publishes as `node`.
    pub fn new(client: async_nats::Client, node: &str) -> Publisher {
        Publisher { js: jetstream::new(client.clone()), client, node: node.to_string(), token: subject_token(node) }
    }

    /// Publishes the node's status (a heartbeat's body: version, counters, the images it runs) on
    /// `kestrel.status.NODE`: core NATS, not the stream — only the latest status matters, and a lost one is
    /// replaced a heartbeat later.
    pub async fn status(&self, body: &Value) -> Result<(), BusError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(NODE_HEADER, self.node.as_str());
        let payload = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        self.client
            .publish_with_headers(format!("{STATUS_PREFIX}{}", self.token), headers, payload.into())
            .await
            .map_err(|e| format!("publishing the status: {e}"))?;
        self.client.flush().await.map_err(|e| format!("publishing the status: {e}"))
    }

    /// Publishes alerts and decisions; returns how many JetStream took as new (the rest were duplicates).
    /// An error means some may not have been stored: the caller keeps them all (re-publishing is safe).
    pub async fn publish(&self, alerts: &[Value], decisions: &[Value]) -> Result<u64, BusError> {
        let mut acks = Vec::new();
        for (kind, items) in [("alerts", alerts), ("decisions", decisions)] {
            for chunk in items.chunks(ITEMS_PER_MESSAGE) {
                let key = |item: &Value| match kind {
                    "alerts" => item["id"].as_str().unwrap_or("").to_string(),
                    _ => format!(
                        "{}/{}/{}",
                        item["id"].as_str().unwrap_or(""),
                        item["written_ns"].as_i64().unwrap_or(0),
                        item["outcome"].as_str().unwrap_or("")
                    ),
                };
                // The batch's identity: its items' keys (hashed: a header stays short).
                let mut h = std::collections::hash_map::DefaultHasher::new();
                for item in chunk {
                    std::hash::Hash::hash(&key(item), &mut h);
                }
                let id = format!(
                    "{kind}/{}/{}/{}/{:016x}",
                    self.node,
                    key(&chunk[0]),
                    chunk.len(),
                    std::hash::Hasher::finish(&h)
                );
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", id.as_str());
                headers.insert(NODE_HEADER, self.node.as_str());
                let subject = format!("kestrel.{kind}.{}", self.token);
                let body = serde_json::to_vec(chunk).map_err(|e| e.to_string())?;
                let ack = self
                    .js
                    .publish_with_headers(subject, headers, body.into())
                    .await
                    .map_err(|e| format!("publishing: {e}"))?;
                acks.push((ack, chunk.len() as u64));
            }
        }
        let mut new = 0;
        for (ack, n) in acks {
            let a = ack.await.map_err(|e| format!("not acknowledged: {e}"))?;
            if !a.duplicate {
                new += n;
            }
        }
        Ok(new)
    }
}

/// What a consumer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Consumed {
    /// Messages stored and acknowledged.
    pub messages: u64,
    /// Of those, new rows in the store.
    pub new: u64,
    /// Messages that were not items (acknowledged and dropped, with a log line).
    pub malformed: u64,
}

/// A server's consumer: pulls batches from the stream into `store` until `stop` says so.
pub async fn consume(
    client: async_nats::Client,
    store: Store,
    replicas: usize,
    max_bytes: i64,
    stop: tokio::sync::watch::Receiver<bool>,
    notifier: Option<std::sync::Arc<crate::notify::Notifier>>,
) -> Result<Consumed, BusError> {
    let statuses = tokio::spawn(statuses(client.clone(), store.clone(), stop.clone()));
    let js = jetstream::new(client);
    let mut total = Consumed::default();
    // The stream and consumer may not be reachable yet (a cluster electing its leader): keep trying.
    let consumer: consumer::Consumer<consumer::pull::Config> = loop {
        let attempt = async {
            let stream = ensure_stream(&js, replicas, max_bytes).await?;
            stream
                .get_or_create_consumer(
                    CONSUMER,
                    consumer::pull::Config {
                        durable_name: Some(CONSUMER.into()),
                        ack_policy: consumer::AckPolicy::Explicit,
                        ack_wait: Duration::from_secs(10),
                        max_ack_pending: 50_000,
                        num_replicas: replicas,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| format!("consumer {CONSUMER}: {e}"))
        };
        match attempt.await {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!("JetStream not ready: {e}");
                if *stop.borrow() {
                    statuses.abort();
                    return Ok(total);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    while !*stop.borrow() {
        let batch = match consumer.fetch().max_messages(1000).expires(Duration::from_millis(500)).messages().await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("fetch: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let msgs: Vec<jetstream::Message> = batch.filter_map(|m| async move { m.ok() }).collect().await;
        if msgs.is_empty() {
            continue;
        }
        let mut alerts: BTreeMap<String, Vec<Alert>> = BTreeMap::new();
        let mut decisions: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut malformed = 0;
        for m in &msgs {
            let node =
                m.headers.as_ref().and_then(|h| h.get(NODE_HEADER)).map(|v| v.as_str().to_string()).unwrap_or_default();
            // A batch (JSON array) or one item.
            let batch = m.payload.first() == Some(&b'[');
            let parsed = if m.subject.starts_with("kestrel.alerts.") {
                let items = if batch {
                    serde_json::from_slice::<Vec<Alert>>(&m.payload)
                } else {
                    serde_json::from_slice::<Alert>(&m.payload).map(|a| vec![a])
                };
                items.map(|a| alerts.entry(node.clone()).or_default().extend(a)).is_ok()
            } else {
                let items = if batch {
                    serde_json::from_slice::<Vec<Value>>(&m.payload)
                } else {
                    serde_json::from_slice::<Value>(&m.payload).map(|v| vec![v])
                };
                items.map(|v| decisions.entry(node.clone()).or_default().extend(v)).is_ok()
            };
            if !parsed || node.is_empty() {
                malformed += 1;
                tracing::error!("{}: a message that is not a kestrel item, dropped", m.subject);
            }
        }
        let now = crate::now_ns();
        let mut new = 0;
        let mut stored = true;
        let all: Vec<(&str, &Alert)> = alerts
            .iter()
            .filter(|(n, _)| !n.is_empty())
            .flat_map(|(n, items)| items.iter().map(move |a| (n.as_str(), a)))
            .collect();
        if !all.is_empty() {
            // One transaction for the whole fetch.
            match store.put_alerts_new(now, &all).await {
                Ok(fresh) => {
                    if let Some(n) = &notifier {
                        n.alerts(fresh.iter().map(|&i| all[i]));
                    }
                    new += fresh.len() as u64;
                }
                Err(e) => {
                    tracing::error!("storing {} alerts: {e}", all.len());
                    stored = false;
                }
            }
        }
        for (node, items) in decisions.iter().filter(|(n, _)| !n.is_empty()) {
            match store.put_decisions(node, items).await {
                Ok(n) => new += n,
                Err(e) => {
                    tracing::error!("storing decisions from {node}: {e}");
                    stored = false;
                }
            }
        }
        for node in alerts.keys().chain(decisions.keys()).filter(|n| !n.is_empty()) {
            let _ = store.touch_node(node, now, None, None).await;
        }
        if !stored {
            // Not acknowledged: redelivered after the ack wait, to this replica or another.
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let acks = futures_util::future::join_all(msgs.iter().map(|m| m.ack())).await;
        if let Some(Err(e)) = acks.into_iter().find(|r| r.is_err()) {
            tracing::warn!("ack: {e} (unacknowledged messages come again; storing twice changes nothing)");
        }
        metrics::counter!("kestrel_server_ingested_total", "kind" => "bus").increment(new);
        metrics::counter!("kestrel_server_bus_messages_total").increment(msgs.len() as u64);
        total.messages += msgs.len() as u64;
        total.new += new;
        total.malformed += malformed;
    }
    statuses.abort();
    Ok(total)
}

/// Stores the statuses nodes publish (`kestrel.status.NODE`, in queue group [`CONSUMER`]: one replica stores each)
/// until `stop` says so: what a heartbeat over HTTP does, for agents that ship through the bus.
async fn statuses(client: async_nats::Client, store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
    #[derive(serde::Deserialize)]
    struct Status {
        #[serde(default)]
        version: Option<String>,
        #[serde(default)]
        status: Option<Value>,
    }
    let subject = format!("{STATUS_PREFIX}>");
    let mut sub = match client.queue_subscribe(subject.clone(), CONSUMER.into()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("subscribing to {subject}: {e}; nodes' statuses from the bus are not stored");
            return;
        }
    };
    while !*stop.borrow() {
        let m = tokio::select! {
            m = sub.next() => m,
            _ = stop.changed() => continue,
        };
        let Some(m) = m else { break };
        let node = m.headers.as_ref().and_then(|h| h.get(NODE_HEADER)).map(|v| v.as_str().to_string());
        let parsed = (m.payload.len() <= MAX_STATUS_BYTES)
            .then(|| serde_json::from_slice::<Status>(&m.payload).ok())
            .flatten()
            .filter(|s| s.status.as_ref().is_none_or(Value::is_object));
        match (node.filter(|n| !n.is_empty()), parsed) {
            (Some(node), Some(s)) => {
                if let Err(e) = store.touch_node(&node, crate::now_ns(), s.version.as_deref(), s.status.as_ref()).await
                {
                    tracing::warn!("storing the status of {node}: {e}");
                }
            }
            _ => tracing::error!("{}: a message that is not a node's status, dropped", m.subject),
        }
    }
}
