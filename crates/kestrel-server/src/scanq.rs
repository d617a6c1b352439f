//! Image scans as a JetStream work queue: `kestrel watch --nats` publishes one job per new or changed image
//! (stream `KESTREL_SCANS`, subject `kestrel.scans`, `Nats-Msg-Id` = reference and digest, so a job queued
//! twice inside the duplicate window is one job), and any number of `kestrel scan-worker` processes pull them
//! from one durable consumer, scan, send the report to the server, and only then acknowledge. A worker that
//! dies leaves its job to another after the ack wait; a failed scan is handed back with a delay, at most
//! [`MAX_DELIVER`] times, then taken off the queue ([`ScanQueue::give_up`]). At least once on the wire; the server keeps reports by content, so once in storage.
//!
//! A blocking API (the watcher and the workers are plain threads), over a one-worker runtime of its own.

use async_nats::jetstream::{self, consumer, stream, AckKind};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The stream.
pub const SCAN_STREAM: &str = "KESTREL_SCANS";
/// Its subject.
pub const SCAN_SUBJECT: &str = "kestrel.scans";
/// The workers' durable consumer.
pub const SCAN_CONSUMER: &str = "kestrel-scanners";
/// Deliveries of one job before it is given up (a scan that keeps failing).
pub const MAX_DELIVER: i64 = 5;

/// One scan to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanJob {
    /// `registry/repo:tag`.
    pub reference: String,
    /// The manifest digest the tag pointed at when queued.
    pub digest: String,
}

/// The queue, as a watcher or a worker sees it.
pub struct ScanQueue {
    rt: tokio::runtime::Runtime,
    js: jetstream::Context,
    consumer: Option<consumer::Consumer<consumer::pull::Config>>,
}

/// A job taken from the queue: acknowledge it when done, or hand it back.
pub struct Taken {
    /// The job.
    pub job: ScanJob,
    /// Which delivery this is (1 the first).
    pub delivery: i64,
    msg: jetstream::Message,
}

impl ScanQueue {
    /// Connects to `urls` and makes the stream when missing (`replicas`: 1, or 3 on a cluster).
    pub fn connect(urls: &str, replicas: usize) -> Result<ScanQueue, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kestrel-scanq")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let js = rt.block_on(async {
            let client = crate::bus::connect(urls).await?;
            let js = jetstream::new(client);
            js.get_or_create_stream(stream::Config {
                name: SCAN_STREAM.into(),
                subjects: vec![SCAN_SUBJECT.into()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                num_replicas: replicas,
                duplicate_window: Duration::from_secs(3600),
                max_messages: 1_000_000,
                discard: stream::DiscardPolicy::New,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("stream {SCAN_STREAM}: {e}"))?;
            Ok::<_, String>(js)
        })?;
        Ok(ScanQueue { rt, js, consumer: None })
    }

    /// Queues a job; `false` when JetStream already had it (a duplicate inside the window).
    pub fn publish(&self, job: &ScanJob) -> Result<bool, String> {
        let body = serde_json::to_vec(job).map_err(|e| e.to_string())?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{}@{}", job.reference, job.digest).as_str());
        self.rt.block_on(async {
            let ack = self
                .js
                .publish_with_headers(SCAN_SUBJECT, headers, body.into())
                .await
                .map_err(|e| format!("publish: {e}"))?
                .await
                .map_err(|e| format!("publish: {e}"))?;
            Ok(!ack.duplicate)
        })
    }

    /// The next job, waiting at most `wait`; `None` when there was none.
    pub fn next(&mut self, wait: Duration) -> Result<Option<Taken>, String> {
        if self.consumer.is_none() {
            let c = self.rt.block_on(async {
                let stream = self.js.get_stream(SCAN_STREAM).await.map_err(|e| format!("stream {SCAN_STREAM}: {e}"))?;
                stream
                    .get_or_create_consumer(
                        SCAN_CONSUMER,
                        consumer::pull::Config {
                            durable_name: Some(SCAN_CONSUMER.into()),
                            ack_policy: consumer::AckPolicy::Explicit,
                            // A scan of a big image takes minutes; progress() extends it.
                            ack_wait: Duration::from_secs(600),
                            max_deliver: MAX_DELIVER,
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| format!("consumer {SCAN_CONSUMER}: {e}"))
            })?;
            self.consumer = Some(c);
        }
        let Some(consumer) = self.consumer.as_ref() else { return Err("no consumer".into()) };
        self.rt.block_on(async {
            let mut batch =
                consumer.fetch().max_messages(1).expires(wait).messages().await.map_err(|e| format!("fetch: {e}"))?;
            match batch.next().await {
                Some(Ok(msg)) => {
                    let delivery = msg.info().map(|i| i.delivered).unwrap_or(1);
                    match serde_json::from_slice::<ScanJob>(&msg.payload) {
                        Ok(job) => Ok(Some(Taken { job, delivery, msg })),
                        Err(e) => {
                            // Not a job: it can never succeed; taken off the queue, said why.
                            tracing::error!("a malformed scan job removed: {e}");
                            let _ = msg.ack_with(AckKind::Term).await;
                            Ok(None)
                        }
                    }
                }
                Some(Err(e)) => Err(format!("fetch: {e}")),
                None => Ok(None),
            }
        })
    }

    /// Done: the job leaves the queue.
    pub fn ack(&self, t: Taken) -> Result<(), String> {
        self.rt.block_on(t.msg.double_ack()).map_err(|e| format!("ack: {e}"))
    }

    /// Failed: handed back, to be delivered again after `delay` (to any worker).
    pub fn retry(&self, t: Taken, delay: Duration) -> Result<(), String> {
        self.rt.block_on(t.msg.ack_with(AckKind::Nak(Some(delay)))).map_err(|e| format!("nak: {e}"))
    }

    /// Failed for the last time ([`MAX_DELIVER`]): taken off the queue, so it neither waits there forever nor
    /// keeps a `--once` worker waiting for it.
    pub fn give_up(&self, t: Taken) -> Result<(), String> {
        self.rt.block_on(t.msg.ack_with(AckKind::Term)).map_err(|e| format!("term: {e}"))
    }

    /// Jobs waiting.
    pub fn pending(&self) -> Result<u64, String> {
        self.rt.block_on(async {
            let mut s = self.js.get_stream(SCAN_STREAM).await.map_err(|e| e.to_string())?;
            Ok(s.info().await.map_err(|e| e.to_string())?.state.messages)
        })
    }
}
