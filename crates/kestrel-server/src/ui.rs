//! The dashboard: three static files compiled into the binary, and the login that trades a token for a
//! session cookie.
//!
//! The cookie holds a random secret; the store keeps only its SHA-256, with the token's name and role and an
//! expiry ([`SESSION_HOURS`]), so every replica of the server knows every session. The cookie is `HttpOnly`
//! and `SameSite=Strict`, and a request authenticated by it that changes anything must also carry the
//! `X-Kestrel` header, which a page of another site cannot send without the server's consent (CORS, never
//! given). The pages forbid inline script and framing (`Content-Security-Policy`).

use crate::auth::{Principal, Role};
use crate::{bad, now_ns, ApiError, State};
use axum::extract::State as Axum;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE: &str = "kestrel_session";

/// How long a login lasts.
pub const SESSION_HOURS: i64 = 12;

const INDEX: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const APP_CSS: &str = include_str!("../ui/app.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn page(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the dashboard.
pub(crate) async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

/// `GET /ui/app.js`.
pub(crate) async fn app_js() -> Response {
    page("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /ui/app.css`.
pub(crate) async fn app_css() -> Response {
    page("text/css; charset=utf-8", APP_CSS)
}

/// The session secret in a request's cookies.
pub fn session_secret(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The digest the store keeps for a session secret.
pub fn session_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn role_word(r: Role) -> &'static str {
    match r {
        Role::Viewer => "viewer",
        Role::Ci => "ci",
        Role::Agent => "agent",
        Role::Admin => "admin",
    }
}

/// A role as stored with a session.
pub fn role_of(word: &str) -> Option<Role> {
    [Role::Viewer, Role::Ci, Role::Agent, Role::Admin].into_iter().find(|r| role_word(*r) == word)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    token: String,
}

/// `POST /api/v1/login`: `{"token": "…"}` → a session cookie.
pub(crate) async fn login(
    Axum(state): Axum<State>,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(login) = body.map_err(|e| bad(e.body_text()))?;
    let Some(p) = state.tokens().check(login.token.trim()) else {
        metrics::counter!("kestrel_server_logins_total", "result" => "refused").increment(1);
        return Err(ApiError(StatusCode::UNAUTHORIZED, "unknown token".into()));
    };
    if p.role == Role::Agent {
        return Err(ApiError(StatusCode::FORBIDDEN, "an agent's token cannot log in to the dashboard".into()));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("no randomness from the OS: {e}")))?;
    let secret = hex::encode(bytes);
    let now = now_ns();
    let expires = now + SESSION_HOURS * 3_600_000_000_000;
    state.store().put_session(&session_digest(&secret), &p.name, role_word(p.role), now, expires).await?;
    metrics::counter!("kestrel_server_logins_total", "result" => "ok").increment(1);
    tracing::info!(name = %p.name, role = role_word(p.role), "dashboard login");
    let cookie = format!("{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", SESSION_HOURS * 3600);
    let mut resp = Json(json!({ "name": p.name, "role": role_word(p.role) })).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| bad(e.to_string()))?);
    Ok(resp)
}

/// `GET /api/v1/session`: who is logged in (or which token is used).
pub(crate) async fn whoami(axum::Extension(p): axum::Extension<Principal>) -> Json<serde_json::Value> {
    Json(json!({ "name": p.name, "role": role_word(p.role) }))
}

/// `POST /api/v1/logout`: ends the session.
pub(crate) async fn logout(Axum(state): Axum<State>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(secret) = session_secret(&headers) {
        state.store().end_session(&session_digest(secret)).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("kestrel_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}
