//! The dashboard's first render with a million alerts stored (bench/dashboard.sh runs this; docs/BENCHMARKS.md
//! has the results): the server on SQLite (or PostgreSQL with `--postgres`) holding 1,000,000 alerts from five
//! nodes, headless Chromium (Debian's, over chromedriver) logged in, then each view loaded from scratch many
//! times — a full page load: HTML, script, style, the view's API calls and drawing. The time is the page's own
//! clock (`performance.now()`, from the start of navigation) when the view has drawn its data.
//!
//! `cargo run --release -p kestrel-server --example dashboard_bench -- [ALERTS] [--postgres]`

#[path = "common/mod.rs"]
mod common;
use common::alert;
use kestrel_core::Alert;
use kestrel_server::auth::{Role, Tokens};
use kestrel_testkit::browser::Browser;
use serde_json::json;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let postgres = args.iter().any(|a| a == "--postgres");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pg = postgres.then(kestrel_testkit::services::Postgres::start);
    let url = match &pg {
        Some(pg) => pg.url("kestrel"),
        None => format!("sqlite:{}", dir.path().join("big.db").display()),
    };
    let store = rt.block_on(kestrel_store::Store::open(&url)).unwrap();
    let t = Instant::now();
    let nodes = 5;
    for node in 0..nodes {
        let batch: Vec<Alert> = (0..total / nodes).map(|i| alert(node, i)).collect();
        for chunk in batch.chunks(1000) {
            rt.block_on(store.put_alerts(&format!("node-{node}"), 1, chunk)).unwrap();
        }
        let status =
            json!({"delivered": total / nodes, "spool_bytes": 0, "dropped_spool_full": 0, "dropped_queue_full": 0});
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
        rt.block_on(store.touch_node(&format!("node-{node}"), now, Some("0.1.0"), Some(&status))).unwrap();
        for w in 0..7 {
            let mode = ["learn", "monitor", "protect"][w % 3];
            let profile = json!({"schema": "kestrel.profile/v1", "workload": format!("web-{w}"), "version": 1,
                "mode": mode, "events": 100_000, "behaviours": [], "grams": []});
            let profile = serde_json::value::to_raw_value(&profile).unwrap();
            rt.block_on(store.put_profile(&format!("node-{node}"), &format!("web-{w}"), 1, 1, &profile)).unwrap();
        }
    }
    println!(
        "dashboard  {} alerts stored ({}) in {:.1} s",
        total,
        if postgres { "PostgreSQL" } else { "SQLite" },
        t.elapsed().as_secs_f64()
    );
    let mut tokens = Tokens::default();
    tokens.add("viewer-token", "vera", Role::Viewer);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(kestrel_server::serve(listener, kestrel_server::State::new(store, tokens), std::future::pending()));

    let b = Browser::start(std::path::Path::new("bench/out"), 1400, 1000);
    b.goto(&base);
    b.wait_until("return document.getElementById('main').dataset.view === 'login'", 30);
    b.then_view("overview", |b| {
        b.type_into("#token", "viewer-token");
        b.click("#login button[type=submit]");
    });
    let rounds = 20;
    for (name, view, path) in [
        ("overview (counts, nodes, workloads, latest alerts)", "overview", "/#/"),
        ("alerts, newest 50", "alerts", "/#/alerts"),
        ("alerts, critical only", "alerts", "/#/alerts?min_severity=critical"),
        ("alerts of one workload", "alerts", "/#/alerts?workload=web-3"),
    ] {
        let mut ms = Vec::new();
        for _ in 0..rounds {
            // A fresh page load each time (about:blank first, so that the hash change is a navigation).
            b.goto("about:blank");
            b.goto(&format!("{base}{path}"));
            b.wait_until(
                &format!("const m = document.getElementById('main'); return !!m && m.dataset.ready === '1' && m.dataset.view === '{view}'"),
                30,
            );
            let at = b.js("return window.kestrelRendered.at").as_f64().unwrap();
            ms.push(at);
        }
        ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let rows = b.count("tr.alert");
        println!(
            "dashboard  first render of {name}: median {:.0} ms, worst {:.0} ms of {rounds} page loads ({rows} alert rows drawn)",
            ms[ms.len() / 2],
            ms[ms.len() - 1]
        );
    }
    b.goto(&format!("{base}/#/"));
    b.wait_until("return document.getElementById('main').dataset.ready === '1'", 30);
    println!("dashboard  screenshot: {}", b.screenshot("dashboard-million").display());
}
