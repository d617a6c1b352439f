//! Response decisions that wait for a person, the verdicts given on them, and dashboard sessions.

use super::{Result, Store, StoreError, StoredDecision};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// A person's verdict on a decision pending approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The node whose decision it is.
    pub node: String,
    /// The decision's id.
    pub id: String,
    /// `approve` or `deny`.
    pub verdict: String,
    /// Who gave it (the token's name).
    pub by: String,
    /// Why, in their words (may be empty).
    pub reason: String,
    /// When (ns).
    pub at_ns: i64,
}

/// A decision waiting for a person, and the verdict if one was given (the node has not acted on it yet).
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    /// The node.
    pub node: String,
    /// The decision's audit line.
    pub decision: serde_json::Value,
    /// The verdict, once given.
    pub verdict: Option<Verdict>,
}

/// The latest row of each decision, when that row says pending-approval (`d` is the row's alias).
const LATEST_PENDING: &str = "d.outcome = 'pending-approval' AND d.written_ns = \
     (SELECT MAX(e.written_ns) FROM decisions e WHERE e.node = d.node AND e.id = d.id)";

impl Store {
    /// Decisions whose latest state is pending-approval, newest first, with their verdicts.
    pub async fn pending(&self, limit: usize) -> Result<Vec<Pending>> {
        let rows = sqlx::query(&format!(
            "SELECT d.node, d.body, v.verdict, v.by_name, v.reason, v.at_ns, d.id FROM decisions d \
             LEFT JOIN verdicts v ON v.node = d.node AND v.id = d.id WHERE {LATEST_PENDING} \
             ORDER BY d.written_ns DESC, d.node, d.id LIMIT $1"
        ))
        .bind(limit.clamp(1, 1000) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let node: String = r.try_get(0)?;
                let body: String = r.try_get(1)?;
                let id: String = r.try_get(6)?;
                let verdict = match r.try_get::<Option<String>, _>(2)? {
                    Some(verdict) => Some(Verdict {
                        node: node.clone(),
                        id: id.clone(),
                        verdict,
                        by: r.try_get(3)?,
                        reason: r.try_get(4)?,
                        at_ns: r.try_get(5)?,
                    }),
                    None => None,
                };
                let decision = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                    what: "decision",
                    id: format!("{node}/{id}"),
                    reason: e.to_string(),
                })?;
                Ok(Pending { node, decision, verdict })
            })
            .collect()
    }

    /// How many decisions wait for a person.
    pub async fn pending_count(&self) -> Result<i64> {
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM decisions d WHERE {LATEST_PENDING}"))
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(n)
    }

    /// Records a verdict on `node`'s decision `id`, which must be pending approval. A decision takes one
    /// verdict: a second one returns the first, with `false`.
    pub async fn put_verdict(&self, v: &Verdict) -> Result<(Verdict, bool)> {
        if v.verdict != "approve" && v.verdict != "deny" {
            return Err(StoreError::Invalid(format!("verdict {:?}: approve or deny", v.verdict)));
        }
        let mut tx = self.write_tx().await?;
        let pending: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) FROM decisions d WHERE d.node = $1 AND d.id = $2 AND {LATEST_PENDING}"
        ))
        .bind(&v.node)
        .bind(&v.id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if pending == 0 {
            return Err(StoreError::NotFound(format!("no decision {} of node {} waits for approval", v.id, v.node)));
        }
        let new = sqlx::query(
            "INSERT INTO verdicts (node, id, verdict, by_name, reason, at_ns) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (node, id) DO NOTHING",
        )
        .bind(&v.node)
        .bind(&v.id)
        .bind(&v.verdict)
        .bind(&v.by)
        .bind(&v.reason)
        .bind(v.at_ns)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let r = sqlx::query("SELECT verdict, by_name, reason, at_ns FROM verdicts WHERE node = $1 AND id = $2")
            .bind(&v.node)
            .bind(&v.id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let stored = Verdict {
            node: v.node.clone(),
            id: v.id.clone(),
            verdict: r.try_get(0)?,
            by: r.try_get(1)?,
            reason: r.try_get(2)?,
            at_ns: r.try_get(3)?,
        };
        Ok((stored, new))
    }

    /// Verdicts for `node` on decisions it has not acted on yet (their latest state is still pending).
    pub async fn verdicts_for(&self, node: &str) -> Result<Vec<Verdict>> {
        let rows = sqlx::query(&format!(
            "SELECT v.id, v.verdict, v.by_name, v.reason, v.at_ns FROM verdicts v WHERE v.node = $1 AND EXISTS \
             (SELECT 1 FROM decisions d WHERE d.node = v.node AND d.id = v.id AND {LATEST_PENDING}) ORDER BY v.at_ns"
        ))
        .bind(node)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Verdict {
                    node: node.to_string(),
                    id: r.try_get(0)?,
                    verdict: r.try_get(1)?,
                    by: r.try_get(2)?,
                    reason: r.try_get(3)?,
                    at_ns: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// The decisions of `node` with id `id` in their latest state (for checking what a verdict became).
    pub async fn decision(&self, node: &str, id: &str) -> Result<Option<StoredDecision>> {
        let row = sqlx::query(
            "SELECT body FROM decisions WHERE node = $1 AND id = $2 ORDER BY written_ns DESC, outcome LIMIT 1",
        )
        .bind(node)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let body: String = r.try_get(0)?;
            let line = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                what: "decision",
                id: format!("{node}/{id}"),
                reason: e.to_string(),
            })?;
            Ok(StoredDecision { node: node.to_string(), line })
        })
        .transpose()
    }

    /// Opens a session: `digest` is the SHA-256 (hex) of the session's secret, which only the browser holds.
    pub async fn put_session(&self, digest: &str, name: &str, role: &str, now_ns: i64, expires_ns: i64) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires_ns < $1").bind(now_ns).execute(&self.pool).await?;
        sqlx::query("INSERT INTO sessions (digest, name, role, created_ns, expires_ns) VALUES ($1, $2, $3, $4, $5)")
            .bind(digest)
            .bind(name)
            .bind(role)
            .bind(now_ns)
            .bind(expires_ns)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Who a live session stands for: name and role.
    pub async fn session(&self, digest: &str, now_ns: i64) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT name, role FROM sessions WHERE digest = $1 AND expires_ns > $2")
            .bind(digest)
            .bind(now_ns)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Ends a session.
    pub async fn end_session(&self, digest: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE digest = $1").bind(digest).execute(&self.pool).await?;
        Ok(())
    }
}
