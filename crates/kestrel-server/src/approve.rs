//! Response approvals through the API: the decisions that wait for a person, a person's verdict on one
//! (admin), and the verdicts a node fetches to act on.

use crate::auth::{Principal, Role};
use crate::{allow, as_node, bad, now_ns, ApiError, State, READ};
use axum::extract::{Path, Query, State as Axum};
use axum::http::StatusCode;
use axum::Json;
use kestrel_store::Verdict;
use serde::Deserialize;
use serde_json::{json, Value};

/// `GET /api/v1/approvals`: decisions whose latest state is pending-approval, with any verdict given.
pub async fn pending(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, READ)?;
    Ok(Json(json!({ "items": state.store().pending(500).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerdictBody {
    verdict: String,
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/approvals/{node}/{id}`: `{"verdict": "approve"|"deny", "reason": "…"}` (admin).
pub async fn decide(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    Path((node, id)): Path<(String, String)>,
    body: Result<Json<VerdictBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    allow(&p, &[])?;
    let Json(b) = body.map_err(|e| bad(e.body_text()))?;
    if b.reason.len() > 1000 {
        return Err(bad("reason: at most 1,000 characters"));
    }
    let asked = Verdict { node, id, verdict: b.verdict, by: p.name.clone(), reason: b.reason, at_ns: now_ns() };
    let (v, new) = state.store().put_verdict(&asked).await?;
    if !new && v.verdict != asked.verdict {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("{} already gave the verdict {} on {}", v.by, v.verdict, v.id),
        ));
    }
    if new {
        tracing::info!(node = %v.node, id = %v.id, verdict = %v.verdict, by = %v.by, "verdict on a response decision");
        metrics::counter!("kestrel_server_verdicts_total", "verdict" => v.verdict.clone()).increment(1);
    }
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(json!(v))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerdictQuery {
    node: String,
}

/// `GET /api/v1/verdicts?node=NODE`: the verdicts a node has yet to act on (its agent fetches them).
pub async fn for_node(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    q: Result<Query<VerdictQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, &[Role::Agent])?;
    let Query(q) = q.map_err(|e| bad(e.body_text()))?;
    as_node(&p, &q.node)?;
    Ok(Json(json!({ "items": state.store().verdicts_for(&q.node).await? })))
}
