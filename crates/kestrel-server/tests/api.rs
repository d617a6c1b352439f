//! The API over real HTTP (ureq against the server on a loopback port) with real storage: tokens and roles,
//! idempotent ingest, pages, reports, decisions, profiles, nodes, metrics, and the OpenAPI description matching
//! the routes.

use kestrel_core::{Alert, AlertSource, ContainerRef, Severity, ALERT_SCHEMA};
use kestrel_server::auth::{Role, Tokens};
use serde_json::{json, Value};
use std::time::Duration;

struct Server {
    base: String,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

const ADMIN: &str = "admin-token";
const AGENT: &str = "agent-token-node-1";
const CI: &str = "ci-token";
const VIEWER: &str = "viewer-token";

fn start(store_url: Option<String>) -> Server {
    start_with(store_url, None)
}

fn start_with(store_url: Option<String>, notifier: Option<kestrel_server::notify::Notifier>) -> Server {
    start_full(store_url, notifier, None)
}

fn start_full(
    store_url: Option<String>,
    notifier: Option<kestrel_server::notify::Notifier>,
    vulndb: Option<&std::path::Path>,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = store_url.unwrap_or_else(|| format!("sqlite:{}", dir.path().join("server.db").display()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut tokens = Tokens::default();
    tokens.add(ADMIN, "admin", Role::Admin);
    tokens.add(AGENT, "node-1", Role::Agent);
    tokens.add(CI, "gitlab-ci", Role::Ci);
    tokens.add(VIEWER, "alice", Role::Viewer);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let store = rt.block_on(kestrel_store::Store::open(&url)).unwrap();
    let mut state = kestrel_server::State::with_notifier(store, tokens, notifier.map(std::sync::Arc::new));
    if let Some(db) = vulndb {
        let shelf = kestrel_server::vulndb::Shelf::new(db.to_path_buf(), dir.path().join("served"));
        state = rt.block_on(async { state.with_vulndb(shelf) });
    }
    rt.spawn(kestrel_server::serve(listener, state, std::future::pending()));
    Server { base, _rt: rt, _dir: dir }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn get(s: &Server, path: &str, token: Option<&str>) -> (u16, String) {
    let mut req = agent().get(format!("{}{path}", s.base));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap();
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
}

fn get_json(s: &Server, path: &str, token: &str) -> Value {
    let (status, body) = get(s, path, Some(token));
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn post(s: &Server, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let mut resp = agent()
        .post(format!("{}{path}", s.base))
        .header("Authorization", format!("Bearer {token}"))
        .send_json(body)
        .unwrap();
    let text = resp.body_mut().read_to_string().unwrap();
    (resp.status().as_u16(), serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Sends `body` as it is, with the content type given: status and text of the answer.
fn post_text(s: &Server, path: &str, token: &str, content_type: &str, body: &str) -> (u16, String) {
    let mut resp = agent()
        .post(format!("{}{path}", s.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", content_type)
        .send(body)
        .unwrap();
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
}

fn alert(id: &str, t: u64, severity: Severity) -> Alert {
    Alert {
        schema: ALERT_SCHEMA.into(),
        id: id.into(),
        time_ns: t,
        severity,
        score: 1.0,
        source: AlertSource::Rule {
            name: "reverse shell".into(),
            priority: "CRITICAL".into(),
            origin: "builtin".into(),
        },
        title: "reverse shell from web".into(),
        explanation: vec!["`sh` with stdin and stdout on a socket to 10.0.0.9:4444".into()],
        contributions: vec![],
        mitre: vec!["T1059.004".into()],
        tags: vec![],
        container: Some(ContainerRef {
            id: "c1".into(),
            runtime: "runc".into(),
            name: Some("web".into()),
            ..Default::default()
        }),
        workload: Some("web".into()),
        evidence: vec![],
        folded: None,
    }
}

#[test]
fn tokens_and_roles_guard_every_call() {
    let s = start(None);
    assert_eq!(get(&s, "/healthz", None).0, 200);
    assert_eq!(get(&s, "/readyz", None).0, 200);
    let (status, body) = get(&s, "/api/v1/summary", None);
    assert_eq!(status, 401);
    assert!(body.contains("missing bearer token"), "{body}");
    assert_eq!(get(&s, "/api/v1/summary", Some("nope")).0, 401);
    assert_eq!(get(&s, "/api/v1/summary", Some(VIEWER)).0, 200);
    // An agent writes as its own node only; a viewer does not write; an agent does not read alerts.
    let batch = json!({"node": "node-2", "alerts": [alert("a", 1, Severity::High)]});
    let (status, body) = post(&s, "/api/v1/alerts", AGENT, &batch);
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("may not write as node node-2"));
    let batch = json!({"node": "node-1", "alerts": [alert("a", 1, Severity::High)]});
    assert_eq!(post(&s, "/api/v1/alerts", VIEWER, &batch).0, 403);
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &batch).0, 200);
    assert_eq!(get(&s, "/api/v1/alerts", Some(AGENT)).0, 403);
    // The admin may do everything, as any node.
    let batch2 = json!({"node": "node-9", "alerts": [alert("a", 1, Severity::High)]});
    assert_eq!(post(&s, "/api/v1/alerts", ADMIN, &batch2).0, 200);
}

#[test]
fn alerts_are_stored_once_paged_and_filtered() {
    let s = start(None);
    let alerts: Vec<Alert> = (0..250)
        .map(|i| alert(&format!("a{i}"), 1_000 + i, if i % 5 == 0 { Severity::Critical } else { Severity::Medium }))
        .collect();
    let batch = json!({"node": "node-1", "alerts": alerts});
    let (status, body) = post(&s, "/api/v1/alerts", AGENT, &batch);
    assert_eq!((status, &body["new"], &body["duplicates"]), (200, &json!(250), &json!(0)), "{body}");
    let (_, body) = post(&s, "/api/v1/alerts", AGENT, &batch);
    assert_eq!((&body["new"], &body["duplicates"]), (&json!(0), &json!(250)), "redelivery stores nothing twice");

    let mut ids = Vec::new();
    let mut path = "/api/v1/alerts?limit=100".to_string();
    loop {
        let page = get_json(&s, &path, VIEWER);
        ids.extend(page["items"].as_array().unwrap().iter().map(|a| a["alert"]["id"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(c) => path = format!("/api/v1/alerts?limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 250);
    assert_eq!(ids[0], "a249", "newest first");
    let crit = get_json(&s, "/api/v1/alerts?min_severity=critical&workload=web&limit=1000", VIEWER);
    assert_eq!(crit["items"].as_array().unwrap().len(), 50);
    let one = get_json(&s, "/api/v1/alerts/node-1/a7", VIEWER);
    assert_eq!(serde_json::from_value::<Alert>(one["alert"].clone()).unwrap(), alerts[7]);
    assert_eq!(get(&s, "/api/v1/alerts/node-1/zzz", Some(VIEWER)).0, 404);

    // Bad input: a clear 400, nothing stored.
    let (status, body) = get(&s, "/api/v1/alerts?min_severity=apocalyptic", Some(VIEWER));
    assert_eq!(status, 400, "{body}");
    let (status, body) = get(&s, "/api/v1/alerts?cursor=garbage", Some(VIEWER));
    assert!(status == 400 && body.contains("bad cursor"), "{status} {body}");
    let (status, body) = post(&s, "/api/v1/alerts", AGENT, &json!({"node": "node-1", "alerts": [{"id": 1}]}));
    assert_eq!(status, 400, "{body}");
    let mut unversioned = alert("x", 1, Severity::Low);
    unversioned.schema = "something/v9".into();
    let (status, body) = post(&s, "/api/v1/alerts", AGENT, &json!({"node": "node-1", "alerts": [unversioned]}));
    assert!(status == 400 && body["error"].as_str().unwrap().contains("kestrel.alert/v1"), "{body}");
    let too_many: Vec<Alert> = (0..10_001).map(|i| alert(&format!("m{i}"), 1, Severity::Low)).collect();
    let (status, _) = post(&s, "/api/v1/alerts", AGENT, &json!({"node": "node-1", "alerts": too_many}));
    assert_eq!(status, 400);
    let summary = get_json(&s, "/api/v1/summary", VIEWER);
    assert_eq!((summary["alerts"]["critical"].as_i64(), summary["alerts"]["medium"].as_i64()), (Some(50), Some(200)));
    assert_eq!(summary["storage"], "sqlite");
}

#[test]
fn reports_decisions_profiles_nodes_and_metrics() {
    let s = start(None);
    let report = json!({"schema": "kestrel.report/v1", "findings": [
        {"id": "CVE-2024-1", "severity": "critical"}, {"id": "CVE-2024-2", "severity": "high"}, {"id": "CVE-2024-3", "severity": "high"}]});
    let upload = json!({"kind": "image", "subject": "registry.example/shop/web:1.2", "report": report});
    let (status, body) = post(&s, "/api/v1/reports", CI, &upload);
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["counts"], json!({"critical": 1, "high": 2, "medium": 0, "low": 0}));
    let id = body["id"].as_str().unwrap().to_string();
    let (status, body) = post(&s, "/api/v1/reports", CI, &upload);
    assert_eq!((status, &body["new"]), (200, &json!(false)));
    assert_eq!(get_json(&s, &format!("/api/v1/reports/{id}"), VIEWER), report);
    let list = get_json(&s, "/api/v1/reports?subject=registry.example/shop/web:1.2", VIEWER);
    assert_eq!(list["items"][0]["source"], "gitlab-ci");
    let (status, _) = post(&s, "/api/v1/reports", CI, &json!({"kind": "weird", "subject": "x", "report": {}}));
    assert_eq!(status, 400);
    // What is not a report upload is refused with the reason, and nothing is stored.
    let upload_of = |report: &str| format!(r#"{{"kind":"config","subject":"deploy/web.yaml","report":{report}}}"#);
    for (content_type, body, status, says) in [
        ("text/plain", upload_of("{}"), 415, "application/json"),
        ("application/json", upload_of("[1, 2]"), 400, "JSON object"),
        ("application/json", upload_of("{\"a\": "), 400, "not a report upload"),
        ("application/json", upload_of("{}").replace("\"subject\"", "\"subjects\""), 400, "unknown field"),
        ("application/json", upload_of("{}").replace("deploy/web.yaml", ""), 400, "a subject"),
    ] {
        let (got, text) = post_text(&s, "/api/v1/reports", CI, content_type, &body);
        assert_eq!(got, status, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    assert!(get_json(&s, "/api/v1/reports?kind=config", VIEWER)["items"].as_array().unwrap().is_empty());
    // A +json type with a parameter is JSON too.
    let (got, text) =
        post_text(&s, "/api/v1/reports", CI, "application/vnd.kestrel+json; charset=utf-8", &upload_of("{}"));
    assert_eq!(got, 201, "{text}");
    let config_id = serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_string();
    let (got, text) = get(&s, &format!("/api/v1/reports/{config_id}"), Some(VIEWER));
    assert_eq!((got, text.as_str()), (200, "{}"));
    // By digest: the image reports naming it, filtered by subject when one is given too.
    let manifest = format!("sha256:{}", "4".repeat(64));
    let pinned = json!({"kind": "image", "subject": "ci-build-77", "report": {"schema": "kestrel.report/v1",
        "target": {"image_id": format!("sha256:{}", "3".repeat(64)), "manifest_digest": manifest}, "findings": []}});
    let (_, stored) = post(&s, "/api/v1/reports", CI, &pinned);
    let pinned_id = stored["id"].as_str().unwrap().to_string();
    // Which nodes run it: none yet; node-1 once its heartbeat says a container runs that digest (under any name).
    let running = |id: &str| get_json(&s, &format!("/api/v1/reports/{id}/nodes"), VIEWER)["items"].clone();
    assert_eq!(running(&pinned_id), json!([]));
    let beat = json!({"node": "node-1", "status": {"images": ["dev/web:local"],
        "image_refs": [{"image": "dev/web:local", "digest": manifest}]}});
    assert_eq!(post(&s, "/api/v1/nodes/heartbeat", AGENT, &beat).0, 200);
    assert_eq!(running(&pinned_id), json!(["node-1"]));
    assert_eq!(running(&id), json!([]), "another image");
    assert_eq!(get(&s, "/api/v1/reports/nope/nodes", Some(VIEWER)).0, 404);
    let found = get_json(&s, &format!("/api/v1/reports?digest={manifest}"), VIEWER);
    assert_eq!(found["items"].as_array().map(|i| (i.len(), i[0]["subject"].clone())), Some((1, json!("ci-build-77"))));
    let other = get_json(&s, &format!("/api/v1/reports?digest={manifest}&subject=x"), VIEWER);
    assert_eq!(other["items"], json!([]));
    let (status, body) = get(&s, "/api/v1/reports?digest=sha256:ABC", Some(VIEWER));
    assert!(status == 400 && body.contains("64 lower-case hex digits"), "{status} {body}");

    let line = |outcome: &str, t: u64| {
        json!({"schema": "kestrel.response/v1", "id": "a1/kill-process", "alert_id": "a1", "written_ns": t,
            "outcome": outcome, "workload": "web", "severity": "critical", "action": "kill-process"})
    };
    let (status, body) =
        post(&s, "/api/v1/decisions", AGENT, &json!({"node": "node-1", "decisions": [line("pending-approval", 5)]}));
    assert_eq!((status, &body["new"]), (200, &json!(1)), "{body}");
    let pending = get_json(&s, "/api/v1/decisions?outcome=pending-approval", VIEWER);
    assert_eq!(pending["items"][0]["line"]["id"], "a1/kill-process");
    assert_eq!(get_json(&s, "/api/v1/summary", VIEWER)["pending_approvals"], 1);
    post(&s, "/api/v1/decisions", AGENT, &json!({"node": "node-1", "decisions": [line("acted", 9)]}));
    assert!(get_json(&s, "/api/v1/decisions?outcome=pending-approval", VIEWER)["items"].as_array().unwrap().is_empty());

    let (status, _) = post(
        &s,
        "/api/v1/profiles",
        AGENT,
        &json!({"node": "node-1", "workload": "web", "version": 3, "profile": {"execs": ["nginx"]}}),
    );
    assert_eq!(status, 200);
    let profiles = get_json(&s, "/api/v1/profiles/web", AGENT);
    assert_eq!(profiles["items"][0]["version"], 3);
    assert_eq!(profiles["items"][0]["body"], json!({"execs": ["nginx"]}), "{profiles}");
    // What is not a profile upload is refused with the reason, and nothing is stored.
    let send = |content_type: &str, body: &str| post_text(&s, "/api/v1/profiles", AGENT, content_type, body);
    let upload = |profile: &str| format!(r#"{{"node":"node-1","workload":"web","version":4,"profile":{profile}}}"#);
    for (content_type, body, status, says) in [
        ("text/plain", upload("{}"), 415, "application/json"),
        ("application/json", upload("[1, 2]"), 400, "JSON object"),
        ("application/json", upload("{\"a\": "), 400, "not a profile upload"),
        ("application/json", upload("{}").replace("\"version\"", "\"versions\""), 400, "unknown field"),
        ("application/json", r#"{"node":"node-2","workload":"web","version":4,"profile":{}}"#.into(), 403, "node-2"),
    ] {
        let (got, text) = send(content_type, &body);
        assert_eq!(got, status, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    // A +json type, as axum's Json extractor takes; then the same upload again, with a parameter (not new).
    let (got, text) = send("application/vnd.kestrel+json", &upload(r#"{"execs": ["nginx", "sh"]}"#));
    assert_eq!((got, text.as_str()), (200, r#"{"new":true}"#));
    let (got, text) = send("application/json; charset=utf-8", &upload(r#"{"execs": ["nginx", "sh"]}"#));
    assert_eq!((got, text.as_str()), (200, r#"{"new":false}"#));
    let profiles = get_json(&s, "/api/v1/profiles/web", AGENT);
    assert_eq!(profiles["items"].as_array().unwrap().len(), 1, "{profiles}");
    assert_eq!(profiles["items"][0]["body"], json!({"execs": ["nginx", "sh"]}), "stored as sent: {profiles}");

    let (status, _) = post(
        &s,
        "/api/v1/nodes/heartbeat",
        AGENT,
        &json!({"node": "node-1", "version": "0.1.0", "status": {"workloads": {"web": "protect"}}}),
    );
    assert_eq!(status, 200);
    let nodes = get_json(&s, "/api/v1/nodes", VIEWER);
    let names: Vec<&str> = nodes["items"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"node-1") && names.contains(&"gitlab-ci"), "{names:?}");
    let n1 = nodes["items"].as_array().unwrap().iter().find(|n| n["name"] == "node-1").unwrap();
    assert_eq!(n1["status"]["workloads"]["web"], "protect");

    // An image report made with a database built a day ago: /metrics tells the database's age.
    let built = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let built = built.format(&time::format_description::well_known::Rfc3339).unwrap();
    let report = json!({"kind": "image", "subject": "shop/db:2", "report": {"schema": "kestrel.report/v1", "findings": [],
        "database": {"path": "/var/lib/kestrel/db/vulndb.sqlite", "built_at": built, "sources": ["osv:Debian"]}}});
    assert_eq!(post(&s, "/api/v1/reports", CI, &report).0, 201);
    // Methods HTTP does not name are one label: a client cannot grow the metrics without bound.
    for method in ["FOO1", "FOO2"] {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
        write!(c, "{method} /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    }
    let (status, text) = get(&s, "/metrics", None);
    assert_eq!(status, 200);
    assert!(text.contains("method=\"other\"") && !text.contains("FOO1"), "{text}");
    let age: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("kestrel_server_vulndb_age_seconds "))
        .unwrap_or_else(|| panic!("no database age in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap();
    assert!((86_000.0..87_000.0).contains(&age), "{age}");
    for needle in [
        "kestrel_server_ingested_total{kind=\"report\"}",
        "kestrel_server_ingested_total{kind=\"decision\"}",
        "kestrel_server_requests_total{",
        "kestrel_server_request_seconds_bucket{",
        "kestrel_server_nodes{state=\"known\"}",
    ] {
        assert!(text.contains(needle), "{needle} missing from /metrics:\n{text}");
    }
}

#[test]
fn the_openapi_description_lists_exactly_the_routes() {
    let db = tempfile::tempdir().unwrap();
    vulndb(db.path(), &["DSA.list"]);
    let s = start_full(None, None, Some(db.path()));
    let spec: Value = serde_json::from_str(&get(&s, "/api/v1/openapi.json", None).1).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let mut described = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            described.push((method.to_uppercase(), path.clone()));
        }
    }
    described.sort();
    let mut routes: Vec<(String, String)> =
        kestrel_server::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    routes.sort();
    assert_eq!(described, routes);
    // And every route answers (not 404 or 405): the router and the list agree too.
    for (method, path) in kestrel_server::ROUTES {
        let path = path.replace("{node}", "n").replace("{id}", "i").replace("{workload}", "w");
        let url = format!("{}{path}", s.base);
        let auth = format!("Bearer {ADMIN}");
        let status = match *method {
            "GET" => agent().get(&url).header("Authorization", auth).call().unwrap().status(),
            "PUT" => agent().put(&url).header("Authorization", auth).send_json(json!({})).unwrap().status(),
            _ => agent().post(&url).header("Authorization", auth).send_json(json!({})).unwrap().status(),
        };
        assert!(
            status != 405
                && (status != 404 || path.contains("/n/") || path.contains("/reports/i") || path.ends_with("/merged")),
            "{method} {path}: {status}"
        );
    }
    // A path no route has, and a route asked with a method it does not take: JSON errors that say so.
    let (status, body) = get(&s, "/api/v1/report", Some(ADMIN));
    assert_eq!(status, 404);
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["error"], "no such endpoint: GET /api/v1/report; /api/v1/openapi.json lists every one");
    let mut resp = agent()
        .delete(format!("{}/api/v1/reports/abc", s.base))
        .header("Authorization", format!("Bearer {ADMIN}"))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET"));
    let e: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(e["error"], "/api/v1/reports/abc takes GET, not DELETE");
}

#[test]
fn the_same_api_on_postgresql() {
    let pg = kestrel_testkit::services::Postgres::start();
    let s = start(Some(pg.url("kestrel")));
    let batch = json!({"node": "node-1", "alerts": [alert("a1", 5, Severity::High), alert("a2", 6, Severity::Low)]});
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &batch).1["new"], 2);
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &batch).1["new"], 0);
    let page = get_json(&s, "/api/v1/alerts?min_severity=high", VIEWER);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(get_json(&s, "/api/v1/summary", VIEWER)["storage"], "postgres");
    // The database goes away: not ready, and writes fail with 503 rather than pretending.
    pg.kill();
    assert_eq!(get(&s, "/readyz", None).0, 503);
    let (status, body) =
        post(&s, "/api/v1/alerts", AGENT, &json!({"node": "node-1", "alerts": [alert("a3", 7, Severity::High)]}));
    assert_eq!(status, 503, "{body}");
}

/// The dashboard's login: a token for a cookie (HttpOnly, SameSite=Strict), the cookie for the API, changes
/// through it only with the X-Kestrel header, logout ending it; the pages carry a strict CSP.
#[test]
fn dashboard_sessions_and_their_guards() {
    let s = start(None);
    let login =
        |token: &str| agent().post(format!("{}/api/v1/login", s.base)).send_json(json!({ "token": token })).unwrap();
    assert_eq!(login("nope").status(), 401);
    assert_eq!(login(AGENT).status(), 403, "agents do not log in");
    let resp = login(ADMIN);
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    assert!(pair.starts_with("kestrel_session=") && pair.len() > 60, "{pair}");
    let with_cookie = |method: &str, path: &str, header: bool| {
        let url = format!("{}{path}", s.base);
        let mut resp = if method == "GET" {
            agent().get(&url).header("Cookie", &pair).call().unwrap()
        } else {
            let mut r = agent().post(&url).header("Cookie", &pair);
            if header {
                r = r.header("X-Kestrel", "dashboard");
            }
            r.send_json(json!({"verdict": "approve"})).unwrap()
        };
        (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
    };
    let (status, me) = with_cookie("GET", "/api/v1/session", false);
    assert_eq!((status, serde_json::from_str::<Value>(&me).unwrap()), (200, json!({"name": "admin", "role": "admin"})));
    // A change without the header (what a forged cross-site form would send) is refused before anything runs.
    let line = json!({"schema": "kestrel.response/v1", "id": "a1/pause", "alert_id": "a1", "written_ns": 10,
        "outcome": "pending-approval", "workload": "web", "severity": "high", "action": "pause", "rule": "r"});
    assert_eq!(post(&s, "/api/v1/decisions", AGENT, &json!({"node": "node-1", "decisions": [line]})).0, 200);
    assert_eq!(with_cookie("POST", "/api/v1/approvals/node-1/a1%2Fpause", false).0, 403);
    assert_eq!(with_cookie("POST", "/api/v1/approvals/node-1/a1%2Fpause", true).0, 201);
    // Logout ends the session on the server, not only in the browser.
    assert_eq!(with_cookie("POST", "/api/v1/logout", true).0, 204);
    assert_eq!(with_cookie("GET", "/api/v1/session", false).0, 401);
    // The pages.
    let resp = agent().get(format!("{}/", s.base)).call().unwrap();
    let csp = resp.headers().get("content-security-policy").unwrap().to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(get(&s, "/ui/app.js", None).0, 200);
}

#[test]
fn approvals_take_one_verdict_from_an_admin_and_reach_their_node() {
    let s = start(None);
    let line = |id: &str, outcome: &str, t: i64| {
        json!({"schema": "kestrel.response/v1", "id": id, "alert_id": "a1", "written_ns": t, "outcome": outcome,
            "workload": "web", "severity": "critical", "action": "isolate", "rule": "r"})
    };
    let batch = json!({"node": "node-1", "decisions": [line("a1/isolate", "pending-approval", 10)]});
    assert_eq!(post(&s, "/api/v1/decisions", AGENT, &batch).0, 200);
    let list = get_json(&s, "/api/v1/approvals", VIEWER);
    assert_eq!(list["items"][0]["decision"]["id"], "a1/isolate");
    assert_eq!(list["items"][0]["verdict"], Value::Null);
    assert_eq!(get_json(&s, "/api/v1/summary", VIEWER)["pending_approvals"], 1);
    let path = "/api/v1/approvals/node-1/a1%2Fisolate";
    assert_eq!(post(&s, path, VIEWER, &json!({"verdict": "approve"})).0, 403, "only an admin decides");
    assert_eq!(post(&s, path, ADMIN, &json!({"verdict": "maybe"})).0, 400);
    assert_eq!(post(&s, "/api/v1/approvals/node-1/other", ADMIN, &json!({"verdict": "approve"})).0, 404);
    let (status, v) = post(&s, path, ADMIN, &json!({"verdict": "approve", "reason": "confirmed miner"}));
    assert_eq!((status, v["by"].as_str(), v["reason"].as_str()), (201, Some("admin"), Some("confirmed miner")));
    assert_eq!(post(&s, path, ADMIN, &json!({"verdict": "approve"})).0, 200, "the same again: no change");
    assert_eq!(post(&s, path, ADMIN, &json!({"verdict": "deny"})).0, 409, "one verdict per decision");
    // The node fetches it (only its own), acts and says so; then nothing waits.
    assert_eq!(get(&s, "/api/v1/verdicts?node=node-2", Some(AGENT)).0, 403);
    let v = get_json(&s, "/api/v1/verdicts?node=node-1", AGENT);
    assert_eq!(
        (v["items"][0]["id"].as_str(), v["items"][0]["verdict"].as_str()),
        (Some("a1/isolate"), Some("approve"))
    );
    let acted = json!({"node": "node-1", "decisions": [line("a1/isolate", "acted", 20)]});
    assert_eq!(post(&s, "/api/v1/decisions", AGENT, &acted).0, 200);
    assert!(get_json(&s, "/api/v1/verdicts?node=node-1", AGENT)["items"].as_array().unwrap().is_empty());
    assert!(get_json(&s, "/api/v1/approvals", VIEWER)["items"].as_array().unwrap().is_empty());
    assert_eq!(get_json(&s, "/api/v1/summary", VIEWER)["pending_approvals"], 0);
}

/// A server posting new alerts at or above `min` to these webhooks (`--notify` specs), 5-s timeout.
fn start_notifying(specs: &[String], min: Severity) -> Server {
    start_notifying_within(specs, min, Duration::from_secs(5))
}

fn start_notifying_within(specs: &[String], min: Severity, timeout: Duration) -> Server {
    use kestrel_server::notify::{Notifier, Target};
    let targets = specs.iter().map(|t| Target::parse(t).unwrap()).collect();
    start_with(None, Some(Notifier::start(targets, min, timeout).unwrap()))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !done() {
        assert!(std::time::Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn metric(s: &Server, name_and_labels: &str) -> f64 {
    let (_, text) = get(s, "/metrics", None);
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[test]
fn new_alerts_at_or_above_the_severity_are_posted_to_webhooks_once() {
    use kestrel_testkit::services::Webhook;
    // The first post fails (HTTP 503) and is retried.
    let h = Webhook::start(vec![503], Duration::ZERO);
    let s = start_notifying(
        &[format!("http://{}/kestrel", h.addr), format!("chat:http://{}/chat", h.addr)],
        Severity::High,
    );
    let batch = json!({"node": "node-1", "alerts": [
        alert("crit", 1, Severity::Critical), alert("low", 2, Severity::Low), alert("high", 3, Severity::High),
    ]});
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &batch).0, 200);
    // Two alerts in each of the two webhooks (the chat's may come as one message).
    let in_chat = |got: &[(String, Value)]| -> usize {
        got.iter()
            .filter(|(p, _)| p == "/chat")
            .map(|(_, b)| {
                b["text"].as_str().unwrap().matches("*CRITICAL*").count()
                    + b["text"].as_str().unwrap().matches("*HIGH*").count()
            })
            .sum()
    };
    let in_json = |got: &[(String, Value)]| got.iter().filter(|(p, _)| p == "/kestrel").count();
    wait_for("the notifications", || {
        let got = h.received();
        in_json(&got) >= 2 && in_chat(&got) >= 2
    });
    // Sent again (an agent's retry): stored once, notified once.
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &batch).1["new"], 0);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let got = h.received();
    assert_eq!((in_json(&got), in_chat(&got)), (2, 2), "{got:#?}");
    let mut json_ids: Vec<&str> =
        got.iter().filter(|(p, _)| p == "/kestrel").map(|(_, b)| b["alert"]["id"].as_str().unwrap()).collect();
    json_ids.sort();
    assert_eq!(json_ids, ["crit", "high"]);
    for (path, body) in &got {
        match path.as_str() {
            "/kestrel" => {
                assert_eq!(body["schema"], "kestrel.notification/v1");
                assert_eq!(body["node"], "node-1");
                assert_eq!(body["alert"]["mitre"][0], "T1059.004");
            }
            "/chat" => {
                let text = body["text"].as_str().unwrap();
                assert!(text.contains("reverse shell from web") && text.contains("node node-1"), "{text}");
                assert!(text.contains("• `sh` with stdin and stdout on a socket"), "{text}");
                assert!(!text.contains("*LOW*"), "{text}");
            }
            other => panic!("posted to {other}"),
        }
    }
    assert_eq!(metric(&s, "kestrel_server_notifications_total{result=\"sent\"}"), 4.0);
    assert_eq!(metric(&s, "kestrel_server_notifications_total{result=\"failed\"}"), 0.0);
    // The same, per webhook, for whoever may read: where each goes (not its path), what it was sent.
    let status = get_json(&s, "/api/v1/notifications", VIEWER);
    let t = status["targets"].as_array().unwrap();
    assert_eq!(t.len(), 2, "{status}");
    for (target, format) in t.iter().zip(["json", "chat"]) {
        assert_eq!(target["endpoint"], format!("http://{}", h.addr), "{status}");
        assert_eq!((target["format"].as_str(), target["min_severity"].as_str()), (Some(format), Some("high")));
        assert_eq!((target["sent"].as_u64(), target["failed"].as_u64()), (Some(2), Some(0)), "{status}");
        assert!(target["last_sent_ns"].as_i64().unwrap() > 0 && target["last_error"].is_null(), "{status}");
    }
    assert_eq!(status["dropped"], 0);
}

#[test]
fn a_webhook_that_hangs_or_refuses_never_slows_ingest() {
    use kestrel_server::notify::{QUEUE, TAKEN};
    use kestrel_testkit::services::Webhook;
    let hung = Webhook::start(vec![], Duration::from_secs(60));
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let specs = [format!("http://{}/hung", hung.addr), format!("http://{refused}/nobody")];
    let s = start_notifying_within(&specs, Severity::Low, Duration::from_millis(500));
    let started = std::time::Instant::now();
    for b in 0..3 {
        let alerts: Vec<Alert> = (0..500).map(|i| alert(&format!("{b}-{i}"), i, Severity::High)).collect();
        let (status, body) = post(&s, "/api/v1/alerts", AGENT, &json!({"node": "node-1", "alerts": alerts}));
        assert_eq!((status, body["new"].as_u64()), (200, Some(500)), "{body}");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "ingest waited: {:?}", started.elapsed());
    // The queue holds QUEUE and the posting thread the ones it took; the rest are dropped and counted.
    let dropped = metric(&s, "kestrel_server_notifications_total{result=\"dropped\"}");
    assert!(dropped >= (1_500 - QUEUE - TAKEN) as f64, "dropped {dropped}");
    wait_for("a failed notification", || metric(&s, "kestrel_server_notifications_total{result=\"failed\"}") >= 1.0);
    // The failing webhook (the hung one fails first: its posts time out) says why, without the path its URL
    // carries; the drops are counted there too.
    let status = get_json(&s, "/api/v1/notifications", VIEWER);
    let hung_status = &status["targets"][0];
    assert_eq!(hung_status["endpoint"], format!("http://{}", hung.addr), "{status}");
    assert!(hung_status["failed"].as_u64().unwrap() >= 1, "{status}");
    assert!(hung_status["last_error_ns"].as_i64().unwrap() > 0 && hung_status["sent"] == 0, "{status}");
    let why = hung_status["last_error"].as_str().unwrap();
    assert!(why.contains("timeout") && !why.contains("/hung"), "{why}");
    assert!(status["dropped"].as_u64().unwrap() >= (1_500 - QUEUE - TAKEN) as u64, "{status}");
}

#[test]
fn a_chat_gets_the_alerts_waiting_in_one_message_and_a_429_is_waited_out() {
    use kestrel_testkit::services::Webhook;
    // A chat that answers slowly and turns the first message away (429, "slow down").
    let chat = Webhook::start(vec![429], Duration::from_millis(300));
    let s = start_notifying(&[format!("slack:http://{}/services/x", chat.addr)], Severity::High);
    let alerts: Vec<Alert> = (0..10).map(|i| alert(&format!("burst-{i}"), i, Severity::High)).collect();
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &json!({"node": "node-1", "alerts": alerts})).0, 200);
    wait_for("ten alerts in chat", || {
        chat.received().iter().map(|(_, b)| b["text"].as_str().unwrap().matches("*HIGH*").count()).sum::<usize>() >= 10
    });
    let messages = chat.received();
    assert!(messages.len() < 10, "{} messages for 10 alerts", messages.len());
    assert!(
        messages.iter().any(|(_, b)| b["text"].as_str().unwrap().starts_with("*")
            && b["text"].as_str().unwrap().contains(" new alerts*")),
        "{messages:?}"
    );
    // Counted once the chat has answered (the receiver records a message before it answers).
    wait_for("ten counted as sent", || metric(&s, "kestrel_server_notifications_total{result=\"sent\"}") == 10.0);
    assert_eq!(metric(&s, "kestrel_server_notifications_total{result=\"failed\"}"), 0.0);
}

#[test]
fn a_slow_json_webhook_gets_several_posts_at_once() {
    use kestrel_server::notify::PARALLEL;
    use kestrel_testkit::services::Webhook;
    let slow = Webhook::start(vec![], Duration::from_millis(300));
    let s = start_notifying(&[format!("http://{}/siem", slow.addr)], Severity::High);
    let alerts: Vec<Alert> = (0..16).map(|i| alert(&format!("s-{i}"), i, Severity::Critical)).collect();
    let started = std::time::Instant::now();
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &json!({"node": "node-1", "alerts": alerts})).0, 200);
    wait_for("16 posts", || slow.received().len() == 16);
    // One at a time would take 16 × 300 ms = 4.8 s; PARALLEL (8) at a time about 0.6 s.
    let serial = Duration::from_millis(300 * 16);
    assert!(started.elapsed() < serial / 2, "{:?} with {PARALLEL} in flight", started.elapsed());
}

#[test]
fn each_webhook_may_have_its_own_least_severity() {
    use kestrel_testkit::services::Webhook;
    let h = Webhook::start(vec![], Duration::ZERO);
    // The SIEM takes everything from low up, the pager only critical; the rest of the server's is high.
    let s = start_notifying(
        &[format!("json@low:http://{}/siem", h.addr), format!("chat@critical:http://{}/pager", h.addr)],
        Severity::High,
    );
    let batch = json!({"node": "node-1", "alerts": [
        alert("l", 1, Severity::Low), alert("h", 2, Severity::High), alert("c", 3, Severity::Critical),
    ]});
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &batch).0, 200);
    wait_for("four posts", || h.received().len() >= 4);
    std::thread::sleep(Duration::from_millis(500));
    let got = h.received();
    let mut siem: Vec<&str> =
        got.iter().filter(|(p, _)| p == "/siem").map(|(_, b)| b["alert"]["id"].as_str().unwrap()).collect();
    siem.sort();
    assert_eq!(siem, ["c", "h", "l"]);
    let pager: Vec<&str> =
        got.iter().filter(|(p, _)| p == "/pager").map(|(_, b)| b["text"].as_str().unwrap()).collect();
    assert_eq!(pager.len(), 1, "{pager:?}");
    assert!(pager[0].starts_with("*CRITICAL*") && !pager[0].contains("*HIGH*"), "{pager:?}");
}

/// A server notifying `targets` of High alerts and up, trying a webhook that failed again for `retry_for`.
fn start_retrying(targets: &[String], retry_for: Duration) -> Server {
    use kestrel_server::notify::{Notifier, Options, Target};
    let targets = targets.iter().map(|t| Target::parse(t).unwrap()).collect();
    let options = Options {
        min: Severity::High,
        timeout: Duration::from_secs(5),
        dashboard: None,
        chat_quiet: Duration::ZERO,
        retry_for,
        keep: None,
    };
    start_with(None, Some(Notifier::start_with(targets, options).unwrap()))
}

#[test]
fn a_webhook_that_was_down_gets_what_waited_for_it_in_order_when_it_is_back() {
    use kestrel_testkit::services::Webhook;
    // Down (503) for the three attempts of the first post, then up.
    let h = Webhook::start(vec![503, 503, 503], Duration::ZERO);
    let s = start_retrying(&[format!("http://{}/siem", h.addr)], Duration::from_secs(3600));
    let one = |id: &str| json!({"node": "node-1", "alerts": [alert(id, 1, Severity::High)]});
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &one("first")).0, 200);
    let target = || get_json(&s, "/api/v1/notifications", VIEWER)["targets"][0].clone();
    wait_for("the first post to fail every attempt", || target()["waiting"] == 1);
    // The second comes while the webhook is down: it waits behind the first, and is not posted now.
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &one("second")).0, 200);
    wait_for("both waiting", || target()["waiting"] == 2);
    let t = target();
    assert_eq!((t["sent"].as_u64(), t["failed"].as_u64()), (Some(0), Some(0)), "{t}");
    assert_eq!(t["last_error"], "HTTP 503", "{t}");
    assert!(h.received().is_empty());
    // Tried again after the pause: up, both arrive, oldest first; nothing counted as failed.
    wait_for("both posted", || h.received().len() == 2);
    let ids: Vec<String> = h.received().iter().map(|(_, b)| b["alert"]["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["first", "second"]);
    let t = target();
    assert_eq!((t["sent"].as_u64(), t["failed"].as_u64(), t["waiting"].as_u64()), (Some(2), Some(0), Some(0)), "{t}");
    assert_eq!(metric(&s, "kestrel_server_notifications_total{result=\"failed\"}"), 0.0);
}

#[test]
fn what_waits_for_a_webhook_is_kept_across_a_restart_and_posted_when_it_is_back() {
    use kestrel_server::notify::{Notifier, Options, Target};
    use kestrel_testkit::services::Webhook;
    // Down (503) for the three attempts of the first run's post, then up.
    let h = Webhook::start(vec![503, 503, 503], Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("notify-waiting.json");
    let start = || {
        let options = Options {
            min: Severity::High,
            timeout: Duration::from_secs(5),
            dashboard: None,
            chat_quiet: Duration::ZERO,
            retry_for: Duration::from_secs(3600),
            keep: Some(keep.clone()),
        };
        Notifier::start_with(vec![Target::parse(&format!("http://{}/siem", h.addr)).unwrap()], options).unwrap()
    };
    let first = start();
    let kept_alert = alert("kept-1", 1, Severity::Critical);
    first.alerts([("node-1", &kept_alert)]);
    wait_for("the post to wait", || first.status().targets[0].waiting == 1);
    // The server stops before the webhook is back: the post is kept, not given up.
    assert!(first.finish(Duration::from_secs(10)));
    let text = std::fs::read_to_string(&keep).unwrap();
    assert!(text.contains("kept-1") && !text.contains("/siem"), "the post, not the webhook's URL: {text}");
    assert!(h.received().is_empty());
    // The next start posts it at once; the webhook is up now.
    let second = start();
    assert_eq!(second.status().targets[0].waiting, 1, "said as waiting from the start");
    wait_for("the kept post", || h.received().len() == 1);
    assert_eq!(h.received()[0].1["alert"]["id"], "kept-1");
    wait_for("nothing waiting", || second.status().targets[0].waiting == 0);
    let t = &second.status().targets[0];
    assert_eq!((t.sent, t.failed), (1, 0));
    assert!(second.finish(Duration::from_secs(10)));
    assert!(!std::fs::read_to_string(&keep).unwrap().contains("kept-1"), "sent: no longer kept");
}

#[test]
fn a_webhook_down_for_longer_than_the_retry_time_has_its_post_given_up_and_counted() {
    use kestrel_server::notify::RETRY_PAUSE;
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let s = start_retrying(&[format!("http://{refused}/nobody")], Duration::from_secs(1));
    let started = std::time::Instant::now();
    let batch = json!({"node": "node-1", "alerts": [alert("lost", 1, Severity::Critical)]});
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &batch).0, 200);
    let target = || get_json(&s, "/api/v1/notifications", VIEWER)["targets"][0].clone();
    wait_for("the post to wait", || target()["waiting"] == 1);
    assert_eq!(target()["failed"], 0);
    // At the next try it has waited longer than a second: given up, counted as failed, nothing waits.
    wait_for("the post to be given up", || target()["failed"] == 1);
    assert!(started.elapsed() >= RETRY_PAUSE, "given up before it was tried again: {:?}", started.elapsed());
    let t = target();
    assert_eq!((t["waiting"].as_u64(), t["sent"].as_u64()), (Some(0), Some(0)), "{t}");
    assert!(
        t["last_error"].as_str().unwrap().contains("refused") || t["last_error"].as_str().unwrap().contains("onnect"),
        "{t}"
    );
    assert_eq!(metric(&s, "kestrel_server_notifications_total{result=\"failed\"}"), 1.0);
}

#[test]
fn notifications_link_to_the_alert_on_the_dashboard() {
    use kestrel_server::notify::{Notifier, Options, Target};
    use kestrel_testkit::services::Webhook;
    let h = Webhook::start(vec![], Duration::ZERO);
    let targets = vec![
        Target::parse(&format!("http://{}/siem", h.addr)).unwrap(),
        Target::parse(&format!("chat:http://{}/chat", h.addr)).unwrap(),
    ];
    let dashboard = Some("https://kestrel.example/".to_string());
    let options = Options {
        min: Severity::High,
        timeout: Duration::from_secs(5),
        dashboard,
        chat_quiet: Duration::ZERO,
        retry_for: Duration::ZERO,
        keep: None,
    };
    let n = Notifier::start_with(targets, options).unwrap();
    let s = start_with(None, Some(n));
    let batch = json!({"node": "node 1", "alerts": [alert("a/1", 1, Severity::Critical)]});
    assert_eq!(post(&s, "/api/v1/alerts", ADMIN, &batch).0, 200);
    wait_for("two posts", || h.received().len() >= 2);
    let got = h.received();
    // The node and id are escaped as the dashboard's own links are (encodeURIComponent reads them back).
    let link = "https://kestrel.example/#/alert/node%201/a%2F1";
    let siem = got.iter().find(|(p, _)| p == "/siem").unwrap();
    assert_eq!(siem.1["link"], link);
    let chat = got.iter().find(|(p, _)| p == "/chat").unwrap();
    assert!(chat.1["text"].as_str().unwrap().ends_with(&format!("\n{link}")), "{:?}", chat.1);
}

#[test]
fn a_chat_hears_of_alerts_alike_once_a_window_and_is_told_how_many_it_was_spared() {
    use kestrel_server::notify::{Notifier, Options, Target};
    use kestrel_testkit::services::Webhook;
    let h = Webhook::start(vec![], Duration::ZERO);
    let targets = vec![
        Target::parse(&format!("chat:http://{}/chat", h.addr)).unwrap(),
        Target::parse(&format!("http://{}/siem", h.addr)).unwrap(),
    ];
    let quiet = Duration::from_secs(2);
    let options = Options {
        min: Severity::High,
        timeout: Duration::from_secs(5),
        dashboard: None,
        chat_quiet: quiet,
        retry_for: Duration::ZERO,
        keep: None,
    };
    let s = start_with(None, Some(Notifier::start_with(targets, options).unwrap()));
    // Five alike at once: the chat hears of one, the SIEM of five.
    let five: Vec<Alert> = (0..5).map(|i| alert(&format!("q-{i}"), i, Severity::High)).collect();
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &json!({"node": "node-1", "alerts": five})).0, 200);
    let count = |path: &str| h.received().iter().filter(|(p, _)| p == path).count();
    wait_for("five in the SIEM", || count("/siem") == 5);
    std::thread::sleep(Duration::from_millis(300));
    let chat: Vec<String> = h
        .received()
        .iter()
        .filter(|(p, _)| p == "/chat")
        .map(|(_, b)| b["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(chat.len(), 1, "{chat:?}");
    assert_eq!(chat[0].matches("*HIGH*").count(), 1, "{chat:?}");
    assert_eq!(metric(&s, "kestrel_server_notifications_total{result=\"quieted\"}"), 4.0);
    let status = get_json(&s, "/api/v1/notifications", VIEWER);
    let quieted: Vec<u64> =
        status["targets"].as_array().unwrap().iter().map(|t| t["quieted"].as_u64().unwrap()).collect();
    assert_eq!(quieted.iter().sum::<u64>(), 4, "the chat's, not the SIEM's: {status}");
    assert!(quieted.contains(&4), "{status}");
    // After the window, the next one alike is heard, with the four it was spared.
    std::thread::sleep(quiet);
    let late = json!({"node": "node-1", "alerts": [alert("q-late", 9, Severity::High)]});
    assert_eq!(post(&s, "/api/v1/alerts", AGENT, &late).0, 200);
    // (The chat is posted to before the SIEM: wait for both.)
    wait_for("the second chat message and the sixth post", || count("/chat") == 2 && count("/siem") == 6);
    let last = h.received().iter().rfind(|(p, _)| p == "/chat").unwrap().1["text"].as_str().unwrap().to_string();
    assert!(last.contains("(and 4 more like it since the last message about it)"), "{last}");
    assert_eq!(count("/siem"), 6);
}

/// A database of the vulnerability fixtures named, built in `dir` as `kestrel db import` does: at midnight
/// 2026-12-04, a second later each time.
fn vulndb(dir: &std::path::Path, fixtures: &[&str]) -> String {
    static BUILT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/tests/fixtures/db");
    let mut w = kestrel_vulndb::store::Writer::begin(dir).unwrap();
    for f in fixtures {
        kestrel_vulndb::import::import(&mut w, &root.join(f), None, None).unwrap();
    }
    let second = BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    w.commit(&format!("2026-12-04T00:00:{second:02}Z")).unwrap();
    kestrel_vulndb::remote::local_sha256(dir).unwrap().unwrap()
}

fn remote<'a>(base: &'a str, token: &'a str) -> kestrel_vulndb::remote::Server<'a> {
    kestrel_vulndb::remote::Server {
        url: base,
        token,
        timeout: Duration::from_secs(60),
        tls: ureq::tls::TlsConfig::default(),
        even_older: false,
    }
}

fn put_db(s: &Server, token: &str, sha256: &str, body: Vec<u8>) -> (u16, String) {
    let mut resp = agent()
        .put(format!("{}/api/v1/vulndb", s.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("X-Kestrel-Db-Sha256", sha256)
        .send(&body[..])
        .unwrap();
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
}

#[test]
fn the_vulnerability_database_is_served_compressed_and_replaced_only_by_a_good_push() {
    use kestrel_vulndb::remote::{pull, push, Pulled};
    use kestrel_vulndb::update::Silent;
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("server-db");
    let s = start_full(None, None, Some(&served));

    // None yet: the answer says how to give the server one.
    let (status, body) = get(&s, "/api/v1/vulndb", Some(VIEWER));
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("kestrel db update --db-dir") && body.contains("kestrel db push"), "{body}");
    assert_eq!(get(&s, "/api/v1/vulndb", None).0, 401);

    // Only an admin replaces it.
    let here = dir.path().join("admin-db");
    let a = vulndb(&here, &["osv-PyPI.zip", "DSA.list"]);
    let e = push(&here, &remote(&s.base, CI)).unwrap_err().to_string();
    assert!(e.contains("403") && e.contains("may not"), "{e}");
    let pushed = push(&here, &remote(&s.base, ADMIN)).unwrap();
    assert_eq!(pushed.sha256, a);
    assert_eq!(pushed.built.as_deref(), Some("2026-12-04T00:00:00Z"));
    assert_eq!(
        std::fs::read(served.join("vulndb.sqlite")).unwrap(),
        std::fs::read(here.join("vulndb.sqlite")).unwrap()
    );
    let summary = get_json(&s, "/api/v1/summary", VIEWER);
    assert_eq!(summary["vulndb"]["sha256"], a.as_str(), "{summary}");

    // An agent fetches it: byte for byte, compressed on the wire; then only a 304 while it is the same.
    let node = dir.path().join("node-db");
    match pull(&node, &remote(&s.base, AGENT), &mut Silent).unwrap() {
        Pulled::Replaced { sha256, built, bytes, compressed } => {
            assert_eq!(sha256, a);
            assert_eq!(built.as_deref(), Some("2026-12-04T00:00:00Z"));
            assert_eq!(bytes, std::fs::metadata(here.join("vulndb.sqlite")).unwrap().len());
            assert!(compressed * 2 < bytes, "{compressed} of {bytes} bytes");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(node.join("vulndb.sqlite")).unwrap(), std::fs::read(here.join("vulndb.sqlite")).unwrap());
    assert_eq!(pull(&node, &remote(&s.base, AGENT), &mut Silent).unwrap(), Pulled::Unchanged { sha256: a.clone() });
    assert_eq!(metric(&s, "kestrel_server_vulndb_requests_total{answer=\"unchanged\"}"), 1.0);
    assert_eq!(metric(&s, "kestrel_server_vulndb_requests_total{answer=\"sent\"}"), 1.0);
    // Its age for alerting on a stale database: built at midnight 2026-12-04 (1796342400 s).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let age = metric(&s, "kestrel_server_vulndb_served_age_seconds");
    assert!((age - (now - 1_796_342_400.0)).abs() < 60.0, "{age}");

    // Updated where the server runs (`kestrel db update --db-dir`): the next fetch gets the new one.
    let b = vulndb(&served, &["osv-Go.zip"]);
    assert_ne!(a, b);
    assert!(
        matches!(pull(&node, &remote(&s.base, CI), &mut Silent).unwrap(), Pulled::Replaced { sha256, .. } if sha256 == b)
    );
    assert_eq!(kestrel_vulndb::store::Database::open(&node).unwrap().sources().unwrap().len(), 3);

    // An older database put back on the server (another replica not yet updated, or a rollback): a node keeps
    // its newer one unless it asks for the server's whatever its age.
    push(&here, &remote(&s.base, ADMIN)).unwrap();
    match pull(&node, &remote(&s.base, AGENT), &mut Silent).unwrap() {
        Pulled::NewerHere { sha256, server_built } => {
            assert_eq!(sha256, b);
            assert_eq!(server_built.as_deref(), Some("2026-12-04T00:00:00Z"));
        }
        other => panic!("{other:?}"),
    }
    let back = kestrel_vulndb::remote::Server { even_older: true, ..remote(&s.base, AGENT) };
    assert!(matches!(pull(&node, &back, &mut Silent).unwrap(), Pulled::Replaced { sha256, .. } if sha256 == a));
    let b_again = vulndb(&served, &[]);
    assert!(
        matches!(pull(&node, &remote(&s.base, AGENT), &mut Silent).unwrap(), Pulled::Replaced { sha256, .. } if sha256 == b_again)
    );
    let b = b_again;

    // Refused pushes leave the served database as it was: a digest that does not match, something not
    // compressed, a database with a trigger slipped in.
    let good = zstd::encode_all(&std::fs::read(here.join("vulndb.sqlite")).unwrap()[..], 3).unwrap();
    let (status, body) = put_db(&s, ADMIN, &"0".repeat(64), good.clone());
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("the request said"), "{body}");
    let (status, body) = put_db(&s, ADMIN, &a, b"not compressed at all".to_vec());
    assert_eq!(status, 400, "{body}");
    let (status, body) = put_db(&s, ADMIN, "nope", good);
    assert_eq!(status, 400, "{body}");
    let bad = dir.path().join("bad.sqlite");
    std::fs::copy(here.join("vulndb.sqlite"), &bad).unwrap();
    rusqlite::Connection::open(&bad)
        .unwrap()
        .execute_batch("CREATE TRIGGER t AFTER INSERT ON meta BEGIN DELETE FROM advisories; END;")
        .unwrap();
    let bytes = std::fs::read(&bad).unwrap();
    let sha = kestrel_vulndb::remote::sha256_of(&bytes[..]).unwrap();
    let (status, body) = put_db(&s, ADMIN, &sha, zstd::encode_all(&bytes[..], 3).unwrap());
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("trigger `t`") && body.contains("the upload"), "{body}");
    assert_eq!(kestrel_vulndb::remote::local_sha256(&served).unwrap().as_deref(), Some(b.as_str()));
    assert_eq!(pull(&node, &remote(&s.base, VIEWER), &mut Silent).unwrap(), Pulled::Unchanged { sha256: b.clone() });
    // A file put there that is not a kestrel database is refused with the reason, read once however often asked;
    // the next good one is served.
    std::fs::write(served.join("vulndb.sqlite.new"), b"not a database at all").unwrap();
    std::fs::rename(served.join("vulndb.sqlite.new"), served.join("vulndb.sqlite")).unwrap();
    for _ in 0..3 {
        let (status, body) = get(&s, "/api/v1/vulndb", Some(AGENT));
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("not served") && body.contains("vulndb.sqlite"), "{body}");
    }
    assert_eq!(metric(&s, "kestrel_server_vulndb_prepared_total{result=\"refused\"}"), 1.0);
    let c = vulndb(&served, &["DLA.list"]);
    assert!(
        matches!(pull(&node, &remote(&s.base, AGENT), &mut Silent).unwrap(), Pulled::Replaced { sha256, .. } if sha256 == c)
    );
    let leftovers: Vec<_> = std::fs::read_dir(&served)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A fetch that brings something other than what the server announced — cut short, altered, not a database —
/// fails with the reason and leaves the database here as it was.
#[test]
fn a_fetch_that_goes_wrong_loses_nothing() {
    use kestrel_vulndb::remote::{pull, sha256_of};
    use std::io::{BufRead, Write};
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path().join("db");
    let before = vulndb(&here, &["DSA.list"]);
    let answer = |sha: String, body: Vec<u8>| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        std::thread::spawn(move || {
            let (c, _) = l.accept().unwrap();
            let mut r = std::io::BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let mut c = c;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/zstd\r\nX-Kestrel-Db-Sha256: {sha}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(&body);
        });
        base
    };
    let other = dir.path().join("other");
    vulndb(&other, &["DLA.list"]);
    let real = std::fs::read(other.join("vulndb.sqlite")).unwrap();
    let real_sha = sha256_of(&real[..]).unwrap();
    let z = zstd::encode_all(&real[..], 3).unwrap();
    let mut altered = real.clone();
    let mid = altered.len() / 2;
    altered[mid] ^= 0xff;
    let cases: Vec<(&str, String, Vec<u8>, &str)> = vec![
        ("announced another digest", "1".repeat(64), z.clone(), "the server announced"),
        ("altered on the way", real_sha.clone(), zstd::encode_all(&altered[..], 3).unwrap(), "the server announced"),
        ("not compressed", real_sha.clone(), real.clone(), "reading the database"),
        ("cut short", real_sha.clone(), z[..z.len() / 2].to_vec(), "reading the database"),
        (
            "not a database",
            sha256_of(&b"hello"[..]).unwrap(),
            zstd::encode_all(&b"hello"[..], 3).unwrap(),
            "not a usable database: the download: file is not a database",
        ),
    ];
    for (what, sha, body, why) in cases {
        let base = answer(sha, body);
        let e = pull(&here, &remote(&base, "t"), &mut kestrel_vulndb::update::Silent).unwrap_err();
        let e = format!("{e}");
        assert!(e.contains(why), "{what}: {e}");
        assert_eq!(kestrel_vulndb::remote::local_sha256(&here).unwrap().as_deref(), Some(before.as_str()), "{what}");
        let names: Vec<_> =
            std::fs::read_dir(&here).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{what}: {names:?}");
    }
}
