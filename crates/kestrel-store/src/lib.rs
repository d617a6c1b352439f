//! Fleet storage: what kestrel finds across nodes and CI — runtime alerts, response decisions, scan reports,
//! learned profiles, and the nodes that sent them.
//!
//! One [`Store`] over two backends with the same SQL and the same migrations (`migrations/`): **SQLite**, a
//! file beside the server (the default: nothing to set up), and **PostgreSQL** when one machine is not enough
//! (`postgres://…`). Every write is idempotent — an alert is keyed by its node and id, a decision by its node,
//! id, time and outcome, a report by the digest of its kind, subject and content — so a redelivered batch
//! (at-least-once transport, an agent replaying its spool) changes nothing and is counted as a duplicate.
//!
//! ```no_run
//! # async fn f() -> Result<(), kestrel_store::StoreError> {
//! let store = kestrel_store::Store::open("sqlite:/var/lib/kestrel/server.db").await?;
//! let page = store.alerts(&kestrel_store::AlertQuery { limit: 50, ..Default::default() }).await?;
//! for a in &page.items {
//!     println!("{} {:?} {}", a.node, a.alert.severity, a.alert.title);
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod approvals;
mod cursor;
mod sql;

pub use approvals::{Pending, Verdict};

use kestrel_core::{Alert, Severity};
use serde::{Deserialize, Serialize};
use sql::{Sql, Value as V};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error("opening {url}: {source}")]
    Open {
        /// The URL (without its password).
        url: String,
        /// What the driver said.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migrating {url}: {source}")]
    Migrate {
        /// The URL (without its password).
        url: String,
        /// What the migrator said.
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored body no longer parses (written by another version, or edited by hand).
    #[error("stored {what} {id} is unreadable: {reason}")]
    Corrupt {
        /// Table.
        what: &'static str,
        /// Key.
        id: String,
        /// Why.
        reason: String,
    },
    /// A record sent to be stored lacks what it must have.
    #[error("{0}")]
    Invalid(String),
    /// What a request refers to is not there.
    #[error("{0}")]
    NotFound(String),
}

type Result<T> = std::result::Result<T, StoreError>;

/// The database behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// An SQLite file (or memory).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The storage.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: String,
}

/// Rows per INSERT statement (SQLite allows 32 766 bound values, PostgreSQL 65 535).
const BATCH: usize = 500;

/// A URL with its password hidden, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Store {
    /// Opens (creating an SQLite file when missing) and migrates. `url`: `sqlite:PATH`, `sqlite::memory:`,
    /// or `postgres://USER:PASSWORD@HOST:PORT/DB`.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let shown = redact_url(url);
        let (backend, connect, max) = if let Some(rest) = url.strip_prefix("sqlite:") {
            // One writer at a time in SQLite: a small pool; WAL lets readers go on beside it.
            let memory = rest.contains(":memory:");
            let connect = if memory {
                "sqlite::memory:".to_string()
            } else if rest.contains('?') {
                url.to_string()
            } else {
                format!("sqlite:{rest}?mode=rwc")
            };
            (Backend::Sqlite, connect, if memory { 1 } else { 4 })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string(), 16)
        } else {
            return Err(StoreError::Invalid(format!(
                "{shown}: not a store URL (sqlite:PATH, sqlite::memory: or postgres://…)"
            )));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(std::time::Duration::from_secs(10))
            // An in-memory SQLite database lives as long as its one connection.
            .idle_timeout(None)
            .max_lifetime(None)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&connect)
            .await
            .map_err(|source| StoreError::Open { url: shown.clone(), source })?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { url: shown.clone(), source })?;
        let store = Store { pool, backend, url: shown };
        store.index_report_digests().await?;
        Ok(store)
    }

    /// Adds the digests of image reports stored before they were indexed (an upgrade), 16 at a time (a report can
    /// be tens of MB: memory stays bounded).
    async fn index_report_digests(&self) -> Result<()> {
        let mut after = String::new();
        loop {
            let rows = sqlx::query(
                "SELECT id, received_ns, body FROM reports WHERE kind = 'image' AND id > $1 \
                 AND NOT EXISTS (SELECT 1 FROM report_digests d WHERE d.report = reports.id) ORDER BY id LIMIT 16",
            )
            .bind(after.clone())
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { return Ok(()) };
            after = last.try_get(0)?;
            let mut tx = self.write_tx().await?;
            for r in &rows {
                let (id, received_ns, body): (String, i64, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                let body = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
                put_digests(&mut tx, &id, received_ns, report_digests(&body).into_iter()).await?;
            }
            tx.commit().await?;
        }
    }

    /// A transaction that will write. SQLite's default (deferred) transaction takes the write lock at its
    /// first write; one that read first then fails with `SQLITE_BUSY_SNAPSHOT` ("database is locked", code 517)
    /// if another connection wrote in between — an error the busy timeout does not wait out. `BEGIN IMMEDIATE`
    /// takes the lock up front, where the busy timeout applies.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Which database.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL, password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Records that `node` sent something now (and its version and status, when given).
    pub async fn touch_node(
        &self,
        node: &str,
        now_ns: i64,
        version: Option<&str>,
        status: Option<&serde_json::Value>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO nodes (name, first_seen, last_seen, version, status) \
             VALUES ($1, $2, $3, $4, CASE WHEN $5 = '' THEN '{}' ELSE $5 END) \
             ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen, \
             version = CASE WHEN excluded.version = '' THEN nodes.version ELSE excluded.version END, \
             status = CASE WHEN $5 = '' THEN nodes.status ELSE excluded.status END",
        )
        .bind(node)
        .bind(now_ns)
        .bind(now_ns)
        .bind(version.unwrap_or(""))
        .bind(status.map(|s| s.to_string()).unwrap_or_default())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every node, most recently seen first.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>> {
        let rows =
            sqlx::query("SELECT name, first_seen, last_seen, version, status FROM nodes ORDER BY last_seen DESC, name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get(0)?;
                let status: String = r.try_get(4)?;
                Ok(NodeRecord {
                    status: serde_json::from_str(&status).map_err(|e| StoreError::Corrupt {
                        what: "node",
                        id: name.clone(),
                        reason: e.to_string(),
                    })?,
                    name,
                    first_seen_ns: r.try_get(1)?,
                    last_seen_ns: r.try_get(2)?,
                    version: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Stores alerts from `node`; returns how many were new (the rest were already stored).
    pub async fn put_alerts(&self, node: &str, received_ns: i64, alerts: &[Alert]) -> Result<u64> {
        let items: Vec<(&str, &Alert)> = alerts.iter().map(|a| (node, a)).collect();
        self.put_alerts_from(received_ns, &items).await
    }

    /// Stores alerts from several nodes in one transaction (what a bus consumer fetched); returns how many
    /// were new.
    pub async fn put_alerts_from(&self, received_ns: i64, items: &[(&str, &Alert)]) -> Result<u64> {
        Ok(self.put_alerts_new(received_ns, items).await?.len() as u64)
    }

    /// [`Store::put_alerts_from`], returning the positions in `items` of the alerts that were new (stored now,
    /// not before) — what a notification should go out for, once however often an agent re-sends.
    pub async fn put_alerts_new(&self, received_ns: i64, items: &[(&str, &Alert)]) -> Result<Vec<usize>> {
        let mut fresh = Vec::new();
        let mut tx = self.write_tx().await?;
        // The severities of the rows actually inserted (a conflict returns nothing), for the running counts.
        let mut added = [0i64; 5];
        for (c, chunk) in items.chunks(BATCH).enumerate() {
            let at: std::collections::HashMap<(&str, &str), usize> =
                chunk.iter().enumerate().map(|(i, (node, a))| ((*node, a.id.as_str()), c * BATCH + i)).collect();
            let mut q = Sql::new(
                "INSERT INTO alerts (node, id, time_ns, received_ns, severity, score, source, title, workload, \
                 namespace, body) ",
            );
            q.values(chunk, |(node, a): &(&str, &Alert)| {
                vec![
                    V::text(node),
                    V::text(&a.id),
                    V::I64(a.time_ns as i64),
                    V::I64(received_ns),
                    V::I64(severity_rank(a.severity)),
                    V::F64(if a.score.is_finite() { a.score } else { 0.0 }),
                    V::Text(source_name(a)),
                    V::text(&a.title),
                    V::Text(workload_of(a)),
                    V::Text(namespace_of(a)),
                    V::Text(serde_json::to_string(a).unwrap_or_default()),
                ]
            });
            q.push(" ON CONFLICT (node, id) DO NOTHING RETURNING severity, node, id");
            for r in q.query().fetch_all(&mut *tx).await? {
                let rank: i64 = r.try_get(0)?;
                added[rank.clamp(0, 4) as usize] += 1;
                let (node, id): (String, String) = (r.try_get(1)?, r.try_get(2)?);
                fresh.extend(at.get(&(node.as_str(), id.as_str())));
            }
        }
        for (rank, n) in added.iter().enumerate().filter(|(_, n)| **n > 0) {
            sqlx::query(
                "INSERT INTO alert_counts (severity, n) VALUES ($1, $2) \
                 ON CONFLICT (severity) DO UPDATE SET n = alert_counts.n + excluded.n",
            )
            .bind(rank as i64)
            .bind(*n)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        fresh.sort_unstable();
        Ok(fresh)
    }

    /// One alert.
    pub async fn alert(&self, node: &str, id: &str) -> Result<Option<StoredAlert>> {
        let row = sqlx::query("SELECT node, received_ns, body FROM alerts WHERE node = $1 AND id = $2")
            .bind(node)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| stored_alert(&r)).transpose()
    }

    /// Alerts, newest first, filtered; a page of at most `limit` (≤ 1000) and the cursor of the next.
    pub async fn alerts(&self, q: &AlertQuery) -> Result<Page<StoredAlert>> {
        let limit = q.limit.clamp(1, 1000);
        let mut b = Sql::new("SELECT node, received_ns, body, time_ns, id FROM alerts WHERE 1 = 1");
        if let Some(s) = q.min_severity {
            // `+ 0`: not a column an index could serve, so the planner walks the time index and filters.
            b.push(" AND severity + 0 >= ").bind(V::I64(severity_rank(s)));
        }
        for (col, v) in [("node", &q.node), ("workload", &q.workload), ("namespace", &q.namespace)] {
            if let Some(v) = v {
                b.push(&format!(" AND {col} = ")).bind(V::text(v));
            }
        }
        if let Some(t) = q.since_ns {
            b.push(" AND time_ns >= ").bind(V::I64(t));
        }
        if let Some(c) = &q.cursor {
            let (t, node, id) = cursor::decode(c).ok_or_else(|| StoreError::Invalid(format!("bad cursor {c:?}")))?;
            // A row value: one range on the index the page walks.
            b.push(" AND (time_ns, node, id) < (")
                .bind(V::I64(t))
                .push(", ")
                .bind(V::Text(node))
                .push(", ")
                .bind(V::Text(id))
                .push(")");
        }
        b.push(" ORDER BY time_ns DESC, node DESC, id DESC LIMIT ").bind(V::I64(limit as i64 + 1));
        let rows = b.query().fetch_all(&self.pool).await?;
        let more = rows.len() > limit;
        let mut items = Vec::with_capacity(limit);
        let mut next = None;
        for r in rows.iter().take(limit) {
            items.push(stored_alert(r)?);
        }
        if more {
            if let Some(r) = rows.get(limit - 1) {
                next = Some(cursor::encode(r.try_get(3)?, &r.try_get::<String, _>(0)?, &r.try_get::<String, _>(4)?));
            }
        }
        Ok(Page { items, next })
    }

    /// How many alerts are stored, by severity (most severe first).
    pub async fn alert_counts(&self) -> Result<Vec<(Severity, i64)>> {
        let rows = sqlx::query("SELECT severity, n FROM alert_counts").fetch_all(&self.pool).await?;
        let mut out: Vec<(Severity, i64)> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
        for r in rows {
            let rank: i64 = r.try_get(0)?;
            let n: i64 = r.try_get(1)?;
            if let Some(slot) = out.iter_mut().find(|(s, _)| severity_rank(*s) == rank) {
                slot.1 += n;
            }
        }
        Ok(out)
    }

    /// Stores response decisions (audit lines) from `node`; returns how many were new.
    pub async fn put_decisions(&self, node: &str, lines: &[serde_json::Value]) -> Result<u64> {
        let rows: Vec<DecisionRow> = lines.iter().map(DecisionRow::from_line).collect::<Result<_>>()?;
        let mut tx = self.write_tx().await?;
        let mut new = 0;
        for chunk in rows.chunks(BATCH) {
            let mut q = Sql::new(
                "INSERT INTO decisions (node, id, written_ns, outcome, alert_id, action, workload, severity, body) ",
            );
            q.values(chunk, |d| {
                vec![
                    V::text(node),
                    V::text(&d.id),
                    V::I64(d.written_ns),
                    V::text(&d.outcome),
                    V::text(&d.alert_id),
                    V::text(&d.action),
                    V::text(&d.workload),
                    V::I64(d.severity),
                    V::text(&d.body),
                ]
            });
            q.push(" ON CONFLICT (node, id, written_ns, outcome) DO NOTHING");
            new += q.query().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Decisions in their latest state, newest first; `outcome` filters on that state (`pending-approval`).
    pub async fn decisions(&self, outcome: Option<&str>, limit: usize) -> Result<Vec<StoredDecision>> {
        // The latest row of each (node, id).
        let mut b = Sql::new(
            "SELECT d.node, d.body FROM decisions d WHERE d.written_ns = (SELECT MAX(e.written_ns) FROM decisions e \
             WHERE e.node = d.node AND e.id = d.id)",
        );
        if let Some(o) = outcome {
            b.push(" AND d.outcome = ").bind(V::text(o));
        }
        b.push(" ORDER BY d.written_ns DESC LIMIT ").bind(V::I64(limit.clamp(1, 1000) as i64));
        let rows = b.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let node: String = r.try_get(0)?;
                let body: String = r.try_get(1)?;
                let line = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                    what: "decision",
                    id: node.clone(),
                    reason: e.to_string(),
                })?;
                Ok(StoredDecision { node, line })
            })
            .collect()
    }

    /// Stores a scan report; its id is the digest of its kind, subject and content ([`report_id`]): the same report
    /// sent again for the same subject is stored once; sent for a second subject (two tags of one image, scanned
    /// reproducibly), it is stored for that one too. Returns the id and whether it was new. An image report is found
    /// by its digests too ([`Store::reports_by_digest`]).
    pub async fn put_report(&self, r: &NewReport) -> Result<(String, bool)> {
        let id = report_id(&r.kind, &r.subject, &r.body.sha256);
        let mut tx = self.write_tx().await?;
        let n = sqlx::query(
            "INSERT INTO reports (id, kind, subject, source, received_ns, critical, high, medium, low, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.clone())
        .bind(r.kind.clone())
        .bind(r.subject.clone())
        .bind(r.source.clone())
        .bind(r.received_ns)
        .bind(r.counts[0])
        .bind(r.counts[1])
        .bind(r.counts[2])
        .bind(r.counts[3])
        .bind(r.body.text.clone())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 && r.kind == "image" {
            put_digests(&mut tx, &id, r.received_ns, r.body.digests()).await?;
        }
        tx.commit().await?;
        Ok((id, n == 1))
    }

    /// Image reports naming `digest` (`sha256:…`: an image id, a manifest's or a multi-platform index's digest),
    /// newest first.
    pub async fn reports_by_digest(&self, digest: &str, limit: usize) -> Result<Vec<ReportSummary>> {
        let mut b = Sql::new(
            "SELECT r.id, r.kind, r.subject, r.source, r.received_ns, r.critical, r.high, r.medium, r.low \
             FROM report_digests d JOIN reports r ON r.id = d.report WHERE d.digest = ",
        );
        b.bind(V::text(digest));
        b.push(" ORDER BY r.received_ns DESC, r.id LIMIT ").bind(V::I64(limit.clamp(1, 1000) as i64));
        let rows = b.query().fetch_all(&self.pool).await?;
        rows.iter().map(summary).collect()
    }

    /// Report summaries, newest first; `subject` filters on the image (or path) scanned, `kind` on the kind.
    pub async fn reports(&self, subject: Option<&str>, kind: Option<&str>, limit: usize) -> Result<Vec<ReportSummary>> {
        let mut b = Sql::new(
            "SELECT id, kind, subject, source, received_ns, critical, high, medium, low FROM reports WHERE 1 = 1",
        );
        if let Some(s) = subject {
            b.push(" AND subject = ").bind(V::text(s));
        }
        if let Some(k) = kind {
            b.push(" AND kind = ").bind(V::text(k));
        }
        b.push(" ORDER BY received_ns DESC, id LIMIT ").bind(V::I64(limit.clamp(1, 1000) as i64));
        let rows = b.query().fetch_all(&self.pool).await?;
        rows.iter().map(summary).collect()
    }

    /// How many reports are stored.
    pub async fn report_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM reports").fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// What one report is of: its subject, when it is stored.
    pub async fn report_subject(&self, id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT subject FROM reports WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// One report's body (read on a core of its own: a report runs to megabytes, and the caller's async worker
    /// has others to serve).
    pub async fn report(&self, id: &str) -> Result<Option<serde_json::Value>> {
        self.report_then(id, |body| body).await
    }

    /// What `take` makes of one report's body, read and taken on a core of its own (and the body let go of there).
    pub async fn report_then<T: Send + 'static>(
        &self,
        id: &str,
        take: impl FnOnce(serde_json::Value) -> T + Send + 'static,
    ) -> Result<Option<T>> {
        let Some(text) = self.report_text(id).await? else { return Ok(None) };
        let corrupt = |reason: String| StoreError::Corrupt { what: "report", id: id.to_string(), reason };
        let body = on_a_core(move || serde_json::from_str(&text).map(take))
            .await
            .map_err(|e| corrupt(format!("reading it stopped: {e}")))?;
        body.map(Some).map_err(|e| corrupt(e.to_string()))
    }

    /// One report's body as stored: JSON text, as [`ReportBody::new`] wrote it (not checked here).
    pub async fn report_text(&self, id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT body FROM reports WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Stores a learned profile from `node` (a later version of the same workload is kept beside the earlier).
    /// Returns whether it was new.
    pub async fn put_profile(
        &self,
        node: &str,
        workload: &str,
        version: i64,
        received_ns: i64,
        body: &serde_json::value::RawValue,
    ) -> Result<bool> {
        let n = sqlx::query(
            "INSERT INTO profiles (node, workload, version, received_ns, body) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (node, workload, version) DO NOTHING",
        )
        .bind(node)
        .bind(workload)
        .bind(version)
        .bind(received_ns)
        .bind(body.get())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The latest profile of `workload` from each node that sent one.
    pub async fn profiles(&self, workload: &str) -> Result<Vec<StoredProfile>> {
        let raw = self.profile_texts(workload).await?;
        let workload = workload.to_string();
        off_the_runtime(move || {
            raw.into_iter()
                .map(|(node, version, received_ns, body)| {
                    Ok(StoredProfile {
                        body: serde_json::value::RawValue::from_string(body).map_err(|e| StoreError::Corrupt {
                            what: "profile",
                            id: format!("{node}/{workload}"),
                            reason: e.to_string(),
                        })?,
                        node,
                        workload: workload.clone(),
                        version,
                        received_ns,
                    })
                })
                .collect()
        })
        .await
    }

    /// The latest profile of `workload` from each node that sent one, as stored: (node, version, received, JSON
    /// text) — for a reader that parses them into its own type, in the thread that uses them.
    pub async fn profile_texts(&self, workload: &str) -> Result<Vec<(String, i64, i64, String)>> {
        let rows = sqlx::query(
            "SELECT p.node, p.version, p.received_ns, p.body FROM profiles p WHERE p.workload = $1 AND p.version = \
             (SELECT MAX(q.version) FROM profiles q WHERE q.node = p.node AND q.workload = p.workload) \
             ORDER BY p.node",
        )
        .bind(workload)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect()
    }

    /// Each node's latest profile of each workload, summed up (mode, version, size), by workload and node.
    pub async fn workloads(&self) -> Result<Vec<WorkloadSummary>> {
        let rows = sqlx::query(
            "SELECT p.node, p.workload, p.version, p.received_ns, p.body FROM profiles p WHERE p.version = \
             (SELECT MAX(q.version) FROM profiles q WHERE q.node = p.node AND q.workload = p.workload) \
             ORDER BY p.workload, p.node",
        )
        .fetch_all(&self.pool)
        .await?;
        let raw = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
            .collect::<Result<Vec<(String, String, i64, i64, String)>>>()?;
        off_the_runtime(move || {
            raw.into_iter()
                .map(|(node, workload, version, received_ns, body)| {
                    let p: ProfileHead = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                        what: "profile",
                        id: format!("{node}/{workload}"),
                        reason: e.to_string(),
                    })?;
                    Ok(WorkloadSummary {
                        node,
                        workload,
                        version,
                        received_ns,
                        mode: p.mode,
                        events: p.events,
                        behaviours: p.behaviours.len(),
                        grams: p.grams.len(),
                        learn_started_ns: p.learn_started_ns,
                        mode_since_ns: p.mode_since_ns,
                        drift_pending: p.drift_pending,
                    })
                })
                .collect()
        })
        .await
    }

    /// Deletes alerts, decisions and reports received before `before_ns` (retention); profiles and nodes stay.
    pub async fn prune(&self, before_ns: i64) -> Result<Pruned> {
        let mut tx = self.write_tx().await?;
        let alerts = sqlx::query("DELETE FROM alerts WHERE received_ns < $1")
            .bind(before_ns)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let decisions = sqlx::query("DELETE FROM decisions WHERE written_ns < $1")
            .bind(before_ns)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let reports = sqlx::query("DELETE FROM reports WHERE received_ns < $1")
            .bind(before_ns)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM report_digests WHERE received_ns < $1").bind(before_ns).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM sessions WHERE expires_ns < $1").bind(now_ns()).execute(&mut *tx).await?;
        if alerts > 0 {
            sqlx::query("DELETE FROM alert_counts").execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO alert_counts (severity, n) SELECT severity, COUNT(*) FROM alerts GROUP BY severity",
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Pruned { alerts, decisions, reports })
    }
}

/// A report summary from its row: id, kind, subject, source, received_ns and the four counts, in that order.
fn summary(r: &sqlx::any::AnyRow) -> Result<ReportSummary> {
    Ok(ReportSummary {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        subject: r.try_get(2)?,
        source: r.try_get(3)?,
        received_ns: r.try_get(4)?,
        counts: [r.try_get(5)?, r.try_get(6)?, r.try_get(7)?, r.try_get(8)?],
    })
}

/// The digests an image report names: its target's image id, manifest and index digests (each `sha256:` and 64
/// lower-case hex digits; anything else in a report is left out).
pub fn report_digests(body: &serde_json::Value) -> Vec<&str> {
    ["image_id", "manifest_digest", "index_digest"]
        .iter()
        .filter_map(|k| body["target"][k].as_str())
        .filter(|d| kestrel_core::sha256_hex(d).is_some())
        .collect()
}

/// Records the digests image report `id` names ([`report_digests`]).
async fn put_digests(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: &str,
    received_ns: i64,
    digests: impl Iterator<Item = &str>,
) -> Result<()> {
    for d in digests {
        sqlx::query(
            "INSERT INTO report_digests (digest, report, received_ns) VALUES ($1, $2, $3) \
             ON CONFLICT (digest, report) DO NOTHING",
        )
        .bind(d.to_string())
        .bind(id.to_string())
        .bind(received_ns)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// What [`Store::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Alerts.
    pub alerts: u64,
    /// Decision rows.
    pub decisions: u64,
    /// Reports.
    pub reports: u64,
}

/// A node (agent or CI client).
#[derive(Debug, Clone, Serialize)]
pub struct NodeRecord {
    /// Its name.
    pub name: String,
    /// First contact (ns since the epoch).
    pub first_seen_ns: i64,
    /// Last contact.
    pub last_seen_ns: i64,
    /// kestrel version it runs.
    pub version: String,
    /// Its last status report.
    pub status: serde_json::Value,
}

/// A stored alert and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct StoredAlert {
    /// The node that raised it.
    pub node: String,
    /// When the server received it (ns).
    pub received_ns: i64,
    /// The alert.
    pub alert: Alert,
}

/// A response decision in its latest state.
#[derive(Debug, Clone, Serialize)]
pub struct StoredDecision {
    /// The node.
    pub node: String,
    /// The audit line (`kestrel.response/v1`).
    pub line: serde_json::Value,
}

/// A learned profile as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredProfile {
    /// The node that learned it.
    pub node: String,
    /// The workload.
    pub workload: String,
    /// Its version on that node.
    pub version: i64,
    /// When received (ns).
    pub received_ns: i64,
    /// The profile, as the node sent it: checked to be JSON, not parsed — profiles run to tens of megabytes, and
    /// the API hands them on as they are.
    pub body: Box<serde_json::value::RawValue>,
}

/// Runs `work` — parsing stored profiles, tens of megabytes each — on tokio's blocking threads, so that the async
/// workers go on answering the rest of the API meanwhile.
async fn off_the_runtime<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    on_a_core(work).await.map_err(|e| StoreError::Corrupt {
        what: "profile",
        id: String::new(),
        reason: format!("reading it stopped: {e}"),
    })?
}

/// Runs CPU-heavy `work` (reading, merging and writing out profiles) on tokio's blocking threads, at most one such
/// task per core at a time: more would only share the cores and crowd the allocator (four merges of 30 MB profiles
/// at once on two cores took twice as long as two and then two).
pub async fn on_a_core<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> std::result::Result<T, String> {
    static CORES: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    let _core = CORES.acquire().await.map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(work).await.map_err(|e| e.to_string())
}

/// What the workload list needs of a profile (the behaviours are counted, not kept).
#[derive(Deserialize)]
struct ProfileHead {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    events: u64,
    #[serde(default)]
    behaviours: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    grams: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    learn_started_ns: u64,
    #[serde(default)]
    mode_since_ns: u64,
    #[serde(default)]
    drift_pending: bool,
}

/// A workload as one node learned it: its latest profile, summed up.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSummary {
    /// The node.
    pub node: String,
    /// The workload.
    pub workload: String,
    /// The profile's version.
    pub version: i64,
    /// When it was received (ns).
    pub received_ns: i64,
    /// `learn`, `monitor` or `protect`.
    pub mode: String,
    /// Events learned from.
    pub events: u64,
    /// Behaviours learned.
    pub behaviours: usize,
    /// System-call n-grams learned.
    pub grams: usize,
    /// When learning started (ns).
    pub learn_started_ns: u64,
    /// When the mode last changed (ns).
    pub mode_since_ns: u64,
    /// Drift waits for a person.
    pub drift_pending: bool,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// A scan report to store.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// `image`, `config`, `secrets`, `compliance`.
    pub kind: String,
    /// What was scanned: the image reference (or digest), the path.
    pub subject: String,
    /// Who sent it (CI job, node).
    pub source: String,
    /// When received (ns).
    pub received_ns: i64,
    /// Findings by severity: critical, high, medium, low.
    pub counts: [i64; 4],
    /// The report.
    pub body: ReportBody,
}

/// What the store keeps of a report's content: its JSON text, the text's SHA-256 and the digests that find it
/// ([`report_digests`]). Made apart from the store's async calls, so that a caller can write out and digest a report
/// of megabytes where that blocks nothing else ([`on_a_core`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportBody {
    text: String,
    sha256: String,
    digests: Vec<String>,
}

impl ReportBody {
    /// The report written out (compact, every object's keys sorted: the same content has the same digest).
    pub fn new(report: &serde_json::Value) -> Result<ReportBody> {
        use sha2::Digest;
        let text = serde_json::to_string(report).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let digests = report_digests(report).into_iter().map(str::to_string).collect();
        Ok(ReportBody { sha256: hex::encode(sha2::Sha256::digest(text.as_bytes())), text, digests })
    }

    /// The digests that find the report ([`report_digests`]).
    pub fn digests(&self) -> impl Iterator<Item = &str> {
        self.digests.iter().map(String::as_str)
    }
}

/// A stored report, without its body.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    /// Digest of the content.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// What was scanned.
    pub subject: String,
    /// Who sent it.
    pub source: String,
    /// When received (ns).
    pub received_ns: i64,
    /// Findings by severity: critical, high, medium, low.
    pub counts: [i64; 4],
}

/// Filters of [`Store::alerts`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AlertQuery {
    /// At least this severe.
    pub min_severity: Option<Severity>,
    /// From this node.
    pub node: Option<String>,
    /// Of this workload.
    pub workload: Option<String>,
    /// In this Kubernetes namespace.
    pub namespace: Option<String>,
    /// Events at or after this time (ns).
    pub since_ns: Option<i64>,
    /// Where the previous page ended ([`Page::next`]).
    pub cursor: Option<String>,
    /// Page size (1–1000).
    pub limit: usize,
}

/// A page of results.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as the cursor for the next page; none when this is the last.
    pub next: Option<String>,
}

/// The order of severities in the database (higher is worse).
pub fn severity_rank(s: Severity) -> i64 {
    match s {
        Severity::Unknown => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

/// `rule:NAME` or `model:NAME`.
fn source_name(a: &Alert) -> String {
    match &a.source {
        kestrel_core::AlertSource::Rule { name, .. } => format!("rule:{name}"),
        kestrel_core::AlertSource::Model { name, .. } => format!("model:{name}"),
        #[allow(unreachable_patterns)]
        _ => String::new(),
    }
}

fn workload_of(a: &Alert) -> String {
    a.workload
        .clone()
        .or_else(|| a.container.as_ref().and_then(|c| c.name.clone().or_else(|| Some(c.id.clone()))))
        .unwrap_or_default()
}

fn namespace_of(a: &Alert) -> String {
    a.container.as_ref().and_then(|c| c.namespace.clone()).unwrap_or_default()
}

fn stored_alert(r: &AnyRow) -> Result<StoredAlert> {
    let node: String = r.try_get(0)?;
    let body: String = r.try_get(2)?;
    let alert: Alert = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
        what: "alert",
        id: node.clone(),
        reason: e.to_string(),
    })?;
    Ok(StoredAlert { node, received_ns: r.try_get(1)?, alert })
}

/// A report's id: SHA-256 of its kind and subject (a JSON array: no two pairs write out alike) and its content's
/// SHA-256, hex.
fn report_id(kind: &str, subject: &str, content_sha256: &str) -> String {
    use sha2::Digest;
    let of = serde_json::to_string(&[kind, subject]).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(format!("{of}\n{content_sha256}").as_bytes()))
}

struct DecisionRow {
    id: String,
    written_ns: i64,
    outcome: String,
    alert_id: String,
    action: String,
    workload: String,
    severity: i64,
    body: String,
}

impl DecisionRow {
    fn from_line(v: &serde_json::Value) -> Result<DecisionRow> {
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
        let id = s("id");
        if id.is_empty() || v.get("schema").and_then(|x| x.as_str()) != Some("kestrel.response/v1") {
            return Err(StoreError::Invalid("a decision needs schema kestrel.response/v1 and an id".into()));
        }
        let severity = v
            .get("severity")
            .cloned()
            .and_then(|x| serde_json::from_value::<Severity>(x).ok())
            .map_or(0, severity_rank);
        let action = match v.get("action") {
            Some(serde_json::Value::String(a)) => a.clone(),
            Some(serde_json::Value::Object(o)) => o.keys().next().cloned().unwrap_or_default(),
            _ => String::new(),
        };
        Ok(DecisionRow {
            written_ns: v.get("written_ns").and_then(|x| x.as_i64()).unwrap_or(0),
            outcome: s("outcome"),
            alert_id: s("alert_id"),
            workload: s("workload"),
            action,
            severity,
            body: v.to_string(),
            id,
        })
    }
}

#[cfg(test)]
mod tests;
