//! The fleet server: one HTTP API where CI scan reports, runtime alerts, response decisions and learned
//! profiles from every node come together, over [`kestrel_store`] (SQLite by default, PostgreSQL), and the
//! dashboard over it ([`ui`], at `/`).
//!
//! [`app`] builds the router from a [`State`]; [`serve`] runs it on a listener until shutdown. Every API call
//! but `/healthz`, `/readyz`, `/metrics`, the OpenAPI description and the login needs a bearer token
//! ([`auth`]) or a dashboard session; an agent may write only as the node its token names. The API is
//! described in `openapi.yaml`, served at `/api/v1/openapi.json`.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let store = kestrel_store::Store::open("sqlite::memory:").await?;
//! let mut tokens = kestrel_server::auth::Tokens::default();
//! tokens.add("s3cret", "admin", kestrel_server::auth::Role::Admin);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8470").await?;
//! kestrel_server::serve(listener, kestrel_server::State::new(store, tokens), std::future::pending()).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod admission;
mod affected;
mod approve;
pub mod auth;
pub mod bus;
pub mod metrics_text;
pub mod notify;
pub mod scanq;
pub mod ship;
pub mod ui;
pub mod vulndb;

use auth::{Principal, Role, Tokens};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State as Axum};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kestrel_core::{Alert, Severity};
use kestrel_store::{AlertQuery, NewReport, Store, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// The OpenAPI description of the API (YAML).
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

/// The largest request body: a scan report of a big image.
pub const MAX_BODY: usize = 64 << 20;

/// Most items in one ingest request.
pub const MAX_BATCH: usize = 10_000;

/// What the handlers share.
#[derive(Clone)]
pub struct State {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    store: Store,
    tokens: Tokens,
    notifier: Option<Arc<notify::Notifier>>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    openapi: Value,
    vulndb: Option<Arc<vulndb::Shelf>>,
}

impl State {
    /// A server over `store` accepting `tokens`.
    pub fn new(store: Store, tokens: Tokens) -> State {
        State::with_notifier(store, tokens, None)
    }

    /// A server that also posts new alerts to webhooks.
    pub fn with_notifier(store: Store, tokens: Tokens, notifier: Option<Arc<notify::Notifier>>) -> State {
        let openapi = serde_yaml::from_str(OPENAPI_YAML).unwrap_or_else(|_| json!({}));
        State {
            inner: Arc::new(Inner { store, tokens, notifier, metrics: metrics_text::handle(), openapi, vulndb: None }),
        }
    }

    /// Also serves the vulnerability database `shelf` holds (`/api/v1/vulndb`), its compressed copy made now.
    pub fn with_vulndb(self, shelf: vulndb::Shelf) -> State {
        let shelf = Arc::new(shelf);
        vulndb::warm(shelf.clone());
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.vulndb = Some(shelf);
        State { inner: Arc::new(inner) }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The tokens accepted.
    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }
}

/// Every route: method and path (as in the OpenAPI description).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/login"),
    ("POST", "/api/v1/logout"),
    ("GET", "/api/v1/session"),
    ("GET", "/api/v1/summary"),
    ("POST", "/api/v1/alerts"),
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/alerts/{node}/{id}"),
    ("POST", "/api/v1/decisions"),
    ("GET", "/api/v1/decisions"),
    ("POST", "/api/v1/reports"),
    ("GET", "/api/v1/reports"),
    ("GET", "/api/v1/reports/{id}"),
    ("GET", "/api/v1/reports/{id}/nodes"),
    ("POST", "/api/v1/profiles"),
    ("GET", "/api/v1/profiles/{workload}"),
    ("GET", "/api/v1/profiles/{workload}/merged"),
    ("POST", "/api/v1/nodes/heartbeat"),
    ("GET", "/api/v1/nodes"),
    ("GET", "/api/v1/workloads"),
    ("GET", "/api/v1/notifications"),
    ("GET", "/api/v1/approvals"),
    ("POST", "/api/v1/approvals/{node}/{id}"),
    ("GET", "/api/v1/verdicts"),
    ("GET", "/api/v1/vulndb"),
    ("PUT", "/api/v1/vulndb"),
];

/// The router.
pub fn app(state: State) -> Router {
    let api = Router::new()
        .route("/api/v1/summary", get(summary))
        .route("/api/v1/alerts", post(post_alerts).get(get_alerts))
        .route("/api/v1/alerts/{node}/{id}", get(get_alert))
        .route("/api/v1/decisions", post(post_decisions).get(get_decisions))
        .route("/api/v1/reports", post(post_report).get(get_reports))
        .route("/api/v1/reports/{id}", get(get_report))
        .route("/api/v1/reports/{id}/nodes", get(get_report_nodes))
        .route("/api/v1/profiles", post(post_profile))
        .route("/api/v1/profiles/{workload}", get(get_profiles))
        .route("/api/v1/profiles/{workload}/merged", get(get_merged_profile))
        .route("/api/v1/nodes/heartbeat", post(heartbeat))
        .route("/api/v1/nodes", get(get_nodes))
        .route("/api/v1/workloads", get(get_workloads))
        .route("/api/v1/notifications", get(get_notifications))
        .route("/api/v1/approvals", get(approve::pending))
        .route("/api/v1/approvals/{node}/{id}", post(approve::decide))
        .route("/api/v1/verdicts", get(approve::for_node))
        .route("/api/v1/vulndb", get(vulndb::get).put(vulndb::put).layer(DefaultBodyLimit::disable()))
        .route("/api/v1/session", get(ui::whoami))
        .route("/api/v1/logout", post(ui::logout))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/", get(ui::index))
        .route("/ui/app.js", get(ui::app_js))
        .route("/ui/app.css", get(ui::app_css))
        .route("/api/v1/login", post(ui::login))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(api)
        .fallback(no_such_endpoint)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn(observe))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Whether a request's path is a route's (`{…}` stands for one segment).
fn route_matches(route: &str, path: &str) -> bool {
    let (r, p): (Vec<&str>, Vec<&str>) = (route.split('/').collect(), path.split('/').collect());
    r.len() == p.len() && r.iter().zip(&p).all(|(r, p)| (r.starts_with('{') && !p.is_empty()) || r == p)
}

/// A path no route has: said in JSON, as every API error is (it was an empty 404).
async fn no_such_endpoint(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {method} {}; /api/v1/openapi.json lists every one", uri.path()),
    )
}

/// A route asked with a method it does not take: which ones it takes, in the `Allow` header and the error.
async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let mut allowed: Vec<&str> = ROUTES.iter().filter(|(_, r)| route_matches(r, uri.path())).map(|(m, _)| *m).collect();
    allowed.dedup();
    let allow = allowed.join(", ");
    let error = ApiError(StatusCode::METHOD_NOT_ALLOWED, format!("{} takes {allow}, not {method}", uri.path()));
    let mut r = error.into_response();
    if let Ok(v) = header::HeaderValue::from_str(&allow) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}

/// Serves `state` on `listener` until `shutdown` completes (in-flight requests finish first).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: State,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}

/// Serves `state` over HTTPS (PEM certificate chain and key) until `shutdown` completes. With `client_ca`,
/// every client must present a certificate that CA signed (mutual TLS) — for a replica that only agents talk
/// to; bearer tokens are checked as well.
pub async fn serve_tls(
    addr: std::net::SocketAddr,
    cert: &std::path::Path,
    key: &std::path::Path,
    client_ca: Option<&std::path::Path>,
    state: State,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    serve_router_tls(addr, app(state), cert, key, client_ca, shutdown).await
}

/// Serves `router` over HTTPS (the API, or the admission webhook's), client certificates as [`serve_tls`].
pub(crate) async fn serve_router_tls(
    addr: std::net::SocketAddr,
    router: Router,
    cert: &std::path::Path,
    key: &std::path::Path,
    client_ca: Option<&std::path::Path>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let builder = rustls::ServerConfig::builder();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{}: {e}", ca.display()))? {
                roots
                    .add(c.map_err(|e| format!("{}: {e}", ca.display()))?)
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(std::sync::Arc::new(roots))
                .build()
                .map_err(|e| format!("{}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key_der).map_err(|e| format!("{}: {e}", cert.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(std::sync::Arc::new(config));
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    axum_server::bind_rustls(addr, tls)
        .handle(handle)
        .serve(router.into_make_service())
        .await
        .map_err(|e| format!("{addr}: {e}"))
}

/// An API error: a status and a message, as `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Invalid(m) => ApiError(StatusCode::BAD_REQUEST, m),
            StoreError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            e => {
                tracing::error!("store: {e}");
                ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("storage unavailable: {e}"))
            }
        }
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// Now, in nanoseconds since the epoch (0 before it).
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Counts every request by route and status, and times it.
async fn observe(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    // A method is any token a client likes: the ones HTTP names are labels, the rest one label, so no client can
    // grow the metrics without bound.
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        _ => "other",
    };
    let t = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("kestrel_server_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("kestrel_server_request_seconds", "route" => route).record(t.elapsed().as_secs_f64());
    resp
}

/// A bearer token, else a dashboard session (whose changes must carry `X-Kestrel`: see [`ui`]).
async fn authenticate(Axum(state): Axum<State>, mut req: Request, next: Next) -> Response {
    let unauthorized = |msg: &str| {
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], Json(json!({ "error": msg })))
            .into_response()
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let principal = if let Some(token) = token {
        match state.inner.tokens.check(token) {
            Some(p) => p,
            None => return unauthorized("unknown token"),
        }
    } else if let Some(secret) = ui::session_secret(req.headers()) {
        let session = match state.inner.store.session(&ui::session_digest(secret), now_ns()).await {
            Ok(s) => s,
            Err(e) => return ApiError::from(e).into_response(),
        };
        let Some(p) = session.and_then(|(name, role)| Some(Principal { name, role: ui::role_of(&role)? })) else {
            return unauthorized("the session ended: log in again");
        };
        let reads = matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
        if !reads && !req.headers().contains_key("x-kestrel") {
            return ApiError(StatusCode::FORBIDDEN, "a change through a session needs the X-Kestrel header".into())
                .into_response();
        }
        p
    } else {
        return unauthorized("missing bearer token (Authorization: Bearer …) or session");
    };
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// Whether `p` may do what needs one of `roles`.
fn allow(p: &Principal, roles: &[Role]) -> Result<(), ApiError> {
    if p.role == Role::Admin || roles.contains(&p.role) {
        Ok(())
    } else {
        Err(ApiError(StatusCode::FORBIDDEN, format!("{} ({:?}) may not do this", p.name, p.role).to_lowercase()))
    }
}

/// An agent writes as its own node only.
fn as_node(p: &Principal, node: &str) -> Result<(), ApiError> {
    if node.is_empty() || node.len() > 253 {
        return Err(bad("node: 1 to 253 characters"));
    }
    if p.role == Role::Agent && p.name != node {
        return Err(ApiError(StatusCode::FORBIDDEN, format!("token of {} may not write as node {node}", p.name)));
    }
    Ok(())
}

const READ: &[Role] = &[Role::Viewer, Role::Ci];

async fn ready(Axum(state): Axum<State>) -> Response {
    match state.inner.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("storage: {e}\n")).into_response(),
    }
}

async fn metrics(Axum(state): Axum<State>) -> Response {
    // Stored alerts by severity, read at scrape time (a gauge the database keeps, whoever wrote it).
    if let Ok(counts) = state.inner.store.alert_counts().await {
        for (s, n) in counts {
            metrics::gauge!("kestrel_server_alerts_stored", "severity" => s.as_str()).set(n as f64);
        }
    }
    if let Ok(nodes) = state.inner.store.nodes().await {
        let now = now_ns();
        let live = nodes.iter().filter(|n| now - n.last_seen_ns < 120_000_000_000).count();
        metrics::gauge!("kestrel_server_nodes", "state" => "seen-last-2m").set(live as f64);
        metrics::gauge!("kestrel_server_nodes", "state" => "known").set(nodes.len() as f64);
    }
    // The age of the vulnerability database behind the latest image report (CI's, or the registry watcher's).
    if let Some(id) =
        state.inner.store.reports(None, Some("image"), 1).await.ok().and_then(|l| l.first().map(|r| r.id.clone()))
    {
        if let Ok(Some(body)) = state.inner.store.report(&id).await {
            if let Some(built) = body["database"]["built_at"].as_str() {
                if let Ok(t) = time::OffsetDateTime::parse(built, &time::format_description::well_known::Rfc3339) {
                    let age = (time::OffsetDateTime::now_utc() - t).as_seconds_f64().max(0.0);
                    metrics::gauge!("kestrel_server_vulndb_age_seconds").set(age);
                }
            }
        }
    }
    // The age of the one this server serves (`/api/v1/vulndb`).
    if let Some(age) = vulndb::served_age_seconds(&state).await {
        metrics::gauge!("kestrel_server_vulndb_served_age_seconds").set(age);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.inner.metrics.render()).into_response()
}

async fn openapi(Axum(state): Axum<State>) -> Json<Value> {
    Json(state.inner.openapi.clone())
}

async fn summary(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, READ)?;
    let store = &state.inner.store;
    let counts: serde_json::Map<String, Value> =
        store.alert_counts().await?.into_iter().map(|(s, n)| (s.as_str().to_string(), json!(n))).collect();
    let nodes = store.nodes().await?;
    Ok(Json(json!({
        "alerts": counts,
        "nodes": nodes.len(),
        "pending_approvals": store.pending_count().await?,
        "reports": store.report_count().await?,
        "vulndb": vulndb::summary(&state).await,
        "storage": store.backend(),
    })))
}

/// `POST /api/v1/alerts`: `{"node": "…", "alerts": [kestrel.alert/v1 …]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertBatch {
    node: String,
    alerts: Vec<Alert>,
}

async fn post_alerts(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    body: Result<Json<AlertBatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, &[Role::Agent])?;
    let Json(batch) = body.map_err(|e| bad(e.body_text()))?;
    as_node(&p, &batch.node)?;
    if batch.alerts.len() > MAX_BATCH {
        return Err(bad(format!("{} alerts in one request; at most {MAX_BATCH}", batch.alerts.len())));
    }
    if let Some(a) = batch.alerts.iter().find(|a| a.id.is_empty() || a.schema != kestrel_core::ALERT_SCHEMA) {
        return Err(bad(format!("alert {:?}: needs an id and schema {}", a.id, kestrel_core::ALERT_SCHEMA)));
    }
    let now = now_ns();
    let items: Vec<(&str, &Alert)> = batch.alerts.iter().map(|a| (batch.node.as_str(), a)).collect();
    let fresh = state.inner.store.put_alerts_new(now, &items).await?;
    if let Some(n) = &state.inner.notifier {
        n.alerts(fresh.iter().map(|&i| items[i]));
    }
    let new = fresh.len() as u64;
    state.inner.store.touch_node(&batch.node, now, None, None).await?;
    let dup = batch.alerts.len() as u64 - new;
    metrics::counter!("kestrel_server_ingested_total", "kind" => "alert").increment(new);
    metrics::counter!("kestrel_server_duplicates_total", "kind" => "alert").increment(dup);
    for a in &batch.alerts {
        metrics::counter!("kestrel_server_alerts_received_total", "severity" => a.severity.as_str()).increment(1);
    }
    Ok(Json(json!({ "received": batch.alerts.len(), "new": new, "duplicates": dup })))
}

/// Query of `GET /api/v1/alerts`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertParams {
    min_severity: Option<Severity>,
    node: Option<String>,
    workload: Option<String>,
    namespace: Option<String>,
    since_ns: Option<i64>,
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn get_alerts(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    q: Result<Query<AlertParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, READ)?;
    let Query(q) = q.map_err(|e| bad(e.body_text()))?;
    let page = state
        .inner
        .store
        .alerts(&AlertQuery {
            min_severity: q.min_severity,
            node: q.node,
            workload: q.workload,
            namespace: q.namespace,
            since_ns: q.since_ns,
            cursor: q.cursor,
            limit: q.limit.unwrap_or(100),
        })
        .await?;
    Ok(Json(json!(page)))
}

async fn get_alert(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    Path((node, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, READ)?;
    match state.inner.store.alert(&node, &id).await? {
        Some(a) => {
            // Each evidence event in words, as `kestrel detect` says it: the dashboard shows what every kind means.
            let text: Vec<String> = a.alert.evidence.iter().map(kestrel_detect::rules::describe).collect();
            let mut v = json!(a);
            v["evidence_text"] = json!(text);
            Ok(Json(v))
        }
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no alert {id} from {node}"))),
    }
}

/// `POST /api/v1/decisions`: `{"node": "…", "decisions": [kestrel.response/v1 lines]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBatch {
    node: String,
    decisions: Vec<Value>,
}

async fn post_decisions(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    body: Result<Json<DecisionBatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, &[Role::Agent])?;
    let Json(batch) = body.map_err(|e| bad(e.body_text()))?;
    as_node(&p, &batch.node)?;
    if batch.decisions.len() > MAX_BATCH {
        return Err(bad(format!("{} decisions in one request; at most {MAX_BATCH}", batch.decisions.len())));
    }
    let now = now_ns();
    let new = state.inner.store.put_decisions(&batch.node, &batch.decisions).await?;
    state.inner.store.touch_node(&batch.node, now, None, None).await?;
    metrics::counter!("kestrel_server_ingested_total", "kind" => "decision").increment(new);
    metrics::counter!("kestrel_server_duplicates_total", "kind" => "decision")
        .increment(batch.decisions.len() as u64 - new);
    Ok(Json(json!({ "received": batch.decisions.len(), "new": new })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionParams {
    outcome: Option<String>,
    limit: Option<usize>,
}

async fn get_decisions(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    q: Result<Query<DecisionParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, READ)?;
    let Query(q) = q.map_err(|e| bad(e.body_text()))?;
    let items = state.inner.store.decisions(q.outcome.as_deref(), q.limit.unwrap_or(100)).await?;
    Ok(Json(json!({ "items": items })))
}

/// `POST /api/v1/reports`: `{"kind": "image", "subject": "…", "report": {…}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportUpload {
    kind: String,
    subject: String,
    report: Value,
}

/// Findings by severity in a kestrel report: `findings` (vulnerabilities, configuration, secrets) with a
/// `severity` each.
fn count_findings(report: &Value) -> [i64; 4] {
    let mut c = [0i64; 4];
    let mut tally = |items: &Value| {
        for f in items.as_array().into_iter().flatten() {
            match f.get("severity").and_then(|s| s.as_str()) {
                Some("critical") => c[0] += 1,
                Some("high") => c[1] += 1,
                Some("medium") => c[2] += 1,
                Some("low") => c[3] += 1,
                _ => {}
            }
        }
    };
    tally(&report["findings"]);
    tally(&report["vulnerabilities"]);
    tally(&report["secrets"]);
    c
}

async fn post_report(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    allow(&p, &[Role::Ci, Role::Agent])?;
    sent_as_json(&headers, "a report")?;
    // Read, checked, counted and written out for the store on a core of its own: an image's report runs to
    // megabytes, and the async workers go on answering the agents' alerts and health checks meanwhile.
    let source = p.name.clone();
    let (r, serious) = on_a_core("reading the report", move || {
        let up = serde_json::from_slice::<ReportUpload>(&body).map_err(|e| bad(format!("not a report upload: {e}")))?;
        if !["image", "config", "secrets", "compliance", "sbom"].contains(&up.kind.as_str()) {
            return Err(bad(format!("kind {:?}: one of image, config, secrets, compliance, sbom", up.kind)));
        }
        if up.subject.is_empty() || up.subject.len() > 1024 || !up.report.is_object() {
            return Err(bad("a report needs a subject (1 to 1024 characters) and a JSON object"));
        }
        let r = NewReport {
            counts: count_findings(&up.report),
            body: kestrel_store::ReportBody::new(&up.report)?,
            kind: up.kind,
            subject: up.subject,
            source,
            received_ns: now_ns(),
        };
        // What a new image report may alert on, taken here too; the report's tree is let go of here as well.
        let serious = if r.kind == "image" { affected::serious(&up.report) } else { Vec::new() };
        Ok((r, serious))
    })
    .await?;
    let counts = r.counts;
    let (id, new) = state.inner.store.put_report(&r).await?;
    state.inner.store.touch_node(&p.name, r.received_ns, None, None).await?;
    if new && r.kind == "image" {
        let digests: Vec<&str> = r.body.digests().collect();
        let notifier = state.inner.notifier.as_deref();
        affected::check(&state.inner.store, notifier, &id, &r.subject, serious, &digests, r.received_ns).await?;
    }
    metrics::counter!("kestrel_server_ingested_total", "kind" => "report").increment(new as u64);
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        Json(
            json!({ "id": id, "new": new, "counts": {"critical": counts[0], "high": counts[1], "medium": counts[2], "low": counts[3]} }),
        ),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportParams {
    subject: Option<String>,
    kind: Option<String>,
    /// `sha256:…`: image reports naming it (image id, manifest or index digest).
    digest: Option<String>,
    limit: Option<usize>,
}

async fn get_reports(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    q: Result<Query<ReportParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, READ)?;
    let Query(q) = q.map_err(|e| bad(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    let items = match &q.digest {
        Some(d) => {
            if kestrel_core::sha256_hex(d).is_none() {
                return Err(bad(format!("digest: sha256: and 64 lower-case hex digits, not {d:?}")));
            }
            let mut items = state.inner.store.reports_by_digest(d, limit).await?;
            items.retain(|r| {
                q.subject.as_ref().is_none_or(|s| &r.subject == s) && q.kind.as_ref().is_none_or(|k| &r.kind == k)
            });
            items
        }
        None => state.inner.store.reports(q.subject.as_deref(), q.kind.as_deref(), limit).await?,
    };
    Ok(Json(json!({ "items": items })))
}

/// `GET /api/v1/reports/{id}/nodes`: the nodes running the image of an image report.
async fn get_report_nodes(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, READ)?;
    let store = &state.inner.store;
    let (Some(subject), Some(report)) = (store.report_subject(&id).await?, store.report(&id).await?) else {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no report {id}")));
    };
    Ok(Json(json!({ "items": affected::running(store, &subject, &report).await? })))
}

async fn get_report(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    allow(&p, READ)?;
    let Some(text) = state.inner.store.report_text(&id).await? else {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no report {id}")));
    };
    // Handed on as stored (the server wrote it), checked to be JSON still — not parsed into a tree and written again.
    let checked = on_a_core("reading the report", move || {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)
            .map(|_| text)
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("stored report {id} is unreadable: {e}")))
    })
    .await?;
    Ok(json_written(checked))
}

/// `POST /api/v1/profiles`: a node's learned profile of a workload.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileUpload {
    node: String,
    workload: String,
    version: i64,
    /// Checked to be JSON and stored as sent, never parsed into a tree here: tens of megabytes.
    profile: Box<serde_json::value::RawValue>,
}

async fn post_profile(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    allow(&p, &[Role::Agent])?;
    sent_as_json(&headers, "a profile")?;
    // Read on a core of its own: the async workers go on answering the agents' alerts and health checks.
    let up = on_a_core("reading the profile", move || {
        serde_json::from_slice::<ProfileUpload>(&body).map_err(|e| bad(format!("not a profile upload: {e}")))
    })
    .await?;
    as_node(&p, &up.node)?;
    if up.workload.is_empty() || !up.profile.get().starts_with('{') {
        return Err(bad("a profile needs a workload and a JSON object"));
    }
    let now = now_ns();
    let new = state.inner.store.put_profile(&up.node, &up.workload, up.version, now, &up.profile).await?;
    state.inner.store.touch_node(&up.node, now, None, None).await?;
    metrics::counter!("kestrel_server_ingested_total", "kind" => "profile").increment(new as u64);
    Ok(Json(json!({ "new": new })))
}

async fn get_profiles(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(workload): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    allow(&p, &[Role::Viewer, Role::Ci, Role::Agent])?;
    let items = state.inner.store.profiles(&workload).await?;
    #[derive(serde::Serialize)]
    struct Items {
        items: Vec<kestrel_store::StoredProfile>,
    }
    // Each profile's text goes out as the node sent it.
    json_off_the_runtime(move || Ok(Items { items })).await
}

/// Refuses (415) a body not sent as JSON: what axum's `Json` extractor takes, `application/json` or
/// `application/…+json`, parameters after `;` aside. For the uploads read by hand, off the async workers.
fn sent_as_json(headers: &axum::http::HeaderMap, what: &str) -> Result<(), ApiError> {
    let json = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        let essence = v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        essence.strip_prefix("application/").is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
    });
    if json {
        Ok(())
    } else {
        Err(ApiError(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("{what} is sent as application/json")))
    }
}

/// A JSON answer built and written out on tokio's blocking threads: profiles run to tens of megabytes, and the async
/// workers must go on answering the rest of the API (agents' alerts, health checks) meanwhile.
async fn json_off_the_runtime<T: serde::Serialize>(
    build: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<axum::response::Response, ApiError> {
    let bytes = on_a_core("building the answer", move || {
        serde_json::to_vec(&build()?).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await?;
    Ok(json_written(bytes))
}

/// Runs `work` on a core of its own ([`kestrel_store::on_a_core`]): its answer, or a 500 saying what it was `doing`
/// when it could not be run to the end.
async fn on_a_core<T: Send + 'static>(
    doing: &str,
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    kestrel_store::on_a_core(work)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{doing}: {e}")))?
}

/// An answer of JSON already written out.
fn json_written(body: impl IntoResponse) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Heartbeat {
    node: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    status: Option<Value>,
}

async fn heartbeat(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    body: Result<Json<Heartbeat>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, &[Role::Agent])?;
    let Json(hb) = body.map_err(|e| bad(e.body_text()))?;
    as_node(&p, &hb.node)?;
    state.inner.store.touch_node(&hb.node, now_ns(), hb.version.as_deref(), hb.status.as_ref()).await?;
    Ok(Json(json!({ "ok": true })))
}

async fn get_nodes(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, READ)?;
    Ok(Json(json!({ "items": state.inner.store.nodes().await? })))
}

async fn get_notifications(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, READ)?;
    let status = state.inner.notifier.as_ref().map(|n| n.status()).unwrap_or_default();
    Ok(Json(serde_json::to_value(status).unwrap_or_default()))
}

async fn get_workloads(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    allow(&p, READ)?;
    Ok(Json(json!({ "items": state.inner.store.workloads().await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeParams {
    k: Option<usize>,
}

/// `GET /api/v1/profiles/{workload}/merged?k=2`: the nodes' latest profiles merged (federated): a behaviour is
/// trusted when at least `k` nodes trust it, so one poisoned node adds nothing. Nodes pull it back
/// (`kestrel profile pull`).
async fn get_merged_profile(
    Axum(state): Axum<State>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(workload): Path<String>,
    q: Result<Query<MergeParams>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    allow(&p, &[Role::Viewer, Role::Ci, Role::Agent])?;
    let Query(q) = q.map_err(|e| bad(e.body_text()))?;
    let stored = state.inner.store.profile_texts(&workload).await?;
    // Reading and merging profiles of hundreds of thousands of behaviours takes seconds.
    json_off_the_runtime(move || {
        let mut nodes = Vec::new();
        let mut skipped = Vec::new();
        // Parsed here, straight into profiles, in the thread that merges them.
        for (node, _, _, body) in stored {
            match serde_json::from_str::<kestrel_detect::profile::Profile>(&body) {
                Ok(mut prof) => {
                    prof.reindex();
                    nodes.push((node, prof));
                }
                Err(e) => skipped.push(format!("{node}: {e}")),
            }
        }
        if nodes.is_empty() {
            return Err(ApiError(StatusCode::NOT_FOUND, format!("no node sent a readable profile of {workload}")));
        }
        let k = q.k.unwrap_or(2).clamp(1, nodes.len().max(1));
        let refs: Vec<(&str, &kestrel_detect::profile::Profile)> = nodes.iter().map(|(n, p)| (n.as_str(), p)).collect();
        let merged = kestrel_detect::profile::merge(&workload, &refs, k);
        Ok(json!({
            "workload": workload,
            "nodes": nodes.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            "k": k,
            "skipped": skipped,
            "profile": merged,
        }))
    })
    .await
}
